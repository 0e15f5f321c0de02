// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "maglev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lbd/hash.h"

/* A second seed for the skip hash: the paper uses two independent hash
 * functions; one function under two seeds serves. */
#define MAGLEV_SKIP_SEED 0x9e3779b9u

int maglev_is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (d = 3; (__u64)d * d <= n; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

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

struct maglev_state {
	__u32 pos; /* current slot of its permutation */
	__u32 skip;
	__u64 credit;
};

int maglev_build(struct maglev_backend *b, size_t n, __u32 m, __u32 seed,
		 __u32 *table)
{
	struct maglev_state *st;
	__u8 *taken;
	__u32 wmax = 0, filled = 0;
	size_t i;

	if (m < 2 || !maglev_is_prime(m))
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
		free(st);
		free(taken);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		st[i].pos = backend_hash(&b[i], seed) % m;
		st[i].skip = backend_hash(&b[i], seed ^ MAGLEV_SKIP_SEED) %
				     (m - 1) +
			     1;
	}

	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			if (!b[i].weight)
				continue;
			st[i].credit += b[i].weight;
			while (st[i].credit >= wmax && filled < m) {
				__u32 pos = st[i].pos;

				st[i].credit -= wmax;
				/* next free slot of its preference list */
				while (taken[pos]) {
					pos += st[i].skip;
					if (pos >= m)
						pos -= m;
				}
				taken[pos] = 1;
				table[pos] = b[i].id;
				filled++;
				pos += st[i].skip;
				st[i].pos = pos >= m ? pos - m : pos;
			}
		}
	}
	free(st);
	free(taken);
	return 0;
}
