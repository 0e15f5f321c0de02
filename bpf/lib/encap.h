/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Direct server return encapsulations.
 *
 * IPIP (IPv4 in IPv4), IP6IP6 and 4-in-6 carry the client's packet
 * unchanged: its destination stays the VIP, which the backend owns.
 *
 * Geneve carries it as Cilium's backends expect (RFC 8926 with Cilium's
 * DSR option): outer UDP to 6081 with checksum 0 and a source port from
 * the flow hash; version 0, the C flag (the option is critical), protocol
 * 0x6558 with an inner Ethernet frame, VNI 2; one option of class 0x014B,
 * type 0x81 holding the VIP and the service port, on every packet so that
 * a backend that lost its state heals on the next one. The inner packet is
 * translated to the backend's address and port.
 *
 * The received L2 header (VLAN tags included) is replaced by a fresh
 * untagged Ethernet header for the next hop; the inner Ethernet header of
 * Geneve repeats those addresses. Outer IPv4 copies the inner DF bit and
 * uses ID 0; outer IPv6 takes its flow label from the flow hash. Ethernet
 * padding after the IP packet is dropped first.
 *
 * With flow state on the backends (docs/flow-state.md) both carry lbd's
 * second-chance option naming the slot's previous owner: after Cilium's
 * option in Geneve, and for IPIP services in Geneve whose protocol is
 * the inner packet's, untranslated and without inner Ethernet
 * (encap_ipsc).
 *
 * Written once for the LB's XDP program, its tc health-check program
 * (lb/hc.bpf.c) and the node role's NIC path (node/nic.h), against struct
 * lbd_ctx: the entry file includes lib/ctx_xdp.h or ctx_skb.h first. The
 * outer source is the caller's (the LB's knobs, lb/encap_src.h; the
 * node's address on the NIC the route leaves by).
 */
#ifndef LBD_BPF_ENCAP_H
#define LBD_BPF_ENCAP_H

#include "lib/csum.h"
#include "lib/parse.h"

#define LBD_ENCAP_TTL 64

static __always_inline __u16 sc_opt_len(__u8 family)
{
	return family == LBD_AF_INET ? LBD_SC4_OPT_LEN : LBD_SC6_OPT_LEN;
}

/* What the outer headers are, for an skb (ctx_encap_room). */
static __always_inline __u64 encap_flags(__u8 outer_family, bool geneve)
{
	__u64 f = outer_family == LBD_AF_INET ? BPF_F_ADJ_ROOM_ENCAP_L3_IPV4
					      : BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;

	if (geneve)
		f |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
		     BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN) |
		     BPF_F_ADJ_ROOM_ENCAP_L2_ETH;
	return f;
}

/* Writes lbd's option at opt (its room checked by the caller), one
 * function a family: the verifier then knows the room it needs. */
static __always_inline void write_sc_opt4(struct lbd_geneve_sc4 *o,
					  const struct lbd_sc *sc)
{
	o->hdr.opt_class = bpf_htons(LBD_GENEVE_SC_CLASS);
	o->hdr.type = LBD_GENEVE_SC_TYPE;
	o->hdr.length = (LBD_SC4_OPT_LEN - 4) / 4;
	o->flags = sc->flags;
	o->pad = 0;
	o->prev_port = sc->prev_port;
	o->prev = sc->prev.v4;
}

static __always_inline void write_sc_opt6(struct lbd_geneve_sc6 *o,
					  const struct lbd_sc *sc)
{
	o->hdr.opt_class = bpf_htons(LBD_GENEVE_SC_CLASS);
	o->hdr.type = LBD_GENEVE_SC_TYPE;
	o->hdr.length = (LBD_SC6_OPT_LEN - 4) / 4;
	o->flags = sc->flags;
	o->pad = 0;
	o->prev_port = sc->prev_port;
	__builtin_memcpy(&o->prev, &sc->prev, 16);
}

/* The Geneve header and outer UDP of lbd's formats (RFC 8926 section
 * 3.3: a source port from the flow hash in the ephemeral range, checksum
 * 0, the inner packet has its own). */
static __always_inline void write_geneve(struct udphdr *uh,
					 struct lbd_genevehdr *gh,
					 __u16 udp_len, __u16 opt_len,
					 __u8 flags, __u16 proto, __u32 hash)
{
	uh->source = bpf_htons(0xc000 | (hash & 0x3fff));
	uh->dest = bpf_htons(LBD_GENEVE_PORT);
	uh->len = bpf_htons(udp_len);
	uh->check = 0;
	gh->opt_len = opt_len / 4;
	gh->flags = flags;
	gh->proto = bpf_htons(proto);
	gh->vni = bpf_htonl(LBD_GENEVE_VNI << 8);
}

static __always_inline void write_eth(struct ethhdr *eth,
				      const struct lbd_nh *nh, __u16 proto)
{
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(proto);
}

