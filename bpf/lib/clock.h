/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The clock of flow timeouts: whole seconds of CLOCK_MONOTONIC_COARSE, as
 * lbd's userspace reads it too (ages in lbctl, active flows in metrics).
 *
 * bpf_ktime_get_coarse_ns() and the division cost about 30 ns, a tenth of
 * an established flow's path. The second is kept per CPU instead and read
 * again only when jiffies moved (the verifier inlines bpf_jiffies64() into
 * one load), so a CPU's second lags the true one by at most a jiffy.
 *
 * Two CPUs may disagree by that much around a second's turn: a timestamp
 * another CPU wrote may be a second ahead of this CPU's now. Idle times are
 * therefore compared signed, never as u32 differences that a "negative"
 * age would turn into four billion seconds: lbd_idle_over in lbd/shared.h,
 * the one rule of the programs and of lbd, which reads the same entries.
 */
#ifndef LBD_BPF_CLOCK_H
#define LBD_BPF_CLOCK_H

#include "lib/common.h"

struct lbd_clock {
	__u64 jiffies; /* when sec was read */
	__u32 sec;
	__u32 pad;
};

/* The per-CPU clock, one per program (not pinned). */
#define LBD_CLOCK_MAP(name)                                                   \
	struct {                                                              \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                      \
		__uint(max_entries, 1);                                       \
		__type(key, __u32);                                           \
		__type(value, struct lbd_clock);                              \
	} name SEC(".maps")

static __always_inline __u32 clock_now(void *clock_map)
{
	__u64 j = bpf_jiffies64();
	struct lbd_clock *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(clock_map, &zero);
	if (!c)
		return bpf_ktime_get_coarse_ns() / NSEC_PER_SEC;
	if (c->jiffies != j) {
		c->sec = bpf_ktime_get_coarse_ns() / NSEC_PER_SEC;
		c->jiffies = j;
	}
	return c->sec;
}

#endif /* LBD_BPF_CLOCK_H */
