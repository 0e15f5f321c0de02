// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbctl: inspect and operate a running lbd through its control socket.
 * Tables for people, --json for scripts. See lbctl(8); the protocol is
 * described at the top of lbd/ctl/io.c.
 *
 * lbctl parses nothing it sends: arguments go to lbd as the strings they
 * are, and lbd's io process checks them (one parser, one set of error
 * messages, whoever the client is).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <locale.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <libsmartcols.h>

#include "config.h"
#include "io.h"
#include "ipc.h"

/* How often drain --wait looks at the backend's flows. */
#define WAIT_POLL_MS 500

/* How often drain --wait says how many flows are left. */
#define WAIT_SAY_MS 1000

static int json_out;
static char sock_path[108] = LBD_DEFAULT_SOCKET;
static int sock_fd = -1;
static struct ipc_reader *reader;
/* SIGINT during list --watch: stop at the next refresh, cleanly */
static volatile sig_atomic_t stopping;

/*
 * Options every command takes, before or after its name (as kubectl and
 * cilium take them): each command's option table ends with these, and
 * getopt_long permutes, so "lbctl services --json" is "lbctl --json
 * services". --version has no short form: conntrack's -V is --vip.
 */
#define OPT_VERSION 0x100
#define GLOBAL_SHORT "s:c:jh"
/* clang-format off */
#define GLOBAL_LONG                                                     \
	{ "socket", required_argument, NULL, 's' },                     \
	{ "config", required_argument, NULL, 'c' },                     \
	{ "json", no_argument, NULL, 'j' },                             \
	{ "help", no_argument, NULL, 'h' },                             \
	{ "version", no_argument, NULL, OPT_VERSION },                  \
	{ 0 }
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbctl [COMMAND] [ARGS] [-s SOCKET | -c CONFIG] "
		"[--json]\n"
		"commands:\n"
		"  list [--rate [--interval SEC]] [--watch SEC]\n"
		"                             services and their backends, "
		"as ipvsadm -Ln\n"
		"                             (the command when none is "
		"given)\n"
		"  status                     the daemon, its datapath and "
		"config\n"
		"  services                   services with their traffic\n"
		"  backends [SERVICE]         backends with state, share and "
		"traffic\n"
		"  stats                      drop and event counters by "
		"reason\n"
		"  drain BACKEND [--service S] [--wait [--timeout SEC]]\n"
		"                             no new flows to BACKEND (ADDR or "
		"ADDR:PORT)\n"
		"  undrain BACKEND [--service S]\n"
		"  conntrack [FILTERS] [--all] [--limit N]\n"
		"  conntrack flush [FILTERS]  FILTERS: --client A[:P] --vip "
		"A[:P]\n"
		"                             --backend A[:P] --service S "
		"--proto P\n"
		"  explain CLIENT[:PORT] VIP:PORT/PROTO [--cookie C] "
		"[--netns C|PATH]\n"
		"                             the backend the datapath picks, "
		"and why\n"
		"  monitor [--drops] [--flows] [--health] [--service S] "
		"[--count N]\n"
		"                             datapath events as they happen\n"
		"  reload                     lbd reads its config again; "
		"exits 1 with\n"
		"                             every problem when it is "
		"refused\n"
		"options (before or after the command):\n"
		"  -s, --socket SOCKET  lbd's control socket\n"
		"  -c, --config FILE    the socket named by this lbd config\n"
		"  -j, --json           JSON output\n"
		"  -h, --help           this help\n"
		"      --version        lbctl's version\n"
		"without -s or -c: %s\n",
		LBD_DEFAULT_SOCKET);
}

static int socket_of_config(const char *file, char *out, size_t len);

/* A global option (GLOBAL_LONG) met by a command's getopt_long loop:
 * false when c is none of them. --help and --version end lbctl. */
static bool global_opt(int c, const char *arg)
{
	switch (c) {
	case 's':
		snprintf(sock_path, sizeof(sock_path), "%s", arg);
		return true;
	case 'c':
		if (socket_of_config(arg, sock_path, sizeof(sock_path)))
			exit(1);
		return true;
	case 'j':
		json_out = 1;
		return true;
	case 'h':
		usage(stdout);
		exit(0);
	case OPT_VERSION:
		printf("lbctl %s\n", LBD_VERSION);
		exit(0);
	default:
		return false;
	}
}

/*
 * The options of a command without options of its own, and its
 * arguments: the index of the first argument, or -1 (said on stderr)
 * when there are not between min and max of them.
 */
static int args_only(int argc, char **argv, int min, int max,
		     const char *synopsis)
{
	static const struct option opts[] = { GLOBAL_LONG };
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, GLOBAL_SHORT, opts, NULL)) != -1)
		if (!global_opt(c, optarg))
			return -1;
	if (argc - optind < min || argc - optind > max) {
		fprintf(stderr, "usage: %s%s\n", argv[0], synopsis);
		return -1;
	}
	return optind;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/*
 * Who may use the socket lbctl was refused: its group when it has one
 * (control.group makes the socket that group's, mode 0660), else root
 * only. A user told "permission denied" alone does not know which group
 * to join.
 */
static void say_denied(const char *path)
{
	struct group *gr;
	struct stat st;
	char gid[16];

	if (stat(path, &st) < 0) {
		fprintf(stderr,
			"lbctl: permission denied: %s (its directory is not "
			"searchable by you)\n",
			path);
		return;
	}
	if (!(st.st_mode & S_IWGRP) || st.st_gid == 0) {
		fprintf(stderr,
			"lbctl: permission denied: %s is root's only "
			"(control.group in lbd.conf lets a group read it)\n",
			path);
		return;
	}
	gr = getgrgid(st.st_gid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)st.st_gid);
	fprintf(stderr,
		"lbctl: permission denied: %s is readable by group '%s' (or "
		"root)\n",
		path, gr ? gr->gr_name : gid);
}

/* The connection to lbd, made at the first request: a command's usage
 * errors are said without one. */
static int ctl_connect(void)
{
	if (sock_fd >= 0)
		return 0;
	sock_fd = connect_to(sock_path);
	if (sock_fd == -EACCES || sock_fd == -EPERM) {
		say_denied(sock_path);
		return sock_fd;
	}
	if (sock_fd < 0) {
		fprintf(stderr, "lbctl: %s: %s (is lbd running?)\n", sock_path,
			strerror(-sock_fd));
		return sock_fd;
	}
	reader = ipc_reader_new(sock_fd);
	if (!reader) {
		fprintf(stderr, "lbctl: out of memory\n");
		close(sock_fd);
		sock_fd = -1;
		return -ENOMEM;
	}
	return 0;
}

/* One request, one answer: its data, or NULL with the error printed. */
static struct json_object *request(const char *cmd, struct json_object *args)
{
	struct json_object *req = json_object_new_object(), *ans = NULL, *ok,
			   *data, *err;
	int e;

	if (ctl_connect()) {
		json_object_put(req);
		return NULL;
	}
	json_object_object_add(req, "v",
			       json_object_new_int(LBD_CONTROL_VERSION));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args",
			       args ? json_object_get(args) :
				      json_object_new_object());
	e = ipc_write_blocking(sock_fd, req);
	json_object_put(req);
	/* a connection lbd refused (too many clients) may be closed before
	 * the request is written; the line saying why is still there */
	if (!e || e == -EPIPE) {
		int r = ipc_reader_next(reader, &ans);

		e = r ? (e ? e : r) : 0;
	}
	if (e) {
		fprintf(stderr, "lbctl: %s: %s\n", cmd, strerror(-e));
		return NULL;
	}
	if (!json_object_object_get_ex(ans, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		struct json_object *lines;
		size_t i;

		fprintf(stderr, "lbctl: %s\n",
			json_object_object_get_ex(ans, "error", &err) ?
				json_object_get_string(err) :
				"failed");
		/* a refused reload's problems, as lbd's log has them */
		if (json_object_object_get_ex(ans, "errors", &lines) &&
		    json_object_is_type(lines, json_type_array))
			for (i = 0; i < json_object_array_length(lines); i++)
				fprintf(stderr, "%s\n",
					json_object_get_string(
						json_object_array_get_idx(lines,
									  i)));
		json_object_put(ans);
		return NULL;
	}
	if (!json_object_object_get_ex(ans, "data", &data)) {
		json_object_put(ans);
		return NULL;
	}
	json_object_get(data);
	json_object_put(ans);
	return data;
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[256], *save, *k;
	struct json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && v;
	     k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, k, &v))
			return NULL;
	return v;
}

static const char *s_of(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v && !json_object_is_type(v, json_type_null) ?
		       json_object_get_string(v) :
		       "-";
}

static long long i_of(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_int64(v) : 0;
}

static double d_of(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_double(v) : 0;
}

static int b_of(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_boolean(v) : 0;
}

