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

/* LBD_MSG_CTL_REPLY: this, then the reply's JSON text as lbd made it
 * ({"ok":...,"data":...} or {"ok":false,"error":...}, no NUL).
 * LBD_MSG_MON_EVENT: the event's JSON text alone, up to
 * LBD_CTL_EVENT_MAX bytes. */
struct lbd_ctl_reply {
	__u32 id; /* the request's */
	__u32 pad;
};
_Static_assert(sizeof(struct lbd_ctl_reply) == 8, "lbd_ctl_reply");

#define LBD_CTL_EVENT_MAX 4096

/*
 * The metrics snapshot (LBD_MSG_METRICS), which the io process renders as
 * Prometheus text (metrics.c): struct lbd_metrics_head, then head.n_recs
 * records in this order: the reasons' counters, each service followed by
 * its n_backends backends, the VIPs, the node's connections (role
 * backend), the Kubernetes refusals by reason. On the wire a record is
 * struct lbd_met_rec_hdr and then exactly the struct its type names (a
 * backend is not the size of a service: 10,000 of them are 1.5 MB, not
 * 4.7); in memory it is struct lbd_metrics_rec. A section the head's
 * flags do not name is not rendered at all (never as zeros). Strings are
 * NUL-terminated within their arrays. msg_spec: min is the head, records
 * of 1 byte up to what LBD_MSG_MAX leaves; metrics_snap_decode checks
 * the records.
 */
#define LBD_MET_F_REASONS (1u << 0) /* the reasons' counters were read */
#define LBD_MET_F_DATAPATH (1u << 1) /* role lb: datapath, apply, maps */
#define LBD_MET_F_HEALTH (1u << 2) /* health checks run */
#define LBD_MET_F_BIRD (1u << 3) /* VIPs announced through BIRD */
#define LBD_MET_F_K8S (1u << 4) /* a Kubernetes client is configured */
#define LBD_MET_F_CONNS (1u << 5) /* role backend: connections counted */

#define LBD_MET_K8S_RESOURCES 2 /* Services, EndpointSlices */
#define LBD_MET_K8S_EVENTS 4 /* added, modified, deleted, bookmark */
/* Records in one snapshot: a service and each backend are one. */
#define LBD_MET_MAX_RECS (1u << 20)

struct lbd_met_rec_hdr {
	__u8 type; /* enum lbd_met_rec_type */
	__u8 pad[7];
};
_Static_assert(sizeof(struct lbd_met_rec_hdr) == 8, "lbd_met_rec_hdr");

struct lbd_met_k8s_resource {
	char name[32];
	__u8 watching;
	__u8 pad[7];
	__u64 objects, lists, gone, watch_restarts, failures;
	__u64 events[LBD_MET_K8S_EVENTS];
};
_Static_assert(sizeof(struct lbd_met_k8s_resource) == 112, "k8s_resource");

struct lbd_metrics_head {
	char version[32];
	char role[16]; /* "lb", "backend" */
	__u32 flags; /* LBD_MET_F_* */
	__u32 n_recs;
	double start_time_s;
	__u64 generation, reloads, reload_failures;
	double last_reload_s;
	__u64 monitor_lost; /* lbd's; the io process adds its own */
	__u64 drains;
	__u8 last_reload_ok;
	/* LBD_MET_F_DATAPATH */
	__u8 attached;
	__u8 apply_ok;
	/* LBD_MET_F_BIRD */
	__u8 bird_connected;
	/* LBD_MET_F_K8S */
	__u8 k8s_synced;
	__u8 k8s_n_res; /* k8s_res[] given (0 before the client runs) */
	__u8 pad[2];
	char interface[32];
	char mode[16]; /* "native", "generic" */
	char serving[16]; /* state_served_str */
	__u64 apply_failures, apply_rollback_failures;
	__u64 ct_entries[2], ct_live[2], ct_capacity[2]; /* ipv4, ipv6 */
	__u64 nat_entries[2], nat_capacity[2];
	__u64 aff_entries, aff_capacity;
	/* LBD_MET_F_HEALTH: the prober's counters */
	__u64 hc_checks, hc_up, hc_down, hc_unknown, hc_runs, hc_failed;
	__u64 hc_late, hc_running, hc_prober_restarts;
	double hc_max_lag_ms;
	/* LBD_MET_F_BIRD */
	__u64 bird_configures, bird_errors;
	/* LBD_MET_F_K8S */
	__u64 k8s_services, k8s_applies, k8s_apply_failures;
	__u64 k8s_clashes_total, k8s_clashes_now; /* refused for a clash */
	__u64 k8s_refused_now; /* refusals in force */
	struct lbd_met_k8s_resource k8s_res[LBD_MET_K8S_RESOURCES];
};
_Static_assert(sizeof(struct lbd_metrics_head) == 664, "lbd_metrics_head");

enum lbd_met_rec_type {
	LBD_MET_REASON = 1,
	LBD_MET_SERVICE,
	LBD_MET_BACKEND,
	LBD_MET_VIP,
	LBD_MET_CONN,
	LBD_MET_K8S_REFUSAL,
};

struct lbd_met_reason {
	char reason[32];
	char kind[16]; /* forward, pass, event, drop */
	__u64 packets, bytes;
};
_Static_assert(sizeof(struct lbd_met_reason) == 64, "lbd_met_reason");

struct lbd_met_service {
	char name[LBD_CTL_NAME_MAX];
	char vip[48];
	char protocol[8];
	char forwarding[16];
	char source[160];
	__u16 port;
	__u16 pad;
	__u32 active_backends;
	__u32 n_backends; /* the backend records that follow */
	__u32 pad2;
	__u64 packets, bytes, new_flows;
};
_Static_assert(sizeof(struct lbd_met_service) == 464, "lbd_met_service");

struct lbd_met_backend {
	char backend[64]; /* "addr:port", "[addr6]:port" */
	char state[16]; /* active, draining, down, unused */
	__u64 packets, bytes, new_flows;
	__u64 active_flows;
	__u32 weight;
	__u8 healthy, drained;
	__u8 has_check; /* check_* and health_changes say something */
	__u8 check_ok;
	double share, check_seconds;
	__u64 health_changes;
};
_Static_assert(sizeof(struct lbd_met_backend) == 144, "lbd_met_backend");

struct lbd_met_vip {
	char vip[48];
	__u8 announced;
	__u8 pad[3];
	__u32 backends_up;
};
_Static_assert(sizeof(struct lbd_met_vip) == 56, "lbd_met_vip");

struct lbd_met_conn {
	char address[48];
	__u16 port;
	__u8 pad[6];
	__u64 connections;
};
_Static_assert(sizeof(struct lbd_met_conn) == 64, "lbd_met_conn");

struct lbd_met_refusal {
	char reason[32];
	__u64 total;
};
_Static_assert(sizeof(struct lbd_met_refusal) == 40, "lbd_met_refusal");

/* A record in memory: any type in one size. */
struct lbd_metrics_rec {
	__u8 type; /* enum lbd_met_rec_type */
	__u8 pad[7];
	union {
		struct lbd_met_reason reason;
		struct lbd_met_service service;
		struct lbd_met_backend backend;
		struct lbd_met_vip vip;
		struct lbd_met_conn conn;
		struct lbd_met_refusal refusal;
	} u;
};
_Static_assert(sizeof(struct lbd_metrics_rec) == 472, "lbd_metrics_rec");

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
