// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ICMP: echo replies, errors about VIP flows forwarded to the flow's
 * backend (translated for Geneve), fragmentation needed / packet too big
 * when encapsulation exceeds the route MTU, and port unreachable for a
 * service without a usable backend.
 */
#include <criterion/criterion.h>

#include "flows.h"

static struct dpt t;

static void setup(void)
{
	dpt_setup(&t, ONE_BACKEND_CONF);
}

static void teardown(void)
{
	dpt_teardown(&t);
}

TestSuite(icmp, .init = setup, .fini = teardown);

#define ROUTER4 "198.18.100.1"
#define ROUTER6 "2001:db8:100::1"

Test(icmp, echo_request_to_vip4_answered)
{
	struct pkt_ipv4_opts o = { .ttl = 60, .id = 77 };
	struct pkt_ipv4_opts r = { .ttl = 64, .id = 77 };
	struct pkt in, want;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_icmp4(&in, 8, 0, 0x12340001);
	pkt_bytes(&in, "ping-payload", 12);
	pkt_finish(&in);

	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ipv4(&want, pkt_ip(VIP4), pkt_ip(CLIENT4), &r);
	pkt_icmp4(&want, 0, 0, 0x12340001);
	pkt_bytes(&want, "ping-payload", 12);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_ECHO), 1);
}

Test(icmp, echo_request_to_vip6_answered)
{
	struct pkt_ipv6_opts o = { .hlim = 33 };
	struct pkt in, want;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_vlan(&in, 0x8100, 12);
	pkt_ipv6(&in, pkt_ip(CLIENT6), pkt_ip(VIP6), &o);
	pkt_icmp6(&in, 128, 0, 0x00070002);
	pkt_bytes(&in, "ping6", 5);
	pkt_finish(&in);

	/* back to the sender, on the same VLAN */
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_vlan(&want, 0x8100, 12);
	pkt_ipv6(&want, pkt_ip(VIP6), pkt_ip(CLIENT6), NULL);
	pkt_icmp6(&want, 129, 0, 0x00070002);
	pkt_bytes(&want, "ping6", 5);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(icmp, echo_not_answered_when_disabled)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; icmp_echo = false; backends = "
				    "( { address = \"" BE4_1 "\"; } ); } );\n");
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_icmp4(&in, 8, 0, 1);
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_UNHANDLED), 1);
}

/* The packet a VIP sent (a backend's DSR reply), as a router quotes it:
 * its IP header and the first 8 bytes after. */
static void quoted(struct pkt *q, const char *src, const char *dst,
		   uint16_t sport, uint16_t dport)
{
	pkt_init(q);
	pkt_ip_hdr(q, pkt_ip(src), pkt_ip(dst));
	pkt_tcp(q, sport, dport, PKT_TCP_ACK, 5000, 6000);
	pkt_bytes(q, "reply-data", 10);
	pkt_finish(q);
}

static void icmp4_error_in(struct pkt *in, const struct pkt *q,
			   uint16_t mtu)
{
	pkt_init(in);
	dpt_eth_in(in);
	pkt_ip_hdr(in, pkt_ip(ROUTER4), pkt_ip(VIP4));
	pkt_icmp4(in, 3, 4, mtu);
	pkt_append(in, q, 0, 28);
	pkt_finish(in);
}

Test(icmp, error_about_ipip_flow_goes_to_its_backend_unchanged)
{
	struct pkt q, in, want;

	quoted(&q, VIP4, CLIENT4, 80, 40000);
	icmp4_error_in(&in, &q, 1400);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_ERROR_FWD), 1);
}

/* Outer headers of Geneve to a backend for a flow, then the inner
 * Ethernet; the caller appends the inner packet. */