static void print_json(struct json_object *d)
{
	printf("%s\n", json_object_to_json_string_ext(
			       d, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *hostport(const char *a, long long port, char *buf,
			    size_t len)
{
	snprintf(buf, len, strchr(a, ':') ? "[%s]:%lld" : "%s:%lld", a, port);
	return buf;
}

/* -- tables ------------------------------------------------------------ */

/* What the cluster's sync cannot do now: refused Services (the last
 * reason), and the last error of each resource whose last request
 * failed. */
static void print_k8s_problems(struct json_object *d)
{
	struct json_object *res = get(d, "kubernetes.resources");
	size_t i;

	/* the kubeconfig the client could not take (the child parses it) */
	if (get(d, "kubernetes.error") && *s_of(d, "kubernetes.error"))
		printf("              %s\n", s_of(d, "kubernetes.error"));
	if (i_of(d, "kubernetes.refusals.refused") ||
	    *s_of(d, "kubernetes.refusals.last"))
		printf("              %lld refused now; last: %s\n",
		       i_of(d, "kubernetes.refusals.refused"),
		       s_of(d, "kubernetes.refusals.last"));
	for (i = 0; res && i < json_object_array_length(res); i++) {
		struct json_object *r = json_object_array_get_idx(res, i);

		if (!b_of(r, "failing"))
			continue;
		printf("              %s: %s (%lld failures)\n",
		       s_of(r, "resource"), s_of(r, "last_error"),
		       i_of(r, "failures"));
	}
}

/* The last apply, and what the datapath serves after it. */
static void print_apply(struct json_object *d)
{
	const char *serving = s_of(d, "apply.serving");

	if (!get(d, "apply"))
		return;
	if (i_of(d, "apply.ok"))
		printf("last apply    ok");
	else
		printf("last apply    FAILED (%s)", s_of(d, "apply.error"));
	if (!strcmp(serving, "applied"))
		printf(", the datapath serves it");
	else if (!strcmp(serving, "previous"))
		printf(", the datapath serves the state before the apply "
		       "that failed");
	else
		printf(", the datapath serves a MIX of two states (a "
		       "rollback failed) until an apply succeeds");
	printf(" (%lld failed, %lld not rolled back)\n",
	       i_of(d, "apply.failures"), i_of(d, "apply.rollback_failures"));
}

static void print_status(struct json_object *d)
{
	struct json_object *errs = get(d, "config.last_reload.errors");
	size_t i;

	if (!strcmp(s_of(d, "state"), "starting")) {
		printf("state         starting: applying the config, %s\n",
		       s_of(d, "progress"));
		return;
	}
	printf("version       %s (%s role)\n", s_of(d, "version"),
	       s_of(d, "role"));
	printf("uptime        %.0f s\n", d_of(d, "uptime_s"));
	if (!strcmp(s_of(d, "role"), "lb")) {
		printf("datapath      %s on %s, %s, program %lld%s\n",
		       b_of(d, "datapath.attached") ? "attached" :
						      "NOT attached",
		       s_of(d, "datapath.interface"), s_of(d, "datapath.mode"),
		       i_of(d, "datapath.program_id"),
		       b_of(d, "datapath.dispatcher") ? " (libxdp dispatcher)" :
							"");
		printf("pin path      %s\n", s_of(d, "datapath.pin_path"));
		print_apply(d);
		printf("services      %lld\n", i_of(d, "services"));
		printf("backends      %lld (%lld runtime drains)\n",
		       i_of(d, "backends"), i_of(d, "drains"));
		if (b_of(d, "kubernetes.configured"))
			printf("kubernetes    %s, class %s: %s, %lld services, "
			       "%lld refused for a clash\n",
			       s_of(d, "kubernetes.server"),
			       s_of(d, "kubernetes.load_balancer_class"),
			       b_of(d, "kubernetes.synced") ? "synced"
							    : "NOT synced",
			       i_of(d, "kubernetes.services"),
			       i_of(d, "kubernetes.refused"));
		if (b_of(d, "kubernetes.configured"))
			print_k8s_problems(d);
	} else if (!strcmp(s_of(d, "role"), "node")) {
		printf("node          %s, socket programs on %s\n",
		       s_of(d, "node.name"), s_of(d, "node.cgroup"));
		printf("services      %lld (%lld ports, %lld addresses)\n",
		       i_of(d, "services"), i_of(d, "service_ports"),
		       i_of(d, "service_addresses"));
		printf("endpoints     %lld (%lld on this node)\n",
		       i_of(d, "endpoints"), i_of(d, "local_endpoints"));
		printf("kubernetes    %s: %s, %lld syncs (%lld failed, %lld map "
		       "writes failed), %lld refused\n",
		       s_of(d, "kubernetes.server"),
		       b_of(d, "kubernetes.synced") ? "synced" : "NOT synced",
		       i_of(d, "kubernetes.syncs"),
		       i_of(d, "kubernetes.sync_failures"),
		       i_of(d, "kubernetes.write_failures"),
		       i_of(d, "kubernetes.refused"));
		if (i_of(d, "kubernetes.syncs") &&
		    !b_of(d, "node.service_proxy_healthy"))
			printf("health checks answer 503 (serviceProxyHealthy "
			       "false): the last sync failed, or the client "
			       "has been behind the cluster for %.0f s\n",
			       d_of(d, "node.kubernetes_behind_s"));
		if (i_of(d, "node.healthz_status"))
			printf("healthz       %s answers %lld\n",
			       s_of(d, "node.healthz_address"),
			       i_of(d, "node.healthz_status"));
		else
			printf("healthz       off\n");
		print_k8s_problems(d);
	} else {
		printf("datapath      tc on %s, %lld trusted LBs, %lld VIPs\n",
		       s_of(d, "datapath.interface"),
		       i_of(d, "datapath.trusted_lbs"),
		       i_of(d, "datapath.vips"));
	}
	printf("config        %s, generation %lld\n", s_of(d, "config.file"),
	       i_of(d, "config.generation"));
	printf("reloads       %lld (%lld failed)\n", i_of(d, "config.reloads"),
	       i_of(d, "config.reload_failures"));
	printf("last reload   %s in %.1f ms\n",
	       b_of(d, "config.last_reload.ok") ? "ok" : "FAILED",
	       d_of(d, "config.last_reload.ms"));
	for (i = 0; errs && i < json_object_array_length(errs); i++)
		printf("  %s\n", json_object_get_string(
					 json_object_array_get_idx(errs, i)));
	printf("control       %s%s%s\n", s_of(d, "control.socket"),
	       *s_of(d, "control.group") &&
			       strcmp(s_of(d, "control.group"), "-") ?
		       ", read-only for group " :
		       "",
	       *s_of(d, "control.group") &&
			       strcmp(s_of(d, "control.group"), "-") ?
		       s_of(d, "control.group") :
		       "");
	printf("metrics       %s\n",
	       *s_of(d, "control.metrics_listen") &&
			       strcmp(s_of(d, "control.metrics_listen"),
				      "off") ?
		       s_of(d, "control.metrics_listen") :
		       "off");
	printf("monitor       %s\n",
	       b_of(d, "monitor.active") ? "listening" : "off");
	if (get(d, "health"))
		printf("health        %lld checks: %lld up, %lld down, %lld "
		       "unknown (prober pid %lld, %lld late starts)\n",
		       i_of(d, "health.checks"), i_of(d, "health.up"),
		       i_of(d, "health.down"), i_of(d, "health.unknown"),
		       i_of(d, "health.prober_pid"), i_of(d, "health.late"));
	printf("BIRD          %s", s_of(d, "bird.state"));
	if (get(d, "bird.socket"))
		printf(" (%s), %lld VIPs announced%s%s", s_of(d, "bird.socket"),
		       i_of(d, "bird.announced"),
		       *s_of(d, "bird.last_error") != '\0' ? "; last error: "
							     : "",
		       s_of(d, "bird.last_error"));
	printf("\n");
	{
		struct json_object *l = get(d, "bird.vips");

		for (i = 0; l && i < json_object_array_length(l); i++) {
			struct json_object *v = json_object_array_get_idx(l, i);

			printf("  %-28s %-10s %lld backends up (min_healthy "
			       "%lld)\n",
			       s_of(v, "vip"),
			       b_of(v, "announced") ? "announced" : "withdrawn",
			       i_of(v, "backends_up"), i_of(v, "min_healthy"));
		}
	}
}

/* The node role's Service ports: addresses, then endpoints (local ones
 * marked), one line each. */
static void print_node_services(struct json_object *l)
{
	size_t i, j;

	for (i = 0; i < json_object_array_length(l); i++) {
		struct json_object *s = json_object_array_get_idx(l, i);
		struct json_object *a = get(s, "addresses");
		struct json_object *e = get(s, "endpoints");

		printf("%s port %s %lld/%s %s %s, traffic policy %s, "
		       "affinity %s",
		       s_of(s, "service"),
		       *s_of(s, "port_name") ? s_of(s, "port_name") : "-",
		       i_of(s, "port"), s_of(s, "protocol"), s_of(s, "type"),
		       s_of(s, "scope"), s_of(s, "traffic_policy"),
		       s_of(s, "affinity"));
		if (strcmp(s_of(s, "affinity"), "None"))
			printf(" (%lld s)", i_of(s, "affinity_timeout_s"));
		if (i_of(s, "health_check_node_port"))
			printf(", health check port %lld",
			       i_of(s, "health_check_node_port"));
		if (b_of(s, "zone_hints"))
			printf(", zone hints");
		if (get(s, "forwarding"))
			printf(", forwarding %s", s_of(s, "forwarding"));
		printf("%s\n", b_of(s, "applied") ? "" : " NOT APPLIED");
		for (j = 0; a && j < json_object_array_length(a); j++) {
			struct json_object *x = json_object_array_get_idx(a, j);

			printf("  %-12s %s\n", s_of(x, "kind"),
			       s_of(x, "address"));
		}
		for (j = 0; e && j < json_object_array_length(e); j++) {
			struct json_object *x = json_object_array_get_idx(e, j);

			printf("  endpoint     %-40s %s%s%s%s\n",
			       s_of(x, "endpoint"),
			       b_of(x, "ready") ? "ready" : "not-ready",
			       b_of(x, "serving") ? ",serving" : "",
			       b_of(x, "terminating") ? ",terminating" : "",
			       b_of(x, "local") ? " (local)" : "");
		}
		if (!e || !json_object_array_length(e))
			printf("  (no endpoint: connections are refused)\n");
	}
}

static void print_services(struct json_object *d)
{
	struct json_object *l = get(d, "services");
	size_t i;

	if (l && json_object_array_length(l) &&
	    get(json_object_array_get_idx(l, 0), "type")) {
		print_node_services(l);
		return;
	}
	printf("%-20s %-28s %-6s %-8s %-9s %-9s %12s %14s %10s  %s\n", "NAME",
	       "VIP:PORT", "PROTO", "FWD", "STATE-IN", "BACKENDS", "PACKETS",
	       "BYTES", "NEW FLOWS", "SOURCE");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *s = json_object_array_get_idx(l, i);
		char vip[80], be[32];

		hostport(s_of(s, "vip"), i_of(s, "port"), vip, sizeof(vip));
		snprintf(be, sizeof(be), "%lld/%lld",
			 i_of(s, "active_backends"), i_of(s, "backends"));
		/* where the flows' state lives, for the service's protocol
		 * (UDP: "lb" or "none") */
		printf("%-20s %-28s %-6s %-8s %-9s %-9s %12lld %14lld %10lld  "
		       "%s\n",
		       s_of(s, "name"), vip, s_of(s, "protocol"),
		       s_of(s, "forwarding"),
		       !strcmp(s_of(s, "protocol"), "udp") ?
			       s_of(s, "udp_flow_state") :
			       s_of(s, "flow_state"),
		       be, i_of(s, "traffic.packets"), i_of(s, "traffic.bytes"),
		       i_of(s, "traffic.new_flows"), s_of(s, "source"));
	}
}

static void print_backends(struct json_object *d)
{
	struct json_object *l = get(d, "backends");
	size_t i;

	printf("%-20s %-30s %6s %-9s %-22s %-9s %7s %12s %14s %10s %8s\n",
	       "SERVICE", "BACKEND", "WEIGHT", "CONFIG", "HEALTH", "STATE",
	       "SHARE", "PACKETS", "BYTES", "NEW FLOWS", "ACTIVE");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *b = json_object_array_get_idx(l, i);
		char state[16], health[64];

		snprintf(state, sizeof(state), "%s%s", s_of(b, "state"),
			 b_of(b, "drained") ? "*" : "");
		/* a check that is down says why */
		if (!strcmp(s_of(b, "health"), "down") &&
		    get(b, "health_check.reason"))
			snprintf(health, sizeof(health), "down (%s)",
				 s_of(b, "health_check.reason"));
		else
			snprintf(health, sizeof(health), "%s",
				 s_of(b, "health"));
		printf("%-20s %-30s %6lld %-9s %-22s %-9s %6.1f%% %12lld %14lld "
		       "%10lld %8lld\n",
		       s_of(b, "service"), s_of(b, "backend"),
		       i_of(b, "weight"), s_of(b, "config_state"), health,
		       state, 100 * d_of(b, "share"),
		       i_of(b, "traffic.packets"), i_of(b, "traffic.bytes"),
		       i_of(b, "traffic.new_flows"), i_of(b, "active_flows"));
	}
	printf("(* drained with lbctl drain)\n");
}

static void print_stats(struct json_object *d)
{
	struct json_object *l = get(d, "counters");
	size_t i;

	/* the node role's socket counters: a count, no packets or bytes */
	if (l && json_object_array_length(l) &&
	    get(json_object_array_get_idx(l, 0), "count")) {
		printf("%-24s %14s  %s\n", "REASON", "COUNT", "WHAT");
		for (i = 0; i < json_object_array_length(l); i++) {
			struct json_object *c = json_object_array_get_idx(l, i);

			printf("%-24s %14lld  %s\n", s_of(c, "reason"),
			       i_of(c, "count"), s_of(c, "description"));
		}
		/* the NIC path's, when it runs */
		l = get(d, "nic_counters");
		if (l)
			printf("\n%-24s %14s  %s\n", "NIC PATH", "COUNT",
			       "WHAT");
		for (i = 0; l && i < json_object_array_length(l); i++) {
			struct json_object *c = json_object_array_get_idx(l, i);

			printf("%-24s %14lld  %s\n", s_of(c, "reason"),
			       i_of(c, "count"), s_of(c, "description"));
		}
		/* the DSR receiver's (packets), when it runs */
		l = get(d, "dsr_counters");
		if (l)
			printf("\n%-24s %14s %16s  %s\n", "DSR RECEIVER",
			       "PACKETS", "BYTES", "WHAT");
		for (i = 0; l && i < json_object_array_length(l); i++) {
			struct json_object *c = json_object_array_get_idx(l, i);

			printf("%-24s %14lld %16lld  %s\n", s_of(c, "reason"),
			       i_of(c, "packets"), i_of(c, "bytes"),
			       s_of(c, "description"));
		}
		/* and the tc path's on the pod interfaces, when it runs */
		l = get(d, "tc_counters");
		if (!l)
			return;
		printf("\n%-24s %14s  %s\n", "TC PATH", "COUNT", "WHAT");
		for (i = 0; i < json_object_array_length(l); i++) {
			struct json_object *c = json_object_array_get_idx(l, i);

			printf("%-24s %14lld  %s\n", s_of(c, "reason"),
			       i_of(c, "count"), s_of(c, "description"));
		}
		return;
	}
	printf("%-24s %-8s %14s %16s  %s\n", "REASON", "KIND", "PACKETS",
	       "BYTES", "WHAT");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *c = json_object_array_get_idx(l, i);

		if (!i_of(c, "packets"))
			continue;
		printf("%-24s %-8s %14lld %16lld  %s\n", s_of(c, "reason"),
		       s_of(c, "kind"), i_of(c, "packets"), i_of(c, "bytes"),
		       s_of(c, "description"));
	}
}

