/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The health check engine: many checks, each on its own schedule, all
 * asynchronous on one sd-event loop, no thread per check. TCP and DNS
 * checks are non-blocking sockets watched by the loop; HTTP checks are
 * libcurl transfers driven by the same loop (the multi interface, its
 * sockets and timer handed to sd-event). Runs in lbd's prober process
 * (prober.c), and in the benchmark.
 *
 * Each check keeps its state with hysteresis: rise consecutive successes
 * bring it up, fall consecutive failures down; the first result of a check
 * whose state is unknown decides at once. A change is reported with the
 * reason of the result that made it.
 *
 * Library code: 0 or a negative errno, never exits.
 */
#ifndef LBD_HC_H
#define LBD_HC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <systemd/sd-event.h>

#include "config.h"

enum hc_state {
	HC_UNKNOWN = 0, /* no result yet */
	HC_UP = 1,
	HC_DOWN = 2,
};

/* A check as the engine runs it. */
struct hc_spec {
	__u64 key; /* the caller's name for it; unique */
	__u8 type; /* LBD_HC_TCP, LBD_HC_HTTP or LBD_HC_UDP_DNS */
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	__u8 rise;
	__u8 fall;
	__u16 port; /* host order */
	__u16 expect_status; /* http */
	union lbd_addr addr; /* where it connects */
	__u32 mark; /* SO_MARK of its sockets; 0: none */
	__u32 ifindex; /* the interface its sockets are bound to; 0: none */
	__u32 interval_ms;
	__u32 timeout_ms;
	char path[LBD_HC_STR_MAX]; /* http */
	char host[LBD_HC_STR_MAX]; /* http Host; "": the address */
	char query[LBD_HC_STR_MAX]; /* udp-dns */
	__u8 state; /* enum hc_state a new check starts in */
};

/* A check's state changed: count consecutive results said so, the last
 * for reason ("ok", "refused", "timeout", "status 503", ...). */
typedef void (*hc_verdict_fn)(void *arg, __u64 key, enum hc_state state,
			      const char *reason, unsigned int count);

struct hc_stats {
	unsigned long long runs; /* checks started */
	unsigned long long ok, failed;
	unsigned long long late; /* started an interval or more late */
	double max_lag_ms; /* the latest start, since the last reset */
	size_t checks; /* checks configured */
	size_t running; /* in flight now */
};

/* The last result of a check. */
struct hc_result {
	__u64 key;
	__u32 latency_us; /* start to result */
	bool ok;
	bool valid; /* there was a result */
};

struct hc_engine;

int hc_engine_new(sd_event *ev, hc_verdict_fn fn, void *arg,
		  struct hc_engine **out);
void hc_engine_free(struct hc_engine *e);

/*
 * Makes the engine run exactly the checks of specs (n of them). A check
 * whose key was there already keeps its state, its schedule and, when its
 * spec is the same, its counters; a changed spec restarts the counting.
 * A new check starts in spec->state at a random point of its first
 * interval, so that many checks spread over time.
 */
int hc_engine_set(struct hc_engine *e, const struct hc_spec *specs, size_t n);

/* Counters; reset_lag starts a new max_lag_ms period. */
void hc_engine_stats(struct hc_engine *e, struct hc_stats *out, bool reset_lag);
/* The last result of every check, at most cap; returns how many. */
size_t hc_engine_results(const struct hc_engine *e, struct hc_result *out,
			 size_t cap);

/* Once per process, before any engine: libcurl's global state. */
int hc_global_init(void);

#endif /* LBD_HC_H */
