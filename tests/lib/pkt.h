/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A packet builder for tests and benchmarks. Layers are appended outermost
 * first; pkt_finish() then fills in, from the innermost layer outwards,
 * every length, every "next protocol" field left at PKT_AUTO, and every
 * checksum. It shares no code with the datapath, so expected packets built
 * with it are independent of the code under test.
 */
#ifndef LBD_TEST_PKT_H
#define LBD_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#define PKT_MAX 4096
#define PKT_MAX_LAYERS 12
#define PKT_AUTO (-1)

enum pkt_layer_type {
	PKT_ETH,
	PKT_VLAN,
	PKT_IPV4,
	PKT_IPV6,
	PKT_IPV6_EXT,
	PKT_TCP,
	PKT_UDP,
	PKT_ICMP4,
	PKT_ICMP6,
	PKT_GENEVE,
	PKT_PAYLOAD,
};

struct pkt_layer {
	enum pkt_layer_type type;
	size_t off;
	size_t len;
	int next; /* explicit next-protocol value, or PKT_AUTO */
	bool keep_csum; /* pkt_finish leaves the checksum as written */
	int aux; /* VLAN: its TPID; IPv6 extension: its header type */
};

struct pkt {
	uint8_t buf[PKT_MAX];
	size_t len;
	struct pkt_layer layers[PKT_MAX_LAYERS];
	int n;
};

struct pkt_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/* Parses "198.18.0.1" or "2001:db8::1"; aborts the test on bad input. */
struct pkt_addr pkt_ip(const char *s);

void pkt_init(struct pkt *p);

/* Ethernet; the ethertype follows the next layer unless given. */
void pkt_eth(struct pkt *p, const uint8_t dst[6], const uint8_t src[6]);
/* An 802.1Q (0x8100) or 802.1ad (0x88a8) tag. */
void pkt_vlan(struct pkt *p, uint16_t tpid, uint16_t vid);

struct pkt_ipv4_opts {
	uint8_t tos;
	uint8_t ttl; /* 0 means 64 */
	uint16_t id;
	uint16_t frag; /* flags and offset as on the wire, host order */
	const uint8_t *options; /* padded to 4 bytes by the caller */
	size_t options_len;
};
void pkt_ipv4(struct pkt *p, struct pkt_addr src, struct pkt_addr dst,
	      const struct pkt_ipv4_opts *o);

struct pkt_ipv6_opts {
	uint8_t tclass;
	uint32_t flowlabel;
	uint8_t hlim; /* 0 means 64 */
};
void pkt_ipv6(struct pkt *p, struct pkt_addr src, struct pkt_addr dst,
	      const struct pkt_ipv6_opts *o);
/* An extension header (hop-by-hop, routing, destination options: 8 bytes
 * of padding; fragment: offset/M flag in frag_field, id 0x1234). */
void pkt_ipv6_ext(struct pkt *p, uint8_t type, uint16_t frag_field);

/* Address-family-agnostic IP header. */
void pkt_ip_hdr(struct pkt *p, struct pkt_addr src, struct pkt_addr dst);

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10
void pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
	     uint32_t seq, uint32_t ack);
/* zero_csum: leave the UDP checksum 0 (as Geneve's outer UDP). */
void pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport, bool zero_csum);
/* ICMP with the 4 bytes after type/code/checksum ("rest of header"). */
void pkt_icmp4(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest);
void pkt_icmp6(struct pkt *p, uint8_t type, uint8_t code, uint32_t rest);

/* Geneve (RFC 8926) carrying Ethernet, with lbd's DSR option: class
 * 0x014B, type 0x81, the VIP and port. The next layer must be Ethernet. */
void pkt_geneve_dsr(struct pkt *p, uint32_t vni, struct pkt_addr vip,
		    uint16_t port);

/* Geneve as lbd sends it in flow_state "backends" (docs/flow-state.md):
 * with vip, Cilium's form (protocol 0x6558, C flag, the DSR option with
 * vip and port, then lbd's option); with vip NULL, lbd's untranslated form
 * (the protocol is the next layer's ethertype, lbd's option only). lbd's
 * option: class 0xFFDB, type 0x01, flags, prev_port and prev, whose family
 * sets its length. */
void pkt_geneve_sc(struct pkt *p, uint32_t vni, const struct pkt_addr *vip,
		   uint16_t port, uint8_t flags, struct pkt_addr prev,
		   uint16_t prev_port);

/* Appends an option (class, type, body of len bytes, a multiple of 4) to
 * the Geneve header just added; a critical type (0x80 set) sets its C
 * flag, as RFC 8926 section 3.4 asks. */
void pkt_geneve_opt(struct pkt *p, uint16_t opt_class, uint8_t type,
		    const void *body, size_t len);

void pkt_bytes(struct pkt *p, const void *data, size_t len);
/* Appends the finished bytes of another packet (e.g. the quote inside an
 * ICMP error, or the inner packet of a tunnel from its IP header on). */
void pkt_append(struct pkt *p, const struct pkt *inner, size_t from,
		size_t len);

/* A finished ICMP error (ICMPv6 for IPv6) from src to dst in a frame
 * from src_mac to dst_mac, quoting q from its IP header on: qlen bytes
 * of it, 0 for all. */
void pkt_icmp_err(struct pkt *p, const uint8_t dst_mac[6],
		  const uint8_t src_mac[6], const char *src, const char *dst,
		  uint8_t type, uint8_t code, uint32_t rest,
		  const struct pkt *q, size_t qlen);

/* Overrides the next-protocol field of the layer just added. */
void pkt_next(struct pkt *p, int next);

void pkt_finish(struct pkt *p);

/* Offset of the i-th layer of a type (0 = first), or -1. */
long pkt_off(const struct pkt *p, enum pkt_layer_type type, int i);

/* RFC 1071 Internet checksum over a buffer, with an initial partial sum. */
uint16_t pkt_csum(const void *data, size_t len, uint32_t sum);

/* Hex dump of two packets side by side, marking the first difference. */
void pkt_diff(FILE *f, const uint8_t *got, size_t got_len,
	      const uint8_t *want, size_t want_len);

#endif /* LBD_TEST_PKT_H */
