// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The packet builder is the reference every datapath test compares
 * against, so its checksums are checked against published values.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "pkt.h"

Test(pkt, rfc1071_example_checksum)
{
	/* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
	static const uint8_t b[8] = { 0x00, 0x01, 0xf2, 0x03,
				      0xf4, 0xf5, 0xf6, 0xf7 };

	cr_assert_eq(pkt_csum(b, sizeof(b), 0), (uint16_t)~0xddf2);
}

Test(pkt, ipv4_header_checksum_matches_known_header)
{
	/* a classic worked example: 4500 0073 0000 4000 4011 .... c0a8 0001
	 * c0a8 00c7 has checksum b861 */
	struct pkt p;
	struct pkt_ipv4_opts o = { .frag = 0x4000, .ttl = 0x40 };

	pkt_init(&p);
	pkt_ipv4(&p, pkt_ip("192.168.0.1"), pkt_ip("192.168.0.199"), &o);
	pkt_next(&p, 17);
	pkt_bytes(&p, (uint8_t[0x73 - 20]){ 0 }, 0x73 - 20);
	pkt_finish(&p);
	cr_assert_eq(p.buf[2] << 8 | p.buf[3], 0x73);
	cr_assert_eq(p.buf[10] << 8 | p.buf[11], 0xb861);
}

Test(pkt, udp_checksum_verifies_to_zero_with_pseudo_header)
{
	struct pkt p;
	uint8_t ph[12];
	uint32_t sum;

	pkt_init(&p);
	pkt_ipv4(&p, pkt_ip("198.18.0.1"), pkt_ip("198.18.0.2"), NULL);
	pkt_udp(&p, 1234, 53, false);
	pkt_bytes(&p, "abc", 3);
	pkt_finish(&p);
	memcpy(ph, p.buf + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	ph[10] = 0;
	ph[11] = 11;
	sum = (uint16_t)~pkt_csum(ph, 12, 0);
	cr_assert_eq(pkt_csum(p.buf + 20, 11, sum), 0);
}

Test(pkt, lengths_and_next_protocols_are_filled_outwards)
{
	struct pkt p;
	static const uint8_t m[6] = { 2, 0, 0, 0, 0, 1 };

	pkt_init(&p);
	pkt_eth(&p, m, m);
	pkt_vlan(&p, 0x8100, 5);
	pkt_ipv6(&p, pkt_ip("2001:db8::1"), pkt_ip("2001:db8::2"), NULL);
	pkt_ipv4(&p, pkt_ip("192.0.2.1"), pkt_ip("192.0.2.2"), NULL);
	pkt_tcp(&p, 1, 2, PKT_TCP_SYN, 0, 0);
	pkt_finish(&p);
	cr_assert_eq(p.buf[12] << 8 | p.buf[13], 0x8100);
	cr_assert_eq(p.buf[16] << 8 | p.buf[17], 0x86dd);
	cr_assert_eq(p.buf[18 + 4] << 8 | p.buf[18 + 5], 40);
	cr_assert_eq(p.buf[18 + 6], 4);
	cr_assert_eq(p.buf[58 + 9], 6);
}
