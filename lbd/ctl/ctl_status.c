// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl status, services, backends, stats. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "companion.h"
#include "drains.h"
#include "health.h"
#include "node.h"
#include "node_nic.h"
#include "node_tc.h"
#include "prober.h"

size_t ctl_drains_count(const struct ctl_ctx *x)
{
	struct drain_set s;
	char path[PATH_MAX];
	size_t n;

	drains_path(ctl_cfg(x)->control.socket, path, sizeof(path));
	if (drains_load(path, &s))
		return 0;
	n = s.n;
	drains_free(&s);
	return n;
}

/* The last apply's result and what the datapath serves (state.h). */
struct json_object *ctl_apply_json(const struct ctl_ctx *x)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "ok", jint(!x->st->last_err));
	jadd(o, "serving", jstr(state_served_str(x->st->served)));
	jadd(o, "error",
	     jstr(x->st->last_err ? strerror(-x->st->last_err) : ""));
	jadd(o, "failures", jint(x->st->failures));
	jadd(o, "rollback_failures", jint(x->st->rollback_failures));
	return o;
}

int ctl_status(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	       struct json_object *out, char *err, size_t errlen)
{
	struct json_object *cfg = json_object_new_object();
	struct json_object *reload = json_object_new_object();
	struct json_object *errors = json_object_new_array();
	struct json_object *ctl = json_object_new_object();
	struct json_object *mon = json_object_new_object();
	struct json_object *bird = json_object_new_object();
	struct ctl_info in;
	size_t i, nbe = 0;

	ctl_info_get(x, &in);
	(void)req;
	(void)err;
	(void)errlen;
	jadd(out, "state", jstr("running"));
	jadd(out, "version", jstr(LBD_VERSION));
	jadd(out, "role", jstr(ctl_role_name(ctl_cfg(x))));
	jadd(out, "uptime_s", jdbl(ctl_uptime_s(&in)));
	jadd(cfg, "file", jstr(x->config_path));
	jadd(cfg, "generation", jint(in.generation));
	jadd(cfg, "reloads", jint(in.reloads));
	jadd(cfg, "reload_failures", jint(in.reload_failures));
	jadd(reload, "ok", jbool(in.last_ok));
	jadd(reload, "ms", jdbl(in.last_ms));
	for (i = 0; i < in.n_last_errors; i++)
		json_object_array_add(errors, jstr(in.last_errors[i]));
	jadd(reload, "errors", errors);
	jadd(cfg, "last_reload", reload);
	jadd(out, "config", cfg);
	jadd(ctl, "socket", jstr(ctl_cfg(x)->control.socket));
	jadd(ctl, "group", jstr(ctl_cfg(x)->control.group));
	jadd(ctl, "metrics_listen", jstr(ctl_cfg(x)->control.metrics_listen));
	jadd(out, "control", ctl);
	jadd(mon, "active", jbool(x->mon.mask || x->mon.state));
	jadd(mon, "drops", jbool(x->mon.mask & LBD_MON_DROPS));
	jadd(mon, "flows", jbool(x->mon.mask & LBD_MON_FLOWS));
	jadd(mon, "health", jbool(x->mon.state));
	jadd(mon, "lost", jint(x->mon.lost));
	jadd(out, "monitor", mon);
	if (ctl_cfg(x)->role == LBD_ROLE_LB)
		jadd(out, "kubernetes", ctl_k8s_json(x));
	ctl_bgp_json(x, bird);
	jadd(out, "bird", bird);

	if (ctl_cfg(x)->role == LBD_ROLE_NODE) {
		/* the node's section, its Service counts and its
		 * Kubernetes client (lbd/node.c) */
		if (x->node_status_json)
			x->node_status_json(x->arg, out);
	} else if (ctl_cfg(x)->role == LBD_ROLE_BACKEND) {
		struct json_object *dp = json_object_new_object();

		jadd(dp, "interface", jstr(ctl_cfg(x)->node.interface));
		jadd(dp, "trusted_lbs", jint(ctl_cfg(x)->node.n_lb_sources));
		jadd(dp, "vips", jint(ctl_cfg(x)->node.n_vips));
		jadd(out, "datapath", dp);
	} else {
		struct json_object *dp = json_object_new_object();

		jadd(dp, "interface", jstr(ctl_cfg(x)->dp.interface));
		jadd(dp, "attached", jbool(in.prog_id != 0 && in.attached));
		jadd(dp, "program_id", jint(in.prog_id));
		jadd(dp, "mode", jstr(in.native ? "native" : "generic"));
		jadd(dp, "dispatcher", jbool(in.dispatcher));
		jadd(dp, "pin_path", jstr(ctl_cfg(x)->dp.pin_path));
		jadd(out, "datapath", dp);
		jadd(out, "apply", ctl_apply_json(x));
		for (i = 0; i < x->st->n_svc; i++)
			nbe += x->st->svc[i].n_be;
		jadd(out, "services", jint(x->st->n_svc));
		jadd(out, "backends", jint(nbe));
		jadd(out, "drains", jint(ctl_drains_count(x)));
		{
			struct json_object *h = json_object_new_object();

			health_json(*x->health, h);
			jadd(out, "health", h);
		}
	}
	return 0;
}

