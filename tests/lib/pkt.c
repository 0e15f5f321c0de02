// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "pkt.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pkt_fail(const char *what)
{
	fprintf(stderr, "pkt: %s\n", what);
	abort();
}

struct pkt_addr pkt_ip(const char *s)
{
	struct pkt_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.v4) == 1) {
		a.family = AF_INET;
	} else if (inet_pton(AF_INET6, s, &a.v6) == 1) {
		a.family = AF_INET6;
	} else {
		fprintf(stderr, "pkt: bad address %s\n", s);
		abort();
	}
	return a;
}

void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

static uint8_t *pkt_push(struct pkt *p, enum pkt_layer_type type, size_t len)
{
	struct pkt_layer *l;
	uint8_t *h;

	if (p->n == PKT_MAX_LAYERS || p->len + len > PKT_MAX)
		pkt_fail("packet too big");
	l = &p->layers[p->n++];
	l->type = type;
	l->off = p->len;
	l->len = len;
	l->next = PKT_AUTO;
	h = p->buf + p->len;
	memset(h, 0, len);
	p->len += len;
	return h;
}

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v & 0xffff);
}

void pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6])
{
	uint8_t *h = pkt_push(p, PKT_ETH, 14);

	memcpy(h, dst, 6);
	memcpy(h + 6, src, 6);
}

void pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t vid)
{
	uint8_t *h = pkt_push(p, PKT_VLAN, 4);

	/* The tag holds the TCI and the next ethertype; its TPID goes in
	 * the previous layer's type field, written by pkt_finish. */
	put16(h, vid & 0x0fff);
	p->layers[p->n - 1].aux = tpid;
}

void pkt_ipv4(struct pkt *p, struct pkt_addr src, struct pkt_addr dst,
	      const struct pkt_ipv4_opts *o)
{
	struct pkt_ipv4_opts none = { 0 };
	size_t optlen, hlen;
	uint8_t *h;

	if (!o)
		o = &none;
	optlen = o->options_len;
	if (optlen % 4 || optlen > 40)
		pkt_fail("IPv4 options must be padded to 4 bytes, at most 40");
	hlen = 20 + optlen;
	h = pkt_push(p, PKT_IPV4, hlen);
	h[0] = 0x40 | (hlen / 4);
	h[1] = o->tos;
	put16(h + 4, o->id);
	put16(h + 6, o->frag);
	h[8] = o->ttl ? o->ttl : 64;
	memcpy(h + 12, &src.v4, 4);
	memcpy(h + 16, &dst.v4, 4);
	if (optlen)
		memcpy(h + 20, o->options, optlen);
}

void pkt_ipv6(struct pkt *p, struct pkt_addr src, struct pkt_addr dst,
	      const struct pkt_ipv6_opts *o)
{
	struct pkt_ipv6_opts none = { 0 };
	uint8_t *h = pkt_push(p, PKT_IPV6, 40);

	if (!o)
		o = &none;
	put32(h, 0x60000000u | ((uint32_t)o->tclass << 20) |
			 (o->flowlabel & 0xfffff));
	h[7] = o->hlim ? o->hlim : 64;
	memcpy(h + 8, &src.v6, 16);
	memcpy(h + 24, &dst.v6, 16);
}

void pkt_ipv6_ext(struct pkt *p, uint8_t type, uint16_t frag_field)
{
	uint8_t *h = pkt_push(p, PKT_IPV6_EXT, 8);

	/* h[0] (next header) is filled by pkt_finish; h[1] = 0 means 8
	 * bytes for the TLV-style headers, and is reserved for fragment. */
	if (type == IPPROTO_FRAGMENT) {
		put16(h + 2, frag_field);
		put32(h + 4, 0x1234);
	} else if (type == IPPROTO_ROUTING) {
		/* an experimental routing type (253) with segments left 0,
		 * which a node must skip */
		h[2] = 253;
	} else {
		/* PadN filling the 6 option bytes */
		h[2] = 1;
		h[3] = 4;
	}
	p->layers[p->n - 1].aux = type;
}

void pkt_ip_hdr(struct pkt *p, struct pkt_addr src, struct pkt_addr dst)
{
	if (src.family != dst.family)
		pkt_fail("mixed families in one IP header");
	if (src.family == AF_INET)
		pkt_ipv4(p, src, dst, NULL);
	else
		pkt_ipv6(p, src, dst, NULL);
}

