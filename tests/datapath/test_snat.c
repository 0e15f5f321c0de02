// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * SNAT forwarding both ways, hybrid, source ranges, session affinity,
 * NodePort-style services on the LB host's addresses, and ICMP through
 * SNAT, byte for byte.
 */
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <stdlib.h>

#include "flows.h"
#include "maglev.h"

static struct dpt t;

#define SNAT4 ENCAP4 /* SNAT leaves from the encap source by default */
#define SNAT6 ENCAP6
#define PORT_MIN 61000
#define PORT_RANGE 4536 /* 61000-65535 */

#define SNAT_CONF                                                             \
	DATAPATH_CONF                                                         \
	"services = (\n"                                                      \
	" { name = \"web\"; vip = \"" VIP4 "\"; port = 80; forwarding = "     \
	"\"snat\"; backends = ( { address = \"" BE4_1 "\"; port = 8080; } ); "\
	"},\n"                                                                \
	" { name = \"dns\"; vip = \"" VIP4 "\"; port = 53; protocol = \"udp\";"\
	" forwarding = \"snat\"; backends = ( { address = \"" BE4_1 "\"; "    \
	"port = 5353; } ); },\n"                                              \
	" { name = \"web6\"; vip = \"" VIP6 "\"; port = 80; forwarding = "    \
	"\"snat\"; backends = ( { address = \"" BE6_1 "\"; port = 8080; } ); "\
	"},\n"                                                                \
	" { name = \"hyb\"; vip = \"" VIP4 "\"; port = 443; forwarding = "    \
	"\"hybrid\"; dsr = \"geneve\"; backends = ( { address = \"" BE4_1     \
	"\"; port = 8443; } ); },\n"                                          \
	" { name = \"hybu\"; vip = \"" VIP4 "\"; port = 443; protocol = "     \
	"\"udp\"; forwarding = \"hybrid\"; dsr = \"geneve\"; backends = ( { " \
	"address = \"" BE4_1 "\"; port = 8443; } ); }\n"                      \
	");\n"

static void teardown(void)
{
	dpt_teardown(&t);
}

static void setup(void)
{
	dpt_setup(&t, SNAT_CONF);
}

TestSuite(snat, .init = setup, .fini = teardown);

/* The port SNAT takes first for a flow (no collision). */
static uint16_t first_port(const char *client, uint16_t cport, uint16_t vport,
			   uint8_t proto)
{
	return (uint16_t)(PORT_MIN + test_flow_hash(client, cport, vport,
						    proto) %
					     PORT_RANGE);
}

/* A TCP segment between two endpoints carrying len bytes of data, as it
 * leaves or arrives at lb0 (out: towards a next hop; in: from one). */
static void seg_of(struct pkt *p, bool out, const char *src, uint16_t sport,
		   const char *dst, uint16_t dport, uint8_t flags,
		   const void *data, size_t len)
{
	pkt_init(p);
	if (out)
		dpt_eth_out(p);
	else
		dpt_eth_in(p);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	pkt_tcp(p, sport, dport, flags, 1000, flags & PKT_TCP_ACK ? 2000 : 0);
	pkt_bytes(p, data, len);
	pkt_finish(p);
}

static void tcp_seg(struct pkt *p, bool out, const char *src, uint16_t sport,
		    const char *dst, uint16_t dport, uint8_t flags)
{
	seg_of(p, out, src, sport, dst, dport, flags, "hello", 5);
}

/* 1401 bytes of IP: a TCP ACK between two endpoints, in or out of lb0. */
static void big_seg(struct pkt *p, bool out, const char *src, uint16_t sport,
		    const char *dst, uint16_t dport)
{
	static const uint8_t payload[1400];
	bool v6 = strchr(src, ':') != NULL;

	seg_of(p, out, src, sport, dst, dport, PKT_TCP_ACK, payload,
	       1401 - (v6 ? 60 : 40));
}

