// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* config/: every problem a config can have is reported, each once, as
 * "file:line: setting: message", all in one pass; what is accepted reads
 * as documented, defaults included. */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

/* Line 1 of most configs below: a datapath that every backend family can
 * use, so that each test shows only the problem it is about. */
#define DP                                                                     \
	"datapath = { interface = \"lb0\"; encap_source_v4 = \"198.18.0.10\";" \
	" encap_source_v6 = \"2001:db8::10\"; };\n"

#define ERRORS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void diag_print(const char *what, const struct config_diag *d,
		       const char *const *want)
{
	size_t i;

	fprintf(stderr, "%s: got %zu messages:\n", what, d->n);
	for (i = 0; i < d->n; i++)
		fprintf(stderr, "  %s\n", d->msgs[i]);
	if (!want)
		return;
	fprintf(stderr, "want:\n");
	for (i = 0; want[i]; i++)
		fprintf(stderr, "  %s\n", want[i]);
}

/* Asserts a rejection with exactly the messages want, in order. */
static void check_rejected(int err, struct lbd_config *c, struct config_diag *d,
			   const char *const *want)
{
	bool same = true;
	size_t i, n = 0;

	while (want[n])
		n++;
	if (d->n != n)
		same = false;
	for (i = 0; same && i < n; i++)
		same = !strcmp(d->msgs[i], want[i]);
	if (!same)
		diag_print("messages differ", d, want);
	config_diag_free(d);
	cr_assert(same, "the messages differ (got and want above)");
	cr_assert_eq(err, -EINVAL, "config_load: %d, want -EINVAL", err);
	cr_assert_null(c, "a rejected config must not be handed out");
}

/* Loads text as t.conf and asserts it is rejected with exactly want. */
static void expect_errors(const char *text, const char *const *want)
{
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err = config_load_string(text, "t.conf", &c, &d);

	check_rejected(err, c, &d, want);
}

static struct lbd_config *check_accepted(int err, struct lbd_config *c,
					 struct config_diag *d)
{
	if (err || d->n)
		diag_print("rejected", d, NULL);
	cr_assert_eq(err, 0, "config_load: %d (messages above)", err);
	cr_assert_eq(d->n, 0);
	cr_assert_not_null(c);
	config_diag_free(d);
	return c;
}

/* Loads text as t.conf and asserts it is accepted without a message. */
static struct lbd_config *expect_ok(const char *text)
{
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err = config_load_string(text, "t.conf", &c, &d);

	return check_accepted(err, c, &d);
}

/* Syntax */

Test(config, syntax_error_names_file_and_line)
{
	expect_errors("datapath = {\n"
		      "\tinterface = \"lb0\";\n"
		      "\thash_seed = ;\n"
		      "};\n",
		      ERRORS("t.conf:3: syntax: syntax error"));
}

Test(config, missing_closing_bracket_is_a_syntax_error_at_the_end)
{
	expect_errors(DP "services = (\n"
			 "\t{ vip = \"192.0.2.1\"; port = 80; }\n",
		      ERRORS("t.conf:4: syntax: syntax error"));
}

/* Unknown settings: a typo is never ignored, at any level */

Test(config, unknown_top_level_setting_is_reported)
{
	expect_errors(DP "service = ();\n",
		      ERRORS("t.conf:2: service: unknown setting"));
}

Test(config, unknown_datapath_setting_is_reported)
{
	expect_errors("datapath = {\n"
		      "\tinterface = \"lb0\";\n"
		      "\tmaglev_tablesize = 251;\n"
		      "};\n",
		      ERRORS("t.conf:3: datapath.maglev_tablesize: unknown "
			     "setting"));
}

Test(config, unknown_control_setting_is_reported)
{
	expect_errors(DP "control = { sockt = \"/run/lbd.sock\"; };\n",
		      ERRORS("t.conf:2: control.sockt: unknown setting"));
}

Test(config, control_max_clients_defaults_and_is_bounded)
{
	struct lbd_config *c = expect_ok(DP);

	cr_assert_eq(c->control.max_clients, LBD_DEFAULT_MAX_CLIENTS);
	config_free(c);
	c = expect_ok(DP "control = { max_clients = 3; };\n");
	cr_assert_eq(c->control.max_clients, 3);
	config_free(c);
	expect_errors(DP "control = { max_clients = 0; };\n",
		      ERRORS("t.conf:2: control.max_clients: 0 out of range "
			     "1-16384"));
}

Test(config, applying_on_save_is_off_unless_asked_for)
{
	struct lbd_config *c = expect_ok(DP);

	cr_assert_not(c->reload_on_change);
	config_free(c);
	c = expect_ok(DP "reload_on_change = true;\n");
	cr_assert(c->reload_on_change);
	config_free(c);
	expect_errors(DP "reload_on_change = 1;\n",
		      ERRORS("t.conf:2: reload_on_change: expected true or "
			     "false"));
}

Test(config, processes_user_defaults_to_lbd_and_is_not_empty)
{
	struct lbd_config *c = expect_ok(DP);

	cr_assert_str_eq(c->processes.user, "lbd");
	config_free(c);
	/* a user the host does not have is lbd's to report, not the file's */
	c = expect_ok(DP "processes = { user = \"lbd-elsewhere\"; };\n");
	cr_assert_str_eq(c->processes.user, "lbd-elsewhere");
	config_free(c);
	expect_errors(DP "processes = { user = \"\"; };\n",
		      ERRORS("t.conf:2: processes.user: a user name is "
			     "needed"));
	expect_errors(DP "processes = { usr = \"lbd\"; };\n",
		      ERRORS("t.conf:2: processes.usr: unknown setting"));
}

Test(config, unknown_service_setting_is_reported)
{
	expect_errors(DP "services = (\n"
			 "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
			 "\t  protcol = \"udp\"; }\n"
			 ");\n",
		      ERRORS("t.conf:4: services[web].protcol: unknown "
			     "setting"));
}

Test(config, unknown_backend_setting_is_reported)
{
	expect_errors(DP "services = (\n"
			 "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
			 "\t  backends = (\n"
			 "\t\t{ address = \"198.18.1.1\"; wieght = 2; }\n"
			 "\t); }\n"
			 ");\n",
		      ERRORS("t.conf:5: services[web].backends[0].wieght: "
			     "unknown setting"));
}

/* Wrong types */

Test(config, groups_and_lists_of_the_wrong_kind_are_reported)
{
	expect_errors("datapath = 1;\n"
		      "control = [ \"x\" ];\n"
		      "include_dir = 4;\n"
		      "services = { };\n",
		      ERRORS("t.conf:1: datapath: expected a group { ... }",
			     "t.conf:2: control: expected a group { ... }",
			     "t.conf:3: include_dir: expected a string",
			     "t.conf:4: services: expected a list ( { ... }, "
			     "... )"));
}

Test(config, service_and_backend_must_be_groups_in_lists)
{
	expect_errors(DP "services = (\n"
			 "\t5,\n"
			 "\t{ name = \"a\"; vip = \"192.0.2.1\"; port = 80;"
			 " backends = { }; },\n"
			 "\t{ name = \"b\"; vip = \"192.0.2.2\"; port = 80;"
			 " backends = ( \"198.18.1.1\" ); }\n"
			 ");\n",
		      ERRORS("t.conf:3: services[0]: expected a group { vip = "
			     "...; }",
			     "t.conf:4: services[a]: backends: expected a list "
			     "( { ... } )",
			     "t.conf:5: services[b].backends[0]: expected a "
			     "group { address = ...; }"));
}

Test(config, scalar_settings_of_the_wrong_type_are_reported)
{
	expect_errors(
		"datapath = { interface = 5; hash_seed = \"1\";"
		" encap_source_v4 = \"198.18.0.10\";\n"
		"\tudp_timeout = 1.5; pin_path = true; };\n"
		"control = { socket = 1; };\n"
		"services = (\n"
		"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = \"80\";\n"
		"\t  protocol = 6; icmp_echo = 1;\n"
		"\t  backends = ( { address = \"198.18.1.1\";"
		" weight = \"2\"; } ); }\n"
		");\n",
		ERRORS("t.conf:1: datapath.interface: expected a string",
		       "t.conf:1: datapath.hash_seed: expected an integer",
		       "t.conf:2: datapath.udp_timeout: expected an "
		       "integer",
		       "t.conf:2: datapath.pin_path: expected a string",
		       "t.conf:3: control.socket: expected a string",
		       "t.conf:5: services[web].port: expected an integer",
		       "t.conf:6: services[web].protocol: expected a "
		       "string",
		       "t.conf:6: services[web].icmp_echo: expected true "
		       "or false",
		       "t.conf:7: services[web].backends[0].weight: "
		       "expected an integer"));
}

Test(config, words_outside_their_choices_are_reported_with_the_choices)
{
	expect_errors(
		"datapath = { interface = \"lb0\"; xdp_mode = \"fast\";\n"
		"\tencap_source_v4 = \"198.18.0.10\"; };\n"
		"services = (\n"
		"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		"\t  protocol = \"sctp\"; forwarding = \"gre\";\n"
		"\t  no_backend = \"ignore\";\n"
		"\t  backends = ( { address = \"198.18.1.1\";"
		" state = \"up\"; } ); }\n"
		");\n",
		ERRORS("t.conf:1: datapath.xdp_mode: \"fast\" is not one "
		       "of auto | native | generic",
		       "t.conf:5: services[web].protocol: \"sctp\" is not "
		       "one of tcp | udp",
		       "t.conf:5: services[web].forwarding: \"gre\" is not "
		       "one of ipip | geneve | snat | hybrid",
		       "t.conf:6: services[web].no_backend: \"ignore\" is "
		       "not one of reject | drop",
		       "t.conf:7: services[web].backends[0].state: \"up\" "
		       "is not one of active | draining | down"));
}

Test(config, egress_interfaces_must_be_a_list_of_names)
{
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tegress_interfaces = \"lb1\"; };\n",
		      ERRORS("t.conf:2: datapath.egress_interfaces: expected a "
			     "list of interface names"));
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tegress_interfaces = [ \"lb1\", \"\" ]; };\n",
		      ERRORS("t.conf:2: datapath.egress_interfaces[1]: "
			     "expected an interface name"));
}

Test(config, interface_name_longer_than_the_kernel_allows_is_refused)
{
	expect_errors(
		"datapath = { interface = \"averyveryverylongname\"; };\n",
		ERRORS("t.conf:1: datapath.interface: longer than 15 "
		       "characters"));
}

Test(config, service_name_of_other_characters_is_refused)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"web 1\"; vip = \"192.0.2.1\"; port = 80; }\n"
		   ");\n",
		ERRORS("t.conf:3: services[0]: name \"web 1\": use up to "
		       "63 letters, digits, '-', '_' or '.'"));
}

/* Integer ranges */

Test(config, datapath_numbers_out_of_range_are_reported_with_the_range)
{
	expect_errors(
		"datapath = { interface = \"lb0\";\n"
		"\tconntrack_entries = 1000; max_services = 0;\n"
		"\tmax_backends = 16777217; max_vips = 0;\n"
		"\tudp_timeout = 0; tcp_timeout = 604801;\n"
		"\ticmp_rate = -1; hash_seed = -1; };\n",
		ERRORS("t.conf:5: datapath.hash_seed: -1 out of range "
		       "0-4294967295",
		       "t.conf:2: datapath.conntrack_entries: 1000 out of "
		       "range 1024-268435456",
		       "t.conf:2: datapath.max_services: 0 out of range "
		       "1-1048576",
		       "t.conf:3: datapath.max_backends: 16777217 out of "
		       "range 1-16777216",
		       "t.conf:3: datapath.max_vips: 0 out of range "
		       "1-1048576",
		       "t.conf:4: datapath.udp_timeout: 0 out of range "
		       "1-86400",
		       "t.conf:4: datapath.tcp_timeout: 604801 out of "
		       "range 1-604800",
		       "t.conf:5: datapath.icmp_rate: -1 out of range "
		       "0-1000000"));
}

Test(config, hash_seed_takes_every_32_bit_value_as_a_64_bit_literal)
{
	/* libconfig 1.5 wraps a decimal beyond 2^31 without the L suffix */
	struct lbd_config *c = expect_ok("datapath = { interface = \"lb0\";"
					 " hash_seed = 4294967295L; };\n");

	cr_assert_eq(c->dp.hash_seed, 0xffffffffu);
	config_free(c);
}

/* Addresses */

