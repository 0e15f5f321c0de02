/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The endpoint of a socket's connect() or datagram: the Service port's
 * Maglev table at lbd_node_hash of the socket cookie, or with session
 * affinity the client's entry while it is fresh and the table in use
 * still names its endpoint, else the table at the hash of the client (its
 * netns cookie).
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

/* The head chunk of the Service port's table seq selects, its table in
 * *table; NULL when there is none. */
static __always_inline const struct lbd_maglev_chunk *
node_table_head(__u32 svc_id, __u32 seq, void **table)
{
	__u32 zero = 0, idx = 2 * svc_id + (seq & 1);

	*table = bpf_map_lookup_elem(&lbd_node_maglev, &idx);
	if (!*table)
		return NULL;
	return bpf_map_lookup_elem(*table, &zero);
}

/* Backend id copied to *be, its words gathered in *dep; 1 when there is
 * none. A copy: once node_pick's check passed, userspace may free the id
 * and give it to another endpoint. */
static __always_inline int node_be_copy(__u32 *id, struct lbd_backend *be,
					__u32 *dep)
{
	const struct lbd_backend *b =
		bpf_map_lookup_elem(&lbd_node_backends, id);

	if (!b)
		return 1;
	*be = *b;
	*dep ^= be->addr.v6[0] ^ be->addr.v6[1] ^ be->addr.v6[2] ^
		be->addr.v6[3] ^ be->gen ^ be->svc_id ^ be->port ^ be->family ^
		be->state;
	return 0;
}

/*
 * One read of the table in use: the backend it names at hash, copied to
 * *be with its id in *id; 1 when there is none (no table, an empty one,
 * a backend no longer active). *dep gathers every word read, for
 * node_pick's check.
 */
static __always_inline int node_maglev_read(__u32 svc_id, __u32 seq, __u32 hash,
					    __u32 *id, struct lbd_backend *be,
					    __u32 *dep)
{
	const struct lbd_maglev_chunk *head;
	__u32 m, n, slot = 0;
	void *table;

	head = node_table_head(svc_id, seq, &table);
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
	if (node_be_copy(id, be, dep))
		return 1;
	return be->state == LBD_BE_ACTIVE ? 0 : 1;
}

/* node_maglev_has's binary search: its state (plain numbers), and one
 * step, which finds the table again by id and seq (two array lookups;
 * only an affinity check of a large table takes this path). */
struct node_bsearch {
	__u32 svc_id, seq, want;
	__u32 lo, hi, dep;
	__u32 found; /* 1: want is in the list; 2: a chunk was missing */
};

