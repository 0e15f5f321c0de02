// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backend companion (bpf/backend/backend.bpf.c) on its ingress:
 * encapsulation from a trusted LB is decapsulated, from anyone else
 * dropped and counted, and so are outer fragments of it, whatever their
 * source.
 */
#include <criterion/criterion.h>
#include <linux/pkt_cls.h>
#include <string.h>

#include "be_harness.h"
#include "flows.h"

#define LB4 "198.18.0.10"
#define LB6 "2001:db8::10"
#define NODE4 "198.18.1.11"
#define NODE6 "2001:db8:1::11"
#define OTHER4 "203.0.113.66" /* not a trusted LB */
#define OTHER6 "2001:db8:66::1"

static struct bet t;

static void setup(void)
{
	static const char *const sources[] = { LB4, LB6, NULL };
	static const char *const locals[] = { NODE4, NODE6, NULL };

	bet_setup(&t, sources, locals);
}

static void teardown(void)
{
	bet_teardown(&t);
}

TestSuite(backend, .init = setup, .fini = teardown);

/* A client's TCP segment to a VIP from its IP header on, as an LB
 * encapsulates it. */
static void inner_of(struct pkt *q, const char *client, const char *vip)
{
	pkt_init(q);
	pkt_ip_hdr(q, pkt_ip(client), pkt_ip(vip));
	pkt_tcp(q, 40000, 80, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(q, "hello", 5);
	pkt_finish(q);
}

/* An outer IP header from src to dst, IPv4 with the fragment field frag
 * (flags and offset as on the wire), or IPv6 with a fragment header
 * holding frag when it is not 0; what follows is the caller's. */
static void outer(struct pkt *p, const char *src, const char *dst,
		  uint16_t frag)
{
	pkt_init(p);
	dpt_eth_in(p);
	if (pkt_ip(src).family == AF_INET) {
		struct pkt_ipv4_opts o = { .frag = frag };

		pkt_ipv4(p, pkt_ip(src), pkt_ip(dst), &o);
	} else {
		pkt_ipv6(p, pkt_ip(src), pkt_ip(dst), NULL);
		if (frag)
			pkt_ipv6_ext(p, IPPROTO_FRAGMENT, frag);
	}
}

/* IPIP (IP6IP6 for IPv6) from src to dst carrying inner, whole. */
static void ipip_in(struct pkt *p, const char *src, const char *dst,
		    uint16_t frag)
{
	bool v6 = pkt_ip(src).family == AF_INET6;
	struct pkt q;

	inner_of(&q, v6 ? CLIENT6 : CLIENT4, v6 ? VIP6 : VIP4);
	outer(p, src, dst, frag);
	pkt_next(p, v6 ? IPPROTO_IPV6 : IPPROTO_IPIP);
	pkt_append(p, &q, 0, q.len);
	pkt_finish(p);
}

/* A later fragment of IPIP (IP6IP6): 16 bytes at offset 8 units. */
static void ipip_later_in(struct pkt *p, const char *src, const char *dst)
{
	bool v6 = pkt_ip(src).family == AF_INET6;

	outer(p, src, dst, v6 ? 8 << 3 : 8);
	pkt_next(p, v6 ? IPPROTO_IPV6 : IPPROTO_IPIP);
	pkt_bytes(p, "0123456789abcdef", 16);
	pkt_finish(p);
}

/* Geneve from src to dst, as the LB sends it, first fragment when frag
 * says so; dstopts: an IPv6 destination options header after the
 * fragment header. */
static void geneve_in(struct pkt *p, const char *src, const char *dst,
		      uint16_t frag, bool dstopts)
{
	bool v6 = pkt_ip(src).family == AF_INET6;
	struct pkt q;

	inner_of(&q, v6 ? CLIENT6 : CLIENT4, v6 ? BE6_1 : BE4_1);
	outer(p, src, dst, frag);
	if (dstopts)
		pkt_ipv6_ext(p, IPPROTO_DSTOPTS, 0);
	pkt_udp(p, 49152, 6081, true);
	pkt_geneve_dsr(p, 2, pkt_ip(v6 ? VIP6 : VIP4), 80);
	pkt_eth(p, MAC_ROUTER, MAC_LB);
	pkt_append(p, &q, 0, q.len);
	pkt_finish(p);
}

Test(backend, trusted_ipip_is_decapsulated)
{
	struct pkt in, q, want;

	ipip_in(&in, LB4, NODE4, 0);
	inner_of(&q, CLIENT4, VIP4);
	/* the L2 header stays, announcing the inner packet */
	pkt_init(&want);
	dpt_eth_in(&want);
	pkt_next(&want, 0x0800);
	pkt_append(&want, &q, 0, q.len);
	pkt_finish(&want);
	bet_check(&t, true, &in, TC_ACT_OK, &want);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_IPIP), 1);
}

