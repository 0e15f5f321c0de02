/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LB program's encapsulation: the shared code (lib/encap.h) for
 * XDP, and the destination translation of Geneve, which rewrites the frame
 * in place with incremental checksum updates (the tc side uses the skb
 * helpers, lib/rewrite.h).
 */
#ifndef LBD_LB_TRANSLATE_H
#define LBD_LB_TRANSLATE_H

#include "lib/ctx_xdp.h"
#include "maps.h"
#include "lib/encap.h"

/*
 * Rewrites the destination of the packet at p (a TCP/UDP packet, or an
 * ICMP error's outer header when l4 is 0) to the backend, with checksums.
 */
static __always_inline int translate_dst(struct xdp_md *ctx,
					 const struct lbd_pkt *p,
					 const struct lbd_backend *be)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__sum16 *l4sum = NULL;
	__be16 *dport = NULL;
	int i;

	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = pkt_at(data, p->l4_off);

		if ((void *)(th + 1) > data_end)
			return -1;
		l4sum = &th->check;
		dport = &th->dest;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = pkt_at(data, p->l4_off);

		if ((void *)(uh + 1) > data_end)
			return -1;
		/* an IPv4 UDP checksum of 0 means none: keep it so */
		if (uh->check || p->family == LBD_AF_INET6)
			l4sum = &uh->check;
		dport = &uh->dest;
	} else if (p->proto == IPPROTO_ICMPV6) {
		/* the pseudo-header holds the destination */
		struct icmp6hdr *ih = pkt_at(data, p->l4_off);

		if ((void *)(ih + 1) > data_end)
			return -1;
		l4sum = &ih->icmp6_cksum;
	}

	if (p->family == LBD_AF_INET) {
		struct iphdr *ip = pkt_at(data, p->l3_off);

		if ((void *)(ip + 1) > data_end)
			return -1;
		csum_replace4(&ip->check, ip->daddr, be->addr.v4);
		if (l4sum && p->proto != IPPROTO_ICMP)
			csum_replace4(l4sum, ip->daddr, be->addr.v4);
		ip->daddr = be->addr.v4;
	} else {
		struct ipv6hdr *ip6 = pkt_at(data, p->l3_off);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
#pragma unroll
		for (i = 0; i < 4; i++) {
			__be32 old = ip6->daddr.in6_u.u6_addr32[i];

			if (l4sum)
				csum_replace4(l4sum, old, be->addr.v6[i]);
			ip6->daddr.in6_u.u6_addr32[i] = be->addr.v6[i];
		}
	}
	if (dport) {
		if (l4sum)
			csum_replace2(l4sum, *dport, be->port);
		*dport = be->port;
	}
	if (l4sum && p->proto == IPPROTO_UDP)
		csum_udp_fix(l4sum);
	return 0;
}

#endif /* LBD_LB_TRANSLATE_H */
