// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The io process: the unprivileged half of lbd (see io.h).
 *
 * The control protocol, version 1 (LBD_CONTROL_VERSION), documented for
 * users in lbctl(8). A stream Unix socket; every message is one JSON
 * object on one line (ipc.h). A client sends requests:
 *   {"v":1,"cmd":"NAME","args":{...}}
 * and gets exactly one answer per request, in order:
 *   {"v":1,"ok":true,"data":{...}}  or  {"v":1,"ok":false,"error":"..."}
 * one request at a time. A request of another version ("v" anything but
 * the JSON integer 1: not "1", 1.0 or true) is answered with an error
 * naming the version this lbd speaks; unknown commands and unknown
 * arguments are errors (a typo is never ignored).
 *
 * What a client may cost is bounded: a request line of IO_CLIENT_MAX_LINE,
 * and IO_CLIENT_MAX_OUT of answers it has not read (a client that keeps
 * sending without reading is disconnected); control.max_clients clients
 * at once, and IO_ROOT_EXTRA more for root. A client past the bound gets
 * one error line and is disconnected.
 *
 * "monitor" turns the connection into a stream: after its answer, one
 * line per event, {"v":1,"event":{...}}, and {"v":1,"lost":N} when N
 * events were dropped because the client (or lbd) could not keep up; it
 * ends when the client closes the connection.
 *
 * Access: the socket is root's, mode 0600; with control.group set it is
 * that group's, mode 0660, and the group's members may use the read-only
 * commands. Commands that change the datapath (io_cmd_is_admin) need a
 * root client, whatever the socket's mode (SO_PEERCRED).
 *
 * Towards the privileged process, lbd messages (msg.h) on fd 3: requests
 * LBD_MSG_CTL_REQ, a struct lbd_ctl_req with the checked and normalised
 * arguments (ctlreq.h), answered LBD_MSG_CTL_REPLY, JSON text
 * {"id":N,"ok":...} that lbd made and this process parses; the io process
 * also asks for "metrics" snapshots, which come back as LBD_MSG_METRICS
 * (the binary snapshot, metrics_snap.h; an error is a reply), and sets
 * what the monitor wants with "monitor_set". The privileged process sends, unasked,
 * LBD_MSG_MON_EVENT, {"event":{...}} while a monitor is set and
 * {"lost":N}, and LBD_MSG_CTL_REPLY without an id: {"starting":{"done":
 * N,"total":M}} while its first apply is under way (this process then
 * answers status itself, "state":"starting") and {"started":true}.
 */
#include "io.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "ctlreq.h"
#include "hcserve.h"
#include "httpd.h"
#include "ipc.h"
#include "listen.h"
#include "log.h"
#include "metrics.h"
#include "msgch.h"
#include "proc.h"

/* A monitor client that lets this much pile up in its queue misses
 * events (counted, and told) rather than growing lbd's memory. */
#define IO_MON_BACKLOG (1u << 20)
/* A client's request line, and what it may leave unread before it is
 * disconnected: above the monitor's backlog (whose clients miss events
 * first), and a whole answer is always taken when under it (ipc.h). */
#define IO_CLIENT_MAX_LINE (64u << 10)
#define IO_CLIENT_MAX_OUT (4u << 20)
/* Connections root may have beyond control.max_clients: a group member
 * holding every connection must not lock the operator out. */
#define IO_ROOT_EXTRA 8
/* Descriptors the io process needs besides its clients: stdio, the
 * parent's channel, the listeners, sd-event's, the metrics server's
 * connections (HTTPD_MAX_CONNS) and its thread's. */
#define IO_FDS_OWN 48
/* Out of descriptors (EMFILE, ENFILE) or memory: accepting again at once
 * would spin, the pending connection making the socket readable. */
#define IO_ACCEPT_BACKOFF_US 200000
/* A metrics snapshot asked for and not answered within this is given up
 * (the scrape has had its 503 by then). */
#define IO_METRICS_GIVE_UP_S 10

struct io_client;

/* Checks a request's arguments and writes their normalised form to out;
 * on a problem, fills err and returns -EINVAL. */
typedef int (*args_fn)(struct json_object *in, struct json_object *out,
		       char *err, size_t errlen);

struct io_cmd {
	const char *name;
	bool admin; /* changes the datapath: root clients only */
	args_fn args;
};

struct io {
	sd_event *ev;
	struct msgch *parent;
	unsigned long next_id;
	struct io_client *clients;
	unsigned long n_clients, n_monitors;
	unsigned long max_clients; /* control.max_clients, within the fds */
	sd_event_source *accept_src, *accept_retry;
	unsigned long refused; /* past max_clients, since the last log */
	/* what the privileged process was last told the monitor wants */
	bool mon_drops, mon_flows, mon_state;
	unsigned long mon_lost; /* events monitor clients missed here */
	/* lbd's first apply is under way: status is answered here, from
	 * the progress lbd tells ({"starting":...}, then {"started":true}) */
	bool starting;
	unsigned long start_done, start_total;
	/* metrics */
	struct httpd *httpd;
	unsigned long metrics_pending; /* id of the snapshot request */
	time_t metrics_asked;
	/* role node: the healthCheckNodePorts, from lbd's first table */
	struct hcserve *hc;
};

