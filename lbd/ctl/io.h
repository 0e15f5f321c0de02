/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Privilege separation. lbd runs as a privileged process and children
 * (lbd/proc/proc.h):
 *
 *   the privileged process (daemon.c, lb.c, backend.c, control.c) owns
 *   the BPF programs and maps, netlink and the config; it parses no input
 *   from the network or from a child: what its children send are fixed
 *   layouts (msg.h);
 *
 *   the io process (this file, "lbd --child io") runs as processes.user
 *   without capabilities, with no_new_privs, and takes every input from
 *   outside: the control socket's clients (lbctl) and the HTTP scrapes of
 *   the metrics endpoint (httpd.c). It checks requests, turns their
 *   arguments into a struct lbd_ctl_req (ctlreq.h) for the privileged
 *   process and relays the answers; it fans datapath events out to
 *   monitor clients and renders metrics. In the node role it also
 *   serves the healthCheckNodePorts (hcserve.h), whose sockets it makes
 *   itself from the table lbd sends (ports of the NodePort range, which
 *   need no capability).
 *
 * The privileged process creates the listening sockets (it may bind where
 * the unprivileged one may not: a metrics port under 1024, a socket
 * given to control.group) and hands them to every io process it starts,
 * as fds 4 and 5. The control protocol is described at the top of io.c
 * and in lbctl(8).
 */
#ifndef LBD_IO_H
#define LBD_IO_H

#include <stdbool.h>
#include <sys/types.h>
#include <json-c/json.h>

#include "config.h"
#include "msg.h"

/* The control protocol's version, in every request and answer. */
#define LBD_CONTROL_VERSION 1

/* In the io process: the listening sockets (after the channel, 3). */
#define IO_CTL_FD 4
#define IO_METRICS_FD 5

/*
 * Creates the control socket of c (mode 0600, root's; 0660 with
 * control.group as its group) and the metrics listener (*met -1 when off
 * or not possible, logged). 0, or a negative errno (logged).
 */
int io_sockets(const struct lbd_config *c, int *ctl, int *met);

/* The io process's main ("lbd --child io MAX_CLIENTS metrics|-"), with the
 * listeners on IO_CTL_FD and IO_METRICS_FD. */
int io_child_main(int argc, char **argv);

/* A request as lbctl writes it (cmd, its "args" object) checked and
 * normalised as the io process does, into the struct lbd gets: 0, or
 * -EINVAL with the reason in err. */
int io_req_encode(const char *cmd, struct json_object *args, __u32 id,
		  struct lbd_ctl_req *req, char *err, size_t errlen);

/* Which commands need a root client (the others are read-only). */
bool io_cmd_is_admin(const char *cmd);

#endif /* LBD_IO_H */
