// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Second chance in the backend companion (bpf/backend/second_chance.h),
 * byte for byte: the tc ingress program under BPF_PROG_TEST_RUN on skbs,
 * for IPv4 and IPv6 and both Geneve forms of flow_state "backends"
 * (Cilium's with the inner packet translated, lbd's untranslated one), with
 * real sockets where the program looks for one.
 *
 * Each test runs in a network namespace of its own, made in the test's
 * worker process and gone with it: the skb's namespace, where the
 * program's socket lookups and FIB lookups happen, is the test's.
 *
 * be0 (02:..:30) 198.18.6.10/24 2001:db8:6::10/64, this backend; its
 *   veth peer be0p stands for the wire. The LB and next hop 198.18.6.1 /
 *   2001:db8:6::1 at 02:..:31 (permanent).
 *   198.18.7.0/24, 2001:db8:7::/64  other backends (peers), via the LB's
 *                                   address as next hop
 *   192.0.2.0/24, 2001:db8:c::/64   clients, the same way
 * lo: the VIP 203.0.113.1 / 2001:db8:f::1, and a client address of this
 *   node's own, 192.0.2.1 / 2001:db8:c::1, for connected sockets.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bemaps.h"
#include "config.h"
#include "pkt.h"
#include "tc_backend.skel.h"

static const uint8_t MAC_BE0[6] = { 0x02, 0, 0, 0, 0, 0x30 };
static const uint8_t MAC_NH[6] = { 0x02, 0, 0, 0, 0, 0x31 };
/* the inner Ethernet header of Cilium's form, as the LB writes it */
static const uint8_t MAC_IN_D[6] = { 0x02, 0, 0, 0, 0, 0x41 };
static const uint8_t MAC_IN_S[6] = { 0x02, 0, 0, 0, 0, 0x42 };

static const char *const sc_env[] = {
	"ip link set lo up",
	"ip link add be0 address 02:00:00:00:00:30 type veth peer name be0p "
	"address 02:00:00:00:00:31",
	"ip link set be0 up",
	"ip link set be0p up",
	"ip addr add 198.18.6.10/24 dev be0",
	"ip addr add 2001:db8:6::10/64 dev be0 nodad",
	"ip addr add 203.0.113.1/32 dev lo",
	"ip addr add 2001:db8:f::1/128 dev lo",
	"ip addr add 192.0.2.1/32 dev lo",
	"ip addr add 2001:db8:c::1/128 dev lo",
	"ip neigh add 198.18.6.1 lladdr 02:00:00:00:00:31 nud permanent dev be0",
	"ip neigh add 2001:db8:6::1 lladdr 02:00:00:00:00:31 nud permanent "
	"dev be0",
	"ip route add 198.18.7.0/24 via 198.18.6.1",
	"ip -6 route add 2001:db8:7::/64 via 2001:db8:6::1",
	"ip route add 192.0.2.0/24 via 198.18.6.1",
	"ip -6 route add 2001:db8:c::/64 via 2001:db8:6::1",
	/* bpf_fib_lookup answers only for an interface that forwards */
	"sysctl -qw net.ipv4.conf.be0.forwarding=1",
	"sysctl -qw net.ipv6.conf.be0.forwarding=1",
	NULL,
};

#define SC_CONF                                                   \
	"role = \"backend\";\n"                                   \
	"backend_node = { interface = \"be0\";\n"                 \
	"\tlb_sources = ( \"198.18.6.1\", \"2001:db8:6::1\" );\n" \
	"\tpeers = ( \"198.18.7.0/24\", \"2001:db8:7::/64\" ); };\n"

/* The addresses of one family. */
struct fam {
	int af;
	const char *node, *lb, *prev, *peer, *stranger, *noroute;
	const char *client, *client_remote, *vip;
};

static const struct fam F4 = {
	AF_INET,      "198.18.6.10", "198.18.6.1", "198.18.7.20", "198.18.7.21",
	"198.18.8.5", "198.18.9.20", "192.0.2.1",  "192.0.2.2",	  "203.0.113.1",
};
static const struct fam F6 = {
	AF_INET6,	  "2001:db8:6::10", "2001:db8:6::1",  "2001:db8:7::20",
	"2001:db8:7::21", "2001:db8:8::5",  "2001:db8:9::20", "2001:db8:c::1",
	"2001:db8:c::2",  "2001:db8:f::1",
};