static void print_conntrack(struct json_object *d)
{
	struct json_object *l = get(d, "entries");
	size_t i, n = l ? json_object_array_length(l) : 0;

	printf("%-5s %-30s %-30s %-16s %-30s %6s %s\n", "PROTO", "CLIENT",
	       "VIP", "SERVICE", "BACKEND", "IDLE", "FLAGS");
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(l, i);
		char c[64], v[64], be[64];

		snprintf(be, sizeof(be), "%s%s%s", s_of(e, "backend"),
			 strcmp(s_of(e, "backend_state"), "active") ? " " : "",
			 strcmp(s_of(e, "backend_state"), "active") ?
				 s_of(e, "backend_state") :
				 "");
		printf("%-5s %-30s %-30s %-16s %-30s %5llds %s%s\n",
		       s_of(e, "proto"),
		       hostport(s_of(e, "client"), i_of(e, "client_port"), c,
				sizeof(c)),
		       hostport(s_of(e, "vip"), i_of(e, "port"), v, sizeof(v)),
		       s_of(e, "service"), be, i_of(e, "idle_s"),
		       b_of(e, "closing") ? "closing " : "",
		       b_of(e, "live") ? "" : "expired");
	}
	printf("%lld entries matched%s\n", i_of(d, "matched"),
	       b_of(d, "truncated") ? " (not all listed: --limit)" : "");
}

/* explain in the node role (lbd/node.c node_role_explain): the Service
 * port, the endpoints its table may give, and the socket's choice. */
static void print_node_explain(struct json_object *d)
{
	struct json_object *l = get(d, "endpoints");
	size_t i;

	printf("address   %s/%s%s%s\n", s_of(d, "service_address"),
	       s_of(d, "proto"), get(d, "client") ? " from " : "",
	       get(d, "client") ? s_of(d, "client") : "");
	if (!b_of(d, "translated")) {
		printf("why       %s\n", s_of(d, "why"));
		return;
	}
	if (get(d, "service.service"))
		printf("service   %s port %s (%s, %s scope, traffic policy "
		       "%s, affinity %s)\n",
		       s_of(d, "service.service"),
		       *s_of(d, "service.port_name") ?
			       s_of(d, "service.port_name") :
			       "-",
		       s_of(d, "service.type"), s_of(d, "service.scope"),
		       s_of(d, "service.traffic_policy"),
		       s_of(d, "service.affinity"));
	else
		printf("service   port id %lld (not synced yet: as the "
		       "maps hold it)\n",
		       i_of(d, "service_port_id"));
	printf("endpoints %s:\n", s_of(d, "endpoints_from"));
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *e = json_object_array_get_idx(l, i);

		printf("          %s weight %lld%s%s\n", s_of(e, "endpoint"),
		       i_of(e, "weight"),
		       b_of(e, "terminating") ? " terminating" : "",
		       b_of(e, "local") ? " (local)" : "");
	}
	if (get(d, "choice.affinity")) {
		printf("affinity  ClientIP, timeout %lld s: ",
		       i_of(d, "choice.affinity.timeout_s"));
		if (!get(d, "choice.netns"))
			printf("the client's netns unknown: give --netns "
			       "/proc/PID/ns/net (a process of the pod), "
			       "/run/netns/NAME or its cookie\n");
		else if (!b_of(d, "choice.affinity.entry"))
			printf("no entry for netns %s\n",
			       s_of(d, "choice.netns"));
		else
			printf("netns %s's entry idle %lld s, %s\n",
			       s_of(d, "choice.netns"),
			       i_of(d, "choice.affinity.idle_s"),
			       b_of(d, "choice.affinity.followed") ?
				       "followed" :
			       b_of(d, "choice.affinity.fresh") ?
				       "its endpoint is gone: not followed" :
				       "past the timeout: not followed");
	}
	if (b_of(d, "choice.exact"))
		printf("slot      hash %lld %% %lld = slot %lld: %s (by %s "
		       "%s)\n",
		       i_of(d, "choice.hash"), i_of(d, "choice.table_size"),
		       i_of(d, "choice.slot"), s_of(d, "choice.slot_endpoint"),
		       !strcmp(s_of(d, "choice.by"), "netns") ? "netns" :
								"socket cookie",
		       !strcmp(s_of(d, "choice.by"), "netns") ?
			       s_of(d, "choice.netns") :
			       s_of(d, "choice.cookie"));
	if (get(d, "choice.endpoint") &&
	    !json_object_is_type(get(d, "choice.endpoint"), json_type_null))
		printf("endpoint  %s (%s)\n", s_of(d, "choice.endpoint"),
		       s_of(d, "choice.why"));
	else
		printf("endpoint  none: %s\n", s_of(d, "choice.why"));
}

