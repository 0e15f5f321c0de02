// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-node: the node role's socket-level load balancing against
 * kube-proxy's iptables mode, for 10, 100, 1,000 and 10,000 Services of
 * 10 endpoints each. Prints figures next to the targets of issue 17; it
 * is not a test and does not fail when a target is missed.
 *
 *   (a) connect(): connects per second (connect, then an abortive close)
 *       and the latency of connect() to random ClusterIPs, against the
 *       same connects straight to random endpoints ("direct");
 *   (b) one endpoint change: lbd's node_backends_set, against
 *       iptables-restore of the whole ruleset (kube-proxy's full sync)
 *       and of the chains that changed (its partial sync, 1.27 and on);
 *   (c) a bulk TCP stream through the Service against one straight to
 *       the endpoint, with 1500-byte packets (lo's MTU set so, TSO and
 *       GSO off), so that the per-packet cost shows.
 *
 * Two network namespaces of the process, one per system, set up alike:
 * the endpoints are 198.18.0.0/15, routed as local on lo (one server
 * process answers them all: accept-and-close on 8080, a sink on 8081);
 * the client is a "pod" at 203.0.113.1, the source of the route to the
 * Service range 10.96.0.0/16. The iptables namespace holds
 * kube-proxy's rules (bench_ipt_write says what of them); in the lbd one
 * the programs of bpf/node are attached to a cgroup of our own that the
 * clients join, and there is no netfilter rule (so no conntrack), as on
 * a node without kube-proxy. Direct connects run in the lbd namespace
 * from outside the cgroup. Every client is a child process that enters
 * its namespace (and cgroup); rounds alternate the three clients so
 * that the load of the machine falls on all alike.
 *
 * Everything made goes on every exit path, SIGINT and SIGTERM included:
 * the namespaces die with the process and its children (the servers
 * die with us: PR_SET_PDEATHSIG), the iptables rules with them, the
 * cgroup is removed after its processes are gone; a cgroup left by a
 * killed run is swept at the next start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <bpf/bpf.h>

#include "node.h"

#define BENCH_EPS 10 /* endpoints per Service */
#define BENCH_MAX_SVCS 10000
#define BENCH_STREAM_ID BENCH_MAX_SVCS /* the stream's Service */
#define BENCH_SVC_PORT 80
#define BENCH_STREAM_PORT 81
#define BENCH_EP_PORT 8080 /* accept and close */
#define BENCH_SINK_PORT 8081 /* read until EOF */
/* the payload of a segment at MTU 1500 (TCP timestamps on) */
#define BENCH_MSS 1448
#define BENCH_CHANGES 21 /* lbd endpoint changes timed */
#define BENCH_CGROUP_PREFIX "lbd-bench-node."
#define BENCH_CGROUP2_MNT "/run/lbd-bench-node/cgroup2"
/* a client that has not finished by then is stuck (a lost SYN is
 * retried after 1 s, not a reason to wait long) */
#define BENCH_CLIENT_SECONDS 120

/* The targets of issue 17, printed beside the results. */
#define TARGET_FLAT 0.10 /* lbd's connect rate and latency, 10 -> 10,000 */
#define TARGET_VS_IPT 5.0 /* lbd's connect rate / iptables', at 10,000 */
#define TARGET_CHANGE_MS 20.0
#define TARGET_STREAM 0.03 /* stream through the Service vs direct */

static const int bench_counts[] = { 10, 100, 1000, 10000 };
#define BENCH_NCOUNTS (int)(sizeof(bench_counts) / sizeof(bench_counts[0]))

enum bench_sys { SYS_DIRECT, SYS_IPT, SYS_LBD, SYS_MAX };
static const char *const bench_sys_name[] = { "direct", "iptables", "lbd" };

/* What a client child reports, in memory shared with the parent. */
struct bench_shared {
	double lat_us[40000];
	long n, errors;
	double secs;
	double bytes;
	double cpu; /* the client's CPU seconds (stream) */
};

struct bench_row {
	int nsvc;
	double rate[SYS_MAX]; /* connects/s, median of the rounds */
	double p50[SYS_MAX], p99[SYS_MAX]; /* us, over all connects */
	long errors[SYS_MAX];
	double gbps[SYS_MAX]; /* stream, median of the rounds */
	/* CPU ns (client and server) a 1448-byte segment, median; and the
	 * spread of direct's throughput over the rounds, the noise */
	double cpu_pkt[SYS_MAX], direct_spread;
	double upd_lbd, upd_full, upd_flush, upd_partial; /* ms; < 0: not run */
	double load_ipt, load_lbd; /* s to install the Services */
	/* lbd's rate / iptables' in each round: median, lowest, highest */
	double vs_ipt, vs_ipt_lo, vs_ipt_hi;
	/* CPU us a connect (client and server), median of the rounds: the
	 * load of other work moves it far less than the rate */
	double cpu_conn[SYS_MAX];
};

/* (d): with every Service installed, lbd and direct connects to the
 * first nsvc, the counts interleaved round by round. */
struct bench_flat {
	int nsvc;
	/* cpu: CPU us a connect, the client's and the server's: what the
	 * load of other work moves least */
	double rate[SYS_MAX][16], p50[SYS_MAX][16], cpu[SYS_MAX][16];
	/* medians over the rounds; spread: (max - min) / median */
	double rate_med[SYS_MAX], rate_spread[SYS_MAX], p50_med[SYS_MAX];
	double cpu_med[SYS_MAX], cpu_spread[SYS_MAX];
	/* ns a run of lbd's connect4 program (kernel BPF stats) */
	double prog_ns[16], prog_med, prog_spread;
	double over_us; /* median of lbd's CPU over direct's a connect */
};

static struct {
	int ns[SYS_MAX]; /* netns fds: SYS_DIRECT shares lbd's */
	int orig_ns;
	pid_t servers[SYS_MAX];
	pid_t child; /* the client or iptables-restore running now */
	char cgroup[1100];
	char cgroup_root[1024];
	char tmpdir[64];
	struct lbd_node *node;
	struct bench_shared *sh;
	int connects, rounds, stream_rounds, max_svcs, flat_rounds;
	/* connects a client makes in (d): a sample of 2,000 (about 40 ms)
	 * spread 20-80% over the rounds here, one of 8,000 5-20% */
	int flat_connects;
	double stream_secs;
	bool full_at_max; /* -F: the --noflush full sync at 10,000 too */
	/* the variant of Service 0's endpoints in each system: a change
	 * makes the next one */
	unsigned int var_ipt, var_lbd;
} b = { .ns = { -1, -1, -1 }, .orig_ns = -1 };

static volatile sig_atomic_t bench_stop;

static void bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void bench_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static double bench_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int bench_cmp_double(const void *a, const void *b_)
{
	double x = *(const double *)a, y = *(const double *)b_;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of v, sorted in place. */
static double bench_pct(double *v, long n, double p)
{
	long i;

	if (n <= 0)
		return NAN;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	i = (long)ceil(p / 100.0 * n) - 1;
	return v[i < 0 ? 0 : i];
}

static double bench_median(double *v, int n)
{
	return bench_pct(v, n, 50);
}

/* ---- addresses ---- */

/* Service i's ClusterIP: 10.96.0.1 on; the stream's 10.96.255.250. */
static __be32 bench_svc_ip(int i)
{
	if (i == BENCH_STREAM_ID)
		return htonl(0x0a60fffa);
	return htonl(0x0a600000 + i + 1);
}

/* Endpoint j of Service i: 198.18.0.1 on (100,000 fit below
 * 198.19.134.161); the stream's at 198.19.255.1-10. Endpoint 9 of
 * Service 0 is 198.19.254.1 in the odd variants: the endpoint change. */
static __be32 bench_ep_ip(int i, int j, unsigned int variant)
{
	if (i == BENCH_STREAM_ID)
		return htonl(0xc613ff01 + j);
	if (i == 0 && j == BENCH_EPS - 1 && (variant & 1))
		return htonl(0xc613fe01);
	return htonl(0xc6120000 + i * BENCH_EPS + j + 1);
}

static int bench_ep_port(int i)
{
	return i == BENCH_STREAM_ID ? BENCH_SINK_PORT : BENCH_EP_PORT;
}

static int bench_svc_port(int i)
{
	return i == BENCH_STREAM_ID ? BENCH_STREAM_PORT : BENCH_SVC_PORT;
}

static const char *bench_ip_str(__be32 a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* ---- processes, namespaces, cgroup ---- */

static void bench_cleanup(void)
{
	int i;

	if (b.child > 0) {
		kill(b.child, SIGKILL);
		waitpid(b.child, NULL, 0);
		b.child = 0;
	}
	for (i = 0; i < SYS_MAX; i++) {
		if (b.servers[i] > 0) {
			kill(b.servers[i], SIGKILL);
			waitpid(b.servers[i], NULL, 0);
			b.servers[i] = 0;
		}
	}
	if (b.node) {
		node_close(b.node);
		b.node = NULL;
	}
	/* its processes were our children, killed and reaped above */
	if (b.cgroup[0] && rmdir(b.cgroup) && errno != ENOENT)
		fprintf(stderr, "bench: cgroup %s left behind: %s\n", b.cgroup,
			strerror(errno));
	b.cgroup[0] = 0;
	for (i = 0; i < SYS_MAX; i++) {
		if (b.ns[i] >= 0 &&
		    (i != SYS_DIRECT || b.ns[i] != b.ns[SYS_LBD]))
			close(b.ns[i]);
		b.ns[i] = -1;
	}
	if (b.tmpdir[0]) {
		char path[128];

		snprintf(path, sizeof(path), "%s/node.dat", b.tmpdir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/node.gp", b.tmpdir);
		unlink(path);
		rmdir(b.tmpdir);
		b.tmpdir[0] = 0;
	}
}

static void bench_die(const char *fmt, ...)
{
	va_list ap;

	fputs("lbd-bench-node: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_cleanup();
	exit(1);
}

static void bench_check_stop(void)
{
	if (bench_stop) {
		fprintf(stderr, "lbd-bench-node: interrupted, cleaning up\n");
		bench_cleanup();
		exit(130);
	}
}

/* Waits for the child now running; its exit status, or -1 when it was
 * killed. A signal to us kills it and ends the run. */
static int bench_wait_child(void)
{
	int status;

	for (;;) {
		pid_t r = waitpid(b.child, &status, 0);

		if (r == b.child)
			break;
		if (r < 0 && errno != EINTR)
			bench_die("waitpid: %s", strerror(errno));
		if (bench_stop) {
			kill(b.child, SIGKILL);
		}
	}
	b.child = 0;
	bench_check_stop();
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int bench_cgroup2_root(void)
{
	char dev[256], dir[1024], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %1023s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(b.cgroup_root, sizeof(b.cgroup_root), "%s",
				 dir);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	if (mkdir("/run/lbd-bench-node", 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(BENCH_CGROUP2_MNT, 0700) && errno != EEXIST)
		return -errno;
	if (mount("cgroup2", BENCH_CGROUP2_MNT, "cgroup2", 0, NULL) &&
	    errno != EBUSY)
		return -errno;
	snprintf(b.cgroup_root, sizeof(b.cgroup_root), "%s", BENCH_CGROUP2_MNT);
	return 0;
}

/* Cgroups of earlier runs whose process is gone (killed with SIGKILL);
 * their processes died with it (PR_SET_PDEATHSIG), so rmdir works. */
static void bench_cgroup_sweep(void)
{
	DIR *d = opendir(b.cgroup_root);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t plen = strlen(BENCH_CGROUP_PREFIX);
		char path[2048];
		int pid;

		if (strncmp(e->d_name, BENCH_CGROUP_PREFIX, plen))
			continue;
		pid = atoi(e->d_name + plen);
		if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", b.cgroup_root, e->d_name);
		rmdir(path);
	}
	closedir(d);
}

/* In a child: enter system s's namespace (and lbd's cgroup); a failure
 * ends the child. */
static void bench_child_enter(enum bench_sys s)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (setns(b.ns[s], CLONE_NEWNET)) {
		perror("setns");
		_exit(2);
	}
	if (s == SYS_LBD) {
		char procs[1200];
		int fd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", b.cgroup);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1) {
			perror("joining the cgroup");
			_exit(2);
		}
		close(fd);
	}
}

static const char *const bench_ns_cmds[] = {
	"ip link set lo up",
	/* per-packet costs show with packets of a real link's size */
	"ip link set lo mtu 1500",
	"ethtool -K lo tso off gso off",
	"ip route add local 198.18.0.0/15 dev lo",
	/* the pod's address, and the Service range routed from it (the
	 * node has no dummy device, and lo serves: the rules or the
	 * programs replace the address before a packet leaves) */
	"ip addr add 203.0.113.1/32 dev lo",
	"ip route add 10.96.0.0/16 dev lo src 203.0.113.1",
	NULL,
};

/* A new network namespace set up as the header says; its fd. The
 * process returns to its own namespace. */
static int bench_ns_make(void)
{
	int fd, i;

	if (unshare(CLONE_NEWNET))
		bench_die("unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		bench_die("/proc/self/ns/net: %s", strerror(errno));
	for (i = 0; bench_ns_cmds[i]; i++) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1",
			 bench_ns_cmds[i]);
		if (system(cmd) != 0) {
			close(fd);
			bench_die("failed: %s", bench_ns_cmds[i]);
		}
	}
	if (setns(b.orig_ns, CLONE_NEWNET))
		bench_die("setns back: %s", strerror(errno));
	return fd;
}

static int bench_listen(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		perror("server socket");
		_exit(2);
	}
	return fd;
}

/* The endpoints of a namespace: 8080 accepts and closes, 8081 reads
 * until EOF. One epoll loop; it runs until killed. */
static void bench_server(void)
{
	static char buf[1 << 16];
	struct epoll_event ev, evs[64];
	int ep = epoll_create1(0), lc = bench_listen(BENCH_EP_PORT);
	int ls = bench_listen(BENCH_SINK_PORT), i, n;

	ev.events = EPOLLIN;
	ev.data.fd = lc;
	epoll_ctl(ep, EPOLL_CTL_ADD, lc, &ev);
	ev.data.fd = ls;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd, c;

			if (fd == lc) {
				while ((c = accept4(lc, NULL, NULL, 0)) >= 0)
					close(c);
			} else if (fd == ls) {
				while ((c = accept4(ls, NULL, NULL,
						    SOCK_NONBLOCK)) >= 0) {
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
			} else {
				ssize_t r;

				while ((r = read(fd, buf, sizeof(buf))) > 0)
					;
				if (r == 0 || errno != EAGAIN)
					close(fd);
			}
		}
	}
}

static pid_t bench_server_start(enum bench_sys s)
{
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork: %s", strerror(errno));
	if (pid == 0) {
		bench_child_enter(s == SYS_LBD ? SYS_DIRECT : s);
		bench_server();
		_exit(0);
	}
	return pid;
}

/* ---- kube-proxy's rules ---- */

/* A chain name as kube-proxy makes one: a prefix and 16 base32
 * characters of a hash of the key (kube-proxy: SHA-256 of the Service
 * port's name and protocol, for KUBE-SEP with the endpoint; any hash
 * with 80 bits does here: the names only have to differ). */
static void bench_chain(char *out, size_t len, const char *prefix,
			const char *key)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
	char s[17];
	int i;

	for (i = 0; key[i]; i++) {
		h1 = (h1 ^ (unsigned char)key[i]) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)key[i]) * 0x100000001b3ULL;
		h2 ^= h2 >> 29;
	}
	for (i = 0; i < 16; i++) {
		uint64_t h = i < 12 ? h1 >> (i * 5) : h2 >> ((i - 12) * 5);

		s[i] = b32[h & 31];
	}
	s[16] = 0;
	snprintf(out, len, "%s%s", prefix, s);
}

