// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath fuzzer's packets: mostly valid ones first (Ethernet with
 * VLAN tags, IPv4 with options, IPv6 with extension headers, TCP, UDP,
 * ICMP echo and errors quoting flows, IPIP and Geneve towards a backend),
 * built with their own lengths and checksums, then, for about half of
 * them, mutated where parsers go wrong: lengths at their limits, header
 * bytes flipped, checksums broken, frames cut or padded.
 *
 * The addresses are the fuzzing lab's (fuzz_datapath.c): VIPs of every
 * kind of service, the LB host, clients and backends, and the sources no
 * one may answer (0.0.0.0, 127.0.0.1, multicast, broadcast, ff02::1).
 */
#include "fz.h"

#include <arpa/inet.h>
#include <string.h>

uint32_t fz_rand(struct fz_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545F4914F6CDD1DULL) >> 32);
}

uint32_t fz_below(struct fz_rng *r, uint32_t n)
{
	return fz_rand(r) % n;
}

bool fz_chance(struct fz_rng *r, uint32_t pct)
{
	return fz_below(r, 100) < pct;
}

void fz_flows_add(struct fz_flows *fl, const struct fz_flow *f)
{
	fl->f[fl->next] = *f;
	fl->next = (fl->next + 1) % FZ_FLOWS;
	if (fl->n < FZ_FLOWS)
		fl->n++;
}

/* -- addresses ------------------------------------------------------------ */

struct fz_addr {
	int fam;
	uint8_t a[16];
};

static struct fz_addr A(const char *s) {
	struct fz_addr x = { .fam = strchr(s, ':') ? 6 : 4 };

	inet_pton(x.fam == 4 ? AF_INET : AF_INET6, s, x.a);
	return x;
}

static const char *const vips4[] = { "203.0.113.10", "203.0.113.20",
				     "203.0.113.30", "203.0.113.40" };
static const char *const vips6[] = { "2001:db8:f::10", "2001:db8:f::20",
				     "2001:db8:f::30", "2001:db8:f::40" };
static const char *const clients4[] = { "192.0.2.2", "192.0.2.77", "198.19.5.6",
					"198.19.77.9" };
static const char *const clients6[] = { "2001:db8:c::2", "2001:db8:c::99",
					"2001:db8:d::5" };
/* sources that must never be answered */
static const char *const bad4[] = {
	"0.0.0.0",	   "127.0.0.1", "224.0.0.1",
	"255.255.255.255", "239.1.2.3", "240.0.0.1"
};
static const char *const bad6[] = { "::", "::1", "ff02::1", "ff05::2",
				    "::ffff:192.0.2.2" };
static const char *const lbhost4 = "198.18.0.10";
static const char *const lbhost6 = "2001:db8::10";
static const char *const backends4[] = { "198.18.1.11", "198.18.4.11" };
static const char *const backends6[] = { "2001:db8:1::11", "2001:db8:4::11" };
static const uint16_t ports[] = { 80, 53, 443, 8080, 30080, 22 };

#define PICK(r, arr) (arr[fz_below(r, sizeof(arr) / sizeof(arr[0]))])

static struct fz_addr client(struct fz_rng *r, int fam)
{
	if (fz_chance(r, 8))
		return A(fam == 4 ? PICK(r, bad4) : PICK(r, bad6));
	return A(fam == 4 ? PICK(r, clients4) : PICK(r, clients6));
}

static struct fz_addr vip(struct fz_rng *r, int fam)
{
	return A(fam == 4 ? PICK(r, vips4) : PICK(r, vips6));
}

/* -- building --------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t csum(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

struct fz_ipspec {
	struct fz_addr src, dst;
	uint8_t proto;
	size_t v4opts; /* bytes of IPv4 options, a multiple of 4, <= 40 */
	int v6ext; /* extension headers before L4 */
	bool frag;
};

static void random_spec_extras(struct fz_rng *r, struct fz_ipspec *s)
{
	if (s->src.fam == 4 && fz_chance(r, 20))
		s->v4opts = fz_chance(r, 40) ? 40 : 4 * (1 + fz_below(r, 10));
	if (s->src.fam == 6 && fz_chance(r, 15))
		s->v6ext = 1 + (int)fz_below(r, 3);
	s->frag = fz_chance(r, 3);
}

