/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Health state (role "lb"), in the privileged process: which checks run
 * (from the applied state and config), what they found, and what that
 * did to the datapath. The checks themselves run in the prober process
 * (prober.h); its verdicts come back here and become runtime flags on
 * backends (state_set_flags, BE_FLAG_HEALTH_DOWN), a batch at a time: a
 * backend that is down leaves its service's Maglev table and its flows
 * select again; draining ones keep theirs (down wins over draining).
 *
 * A check is named by its service (VIP, port, protocol) and its backend
 * (address, port): across a reload it keeps its state while both stay.
 * A check starts unknown; until its first result the backend keeps what
 * the datapath has (a restarted lbd adopts "down" as health's verdict).
 */
#ifndef LBD_HEALTH_H
#define LBD_HEALTH_H

#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>

#include <systemd/sd-event.h>

#include "hc.h"
#include "state.h"

struct health;
struct lbd_dp;

/* What health sees of the daemon, and what it tells it. */
struct health_ctx {
	sd_event *ev;
	struct lbd_config *const *cfg; /* the applied config */
	struct lbd_state *st; /* the applied state */
	struct lbd_dp *const *dp; /* a reload may load another program */
	const int *ifindex; /* datapath.interface: checks via the datapath */
	/* b of s changed its state for cause ("health"): monitors hear of
	 * it */
	void (*backend_changed)(void *arg, const struct st_service *s,
				const struct st_backend *b, const char *cause);
	/* a batch of verdicts was written: the VIPs may follow */
	void (*verdicts_applied)(void *arg);
	void *arg;
};

/* What lbd knows about one backend's check. */
struct hm_check {
	struct lbd_svc_addr svc;
	struct lbd_conf_addr addr;
	__u16 port;
	__u64 key; /* the prober's name for it */
	struct hc_spec spec;
	enum hc_state state;
	char reason[96]; /* of the last change */
	unsigned int count; /* consecutive results that made it */
	time_t since; /* when it changed (wall clock); 0: never */
	unsigned long changes;
	__u32 latency_us; /* of the last result */
	bool last_ok;
	bool have_result;
};

/* Before the first apply after adoption: backends the datapath has down
 * are taken as down by health until their check says otherwise. */
void health_adopted(struct lbd_state *st);

/* On the event loop, after the role started: the prober and the checks,
 * into *out. */
int health_start(const struct health_ctx *x, struct health **out);
/* After an apply (reload): checks follow the state and the config. */
void health_sync(struct health *h);
/* Stops the prober and frees h (NULL: nothing). */
void health_stop(struct health *h);

/* The check of backend b of service s; NULL when it is not checked (or
 * h is NULL). */
const struct hm_check *health_of(const struct health *h,
				 const struct st_service *s,
				 const struct st_backend *b);
/* Whether b counts as up for announcing its VIP under cfg: not
 * configured down, and its check (if it has one) says up. */
bool health_backend_up(const struct health *h, const struct lbd_config *cfg,
		       const struct st_service *s, const struct st_backend *b);

/* For control and metrics: the prober's counters (nothing when h is
 * NULL). */
void health_json(const struct health *h, struct json_object *out);
struct lbd_metrics_head;
void health_metrics(const struct health *h, struct lbd_metrics_head *m);

#endif /* LBD_HEALTH_H */