void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
	     uint32_t seq, uint32_t ack)
{
	uint8_t *h = pkt_push(p, PKT_TCP, 20);

	put16(h, sport);
	put16(h + 2, dport);
	put32(h + 4, seq);
	put32(h + 8, ack);
	h[12] = 5 << 4;
	h[13] = flags;
	put16(h + 14, 64240);
}

void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport, bool zero_csum)
{
	uint8_t *h = pkt_push(p, PKT_UDP, 8);

	put16(h, sport);
	put16(h + 2, dport);
	p->layers[p->n - 1].keep_csum = zero_csum;
}

void pkt_icmp4(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest)
{
	uint8_t *h = pkt_push(p, PKT_ICMP4, 8);

	h[0] = type;
	h[1] = code;
	put32(h + 4, rest);
}

void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest)
{
	uint8_t *h = pkt_push(p, PKT_ICMP6, 8);

	h[0] = type;
	h[1] = code;
	put32(h + 4, rest);
}

void pkt_geneve_dsr(struct pkt *p, uint32_t vni, struct pkt_addr vip,
		    uint16_t port)
{
	/* option body: address, port, two zero bytes */
	size_t body = vip.family == AF_INET ? 8 : 20;
	uint8_t *h = pkt_push(p, PKT_GENEVE, 8 + 4 + body);

	h[0] = (uint8_t)((4 + body) / 4); /* Ver 0, option length in words */
	h[1] = 0x40; /* C: a critical option is present */
	put16(h + 2, 0x6558); /* Transparent Ethernet Bridging */
	put32(h + 4, vni << 8);
	put16(h + 8, 0x014b);
	h[10] = 0x81;
	h[11] = (uint8_t)(body / 4);
	if (vip.family == AF_INET) {
		memcpy(h + 12, &vip.v4, 4);
		put16(h + 16, port);
	} else {
		memcpy(h + 12, &vip.v6, 16);
		put16(h + 28, port);
	}
}

void pkt_geneve_opt(struct pkt *p, uint16_t opt_class, uint8_t type,
		    const void *body, size_t len)
{
	struct pkt_layer *l = p->n ? &p->layers[p->n - 1] : NULL;
	uint8_t *h, *o;

	if (!l || l->type != PKT_GENEVE || len % 4 || len > 124 ||
	    l->off + l->len != p->len || p->len + 4 + len > PKT_MAX)
		pkt_fail("pkt_geneve_opt: not right after a Geneve header");
	h = p->buf + l->off;
	o = p->buf + p->len;
	put16(o, opt_class);
	o[2] = type;
	o[3] = (uint8_t)(len / 4);
	memcpy(o + 4, body, len);
	p->len += 4 + len;
	l->len += 4 + len;
	h[0] = (uint8_t)(h[0] + (4 + len) / 4);
	if (type & 0x80)
		h[1] |= 0x40;
}

void pkt_geneve_sc(struct pkt *p, uint32_t vni, const struct pkt_addr *vip,
		   uint16_t port, uint8_t flags, struct pkt_addr prev,
		   uint16_t prev_port)
{
	size_t dsr = vip ? 4 + (vip->family == AF_INET ? 8 : 20) : 0;
	size_t sc = 4 + (prev.family == AF_INET ? 8 : 20);
	uint8_t *h = pkt_push(p, PKT_GENEVE, 8 + dsr + sc), *o;

	h[0] = (uint8_t)((dsr + sc) / 4);
	put32(h + 4, vni << 8);
	if (vip) {
		h[1] = 0x40; /* C: Cilium's option is critical */
		put16(h + 2, 0x6558);
		put16(h + 8, 0x014b);
		h[10] = 0x81;
		h[11] = (uint8_t)((dsr - 4) / 4);
		if (vip->family == AF_INET) {
			memcpy(h + 12, &vip->v4, 4);
			put16(h + 16, port);
		} else {
			memcpy(h + 12, &vip->v6, 16);
			put16(h + 28, port);
		}
	} /* else the protocol is the next layer's ethertype (pkt_finish) */
	o = h + 8 + dsr;
	put16(o, 0xffdb);
	o[2] = 0x01;
	o[3] = (uint8_t)((sc - 4) / 4);
	o[4] = flags;
	put16(o + 6, prev_port);
	if (prev.family == AF_INET)
		memcpy(o + 8, &prev.v4, 4);
	else
		memcpy(o + 8, &prev.v6, 16);
}