static void print_explain(struct json_object *d)
{
	struct json_object *c = get(d, "counted");
	char cl[64], v[64];
	size_t i;

	if (get(d, "service_address")) {
		print_node_explain(d);
		return;
	}

	printf("flow      %s -> %s/%s (service %s)\n",
	       hostport(s_of(d, "flow.client"), i_of(d, "flow.client_port"), cl,
			sizeof(cl)),
	       hostport(s_of(d, "flow.vip"), i_of(d, "flow.port"), v,
			sizeof(v)),
	       s_of(d, "flow.proto"), s_of(d, "service"));
	if (get(d, "flow_state"))
		printf("mode      flow_state %s, udp_flow_state %s%s\n",
		       s_of(d, "flow_state"), s_of(d, "udp_flow_state"),
		       b_of(d, "stateless") ?
			       ": no conntrack consulted for this flow" :
			       "");
	printf("verdict   %s", s_of(d, "verdict"));
	if (get(d, "encap"))
		printf(": %s to %s%s", s_of(d, "encap"),
		       s_of(d, "outer_destination"),
		       get(d, "inner") ? " (inner packet unchanged)" : "");
	printf("\n");
	if (get(d, "backend.backend"))
		printf("backend   %s (%s)\n", s_of(d, "backend.backend"),
		       s_of(d, "backend.state"));
	else
		printf("backend   none\n");
	if (!strcmp(s_of(d, "why"), "conntrack"))
		printf("why       conntrack: the flow's entry names it (idle "
		       "%lld s%s)\n",
		       i_of(d, "conntrack.idle_s"),
		       b_of(d, "conntrack.closing") ? ", closing" : "");
	else if (!strcmp(s_of(d, "why"), "affinity"))
		printf("why       session affinity: the client's backend "
		       "(idle %lld s)\n",
		       i_of(d, "affinity.idle_s"));
	else if (!strcmp(s_of(d, "why"), "maglev"))
		printf("why       maglev: hash %lld %% %lld = slot %lld%s%s\n",
		       i_of(d, "maglev.hash"), i_of(d, "maglev.table_size"),
		       i_of(d, "maglev.slot"),
		       b_of(d, "maglev.client_port_hashed") ?
			       "" :
			       " (client port not hashed: affinity)",
		       !b_of(d, "conntrack.consulted") ?
			       " (stateless)" :
		       b_of(d, "conntrack.exists") ?
			       " (its conntrack entry is not usable)" :
			       " (no conntrack entry)");
	else if (!strcmp(s_of(d, "why"), "changed"))
		printf("why       the maps changed during the run (a reload "
		       "or drain); run again\n");
	else
		printf("why       not forwarded\n");
	if (get(d, "maglev.slot")) {
		printf("slot      %lld of %lld: owner %s, previous owner %s\n",
		       i_of(d, "maglev.slot"), i_of(d, "maglev.table_size"),
		       s_of(d, "maglev.backend"),
		       get(d, "maglev.previous_owner") &&
				       !json_object_is_type(
					       get(d, "maglev.previous_owner"),
					       json_type_null) ?
			       s_of(d, "maglev.previous_owner") :
			       "none");
	}
	if (get(d, "option"))
		printf("option    lbd's Geneve option, flags 0x%02llx: %s%s\n",
		       i_of(d, "option.flags"),
		       i_of(d, "option.flags") & 1 ?
			       "names the previous owner " :
			       "no previous owner named",
		       i_of(d, "option.flags") & 1 ?
			       s_of(d, "option.previous_owner") :
			       "");
	printf("counted  ");
	for (i = 0; c && i < json_object_array_length(c); i++)
		printf(" %s",
		       json_object_get_string(json_object_array_get_idx(c, i)));
	printf("\n");
}

static void print_event(struct json_object *e)
{
	char t[32], c[64], v[64];
	double ts = d_of(e, "time");
	time_t sec = (time_t)ts;
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(t, sizeof(t), "%H:%M:%S", &tm);
	if (!strcmp(s_of(e, "type"), "backend")) {
		printf("%s.%03d %-8s %-16s %s %s: %s\n", t,
		       (int)((ts - (double)sec) * 1000), "backend",
		       s_of(e, "cause"), s_of(e, "service"), s_of(e, "backend"),
		       s_of(e, "state"));
		return;
	}
	printf("%s.%03d %-8s %-16s %-4s %s -> %s service %s backend %s\n", t,
	       (int)((ts - (double)sec) * 1000), s_of(e, "type"),
	       s_of(e, "reason"), s_of(e, "proto"),
	       get(e, "client") ?
		       hostport(s_of(e, "client"), i_of(e, "client_port"), c,
				sizeof(c)) :
		       "-",
	       get(e, "vip") ?
		       hostport(s_of(e, "vip"), i_of(e, "port"), v, sizeof(v)) :
		       "-",
	       s_of(e, "service"), s_of(e, "backend"));
}

/* -- commands ---------------------------------------------------------- */

static void add_str(struct json_object *a, const char *k, const char *v)
{
	json_object_object_add(a, k, json_object_new_string(v));
}

