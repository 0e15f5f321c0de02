/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing shared by the XDP and tc programs. Parsers fill a struct
 * lbd_pkt with offsets from the start of the frame (pointers do not survive
 * a head adjustment; offsets do) and return LBD_OK or a negative
 * LBD_PARSE_* result; they never decide a verdict, the caller does.
 */
#ifndef LBD_BPF_PARSE_H
#define LBD_BPF_PARSE_H

#include "lib/common.h"
#include "lib/csum.h"
#include "lib/ctx.h"

#define LBD_OK 0
#define LBD_PARSE_SHORT (-1) /* headers cut off */
#define LBD_PARSE_BAD (-2) /* a field that cannot be */
#define LBD_PARSE_FRAGMENT (-3)
#define LBD_PARSE_EXTHDR (-4) /* IPv6 extension header not skipped */
#define LBD_PARSE_CSUM (-5) /* IPv4 header checksum wrong */

/* Extension headers skipped before giving up (hop-by-hop, routing and
 * destination options; more are legal but not seen in practice). */
#define LBD_IP6_MAX_EXTHDR 4

struct lbd_pkt {
	__u16 l3_off; /* = length of Ethernet and VLAN tags */
	__u16 l4_off;
	__u16 ip_len; /* IP total length, header included */
	__be16 h_proto; /* ethertype after the VLAN tags */
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	__u8 proto; /* L4 protocol, after IPv6 extension headers */
	__u8 tcp_flags;
	__u8 tos; /* IPv4 TOS or IPv6 traffic class */
	__u16 frag; /* IPv4 flags and offset, host order */
	__be16 sport;
	__be16 dport;
	__u16 pad;
	union lbd_addr saddr;
	union lbd_addr daddr;
};

struct lbd_vlanhdr {
	__be16 tci;
	__be16 proto;
};

/* Ethernet with up to two 802.1Q/802.1ad tags. */
static __always_inline int parse_l2(const void *data, const void *data_end,
				    struct lbd_pkt *p)
{
	const struct ethhdr *eth = data;
	const struct lbd_vlanhdr *vh;
	__u16 off = sizeof(*eth);
	__be16 proto;
	int i;

	if ((const void *)(eth + 1) > data_end)
		return LBD_PARSE_SHORT;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = pkt_at(data, off);
		if ((const void *)(vh + 1) > data_end)
			return LBD_PARSE_SHORT;
		proto = vh->proto;
		off += sizeof(*vh);
	}
	p->h_proto = proto;
	p->l3_off = off;
	return LBD_OK;
}

/*
 * IPv4 header at p->l3_off. Options are allowed (IHL honoured); the total
 * length must fit in the packet's len bytes (trailing padding is allowed).
 * len is the whole packet: an skb may hold less than that in data_end's
 * linear part, which only has to hold the headers. With csum, a header
 * whose checksum is wrong is LBD_PARSE_CSUM (p filled all the same); the
 * sum is taken here, while the header's pointer is at hand: taken later
 * from a pointer made again, clang 14 kept that pointer in a stack slot
 * it also used for 32-bit values, which the verifier (6.18) refuses.
 */
static __always_inline int parse_ip4_csum(const void *data,
					  const void *data_end, __u32 len,
					  struct lbd_pkt *p, bool csum)
{
	const struct iphdr *ip = pkt_at(data, p->l3_off);
	__u16 hlen, tot;

	if ((const void *)(ip + 1) > data_end)
		return LBD_PARSE_SHORT;
	if (ip->version != 4 || ip->ihl < 5)
		return LBD_PARSE_BAD;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || (__u32)p->l3_off + tot > len ||
	    pkt_at(data, p->l3_off) + hlen > data_end)
		return LBD_PARSE_SHORT;
	p->family = LBD_AF_INET;
	p->ip_len = tot;
	p->l4_off = p->l3_off + hlen;
	p->proto = ip->protocol;
	p->tos = ip->tos;
	p->frag = bpf_ntohs(ip->frag_off);
	p->saddr.v4 = ip->saddr;
	p->daddr.v4 = ip->daddr;
	if (p->frag & (LBD_IP_MF | LBD_IP_OFFMASK))
		return LBD_PARSE_FRAGMENT;
	if (csum && unlikely(!ip4_csum_ok(ip, hlen, data_end)))
		return LBD_PARSE_CSUM;
	return LBD_OK;
}

static __always_inline int parse_ip4(const void *data, const void *data_end,
				     __u32 len, struct lbd_pkt *p)
{
	return parse_ip4_csum(data, data_end, len, p, false);
}

static __always_inline void copy_addr6(union lbd_addr *dst,
				       const struct in6_addr *src)
{
	/* in6_addr is 4-byte aligned in a frame; copy by words */
	dst->v6[0] = src->in6_u.u6_addr32[0];
	dst->v6[1] = src->in6_u.u6_addr32[1];
	dst->v6[2] = src->in6_u.u6_addr32[2];
	dst->v6[3] = src->in6_u.u6_addr32[3];
}