Test(snat, forward4_translates_destination_and_source)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in, want;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	tcp_seg(&want, true, SNAT4, lport, BE4_1, 8080, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_NEW), 1);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_FWD), 1);
	/* the flow's next packet keeps its port */
	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_ACK);
	tcp_seg(&want, true, SNAT4, lport, BE4_1, 8080, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_NEW), 1);
}

Test(snat, reply4_translated_back_to_the_client)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in, want;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_seg(&in, false, BE4_1, 8080, SNAT4, lport,
		PKT_TCP_SYN | PKT_TCP_ACK);
	tcp_seg(&want, true, VIP4, 80, CLIENT4, 40000,
		PKT_TCP_SYN | PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_REPLY), 1);
}

/* The flow's conntrack and reverse entries (IPv4 TCP to web). */
static int ct4_fd(void)
{
	return dp_map_fd(t.dp, DP_MAP_CT4);
}

static struct lbd_ct_key4 web_ct_key(uint16_t cport)
{
	struct lbd_ct_key4 k = { .proto = IPPROTO_TCP };

	k.saddr = pkt_ip(CLIENT4).v4.s_addr;
	k.daddr = pkt_ip(VIP4).v4.s_addr;
	k.sport = htons(cport);
	k.dport = htons(80);
	return k;
}

static struct lbd_nat_key4 web_nat_key(uint16_t lport)
{
	struct lbd_nat_key4 k = { .proto = IPPROTO_TCP };

	k.backend = pkt_ip(BE4_1).v4.s_addr;
	k.bport = htons(8080);
	k.lport = htons(lport);
	return k;
}

/* A reverse entry the LRU took is made again by the flow's first packet
 * of a later second (the entry is checked once a second, not on every
 * packet), and the reply finds its way again. */
Test(snat, evicted_reverse_entry_is_made_again)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct lbd_nat_key4 nk = web_nat_key(lport);
	struct lbd_ct_key4 ck = web_ct_key(40000);
	int nat = dp_map_fd(t.dp, DP_MAP_NAT4);
	struct lbd_nat n;
	struct lbd_ct ct;
	struct pkt in, want;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(bpf_map_delete_elem(nat, &nk), 0);
	/* a second later */
	cr_assert_eq(bpf_map_lookup_elem(ct4_fd(), &ck, &ct), 0);
	ct.last_seen--;
	cr_assert_eq(bpf_map_update_elem(ct4_fd(), &ck, &ct, BPF_EXIST), 0);
	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_ACK);
	tcp_seg(&want, true, SNAT4, lport, BE4_1, 8080, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(bpf_map_lookup_elem(nat, &nk, &n), 0, "made again");
	tcp_seg(&in, false, BE4_1, 8080, SNAT4, lport, PKT_TCP_ACK);
	tcp_seg(&want, true, VIP4, 80, CLIENT4, 40000, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, &want);
}

/* The client's FIN marks the reverse entry closing at once (its port is
 * free again after the short timeout), whatever the second. */
Test(snat, fin_marks_the_reverse_entry_closing)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct lbd_nat_key4 nk = web_nat_key(lport);
	int nat = dp_map_fd(t.dp, DP_MAP_NAT4);
	struct lbd_nat n;
	struct pkt in;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(bpf_map_lookup_elem(nat, &nk, &n), 0);
	cr_assert_not(n.flags & LBD_CT_F_CLOSING);
	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80,
		PKT_TCP_FIN | PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(bpf_map_lookup_elem(nat, &nk, &n), 0);
	cr_assert(n.flags & LBD_CT_F_CLOSING);
}

