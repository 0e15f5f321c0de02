/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tc path's per-flow NAT (tc.bpf.c): its maps, the choice of a new
 * flow's endpoint and the entries that keep it. Types in lbd/node.h.
 *
 * A flow's endpoint is chosen once, with the Service port's Maglev table
 * (the socket programs' maps, shared: lbd/dp/node_tc.c reuses their fds)
 * at the flow's 5-tuple hash, or with session affinity at the hash of the
 * client address alone (every flow of a client to the same endpoint while
 * the table does not change; no affinity entries, no timeout). The
 * forward entry keeps it for every later packet; the reverse entry gives
 * the replies the Service address back.
 */
#ifndef LBD_NODE_NAT_H
#define LBD_NODE_NAT_H

#include "lbd/hash.h"
#include "lib/nat_rw.h"
#include "lib/parse.h"
#include "maps.h"
#include "select.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* set by userspace */
	__uint(max_entries, LBD_NODE_DEFAULT_NAT_ENTRIES);
	__type(key, struct lbd_node_nat_key);
	__type(value, struct lbd_node_nat);
} lbd_node_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LBD_NODE_TC_REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lbd_node_tc_stats SEC(".maps");

static __always_inline void nat_count(enum lbd_node_tc_reason r)
{
	__u32 key = r;
	__u64 *c = bpf_map_lookup_elem(&lbd_node_tc_stats, &key);

	/* tc runs with bottom halves off: nothing else on this CPU */
	if (c)
		*c += 1;
}

static __always_inline void nat_key_of(struct lbd_node_nat_key *k,
				       const struct lbd_pkt *p, __u8 dir)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
	k->dir = dir;
}

/* The Service port a packet is addressed to, or NULL. */
static __always_inline const struct lbd_node_svc *
nat_svc_lookup(const struct lbd_pkt *p)
{
	if (p->family == LBD_AF_INET) {
		struct lbd_svc_key4 k4 = {
			.vip = p->daddr.v4,
			.port = p->dport,
			.proto = p->proto,
		};

		return bpf_map_lookup_elem(&lbd_node_svc4, &k4);
	} else {
		struct lbd_svc_key6 k6 = {
			.vip = p->daddr,
			.port = p->dport,
			.proto = p->proto,
		};

		return bpf_map_lookup_elem(&lbd_node_svc6, &k6);
	}
}

/* The Maglev hash of a new flow (see the top of this file). */
static __always_inline __u32 nat_flow_hash(const struct lbd_pkt *p,
					   const struct lbd_node_svc *svc)
{
	bool aff = svc->flags & LBD_NODE_SVC_F_AFFINITY;
	__u32 ports = aff ? 0 : LBD_PORTS(p->sport, p->dport);
	__u8 proto = aff ? 0 : p->proto;
	__u32 seed = node_knobs.hash_seed ^ svc->id;

	if (p->family == LBD_AF_INET)
		return lbd_flow_hash4(seed, p->saddr.v4, ports, proto);
	return lbd_flow_hash6(seed, p->saddr.v6, ports, proto);
}

/* Whether the endpoint of a forward entry still takes the flow: the id
 * was not given to another endpoint since (gen), and it is not freed. */
static __always_inline bool nat_backend_usable(__u32 id, __u32 gen,
					       const struct lbd_node_svc *svc)
{
	const struct lbd_backend *be;

	be = bpf_map_lookup_elem(&lbd_node_backends, &id);
	return be && be->gen == gen && be->state != LBD_BE_UNUSED &&
	       be->svc_id == svc->id;
}

static __always_inline bool nat_entry_usable(const struct lbd_node_nat *e,
					     const struct lbd_node_svc *svc)
{
	return nat_backend_usable(e->backend_id, e->backend_gen, svc);
}

/* The source of a hairpin flow's packets to the pod (lbd/node.h's
 * LBD_NODE_HAIRPIN4; for IPv6 svc, the Service address). */
static __always_inline void
nat_hairpin_src(__u8 family, const union lbd_addr *svc, union lbd_addr *a)
{
	if (family == LBD_AF_INET) {
		__builtin_memset(a, 0, sizeof(*a));
		a->v4 = bpf_htonl(LBD_NODE_HAIRPIN4);
	} else {
		*a = *svc;
	}
}