static void bench_svc_chain(char *out, size_t len, int i)
{
	char key[64];

	snprintf(key, sizeof(key), "bench/svc-%d:http/TCP", i);
	bench_chain(out, len, "KUBE-SVC-", key);
}

static void bench_sep_chain(char *out, size_t len, int i, int j,
			    unsigned int variant)
{
	char key[96], ip[INET_ADDRSTRLEN];

	snprintf(key, sizeof(key), "bench/svc-%d:http/TCP/%s:%d", i,
		 bench_ip_str(bench_ep_ip(i, j, variant), ip),
		 bench_ep_port(i));
	bench_chain(out, len, "KUBE-SEP-", key);
}

enum bench_ipt_mode {
	/* the initial load and the lower bound of a full sync: the tables
	 * are flushed, so the built-in chains' jumps are in the text */
	IPT_FLUSH,
	/* kube-proxy's full sync: iptables-restore --noflush, every chain
	 * declared (and so flushed) and written */
	IPT_FULL,
	/* kube-proxy's partial sync (MinimizeIPTablesRestore, GA in 1.27):
	 * the top-level chains written whole, of the Services only those
	 * that changed, and the chains that went deleted */
	IPT_PARTIAL,
};

/* The rules of Service i (nat table), as kube-proxy 1.28 writes them
 * for a ClusterIP Service with endpoints, no affinity, clusterCIDR set
 * (the pods' range: 203.0.113.0/24 here, so a pod's connect is not
 * masqueraded and one from elsewhere is). */
