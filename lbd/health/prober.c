// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The prober process (prober.h). */
#include "prober.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "ipc.h"
#include "log.h"

#define jadd(o, k, v) json_object_object_add(o, k, v)

struct prober {
	sd_event *ev;
	struct ipc *parent;
	struct hc_engine *eng;
	struct json_object *verdicts; /* to send at the end of the loop
				       * iteration, NULL when none */
	sd_event_source *flush;
	struct hc_result *results;
	size_t results_cap;
};

static const char *const type_names[] = {
	[LBD_HC_TCP] = "tcp",
	[LBD_HC_HTTP] = "http",
	[LBD_HC_UDP_DNS] = "udp-dns",
};

const char *hc_state_str(enum hc_state s)
{
	return s == HC_UP ? "up" : s == HC_DOWN ? "down" : "unknown";
}

/* -- the messages ---------------------------------------------------------- */

static struct json_object *spec_json(const struct hc_spec *s)
{
	struct json_object *o = json_object_new_object();
	char a[INET6_ADDRSTRLEN];

	inet_ntop(s->family == LBD_AF_INET ? AF_INET : AF_INET6, &s->addr, a,
		  sizeof(a));
	jadd(o, "key", json_object_new_int64((int64_t)s->key));
	jadd(o, "type",
	     json_object_new_string(s->type < 4 && type_names[s->type] ?
					    type_names[s->type] :
					    "?"));
	jadd(o, "addr", json_object_new_string(a));
	jadd(o, "port", json_object_new_int(s->port));
	jadd(o, "mark", json_object_new_int64(s->mark));
	jadd(o, "ifindex", json_object_new_int64(s->ifindex));
	jadd(o, "interval_ms", json_object_new_int64(s->interval_ms));
	jadd(o, "timeout_ms", json_object_new_int64(s->timeout_ms));
	jadd(o, "rise", json_object_new_int(s->rise));
	jadd(o, "fall", json_object_new_int(s->fall));
	jadd(o, "expect_status", json_object_new_int(s->expect_status));
	jadd(o, "path", json_object_new_string(s->path));
	jadd(o, "host", json_object_new_string(s->host));
	jadd(o, "query", json_object_new_string(s->query));
	jadd(o, "state", json_object_new_string(hc_state_str(s->state)));
	return o;
}

struct json_object *prober_checks_msg(const struct hc_spec *specs, size_t n)
{
	struct json_object *m = json_object_new_object();
	struct json_object *l = json_object_new_array_ext((int)n);
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(l, spec_json(&specs[i]));
	jadd(m, "checks", l);
	return m;
}

static int64_t get_int(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) :
						     0;
}

static void get_str(struct json_object *o, const char *k, char *buf, size_t len)
{
	struct json_object *v;

	snprintf(buf, len, "%s",
		 json_object_object_get_ex(o, k, &v) ?
			 json_object_get_string(v) :
			 "");
}

/* The privileged process sent it: wrong input is its bug, reported by
 * leaving the check out. */
static int spec_parse(struct json_object *o, struct hc_spec *s)
{
	char buf[LBD_HC_STR_MAX];
	int i;

	memset(s, 0, sizeof(*s));
	s->key = (__u64)get_int(o, "key");
	get_str(o, "type", buf, sizeof(buf));
	for (i = 1; i < 4; i++)
		if (type_names[i] && !strcmp(buf, type_names[i]))
			s->type = (__u8)i;
	get_str(o, "addr", buf, sizeof(buf));
	if (inet_pton(AF_INET, buf, &s->addr.v4) == 1)
		s->family = LBD_AF_INET;
	else if (inet_pton(AF_INET6, buf, &s->addr) == 1)
		s->family = LBD_AF_INET6;
	s->port = (__u16)get_int(o, "port");
	s->mark = (__u32)get_int(o, "mark");
	s->ifindex = (__u32)get_int(o, "ifindex");
	s->interval_ms = (__u32)get_int(o, "interval_ms");
	s->timeout_ms = (__u32)get_int(o, "timeout_ms");
	s->rise = (__u8)get_int(o, "rise");
	s->fall = (__u8)get_int(o, "fall");
	s->expect_status = (__u16)get_int(o, "expect_status");
	get_str(o, "path", s->path, sizeof(s->path));
	get_str(o, "host", s->host, sizeof(s->host));
	get_str(o, "query", s->query, sizeof(s->query));
	get_str(o, "state", buf, sizeof(buf));
	s->state = !strcmp(buf, "up")	? HC_UP :
		   !strcmp(buf, "down") ? HC_DOWN :
					  HC_UNKNOWN;
	if (!s->type || !s->family || !s->port || !s->interval_ms ||
	    !s->timeout_ms || !s->rise || !s->fall)
		return -EINVAL;
	return 0;
}

