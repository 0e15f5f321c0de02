/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A packet's VIP and service: from the VIP table (lbd_vip_slots, see
 * struct lbd_vip_slot) with one array lookup, else from the hash maps.
 * Two hash lookups cost about 50 ns of an established flow's 340 here
 * (lbd-bench-xdp); the table costs a hash of the address and an array
 * lookup.
 */
#ifndef LBD_LB_VIP_H
#define LBD_LB_VIP_H

#include "lbd/hash.h"
#include "lib/parse.h"
#include "maps.h"
#include "svc.h"

/* A packet's destination: a VIP or not (found), the VIP's flags, and the
 * slot that lists its services when the VIP table holds the VIP. */
struct lbd_vip_ref {
	bool found;
	__u32 flags;
	const struct lbd_vip_slot *slot;
};

static __always_inline const struct lbd_vip_slot *
vip_slot_of(const struct lbd_pkt *p)
{
	__u32 zero = 0, h;
	void *tbl;

	tbl = bpf_map_lookup_elem(&lbd_vip_slots, &zero);
	if (!tbl)
		return NULL;
	if (p->family == LBD_AF_INET)
		h = lbd_vip_slot_hash(&p->daddr.v4, 1);
	else
		h = lbd_vip_slot_hash(p->daddr.v6, 4);
	h &= knobs.vip_slot_mask;
	return bpf_map_lookup_elem(tbl, &h);
}

static __always_inline bool slot_holds(const struct lbd_vip_slot *s,
				       const struct lbd_pkt *p)
{
	if (s->family != p->family)
		return false;
	if (p->family == LBD_AF_INET)
		return s->addr.v4 == p->daddr.v4;
	return s->addr.v6[0] == p->daddr.v6[0] &&
	       s->addr.v6[1] == p->daddr.v6[1] &&
	       s->addr.v6[2] == p->daddr.v6[2] &&
	       s->addr.v6[3] == p->daddr.v6[3];
}

/* Whether p's destination is a VIP, into *v. */
static __always_inline void vip_find(const struct lbd_pkt *p,
				     struct lbd_vip_ref *v)
{
	const struct lbd_vip_slot *s = vip_slot_of(p);
	const struct lbd_vip *h;

	v->slot = NULL;
	if (s) {
		if (slot_holds(s, p)) {
			v->found = true;
			v->flags = s->vip_flags;
			v->slot = s;
			return;
		}
		/* no VIP hashes to an empty slot, nor one but its holder
		 * to a slot without SPILL */
		if (!(s->flags & LBD_SLOT_F_SPILL)) {
			v->found = false;
			return;
		}
	}
	if (p->family == LBD_AF_INET)
		h = bpf_map_lookup_elem(&lbd_vip4, &p->daddr.v4);
	else
		h = bpf_map_lookup_elem(&lbd_vip6, &p->daddr);
	v->found = h != NULL;
	v->flags = h ? h->flags : 0;
}

/* The service of p's destination port at the VIP v found. */
static __always_inline const struct lbd_svc *
svc_find(const struct lbd_pkt *p, const struct lbd_vip_ref *v)
{
	const struct lbd_vip_slot *s = v->slot;
	int i;

	if (s) {
#pragma unroll
		for (i = 0; i < LBD_SLOT_SVCS; i++)
			if (s->svcs[i].port == p->dport &&
			    s->svcs[i].proto == p->proto)
				return &s->svcs[i].svc;
		if (!(s->flags & LBD_SLOT_F_MORE))
			return NULL;
	}
	return svc_lookup(p, p->dport);
}

#endif /* LBD_LB_VIP_H */
