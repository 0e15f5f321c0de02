// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "daemon.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <json-c/json.h>
#include <systemd/sd-daemon.h>

#include "control.h"
#include "io.h"
#include "hostcheck.h"
#include "kcheck.h"
#include "log.h"
#include "proc.h"
#include "vips.h"

/* Edits arrive as bursts of events (an editor's write, rename, chmod):
 * apply once they settle. */
#define RELOAD_DEBOUNCE_USEC (300 * 1000)

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

void diag_pushf(struct config_diag *diag, const char *fmt, ...)
{
	char **n, msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = realloc(diag->msgs, (diag->n + 1) * sizeof(*n));
	if (!n)
		return;
	diag->msgs = n;
	n[diag->n] = strdup(msg);
	if (n[diag->n])
		diag->n++;
}

static void keep_errors(struct lbd_daemon *d, struct config_diag *diag)
{
	size_t i;

	for (i = 0; i < d->n_last_errors; i++)
		free(d->last_errors[i]);
	free(d->last_errors);
	d->last_errors = diag ? diag->msgs : NULL;
	d->n_last_errors = diag ? diag->n : 0;
	if (diag) {
		diag->msgs = NULL;
		diag->n = 0;
	}
}

static void notify_status(struct lbd_daemon *d)
{
	char buf[256];

	if (d->cfg->role == LBD_ROLE_BACKEND)
		backend_status(d, buf, sizeof(buf));
	else if (d->cfg->role == LBD_ROLE_NODE)
		node_role_status(d, buf, sizeof(buf));
	else
		lb_status(d, buf, sizeof(buf));
	sd_notifyf(0, "STATUS=config generation %lu: %s%s", d->generation,
		   buf, d->last_ok ? "" : "; last reload failed");
}

static void io_reloaded(struct lbd_daemon *d);

/*
 * Reload: parse and validate into a fresh config; on any error keep the
 * running state untouched and say why, each problem as file:line:
 * setting: message.
 */
static int daemon_reload(struct lbd_daemon *d)
{
	struct config_diag diag = { 0 };
	struct lbd_config *c = NULL;
	struct timespec t0;
	size_t i;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	d->reloads++;
	sd_notifyf(0, "RELOADING=1\nSTATUS=reloading %s", d->config_path);
	err = config_load(d->config_path, &c, &diag);
	if (!err && c->role != d->cfg->role) {
		diag_pushf(&diag, "%s: role: cannot change while lbd runs",
			   d->config_path);
		err = -EINVAL;
	}
	if (!err)
		err = c->role == LBD_ROLE_BACKEND ?
			      backend_reload(d, c, &diag) :
		      c->role == LBD_ROLE_NODE ? node_role_reload(d, c, &diag) :
						 lb_reload(d, c, &diag);
	d->last_ms = ms_since(&t0);
	d->last_at_s = now_s();
	if (err) {
		if (!diag.n)
			diag_pushf(&diag, "%s: %s", d->config_path,
				   strerror(-err));
		for (i = 0; i < diag.n; i++)
			log_warnx("reload rejected: %s", diag.msgs[i]);
		log_warnx("reload rejected (%zu problems); still serving "
			  "config generation %lu",
			  diag.n, d->generation);
		d->reload_failures++;
		d->last_ok = false;
		keep_errors(d, &diag);
		config_free(c);
	} else {
		if (strcmp(c->processes.user, d->cfg->processes.user))
			log_warnx("processes.user: lbd's children stay %s's "
				  "until lbd restarts",
				  d->cfg->processes.user);
		/* the children run as the user they were started as */
		strcpy(c->processes.user, d->cfg->processes.user);
		config_free(d->cfg);
		d->cfg = c;
		d->generation++;
		d->last_ok = true;
		keep_errors(d, NULL);
		if (c->role == LBD_ROLE_LB)
			lb_reloaded(d);
		log_info("config generation %lu applied in %.1f ms",
			 d->generation, d->last_ms);
	}
	control_reloaded(&d->ctl, !err);
	if (!err)
		io_reloaded(d);
	config_diag_free(&diag);
	sd_notify(0, "READY=1");
	notify_status(d);
	return err;
}

