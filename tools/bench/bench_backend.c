// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-backend: what the backend companion's tc ingress program
 * costs per packet in flow_state "backends" (docs/flow-state.md): a
 * segment delivered here (decapsulated after a socket lookup that finds
 * the connection) and one passed on to the previous owner (a socket
 * lookup that finds none, a FIB lookup, the rewrite and the redirect),
 * beside a segment that names no previous owner (decapsulation alone, as
 * in flow_state "lb") and a trivial tc program (return TC_ACT_OK).
 *
 * Every packet is one BPF_PROG_TEST_RUN call with repeat = 1, and the
 * kernel's own duration of it is summed: a repeat loop runs the program
 * again on the same skb, which the first run decapsulated or rewrote, so
 * it would time another path. The trivial program, timed the same way,
 * is the floor: what a call costs besides the program (the clock reads
 * around it) is in every figure alike. Every round runs every case; the
 * median of the rounds is printed. Each case's verdict and counter are
 * checked: a case that took another path prints no figure.
 *
 * The process runs in a network namespace of its own (be0 and its veth
 * peer, the addresses, routes and permanent neighbour of the datapath
 * test tests/datapath/test_second_chance.c), so that the socket and FIB
 * lookups find what they look for, and nothing is left behind when it
 * exits. Prints figures, asserts nothing.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bemaps.h"
#include "config.h"
#include "pkt.h"
#include "tc_backend.skel.h"

#define BENCH_ROUNDS 7
#define BENCH_PACKETS 20000

static const uint8_t MAC_BE0[6] = { 0x02, 0, 0, 0, 0, 0x30 };
static const uint8_t MAC_NH[6] = { 0x02, 0, 0, 0, 0, 0x31 };
static const uint8_t MAC_IN_D[6] = { 0x02, 0, 0, 0, 0, 0x41 };
static const uint8_t MAC_IN_S[6] = { 0x02, 0, 0, 0, 0, 0x42 };

static const char *const env[] = {
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
	"sysctl -qw net.ipv4.conf.be0.forwarding=1",
	"sysctl -qw net.ipv6.conf.be0.forwarding=1",
	NULL,
};

struct fam {
	int af;
	const char *name, *node, *lb, *prev, *client, *vip;
};

static const struct fam FAMS[2] = {
	{ AF_INET, "IPv4", "198.18.6.10", "198.18.6.1", "198.18.7.20",
	  "192.0.2.1", "203.0.113.1" },
	{ AF_INET6, "IPv6", "2001:db8:6::10", "2001:db8:6::1", "2001:db8:7::20",
	  "2001:db8:c::1", "2001:db8:f::1" },
};

enum bench_kind {
	K_NO_PREV, /* no previous owner named: decapsulated */
	K_LOCAL, /* a local socket: decapsulated */
	K_PASSED, /* no socket: passed on */
	K_MAX,
};

static const char *const kind_name[K_MAX] = {
	"no previous owner, delivered",
	"local socket, delivered",
	"no socket, passed on",
};

struct bench_case {
	const struct fam *f;
	bool cilium;
	enum bench_kind kind;
	struct pkt in;
	int want_act;
	enum lbd_reason want_r;
	uint64_t ns[BENCH_ROUNDS];
	bool wrong;
};

static struct tc_backend *skel;
static int ifindex_be0;

static const char *dst_of(const struct bench_case *c)
{
	return c->cilium ? c->f->node : c->f->vip;
}

static uint16_t port_of(const struct bench_case *c)
{
	return c->cilium ? 8080 : 80;
}

static void build(struct bench_case *c, uint16_t sport)
{
	struct pkt_addr vip = pkt_ip(c->f->vip);
	struct pkt *p = &c->in;

	pkt_init(p);
	pkt_eth(p, MAC_BE0, MAC_NH);
	pkt_ip_hdr(p, pkt_ip(c->f->lb), pkt_ip(c->f->node));
	pkt_udp(p, 49152, 6081, true);
	pkt_geneve_sc(p, 2, c->cilium ? &vip : NULL, 80,
		      c->kind == K_NO_PREV ? 0 : 0x01, pkt_ip(c->f->prev),
		      c->cilium ? 8081 : 80);
	if (c->cilium)
		pkt_eth(p, MAC_IN_D, MAC_IN_S);
	pkt_ip_hdr(p, pkt_ip(c->f->client), pkt_ip(dst_of(c)));
	pkt_tcp(p, sport, port_of(c), 0x10, 1001, 5001);
	pkt_bytes(p, "0123456789abcdef", 16);
	pkt_finish(p);
}

