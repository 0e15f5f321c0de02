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
 * program, which the path provides: l0 has the LB, s0 the sink. Where
 * live frames fail (EPERM on some machines), or with -g afpacket, an
 * AF_PACKET socket sends the same frames into g0 instead (sendmmsg,
 * PACKET_QDISC_BYPASS); the header says which generator ran and why.
 *
 * The LB namespace runs the real lbd program, loaded and filled as lbd
 * does (dp_open, state_apply) with a service per flow_state, whose
 * backends are routed out of l1, which is in lbd's devmap
 * (dp_tx_port_put). Packets to the VIP are encapsulated and redirected to
 * l1. bench_redirect, the reference, sends every frame to l1 through a
 * devmap. The rows (struct bench_case) are measured in turn, every round
 * with the same generator, each round starting with another row; the
 * rate is what arrives at the sink.
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
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
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
#include <sys/socket.h>
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

#define MAC_G0 "02:00:00:00:0b:01"
#define MAC_L0 "02:00:00:00:0b:02"
#define MAC_L1 "02:00:00:00:0b:03"
#define MAC_S0 "02:00:00:00:0b:04"

enum ns_id { NS_GEN, NS_LB, NS_SINK, NS_COUNT };
static const char *const ns_suffix[NS_COUNT] = { "gen", "lb", "sink" };

static volatile sig_atomic_t stop;

/* ------------------------------------------------------------------ */
/* The rows */

/*
 * What is measured, a row each, every round, each against the trivial
 * redirect of the same round with the same generator. A row is one
 * config switch: the flow_state of the service its frames go to (one
 * service per flow_state named here, on its own port of the VIP), how
 * many established flows, or a SYN flood. target: the row's rate as a
 * share of the redirect's that issue 16 asks for (0: reported only).
 */
struct bench_case {
	const char *name;
	const char *flow_state; /* NULL: the trivial redirect, not lbd */
	unsigned int flows; /* established flows, all threads together */
	bool syn_every_packet; /* TCP SYNs, a new 5-tuple on every one */
	double target;
};

static const struct bench_case cases[] = {
	{ "redirect", NULL, 10000, false, 0 },
	{ "lb", "lb", 10000, false, 0.70 },
	{ "lb-syn", "lb", 0, true, 0 },
	{ "backends", "backends", 10000, false, 0.85 },
	{ "be-syn", "backends", 0, true, 0.80 },
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))
#define CASE_REDIRECT 0

/* The services' flow_states; service i listens on port SVC_PORT + i. */
static const char *const flow_states[] = { "lb", "backends" };

#define N_FLOW_STATES (sizeof(flow_states) / sizeof(flow_states[0]))
#define SVC_PORT 80
#define SVC_BACKENDS 10

static unsigned int case_port(const struct bench_case *c)
{
	unsigned int i;

	for (i = 0; c->flow_state && i < N_FLOW_STATES; i++)
		if (!strcmp(c->flow_state, flow_states[i]))
			return SVC_PORT + i;
	return SVC_PORT; /* the redirect looks at nothing */
}

enum gen_kind { GEN_AUTO, GEN_LIVE, GEN_AFPACKET };