struct mon_filter {
	bool drops, flows, state;
	char service[LBD_SVC_NAME_MAX];
};

struct io_client {
	struct io *io;
	struct ipc *c;
	uid_t uid;
	unsigned long pending; /* id of the request in flight, 0: none */
	bool monitoring;
	struct mon_filter f;
	unsigned long lost; /* events missed, not told yet */
	struct io_client *next;
};

#define jadd(o, k, v) json_object_object_add(o, k, v)

/* -- arguments --------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t len,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Every argument of in must be one of allowed. */
static int only(struct json_object *in, const char *const *allowed, char *err,
		size_t len)
{
	json_object_object_foreach(in, k, v)
	{
		const char *const *a;

		(void)v;
		for (a = allowed; *a; a++)
			if (!strcmp(*a, k))
				break;
		if (!*a)
			return bad(err, len, "unknown argument \"%.40s\"", k);
	}
	return 0;
}

static int arg_string(struct json_object *in, const char *key, const char **out,
		      char *err, size_t len)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(in, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return bad(err, len, "\"%s\" must be a string", key);
	*out = json_object_get_string(v);
	return 1;
}

static int arg_bool(struct json_object *in, const char *key, bool *out,
		    char *err, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(in, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return bad(err, len, "\"%s\" must be true or false", key);
	*out = json_object_get_boolean(v);
	return 1;
}

/* A service name as the config allows them: printable, no spaces. */
static int arg_name(struct json_object *in, const char *key,
		    struct json_object *out, char *err, size_t len)
{
	const char *s, *p;
	int r = arg_string(in, key, &s, err, len);

	if (r <= 0)
		return r;
	if (!*s || strlen(s) >= LBD_SVC_NAME_MAX)
		return bad(err, len,
			   "\"%s\": a service name is 1 to %d "
			   "characters",
			   key, LBD_SVC_NAME_MAX - 1);
	for (p = s; *p; p++)
		if (*p <= ' ' || *p > '~')
			return bad(err, len, "\"%s\": not a service name", key);
	jadd(out, key, json_object_new_string(s));
	return 1;
}

/*
 * "ADDR", "ADDR:PORT", "[ADDR6]:PORT" or a bare IPv6 address, into
 * {"family":4|6,"address":canonical,"port":N} (port 0: none given).
 */
static int parse_hostport(const char *s, bool need_port, const char *what,
			  struct json_object **out, char *err, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN], *end;
	const char *colon = NULL;
	unsigned char a[16];
	long port = 0;
	size_t hl;
	int fam;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || (rb[1] && rb[1] != ':'))
			return bad(err, len, "%s: bad address \"%.60s\"", what,
				   s);
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return bad(err, len, "%s: bad address", what);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (rb[1])
			colon = rb + 1;
	} else {
		const char *c = strchr(s, ':');

		/* one colon: IPv4 with a port; more: a bare IPv6 address */
		if (c && !strchr(c + 1, ':'))
			colon = c;
		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host))
			return bad(err, len, "%s: bad address", what);
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (inet_pton(AF_INET, host, a) == 1 && *s != '[')
		fam = AF_INET;
	else if (inet_pton(AF_INET6, host, a) == 1)
		fam = AF_INET6;
	else
		return bad(err, len, "%s: \"%.60s\" is not an IP address", what,
			   host);
	if (colon) {
		port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || port < 1 || port > 65535)
			return bad(err, len, "%s: bad port in \"%.60s\"", what,
				   s);
	} else if (need_port) {
		return bad(err, len, "%s: \"%.60s\" needs a port", what, s);
	}
	inet_ntop(fam, a, canon, sizeof(canon));
	*out = json_object_new_object();
	jadd(*out, "family", json_object_new_int(fam == AF_INET ? 4 : 6));
	jadd(*out, "address", json_object_new_string(canon));
	jadd(*out, "port", json_object_new_int((int)port));
	return 0;
}

static int arg_hostport(struct json_object *in, const char *key, bool need_port,
			struct json_object *out, char *err, size_t len)
{
	struct json_object *hp;
	const char *s;
	int r = arg_string(in, key, &s, err, len);

	if (r <= 0)
		return r;
	r = parse_hostport(s, need_port, key, &hp, err, len);
	if (r)
		return r;
	jadd(out, key, hp);
	return 1;
}

static int args_none(struct json_object *in, struct json_object *out, char *err,
		     size_t len)
{
	static const char *const allowed[] = { NULL };

	(void)out;
	return only(in, allowed, err, len);
}