Test(snat, udp4_both_ways)
{
	uint16_t lport = first_port(CLIENT4, 5353, 53, IPPROTO_UDP);
	struct pkt in, want;

	udp_in(&in, CLIENT4, VIP4, 5353, 53);
	pkt_init(&want);
	dpt_eth_out(&want);
	pkt_ip_hdr(&want, pkt_ip(SNAT4), pkt_ip(BE4_1));
	pkt_udp(&want, lport, 5353, false);
	pkt_bytes(&want, "query", 5);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);

	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(BE4_1), pkt_ip(SNAT4));
	pkt_udp(&in, 5353, lport, false);
	pkt_bytes(&in, "answer", 6);
	pkt_finish(&in);
	pkt_init(&want);
	dpt_eth_out(&want);
	pkt_ip_hdr(&want, pkt_ip(VIP4), pkt_ip(CLIENT4));
	pkt_udp(&want, 53, 5353, false);
	pkt_bytes(&want, "answer", 6);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(snat, forward6_and_reply6)
{
	uint16_t lport = first_port(CLIENT6, 40000, 80, IPPROTO_TCP);
	struct pkt in, want;

	tcp_seg(&in, false, CLIENT6, 40000, VIP6, 80, PKT_TCP_SYN);
	tcp_seg(&want, true, SNAT6, lport, BE6_1, 8080, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, &want);
	tcp_seg(&in, false, BE6_1, 8080, SNAT6, lport,
		PKT_TCP_SYN | PKT_TCP_ACK);
	tcp_seg(&want, true, VIP6, 80, CLIENT6, 40000,
		PKT_TCP_SYN | PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(snat, traffic_to_the_snat_address_that_is_no_flow_passes)
{
	struct pkt in;

	/* a port in the range without a flow, and the host's own port */
	tcp_seg(&in, false, BE4_1, 8080, SNAT4, 62000, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_PASS, &in);
	tcp_seg(&in, false, "198.18.0.1", 179, SNAT4, 40123, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_PASS, &in);
}

Test(snat, flows_from_one_client_get_their_own_ports)
{
	uint8_t out[PKT_MAX];
	uint16_t seen[20];
	struct pkt in;
	int i, j;

	for (i = 0; i < 20; i++) {
		size_t len = sizeof(out);

		tcp_seg(&in, false, CLIENT4, (uint16_t)(40000 + i), VIP4, 80,
			PKT_TCP_SYN);
		cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
		seen[i] = (uint16_t)(out[34] << 8 | out[35]);
		cr_assert(seen[i] >= PORT_MIN, "port %u", seen[i]);
		for (j = 0; j < i; j++)
			cr_assert_neq(seen[i], seen[j], "flows %d and %d", i,
				      j);
	}
}

Test(snat, exhaustion_is_counted_not_silent)
{
	struct pkt in;
	int i, tx = 0;
	uint8_t out[PKT_MAX];

	dpt_teardown(&t);
	dpt_setup(&t, "datapath = { interface = \"lb0\"; encap_source_v4 = \""
		      ENCAP4 "\"; snat_ports = \"61000-61001\"; };\n"
		      "services = ( { vip = \"" VIP4 "\"; port = 80; "
		      "forwarding = \"snat\"; backends = ( { address = \""
		      BE4_1 "\"; } ); } );\n");
	for (i = 0; i < 3; i++) {
		size_t len = sizeof(out);

		tcp_seg(&in, false, CLIENT4, (uint16_t)(40000 + i), VIP4, 80,
			PKT_TCP_SYN);
		tx += dpt_run(&t, &in, out, &len) == XDP_TX;
	}
	cr_assert_eq(tx, 2, "two ports, two flows");
	cr_assert_eq(dpt_reason(&t, LBD_DROP_SNAT_EXHAUSTED), 1);
}

Test(snat, hybrid_tcp_by_dsr_udp_by_snat)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	struct pkt in;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 443, PKT_TCP_SYN);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	/* Geneve: outer UDP to 6081 */
	cr_assert_eq(out[14 + 9], IPPROTO_UDP);
	cr_assert_eq(out[36] << 8 | out[37], 6081);

	udp_in(&in, CLIENT4, VIP4, 5353, 443);
	len = sizeof(out);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	cr_assert_eq(len, in.len, "not encapsulated");
	cr_assert_eq(out[36] << 8 | out[37], 8443, "translated to backend");
	{
		struct pkt_addr snat = pkt_ip(SNAT4);

		cr_assert(!memcmp(out + 26, &snat.v4, 4), "from SNAT");
	}
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_FWD), 1);
}

