// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The metrics snapshot, rendered by the io process (metrics.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "ctwalk.h"
#include "health.h"
#include "log.h"
#include "sockdiag.h"

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
		     jstr(ctl_addr_str(c[i].family, &c[i].addr, a, sizeof(a))));
		jadd(o, "port", jint(c[i].port));
		jadd(o, "connections", jint(c[i].connections));
		json_object_array_add(l, o);
	}
	free(c);
	return l;
}

int ctl_metrics(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen)
{
	struct json_object *cfg = json_object_new_object();
	struct json_object *reasons = json_object_new_array();
	struct json_object *mon = json_object_new_object();
	struct lbd_counter c[LBD_REASON_MAX];
	struct ctl_info in;
	int r;

	ctl_info_get(x, &in);
	(void)req;
	(void)err;
	(void)errlen;
	jadd(out, "version", jstr(LBD_VERSION));
	jadd(out, "role",
	     jstr(ctl_cfg(x)->role == LBD_ROLE_BACKEND ? "backend" : "lb"));
	jadd(out, "start_time_s", jdbl(ctl_start_time_s(&in)));
	jadd(cfg, "generation", jint(in.generation));
	jadd(cfg, "reloads", jint(in.reloads));
	jadd(cfg, "reload_failures", jint(in.reload_failures));
	jadd(cfg, "last_reload_ok", jint(in.last_ok));
	jadd(cfg, "last_reload_s", jdbl(in.last_ms / 1000));
	jadd(out, "config", cfg);
	jadd(mon, "lost", jint(x->mon.lost));
	jadd(out, "monitor", mon);
	if (ctl_read_reasons(x, c) == 0) {
		for (r = 0; r < LBD_REASON_MAX; r++) {
			struct json_object *o;

			/* the other role's reasons are always 0 here */
			if (!strncmp(ctl_reason_enums[r], "LBD_BE_", 7) !=
			    (ctl_cfg(x)->role == LBD_ROLE_BACKEND))
				continue;
			o = json_object_new_object();

			jadd(o, "reason", jstr(ctl_reason_labels[r]));
			jadd(o, "kind", jstr(ctl_reason_kind(r)));
			jadd(o, "packets", jint(c[r].packets));
			jadd(o, "bytes", jint(c[r].bytes));
			json_object_array_add(reasons, o);
		}
	}
	jadd(out, "reasons", reasons);

	if (ctl_cfg(x)->role == LBD_ROLE_LB) {
		struct json_object *dp = json_object_new_object();
		struct json_object *ctl = json_object_new_array();
		struct json_object *svcs = json_object_new_array();
		struct flows_count fc;
		size_t i, j;

		jadd(dp, "interface", jstr(ctl_cfg(x)->dp.interface));
		jadd(dp, "mode", jstr(in.native ? "native" : "generic"));
		jadd(dp, "attached", jint(in.prog_id != 0 && in.attached));
		jadd(out, "datapath", dp);
		jadd(out, "apply", ctl_apply_json(x));
		jadd(out, "kubernetes", ctl_k8s_json(x));
		jadd(out, "drains", jint(ctl_drains_count(x)));
		{
			struct json_object *h = json_object_new_object();
			struct json_object *b = json_object_new_object();

			health_json(*x->health, h);
			jadd(out, "health", h);
			ctl_bgp_json(x, b);
			jadd(out, "bird", b);
		}
		r = ctl_count_flows(x, &fc);
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
			jadd(o, "capacity",
			     jint(dp_opts(ctl_dp(x))->ct_entries));
			json_object_array_add(ctl, o);
		}
		jadd(out, "conntrack", ctl);
		ctl = json_object_new_array();
		for (i = 0; i < 2; i++) {
			struct json_object *o = json_object_new_object();
			long n = dp_map_count(ctl_dp(x),
					      i ? DP_MAP_NAT6 : DP_MAP_NAT4);

			jadd(o, "family", jstr(i ? "ipv6" : "ipv4"));
			jadd(o, "entries", jint(n < 0 ? 0 : n));
			jadd(o, "capacity",
			     jint(dp_opts(ctl_dp(x))->nat_entries));
			json_object_array_add(ctl, o);
		}
		jadd(out, "nat", ctl);
		{
			struct json_object *o = json_object_new_object();
			long n = dp_map_count(ctl_dp(x), DP_MAP_AFFINITY);

			jadd(o, "entries", jint(n < 0 ? 0 : n));
			jadd(o, "capacity",
			     jint(dp_opts(ctl_dp(x))->affinity_entries));
			jadd(out, "affinity", o);
		}
		for (i = 0; i < x->st->n_svc; i++) {
			const struct st_service *s = &x->st->svc[i];
			struct json_object *o = json_object_new_object();
			struct json_object *bl = json_object_new_array();
			struct lbd_traffic t = { 0 };
			double *share = ctl_shares_of(x, s);

			dp_svc_traffic(ctl_dp(x), s->id, &t);
			ctl_service_json(x, s, o);
			jadd(o, "packets", jint(t.packets));
			jadd(o, "bytes", jint(t.bytes));
			jadd(o, "new_flows", jint(t.new_flows));
			for (j = 0; j < s->n_be; j++) {
				struct json_object *b =
					json_object_new_object();

				ctl_backend_json(x, s, &s->be[j], fc.per_be,
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
	if (ctl_cfg(x)->role == LBD_ROLE_BACKEND)
		jadd(out, "backend_connections", backend_connections_json());
	return 0;
}