Test(config, vip_and_backend_must_be_single_addresses)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"a\"; vip = \"192.0.2.300\"; port = 80; },\n"
		   "\t{ name = \"b\"; vip = \"example.com\"; port = 80; },\n"
		   "\t{ name = \"c\"; vip = \"192.0.2.0/24\"; port = 80; },\n"
		   "\t{ name = \"d\"; vip = \"192.0.2.4\"; port = 80;\n"
		   "\t  backends = (\n"
		   "\t\t{ address = \"198.18.1.0/24\"; },\n"
		   "\t\t{ address = \"2001:db8::1::2\"; }\n"
		   "\t); }\n"
		   ");\n",
		ERRORS("t.conf:3: services[a].vip: \"192.0.2.300\" is not "
		       "an IP address",
		       "t.conf:4: services[b].vip: \"example.com\" is not "
		       "an IP address",
		       "t.conf:5: services[c].vip: \"192.0.2.0/24\" is not "
		       "an IP address",
		       "t.conf:8: services[d].backends[0].address: "
		       "\"198.18.1.0/24\" is not an IP address",
		       "t.conf:9: services[d].backends[1].address: "
		       "\"2001:db8::1::2\" is not an IP address"));
}

Test(config, encap_source_of_the_other_family_is_refused)
{
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tencap_source_v4 = \"2001:db8::10\";\n"
		      "\tencap_source_v6 = \"198.18.0.10\"; };\n",
		      ERRORS("t.conf:2: datapath.encap_source_v4: not an IPv4 "
			     "address",
			     "t.conf:3: datapath.encap_source_v6: not an IPv6 "
			     "address"));
}

Test(config, encap_source_that_is_no_address_is_refused)
{
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tencap_source_v4 = \"198.18.0.300\";\n"
		      "\tencap_source_v6 = \"2001:db8::/129\"; };\n",
		      ERRORS("t.conf:2: datapath.encap_source_v4: "
			     "\"198.18.0.300\" is not an IP address or prefix",
			     "t.conf:3: datapath.encap_source_v6: "
			     "\"2001:db8::/129\" is not an IP address or "
			     "prefix"));
}

Test(config, encap_prefix_may_leave_at_most_16_host_bits)
{
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tencap_source_v6 = \"2001:db8::/96\";\n"
		      "\tencap_source_v4 = \"198.18.0.0/8\"; };\n",
		      ERRORS("t.conf:3: datapath.encap_source_v4: "
			     "\"198.18.0.0/8\": the prefix may leave at most "
			     "16 host bits (/16 or longer)",
			     "t.conf:2: datapath.encap_source_v6: "
			     "\"2001:db8::/96\": the prefix may leave at most "
			     "16 host bits (/112 or longer)"));
}

Test(config, encap_prefix_with_host_bits_set_is_refused)
{
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tencap_source_v4 = \"198.18.0.10/24\"; };\n",
		      ERRORS("t.conf:2: datapath.encap_source_v4: "
			     "\"198.18.0.10/24\": host bits set; give the "
			     "prefix itself"));
}

Test(config, encap_prefix_is_read_with_its_length)
{
	struct lbd_config *c =
		expect_ok("datapath = { interface = \"lb0\";\n"
			  "\tencap_source_v4 = \"198.18.0.0/24\";\n"
			  "\tencap_source_v6 = \"2001:db8::/112\"; };\n");
	struct in6_addr v6 = { .s6_addr = { 0x20, 0x01, 0x0d, 0xb8 } };

	cr_assert_eq(c->dp.encap_v4.family, LBD_AF_INET);
	cr_assert_eq(c->dp.encap_v4.prefixlen, 24);
	cr_assert_eq(c->dp.encap_v4.addr.v4, htonl(0xc6120000));
	cr_assert_eq(c->dp.encap_v6.family, LBD_AF_INET6);
	cr_assert_eq(c->dp.encap_v6.prefixlen, 112);
	cr_assert_arr_eq(&c->dp.encap_v6.addr, &v6, 16);
	config_free(c);
}

Test(config, full_length_prefix_is_the_address_itself)
{
	struct lbd_config *c =
		expect_ok("datapath = { interface = \"lb0\";\n"
			  "\tencap_source_v4 = \"198.18.0.10/32\";\n"
			  "\tencap_source_v6 = \"2001:db8::10/128\"; };\n");

	cr_assert_eq(c->dp.encap_v4.prefixlen, 32);
	cr_assert_eq(c->dp.encap_v6.prefixlen, 128);
	config_free(c);
}

/* Families of VIP, backends and encapsulation source */

Test(config, geneve_backend_must_be_of_the_vip_family)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"v4\"; vip = \"192.0.2.1\"; port = 80;"
		   " forwarding = \"geneve\";\n"
		   "\t  backends = ( { address = \"2001:db8:1::1\"; } ); },\n"
		   "\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 80;"
		   " forwarding = \"geneve\";\n"
		   "\t  backends = ( { address = \"198.18.1.1\"; } ); }\n"
		   ");\n",
		ERRORS("t.conf:4: services[v4].backends[0]: "
		       "2001:db8:1::1 is not of the VIP's family: geneve "
		       "translates addresses within one family",
		       "t.conf:6: services[v6].backends[0]: 198.18.1.1 is "
		       "not of the VIP's family: geneve translates "
		       "addresses within one family"));
}

Test(config, ipv6_vip_with_ipv4_backend_is_refused)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"2001:db8:f::1\"; port = 80;\n"
		   "\t  backends = ( { address = \"198.18.1.1\"; } ); }\n"
		   ");\n",
		ERRORS("t.conf:4: services[web].backends[0]: an IPv6 VIP "
		       "cannot reach the IPv4 backend 198.18.1.1 (6-in-4 "
		       "is not supported)"));
}

Test(config, ipv4_vip_with_ipv6_backend_over_ipip_is_4_in_6)
{
	struct lbd_config *c = expect_ok(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "\t  backends = ( { address = \"2001:db8:1::1\"; } ); }\n"
		   ");\n");

	cr_assert_eq(c->services[0].vip.family, LBD_AF_INET);
	cr_assert_eq(c->services[0].fwd, LBD_FWD_IPIP);
	cr_assert_eq(c->backends[0].addr.family, LBD_AF_INET6);
	config_free(c);
}

Test(config, backend_needs_an_encap_source_of_its_family)
{
	expect_errors(
		"datapath = { interface = \"lb0\"; };\n"
		"services = (\n"
		"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		"\t  backends = (\n"
		"\t\t{ address = \"198.18.1.1\"; },\n"
		"\t\t{ address = \"2001:db8:1::1\"; }\n"
		"\t); }\n"
		");\n",
		ERRORS("t.conf:5: services[web].backends[0]: IPv4 backend "
		       "needs datapath.encap_source_v4",
		       "t.conf:6: services[web].backends[1]: IPv6 backend "
		       "needs datapath.encap_source_v6"));
}

Test(config, service_without_backends_needs_no_encap_source)
{
	struct lbd_config *c = expect_ok(
		"datapath = { interface = \"lb0\"; };\n"
		"services = ( { vip = \"192.0.2.1\"; port = 80; } );\n");

	cr_assert_eq(c->n_services, 1);
	cr_assert_eq(c->services[0].n_backends, 0);
	config_free(c);
}

/* Ports */

Test(config, service_port_out_of_range_is_reported_once)
{
	/* the backends' ports are not then compared to a port of 0 */
	expect_errors(DP
		      "services = (\n"
		      "\t{ name = \"a\"; vip = \"192.0.2.1\"; port = 0;\n"
		      "\t  backends = ( { address = \"198.18.1.1\";"
		      " port = 80; } ); },\n"
		      "\t{ name = \"b\"; vip = \"192.0.2.1\"; port = 65536; }\n"
		      ");\n",
		      ERRORS("t.conf:3: services[a].port: 0 out of range "
			     "1-65535",
			     "t.conf:5: services[b].port: 65536 out of range "
			     "1-65535"));
}

Test(config, backend_port_out_of_range_is_reported_once)
{
	/* not also as a duplicate of a backend on the service port */
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "\t  backends = (\n"
		   "\t\t{ address = \"198.18.1.1\"; port = 0; },\n"
		   "\t\t{ address = \"198.18.1.1\"; port = 65536; },\n"
		   "\t\t{ address = \"198.18.1.1\"; }\n"
		   "\t); }\n"
		   ");\n",
		ERRORS("t.conf:5: services[web].backends[0].port: 0 out of "
		       "range 1-65535",
		       "t.conf:6: services[web].backends[1].port: 65536 "
		       "out of range 1-65535"));
}

Test(config, ipip_backend_port_must_match_service_port)
{
	expect_errors(DP "services = (\n"
			 "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
			 "\t  backends = ( { address = \"198.18.1.1\";"
			 " port = 8080; } ); }\n"
			 ");\n",
		      ERRORS("t.conf:4: services[web].backends[0]: port 8080 "
			     "differs from the service port 80: ipip does not "
			     "translate ports (use geneve)"));
}

Test(config, geneve_backend_port_may_differ_from_service_port)
{
	struct lbd_config *c = expect_ok(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		   " forwarding = \"geneve\";\n"
		   "\t  backends = ( { address = \"198.18.1.1\";"
		   " port = 8080; } ); }\n"
		   ");\n");

	cr_assert_eq(c->services[0].fwd, LBD_FWD_GENEVE);
	cr_assert_eq(c->services[0].port, 80);
	cr_assert_eq(c->backends[0].port, 8080);
	config_free(c);
}

/* Duplicates */

Test(config, duplicate_vip_port_protocol_names_the_first_service)
{
	expect_errors(DP
		      "services = (\n"
		      "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80; },\n"
		      "\t{ name = \"web2\"; vip = \"192.0.2.1\"; port = 80;"
		      " protocol = \"tcp\"; }\n"
		      ");\n",
		      ERRORS("t.conf:4: services[web2]: 192.0.2.1:80/tcp is "
			     "already the service \"web\" (t.conf:3)"));
}

Test(config, duplicate_vip_is_found_however_the_address_is_written)
{
	expect_errors(DP "services = (\n"
			 "\t{ vip = \"2001:db8:f::1\"; port = 53;"
			 " protocol = \"udp\"; },\n"
			 "\t{ vip = \"2001:0db8:f:0:0::1\"; port = 53;"
			 " protocol = \"udp\"; }\n"
			 ");\n",
		      ERRORS("t.conf:4: services[2001:db8:f::1:53/udp]: "
			     "2001:db8:f::1:53/udp is already the service "
			     "\"2001:db8:f::1:53/udp\" (t.conf:3)"));
}

Test(config, same_vip_and_port_with_another_protocol_is_another_service)
{
	struct lbd_config *c = expect_ok(
		DP
		"services = (\n"
		"\t{ vip = \"192.0.2.1\"; port = 53; },\n"
		"\t{ vip = \"192.0.2.1\"; port = 53; protocol = \"udp\"; },\n"
		"\t{ vip = \"192.0.2.1\"; port = 54; },\n"
		"\t{ vip = \"2001:db8:f::1\"; port = 53; }\n"
		");\n");

	cr_assert_eq(c->n_services, 4);
	cr_assert_eq(c->services[1].proto, IPPROTO_UDP);
	config_free(c);
}

Test(config, duplicate_service_name_is_refused)
{
	expect_errors(DP
		      "services = (\n"
		      "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80; },\n"
		      "\t{ name = \"web\"; vip = \"192.0.2.2\"; port = 80; }\n"
		      ");\n",
		      ERRORS("t.conf:4: services[web]: name already used "
			     "(t.conf:3)"));
}

Test(config, services_missing_their_vip_are_not_also_duplicates)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ vip = \"192.0.2.300\"; port = 80; },\n"
		   "\t{ port = 80; }\n"
		   ");\n",
		ERRORS("t.conf:3: services[0].vip: \"192.0.2.300\" is not "
		       "an IP address",
		       "t.conf:4: services[1]: vip is required"));
}

Test(config, duplicate_backend_is_refused_with_its_default_port)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "\t  backends = (\n"
		   "\t\t{ address = \"198.18.1.1\"; },\n"
		   "\t\t{ address = \"198.18.1.2\"; },\n"
		   "\t\t{ address = \"198.18.1.1\"; port = 80; }\n"
		   "\t); }\n"
		   ");\n",
		ERRORS("t.conf:7: services[web].backends[2]: duplicate of "
		       "backends[0] (198.18.1.1 port 80)"));
}

Test(config, same_backend_address_on_two_ports_is_two_backends)
{
	struct lbd_config *c = expect_ok(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		   " forwarding = \"geneve\";\n"
		   "\t  backends = (\n"
		   "\t\t{ address = \"198.18.1.1\"; port = 8080; },\n"
		   "\t\t{ address = \"198.18.1.1\"; port = 8081; }\n"
		   "\t); }\n"
		   ");\n");

	cr_assert_eq(c->services[0].n_backends, 2);
	config_free(c);
}

