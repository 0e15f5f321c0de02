// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backend selection: Maglev for new flows (checked against the userspace
 * model), conntrack stickiness across table changes, backend states, SYN
 * reselection, RST, and UDP idle expiry.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <stdlib.h>

#include "flows.h"
#include "maglev.h"

static struct dpt t;

#define SVC_HEAD                                                              \
	DATAPATH_CONF "services = ( { name = \"web\"; vip = \"" VIP4 "\"; "    \
		      "port = 80; protocol = \"%s\"; forwarding = \"ipip\"; "  \
		      "backends = ( "
#define SVC_TAIL " ); } );\n"

/* A config with backends 198.18.1.(11+i) for i < n, with the states and
 * weights given (NULL: all active, weight 1). */
static const char *conf(const char *proto, int n, const char *const *states,
			const int *weights)
{
	static char buf[4096];
	size_t off;
	int i;

	off = (size_t)snprintf(buf, sizeof(buf), SVC_HEAD, proto);
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s{ address = \"198.18.1.%d\"; "
					"weight = %d; state = \"%s\"; }",
					i ? ", " : "", 11 + i,
					weights ? weights[i] : 1,
					states ? states[i] : "active");
	snprintf(buf + off, sizeof(buf) - off, SVC_TAIL);
	return buf;
}

static void teardown(void)
{
	dpt_teardown(&t);
}

TestSuite(conntrack, .fini = teardown);

/* The model: which of backends 198.18.1.(11+i) Maglev gives a flow. */
static int model_pick(int n, const int *weights, const char *const *states,
		      uint32_t m, const char *client, uint16_t cport,
		      uint8_t proto)
{
	struct maglev_backend b[32];
	uint32_t *table = malloc(m * sizeof(*table));
	int i, k = 0, pick;

	cr_assert_not_null(table);
	for (i = 0; i < n; i++) {
		char a[32];

		if (states && strcmp(states[i], "active"))
			continue;
		snprintf(a, sizeof(a), "198.18.1.%d", 11 + i);
		memset(&b[k], 0, sizeof(b[k]));
		b[k].family = LBD_AF_INET;
		b[k].addr.v4 = pkt_ip(a).v4.s_addr;
		b[k].port = htons(80);
		b[k].weight = weights ? (uint32_t)weights[i] : 1;
		b[k].id = (uint32_t)i;
		k++;
	}
	cr_assert_eq(maglev_build(b, (size_t)k, m, SEED, table), 0);
	pick = (int)table[test_flow_hash(client, cport, 80, proto) % m];
	free(table);
	return pick;
}

/* Index i of backend 198.18.1.(11+i) a packet went to, or -1. */
static int sent_to(const struct pkt *in)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	char a[64];
	int act = dpt_run(&t, in, out, &len);

	if (act != XDP_TX || !dpt_backend_of(out, len, a, sizeof(a)))
		return -1;
	return atoi(strrchr(a, '.') + 1) - 11;
}

static int tcp_to(uint16_t cport, uint8_t flags)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, cport, 80, flags);
	return sent_to(&in);
}

/* Opens the flow as a client does, SYN then the handshake's ACK (which
 * makes its entry): the backend both went to. */
static int tcp_open(uint16_t cport)
{
	int syn = tcp_to(cport, PKT_TCP_SYN);

	cr_assert_eq(tcp_to(cport, PKT_TCP_ACK), syn,
		     "the handshake's packets go to one backend");
	return syn;
}

/* A client port whose new flow Maglev sends to backend want (model). */
static uint16_t port_for(int n, const int *w, const char *const *st,
			 int want)
{
	uint16_t p;

	for (p = 20000; p < 60000; p++)
		if (model_pick(n, w, st, 251, CLIENT4, p, IPPROTO_TCP) == want)
			return p;
	cr_assert_fail("no port maps to backend %d", want);
	return 0;
}