static void bench_ipt_svc(FILE *f, int i, unsigned int variant)
{
	char svc[40], sep[40], ip[INET_ADDRSTRLEN], ep[INET_ADDRSTRLEN];
	int j, port = bench_svc_port(i);

	bench_svc_chain(svc, sizeof(svc), i);
	bench_ip_str(bench_svc_ip(i), ip);
	fprintf(f,
		"-A %s -m comment --comment \"bench/svc-%d:http cluster IP\" "
		"-m tcp -p tcp -d %s/32 --dport %d ! -s 203.0.113.0/24 "
		"-j KUBE-MARK-MASQ\n",
		svc, i, ip, port);
	for (j = 0; j < BENCH_EPS; j++) {
		bench_sep_chain(sep, sizeof(sep), i, j, variant);
		bench_ip_str(bench_ep_ip(i, j, variant), ep);
		fprintf(f,
			"-A %s -m comment --comment \"bench/svc-%d:http -> %s:%d\"",
			svc, i, ep, bench_ep_port(i));
		/* kube-proxy: 1/(n - j) with 10 decimals, the last
		 * unconditional, so that each endpoint gets 1/n */
		if (j < BENCH_EPS - 1)
			fprintf(f,
				" -m statistic --mode random --probability %.10f",
				1.0 / (BENCH_EPS - j));
		fprintf(f, " -j %s\n", sep);
	}
	for (j = 0; j < BENCH_EPS; j++) {
		bench_sep_chain(sep, sizeof(sep), i, j, variant);
		bench_ip_str(bench_ep_ip(i, j, variant), ep);
		/* hairpin: an endpoint reaching itself is masqueraded */
		fprintf(f,
			"-A %s -m comment --comment bench/svc-%d:http -s %s/32 "
			"-j KUBE-MARK-MASQ\n"
			"-A %s -m comment --comment bench/svc-%d:http -m tcp -p tcp "
			"-j DNAT --to-destination %s:%d\n",
			sep, i, ep, sep, i, ep, bench_ep_port(i));
	}
}

/* The chains of Service i, declared. */
static void bench_ipt_svc_chains(FILE *f, int i, unsigned int variant)
{
	char c[40];
	int j;

	bench_svc_chain(c, sizeof(c), i);
	fprintf(f, ":%s - [0:0]\n", c);
	for (j = 0; j < BENCH_EPS; j++) {
		bench_sep_chain(c, sizeof(c), i, j, variant);
		fprintf(f, ":%s - [0:0]\n", c);
	}
}

/*
 * kube-proxy's iptables-restore input for nsvc Services (and the
 * stream's), Service 0's endpoints in variant. What kube-proxy 1.28's
 * syncProxyRules writes for ClusterIP Services: the filter table's
 * top-level chains and fixed rules; in nat KUBE-SERVICES (one rule per
 * Service port, then the jump to KUBE-NODEPORTS, last), KUBE-NODEPORTS,
 * KUBE-POSTROUTING, KUBE-MARK-MASQ, a KUBE-SVC chain per Service and a
 * KUBE-SEP chain per endpoint. The jumps from the built-in chains are
 * kube-proxy's too (it adds them with iptables -I, outside the restore;
 * here they are in the text of IPT_FLUSH, which flushes them).
 * IPT_FULL and IPT_PARTIAL follow a change of Service 0's endpoints
 * from variant - 1: the chain of the endpoint that left is deleted.
 */
static void bench_ipt_write(FILE *f, int nsvc, unsigned int variant,
			    enum bench_ipt_mode mode)
{
	static const char *const filter_chains[] = {
		"KUBE-SERVICES",  "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
		"KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL",    NULL,
	};
	static const char *const nat_chains[] = {
		"KUBE-SERVICES",
		"KUBE-NODEPORTS",
		"KUBE-POSTROUTING",
		"KUBE-MARK-MASQ",
		NULL,
	};
	char c[40], ip[INET_ADDRSTRLEN];
	int i, k;

	fputs("*filter\n", f);
	if (mode == IPT_FLUSH)
		fputs(":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
		      ":OUTPUT ACCEPT [0:0]\n",
		      f);
	for (k = 0; filter_chains[k]; k++)
		fprintf(f, ":%s - [0:0]\n", filter_chains[k]);
	if (mode == IPT_FLUSH)
		fputs("-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n"
		      "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS\n"
		      "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n"
		      "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n"
		      "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
		      "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
		      "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n"
		      "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n"
		      "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n",
		      f);
	fputs("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"
	      "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n"
	      "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	      "COMMIT\n*nat\n",
	      f);
	if (mode == IPT_FLUSH)
		fputs(":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
		      ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
		      f);
	for (k = 0; nat_chains[k]; k++)
		fprintf(f, ":%s - [0:0]\n", nat_chains[k]);
	for (i = 0; i < nsvc; i++) {
		if (mode == IPT_PARTIAL && i > 0)
			break;
		bench_ipt_svc_chains(f, i, variant);
	}
	bench_ipt_svc_chains(f, BENCH_STREAM_ID, 0);
	if (mode != IPT_FLUSH) {
		/* the endpoint that left: declared, then deleted */
		bench_sep_chain(c, sizeof(c), 0, BENCH_EPS - 1, variant - 1);
		fprintf(f, ":%s - [0:0]\n", c);
	}
	if (mode == IPT_FLUSH)
		fputs("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
		      "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
		      "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n",
		      f);
	fputs("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
	      "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n"
	      "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n"
	      "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n",
	      f);
	for (i = 0; i <= nsvc; i++) {
		int id = i < nsvc ? i : BENCH_STREAM_ID;

		bench_svc_chain(c, sizeof(c), id);
		bench_ip_str(bench_svc_ip(id), ip);
		fprintf(f,
			"-A KUBE-SERVICES -m comment --comment \"bench/svc-%d:http cluster IP\" "
			"-m tcp -p tcp -d %s/32 --dport %d -j %s\n",
			id, ip, bench_svc_port(id), c);
	}
	fputs("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" "
	      "-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n",
	      f);
	for (i = 0; i < nsvc; i++) {
		if (mode == IPT_PARTIAL && i > 0)
			break;
		bench_ipt_svc(f, i, variant);
	}
	if (mode != IPT_PARTIAL)
		bench_ipt_svc(f, BENCH_STREAM_ID, 0);
	if (mode != IPT_FLUSH) {
		bench_sep_chain(c, sizeof(c), 0, BENCH_EPS - 1, variant - 1);
		fprintf(f, "-X %s\n", c);
	}
	fputs("COMMIT\n", f);
}

