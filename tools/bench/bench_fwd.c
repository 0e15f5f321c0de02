// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-fwd: forwarding rate of lbd over veth, against a trivial
 * redirect on the same path.
 *
 *   gen ns             LB ns                         sink ns
 *   g0 ----------- l0 [lbd, or bench_redirect]  l1 ------- s0 [bench_sink]
 *
 * The generator is bench_gen under BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES (xdp-trafficgen does not work on this
 * kernel): its XDP_TX sends each frame out of ctx.ingress_ifindex, g0. A
 * veth takes XDP_TX'd or redirected frames only while its peer has an XDP
 * program, which the path provides: l0 has the LB, s0 the sink.
 *
 * The LB namespace runs the real lbd program, loaded and filled as lbd
 * does (dp_open, state_apply) with one service whose backend is routed
 * out of l1, which is in lbd's devmap (dp_tx_port_put). Packets to the
 * VIP are IPIP-encapsulated and redirected to l1. Then bench_redirect
 * replaces it on l0 (every frame to l1 through a devmap) and the rate is
 * measured again; the rounds alternate the two. The rate is what arrives
 * at the sink.
 *
 * Each generator thread runs on its own CPU, and the veths have a queue
 * per CPU: a frame is received on the queue of the CPU that sent it, so
 * the whole path of a frame (generator, LB, sink) runs on one CPU.
 *
 * Namespaces are named lbdbf<pid>-{gen,lb,sink} and deleted on every
 * exit path, SIGINT, SIGTERM and SIGHUP included.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "datapath.h"
#include "log.h"
#include "pkt.h"
#include "state.h"
#include "fwd.h"
#include "load.h"
#include "bench_fwd.skel.h"

#define GEN_BATCH 64
/*
 * Frames per test run call: more than a measurement sends. A test run
 * of an XDP program with repeat > 1 puts it in the XDP dispatcher and
 * takes it out again, each an RCU grace period (~8 ms here): calls of
 * 0.1 s left the generator's CPU idle 20% of the time. So a generator
 * makes one call per measurement and is stopped by GEN_WAKE, which ends
 * the call with EINTR.
 */
#define GEN_REPEAT (1u << 31)
#define GEN_WAKE SIGUSR1
#define MAX_CPUS 64
#define GEN_PORT_BASE 1024

#define MAC_G0 "02:00:00:00:0b:01"
#define MAC_L0 "02:00:00:00:0b:02"
#define MAC_L1 "02:00:00:00:0b:03"
#define MAC_S0 "02:00:00:00:0b:04"

enum ns_id { NS_GEN, NS_LB, NS_SINK, NS_COUNT };
static const char *const ns_suffix[NS_COUNT] = { "gen", "lb", "sink" };

static volatile sig_atomic_t stop;

struct opts {
	int seconds;
	int warmup;
	int rounds;
	int threads;
	unsigned int flows; /* per thread */
	bool ipv6;
};

