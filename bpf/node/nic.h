/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The NIC path's flows (nic.bpf.c): its maps, the choice of a new flow's
 * endpoint and where it lives, the SNAT port, and the entries that keep
 * them. Types and the overview in lbd/node.h.
 *
 * An endpoint is chosen as the tc path chooses it (nat.h: the Service
 * port's Maglev table at the flow's hash). Where it lives is the
 * kernel's answer, not a record's: a FIB lookup towards it from the
 * client, as the packet would be forwarded; a route that leaves by one
 * of lbd's NICs (lbd_node_nics) goes to another node, any other (a pod
 * interface, a bridge) to this one.
 */
#ifndef LBD_NODE_NIC_H
#define LBD_NODE_NIC_H

#include "lib/encap.h"
#include "lib/fib.h"
#include "lib/nat_rw.h"
#include "nat.h"

const volatile struct lbd_node_nic_knobs nic_knobs = {
	.snat_port_min = LBD_NODE_DEFAULT_SNAT_MIN,
	.snat_port_max = LBD_NODE_DEFAULT_SNAT_MAX,
	.icmp_rate = LBD_NODE_DEFAULT_ICMP_RATE,
	.icmp_burst = LBD_NODE_DEFAULT_ICMP_BURST,
};

/* Ports taken before a new SNAT flow is dropped as snat_exhausted. */
#define NIC_SNAT_TRIES 8

/* Seconds a SNAT port's reverse entry stays idle before another flow
 * may take the port over: after a FIN or RST, of UDP, of TCP. The LRU
 * takes the oldest entries before that when the map is full. */
#define NIC_IDLE_CLOSING 10
#define NIC_IDLE_UDP 120
#define NIC_IDLE_TCP 7440

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct lbd_node_nic);
} lbd_node_nics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* set by userspace */
	__uint(max_entries, LBD_NODE_DEFAULT_NAT_ENTRIES);
	__type(key, struct lbd_node_nat_key);
	__type(value, struct lbd_node_nic_nat);
} lbd_node_nic_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LBD_NODE_NIC_REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lbd_node_nic_stats SEC(".maps");

/* A CPU's room for the large structs of a new flow: with the packet
 * path's own (nic.bpf.c) on the stack they pass the 512 bytes that a
 * program's frames may take together. XDP does not nest on a CPU. */
struct nic_scratch {
	struct bpf_fib_lookup fib;
	struct lbd_node_nat_key k;
	struct lbd_node_nic_nat v;
	struct lbd_node_nic_nat fwd; /* a flow's entry (nic_forward) */
	struct lbd_rw rw; /* a DSR packet's (nic_dsr_send) */
	struct lbd_nh nh;
	union lbd_addr src;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nic_scratch);
} lbd_node_nic_scratch SEC(".maps");

static __always_inline void nic_count(enum lbd_node_nic_reason r)
{
	__u32 key = r;
	__u64 *c = bpf_map_lookup_elem(&lbd_node_nic_stats, &key);

	/* XDP runs in softirq: nothing else on this CPU */
	if (c)
		*c += 1;
}

static __always_inline bool nic_closing(const struct lbd_pkt *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (LBD_TCP_FIN | LBD_TCP_RST));
}

static __always_inline bool nic_snat_port(__be16 port)
{
	__u16 v = bpf_ntohs(port);

	return v >= nic_knobs.snat_port_min && v <= nic_knobs.snat_port_max;
}

static __always_inline bool nic_idle(const struct lbd_node_nic_nat *n,
				     __u8 proto, __u32 now)
{
	__u32 t = n->flags & LBD_NODE_NIC_F_CLOSING ? NIC_IDLE_CLOSING :
		  proto == IPPROTO_TCP		    ? NIC_IDLE_TCP :
						      NIC_IDLE_UDP;

	return lbd_idle_over(now, n->last_seen, t);
}

/* The reverse key of a SNAT flow whose forward entry is fwd: the reply
 * as the endpoint sends it, to this node's address and SNAT port. */
static __always_inline void nic_rev_key(struct lbd_node_nat_key *k,
					const struct lbd_pkt *p,
					const struct lbd_node_nic_nat *fwd)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->saddr = fwd->daddr;
	k->daddr = fwd->saddr;
	k->sport = fwd->dport;
	k->dport = fwd->sport;
	k->proto = p->proto;
	k->family = p->family;
	k->dir = LBD_NODE_NAT_REV;
}

/* Its value: the reply gets the Service address as source and goes to
 * the client. */
