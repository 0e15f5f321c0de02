// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath fuzzer's oracle. It knows nothing of lbd's code: its own
 * parser, its own checksums, and the rules a load balancer must keep
 * whatever it is fed:
 *   - what is forwarded (XDP_TX, XDP_REDIRECT) came from a well-formed
 *     packet (lengths inside the frame, IPv4 header checksum, no
 *     fragment, an ICMP message with its header and a whole quote) and is
 *     itself well formed: checksums, lengths consistent with the frame
 *     and with the packet it encapsulates, outer and inner families that
 *     match, the L4 checksum right where lbd rewrote a valid one;
 *   - what passes to the kernel (XDP_PASS, TC_ACT_OK untouched) is the
 *     frame as it came, byte for byte;
 *   - an ICMP message lbd originates (echo reply, port unreachable,
 *     fragmentation needed / packet too big) is valid and goes to a
 *     unicast address, never about an ICMP error (RFC 1122 3.2.2,
 *     RFC 4443 2.4), with a quote that is the offending packet's start;
 *   - on a backend, encapsulated traffic to this node from an LB not
 *     trusted never reaches the stack, and decapsulation yields exactly
 *     the inner packet.
 */
#include "fz.h"

#include <stdio.h>
#include <string.h>

#define ETH_IP4 0x0800
#define ETH_IP6 0x86dd
#define GENEVE_PORT 6081
#define GENEVE_PROTO_ETH 0x6558

static char fz_why[192];