static int args_backends(struct json_object *in, struct json_object *out,
			 char *err, size_t len)
{
	static const char *const allowed[] = { "service", NULL };

	if (only(in, allowed, err, len) ||
	    arg_name(in, "service", out, err, len) < 0)
		return -EINVAL;
	return 0;
}

static int args_drain(struct json_object *in, struct json_object *out,
		      char *err, size_t len)
{
	static const char *const allowed[] = { "backend", "service", NULL };
	int r;

	if (only(in, allowed, err, len))
		return -EINVAL;
	r = arg_hostport(in, "backend", false, out, err, len);
	if (r == 0)
		return bad(err, len,
			   "which backend? (\"backend\": "
			   "\"ADDR[:PORT]\")");
	if (r < 0 || arg_name(in, "service", out, err, len) < 0)
		return -EINVAL;
	return 0;
}

static int conntrack_filters(struct json_object *in, struct json_object *out,
			     char *err, size_t len)
{
	const char *proto;

	if (arg_hostport(in, "client", false, out, err, len) < 0 ||
	    arg_hostport(in, "vip", false, out, err, len) < 0 ||
	    arg_hostport(in, "backend", false, out, err, len) < 0 ||
	    arg_name(in, "service", out, err, len) < 0 ||
	    arg_string(in, "proto", &proto, err, len) < 0)
		return -EINVAL;
	if (proto) {
		if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return bad(err, len, "proto: tcp or udp");
		jadd(out, "proto", json_object_new_string(proto));
	}
	return 0;
}

static int args_conntrack(struct json_object *in, struct json_object *out,
			  char *err, size_t len)
{
	static const char *const allowed[] = { "client",  "vip",   "backend",
					       "service", "proto", "all",
					       "limit",	  NULL };
	struct json_object *v;
	bool all = false;

	if (only(in, allowed, err, len) ||
	    conntrack_filters(in, out, err, len) ||
	    arg_bool(in, "all", &all, err, len) < 0)
		return -EINVAL;
	jadd(out, "all", json_object_new_boolean(all));
	if (json_object_object_get_ex(in, "limit", &v)) {
		int64_t n = json_object_get_int64(v);

		if (!json_object_is_type(v, json_type_int) || n < 0 ||
		    n > 1000000)
			return bad(err, len, "limit: 0 to 1000000");
		jadd(out, "limit", json_object_new_int64(n));
	}
	return 0;
}

static int args_flush(struct json_object *in, struct json_object *out,
		      char *err, size_t len)
{
	static const char *const allowed[] = { "client",  "vip",   "backend",
					       "service", "proto", NULL };

	if (only(in, allowed, err, len) || conntrack_filters(in, out, err, len))
		return -EINVAL;
	return 0;
}

/* A socket's or a network namespace's cookie: a decimal string (or a
 * JSON integer) from 1 to 2^64 - 1, normalised to the decimal string. */
static int arg_cookie(struct json_object *in, const char *key,
		      struct json_object *out, char *err, size_t len)
{
	struct json_object *v;
	unsigned long long c;
	char buf[24], *end;
	const char *s;

	if (!json_object_object_get_ex(in, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_object_get_int64(v));
		s = buf;
	} else if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
	} else {
		return bad(err, len, "\"%s\" must be a number", key);
	}
	errno = 0;
	c = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *end || errno || !c)
		return bad(err, len,
			   "\"%s\": \"%.30s\" is not a cookie "
			   "(1 to 18446744073709551615)",
			   key, s);
	snprintf(buf, sizeof(buf), "%llu", c);
	jadd(out, key, json_object_new_string(buf));
	return 1;
}

/* explain: "client": "ADDR[:PORT]", "service": "VIP:PORT/PROTO"; in the
 * node role "cookie" and "netns" (lbd's control checks which role
 * needs what). */