Test(config, same_backend_in_two_services_is_allowed)
{
	struct lbd_config *c = expect_ok(
		DP "services = (\n"
		   "\t{ vip = \"192.0.2.1\"; port = 80;"
		   " backends = ( { address = \"198.18.1.1\"; } ); },\n"
		   "\t{ vip = \"192.0.2.2\"; port = 80;"
		   " backends = ( { address = \"198.18.1.1\"; } ); }\n"
		   ");\n");

	cr_assert_eq(c->n_backends, 2);
	config_free(c);
}

/* Weights */

Test(config, weight_out_of_range_is_refused)
{
	expect_errors(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "\t  backends = (\n"
		   "\t\t{ address = \"198.18.1.1\"; weight = -1; },\n"
		   "\t\t{ address = \"198.18.1.2\"; weight = 65536; }\n"
		   "\t); }\n"
		   ");\n",
		ERRORS("t.conf:5: services[web].backends[0].weight: -1 out "
		       "of range 0-65535",
		       "t.conf:6: services[web].backends[1].weight: 65536 "
		       "out of range 0-65535"));
}

Test(config, weight_takes_0_to_65535)
{
	struct lbd_config *c = expect_ok(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "\t  backends = (\n"
		   "\t\t{ address = \"198.18.1.1\"; weight = 0; },\n"
		   "\t\t{ address = \"198.18.1.2\"; weight = 65535; }\n"
		   "\t); }\n"
		   ");\n");

	cr_assert_eq(c->backends[0].weight, 0);
	cr_assert_eq(c->backends[1].weight, 65535);
	config_free(c);
}

/* Maglev table size */

Test(config, maglev_table_size_must_be_prime)
{
	expect_errors(
		"datapath = { interface = \"lb0\";\n"
		"\tmaglev_table_size = 65536; };\n",
		ERRORS("t.conf:2: datapath.maglev_table_size: 65536 is not "
		       "a prime (Maglev needs one)"));
}

Test(config, maglev_table_size_below_the_minimum_is_refused)
{
	/* 241 is a prime: the size is what is refused */
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tmaglev_table_size = 241; };\n",
		      ERRORS("t.conf:2: datapath.maglev_table_size: 241 is too "
			     "small (at least 251)"));
}

Test(config, maglev_table_size_above_the_maximum_is_refused)
{
	expect_errors(
		"datapath = { interface = \"lb0\";\n"
		"\tmaglev_table_size = 1048583; };\n",
		ERRORS("t.conf:2: datapath.maglev_table_size: 1048583 out "
		       "of range 0-1048573"));
}

Test(config, maglev_table_size_takes_primes_from_the_minimum_to_the_maximum)
{
	struct lbd_config *c;

	c = expect_ok("datapath = { interface = \"lb0\";"
		      " maglev_table_size = 251; };\n");
	cr_assert_eq(c->dp.maglev_table_size, 251);
	config_free(c);
	c = expect_ok("datapath = { interface = \"lb0\";"
		      " maglev_table_size = 1048573; };\n");
	cr_assert_eq(c->dp.maglev_table_size, 1048573);
	config_free(c);
}

/* Required settings */

Test(config, service_needs_vip_and_port)
{
	expect_errors(DP "services = (\n"
			 "\t{ name = \"a\"; port = 80; },\n"
			 "\t{ name = \"b\"; vip = \"192.0.2.1\"; }\n"
			 ");\n",
		      ERRORS("t.conf:3: services[a]: vip is required",
			     "t.conf:4: services[b]: port is required"));
}

Test(config, backend_needs_an_address)
{
	expect_errors(DP "services = (\n"
			 "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
			 "\t  backends = ( { port = 80; } ); }\n"
			 ");\n",
		      ERRORS("t.conf:4: services[web].backends[0]: address is "
			     "required"));
}

Test(config, datapath_needs_an_interface)
{
	expect_errors("services = ();\n"
		      "datapath = {\n"
		      "\tinterface = \"\";\n"
		      "};\n",
		      ERRORS("t.conf:2: datapath.interface: required: the "
			     "edge NIC to attach to"));
	/* without a datapath group there is no line to name */
	expect_errors("services = ();\n",
		      ERRORS("t.conf:0: datapath.interface: required: the "
			     "edge NIC to attach to"));
}

/* One pass */

