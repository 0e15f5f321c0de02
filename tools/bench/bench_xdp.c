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
 * the datapath tests (addresses, forwarding, routes to the backends and,
 * for SNAT replies, to the clients, permanent neighbours), so
 * bpf_fib_lookup succeeds, and nothing is left behind when it exits.
 *
 * Both configs also hold one SNAT service per family, with rows of its
 * own: a new SNAT flow (a SYN: conntrack entry, source port, reverse NAT
 * entry), established ones (1 flow and 100k), and the backend's reply to
 * the single flow, sent to the SNAT address and the port the program gave
 * the flow when it was established before the rounds, as read back from
 * the reverse NAT map; a reply's next hop to the client comes from a
 * per-CPU cache, as the forward direction's to the backend. New SNAT
 * flows leave conntrack and the NAT map after each round, as new IPIP
 * flows leave conntrack, so that rounds start alike and the port space
 * never fills. Replies of 100k flows are left out: they would show little
 * that the 100k established row does not, for another few seconds a run.
 *
 * Each case's verdict and its effect on the counters (new flows, SNAT
 * ports allocated, SNAT forwards and replies: each as many as packets, or
 * none) are checked after it runs: figures of a path other than the one
 * named are not printed.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <err.h>
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
#include "load.h"
#include "xdp_pass.skel.h"
#include "bench_ct_alone.skel.h"

#define BENCH_MAGLEV_SIZE 1021
#define BENCH_BACKENDS 10 /* per service */
#define BENCH_MANY_SVC 10000 /* default; half of them IPv4, half IPv6 */
#define BENCH_PORTS 4 /* services per VIP */
#define BENCH_EST_FLOWS 100000
#define BENCH_CT_ENTRIES LBD_DEFAULT_CT_ENTRIES
/*
 * The SNAT service. Its port space is per backend address and port: 64
 * backends with ports 1024-65535 hold 4.1M flows, so that the established
 * flows and a round of new ones take under 10% of it even at the largest
 * -n. Fuller, more new flows would find their first port taken and try
 * again (and with the default 61000-65535 and 10 backends, 100k flows
 * would not fit at all).
 */
#define BENCH_SNAT_BACKENDS 64
#define BENCH_SNAT_PORTS "1024-65535"
#define SNAT_VIP4 V4(198, 19, 255, 1)
#define SNAT_VIP6 0xffff0001u /* 2001:db8:f::ffff:1 */
#define SNAT_PORT 9000
/* The service with its TCP flow state on the backends (flow_state =
 * "backends"): a VIP of its own, the same 10 backends. */
#define SL_VIP4 V4(198, 19, 255, 2)
#define SL_VIP6 0xffff0002u /* 2001:db8:f::ffff:2 */
#define SL_PORT 7000

/* Targets (issue 16), as ratios to another row of the same run: an
 * established flow with the flow state on the backends at most 0.6 x
 * the same in "lb" mode; a SYN there within 15% of an established one. */
#define TARGET_SL_VS_LB 0.6
#define TARGET_SYN_VS_EST 0.15