static int sockaddr_of(const char *ip, uint16_t port,
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
	return a.family;
}

/* A connection from client:sport to dst:port, kept open while the
 * process runs; the listener too, as on a real backend. */
static int connect_local(const struct bench_case *c, uint16_t sport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, cfd, afd, one = 1, af;

	af = sockaddr_of(dst_of(c), port_of(c), &ss, &len);
	lfd = socket(af, SOCK_STREAM, 0);
	if (lfd < 0)
		return -errno;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 16) < 0)
		return -errno;
	sockaddr_of(c->f->client, sport, &ss, &len);
	cfd = socket(af, SOCK_STREAM, 0);
	if (cfd < 0 || bind(cfd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	sockaddr_of(dst_of(c), port_of(c), &ss, &len);
	if (connect(cfd, (struct sockaddr *)&ss, len) < 0)
		return -errno;
	afd = accept(lfd, NULL, NULL);
	return afd < 0 ? -errno : 0;
}

static uint64_t reason(enum lbd_reason r)
{
	int n = libbpf_num_possible_cpus(), i;
	struct lbd_counter c[n];
	__u32 k = r;
	uint64_t sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.lbd_be_stats), &k, c))
		return 0;
	for (i = 0; i < n; i++)
		sum += c[i].packets;
	return sum;
}

/* One call, one packet: the action or -1; the kernel's duration added
 * to *ns. */
static int run_one(int fd, const struct pkt *p, uint64_t *ns)
{
	struct __sk_buff ctx = { .ifindex = (__u32)ifindex_be0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf,
		    .data_size_in = (__u32)p->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o) < 0)
		return -1;
	*ns += o.duration;
	return (int)o.retval;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_ns(uint64_t *v, unsigned long packets)
{
	uint64_t s[BENCH_ROUNDS];

	memcpy(s, v, sizeof(s));
	qsort(s, BENCH_ROUNDS, sizeof(s[0]), cmp_u64);
	return (double)s[BENCH_ROUNDS / 2] / (double)packets;
}

/* return TC_ACT_OK */
static int trivial_load(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .imm = TC_ACT_OK },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "bench_tc_ok", "GPL",
			     insns, 2, NULL);
}

