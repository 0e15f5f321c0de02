// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The VIPs lbd announces through BIRD (vips.h). */
#include "vips.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bird.h"
#include "config.h"
#include "health.h"
#include "state.h"
#include "log.h"
#include "metrics_snap.h"

/* After the withdraw of a planned stop, BIRD gets this long to take it. */
#define VIPS_STOP_GRACE_USEC (3 * 1000 * 1000)

/* A VIP and what lbd decided about it. */
struct vip_view {
	__u8 family;
	union lbd_addr addr;
	struct lbd_conf_bgp_attrs attrs; /* a copy: configs come and go */
	unsigned int up; /* backends up */
	bool announced;
};

struct vips {
	struct vips_ctx x;
	struct bird_announcer *bird;
	char socket[sizeof(((struct lbd_conf_bgp *)0)->socket)];
	char file[sizeof(((struct lbd_conf_bgp *)0)->file)];
	struct vip_view *view; /* as last evaluated */
	size_t n_view;
	bool stopping;
	sd_event_source *stop_timer;
	void (*done)(void *arg);
	void *done_arg;
};

struct be_key {
	__u8 family;
	union lbd_addr addr;
	__u16 port;
};

static int be_key_cmp(const void *a, const void *b)
{
	const struct be_key *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->port < y->port ? -1 : x->port > y->port;
}

/* Backends up among the services of the VIP of st->svc[first..end),
 * each address and port once. */
static unsigned int count_up(const struct vips *vp, size_t first, size_t end)
{
	const struct lbd_state *st = vp->x.st;
	struct be_key *k;
	size_t i, j, n = 0, total = 0;
	unsigned int up = 0;

	for (i = first; i < end; i++)
		total += st->svc[i].n_be;
	k = calloc(total ? total : 1, sizeof(*k));
	if (!k)
		return 0;
	for (i = first; i < end; i++) {
		const struct st_service *s = &st->svc[i];

		for (j = 0; j < s->n_be; j++) {
			if (!health_backend_up(*vp->x.health, *vp->x.cfg, s,
					       &s->be[j]))
				continue;
			k[n].family = s->be[j].addr.family;
			k[n].addr = s->be[j].addr.addr;
			k[n].port = s->be[j].port;
			n++;
		}
	}
	qsort(k, n, sizeof(*k), be_key_cmp);
	for (i = 0; i < n; i++)
		up += !i || be_key_cmp(&k[i - 1], &k[i]);
	free(k);
	return up;
}

/* Every VIP of the state (services are sorted by VIP first), with what
 * it deserves. The NodePort-style services on the LB host's own
 * addresses have no VIP to announce. */
static int evaluate(const struct vips *vp, struct vip_view **out, size_t *n_out)
{
	const struct lbd_state *st = vp->x.st;
	struct vip_view *v = calloc(st->n_svc ? st->n_svc : 1, sizeof(*v));
	size_t i = 0, n = 0;

	if (!v)
		return -ENOMEM;
	while (i < st->n_svc) {
		const struct st_service *s = &st->svc[i];
		size_t end = i + 1;

		while (end < st->n_svc &&
		       st->svc[end].key.family == s->key.family &&
		       !memcmp(&st->svc[end].key.vip, &s->key.vip,
			       sizeof(s->key.vip)))
			end++;
		if (!s->wildcard) {
			struct vip_view *x = &v[n++];

			x->family = s->key.family;
			x->addr = s->key.vip;
			x->attrs = *config_bgp_attrs(*vp->x.cfg, x->family,
						     &x->addr);
			x->up = count_up(vp, i, end);
			x->announced = *vp->x.attached && x->attrs.announce &&
				       x->up >= x->attrs.min_healthy;
		}
		i = end;
	}
	*out = v;
	*n_out = n;
	return 0;
}

static const char *vip_str(const struct vip_view *v, char *buf, size_t len)
{
	return inet_ntop(v->family == LBD_AF_INET ? AF_INET : AF_INET6,
			 &v->addr, buf, (socklen_t)len);
}

