/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Backend selection: conntrack first, Maglev for new flows and for flows
 * whose backend has gone.
 *
 * A conntrack entry keeps its backend, whatever the Maglev table now says,
 * while that backend is active, or draining and the packet is not a new
 * connection (a SYN). Otherwise the flow selects again. Entries age by a
 * per-protocol idle timeout (shorter once the client sent FIN or RST) and
 * are evicted by the LRU when the map is full. An RST never creates one,
 * nor does a SYN: the entry is made by the handshake's next packet, so a
 * flood of spoofed SYNs leaves no state to evict established flows with
 * (a SYN may still overwrite the entry of a 4-tuple it reuses, so that its
 * ACK follows it).
 *
 * With the flow state on the backends (select_stateless) there is no
 * conntrack at all: the slot's owner, and its previous owner for the
 * second chance.
 */
#ifndef LBD_LB_SELECT_H
#define LBD_LB_SELECT_H

#include "lib/clock.h"
#include "lib/maglev.h"
#include "lib/parse.h"
#include "maps.h"
#include "stats.h"

struct lbd_choice {
	__u32 id;
	__u32 now; /* the coarse second the choice was made in */
	bool new_flow;
	bool fresh; /* the flow's first packet this second (or a new flow) */
	const struct lbd_backend *be;
	struct lbd_ct *ct; /* the flow's entry; NULL for an RST without one */
};

static __always_inline __u32 flow_hash(const struct lbd_pkt *p)
{
	__u32 ports = LBD_PORTS(p->sport, p->dport);

	if (p->family == LBD_AF_INET)
		return lbd_flow_hash4(knobs.hash_seed, p->saddr.v4, ports,
				      p->proto);
	return lbd_flow_hash6(knobs.hash_seed, p->saddr.v6, ports, p->proto);
}

/* The hash that picks the Maglev slot: with session affinity the client
 * port leaves it, so every connection of a client lands alike. */
static __always_inline __u32 svc_hash(const struct lbd_pkt *p,
				      const struct lbd_svc *svc)
{
	__u32 ports = LBD_PORTS(svc->flags & LBD_SVC_F_AFFINITY ? 0 : p->sport,
				p->dport);

	if (p->family == LBD_AF_INET)
		return lbd_flow_hash4(knobs.hash_seed, p->saddr.v4, ports,
				      p->proto);
	return lbd_flow_hash6(knobs.hash_seed, p->saddr.v6, ports, p->proto);
}

static __always_inline __u32 now_sec(void)
{
	return clock_now(&lbd_clock);
}

/* lbd/shared.h's rule, which lbd applies to the entries it reads too. */
static __always_inline __u32 ct_timeout(const struct lbd_pkt *p,
					const struct lbd_ct *ct)
{
	return lbd_ct_timeout(&knobs, p->proto, ct->flags);
}

/* The conntrack key of the flow: k4 or k6, by its family. */
static __always_inline void *ct_key(const struct lbd_pkt *p,
				    struct lbd_ct_key4 *k4,
				    struct lbd_ct_key6 *k6)
{
	if (p->family == LBD_AF_INET) {
		k4->saddr = p->saddr.v4;
		k4->daddr = p->daddr.v4;
		k4->sport = p->sport;
		k4->dport = p->dport;
		k4->proto = p->proto;
		return k4;
	}
	k6->saddr = p->saddr;
	k6->daddr = p->daddr;
	k6->sport = p->sport;
	k6->dport = p->dport;
	k6->proto = p->proto;
	return k6;
}

/*
 * The backend a Maglev slot names, if the service has a table; with prev,
 * also the slot's previous owner's id (LBD_NO_ID: none).
 */
static __always_inline int maglev_pick(const struct lbd_svc *svc, __u32 hash,
				       struct lbd_choice *c, __u32 *prev)
{
	const struct lbd_maglev_chunk *head;
	const struct lbd_backend *be;
	__u32 zero = 0, m, n, slot, id;
	void *table;