static void watch_files(struct lbd_daemon *d);

static int on_debounce(sd_event_source *s, uint64_t usec, void *arg)
{
	struct lbd_daemon *d = arg;

	(void)s;
	(void)usec;
	log_info("configuration changed on disk: reloading");
	if (daemon_reload(d) == 0)
		watch_files(d);
	return 0;
}

static void schedule_reload(struct lbd_daemon *d)
{
	uint64_t now;

	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	if (d->debounce) {
		sd_event_source_set_time(d->debounce,
					 now + RELOAD_DEBOUNCE_USEC);
		sd_event_source_set_enabled(d->debounce, SD_EVENT_ONESHOT);
		return;
	}
	sd_event_add_time(d->ev, &d->debounce, CLOCK_MONOTONIC,
			  now + RELOAD_DEBOUNCE_USEC, 0, on_debounce, d);
}

static int on_config_dir(sd_event_source *s, const struct inotify_event *ev,
			 void *arg)
{
	struct lbd_daemon *d = arg;
	char copy[PATH_MAX];
	const char *base;

	(void)s;
	snprintf(copy, sizeof(copy), "%s", d->config_path);
	base = basename(copy);
	if (ev->len && !strcmp(ev->name, base))
		schedule_reload(d);
	return 0;
}

static int on_include_dir(sd_event_source *s, const struct inotify_event *ev,
			  void *arg)
{
	size_t len = ev->len ? strlen(ev->name) : 0;

	(void)s;
	if (len > 5 && !strcmp(ev->name + len - 5, ".conf"))
		schedule_reload(arg);
	return 0;
}

#define WATCH_MASK                                                            \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE)

/* Watches the config's directory (editors replace files by rename) and
 * the include_dir; done again after a reload that may have moved it. */
static void watch_files(struct lbd_daemon *d)
{
	char copy[PATH_MAX];

	d->watch_dir = sd_event_source_unref(d->watch_dir);
	d->watch_incl = sd_event_source_unref(d->watch_incl);
	/* opt-in: operators expect nothing to change before they reload */
	if (!d->cfg->reload_on_change)
		return;
	snprintf(copy, sizeof(copy), "%s", d->config_path);
	if (sd_event_add_inotify(d->ev, &d->watch_dir, dirname(copy),
				 WATCH_MASK, on_config_dir, d) < 0)
		log_warnx("cannot watch the directory of %s: reload with "
			  "SIGHUP",
			  d->config_path);
	if (d->cfg->include_dir[0] &&
	    sd_event_add_inotify(d->ev, &d->watch_incl, d->cfg->include_dir,
				 WATCH_MASK, on_include_dir, d) < 0)
		log_warnx("cannot watch %s: reload with SIGHUP",
			  d->cfg->include_dir);
}

/* lbctl reload (ctl_ctx.reload): as SIGHUP, answered. */
static int ctl_reload_of(void *arg)
{
	struct lbd_daemon *d = arg;
	int err;

	log_info("lbctl reload: reloading %s", d->config_path);
	err = daemon_reload(d);
	if (!err)
		watch_files(d);
	return err;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si,
		     void *arg)
{
	struct lbd_daemon *d = arg;

	(void)s;
	(void)si;
	log_info("SIGHUP: reloading %s", d->config_path);
	if (daemon_reload(d) == 0)
		watch_files(d);
	return 0;
}

static void stopped(void *arg)
{
	struct lbd_daemon *d = arg;

	sd_event_exit(d->ev, 0);
}

/* A planned stop: the datapath stays in place and serving; the VIPs are
 * withdrawn from BIRD (graceful shutdown first). A second signal stops at
 * once. */
