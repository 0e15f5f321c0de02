// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The datapath fuzzer: lbd's real XDP program and the backend's tc
 * companion under BPF_PROG_TEST_RUN, fed generated packets (fz_gen.c)
 * and judged by an oracle that shares no code with them (fz_oracle.c).
 *
 * The programs are loaded once, in a network namespace of the process's
 * own laid out as the datapath tests' (tests/datapath/harness.c), with
 * maps filled by lbd's own code (config/, lbd/state/state.c) from the config
 * below; state (conntrack, SNAT, Geneve flows) builds up over the run,
 * and the generator answers flows lbd made (SNAT replies, Geneve
 * replies). A finding is printed when first seen, with the packet, the
 * verdict and the output, and counted; the run fails if there is any.
 *
 *   fuzz_datapath [-t SECONDS] [-n PACKETS] [-s SEED] [-p xdp|tc|all]
 *                 [-q]
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "datapath.h"
#include "fz.h"
#include "harness.h"
#include "state.h"
#include "tc_backend.skel.h"

#define FZ_CONF                                                                 \
	"datapath = { interface = \"lb0\"; encap_source_v4 = \"198.18.0.10\";"  \
	" encap_source_v6 = \"2001:db8::10\"; maglev_table_size = 251;"         \
	" hash_seed = 0x5eed; };\n"                                             \
	"services = (\n"                                                        \
	" { name = \"ipip4\"; vip = \"203.0.113.10\"; port = 80;"               \
	" backends = ( { address = \"198.18.1.11\"; } ); },\n"                  \
	" { name = \"udp4\"; vip = \"203.0.113.10\"; port = 53;"                \
	" protocol = \"udp\"; backends = ( { address = \"198.18.1.11\"; } );"   \
	" },\n"                                                                 \
	" { name = \"gnv4\"; vip = \"203.0.113.10\"; port = 443;"               \
	" forwarding = \"geneve\"; backends = ( { address = \"198.18.1.11\";"   \
	" port = 8443; } ); },\n"                                               \
	" { name = \"gnvu4\"; vip = \"203.0.113.10\"; port = 443;"              \
	" protocol = \"udp\"; forwarding = \"geneve\"; backends = ("            \
	" { address = \"198.18.1.11\"; port = 8443; } ); },\n"                  \
	" { name = \"fourin6\"; vip = \"203.0.113.10\"; port = 8080;"           \
	" backends = ( { address = \"2001:db8:1::11\"; } ); },\n"               \
	" { name = \"snat4\"; vip = \"203.0.113.20\"; port = 80;"               \
	" forwarding = \"snat\"; backends = ( { address = \"198.18.1.11\";"     \
	" port = 8080; } ); },\n"                                               \
	" { name = \"snatu4\"; vip = \"203.0.113.20\"; port = 53;"              \
	" protocol = \"udp\"; forwarding = \"snat\"; backends = ("              \
	" { address = \"198.18.1.11\"; port = 5353; } ); },\n"                  \
	" { name = \"hyb4\"; vip = \"203.0.113.20\"; port = 443;"               \
	" forwarding = \"hybrid\"; dsr = \"geneve\"; backends = ("              \
	" { address = \"198.18.1.11\"; port = 8443; } ); },\n"                  \
	" { name = \"none4\"; vip = \"203.0.113.30\"; port = 80; },\n"          \
	" { name = \"noneu4\"; vip = \"203.0.113.30\"; port = 53;"              \
	" protocol = \"udp\"; },\n"                                             \
	" { name = \"mtu4\"; vip = \"203.0.113.40\"; port = 80;"                \
	" backends = ( { address = \"198.18.4.11\"; } ); },\n"                  \
	" { name = \"mtuu4\"; vip = \"203.0.113.40\"; port = 80;"               \
	" protocol = \"udp\"; forwarding = \"snat\"; backends = ("              \
	" { address = \"198.18.4.11\"; port = 8080; } ); },\n"                  \
	" { name = \"ipip6\"; vip = \"2001:db8:f::10\"; port = 80;"             \
	" backends = ( { address = \"2001:db8:1::11\"; } ); },\n"               \
	" { name = \"udp6\"; vip = \"2001:db8:f::10\"; port = 53;"              \
	" protocol = \"udp\"; backends = ( { address = \"2001:db8:1::11\"; }"   \
	" ); },\n"                                                              \
	" { name = \"gnv6\"; vip = \"2001:db8:f::10\"; port = 443;"             \
	" forwarding = \"geneve\"; backends = ( { address ="                    \
	" \"2001:db8:1::11\"; port = 8443; } ); },\n"                           \
	" { name = \"snat6\"; vip = \"2001:db8:f::20\"; port = 80;"             \
	" forwarding = \"snat\"; backends = ( { address = \"2001:db8:1::11\";"  \
	" port = 8080; } ); },\n"                                               \
	" { name = \"snatu6\"; vip = \"2001:db8:f::20\"; port = 53;"            \
	" protocol = \"udp\"; forwarding = \"snat\"; backends = ("              \
	" { address = \"2001:db8:1::11\"; port = 5353; } ); },\n"               \
	" { name = \"none6\"; vip = \"2001:db8:f::30\"; port = 80; },\n"        \
	" { name = \"mtu6\"; vip = \"2001:db8:f::40\"; port = 80;"              \
	" backends = ( { address = \"2001:db8:4::11\"; } ); },\n"               \
	" { name = \"host\"; vip = \"*\"; port = 30080; forwarding = \"snat\";" \
	" backends = ( { address = \"198.18.1.11\"; port = 8080; } ); }\n"      \
	");\n"

