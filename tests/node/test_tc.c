// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node role's tc path (bpf/node/tc.bpf.c), byte for byte with
 * BPF_PROG_TEST_RUN: Services and endpoints are written with the same
 * code lbd uses (lbd/dp/node.h), the programs loaded on those maps as lbd
 * loads them (lbd/dp/node_tc.h), and every expected packet is built
 * independently with the packet builder (tests/lib/pkt.h).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"
#include "node_tc.h"
#include "pkt.h"

/* A pod (the client), Service addresses (on no interface) and endpoints
 * (other pods). */
#define TC_POD4 "198.18.1.5"
#define TC_POD6 "2001:db8:1::5"
#define TC_SVC4 "198.19.0.10"
#define TC_SVC6 "2001:db8:96::10"
#define TC_EP4_A "198.18.2.1"
#define TC_EP4_B "198.18.2.2"
#define TC_EP4_C "198.18.2.3"
#define TC_EP4_D "198.18.2.4"
#define TC_EP6_A "2001:db8:2::1"

static struct lbd_node *tn;
static struct node_tc *tt;

static const uint8_t mac_pod[6] = { 0x02, 0, 0, 0, 0, 0x05 };
static const uint8_t mac_host[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static void tc_setup(void)
{
	struct node_tc_opts to = { .nat_entries = 4096, .hash_seed = 7 };
	struct node_opts o;
	int err;

	node_opts_default(&o);
	o.max_services = 64;
	o.max_addrs = 64;
	o.max_backends = 256;
	o.rev_entries = 1024;
	o.affinity_entries = 1024;
	o.hash_seed = 7;
	err = node_open(&o, &tn);
	cr_assert_eq(err, 0, "node_open: %s", strerror(-err));
	err = node_tc_open(tn, &to, &tt);
	cr_assert_eq(err, 0, "node_tc_open: %s", strerror(-err));
}

static void tc_teardown(void)
{
	node_tc_close(tt);
	node_close(tn);
	tt = NULL;
	tn = NULL;
}

TestSuite(node_tc, .init = tc_setup, .fini = tc_teardown);

static void svc_set(const char *ip, int port, int proto, __u32 id, __u32 flags)
{
	struct node_svc_addr a = nt_svc(ip, port, proto);
	int err = node_service_set(tn, &a, id, flags, 10800);

	cr_assert_eq(err, 0, "node_service_set: %s", strerror(-err));
}

static void eps_set(__u32 id, const struct node_endpoint *eps, size_t n)
{
	int err = node_backends_set(tn, id, eps, n);

	cr_assert_eq(err, 0, "node_backends_set: %s", strerror(-err));
}

/* Ethernet, IP, then TCP (flags) or UDP with 8 bytes of payload. */
static void build(struct pkt *p, const char *src, int sport, const char *dst,
		  int dport, int proto, uint8_t flags)
{
	static const char payload[8] = "lbd-node";

	pkt_init(p);
	pkt_eth(p, mac_host, mac_pod);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	if (proto == IPPROTO_TCP)
		pkt_tcp(p, sport, dport, flags, 1000,
			flags & PKT_TCP_ACK ? 1 : 0);
	else
		pkt_udp(p, sport, dport, false);
	pkt_bytes(p, payload, sizeof(payload));
	pkt_finish(p);
}

/* Runs a program on p; the verdict, the output in out/out_len. */
static int run(bool ingress, const struct pkt *p, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf,
		    .data_size_in = (__u32)p->len, .data_out = out,
		    .data_size_out = (__u32)*out_len, .repeat = 1);
	int err = bpf_prog_test_run_opts(node_tc_prog_fd(tt, ingress), &o);

	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN: %s", strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

/* Runs p through a program and expects the verdict and, passed, the
 * packet want byte for byte. */
static void expect(bool ingress, const struct pkt *p, int verdict,
		   const struct pkt *want)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	int r = run(ingress, p, out, &len);

	cr_assert_eq(r, verdict, "verdict %d, expected %d", r, verdict);
	if (verdict != TC_ACT_OK)
		return;
	if (len != want->len || memcmp(out, want->buf, len)) {
		pkt_diff(stderr, out, len, want->buf, want->len);
		cr_assert_fail("the packet is not the one expected");
	}
}

static __u64 counter(enum lbd_node_tc_reason r)
{
	__u64 c[LBD_NODE_TC_REASON_MAX];

	cr_assert_eq(node_tc_reasons_read(tt, c), 0);
	return c[r];
}

