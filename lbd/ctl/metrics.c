// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus text rendering of a metrics snapshot (see metrics.h). The
 * snapshot's shape is the privileged process's answer to "metrics"
 * (control.c, ctl_metrics); a field it lacks renders as nothing, never as
 * a made-up zero.
 */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v ? json_object_get_string(v) : "";
}

/* Label values: backslash, double quote and newline escaped. */
static void esc(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
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
		fprintf(f, "%s%s=\"", i ? "," : "{", ln[i]);
		esc(f, lv[i] ? lv[i] : "");
		fputc('"', f);
	}
	if (i)
		fputc('}', f);
	/* integers up to 2^53 print exactly; %.17g keeps the rest exact */
	if (value == (double)(int64_t)value)
		fprintf(f, " %lld\n", (long long)value);
	else
		fprintf(f, " %.17g\n", value);
}

static double num(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v ? json_object_get_double(v) : 0;
}

#define LIST_EACH(arr, i, el)                                      \
	for (i = 0; arr && i < json_object_array_length(arr) &&    \
		    ((el = json_object_array_get_idx(arr, i)), 1); \
	     i++)

/* A family with a sample per element of the list l: labelled by the
 * element's member label, valued by its member key. */
static void per_element(FILE *f, struct json_object *l, const char *name,
			const char *type, const char *help, const char *label,
			const char *key)
{
	struct json_object *el;
	size_t i;

	family(f, name, type, help);
	LIST_EACH(l, i, el)
	sample(f, name, label, str(el, label), NULL, NULL, NULL, NULL,
	       num(el, key));
}

static void render_daemon(FILE *f, struct json_object *s,
			  const struct metrics_io *io)
{
	struct json_object *cfg = get(s, "config"), *dp = get(s, "datapath");
	struct json_object *mon = get(s, "monitor");

	family(f, "lbd_build_info", "gauge",
	       "lbd's version and role; always 1");
	sample(f, "lbd_build_info", "version", str(s, "version"), "role",
	       str(s, "role"), NULL, NULL, 1);
	family(f, "lbd_start_time_seconds", "gauge",
	       "When lbd started, in seconds since the epoch");
	sample(f, "lbd_start_time_seconds", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(s, "start_time_s"));
	if (cfg) {
		family(f, "lbd_config_generation", "gauge",
		       "Configurations applied since lbd started");
		sample(f, "lbd_config_generation", NULL, NULL, NULL, NULL, NULL,
		       NULL, num(cfg, "generation"));
		family(f, "lbd_reloads_total", "counter",
		       "Reloads attempted (SIGHUP or the file changed)");
		sample(f, "lbd_reloads_total", NULL, NULL, NULL, NULL, NULL,
		       NULL, num(cfg, "reloads"));
		family(f, "lbd_reload_failures_total", "counter",
		       "Reloads rejected; the previous config kept serving");
		sample(f, "lbd_reload_failures_total", NULL, NULL, NULL, NULL,
		       NULL, NULL, num(cfg, "reload_failures"));
		family(f, "lbd_last_reload_success", "gauge",
		       "1 when the last reload (or the start) succeeded");
		sample(f, "lbd_last_reload_success", NULL, NULL, NULL, NULL,
		       NULL, NULL, num(cfg, "last_reload_ok"));
		family(f, "lbd_last_reload_duration_seconds", "gauge",
		       "How long the last reload (or the start) took");
		sample(f, "lbd_last_reload_duration_seconds", NULL, NULL, NULL,
		       NULL, NULL, NULL, num(cfg, "last_reload_s"));
	}
	if (dp) {
		family(f, "lbd_datapath_attached", "gauge",
		       "1 when lbd's program is attached to the interface");
		sample(f, "lbd_datapath_attached", "interface",
		       str(dp, "interface"), "mode", str(dp, "mode"), NULL,
		       NULL, num(dp, "attached"));
	}
	family(f, "lbd_runtime_drains", "gauge",
	       "Drains set with lbctl drain and not undone");
	sample(f, "lbd_runtime_drains", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(s, "drains"));
	family(f, "lbd_control_clients", "gauge",
	       "Clients connected to the control socket");
	sample(f, "lbd_control_clients", NULL, NULL, NULL, NULL, NULL, NULL,
	       (double)io->control_clients);
	family(f, "lbd_monitor_clients", "gauge",
	       "Clients streaming datapath events (lbctl monitor)");
	sample(f, "lbd_monitor_clients", NULL, NULL, NULL, NULL, NULL, NULL,
	       (double)io->monitor_clients);
	family(f, "lbd_monitor_events_lost_total", "counter",
	       "Datapath events not delivered to monitor clients that "
	       "could not keep up");
	sample(f, "lbd_monitor_events_lost_total", NULL, NULL, NULL, NULL, NULL,
	       NULL, num(mon, "lost") + (double)io->monitor_lost);
}

