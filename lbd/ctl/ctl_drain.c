// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl drain and undrain, and the flow reports drain --wait reads. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "ctl_int.h"
#include "drains.h"
#include "log.h"

static int drain_of(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		    struct drain *dr, const struct st_service **svc, char *err,
		    size_t errlen)
{
	const struct lbd_msg_addr *hp = &req->backend;
	const char *name = req->service[0] ? req->service : NULL;

	memset(dr, 0, sizeof(*dr));
	*svc = NULL;
	if (!hp->family)
		return -EINVAL;
	dr->addr.family = hp->family;
	dr->addr.prefixlen = hp->family == LBD_AF_INET ? 32 : 128;
	dr->addr.addr = hp->addr;
	dr->port = hp->port;
	if (name) {
		*svc = state_find_name(x->st, name);
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
static void drain_named(struct ctl_ctx *x, const struct drain *dr, char *buf,
			size_t len)
{
	const struct st_service *s = dr->has_svc ? state_find(x->st, &dr->svc) :
						   NULL;

	drain_text(dr, s, buf, len);
	if (dr->has_svc && !s) {
		char v[INET6_ADDRSTRLEN + 10];

		snprintf(buf + strlen(buf), len - strlen(buf), " of %s",
			 ctl_hostport_str(dr->svc.family, &dr->svc.vip,
					  ntohs(dr->svc.port), v, sizeof(v)));
	}
}

static void drain_text(const struct drain *dr, const struct st_service *svc,
		       char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	ctl_addr_str(dr->addr.family, &dr->addr.addr, a, sizeof(a));
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
static struct json_object *touched(struct ctl_ctx *x, const struct drain *dr,
				   const char *cause)
{
	struct json_object *list = json_object_new_array();
	char l[INET6_ADDRSTRLEN + 10], line[LBD_SVC_NAME_MAX + 64];
	size_t i, j;

	for (i = 0; i < x->st->n_svc; i++)
		for (j = 0; j < x->st->svc[i].n_be; j++) {
			const struct st_service *s = &x->st->svc[i];
			const struct st_backend *b = &s->be[j];

			if (!drain_matches(dr, s, b))
				continue;
			snprintf(line, sizeof(line), "%s %s", s->name,
				 ctl_be_label(b, l, sizeof(l)));
			json_object_array_add(list, jstr(line));
			control_backend_event(x, s, b, cause);
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
static struct json_object *flow_reports(struct ctl_ctx *x,
					const struct drain *dr)
{
	struct json_object *list = json_object_new_array();
	char l[INET6_ADDRSTRLEN + 10], a[INET6_ADDRSTRLEN];
	char url[INET6_ADDRSTRLEN + 32];
	size_t i, j;

	for (i = 0; i < x->st->n_svc; i++)
		for (j = 0; j < x->st->svc[i].n_be; j++) {
			const struct st_service *s = &x->st->svc[i];
			const struct st_backend *b = &s->be[j];
			__u8 fwd = s->fwd == LBD_FWD_HYBRID ? s->dsr : s->fwd;
			struct json_object *o;
			bool v6 = b->addr.family == LBD_AF_INET6;

			if (!(s->flags & LBD_SVC_F_FLOW_BACKENDS) ||
			    s->key.proto != IPPROTO_TCP ||
			    !drain_matches(dr, s, b))
				continue;
			o = json_object_new_object();
			ctl_addr_str(b->addr.family, &b->addr.addr, a,
				     sizeof(a));
			snprintf(url, sizeof(url), "http://%s%s%s:%u/metrics",
				 v6 ? "[" : "", a, v6 ? "]" : "",
				 ctl_cfg(x)->dp.flow_report_port);
			jadd(o, "service", jstr(s->name));
			jadd(o, "backend", jstr(ctl_be_label(b, l, sizeof(l))));
			jadd(o, "address", jstr(a));
			jadd(o, "url", jstr(url));
			if (fwd == LBD_FWD_GENEVE) {
				jadd(o, "local_address", jstr(a));
				jadd(o, "local_port", jint(b->port));
			} else {
				jadd(o, "local_address",
				     jstr(ctl_addr_str(s->key.family,
						       &s->key.vip, a,
						       sizeof(a))));
				jadd(o, "local_port", jint(ntohs(s->key.port)));
			}
			json_object_array_add(list, o);
		}
	return list;
}

int ctl_drain(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	      struct json_object *out, char *err, size_t errlen)
{
	const struct st_service *svc;
	struct be_match m = { 0 };
	struct apply_result res;
	struct drain_set set;
	struct drain dr;
	char path[PATH_MAX], what[LBD_SVC_NAME_MAX + 64];
	int n, r;

	r = drain_of(x, req, &dr, &svc, err, errlen);
	if (r)
		return r;
	drain_text(&dr, svc, what, sizeof(what));
	m.service = svc ? svc->name : NULL;
	m.addr = dr.addr;
	m.port = dr.port;
	n = state_set_flag(x->st, ctl_dp(x), &m, BE_FLAG_DRAINED, true, NULL,
			   NULL, &res);
	if (n < 0) {
		snprintf(err, errlen, "draining %s: %s", what, strerror(-n));
		return n;
	}
	if (n == 0) {
		snprintf(err, errlen, "no backend %s", what);
		return -ENOENT;
	}
	log_info("control: backend %s drained (%x matched, %lu map writes)",
		 what, n, res.writes);
	drains_path(ctl_cfg(x)->control.socket, path, sizeof(path));
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
	jadd(out, "backends", touched(x, &dr, "drain"));
	jadd(out, "reports", flow_reports(x, &dr));
	return 0;
}

struct undrain_be {
	char service[LBD_SVC_NAME_MAX];
	struct lbd_conf_addr addr;
	__u16 port;
};

int ctl_undrain(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen)
{
	const struct st_service *svc;
	struct undrain_be *list = NULL;
	struct apply_result res;
	struct drain_set set;
	struct drain dr;
	char path[PATH_MAX], what[LBD_SVC_NAME_MAX + 64],
		line[LBD_SVC_NAME_MAX + 96];
	size_t i, j, k, n = 0, removed;
	int r;

	r = drain_of(x, req, &dr, &svc, err, errlen);
	if (r)
		return r;
	drain_text(&dr, svc, what, sizeof(what));
	drains_path(ctl_cfg(x)->control.socket, path, sizeof(path));
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
			drain_named(x, &set.d[i], line, sizeof(line));
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
	list = calloc(x->st->max_backends ? x->st->max_backends : 1,
		      sizeof(*list));
	if (!list) {
		drains_free(&set);
		return -ENOMEM;
	}
	for (i = 0; i < x->st->n_svc; i++)
		for (j = 0; j < x->st->svc[i].n_be; j++) {
			const struct st_service *s = &x->st->svc[i];
			const struct st_backend *b = &s->be[j];
			bool held = false;

			if (!b->drained || !drain_matches(&dr, s, b))
				continue;
			for (k = 0; k < set.n; k++)
				held |= drain_matches(&set.d[k], s, b);
			if (held || n == x->st->max_backends)
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

		r = state_set_flag(x->st, ctl_dp(x), &m, BE_FLAG_DRAINED, false,
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
	jadd(out, "backends", touched(x, &dr, "undrain"));
	return 0;
}
