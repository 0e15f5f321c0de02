/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What fwd.bpf.c and lbd-bench-fwd share. */
#ifndef LBD_BENCH_FWD_H
#define LBD_BENCH_FWD_H

#include <linux/types.h>

/* The generated frames' client ports start here; up to BENCH_GEN_PORTS. */
#define BENCH_GEN_PORT_BASE 1024
#define BENCH_GEN_PORTS 64000

/* Header words the generator restores: enough for Ethernet, IPv6 and the
 * TCP header up to its checksum. */
#define BENCH_GEN_WORDS 9

/* Value of the per-CPU sink_count array. */
struct bench_sink_count {
	__u64 packets;
	__u64 encapsulated; /* IPIP, IP6IP6 or Geneve: came through lbd */
	__u64 geneve; /* of those, Geneve */
};
_Static_assert(sizeof(struct bench_sink_count) == 24, "bench_sink_count");

/*
 * The client side of frame n of the generator on CPU cpu, written the
 * same by both generators (bench_gen in BPF, the AF_PACKET threads).
 * Established flows (syn == 0): nflows client ports per CPU, taken in
 * turn, the address left as it is. A SYN flood (syn != 0): a new 5-tuple
 * on every frame, the address's last 16 bits and the port, disjoint
 * between CPUs (up to 2^16 x BENCH_GEN_PORTS / ncpus frames a CPU).
 * Returns the port; *addr_lo is the address's last 16 bits, host order.
 */
static inline __u16 bench_gen_tuple(__u32 cpu, __u64 n, __u32 nflows,
				    __u32 ncpus, __u32 syn, __u16 *addr_lo)
{
	if (!syn)
		return (__u16)(BENCH_GEN_PORT_BASE + cpu * nflows +
			       (__u32)(n % nflows));
	*addr_lo = (__u16)n;
	return (__u16)(BENCH_GEN_PORT_BASE +
		       (__u32)((cpu + (__u64)ncpus * (n >> 16)) %
			       BENCH_GEN_PORTS));
}

#endif /* LBD_BENCH_FWD_H */