static __always_inline void nic_rev_val(struct lbd_node_nic_nat *v,
					const struct lbd_pkt *p, __u32 now)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->saddr = p->daddr;
	v->daddr = p->saddr;
	v->sport = p->dport;
	v->dport = p->sport;
	v->flags = LBD_NODE_NIC_F_SNAT |
		   (nic_closing(p) ? LBD_NODE_NIC_F_CLOSING : 0);
	v->last_seen = now;
}

/*
 * Takes a SNAT port for the flow p whose forward entry fwd has the
 * endpoint and this node's address: its reverse entry is written with
 * BPF_NOEXIST, so two flows never share a port towards one endpoint; a
 * port whose flow has been idle long enough is taken over. 0 with
 * fwd->sport set, or -1 when none is free.
 */
static __always_inline int nic_snat_take(const struct lbd_pkt *p,
					 struct lbd_node_nic_nat *fwd,
					 __u32 now, struct nic_scratch *s)
{
	__u32 min = nic_knobs.snat_port_min, max = nic_knobs.snat_port_max;
	__u32 range = max - min + 1, hash, ports;
	struct lbd_node_nic_nat *n;
	int i;

	if (max < min)
		return -1;
	ports = LBD_PORTS(p->sport, p->dport);
	hash = p->family == LBD_AF_INET ?
		       lbd_flow_hash4(node_knobs.hash_seed, p->saddr.v4, ports,
				      p->proto) :
		       lbd_flow_hash6(node_knobs.hash_seed, p->saddr.v6, ports,
				      p->proto);
	nic_rev_val(&s->v, p, now);
	for (i = 0; i < NIC_SNAT_TRIES; i++) {
		/* steps by a prime: tries spread over the range */
		fwd->sport = bpf_htons(min + (hash + (__u32)i * 7919) % range);
		nic_rev_key(&s->k, p, fwd);
		if (!bpf_map_update_elem(&lbd_node_nic_nat, &s->k, &s->v,
					 BPF_NOEXIST))
			return 0;
		n = bpf_map_lookup_elem(&lbd_node_nic_nat, &s->k);
		if (n && nic_idle(n, p->proto, now) &&
		    !bpf_map_update_elem(&lbd_node_nic_nat, &s->k, &s->v,
					 BPF_EXIST))
			return 0;
	}
	return -1;
}

/*
 * Keeps the reverse entry of a flow in its map (once a second, and on a
 * FIN or RST): the tc path's for a local endpoint, the SNAT one here.
 * 0; 1 when the SNAT port went to another flow meanwhile (the flow is
 * chosen again); or the reason to drop. A subprogram, as nic_new_flow
 * and for its reason: not on most packets' path.
 */
static __noinline int nic_refresh(const struct lbd_pkt *p,
				  const struct lbd_node_nic_nat *e, __u32 now,
				  __u32 ifindex)
{
	struct lbd_node_nat_key k;
	struct lbd_node_nic_nat v, *n;
	struct lbd_node_nat loc;

	/* DSR: no reverse entry, the endpoint's node answers the client */
	if (e->flags & LBD_NODE_NIC_F_DSR)
		return 0;
	if (!(e->flags & LBD_NODE_NIC_F_SNAT)) {
		__builtin_memset(&loc, 0, sizeof(loc));
		loc.addr = e->daddr;
		loc.port = e->dport;
		return nat_rev_put_via(p, &loc, now, ifindex) ?
			       LBD_NODE_NIC_NAT_FAILED :
			       0;
	}
	nic_rev_key(&k, p, e);
	n = bpf_map_lookup_elem(&lbd_node_nic_nat, &k);
	if (n && n->dport == p->sport && addr_eq(&n->daddr, &p->saddr)) {
		if (n->last_seen != now)
			n->last_seen = now;
		if (nic_closing(p) && !(n->flags & LBD_NODE_NIC_F_CLOSING))
			n->flags |= LBD_NODE_NIC_F_CLOSING;
		return 0;
	}
	/* the LRU took it alone: made again, if no flow took the port */
	nic_rev_val(&v, p, now);
	if (!n && !bpf_map_update_elem(&lbd_node_nic_nat, &k, &v, BPF_NOEXIST))
		return 0;
	return 1;
}

static __always_inline bool nic_snat_source(const struct lbd_node_nic *nic,
					    __u8 family, union lbd_addr *out)
{
	if (family == LBD_AF_INET) {
		*out = nic->addr4;
		return nic->flags & LBD_NODE_NIC_F_V4;
	}
	*out = nic->addr6;
	return nic->flags & LBD_NODE_NIC_F_V6;
}

