// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd's children (proc.h): started by fork and exec of lbd itself, and
 * supervised on the parent's sd-event loop.
 *
 * Where the privileges go: in the child, first thing after the exec
 * (proc_child_main), not between fork and exec. Between fork and exec
 * the child is a copy of a process that may have threads (libcurl's
 * resolver, libmicrohttpd's): only async-signal-safe calls are allowed
 * there, and getpwnam()/getgrouplist() (NSS) are not. After the exec the
 * image is lbd's own, fresh, and nothing has been read yet: not a byte
 * of the channel, not a setting beyond argv. Keeping capabilities across
 * the exec would need them ambient, which the child could then pass to
 * anything it executes; dropped after the exec, with no_new_privs, they
 * are gone for good.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

/* Respawn backoff: a child that dies at once is started again after
 * PROC_BACKOFF_MIN_USEC, doubling up to PROC_BACKOFF_MAX_USEC; one that
 * stayed up PROC_STABLE_USEC starts from the minimum again. */
#define PROC_BACKOFF_MIN_USEC (100 * 1000ULL)
#define PROC_BACKOFF_MAX_USEC (10 * 1000 * 1000ULL)
#define PROC_STABLE_USEC (10 * 1000 * 1000ULL)
/* proc_stop: SIGTERM, and SIGKILL when the child is not gone by then. */
#define PROC_STOP_MS 1000
/* What a child may leave unread before it is cut off (and killed). */
#define PROC_MAX_OUT (64u << 20)
/* Fixed arguments of a child's command line (proc_child_main):
 * lbd --child NAME --user USER --caps HEX --verbose N, then the spec's. */
#define PROC_FIXED_ARGS 9

static const char *const kind_names[PROC_KIND_MAX] = {
	[PROC_IO] = "io",
	[PROC_PROBER] = "prober",
	[PROC_K8S] = "k8s",
};

struct proc {
	sd_event *ev;
	enum proc_kind kind;
	char *user;
	__u64 caps;
	int *fds; /* our copies of the spec's fds */
	unsigned int n_fds;
	char **extra; /* the spec's argv, copied */
	proc_msg_fn on_msg;
	proc_up_fn on_up;
	void *arg;

	pid_t pid; /* 0 while down */
	int pidfd;
	sd_event_source *child_src, *respawn;
	struct msgch *ch;
	uint64_t started; /* CLOCK_MONOTONIC usec of the last start */
	uint64_t backoff;
	unsigned long restarts;
	const char *killed_for; /* why lbd killed it, for the exit's log */
};

const char *proc_kind_name(enum proc_kind kind)
{
	return kind < PROC_KIND_MAX ? kind_names[kind] : "?";
}

int proc_user_check(const char *user)
{
	return getpwnam(user) ? 0 : -ENOENT;
}

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* -- the parent ---------------------------------------------------------- */

static void proc_schedule(struct proc *p);

static void proc_msg(struct msgch *c, const struct lbd_msg_hdr *h,
		     const void *payload, void *arg)
{
	struct proc *p = arg;

	(void)c;
	p->on_msg(p, h, payload, p->arg);
}

/* The channel closed: the child is of no use without it, whatever it
 * does. A message that does not check, or a backlog it does not read, is
 * a child that misbehaves: it is killed, and its exit respawns it. */
static void proc_closed(struct msgch *c, int err, void *arg)
{
	struct proc *p = arg;

	(void)c;
	p->ch = NULL;
	if (!p->pid)
		return;
	p->killed_for = err == -EBADMSG ? "sent a malformed message" :
			err == -ENOBUFS ? "did not read its channel" :
					  NULL;
	if (p->killed_for)
		log_warnx("the %s process (pid %d) %s: killing it",
			  kind_names[p->kind], (int)p->pid, p->killed_for);
	if (pidfd_signal(p->pidfd, SIGKILL) < 0 && errno != ESRCH)
		log_warn("killing the %s process (pid %d)", kind_names[p->kind],
			 (int)p->pid);
}

static void proc_down(struct proc *p)
{
	msgch_free(p->ch);
	p->ch = NULL;
	p->child_src = sd_event_source_disable_unref(p->child_src);
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->pid = 0;
}

static int proc_exited(sd_event_source *s, const siginfo_t *si, void *arg)
{
	struct proc *p = arg;
	uint64_t now;
	char how[64];

	(void)s;
	if (si->si_code == CLD_EXITED)
		snprintf(how, sizeof(how), "exited with status %d",
			 si->si_status);
	else
		snprintf(how, sizeof(how), "was killed by signal %d (%s)",
			 si->si_status, strsignal(si->si_status));
	sd_event_now(p->ev, CLOCK_MONOTONIC, &now);
	if (now - p->started >= PROC_STABLE_USEC)
		p->backoff = PROC_BACKOFF_MIN_USEC;
	log_warnx("the %s process (pid %d) %s%s%s; starting another in "
		  "%" PRIu64 " ms",
		  kind_names[p->kind], (int)si->si_pid, how,
		  p->killed_for ? " after it " : "",
		  p->killed_for ? p->killed_for : "", p->backoff / 1000);
	proc_down(p);
	proc_schedule(p);
	return 0;
}

/* The child's command line, built before the fork (after it, only
 * async-signal-safe calls). */
static char **proc_argv(const struct proc *p, char *caps, size_t clen,
			char *verb, size_t vlen)
{
	size_t i, n = 0;
	char **argv;

	while (p->extra && p->extra[n])
		n++;
	argv = calloc(PROC_FIXED_ARGS + n + 1, sizeof(*argv));
	if (!argv)
		return NULL;
	snprintf(caps, clen, "%#" PRIx64, (uint64_t)p->caps);
	snprintf(verb, vlen, "%d", log_verbosity());
	argv[0] = (char *)"lbd";
	argv[1] = (char *)"--child";
	argv[2] = (char *)kind_names[p->kind];
	argv[3] = (char *)"--user";
	argv[4] = p->user;
	argv[5] = (char *)"--caps";
	argv[6] = caps;
	argv[7] = (char *)"--verbose";
	argv[8] = verb;
	for (i = 0; i < n; i++)
		argv[PROC_FIXED_ARGS + i] = p->extra[i];
	return argv;
}

/* In the child, between fork and exec: the channel on 3, the spec's fds
 * on 4..., nothing else open but stdio, signals as a new process has
 * them; then lbd again. */
static _Noreturn void proc_exec(int chfd, const int *fds, unsigned int n,
				char **argv)
{
	static const char msg[] = "lbd: exec of /proc/self/exe failed\n";
	int high = PROC_CHANNEL_FD + 1 + (int)n, moved[1 + 64], i;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	/* first above every target, so that no target overwrites a source */
	moved[0] = fcntl(chfd, F_DUPFD, high);
	for (i = 0; i < (int)n; i++)
		moved[1 + i] = fcntl(fds[i], F_DUPFD, high);
	for (i = 0; i <= (int)n; i++)
		if (moved[i] < 0 ||
		    dup2(moved[i], PROC_CHANNEL_FD + i) != PROC_CHANNEL_FD + i)
			_exit(126);
	syscall(SYS_close_range, (unsigned int)high, ~0U, 0);
	execv("/proc/self/exe", argv);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

static int proc_spawn(struct proc *p)
{
	char caps[32], verb[16], **argv;
	int sp[2], err;
	pid_t pid;

	if (p->n_fds > 64)
		return -E2BIG;
	argv = proc_argv(p, caps, sizeof(caps), verb, sizeof(verb));
	if (!argv)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		err = -errno;
		free(argv);
		return err;
	}
	pid = fork();
	if (pid == 0)
		proc_exec(sp[1], p->fds, p->n_fds, argv);
	err = pid < 0 ? -errno : 0;
	close(sp[1]);
	free(argv);
	if (err) {
		close(sp[0]);
		return err;
	}
	p->pid = pid;
	p->killed_for = NULL;
	sd_event_now(p->ev, CLOCK_MONOTONIC, &p->started);
	p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p->pidfd < 0) {
		err = -errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		p->pid = 0;
		close(sp[0]);
		return err;
	}
	err = sd_event_add_child_pidfd(p->ev, &p->child_src, p->pidfd, WEXITED,
				       proc_exited, p);
	if (err < 0) {
		pidfd_signal(p->pidfd, SIGKILL);
		waitpid(pid, NULL, 0);
		close(sp[0]);
		proc_down(p);
		return err;
	}
	err = msgch_open(p->ev, sp[0], proc_msg, proc_closed, p, &p->ch);
	if (err < 0) {
		close(sp[0]);
		/* its exit respawns it */
		pidfd_signal(p->pidfd, SIGKILL);
		return err;
	}
	msgch_set_limit(p->ch, PROC_MAX_OUT);
	log_debug("the %s process is pid %d", kind_names[p->kind], (int)pid);
	if (p->on_up)
		p->on_up(p, pid, p->arg);
	return 0;
}