/*
 * Writes an IP packet around the L4 bytes (their checksum field zero)
 * at p; fills in lengths and checksums. Returns its length.
 */
static size_t ip_wrap(struct fz_rng *r, uint8_t *p, const struct fz_ipspec *s,
		      const uint8_t *l4, size_t l4len)
{
	size_t hl, ph;
	uint8_t *q;
	uint32_t ps;
	int i;

	if (s->src.fam == 4) {
		hl = 20 + s->v4opts;
		memset(p, 0, hl);
		p[0] = (uint8_t)(0x40 | hl / 4);
		put16(p + 2, (uint16_t)(hl + l4len));
		put16(p + 4, (uint16_t)fz_rand(r));
		put16(p + 6, s->frag ? (fz_chance(r, 50) ? 0x2000 : 0x00b9) :
				       (fz_chance(r, 50) ? 0x4000 : 0));
		p[8] = (uint8_t)(1 + fz_below(r, 255));
		p[9] = s->proto;
		memcpy(p + 12, s->src.a, 4);
		memcpy(p + 16, s->dst.a, 4);
		/* options: NOPs, a timestamp-looking one, EOL */
		for (i = 20; i < (int)hl; i++)
			p[i] = fz_chance(r, 80) ? 1 : (uint8_t)fz_rand(r);
		if (hl > 20 && fz_chance(r, 50))
			p[hl - 1] = 0;
		put16(p + 10, csum(sum16(p, hl, 0)));
		ph = 20; /* unused for IPv4 */
	} else {
		uint8_t nh = s->proto;

		hl = 40 + (size_t)s->v6ext * 8 + (s->frag ? 8 : 0);
		memset(p, 0, hl);
		p[0] = 0x60;
		put16(p + 4, (uint16_t)(hl - 40 + l4len));
		p[7] = 64;
		memcpy(p + 8, s->src.a, 16);
		memcpy(p + 24, s->dst.a, 16);
		/* built backwards: each header names the next */
		q = p + hl;
		if (s->frag) {
			q -= 8;
			q[0] = nh;
			put16(q + 2, fz_chance(r, 50) ? 1 : 0x00b8);
			nh = 44;
		}
		for (i = 0; i < s->v6ext; i++) {
			static const uint8_t kinds[] = { 60, 43, 0 };

			q -= 8;
			q[0] = nh;
			q[1] = 0;
			nh = i == s->v6ext - 1 ? 0 : PICK(r, kinds);
			if (nh == 43) {
				q[2] = 0; /* routing type 0, segments 0 */
				q[3] = 0;
			} else {
				q[2] = 1; /* PadN */
				q[3] = 4;
			}
		}
		p[6] = nh;
		ph = hl;
	}
	memcpy(p + hl, l4, l4len);
	q = p + hl;
	ps = 0;
	if (s->src.fam == 6 || s->proto != 1) {
		size_t alen = s->src.fam == 4 ? 4 : 16;

		ps = sum16(s->src.a, alen, 0);
		ps = sum16(s->dst.a, alen, ps);
		ps += (uint32_t)s->proto + (uint32_t)l4len;
	}
	(void)ph;
	if (s->proto == 6 && l4len >= 20)
		put16(q + 16, csum(sum16(q, l4len, ps)));
	else if (s->proto == 17 && l4len >= 8)
		put16(q + 6, csum(sum16(q, l4len, ps)));
	else if (s->proto == 1 && l4len >= 4)
		put16(q + 2, csum(sum16(q, l4len, 0)));
	else if (s->proto == 58 && l4len >= 4)
		put16(q + 2, csum(sum16(q, l4len, ps)));
	return hl + l4len;
}

/* n bytes of payload; 0: a random small amount */
static size_t payload(struct fz_rng *r, uint8_t *p, size_t n)
{
	size_t i;

	if (!n)
		n = fz_chance(r, 30) ? 0 : fz_below(r, 48);
	for (i = 0; i < n; i++)
		p[i] = (uint8_t)fz_rand(r);
	return n;
}