static const uint8_t MAC_NEXTHOP[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t MAC_LB[6] = { 0x02, 0, 0, 0, 0, 0x10 };

/*
 * lb0 198.18.0.10/24 2001:db8::10/64, next hop 198.18.0.1 / 2001:db8::1
 * (permanent neighbours). Backends 198.18.1.1-64 and 2001:db8:1::1-64
 * are behind the next hop, and so are the clients (the default route), so
 * forwarded packets and SNAT replies leave by lb0 (XDP_TX). VIPs are
 * 198.19.0.1 + n and 2001:db8:f::1 + n, the SNAT service's 198.19.255.1
 * and 2001:db8:f::ffff:1; clients come from 198.18.63.0/24,
 * 198.18.64.0/18 and 2001:db8:c::/64. The SNAT source is lb0's address,
 * the encapsulation source.
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
	/* SNAT replies go back to the clients */
	"ip route add default via 198.18.0.1",
	"ip -6 route add default via 2001:db8::1",
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

/* struct flow's svc of a flow to the SNAT service, and to the service
 * with flow_state = "backends". */
#define SVC_SNAT UINT32_MAX
#define SVC_SL (UINT32_MAX - 1)

/* A service's VIP in host order: the IPv4 address, or the low 32 bits of
 * the IPv6 one under 2001:db8:f::/64. */
static uint32_t svc_vip(int family, uint32_t svc)
{
	if (svc == SVC_SNAT)
		return family == AF_INET ? SNAT_VIP4 : SNAT_VIP6;
	if (svc == SVC_SL)
		return family == AF_INET ? SL_VIP4 : SL_VIP6;
	return (family == AF_INET ? VIP4_BASE : VIP6_BASE) + svc / BENCH_PORTS;
}

static uint16_t svc_port(uint32_t svc)
{
	if (svc == SVC_SL)
		return SL_PORT;
	return svc == SVC_SNAT ? SNAT_PORT : svc_ports[svc % BENCH_PORTS];
}

static void fmt_vip(char *buf, size_t len, int family, uint32_t svc)
{
	uint32_t v = svc_vip(family, svc);

	if (family == AF_INET)
		snprintf(buf, len, "%u.%u.%u.%u", v >> 24, v >> 16 & 0xff,
			 v >> 8 & 0xff, v & 0xff);
	else
		snprintf(buf, len, "2001:db8:f::%x:%x", v >> 16, v & 0xffff);
}

/* Backends 1 to n of the family, as the items of a config list. */
static void conf_backends(FILE *f, int fam, unsigned int n)
{
	unsigned int b;

	for (b = 1; b <= n; b++)
		fprintf(f,
			fam ? "%s{ address = \"2001:db8:1::%u\"; }" :
			      "%s{ address = \"198.18.1.%u\"; }",
			b > 1 ? "," : "", b);
}

/*
 * The config: n services per family (service k: VIP number k / 4, port
 * svc_ports[k % 4], TCP, IPIP), each with the same 10 backends, and the
 * family's SNAT service. Map sizes follow the largest config, so that
 * both programs have the same; the NAT tables are as large as conntrack,
 * as they hold an entry per SNAT flow.
 */
static char *conf_text(unsigned int n, unsigned int largest)
{
	char *text = NULL, vip[64];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned int k;
	int fam;

	if (!f)
		return NULL;
	fprintf(f,
		"datapath = { interface = \"lb0\";"
		" encap_source_v4 = \"198.18.0.10\";"
		" encap_source_v6 = \"2001:db8::10\";"
		" maglev_table_size = %u; hash_seed = 0x5eed;"
		" max_services = %u; max_backends = %u; max_vips = %u;"
		" conntrack_entries = %u; nat_entries = %u;"
		" snat_ports = \"%s\"; };\n"
		"services = (\n",
		BENCH_MAGLEV_SIZE, 2 * largest + 64,
		2 * largest * BENCH_BACKENDS + 2 * BENCH_SNAT_BACKENDS + 64,
		2 * largest / BENCH_PORTS + 64, BENCH_CT_ENTRIES,
		BENCH_CT_ENTRIES, BENCH_SNAT_PORTS);
	for (fam = 0; fam < 2; fam++) {
		for (k = 0; k < n; k++) {
			fmt_vip(vip, sizeof(vip), fam ? AF_INET6 : AF_INET, k);
			fprintf(f,
				"%s{ name = \"s%d_%u\"; vip = \"%s\"; "
				"port = %u; backends = (",
				fam || k ? "," : "", fam ? 6 : 4, k, vip,
				svc_port(k));
			conf_backends(f, fam, BENCH_BACKENDS);
			fprintf(f, "); }\n");
		}
		fmt_vip(vip, sizeof(vip), fam ? AF_INET6 : AF_INET, SVC_SNAT);
		fprintf(f,
			",{ name = \"snat%d\"; vip = \"%s\"; port = %u; "
			"forwarding = \"snat\"; backends = (",
			fam ? 6 : 4, vip, SNAT_PORT);
		conf_backends(f, fam, BENCH_SNAT_BACKENDS);
		fprintf(f, "); }\n");
		fmt_vip(vip, sizeof(vip), fam ? AF_INET6 : AF_INET, SVC_SL);
		fprintf(f,
			",{ name = \"sl%d\"; vip = \"%s\"; port = %u; "
			"flow_state = \"backends\"; backends = (",
			fam ? 6 : 4, vip, SL_PORT);
		conf_backends(f, fam, BENCH_BACKENDS);
		fprintf(f, "); }\n");
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
 * established flow. The SNAT service's flows come from the same clients.
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

/* Flow i of a set, to the SNAT service. */
static struct flow snat_flow_of(int family, enum flow_set set, uint32_t i)
{
	struct flow f = flow_of(family, set, i, 0);

	f.svc = SVC_SNAT;
	return f;
}

/* Which flow of a set of n a client address and port (network order)
 * are: its index, or -1 when none. */
static long flow_index(int family, enum flow_set set, uint32_t n,
		       const union lbd_addr *client, __be16 cport)
{
	uint32_t c, base, port = ntohs(cport);

	if (family == AF_INET) {
		c = ntohl(client->v4);
		base = client4_base[set];
	} else {
		if (client->v6[0] != htonl(0x20010db8) ||
		    client->v6[1] != htonl(0x000c0000) || client->v6[2])
			return -1;
		c = ntohl(client->v6[3]);
		base = client6_base[set];
	}
	if (!n || c < base || c - base > (n - 1) >> 14 || port < 1024 ||
	    port - 1024 > 0x3fff || ((c - base) << 14 | (port - 1024)) >= n)
		return -1;
	return (long)((c - base) << 14 | (port - 1024));
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

/* The IPv4 ACK template with 40 bytes of IP options (NOPs), the longest
 * header: the IPv4 header checksum's cold path. */
static void tmpl_opts(struct pkt *p)
{
	static uint8_t nops[40];
	struct pkt_ipv4_opts o = { .options = nops,
				   .options_len = sizeof(nops) };
	char vip[64];

	memset(nops, 1, sizeof(nops) - 1);
	fmt_vip(vip, sizeof(vip), AF_INET, 0);
	pkt_init(p);
	pkt_eth(p, MAC_LB, MAC_NEXTHOP);
	pkt_ipv4(p, pkt_ip("198.18.63.1"), pkt_ip(vip), &o);
	pkt_tcp(p, 40000, 80, PKT_TCP_ACK, 1000, 2000);
	pkt_bytes(p, "0123456789", 10);
	pkt_finish(p);
}

/* Template of a backend's reply to a SNAT flow: a TCP ACK from a backend
 * of the SNAT service to the SNAT address (lb0's), 10 bytes of payload,
 * as a small response; pkt_set_reply makes it a given flow's. */
static void tmpl_reply(struct pkt *p, int family)
{
	pkt_init(p);
	pkt_eth(p, MAC_LB, MAC_NEXTHOP);
	pkt_ip_hdr(p,
		   pkt_ip(family == AF_INET ? "198.18.1.1" : "2001:db8:1::1"),
		   pkt_ip(family == AF_INET ? "198.18.0.10" : "2001:db8::10"));
	pkt_tcp(p, SNAT_PORT, 61000, PKT_TCP_ACK, 2000, 1010);
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

	if (family == AF_INET) {
		l3 = pkt_off(p, PKT_IPV4, 0);
		put_be32(p->buf + l3 + 12, f->client);
		put_be32(p->buf + l3 + 16, svc_vip(family, f->svc));
	} else {
		l3 = pkt_off(p, PKT_IPV6, 0);
		put_be32(p->buf + l3 + 8 + 12, f->client);
		put_be32(p->buf + l3 + 24 + 12, svc_vip(family, f->svc));
	}
	put_be16(p->buf + l4, f->sport);
	put_be16(p->buf + l4 + 2, svc_port(f->svc));
	pkt_finish(p);
}

/* Where a SNAT flow's replies come from and go to: the backend it was
 * sent to and the source port it was given there. */
struct snat_rev {
	union lbd_addr backend;
	__be16 lport; /* 0: not known */
};

/* Rewrites the reply template to a reply of the SNAT flow r and
 * recomputes its checksums. */
static void pkt_set_reply(struct pkt *p, int family, const struct snat_rev *r)
{
	long l4 = pkt_off(p, PKT_TCP, 0);

	if (family == AF_INET)
		memcpy(p->buf + pkt_off(p, PKT_IPV4, 0) + 12, &r->backend.v4,
		       4);
	else
		memcpy(p->buf + pkt_off(p, PKT_IPV6, 0) + 8, r->backend.b, 16);
	memcpy(p->buf + l4 + 2, &r->lport, 2);
	pkt_finish(p);
}

/* Writes the key of the conntrack entry lbd makes of the flow to key;
 * returns its size. */
static size_t ct_key_of(void *key, int family, const struct flow *f)
{
	if (family == AF_INET) {
		struct lbd_ct_key4 k = { .proto = IPPROTO_TCP };

		k.saddr = htonl(f->client);
		k.daddr = htonl(svc_vip(family, f->svc));
		k.sport = htons(f->sport);
		k.dport = htons(svc_port(f->svc));
		memcpy(key, &k, sizeof(k));
		return sizeof(k);
	} else {
		struct lbd_ct_key6 k = { .proto = IPPROTO_TCP };

		inet_pton(AF_INET6, "2001:db8:c::", &k.saddr);
		inet_pton(AF_INET6, "2001:db8:f::", &k.daddr);
		k.saddr.v6[3] = htonl(f->client);
		k.daddr.v6[3] = htonl(svc_vip(family, f->svc));
		k.sport = htons(f->sport);
		k.dport = htons(svc_port(f->svc));
		memcpy(key, &k, sizeof(k));
		return sizeof(k);
	}
}

/* Entries per batch map operation. A hash map's batch token is the index
 * of the bucket to go on from, a __u32. */
#define BATCH 8192

/* Deletes every entry of a hash map, in hash order (bucket by bucket),
 * a batch at a time. */
static int map_clear(int fd, size_t key_size, size_t value_size)
{
	uint8_t *keys = malloc(BATCH * key_size);
	uint8_t *vals = malloc(BATCH * value_size);
	__u32 in = 0, out = 0, n;
	bool first = true;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = BATCH;
		if (bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in,
						    &out, keys, vals, &n,
						    NULL) < 0) {
			if (errno != ENOENT)
				err = -errno;
			break;
		}
		first = false;
		in = out;
	}
out:
	free(keys);
	free(vals);
	return err;
}

/*
 * Brings an empty conntrack or NAT map to the state of one on an LB that
 * has run for a while. A fresh map hands out its preallocated entries in
 * address order, so a benchmark's flows would sit together in memory and
 * new flows would be written where the hardware just prefetched: figures
 * would depend on the map's history (here up to 40% for new flows)
 * instead of the program. So every entry of this CPU's share (the LRU
 * lists are per CPU) is taken by a dummy flow from 0.0.0.0/8 or ::/96,
 * then freed in hash order, which leaves the free list in no order of
 * address, as eviction does on a busy LB. Both kinds of key start with an
 * address (the client's, the backend's); batches spare a syscall per
 * entry, not the work the kernel does for each.
 */
static int map_age(int fd, int family, size_t key_size, size_t value_size,
		   uint32_t entries)
{
	/* the first word of an IPv4 key, the low word of the first 16
	 * bytes of an IPv6 one */
	size_t off = family == AF_INET ? 0 : 12;
	uint8_t *keys = calloc(BATCH, key_size);
	uint8_t *vals = calloc(BATCH, value_size);
	uint32_t i, j, a;
	__u32 n;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < entries; i += n) {
		n = entries - i < BATCH ? entries - i : BATCH;
		for (j = 0; j < n; j++) {
			a = htonl(i + j);
			memcpy(keys + j * key_size + off, &a, 4);
		}
		if (bpf_map_update_batch(fd, keys, vals, &n, NULL) < 0) {
			err = -errno;
			goto out;
		}
	}
	err = map_clear(fd, key_size, value_size);
out:
	free(keys);
	free(vals);
	return err;
}

/* ------------------------------------------------------------------ */
/* The programs under test */

/* Columns of the table. */
enum col { COL_ONE, COL_MANY, COL_COUNT };

/* Walks over the established flows, per family: the IPIP ones to one
 * service and over all, and the SNAT ones. */
enum cursor { CUR_ONE, CUR_ALL, CUR_SNAT, CUR_SL, CUR_COUNT };

struct lb {
	struct lbd_dp *dp;
	struct lbd_state st;
	struct lbd_config *cfg;
	unsigned int nsvc; /* IPIP services per family */
	double load_s;
	uint32_t cursor[2][CUR_COUNT]; /* next established flow [family] */
	struct snat_rev rev_single[2]; /* of the single SNAT flow [family] */
	struct bench_ct_alone *ct_alone; /* on this LB's maps */
};

/* Loads nsvc services per family (map sizes for largest). */
static int lb_open(struct lb *lb, unsigned int nsvc, unsigned int largest)
{
	struct timespec t0, t1;
	char *text = conf_text(nsvc, largest);
	int err;

	memset(lb, 0, sizeof(*lb));
	lb->nsvc = nsvc;
	if (!text)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = bench_lb_load(text, &lb->cfg, &lb->dp, &lb->st);
	free(text);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	lb->load_s = (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (err)
		return err;
	lb->ct_alone = bench_ct_alone__open();
	if (!lb->ct_alone)
		return -errno;
	err = dp_reuse_maps(lb->dp, lb->ct_alone->obj);
	if (err)
		return err;
	lb->ct_alone->rodata->knobs = dp_opts(lb->dp)->knobs;
	return bench_ct_alone__load(lb->ct_alone);
}

static void lb_close(struct lb *lb)
{
	if (!lb->cfg)
		return;
	bench_ct_alone__destroy(lb->ct_alone);
	state_free(&lb->st);
	dp_close(lb->dp);
	config_free(lb->cfg);
	memset(lb, 0, sizeof(*lb));
}

/* The counters that tell which path packets took. */
struct evc {
	uint64_t new_flow;
	uint64_t snat_new; /* SNAT source ports allocated */
	uint64_t snat_fwd;
	uint64_t snat_reply;
};

static int lb_events(struct lb *lb, struct evc *e)
{
	struct lbd_counter c[LBD_REASON_MAX];

	if (dp_reasons_read(lb->dp, c))
		return -1;
	e->new_flow = c[LBD_EV_NEW_FLOW].packets;
	e->snat_new = c[LBD_EV_SNAT_NEW].packets;
	e->snat_fwd = c[LBD_EV_SNAT_FWD].packets;
	e->snat_reply = c[LBD_EV_SNAT_REPLY].packets;
	return 0;
}

/* An entry of a reverse NAT map, of either family. */
struct nat_ent {
	const void *key; /* as in the map */
	union lbd_addr backend;
	__be16 lport;
	const struct lbd_nat *v;
};

typedef int (*nat_fn)(void *arg, const struct nat_ent *e);

/* Calls fn on every entry of the family's reverse NAT map, in hash
 * order, a batch read at a time; stops at the first call that returns
 * other than 0 and returns that. */
static int nat_walk(struct lb *lb, int family, nat_fn fn, void *arg)
{
	int fd = dp_map_fd(lb->dp,
			   family == AF_INET ? DP_MAP_NAT4 : DP_MAP_NAT6);
	size_t ks = family == AF_INET ? sizeof(struct lbd_nat_key4) :
					sizeof(struct lbd_nat_key6);
	uint8_t *keys = malloc(BATCH * ks);
	struct lbd_nat *vals = malloc(BATCH * sizeof(*vals));
	__u32 in = 0, out = 0, n, i;
	bool first = true, last = false;
	struct nat_ent e;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!last) {
		n = BATCH;
		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys,
					 vals, &n, NULL) < 0) {
			/* ENOENT: the last batch, n entries in it */
			if (errno != ENOENT) {
				err = -errno;
				goto out;
			}
			last = true;
		}
		first = false;
		in = out;
		for (i = 0; i < n; i++) {
			e.key = keys + i * ks;
			memset(&e.backend, 0, sizeof(e.backend));
			if (family == AF_INET) {
				const struct lbd_nat_key4 *k = e.key;

				e.backend.v4 = k->backend;
				e.lport = k->lport;
			} else {
				const struct lbd_nat_key6 *k = e.key;

				e.backend = k->backend;
				e.lport = k->lport;
			}
			e.v = &vals[i];
			err = fn(arg, &e);
			if (err)
				goto out;
		}
	}