static int simple(const char *cmd, struct json_object *args,
		  void (*print)(struct json_object *))
{
	struct json_object *d = request(cmd, args);

	if (!d)
		return 1;
	if (json_out)
		print_json(d);
	else
		print(d);
	json_object_put(d);
	return 0;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/*
 * drain --wait's progress, at most once per WAIT_SAY_MS: on stdout, or
 * on stderr with --json (stdout is the JSON's); on a terminal one line
 * rewritten in place, else a line each time (a log or a CI job keeps
 * every one).
 */
struct progress {
	FILE *f;
	bool tty;
	bool open; /* a line on the terminal not ended yet */
	long long said_ms;
};

static void progress_init(struct progress *p)
{
	p->f = json_out ? stderr : stdout;
	p->tty = isatty(fileno(p->f));
	p->open = false;
	p->said_ms = -WAIT_SAY_MS;
}

__attribute__((format(printf, 2, 3))) static void
progress_say(struct progress *p, const char *fmt, ...)
{
	long long now = now_ms();
	va_list ap;

	if (now - p->said_ms < WAIT_SAY_MS)
		return;
	p->said_ms = now;
	/* \r and "erase to the end of the line" redraw the one line */
	fputs(p->tty ? "\r\033[K" : "", p->f);
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
	fputs(p->tty ? "" : "\n", p->f);
	p->open = p->tty;
	fflush(p->f);
}

static void progress_end(struct progress *p)
{
	if (p->open) {
		fputc('\n', p->f);
		fflush(p->f);
	}
	p->open = false;
}

/* "(timeout 60 s)" when there is one, for the progress lines */
static const char *timeout_text(double timeout_s, char *buf, size_t len)
{
	if (timeout_s > 0)
		snprintf(buf, len, " (timeout %.0f s)", timeout_s);
	else
		buf[0] = '\0';
	return buf;
}

/* drain --wait: until no live conntrack entry names the backend. */
static int wait_flows_gone(struct json_object *args, long long start,
			   double timeout_s, struct progress *pr)
{
	struct json_object *q = json_object_new_object(), *v, *d;
	long long left;
	struct timespec pause = { 0, WAIT_POLL_MS * 1000000L };
	char tt[32];

	json_object_object_foreach(args, k, val)
		json_object_object_add(q, k, json_object_get(val));
	json_object_object_add(q, "limit", json_object_new_int(0));
	for (;;) {
		d = request("conntrack", q);
		if (!d) {
			json_object_put(q);
			return 1;
		}
		left = json_object_object_get_ex(d, "matched", &v) ?
			       json_object_get_int64(v) :
			       0;
		json_object_put(d);
		if (!left)
			break;
		if (timeout_s > 0 && now_ms() - start > timeout_s * 1000) {
			progress_end(pr);
			fprintf(stderr,
				"lbctl: drain: timed out: %lld flows still on "
				"the backend after %.0f s\n",
				left, timeout_s);
			json_object_put(q);
			return 1;
		}
		progress_say(pr,
			     "%lld flows left on the backend after %.0f s%s",
			     left, (now_ms() - start) / 1000.0,
			     timeout_text(timeout_s, tt, sizeof(tt)));
		nanosleep(&pause, NULL);
	}
	json_object_put(q);
	progress_end(pr);
	if (!json_out)
		printf("no flows left on the backend (%.1f s)\n",
		       (now_ms() - start) / 1000.0);
	return 0;
}

/* How often drain --wait reads a backend's report, and how long one
 * read may take. */
#define REPORT_POLL_MS 1000
#define REPORT_TIMEOUT_S 2

struct report_body {
	char *buf;
	size_t len;
};

static size_t report_write(char *p, size_t size, size_t n, void *arg)
{
	struct report_body *b = arg;
	size_t add = size * n;
	char *q;

	/* a metrics page is small: a bound keeps a wrong URL harmless */
	if (b->len + add > (1u << 24))
		return 0;
	q = realloc(b->buf, b->len + add + 1);
	if (!q)
		return 0;
	memcpy(q + b->len, p, add);
	b->len += add;
	q[b->len] = 0;
	b->buf = q;
	return add;
}

/*
 * The connections a backend reports (lbd_backend_connections, lbd in the
 * backend role) for its local address and port: >= 0, or -1 with why
 * in err when the report cannot be read or has no such family.
 */
static long long report_read(CURL *c, const char *url, const char *addr,
			     long long port, char *err, size_t errlen)
{
	struct report_body b = { 0 };
	char want[128], *line, *save;
	long long n = 0;
	long code = 0;
	CURLcode r;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)REPORT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, report_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	r = curl_easy_perform(c);
	if (r == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (r != CURLE_OK || code != 200 || !b.buf) {
		snprintf(err, errlen, "%s: %s", url,
			 r != CURLE_OK ? curl_easy_strerror(r) :
			 code != 200   ? "not HTTP 200" :
					 "empty");
		free(b.buf);
		return -1;
	}
	if (!strstr(b.buf, "# TYPE lbd_backend_connections gauge")) {
		snprintf(err, errlen,
			 "%s has no lbd_backend_connections (lbd in the "
			 "backend role reports it)",
			 url);
		free(b.buf);
		return -1;
	}
	/* metrics.c writes the labels in this order */
	snprintf(want, sizeof(want),
		 "lbd_backend_connections{vip=\"%s\",port=\"%lld\"} ", addr,
		 port);
	for (line = strtok_r(b.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, want, strlen(want)))
			n += atoll(line + strlen(want));
	free(b.buf);
	return n;
}

/*
 * drain --wait for services whose TCP flow state lives on the backends
 * (no conntrack entry to wait for on the LB host): until every drained
 * backend reports no connection of the service, reading each once a
 * second. start and timeout_s as the whole wait's.
 */
static int wait_reports(struct json_object *reports, long long start,
			double timeout_s, struct progress *pr)
{
	struct timespec pause = { 0, REPORT_POLL_MS * 1000000L };
	size_t i, n = json_object_array_length(reports);
	CURL *c = curl_easy_init();
	char err[512], tt[32], say[1024];

	if (!c) {
		fprintf(stderr, "lbctl: drain: no HTTP client\n");
		return 1;
	}
	for (;;) {
		long long total = 0;
		bool unknown = false;
		size_t at = 0;

		say[0] = '\0';
		for (i = 0; i < n; i++) {
			struct json_object *r =
				json_object_array_get_idx(reports, i);
			long long left = report_read(c, s_of(r, "url"),
						     s_of(r, "local_address"),
						     i_of(r, "local_port"), err,
						     sizeof(err));

			if (left < 0) {
				progress_end(pr);
				fprintf(stderr, "lbctl: drain: %s\n", err);
				unknown = true;
				continue;
			}
			total += left;
			if (left && at < sizeof(say))
				at += snprintf(say + at, sizeof(say) - at,
					       "%s%lld connections left on %s "
					       "(reported by the backend)",
					       at ? "; " : "", left,
					       s_of(r, "address"));
		}
		if (!total && !unknown)
			break;
		if (timeout_s > 0 && now_ms() - start > timeout_s * 1000) {
			progress_end(pr);
			fprintf(stderr,
				"lbctl: drain: timed out: %s after %.0f s\n",
				unknown ? "backends' reports not all read" :
					  "connections still on the backend",
				timeout_s);
			curl_easy_cleanup(c);
			return 1;
		}
		if (total)
			progress_say(pr, "%s after %.0f s%s", say,
				     (now_ms() - start) / 1000.0,
				     timeout_text(timeout_s, tt, sizeof(tt)));
		nanosleep(&pause, NULL);
	}
	curl_easy_cleanup(c);
	progress_end(pr);
	if (!json_out)
		printf("no connections left on the backend (%.1f s, reported "
		       "by the backend)\n",
		       (now_ms() - start) / 1000.0);
	return 0;
}

static int cmd_drain(int argc, char **argv, bool undo)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 'S' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		GLOBAL_LONG
	};
	struct json_object *args = json_object_new_object(), *d, *l;
	struct json_object *reports = NULL;
	bool wait = false;
	double timeout = 0;
	size_t i;
	int c, r = 0;
	char *end;

	optind = 0;
	while ((c = getopt_long(argc, argv, "S:wt:" GLOBAL_SHORT, opts,
				NULL)) != -1) {
		switch (c) {
		case 'S':
			add_str(args, "service", optarg);
			break;
		case 'w':
			wait = !undo;
			break;
		case 't':
			timeout = strtod(optarg, &end);
			if (end == optarg || *end || !(timeout > 0) ||
			    timeout > 1e9) {
				fprintf(stderr,
					"lbctl: drain: --timeout %s: not a "
					"number of seconds above 0\n",
					optarg);
				json_object_put(args);
				return 2;
			}
			break;
		default:
			if (global_opt(c, optarg))
				break;
			json_object_put(args);
			return 2;
		}
	}
	if (timeout > 0 && !wait && !undo) {
		fprintf(stderr, "lbctl: drain: --timeout is --wait's\n");
		json_object_put(args);
		return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s BACKEND [--service S]%s\n", argv[0],
			undo ? "" : " [--wait [--timeout SEC]]");
		json_object_put(args);
		return 2;
	}
	add_str(args, "backend", argv[optind]);
	d = request(undo ? "undrain" : "drain", args);
	if (!d) {
		json_object_put(args);
		return 1;
	}
	if (json_out) {
		print_json(d);
	} else {
		l = get(d, "backends");
		for (i = 0; l && i < json_object_array_length(l); i++)
			printf("%s %s\n", undo ? "undrained" : "drained",
			       json_object_get_string(
				       json_object_array_get_idx(l, i)));
	}
	if (get(d, "warning"))
		fprintf(stderr, "lbctl: %s\n", s_of(d, "warning"));
	if (wait) {
		long long start = now_ms();
		struct progress pr;

		fflush(stdout);
		progress_init(&pr);
		/* flow_state = "lb" (and UDP): conntrack on this host;
		 * "backends": each drained backend's own report */
		reports = get(d, "reports");
		r = wait_flows_gone(args, start, timeout, &pr);
		if (!r && reports && json_object_array_length(reports))
			r = wait_reports(reports, start, timeout, &pr);
	}
	json_object_put(d);
	json_object_put(args);
	return r;
}

