/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The prober process: lbd's health checks run here, apart from what holds
 * CAP_BPF and CAP_NET_ADMIN, because they read what the network sends
 * (HTTP responses, DNS replies). It runs as LBD_IO_USER with one
 * capability left, CAP_NET_RAW, which setting SO_MARK and
 * SO_BINDTOIFINDEX on its check sockets needs (the mark sends a check
 * through the datapath, tc/hc.bpf.c), with no_new_privs.
 *
 * The privileged process (health.c) keeps the health state and gives
 * the prober the whole set of checks; the prober runs them (hc.c) and
 * reports the changes. JSON lines over a socket pair (ipc.h):
 *
 *   to the prober:    {"checks":[SPEC, ...]}
 *     SPEC = {"key":K,"type":"tcp"|"http"|"udp-dns","addr":"A","port":P,
 *             "mark":M,"ifindex":I,"interval_ms":N,"timeout_ms":N,
 *             "rise":N,"fall":N,"expect_status":N,"path":"/","host":"",
 *             "query":".","state":"unknown"|"up"|"down"}
 *   from the prober:  {"verdicts":[{"key":K,"state":"up"|"down",
 *                                   "reason":"refused","count":N}, ...]}
 *                     {"stats":{"runs":N,"ok":N,"failed":N,"late":N,
 *                               "max_lag_ms":X,"checks":N,"running":N},
 *                      "results":[K, latency_us, ok, K, ...]}
 *     (every PROBER_STATS_S seconds: the last result of every check)
 */
#ifndef LBD_PROBER_H
#define LBD_PROBER_H

#include <sys/types.h>
#include <json-c/json.h>

#include "hc.h"

#define PROBER_STATS_S 2

struct prober_child {
	pid_t pid;
	int ipc_fd; /* the privileged end */
};

/* Forks the prober; 0 with child filled, or a negative errno. */
int prober_spawn(struct prober_child *child);

/* The message that gives the prober its checks (caller puts it). */
struct json_object *prober_checks_msg(const struct hc_spec *specs, size_t n);

const char *hc_state_str(enum hc_state s);

#endif /* LBD_PROBER_H */