static int proc_respawn(sd_event_source *s, uint64_t usec, void *arg)
{
	struct proc *p = arg;
	int err;

	(void)s;
	(void)usec;
	p->restarts++;
	err = proc_spawn(p);
	if (err) {
		log_warnx("starting the %s process: %s", kind_names[p->kind],
			  strerror(-err));
		proc_schedule(p);
	}
	return 0;
}

static void proc_schedule(struct proc *p)
{
	uint64_t now;

	sd_event_now(p->ev, CLOCK_MONOTONIC, &now);
	p->respawn = sd_event_source_disable_unref(p->respawn);
	if (sd_event_add_time(p->ev, &p->respawn, CLOCK_MONOTONIC,
			      now + p->backoff, 0, proc_respawn, p) < 0)
		log_warnx("the %s process will not be started again",
			  kind_names[p->kind]);
	p->backoff = p->backoff * 2 > PROC_BACKOFF_MAX_USEC ?
			     PROC_BACKOFF_MAX_USEC :
			     p->backoff * 2;
}

static void proc_free(struct proc *p)
{
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < p->n_fds; i++)
		close(p->fds[i]);
	free(p->fds);
	for (i = 0; p->extra && p->extra[i]; i++)
		free(p->extra[i]);
	free(p->extra);
	free(p->user);
	free(p);
}

