/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Configs and packets the datapath tests share. */
#ifndef LBD_TEST_FLOWS_H
#define LBD_TEST_FLOWS_H

#include <netinet/in.h>
#include <string.h>

#include "harness.h"
#include "lbd/hash.h"

#define CLIENT4 "192.0.2.2"
#define CLIENT6 "2001:db8:c::2"
#define VIP4 "203.0.113.10"
#define VIP6 "2001:db8:f::10"
#define ENCAP4 "198.18.0.10"
#define ENCAP6 "2001:db8::10"
#define BE4_1 "198.18.1.11"
#define BE4_2 "198.18.1.12"
#define BE6_1 "2001:db8:1::11"
#define SEED 0x5eed

#define DATAPATH_CONF                                                         \
	"datapath = { interface = \"lb0\"; encap_source_v4 = \"" ENCAP4       \
	"\"; encap_source_v6 = \"" ENCAP6 "\"; maglev_table_size = 251;"      \
	" hash_seed = 0x5eed; };\n"

/* One backend per service: every flow's backend is known. */
#define ONE_BACKEND_CONF                                                      \
	DATAPATH_CONF                                                         \
	"services = (\n"                                                      \
	" { name = \"ipip4\"; vip = \"" VIP4 "\"; port = 80; protocol = "     \
	"\"tcp\"; forwarding = \"ipip\"; backends = ( { address = \"" BE4_1   \
	"\"; } ); },\n"                                                       \
	" { name = \"udp4\"; vip = \"" VIP4 "\"; port = 53; protocol = "      \
	"\"udp\"; forwarding = \"ipip\"; backends = ( { address = \"" BE4_1   \
	"\"; } ); },\n"                                                       \
	" { name = \"gnv4\"; vip = \"" VIP4 "\"; port = 443; protocol = "     \
	"\"tcp\"; forwarding = \"geneve\"; backends = ( { address = \"" BE4_1 \
	"\"; port = 8443; } ); },\n"                                          \
	" { name = \"gnvudp4\"; vip = \"" VIP4 "\"; port = 443; protocol = "  \
	"\"udp\"; forwarding = \"geneve\"; backends = ( { address = \"" BE4_1 \
	"\"; port = 8443; } ); },\n"                                          \
	" { name = \"ipip6\"; vip = \"" VIP6 "\"; port = 80; protocol = "     \
	"\"tcp\"; forwarding = \"ipip\"; backends = ( { address = \"" BE6_1   \
	"\"; } ); },\n"                                                       \
	" { name = \"udp6\"; vip = \"" VIP6 "\"; port = 53; protocol = "      \
	"\"udp\"; forwarding = \"ipip\"; backends = ( { address = \"" BE6_1   \
	"\"; } ); },\n"                                                       \
	" { name = \"gnv6\"; vip = \"" VIP6 "\"; port = 443; protocol = "     \
	"\"tcp\"; forwarding = \"geneve\"; backends = ( { address = \"" BE6_1 \
	"\"; port = 8443; } ); },\n"                                          \
	" { name = \"fourin6\"; vip = \"" VIP4 "\"; port = 8080; protocol = " \
	"\"tcp\"; forwarding = \"ipip\"; backends = ( { address = \"" BE6_1   \
	"\"; } ); }\n"                                                        \
	");\n"

/* A client's TCP segment to a VIP, as it arrives at lb0. */
static inline void tcp_in(struct pkt *p, const char *src, const char *dst,
			  uint16_t sport, uint16_t dport, uint8_t flags)
{
	pkt_init(p);
	dpt_eth_in(p);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	pkt_tcp(p, sport, dport, flags, 1000, flags & PKT_TCP_ACK ? 2000 : 0);
	pkt_bytes(p, "hello", 5);
	pkt_finish(p);
}

static inline void udp_in(struct pkt *p, const char *src, const char *dst,
			  uint16_t sport, uint16_t dport)
{
	pkt_init(p);
	dpt_eth_in(p);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	pkt_udp(p, sport, dport, false);
	pkt_bytes(p, "query", 5);
	pkt_finish(p);
}

/* The flow hash the program uses, from the shared definition. */
static inline uint32_t test_flow_hash(const char *client, uint16_t cport,
				      uint16_t sport, uint8_t proto)
{
	struct pkt_addr a = pkt_ip(client);
	uint32_t ports = LBD_PORTS(htons(cport), htons(sport));

	if (a.family == AF_INET)
		return lbd_flow_hash4(SEED, a.v4.s_addr, ports, proto);
	return lbd_flow_hash6(SEED, (const __be32 *)&a.v6, ports, proto);
}

/* Expected IPIP/IP6IP6/4-in-6: fresh Ethernet to the router, outer IP
 * from the encap source, the received packet from its IP header on. */
static inline void want_ipip(struct pkt *w, const struct pkt *in,
			     const char *encap, const char *backend,
			     uint8_t tos, uint16_t df, uint32_t flowlabel)
{
	struct pkt_addr s = pkt_ip(encap), d = pkt_ip(backend);
	long l3 = pkt_off(in, PKT_IPV4, 0) >= 0 ? pkt_off(in, PKT_IPV4, 0)
						: pkt_off(in, PKT_IPV6, 0);

	pkt_init(w);
	dpt_eth_out(w);
	if (s.family == AF_INET) {
		struct pkt_ipv4_opts o = { .tos = tos, .frag = df };

		pkt_ipv4(w, s, d, &o);
	} else {
		struct pkt_ipv6_opts o = { .tclass = tos,
					   .flowlabel = flowlabel };

		pkt_ipv6(w, s, d, &o);
	}
	pkt_next(w, pkt_off(in, PKT_IPV4, 0) >= 0 ? IPPROTO_IPIP
						  : IPPROTO_IPV6);
	pkt_append(w, in, (size_t)l3, in->len - (size_t)l3);
	pkt_finish(w);
}

#endif /* LBD_TEST_FLOWS_H */