/* The kernel checks an IPv4 header after tc ingress, never the outer one
 * of what the companion decapsulates: it does. */
Test(backend, outer_ipv4_header_with_a_wrong_checksum_is_dropped)
{
	struct pkt in;
	long l3;

	ipip_in(&in, LB4, NODE4, 0);
	l3 = pkt_off(&in, PKT_IPV4, 0);
	cr_assert_geq(l3, 0);
	in.buf[l3 + 10] ^= 0x01;
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_MALFORMED), 1);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_IPIP), 0);
}

Test(backend, untrusted_ipip_is_dropped)
{
	struct pkt in;

	ipip_in(&in, OTHER4, NODE4, 0);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	ipip_in(&in, OTHER6, NODE6, 0);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 2);
}

/* Outer fragments of IPIP, IP6IP6 and Geneve from an untrusted source
 * once passed to the stack, where a kernel with tunnel devices of its own
 * would reassemble and decapsulate them. */
Test(backend, untrusted_encapsulation_in_fragments_is_dropped)
{
	struct pkt in;
	int n = 0;

	ipip_in(&in, OTHER4, NODE4, 0x2000); /* MF, offset 0 */
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	ipip_later_in(&in, OTHER4, NODE4);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	ipip_in(&in, OTHER6, NODE6, 0x0001); /* offset 0, M */
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	ipip_later_in(&in, OTHER6, NODE6);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	geneve_in(&in, OTHER4, NODE4, 0x2000, false);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	geneve_in(&in, OTHER6, NODE6, 0x0001, false);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	geneve_in(&in, OTHER6, NODE6, 0x0001, true);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL), n++;
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), (uint64_t)n);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_IPIP), 0);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 0);
}

/* A later IPv6 fragment whose fragmentable part starts with an
 * extension header cannot say what follows it, a tunnel maybe: from an
 * untrusted source it is dropped too (found by the datapath fuzzer). */
Test(backend, later_ipv6_fragment_after_extension_headers_is_dropped)
{
	struct pkt in;

	outer(&in, OTHER6, NODE6, 0x0100); /* offset 32, last */
	pkt_ipv6_ext(&in, IPPROTO_DSTOPTS, 0);
	pkt_next(&in, IPPROTO_IPIP);
	pkt_bytes(&in, "0123456789abcdef", 16);
	pkt_finish(&in);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 1);
}

/* From a trusted LB, fragments are not decapsulated either (lbd does not
 * reassemble, and the LB never fragments what it encapsulates): dropped
 * with a reason of their own, so that a path that fragments shows. */
Test(backend, trusted_encapsulation_in_fragments_is_dropped_and_counted)
{
	struct pkt in;

	ipip_in(&in, LB4, NODE4, 0x2000);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	ipip_later_in(&in, LB6, NODE6);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	geneve_in(&in, LB4, NODE4, 0x2000, false);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_FRAGMENT), 3);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 0);
}

/* Fragments that are no encapsulation for this node are not ours: UDP to
 * another port, a later UDP fragment (it cannot say its port; without
 * its first fragment nothing is reassembled), IPIP to another node. */
Test(backend, other_fragments_pass_unchanged)
{
	struct pkt in;

	pkt_init(&in);
	outer(&in, OTHER4, NODE4, 0x2000);
	pkt_udp(&in, 5353, 53, false);
	pkt_bytes(&in, "query", 5);
	pkt_finish(&in);
	bet_check(&t, true, &in, TC_ACT_OK, &in);

	outer(&in, OTHER4, NODE4, 8);
	pkt_next(&in, IPPROTO_UDP);
	pkt_bytes(&in, "0123456789abcdef", 16);
	pkt_finish(&in);
	bet_check(&t, true, &in, TC_ACT_OK, &in);

	ipip_in(&in, OTHER4, "198.18.1.99", 0x2000);
	bet_check(&t, true, &in, TC_ACT_OK, &in);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 0);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_FRAGMENT), 0);
}