static int args_explain(struct json_object *in, struct json_object *out,
			char *err, size_t len)
{
	static const char *const allowed[] = { "client", "service", "cookie",
					       "netns", NULL };
	struct json_object *client = NULL, *vip = NULL, *f1, *f2;
	char spec[128], *slash;
	const char *s;
	int r;

	if (only(in, allowed, err, len))
		return -EINVAL;
	if (arg_cookie(in, "cookie", out, err, len) < 0 ||
	    arg_cookie(in, "netns", out, err, len) < 0)
		return -EINVAL;
	r = arg_string(in, "client", &s, err, len);
	if (r == 0)
		return bad(err, len, "\"client\": CLIENT:PORT is needed");
	/* the port: the lb role's hash needs it, the node role's not */
	if (r < 0 || parse_hostport(s, false, "client", &client, err, len))
		return -EINVAL;
	r = arg_string(in, "service", &s, err, len);
	if (r <= 0 || strlen(s) >= sizeof(spec)) {
		json_object_put(client);
		return r < 0 ? r :
			       bad(err, len,
				   "\"service\": VIP:PORT/PROTO "
				   "is needed");
	}
	strcpy(spec, s);
	slash = strrchr(spec, '/');
	if (!slash || (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp"))) {
		json_object_put(client);
		return bad(err, len,
			   "service: \"%.60s\" is not "
			   "VIP:PORT/tcp or VIP:PORT/udp",
			   s);
	}
	*slash = '\0';
	if (parse_hostport(spec, true, "service", &vip, err, len)) {
		json_object_put(client);
		return -EINVAL;
	}
	json_object_object_get_ex(client, "family", &f1);
	json_object_object_get_ex(vip, "family", &f2);
	if (json_object_get_int(f1) != json_object_get_int(f2)) {
		json_object_put(client);
		json_object_put(vip);
		return bad(err, len,
			   "client and VIP are of different "
			   "address families");
	}
	jadd(out, "client", client);
	jadd(out, "vip", vip);
	jadd(out, "proto", json_object_new_string(slash + 1));
	return 0;
}

static int args_monitor(struct json_object *in, struct json_object *out,
			char *err, size_t len)
{
	static const char *const allowed[] = { "drops", "flows", "health",
					       "service", NULL };
	bool drops = false, flows = false, health = false;

	if (only(in, allowed, err, len) ||
	    arg_bool(in, "drops", &drops, err, len) < 0 ||
	    arg_bool(in, "flows", &flows, err, len) < 0 ||
	    arg_bool(in, "health", &health, err, len) < 0 ||
	    arg_name(in, "service", out, err, len) < 0)
		return -EINVAL;
	/* none asked for: everything */
	if (!drops && !flows && !health)
		drops = flows = health = true;
	jadd(out, "drops", json_object_new_boolean(drops));
	jadd(out, "flows", json_object_new_boolean(flows));
	jadd(out, "health", json_object_new_boolean(health));
	return 0;
}

static const struct io_cmd io_cmds[] = {
	{ "status", false, args_none },
	{ "services", false, args_none },
	{ "backends", false, args_backends },
	{ "stats", false, args_none },
	{ "conntrack", false, args_conntrack },
	{ "explain", false, args_explain },
	{ "monitor", false, args_monitor },
	{ "drain", true, args_drain },
	{ "undrain", true, args_drain },
	{ "conntrack_flush", true, args_flush },
	{ "reload", true, args_none },
};

static const struct io_cmd *io_cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(io_cmds) / sizeof(io_cmds[0]); i++)
		if (!strcmp(io_cmds[i].name, name))
			return &io_cmds[i];
	return NULL;
}

bool io_cmd_is_admin(const char *cmd)
{
	const struct io_cmd *c = io_cmd_find(cmd);

	return !c || c->admin;
}

int io_req_encode(const char *cmd, struct json_object *args, __u32 id,
		  struct lbd_ctl_req *req, char *err, size_t errlen)
{
	const struct io_cmd *ic = io_cmd_find(cmd);
	struct json_object *norm, *empty = NULL;
	int r;

	if (!ic) {
		snprintf(err, errlen, "unknown command \"%.40s\"", cmd);
		return -EINVAL;
	}
	if (!args)
		args = empty = json_object_new_object();
	norm = json_object_new_object();
	r = ic->args(args, norm, err, errlen);
	if (!r)
		r = ctl_req_encode(cmd, norm, id, req);
	json_object_put(norm);
	json_object_put(empty);
	return r;
}

/* -- clients ----------------------------------------------------------- */

static void reply_error(struct ipc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct ipc *c, const char *fmt, ...)
{
	struct json_object *r = json_object_new_object();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jadd(r, "v", json_object_new_int(LBD_CONTROL_VERSION));
	jadd(r, "ok", json_object_new_boolean(0));
	jadd(r, "error", json_object_new_string(msg));
	ipc_send(c, r);
	json_object_put(r);
}

/* A request to the privileged process; args (put here) as the io_cmds'
 * checks normalised them. */
static int send_parent(struct io *io, unsigned long id, const char *cmd,
		       struct json_object *args)
{
	struct lbd_ctl_req req;
	int err = ctl_req_encode(cmd, args, (__u32)id, &req);

	json_object_put(args);
	if (err)
		return err;
	return io->parent ? msgch_send(io->parent, LBD_MSG_CTL_REQ, 0, &req,
				       sizeof(req)) :
			    -ENOTCONN;
}

/* Tells the privileged process what the monitor clients want together,
 * when that changed; nothing at all once the last one left. */
static void monitor_update(struct io *io)
{
	bool drops = false, flows = false, state = false;
	struct io_client *cl;
	struct json_object *a;

	for (cl = io->clients; cl; cl = cl->next) {
		if (!cl->monitoring)
			continue;
		drops |= cl->f.drops;
		flows |= cl->f.flows;
		state |= cl->f.state;
	}
	if (drops == io->mon_drops && flows == io->mon_flows &&
	    state == io->mon_state)
		return;
	io->mon_drops = drops;
	io->mon_flows = flows;
	io->mon_state = state;
	a = json_object_new_object();
	jadd(a, "drops", json_object_new_boolean(drops));
	jadd(a, "flows", json_object_new_boolean(flows));
	jadd(a, "state", json_object_new_boolean(state));
	/* the answer has no client waiting for it: it is dropped */
	if (send_parent(io, ++io->next_id & 0xffffffffu, "monitor_set", a))
		log_warnx("monitor: telling lbd what to send failed");
}