int proc_start(sd_event *ev, const struct proc_spec *spec, proc_msg_fn on_msg,
	       proc_up_fn on_up, void *arg, struct proc **out)
{
	struct proc *p;
	unsigned int i, n = 0;
	int err = -ENOMEM;

	if (spec->kind >= PROC_KIND_MAX || !spec->user || !on_msg)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ev = ev;
	p->kind = spec->kind;
	p->caps = spec->caps;
	p->on_msg = on_msg;
	p->on_up = on_up;
	p->arg = arg;
	p->pidfd = -1;
	p->backoff = PROC_BACKOFF_MIN_USEC;
	p->user = strdup(spec->user);
	p->fds = calloc(spec->n_fds ? spec->n_fds : 1, sizeof(*p->fds));
	while (spec->argv && spec->argv[n])
		n++;
	p->extra = calloc(n + 1, sizeof(*p->extra));
	if (!p->user || !p->fds || !p->extra)
		goto out;
	for (i = 0; i < n; i++)
		if (!(p->extra[i] = strdup(spec->argv[i])))
			goto out;
	/* our own copies: a respawn hands the same ones again */
	for (; p->n_fds < spec->n_fds; p->n_fds++) {
		p->fds[p->n_fds] =
			fcntl(spec->fds[p->n_fds], F_DUPFD_CLOEXEC, 3);
		if (p->fds[p->n_fds] < 0) {
			err = -errno;
			goto out;
		}
	}
	err = proc_spawn(p);
	if (err)
		goto out;
	*out = p;
	return 0;
out:
	proc_free(p);
	return err;
}

int proc_send(struct proc *p, __u16 type, __u16 flags, const void *payload,
	      size_t len)
{
	return p->ch ? msgch_send(p->ch, type, flags, payload, len) : -ENOTCONN;
}

int proc_send2(struct proc *p, __u16 type, __u16 flags, const void *head,
	       size_t hlen, const void *recs, size_t rlen)
{
	return p->ch ? msgch_send2(p->ch, type, flags, head, hlen, recs, rlen) :
		       -ENOTCONN;
}

pid_t proc_pid(const struct proc *p)
{
	return p ? p->pid : 0;
}

size_t proc_pending(const struct proc *p)
{
	return p && p->ch ? msgch_pending(p->ch) : 0;
}

unsigned long proc_restarts(const struct proc *p)
{
	return p ? p->restarts : 0;
}