/* A family and a form: Cilium's (inner translated to this node's
 * address, port 8080; the previous owner's port 8081) or lbd's
 * untranslated one (inner to the VIP, port 80). */
struct fx {
	const struct fam *f;
	bool cilium;
};

static const struct fx FXS[] = {
	{ &F4, true },
	{ &F4, false },
	{ &F6, true },
	{ &F6, false },
};
#define FOR_EACH_FX(x)                                                         \
	for (const struct fx *x = FXS; x < FXS + sizeof(FXS) / sizeof(FXS[0]); \
	     x++)

static const char *fx_name(const struct fx *x)
{
	static char b[32];

	snprintf(b, sizeof(b), "%s %s", x->f->af == AF_INET ? "IPv4" : "IPv6",
		 x->cilium ? "Cilium's form" : "untranslated form");
	return b;
}

static const char *fx_dst(const struct fx *x)
{
	return x->cilium ? x->f->node : x->f->vip;
}

static uint16_t fx_port(const struct fx *x)
{
	return x->cilium ? 8080 : 80;
}

/* One encapsulated TCP segment. */
struct seg {
	const char *osrc, *odst;
	uint8_t ttl;
	uint8_t flags; /* of lbd's option */
	const char *prev;
	uint16_t prev_port;
	const char *isrc, *idst;
	uint16_t sport, dport;
	uint8_t tcp;
	uint32_t seq, ack;
};

static const char PAYLOAD[] = "second chance";

static void inner(struct pkt *p, const struct seg *s)
{
	pkt_ip_hdr(p, pkt_ip(s->isrc), pkt_ip(s->idst));
	pkt_tcp(p, s->sport, s->dport, s->tcp, s->seq, s->ack);
	pkt_bytes(p, PAYLOAD, sizeof(PAYLOAD) - 1);
}

static void encap(struct pkt *p, const struct fx *x, const struct seg *s,
		  const uint8_t dmac[6], const uint8_t smac[6])
{
	struct pkt_addr vip = pkt_ip(x->f->vip);

	pkt_init(p);
	pkt_eth(p, dmac, smac);
	if (x->f->af == AF_INET) {
		struct pkt_ipv4_opts o = { .ttl = s->ttl };

		pkt_ipv4(p, pkt_ip(s->osrc), pkt_ip(s->odst), &o);
	} else {
		struct pkt_ipv6_opts o = { .hlim = s->ttl };

		pkt_ipv6(p, pkt_ip(s->osrc), pkt_ip(s->odst), &o);
	}
	pkt_udp(p, 49152, 6081, true);
	pkt_geneve_sc(p, 2, x->cilium ? &vip : NULL, 80, s->flags,
		      pkt_ip(s->prev), s->prev_port);
	if (x->cilium)
		pkt_eth(p, MAC_IN_D, MAC_IN_S);
	inner(p, s);
	pkt_finish(p);
}

/* A segment from the LB to this node, the previous owner named. */
static struct seg lb_seg(const struct fx *x, const char *client, uint16_t sport,
			 uint8_t tcp)
{
	struct seg s = {
		.osrc = x->f->lb,
		.odst = x->f->node,
		.ttl = 64,
		.flags = 0x01, /* LBD_SC_F_PREV */
		.prev = x->f->prev,
		.prev_port = x->cilium ? 8081 : 80,
		.isrc = client,
		.idst = fx_dst(x),
		.sport = sport,
		.dport = fx_port(x),
		.tcp = tcp,
		.seq = 1001,
		.ack = 5001,
	};

	return s;
}

/* What the stack here gets: the inner packet behind be0's Ethernet
 * header as it came. */
static void delivered(struct pkt *p, const struct seg *s)
{
	pkt_init(p);
	pkt_eth(p, MAC_BE0, MAC_NH);
	inner(p, s);
	pkt_finish(p);
}

