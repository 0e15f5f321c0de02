// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The privileged side of the control protocol: requests relayed by the io
 * process (io.c), already checked for who may send them and with their
 * arguments normalised, answered from the daemon's state and the
 * datapath's maps. Every answer is {"id":N,"ok":true,"data":...} or
 * {"id":N,"ok":false,"error":"..."}.
 *
 * Nothing here waits: map walks are bounded by the map sizes, the
 * monitor's ring buffer is read a bounded number of events per loop
 * iteration, and what goes to the io process is queued without blocking
 * (and dropped, counted, when the io process does not keep up).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "control.h"
#include "companion.h"
#include "ctwalk.h"
#include "drains.h"
#include "explain.h"
#include "sockdiag.h"
#include "health.h"
#include "io.h"
#include "monitor.h"
#include "ctlreq.h"
#include "log.h"
#include "prober.h"
#include "proc.h"
#include "vips.h"

#ifndef LBD_VERSION
#define LBD_VERSION "?"
#endif

/* Events read from the ring buffer per loop iteration: the loop (and the
 * watchdog) is never held up by a flood of drops. */
#define MON_BUDGET 256
/* Past this backlog towards the io process, events are dropped (and
 * counted) rather than queued. */
#define MON_BACKLOG (4u << 20)
/* Entries listed by "conntrack" unless asked otherwise. */
#define CT_LIST_DEFAULT 1000

static const char *const reason_labels[] = {
#define LBD_REASON_LABEL(e, label, desc) label,
	LBD_REASONS(LBD_REASON_LABEL)
#undef LBD_REASON_LABEL
};

static const char *const reason_descs[] = {
#define LBD_REASON_DESC(e, label, desc) desc,
	LBD_REASONS(LBD_REASON_DESC)
#undef LBD_REASON_DESC
};

static const char *const reason_enums[] = {
#define LBD_REASON_NAME(e, label, desc) #e,
	LBD_REASONS(LBD_REASON_NAME)
#undef LBD_REASON_NAME
};

#define jstr(s) json_object_new_string(s)
#define jint(i) json_object_new_int64((int64_t)(i))
#define jbool(b) json_object_new_boolean(b)
#define jdbl(x) json_object_new_double(x)
#define jadd(o, k, v) json_object_object_add(o, k, v)

/* What a reason counts, from its name in the shared header: drops,
 * passes to the kernel, events, or forwarded packets. */
static const char *reason_kind(int r)
{
	const char *e = reason_enums[r];

	if (strstr(e, "_DROP_"))
		return "drop";
	if (!strncmp(e, "LBD_PASS_", 9))
		return "pass";
	if (!strncmp(e, "LBD_EV_", 7))
		return "event";
	return "forward";
}

static const char *addr_str(__u8 family, const union lbd_addr *a, char *buf,
			    size_t len)
{
	return inet_ntop(family == LBD_AF_INET ? AF_INET : AF_INET6, a, buf,
			 (socklen_t)len);
}

/* "addr:port", "[addr6]:port" */
static const char *hostport_str(__u8 family, const union lbd_addr *a,
				__u16 port, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	addr_str(family, a, s, sizeof(s));
	snprintf(buf, len, family == LBD_AF_INET6 ? "[%s]:%u" : "%s:%u", s,
		 port);
	return buf;
}

static const char *be_label(const struct st_backend *b, char *buf, size_t len)
{
	return hostport_str(b->addr.family, &b->addr.addr, b->port, buf, len);
}

static const char *proto_str(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return "other";
}

static const char *be_state_str(__u8 s)
{
	return s == LBD_BE_ACTIVE   ? "active" :
	       s == LBD_BE_DRAINING ? "draining" :
	       s == LBD_BE_DOWN	    ? "down" :
				      "unused";
}

static double uptime_s(const struct lbd_daemon *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - d->started.tv_sec) +
	       (now.tv_nsec - d->started.tv_nsec) / 1e9;
}

static double start_time_s(const struct lbd_daemon *d)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + now.tv_nsec / 1e9 - uptime_s(d);
}

/* -- normalised arguments (io.c wrote them) ------------------------------ */

struct hostport {
	bool set;
	__u8 family; /* LBD_AF_* */
	union lbd_addr addr;
	__u16 port; /* host order, 0: any */
};

/* {"family":4|6,"address":"...","port":N} at key; -EINVAL if malformed. */
static int arg_hostport(struct json_object *args, const char *key,
			struct hostport *hp)
{
	struct json_object *o, *f, *a, *p;
	int fam;

	memset(hp, 0, sizeof(*hp));
	if (!args || !json_object_object_get_ex(args, key, &o))
		return 0;
	if (!json_object_object_get_ex(o, "family", &f) ||
	    !json_object_object_get_ex(o, "address", &a) ||
	    !json_object_object_get_ex(o, "port", &p))
		return -EINVAL;
	fam = json_object_get_int(f) == 4 ? AF_INET : AF_INET6;
	if (inet_pton(fam, json_object_get_string(a), &hp->addr) != 1)
		return -EINVAL;
	hp->family = fam == AF_INET ? LBD_AF_INET : LBD_AF_INET6;
	hp->port = (__u16)json_object_get_int(p);
	hp->set = true;
	return 1;
}

static const char *arg_str(struct json_object *args, const char *key)
{
	struct json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static bool arg_true(struct json_object *args, const char *key)
{
	struct json_object *v;

	return args && json_object_object_get_ex(args, key, &v) &&
	       json_object_get_boolean(v);
}

static bool hp_matches(const struct hostport *hp, __u8 family,
		       const union lbd_addr *a, __u16 port)
{
	if (!hp->set)
		return true;
	if (hp->family != family || memcmp(&hp->addr, a, sizeof(*a)))
		return false;
	return !hp->port || hp->port == port;
}

/* -- status, services, backends, stats ------------------------------------ */

static size_t drains_count(const struct lbd_daemon *d)
{
	struct drain_set s;
	char path[PATH_MAX];
	size_t n;

	drains_path(d->cfg->control.socket, path, sizeof(path));
	if (drains_load(path, &s))
		return 0;
	n = s.n;
	drains_free(&s);
	return n;
}

static struct json_object *k8s_json(struct lbd_daemon *d);

/* The last apply's result and what the datapath serves (state.h). */
static struct json_object *apply_json(const struct lbd_daemon *d)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "ok", jint(!d->st.last_err));
	jadd(o, "serving", jstr(state_served_str(d->st.served)));
	jadd(o, "error", jstr(d->st.last_err ? strerror(-d->st.last_err) : ""));
	jadd(o, "failures", jint(d->st.failures));
	jadd(o, "rollback_failures", jint(d->st.rollback_failures));
	return o;
}

static int ctl_status(struct lbd_daemon *d, struct json_object *args,
		      struct json_object *out, char *err, size_t errlen)
{
	struct json_object *cfg = json_object_new_object();
	struct json_object *reload = json_object_new_object();
	struct json_object *errors = json_object_new_array();
	struct json_object *ctl = json_object_new_object();
	struct json_object *mon = json_object_new_object();
	struct json_object *bird = json_object_new_object();
	size_t i, nbe = 0;

	(void)args;
	(void)err;
	(void)errlen;
	jadd(out, "version", jstr(LBD_VERSION));
	jadd(out, "role",
	     jstr(d->cfg->role == LBD_ROLE_BACKEND ? "backend" : "lb"));
	jadd(out, "uptime_s", jdbl(uptime_s(d)));
	jadd(cfg, "file", jstr(d->config_path));
	jadd(cfg, "generation", jint(d->generation));
	jadd(cfg, "reloads", jint(d->reloads));
	jadd(cfg, "reload_failures", jint(d->reload_failures));
	jadd(reload, "ok", jbool(d->last_ok));
	jadd(reload, "ms", jdbl(d->last_ms));
	for (i = 0; i < d->n_last_errors; i++)
		json_object_array_add(errors, jstr(d->last_errors[i]));
	jadd(reload, "errors", errors);
	jadd(cfg, "last_reload", reload);
	jadd(out, "config", cfg);
	jadd(ctl, "socket", jstr(d->cfg->control.socket));
	jadd(ctl, "group", jstr(d->cfg->control.group));
	jadd(ctl, "metrics_listen", jstr(d->cfg->control.metrics_listen));
	jadd(out, "control", ctl);
	jadd(mon, "active", jbool(d->mon_mask || d->mon_state));
	jadd(mon, "drops", jbool(d->mon_mask & LBD_MON_DROPS));
	jadd(mon, "flows", jbool(d->mon_mask & LBD_MON_FLOWS));
	jadd(mon, "health", jbool(d->mon_state));
	jadd(mon, "lost", jint(d->mon_lost));
	jadd(out, "monitor", mon);
	if (d->cfg->role == LBD_ROLE_LB)
		jadd(out, "kubernetes", k8s_json(d));
	vips_json(d, bird);
	jadd(out, "bird", bird);

