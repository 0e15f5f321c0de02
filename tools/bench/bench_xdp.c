// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-xdp: what the XDP datapath costs per packet.
 *
 * Every packet is one BPF_PROG_TEST_RUN call with repeat = 1, and the
 * kernel's own duration of it (opts.duration, ns) is summed. A repeat
 * loop is no use here: XDP test runs reuse the buffer, so the second
 * iteration would see the program's own IPIP output (a packet to a
 * backend, not to a VIP) and time the pass path. What a call costs besides
 * the program (the clock reads around it) is in every figure alike, so
 * each figure is also given as a multiple of the floor: xdp_pass, timed
 * the same way.
 *
 * Two programs are loaded side by side, one with a service per family and
 * one with many, their maps filled as lbd fills them (config_load_string,
 * state_dp_opts, dp_open, state_apply). Every round runs every case on
 * both, so that whatever else the machine does falls on both columns
 * alike; the median of the rounds is reported.
 *
 * The process runs in a network namespace of its own with lb0 set up as in
 * the datapath tests (addresses, forwarding, routes to the backends,
 * permanent neighbours), so bpf_fib_lookup succeeds, and nothing is left
 * behind when it exits.
 *
 * Each case's verdict and its effect on conntrack (new flows counted, or
 * none) are checked after it runs: figures of a path other than the one
 * named are not printed.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>

#include "config.h"
#include "datapath.h"
#include "log.h"
#include "pkt.h"
#include "state.h"
#include "xdp_pass.skel.h"

#define BENCH_MAGLEV_SIZE 1021
#define BENCH_BACKENDS 10 /* per service */
#define BENCH_MANY_SVC 10000 /* default; half of them IPv4, half IPv6 */
#define BENCH_PORTS 4 /* services per VIP */
#define BENCH_EST_FLOWS 100000
#define BENCH_CT_ENTRIES LBD_DEFAULT_CT_ENTRIES

/* Targets, as multiples of the floor. */
#define TARGET_EST 2.5
#define TARGET_NEW 7.0
#define TARGET_PASS 1.6
#define TARGET_SCALE 0.10 /* many services vs 1 */