static long node_bsearch_step(__u64 i, void *ctx)
{
	struct node_bsearch *s = ctx;
	const struct lbd_maglev_chunk *head;
	void *table;
	__u32 mid, v = 0;

	(void)i;
	if (s->lo >= s->hi)
		return 1;
	head = node_table_head(s->svc_id, s->seq, &table);
	mid = (s->lo + s->hi) / 2;
	if (!head || maglev_word(table, head, LBD_MAGLEV_HDR + mid, &v)) {
		s->found = 2;
		return 1;
	}
	s->dep ^= v;
	if (v == s->want) {
		s->found = 1;
		return 1;
	}
	if (v < s->want)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/*
 * With session affinity: whether the large table in use names backend
 * want of gen want_gen (want_id_gen: want << 32 | want_gen; 5 arguments
 * at most), copied to *be; 0: it does, 1: it does not. The
 * list of a table is sorted (lbd/dp/node.c node_table_build): a binary
 * search, 16 steps for the longest list. Only a backend the table in use
 * names is never rewritten while the latch holds: one named by a stale
 * entry may be given to another endpoint during the copy.
 *
 * A global function, verified once on its own, and its search a
 * bpf_loop, whose step is verified once: as a loop of 16 steps the
 * verifier walked 424,000 instructions of it for each socket program
 * (kernel 6.18).
 */
__noinline int node_maglev_has(__u32 svc_id, __u32 seq, __u64 want_id_gen,
			       struct lbd_backend *be, __u32 *dep);
__noinline int node_maglev_has(__u32 svc_id, __u32 seq, __u64 want_id_gen,
			       struct lbd_backend *be, __u32 *dep)
{
	struct node_bsearch s = {
		.svc_id = svc_id,
		.seq = seq,
		.want = want_id_gen >> 32,
	};
	__u32 want_gen = (__u32)want_id_gen;
	const struct lbd_maglev_chunk *head;
	void *table;

	if (!be || !dep)
		return 1;
	head = node_table_head(svc_id, seq, &table);
	if (!head)
		return 1;
	s.hi = head->w[1];
	*dep ^= s.hi;
	if (s.hi > LBD_MAGLEV_MAX_LIST)
		return 1;
	bpf_loop(16, node_bsearch_step, &s, 0);
	*dep ^= s.dep;
	if (s.found != 1)
		return 1;
	if (node_be_copy(&s.want, be, dep))
		return 1;
	if (be->state != LBD_BE_ACTIVE || be->gen != want_gen ||
	    be->svc_id != svc_id)
		return 1;
	return 0;
}

/*
 * The index in t of the endpoint of id want and gen want_gen, or
 * LBD_NODE_INLINE_EPS when none of its first n is. A global function,
 * verified once on its own: inlined in node_pick's retries, each of its
 * 17 exits was a path of its own through the rest of them (the index is
 * precise), and the socket programs took 737,000 instructions of the
 * verifier's million each, 1.3 s to load (kernel 6.18).
 */
__noinline int node_small_find(const struct lbd_node_small_tbl *t, __u32 n,
			       __u32 want, __u32 want_gen);
__noinline int node_small_find(const struct lbd_node_small_tbl *t, __u32 n,
			       __u32 want, __u32 want_gen)
{
	__u32 i;

	if (!t)
		return LBD_NODE_INLINE_EPS;
	for (i = 0; i < LBD_NODE_INLINE_EPS; i++)
		if (i >= n || (t->ep[i].id == want && t->ep[i].gen == want_gen))
			break;
	return i < n ? i : LBD_NODE_INLINE_EPS;
}

/*
 * One read of the small table t[k] of n endpoints: the endpoint at hash,
 * or with aff the one of id want and gen want_gen, copied to *be with
 * its id in *id; 1 when there is none.
 */
static __always_inline int node_small_read(const struct lbd_node_small *sm,
					   __u32 k, __u32 n, __u32 svc_id,
					   __u32 hash, bool aff, __u32 want,
					   __u32 want_gen, __u32 *id,
					   struct lbd_backend *be, __u32 *dep)
{
	const struct lbd_node_small_tbl *t = &sm->t[k & 1];
	const struct lbd_node_small_ep *e;
	__u32 i;

	if (aff) {
		i = node_small_find(t, n, want, want_gen);
	} else {
		hash %= LBD_NODE_SMALL_M;
		/* clang's multiply for the modulo loses the verifier the
		 * bound: hide it, then check (kernel 6.18) */
		asm volatile("" : "+r"(hash));
		if (hash >= LBD_NODE_SMALL_M)
			return 1;
		i = t->slot[hash];
	}
	*dep ^= i;
	if (i >= n)
		return 1;
	/* LBD_NODE_INLINE_EPS is a power of 2: a mask the verifier sees
	 * on the register clang indexes with (a compare it may check on a
	 * copy; kernel 6.18) */
	asm volatile("%0 &= %1" : "+r"(i) : "i"(LBD_NODE_INLINE_EPS - 1));
	e = &t->ep[i];
	*id = e->id;
	be->addr = e->addr;
	be->port = e->port;
	be->family = e->family;
	be->state = LBD_BE_ACTIVE;
	be->gen = e->gen;
	be->svc_id = svc_id;
	be->weight = 0;
	be->pad = 0;
	*dep ^= e->id ^ e->addr.v6[0] ^ e->addr.v6[1] ^ e->addr.v6[2] ^
		e->addr.v6[3] ^ e->gen ^ e->port ^ e->family;
	return 0;
}

/*
 * The backend the Service port's table names at hash (or with aff, the
 * backend want of gen want_gen if the table names it), in *be, its id
 * in *id; false: none (no table, an empty one, a backend no longer
 * active, not named).
 *
 * A seqcount latch (the kernel's raw_write_seqcount_latch), two of them:
 * lbd_node_small[id] (lbd/node.h) holds two copies of the Service port's
 * small table, or says that its table is large, in lbd_node_maglev under
 * lbd_node_tblseq[id]. Of the two copies (tables) userspace rewrites only
 * the one not in use, then counts the seq up to make it the one in use,
 * then frees the backends that left; it never swaps inner maps for a
 * change of the endpoints, which would wait for an RCU grace period. A
 * read that saw both counts unchanged after it read the table and the
 * endpoint read neither while they were written: the choice is wholly
 * the old table's or wholly the new one's, never a mix. Otherwise it
 * reads again. A switch between the forms writes the new one first
 * (under its own latch), then flips the small entry's.
 *
 * Two global functions (node_pick_hash, node_pick_aff), each verified
 * once for all its callers: inlined, the retries of both forms made the
 * verifier walk over a million instructions (kernel 6.18); one function
 * for both would put node_maglev_has's frame on the tc path's stack,
 * over 512 bytes. The request and the answer sit in *r: a global
 * function takes 5 arguments at most.
 */
struct node_pick_req {
	__u32 svc_id;
	__u32 hash; /* node_pick_hash */
	__u32 want; /* node_pick_aff: want of gen want_gen, if named */
	__u32 want_gen;
	__u32 dep; /* scratch: every word read (node_pick) */
	__u32 id; /* the answer: the backend's id, and the backend */
	struct lbd_backend be;
};

static __always_inline int node_pick(struct node_pick_req *r, bool aff)
{
	const struct lbd_node_small *sm;
	volatile __u32 *seqp, *tseqp;
	__u32 seq, tseq = 0, n, i, z;
	int none;

	/* r's fields, not locals: the tc and NIC paths call this two
	 * frames deep, with little of the 512 bytes of stack left */
	if (!r)
		return 0;
	sm = bpf_map_lookup_elem(&lbd_node_small, &r->svc_id);
	tseqp = bpf_map_lookup_elem(&lbd_node_tblseq, &r->svc_id);
	if (!sm || !tseqp)
		return 0;
	seqp = (volatile __u32 *)&sm->seq;
	for (i = 0; i < NODE_TABLE_TRIES; i++) {
		r->dep = 0;
		seq = *seqp;
		/* an address that depends on seq: read after it */
		n = ((volatile const __u8 *)sm->n)[seq & 1];
		r->dep ^= n;
		if (n == LBD_NODE_SMALL_LARGE) {
			tseq = *tseqp;
			if (aff) {
				r->id = r->want;
				none = node_maglev_has(r->svc_id, tseq,
						       (__u64)r->want << 32 |
							       r->want_gen,
						       &r->be, &r->dep);
			} else {
				none = node_maglev_read(r->svc_id, tseq,
							r->hash, &r->id, &r->be,
							&r->dep);
			}
		} else {
			none = node_small_read(sm, seq, n, r->svc_id, r->hash,
					       aff, r->want, r->want_gen,
					       &r->id, &r->be, &r->dep);
		}
		/* the second read of the counts must come after the reads of
		 * the table: an address that depends on every word read
		 * orders it on every CPU (x86 keeps loads in order anyway,
		 * arm64 honours address dependencies), where BPF before v3
		 * has no barrier; the asm hides from clang that it is 0 */
		z = r->dep;
		asm volatile("%0 &= 0" : "+r"(z));
		if (seqp[z] == seq &&
		    (n != LBD_NODE_SMALL_LARGE || tseqp[z] == tseq))
			return !none;
		node_count(LBD_NODE_TABLE_REREAD);
	}
	return 0;
}

__noinline int node_pick_hash(struct node_pick_req *r);
__noinline int node_pick_hash(struct node_pick_req *r)
{
	return node_pick(r, false);
}

__noinline int node_pick_aff(struct node_pick_req *r);
__noinline int node_pick_aff(struct node_pick_req *r)
{
	return node_pick(r, true);
}

/* The backend the Service port's table names at hash; node_pick. */
static __always_inline bool node_maglev_pick(__u32 svc_id, __u32 hash,
					     __u32 *id, struct lbd_backend *be)
{
	struct node_pick_req r = { .svc_id = svc_id, .hash = hash };

	if (!node_pick_hash(&r))
		return false;
	*id = r.id;
	*be = r.be;
	return true;
}

/*
 * The endpoint of a client with session affinity, copied to *out;
 * false: none. The entry's backend counts while the table in use names
 * it with the entry's gen, and is read from that table under its latch:
 * an id freed and given to another endpoint while a connect copied it
 * from lbd_node_backends would give a torn endpoint.
 */
static __always_inline bool node_affinity_pick(void *ctx,
					       const struct lbd_node_svc *svc,
					       __u32 now,
					       struct lbd_backend *out)
{
	struct lbd_node_aff_key k = { .svc_id = svc->id };
	struct node_pick_req r = { .svc_id = svc->id };
	struct lbd_aff *a, fresh;
	__u32 id;

	k.netns_cookie = bpf_get_netns_cookie(ctx);
	a = bpf_map_lookup_elem(&lbd_node_affinity, &k);
	if (a && !lbd_idle_over(now, a->last_seen, svc->affinity_timeout)) {
		r.want = a->backend_id;
		r.want_gen = a->backend_gen;
		if (node_pick_aff(&r)) {
			if (a->last_seen != now)
				a->last_seen = now;
			node_count(LBD_NODE_AFFINITY_HIT);
			*out = r.be;
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