	if (d->cfg->role == LBD_ROLE_BACKEND) {
		struct json_object *dp = json_object_new_object();

		jadd(dp, "interface", jstr(d->cfg->node.interface));
		jadd(dp, "trusted_lbs", jint(d->cfg->node.n_lb_sources));
		jadd(dp, "vips", jint(d->cfg->node.n_vips));
		jadd(out, "datapath", dp);
	} else {
		struct json_object *dp = json_object_new_object();

		jadd(dp, "interface", jstr(d->cfg->dp.interface));
		jadd(dp, "attached", jbool(d->att.prog_id != 0 && d->attached));
		jadd(dp, "program_id", jint(d->att.prog_id));
		jadd(dp, "mode", jstr(d->att.native ? "native" : "generic"));
		jadd(dp, "dispatcher", jbool(d->att.dispatcher));
		jadd(dp, "pin_path", jstr(d->cfg->dp.pin_path));
		jadd(out, "datapath", dp);
		jadd(out, "apply", apply_json(d));
		for (i = 0; i < d->st.n_svc; i++)
			nbe += d->st.svc[i].n_be;
		jadd(out, "services", jint(d->st.n_svc));
		jadd(out, "backends", jint(nbe));
		jadd(out, "drains", jint(drains_count(d)));
		{
			struct json_object *h = json_object_new_object();

			health_json(d, h);
			jadd(out, "health", h);
		}
	}
	return 0;
}

static struct json_object *traffic_json(const struct lbd_traffic *t)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "packets", jint(t->packets));
	jadd(o, "bytes", jint(t->bytes));
	jadd(o, "new_flows", jint(t->new_flows));
	return o;
}

static size_t active_backends(const struct st_service *s)
{
	size_t j, n = 0;

	for (j = 0; j < s->n_be; j++)
		n += s->be[j].dp_state == LBD_BE_ACTIVE;
	return n;
}

static const char *flow_state_str(const struct st_service *s)
{
	return s->flags & LBD_SVC_F_FLOW_BACKENDS ? "backends" : "lb";
}

static const char *udp_flow_state_str(const struct st_service *s)
{
	return s->flags & LBD_SVC_F_UDP_STATELESS ? "none" : "lb";
}

static void service_json(struct lbd_daemon *d, const struct st_service *s,
			 struct json_object *o)
{
	char a[INET6_ADDRSTRLEN];

	jadd(o, "name", jstr(s->name));
	jadd(o, "vip",
	     jstr(addr_str(s->key.family, &s->key.vip, a, sizeof(a))));
	jadd(o, "port", jint(ntohs(s->key.port)));
	jadd(o, "protocol", jstr(config_proto_str(s->key.proto)));
	jadd(o, "forwarding", jstr(config_fwd_str(s->fwd)));
	/* where flow state lives (docs/flow-state.md) */
	jadd(o, "flow_state", jstr(flow_state_str(s)));
	jadd(o, "udp_flow_state", jstr(udp_flow_state_str(s)));
	jadd(o, "no_backend",
	     jstr(s->flags & LBD_SVC_F_UNREACH_ICMP ? "reject" : "drop"));
	jadd(o, "backends", jint(s->n_be));
	jadd(o, "active_backends", jint(active_backends(s)));
	jadd(o, "table_size", jint(s->table_size));
	jadd(o, "source", jstr(s->source[0] ? s->source : s->adopted ?
						      "adopted" : "-"));
	(void)d;
}

/* The Kubernetes client's state, for status and metrics. */
static struct json_object *k8s_json(struct lbd_daemon *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *res = json_object_new_array();
	size_t i, n = 0;
	int r, e;

	jadd(o, "configured", jbool(d->cfg->k8s.enabled));
	if (!d->cfg->k8s.enabled) {
		json_object_put(res);
		return o;
	}
	jadd(o, "server", jstr(d->kc.server));
	jadd(o, "context", jstr(d->kc.context));
	jadd(o, "load_balancer_class", jstr(d->cfg->k8s.lb_class));
	jadd(o, "synced", jbool(d->k8s && k8s_synced(d->k8s)));
	jadd(o, "synced_at_s", jdbl(d->k8s_synced_at));
	for (i = 0; i < d->st.n_svc; i++)
		n += !strncmp(d->st.svc[i].source, "kubernetes ", 11);
	jadd(o, "services", jint(n));
	jadd(o, "applies", jint(d->k8s_applies));
	jadd(o, "apply_failures", jint(d->k8s_apply_failures));
	jadd(o, "last_apply_s", jdbl(d->k8s_last_apply_ms / 1000));
	jadd(o, "refused_total", jint(d->src.refusals));
	jadd(o, "refused", jint(d->src.n_refused));
	jadd(o, "refusals", lb_k8s_refusals_json(d));
	for (r = 0; d->k8s && r < K8S_RESOURCES; r++) {
		const struct k8s_stats *st = k8s_stats(d->k8s);
		struct json_object *x = json_object_new_object();
		struct json_object *ev = json_object_new_object();

		jadd(x, "resource", jstr(k8s_resource_name(r)));
		jadd(x, "listed", jbool(st->listed[r]));
		jadd(x, "watching", jbool(st->watching[r]));
		jadd(x, "objects", jint(st->objects[r]));
		jadd(x, "lists", jint(st->lists[r]));
		jadd(x, "gone", jint(st->gone[r]));
		jadd(x, "watch_restarts", jint(st->watch_restarts[r]));
		jadd(x, "failures", jint(st->failures[r]));
		jadd(x, "too_large", jint(st->too_large[r]));
		jadd(x, "failing", jbool(st->failing[r]));
		jadd(x, "last_error", jstr(st->last_error[r]));
		for (e = 0; e < K8S_EVENTS; e++)
			jadd(ev, k8s_event_name(e), jint(st->events[r][e]));
		jadd(x, "events", ev);
		json_object_array_add(res, x);
	}
	jadd(o, "resources", res);
	return o;
}

static int ctl_services(struct lbd_daemon *d, struct json_object *args,
			struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list = json_object_new_array();
	size_t i;

	(void)args;
	(void)err;
	(void)errlen;
	for (i = 0; i < d->st.n_svc; i++) {
		const struct st_service *s = &d->st.svc[i];
		struct json_object *o = json_object_new_object();
		struct lbd_traffic t = { 0 };

		dp_svc_traffic(d->dp, s->id, &t);
		service_json(d, s, o);
		jadd(o, "traffic", traffic_json(&t));
		json_object_array_add(list, o);
	}
	jadd(out, "services", list);
	return 0;
}

/* -- conntrack ------------------------------------------------------------- */

/* Backends by id, for one request (the state does not change during
 * it). */
struct be_ref {
	const struct st_service *s;
	const struct st_backend *b;
};

static struct be_ref *be_index(const struct lbd_daemon *d)
{
	struct be_ref *idx = calloc(d->st.max_backends, sizeof(*idx));
	size_t i, j;

	if (!idx)
		return NULL;
	for (i = 0; i < d->st.n_svc; i++)
		for (j = 0; j < d->st.svc[i].n_be; j++) {
			const struct st_backend *b = &d->st.svc[i].be[j];

			if (b->id < d->st.max_backends) {
				idx[b->id].s = &d->st.svc[i];
				idx[b->id].b = b;
			}
		}
	return idx;
}

/* The backend an entry names, if it still does (same generation). */
static const struct be_ref *ct_backend(const struct be_ref *idx, __u32 max,
				       const struct lbd_ct *v)
{
	if (v->backend_id >= max || !idx[v->backend_id].b ||
	    idx[v->backend_id].b->gen != v->backend_gen)
		return NULL;
	return &idx[v->backend_id];
}

struct flows_count {
	struct lbd_daemon *d;
	__u32 *per_be; /* live entries per backend id */
	__u32 now;
	unsigned long entries[2], live[2]; /* ipv4, ipv6 */
};

static void count_one(void *arg, const struct dp_ct_flow *f)
{
	struct flows_count *c = arg;
	int fam = f->family == LBD_AF_INET6;

	c->entries[fam]++;
	if (!dp_ct_live(c->d->dp, f->proto, &f->v, c->now))
		return;
	c->live[fam]++;
	if (c->per_be && f->v.backend_id < c->d->st.max_backends)
		c->per_be[f->v.backend_id]++;
}

/* Live conntrack entries per backend id (expired ones not counted); an
 * entry left by a previous holder of an id is not counted either. */
static int count_flows(struct lbd_daemon *d, struct flows_count *c)
{
	memset(c, 0, sizeof(*c));
	c->d = d;
	c->now = dp_ct_now();
	c->per_be = calloc(d->st.max_backends, sizeof(*c->per_be));
	if (!c->per_be)
		return -ENOMEM;
	return dp_ct_walk(d->dp, count_one, c);
}