Test(config, every_problem_of_a_file_is_reported_in_one_pass)
{
	/* one from each stage: group members, a value, the cross checks */
	expect_errors(
		"datapath = { interface = \"lb0\";"
		" encap_source_v4 = \"198.18.0.10\";\n"
		"\tmax_vipz = 8; };\n"
		"services = (\n"
		"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		"\t  backends = (\n"
		"\t\t{ address = \"198.18.1.1\"; weight = 70000; },\n"
		"\t\t{ address = \"198.18.1.2\"; port = 81; }\n"
		"\t); }\n"
		");\n",
		ERRORS("t.conf:2: datapath.max_vipz: unknown setting",
		       "t.conf:6: services[web].backends[0].weight: 70000 "
		       "out of range 0-65535",
		       "t.conf:7: services[web].backends[1]: port 81 "
		       "differs from the service port 80: ipip does not "
		       "translate ports (use geneve)"));
}

/* Limits */

Test(config, more_services_than_max_services_is_reported_at_the_first_over)
{
	expect_errors("datapath = { interface = \"lb0\"; max_services = 2; };\n"
		      "services = (\n"
		      "\t{ vip = \"192.0.2.1\"; port = 80; },\n"
		      "\t{ vip = \"192.0.2.2\"; port = 80; },\n"
		      "\t{ vip = \"192.0.2.3\"; port = 80; }\n"
		      ");\n",
		      ERRORS("t.conf:5: services: 3 services, more than "
			     "datapath.max_services (2)"));
}

Test(config, more_backends_than_max_backends_is_reported_at_the_first_over)
{
	expect_errors("datapath = { interface = \"lb0\"; max_backends = 2;"
		      " encap_source_v4 = \"198.18.0.10\"; };\n"
		      "services = (\n"
		      "\t{ vip = \"192.0.2.1\"; port = 80; backends = (\n"
		      "\t\t{ address = \"198.18.1.1\"; },\n"
		      "\t\t{ address = \"198.18.1.2\"; } ); },\n"
		      "\t{ vip = \"192.0.2.2\"; port = 80; backends = (\n"
		      "\t\t{ address = \"198.18.1.1\"; } ); }\n"
		      ");\n",
		      ERRORS("t.conf:7: services: 3 backends, more than "
			     "datapath.max_backends (2)"));
}

/* Defaults and values read */

Test(config, service_and_backend_defaults)
{
	struct lbd_config *c = expect_ok(
		DP "services = (\n"
		   "\t{ vip = \"192.0.2.1\"; port = 443;\n"
		   "\t  backends = ( { address = \"198.18.1.1\"; } ); }\n"
		   ");\n");
	const struct lbd_conf_service *s = &c->services[0];
	const struct lbd_conf_backend *b = &c->backends[0];

	cr_assert_eq(c->n_services, 1);
	cr_assert_str_eq(s->name, "192.0.2.1:443/tcp");
	cr_assert_eq(s->proto, IPPROTO_TCP);
	cr_assert_eq(s->fwd, LBD_FWD_IPIP);
	cr_assert_eq(s->no_backend, LBD_NB_REJECT);
	cr_assert(s->icmp_echo);
	cr_assert_eq(s->file, 0);
	cr_assert_eq(s->line, 3);
	cr_assert_eq(s->first_backend, 0);
	cr_assert_eq(s->n_backends, 1);
	cr_assert_eq(b->port, 443, "a backend's port is the service's");
	cr_assert_eq(b->weight, 1);
	cr_assert_eq(b->state, LBD_CS_ACTIVE);
	cr_assert_eq(b->line, 4);
	config_free(c);
}

Test(config, datapath_and_control_defaults)
{
	struct lbd_config *c =
		expect_ok("datapath = { interface = \"lb0\"; };\n");

	cr_assert_str_eq(c->dp.interface, "lb0");
	cr_assert_eq(c->dp.xdp_mode, LBD_XDP_AUTO);
	cr_assert_eq(c->dp.encap_v4.family, 0);
	cr_assert_eq(c->dp.encap_v6.family, 0);
	cr_assert_eq(c->dp.maglev_table_size, 16381);
	cr_assert_eq(c->dp.hash_seed, 0);
	cr_assert_eq(c->dp.conntrack_entries, LBD_DEFAULT_CT_ENTRIES);
	cr_assert_eq(c->dp.max_services, LBD_DEFAULT_MAX_SERVICES);
	cr_assert_eq(c->dp.max_backends, LBD_DEFAULT_MAX_BACKENDS);
	cr_assert_eq(c->dp.max_vips, LBD_DEFAULT_MAX_VIPS);
	cr_assert_eq(c->dp.udp_timeout, 60);
	cr_assert_eq(c->dp.tcp_timeout, 3600);
	cr_assert_eq(c->dp.icmp_rate, 100);
	cr_assert_str_eq(c->dp.pin_path, "/sys/fs/bpf/lbd");
	cr_assert_eq(c->dp.n_egress, 0);
	cr_assert_str_eq(c->control.socket, "/run/lbd/lbd.sock");
	cr_assert_str_eq(c->control.metrics_listen, "127.0.0.1:9470");
	cr_assert_str_eq(c->include_dir, "");
	cr_assert_eq(c->n_services, 0);
	cr_assert_eq(c->n_files, 1);
	cr_assert_str_eq(c->files[0], "t.conf");
	config_free(c);
}

Test(config, every_setting_is_read)
{
	struct lbd_config *c = expect_ok(
		"datapath = {\n"
		"\tinterface = \"eth1\"; xdp_mode = \"native\";\n"
		"\tencap_source_v4 = \"198.18.0.10\";\n"
		"\tmaglev_table_size = 251; hash_seed = 42;\n"
		"\tconntrack_entries = 4096; max_services = 10;\n"
		"\tmax_backends = 20; max_vips = 5;\n"
		"\tudp_timeout = 30; tcp_timeout = 600; icmp_rate = 0;\n"
		"\tpin_path = \"/sys/fs/bpf/lbd-test\";\n"
		"\tegress_interfaces = [ \"eth2\", \"eth3\" ];\n"
		"};\n"
		"control = { socket = \"/tmp/lbd.sock\";"
		" metrics_listen = \"[::1]:9999\"; };\n"
		"services = (\n"
		"\t{ name = \"dns\"; vip = \"192.0.2.53\"; port = 53;"
		" protocol = \"udp\";\n"
		"\t  forwarding = \"geneve\"; no_backend = \"drop\";"
		" icmp_echo = false;\n"
		"\t  backends = (\n"
		"\t\t{ address = \"198.18.1.1\"; port = 5353; weight = 7;"
		" state = \"draining\"; },\n"
		"\t\t{ address = \"198.18.1.2\"; state = \"down\"; }\n"
		"\t); }\n"
		");\n");
	const struct lbd_conf_service *s = &c->services[0];

	cr_assert_str_eq(c->dp.interface, "eth1");
	cr_assert_eq(c->dp.xdp_mode, LBD_XDP_NATIVE);
	cr_assert_eq(c->dp.encap_v4.addr.v4, htonl(0xc612000a));
	cr_assert_eq(c->dp.encap_v4.prefixlen, 32);
	cr_assert_eq(c->dp.maglev_table_size, 251);
	cr_assert_eq(c->dp.hash_seed, 42);
	cr_assert_eq(c->dp.conntrack_entries, 4096);
	cr_assert_eq(c->dp.max_services, 10);
	cr_assert_eq(c->dp.max_backends, 20);
	cr_assert_eq(c->dp.max_vips, 5);
	cr_assert_eq(c->dp.udp_timeout, 30);
	cr_assert_eq(c->dp.tcp_timeout, 600);
	cr_assert_eq(c->dp.icmp_rate, 0);
	cr_assert_str_eq(c->dp.pin_path, "/sys/fs/bpf/lbd-test");
	cr_assert_eq(c->dp.n_egress, 2);
	cr_assert_str_eq(c->dp.egress[0], "eth2");
	cr_assert_str_eq(c->dp.egress[1], "eth3");
	cr_assert_str_eq(c->control.socket, "/tmp/lbd.sock");
	cr_assert_str_eq(c->control.metrics_listen, "[::1]:9999");
	cr_assert_str_eq(s->name, "dns");
	cr_assert_eq(s->vip.addr.v4, htonl(0xc0000235));
	cr_assert_eq(s->port, 53);
	cr_assert_eq(s->proto, IPPROTO_UDP);
	cr_assert_eq(s->fwd, LBD_FWD_GENEVE);
	cr_assert_eq(s->no_backend, LBD_NB_DROP);
	cr_assert_not(s->icmp_echo);
	cr_assert_eq(s->n_backends, 2);
	cr_assert_eq(c->backends[0].port, 5353);
	cr_assert_eq(c->backends[0].weight, 7);
	cr_assert_eq(c->backends[0].state, LBD_CS_DRAINING);
	cr_assert_eq(c->backends[1].port, 53);
	cr_assert_eq(c->backends[1].state, LBD_CS_DOWN);
	config_free(c);
}

/* include_dir: files of their own, read from disk */

static char tmpdir[64];

static void tmp_make(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lbd-unit-config-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Runs after a failed assertion too. */
static void tmp_remove(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

/* Writes text to tmpdir/name; returns the path in buf. */
static const char *tmp_file(const char *name, const char *text, char *buf,
			    size_t len)
{
	FILE *f;

	snprintf(buf, len, "%s/%s", tmpdir, name);
	f = fopen(buf, "w");
	cr_assert_not_null(f, "%s: %s", buf, strerror(errno));
	fputs(text, f);
	fclose(f);
	return buf;
}

static void tmp_subdir(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	cr_assert_eq(mkdir(path, 0700), 0, "%s: %s", path, strerror(errno));
}

/* The main file: line 2 names tmpdir/conf.d, line 3 is service "main". */
static const char *main_conf(char *buf, size_t len)
{
	char text[512];

	snprintf(text, sizeof(text),
		 DP "include_dir = \"%s/conf.d\";\n"
		    "services = ( { name = \"main\"; vip = \"192.0.2.1\";"
		    " port = 80; } );\n",
		 tmpdir);
	return tmp_file("main.conf", text, buf, len);
}

static void tmp_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

Test(config, include_dir_files_are_read_in_name_order, .init = tmp_make,
     .fini = tmp_remove)
{
	char path[128], want[128];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_subdir("conf.d");
	/* created in an order that is not the names' either way round:
	 * readdir returns creation order or its reverse on some
	 * filesystems, a hash order on others */
	tmp_file("conf.d/a.conf",
		 "services = ( { name = \"a\"; vip = \"192.0.2.3\";"
		 " port = 80; } );\n",
		 path, sizeof(path));
	tmp_file("conf.d/10-z.conf",
		 "services = ( { name = \"z\"; vip = \"192.0.2.4\";"
		 " port = 80; } );\n",
		 path, sizeof(path));
	tmp_file("conf.d/b.conf",
		 "services = ( { name = \"b\"; vip = \"192.0.2.2\";"
		 " port = 80; } );\n",
		 path, sizeof(path));
	/* neither is read: both would be refused */
	tmp_file("conf.d/a.conf.orig", "not a config", path, sizeof(path));
	tmp_file("conf.d/.b.conf", "not a config", path, sizeof(path));
	main_conf(path, sizeof(path));

	err = config_load(path, &c, &d);
	c = check_accepted(err, c, &d);
	cr_assert_eq(c->n_files, 4);
	cr_assert_str_eq(c->files[0], path);
	tmp_path("conf.d/10-z.conf", want, sizeof(want));
	cr_assert_str_eq(c->files[1], want);
	tmp_path("conf.d/a.conf", want, sizeof(want));
	cr_assert_str_eq(c->files[2], want);
	tmp_path("conf.d/b.conf", want, sizeof(want));
	cr_assert_str_eq(c->files[3], want);
	cr_assert_eq(c->n_services, 4);
	cr_assert_str_eq(c->services[0].name, "main");
	cr_assert_str_eq(c->services[1].name, "z");
	cr_assert_eq(c->services[1].file, 1);
	cr_assert_str_eq(c->services[2].name, "a");
	cr_assert_eq(c->services[2].file, 2);
	cr_assert_str_eq(c->services[3].name, "b");
	cr_assert_eq(c->services[3].file, 3);
	config_free(c);
}

Test(config, include_dir_file_may_set_only_services, .init = tmp_make,
     .fini = tmp_remove)
{
	char path[128], inc[128], m1[256], m2[256], m3[256];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_subdir("conf.d");
	tmp_file("conf.d/a.conf",
		 "datapath = { hash_seed = 1; };\n"
		 "include_dir = \"/etc\";\n"
		 "services = ();\n"
		 "servics = ();\n",
		 inc, sizeof(inc));
	main_conf(path, sizeof(path));
	snprintf(m1, sizeof(m1),
		 "%s:1: datapath: only services may be set in an include_dir "
		 "file",
		 inc);
	snprintf(m2, sizeof(m2),
		 "%s:2: include_dir: only services may be set in an "
		 "include_dir file",
		 inc);
	snprintf(m3, sizeof(m3),
		 "%s:4: servics: only services may be set in an include_dir "
		 "file",
		 inc);

	err = config_load(path, &c, &d);
	check_rejected(err, c, &d, ERRORS(m1, m2, m3));
}

Test(config, duplicate_across_include_dir_files_names_the_other_file,
     .init = tmp_make, .fini = tmp_remove)
{
	char path[128], a[128], b[128], m1[512], m2[512];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_subdir("conf.d");
	tmp_file("conf.d/a.conf",
		 "services = (\n"
		 "\t{ name = \"a\"; vip = \"192.0.2.1\"; port = 80; }\n"
		 ");\n",
		 a, sizeof(a));
	tmp_file("conf.d/b.conf",
		 "services = (\n"
		 "\t{ name = \"b\"; vip = \"192.0.2.2\"; port = 80; },\n"
		 "\t{ name = \"a\"; vip = \"192.0.2.3\"; port = 80; }\n"
		 ");\n",
		 b, sizeof(b));
	main_conf(path, sizeof(path));
	snprintf(m1, sizeof(m1),
		 "%s:2: services[a]: 192.0.2.1:80/tcp is already the service "
		 "\"main\" (%s:3)",
		 a, path);
	snprintf(m2, sizeof(m2), "%s:3: services[a]: name already used (%s:2)",
		 b, a);

	err = config_load(path, &c, &d);
	check_rejected(err, c, &d, ERRORS(m1, m2));
}

Test(config, include_dir_of_a_config_in_memory_is_read_from_disk,
     .init = tmp_make, .fini = tmp_remove)
{
	char text[512], inc[128], m[512];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_subdir("conf.d");
	tmp_file("conf.d/web.conf",
		 "services = (\n"
		 "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		 " protocol = \"udp\"; },\n"
		 "\t{ name = \"web2\"; vip = \"192.0.2.1\"; port = 80; }\n"
		 ");\n",
		 inc, sizeof(inc));
	snprintf(text, sizeof(text),
		 DP "services = ( { vip = \"192.0.2.1\"; port = 80; } );\n"
		    "include_dir = \"%s/conf.d\";\n",
		 tmpdir);
	snprintf(m, sizeof(m),
		 "%s:3: services[web2]: 192.0.2.1:80/tcp is already the "
		 "service \"192.0.2.1:80/tcp\" (t.conf:2)",
		 inc);

	err = config_load_string(text, "t.conf", &c, &d);
	check_rejected(err, c, &d, ERRORS(m));
}

Test(config, syntax_error_in_an_include_dir_file_names_it_and_reading_goes_on,
     .init = tmp_make, .fini = tmp_remove)
{
	char path[128], a[128], b[128], m1[256], m2[256];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_subdir("conf.d");
	tmp_file("conf.d/a.conf",
		 "services = (\n"
		 "\t{ name = \"a\"; vip = \"192.0.2.2\"; port = 80 },\n"
		 "\t{ name = \"a2\" vip = ; }\n"
		 ");\n",
		 a, sizeof(a));
	tmp_file(
		"conf.d/b.conf",
		"services = (\n"
		"\t{ name = \"b\"; vip = \"192.0.2.3\"; port = 80; hops = 1; }\n"
		");\n",
		b, sizeof(b));
	main_conf(path, sizeof(path));
	snprintf(m1, sizeof(m1), "%s:3: syntax: syntax error", a);
	snprintf(m2, sizeof(m2), "%s:2: services[b].hops: unknown setting", b);

	err = config_load(path, &c, &d);
	check_rejected(err, c, &d, ERRORS(m1, m2));
}

Test(config, missing_include_dir_is_reported_at_its_line, .init = tmp_make,
     .fini = tmp_remove)
{
	char text[256], m[256];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	snprintf(text, sizeof(text), DP "\ninclude_dir = \"%s/none\";\n",
		 tmpdir);
	snprintf(m, sizeof(m),
		 "t.conf:3: include_dir: %s/none: No such file or directory",
		 tmpdir);

	err = config_load_string(text, "t.conf", &c, &d);
	check_rejected(err, c, &d, ERRORS(m));
}

Test(config, missing_config_file_cannot_be_read, .init = tmp_make,
     .fini = tmp_remove)
{
	char path[128], m[256];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_path("none.conf", path, sizeof(path));
	snprintf(m, sizeof(m), "%s: cannot read: No such file or directory",
		 path);

	err = config_load(path, &c, &d);
	check_rejected(err, c, &d, ERRORS(m));
}

Test(config, config_file_on_disk_reports_its_path_and_lines, .init = tmp_make,
     .fini = tmp_remove)
{
	char path[128], m[256];
	struct lbd_config *c = NULL;
	struct config_diag d;
	int err;

	tmp_file("lbd.conf",
		 DP "services = (\n"
		    "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		    " weight = 1; }\n"
		    ");\n",
		 path, sizeof(path));
	snprintf(m, sizeof(m), "%s:3: services[web].weight: unknown setting",
		 path);

	err = config_load(path, &c, &d);
	check_rejected(err, c, &d, ERRORS(m));
}

/* SNAT, hybrid, source ranges, affinity, NodePort-style services */

Test(config, snat_translates_within_one_family)
{
	expect_errors(DP "services = ( { name = \"s\"; vip = \"203.0.113.1\";"
			 " port = 80;\n"
			 "\tforwarding = \"snat\"; backends = (\n"
			 "\t\t{ address = \"2001:db8:1::1\"; } ); } );\n",
		      ERRORS("t.conf:4: services[s].backends[0]: "
			     "2001:db8:1::1 is not of the VIP's family: snat "
			     "translates addresses within one family"));
}

Test(config, snat_needs_a_source_address)
{
	expect_errors("datapath = { interface = \"lb0\"; encap_source_v4 = "
		      "\"198.18.0.0/28\"; };\n"
		      "services = ( { name = \"s\"; vip = \"203.0.113.1\";"
		      " port = 80;\n"
		      "\tforwarding = \"snat\"; backends = (\n"
		      "\t\t{ address = \"198.18.1.1\"; port = 8080; } ); } );\n",
		      ERRORS("t.conf:4: services[s].backends[0]: snat needs "
			     "datapath.snat_source_v4 (or a single "
			     "encap_source_v4)"));
}

Test(config, snat_source_defaults_to_a_single_encap_source)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"203.0.113.1\"; port = 80; "
		   "forwarding = \"snat\";\n"
		   "\tbackends = ( { address = \"198.18.1.1\"; port = 8080; } "
		   "); } );\n");

	cr_assert_eq(c->dp.snat_v4.family, LBD_AF_INET);
	cr_assert_eq(c->dp.snat_v4.addr.v4, htonl(0xc612000a));
	cr_assert_eq(c->services[0].fwd, LBD_FWD_SNAT);
	cr_assert_eq(c->dp.snat_port_min, 61000);
	cr_assert_eq(c->dp.snat_port_max, 65535);
	config_free(c);
}

Test(config, snat_ports_must_be_a_range)
{
	expect_errors("datapath = { interface = \"lb0\";\n"
		      "\tsnat_ports = \"65000-61000\"; };\n",
		      ERRORS("t.conf:2: datapath.snat_ports: \"65000-61000\" "
			     "is not a port range like 61000-65535"));
}

Test(config, hybrid_tcp_follows_the_dsr_rules)
{
	/* TCP by ipip: ports cannot change */
	expect_errors(DP "services = ( { name = \"h\"; vip = \"203.0.113.1\";"
			 " port = 80;\n"
			 "\tforwarding = \"hybrid\"; backends = (\n"
			 "\t\t{ address = \"198.18.1.1\"; port = 8080; } ); }"
			 " );\n",
		      ERRORS("t.conf:4: services[h].backends[0]: port 8080 "
			     "differs from the service port 80: ipip does not "
			     "translate ports (use geneve)"));
}

Test(config, hybrid_udp_is_snat)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"203.0.113.1\"; port = 53; "
		   "protocol = \"udp\";\n"
		   "\tforwarding = \"hybrid\"; backends = ( { address = "
		   "\"198.18.1.1\"; port = 5353; } ); } );\n");

	cr_assert_eq(c->services[0].fwd, LBD_FWD_HYBRID);
	cr_assert_eq(c->services[0].dsr, LBD_FWD_IPIP);
	config_free(c);
}

Test(config, dsr_only_with_hybrid)
{
	expect_errors(DP "services = ( { name = \"s\"; vip = \"203.0.113.1\";"
			 " port = 80;\n"
			 "\tforwarding = \"geneve\"; dsr = \"geneve\"; } );\n",
		      ERRORS("t.conf:3: services[s]: dsr: only with "
			     "forwarding = \"hybrid\""));
}