struct env {
	char ns_prefix[32];
	char ns_name[NS_COUNT][64];
	int ns_fd[NS_COUNT];
	int self_ns;
	int if_g0, if_l0, if_l1, if_s0;
	int ncpus;
	struct bench_fwd *skel;
	struct lbd_dp *dp;
	struct lbd_state st;
	struct lbd_config *cfg;
	struct pkt frame;
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* GEN_WAKE: only ends a generator's test run. */
static void on_wake(int sig)
{
	(void)sig;
}

/*
 * Runs a shell command, output discarded; 0 or -1 with a message. Not
 * system(): it ignores SIGINT while the command runs, and an interrupt
 * during set-up would be lost. The command runs with the signals we
 * handle blocked, so that a ^C to the process group does not cut an
 * "ip netns add" short: we clean up after it instead.
 */
static int vsh(const char *fmt, va_list ap)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char cmd[512], *argv[4];
	int n, status, err;
	sigset_t mask;
	pid_t pid;

	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = cmd;
	argv[3] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null",
					 O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
					 O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	err = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		fprintf(stderr, "%s: %s\n", cmd, strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vsh(fmt, ap);
	va_end(ap);
	return err;
}

/* A set-up step: as sh(), and fails once interrupted. */
static int step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int step(const char *fmt, ...)
{
	va_list ap;
	int err;

	if (stop)
		return -1;
	va_start(ap, fmt);
	err = vsh(fmt, ap);
	va_end(ap);
	return err || stop ? -1 : 0;
}

static int enter_ns(int fd)
{
	if (setns(fd, CLONE_NEWNET) < 0) {
		perror("setns");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The namespaces */

static void env_cleanup(struct env *e)
{
	int i;

	if (e->self_ns >= 0)
		setns(e->self_ns, CLONE_NEWNET);
	for (i = 0; i < NS_COUNT; i++) {
		char path[128];

		if (e->ns_fd[i] >= 0)
			close(e->ns_fd[i]);
		e->ns_fd[i] = -1;
		/* whatever "ip netns add" left, even when it failed; deleting
		 * a namespace deletes its veths and detaches their
		 * programs */
		snprintf(path, sizeof(path), "/run/netns/%s", e->ns_name[i]);
		if (e->ns_name[i][0] && access(path, F_OK) == 0)
			sh("ip netns del %s", e->ns_name[i]);
	}
}

static int env_setup(struct env *e)
{
	const char *a = e->ns_name[NS_GEN], *l = e->ns_name[NS_LB],
		   *s = e->ns_name[NS_SINK];
	int q = e->ncpus, i;

	snprintf(e->ns_prefix, sizeof(e->ns_prefix), "lbdbf%d", (int)getpid());
	for (i = 0; i < NS_COUNT; i++)
		snprintf(e->ns_name[i], sizeof(e->ns_name[i]), "%s-%s",
			 e->ns_prefix, ns_suffix[i]);
	for (i = 0; i < NS_COUNT; i++) {
		char path[128];

		if (step("ip netns add %s", e->ns_name[i]))
			return -1;
		snprintf(path, sizeof(path), "/run/netns/%s", e->ns_name[i]);
		e->ns_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (e->ns_fd[i] < 0) {
			perror(path);
			return -1;
		}
	}
	if (step("ip -n %s link add g0 address " MAC_G0 " numtxqueues %d "
		 "numrxqueues %d type veth peer name l0 address " MAC_L0
		 " numtxqueues %d numrxqueues %d netns %s",
		 a, q, q, q, q, l) ||
	    step("ip -n %s link add l1 address " MAC_L1 " numtxqueues %d "
		 "numrxqueues %d type veth peer name s0 address " MAC_S0
		 " numtxqueues %d numrxqueues %d netns %s",
		 l, q, q, q, q, s))
		return -1;
	if (step("ip -n %s link set lo up", a) ||
	    step("ip -n %s link set g0 up", a) ||
	    step("ip -n %s link set lo up", l) ||
	    step("ip -n %s link set l0 up", l) ||
	    step("ip -n %s link set l1 up", l) ||
	    step("ip -n %s link set lo up", s) ||
	    step("ip -n %s link set s0 up", s))
		return -1;
	/*
	 * gen g0 198.18.0.1/24 2001:db8:b0::1/64
	 * LB  l0 198.18.0.2/24 2001:db8:b0::2/64 (clients behind g0)
	 *     l1 198.18.1.1/24 2001:db8:b1::1/64 (encap source)
	 * sink s0 198.18.1.2/24 2001:db8:b1::2/64, the next hop of the
	 *     backends 198.18.2.0/24 and 2001:db8:b2::/64 (permanent
	 *     neighbour in the LB namespace)
	 */
	if (step("ip -n %s addr add 198.18.0.1/24 dev g0", a) ||
	    step("ip -n %s addr add 2001:db8:b0::1/64 dev g0 nodad", a) ||
	    step("ip -n %s addr add 198.18.0.2/24 dev l0", l) ||
	    step("ip -n %s addr add 2001:db8:b0::2/64 dev l0 nodad", l) ||
	    step("ip -n %s addr add 198.18.1.1/24 dev l1", l) ||
	    step("ip -n %s addr add 2001:db8:b1::1/64 dev l1 nodad", l) ||
	    step("ip -n %s addr add 198.18.1.2/24 dev s0", s) ||
	    step("ip -n %s addr add 2001:db8:b1::2/64 dev s0 nodad", s) ||
	    step("ip -n %s neigh add 198.18.1.2 lladdr " MAC_S0
		 " nud permanent dev l1",
		 l) ||
	    step("ip -n %s neigh add 2001:db8:b1::2 lladdr " MAC_S0
		 " nud permanent dev l1",
		 l) ||
	    step("ip -n %s route add 198.18.2.0/24 via 198.18.1.2", l) ||
	    step("ip -n %s -6 route add 2001:db8:b2::/64 via 2001:db8:b1::2",
		 l) ||
	    /* bpf_fib_lookup is an input lookup from l0 */
	    step("ip netns exec %s sysctl -qw net.ipv4.conf.l0.forwarding=1",
		 l) ||
	    step("ip netns exec %s sysctl -qw net.ipv6.conf.l0.forwarding=1",
		 l))
		return -1;
	return 0;
}

/* The ifindex of a device in a namespace. */
static int ns_ifindex(struct env *e, enum ns_id ns, const char *dev)
{
	int idx;

	if (enter_ns(e->ns_fd[ns]))
		return 0;
	idx = (int)if_nametoindex(dev);
	if (!idx)
		fprintf(stderr, "%s: no %s\n", e->ns_name[ns], dev);
	return enter_ns(e->self_ns) ? 0 : idx;
}

/* Attaches prog_fd to dev in namespace ns in native mode, replacing what
 * is there. */
static int attach(struct env *e, enum ns_id ns, int ifindex, int prog_fd)
{
	int err;

	if (enter_ns(e->ns_fd[ns]))
		return -1;
	err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		fprintf(stderr, "attaching XDP to ifindex %d in %s: %s\n",
			ifindex, e->ns_name[ns], strerror(-err));
	return enter_ns(e->self_ns) || err ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* The programs */

static const char lb_conf[] =
	"datapath = { interface = \"l0\"; encap_source_v4 = \"198.18.1.1\";"
	" encap_source_v6 = \"2001:db8:b1::1\"; };\n"
	"services = (\n"
	" { name = \"bench4\"; vip = \"203.0.113.10\"; port = 80;"
	" backends = ( { address = \"198.18.2.10\"; } ); },\n"
	" { name = \"bench6\"; vip = \"2001:db8:f::10\"; port = 80;"
	" backends = ( { address = \"2001:db8:b2::10\"; } ); }\n"
	");\n";

/* lbd's program with the config applied, in the LB namespace. */
static int lbd_load(struct env *e)
{
	int err = bench_lb_load(lb_conf, &e->cfg, &e->dp, &e->st);

	if (err)
		return err;
	/* the devmaps resolve ifindexes in the caller's namespace */
	if (enter_ns(e->ns_fd[NS_LB]))
		return -EINVAL;
	err = dp_tx_port_put(e->dp, (__u32)e->if_l1);
	if (!err) {
		__u32 zero = 0, ifindex = (__u32)e->if_l1;

		if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.redirect_port),
					&zero, &ifindex, BPF_ANY) < 0)
			err = -errno;
	}
	if (enter_ns(e->self_ns))
		return -EINVAL;
	return err;
}

/* The bench programs, the generator set up for e->frame. */
static int skel_load(struct env *e, const struct opts *o)
{
	size_t tcp_off = 14 + (o->ipv6 ? 40 : 20);
	/* up to the TCP checksum, the last byte the generator changes */
	size_t words = (tcp_off + 18 + 7) / 8;

	if (words > BENCH_GEN_WORDS || words * 8 > e->frame.len)
		return -EINVAL;
	e->skel = bench_fwd__open();
	if (!e->skel)
		return -errno;
	e->skel->rodata->gen_tcp_off = (__u32)tcp_off;
	e->skel->rodata->gen_nflows = o->flows;
	e->skel->rodata->gen_port_base = GEN_PORT_BASE;
	memcpy((void *)e->skel->rodata->gen_frame, e->frame.buf, words * 8);
	e->skel->rodata->gen_words = (__u32)words;
	return bench_fwd__load(e->skel);
}

/* A client's TCP ACK to the VIP, as it leaves g0 for l0. */
static void frame_build(struct pkt *p, bool ipv6)
{
	static const uint8_t g0[6] = { 2, 0, 0, 0, 0x0b, 1 };
	static const uint8_t l0[6] = { 2, 0, 0, 0, 0x0b, 2 };

	pkt_init(p);
	pkt_eth(p, l0, g0);
	if (ipv6)
		pkt_ip_hdr(p, pkt_ip("2001:db8:c::1"),
			   pkt_ip("2001:db8:f::10"));
	else
		pkt_ip_hdr(p, pkt_ip("198.19.0.1"), pkt_ip("203.0.113.10"));
	pkt_tcp(p, GEN_PORT_BASE, 80, PKT_TCP_ACK, 1000, 2000);
	pkt_bytes(p, "0123456789", 10);
	pkt_finish(p);
}

/* ------------------------------------------------------------------ */
/* Generators */

struct gen {
	pthread_t tid;
	struct env *e;
	int cpu;
	int prog_fd;
	atomic_bool halt;
	int err; /* errno of a failed test run */
	bool started;
};

static void *gen_run(void *arg)
{
	struct gen *g = arg;
	struct env *e = g->e;
	struct xdp_md ctx = {
		.data_end = (__u32)e->frame.len,
		.ingress_ifindex = (__u32)e->if_g0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = e->frame.buf,
		    .data_size_in = (__u32)e->frame.len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = GEN_REPEAT,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = GEN_BATCH);
	sigset_t wake;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(g->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) ||
	    setns(e->ns_fd[NS_GEN], CLONE_NEWNET) < 0) {
		g->err = errno ? errno : EINVAL;
		return NULL;
	}
	sigemptyset(&wake);
	sigaddset(&wake, GEN_WAKE);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	while (!atomic_load(&g->halt) && !stop) {
		if (bpf_prog_test_run_opts(g->prog_fd, &o) < 0 &&
		    errno != EINTR) {
			g->err = errno;
			break;
		}
	}
	return NULL;
}

