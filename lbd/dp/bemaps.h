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

#endif /* LBD_BEMAPS_H */
