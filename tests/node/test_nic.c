// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node role's NIC path (bpf/node/nic.bpf.c), byte for byte with
 * BPF_PROG_TEST_RUN, and the tc path's reversal of its local flows
 * (bpf/node/tc.bpf.c). Services and endpoints are written with the code
 * lbd uses (lbd/dp/node.h), the programs loaded as lbd loads them
 * (lbd/dp/node_tc.h, node_nic.h), every expected packet built
 * independently with the packet builder (tests/lib/pkt.h).
 *
 * Where an endpoint lives is the kernel's FIB's answer: the namespace
 * gets a "NIC" (a veth, in lbd_node_nics, with the node's addresses; the
 * other nodes' endpoints are on its subnet) and a "pod interface" (a
 * veth with the routes to this node's pods). The programs run as on lo
 * (BPF_PROG_TEST_RUN's ingress device), so forwarding is on.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"
#include "node_nic.h"
#include "node_tc.h"
#include "pkt.h"

/* A client outside the node; the node's addresses on its NIC (where
 * NodePorts are served, and the SNAT source); a LoadBalancer IP (on no
 * interface); pods on this node; endpoints on another node. */
#define NIC_CLIENT4 "192.0.2.2"
#define NIC_CLIENT6 "2001:db8:c::2"
#define NIC_NODE4 "203.0.113.1"
#define NIC_NODE6 "2001:db8:77::1"
#define NIC_LB4 "198.19.0.10"
#define NIC_POD4_A "198.18.2.1"
#define NIC_POD4_B "198.18.2.2"
#define NIC_POD4_C "198.18.2.3"
#define NIC_POD4_D "198.18.2.4"
#define NIC_POD6 "2001:db8:2::1"
#define NIC_REMOTE4 "203.0.113.20"
#define NIC_REMOTE6 "2001:db8:77::20"

/* Other nodes by their pod CIDRs (DSR's outer destination) */
#define NIC_GW4 "203.0.113.30"
#define NIC_GW6 "2001:db8:77::30"
#define NIC_GW_PODS4 "198.18.3.0/24"
#define NIC_GW_POD4 "198.18.3.7"
#define NIC_GW_PODS6 "2001:db8:3::/64"
#define NIC_GW_POD6 "2001:db8:3::7"
#define NIC_MTU_PODS4 "198.18.4.0/24"
#define NIC_MTU_POD4 "198.18.4.7"
#define NIC_V6GW_PODS4 "198.18.5.0/24"
/* IPv6 pod CIDRs by routes with small MTUs: 1400 - 94 bytes of Geneve
 * leave 1306; 1360 - 94 leave 1266, below IPv6's minimum of 1280 */
#define NIC_MTU_PODS6 "2001:db8:4::/64"
#define NIC_MTU_POD6 "2001:db8:4::7"
#define NIC_TINY_PODS6 "2001:db8:5::/64"
#define NIC_TINY_POD6 "2001:db8:5::7"
/* and IPv4: 120 - 62 leave 58, below IPv4's minimum of 68 */
#define NIC_TINY_PODS4 "198.18.6.0/24"
#define NIC_TINY_POD4 "198.18.6.7"
#define NIC_V6GW_POD4 "198.18.5.7"

#define NIC_NODEPORT 30080
#define NIC_SNAT_MIN 61000
#define NIC_SNAT_MAX 65535

static const char *const nic_env[] = {
	"ip link add ntnic0 type veth peer name ntnic0p",
	"ip link add ntpod0 type veth peer name ntpod0p",
	"ip link set ntnic0 up",
	"ip link set ntnic0p up",
	"ip link set ntpod0 up",
	"ip link set ntpod0p up",
	"ip addr add " NIC_NODE4 "/24 dev ntnic0",
	"ip -6 addr add " NIC_NODE6 "/64 dev ntnic0 nodad",
	"ip route add 198.18.2.0/24 dev ntpod0",
	"ip -6 route add 2001:db8:2::/64 dev ntpod0",
	"sysctl -qw net.ipv4.conf.all.forwarding=1",
	"sysctl -qw net.ipv6.conf.all.forwarding=1",
	/* pod CIDRs of other nodes (native routing): by a gateway, one with
	 * a small MTU (locked: forwarding takes an unlocked route MTU for a
	 * hint, the FIB lookup and the kernel's forwarding the device's),
	 * one by a gateway of the other family (RFC 5549) */
	"ip route add " NIC_GW_PODS4 " via " NIC_GW4,
	"ip -6 route add " NIC_GW_PODS6 " via " NIC_GW6,
	"ip route add " NIC_MTU_PODS4 " via " NIC_GW4 " mtu lock 1000",
	"ip route add " NIC_V6GW_PODS4 " via inet6 " NIC_GW6,
	"ip -6 route add " NIC_MTU_PODS6 " via " NIC_GW6 " mtu lock 1400",
	"ip -6 route add " NIC_TINY_PODS6 " via " NIC_GW6 " mtu lock 1360",
	"ip route add " NIC_TINY_PODS4 " via " NIC_GW4 " mtu lock 120",
	NULL,
};

static struct lbd_node *xn;
static struct node_tc *xt;
static struct node_nic *xx;

static const uint8_t mac_node[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_router[6] = { 0x02, 0, 0, 0, 0, 0xfe };
static const uint8_t mac_pod[6] = { 0x02, 0, 0, 0, 0, 0x05 };

/* The namespace is the test binary's, shared by every test: the links
 * are made once (a test process that finds them leaves them). */
static void nic_env_up(void)
{
	char cmd[256];
	int i;

	if (if_nametoindex("ntnic0"))
		return;
	for (i = 0; nic_env[i]; i++) {
		snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", nic_env[i]);
		cr_assert_eq(system(cmd), 0, "failed: %s", nic_env[i]);
	}
}

/* The NIC program on xn and xt, its ICMP errors at icmp_rate a second
 * (a load-time knob), attached to ntnic0's addresses. */
static void nic_open_rate(__u32 icmp_rate)
{
	struct node_nic_opts xo = { .nat_entries = 4096,
				    .hash_seed = 7,
				    .snat_port_min = NIC_SNAT_MIN,
				    .snat_port_max = NIC_SNAT_MAX,
				    .icmp_rate = icmp_rate };
	struct pkt_addr a4 = pkt_ip(NIC_NODE4), a6 = pkt_ip(NIC_NODE6);
	union lbd_addr n4 = { 0 }, n6 = { 0 };
	int err;

	err = node_nic_open(xn, xt, &xo, &xx);
	cr_assert_eq(err, 0, "node_nic_open: %s", strerror(-err));
	memcpy(&n4.v4, &a4.v4, 4);
	memcpy(&n6, &a6.v6, 16);
	err = node_nic_set(xx, (int)if_nametoindex("ntnic0"), &n4, &n6);
	cr_assert_eq(err, 0, "node_nic_set: %s", strerror(-err));
}

static void nic_setup(void)
{
	struct node_tc_opts to = { .nat_entries = 4096, .hash_seed = 7 };
	struct node_opts o;
	int err;

	nic_env_up();
	node_opts_default(&o);
	o.max_services = 64;
	o.max_addrs = 64;
	o.max_backends = 256;
	o.rev_entries = 1024;
	o.affinity_entries = 1024;
	o.hash_seed = 7;
	err = node_open(&o, &xn);
	cr_assert_eq(err, 0, "node_open: %s", strerror(-err));
	err = node_tc_open(xn, &to, &xt);
	cr_assert_eq(err, 0, "node_tc_open: %s", strerror(-err));
	nic_open_rate(LBD_NODE_DEFAULT_ICMP_RATE);
}

static void nic_teardown(void)
{
	node_nic_close(xx);
	node_tc_close(xt);
	node_close(xn);
	xx = NULL;
	xt = NULL;
	xn = NULL;
}

TestSuite(node_nic, .init = nic_setup, .fini = nic_teardown);

static void svc_set(const char *ip, int port, int proto, __u32 id, __u32 flags)
{
	struct node_svc_addr a = nt_svc(ip, port, proto);
	int err = node_service_set(xn, &a, id, flags, 10800);

	cr_assert_eq(err, 0, "node_service_set: %s", strerror(-err));
}

static void eps_set(__u32 id, const struct node_endpoint *eps, size_t n)
{
	int err = node_backends_set(xn, id, eps, n);

	cr_assert_eq(err, 0, "node_backends_set: %s", strerror(-err));
}

static void one_endpoint(const char *svc, int port, int proto, __u32 id,
			 const char *ep, int ep_port)
{
	struct node_endpoint e = nt_ep(ep, ep_port, 1, true, true, false);

	svc_set(svc, port, proto, id, 0);
	eps_set(id, &e, 1);
}

/* Ethernet (from src_mac), IP, then TCP (flags) or UDP with 8 bytes of
 * payload. */
static void build(struct pkt *p, const uint8_t *dst_mac, const uint8_t *src_mac,
		  const char *src, int sport, const char *dst, int dport,
		  int proto, uint8_t flags)
{
	static const char payload[8] = "lbd-node";

	pkt_init(p);
	pkt_eth(p, dst_mac, src_mac);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	if (proto == IPPROTO_TCP)
		pkt_tcp(p, sport, dport, flags, 1000,
			flags & PKT_TCP_ACK ? 1 : 0);
	else
		pkt_udp(p, sport, dport, false);
	pkt_bytes(p, payload, sizeof(payload));
	pkt_finish(p);
}

/* From outside, at the NIC: the router's frame to the node. */
static void from_out(struct pkt *p, const char *src, int sport, const char *dst,
		     int dport, int proto, uint8_t flags)
{
	build(p, mac_node, mac_router, src, sport, dst, dport, proto, flags);
}

/* From a pod, at its interface's ingress. */
static void from_pod(struct pkt *p, const char *src, int sport, const char *dst,
		     int dport, int proto, uint8_t flags)
{
	build(p, mac_node, mac_pod, src, sport, dst, dport, proto, flags);
}

static int run(int prog_fd, const struct pkt *p, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf,
		    .data_size_in = (__u32)p->len, .data_out = out,
		    .data_size_out = (__u32)*out_len, .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd, &o);

	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN: %s", strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

/* Runs p through prog_fd; expects the verdict and, with want, the packet
 * byte for byte. */
static void expect_fd(int prog_fd, const struct pkt *p, int verdict,
		      const struct pkt *want)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	int r = run(prog_fd, p, out, &len);

	cr_assert_eq(r, verdict, "verdict %d, expected %d", r, verdict);
	if (!want)
		return;
	if (len != want->len || memcmp(out, want->buf, len)) {
		pkt_diff(stderr, out, len, want->buf, want->len);
		cr_assert_fail("the packet is not the one expected");
	}
}

static void expect_xdp(const struct pkt *p, int verdict, const struct pkt *want)
{
	expect_fd(node_nic_prog_fd(xx), p, verdict, want);
}

/* At a pod interface's ingress (the tc path). */
static void expect_pod(const struct pkt *p, int verdict, const struct pkt *want)
{
	expect_fd(node_tc_prog_fd(xt, true), p, verdict, want);
}

static __u64 counter(enum lbd_node_nic_reason r)
{
	__u64 c[LBD_NODE_NIC_REASON_MAX];

	cr_assert_eq(node_nic_reasons_read(xx, c), 0);
	return c[r];
}

static __u64 tc_counter(enum lbd_node_tc_reason r)
{
	__u64 c[LBD_NODE_TC_REASON_MAX];

	cr_assert_eq(node_tc_reasons_read(xt, c), 0);
	return c[r];
}

/* The forward entry of a flow (as the client sent it), which must be
 * there. */
static struct lbd_node_nic_nat fwd_entry(const char *src, int sport,
					 const char *dst, int dport, int proto)
{
	struct pkt_addr s = pkt_ip(src), d = pkt_ip(dst);
	struct lbd_node_nat_key k = { 0 };
	struct lbd_node_nic_nat v;
	bool v6 = strchr(src, ':') != NULL;

	memcpy(&k.saddr, &s.v6, v6 ? 16 : 4);
	memcpy(&k.daddr, &d.v6, v6 ? 16 : 4);
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = proto;
	k.family = v6 ? LBD_AF_INET6 : LBD_AF_INET;
	k.dir = LBD_NODE_NAT_FWD;
	cr_assert_eq(bpf_map_lookup_elem(node_nic_nat_fd(xx), &k, &v), 0,
		     "no forward entry for %s:%d", src, sport);
	return v;
}

/* The SNAT port a flow was given, checked to be in the range. */
static int snat_port_of(const char *src, int sport, const char *dst, int dport,
			int proto)
{
	struct lbd_node_nic_nat v = fwd_entry(src, sport, dst, dport, proto);
	int port = ntohs(v.sport);

	cr_assert(v.flags & LBD_NODE_NIC_F_SNAT, "the flow is not SNATed");
	cr_assert(port >= NIC_SNAT_MIN && port <= NIC_SNAT_MAX,
		  "SNAT port %d out of the range", port);
	return port;
}

Test(node_nic, nodeport_syn_to_a_local_endpoint_keeps_the_client)
{
	struct pkt in, want, reply;

	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP, 1, NIC_POD4_A, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP,
		 PKT_TCP_SYN);
	from_out(&want, NIC_CLIENT4, 40000, NIC_POD4_A, 8080, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_LOCAL), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_SNAT), 0);
	/* the pod's reply at its interface: node:NodePort as source, and
	 * out by the NIC the flow came in by (redirected) */
	from_pod(&reply, NIC_POD4_A, 8080, NIC_CLIENT4, 40000, IPPROTO_TCP,
		 PKT_TCP_SYN | PKT_TCP_ACK);
	from_pod(&want, NIC_NODE4, NIC_NODEPORT, NIC_CLIENT4, 40000,
		 IPPROTO_TCP, PKT_TCP_SYN | PKT_TCP_ACK);
	expect_pod(&reply, TC_ACT_REDIRECT, &want);
	cr_expect_eq(tc_counter(LBD_NODE_TC_REPLY), 1);
	/* the NIC path leaves it alone: no SNAT port of it */
	expect_xdp(&reply, XDP_PASS, &reply);
	cr_expect_eq(counter(LBD_NODE_NIC_REPLY), 0);
}

