// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* Where cgroup2 is mounted when nothing mounted it (lbd mounts it so
 * too, as it does bpffs). */
#define NT_CGROUP2_MNT "/run/lbd-node-test/cgroup2"
#define NT_CGROUP_PREFIX "lbd-node-test."
/* A child that has not finished by then is stuck: killed, test failed. */
#define NT_CHILD_SECONDS 60

struct nt nt;

/* The child's message to the test, in memory both share. */
static char *nt_msg;
static char nt_root[1024];

static const char *const env_cmds[] = {
	"ip link set lo up",
	"ip addr add " NT_EP4_1 "/32 dev lo",
	"ip addr add " NT_EP4_2 "/32 dev lo",
	"ip addr add " NT_EP4_3 "/32 dev lo",
	"ip addr add " NT_NODE4 "/32 dev lo",
	"ip -6 addr add " NT_EP6_1 "/128 dev lo nodad",
	"ip -6 addr add " NT_EP6_2 "/128 dev lo nodad",
	"ip -6 addr add " NT_EP6_3 "/128 dev lo nodad",
	NULL,
};

/* The cgroup v2 root: the mount /proc/self/mounts lists, else one of
 * ours. */
static int nt_cgroup2_root(void)
{
	char dev[256], dir[1024], type[64];
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %1023s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(nt_root, sizeof(nt_root), "%s", dir);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	if (mkdir("/run/lbd-node-test", 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(NT_CGROUP2_MNT, 0700) && errno != EEXIST)
		return -errno;
	if (mount("cgroup2", NT_CGROUP2_MNT, "cgroup2", 0, NULL))
		return -errno;
	snprintf(nt_root, sizeof(nt_root), "%s", NT_CGROUP2_MNT);
	return 0;
}

/* Waits (bounded) until the cgroup has no process left, killing what is
 * in it, then removes it. */
static int nt_cgroup_remove(const char *path)
{
	char procs[4200], line[32];
	int i;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	for (i = 0; i < 500; i++) {
		FILE *f = fopen(procs, "r");
		bool empty = true;

		if (!f)
			return errno == ENOENT ? 0 : -errno;
		while (fgets(line, sizeof(line), f)) {
			empty = false;
			kill(atoi(line), SIGKILL);
		}
		fclose(f);
		if (empty && !rmdir(path))
			return 0;
		if (empty && errno != EBUSY)
			return -errno;
		/* a killed process leaves when it is reaped: poll, 5 s */
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	return -ETIMEDOUT;
}

/* Cgroups of earlier runs whose process is gone (a crash skips the
 * fixture's teardown). */
static void nt_cgroup_sweep(void)
{
	DIR *d = opendir(nt_root);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[8192];
		int pid;

		if (strncmp(e->d_name, NT_CGROUP_PREFIX,
			    strlen(NT_CGROUP_PREFIX)))
			continue;
		pid = atoi(e->d_name + strlen(NT_CGROUP_PREFIX));
		if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", nt_root, e->d_name);
		nt_cgroup_remove(path);
	}
	closedir(d);
}

int nt_env_init(void)
{
	int i, err;

	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	for (i = 0; env_cmds[i]; i++) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null", env_cmds[i]);
		if (system(cmd) != 0) {
			fprintf(stderr, "node tests: failed: %s\n",
				env_cmds[i]);
			return -1;
		}
	}
	err = nt_cgroup2_root();
	if (err) {
		fprintf(stderr, "node tests: no cgroup2: %s\n", strerror(-err));
		return -1;
	}
	nt_cgroup_sweep();
	return 0;
}

void nt_setup(void)
{
	static unsigned int seq;
	struct node_opts o;
	int err;

	memset(&nt, 0, sizeof(nt));
	/* a test runs in a process Criterion started afresh, which
	 * inherited the namespace but not main()'s memory */
	if (!nt_root[0])
		cr_assert(nt_cgroup2_root() == 0, "no cgroup2");
	if (!nt_msg) {
		nt_msg = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		cr_assert(nt_msg != MAP_FAILED, "mmap: %s", strerror(errno));
	}
	nt_msg[0] = 0;
	/* pid first: the sweep finds cgroups of dead test processes */
	snprintf(nt.cgroup, sizeof(nt.cgroup), "%s/" NT_CGROUP_PREFIX "%d.%u",
		 nt_root, getpid(), seq++);
	cr_assert(mkdir(nt.cgroup, 0755) == 0, "mkdir %s: %s", nt.cgroup,
		  strerror(errno));
	node_opts_default(&o);
	o.max_services = 64;
	o.max_addrs = 64;
	o.max_backends = 256;
	o.rev_entries = 1024;
	o.affinity_entries = 1024;
	o.hash_seed = 0x5eed1234;
	err = node_open(&o, &nt.node);
	cr_assert(err == 0, "node_open: %s", strerror(-err));
	err = node_attach(nt.node, nt.cgroup);
	cr_assert(err == 0, "node_attach: %s", strerror(-err));
}