static int gens_start(struct env *e, struct gen *g, int n)
{
	sigset_t all, old;
	int i, err = 0;

	memset(g, 0, (size_t)n * sizeof(*g));
	/* signals go to the main thread, which sleeps; generators take
	 * GEN_WAKE only */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		g[i].e = e;
		g[i].cpu = i % e->ncpus;
		g[i].prog_fd = bpf_program__fd(e->skel->progs.bench_gen);
		err = pthread_create(&g[i].tid, NULL, gen_run, &g[i]);
		if (err)
			break;
		g[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/* Stops and joins the generators; returns the first error seen. */
static int gens_stop(struct gen *g, int n)
{
	struct timespec ts;
	int i, err = 0;

	for (i = 0; i < n; i++)
		atomic_store(&g[i].halt, true);
	for (i = 0; i < n; i++) {
		if (!g[i].started)
			continue;
		/* again until it ends: a wake-up that comes before the call
		 * starts is lost */
		do {
			pthread_kill(g[i].tid, GEN_WAKE);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
		} while (pthread_timedjoin_np(g[i].tid, NULL, &ts) != 0);
		g[i].started = false;
		if (g[i].err && !err)
			err = g[i].err;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Measurement */

struct snap {
	double t;
	struct bench_sink_count sink;
	__u64 sent;
	__u64 run_ns, run_cnt; /* the LB program's, with BPF statistics on */
	unsigned long long busy[MAX_CPUS], softirq[MAX_CPUS], total[MAX_CPUS];
	struct lbd_counter reasons[LBD_REASON_MAX];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cpu_times(struct snap *s, int ncpus)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	int cpu;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 };

		if (sscanf(line,
			   "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu",
			   &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7]) != 9 ||
		    cpu < 0 || cpu >= ncpus)
			continue;
		/* user nice system idle iowait irq softirq steal */
		s->total[cpu] =
			v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		s->busy[cpu] = s->total[cpu] - v[3] - v[4];
		s->softirq[cpu] = v[6];
	}
	fclose(f);
	return 0;
}

static int take_snap(struct env *e, struct snap *s, int prog_fd, bool lbd)
{
	struct bpf_prog_info info = { 0 };
	__u32 info_len = sizeof(info);
	struct bench_sink_count c[MAX_CPUS];
	__u64 sent[MAX_CPUS];
	__u32 zero = 0;
	int i;

	memset(s, 0, sizeof(*s));
	s->t = now();
	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.sink_count), &zero,
				c) < 0 ||
	    bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.gen_sent), &zero,
				sent) < 0)
		return -errno;
	for (i = 0; i < e->ncpus; i++) {
		s->sink.packets += c[i].packets;
		s->sink.encapsulated += c[i].encapsulated;
		s->sent += sent[i];
	}
	if (lbd && dp_reasons_read(e->dp, s->reasons))
		return -EIO;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &info_len) < 0)
		return -errno;
	s->run_ns = info.run_time_ns;
	s->run_cnt = info.run_cnt;
	return cpu_times(s, e->ncpus);
}