static const struct vip_view *find_view(const struct vip_view *v, size_t n,
					const struct vip_view *x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].family == x->family &&
		    !memcmp(&v[i].addr, &x->addr, sizeof(x->addr)))
			return &v[i];
	return NULL;
}

/* Tells BIRD the announced VIPs of view (gshut: with the graceful
 * shutdown community). */
static int push(struct vips *vp, const struct vip_view *view, size_t n,
		bool gshut, bird_done_fn done)
{
	struct bird_route *r = calloc(n ? n : 1, sizeof(*r));
	size_t i, k = 0;
	int err;

	if (!r)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!view[i].announced)
			continue;
		r[k].family = view[i].family;
		r[k].addr = view[i].addr;
		r[k].attrs = view[i].attrs;
		k++;
	}
	err = bird_announce(vp->bird, r, k, (*vp->x.cfg)->bgp.asn, gshut, done,
			    vp);
	free(r);
	if (err)
		log_warnx("writing %s: %s; BIRD keeps what it announced",
			  vp->file, strerror(-err));
	return err;
}

void vips_update(struct vips *vp)
{
	struct vip_view *view;
	size_t i, n;
	char a[INET6_ADDRSTRLEN];

	if (!vp || vp->stopping)
		return;
	if (evaluate(vp, &view, &n))
		return;
	for (i = 0; i < n; i++) {
		const struct vip_view *was =
			find_view(vp->view, vp->n_view, &view[i]);
		bool before = was && was->announced;

		if (view[i].announced == before)
			continue;
		if (view[i].announced)
			log_info("VIP %s announced: %u backends up (min_healthy "
				 "%u)",
				 vip_str(&view[i], a, sizeof(a)), view[i].up,
				 view[i].attrs.min_healthy);
		else if (!*vp->x.attached)
			log_info("VIP %s withdrawn: the datapath is not attached",
				 vip_str(&view[i], a, sizeof(a)));
		else if (!view[i].attrs.announce)
			log_info("VIP %s withdrawn: announce = false",
				 vip_str(&view[i], a, sizeof(a)));
		else
			log_info("VIP %s withdrawn: %u backends up (min_healthy "
				 "%u)",
				 vip_str(&view[i], a, sizeof(a)), view[i].up,
				 view[i].attrs.min_healthy);
	}
	for (i = 0; vp->view && i < vp->n_view; i++)
		if (vp->view[i].announced && !find_view(view, n, &vp->view[i]))
			log_info("VIP %s withdrawn: no service uses it now",
				 vip_str(&vp->view[i], a, sizeof(a)));
	free(vp->view);
	vp->view = view;
	vp->n_view = n;
	push(vp, view, n, false, NULL);
}

static int vips_open(const struct vips_ctx *x, struct vips **out)
{
	const struct lbd_config *cfg = *x->cfg;
	struct vips *vp = calloc(1, sizeof(*vp));
	int err;

	if (!vp)
		return -ENOMEM;
	vp->x = *x;
	snprintf(vp->socket, sizeof(vp->socket), "%s", cfg->bgp.socket);
	snprintf(vp->file, sizeof(vp->file), "%s", cfg->bgp.file);
	err = bird_announcer_new(x->ev, vp->socket, vp->file, &vp->bird);
	if (err) {
		log_warnx("BIRD at %s: %s", vp->socket, strerror(-err));
		free(vp);
		return err;
	}
	*out = vp;
	return 0;
}

int vips_start(const struct vips_ctx *x, struct vips **out)
{
	const struct lbd_config *cfg = *x->cfg;
	int err;

	*out = NULL;
	if (!cfg->bgp.enabled)
		return 0;
	err = vips_open(x, out);
	if (err)
		return err;
	log_info("announcing VIPs through BIRD at %s (file %s)",
		 cfg->bgp.socket, cfg->bgp.file);
	vips_update(*out);
	return 0;
}