static const uint8_t MAC_NEXTHOP[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC_LB[6] = { 0x02, 0, 0, 0, 0, 0x10 };

/*
 * lb0 198.18.0.10/24 2001:db8::10/64, next hop 198.18.0.1 / 2001:db8::1
 * (permanent neighbours). Backends 198.18.1.1-10 and 2001:db8:1::1-10
 * are behind the next hop, so forwarded packets leave by lb0 (XDP_TX).
 * VIPs are 198.19.0.1 + n and 2001:db8:f::1 + n; clients come from
 * 198.18.64.0/18 and 2001:db8:c::/64.
 */
static const char *const env_cmds[] = {
	"ip link set lo up",
	"ip link add lb0 address 02:00:00:00:00:10 type veth peer name lb0p",
	"ip link set lb0 up",
	"ip link set lb0p up",
	"ip addr add 198.18.0.10/24 dev lb0",
	"ip addr add 2001:db8::10/64 dev lb0 nodad",
	"ip neigh add 198.18.0.1 lladdr 02:00:00:00:00:01 nud permanent dev lb0",
	"ip neigh add 2001:db8::1 lladdr 02:00:00:00:00:01 nud permanent "
	"dev lb0",
	"ip route add 198.18.1.0/24 via 198.18.0.1",
	"ip -6 route add 2001:db8:1::/64 via 2001:db8::1",
	"sysctl -qw net.ipv4.conf.lb0.forwarding=1",
	"sysctl -qw net.ipv6.conf.lb0.forwarding=1",
	NULL,
};

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define VIP4_BASE V4(198, 19, 0, 1)
/* low 32 bits of IPv6 addresses under the prefixes above */
#define VIP6_BASE 1u

static const uint16_t svc_ports[BENCH_PORTS] = { 80, 443, 8080, 8443 };

static int ifindex_lb0;

static int env_init(void)
{
	char cmd[512];
	int i;

	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	for (i = 0; env_cmds[i]; i++) {
		snprintf(cmd, sizeof(cmd), "%s >/dev/null", env_cmds[i]);
		if (system(cmd) != 0) {
			fprintf(stderr, "failed: %s\n", env_cmds[i]);
			return -1;
		}
	}
	ifindex_lb0 = (int)if_nametoindex("lb0");
	return ifindex_lb0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Services and flows */

static void fmt_vip(char *buf, size_t len, int family, uint32_t svc)
{
	uint32_t v = svc / BENCH_PORTS;

	if (family == AF_INET)
		snprintf(buf, len, "%u.%u.%u.%u", (VIP4_BASE + v) >> 24,
			 (VIP4_BASE + v) >> 16 & 0xff,
			 (VIP4_BASE + v) >> 8 & 0xff, (VIP4_BASE + v) & 0xff);
	else
		snprintf(buf, len, "2001:db8:f::%x:%x", (VIP6_BASE + v) >> 16,
			 (VIP6_BASE + v) & 0xffff);
}

/*
 * The config: n services per family (service k: VIP number k / 4, port
 * svc_ports[k % 4], TCP, IPIP), each with the same 10 backends. Map sizes
 * follow the largest config, so that both programs have the same.
 */
static char *conf_text(unsigned int n, unsigned int largest)
{
	char *text = NULL, vip[64];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned int k, b;
	int fam;

	if (!f)
		return NULL;
	fprintf(f,
		"datapath = { interface = \"lb0\";"
		" encap_source_v4 = \"198.18.0.10\";"
		" encap_source_v6 = \"2001:db8::10\";"
		" maglev_table_size = %u; hash_seed = 0x5eed;"
		" max_services = %u; max_backends = %u; max_vips = %u;"
		" conntrack_entries = %u; };\n"
		"services = (\n",
		BENCH_MAGLEV_SIZE, 2 * largest + 64,
		2 * largest * BENCH_BACKENDS + 64,
		2 * largest / BENCH_PORTS + 64, BENCH_CT_ENTRIES);
	for (fam = 0; fam < 2; fam++) {
		for (k = 0; k < n; k++) {
			fmt_vip(vip, sizeof(vip), fam ? AF_INET6 : AF_INET, k);
			fprintf(f,
				"%s{ name = \"s%d_%u\"; vip = \"%s\"; "
				"port = %u; backends = (",
				fam || k ? "," : "", fam ? 6 : 4, k, vip,
				svc_ports[k % BENCH_PORTS]);
			for (b = 1; b <= BENCH_BACKENDS; b++)
				fprintf(f,
					fam ? "%s{ address = \"2001:db8:1::%u\"; }" :
					      "%s{ address = \"198.18.1.%u\"; }",
					b > 1 ? "," : "", b);
			fprintf(f, "); }\n");
		}
	}
	fprintf(f, ");\n");
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

/* A client's flow to a service; for IPv6 the client is the low 32 bits
 * of an address in 2001:db8:c::/64. */
struct flow {
	uint32_t client;
	uint16_t sport;
	uint32_t svc;
};

/*
 * Sets of flows, told apart by the client addresses: established to one
 * service, established over all services, new ones, and the single
 * established flow.
 */
enum flow_set { FLOWS_ONE_SVC, FLOWS_ALL_SVC, FLOWS_NEW, FLOWS_SINGLE };

static const uint32_t client4_base[] = { V4(198, 18, 64, 0), V4(198, 18, 80, 0),
					 V4(198, 18, 96, 0),
					 V4(198, 18, 63, 1) };
static const uint32_t client6_base[] = { 0x10000, 0x18000, 0x20000, 1 };

/* Flow i of a set (16,384 client ports per address), to service 0 or,
 * when nsvc is not 0, spread over nsvc services. */
static struct flow flow_of(int family, enum flow_set set, uint32_t i,
			   uint32_t nsvc)
{
	struct flow f;

	f.client = (family == AF_INET ? client4_base : client6_base)[set] +
		   (i >> 14);
	f.sport = (uint16_t)(1024 + (i & 0x3fff));
	f.svc = nsvc ? i % nsvc : 0;
	return f;
}

/* Templates: TCP to service 0 with the given flags, or UDP to the LB's
 * own address (not a VIP). 10 bytes of payload, as a small request. */
static void tmpl_build(struct pkt *p, int family, int tcp_flags)
{
	char vip[64];

	fmt_vip(vip, sizeof(vip), family, 0);
	pkt_init(p);
	pkt_eth(p, MAC_LB, MAC_NEXTHOP);
	if (tcp_flags) {
		pkt_ip_hdr(p,
			   pkt_ip(family == AF_INET ? "198.18.63.1" :
						      "2001:db8:c::1"),
			   pkt_ip(vip));
		pkt_tcp(p, 40000, 80, (uint8_t)tcp_flags, 1000,
			tcp_flags & PKT_TCP_ACK ? 2000 : 0);
	} else {
		pkt_ip_hdr(p,
			   pkt_ip(family == AF_INET ? "198.18.63.2" :
						      "2001:db8:c::2"),
			   pkt_ip(family == AF_INET ? "198.18.0.10" :
						      "2001:db8::10"));
		pkt_udp(p, 5353, 53, false);
	}
	pkt_bytes(p, "0123456789", 10);
	pkt_finish(p);
}

static void put_be32(uint8_t *b, uint32_t v)
{
	v = htonl(v);
	memcpy(b, &v, 4);
}

static void put_be16(uint8_t *b, uint16_t v)
{
	v = htons(v);
	memcpy(b, &v, 2);
}

/* Rewrites a TCP template's addresses and ports to the flow's and
 * recomputes its checksums. */
static void pkt_set_flow(struct pkt *p, int family, const struct flow *f)
{
	long l3, l4 = pkt_off(p, PKT_TCP, 0);
	uint32_t v = f->svc / BENCH_PORTS;

	if (family == AF_INET) {
		l3 = pkt_off(p, PKT_IPV4, 0);
		put_be32(p->buf + l3 + 12, f->client);
		put_be32(p->buf + l3 + 16, VIP4_BASE + v);
	} else {
		l3 = pkt_off(p, PKT_IPV6, 0);
		put_be32(p->buf + l3 + 8 + 12, f->client);
		put_be32(p->buf + l3 + 24 + 12, VIP6_BASE + v);
	}
	put_be16(p->buf + l4, f->sport);
	put_be16(p->buf + l4 + 2, svc_ports[f->svc % BENCH_PORTS]);
	pkt_finish(p);
}

/* Deletes the conntrack entry lbd made of the flow. */
static int ct_delete(int fd, int family, const struct flow *f)
{
	uint32_t v = f->svc / BENCH_PORTS;

	if (family == AF_INET) {
		struct lbd_ct_key4 k = { .proto = IPPROTO_TCP };

		k.saddr = htonl(f->client);
		k.daddr = htonl(VIP4_BASE + v);
		k.sport = htons(f->sport);
		k.dport = htons(svc_ports[f->svc % BENCH_PORTS]);
		return bpf_map_delete_elem(fd, &k);
	} else {
		struct lbd_ct_key6 k = { .proto = IPPROTO_TCP };

		inet_pton(AF_INET6, "2001:db8:c::", &k.saddr);
		inet_pton(AF_INET6, "2001:db8:f::", &k.daddr);
		k.saddr.v6[3] = htonl(f->client);
		k.daddr.v6[3] = htonl(VIP6_BASE + v);
		k.sport = htons(f->sport);
		k.dport = htons(svc_ports[f->svc % BENCH_PORTS]);
		return bpf_map_delete_elem(fd, &k);
	}
}

/* Deletes every entry of a hash map, in hash order: keys first, then
 * deletes, since deleting while walking restarts the walk. */
static int map_clear(int fd, size_t key_size)
{
	size_t cap = 1024, n = 0, i;
	uint8_t *keys = malloc(cap * key_size), *k;
	int err = 0;

	if (!keys)
		return -ENOMEM;
	while (bpf_map_get_next_key(fd, n ? keys + (n - 1) * key_size : NULL,
				    keys + n * key_size) == 0) {
		if (++n == cap) {
			k = realloc(keys, 2 * cap * key_size);
			if (!k) {
				err = -ENOMEM;
				goto out;
			}
			keys = k;
			cap *= 2;
		}
	}
	for (i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * key_size) < 0 &&
		    errno != ENOENT)
			err = -errno;
out:
	free(keys);
	return err;
}

/*
 * Brings an empty conntrack map to the state of one on an LB that has run
 * for a while. A fresh map hands out its preallocated entries in address
 * order, so a benchmark's flows would sit together in memory and new
 * flows would be written where the hardware just prefetched: figures
 * would depend on the map's history (here up to 40% for new flows)
 * instead of the program. So every entry of this CPU's share (the LRU
 * lists are per CPU) is taken by a dummy flow from 0.0.0.0/8 or ::/96,
 * then freed in hash order, which leaves the free list in no order of
 * address, as eviction does on a busy LB.
 */
static int ct_age(int fd, size_t key_size, uint32_t entries)
{
	uint8_t key[sizeof(struct lbd_ct_key6)] = { 0 };
	struct lbd_ct v = { 0 };
	uint32_t i, a;

	for (i = 0; i < entries; i++) {
		/* the source address: the first word of an IPv4 key, the
		 * low word of the first 16 bytes of an IPv6 one */
		a = htonl(i);
		memcpy(key_size == sizeof(struct lbd_ct_key4) ? key : key + 12,
		       &a, 4);
		if (bpf_map_update_elem(fd, key, &v, BPF_ANY) < 0)
			return -errno;
	}
	return map_clear(fd, key_size);
}

/* ------------------------------------------------------------------ */
/* The programs under test */

/* Columns of the table. */
enum col { COL_ONE, COL_MANY, COL_COUNT };

struct lb {
	struct lbd_dp *dp;
	struct lbd_state st;
	struct lbd_config *cfg;
	unsigned int nsvc; /* per family */
	double load_s;
	uint32_t cursor[2][2]; /* next established flow [family][set] */
};

/* Loads nsvc services per family (map sizes for largest). */
static int lb_open(struct lb *lb, unsigned int nsvc, unsigned int largest)
{
	struct config_diag d;
	struct apply_result r;
	struct lbd_dp_opts o;
	struct timespec t0, t1;
	char *text = conf_text(nsvc, largest);
	size_t i;
	int err;

	memset(lb, 0, sizeof(*lb));
	lb->nsvc = nsvc;
	if (!text)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = config_load_string(text, "bench.conf", &lb->cfg, &d);
	free(text);
	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	config_diag_free(&d);
	if (err)
		return err;
	lb->cfg->dp.pin_path[0] = '\0';
	state_dp_opts(lb->cfg, &o);
	err = dp_open(&o, &lb->dp);
	if (err)
		return err;
	err = state_init(&lb->st, o.max_services, o.max_backends);
	if (err)
		return err;
	err = state_apply(&lb->st, lb->dp, lb->cfg, NULL, NULL, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	lb->load_s = (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return err;
}

static void lb_close(struct lb *lb)
{
	if (!lb->cfg)
		return;
	state_free(&lb->st);
	dp_close(lb->dp);
	config_free(lb->cfg);
	memset(lb, 0, sizeof(*lb));
}

static uint64_t lb_new_flows(struct lb *lb)
{
	struct lbd_counter c[LBD_REASON_MAX];

	if (dp_reasons_read(lb->dp, c))
		return UINT64_MAX;
	return c[LBD_EV_NEW_FLOW].packets;
}

/* One call, one packet. Returns the action or -1; adds the kernel's
 * duration to *ns. */
static int run_one(int prog_fd, const struct pkt *p, uint64_t *ns)
{
	struct xdp_md ctx = {
		.data_end = (__u32)p->len,
		.ingress_ifindex = (__u32)ifindex_lb0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->buf,
		    .data_size_in = (__u32)p->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o) < 0)
		return -1;
	*ns += o.duration;
	return (int)o.retval;
}

/* ------------------------------------------------------------------ */
/* Cases */

enum kind { K_FLOOR, K_SYN_NEW, K_ACK_ONE, K_ACK_MANY, K_UDP_PASS };

struct bcase {
	const char *name;
	enum kind kind;
	int family;
	bool spread; /* flows spread over every service of the family */
};

static const struct bcase cases[] = {
	{ "floor: xdp_pass", K_FLOOR, AF_INET, false },
	{ "IPv4 TCP SYN, new flow", K_SYN_NEW, AF_INET, false },
	{ "  same, flows over all services", K_SYN_NEW, AF_INET, true },
	{ "IPv4 TCP ACK, 1 established flow", K_ACK_ONE, AF_INET, false },
	{ "IPv4 TCP ACK, 100k established flows", K_ACK_MANY, AF_INET, false },
	{ "  same, flows over all services", K_ACK_MANY, AF_INET, true },
	{ "IPv4 UDP to a non-VIP address", K_UDP_PASS, AF_INET, false },
	{ "IPv6 TCP SYN, new flow", K_SYN_NEW, AF_INET6, false },
	{ "  same, flows over all services", K_SYN_NEW, AF_INET6, true },
	{ "IPv6 TCP ACK, 1 established flow", K_ACK_ONE, AF_INET6, false },
	{ "IPv6 TCP ACK, 100k established flows", K_ACK_MANY, AF_INET6, false },
	{ "  same, flows over all services", K_ACK_MANY, AF_INET6, true },
	{ "IPv6 UDP to a non-VIP address", K_UDP_PASS, AF_INET6, false },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static double case_target(enum kind k)
{
	switch (k) {
	case K_SYN_NEW:
		return TARGET_NEW;
	case K_ACK_ONE:
	case K_ACK_MANY:
		return TARGET_EST;
	case K_UDP_PASS:
		return TARGET_PASS;
	default:
		return 0;
	}
}

struct bench {
	unsigned long n; /* packets per case and round */
	int rounds;
	unsigned int many; /* services of the large config, both families */
	uint32_t ct_share; /* conntrack entries of one CPU */
	bool fresh; /* conntrack not aged */
	int cpu;
	int pass_fd;
	struct pkt syn[2], ack[2], udp[2], p;
	double *res; /* ns per packet, [case][column][round] */
};

static double *res_at(struct bench *b, size_t c, enum col col, int r)
{
	return &b->res[(c * COL_COUNT + col) * (size_t)b->rounds + (size_t)r];
}

static int fam_idx(int family)
{
	return family == AF_INET6;
}

/* The set a case's established flows come from. */
static enum flow_set est_set(bool spread)
{
	return spread ? FLOWS_ALL_SVC : FLOWS_ONE_SVC;
}

/* Sends the SYN of flows [0, n) of a set through the program, untimed, so
 * that they are established. */
static int establish(struct bench *b, struct lb *lb, int family,
		     enum flow_set set, uint32_t n, uint32_t nsvc)
{
	struct pkt *p = &b->p;
	uint64_t ns = 0;
	uint32_t i;

	*p = b->syn[fam_idx(family)];
	for (i = 0; i < n; i++) {
		struct flow f = flow_of(family, set, i, nsvc);

		pkt_set_flow(p, family, &f);
		if (run_one(dp_prog_fd(lb->dp), p, &ns) != XDP_TX) {
			fprintf(stderr, "establishing flow %u: not XDP_TX\n",
				i);
			return -1;
		}
	}
	return 0;
}

/* Conntrack as the rounds expect it: aged (unless -F), then the single
 * flow and both sets of established flows in it. */
static int lb_prepare(struct bench *b, struct lb *lb)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	int f, err = 0;

	if (!b->fresh)
		err = ct_age(dp_map_fd(lb->dp, DP_MAP_CT4),
			     sizeof(struct lbd_ct_key4), b->ct_share);
	if (!err && !b->fresh)
		err = ct_age(dp_map_fd(lb->dp, DP_MAP_CT6),
			     sizeof(struct lbd_ct_key6), b->ct_share);
	if (err) {
		fprintf(stderr, "preparing conntrack: %s\n", strerror(-err));
		return -1;
	}
	for (f = 0; f < 2; f++) {
		if (establish(b, lb, fams[f], FLOWS_SINGLE, 1, 0) ||
		    establish(b, lb, fams[f], FLOWS_ONE_SVC, BENCH_EST_FLOWS,
			      0) ||
		    establish(b, lb, fams[f], FLOWS_ALL_SVC, BENCH_EST_FLOWS,
			      lb->nsvc))
			return -1;
	}
	return 0;
}

/* Runs one case for one round; returns ns per packet, or < 0. */
static double run_case(struct bench *b, struct lb *lb, const struct bcase *c)
{
	int fi = fam_idx(c->family), fd = dp_prog_fd(lb->dp), want = XDP_TX;
	uint32_t nsvc = c->spread ? lb->nsvc : 0, *cursor;
	uint64_t ns = 0, nf0 = lb_new_flows(lb), nf, want_nf = 0;
	struct pkt *p = &b->p;
	struct flow f;
	unsigned long i;
	int act = 0;

	cursor = &lb->cursor[fi][c->spread];
	switch (c->kind) {
	case K_FLOOR:
		fd = b->pass_fd;
		want = XDP_PASS;
		*p = b->syn[0];
		break;
	case K_SYN_NEW:
		*p = b->syn[fi];
		want_nf = b->n;
		break;
	case K_ACK_ONE:
		*p = b->ack[fi];
		f = flow_of(c->family, FLOWS_SINGLE, 0, 0);
		pkt_set_flow(p, c->family, &f);
		break;
	case K_ACK_MANY:
		*p = b->ack[fi];
		break;
	case K_UDP_PASS:
		*p = b->udp[fi];
		want = XDP_PASS;
		break;
	}
	for (i = 0; i < b->n; i++) {
		if (c->kind == K_SYN_NEW) {
			f = flow_of(c->family, FLOWS_NEW, (uint32_t)i, nsvc);
			pkt_set_flow(p, c->family, &f);
		} else if (c->kind == K_ACK_MANY) {
			f = flow_of(c->family, est_set(c->spread), *cursor,
				    nsvc);
			*cursor = (*cursor + 1) % BENCH_EST_FLOWS;
			pkt_set_flow(p, c->family, &f);
		}
		act = run_one(fd, p, &ns);
		if (act < 0) {
			fprintf(stderr, "%s: BPF_PROG_TEST_RUN: %s\n", c->name,
				strerror(errno));
			return -1;
		}
		if (act != want) {
			fprintf(stderr, "%s: packet %lu: action %d, want %d\n",
				c->name, i, act, want);
			return -1;
		}
	}
	nf = lb_new_flows(lb);
	if (c->kind != K_FLOOR && nf - nf0 != want_nf) {
		fprintf(stderr, "%s: %llu new flows, want %llu\n", c->name,
			(unsigned long long)(nf - nf0),
			(unsigned long long)want_nf);
		return -1;
	}
	/* conntrack forgets this round's new flows: the next round's
	 * packets are new flows again */
	if (c->kind == K_SYN_NEW) {
		int ct = dp_map_fd(lb->dp, c->family == AF_INET ? DP_MAP_CT4 :
								  DP_MAP_CT6);

		for (i = 0; i < b->n; i++) {
			f = flow_of(c->family, FLOWS_NEW, (uint32_t)i, nsvc);
			if (ct_delete(ct, c->family, &f) < 0) {
				perror("deleting a conntrack entry");
				return -1;
			}
		}
	}
	return (double)ns / (double)b->n;
}

static int run_rounds(struct bench *b, struct lb *lbs)
{
	int r, col;
	size_t c;

	for (r = 0; r < b->rounds; r++) {
		for (c = 0; c < N_CASES; c++) {
			for (col = 0; col < COL_COUNT; col++) {
				double v = run_case(b, &lbs[col], &cases[c]);

				if (v < 0)
					return -1;
				*res_at(b, c, (enum col)col, r) = v;
			}
		}
		fprintf(stderr, ".");
	}
	fprintf(stderr, "\n");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Report */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of a case's rounds in a column. */
static double case_median(struct bench *b, size_t c, enum col col)
{
	double v[64];
	int r, n = b->rounds;

	for (r = 0; r < n; r++)
		v[r] = *res_at(b, c, col, r);
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(struct bench *b, const struct lb *lbs)
{
	const struct lb *many = &lbs[COL_MANY];
	double floor[COL_COUNT];
	char hdr[32];
	int misses = 0, col;
	size_t c;

	for (col = 0; col < COL_COUNT; col++)
		floor[col] = case_median(b, 0, (enum col)col);
	printf("\nlbd-bench-xdp: per-packet cost of the XDP datapath, "
	       "BPF_PROG_TEST_RUN with repeat=1,\n"
	       "kernel-reported duration summed over %lu packets per case; "
	       "median of %d rounds; CPU %d.\n",
	       b->n, b->rounds, b->cpu);
	printf("Configs: 1 service per family (IPv4 and IPv6), and %u "
	       "services (%u IPv4 + %u IPv6,\n"
	       "%u VIPs x %d ports per family); %d backends per service, "
	       "IPIP; maglev_table_size\n"
	       "%d in both, so that the large config loads in %.0f s here "
	       "(config to maps through\n"
	       "lbd's state_apply). Both are loaded; every round runs each "
	       "case on both.\n"
	       "Established flows are in conntrack before the rounds; a new "
	       "flow is a new 5-tuple\n"
	       "per packet, removed from conntrack after its round. "
	       "\"over all services\": the flows\n"
	       "go to every service of the family in turn (with 1 service, "
	       "to that one).\n",
	       2 * many->nsvc, many->nsvc, many->nsvc,
	       (many->nsvc + BENCH_PORTS - 1) / BENCH_PORTS, BENCH_PORTS,
	       BENCH_BACKENDS, BENCH_MAGLEV_SIZE, many->load_s);
	if (b->fresh)
		printf("Conntrack FRESH (-F): entries in address order, as "
		       "in a map that never evicted.\n");
	else
		printf("Conntrack aged: its free entries in no order of "
		       "address, as on an LB that has\n"
		       "run for a while (-F for a fresh map).\n");
	printf("\"x floor\" is the ratio to xdp_pass timed the same way "
	       "(the column's median).\n\n");
	snprintf(hdr, sizeof(hdr), "%u services", 2 * many->nsvc);
	printf("%-38s %17s  %17s  %7s  %s\n", "", "1 service", hdr, "that vs",
	       "target: x floor,");
	printf("%-38s %9s %7s  %9s %7s  %7s  %s\n", "case", "ns/pkt", "x floor",
	       "ns/pkt", "x floor", "1 svc", "and within 10%");
	for (c = 0; c < N_CASES; c++) {
		const struct bcase *k = &cases[c];
		double target = case_target(k->kind), v[COL_COUNT];
		char s[COL_COUNT][32], x[COL_COUNT][32], d[32] = "";
		char verdict[64] = "";
		bool ok = true;

		for (col = 0; col < COL_COUNT; col++) {
			v[col] = case_median(b, c, (enum col)col);
			snprintf(s[col], sizeof(s[col]), "%.1f", v[col]);
			snprintf(x[col], sizeof(x[col]), "%.2fx",
				 v[col] / floor[col]);
			if (target && v[col] / floor[col] > target)
				ok = false;
		}
		if (k->kind != K_FLOOR) {
			snprintf(d, sizeof(d), "%+.0f%%",
				 (v[COL_MANY] / v[COL_ONE] - 1) * 100);
			if (v[COL_MANY] > v[COL_ONE] * (1 + TARGET_SCALE))
				ok = false;
			snprintf(verdict, sizeof(verdict), "<= %.1fx  %s",
				 target, ok ? "met" : "MISSED");
			misses += !ok;
		}
		printf("%-38s %9s %7s  %9s %7s  %7s  %s\n", k->name, s[COL_ONE],
		       x[COL_ONE], s[COL_MANY], x[COL_MANY], d, verdict);
	}
	printf("\nTargets: established <= %.1fx, new flow <= %.1fx, "
	       "non-VIP pass <= %.1fx, %u services\n"
	       "within %.0f%% of 1 service. Katran, measured the same way "
	       "here: ~3.0x established,\n"
	       "8.5-10x new flow, 1.8x pass. %d of %zu rows missed a "
	       "target.\n",
	       TARGET_EST, TARGET_NEW, TARGET_PASS, 2 * many->nsvc,
	       TARGET_SCALE * 100, misses, N_CASES - 1);
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbd-bench-xdp [-n packets] [-r rounds] [-s services] "
		"[-c cpu] [-F]\n"
		"  -n  packets per case and round (default 100000)\n"
		"  -r  rounds; the median is reported (default 5)\n"
		"  -s  services of the large config, half IPv4, half IPv6 "
		"(default 10000)\n"
		"  -c  CPU to run on (default: the last one)\n"
		"  -F  fresh conntrack: do not age it first (optimistic)\n"
		"Runs in a network namespace of its own; needs root.\n");
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_setaffinity");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bench b = {
		.n = 100000, .rounds = 5, .cpu = -1, .many = BENCH_MANY_SVC
	};
	struct lb lbs[COL_COUNT] = { 0 };
	struct xdp_pass *pass = NULL;
	int opt, f, err, col, rc = 1;

	while ((opt = getopt(argc, argv, "n:r:s:c:Fh")) != -1) {
		switch (opt) {
		case 'n':
			b.n = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			b.rounds = atoi(optarg);
			break;
		case 's':
			b.many = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'c':
			b.cpu = atoi(optarg);
			break;
		case 'F':
			b.fresh = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	b.ct_share = BENCH_CT_ENTRIES / (uint32_t)libbpf_num_possible_cpus();
	if (b.many < 2 || b.many > 200000) {
		fprintf(stderr, "-s: from 2 to 200000 services\n");
		return 2;
	}
	/* new flows and both sets of established ones must fit the
	 * conntrack share of one CPU (per-CPU LRU lists): none may be
	 * evicted */
	if (b.rounds < 1 || b.rounds > 64 || b.n < 1 ||
	    b.n + 2 * BENCH_EST_FLOWS + 1 > b.ct_share) {
		fprintf(stderr, "-r: from 1 to 64; -n: from 1 to %u packets\n",
			b.ct_share - 2 * BENCH_EST_FLOWS - 1);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (b.cpu < 0)
		b.cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	if (pin_cpu(b.cpu))
		return 1;
	log_init("lbd-bench-xdp", 0);
	log_route_libbpf();
	if (env_init()) {
		fprintf(stderr, "cannot set up the namespace (needs root)\n");
		return 1;
	}
	b.res = calloc(N_CASES * COL_COUNT * (size_t)b.rounds, sizeof(double));
	if (!b.res)
		return 1;
	for (f = 0; f < 2; f++) {
		int fam = f ? AF_INET6 : AF_INET;

		tmpl_build(&b.syn[f], fam, PKT_TCP_SYN);
		tmpl_build(&b.ack[f], fam, PKT_TCP_ACK);
		tmpl_build(&b.udp[f], fam, 0);
	}
	pass = xdp_pass__open_and_load();
	if (!pass) {
		fprintf(stderr, "loading xdp_pass: %s\n", strerror(errno));
		goto out;
	}
	b.pass_fd = bpf_program__fd(pass->progs.xdp_pass);

	for (col = 0; col < COL_COUNT; col++) {
		unsigned int n = col == COL_ONE ? 1 : b.many / 2;

		fprintf(stderr, "loading %u services\n", 2 * n);
		err = lb_open(&lbs[col], n, b.many / 2);
		if (err) {
			fprintf(stderr, "loading %u services: %s\n", 2 * n,
				strerror(-err));
			goto out;
		}
		if (lb_prepare(&b, &lbs[col]))
			goto out;
	}
	fprintf(stderr, "rounds: ");
	if (run_rounds(&b, lbs))
		goto out;
	report(&b, lbs);
	rc = 0;
out:
	for (col = 0; col < COL_COUNT; col++)
		lb_close(&lbs[col]);
	xdp_pass__destroy(pass);
	free(b.res);
	return rc;
}