struct result {
	double mpps; /* at the sink */
	double sent_mpps;
	double encap_frac;
	double busy[MAX_CPUS], softirq[MAX_CPUS];
	struct lbd_counter reasons[LBD_REASON_MAX];
	double prog_ns; /* per run, while BPF statistics are on; else 0 */
};

/* Sleeps s seconds unless stopped; false when stopped. */
static bool nap(double s)
{
	double end = now() + s;

	while (!stop && now() < end) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	return !stop;
}

/* Attaches prog_fd to l0 and measures the rate at the sink. */
static int measure(struct env *e, const struct opts *o, int prog_fd, bool lbd,
		   struct result *res)
{
	struct gen g[MAX_CPUS];
	struct snap a, b;
	int err, i, gerr;
	double dt;

	memset(res, 0, sizeof(*res));
	if (attach(e, NS_LB, e->if_l0, prog_fd))
		return -1;
	err = gens_start(e, g, o->threads);
	if (!err && nap(o->warmup))
		err = take_snap(e, &a, prog_fd, lbd);
	if (!err && nap(o->seconds))
		err = take_snap(e, &b, prog_fd, lbd);
	gerr = gens_stop(g, o->threads);
	if (stop)
		return -1;
	if (err || gerr) {
		fprintf(stderr, "measuring: %s\n", strerror(err ? -err : gerr));
		return -1;
	}
	dt = b.t - a.t;
	res->mpps = (double)(b.sink.packets - a.sink.packets) / dt / 1e6;
	res->sent_mpps = (double)(b.sent - a.sent) / dt / 1e6;
	res->encap_frac =
		b.sink.packets > a.sink.packets ?
			(double)(b.sink.encapsulated - a.sink.encapsulated) /
				(double)(b.sink.packets - a.sink.packets) :
			0;
	for (i = 0; i < e->ncpus; i++) {
		double t = (double)(b.total[i] - a.total[i]);

		if (t <= 0)
			continue;
		res->busy[i] = 100.0 * (double)(b.busy[i] - a.busy[i]) / t;
		res->softirq[i] =
			100.0 * (double)(b.softirq[i] - a.softirq[i]) / t;
	}
	if (b.run_cnt > a.run_cnt)
		res->prog_ns = (double)(b.run_ns - a.run_ns) /
			       (double)(b.run_cnt - a.run_cnt);
	for (i = 0; lbd && i < LBD_REASON_MAX; i++) {
		res->reasons[i].packets =
			b.reasons[i].packets - a.reasons[i].packets;
		res->reasons[i].bytes = b.reasons[i].bytes - a.reasons[i].bytes;
	}
	return 0;
}