void vips_reloaded(struct vips **vpp, const struct vips_ctx *x)
{
	const struct lbd_config *cfg = *x->cfg;
	struct vips *vp = *vpp;

	if (vp && vp->stopping)
		return;
	if (vp && (!cfg->bgp.enabled || strcmp(vp->socket, cfg->bgp.socket) ||
		   strcmp(vp->file, cfg->bgp.file))) {
		/* the old file and BIRD stop announcing before the new */
		log_info("bgp settings changed: withdrawing through %s",
			 vp->socket);
		vips_withdraw_now(vp);
		vips_stop(vp);
		*vpp = NULL;
	}
	if (!*vpp && cfg->bgp.enabled)
		vips_start(x, vpp);
	else
		vips_update(*vpp);
}

static void stop_finished(struct vips *vp)
{
	void (*done)(void *arg) = vp->done;

	vp->stop_timer = sd_event_source_disable_unref(vp->stop_timer);
	vp->done = NULL;
	if (done)
		done(vp->done_arg);
}

static void on_withdrawn(void *arg)
{
	struct vips *vp = arg;

	log_info("VIPs withdrawn from BIRD");
	stop_finished(vp);
}

static int on_stop_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct vips *vp = arg;
	struct bird_status st;
	uint64_t now;
	size_t i;

	(void)usec;
	bird_announcer_status(vp->bird, &st);
	if (!st.gshut) {
		/* the withdraw was sent and BIRD did not confirm in time */
		log_warnx("BIRD did not confirm the withdraw; stopping");
		stop_finished(vp);
		return 0;
	}
	for (i = 0; i < vp->n_view; i++)
		vp->view[i].announced = false;
	sd_event_now(vp->x.ev, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(s, now + VIPS_STOP_GRACE_USEC);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	if (push(vp, vp->view, vp->n_view, false, on_withdrawn))
		stop_finished(vp);
	return 0;
}

void vips_shutdown(struct vips *vp, void (*done)(void *arg), void *arg)
{
	const struct lbd_config *cfg;
	struct bird_status st;
	bool any = false;
	uint64_t now;
	size_t i;

	if (!vp || vp->stopping) {
		done(arg);
		return;
	}
	cfg = *vp->x.cfg;
	vp->stopping = true;
	vp->done = done;
	vp->done_arg = arg;
	for (i = 0; i < vp->n_view; i++)
		any |= vp->view[i].announced;
	bird_announcer_status(vp->bird, &st);
	if (!any || !st.connected) {
		vips_withdraw_now(vp);
		stop_finished(vp);
		return;
	}
	log_info("stopping: graceful shutdown community on the announced "
		 "VIPs, withdrawing them in %.1f s",
		 cfg->bgp.shutdown_delay_ms / 1000.0);
	if (push(vp, vp->view, vp->n_view, true, NULL)) {
		stop_finished(vp);
		return;
	}
	sd_event_now(vp->x.ev, CLOCK_MONOTONIC, &now);
	sd_event_add_time(vp->x.ev, &vp->stop_timer, CLOCK_MONOTONIC,
			  now + (uint64_t)cfg->bgp.shutdown_delay_ms * 1000,
			  1000, on_stop_timer, vp);
}

void vips_withdraw_now(struct vips *vp)
{
	size_t i;

	if (!vp)
		return;
	for (i = 0; i < vp->n_view; i++)
		vp->view[i].announced = false;
	push(vp, vp->view, vp->n_view, false, NULL);
}

void vips_stop(struct vips *vp)
{
	if (!vp)
		return;
	sd_event_source_disable_unref(vp->stop_timer);
	bird_announcer_free(vp->bird);
	free(vp->view);
	free(vp);
}

