/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The endpoint of a socket's connect() or datagram: the Service port's
 * Maglev table at lbd_node_hash of the socket cookie, or with session
 * affinity the client's entry while it is fresh and its endpoint still in
 * use, else the table at the hash of the client (its netns cookie).
 *
 * Which endpoints are in the table (ready ones, or serving and
 * terminating ones when none is ready) is userspace's decision; the
 * table holds active backends only, and a backend id that userspace gave
 * to another endpoint has another gen, so an affinity entry naming it is
 * stale. lbd/dp/node.c's node_explain follows these steps.
 */
#ifndef LBD_NODE_SELECT_H
#define LBD_NODE_SELECT_H

#include "lib/maglev.h"
#include "maps.h"

/* The backend the table of the Service port names at hash; its id in
 * *id. NULL: no table, an empty one, or a backend no longer active. */
static __always_inline const struct lbd_backend *
node_maglev_pick(__u32 svc_id, __u32 hash, __u32 *id)
{
	const struct lbd_maglev_chunk *head;
	const struct lbd_backend *be;
	__u32 zero = 0, m, n, slot;
	void *table;

	table = bpf_map_lookup_elem(&lbd_node_maglev, &svc_id);
	if (!table)
		return NULL;
	head = bpf_map_lookup_elem(table, &zero);
	if (!head)
		return NULL;
	m = head->w[0];
	n = head->w[1];
	if (!m || n > LBD_MAGLEV_MAX_LIST)
		return NULL;
	if (maglev_word(table, head, LBD_MAGLEV_HDR + n + hash % m,
			     &slot) ||
	    LBD_MAGLEV_CUR(slot) >= n ||
	    maglev_word(table, head, LBD_MAGLEV_HDR + LBD_MAGLEV_CUR(slot),
			     id))
		return NULL;
	be = bpf_map_lookup_elem(&lbd_node_backends, id);
	/* userspace swaps the table before it frees a backend, but a
	 * connect may race the two */
	if (!be || be->state != LBD_BE_ACTIVE)
		return NULL;
	return be;
}

/* Whether an affinity entry's backend still serves new connections of
 * the Service port. */
static __always_inline bool node_aff_usable(const struct lbd_backend *be,
					    const struct lbd_aff *a,
					    __u32 svc_id)
{
	return be && be->gen == a->backend_gen && be->state == LBD_BE_ACTIVE &&
	       be->svc_id == svc_id;
}

static __always_inline void node_count(enum lbd_node_reason r)
{
	__u32 key = r;
	__u64 *c = bpf_map_lookup_elem(&lbd_node_stats, &key);

	/* atomic: these programs run in process context, preemptible on
	 * the CPU they are pinned to, unlike XDP's softirq */
	if (c)
		__sync_fetch_and_add(c, 1);
}

static __always_inline const struct lbd_backend *
node_affinity_pick(void *ctx, const struct lbd_node_svc *svc, __u32 now)
{
	struct lbd_node_aff_key k = { .svc_id = svc->id };
	const struct lbd_backend *be;
	struct lbd_aff *a, fresh;
	__u32 id;

	k.netns_cookie = bpf_get_netns_cookie(ctx);
	a = bpf_map_lookup_elem(&lbd_node_affinity, &k);
	if (a && !lbd_idle_over(now, a->last_seen, svc->affinity_timeout)) {
		be = bpf_map_lookup_elem(&lbd_node_backends, &a->backend_id);
		if (node_aff_usable(be, a, svc->id)) {
			if (a->last_seen != now)
				a->last_seen = now;
			node_count(LBD_NODE_AFFINITY_HIT);
			return be;
		}
	}
	be = node_maglev_pick(svc->id,
			      lbd_node_hash(node_knobs.hash_seed, svc->id,
					    k.netns_cookie),
			      &id);
	if (!be)
		return NULL;
	fresh.backend_id = id;
	fresh.backend_gen = be->gen;
	fresh.last_seen = now;
	fresh.pad = 0;
	/* without an entry the next connect hashes alike: a failed update
	 * costs only a stale choice after the table changes */
	bpf_map_update_elem(&lbd_node_affinity, &k, &fresh, BPF_ANY);
	return be;
}

static __always_inline const struct lbd_backend *
node_select(void *ctx, const struct lbd_node_svc *svc, __u32 now)
{
	__u32 id;

	if (svc->flags & LBD_NODE_SVC_F_AFFINITY)
		return node_affinity_pick(ctx, svc, now);
	return node_maglev_pick(svc->id,
				lbd_node_hash(node_knobs.hash_seed, svc->id,
					      bpf_get_socket_cookie(ctx)),
				&id);
}

#endif /* LBD_NODE_SELECT_H */