struct json_object *ctl_traffic_json(const struct lbd_traffic *t)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "packets", jint(t->packets));
	jadd(o, "bytes", jint(t->bytes));
	jadd(o, "new_flows", jint(t->new_flows));
	return o;
}

size_t ctl_active_backends(const struct st_service *s)
{
	size_t j, n = 0;

	for (j = 0; j < s->n_be; j++)
		n += s->be[j].dp_state == LBD_BE_ACTIVE;
	return n;
}

const char *ctl_flow_state_str(const struct st_service *s)
{
	return s->flags & LBD_SVC_F_FLOW_BACKENDS ? "backends" : "lb";
}

const char *ctl_udp_flow_state_str(const struct st_service *s)
{
	return s->flags & LBD_SVC_F_UDP_STATELESS ? "none" : "lb";
}

void ctl_service_json(struct ctl_ctx *x, const struct st_service *s,
		      struct json_object *o)
{
	char a[INET6_ADDRSTRLEN];

	jadd(o, "name", jstr(s->name));
	jadd(o, "vip",
	     jstr(ctl_addr_str(s->key.family, &s->key.vip, a, sizeof(a))));
	jadd(o, "port", jint(ntohs(s->key.port)));
	jadd(o, "protocol", jstr(config_proto_str(s->key.proto)));
	jadd(o, "forwarding", jstr(config_fwd_str(s->fwd)));
	/* where flow state lives (docs/flow-state.md) */
	jadd(o, "flow_state", jstr(ctl_flow_state_str(s)));
	jadd(o, "udp_flow_state", jstr(ctl_udp_flow_state_str(s)));
	jadd(o, "no_backend",
	     jstr(s->flags & LBD_SVC_F_UNREACH_ICMP ? "reject" : "drop"));
	jadd(o, "backends", jint(s->n_be));
	jadd(o, "active_backends", jint(ctl_active_backends(s)));
	jadd(o, "table_size", jint(s->table_size));
	jadd(o, "source",
	     jstr(s->source[0] ? s->source :
		  s->adopted   ? "adopted" :
				 "-"));
	(void)x;
}

/* The Kubernetes client's state, for status and metrics (the daemon
 * says it). */
struct json_object *ctl_k8s_json(struct ctl_ctx *x)
{
	struct json_object *o = json_object_new_object();

	if (x->k8s_json)
		x->k8s_json(x->arg, o);
	return o;
}

/* BIRD's state and every VIP's (the daemon says it). */
void ctl_bgp_json(struct ctl_ctx *x, struct json_object *out)
{
	if (x->bgp_json) {
		x->bgp_json(x->arg, out);
		return;
	}
	jadd(out, "state", jstr("not configured"));
	jadd(out, "vips", json_object_new_array());
}

int ctl_services(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		 struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list = json_object_new_array();
	size_t i;

	(void)req;
	(void)err;
	(void)errlen;
	if (ctl_cfg(x)->role == LBD_ROLE_NODE) {
		if (x->node_services_json)
			x->node_services_json(x->arg, list);
		jadd(out, "services", list);
		/* lbctl list tells the roles' answers apart by it */
		jadd(out, "role", jstr("node"));
		return 0;
	}
	for (i = 0; i < x->st->n_svc; i++) {
		const struct st_service *s = &x->st->svc[i];
		struct json_object *o = json_object_new_object();
		struct lbd_traffic t = { 0 };

		dp_svc_traffic(ctl_dp(x), s->id, &t);
		ctl_service_json(x, s, o);
		jadd(o, "traffic", ctl_traffic_json(&t));
		json_object_array_add(list, o);
	}
	jadd(out, "services", list);
	return 0;
}

/* A backend's health: "up", "down", "unknown" (checked, no result yet)
 * or "none" (not checked); the check's details; "healthy" is what the
 * datapath has (false: taken out by health). */