/* IP6IP6 and 4-in-6 (IPv4 in IPv6, as IPIP services to IPv6 backends
 * send it): the outer IPv6 header goes, the Ethernet type announces the
 * inner family. */
Test(backend, trusted_ip6ip6_and_4in6_are_decapsulated)
{
	struct pkt in, q, want;

	ipip_in(&in, LB6, NODE6, 0);
	inner_of(&q, CLIENT6, VIP6);
	pkt_init(&want);
	dpt_eth_in(&want);
	pkt_next(&want, 0x86dd);
	pkt_append(&want, &q, 0, q.len);
	pkt_finish(&want);
	bet_check(&t, true, &in, TC_ACT_OK, &want);

	inner_of(&q, CLIENT4, VIP4);
	outer(&in, LB6, NODE6, 0);
	pkt_next(&in, IPPROTO_IPIP);
	pkt_append(&in, &q, 0, q.len);
	pkt_finish(&in);
	pkt_init(&want);
	dpt_eth_in(&want);
	pkt_next(&want, 0x0800);
	pkt_append(&want, &q, 0, q.len);
	pkt_finish(&want);
	bet_check(&t, true, &in, TC_ACT_OK, &want);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_IPIP), 2);
}

/* The Geneve flows below: client:40000 to the backend's 8080, behind
 * VIP:80 (the LB translated the inner packet; the DSR option names the
 * VIP and service port). */
#define BE_PORT 8080
#define SVC_PORT 80

/* A TCP segment from src:sport to dst:dport, from its IP header on. */
static void seg_of(struct pkt *q, const char *src, uint16_t sport,
		   const char *dst, uint16_t dport, uint8_t flags,
		   const char *data)
{
	pkt_init(q);
	pkt_ip_hdr(q, pkt_ip(src), pkt_ip(dst));
	pkt_tcp(q, sport, dport, flags, 1000, 2000);
	pkt_bytes(q, data, strlen(data));
	pkt_finish(q);
}

/* Cilium's Geneve form from lb to this node, inner q, the DSR option
 * naming the VIP and service port, then extra options (len bytes at
 * opt, cls/type) when opt is not NULL. */
static void gnv_in(struct pkt *p, const char *lb, const char *node,
		   const struct pkt *q, uint16_t cls, uint8_t type,
		   const void *opt, size_t len)
{
	bool v6 = pkt_ip(lb).family == AF_INET6;

	outer(p, lb, node, 0);
	pkt_udp(p, 49152, 6081, true);
	pkt_geneve_dsr(p, 2, pkt_ip(v6 ? VIP6 : VIP4), SVC_PORT);
	if (opt)
		pkt_geneve_opt(p, cls, type, opt, len);
	pkt_eth(p, MAC_ROUTER, MAC_LB);
	pkt_next(p, v6 ? 0x86dd : 0x0800);
	pkt_append(p, q, 0, q->len);
	pkt_finish(p);
}

/* What a decapsulated q (IPv6 when v6) looks like: the outer L2 header,
 * announcing q. */
static void decapped(struct pkt *want, const struct pkt *q, bool v6)
{
	pkt_init(want);
	dpt_eth_in(want);
	pkt_next(want, v6 ? 0x86dd : 0x0800);
	pkt_append(want, q, 0, q->len);
	pkt_finish(want);
}

/* The reply of the backend to the client (from its IP header on), from
 * src:sport, as it leaves by tc egress, L2 header included. */
static void reply_out(struct pkt *p, const char *src, uint16_t sport,
		      const char *client)
{
	struct pkt r;

	seg_of(&r, src, sport, client, 40000, PKT_TCP_ACK, "world");
	pkt_init(p);
	pkt_eth(p, MAC_ROUTER, MAC_LB);
	pkt_next(p, pkt_ip(src).family == AF_INET6 ? 0x86dd : 0x0800);
	pkt_append(p, &r, 0, r.len);
	pkt_finish(p);
}

