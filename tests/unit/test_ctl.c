// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The decisions of lbd/ctl, lbd/health's consumers and lbd/vips.c, on a
 * state filled as lbd fills it (state_apply of a config onto a program
 * loaded without pinning): the status and metrics snapshots, drain and
 * undrain, and which VIPs are announced. Each test makes its own
 * directory for the files these write (drains, BIRD's include file) and
 * removes it.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "control.h"
#include "ctlreq.h"
#include "datapath.h"
#include "io.h"
#include "metrics.h"
#include "metrics_snap.h"
#include "state.h"
#include "vips.h"

#define DIR_TEMPLATE "/tmp/lbd-unit-ctl-XXXXXX"

static char dir[sizeof(DIR_TEMPLATE)];
static struct lbd_state st;
static struct lbd_dp *dp;
static struct lbd_config *cfg;
static struct health *health; /* none: no checks configured */
static struct companion *be;
static struct proc *io;
static int ifindex = 1;
static bool attached = true;
static struct ctl_ctx x;

static void info(void *arg, struct ctl_info *out)
{
	(void)arg;
	out->generation = 4;
	out->reloads = 3;
	out->reload_failures = 1;
	out->last_ok = true;
	out->prog_id = 42;
	out->native = true;
	out->attached = true;
	clock_gettime(CLOCK_MONOTONIC, &out->started);
}

static void setup(void)
{
	struct lbd_dp_opts o;
	int err;

	strcpy(dir, DIR_TEMPLATE);
	cr_assert_not_null(mkdtemp(dir));
	dp_opts_default(&o);
	o.pin_path = NULL;
	o.max_vips = 64;
	o.max_services = 64;
	o.max_backends = 256;
	o.ct_entries = 1024;
	err = dp_open(&o, &dp);
	cr_assert_eq(err, 0, "dp_open: %s", strerror(-err));
	cr_assert_eq(state_init(&st, 64, 256), 0);
	x = (struct ctl_ctx){ .config_path = "t.conf",
			      .cfg = &cfg,
			      .st = &st,
			      .dp = &dp,
			      .ifindex = &ifindex,
			      .health = &health,
			      .be = &be,
			      .io = &io,
			      .info = info };
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static void teardown(void)
{
	state_free(&st);
	dp_close(dp);
	dp = NULL;
	config_free(cfg);
	cfg = NULL;
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

/* The config (the control socket and BIRD's files in the test's
 * directory), applied. */
static void apply(const char *services, const char *bgp)
{
	char text[4096];
	struct config_diag d;
	struct apply_result r;
	struct lbd_config *c = NULL;
	size_t i;
	int err;

	snprintf(text, sizeof(text),
		 "datapath = { interface = \"lb0\";"
		 " encap_source_v4 = \"198.18.0.10\";"
		 " maglev_table_size = 251; };\n"
		 "control = { socket = \"%s/lbd.sock\"; };\n"
		 "services = (\n%s\n);\n%s",
		 dir, services, bgp);
	err = config_load_string(text, "t.conf", &c, &d);
	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	config_diag_free(&d);
	cr_assert_eq(err, 0, "config rejected (messages above)");
	err = state_apply(&st, dp, c, NULL, NULL, &r);
	cr_assert_eq(err, 0, "state_apply: %s", strerror(-err));
	config_free(cfg);
	cfg = c;
}

#define WEB                                                              \
	"{ name = \"web\"; vip = \"192.0.2.1\"; port = 80; backends = (" \
	" { address = \"198.18.1.1\"; }, { address = \"198.18.1.2\"; } ); }"
#define API                                                               \
	"{ name = \"api\"; vip = \"192.0.2.1\"; port = 443; backends = (" \
	" { address = \"198.18.1.1\"; port = 443; } ); }"

/* Runs a request as lbctl writes it; 0 or the handler's error, whose
 * text goes to err. */
static int run(const char *request, struct json_object **out, char *err,
	       size_t len)
{
	struct json_object *o = json_tokener_parse(request), *cmd, *args;
	struct lbd_ctl_req req;
	int r;

	cr_assert_not_null(o, "%s", request);
	cr_assert(json_object_object_get_ex(o, "cmd", &cmd), "%s", request);
	if (!json_object_object_get_ex(o, "args", &args))
		args = NULL;
	/* as the io process makes it from lbctl's request */
	r = io_req_encode(json_object_get_string(cmd), args, 1, &req, err,
			  len);
	json_object_put(o);
	cr_assert_eq(r, 0, "%s: %s", request, err);
	*out = json_object_new_object();
	err[0] = '\0';
	return control_handle(&x, &req, *out, err, len);
}

static struct json_object *ok(const char *request)
{
	struct json_object *out;
	char err[256];

	cr_assert_eq(run(request, &out, err, sizeof(err)), 0, "%s: %s", request,
		     err);
	return out;
}

static void fails(const char *request, int want, const char *text)
{
	struct json_object *out;
	char err[256];

	cr_assert_eq(run(request, &out, err, sizeof(err)), want, "%s", request);
	cr_assert(strstr(err, text), "%s: \"%s\" lacks \"%s\"", request, err,
		  text);
	json_object_put(out);
}

static struct json_object *at(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		cr_assert(json_object_object_get_ex(o, key, &o), "no %s", key);
		path = dot + 1;
	}
	cr_assert(json_object_object_get_ex(o, path, &o), "no %s", path);
	return o;
}

static const struct st_backend *backend(const char *svc, const char *addr,
					__u16 port)
{
	const struct st_service *s = state_find_name(&st, svc);
	union lbd_addr a = { 0 };
	size_t i;

	cr_assert_not_null(s, "no service %s", svc);
	cr_assert_eq(inet_pton(AF_INET, addr, &a.v4), 1);
	for (i = 0; i < s->n_be; i++)
		if (!memcmp(&s->be[i].addr.addr, &a, sizeof(a)) &&
		    s->be[i].port == port)
			return &s->be[i];
	cr_assert_fail("no backend %s:%u in %s", addr, port, svc);
	return NULL;
}

/* -- status ---------------------------------------------------------- */

Test(ctl, status_counts_services_backends_and_drains_of_the_state,
     .init = setup, .fini = teardown)
{
	struct json_object *o;

	apply(WEB ",\n" API, "");
	o = ok("{\"cmd\":\"status\"}");
	cr_assert_str_eq(json_object_get_string(at(o, "role")), "lb");
	cr_assert_eq(json_object_get_int(at(o, "services")), 2);
	cr_assert_eq(json_object_get_int(at(o, "backends")), 3);
	cr_assert_eq(json_object_get_int(at(o, "drains")), 0);
	cr_assert_eq(json_object_get_int(at(o, "config.generation")), 4);
	cr_assert_eq(json_object_get_int(at(o, "config.reload_failures")), 1);
	cr_assert_str_eq(json_object_get_string(at(o, "apply.serving")),
			 "applied");
	cr_assert(json_object_get_boolean(at(o, "datapath.attached")));
	cr_assert_eq(json_object_get_int(at(o, "datapath.program_id")), 42);
	cr_assert(!json_object_get_boolean(at(o, "monitor.active")));
	/* no bgp group, no daemon to ask: not configured */
	cr_assert_str_eq(json_object_get_string(at(o, "bird.state")),
			 "not configured");
	json_object_put(o);
}

Test(ctl, backends_of_an_unknown_service_is_an_error, .init = setup,
     .fini = teardown)
{
	struct json_object *o;

	apply(WEB, "");
	fails("{\"cmd\":\"backends\",\"args\":{\"service\":\"nope\"}}", -ENOENT,
	      "no service named nope");
	o = ok("{\"cmd\":\"backends\",\"args\":{\"service\":\"web\"}}");
	cr_assert_eq(json_object_array_length(at(o, "backends")), 2);
	/* two backends of weight 1 share the table about evenly */
	cr_assert_float_eq(
		json_object_get_double(
			at(json_object_array_get_idx(at(o, "backends"), 0),
			   "share")),
		0.5, 0.05);
	json_object_put(o);
}

/* -- drain and undrain ---------------------------------------------- */

Test(ctl, drain_takes_a_backend_out_of_every_service_and_undrain_back,
     .init = setup, .fini = teardown)
{
	struct json_object *o;

	apply(WEB ",\n" API, "");
	o = ok("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.1\"}}");
	/* both ports of the address, in both services */
	cr_assert_eq(json_object_get_int(at(o, "matched")), 2);
	cr_assert_eq(json_object_array_length(at(o, "backends")), 2);
	json_object_put(o);
	cr_assert(backend("web", "198.18.1.1", 80)->drained);
	cr_assert_eq(backend("web", "198.18.1.1", 80)->dp_state,
		     LBD_BE_DRAINING);
	cr_assert_eq(backend("api", "198.18.1.1", 443)->dp_state,
		     LBD_BE_DRAINING);
	cr_assert_eq(backend("web", "198.18.1.2", 80)->dp_state, LBD_BE_ACTIVE);
	o = ok("{\"cmd\":\"status\"}");
	cr_assert_eq(json_object_get_int(at(o, "drains")), 1);
	json_object_put(o);

	/* part of a broader drain cannot be undone alone */
	fails("{\"cmd\":\"undrain\",\"args\":{\"backend\":\"198.18.1.1:443\","
	      "\"service\":\"api\"}}",
	      -EBUSY, "drained by a broader drain");
	o = ok("{\"cmd\":\"undrain\",\"args\":{\"backend\":\"198.18.1.1\"}}");
	cr_assert_eq(json_object_get_int(at(o, "matched")), 2);
	json_object_put(o);
	cr_assert(!backend("web", "198.18.1.1", 80)->drained);
	cr_assert_eq(backend("api", "198.18.1.1", 443)->dp_state,
		     LBD_BE_ACTIVE);
	fails("{\"cmd\":\"undrain\",\"args\":{\"backend\":\"198.18.1.1\"}}",
	      -ENOENT, "is not drained");
}

Test(ctl, drains_of_what_is_not_there_are_errors, .init = setup,
     .fini = teardown)
{
	apply(WEB, "");
	fails("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.9\"}}",
	      -ENOENT, "no backend 198.18.1.9");
	fails("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.1\","
	      "\"service\":\"api\"}}",
	      -ENOENT, "no service named api");
	cr_assert(!backend("web", "198.18.1.1", 80)->drained);
}

Test(ctl, a_drain_survives_as_the_file_the_next_start_applies, .init = setup,
     .fini = teardown)
{
	struct json_object *o;

	apply(WEB, "");
	o = ok("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.2:80\","
	       "\"service\":\"web\"}}");
	json_object_put(o);
	/* a fresh state (lbd started again), the drains file re-applied */
	state_free(&st);
	cr_assert_eq(state_init(&st, 64, 256), 0);
	apply(WEB, "");
	cr_assert(!backend("web", "198.18.1.2", 80)->drained);
	control_started(&x);
	cr_assert(backend("web", "198.18.1.2", 80)->drained);
	cr_assert(!backend("web", "198.18.1.1", 80)->drained);
}

Test(ctl, drain_wait_is_told_where_backends_report_their_flows, .init = setup,
     .fini = teardown)
{
	struct json_object *o, *r;

	apply("{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
	      " forwarding = \"geneve\"; flow_state = \"backends\";"
	      " backends = ( { address = \"198.18.1.1\"; port = 8080; } ); },\n" API,
	      "");
	o = ok("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.1\"}}");
	/* only the service whose TCP flow state lives on the backends */
	cr_assert_eq(json_object_array_length(at(o, "reports")), 1);
	r = json_object_array_get_idx(at(o, "reports"), 0);
	cr_assert_str_eq(json_object_get_string(at(r, "service")), "web");
	/* Geneve delivers to the backend's own address and port */
	cr_assert_str_eq(json_object_get_string(at(r, "local_address")),
			 "198.18.1.1");
	cr_assert_eq(json_object_get_int(at(r, "local_port")), 8080);
	cr_assert(strstr(json_object_get_string(at(r, "url")),
			 "http://198.18.1.1:"));
	json_object_put(o);
}

/* -- the metrics snapshot --------------------------------------------- */

static const struct lbd_metrics_rec *rec_of(const struct lbd_metrics_snap *s,
					    unsigned int type, size_t nth)
{
	size_t i;

	for (i = 0; i < s->h.n_recs; i++)
		if (s->rec[i].type == type && !nth--)
			return &s->rec[i];
	cr_assert_fail("no record %u", type);
	return NULL;
}

Test(ctl, metrics_snapshot_has_each_service_followed_by_its_backends,
     .init = setup, .fini = teardown)
{
	struct lbd_metrics_snap s = { 0 };
	struct metrics_io mio = { 0 };
	const struct lbd_metrics_rec *r;
	struct json_object *o;
	size_t len;
	char *text;

	apply(WEB ",\n" API, "");
	o = ok("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.2\"}}");
	json_object_put(o);
	cr_assert_eq(control_metrics(&x, &s), 0);
	cr_assert_str_eq(s.h.role, "lb");
	cr_assert_eq(s.h.flags & (LBD_MET_F_DATAPATH | LBD_MET_F_REASONS |
				  LBD_MET_F_HEALTH | LBD_MET_F_BIRD),
		     LBD_MET_F_DATAPATH | LBD_MET_F_REASONS);
	cr_assert_eq(s.h.generation, 4);
	cr_assert_eq(s.h.drains, 1);
	cr_assert_eq(s.h.attached, 1);
	cr_assert_str_eq(s.h.serving, "applied");
	cr_assert_eq(s.h.ct_capacity[0], 1024);
	/* services in key order: web (port 80) before api (443) */
	r = rec_of(&s, LBD_MET_SERVICE, 0);
	cr_assert_str_eq(r->u.service.name, "web");
	cr_assert_str_eq(r->u.service.vip, "192.0.2.1");
	cr_assert_eq(r->u.service.port, 80);
	cr_assert_eq(r->u.service.n_backends, 2);
	cr_assert_eq(r->u.service.active_backends, 1);
	cr_assert_eq(r[1].type, LBD_MET_BACKEND);
	cr_assert_str_eq(r[1].u.backend.backend, "198.18.1.1:80");
	cr_assert_str_eq(r[2].u.backend.backend, "198.18.1.2:80");
	cr_assert_str_eq(r[2].u.backend.state, "draining");
	cr_assert_eq(r[2].u.backend.drained, 1);
	/* a drained backend keeps no slot: its share is 0 */
	cr_assert_float_eq(r[1].u.backend.share, 1.0, 1e-9);
	cr_assert_float_eq(r[2].u.backend.share, 0.0, 1e-9);
	cr_assert_str_eq(r[3].u.service.name, "api");
	/* and the text the io process makes of it */
	cr_assert_eq(metrics_render_snap(&s, &mio, &text, &len), 0);
	cr_assert(strstr(text, "\nlbd_backend_drained{service=\"web\","
			       "backend=\"198.18.1.2:80\"} 1\n"),
		  "%s", text);
	cr_assert(strstr(text, "\nlbd_runtime_drains 1\n"));
	free(text);
	metrics_snap_free(&s);
}

/* -- the VIPs announced ----------------------------------------------- */

/* BIRD's include file as lbd wrote it ("" when there is none). */
static const char *bird_file(char *buf, size_t len)
{
	char path[sizeof(dir) + 16];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/vips.conf", dir);
	f = fopen(path, "r");
	buf[0] = '\0';
	if (!f)
		return buf;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static struct vips *vips_of(sd_event *ev)
{
	struct vips_ctx vx = { .ev = ev,
			       .cfg = &cfg,
			       .st = &st,
			       .attached = &attached,
			       .health = &health };
	struct vips *vp = NULL;

	cr_assert_eq(vips_start(&vx, &vp), 0);
	cr_assert_not_null(vp);
	return vp;
}

#define BGP(min)                                                     \
	"bgp = { socket = \"%s/bird.ctl\"; file = \"%s/vips.conf\";" \
	" vips = ( { address = \"192.0.2.1\"; min_healthy = " min    \
	"; } ); };\n"

static void apply_bgp(const char *services, const char *min)
{
	char bgp[512];

	if (!strcmp(min, "2"))
		snprintf(bgp, sizeof(bgp), BGP("2"), dir, dir);
	else
		snprintf(bgp, sizeof(bgp), BGP("3"), dir, dir);
	apply(services, bgp);
}

Test(ctl, a_vip_is_announced_while_attached_with_min_healthy_backends_up,
     .init = setup, .fini = teardown)
{
	struct json_object *b;
	struct vips *vp;
	sd_event *ev;
	char f[4096];

	cr_assert_geq(sd_event_new(&ev), 0);
	/* web and api share 192.0.2.1: 198.18.1.1:80, :443 and .2:80 */
	apply_bgp(WEB ",\n" API, "3");
	vp = vips_of(ev);
	cr_assert(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"), "%s", f);
	b = json_object_new_object();
	vips_json(vp, b);
	cr_assert_eq(json_object_get_int(
			     at(json_object_array_get_idx(at(b, "vips"), 0),
				"backends_up")),
		     3);
	json_object_put(b);

	/* the datapath detached: withdrawn, whatever the backends */
	attached = false;
	vips_update(vp);
	cr_assert_null(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"), "%s",
		       f);
	attached = true;
	vips_update(vp);
	cr_assert(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"));

	/* a backend configured down leaves 2 of the 3 needed */
	apply_bgp(
		"{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		" backends = ( { address = \"198.18.1.1\"; },"
		" { address = \"198.18.1.2\"; state = \"down\"; } ); },\n" API,
		"3");
	vips_update(vp);
	cr_assert_null(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"), "%s",
		       f);
	/* min_healthy 2 is met again by the same backends */
	apply_bgp(
		"{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		" backends = ( { address = \"198.18.1.1\"; },"
		" { address = \"198.18.1.2\"; state = \"down\"; } ); },\n" API,
		"2");
	vips_update(vp);
	cr_assert(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"), "%s", f);
	vips_stop(vp);
	sd_event_unref(ev);
	attached = true;
}

static void stopped(void *arg)
{
	(*(int *)arg)++;
}

Test(ctl, a_planned_stop_without_bird_withdraws_at_once, .init = setup,
     .fini = teardown)
{
	struct vips *vp;
	sd_event *ev;
	char f[4096];
	int done = 0;

	cr_assert_geq(sd_event_new(&ev), 0);
	apply_bgp(WEB, "2");
	vp = vips_of(ev);
	cr_assert(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"));
	/* nothing listens on bird.ctl: no graceful shutdown to wait for */
	vips_shutdown(vp, stopped, &done);
	cr_assert_eq(done, 1);
	cr_assert_null(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"), "%s",
		       f);
	/* and it stays withdrawn: updates do not announce while stopping */
	vips_update(vp);
	cr_assert_null(strstr(bird_file(f, sizeof(f)), "192.0.2.1/32"));
	vips_stop(vp);
	sd_event_unref(ev);
}

Test(ctl, a_malformed_request_from_the_io_process_is_not_handled, .init = setup,
     .fini = teardown)
{
	struct lbd_ctl_req req = { .cmd = LBD_CTL_DRAIN };
	struct json_object *out = json_object_new_object();
	char err[256] = "";

	apply(WEB, "");
	req.backend.family = LBD_AF_INET;
	cr_assert_eq(inet_pton(AF_INET, "198.18.1.1", &req.backend.addr), 1);
	/* a service name without its NUL */
	memset(req.service, 'w', sizeof(req.service));
	cr_assert_eq(control_handle(&x, &req, out, err, sizeof(err)), -EBADMSG);
	cr_assert_str_eq(err, "malformed request");
	cr_assert(!backend("web", "198.18.1.1", 80)->drained);
	json_object_put(out);
}

/* The client's port may be left out of explain (the node role's choice
 * does not use it) but the lb role's hash needs it; a cookie is the node
 * role's. Both said, not answered with a wrong flow. */
Test(ctl, lb_explain_needs_the_client_port_and_takes_no_cookie, .init = setup,
     .fini = teardown)
{
	apply(WEB, "");
	fails("{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.2\","
	      "\"service\":\"192.0.2.1:80/tcp\"}}",
	      -EINVAL, "needs a port");
	fails("{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.2:4000\","
	      "\"service\":\"192.0.2.1:80/tcp\",\"cookie\":\"5\"}}",
	      -EINVAL, "node role");
}