	table = bpf_map_lookup_elem(&lbd_maglev, &svc->id);
	if (!table)
		return -1;
	head = bpf_map_lookup_elem(table, &zero);
	if (!head)
		return -1;
	m = head->w[0];
	n = head->w[1];
	if (!m || n > LBD_MAGLEV_MAX_LIST)
		return -1;
	if (maglev_word(table, head, LBD_MAGLEV_HDR + n + hash % m, &slot) ||
	    LBD_MAGLEV_CUR(slot) >= n ||
	    maglev_word(table, head, LBD_MAGLEV_HDR + LBD_MAGLEV_CUR(slot),
			&id))
		return -1;
	be = bpf_map_lookup_elem(&lbd_backends, &id);
	/* The table lists active backends only; userspace swaps the table
	 * before it changes a state, but a packet may race the two. */
	if (!be || be->state != LBD_BE_ACTIVE)
		return -1;
	c->id = id;
	c->be = be;
	if (prev) {
		*prev = LBD_NO_ID;
		if (LBD_MAGLEV_PREV(slot) < n &&
		    maglev_word(table, head,
				LBD_MAGLEV_HDR + LBD_MAGLEV_PREV(slot), prev))
			*prev = LBD_NO_ID;
	}
	return 0;
}

static __always_inline bool backend_usable(const struct lbd_backend *be,
					   __u32 gen, bool new_conn)
{
	return be && be->gen == gen &&
	       (be->state == LBD_BE_ACTIVE ||
		(be->state == LBD_BE_DRAINING && !new_conn));
}

/*
 * Session affinity: the client's backend for the service while it is
 * usable and the client was seen within the timeout; else Maglev (with
 * the client port out of the hash), remembered for next time.
 */
static __always_inline int affinity_pick(const struct lbd_pkt *p,
					 const struct lbd_svc *svc,
					 struct lbd_choice *c, __u32 now)
{
	struct lbd_aff_key k = { .svc_id = svc->id, .family = p->family };
	const struct lbd_backend *be;
	struct lbd_aff *a, fresh;

	k.client = p->saddr;
	a = bpf_map_lookup_elem(&lbd_affinity, &k);
	if (a && !lbd_idle_over(now, a->last_seen, svc->affinity_timeout)) {
		be = bpf_map_lookup_elem(&lbd_backends, &a->backend_id);
		if (backend_usable(be, a->backend_gen, true)) {
			if (a->last_seen != now)
				a->last_seen = now;
			c->id = a->backend_id;
			c->be = be;
			return 0;
		}
	}
	if (maglev_pick(svc, svc_hash(p, svc), c, NULL) < 0)
		return -1;
	fresh.backend_id = c->id;
	fresh.backend_gen = c->be->gen;
	fresh.last_seen = now;
	fresh.pad = 0;
	bpf_map_update_elem(&lbd_affinity, &k, &fresh, BPF_ANY);
	return 0;
}

/*
 * Chooses the backend of a TCP/UDP flow to a service. Returns 0, or -1
 * when the service has no usable backend. c->ct is the flow's entry when
 * it had one, or when want_ct and one was made.
 */