/* Runs iptables-restore in the iptables namespace on the rules of
 * (nsvc, variant, mode), as kube-proxy runs it; the seconds it took
 * (the text is made before the clock starts). */
static double bench_ipt_restore(int nsvc, unsigned int variant,
				enum bench_ipt_mode mode)
{
	char *const flush_argv[] = { "iptables-restore", "-w", "5", NULL };
	char *const noflush_argv[] = {
		"iptables-restore", "-w",	 "5",	       "-W",
		"100000",	    "--noflush", "--counters", NULL
	};
	int fd = memfd_create("bench-rules", MFD_CLOEXEC), st;
	FILE *f;
	double t0;

	if (fd < 0)
		bench_die("memfd_create: %s", strerror(errno));
	f = fdopen(dup(fd), "w");
	if (!f)
		bench_die("fdopen: %s", strerror(errno));
	bench_ipt_write(f, nsvc, variant, mode);
	if (fclose(f))
		bench_die("writing the rules: %s", strerror(errno));
	lseek(fd, 0, SEEK_SET);
	t0 = bench_now();
	b.child = fork();
	if (b.child < 0)
		bench_die("fork: %s", strerror(errno));
	if (b.child == 0) {
		bench_child_enter(SYS_IPT);
		dup2(fd, 0);
		execvp("iptables-restore",
		       mode == IPT_FLUSH ? flush_argv : noflush_argv);
		perror("iptables-restore");
		_exit(127);
	}
	st = bench_wait_child();
	t0 = bench_now() - t0;
	close(fd);
	if (st != 0)
		bench_die("iptables-restore (%d Services) failed: status %d",
			  nsvc, st);
	return t0;
}

/* ---- lbd ---- */

static void bench_lbd_eps(int i, unsigned int variant,
			  struct node_endpoint *eps)
{
	int j;

	for (j = 0; j < BENCH_EPS; j++) {
		eps[j] = (struct node_endpoint){
			.family = LBD_AF_INET,
			.ready = true,
			.serving = true,
			.port = htons(bench_ep_port(i)),
			.weight = 1,
		};
		eps[j].addr.v4 = bench_ep_ip(i, j, variant);
	}
}

static void bench_lbd_svc(int i, unsigned int variant)
{
	struct node_svc_addr a = {
		.family = LBD_AF_INET,
		.proto = IPPROTO_TCP,
		.port = htons(bench_svc_port(i)),
	};
	struct node_endpoint eps[BENCH_EPS];
	int err;

	a.addr.v4 = bench_svc_ip(i);
	bench_lbd_eps(i, variant, eps);
	err = node_service_set(b.node, &a, i, 0, 0);
	if (!err)
		err = node_backends_set(b.node, i, eps, BENCH_EPS);
	if (err)
		bench_die("lbd: Service %d: %s", i, strerror(-err));
}

/* One endpoint change of Service 0 through node_backends_set; ms. */
static double bench_lbd_change(void)
{
	struct node_endpoint eps[BENCH_EPS];
	double t0;
	int err;

	b.var_lbd++;
	bench_lbd_eps(0, b.var_lbd, eps);
	t0 = bench_now();
	err = node_backends_set(b.node, 0, eps, BENCH_EPS);
	t0 = bench_now() - t0;
	if (err)
		bench_die("node_backends_set: %s", strerror(-err));
	return t0 * 1e3;
}

/* ---- clients ---- */

/* The CPU seconds of system s's server so far (the sink's share of a
 * stream: the receive path runs partly in its context). */
static double bench_server_cpu(enum bench_sys s)
{
	pid_t pid = b.servers[s == SYS_IPT ? SYS_IPT : SYS_LBD];
	struct timespec t;
	clockid_t c;

	if (clock_getcpuclockid(pid, &c) || clock_gettime(c, &t))
		bench_die("the server's CPU clock: %s", strerror(errno));
	return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t bench_rand_state;

static uint32_t bench_rand(void)
{
	/* xorshift64*: the client must not spend its time on rand() */
	bench_rand_state ^= bench_rand_state >> 12;
	bench_rand_state ^= bench_rand_state << 25;
	bench_rand_state ^= bench_rand_state >> 27;
	return (bench_rand_state * 0x2545f4914f6cdd1dULL) >> 32;
}

static void bench_target(enum bench_sys s, int i, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (s == SYS_DIRECT) {
		sa->sin_addr.s_addr =
			bench_ep_ip(i, bench_rand() % BENCH_EPS, 0);
		sa->sin_port = htons(bench_ep_port(i));
	} else {
		sa->sin_addr.s_addr = bench_svc_ip(i);
		sa->sin_port = htons(bench_svc_port(i));
	}
}

/* In the child: n connects to random Services of the first nsvc, each
 * closed with a reset (no TIME_WAIT left to fill the port space). */
static void bench_connects(enum bench_sys s, int nsvc, int n)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct timeval to = { .tv_sec = 2 };
	struct bench_shared *sh = b.sh;
	double t0 = bench_now(), t1, t2;
	int k;

	for (k = 0; k < n; k++) {
		struct sockaddr_in sa;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

		bench_target(s, bench_rand() % nsvc, &sa);
		/* a connect that the rules lose would block for long */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &to, sizeof(to));
		t1 = bench_now();
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		t2 = bench_now();
		if (r)
			sh->errors++;
		else
			sh->lat_us[sh->n++] = (t2 - t1) * 1e6;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	sh->secs = bench_now() - t0;
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		sh->cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	}
}

/* In the child: bulk sends to the stream Service (or its endpoint) for
 * secs seconds. */
static void bench_stream(enum bench_sys s, double secs)
{
	static char buf[1 << 16];
	struct sockaddr_in sa;
	double t0, t = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	bench_target(s, BENCH_STREAM_ID, &sa);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		b.sh->errors++;
		return;
	}
	t0 = bench_now();
	do {
		ssize_t r = write(fd, buf, sizeof(buf));

		if (r <= 0) {
			b.sh->errors++;
			break;
		}
		b.sh->bytes += r;
		t = bench_now() - t0;
	} while (t < secs);
	b.sh->secs = t;
	close(fd);
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		b.sh->cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	}
}

/* Runs a client of system s in a child; its report in b.sh. */
static void bench_client(enum bench_sys s, int nsvc, int n, bool stream)
{
	b.sh->n = b.sh->errors = 0;
	b.sh->secs = b.sh->bytes = 0;
	b.child = fork();
	if (b.child < 0)
		bench_die("fork: %s", strerror(errno));
	if (b.child == 0) {
		alarm(BENCH_CLIENT_SECONDS);
		bench_child_enter(s);
		bench_rand_state = 0x9e3779b97f4a7c15ULL ^ getpid();
		if (stream)
			bench_stream(s, b.stream_secs);
		else
			bench_connects(s, nsvc, n);
		_exit(0);
	}
	if (bench_wait_child() != 0)
		bench_die("the %s client failed", bench_sys_name[s]);
}

/* ---- one Service count ---- */

static void bench_install(struct bench_row *row, int from, int nsvc)
{
	double t0;
	int i;

	/* kube-proxy would write the whole ruleset for the new Services */
	row->load_ipt = bench_ipt_restore(nsvc, b.var_ipt, IPT_FLUSH);
	t0 = bench_now();
	/* as lbd's sync does: the new tables go in by batches */
	node_batch_begin(b.node);
	for (i = from; i < nsvc; i++) {
		bench_check_stop();
		bench_lbd_svc(i, b.var_lbd);
	}
	if (from == 0)
		bench_lbd_svc(BENCH_STREAM_ID, 0);
	i = node_batch_commit(b.node);
	if (i)
		bench_die("lbd: node_batch_commit: %s", strerror(-i));
	row->load_lbd = bench_now() - t0;
	bench_check_stop();
}