/* The last apply (role lb). */
static void render_apply(FILE *f, struct json_object *s)
{
	static const char *const serving[] = { "applied", "previous", "mixed" };
	struct json_object *a = get(s, "apply");
	size_t i;

	if (!a)
		return;
	family(f, "lbd_last_apply_success", "gauge",
	       "1 when the last apply of services to the datapath (start, "
	       "reload, the cluster's changes, drains, health) wrote all "
	       "of it");
	sample(f, "lbd_last_apply_success", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(a, "ok"));
	family(f, "lbd_apply_failures_total", "counter",
	       "Applies whose map writes failed; their writes were rolled "
	       "back");
	sample(f, "lbd_apply_failures_total", NULL, NULL, NULL, NULL, NULL,
	       NULL, num(a, "failures"));
	family(f, "lbd_apply_rollback_failures_total", "counter",
	       "Failed applies whose writes could not all be rolled back");
	sample(f, "lbd_apply_rollback_failures_total", NULL, NULL, NULL, NULL,
	       NULL, NULL, num(a, "rollback_failures"));
	family(f, "lbd_datapath_serving", "gauge",
	       "What the datapath serves, one series per state: the last "
	       "apply whole (applied), the state before a failed apply "
	       "(previous), part of both after a failed rollback (mixed)");
	for (i = 0; i < sizeof(serving) / sizeof(serving[0]); i++)
		sample(f, "lbd_datapath_serving", "state", serving[i], NULL,
		       NULL, NULL, NULL,
		       !strcmp(str(a, "serving"), serving[i]));
}

static void render_reasons(FILE *f, struct json_object *s)
{
	struct json_object *l = get(s, "reasons"), *r;
	size_t i;

	if (!l)
		return;
	family(f, "lbd_datapath_packets_total", "counter",
	       "Packets the datapath handled, by reason (kind: forward, "
	       "pass, event, drop)");
	LIST_EACH(l, i, r)
	{
		sample(f, "lbd_datapath_packets_total", "reason",
		       str(r, "reason"), "kind", str(r, "kind"), NULL, NULL,
		       num(r, "packets"));
	}
	family(f, "lbd_datapath_bytes_total", "counter",
	       "Bytes of the packets the datapath handled, by reason");
	LIST_EACH(l, i, r)
	{
		sample(f, "lbd_datapath_bytes_total", "reason",
		       str(r, "reason"), "kind", str(r, "kind"), NULL, NULL,
		       num(r, "bytes"));
	}
}

static void render_conntrack(FILE *f, struct json_object *s)
{
	struct json_object *l = get(s, "conntrack");

	if (!l)
		return;
	per_element(f, l, "lbd_conntrack_entries", "gauge",
		    "Entries in the conntrack map, expired ones not yet "
		    "evicted included",
		    "family", "entries");
	per_element(f, l, "lbd_conntrack_active_entries", "gauge",
		    "Conntrack entries within their idle timeout", "family",
		    "live");
	per_element(f, l, "lbd_conntrack_capacity", "gauge",
		    "Size of the conntrack map (datapath.conntrack_entries)",
		    "family", "capacity");
}