static void one_endpoint4(int proto, const char *ep, int port)
{
	struct node_endpoint e = nt_ep(ep, port, 1, true, true, false);

	svc_set(TC_SVC4, proto == IPPROTO_TCP ? 80 : 53, proto, 1, 0);
	eps_set(1, &e, 1);
}

Test(node_tc, tcp4_syn_to_a_service_goes_to_its_endpoint)
{
	struct pkt in, want;

	one_endpoint4(IPPROTO_TCP, TC_EP4_A, 8080);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&want, TC_POD4, 40000, TC_EP4_A, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 1);
	cr_expect_eq(counter(LBD_NODE_TC_FORWARD), 1);
}

Test(node_tc, tcp4_reply_gets_the_service_source_both_hooks)
{
	struct pkt in, reply, want;

	one_endpoint4(IPPROTO_TCP, TC_EP4_A, 8080);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&want, TC_POD4, 40000, TC_EP4_A, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &want);
	build(&reply, TC_EP4_A, 8080, TC_POD4, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	build(&want, TC_SVC4, 80, TC_POD4, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	/* to the client pod (egress of its interface) */
	expect(false, &reply, TC_ACT_OK, &want);
	/* from an endpoint pod (ingress of its interface) */
	expect(true, &reply, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_REPLY), 2);
	/* a reply already translated is no reply of a flow: untouched */
	expect(false, &want, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_REPLY), 2);
}

Test(node_tc, udp4_both_ways)
{
	struct pkt in, want, reply;

	one_endpoint4(IPPROTO_UDP, TC_EP4_B, 5353);
	build(&in, TC_POD4, 33333, TC_SVC4, 53, IPPROTO_UDP, 0);
	build(&want, TC_POD4, 33333, TC_EP4_B, 5353, IPPROTO_UDP, 0);
	expect(true, &in, TC_ACT_OK, &want);
	build(&reply, TC_EP4_B, 5353, TC_POD4, 33333, IPPROTO_UDP, 0);
	build(&want, TC_SVC4, 53, TC_POD4, 33333, IPPROTO_UDP, 0);
	expect(false, &reply, TC_ACT_OK, &want);
}

Test(node_tc, ipv6_tcp_and_udp_both_ways)
{
	struct node_endpoint e = nt_ep(TC_EP6_A, 8080, 1, true, true, false);
	struct pkt in, want, reply;
	int proto, i;

	for (i = 0; i < 2; i++) {
		proto = i ? IPPROTO_UDP : IPPROTO_TCP;
		svc_set(TC_SVC6, 80, proto, 2 + i, 0);
		eps_set(2 + i, &e, 1);
		build(&in, TC_POD6, 40000, TC_SVC6, 80, proto, PKT_TCP_SYN);
		build(&want, TC_POD6, 40000, TC_EP6_A, 8080, proto,
		      PKT_TCP_SYN);
		expect(true, &in, TC_ACT_OK, &want);
		build(&reply, TC_EP6_A, 8080, TC_POD6, 40000, proto,
		      PKT_TCP_SYN | PKT_TCP_ACK);
		build(&want, TC_SVC6, 80, TC_POD6, 40000, proto,
		      PKT_TCP_SYN | PKT_TCP_ACK);
		expect(false, &reply, TC_ACT_OK, &want);
	}
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 2);
	cr_expect_eq(counter(LBD_NODE_TC_REPLY), 2);
}

/* The endpoint a packet went to: the last byte of its IPv4 destination
 * (the endpoints here differ there). */
static uint8_t sent_to(const struct pkt *in)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	long ip = pkt_off(in, PKT_IPV4, 0);

	cr_assert_eq(run(true, in, out, &len), TC_ACT_OK);
	return out[ip + 19];
}