Test(config, source_ranges_are_prefixes)
{
	expect_errors(DP "services = ( { name = \"s\"; vip = \"203.0.113.1\";"
			 " port = 80;\n"
			 "\tsource_ranges = (\"192.0.2.0/24\", \"192.0.2.0/33\","
			 " \"nowhere\"); } );\n",
		      ERRORS("t.conf:3: services[s].source_ranges[1]: expected "
			     "an IP prefix like 192.0.2.0/24",
			     "t.conf:3: services[s].source_ranges[2]: expected "
			     "an IP prefix like 192.0.2.0/24"));
}

Test(config, source_ranges_keep_their_network)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"203.0.113.1\"; port = 80;\n"
		   "\tsource_ranges = (\"192.0.2.77/24\", \"2001:db8:c::/48\");"
		   " source_ranges_mode = \"deny\"; } );\n");

	cr_assert_eq(c->services[0].n_ranges, 2);
	cr_assert_eq(c->services[0].src_mode, LBD_SRC_DENY);
	/* host bits cleared */
	cr_assert_eq(c->ranges[0].addr.v4, htonl(0xc0000200));
	cr_assert_eq(c->ranges[0].prefixlen, 24);
	cr_assert_eq(c->ranges[1].prefixlen, 48);
	config_free(c);
}

Test(config, session_affinity_with_kubernetes_default_timeout)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"203.0.113.1\"; port = 80; "
		   "session_affinity = \"client_ip\"; },\n"
		   "\t{ vip = \"203.0.113.2\"; port = 80; session_affinity = "
		   "\"client_ip\"; affinity_timeout = 60; } );\n");

	cr_assert(c->services[0].affinity);
	cr_assert_eq(c->services[0].affinity_timeout, 10800);
	cr_assert_eq(c->services[1].affinity_timeout, 60);
	config_free(c);
}

Test(config, wildcard_vip_ports_in_the_nodeport_range)
{
	expect_errors(DP "services = ( { name = \"np\"; vip = \"*\"; port = "
			 "80; forwarding = \"snat\";\n"
			 "\tbackends = ( { address = \"198.18.1.1\"; } ); }"
			 " );\n",
		      ERRORS("t.conf:2: services[np]: port 80 of vip \"*\" is "
			     "outside datapath.nodeport_ports 30000-32767"));
}

Test(config, wildcard_vip_cannot_use_ipip)
{
	expect_errors(DP "services = ( { name = \"np\"; vip = \"*\"; port = "
			 "30080;\n"
			 "\tbackends = ( { address = \"198.18.1.1\"; } ); }"
			 " );\n",
		      ERRORS("t.conf:2: services[np]: vip \"*\" cannot use "
			     "ipip: backends would have to own the LB host's "
			     "addresses (use geneve, snat or hybrid with dsr "
			     "geneve)"));
}

Test(config, wildcard_vip_backends_of_one_family)
{
	expect_errors(DP "services = ( { name = \"np\"; vip = \"*\"; port = "
			 "30080; forwarding = \"snat\";\n"
			 "\tbackends = ( { address = \"198.18.1.1\"; },\n"
			 "\t\t{ address = \"2001:db8:1::1\"; } ); } );\n",
		      ERRORS("t.conf:4: services[np]: the backends of vip "
			     "\"*\" must be of one family"));
}

Test(config, two_wildcard_services_on_one_port_clash)
{
	expect_errors(DP "services = (\n"
			 "\t{ name = \"a\"; vip = \"*\"; port = 30080; "
			 "forwarding = \"snat\"; },\n"
			 "\t{ name = \"b\"; vip = \"*\"; port = 30080; "
			 "forwarding = \"snat\"; } );\n",
		      ERRORS("t.conf:4: services[b]: *:30080/tcp is already "
			     "the service \"a\" (t.conf:3)"));
}

/* kubernetes = { ... } */

Test(config, kubernetes_group_reads_with_its_defaults)
{
	struct lbd_config *c = expect_ok(
		DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
		   "\tload_balancer_class = \"lbd.io/lb\"; };\n");

	cr_assert(c->k8s.enabled);
	cr_assert_str_eq(c->k8s.kubeconfig, "/dev/null");
	cr_assert_str_eq(c->k8s.lb_class, "lbd.io/lb");
	cr_assert_str_eq(c->k8s.context, "");
	cr_assert_str_eq(c->k8s.namespace, "");
	cr_assert_eq(c->k8s.fwd, LBD_FWD_GENEVE,
		     "Services translate ports: geneve by default");
	cr_assert_eq(c->k8s.line, 2);
	config_free(c);
}

Test(config, kubernetes_absent_is_off)
{
	struct lbd_config *c = expect_ok(DP);

	cr_assert(!c->k8s.enabled);
	config_free(c);
}

Test(config, kubernetes_settings_are_all_read)
{
	struct lbd_config *c = expect_ok(
		DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
		   "\tload_balancer_class = \"example.com/x\";\n"
		   "\tcontext = \"prod\"; namespace = \"edge\";\n"
		   "\tforwarding = \"ipip\"; };\n");

	cr_assert_str_eq(c->k8s.context, "prod");
	cr_assert_str_eq(c->k8s.namespace, "edge");
	cr_assert_eq(c->k8s.fwd, LBD_FWD_IPIP);
	config_free(c);
}

Test(config, kubernetes_needs_kubeconfig_and_class)
{
	expect_errors(DP "kubernetes = {\n"
			 "\tnamespace = \"edge\"; };\n",
		      ERRORS("t.conf:2: kubernetes.kubeconfig: required: the "
			     "kubeconfig file to reach the cluster with",
			     "t.conf:2: kubernetes.load_balancer_class: "
			     "required: the spec.loadBalancerClass of the "
			     "Services lbd serves (e.g. \"lbd.io/lb\")"));
}

Test(config, kubernetes_errors_name_file_line_and_setting)
{
	expect_errors(
		DP "kubernetes = {\n"
		   "\tkubeconfig = \"/nonexistent/kubeconfig\";\n"
		   "\tload_balancer_class = \"\";\n"
		   "\tforwarding = \"hybrid\";\n"
		   "\twatch = true; };\n",
		ERRORS("t.conf:6: kubernetes.watch: unknown setting",
		       "t.conf:5: kubernetes.forwarding: \"hybrid\" is not "
		       "one of ipip | geneve | snat",
		       "t.conf:3: kubernetes.kubeconfig: "
		       "/nonexistent/kubeconfig: No such file or directory",
		       "t.conf:4: kubernetes.load_balancer_class: empty"));
	expect_errors(DP "kubernetes = \"on\";\n",
		      ERRORS("t.conf:2: kubernetes: expected a group { ... }"));
}

Test(config, kubernetes_is_not_for_the_backend_role)
{
	expect_errors("role = \"backend\";\n"
		      "backend_node = { interface = \"eth0\";\n"
		      "\tlb_sources = ( \"198.18.0.10\" ); };\n"
		      "kubernetes = { kubeconfig = \"/dev/null\"; };\n",
		      ERRORS("t.conf:4: kubernetes: not with role = "
			     "\"backend\""));
}

Test(config, kubernetes_health_is_one_check_for_the_clusters_backends)
{
	struct lbd_config *c = expect_ok(
		DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
		   "\tload_balancer_class = \"lbd.io/lb\";\n"
		   "\thealth = { interval = 0.5; timeout = 0.2; }; };\n");
	const struct lbd_conf_health *h = &c->healths[c->k8s.health];

	cr_assert_neq(c->k8s.health, 0);
	cr_assert_eq(h->type, LBD_HC_TCP, "tcp when no type is given");
	cr_assert_eq(h->via, LBD_HC_VIA_DATAPATH, "geneve: through it");
	config_free(c);

	c = expect_ok(DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
			 "\tload_balancer_class = \"lbd.io/lb\";\n"
			 "\tforwarding = \"snat\"; health = { }; };\n");
	cr_assert_eq(c->healths[c->k8s.health].via, LBD_HC_VIA_ADDRESS,
		     "snat sends nothing encapsulated to check with");
	config_free(c);
	expect_errors(DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
			 "\tload_balancer_class = \"lbd.io/lb\";\n"
			 "\tforwarding = \"snat\";\n"
			 "\thealth = { via = \"datapath\"; }; };\n",
		      ERRORS("t.conf:5: kubernetes.health: via = "
			     "\"datapath\": snat forwarding sends no "
			     "encapsulated packets to check with"));
}

/* Health checks: per service, overridable per backend */

Test(config, services_without_health_are_not_checked)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"192.0.2.1\"; port = 80;\n"
		   "  backends = ( { address = \"198.18.1.11\"; } ); } );\n");
	const struct lbd_conf_health *h = config_health(c, &c->backends[0]);

	cr_assert_eq(h->type, LBD_HC_NONE);
	config_free(c);
}

Test(config, an_empty_health_group_checks_tcp_through_the_datapath)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"192.0.2.1\"; port = 80;\n"
		   "  health = { };\n"
		   "  backends = ( { address = \"198.18.1.11\"; } ); } );\n");
	const struct lbd_conf_health *h = config_health(c, &c->backends[0]);

	cr_assert_eq(h->type, LBD_HC_TCP);
	cr_assert_eq(h->via, LBD_HC_VIA_DATAPATH);
	cr_assert_eq(h->port, 0);
	cr_assert_eq(h->interval_ms, 2000);
	cr_assert_eq(h->timeout_ms, 1000);
	cr_assert_eq(h->rise, 2);
	cr_assert_eq(h->fall, 3);
	cr_assert_eq(h->expect_status, 200);
	cr_assert_str_eq(h->path, "/");
	cr_assert_str_eq(h->query, ".");
	config_free(c);
}

Test(config, health_settings_read_as_given)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"192.0.2.1\"; port = 80;\n"
		   "  forwarding = \"geneve\";\n"
		   "  health = { type = \"http\"; via = \"address\"; port = 8081;\n"
		   "    path = \"/healthz\"; host = \"web.example\";\n"
		   "    expect_status = 204; interval = 0.5; timeout = 0.25;\n"
		   "    rise = 1; fall = 5; };\n"
		   "  backends = ( { address = \"198.18.1.11\"; } ); } );\n");
	const struct lbd_conf_health *h = config_health(c, &c->backends[0]);

	cr_assert_eq(h->type, LBD_HC_HTTP);
	cr_assert_eq(h->via, LBD_HC_VIA_ADDRESS);
	cr_assert_eq(h->port, 8081);
	cr_assert_str_eq(h->path, "/healthz");
	cr_assert_str_eq(h->host, "web.example");
	cr_assert_eq(h->expect_status, 204);
	cr_assert_eq(h->interval_ms, 500);
	cr_assert_eq(h->timeout_ms, 250);
	cr_assert_eq(h->rise, 1);
	cr_assert_eq(h->fall, 5);
	config_free(c);
}

Test(config, a_backend_overrides_single_health_settings)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"192.0.2.1\"; port = 80;\n"
		   "  health = { type = \"http\"; path = \"/ok\"; interval = 3;\n"
		   "    timeout = 2; };\n"
		   "  backends = ( { address = \"198.18.1.11\"; },\n"
		   "    { address = \"198.18.1.12\";\n"
		   "      health = { interval = 10; via = \"address\"; }; } ); } );\n");
	const struct lbd_conf_health *a = config_health(c, &c->backends[0]);
	const struct lbd_conf_health *b = config_health(c, &c->backends[1]);

	cr_assert_eq(a->interval_ms, 3000);
	cr_assert_eq(a->via, LBD_HC_VIA_DATAPATH);
	cr_assert_eq(b->type, LBD_HC_HTTP, "the type is the service's");
	cr_assert_str_eq(b->path, "/ok", "the path is the service's");
	cr_assert_eq(b->timeout_ms, 2000);
	cr_assert_eq(b->interval_ms, 10000);
	cr_assert_eq(b->via, LBD_HC_VIA_ADDRESS);
	config_free(c);
}

Test(config, a_backend_health_group_checks_even_if_its_service_does_not)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"192.0.2.1\"; port = 80;\n"
		   "  backends = ( { address = \"198.18.1.11\"; },\n"
		   "    { address = \"198.18.1.12\"; health = { }; } ); } );\n");

	cr_assert_eq(config_health(c, &c->backends[0])->type, LBD_HC_NONE);
	cr_assert_eq(config_health(c, &c->backends[1])->type, LBD_HC_TCP);
	config_free(c);
}

