/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The privileged side of the control protocol (io.c describes it): the
 * handlers of lbctl's requests, one file per command family (ctl_*.c),
 * and the hooks the daemon calls as its state changes.
 *
 * Control sees the daemon through struct ctl_ctx only: what it reads
 * (the config, the state, the datapath, health, the VIPs) and the few
 * things it asks of the daemon (its record of reloads, the Kubernetes
 * client's status). What a reload may replace (the config, the
 * datapath's handle, the companion) is reached through the daemon's own
 * slot, so control never holds a stale one.
 */
#ifndef LBD_CONTROL_H
#define LBD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "msg.h"
#include "state.h"

struct companion;
struct dp_monitor;
struct health;
struct proc;
struct lbd_dp;
struct lbd_metrics_snap;

/* The event loop's record of reloads and the role's attachment, as the
 * daemon gives it for status and metrics. */
struct ctl_info {
	unsigned long generation; /* successful applies */
	unsigned long reloads, reload_failures;
	struct timespec started; /* CLOCK_MONOTONIC */
	bool last_ok; /* the last reload attempt */
	char *const *last_errors;
	size_t n_last_errors;
	double last_ms;
	double last_at_s; /* when it ended, seconds since the epoch */
	/* role lb: lbd's XDP program on datapath.interface */
	__u32 prog_id;
	bool native, dispatcher;
	bool attached; /* as last seen */
};

/* lbctl monitor: control's own state, zero until a client asks. */
struct ctl_mon {
	struct dp_monitor *rb; /* the program's ring buffer, while read */
	sd_event_source *src;
	__u32 mask; /* LBD_MON_* asked of the program */
	bool state; /* backend state changes asked for */
	unsigned int budget; /* events left in this dispatch */
	unsigned long lost, lost_told;
};

struct ctl_ctx {
	sd_event *ev; /* NULL until the loop runs */
	const char *config_path;
	struct lbd_config *const *cfg; /* the applied config */
	/* role lb */
	struct lbd_state *st;
	struct lbd_dp *const *dp;
	const int *ifindex; /* datapath.interface */
	struct health *const *health; /* NULL: no health checks */
	/* role backend */
	struct companion *const *be;
	/* the io process (proc.h); NULL while there is none */
	struct proc *const *io;
	/* what the daemon tells: its record of reloads, and (role lb) the
	 * Kubernetes client's status and the VIPs' announcement as lbctl
	 * status shows them */
	void (*info)(void *arg, struct ctl_info *out);
	void (*k8s_json)(void *arg, struct json_object *out);
	void (*bgp_json)(void *arg, struct json_object *out);
	/* the same for the metrics snapshot */
	void (*k8s_metrics)(void *arg, struct lbd_metrics_snap *s);
	void (*bgp_metrics)(void *arg, struct lbd_metrics_snap *s);
	/* role node (lbd/node.c): lbctl status's node section and the
	 * Kubernetes client's, lbctl services' list (each Service port:
	 * k8s_node_rec_json), the socket programs' counters
	 * (LBD_NODE_REASON_MAX of them, summed over CPUs: 0 or a negative
	 * errno) and the node's part of the metrics snapshot */
	void (*node_status_json)(void *arg, struct json_object *out);
	void (*node_services_json)(void *arg, struct json_object *list);
	int (*node_reasons)(void *arg, __u64 *out);
	/* the tc path's counters (LBD_NODE_TC_REASON_MAX; -ENODEV: no tc
	 * path) */
	int (*node_tc_reasons)(void *arg, __u64 *out);
	/* the NIC path's counters (LBD_NODE_NIC_REASON_MAX; -ENODEV: no
	 * NIC path) */
	int (*node_nic_reasons)(void *arg, __u64 *out);
	/* the DSR receiver's (the backend companion's LBD_REASON_MAX
	 * counters; -ENODEV: no dsr_sources) */
	int (*node_dsr_reasons)(void *arg, struct lbd_counter *out);
	void (*node_metrics)(void *arg, struct lbd_metrics_snap *s);
	/* role node: lbctl explain's answer into out, 0 or a negative
	 * errno with what went wrong in err */
	int (*node_explain)(void *arg, const struct lbd_ctl_req *req,
			    struct json_object *out, char *err, size_t errlen);
	/* lbctl reload: the daemon's reload, 0 or a negative errno (its
	 * problems are then info's last_errors); NULL: not offered */
	int (*reload)(void *arg);
	void *arg;
	struct ctl_mon mon;
};

/* Answers one request relayed by the io process (LBD_MSG_CTL_REQ) on
 * *x->io (LBD_MSG_CTL_REPLY, the JSON text lbd made). */
void control_request(struct ctl_ctx *x, const struct lbd_ctl_req *req);

/* Answers req (checked first, ctl_req_check): 0 with the reply's data in
 * out, or a negative errno with what went wrong in err (lbctl shows
 * it). */
int control_handle(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		   struct json_object *out, char *err, size_t errlen);

/* The metrics snapshot (metrics_snap.h) into s: 0 or a negative errno. */
int control_metrics(struct ctl_ctx *x, struct lbd_metrics_snap *s);

/* The role has started: runtime drains apply (lb role). */
void control_started(struct ctl_ctx *x);
/* After a reload attempt: drains apply to the new state and the monitor
 * follows a newly loaded program. */
void control_reloaded(struct ctl_ctx *x, bool ok);
/* The cluster's services were applied: drains apply to backends that
 * came with them. */
void control_applied(struct ctl_ctx *x);
/* The io process went away: nobody monitors any more. */
void control_io_gone(struct ctl_ctx *x);
/* A backend's state changed at runtime (drain, undrain, health): told
 * to monitor clients that asked for backend changes. */
void control_backend_event(struct ctl_ctx *x, const struct st_service *s,
			   const struct st_backend *b, const char *cause);
/* lbd stops. */
void control_stop(struct ctl_ctx *x);

#endif /* LBD_CONTROL_H */