static const char *const reason_labels[] = {
#define LBD_REASON_LABEL(e, label, desc) label,
	LBD_REASONS(LBD_REASON_LABEL)
#undef LBD_REASON_LABEL
};

static void print_result(const char *name, const struct result *r, int ncpus)
{
	int i;

	printf("  %-9s %6.2f Mpps  sent %5.2f", name, r->mpps, r->sent_mpps);
	for (i = 0; i < ncpus; i++)
		printf("  CPU%d %3.0f%% (si %3.0f%%)", i, r->busy[i],
		       r->softirq[i]);
	/* frames the generator sent that no one received: dropped on
	 * the way, so the generator's CPU was partly wasted */
	if (r->sent_mpps > r->mpps * 1.01)
		printf("  %.0f%% lost", 100 * (1 - r->mpps / r->sent_mpps));
	printf("\n");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "usage: lbd-bench-fwd [-d seconds] [-w seconds] [-r rounds] "
		   "[-t threads] [-f flows] [-6]\n"
		   "  -d  seconds per measurement (default 5)\n"
		   "  -w  warm-up seconds before each (default 1)\n"
		   "  -r  rounds of lbd and redirect, median reported "
		   "(default 5)\n"
		   "  -t  generator threads, one per CPU (default 1: the "
		   "whole path on one CPU)\n"
		   "  -f  client ports (flows) per thread (default 10000)\n"
		   "  -6  IPv6 (IP6IP6) instead of IPv4 (IPIP)\n"
		   "Creates network namespaces lbdbf<pid>-*; needs root.\n");
}

