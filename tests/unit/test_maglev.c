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
	cr_assert(maglev_is_prime(65537));
	cr_assert(!maglev_is_prime(65535));
}
