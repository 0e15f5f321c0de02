/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP at the VIP: echo replies, errors about VIP flows (forwarded to the
 * flow's backend), and errors lbd originates (fragmentation needed / packet
 * too big when encapsulation would exceed the MTU; port unreachable for a
 * service without a usable backend).
 *
 * Originated errors are made by lib/icmp_err.h (quoted as RFC 792 and
 * RFC 4443 say). They leave by the interface the packet came in on, back
 * to the L2 sender, VLAN tags kept, and share one per-CPU token bucket
 * (knobs.icmp_rate, knobs.icmp_burst).
 */
#ifndef LBD_LB_ICMP_H
#define LBD_LB_ICMP_H

#include "lib/csum.h"
#include "lib/icmp_err.h"
#include "lib/parse.h"
#include "maps.h"
#include "stats.h"

static __always_inline bool icmp_ratelimit_allow(void)
{
	__u32 zero = 0;

	return icmp_rl_take(bpf_map_lookup_elem(&lbd_icmp_rl, &zero),
			    knobs.icmp_rate, knobs.icmp_burst);
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