/* What leaves for the previous owner. */
static void passed_on(struct pkt *p, const struct fx *x, const struct seg *s)
{
	struct seg o = *s;

	o.osrc = s->odst;
	o.odst = s->prev;
	o.ttl = s->ttl - 1;
	o.flags = s->flags | 0x02; /* LBD_SC_F_PASSED */
	if (x->cilium) {
		o.idst = s->prev;
		o.dport = s->prev_port;
	}
	encap(p, x, &o, MAC_NH, MAC_BE0);
}

static struct tc_backend *skel;

static void sc_setup(void)
{
	struct lbd_config *c;
	struct config_diag d;
	struct bpf_map *m;
	const char *addrs[4] = { F4.node, F6.node, F4.lb, F6.lb };
	__u8 one = 1;
	int i, err;

	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	for (i = 0; sc_env[i]; i++) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null", sc_env[i]);
		cr_assert_eq(system(cmd), 0, "failed: %s", sc_env[i]);
	}
	skel = tc_backend__open();
	cr_assert_not_null(skel);
	/* nothing pinned: the maps go with the test */
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(skel->maps.lbd_be_flows, 1024);
	err = tc_backend__load(skel);
	cr_assert_eq(err, 0, "loading bpf/backend/backend.bpf.c: %s", strerror(-err));

	/* this node's addresses, as lbd's sync_set writes them, and the
	 * LB's, as bemaps_sync_sources does */
	for (i = 0; i < 4; i++) {
		struct pkt_addr a = pkt_ip(addrs[i]);
		struct lbd_addr_key k = { 0 };
		struct lbd_conf_addr ca = { 0 };
		struct lbd_src_key sk;

		k.family = a.family == AF_INET ? LBD_AF_INET : LBD_AF_INET6;
		memcpy(&k.addr, &a.v6, a.family == AF_INET ? 4 : 16);
		ca.family = k.family;
		ca.prefixlen = a.family == AF_INET ? 32 : 128;
		ca.addr = k.addr;
		bemaps_src_key(&ca, &sk);
		cr_assert_eq(
			i < 2 ? bpf_map_update_elem(
					bpf_map__fd(skel->maps.lbd_be_local),
					&k, &one, BPF_ANY) :
				bpf_map_update_elem(
					bpf_map__fd(skel->maps.lbd_be_sources),
					&sk, &one, BPF_ANY),
			0);
	}
	/* the peers through the config and lbd's own code */
	cr_assert_eq(config_load_string(SC_CONF, "test.conf", &c, &d), 0);
	config_diag_free(&d);
	err = bemaps_sync_peers(bpf_map__fd(skel->maps.lbd_be_peers4),
				bpf_map__fd(skel->maps.lbd_be_peers6),
				c->node.peers, c->node.n_peers);
	config_free(c);
	cr_assert_eq(err, 0, "bemaps_sync_peers: %s", strerror(-err));
}

static void sc_teardown(void)
{
	tc_backend__destroy(skel);
}

TestSuite(second_chance, .init = sc_setup, .fini = sc_teardown);

static uint64_t reason(enum lbd_reason r)
{
	int n = libbpf_num_possible_cpus(), i;
	struct lbd_counter c[n];
	__u32 k = r;
	uint64_t sum = 0;

	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.lbd_be_stats),
					 &k, c),
		     0);
	for (i = 0; i < n; i++)
		sum += c[i].packets;
	return sum;
}

/* Runs the ingress program on in as an skb arriving on be0; asserts the
 * verdict, the one reason counted and, unless want is NULL, the bytes. */
static void expect(const struct fx *x, const struct pkt *in, int want_act,
		   enum lbd_reason want_r, const struct pkt *want)
{
	struct __sk_buff ctx = { .ifindex = if_nametoindex("be0") };
	uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
		    .data_size_in = (__u32)in->len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	uint64_t before = reason(want_r);

