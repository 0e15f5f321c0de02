/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The backend companion's maps as configured (bpf/backend/maps.h), written by lbd
 * in the backend role and by the tests through the same code.
 */
#ifndef LBD_BEMAPS_H
#define LBD_BEMAPS_H

#include <stddef.h>

#include "config.h"

/*
 * Makes the peer tries lbd_be_peers4 (fd4) and lbd_be_peers6 (fd6) hold
 * exactly the prefixes given (host bits cleared, as config gives them):
 * entries not given are removed, missing ones added, the rest left
 * alone. 0 or a negative errno.
 */
int bemaps_sync_peers(int fd4, int fd6, const struct lbd_conf_addr *a,
		      size_t n);

/*
 * Makes the trusted sources' trie lbd_be_sources (fd) hold exactly the
 * prefixes given, of either family (an address is its /32 or /128; host
 * bits cleared, as config gives prefixes), as bemaps_sync_peers does. 0
 * or a negative errno (-E2BIG for more than LBD_BE_MAX_SOURCES).
 */
int bemaps_sync_sources(int fd, const struct lbd_conf_addr *a, size_t n);
/* The key of a's prefix in lbd_be_sources. */
void bemaps_src_key(const struct lbd_conf_addr *a, struct lbd_src_key *k);

#endif /* LBD_BEMAPS_H */