Test(config, health_via_defaults_to_address_where_datapath_cannot_go)
{
	struct lbd_config *c = expect_ok(
		"datapath = { interface = \"lb0\"; encap_source_v4 = "
		"\"198.18.0.10\"; };\n"
		"services = (\n"
		   " { name = \"s\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "   forwarding = \"snat\"; health = { };\n"
		   "   backends = ( { address = \"198.18.1.11\"; } ); },\n"
		   " { name = \"p\"; vip = \"192.0.2.1\"; port = 81;\n"
		   "   health = { port = 9000; };\n"
		   "   backends = ( { address = \"198.18.1.11\"; } ); },\n"
		   " { name = \"u\"; vip = \"192.0.2.1\"; port = 53;\n"
		   "   protocol = \"udp\"; health = { type = \"http\"; };\n"
		   "   backends = ( { address = \"198.18.1.11\"; } ); },\n"
		   " { name = \"d\"; vip = \"192.0.2.1\"; port = 54;\n"
		   "   protocol = \"udp\"; health = { type = \"udp-dns\";\n"
		   "     query = \"example.\"; };\n"
		   "   backends = ( { address = \"198.18.1.12\"; } ); }\n"
		   ");\n");

	cr_assert_eq(config_health(c, &c->backends[0])->via,
		     LBD_HC_VIA_ADDRESS, "snat");
	cr_assert_eq(config_health(c, &c->backends[1])->via,
		     LBD_HC_VIA_ADDRESS, "a port of its own");
	cr_assert_eq(config_health(c, &c->backends[2])->via,
		     LBD_HC_VIA_ADDRESS, "http to a UDP service");
	cr_assert_eq(config_health(c, &c->backends[3])->via,
		     LBD_HC_VIA_DATAPATH, "dns to a UDP service");
	cr_assert_str_eq(config_health(c, &c->backends[3])->query, "example.");
	config_free(c);
}

Test(config, health_errors_name_the_setting)
{
	expect_errors(
		DP "services = ( { name = \"web\"; vip = \"192.0.2.1\";\n"
		   "  port = 80;\n"
		   "  health = { type = \"icmp\"; via = \"tunnel\";\n"
		   "    interval = 0.01; timeout = \"1s\"; rise = 0;\n"
		   "    fall = 101; path = \"healthz\"; expect_status = 700;\n"
		   "    retries = 3; };\n"
		   "  backends = ( { address = \"198.18.1.11\"; } ); } );\n",
		ERRORS("t.conf:7: services[web].health.retries: unknown "
		       "setting",
		       "t.conf:4: services[web].health.type: \"icmp\" is not "
		       "one of none | tcp | http | udp-dns",
		       "t.conf:4: services[web].health.via: \"tunnel\" is not "
		       "one of datapath | address",
		       "t.conf:6: services[web].health: path: \"healthz\" does "
		       "not start with '/'",
		       "t.conf:6: services[web].health.expect_status: 700 out "
		       "of range 100-599",
		       "t.conf:5: services[web].health.interval: 0.01 out of "
		       "range 0.1-3600 seconds",
		       "t.conf:5: services[web].health.timeout: expected "
		       "seconds (like 2 or 0.5)",
		       "t.conf:5: services[web].health.rise: 0 out of range "
		       "1-100",
		       "t.conf:6: services[web].health.fall: 101 out of range "
		       "1-100"));
}

Test(config, health_timeout_longer_than_interval_is_an_error)
{
	expect_errors(
		DP "services = ( { name = \"web\"; vip = \"192.0.2.1\";\n"
		   "  port = 80; backends = (\n"
		   "  { address = \"198.18.1.11\";\n"
		   "    health = { interval = 1; timeout = 2; }; } ); } );\n",
		ERRORS("t.conf:5: services[web].backends[0].health: timeout 2 "
		       "s is longer than interval 1 s: a check must end "
		       "before the next one starts"));
}

Test(config, a_udp_service_health_group_needs_a_type)
{
	expect_errors(
		DP "services = ( { name = \"dns\"; vip = \"192.0.2.1\";\n"
		   "  port = 53; protocol = \"udp\"; health = { };\n"
		   "  backends = ( { address = \"198.18.1.11\"; } ); } );\n",
		ERRORS("t.conf:3: services[dns].health: type is required for "
		       "a UDP service (udp-dns, or tcp or http to a port of "
		       "the backends)"));
}

Test(config, health_via_datapath_where_it_cannot_go_is_an_error)
{
	expect_errors(
		DP "services = (\n"
		   " { name = \"s\"; vip = \"192.0.2.1\"; port = 80;\n"
		   "   forwarding = \"snat\"; health = { via = \"datapath\"; };\n"
		   "   backends = ( { address = \"198.18.1.11\"; } ); },\n"
		   " { name = \"n\"; vip = \"*\"; port = 30080;\n"
		   "   forwarding = \"geneve\"; health = { via = \"datapath\"; };\n"
		   "   backends = ( { address = \"198.18.1.11\"; } ); },\n"
		   " { name = \"p\"; vip = \"192.0.2.1\"; port = 81;\n"
		   "   backends = ( { address = \"198.18.1.11\";\n"
		   "     health = { via = \"datapath\"; port = 9; }; } ); },\n"
		   " { name = \"u\"; vip = \"192.0.2.1\"; port = 82;\n"
		   "   health = { via = \"datapath\"; type = \"udp-dns\"; };\n"
		   "   backends = ( { address = \"198.18.1.11\"; } ); }\n"
		   ");\n",
		ERRORS("t.conf:4: services[s].health: via = \"datapath\": snat "
		       "forwarding sends no encapsulated packets to check with",
		       "t.conf:7: services[n].health: via = \"datapath\": vip \"*\" is "
		       "the LB host's own address, which its checks cannot "
		       "leave by",
		       "t.conf:11: services[p].backends[0].health: via = "
		       "\"datapath\": the check goes to the service port, as "
		       "traffic does (a port of its own needs via = "
		       "\"address\")",
		       "t.conf:13: services[u].health: via = \"datapath\": a udp-dns "
		       "check needs a UDP service"));
}

/* bgp: which VIPs are announced, and how */

Test(config, bgp_defaults)
{
	struct lbd_config *c = expect_ok(
		DP "bgp = { };\n"
		   "services = ( { vip = \"192.0.2.1\"; port = 80; } );\n");
	const struct lbd_conf_bgp_attrs *a;
	/* .b, not .v4: a union's other bytes are not zeroed by every
	 * compiler (clang leaves them) */
	union lbd_addr vip = { .b = { 192, 0, 2, 1 } };

	cr_assert(c->bgp.enabled);
	cr_assert_str_eq(c->bgp.socket, "/run/bird/bird.ctl");
	cr_assert_str_eq(c->bgp.file, "/run/lbd/bird/vips.conf");
	cr_assert_eq(c->bgp.shutdown_delay_ms, 5000);
	a = config_bgp_attrs(c, LBD_AF_INET, &vip);
	cr_assert(a->announce);
	cr_assert_eq(a->min_healthy, 1);
	cr_assert_eq(a->n_communities, 0);
	cr_assert_not(a->has_med);
	cr_assert_eq(a->prepend, 0);
	config_free(c);
}

Test(config, no_bgp_group_no_announcements)
{
	struct lbd_config *c = expect_ok(
		DP "services = ( { vip = \"192.0.2.1\"; port = 80; } );\n");

	cr_assert_not(c->bgp.enabled);
	config_free(c);
}

Test(config, bgp_vip_attributes_replace_the_defaults)
{
	struct lbd_config *c = expect_ok(
		DP "bgp = { socket = \"/run/bird/x.ctl\"; file = \"/tmp/v.conf\";\n"
		   "  asn = 65001; shutdown_delay = 0.5;\n"
		   "  communities = [ \"65001:100\" ]; med = 10;\n"
		   "  vips = ( { address = \"192.0.2.1\"; min_healthy = 2;\n"
		   "    communities = [ \"65001:200\", \"65535:65281\" ];\n"
		   "    large_communities = [ \"4200000000:1:2\" ];\n"
		   "    local_pref = 300; as_path_prepend = 2; },\n"
		   "    { address = \"2001:db8:f::1\"; announce = false; } ); };\n"
		   "services = ( { vip = \"192.0.2.1\"; port = 80; },\n"
		   "  { vip = \"192.0.2.2\"; port = 80; },\n"
		   "  { vip = \"2001:db8:f::1\"; port = 80; } );\n");
	/* .b, not .v4: a union's other bytes are not zeroed by every
	 * compiler (clang leaves them) */
	union lbd_addr v1 = { .b = { 192, 0, 2, 1 } };
	union lbd_addr v2 = { .b = { 192, 0, 2, 2 } };
	const struct lbd_conf_bgp_attrs *a = config_bgp_attrs(c, LBD_AF_INET,
							      &v1);
	const struct lbd_conf_bgp_attrs *d = config_bgp_attrs(c, LBD_AF_INET,
							      &v2);

	cr_assert_str_eq(c->bgp.socket, "/run/bird/x.ctl");
	cr_assert_str_eq(c->bgp.file, "/tmp/v.conf");
	cr_assert_eq(c->bgp.asn, 65001);
	cr_assert_eq(c->bgp.shutdown_delay_ms, 500);
	cr_assert_eq(c->bgp.n_vips, 2);
	cr_assert_eq(a->min_healthy, 2);
	cr_assert_eq(a->n_communities, 2);
	cr_assert_eq(a->communities[0][0], 65001);
	cr_assert_eq(a->communities[0][1], 200);
	cr_assert_eq(a->communities[1][1], 65281);
	cr_assert_eq(a->n_large, 1);
	cr_assert_eq(a->large[0][0], 4200000000u);
	cr_assert_eq(a->large[0][2], 2);
	cr_assert(a->has_med, "med comes from the defaults");
	cr_assert_eq(a->med, 10);
	cr_assert(a->has_local_pref);
	cr_assert_eq(a->local_pref, 300);
	cr_assert_eq(a->prepend, 2);
	cr_assert_eq(d->n_communities, 1, "a VIP not listed has the defaults");
	cr_assert_eq(d->communities[0][1], 100);
	cr_assert_not(c->bgp.vips[1].attrs.announce);
	config_free(c);
}

Test(config, bgp_errors_name_the_setting)
{
	expect_errors(
		DP "bgp = { socket = \"bird.ctl\"; med = -1;\n"
		   "  communities = [ \"65001:70000\", \"x\" ];\n"
		   "  large_communities = [ \"1:2\" ];\n"
		   "  as_path_prepend = 17; min_healthy = 0; shutdown = 1;\n"
		   "  vips = ( { address = \"192.0.2.9\"; },\n"
		   "    { med = 1; },\n"
		   "    { address = \"192.0.2.1\"; as_path_prepend = 1; },\n"
		   "    { address = \"192.0.2.1\"; } ); };\n"
		   "services = ( { vip = \"192.0.2.1\"; port = 80; } );\n",
		ERRORS("t.conf:5: bgp.shutdown: unknown setting",
		       "t.conf:2: bgp.socket: \"bird.ctl\" is not an absolute "
		       "path",
		       "t.conf:5: bgp.min_healthy: 0 out of range 1-16777216",
		       "t.conf:3: bgp.communities[0]: expected \"ASN:X\", two "
		       "numbers up to 65535",
		       "t.conf:3: bgp.communities[1]: expected \"ASN:X\", two "
		       "numbers up to 65535",
		       "t.conf:4: bgp.large_communities[0]: expected "
		       "\"ASN:X:Y\", three numbers up to 4294967295",
		       "t.conf:2: bgp.med: -1 out of range 0-4294967295",
		       "t.conf:5: bgp.as_path_prepend: 17 out of range 0-16",
		       "t.conf:7: bgp.vips[1]: address is required",
		       "t.conf:6: bgp.vips[0]: 192.0.2.9 is not the VIP of any "
		       "service",
		       "t.conf:9: bgp.vips[2]: 192.0.2.1 is already "
		       "bgp.vips[1]",
		       "t.conf:2: bgp.asn: required with as_path_prepend: the "
		       "AS number prepended (the LB host's own)"));
}

Test(config, bgp_is_not_for_a_backend)
{
	expect_errors("role = \"backend\";\n"
		      "backend_node = { interface = \"eth0\";\n"
		      "  lb_sources = ( \"198.18.0.10\" ); };\n"
		      "bgp = { };\n",
		      ERRORS("t.conf:4: bgp: a backend announces no VIPs (role "
			     "= \"backend\")"));
}

/* The example configs are valid (include_dir left out: it names a
 * directory of the installed system) */

static char *read_example(const char *name)
{
	char path[PATH_MAX], line[1024];
	size_t len = 0, cap = 1 << 16;
	char *text = calloc(1, cap);
	FILE *f;

	snprintf(path, sizeof(path), "%s/config/examples/%s", LBD_SOURCE_DIR,
		 name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "include_dir", 11))
			strcpy(line, "\n");
		cr_assert_lt(len + strlen(line), cap);
		strcpy(text + len, line);
		len += strlen(line);
	}
	fclose(f);
	return text;
}