static void untrusted_geneve(const char *src, const char *node,
			     const char *client, const char *be)
{
	struct pkt q, in;

	seg_of(&q, client, 40000, be, BE_PORT, PKT_TCP_SYN, "hello");
	gnv_in(&in, src, node, &q, 0, 0, NULL, 0);
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
}

Test(backend, untrusted_geneve_is_dropped)
{
	untrusted_geneve(OTHER4, NODE4, CLIENT4, NODE4);
	untrusted_geneve(OTHER6, NODE6, CLIENT6, NODE6);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 2);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 0);
	cr_assert_eq(bet_flows_clear(&t), 0, "an untrusted packet's flow");
}

/*
 * A Geneve option with the critical bit that the companion does not know
 * (RFC 8926 section 3.5.1: such a packet must be dropped), after
 * Cilium's: refused, nothing recorded, so its flow's replies keep the
 * backend's address. The same option without the critical bit is
 * skipped, and the packet delivered.
 */
static void unknown_option(const char *node, const char *client, const char *lb)
{
	static const uint8_t body[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct pkt q, in, want, reply;

	seg_of(&q, client, 40000, node, BE_PORT, PKT_TCP_ACK, "hello");
	gnv_in(&in, lb, node, &q, 0x0105, 0x80 | 0x07, body, sizeof(body));
	bet_check(&t, true, &in, TC_ACT_SHOT, NULL);
	reply_out(&reply, node, BE_PORT, client);
	bet_check(&t, false, &reply, TC_ACT_OK, &reply);

	gnv_in(&in, lb, node, &q, 0x0105, 0x07, body, sizeof(body));
	decapped(&want, &q, pkt_ip(node).family == AF_INET6);
	bet_check(&t, true, &in, TC_ACT_OK, &want);
}

Test(backend, critical_geneve_option_unknown_is_refused)
{
	unknown_option(NODE4, CLIENT4, LB4);
	unknown_option(NODE6, CLIENT6, LB6);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_GENEVE_OPT), 2);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 2);
	cr_assert_eq(bet_reason(&t, LBD_BE_REPLY_RESTORED), 0);
}

/*
 * A Geneve flow's reply leaves with the VIP and service port as its
 * source, checksums right, so the client sees the address it connected
 * to; the companion learned them from the DSR option of the flow's
 * packet. A reply of a flow that never came by Geneve is untouched.
 */
static void restores(const char *node, const char *client, const char *lb,
		     const char *vip)
{
	struct pkt q, in, want, reply;

	reply_out(&reply, node, BE_PORT, client);
	bet_check(&t, false, &reply, TC_ACT_OK, &reply);

	seg_of(&q, client, 40000, node, BE_PORT, PKT_TCP_SYN, "hello");
	gnv_in(&in, lb, node, &q, 0, 0, NULL, 0);
	decapped(&want, &q, pkt_ip(node).family == AF_INET6);
	bet_check(&t, true, &in, TC_ACT_OK, &want);

	reply_out(&want, vip, SVC_PORT, client);
	bet_check(&t, false, &reply, TC_ACT_OK, &want);
	/* another backend port of the node is another flow */
	reply_out(&reply, node, BE_PORT + 1, client);
	bet_check(&t, false, &reply, TC_ACT_OK, &reply);
}

Test(backend, reply_source_is_restored_to_the_vip)
{
	restores(NODE4, CLIENT4, LB4, VIP4);
	restores(NODE6, CLIENT6, LB6, VIP6);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 2);
	cr_assert_eq(bet_reason(&t, LBD_BE_REPLY_RESTORED), 2);
}

/*
 * The flow entry is lost (the LRU evicted it, the maps were made anew):
 * replies leave with the backend's address until the flow's next packet,
 * mid-flow, which carries the DSR option as every packet does and
 * records the flow again; from then on replies are restored again.
 */