static size_t l4_tcp(struct fz_rng *r, uint8_t *p, uint16_t sport,
		     uint16_t dport, size_t plen)
{
	static const uint8_t flags[] = { 0x02, 0x10, 0x18, 0x11, 0x04, 0x12 };
	size_t hl = fz_chance(r, 20) ? 20 + 4 * fz_below(r, 11) : 20;
	size_t i;

	memset(p, 0, hl);
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)fz_rand(r));
	p[12] = (uint8_t)(hl / 4 << 4);
	p[13] = PICK(r, flags);
	put16(p + 14, 65535);
	for (i = 20; i < hl; i++)
		p[i] = 1; /* NOP options */
	return hl + payload(r, p + hl, plen);
}

static size_t l4_udp(struct fz_rng *r, uint8_t *p, uint16_t sport,
		     uint16_t dport, size_t plen)
{
	size_t n = 8 + payload(r, p + 8, plen);

	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)n);
	put16(p + 6, 0);
	return n;
}

/* A flow's first packet, as IP bytes (for quotes and tunnels). */
static size_t flow_packet(struct fz_rng *r, uint8_t *p, struct fz_addr src,
			  struct fz_addr dst, uint8_t proto, uint16_t sport,
			  uint16_t dport, size_t plen)
{
	uint8_t l4[1600];
	struct fz_ipspec s = { .src = src, .dst = dst, .proto = proto };
	size_t n = proto == 6 ? l4_tcp(r, l4, sport, dport, plen) :
				l4_udp(r, l4, sport, dport, plen);

	random_spec_extras(r, &s);
	s.frag = false;
	return ip_wrap(r, p, &s, l4, n);
}

/* An ICMP error (type, code) quoting len bytes of the IP packet q. */
static size_t l4_icmp_error(struct fz_rng *r, uint8_t *p, int fam,
			    const uint8_t *q, size_t qlen)
{
	static const uint8_t t4[][2] = {
		{ 3, 3 }, { 3, 4 }, { 11, 0 }, { 3, 1 }
	};
	static const uint8_t t6[][2] = {
		{ 1, 4 }, { 2, 0 }, { 3, 0 }, { 1, 0 }
	};
	const uint8_t *t = fam == 4 ? t4[fz_below(r, 4)] : t6[fz_below(r, 4)];
	size_t keep = qlen;

	/* the whole packet, the minimum (header + 8), or too little */
	switch (fz_below(r, 4)) {
	case 0:
		keep = fam == 4 ? (size_t)(q[0] & 15) * 4 + 8 : 48;
		break;
	case 1:
		keep = 1 + fz_below(r, (uint32_t)qlen);
		break;
	default:
		break;
	}
	if (keep > qlen)
		keep = qlen;
	memset(p, 0, 8);
	p[0] = t[0];
	p[1] = t[1];
	if (t[0] == 3 && t[1] == 4)
		put16(p + 6, (uint16_t)(576 + fz_below(r, 1000)));
	if (fam == 6 && t[0] == 2)
		put16(p + 6, (uint16_t)(1280 + fz_below(r, 200)));
	memcpy(p + 8, q, keep);
	return 8 + keep;
}

static size_t eth(struct fz_rng *r, uint8_t *p, int fam)
{
	static const uint8_t lb[6] = { 2, 0, 0, 0, 0, 0x10 };
	static const uint8_t router[6] = { 2, 0, 0, 0, 0, 1 };
	size_t n = 12;
	int tags = fz_chance(r, 10) ? 1 + (int)fz_below(r, 2) : 0;

	memcpy(p, lb, 6);
	memcpy(p + 6, router, 6);
	while (tags--) {
		put16(p + n, tags ? 0x88a8 : 0x8100);
		put16(p + n + 2, (uint16_t)fz_below(r, 4095));
		n += 4;
	}
	put16(p + n, fam == 4 ? 0x0800 : 0x86dd);
	return n + 2;
}

/* Ethernet padding to the minimum frame, and sometimes more. */
static void pad(struct fz_rng *r, struct fz_frame *f)
{
	size_t want = f->len;

	if (f->len < 60 && fz_chance(r, 60))
		want = 60;
	if (fz_chance(r, 8))
		want += fz_below(r, 24);
	while (f->len < want)
		f->b[f->len++] = fz_chance(r, 70) ? 0 : (uint8_t)fz_rand(r);
}

