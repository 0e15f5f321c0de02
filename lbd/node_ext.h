/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Role "node": the NIC path (lbd/dp/node_nic.h) for a Service's external
 * addresses reached from outside the node. The XDP program is attached
 * to node_role.interfaces, or by default to the interfaces that hold the
 * node's addresses (not loopback, not a pod interface), each with its
 * addresses in the program's NIC table; forwarding and accept_local are
 * turned on there (translated packets are the kernel's to forward, some
 * with one of the node's addresses as source). Daemon code: it logs what
 * fails.
 */
#ifndef LBD_NODE_EXT_H
#define LBD_NODE_EXT_H

#include <stddef.h>
#include <linux/types.h>

#include "config.h"
#include "lbd/shared.h"
#include "node.h"
#include "node_tc.h"

struct node_ext;

/* Loads the NIC path on n's maps and tc's NAT map (NULL: no tc path, the
 * replies of local endpoints are then not reversed) and attaches it;
 * addrs are the node's addresses (NodePorts'). Loaded also with no
 * interface to attach to (a reload may name some). */
int node_ext_start(const struct lbd_config *c, struct lbd_node *n,
		   struct node_tc *tc, const struct lbd_conf_addr *addrs,
		   size_t n_addrs, struct node_ext **out);
/* Frees e; the program stays attached (the next lbd replaces it). */
void node_ext_stop(struct node_ext *e);
/* The interfaces again: new ones attached, those no longer wanted
 * detached, the addresses of all written again. */
void node_ext_reload(struct node_ext *e, const struct lbd_config *c,
		     const struct lbd_conf_addr *addrs, size_t n_addrs);
/* How many interfaces have the program. */
size_t node_ext_count(const struct node_ext *e);
int node_ext_reasons(struct node_ext *e, __u64 out[LBD_NODE_NIC_REASON_MAX]);
/* The ifindexes of the interfaces that have the program (at most max):
 * how many. */
size_t node_ext_ifindexes(const struct node_ext *e, int *out, size_t max);
/* lbd --cleanup: the program off every interface, the pins removed. */
int node_ext_cleanup(const char *pin_path);

#endif /* LBD_NODE_EXT_H */