/*
 * A new DSR flow p to another node's endpoint (out->daddr, dport set)
 * whose route s->fib found leaving by nic: the outer destination is the
 * route's gateway (the node the endpoint's pod CIDR is routed to) or, on
 * a directly connected route, the endpoint itself; the outer source this
 * node's address on that NIC (out->oif), as SNAT takes it, looked up per
 * packet. The client stays the source of the inner packet. The route's
 * MTU is kept for the size check of each packet. 0, or the reason to
 * drop.
 */
static __always_inline int nic_dsr_flow(struct xdp_md *ctx,
					const struct lbd_pkt *p,
					const struct lbd_node_nic *nic,
					struct nic_scratch *s,
					struct lbd_node_nic_nat *out)
{
	__u32 ifindex = ctx_ifindex(ctx);
	union lbd_addr src;
	__u16 mtu = 0xffff;
	int rc;

	if (!nic_snat_source(nic, p->family, &src))
		return LBD_NODE_NIC_NO_SNAT_ADDR;
	out->oif = s->fib.ifindex;
	if (s->fib.family !=
	    (p->family == LBD_AF_INET ? LBD_FIB_AF_INET : LBD_FIB_AF_INET6))
		return LBD_NODE_NIC_DSR_GW_FAMILY;
	if (p->family == LBD_AF_INET)
		out->outer_daddr.v4 = s->fib.ipv4_dst;
	else
		__builtin_memcpy(&out->outer_daddr, s->fib.ipv6_dst, 16);
	/* the kernel tells a route's MTU only to a length that exceeds it */
	rc = fib_nexthop(ctx, ifindex, p->family, &p->saddr, &out->daddr,
			 0xffff, &s->fib);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		mtu = (__u16)s->fib.mtu_result;
	else if (rc != BPF_FIB_LKUP_RET_SUCCESS &&
		 rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return LBD_NODE_NIC_NO_ROUTE;
	out->mtu = mtu;
	out->saddr = p->saddr;
	out->sport = p->sport;
	out->flags = LBD_NODE_NIC_F_DSR;
	nic_count(LBD_NODE_NIC_NEW_DSR);
	return 0;
}

/*
 * A new flow p to Service port svc: its endpoint, where it lives, and its
 * reverse entry, into the forward entry *out. 0, or the reason to drop
 * it. A subprogram (the first packet of a flow only): inlined, its
 * locals with the caller's pass the 512 bytes of stack a program's
 * frames may take together; its largest are in lbd_node_nic_scratch.
 */
static __noinline int nic_new_flow(struct xdp_md *ctx, const struct lbd_pkt *p,
				   const struct lbd_node_svc *svc,
				   struct lbd_node_nic_nat *out)
{
	__u32 now = clock_now(&lbd_node_clock), ifindex = ctx_ifindex(ctx);
	const struct lbd_node_nic *nic;
	struct lbd_backend chosen;
	struct lbd_node_nat loc;
	struct nic_scratch *s;
	__u32 id, oif, zero = 0;
	int rc;

	s = bpf_map_lookup_elem(&lbd_node_nic_scratch, &zero);
	if (!s)
		return LBD_NODE_NIC_NAT_FAILED;

	if (!node_maglev_pick(svc->id, nat_flow_hash(p, svc), &id, &chosen))
		return LBD_NODE_NIC_NO_ENDPOINT;
	if (chosen.family != p->family)
		return LBD_NODE_NIC_FAMILY;
	__builtin_memset(out, 0, sizeof(*out));
	out->daddr = chosen.addr;
	out->dport = chosen.port;
	out->backend_id = id;
	out->backend_gen = chosen.gen;
	out->last_seen = now;
	/* no length: the kernel's forwarding checks the MTU, and with one
	 * the lookup would leave out the interface it found */
	rc = fib_nexthop(ctx, ifindex, p->family, &p->saddr, &out->daddr, 0,
			 &s->fib);
	/* the node itself: its socket's replies leave by the NIC's egress,
	 * where nothing gives them the Service address back */
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED)
		return LBD_NODE_NIC_HOST_ENDPOINT;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return LBD_NODE_NIC_NO_ROUTE;
	oif = s->fib.ifindex;
	nic = bpf_map_lookup_elem(&lbd_node_nics, &oif);
	if (!nic) {
		/* on this node: the client stays; the pod's replies are
		 * the tc path's to reverse (and to send out by ifindex) */
		out->saddr = p->saddr;
		out->sport = p->sport;
		__builtin_memset(&loc, 0, sizeof(loc));
		loc.addr = out->daddr;
		loc.port = out->dport;
		if (nat_rev_put_via(p, &loc, now, ifindex))
			return LBD_NODE_NIC_NAT_FAILED;
		nic_count(LBD_NODE_NIC_NEW_LOCAL);
		return 0;
	}
	if (svc->flags & LBD_NODE_SVC_F_GENEVE)
		return nic_dsr_flow(ctx, p, nic, s, out);
	if (!nic_snat_source(nic, p->family, &out->saddr))
		return LBD_NODE_NIC_NO_SNAT_ADDR;
	out->flags = LBD_NODE_NIC_F_SNAT;
	if (nic_snat_take(p, out, now, s))
		return LBD_NODE_NIC_SNAT_EXHAUSTED;
	nic_count(LBD_NODE_NIC_NEW_SNAT);
	return 0;
}

