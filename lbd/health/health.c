// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Health state in the privileged process (health.h). */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>

#include "log.h"
#include "msg.h"
#include "prober.h"
#include "proc.h"
#include "sorted.h"


struct health {
	struct health_ctx x;
	struct proc *prober; /* started and respawned by lbd/proc */
	struct hm_check *checks; /* sorted by service, address, port */
	size_t n;
	struct hm_check **by_key; /* sorted by key */
	__u64 next_key;
	/* the prober's counters, as last reported */
	unsigned long long runs, ok, failed, late, running;
	double max_lag_ms;
};

static int ident_cmp(const void *x, const void *y)
{
	const struct hm_check *a = x, *b = y;
	int c = svc_addr_cmp(&a->svc, &b->svc);

	return c ? c :
		   config_endpoint_cmp(&a->addr, a->port, &b->addr, b->port);
}

static int key_cmp(const void *x, const void *y)
{
	const struct hm_check *a = *(struct hm_check *const *)x;
	const struct hm_check *b = *(struct hm_check *const *)y;

	return a->key < b->key ? -1 : a->key > b->key;
}

static struct hm_check *find_ident(const struct health *h,
				   const struct st_service *s,
				   const struct st_backend *b)
{
	struct hm_check k = { .svc = s->key, .addr = b->addr, .port = b->port };

	return sorted_find(&k, h->checks, h->n, sizeof(*h->checks), ident_cmp);
}

static struct hm_check *find_key(const struct health *h, __u64 key)
{
	struct hm_check k = { .key = key }, *kp = &k, **r;

	r = sorted_find(&kp, h->by_key, h->n, sizeof(*h->by_key), key_cmp);
	return r ? *r : NULL;
}

static const char *check_label(const struct health *h, const struct hm_check *c,
			       char *buf, size_t len)
{
	const struct st_service *s = state_find(h->x.st, &c->svc);
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->addr.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &c->addr.addr, a, sizeof(a));
	snprintf(buf, len,
		 c->addr.family == LBD_AF_INET6 ? "%s backend [%s]:%u" :
						  "%s backend %s:%u",
		 s ? s->name : "?", a, c->port);
	return buf;
}

void health_adopted(struct lbd_state *st)
{
	size_t i, j;

	for (i = 0; i < st->n_svc; i++)
		for (j = 0; j < st->svc[i].n_be; j++)
			if (st->svc[i].be[j].dp_state == LBD_BE_DOWN)
				st->svc[i].be[j].health_down = true;
}

/* What the prober runs for backend b of s with settings hs. */
static void spec_of(const struct health *h, const struct st_service *s,
		    const struct st_backend *b,
		    const struct lbd_conf_health *hs, struct hc_spec *out)
{
	memset(out, 0, sizeof(*out));
	out->type = hs->type;
	out->rise = hs->rise;
	out->fall = hs->fall;
	out->interval_ms = hs->interval_ms;
	out->timeout_ms = hs->timeout_ms;
	out->expect_status = hs->expect_status;
	snprintf(out->path, sizeof(out->path), "%s", hs->path);
	snprintf(out->host, sizeof(out->host), "%s", hs->host);
	snprintf(out->query, sizeof(out->query), "%s", hs->query);
	if (hs->via == LBD_HC_VIA_DATAPATH) {
		/* to the VIP, marked for bpf/lb/hc.bpf.c, which waits on the
		 * edge NIC: the socket leaves by it or not at all */
		out->family = s->key.family;
		out->addr = s->key.vip;
		out->port = ntohs(s->key.port);
		out->mark = LBD_HC_MARK(b->id);
		out->ifindex = (__u32)*h->x.ifindex;
	} else {
		out->family = b->addr.family;
		out->addr = b->addr.addr;
		out->port = hs->port ? hs->port : b->port;
	}
}

static void send_checks(struct health *h)
{
	struct lbd_probe_check *m;
	struct hc_spec spec;
	size_t i;
	int err;

	if (!proc_pid(h->prober))
		return; /* prober_up sends them */
	m = calloc(h->n ? h->n : 1, sizeof(*m));
	if (!m) {
		log_warnx("health: no memory to send %zu checks", h->n);
		return;
	}
	for (i = 0; i < h->n; i++) {
		spec = h->checks[i].spec;
		spec.key = h->checks[i].key;
		spec.state = h->checks[i].state;
		prober_check_encode(&spec, &m[i]);
	}
	err = proc_send(h->prober, LBD_MSG_PROBE_CHECKS, 0, m,
			h->n * sizeof(*m));
	if (err)
		log_warnx("health: sending %zu checks to the prober: %s", h->n,
			  strerror(-err));
	free(m);
}

/* Writes the flags changes ask for, tells monitors, re-evaluates the
 * announcements. */