void vips_json(const struct vips *vp, struct json_object *out)
{
	struct json_object *l = json_object_new_array();
	struct bird_status st;
	size_t i;

	if (!vp) {
		json_object_object_add(
			out, "state", json_object_new_string("not configured"));
		json_object_object_add(out, "vips", l);
		return;
	}
	bird_announcer_status(vp->bird, &st);
	json_object_object_add(
		out, "state",
		json_object_new_string(
			!st.connected ? "not connected" :
			st.current    ? "connected, up to date" :
					"connected, reconfiguring"));
	json_object_object_add(out, "connected",
			       json_object_new_boolean(st.connected));
	json_object_object_add(out, "current",
			       json_object_new_boolean(st.current));
	json_object_object_add(out, "socket",
			       json_object_new_string(vp->socket));
	json_object_object_add(out, "file", json_object_new_string(vp->file));
	json_object_object_add(out, "announced",
			       json_object_new_int64(st.routes));
	json_object_object_add(out, "stopping",
			       json_object_new_boolean(vp->stopping));
	json_object_object_add(out, "configures",
			       json_object_new_int64(st.configures));
	json_object_object_add(out, "errors", json_object_new_int64(st.errors));
	json_object_object_add(out, "last_error",
			       json_object_new_string(st.last_error));
	for (i = 0; i < vp->n_view; i++) {
		struct json_object *o = json_object_new_object();
		char a[INET6_ADDRSTRLEN];

		json_object_object_add(o, "vip",
				       json_object_new_string(vip_str(
					       &vp->view[i], a, sizeof(a))));
		json_object_object_add(
			o, "announced",
			json_object_new_boolean(vp->view[i].announced));
		json_object_object_add(o, "backends_up",
				       json_object_new_int64(vp->view[i].up));
		json_object_object_add(
			o, "min_healthy",
			json_object_new_int64(vp->view[i].attrs.min_healthy));
		json_object_array_add(l, o);
	}
	json_object_object_add(out, "vips", l);
}

void vips_metrics(const struct vips *vp, struct lbd_metrics_snap *s)
{
	struct bird_status st;
	size_t i;

	if (!vp)
		return;
	bird_announcer_status(vp->bird, &st);
	s->h.flags |= LBD_MET_F_BIRD;
	s->h.bird_connected = st.connected;
	s->h.bird_configures = st.configures;
	s->h.bird_errors = st.errors;
	for (i = 0; i < vp->n_view; i++) {
		struct lbd_metrics_rec *m = metrics_snap_add(s, LBD_MET_VIP);
		char a[INET6_ADDRSTRLEN];

		if (!m)
			return;
		METRICS_STR(m->u.vip.vip, vip_str(&vp->view[i], a, sizeof(a)));
		m->u.vip.announced = vp->view[i].announced;
		m->u.vip.backends_up = vp->view[i].up;
	}
}

static void cleanup_done(void *arg)
{
	*(bool *)arg = true;
}

int vips_cleanup(const struct lbd_config *c)
{
	struct bird_announcer *a;
	bool done = false;
	uint64_t end, now;
	sd_event *ev;
	int err;

	if (!c->bgp.enabled)
		return 0;
	err = sd_event_new(&ev);
	if (err < 0)
		return err;
	err = bird_announcer_new(ev, c->bgp.socket, c->bgp.file, &a);
	if (err) {
		sd_event_unref(ev);
		return err;
	}
	err = bird_announce(a, NULL, 0, c->bgp.asn, false, cleanup_done, &done);
	sd_event_now(ev, CLOCK_MONOTONIC, &now);
	end = now + VIPS_STOP_GRACE_USEC;
	while (!err && !done && now < end) {
		sd_event_run(ev, end - now);
		sd_event_now(ev, CLOCK_MONOTONIC, &now);
	}
	if (!err && done)
		log_info("VIPs withdrawn from BIRD (%s emptied)", c->bgp.file);
	else if (!err)
		log_warnx("%s emptied; BIRD at %s did not confirm", c->bgp.file,
			  c->bgp.socket);
	bird_announcer_free(a);
	sd_event_unref(ev);
	return err;
}
