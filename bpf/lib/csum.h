/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internet checksums (RFC 1071) and their incremental update (RFC 1624). */
#ifndef LBD_BPF_CSUM_H
#define LBD_BPF_CSUM_H

#include "lib/common.h"

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of a 20-byte IPv4 header (no options), checksum field 0. */
static __always_inline __u16 ip4_csum20(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold(sum);
}

/*
 * Whether the IPv4 header at ip, hlen bytes (20 to 60, a multiple of 4),
 * sums to 0xffff with its checksum (RFC 1071, RFC 1122 3.2.1.2). By
 * 32-bit words: their sum folds to the same 16-bit one's complement sum.
 * Options are the cold path.
 */
static __always_inline bool ip4_csum_ok(const struct iphdr *ip, __u32 hlen,
					const void *data_end)
{
	const __u32 *w = (const __u32 *)ip;
	__u64 sum;
	int i;

	if ((const void *)(w + 5) > data_end)
		return false;
	sum = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
	if (unlikely(hlen > 20)) {
#pragma unroll
		for (i = 5; i < 15; i++) {
			if ((__u32)i * 4 < hlen) {
				if ((const void *)(w + i + 1) > data_end)
					return false;
				sum += w[i];
			}
		}
	}
	return csum_fold(sum) == 0;
}

/* HC' = ~(~HC + ~m + m') over 32 bits (RFC 1624, eqn. 3). */
static __always_inline void csum_replace4(__sum16 *sum, __be32 from,
					  __be32 to)
{
	__u64 s = (__u16)~*sum;

	s += (__u16)~(__u16)from + (__u16)~(__u16)(from >> 16);
	s += (__u16)to + (__u16)(to >> 16);
	*sum = csum_fold(s);
}

static __always_inline void csum_replace2(__sum16 *sum, __be16 from,
					  __be16 to)
{
	__u64 s = (__u16)~*sum;

	s += (__u16)~from;
	s += to;
	*sum = csum_fold(s);
}

/* Applies a 32-bit one's complement difference (e.g. from bpf_csum_diff)
 * to a checksum field. */
static __always_inline void csum_apply(__sum16 *sum, __s64 diff)
{
	__u64 s = (__u16)~*sum;

	s += (__u32)diff;
	*sum = csum_fold(s);
}

/* UDP says "no checksum" with 0 and sends a computed 0 as 0xffff. */
static __always_inline void csum_udp_fix(__sum16 *sum)
{
	if (*sum == 0)
		*sum = 0xffff;
}

#endif /* LBD_BPF_CSUM_H */
