/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's NIC path, userspace side: loading the XDP program
 * (bpf/node/nic.bpf.c) on the maps of the socket programs (a struct
 * lbd_node's: Service addresses, tables, endpoints) and of the tc path
 * (a struct node_tc's lbd_node_nat, where the replies of local endpoints
 * are reversed), the table of the NICs and their addresses, attaching it,
 * and its counters.
 *
 * The program is attached as the LB role's is (lbd/dp/attach.c: libxdp's
 * dispatcher where it works, alone where it does not; replaced in place
 * by the next lbd). Its maps are pinned beside the socket programs', so
 * flows keep their endpoints and SNAT ports across a restart.
 *
 * Library code: 0 or a negative errno.
 */
#ifndef LBD_DP_NODE_NIC_H
#define LBD_DP_NODE_NIC_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"
#include "lbd/shared.h"
#include "node.h"
#include "node_tc.h"

struct node_nic_opts {
	__u32 nat_entries; /* lbd_node_nic_nat */
	__u32 hash_seed; /* as the socket programs' (node_opts) */
	__u16 snat_port_min, snat_port_max; /* node_role.snat_ports */
	/* datapath.icmp_rate: too-big errors a second and CPU (0: none),
	 * in bursts of LBD_NODE_DEFAULT_ICMP_BURST, as the LB role's */
	__u32 icmp_rate;
	/* where the struct lbd_node's maps are pinned; the NIC path's are
	 * pinned there too. NULL: nothing pinned */
	const char *pin_path;
};

struct node_nic;

/* Loads the program on n's maps and t's NAT map (n and t must outlive
 * x). Without t (no tc path) local endpoints' replies are not reversed:
 * lbd_node_nat is then the program's own. -EINVAL when a pinned map has
 * another layout: lbd --cleanup first. */
int node_nic_open(struct lbd_node *n, struct node_tc *t,
		  const struct node_nic_opts *o, struct node_nic **out);
/* Frees x; the program stays attached (the next lbd replaces it). */
void node_nic_close(struct node_nic *x);

int node_nic_prog_fd(const struct node_nic *x);
int node_nic_nat_fd(const struct node_nic *x);

/* The node's addresses on the NIC ifindex (either may be NULL), where
 * SNATed flows to endpoints on other nodes come from; a route to an
 * endpoint that leaves by a NIC of this table goes to another node. */
int node_nic_set(struct node_nic *x, int ifindex, const union lbd_addr *a4,
		 const union lbd_addr *a6);
int node_nic_unset(struct node_nic *x, int ifindex);
/* Removes the NICs of the table (pinned: an earlier lbd's too) that are
 * not among keep[n]. */
int node_nic_prune(struct node_nic *x, const int *keep, size_t n);

/* Attaches the program to ifindex, or replaces lbd's program there in
 * place. */
int node_nic_attach(struct node_nic *x, int ifindex, enum lbd_xdp_mode mode);
/* Removes lbd's XDP program from ifindex (0 also when none is there). */
int node_nic_detach(int ifindex);
/* Whether lbd's XDP program is attached to ifindex. */
bool node_nic_attached(int ifindex);
/* Removes lbd's XDP program from every interface of this network
 * namespace (lbd --cleanup); the number of interfaces, or -errno. */
int node_nic_detach_all(void);
/* Removes the pins of the NIC path's maps under pin_path. */
int node_nic_unpin(const char *pin_path);

int node_nic_reasons_read(struct node_nic *x,
			  __u64 out[LBD_NODE_NIC_REASON_MAX]);
const char *node_nic_reason_label(unsigned int r);
const char *node_nic_reason_desc(unsigned int r);

#endif /* LBD_DP_NODE_NIC_H */
