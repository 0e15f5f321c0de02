/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * SNAT forwarding, both directions, for backends that need no companion:
 *
 *   client:cport -> VIP:vport   becomes   snat:lport -> backend:bport
 *   backend:bport -> snat:lport becomes   VIP:vport -> client:cport
 *
 * snat is the LB's source address of the family (knobs.snat_src4/6) and
 * lport a port of knobs.snat_port_min..max chosen per flow. The forward
 * direction's conntrack entry keeps lport; lbd_nat4/6 map the reverse
 * direction back. A port is taken with BPF_NOEXIST, so two flows never
 * share one; a port whose entry aged out is taken over; after
 * SNAT_TRIES taken ports the flow is dropped as snat_exhausted.
 *
 * ICMP errors are translated as a NAT must (RFC 5508): an error about a
 * translated packet reaches the other side with its quote translated
 * back, so PMTU discovery works through SNAT.
 */
#ifndef LBD_LB_NAT_H
#define LBD_LB_NAT_H

#include "lib/csum.h"
#include "lib/nat_rw.h"
#include "lib/parse.h"
#include "nexthop.h"
#include "icmp.h"
#include "maps.h"
#include "select.h"
#include "stats.h"


#define SNAT_TRIES 8

static __always_inline bool snat_source(__u8 family, union lbd_addr *a)
{
	int i;

	if (family == LBD_AF_INET) {
		a->v4 = knobs.snat_src4;
		return knobs.have_snat4;
	}
#pragma unroll
	for (i = 0; i < 4; i++)
		a->v6[i] = knobs.snat_src6.v6[i];
	return knobs.have_snat6;
}

/* Whether the packet is addressed to the SNAT source of its family, on a
 * port SNAT hands out: a reply (or an ICMP error) for the reverse map. */
static __always_inline bool to_snat(const struct lbd_pkt *p)
{
	if (p->family == LBD_AF_INET)
		return knobs.have_snat4 && p->daddr.v4 == knobs.snat_src4;
	return knobs.have_snat6 && p->daddr.v6[0] == knobs.snat_src6.v6[0] &&
	       p->daddr.v6[1] == knobs.snat_src6.v6[1] &&
	       p->daddr.v6[2] == knobs.snat_src6.v6[2] &&
	       p->daddr.v6[3] == knobs.snat_src6.v6[3];
}

static __always_inline bool snat_port(__be16 port)
{
	__u16 p = bpf_ntohs(port);

	return p >= knobs.snat_port_min && p <= knobs.snat_port_max;
}

/* The reverse map's key for backend:bport -> snat:lport: k4 or k6. */
static __always_inline void *nat_key(__u8 family, const union lbd_addr *be,
				     __be16 bport, __be16 lport, __u8 proto,
				     struct lbd_nat_key4 *k4,
				     struct lbd_nat_key6 *k6)
{
	if (family == LBD_AF_INET) {
		k4->backend = be->v4;
		k4->bport = bport;
		k4->lport = lport;
		k4->proto = proto;
		return k4;
	}
	k6->backend = *be;
	k6->bport = bport;
	k6->lport = lport;
	k6->proto = proto;
	return k6;
}

/* SNAT entries age as conntrack entries do (lbd/shared.h). */
static __always_inline __u32 nat_timeout(__u8 proto, __u16 flags)
{
	return lbd_ct_timeout(&knobs, proto, flags);
}

/*
 * The SNAT source port of the flow p to backend be: the one its
 * conntrack entry holds (its reverse entry refreshed, or made again if
 * the LRU took it), else a free one. 0 when none is free. The reverse
 * entry is looked at once a second (fresh: the flow's first packet of
 * the second), and on the client's FIN or RST, not on every packet.
 */
