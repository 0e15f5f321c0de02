// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The prober process (prober.h). */
#include "prober.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msgch.h"
#include "proc.h"

_Static_assert(LBD_PROBE_STR_MAX == LBD_HC_STR_MAX, "hc_spec strings");

struct prober {
	sd_event *ev;
	struct msgch *parent;
	struct hc_engine *eng;
	/* verdicts to send at the end of the loop iteration */
	struct lbd_probe_verdict *verdicts;
	size_t n_verdicts, verdicts_cap;
	sd_event_source *flush;
	struct hc_result *results;
	struct lbd_probe_time *times;
	size_t results_cap;
};

const char *hc_state_str(enum hc_state s)
{
	return s == HC_UP ? "up" : s == HC_DOWN ? "down" : "unknown";
}

/* -- the messages ---------------------------------------------------------- */

void prober_check_encode(const struct hc_spec *s, struct lbd_probe_check *out)
{
	memset(out, 0, sizeof(*out));
	out->key = s->key;
	out->type = s->type;
	out->family = s->family;
	out->rise = s->rise;
	out->fall = s->fall;
	out->port = s->port;
	out->expect_status = s->expect_status;
	out->addr = s->addr;
	out->mark = s->mark;
	out->ifindex = s->ifindex;
	out->interval_ms = s->interval_ms;
	out->timeout_ms = s->timeout_ms;
	out->state = s->state;
	memcpy(out->path, s->path, sizeof(out->path));
	memcpy(out->host, s->host, sizeof(out->host));
	memcpy(out->query, s->query, sizeof(out->query));
}

/* The privileged process sent it: wrong input is its bug, reported by
 * leaving the check out. */
static int check_decode(const struct lbd_probe_check *c, struct hc_spec *s)
{
	if (c->type < LBD_HC_TCP || c->type > LBD_HC_UDP_DNS ||
	    (c->family != LBD_AF_INET && c->family != LBD_AF_INET6) ||
	    !c->port || !c->interval_ms || !c->timeout_ms || !c->rise ||
	    !c->fall || c->state > HC_DOWN ||
	    !msg_str_ok(c->path, sizeof(c->path)) ||
	    !msg_str_ok(c->host, sizeof(c->host)) ||
	    !msg_str_ok(c->query, sizeof(c->query)))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->key = c->key;
	s->type = c->type;
	s->family = c->family;
	s->rise = c->rise;
	s->fall = c->fall;
	s->port = c->port;
	s->expect_status = c->expect_status;
	s->addr = c->addr;
	s->mark = c->mark;
	s->ifindex = c->ifindex;
	s->interval_ms = c->interval_ms;
	s->timeout_ms = c->timeout_ms;
	s->state = c->state;
	memcpy(s->path, c->path, sizeof(s->path));
	memcpy(s->host, c->host, sizeof(s->host));
	memcpy(s->query, c->query, sizeof(s->query));
	return 0;
}

/* -- the process ----------------------------------------------------------- */

static int on_flush(sd_event_source *s, void *arg)
{
	struct prober *p = arg;
	int err;

	(void)s;
	sd_event_source_set_enabled(p->flush, SD_EVENT_OFF);
	if (!p->n_verdicts || !p->parent)
		return 0;
	err = msgch_send(p->parent, LBD_MSG_PROBE_VERDICT, 0, p->verdicts,
			 p->n_verdicts * sizeof(*p->verdicts));
	if (err)
		log_warnx("sending %zu verdicts: %s", p->n_verdicts,
			  strerror(-err));
	p->n_verdicts = 0;
	return 0;
}

/* Verdicts of one loop iteration go together: the privileged process
 * applies them with one table swap per service. */
static void on_verdict(void *arg, __u64 key, enum hc_state state,
		       const char *reason, unsigned int count)
{
	struct prober *p = arg;
	struct lbd_probe_verdict *v;

	if (p->n_verdicts == p->verdicts_cap) {
		size_t cap = p->verdicts_cap ? 2 * p->verdicts_cap : 64;

		v = realloc(p->verdicts, cap * sizeof(*v));
		if (!v) {
			log_warnx("no memory for a verdict");
			return;
		}
		p->verdicts = v;
		p->verdicts_cap = cap;
	}
	v = &p->verdicts[p->n_verdicts++];
	memset(v, 0, sizeof(*v));
	v->key = key;
	v->state = (__u8)state;
	v->count = count;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	sd_event_source_set_enabled(p->flush, SD_EVENT_ONESHOT);
}