void pkt_bytes(struct pkt *p, const void *data, size_t len)
{
	uint8_t *h = pkt_push(p, PKT_PAYLOAD, len);

	memcpy(h, data, len);
}

void pkt_append(struct pkt *p, const struct pkt *inner, size_t from,
		size_t len)
{
	if (from + len > inner->len)
		pkt_fail("pkt_append beyond the inner packet");
	pkt_bytes(p, inner->buf + from, len);
}

void pkt_next(struct pkt *p, int next)
{
	if (!p->n)
		pkt_fail("pkt_next before any layer");
	p->layers[p->n - 1].next = next;
}

uint16_t pkt_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *b = data;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t partial(const void *data, size_t len)
{
	/* One's complement sum, not yet folded to 16 bits or inverted. */
	uint16_t c = pkt_csum(data, len, 0);

	return (uint16_t)~c;
}

/* The next-protocol number of a layer, as an IP protocol. */
static int ip_proto_of(const struct pkt_layer *l)
{
	switch (l->type) {
	case PKT_TCP:
		return IPPROTO_TCP;
	case PKT_UDP:
		return IPPROTO_UDP;
	case PKT_ICMP4:
		return IPPROTO_ICMP;
	case PKT_ICMP6:
		return IPPROTO_ICMPV6;
	case PKT_IPV4:
		return IPPROTO_IPIP;
	case PKT_IPV6:
		return IPPROTO_IPV6;
	case PKT_IPV6_EXT:
		return l->aux;
	default:
		return 255;
	}
}

static int ethertype_of(const struct pkt_layer *l)
{
	switch (l->type) {
	case PKT_IPV4:
		return 0x0800;
	case PKT_IPV6:
		return 0x86dd;
	case PKT_VLAN:
		return l->aux;
	default:
		return 0x88b5; /* local experimental */
	}
}

/* The IP layer that carries layer i (for pseudo headers), or NULL. */
static const struct pkt_layer *carrier(const struct pkt *p, int i)
{
	for (i--; i >= 0; i--) {
		if (p->layers[i].type == PKT_IPV4 ||
		    p->layers[i].type == PKT_IPV6)
			return &p->layers[i];
	}
	return NULL;
}

static uint32_t pseudo_sum(const struct pkt *p, const struct pkt_layer *ip,
			   uint8_t proto, size_t l4len)
{
	const uint8_t *h = p->buf + ip->off;
	uint8_t ph[40];

	memset(ph, 0, sizeof(ph));
	if (ip->type == PKT_IPV4) {
		memcpy(ph, h + 12, 8);
		ph[9] = proto;
		put16(ph + 10, (uint16_t)l4len);
		return partial(ph, 12);
	}
	memcpy(ph, h + 8, 32);
	{
		uint8_t tail[8] = { 0 };
		uint32_t s = partial(ph, 32);

		put32(tail, (uint32_t)l4len);
		tail[7] = proto;
		return s + partial(tail, 8);
	}
}