static __always_inline void write_ip4(struct iphdr *ip, __be32 src,
				      __be32 dst, __u8 proto, __u16 tot_len,
				      const struct lbd_pkt *p)
{
	*(__u8 *)ip = 0x45;
	ip->tos = p->family == LBD_AF_INET ? p->tos : 0;
	ip->tot_len = bpf_htons(tot_len);
	ip->id = 0;
	ip->frag_off = bpf_htons(p->frag & LBD_IP_DF);
	ip->ttl = LBD_ENCAP_TTL;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = src;
	ip->daddr = dst;
	ip->check = ip4_csum20(ip);
}

static __always_inline void write_ip6(struct ipv6hdr *ip6,
				      const union lbd_addr *src,
				      const union lbd_addr *dst, __u8 nexthdr,
				      __u16 payload_len, __u32 hash,
				      const struct lbd_pkt *p)
{
	*(__be32 *)ip6 = bpf_htonl((6u << 28) | ((__u32)p->tos << 20) |
				   (hash & 0xfffff));
	ip6->payload_len = bpf_htons(payload_len);
	ip6->nexthdr = nexthdr;
	ip6->hop_limit = LBD_ENCAP_TTL;
	__builtin_memcpy(&ip6->saddr, src->v6, 16);
	__builtin_memcpy(&ip6->daddr, dst->v6, 16);
}

/* IPIP, IP6IP6 or 4-in-6, by the families of the packet and backend. */
static __always_inline int encap_ipip(struct lbd_ctx *ctx,
				      const struct lbd_pkt *p,
				      const union lbd_addr *src,
				      const struct lbd_backend *be,
				      const struct lbd_nh *nh,
				      __u32 hash)
{
	void *data, *data_end;
	struct ethhdr *eth;

	if (be->family == LBD_AF_INET) {
		struct iphdr *ip;

		if (ctx_encap_room(ctx, p, ETH_HLEN + sizeof(*ip),
				   encap_flags(LBD_AF_INET, false)))
			return -1;
		data = ctx_data(ctx);
		data_end = ctx_data_end(ctx);
		eth = data;
		ip = data + ETH_HLEN;
		if ((void *)(ip + 1) > data_end)
			return -1;
		write_eth(eth, nh, ETH_P_IP);
		write_ip4(ip, src->v4, be->addr.v4, IPPROTO_IPIP,
			  p->ip_len + sizeof(*ip), p);
		return 0;
	} else {
		struct ipv6hdr *ip6;

		if (ctx_encap_room(ctx, p, ETH_HLEN + sizeof(*ip6),
				   encap_flags(LBD_AF_INET6, false)))
			return -1;
		data = ctx_data(ctx);
		data_end = ctx_data_end(ctx);
		eth = data;
		ip6 = data + ETH_HLEN;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		write_eth(eth, nh, ETH_P_IPV6);
		write_ip6(ip6, src, &be->addr,
			  p->family == LBD_AF_INET ? IPPROTO_IPIP
						   : IPPROTO_IPV6,
			  p->ip_len, hash, p);
		return 0;
	}
}

#define GENEVE4_OPT_LEN sizeof(struct lbd_geneve_dsr4)
#define GENEVE6_OPT_LEN sizeof(struct lbd_geneve_dsr6)

/*
 * Geneve from src to dst (the backend, or the node that routes to it),
 * the option naming the VIP and service port. The inner packet must
 * already be translated to the backend's address and port. The outer
 * family is the packet's: Geneve does not change families.
 */
