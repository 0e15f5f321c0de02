// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What is not for a VIP passes untouched; what claims to be for a VIP and
 * is malformed is dropped with its own reason, at every layer.
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

TestSuite(parse, .init = setup, .fini = teardown);

static void check_drop(const struct pkt *in, enum lbd_reason r)
{
	dpt_check(&t, in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, r), 1, "reason %d counted once", r);
}

Test(parse, non_vip_udp_passes_unchanged)
{
	struct pkt in;

	udp_in(&in, CLIENT4, ENCAP4, 5353, 53);
	dpt_check(&t, &in, XDP_PASS, &in);
	udp_in(&in, CLIENT6, ENCAP6, 5353, 53);
	dpt_check(&t, &in, XDP_PASS, &in);
	cr_assert_eq(dpt_reason(&t, LBD_PASS_NOT_VIP), 2);
}

Test(parse, non_ip_passes_unchanged)
{
	struct pkt in;
	static const uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_next(&in, 0x0806);
	pkt_bytes(&in, arp, sizeof(arp));
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_PASS, &in);
}

Test(parse, malformed_non_vip_passes_unchanged)
{
	struct pkt in;

	/* not ours: a bad IHL is the kernel's business */
	udp_in(&in, CLIENT4, ENCAP4, 5353, 53);
	in.buf[14] = 0x43;
	dpt_check(&t, &in, XDP_PASS, &in);
}

/* (A frame shorter than an Ethernet header cannot be tested:
 * BPF_PROG_TEST_RUN refuses it, as a NIC would.) */
Test(parse, truncated_vlan_tag_passes)
{
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_vlan(&in, 0x8100, 5);
	pkt_finish(&in);
	in.len = 16; /* tag cut in half */
	dpt_check(&t, &in, XDP_PASS, &in);
}

Test(parse, truncated_ip_header_without_destination_passes)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.len = 14 + 15;
	dpt_check(&t, &in, XDP_PASS, &in);
}

Test(parse, vip_unknown_port_dropped)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 81, PKT_TCP_SYN);
	check_drop(&in, LBD_DROP_NO_SERVICE);
	udp_in(&in, CLIENT6, VIP6, 40000, 81);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_SERVICE), 2);
}

Test(parse, vip_unknown_protocol_dropped)
{
	struct pkt in;
	static const uint8_t sctp[12] = { 0x13, 0x88, 0, 80 };

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_next(&in, 132);
	pkt_bytes(&in, sctp, sizeof(sctp));
	pkt_finish(&in);
	check_drop(&in, LBD_DROP_VIP_PROTO);
}

Test(parse, ipv4_bad_ihl)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.buf[14] = 0x44;
	check_drop(&in, LBD_DROP_MALFORMED_IP4);
}

Test(parse, ipv4_bad_version)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.buf[14] = 0x55;
	check_drop(&in, LBD_DROP_MALFORMED_IP4);
}

Test(parse, ipv4_total_length_beyond_frame)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.len -= 1;
	check_drop(&in, LBD_DROP_MALFORMED_IP4);
}

Test(parse, ipv4_total_length_below_header)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.buf[16] = 0;
	in.buf[17] = 19;
	check_drop(&in, LBD_DROP_MALFORMED_IP4);
}

/* A wrong IPv4 header checksum to a VIP: dropped before it is forwarded,
 * translated, answered or given state. */
Test(parse, ipv4_header_checksum_verified)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.buf[14 + 11] ^= 0x01;
	check_drop(&in, LBD_DROP_IP4_CHECKSUM);
	cr_assert_eq(dpt_reason(&t, LBD_EV_NEW_FLOW), 0);

	/* an echo request is not answered either */
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_icmp4(&in, 8, 0, 1);
	pkt_finish(&in);
	in.buf[14 + 8] = 1; /* TTL changed, checksum not */
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_IP4_CHECKSUM), 2);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_ECHO), 0);
}

/* With 40 bytes of options, every word of them is summed. */
Test(parse, ipv4_header_checksum_covers_the_options)
{
	struct pkt_ipv4_opts o = { .options_len = 40 };
	uint8_t opts[40];
	struct pkt in;

	memset(opts, 1, sizeof(opts)); /* NOPs */
	opts[39] = 0;
	o.options = opts;
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1000, 0);
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_TX, NULL);
	in.buf[14 + 58] = 0x02; /* the last option word but one */
	check_drop(&in, LBD_DROP_IP4_CHECKSUM);
}

/* The LB host's own traffic is the kernel's to check. */
Test(parse, ipv4_header_checksum_not_ours_to_host_addresses)
{
	struct pkt in;

	udp_in(&in, CLIENT4, ENCAP4, 5353, 53);
	in.buf[14 + 11] ^= 0x01;
	dpt_check(&t, &in, XDP_PASS, &in);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_IP4_CHECKSUM), 0);
}

Test(parse, ipv4_options_honoured)
{
	static const uint8_t opts[8] = { 0x01, 0x01, 0x01, 0x01,
					 0x01, 0x01, 0x01, 0x00 };
	struct pkt_ipv4_opts o = { .options = opts, .options_len = 8 };
	struct pkt in, want;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1, 0);
	pkt_finish(&in);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(parse, ipv4_options_cut_off)
{
	static const uint8_t opts[8] = { 1, 1, 1, 1, 1, 1, 1, 0 };
	struct pkt_ipv4_opts o = { .options = opts, .options_len = 8 };
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &o);
	pkt_finish(&in);
	in.len = 14 + 24;
	check_drop(&in, LBD_DROP_MALFORMED_IP4);
}