static int setup(void)
{
	static const char conf[] =
		"role = \"backend\";\n"
		"backend_node = { interface = \"be0\";\n"
		"\tlb_sources = ( \"198.18.6.1\", \"2001:db8:6::1\" );\n"
		"\tpeers = ( \"198.18.7.0/24\", \"2001:db8:7::/64\" ); };\n";
	struct lbd_config *c;
	struct config_diag d;
	struct bpf_map *m;
	__u8 one = 1;
	int i, err;

	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET) (run as root)");
		return -1;
	}
	for (i = 0; env[i]; i++) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null", env[i]);
		if (system(cmd)) {
			fprintf(stderr, "failed: %s\n", env[i]);
			return -1;
		}
	}
	ifindex_be0 = (int)if_nametoindex("be0");
	skel = tc_backend__open();
	if (!skel)
		return -1;
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(skel->maps.lbd_be_flows, 65536);
	err = tc_backend__load(skel);
	if (err) {
		fprintf(stderr, "loading bpf/backend/backend.bpf.c: %s\n",
			strerror(-err));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		const char *a[2] = { FAMS[i].node, FAMS[i].lb };
		int j;

		for (j = 0; j < 2; j++) {
			struct pkt_addr pa = pkt_ip(a[j]);
			struct lbd_addr_key k = { 0 };
			struct lbd_conf_addr ca = { 0 };
			struct lbd_src_key sk;

			k.family = i ? LBD_AF_INET6 : LBD_AF_INET;
			memcpy(&k.addr, &pa.v6, i ? 16 : 4);
			ca.family = k.family;
			ca.prefixlen = i ? 128 : 32;
			ca.addr = k.addr;
			bemaps_src_key(&ca, &sk);
			if (j ? bpf_map_update_elem(
					bpf_map__fd(skel->maps.lbd_be_sources),
					&sk, &one, BPF_ANY) :
				bpf_map_update_elem(
					bpf_map__fd(skel->maps.lbd_be_local),
					&k, &one, BPF_ANY))
				return -1;
		}
	}
	if (config_load_string(conf, "bench.conf", &c, &d))
		return -1;
	config_diag_free(&d);
	err = bemaps_sync_peers(bpf_map__fd(skel->maps.lbd_be_peers4),
				bpf_map__fd(skel->maps.lbd_be_peers6),
				c->node.peers, c->node.n_peers);
	config_free(c);
	return err ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct bench_case cases[2 * 2 * K_MAX];
	uint64_t floor_ns[BENCH_ROUNDS] = { 0 };
	unsigned long packets = BENCH_PACKETS, p;
	int n = 0, i, r, opt, fd, trivial;
	struct pkt floor_pkt;
	double floor;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt == 'n' && atol(optarg) > 0) {
			packets = (unsigned long)atol(optarg);
		} else {
			fprintf(stderr,
				"usage: %s [-n packets per case "
				"and round]\n",
				argv[0]);
			return 2;
		}
	}
	if (setup())
		return 1;
	trivial = trivial_load();
	if (trivial < 0) {
		perror("loading the trivial tc program");
		return 1;
	}
	fd = bpf_program__fd(skel->progs.lbd_tc_ingress);

	memset(cases, 0, sizeof(cases));
	for (i = 0; i < 4; i++) {
		enum bench_kind k;

		for (k = 0; k < K_MAX; k++) {
			struct bench_case *c = &cases[n++];
			uint16_t sport = (uint16_t)(41000 + n);

			c->f = &FAMS[i / 2];
			c->cilium = !(i & 1);
			c->kind = k;
			build(c, sport);
			c->want_act = k == K_PASSED ? TC_ACT_REDIRECT :
						      TC_ACT_OK;
			c->want_r = k == K_PASSED ? LBD_BE_SC_FORWARD :
						    LBD_BE_DECAP_GENEVE;
			if (k == K_LOCAL && connect_local(c, sport)) {
				perror("a local connection");
				return 1;
			}
		}
	}
	floor_pkt = cases[0].in;

	for (r = 0; r < BENCH_ROUNDS; r++) {
		for (p = 0; p < packets; p++)
			run_one(trivial, &floor_pkt, &floor_ns[r]);
		for (i = 0; i < n; i++) {
			struct bench_case *c = &cases[i];
			uint64_t before = reason(c->want_r);

			for (p = 0; p < packets; p++)
				if (run_one(fd, &c->in, &c->ns[r]) !=
				    c->want_act)
					c->wrong = true;
			if (reason(c->want_r) - before != packets)
				c->wrong = true;
		}
	}

	floor = median_ns(floor_ns, packets);
	printf("lbd-bench-backend: tc ingress of the backend companion, "
	       "BPF_PROG_TEST_RUN with repeat=1,\n"
	       "kernel-reported duration summed over %lu packets per case; "
	       "median of %d rounds\n\n",
	       packets, BENCH_ROUNDS);
	printf("%-6s %-18s %-30s %9s %8s\n", "outer", "form", "case", "ns/pkt",
	       "x floor");
	printf("%-6s %-18s %-30s %9.1f %8.2f\n", "-", "-",
	       "trivial tc program (floor)", floor, 1.0);
	for (i = 0; i < n; i++) {
		const struct bench_case *c = &cases[i];
		double ns = median_ns((uint64_t *)c->ns, packets);

		if (c->wrong) {
			printf("%-6s %-18s %-30s %9s (took another path)\n",
			       c->f->name,
			       c->cilium ? "Cilium's" : "untranslated",
			       kind_name[c->kind], "-");
			continue;
		}
		printf("%-6s %-18s %-30s %9.1f %8.2f\n", c->f->name,
		       c->cilium ? "Cilium's" : "untranslated",
		       kind_name[c->kind], ns, ns / floor);
	}
	close(trivial);
	tc_backend__destroy(skel);
	return 0;
}
