// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Forwarding: IPIP, IP6IP6, 4-in-6 and Geneve, byte for byte. */
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

TestSuite(forward, .init = setup, .fini = teardown);

Test(forward, ipip4_tcp_inner_unchanged)
{
	struct pkt in, want;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_FWD_TX), 1);
	/* a SYN makes no conntrack entry: the handshake's ACK does */
	cr_assert_eq(dpt_reason(&t, LBD_EV_SYN_STATELESS), 1);
	cr_assert_eq(dpt_reason(&t, LBD_EV_NEW_FLOW), 0);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_EV_NEW_FLOW), 1);
}

Test(forward, ipip4_copies_tos_and_df)
{
	struct pkt_ipv4_opts o = { .tos = 0x2e, .frag = 0x4000, .ttl = 57 };
	struct pkt in, want;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_tcp(&in, 40001, 80, PKT_TCP_SYN, 7, 0);
	pkt_finish(&in);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0x2e, 0x4000, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, ipip4_udp)
{
	struct pkt in, want;

	udp_in(&in, CLIENT4, VIP4, 5353, 53);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, ip6ip6_tcp_flowlabel_from_flow_hash)
{
	struct pkt_ipv6_opts o = { .tclass = 0x28, .hlim = 50 };
	struct pkt in, want;
	uint32_t h = test_flow_hash(CLIENT6, 40000, 80, IPPROTO_TCP);

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv6(&in, pkt_ip(CLIENT6), pkt_ip(VIP6), &o);
	pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1, 0);
	pkt_finish(&in);
	want_ipip(&want, &in, ENCAP6, BE6_1, 0x28, 0, h & 0xfffff);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, ip6ip6_udp)
{
	struct pkt in, want;
	uint32_t h = test_flow_hash(CLIENT6, 5353, 53, IPPROTO_UDP);

	udp_in(&in, CLIENT6, VIP6, 5353, 53);
	want_ipip(&want, &in, ENCAP6, BE6_1, 0, 0, h & 0xfffff);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, four_in_six)
{
	struct pkt_ipv4_opts o = { .tos = 0x10, .frag = 0x4000 };
	struct pkt in, want;
	uint32_t h = test_flow_hash(CLIENT4, 40000, 8080, IPPROTO_TCP);

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_tcp(&in, 40000, 8080, PKT_TCP_SYN, 1, 0);
	pkt_finish(&in);
	want_ipip(&want, &in, ENCAP6, BE6_1, 0x10, 0, h & 0xfffff);
	cr_assert_eq(want.buf[14 + 6], IPPROTO_IPIP, "next header 4");
	dpt_check(&t, &in, XDP_TX, &want);
}

/* Geneve: the expected inner packet is built already translated, so its
 * checksums come from the builder, not from the program's incremental
 * updates. */
