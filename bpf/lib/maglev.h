/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading a Maglev table as lbd writes it (include/lbd/shared.h: an inner
 * array map of struct lbd_maglev_chunk, laid end to end: M, N, the
 * backend list, then the slots), for the LB program and the node role's
 * socket programs alike.
 */
#ifndef LBD_BPF_MAGLEV_H
#define LBD_BPF_MAGLEV_H

#include "lib/common.h"

/* Word w of a table (struct lbd_maglev_chunk), head being its chunk 0. */
static __always_inline int
maglev_word(void *table, const struct lbd_maglev_chunk *head, __u32 w, __u32 *v)
{
	const struct lbd_maglev_chunk *chunk = head;
	__u32 k = w / LBD_MAGLEV_CHUNK;

	if (k) {
		chunk = bpf_map_lookup_elem(table, &k);
		if (!chunk)
			return -1;
	}
	*v = chunk->w[w % LBD_MAGLEV_CHUNK];
	return 0;
}

#endif /* LBD_BPF_MAGLEV_H */
