// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The datapath fuzzer's oracle says no to what it must refuse, and yes
 * to what is right: it is the only judge of millions of packets. */
#include <criterion/criterion.h>
#include <string.h>

#include "fz.h"

static const uint8_t client[4] = { 192, 0, 2, 2 };
static const uint8_t vip[4] = { 203, 0, 113, 10 };
static const uint8_t lb[4] = { 198, 18, 0, 10 };
static const uint8_t be[4] = { 198, 18, 1, 11 };
static const uint8_t zero[4] = { 0, 0, 0, 0 };

static uint16_t csum(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static size_t eth4(uint8_t *b)
{
	memset(b, 0, 12);
	b[12] = 0x08;
	b[13] = 0x00;
	return 14;
}

/* An IPv4 header at p for len bytes of payload. */
static void ip4(uint8_t *p, const uint8_t *src, const uint8_t *dst,
		uint8_t proto, size_t len)
{
	uint16_t c;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)((20 + len) >> 8);
	p[3] = (uint8_t)(20 + len);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	c = csum(p, 20, 0);
	p[10] = (uint8_t)(c >> 8);
	p[11] = (uint8_t)c;
}

/* An ICMP message of type at p, 8 + n bytes, checksum right. */
static void icmp4(uint8_t *p, uint8_t type, size_t n)
{
	uint16_t c;

	p[0] = type;
	p[1] = 0;
	p[2] = p[3] = 0;
	c = csum(p, 8 + n, 0);
	p[2] = (uint8_t)(c >> 8);
	p[3] = (uint8_t)c;
}

static size_t echo(uint8_t *b, const uint8_t *src, const uint8_t *dst,
		   uint8_t type)
{
	size_t l3 = eth4(b);

	ip4(b + l3, src, dst, 1, 8 + 4);
	memcpy(b + l3 + 20 + 4,
	       "\x12\x34\x00\x01"
	       "abcd",
	       8);
	icmp4(b + l3 + 20, type, 4);
	return l3 + 20 + 12;
}

static const char *xdp(const uint8_t *in, size_t in_len, enum fz_verdict v,
		       const uint8_t *out, size_t out_len)
{
	return fz_judge(FZ_XDP, NULL, in, in_len, v, out, out_len, NULL);
}

Test(oracle, pass_must_leave_the_frame_as_it_came)
{
	uint8_t in[64], out[64];
	size_t n = echo(in, client, vip, 8);

	memcpy(out, in, n);
	cr_assert_null(xdp(in, n, FZ_PASS, out, n));
	out[30] ^= 1;
	cr_assert_not_null(xdp(in, n, FZ_PASS, out, n));
	cr_assert_not_null(xdp(in, n, FZ_ABORTED, in, n));
	cr_assert_null(xdp(in, n, FZ_DROP, in, n));
}

Test(oracle, echo_reply_right_and_wrong)
{
	uint8_t in[64], out[64];
	size_t n = echo(in, client, vip, 8);

	echo(out, vip, client, 0);
	cr_assert_null(xdp(in, n, FZ_TX, out, n));
	/* its checksum broken */
	out[14 + 20 + 2] ^= 0x40;
	cr_assert_not_null(xdp(in, n, FZ_TX, out, n));
	/* to 0.0.0.0, asked from there */
	n = echo(in, zero, vip, 8);
	echo(out, vip, zero, 0);
	cr_assert_str_eq(xdp(in, n, FZ_TX, out, n),
			 "originated ICMP: to a source that is not unicast");
}

Test(oracle, a_corrupt_ipv4_header_must_not_be_forwarded)
{
	uint8_t in[64], out[128];
	size_t n = echo(in, client, vip, 8), l3;

	in[14 + 10] ^= 1; /* header checksum */
	l3 = eth4(out);
	ip4(out + l3, lb, be, 4, n - 14);
	memcpy(out + l3 + 20, in + 14, n - 14);
	cr_assert_str_eq(xdp(in, n, FZ_TX, out, l3 + 20 + n - 14),
			 "forwarded a malformed input: IPv4 header checksum");
	/* the same, whole: an IPIP packet the oracle takes */
	in[14 + 10] ^= 1;
	memcpy(out + l3 + 20, in + 14, n - 14);
	cr_assert_null(xdp(in, n, FZ_TX, out, l3 + 20 + n - 14));
	/* an outer length that is not the inner one's */
	out[l3 + 3]++;
	ip4(out + l3, lb, be, 4, n - 14 + 1);
	cr_assert_not_null(xdp(in, n, FZ_TX, out, l3 + 20 + n - 14 + 1));
}