static __always_inline int select_backend(const struct lbd_pkt *p,
					  const struct lbd_svc *svc,
					  bool want_ct, struct lbd_choice *c)
{
	bool syn = p->proto == IPPROTO_TCP &&
		   (p->tcp_flags & (LBD_TCP_SYN | LBD_TCP_ACK)) == LBD_TCP_SYN;
	bool closing = p->proto == IPPROTO_TCP &&
		       (p->tcp_flags & (LBD_TCP_FIN | LBD_TCP_RST));
	struct lbd_ct_key4 k4 = {};
	struct lbd_ct_key6 k6 = {};
	const struct lbd_backend *be;
	struct lbd_ct *ct, entry;
	__u32 now = now_sec();
	void *key;

	c->now = now;
	key = ct_key(p, &k4, &k6);
	ct = ct_find(p->family, key);
	if (ct) {
		if (!lbd_idle_over(now, ct->last_seen, ct_timeout(p, ct))) {
			be = bpf_map_lookup_elem(&lbd_backends,
						 &ct->backend_id);
			if (backend_usable(be, ct->backend_gen, syn)) {
				/* Write only on change: a cache line that
				 * stays clean is not bounced between CPUs. */
				c->fresh = ct->last_seen != now;
				if (c->fresh)
					ct->last_seen = now;
				if (closing &&
				    !(ct->flags & LBD_CT_F_CLOSING))
					ct->flags |= LBD_CT_F_CLOSING;
				c->id = ct->backend_id;
				c->be = be;
				c->ct = ct;
				c->new_flow = false;
				return 0;
			}
			count_reason(LBD_EV_RESELECT, 0);
		}
	}

	if (svc->flags & LBD_SVC_F_AFFINITY) {
		if (affinity_pick(p, svc, c, now) < 0)
			return -1;
	} else if (maglev_pick(svc, svc_hash(p, svc), c, NULL) < 0) {
		return -1;
	}
	c->fresh = true;
	c->ct = NULL;
	/* SNAT keeps its source port in the entry from the first packet */
	if (syn && !ct && !want_ct) {
		c->new_flow = false;
		count_reason(LBD_EV_SYN_STATELESS, 0);
		return 0;
	}
	c->new_flow = true;
	if (!(p->proto == IPPROTO_TCP && (p->tcp_flags & LBD_TCP_RST))) {
		entry.backend_id = c->id;
		entry.backend_gen = c->be->gen;
		entry.last_seen = now;
		entry.flags = closing ? LBD_CT_F_CLOSING : 0;
		entry.nat_port = 0;
		ct_store(p->family, key, &entry, BPF_ANY);
		/* SNAT keeps its port in the entry */
		if (want_ct)
			c->ct = ct_find(p->family, key);
	}
	count_reason(LBD_EV_NEW_FLOW, 0);
	return 0;
}

/*
 * Flow state on the backends: the owner of the packet's Maglev slot, and
 * in sc its previous owner if it can take a segment passed on (active or
 * draining, of the owner's family). A SYN counts as a new flow.
 */
static __always_inline int select_stateless(const struct lbd_pkt *p,
					    const struct lbd_svc *svc,
					    struct lbd_choice *c,
					    struct lbd_sc *sc)
{
	const struct lbd_backend *pb;
	__u32 prev;

	c->now = now_sec();
	c->ct = NULL;
	c->fresh = true;
	c->new_flow = p->proto == IPPROTO_TCP &&
		      (p->tcp_flags & (LBD_TCP_SYN | LBD_TCP_ACK)) ==
			      LBD_TCP_SYN;
	if (maglev_pick(svc, svc_hash(p, svc), c, &prev) < 0)
		return -1;
	sc->flags = 0;
	if (prev == LBD_NO_ID)
		return 0;
	pb = bpf_map_lookup_elem(&lbd_backends, &prev);
	if (!pb || pb->family != c->be->family ||
	    (pb->state != LBD_BE_ACTIVE && pb->state != LBD_BE_DRAINING))
		return 0;
	sc->flags = LBD_SC_F_PREV;
	sc->prev_port = pb->port;
	sc->prev = pb->addr;
	return 0;
}

/*
 * The backend of the flow an ICMP error quotes: its conntrack entry while
 * the backend is active or draining, else the Maglev choice. Creates no
 * entry. p describes the quoted flow in the client's direction.
 */
static __always_inline int select_backend_icmp(const struct lbd_pkt *p,
					       const struct lbd_svc *svc,
					       struct lbd_choice *c)
{
	struct lbd_ct_key4 k4 = {};
	struct lbd_ct_key6 k6 = {};
	const struct lbd_backend *be;
	struct lbd_ct *ct;
	void *key;

	c->now = now_sec();
	key = ct_key(p, &k4, &k6);
	ct = ct_find(p->family, key);
	c->ct = ct;
	c->new_flow = false;
	if (ct) {
		be = bpf_map_lookup_elem(&lbd_backends, &ct->backend_id);
		if (backend_usable(be, ct->backend_gen, false)) {
			c->id = ct->backend_id;
			c->be = be;
			return 0;
		}
	}
	return maglev_pick(svc, svc_hash(p, svc), c, NULL);
}

#endif /* LBD_LB_SELECT_H */