void proc_stop(struct proc *p)
{
	struct pollfd pfd;

	if (!p)
		return;
	p->respawn = sd_event_source_disable_unref(p->respawn);
	msgch_free(p->ch);
	p->ch = NULL;
	if (p->pid) {
		/* a child without its channel ends by itself; the signal is
		 * for one that is busy, the SIGKILL for one that hangs */
		p->child_src = sd_event_source_disable_unref(p->child_src);
		pidfd_signal(p->pidfd, SIGTERM);
		pfd = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
		if (poll(&pfd, 1, PROC_STOP_MS) <= 0)
			pidfd_signal(p->pidfd, SIGKILL);
		waitpid(p->pid, NULL, 0);
		proc_down(p);
	}
	proc_free(p);
}

/* -- the child ----------------------------------------------------------- */

static int proc_set_caps(__u64 keep)
{
	cap_value_t v[64];
	int n = 0, err = 0;
	cap_t caps;

	for (cap_value_t c = 0; c < 64; c++)
		if (keep & (1ULL << c))
			v[n++] = c;
	caps = cap_init();
	if (!caps)
		return -ENOMEM;
	if ((n && (cap_set_flag(caps, CAP_PERMITTED, n, v, CAP_SET) < 0 ||
		   cap_set_flag(caps, CAP_EFFECTIVE, n, v, CAP_SET) < 0)) ||
	    cap_set_proc(caps) < 0)
		err = -errno;
	cap_free(caps);
	return err;
}

/*
 * Becomes user (its groups only) keeping the capabilities in keep, none
 * else, for good: no_new_privs, and root is checked to be gone. Where
 * CAP_SETPCAP is not ours (a systemd unit's bounding set), the bounding
 * set stays: with no_new_privs no exec can gain from it.
 */
static int proc_drop(const char *user, __u64 keep)
{
	struct passwd *pw = getpwnam(user);
	gid_t groups[256];
	int ng = 256, err;

	if (!pw)
		return -ENOENT;
	if (getgrouplist(user, pw->pw_gid, groups, &ng) < 0)
		return -E2BIG;
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
		if (!(keep & (1ULL << c)) && cap_drop_bound(c) < 0 &&
		    errno != EPERM)
			return -errno;
	if (prctl(PR_SET_KEEPCAPS, keep ? 1 : 0, 0, 0, 0) < 0 ||
	    setgroups((size_t)ng, groups) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	err = proc_set_caps(keep);
	if (err)
		return err;
	if (cap_reset_ambient() < 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (pw->pw_uid != 0 && setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

static int proc_kind_of(const char *name)
{
	int k;

	for (k = 0; k < PROC_KIND_MAX; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

_Noreturn void proc_child_main(int argc, char **argv,
				const proc_main_fn mains[PROC_KIND_MAX])
{
	char ident[32], *end;
	struct rlimit rl;
	sigset_t mask;
	pid_t parent = getppid();
	__u64 caps;
	int kind, err;

	if (argc < PROC_FIXED_ARGS || strcmp(argv[1], "--child") ||
	    (kind = proc_kind_of(argv[2])) < 0 || strcmp(argv[3], "--user") ||
	    strcmp(argv[5], "--caps") || strcmp(argv[7], "--verbose") ||
	    !mains[kind]) {
		fprintf(stderr, "lbd --child: started by lbd only\n");
		exit(2);
	}
	caps = strtoull(argv[6], &end, 0);
	snprintf(ident, sizeof(ident), "lbd-%s", argv[2]);
	log_init(ident, atoi(argv[8]));
	if (*end) {
		log_warnx("--caps %s: not a number", argv[6]);
		exit(2);
	}
	prctl(PR_SET_NAME, ident, 0, 0, 0);
	/* the open-file limit is the hard one: the io process holds a
	 * descriptor per client, the prober one per check in flight */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	err = proc_drop(argv[4], caps);
	if (err) {
		log_warnx("processes.user: dropping privileges to %s "
			  "(capabilities %#llx): %s",
			  argv[4], (unsigned long long)caps,
			  err == -ENOENT ? "no such user" : strerror(-err));
		exit(1);
	}
	/* after the drop: a change of credentials clears it */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != parent)
		exit(1); /* lbd is gone already */
	/* for sd-event's signal sources; a peer gone is an error of the
	 * write, not a signal */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	exit(mains[kind](argc - PROC_FIXED_ARGS, argv + PROC_FIXED_ARGS));
}