static void bench_measure(struct bench_row *row)
{
	static const enum bench_sys order[] = { SYS_DIRECT, SYS_IPT, SYS_LBD };
	double *lat[SYS_MAX], rates[SYS_MAX][16], gb[SYS_MAX][32];
	double ccpu[SYS_MAX][16];
	double cpu[SYS_MAX][32];
	double ch[BENCH_CHANGES], v[8];
	long nlat[SYS_MAX] = { 0 };
	int r, k, s, nv;
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];

	node_reasons_read(b.node, before);
	for (s = 0; s < SYS_MAX; s++) {
		lat[s] = calloc((size_t)b.connects * b.rounds, sizeof(double));
		if (!lat[s])
			bench_die("out of memory");
		row->errors[s] = 0;
	}
	/* (a) and (c): rounds, each starting with another system */
	for (r = 0; r < b.rounds; r++) {
		for (k = 0; k < SYS_MAX; k++) {
			double srv;

			s = order[(r + k) % SYS_MAX];
			srv = bench_server_cpu(s);
			bench_client(s, row->nsvc, b.connects, false);
			srv = bench_server_cpu(s) - srv;
			ccpu[s][r] = (b.sh->cpu + srv) * 1e6 / b.sh->n;
			memcpy(lat[s] + nlat[s], b.sh->lat_us,
			       b.sh->n * sizeof(double));
			nlat[s] += b.sh->n;
			row->errors[s] += b.sh->errors;
			rates[s][r] = b.sh->n / b.sh->secs;
		}
	}
	/* a stream is noisier than a thousand connects: more rounds */
	for (r = 0; r < b.stream_rounds && b.stream_secs > 0; r++) {
		for (k = 0; k < SYS_MAX; k++) {
			double srv;

			s = order[(r + k) % SYS_MAX];
			srv = bench_server_cpu(s);
			bench_client(s, row->nsvc, 0, true);
			srv = bench_server_cpu(s) - srv;
			row->errors[s] += b.sh->errors;
			gb[s][r] = b.sh->bytes * 8 / b.sh->secs / 1e9;
			cpu[s][r] = (b.sh->cpu + srv) * 1e9 /
				    (b.sh->bytes / BENCH_MSS);
		}
	}
	if (b.stream_secs > 0) {
		double lo = INFINITY, hi = 0;

		for (r = 0; r < b.stream_rounds; r++) {
			lo = fmin(lo, gb[SYS_DIRECT][r]);
			hi = fmax(hi, gb[SYS_DIRECT][r]);
		}
		row->direct_spread = (hi - lo) / bench_median(gb[SYS_DIRECT],
							      b.stream_rounds);
	}
	{
		double q[16];

		row->vs_ipt_lo = INFINITY;
		row->vs_ipt_hi = 0;
		for (r = 0; r < b.rounds; r++) {
			q[r] = rates[SYS_LBD][r] / rates[SYS_IPT][r];
			row->vs_ipt_lo = fmin(row->vs_ipt_lo, q[r]);
			row->vs_ipt_hi = fmax(row->vs_ipt_hi, q[r]);
		}
		row->vs_ipt = bench_median(q, b.rounds);
	}
	for (s = 0; s < SYS_MAX; s++) {
		row->cpu_conn[s] = bench_median(ccpu[s], b.rounds);
		row->rate[s] = bench_median(rates[s], b.rounds);
		row->p50[s] = bench_pct(lat[s], nlat[s], 50);
		row->p99[s] = bench_pct(lat[s], nlat[s], 99);
		row->gbps[s] = b.stream_secs > 0 ?
				       bench_median(gb[s], b.stream_rounds) :
				       NAN;
		row->cpu_pkt[s] =
			b.stream_secs > 0 ?
				bench_median(cpu[s], b.stream_rounds) :
				NAN;
		free(lat[s]);
	}
	node_reasons_read(b.node, after);
	if (after[LBD_NODE_CONNECT_XLATED] - before[LBD_NODE_CONNECT_XLATED] <
	    (__u64)nlat[SYS_LBD])
		fprintf(stderr,
			"lbd-bench-node: %d Services: lbd translated %llu of %ld connects\n",
			row->nsvc,
			(unsigned long long)(after[LBD_NODE_CONNECT_XLATED] -
					     before[LBD_NODE_CONNECT_XLATED]),
			nlat[SYS_LBD]);

	/* (b): lbd, then iptables (each change undoes the last: the
	 * variant flips Service 0's last endpoint) */
	for (k = 0; k < BENCH_CHANGES; k++)
		ch[k] = bench_lbd_change();
	row->upd_lbd = bench_median(ch, BENCH_CHANGES);
	nv = row->nsvc >= 10000 ? 3 : 5;
	for (k = 0; k < nv; k++) {
		b.var_ipt++;
		v[k] = bench_ipt_restore(row->nsvc, b.var_ipt, IPT_PARTIAL) *
		       1e3;
	}
	row->upd_partial = bench_median(v, nv);
	nv = row->nsvc >= 10000 ? 1 : 3;
	for (k = 0; k < nv; k++) {
		b.var_ipt++;
		v[k] = bench_ipt_restore(row->nsvc, b.var_ipt, IPT_FLUSH) * 1e3;
	}
	row->upd_flush = bench_median(v, nv);
	row->upd_full = -1;
	if (row->nsvc < 10000 || b.full_at_max) {
		for (k = 0; k < nv; k++) {
			b.var_ipt++;
			v[k] = bench_ipt_restore(row->nsvc, b.var_ipt,
						 IPT_FULL) *
			       1e3;
		}
		row->upd_full = bench_median(v, nv);
	}
	bench_check_stop();
}

/* The run count and time of the connect4 program attached to our
 * cgroup (counted while BPF stats are on); false if none is found. */
static bool bench_prog_stats(__u64 *cnt, __u64 *ns)
{
	struct bpf_prog_info info;
	__u32 ids[8], n = 8, len = sizeof(info);
	int cg = open(b.cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;
	bool ok = false;

	if (cg < 0)
		return false;
	if (!bpf_prog_query(cg, BPF_CGROUP_INET4_CONNECT, 0, NULL, ids, &n) &&
	    n >= 1) {
		fd = bpf_prog_get_fd_by_id(ids[0]);
		memset(&info, 0, sizeof(info));
		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
			*cnt = info.run_cnt;
			*ns = info.run_time_ns;
			ok = true;
		}
		if (fd >= 0)
			close(fd);
	}
	close(cg);
	return ok;
}

/*
 * (d): whether lbd's cost depends on the Services, apart from the order
 * of the rows (the machine's load drifts over a run of minutes): all
 * installed, rounds that each visit every count, in an order rotated
 * round by round, lbd and direct back to back in alternating order.
 */