static void render_nat(FILE *f, struct json_object *s)
{
	struct json_object *l = get(s, "nat"), *a = get(s, "affinity");

	if (l) {
		per_element(f, l, "lbd_nat_entries", "gauge",
			    "Entries in the SNAT reverse map, expired ones not "
			    "yet taken over included",
			    "family", "entries");
		per_element(f, l, "lbd_nat_capacity", "gauge",
			    "Size of the SNAT reverse map", "family",
			    "capacity");
	}
	if (a) {
		family(f, "lbd_affinity_entries", "gauge",
		       "Entries in the session affinity map");
		sample(f, "lbd_affinity_entries", NULL, NULL, NULL, NULL, NULL,
		       NULL, num(a, "entries"));
		family(f, "lbd_affinity_capacity", "gauge",
		       "Size of the session affinity map");
		sample(f, "lbd_affinity_capacity", NULL, NULL, NULL, NULL, NULL,
		       NULL, num(a, "capacity"));
	}
}

static const char *const svc_counters[][3] = {
	{ "lbd_service_packets_total", "packets",
	  "Packets forwarded for the service" },
	{ "lbd_service_bytes_total", "bytes",
	  "Bytes forwarded for the service (as received)" },
	{ "lbd_service_new_flows_total", "new_flows",
	  "Flows the service's Maglev table placed" },
};

static const char *const be_counters[][3] = {
	{ "lbd_backend_packets_total", "packets",
	  "Packets forwarded to the backend" },
	{ "lbd_backend_bytes_total", "bytes",
	  "Bytes forwarded to the backend (as received)" },
	{ "lbd_backend_new_flows_total", "new_flows",
	  "New flows placed on the backend" },
};

static const char *const be_gauges[][3] = {
	{ "lbd_backend_active_flows", "active_flows",
	  "Conntrack entries on the backend within their idle timeout" },
	{ "lbd_backend_weight", "weight", "The backend's configured weight" },
	{ "lbd_backend_maglev_share", "share",
	  "Share of the service's Maglev table slots held by the backend" },
	{ "lbd_backend_healthy", "healthy",
	  "1 unless health checks took the backend out" },
	{ "lbd_backend_drained", "drained", "1 while drained by lbctl drain" },
};

/* Health checks (the prober's counters) and the VIPs announced. */
static void render_health(FILE *f, struct json_object *s)
{
	static const char *const counters[][3] = {
		{ "lbd_health_checks_total", "runs", "Health checks started" },
		{ "lbd_health_check_failures_total", "failed",
		  "Health checks that failed" },
		{ "lbd_health_checks_late_total", "late",
		  "Health checks started an interval or more late (the "
		  "prober did not keep up)" },
		{ "lbd_health_prober_restarts_total", "prober_restarts",
		  "Times the prober process ended and was started again" },
	};
	struct json_object *h = get(s, "health"), *b = get(s, "bird"), *l, *v;
	size_t i;

	if (h && get(h, "checks")) {
		for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
			family(f, counters[i][0], "counter", counters[i][2]);
			sample(f, counters[i][0], NULL, NULL, NULL, NULL, NULL,
			       NULL, num(h, counters[i][1]));
		}
		family(f, "lbd_health_checks", "gauge",
		       "Backends checked, by what their check says");
		sample(f, "lbd_health_checks", "state", "up", NULL, NULL, NULL,
		       NULL, num(h, "up"));
		sample(f, "lbd_health_checks", "state", "down", NULL, NULL,
		       NULL, NULL, num(h, "down"));
		sample(f, "lbd_health_checks", "state", "unknown", NULL, NULL,
		       NULL, NULL, num(h, "unknown"));
		family(f, "lbd_health_checks_running", "gauge",
		       "Health checks in flight");
		sample(f, "lbd_health_checks_running", NULL, NULL, NULL, NULL,
		       NULL, NULL, num(h, "running"));
		family(f, "lbd_health_check_max_lag_seconds", "gauge",
		       "The latest start of a health check after its time, "
		       "over the last seconds");
		sample(f, "lbd_health_check_max_lag_seconds", NULL, NULL, NULL,
		       NULL, NULL, NULL, num(h, "max_lag_ms") / 1000);
	}
	if (!b || !get(b, "connected"))
		return;
	family(f, "lbd_bird_connected", "gauge",
	       "1 while lbd is connected to BIRD's control socket");
	sample(f, "lbd_bird_connected", NULL, NULL, NULL, NULL, NULL, NULL,
	       json_object_get_boolean(get(b, "connected")));
	family(f, "lbd_bird_configures_total", "counter",
	       "Reconfigurations BIRD accepted from lbd");
	sample(f, "lbd_bird_configures_total", NULL, NULL, NULL, NULL, NULL,
	       NULL, num(b, "configures"));
	family(f, "lbd_bird_errors_total", "counter",
	       "Reconfigurations BIRD refused");
	sample(f, "lbd_bird_errors_total", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(b, "errors"));
	l = get(b, "vips");
	family(f, "lbd_vip_announced", "gauge",
	       "1 while lbd has BIRD announce the VIP");
	LIST_EACH(l, i, v)
	sample(f, "lbd_vip_announced", "vip", str(v, "vip"), NULL, NULL, NULL,
	       NULL, json_object_get_boolean(get(v, "announced")));
	family(f, "lbd_vip_backends_up", "gauge",
	       "Backends of the VIP's services that are up (each address "
	       "and port once)");
	LIST_EACH(l, i, v)
	sample(f, "lbd_vip_backends_up", "vip", str(v, "vip"), NULL, NULL,
	       NULL, NULL, num(v, "backends_up"));
}