/* A backend's health: "up", "down", "unknown" (checked, no result yet)
 * or "none" (not checked); the check's details; "healthy" is what the
 * datapath has (false: taken out by health). */
static void health_be_json(struct lbd_daemon *d, const struct st_service *s,
			   const struct st_backend *b, bool flat,
			   struct json_object *o)
{
	const struct lbd_conf_health *hs = &d->cfg->healths[b->health];
	const struct hm_check *c = health_of(d, s, b);
	struct json_object *h;
	char t[INET6_ADDRSTRLEN + 10];

	jadd(o, "health", jstr(hs->type == LBD_HC_NONE ? "none" :
			       c		      ? hc_state_str(c->state) :
							"unknown"));
	jadd(o, "healthy", jbool(!b->health_down));
	if (!c)
		return;
	if (flat) {
		jadd(o, "check_seconds", jdbl(c->latency_us / 1e6));
		jadd(o, "check_ok", jint(c->have_result && c->last_ok));
		jadd(o, "health_changes", jint(c->changes));
		jadd(o, "health_reason", jstr(c->reason));
		return;
	}
	h = json_object_new_object();
	jadd(h, "type", jstr(config_hc_type_str(hs->type)));
	jadd(h, "via", jstr(config_hc_via_str(hs->via)));
	jadd(h, "target", jstr(hostport_str(c->spec.family, &c->spec.addr,
					    c->spec.port, t, sizeof(t))));
	jadd(h, "interval_s", jdbl(hs->interval_ms / 1e3));
	jadd(h, "reason", jstr(c->reason));
	jadd(h, "since", jint(c->since));
	jadd(h, "changes", jint(c->changes));
	if (c->have_result) {
		jadd(h, "last_ok", jbool(c->last_ok));
		jadd(h, "last_ms", jdbl(c->latency_us / 1e3));
	}
	jadd(o, "health_check", h);
}

static void backend_json(struct lbd_daemon *d, const struct st_service *s,
			 const struct st_backend *b, const __u32 *flows,
			 double share, bool flat, struct json_object *o)
{
	struct lbd_traffic t = { 0 };
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];
	__u32 f = 0;

	if (flows)
		f = flows[b->id];
	/* the counters of a backend id count from when it got the id */
	dp_be_traffic(d->dp, b->id, &t);
	jadd(o, "service", jstr(s->name));
	jadd(o, "backend", jstr(be_label(b, l, sizeof(l))));
	jadd(o, "address",
	     jstr(addr_str(b->addr.family, &b->addr.addr, a, sizeof(a))));
	jadd(o, "port", jint(b->port));
	jadd(o, "weight", jint(b->weight));
	jadd(o, "config_state", jstr(config_state_str(b->conf_state)));
	health_be_json(d, s, b, flat, o);
	jadd(o, "drained", jbool(b->drained));
	jadd(o, "state", jstr(be_state_str(b->dp_state)));
	jadd(o, "share", jdbl(share));
	if (flat) {
		jadd(o, "packets", jint(t.packets));
		jadd(o, "bytes", jint(t.bytes));
		jadd(o, "new_flows", jint(t.new_flows));
	} else {
		jadd(o, "traffic", traffic_json(&t));
	}
	jadd(o, "active_flows", jint(f));
}

/* Each backend's share of the service's installed Maglev table. */
static double *shares_of(struct lbd_daemon *d, const struct st_service *s)
{
	double *share = calloc(s->n_be ? s->n_be : 1, sizeof(*share));
	__u32 *table;
	size_t j, k;
	int m = 0;

	if (!share || !s->table_size)
		return share;
	table = malloc(s->table_size * sizeof(*table));
	if (table)
		m = dp_maglev_get(d->dp, s->id, table, s->table_size);
	for (j = 0; m > 0 && j < s->n_be; j++) {
		unsigned long slots = 0;

		for (k = 0; k < (size_t)m; k++)
			slots += table[k] == s->be[j].id;
		share[j] = (double)slots / m;
	}
	free(table);
	return share;
}

static int ctl_backends(struct lbd_daemon *d, struct json_object *args,
			struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list;
	const char *want = arg_str(args, "service");
	struct flows_count fc;
	size_t i, j;
	int r;

	if (want && !state_find_name(&d->st, want)) {
		snprintf(err, errlen, "no service named %s", want);
		return -ENOENT;
	}
	r = count_flows(d, &fc);
	if (r) {
		free(fc.per_be);
		return r;
	}
	list = json_object_new_array();
	for (i = 0; i < d->st.n_svc; i++) {
		const struct st_service *s = &d->st.svc[i];
		double *share;

		if (want && strcmp(want, s->name))
			continue;
		share = shares_of(d, s);
		for (j = 0; j < s->n_be; j++) {
			struct json_object *o = json_object_new_object();

			backend_json(d, s, &s->be[j], fc.per_be,
				     share ? share[j] : 0, false, o);
			json_object_array_add(list, o);
		}
		free(share);
	}
	free(fc.per_be);
	jadd(out, "backends", list);
	return 0;
}

static int read_reasons(struct lbd_daemon *d, struct lbd_counter *c)
{
	if (d->cfg->role == LBD_ROLE_BACKEND)
		return companion_reasons_read(d->be, c);
	return dp_reasons_read(d->dp, c);
}

static int ctl_stats(struct lbd_daemon *d, struct json_object *args,
		     struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list;
	struct lbd_counter c[LBD_REASON_MAX];
	int r;

	(void)args;
	if (read_reasons(d, c)) {
		snprintf(err, errlen, "reading the counters failed");
		return -EIO;
	}
	list = json_object_new_array();
	for (r = 0; r < LBD_REASON_MAX; r++) {
		struct json_object *o = json_object_new_object();

		jadd(o, "reason", jstr(reason_labels[r]));
		jadd(o, "kind", jstr(reason_kind(r)));
		jadd(o, "description", jstr(reason_descs[r]));
		jadd(o, "packets", jint(c[r].packets));
		jadd(o, "bytes", jint(c[r].bytes));
		json_object_array_add(list, o);
	}
	jadd(out, "counters", list);
	return 0;
}

/* -- lbctl conntrack ----------------------------------------------------- */

struct ct_filter {
	struct hostport client, vip, backend;
	const struct st_service *svc;
	__u8 proto;
	bool all; /* expired entries too */
};

struct ct_query {
	struct lbd_daemon *d;
	struct ct_filter f;
	struct be_ref *idx;
	__u32 now;
	unsigned long matched, limit;
	struct json_object *list; /* listing */
	/* flushing: keys of the matched entries */
	struct lbd_ct_key4 *k4;
	struct lbd_ct_key6 *k6;
	size_t n4, n6, cap4, cap6;
	int err;
};

static int ct_filter_parse(struct lbd_daemon *d, struct json_object *args,
			   struct ct_filter *f, char *err, size_t errlen)
{
	const char *svc = arg_str(args, "service");
	const char *proto = arg_str(args, "proto");

	memset(f, 0, sizeof(*f));
	if (arg_hostport(args, "client", &f->client) < 0 ||
	    arg_hostport(args, "vip", &f->vip) < 0 ||
	    arg_hostport(args, "backend", &f->backend) < 0)
		return -EINVAL;
	if (svc) {
		f->svc = state_find_name(&d->st, svc);
		if (!f->svc) {
			snprintf(err, errlen, "no service named %s", svc);
			return -ENOENT;
		}
	}
	if (proto)
		f->proto = !strcmp(proto, "udp") ? IPPROTO_UDP : IPPROTO_TCP;
	f->all = arg_true(args, "all");
	return 0;
}

static bool ct_match(struct ct_query *q, const struct dp_ct_flow *fl,
		     const struct be_ref **be)
{
	const struct ct_filter *f = &q->f;

	*be = ct_backend(q->idx, q->d->st.max_backends, &fl->v);
	if (f->proto && fl->proto != f->proto)
		return false;
	if (!hp_matches(&f->client, fl->family, &fl->saddr, fl->sport) ||
	    !hp_matches(&f->vip, fl->family, &fl->daddr, fl->dport))
		return false;
	if (f->svc && (f->svc->key.family != fl->family ||
		       f->svc->key.proto != fl->proto ||
		       ntohs(f->svc->key.port) != fl->dport ||
		       memcmp(&f->svc->key.vip, &fl->daddr, sizeof(fl->daddr))))
		return false;
	if (f->backend.set &&
	    (!*be || !hp_matches(&f->backend, (*be)->b->addr.family,
				 &(*be)->b->addr.addr, (*be)->b->port)))
		return false;
	return f->all || dp_ct_live(q->d->dp, fl->proto, &fl->v, q->now);
}