Test(parse, tcp_header_cut_off)
{
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1, 0);
	pkt_finish(&in);
	/* keep the IP length consistent with the shorter frame */
	in.len -= 4;
	in.buf[17] -= 4;
	in.buf[24] = in.buf[25] = 0;
	{
		uint16_t c = pkt_csum(in.buf + 14, 20, 0);

		in.buf[24] = c >> 8;
		in.buf[25] = c & 0xff;
	}
	check_drop(&in, LBD_DROP_MALFORMED_L4);
}

Test(parse, tcp_data_offset_too_small)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	in.buf[14 + 20 + 12] = 4 << 4;
	check_drop(&in, LBD_DROP_MALFORMED_L4);
}

Test(parse, tcp_data_offset_beyond_packet)
{
	struct pkt in;

	tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_SYN);
	in.buf[14 + 40 + 12] = 15 << 4;
	check_drop(&in, LBD_DROP_MALFORMED_L4);
}

Test(parse, udp_length_beyond_packet)
{
	struct pkt in;

	udp_in(&in, CLIENT4, VIP4, 5353, 53);
	in.buf[14 + 20 + 5] += 1;
	check_drop(&in, LBD_DROP_MALFORMED_L4);
}

Test(parse, udp_length_below_header)
{
	struct pkt in;

	udp_in(&in, CLIENT6, VIP6, 5353, 53);
	in.buf[14 + 40 + 4] = 0;
	in.buf[14 + 40 + 5] = 7;
	check_drop(&in, LBD_DROP_MALFORMED_L4);
}

Test(parse, ipv6_payload_beyond_frame)
{
	struct pkt in;

	tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_SYN);
	in.len -= 1;
	check_drop(&in, LBD_DROP_MALFORMED_IP6);
}

/* Payload lengths from 65,496 on, with the 40-byte header, do not fit 16
 * bits: wrapped, they once made a short valid packet (forwarded, and
 * given conntrack state). */
Test(parse, ipv6_payload_length_past_16_bits)
{
	static const uint16_t lens[] = { 65496, 65535 };
	struct pkt in;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (i == 0)
			tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_SYN);
		else
			udp_in(&in, CLIENT6, VIP6, 5353, 443);
		in.buf[14 + 4] = lens[i] >> 8;
		in.buf[14 + 5] = lens[i] & 0xff;
		dpt_check(&t, &in, XDP_DROP, NULL);
	}
	cr_assert_eq(dpt_reason(&t, LBD_DROP_MALFORMED_IP6), 2);
	cr_assert_eq(dpt_reason(&t, LBD_EV_NEW_FLOW), 0);
}

Test(parse, ipv6_bad_version)
{
	struct pkt in;

	tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_SYN);
	in.buf[14] = 0x40;
	check_drop(&in, LBD_DROP_MALFORMED_IP6);
}

Test(parse, ipv6_extension_header_cut_off)
{
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT6), pkt_ip(VIP6));
	pkt_ipv6_ext(&in, IPPROTO_DSTOPTS, 0);
	pkt_tcp(&in, 40000, 80, PKT_TCP_SYN, 1, 0);
	pkt_finish(&in);
	/* claims 3 more 8-byte units than the payload holds */
	in.buf[14 + 40 + 1] = 4;
	check_drop(&in, LBD_DROP_MALFORMED_IP6);
}

Test(parse, ipv6_auth_header_passes_and_is_counted)
{
	struct pkt in;
	static const uint8_t ah[16] = { IPPROTO_TCP, 2 };

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT6), pkt_ip(VIP6));
	pkt_next(&in, IPPROTO_AH);
	pkt_bytes(&in, ah, sizeof(ah));
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_PASS, &in);
	cr_assert_eq(dpt_reason(&t, LBD_PASS_IP6_EXTHDR), 1);
}

Test(parse, ipv4_fragments_dropped)
{
	struct pkt_ipv4_opts first = { .frag = 0x2000 }, later = { .frag = 185 };
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &first);
	pkt_udp(&in, 5353, 53, false);
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_DROP, NULL);

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(VIP4), &later);
	pkt_next(&in, IPPROTO_UDP);
	pkt_bytes(&in, "rest-of-datagram", 16);
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_FRAGMENT), 2);
}

Test(parse, ipv6_fragments_dropped)
{
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT6), pkt_ip(VIP6));
	pkt_ipv6_ext(&in, IPPROTO_FRAGMENT, 0x0001); /* offset 0, M */
	pkt_udp(&in, 5353, 53, false);
	pkt_finish(&in);
	check_drop(&in, LBD_DROP_FRAGMENT);
}

Test(parse, icmp_truncated)
{
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_icmp4(&in, 8, 0, 0x00010001);
	pkt_finish(&in);
	in.len -= 2;
	in.buf[17] -= 2;
	in.buf[24] = in.buf[25] = 0;
	{
		uint16_t c = pkt_csum(in.buf + 14, 20, 0);

		in.buf[24] = c >> 8;
		in.buf[25] = c & 0xff;
	}
	check_drop(&in, LBD_DROP_MALFORMED_ICMP);
}

Test(parse, icmpv6_over_ipv4_is_not_served)
{
	struct pkt in;

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_icmp6(&in, 128, 0, 0);
	pkt_finish(&in);
	check_drop(&in, LBD_DROP_VIP_PROTO);
}