static void geneve_head(struct pkt *w, const char *client, uint16_t cport,
			const char *vip, uint16_t vport, const char *backend,
			uint8_t proto)
{
	struct pkt_addr c = pkt_ip(client);
	uint32_t h = test_flow_hash(client, cport, vport, proto);

	pkt_init(w);
	dpt_eth_out(w);
	if (c.family == AF_INET) {
		pkt_ipv4(w, pkt_ip(ENCAP4), pkt_ip(backend), NULL);
	} else {
		struct pkt_ipv6_opts o = { .flowlabel = h & 0xfffff };

		pkt_ipv6(w, pkt_ip(ENCAP6), pkt_ip(backend), &o);
	}
	pkt_udp(w, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	pkt_geneve_dsr(w, 2, pkt_ip(vip), vport);
	pkt_eth(w, MAC_ROUTER, MAC_LB);
}

Test(icmp, error_about_geneve_flow_is_translated_like_a_nat)
{
	struct pkt q, tq, in, want;

	quoted(&q, VIP4, CLIENT4, 443, 40000);
	icmp4_error_in(&in, &q, 1400);
	/* as the backend sent it: from its own address and port */
	quoted(&tq, BE4_1, CLIENT4, 8443, 40000);
	geneve_head(&want, CLIENT4, 40000, VIP4, 443, BE4_1, IPPROTO_TCP);
	pkt_ip_hdr(&want, pkt_ip(ROUTER4), pkt_ip(BE4_1));
	pkt_icmp4(&want, 3, 4, 1400);
	pkt_append(&want, &tq, 0, 28);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(icmp, packet_too_big_about_geneve6_flow_is_translated)
{
	struct pkt q, tq, in, want;

	/* quoting the IPv6 header and 8 bytes: ports and sequence */
	quoted(&q, VIP6, CLIENT6, 443, 40000);
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(ROUTER6), pkt_ip(VIP6));
	pkt_icmp6(&in, 2, 0, 1280);
	pkt_append(&in, &q, 0, 48);
	pkt_finish(&in);

	quoted(&tq, BE6_1, CLIENT6, 8443, 40000);
	geneve_head(&want, CLIENT6, 40000, VIP6, 443, BE6_1, IPPROTO_TCP);
	pkt_ip_hdr(&want, pkt_ip(ROUTER6), pkt_ip(BE6_1));
	pkt_icmp6(&want, 2, 0, 1280);
	pkt_append(&want, &tq, 0, 48);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(icmp, error_follows_conntrack_not_the_table)
{
	struct pkt in, q;
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	char a[64];

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; backends = ( { address = \""
				    BE4_1 "\"; } ); } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, NULL);
	dpt_reload(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				     "port = 80; backends = ( { address = \""
				     BE4_1 "\"; state = \"draining\"; }, { "
				     "address = \"" BE4_2 "\"; } ); } );\n");
	quoted(&q, VIP4, CLIENT4, 80, 40000);
	icmp4_error_in(&in, &q, 1400);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	cr_assert_str_eq(dpt_backend_of(out, len, a, sizeof(a)), BE4_1);
}

/* Sets the IPv4 total length of the packet at offset 14 and its header
 * checksum: what follows in the frame becomes Ethernet padding. */
static void ip4_cut(struct pkt *in, uint16_t tot_len)
{
	uint16_t c;

	in->buf[14 + 2] = tot_len >> 8;
	in->buf[14 + 3] = tot_len & 0xff;
	in->buf[14 + 10] = in->buf[14 + 11] = 0;
	c = pkt_csum(in->buf + 14, 20, 0);
	in->buf[14 + 10] = c >> 8;
	in->buf[14 + 11] = c & 0xff;
}

/* An ICMP message whose IP packet ends inside its header, the rest of
 * it (and a whole quote) in the frame's padding, is malformed. */
Test(icmp, message_shorter_than_its_header_is_dropped)
{
	struct pkt q, in;

	quoted(&q, VIP4, CLIENT4, 80, 40000);
	icmp4_error_in(&in, &q, 1400);
	ip4_cut(&in, 20 + 4);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_MALFORMED_ICMP), 1);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_ERROR_FWD), 0);
}