static void ct_list_one(void *arg, const struct dp_ct_flow *fl)
{
	struct ct_query *q = arg;
	const struct be_ref *be;
	struct json_object *o;
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];
	struct lbd_svc_addr key = { .family = fl->family,
				    .proto = fl->proto,
				    .port = htons(fl->dport),
				    .vip = fl->daddr };
	const struct st_service *s;

	if (!ct_match(q, fl, &be))
		return;
	if (q->matched++ >= q->limit)
		return;
	s = state_find(&q->d->st, &key);
	o = json_object_new_object();
	jadd(o, "proto", jstr(proto_str(fl->proto)));
	jadd(o, "client", jstr(addr_str(fl->family, &fl->saddr, a, sizeof(a))));
	jadd(o, "client_port", jint(fl->sport));
	jadd(o, "vip", jstr(addr_str(fl->family, &fl->daddr, a, sizeof(a))));
	jadd(o, "port", jint(fl->dport));
	jadd(o, "service", s ? jstr(s->name) : NULL);
	jadd(o, "backend", be ? jstr(be_label(be->b, l, sizeof(l))) : NULL);
	jadd(o, "backend_state",
	     be ? jstr(be_state_str(be->b->dp_state)) : jstr("gone"));
	jadd(o, "idle_s", jint((__s32)(q->now - fl->v.last_seen)));
	jadd(o, "closing", jbool(fl->v.flags & LBD_CT_F_CLOSING));
	jadd(o, "live", jbool(dp_ct_live(q->d->dp, fl->proto, &fl->v, q->now)));
	json_object_array_add(q->list, o);
}

static int ctl_conntrack(struct lbd_daemon *d, struct json_object *args,
			 struct json_object *out, char *err, size_t errlen)
{
	struct ct_query q = { .d = d, .limit = CT_LIST_DEFAULT };
	struct json_object *lim;
	int r;

	r = ct_filter_parse(d, args, &q.f, err, errlen);
	if (r)
		return r;
	if (args && json_object_object_get_ex(args, "limit", &lim))
		q.limit = (unsigned long)json_object_get_int64(lim);
	q.idx = be_index(d);
	if (!q.idx)
		return -ENOMEM;
	q.now = dp_ct_now();
	q.list = json_object_new_array();
	r = dp_ct_walk(d->dp, ct_list_one, &q);
	free(q.idx);
	if (r) {
		json_object_put(q.list);
		return r;
	}
	jadd(out, "entries", q.list);
	jadd(out, "matched", jint(q.matched));
	jadd(out, "truncated", jbool(q.matched > q.limit));
	return 0;
}

static int push_key(void **arr, size_t *n, size_t *cap, const void *key,
		    size_t ksz)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		void *p = realloc(*arr, nc * ksz);

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = nc;
	}
	memcpy((char *)*arr + *n * ksz, key, ksz);
	(*n)++;
	return 0;
}

static void ct_flush_one(void *arg, const struct dp_ct_flow *fl)
{
	struct ct_query *q = arg;
	const struct be_ref *be;

	if (q->err || !ct_match(q, fl, &be))
		return;
	if (fl->family == LBD_AF_INET)
		q->err = push_key((void **)&q->k4, &q->n4, &q->cap4, fl->key,
				  sizeof(*q->k4));
	else
		q->err = push_key((void **)&q->k6, &q->n6, &q->cap6, fl->key,
				  sizeof(*q->k6));
}

/* Deletes what matched; an entry the LRU evicted meanwhile is gone
 * anyway. */
static int ctl_conntrack_flush(struct lbd_daemon *d, struct json_object *args,
			       struct json_object *out, char *err,
			       size_t errlen)
{
	struct ct_query q = { .d = d };
	unsigned long flushed = 0;
	size_t i;
	int r;

	r = ct_filter_parse(d, args, &q.f, err, errlen);
	if (r)
		return r;
	q.f.all = true;
	q.idx = be_index(d);
	if (!q.idx)
		return -ENOMEM;
	q.now = dp_ct_now();
	r = dp_ct_walk(d->dp, ct_flush_one, &q);
	if (!r)
		r = q.err;
	for (i = 0; !r && i < q.n4; i++)
		flushed += dp_ct_delete(d->dp, LBD_AF_INET, &q.k4[i]);
	for (i = 0; !r && i < q.n6; i++)
		flushed += dp_ct_delete(d->dp, LBD_AF_INET6, &q.k6[i]);
	free(q.idx);
	free(q.k4);
	free(q.k6);
	if (r)
		return r;
	log_info("control: %lu conntrack entries flushed", flushed);
	jadd(out, "flushed", jint(flushed));
	return 0;
}

/* -- lbctl monitor: the ring buffer ------------------------------------- */

/* o, as JSON text, in a message of type to the io process; false when
 * it could not go. */
static bool io_send_json(struct lbd_daemon *d, __u16 type,
			 struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN, &len);

	return d->io && proc_send(d->io, type, 0, s, len) == 0;
}

static void mon_send(struct lbd_daemon *d, struct json_object *ev)
{
	struct json_object *m;

	if (!d->io || proc_pending(d->io) > MON_BACKLOG) {
		d->mon_lost++;
		json_object_put(ev);
		return;
	}
	m = json_object_new_object();
	jadd(m, "event", ev);
	if (!io_send_json(d, LBD_MSG_MON_EVENT, m))
		d->mon_lost++;
	json_object_put(m);
}

/* Event time: the program stamps CLOCK_MONOTONIC; clients want wall
 * time. */
static double event_time(__u64 ts_ns)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (double)real.tv_sec + real.tv_nsec / 1e9 -
	       ((double)mono.tv_sec + mono.tv_nsec / 1e9 - ts_ns / 1e9);
}

static int mon_event(void *arg, const struct lbd_event *e)
{
	struct lbd_daemon *d = arg;
	struct json_object *o;
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];

	o = json_object_new_object();
	jadd(o, "type", jstr(e->type == LBD_EVENT_DROP ? "drop" : "new_flow"));
	jadd(o, "time", jdbl(event_time(e->ts_ns)));
	jadd(o, "reason",
	     jstr(e->reason < LBD_REASON_MAX ? reason_labels[e->reason] : "?"));
	jadd(o, "ifindex", jint(e->ifindex));
	jadd(o, "len", jint(e->len));
	if (e->family == LBD_AF_INET || e->family == LBD_AF_INET6) {
		struct lbd_svc_addr key = { .family = e->family,
					    .proto = e->proto,
					    .port = e->dport,
					    .vip = e->daddr };
		const struct st_service *s = state_find(&d->st, &key);

		jadd(o, "proto", jstr(proto_str(e->proto)));
		jadd(o, "client",
		     jstr(addr_str(e->family, &e->saddr, a, sizeof(a))));
		jadd(o, "client_port", jint(ntohs(e->sport)));
		jadd(o, "vip",
		     jstr(addr_str(e->family, &e->daddr, a, sizeof(a))));
		jadd(o, "port", jint(ntohs(e->dport)));
		jadd(o, "service", s ? jstr(s->name) : NULL);
	}
	if (e->backend_id != LBD_NO_ID && d->dp) {
		struct lbd_backend b;

		if (dp_backend_get(d->dp, e->backend_id, &b) == 0)
			jadd(o, "backend",
			     jstr(hostport_str(b.family, &b.addr, ntohs(b.port),
					       l, sizeof(l))));
	}
	mon_send(d, o);
	/* a negative return stops libbpf's consume after this event (it
	 * is consumed); the rest waits for the next loop iteration */
	return --d->mon_budget ? 0 : -EAGAIN;
}

static int on_mon_ready(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct lbd_daemon *d = arg;

	(void)s;
	(void)fd;
	(void)revents;
	d->mon_budget = MON_BUDGET;
	dp_monitor_consume(d->mon_rb);
	if (d->mon_lost != d->mon_lost_told && d->io &&
	    proc_pending(d->io) <= MON_BACKLOG) {
		struct json_object *m = json_object_new_object();

		jadd(m, "lost", jint(d->mon_lost - d->mon_lost_told));
		if (io_send_json(d, LBD_MSG_MON_EVENT, m))
			d->mon_lost_told = d->mon_lost;
		json_object_put(m);
	}
	return 0;
}

static void mon_close(struct lbd_daemon *d)
{
	d->mon_src = sd_event_source_disable_unref(d->mon_src);
	dp_monitor_close(d->mon_rb);
	d->mon_rb = NULL;
}

/*
 * Asks the program for mask (LBD_MON_*) and reads its ring buffer while
 * mask is not 0; 0 stops both, so a monitor costs nothing once its last
 * client left. The program's mask lives in its own .bss, so a newly
 * loaded program (a reload) is asked again (control_reloaded).
 */
