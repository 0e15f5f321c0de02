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

static __always_inline void node_count(enum lbd_node_reason r)
{
	__u32 key = r;
	__u64 *c = bpf_map_lookup_elem(&lbd_node_stats, &key);

	/* atomic: these programs run in process context, preemptible on
	 * the CPU they are pinned to, unlike XDP's softirq */
	if (c)
		__sync_fetch_and_add(c, 1);
}

/* Reads a table of a Service port may make before they give up, each
 * after a swap: userspace swaps a table once per change (ms apart). */
#define NODE_TABLE_TRIES 4

/*
 * One read of the table in use: the backend it names at hash, copied to
 * *be with its id in *id; 1 when there is none (no table, an empty one,
 * a backend no longer active). *dep gathers every word read, for
 * node_maglev_pick's check.
 */
static __always_inline int node_maglev_read(__u32 svc_id, __u32 seq, __u32 hash,
					    __u32 *id, struct lbd_backend *be,
					    __u32 *dep)
{
	const struct lbd_maglev_chunk *head;
	const struct lbd_backend *b;
	__u32 zero = 0, m, n, slot = 0, idx = 2 * svc_id + (seq & 1);
	void *table;

	table = bpf_map_lookup_elem(&lbd_node_maglev, &idx);
	if (!table)
		return 1;
	head = bpf_map_lookup_elem(table, &zero);
	if (!head)
		return 1;
	m = head->w[0];
	n = head->w[1];
	*dep ^= m ^ n;
	if (!m || n > LBD_MAGLEV_MAX_LIST)
		return 1;
	if (maglev_word(table, head, LBD_MAGLEV_HDR + n + hash % m, &slot))
		return 1;
	*dep ^= slot;
	if (LBD_MAGLEV_CUR(slot) >= n ||
	    maglev_word(table, head, LBD_MAGLEV_HDR + LBD_MAGLEV_CUR(slot), id))
		return 1;
	*dep ^= *id;
	b = bpf_map_lookup_elem(&lbd_node_backends, id);
	if (!b)
		return 1;
	/* a copy: once the check below passed, userspace may free the id
	 * and give it to another endpoint */
	*be = *b;
	*dep ^= be->addr.v6[0] ^ be->addr.v6[1] ^ be->addr.v6[2] ^
		be->addr.v6[3] ^ be->gen ^ be->svc_id ^ be->port ^ be->family ^
		be->state;
	return be->state == LBD_BE_ACTIVE ? 0 : 1;
}

/*
 * The backend the table of the Service port names at hash, in *be, its
 * id in *id; false: none (no table, an empty one, a backend no longer
 * active).
 *
 * A seqcount latch (the kernel's raw_write_seqcount_latch): of the two
 * tables of a Service port userspace rewrites only the one not in use,
 * then counts lbd_node_tblseq[id] up to make it the one in use, then
 * frees the backends that left; it never swaps inner maps for a change
 * of the endpoints, which would wait for an RCU grace period. A read
 * that saw the count unchanged after it read the table and the backend
 * read neither while they were written: the choice is wholly the old
 * table's or wholly the new one's, never a mix. Otherwise it reads again.
 */
static __always_inline bool node_maglev_pick(__u32 svc_id, __u32 hash,
					     __u32 *id, struct lbd_backend *be)
{
	volatile __u32 *seqp;
	__u32 seq, dep, i;
	int none;

	seqp = bpf_map_lookup_elem(&lbd_node_tblseq, &svc_id);
	if (!seqp)
		return false;
	for (i = 0; i < NODE_TABLE_TRIES; i++) {
		dep = 0;
		seq = *seqp;
		none = node_maglev_read(svc_id, seq, hash, id, be, &dep);
		/* the second read of the count must come after the reads of
		 * the table: an address that depends on every word read
		 * orders it on every CPU (x86 keeps loads in order anyway,
		 * arm64 honours address dependencies), where BPF before v3
		 * has no barrier; the asm hides from clang that it is 0 */
		asm volatile("%0 &= 0" : "+r"(dep));
		if (seqp[dep] == seq)
			return !none;
		node_count(LBD_NODE_TABLE_REREAD);
	}
	return false;
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

/* The endpoint of a client with session affinity, copied to *out;
 * false: none. */
static __always_inline bool node_affinity_pick(void *ctx,
					       const struct lbd_node_svc *svc,
					       __u32 now,
					       struct lbd_backend *out)
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
			*out = *be;
			return true;
		}
	}
	if (!node_maglev_pick(svc->id,
			      lbd_node_hash(node_knobs.hash_seed, svc->id,
					    k.netns_cookie),
			      &id, out))
		return false;
	fresh.backend_id = id;
	fresh.backend_gen = out->gen;
	fresh.last_seen = now;
	fresh.pad = 0;
	/* without an entry the next connect hashes alike: a failed update
	 * costs only a stale choice after the table changes */
	bpf_map_update_elem(&lbd_node_affinity, &k, &fresh, BPF_ANY);
	return true;
}

/* The endpoint of a connect() or datagram, copied to *out; false: none. */
static __always_inline bool node_select(void *ctx,
					const struct lbd_node_svc *svc,
					__u32 now, struct lbd_backend *out)
{
	__u32 id;

	if (svc->flags & LBD_NODE_SVC_F_AFFINITY)
		return node_affinity_pick(ctx, svc, now, out);
	return node_maglev_pick(svc->id,
				lbd_node_hash(node_knobs.hash_seed, svc->id,
					      bpf_get_socket_cookie(ctx)),
				&id, out);
}

#endif /* LBD_NODE_SELECT_H */