/* -- mutation ------------------------------------------------------------- */

static void mutate(struct fz_rng *r, struct fz_frame *f, size_t l3)
{
	int ops = 1 + (int)fz_below(r, 3);

	while (ops--) {
		size_t at;

		switch (fz_below(r, 8)) {
		case 0: /* a bit of a header */
			at = l3 + fz_below(r, 80);
			if (at < f->len)
				f->b[at] ^= (uint8_t)(1 << fz_below(r, 8));
			break;
		case 1: /* a 16-bit field at its limits */
			at = l3 + 2 * fz_below(r, 40);
			if (at + 2 <= f->len) {
				static const uint16_t v[] = {
					0,  1,	    7,	    8,	  19,
					20, 0xffff, 0xfffe, 65496
				};
				put16(f->b + at,
				      fz_chance(r, 30) ?
					      (uint16_t)(65496 +
							 fz_below(r, 40)) :
					      PICK(r, v));
			}
			break;
		case 2: /* the IP length, off by a little or a lot */
			if ((f->b[l3] >> 4) == 6 && l3 + 6 <= f->len)
				put16(f->b + l3 + 4,
				      fz_chance(r, 50) ?
					      (uint16_t)(65496 +
							 fz_below(r, 40)) :
					      (uint16_t)(f->b[l3 + 4] << 8 |
							 f->b[l3 + 5]) +
						      (uint16_t)fz_below(r, 9) -
						      4);
			else if (l3 + 4 <= f->len)
				put16(f->b + l3 + 2,
				      (uint16_t)((f->b[l3 + 2] << 8 |
						  f->b[l3 + 3]) +
						 fz_below(r, 9) - 4));
			break;
		case 3: /* the IPv4 header checksum */
			if (l3 + 12 <= f->len && (f->b[l3] >> 4) == 4)
				f->b[l3 + 10 + fz_below(r, 2)] ^=
					(uint8_t)(1 + fz_below(r, 255));
			break;
		case 4: /* cut */
			if (f->len > l3 + 1)
				f->len = l3 + 1 +
					 fz_below(r, (uint32_t)(f->len - l3));
			break;
		case 5: /* trailing bytes */
			at = fz_below(r, 30);
			while (at-- && f->len < FZ_MAX)
				f->b[f->len++] = (uint8_t)fz_rand(r);
			break;
		case 6: /* a byte anywhere */
			if (f->len)
				f->b[fz_below(r, (uint32_t)f->len)] =
					(uint8_t)fz_rand(r);
			break;
		default: /* IPv4 header length */
			if (l3 < f->len && (f->b[l3] >> 4) == 4)
				f->b[l3] = (uint8_t)(0x40 | fz_below(r, 16));
			break;
		}
	}
}

/* -- LB host (XDP) ---------------------------------------------------------- */

void fz_gen_xdp(struct fz_rng *r, const struct fz_flows *snat,
		struct fz_frame *f)
{
	uint8_t l4[1700], q[1700];
	int fam = fz_chance(r, 55) ? 4 : 6;
	struct fz_ipspec s = { 0 };
	uint32_t kind = fz_below(r, 100);
	size_t l3, n = 0, qn;
	uint8_t proto = fz_chance(r, 60) ? 6 : 17;

