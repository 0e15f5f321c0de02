/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Decapsulation on the backend (tc ingress): IPIP, IP6IP6, 4-in-6 and
 * Geneve in both of its forms as lbd's XDP program sends them
 * (lib/encap.h). The outer headers go; the inner packet continues up the
 * local stack. For Cilium's form the DSR option's VIP and port are
 * recorded for the flow, from every packet that carries it, so the
 * reply's source can be restored (restore.h).
 */
#ifndef LBD_BACKEND_DECAP_H
#define LBD_BACKEND_DECAP_H

#include "lib/ctx.h"
#include "lib/parse.h"
#include "maps.h"

/* Geneve options looked at before giving up (lbd sends one or two). */
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

/*
 * A Geneve packet as the companion sees it, in one of two forms
 * (docs/flow-state.md, "On the wire"):
 *  - Cilium's: protocol 0x6558, inner Ethernet, the inner packet
 *    translated to backend:port, Cilium's DSR option with the VIP and
 *    port; in flow_state "backends" lbd's option after it;
 *  - lbd's untranslated one: protocol 0x0800 or 0x86DD, the client's IP
 *    packet right after the options, lbd's option only.
 */
struct gnv_pkt {
	union lbd_addr vip; /* DSR option */
	union lbd_addr prev; /* lbd's option: the previous owner */
	__be16 port; /* DSR option */
	__be16 prev_port;
	__u16 inner_off; /* the inner IP header */
	__u16 sc_off; /* lbd's option, 0: none */
	__u8 inner; /* the inner family */
	__u8 eth; /* Cilium's form: an inner Ethernet header */
	__u8 dsr; /* the DSR option was there */
	__u8 sc_flags; /* LBD_SC_F_* of lbd's option, 0 without it */
};

/* Cilium's DSR option, whose address has the inner family. 0, or -1 for
 * a length that does not fit it. */
static __always_inline int gnv_dsr_opt(void *data, void *data_end,
				       struct lbd_geneve_opt *o, __u16 olen,
				       struct gnv_pkt *g)
{
	if (g->inner == LBD_AF_INET && olen == sizeof(struct lbd_geneve_dsr4)) {
		struct lbd_geneve_dsr4 *d = (void *)o;

		if ((void *)(d + 1) > data_end)
			return -1;
		g->vip.v4 = d->vip;
		g->port = d->port;
	} else if (g->inner == LBD_AF_INET6 &&
		   olen == sizeof(struct lbd_geneve_dsr6)) {
		struct lbd_geneve_dsr6 *d = (void *)o;

		if ((void *)(d + 1) > data_end)
			return -1;
		__builtin_memcpy(&g->vip, &d->vip, 16);
		g->port = d->port;
	} else {
		return -1;
	}
	g->dsr = 1;
	return 0;
}

/* lbd's option, whose address has the outer family. One of another
 * length is ignored, as an option the companion does not know would be
 * (it is not critical): the packet is then delivered here. */
static __always_inline void gnv_sc_opt(void *data, void *data_end,
				       struct lbd_geneve_opt *o, __u16 olen,
				       __u16 off, __u8 outer, struct gnv_pkt *g)
{
	if (outer == LBD_AF_INET && olen == sizeof(struct lbd_geneve_sc4)) {
		struct lbd_geneve_sc4 *sc = (void *)o;

		if ((void *)(sc + 1) > data_end)
			return;
		g->prev.v4 = sc->prev;
		g->prev_port = sc->prev_port;
		g->sc_flags = sc->flags;
	} else if (outer == LBD_AF_INET6 &&
		   olen == sizeof(struct lbd_geneve_sc6)) {
		struct lbd_geneve_sc6 *sc = (void *)o;

		if ((void *)(sc + 1) > data_end)
			return;
		__builtin_memcpy(&g->prev, &sc->prev, 16);
		g->prev_port = sc->prev_port;
		g->sc_flags = sc->flags;
	} else {
		return;
	}
	g->sc_off = off;
}

/* Walks the Geneve options at [off, off + len): Cilium's DSR option and
 * lbd's. 0, or -1 for a critical option that is not Cilium's DSR option
 * or one that is malformed (RFC 8926 section 3.5.1: such packets are
 * dropped). */
