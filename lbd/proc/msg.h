/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every message between lbd's processes, declared once (as bgpd's imsg
 * types are): a fixed header, then a payload whose size the type fixes
 * (one struct) or bounds (records of one size, up to a count). The
 * receiver checks a message against msg_spec before it reads a field
 * (msg_check), and a peer that sends one that does not fit is cut off and
 * respawned: the privileged process parses nothing general-purpose that
 * came from a child.
 *
 * Strings inside payloads are fixed arrays, NUL-terminated within their
 * size (msg_str_ok); addresses are struct lbd_msg_addr; integers are host
 * order (both ends are the same binary on the same host).
 */
#ifndef LBD_MSG_H
#define LBD_MSG_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "lbd/shared.h"

struct lbd_msg_hdr {
	__u16 type; /* enum lbd_msg_type */
	__u16 flags; /* per type; 0 unless the type says */
	__u32 len; /* payload bytes after the header */
};
_Static_assert(sizeof(struct lbd_msg_hdr) == 8, "lbd_msg_hdr");

/* No payload is larger: a bound on what a peer can make another hold. */
#define LBD_MSG_MAX (8u << 20)

/* Each type's payload is declared in the section of the module that
 * speaks it, below; each has its line in msg_spec (msg.c). */
enum lbd_msg_type {
	LBD_MSG_NONE = 0,
	/* control (lbd/ctl): io <-> lbd */
	LBD_MSG_CTL_REQ = 1, /* io -> lbd: struct lbd_ctl_req */
	LBD_MSG_CTL_REPLY = 2, /* lbd -> io: the reply, JSON text lbd made */
	LBD_MSG_MON_EVENT = 3, /* lbd -> io: a monitor event, JSON text */
	LBD_MSG_METRICS = 4, /* lbd -> io: the metrics snapshot */
	/* the prober (lbd/health): lbd <-> prober */
	LBD_MSG_PROBE_CHECKS = 10, /* lbd -> prober: the checks to run */
	LBD_MSG_PROBE_VERDICT = 11, /* prober -> lbd: a verdict changed */
	LBD_MSG_PROBE_TIMES = 12, /* prober -> lbd: checks' durations */
	/* the Kubernetes client (lbd/k8s): lbd <-> k8s child */
	LBD_MSG_K8S_START = 20, /* lbd -> k8s: settings and kubeconfig */
	LBD_MSG_K8S_SERVICES = 21, /* k8s -> lbd: the translated services */
	LBD_MSG_K8S_STATUS = 22, /* k8s -> lbd: sync state, refusals */
	LBD_MSG_TYPE_MAX
};

/* An address and port, family LBD_AF_* (0: not given). */
struct lbd_msg_addr {
	union lbd_addr addr;
	__u8 family;
	__u8 pad;
	__u16 port; /* host order; 0: any */
};
_Static_assert(sizeof(struct lbd_msg_addr) == 20, "lbd_msg_addr");

/* -- control (lbd/ctl) --------------------------------------------------- */

/* lbctl's commands, as io passes them on. */
enum lbd_ctl_cmd {
	LBD_CTL_STATUS = 1,
	LBD_CTL_SERVICES,
	LBD_CTL_BACKENDS,
	LBD_CTL_STATS,
	LBD_CTL_CONNTRACK,
	LBD_CTL_CONNTRACK_FLUSH,
	LBD_CTL_DRAIN,
	LBD_CTL_UNDRAIN,
	LBD_CTL_EXPLAIN,
	LBD_CTL_MONITOR_SET,
	LBD_CTL_METRICS,
	LBD_CTL_MONITOR, /* lbctl monitor: the io process's, never sent */
	LBD_CTL_CMD_MAX
};

/* lbd_ctl_req.flags */
#define LBD_CTL_F_ALL (1u << 0) /* conntrack: expired entries too */
#define LBD_CTL_F_DROPS (1u << 1) /* monitor_set: drops */
#define LBD_CTL_F_FLOWS (1u << 2) /* monitor_set: new flows */
#define LBD_CTL_F_STATE (1u << 3) /* monitor_set: backend state changes */
#define LBD_CTL_F_LIMIT (1u << 4) /* conntrack: limit given (0 lists none) */

/* A service name, with its NUL: config.h's LBD_SVC_NAME_MAX (a
 * Kubernetes service's "namespace/name:port" is long). */
#define LBD_CTL_NAME_MAX 192

/* One request: the command and every argument any command takes (an
 * argument a command does not take is zero). */
struct lbd_ctl_req {
	__u32 id; /* io's, echoed in the reply */
	__u16 cmd; /* enum lbd_ctl_cmd */
	__u16 flags; /* LBD_CTL_F_* */
	__u32 limit; /* conntrack: entries listed, with LBD_CTL_F_LIMIT */
	__u8 proto; /* IPPROTO_TCP/UDP, 0: any */
	__u8 pad[3];
	char service[LBD_CTL_NAME_MAX]; /* "" : any */
	struct lbd_msg_addr vip, client, backend;
};
_Static_assert(sizeof(struct lbd_ctl_req) == 268, "lbd_ctl_req");

/* -- the prober (lbd/health) --------------------------------------------- */

/* -- the Kubernetes client (lbd/k8s) -------------------------------------- */

/* Whether s, a fixed array of n bytes from a message, ends within it. */
static inline bool msg_str_ok(const char *s, size_t n)
{
	return memchr(s, '\0', n) != NULL;
}

/* What a type's payload may be: exactly min bytes when rec is 0, else min
 * bytes and then up to max_recs records of rec bytes each. */
struct msg_spec {
	__u32 min;
	__u32 rec;
	__u32 max_recs;
};

/* 0 when a message of this header may be read as its type says;
 * -EBADMSG otherwise (an unknown type, a length that does not fit). */
int msg_check(const struct lbd_msg_hdr *h);

#endif /* LBD_MSG_H */
