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

/* No payload is larger: a bound on what a peer can make another hold.
 * The largest are control replies (a conntrack listing, the status of
 * many services), which the JSON lines channel before this bounded at
 * 16 MiB too. */
#define LBD_MSG_MAX (16u << 20)

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
	LBD_MSG_K8S_NODE_SET = 23, /* k8s -> lbd: the node role's records */
	/* the node role's health check ports (lbd/ctl/hcserve.h) */
	LBD_MSG_NODE_HC = 30, /* lbd -> io: the whole table */
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
	LBD_CTL_RELOAD,
	/* the last: what lbd answers is below it (ctl_req_check) */
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
 * Kubernetes service's "namespace/name:port" is long), which lbd/ctl
 * checks it against. */
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
	__u32 pad2;
	/* explain in the node role: the socket's SO_COOKIE and its network
	 * namespace's SO_NETNS_COOKIE (0: not given; the kernel's start
	 * at 1) */
	__u64 sock_cookie, netns_cookie;
};
_Static_assert(sizeof(struct lbd_ctl_req) == 288, "lbd_ctl_req");

/* LBD_MSG_CTL_REPLY: {"id":N,"ok":true,"data":{...}} or {"id":N,"ok":
 * false,"error":"..."}, and LBD_MSG_MON_EVENT: {"event":{...}} or
 * {"lost":N}: JSON text lbd made, without a NUL, for io (which parses
 * it: it is unprivileged) to pass on to lbctl. */
#define LBD_MSG_MON_EVENT_MAX (64u << 10)
/*
 * The metrics snapshot (LBD_MSG_METRICS), which the io process renders as
 * Prometheus text (metrics.c): struct lbd_metrics_head, then head.n_recs
 * records in this order: the reasons' counters, each service followed by
 * its n_backends backends (none without LBD_MET_F_BACKENDS), the VIPs,
 * the node's connections (role backend), the Kubernetes refusals by
 * reason, the socket programs' counters (role node), lbd's and its
 * children's processes. On the wire a record is
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
#define LBD_MET_F_BACKENDS (1u << 6) /* per-backend records (the switch) */
#define LBD_MET_F_NODE (1u << 7) /* role node: its Services and counters */

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
	double last_reload_s; /* how long it took */
	double last_reload_at_s; /* when: seconds since the epoch */
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
	/* LBD_MET_F_NODE: the health check ports' serviceProxyHealthy */
	__u8 node_proxy_healthy;
	__u8 pad;
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
	/* LBD_MET_F_NODE: what the socket programs' maps hold, from the
	 * last sync (a Service port is one per family and scope) */
	__u64 node_services, node_ports, node_addresses;
	__u64 node_endpoints, node_local_endpoints;
	__u64 node_syncs, node_sync_failures, node_write_failures;
	double node_last_sync_at_s; /* seconds since the epoch; 0: none */
};
_Static_assert(sizeof(struct lbd_metrics_head) == 744, "lbd_metrics_head");

enum lbd_met_rec_type {
	LBD_MET_REASON = 1,
	LBD_MET_SERVICE,
	LBD_MET_BACKEND,
	LBD_MET_VIP,
	LBD_MET_CONN,
	LBD_MET_K8S_REFUSAL,
	LBD_MET_PROC,
	LBD_MET_NODE_SOCKET,
	LBD_MET_NODE_TC, /* struct lbd_met_node_socket, of the tc path */
	LBD_MET_NODE_NIC, /* struct lbd_met_node_socket, of the NIC path */
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

/* Role node: a socket programs' counter (enum lbd_node_reason). */
struct lbd_met_node_socket {
	char reason[32]; /* its metric label */
	__u64 total;
};
_Static_assert(sizeof(struct lbd_met_node_socket) == 40, "node_socket");

/* lbd and each of its children, from /proc. */
struct lbd_met_proc {
	char name[16]; /* its comm: "lbd", "lbd-io", ... */
	__u32 pid;
	__s32 open_fds; /* -1: not readable by lbd (another user's) */
	double cpu_seconds; /* user and system */
	__u64 rss_bytes;
};
_Static_assert(sizeof(struct lbd_met_proc) == 40, "lbd_met_proc");

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
		struct lbd_met_proc proc;
		struct lbd_met_node_socket node_socket;
	} u;
};
_Static_assert(sizeof(struct lbd_metrics_rec) == 472, "lbd_metrics_rec");

