/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Privilege separation. lbd runs as two processes:
 *
 *   the privileged process (daemon.c, lb.c, backend.c, control.c) owns
 *   the BPF programs and maps, netlink and the config; it parses no input
 *   from the network but the Kubernetes API's (k8s.c, over TLS to the
 *   cluster the kubeconfig names: not yet separated);
 *
 *   the io process (io.c) has no privileges (it runs as an unprivileged
 *   user, without capabilities, with no_new_privs) and takes every input
 *   from outside: the control socket's clients (lbctl) and the HTTP
 *   scrapes of the metrics endpoint (httpd.c). It checks requests, turns
 *   their arguments into a normalised form (canonical addresses, numbers
 *   in range) for the privileged process over a socket pair (JSON lines,
 *   ipc.h) and relays the answers; it fans datapath events out to
 *   monitor clients and renders metrics.
 *
 * The privileged process creates the listening sockets (it may bind where
 * the unprivileged one may not) and hands them over at fork. The control
 * protocol is described at the top of io.c and in lbctl(8).
 */
#ifndef LBD_IO_H
#define LBD_IO_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* The control protocol's version, in every request and answer. */
#define LBD_CONTROL_VERSION 1

/* The unprivileged user the io process runs as. */
#define LBD_IO_USER "nobody"

struct io_child {
	pid_t pid;
	int ipc_fd; /* the privileged end of the socket pair */
};

/*
 * Creates the control socket of c (mode 0600, root's; 0660 with
 * control.group as its group) and the metrics listener (unless off),
 * and forks the io process. Returns 0 with child filled, or a negative
 * errno.
 */
int io_spawn(const struct lbd_config *c, struct io_child *child);

/* In a child after fork: closes every descriptor above stderr but the
 * ones kept. */
void io_close_other_fds(const int *keep, size_t n);

/* In a child process (io, prober): SIGTERM, SIGINT and SIGHUP blocked
 * for its sd-event loop's signal sources, SIGPIPE ignored (a peer gone
 * is an error of the write). */
void io_child_signals(void);

/* Which commands need a root client (the others are read-only). */
bool io_cmd_is_admin(const char *cmd);

#endif /* LBD_IO_H */