/*
 * What the two LB programs cost on their own, per packet, as the kernel
 * times them with BPF statistics on: the rest of a packet's path (the
 * generator, two veth transmits, the sink) is the same for both. The
 * statistics add two clock reads to every run of every program, so they
 * are on only for this measurement, after the rates.
 */
static int prog_times(struct env *e, const struct opts *o)
{
	struct result lr, rr;
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME), err;

	if (fd < 0) {
		fprintf(stderr, "BPF statistics: %s\n", strerror(errno));
		return -1;
	}
	err = measure(e, o, dp_prog_fd(e->dp), true, &lr);
	if (!err)
		err = measure(e, o,
			      bpf_program__fd(e->skel->progs.bench_redirect),
			      false, &rr);
	close(fd);
	if (err)
		return -1;
	printf("\nthe LB programs' own time per packet, as the kernel "
	       "times each run with BPF\nstatistics on (which add their "
	       "own two clock reads to both):\n"
	       "  lbd %.1f ns, redirect %.1f ns: lbd's work is %.1f ns a "
	       "packet\n",
	       lr.prog_ns, rr.prog_ns, lr.prog_ns - rr.prog_ns);
	return 0;
}

static int run(struct env *e, const struct opts *o)
{
	double lbd_v[64], red_v[64], ratio_v[64], lm, rm, qm;
	struct result lr, rr;
	int r, i, err;

	if (env_setup(e))
		return -1;
	e->if_g0 = ns_ifindex(e, NS_GEN, "g0");
	e->if_l0 = ns_ifindex(e, NS_LB, "l0");
	e->if_l1 = ns_ifindex(e, NS_LB, "l1");
	e->if_s0 = ns_ifindex(e, NS_SINK, "s0");
	if (!e->if_g0 || !e->if_l0 || !e->if_l1 || !e->if_s0)
		return -1;
	frame_build(&e->frame, o->ipv6);
	err = skel_load(e, o);
	if (err) {
		fprintf(stderr, "loading the bench programs: %s\n",
			strerror(-err));
		return -1;
	}
	err = lbd_load(e);
	if (err) {
		fprintf(stderr, "loading lbd: %s\n", strerror(-err));
		return -1;
	}
	if (attach(e, NS_SINK, e->if_s0,
		   bpf_program__fd(e->skel->progs.bench_sink)))
		return -1;

	printf("lbd-bench-fwd: generator -> LB -> sink over veth, in "
	       "namespaces %s-*.\n"
	       "%s TCP ACKs of %zu bytes, %u flows per generator thread, "
	       "%d thread(s) on as many\n"
	       "CPUs (a frame's whole path runs on the CPU that sent it); "
	       "%d s per measurement\n"
	       "after %d s of warm-up; the rate is what reaches the sink.\n"
	       "lbd: the real program, IP%sIP%s to a backend behind the sink "
	       "veth (devmap redirect).\n"
	       "redirect: every frame from l0 to the sink veth through a "
	       "devmap.\n"
	       "CPUn: how busy each CPU was, all processes (si: softirq).\n\n",
	       e->ns_prefix, o->ipv6 ? "IPv6" : "IPv4", e->frame.len, o->flows,
	       o->threads, o->seconds, o->warmup, o->ipv6 ? "6" : "",
	       o->ipv6 ? "6" : "");
	fflush(stdout);
	for (r = 0; r < o->rounds; r++) {
		printf("round %d\n", r + 1);
		if (measure(e, o, dp_prog_fd(e->dp), true, &lr))
			return -1;
		print_result("lbd", &lr, e->ncpus);
		if (lr.encap_frac < 0.99) {
			fprintf(stderr,
				"only %.1f%% of the frames at the sink "
				"were encapsulated by lbd\n",
				lr.encap_frac * 100);
			return -1;
		}
		if (measure(e, o,
			    bpf_program__fd(e->skel->progs.bench_redirect),
			    false, &rr))
			return -1;
		print_result("redirect", &rr, e->ncpus);
		lbd_v[r] = lr.mpps;
		red_v[r] = rr.mpps;
		ratio_v[r] = lr.mpps / rr.mpps;
		printf("  lbd / redirect %4.0f%%\n", 100 * ratio_v[r]);
	}
	printf("lbd counted in the last round's measurement:");
	for (i = 0; i < LBD_REASON_MAX; i++)
		if (lr.reasons[i].packets)
			printf(" %s %llu", reason_labels[i],
			       (unsigned long long)lr.reasons[i].packets);
	printf("\n\n");
	lm = median(lbd_v, o->rounds);
	rm = median(red_v, o->rounds);
	/* the ratio of each round's two measurements, taken a few
	 * seconds apart, is steadier than either rate when the machine
	 * does other work */
	qm = median(ratio_v, o->rounds); /* sorts: [0] min, [n - 1] max */
	printf("median of %d rounds: lbd %.2f Mpps, redirect %.2f Mpps\n"
	       "lbd / redirect: %.0f%% (median of the rounds' ratios; "
	       "%.0f-%.0f%%), target >= 70%%: %s\n",
	       o->rounds, lm, rm, 100 * qm, 100 * ratio_v[0],
	       100 * ratio_v[o->rounds - 1], qm >= 0.7 ? "met" : "MISSED");
	return prog_times(e, o);
}