/*
 * IPv6 header at p->l3_off, then extension headers up to the L4 header.
 * Hop-by-hop, routing and destination options are skipped; a fragment
 * header is LBD_PARSE_FRAGMENT (with proto IPPROTO_FRAGMENT and l4_off
 * at the fragment header); AH, mobility, HIP and shim6 headers are
 * LBD_PARSE_EXTHDR (not skipped: the caller passes such packets on).
 * len as for parse_ip4.
 */
static __always_inline int parse_ip6(const void *data, const void *data_end,
				     __u32 len, struct lbd_pkt *p)
{
	const struct ipv6hdr *ip6 = pkt_at(data, p->l3_off);
	const __u8 *ext;
	__u32 tot, end;
	__u16 off;
	__u8 next;
	int i;

	if ((const void *)(ip6 + 1) > data_end)
		return LBD_PARSE_SHORT;
	if (ip6->version != 6)
		return LBD_PARSE_BAD;
	p->family = LBD_AF_INET6;
	/* in 32 bits: a payload length of 65,496 or more with the header
	 * does not fit ip_len, and wrapped would pass for a short packet */
	tot = sizeof(*ip6) + (__u32)bpf_ntohs(ip6->payload_len);
	if (tot > 0xffff)
		return LBD_PARSE_BAD;
	end = (__u32)p->l3_off + tot;
	if (end > len)
		return LBD_PARSE_SHORT;
	p->ip_len = tot;
	p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	copy_addr6(&p->saddr, &ip6->saddr);
	copy_addr6(&p->daddr, &ip6->daddr);

	next = ip6->nexthdr;
	off = p->l3_off + sizeof(*ip6);
#pragma unroll
	for (i = 0; i < LBD_IP6_MAX_EXTHDR; i++) {
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			ext = pkt_at(data, off);
			if ((const void *)(ext + 2) > data_end)
				return LBD_PARSE_SHORT;
			next = ext[0];
			off += (ext[1] + 1) * 8;
			if (off > end)
				return LBD_PARSE_SHORT;
			break;
		case IPPROTO_FRAGMENT:
			/* where the fragment header is, for a caller that
			 * needs its next header and offset (bpf/backend) */
			p->proto = next;
			p->l4_off = off;
			return LBD_PARSE_FRAGMENT;
		case IPPROTO_AH:
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			return LBD_PARSE_EXTHDR;
		default:
			goto done;
		}
	}
	/* more extension headers than lbd skips */
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	    next == IPPROTO_DSTOPTS)
		return LBD_PARSE_EXTHDR;
done:
	p->proto = next;
	p->l4_off = off;
	return LBD_OK;
}

/* Offset of the end of the IP packet p describes: what follows in the
 * frame is Ethernet padding, never to be parsed or rewritten. */
static __always_inline __u32 pkt_ip_end(const struct lbd_pkt *p)
{
	return (__u32)p->l3_off + p->ip_len;
}

/* Whether len bytes at off lie inside the IP packet p describes. */
static __always_inline bool pkt_in_ip(const struct lbd_pkt *p, __u32 off,
				      __u32 len)
{
	return off + len <= pkt_ip_end(p);
}

/* TCP or UDP header at p->l4_off: ports and, for TCP, the flags. */
static __always_inline int parse_l4(const void *data, const void *data_end,
				    struct lbd_pkt *p)
{
	const void *l4 = pkt_at(data, p->l4_off);
	__u16 l4_len = p->ip_len - (p->l4_off - p->l3_off);

	if (p->proto == IPPROTO_TCP) {
		const struct tcphdr *th = l4;

		if ((const void *)(th + 1) > data_end)
			return LBD_PARSE_SHORT;
		if (th->doff < 5 || th->doff * 4 > l4_len)
			return LBD_PARSE_BAD;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((const __u8 *)th)[13];
		return LBD_OK;
	}
	if (p->proto == IPPROTO_UDP) {
		const struct udphdr *uh = l4;
		__u16 len;

		if ((const void *)(uh + 1) > data_end)
			return LBD_PARSE_SHORT;
		len = bpf_ntohs(uh->len);
		if (len < sizeof(*uh) || len > l4_len)
			return LBD_PARSE_BAD;
		p->sport = uh->source;
		p->dport = uh->dest;
		return LBD_OK;
	}
	return LBD_PARSE_BAD;
}

#define LBD_TCP_FIN 0x01
#define LBD_TCP_SYN 0x02
#define LBD_TCP_RST 0x04
#define LBD_TCP_ACK 0x10

#endif /* LBD_BPF_PARSE_H */