static void heals(const char *node, const char *client, const char *lb,
		  const char *vip, unsigned flows)
{
	struct pkt q, in, want, reply, restored;

	seg_of(&q, client, 40000, node, BE_PORT, PKT_TCP_SYN, "hello");
	gnv_in(&in, lb, node, &q, 0, 0, NULL, 0);
	decapped(&want, &q, pkt_ip(node).family == AF_INET6);
	bet_check(&t, true, &in, TC_ACT_OK, &want);
	reply_out(&reply, node, BE_PORT, client);
	reply_out(&restored, vip, SVC_PORT, client);
	bet_check(&t, false, &reply, TC_ACT_OK, &restored);

	cr_assert_eq(bet_flows_clear(&t), flows);
	bet_check(&t, false, &reply, TC_ACT_OK, &reply);

	seg_of(&q, client, 40000, node, BE_PORT, PKT_TCP_ACK, "again");
	gnv_in(&in, lb, node, &q, 0, 0, NULL, 0);
	decapped(&want, &q, pkt_ip(node).family == AF_INET6);
	bet_check(&t, true, &in, TC_ACT_OK, &want);
	bet_check(&t, false, &reply, TC_ACT_OK, &restored);
}

Test(backend, lost_flow_entry_heals_on_the_next_packet)
{
	heals(NODE4, CLIENT4, LB4, VIP4, 1);
	/* the IPv4 flow, healed, is lost again with the IPv6 one */
	heals(NODE6, CLIENT6, LB6, VIP6, 2);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 4);
	cr_assert_eq(bet_reason(&t, LBD_BE_REPLY_RESTORED), 4);
}

/*
 * The node role (docs/node.md, "Receiving DSR"): the other nodes are
 * trusted by prefix, and what they encapsulate is for a pod behind this
 * node, not for one of its addresses: the kernel forwards the inner
 * packet, and the pod's reply is restored at the NIC's egress.
 */
#define NODES4 "198.18.2.0/24" /* the other nodes, trusted */
#define NODES6 "2001:db8:2::/64"
#define NODEA4 "198.18.2.77" /* a node in it */
#define NODEA6 "2001:db8:2::77"
#define OUT4 "198.18.3.77" /* just outside it */
#define OUT6 "2001:db8:3::77"
/* an IPv6 address whose first bytes are 198.18.2.77: the IPv4 prefix must
 * not take it */
#define ALIAS6 "c612:24d::1"
#define POD4 "198.18.5.2" /* not an address of this node */
#define POD6 "2001:db8:5::2"
#define NP_PORT 30080 /* the NodePort of node A's address */

static void nodes_setup(void)
{
	static const char *const sources[] = { LB4, NODES4, NODES6, NULL };
	static const char *const locals[] = { NODE4, NODE6, NULL };

	bet_setup(&t, sources, locals);
}

TestSuite(backend_nodes, .init = nodes_setup, .fini = teardown);

/* A UDP datagram from src:sport to dst:dport, from its IP header on. */
static void dgram_of(struct pkt *q, const char *src, uint16_t sport,
		     const char *dst, uint16_t dport, const char *data)
{
	pkt_init(q);
	pkt_ip_hdr(q, pkt_ip(src), pkt_ip(dst));
	pkt_udp(q, sport, dport, false);
	pkt_bytes(q, data, strlen(data));
	pkt_finish(q);
}

/* Cilium's Geneve form from node to this node, inner q, the DSR option
 * naming svc:port (the inner family's). */
static void gnv_svc_in(struct pkt *p, const char *from, const char *node,
		       const struct pkt *q, const char *svc, uint16_t port)
{
	outer(p, from, node, 0);
	pkt_udp(p, 49152, 6081, true);
	pkt_geneve_dsr(p, 2, pkt_ip(svc), port);
	pkt_eth(p, MAC_ROUTER, MAC_LB);
	pkt_next(p, pkt_ip(svc).family == AF_INET6 ? 0x86dd : 0x0800);
	pkt_append(p, q, 0, q->len);
	pkt_finish(p);
}

/* The same inner packet's IP header on, as it leaves tc egress: L2
 * header included. */
static void l2_of(struct pkt *p, const struct pkt *q)
{
	pkt_init(p);
	pkt_eth(p, MAC_ROUTER, MAC_LB);
	pkt_next(p, (q->buf[0] >> 4) == 6 ? 0x86dd : 0x0800);
	pkt_append(p, q, 0, q->len);
	pkt_finish(p);
}