static __always_inline __be16 snat_port_for(const struct lbd_pkt *p,
					    const struct lbd_backend *be,
					    struct lbd_ct *ct, __u32 hash,
					    __u32 now, bool fresh)
{
	__u32 range = (__u32)knobs.snat_port_max - knobs.snat_port_min + 1;
	bool closing = p->proto == IPPROTO_TCP &&
		       (p->tcp_flags & (LBD_TCP_FIN | LBD_TCP_RST));
	struct lbd_nat_key4 k4 = {};
	struct lbd_nat_key6 k6 = {};
	struct lbd_nat val = {}, *n;
	void *key;
	__be16 lport;
	int i;

	val.client = p->saddr;
	val.vip = p->daddr;
	val.cport = p->sport;
	val.vport = p->dport;
	val.last_seen = now;
	val.flags = closing ? LBD_CT_F_CLOSING : 0;
	val.backend_id = ct ? ct->backend_id : 0;

	if (ct && ct->nat_port && !fresh && !closing)
		return ct->nat_port;
	if (ct && ct->nat_port) {
		key = nat_key(p->family, &be->addr, be->port, ct->nat_port,
			      p->proto, &k4, &k6);
		n = nat_find(p->family, key);
		if (n && n->cport == p->sport && addr_eq(&n->client, &p->saddr)) {
			if (n->last_seen != now)
				n->last_seen = now;
			if (closing && !(n->flags & LBD_CT_F_CLOSING))
				n->flags |= LBD_CT_F_CLOSING;
			return ct->nat_port;
		}
		/* its reverse entry was evicted: made again; or another
		 * flow took the port meanwhile: a new port */
		if (!n && !nat_store(p->family, key, &val, BPF_NOEXIST))
			return ct->nat_port;
	}
	if (!range || range > 65536)
		return 0;
	for (i = 0; i < SNAT_TRIES; i++) {
		/* steps by a prime: tries spread over the range */
		lport = bpf_htons(knobs.snat_port_min +
				  (hash + (__u32)i * 7919) % range);
		key = nat_key(p->family, &be->addr, be->port, lport, p->proto,
			      &k4, &k6);
		if (!nat_store(p->family, key, &val, BPF_NOEXIST))
			goto taken;
		n = nat_find(p->family, key);
		if (n &&
		    lbd_idle_over(now, n->last_seen,
				  nat_timeout(p->proto, n->flags)) &&
		    !nat_store(p->family, key, &val, BPF_EXIST))
			goto taken;
	}
	return 0;
taken:
	count_reason(LBD_EV_SNAT_NEW, 0);
	if (ct)
		ct->nat_port = lport;
	return lport;
}

/* Makes the L2 header a plain Ethernet header to the next hop: trailing
 * padding and VLAN tags go, as in ctx_encap_room. */
static __always_inline int l2_to_nexthop(struct xdp_md *ctx,
					 const struct lbd_pkt *p,
					 const struct lbd_nh *nh)
{
	int excess = (int)ctx_len(ctx) - (int)(p->l3_off + p->ip_len);
	struct ethhdr *eth;

	if (excess > 0 && bpf_xdp_adjust_tail(ctx, -excess))
		return -1;
	if (p->l3_off != ETH_HLEN &&
	    bpf_xdp_adjust_head(ctx, (int)p->l3_off - ETH_HLEN))
		return -1;
	eth = ctx_data(ctx);
	if ((void *)(eth + 1) > ctx_data_end(ctx))
		return -1;
	__builtin_memcpy(eth->h_dest, nh->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, nh->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(p->family == LBD_AF_INET ? ETH_P_IP
							   : ETH_P_IPV6);
	return 0;
}

/* LBD_OK when p may go to the next hop nh a lookup (result rc) gave, else
 * the verdict. */
static __always_inline int nat_route(struct xdp_md *ctx, struct lbd_pkt *p,
				     int rc, const struct lbd_nh *nh,
				     bool reply)
{
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		if (!nh)
			break;
		if (p->ip_len > nh->mtu)
			return send_toobig(ctx, p, nh->mtu);
		return LBD_OK;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		/* a reply passed to the kernel would meet no socket on its
		 * port and be answered with a reset: drop it instead */
		return reply ? verdict(XDP_DROP, LBD_DROP_NO_NEIGH,
				       ctx_len(ctx))
			     : verdict(XDP_PASS, LBD_PASS_NO_NEIGH,
				       ctx_len(ctx));
	}
	return verdict(XDP_DROP, LBD_DROP_NO_ROUTE, ctx_len(ctx));
}