	cr_assert_eq(bpf_prog_test_run_opts(
			     bpf_program__fd(skel->progs.lbd_tc_ingress), &o),
		     0, "BPF_PROG_TEST_RUN: %s", strerror(errno));
	cr_assert_eq((int)o.retval, want_act, "%s: verdict %d, want %d",
		     fx_name(x), (int)o.retval, want_act);
	cr_assert_eq(reason(want_r), before + 1, "%s: reason %d not counted",
		     fx_name(x), want_r);
	if (!want)
		return;
	if (o.data_size_out != want->len || memcmp(out, want->buf, want->len)) {
		pkt_diff(stderr, out, o.data_size_out, want->buf, want->len);
		cr_assert_fail("%s: output packet differs (got | want above)",
			       fx_name(x));
	}
}

static void expect_delivered(const struct fx *x, const struct seg *s,
			     enum lbd_reason r)
{
	struct pkt in, want;

	encap(&in, x, s, MAC_BE0, MAC_NH);
	delivered(&want, s);
	expect(x, &in, TC_ACT_OK, r, &want);
}

static void expect_passed_on(const struct fx *x, const struct seg *s)
{
	struct pkt in, want;

	encap(&in, x, s, MAC_BE0, MAC_NH);
	passed_on(&want, x, s);
	expect(x, &in, TC_ACT_REDIRECT, LBD_BE_SC_FORWARD, &want);
}

static void sockaddr_of(const char *ip, uint16_t port,
			struct sockaddr_storage *ss, socklen_t *len)
{
	struct pkt_addr a = pkt_ip(ip);

	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = a.v4;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a.v6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
	}
}

/* A TCP socket bound to ip:port (a listener when listening). */
static int tcp_bound(const char *ip, uint16_t port, bool listening)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	sockaddr_of(ip, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s:%u: %s",
		     ip, port, strerror(errno));
	if (listening)
		cr_assert_eq(listen(fd, 16), 0);
	return fd;
}

Test(second_chance, syn_is_delivered)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40001, 0x02);

		expect_delivered(x, &s, LBD_BE_DECAP_GENEVE);
	}
}

/* A connection between this node's client address and the inner
 * destination: the accepted socket is what the program must find. */
Test(second_chance, segment_with_a_local_socket_is_delivered)
{
	FOR_EACH_FX(x)
	{
		int lfd = tcp_bound(fx_dst(x), fx_port(x), true);
		int cfd = tcp_bound(x->f->client, 40002, false), afd;
		struct sockaddr_storage ss;
		socklen_t len;
		struct seg s = lb_seg(x, x->f->client, 40002, 0x10);

		sockaddr_of(fx_dst(x), fx_port(x), &ss, &len);
		cr_assert_eq(connect(cfd, (struct sockaddr *)&ss, len), 0,
			     "connect: %s", strerror(errno));
		afd = accept(lfd, NULL, NULL);
		cr_assert_geq(afd, 0);
		expect_delivered(x, &s, LBD_BE_DECAP_GENEVE);
		/* another client port: no socket, passed on */
		s.sport = 40003;
		expect_passed_on(x, &s);
		close(afd);
		close(cfd);
		close(lfd);
	}
}

Test(second_chance, segment_without_a_socket_is_passed_on)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40004, 0x10);
		int lfd;

		/* nothing listens */
		expect_passed_on(x, &s);
		/* a listener, and an ACK that is not one of its cookies */
		lfd = tcp_bound(fx_dst(x), fx_port(x), true);
		expect_passed_on(x, &s);
		/* a FIN, an RST: mid-flow too */
		s.tcp = 0x11;
		expect_passed_on(x, &s);
		s.tcp = 0x04;
		expect_passed_on(x, &s);
		close(lfd);
	}
}

Test(second_chance, segment_already_passed_on_is_delivered)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40005, 0x10);

		s.flags = 0x03;
		expect_delivered(x, &s, LBD_BE_DECAP_GENEVE);
	}
}

Test(second_chance, segment_without_a_previous_owner_is_delivered)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40006, 0x10);

		s.flags = 0;
		s.prev = x->f->af == AF_INET ? "0.0.0.0" : "::";
		s.prev_port = 0;
		expect_delivered(x, &s, LBD_BE_DECAP_GENEVE);
	}
}