static const char *fz_fmt(const char *where, const char *what)
{
	snprintf(fz_why, sizeof(fz_why), "%s: %s", where, what);
	return fz_why;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* -- checksums (RFC 1071) ----------------------------------------------- */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The sum over data with its checksum field in place: 0xffff if right. */
static bool csum_ok(int fam, const uint8_t *src, const uint8_t *dst,
		    uint8_t proto, const uint8_t *p, size_t n, bool pseudo)
{
	uint32_t s = 0;

	if (pseudo) {
		size_t alen = fam == 4 ? 4 : 16;

		s = sum16(src, alen, s);
		s = sum16(dst, alen, s);
		s += proto;
		s += (uint32_t)(n & 0xffff) + (uint32_t)(n >> 16);
	}
	return fold(sum16(p, n, s)) == 0xffff;
}

/* -- parsing -------------------------------------------------------------- */

struct fz_ip {
	int fam;
	size_t off, hlen, len; /* header (options, extension headers), total */
	uint8_t proto;
	bool frag, first_frag, hcsum_ok;
	const uint8_t *src, *dst;
};

/* The L3 header's offset after Ethernet and up to two VLAN tags. */
static int eth_parse(const uint8_t *b, size_t len, size_t *l3, uint16_t *type)
{
	size_t off = 12;
	int tags;

	for (tags = 0;; tags++) {
		if (off + 2 > len)
			return -1;
		*type = get16(b + off);
		if (*type != 0x8100 && *type != 0x88a8)
			break;
		if (tags == 2)
			return -1;
		off += 4;
	}
	*l3 = off + 2;
	return 0;
}

/* An IP packet at b + off that must end by end. NULL or what is wrong. */
static const char *ip_parse(const uint8_t *b, size_t off, size_t end,
			    struct fz_ip *ip)
{
	const uint8_t *h = b + off;
	size_t avail = end > off ? end - off : 0;

	memset(ip, 0, sizeof(*ip));
	ip->off = off;
	if (avail < 1)
		return "no IP header";
	if ((h[0] >> 4) == 4) {
		size_t ihl = (size_t)(h[0] & 15) * 4;
		uint16_t fo;

		ip->fam = 4;
		if (avail < 20)
			return "IPv4 header cut short";
		ip->len = get16(h + 2);
		if (ihl < 20 || ihl > ip->len)
			return "IPv4 header length";
		if (ip->len > avail)
			return "IPv4 total length past the frame";
		ip->hlen = ihl;
		ip->proto = h[9];
		fo = get16(h + 6);
		ip->frag = (fo & 0x3fff) != 0;
		ip->first_frag = (fo & 0x1fff) == 0;
		ip->hcsum_ok = csum_ok(4, NULL, NULL, 0, h, ihl, false);
		ip->src = h + 12;
		ip->dst = h + 16;
		return NULL;
	}
	if ((h[0] >> 4) == 6) {
		size_t hl = 40;
		uint8_t nh;
		int i;

		ip->fam = 6;
		if (avail < 40)
			return "IPv6 header cut short";
		ip->len = 40 + (size_t)get16(h + 4);
		if (ip->len > avail)
			return "IPv6 payload length past the frame";
		ip->src = h + 8;
		ip->dst = h + 24;
		ip->hcsum_ok = true;
		ip->first_frag = true;
		nh = h[6];
		for (i = 0; i < 8; i++) {
			size_t el;

			if (nh != 0 && nh != 43 && nh != 60 && nh != 44 &&
			    nh != 51)
				break;
			if (hl + 8 > ip->len)
				return "IPv6 extension header past the packet";
			if (nh == 44) {
				el = 8;
				ip->frag = true;
				ip->first_frag = (get16(h + hl + 2) & 0xfff8) ==
						 0;
			} else if (nh == 51) {
				el = ((size_t)h[hl + 1] + 2) * 4;
			} else {
				el = ((size_t)h[hl + 1] + 1) * 8;
			}
			if (hl + el > ip->len)
				return "IPv6 extension header past the packet";
			nh = h[hl];
			hl += el;
		}
		if (i == 8)
			return "IPv6 extension header chain too long";
		ip->hlen = hl;
		ip->proto = nh;
		return NULL;
	}
	return "IP version";
}

static bool icmp_is_error(int fam, uint8_t type)
{
	return fam == 4 ? type == 3 || type == 11 || type == 12 || type == 4 ||
				  type == 5 :
			  type < 128;
}

static bool is_icmp(const struct fz_ip *ip)
{
	return ip->proto == (ip->fam == 4 ? 1 : 58);
}

/* The L4 header of a whole (unfragmented) packet: NULL if sound; *ok
 * tells whether its checksum is right (true where there is none). */
static const char *l4_check(const uint8_t *b, const struct fz_ip *ip, bool *ok)
{
	const uint8_t *l4 = b + ip->off + ip->hlen;
	size_t n = ip->len - ip->hlen;

	*ok = true;
	if (ip->proto == 6) {
		if (n < 20 || (size_t)(l4[12] >> 4) * 4 < 20 ||
		    (size_t)(l4[12] >> 4) * 4 > n)
			return "TCP header length";
		*ok = csum_ok(ip->fam, ip->src, ip->dst, 6, l4, n, true);
	} else if (ip->proto == 17) {
		size_t ul;

		if (n < 8)
			return "UDP header cut short";
		ul = get16(l4 + 4);
		if (ul < 8 || ul > n)
			return "UDP length";
		/* over IPv6 a zero field is no checksum, which receivers
		 * discard (RFC 8200 8.1), even where the sum happens to
		 * come out right (0 and 0xffff are both one's complement
		 * zero) */
		if (ip->fam == 6)
			*ok = get16(l4 + 6) &&
			      csum_ok(ip->fam, ip->src, ip->dst, 17, l4, ul,
				      true);
		else if (get16(l4 + 6))
			*ok = csum_ok(ip->fam, ip->src, ip->dst, 17, l4, ul,
				      true);
	} else if (is_icmp(ip)) {
		if (n < 8)
			return "ICMP message shorter than its header";
		*ok = csum_ok(ip->fam, ip->src, ip->dst, 58, l4, n,
			      ip->fam == 6);
		if (icmp_is_error(ip->fam, l4[0])) {
			const uint8_t *q = l4 + 8;
			size_t qn = n - 8;

			/* the quote: the offending packet's IP header and
			 * at least 8 bytes of what follows (RFC 792,
			 * RFC 4443 2.4 (c)), inside this packet */
			if (qn < 1)
				return "ICMP error without a quote";
			if ((q[0] >> 4) == 4) {
				size_t ihl = (size_t)(q[0] & 15) * 4;

				if (qn < 20 || ihl < 20 || ihl + 8 > qn)
					return "ICMP error quote cut short";
			} else if ((q[0] >> 4) == 6) {
				if (qn < 48)
					return "ICMP error quote cut short";
			} else {
				return "ICMP error quoting no IP packet";
			}
		}
	}
	return NULL;
}

/* A quoted IPv4 header's checksum, when there is a whole one. */
static int quote_hcsum(const uint8_t *b, const struct fz_ip *ip)
{
	const uint8_t *l4 = b + ip->off + ip->hlen;
	size_t n = ip->len - ip->hlen, ihl;

	if (!is_icmp(ip) || n < 28 || !icmp_is_error(ip->fam, l4[0]) ||
	    (l4[8] >> 4) != 4)
		return -1;
	ihl = (size_t)(l4[8] & 15) * 4;
	if (ihl < 20 || 8 + ihl > n)
		return -1;
	return csum_ok(4, NULL, NULL, 0, l4 + 8, ihl, false);
}

static bool unicast(int fam, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (fam == 4)
		return a[0] != 0 && a[0] != 127 && a[0] < 224;
	if (!memcmp(a, zero, 16) || a[0] == 0xff)
		return false;
	if (!memcmp(a, zero, 15) && a[15] == 1) /* ::1 */
		return false;
	/* IPv4-mapped: not an address IPv6 packets are sent to */
	return !(!memcmp(a, zero, 10) && a[10] == 0xff && a[11] == 0xff);
}

/* A whole input frame: its IP packet, well formed, or why not. */
static const char *frame_parse(const uint8_t *b, size_t len, struct fz_ip *ip)
{
	uint16_t type;
	size_t l3;
	const char *why;

	if (eth_parse(b, len, &l3, &type))
		return "Ethernet header";
	if (type != ETH_IP4 && type != ETH_IP6)
		return "not IP";
	why = ip_parse(b, l3, len, ip);
	if (!why && (ip->fam == 4) != (type == ETH_IP4))
		why = "EtherType and IP version disagree";
	return why;
}

static const char *input_sound(const uint8_t *b, size_t len, struct fz_ip *ip,
			       bool *l4ok)
{
	const char *why = frame_parse(b, len, ip);

	if (why)
		return why;
	if (!ip->hcsum_ok)
		return "IPv4 header checksum";
	if (ip->frag)
		return "a fragment";
	return l4_check(b, ip, l4ok);
}

/* -- XDP ----------------------------------------------------------------- */

static const char *judge_geneve(const uint8_t *out, size_t out_len,
				const struct fz_ip *o, bool in_l4ok)
{
	const uint8_t *u = out + o->off + o->hlen;
	size_t n = o->len - o->hlen, opt, ieth;
	struct fz_ip in;
	const char *why;
	bool ok;

	(void)out_len;
	if (n < 8 + 8 + 14 || get16(u + 4) != n)
		return "Geneve: UDP length";
	/* zero: no checksum, which tunnels may send over IPv6 too
	 * (RFC 6935, RFC 8926 3.3) */
	if (get16(u + 6) && !csum_ok(o->fam, o->src, o->dst, 17, u, n, true))
		return "Geneve: UDP checksum";
	if ((u[8] >> 6) != 0 || get16(u + 10) != GENEVE_PROTO_ETH)
		return "Geneve: header";
	opt = (size_t)(u[8] & 0x3f) * 4;
	ieth = 8 + 8 + opt;
	if (ieth + 14 > n)
		return "Geneve: options past the packet";
	why = ip_parse(u, ieth + 14, n, &in);
	if (why)
		return fz_fmt("Geneve inner", why);
	if ((in.fam == 4) != (get16(u + ieth + 12) == ETH_IP4))
		return "Geneve: inner EtherType and IP version disagree";
	if (in.off + in.len != n)
		return "Geneve: inner length and UDP length disagree";
	if (!in.hcsum_ok)
		return "Geneve: inner IPv4 header checksum";
	why = l4_check(u, &in, &ok);
	if (why)
		return fz_fmt("Geneve inner", why);
	if (in_l4ok && !ok)
		return "Geneve: inner L4 checksum (valid in the input)";
	return NULL;
}

static const char *judge_originated(const uint8_t *in, const struct fz_ip *i,
				    bool in_l4ok, const uint8_t *out,
				    const struct fz_ip *o)
{
	const uint8_t *m = out + o->off + o->hlen;
	const uint8_t *im = in + i->off + i->hlen;
	size_t n = o->len - o->hlen, in_n = i->len - i->hlen;
	bool err = icmp_is_error(o->fam, m[0]);

	if (!unicast(o->fam, o->dst))
		return "originated ICMP: to a source that is not unicast";
	/* an error is made afresh; an echo reply is the request's own
	 * message, right when that was */
	if ((err || in_l4ok) &&
	    !csum_ok(o->fam, o->src, o->dst, 58, m, n, o->fam == 6))
		return err ? "originated ICMP error: checksum" :
			     "originated echo reply: checksum";
	if (memcmp(o->src, i->dst, o->fam == 4 ? 4 : 16))
		return "originated ICMP: not from the address asked";
	if (!err) {
		if (m[0] != (o->fam == 4 ? 0 : 129) ||
		    im[0] != (o->fam == 4 ? 8 : 128))
			return "originated ICMP: a reply to no echo request";
		if (n != in_n || memcmp(m + 4, im + 4, n - 4))
			return "originated echo reply: body is not the "
			       "request's";
		return NULL;
	}
	if (is_icmp(i) && icmp_is_error(i->fam, im[0]))
		return "originated ICMP error about an ICMP error";
	if (n - 8 > i->len || memcmp(m + 8, in + i->off, n - 8))
		return "originated ICMP error: quote is not the packet's start";
	if (n - 8 < (i->len < i->hlen + 8 ? i->len : i->hlen + 8))
		return "originated ICMP error: quote too short";
	if (o->len > (o->fam == 4 ? 576u : 1280u))
		return "originated ICMP error: longer than the minimum MTU";
	return NULL;
}

static const char *judge_xdp_tx(const uint8_t *in, size_t in_len,
				const uint8_t *out, size_t out_len,
				struct fz_flow *learnt)
{
	struct fz_ip i, o, inner;
	const char *why;
	bool in_l4ok = true, ok;
	int qi, qo;

	why = input_sound(in, in_len, &i, &in_l4ok);
	if (why)
		return fz_fmt("forwarded a malformed input", why);
	why = frame_parse(out, out_len, &o);
	if (why)
		return fz_fmt("forwarded", why);
	if (!o.hcsum_ok)
		return "forwarded: IPv4 header checksum";
	if (o.frag)
		return "forwarded: a fragment";
	if (o.proto == 4 || o.proto == 41) {
		why = ip_parse(out, o.off + o.hlen, o.off + o.len, &inner);
		if (why)
			return fz_fmt("IPIP inner", why);
		if (inner.fam != (o.proto == 4 ? 4 : 6))
			return "IPIP: inner family is not the outer protocol's";
		if (inner.len != o.len - o.hlen)
			return "IPIP: outer and inner lengths disagree";
		if (inner.len != i.len ||
		    memcmp(out + inner.off, in + i.off, i.len))
			return "IPIP: inner packet is not the input's";
		return NULL;
	}
	why = l4_check(out, &o, &ok);
	if (why)
		return fz_fmt("forwarded", why);
	if (o.proto == 17 && get16(out + o.off + o.hlen + 2) == GENEVE_PORT)
		return judge_geneve(out, out_len, &o, in_l4ok);
	if (is_icmp(&o) && !memcmp(o.dst, i.src, o.fam == 4 ? 4 : 16) &&
	    (icmp_is_error(o.fam, out[o.off + o.hlen]) ||
	     out[o.off + o.hlen] == (o.fam == 4 ? 0 : 129)))
		return judge_originated(in, &i, in_l4ok, out, &o);
	/* translated (SNAT, either way) */
	if (in_l4ok && !ok)
		return "translated: L4 checksum (valid in the input)";
	qi = quote_hcsum(in, &i);
	qo = quote_hcsum(out, &o);
	if (qi == 1 && qo == 0)
		return "translated ICMP error: quoted IPv4 header checksum";
	if (learnt && (o.proto == 6 || o.proto == 17)) {
		const uint8_t *l4 = out + o.off + o.hlen;

		learnt->fam = o.fam;
		learnt->proto = o.proto;
		memcpy(learnt->a, o.src, o.fam == 4 ? 4 : 16);
		memcpy(learnt->b, o.dst, o.fam == 4 ? 4 : 16);
		learnt->ap = get16(l4);
		learnt->bp = get16(l4 + 2);
	}
	return NULL;
}

/* -- tc ------------------------------------------------------------------ */

/* Encapsulation as the backend companion takes it: IPIP family, or UDP
 * to the Geneve port (seen in the first fragment only). The inner IP
 * packet's offset in *inner_off (0: not found). */
static bool is_encap(const uint8_t *b, const struct fz_ip *ip,
		     size_t *inner_off)
{
	const uint8_t *l4 = b + ip->off + ip->hlen;
	size_t n = ip->len - ip->hlen;

	*inner_off = 0;
	if (ip->proto == 4 || ip->proto == 41) {
		if (!ip->frag)
			*inner_off = ip->off + ip->hlen;
		return true;
	}
	if (ip->proto != 17 || !ip->first_frag || n < 8 ||
	    get16(l4 + 2) != GENEVE_PORT)
		return false;
	/* a whole datagram the stack would take: its length inside */
	if (!ip->frag && (get16(l4 + 4) < 8 || get16(l4 + 4) > n))
		return false;
	if (!ip->frag && n >= 16)
		*inner_off = ip->off + ip->hlen + 16 +
			     (size_t)(l4[8] & 0x3f) * 4 + 14;
	return true;
}

static const char *judge_tc_in(const struct fz_env *env, const uint8_t *in,
			       size_t in_len, enum fz_verdict v,
			       const uint8_t *out, size_t out_len,
			       struct fz_flow *learnt)
{
	bool same = out_len == in_len && !memcmp(in, out, in_len);
	struct fz_ip i, o;
	const char *why;
	size_t ioff, l3;
	uint16_t type;

	if (v == FZ_TX)
		return "tc ingress: redirected";
	if (v != FZ_PASS)
		return NULL;
	/* what the stack would take: a sound IP header */
	why = frame_parse(in, in_len, &i);
	if (!why && !i.hcsum_ok)
		why = "IPv4 header checksum";
	if (why) {
		if (!same)
			return fz_fmt("tc ingress: decapsulated, outer "
				      "header malformed",
				      why);
		return NULL;
	}
	if (same) {
		if (is_encap(in, &i, &ioff) && env->be_local(i.fam, i.dst) &&
		    !env->be_trusted(i.fam, i.src))
			return i.frag ? "tc ingress: fragmented encapsulation "
					"from an untrusted source passed" :
					"tc ingress: encapsulation from an "
					"untrusted source passed";
		return NULL;
	}
	if (!is_encap(in, &i, &ioff) || !ioff)
		return "tc ingress: changed a packet that is no tunnel's";
	if (!env->be_local(i.fam, i.dst) || !env->be_trusted(i.fam, i.src))
		return "tc ingress: decapsulated what was not ours to";
	/* the inner packet and whatever trailed the frame, nothing else;
	 * the stack judges the inner packet itself */
	if (eth_parse(out, out_len, &l3, &type) || ioff > in_len ||
	    out_len - l3 != in_len - ioff ||
	    memcmp(out + l3, in + ioff, in_len - ioff))
		return "tc ingress: decapsulated packet is not the inner one";
	if (in_len - ioff < 1 ||
	    type != ((in[ioff] >> 4) == 4 ? ETH_IP4 : ETH_IP6))
		return "tc ingress: EtherType is not the inner packet's";
	if (learnt && !frame_parse(out, out_len, &o) && !o.frag &&
	    (o.proto == 6 || o.proto == 17) && o.len >= o.hlen + 4) {
		learnt->fam = o.fam;
		learnt->proto = o.proto;
		memcpy(learnt->a, o.src, o.fam == 4 ? 4 : 16);
		memcpy(learnt->b, o.dst, o.fam == 4 ? 4 : 16);
		learnt->ap = get16(out + o.off + o.hlen);
		learnt->bp = get16(out + o.off + o.hlen + 2);
	}
	return NULL;
}

static const char *judge_tc_out(const uint8_t *in, size_t in_len,
				enum fz_verdict v, const uint8_t *out,
				size_t out_len)
{
	struct fz_ip i, o;
	bool iok = false, ook;
	const char *why;
	size_t alen;

	if (v == FZ_TX)
		return "tc egress: redirected";
	if (v != FZ_PASS || (out_len == in_len && !memcmp(in, out, in_len)))
		return NULL;
	/* the local stack's own packets: whatever was right in them must
	 * stay right */
	if (input_sound(in, in_len, &i, &iok))
		return NULL == frame_parse(in, in_len, &i) && i.hcsum_ok &&
				       (frame_parse(out, out_len, &o) ||
					!o.hcsum_ok) ?
			       "tc egress: broke the IPv4 header" :
			       NULL;
	why = frame_parse(out, out_len, &o);
	if (why)
		return fz_fmt("tc egress: rewrote into", why);
	if (!o.hcsum_ok)
		return "tc egress: IPv4 header checksum";
	if (o.proto != 6 && o.proto != 17)
		return "tc egress: rewrote what is not TCP or UDP";
	why = l4_check(out, &o, &ook);
	if (why)
		return fz_fmt("tc egress: rewrote into", why);
	if (iok && !ook)
		return "tc egress: L4 checksum (valid in the input)";
	/* only the source (address and port) is the VIP's */
	alen = o.fam == 4 ? 4 : 16;
	if (o.len != i.len || memcmp(o.dst, i.dst, alen) ||
	    memcmp(out + o.off + o.hlen + 2, in + i.off + i.hlen + 2, 2))
		return "tc egress: changed more than the source";
	return NULL;
}

const char *fz_judge(enum fz_prog prog, const struct fz_env *env,
		     const uint8_t *in, size_t in_len, enum fz_verdict v,
		     const uint8_t *out, size_t out_len, struct fz_flow *learnt)
{
	if (learnt)
		learnt->fam = 0;
	if (v == FZ_ABORTED)
		return "aborted, or a verdict that is none of the program's";
	if (prog == FZ_TC_IN)
		return judge_tc_in(env, in, in_len, v, out, out_len, learnt);
	if (prog == FZ_TC_OUT)
		return judge_tc_out(in, in_len, v, out, out_len);
	if (v == FZ_DROP)
		return NULL;
	if (v == FZ_PASS) {
		if (out_len != in_len || memcmp(in, out, in_len))
			return "XDP_PASS: the frame was changed";
		return NULL;
	}
	return judge_xdp_tx(in, in_len, out, out_len, learnt);
}