/* -- the prober (lbd/health) --------------------------------------------- */

#define LBD_PROBE_STR_MAX 128 /* config.h's LBD_HC_STR_MAX */
#define LBD_PROBE_REASON_MAX 96

/* LBD_MSG_PROBE_CHECKS: records of this, every check the prober is to run
 * (the whole set each time: a check not in it stops). */
struct lbd_probe_check {
	__u64 key; /* lbd's name for the check, unique */
	__u8 type; /* LBD_HC_TCP, LBD_HC_HTTP or LBD_HC_UDP_DNS */
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	__u8 rise;
	__u8 fall;
	__u16 port;
	__u16 expect_status; /* http */
	union lbd_addr addr;
	__u32 mark; /* SO_MARK; 0: none */
	__u32 ifindex; /* SO_BINDTOIFINDEX; 0: none */
	__u32 interval_ms;
	__u32 timeout_ms;
	__u8 state; /* enum hc_state a new check starts in */
	__u8 pad[7];
	char path[LBD_PROBE_STR_MAX]; /* http */
	char host[LBD_PROBE_STR_MAX]; /* http Host; "": the address */
	char query[LBD_PROBE_STR_MAX]; /* udp-dns */
};
_Static_assert(sizeof(struct lbd_probe_check) == 440, "lbd_probe_check");

/* LBD_MSG_PROBE_VERDICT: records of this, the changes of one loop
 * iteration of the prober (lbd applies them together). */
struct lbd_probe_verdict {
	__u64 key;
	__u8 state; /* HC_UP or HC_DOWN */
	__u8 pad[3];
	__u32 count; /* consecutive results that made it */
	char reason[LBD_PROBE_REASON_MAX]; /* of the last of them */
};
_Static_assert(sizeof(struct lbd_probe_verdict) == 112, "lbd_probe_verdict");

/* LBD_MSG_PROBE_TIMES: this, then a struct lbd_probe_time per check that
 * has a result (every PROBER_STATS_S seconds). */
struct lbd_probe_stats {
	__u64 runs, ok, failed, late; /* since the prober started */
	__u64 checks, running;
	__u64 max_lag_us; /* the latest start since the last report */
};
_Static_assert(sizeof(struct lbd_probe_stats) == 56, "lbd_probe_stats");

struct lbd_probe_time {
	__u64 key;
	__u32 latency_us; /* of its last result */
	__u8 ok; /* that result's */
	__u8 pad[3];
};
_Static_assert(sizeof(struct lbd_probe_time) == 16, "lbd_probe_time");

/* -- the Kubernetes client (lbd/k8s) -------------------------------------- */

/*
 * lbd -> k8s, LBD_MSG_K8S_START: what the client needs, as the privileged
 * process has it: the kubernetes settings, the kubeconfig's bytes and
 * (once the child has named them, LBD_MSG_K8S_STATUS) the bytes of the
 * files it references, read as root (they may be root's only). After the
 * struct: kubeconfig_len bytes, then file_len[0], file_len[1], ... bytes.
 * Sent when the child is up, after every reload (the child translates
 * again under the new settings) and when a referenced file changes (a
 * rotated token).
 */
#define LBD_K8S_PATH_MAX 4096
#define LBD_K8S_MAX_FILES 4 /* CA, client certificate and key, token */
#define LBD_K8S_FILE_MAX (1u << 20) /* each file, the kubeconfig too */
#define LBD_K8S_MAX_VIP_RANGES 64 /* LBD_MAX_VIP_RANGES (config.h) */
#define LBD_K8S_MAX_NODE_ADDRS 64 /* LBD_MAX_NODE_ADDRS (config.h) */