void nt_teardown(void)
{
	node_close(nt.node);
	nt.node = NULL;
	if (nt.cgroup[0])
		cr_expect(nt_cgroup_remove(nt.cgroup) == 0,
			  "cgroup %s left behind", nt.cgroup);
}

void nt_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(nt_msg, 4096, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(nt_msg + n, 4096 - n, fmt, ap);
	va_end(ap);
	_exit(1);
}

void nt_run(void (*fn)(void))
{
	char procs[4200];
	int status, fd;
	pid_t pid;

	nt_msg[0] = 0;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", nt.cgroup);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(NT_CHILD_SECONDS);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		NT_CHECK(fd >= 0 && write(fd, "0", 1) == 1,
			 "joining the cgroup: %s", strerror(errno));
		close(fd);
		fn();
		_exit(0);
	}
	cr_assert(waitpid(pid, &status, 0) == pid, "waitpid: %s",
		  strerror(errno));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "client (status 0x%x): %s", status,
		  nt_msg[0] ? nt_msg : "killed");
}

socklen_t nt_sa(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
		abort();
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	return sizeof(*s6);
}

bool nt_sa_eq(const struct sockaddr_storage *a,
	      const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, 16);
}

const char *nt_sa_str(const struct sockaddr_storage *ss)
{
	static char buf[4][80];
	static int next;
	char ip[INET6_ADDRSTRLEN] = "?", *out = buf[next++ % 4];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, 80, "%s:%u", ip, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, 80, "[%s]:%u", ip, ntohs(s6->sin6_port));
	}
	return out;
}

struct node_svc_addr nt_svc(const char *ip, int port, int proto)
{
	struct node_svc_addr a = { .proto = proto, .port = htons(port) };

	if (inet_pton(AF_INET, ip, &a.addr.v4) == 1)
		a.family = LBD_AF_INET;
	else if (inet_pton(AF_INET6, ip, &a.addr) == 1)
		a.family = LBD_AF_INET6;
	else
		abort();
	return a;
}

struct node_endpoint nt_ep(const char *ip, int port, int weight, bool ready,
			   bool serving, bool terminating)
{
	struct node_endpoint e = {
		.port = htons(port),
		.weight = weight,
		.ready = ready,
		.serving = serving,
		.terminating = terminating,
	};

	if (inet_pton(AF_INET, ip, &e.addr.v4) == 1)
		e.family = LBD_AF_INET;
	else if (inet_pton(AF_INET6, ip, &e.addr) == 1)
		e.family = LBD_AF_INET6;
	else
		abort();
	return e;
}

int nt_server(const char *ip, int port, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = nt_sa(&ss, ip, port);
	int one = 1, fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);

	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind %s: %s",
		  nt_sa_str(&ss), strerror(errno));
	if (type == SOCK_STREAM)
		cr_assert(listen(fd, 1024) == 0, "listen: %s", strerror(errno));
	return fd;
}

bool nt_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

__u64 nt_cookie(int fd)
{
	socklen_t len = sizeof(__u64);
	__u64 c = 0;

	NT_CHECK(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len) == 0,
		 "SO_COOKIE: %s", strerror(errno));
	return c;
}

__u64 nt_netns_cookie(int fd)
{
	socklen_t len = sizeof(__u64);
	__u64 c = 0;

	NT_CHECK(getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &c, &len) == 0,
		 "SO_NETNS_COOKIE: %s", strerror(errno));
	return c;
}

void nt_counters(__u64 out[LBD_NODE_REASON_MAX])
{
	int err = node_reasons_read(nt.node, out);

	NT_CHECK(err == 0, "node_reasons_read: %s", strerror(-err));
}