out:
	free(keys);
	free(vals);
	return err;
}

/* Whether a NAT entry is of a flow to the SNAT service. */
static bool nat_to_snat_svc(int family, const struct lbd_nat *v)
{
	if (v->vport != htons(SNAT_PORT))
		return false;
	if (family == AF_INET)
		return v->vip.v4 == htonl(SNAT_VIP4);
	return v->vip.v6[0] == htonl(0x20010db8) &&
	       v->vip.v6[1] == htonl(0x000f0000) && !v->vip.v6[2] &&
	       v->vip.v6[3] == htonl(SNAT_VIP6);
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

enum kind {
	K_FLOOR,
	K_SYN_NEW,
	K_ACK_ONE,
	K_ACK_MANY,
	K_UDP_PASS,
	K_SNAT_NEW,
	K_SNAT_ONE,
	K_SNAT_MANY,
	K_REPLY,
	K_CT_LOOKUP, /* conntrack alone: the single flow's lookup */
	K_CT_INSERT, /* conntrack alone: a new flow's entry */
	K_ACK_NEW, /* the handshake's ACK of a new flow: its entry made */
	K_SL_SYN, /* flow state on the backends: */
	K_SL_ONE,
	K_SL_MANY,
	K_ACK_OPTS, /* the single flow, 40 bytes of IPv4 options */
	K_PARSE_ALONE, /* parsing alone */
	K_CSUM_ALONE, /* parsing alone, the IPv4 header checksum verified */
};

struct bcase {
	const char *name;
	enum kind kind;
	int family;
	bool spread; /* flows spread over every service of the family */
	int vs; /* the row a target compares with (-1: none) */
	double target; /* at most this ratio to it, or within it (SYN) */
};

/* The indices the targets name: keep them in step with the list. */
enum {
	C_EST4 = 7,
	C_MANY4 = 11,
	C_SL_ONE4 = 17,
	C_EST6 = 27,
	C_MANY6 = 28,
	C_SL_ONE6 = 34,
};

static const struct bcase cases[] = {
	{ "floor: xdp_pass", K_FLOOR, AF_INET, false, -1, 0 },
	{ "IPv4 TCP SYN, new 5-tuple (no entry made)", K_SYN_NEW, AF_INET,
	  false, -1, 0 },
	{ "  same, flows over all services", K_SYN_NEW, AF_INET, true, -1, 0 },
	{ "IPv4 TCP ACK of a new flow (its entry made)", K_ACK_NEW, AF_INET,
	  false, -1, 0 },
	{ "  same, flows over all services", K_ACK_NEW, AF_INET, true, -1, 0 },
	{ "  conntrack insert alone (the map's cost)", K_CT_INSERT, AF_INET,
	  false, -1, 0 },
	{ "  conntrack lookup alone (the map's cost)", K_CT_LOOKUP, AF_INET,
	  false, -1, 0 },
	{ "IPv4 TCP ACK, 1 established flow", K_ACK_ONE, AF_INET, false, -1,
	  0 },
	{ "  same flow, 40 bytes of IP options", K_ACK_OPTS, AF_INET, false,
	  -1, 0 },
	{ "  parse alone", K_PARSE_ALONE, AF_INET, false, -1, 0 },
	{ "  parse and IPv4 header checksum alone", K_CSUM_ALONE, AF_INET,
	  false, -1, 0 },
	{ "IPv4 TCP ACK, 100k established flows", K_ACK_MANY, AF_INET, false,
	  -1, 0 },
	{ "  same, flows over all services", K_ACK_MANY, AF_INET, true, -1, 0 },
	{ "IPv4 UDP to a non-VIP address", K_UDP_PASS, AF_INET, false, -1, 0 },
	{ "IPv4 TCP SYN, new SNAT flow", K_SNAT_NEW, AF_INET, false, -1, 0 },
	{ "IPv4 TCP ACK, 1 established SNAT flow", K_SNAT_ONE, AF_INET, false,
	  -1, 0 },
	{ "IPv4 TCP ACK, 100k established SNAT flows", K_SNAT_MANY, AF_INET,
	  false, -1, 0 },
	{ "IPv4 TCP ACK, 1 flow, flow state on backends", K_SL_ONE, AF_INET,
	  false, C_EST4, TARGET_SL_VS_LB },
	{ "IPv4 TCP ACK, 100k flows, state on backends", K_SL_MANY, AF_INET,
	  false, C_MANY4, TARGET_SL_VS_LB },
	{ "IPv4 TCP SYN, new 5-tuple, state on backends", K_SL_SYN, AF_INET,
	  false, C_SL_ONE4, TARGET_SYN_VS_EST },
	{ "IPv4 TCP ACK reply from the backend, SNAT reply", K_REPLY, AF_INET,
	  false, -1, 0 },
	{ "IPv6 TCP SYN, new 5-tuple (no entry made)", K_SYN_NEW, AF_INET6,
	  false, -1, 0 },
	{ "  same, flows over all services", K_SYN_NEW, AF_INET6, true, -1,
	  0 },
	{ "IPv6 TCP ACK of a new flow (its entry made)", K_ACK_NEW, AF_INET6,
	  false, -1, 0 },
	{ "  same, flows over all services", K_ACK_NEW, AF_INET6, true, -1,
	  0 },
	{ "  conntrack insert alone (the map's cost)", K_CT_INSERT, AF_INET6,
	  false, -1, 0 },
	{ "  conntrack lookup alone (the map's cost)", K_CT_LOOKUP, AF_INET6,
	  false, -1, 0 },
	{ "IPv6 TCP ACK, 1 established flow", K_ACK_ONE, AF_INET6, false, -1,
	  0 },
	{ "IPv6 TCP ACK, 100k established flows", K_ACK_MANY, AF_INET6,
	  false, -1, 0 },
	{ "  same, flows over all services", K_ACK_MANY, AF_INET6, true, -1,
	  0 },
	{ "IPv6 UDP to a non-VIP address", K_UDP_PASS, AF_INET6, false, -1,
	  0 },
	{ "IPv6 TCP SYN, new SNAT flow", K_SNAT_NEW, AF_INET6, false, -1, 0 },
	{ "IPv6 TCP ACK, 1 established SNAT flow", K_SNAT_ONE, AF_INET6,
	  false, -1, 0 },
	{ "IPv6 TCP ACK, 100k established SNAT flows", K_SNAT_MANY, AF_INET6,
	  false, -1, 0 },
	{ "IPv6 TCP ACK, 1 flow, flow state on backends", K_SL_ONE, AF_INET6,
	  false, C_EST6, TARGET_SL_VS_LB },
	{ "IPv6 TCP ACK, 100k flows, state on backends", K_SL_MANY, AF_INET6,
	  false, C_MANY6, TARGET_SL_VS_LB },
	{ "IPv6 TCP SYN, new 5-tuple, state on backends", K_SL_SYN, AF_INET6,
	  false, C_SL_ONE6, TARGET_SYN_VS_EST },
	{ "IPv6 TCP ACK reply from the backend, SNAT reply", K_REPLY, AF_INET6,
	  false, -1, 0 },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))