Test(node_tc, later_packets_of_a_flow_keep_their_endpoint)
{
	struct node_endpoint e[4] = {
		nt_ep(TC_EP4_A, 8080, 1, true, true, false),
		nt_ep(TC_EP4_B, 8080, 1, true, true, false),
		nt_ep(TC_EP4_C, 8080, 1, true, true, false),
		nt_ep(TC_EP4_D, 8080, 1, true, true, false),
	};
	uint8_t first[32];
	struct pkt in;
	int i, moved = 0;

	svc_set(TC_SVC4, 80, IPPROTO_TCP, 1, 0);
	eps_set(1, e, 2);
	for (i = 0; i < 32; i++) {
		build(&in, TC_POD4, 40000 + i, TC_SVC4, 80, IPPROTO_TCP,
		      PKT_TCP_SYN);
		first[i] = sent_to(&in);
	}
	/* twice the endpoints: Maglev gives about half the slots to the
	 * new ones, so without the flows' entries many flows would move */
	eps_set(1, e, 4);
	for (i = 0; i < 32; i++) {
		build(&in, TC_POD4, 40000 + i, TC_SVC4, 80, IPPROTO_TCP,
		      PKT_TCP_ACK);
		cr_expect_eq(sent_to(&in), first[i], "flow %d moved", i);
	}
	/* and a new flow of the same ports, once the entries are gone,
	 * would have: the test can tell */
	for (i = 0; i < 32; i++) {
		struct lbd_node_nat_key k = {
			.sport = htons(40000 + i),
			.dport = htons(80),
			.proto = IPPROTO_TCP,
			.family = LBD_AF_INET,
			.dir = LBD_NODE_NAT_FWD,
		};

		inet_pton(AF_INET, TC_POD4, &k.saddr.v4);
		inet_pton(AF_INET, TC_SVC4, &k.daddr.v4);
		cr_assert_eq(bpf_map_delete_elem(node_tc_nat_fd(tt), &k), 0);
		build(&in, TC_POD4, 40000 + i, TC_SVC4, 80, IPPROTO_TCP,
		      PKT_TCP_ACK);
		moved += sent_to(&in) != first[i];
	}
	cr_expect_gt(moved, 0, "no flow would have moved: a weak test");
}

Test(node_tc, a_flow_whose_endpoint_left_is_sent_to_another)
{
	struct node_endpoint a = nt_ep(TC_EP4_A, 8080, 1, true, true, false);
	struct node_endpoint b = nt_ep(TC_EP4_B, 8080, 1, true, true, false);
	struct pkt in, want;

	svc_set(TC_SVC4, 80, IPPROTO_TCP, 1, 0);
	eps_set(1, &a, 1);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&want, TC_POD4, 40000, TC_EP4_A, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &want);
	eps_set(1, &b, 1);
	build(&want, TC_POD4, 40000, TC_EP4_B, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_ENDPOINT_GONE), 1);
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 2);
}

/* A rolling update: a terminating endpoint (serving, not ready) leaves
 * the table while ready ones are left, but the flows the tc path sent it
 * keep it; new flows go to the ready one; once it stops serving its
 * flows are sent to another. */
Test(node_tc, a_terminating_endpoint_keeps_its_flows_new_ones_go_to_ready)
{
	struct node_endpoint a = nt_ep(TC_EP4_A, 8080, 1, true, true, false);
	struct node_endpoint ab[2] = {
		nt_ep(TC_EP4_A, 8080, 1, false, true, true),
		nt_ep(TC_EP4_B, 8080, 1, true, true, false),
	};
	struct pkt in, want;
	__u64 gone;

	svc_set(TC_SVC4, 80, IPPROTO_TCP, 1, 0);
	eps_set(1, &a, 1);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&want, TC_POD4, 40000, TC_EP4_A, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &want);
	gone = counter(LBD_NODE_TC_ENDPOINT_GONE);
	eps_set(1, ab, 2);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_ACK);
	build(&want, TC_POD4, 40000, TC_EP4_A, 8080, IPPROTO_TCP, PKT_TCP_ACK);
	expect(true, &in, TC_ACT_OK, &want);
	cr_assert_eq(counter(LBD_NODE_TC_ENDPOINT_GONE), gone);
	build(&in, TC_POD4, 40001, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&want, TC_POD4, 40001, TC_EP4_B, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &want);
	/* it stops serving: gone */
	eps_set(1, &ab[1], 1);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_ACK);
	build(&want, TC_POD4, 40000, TC_EP4_B, 8080, IPPROTO_TCP, PKT_TCP_ACK);
	expect(true, &in, TC_ACT_OK, &want);
	cr_assert_eq(counter(LBD_NODE_TC_ENDPOINT_GONE), gone + 1);
}