/* Per backend, for the backends with a check. */
static const char *const be_check_gauges[][3] = {
	{ "lbd_backend_health_check_seconds", "check_seconds",
	  "How long the backend's last health check took" },
	{ "lbd_backend_health_check_success", "check_ok",
	  "1 when the backend's last health check succeeded" },
};

static void render_be_checks(FILE *f, struct json_object *l)
{
	struct json_object *svc, *bl, *b;
	size_t i, j, k;

	for (k = 0; k < sizeof(be_check_gauges) / sizeof(be_check_gauges[0]);
	     k++) {
		family(f, be_check_gauges[k][0], "gauge", be_check_gauges[k][2]);
		LIST_EACH(l, i, svc)
		{
			bl = get(svc, "backends");
			LIST_EACH(bl, j, b)
			if (get(b, be_check_gauges[k][1]))
				sample(f, be_check_gauges[k][0], "service",
				       str(svc, "name"), "backend",
				       str(b, "backend"), NULL, NULL,
				       num(b, be_check_gauges[k][1]));
		}
	}
	family(f, "lbd_backend_health_changes_total", "counter",
	       "Times the backend's health check changed its verdict");
	LIST_EACH(l, i, svc)
	{
		bl = get(svc, "backends");
		LIST_EACH(bl, j, b)
		if (get(b, "health_changes"))
			sample(f, "lbd_backend_health_changes_total", "service",
			       str(svc, "name"), "backend", str(b, "backend"),
			       NULL, NULL, num(b, "health_changes"));
	}
}