#define NAME_W 47 /* the width of the longest name */

/* A row that is not lbd's datapath as it runs, or not a case the
 * targets speak of: a reference, without a target. */
static bool case_reference(enum kind k)
{
	return k == K_CT_LOOKUP || k == K_CT_INSERT || k == K_ACK_OPTS ||
	       k == K_PARSE_ALONE || k == K_CSUM_ALONE;
}

/* How much a case of n packets moves each counter: n, or 0. */
static struct evc case_want(enum kind k, uint64_t n)
{
	struct evc w = { 0 };

	switch (k) {
	case K_ACK_NEW:
		w.new_flow = n;
		break;
	case K_SNAT_NEW:
		w.new_flow = w.snat_new = w.snat_fwd = n;
		break;
	case K_SNAT_ONE:
	case K_SNAT_MANY:
		w.snat_fwd = n;
		break;
	case K_REPLY:
		w.snat_reply = n;
		break;
	default:
		break;
	}
	return w;
}

struct bench {
	unsigned long n; /* packets per case and round */
	int rounds;
	unsigned int many; /* services of the large config, both families */
	uint32_t ct_share; /* conntrack (and NAT) entries of one CPU */
	bool fresh; /* conntrack and NAT maps not aged */
	const char *only; /* run the cases whose name holds this (-k) */
	int cpu;
	int pass_fd;
	struct pkt syn[2], ack[2], udp[2], reply[2], ack_opts, p;
	uint8_t *keys; /* n map keys, of new flows to forget */
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
 * that they are established: to nsvc services, or to the SNAT one. */
static int establish(struct bench *b, struct lb *lb, int family,
		     enum flow_set set, uint32_t n, uint32_t nsvc, bool snat)
{
	struct pkt *p = &b->p;
	uint64_t ns = 0;
	uint32_t i;