/* The route towards dst from src into *nh; LBD_OK or the verdict. One
 * lookup with the packet's length: the kernel names the MTU when it is
 * too big, and fills the next hop otherwise. */
static __always_inline int nat_nexthop(struct xdp_md *ctx, struct lbd_pkt *p,
				       const union lbd_addr *src,
				       const union lbd_addr *dst,
				       struct lbd_nh *nh, bool reply)
{
	struct bpf_fib_lookup fib;
	int rc = fib_nexthop(ctx, ctx_ifindex(ctx), p->family, src, dst,
			     p->ip_len, &fib);

	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return send_toobig(ctx, p, fib.mtu_result);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		nh->ifindex = fib.ifindex;
		nh->mtu = p->ip_len; /* fits: the kernel checked */
		__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
		__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	}
	return nat_route(ctx, p, rc, nh, reply);
}

/*
 * The next hop of a SNAT reply from vip to client: from this CPU's cache
 * when it was resolved in the current second, else from the FIB, as
 * nexthop_cached does towards backends. LBD_OK with *out, or the verdict.
 */
static __always_inline int reply_nexthop(struct xdp_md *ctx, struct lbd_pkt *p,
					 const union lbd_addr *vip,
					 const union lbd_addr *client,
					 __u32 now, struct lbd_nh *out)
{
	struct lbd_reply_nh_key k = { .family = p->family };
	struct lbd_nh *nh, fresh = {};
	int rc;

	k.vip = *vip;
	k.client = *client;
	nh = bpf_map_lookup_elem(&lbd_reply_nh, &k);
	if (!nh) {
		bpf_map_update_elem(&lbd_reply_nh, &k, &fresh, BPF_NOEXIST);
		nh = bpf_map_lookup_elem(&lbd_reply_nh, &k);
		if (!nh) /* the cache is full on every CPU's LRU list */
			return nat_nexthop(ctx, p, vip, client, out, true);
	}
	if (nh->stamp != now) {
		nh->stamp = 0;
		rc = nexthop_lookup(ctx, ctx_ifindex(ctx), p->family, vip,
				    client, nh);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return nat_route(ctx, p, rc, NULL, true);
		nh->stamp = now;
	}
	*out = *nh;
	return nat_route(ctx, p, BPF_FIB_LKUP_RET_SUCCESS, out, true);
}

/* client:cport -> VIP:vport to snat:lport -> backend:bport, to the
 * backend c chose. */
static __always_inline int snat_forward(struct xdp_md *ctx, struct lbd_pkt *p,
					const struct lbd_choice *c)
{
	const struct lbd_backend *be = c->be;
	const struct lbd_nh *nh = NULL;
	struct lbd_rw rw = {};
	union lbd_addr snat = {};
	__be16 lport;
	int r;

	if (be->family != p->family || !snat_source(p->family, &snat))
		return verdict(XDP_DROP, LBD_DROP_BACKEND_FAMILY,
			       ctx_len(ctx));
	r = nexthop_cached(ctx, c->id, be, &snat, c->now, &nh);
	r = nat_route(ctx, p, r, nh, false);
	if (r != LBD_OK || !nh)
		return r;
	lport = snat_port_for(p, be, c->ct, flow_hash(p), c->now, c->fresh);
	if (!lport)
		return verdict(XDP_DROP, LBD_DROP_SNAT_EXHAUSTED, ctx_len(ctx));
	rw.saddr = snat;
	rw.daddr = be->addr;
	rw.sport = lport;
	rw.dport = be->port;
	rw.set_saddr = rw.set_daddr = rw.set_sport = rw.set_dport = true;
	if (rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		    pkt_ip_end(p), &rw, NULL) ||
	    l2_to_nexthop(ctx, p, nh))
		return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
	count_reason(LBD_EV_SNAT_FWD, ctx_len(ctx));
	return tx(ctx, nh->ifindex);
}