Test(second_chance, segment_without_a_route_to_the_previous_owner_is_delivered)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40007, 0x10);

		s.prev = x->f->noroute;
		expect_delivered(x, &s, LBD_BE_SC_NO_ROUTE);
		/* TTL 1: it could not go on */
		s.prev = x->f->prev;
		s.ttl = 1;
		expect_delivered(x, &s, LBD_BE_SC_NO_ROUTE);
	}
}

/* Without a neighbour entry for the next hop (backends that never spoke
 * to each other) the segment still goes on: the kernel resolves the next
 * hop (bpf_redirect_neigh). Rewritten as always, but for its Ethernet
 * addresses, which are the neighbour's to give. */
Test(second_chance, segment_is_passed_on_before_the_next_hop_is_resolved)
{
	cr_assert_eq(system("ip neigh del 198.18.6.1 dev be0 && "
			    "ip neigh del 2001:db8:6::1 dev be0"),
		     0);
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40008, 0x10);
		struct pkt in, want;

		encap(&in, x, &s, MAC_BE0, MAC_NH);
		passed_on(&want, x, &s);
		memcpy(want.buf, in.buf, 2 * ETH_ALEN);
		expect(x, &in, TC_ACT_REDIRECT, LBD_BE_SC_FORWARD, &want);
	}
}

/*
 * The kernel's SYN-ACK to a SYN from a remote client, sent through be0p
 * as from the wire, with syncookies always on: its sequence number is the
 * cookie. Waits for it at most 5 s.
 */
static uint32_t syn_cookie(const struct fx *x, uint16_t sport, uint32_t isn)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL) };
	struct pkt syn;
	struct timespec t0, t;
	uint8_t buf[2048];
	int fd;

	pkt_init(&syn);
	pkt_eth(&syn, MAC_BE0, MAC_NH);
	pkt_ip_hdr(&syn, pkt_ip(x->f->client_remote), pkt_ip(fx_dst(x)));
	pkt_tcp(&syn, sport, fx_port(x), 0x02, isn, 0);
	pkt_finish(&syn);

	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	cr_assert_geq(fd, 0, "AF_PACKET: %s", strerror(errno));
	sll.sll_ifindex = (int)if_nametoindex("be0p");
	cr_assert_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	cr_assert_eq(send(fd, syn.buf, syn.len, 0), (ssize_t)syn.len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		size_t l4;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		cr_assert_lt(t.tv_sec - t0.tv_sec, 5, "%s: no SYN-ACK",
			     fx_name(x));
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 14 + 20 + 20)
			continue;
		if (buf[12] == 0x08 && buf[13] == 0x00 && buf[14 + 9] == 6)
			l4 = 14 + (size_t)(buf[14] & 0x0f) * 4;
		else if (buf[12] == 0x86 && buf[13] == 0xdd && buf[14 + 6] == 6)
			l4 = 14 + 40;
		else
			continue;
		if ((size_t)n < l4 + 20)
			continue;
		if (buf[l4 + 13] != 0x12 ||
		    (buf[l4] << 8 | buf[l4 + 1]) != fx_port(x) ||
		    (buf[l4 + 2] << 8 | buf[l4 + 3]) != sport)
			continue;
		close(fd);
		return (uint32_t)buf[l4 + 4] << 24 | buf[l4 + 5] << 16 |
		       buf[l4 + 6] << 8 | buf[l4 + 7];
	}
}

Test(second_chance, syncookie_ack_is_delivered)
{
	cr_assert_eq(system("sysctl -qw net.ipv4.tcp_syncookies=2"), 0);
	FOR_EACH_FX(x)
	{
		int lfd = tcp_bound(fx_dst(x), fx_port(x), true);
		struct seg s = lb_seg(x, x->f->client_remote, 40008, 0x10);

		s.seq = 7000;
		s.ack = syn_cookie(x, s.sport, s.seq - 1) + 1;
		expect_delivered(x, &s, LBD_BE_DECAP_GENEVE);
		/* with a wrong cookie it is no one's here (a cookie's low
		 * bits carry an MSS index of 0-3: change more than those) */
		s.ack += 0x10000;
		expect_passed_on(x, &s);
		close(lfd);
	}
}

