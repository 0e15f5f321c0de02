/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbd --check: what an edit costs the flows. For each service whose
 * Maglev table the new config changes, the share of slots whose owner
 * changes (the installed table, read back from the running datapath's
 * pinned maps, against the table the new config gives, built here with
 * maglev_build and written nowhere) and the established flows that sit
 * on them: conntrack entries within their idle timeout whose flow hashes
 * to a slot that moves.
 *
 * Library code: 0 or a negative errno; reads maps, writes none.
 */
#ifndef LBD_PREVIEW_H
#define LBD_PREVIEW_H

#include <stdio.h>

#include "datapath.h"
#include "state.h"

/*
 * Prints to out, per service of planned (state_plan: the services the new
 * config gives) whose table differs from the one st (the applied state,
 * adopted from dp) has: the slots that move and the flows on them. dp is
 * the running datapath (NULL: none; then it says that it cannot tell).
 * Seed, table size and timeouts of the new table as c gives them.
 */
int preview_print(struct lbd_dp *dp, const struct lbd_state *st,
		  const struct st_service *planned, size_t n,
		  const struct lbd_config *c, FILE *out);

#endif /* LBD_PREVIEW_H */