static void bench_flat(struct bench_flat *f, int n)
{
	static const enum bench_sys sys[] = { SYS_DIRECT, SYS_LBD };
	/* BPF_STATS_RUN_TIME: on while the fd is open, for this part only */
	int stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	double over[16];
	int r, k, j, s, i;

	for (r = 0; r < b.flat_rounds; r++) {
		for (k = 0; k < n; k++) {
			struct bench_flat *c = &f[(r + k) % n];

			for (j = 0; j < 2; j++) {
				double srv;

				__u64 c0 = 0, t0 = 0, c1 = 0, t1 = 0;

				s = sys[(r + j) % 2];
				srv = bench_server_cpu(s);
				if (s == SYS_LBD)
					bench_prog_stats(&c0, &t0);
				bench_client(s, c->nsvc, b.flat_connects, false);
				if (s == SYS_LBD) {
					bench_prog_stats(&c1, &t1);
					c->prog_ns[r] =
						c1 > c0 ? (double)(t1 - t0) /
								  (c1 - c0) :
							  NAN;
				}
				srv = bench_server_cpu(s) - srv;
				c->cpu[s][r] = (b.sh->cpu + srv) * 1e6 / b.sh->n;
				c->rate[s][r] = b.sh->n / b.sh->secs;
				c->p50[s][r] =
					bench_pct(b.sh->lat_us, b.sh->n, 50);
			}
			bench_check_stop();
		}
	}
	for (i = 0; i < n; i++) {
		struct bench_flat *c = &f[i];

		for (j = 0; j < 2; j++) {
			double lo = INFINITY, hi = 0, clo = INFINITY, chi = 0;

			s = sys[j];
			for (r = 0; r < b.flat_rounds; r++) {
				lo = fmin(lo, c->rate[s][r]);
				hi = fmax(hi, c->rate[s][r]);
				clo = fmin(clo, c->cpu[s][r]);
				chi = fmax(chi, c->cpu[s][r]);
			}
			c->cpu_med[s] = bench_median(c->cpu[s], b.flat_rounds);
			c->cpu_spread[s] = (chi - clo) / c->cpu_med[s];
			c->rate_med[s] =
				bench_median(c->rate[s], b.flat_rounds);
			c->rate_spread[s] = (hi - lo) / c->rate_med[s];
			c->p50_med[s] = bench_median(c->p50[s], b.flat_rounds);
		}
		for (r = 0; r < b.flat_rounds; r++)
			over[r] = c->cpu[SYS_LBD][r] - c->cpu[SYS_DIRECT][r];
		{
			double lo = INFINITY, hi = 0;

			for (r = 0; r < b.flat_rounds; r++) {
				lo = fmin(lo, c->prog_ns[r]);
				hi = fmax(hi, c->prog_ns[r]);
			}
			c->prog_med = bench_median(c->prog_ns, b.flat_rounds);
			c->prog_spread = (hi - lo) / c->prog_med;
		}
		c->over_us = bench_median(over, b.flat_rounds);
	}
	if (stats >= 0)
		close(stats);
}

/* ---- report ---- */

static void bench_print_header(void)
{
	printf("lbd-bench-node: kube-proxy's iptables mode (iptables-nft) against lbd's\n"
	       "socket LB, %d endpoints a Service; connects: %d a client x %d rounds\n"
	       "(rate: median of the rounds; p50/p99 over all connects); stream: %.1f s\n"
	       "x %d rounds, median; lo at MTU 1500, TSO/GSO off. Ratios within one run\n"
	       "are what count: the machine is shared.\n\n",
	       BENCH_EPS, b.connects, b.rounds, b.stream_secs, b.stream_rounds);
}

static void bench_print_row_load(const struct bench_row *r)
{
	printf("%6d Services installed: iptables-restore %.2f s, lbd %.3f s\n",
	       r->nsvc, r->load_ipt, r->load_lbd);
	fflush(stdout);
}

static const char *bench_ms(double ms, char *buf)
{
	if (ms < 0)
		snprintf(buf, 16, "%s", "-");
	else if (ms < 10)
		snprintf(buf, 16, "%.3f", ms);
	else
		snprintf(buf, 16, "%.0f", ms);
	return buf;
}

static bool bench_within(double a, double ref, double tol)
{
	return fabs(a - ref) <= tol * ref;
}

static void bench_print(const struct bench_row *rows, int n)
{
	const struct bench_row *lo = &rows[0], *hi = &rows[n - 1];
	char a[16], c[16], d[16], e[16];
	bool ok;
	int i;

	printf("\n(a) connect to a ClusterIP (direct: to the endpoint)\n");
	printf("%8s | %28s | %8s %6s %6s | %21s | %21s | %s\n", "",
	       "connects/s", "lbd/", "dir/", "dir/", "p50 us", "p99 us",
	       "errors");
	printf("%8s | %8s %9s %9s | %8s %6s %6s | %6s %6s %7s | %6s %6s %7s | %s\n",
	       "Services", "direct", "iptables", "lbd", "iptables", "ipt",
	       "lbd", "direct", "ipt", "lbd", "direct", "ipt", "lbd", "d/i/l");
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];

		printf("%8d | %8.0f %9.0f %9.0f | %7.2fx %5.2fx %5.2fx | %6.1f %6.1f %7.1f | %6.1f %6.1f %7.1f | %ld/%ld/%ld\n",
		       r->nsvc, r->rate[SYS_DIRECT], r->rate[SYS_IPT],
		       r->rate[SYS_LBD], r->rate[SYS_LBD] / r->rate[SYS_IPT],
		       r->rate[SYS_DIRECT] / r->rate[SYS_IPT],
		       r->rate[SYS_DIRECT] / r->rate[SYS_LBD],
		       r->p50[SYS_DIRECT], r->p50[SYS_IPT], r->p50[SYS_LBD],
		       r->p99[SYS_DIRECT], r->p99[SYS_IPT], r->p99[SYS_LBD],
		       r->errors[SYS_DIRECT], r->errors[SYS_IPT],
		       r->errors[SYS_LBD]);
	}

	printf("\n(b) one endpoint change applied, ms (iptables: wall time of\n"
	       "    iptables-restore, the text made beforehand; median)\n");
	printf("%8s | %9s | %12s %12s %12s | %s\n", "Services", "lbd",
	       "ipt partial", "ipt full", "ipt flushed", "partial/lbd");
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];

		printf("%8d | %9s | %12s %12s %12s | %8.0fx\n", r->nsvc,
		       bench_ms(r->upd_lbd, a), bench_ms(r->upd_partial, c),
		       bench_ms(r->upd_full, d), bench_ms(r->upd_flush, e),
		       r->upd_partial / r->upd_lbd);
	}
	printf("    lbd: one node_backends_set (its Maglev table written over the\n"
	       "      spare one and swapped in).\n"
	       "    ipt partial: kube-proxy's partial sync (1.27+): iptables-restore\n"
	       "      --noflush of KUBE-SERVICES whole, the changed Service's chains, the\n"
	       "      deleted endpoint's chain.\n"
	       "    ipt full: kube-proxy's full sync: iptables-restore -w 5 -W 100000\n"
	       "      --noflush --counters of the whole ruleset (\"-\": not run; at 10,000\n"
	       "      it takes minutes with this iptables-nft, -F runs it).\n"
	       "    ipt flushed: the whole ruleset with the tables flushed (no --noflush):\n"
	       "      what a full sync costs at best.\n");

	if (b.stream_secs > 0) {
		printf("\n(c) bulk TCP stream (1500-byte packets): Gbit/s, and the CPU time\n"
		       "    (sender and receiver) a packet of 1448 bytes costs; medians\n");
		printf("%8s | %6s %6s %6s | %7s %7s | %5s | %21s | %7s %7s\n",
		       "", "Gbit/s", "", "", "", "", "noise", "CPU ns a packet",
		       "", "");
		printf("%8s | %6s %6s %6s | %7s %7s | %5s | %6s %6s %7s | %7s %7s\n",
		       "Services", "direct", "ipt", "lbd", "ipt/dir", "lbd/dir",
		       "dir", "direct", "ipt", "lbd", "ipt/dir", "lbd/dir");
		for (i = 0; i < n; i++) {
			const struct bench_row *r = &rows[i];

			printf("%8d | %6.2f %6.2f %6.2f | %6.1f%% %6.1f%% | %4.0f%% | %6.0f %6.0f %7.0f | %6.1f%% %6.1f%%\n",
			       r->nsvc, r->gbps[SYS_DIRECT], r->gbps[SYS_IPT],
			       r->gbps[SYS_LBD],
			       100 * r->gbps[SYS_IPT] / r->gbps[SYS_DIRECT],
			       100 * r->gbps[SYS_LBD] / r->gbps[SYS_DIRECT],
			       100 * r->direct_spread, r->cpu_pkt[SYS_DIRECT],
			       r->cpu_pkt[SYS_IPT], r->cpu_pkt[SYS_LBD],
			       100 * r->cpu_pkt[SYS_IPT] /
				       r->cpu_pkt[SYS_DIRECT],
			       100 * r->cpu_pkt[SYS_LBD] /
				       r->cpu_pkt[SYS_DIRECT]);
		}
		printf("    noise: the spread (max - min) / median of direct's rounds.\n");
	}

	printf("\nTargets (issue 17), on this machine in this run:\n");
	ok = bench_within(hi->rate[SYS_LBD], lo->rate[SYS_LBD], TARGET_FLAT) &&
	     bench_within(hi->p50[SYS_LBD], lo->p50[SYS_LBD], TARGET_FLAT);
	printf("  lbd connect rate and p50 flat within 10%%, %d -> %d Services: rate %+.1f%%, p50 %+.1f%% (p99 %+.1f%%): %s\n",
	       lo->nsvc, hi->nsvc,
	       100 * (hi->rate[SYS_LBD] / lo->rate[SYS_LBD] - 1),
	       100 * (hi->p50[SYS_LBD] / lo->p50[SYS_LBD] - 1),
	       100 * (hi->p99[SYS_LBD] / lo->p99[SYS_LBD] - 1),
	       ok ? "met" : "MISSED");
	/* the machine's load moves the direct figures too: lbd against
	 * direct in the same rounds, and lbd's own cost per connect */
	printf("    against direct in the same rounds: lbd/direct cost %.2f -> %.2f (%+.1f%%); lbd's cost over direct %.1f -> %.1f us a connect\n",
	       lo->rate[SYS_DIRECT] / lo->rate[SYS_LBD],
	       hi->rate[SYS_DIRECT] / hi->rate[SYS_LBD],
	       100 * (hi->rate[SYS_DIRECT] / hi->rate[SYS_LBD] /
			      (lo->rate[SYS_DIRECT] / lo->rate[SYS_LBD]) -
		      1),
	       1e6 / lo->rate[SYS_LBD] - 1e6 / lo->rate[SYS_DIRECT],
	       1e6 / hi->rate[SYS_LBD] - 1e6 / hi->rate[SYS_DIRECT]);
	ok = hi->vs_ipt >= TARGET_VS_IPT;
	printf("  lbd connect rate >= %.0fx iptables' at %d Services: %.2fx (median of the rounds' ratios; %.2fx - %.2fx): %s\n",
	       TARGET_VS_IPT, hi->nsvc, hi->vs_ipt, hi->vs_ipt_lo,
	       hi->vs_ipt_hi, ok ? "met" : "MISSED");
	printf("    CPU a connect (client and server, median of the rounds): direct %.1f, iptables %.1f, lbd %.1f us at %d; iptables/lbd %.2fx (%.2fx at %d)\n",
	       hi->cpu_conn[SYS_DIRECT], hi->cpu_conn[SYS_IPT],
	       hi->cpu_conn[SYS_LBD], hi->nsvc,
	       hi->cpu_conn[SYS_IPT] / hi->cpu_conn[SYS_LBD],
	       lo->cpu_conn[SYS_IPT] / lo->cpu_conn[SYS_LBD], lo->nsvc);
	ok = hi->upd_lbd < TARGET_CHANGE_MS;
	printf("  one endpoint change < %.0f ms at %d Services: %s ms: %s\n",
	       TARGET_CHANGE_MS, hi->nsvc, bench_ms(hi->upd_lbd, a),
	       ok ? "met" : "MISSED");
	if (b.stream_secs > 0) {
		double worst = 1, worst_cpu = 1;

		for (i = 0; i < n; i++) {
			worst = fmin(worst, rows[i].gbps[SYS_LBD] /
						    rows[i].gbps[SYS_DIRECT]);
			worst_cpu = fmax(worst_cpu,
					 rows[i].cpu_pkt[SYS_LBD] /
						 rows[i].cpu_pkt[SYS_DIRECT]);
		}
		ok = worst >= 1 - TARGET_STREAM;
		printf("  stream through lbd within 3%% of direct: throughput, worst %.1f%% of direct: %s\n",
		       100 * worst, ok ? "met" : "MISSED");
		ok = worst_cpu <= 1 + TARGET_STREAM;
		printf("    CPU a packet, worst %.1f%% of direct's: %s\n",
		       100 * worst_cpu, ok ? "met" : "MISSED");
	}
}