Test(second_chance, passed_on_segment_from_a_peer_is_delivered)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40009, 0x10);

		s.osrc = x->f->peer;
		s.flags = 0x03;
		expect_delivered(x, &s, LBD_BE_SC_RECEIVED);
		/* whatever it is: a SYN too */
		s.tcp = 0x02;
		expect_delivered(x, &s, LBD_BE_SC_RECEIVED);
	}
}

Test(second_chance, passed_on_segment_from_a_stranger_is_dropped)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40010, 0x10);
		struct pkt in;

		s.osrc = x->f->stranger;
		s.flags = 0x03;
		encap(&in, x, &s, MAC_BE0, MAC_NH);
		expect(x, &in, TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED_PEER, NULL);
		/* not passed on: an untrusted source as before */
		s.flags = 0x01;
		encap(&in, x, &s, MAC_BE0, MAC_NH);
		expect(x, &in, TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED, NULL);
	}
}

Test(second_chance, segment_from_a_peer_not_passed_on_is_dropped)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40011, 0x10);
		struct pkt in;

		s.osrc = x->f->peer;
		encap(&in, x, &s, MAC_BE0, MAC_NH);
		expect(x, &in, TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED_PEER, NULL);
		s.flags = 0;
		encap(&in, x, &s, MAC_BE0, MAC_NH);
		expect(x, &in, TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED_PEER, NULL);
	}
}

/* The Geneve flow the companion recorded for replies: client:sport to
 * backend:port, whose replies get vip:80 as their source. */
static void expect_flow(const struct fx *x, const char *client, uint16_t sport,
			const char *backend, uint16_t port)
{
	struct pkt_addr c = pkt_ip(client), b = pkt_ip(backend);
	struct pkt_addr v = pkt_ip(x->f->vip);
	struct lbd_gnv_key k = { 0 };
	struct lbd_gnv_flow f;
	size_t alen = c.family == AF_INET ? 4 : 16;

	memcpy(&k.client, &c.v6, alen);
	memcpy(&k.backend, &b.v6, alen);
	k.client_port = htons(sport);
	k.backend_port = htons(port);
	k.proto = IPPROTO_TCP;
	k.family = c.family == AF_INET ? LBD_AF_INET : LBD_AF_INET6;
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.lbd_be_flows),
					 &k, &f),
		     0, "%s: no flow recorded for %s:%u", fx_name(x), backend,
		     port);
	cr_assert_eq(memcmp(&f.vip, &v.v6, alen), 0);
	cr_assert_eq(f.port, htons(80));
}

Test(second_chance, cilium_form_flows_are_recorded_for_replies)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40012, 0x02);

		if (!x->cilium)
			continue;
		expect_delivered(x, &s, LBD_BE_DECAP_GENEVE);
		expect_flow(x, s.isrc, s.sport, x->f->node, 8080);
		/* a passed-on segment, as the previous owner receives it */
		s.osrc = x->f->peer;
		s.flags = 0x03;
		s.idst = x->f->node;
		s.dport = 8081;
		s.sport = 40013;
		expect_delivered(x, &s, LBD_BE_SC_RECEIVED);
		expect_flow(x, s.isrc, s.sport, x->f->node, 8081);
	}
}

/* flow_state "lb"'s formats: Cilium's with its DSR option only, or IPIP
 * (IP6IP6) for the untranslated form's cases. */
static void plain(struct pkt *p, const struct fx *x, const struct seg *s)
{
	pkt_init(p);
	pkt_eth(p, MAC_BE0, MAC_NH);
	pkt_ip_hdr(p, pkt_ip(s->osrc), pkt_ip(s->odst));
	if (x->cilium) {
		pkt_udp(p, 49152, 6081, true);
		pkt_geneve_dsr(p, 2, pkt_ip(x->f->vip), 80);
		pkt_eth(p, MAC_IN_D, MAC_IN_S);
	}
	inner(p, s);
	pkt_finish(p);
}

/* These are decapsulated as before; IPIP from a peer is no passed-on
 * segment. */