static void client_gone(struct ipc *c, void *arg)
{
	struct io_client *cl = arg, **pp;
	struct io *io = cl->io;

	(void)c;
	for (pp = &io->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	io->n_clients--;
	if (cl->monitoring) {
		io->n_monitors--;
		monitor_update(io);
	}
	free(cl);
}

static void monitor_start(struct io_client *cl, struct json_object *args)
{
	struct json_object *v, *r = json_object_new_object();

	memset(&cl->f, 0, sizeof(cl->f));
	if (json_object_object_get_ex(args, "drops", &v))
		cl->f.drops = json_object_get_boolean(v);
	if (json_object_object_get_ex(args, "flows", &v))
		cl->f.flows = json_object_get_boolean(v);
	if (json_object_object_get_ex(args, "health", &v))
		cl->f.state = json_object_get_boolean(v);
	if (json_object_object_get_ex(args, "service", &v))
		snprintf(cl->f.service, sizeof(cl->f.service), "%s",
			 json_object_get_string(v));
	cl->monitoring = true;
	cl->io->n_monitors++;
	jadd(r, "v", json_object_new_int(LBD_CONTROL_VERSION));
	jadd(r, "ok", json_object_new_boolean(1));
	jadd(r, "data", json_object_get(args));
	ipc_send(cl->c, r);
	json_object_put(r);
	monitor_update(cl->io);
}

/* While lbd starts, it answers nothing until its first apply is done
 * (minutes, with many services): status says so, with the progress;
 * every other command is refused, not left waiting. */
static void starting_answer(struct io_client *cl, const char *name)
{
	struct io *io = cl->io;
	struct json_object *r, *d;
	char progress[64];

	if (strcmp(name, "status")) {
		reply_error(cl->c,
			    "%s: lbd is starting (%lu of %lu services "
			    "applied); try again when it has",
			    name, io->start_done, io->start_total);
		return;
	}
	r = json_object_new_object();
	d = json_object_new_object();
	snprintf(progress, sizeof(progress), "%lu of %lu services",
		 io->start_done, io->start_total);
	jadd(d, "state", json_object_new_string("starting"));
	jadd(d, "progress", json_object_new_string(progress));
	jadd(d, "done", json_object_new_uint64(io->start_done));
	jadd(d, "total", json_object_new_uint64(io->start_total));
	jadd(r, "v", json_object_new_int(LBD_CONTROL_VERSION));
	jadd(r, "ok", json_object_new_boolean(1));
	jadd(r, "data", d);
	ipc_send(cl->c, r);
	json_object_put(r);
}

/* A request from a control socket client. */
static void client_msg(struct ipc *c, struct json_object *msg, void *arg)
{
	struct io_client *cl = arg;
	struct json_object *cmd, *args, *norm, *empty = NULL;
	const struct io_cmd *ic;
	char err[256] = "";
	const char *name;
	int r;

	if (!ipc_member_is_int(msg, "v", LBD_CONTROL_VERSION)) {
		reply_error(c,
			    "unsupported protocol version (this lbd speaks "
			    "%d)",
			    LBD_CONTROL_VERSION);
		return;
	}
	if (!json_object_object_get_ex(msg, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		reply_error(c, "a request needs a \"cmd\" string");
		return;
	}
	name = json_object_get_string(cmd);
	if (cl->monitoring) {
		reply_error(c, "this connection streams events; open another "
			       "for requests");
		return;
	}
	if (cl->pending) {
		reply_error(c, "one request at a time");
		return;
	}
	ic = io_cmd_find(name);
	if (!ic) {
		reply_error(c, "unknown command \"%.40s\"", name);
		return;
	}
	if (ic->admin && cl->uid != 0) {
		reply_error(c, "%s: permission denied (root only)", name);
		return;
	}
	if (!json_object_object_get_ex(msg, "args", &args))
		args = empty = json_object_new_object();
	else if (!json_object_is_type(args, json_type_object)) {
		reply_error(c, "\"args\" must be an object");
		return;
	}
	norm = json_object_new_object();
	r = ic->args(args, norm, err, sizeof(err));
	json_object_put(empty);
	if (r) {
		json_object_put(norm);
		reply_error(c, "%s: %s", name, err);
		return;
	}
	if (!strcmp(name, "monitor")) {
		monitor_start(cl, norm);
		json_object_put(norm);
		return;
	}
	if (cl->io->starting) {
		json_object_put(norm);
		starting_answer(cl, name);
		return;
	}
	/* ids are 32 bits on the channel, and 0 is no request */
	cl->pending = ++cl->io->next_id & 0xffffffffu;
	if (!cl->pending)
		cl->pending = ++cl->io->next_id & 0xffffffffu;
	r = send_parent(cl->io, cl->pending, name, norm);
	if (r) {
		cl->pending = 0;
		reply_error(c, "%s: %s", name, strerror(-r));
	}
}

/* -- from the privileged process ------------------------------------- */

static void send_lost(struct io_client *cl, unsigned long n)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "v", json_object_new_int(LBD_CONTROL_VERSION));
	jadd(o, "lost", json_object_new_uint64(n));
	ipc_send(cl->c, o);
	json_object_put(o);
}