static __always_inline int geneve_opts(struct __sk_buff *skb, __u16 off,
				       __u16 len, __u8 outer, struct gnv_pkt *g)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	__u16 end = off + len;
	int i;

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
			if (gnv_dsr_opt(data, data_end, o, olen, g))
				return -1;
		} else if (o->opt_class == bpf_htons(LBD_GENEVE_SC_CLASS) &&
			   o->type == LBD_GENEVE_SC_TYPE) {
			gnv_sc_opt(data, data_end, o, olen, off, outer, g);
		} else if (o->type & 0x80) {
			return -1;
		}
		off += olen;
	}
	return 0;
}

/*
 * Parses the Geneve header, options and inner IP header (into in, and its
 * TCP/UDP ports when it has them) of the packet p describes. 0, or the
 * reason to drop it.
 */
static __always_inline int geneve_parse(struct __sk_buff *skb,
					const struct lbd_pkt *p,
					struct gnv_pkt *g, struct lbd_pkt *in)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	struct lbd_genevehdr *gh = pkt_at(data, p->l4_off + 8);
	__u16 optlen, opts_off;
	__be16 proto;

	if ((void *)(gh + 1) > data_end || (gh->opt_len >> 6) != 0)
		return LBD_BE_DROP_MALFORMED;
	optlen = (gh->opt_len & 0x3f) * 4;
	opts_off = p->l4_off + 8 + sizeof(*gh);
	g->inner_off = opts_off + optlen;
	proto = gh->proto;
	if (proto == bpf_htons(LBD_GENEVE_PROTO_ETH)) {
		struct ethhdr *ieth = pkt_at(data, g->inner_off);

		if ((void *)(ieth + 1) > data_end)
			return LBD_BE_DROP_MALFORMED;
		proto = ieth->h_proto;
		g->eth = 1;
		g->inner_off += ETH_HLEN;
	}
	if (proto == bpf_htons(ETH_P_IP))
		g->inner = LBD_AF_INET;
	else if (proto == bpf_htons(ETH_P_IPV6))
		g->inner = LBD_AF_INET6;
	else
		return LBD_BE_DROP_MALFORMED;

	if (geneve_opts(skb, opts_off, optlen, p->family, g))
		return LBD_BE_DROP_GENEVE_OPT;

	data = ctx_data(skb);
	data_end = ctx_data_end(skb);
	in->l3_off = g->inner_off;
	if ((g->inner == LBD_AF_INET ?
		     parse_ip4(data, data_end, skb->len, in) :
		     parse_ip6(data, data_end, skb->len, in)) != LBD_OK)
		return LBD_BE_DROP_MALFORMED;
	if ((in->proto == IPPROTO_TCP || in->proto == IPPROTO_UDP) &&
	    parse_l4(data, data_end, in) != LBD_OK)
		in->proto = 0; /* delivered as it is; nothing to record */
	return 0;
}

/*
 * Delivers a Geneve packet here: the outer headers (and Cilium's inner
 * Ethernet header) go, counted as reason. For Cilium's form the DSR
 * option's VIP and port are recorded for the inner flow, as the replies
 * will match it, from every packet that carries it.
 */
static __always_inline int decap_geneve(struct __sk_buff *skb,
					const struct lbd_pkt *p,
					const struct gnv_pkt *g,
					const struct lbd_pkt *in,
					enum lbd_reason reason)
{
	if (g->eth && g->dsr &&
	    (in->proto == IPPROTO_TCP || in->proto == IPPROTO_UDP)) {
		struct lbd_gnv_flow flow = {
			.vip = g->vip,
			.port = g->port,
			.last_seen = be_now(),
		};
		struct lbd_gnv_key key = {
			.client = in->saddr,
			.backend = in->daddr,
			.client_port = in->sport,
			.backend_port = in->dport,
			.proto = in->proto,
			.family = g->inner,
		};

		bpf_map_update_elem(&lbd_be_flows, &key, &flow, BPF_ANY);
	}
	if (decap_strip(skb, p, g->inner_off - p->l3_off, g->inner))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_DECAP, skb->len);
	return be_verdict(TC_ACT_OK, reason, skb->len);
}

#endif /* LBD_BACKEND_DECAP_H */