void pkt_finish(struct pkt *p)
{
	int i;

	for (i = p->n - 1; i >= 0; i--) {
		struct pkt_layer *l = &p->layers[i];
		const struct pkt_layer *nx = i + 1 < p->n ? &p->layers[i + 1]
							  : NULL;
		uint8_t *h = p->buf + l->off;
		size_t rest = p->len - l->off; /* this layer and all inside */
		const struct pkt_layer *ip;
		int next;

		switch (l->type) {
		case PKT_ETH:
			next = l->next != PKT_AUTO ? l->next
			       : nx		   ? ethertype_of(nx)
						   : 0x88b5;
			put16(h + 12, (uint16_t)next);
			break;
		case PKT_VLAN:
			next = l->next != PKT_AUTO ? l->next
			       : nx		   ? ethertype_of(nx)
						   : 0x88b5;
			put16(h + 2, (uint16_t)next);
			break;
		case PKT_IPV4:
			next = l->next != PKT_AUTO ? l->next
			       : nx		   ? ip_proto_of(nx)
						   : 255;
			put16(h + 2, (uint16_t)rest);
			h[9] = (uint8_t)next;
			h[10] = h[11] = 0;
			put16(h + 10, pkt_csum(h, l->len, 0));
			break;
		case PKT_IPV6:
			next = l->next != PKT_AUTO ? l->next
			       : nx		   ? ip_proto_of(nx)
						   : 59;
			put16(h + 4, (uint16_t)(rest - 40));
			h[6] = (uint8_t)next;
			break;
		case PKT_IPV6_EXT:
			next = l->next != PKT_AUTO ? l->next
			       : nx		   ? ip_proto_of(nx)
						   : 59;
			h[0] = (uint8_t)next;
			break;
		case PKT_TCP:
		case PKT_UDP:
		case PKT_ICMP6:
			if (l->type == PKT_UDP)
				put16(h + 4, (uint16_t)rest);
			if (l->keep_csum)
				break;
			ip = carrier(p, i);
			{
				size_t co = l->type == PKT_TCP ? 16
					    : l->type == PKT_UDP ? 6
								 : 2;
				uint8_t proto = l->type == PKT_TCP ? 6
						: l->type == PKT_UDP ? 17
								     : 58;
				uint32_t s = ip ? pseudo_sum(p, ip, proto, rest)
						: 0;
				uint16_t c;

				h[co] = h[co + 1] = 0;
				c = pkt_csum(h, rest, s);
				if (l->type == PKT_UDP && c == 0)
					c = 0xffff;
				put16(h + co, c);
			}
			break;
		case PKT_ICMP4:
			if (l->keep_csum)
				break;
			h[2] = h[3] = 0;
			put16(h + 2, pkt_csum(h, rest, 0));
			break;
		case PKT_GENEVE:
			/* lbd's untranslated form carries IP, no Ethernet */
			if (!h[2] && !h[3] && nx)
				put16(h + 2, (uint16_t)ethertype_of(nx));
			break;
		case PKT_PAYLOAD:
			break;
		}
	}
}

long pkt_off(const struct pkt *p, enum pkt_layer_type type, int n)
{
	int i;

	for (i = 0; i < p->n; i++) {
		if (p->layers[i].type == type && n-- == 0)
			return (long)p->layers[i].off;
	}
	return -1;
}

void pkt_diff(FILE *f, const uint8_t *got, size_t got_len,
	      const uint8_t *want, size_t want_len)
{
	size_t n = got_len > want_len ? got_len : want_len;
	size_t i, first = n;

	for (i = 0; i < n; i++) {
		if (i >= got_len || i >= want_len || got[i] != want[i]) {
			first = i;
			break;
		}
	}
	fprintf(f, "got %zu bytes, want %zu; first difference at %zd\n",
		got_len, want_len, first == n ? (ssize_t)-1 : (ssize_t)first);
	for (i = 0; i < n; i += 16) {
		size_t j;

		fprintf(f, "%04zx ", i);
		for (j = i; j < i + 16; j++)
			fprintf(f, j < got_len ? "%02x" : "  ",
				j < got_len ? got[j] : 0);
		fprintf(f, " | ");
		for (j = i; j < i + 16; j++)
			fprintf(f, j < want_len ? "%02x" : "  ",
				j < want_len ? want[j] : 0);
		fprintf(f, "%s\n", first >= i && first < i + 16 ? "  <--" : "");
	}
}

void pkt_icmp_err(struct pkt *p, const uint8_t dst_mac[6],
		  const uint8_t src_mac[6], const char *src, const char *dst,
		  uint8_t type, uint8_t code, uint32_t rest,
		  const struct pkt *q, size_t qlen)
{
	bool v6 = strchr(src, ':') != NULL;
	long ip = pkt_off(q, v6 ? PKT_IPV6 : PKT_IPV4, 0);

	if (ip < 0)
		pkt_fail("the quoted packet has no IP header");
	pkt_init(p);
	pkt_eth(p, dst_mac, src_mac);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	if (v6)
		pkt_icmp6(p, type, code, rest);
	else
		pkt_icmp4(p, type, code, rest);
	pkt_append(p, q, (size_t)ip, qlen ? qlen : q->len - (size_t)ip);
	pkt_finish(p);
}
