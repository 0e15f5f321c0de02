/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A backend's own report of its connections (docs/flow-state.md,
 * "Drains"): in flow_state = "backends" the LB host keeps no conntrack
 * for TCP, so lbctl drain --wait asks the drained backend how many
 * connections it still serves. lbd in the backend role counts its TCP
 * sockets with sock_diag (NETLINK_SOCK_DIAG, INET_DIAG dumps) when its
 * metrics are scraped: lbd_backend_connections{vip, port}.
 *
 * Library code: 0 or a negative errno.
 */
#ifndef LBD_SOCKDIAG_H
#define LBD_SOCKDIAG_H

#include <stddef.h>
#include <linux/types.h>

#include "lbd/shared.h"

/* The connections of one local address and port. */
struct sockdiag_count {
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	union lbd_addr addr; /* the sockets' local address */
	__u16 port; /* host order */
	__u32 connections;
};

/*
 * Counts the node's TCP connections of a served port: sockets in a state
 * of a live connection (SYN-RECV, ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT,
 * LAST-ACK, CLOSING; not LISTEN, TIME-WAIT or CLOSE) whose local port a
 * listener has, by local address and port. A listener's port is what
 * makes a connection one a client opened to this node (through the VIP
 * bound locally with IPIP, or to the node's address and the backend port
 * with Geneve); connections the node opened itself have an ephemeral
 * local port no listener has. IPv4-mapped IPv6 addresses count as IPv4.
 * *out (sorted by family, address, port) is the caller's to free.
 */
int sockdiag_connections(struct sockdiag_count **out, size_t *n);

#endif /* LBD_SOCKDIAG_H */
