// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/ctl/ctlreq.c: lbctl's JSON requests into struct lbd_ctl_req, and
 * what it refuses. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "ctlreq.h"

/* Decodes the request text; the error into err. */
static int decode(const char *text, struct lbd_ctl_req *r, char *err,
		  size_t len)
{
	struct json_object *o = json_tokener_parse(text);
	int ret;

	cr_assert(o, "test request does not parse: %s", text);
	err[0] = '\0';
	ret = ctl_req_decode(o, r, err, len);
	json_object_put(o);
	return ret;
}

static void ok(const char *text, struct lbd_ctl_req *r)
{
	char err[256];

	cr_assert_eq(decode(text, r, err, sizeof(err)), 0, "%s: %s", text, err);
}

/* Refused with an error that says what (contains want). */
static void refused(const char *text, const char *want)
{
	struct lbd_ctl_req r;
	char err[256];

	cr_assert_eq(decode(text, &r, err, sizeof(err)), -EINVAL,
		     "accepted: %s", text);
	cr_assert(strstr(err, want), "%s: error \"%s\" lacks \"%s\"", text, err,
		  want);
}

static void addr_is(const struct lbd_msg_addr *a, int af, const char *s,
		    unsigned int port)
{
	unsigned char want[16] = { 0 };

	cr_assert_eq(inet_pton(af, s, want), 1);
	cr_assert_eq(a->family, af == AF_INET ? LBD_AF_INET : LBD_AF_INET6);
	cr_assert_eq(memcmp(&a->addr, want, af == AF_INET ? 4 : 16), 0, "%s",
		     s);
	cr_assert_eq(a->port, port);
}

Test(ctlreq, commands_without_arguments_decode_to_their_enum)
{
	struct lbd_ctl_req r;

	ok("{\"cmd\":\"status\"}", &r);
	cr_assert_eq(r.cmd, LBD_CTL_STATUS);
	ok("{\"cmd\":\"services\",\"args\":{}}", &r);
	cr_assert_eq(r.cmd, LBD_CTL_SERVICES);
	ok("{\"cmd\":\"stats\"}", &r);
	cr_assert_eq(r.cmd, LBD_CTL_STATS);
	ok("{\"cmd\":\"metrics\"}", &r);
	cr_assert_eq(r.cmd, LBD_CTL_METRICS);
	cr_assert_eq(r.flags, 0);
	cr_assert_eq(r.service[0], '\0');
	cr_assert_str_eq(ctl_cmd_name(LBD_CTL_CONNTRACK_FLUSH),
			 "conntrack_flush");
}

Test(ctlreq, conntrack_filters_decode_every_address_form)
{
	struct lbd_ctl_req r;

	ok("{\"cmd\":\"conntrack\",\"args\":{\"client\":\"192.0.2.7:4000\","
	   "\"vip\":\"2001:db8:f::10\",\"backend\":\"[2001:db8:1::11]:80\","
	   "\"service\":\"web\",\"proto\":\"udp\",\"all\":true,"
	   "\"limit\":0}}",
	   &r);
	cr_assert_eq(r.cmd, LBD_CTL_CONNTRACK);
	addr_is(&r.client, AF_INET, "192.0.2.7", 4000);
	addr_is(&r.vip, AF_INET6, "2001:db8:f::10", 0);
	addr_is(&r.backend, AF_INET6, "2001:db8:1::11", 80);
	cr_assert_str_eq(r.service, "web");
	cr_assert_eq(r.proto, IPPROTO_UDP);
	/* limit 0 lists none: told apart from no limit */
	cr_assert_eq(r.flags, LBD_CTL_F_ALL | LBD_CTL_F_LIMIT);
	cr_assert_eq(r.limit, 0);
	ok("{\"cmd\":\"conntrack\",\"args\":{\"all\":false}}", &r);
	cr_assert_eq(r.flags, 0);
	cr_assert_eq(r.client.family, 0);
}

Test(ctlreq, drain_needs_a_backend_and_takes_a_service)
{
	struct lbd_ctl_req r;

	ok("{\"cmd\":\"undrain\",\"args\":{\"backend\":\"198.18.1.11\","
	   "\"service\":\"kube-system/dns:53\"}}",
	   &r);
	cr_assert_eq(r.cmd, LBD_CTL_UNDRAIN);
	addr_is(&r.backend, AF_INET, "198.18.1.11", 0);
	cr_assert_str_eq(r.service, "kube-system/dns:53");
	refused("{\"cmd\":\"drain\",\"args\":{\"service\":\"web\"}}",
		"which backend");
}

Test(ctlreq, explain_takes_client_and_vip_port_proto_of_one_family)
{
	struct lbd_ctl_req r;

	ok("{\"cmd\":\"explain\",\"args\":{\"client\":\"[2001:db8::7]:5000\","
	   "\"service\":\"[2001:db8:f::10]:443/tcp\"}}",
	   &r);
	cr_assert_eq(r.cmd, LBD_CTL_EXPLAIN);
	addr_is(&r.client, AF_INET6, "2001:db8::7", 5000);
	addr_is(&r.vip, AF_INET6, "2001:db8:f::10", 443);
	cr_assert_eq(r.proto, IPPROTO_TCP);
	refused("{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.7\","
		"\"service\":\"203.0.113.10:80/tcp\"}}",
		"needs a port");
	refused("{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.7:1\","
		"\"service\":\"[2001:db8:f::10]:80/udp\"}}",
		"different address families");
	refused("{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.7:1\","
		"\"service\":\"203.0.113.10:80/sctp\"}}",
		"is not VIP:PORT/tcp");
	refused("{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.7:1\"}}",
		"VIP:PORT/PROTO is needed");
}