Test(node_tc, what_is_not_a_services_passes_untouched)
{
	struct pkt in;

	one_endpoint4(IPPROTO_TCP, TC_EP4_A, 8080);
	/* another address, another port, another protocol */
	build(&in, TC_POD4, 40000, TC_EP4_C, 80, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &in);
	expect(false, &in, TC_ACT_OK, &in);
	build(&in, TC_POD4, 40000, TC_SVC4, 81, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &in);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_UDP, 0);
	expect(true, &in, TC_ACT_OK, &in);
	pkt_init(&in);
	pkt_eth(&in, mac_host, mac_pod);
	pkt_ip_hdr(&in, pkt_ip(TC_POD4), pkt_ip(TC_SVC4));
	pkt_icmp4(&in, 8, 0, 0x12340001);
	pkt_finish(&in);
	expect(true, &in, TC_ACT_OK, &in);
	/* not IP (ARP's ethertype, a request's bytes) */
	pkt_init(&in);
	pkt_eth(&in, mac_host, mac_pod);
	pkt_next(&in, 0x0806);
	pkt_bytes(&in, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	pkt_finish(&in);
	expect(true, &in, TC_ACT_OK, &in);
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 0);
	cr_expect_eq(counter(LBD_NODE_TC_REPLY), 0);
}

Test(node_tc, a_malformed_packet_to_a_service_is_dropped_and_counted)
{
	static const uint8_t cut[10] = { 0x9c, 0x40, 0, 80 }; /* 40000, 80 */
	struct pkt in;
	long l4;

	one_endpoint4(IPPROTO_TCP, TC_EP4_A, 8080);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	l4 = pkt_off(&in, PKT_TCP, 0);
	in.buf[l4 + 12] = 4 << 4; /* data offset 4 words: less than a header */
	expect(true, &in, TC_ACT_SHOT, NULL);
	cr_expect_eq(counter(LBD_NODE_TC_MALFORMED), 1);
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 0);
	/* the same to an address that is no Service's is the kernel's */
	build(&in, TC_POD4, 40000, TC_EP4_C, 80, IPPROTO_TCP, PKT_TCP_SYN);
	in.buf[l4 + 12] = 4 << 4;
	expect(true, &in, TC_ACT_OK, &in);
	cr_expect_eq(counter(LBD_NODE_TC_MALFORMED), 1);
	/* cut short: the IP packet ends 10 bytes into the TCP header (its
	 * ports, then 6 of 20 bytes) */
	pkt_init(&in);
	pkt_eth(&in, mac_host, mac_pod);
	pkt_ip_hdr(&in, pkt_ip(TC_POD4), pkt_ip(TC_SVC4));
	pkt_next(&in, IPPROTO_TCP);
	pkt_bytes(&in, cut, sizeof(cut));
	pkt_finish(&in);
	expect(true, &in, TC_ACT_SHOT, NULL);
	cr_expect_eq(counter(LBD_NODE_TC_MALFORMED), 2);
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 0);
}

Test(node_tc, a_fragment_to_a_service_is_dropped_and_counted)
{
	struct pkt_ipv4_opts fo = { .frag = 0x2000 }; /* MF, offset 0 */
	struct pkt in;

	one_endpoint4(IPPROTO_UDP, TC_EP4_A, 5353);
	pkt_init(&in);
	pkt_eth(&in, mac_host, mac_pod);
	pkt_ipv4(&in, pkt_ip(TC_POD4), pkt_ip(TC_SVC4), &fo);
	pkt_udp(&in, 33333, 53, false);
	pkt_bytes(&in, "12345678", 8);
	pkt_finish(&in);
	expect(true, &in, TC_ACT_SHOT, NULL);
	cr_expect_eq(counter(LBD_NODE_TC_FRAGMENT), 1);
}

Test(node_tc, a_service_without_endpoint_drops_and_counts)
{
	struct pkt in;

	svc_set(TC_SVC4, 80, IPPROTO_TCP, 1, 0);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_SHOT, NULL);
	cr_expect_eq(counter(LBD_NODE_TC_NO_ENDPOINT), 1);
	cr_expect_eq(counter(LBD_NODE_TC_FORWARD), 0);
}

Test(node_tc, affinity_sends_every_flow_of_a_client_to_one_endpoint)
{
	struct node_endpoint e[4] = {
		nt_ep(TC_EP4_A, 8080, 1, true, true, false),
		nt_ep(TC_EP4_B, 8080, 1, true, true, false),
		nt_ep(TC_EP4_C, 8080, 1, true, true, false),
		nt_ep(TC_EP4_D, 8080, 1, true, true, false),
	};
	struct pkt in;
	uint8_t first = 0;
	int i;

	svc_set(TC_SVC4, 80, IPPROTO_TCP, 1, LBD_NODE_SVC_F_AFFINITY);
	eps_set(1, e, 4);
	for (i = 0; i < 16; i++) {
		build(&in, TC_POD4, 40000 + i, TC_SVC4, 80, IPPROTO_TCP,
		      PKT_TCP_SYN);
		if (!i)
			first = sent_to(&in);
		else
			cr_expect_eq(sent_to(&in), first, "flow %d", i);
	}
}