static int mon_arm(struct lbd_daemon *d, __u32 mask)
{
	int err;

	if (!d->dp) {
		d->mon_mask = 0;
		return mask ? -EOPNOTSUPP : 0;
	}
	if (!mask) {
		dp_monitor_set(d->dp, 0);
		mon_close(d);
		d->mon_mask = 0;
		return 0;
	}
	if (!d->mon_rb) {
		err = dp_monitor_open(d->dp, mon_event, d, &d->mon_rb);
		if (err)
			return err;
		err = sd_event_add_io(d->ev, &d->mon_src,
				      dp_monitor_fd(d->mon_rb), EPOLLIN,
				      on_mon_ready, d);
		if (err < 0) {
			mon_close(d);
			return err;
		}
	}
	err = dp_monitor_set(d->dp, mask);
	if (err) {
		mon_close(d);
		return err;
	}
	d->mon_mask = mask;
	return 0;
}

static int ctl_monitor_set(struct lbd_daemon *d, struct json_object *args,
			   struct json_object *out, char *err, size_t errlen)
{
	__u32 mask = (arg_true(args, "drops") ? LBD_MON_DROPS : 0) |
		     (arg_true(args, "flows") ? LBD_MON_FLOWS : 0);
	int r;

	(void)out;
	d->mon_state = arg_true(args, "state");
	r = mon_arm(d, d->cfg->role == LBD_ROLE_LB ? mask : 0);
	if (r)
		snprintf(err, errlen, "monitor: %s", strerror(-r));
	else
		log_debug("monitor: drops %s, new flows %s, backend changes %s",
			  mask & LBD_MON_DROPS ? "on" : "off",
			  mask & LBD_MON_FLOWS ? "on" : "off",
			  d->mon_state ? "on" : "off");
	return r;
}

void control_backend_event(struct lbd_daemon *d, const struct st_service *s,
			   const struct st_backend *b, const char *cause)
{
	struct json_object *o;
	char l[INET6_ADDRSTRLEN + 10];

	if (!d->mon_state)
		return;
	o = json_object_new_object();
	jadd(o, "type", jstr("backend"));
	jadd(o, "time", jdbl((double)time(NULL)));
	jadd(o, "cause", jstr(cause));
	jadd(o, "service", jstr(s->name));
	jadd(o, "backend", jstr(be_label(b, l, sizeof(l))));
	jadd(o, "state", jstr(be_state_str(b->dp_state)));
	jadd(o, "drained", jbool(b->drained));
	health_be_json(d, s, b, true, o);
	mon_send(d, o);
}

/* -- lbctl drain / undrain ------------------------------------------------ */

static int drain_of(struct lbd_daemon *d, struct json_object *args,
		    struct drain *dr, const struct st_service **svc, char *err,
		    size_t errlen)
{
	struct hostport hp;
	const char *name = arg_str(args, "service");

	memset(dr, 0, sizeof(*dr));
	*svc = NULL;
	if (arg_hostport(args, "backend", &hp) <= 0)
		return -EINVAL;
	dr->addr.family = hp.family;
	dr->addr.prefixlen = hp.family == LBD_AF_INET ? 32 : 128;
	dr->addr.addr = hp.addr;
	dr->port = hp.port;
	if (name) {
		*svc = state_find_name(&d->st, name);
		if (!*svc) {
			snprintf(err, errlen, "no service named %s", name);
			return -ENOENT;
		}
		dr->has_svc = true;
		dr->svc = (*svc)->key;
	}
	return 0;
}

static void drain_text(const struct drain *dr, const struct st_service *svc,
		       char *buf, size_t len);

/* A drain as lbctl names it. */
static void drain_named(struct lbd_daemon *d, const struct drain *dr, char *buf,
			size_t len)
{
	const struct st_service *s =
		dr->has_svc ? state_find(&d->st, &dr->svc) : NULL;

	drain_text(dr, s, buf, len);
	if (dr->has_svc && !s) {
		char v[INET6_ADDRSTRLEN + 10];

		snprintf(buf + strlen(buf), len - strlen(buf), " of %s",
			 hostport_str(dr->svc.family, &dr->svc.vip,
				      ntohs(dr->svc.port), v, sizeof(v)));
	}
}

static void drain_text(const struct drain *dr, const struct st_service *svc,
		       char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	addr_str(dr->addr.family, &dr->addr.addr, a, sizeof(a));
	if (dr->port)
		snprintf(buf, len,
			 dr->addr.family == LBD_AF_INET6 ? "[%s]:%u" : "%s:%u",
			 a, dr->port);
	else
		snprintf(buf, len, "%s", a);
	if (svc)
		snprintf(buf + strlen(buf), len - strlen(buf), " of %s",
			 svc->name);
}

/* The matching backends, as "service backend" lines, with a monitor
 * event each. */
static struct json_object *touched(struct lbd_daemon *d, const struct drain *dr,
				   const char *cause)
{
	struct json_object *list = json_object_new_array();
	char l[INET6_ADDRSTRLEN + 10], line[LBD_SVC_NAME_MAX + 64];
	size_t i, j;

	for (i = 0; i < d->st.n_svc; i++)
		for (j = 0; j < d->st.svc[i].n_be; j++) {
			const struct st_service *s = &d->st.svc[i];
			const struct st_backend *b = &s->be[j];

			if (!drain_matches(dr, s, b))
				continue;
			snprintf(line, sizeof(line), "%s %s", s->name,
				 be_label(b, l, sizeof(l)));
			json_object_array_add(list, jstr(line));
			control_backend_event(d, s, b, cause);
		}
	return list;
}

/*
 * For lbctl drain --wait: the drained backends of services whose TCP
 * flow state lives on the backends, and where each reports its
 * connections (sockdiag.h): the URL of its metrics, and the local
 * address and port its sockets of the service have: the VIP and port
 * with IPIP (the client's packet is delivered unchanged), its own
 * address and port with Geneve (translated to them).
 */
static struct json_object *flow_reports(struct lbd_daemon *d,
					const struct drain *dr)
{
	struct json_object *list = json_object_new_array();
	char l[INET6_ADDRSTRLEN + 10], a[INET6_ADDRSTRLEN];
	char url[INET6_ADDRSTRLEN + 32];
	size_t i, j;

	for (i = 0; i < d->st.n_svc; i++)
		for (j = 0; j < d->st.svc[i].n_be; j++) {
			const struct st_service *s = &d->st.svc[i];
			const struct st_backend *b = &s->be[j];
			__u8 fwd = s->fwd == LBD_FWD_HYBRID ? s->dsr : s->fwd;
			struct json_object *o;
			bool v6 = b->addr.family == LBD_AF_INET6;

			if (!(s->flags & LBD_SVC_F_FLOW_BACKENDS) ||
			    s->key.proto != IPPROTO_TCP ||
			    !drain_matches(dr, s, b))
				continue;
			o = json_object_new_object();
			addr_str(b->addr.family, &b->addr.addr, a, sizeof(a));
			snprintf(url, sizeof(url), "http://%s%s%s:%u/metrics",
				 v6 ? "[" : "", a, v6 ? "]" : "",
				 d->cfg->dp.flow_report_port);
			jadd(o, "service", jstr(s->name));
			jadd(o, "backend", jstr(be_label(b, l, sizeof(l))));
			jadd(o, "address", jstr(a));
			jadd(o, "url", jstr(url));
			if (fwd == LBD_FWD_GENEVE) {
				jadd(o, "local_address", jstr(a));
				jadd(o, "local_port", jint(b->port));
			} else {
				jadd(o, "local_address",
				     jstr(addr_str(s->key.family, &s->key.vip,
						   a, sizeof(a))));
				jadd(o, "local_port", jint(ntohs(s->key.port)));
			}
			json_object_array_add(list, o);
		}
	return list;
}

static int ctl_drain(struct lbd_daemon *d, struct json_object *args,
		     struct json_object *out, char *err, size_t errlen)
{
	const struct st_service *svc;
	struct be_match m = { 0 };
	struct apply_result res;
	struct drain_set set;
	struct drain dr;
	char path[PATH_MAX], what[LBD_SVC_NAME_MAX + 64];
	int n, r;

	r = drain_of(d, args, &dr, &svc, err, errlen);
	if (r)
		return r;
	drain_text(&dr, svc, what, sizeof(what));
	m.service = svc ? svc->name : NULL;
	m.addr = dr.addr;
	m.port = dr.port;
	n = state_set_flag(&d->st, d->dp, &m, BE_FLAG_DRAINED, true, NULL, NULL,
			   &res);
	if (n < 0) {
		snprintf(err, errlen, "draining %s: %s", what, strerror(-n));
		return n;
	}
	if (n == 0) {
		snprintf(err, errlen, "no backend %s", what);
		return -ENOENT;
	}
	log_info("control: backend %s drained (%d matched, %lu map writes)",
		 what, n, res.writes);
	drains_path(d->cfg->control.socket, path, sizeof(path));
	r = drains_load(path, &set);
	if (!r)
		r = drains_add(&set, &dr);
	if (!r)
		r = drains_save(path, &set);
	drains_free(&set);
	if (r) {
		log_warnx("saving the drains to %s: %s; the drain holds until "
			  "lbd restarts",
			  path, strerror(-r));
		jadd(out, "warning",
		     jstr("drained, but not saved: undone by a restart"));
	}
	jadd(out, "matched", jint(n));
	jadd(out, "backends", touched(d, &dr, "drain"));
	jadd(out, "reports", flow_reports(d, &dr));
	return 0;
}