static bool event_wanted(const struct mon_filter *f, struct json_object *ev)
{
	struct json_object *t, *s;
	const char *type;

	if (!json_object_object_get_ex(ev, "type", &t))
		return false;
	type = json_object_get_string(t);
	if (!strcmp(type, "drop")     ? !f->drops :
	    !strcmp(type, "new_flow") ? !f->flows :
	    !strcmp(type, "backend")  ? !f->state :
					true)
		return false;
	if (!f->service[0])
		return true;
	return json_object_object_get_ex(ev, "service", &s) &&
	       json_object_is_type(s, json_type_string) &&
	       !strcmp(json_object_get_string(s), f->service);
}

/* One datapath event to every monitor client that wants it. */
static void fan_out(struct io *io, struct json_object *ev)
{
	struct json_object *line = NULL;
	struct io_client *cl;

	for (cl = io->clients; cl; cl = cl->next) {
		if (!cl->monitoring || !event_wanted(&cl->f, ev))
			continue;
		if (ipc_pending(cl->c) > IO_MON_BACKLOG) {
			cl->lost++;
			io->mon_lost++;
			continue;
		}
		if (cl->lost) {
			send_lost(cl, cl->lost);
			cl->lost = 0;
		}
		if (!line) {
			line = json_object_new_object();
			jadd(line, "v",
			     json_object_new_int(LBD_CONTROL_VERSION));
			jadd(line, "event", json_object_get(ev));
		}
		ipc_send(cl->c, line);
	}
	json_object_put(line);
}

/* The answer to the metrics request in flight: the snapshot (a
 * LBD_MSG_METRICS payload), or NULL when lbd answered with an error (the
 * waiting scrapes get 503). */
static void metrics_answer(struct io *io, const void *snap, size_t n)
{
	struct metrics_io mio = { .control_clients = io->n_clients,
				  .monitor_clients = io->n_monitors,
				  .monitor_lost = io->mon_lost,
				  .self_pid = (unsigned int)getpid(),
				  .self_fds = -1 };
	struct hcserve_stats hs;
	char *text = NULL;
	size_t len = 0;
	struct dirent *e;
	DIR *dir;

	io->metrics_pending = 0;
	if (!io->httpd)
		return;
	dir = opendir("/proc/self/fd");
	if (dir) {
		/* not counting the one that lists them */
		mio.self_fds = -1;
		while ((e = readdir(dir)))
			if (e->d_name[0] != '.')
				mio.self_fds++;
		closedir(dir);
	}
	hcserve_stats(io->hc, &hs);
	mio.hc_ports = hs.ports;
	mio.hc_open_failures = hs.open_failures;
	mio.hc_healthz = hs.healthz;
	if (!snap || metrics_render(snap, n, &mio, &text, &len))
		text = NULL;
	httpd_publish(io->httpd, text, len);
}

static void parent_json(struct io *io, struct json_object *msg)
{
	struct json_object *id, *out, *x;
	struct io_client *cl;
	unsigned long want;

	if (json_object_object_get_ex(msg, "event", &x)) {
		fan_out(io, x);
		return;
	}
	if (json_object_object_get_ex(msg, "starting", &x)) {
		struct json_object *v;

		io->starting = true;
		if (json_object_object_get_ex(x, "done", &v))
			io->start_done =
				(unsigned long)json_object_get_uint64(v);
		if (json_object_object_get_ex(x, "total", &v))
			io->start_total =
				(unsigned long)json_object_get_uint64(v);
		return;
	}
	if (json_object_object_get_ex(msg, "started", &x)) {
		io->starting = false;
		return;
	}
	if (json_object_object_get_ex(msg, "lost", &x)) {
		for (cl = io->clients; cl; cl = cl->next)
			if (cl->monitoring)
				send_lost(cl,
					  (unsigned long)json_object_get_uint64(
						  x));
		return;
	}
	if (!json_object_object_get_ex(msg, "id", &id))
		return;
	want = (unsigned long)json_object_get_uint64(id);
	if (want && want == io->metrics_pending) {
		metrics_answer(io, NULL,
			       0); /* an error: a snapshot is binary */
		return;
	}
	for (cl = io->clients; cl && cl->pending != want; cl = cl->next)
		;
	if (!cl)
		return; /* the client left meanwhile, or monitor_set */
	cl->pending = 0;
	out = json_object_new_object();
	jadd(out, "v", json_object_new_int(LBD_CONTROL_VERSION));
	json_object_object_foreach(msg, k, val)
	{
		if (strcmp(k, "id"))
			jadd(out, k, json_object_get(val));
	}
	if (!json_object_object_get_ex(out, "ok", &x))
		jadd(out, "ok", json_object_new_boolean(0));
	ipc_send(cl->c, out);
	json_object_put(out);
}

