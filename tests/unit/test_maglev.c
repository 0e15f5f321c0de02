// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Maglev (NSDI 2016, section 3.4): balance, minimal disruption,
 * determinism, weights. */
#include <arpa/inet.h>
#include <errno.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

#define M 65537
#define SEED 0x5eed

static void backends(struct maglev_backend *b, int n)
{
	int i;

	memset(b, 0, (size_t)n * sizeof(*b));
	for (i = 0; i < n; i++) {
		b[i].family = LBD_AF_INET;
		b[i].addr.v4 = htonl(0xc6120100u + (uint32_t)i); /* 198.18.1.x */
		b[i].port = htons(8080);
		b[i].weight = 1;
		b[i].id = (uint32_t)i;
	}
}

static void counts(const uint32_t *t, uint32_t m, unsigned *c, int n)
{
	uint32_t i;

	memset(c, 0, (size_t)n * sizeof(*c));
	for (i = 0; i < m; i++) {
		cr_assert_lt(t[i], (uint32_t)n);
		c[t[i]]++;
	}
}

Test(maglev, hundred_equal_backends_within_one_percent_of_share)
{
	struct maglev_backend b[100];
	uint32_t *t = malloc(M * sizeof(*t));
	unsigned c[100];
	double share = (double)M / 100;
	int i;

	backends(b, 100);
	cr_assert_eq(maglev_build(b, 100, M, SEED, t), 0);
	counts(t, M, c, 100);
	for (i = 0; i < 100; i++) {
		cr_assert_geq(c[i], share * 0.99, "backend %d: %u slots", i,
			      c[i]);
		cr_assert_leq(c[i], share * 1.01, "backend %d: %u slots", i,
			      c[i]);
	}
	free(t);
}

Test(maglev, removal_moves_about_one_nth)
{
	enum { N = 50 };
	struct maglev_backend b[N];
	uint32_t *a = malloc(M * sizeof(*a)), *z = malloc(M * sizeof(*z));
	uint32_t i, moved = 0, lost = 0;

	backends(b, N);
	cr_assert_eq(maglev_build(b, N, M, SEED, a), 0);
	backends(b, N);
	/* remove backend 17: ids stay those of the others */
	memmove(&b[17], &b[18], (N - 18) * sizeof(b[0]));
	cr_assert_eq(maglev_build(b, N - 1, M, SEED, z), 0);
	for (i = 0; i < M; i++) {
		if (a[i] == 17)
			lost++;
		else if (a[i] != z[i])
			moved++;
	}
	/* the removed backend's slots (1/N) must move; others barely:
	 * the paper measures well under 1/N of extra disruption */
	cr_assert_geq(lost, M / N * 0.99);
	cr_assert_lt(moved, M / N / 2, "%u slots of other backends moved",
		     moved);
	free(a);
	free(z);
}

Test(maglev, same_input_same_table_in_any_order)
{
	struct maglev_backend b[20], r[20];
	uint32_t *a = malloc(M * sizeof(*a)), *z = malloc(M * sizeof(*z));
	int i;

	backends(b, 20);
	for (i = 0; i < 20; i++)
		r[i] = b[19 - i];
	cr_assert_eq(maglev_build(b, 20, M, SEED, a), 0);
	cr_assert_eq(maglev_build(r, 20, M, SEED, z), 0);
	cr_assert_arr_eq(a, z, M * sizeof(*a));
	backends(b, 20);
	cr_assert_eq(maglev_build(b, 20, M, SEED + 1, z), 0);
	cr_assert(memcmp(a, z, M * sizeof(*a)), "another seed, another "
						"table");
	free(a);
	free(z);
}

Test(maglev, weights_give_proportional_shares)
{
	struct maglev_backend b[3];
	uint32_t *t = malloc(M * sizeof(*t));
	unsigned c[3];

	backends(b, 3);
	b[0].weight = 1;
	b[1].weight = 2;
	b[2].weight = 5;
	cr_assert_eq(maglev_build(b, 3, M, SEED, t), 0);
	counts(t, M, c, 3);
	cr_assert_float_eq(c[0] / (double)M, 1 / 8.0, 0.002);
	cr_assert_float_eq(c[1] / (double)M, 2 / 8.0, 0.002);
	cr_assert_float_eq(c[2] / (double)M, 5 / 8.0, 0.002);
	free(t);
}