	if (kind >= 70 && kind < 82 && snat->n) {
		/* from a backend to the SNAT address: a reply, or an ICMP
		 * error about a translated packet */
		const struct fz_flow *fl = &snat->f[fz_below(r, snat->n)];

		fam = fl->fam;
		memcpy(s.src.a, fl->b, 16);
		memcpy(s.dst.a, fl->a, 16);
		s.src.fam = s.dst.fam = fam;
		if (fz_chance(r, 70)) {
			s.proto = fl->proto;
			n = fl->proto == 6 ? l4_tcp(r, l4, fl->bp, fl->ap, 0) :
					     l4_udp(r, l4, fl->bp, fl->ap, 0);
		} else {
			struct fz_addr a = { .fam = fam }, b = { .fam = fam };

			memcpy(a.a, fl->a, 16);
			memcpy(b.a, fl->b, 16);
			qn = flow_packet(r, q, a, b, fl->proto, fl->ap, fl->bp,
					 0);
			s.proto = fam == 4 ? 1 : 58;
			n = l4_icmp_error(r, l4, fam, q, qn);
		}
	} else if (kind < 45 || kind >= 70) {
		s.src = client(r, fam);
		s.dst = kind >= 94 ? A(fam == 4 ? lbhost4 : lbhost6) :
				     vip(r, fam);
		s.proto = proto;
		if (kind >= 82 && kind < 88) {
			/* big, towards the backend behind a 1400 MTU */
			size_t plen = 1300 + fz_below(r, 200);

			s.dst = A(fam == 4 ? vips4[3] : vips6[3]);
			n = proto == 6 ? l4_tcp(r, l4, 40000, 80, plen) :
					 l4_udp(r, l4, 40000, 80, plen);
		} else {
			uint16_t sp = (uint16_t)(1024 + fz_below(r, 64000));
			uint16_t dp = fz_chance(r, 90) ? PICK(r, ports) :
							 (uint16_t)fz_rand(r);

			n = proto == 6 ? l4_tcp(r, l4, sp, dp, 0) :
					 l4_udp(r, l4, sp, dp, 0);
		}
	} else if (kind < 55) {
		/* echo request */
		s.src = client(r, fam);
		s.dst = vip(r, fam);
		s.proto = fam == 4 ? 1 : 58;
		memset(l4, 0, 8);
		l4[0] = fam == 4 ? 8 : 128;
		put16(l4 + 4, (uint16_t)fz_rand(r));
		put16(l4 + 6, (uint16_t)fz_rand(r));
		n = 8 + payload(r, l4 + 8, 0);
	} else {
		/* an ICMP error to a VIP about one of its flows: a reply
		 * that left (VIP -> client), or a client's packet */
		struct fz_addr v = vip(r, fam), c = client(r, fam);
		uint16_t vp = PICK(r, ports), cp = 40000;

		if (fz_chance(r, 80))
			qn = flow_packet(r, q, v, c, proto, vp, cp, 0);
		else
			qn = flow_packet(r, q, c, v, proto, cp, vp, 0);
		s.src = fz_chance(r, 70) ?
				A(fam == 4 ? "198.19.9.1" : "2001:db8:c::1") :
				client(r, fam);
		s.dst = v;
		s.proto = fam == 4 ? 1 : 58;
		n = l4_icmp_error(r, l4, fam, q, qn);
	}
	if (!s.src.fam) {
		s.src.fam = fam;
		s.dst.fam = fam;
	}
	random_spec_extras(r, &s);
	l3 = eth(r, f->b, fam);
	f->len = l3 + ip_wrap(r, f->b + l3, &s, l4, n);
	pad(r, f);
	if (fz_chance(r, 50))
		mutate(r, f, l3);
}

/* -- backend (tc) ------------------------------------------------------------ */

