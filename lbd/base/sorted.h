/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Searching and sorting arrays that may be empty. */
#ifndef LBD_SORTED_H
#define LBD_SORTED_H

#include <stdlib.h>

/*
 * bsearch and qsort, for arrays that may be empty with a NULL base: the C
 * library's are undefined on NULL even for 0 elements (UBSan says so).
 */
static inline void *sorted_find(const void *key, const void *base, size_t n,
				size_t size,
				int (*cmp)(const void *, const void *))
{
	return n ? bsearch(key, base, n, size, cmp) : NULL;
}

static inline void sorted_sort(void *base, size_t n, size_t size,
			       int (*cmp)(const void *, const void *))
{
	if (n)
		qsort(base, n, size, cmp);
}

#endif /* LBD_SORTED_H */