/* lbd_k8s_start.role: what the child follows and sends */
enum lbd_k8s_role {
	LBD_K8S_ROLE_LB, /* LoadBalancer Services of a class: SERVICES */
	LBD_K8S_ROLE_NODE, /* every Service: NODE_SET (k8s_node.h) */
	LBD_K8S_ROLE_N,
};

/* A prefix (kubernetes.vip_ranges), host bits cleared. */
struct lbd_k8s_prefix {
	union lbd_addr addr;
	__u8 family; /* LBD_AF_* */
	__u8 prefixlen;
	__u8 pad[2];
};
_Static_assert(sizeof(struct lbd_k8s_prefix) == 20, "lbd_k8s_prefix");

struct lbd_k8s_start {
	__u32 gen; /* the settings' number, echoed in status and sets */
	__u32 max_object_bytes, max_watch_line_bytes, max_list_page_bytes;
	char kubeconfig[LBD_K8S_PATH_MAX]; /* its name: messages, relative */
	char context[256]; /* "": the current-context */
	char lb_class[256];
	char ns[64]; /* "": every namespace */
	/* what the datapath can do (k8s_opts) */
	__u8 fwd; /* enum lbd_fwd */
	__u8 flow_backends, encap4, encap6, snat4, snat6; /* 0 or 1 */
	__u8 n_files; /* files attached, in the order the child named them */
	__u8 role; /* enum lbd_k8s_role */
	__u32 n_vip_ranges;
	struct lbd_k8s_prefix vip_ranges[LBD_K8S_MAX_VIP_RANGES];
	/* role node: the node's name (endpoints' nodeName), its zone
	 * (topology hints; "": none) and the addresses NodePorts are
	 * served on (port 0) */
	char node_name[256];
	char zone[64];
	__u32 n_node_addrs;
	struct lbd_msg_addr node_addrs[LBD_K8S_MAX_NODE_ADDRS];
	__u32 kubeconfig_len;
	__u32 file_len[LBD_K8S_MAX_FILES];
	char file_path[LBD_K8S_MAX_FILES][LBD_K8S_PATH_MAX];
};
_Static_assert(sizeof(struct lbd_k8s_start) == 23988, "lbd_k8s_start");
#define LBD_K8S_START_MAX_BYTES ((LBD_K8S_MAX_FILES + 1) * LBD_K8S_FILE_MAX)

/*
 * k8s -> lbd, LBD_MSG_K8S_STATUS: the client's state (lbctl status, the
 * metrics), sent when it changes, at most once a second. After the struct,
 * up to LBD_K8S_MAX_FILES records of LBD_K8S_PATH_MAX bytes: the files the
 * kubeconfig of gen references, which the child cannot read. lbd answers
 * them once per child, and only when they come in the child's first
 * status, before it has spoken to the network.
 */
enum lbd_k8s_res {
	LBD_K8S_RES_SERVICES,
	LBD_K8S_RES_SLICES,
	LBD_K8S_RES_N,
};
enum lbd_k8s_ev {
	LBD_K8S_EV_ADDED,
	LBD_K8S_EV_MODIFIED,
	LBD_K8S_EV_DELETED,
	LBD_K8S_EV_BOOKMARK,
	LBD_K8S_EV_N,
};

struct lbd_k8s_res_status {
	__u64 events[LBD_K8S_EV_N];
	__u64 lists, gone, watch_restarts, failures, too_large, objects;
	__u8 listed, watching, failing; /* 0 or 1 */
	__u8 pad[5];
	char last_error[512];
};
_Static_assert(sizeof(struct lbd_k8s_res_status) == 600, "lbd_k8s_res_status");

struct lbd_k8s_status {
	__u32 gen; /* of the START the client runs under; 0: none yet */
	__u8 running; /* a client follows the cluster */
	__u8 synced; /* both resources listed */
	__u8 pad[2];
	char server[1024]; /* the kubeconfig's, for lbctl status */
	char context[256];
	char error[512]; /* why the last START was not taken; "": it was */
	struct lbd_k8s_res_status res[LBD_K8S_RES_N];
};
_Static_assert(sizeof(struct lbd_k8s_status) == 3000, "lbd_k8s_status");