/* The client's conntrack entry, refreshed by its replies (a download
 * must not age out the flow that carries it). */
static __always_inline void ct_refresh(const struct lbd_nat *n, __u8 family,
				       __u8 proto, __u32 now)
{
	struct lbd_ct_key4 k4 = {};
	struct lbd_ct_key6 k6 = {};
	struct lbd_ct *ct;

	if (family == LBD_AF_INET) {
		k4.saddr = n->client.v4;
		k4.daddr = n->vip.v4;
		k4.sport = n->cport;
		k4.dport = n->vport;
		k4.proto = proto;
		ct = bpf_map_lookup_elem(&lbd_ct4, &k4);
	} else {
		k6.saddr = n->client;
		k6.daddr = n->vip;
		k6.sport = n->cport;
		k6.dport = n->vport;
		k6.proto = proto;
		ct = bpf_map_lookup_elem(&lbd_ct6, &k6);
	}
	if (ct && ct->last_seen != now)
		ct->last_seen = now;
}

/*
 * backend:bport -> snat:lport to VIP:vport -> client:cport; LBD_CONTINUE
 * when no live SNAT flow has that port (the LB host's own traffic).
 */
static __always_inline int snat_reply(struct xdp_md *ctx, struct lbd_pkt *p)
{
	struct lbd_nat_key4 k4 = {};
	struct lbd_nat_key6 k6 = {};
	struct lbd_nh nh;
	struct lbd_rw rw = {};
	struct lbd_nat *n, copy;
	__u32 now = now_sec();
	void *key;
	int r;

	key = nat_key(p->family, &p->saddr, p->sport, p->dport, p->proto, &k4,
		      &k6);
	n = nat_find(p->family, key);
	if (!n ||
	    lbd_idle_over(now, n->last_seen, nat_timeout(p->proto, n->flags)))
		return LBD_CONTINUE;
	if (n->last_seen != now) {
		n->last_seen = now;
		ct_refresh(n, p->family, p->proto, now);
	}
	if (p->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (LBD_TCP_FIN | LBD_TCP_RST)) &&
	    !(n->flags & LBD_CT_F_CLOSING))
		n->flags |= LBD_CT_F_CLOSING;
	copy = *n;
	r = reply_nexthop(ctx, p, &copy.vip, &copy.client, now, &nh);
	if (r != LBD_OK)
		return r;
	rw.saddr = copy.vip;
	rw.daddr = copy.client;
	rw.sport = copy.vport;
	rw.dport = copy.cport;
	rw.set_saddr = rw.set_daddr = rw.set_sport = rw.set_dport = true;
	if (rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		    pkt_ip_end(p), &rw, NULL) ||
	    l2_to_nexthop(ctx, p, &nh))
		return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
	count_reason(LBD_EV_SNAT_REPLY, ctx_len(ctx));
	return tx(ctx, nh.ifindex);
}

/* The ICMP checksum of the error at p. */
static __always_inline __sum16 *icmp_sum(struct xdp_md *ctx,
					 const struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__sum16 *sum = pkt_at(data, p->l4_off + 2);

	if ((void *)(sum + 1) > data_end)
		return NULL;
	return sum;
}

/*
 * An ICMP error to the SNAT address about a packet lbd sent a backend
 * (snat:lport -> backend:bport): to the client, about the packet it sent
 * (client:cport -> VIP:vport). An error the backend sent itself appears
 * to come from the VIP. LBD_CONTINUE when it is about no SNAT flow.
 */
static __always_inline int snat_icmp_reply(struct xdp_md *ctx,
					   struct lbd_pkt *p)
{
	struct lbd_nat_key4 k4 = {};
	struct lbd_nat_key6 k6 = {};
	struct lbd_rw out = {}, in = {};
	struct lbd_nh nh;
	struct lbd_pkt q = {};
	struct lbd_nat *n, copy;
	void *key;
	__u16 qoff;
	__sum16 *isum;
	int r;