static void bench_print_flat(const struct bench_flat *f, int n)
{
	const struct bench_flat *lo = &f[0], *hi = &f[n - 1];
	bool ok;
	int i;

	printf("\n(d) lbd with all %d Services installed, connects to the first N,\n"
	       "    the counts interleaved: %d rounds of %d connects a count and\n"
	       "    system; medians over the rounds, spread (max - min) / median;\n"
	       "    CPU: the client's and the server's, us a connect\n",
	       hi->nsvc, b.flat_rounds, b.flat_connects);
	printf("%8s | %15s %15s | %15s %15s | %7s %7s | %8s | %s\n", "N",
	       "direct conn/s", "lbd conn/s", "direct CPU us", "lbd CPU us",
	       "p50 dir", "p50 lbd", "lbd-dir", "connect4 ns a run");
	for (i = 0; i < n; i++) {
		const struct bench_flat *c = &f[i];

		printf("%8d | %8.0f (%3.0f%%) %8.0f (%3.0f%%) | %8.2f (%3.0f%%) %8.2f (%3.0f%%) | %7.1f %7.1f | %8.2f | %6.0f (%3.0f%%)\n",
		       c->nsvc, c->rate_med[SYS_DIRECT],
		       100 * c->rate_spread[SYS_DIRECT], c->rate_med[SYS_LBD],
		       100 * c->rate_spread[SYS_LBD], c->cpu_med[SYS_DIRECT],
		       100 * c->cpu_spread[SYS_DIRECT], c->cpu_med[SYS_LBD],
		       100 * c->cpu_spread[SYS_LBD], c->p50_med[SYS_DIRECT],
		       c->p50_med[SYS_LBD], c->over_us, c->prog_med,
		       100 * c->prog_spread);
	}
	ok = bench_within(hi->cpu_med[SYS_LBD], lo->cpu_med[SYS_LBD],
			  TARGET_FLAT) &&
	     bench_within(hi->p50_med[SYS_LBD], lo->p50_med[SYS_LBD],
			  TARGET_FLAT);
	printf("  lbd CPU a connect and p50 flat within 10%%, %d -> %d Services used (interleaved): CPU %+.1f%%, p50 %+.1f%% (rate %+.1f%%): %s\n",
	       lo->nsvc, hi->nsvc,
	       100 * (hi->cpu_med[SYS_LBD] / lo->cpu_med[SYS_LBD] - 1),
	       100 * (hi->p50_med[SYS_LBD] / lo->p50_med[SYS_LBD] - 1),
	       100 * (hi->rate_med[SYS_LBD] / lo->rate_med[SYS_LBD] - 1),
	       ok ? "met" : "MISSED");
	printf("    direct in the same rounds: CPU %+.1f%%, p50 %+.1f%% (rate %+.1f%%)\n",
	       100 * (hi->cpu_med[SYS_DIRECT] / lo->cpu_med[SYS_DIRECT] - 1),
	       100 * (hi->p50_med[SYS_DIRECT] / lo->p50_med[SYS_DIRECT] - 1),
	       100 * (hi->rate_med[SYS_DIRECT] / lo->rate_med[SYS_DIRECT] - 1));
}

/* The plot: cost of a connection (1 / rate) and the update time,
 * against the number of Services, both on log axes. */
