// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl's JSON requests into struct lbd_ctl_req (ctlreq.h). */
#include "ctlreq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

_Static_assert(LBD_CTL_NAME_MAX == LBD_SVC_NAME_MAX,
	       "a request carries any service name the config allows");

/* The largest "limit" of conntrack (io.c bounded it the same). */
#define CTLREQ_LIMIT_MAX 1000000

/* Which arguments a command takes. */
#define A_SERVICE (1u << 0)
#define A_CLIENT (1u << 1)
#define A_VIP (1u << 2)
#define A_BACKEND (1u << 3)
#define A_PROTO (1u << 4)
#define A_ALL (1u << 5)
#define A_LIMIT (1u << 6)
#define A_DROPS (1u << 7)
#define A_FLOWS (1u << 8)
#define A_HEALTH (1u << 9)
#define A_STATE (1u << 10)
#define A_SPEC (1u << 11) /* explain's "service": VIP:PORT/PROTO */
#define A_FILTERS (A_SERVICE | A_CLIENT | A_VIP | A_BACKEND | A_PROTO)

static const struct {
	const char *name;
	unsigned int cmd;
	unsigned int args;
} ctlreq_cmds[] = {
	{ "status", LBD_CTL_STATUS, 0 },
	{ "services", LBD_CTL_SERVICES, 0 },
	{ "backends", LBD_CTL_BACKENDS, A_SERVICE },
	{ "stats", LBD_CTL_STATS, 0 },
	{ "conntrack", LBD_CTL_CONNTRACK, A_FILTERS | A_ALL | A_LIMIT },
	{ "conntrack_flush", LBD_CTL_CONNTRACK_FLUSH, A_FILTERS },
	{ "drain", LBD_CTL_DRAIN, A_BACKEND | A_SERVICE },
	{ "undrain", LBD_CTL_UNDRAIN, A_BACKEND | A_SERVICE },
	{ "explain", LBD_CTL_EXPLAIN, A_CLIENT | A_SPEC },
	{ "monitor_set", LBD_CTL_MONITOR_SET, A_DROPS | A_FLOWS | A_STATE },
	{ "metrics", LBD_CTL_METRICS, 0 },
	{ "monitor", LBD_CTL_MONITOR,
	  A_DROPS | A_FLOWS | A_HEALTH | A_SERVICE },
};

/* Argument names, in the order of the A_* bits. */
static const char *const ctlreq_args[] = {
	"service", "client", "vip",   "backend", "proto", "all",
	"limit",   "drops",  "flows", "health",	 "state", "service",
};

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t len,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "cmd: " before what err says. */
static int prefixed(char *err, size_t len, const char *cmd)
{
	char what[256];

	snprintf(what, sizeof(what), "%s", err);
	snprintf(err, len, "%s: %s", cmd, what);
	return -EINVAL;
}

static bool addr_ok(const struct lbd_msg_addr *a)
{
	return a->family == 0 || a->family == LBD_AF_INET ||
	       a->family == LBD_AF_INET6;
}

int ctl_req_check(const struct lbd_ctl_req *r)
{
	const __u16 known = LBD_CTL_F_ALL | LBD_CTL_F_DROPS | LBD_CTL_F_FLOWS |
			    LBD_CTL_F_STATE | LBD_CTL_F_LIMIT;
	const char *p;

	if (!r->cmd || r->cmd >= LBD_CTL_MONITOR || (r->flags & ~known) ||
	    r->limit > CTLREQ_LIMIT_MAX ||
	    !msg_str_ok(r->service, sizeof(r->service)) || !addr_ok(&r->vip) ||
	    !addr_ok(&r->client) || !addr_ok(&r->backend) ||
	    (r->proto && r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP))
		return -EBADMSG;
	for (p = r->service; *p; p++)
		if (*p <= ' ' || *p > '~')
			return -EBADMSG;
	return 0;
}

const char *ctl_cmd_name(unsigned int cmd)
{
	size_t i;

	for (i = 0; i < sizeof(ctlreq_cmds) / sizeof(ctlreq_cmds[0]); i++)
		if (ctlreq_cmds[i].cmd == cmd)
			return ctlreq_cmds[i].name;
	return "?";
}

