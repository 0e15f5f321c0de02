/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rewriting a TCP/UDP packet's source or destination address and port in
 * an skb, with the skb helpers: the kernel keeps checksums right for every
 * checksum state, CHECKSUM_PARTIAL of locally sent packets included (an
 * incremental update of the field itself, as XDP does, would be wrong
 * there: the field then holds the pseudo-header's sum, not the
 * checksum).
 */
#ifndef LBD_BPF_REWRITE_H
#define LBD_BPF_REWRITE_H

#include <stddef.h>

#include "lib/ctx.h"
#include "lib/parse.h"

/* Sets the source (dst false) or destination (dst true) of the packet p
 * describes to addr and port (of p's family). */
static __always_inline int skb_rewrite_l4(struct __sk_buff *skb,
					  const struct lbd_pkt *p, bool dst,
					  const union lbd_addr *addr,
					  __be16 port)
{
	__u32 l4sum = p->l4_off + (p->proto == IPPROTO_TCP ?
					   offsetof(struct tcphdr, check) :
					   offsetof(struct udphdr, check));
	/* a UDP checksum of 0 means none and must stay so */
	__u64 csum_flags = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	const union lbd_addr *old = dst ? &p->daddr : &p->saddr;
	__be16 old_port = dst ? p->dport : p->sport;
	int i;

	if (p->family == LBD_AF_INET) {
		__u32 aoff = p->l3_off + (dst ? offsetof(struct iphdr, daddr) :
						offsetof(struct iphdr, saddr));
		__u32 ipsum = p->l3_off + offsetof(struct iphdr, check);

		if (bpf_l4_csum_replace(skb, l4sum, old->v4, addr->v4,
					csum_flags | BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, ipsum, old->v4, addr->v4, 4) ||
		    bpf_skb_store_bytes(skb, aoff, &addr->v4, 4, 0))
			return -1;
	} else {
		__u32 aoff =
			p->l3_off + (dst ? offsetof(struct ipv6hdr, daddr) :
					   offsetof(struct ipv6hdr, saddr));

#pragma unroll
		for (i = 0; i < 4; i++)
			if (bpf_l4_csum_replace(
				    skb, l4sum, old->v6[i], addr->v6[i],
				    csum_flags | BPF_F_PSEUDO_HDR | 4))
				return -1;
		if (bpf_skb_store_bytes(skb, aoff, addr, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, l4sum, old_port, port, csum_flags | 2) ||
	    bpf_skb_store_bytes(skb, p->l4_off + (dst ? 2 : 0), &port, 2, 0))
		return -1;
	return 0;
}

#endif /* LBD_BPF_REWRITE_H */
