// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/ctl/ctlreq: lbctl's requests as struct lbd_ctl_req, from the io
 * process's normalised arguments to the handlers' in lbd, and the fields
 * lbd refuses. */
#include <criterion/criterion.h>
#include <errno.h>
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

Test(ctlreq, conntrack_arguments_survive_the_crossing)
{
	struct json_object *in = parse(
		"{\"client\":{\"family\":6,\"address\":\"2001:db8::1\","
		"\"port\":0},\"vip\":{\"family\":4,\"address\":\"192.0.2.1\","
		"\"port\":80},\"service\":\"web\",\"proto\":\"udp\","
		"\"all\":true,\"limit\":0}");
	struct lbd_ctl_req req;
	struct json_object *out;
	char err[128] = "";

	cr_assert_eq(ctl_req_encode("conntrack", in, 9, &req), 0);
	cr_assert_eq(req.id, 9);
	cr_assert_eq(req.cmd, LBD_CTL_CONNTRACK);
	cr_assert_eq(req.proto, IPPROTO_UDP);
	cr_assert_eq(req.vip.family, LBD_AF_INET);
	cr_assert_eq(req.vip.port, 80);
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), 0, "%s", err);
	/* the same arguments, key for key; limit 0 stays given */
	cr_assert(json_object_equal(in, out), "%s",
		  json_object_to_json_string(out));
	json_object_put(in);
	json_object_put(out);
}

Test(ctlreq, a_service_name_as_long_as_the_config_allows)
{
	/* the config's bound, not the struct's: a name the config takes
	 * must reach lbd (it was cut at 63 characters once) */
	char name[LBD_SVC_NAME_MAX], text[LBD_SVC_NAME_MAX + 32];
	struct json_object *in, *out, *v;
	struct lbd_ctl_req req;
	char err[128];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text), "{\"service\":\"%s\"}", name);
	in = parse(text);
	cr_assert_eq(ctl_req_encode("backends", in, 1, &req), 0);
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), 0);
	cr_assert(json_object_object_get_ex(out, "service", &v));
	cr_assert_str_eq(json_object_get_string(v), name);
	json_object_put(in);
	json_object_put(out);
}

Test(ctlreq, lbd_refuses_fields_out_of_range)
{
	struct lbd_ctl_req req = { .cmd = LBD_CTL_BACKENDS };
	struct json_object *out;
	char err[128];

	/* a name without its NUL */
	memset(req.service, 'x', sizeof(req.service));
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), -EBADMSG);
	cr_assert_null(out);
	memset(&req, 0, sizeof(req));
	req.cmd = LBD_CTL_CMD_MAX;
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), -EBADMSG);
	req.cmd = LBD_CTL_CONNTRACK;
	req.proto = 1;
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), -EBADMSG);
	req.proto = 0;
	req.backend.family = 7;
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), -EBADMSG);
	req.backend.family = 0;
	cr_assert_eq(ctl_req_args(&req, &out, err, sizeof(err)), 0);
	json_object_put(out);
}

Test(ctlreq, io_refuses_what_the_struct_cannot_carry)
{
	struct json_object *in = parse("{}");
	struct lbd_ctl_req req;

	cr_assert_eq(ctl_req_encode("monitor", in, 1, &req), -EINVAL);
	cr_assert_eq(ctl_req_encode("nope", in, 1, &req), -EINVAL);
	json_object_put(in);
}