/* A reply or an event: JSON text that lbd made, parsed here, in the
 * unprivileged process, and nowhere in lbd. */
static void parent_msg(struct msgch *c, const struct lbd_msg_hdr *h,
		       const void *payload, void *arg)
{
	struct io *io = arg;
	struct json_tokener *tok;
	struct json_object *msg;

	(void)c;
	if (h->type == LBD_MSG_METRICS) {
		/* with no request in flight (one given up on): dropped */
		if (io->metrics_pending)
			metrics_answer(io, payload, h->len);
		return;
	}
	if (h->type == LBD_MSG_NODE_HC) {
		int err = io->hc ? 0 : hcserve_new(io->ev, &io->hc);

		if (err)
			log_warnx("health check ports: %s; not served",
				  strerror(-err));
		else
			hcserve_table(io->hc, payload, h->len);
		return;
	}
	if (h->type != LBD_MSG_CTL_REPLY && h->type != LBD_MSG_MON_EVENT)
		return;
	tok = json_tokener_new();
	if (!tok)
		return;
	msg = json_tokener_parse_ex(tok, payload, (int)h->len);
	json_tokener_free(tok);
	if (msg && json_object_is_type(msg, json_type_object))
		parent_json(io, msg);
	else
		log_warnx("lbd sent a reply that is not a JSON object");
	json_object_put(msg);
}

static void parent_gone(struct msgch *c, int err, void *arg)
{
	struct io *io = arg;

	(void)c;
	if (err != -ECONNRESET)
		log_warnx("the channel to lbd: %s", strerror(-err));
	io->parent = NULL;
	sd_event_exit(io->ev, 0);
}

/* A scrape waits for a snapshot: ask for one unless one is on its way. */
static int on_metrics_want(sd_event_source *s, int fd, uint32_t revents,
			   void *arg)
{
	struct io *io = arg;
	time_t now = time(NULL);

	(void)s;
	(void)fd;
	(void)revents;
	httpd_want_clear(io->httpd);
	if (io->metrics_pending &&
	    now - io->metrics_asked < IO_METRICS_GIVE_UP_S)
		return 0;
	io->metrics_pending = ++io->next_id & 0xffffffffu;
	io->metrics_asked = now;
	if (send_parent(io, io->metrics_pending, "metrics", NULL))
		io->metrics_pending = 0;
	return 0;
}

/* The backoff is over: listen again. */
static int on_accept_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	struct io *io = arg;

	(void)s;
	(void)usec;
	sd_event_source_set_enabled(io->accept_src, SD_EVENT_ON);
	return 0;
}

/* Out of descriptors or memory: stop accepting for a while (the pending
 * connection would make every loop iteration an accept that fails). */
static void accept_back_off(struct io *io, int err)
{
	static time_t logged;
	time_t now = time(NULL);
	uint64_t t;

	if (now - logged >= 60) {
		logged = now;
		log_warnx("control socket: accepting: %s (%lu clients); "
			  "trying again in %d ms",
			  strerror(err), io->n_clients,
			  IO_ACCEPT_BACKOFF_US / 1000);
	}
	sd_event_now(io->ev, CLOCK_MONOTONIC, &t);
	/* the timer was made at start: a timerfd now would be EMFILE too */
	if (sd_event_source_set_time(io->accept_retry,
				     t + IO_ACCEPT_BACKOFF_US) >= 0 &&
	    sd_event_source_set_enabled(io->accept_retry, SD_EVENT_ONESHOT) >=
		    0)
		sd_event_source_set_enabled(io->accept_src, SD_EVENT_OFF);
}

/* A client past the bound: told why (without waiting for it to read),
 * and let go. */
static void refuse(struct io *io, int cfd, uid_t uid)
{
	static time_t logged;
	time_t now = time(NULL);
	char line[160];
	int n;

	n = snprintf(line, sizeof(line),
		     "{\"v\":%d,\"ok\":false,\"error\":\"too many clients "
		     "(control.max_clients is %lu)\"}\n",
		     LBD_CONTROL_VERSION, io->max_clients);
	if (send(cfd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("control socket: refusing: %s", strerror(errno));
	close(cfd);
	io->refused++;
	if (now - logged >= 60) {
		logged = now;
		log_warnx("control socket: %lu clients refused (the last of "
			  "uid %u): control.max_clients (%lu) reached",
			  io->refused, (unsigned int)uid, io->max_clients);
		io->refused = 0;
	}
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct io *io = arg;
	struct io_client *cl;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int cfd;

	(void)s;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM)
			accept_back_off(io, errno);
		return 0;
	}
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(cfd);
		return 0;
	}
	if (io->n_clients >=
	    io->max_clients + (cred.uid == 0 ? IO_ROOT_EXTRA : 0)) {
		refuse(io, cfd, cred.uid);
		return 0;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(cfd);
		return 0;
	}
	cl->io = io;
	cl->uid = cred.uid;
	if (ipc_open(io->ev, cfd, client_msg, client_gone, cl, &cl->c) < 0) {
		close(cfd);
		free(cl);
		return 0;
	}
	ipc_set_limits(cl->c, IO_CLIENT_MAX_LINE, IO_CLIENT_MAX_OUT);
	cl->next = io->clients;
	io->clients = cl;
	io->n_clients++;
	return 0;
}

