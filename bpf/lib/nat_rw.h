/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rewriting addresses and ports of a frame in XDP, checksums updated
 * incrementally (RFC 1624): the LB role's SNAT (bpf/lb/nat.h) and the
 * node role's NIC path (bpf/node/nic.h). A frame's checksums are always
 * complete ones (no CHECKSUM_PARTIAL before the stack), so updating the
 * fields is right here; an skb wants the helpers of lib/rewrite.h, but
 * for an ICMP error (bpf/node/icmp.h), which the kernel always sends
 * with its checksum complete, this is right in an skb too. Written
 * against struct lbd_ctx: the entry file includes lib/ctx_xdp.h or
 * lib/ctx_skb.h first.
 */
#ifndef LBD_BPF_NAT_RW_H
#define LBD_BPF_NAT_RW_H

#include "lib/csum.h"
#include "lib/parse.h"

/* What rewrite() changes; unset fields stay. Values, not pointers: the
 * compiler (clang 14) otherwise merges the "set or not" paths into
 * arithmetic on pointers, which the verifier refuses. */
struct lbd_rw {
	union lbd_addr saddr;
	union lbd_addr daddr;
	__be16 sport;
	__be16 dport;
	bool set_saddr;
	bool set_daddr;
	bool set_sport;
	bool set_dport;
};

static __always_inline void fold2(__sum16 *sum, __be16 from, __be16 to)
{
	if (sum)
		csum_replace2(sum, from, to);
}

static __always_inline void fold4(__sum16 *sum, __be32 from, __be32 to)
{
	if (sum)
		csum_replace4(sum, from, to);
}

/*
 * Changes one 32-bit word of an address: in the IPv4 header checksum
 * (ipsum, may be NULL), the L4 checksum through its pseudo header (l4sum,
 * may be NULL), and, for a packet quoted in an ICMP error, in the ICMP
 * checksum (outer) together with the changes of the other two.
 */
static __always_inline void rw_word(__be32 *w, __be32 to, __sum16 *ipsum,
				    __sum16 *l4sum, __sum16 *outer)
{
	__be32 from = *w;
	__sum16 old;

	if (ipsum) {
		old = *ipsum;
		fold4(ipsum, from, to);
		fold2(outer, old, *ipsum);
	}
	if (l4sum) {
		old = *l4sum;
		fold4(l4sum, from, to);
		fold2(outer, old, *l4sum);
	}
	fold4(outer, from, to);
	*w = to;
}

static __always_inline void rw_port(__be16 *port, __be16 to, __sum16 *l4sum,
				    __sum16 *outer)
{
	__be16 from = *port;
	__sum16 old;

	if (l4sum) {
		old = *l4sum;
		fold2(l4sum, from, to);
		fold2(outer, old, *l4sum);
	}
	fold2(outer, from, to);
	*port = to;
}

/*
 * Rewrites addresses and ports of the IP packet at l3/l4 of family and
 * proto, checksums included. quoted: the packet sits in an ICMP error
 * whose checksum is outer; its L4 header may be cut short (a checksum
 * beyond the cut is left alone). end is the offset where the frame's IP
 * packet ends (the error's, for a quote): an L4 header that reaches past
 * it is cut short, whatever padding follows in the frame.
 */
static __always_inline int rewrite(struct lbd_ctx *ctx, __u8 family, __u8 proto,
				   __u16 l3, __u16 l4, __u32 end,
				   const struct lbd_rw *rw, __sum16 *outer)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__sum16 *l4sum = NULL, *ipsum = NULL;
	__be16 *ports = NULL;
	__be32 *sa, *da;
	int i;

	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		ports = pkt_at(data, l4);
		if ((void *)(ports + 2) > data_end)
			return -1;
	}
	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = pkt_at(data, l4);

		if ((void *)(th + 1) <= data_end &&
		    (__u32)l4 + sizeof(*th) <= end)
			l4sum = &th->check;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = pkt_at(data, l4);

		/* an IPv4 UDP checksum of 0 means none: keep it so */
		if ((void *)(uh + 1) <= data_end &&
		    (__u32)l4 + sizeof(*uh) <= end &&
		    (uh->check || family == LBD_AF_INET6))
			l4sum = &uh->check;
	} else if (proto == IPPROTO_ICMPV6) {
		struct icmp6hdr *ih = pkt_at(data, l4);

		if ((void *)(ih + 1) > data_end)
			return -1;
		l4sum = &ih->icmp6_cksum;
	}

	if (family == LBD_AF_INET) {
		struct iphdr *ip = pkt_at(data, l3);

		if ((void *)(ip + 1) > data_end)
			return -1;
		ipsum = &ip->check;
		sa = &ip->saddr;
		da = &ip->daddr;
		if (rw->set_saddr)
			rw_word(sa, rw->saddr.v4, ipsum, l4sum, outer);
		if (rw->set_daddr)
			rw_word(da, rw->daddr.v4, ipsum, l4sum, outer);
	} else {
		struct ipv6hdr *ip6 = pkt_at(data, l3);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		sa = ip6->saddr.in6_u.u6_addr32;
		da = ip6->daddr.in6_u.u6_addr32;
#pragma unroll
		for (i = 0; i < 4; i++) {
			if (rw->set_saddr)
				rw_word(&sa[i], rw->saddr.v6[i], NULL, l4sum,
					outer);
			if (rw->set_daddr)
				rw_word(&da[i], rw->daddr.v6[i], NULL, l4sum,
					outer);
		}
	}
	if (ports && rw->set_sport)
		rw_port(&ports[0], rw->sport, l4sum, outer);
	if (ports && rw->set_dport)
		rw_port(&ports[1], rw->dport, l4sum, outer);
	if (l4sum && proto == IPPROTO_UDP && !outer)
		csum_udp_fix(l4sum);
	return 0;
}

/* BPF has no memcmp: addresses compare by words. */
static __always_inline bool addr_eq(const union lbd_addr *a,
				    const union lbd_addr *b)
{
	return a->v6[0] == b->v6[0] && a->v6[1] == b->v6[1] &&
	       a->v6[2] == b->v6[2] && a->v6[3] == b->v6[3];
}

#endif /* LBD_BPF_NAT_RW_H */