/* -- socket_lb = "host-only" on the socket programs ------------------- */

TestSuite(node_host_only, .init = nt_setup, .fini = nt_teardown);

/* The fixture's programs again, with the host-only knob naming netns. */
static void host_only_reload(__u64 netns)
{
	struct node_svc_addr a = nt_svc(TC_SVC4, 80, IPPROTO_TCP);
	struct node_endpoint e = nt_ep(NT_EP4_1, 8080, 1, true, true, false);
	struct node_opts o;
	int err;

	node_close(nt.node);
	nt.node = NULL;
	node_opts_default(&o);
	o.max_services = 64;
	o.max_addrs = 64;
	o.max_backends = 256;
	o.rev_entries = 1024;
	o.affinity_entries = 1024;
	o.host_netns = netns;
	err = node_open(&o, &nt.node);
	cr_assert(err == 0, "node_open: %s", strerror(-err));
	err = node_attach(nt.node, nt.cgroup);
	cr_assert(err == 0, "node_attach: %s", strerror(-err));
	cr_assert_eq(node_service_set(nt.node, &a, 1, 0, 0), 0);
	cr_assert_eq(node_backends_set(nt.node, 1, &e, 1), 0);
}

static int ho_connect(void)
{
	struct sockaddr_storage svc;
	socklen_t len = nt_sa(&svc, TC_SVC4, 80);
	int fd = socket(AF_INET, SOCK_STREAM, 0), r, err;

	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	r = connect(fd, (struct sockaddr *)&svc, len);
	err = errno;
	close(fd);
	return r ? err : 0;
}

/* The test's namespace has no route to the Service address: an
 * untranslated connect fails with ENETUNREACH. */
static void ho_untranslated(void)
{
	int err = ho_connect();

	NT_CHECK(err == ENETUNREACH, "connect: %s", strerror(err));
}

static void ho_translated(void)
{
	int err = ho_connect();

	NT_CHECK(err == 0, "connect: %s", strerror(err));
}

Test(node_host_only, sockets_of_another_netns_are_left_alone)
{
	int srv = nt_server(NT_EP4_1, 8080, SOCK_STREAM);
	__u64 mine = nt_netns_cookie(srv), c[LBD_NODE_REASON_MAX];

	/* the host is another namespace than this test's: left alone */
	host_only_reload(mine + 1);
	nt_run(ho_untranslated);
	nt_counters(c);
	cr_expect_eq(c[LBD_NODE_CONNECT_XLATED], 0);
	/* this namespace is the host: translated */
	host_only_reload(mine);
	nt_run(ho_translated);
	nt_counters(c);
	cr_expect_eq(c[LBD_NODE_CONNECT_XLATED], 1);
	close(srv);
}

/* -- the tc path's pins ------------------------------------------------ */

static char tp_dir[64], tp_pin[256];

static void tp_open(__u32 nat_entries, int *tc_err)
{
	struct node_tc_opts to = { .nat_entries = nat_entries,
				   .hash_seed = 7,
				   .pin_path = tp_pin };
	struct node_opts o;
	int err;

	node_opts_default(&o);
	o.max_services = 64;
	o.max_addrs = 64;
	o.max_backends = 256;
	o.rev_entries = 1024;
	o.affinity_entries = 1024;
	o.hash_seed = 7;
	o.pin_path = tp_pin;
	err = node_open(&o, &tn);
	cr_assert_eq(err, 0, "node_open: %s", strerror(-err));
	*tc_err = node_tc_open(tn, &to, &tt);
}

static void tp_setup(void)
{
	int err;

	cr_assert(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
	cr_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		  "mount --make-rprivate /: %s", strerror(errno));
	snprintf(tp_dir, sizeof(tp_dir), "/tmp/lbd-node-tc.XXXXXX");
	cr_assert(mkdtemp(tp_dir), "mkdtemp: %s", strerror(errno));
	cr_assert(mount("bpf", tp_dir, "bpf", 0, "mode=0700") == 0,
		  "mounting bpffs at %s: %s", tp_dir, strerror(errno));
	snprintf(tp_pin, sizeof(tp_pin), "%s/node", tp_dir);
	cr_assert(mkdir(tp_pin, 0700) == 0, "mkdir: %s", strerror(errno));
	tp_open(4096, &err);
	cr_assert_eq(err, 0, "node_tc_open: %s", strerror(-err));
}