/* What an entry makes of a packet: every address and port set (those
 * that stay are set to what they are, which changes no checksum). */
static __always_inline void nic_rw_of(struct lbd_rw *rw,
				      const struct lbd_node_nic_nat *e)
{
	__builtin_memset(rw, 0, sizeof(*rw));
	rw->saddr = e->saddr;
	rw->daddr = e->daddr;
	rw->sport = e->sport;
	rw->dport = e->dport;
	rw->set_saddr = rw->set_daddr = rw->set_sport = rw->set_dport = true;
}

/*
 * Sends the packet p of DSR flow e: the inner packet translated to the
 * endpoint (the client stays its source), then in Geneve as the LB role
 * sends it (lib/encap.h), the option naming the Service address and port
 * the client asked for. The outer frame keeps the received Ethernet
 * addresses, to this node's NIC: the kernel takes it in and forwards it
 * (neighbour resolution, any NIC). A packet the route's MTU would not
 * take with the encapsulation is LBD_NODE_NIC_DSR_TOO_BIG, answered by
 * nic_ptb.h: the kernel would send its error to this node, the outer
 * source, not to the client. 0, or the reason to drop.
 */
static __always_inline int nic_dsr_send(struct xdp_md *ctx,
					const struct lbd_pkt *p,
					const struct lbd_node_nic_nat *e)
{
	__u32 overhead = p->family == LBD_AF_INET ? LBD_GENEVE4_OVERHEAD :
						    LBD_GENEVE6_OVERHEAD;
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	struct ethhdr *eth = data;
	const struct lbd_node_nic *nic;
	struct nic_scratch *s;
	__u32 zero = 0, hash;

	if ((__u32)p->ip_len + overhead > e->mtu)
		return LBD_NODE_NIC_DSR_TOO_BIG;
	s = bpf_map_lookup_elem(&lbd_node_nic_scratch, &zero);
	if (!s || (void *)(eth + 1) > data_end)
		return LBD_NODE_NIC_ENCAP_FAILED;
	/* the NIC's address now: it may have changed, or the NIC left */
	nic = bpf_map_lookup_elem(&lbd_node_nics, &e->oif);
	if (!nic || !nic_snat_source(nic, p->family, &s->src))
		return LBD_NODE_NIC_NO_SNAT_ADDR;
	__builtin_memcpy(s->nh.dmac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(s->nh.smac, eth->h_source, ETH_ALEN);
	nic_rw_of(&s->rw, e);
	s->rw.set_saddr = s->rw.set_sport = false;
	if (rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		    pkt_ip_end(p), &s->rw, NULL))
		return LBD_NODE_NIC_REWRITE_FAILED;
	/* the flow's entropy for the outer UDP port and IPv6 flow label:
	 * the hash the SNAT port is chosen by */
	hash = p->family == LBD_AF_INET ?
		       lbd_flow_hash4(node_knobs.hash_seed, p->saddr.v4,
				      LBD_PORTS(p->sport, p->dport), p->proto) :
		       lbd_flow_hash6(node_knobs.hash_seed, p->saddr.v6,
				      LBD_PORTS(p->sport, p->dport), p->proto);
	if (encap_geneve(ctx, p, &p->daddr, p->dport, &s->src, &e->outer_daddr,
			 &s->nh, hash, NULL))
		return LBD_NODE_NIC_ENCAP_FAILED;
	return 0;
}

#endif /* LBD_NODE_NIC_H */