Test(config, the_examples_load)
{
	static const char *const names[] = { "lbd.conf", "backend.conf",
					     "demo.conf" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct lbd_config *c = NULL;
		struct config_diag d;
		char *text = read_example(names[i]);
		int err = config_load_string(text, names[i], &c, &d);

		free(text);
		if (err)
			diag_print(names[i], &d, NULL);
		config_diag_free(&d);
		cr_assert_eq(err, 0, "%s: %d (messages above)", names[i], err);
		config_free(c);
	}
}

/* A list of n addresses, one a line from line 3 (libconfig gives a
 * value the line its next token is on: the list closes on the last
 * one's), the last one last. */
static char *addr_list_conf(const char *name, size_t n, const char *last)
{
	size_t cap = 64 * (n + 8), len;
	char *t = malloc(cap);
	size_t i;

	cr_assert_not_null(t);
	len = (size_t)snprintf(t, cap,
			       "role = \"backend\";\n"
			       "backend_node = { interface = \"eth0\";%s\n",
			       strcmp(name, "lb_sources") ?
				       " lb_sources = ( \"198.18.0.10\" );" :
				       "");
	len += (size_t)snprintf(t + len, cap - len, "%s = (\n", name);
	/* the list opens on line 3 with its first element */
	len--;
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(t + len, cap - len, " \"%s\"%s\n",
					i + 1 < n ? "198.18.2.1" : last,
					i + 1 < n ? "," : " ); };");
	return t;
}

/* The 65th lb_sources and the 257th vips address are refused at their own
 * line before they are stored: the lists hold 64 and 256. An invalid
 * address past the bound is reported as past the bound, which shows the
 * bound is checked first (it was checked after parsing into out[max],
 * one element past the array). */
Test(config, address_lists_stop_at_their_bound)
{
	char want[128], *t;

	t = addr_list_conf("lb_sources", 65, "198.18.0.20");
	snprintf(want, sizeof(want),
		 "t.conf:%d: backend_node.lb_sources[64]: at most 64 addresses",
		 3 + 64);
	expect_errors(t, ERRORS(want));
	free(t);
	t = addr_list_conf("lb_sources", 65, "no-address");
	expect_errors(t, ERRORS(want));
	free(t);

	t = addr_list_conf("vips", 257, "203.0.113.7");
	snprintf(want, sizeof(want),
		 "t.conf:%d: backend_node.vips[256]: at most 256 addresses",
		 3 + 256);
	expect_errors(t, ERRORS(want));
	free(t);
	t = addr_list_conf("vips", 257, "no-address");
	expect_errors(t, ERRORS(want));
	free(t);

	/* exactly at the bound: accepted, every address kept */
	t = addr_list_conf("vips", 256, "203.0.113.7");
	{
		struct lbd_config *c = expect_ok(t);

		cr_assert_eq(c->node.n_vips, 256);
		cr_assert_eq(c->node.vips[255].addr.v4, htonl(0xcb007107));
		cr_assert_eq(c->node.flow_timeout, 3600, "the next field kept");
		config_free(c);
	}
	free(t);
}

/* No service has a backend: the backends array is NULL, which validate
 * must not index (clang's UBSan, -DLBD_SANITIZE=ON with CC=clang:
 * "applying zero offset to null pointer"). */
Test(config, services_without_any_backend_validate)
{
	struct lbd_config *c = expect_ok(
		DP
		"services = ( { vip = \"203.0.113.1\"; port = 80; },\n"
		"  { vip = \"*\"; port = 30080; forwarding = \"snat\"; } );\n");

	cr_assert_null(c->backends);
	cr_assert_eq(c->n_services, 2);
	config_free(c);
}

/* Addresses no packet can be served on or sent to are refused as VIPs
 * and backends, each at its own line (issue 14: a Service could make
 * 0.0.0.0, 127.0.0.1, 224.0.0.1, 255.255.255.255, ::ffff:a.b.c.d a VIP
 * and 0.0.0.0 a backend; the file could too). */
Test(config, unusable_addresses_are_neither_vips_nor_backends)
{
	expect_errors(
		DP
		"services = (\n"
		"{ name = \"a\"; vip = \"0.0.0.0\"; port = 80; },\n"
		"{ name = \"b\"; vip = \"127.0.0.1\"; port = 80; },\n"
		"{ name = \"c\"; vip = \"224.0.0.1\"; port = 80; },\n"
		"{ name = \"d\"; vip = \"255.255.255.255\"; port = 80; },\n"
		"{ name = \"e\"; vip = \"::ffff:203.0.113.1\"; port = 80; },\n"
		"{ name = \"f\"; vip = \"fe80::1\"; port = 80; },\n"
		"{ name = \"g\"; vip = \"169.254.1.1\"; port = 80; },\n"
		"{ name = \"h\"; vip = \"::\"; port = 80; },\n"
		"{ name = \"i\"; vip = \"ff02::1\"; port = 80; },\n"
		"{ name = \"j\"; vip = \"203.0.113.1\"; port = 80;\n"
		"  backends = ( { address = \"0.0.0.0\"; },\n"
		"    { address = \"::1\"; },\n"
		"    { address = \"198.18.1.11\"; } ); } );\n",
		ERRORS("t.conf:3: services[a].vip: \"0.0.0.0\" is an "
		       "unspecified address: not a VIP",
		       "t.conf:4: services[b].vip: \"127.0.0.1\" is a loopback "
		       "address: not a VIP",
		       "t.conf:5: services[c].vip: \"224.0.0.1\" is a multicast "
		       "address: not a VIP",
		       "t.conf:6: services[d].vip: \"255.255.255.255\" is the "
		       "broadcast address: not a VIP",
		       "t.conf:7: services[e].vip: \"::ffff:203.0.113.1\" is an "
		       "IPv4-mapped IPv6 address: not a VIP",
		       "t.conf:8: services[f].vip: \"fe80::1\" is a link-local "
		       "address: not a VIP",
		       "t.conf:9: services[g].vip: \"169.254.1.1\" is a "
		       "link-local address: not a VIP",
		       "t.conf:10: services[h].vip: \"::\" is an unspecified "
		       "address: not a VIP",
		       "t.conf:11: services[i].vip: \"ff02::1\" is a multicast "
		       "address: not a VIP",
		       "t.conf:13: services[j].backends[0].address: \"0.0.0.0\" "
		       "is an unspecified address: not a backend",
		       "t.conf:14: services[j].backends[1].address: \"::1\" is "
		       "a loopback address: not a backend"));
	/* the ones next to them are fine */
	config_free(expect_ok(DP "services = ( { vip = \"203.0.113.1\"; port = "
				 "80; backends = ( { address = "
				 "\"198.18.1.11\"; } ); } );\n"));
	/* a backend's VIPs on its loopback likewise */
	expect_errors("role = \"backend\";\n"
		      "backend_node = { interface = \"eth0\";\n"
		      "  lb_sources = ( \"198.18.0.10\" );\n"
		      "  vips = ( \"203.0.113.1\", \"127.0.0.2\" ); };\n",
		      ERRORS("t.conf:4: backend_node.vips[1]: \"127.0.0.2\" is "
			     "a loopback address: not a VIP"));
}

Test(config, address_classes)
{
	static const struct {
		const char *a;
		bool usable;
	} t[] = {
		{ "0.0.0.0", false },
		{ "0.1.2.3", false },
		{ "127.0.0.1", false },
		{ "127.255.0.1", false },
		{ "169.254.7.7", false },
		{ "224.0.0.1", false },
		{ "239.255.255.255", false },
		{ "255.255.255.255", false },
		{ "::", false },
		{ "::1", false },
		{ "fe80::1", false },
		{ "febf::1", false },
		{ "ff02::1", false },
		{ "::ffff:198.18.0.10", false },
		{ "1.0.0.0", true },
		{ "198.18.0.10", true },
		{ "169.255.0.1", true },
		{ "223.255.255.255", true },
		{ "240.0.0.1", true },
		{ "255.255.255.254", true },
		{ "2001:db8::1", true },
		{ "fec0::1", true },
		{ "::2", true },
		{ "::fffe:198.18.0.10", true },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lbd_conf_addr a = { 0 };

		if (strchr(t[i].a, ':')) {
			a.family = LBD_AF_INET6;
			cr_assert_eq(inet_pton(AF_INET6, t[i].a, &a.addr), 1);
		} else {
			a.family = LBD_AF_INET;
			cr_assert_eq(inet_pton(AF_INET, t[i].a, &a.addr), 1);
		}
		cr_assert_eq(!config_addr_unusable(&a), t[i].usable, "%s: %s",
			     t[i].a, config_addr_unusable(&a) ?: "usable");
	}
}

Test(config, kubernetes_vip_ranges_and_bounds)
{
	struct lbd_config *c = expect_ok(
		DP
		"kubernetes = { kubeconfig = \"/dev/null\";\n"
		"\tload_balancer_class = \"lbd.io/lb\";\n"
		"\tvip_ranges = ( \"203.0.113.77/24\", \"2001:db8:f::/64\" );\n"
		"\tmax_object_bytes = 65536; };\n");

	cr_assert_eq(c->k8s.n_vip_ranges, 2);
	cr_assert_eq(c->k8s.vip_ranges[0].addr.v4, htonl(0xcb007100),
		     "host bits cleared");
	cr_assert_eq(c->k8s.vip_ranges[0].prefixlen, 24);
	cr_assert_eq(c->k8s.vip_ranges[1].family, LBD_AF_INET6);
	cr_assert_eq(c->k8s.max_object_bytes, 65536);
	cr_assert_eq(c->k8s.max_watch_line_bytes, 3u << 20, "default");
	cr_assert_eq(c->k8s.max_list_page_bytes, 32u << 20, "default");
	config_free(c);

	c = expect_ok(DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
			 "\tload_balancer_class = \"lbd.io/lb\"; };\n");
	cr_assert_eq(c->k8s.n_vip_ranges, 0, "none unless given");
	cr_assert_eq(c->k8s.max_object_bytes, 2u << 20);
	config_free(c);

	expect_errors(
		DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
		   "\tload_balancer_class = \"lbd.io/lb\";\n"
		   "\tvip_ranges = ( \"203.0.113.0/33\",\n"
		   "\t\t\"nothing\" );\n"
		   "\tmax_object_bytes = 1048576;\n"
		   "\tmax_watch_line_bytes = 65536;\n"
		   "\tmax_list_page_bytes = 100; };\n",
		ERRORS("t.conf:4: kubernetes.vip_ranges[0]: expected an IP "
		       "prefix like 203.0.113.0/24",
		       "t.conf:5: kubernetes.vip_ranges[1]: expected an IP "
		       "prefix like 203.0.113.0/24",
		       "t.conf:8: kubernetes.max_list_page_bytes: 100 out of "
		       "range 4096-1073741824",
		       "t.conf:7: kubernetes.max_watch_line_bytes: 65536 is "
		       "less than max_object_bytes (1048576): an event holds "
		       "an object"));
	expect_errors(DP "kubernetes = { kubeconfig = \"/dev/null\";\n"
			 "\tload_balancer_class = \"lbd.io/lb\";\n"
			 "\tvip_ranges = \"203.0.113.0/24\"; };\n",
		      ERRORS("t.conf:4: kubernetes.vip_ranges: expected a list "
			     "of prefixes ( \"...\", ... )"));
}

Test(config, backend_peers_are_prefixes_of_either_family_host_bits_cleared)
{
	struct lbd_config *c = expect_ok(
		"role = \"backend\";\n"
		"backend_node = { interface = \"eth0\";\n"
		"\tlb_sources = ( \"198.18.0.10\" );\n"
		"\tpeers = ( \"198.18.1.7/24\", \"2001:db8:1::/64\",\n"
		"\t\t\"198.18.9.9\" ); };\n");
	char a[64];

	cr_assert_eq(c->node.n_peers, 3);
	cr_assert_str_eq(config_addr_str(&c->node.peers[0], a, sizeof(a)),
			 "198.18.1.0/24");
	cr_assert_str_eq(config_addr_str(&c->node.peers[1], a, sizeof(a)),
			 "2001:db8:1::/64");
	cr_assert_str_eq(config_addr_str(&c->node.peers[2], a, sizeof(a)),
			 "198.18.9.9");
	config_free(c);
}

