/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors lbd originates at XDP, shared by the LB role (lb/icmp.h)
 * and the node role's NIC path (node/nic_ptb.h): the packet replaced by
 * an error about it, from its destination back to its source, out of
 * the interface it came in by; which sources may get one; a per-CPU
 * token bucket that limits them. Each program keeps its own bucket map
 * and knobs.
 *
 * Errors quote the invoking packet as RFC 792 asks for IPv4 (its IP
 * header and 8 bytes: the LB role) or as much as fits 576 bytes (RFC 1812
 * 4.3.2.3: the node role, LBD_ICMP4_QUOTE_576), and for IPv6 as much as
 * fits the minimum MTU (RFC 4443 section 2.4), rounded down to 4 bytes.
 */
#ifndef LBD_LIB_ICMP_ERR_H
#define LBD_LIB_ICMP_ERR_H

#include "lib/common.h"
#include "lib/csum.h"
#include "lib/ctx.h"
#include "lib/parse.h"

#define LBD_ICMP_TTL 64
#define LBD_IPTOS_INTERNETCONTROL 0xc0
/* IPv6 header 40 + ICMPv6 8 + quote within the 1280-byte minimum MTU */
#define LBD_ICMP6_QUOTE_MAX (LBD_IPV6_MIN_MTU - 48)
/* IPv4 header 20 + ICMP 8 + quote within 576 bytes (RFC 1812 4.3.2.3) */
#define LBD_ICMP4_QUOTE_MAX (576 - 28)

/*
 * 1 when IPv4 errors quote as much as fits 576 bytes, defined by an entry
 * file before it includes this header. A constant of the object, not an
 * argument of lbd_icmp_error: a BPF function takes five, and a flag took
 * the LB role's program past the verifier's limits (1M instructions; 512
 * bytes of stack with its callers).
 */
#ifndef LBD_ICMP4_QUOTE_576
#define LBD_ICMP4_QUOTE_576 0
#endif

/*
 * Takes a token from the per-CPU bucket rl (NULL: none to take) that
 * fills with rate tokens a second up to burst: whether an ICMP message
 * may be sent. rate 0 sends none.
 */
static __always_inline bool icmp_rl_take(struct lbd_ratelimit *rl, __u32 rate,
					 __u32 burst)
{
	__u64 now, elapsed, tokens, cap;

	if (!rate || !rl)
		return false;
	now = bpf_ktime_get_ns();
	cap = (__u64)burst * 1000;
	if (!rl->last_ns) {
		/* first use on this CPU: a full bucket */
		tokens = cap;
	} else {
		elapsed = now - rl->last_ns;
		if (elapsed > 10 * NSEC_PER_SEC)
			elapsed = 10 * NSEC_PER_SEC;
		/* milli-tokens: elapsed_ns * rate / 10^6 */
		tokens = rl->tokens + elapsed * rate / 1000000;
	}
	if (tokens > cap)
		tokens = cap;
	rl->last_ns = now;
	if (tokens < 1000) {
		rl->tokens = tokens;
		return false;
	}
	rl->tokens = tokens - 1000;
	return true;
}

/*
 * Whether the source of p is one host that lbd may answer (echo) or send
 * an error to. Not for IPv4 "this network" (0/8), loopback (127/8),
 * multicast (224/4), class E and the limited broadcast (240/4) (RFC 1122
 * 3.2.2, 3.2.1.3); not for IPv6 unspecified (::), loopback (::1),
 * multicast (ff00::/8, ff02::1 among them) (RFC 4443 2.4 (e)) or
 * IPv4-mapped (RFC 4291 2.5.5.2). A directed broadcast is not known here.
 */
static __always_inline bool icmp_source_ok(const struct lbd_pkt *p)
{
	const union lbd_addr *a = &p->saddr;

	if (p->family == LBD_AF_INET)
		return a->b[0] != 0 && a->b[0] != 127 && a->b[0] < 224;
	if (a->b[0] == 0xff)
		return false;
	if (a->v6[0] || a->v6[1])
		return true;
	if (a->v6[2] == bpf_htonl(0xffff))
		return false;
	return a->v6[2] || (a->v6[3] && a->v6[3] != bpf_htonl(1));
}

/* Sum of len bytes (a multiple of 4) at off, for an ICMP checksum. */
static __always_inline __u64 icmp_sum_quote(struct xdp_md *ctx, __u32 off,
					    __u32 len, __u32 max)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u64 sum = 0;
	__u32 i;

	for (i = 0; i < max; i += 4) {
		__u32 *w;

		if (i >= len)
			break;
		w = data + ((off + i) & 0xfff);
		if ((void *)(w + 1) > data_end)
			break;
		sum += *w;
	}
	return sum;
}

/*
 * Replaces the packet by an ICMP error about it, from its destination back
 * to its source: IPv4 type/code with "mtu" in the next-hop MTU field when
 * non-zero, or ICMPv6 type/code with "mtu" in the 32-bit field. A cold
 * path, verified once as a global function.
 */
int lbd_icmp_error(struct xdp_md *ctx, struct lbd_pkt *p, __u8 type,
		   __u8 code, __u32 mtu);