static void tp_teardown(void)
{
	tc_teardown();
	cr_expect_eq(node_tc_unpin(tp_pin), 0);
	cr_expect_eq(node_unpin_all(tp_pin), 0);
	cr_expect(access(tp_pin, F_OK) < 0, "%s left behind", tp_pin);
	umount2(tp_dir, MNT_DETACH);
	rmdir(tp_dir);
}

TestSuite(node_tc_pin, .init = tp_setup, .fini = tp_teardown);

Test(node_tc_pin, a_flow_keeps_its_endpoint_across_a_restart)
{
	struct node_endpoint e[4] = {
		nt_ep(TC_EP4_A, 8080, 1, true, true, false),
		nt_ep(TC_EP4_B, 8080, 1, true, true, false),
		nt_ep(TC_EP4_C, 8080, 1, true, true, false),
		nt_ep(TC_EP4_D, 8080, 1, true, true, false),
	};
	uint8_t first[16];
	struct pkt in;
	int i, err;

	svc_set(TC_SVC4, 80, IPPROTO_TCP, 1, 0);
	eps_set(1, e, 2);
	for (i = 0; i < 16; i++) {
		build(&in, TC_POD4, 40000 + i, TC_SVC4, 80, IPPROTO_TCP,
		      PKT_TCP_SYN);
		first[i] = sent_to(&in);
	}
	/* lbd goes and comes: the maps stay pinned, the new programs find
	 * the flows; then the Service grows, so that a choice made again
	 * would move about half of them */
	tc_teardown();
	tp_open(4096, &err);
	cr_assert_eq(err, 0, "node_tc_open again: %s", strerror(-err));
	cr_assert(node_adopted(tn));
	eps_set(1, e, 4);
	for (i = 0; i < 16; i++) {
		build(&in, TC_POD4, 40000 + i, TC_SVC4, 80, IPPROTO_TCP,
		      PKT_TCP_ACK);
		cr_expect_eq(sent_to(&in), first[i], "flow %d moved", i);
	}
	cr_expect_eq(counter(LBD_NODE_TC_NEW_FLOW), 16, "counted before too");
}

Test(node_tc_pin, a_pinned_nat_map_of_another_size_is_refused)
{
	int err;

	tc_teardown();
	tp_open(8192, &err);
	cr_assert_eq(err, -EINVAL, "node_tc_open: %s", strerror(-err));
	cr_assert_null(tt);
}

/* -- ICMP errors about the tc path's flows, hairpin ------------------- */

/* An ICMP error (ICMPv6 for IPv6) from src to dst, Ethernet as build's,
 * quoting q from its IP header on: qlen bytes of it, 0 for all. */
static void icmp_err(struct pkt *p, const char *src, const char *dst,
		     uint8_t type, uint8_t code, uint32_t rest,
		     const struct pkt *q, size_t qlen)
{
	pkt_icmp_err(p, mac_host, mac_pod, src, dst, type, code, rest, q, qlen);
}

/* The packet as sent back into the pod: the MAC addresses swapped. */
static void swap_macs(struct pkt *p)
{
	uint8_t t[6];

	memcpy(t, p->buf, 6);
	memcpy(p->buf, p->buf + 6, 6);
	memcpy(p->buf + 6, t, 6);
}

Test(node_tc, a_port_unreachable_for_a_udp_flow_names_the_service)
{
	struct pkt in, sent, err, want;

	one_endpoint4(IPPROTO_UDP, TC_EP4_B, 5353);
	build(&in, TC_POD4, 33333, TC_SVC4, 53, IPPROTO_UDP, 0);
	build(&sent, TC_POD4, 33333, TC_EP4_B, 5353, IPPROTO_UDP, 0);
	expect(true, &in, TC_ACT_OK, &sent);
	/* the endpoint's port unreachable, about the packet it got: from
	 * and about the Service address, as the pod's socket knows it */
	icmp_err(&err, TC_EP4_B, TC_POD4, 3, 3, 0, &sent, 0);
	icmp_err(&want, TC_SVC4, TC_POD4, 3, 3, 0, &in, 0);
	/* to the client pod (egress), from an endpoint pod (ingress) */
	expect(false, &err, TC_ACT_OK, &want);
	expect(true, &err, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 2);
	/* translated, it is about no flow: untouched */
	expect(false, &want, TC_ACT_OK, &want);
	/* a router's time exceeded keeps the router as its source */
	icmp_err(&err, "198.18.9.9", TC_POD4, 11, 0, 0, &sent, 0);
	icmp_err(&want, "198.18.9.9", TC_POD4, 11, 0, 0, &in, 0);
	expect(false, &err, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 3);
}