/* -- the process ----------------------------------------------------------- */

static int on_flush(sd_event_source *s, void *arg)
{
	struct prober *p = arg;
	struct json_object *m;

	(void)s;
	sd_event_source_set_enabled(p->flush, SD_EVENT_OFF);
	if (!p->verdicts)
		return 0;
	m = json_object_new_object();
	jadd(m, "verdicts", p->verdicts);
	p->verdicts = NULL;
	ipc_send(p->parent, m);
	json_object_put(m);
	return 0;
}

/* Verdicts of one loop iteration go together: the privileged process
 * applies them with one table swap per service. */
static void on_verdict(void *arg, __u64 key, enum hc_state state,
		       const char *reason, unsigned int count)
{
	struct prober *p = arg;
	struct json_object *v = json_object_new_object();

	jadd(v, "key", json_object_new_int64((int64_t)key));
	jadd(v, "state", json_object_new_string(hc_state_str(state)));
	jadd(v, "reason", json_object_new_string(reason));
	jadd(v, "count", json_object_new_int((int)count));
	if (!p->verdicts)
		p->verdicts = json_object_new_array();
	json_object_array_add(p->verdicts, v);
	sd_event_source_set_enabled(p->flush, SD_EVENT_ONESHOT);
}

static void checks_msg(struct prober *p, struct json_object *l)
{
	size_t i, n = json_object_array_length(l), k = 0;
	struct hc_spec *specs = calloc(n ? n : 1, sizeof(*specs));
	int err;

	if (!specs) {
		log_warnx("no memory for %zu checks", n);
		return;
	}
	for (i = 0; i < n; i++) {
		if (spec_parse(json_object_array_get_idx(l, i), &specs[k]))
			log_warnx("check %zu: incomplete; left out", i);
		else
			k++;
	}
	err = hc_engine_set(p->eng, specs, k);
	if (err)
		log_warnx("setting %zu checks: %s", k, strerror(-err));
	else
		log_debug("%zu checks", k);
	free(specs);
}

static void parent_msg(struct ipc *c, struct json_object *msg, void *arg)
{
	struct json_object *l;

	(void)c;
	if (json_object_object_get_ex(msg, "checks", &l) &&
	    json_object_is_type(l, json_type_array))
		checks_msg(arg, l);
}

static void parent_gone(struct ipc *c, void *arg)
{
	struct prober *p = arg;

	(void)c;
	p->parent = NULL;
	sd_event_exit(p->ev, 0);
}

static int on_stats(sd_event_source *s, uint64_t usec, void *arg)
{
	struct prober *p = arg;
	struct json_object *m, *st, *res;
	struct hc_stats hs;
	size_t i, n;

	sd_event_source_set_time(s, usec + PROBER_STATS_S * 1000000ull);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	hc_engine_stats(p->eng, &hs, true);
	if (p->results_cap < hs.checks) {
		struct hc_result *r =
			realloc(p->results, hs.checks * sizeof(*r));

		if (!r)
			return 0;
		p->results = r;
		p->results_cap = hs.checks;
	}
	n = hc_engine_results(p->eng, p->results, p->results_cap);
	m = json_object_new_object();
	st = json_object_new_object();
	jadd(st, "runs", json_object_new_int64((int64_t)hs.runs));
	jadd(st, "ok", json_object_new_int64((int64_t)hs.ok));
	jadd(st, "failed", json_object_new_int64((int64_t)hs.failed));
	jadd(st, "late", json_object_new_int64((int64_t)hs.late));
	jadd(st, "max_lag_ms", json_object_new_double(hs.max_lag_ms));
	jadd(st, "checks", json_object_new_int64((int64_t)hs.checks));
	jadd(st, "running", json_object_new_int64((int64_t)hs.running));
	jadd(m, "stats", st);
	res = json_object_new_array_ext((int)(3 * n));
	for (i = 0; i < n; i++) {
		if (!p->results[i].valid)
			continue;
		json_object_array_add(
			res, json_object_new_int64((int64_t)p->results[i].key));
		json_object_array_add(
			res, json_object_new_int64(p->results[i].latency_us));
		json_object_array_add(res,
				      json_object_new_int(p->results[i].ok));
	}
	jadd(m, "results", res);
	if (p->parent)
		ipc_send(p->parent, m);
	json_object_put(m);
	return 0;
}