Test(node_nic, lb_ip_syn_to_a_remote_endpoint_is_snated_and_reversed)
{
	struct pkt in, want, reply;
	int port, port2;

	one_endpoint(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_REMOTE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP);
	from_out(&want, NIC_NODE4, port, NIC_REMOTE4, 8080, IPPROTO_TCP,
		 PKT_TCP_SYN);
	/* again, now as a packet of the flow: the same port */
	expect_xdp(&in, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_SNAT), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 2);
	/* the endpoint's reply, at the NIC: to the client, from the LB IP */
	from_out(&reply, NIC_REMOTE4, 8080, NIC_NODE4, port, IPPROTO_TCP,
		 PKT_TCP_SYN | PKT_TCP_ACK);
	from_out(&want, NIC_LB4, 80, NIC_CLIENT4, 40000, IPPROTO_TCP,
		 PKT_TCP_SYN | PKT_TCP_ACK);
	expect_xdp(&reply, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_REPLY), 1);
	/* another client with the same port: another SNAT port */
	from_out(&in, "192.0.2.3", 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, NULL);
	port2 = snat_port_of("192.0.2.3", 40000, NIC_LB4, 80, IPPROTO_TCP);
	cr_expect_neq(port, port2, "two flows share SNAT port %d", port);
	/* a reply to a SNAT port no flow has passes untouched */
	from_out(&reply, NIC_REMOTE4, 8080, NIC_NODE4,
		 port == NIC_SNAT_MAX ? port - 1 : port + 1, IPPROTO_TCP,
		 PKT_TCP_ACK);
	if (port + 1 != port2 && port - 1 != port2)
		expect_xdp(&reply, XDP_PASS, &reply);
}