/*
 * k8s -> lbd, LBD_MSG_K8S_SERVICES: one complete set of translated
 * services, in one message or several (LBD_K8S_F_BEGIN on the first,
 * LBD_K8S_F_END on the last; both on a set of one message). Each message
 * is a lbd_k8s_set_hdr, then n_svc service records, n_be backend records,
 * n_warn warning lines and n_ref refusal lines. A backend names its
 * service by its index in the whole set; backends come in the order of
 * their services. The last complete set is what lbd serves; a set cut
 * short by the child's death is dropped.
 */
#define LBD_K8S_F_BEGIN 1
#define LBD_K8S_F_END 2
#define LBD_K8S_MAX_SVCS (1u << 16) /* a set's services */
#define LBD_K8S_MAX_BES (1u << 20) /* a set's backends */
#define LBD_K8S_MAX_LINES (1u << 16) /* a set's warnings and refusals */

struct lbd_k8s_set_hdr {
	__u32 seq; /* the set's number, the same in all its messages */
	__u32 gen; /* of the START it was made under */
	__u32 n_svc, n_be, n_warn, n_ref; /* records in this message */
};
_Static_assert(sizeof(struct lbd_k8s_set_hdr) == 24, "lbd_k8s_set_hdr");

struct lbd_k8s_svc_rec {
	char name[192]; /* LBD_SVC_NAME_MAX: ns/name:port[@vip] */
	char ref[128]; /* the Service: "namespace/name" */
	struct lbd_msg_addr vip; /* and the port */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 fwd, dsr; /* enum lbd_fwd */
	__u8 no_backend; /* enum lbd_no_backend */
	__u8 flow_backends, icmp_echo; /* 0 or 1 */
	__u8 pad[2];
	__u32 affinity_timeout;
};
_Static_assert(sizeof(struct lbd_k8s_svc_rec) == 352, "lbd_k8s_svc_rec");

struct lbd_k8s_be_rec {
	__u32 svc; /* its service's index in the set */
	__u32 weight; /* 0-65535 */
	struct lbd_msg_addr addr; /* and the port */
	__u8 state; /* enum lbd_conf_state: active or draining */
	__u8 pad[3];
};
_Static_assert(sizeof(struct lbd_k8s_be_rec) == 32, "lbd_k8s_be_rec");

/* A warning (reason 0) or a refusal (enum k8s_refusal), for the log and
 * the refusal counts. */
struct lbd_k8s_line_rec {
	__u8 reason;
	__u8 pad[3];
	char msg[512];
};
_Static_assert(sizeof(struct lbd_k8s_line_rec) == 516, "lbd_k8s_line_rec");

/* -- the node role's health check ports (lbd/ctl/hcserve.h) -------------- */

/*
 * lbd -> io, LBD_MSG_NODE_HC: every healthCheckNodePort the io process is
 * to serve (the whole set each time: a port not in it is closed), sent
 * after each sync of the node role and to every new io process. A
 * struct lbd_node_hc_head, then head.n records sorted by port, each port
 * once. The io process checks it (hcserve_table_check) before it reads a
 * record. The head also says where the node's /healthz server listens
 * and when the last sync was applied: it is sent before the first sync
 * too (no records), so that /healthz answers 503 from the start.
 */
/* More than the default NodePort range (30000-32767) holds, from which
 * the API server allocates these ports. */
#define LBD_NODE_HC_MAX 4096

/* The latest last_sync_ms a head may carry: the end of year 9999, the
 * last an RFC 3339 time can write. */
#define LBD_NODE_HC_SYNC_MS_MAX 253402300799999ull

struct lbd_node_hc_head {
	__u32 n; /* records that follow */
	__u8 healthy; /* kube-proxy's serviceProxyHealthy: the last sync
			 was applied (0 or 1) */
	__u8 pad[3];
	/* node_role.healthz_address, kube-proxy's /healthz and /livez
	 * server: family 0 (and the rest 0) when off, else LBD_AF_INET
	 * or LBD_AF_INET6 with a port */
	struct lbd_msg_addr healthz;
	__u32 pad2;
	/* the wall-clock time of the last applied sync, ms since the
	 * epoch; 0: none yet */
	__u64 last_sync_ms;
};
_Static_assert(sizeof(struct lbd_node_hc_head) == 40, "lbd_node_hc_head");