static void want_geneve(struct pkt *w, const char *client, uint16_t cport,
			const char *vip, uint16_t vport, const char *backend,
			uint16_t bport, uint8_t proto, uint8_t flags, uint16_t df)
{
	struct pkt_addr c = pkt_ip(client), b = pkt_ip(backend);
	const char *encap = c.family == AF_INET ? ENCAP4 : ENCAP6;
	uint32_t h = test_flow_hash(client, cport, vport, proto);

	pkt_init(w);
	dpt_eth_out(w);
	if (c.family == AF_INET) {
		struct pkt_ipv4_opts o = { .frag = df };

		pkt_ipv4(w, pkt_ip(encap), b, &o);
	} else {
		struct pkt_ipv6_opts o = { .flowlabel = h & 0xfffff };

		pkt_ipv6(w, pkt_ip(encap), b, &o);
	}
	pkt_udp(w, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	pkt_geneve_dsr(w, 2, pkt_ip(vip), vport);
	pkt_eth(w, MAC_ROUTER, MAC_LB);
	if (c.family == AF_INET) {
		struct pkt_ipv4_opts o = { .frag = df };

		pkt_ipv4(w, c, b, &o);
	} else {
		pkt_ipv6(w, c, b, NULL);
	}
	if (proto == IPPROTO_TCP) {
		pkt_tcp(w, cport, bport, flags, 1000,
			flags & PKT_TCP_ACK ? 2000 : 0);
		pkt_bytes(w, "hello", 5);
	} else {
		pkt_udp(w, cport, bport, false);
		pkt_bytes(w, "query", 5);
	}
	pkt_finish(w);
}

Test(forward, geneve4_tcp_translated)
{
	struct pkt in, want;

	tcp_in(&in, CLIENT4, VIP4, 40000, 443, PKT_TCP_SYN);
	want_geneve(&want, CLIENT4, 40000, VIP4, 443, BE4_1, 8443,
		    IPPROTO_TCP, PKT_TCP_SYN, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, geneve4_option_on_every_packet)
{
	struct pkt in, want;

	tcp_in(&in, CLIENT4, VIP4, 40000, 443, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_in(&in, CLIENT4, VIP4, 40000, 443, PKT_TCP_ACK);
	want_geneve(&want, CLIENT4, 40000, VIP4, 443, BE4_1, 8443,
		    IPPROTO_TCP, PKT_TCP_ACK, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, geneve4_udp_translated)
{
	struct pkt in, want;

	udp_in(&in, CLIENT4, VIP4, 5353, 443);
	want_geneve(&want, CLIENT4, 5353, VIP4, 443, BE4_1, 8443, IPPROTO_UDP,
		    0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, geneve4_udp_without_checksum_stays_without)
{
	struct pkt in;
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	long l4;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_udp(&in, 5353, 443, true);
	pkt_bytes(&in, "query", 5);
	pkt_finish(&in);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	/* outer 14+20+8+8+12, inner Ethernet 14, inner IPv4 20 */
	l4 = 14 + 20 + 8 + 8 + 12 + 14 + 20;
	cr_assert_eq(out[l4 + 6] | out[l4 + 7], 0, "UDP checksum stays 0");
	cr_assert_eq(out[l4 + 2] << 8 | out[l4 + 3], 8443);
}

Test(forward, geneve6_tcp_translated)
{
	struct pkt in, want;

	tcp_in(&in, CLIENT6, VIP6, 40000, 443, PKT_TCP_SYN);
	want_geneve(&want, CLIENT6, 40000, VIP6, 443, BE6_1, 8443,
		    IPPROTO_TCP, PKT_TCP_SYN, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, vlan_tags_are_replaced_by_untagged_ethernet)
{
	struct pkt in, want, plain;
	int tags;

	tcp_in(&plain, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	want_ipip(&want, &plain, ENCAP4, BE4_1, 0, 0, 0);
	for (tags = 1; tags <= 2; tags++) {
		pkt_init(&in);
		dpt_eth_in(&in);
		if (tags == 2)
			pkt_vlan(&in, 0x88a8, 100);
		pkt_vlan(&in, 0x8100, 200);
		pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
		pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1000, 0);
		pkt_bytes(&in, "hello", 5);
		pkt_finish(&in);
		dpt_check(&t, &in, XDP_TX, &want);
	}
}

Test(forward, geneve_vlan)
{
	struct pkt in, want;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_vlan(&in, 0x8100, 7);
	pkt_ip_hdr(&in, pkt_ip(CLIENT6), pkt_ip(VIP6));
	pkt_tcp(&in, 40000, 443, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(&in, "hello", 5);
	pkt_finish(&in);
	want_geneve(&want, CLIENT6, 40000, VIP6, 443, BE6_1, 8443,
		    IPPROTO_TCP, PKT_TCP_SYN, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, ethernet_padding_is_not_encapsulated)
{
	struct pkt in, want, plain;
	static const uint8_t pad[6] = { 0 };

	/* a 54-byte frame is padded to 60 on the wire */
	pkt_init(&plain);
	dpt_eth_in(&plain);
	pkt_ip_hdr(&plain, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_tcp(&plain, 40000, 80, PKT_TCP_ACK, 1, 2);
	pkt_finish(&plain);
	in = plain;
	memcpy(in.buf + in.len, pad, sizeof(pad));
	in.len += sizeof(pad);
	want_ipip(&want, &plain, ENCAP4, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, ipv6_extension_headers_are_skipped)
{
	struct pkt in, want;
	uint32_t h = test_flow_hash(CLIENT6, 40000, 443, IPPROTO_TCP);
	(void)h;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT6), pkt_ip(VIP6));
	pkt_ipv6_ext(&in, IPPROTO_HOPOPTS, 0);
	pkt_ipv6_ext(&in, IPPROTO_DSTOPTS, 0);
	pkt_tcp(&in, 40000, 443, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(&in, "hello", 5);
	pkt_finish(&in);

	/* Geneve translates the TCP header behind the extension headers */
	pkt_init(&want);
	dpt_eth_out(&want);
	{
		struct pkt_ipv6_opts o = { .flowlabel = h & 0xfffff };

		pkt_ipv6(&want, pkt_ip(ENCAP6), pkt_ip(BE6_1), &o);
	}
	pkt_udp(&want, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	pkt_geneve_dsr(&want, 2, pkt_ip(VIP6), 443);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ip_hdr(&want, pkt_ip(CLIENT6), pkt_ip(BE6_1));
	pkt_ipv6_ext(&want, IPPROTO_HOPOPTS, 0);
	pkt_ipv6_ext(&want, IPPROTO_DSTOPTS, 0);
	pkt_tcp(&want, 40000, 8443, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(&want, "hello", 5);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, encap_source_from_prefix_by_flow_hash)
{
	struct pkt in, want;
	uint32_t h = test_flow_hash(CLIENT4, 40000, 80, IPPROTO_TCP);
	char src[32];

	dpt_teardown(&t);
	dpt_setup(&t, "datapath = { interface = \"lb0\"; encap_source_v4 = "
		      "\"198.18.0.64/28\"; hash_seed = 0x5eed; "
		      "maglev_table_size = 251; };\n"
		      "services = ( { vip = \"" VIP4 "\"; port = 80; "
		      "backends = ( { address = \"" BE4_1 "\"; } ); } );\n");
	snprintf(src, sizeof(src), "198.18.0.%u", 64 + (h & 15));
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	want_ipip(&want, &in, src, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(forward, other_interface_needs_a_tx_port)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF
		  "services = ( { vip = \"" VIP4 "\"; port = 80; "
		  "backends = ( { address = \"198.18.3.11\"; } ); } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_TX_PORT), 1);

	cr_assert_eq(dp_tx_port_put(t.dp, (uint32_t)IFINDEX_LB1), 0);
	dpt_check(&t, &in, XDP_REDIRECT, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_FWD_REDIRECT), 1);
}

/* in, redirected by IPIP to 198.18.3.11, the backend behind lb1. */
static void expect_redirected_to_lb1(const struct pkt *in)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	struct pkt want;

	cr_assert_eq(dpt_run(&t, in, out, &len), XDP_REDIRECT);
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER1, MAC_LB1);
	pkt_ipv4(&want, pkt_ip(ENCAP4), pkt_ip("198.18.3.11"), NULL);
	pkt_next(&want, IPPROTO_IPIP);
	pkt_append(&want, in, 14, in->len - 14);
	pkt_finish(&want);
	cr_assert_eq(len, want.len);
	cr_assert_arr_eq(out, want.buf, len);
}

Test(forward, redirected_packet_is_addressed_to_the_other_next_hop)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF
		  "services = ( { vip = \"" VIP4 "\"; port = 80; "
		  "backends = ( { address = \"198.18.3.11\"; } ); } );\n");
	cr_assert_eq(dp_tx_port_put(t.dp, (uint32_t)IFINDEX_LB1), 0);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	expect_redirected_to_lb1(&in);
}

/* Next hops are cached per backend id for a second: the id's next holder
 * (here within the same second) is routed afresh. */
#define SVC81 "{ vip = \"" VIP4 "\"; port = 81; backends = ( { address = \"" \
	BE4_1 "\"; } ); }"

Test(forward, reused_backend_id_gets_its_own_next_hop)
{
	struct pkt in;
	uint32_t id;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF
		  "services = ( { vip = \"" VIP4 "\"; port = 80; "
		  "backends = ( { address = \"" BE4_1 "\"; } ); }, " SVC81
		  " );\n");
	cr_assert_eq(dp_tx_port_put(t.dp, (uint32_t)IFINDEX_LB1), 0);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	id = t.st.svc[0].be[0].id;

	/* the service goes, freeing the id; it comes back elsewhere */
	dpt_reload(&t, DATAPATH_CONF "services = ( " SVC81 " );\n");
	dpt_reload(&t, DATAPATH_CONF
		   "services = ( { vip = \"" VIP4 "\"; port = 80; "
		   "backends = ( { address = \"198.18.3.11\"; } ); }, " SVC81
		   " );\n");
	cr_assert_eq(t.st.svc[0].be[0].id, id, "the freed id is reused");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_ACK);
	expect_redirected_to_lb1(&in);
}

Test(forward, unresolved_neighbour_passes_untouched)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF
		  "services = ( { vip = \"" VIP4 "\"; port = 80; "
		  "backends = ( { address = \"198.18.5.11\"; } ); } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_PASS, &in);
	cr_assert_eq(dpt_reason(&t, LBD_PASS_NO_NEIGH), 1);
}

Test(forward, no_route_is_dropped_and_counted)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF
		  "services = ( { vip = \"" VIP4 "\"; port = 80; "
		  "backends = ( { address = \"198.51.100.7\"; } ); } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_ROUTE), 1);
}

Test(forward, service_and_backend_counters)
{
	struct pkt in;
	struct lbd_traffic tr;
	const struct st_service *s;
	struct lbd_svc_addr key = { .family = LBD_AF_INET,
				    .proto = IPPROTO_TCP,
				    .port = htons(80) };

	key.vip.v4 = pkt_ip(VIP4).v4.s_addr;
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, NULL);
	s = state_find(&t.st, &key);
	cr_assert_not_null(s);
	cr_assert_eq(dp_svc_traffic(t.dp, s->id, &tr), 0);
	cr_assert_eq(tr.packets, 2);
	cr_assert_eq(tr.new_flows, 1);
	cr_assert_eq(tr.bytes, 2 * in.len);
	cr_assert_eq(dp_be_traffic(t.dp, s->be[0].id, &tr), 0);
	cr_assert_eq(tr.packets, 2);
	cr_assert_eq(tr.new_flows, 1);
}