void ctl_health_be_json(struct ctl_ctx *x, const struct st_service *s,
			const struct st_backend *b, bool flat,
			struct json_object *o)
{
	const struct lbd_conf_health *hs = &ctl_cfg(x)->healths[b->health];
	const struct hm_check *c = health_of(*x->health, s, b);
	struct json_object *h;
	char t[INET6_ADDRSTRLEN + 10];

	jadd(o, "health",
	     jstr(hs->type == LBD_HC_NONE ? "none" :
		  c			  ? hc_state_str(c->state) :
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
	jadd(h, "target",
	     jstr(ctl_hostport_str(c->spec.family, &c->spec.addr, c->spec.port,
				   t, sizeof(t))));
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

void ctl_backend_json(struct ctl_ctx *x, const struct st_service *s,
		      const struct st_backend *b, const __u32 *flows,
		      double share, bool flat, struct json_object *o)
{
	struct lbd_traffic t = { 0 };
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];
	__u32 f = 0;

	if (flows)
		f = flows[b->id];
	/* the counters of a backend id count from when it got the id */
	dp_be_traffic(ctl_dp(x), b->id, &t);
	jadd(o, "service", jstr(s->name));
	jadd(o, "backend", jstr(ctl_be_label(b, l, sizeof(l))));
	jadd(o, "address",
	     jstr(ctl_addr_str(b->addr.family, &b->addr.addr, a, sizeof(a))));
	jadd(o, "port", jint(b->port));
	jadd(o, "weight", jint(b->weight));
	jadd(o, "config_state", jstr(config_state_str(b->conf_state)));
	ctl_health_be_json(x, s, b, flat, o);
	jadd(o, "drained", jbool(b->drained));
	jadd(o, "state", jstr(ctl_be_state_str(b->dp_state)));
	jadd(o, "share", jdbl(share));
	if (flat) {
		jadd(o, "packets", jint(t.packets));
		jadd(o, "bytes", jint(t.bytes));
		jadd(o, "new_flows", jint(t.new_flows));
	} else {
		jadd(o, "traffic", ctl_traffic_json(&t));
	}
	jadd(o, "active_flows", jint(f));
}

/* Each backend's share of the service's installed Maglev table. */
double *ctl_shares_of(struct ctl_ctx *x, const struct st_service *s)
{
	double *share = calloc(s->n_be ? s->n_be : 1, sizeof(*share));
	__u32 *table;
	size_t j, k;
	int m = 0;

	if (!share || !s->table_size)
		return share;
	table = malloc(s->table_size * sizeof(*table));
	if (table)
		m = dp_maglev_get(ctl_dp(x), s->id, table, s->table_size);
	for (j = 0; m > 0 && j < s->n_be; j++) {
		unsigned long slots = 0;

		for (k = 0; k < (size_t)m; k++)
			slots += table[k] == s->be[j].id;
		share[j] = (double)slots / m;
	}
	free(table);
	return share;
}

int ctl_backends(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		 struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list;
	const char *want = req->service[0] ? req->service : NULL;
	struct flows_count fc;
	size_t i, j;
	int r;

	if (want && !state_find_name(x->st, want)) {
		snprintf(err, errlen, "no service named %s", want);
		return -ENOENT;
	}
	r = ctl_count_flows(x, &fc);
	if (r) {
		free(fc.per_be);
		return r;
	}
	list = json_object_new_array();
	for (i = 0; i < x->st->n_svc; i++) {
		const struct st_service *s = &x->st->svc[i];
		double *share;

		if (want && strcmp(want, s->name))
			continue;
		share = ctl_shares_of(x, s);
		for (j = 0; j < s->n_be; j++) {
			struct json_object *o = json_object_new_object();

			ctl_backend_json(x, s, &s->be[j], fc.per_be,
					 share ? share[j] : 0, false, o);
			json_object_array_add(list, o);
		}
		free(share);
	}
	free(fc.per_be);
	jadd(out, "backends", list);
	return 0;
}

int ctl_read_reasons(struct ctl_ctx *x, struct lbd_counter *c)
{
	/* the node role's own counters are node_stats'; these, of the
	 * backend companion, are its DSR receiver's when it has one */
	if (ctl_cfg(x)->role == LBD_ROLE_NODE)
		return x->node_dsr_reasons ? x->node_dsr_reasons(x->arg, c) :
					     -EOPNOTSUPP;
	if (ctl_cfg(x)->role == LBD_ROLE_BACKEND)
		return companion_reasons_read(*x->be, c);
	return dp_reasons_read(ctl_dp(x), c);
}

/* Reason r's entry in a counters list: label, kind, description and
 * the counts c holds for it. */
static struct json_object *reason_json(const struct lbd_counter *c, int r)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "reason", jstr(ctl_reason_labels[r]));
	jadd(o, "kind", jstr(ctl_reason_kind(r)));
	jadd(o, "description", jstr(ctl_reason_descs[r]));
	jadd(o, "packets", jint(c[r].packets));
	jadd(o, "bytes", jint(c[r].bytes));
	return o;
}

