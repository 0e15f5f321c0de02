/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's per-packet path, userspace side: loading the tc
 * programs (bpf/node/tc.bpf.c) on the maps of the socket programs (a
 * struct lbd_node's: the same Service addresses, tables and endpoints),
 * attaching them to pod interfaces, their counters, and the netlink
 * watch that finds pod interfaces as they appear.
 *
 * The filters are tc filters with lbd's handle (lbd/dp/tc.h): they
 * outlive lbd, and the next one replaces their programs in place, so a
 * restart leaves no moment untranslated. The NAT map is pinned beside
 * the socket programs' maps, so flows keep their endpoints across it.
 *
 * Library code: 0 or a negative errno.
 */
#ifndef LBD_DP_NODE_TC_H
#define LBD_DP_NODE_TC_H

#include <stdbool.h>
#include <linux/types.h>

#include "lbd/shared.h"
#include "node.h"

struct node_tc_opts {
	__u32 nat_entries; /* lbd_node_nat */
	__u32 hash_seed; /* as the socket programs' (node_opts) */
	/* where the struct lbd_node's maps are pinned; the NAT map and the
	 * counters are pinned there too. NULL: nothing pinned */
	const char *pin_path;
};

struct node_tc;

/* Loads the tc programs on n's maps (n must outlive t). -EINVAL when a
 * pinned NAT map has another layout: lbd --cleanup first. */
int node_tc_open(struct lbd_node *n, const struct node_tc_opts *o,
		 struct node_tc **out);
/* Frees t; the filters stay attached (with a pin path their maps stay
 * too): the next lbd replaces the programs in place. */
void node_tc_close(struct node_tc *t);

/* The programs' fds: ingress (from the pod) or egress (to the pod). */
int node_tc_prog_fd(const struct node_tc *t, bool ingress);
int node_tc_nat_fd(const struct node_tc *t);

/* Attaches both programs to ifindex (a clsact qdisc made if missing), or
 * replaces the programs of lbd's filters there in one step. */
int node_tc_attach(struct node_tc *t, int ifindex);
/* Removes lbd's filters from ifindex when they hold node tc programs. */
int node_tc_detach_if(int ifindex);
/* Whether lbd's filter on ifindex holds a node tc program (of any
 * lbd, this one's or an earlier one's). */
bool node_tc_attached(int ifindex);
/* Removes lbd's node tc filters from every interface of this network
 * namespace (lbd --cleanup); the number of interfaces, or -errno. */
int node_tc_detach_all(void);
/* Removes the pins of the NAT map and the counters under pin_path. */
int node_tc_unpin(const char *pin_path);

/* The counters by reason, summed over CPUs. */
int node_tc_reasons_read(struct node_tc *t, __u64 out[LBD_NODE_TC_REASON_MAX]);
/* Metric label and description of a reason, NULL when out of range. */
const char *node_tc_reason_label(unsigned int r);
const char *node_tc_reason_desc(unsigned int r);

/* New links, by rtnetlink (RTMGRP_LINK). */
struct node_tc_watch;

int node_tc_watch_open(struct node_tc_watch **out);
void node_tc_watch_close(struct node_tc_watch *w);
/* The socket to poll for reading. */
int node_tc_watch_fd(const struct node_tc_watch *w);
/* Reads what is there without blocking and calls fn for each link that
 * appeared or changed (its index and name), or went (gone). -ENOBUFS:
 * messages were lost, the caller looks at every link again. */
int node_tc_watch_read(struct node_tc_watch *w,
		       void (*fn)(void *arg, int ifindex, const char *name,
				  bool gone),
		       void *arg);

#endif /* LBD_DP_NODE_TC_H */
