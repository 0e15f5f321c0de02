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

#include "hc.h"
#include "state.h"

struct lbd_daemon;

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

/* On the event loop, after the role started: the prober and the checks. */
int health_start(struct lbd_daemon *d);
/* After an apply (reload): checks follow the state and the config. */
void health_sync(struct lbd_daemon *d);
void health_stop(struct lbd_daemon *d);

/* The check of backend b of service s; NULL when it is not checked. */
const struct hm_check *health_of(const struct lbd_daemon *d,
				 const struct st_service *s,
				 const struct st_backend *b);
/* Whether b counts as up for announcing its VIP: not configured down,
 * and its check (if it has one) says up. */
bool health_backend_up(const struct lbd_daemon *d, const struct st_service *s,
		       const struct st_backend *b);

/* For control and metrics: the prober's counters. */
void health_json(const struct lbd_daemon *d, struct json_object *out);

#endif /* LBD_HEALTH_H */