static __always_inline int encap_geneve(struct lbd_ctx *ctx,
					const struct lbd_pkt *p,
					const union lbd_addr *vip,
					__be16 svc_port,
					const union lbd_addr *src,
					const union lbd_addr *dst,
					const struct lbd_nh *nh,
					__u32 hash, const struct lbd_sc *sc)
{
	__u16 opt_len = (p->family == LBD_AF_INET ? GENEVE4_OPT_LEN
						   : GENEVE6_OPT_LEN) +
			(sc ? sc_opt_len(p->family) : 0);
	__u16 ip_hlen = p->family == LBD_AF_INET ? sizeof(struct iphdr)
						  : sizeof(struct ipv6hdr);
	__u16 udp_len = sizeof(struct udphdr) + sizeof(struct lbd_genevehdr) +
			opt_len + ETH_HLEN + p->ip_len;
	void *data, *data_end;
	struct lbd_genevehdr *gh;
	struct ethhdr *eth, *ieth;
	struct udphdr *uh;
	void *opt;

	if (ctx_encap_room(ctx, p, ETH_HLEN + ip_hlen + udp_len - p->ip_len,
			   encap_flags(p->family, true)))
		return -1;
	data = ctx_data(ctx);
	data_end = ctx_data_end(ctx);
	eth = data;

	if (p->family == LBD_AF_INET) {
		struct iphdr *ip = data + ETH_HLEN;

		uh = (void *)(ip + 1);
		gh = (void *)(uh + 1);
		opt = gh + 1;
		ieth = opt + opt_len;
		if ((void *)(ieth + 1) > data_end)
			return -1;
		write_eth(eth, nh, ETH_P_IP);
		write_ip4(ip, src->v4, dst->v4, IPPROTO_UDP,
			  sizeof(*ip) + udp_len, p);
		{
			struct lbd_geneve_dsr4 *o = opt;

			o->hdr.opt_class = bpf_htons(LBD_GENEVE_OPT_CLASS);
			o->hdr.type = LBD_GENEVE_OPT_TYPE;
			o->hdr.length = (GENEVE4_OPT_LEN - 4) / 4;
			o->vip = vip->v4;
			o->port = svc_port;
			o->pad = 0;
			if (sc) {
				struct lbd_geneve_sc4 *so = (void *)(o + 1);

				if ((void *)(so + 1) > data_end)
					return -1;
				write_sc_opt4(so, sc);
			}
		}
	} else {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		uh = (void *)(ip6 + 1);
		gh = (void *)(uh + 1);
		opt = gh + 1;
		ieth = opt + opt_len;
		if ((void *)(ieth + 1) > data_end)
			return -1;
		write_eth(eth, nh, ETH_P_IPV6);
		write_ip6(ip6, src, dst, IPPROTO_UDP, udp_len, hash, p);
		{
			struct lbd_geneve_dsr6 *o = opt;

			o->hdr.opt_class = bpf_htons(LBD_GENEVE_OPT_CLASS);
			o->hdr.type = LBD_GENEVE_OPT_TYPE;
			o->hdr.length = (GENEVE6_OPT_LEN - 4) / 4;
			__builtin_memcpy(&o->vip, vip, 16);
			o->port = svc_port;
			o->pad = 0;
			if (sc) {
				struct lbd_geneve_sc6 *so = (void *)(o + 1);

				if ((void *)(so + 1) > data_end)
					return -1;
				write_sc_opt6(so, sc);
			}
		}
	}
	write_geneve(uh, gh, udp_len, opt_len, LBD_GENEVE_F_CRITICAL,
		     LBD_GENEVE_PROTO_ETH, hash);
	__builtin_memcpy(ieth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(ieth->h_source, nh->smac, ETH_ALEN);
	ieth->h_proto = bpf_htons(p->family == LBD_AF_INET ? ETH_P_IP
							    : ETH_P_IPV6);
	return 0;
}

/*
 * An IPIP service's packet with flow state on the backends: Geneve whose
 * protocol is the inner packet's, the client's IP packet unchanged after
 * lbd's option (no inner Ethernet, no DSR option, no C flag), outer of
 * the backend's family as with IPIP.
 */
static __always_inline int encap_ipsc(struct lbd_ctx *ctx,
				      const struct lbd_pkt *p,
				      const union lbd_addr *src,
				      const struct lbd_backend *be,
				      const struct lbd_nh *nh, __u32 hash,
				      const struct lbd_sc *sc)
{
	__u16 opt_len = sc_opt_len(be->family);
	__u16 ip_hlen = be->family == LBD_AF_INET ? sizeof(struct iphdr)
						   : sizeof(struct ipv6hdr);
	__u16 udp_len = sizeof(struct udphdr) + sizeof(struct lbd_genevehdr) +
			opt_len + p->ip_len;
	__u16 proto = p->family == LBD_AF_INET ? ETH_P_IP : ETH_P_IPV6;
	void *data, *data_end, *opt;
	struct lbd_genevehdr *gh;
	struct udphdr *uh;
	struct ethhdr *eth;

	if (ctx_encap_room(ctx, p, ETH_HLEN + ip_hlen + udp_len - p->ip_len,
			   encap_flags(be->family, true) &
				   ~(BPF_F_ADJ_ROOM_ENCAP_L2(ETH_HLEN) |
				     BPF_F_ADJ_ROOM_ENCAP_L2_ETH)))
		return -1;
	data = ctx_data(ctx);
	data_end = ctx_data_end(ctx);
	eth = data;
	if (be->family == LBD_AF_INET) {
		struct iphdr *ip = data + ETH_HLEN;

		uh = (void *)(ip + 1);
		gh = (void *)(uh + 1);
		opt = gh + 1;
		if (opt + LBD_SC4_OPT_LEN > data_end)
			return -1;
		write_eth(eth, nh, ETH_P_IP);
		write_ip4(ip, src->v4, be->addr.v4, IPPROTO_UDP,
			  sizeof(*ip) + udp_len, p);
		write_sc_opt4(opt, sc);
	} else {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		uh = (void *)(ip6 + 1);
		gh = (void *)(uh + 1);
		opt = gh + 1;
		if (opt + LBD_SC6_OPT_LEN > data_end)
			return -1;
		write_eth(eth, nh, ETH_P_IPV6);
		write_ip6(ip6, src, &be->addr, IPPROTO_UDP, udp_len, hash, p);
		write_sc_opt6(opt, sc);
	}
	write_geneve(uh, gh, udp_len, opt_len, 0, proto, hash);
	return 0;
}

#endif /* LBD_BPF_ENCAP_H */