static void apply_changes(struct health *h, struct be_change *ch, size_t n,
			  const char *cause)
{
	struct apply_result r;
	size_t i, j;
	int err;

	if (!n)
		return;
	err = state_set_flags(h->x.st, *h->x.dp, BE_FLAG_HEALTH_DOWN, ch, n,
			      NULL, NULL, &r);
	if (err < 0) {
		log_warnx("health: writing %zu verdicts: %s", n,
			  strerror(-err));
		return;
	}
	if (err)
		log_debug("health: %d backends changed, %u tables, %lu map "
			  "writes",
			  err, r.tables, r.writes);
	for (i = 0; i < n; i++) {
		const struct st_service *s = state_find(h->x.st, &ch[i].svc);

		for (j = 0; s && j < s->n_be; j++)
			if (s->be[j].port == ch[i].port &&
			    !memcmp(&s->be[j].addr, &ch[i].addr,
				    sizeof(ch[i].addr)))
				h->x.backend_changed(h->x.arg, s, &s->be[j],
						     cause);
	}
	h->x.verdicts_applied(h->x.arg);
}

/* A batch of verdicts from the prober: records checked here field by
 * field (a key lbd does not know is a check that left with a reload). */
static void on_verdicts(struct health *h, const struct lbd_probe_verdict *v,
			size_t n)
{
	struct be_change *ch = calloc(n ? n : 1, sizeof(*ch));
	size_t i, k = 0;

	if (!ch)
		return;
	for (i = 0; i < n; i++) {
		struct hm_check *c;
		char label[160];

		if ((v[i].state != HC_UP && v[i].state != HC_DOWN) ||
		    !msg_str_ok(v[i].reason, sizeof(v[i].reason))) {
			log_warnx("health: the prober sent a verdict out of "
				  "range; ignored");
			continue;
		}
		/* a check that left with a reload may still report */
		c = find_key(h, v[i].key);
		if (!c)
			continue;
		c->state = v[i].state;
		snprintf(c->reason, sizeof(c->reason), "%s", v[i].reason);
		c->count = v[i].count;
		c->since = time(NULL);
		c->changes++;
		if (c->state == HC_UP)
			log_info("health: %s up (%u success%s in a row)",
				 check_label(h, c, label, sizeof(label)),
				 c->count, c->count == 1 ? "" : "es");
		else
			log_info("health: %s down: %s (%u failure%s in a row)",
				 check_label(h, c, label, sizeof(label)),
				 c->reason, c->count, c->count == 1 ? "" : "s");
		ch[k].svc = c->svc;
		ch[k].addr = c->addr;
		ch[k].port = c->port;
		ch[k].value = c->state == HC_DOWN;
		k++;
	}
	apply_changes(h, ch, k, "health");
	free(ch);
}

static void on_times(struct health *h, const struct lbd_probe_stats *st,
		     const struct lbd_probe_time *t, size_t n)
{
	size_t i;

	h->runs = st->runs;
	h->ok = st->ok;
	h->failed = st->failed;
	h->late = st->late;
	h->running = st->running;
	h->max_lag_ms = (double)st->max_lag_us / 1000.0;
	for (i = 0; i < n; i++) {
		struct hm_check *c = find_key(h, t[i].key);

		if (!c)
			continue;
		c->latency_us = t[i].latency_us;
		c->last_ok = t[i].ok != 0;
		c->have_result = true;
	}
}

/* From the prober: msg_check has checked the length against the type
 * (whole records, within the bound). */
static void prober_msg(struct proc *p, const struct lbd_msg_hdr *hd,
		       const void *payload, void *arg)
{
	struct health *h = arg;

	(void)p;
	if (hd->type == LBD_MSG_PROBE_VERDICT)
		on_verdicts(h, payload,
			    hd->len / sizeof(struct lbd_probe_verdict));
	else if (hd->type == LBD_MSG_PROBE_TIMES)
		on_times(h, payload,
			 (const struct lbd_probe_time
				  *)((const char *)payload +
				     sizeof(struct lbd_probe_stats)),
			 (hd->len - sizeof(struct lbd_probe_stats)) /
				 sizeof(struct lbd_probe_time));
}

/* A prober (re)started: it begins from the states lbd holds. While none
 * runs, the health state stays as it was (the datapath keeps the last
 * verdicts). */
static void prober_up(struct proc *p, pid_t pid, void *arg)
{
	struct health *h = arg;

	(void)p;
	log_debug("prober process %d runs the health checks", (int)pid);
	/* proc_start calls this before it returned h->prober */
	h->prober = p;
	send_checks(h);
}

