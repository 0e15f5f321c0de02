// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus text rendering of a metrics snapshot (see metrics.h): the
 * fixed-layout struct of msg.h the privileged process fills (ctl_metrics.c);
 * a section its flags do not name renders as nothing, never as made-up
 * zeros.
 */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>

/* Label values: backslash, double quote and newline escaped. A scrape
 * of 10,000 services writes a million of them: runs between the
 * characters to escape go out whole (a character at a time was a third
 * of the scrape). */
static void esc(FILE *f, const char *s)
{
	for (;;) {
		size_t n = strcspn(s, "\\\"\n");

		fwrite(s, 1, n, f);
		s += n;
		if (!*s)
			return;
		fputs(*s == '\n' ? "\\n" : *s == '"' ? "\\\"" : "\\\\", f);
		s++;
	}
}

/* A value: integers (exact up to 2^53) in decimal, by hand, as most
 * are; the rest with %.17g, which keeps them exact. */
static void value_out(FILE *f, double value)
{
	char buf[24], *p = buf + sizeof(buf);
	unsigned long long u;
	bool neg;

	if (!(value > -9e18 && value < 9e18) ||
	    value != (double)(int64_t)value) {
		fprintf(f, " %.17g\n", value);
		return;
	}
	neg = value < 0;
	u = neg ? (unsigned long long)-(int64_t)value :
		  (unsigned long long)(int64_t)value;
	*--p = '\n';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (neg)
		*--p = '-';
	*--p = ' ';
	fwrite(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample with up to three labels (NULL names end the list). */
static void sample(FILE *f, const char *name, const char *l1, const char *v1,
		   const char *l2, const char *v2, const char *l3,
		   const char *v3, double value)
{
	const char *ln[3] = { l1, l2, l3 }, *lv[3] = { v1, v2, v3 };
	int i;

	fputs(name, f);
	for (i = 0; i < 3 && ln[i]; i++) {
		fputc(i ? ',' : '{', f);
		fputs(ln[i], f);
		fputs("=\"", f);
		esc(f, lv[i] ? lv[i] : "");
		fputc('"', f);
	}
	if (i)
		fputc('}', f);
	value_out(f, value);
}

#define SNAP_EACH(s, i, r, t)               \
	for (i = 0; i < (s)->h.n_recs; i++) \
		if ((r = &(s)->rec[i])->type == (t))

/* One sample without labels. */
static void plain(FILE *f, const char *name, const char *type, const char *help,
		  double value)
{
	family(f, name, type, help);
	sample(f, name, NULL, NULL, NULL, NULL, NULL, NULL, value);
}

static void render_daemon(FILE *f, const struct lbd_metrics_snap *s,
			  const struct metrics_io *io)
{
	const struct lbd_metrics_head *h = &s->h;

	family(f, "lbd_build_info", "gauge",
	       "lbd's version and role; always 1");
	sample(f, "lbd_build_info", "version", h->version, "role", h->role,
	       NULL, NULL, 1);
	plain(f, "lbd_start_time_seconds", "gauge",
	      "When lbd started, in seconds since the epoch", h->start_time_s);
	plain(f, "lbd_config_generation", "gauge",
	      "Configurations applied since lbd started",
	      (double)h->generation);
	plain(f, "lbd_reloads_total", "counter",
	      "Reloads attempted (SIGHUP or the file changed)",
	      (double)h->reloads);
	plain(f, "lbd_reload_failures_total", "counter",
	      "Reloads rejected; the previous config kept serving",
	      (double)h->reload_failures);
	plain(f, "lbd_last_reload_success", "gauge",
	      "1 when the last reload (or the start) succeeded",
	      h->last_reload_ok);
	plain(f, "lbd_last_reload_duration_seconds", "gauge",
	      "How long the last reload (or the start) took", h->last_reload_s);
	plain(f, "lbd_last_reload_timestamp_seconds", "gauge",
	      "When the last reload (or the start) ended, in seconds since "
	      "the epoch",
	      h->last_reload_at_s);
	if (h->flags & LBD_MET_F_DATAPATH) {
		family(f, "lbd_datapath_attached", "gauge",
		       "1 when lbd's program is attached to the interface");
		sample(f, "lbd_datapath_attached", "interface", h->interface,
		       "mode", h->mode, NULL, NULL, h->attached);
	}
	plain(f, "lbd_runtime_drains", "gauge",
	      "Drains set with lbctl drain and not undone", (double)h->drains);
	plain(f, "lbd_control_clients", "gauge",
	      "Clients connected to the control socket",
	      (double)io->control_clients);
	plain(f, "lbd_monitor_clients", "gauge",
	      "Clients streaming datapath events (lbctl monitor)",
	      (double)io->monitor_clients);
	plain(f, "lbd_monitor_events_lost_total", "counter",
	      "Datapath events not delivered to monitor clients that "
	      "could not keep up",
	      (double)h->monitor_lost + (double)io->monitor_lost);
}

/* The last apply (role lb). */
static void render_apply(FILE *f, const struct lbd_metrics_snap *s)
{
	static const char *const serving[] = { "applied", "previous", "mixed" };
	const struct lbd_metrics_head *h = &s->h;
	size_t i;

	if (!(h->flags & LBD_MET_F_DATAPATH))
		return;
	plain(f, "lbd_last_apply_success", "gauge",
	      "1 when the last apply of services to the datapath (start, "
	      "reload, the cluster's changes, drains, health) wrote all "
	      "of it",
	      h->apply_ok);
	plain(f, "lbd_apply_failures_total", "counter",
	      "Applies whose map writes failed; their writes were rolled "
	      "back",
	      (double)h->apply_failures);
	plain(f, "lbd_apply_rollback_failures_total", "counter",
	      "Failed applies whose writes could not all be rolled back",
	      (double)h->apply_rollback_failures);
	family(f, "lbd_datapath_serving", "gauge",
	       "What the datapath serves, one series per state: the last "
	       "apply whole (applied), the state before a failed apply "
	       "(previous), part of both after a failed rollback (mixed)");
	for (i = 0; i < sizeof(serving) / sizeof(serving[0]); i++)
		sample(f, "lbd_datapath_serving", "state", serving[i], NULL,
		       NULL, NULL, NULL, !strcmp(h->serving, serving[i]));
}

static void render_reasons(FILE *f, const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_rec *r;
	size_t i;

	if (!(s->h.flags & LBD_MET_F_REASONS))
		return;
	family(f, "lbd_datapath_packets_total", "counter",
	       "Packets the datapath handled, by reason (kind: forward, "
	       "pass, event, drop)");
	SNAP_EACH(s, i, r, LBD_MET_REASON)
	sample(f, "lbd_datapath_packets_total", "reason", r->u.reason.reason,
	       "kind", r->u.reason.kind, NULL, NULL,
	       (double)r->u.reason.packets);
	family(f, "lbd_datapath_bytes_total", "counter",
	       "Bytes of the packets the datapath handled, by reason");
	SNAP_EACH(s, i, r, LBD_MET_REASON)
	sample(f, "lbd_datapath_bytes_total", "reason", r->u.reason.reason,
	       "kind", r->u.reason.kind, NULL, NULL, (double)r->u.reason.bytes);
}

static const char *const families[] = { "ipv4", "ipv6" };

/* A family with a sample per address family. */
static void per_family(FILE *f, const char *name, const char *type,
		       const char *help, const __u64 v[2])
{
	int i;

	family(f, name, type, help);
	for (i = 0; i < 2; i++)
		sample(f, name, "family", families[i], NULL, NULL, NULL, NULL,
		       (double)v[i]);
}

static void render_conntrack(FILE *f, const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_head *h = &s->h;

	if (!(h->flags & LBD_MET_F_DATAPATH))
		return;
	per_family(f, "lbd_conntrack_entries", "gauge",
		   "Entries in the conntrack map, expired ones not yet "
		   "evicted included",
		   h->ct_entries);
	per_family(f, "lbd_conntrack_active_entries", "gauge",
		   "Conntrack entries within their idle timeout", h->ct_live);
	per_family(f, "lbd_conntrack_capacity", "gauge",
		   "Size of the conntrack map (datapath.conntrack_entries)",
		   h->ct_capacity);
}

static void render_nat(FILE *f, const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_head *h = &s->h;

	if (!(h->flags & LBD_MET_F_DATAPATH))
		return;
	per_family(f, "lbd_nat_entries", "gauge",
		   "Entries in the SNAT reverse map, expired ones not "
		   "yet taken over included",
		   h->nat_entries);
	per_family(f, "lbd_nat_capacity", "gauge",
		   "Size of the SNAT reverse map", h->nat_capacity);
	plain(f, "lbd_affinity_entries", "gauge",
	      "Entries in the session affinity map", (double)h->aff_entries);
	plain(f, "lbd_affinity_capacity", "gauge",
	      "Size of the session affinity map", (double)h->aff_capacity);
}

/* What a metric of a service or backend reads from its record. */
typedef double (*svc_get)(const struct lbd_met_service *s);
typedef double (*be_get)(const struct lbd_met_backend *b);

static double svc_packets(const struct lbd_met_service *s)
{
	return (double)s->packets;
}

static double svc_bytes(const struct lbd_met_service *s)
{
	return (double)s->bytes;
}

static double svc_new_flows(const struct lbd_met_service *s)
{
	return (double)s->new_flows;
}

static double be_packets(const struct lbd_met_backend *b)
{
	return (double)b->packets;
}

static double be_bytes(const struct lbd_met_backend *b)
{
	return (double)b->bytes;
}

static double be_new_flows(const struct lbd_met_backend *b)
{
	return (double)b->new_flows;
}

static double be_active_flows(const struct lbd_met_backend *b)
{
	return (double)b->active_flows;
}

static double be_weight(const struct lbd_met_backend *b)
{
	return b->weight;
}

static double be_share(const struct lbd_met_backend *b)
{
	return b->share;
}

static double be_healthy(const struct lbd_met_backend *b)
{
	return b->healthy;
}

static double be_drained(const struct lbd_met_backend *b)
{
	return b->drained;
}

static double be_check_seconds(const struct lbd_met_backend *b)
{
	return b->check_seconds;
}

static double be_check_ok(const struct lbd_met_backend *b)
{
	return b->check_ok;
}

static double be_health_changes(const struct lbd_met_backend *b)
{
	return (double)b->health_changes;
}

static const struct {
	const char *name, *help;
	svc_get get;
} svc_counters[] = {
	{ "lbd_service_packets_total", "Packets forwarded for the service",
	  svc_packets },
	{ "lbd_service_bytes_total",
	  "Bytes forwarded for the service (as received)", svc_bytes },
	{ "lbd_service_new_flows_total",
	  "Flows the service's Maglev table placed", svc_new_flows },
};

struct be_metric {
	const char *name, *help;
	be_get get;
};

static const struct be_metric be_counters[] = {
	{ "lbd_backend_packets_total", "Packets forwarded to the backend",
	  be_packets },
	{ "lbd_backend_bytes_total",
	  "Bytes forwarded to the backend (as received)", be_bytes },
	{ "lbd_backend_new_flows_total", "New flows placed on the backend",
	  be_new_flows },
};

static const struct be_metric be_gauges[] = {
	{ "lbd_backend_active_flows",
	  "Conntrack entries on the backend within their idle timeout",
	  be_active_flows },
	{ "lbd_backend_weight", "The backend's configured weight", be_weight },
	{ "lbd_backend_maglev_share",
	  "Share of the service's Maglev table slots held by the backend",
	  be_share },
	{ "lbd_backend_healthy", "1 unless health checks took the backend out",
	  be_healthy },
	{ "lbd_backend_drained", "1 while drained by lbctl drain", be_drained },
};

/* Per backend, for the backends with a check. */
static const struct be_metric be_check_gauges[] = {
	{ "lbd_backend_health_check_seconds",
	  "How long the backend's last health check took", be_check_seconds },
	{ "lbd_backend_health_check_success",
	  "1 when the backend's last health check succeeded", be_check_ok },
};

/* A sample of m per backend (with a check only, when checked), each
 * labelled by its service: the record before its backends. */
static void per_backend(FILE *f, const struct lbd_metrics_snap *s,
			const struct be_metric *m, const char *type,
			bool checked)
{
	const char *svc = "";
	size_t i;

	family(f, m->name, type, m->help);
	for (i = 0; i < s->h.n_recs; i++) {
		const struct lbd_metrics_rec *r = &s->rec[i];

		if (r->type == LBD_MET_SERVICE)
			svc = r->u.service.name;
		if (r->type != LBD_MET_BACKEND ||
		    (checked && !r->u.backend.has_check))
			continue;
		sample(f, m->name, "service", svc, "backend",
		       r->u.backend.backend, NULL, NULL, m->get(&r->u.backend));
	}
}

/* Health checks (the prober's counters) and the VIPs announced. */
static void render_health(FILE *f, const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_head *h = &s->h;
	const struct lbd_metrics_rec *r;
	size_t i;

	if (h->flags & LBD_MET_F_HEALTH) {
		plain(f, "lbd_health_checks_total", "counter",
		      "Health checks started", (double)h->hc_runs);
		plain(f, "lbd_health_check_failures_total", "counter",
		      "Health checks that failed", (double)h->hc_failed);
		plain(f, "lbd_health_checks_late_total", "counter",
		      "Health checks started an interval or more late (the "
		      "prober did not keep up)",
		      (double)h->hc_late);
		plain(f, "lbd_health_prober_restarts_total", "counter",
		      "Times the prober process ended and was started again",
		      (double)h->hc_prober_restarts);
		family(f, "lbd_health_checks", "gauge",
		       "Backends checked, by what their check says");
		sample(f, "lbd_health_checks", "state", "up", NULL, NULL, NULL,
		       NULL, (double)h->hc_up);
		sample(f, "lbd_health_checks", "state", "down", NULL, NULL,
		       NULL, NULL, (double)h->hc_down);
		sample(f, "lbd_health_checks", "state", "unknown", NULL, NULL,
		       NULL, NULL, (double)h->hc_unknown);
		plain(f, "lbd_health_checks_running", "gauge",
		      "Health checks in flight", (double)h->hc_running);
		plain(f, "lbd_health_check_max_lag_seconds", "gauge",
		      "The latest start of a health check after its time, "
		      "over the last seconds",
		      h->hc_max_lag_ms / 1000);
	}
	if (!(h->flags & LBD_MET_F_BIRD))
		return;
	plain(f, "lbd_bird_connected", "gauge",
	      "1 while lbd is connected to BIRD's control socket",
	      h->bird_connected);
	plain(f, "lbd_bird_configures_total", "counter",
	      "Reconfigurations BIRD accepted from lbd",
	      (double)h->bird_configures);
	plain(f, "lbd_bird_errors_total", "counter",
	      "Reconfigurations BIRD refused", (double)h->bird_errors);
	family(f, "lbd_vip_announced", "gauge",
	       "1 while lbd has BIRD announce the VIP");
	SNAP_EACH(s, i, r, LBD_MET_VIP)
	sample(f, "lbd_vip_announced", "vip", r->u.vip.vip, NULL, NULL, NULL,
	       NULL, r->u.vip.announced);
	family(f, "lbd_vip_backends_up", "gauge",
	       "Backends of the VIP's services that are up (each address "
	       "and port once)");
	SNAP_EACH(s, i, r, LBD_MET_VIP)
	sample(f, "lbd_vip_backends_up", "vip", r->u.vip.vip, NULL, NULL, NULL,
	       NULL, r->u.vip.backends_up);
}

static void render_services(FILE *f, const struct lbd_metrics_snap *s)
{
	static const char *const states[] = { "active", "draining", "down" };
	static const struct be_metric changes = {
		"lbd_backend_health_changes_total",
		"Times the backend's health check changed its verdict",
		be_health_changes
	};
	const struct lbd_metrics_rec *r;
	const char *svc = "";
	size_t i, k;

	if (!(s->h.flags & LBD_MET_F_DATAPATH))
		return;
	family(f, "lbd_service_info", "gauge",
	       "A service's address and forwarding; always 1");
	SNAP_EACH(s, i, r, LBD_MET_SERVICE)
	{
		const struct lbd_met_service *v = &r->u.service;

		fputs("lbd_service_info{service=\"", f);
		esc(f, v->name);
		fputs("\",vip=\"", f);
		esc(f, v->vip);
		fprintf(f, "\",port=\"%u\",protocol=\"", v->port);
		esc(f, v->protocol);
		fputs("\",forwarding=\"", f);
		esc(f, v->forwarding);
		fputs("\",source=\"", f);
		esc(f, v->source);
		fputs("\"} 1\n", f);
	}
	for (k = 0; k < sizeof(svc_counters) / sizeof(svc_counters[0]); k++) {
		family(f, svc_counters[k].name, "counter",
		       svc_counters[k].help);
		SNAP_EACH(s, i, r, LBD_MET_SERVICE)
		sample(f, svc_counters[k].name, "service", r->u.service.name,
		       NULL, NULL, NULL, NULL,
		       svc_counters[k].get(&r->u.service));
	}
	family(f, "lbd_service_usable_backends", "gauge",
	       "Backends in the service's Maglev table");
	SNAP_EACH(s, i, r, LBD_MET_SERVICE)
	sample(f, "lbd_service_usable_backends", "service", r->u.service.name,
	       NULL, NULL, NULL, NULL, r->u.service.active_backends);
	/* control.metrics_backends = false: no per-backend family at all */
	if (!(s->h.flags & LBD_MET_F_BACKENDS))
		return;
	for (k = 0; k < sizeof(be_counters) / sizeof(be_counters[0]); k++)
		per_backend(f, s, &be_counters[k], "counter", false);
	for (k = 0; k < sizeof(be_gauges) / sizeof(be_gauges[0]); k++)
		per_backend(f, s, &be_gauges[k], "gauge", false);
	family(f, "lbd_backend_state", "gauge",
	       "The backend's datapath state: 1 for the state it is in");
	for (i = 0; i < s->h.n_recs; i++) {
		r = &s->rec[i];
		if (r->type == LBD_MET_SERVICE)
			svc = r->u.service.name;
		if (r->type != LBD_MET_BACKEND)
			continue;
		for (k = 0; k < 3; k++)
			sample(f, "lbd_backend_state", "service", svc,
			       "backend", r->u.backend.backend, "state",
			       states[k],
			       !strcmp(r->u.backend.state, states[k]));
	}
	for (k = 0; k < sizeof(be_check_gauges) / sizeof(be_check_gauges[0]);
	     k++)
		per_backend(f, s, &be_check_gauges[k], "gauge", true);
	per_backend(f, s, &changes, "counter", true);
}

/* The cluster's services (or ports, endpoints) lbd refuses to serve,
 * by reason (k8s_model.h). */
static void render_k8s_refusals(FILE *f, const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_rec *r;
	size_t i;

	plain(f, "lbd_kubernetes_refused", "gauge",
	      "Refusals of the cluster's Services in force now (a Service, "
	      "a port or an endpoint each; lbctl status says the last)",
	      (double)s->h.k8s_refused_now);
	family(f, "lbd_kubernetes_refusals_total", "counter",
	       "Refusals of the cluster's Services, each counted when it is "
	       "first logged, by reason");
	SNAP_EACH(s, i, r, LBD_MET_K8S_REFUSAL)
	sample(f, "lbd_kubernetes_refusals_total", "reason",
	       r->u.refusal.reason, NULL, NULL, NULL, NULL,
	       (double)r->u.refusal.total);
}

/* A family with a sample per Kubernetes resource. */
static void per_resource(FILE *f, const struct lbd_metrics_head *h,
			 const char *name, const char *type, const char *help,
			 size_t offset)
{
	size_t i;

	family(f, name, type, help);
	for (i = 0; i < h->k8s_n_res; i++)
		sample(f, name, "resource", h->k8s_res[i].name, NULL, NULL,
		       NULL, NULL,
		       (double)*(const __u64 *)((const char *)&h->k8s_res[i] +
						offset));
}

static void render_k8s(FILE *f, const struct lbd_metrics_snap *s)
{
	static const char *const events[LBD_MET_K8S_EVENTS] = {
		"added", "modified", "deleted", "bookmark"
	};
	const struct lbd_metrics_head *h = &s->h;
	size_t i, e;

	if (!(h->flags & LBD_MET_F_K8S))
		return;
	plain(f, "lbd_kubernetes_synced", "gauge",
	      "1 once Services and EndpointSlices have been listed (the "
	      "cluster's services are served from then on)",
	      h->k8s_synced);
	family(f, "lbd_kubernetes_watching", "gauge",
	       "1 while the resource's watch streams; 0 while it lists or "
	       "reconnects (the last known state serves meanwhile)");
	for (i = 0; i < h->k8s_n_res; i++)
		sample(f, "lbd_kubernetes_watching", "resource",
		       h->k8s_res[i].name, NULL, NULL, NULL, NULL,
		       h->k8s_res[i].watching);
	per_resource(f, h, "lbd_kubernetes_objects", "gauge",
		     "Objects of the resource in lbd's cache",
		     offsetof(struct lbd_met_k8s_resource, objects));
	family(f, "lbd_kubernetes_events_total", "counter",
	       "Watch events received, by resource and type");
	for (i = 0; i < h->k8s_n_res; i++)
		for (e = 0; e < LBD_MET_K8S_EVENTS; e++)
			sample(f, "lbd_kubernetes_events_total", "resource",
			       h->k8s_res[i].name, "type", events[e], NULL,
			       NULL, (double)h->k8s_res[i].events[e]);
	per_resource(f, h, "lbd_kubernetes_lists_total", "counter",
		     "Complete lists of the resource (the first and relists)",
		     offsetof(struct lbd_met_k8s_resource, lists));
	per_resource(
		f, h, "lbd_kubernetes_gone_total", "counter",
		"410 Gone answers (expired resourceVersion): each a relist",
		offsetof(struct lbd_met_k8s_resource, gone));
	per_resource(f, h, "lbd_kubernetes_watch_restarts_total", "counter",
		     "Watches started again after they ended or failed",
		     offsetof(struct lbd_met_k8s_resource, watch_restarts));
	per_resource(
		f, h, "lbd_kubernetes_request_failures_total", "counter",
		"Lists and watches that failed (each retried with backoff)",
		offsetof(struct lbd_met_k8s_resource, failures));
	plain(f, "lbd_kubernetes_services", "gauge",
	      "Services in the datapath that come from the cluster",
	      (double)h->k8s_services);
	plain(f, "lbd_kubernetes_applies_total", "counter",
	      "Changes of the cluster applied to the datapath",
	      (double)h->k8s_applies);
	plain(f, "lbd_kubernetes_apply_failures_total", "counter",
	      "Changes of the cluster that could not be applied",
	      (double)h->k8s_apply_failures);
	plain(f, "lbd_service_clashes_refused_total", "counter",
	      "Services refused because another source serves their VIP, "
	      "port and protocol",
	      (double)h->k8s_clashes_total);
	plain(f, "lbd_services_refused", "gauge",
	      "Services refused now for a clash (they wait for the key)",
	      (double)h->k8s_clashes_now);
	render_k8s_refusals(f, s);
}

/* The backend role: its connections by local address and port
 * (sockdiag.h); read by lbctl drain --wait in flow_state = "backends". */
static void render_backend_connections(FILE *f,
				       const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_rec *r;
	char port[8];
	size_t i;

	if (!(s->h.flags & LBD_MET_F_CONNS))
		return;
	family(f, "lbd_backend_connections", "gauge",
	       "TCP connections of this node in a live state, by local "
	       "address (a VIP bound here, or the node's own address) and a "
	       "port a listener has");
	SNAP_EACH(s, i, r, LBD_MET_CONN)
	{
		snprintf(port, sizeof(port), "%u", r->u.conn.port);
		sample(f, "lbd_backend_connections", "vip", r->u.conn.address,
		       "port", port, NULL, NULL, (double)r->u.conn.connections);
	}
}

/* A counter family of the node role's programs, one sample a reason: the
 * records of type t (struct lbd_metrics_rec's node_socket). */
static void node_reasons(FILE *f, const struct lbd_metrics_snap *s,
			 __u8 t, const char *name, const char *help)
{
	const struct lbd_metrics_rec *r;
	size_t i;

	family(f, name, "counter", help);
	SNAP_EACH(s, i, r, t)
	sample(f, name, "reason", r->u.node_socket.reason, NULL, NULL, NULL,
	       NULL, (double)r->u.node_socket.total);
}

/* The node role: its programs' counters and the Services their maps
 * hold. */
static void render_node(FILE *f, const struct lbd_metrics_snap *s)
{
	const struct lbd_metrics_head *h = &s->h;

	if (!(h->flags & LBD_MET_F_NODE))
		return;
	node_reasons(f, s, LBD_MET_NODE_SOCKET, "lbd_node_socket_total",
		     "Socket programs' decisions by reason (connect and sendmsg "
		     "translated, recvmsg reverse hits and misses, no endpoint, "
		     "bind refused, ...; lbctl stats describes each)");
	node_reasons(f, s, LBD_MET_NODE_TC, "lbd_node_tc_total",
		     "The tc path's decisions on pod interfaces by reason "
		     "(flows begun, packets and replies translated, drops; "
		     "lbctl stats describes each)");
	node_reasons(f, s, LBD_MET_NODE_NIC, "lbd_node_nic_total",
		     "The NIC path's decisions for traffic from outside the "
		     "node by reason (flows begun local or SNATed, packets and "
		     "replies translated, drops; lbctl stats describes each)");
	plain(f, "lbd_node_services", "gauge",
	      "Services of the cluster with a port in the socket programs' "
	      "maps",
	      (double)h->node_services);
	plain(f, "lbd_node_service_ports", "gauge",
	      "Service ports in the maps (one per port, family and scope: "
	      "internal or external)",
	      (double)h->node_ports);
	plain(f, "lbd_node_service_addresses", "gauge",
	      "Service addresses in the maps (ClusterIPs, external and "
	      "LoadBalancer IPs, node addresses with a NodePort)",
	      (double)h->node_addresses);
	plain(f, "lbd_node_endpoints", "gauge",
	      "Endpoints of the Service ports in the maps",
	      (double)h->node_endpoints);
	plain(f, "lbd_node_local_endpoints", "gauge",
	      "Endpoints of the Service ports in the maps that run on this "
	      "node",
	      (double)h->node_local_endpoints);
	plain(f, "lbd_node_syncs_total", "counter",
	      "The cluster's Services written to the maps (each change)",
	      (double)h->node_syncs);
	plain(f, "lbd_node_sync_failures_total", "counter",
	      "Syncs that could not translate the cluster's Services",
	      (double)h->node_sync_failures);
	plain(f, "lbd_node_write_failures_total", "counter",
	      "Map writes of a Service port that failed (retried at the "
	      "next sync)",
	      (double)h->node_write_failures);
	plain(f, "lbd_node_last_sync_timestamp_seconds", "gauge",
	      "When the last sync of the cluster's Services was applied "
	      "(seconds since the epoch; 0: none yet)",
	      h->node_last_sync_at_s);
	plain(f, "lbd_node_service_proxy_healthy", "gauge",
	      "1 while the health check ports answer serviceProxyHealthy "
	      "true; 0 after a failed sync or once the Kubernetes client "
	      "has been behind for node_role.health_timeout",
	      h->node_proxy_healthy);
}

/* Role node: the health check ports the io process serves. */
static void render_node_hc(FILE *f, const struct lbd_metrics_snap *s,
			   const struct metrics_io *io)
{
	if (!(s->h.flags & LBD_MET_F_NODE))
		return;
	plain(f, "lbd_node_health_check_ports", "gauge",
	      "healthCheckNodePorts open (a LoadBalancer Service's with "
	      "externalTrafficPolicy Local)",
	      (double)io->hc_ports);
	plain(f, "lbd_node_health_check_open_failures_total", "counter",
	      "healthCheckNodePorts and /healthz listeners that could not "
	      "be opened (each counted once until it opens or goes)",
	      (double)io->hc_open_failures);
	plain(f, "lbd_node_healthz_listening", "gauge",
	      "1 while kube-proxy's /healthz and /livez server "
	      "(node_role.healthz_address) listens",
	      (double)io->hc_healthz);
}

/* lbd and its children, one series each by its process name. */
static void render_processes(FILE *f, const struct lbd_metrics_snap *s,
			     const struct metrics_io *io)
{
	const struct lbd_metrics_rec *r;
	size_t i;

	family(f, "lbd_process_cpu_seconds_total", "counter",
	       "CPU time (user and system) of lbd and of each of its "
	       "children");
	SNAP_EACH(s, i, r, LBD_MET_PROC)
	sample(f, "lbd_process_cpu_seconds_total", "process", r->u.proc.name,
	       NULL, NULL, NULL, NULL, r->u.proc.cpu_seconds);
	family(f, "lbd_process_resident_memory_bytes", "gauge",
	       "Resident memory of lbd and of each of its children");
	SNAP_EACH(s, i, r, LBD_MET_PROC)
	sample(f, "lbd_process_resident_memory_bytes", "process",
	       r->u.proc.name, NULL, NULL, NULL, NULL,
	       (double)r->u.proc.rss_bytes);
	family(f, "lbd_process_open_fds", "gauge",
	       "Open file descriptors of lbd and of each of its children "
	       "(where they can be counted)");
	SNAP_EACH(s, i, r, LBD_MET_PROC)
	{
		long n = r->u.proc.open_fds;

		if (n < 0 && io->self_pid && r->u.proc.pid == io->self_pid)
			n = io->self_fds;
		if (n >= 0)
			sample(f, "lbd_process_open_fds", "process",
			       r->u.proc.name, NULL, NULL, NULL, NULL,
			       (double)n);
	}
}

int metrics_render_snap(const struct lbd_metrics_snap *snap,
			const struct metrics_io *io, char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return -errno;
	/* the stream is this thread's alone: no lock per call */
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	render_daemon(f, snap, io);
	render_apply(f, snap);
	render_reasons(f, snap);
	render_conntrack(f, snap);
	render_nat(f, snap);
	render_services(f, snap);
	render_k8s(f, snap);
	render_health(f, snap);
	render_backend_connections(f, snap);
	render_node(f, snap);
	render_node_hc(f, snap, io);
	render_processes(f, snap, io);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}

int metrics_render(const void *payload, size_t n, const struct metrics_io *io,
		   char **out, size_t *len)
{
	struct lbd_metrics_snap snap;
	int r = metrics_snap_decode(payload, n, &snap);

	if (r)
		return r;
	r = metrics_render_snap(&snap, io, out, len);
	metrics_snap_free(&snap);
	return r;
}