static int cmd_conntrack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'C' },
		{ "vip", required_argument, NULL, 'V' },
		{ "backend", required_argument, NULL, 'B' },
		{ "service", required_argument, NULL, 'S' },
		{ "proto", required_argument, NULL, 'P' },
		{ "all", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'n' },
		GLOBAL_LONG
	};
	struct json_object *args = json_object_new_object(), *d;
	bool flush = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "C:V:B:S:P:an:" GLOBAL_SHORT, opts,
				NULL)) != -1) {
		switch (c) {
		case 'C':
			add_str(args, "client", optarg);
			break;
		case 'V':
			add_str(args, "vip", optarg);
			break;
		case 'B':
			add_str(args, "backend", optarg);
			break;
		case 'S':
			add_str(args, "service", optarg);
			break;
		case 'P':
			add_str(args, "proto", optarg);
			break;
		case 'a':
			json_object_object_add(args, "all",
					       json_object_new_boolean(1));
			break;
		case 'n':
			json_object_object_add(
				args, "limit",
				json_object_new_int(atoi(optarg)));
			break;
		default:
			if (global_opt(c, optarg))
				break;
			json_object_put(args);
			return 2;
		}
	}
	/* "flush" is the one word after conntrack: getopt has moved the
	 * options out of its way */
	if (optind < argc && !strcmp(argv[optind], "flush")) {
		flush = true;
		optind++;
	}
	if (optind != argc) {
		fprintf(stderr, "lbctl: conntrack: unexpected \"%s\"\n",
			argv[optind]);
		json_object_put(args);
		return 2;
	}
	if (!flush) {
		r = simple("conntrack", args, print_conntrack);
		json_object_put(args);
		return r;
	}
	d = request("conntrack_flush", args);
	json_object_put(args);
	if (!d)
		return 1;
	if (json_out)
		print_json(d);
	else
		printf("%lld conntrack entries flushed\n", i_of(d, "flushed"));
	json_object_put(d);
	return 0;
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "drops", no_argument, NULL, 'd' },
		{ "flows", no_argument, NULL, 'f' },
		{ "health", no_argument, NULL, 'H' },
		{ "service", required_argument, NULL, 'S' },
		{ "count", required_argument, NULL, 'n' },
		GLOBAL_LONG
	};
	struct json_object *args = json_object_new_object(), *d, *m, *x;
	long count = 0, seen = 0;
	int c, e;

	optind = 0;
	while ((c = getopt_long(argc, argv, "dfHS:n:" GLOBAL_SHORT, opts,
				NULL)) != -1) {
		switch (c) {
		case 'd':
			json_object_object_add(args, "drops",
					       json_object_new_boolean(1));
			break;
		case 'f':
			json_object_object_add(args, "flows",
					       json_object_new_boolean(1));
			break;
		case 'H':
			json_object_object_add(args, "health",
					       json_object_new_boolean(1));
			break;
		case 'S':
			add_str(args, "service", optarg);
			break;
		case 'n':
			count = atol(optarg);
			break;
		default:
			if (global_opt(c, optarg))
				break;
			json_object_put(args);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "lbctl: monitor: unexpected \"%s\"\n",
			argv[optind]);
		json_object_put(args);
		return 2;
	}
	d = request("monitor", args);
	json_object_put(args);
	if (!d)
		return 1;
	fprintf(stderr, "lbctl: monitoring%s%s%s%s%s\n",
		b_of(d, "drops") ? " drops" : "",
		b_of(d, "flows") ? " new-flows" : "",
		b_of(d, "health") ? " backend-changes" : "",
		get(d, "service") ? " of service " : "",
		get(d, "service") ? s_of(d, "service") : "");
	json_object_put(d);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!count || seen < count) {
		e = ipc_reader_next(reader, &m);
		if (e) {
			fprintf(stderr, "lbctl: monitor: %s\n",
				e == -ECONNRESET ? "lbd went away" :
						   strerror(-e));
			return 1;
		}
		if (json_object_object_get_ex(m, "event", &x)) {
			if (json_out)
				printf("%s\n",
				       json_object_to_json_string_ext(
					       x,
					       JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
			else
				print_event(x);
			seen++;
		} else if (json_object_object_get_ex(m, "lost", &x)) {
			if (json_out)
				printf("{\"lost\":%lld}\n",
				       (long long)json_object_get_int64(x));
			else
				printf("... %lld events lost (too many to "
				       "keep up with)\n",
				       (long long)json_object_get_int64(x));
		}
		json_object_put(m);
	}
	return 0;
}

/* -- list: services and their backends, as ipvsadm -Ln ---------------- */

/* One reading of lbd's counters: the services and the backends answers,
 * indexed by service name. */
struct list_sample {
	struct json_object *svcs, *bes;
	struct json_object *svc_by_name; /* name: the service */
	struct json_object *be_by_svc; /* name: array of its backends */
	long long svc_ms, be_ms; /* when each answer came */
};

static void sample_free(struct list_sample *s)
{
	json_object_put(s->svc_by_name);
	json_object_put(s->be_by_svc);
	json_object_put(s->svcs);
	json_object_put(s->bes);
	memset(s, 0, sizeof(*s));
}

static int sample_take(struct list_sample *s)
{
	struct json_object *l, *arr;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->svcs = request("services", NULL);
	s->svc_ms = now_ms();
	/* the node role has no backends answer: its endpoints are in the
	 * services one (node_list_build) */
	if (s->svcs && !strcmp(s_of(s->svcs, "role"), "node"))
		return 0;
	s->bes = s->svcs ? request("backends", NULL) : NULL;
	s->be_ms = now_ms();
	if (!s->svcs || !s->bes) {
		sample_free(s);
		return -1;
	}
	s->svc_by_name = json_object_new_object();
	s->be_by_svc = json_object_new_object();
	l = get(s->svcs, "services");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *o = json_object_array_get_idx(l, i);

		json_object_object_add(s->svc_by_name, s_of(o, "name"),
				       json_object_get(o));
	}
	l = get(s->bes, "backends");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *b = json_object_array_get_idx(l, i);
		const char *name = s_of(b, "service");

		if (!json_object_object_get_ex(s->be_by_svc, name, &arr)) {
			arr = json_object_new_array();
			json_object_object_add(s->be_by_svc, name, arr);
		}
		json_object_array_add(arr, json_object_get(b));
	}
	return 0;
}

/*
 * The rates of o's traffic since prev's over dt seconds. A counter that
 * went back (a backend that got another slot, a service made anew) has
 * no rate to give: 0.
 */
static struct json_object *rate_json(struct json_object *o,
				     struct json_object *prev, double dt)
{
	static const char *const k[] = { "packets", "bytes", "new_flows" };
	struct json_object *r = json_object_new_object();
	char path[32], name[32];
	size_t i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		long long d;

		snprintf(path, sizeof(path), "traffic.%s", k[i]);
		snprintf(name, sizeof(name), "%s_per_s", k[i]);
		d = prev ? i_of(o, path) - i_of(prev, path) : 0;
		json_object_object_add(
			r, name,
			json_object_new_double(d > 0 && dt > 0 ? d / dt : 0));
	}
	return r;
}

static struct json_object *be_named(struct json_object *arr, const char *be)
{
	size_t i;

	for (i = 0; arr && i < json_object_array_length(arr); i++)
		if (!strcmp(s_of(json_object_array_get_idx(arr, i), "backend"),
			    be))
			return json_object_array_get_idx(arr, i);
	return NULL;
}

/*
 * list's JSON: each service of cur with its backends (an array in place
 * of the services answer's count), their active flows summed, and with
 * prev the rates since it.
 */
static struct json_object *list_build(struct list_sample *cur,
				      struct list_sample *prev)
{
	struct json_object *out = json_object_new_object();
	struct json_object *list = json_object_new_array(), *l, *arr, *parr;
	double dt_s = prev ? (cur->svc_ms - prev->svc_ms) / 1000.0 : 0;
	double dt_b = prev ? (cur->be_ms - prev->be_ms) / 1000.0 : 0;
	size_t i, j;

	l = get(cur->svcs, "services");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *o = json_object_array_get_idx(l, i), *p;
		const char *name = s_of(o, "name");
		long long active = 0;

		if (!json_object_object_get_ex(cur->be_by_svc, name, &arr))
			arr = NULL;
		if (!prev ||
		    !json_object_object_get_ex(prev->be_by_svc, name, &parr))
			parr = NULL;
		for (j = 0; arr && j < json_object_array_length(arr); j++) {
			struct json_object *b =
				json_object_array_get_idx(arr, j);

			active += i_of(b, "active_flows");
			if (prev)
				json_object_object_add(
					b, "rate",
					rate_json(b,
						  be_named(parr,
							   s_of(b, "backend")),
						  dt_b));
		}
		json_object_object_add(o, "backends",
				       arr ? json_object_get(arr) :
					     json_object_new_array());
		json_object_object_add(o, "active_flows",
				       json_object_new_int64(active));
		if (prev) {
			/* the same name for another VIP is another service */
			if (!json_object_object_get_ex(prev->svc_by_name, name,
						       &p) ||
			    strcmp(s_of(p, "vip"), s_of(o, "vip")) ||
			    i_of(p, "port") != i_of(o, "port") ||
			    strcmp(s_of(p, "protocol"), s_of(o, "protocol")))
				p = NULL;
			json_object_object_add(o, "rate",
					       rate_json(o, p, dt_s));
		}
		json_object_array_add(list, json_object_get(o));
	}
	json_object_object_add(out, "services", list);
	if (prev)
		json_object_object_add(out, "interval_s",
				       json_object_new_double(dt_s));
	return out;
}

