// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/ctl/ctlreq: lbctl's requests as struct lbd_ctl_req, from the io
 * process's normalised arguments (ctl_req_encode) to the check lbd makes
 * before a handler reads a field (ctl_req_check). */
#include <criterion/criterion.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctlreq.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	cr_assert_not_null(o, "test JSON: %s", s);
	return o;
}

/* What io sends for cmd with the normalised arguments args. */
static struct lbd_ctl_req encoded(const char *cmd, const char *args)
{
	struct json_object *in = parse(args);
	struct lbd_ctl_req req;

	cr_assert_eq(ctl_req_encode(cmd, in, 7, &req), 0, "%s %s", cmd, args);
	json_object_put(in);
	return req;
}

Test(ctlreq, conntrack_arguments_survive_the_crossing)
{
	struct lbd_ctl_req req = encoded(
		"conntrack",
		"{\"client\":{\"family\":6,\"address\":\"2001:db8::1\","
		"\"port\":0},\"vip\":{\"family\":4,\"address\":\"192.0.2.1\","
		"\"port\":80},\"service\":\"web\",\"proto\":\"udp\","
		"\"all\":true,\"limit\":0}");
	struct in6_addr c6;
	struct in_addr v4;

	cr_assert_eq(req.id, 7);
	cr_assert_eq(req.cmd, LBD_CTL_CONNTRACK);
	cr_assert_eq(req.proto, IPPROTO_UDP);
	cr_assert_eq(req.vip.family, LBD_AF_INET);
	cr_assert_eq(req.vip.port, 80);
	inet_pton(AF_INET, "192.0.2.1", &v4);
	cr_assert_eq(memcmp(&req.vip.addr.v4, &v4, 4), 0);
	cr_assert_eq(req.client.family, LBD_AF_INET6);
	inet_pton(AF_INET6, "2001:db8::1", &c6);
	cr_assert_eq(memcmp(&req.client.addr, &c6, 16), 0);
	cr_assert_eq(req.client.port, 0);
	cr_assert_eq(req.backend.family, 0);
	cr_assert_str_eq(req.service, "web");
	/* limit 0 stays given: it lists nothing */
	cr_assert_eq(req.flags, LBD_CTL_F_ALL | LBD_CTL_F_LIMIT);
	cr_assert_eq(req.limit, 0);
	cr_assert_eq(ctl_req_check(&req), 0);
}

Test(ctlreq, a_service_name_as_long_as_the_config_allows)
{
	/* the config's bound, not the struct's: a name the config takes
	 * must reach lbd (it was cut at 63 characters once) */
	char name[LBD_SVC_NAME_MAX], text[LBD_SVC_NAME_MAX + 32];
	struct lbd_ctl_req req;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"service\":\"%s\"}", name);
	req = encoded("backends", text);
	cr_assert_str_eq(req.service, name);
	cr_assert_eq(ctl_req_check(&req), 0);
}

Test(ctlreq, io_refuses_what_the_struct_cannot_carry)
{
	struct json_object *in = parse("{}");
	struct lbd_ctl_req req;

	cr_assert_eq(ctl_req_encode("monitor", in, 1, &req), -EINVAL);
	cr_assert_eq(ctl_req_encode("nope", in, 1, &req), -EINVAL);
	json_object_put(in);
}

Test(ctlreq, a_malformed_struct_from_another_process_is_refused)
{
	struct lbd_ctl_req r, good = encoded("backends", "{\"service\":\"web\"}");

	r = good;
	memset(r.service, 'a', sizeof(r.service)); /* no NUL */
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	strcpy(r.service, "a b");
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.cmd = 0;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r.cmd = LBD_CTL_MONITOR; /* io's own, never lbd's */
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r.cmd = LBD_CTL_CMD_MAX;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.flags = 1u << 15;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.vip.family = 3;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.backend.family = 7;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.proto = 1; /* ICMP */
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.limit = 1000001;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	cr_assert_eq(ctl_req_check(&good), 0);
}

/* explain in the node role: a socket's and a namespace's cookie, the
 * whole u64 range (io normalises them to decimal strings: a JSON int64
 * holds half of it). */
Test(ctlreq, explain_cookies_survive_the_crossing)
{
	struct lbd_ctl_req req = encoded(
		"explain",
		"{\"client\":{\"family\":4,\"address\":\"192.0.2.2\","
		"\"port\":0},\"vip\":{\"family\":4,\"address\":\"10.96.0.10\","
		"\"port\":80},\"proto\":\"tcp\","
		"\"cookie\":\"18446744073709551615\",\"netns\":\"4097\"}");

	cr_assert_eq(req.cmd, LBD_CTL_EXPLAIN);
	cr_assert_eq(req.sock_cookie, 18446744073709551615ull);
	cr_assert_eq(req.netns_cookie, 4097);
	cr_assert_eq(req.client.port, 0);
	cr_assert_eq(ctl_req_check(&req), 0);
	req = encoded("explain", "{\"proto\":\"tcp\"}");
	cr_assert_eq(req.sock_cookie, 0);
	cr_assert_eq(req.netns_cookie, 0);
}
