// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lbd/hash.h"

/* A second seed for the skip hash: the paper uses two independent hash
 * functions; one function under two seeds serves. */
#define MAGLEV_SKIP_SEED 0x9e3779b9u

/*
 * How the table fills, and where the time goes. A backend's next
 * preferred slot is free with probability about F/M when F slots are
 * left, so filling costs up to M ln M probes, a third to a half of them
 * for the last sqrt(M) slots (M/F per slot). Probing is a chain of
 * dependent additions ended, for each slot, by a branch that no predictor
 * can learn, and in the middle of the fill that branch is most of the
 * cost: a bitmap for the taken slots, other layouts and branch-free
 * batches of probes all measured slower than this byte array. Two things
 * do help, and neither changes which slot a backend takes:
 *
 * - once 7/8 of the table is full, four slots of a list are probed per
 *   round (four independent chains instead of one, checked in order);
 * - for the last sqrt(M)/2 slots the endgame stops probing: the next free
 *   slot of a list is the free slot it reaches in the fewest steps, and
 *   the steps from pos to s number (s - pos) * skip^-1 mod M. That costs F
 *   per slot instead of M/F.
 *
 * The remainders of those products (below M^2 < 2^40) come from a
 * multiplication by ceil(2^64 / M), exact for numerators below
 * 2^(64 - log2 M) (Lemire, Kaser and Kurz, "Faster Remainder by Direct
 * Computation", 2019); the endgame is used for M below 2^20, which
 * covers LBD_MAGLEV_MAX.
 */
#define MAGLEV_ENDGAME_MAX_M (1u << 20)

static __u32 backend_hash(const struct maglev_backend *b, __u32 seed)
{
	__u32 h = seed;
	int i;

	for (i = 0; i < 4; i++)
		h = lbd_hash_mix(h, b->addr.v6[i]);
	h = lbd_hash_mix(h, (__u32)b->port | ((__u32)b->family << 16));
	return lbd_hash_final(h, 5);
}

static int backend_cmp(const void *a, const void *b)
{
	const struct maglev_backend *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return 0;
}

/* The free slots once the endgame starts, and what ranking them needs. */
struct maglev_endgame {
	__u32 *slots; /* in no particular order */
	__u32 n;
	__u32 *inv; /* per backend: skip^-1 mod M, 0 until first needed */
	__u64 c; /* ceil(2^64 / M) */
};

struct maglev_state {
	__u32 pos; /* the next slot of its preference list to try */
	__u32 skip;
	__u64 credit;
	__u32 step[4]; /* (j + 1) * skip mod M, for probing four at a time */
};

/* x mod m for x < 2^40 (see above) */
static inline __u32 maglev_mod(__u64 c, __u32 m, __u64 x)
{
	return (__u32)(((unsigned __int128)(c * x) * m) >> 64);
}

/* a^-1 mod m for a prime m and 0 < a < m (extended Euclid) */
static __u32 maglev_inverse(__u32 a, __u32 m)
{
	__s64 t = 0, nt = 1, r = m, nr = a, q, x;

	while (nr) {
		q = r / nr;
		x = t - q * nt;
		t = nt;
		nt = x;
		x = r - q * nr;
		r = nr;
		nr = x;
	}
	return (__u32)(t < 0 ? t + m : t);
}

static inline __u32 maglev_wrap(__u32 x, __u32 m)
{
	return x >= m ? x - m : x;
}

/*
 * The next free slot from pos on, probing four slots of the list at a
 * time: four independent chains of additions instead of one keep the
 * CPU busy while the table fills up and most probes miss.
 */
static inline __u32 maglev_next_free4(const __u8 *taken, __u32 m, __u32 pos,
				      const __u32 step[4])
{
	__u32 q0 = pos, q1 = maglev_wrap(pos + step[0], m),
	      q2 = maglev_wrap(pos + step[1], m),
	      q3 = maglev_wrap(pos + step[2], m);

	for (;;) {
		if (!taken[q0])
			return q0;
		if (!taken[q1])
			return q1;
		if (!taken[q2])
			return q2;
		if (!taken[q3])
			return q3;
		q0 = maglev_wrap(q0 + step[3], m);
		q1 = maglev_wrap(q1 + step[3], m);
		q2 = maglev_wrap(q2 + step[3], m);
		q3 = maglev_wrap(q3 + step[3], m);
	}
}

