// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl's requests between io and lbd (ctlreq.h). */
#include "ctlreq.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

_Static_assert(LBD_CTL_NAME_MAX == LBD_SVC_NAME_MAX,
	       "a request carries any service name the config allows");

static const char *const cmd_names[LBD_CTL_CMD_MAX] = {
	[LBD_CTL_STATUS] = "status",
	[LBD_CTL_SERVICES] = "services",
	[LBD_CTL_BACKENDS] = "backends",
	[LBD_CTL_STATS] = "stats",
	[LBD_CTL_CONNTRACK] = "conntrack",
	[LBD_CTL_CONNTRACK_FLUSH] = "conntrack_flush",
	[LBD_CTL_DRAIN] = "drain",
	[LBD_CTL_UNDRAIN] = "undrain",
	[LBD_CTL_EXPLAIN] = "explain",
	[LBD_CTL_MONITOR_SET] = "monitor_set",
	[LBD_CTL_METRICS] = "metrics",
	[LBD_CTL_RELOAD] = "reload",
};

/* The addresses a request may carry, with their names in the JSON. */
static const struct {
	const char *name;
	size_t off;
} addr_args[] = {
	{ "vip", offsetof(struct lbd_ctl_req, vip) },
	{ "client", offsetof(struct lbd_ctl_req, client) },
	{ "backend", offsetof(struct lbd_ctl_req, backend) },
};

static const struct {
	const char *name;
	__u16 flag;
} flag_args[] = {
	{ "all", LBD_CTL_F_ALL },
	{ "drops", LBD_CTL_F_DROPS },
	{ "flows", LBD_CTL_F_FLOWS },
	{ "state", LBD_CTL_F_STATE },
};

const char *ctl_cmd_name(unsigned int cmd)
{
	return cmd < LBD_CTL_CMD_MAX ? cmd_names[cmd] : NULL;
}

static int addr_encode(struct json_object *o, struct lbd_msg_addr *a)
{
	struct json_object *f, *s, *p;
	int fam;

	if (!json_object_object_get_ex(o, "family", &f) ||
	    !json_object_object_get_ex(o, "address", &s) ||
	    !json_object_object_get_ex(o, "port", &p))
		return -EINVAL;
	fam = json_object_get_int(f) == 4 ? AF_INET : AF_INET6;
	if (inet_pton(fam, json_object_get_string(s), &a->addr) != 1)
		return -EINVAL;
	a->family = fam == AF_INET ? LBD_AF_INET : LBD_AF_INET6;
	a->port = (__u16)json_object_get_int(p);
	return 0;
}

int ctl_req_encode(const char *cmd, struct json_object *norm, __u32 id,
		   struct lbd_ctl_req *req)
{
	struct json_object *v;
	const char *s;
	size_t i;

	memset(req, 0, sizeof(*req));
	req->id = id;
	/* the commands lbd answers: monitor is io's own, without a name
	 * here */
	for (i = 1; i < LBD_CTL_CMD_MAX; i++)
		if (cmd_names[i] && !strcmp(cmd_names[i], cmd))
			req->cmd = (__u16)i;
	if (!req->cmd)
		return -EINVAL;
	if (!norm)
		return 0;
	for (i = 0; i < sizeof(addr_args) / sizeof(addr_args[0]); i++)
		if (json_object_object_get_ex(norm, addr_args[i].name, &v) &&
		    addr_encode(v, (struct lbd_msg_addr *)((char *)req +
							   addr_args[i].off)))
			return -EINVAL;
	for (i = 0; i < sizeof(flag_args) / sizeof(flag_args[0]); i++)
		if (json_object_object_get_ex(norm, flag_args[i].name, &v) &&
		    json_object_get_boolean(v))
			req->flags |= flag_args[i].flag;
	if (json_object_object_get_ex(norm, "service", &v)) {
		s = json_object_get_string(v);
		if (strlen(s) >= sizeof(req->service))
			return -EINVAL;
		strcpy(req->service, s);
	}
	if (json_object_object_get_ex(norm, "proto", &v)) {
		s = json_object_get_string(v);
		req->proto = !strcmp(s, "tcp") ? IPPROTO_TCP :
			     !strcmp(s, "udp") ? IPPROTO_UDP :
						 0;
		if (!req->proto)
			return -EINVAL;
	}
	if (json_object_object_get_ex(norm, "limit", &v)) {
		req->limit = (__u32)json_object_get_int64(v);
		req->flags |= LBD_CTL_F_LIMIT;
	}
	/* cookies: decimal strings (io.c), a u64 JSON's int64 may not hold */
	if (json_object_object_get_ex(norm, "cookie", &v))
		req->sock_cookie =
			strtoull(json_object_get_string(v), NULL, 10);
	if (json_object_object_get_ex(norm, "netns", &v))
		req->netns_cookie =
			strtoull(json_object_get_string(v), NULL, 10);
	return 0;
}

/* The largest "limit" of conntrack (io.c bounds it the same). */
#define CTLREQ_LIMIT_MAX 1000000

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