Test(node_nic, udp_local_and_remote_both_ways)
{
	struct pkt in, want, reply;
	int port;

	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP, 1, NIC_POD4_B, 5353);
	from_out(&in, NIC_CLIENT4, 33333, NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP,
		 0);
	from_out(&want, NIC_CLIENT4, 33333, NIC_POD4_B, 5353, IPPROTO_UDP, 0);
	expect_xdp(&in, XDP_PASS, &want);
	from_pod(&reply, NIC_POD4_B, 5353, NIC_CLIENT4, 33333, IPPROTO_UDP, 0);
	from_pod(&want, NIC_NODE4, NIC_NODEPORT, NIC_CLIENT4, 33333,
		 IPPROTO_UDP, 0);
	expect_pod(&reply, TC_ACT_REDIRECT, &want);

	one_endpoint(NIC_LB4, 53, IPPROTO_UDP, 2, NIC_REMOTE4, 5353);
	from_out(&in, NIC_CLIENT4, 33333, NIC_LB4, 53, IPPROTO_UDP, 0);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT4, 33333, NIC_LB4, 53, IPPROTO_UDP);
	from_out(&want, NIC_NODE4, port, NIC_REMOTE4, 5353, IPPROTO_UDP, 0);
	expect_xdp(&in, XDP_PASS, &want);
	from_out(&reply, NIC_REMOTE4, 5353, NIC_NODE4, port, IPPROTO_UDP, 0);
	from_out(&want, NIC_LB4, 53, NIC_CLIENT4, 33333, IPPROTO_UDP, 0);
	expect_xdp(&reply, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_LOCAL), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_SNAT), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_REPLY), 1);
}

Test(node_nic, ipv6_local_and_remote_both_ways)
{
	struct pkt in, want, reply;
	int proto, i, port;

	for (i = 0; i < 2; i++) {
		proto = i ? IPPROTO_UDP : IPPROTO_TCP;
		/* a NodePort to a pod here */
		one_endpoint(NIC_NODE6, NIC_NODEPORT, proto, 1 + 2 * i,
			     NIC_POD6, 8080);
		from_out(&in, NIC_CLIENT6, 40000, NIC_NODE6, NIC_NODEPORT,
			 proto, PKT_TCP_SYN);
		from_out(&want, NIC_CLIENT6, 40000, NIC_POD6, 8080, proto,
			 PKT_TCP_SYN);
		expect_xdp(&in, XDP_PASS, &want);
		from_pod(&reply, NIC_POD6, 8080, NIC_CLIENT6, 40000, proto,
			 PKT_TCP_SYN | PKT_TCP_ACK);
		from_pod(&want, NIC_NODE6, NIC_NODEPORT, NIC_CLIENT6, 40000,
			 proto, PKT_TCP_SYN | PKT_TCP_ACK);
		expect_pod(&reply, TC_ACT_REDIRECT, &want);
		/* another NodePort to another node's endpoint */
		one_endpoint(NIC_NODE6, NIC_NODEPORT + 1, proto, 2 + 2 * i,
			     NIC_REMOTE6, 8080);
		from_out(&in, NIC_CLIENT6, 40000, NIC_NODE6, NIC_NODEPORT + 1,
			 proto, PKT_TCP_SYN);
		expect_xdp(&in, XDP_PASS, NULL);
		port = snat_port_of(NIC_CLIENT6, 40000, NIC_NODE6,
				    NIC_NODEPORT + 1, proto);
		from_out(&want, NIC_NODE6, port, NIC_REMOTE6, 8080, proto,
			 PKT_TCP_SYN);
		expect_xdp(&in, XDP_PASS, &want);
		from_out(&reply, NIC_REMOTE6, 8080, NIC_NODE6, port, proto,
			 PKT_TCP_SYN | PKT_TCP_ACK);
		from_out(&want, NIC_NODE6, NIC_NODEPORT + 1, NIC_CLIENT6, 40000,
			 proto, PKT_TCP_SYN | PKT_TCP_ACK);
		expect_xdp(&reply, XDP_PASS, &want);
	}
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_LOCAL), 2);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_SNAT), 2);
	cr_expect_eq(counter(LBD_NODE_NIC_REPLY), 2);
}

/* The endpoint a packet went to: the last byte of its IPv4 destination
 * (the endpoints here differ there). */
static uint8_t sent_to(const struct pkt *in)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	long ip = pkt_off(in, PKT_IPV4, 0);

	cr_assert_eq(run(node_nic_prog_fd(xx), in, out, &len), XDP_PASS);
	return out[ip + 19];
}