struct fz_finding {
	const char *prog;
	char what[192];
	unsigned long count;
};

#define FZ_MAX_FINDINGS 64
static struct fz_finding findings[FZ_MAX_FINDINGS];
static size_t n_findings;
static bool quiet;

static void hex(const char *label, const uint8_t *b, size_t n)
{
	size_t i;

	fprintf(stderr, "  %s (%zu bytes):", label, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", b[i]);
	fprintf(stderr, "\n");
}

static void finding(const char *prog, const char *what, unsigned long pkt,
		    double secs, const uint8_t *in, size_t in_len, int ret,
		    const uint8_t *out, size_t out_len)
{
	size_t i;

	for (i = 0; i < n_findings; i++) {
		if (!strcmp(findings[i].prog, prog) &&
		    !strcmp(findings[i].what, what)) {
			findings[i].count++;
			return;
		}
	}
	if (n_findings == FZ_MAX_FINDINGS)
		return;
	findings[n_findings].prog = prog;
	snprintf(findings[n_findings].what, sizeof(findings[0].what), "%s",
		 what);
	findings[n_findings++].count = 1;
	fprintf(stderr, "FINDING %s: %s (packet %lu, after %.2f s)\n", prog,
		what, pkt, secs);
	if (quiet)
		return;
	fprintf(stderr, "  verdict %d\n", ret);
	hex("in", in, in_len);
	hex("out", out, out_len);
}

static const uint8_t be4[4] = { 198, 18, 1, 11 };
static const uint8_t be6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x11 };
static const uint8_t lb4[4] = { 198, 18, 0, 10 };
static const uint8_t lb6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x10 };

static bool be_local(int fam, const uint8_t *a)
{
	return !memcmp(a, fam == 4 ? be4 : be6, fam == 4 ? 4 : 16);
}

static bool be_trusted(int fam, const uint8_t *a)
{
	return !memcmp(a, fam == 4 ? lb4 : lb6, fam == 4 ? 4 : 16);
}

static int lb_setup(struct lbd_dp **dp, struct lbd_state *st,
		    struct lbd_config **cfg)
{
	struct lbd_conf_addr host[2] = {
		{ .family = LBD_AF_INET, .prefixlen = 32 },
		{ .family = LBD_AF_INET6, .prefixlen = 128 },
	};
	struct config_diag d;
	struct lbd_dp_opts o;
	struct apply_result r;
	int err;