int main(int argc, char **argv)
{
	struct opts o = { .seconds = 5,
			  .warmup = 1,
			  .rounds = 5,
			  .threads = 1,
			  .flows = 10000 };
	struct env e = { .self_ns = -1, .ns_fd = { -1, -1, -1 } };
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "d:w:r:t:f:6h")) != -1) {
		switch (opt) {
		case 'd':
			o.seconds = atoi(optarg);
			break;
		case 'w':
			o.warmup = atoi(optarg);
			break;
		case 'r':
			o.rounds = atoi(optarg);
			break;
		case 't':
			o.threads = atoi(optarg);
			break;
		case 'f':
			o.flows = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case '6':
			o.ipv6 = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	e.ncpus = libbpf_num_possible_cpus();
	if (o.seconds < 1 || o.warmup < 0 || o.rounds < 1 || o.rounds > 64 ||
	    o.threads < 1 || o.threads > e.ncpus || e.ncpus > MAX_CPUS ||
	    o.flows < 1 || (unsigned long)o.flows * (unsigned)e.ncpus > 64000) {
		fprintf(stderr,
			"bad options (-t at most %d, -f times CPUs at "
			"most 64000)\n",
			e.ncpus);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* no SA_RESTART: a signal ends the sleeps at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_wake;
	sigaction(GEN_WAKE, &sa, NULL);
	log_init("lbd-bench-fwd", 0);
	log_route_libbpf();

	e.self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (e.self_ns < 0) {
		perror("/proc/self/ns/net");
		return 1;
	}
	if (run(&e, &o) == 0)
		rc = 0;
	else if (stop)
		fprintf(stderr, "interrupted\n");
	env_cleanup(&e);
	state_free(&e.st);
	dp_close(e.dp);
	config_free(e.cfg);
	bench_fwd__destroy(e.skel);
	close(e.self_ns);
	return rc;
}