void fz_gen_tc_in(struct fz_rng *r, struct fz_frame *f)
{
	uint8_t l4[1700], inner[1700];
	int ofam = fz_chance(r, 50) ? 4 : 6;
	int ifam = fz_chance(r, 70) ? ofam : 10 - ofam;
	struct fz_ipspec s = { 0 };
	struct fz_addr c = client(r, ifam);
	struct fz_addr v = fz_chance(r, 50) ?
				   vip(r, ifam) :
				   A(ifam == 4 ? backends4[0] : backends6[0]);
	uint8_t proto = fz_chance(r, 60) ? 6 : 17;
	size_t l3, in_n, n;
	uint32_t kind = fz_below(r, 100);

	/* from a trusted LB, mostly; to this node, mostly */
	s.src = fz_chance(r, 70) ?
			A(ofam == 4 ? lbhost4 : lbhost6) :
			A(ofam == 4 ? "198.18.0.66" : "2001:db8::66");
	s.dst = A(ofam == 4 ? backends4[0] : backends6[0]);
	if (fz_chance(r, 10))
		s.dst = A(ofam == 4 ? backends4[1] : backends6[1]);
	in_n = flow_packet(r, inner, c, v, proto, 40000,
			   fz_chance(r, 50) ? 8443 : 80, 0);
	if (kind < 40) {
		/* IPIP, IP6IP6, 4-in-6 */
		s.proto = ifam == 4 ? 4 : 41;
		memcpy(l4, inner, in_n);
		n = in_n;
	} else if (kind < 85) {
		/* Geneve with lbd's DSR option, another, or none */
		size_t opt = 0, i;

		memset(l4, 0, 16);
		put16(l4, (uint16_t)fz_rand(r));
		put16(l4 + 2, 6081);
		put16(l4 + 10, 0x6558);
		l4[14] = 2; /* VNI */
		if (fz_chance(r, 85)) {
			uint8_t *o = l4 + 16;
			size_t body = ifam == 4 ? 8 : 20;

			put16(o, 0x014b);
			o[2] = 0x81;
			o[3] = (uint8_t)(body / 4);
			memcpy(o + 4, v.a, ifam == 4 ? 4 : 16);
			put16(o + 4 + (ifam == 4 ? 4 : 16), 443);
			opt = 4 + body;
		}
		if (fz_chance(r, 15)) {
			uint8_t *o = l4 + 16 + opt;

			put16(o, (uint16_t)fz_rand(r));
			o[2] = (uint8_t)fz_rand(r); /* critical, sometimes */
			o[3] = 1;
			memset(o + 4, 0xab, 4);
			opt += 8;
		}
		l4[8] = (uint8_t)(opt / 4);
		i = 16 + opt;
		memcpy(l4 + i,
		       (const uint8_t[]){ 2, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0,
					  0x10 },
		       12);
		put16(l4 + i + 12, ifam == 4 ? 0x0800 : 0x86dd);
		memcpy(l4 + i + 14, inner, in_n);
		n = i + 14 + in_n;
		put16(l4 + 4, (uint16_t)n);
		s.proto = 17;
		if (ifam != ofam) { /* Geneve keeps the family */
			in_n = flow_packet(r, inner, client(r, ofam),
					   vip(r, ofam), proto, 40000, 8443, 0);
			put16(l4 + i + 12, ofam == 4 ? 0x0800 : 0x86dd);
			memcpy(l4 + i + 14, inner, in_n);
			n = i + 14 + in_n;
			put16(l4 + 4, (uint16_t)n);
		}
	} else {
		/* not a tunnel: the backend's own traffic */
		s.src = client(r, ofam);
		s.proto = proto;
		n = proto == 6 ? l4_tcp(r, l4, 40000, PICK(r, ports), 0) :
				 l4_udp(r, l4, 40000, PICK(r, ports), 0);
	}
	random_spec_extras(r, &s);
	s.frag = fz_chance(r, 8);
	l3 = eth(r, f->b, ofam);
	f->len = l3 + ip_wrap(r, f->b + l3, &s, l4, n);
	pad(r, f);
	if (fz_chance(r, 40))
		mutate(r, f, l3);
}

void fz_gen_tc_out(struct fz_rng *r, const struct fz_flows *gnv,
		   struct fz_frame *f)
{
	uint8_t ipb[1700];
	struct fz_addr src, dst;
	uint8_t proto;
	uint16_t sp, dp;
	size_t l3;
	int fam;

	if (gnv->n && fz_chance(r, 80)) {
		/* the reply of a flow the ingress program recorded */
		const struct fz_flow *fl = &gnv->f[fz_below(r, gnv->n)];

		fam = fl->fam;
		src.fam = dst.fam = fam;
		memcpy(src.a, fl->b, 16);
		memcpy(dst.a, fl->a, 16);
		proto = fl->proto;
		sp = fl->bp;
		dp = fl->ap;
	} else {
		fam = fz_chance(r, 50) ? 4 : 6;
		src = A(fam == 4 ? backends4[0] : backends6[0]);
		dst = client(r, fam);
		proto = fz_chance(r, 60) ? 6 : 17;
		sp = PICK(r, ports);
		dp = 40000;
	}
	l3 = eth(r, f->b, fam);
	f->len = l3 + flow_packet(r, ipb, src, dst, proto, sp, dp, 0);
	memcpy(f->b + l3, ipb, f->len - l3);
	pad(r, f);
	if (fz_chance(r, 30))
		mutate(r, f, l3);
}