	/* the quoted packet, "to" the SNAT address as an ICMP error to a
	 * VIP quotes one "from" it: its fields come out mirrored */
	if (icmp_error_flow(ctx, p, &q, &qoff) < 0)
		return LBD_CONTINUE;
	/* q: saddr = backend, sport = bport, daddr = snat, dport = lport */
	key = nat_key(p->family, &q.saddr, q.sport, q.dport, q.proto, &k4,
		      &k6);
	n = nat_find(p->family, key);
	if (!n)
		return LBD_CONTINUE;
	copy = *n;
	out.daddr = copy.client;
	out.set_daddr = true;
	if (addr_eq(&p->saddr, &q.saddr)) {
		out.saddr = copy.vip;
		out.set_saddr = true;
	}
	r = nat_nexthop(ctx, p, out.set_saddr ? &copy.vip : &p->saddr,
			&copy.client, &nh, true);
	if (r != LBD_OK)
		return r;
	isum = icmp_sum(ctx, p);
	if (!isum)
		return verdict(XDP_DROP, LBD_DROP_MALFORMED_ICMP, ctx_len(ctx));
	/* the quote, as the client sent it */
	in.saddr = copy.client;
	in.sport = copy.cport;
	in.daddr = copy.vip;
	in.dport = copy.vport;
	in.set_saddr = in.set_daddr = in.set_sport = in.set_dport = true;
	if (rewrite(ctx, p->family, q.proto, qoff, q.l4_off, pkt_ip_end(p), &in,
		    isum) ||
	    rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		    pkt_ip_end(p), &out, NULL) ||
	    l2_to_nexthop(ctx, p, &nh))
		return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
	count_reason(LBD_EV_ICMP_ERROR_FWD, ctx_len(ctx));
	return tx(ctx, nh.ifindex);
}

/*
 * An ICMP error to a VIP about a SNAT flow's reply (VIP:vport ->
 * client:cport): to the backend, about the packet it sent (backend:bport
 * -> snat:lport), from the SNAT address.
 */
static __always_inline int snat_icmp_forward(struct xdp_md *ctx,
					     struct lbd_pkt *p,
					     const struct lbd_pkt *q,
					     const struct lbd_backend *be,
					     const struct lbd_ct *ct)
{
	struct lbd_rw out = {}, in = {};
	struct lbd_nh nh;
	union lbd_addr snat = {};
	__sum16 *isum;
	int r;

	if (!ct || !ct->nat_port || be->family != p->family ||
	    !snat_source(p->family, &snat))
		return verdict(XDP_DROP, LBD_DROP_ICMP_UNHANDLED,
			       ctx_len(ctx));
	r = nat_nexthop(ctx, p, &snat, &be->addr, &nh, true);
	if (r != LBD_OK)
		return r;
	isum = icmp_sum(ctx, p);
	if (!isum)
		return verdict(XDP_DROP, LBD_DROP_MALFORMED_ICMP, ctx_len(ctx));
	in.saddr = be->addr;
	in.sport = be->port;
	in.daddr = snat;
	in.dport = ct->nat_port;
	in.set_saddr = in.set_daddr = in.set_sport = in.set_dport = true;
	out.saddr = snat;
	out.daddr = be->addr;
	out.set_saddr = out.set_daddr = true;
	if (rewrite(ctx, p->family, q->proto, q->l3_off, q->l4_off,
		    pkt_ip_end(p), &in, isum) ||
	    rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		    pkt_ip_end(p), &out, NULL) ||
	    l2_to_nexthop(ctx, p, &nh))
		return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
	count_reason(LBD_EV_ICMP_ERROR_FWD, ctx_len(ctx));
	return tx(ctx, nh.ifindex);
}

#endif /* LBD_LB_NAT_H */