Test(node_tc, ipv6_port_unreachable_for_a_udp_flow_names_the_service)
{
	struct node_endpoint e = nt_ep(TC_EP6_A, 5353, 1, true, true, false);
	struct pkt in, sent, err, want;

	svc_set(TC_SVC6, 53, IPPROTO_UDP, 2, 0);
	eps_set(2, &e, 1);
	build(&in, TC_POD6, 33333, TC_SVC6, 53, IPPROTO_UDP, 0);
	build(&sent, TC_POD6, 33333, TC_EP6_A, 5353, IPPROTO_UDP, 0);
	expect(true, &in, TC_ACT_OK, &sent);
	icmp_err(&err, TC_EP6_A, TC_POD6, 1, 4, 0, &sent, 0);
	icmp_err(&want, TC_SVC6, TC_POD6, 1, 4, 0, &in, 0);
	expect(false, &err, TC_ACT_OK, &want);
	/* a packet too big from a router: its MTU and source kept */
	icmp_err(&err, "2001:db8:9::9", TC_POD6, 2, 0, 1280, &sent, 0);
	icmp_err(&want, "2001:db8:9::9", TC_POD6, 2, 0, 1280, &in, 0);
	expect(false, &err, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 2);
}

Test(node_tc, an_error_a_pod_sends_about_a_reply_goes_to_the_endpoint)
{
	struct pkt in, sent, reply, got, err, want;

	one_endpoint4(IPPROTO_TCP, TC_EP4_A, 8080);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&sent, TC_POD4, 40000, TC_EP4_A, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	expect(true, &in, TC_ACT_OK, &sent);
	build(&reply, TC_EP4_A, 8080, TC_POD4, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	build(&got, TC_SVC4, 80, TC_POD4, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	expect(false, &reply, TC_ACT_OK, &got);
	/* the pod's error about the reply it got (as the Service's), to
	 * the endpoint about the one it sent */
	icmp_err(&err, TC_POD4, TC_SVC4, 3, 3, 0, &got, 0);
	icmp_err(&want, TC_POD4, TC_EP4_A, 3, 3, 0, &reply, 0);
	expect(true, &err, TC_ACT_OK, &want);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 1);
	/* at the egress only errors about a client's packets are looked
	 * for */
	expect(false, &err, TC_ACT_OK, &err);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 1);
}

Test(node_tc, an_error_about_no_flow_passes_untouched)
{
	struct pkt in, sent, other, err;

	one_endpoint4(IPPROTO_UDP, TC_EP4_B, 5353);
	build(&in, TC_POD4, 33333, TC_SVC4, 53, IPPROTO_UDP, 0);
	build(&sent, TC_POD4, 33333, TC_EP4_B, 5353, IPPROTO_UDP, 0);
	expect(true, &in, TC_ACT_OK, &sent);
	/* another client port, another endpoint, another protocol */
	build(&other, TC_POD4, 33334, TC_EP4_B, 5353, IPPROTO_UDP, 0);
	icmp_err(&err, TC_EP4_B, TC_POD4, 3, 3, 0, &other, 0);
	expect(false, &err, TC_ACT_OK, &err);
	expect(true, &err, TC_ACT_OK, &err);
	build(&other, TC_POD4, 33333, TC_EP4_C, 5353, IPPROTO_UDP, 0);
	icmp_err(&err, TC_EP4_C, TC_POD4, 3, 3, 0, &other, 0);
	expect(false, &err, TC_ACT_OK, &err);
	build(&other, TC_POD4, 33333, TC_EP4_B, 5353, IPPROTO_TCP, PKT_TCP_SYN);
	icmp_err(&err, TC_EP4_B, TC_POD4, 3, 3, 0, &other, 0);
	expect(false, &err, TC_ACT_OK, &err);
	/* an echo reply quoting nothing, a redirect (5) about the flow:
	 * no error translated */
	icmp_err(&err, TC_EP4_B, TC_POD4, 5, 1, 0, &sent, 0);
	expect(false, &err, TC_ACT_OK, &err);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 0);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_MALFORMED), 0);
}

