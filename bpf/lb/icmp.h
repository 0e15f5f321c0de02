/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP at the VIP: echo replies, errors about VIP flows (forwarded to the
 * flow's backend), and errors lbd originates (fragmentation needed / packet
 * too big when encapsulation would exceed the MTU; port unreachable for a
 * service without a usable backend).
 *
 * Originated errors quote the invoking packet as RFC 792 asks for IPv4
 * (its IP header and 8 bytes), and for IPv6 as much as fits the minimum
 * MTU (RFC 4443 section 2.4), rounded down to 4 bytes. They leave by the
 * interface the packet came in on, back to the L2 sender, VLAN tags kept,
 * and share one per-CPU token bucket (knobs.icmp_rate, knobs.icmp_burst).
 */
#ifndef LBD_LB_ICMP_H
#define LBD_LB_ICMP_H

#include "lib/csum.h"
#include "lib/parse.h"
#include "maps.h"
#include "stats.h"

#define LBD_ICMP_TTL 64
#define LBD_IPTOS_INTERNETCONTROL 0xc0
/* IPv6 header 40 + ICMPv6 8 + quote within the 1280-byte minimum MTU */
#define LBD_ICMP6_QUOTE_MAX (LBD_IPV6_MIN_MTU - 48)

static __always_inline bool icmp_ratelimit_allow(void)
{
	struct lbd_ratelimit *rl;
	__u32 zero = 0;
	__u64 now, elapsed, tokens, cap;

	if (!knobs.icmp_rate)
		return false;
	rl = bpf_map_lookup_elem(&lbd_icmp_rl, &zero);
	if (!rl)
		return false;
	now = bpf_ktime_get_ns();
	cap = (__u64)knobs.icmp_burst * 1000;
	if (!rl->last_ns) {
		/* first use on this CPU: a full bucket */
		tokens = cap;
	} else {
		elapsed = now - rl->last_ns;
		if (elapsed > 10 * NSEC_PER_SEC)
			elapsed = 10 * NSEC_PER_SEC;
		/* milli-tokens: elapsed_ns * rate / 10^6 */
		tokens = rl->tokens + elapsed * knobs.icmp_rate / 1000000;
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

static __always_inline void swap_eth(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* Echo request to a VIP: answered in place. */
static __always_inline int icmp_echo_reply(struct xdp_md *ctx,
					   const struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	__u16 old, new;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (p->family == LBD_AF_INET) {
		struct iphdr *ip = pkt_at(data, p->l3_off);
		struct lbd_icmphdr *ih = pkt_at(data, p->l4_off);
		__be32 a;

		if ((void *)(ip + 1) > data_end || (void *)(ih + 1) > data_end)
			return XDP_DROP;
		a = ip->saddr;
		ip->saddr = ip->daddr;
		ip->daddr = a;
		old = *(__u16 *)&ip->ttl;
		ip->ttl = LBD_ICMP_TTL;
		csum_replace2(&ip->check, old, *(__u16 *)&ip->ttl);
		old = *(__u16 *)ih;
		ih->type = LBD_ICMP_ECHOREPLY;
		new = *(__u16 *)ih;
		csum_replace2(&ih->checksum, old, new);
	} else {
		struct ipv6hdr *ip6 = pkt_at(data, p->l3_off);
		struct icmp6hdr *ih = pkt_at(data, p->l4_off);
		struct in6_addr a;

		if ((void *)(ip6 + 1) > data_end ||
		    (void *)(ih + 1) > data_end)
			return XDP_DROP;
		a = ip6->saddr;
		ip6->saddr = ip6->daddr;
		ip6->daddr = a;
		ip6->hop_limit = LBD_ICMP_TTL;
		old = *(__u16 *)ih;
		ih->icmp6_type = LBD_ICMP6_ECHO_REPLY;
		new = *(__u16 *)ih;
		csum_replace2(&ih->icmp6_cksum, old, new);
	}
	swap_eth(eth);
	return verdict(XDP_TX, LBD_EV_ICMP_ECHO, ctx_len(ctx));
}

/*
 * An ICMP error to a VIP quotes a packet the VIP sent (a backend's DSR
 * reply): VIP:service port -> client:port. Fills q with that flow in the
 * client's direction, and *qoff with the quoted IP header's offset. The
 * ICMP header, the quoted IP header and its ports must lie inside the
 * error's IP packet: Ethernet padding after it is not part of the quote,
 * and what is rewritten there would be cut off with the checksum made
 * for it.
 */
static __always_inline int icmp_error_flow(struct xdp_md *ctx,
					   const struct lbd_pkt *p,
					   struct lbd_pkt *q, __u16 *qoff)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u16 off = p->l4_off + 8;
	__be16 *ports;

	q->family = p->family;
	q->l3_off = off;
	if (p->family == LBD_AF_INET) {
		struct iphdr *ip = pkt_at(data, off);

		if ((void *)(ip + 1) > data_end || ip->version != 4 ||
		    ip->ihl < 5 || !pkt_in_ip(p, off, sizeof(*ip)))
			return -1;
		if (ip->saddr != p->daddr.v4)
			return -1;
		q->proto = ip->protocol;
		q->saddr.v4 = ip->daddr;
		q->daddr.v4 = ip->saddr;
		q->l4_off = off + ip->ihl * 4;
	} else {
		struct ipv6hdr *ip6 = pkt_at(data, off);

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6 ||
		    !pkt_in_ip(p, off, sizeof(*ip6)))
			return -1;
		copy_addr6(&q->saddr, &ip6->daddr);
		copy_addr6(&q->daddr, &ip6->saddr);
		if (q->daddr.v6[0] != p->daddr.v6[0] ||
		    q->daddr.v6[1] != p->daddr.v6[1] ||
		    q->daddr.v6[2] != p->daddr.v6[2] ||
		    q->daddr.v6[3] != p->daddr.v6[3])
			return -1;
		q->proto = ip6->nexthdr;
		q->l4_off = off + sizeof(*ip6);
	}
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return -1;
	/* the quote holds the IP header and at least 8 bytes of what
	 * followed it (RFC 792, RFC 1812 4.3.2.3): a whole UDP header */
	ports = pkt_at(data, q->l4_off);
	if ((void *)(ports + 4) > data_end || !pkt_in_ip(p, q->l4_off, 8))
		return -1;
	q->sport = ports[1];
	q->dport = ports[0];
	*qoff = off;
	return 0;
}

/*
 * Geneve forwarding translates an ICMP error as a NAT would (RFC 5508):
 * the quoted packet's source becomes the backend's address and port, with
 * the quoted IPv4 header checksum and the ICMP checksum adjusted. (The
 * outer destination is translated by translate_dst.)
 */
static __always_inline int icmp_translate_quote(struct xdp_md *ctx,
						const struct lbd_pkt *p,
						const struct lbd_pkt *q,
						const struct lbd_backend *be)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__be16 *sport = pkt_at(data, q->l4_off);
	__sum16 *isum;
	int i;

	if ((void *)(sport + 1) > data_end)
		return -1;
	if (p->family == LBD_AF_INET) {
		struct lbd_icmphdr *ih = pkt_at(data, p->l4_off);
		struct iphdr *qip = pkt_at(data, q->l3_off);
		__sum16 oldsum;

		if ((void *)(ih + 1) > data_end ||
		    (void *)(qip + 1) > data_end)
			return -1;
		isum = &ih->checksum;
		oldsum = qip->check;
		csum_replace4(&qip->check, qip->saddr, be->addr.v4);
		csum_replace4(isum, qip->saddr, be->addr.v4);
		csum_replace2(isum, oldsum, qip->check);
		qip->saddr = be->addr.v4;
	} else {
		struct icmp6hdr *ih = pkt_at(data, p->l4_off);
		struct ipv6hdr *qip6 = pkt_at(data, q->l3_off);

		if ((void *)(ih + 1) > data_end ||
		    (void *)(qip6 + 1) > data_end)
			return -1;
		isum = &ih->icmp6_cksum;
#pragma unroll
		for (i = 0; i < 4; i++) {
			csum_replace4(isum, qip6->saddr.in6_u.u6_addr32[i],
				      be->addr.v6[i]);
			qip6->saddr.in6_u.u6_addr32[i] = be->addr.v6[i];
		}
	}
	csum_replace2(isum, *sport, be->port);
	*sport = be->port;
	return 0;
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
		quote = (p->l4_off - p->l3_off) + 8;
		if (quote > p->ip_len)
			quote = p->ip_len;
		quote &= 0x7c;
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
		/* the longest quote: a 60-byte header and 8 bytes */
		sum = icmp_sum_quote(ctx, l2 + hlen, quote, 60 + 8);
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

static __always_inline int send_error(struct xdp_md *ctx, struct lbd_pkt *p,
				      __u8 type, __u8 code, __u32 mtu,
				      enum lbd_reason r)
{
	__u32 len = ctx_len(ctx);

	if (!icmp_source_ok(p))
		return verdict(XDP_DROP, LBD_DROP_ICMP_BAD_SOURCE, len);
	if (!icmp_ratelimit_allow())
		return verdict(XDP_DROP, LBD_DROP_ICMP_RATELIMIT, len);
	if (lbd_icmp_error(ctx, p, type, code, mtu) != XDP_TX)
		return verdict(XDP_DROP, LBD_DROP_TOOBIG, len);
	return verdict(XDP_TX, r, ctx_len(ctx));
}

/* Fragmentation needed / packet too big, carrying the MTU the packet
 * may have (the route's, less what an encapsulation adds). */
static __always_inline int send_toobig(struct xdp_md *ctx, struct lbd_pkt *p,
				       __u32 mtu)
{
	if (p->family == LBD_AF_INET)
		return send_error(ctx, p, LBD_ICMP_DEST_UNREACH,
				  LBD_ICMP_FRAG_NEEDED, mtu,
				  LBD_EV_ICMP_TOOBIG);
	if (mtu < LBD_IPV6_MIN_MTU)
		mtu = LBD_IPV6_MIN_MTU;
	return send_error(ctx, p, LBD_ICMP6_PKT_TOOBIG, 0, mtu,
			  LBD_EV_ICMP_TOOBIG);
}

static __always_inline int no_backend(struct xdp_md *ctx, struct lbd_pkt *p,
				      const struct lbd_svc *svc)
{
	if (!(svc->flags & LBD_SVC_F_UNREACH_ICMP))
		return verdict(XDP_DROP, LBD_DROP_NO_BACKEND, ctx_len(ctx));
	count_reason(LBD_DROP_NO_BACKEND, ctx_len(ctx));
	if (p->family == LBD_AF_INET)
		return send_error(ctx, p, LBD_ICMP_DEST_UNREACH,
				  LBD_ICMP_PORT_UNREACH, 0,
				  LBD_EV_ICMP_UNREACH);
	return send_error(ctx, p, LBD_ICMP6_DST_UNREACH,
			  LBD_ICMP6_PORT_UNREACH, 0, LBD_EV_ICMP_UNREACH);
}

#endif /* LBD_LB_ICMP_H */