static void bench_plot(const struct bench_row *rows, int n, const char *png)
{
	char dat[128], gp[128];
	FILE *f;
	int i, st;

	snprintf(b.tmpdir, sizeof(b.tmpdir), "/tmp/lbd-bench-node.XXXXXX");
	if (!mkdtemp(b.tmpdir)) {
		b.tmpdir[0] = 0;
		bench_die("mkdtemp: %s", strerror(errno));
	}
	snprintf(dat, sizeof(dat), "%s/node.dat", b.tmpdir);
	snprintf(gp, sizeof(gp), "%s/node.gp", b.tmpdir);
	f = fopen(dat, "w");
	if (!f)
		bench_die("%s: %s", dat, strerror(errno));
	fprintf(f,
		"# services direct_us iptables_us lbd_us lbd_ms partial_ms full_ms flushed_ms\n");
	for (i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];

		fprintf(f, "%d %.3f %.3f %.3f %.4f %.3f ", r->nsvc,
			1e6 / r->rate[SYS_DIRECT], 1e6 / r->rate[SYS_IPT],
			1e6 / r->rate[SYS_LBD], r->upd_lbd, r->upd_partial);
		if (r->upd_full < 0)
			fprintf(f, "NaN ");
		else
			fprintf(f, "%.3f ", r->upd_full);
		fprintf(f, "%.3f\n", r->upd_flush);
	}
	fclose(f);
	f = fopen(gp, "w");
	if (!f)
		bench_die("%s: %s", gp, strerror(errno));
	fprintf(f,
		"set terminal pngcairo size 1100,440 font 'sans,10'\n"
		"set output '%s'\n"
		"set multiplot layout 1,2 title 'lbd socket LB vs kube-proxy iptables mode (iptables-nft), 10 endpoints a Service'\n"
		"set logscale xy\nset grid\nset key top left opaque\n"
		"set xlabel 'Services'\nset xrange [5:20000]\n"
		"set title 'Cost of a connection (connect + close), 1 / rate'\n"
		"set ylabel 'microseconds'\n"
		"plot '%s' u 1:3 w lp lw 2 pt 7 t 'iptables', "
		"'' u 1:4 w lp lw 2 pt 5 t 'lbd', "
		"'' u 1:2 w lp lw 1 dt 2 pt 1 t 'direct (no Service)'\n"
		"set title 'One endpoint change applied'\n"
		"set ylabel 'milliseconds'\n"
		"plot '%s' u 1:7 w lp lw 2 pt 7 t 'iptables full sync (--noflush)', "
		"'' u 1:8 w lp lw 1 pt 6 t 'iptables whole ruleset, tables flushed', "
		"'' u 1:6 w lp lw 2 pt 9 t 'iptables partial sync', "
		"'' u 1:5 w lp lw 2 pt 5 t 'lbd node\\_backends\\_set'\n"
		"unset multiplot\n",
		png, dat, dat);
	fclose(f);
	b.child = fork();
	if (b.child < 0)
		bench_die("fork: %s", strerror(errno));
	if (b.child == 0) {
		execlp("gnuplot", "gnuplot", gp, (char *)NULL);
		perror("gnuplot");
		_exit(127);
	}
	st = bench_wait_child();
	if (st != 0)
		bench_die("gnuplot failed (status %d)", st);
	printf("\nplot: %s\n", png);
}

static void bench_usage(void)
{
	fprintf(stderr,
		"usage: lbd-bench-node [-c connects] [-r rounds] [-s stream-seconds]\n"
		"                      [-R stream-rounds] [-m max-services]\n"
		"                      [-f flat-rounds] [-C flat-connects] [-F]\n"
		"                      [-o plot.png]\n"
		"  -c  connects a client makes, per system and round (2000)\n"
		"  -r  rounds (3)\n"
		"  -s  seconds of each stream, 0: no stream (1)\n"
		"  -R  stream rounds (5)\n"
		"  -m  the largest Service count (10000)\n"
		"  -f  rounds of (d), lbd's connects by Services used, interleaved;\n"
		"      0: not run (7)\n"
		"  -C  connects a client makes in each round of (d) (8000)\n"
		"  -F  kube-proxy's --noflush full sync at 10,000 Services too\n"
		"      (minutes with iptables-nft 1.8.9)\n"
		"  -o  where the plot goes (lbd-bench-node.png)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_row rows[BENCH_NCOUNTS];
	const char *png = "lbd-bench-node.png";
	struct sigaction sa = { .sa_handler = bench_on_signal };
	struct node_opts o;
	int opt, i, n = 0, err, prev = 0;
	double t_start = bench_now();

	b.connects = 2000;
	b.rounds = 3;
	b.stream_secs = 1;
	b.stream_rounds = 5;
	b.max_svcs = BENCH_MAX_SVCS;
	b.flat_rounds = 7;
	b.flat_connects = 8000;
	while ((opt = getopt(argc, argv, "c:r:s:R:m:f:C:Fo:h")) != -1) {
		switch (opt) {
		case 'c':
			b.connects = atoi(optarg);
			break;
		case 'r':
			b.rounds = atoi(optarg);
			break;
		case 's':
			b.stream_secs = atof(optarg);
			break;
		case 'R':
			b.stream_rounds = atoi(optarg);
			break;
		case 'm':
			b.max_svcs = atoi(optarg);
			break;
		case 'f':
			b.flat_rounds = atoi(optarg);
			break;
		case 'C':
			b.flat_connects = atoi(optarg);
			break;
		case 'F':
			b.full_at_max = true;
			break;
		case 'o':
			png = optarg;
			break;
		default:
			bench_usage();
		}
	}
	if (b.connects < 1 || b.connects * b.rounds > 40000 || b.rounds < 1 ||
	    b.rounds > 16 || b.stream_rounds < 1 || b.stream_rounds > 32 ||
	    b.max_svcs < 10 || b.max_svcs > BENCH_MAX_SVCS ||
	    b.flat_rounds < 0 || b.flat_rounds > 16 ||
	    b.flat_connects < 1 || b.flat_connects > 40000)
		bench_usage();

	/* no SA_RESTART: a wait returns, and the loop sees the flag */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	b.sh = mmap(NULL, sizeof(*b.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b.sh == MAP_FAILED)
		bench_die("mmap: %s", strerror(errno));
	b.orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (b.orig_ns < 0)
		bench_die("/proc/self/ns/net: %s", strerror(errno));
	err = bench_cgroup2_root();
	if (err)
		bench_die("no cgroup2: %s", strerror(-err));
	bench_cgroup_sweep();

	b.ns[SYS_IPT] = bench_ns_make();
	b.ns[SYS_LBD] = bench_ns_make();
	b.ns[SYS_DIRECT] = b.ns[SYS_LBD];
	b.servers[SYS_IPT] = bench_server_start(SYS_IPT);
	b.servers[SYS_LBD] = bench_server_start(SYS_LBD);

	/* pid first: the sweep finds the cgroups of dead runs */
	snprintf(b.cgroup, sizeof(b.cgroup), "%s/" BENCH_CGROUP_PREFIX "%d",
		 b.cgroup_root, getpid());
	if (mkdir(b.cgroup, 0755)) {
		b.cgroup[0] = 0;
		bench_die("mkdir cgroup: %s", strerror(errno));
	}
	node_opts_default(&o);
	o.hash_seed = 0x5eed;
	err = node_open(&o, &b.node);
	if (err)
		bench_die("node_open: %s", strerror(-err));
	err = node_attach(b.node, b.cgroup);
	if (err)
		bench_die("node_attach: %s", strerror(-err));

	bench_print_header();
	for (i = 0; i < BENCH_NCOUNTS && bench_counts[i] <= b.max_svcs; i++) {
		rows[n].nsvc = bench_counts[i];
		bench_install(&rows[n], prev, bench_counts[i]);
		bench_print_row_load(&rows[n]);
		bench_measure(&rows[n]);
		prev = bench_counts[i];
		n++;
	}
	if (b.flat_rounds > 0) {
		struct bench_flat flat[BENCH_NCOUNTS];

		memset(flat, 0, sizeof(flat));
		for (i = 0; i < n; i++)
			flat[i].nsvc = rows[i].nsvc;
		bench_flat(flat, n);
		bench_print(rows, n);
		bench_print_flat(flat, n);
	} else {
		bench_print(rows, n);
	}
	bench_plot(rows, n, png);
	printf("whole run: %.0f s\n", bench_now() - t_start);
	bench_cleanup();
	return 0;
}