__noinline int lbd_icmp_error(struct xdp_md *ctx, struct lbd_pkt *p,
			      __u8 type, __u8 code, __u32 mtu)
{
	void *data, *data_end;
	__u16 l2, quote, hlen;
	__u32 len;
	__u64 sum;

	if (!p)
		return XDP_ABORTED;
	l2 = p->l3_off;
	if (l2 != 14 && l2 != 18 && l2 != 22)
		return XDP_DROP;
	hlen = p->family == LBD_AF_INET ? sizeof(struct iphdr) + 8
					: sizeof(struct ipv6hdr) + 8;
	if (p->family == LBD_AF_INET) {
		quote = LBD_ICMP4_QUOTE_576 ? LBD_ICMP4_QUOTE_MAX :
					      (p->l4_off - p->l3_off) + 8;
		if (quote > p->ip_len)
			quote = p->ip_len;
		quote &= LBD_ICMP4_QUOTE_576 ? 0x3fc : 0x7c;
	} else {
		quote = p->ip_len < LBD_ICMP6_QUOTE_MAX ? p->ip_len
							: LBD_ICMP6_QUOTE_MAX;
		quote &= 0x7fc;
	}
	if (bpf_xdp_adjust_head(ctx, -(int)hlen))
		return XDP_DROP;
	len = ctx_len(ctx);
	if (len > (__u32)l2 + hlen + quote &&
	    bpf_xdp_adjust_tail(ctx, (int)(l2 + hlen + quote) - (int)len))
		return XDP_DROP;

	data = ctx_data(ctx);
	data_end = ctx_data_end(ctx);
	if (data + 22 + 48 > data_end)
		return XDP_DROP;
	/* the L2 header moves to the new front, source and destination
	 * swapped; VLAN tags keep their place after it */
	{
		__u8 *d = data, *s = data + hlen;
		int i;

#pragma unroll
		for (i = 0; i < 6; i++) {
			d[i] = s[6 + i];
			d[6 + i] = s[i];
		}
#pragma unroll
		for (i = 12; i < 22; i++) {
			if (i < l2)
				d[i] = s[i];
		}
	}

	if (p->family == LBD_AF_INET) {
		struct iphdr *ip = data + (l2 & 0x1f);
		struct lbd_icmphdr *ih = (void *)(ip + 1);

		if ((void *)(ih + 1) > data_end)
			return XDP_DROP;
		*(__u8 *)ip = 0x45;
		ip->tos = LBD_IPTOS_INTERNETCONTROL;
		ip->tot_len = bpf_htons(hlen + quote);
		ip->id = 0;
		ip->frag_off = 0;
		ip->ttl = LBD_ICMP_TTL;
		ip->protocol = IPPROTO_ICMP;
		ip->check = 0;
		ip->saddr = p->daddr.v4;
		ip->daddr = p->saddr.v4;
		ip->check = ip4_csum20(ip);
		ih->type = type;
		ih->code = code;
		ih->checksum = 0;
		ih->frag.unused = 0;
		ih->frag.mtu = bpf_htons(mtu);
		/* the longest quote: a 60-byte header and 8 bytes, or
		 * what fits 576 bytes */
		sum = icmp_sum_quote(ctx, l2 + hlen, quote,
				     LBD_ICMP4_QUOTE_576 ? LBD_ICMP4_QUOTE_MAX :
							   60 + 8);
		sum += *(__u32 *)ih + *((__u32 *)ih + 1);
		ih->checksum = csum_fold(sum);
	} else {
		struct ipv6hdr *ip6 = data + (l2 & 0x1f);
		struct icmp6hdr *ih = (void *)(ip6 + 1);
		__u32 ulen = 8 + quote;
		int i;

		if ((void *)(ih + 1) > data_end)
			return XDP_DROP;
		*(__be32 *)ip6 = bpf_htonl(6u << 28);
		ip6->payload_len = bpf_htons(ulen);
		ip6->nexthdr = IPPROTO_ICMPV6;
		ip6->hop_limit = LBD_ICMP_TTL;
		sum = 0;
#pragma unroll
		for (i = 0; i < 4; i++) {
			ip6->saddr.in6_u.u6_addr32[i] = p->daddr.v6[i];
			ip6->daddr.in6_u.u6_addr32[i] = p->saddr.v6[i];
			sum += p->daddr.v6[i] + (__u64)p->saddr.v6[i];
		}
		sum += bpf_htonl(ulen) + (__u64)bpf_htonl(IPPROTO_ICMPV6);
		ih->icmp6_type = type;
		ih->icmp6_code = code;
		ih->icmp6_cksum = 0;
		ih->icmp6_dataun.un_data32[0] = bpf_htonl(mtu);
		sum += icmp_sum_quote(ctx, l2 + hlen, quote,
				      LBD_ICMP6_QUOTE_MAX);
		sum += *(__u32 *)ih + *((__u32 *)ih + 1);
		ih->icmp6_cksum = csum_fold(sum);
	}
	return XDP_TX;
}

#endif /* LBD_LIB_ICMP_ERR_H */