Test(maglev, zero_weight_takes_no_slot)
{
	struct maglev_backend b[3];
	uint32_t t[251];
	unsigned c[3];

	backends(b, 3);
	b[1].weight = 0;
	cr_assert_eq(maglev_build(b, 3, 251, SEED, t), 0);
	counts(t, 251, c, 3);
	cr_assert_eq(c[1], 0);
	cr_assert_eq(c[0] + c[2], 251);
}

Test(maglev, rejects_non_prime_and_empty)
{
	struct maglev_backend b[2];
	uint32_t t[300];

	backends(b, 2);
	cr_assert_eq(maglev_build(b, 2, 256, SEED, t), -EINVAL);
	cr_assert_eq(maglev_build(b, 0, 251, SEED, t), -ENOENT);
	b[0].weight = b[1].weight = 0;
	cr_assert_eq(maglev_build(b, 2, 251, SEED, t), -ENOENT);
	cr_assert(lbd_is_prime(65537));
	cr_assert(!lbd_is_prime(65535));
}

/*
 * The reference: the paper's population loop, plainly written, with the
 * same identities, sort, hashes and weighted turns. maglev_build is
 * optimised (probing four at a time, an endgame for the last slots) and
 * must give the same table bit for bit.
 */
#include "lbd/hash.h"

static uint32_t ref_hash(const struct maglev_backend *b, uint32_t seed)
{
	uint32_t h = seed;
	int i;

	for (i = 0; i < 4; i++)
		h = lbd_hash_mix(h, b->addr.v6[i]);
	h = lbd_hash_mix(h, (uint32_t)b->port | ((uint32_t)b->family << 16));
	return lbd_hash_final(h, 5);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct maglev_backend *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->port == y->port ? 0 : x->port < y->port ? -1 : 1;
}

static void ref_build(struct maglev_backend *b, size_t n, uint32_t m,
		      uint32_t seed, uint32_t *table)
{
	uint32_t *pos = calloc(n, 4), *skip = calloc(n, 4), wmax = 0;
	uint64_t *credit = calloc(n, 8);
	uint8_t *taken = calloc(m, 1);
	uint32_t filled = 0;
	size_t i;

	qsort(b, n, sizeof(*b), ref_cmp);
	for (i = 0; i < n; i++) {
		pos[i] = ref_hash(&b[i], seed) % m;
		skip[i] = ref_hash(&b[i], seed ^ 0x9e3779b9u) % (m - 1) + 1;
		if (b[i].weight > wmax)
			wmax = b[i].weight;
	}
	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			if (!b[i].weight)
				continue;
			credit[i] += b[i].weight;
			while (credit[i] >= wmax && filled < m) {
				credit[i] -= wmax;
				while (taken[pos[i]])
					pos[i] = (pos[i] + skip[i]) % m;
				taken[pos[i]] = 1;
				table[pos[i]] = b[i].id;
				filled++;
				pos[i] = (pos[i] + skip[i]) % m;
			}
		}
	}
	free(pos);
	free(skip);
	free(credit);
	free(taken);
}

Test(maglev, optimised_build_equals_the_reference_on_random_inputs)
{
	static const uint32_t primes[] = { 251, 1021, 4093, 16381, 65537 };
	struct maglev_backend a[64], b[64];
	uint32_t *ta = malloc(65537 * 4), *tb = malloc(65537 * 4);
	int round;

	srand(7);
	for (round = 0; round < 60; round++) {
		uint32_t m = primes[round % 5], seed = (uint32_t)rand();
		size_t n = 1 + (size_t)rand() % 64, i;

		memset(a, 0, sizeof(a));
		for (i = 0; i < n; i++) {
			a[i].family = rand() % 2 ? LBD_AF_INET : LBD_AF_INET6;
			a[i].addr.v6[0] = (uint32_t)rand();
			a[i].addr.v6[3] = (uint32_t)rand();
			a[i].port = (uint16_t)rand();
			a[i].weight = (uint32_t)(rand() % 5);
			a[i].id = (uint32_t)i;
		}
		a[0].weight = 1 + (uint32_t)(rand() % 3);
		memcpy(b, a, sizeof(a));
		cr_assert_eq(maglev_build(a, n, m, seed, ta), 0);
		ref_build(b, n, m, seed, tb);
		cr_assert_arr_eq(ta, tb, m * 4, "round %d: M %u, %zu backends",
				 round, m, n);
	}
	free(ta);
	free(tb);
}