/* A service name as the config allows them: printable, no spaces. */
static int name_of(const char *key, const char *s, char *out, char *err,
		   size_t len)
{
	const char *p;

	if (!*s || strlen(s) >= LBD_CTL_NAME_MAX)
		return bad(err, len,
			   "\"%s\": a service name is 1 to %d characters", key,
			   LBD_CTL_NAME_MAX - 1);
	for (p = s; *p; p++)
		if (*p <= ' ' || *p > '~')
			return bad(err, len, "\"%s\": not a service name", key);
	strcpy(out, s);
	return 0;
}

/*
 * "ADDR", "ADDR:PORT", "[ADDR6]:PORT" or a bare IPv6 address (port 0:
 * none given; need_port: one must be).
 */
static int hostport_of(const char *key, const char *s, bool need_port,
		       struct lbd_msg_addr *out, char *err, size_t len)
{
	char host[INET6_ADDRSTRLEN + 1], *end;
	const char *colon = NULL;
	long port = 0;
	size_t hl;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || (rb[1] && rb[1] != ':'))
			return bad(err, len, "%s: bad address \"%.60s\"", key,
				   s);
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return bad(err, len, "%s: bad address", key);
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
			return bad(err, len, "%s: bad address", key);
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	memset(out, 0, sizeof(*out));
	if (*s != '[' && inet_pton(AF_INET, host, &out->addr) == 1)
		out->family = LBD_AF_INET;
	else if (inet_pton(AF_INET6, host, &out->addr) == 1)
		out->family = LBD_AF_INET6;
	else
		return bad(err, len, "%s: \"%.60s\" is not an IP address", key,
			   host);
	if (colon) {
		port = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || port < 1 || port > 65535)
			return bad(err, len, "%s: bad port in \"%.60s\"", key,
				   s);
	} else if (need_port) {
		return bad(err, len, "%s: \"%.60s\" needs a port", key, s);
	}
	out->port = (__u16)port;
	return 0;
}

static int proto_of(const char *key, const char *s, __u8 *out, char *err,
		    size_t len)
{
	if (!strcmp(s, "tcp"))
		*out = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*out = IPPROTO_UDP;
	else
		return bad(err, len, "%s: tcp or udp", key);
	return 0;
}