	/* the handshake's ACK makes the entry; SNAT's first packet does */
	*p = snat ? b->syn[fam_idx(family)] : b->ack[fam_idx(family)];
	for (i = 0; i < n; i++) {
		struct flow f = snat ? snat_flow_of(family, set, i) :
				       flow_of(family, set, i, nsvc);

		pkt_set_flow(p, family, &f);
		if (run_one(dp_prog_fd(lb->dp), p, &ns) != XDP_TX) {
			fprintf(stderr, "establishing flow %u: not XDP_TX\n",
				i);
			return -1;
		}
	}
	return 0;
}

/* Counts the reverse NAT entries of the established SNAT flows, and
 * notes where the single flow's replies come from and go to. */
struct rev_note {
	struct snat_rev *single;
	int family;
	uint32_t found;
};

static int rev_note_one(void *arg, const struct nat_ent *e)
{
	struct rev_note *a = arg;
	bool single = flow_index(a->family, FLOWS_SINGLE, 1, &e->v->client,
				 e->v->cport) == 0;

	if ((!single && flow_index(a->family, FLOWS_ONE_SVC, BENCH_EST_FLOWS,
				   &e->v->client, e->v->cport) < 0) ||
	    (single && a->single->lport) || !e->lport ||
	    !nat_to_snat_svc(a->family, e->v)) {
		fprintf(stderr, "a NAT entry of no established SNAT flow\n");
		return -EINVAL;
	}
	if (single) {
		a->single->backend = e->backend;
		a->single->lport = e->lport;
	}
	a->found++;
	return 0;
}

/* Conntrack and the NAT maps as the rounds expect them: aged (unless -F),
 * then the single flows and the sets of established flows in them, each
 * SNAT flow with its reverse entry, and where the single SNAT flow's
 * replies come from and go to noted. */
static int lb_prepare(struct bench *b, struct lb *lb)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	struct rev_note note;
	int f, err = 0;