Test(node_nic, later_packets_of_a_flow_keep_their_endpoint)
{
	struct node_endpoint e[4] = {
		nt_ep(NIC_POD4_A, 8080, 1, true, true, false),
		nt_ep(NIC_POD4_B, 8080, 1, true, true, false),
		nt_ep(NIC_POD4_C, 8080, 1, true, true, false),
		nt_ep(NIC_POD4_D, 8080, 1, true, true, false),
	};
	uint8_t first[32];
	struct pkt in;
	int i, moved = 0;

	svc_set(NIC_LB4, 80, IPPROTO_TCP, 1, 0);
	eps_set(1, e, 2);
	for (i = 0; i < 32; i++) {
		from_out(&in, NIC_CLIENT4, 40000 + i, NIC_LB4, 80, IPPROTO_TCP,
			 PKT_TCP_SYN);
		first[i] = sent_to(&in);
	}
	/* twice the endpoints: Maglev gives about half the slots to the
	 * new ones, so without the flows' entries many flows would move */
	eps_set(1, e, 4);
	for (i = 0; i < 32; i++) {
		from_out(&in, NIC_CLIENT4, 40000 + i, NIC_LB4, 80, IPPROTO_TCP,
			 PKT_TCP_ACK);
		cr_expect_eq(sent_to(&in), first[i], "flow %d moved", i);
	}
	/* without them, flows would have moved: the test can tell */
	for (i = 0; i < 32; i++) {
		struct lbd_node_nat_key k = {
			.sport = htons(40000 + i),
			.dport = htons(80),
			.proto = IPPROTO_TCP,
			.family = LBD_AF_INET,
			.dir = LBD_NODE_NAT_FWD,
		};

		inet_pton(AF_INET, NIC_CLIENT4, &k.saddr.v4);
		inet_pton(AF_INET, NIC_LB4, &k.daddr.v4);
		cr_assert_eq(bpf_map_delete_elem(node_nic_nat_fd(xx), &k), 0);
		from_out(&in, NIC_CLIENT4, 40000 + i, NIC_LB4, 80, IPPROTO_TCP,
			 PKT_TCP_ACK);
		moved += sent_to(&in) != first[i];
	}
	cr_expect_gt(moved, 0, "no flow would have moved: a weak test");
}

Test(node_nic, what_is_not_a_services_passes_untouched)
{
	struct pkt in;

	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP, 1, NIC_POD4_A, 8080);
	/* the node's own traffic: another port, protocol, address */
	from_out(&in, NIC_CLIENT4, 40000, NIC_NODE4, 22, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, &in);
	from_out(&in, NIC_CLIENT4, 40000, NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP,
		 0);
	expect_xdp(&in, XDP_PASS, &in);
	from_out(&in, NIC_CLIENT4, 40000, NIC_POD4_A, 8080, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, &in);
	/* to a port of the SNAT range without a flow */
	from_out(&in, NIC_REMOTE4, 8080, NIC_NODE4, 61234, IPPROTO_TCP,
		 PKT_TCP_ACK);
	expect_xdp(&in, XDP_PASS, &in);
	pkt_init(&in);
	pkt_eth(&in, mac_node, mac_router);
	pkt_ip_hdr(&in, pkt_ip(NIC_CLIENT4), pkt_ip(NIC_NODE4));
	pkt_icmp4(&in, 8, 0, 0x12340001);
	pkt_finish(&in);
	expect_xdp(&in, XDP_PASS, &in);
	/* not IP (ARP's ethertype, a request's bytes) */
	pkt_init(&in);
	pkt_eth(&in, mac_node, mac_router);
	pkt_next(&in, 0x0806);
	pkt_bytes(&in, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	pkt_finish(&in);
	expect_xdp(&in, XDP_PASS, &in);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 0);
	cr_expect_eq(counter(LBD_NODE_NIC_REPLY), 0);
}

/* A TCP segment to dst:dport whose IP packet ends 10 bytes into the TCP
 * header (its total length says so: no other fault). */
static void truncated(struct pkt *p, const uint8_t dmac[6],
		      const uint8_t smac[6], const char *src, const char *dst,
		      uint16_t dport)
{
	uint8_t l4[10] = { 0x9c, 0x40, (uint8_t)(dport >> 8), (uint8_t)dport };

	pkt_init(p);
	pkt_eth(p, dmac, smac);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(dst));
	pkt_next(p, IPPROTO_TCP);
	pkt_bytes(p, l4, sizeof(l4));
	pkt_finish(p);
}

Test(node_nic, malformed_fragment_and_no_endpoint_are_dropped_and_counted)
{
	struct pkt_ipv4_opts fo = { .frag = 0x2000 }; /* MF, offset 0 */
	struct pkt in;
	long l4;

	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP, 1, NIC_POD4_A, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP,
		 PKT_TCP_SYN);
	l4 = pkt_off(&in, PKT_TCP, 0);
	in.buf[l4 + 12] = 4 << 4; /* data offset 4 words: less than a header */
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_MALFORMED), 1);
	/* the same to an address that is no Service's is the kernel's */
	from_out(&in, NIC_CLIENT4, 40000, NIC_NODE4, 22, IPPROTO_TCP,
		 PKT_TCP_SYN);
	in.buf[l4 + 12] = 4 << 4;
	expect_xdp(&in, XDP_PASS, &in);
	cr_expect_eq(counter(LBD_NODE_NIC_MALFORMED), 1);
	/* cut short: its ports, then 6 bytes of the 20 of a TCP header */
	truncated(&in, mac_node, mac_router, NIC_CLIENT4, NIC_NODE4,
		  NIC_NODEPORT);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_MALFORMED), 2);

	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP, 2, NIC_POD4_A, 53);
	pkt_init(&in);
	pkt_eth(&in, mac_node, mac_router);
	pkt_ipv4(&in, pkt_ip(NIC_CLIENT4), pkt_ip(NIC_NODE4), &fo);
	pkt_udp(&in, 33333, NIC_NODEPORT, false);
	pkt_bytes(&in, "12345678", 8);
	pkt_finish(&in);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_FRAGMENT), 1);

	svc_set(NIC_LB4, 80, IPPROTO_TCP, 3, 0);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_NO_ENDPOINT), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 0);
}

Test(node_nic, an_endpoint_that_is_the_node_itself_is_dropped)
{
	struct pkt in;

	/* a hostNetwork pod: the node's own address */
	one_endpoint(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_NODE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_HOST_ENDPOINT), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NO_ROUTE), 0);
}

Test(node_nic, a_remote_endpoint_without_a_node_address_is_dropped)
{
	struct pkt in;

	cr_assert_eq(
		node_nic_set(xx, (int)if_nametoindex("ntnic0"), NULL, NULL), 0);
	one_endpoint(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_REMOTE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_NO_SNAT_ADDR), 1);
}