/*
 * control.max_clients, kept within the open-file limit: the soft limit is
 * raised to the hard one, and where even that cannot hold every client
 * the bound is lowered (said once) rather than accept() meeting EMFILE.
 */
static unsigned long io_client_bound(unsigned long want)
{
	struct rlimit rl;
	unsigned long room;

	if (!want)
		want = LBD_DEFAULT_MAX_CLIENTS;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= want + IO_ROOT_EXTRA + IO_FDS_OWN)
		return want;
	room = rl.rlim_cur > IO_ROOT_EXTRA + IO_FDS_OWN + 1 ?
		       (unsigned long)rl.rlim_cur - IO_ROOT_EXTRA - IO_FDS_OWN :
		       1;
	log_warnx("control.max_clients %lu does not fit the open-file limit "
		  "(%lu): at most %lu clients",
		  want, (unsigned long)rl.rlim_cur, room);
	return room;
}

/* -- the process --------------------------------------------------------- */

int io_child_main(int argc, char **argv)
{
	int ctl_fd = IO_CTL_FD, metrics_fd = -1;
	unsigned long max_clients;
	struct io io = { 0 };
	int err;

	if (argc != 2) {
		log_warnx("io: started without its settings");
		return 2;
	}
	max_clients = strtoul(argv[0], NULL, 10);
	/* until lbd says it has started (it tells every new io process at
	 * once): a client faster than that message is not sent on to an
	 * lbd busy with its first apply */
	io.starting = true;
	if (!strcmp(argv[1], "metrics"))
		metrics_fd = IO_METRICS_FD;
	if (proc_child_event(&io.ev) < 0)
		return 1;
	if (msgch_open(io.ev, PROC_CHANNEL_FD, parent_msg, parent_gone, &io,
		       &io.parent) < 0)
		return 1;
	io.max_clients = io_client_bound(max_clients);
	if (sd_event_add_io(io.ev, &io.accept_src, ctl_fd, EPOLLIN, on_accept,
			    &io) < 0 ||
	    sd_event_add_time(io.ev, &io.accept_retry, CLOCK_MONOTONIC,
			      UINT64_MAX, 0, on_accept_retry, &io) < 0 ||
	    sd_event_source_set_enabled(io.accept_retry, SD_EVENT_OFF) < 0)
		return 1;
	if (metrics_fd >= 0) {
		err = httpd_start(metrics_fd, &io.httpd);
		if (err)
			log_warnx("metrics endpoint: %s; not serving metrics",
				  strerror(-err));
		else if (sd_event_add_io(io.ev, NULL, httpd_want_fd(io.httpd),
					 EPOLLIN, on_metrics_want, &io) < 0)
			return 1;
	}
	err = sd_event_loop(io.ev);
	hcserve_free(io.hc);
	httpd_stop(io.httpd);
	return err < 0 ? 1 : 0;
}

static int control_socket(const struct lbd_conf_control *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], *slash;
	const char *path = c->socket;
	struct group *gr = NULL;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (c->group[0]) {
		gr = getgrnam(c->group);
		if (!gr)
			log_warnx("control.group: no group %s; the socket is "
				  "root's only",
				  c->group);
	}
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket file left by a killed lbd */
	unlink(path);
	/* the mode is set before anyone can connect: listen() comes last */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, gr ? 0660 : 0600) < 0 ||
	    (gr && chown(path, 0, gr->gr_gid) < 0) || listen(fd, 64) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The metrics listener, or -1 when off or not possible (logged: lbd
 * runs on without metrics rather than not at all). */
static int metrics_socket(const char *listen_at)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (listen_parse(listen_at, &ss, &len))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		log_warn("metrics socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
		log_warn("metrics endpoint %s; not serving metrics", listen_at);
		close(fd);
		return -1;
	}
	return fd;
}

int io_sockets(const struct lbd_config *c, int *ctl, int *met)
{
	*ctl = control_socket(&c->control);
	if (*ctl < 0) {
		log_warnx("control socket %s: %s", c->control.socket,
			  strerror(-*ctl));
		return *ctl;
	}
	*met = metrics_socket(c->control.metrics_listen);
	return 0;
}