/* Becomes LBD_IO_USER keeping CAP_NET_RAW alone (permitted, effective,
 * and the only one in the bounding set), for good. */
static int drop_privileges(void)
{
	struct passwd *pw = getpwnam(LBD_IO_USER);
	cap_value_t keep = CAP_NET_RAW;
	cap_value_t c;
	cap_t caps;
	int err = 0;

	if (!pw)
		return -ENOENT;
	/* where CAP_SETPCAP is not ours (systemd's bounding set), the
	 * bounding set is what it is: no_new_privs below keeps exec from
	 * gaining anything either way */
	for (c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (c != CAP_NET_RAW && cap_drop_bound(c) < 0 && errno != EPERM)
			return -errno;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	caps = cap_init();
	if (!caps)
		return -ENOMEM;
	if (cap_set_flag(caps, CAP_PERMITTED, 1, &keep, CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &keep, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		err = -errno;
	cap_free(caps);
	if (err)
		return err;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

/* Every check in flight holds a socket: a timeout as long as the
 * interval keeps one per check open. */
static void raise_nofile(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static int ignore_signal(sd_event_source *s, const struct signalfd_siginfo *si,
			 void *arg)
{
	(void)s;
	(void)si;
	(void)arg;
	return 0;
}

static int prober_main(int ipc_fd)
{
	struct prober p = { 0 };
	uint64_t now;
	int err;

	log_init("lbd-prober", log_verbosity());
	prctl(PR_SET_NAME, "lbd-prober", 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() == 1)
		return 1;
	raise_nofile();
	err = drop_privileges();
	if (err) {
		log_warnx("dropping privileges to %s (keeping CAP_NET_RAW): %s",
			  LBD_IO_USER, strerror(-err));
		return 1;
	}
	io_child_signals();
	if (hc_global_init() || sd_event_new(&p.ev) < 0)
		return 1;
	sd_event_add_signal(p.ev, NULL, SIGTERM, NULL, NULL);
	sd_event_add_signal(p.ev, NULL, SIGINT, NULL, NULL);
	sd_event_add_signal(p.ev, NULL, SIGHUP, ignore_signal, NULL);
	if (sd_event_add_defer(p.ev, &p.flush, on_flush, &p) < 0)
		return 1;
	sd_event_source_set_enabled(p.flush, SD_EVENT_OFF);
	if (hc_engine_new(p.ev, on_verdict, &p, &p.eng) < 0 ||
	    ipc_open(p.ev, ipc_fd, parent_msg, parent_gone, &p, &p.parent) < 0)
		return 1;
	sd_event_now(p.ev, CLOCK_MONOTONIC, &now);
	sd_event_add_time(p.ev, NULL, CLOCK_MONOTONIC,
			  now + PROBER_STATS_S * 1000000ull, 100000, on_stats,
			  &p);
	err = sd_event_loop(p.ev);
	hc_engine_free(p.eng);
	return err < 0 ? 1 : 0;
}

int prober_spawn(struct prober_child *child)
{
	int sp[2], err;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(sp[0]);
		close(sp[1]);
		return err;
	}
	if (pid == 0) {
		close(sp[0]);
		io_close_other_fds(&sp[1], 1);
		_exit(prober_main(sp[1]));
	}
	close(sp[1]);
	child->pid = pid;
	child->ipc_fd = sp[0];
	return 0;
}