Test(conntrack, program_agrees_with_maglev_model_for_10000_flows)
{
	static const int w[7] = { 1, 1, 2, 1, 3, 1, 1 };
	struct maglev_backend b[7];
	uint32_t m = 65537, *table = malloc(m * sizeof(*table));
	int i, k, mismatches = 0;
	char cfg[4096];
	size_t off;

	off = (size_t)snprintf(cfg, sizeof(cfg),
			       "datapath = { interface = \"lb0\"; "
			       "encap_source_v4 = \"" ENCAP4 "\"; "
			       "maglev_table_size = 65537; hash_seed = 0x5eed; "
			       "};\nservices = ( { vip = \"" VIP4 "\"; port = "
			       "80; protocol = \"%s\"; backends = ( ",
			       "udp");
	for (i = 0; i < 7; i++)
		off += (size_t)snprintf(cfg + off, sizeof(cfg) - off,
					"%s{ address = \"198.18.1.%d\"; "
					"weight = %d; }",
					i ? ", " : "", 11 + i, w[i]);
	snprintf(cfg + off, sizeof(cfg) - off, SVC_TAIL);
	dpt_setup(&t, cfg);

	for (i = 0; i < 7; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.18.1.%d", 11 + i);
		memset(&b[i], 0, sizeof(b[i]));
		b[i].family = LBD_AF_INET;
		b[i].addr.v4 = pkt_ip(a).v4.s_addr;
		b[i].port = htons(80);
		b[i].weight = (uint32_t)w[i];
		b[i].id = (uint32_t)i;
	}
	cr_assert_eq(maglev_build(b, 7, m, SEED, table), 0);

	srand(42);
	for (k = 0; k < 10000; k++) {
		struct pkt in;
		char client[32];
		uint16_t cport = (uint16_t)(1024 + rand() % 64000);
		uint32_t h;
		int got, want;

		snprintf(client, sizeof(client), "10.%d.%d.%d", rand() % 256,
			 rand() % 256, 1 + rand() % 254);
		udp_in(&in, client, VIP4, cport, 80);
		h = test_flow_hash(client, cport, 80, IPPROTO_UDP);
		want = (int)table[h % m];
		got = sent_to(&in);
		if (got != want)
			mismatches++;
	}
	free(table);
	cr_assert_eq(mismatches, 0, "%d of 10000 flows disagree", mismatches);
}

Test(conntrack, established_flow_keeps_backend_when_table_changes)
{
	uint16_t p;
	int before;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	/* a flow that a third backend would take over */
	for (p = 20000; p < 60000; p++)
		if (model_pick(3, NULL, NULL, 251, CLIENT4, p, IPPROTO_TCP) ==
		    2)
			break;
	before = tcp_open(p);
	cr_assert(before == 0 || before == 1);
	dpt_reload(&t, conf("tcp", 3, NULL, NULL));
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), before, "ACK follows conntrack");
	cr_assert_eq(tcp_to(p, PKT_TCP_SYN), before,
		     "a SYN on an active backend's entry keeps it");
}

Test(conntrack, new_flows_follow_the_new_table)
{
	uint16_t p;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	dpt_reload(&t, conf("tcp", 3, NULL, NULL));
	p = port_for(3, NULL, NULL, 2);
	cr_assert_eq(tcp_to(p, PKT_TCP_SYN), 2);
}

Test(conntrack, draining_backend_keeps_flows_takes_no_new_ones)
{
	static const char *const drain0[2] = { "draining", "active" };
	uint16_t p, q;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	p = port_for(2, NULL, NULL, 0);
	cr_assert_eq(tcp_open(p), 0);
	dpt_reload(&t, conf("tcp", 2, drain0, NULL));
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), 0, "existing flow stays");
	/* a new flow that used to map to backend 0 */
	q = (uint16_t)(p + 1);
	while (model_pick(2, NULL, NULL, 251, CLIENT4, q, IPPROTO_TCP) != 0)
		q++;
	cr_assert_eq(tcp_to(q, PKT_TCP_SYN), 1, "no new flow to draining");
	/* a SYN reusing the draining flow's tuple selects again */
	cr_assert_eq(tcp_to(p, PKT_TCP_SYN), 1);
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), 1, "and sticks to the new one");
	cr_assert_eq(dpt_reason(&t, LBD_EV_RESELECT), 1);
}