Test(oracle, an_ipv6_length_past_the_frame_must_not_be_forwarded)
{
	uint8_t in[128], out[128];
	size_t n = 14 + 40 + 8;

	memset(in, 0, sizeof(in));
	in[12] = 0x86;
	in[13] = 0xdd;
	in[14] = 0x60;
	in[18] = 0xff; /* payload length 65500: wraps a 16-bit total */
	in[19] = 0xdc;
	in[20] = 17;
	memcpy(out, in, n);
	cr_assert_str_eq(
		xdp(in, n, FZ_TX, out, n),
		"forwarded a malformed input: IPv6 payload length past the "
		"frame");
}

Test(oracle, an_icmp_error_needs_a_right_checksum_and_a_whole_quote)
{
	uint8_t in[64], out[128];
	size_t n = echo(in, client, vip, 8), l3, q = 20 + 8;

	/* lbd answering the client's echo with port unreachable, quoting
	 * the header and 8 bytes */
	ip4(in + 14, client, vip, 17, 12);
	memcpy(in + 14 + 20, "\x9c\x40\x00\x35\x00\x0c\x00\x00", 8);
	l3 = eth4(out);
	ip4(out + l3, vip, client, 1, 8 + q);
	memset(out + l3 + 20, 0, 8);
	out[l3 + 20 + 1] = 3;
	memcpy(out + l3 + 28, in + 14, q);
	icmp4(out + l3 + 20, 3, q);
	cr_assert_null(xdp(in, n, FZ_TX, out, l3 + 28 + q));
	out[l3 + 28 + q - 1] ^= 1; /* the quote is not the packet's */
	cr_assert_not_null(xdp(in, n, FZ_TX, out, l3 + 28 + q));
	out[l3 + 28 + q - 1] ^= 1;
	out[l3 + 22] ^= 1; /* the checksum */
	cr_assert_str_eq(xdp(in, n, FZ_TX, out, l3 + 28 + q),
			 "originated ICMP error: checksum");
}

static bool local(int fam, const uint8_t *a)
{
	return fam == 4 && !memcmp(a, be, 4);
}

static bool trusted(int fam, const uint8_t *a)
{
	return fam == 4 && !memcmp(a, lb, 4);
}

Test(oracle, a_backend_takes_tunnels_from_trusted_lbs_only)
{
	static const struct fz_env env = { local, trusted };
	uint8_t in[128], out[128];
	size_t l3 = eth4(in), inner = 20 + 12, n = l3 + 20 + inner, on;

	echo(out, client, vip, 8);
	memcpy(in + l3 + 20, out + 14, inner);
	ip4(in + l3, lb, be, 4, inner);
	on = echo(out, client, vip, 8);
	/* decapsulated: exactly the inner packet */
	cr_assert_null(fz_judge(FZ_TC_IN, &env, in, n, FZ_PASS, out, on, NULL));
	out[on - 1] ^= 1;
	cr_assert_not_null(
		fz_judge(FZ_TC_IN, &env, in, n, FZ_PASS, out, on, NULL));
	/* from an LB not trusted: dropped is right, passing is not */
	ip4(in + l3, client, be, 4, inner);
	cr_assert_null(fz_judge(FZ_TC_IN, &env, in, n, FZ_DROP, in, n, NULL));
	cr_assert_not_null(
		fz_judge(FZ_TC_IN, &env, in, n, FZ_PASS, in, n, NULL));
	/* a fragment of it too */
	in[l3 + 6] = 0x20; /* MF */
	ip4(in + l3, client, be, 4, inner);
	in[l3 + 6] = 0x20;
	in[l3 + 10] = in[l3 + 11] = 0;
	{
		uint16_t c = csum(in + l3, 20, 0);

		in[l3 + 10] = (uint8_t)(c >> 8);
		in[l3 + 11] = (uint8_t)c;
	}
	cr_assert_not_null(
		fz_judge(FZ_TC_IN, &env, in, n, FZ_PASS, in, n, NULL));
}