struct opts {
	int seconds;
	int warmup;
	int rounds;
	int threads;
	unsigned int flows; /* -f, all threads together; 0: the rows' */
	bool ipv6;
	enum gen_kind gen; /* -g */
	bool on[N_CASES]; /* -c */
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
	enum gen_kind gen; /* the one that runs: live or AF_PACKET */
	int irqtime; /* irqtime_accounting() */
	char gen_why[200]; /* why the other does not */
	bool ipv4;
	size_t tcp_off, addr_off; /* addr_off: the source's last 16 bits */
	struct pkt frame[N_CASES]; /* each row's */
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

/*
 * One service per flow_state and family, on the VIP's port SVC_PORT + i,
 * each with SVC_BACKENDS backends behind the sink (issue 16's shape: one
 * VIP per family, 10 backends).
 */
static char *lb_conf_text(void)
{
	static const char *const vip[2] = { "203.0.113.10", "2001:db8:f::10" };
	static const char *const be[2] = { "198.18.2.%u", "2001:db8:b2::%x" };
	char *text = NULL, addr[64];
	size_t len = 0, f, i, b;
	FILE *m = open_memstream(&text, &len);

	if (!m)
		return NULL;
	fprintf(m, "datapath = { interface = \"l0\"; "
		   "encap_source_v4 = \"198.18.1.1\";"
		   " encap_source_v6 = \"2001:db8:b1::1\"; };\n"
		   "services = (\n");
	for (f = 0; f < 2; f++) {
		for (i = 0; i < N_FLOW_STATES; i++) {
			fprintf(m,
				"%s { name = \"bench%c_%s\"; vip = \"%s\"; "
				"port = %zu; flow_state = \"%s\";\n"
				"   backends = (",
				f || i ? ",\n" : "", f ? '6' : '4',
				flow_states[i], vip[f], SVC_PORT + i,
				flow_states[i]);
			for (b = 0; b < SVC_BACKENDS; b++) {
				snprintf(addr, sizeof(addr), be[f],
					 (unsigned int)(0x10 + b));
				fprintf(m, "%s{ address = \"%s\"; }",
					b ? ", " : " ", addr);
			}
			fprintf(m, " ); }");
		}
	}
	fprintf(m, "\n);\n");
	if (fclose(m)) {
		free(text);
		return NULL;
	}
	return text;
}

/* lbd's program with the config applied, in the LB namespace. */
static int lbd_load(struct env *e)
{
	char *text = lb_conf_text();
	int err;

	if (!text)
		return -ENOMEM;
	err = bench_lb_load(text, &e->cfg, &e->dp, &e->st);
	free(text);
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

/* The bench programs, set up for the family. */
static int skel_load(struct env *e, const struct opts *o)
{
	/* up to the TCP checksum, the last byte the generator changes */
	size_t words = (e->tcp_off + 18 + 7) / 8, i;

	if (words > BENCH_GEN_WORDS)
		return -EINVAL;
	for (i = 0; i < N_CASES; i++)
		if (words * 8 > e->frame[i].len)
			return -EINVAL;
	e->skel = bench_fwd__open();
	if (!e->skel)
		return -errno;
	e->skel->rodata->gen_tcp_off = (__u32)e->tcp_off;
	e->skel->rodata->gen_addr_off = (__u32)e->addr_off;
	e->skel->rodata->gen_ipv4 = !o->ipv6;
	e->skel->rodata->gen_ncpus = (__u32)e->ncpus;
	e->skel->rodata->gen_words = (__u32)words;
	return bench_fwd__load(e->skel);
}

/*
 * A client's TCP segment to the VIP's port for row c, as it leaves g0
 * for l0: an ACK, or for a SYN flood a SYN, both with the same 10 bytes
 * of data so that every row forwards frames of one size.
 */
static void frame_build(struct pkt *p, bool ipv6, const struct bench_case *c)
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
	if (c->syn_every_packet)
		pkt_tcp(p, BENCH_GEN_PORT_BASE, (uint16_t)case_port(c),
			PKT_TCP_SYN, 1000, 0);
	else
		pkt_tcp(p, BENCH_GEN_PORT_BASE, (uint16_t)case_port(c),
			PKT_TCP_ACK, 1000, 2000);
	pkt_bytes(p, "0123456789", 10);
	pkt_finish(p);
}

/*
 * Sets a 16-bit field of a frame (both values in network order) and
 * fixes the checksum at csum for it, incrementally (RFC 1624, eqn. 3).
 */
static void frame_set16(uint8_t *f, size_t off, uint16_t to, const size_t *csum,
			int ncsum)
{
	uint16_t from, hc;
	uint32_t s;
	int i;

	memcpy(&from, f + off, 2);
	for (i = 0; i < ncsum; i++) {
		memcpy(&hc, f + csum[i], 2);
		s = (uint32_t)(uint16_t)~hc + (uint16_t)~from + to;
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		hc = (uint16_t)~s;
		memcpy(f + csum[i], &hc, 2);
	}
	memcpy(f + off, &to, 2);
}

/* Frame f (a copy of the row's) as frame n of the generator on cpu: what
 * bench_gen does to a live frame, in user space. */
static void frame_tuple(const struct env *e, uint8_t *f, int cpu, uint64_t n,
			uint32_t nflows, bool syn)
{
	size_t csum[2] = { e->tcp_off + 16, ETH_HLEN + 10 };
	uint16_t addr_lo = 0, port;

	port = bench_gen_tuple((__u32)cpu, n, nflows, (__u32)e->ncpus, syn,
			       &addr_lo);
	frame_set16(f, e->tcp_off, htons(port), csum, 1);
	if (syn)
		frame_set16(f, e->addr_off, htons(addr_lo), csum,
			    e->ipv4 ? 2 : 1);
}

/* ------------------------------------------------------------------ */
/* Generators */

struct gen {
	pthread_t tid;
	struct env *e;
	const struct pkt *frame; /* the row's */
	uint32_t nflows; /* per thread */
	bool syn;
	int cpu;
	atomic_bool halt;
	atomic_ullong sent; /* AF_PACKET: frames the kernel took */
	int err; /* errno of a failed send */
	bool started;
};

/* A generator thread's start: its CPU, the generator namespace, and
 * GEN_WAKE. 0, or -1 with g->err set. */
static int gen_enter(struct gen *g)
{
	sigset_t wake;
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(g->cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (!err && setns(g->e->ns_fd[NS_GEN], CLONE_NEWNET) < 0)
		err = errno;
	if (err) {
		g->err = err;
		return -1;
	}
	sigemptyset(&wake);
	sigaddset(&wake, GEN_WAKE);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	return 0;
}

static void *gen_live_run(void *arg)
{
	struct gen *g = arg;
	struct env *e = g->e;
	struct xdp_md ctx = {
		.data_end = (__u32)g->frame->len,
		.ingress_ifindex = (__u32)e->if_g0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = g->frame->buf,
		    .data_size_in = (__u32)g->frame->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = GEN_REPEAT,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = GEN_BATCH);
	int fd = bpf_program__fd(e->skel->progs.bench_gen);

	if (gen_enter(g))
		return NULL;
	while (!atomic_load(&g->halt) && !stop) {
		if (bpf_prog_test_run_opts(fd, &o) < 0 && errno != EINTR) {
			g->err = errno;
			break;
		}
	}
	return NULL;
}

/* An AF_PACKET socket that sends out of g0, past the qdisc; in the
 * caller's namespace. The fd, or a negative errno. */
static int gen_afp_socket(const struct env *e)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_ifindex = e->if_g0 };
	int fd, one = 1, err;

