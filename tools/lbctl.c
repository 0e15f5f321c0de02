// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbctl: inspect and operate a running lbd through its control socket.
 * Tables for people, --json for scripts. See lbctl(8).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>

#include "config.h"
#include "io.h"
#include "ipc.h"

static int json_out;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbctl [-s SOCKET | -c CONFIG] [--json] COMMAND [ARGS]\n"
		"commands:\n"
		"  status              the daemon, its datapath and config\n"
		"  services            services with their traffic\n"
		"  backends [SERVICE]  backends with state, share and traffic\n"
		"  stats               drop and event counters by reason\n"
		"options:\n"
		"  -s, --socket SOCKET  lbd's control socket\n"
		"  -c, --config FILE    the socket named by this lbd config\n"
		"  -j, --json           JSON output\n"
		"without -s or -c: %s\n",
		LBD_DEFAULT_SOCKET);
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

/* One request, one answer; prints errors itself. */
static struct json_object *request(int fd, const char *cmd,
				   struct json_object *args)
{
	struct json_object *req = json_object_new_object(), *ans = NULL, *ok,
			   *data, *err;
	struct ipc_reader *r;
	int e;

	json_object_object_add(req, "v",
			       json_object_new_int(LBD_CONTROL_VERSION));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args",
			       args ? args : json_object_new_object());
	e = ipc_write_blocking(fd, req);
	json_object_put(req);
	r = ipc_reader_new(fd);
	if (!e && r)
		e = ipc_reader_next(r, &ans);
	ipc_reader_free(r);
	if (e) {
		fprintf(stderr, "lbctl: %s: %s\n", cmd, strerror(-e));
		return NULL;
	}
	if (!json_object_object_get_ex(ans, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		fprintf(stderr, "lbctl: %s: %s\n", cmd,
			json_object_object_get_ex(ans, "error", &err)
				? json_object_get_string(err)
				: "failed");
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

	return v ? json_object_get_string(v) : "-";
}

static long long i_of(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_int64(v) : 0;
}

static void print_status(struct json_object *d)
{
	struct json_object *errs = get(d, "config.last_reload.errors");
	size_t i;

	printf("role          %s\n", s_of(d, "role"));
	printf("uptime        %.0f s\n",
	       json_object_get_double(get(d, "uptime_s")));
	if (!strcmp(s_of(d, "role"), "lb")) {
		printf("datapath      %s on %s, %s, program %lld%s\n",
		       json_object_get_boolean(get(d, "datapath.attached"))
			       ? "attached"
			       : "NOT attached",
		       s_of(d, "datapath.interface"),
		       s_of(d, "datapath.mode"),
		       i_of(d, "datapath.program_id"),
		       json_object_get_boolean(get(d, "datapath.dispatcher"))
			       ? " (libxdp dispatcher)"
			       : "");
		printf("pin path      %s\n", s_of(d, "datapath.pin_path"));
		printf("services      %lld\n", i_of(d, "services"));
		printf("backends      %lld\n", i_of(d, "backends"));
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
	       json_object_get_boolean(get(d, "config.last_reload.ok"))
		       ? "ok"
		       : "FAILED",
	       json_object_get_double(get(d, "config.last_reload.ms")));
	for (i = 0; errs && i < json_object_array_length(errs); i++)
		printf("  %s\n",
		       json_object_get_string(json_object_array_get_idx(errs, i)));
}

static void print_services(struct json_object *d)
{
	struct json_object *l = get(d, "services");
	size_t i;

	printf("%-20s %-28s %-6s %-8s %-9s %12s %14s %10s\n", "NAME",
	       "VIP:PORT", "PROTO", "FWD", "BACKENDS", "PACKETS", "BYTES",
	       "NEW FLOWS");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *s = json_object_array_get_idx(l, i);
		char vip[80], be[32];
		const char *a = s_of(s, "vip");

		snprintf(vip, sizeof(vip), strchr(a, ':') ? "[%s]:%lld"
							   : "%s:%lld",
			 a, i_of(s, "port"));
		snprintf(be, sizeof(be), "%lld/%lld",
			 i_of(s, "active_backends"), i_of(s, "backends"));
		printf("%-20s %-28s %-6s %-8s %-9s %12lld %14lld %10lld\n",
		       s_of(s, "name"), vip, s_of(s, "protocol"),
		       s_of(s, "forwarding"), be, i_of(s, "traffic.packets"),
		       i_of(s, "traffic.bytes"), i_of(s, "traffic.new_flows"));
	}
}

static void print_backends(struct json_object *d)
{
	struct json_object *l = get(d, "backends");
	size_t i;

	printf("%-20s %-30s %6s %-9s %-6s %-9s %7s %12s %10s %8s\n",
	       "SERVICE", "BACKEND", "WEIGHT", "CONFIG", "HEALTH", "STATE",
	       "SHARE", "PACKETS", "NEW FLOWS", "ACTIVE");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *b = json_object_array_get_idx(l, i);
		const char *a = s_of(b, "address");
		char addr[80];

		snprintf(addr, sizeof(addr), strchr(a, ':') ? "[%s]:%lld"
							    : "%s:%lld",
			 a, i_of(b, "port"));
		printf("%-20s %-30s %6lld %-9s %-6s %-9s %6.1f%% %12lld %10lld "
		       "%8lld\n",
		       s_of(b, "service"), addr, i_of(b, "weight"),
		       s_of(b, "config_state"), s_of(b, "health"),
		       s_of(b, "state"),
		       100 * json_object_get_double(get(b, "share")),
		       i_of(b, "traffic.packets"), i_of(b, "traffic.new_flows"),
		       i_of(b, "active_flows"));
	}
}

static void print_stats(struct json_object *d)
{
	struct json_object *l = get(d, "counters");
	size_t i;

	printf("%-24s %14s %16s  %s\n", "REASON", "PACKETS", "BYTES",
	       "WHAT");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *c = json_object_array_get_idx(l, i);

		if (!i_of(c, "packets"))
			continue;
		printf("%-24s %14lld %16lld  %s\n", s_of(c, "reason"),
		       i_of(c, "packets"), i_of(c, "bytes"),
		       s_of(c, "description"));
	}
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

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char sock[108] = LBD_DEFAULT_SOCKET;
	struct json_object *args = NULL, *data;
	const char *cmd;
	int c, fd;

	while ((c = getopt_long(argc, argv, "+s:c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(sock, sizeof(sock), "%s", optarg);
			break;
		case 'c':
			if (socket_of_config(optarg, sock, sizeof(sock)))
				return 1;
			break;
		case 'j':
			json_out = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (!strcmp(cmd, "backends") && optind < argc) {
		args = json_object_new_object();
		json_object_object_add(args, "service",
				       json_object_new_string(argv[optind++]));
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	fd = connect_to(sock);
	if (fd < 0) {
		fprintf(stderr, "lbctl: %s: %s (is lbd running?)\n", sock,
			strerror(-fd));
		return 1;
	}
	data = request(fd, cmd, args);
	close(fd);
	if (!data)
		return 1;
	if (json_out)
		printf("%s\n", json_object_to_json_string_ext(
				       data, JSON_C_TO_STRING_PRETTY));
	else if (!strcmp(cmd, "status"))
		print_status(data);
	else if (!strcmp(cmd, "services"))
		print_services(data);
	else if (!strcmp(cmd, "backends"))
		print_backends(data);
	else if (!strcmp(cmd, "stats"))
		print_stats(data);
	else
		printf("%s\n", json_object_to_json_string_ext(
				       data, JSON_C_TO_STRING_PRETTY));
	json_object_put(data);
	return 0;
}