Test(second_chance, formats_without_lbds_option_are_delivered_as_before)
{
	FOR_EACH_FX(x)
	{
		struct seg s = lb_seg(x, x->f->client_remote, 40014, 0x10);
		struct pkt in, want;

		plain(&in, x, &s);
		delivered(&want, &s);
		expect(x, &in, TC_ACT_OK,
		       x->cilium ? LBD_BE_DECAP_GENEVE : LBD_BE_DECAP_IPIP,
		       &want);
		if (x->cilium) {
			expect_flow(x, s.isrc, s.sport, x->f->node, 8080);
			continue;
		}
		s.osrc = x->f->peer;
		plain(&in, x, &s);
		expect(x, &in, TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED_PEER, NULL);
	}
}

/* lbd's untranslated form carries an IPv4 packet in IPv6 (4-in-6) as
 * IPIP services do: passed on by the outer family, delivered by the
 * inner. */
Test(second_chance, untranslated_4in6_is_passed_on_and_delivered)
{
	const struct fx x = { &F6, false };
	struct seg s = lb_seg(&x, F4.client_remote, 40015, 0x10);
	struct pkt in, want;

	s.idst = F4.vip;
	expect_passed_on(&x, &s);
	s.tcp = 0x02;
	expect_delivered(&x, &s, LBD_BE_DECAP_GENEVE);
	/* and from a peer, passed on */
	s.tcp = 0x10;
	s.osrc = F6.peer;
	s.flags = 0x03;
	encap(&in, &x, &s, MAC_BE0, MAC_NH);
	delivered(&want, &s);
	expect(&x, &in, TC_ACT_OK, LBD_BE_SC_RECEIVED, &want);
}

static size_t trie_keys(int fd, void *keys, size_t ksize, size_t max)
{
	uint8_t k[32], *prev = NULL;
	size_t n = 0;

	while (n < max && !bpf_map_get_next_key(fd, prev, k)) {
		memcpy((uint8_t *)keys + n * ksize, k, ksize);
		prev = (uint8_t *)keys + n++ * ksize;
	}
	return n;
}

/* lbd writes the tries on start and on every reload with the config's
 * prefixes, no more, no less. */
Test(second_chance, peers_follow_the_config)
{
	struct lbd_config *c;
	struct config_diag d;
	struct lbd_peer_key4 k4[8];
	struct lbd_peer_key6 k6[8];
	int fd4 = bpf_map__fd(skel->maps.lbd_be_peers4);
	int fd6 = bpf_map__fd(skel->maps.lbd_be_peers6);
	struct pkt_addr a = pkt_ip("198.18.9.0");

	cr_assert_eq(trie_keys(fd4, k4, sizeof(k4[0]), 8), 1);
	cr_assert_eq(trie_keys(fd6, k6, sizeof(k6[0]), 8), 1);
	cr_assert_eq(config_load_string(
			     "role = \"backend\";\n"
			     "backend_node = { interface = \"be0\";\n"
			     "\tlb_sources = ( \"198.18.6.1\" );\n"
			     "\tpeers = ( \"198.18.7.0/24\", \"198.18.9.1/25\" "
			     "); };\n",
			     "test.conf", &c, &d),
		     0);
	config_diag_free(&d);
	cr_assert_eq(
		bemaps_sync_peers(fd4, fd6, c->node.peers, c->node.n_peers), 0);
	config_free(c);
	cr_assert_eq(trie_keys(fd4, k4, sizeof(k4[0]), 8), 2);
	cr_assert_eq(trie_keys(fd6, k6, sizeof(k6[0]), 8), 0,
		     "the IPv6 prefix left the config");
	cr_assert(k4[0].prefixlen == 25 || k4[1].prefixlen == 25);
	cr_assert(k4[0].addr == a.v4.s_addr || k4[1].addr == a.v4.s_addr,
		  "host bits cleared");
	/* a segment from the prefix that left is no longer a peer's */
	{
		const struct fx x = { &F6, false };
		struct seg s = lb_seg(&x, F6.client_remote, 40016, 0x10);
		struct pkt in;

		s.osrc = F6.peer;
		s.flags = 0x03;
		encap(&in, &x, &s, MAC_BE0, MAC_NH);
		expect(&x, &in, TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED_PEER, NULL);
	}
}
