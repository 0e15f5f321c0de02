/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Decapsulation on the backend (tc ingress): IPIP, IP6IP6, 4-in-6 and
 * Geneve as lbd's XDP program sends them (xdp/encap.h). The outer headers
 * go; the inner packet continues up the local stack. For Geneve the DSR
 * option's VIP and port are recorded for the flow, from every packet that
 * carries it, so the reply's source can be restored (restore.h).
 */
#ifndef LBD_TC_DECAP_H
#define LBD_TC_DECAP_H

#include "lbd/bpf/ctx.h"
#include "lbd/bpf/parse.h"
#include "maps.h"

/* Geneve options looked at before giving up (lbd sends one). */
#define LBD_GENEVE_MAX_OPTS 8

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
/* kernel 6.3 uapi; Debian 12's headers predate it */
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV6 (1ULL << 8)
#endif

/* Removes len bytes after the L2 header; the inner packet is of family
 * inner (outer->family is the outer one). */
static __always_inline int decap_strip(struct __sk_buff *skb,
				       const struct lbd_pkt *outer,
				       __u32 len, __u8 inner)
{
	__be16 proto = bpf_htons(inner == LBD_AF_INET ? ETH_P_IP
						       : ETH_P_IPV6);
	__u64 flags = 0;

	if (inner != outer->family)
		flags = inner == LBD_AF_INET ? BPF_F_ADJ_ROOM_DECAP_L3_IPV4
					     : BPF_F_ADJ_ROOM_DECAP_L3_IPV6;
	if (bpf_skb_adjust_room(skb, -(__s32)len, BPF_ADJ_ROOM_MAC, flags))
		return -1;
	/* the Ethernet (or last VLAN) type now announces the inner L3 */
	if (bpf_skb_store_bytes(skb, outer->l3_off - 2, &proto, sizeof(proto),
				0))
		return -1;
	return 0;
}

static __always_inline int decap_ipip(struct __sk_buff *skb,
				      const struct lbd_pkt *p)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	__u8 inner = p->proto == IPPROTO_IPIP ? LBD_AF_INET : LBD_AF_INET6;
	__u8 *ih = pkt_at(data, p->l4_off);

	if ((void *)(ih + (inner == LBD_AF_INET ? 20 : 40)) > data_end ||
	    (*ih >> 4) != (inner == LBD_AF_INET ? 4 : 6))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_MALFORMED,
				  skb->len);
	if (decap_strip(skb, p, p->l4_off - p->l3_off, inner))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_DECAP, skb->len);
	return be_verdict(TC_ACT_OK, LBD_BE_DECAP_IPIP, skb->len);
}

/* Finds lbd's DSR option among the Geneve options at [off, off + len):
 * fills vip/port and returns 1; 0 without it; -1 for a critical option
 * that is not lbd's (RFC 8926 section 3.5.1: such packets are dropped). */
static __always_inline int geneve_dsr_opt(struct __sk_buff *skb, __u16 off,
					  __u16 len, __u8 family,
					  union lbd_addr *vip, __be16 *port)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	__u16 end = off + len;
	int i, found = 0;

#pragma unroll
	for (i = 0; i < LBD_GENEVE_MAX_OPTS; i++) {
		struct lbd_geneve_opt *o = pkt_at(data, off);
		__u16 olen;

		if (off >= end)
			break;
		if ((void *)(o + 1) > data_end)
			return -1;
		olen = 4 + (o->length & 0x1f) * 4;
		if (o->opt_class == bpf_htons(LBD_GENEVE_OPT_CLASS) &&
		    o->type == LBD_GENEVE_OPT_TYPE) {
			if (family == LBD_AF_INET &&
			    olen == sizeof(struct lbd_geneve_dsr4)) {
				struct lbd_geneve_dsr4 *d = (void *)o;

				if ((void *)(d + 1) > data_end)
					return -1;
				vip->v4 = d->vip;
				*port = d->port;
				found = 1;
			} else if (family == LBD_AF_INET6 &&
				   olen == sizeof(struct lbd_geneve_dsr6)) {
				struct lbd_geneve_dsr6 *d = (void *)o;

				if ((void *)(d + 1) > data_end)
					return -1;
				__builtin_memcpy(vip, &d->vip, 16);
				*port = d->port;
				found = 1;
			} else {
				return -1;
			}
		} else if (o->type & 0x80) {
			return -1;
		}
		off += olen;
	}
	return found;
}

static __always_inline int decap_geneve(struct __sk_buff *skb,
					const struct lbd_pkt *p)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	struct lbd_genevehdr *gh = pkt_at(data, p->l4_off + 8);
	struct lbd_gnv_flow flow = {};
	struct lbd_gnv_key key = {};
	struct lbd_pkt in = {};
	struct ethhdr *ieth;
	__u16 optlen, ieth_off;
	__u8 inner;
	int r;

	if ((void *)(gh + 1) > data_end || (gh->opt_len >> 6) != 0 ||
	    gh->proto != bpf_htons(LBD_GENEVE_PROTO_ETH))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_MALFORMED,
				  skb->len);
	optlen = (gh->opt_len & 0x3f) * 4;
	ieth_off = p->l4_off + 8 + sizeof(*gh) + optlen;
	ieth = pkt_at(data, ieth_off);
	if ((void *)(ieth + 1) > data_end)
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_MALFORMED,
				  skb->len);
	if (ieth->h_proto == bpf_htons(ETH_P_IP))
		inner = LBD_AF_INET;
	else if (ieth->h_proto == bpf_htons(ETH_P_IPV6))
		inner = LBD_AF_INET6;
	else
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_MALFORMED,
				  skb->len);

	r = geneve_dsr_opt(skb, p->l4_off + 8 + sizeof(*gh), optlen, inner,
			   &flow.vip, &flow.port);
	if (r < 0)
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_GENEVE_OPT,
				  skb->len);

	/* the inner flow, as the replies will match it */
	in.l3_off = ieth_off + ETH_HLEN;
	if ((inner == LBD_AF_INET ? parse_ip4(data, data_end, skb->len, &in)
				  : parse_ip6(data, data_end, skb->len, &in)) != LBD_OK)
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_MALFORMED,
				  skb->len);
	if (r == 1 && (in.proto == IPPROTO_TCP || in.proto == IPPROTO_UDP) &&
	    parse_l4(data, data_end, &in) == LBD_OK) {
		key.client = in.saddr;
		key.backend = in.daddr;
		key.client_port = in.sport;
		key.backend_port = in.dport;
		key.proto = in.proto;
		key.family = inner;
		flow.last_seen = be_now();
		bpf_map_update_elem(&lbd_be_flows, &key, &flow, BPF_ANY);
	}

	if (decap_strip(skb, p, ieth_off + ETH_HLEN - p->l3_off, inner))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_DECAP, skb->len);
	return be_verdict(TC_ACT_OK, LBD_BE_DECAP_GENEVE, skb->len);
}

#endif /* LBD_TC_DECAP_H */