/* The fragmentation needed (IPv4) that answers in, from src to dst. */
static void frag_needed(struct pkt *want, const struct pkt *in, const char *src,
			const char *dst, uint16_t mtu)
{
	struct pkt_ipv4_opts o = { .tos = 0xc0 };

	pkt_init(want);
	pkt_eth(want, MAC_ROUTER, MAC_LB);
	pkt_ipv4(want, pkt_ip(src), pkt_ip(dst), &o);
	pkt_icmp4(want, 3, 4, mtu);
	pkt_append(want, in, 14, 28);
	pkt_finish(want);
}

Test(snat, too_big_towards_the_backend_answered_with_route_mtu)
{
	struct pkt in, want;

	dpt_teardown(&t);
	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				    "port = 80; forwarding = \"snat\"; "
				    "backends = ( { address = \"198.18.4.11\";"
				    " } ); } );\n");
	big_seg(&in, false, CLIENT4, 40000, VIP4, 80);
	/* no encapsulation: the route's own MTU */
	frag_needed(&want, &in, VIP4, CLIENT4, 1400);
	dpt_check(&t, &in, XDP_TX, &want);
}

/* A web flow from client:40000 to vip:80, opened: its SYN goes out, and
 * the backend's SYN-ACK to snat:lport reaches the client from the VIP. */
static void web_flow_open(const char *client, const char *vip, const char *be,
			  const char *snat, uint16_t lport)
{
	struct pkt in, want;

	tcp_seg(&in, false, client, 40000, vip, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_seg(&in, false, be, 8080, snat, lport, PKT_TCP_SYN | PKT_TCP_ACK);
	tcp_seg(&want, true, vip, 80, client, 40000, PKT_TCP_SYN | PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, &want);
}

/* Replies take their client's route, through a next hop each CPU keeps
 * for a second per client: a reply too big for its client's route is
 * answered to the backend with that route's MTU, while one as big to a
 * client whose route takes it goes, both after a reply that filled the
 * cache. */
Test(snat, reply_too_big_for_its_clients_route_answered_with_its_mtu)
{
	const char *small4 = "198.19.77.2"; /* its route: MTU 1300 */
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP),
		 lsmall = first_port(small4, 40000, 80, IPPROTO_TCP);
	struct pkt in, want;

	cr_assert_neq(lport, lsmall, "the two flows' ports collide");
	web_flow_open(CLIENT4, VIP4, BE4_1, SNAT4, lport);
	web_flow_open(small4, VIP4, BE4_1, SNAT4, lsmall);

	big_seg(&in, false, BE4_1, 8080, SNAT4, lsmall);
	frag_needed(&want, &in, SNAT4, BE4_1, 1300);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_ICMP_TOOBIG), 1);

	big_seg(&in, false, BE4_1, 8080, SNAT4, lport);
	big_seg(&want, true, VIP4, 80, CLIENT4, 40000);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_REPLY), 3);
}