Test(conntrack, down_backend_flows_select_again)
{
	static const char *const down0[2] = { "down", "active" };
	uint16_t p;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	p = port_for(2, NULL, NULL, 0);
	cr_assert_eq(tcp_open(p), 0);
	dpt_reload(&t, conf("tcp", 2, down0, NULL));
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), 1);
}

Test(conntrack, removed_backend_flows_select_again)
{
	uint16_t p;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	p = port_for(2, NULL, NULL, 1);
	cr_assert_eq(tcp_open(p), 1);
	dpt_reload(&t, conf("tcp", 1, NULL, NULL));
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), 0);
}

Test(conntrack, reused_backend_id_does_not_inherit_flows)
{
	uint16_t p;
	char cfg[1024];

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	p = port_for(2, NULL, NULL, 1);
	cr_assert_eq(tcp_open(p), 1);
	/* 198.18.1.12 leaves; its id goes to a new backend .99 */
	dpt_reload(&t, conf("tcp", 1, NULL, NULL));
	snprintf(cfg, sizeof(cfg),
		 SVC_HEAD "{ address = \"198.18.1.11\"; }, "
			  "{ address = \"198.18.1.99\"; }" SVC_TAIL,
		 "tcp");
	dpt_reload(&t, cfg);
	/* the old entry names the id with the old generation: stale, so
	 * the flow goes where Maglev sends it now */
	{
		struct pkt in;
		uint8_t out[PKT_MAX];
		size_t len = sizeof(out);
		char a[64];

		tcp_in(&in, CLIENT4, VIP4, p, 80, PKT_TCP_ACK);
		cr_assert_eq(dpt_run(&t, &in, out, &len), XDP_TX);
		dpt_backend_of(out, len, a, sizeof(a));
		cr_assert_eq(dpt_reason(&t, LBD_EV_RESELECT), 1, "%s", a);
	}
}

static size_t ct_entries(void)
{
	int fd = dp_map_fd(t.dp, DP_MAP_CT4);
	struct lbd_ct_key4 k, next;
	void *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

Test(conntrack, rst_never_creates_an_entry)
{
	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	cr_assert_geq(tcp_to(40000, PKT_TCP_RST), 0, "RST is forwarded");
	cr_assert_eq(ct_entries(), 0);
	cr_assert_geq(tcp_to(40000, PKT_TCP_SYN), 0);
	cr_assert_eq(ct_entries(), 0, "nor does a SYN");
	cr_assert_geq(tcp_to(40000, PKT_TCP_ACK), 0);
	cr_assert_eq(ct_entries(), 1, "the handshake's ACK does");
}

Test(conntrack, syn_flood_makes_no_entry_and_spares_established_flows)
{
	uint16_t p, q;
	int be;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	p = port_for(2, NULL, NULL, 1);
	be = tcp_open(p);
	cr_assert_eq(ct_entries(), 1);
	for (q = 1024; q < 1024 + 2000; q++)
		if (q != p)
			cr_assert_geq(tcp_to(q, PKT_TCP_SYN), 0);
	cr_assert_eq(ct_entries(), 1, "SYNs left no state");
	cr_assert_eq(dpt_reason(&t, LBD_EV_SYN_STATELESS), 2000 - (p >= 1024 &&
								  p < 3024) + 1);
	/* a change of the table that would move the flow does not */
	dpt_reload(&t, conf("tcp", 3, NULL, NULL));
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), be, "the entry survived");
}

