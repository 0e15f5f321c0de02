/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU counters: by typed reason, per service and per backend. */
#ifndef LBD_LB_STATS_H
#define LBD_LB_STATS_H

#include "lib/ctx.h"
#include "lib/stats.h"
#include "maps.h"

static __always_inline void count_reason(enum lbd_reason r, __u32 bytes)
{
	reason_count(&lbd_stats, r, bytes);
}

/* Counts the reason and returns the action, so a verdict is one line.
 * A drop's reason is kept for its monitor event while one is asked for. */
static __always_inline int verdict(int action, enum lbd_reason r,
				   __u32 bytes)
{
	count_reason(r, bytes);
	if (action == XDP_DROP && unlikely(monitor_mask & LBD_MON_DROPS)) {
		__u32 zero = 0, *slot;

		slot = bpf_map_lookup_elem(&lbd_drop_reason, &zero);
		if (slot)
			*slot = r;
	}
	return action;
}

static __always_inline void count_traffic(void *map, __u32 id, __u32 bytes,
					  bool new_flow)
{
	struct lbd_traffic *t = bpf_map_lookup_elem(map, &id);

	if (t) {
		t->packets++;
		t->bytes += bytes;
		t->new_flows += new_flow;
	}
}

#endif /* LBD_LB_STATS_H */