/* The same for IPv6: packet too big with the client's route's MTU. */
Test(snat, reply6_too_big_for_its_clients_route_answered_with_its_mtu)
{
	const char *small6 = "2001:db8:d::2"; /* its route: MTU 1300 */
	uint16_t lsmall = first_port(small6, 40000, 80, IPPROTO_TCP);
	struct pkt in, want;

	web_flow_open(small6, VIP6, BE6_1, SNAT6, lsmall);

	big_seg(&in, false, BE6_1, 8080, SNAT6, lsmall);
	pkt_init(&want);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ipv6(&want, pkt_ip(SNAT6), pkt_ip(BE6_1), NULL);
	pkt_icmp6(&want, 2, 0, 1300);
	/* as much of the packet as fits in the minimum MTU */
	pkt_append(&want, &in, 14, 1280 - 40 - 8);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

/* A packet quoted in an ICMP error: its IP header and 8 bytes. */
static void quote(struct pkt *q, const char *src, uint16_t sport,
		  const char *dst, uint16_t dport)
{
	pkt_init(q);
	pkt_ip_hdr(q, pkt_ip(src), pkt_ip(dst));
	pkt_tcp(q, sport, dport, PKT_TCP_ACK, 5000, 6000);
	pkt_bytes(q, "data", 4);
	pkt_finish(q);
}

/* A router between LB and backend: fragmentation needed about q (its
 * first len bytes quoted), to the SNAT address. */
static void router_error_in(struct pkt *in, const struct pkt *q, size_t len)
{
	pkt_init(in);
	dpt_eth_in(in);
	pkt_ip_hdr(in, pkt_ip("198.18.1.1"), pkt_ip(SNAT4));
	pkt_icmp4(in, 3, 4, 1300);
	pkt_append(in, q, 0, len);
	pkt_finish(in);
}

/* The same error as the client gets it, quoting tq. */
static void router_error_out(struct pkt *want, const struct pkt *tq)
{
	pkt_init(want);
	dpt_eth_out(want);
	pkt_ip_hdr(want, pkt_ip("198.18.1.1"), pkt_ip(CLIENT4));
	pkt_icmp4(want, 3, 4, 1300);
	pkt_append(want, tq, 0, 28);
	pkt_finish(want);
}

Test(snat, icmp_error_about_forwarded_packet_reaches_the_client)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in, want, q, tq;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	/* a router between LB and backend: frag needed about snat->be */
	quote(&q, SNAT4, lport, BE4_1, 8080);
	router_error_in(&in, &q, 28);
	/* the client learns about the packet it sent */
	quote(&tq, CLIENT4, 40000, VIP4, 80);
	router_error_out(&want, &tq);
	dpt_check(&t, &in, XDP_TX, &want);
}

/* The same error in a padded frame, the padding holding what the quote's
 * TCP header would go on with: the quote ends with the IP packet, so its
 * TCP checksum, cut off, is not translated, and the padding goes. */
Test(snat, icmp_error_in_a_padded_frame_quotes_only_the_ip_packet)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in, want, q, tq;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	quote(&q, SNAT4, lport, BE4_1, 8080);
	router_error_in(&in, &q, 28);
	/* the rest of the quoted TCP header, as Ethernet padding */
	memcpy(in.buf + in.len, q.buf + 28, 12);
	in.len += 12;

	quote(&tq, CLIENT4, 40000, VIP4, 80);
	router_error_out(&want, &tq);
	dpt_check(&t, &in, XDP_TX, &want);
}

/* A quote must hold 8 bytes after its IP header (RFC 792): one that
 * stops after the ports is no quote to translate (found by the datapath
 * fuzzer). */
Test(snat, icmp_error_whose_quote_stops_after_the_ports_is_not_translated)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in, q;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	quote(&q, SNAT4, lport, BE4_1, 8080);
	router_error_in(&in, &q, 24);
	cr_assert_neq(dpt_run(&t, &in, (uint8_t[PKT_MAX]){ 0 },
			      &(size_t){ PKT_MAX }),
		      XDP_TX);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_REPLY), 0);
}

/* A reply whose IPv4 header checksum is wrong is not translated: the
 * kernel gets it, and drops it (found by the datapath fuzzer). */
Test(snat, reply_with_a_wrong_header_checksum_is_not_translated)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in;
	long l3;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_seg(&in, false, BE4_1, 8080, SNAT4, lport,
		PKT_TCP_SYN | PKT_TCP_ACK);
	l3 = pkt_off(&in, PKT_IPV4, 0);
	in.buf[l3 + 10] ^= 0x01;
	dpt_check(&t, &in, XDP_PASS, &in);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SNAT_REPLY), 0);
}

