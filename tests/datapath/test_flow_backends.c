// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flow_state = "backends" on the LB (docs/flow-state.md): TCP goes to its
 * Maglev slot's owner with no conntrack, in Geneve with lbd's option
 * naming the slot's previous owner. Expected packets are built here,
 * byte by byte; owners come from a model (maglev_build over the
 * backends), not from the tables lbd wrote.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>

#include "flows.h"
#include "maglev.h"

static struct dpt t;

static void teardown(void)
{
	dpt_teardown(&t);
}

TestSuite(flow_backends, .fini = teardown);

#define M 251

/* Backend i of a family: 198.18.1.(11+i) or 2001:db8:1::(11+i). */
static const char *be_addr(int family, int i)
{
	static char buf[4][48];
	static int k;
	char *b = buf[k++ % 4];

	if (family == AF_INET)
		snprintf(b, 48, "198.18.1.%d", 11 + i);
	else
		snprintf(b, 48, "2001:db8:1::%d", 11 + i);
	return b;
}

/*
 * A config of four services with flow_state = "backends": ipip and
 * geneve (backend port 8443), for each family, each with n backends,
 * states[i] the state of backend i ("active", "draining"; NULL: all
 * active), and a UDP service without conntrack.
 */
static const char *conf(int n, const char *const *states)
{
	static char buf[8192];
	static const struct {
		const char *name, *vip, *fwd;
		int port, family, bport;
	} s[] = {
		{ "ipip4", VIP4, "ipip", 80, AF_INET, 0 },
		{ "gnv4", VIP4, "geneve", 443, AF_INET, 8443 },
		{ "ipip6", VIP6, "ipip", 80, AF_INET6, 0 },
		{ "gnv6", VIP6, "geneve", 443, AF_INET6, 8443 },
	};
	size_t off;
	int i, j;

	off = (size_t)snprintf(buf, sizeof(buf), "%sservices = (\n",
			       DATAPATH_CONF);
	for (i = 0; i < 4; i++) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					" { name = \"%s\"; vip = \"%s\"; port "
					"= %d; forwarding = \"%s\"; flow_state "
					"= \"backends\"; backends = (",
					s[i].name, s[i].vip, s[i].port,
					s[i].fwd);
		for (j = 0; j < n; j++) {
			char bp[32] = "";

			if (s[i].bport)
				snprintf(bp, sizeof(bp), " port = %d;",
					 s[i].bport);
			off += (size_t)snprintf(
				buf + off, sizeof(buf) - off,
				"%s { address = \"%s\";%s state = \"%s\"; }",
				j ? "," : "", be_addr(s[i].family, j), bp,
				states ? states[j] : "active");
		}
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					" ); },\n");
	}
	snprintf(buf + off, sizeof(buf) - off,
		 " { name = \"udp4\"; vip = \"" VIP4 "\"; port = 53; protocol "
		 "= \"udp\"; udp_flow_state = \"none\"; backends = ( { "
		 "address = \"" BE4_1 "\"; }, { address = \"" BE4_2
		 "\"; } ); }\n);\n");
	return buf;
}

/* The model: the index of the backend Maglev gives a flow, over the
 * active ones of n (states as in conf). */
static int model_owner(int family, int n, const char *const *states,
		       uint16_t bport, const char *client, uint16_t cport,
		       uint16_t sport)
{
	struct maglev_backend b[8];
	uint32_t table[M];
	int i, k = 0;

	for (i = 0; i < n; i++) {
		struct pkt_addr a = pkt_ip(be_addr(family, i));

		if (states && strcmp(states[i], "active"))
			continue;
		memset(&b[k], 0, sizeof(b[k]));
		b[k].family = family == AF_INET ? LBD_AF_INET : LBD_AF_INET6;
		if (family == AF_INET)
			b[k].addr.v4 = a.v4.s_addr;
		else
			memcpy(&b[k].addr, &a.v6, 16);
		b[k].port = htons(bport);
		b[k].weight = 1;
		b[k].id = (uint32_t)i;
		k++;
	}
	cr_assert_eq(maglev_build(b, (size_t)k, M, SEED, table), 0);
	return (int)table[test_flow_hash(client, cport, sport, IPPROTO_TCP) %
			  M];
}

