/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counters by typed reason (enum lbd_reason, lbd/shared.h): a per-CPU
 * array each program keeps under its own pinned name (lbd_stats on the LB
 * host, lbd_be_stats on a backend), counted the same way.
 */
#ifndef LBD_BPF_STATS_H
#define LBD_BPF_STATS_H

#include "lib/common.h"

#define LBD_REASON_MAP(name)                                                  \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                      \
		__uint(max_entries, LBD_REASON_MAX);                          \
		__type(key, __u32);                                           \
		__type(value, struct lbd_counter);                            \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                          \
	} name SEC(".maps")

/* One packet of bytes for reason r, in the reason map map. */
static __always_inline void reason_count(void *map, enum lbd_reason r,
					 __u32 bytes)
{
	__u32 key = r;
	struct lbd_counter *c = bpf_map_lookup_elem(map, &key);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

#endif /* LBD_BPF_STATS_H */