static void render_services(FILE *f, struct json_object *s)
{
	struct json_object *l = get(s, "services"), *svc, *bl, *b;
	static const char *const states[] = { "active", "draining", "down" };
	size_t i, j, k;

	if (!l)
		return;
	family(f, "lbd_service_info", "gauge",
	       "A service's address and forwarding; always 1");
	LIST_EACH(l, i, svc)
	{
		char port[8];

		snprintf(port, sizeof(port), "%d", (int)num(svc, "port"));
		fputs("lbd_service_info{service=\"", f);
		esc(f, str(svc, "name"));
		fputs("\",vip=\"", f);
		esc(f, str(svc, "vip"));
		fprintf(f, "\",port=\"%s\",protocol=\"", port);
		esc(f, str(svc, "protocol"));
		fputs("\",forwarding=\"", f);
		esc(f, str(svc, "forwarding"));
		fputs("\",source=\"", f);
		esc(f, str(svc, "source"));
		fputs("\"} 1\n", f);
	}
	for (k = 0; k < sizeof(svc_counters) / sizeof(svc_counters[0]); k++) {
		family(f, svc_counters[k][0], "counter", svc_counters[k][2]);
		LIST_EACH(l, i, svc)
		sample(f, svc_counters[k][0], "service", str(svc, "name"), NULL,
		       NULL, NULL, NULL, num(svc, svc_counters[k][1]));
	}
	family(f, "lbd_service_usable_backends", "gauge",
	       "Backends in the service's Maglev table");
	LIST_EACH(l, i, svc)
	{
		sample(f, "lbd_service_usable_backends", "service",
		       str(svc, "name"), NULL, NULL, NULL, NULL,
		       num(svc, "active_backends"));
	}

	for (k = 0; k < sizeof(be_counters) / sizeof(be_counters[0]); k++) {
		family(f, be_counters[k][0], "counter", be_counters[k][2]);
		LIST_EACH(l, i, svc)
		{
			bl = get(svc, "backends");
			LIST_EACH(bl, j, b)
			sample(f, be_counters[k][0], "service",
			       str(svc, "name"), "backend", str(b, "backend"),
			       NULL, NULL, num(b, be_counters[k][1]));
		}
	}
	for (k = 0; k < sizeof(be_gauges) / sizeof(be_gauges[0]); k++) {
		family(f, be_gauges[k][0], "gauge", be_gauges[k][2]);
		LIST_EACH(l, i, svc)
		{
			bl = get(svc, "backends");
			LIST_EACH(bl, j, b)
			sample(f, be_gauges[k][0], "service", str(svc, "name"),
			       "backend", str(b, "backend"), NULL, NULL,
			       num(b, be_gauges[k][1]));
		}
	}
	family(f, "lbd_backend_state", "gauge",
	       "The backend's datapath state: 1 for the state it is in");
	LIST_EACH(l, i, svc)
	{
		bl = get(svc, "backends");
		LIST_EACH(bl, j, b)
		{
			for (k = 0; k < 3; k++)
				sample(f, "lbd_backend_state", "service",
				       str(svc, "name"), "backend",
				       str(b, "backend"), "state", states[k],
				       !strcmp(str(b, "state"), states[k]));
		}
	}
	render_be_checks(f, l);
}

/* The cluster's services (or ports, endpoints) lbd refuses to serve,
 * by reason (k8s_model.h). */
static void render_k8s_refusals(FILE *f, struct json_object *r)
{
	struct json_object *t = get(r, "total");

	if (!r || !t)
		return;
	family(f, "lbd_kubernetes_refused", "gauge",
	       "Refusals of the cluster's Services in force now (a Service, "
	       "a port or an endpoint each; lbctl status says the last)");
	sample(f, "lbd_kubernetes_refused", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(r, "refused"));
	family(f, "lbd_kubernetes_refusals_total", "counter",
	       "Refusals of the cluster's Services, each counted when it is "
	       "first logged, by reason");
	json_object_object_foreach(t, reason, v)
		sample(f, "lbd_kubernetes_refusals_total", "reason", reason,
		       NULL, NULL, NULL, NULL, json_object_get_int64(v));
}