Test(config, backend_peers_that_are_not_prefixes_are_reported)
{
	expect_errors("role = \"backend\";\n"
		      "backend_node = { interface = \"eth0\";\n"
		      "\tlb_sources = ( \"198.18.0.10\" );\n"
		      "\tpeers = ( \"198.18.1.0/33\", \"peer\", 7 ); };\n",
		      ERRORS("t.conf:4: backend_node.peers[0]: expected an IP "
			     "address or prefix like 198.18.0.0/24",
			     "t.conf:4: backend_node.peers[1]: expected an IP "
			     "address or prefix like 198.18.0.0/24",
			     "t.conf:4: backend_node.peers[2]: expected an IP "
			     "address or prefix like 198.18.0.0/24"));
	expect_errors("role = \"backend\";\n"
		      "backend_node = { interface = \"eth0\";\n"
		      "\tlb_sources = ( \"198.18.0.10\" );\n"
		      "\tpeers = \"198.18.1.0/24\"; };\n",
		      ERRORS("t.conf:4: backend_node.peers: expected a list of "
			     "prefixes ( \"...\", ... )"));
}

/* role = "node": the node_role group and what the role leaves out */

#define NODE_K8S "kubernetes = { kubeconfig = \"/dev/null\"; };\n"

Test(config, node_role_defaults)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S);

	cr_assert_eq(c->role, LBD_ROLE_NODE);
	cr_assert_str_empty(c->node_role.cgroup, "the cgroup2 root");
	cr_assert_str_empty(c->node_role.node_name, "the host name");
	cr_assert_eq(c->node_role.n_addrs, 0, "the interfaces' addresses");
	cr_assert_eq(c->node_role.max_services, LBD_NODE_DEFAULT_MAX_SERVICES);
	cr_assert_eq(c->node_role.max_addresses, LBD_NODE_DEFAULT_MAX_ADDRS);
	cr_assert_eq(c->node_role.max_endpoints, LBD_NODE_DEFAULT_MAX_BACKENDS);
	cr_assert_eq(c->node_role.reverse_entries, LBD_NODE_DEFAULT_REVERSE);
	cr_assert_eq(c->node_role.affinity_entries, LBD_NODE_DEFAULT_AFFINITY);
	cr_assert(c->k8s.enabled);
	config_free(c);
}

Test(config, node_role_settings_read_as_given)
{
	struct lbd_config *c = expect_ok(
		"role = \"node\";\n" NODE_K8S
		"node_role = { cgroup = \"/sys/fs/cgroup/kubepods\";\n"
		"\tnode_name = \"node-1.example\";\n"
		"\taddresses = ( \"198.18.0.1\", \"2001:db8::1\" );\n"
		"\tmax_services = 100; max_addresses = 200;\n"
		"\tmax_endpoints = 300; reverse_entries = 4096;\n"
		"\taffinity_entries = 2048; };\n");
	const struct lbd_conf_node_role *n = &c->node_role;

	cr_assert_str_eq(n->cgroup, "/sys/fs/cgroup/kubepods");
	cr_assert_str_eq(n->node_name, "node-1.example");
	cr_assert_eq(n->n_addrs, 2);
	cr_assert_eq(n->addrs[0].family, LBD_AF_INET);
	cr_assert_eq(n->addrs[0].addr.v4, htonl(0xc6120001));
	cr_assert_eq(n->addrs[1].family, LBD_AF_INET6);
	cr_assert_eq(n->max_services, 100);
	cr_assert_eq(n->max_addresses, 200);
	cr_assert_eq(n->max_endpoints, 300);
	cr_assert_eq(n->reverse_entries, 4096);
	cr_assert_eq(n->affinity_entries, 2048);
	cr_assert_eq(n->line, 3);
	config_free(c);
}

Test(config, node_role_bad_settings_are_each_reported)
{
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { cgroup = \"sys/fs/cgroup\";\n"
		      "\tnode_name = \"\";\n"
		      "\taddresses = ( \"127.0.0.1\", \"x\" );\n"
		      "\tmax_services = 0; reverse_entries = 10;\n"
		      "\tcgroups = \"/\"; };\n",
		      ERRORS("t.conf:7: node_role.cgroups: unknown setting",
			     "t.conf:3: node_role.cgroup: \"sys/fs/cgroup\" is "
			     "not an absolute path",
			     "t.conf:4: node_role.node_name: empty",
			     "t.conf:5: node_role.addresses[0]: \"127.0.0.1\" "
			     "is a loopback address: not a VIP",
			     "t.conf:5: node_role.addresses[1]: expected an IP "
			     "address",
			     "t.conf:6: node_role.max_services: 0 out of "
			     "range 1-1048576",
			     "t.conf:6: node_role.reverse_entries: 10 out of "
			     "range 1024-67108864"));
}

Test(config, node_role_tc_path_settings)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S);

	cr_assert_eq(c->node_role.socket_lb, LBD_SOCKET_LB_ALL);
	cr_assert_eq(c->node_role.n_pod_ifaces, 3);
	cr_assert_str_eq(c->node_role.pod_ifaces[0], "veth*");
	cr_assert_str_eq(c->node_role.pod_ifaces[1], "lxc*");
	cr_assert_str_eq(c->node_role.pod_ifaces[2], "cali*");
	cr_assert_eq(c->node_role.nat_entries, LBD_NODE_DEFAULT_NAT);
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { socket_lb = \"host-only\";\n"
		      "\tpod_interfaces = ( \"pod-*\" ); nat_entries = 4096; };\n");
	cr_assert_eq(c->node_role.socket_lb, LBD_SOCKET_LB_HOST_ONLY);
	cr_assert_eq(c->node_role.n_pod_ifaces, 1);
	cr_assert_str_eq(c->node_role.pod_ifaces[0], "pod-*");
	cr_assert_eq(c->node_role.nat_entries, 4096);
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { pod_interfaces = ( ); };\n");
	cr_assert_eq(c->node_role.n_pod_ifaces, 0, "no tc path");
	config_free(c);
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { socket_lb = \"pods\";\n"
		      "\tpod_interfaces = ( \"veth*\", \"\" );\n"
		      "\tnat_entries = 1; };\n",
		      ERRORS("t.conf:3: node_role.socket_lb: \"pods\" is not "
			     "one of all | host-only",
			     "t.conf:5: node_role.nat_entries: 1 out of range "
			     "1024-67108864",
			     "t.conf:4: node_role.pod_interfaces[1]: expected an "
			     "interface name pattern (at most 63 characters)"));
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { pod_interfaces = \"veth*\"; };\n",
		      ERRORS("t.conf:3: node_role.pod_interfaces: expected a "
			     "list of interface name patterns"));
}

Test(config, node_role_nic_path_settings)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S);

	cr_assert(!c->node_role.nics_set, "default: the node's interfaces");
	cr_assert_eq(c->node_role.snat_port_min, 61000);
	cr_assert_eq(c->node_role.snat_port_max, 65535);
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { interfaces = ( \"eth0\", \"eth1\" );\n"
		      "\tsnat_ports = \"40000-40999\"; };\n");
	cr_assert(c->node_role.nics_set);
	cr_assert_eq(c->node_role.n_nics, 2);
	cr_assert_str_eq(c->node_role.nics[0], "eth0");
	cr_assert_str_eq(c->node_role.nics[1], "eth1");
	cr_assert_eq(c->node_role.snat_port_min, 40000);
	cr_assert_eq(c->node_role.snat_port_max, 40999);
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { interfaces = ( ); };\n");
	cr_assert(c->node_role.nics_set);
	cr_assert_eq(c->node_role.n_nics, 0, "no NIC path");
	config_free(c);
	expect_errors(
		"role = \"node\";\n" NODE_K8S
		"node_role = { interfaces = ( \"eth0\", \"eth0\",\n"
		"\t\"a-name-far-too-long\" );\n"
		"\tsnat_ports = \"65535-61000\"; };\n",
		ERRORS("t.conf:3: node_role.interfaces[1]: eth0 is named "
		       "twice",
		       "t.conf:4: node_role.interfaces[2]: expected an "
		       "interface name (at most 15 characters)",
		       "t.conf:5: node_role.snat_ports: \"65535-61000\" is "
		       "not a port range like 61000-65535"));
}

Test(config, node_role_healthz_address_defaults_to_kube_proxys)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S);

	cr_assert_str_eq(c->node_role.healthz_address, "0.0.0.0:10256");
	config_free(c);
	c = expect_ok(
		"role = \"node\";\n" NODE_K8S
		"node_role = { healthz_address = \"[2001:db8::1]:10257\"; "
		"};\n");
	cr_assert_str_eq(c->node_role.healthz_address, "[2001:db8::1]:10257");
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { healthz_address = \"\"; };\n");
	cr_assert_str_eq(c->node_role.healthz_address, "", "off");
	config_free(c);
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = {\n\thealthz_address = \"10256\"; };\n",
		      ERRORS("t.conf:4: node_role.healthz_address: \"10256\" "
			     "is not ADDR:PORT, [ADDR]:PORT, \"\" or "
			     "\"off\""));
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { healthz_address = \"0.0.0.0:0\"; };\n",
		      ERRORS("t.conf:3: node_role.healthz_address: "
			     "\"0.0.0.0:0\" is not ADDR:PORT, [ADDR]:PORT, "
			     "\"\" or \"off\""));
}

Test(config, node_role_forwarding_is_snat_or_geneve)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S);

	cr_assert_eq(c->node_role.forwarding, LBD_NODE_FWD_SNAT, "default");
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { forwarding = \"geneve\"; };\n");
	cr_assert_eq(c->node_role.forwarding, LBD_NODE_FWD_GENEVE);
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { forwarding = \"snat\"; };\n");
	cr_assert_eq(c->node_role.forwarding, LBD_NODE_FWD_SNAT);
	config_free(c);
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { forwarding = \"ipip\"; };\n",
		      ERRORS("t.conf:3: node_role.forwarding: \"ipip\" is not "
			     "one of snat | geneve"));
}

Test(config, node_role_dsr_sources_are_prefixes_host_bits_cleared)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S);
	char a[64];

	cr_assert_eq(c->node_role.n_dsr_sources, 0, "default: no companion");
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S
		      "node_role = { dsr_sources = ( \"198.18.0.7/24\",\n"
		      "\t\"2001:db8:1::/64\", \"198.18.9.9\" ); };\n");
	cr_assert_eq(c->node_role.n_dsr_sources, 3);
	cr_assert_str_eq(config_addr_str(&c->node_role.dsr_sources[0], a,
					 sizeof(a)),
			 "198.18.0.0/24");
	cr_assert_str_eq(config_addr_str(&c->node_role.dsr_sources[1], a,
					 sizeof(a)),
			 "2001:db8:1::/64");
	cr_assert_str_eq(config_addr_str(&c->node_role.dsr_sources[2], a,
					 sizeof(a)),
			 "198.18.9.9");
	config_free(c);
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { dsr_sources = ( \"198.18.0.0/33\" ); "
		      "};\n",
		      ERRORS("t.conf:3: node_role.dsr_sources[0]: expected an "
			     "IP address or prefix like 198.18.0.0/24"));
}

Test(config, node_role_zone_is_a_label_value)
{
	struct lbd_config *c = expect_ok("role = \"node\";\n" NODE_K8S
					 "node_role = { zone = \"eu-west-1a\"; "
					 "};\n");

	cr_assert_str_eq(c->node_role.zone, "eu-west-1a");
	config_free(c);
	c = expect_ok("role = \"node\";\n" NODE_K8S);
	cr_assert_str_empty(c->node_role.zone, "no zone: hints ignored");
	config_free(c);
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = { zone = \"-a\"; };\n",
		      ERRORS("t.conf:3: node_role.zone: \"-a\" is not a label "
			     "value (1-63 letters, digits, '-', '_', '.'; a "
			     "letter or digit first and last)"));
	expect_errors("role = \"node\";\n" NODE_K8S
		      "node_role = {\n\tzone = \"a b\"; };\n",
		      ERRORS("t.conf:4: node_role.zone: \"a b\" is not a label "
			     "value (1-63 letters, digits, '-', '_', '.'; a "
			     "letter or digit first and last)"));
}

Test(config, node_role_needs_kubernetes_and_takes_no_lb_settings)
{
	expect_errors("role = \"node\";\n",
		      ERRORS("t.conf:1: kubernetes: required with role = "
			     "\"node\": the cluster's Services"));
	expect_errors("role = \"node\";\n"
		      "kubernetes = { kubeconfig = \"/dev/null\";\n"
		      "\tload_balancer_class = \"lbd.io/lb\";\n"
		      "\tforwarding = \"snat\"; };\n"
		      "services = ( );\n"
		      "bgp = { };\n",
		      ERRORS("t.conf:5: services: not with role = \"node\"",
			     "t.conf:6: bgp: not with role = \"node\"",
			     "t.conf:3: kubernetes.load_balancer_class: not "
			     "with role = \"node\"",
			     "t.conf:4: kubernetes.forwarding: not with role = "
			     "\"node\""));
}

Test(config, node_role_group_only_with_role_node)
{
	expect_errors(DP "node_role = { };\n",
		      ERRORS("t.conf:2: node_role: only with role = \"node\""));
}