/* Writes the reverse entry of the flow p (as the client sent it) to the
 * endpoint e: the reply from e to the client gets p's destination. With
 * ifindex (a flow from the NIC path), the reply is sent out by it. A
 * hairpin flow's reply goes to the hairpin source, not to the client. */
static __always_inline int nat_rev_put_via(const struct lbd_pkt *p,
					   const struct lbd_node_nat *e,
					   __u32 now, __u32 ifindex)
{
	struct lbd_node_nat_key k;
	struct lbd_node_nat v;

	__builtin_memset(&k, 0, sizeof(k));
	k.saddr = e->addr;
	if (e->flags & LBD_NODE_NAT_F_HAIRPIN)
		nat_hairpin_src(p->family, &p->daddr, &k.daddr);
	else
		k.daddr = p->saddr;
	k.sport = e->port;
	k.dport = p->sport;
	k.proto = p->proto;
	k.family = p->family;
	k.dir = LBD_NODE_NAT_REV;
	__builtin_memset(&v, 0, sizeof(v));
	v.addr = p->daddr;
	v.port = p->dport;
	v.last_seen = now;
	v.flags = e->flags & LBD_NODE_NAT_F_HAIRPIN;
	if (ifindex) {
		v.flags |= LBD_NODE_NAT_F_NIC;
		v.ifindex = ifindex;
	}
	return bpf_map_update_elem(&lbd_node_nat, &k, &v, BPF_ANY);
}

static __always_inline int nat_rev_put(const struct lbd_pkt *p,
				       const struct lbd_node_nat *e, __u32 now)
{
	return nat_rev_put_via(p, e, now, 0);
}

/*
 * The endpoint of the packet p to Service port svc, in *out: its flow's,
 * or a new choice with the flow's entries written. 0, or the reason to
 * drop it.
 */
static __always_inline int nat_forward(const struct lbd_pkt *p,
				       const struct lbd_node_svc *svc,
				       struct lbd_node_nat *out)
{
	struct lbd_backend chosen;
	struct lbd_node_nat_key k;
	struct lbd_node_nat *e;
	__u32 now = clock_now(&lbd_node_clock), id;

	nat_key_of(&k, p, LBD_NODE_NAT_FWD);
	e = bpf_map_lookup_elem(&lbd_node_nat, &k);
	if (e) {
		if (nat_entry_usable(e, svc)) {
			/* once a second: the reverse entry is written
			 * again, in case the LRU took it alone */
			if (e->last_seen != now) {
				e->last_seen = now;
				if (nat_rev_put(p, e, now))
					return LBD_NODE_TC_NAT_FAILED;
			}
			*out = *e;
			return 0;
		}
		nat_count(LBD_NODE_TC_ENDPOINT_GONE);
	}
	if (!node_maglev_pick(svc->id, nat_flow_hash(p, svc), &id, &chosen))
		return LBD_NODE_TC_NO_ENDPOINT;
	if (chosen.family != p->family)
		return LBD_NODE_TC_FAMILY;
	__builtin_memset(out, 0, sizeof(*out));
	out->addr = chosen.addr;
	out->port = chosen.port;
	out->backend_id = id;
	out->backend_gen = chosen.gen;
	out->last_seen = now;
	if (addr_eq(&chosen.addr, &p->saddr))
		out->flags = LBD_NODE_NAT_F_HAIRPIN;
	/* the reverse entry first: a forward entry without it would send
	 * the flow on with replies nobody translates back */
	if (nat_rev_put(p, out, now) ||
	    bpf_map_update_elem(&lbd_node_nat, &k, out, BPF_ANY))
		return LBD_NODE_TC_NAT_FAILED;
	nat_count(LBD_NODE_TC_NEW_FLOW);
	return 0;
}

/* The Service address a reply p (from an endpoint) gets as its source,
 * or NULL when p is no reply of a translated flow. */
static __always_inline const struct lbd_node_nat *
nat_reply(const struct lbd_pkt *p)
{
	struct lbd_node_nat_key k;

	nat_key_of(&k, p, LBD_NODE_NAT_REV);
	return bpf_map_lookup_elem(&lbd_node_nat, &k);
}

#endif /* LBD_NODE_NAT_H */