Test(ctlreq, monitor_asks_for_everything_when_nothing_is_named)
{
	struct lbd_ctl_req r;

	ok("{\"cmd\":\"monitor\",\"args\":{\"service\":\"web\"}}", &r);
	cr_assert_eq(r.cmd, LBD_CTL_MONITOR);
	cr_assert_eq(r.flags,
		     LBD_CTL_F_DROPS | LBD_CTL_F_FLOWS | LBD_CTL_F_STATE);
	ok("{\"cmd\":\"monitor\",\"args\":{\"health\":true}}", &r);
	cr_assert_eq(r.flags, LBD_CTL_F_STATE);
	/* io's own: exactly what it asks, nothing asked is nothing */
	ok("{\"cmd\":\"monitor_set\",\"args\":{\"drops\":false,"
	   "\"flows\":false,\"state\":false}}",
	   &r);
	cr_assert_eq(r.cmd, LBD_CTL_MONITOR_SET);
	cr_assert_eq(r.flags, 0);
}

Test(ctlreq, overlong_or_unprintable_service_names_are_refused)
{
	char text[LBD_CTL_NAME_MAX + 128], name[LBD_CTL_NAME_MAX + 1];
	struct lbd_ctl_req r;

	/* the longest name the config allows fits, NUL included */
	memset(name, 'a', LBD_CTL_NAME_MAX - 1);
	name[LBD_CTL_NAME_MAX - 1] = '\0';
	snprintf(text, sizeof(text),
		 "{\"cmd\":\"backends\",\"args\":{\"service\":\"%s\"}}", name);
	ok(text, &r);
	cr_assert_eq(strlen(r.service), LBD_CTL_NAME_MAX - 1);
	/* one more is refused, not cut */
	memset(name, 'a', LBD_CTL_NAME_MAX);
	name[LBD_CTL_NAME_MAX] = '\0';
	snprintf(text, sizeof(text),
		 "{\"cmd\":\"backends\",\"args\":{\"service\":\"%s\"}}", name);
	refused(text, "a service name is 1 to");
	refused("{\"cmd\":\"backends\",\"args\":{\"service\":\"\"}}",
		"a service name is 1 to");
	refused("{\"cmd\":\"backends\",\"args\":{\"service\":\"a b\"}}",
		"not a service name");
	refused("{\"cmd\":\"backends\",\"args\":{\"service\":\"a\\nb\"}}",
		"not a service name");
}

Test(ctlreq, bad_addresses_and_ports_are_refused)
{
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1\"}}",
		"is not an IP address");
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"example.org\"}}",
		"is not an IP address");
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.11:0\"}}",
		"bad port");
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.11:65536\"}}",
		"bad port");
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"198.18.1.11:80x\"}}",
		"bad port");
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"[198.18.1.11]:80\"}}",
		"is not an IP address");
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":\"[2001:db8::1\"}}",
		"bad address");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"vip\":\"1111111111111111"
		"111111111111111111111111111111111111111111111111\"}}",
		"bad address");
}

Test(ctlreq, wrong_types_unknown_arguments_and_commands_are_refused)
{
	refused("{\"cmd\":\"drain\",\"args\":{\"backend\":17}}",
		"must be a string");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"all\":\"yes\"}}",
		"must be true or false");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"limit\":\"10\"}}",
		"limit: 0 to");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"limit\":-1}}",
		"limit: 0 to");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"limit\":1000001}}",
		"limit: 0 to");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"limit\":1.5}}",
		"limit: 0 to");
	refused("{\"cmd\":\"conntrack\",\"args\":{\"proto\":\"icmp\"}}",
		"tcp or udp");
	/* an argument of another command is unknown here */
	refused("{\"cmd\":\"conntrack_flush\",\"args\":{\"all\":true}}",
		"conntrack_flush: unknown argument \"all\"");
	refused("{\"cmd\":\"status\",\"args\":{\"verbose\":true}}",
		"unknown argument");
	refused("{\"cmd\":\"status\",\"args\":[]}", "must be an object");
	refused("{\"cmd\":\"reboot\"}", "unknown command");
	refused("{\"cmd\":7}", "needs a \"cmd\" string");
	refused("{}", "needs a \"cmd\" string");
	refused("[]", "needs a \"cmd\" string");
}

Test(ctlreq, what_the_decoder_makes_passes_the_receivers_check)
{
	static const char *const requests[] = {
		"{\"cmd\":\"status\"}",
		"{\"cmd\":\"conntrack\",\"args\":{\"client\":\"192.0.2.7:1\","
		"\"backend\":\"2001:db8::1\",\"proto\":\"tcp\",\"all\":true,"
		"\"limit\":5,\"service\":\"web\"}}",
		"{\"cmd\":\"explain\",\"args\":{\"client\":\"192.0.2.7:1\","
		"\"service\":\"203.0.113.10:53/udp\"}}",
		"{\"cmd\":\"monitor_set\",\"args\":{\"state\":true}}",
	};
	struct lbd_ctl_req r;
	size_t i;

	for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
		ok(requests[i], &r);
		cr_assert_eq(ctl_req_check(&r), 0, "%s", requests[i]);
	}
}

Test(ctlreq, a_malformed_struct_from_another_process_is_refused)
{
	struct lbd_ctl_req r, good;

	ok("{\"cmd\":\"backends\",\"args\":{\"service\":\"web\"}}", &good);
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
	r.proto = 1; /* ICMP */
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	r = good;
	r.limit = 1000001;
	cr_assert_eq(ctl_req_check(&r), -EBADMSG);
	cr_assert_eq(ctl_req_check(&good), 0);
}