	err = config_load_string(FZ_CONF, "fuzz.conf", cfg, &d);
	if (err) {
		size_t i;

		for (i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		config_diag_free(&d);
		return err;
	}
	config_diag_free(&d);
	(*cfg)->dp.pin_path[0] = '\0';
	state_dp_opts(*cfg, &o);
	o.ct_entries = 4096;
	o.max_backends = 1024;
	o.max_services = 256;
	if (o.max_vips > 256)
		o.max_vips = 256;
	err = dp_open(&o, dp);
	if (err)
		return err;
	err = state_init(st, o.max_services, o.max_backends);
	if (err)
		return err;
	memcpy(&host[0].addr, lb4, 4);
	memcpy(&host[1].addr, lb6, 16);
	err = state_set_host_addrs(st, host, 2);
	if (!err)
		err = state_apply(st, *dp, *cfg, NULL, NULL, &r);
	return err;
}

static int set_put(int fd, int fam, const uint8_t *a)
{
	struct lbd_addr_key k;
	__u8 one = 1;

	memset(&k, 0, sizeof(k));
	k.family = fam == 4 ? LBD_AF_INET : LBD_AF_INET6;
	memcpy(&k.addr, a, fam == 4 ? 4 : 16);
	return bpf_map_update_elem(fd, &k, &one, BPF_ANY) ? -errno : 0;
}

/* A trusted source's address in lbd_be_sources, keyed as lbd keys it. */
static int src_put(int fd, int fam, const uint8_t *a)
{
	struct lbd_src_key k;
	__u8 one = 1;

	memset(&k, 0, sizeof(k));
	k.family = fam == 4 ? LBD_AF_INET : LBD_AF_INET6;
	k.prefixlen = LBD_SRC_PREFIX_BASE + (fam == 4 ? 32 : 128);
	memcpy(&k.addr, a, fam == 4 ? 4 : 16);
	return bpf_map_update_elem(fd, &k, &one, BPF_ANY) ? -errno : 0;
}

static int be_setup(struct tc_backend **out)
{
	struct tc_backend *s = tc_backend__open();
	struct bpf_map *m;
	int err;

	if (!s)
		return -errno;
	/* maps of its own, pinned nowhere: nothing left behind, nothing
	 * another run left found */
	bpf_object__for_each_map(m, s->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(s->maps.lbd_be_flows, 4096);
	s->rodata->be_knobs.map_abi = LBD_MAP_ABI;
	err = tc_backend__load(s);
	if (err) {
		tc_backend__destroy(s);
		return err;
	}
	/* as lbd's backend role fills them (lbd/backend.c) */
	err = set_put(bpf_map__fd(s->maps.lbd_be_local), 4, be4);
	if (!err)
		err = set_put(bpf_map__fd(s->maps.lbd_be_local), 6, be6);
	if (!err)
		err = src_put(bpf_map__fd(s->maps.lbd_be_sources), 4, lb4);
	if (!err)
		err = src_put(bpf_map__fd(s->maps.lbd_be_sources), 6, lb6);
	if (err) {
		tc_backend__destroy(s);
		return err;
	}
	*out = s;
	return 0;
}

static int run(int fd, bool xdp, const struct fz_frame *in, uint8_t *out,
	       size_t *out_len, int *ret)
{
	struct xdp_md xctx = { .data_end = (__u32)in->len,
			       .ingress_ifindex = (__u32)IFINDEX_LB0 };
	struct __sk_buff sctx = { .ifindex = (__u32)IFINDEX_LB0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b,
		    .data_size_in = (__u32)in->len, .data_out = out,
		    .data_size_out = (__u32)*out_len, .repeat = 1);

	if (xdp) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	} else {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	}
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*out_len = o.data_size_out;
	*ret = (int)o.retval;
	return 0;
}

static enum fz_verdict xdp_verdict(int r)
{
	switch (r) {
	case XDP_DROP:
		return FZ_DROP;
	case XDP_PASS:
		return FZ_PASS;
	case XDP_TX:
	case XDP_REDIRECT:
		return FZ_TX;
	default:
		return FZ_ABORTED;
	}
}

static enum fz_verdict tc_verdict(int r)
{
	switch (r) {
	case TC_ACT_SHOT:
		return FZ_DROP;
	case TC_ACT_OK:
	case TC_ACT_UNSPEC:
		return FZ_PASS;
	case TC_ACT_REDIRECT:
		return FZ_TX;
	default:
		return FZ_ABORTED;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: fuzz_datapath [-t SECONDS] [-n PACKETS] "
			"[-s SEED] [-p xdp|tc|all] [-q]\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	static const struct fz_env env = { be_local, be_trusted };
	static struct fz_flows snat, gnv;
	unsigned long n_max = 0, n = 0, counts[3] = { 0 }, errors = 0;
	struct fz_rng rng = { 0 };
	struct lbd_config *cfg = NULL;
	struct tc_backend *be = NULL;
	struct lbd_dp *dp = NULL;
	struct lbd_state st;
	bool do_xdp = true, do_tc = true;
	double secs = 0, start;
	uint64_t seed = (uint64_t)time(NULL);
	int opt, err;
	size_t i;

	while ((opt = getopt(argc, argv, "t:n:s:p:q")) != -1) {
		switch (opt) {
		case 't':
			secs = atof(optarg);
			break;
		case 'n':
			n_max = strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			do_xdp = !strcmp(optarg, "xdp") ||
				 !strcmp(optarg, "all");
			do_tc = !strcmp(optarg, "tc") || !strcmp(optarg, "all");
			if (!do_xdp && !do_tc)
				usage();
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (!secs && !n_max)
		n_max = 100000;
	rng.s = seed ? seed : 1;
	printf("fuzz_datapath: seed %llu\n", (unsigned long long)seed);
	fflush(stdout);

	if (dpt_env_init()) {
		fprintf(stderr, "fuzz_datapath: cannot set up the namespace "
				"(it needs root)\n");
		return 1;
	}
	memset(&st, 0, sizeof(st));
	if (do_xdp && (err = lb_setup(&dp, &st, &cfg))) {
		fprintf(stderr, "fuzz_datapath: LB program: %s\n",
			strerror(-err));
		return 1;
	}
	if (do_tc && (err = be_setup(&be))) {
		fprintf(stderr, "fuzz_datapath: tc programs: %s\n",
			strerror(-err));
		return 1;
	}

	start = now();
	for (n = 0; (!n_max || n < n_max) && (!secs || now() - start < secs);
	     n++) {
		static struct fz_frame in;
		static uint8_t out[FZ_MAX + 512];
		static const char *const names[] = { "xdp", "tc-ingress",
						     "tc-egress" };
		size_t out_len = sizeof(out);
		enum fz_prog prog;
		struct fz_flow learnt;
		const char *why;
		int fd, ret = 0;
		uint32_t pick = fz_below(&rng, 100);

		prog = !do_tc || (do_xdp && pick < 70) ? FZ_XDP :
		       pick % 3 == 0		       ? FZ_TC_OUT :
							 FZ_TC_IN;
		if (prog == FZ_XDP) {
			fz_gen_xdp(&rng, &snat, &in);
			fd = dp_prog_fd(dp);
		} else if (prog == FZ_TC_IN) {
			fz_gen_tc_in(&rng, &in);
			fd = bpf_program__fd(be->progs.lbd_tc_ingress);
		} else {
			fz_gen_tc_out(&rng, &gnv, &in);
			fd = bpf_program__fd(be->progs.lbd_tc_egress);
		}
		if (in.len < 14)
			continue;
		err = run(fd, prog == FZ_XDP, &in, out, &out_len, &ret);
		if (err) {
			errors++;
			continue;
		}
		counts[prog]++;
		why = fz_judge(prog, &env, in.b, in.len,
			       prog == FZ_XDP ? xdp_verdict(ret) :
						tc_verdict(ret),
			       out, out_len, &learnt);
		if (why)
			finding(names[prog], why, n, now() - start, in.b,
				in.len, ret, out, out_len);
		if (learnt.fam)
			fz_flows_add(prog == FZ_XDP ? &snat : &gnv, &learnt);
	}
	printf("fuzz_datapath: %lu packets in %.1f s (xdp %lu, tc ingress "
	       "%lu, tc egress %lu; %lu not run), seed %llu\n",
	       n, now() - start, counts[FZ_XDP], counts[FZ_TC_IN],
	       counts[FZ_TC_OUT], errors, (unsigned long long)seed);
	for (i = 0; i < n_findings; i++)
		printf("  %-10s %8lu  %s\n", findings[i].prog,
		       findings[i].count, findings[i].what);
	if (be)
		tc_backend__destroy(be);
	if (dp) {
		state_free(&st);
		dp_close(dp);
		config_free(cfg);
	}
	return n_findings ? 1 : 0;
}