/* A quote that ends before its ports, the ports in the frame's padding:
 * no flow to follow. (Through Geneve, the ports in the padding were
 * translated, the ICMP checksum with them, and cut off.) */
Test(icmp, error_whose_quote_ends_before_its_ports_is_dropped)
{
	struct pkt q, in;

	quoted(&q, VIP4, CLIENT4, 443, 40000);
	icmp4_error_in(&in, &q, 1400);
	ip4_cut(&in, 20 + 8 + 20);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_UNHANDLED), 1);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_ERROR_FWD), 0);
}

Test(icmp, error_quoting_another_source_is_dropped)
{
	struct pkt q, in;

	quoted(&q, "203.0.113.99", CLIENT4, 80, 40000);
	icmp4_error_in(&in, &q, 1400);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_UNHANDLED), 1);
}

/* A quote that is not an IPv4 header (version 0) follows no flow: it
 * was taken for one and translated (found by the datapath fuzzer). */
Test(icmp, error_quoting_no_ipv4_header_is_dropped)
{
	struct pkt q, in;

	quoted(&q, VIP4, CLIENT4, 80, 40000);
	q.buf[0] = 0x05;
	icmp4_error_in(&in, &q, 1400);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_UNHANDLED), 1);
}

#define MTU_CONF(fwd, vip, be, port)                                          \
	DATAPATH_CONF "services = ( { vip = \"" vip "\"; port = 80; "          \
		      "forwarding = \"" fwd "\"; backends = ( { address = \"" \
		      be "\"; port = " #port "; } ); } );\n"

/* A TCP segment of ip_len bytes in all. */
static void big_in(struct pkt *in, const char *src, const char *dst,
		   size_t ip_len)
{
	static uint8_t payload[1500];
	size_t hdr = pkt_ip(src).family == AF_INET ? 40 : 60;
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	pkt_init(in);
	dpt_eth_in(in);
	pkt_ip_hdr(in, pkt_ip(src), pkt_ip(dst));
	pkt_tcp(in, 40000, 80, PKT_TCP_ACK, 1, 2);
	pkt_bytes(in, payload, ip_len - hdr);
	pkt_finish(in);
}

Test(icmp, frag_needed_carries_mtu_less_ipip_overhead)
{
	struct pkt in, want;

	dpt_teardown(&t);
	dpt_setup(&t, MTU_CONF("ipip", VIP4, "198.18.4.11", 80));
	big_in(&in, CLIENT4, VIP4, 1380);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_FWD_TX), 1, "1380 + 20 fits 1400");

	big_in(&in, CLIENT4, VIP4, 1381);
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	{
		struct pkt_ipv4_opts o = { .tos = 0xc0 };

		pkt_ipv4(&want, pkt_ip(VIP4), pkt_ip(CLIENT4), &o);
	}
	pkt_icmp4(&want, 3, 4, 1380);
	pkt_append(&want, &in, 14, 28);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_TOOBIG), 1);
}

Test(icmp, frag_needed_carries_mtu_less_geneve_overhead)
{
	struct pkt in;
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);

	dpt_teardown(&t);
	dpt_setup(&t, MTU_CONF("geneve", VIP4, "198.18.4.11", 8080));
	big_in(&in, CLIENT4, VIP4, 1400 - 62 + 1);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	cr_assert_eq(len, 14 + 20 + 8 + 28);
	cr_assert_eq(out[34], 3);
	cr_assert_eq(out[35], 4);
	cr_assert_eq(out[40] << 8 | out[41], 1400 - 62);
}

#define MTU_SL_CONF(fwd, vip, be, port)                                       \
	DATAPATH_CONF "services = ( { vip = \"" vip "\"; port = 80; "          \
		      "forwarding = \"" fwd "\"; flow_state = \"backends\"; "   \
		      "backends = ( { address = \"" be "\"; port = " #port      \
		      "; } ); } );\n"

/* With the flow state on the backends the encapsulation is longer (lbd's
 * option, and Geneve for IPIP services): the MTU announced says so. */