Test(snat, icmp_error_from_the_backend_itself_comes_from_the_vip)
{
	uint16_t lport = first_port(CLIENT4, 5353, 53, IPPROTO_UDP);
	struct pkt in, want, q, tq;

	udp_in(&in, CLIENT4, VIP4, 5353, 53);
	dpt_check(&t, &in, XDP_TX, NULL);
	/* port unreachable from the backend about snat:lport -> be:5353 */
	pkt_init(&q);
	pkt_ip_hdr(&q, pkt_ip(SNAT4), pkt_ip(BE4_1));
	pkt_udp(&q, lport, 5353, false);
	pkt_bytes(&q, "query", 5);
	pkt_finish(&q);
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(BE4_1), pkt_ip(SNAT4));
	pkt_icmp4(&in, 3, 3, 0);
	pkt_append(&in, &q, 0, 28);
	pkt_finish(&in);

	pkt_init(&tq);
	pkt_ip_hdr(&tq, pkt_ip(CLIENT4), pkt_ip(VIP4));
	pkt_udp(&tq, 5353, 53, false);
	pkt_bytes(&tq, "query", 5);
	pkt_finish(&tq);
	/* the quoted UDP checksum was the client's; it came back intact */
	pkt_init(&want);
	dpt_eth_out(&want);
	pkt_ip_hdr(&want, pkt_ip(VIP4), pkt_ip(CLIENT4));
	pkt_icmp4(&want, 3, 3, 0);
	pkt_append(&want, &tq, 0, 28);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

Test(snat, icmp_error_about_a_reply_reaches_the_backend)
{
	uint16_t lport = first_port(CLIENT4, 40000, 80, IPPROTO_TCP);
	struct pkt in, want, q, tq;

	tcp_seg(&in, false, CLIENT4, 40000, VIP4, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	/* a router on the client's side: frag needed about VIP->client */
	quote(&q, VIP4, 80, CLIENT4, 40000);
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip("192.0.2.1"), pkt_ip(VIP4));
	pkt_icmp4(&in, 3, 4, 1280);
	pkt_append(&in, &q, 0, 28);
	pkt_finish(&in);
	/* the backend learns about what it sent, from the SNAT address */
	quote(&tq, BE4_1, 8080, SNAT4, lport);
	pkt_init(&want);
	dpt_eth_out(&want);
	pkt_ip_hdr(&want, pkt_ip(SNAT4), pkt_ip(BE4_1));
	pkt_icmp4(&want, 3, 4, 1280);
	pkt_append(&want, &tq, 0, 28);
	pkt_finish(&want);
	dpt_check(&t, &in, XDP_TX, &want);
}

#define RANGES_CONF(mode)                                                     \
	DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; port = 80; "         \
		      "source_ranges = (\"192.0.2.0/24\", \"2001:db8:c::/64\");"\
		      " source_ranges_mode = \"" mode "\"; backends = ( { "    \
		      "address = \"" BE4_1 "\"; } ); } );\n"

Test(snat, source_ranges_allow_list)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, RANGES_CONF("allow"));
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_in(&in, "198.19.0.5", VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_SOURCE_RANGE), 1);
}

Test(snat, source_ranges_deny_list)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, RANGES_CONF("deny"));
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_SOURCE_RANGE), 1);
	tcp_in(&in, "198.19.0.5", VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
}

Test(snat, source_ranges_follow_a_reload)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, RANGES_CONF("allow"));
	dpt_reload(&t, DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; "
				     "port = 80; source_ranges = ("
				     "\"198.19.0.0/16\"); backends = ( { "
				     "address = \"" BE4_1 "\"; } ); } );\n");
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	tcp_in(&in, "198.19.0.5", VIP4, 40001, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
}

/* 5 backends 198.18.1.11-15 with session affinity (or not). */
static const char *aff_conf(int n, bool affinity)
{
	static char buf[2048];
	size_t off;
	int i;

	off = (size_t)snprintf(buf, sizeof(buf),
			       DATAPATH_CONF "services = ( { vip = \"" VIP4
					     "\"; port = 80; %s backends = ( ",
			       affinity ? "session_affinity = \"client_ip\";"
					: "");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s{ address = \"198.18.1.%d\"; }",
					i ? ", " : "", 11 + i);
	snprintf(buf + off, sizeof(buf) - off, " ); } );\n");
	return buf;
}

static int backend_of_syn(const char *client, uint16_t cport)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	struct pkt in;
	char a[64];

	tcp_in(&in, client, VIP4, cport, 80, PKT_TCP_SYN);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	dpt_backend_of(out, len, a, sizeof(a));
	return atoi(strrchr(a, '.') + 1);
}

