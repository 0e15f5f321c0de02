/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and
 * Reliable Software Network Load Balancer", NSDI 2016, section 3.4), with
 * weights.
 *
 * Each backend's preference list is a permutation of the M slots given by
 * offset and skip hashed from its identity (family, address, port) and
 * the seed; M prime makes every skip generate a full permutation. Backends
 * take turns claiming their next free preferred slot until the table is
 * full. With weights, a backend's turns come in proportion to its weight
 * (the "relative frequency of turns" the paper suggests): each round every
 * backend earns its weight in credit and claims a slot per w_max credit.
 *
 * The result depends only on the set of backends and the seed, not on
 * their order: they are sorted by identity first, so every LB host with
 * the same config builds the same table.
 */
#ifndef LBD_MAGLEV_H
#define LBD_MAGLEV_H

#include <stddef.h>
#include <linux/types.h>

#include "lbd/shared.h"

struct maglev_backend {
	union lbd_addr addr;
	__u8 family;
	__be16 port;
	__u32 weight; /* 0: takes no slots */
	__u32 id; /* what the table holds for it */
};

/*
 * Fills table[0..m-1] with backend ids. m must be prime. Returns 0, or
 * -EINVAL (m not usable) or -ENOENT (no backend with a weight); the
 * backends array is reordered.
 */
int maglev_build(struct maglev_backend *b, size_t n, __u32 m, __u32 seed,
		 __u32 *table);

#endif /* LBD_MAGLEV_H */