static void cell(struct libscols_line *ln, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cell(struct libscols_line *ln, size_t col, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	scols_line_set_data(ln, col, buf);
}

enum {
	LCOL_ADDRESS,
	LCOL_NAME,
	LCOL_FWD,
	LCOL_TABLE,
	LCOL_WEIGHT,
	LCOL_STATE,
	LCOL_HEALTH,
	LCOL_ACTIVE,
	LCOL_PKTS,
	LCOL_BYTES,
	LCOL_NEW,
};

static void rate_cells(struct libscols_line *ln, struct json_object *o)
{
	cell(ln, LCOL_PKTS, "%.0f", d_of(o, "rate.packets_per_s"));
	cell(ln, LCOL_BYTES, "%.0f", d_of(o, "rate.bytes_per_s"));
	cell(ln, LCOL_NEW, "%.0f", d_of(o, "rate.new_flows_per_s"));
}

/*
 * The nested table: a line per service (VIP:PORT/PROTO, name,
 * forwarding, Maglev table size, its backends' active flows), and under
 * it a line per backend (its share of the table, weight, state, health,
 * active flows); with rates, packets, bytes and new flows per second on
 * both. Cells hold no spaces, so the table splits into words.
 */
static void print_list(struct json_object *d, bool rate)
{
	static const struct {
		const char *name;
		int flags;
	} cols[] = {
		[LCOL_ADDRESS] = { "ADDRESS", SCOLS_FL_TREE },
		[LCOL_NAME] = { "NAME", 0 },
		[LCOL_FWD] = { "FWD", 0 },
		[LCOL_TABLE] = { "TABLE", SCOLS_FL_RIGHT },
		[LCOL_WEIGHT] = { "WEIGHT", SCOLS_FL_RIGHT },
		[LCOL_STATE] = { "STATE", 0 },
		[LCOL_HEALTH] = { "HEALTH", 0 },
		[LCOL_ACTIVE] = { "ACTIVE", SCOLS_FL_RIGHT },
		[LCOL_PKTS] = { "PKT/S", SCOLS_FL_RIGHT },
		[LCOL_BYTES] = { "BYTES/S", SCOLS_FL_RIGHT },
		[LCOL_NEW] = { "NEW/S", SCOLS_FL_RIGHT },
	};
	struct libscols_table *tb = scols_new_table();
	struct json_object *l = get(d, "services"), *bl;
	size_t i, j, n = rate ? LCOL_NEW + 1 : LCOL_ACTIVE + 1;
	char buf[96];

	if (!tb) {
		fprintf(stderr, "lbctl: out of memory\n");
		return;
	}
	for (i = 0; i < n; i++)
		scols_table_new_column(tb, cols[i].name, 0, cols[i].flags);
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *s = json_object_array_get_idx(l, i);
		struct libscols_line *sl = scols_table_new_line(tb, NULL);

		if (!sl)
			break;
		cell(sl, LCOL_ADDRESS, "%s/%s",
		     hostport(s_of(s, "vip"), i_of(s, "port"), buf,
			      sizeof(buf)),
		     s_of(s, "protocol"));
		cell(sl, LCOL_NAME, "%s", s_of(s, "name"));
		cell(sl, LCOL_FWD, "%s", s_of(s, "forwarding"));
		cell(sl, LCOL_TABLE, "%lld", i_of(s, "table_size"));
		cell(sl, LCOL_ACTIVE, "%lld", i_of(s, "active_flows"));
		if (rate)
			rate_cells(sl, s);
		bl = get(s, "backends");
		for (j = 0; bl && j < json_object_array_length(bl); j++) {
			struct json_object *b =
				json_object_array_get_idx(bl, j);
			struct libscols_line *ln = scols_table_new_line(tb, sl);

			if (!ln)
				break;
			cell(ln, LCOL_ADDRESS, "%s", s_of(b, "backend"));
			cell(ln, LCOL_TABLE, "%.1f%%", 100 * d_of(b, "share"));
			cell(ln, LCOL_WEIGHT, "%lld", i_of(b, "weight"));
			/* * marks a drain by lbctl, as backends does */
			cell(ln, LCOL_STATE, "%s%s", s_of(b, "state"),
			     b_of(b, "drained") ? "*" : "");
			cell(ln, LCOL_HEALTH, "%s", s_of(b, "health"));
			cell(ln, LCOL_ACTIVE, "%lld", i_of(b, "active_flows"));
			if (rate)
				rate_cells(ln, b);
		}
	}
	scols_print_table(tb);
	scols_unref_table(tb);
}

/* An endpoint's conditions in a word, as lbctl services has them. */
static const char *node_ep_state(struct json_object *e)
{
	if (b_of(e, "ready"))
		return "ready";
	if (b_of(e, "serving") && b_of(e, "terminating"))
		return "terminating";
	return b_of(e, "terminating") ? "terminating,not-serving" : "not-ready";
}

/*
 * list in the node role: a line per Service address (ClusterIP, external
 * and LoadBalancer IPs, the node's addresses with the NodePort), its
 * Service port, kind and traffic policy, and under it its endpoints with
 * weight and conditions, "local" for those on this node. From the
 * services answer; the socket programs count no traffic per Service.
 */
static struct json_object *node_list_build(struct list_sample *cur)
{
	struct json_object *out = json_object_new_object();
	struct json_object *list = json_object_new_array();
	struct json_object *l = get(cur->svcs, "services");
	size_t i, j;

	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *s = json_object_array_get_idx(l, i);
		struct json_object *al = get(s, "addresses");

		for (j = 0; al && j < json_object_array_length(al); j++) {
			struct json_object *a =
				json_object_array_get_idx(al, j);
			struct json_object *o = json_object_new_object();

			json_object_object_add(
				o, "address",
				json_object_new_string(s_of(a, "address")));
			json_object_object_add(
				o, "protocol",
				json_object_new_string(s_of(s, "protocol")));
			json_object_object_add(
				o, "kind",
				json_object_new_string(s_of(a, "kind")));
			json_object_object_add(
				o, "service",
				json_object_new_string(s_of(s, "service")));
			json_object_object_add(
				o, "port_name",
				json_object_new_string(s_of(s, "port_name")));
			json_object_object_add(o, "traffic_policy",
					       json_object_new_string(s_of(
						       s, "traffic_policy")));
			json_object_object_add(
				o, "affinity",
				json_object_new_string(s_of(s, "affinity")));
			/* external addresses only: the NIC path's */
			if (get(s, "forwarding"))
				json_object_object_add(
					o, "forwarding",
					json_object_new_string(
						s_of(s, "forwarding")));
			json_object_object_add(
				o, "applied",
				json_object_new_boolean(b_of(s, "applied")));
			json_object_object_add(
				o, "endpoints",
				get(s, "endpoints") ?
					json_object_get(get(s, "endpoints")) :
					json_object_new_array());
			json_object_array_add(list, o);
		}
	}
	json_object_object_add(out, "services", list);
	json_object_object_add(out, "role", json_object_new_string("node"));
	return out;
}

enum {
	NCOL_ADDRESS,
	NCOL_SERVICE,
	NCOL_KIND,
	NCOL_POLICY,
	NCOL_WEIGHT,
	NCOL_STATE,
	NCOL_LOCAL,
};

static void print_node_list(struct json_object *d)
{
	static const struct {
		const char *name;
		int flags;
	} cols[] = {
		[NCOL_ADDRESS] = { "ADDRESS", SCOLS_FL_TREE },
		[NCOL_SERVICE] = { "SERVICE", 0 },
		[NCOL_KIND] = { "KIND", 0 },
		[NCOL_POLICY] = { "POLICY", 0 },
		[NCOL_WEIGHT] = { "WEIGHT", SCOLS_FL_RIGHT },
		[NCOL_STATE] = { "STATE", 0 },
		[NCOL_LOCAL] = { "LOCAL", 0 },
	};
	struct libscols_table *tb = scols_new_table();
	struct json_object *l = get(d, "services"), *el;
	size_t i, j;

	if (!tb) {
		fprintf(stderr, "lbctl: out of memory\n");
		return;
	}
	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		scols_table_new_column(tb, cols[i].name, 0, cols[i].flags);
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *s = json_object_array_get_idx(l, i);
		struct libscols_line *sl = scols_table_new_line(tb, NULL);

		if (!sl)
			break;
		cell(sl, NCOL_ADDRESS, "%s/%s", s_of(s, "address"),
		     s_of(s, "protocol"));
		cell(sl, NCOL_SERVICE, "%s:%s%s", s_of(s, "service"),
		     s_of(s, "port_name"),
		     b_of(s, "applied") ? "" : "(unapplied)");
		cell(sl, NCOL_KIND, "%s", s_of(s, "kind"));
		/* ClientIP affinity shows with the policy: both say which
		 * endpoint a client may get */
		/* and Geneve (DSR) from the NIC path: the other nodes'
		 * endpoints see the client */
		cell(sl, NCOL_POLICY, "%s%s%s", s_of(s, "traffic_policy"),
		     !strcmp(s_of(s, "affinity"), "ClientIP") ? ",ClientIP" :
								"",
		     !strcmp(s_of(s, "forwarding"), "geneve") ? ",geneve" : "");
		el = get(s, "endpoints");
		for (j = 0; el && j < json_object_array_length(el); j++) {
			struct json_object *e =
				json_object_array_get_idx(el, j);
			struct libscols_line *ln = scols_table_new_line(tb, sl);

			if (!ln)
				break;
			cell(ln, NCOL_ADDRESS, "%s", s_of(e, "endpoint"));
			cell(ln, NCOL_WEIGHT, "%lld", i_of(e, "weight"));
			cell(ln, NCOL_STATE, "%s", node_ep_state(e));
			cell(ln, NCOL_LOCAL, "%s",
			     b_of(e, "local") ? "local" : "");
		}
	}
	scols_print_table(tb);
	scols_unref_table(tb);
}

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Sleeps s seconds, less when SIGINT comes. */
static void pause_s(double s)
{
	struct timespec t = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&t, &t) < 0 && errno == EINTR && !stopping)
		;
}