static void checks_msg(struct prober *p, const struct lbd_probe_check *c,
		       size_t n)
{
	struct hc_spec *specs = calloc(n ? n : 1, sizeof(*specs));
	size_t i, k = 0;
	int err;

	if (!specs) {
		log_warnx("no memory for %zu checks", n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (check_decode(&c[i], &specs[k]))
			log_warnx("check %zu: incomplete; left out", i);
		else
			k++;
	}
	err = hc_engine_set(p->eng, specs, k);
	if (err)
		log_warnx("setting %zu checks: %s", k, strerror(-err));
	else
		log_debug("%zu checks", k);
	free(specs);
}

static void parent_msg(struct msgch *c, const struct lbd_msg_hdr *h,
		       const void *payload, void *arg)
{
	(void)c;
	if (h->type == LBD_MSG_PROBE_CHECKS)
		checks_msg(arg, payload,
			   h->len / sizeof(struct lbd_probe_check));
}

static void parent_gone(struct msgch *c, int err, void *arg)
{
	struct prober *p = arg;

	(void)c;
	if (err != -ECONNRESET)
		log_warnx("the channel to lbd: %s", strerror(-err));
	p->parent = NULL;
	sd_event_exit(p->ev, 0);
}

static int on_stats(sd_event_source *s, uint64_t usec, void *arg)
{
	struct prober *p = arg;
	struct lbd_probe_stats st;
	struct hc_stats hs;
	size_t i, n, k = 0;

	sd_event_source_set_time(s, usec + PROBER_STATS_S * 1000000ull);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	hc_engine_stats(p->eng, &hs, true);
	if (p->results_cap < hs.checks) {
		struct hc_result *r =
			realloc(p->results, hs.checks * sizeof(*r));
		struct lbd_probe_time *t;

		if (!r)
			return 0;
		p->results = r;
		t = realloc(p->times, hs.checks * sizeof(*t));
		if (!t)
			return 0;
		p->times = t;
		p->results_cap = hs.checks;
	}
	n = hc_engine_results(p->eng, p->results, p->results_cap);
	for (i = 0; i < n; i++) {
		if (!p->results[i].valid)
			continue;
		memset(&p->times[k], 0, sizeof(p->times[k]));
		p->times[k].key = p->results[i].key;
		p->times[k].latency_us = p->results[i].latency_us;
		p->times[k].ok = p->results[i].ok;
		k++;
	}
	st = (struct lbd_probe_stats){
		.runs = hs.runs,
		.ok = hs.ok,
		.failed = hs.failed,
		.late = hs.late,
		.checks = hs.checks,
		.running = hs.running,
		.max_lag_us = (__u64)(hs.max_lag_ms * 1000.0),
	};
	if (p->parent)
		msgch_send2(p->parent, LBD_MSG_PROBE_TIMES, 0, &st, sizeof(st),
			    p->times, k * sizeof(*p->times));
	return 0;
}

int prober_child_main(int argc, char **argv)
{
	struct prober p = { 0 };
	uint64_t now;
	int err;

	(void)argv;
	if (argc != 0) {
		log_warnx("prober: arguments it does not take");
		return 2;
	}
	if (hc_global_init() || proc_child_event(&p.ev) < 0)
		return 1;
	if (sd_event_add_defer(p.ev, &p.flush, on_flush, &p) < 0)
		return 1;
	sd_event_source_set_enabled(p.flush, SD_EVENT_OFF);
	if (hc_engine_new(p.ev, on_verdict, &p, &p.eng) < 0 ||
	    msgch_open(p.ev, PROC_CHANNEL_FD, parent_msg, parent_gone, &p,
		       &p.parent) < 0)
		return 1;
	sd_event_now(p.ev, CLOCK_MONOTONIC, &now);
	sd_event_add_time(p.ev, NULL, CLOCK_MONOTONIC,
			  now + PROBER_STATS_S * 1000000ull, 100000, on_stats,
			  &p);
	err = sd_event_loop(p.ev);
	hc_engine_free(p.eng);
	return err < 0 ? 1 : 0;
}
