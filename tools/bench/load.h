/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The benchmarks' LB: a config text on a datapath of their own. */
#ifndef LBD_BENCH_LOAD_H
#define LBD_BENCH_LOAD_H

#include "config.h"
#include "datapath.h"
#include "state.h"

/*
 * Loads text as lbd loads a config file (its messages to stderr), opens
 * its datapath unpinned (the benchmark's own maps, never a running
 * lbd's) and applies it through state_apply. 0 or a negative errno;
 * *cfg, *dp and *st are the caller's to release either way (config_free,
 * dp_close, state_free: st is zeroed first).
 */
int bench_lb_load(const char *text, struct lbd_config **cfg,
		  struct lbd_dp **dp, struct lbd_state *st);

#endif /* LBD_BENCH_LOAD_H */