	if (!b->fresh)
		err = map_age(dp_map_fd(lb->dp, DP_MAP_CT4), AF_INET,
			      sizeof(struct lbd_ct_key4), sizeof(struct lbd_ct),
			      b->ct_share);
	if (!err && !b->fresh)
		err = map_age(dp_map_fd(lb->dp, DP_MAP_CT6), AF_INET6,
			      sizeof(struct lbd_ct_key6), sizeof(struct lbd_ct),
			      b->ct_share);
	if (!err && !b->fresh)
		err = map_age(dp_map_fd(lb->dp, DP_MAP_NAT4), AF_INET,
			      sizeof(struct lbd_nat_key4),
			      sizeof(struct lbd_nat), b->ct_share);
	if (!err && !b->fresh)
		err = map_age(dp_map_fd(lb->dp, DP_MAP_NAT6), AF_INET6,
			      sizeof(struct lbd_nat_key6),
			      sizeof(struct lbd_nat), b->ct_share);
	if (err) {
		fprintf(stderr, "ageing conntrack and NAT maps: %s\n",
			strerror(-err));
		return -1;
	}
	for (f = 0; f < 2; f++) {
		if (establish(b, lb, fams[f], FLOWS_SINGLE, 1, 0, false) ||
		    establish(b, lb, fams[f], FLOWS_ONE_SVC, BENCH_EST_FLOWS, 0,
			      false) ||
		    establish(b, lb, fams[f], FLOWS_ALL_SVC, BENCH_EST_FLOWS,
			      lb->nsvc, false) ||
		    establish(b, lb, fams[f], FLOWS_SINGLE, 1, 0, true) ||
		    establish(b, lb, fams[f], FLOWS_ONE_SVC, BENCH_EST_FLOWS, 0,
			      true))
			return -1;
		note = (struct rev_note){ .single = &lb->rev_single[f],
					  .family = fams[f] };
		err = nat_walk(lb, fams[f], rev_note_one, &note);
		if (err || note.found != BENCH_EST_FLOWS + 1) {
			fprintf(stderr,
				"reading the NAT map: %s, %u of %u SNAT "
				"flows\n",
				err ? strerror(-err) : "ok", note.found,
				BENCH_EST_FLOWS + 1);
			return -1;
		}
	}
	return 0;
}

/* Takes note of the keys of a round's new SNAT flows in the NAT map. */
struct nat_new {
	uint8_t *keys;
	size_t key_size;
	int family;
	uint32_t n, found;
};

static int nat_new_one(void *arg, const struct nat_ent *e)
{
	struct nat_new *a = arg;

	if (flow_index(a->family, FLOWS_NEW, a->n, &e->v->client, e->v->cport) <
	    0)
		return 0;
	if (a->found == a->n)
		return -EEXIST;
	memcpy(a->keys + a->found++ * a->key_size, e->key, a->key_size);
	return 0;
}

/*
 * Forgets the new flows of the case's round, so that the next round's
 * packets are new flows again: their conntrack entries, and for SNAT
 * their reverse NAT entries, which give their ports back. A flow not
 * found is an error.
 */