Test(icmp, frag_needed_carries_mtu_less_the_stateless_overheads)
{
	static const struct {
		const char *conf;
		int overhead; /* IPv4 + UDP + Geneve (+ Cilium's option and
			       * inner Ethernet) + lbd's option */
	} c[] = {
		{ MTU_SL_CONF("ipip", VIP4, "198.18.4.11", 80), 20 + 8 + 8 + 12 },
		{ MTU_SL_CONF("geneve", VIP4, "198.18.4.11", 8080),
		  20 + 8 + 8 + 12 + 14 + 12 },
	};
	size_t i;

	for (i = 0; i < 2; i++) {
		struct pkt in;
		uint8_t out[PKT_MAX];
		size_t len = sizeof(out);

		dpt_teardown(&t);
		dpt_setup(&t, c[i].conf);
		big_in(&in, CLIENT4, VIP4, (size_t)(1400 - c[i].overhead));
		cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
		cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_TOOBIG), 0,
			     "%d bytes fit", 1400 - c[i].overhead);
		len = sizeof(out);
		big_in(&in, CLIENT4, VIP4, (size_t)(1400 - c[i].overhead + 1));
		cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
		cr_assert_eq(len, 14 + 20 + 8 + 28);
		cr_assert_eq(out[34], 3);
		cr_assert_eq(out[35], 4);
		cr_assert_eq(out[40] << 8 | out[41], 1400 - c[i].overhead);
		cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_TOOBIG), 1);
	}
}

Test(icmp, packet_too_big_v6_quotes_up_to_the_minimum_mtu)
{
	struct pkt in, want;

	dpt_teardown(&t);
	dpt_setup(&t, MTU_CONF("ipip", VIP6, "2001:db8:4::11", 80));
	big_in(&in, CLIENT6, VIP6, 1361);
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ipv6(&want, pkt_ip(VIP6), pkt_ip(CLIENT6), NULL);
	pkt_icmp6(&want, 2, 0, 1360);
	pkt_append(&want, &in, 14, 1232);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(icmp, port_unreachable_when_no_backend4)
{
	struct pkt in, want;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	{
		struct pkt_ipv4_opts o = { .tos = 0xc0 };

		pkt_ipv4(&want, pkt_ip(VIP4), pkt_ip(CLIENT4), &o);
	}
	pkt_icmp4(&want, 3, 3, 0);
	pkt_append(&want, &in, 14, 28);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_UNREACH), 1);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_BACKEND), 1);
}

/* The longest IPv4 header (40 bytes of options) makes the longest quote,
 * 68 bytes, every one of them in the ICMP checksum. */
Test(icmp, port_unreachable_quotes_ipv4_options_whole)
{
	struct pkt_ipv4_opts o = { .options_len = 40 }, r = { .tos = 0xc0 };
	uint8_t opts[40];
	struct pkt in, want;

	memset(opts, 1, sizeof(opts)); /* NOPs */
	opts[39] = 0; /* end of options */
	o.options = opts;
	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; } );\n");
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(&in, "hello", 5);
	pkt_finish(&in);

	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ipv4(&want, pkt_ip(VIP4), pkt_ip(CLIENT4), &r);
	pkt_icmp4(&want, 3, 3, 0);
	pkt_append(&want, &in, 14, 60 + 8);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(icmp, port_unreachable_when_no_backend6)
{
	struct pkt in, want;
	size_t quote;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP6 "\"; "
				    "port = 53; protocol = \"udp\"; } );\n");
	udp_in(&in, CLIENT6, VIP6, 5353, 53);
	quote = (in.len - 14) & ~(size_t)3;
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ipv6(&want, pkt_ip(VIP6), pkt_ip(CLIENT6), NULL);
	pkt_icmp6(&want, 1, 4, 0);
	pkt_append(&want, &in, 14, quote);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(icmp, replies_are_rate_limited)
{
	struct pkt in;
	int i, sent = 0;
	uint8_t out[PKT_MAX];

	dpt_teardown(&t);
	dpt_setup(&t, "datapath = { interface = \"lb0\"; encap_source_v4 = \""
		      ENCAP4 "\"; icmp_rate = 1; };\n"
		      "services = ( { vip = \"" VIP4 "\"; port = 80; } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	for (i = 0; i < 30; i++) {
		size_t len = sizeof(out);

		sent += dpt_run(&t, &in, out, &len) == XDP_TX;
	}
	/* a burst of 20, then one a second */
	cr_assert(sent == 20 || sent == 21, "%d replies", sent);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_RATELIMIT),
		     (uint64_t)(30 - sent));
}