static int maglev_endgame_init(struct maglev_endgame *e, const __u8 *taken,
			       __u32 m, __u32 n_free, size_t n)
{
	__u32 s;

	e->slots = malloc((size_t)n_free * sizeof(*e->slots));
	e->inv = calloc(n, sizeof(*e->inv));
	if (!e->slots || !e->inv)
		return -ENOMEM;
	e->n = 0;
	/* eight slots at a time: nearly all are taken */
	for (s = 0; s + 8 <= m; s += 8) {
		__u64 w;
		int j;

		memcpy(&w, taken + s, sizeof(w));
		if (w == 0x0101010101010101ull)
			continue;
		for (j = 0; j < 8; j++)
			if (!taken[s + j])
				e->slots[e->n++] = s + j;
	}
	for (; s < m; s++)
		if (!taken[s])
			e->slots[e->n++] = s;
	e->c = ~0ull / m + 1;
	return 0;
}

/* Takes the free slot that pos reaches in the fewest steps of skip: the
 * one probing would find. Out of line: inlined, it costs the probing loop
 * of maglev_build registers. */
static __attribute__((noinline)) __u32
maglev_endgame_take(struct maglev_endgame *e, __u32 m, __u32 pos, __u32 skip,
		    __u32 *inv)
{
	__u32 i, best = 0, best_steps = ~0u, s;

	if (!*inv)
		*inv = maglev_inverse(skip, m);
	for (i = 0; i < e->n; i++) {
		__u32 d = e->slots[i] >= pos ? e->slots[i] - pos :
					       e->slots[i] + m - pos;
		__u32 steps = maglev_mod(e->c, m, (__u64)d * *inv);

		if (steps < best_steps) {
			best_steps = steps;
			best = i;
		}
	}
	s = e->slots[best];
	e->slots[best] = e->slots[--e->n];
	return s;
}

/* Free slots at which the endgame starts. Scanning F slots gets cheaper
 * than M/F probes below about sqrt(M); a scan step (three
 * multiplications) costs more than a probe, and sqrt(M)/2 measured
 * best. */
static __u32 maglev_endgame_size(__u32 m)
{
	__u32 f = 1;

	if (m >= MAGLEV_ENDGAME_MAX_M)
		return 0;
	while (f * f < m)
		f++;
	return f / 2 ? f / 2 : 1;
}

int maglev_build(struct maglev_backend *b, size_t n, __u32 m, __u32 seed,
		 __u32 *table)
{
	struct maglev_endgame eg = { 0 };
	struct maglev_state *st;
	__u8 *taken;
	__u32 wmax = 0, filled = 0, chains, endgame;
	size_t i;
	int j, err = 0;

	if (m < 2 || !lbd_is_prime(m))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (b[i].weight > wmax)
			wmax = b[i].weight;
	if (!n || !wmax)
		return -ENOENT;

	qsort(b, n, sizeof(*b), backend_cmp);
	st = calloc(n, sizeof(*st));
	taken = calloc(m, 1);
	if (!st || !taken) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		st[i].pos = backend_hash(&b[i], seed) % m;
		st[i].skip =
			backend_hash(&b[i], seed ^ MAGLEV_SKIP_SEED) % (m - 1) +
			1;
		for (j = 0; j < 4; j++)
			st[i].step[j] =
				(__u32)((__u64)(j + 1) * st[i].skip % m);
	}
	/* where probing changes gear (see the top of the file): four
	 * chains once 7/8 of the table is full (pos + step stays below 2^32
	 * for m up to 2^31), then the endgame */
	chains = m <= 1u << 31 ? m - m / 8 : m;
	endgame = m - maglev_endgame_size(m);

	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			if (!b[i].weight)
				continue;
			st[i].credit += b[i].weight;
			while (st[i].credit >= wmax && filled < m) {
				__u32 pos = st[i].pos;

				st[i].credit -= wmax;
				if (filled < chains) {
					/* next free slot of its list */
					while (taken[pos]) {
						pos += st[i].skip;
						if (pos >= m)
							pos -= m;
					}
				} else if (filled < endgame) {
					pos = maglev_next_free4(taken, m, pos,
								st[i].step);
				} else {
					if (!eg.slots) {
						err = maglev_endgame_init(
							&eg, taken, m,
							m - filled, n);
						if (err)
							goto out;
					}
					pos = maglev_endgame_take(&eg, m, pos,
								  st[i].skip,
								  &eg.inv[i]);
				}
				taken[pos] = 1;
				table[pos] = b[i].id;
				filled++;
				pos += st[i].skip;
				st[i].pos = pos >= m ? pos - m : pos;
			}
		}
	}
out:
	free(eg.slots);
	free(eg.inv);
	free(st);
	free(taken);
	return err;
}