/* -- ICMP errors about the NIC path's flows --------------------------- */

Test(node_nic, fragmentation_needed_for_a_snated_flow_reaches_the_client)
{
	struct pkt in, sent, err, want;
	int port;

	one_endpoint(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_REMOTE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_ACK);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP);
	from_out(&sent, NIC_NODE4, port, NIC_REMOTE4, 8080, IPPROTO_TCP,
		 PKT_TCP_ACK);
	/* a router's, towards the node's address and SNAT port: to the
	 * client, about the packet it sent, the router kept as source */
	pkt_icmp_err(&err, mac_node, mac_router, "203.0.113.254", NIC_NODE4, 3,
		     4, 1400, &sent, 0);
	pkt_icmp_err(&want, mac_node, mac_router, "203.0.113.254", NIC_CLIENT4,
		     3, 4, 1400, &in, 0);
	expect_xdp(&err, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_XLATED), 1);
	/* the endpoint's own: from the Service address */
	pkt_icmp_err(&err, mac_node, mac_router, NIC_REMOTE4, NIC_NODE4, 3, 3,
		     0, &sent, 0);
	pkt_icmp_err(&want, mac_node, mac_router, NIC_LB4, NIC_CLIENT4, 3, 3, 0,
		     &in, 0);
	expect_xdp(&err, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_XLATED), 2);
}

Test(node_nic, ipv6_packet_too_big_for_a_snated_flow_reaches_the_client)
{
	struct pkt in, sent, err, want;
	int port;

	one_endpoint(NIC_NODE6, NIC_NODEPORT, IPPROTO_UDP, 1, NIC_REMOTE6,
		     5353);
	from_out(&in, NIC_CLIENT6, 33333, NIC_NODE6, NIC_NODEPORT, IPPROTO_UDP,
		 0);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT6, 33333, NIC_NODE6, NIC_NODEPORT,
			    IPPROTO_UDP);
	from_out(&sent, NIC_NODE6, port, NIC_REMOTE6, 5353, IPPROTO_UDP, 0);
	pkt_icmp_err(&err, mac_node, mac_router, "2001:db8:77::fe", NIC_NODE6,
		     2, 0, 1280, &sent, 0);
	pkt_icmp_err(&want, mac_node, mac_router, "2001:db8:77::fe",
		     NIC_CLIENT6, 2, 0, 1280, &in, 0);
	expect_xdp(&err, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_XLATED), 1);
}

Test(node_nic, an_error_a_client_sends_about_a_reply_goes_to_the_endpoint)
{
	struct pkt in, reply, got, err, want;
	int port;

	one_endpoint(NIC_LB4, 80, IPPROTO_UDP, 1, NIC_REMOTE4, 5353);
	from_out(&in, NIC_CLIENT4, 33333, NIC_LB4, 80, IPPROTO_UDP, 0);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT4, 33333, NIC_LB4, 80, IPPROTO_UDP);
	from_out(&reply, NIC_REMOTE4, 5353, NIC_NODE4, port, IPPROTO_UDP, 0);
	from_out(&got, NIC_LB4, 80, NIC_CLIENT4, 33333, IPPROTO_UDP, 0);
	expect_xdp(&reply, XDP_PASS, &got);
	/* the client's port unreachable: to the endpoint, from the node */
	pkt_icmp_err(&err, mac_node, mac_router, NIC_CLIENT4, NIC_LB4, 3, 3, 0,
		     &got, 0);
	pkt_icmp_err(&want, mac_node, mac_router, NIC_NODE4, NIC_REMOTE4, 3, 3,
		     0, &reply, 0);
	expect_xdp(&err, XDP_PASS, &want);
	/* a local endpoint's flow: to the pod, the client kept */
	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP, 2, NIC_POD4_A, 53);
	from_out(&in, NIC_CLIENT4, 33333, NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP,
		 0);
	expect_xdp(&in, XDP_PASS, NULL);
	from_out(&got, NIC_NODE4, NIC_NODEPORT, NIC_CLIENT4, 33333, IPPROTO_UDP,
		 0);
	from_out(&reply, NIC_POD4_A, 53, NIC_CLIENT4, 33333, IPPROTO_UDP, 0);
	pkt_icmp_err(&err, mac_node, mac_router, NIC_CLIENT4, NIC_NODE4, 3, 3,
		     0, &got, 0);
	pkt_icmp_err(&want, mac_node, mac_router, NIC_CLIENT4, NIC_POD4_A, 3, 3,
		     0, &reply, 0);
	expect_xdp(&err, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_XLATED), 2);
}

Test(node_nic, a_local_endpoints_error_leaves_by_the_nic_as_the_service)
{
	struct pkt in, sent, err, want;

	one_endpoint(NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP, 1, NIC_POD4_A, 53);
	from_out(&in, NIC_CLIENT4, 33333, NIC_NODE4, NIC_NODEPORT, IPPROTO_UDP,
		 0);
	from_out(&sent, NIC_CLIENT4, 33333, NIC_POD4_A, 53, IPPROTO_UDP, 0);
	expect_xdp(&in, XDP_PASS, &sent);
	/* the pod's port unreachable, at its interface: from node:NodePort
	 * about the packet the client sent, out by the NIC */
	pkt_icmp_err(&err, mac_node, mac_pod, NIC_POD4_A, NIC_CLIENT4, 3, 3, 0,
		     &sent, 0);
	pkt_icmp_err(&want, mac_node, mac_pod, NIC_NODE4, NIC_CLIENT4, 3, 3, 0,
		     &in, 0);
	expect_pod(&err, TC_ACT_REDIRECT, &want);
	cr_expect_eq(tc_counter(LBD_NODE_TC_ICMP_XLATED), 1);
}

Test(node_nic, errors_about_no_flow_pass_and_cut_short_ones_are_dropped)
{
	struct pkt in, sent, other, err;
	int port;

	one_endpoint(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_REMOTE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_ACK);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP);
	from_out(&sent, NIC_NODE4, port, NIC_REMOTE4, 8080, IPPROTO_TCP,
		 PKT_TCP_ACK);
	/* another SNAT port, a port of the node's own, another endpoint */
	from_out(&other, NIC_NODE4, port == NIC_SNAT_MAX ? port - 1 : port + 1,
		 NIC_REMOTE4, 8080, IPPROTO_TCP, PKT_TCP_ACK);
	pkt_icmp_err(&err, mac_node, mac_router, NIC_REMOTE4, NIC_NODE4, 3, 3,
		     0, &other, 0);
	expect_xdp(&err, XDP_PASS, &err);
	from_out(&other, NIC_NODE4, 40000, NIC_REMOTE4, 8080, IPPROTO_TCP,
		 PKT_TCP_ACK);
	pkt_icmp_err(&err, mac_node, mac_router, NIC_REMOTE4, NIC_NODE4, 3, 3,
		     0, &other, 0);
	expect_xdp(&err, XDP_PASS, &err);
	from_out(&other, NIC_NODE4, port, "203.0.113.21", 8080, IPPROTO_TCP,
		 PKT_TCP_ACK);
	pkt_icmp_err(&err, mac_node, mac_router, "203.0.113.21", NIC_NODE4, 3,
		     3, 0, &other, 0);
	expect_xdp(&err, XDP_PASS, &err);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_XLATED), 0);
	/* about the flow, its quote cut after the ports */
	pkt_icmp_err(&err, mac_node, mac_router, "203.0.113.254", NIC_NODE4, 3,
		     4, 1400, &sent, 20 + 4);
	expect_xdp(&err, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_MALFORMED), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_XLATED), 0);
}