	/* protocol 0: the socket receives nothing */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			 sizeof(one));
	if (!err)
		err = bind(fd, (struct sockaddr *)&sll, sizeof(sll));
	if (err) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * The fallback generator: batches of GEN_BATCH frames by sendmmsg. With
 * the qdisc bypassed, the veth's transmit puts each frame on its peer's
 * queue and the softirq at the end of the send runs l0's XDP program on
 * this CPU, so a frame's whole path runs here, as with live frames. The
 * established rows' frames are built once, one a flow; a SYN flood's
 * are rewritten before every batch, as each needs a new 5-tuple.
 */
static void *gen_afp_run(void *arg)
{
	struct gen *g = arg;
	struct env *e = g->e;
	size_t len = g->frame->len, nframes = g->syn ? GEN_BATCH : g->nflows;
	struct mmsghdr msg[GEN_BATCH];
	struct iovec iov[GEN_BATCH];
	uint8_t *frames = NULL;
	uint64_t n = 0;
	size_t k;
	int fd = -1, i, r;

	if (gen_enter(g))
		return NULL;
	fd = gen_afp_socket(e);
	if (fd < 0) {
		g->err = -fd;
		return NULL;
	}
	frames = malloc(nframes * len);
	if (!frames) {
		g->err = ENOMEM;
		goto out;
	}
	for (k = 0; k < nframes; k++) {
		memcpy(frames + k * len, g->frame->buf, len);
		if (!g->syn)
			frame_tuple(e, frames + k * len, g->cpu, k, g->nflows,
				    false);
	}
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < GEN_BATCH; i++) {
		iov[i].iov_len = len;
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&g->halt) && !stop) {
		for (i = 0; i < GEN_BATCH; i++) {
			if (g->syn) {
				iov[i].iov_base = frames + (size_t)i * len;
				frame_tuple(e, iov[i].iov_base, g->cpu,
					    n + (uint64_t)i, 1, true);
			} else {
				iov[i].iov_base =
					frames +
					((n + (uint64_t)i) % nframes) * len;
			}
		}
		r = sendmmsg(fd, msg, GEN_BATCH, 0);
		if (r < 0) {
			/* ENOBUFS: the veth's queue was full, the frame
			 * dropped; not counted as sent */
			if (errno == EINTR || errno == ENOBUFS ||
			    errno == EAGAIN)
				continue;
			g->err = errno;
			break;
		}
		n += (uint64_t)r;
		atomic_fetch_add(&g->sent, (unsigned long long)r);
	}
out:
	free(frames);
	close(fd);
	return NULL;
}