static int forget_new(struct bench *b, struct lb *lb, const struct bcase *c)
{
	bool snat = c->kind == K_SNAT_NEW;
	uint32_t nsvc = c->spread ? lb->nsvc : 0, i;
	int ct = dp_map_fd(lb->dp,
			   c->family == AF_INET ? DP_MAP_CT4 : DP_MAP_CT6);
	int nat = dp_map_fd(lb->dp,
			    c->family == AF_INET ? DP_MAP_NAT4 : DP_MAP_NAT6);
	struct nat_new nn = {
		.keys = b->keys,
		.key_size = c->family == AF_INET ? sizeof(struct lbd_nat_key4) :
						   sizeof(struct lbd_nat_key6),
		.family = c->family,
		.n = (uint32_t)b->n,
	};
	size_t ks = c->family == AF_INET ? sizeof(struct lbd_ct_key4) :
					   sizeof(struct lbd_ct_key6);
	struct flow f;
	__u32 n;
	int err;

	if (snat) {
		err = nat_walk(lb, c->family, nat_new_one, &nn);
		n = nn.found;
		if (!err && nn.found != nn.n)
			err = -ENOENT;
		if (!err && bpf_map_delete_batch(nat, b->keys, &n, NULL) < 0)
			err = -errno;
		if (err) {
			fprintf(stderr, "%s: forgetting NAT entries: %s\n",
				c->name, strerror(-err));
			return -1;
		}
	}
	for (i = 0; i < b->n; i++) {
		f = snat ? snat_flow_of(c->family, FLOWS_NEW, i) :
			   flow_of(c->family, FLOWS_NEW, i, nsvc);
		ct_key_of(b->keys + i * ks, c->family, &f);
	}
	n = (__u32)b->n;
	if (bpf_map_delete_batch(ct, b->keys, &n, NULL) < 0) {
		fprintf(stderr, "%s: forgetting conntrack entries: %s\n",
			c->name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Makes p the case's packet number i, for the cases whose packets
 * differ. */
static void case_packet(struct lb *lb, const struct bcase *c, uint32_t i,
			struct pkt *p)
{
	int fi = fam_idx(c->family);
	uint32_t nsvc = c->spread ? lb->nsvc : 0, *cur = NULL;
	struct flow f;

	switch (c->kind) {
	case K_SYN_NEW:
	case K_ACK_NEW:
	case K_CT_INSERT:
		f = flow_of(c->family, FLOWS_NEW, i, nsvc);
		break;
	case K_SL_SYN:
		f = flow_of(c->family, FLOWS_NEW, i, 0);
		f.svc = SVC_SL;
		break;
	case K_SL_MANY:
		cur = &lb->cursor[fi][CUR_SL];
		f = flow_of(c->family, FLOWS_ONE_SVC, *cur, 0);
		f.svc = SVC_SL;
		break;
	case K_SNAT_NEW:
		f = snat_flow_of(c->family, FLOWS_NEW, i);
		break;
	case K_ACK_MANY:
		cur = &lb->cursor[fi][c->spread ? CUR_ALL : CUR_ONE];
		f = flow_of(c->family, est_set(c->spread), *cur, nsvc);
		break;
	case K_SNAT_MANY:
		cur = &lb->cursor[fi][CUR_SNAT];
		f = snat_flow_of(c->family, FLOWS_ONE_SVC, *cur);
		break;
	default:
		return;
	}
	if (cur)
		*cur = (*cur + 1) % BENCH_EST_FLOWS;
	pkt_set_flow(p, c->family, &f);
}

/* Runs one case for one round; returns ns per packet, or < 0. */
static double run_case(struct bench *b, struct lb *lb, const struct bcase *c)
{
	int fi = fam_idx(c->family), fd = dp_prog_fd(lb->dp), want = XDP_TX;
	struct evc e0, e1, w = case_want(c->kind, b->n);
	struct pkt *p = &b->p;
	uint64_t ns = 0;
	struct flow f;
	unsigned long i;
	int act = 0;

	switch (c->kind) {
	case K_FLOOR:
		fd = b->pass_fd;
		want = XDP_PASS;
		*p = b->syn[0];
		break;
	case K_CT_INSERT:
		fd = bpf_program__fd(lb->ct_alone->progs.ct_insert_alone);
		/* fall through */
	case K_SYN_NEW:
	case K_SNAT_NEW:
	case K_SL_SYN:
		*p = b->syn[fi];
		break;
	case K_ACK_NEW:
	case K_SL_MANY:
		*p = b->ack[fi];
		break;
	case K_SL_ONE:
		*p = b->ack[fi];
		f = flow_of(c->family, FLOWS_SINGLE, 0, 0);
		f.svc = SVC_SL;
		pkt_set_flow(p, c->family, &f);
		break;
	case K_CT_LOOKUP:
		fd = bpf_program__fd(lb->ct_alone->progs.ct_lookup_alone);
		/* fall through */
	case K_PARSE_ALONE:
	case K_CSUM_ALONE:
		fd = bpf_program__fd(
			c->kind == K_PARSE_ALONE ?
				lb->ct_alone->progs.parse_alone :
				lb->ct_alone->progs.parse_csum_alone);
		/* fall through */
	case K_ACK_ONE:
	case K_SNAT_ONE:
	case K_ACK_OPTS:
		*p = c->kind == K_ACK_OPTS ? b->ack_opts : b->ack[fi];
		f = c->kind == K_SNAT_ONE ?
			    snat_flow_of(c->family, FLOWS_SINGLE, 0) :
			    flow_of(c->family, FLOWS_SINGLE, 0, 0);
		pkt_set_flow(p, c->family, &f);
		break;
	case K_ACK_MANY:
	case K_SNAT_MANY:
		*p = b->ack[fi];
		break;
	case K_REPLY:
		*p = b->reply[fi];
		pkt_set_reply(p, c->family, &lb->rev_single[fi]);
		break;
	case K_UDP_PASS:
		*p = b->udp[fi];
		want = XDP_PASS;
		break;
	}
	if (lb_events(lb, &e0)) {
		fprintf(stderr, "%s: reading counters failed\n", c->name);
		return -1;
	}
	for (i = 0; i < b->n; i++) {
		case_packet(lb, c, (uint32_t)i, p);
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
	if (lb_events(lb, &e1)) {
		fprintf(stderr, "%s: reading counters failed\n", c->name);
		return -1;
	}
	if (c->kind != K_FLOOR &&
	    (e1.new_flow - e0.new_flow != w.new_flow ||
	     e1.snat_new - e0.snat_new != w.snat_new ||
	     e1.snat_fwd - e0.snat_fwd != w.snat_fwd ||
	     e1.snat_reply - e0.snat_reply != w.snat_reply)) {
		fprintf(stderr,
			"%s: new flows, SNAT ports, forwards, replies: "
			"%llu %llu %llu %llu, want %llu %llu %llu %llu\n",
			c->name,
			(unsigned long long)(e1.new_flow - e0.new_flow),
			(unsigned long long)(e1.snat_new - e0.snat_new),
			(unsigned long long)(e1.snat_fwd - e0.snat_fwd),
			(unsigned long long)(e1.snat_reply - e0.snat_reply),
			(unsigned long long)w.new_flow,
			(unsigned long long)w.snat_new,
			(unsigned long long)w.snat_fwd,
			(unsigned long long)w.snat_reply);
		return -1;
	}
	if ((c->kind == K_ACK_NEW || c->kind == K_SNAT_NEW ||
	     c->kind == K_CT_INSERT) &&
	    forget_new(b, lb, c))
		return -1;
	return (double)ns / (double)b->n;
}

/* The floor always runs: every row is a multiple of it. A row indented
 * under another is selected with it, or by its own name. */
static bool case_selected(const struct bench *b, size_t c)
{
	size_t main = c;

	while (main > 0 && cases[main].name[0] == ' ')
		main--;
	return !b->only || cases[c].kind == K_FLOOR ||
	       strstr(cases[c].name, b->only) ||
	       strstr(cases[main].name, b->only);
}

static int run_rounds(struct bench *b, struct lb *lbs)
{
	int r, col;
	size_t c;

	for (r = 0; r < b->rounds; r++) {
		for (c = 0; c < N_CASES; c++) {
			if (!case_selected(b, c))
				continue;
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
	size_t rows = 0, c;

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
	       "lbd's state_apply). Both also have a SNAT service per "
	       "family, a VIP of its own, %d\n"
	       "backends, source ports %s. Both are loaded; every round "
	       "runs each case on both.\n"
	       "Established flows are in conntrack before the rounds; a new "
	       "flow is a new 5-tuple\n"
	       "per packet, removed from conntrack (and the NAT map) after "
	       "its round. \"over all\n"
	       "services\": the flows go to every service of the family in "
	       "turn (with 1 service,\n"
	       "to that one). The SNAT reply is the single SNAT flow's, "
	       "from its backend to the\n"
	       "address and port the flow was given (as read from the NAT "
	       "map); its next hop to\n"
	       "the client is cached, as the forward direction's.\n"
	       "\"conntrack ... alone\": a program that parses the packet "
	       "and only looks its flow\nup in lbd's conntrack map, or "
	       "only writes its entry (tools/bench/ct_alone.bpf.c):\n"
	       "what the map the issue asks for costs by itself, timed the "
	       "same way; no target.\n"
	       "\"parse ... alone\": the same program's parse of the "
	       "packet, and that with the IPv4\nheader checksum verified as "
	       "lbd does for packets to a VIP: the difference is the\n"
	       "check's cost. \"40 bytes of IP options\": the single flow "
	       "with the longest IPv4\nheader, whose checksum sums every "
	       "word of it (a reference, no target).\n",
	       2 * many->nsvc, many->nsvc, many->nsvc,
	       (many->nsvc + BENCH_PORTS - 1) / BENCH_PORTS, BENCH_PORTS,
	       BENCH_BACKENDS, BENCH_MAGLEV_SIZE, many->load_s,
	       BENCH_SNAT_BACKENDS, BENCH_SNAT_PORTS);
	if (b->fresh)
		printf("Conntrack and NAT maps FRESH (-F): entries in address "
		       "order, as in maps that\nnever evicted.\n");
	else
		printf("Conntrack and NAT maps aged: their free entries in no "
		       "order of address, as on\nan LB that has run for a "
		       "while (-F for fresh maps).\n");
	printf("A SYN makes no conntrack entry (the handshake's ACK does: "
	       "\"ACK of a new flow\").\n"
	       "\"state on backends\": a service of its own VIP with "
	       "flow_state = \"backends\",\n"
	       "10 backends, IPIP (sent as Geneve with lbd's option): no "
	       "conntrack; its 100k flows\n"
	       "are packets of 100k 5-tuples in turn.\n"
	       "\"x floor\" is the ratio to xdp_pass timed the same way "
	       "(the column's median).\n"
	       "Targets (issue 16), in the same run: an established flow with "
	       "its state on the\nbackends at most %.1fx the same in \"lb\" "
	       "mode; a SYN there within %.0f%% of an\nestablished one.\n\n",
	       TARGET_SL_VS_LB, TARGET_SYN_VS_EST * 100);
	snprintf(hdr, sizeof(hdr), "%u services", 2 * many->nsvc);
	printf("%-*s %17s  %17s  %7s  %s\n", NAME_W, "", "1 service", hdr,
	       "that vs", "target, in both");
	printf("%-*s %9s %7s  %9s %7s  %7s  %s\n", NAME_W, "case", "ns/pkt",
	       "x floor", "ns/pkt", "x floor", "1 svc", "columns");
	for (c = 0; c < N_CASES; c++) {
		const struct bcase *k = &cases[c];
		char s[COL_COUNT][32], x[COL_COUNT][32], d[32] = "";
		double v[COL_COUNT], r[COL_COUNT];
		char verdict[96] = "";
		bool ok = true;

		if (!case_selected(b, c))
			continue;
		for (col = 0; col < COL_COUNT; col++) {
			v[col] = case_median(b, c, (enum col)col);
			snprintf(s[col], sizeof(s[col]), "%.1f", v[col]);
			snprintf(x[col], sizeof(x[col]), "%.2fx",
				 v[col] / floor[col]);
		}
		if (k->kind != K_FLOOR)
			snprintf(d, sizeof(d), "%+.0f%%",
				 (v[COL_MANY] / v[COL_ONE] - 1) * 100);
		if (case_reference(k->kind))
			snprintf(verdict, sizeof(verdict), "(reference)");
		if (k->vs >= 0 && case_selected(b, (size_t)k->vs)) {
			for (col = 0; col < COL_COUNT; col++) {
				r[col] = v[col] / case_median(b, (size_t)k->vs,
							      (enum col)col);
				ok = ok && (k->kind == K_SL_SYN
						    ? r[col] <= 1 + k->target
						    : r[col] <= k->target);
			}
			snprintf(verdict, sizeof(verdict),
				 k->kind == K_SL_SYN
					 ? "%.2fx %.2fx of its 1 flow, "
					   "<= %.2fx  %s"
					 : "%.2fx %.2fx of \"lb\" mode, "
					   "<= %.2fx  %s",
				 r[COL_ONE], r[COL_MANY],
				 k->kind == K_SL_SYN ? 1 + k->target
						     : k->target,
				 ok ? "met" : "MISSED");
			misses += !ok;
			rows++;
		}
		printf("%-*s %9s %7s  %9s %7s  %7s  %s\n", NAME_W, k->name,
		       s[COL_ONE], x[COL_ONE], s[COL_MANY], x[COL_MANY], d,
		       verdict);
	}
	printf("\n%d of %zu rows with a target missed it.\n", misses, rows);
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbd-bench-xdp [-n packets] [-r rounds] [-s services] "
		"[-c cpu] [-F] [-k text]\n"
		"  -n  packets per case and round (default 100000)\n"
		"  -r  rounds; the median is reported (default 5)\n"
		"  -s  services of the large config, half IPv4, half IPv6 "
		"(default 10000)\n"
		"  -c  CPU to run on (default: the last one)\n"
		"  -F  fresh conntrack and NAT maps: do not age them first "
		"(optimistic)\n"
		"  -k  only the cases whose name holds text (and the floor)\n"
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

	/* the rows the targets compare with are where they are said to be */
	if (cases[C_EST4].kind != K_ACK_ONE || cases[C_EST6].kind != K_ACK_ONE ||
	    cases[C_MANY4].kind != K_ACK_MANY ||
	    cases[C_MANY6].kind != K_ACK_MANY ||
	    cases[C_SL_ONE4].kind != K_SL_ONE ||
	    cases[C_SL_ONE6].kind != K_SL_ONE)
		errx(1, "the rows of cases[] moved: fix C_EST4 and friends");
	while ((opt = getopt(argc, argv, "n:r:s:c:Fk:h")) != -1) {
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
		case 'k':
			b.only = optarg;
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
	/* new flows and the three sets of established ones (and the
	 * single flows) must fit the conntrack share of one CPU (per-CPU
	 * LRU lists): none may be evicted. The NAT maps have as many
	 * entries and hold fewer of them. */
	if (b.rounds < 1 || b.rounds > 64 || b.n < 1 ||
	    b.n + 3 * BENCH_EST_FLOWS + 2 > b.ct_share) {
		fprintf(stderr, "-r: from 1 to 64; -n: from 1 to %u packets\n",
			b.ct_share - 3 * BENCH_EST_FLOWS - 2);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (b.cpu < 0)
		b.cpu = (int)sysconf(_SC_NPROCESSORS_ONLN) - 1;
	if (pin_cpu(b.cpu))
		return 1;
	log_init("lbd-bench-xdp", 0);
	dp_log_route();
	if (env_init()) {
		fprintf(stderr, "cannot set up the namespace (needs root)\n");
		return 1;
	}
	b.res = calloc(N_CASES * COL_COUNT * (size_t)b.rounds, sizeof(double));
	b.keys = calloc(b.n, sizeof(struct lbd_ct_key6));
	if (!b.res || !b.keys)
		goto out;
	for (f = 0; f < 2; f++) {
		int fam = f ? AF_INET6 : AF_INET;

		tmpl_build(&b.syn[f], fam, PKT_TCP_SYN);
		tmpl_build(&b.ack[f], fam, PKT_TCP_ACK);
		tmpl_build(&b.udp[f], fam, 0);
		tmpl_reply(&b.reply[f], fam);
	}
	tmpl_opts(&b.ack_opts);
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
	free(b.keys);
	return rc;
}