static size_t ct_entries(enum dp_map map)
{
	int fd = dp_map_fd(t.dp, map);
	uint8_t k[64], next[64];
	void *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(k, next, sizeof(k));
		prev = k;
		n++;
	}
	return n;
}

/* lbd's option: flags, and the previous owner (addr NULL: none). */
static void sc_opt(uint8_t *o, int family, uint8_t flags, const char *prev,
		   uint16_t pport)
{
	size_t body = family == AF_INET ? 8 : 20;

	memset(o, 0, 4 + body);
	o[0] = 0xff;
	o[1] = 0xdb;
	o[2] = 0x01;
	o[3] = (uint8_t)(body / 4);
	o[4] = flags;
	o[6] = (uint8_t)(pport >> 8);
	o[7] = (uint8_t)pport;
	if (prev) {
		struct pkt_addr a = pkt_ip(prev);

		if (family == AF_INET)
			memcpy(o + 8, &a.v4, 4);
		else
			memcpy(o + 8, &a.v6, 16);
	}
}

/*
 * The expected packet of an IPIP service: outer IP of the backend's
 * family from the encap source, UDP to 6081 with checksum 0 and the
 * source port from the flow hash, Geneve (no C flag, VNI 2, protocol of
 * the inner packet) with lbd's option alone, then the client's packet
 * from its IP header on, untouched.
 */
