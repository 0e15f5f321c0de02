/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbd's children, as relayd and bgpd make theirs: each is lbd itself,
 * started by fork and exec (/proc/self/exe) in a child mode
 * ("lbd --child NAME"), so it begins with a fresh address space that holds
 * no secret and nothing of the parent's heap. The child drops to the
 * unprivileged user (processes.user, "lbd" by default) and the
 * capabilities its spec names, once, before it reads anything; it speaks
 * lbd messages (msg.h) on fd 3. The parent supervises it: a child that
 * exits, is killed or sends a message that does not check is respawned
 * with backoff, and its owner is told.
 */
#ifndef LBD_PROC_H
#define LBD_PROC_H

#include <linux/types.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "msgch.h"

/* The children lbd knows (argv: "--child NAME"). */
enum proc_kind {
	PROC_IO, /* the control socket, HTTP, metrics (lbd/ctl/io.c) */
	PROC_PROBER, /* health checks (lbd/health/prober.c) */
	PROC_K8S, /* the Kubernetes client (lbd/k8s) */
	PROC_KIND_MAX
};

struct proc;

/* In a child: its channel to lbd; the spec's fds follow it. */
#define PROC_CHANNEL_FD 3

struct proc_spec {
	enum proc_kind kind;
	const char *user; /* the user the child runs as */
	__u64 caps; /* capabilities kept (1ULL << CAP_*), none else */
	/* fds the child gets as 4, 5, ... (fd 3 is the channel); the
	 * parent keeps its copies */
	const int *fds;
	unsigned int n_fds;
	/* extra arguments after "--child NAME" (settings the child needs
	 * before its first message); NULL-terminated, may be NULL */
	const char *const *argv;
};

/* A message from the child (checked by msg_check). */
typedef void (*proc_msg_fn)(struct proc *p, const struct lbd_msg_hdr *h,
			    const void *payload, void *arg);
/* The child is (re)started: pid is its pid; the owner sends what the child
 * needs first (its settings, the current state). */
typedef void (*proc_up_fn)(struct proc *p, pid_t pid, void *arg);

/* Starts the child and supervises it until proc_stop. */
int proc_start(sd_event *ev, const struct proc_spec *spec, proc_msg_fn on_msg,
	       proc_up_fn on_up, void *arg, struct proc **out);
int proc_send(struct proc *p, __u16 type, __u16 flags, const void *payload,
	      size_t len);
int proc_send2(struct proc *p, __u16 type, __u16 flags, const void *head,
	       size_t hlen, const void *recs, size_t rlen);
/* 0 while the child is down (between a death and its respawn). */
pid_t proc_pid(const struct proc *p);
/* Bytes queued towards the child and not yet read. */
size_t proc_pending(const struct proc *p);
/* Stops the child (SIGTERM, then SIGKILL after a bound) and frees p. */
void proc_stop(struct proc *p);
/* How often the child was started again after a death (a metric). */
unsigned long proc_restarts(const struct proc *p);
/* The child's name ("io", "prober", "k8s"). */
const char *proc_kind_name(enum proc_kind kind);

/* Whether user exists, for lbd --check and the start: 0, or -ENOENT. */
int proc_user_check(const char *user);

/*
 * A child's own main, once proc_child_main has dropped its privileges:
 * fd 3 is its channel to lbd, 4... the fds of its spec; argc and argv are
 * the extra arguments of its spec. Returns the exit status.
 */
typedef int (*proc_main_fn)(int argc, char **argv);

/* In a child's main: a loop on ev that SIGTERM and SIGINT end (exit
 * status 0) and that SIGHUP, the privileged process's (a reload), leaves
 * alone. 0 or a negative errno. */
int proc_child_event(sd_event **ev);

/* In the child: lbd's main calls this for "--child NAME", with the
 * children's mains by kind (main.c has them, so that lbd/proc depends on
 * none of the subsystems it runs); it never returns. */
_Noreturn void proc_child_main(int argc, char **argv,
				const proc_main_fn mains[PROC_KIND_MAX]);

#endif /* LBD_PROC_H */