/* Starts n generator threads for row c. */
static int gens_start(struct env *e, const struct opts *o,
		      const struct bench_case *c, struct gen *g, int n)
{
	size_t ci = (size_t)(c - cases);
	unsigned int flows = o->flows ? o->flows : c->flows;
	/* per thread; a SYN flood's tuples do not repeat */
	uint32_t nflows = c->syn_every_packet ? 1 :
						(flows + (unsigned int)n - 1) /
							(unsigned int)n;
	sigset_t all, old;
	int i, err = 0;

	if (e->gen == GEN_LIVE) {
		/* no generator runs: the program sees all three at once */
		memcpy((void *)e->skel->bss->gen_frame, e->frame[ci].buf,
		       (size_t)e->skel->rodata->gen_words * 8);
		e->skel->data->gen_nflows = nflows;
		e->skel->bss->gen_syn = c->syn_every_packet;
	}
	memset(g, 0, (size_t)n * sizeof(*g));
	/* signals go to the main thread, which sleeps; generators take
	 * GEN_WAKE only */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		g[i].e = e;
		g[i].frame = &e->frame[ci];
		g[i].nflows = nflows;
		g[i].syn = c->syn_every_packet;
		g[i].cpu = i % e->ncpus;
		err = pthread_create(
			&g[i].tid, NULL,
			e->gen == GEN_LIVE ? gen_live_run : gen_afp_run, &g[i]);
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

/* One live frame sent, to see whether this machine lets us: 0 or a
 * negative errno. */
static int gen_live_probe(struct env *e)
{
	struct xdp_md ctx = {
		.data_end = (__u32)e->frame[CASE_REDIRECT].len,
		.ingress_ifindex = (__u32)e->if_g0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o,
		    .data_in = e->frame[CASE_REDIRECT].buf,
		    .data_size_in = (__u32)e->frame[CASE_REDIRECT].len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 1);
	int err = 0;

	memcpy((void *)e->skel->bss->gen_frame, e->frame[CASE_REDIRECT].buf,
	       (size_t)e->skel->rodata->gen_words * 8);
	e->skel->data->gen_nflows = 1;
	if (enter_ns(e->ns_fd[NS_GEN]))
		return -EINVAL;
	if (bpf_prog_test_run_opts(bpf_program__fd(e->skel->progs.bench_gen),
				   &o) < 0)
		err = -errno;
	if (enter_ns(e->self_ns))
		return -EINVAL;
	return err;
}

static int gen_afp_probe(struct env *e)
{
	int fd;

	if (enter_ns(e->ns_fd[NS_GEN]))
		return -EINVAL;
	fd = gen_afp_socket(e);
	if (enter_ns(e->self_ns))
		fd = fd < 0 ? fd : -EINVAL;
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/*
 * Picks the generator: live frames unless they fail or -g says
 * otherwise; then AF_PACKET. e->gen_why says why the other did not run.
 */
static int gen_choose(struct env *e, const struct opts *o)
{
	int err;

	if (o->gen != GEN_AFPACKET) {
		err = gen_live_probe(e);
		if (!err) {
			e->gen = GEN_LIVE;
			snprintf(e->gen_why, sizeof(e->gen_why),
				 o->gen == GEN_LIVE ?
					 "AF_PACKET: not used (-g live)" :
					 "AF_PACKET: not used, live frames "
					 "work here (-g afpacket to compare)");
			return 0;
		}
		if (o->gen == GEN_LIVE) {
			fprintf(stderr,
				"live frames (-g live): BPF_PROG_TEST_RUN: "
				"%s\n",
				strerror(-err));
			return -1;
		}
		snprintf(e->gen_why, sizeof(e->gen_why),
			 "live frames: not used, BPF_PROG_TEST_RUN with "
			 "BPF_F_TEST_XDP_LIVE_FRAMES failed: %s (%s)",
			 strerrorname_np(-err), strerror(-err));
	} else {
		snprintf(e->gen_why, sizeof(e->gen_why),
			 "live frames: not tried (-g afpacket)");
	}
	err = gen_afp_probe(e);
	if (err) {
		fprintf(stderr, "%s\nAF_PACKET socket: %s\n", e->gen_why,
			strerror(-err));
		return -1;
	}
	e->gen = GEN_AFPACKET;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Measurement */

/*
 * Whether the kernel keeps softirq time apart from the time of the task
 * it interrupted (CONFIG_IRQ_TIME_ACCOUNTING): 1, 0, or -1 when its
 * config cannot be read. Without it, the softirq work a generator's send
 * causes (the veth's NAPI: the LB and the sink) counts as the
 * generator thread's own time.
 */
static int irqtime_accounting(void)
{
	static const char *const cmds[] = {
		"cat /boot/config-$(uname -r) 2>/dev/null",
		"gzip -dc /proc/config.gz 2>/dev/null",
	};
	char line[256];
	size_t i;
	int found = -1;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && found < 0; i++) {
		FILE *f = popen(cmds[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strcmp(line, "CONFIG_IRQ_TIME_ACCOUNTING=y\n"))
				found = 1;
			else if (strstr(line, "CONFIG_IRQ_TIME_ACCOUNTING "
					      "is not set"))
				found = 0;
		}
		pclose(f);
	}
	return found;
}

struct snap {
	double t;
	struct bench_sink_count sink;
	__u64 sent;
	double gen_cpu; /* seconds the generator threads ran */
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

/* Counters now; the frames sent as the generator counts them: bench_gen
 * in a map, the AF_PACKET threads in g. */
static int take_snap(struct env *e, struct snap *s, int prog_fd, bool lbd,
		     struct gen *g, int ngen)
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
		s->sink.geneve += c[i].geneve;
		if (e->gen == GEN_LIVE)
			s->sent += sent[i];
	}
	for (i = 0; i < ngen; i++) {
		struct timespec ts;
		clockid_t cid;

		if (e->gen == GEN_AFPACKET)
			s->sent += atomic_load(&g[i].sent);
		if (pthread_getcpuclockid(g[i].tid, &cid) ||
		    clock_gettime(cid, &ts) < 0)
			return -EIO;
		s->gen_cpu += (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
	double encap_frac, geneve_frac;
	long ct_left; /* conntrack entries at the end */
	double ns_pkt; /* CPU time per packet at the sink */
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

/* Entries per batch of ct_clear. A hash map's batch token is the index
 * of the bucket to go on from, a __u32. */
#define CT_BATCH 8192

/*
 * Empties lbd's conntrack maps, bucket by bucket; the number of entries
 * they held, or a negative errno. After each row, so that no row finds
 * what another left (a SYN flood can fill the maps) and the row's own
 * leftovers can be shown: the state a SYN flood leaves behind.
 */
static long ct_clear(struct env *e)
{
	static const enum dp_map maps[2] = { DP_MAP_CT4, DP_MAP_CT6 };
	/* room for either kind of key */
	uint8_t *keys = malloc(CT_BATCH * sizeof(struct lbd_ct_key6));
	struct lbd_ct *vals = malloc(CT_BATCH * sizeof(*vals));
	long total = 0;
	int f;

	if (!keys || !vals) {
		total = -ENOMEM;
		goto out;
	}
	for (f = 0; f < 2 && total >= 0; f++) {
		int fd = dp_map_fd(e->dp, maps[f]);
		__u32 in = 0, out = 0, n;
		bool first = true;

		for (;;) {
			n = CT_BATCH;
			if (bpf_map_lookup_and_delete_batch(
				    fd, first ? NULL : &in, &out, keys, vals,
				    &n, NULL) < 0) {
				/* ENOENT: the last batch, n entries */
				if (errno != ENOENT)
					total = -errno;
				else
					total += n;
				break;
			}
			total += n;
			in = out;
			first = false;
		}
	}
out:
	free(keys);
	free(vals);
	return total;
}

/*
 * Brings lbd's conntrack map of the family to the state of one on an LB
 * that has run for a while, as lbd-bench-xdp does: a fresh map hands out
 * its preallocated entries in address order, so the flows of the first
 * row measured would sit together in memory and those of later rows
 * (after ct_clear) would not. So every entry of each generator CPU's share
 * (the LRU lists are per CPU) is taken by a dummy flow from 0.0.0.0/8 or
 * ::/96, on that CPU, and all are freed in hash order by ct_clear.
 */
static int ct_age(struct env *e, const struct opts *o)
{
	size_t key_size = o->ipv6 ? sizeof(struct lbd_ct_key6) :
				    sizeof(struct lbd_ct_key4);
	/* the first address's last word */
	size_t off = o->ipv6 ? 12 : 0;
	int fd = dp_map_fd(e->dp, o->ipv6 ? DP_MAP_CT6 : DP_MAP_CT4);
	__u32 share = e->cfg->dp.conntrack_entries / (__u32)e->ncpus, i, j, n;
	uint8_t *keys = calloc(CT_BATCH, key_size);
	struct lbd_ct *vals = calloc(CT_BATCH, sizeof(*vals));
	cpu_set_t old, set;
	int cpu, err = 0;
	long left;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	if (sched_getaffinity(0, sizeof(old), &old) < 0) {
		err = -errno;
		goto out;
	}
	for (cpu = 0; cpu < o->threads && !err; cpu++) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			err = -errno;
			break;
		}
		for (i = 0; i < share && !err; i += n) {
			n = share - i < CT_BATCH ? share - i : CT_BATCH;
			for (j = 0; j < n; j++) {
				__be32 a = htonl((__u32)cpu * share + i + j);

				memcpy(keys + j * key_size + off, &a, 4);
			}
			if (bpf_map_update_batch(fd, keys, vals, &n, NULL) < 0)
				err = -errno;
		}
	}
	sched_setaffinity(0, sizeof(old), &old);
	left = ct_clear(e);
	if (!err && left < 0)
		err = (int)left;
out:
	free(keys);
	free(vals);
	return err;
}

/* Attaches row c's LB program to l0 and measures the rate at the sink. */
static int measure(struct env *e, const struct opts *o,
		   const struct bench_case *c, struct result *res)
{
	bool lbd = c->flow_state != NULL;
	int prog_fd = lbd ? dp_prog_fd(e->dp) :
			    bpf_program__fd(e->skel->progs.bench_redirect);
	struct gen g[MAX_CPUS];
	struct snap a, b;
	int err, i, gerr;
	double dt, pk;

	memset(res, 0, sizeof(*res));
	if (attach(e, NS_LB, e->if_l0, prog_fd))
		return -1;
	err = gens_start(e, o, c, g, o->threads);
	if (!err && nap(o->warmup))
		err = take_snap(e, &a, prog_fd, lbd, g, o->threads);
	if (!err && nap(o->seconds))
		err = take_snap(e, &b, prog_fd, lbd, g, o->threads);
	gerr = gens_stop(g, o->threads);
	if (lbd && !err && !gerr)
		res->ct_left = ct_clear(e);
	if (stop)
		return -1;
	if (res->ct_left < 0)
		err = (int)res->ct_left;
	if (err || gerr) {
		fprintf(stderr, "measuring %s: %s\n", c->name,
			strerror(err ? -err : gerr));
		return -1;
	}
	dt = b.t - a.t;
	pk = (double)(b.sink.packets - a.sink.packets);
	res->mpps = pk / dt / 1e6;
	res->sent_mpps = (double)(b.sent - a.sent) / dt / 1e6;
	if (pk > 0) {
		res->encap_frac =
			(double)(b.sink.encapsulated - a.sink.encapsulated) /
			pk;
		res->geneve_frac = (double)(b.sink.geneve - a.sink.geneve) / pk;
	}
	/*
	 * What a packet costs whatever share of the CPUs other processes
	 * took: the generator threads' time, and the softirq time of their
	 * CPUs (the veths' NAPI, where the LB and the sink run) where the
	 * kernel does not charge it to the thread it interrupted.
	 */
	res->ns_pkt = b.gen_cpu - a.gen_cpu;
	for (i = 0; e->irqtime > 0 && i < o->threads; i++)
		res->ns_pkt +=
			(double)(b.softirq[g[i].cpu] - a.softirq[g[i].cpu]) /
			(double)sysconf(_SC_CLK_TCK);
	res->ns_pkt = pk > 0 && e->irqtime >= 0 ? res->ns_pkt / pk * 1e9 : 0;
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

static void print_result(const char *name, const struct result *r, int ncpus,
			 bool lbd)
{
	int i;

	printf("  %-9s %6.2f Mpps  sent %5.2f", name, r->mpps, r->sent_mpps);
	if (r->ns_pkt > 0)
		printf("  %5.0f ns", r->ns_pkt);
	else
		printf("  %8s", "");
	if (lbd)
		printf("  ct %7ld", r->ct_left);
	else
		printf("  %10s", "");
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
	size_t i;

	fprintf(f, "usage: lbd-bench-fwd [-g live|afpacket] [-c rows] "
		   "[-d seconds] [-w seconds]\n"
		   "                     [-r rounds] [-t threads] [-f flows] "
		   "[-6]\n"
		   "  -g  the generator: live frames (BPF_PROG_TEST_RUN), or "
		   "AF_PACKET (sendmmsg);\n"
		   "      default: live frames, AF_PACKET where they fail\n"
		   "  -c  rows to measure, comma-separated (the redirect is "
		   "always measured):\n     ");
	for (i = 0; i < N_CASES; i++)
		fprintf(f, " %s", cases[i].name);
	fprintf(f, "\n"
		   "  -d  seconds per measurement (default 5)\n"
		   "  -w  warm-up seconds before each (default 1)\n"
		   "  -r  rounds of all rows, median reported (default 5)\n"
		   "  -t  generator threads, one per CPU (default 1: the "
		   "whole path on one CPU)\n"
		   "  -f  established flows of every row but the SYN floods, "
		   "all threads together\n"
		   "      (default: the row's, 10000)\n"
		   "  -6  IPv6 (IP6IP6) instead of IPv4 (IPIP)\n"
		   "Creates network namespaces lbdbf<pid>-*; needs root.\n");
}

/* -c: marks the rows named in list; the redirect always. 0 or -1. */
static int cases_pick(const char *list, bool *on)
{
	char *copy = strdup(list), *tok, *save = NULL;
	size_t i;
	int err = 0;

	if (!copy)
		return -1;
	for (i = 0; i < N_CASES; i++)
		on[i] = i == CASE_REDIRECT;
	for (tok = strtok_r(copy, ",", &save); tok && !err;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < N_CASES && strcmp(tok, cases[i].name); i++)
			;
		if (i == N_CASES) {
			fprintf(stderr, "-c: no row %s\n", tok);
			err = -1;
		} else {
			on[i] = true;
		}
	}
	free(copy);
	return err;
}

/*
 * What the LB programs cost on their own, per packet, as the kernel
 * times them with BPF statistics on: the rest of a packet's path (the
 * generator, two veth transmits, the sink) is the same for all rows. The
 * statistics add two clock reads to every run of every program, so they
 * are on only for this measurement, after the rates.
 */
static int prog_times(struct env *e, const struct opts *o)
{
	struct result r[N_CASES];
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME), err = 0;
	size_t i;

	if (fd < 0) {
		fprintf(stderr, "BPF statistics: %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < N_CASES && !err; i++)
		if (o->on[i])
			err = measure(e, o, &cases[i], &r[i]);
	close(fd);
	if (err)
		return -1;
	printf("\nthe LB programs' own time per packet, as the kernel "
	       "times each run with BPF\nstatistics on (which add their "
	       "own two clock reads to all):\n");
	for (i = 0; i < N_CASES; i++) {
		if (!o->on[i])
			continue;
		printf("  %-9s %6.1f ns", cases[i].name, r[i].prog_ns);
		if (i != CASE_REDIRECT)
			printf("  (lbd's work: %.1f ns a packet)",
			       r[i].prog_ns - r[CASE_REDIRECT].prog_ns);
		printf("\n");
	}
	return 0;
}

static void print_header(const struct env *e, const struct opts *o)
{
	unsigned int threads = (unsigned int)o->threads;
	size_t i;

	printf("lbd-bench-fwd: generator -> LB -> sink over veth, in "
	       "namespaces %s-*.\n",
	       e->ns_prefix);
	if (e->gen == GEN_LIVE)
		printf("generator: live frames (BPF_PROG_TEST_RUN with "
		       "BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX out\nof g0); %s.\n",
		       e->gen_why);
	else
		printf("generator: AF_PACKET (sendmmsg of %d frames, "
		       "PACKET_QDISC_BYPASS, into g0); its\nown cost per "
		       "frame (a socket buffer, copies into it and into an "
		       "XDP frame on\nl0) is in every row, so rows differ "
		       "less than with live frames.\n%s.\n",
		       GEN_BATCH, e->gen_why);
	printf("%s TCP segments of %zu bytes to one VIP, %d thread(s) on as "
	       "many CPUs (a frame's\nwhole path runs on the CPU that sent "
	       "it); %d s per measurement after %d s of\nwarm-up; the rate "
	       "is what reaches the sink. lbd: the real program, one "
	       "service\nper flow_state on its own port, %d backends "
	       "behind the sink veth (devmap redirect).\nrows:\n",
	       o->ipv6 ? "IPv6" : "IPv4", e->frame[CASE_REDIRECT].len,
	       o->threads, o->seconds, o->warmup, SVC_BACKENDS);
	for (i = 0; i < N_CASES; i++) {
		const struct bench_case *c = &cases[i];
		unsigned int flows = o->flows ? o->flows : c->flows;

		if (!o->on[i])
			continue;
		if (!c->flow_state)
			printf("  %-9s every frame from l0 to the sink veth "
			       "through a devmap (ACKs)\n",
			       c->name);
		else if (c->syn_every_packet)
			printf("  %-9s flow_state \"%s\": SYNs, a new source "
			       "address and port on every one\n",
			       c->name, c->flow_state);
		else
			printf("  %-9s flow_state \"%s\": ACKs of %u "
			       "established flows (%u a thread)\n",
			       c->name, c->flow_state, flows,
			       (flows + threads - 1) / threads);
	}
	if (e->irqtime >= 0)
		printf("ns: CPU time per packet at the sink, whatever share "
		       "of the CPUs other\nprocesses took: the generator "
		       "threads' time%s.\n",
		       e->irqtime ? " and their CPUs' softirq time" :
				    ", which holds the softirq work\ntheir "
				    "sends cause (the LB and the sink)");
	printf("ct: entries in lbd's conntrack at the end of the row. "
	       "Conntrack is aged first\n(the generator CPUs' shares "
	       "taken and freed in hash order, as on an LB that has\nrun "
	       "a while) and emptied after every row, so no row finds what "
	       "another left.\n"
	       "CPUn: how busy each CPU was, all processes (si: softirq).\n\n");
}

static int run(struct env *e, struct opts *o)
{
	static double mpps[N_CASES][64], ratio[N_CASES][64], ns[N_CASES][64];
	struct result res[N_CASES];
	size_t i, k;
	int r, err;

	if (env_setup(e))
		return -1;
	e->if_g0 = ns_ifindex(e, NS_GEN, "g0");
	e->if_l0 = ns_ifindex(e, NS_LB, "l0");
	e->if_l1 = ns_ifindex(e, NS_LB, "l1");
	e->if_s0 = ns_ifindex(e, NS_SINK, "s0");
	if (!e->if_g0 || !e->if_l0 || !e->if_l1 || !e->if_s0)
		return -1;
	e->ipv4 = !o->ipv6;
	e->tcp_off = ETH_HLEN + (o->ipv6 ? 40 : 20);
	/* the source address's last 16 bits */
	e->addr_off = ETH_HLEN + (o->ipv6 ? 8 + 14 : 12 + 2);
	for (i = 0; i < N_CASES; i++)
		frame_build(&e->frame[i], o->ipv6, &cases[i]);
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
		   bpf_program__fd(e->skel->progs.bench_sink)) ||
	    attach(e, NS_LB, e->if_l0,
		   bpf_program__fd(e->skel->progs.bench_redirect)) ||
	    gen_choose(e, o))
		return -1;
	e->irqtime = irqtime_accounting();
	err = ct_age(e, o);
	if (err) {
		fprintf(stderr, "ageing conntrack: %s\n", strerror(-err));
		return -1;
	}

	print_header(e, o);
	for (r = 0; r < o->rounds; r++) {
		printf("round %d\n", r + 1);
		/* each round starts with another row: none is always
		 * measured first or after the same one */
		for (k = 0; k < N_CASES; k++) {
			const struct bench_case *c;

			i = (k + (size_t)r) % N_CASES;
			c = &cases[i];
			if (!o->on[i])
				continue;
			if (measure(e, o, c, &res[i]))
				return -1;
			print_result(c->name, &res[i], e->ncpus,
				     c->flow_state != NULL);
			if (c->flow_state && res[i].encap_frac < 0.99) {
				fprintf(stderr,
					"%s: only %.1f%% of the frames at the "
					"sink were encapsulated by lbd\n",
					c->name, res[i].encap_frac * 100);
				return -1;
			}
			mpps[i][r] = res[i].mpps;
			ns[i][r] = res[i].ns_pkt;
		}
		for (i = 0; i < N_CASES; i++)
			if (o->on[i])
				ratio[i][r] =
					mpps[i][r] / mpps[CASE_REDIRECT][r];
	}
	printf("lbd counted in the last round's measurements:\n");
	for (i = 0; i < N_CASES; i++) {
		int j;

		if (!o->on[i] || !cases[i].flow_state)
			continue;
		printf("  %-9s", cases[i].name);
		for (j = 0; j < LBD_REASON_MAX; j++)
			if (res[i].reasons[j].packets)
				printf(" %s %llu", reason_labels[j],
				       (unsigned long long)res[i]
					       .reasons[j]
					       .packets);
		printf("\n");
	}
	printf("\nmedian of %d rounds; ns: CPU time per packet, (+ that of "
	       "the redirect); the share\nof the redirect's rate is the "
	       "median of the rounds' ratios to the same round's\nredirect "
	       "(min-max); wire: the encapsulation at the sink in the last "
	       "round:\n",
	       o->rounds);
	for (i = 0; i < N_CASES; i++)
		if (o->on[i])
			ns[i][0] = median(ns[i], o->rounds);
	for (i = 0; i < N_CASES; i++) {
		const struct bench_case *c = &cases[i];
		double m;

		if (!o->on[i])
			continue;
		m = median(mpps[i], o->rounds);
		printf("  %-9s %6.2f Mpps", c->name, m);
		if (ns[i][0] > 0)
			printf("  %5.0f ns", ns[i][0]);
		if (i == CASE_REDIRECT) {
			printf("\n");
			continue;
		}
		if (ns[i][0] > 0)
			printf(" (+%4.0f)", ns[i][0] - ns[CASE_REDIRECT][0]);
		m = median(ratio[i], o->rounds); /* sorts: [0] min */
		printf("  %4.0f%% (%.0f-%.0f%%)  wire %-6s", 100 * m,
		       100 * ratio[i][0], 100 * ratio[i][o->rounds - 1],
		       res[i].geneve_frac > 0.5 ? "Geneve" :
		       o->ipv6			? "IP6IP6" :
						  "IPIP");
		if (c->target > 0)
			printf("  target >= %.0f%%: %s", 100 * c->target,
			       m >= c->target ? "met" : "MISSED");
		printf("\n");
	}
	return prog_times(e, o);
}

int main(int argc, char **argv)
{
	struct opts o = { .seconds = 5, .warmup = 1, .rounds = 5, .threads = 1 };
	struct env e = { .self_ns = -1, .ns_fd = { -1, -1, -1 } };
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long flows_max;
	int opt, rc = 1;
	size_t i;

	for (i = 0; i < N_CASES; i++)
		o.on[i] = true;
	while ((opt = getopt(argc, argv, "g:c:d:w:r:t:f:6h")) != -1) {
		switch (opt) {
		case 'g':
			if (!strcmp(optarg, "live")) {
				o.gen = GEN_LIVE;
			} else if (!strcmp(optarg, "afpacket")) {
				o.gen = GEN_AFPACKET;
			} else {
				usage(stderr);
				return 2;
			}
			break;
		case 'c':
			if (cases_pick(optarg, o.on))
				return 2;
			break;
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
			if (!o.flows) {
				usage(stderr);
				return 2;
			}
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
	/* every thread's ports within BENCH_GEN_PORTS */
	flows_max = e.ncpus > 0 ? BENCH_GEN_PORTS / (unsigned int)e.ncpus *
					  (unsigned int)o.threads :
				  0;
	for (i = 0; i < N_CASES; i++)
		if (!cases[i].syn_every_packet &&
		    (o.flows ? o.flows : cases[i].flows) > flows_max)
			flows_max = 0;
	if (o.seconds < 1 || o.warmup < 0 || o.rounds < 1 || o.rounds > 64 ||
	    o.threads < 1 || o.threads > e.ncpus || e.ncpus > MAX_CPUS ||
	    !flows_max) {
		fprintf(stderr,
			"bad options (-t at most %d, -f at most %d a "
			"thread)\n",
			e.ncpus, e.ncpus > 0 ? BENCH_GEN_PORTS / e.ncpus : 0);
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
	dp_log_route();

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