void health_sync(struct health *h)
{
	const struct lbd_state *st;
	struct hm_check *next = NULL, **by_key = NULL;
	struct be_change *ch = NULL;
	size_t i, j, n = 0, total = 0, k = 0;

	if (!h)
		return;
	st = h->x.st;
	for (i = 0; i < st->n_svc; i++)
		total += st->svc[i].n_be;
	next = calloc(total ? total : 1, sizeof(*next));
	by_key = calloc(total ? total : 1, sizeof(*by_key));
	ch = calloc(total ? total : 1, sizeof(*ch));
	if (!next || !by_key || !ch) {
		log_warnx("health: no memory for %zu checks", total);
		goto out;
	}
	for (i = 0; i < st->n_svc; i++) {
		const struct st_service *s = &st->svc[i];

		for (j = 0; j < s->n_be; j++) {
			const struct st_backend *b = &s->be[j];
			const struct lbd_conf_health *hs =
				&(*h->x.cfg)->healths[b->health];
			struct hm_check *old, *c;
			bool want;

			if (hs->type == LBD_HC_NONE) {
				/* not checked (any more): up, for health */
				if (b->health_down) {
					ch[k].svc = s->key;
					ch[k].addr = b->addr;
					ch[k].port = b->port;
					ch[k++].value = false;
				}
				continue;
			}
			c = &next[n++];
			old = find_ident(h, s, b);
			if (old) {
				*c = *old;
			} else {
				memset(c, 0, sizeof(*c));
				c->svc = s->key;
				c->addr = b->addr;
				c->port = b->port;
				c->key = ++h->next_key;
				c->state = HC_UNKNOWN;
			}
			spec_of(h, s, b, hs, &c->spec);
			/* the datapath follows what the check last said;
			 * unknown leaves it as it is */
			if (c->state == HC_UNKNOWN)
				continue;
			want = c->state == HC_DOWN;
			if (b->health_down != want) {
				ch[k].svc = s->key;
				ch[k].addr = b->addr;
				ch[k].port = b->port;
				ch[k++].value = want;
			}
		}
	}
	/* the state is sorted by service and backend, so next is too */
	for (i = 0; i < n; i++)
		by_key[i] = &next[i];
	qsort(by_key, n, sizeof(*by_key), key_cmp);
	free(h->checks);
	free(h->by_key);
	h->checks = next;
	h->by_key = by_key;
	h->n = n;
	next = NULL;
	by_key = NULL;
	send_checks(h);
	apply_changes(h, ch, k, "health");
out:
	free(next);
	free(by_key);
	free(ch);
}

int health_start(const struct health_ctx *x, struct health **out)
{
	/* SO_MARK and SO_BINDTOIFINDEX on its check sockets: the mark
	 * sends a check through the datapath (bpf/lb/hc.bpf.c) */
	struct proc_spec spec = { .kind = PROC_PROBER,
				  .user = (*x->cfg)->processes.user,
				  .caps = 1ULL << CAP_NET_RAW };
	struct health *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->x = *x;
	*out = h;
	err = proc_start(x->ev, &spec, prober_msg, prober_up, h, &h->prober);
	if (err)
		log_warnx("starting the prober process: %s", strerror(-err));
	health_sync(h);
	return 0;
}

void health_stop(struct health *h)
{
	if (!h)
		return;
	proc_stop(h->prober);
	free(h->checks);
	free(h->by_key);
	free(h);
}

const struct hm_check *health_of(const struct health *h,
				 const struct st_service *s,
				 const struct st_backend *b)
{
	return h ? find_ident(h, s, b) : NULL;
}

bool health_backend_up(const struct health *h, const struct lbd_config *cfg,
		       const struct st_service *s, const struct st_backend *b)
{
	const struct hm_check *c;

	if (b->conf_state == LBD_CS_DOWN)
		return false;
	if (cfg->healths[b->health].type == LBD_HC_NONE)
		return true;
	c = health_of(h, s, b);
	return c && c->state == HC_UP;
}

void health_json(const struct health *h, struct json_object *out)
{
	size_t i, up = 0, down = 0;

	if (!h)
		return;
	for (i = 0; i < h->n; i++) {
		up += h->checks[i].state == HC_UP;
		down += h->checks[i].state == HC_DOWN;
	}
	json_object_object_add(out, "checks", json_object_new_int64(h->n));
	json_object_object_add(out, "up", json_object_new_int64(up));
	json_object_object_add(out, "down", json_object_new_int64(down));
	json_object_object_add(out, "unknown",
			       json_object_new_int64(h->n - up - down));
	json_object_object_add(out, "prober_pid",
			       json_object_new_int(proc_pid(h->prober)));
	json_object_object_add(out, "prober_restarts",
			       json_object_new_int64(proc_restarts(h->prober)));
	json_object_object_add(out, "runs", json_object_new_int64(h->runs));
	json_object_object_add(out, "ok", json_object_new_int64(h->ok));
	json_object_object_add(out, "failed", json_object_new_int64(h->failed));
	json_object_object_add(out, "late", json_object_new_int64(h->late));
	json_object_object_add(out, "running",
			       json_object_new_int64(h->running));
	json_object_object_add(out, "max_lag_ms",
			       json_object_new_double(h->max_lag_ms));
}

void health_metrics(const struct health *h, struct lbd_metrics_head *m)
{
	size_t i;

	if (!h)
		return;
	m->flags |= LBD_MET_F_HEALTH;
	m->hc_checks = h->n;
	for (i = 0; i < h->n; i++) {
		m->hc_up += h->checks[i].state == HC_UP;
		m->hc_down += h->checks[i].state == HC_DOWN;
	}
	m->hc_unknown = h->n - m->hc_up - m->hc_down;
	m->hc_prober_restarts = h->prober ? proc_restarts(h->prober) : 0;
	m->hc_runs = h->runs;
	m->hc_failed = h->failed;
	m->hc_late = h->late;
	m->hc_running = h->running;
	m->hc_max_lag_ms = h->max_lag_ms;
}