struct undrain_be {
	char service[LBD_SVC_NAME_MAX];
	struct lbd_conf_addr addr;
	__u16 port;
};

static int ctl_undrain(struct lbd_daemon *d, struct json_object *args,
		       struct json_object *out, char *err, size_t errlen)
{
	const struct st_service *svc;
	struct undrain_be *list = NULL;
	struct apply_result res;
	struct drain_set set;
	struct drain dr;
	char path[PATH_MAX], what[LBD_SVC_NAME_MAX + 64], line[LBD_SVC_NAME_MAX + 96];
	size_t i, j, k, n = 0, removed;
	int r;

	r = drain_of(d, args, &dr, &svc, err, errlen);
	if (r)
		return r;
	drain_text(&dr, svc, what, sizeof(what));
	drains_path(d->cfg->control.socket, path, sizeof(path));
	r = drains_load(path, &set);
	if (r) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	removed = drains_remove_covered(&set, &dr);
	/* a broader drain still holding what was named: undoing part of
	 * it is not what "undrain" can mean */
	for (i = 0; i < set.n; i++) {
		if (drain_covers(&set.d[i], &dr)) {
			drain_named(d, &set.d[i], line, sizeof(line));
			snprintf(err, errlen,
				 "%s is drained by a broader drain, of %s; "
				 "undrain that",
				 what, line);
			drains_free(&set);
			return -EBUSY;
		}
	}
	/* the backends to take back: named, drained, and no other drain
	 * holds them */
	list = calloc(d->st.max_backends ? d->st.max_backends : 1,
		      sizeof(*list));
	if (!list) {
		drains_free(&set);
		return -ENOMEM;
	}
	for (i = 0; i < d->st.n_svc; i++)
		for (j = 0; j < d->st.svc[i].n_be; j++) {
			const struct st_service *s = &d->st.svc[i];
			const struct st_backend *b = &s->be[j];
			bool held = false;

			if (!b->drained || !drain_matches(&dr, s, b))
				continue;
			for (k = 0; k < set.n; k++)
				held |= drain_matches(&set.d[k], s, b);
			if (held || n == d->st.max_backends)
				continue;
			snprintf(list[n].service, sizeof(list[n].service), "%s",
				 s->name);
			list[n].addr = b->addr;
			list[n].port = b->port;
			n++;
		}
	if (!removed && !n) {
		snprintf(err, errlen, "%s is not drained", what);
		drains_free(&set);
		free(list);
		return -ENOENT;
	}
	r = drains_save(path, &set);
	drains_free(&set);
	if (r)
		log_warnx("saving the drains to %s: %s", path, strerror(-r));
	for (i = 0; i < n; i++) {
		struct be_match m = { .service = list[i].service,
				      .addr = list[i].addr,
				      .port = list[i].port };

		r = state_set_flag(&d->st, d->dp, &m, BE_FLAG_DRAINED, false,
				   NULL, NULL, &res);
		if (r < 0) {
			snprintf(err, errlen, "undraining %s: %s", what,
				 strerror(-r));
			free(list);
			return r;
		}
	}
	free(list);
	log_info("control: backend %s undrained (%zu backends)", what, n);
	jadd(out, "matched", jint(n));
	jadd(out, "backends", touched(d, &dr, "undrain"));
	return 0;
}

/* -- lbctl explain ----------------------------------------------------- */

static const char *xdp_action_str(int a)
{
	static const char *const n[] = { "aborted", "drop", "pass", "tx",
					 "redirect" };

	return a >= 0 && a <= 4 ? n[a] : "?";
}

static const struct st_backend *find_be(const struct st_service *s, __u32 id)
{
	size_t j;

	for (j = 0; s && j < s->n_be; j++)
		if (s->be[j].id == id)
			return &s->be[j];
	return NULL;
}

/* The service's backend the forwarded packet went to: by outer
 * destination, and port where the forwarding shows it; among backends
 * alike, the one the maps predict. */
static const struct st_backend *be_of_output(const struct st_service *s,
					     const struct explain_out *o,
					     __u32 predicted)
{
	const struct st_backend *hit = NULL;
	size_t j;

	for (j = 0; s && j < s->n_be; j++) {
		const struct st_backend *b = &s->be[j];

		if (b->addr.family != o->family ||
		    memcmp(&b->addr.addr, &o->dst, sizeof(o->dst)) ||
		    (o->dst_port && o->dst_port != b->port))
			continue;
		if (!hit || b->id == predicted)
			hit = b;
	}
	return hit;
}

/* bpf/lb/svc.h fwd_of and bpf/lb/lb.bpf.c stateless: whether the program
 * forwards the service's flows of proto with no conntrack. */
static bool svc_stateless(const struct st_service *s, __u8 proto)
{
	__u8 fwd = s->fwd;

	if (fwd == LBD_FWD_HYBRID)
		fwd = proto == IPPROTO_TCP ? s->dsr : LBD_FWD_SNAT;
	if (fwd == LBD_FWD_SNAT)
		return false;
	return proto == IPPROTO_TCP ? s->flags & LBD_SVC_F_FLOW_BACKENDS :
				      s->flags & LBD_SVC_F_UDP_STATELESS;
}

/* The flow's Maglev slot (explain_maglev) into mg; returns the owner,
 * and in prev_named the previous owner the program names (LBD_NO_ID:
 * none). */
static __u32 explain_slot(struct lbd_daemon *d, const struct st_service *s,
			  const struct explain_flow *f, bool stateless,
			  struct json_object *mg, __u32 *prev_named)
{
	const struct st_backend *owner, *prev;
	char l[INET6_ADDRSTRLEN + 10];
	struct explain_slot sl;

	*prev_named = LBD_NO_ID;
	if (explain_maglev(d->dp, f, dp_opts(d->dp)->knobs.hash_seed, &sl) ||
	    !sl.m)
		return LBD_NO_ID;
	owner = find_be(s, sl.owner);
	prev = find_be(s, sl.prev);
	jadd(mg, "hash", jint(sl.hash));
	jadd(mg, "table_size", jint(sl.m));
	jadd(mg, "slot", jint(sl.slot));
	jadd(mg, "client_port_hashed", jbool(!f->affinity));
	jadd(mg, "backend", owner ? jstr(be_label(owner, l, sizeof(l))) : NULL);
	jadd(mg, "previous_owner",
	     prev ? jstr(be_label(prev, l, sizeof(l))) : NULL);
	if (stateless && f->proto == IPPROTO_TCP) {
		if (sl.prev_named)
			*prev_named = sl.prev;
		jadd(mg, "previous_owner_named", jbool(sl.prev_named));
	}
	return sl.owner;
}

/* Whether the option the run wrote names the previous owner the table
 * predicted (prev, LBD_NO_ID: none), address and port. */
static bool sc_as_predicted(const struct st_service *s,
			    const struct explain_out *o, __u32 prev)
{
	const struct st_backend *b = find_be(s, prev);

	if (!(o->sc_flags & LBD_SC_F_PREV))
		return prev == LBD_NO_ID;
	return b && b->addr.family == o->sc_prev_family &&
	       !memcmp(&b->addr.addr, &o->sc_prev,
		       b->addr.family == LBD_AF_INET ? 4 : 16) &&
	       b->port == o->sc_prev_port;
}