/* DSR (Services with LBD_NODE_SVC_F_GENEVE) */

static void geneve_svc(const char *svc, int port, int proto, __u32 id,
		       const char *ep, int ep_port)
{
	struct node_endpoint e = nt_ep(ep, ep_port, 1, true, true, false);

	svc_set(svc, port, proto, id, LBD_NODE_SVC_F_GENEVE);
	eps_set(id, &e, 1);
}

/* The flow hash of a client's packet (seed 7, as nic_setup's), from
 * lbd's hash function: the outer UDP source port and IPv6 flow label. */
static uint32_t flow_hash(const char *client, int cport, int sport, int proto)
{
	struct pkt_addr c = pkt_ip(client);
	__u32 ports = LBD_PORTS(htons(cport), htons(sport));

	if (c.family == AF_INET)
		return lbd_flow_hash4(7, c.v4.s_addr, ports, proto);
	return lbd_flow_hash6(7, (const __be32 *)&c.v6, ports, proto);
}

/*
 * What the NIC path sends for a client's packet of a DSR flow: the
 * router's frame as received, outer IP from the node to outer_dst (TTL
 * 64, ID 0, no DF: the inner packet has none), UDP to 6081 with checksum
 * 0, Geneve (VNI 2, the C flag, Cilium's option with the Service address
 * and port), inner Ethernet as the outer, the client's packet translated
 * to the endpoint. Built from scratch, the inner checksums the builder's.
 */
static void want_dsr(struct pkt *w, const char *client, int cport,
		     const char *svc, int sport, const char *ep, int eport,
		     const char *outer_dst, int proto, uint8_t flags,
		     size_t payload)
{
	static const char bytes[PKT_MAX] = "lbd-node";
	struct pkt_addr c = pkt_ip(client);
	const char *node = c.family == AF_INET ? NIC_NODE4 : NIC_NODE6;
	uint32_t h = flow_hash(client, cport, sport, proto);

	pkt_init(w);
	pkt_eth(w, mac_node, mac_router);
	if (c.family == AF_INET) {
		pkt_ipv4(w, pkt_ip(node), pkt_ip(outer_dst), NULL);
	} else {
		struct pkt_ipv6_opts o = { .flowlabel = h & 0xfffff };

		pkt_ipv6(w, pkt_ip(node), pkt_ip(outer_dst), &o);
	}
	pkt_udp(w, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	pkt_geneve_dsr(w, 2, pkt_ip(svc), (uint16_t)sport);
	pkt_eth(w, mac_node, mac_router);
	pkt_ip_hdr(w, c, pkt_ip(ep));
	if (proto == IPPROTO_TCP)
		pkt_tcp(w, cport, eport, flags, 1000,
			flags & PKT_TCP_ACK ? 1 : 0);
	else
		pkt_udp(w, cport, eport, false);
	pkt_bytes(w, bytes, payload);
	pkt_finish(w);
}

/* The entries of the NIC path's flow map. */
static int nat_entries(void)
{
	struct lbd_node_nat_key k, next;
	int fd = node_nic_nat_fd(xx), n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* The first packet and a later one of a flow, TCP and UDP, from client
 * to svc:sport, sent to endpoint ep:8080 by way of outer_dst. */
static void dsr_both_protocols(const char *client, const char *svc,
			       const char *ep, const char *outer_dst)
{
	struct pkt in, want;
	struct lbd_node_nic_nat v;
	int i, proto;

	for (i = 0; i < 2; i++) {
		proto = i ? IPPROTO_UDP : IPPROTO_TCP;
		geneve_svc(svc, 80, proto, 1 + i, ep, 8080);
		from_out(&in, client, 40000, svc, 80, proto, PKT_TCP_SYN);
		want_dsr(&want, client, 40000, svc, 80, ep, 8080, outer_dst,
			 proto, PKT_TCP_SYN, 8);
		expect_xdp(&in, XDP_PASS, &want);
		from_out(&in, client, 40000, svc, 80, proto, PKT_TCP_ACK);
		want_dsr(&want, client, 40000, svc, 80, ep, 8080, outer_dst,
			 proto, PKT_TCP_ACK, 8);
		expect_xdp(&in, XDP_PASS, &want);
		v = fwd_entry(client, 40000, svc, 80, proto);
		cr_expect_eq(v.flags &
				     (LBD_NODE_NIC_F_DSR | LBD_NODE_NIC_F_SNAT),
			     LBD_NODE_NIC_F_DSR);
	}
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 2);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 4);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_SNAT), 0);
	/* forward entries only: the endpoint's node answers the client */
	cr_expect_eq(nat_entries(), 2);
}

Test(node_nic, dsr4_to_a_directly_connected_endpoint)
{
	dsr_both_protocols(NIC_CLIENT4, NIC_LB4, NIC_REMOTE4, NIC_REMOTE4);
}

Test(node_nic, dsr4_to_a_pod_cidr_goes_to_its_gateway)
{
	dsr_both_protocols(NIC_CLIENT4, NIC_NODE4, NIC_GW_POD4, NIC_GW4);
}

Test(node_nic, dsr6_to_a_directly_connected_endpoint)
{
	dsr_both_protocols(NIC_CLIENT6, NIC_NODE6, NIC_REMOTE6, NIC_REMOTE6);
}

Test(node_nic, dsr6_to_a_pod_cidr_goes_to_its_gateway)
{
	dsr_both_protocols(NIC_CLIENT6, NIC_NODE6, NIC_GW_POD6, NIC_GW6);
}

/* A UDP packet from the client to svc:80 whose IP packet is ip_len
 * bytes long. */
static void udp_sized(struct pkt *p, const char *svc, size_t ip_len)
{
	static const char bytes[PKT_MAX] = "lbd-node";

	pkt_init(p);
	pkt_eth(p, mac_node, mac_router);
	pkt_ip_hdr(p, pkt_ip(NIC_CLIENT4), pkt_ip(svc));
	pkt_udp(p, 33333, 80, false);
	pkt_bytes(p, bytes, ip_len - 28);
	pkt_finish(p);
}