/* Sources that are not one host: no echo reply, no error (RFC 1122
 * 3.2.2, RFC 4443 2.4 (e)). */
static const char *const bad_src4[] = { "0.0.0.0",	  "0.1.2.3",
					"127.0.0.1",	  "224.0.0.1",
					"239.1.2.3",	  "240.0.0.1",
					"255.255.255.255" };
static const char *const bad_src6[] = { "::", "::1", "ff02::1", "ff0e::2",
					"::ffff:192.0.2.2" };
#define N_BAD4 (sizeof(bad_src4) / sizeof(bad_src4[0]))
#define N_BAD6 (sizeof(bad_src6) / sizeof(bad_src6[0]))

static void echo_in(struct pkt *in, const char *src, const char *dst)
{
	pkt_init(in);
	dpt_eth_in(in);
	pkt_ip_hdr(in, pkt_ip(src), pkt_ip(dst));
	if (pkt_ip(src).family == AF_INET)
		pkt_icmp4(in, 8, 0, 0x12340001);
	else
		pkt_icmp6(in, 128, 0, 0x12340001);
	pkt_bytes(in, "ping", 4);
	pkt_finish(in);
}

Test(icmp, echo_from_a_source_that_is_no_host_is_not_answered)
{
	struct pkt in;
	size_t i;

	for (i = 0; i < N_BAD4; i++) {
		echo_in(&in, bad_src4[i], VIP4);
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	for (i = 0; i < N_BAD6; i++) {
		echo_in(&in, bad_src6[i], VIP6);
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_BAD_SOURCE), N_BAD4 + N_BAD6);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_ECHO), 0);
	/* a host next to them is */
	echo_in(&in, "1.0.0.1", VIP4);
	dpt_check(&t, &in, XDP_TX, NULL);
	echo_in(&in, "fe80::1", VIP6);
	dpt_check(&t, &in, XDP_TX, NULL);
}

Test(icmp, no_port_unreachable_to_a_source_that_is_no_host)
{
	struct pkt in;
	size_t i;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; }, { vip = \"" VIP6 "\"; "
				    "port = 80; } );\n");
	for (i = 0; i < N_BAD4; i++) {
		tcp_in(&in, bad_src4[i], VIP4, 40000, 80, PKT_TCP_SYN);
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	for (i = 0; i < N_BAD6; i++) {
		tcp_in(&in, bad_src6[i], VIP6, 40000, 80, PKT_TCP_SYN);
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_BAD_SOURCE), N_BAD4 + N_BAD6);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_UNREACH), 0);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_RATELIMIT), 0);
}

Test(icmp, no_frag_needed_to_a_source_that_is_no_host)
{
	struct pkt in;
	size_t i;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; backends = ( { address = "
				    "\"198.18.4.11\"; } ); }, { vip = \"" VIP6
				    "\"; port = 80; backends = ( { address = "
				    "\"2001:db8:4::11\"; } ); } );\n");
	for (i = 0; i < N_BAD4; i++) {
		big_in(&in, bad_src4[i], VIP4, 1381);
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	for (i = 0; i < N_BAD6; i++) {
		big_in(&in, bad_src6[i], VIP6, 1361);
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	cr_assert_eq(dpt_reason(&t, LBD_DROP_ICMP_BAD_SOURCE), N_BAD4 + N_BAD6);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_TOOBIG), 0);
}