Test(snat, affinity_sends_a_clients_connections_to_one_backend)
{
	int first, i, spread = 0;

	dpt_teardown(&t);
	dpt_setup(&t, aff_conf(5, true));
	first = backend_of_syn(CLIENT4, 40000);
	for (i = 1; i < 50; i++)
		cr_assert_eq(backend_of_syn(CLIENT4, (uint16_t)(40000 + i)),
			     first, "connection %d", i);
	/* other clients still spread */
	for (i = 0; i < 50; i++) {
		char c[32];

		snprintf(c, sizeof(c), "198.19.0.%d", 1 + i);
		spread |= 1 << (backend_of_syn(c, 40000) - 11);
	}
	cr_assert_gt(__builtin_popcount(spread), 2);
}

Test(snat, affinity_outlives_a_table_change)
{
	int first, now;

	dpt_teardown(&t);
	dpt_setup(&t, aff_conf(2, true));
	first = backend_of_syn(CLIENT4, 40000);
	dpt_reload(&t, aff_conf(5, true));
	/* a new connection of the same client keeps the backend, whatever
	 * the new table says */
	now = backend_of_syn(CLIENT4, 41000);
	cr_assert_eq(now, first);
}

Test(snat, affinity_hash_leaves_the_client_port_out)
{
	struct maglev_backend b[5];
	uint32_t m = 251, table[251], h;
	int i;

	dpt_teardown(&t);
	dpt_setup(&t, aff_conf(5, true));
	for (i = 0; i < 5; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.18.1.%d", 11 + i);
		memset(&b[i], 0, sizeof(b[i]));
		b[i].family = LBD_AF_INET;
		b[i].addr.v4 = pkt_ip(a).v4.s_addr;
		b[i].port = htons(80);
		b[i].weight = 1;
		b[i].id = (uint32_t)(11 + i);
	}
	cr_assert_eq(maglev_build(b, 5, m, SEED, table), 0);
	h = lbd_flow_hash4(SEED, pkt_ip(CLIENT4).v4.s_addr,
			   LBD_PORTS(0, htons(80)), IPPROTO_TCP);
	cr_assert_eq(backend_of_syn(CLIENT4, 12345), (int)table[h % m]);
}

#define NODEPORT_CONF                                                         \
	DATAPATH_CONF "services = ( { name = \"np\"; vip = \"*\"; port = "     \
		      "30080; forwarding = \"snat\"; backends = ( { address = "\
		      "\"" BE4_1 "\"; port = 8080; } ); } );\n"

Test(snat, nodeport_service_on_the_host_address)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, NODEPORT_CONF);
	tcp_in(&in, CLIENT4, SNAT4, 40000, 30080, PKT_TCP_SYN);
	cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
	cr_assert_eq(out[36] << 8 | out[37], 8080);
	cr_assert_not_null(state_find_name(&t.st, "np@198.18.0.10"));
}

Test(snat, host_address_traffic_that_is_no_service_passes)
{
	struct pkt in;

	dpt_teardown(&t);
	dpt_setup(&t, NODEPORT_CONF);
	/* ssh to the LB host, its ping, a fragment: the host's */
	tcp_in(&in, CLIENT4, SNAT4, 40000, 22, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_PASS, &in);
	pkt_init(&in);
	dpt_eth_in(&in);
	pkt_ip_hdr(&in, pkt_ip(CLIENT4), pkt_ip(SNAT4));
	pkt_icmp4(&in, 8, 0, 1);
	pkt_finish(&in);
	dpt_check(&t, &in, XDP_PASS, &in);
	{
		struct pkt_ipv4_opts o = { .frag = 0x2000 };

		pkt_init(&in);
		dpt_eth_in(&in);
		pkt_ipv4(&in, pkt_ip(CLIENT4), pkt_ip(SNAT4), &o);
		pkt_udp(&in, 5353, 30080, false);
		pkt_finish(&in);
		dpt_check(&t, &in, XDP_PASS, &in);
	}
	cr_assert_eq(dpt_reason(&t, LBD_PASS_HOST), 3);
}