Test(node_nic, dsr_packet_over_the_routes_mtu_is_dropped)
{
	struct pkt in, want;

	/* route MTU 1000: 1000 - 62 bytes of Geneve take 938; the packet
	 * has no DF, so no error is sent (nic_ptb.h) */
	geneve_svc(NIC_LB4, 80, IPPROTO_UDP, 1, NIC_MTU_POD4, 53);
	udp_sized(&in, NIC_LB4, 939);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 1);
	udp_sized(&in, NIC_LB4, 938);
	want_dsr(&want, NIC_CLIENT4, 33333, NIC_LB4, 80, NIC_MTU_POD4, 53,
		 NIC_GW4, IPPROTO_UDP, 0, 938 - 28);
	cr_assert_eq(want.len, 14 + 1000);
	expect_xdp(&in, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 0);
}

/* A TCP ACK from client:40000 to svc:80 whose IP packet is ip_len bytes
 * long, IPv4 with DF set, its payload counting bytes. */
static void tcp_sized_df(struct pkt *p, const char *client, const char *svc,
			 size_t ip_len)
{
	static uint8_t bytes[PKT_MAX];
	struct pkt_addr c = pkt_ip(client);
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)i;
	pkt_init(p);
	pkt_eth(p, mac_node, mac_router);
	if (c.family == AF_INET) {
		struct pkt_ipv4_opts o = { .frag = 0x4000 };

		pkt_ipv4(p, c, pkt_ip(svc), &o);
	} else {
		pkt_ipv6(p, c, pkt_ip(svc), NULL);
	}
	pkt_tcp(p, 40000, 80, PKT_TCP_ACK, 1000, 1);
	pkt_bytes(p, bytes, ip_len - (c.family == AF_INET ? 40 : 60));
	pkt_finish(p);
}

/*
 * The error the client gets about its packet in: to the router's MAC
 * from the node's, from the Service address svc to the client (IPv4: TOS
 * 0xc0, TTL 64, ID 0, no DF; IPv6: hop limit 64), fragmentation needed
 * (3/4) or packet too big (2/0) with mtu, quoting as much of the packet
 * as fits 576 bytes (IPv4, RFC 1812 4.3.2.3) or 1280 (IPv6, RFC 4443 2.4
 * (c)), rounded down to 4.
 */
static void want_too_big(struct pkt *w, const struct pkt *in,
			 const char *client, const char *svc, uint32_t mtu)
{
	struct pkt_addr c = pkt_ip(client);
	size_t ip_len = in->len - 14, quote;

	pkt_init(w);
	pkt_eth(w, mac_router, mac_node);
	if (c.family == AF_INET) {
		struct pkt_ipv4_opts o = { .tos = 0xc0 };

		pkt_ipv4(w, pkt_ip(svc), c, &o);
		pkt_icmp4(w, 3, 4, mtu);
		quote = (ip_len < 576 - 28 ? ip_len : 576 - 28) & ~(size_t)3;
	} else {
		pkt_ipv6(w, pkt_ip(svc), c, NULL);
		pkt_icmp6(w, 2, 0, mtu);
		quote = (ip_len < 1280 - 48 ? ip_len : 1280 - 48) & ~(size_t)3;
	}
	pkt_append(w, in, 14, quote);
	pkt_finish(w);
}

Test(node_nic, dsr4_packet_with_df_over_the_mtu_gets_frag_needed)
{
	struct pkt in, want;

	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_MTU_POD4, 8080);
	tcp_sized_df(&in, NIC_CLIENT4, NIC_LB4, 939);
	want_too_big(&want, &in, NIC_CLIENT4, NIC_LB4, 1000 - 62);
	/* the quote cut at 548 bytes: the error is 576 long */
	cr_assert_eq(want.len, 14 + 576);
	expect_xdp(&in, XDP_TX, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), 0);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 1);
	/* the MTU it tells is taken */
	tcp_sized_df(&in, NIC_CLIENT4, NIC_LB4, 938);
	expect_xdp(&in, XDP_PASS, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 1);
}

Test(node_nic, dsr_too_big_error_keeps_the_frames_vlan_tag)
{
	static uint8_t bytes[PKT_MAX];
	struct pkt_ipv4_opts df = { .frag = 0x4000 }, o = { .tos = 0xc0 };
	struct pkt in, want;

	geneve_svc(NIC_LB4, 80, IPPROTO_UDP, 1, NIC_MTU_POD4, 53);
	pkt_init(&in);
	pkt_eth(&in, mac_node, mac_router);
	pkt_vlan(&in, 0x8100, 7);
	pkt_ipv4(&in, pkt_ip(NIC_CLIENT4), pkt_ip(NIC_LB4), &df);
	pkt_udp(&in, 33333, 80, false);
	pkt_bytes(&in, bytes, 1000 - 28);
	pkt_finish(&in);
	pkt_init(&want);
	pkt_eth(&want, mac_router, mac_node);
	pkt_vlan(&want, 0x8100, 7);
	pkt_ipv4(&want, pkt_ip(NIC_LB4), pkt_ip(NIC_CLIENT4), &o);
	pkt_icmp4(&want, 3, 4, 1000 - 62);
	pkt_append(&want, &in, 18, 576 - 28);
	pkt_finish(&want);
	expect_xdp(&in, XDP_TX, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 1);
}

Test(node_nic, dsr6_packet_over_the_mtu_gets_packet_too_big)
{
	struct pkt in, want;

	geneve_svc(NIC_NODE6, 80, IPPROTO_TCP, 1, NIC_MTU_POD6, 8080);
	tcp_sized_df(&in, NIC_CLIENT6, NIC_NODE6, 1400 - 94 + 1);
	want_too_big(&want, &in, NIC_CLIENT6, NIC_NODE6, 1400 - 94);
	/* the quote cut at 1232 bytes: the error is 1280 long */
	cr_assert_eq(want.len, 14 + 1280);
	expect_xdp(&in, XDP_TX, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), 0);
	tcp_sized_df(&in, NIC_CLIENT6, NIC_NODE6, 1400 - 94);
	expect_xdp(&in, XDP_PASS, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_FORWARD), 1);
}

Test(node_nic, dsr_packet_too_big_below_the_minimum_mtu_is_dropped)
{
	struct pkt in;

	/* 1360 - 94 = 1266: no client can be told less than 1280 */
	geneve_svc(NIC_NODE6, 80, IPPROTO_TCP, 1, NIC_TINY_POD6, 8080);
	tcp_sized_df(&in, NIC_CLIENT6, NIC_NODE6, 1300);
	expect_xdp(&in, XDP_DROP, NULL);
	/* 120 - 62 = 58: nor less than 68 */
	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 2, NIC_TINY_POD4, 8080);
	tcp_sized_df(&in, NIC_CLIENT4, NIC_LB4, 100);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 2);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), 2);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 0);
}

