/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Walks of the LB's hash maps from userspace: conntrack (lbctl
 * conntrack, flow counts per backend, the --check preview of moved
 * flows), and the entry counts of the NAT and affinity maps. The walk is
 * of maps the program changes meanwhile: an entry may be seen twice or
 * not at all, which a count or a listing can live with.
 */
#ifndef LBD_CTWALK_H
#define LBD_CTWALK_H

#include <linux/types.h>
#include <stdbool.h>

#include "datapath.h"
#include "lbd/shared.h"

/* One conntrack entry, family-generic. */
struct dp_ct_flow {
	__u8 family;
	__u8 proto;
	union lbd_addr saddr, daddr;
	__u16 sport, dport; /* host order */
	const void *key; /* the map's key, valid during the callback */
	struct lbd_ct v;
};

typedef void (*dp_ct_fn)(void *arg, const struct dp_ct_flow *f);

/* Calls fn for each entry of both conntrack maps (IPv4, then IPv6).
 * 0 or a negative errno. */
int dp_ct_walk(struct lbd_dp *dp, dp_ct_fn fn, void *arg);
/* Deletes the entry of that family with that key (struct lbd_ct_key4 or
 * 6); false when it was gone already. */
bool dp_ct_delete(struct lbd_dp *dp, __u8 family, const void *key);
/* Within its idle timeout at now (CLOCK_MONOTONIC_COARSE seconds), as
 * the running program judges it (lbd_idle_over in shared.h). */
bool dp_ct_live(const struct lbd_dp *dp, __u8 proto, const struct lbd_ct *v,
		__u32 now);
/* The clock conntrack entries are stamped with, in seconds. */
__u32 dp_ct_now(void);
/* Entries of a hash map (DP_MAP_NAT4/6, DP_MAP_AFFINITY): a count or a
 * negative errno. */
long dp_map_count(struct lbd_dp *dp, enum dp_map m);

#endif /* LBD_CTWALK_H */