/* explain's "VIP:PORT/tcp" or "VIP:PORT/udp" */
static int spec_of(const char *s, struct lbd_ctl_req *out, char *err,
		   size_t len)
{
	char spec[128], *slash;

	if (strlen(s) >= sizeof(spec))
		return bad(err, len, "service: too long");
	strcpy(spec, s);
	slash = strrchr(spec, '/');
	if (!slash || (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp")))
		return bad(err, len,
			   "service: \"%.60s\" is not VIP:PORT/tcp or "
			   "VIP:PORT/udp",
			   s);
	*slash = '\0';
	if (hostport_of("service", spec, true, &out->vip, err, len))
		return -EINVAL;
	return proto_of("service", slash + 1, &out->proto, err, len);
}

static int want(struct json_object *v, enum json_type t, const char *key,
		const char *what, char *err, size_t len)
{
	if (!json_object_is_type(v, t))
		return bad(err, len, "\"%s\" must be %s", key, what);
	return 0;
}

/* One argument, key being ctlreq_args[bit]. */
static int arg_of(unsigned int bit, const char *key, struct json_object *v,
		  struct lbd_ctl_req *out, char *err, size_t len)
{
	static const __u16 flag[] = {
		[5] = LBD_CTL_F_ALL,	[7] = LBD_CTL_F_DROPS,
		[8] = LBD_CTL_F_FLOWS,	[9] = LBD_CTL_F_STATE,
		[10] = LBD_CTL_F_STATE,
	};
	const char *s;
	int64_t n;

	switch (1u << bit) {
	case A_ALL:
	case A_DROPS:
	case A_FLOWS:
	case A_HEALTH:
	case A_STATE:
		if (want(v, json_type_boolean, key, "true or false", err, len))
			return -EINVAL;
		if (json_object_get_boolean(v))
			out->flags |= flag[bit];
		return 0;
	case A_LIMIT:
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < 0 ||
		    n > CTLREQ_LIMIT_MAX)
			return bad(err, len, "limit: 0 to %d",
				   CTLREQ_LIMIT_MAX);
		out->limit = (__u32)n;
		out->flags |= LBD_CTL_F_LIMIT;
		return 0;
	}
	if (want(v, json_type_string, key, "a string", err, len))
		return -EINVAL;
	s = json_object_get_string(v);
	switch (1u << bit) {
	case A_SERVICE:
		return name_of(key, s, out->service, err, len);
	case A_CLIENT:
		/* explain's client needs its port: the flow is one */
		return hostport_of(key, s, out->cmd == LBD_CTL_EXPLAIN,
				   &out->client, err, len);
	case A_VIP:
		return hostport_of(key, s, false, &out->vip, err, len);
	case A_BACKEND:
		return hostport_of(key, s, false, &out->backend, err, len);
	case A_PROTO:
		return proto_of(key, s, &out->proto, err, len);
	case A_SPEC:
		return spec_of(s, out, err, len);
	}
	return bad(err, len, "unknown argument \"%.40s\"", key);
}

int ctl_req_decode(struct json_object *msg, struct lbd_ctl_req *out, char *err,
		   size_t errlen)
{
	struct json_object *cmd, *args = NULL;
	unsigned int allowed = 0, bit;
	const char *name;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(msg, json_type_object) ||
	    !json_object_object_get_ex(msg, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string))
		return bad(err, errlen, "a request needs a \"cmd\" string");
	name = json_object_get_string(cmd);
	for (i = 0; i < sizeof(ctlreq_cmds) / sizeof(ctlreq_cmds[0]); i++)
		if (!strcmp(ctlreq_cmds[i].name, name))
			break;
	if (i == sizeof(ctlreq_cmds) / sizeof(ctlreq_cmds[0]))
		return bad(err, errlen, "unknown command \"%.40s\"", name);
	out->cmd = (__u16)ctlreq_cmds[i].cmd;
	allowed = ctlreq_cmds[i].args;
	if (json_object_object_get_ex(msg, "args", &args) &&
	    !json_object_is_type(args, json_type_object))
		return bad(err, errlen, "\"args\" must be an object");
	if (args) {
		json_object_object_foreach(args, k, v)
		{
			for (bit = 0;
			     bit < sizeof(ctlreq_args) / sizeof(ctlreq_args[0]);
			     bit++)
				if ((allowed & (1u << bit)) &&
				    !strcmp(ctlreq_args[bit], k))
					break;
			if (bit == sizeof(ctlreq_args) / sizeof(ctlreq_args[0]))
				bad(err, errlen, "unknown argument \"%.40s\"",
				    k);
			else if (!arg_of(bit, k, v, out, err, errlen))
				continue;
			return prefixed(err, errlen, name);
		}
	}
	switch (out->cmd) {
	case LBD_CTL_DRAIN:
	case LBD_CTL_UNDRAIN:
		if (!out->backend.family)
			return bad(err, errlen,
				   "%s: which backend? (\"backend\": "
				   "\"ADDR[:PORT]\")",
				   name);
		break;
	case LBD_CTL_EXPLAIN:
		if (!out->client.family)
			return bad(
				err, errlen,
				"explain: \"client\": CLIENT:PORT is needed");
		if (!out->vip.family)
			return bad(err, errlen,
				   "explain: \"service\": VIP:PORT/PROTO is "
				   "needed");
		if (out->client.family != out->vip.family)
			return bad(err, errlen,
				   "explain: client and VIP are of different "
				   "address families");
		break;
	case LBD_CTL_MONITOR:
		/* none asked for: everything */
		if (!(out->flags &
		      (LBD_CTL_F_DROPS | LBD_CTL_F_FLOWS | LBD_CTL_F_STATE)))
			out->flags |= LBD_CTL_F_DROPS | LBD_CTL_F_FLOWS |
				      LBD_CTL_F_STATE;
		break;
	}
	return 0;
}