static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si,
		      void *arg)
{
	struct lbd_daemon *d = arg;

	(void)s;
	if (d->lb.stopping) {
		log_info("%s again: stopping now",
			 strsignal((int)si->ssi_signo));
		vips_withdraw_now(d->lb.vips);
		sd_event_exit(d->ev, 0);
		return 0;
	}
	log_info("%s: stopping; the datapath stays in place and serving",
		 strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	d->lb.stopping = true;
	vips_shutdown(d->lb.vips, stopped, d);
	return 0;
}

/* Tells the io process whether lbd is still starting, and how far the
 * apply is: {"starting":{"done":N,"total":M}} or {"started":true}. Sent
 * at once (msgch writes what it can): the loop does not run yet. */
static void io_tell_start(struct lbd_daemon *d, struct proc *io)
{
	struct json_object *o = json_object_new_object(), *p;
	const char *s;
	size_t len;

	if (!io || !o) {
		json_object_put(o);
		return;
	}
	if (d->starting) {
		p = json_object_new_object();
		json_object_object_add(p, "done",
				       json_object_new_uint64(d->start_done));
		json_object_object_add(p, "total",
				       json_object_new_uint64(d->start_total));
		json_object_object_add(o, "starting", p);
	} else {
		json_object_object_add(o, "started",
				       json_object_new_boolean(1));
	}
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	if (proc_send(io, LBD_MSG_CTL_REPLY, 0, s, len))
		log_debug("telling the io process the start's progress "
			  "failed");
	json_object_put(o);
}

void daemon_progress(struct lbd_daemon *d, size_t done, size_t total)
{
	if (!d->starting)
		return;
	d->start_done = done;
	d->start_total = total;
	io_tell_start(d, d->io);
}

/* A request from the io process: a struct lbd_ctl_req, whose size
 * msg_check has checked (proc.h). */
static void io_msg(struct proc *p, const struct lbd_msg_hdr *h,
		   const void *payload, void *arg)
{
	struct lbd_daemon *d = arg;

	(void)p;
	if (h->type == LBD_MSG_CTL_REQ)
		control_request(&d->ctl, payload);
}

/* An io process (re)started: it has no monitor client yet. */
static void io_up(struct proc *p, pid_t pid, void *arg)
{
	struct lbd_daemon *d = arg;

	control_io_gone(&d->ctl);
	/* a new io process takes lbd for starting until told (p: d->io is
	 * not set yet when proc_start calls this) */
	io_tell_start(d, p);
	node_role_io_up(d, p);
	log_debug("io process %d serves %s", (int)pid, d->cfg->control.socket);
}

/* The io process, with the listeners it serves made here (it may not
 * bind where lbd may: a metrics port under 1024, a socket for
 * control.group) and no capability. */
static void io_start(struct lbd_daemon *d)
{
	char max_clients[16];
	const char *argv[3] = { max_clients, "-", NULL };
	struct proc_spec spec = { .kind = PROC_IO,
				  .user = d->cfg->processes.user,
				  .argv = argv };
	int fds[2], err;

	d->io_ctl = d->cfg->control;
	if (io_sockets(d->cfg, &fds[0], &fds[1]))
		return;
	snprintf(max_clients, sizeof(max_clients), "%u",
		 d->cfg->control.max_clients);
	spec.fds = fds;
	spec.n_fds = fds[1] >= 0 ? 2 : 1;
	if (fds[1] >= 0)
		argv[1] = "metrics";
	err = proc_start(d->ev, &spec, io_msg, io_up, d, &d->io);
	if (err)
		log_warnx("starting the io process: %s", strerror(-err));
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
}

static int on_io_restart(sd_event_source *s, void *arg)
{
	struct lbd_daemon *d = arg;

	(void)s;
	d->io_restart = sd_event_source_unref(d->io_restart);
	log_info("control settings changed: restarting the io process");
	if (strcmp(d->io_ctl.socket, d->cfg->control.socket))
		unlink(d->io_ctl.socket);
	proc_stop(d->io);
	d->io = NULL;
	control_io_gone(&d->ctl);
	io_start(d);
	return 0;
}

/* After a reload: changed control settings restart the io process with
 * new listeners (its clients reconnect). Not at once: a reload asked
 * through the control socket (lbctl reload) is answered by this io
 * process first. */
static void io_reloaded(struct lbd_daemon *d)
{
	if (!memcmp(&d->io_ctl, &d->cfg->control, sizeof(d->io_ctl)) && d->io)
		return;
	if (d->io_restart)
		return;
	if (!d->ev ||
	    sd_event_add_defer(d->ev, &d->io_restart, on_io_restart, d) < 0)
		on_io_restart(NULL, d);
}

/* Loads a config for the one-shot modes, printing every problem. */
static struct lbd_config *load_or_report(const char *path)
{
	struct config_diag diag = { 0 };
	struct lbd_config *c = NULL;
	size_t i;
	int err = config_load(path, &c, &diag);

	for (i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.msgs[i]);
	config_diag_free(&diag);
	if (err) {
		fprintf(stderr, "%s: invalid\n", path);
		return NULL;
	}
	return c;
}

/* What control is told of the daemon (ctl_ctx.info). */
static void ctl_info_of(void *arg, struct ctl_info *out)
{
	const struct lbd_daemon *d = arg;

	out->generation = d->generation;
	out->reloads = d->reloads;
	out->reload_failures = d->reload_failures;
	out->started = d->started;
	out->last_ok = d->last_ok;
	out->last_errors = d->last_errors;
	out->n_last_errors = d->n_last_errors;
	out->last_ms = d->last_ms;
	out->last_at_s = d->last_at_s;
	out->prog_id = d->lb.att.prog_id;
	out->native = d->lb.att.native;
	out->dispatcher = d->lb.att.dispatcher;
	out->attached = d->lb.attached;
}

static void ctl_bgp_of(void *arg, struct json_object *out)
{
	const struct lbd_daemon *d = arg;

	vips_json(d->lb.vips, out);
}

static void ctl_bgp_metrics_of(void *arg, struct lbd_metrics_snap *s)
{
	const struct lbd_daemon *d = arg;

	vips_metrics(d->lb.vips, s);
}

int daemon_run(const char *config_path)
{
	struct lbd_daemon d = { .config_path = config_path, .last_ok = true };
	sigset_t mask;
	int err;

	dp_log_route();
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	/* for sd_event_add_child */
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	clock_gettime(CLOCK_MONOTONIC, &d.started);

	d.cfg = load_or_report(config_path);
	if (!d.cfg) {
		sd_notify(0, "STATUS=invalid configuration");
		return 1;
	}
	if (proc_user_check(d.cfg->processes.user)) {
		log_warnx("%s: processes.user: no user named \"%s\" for lbd's "
			  "unprivileged processes (create it: useradd --system "
			  "%s)",
			  config_path, d.cfg->processes.user,
			  d.cfg->processes.user);
		sd_notify(0, "STATUS=processes.user does not exist");
		config_free(d.cfg);
		return 1;
	}
	err = sd_event_default(&d.ev);
	if (err < 0)
		fatalx("sd_event_default: %s", strerror(-err));
	d.ctl = (struct ctl_ctx){ .config_path = config_path,
				  .cfg = &d.cfg,
				  .st = &d.lb.st,
				  .dp = &d.lb.dp,
				  .ifindex = &d.lb.ifindex,
				  .health = &d.lb.health,
				  .be = &d.backend.be,
				  .io = &d.io,
				  .info = ctl_info_of,
				  .k8s_json = lb_k8s_json,
				  .bgp_json = ctl_bgp_of,
				  .k8s_metrics = lb_k8s_metrics,
				  .bgp_metrics = ctl_bgp_metrics_of,
				  .node_status_json = node_role_status_json,
				  .node_services_json = node_role_services_json,
				  .node_reasons = node_role_reasons,
				  .node_tc_reasons = node_role_tc_reasons,
				  .node_nic_reasons = node_role_nic_reasons,
				  .node_dsr_reasons = node_role_dsr_reasons,
				  .node_metrics = node_role_metrics,
				  .node_explain = node_role_explain,
				  .reload = ctl_reload_of,
				  .arg = &d };
	d.ctl.ev = d.ev;
	/* the control socket answers from the start: lbctl status says
	 * "starting" and how far the first apply is, which with many
	 * services takes a while (the io process answers it alone: the
	 * loop runs once the apply is done) */
	d.starting = true;
	io_start(&d);
	err = kcheck_role(d.cfg->role);
	if (!err)
		err = d.cfg->role == LBD_ROLE_BACKEND ? backend_start(&d) :
		      d.cfg->role == LBD_ROLE_NODE    ? node_role_start(&d) :
							lb_start(&d);
	if (err) {
		log_warnx("not starting: %s", strerror(-err));
		sd_notifyf(0, "STATUS=failed to start: %s\nERRNO=%d",
			   strerror(-err), -err);
		proc_stop(d.io);
		unlink(d.cfg->control.socket);
		sd_event_unref(d.ev);
		config_free(d.cfg);
		return 1;
	}
	d.generation = 1;
	d.last_ms = ms_since(&d.started);
	d.last_at_s = now_s();
	d.starting = false;
	io_tell_start(&d, d.io);
	control_started(&d.ctl);

	/* a peer that went away (BIRD, the API server) is an error of the
	 * write, never a signal that ends the daemon */
	signal(SIGPIPE, SIG_IGN);
	sd_event_add_signal(d.ev, NULL, SIGHUP, on_sighup, &d);
	sd_event_add_signal(d.ev, NULL, SIGTERM, on_sigterm, &d);
	sd_event_add_signal(d.ev, NULL, SIGINT, on_sigterm, &d);
	/* pings systemd's watchdog from the loop when WATCHDOG_USEC is set:
	 * a stuck loop is a dead lbd */
	sd_event_set_watchdog(d.ev, true);
	watch_files(&d);
	if (d.cfg->role == LBD_ROLE_LB) {
		lb_k8s_begin(&d);
		err = lb_loop_start(&d);
		if (err)
			log_warnx("health checks and announcements: %s",
				  strerror(-err));
	}
	if (d.cfg->role == LBD_ROLE_NODE) {
		err = node_role_loop_start(&d);
		if (err)
			log_warnx("kubernetes: starting the client: %s",
				  strerror(-err));
	}

	sd_notify(0, "READY=1");
	notify_status(&d);
	log_info("lbd ready (%s role): config generation %lu",
		 d.cfg->role == LBD_ROLE_BACKEND ? "backend" :
		 d.cfg->role == LBD_ROLE_NODE	 ? "node" :
						   "lb",
		 d.generation);
	err = sd_event_loop(d.ev);

	d.debounce = sd_event_source_unref(d.debounce);
	d.io_restart = sd_event_source_unref(d.io_restart);
	d.watch_dir = sd_event_source_unref(d.watch_dir);
	d.watch_incl = sd_event_source_unref(d.watch_incl);
	control_stop(&d.ctl);
	proc_stop(d.io);
	d.io = NULL;
	if (d.cfg->role == LBD_ROLE_BACKEND)
		backend_stop(&d);
	else if (d.cfg->role == LBD_ROLE_NODE)
		node_role_stop(&d);
	else
		lb_stop(&d);
	sd_event_unref(d.ev);
	keep_errors(&d, NULL);
	config_free(d.cfg);
	return err < 0 ? 1 : 0;
}

int daemon_check(const char *config_path)
{
	struct lbd_config *c = load_or_report(config_path);
	int r, bad;

	if (!c)
		return 1;
	/* what a start would refuse: the user of the children, the host's
	 * interfaces and pin path, the kernel's features */
	bad = hostcheck(c, stderr);
	if (proc_user_check(c->processes.user)) {
		fprintf(stderr,
			"%s: processes.user: no user named \"%s\" (create it: "
			"useradd --system %s)\n",
			config_path, c->processes.user, c->processes.user);
		bad++;
	}
	if (bad || kcheck_role(c->role)) {
		fprintf(stderr, "%s: valid, but lbd cannot start with it here\n",
			config_path);
		config_free(c);
		return 1;
	}
	r = c->role == LBD_ROLE_BACKEND ? backend_check(c, config_path) :
	    c->role == LBD_ROLE_NODE	? node_role_check(c, config_path) :
					  lb_check(c, config_path);
	config_free(c);
	return r;
}

int daemon_cleanup(const char *config_path)
{
	struct lbd_config *c = load_or_report(config_path);
	int r;

	if (!c)
		return 1;
	r = c->role == LBD_ROLE_BACKEND ? backend_cleanup(c) :
	    c->role == LBD_ROLE_NODE	? node_role_cleanup(c) :
					  lb_cleanup(c);
	config_free(c);
	return r;
}