static void src_judged(const char *from, const char *node, const char *client,
		       bool trusted)
{
	struct pkt q, in, want;

	seg_of(&q, client, 40000, node, BE_PORT, PKT_TCP_SYN, "hello");
	gnv_in(&in, from, node, &q, 0, 0, NULL, 0);
	decapped(&want, &q, pkt_ip(node).family == AF_INET6);
	bet_check(&t, true, &in, trusted ? TC_ACT_OK : TC_ACT_SHOT,
		  trusted ? &want : NULL);
}

Test(backend_nodes, a_source_inside_a_trusted_prefix_is_decapsulated)
{
	src_judged(NODEA4, NODE4, CLIENT4, true);
	src_judged(NODEA6, NODE6, CLIENT6, true);
	/* an address (the LB's) is its /32, beside the prefixes */
	src_judged(LB4, NODE4, CLIENT4, true);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 3);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 0);
}

Test(backend_nodes, a_source_outside_the_trusted_prefixes_is_dropped)
{
	src_judged(OUT4, NODE4, CLIENT4, false);
	src_judged(OUT6, NODE6, CLIENT6, false);
	/* the LB's neighbour: an address trusts only itself */
	src_judged("198.18.0.11", NODE4, CLIENT4, false);
	/* an IPv6 source whose first 32 bits are an IPv4 node's */
	src_judged(ALIAS6, NODE6, CLIENT6, false);
	cr_assert_eq(bet_reason(&t, LBD_BE_DROP_UNTRUSTED), 4);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 0);
	cr_assert_eq(bet_flows_clear(&t), 0, "an untrusted packet's flow");
}

/*
 * Node A sends a client's segment (or datagram) to a Service of its own
 * address and NodePort on to a pod behind this node: the inner
 * destination is the pod, none of this node's addresses. Decapsulated
 * whole, its flow recorded; the pod's reply, forwarded out of the NIC,
 * leaves from node A's address and NodePort, checksums right; another
 * client's reply is left alone.
 */
static void to_pod(const char *from, const char *node, const char *client,
		   const char *pod, bool udp)
{
	struct pkt q, in, want, reply, restored;
	const char *svc = from;

	if (udp)
		dgram_of(&q, client, 40000, pod, BE_PORT, "hello");
	else
		seg_of(&q, client, 40000, pod, BE_PORT, PKT_TCP_SYN, "hello");
	gnv_svc_in(&in, from, node, &q, svc, NP_PORT);
	decapped(&want, &q, pkt_ip(node).family == AF_INET6);
	bet_check(&t, true, &in, TC_ACT_OK, &want);

	if (udp) {
		dgram_of(&q, pod, BE_PORT, client, 40000, "world");
		l2_of(&reply, &q);
		dgram_of(&q, svc, NP_PORT, client, 40000, "world");
	} else {
		seg_of(&q, pod, BE_PORT, client, 40000,
		       PKT_TCP_SYN | PKT_TCP_ACK, "world");
		l2_of(&reply, &q);
		seg_of(&q, svc, NP_PORT, client, 40000,
		       PKT_TCP_SYN | PKT_TCP_ACK, "world");
	}
	l2_of(&restored, &q);
	bet_check(&t, false, &reply, TC_ACT_OK, &restored);

	/* the pod's reply to another port of the client: no flow */
	if (udp)
		dgram_of(&q, pod, BE_PORT, client, 40001, "world");
	else
		seg_of(&q, pod, BE_PORT, client, 40001, PKT_TCP_ACK, "world");
	l2_of(&reply, &q);
	bet_check(&t, false, &reply, TC_ACT_OK, &reply);
}

Test(backend_nodes, geneve_to_a_pod_is_decapsulated_and_its_reply_restored)
{
	to_pod(NODEA4, NODE4, CLIENT4, POD4, false);
	to_pod(NODEA4, NODE4, CLIENT4, POD4, true);
	to_pod(NODEA6, NODE6, CLIENT6, POD6, false);
	to_pod(NODEA6, NODE6, CLIENT6, POD6, true);
	cr_assert_eq(bet_reason(&t, LBD_BE_DECAP_GENEVE), 4);
	cr_assert_eq(bet_reason(&t, LBD_BE_REPLY_RESTORED), 4);
	cr_assert_eq(bet_flows_clear(&t), 4);
}