/* The NIC path's counters (nic_counters), when it runs. */
static void node_nic_stats(struct ctl_ctx *x, struct json_object *out)
{
	__u64 c[LBD_NODE_NIC_REASON_MAX];
	struct json_object *list;
	unsigned int r;

	if (!x->node_nic_reasons || x->node_nic_reasons(x->arg, c))
		return;
	list = json_object_new_array();
	for (r = 0; r < LBD_NODE_NIC_REASON_MAX; r++) {
		struct json_object *o = json_object_new_object();

		jadd(o, "reason", jstr(node_nic_reason_label(r)));
		jadd(o, "kind", jstr("nic"));
		jadd(o, "description", jstr(node_nic_reason_desc(r)));
		jadd(o, "count", jint(c[r]));
		json_object_array_add(list, o);
	}
	jadd(out, "nic_counters", list);
}

/* The DSR receiver's counters (dsr_counters), when it runs: the backend
 * companion's reasons, as the backend role's lbctl stats gives them. */
static void node_dsr_stats(struct ctl_ctx *x, struct json_object *out)
{
	struct lbd_counter c[LBD_REASON_MAX];
	struct json_object *list;
	int r;

	if (ctl_read_reasons(x, c))
		return;
	list = json_object_new_array();
	for (r = 0; r < LBD_REASON_MAX; r++) {
		if (strncmp(ctl_reason_enums[r], "LBD_BE_", 7))
			continue;
		json_object_array_add(list, reason_json(c, r));
	}
	jadd(out, "dsr_counters", list);
}

/* The node role's counters: its socket programs' (include/lbd/node.h),
 * not the LB's XDP program's reasons; the tc and NIC paths' apart. */
static int node_stats(struct ctl_ctx *x, struct json_object *out, char *err,
		      size_t errlen)
{
	__u64 c[LBD_NODE_REASON_MAX] = { 0 }, t[LBD_NODE_TC_REASON_MAX];
	struct json_object *list;
	unsigned int r;

	if (!x->node_reasons || x->node_reasons(x->arg, c)) {
		snprintf(err, errlen, "reading the socket counters failed");
		return -EIO;
	}
	list = json_object_new_array();
	for (r = 0; r < LBD_NODE_REASON_MAX; r++) {
		struct json_object *o = json_object_new_object();

		jadd(o, "reason", jstr(node_reason_label(r)));
		jadd(o, "kind", jstr("socket"));
		jadd(o, "description", jstr(node_reason_desc(r)));
		jadd(o, "count", jint(c[r]));
		json_object_array_add(list, o);
	}
	jadd(out, "counters", list);
	node_nic_stats(x, out);
	node_dsr_stats(x, out);
	/* the tc path's apart: some reasons have the same label */
	if (!x->node_tc_reasons || x->node_tc_reasons(x->arg, t))
		return 0;
	list = json_object_new_array();
	for (r = 0; r < LBD_NODE_TC_REASON_MAX; r++) {
		struct json_object *o = json_object_new_object();

		jadd(o, "reason", jstr(node_tc_reason_label(r)));
		jadd(o, "kind", jstr("tc"));
		jadd(o, "description", jstr(node_tc_reason_desc(r)));
		jadd(o, "count", jint(t[r]));
		json_object_array_add(list, o);
	}
	jadd(out, "tc_counters", list);
	return 0;
}

int ctl_stats(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	      struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list;
	struct lbd_counter c[LBD_REASON_MAX];
	int r;

	(void)req;
	if (ctl_cfg(x)->role == LBD_ROLE_NODE)
		return node_stats(x, out, err, errlen);
	if (ctl_read_reasons(x, c)) {
		snprintf(err, errlen, "reading the counters failed");
		return -EIO;
	}
	list = json_object_new_array();
	for (r = 0; r < LBD_REASON_MAX; r++)
		json_object_array_add(list, reason_json(c, r));
	jadd(out, "counters", list);
	return 0;
}