/* Sources that are no one host get no error (RFC 1122 3.2.2), as from
 * the LB role (lib/icmp_err.h). (From IPv6 multicast sources no flow
 * begins: the kernel's FIB does not forward from them.) */
Test(node_nic, dsr_too_big_from_a_source_that_is_no_host_is_dropped)
{
	static const char *const src[] = { "0.1.2.3", "127.0.0.2", "224.0.0.5",
					   "240.0.0.1", "255.255.255.255" };
	struct pkt in;
	size_t i, n = sizeof(src) / sizeof(src[0]);

	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_MTU_POD4, 8080);
	for (i = 0; i < n; i++) {
		tcp_sized_df(&in, src[i], NIC_LB4, 1200);
		expect_xdp(&in, XDP_DROP, NULL);
	}
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), n);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), n);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 0);
	/* a host next to them is answered */
	tcp_sized_df(&in, "1.0.0.1", NIC_LB4, 1200);
	expect_xdp(&in, XDP_TX, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 1);
}

Test(node_nic, dsr_too_big_errors_are_rate_limited_per_cpu)
{
	struct pkt in, want;
	uint8_t out[PKT_MAX];
	cpu_set_t cpus, old;
	int i, r = XDP_TX, sent, dropped = 0;
	size_t len;

	/* one CPU's bucket: on another, the test would start a full one */
	cr_assert_eq(sched_getaffinity(0, sizeof(old), &old), 0);
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	cr_assert_eq(sched_setaffinity(0, sizeof(cpus), &cpus), 0);
	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_MTU_POD4, 8080);
	tcp_sized_df(&in, NIC_CLIENT4, NIC_LB4, 1200);
	want_too_big(&want, &in, NIC_CLIENT4, NIC_LB4, 1000 - 62);
	/* a full bucket: the burst of 20 (LBD_NODE_DEFAULT_ICMP_BURST) */
	for (i = 0; i < LBD_NODE_DEFAULT_ICMP_BURST; i++)
		expect_xdp(&in, XDP_TX, &want);
	/* then 100 a second: runs of a few microseconds soon find it
	 * empty (bounded: 2000 runs would have to take 20 s) */
	for (sent = i; i < 2000 && r == XDP_TX; i++) {
		len = sizeof(out);
		r = run(node_nic_prog_fd(xx), &in, out, &len);
		sent += r == XDP_TX;
	}
	sched_setaffinity(0, sizeof(old), &old);
	cr_assert_eq(r, XDP_DROP, "no error was held back in %d", i);
	/* silently: the packet as it came, no error made of it */
	cr_assert(len == in.len && !memcmp(out, in.buf, len));
	dropped = i - sent;
	cr_expect_eq(dropped, 1);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_RATE_LIMITED), (__u64)dropped);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), (__u64)sent);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG), 0);
}

/* datapath.icmp_rate = 0: no error at all, the packet dropped as it
 * came and counted as held back. */
Test(node_nic, dsr_too_big_with_icmp_rate_0_sends_no_error)
{
	struct pkt in;

	node_nic_close(xx);
	nic_open_rate(0);
	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_MTU_POD4, 8080);
	tcp_sized_df(&in, NIC_CLIENT4, NIC_LB4, 1200);
	expect_xdp(&in, XDP_DROP, &in);
	cr_expect_eq(counter(LBD_NODE_NIC_ICMP_RATE_LIMITED), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_TOO_BIG_ICMP), 0);
}

Test(node_nic, dsr_by_a_gateway_of_the_other_family_is_dropped)
{
	struct pkt in;

	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_V6GW_POD4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_DSR_GW_FAMILY), 1);
	cr_expect_eq(nat_entries(), 0);
}

Test(node_nic, dsr_service_with_a_local_endpoint_keeps_the_local_path)
{
	struct pkt in, want;

	geneve_svc(NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP, 1, NIC_POD4_A, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_NODE4, NIC_NODEPORT, IPPROTO_TCP,
		 PKT_TCP_SYN);
	from_out(&want, NIC_CLIENT4, 40000, NIC_POD4_A, 8080, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_LOCAL), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 0);
}

Test(node_nic, snat_service_beside_a_dsr_one_is_still_snated)
{
	struct pkt in, want;
	int port;

	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_REMOTE4, 8080);
	one_endpoint(NIC_LB4, 81, IPPROTO_TCP, 2, NIC_REMOTE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 81, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, NULL);
	port = snat_port_of(NIC_CLIENT4, 40000, NIC_LB4, 81, IPPROTO_TCP);
	from_out(&want, NIC_NODE4, port, NIC_REMOTE4, 8080, IPPROTO_TCP,
		 PKT_TCP_SYN);
	expect_xdp(&in, XDP_PASS, &want);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_SNAT), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 0);
}

/* The outer source is the NIC's address when the packet is sent: a new
 * address of the NIC is taken by the flows under way, a NIC without one
 * of the family drops them (no_snat_address). */
Test(node_nic, dsr_outer_source_is_the_nics_address_now)
{
	struct pkt_addr a4 = pkt_ip("203.0.113.2");
	union lbd_addr n4 = { 0 };
	struct pkt in, want;
	long ip;

	geneve_svc(NIC_LB4, 80, IPPROTO_TCP, 1, NIC_REMOTE4, 8080);
	from_out(&in, NIC_CLIENT4, 40000, NIC_LB4, 80, IPPROTO_TCP,
		 PKT_TCP_SYN);
	want_dsr(&want, NIC_CLIENT4, 40000, NIC_LB4, 80, NIC_REMOTE4, 8080,
		 NIC_REMOTE4, IPPROTO_TCP, PKT_TCP_SYN, 8);
	expect_xdp(&in, XDP_PASS, &want);
	memcpy(&n4.v4, &a4.v4, 4);
	cr_assert_eq(node_nic_set(xx, (int)if_nametoindex("ntnic0"), &n4, NULL),
		     0);
	/* the same packet, the outer source (and so the header checksum)
	 * the new address */
	ip = pkt_off(&want, PKT_IPV4, 0);
	memcpy(want.buf + ip + 12, &a4.v4, 4);
	want.buf[ip + 10] = want.buf[ip + 11] = 0;
	{
		uint16_t c = pkt_csum(want.buf + ip, 20, 0);

		want.buf[ip + 10] = (uint8_t)(c >> 8);
		want.buf[ip + 11] = (uint8_t)c;
	}
	expect_xdp(&in, XDP_PASS, &want);
	cr_assert_eq(
		node_nic_set(xx, (int)if_nametoindex("ntnic0"), NULL, NULL), 0);
	expect_xdp(&in, XDP_DROP, NULL);
	cr_expect_eq(counter(LBD_NODE_NIC_NO_SNAT_ADDR), 1);
	cr_expect_eq(counter(LBD_NODE_NIC_NEW_DSR), 1);
}
