/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Replies of Geneve-forwarded flows (tc egress on the backend): their
 * source, the backend's address and port, becomes the VIP and service
 * port again, so the client sees the address it connected to; the reply
 * then leaves by the backend's own route, not through the LB.
 *
 * Rewritten with the skb helpers: the kernel keeps checksums right for
 * every checksum state (CHECKSUM_PARTIAL of locally sent TCP included).
 */
#ifndef LBD_TC_RESTORE_H
#define LBD_TC_RESTORE_H

#include <stddef.h>

#include "lbd/bpf/ctx.h"
#include "lbd/bpf/parse.h"
#include "maps.h"

static __always_inline int restore_source(struct __sk_buff *skb,
					  const struct lbd_pkt *p,
					  struct lbd_gnv_flow *f)
{
	__u32 l4sum = p->l4_off + (p->proto == IPPROTO_TCP
					   ? offsetof(struct tcphdr, check)
					   : offsetof(struct udphdr, check));
	/* a UDP checksum of 0 means none and must stay so */
	__u64 csum_flags = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	int i;

	if (p->family == LBD_AF_INET) {
		__u32 saddr = p->l3_off + offsetof(struct iphdr, saddr);
		__u32 ipsum = p->l3_off + offsetof(struct iphdr, check);

		if (bpf_l4_csum_replace(skb, l4sum, p->saddr.v4, f->vip.v4,
					csum_flags | BPF_F_PSEUDO_HDR | 4) ||
		    bpf_l3_csum_replace(skb, ipsum, p->saddr.v4, f->vip.v4,
					4) ||
		    bpf_skb_store_bytes(skb, saddr, &f->vip.v4, 4, 0))
			return -1;
	} else {
		__u32 saddr = p->l3_off + offsetof(struct ipv6hdr, saddr);

#pragma unroll
		for (i = 0; i < 4; i++)
			if (bpf_l4_csum_replace(skb, l4sum, p->saddr.v6[i],
						f->vip.v6[i],
						csum_flags | BPF_F_PSEUDO_HDR |
							4))
				return -1;
		if (bpf_skb_store_bytes(skb, saddr, &f->vip, 16, 0))
			return -1;
	}
	if (bpf_l4_csum_replace(skb, l4sum, p->sport, f->port, csum_flags | 2) ||
	    bpf_skb_store_bytes(skb, p->l4_off, &f->port, 2, 0))
		return -1;
	return 0;
}

static __always_inline int restore_reply(struct __sk_buff *skb,
					 const struct lbd_pkt *p)
{
	struct lbd_gnv_key key = {
		.client = p->daddr,
		.backend = p->saddr,
		.client_port = p->dport,
		.backend_port = p->sport,
		.proto = p->proto,
		.family = p->family,
	};
	struct lbd_gnv_flow *f, copy;
	__u32 now = be_now();

	f = bpf_map_lookup_elem(&lbd_be_flows, &key);
	if (!f)
		return TC_ACT_OK;
	if (clock_idle_over(now, f->last_seen, be_knobs.flow_timeout)) {
		bpf_map_delete_elem(&lbd_be_flows, &key);
		return TC_ACT_OK;
	}
	if (f->last_seen != now)
		f->last_seen = now;
	copy = *f;
	if (restore_source(skb, p, &copy))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_DECAP, skb->len);
	return be_verdict(TC_ACT_OK, LBD_BE_REPLY_RESTORED, skb->len);
}

#endif /* LBD_TC_RESTORE_H */