struct lbd_node_hc_rec {
	char ns[64]; /* the Service's namespace and name */
	char name[64];
	__u16 port; /* spec.healthCheckNodePort, 1-65535 */
	__u16 pad;
	__u32 local_endpoints; /* k8s_node_hc_table's count */
};
_Static_assert(sizeof(struct lbd_node_hc_rec) == 136, "lbd_node_hc_rec");
/*
 * k8s -> lbd, LBD_MSG_K8S_NODE_SET (role node): one complete
 * k8s_node_set (k8s_node.h), in one message or several, flagged as
 * SERVICES' sets are (LBD_K8S_F_BEGIN, LBD_K8S_F_END). Each message is a
 * lbd_k8s_node_set_hdr, then n_rec record records, n_addr address
 * records, n_ep endpoint records, n_ref refusal lines
 * (lbd_k8s_line_rec) and n_hc health check ports of Services without an
 * external record (lbd_k8s_node_hc); each kind is appended to the set's
 * in the order it comes. A record's first_addr/n_addrs and first_ep/n_eps index the
 * whole set's addresses and endpoints, and are checked once the set is
 * complete: every index within the set, every address and endpoint of
 * the record's family.
 */
#define LBD_K8S_NODE_MAX_RECS (1u << 20) /* node_role.max_services' bound */
#define LBD_K8S_NODE_MAX_ADDRS (1u << 22)
#define LBD_K8S_NODE_MAX_EPS (1u << 22)

struct lbd_k8s_node_set_hdr {
	__u32 seq; /* the set's number, the same in all its messages */
	__u32 gen; /* of the START it was made under */
	__u32 n_rec, n_addr, n_ep, n_ref; /* records in this message */
	__u32 n_hc;
};
_Static_assert(sizeof(struct lbd_k8s_node_set_hdr) == 28, "node_set_hdr");

/* One Service port, family and scope (struct k8s_node_rec). */
struct lbd_k8s_node_rec {
	char ns[64];
	char name[64];
	char port_name[64]; /* "": an unnamed port */
	__u16 port; /* the Service port, not 0 */
	__u16 node_port; /* 0: none */
	__u16 hc_node_port; /* 0: none */
	__u8 type; /* enum k8s_node_type */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* LBD_AF_* */
	__u8 external, local_only, affinity, zone_hints; /* 0 or 1 */
	__u8 forwarding; /* enum k8s_node_fwd */
	__u8 pad[2];
	__u32 affinity_timeout;
	__u32 first_addr, n_addrs; /* into the set's addresses */
	__u32 first_ep, n_eps; /* into the set's endpoints */
};
_Static_assert(sizeof(struct lbd_k8s_node_rec) == 228, "lbd_k8s_node_rec");

struct lbd_k8s_node_addr {
	struct lbd_msg_addr addr; /* and the port, not 0 */
	__u8 kind; /* enum k8s_node_addr_kind */
	__u8 pad[3];
};
_Static_assert(sizeof(struct lbd_k8s_node_addr) == 24, "lbd_k8s_node_addr");

struct lbd_k8s_node_ep {
	struct lbd_msg_addr addr; /* and the target port, not 0 */
	__u16 weight;
	__u8 ready, serving, terminating, local; /* 0 or 1 */
	__u8 pad[2];
};
_Static_assert(sizeof(struct lbd_k8s_node_ep) == 28, "lbd_k8s_node_ep");

/* A healthCheckNodePort without an external record (struct
 * k8s_node_hc_only): sorted by port, each once, at most
 * LBD_NODE_HC_MAX in a set. */
struct lbd_k8s_node_hc {
	char ns[64];
	char name[64];
	__u16 port; /* not 0 */
	__u8 pad[2];
};
_Static_assert(sizeof(struct lbd_k8s_node_hc) == 132, "lbd_k8s_node_hc");

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