Test(conntrack, syn_reusing_a_draining_entry_takes_it_over)
{
	static const char *const drain0[2] = { "draining", "active" };
	uint16_t p;

	dpt_setup(&t, conf("tcp", 2, NULL, NULL));
	p = port_for(2, NULL, NULL, 0);
	cr_assert_eq(tcp_open(p), 0);
	dpt_reload(&t, conf("tcp", 2, drain0, NULL));
	/* the 4-tuple is reused for a new connection: its SYN goes
	 * elsewhere, and so must its ACK */
	cr_assert_eq(tcp_to(p, PKT_TCP_SYN), 1);
	cr_assert_eq(tcp_to(p, PKT_TCP_ACK), 1);
}

/* Moves the flow's entry back in time by secs, as idleness would. */
static void age_entry(uint16_t cport, uint8_t proto, uint32_t secs)
{
	int fd = dp_map_fd(t.dp, DP_MAP_CT4);
	struct lbd_ct_key4 k = { 0 };
	struct lbd_ct v;

	k.saddr = pkt_ip(CLIENT4).v4.s_addr;
	k.daddr = pkt_ip(VIP4).v4.s_addr;
	k.sport = htons(cport);
	k.dport = htons(80);
	k.proto = proto;
	cr_assert_eq(bpf_map_lookup_elem(fd, &k, &v), 0, "entry exists");
	v.last_seen -= secs;
	cr_assert_eq(bpf_map_update_elem(fd, &k, &v, BPF_EXIST), 0);
}

static int udp_to(uint16_t cport)
{
	struct pkt in;

	udp_in(&in, CLIENT4, VIP4, cport, 80);
	return sent_to(&in);
}

/* A UDP flow on one of 2 backends whose port a third backend would take:
 * after the reload to 3 backends, only its entry keeps it where it is.
 * Returns the client port. */
static uint16_t udp_flow_a_third_backend_wants(void)
{
	static const char *const states3[3] = { "active", "active",
						"active" };
	uint16_t p;

	dpt_setup(&t, conf("udp", 2, NULL, NULL));
	for (p = 20000; p < 60000; p++)
		if (model_pick(3, NULL, states3, 251, CLIENT4, p,
			       IPPROTO_UDP) == 2)
			break;
	cr_assert_neq(udp_to(p), 2);
	dpt_reload(&t, conf("udp", 3, NULL, NULL));
	return p;
}

Test(conntrack, udp_flow_expires_after_idle_timeout)
{
	uint16_t p = udp_flow_a_third_backend_wants();

	/* 59 s idle: within the default 60 s, the flow stays */
	age_entry(p, IPPROTO_UDP, 59);
	cr_assert_neq(udp_to(p), 2);
	/* the packet refreshed it; now idle for 61 s */
	age_entry(p, IPPROTO_UDP, 61);
	cr_assert_eq(udp_to(p), 2, "expired entry selects again");
}

/* Each CPU reads the clock at its own moment: an entry another CPU
 * stamped a second ahead of this one's now is fresh, not four billion
 * seconds old. */
Test(conntrack, entry_stamped_ahead_by_another_cpu_is_fresh)
{
	uint16_t p = udp_flow_a_third_backend_wants();

	age_entry(p, IPPROTO_UDP, (uint32_t)-2); /* 2 s ahead */
	cr_assert_neq(udp_to(p), 2, "the flow keeps its backend");
}

Test(conntrack, no_usable_backend_drops_when_configured)
{
	static const char *const draining[1] = { "draining" };
	struct pkt in;
	char cfg[1024];

	snprintf(cfg, sizeof(cfg),
		 DATAPATH_CONF "services = ( { vip = \"" VIP4 "\"; port = 80; "
			       "no_backend = \"drop\"; backends = ( { address "
			       "= \"198.18.1.11\"; state = \"%s\"; } ); } );\n",
		 draining[0]);
	dpt_setup(&t, cfg);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_BACKEND), 1);
}

Test(conntrack, service_without_backends_drops)
{
	struct pkt in;

	dpt_setup(&t, DATAPATH_CONF "services = ( { vip = \"" VIP6 "\"; "
				    "port = 80; no_backend = \"drop\"; } );\n");
	tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_BACKEND), 1);
}