static void render_k8s(FILE *f, struct json_object *s)
{
	static const char *const events[] = { "added", "modified", "deleted",
					      "bookmark" };
	struct json_object *k = get(s, "kubernetes"), *l, *r;
	size_t i, e;

	if (!k || !json_object_get_boolean(get(k, "configured")))
		return;
	l = get(k, "resources");
	family(f, "lbd_kubernetes_synced", "gauge",
	       "1 once Services and EndpointSlices have been listed (the "
	       "cluster's services are served from then on)");
	sample(f, "lbd_kubernetes_synced", NULL, NULL, NULL, NULL, NULL, NULL,
	       json_object_get_boolean(get(k, "synced")));
	family(f, "lbd_kubernetes_watching", "gauge",
	       "1 while the resource's watch streams; 0 while it lists or "
	       "reconnects (the last known state serves meanwhile)");
	LIST_EACH(l, i, r)
	sample(f, "lbd_kubernetes_watching", "resource", str(r, "resource"),
	       NULL, NULL, NULL, NULL,
	       json_object_get_boolean(get(r, "watching")));
	per_element(f, l, "lbd_kubernetes_objects", "gauge",
		    "Objects of the resource in lbd's cache", "resource",
		    "objects");
	family(f, "lbd_kubernetes_events_total", "counter",
	       "Watch events received, by resource and type");
	LIST_EACH(l, i, r)
	{
		for (e = 0; e < 4; e++)
			sample(f, "lbd_kubernetes_events_total", "resource",
			       str(r, "resource"), "type", events[e], NULL,
			       NULL, num(get(r, "events"), events[e]));
	}
	per_element(f, l, "lbd_kubernetes_lists_total", "counter",
		    "Complete lists of the resource (the first and relists)",
		    "resource", "lists");
	per_element(f, l, "lbd_kubernetes_gone_total", "counter",
		    "410 Gone answers (expired resourceVersion): each a relist",
		    "resource", "gone");
	per_element(f, l, "lbd_kubernetes_watch_restarts_total", "counter",
		    "Watches started again after they ended or failed",
		    "resource", "watch_restarts");
	per_element(f, l, "lbd_kubernetes_request_failures_total", "counter",
		    "Lists and watches that failed (each retried with backoff)",
		    "resource", "failures");
	family(f, "lbd_kubernetes_services", "gauge",
	       "Services in the datapath that come from the cluster");
	sample(f, "lbd_kubernetes_services", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(k, "services"));
	family(f, "lbd_kubernetes_applies_total", "counter",
	       "Changes of the cluster applied to the datapath");
	sample(f, "lbd_kubernetes_applies_total", NULL, NULL, NULL, NULL, NULL,
	       NULL, num(k, "applies"));
	family(f, "lbd_kubernetes_apply_failures_total", "counter",
	       "Changes of the cluster that could not be applied");
	sample(f, "lbd_kubernetes_apply_failures_total", NULL, NULL, NULL, NULL,
	       NULL, NULL, num(k, "apply_failures"));
	family(f, "lbd_service_clashes_refused_total", "counter",
	       "Services refused because another source serves their VIP, "
	       "port and protocol");
	sample(f, "lbd_service_clashes_refused_total", NULL, NULL, NULL, NULL,
	       NULL, NULL, num(k, "refused_total"));
	family(f, "lbd_services_refused", "gauge",
	       "Services refused now for a clash (they wait for the key)");
	sample(f, "lbd_services_refused", NULL, NULL, NULL, NULL, NULL, NULL,
	       num(k, "refused"));
	render_k8s_refusals(f, get(k, "refusals"));
}

/* The backend role: its connections by local address and port
 * (sockdiag.h); read by lbctl drain --wait in flow_state = "backends". */
static void render_backend_connections(FILE *f, struct json_object *s)
{
	struct json_object *l = get(s, "backend_connections"), *c;
	char port[8];
	size_t i;

	if (!l)
		return;
	family(f, "lbd_backend_connections", "gauge",
	       "TCP connections of this node in a live state, by local "
	       "address (a VIP bound here, or the node's own address) and a "
	       "port a listener has");
	LIST_EACH(l, i, c)
	{
		snprintf(port, sizeof(port), "%d", (int)num(c, "port"));
		sample(f, "lbd_backend_connections", "vip", str(c, "address"),
		       "port", port, NULL, NULL, num(c, "connections"));
	}
}

int metrics_render(struct json_object *snap, const struct metrics_io *io,
		   char **out, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return -errno;
	render_daemon(f, snap, io);
	render_apply(f, snap);
	render_reasons(f, snap);
	render_conntrack(f, snap);
	render_nat(f, snap);
	render_services(f, snap);
	render_k8s(f, snap);
	render_health(f, snap);
	render_backend_connections(f, snap);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}