Test(node_tc, an_error_about_a_flow_cut_short_in_its_quote_is_dropped)
{
	struct pkt in, sent, other, err;

	one_endpoint4(IPPROTO_UDP, TC_EP4_B, 5353);
	build(&in, TC_POD4, 33333, TC_SVC4, 53, IPPROTO_UDP, 0);
	build(&sent, TC_POD4, 33333, TC_EP4_B, 5353, IPPROTO_UDP, 0);
	expect(true, &in, TC_ACT_OK, &sent);
	/* the IP header and 4 of the UDP header's 8 bytes: its ports */
	icmp_err(&err, TC_EP4_B, TC_POD4, 3, 3, 0, &sent, 20 + 4);
	expect(false, &err, TC_ACT_SHOT, NULL);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_MALFORMED), 1);
	/* the same about no flow is the kernel's */
	build(&other, TC_POD4, 33334, TC_EP4_B, 5353, IPPROTO_UDP, 0);
	icmp_err(&err, TC_EP4_B, TC_POD4, 3, 3, 0, &other, 20 + 4);
	expect(false, &err, TC_ACT_OK, &err);
	/* cut in the quoted IP header: no flow to find, the kernel's */
	icmp_err(&err, TC_EP4_B, TC_POD4, 3, 3, 0, &sent, 16);
	expect(false, &err, TC_ACT_OK, &err);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_MALFORMED), 1);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 0);
}

Test(node_tc, hairpin_a_pod_reaching_itself_gets_the_hairpin_source)
{
	struct pkt in, want, reply, err;

	one_endpoint4(IPPROTO_TCP, TC_POD4, 8080);
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_SYN);
	/* back into the pod, from 169.254.42.1 */
	build(&want, "169.254.42.1", 40000, TC_POD4, 8080, IPPROTO_TCP,
	      PKT_TCP_SYN);
	swap_macs(&want);
	expect(true, &in, TC_ACT_REDIRECT, &want);
	cr_expect_eq(counter(LBD_NODE_TC_HAIRPIN), 1);
	cr_expect_eq(counter(LBD_NODE_TC_FORWARD), 1);
	/* the pod's reply leaves it: from the Service, to the pod again */
	build(&reply, TC_POD4, 8080, "169.254.42.1", 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	build(&want, TC_SVC4, 80, TC_POD4, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	swap_macs(&want);
	expect(true, &reply, TC_ACT_REDIRECT, &want);
	cr_expect_eq(counter(LBD_NODE_TC_REPLY), 1);
	/* a later packet of the flow: the same way */
	build(&in, TC_POD4, 40000, TC_SVC4, 80, IPPROTO_TCP, PKT_TCP_ACK);
	build(&want, "169.254.42.1", 40000, TC_POD4, 8080, IPPROTO_TCP,
	      PKT_TCP_ACK);
	swap_macs(&want);
	expect(true, &in, TC_ACT_REDIRECT, &want);
	cr_expect_eq(counter(LBD_NODE_TC_HAIRPIN), 2);
	/* the pod's port unreachable about a hairpin packet: about the
	 * packet it sent, from the Service, back into it */
	build(&reply, "169.254.42.1", 40000, TC_POD4, 8080, IPPROTO_TCP,
	      PKT_TCP_ACK);
	icmp_err(&err, TC_POD4, "169.254.42.1", 3, 3, 0, &reply, 0);
	icmp_err(&want, TC_SVC4, TC_POD4, 3, 3, 0, &in, 0);
	swap_macs(&want);
	expect(true, &err, TC_ACT_REDIRECT, &want);
	cr_expect_eq(counter(LBD_NODE_TC_ICMP_XLATED), 1);
}

Test(node_tc, ipv6_hairpin_uses_the_service_address)
{
	struct node_endpoint e = nt_ep(TC_POD6, 8080, 1, true, true, false);
	struct pkt in, want, reply;

	svc_set(TC_SVC6, 80, IPPROTO_TCP, 2, 0);
	eps_set(2, &e, 1);
	build(&in, TC_POD6, 40000, TC_SVC6, 80, IPPROTO_TCP, PKT_TCP_SYN);
	build(&want, TC_SVC6, 40000, TC_POD6, 8080, IPPROTO_TCP, PKT_TCP_SYN);
	swap_macs(&want);
	expect(true, &in, TC_ACT_REDIRECT, &want);
	build(&reply, TC_POD6, 8080, TC_SVC6, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	build(&want, TC_SVC6, 80, TC_POD6, 40000, IPPROTO_TCP,
	      PKT_TCP_SYN | PKT_TCP_ACK);
	swap_macs(&want);
	expect(true, &reply, TC_ACT_REDIRECT, &want);
	cr_expect_eq(counter(LBD_NODE_TC_HAIRPIN), 1);
}