/* --interval and --watch: seconds, above 0 */
static int seconds_arg(const char *opt, const char *arg, double *out)
{
	char *end;

	*out = strtod(arg, &end);
	if (end == arg || *end || !(*out >= 0.1) || *out > 86400) {
		fprintf(stderr,
			"lbctl: list: %s %s: not a number of seconds from 0.1 "
			"to 86400\n",
			opt, arg);
		return -1;
	}
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	enum { O_RATE = 0x200, O_INTERVAL, O_WATCH };
	static const struct option opts[] = {
		{ "rate", no_argument, NULL, O_RATE },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "watch", required_argument, NULL, O_WATCH },
		GLOBAL_LONG
	};
	struct list_sample prev = { 0 }, cur;
	double interval = 1, watch = 0;
	bool rate = false, have_prev = false, tty = isatty(STDOUT_FILENO);
	bool node;
	struct sigaction sa = { .sa_handler = on_stop };
	int c, r = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, GLOBAL_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case O_RATE:
			rate = true;
			break;
		case O_INTERVAL:
			if (seconds_arg("--interval", optarg, &interval))
				return 2;
			break;
		case O_WATCH:
			if (seconds_arg("--watch", optarg, &watch))
				return 2;
			break;
		default:
			if (global_opt(c, optarg))
				break;
			return 2;
		}
	}
	/* "lbctl --rate list": the options came before the command's name */
	if (optind < argc && !strcmp(argv[optind], "list"))
		optind++;
	if (optind != argc) {
		fprintf(stderr, "lbctl: list: unexpected \"%s\"\n",
			argv[optind]);
		return 2;
	}
	if (watch) {
		/* no SA_RESTART: a pause ends at once, the frame shown
		 * stays the last */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (rate) {
		if (sample_take(&prev))
			return 1;
		have_prev = true;
		if (!prev.bes) {
			fprintf(stderr,
				"lbctl: list: --rate: the node role counts no "
				"traffic per Service (its programs change "
				"connect(), they see no packet); lbctl stats "
				"has their counters\n");
			sample_free(&prev);
			return 2;
		}
		pause_s(interval);
	}
	while (!stopping) {
		struct json_object *d;
		char t[32];
		time_t now = time(NULL);

		if (sample_take(&cur)) {
			r = 1;
			break;
		}
		node = !cur.bes;
		d = node ? node_list_build(&cur) :
			   list_build(&cur, rate && have_prev ? &prev : NULL);
		if (watch && json_out) {
			printf("%s\n",
			       json_object_to_json_string_ext(
				       d,
				       JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
		} else if (json_out) {
			print_json(d);
		} else {
			if (watch) {
				strftime(t, sizeof(t), "%H:%M:%S",
					 localtime(&now));
				/* as watch(1): home, clear, a title */
				printf("%sEvery %gs: lbctl list%s  %s\n\n",
				       tty ? "\033[H\033[2J" : "", watch,
				       rate ? " --rate" : "", t);
			}
			fflush(stdout);
			if (node)
				print_node_list(d);
			else
				print_list(d, rate);
			if (watch && !tty)
				printf("\n");
		}
		fflush(stdout);
		json_object_put(d);
		if (have_prev)
			sample_free(&prev);
		prev = cur;
		have_prev = true;
		if (!watch)
			break;
		pause_s(watch);
	}
	if (have_prev)
		sample_free(&prev);
	return r;
}

/* The control socket of an lbd config file. */
static int socket_of_config(const char *file, char *out, size_t len)
{
	struct config_diag diag;
	struct lbd_config *c;
	size_t i;

	if (config_load(file, &c, &diag)) {
		for (i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
		config_diag_free(&diag);
		return -EINVAL;
	}
	config_diag_free(&diag);
	snprintf(out, len, "%s", c->control.socket);
	config_free(c);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	if (args_only(argc, argv, 0, 0, "") < 0)
		return 2;
	return simple("status", NULL, print_status);
}

static int cmd_services(int argc, char **argv)
{
	if (args_only(argc, argv, 0, 0, "") < 0)
		return 2;
	return simple("services", NULL, print_services);
}

static int cmd_backends(int argc, char **argv)
{
	struct json_object *args;
	int at = args_only(argc, argv, 0, 1, " [SERVICE]"), r;

	if (at < 0)
		return 2;
	args = json_object_new_object();
	if (at < argc)
		add_str(args, "service", argv[at]);
	r = simple("backends", args, print_backends);
	json_object_put(args);
	return r;
}

static int cmd_stats(int argc, char **argv)
{
	if (args_only(argc, argv, 0, 0, "") < 0)
		return 2;
	return simple("stats", NULL, print_stats);
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/*
 * --netns ARG into out: a cookie (a number) as it is, or the cookie of
 * the network namespace at the path ARG (a pod's: /proc/PID/ns/net of a
 * process in it, /run/netns/NAME), read from a socket made in it: lbctl
 * (root on the node) enters it for that socket and comes back. lbd does
 * not: its privileged process would have to leave its own namespace,
 * and an address names no namespace safely (pods' addresses may repeat
 * across namespaces, a bridge hides the veth). 0, or -1 said on stderr.
 */
static int netns_cookie_arg(const char *arg, char *out, size_t len)
{
	unsigned long long c = 0;
	socklen_t sl = sizeof(c);
	int self = -1, ns = -1, fd = -1, r = -1;
	char *end;

	errno = 0;
	c = strtoull(arg, &end, 10);
	if (*arg >= '0' && *arg <= '9' && !*end && !errno) {
		snprintf(out, len, "%llu", c);
		return 0;
	}
	if (arg[0] != '/') {
		fprintf(stderr,
			"--netns %s: a namespace's cookie (a number) or its "
			"path (/proc/PID/ns/net, /run/netns/NAME)\n",
			arg);
		return -1;
	}
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		fprintf(stderr, "--netns: lbctl's own namespace: %s\n",
			strerror(errno));
		goto out;
	}
	ns = open(arg, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		fprintf(stderr, "--netns %s: %s\n", arg, strerror(errno));
		goto out;
	}
	/* any socket: its namespace is the one it was made in */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &sl))
		fprintf(stderr, "--netns %s: its cookie: %s\n", arg,
			strerror(errno));
	else
		r = 0;
	if (setns(self, CLONE_NEWNET)) {
		fprintf(stderr, "--netns: back to lbctl's namespace: %s\n",
			strerror(errno));
		exit(1);
	}
	snprintf(out, len, "%llu", c);
out:
	if (fd >= 0)
		close(fd);
	if (ns >= 0)
		close(ns);
	if (self >= 0)
		close(self);
	return r;
}

static int cmd_explain(int argc, char **argv)
{
	enum { O_COOKIE = 0x300, O_NETNS };
	static const struct option opts[] = {
		{ "cookie", required_argument, NULL, O_COOKIE },
		{ "netns", required_argument, NULL, O_NETNS },
		GLOBAL_LONG
	};
	struct json_object *args = json_object_new_object();
	char cookie[24];
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, GLOBAL_SHORT, opts, NULL)) != -1) {
		switch (c) {
		case O_COOKIE:
			add_str(args, "cookie", optarg);
			break;
		case O_NETNS:
			if (netns_cookie_arg(optarg, cookie, sizeof(cookie))) {
				json_object_put(args);
				return 2;
			}
			add_str(args, "netns", cookie);
			break;
		default:
			if (global_opt(c, optarg))
				break;
			json_object_put(args);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr,
			"usage: %s CLIENT[:PORT] VIP:PORT/PROTO "
			"[--cookie COOKIE] [--netns COOKIE|PATH]\n",
			argv[0]);
		json_object_put(args);
		return 2;
	}
	add_str(args, "client", argv[optind]);
	add_str(args, "service", argv[optind + 1]);
	r = simple("explain", args, print_explain);
	json_object_put(args);
	return r;
}

static void print_reload(struct json_object *d)
{
	printf("config generation %lld applied in %.1f ms\n",
	       i_of(d, "generation"), d_of(d, "ms"));
}

static int cmd_reload(int argc, char **argv)
{
	if (args_only(argc, argv, 0, 0, "") < 0)
		return 2;
	return simple("reload", NULL, print_reload);
}

static int cmd_drain_(int argc, char **argv)
{
	return cmd_drain(argc, argv, false);
}

static int cmd_undrain(int argc, char **argv)
{
	return cmd_drain(argc, argv, true);
}

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	/* the first is the command when none is named */
	{ "list", cmd_list },	      { "status", cmd_status },
	{ "services", cmd_services }, { "backends", cmd_backends },
	{ "stats", cmd_stats },	      { "drain", cmd_drain_ },
	{ "undrain", cmd_undrain },   { "conntrack", cmd_conntrack },
	{ "explain", cmd_explain },   { "monitor", cmd_monitor },
	{ "reload", cmd_reload },
};

/*
 * Where the command's name is in argv: after the global options that
 * come first (and their arguments), or argc when an option of another
 * kind comes first or nothing does: then the command is list
 * ("lbctl --rate").
 */
static int command_at(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			return i + 1;
		if (a[0] != '-' || !a[1])
			return i;
		if (!strcmp(a, "-s") || !strcmp(a, "-c") ||
		    !strcmp(a, "--socket") || !strcmp(a, "--config")) {
			i++;
			continue;
		}
		if (!strncmp(a, "-s", 2) || !strncmp(a, "-c", 2) ||
		    !strncmp(a, "--socket=", 9) ||
		    !strncmp(a, "--config=", 9) || !strcmp(a, "-j") ||
		    !strcmp(a, "--json"))
			continue;
		return argc;
	}
	return argc;
}

int main(int argc, char *argv[])
{
	const struct command *cmd = NULL;
	int at = command_at(argc, argv), i, n = 0, r;
	char **sub, name[64];
	size_t k;

	/* the tree's lines in UTF-8 where the terminal has it; numbers
	 * stay in the C locale */
	setlocale(LC_CTYPE, "");
	if (at >= argc) {
		cmd = &commands[0];
	} else {
		for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
			if (!strcmp(argv[at], commands[k].name))
				cmd = &commands[k];
		if (!cmd) {
			fprintf(stderr,
				"lbctl: unknown command '%s' (lbctl --help "
				"lists them)\n",
				argv[at]);
			return 2;
		}
	}
	/* the command sees every option, before its name or after it */
	sub = calloc(argc + 1, sizeof(*sub));
	if (!sub)
		return 1;
	snprintf(name, sizeof(name), "lbctl %s", cmd->name);
	sub[n++] = name;
	for (i = 1; i < argc; i++)
		if (i != at &&
		    !(at < argc && i == at - 1 && !strcmp(argv[i], "--")))
			sub[n++] = argv[i];
	r = cmd->run(n, sub);
	free(sub);
	if (reader)
		ipc_reader_free(reader);
	if (sock_fd >= 0)
		close(sock_fd);
	return r;
}
