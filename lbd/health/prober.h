/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The prober process ("lbd --child prober", lbd/proc): lbd's health
 * checks run here, apart from what holds CAP_BPF and CAP_NET_ADMIN,
 * because they read what the network sends (HTTP responses, DNS
 * replies). It runs as processes.user with one capability left,
 * CAP_NET_RAW, which setting SO_MARK and SO_BINDTOIFINDEX on its check
 * sockets needs (the mark sends a check through the datapath,
 * bpf/lb/hc.bpf.c), with no_new_privs.
 *
 * The privileged process (health.c) keeps the health state and gives
 * the prober the whole set of checks; the prober runs them (hc.c) and
 * reports the changes. Fixed-layout messages (msg.h):
 *
 *   to the prober:    LBD_MSG_PROBE_CHECKS, a struct lbd_probe_check per
 *                     check (prober_check_encode)
 *   from the prober:  LBD_MSG_PROBE_VERDICT, a struct lbd_probe_verdict
 *                     per change of one loop iteration;
 *                     LBD_MSG_PROBE_TIMES every PROBER_STATS_S seconds:
 *                     the counters, then the last result of every check
 */
#ifndef LBD_PROBER_H
#define LBD_PROBER_H

#include "hc.h"
#include "msg.h"

#define PROBER_STATS_S 2

/* The prober's main, with its channel to lbd on fd 3. */
int prober_child_main(int argc, char **argv);

/* A check as the prober is given it. */
void prober_check_encode(const struct hc_spec *s, struct lbd_probe_check *out);

const char *hc_state_str(enum hc_state s);

#endif /* LBD_PROBER_H */
