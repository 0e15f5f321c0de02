/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What fwd.bpf.c and lbd-bench-fwd share. */
#ifndef LBD_BENCH_FWD_H
#define LBD_BENCH_FWD_H

#include <linux/types.h>

/* Header words the generator restores: enough for Ethernet, IPv6 and the
 * TCP header up to its checksum. */
#define BENCH_GEN_WORDS 9

/* Value of the per-CPU sink_count array. */
struct bench_sink_count {
	__u64 packets;
	__u64 encapsulated; /* IPIP or IP6IP6: came through lbd */
};
_Static_assert(sizeof(struct bench_sink_count) == 16, "bench_sink_count");

#endif /* LBD_BENCH_FWD_H */