static int ctl_explain(struct lbd_daemon *d, struct json_object *args,
		       struct json_object *out, char *err, size_t errlen)
{
	struct hostport client, vip;
	struct explain_flow f = { 0 };
	struct explain_out o;
	struct lbd_svc_addr key;
	const struct st_service *s;
	const struct st_backend *chosen = NULL, *ct_be = NULL;
	const struct st_backend *aff_be = NULL;
	struct json_object *affj = NULL;
	struct json_object *ctj = json_object_new_object();
	struct json_object *mg = json_object_new_object();
	struct json_object *fl = json_object_new_object();
	struct json_object *counted = json_object_new_array();
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];
	const char *proto = arg_str(args, "proto");
	struct lbd_ct ct;
	struct lbd_aff aff;
	__u32 predicted = LBD_NO_ID, slot_id = LBD_NO_ID;
	__u32 prev_named = LBD_NO_ID;
	bool ct_usable = false, aff_usable = false, stateless = false;
	int r;

	if (arg_hostport(args, "client", &client) <= 0 ||
	    arg_hostport(args, "vip", &vip) <= 0 || !proto ||
	    client.family != vip.family) {
		r = -EINVAL;
		goto fail;
	}
	f.family = client.family;
	f.proto = !strcmp(proto, "udp") ? IPPROTO_UDP : IPPROTO_TCP;
	f.client = client.addr;
	f.vip = vip.addr;
	f.client_port = client.port;
	f.vip_port = vip.port;
	memset(&key, 0, sizeof(key));
	key.family = f.family;
	key.proto = f.proto;
	key.port = htons(f.vip_port);
	key.vip = f.vip;
	s = state_find(&d->st, &key);
	f.svc_id = s ? s->id : LBD_NO_ID;
	f.affinity = s && (s->flags & LBD_SVC_F_AFFINITY);
	stateless = s && svc_stateless(s, f.proto);

	/* why, part one: what the maps say before the run; a stateless
	 * service's program looks at neither conntrack nor affinity */
	jadd(ctj, "consulted", jbool(!stateless));
	if (stateless) {
		jadd(ctj, "exists", jbool(false));
	} else if (explain_ct_lookup(d->dp, &f, &ct) == 0) {
		ct_be = find_be(s, ct.backend_id);
		ct_usable = dp_ct_live(d->dp, f.proto, &ct, dp_ct_now()) && ct_be &&
			    ct_be->gen == ct.backend_gen &&
			    (ct_be->dp_state == LBD_BE_ACTIVE ||
			     ct_be->dp_state == LBD_BE_DRAINING);
		jadd(ctj, "exists", jbool(true));
		jadd(ctj, "usable", jbool(ct_usable));
		jadd(ctj, "backend",
		     ct_be ? jstr(be_label(ct_be, l, sizeof(l))) : NULL);
		jadd(ctj, "idle_s",
		     jint((__s32)(dp_ct_now() - ct.last_seen)));
		jadd(ctj, "closing", jbool(ct.flags & LBD_CT_F_CLOSING));
		if (ct_usable)
			predicted = ct.backend_id;
	} else {
		jadd(ctj, "exists", jbool(false));
	}
	if (f.affinity && !stateless) {
		/* bpf/lb/select.h affinity_pick: the client's backend while it
		 * is active and the client was seen within the timeout */
		affj = json_object_new_object();
		if (explain_aff_lookup(d->dp, &f, &aff) == 0) {
			aff_be = find_be(s, aff.backend_id);
			aff_usable = !lbd_idle_over(dp_ct_now(),
						    aff.last_seen,
						    s->affinity_timeout) &&
				     aff_be && aff_be->gen == aff.backend_gen &&
				     aff_be->dp_state == LBD_BE_ACTIVE;
			jadd(affj, "exists", jbool(true));
			jadd(affj, "usable", jbool(aff_usable));
			jadd(affj, "backend",
			     aff_be ? jstr(be_label(aff_be, l, sizeof(l))) :
				      NULL);
			jadd(affj, "idle_s",
			     jint((__s32)(dp_ct_now() - aff.last_seen)));
			if (aff_usable && predicted == LBD_NO_ID)
				predicted = aff.backend_id;
		} else {
			jadd(affj, "exists", jbool(false));
		}
	}
	if (s && s->table_size) {
		slot_id = explain_slot(d, s, &f, stateless, mg, &prev_named);
	}
	if (predicted == LBD_NO_ID)
		predicted = slot_id;

	/* the answer: the live program on the probe */
	r = explain_run(d->dp, d->ifindex, &f, &o);
	if (r) {
		snprintf(err, errlen, "running the program: %s", strerror(-r));
		goto fail;
	}
	if (o.forwarded)
		chosen = be_of_output(s, &o, predicted);
	for (r = 0; r < LBD_REASON_MAX; r++)
		if (o.counted[r].packets)
			json_object_array_add(counted, jstr(reason_labels[r]));
	r = 0;

	jadd(fl, "client", jstr(addr_str(f.family, &f.client, a, sizeof(a))));
	jadd(fl, "client_port", jint(f.client_port));
	jadd(fl, "vip", jstr(addr_str(f.family, &f.vip, a, sizeof(a))));
	jadd(fl, "port", jint(f.vip_port));
	jadd(fl, "proto", jstr(proto));
	jadd(out, "flow", fl);
	jadd(out, "service", s ? jstr(s->name) : NULL);
	if (s) {
		jadd(out, "flow_state", jstr(flow_state_str(s)));
		jadd(out, "udp_flow_state", jstr(udp_flow_state_str(s)));
		jadd(out, "stateless", jbool(stateless));
	}
	jadd(out, "verdict", jstr(xdp_action_str(o.action)));
	if (o.forwarded) {
		jadd(out, "encap", jstr(o.encap ? o.encap : "?"));
		jadd(out, "outer_destination",
		     jstr(addr_str(o.family, &o.dst, a, sizeof(a))));
		if (o.inner_ip)
			jadd(out, "inner", jstr("ip"));
	}
	if (o.sc) {
		/* lbd's option as the program wrote it: what the owner's
		 * companion passes a segment on to */
		struct json_object *sc = json_object_new_object();
		bool named = o.sc_flags & LBD_SC_F_PREV;

		jadd(sc, "flags", jint(o.sc_flags));
		jadd(sc, "previous_owner",
		     named ? jstr(addr_str(o.sc_prev_family, &o.sc_prev, a,
					   sizeof(a))) :
			     NULL);
		jadd(sc, "previous_port", named ? jint(o.sc_prev_port) : NULL);
		jadd(sc, "predicted",
		     jbool(sc_as_predicted(s, &o, prev_named)));
		jadd(out, "option", sc);
	}
	if (chosen) {
		struct json_object *b = json_object_new_object();

		jadd(b, "backend", jstr(be_label(chosen, l, sizeof(l))));
		jadd(b, "address",
		     jstr(addr_str(chosen->addr.family, &chosen->addr.addr, a,
				   sizeof(a))));
		jadd(b, "port", jint(chosen->port));
		jadd(b, "state", jstr(be_state_str(chosen->dp_state)));
		jadd(out, "backend", b);
	} else {
		jadd(out, "backend", NULL);
	}
	if (!chosen)
		jadd(out, "why", jstr("none"));
	else if (ct_usable && chosen->id == ct.backend_id)
		jadd(out, "why", jstr("conntrack"));
	else if (aff_usable && chosen->id == aff.backend_id)
		jadd(out, "why", jstr("affinity"));
	else if (chosen->id == slot_id)
		jadd(out, "why", jstr("maglev"));
	else {
		/* the maps changed between the reads and the run (a reload,
		 * a drain); the run is what traffic got */
		jadd(out, "why", jstr("changed"));
	}
	jadd(out, "conntrack", ctj);
	if (affj)
		jadd(out, "affinity", affj);
	jadd(out, "maglev", mg);
	jadd(out, "counted", counted);
	return 0;
fail:
	json_object_put(affj);
	json_object_put(ctj);
	json_object_put(mg);
	json_object_put(fl);
	json_object_put(counted);
	return r;
}

/* -- metrics snapshot (rendered by the io process, metrics.c) ----------- */

/* The backend role's report of its connections (sockdiag.h), which
 * lbctl drain --wait on an LB host reads in flow_state = "backends";
 * NULL when the count failed (the metric is then left out, not 0). */
static struct json_object *backend_connections_json(void)
{
	struct json_object *l;
	struct sockdiag_count *c;
	char a[INET6_ADDRSTRLEN];
	size_t i, n;
	int r = sockdiag_connections(&c, &n);

	if (r) {
		log_warnx("counting the node's connections: %s", strerror(-r));
		return NULL;
	}
	l = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		jadd(o, "address",
		     jstr(addr_str(c[i].family, &c[i].addr, a, sizeof(a))));
		jadd(o, "port", jint(c[i].port));
		jadd(o, "connections", jint(c[i].connections));
		json_object_array_add(l, o);
	}
	free(c);
	return l;
}

static int ctl_metrics(struct lbd_daemon *d, struct json_object *args,
		       struct json_object *out, char *err, size_t errlen)
{
	struct json_object *cfg = json_object_new_object();
	struct json_object *reasons = json_object_new_array();
	struct json_object *mon = json_object_new_object();
	struct lbd_counter c[LBD_REASON_MAX];
	int r;