static void want_ipsc(struct pkt *w, const struct pkt *in, int family,
		      const char *client, uint16_t cport, uint16_t sport,
		      const char *backend, uint8_t flags, const char *prev)
{
	struct pkt_addr d = pkt_ip(backend);
	uint32_t h = test_flow_hash(client, cport, sport, IPPROTO_TCP);
	long l3 = pkt_off(in, family == AF_INET ? PKT_IPV4 : PKT_IPV6, 0);
	uint8_t g[8 + 24];
	size_t olen = family == AF_INET ? 12 : 24;

	pkt_init(w);
	dpt_eth_out(w);
	if (d.family == AF_INET) {
		pkt_ipv4(w, pkt_ip(ENCAP4), d, NULL);
	} else {
		struct pkt_ipv6_opts o = { .flowlabel = h & 0xfffff };

		pkt_ipv6(w, pkt_ip(ENCAP6), d, &o);
	}
	pkt_udp(w, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	g[0] = (uint8_t)(olen / 4);
	g[1] = 0;
	g[2] = family == AF_INET ? 0x08 : 0x86;
	g[3] = family == AF_INET ? 0x00 : 0xdd;
	g[4] = 0;
	g[5] = 0;
	g[6] = 2;
	g[7] = 0;
	sc_opt(g + 8, d.family, flags, prev, prev ? 80 : 0);
	pkt_bytes(w, g, 8 + olen);
	pkt_append(w, in, (size_t)l3, in->len - (size_t)l3);
	pkt_finish(w);
}

/*
 * The expected packet of a Geneve service: Cilium's format (C flag,
 * protocol 0x6558, the DSR option with VIP and port, inner Ethernet, the
 * inner packet translated to backend:8443) with lbd's option after the
 * DSR option, naming the previous owner and its port.
 */
static void want_gnvsc(struct pkt *w, const char *client, uint16_t cport,
		       const char *vip, uint16_t vport, const char *backend,
		       uint8_t tcp_flags, uint8_t flags, const char *prev)
{
	struct pkt_addr c = pkt_ip(client), b = pkt_ip(backend),
			v = pkt_ip(vip);
	uint32_t h = test_flow_hash(client, cport, vport, IPPROTO_TCP);
	size_t dsr = c.family == AF_INET ? 8 : 20;
	size_t olen = c.family == AF_INET ? 12 : 24;
	uint8_t g[8 + 24 + 24];

	pkt_init(w);
	dpt_eth_out(w);
	if (c.family == AF_INET) {
		pkt_ipv4(w, pkt_ip(ENCAP4), b, NULL);
	} else {
		struct pkt_ipv6_opts o = { .flowlabel = h & 0xfffff };

		pkt_ipv6(w, pkt_ip(ENCAP6), b, &o);
	}
	pkt_udp(w, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	memset(g, 0, sizeof(g));
	g[0] = (uint8_t)((4 + dsr + olen) / 4);
	g[1] = 0x40;
	g[2] = 0x65;
	g[3] = 0x58;
	g[6] = 2;
	g[8] = 0x01;
	g[9] = 0x4b;
	g[10] = 0x81;
	g[11] = (uint8_t)(dsr / 4);
	if (c.family == AF_INET) {
		memcpy(g + 12, &v.v4, 4);
		g[16] = (uint8_t)(vport >> 8);
		g[17] = (uint8_t)vport;
	} else {
		memcpy(g + 12, &v.v6, 16);
		g[28] = (uint8_t)(vport >> 8);
		g[29] = (uint8_t)vport;
	}
	sc_opt(g + 12 + dsr, c.family, flags, prev, prev ? 8443 : 0);
	pkt_bytes(w, g, 12 + dsr + olen);
	pkt_eth(w, MAC_ROUTER, MAC_LB);
	pkt_ip_hdr(w, c, b);
	pkt_tcp(w, cport, 8443, tcp_flags, 1000,
		tcp_flags & PKT_TCP_ACK ? 2000 : 0);
	pkt_bytes(w, "hello", 5);
	pkt_finish(w);
}

static const char *client_of(int family)
{
	return family == AF_INET ? CLIENT4 : CLIENT6;
}

static const char *vip_of(int family)
{
	return family == AF_INET ? VIP4 : VIP6;
}

/* Sends an ACK of the flow and checks the whole output packet. */
static void check_ack(int family, bool geneve, uint16_t cport,
		      const char *owner, uint8_t flags, const char *prev)
{
	struct pkt in, want;
	uint16_t sport = geneve ? 443 : 80;

	tcp_in(&in, client_of(family), vip_of(family), cport, sport,
	       PKT_TCP_ACK);
	if (geneve)
		want_gnvsc(&want, client_of(family), cport, vip_of(family),
			   sport, owner, PKT_TCP_ACK, flags, prev);
	else
		want_ipsc(&want, &in, family, client_of(family), cport, sport,
			  owner, flags, prev);
	dpt_check(&t, &in, XDP_TX, &want);
}

static const int families[2] = { AF_INET, AF_INET6 };

Test(flow_backends, ack_goes_to_the_slot_owner_and_leaves_no_state)
{
	int f, g, owner;
	uint16_t p = 40000;

	dpt_setup(&t, conf(2, NULL));
	for (f = 0; f < 2; f++)
		for (g = 0; g < 2; g++) {
			int fam = families[f];

			owner = model_owner(fam, 2, NULL, g ? 8443 : 80,
					    client_of(fam), p, g ? 443 : 80);
			check_ack(fam, g, p, be_addr(fam, owner), 0, NULL);
		}
	cr_assert_eq(ct_entries(DP_MAP_CT4), 0, "no conntrack entry");
	cr_assert_eq(ct_entries(DP_MAP_CT6), 0, "no conntrack entry");
	cr_assert_eq(dpt_reason(&t, LBD_EV_FWD_STATELESS), 4);
}

Test(flow_backends, syn_is_forwarded_as_an_established_segment)
{
	struct pkt in, want;
	int owner = model_owner(AF_INET, 2, NULL, 8443, CLIENT4, 40001, 443);

	dpt_setup(&t, conf(2, NULL));
	tcp_in(&in, CLIENT4, VIP4, 40001, 443, PKT_TCP_SYN);
	want_gnvsc(&want, CLIENT4, 40001, VIP4, 443, be_addr(AF_INET, owner),
		   PKT_TCP_SYN, 0, NULL);
	dpt_check(&t, &in, XDP_TX, &want);
	cr_assert_eq(ct_entries(DP_MAP_CT4), 0);
	cr_assert_eq(dpt_reason(&t, LBD_EV_SYN_STATELESS), 0);
	cr_assert_eq(dpt_reason(&t, LBD_EV_NEW_FLOW), 0, "no entry made");
}

/* A client port whose slot moves from backend from to backend to when
 * the set of backends changes from (n0, s0) to (n1, s1). */
static uint16_t moved_port(int fam, bool geneve, int n0,
			   const char *const *s0, int n1,
			   const char *const *s1, int from, int to)
{
	uint16_t p, bport = geneve ? 8443 : 80, sport = geneve ? 443 : 80;

	for (p = 20000; p < 60000; p++)
		if (model_owner(fam, n0, s0, bport, client_of(fam), p, sport) ==
			    from &&
		    model_owner(fam, n1, s1, bport, client_of(fam), p, sport) ==
			    to)
			return p;
	cr_assert_fail("no port moves from %d to %d", from, to);
	return 0;
}

Test(flow_backends, a_new_backend_takes_slots_and_names_their_old_owner)
{
	uint16_t p[2][2], q[2][2];
	int f, g;

	dpt_setup(&t, conf(2, NULL));
	for (f = 0; f < 2; f++)
		for (g = 0; g < 2; g++) {
			p[f][g] = moved_port(families[f], g, 2, NULL, 3, NULL,
					     1, 2);
			/* and one whose slot stays */
			q[f][g] = moved_port(families[f], g, 2, NULL, 3, NULL,
					     0, 0);
		}
	dpt_reload(&t, conf(3, NULL));
	for (f = 0; f < 2; f++)
		for (g = 0; g < 2; g++) {
			int fam = families[f];

			check_ack(fam, g, p[f][g], be_addr(fam, 2),
				  LBD_SC_F_PREV, be_addr(fam, 1));
			check_ack(fam, g, q[f][g], be_addr(fam, 0), 0, NULL);
		}
}

Test(flow_backends, previous_owner_stays_through_a_later_change)
{
	static const char *const d0[3] = { "active", "active", "draining" };
	uint16_t p;

	/* .13 takes a slot from .12; then .13 is drained and the slot goes
	 * back to .12: whose previous owner is .13, not .12 itself */
	dpt_setup(&t, conf(2, NULL));
	p = moved_port(AF_INET, false, 2, NULL, 3, NULL, 1, 2);
	dpt_reload(&t, conf(3, NULL));
	check_ack(AF_INET, false, p, be_addr(AF_INET, 2), LBD_SC_F_PREV,
		  be_addr(AF_INET, 1));
	dpt_reload(&t, conf(3, d0));
	check_ack(AF_INET, false, p, be_addr(AF_INET, 1), LBD_SC_F_PREV,
		  be_addr(AF_INET, 2));
}

Test(flow_backends, drained_then_removed_backend_stops_being_named)
{
	static const char *const d1[2] = { "active", "draining" };
	uint16_t p;
	int f;

	dpt_setup(&t, conf(2, NULL));
	for (f = 0; f < 2; f++) {
		int fam = families[f];

		p = moved_port(fam, true, 2, NULL, 2, d1, 1, 0);
		dpt_reload(&t, conf(2, d1));
		/* drained: its slots go to .11, which passes its flows on */
		check_ack(fam, true, p, be_addr(fam, 0), LBD_SC_F_PREV,
			  be_addr(fam, 1));
		dpt_reload(&t, conf(1, NULL));
		/* removed: nobody to pass to */
		check_ack(fam, true, p, be_addr(fam, 0), 0, NULL);
		dpt_reload(&t, conf(2, NULL));
	}
}

Test(flow_backends, udp_without_conntrack_goes_to_the_slot_owner)
{
	struct pkt in;
	int i;

	dpt_setup(&t, conf(2, NULL));
	for (i = 0; i < 50; i++) {
		udp_in(&in, CLIENT4, VIP4, (uint16_t)(5000 + i), 53);
		dpt_check(&t, &in, XDP_TX, NULL);
	}
	cr_assert_eq(ct_entries(DP_MAP_CT4), 0);
	cr_assert_eq(dpt_reason(&t, LBD_EV_FWD_STATELESS), 50);
}