	(void)args;
	(void)err;
	(void)errlen;
	jadd(out, "version", jstr(LBD_VERSION));
	jadd(out, "role",
	     jstr(d->cfg->role == LBD_ROLE_BACKEND ? "backend" : "lb"));
	jadd(out, "start_time_s", jdbl(start_time_s(d)));
	jadd(cfg, "generation", jint(d->generation));
	jadd(cfg, "reloads", jint(d->reloads));
	jadd(cfg, "reload_failures", jint(d->reload_failures));
	jadd(cfg, "last_reload_ok", jint(d->last_ok));
	jadd(cfg, "last_reload_s", jdbl(d->last_ms / 1000));
	jadd(out, "config", cfg);
	jadd(mon, "lost", jint(d->mon_lost));
	jadd(out, "monitor", mon);
	if (read_reasons(d, c) == 0) {
		for (r = 0; r < LBD_REASON_MAX; r++) {
			struct json_object *o;

			/* the other role's reasons are always 0 here */
			if (!strncmp(reason_enums[r], "LBD_BE_", 7) !=
			    (d->cfg->role == LBD_ROLE_BACKEND))
				continue;
			o = json_object_new_object();

			jadd(o, "reason", jstr(reason_labels[r]));
			jadd(o, "kind", jstr(reason_kind(r)));
			jadd(o, "packets", jint(c[r].packets));
			jadd(o, "bytes", jint(c[r].bytes));
			json_object_array_add(reasons, o);
		}
	}
	jadd(out, "reasons", reasons);

	if (d->cfg->role == LBD_ROLE_LB) {
		struct json_object *dp = json_object_new_object();
		struct json_object *ctl = json_object_new_array();
		struct json_object *svcs = json_object_new_array();
		struct flows_count fc;
		size_t i, j;

		jadd(dp, "interface", jstr(d->cfg->dp.interface));
		jadd(dp, "mode", jstr(d->att.native ? "native" : "generic"));
		jadd(dp, "attached", jint(d->att.prog_id != 0 && d->attached));
		jadd(out, "datapath", dp);
		jadd(out, "apply", apply_json(d));
		jadd(out, "kubernetes", k8s_json(d));
		jadd(out, "drains", jint(drains_count(d)));
		{
			struct json_object *h = json_object_new_object();
			struct json_object *b = json_object_new_object();

			health_json(d, h);
			jadd(out, "health", h);
			vips_json(d, b);
			jadd(out, "bird", b);
		}
		r = count_flows(d, &fc);
		if (r) {
			free(fc.per_be);
			json_object_put(ctl);
			json_object_put(svcs);
			return r;
		}
		for (i = 0; i < 2; i++) {
			struct json_object *o = json_object_new_object();

			jadd(o, "family", jstr(i ? "ipv6" : "ipv4"));
			jadd(o, "entries", jint(fc.entries[i]));
			jadd(o, "live", jint(fc.live[i]));
			jadd(o, "capacity", jint(dp_opts(d->dp)->ct_entries));
			json_object_array_add(ctl, o);
		}
		jadd(out, "conntrack", ctl);
		ctl = json_object_new_array();
		for (i = 0; i < 2; i++) {
			struct json_object *o = json_object_new_object();
			long n = dp_map_count(d->dp, i ? DP_MAP_NAT6 :
							       DP_MAP_NAT4);

			jadd(o, "family", jstr(i ? "ipv6" : "ipv4"));
			jadd(o, "entries", jint(n < 0 ? 0 : n));
			jadd(o, "capacity", jint(dp_opts(d->dp)->nat_entries));
			json_object_array_add(ctl, o);
		}
		jadd(out, "nat", ctl);
		{
			struct json_object *o = json_object_new_object();
			long n = dp_map_count(d->dp, DP_MAP_AFFINITY);

			jadd(o, "entries", jint(n < 0 ? 0 : n));
			jadd(o, "capacity",
			     jint(dp_opts(d->dp)->affinity_entries));
			jadd(out, "affinity", o);
		}
		for (i = 0; i < d->st.n_svc; i++) {
			const struct st_service *s = &d->st.svc[i];
			struct json_object *o = json_object_new_object();
			struct json_object *bl = json_object_new_array();
			struct lbd_traffic t = { 0 };
			double *share = shares_of(d, s);

			dp_svc_traffic(d->dp, s->id, &t);
			service_json(d, s, o);
			jadd(o, "packets", jint(t.packets));
			jadd(o, "bytes", jint(t.bytes));
			jadd(o, "new_flows", jint(t.new_flows));
			for (j = 0; j < s->n_be; j++) {
				struct json_object *b =
					json_object_new_object();

				backend_json(d, s, &s->be[j], fc.per_be,
					     share ? share[j] : 0, true, b);
				json_object_array_add(bl, b);
			}
			free(share);
			/* replaces the count service_json put there */
			jadd(o, "backends", bl);
			json_object_array_add(svcs, o);
		}
		free(fc.per_be);
		jadd(out, "services", svcs);
	}
	if (d->cfg->role == LBD_ROLE_BACKEND)
		jadd(out, "backend_connections", backend_connections_json());
	return 0;
}

/* -- dispatch and hooks ------------------------------------------------- */

typedef int (*ctl_fn)(struct lbd_daemon *d, struct json_object *args,
		      struct json_object *out, char *err, size_t errlen);

static const struct {
	const char *cmd;
	ctl_fn fn;
	bool lb_only;
} handlers[] = {
	{ "status", ctl_status, false },
	{ "services", ctl_services, true },
	{ "backends", ctl_backends, true },
	{ "stats", ctl_stats, false },
	{ "conntrack", ctl_conntrack, true },
	{ "conntrack_flush", ctl_conntrack_flush, true },
	{ "drain", ctl_drain, true },
	{ "undrain", ctl_undrain, true },
	{ "explain", ctl_explain, true },
	{ "monitor_set", ctl_monitor_set, false },
	{ "metrics", ctl_metrics, false },
};

void control_request(struct lbd_daemon *d, const struct lbd_ctl_req *req)
{
	struct json_object *args = NULL, *reply, *data;
	const char *name = ctl_cmd_name(req->cmd);
	char err[256] = "";
	size_t i;
	int r;

	data = json_object_new_object();
	/* the request's fields checked, as the handlers' arguments; the
	 * struct is read, nothing in it parsed */
	r = ctl_req_args(req, &args, err, sizeof(err));
	for (i = 0; !r && i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].cmd, name))
			continue;
		if (handlers[i].lb_only && d->cfg->role != LBD_ROLE_LB) {
			snprintf(err, sizeof(err),
				 "%s: not in the backend role", name);
			r = -EOPNOTSUPP;
		} else {
			r = handlers[i].fn(d, args, data, err, sizeof(err));
		}
		break;
	}
	json_object_put(args);
	if (!d->io) {
		json_object_put(data);
		return;
	}
	reply = json_object_new_object();
	jadd(reply, "id", jint(req->id));
	jadd(reply, "ok", jbool(r == 0));
	if (r == 0) {
		jadd(reply, "data", data);
	} else {
		json_object_put(data);
		jadd(reply, "error", jstr(err[0] ? err : strerror(-r)));
	}
	if (!io_send_json(d, LBD_MSG_CTL_REPLY, reply)) {
		/* past LBD_MSG_MAX (a listing too long): said, not dropped,
		 * so that the client is not left waiting */
		json_object_put(reply);
		reply = json_object_new_object();
		jadd(reply, "id", jint(req->id));
		jadd(reply, "ok", jbool(false));
		jadd(reply, "error",
		     jstr("the answer is too long; narrow "
			  "the request"));
		io_send_json(d, LBD_MSG_CTL_REPLY, reply);
	}
	json_object_put(reply);
}

/* Drains from the file onto the current state: a backend that came
 * (back) with a reload, or everything after a start without adoption. */
static void drains_reapply(struct lbd_daemon *d)
{
	struct drain_set s;
	char path[PATH_MAX];
	int n;

	if (d->cfg->role != LBD_ROLE_LB || !d->dp)
		return;
	drains_path(d->cfg->control.socket, path, sizeof(path));
	n = drains_load(path, &s);
	if (n < 0) {
		log_warnx("%s: %s; runtime drains not applied", path,
			  strerror(-n));
		return;
	}
	n = drains_apply(&s, &d->st, d->dp);
	if (n < 0)
		log_warnx("applying the drains of %s: %s", path, strerror(-n));
	drains_free(&s);
}

void control_started(struct lbd_daemon *d)
{
	drains_reapply(d);
}

void control_applied(struct lbd_daemon *d)
{
	drains_reapply(d);
}

void control_reloaded(struct lbd_daemon *d, bool ok)
{
	if (!ok)
		return;
	drains_reapply(d);
	/* a reload may have loaded a new program, with its own ring buffer
	 * and mask: follow it */
	if (d->mon_mask) {
		__u32 mask = d->mon_mask;

		mon_close(d);
		if (mon_arm(d, mask))
			log_warnx("monitor: following the new program failed");
	}
}

void control_io_gone(struct lbd_daemon *d)
{
	d->mon_state = false;
	mon_arm(d, 0);
}

void control_stop(struct lbd_daemon *d)
{
	control_io_gone(d);
}
