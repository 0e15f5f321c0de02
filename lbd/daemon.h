/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The lbd daemon: one event loop (sd-event) for both roles. The loop owns
 * signals, file watching, reload bookkeeping and systemd notification;
 * the roles own their datapath:
 *   lb.c       role "lb": the XDP program on the LB host's edge NIC
 *   backend.c  role "backend": the tc companion on a backend
 *   node.c     role "node": socket load balancing on a cluster node
 */
#ifndef LBD_DAEMON_H
#define LBD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "attach.h"
#include "config.h"
#include "control.h"
#include "datapath.h"
#include "k8s_model.h"
#include "sources.h"
#include "state.h"

struct companion;
struct hcdp;
struct health;
struct k8s_proc;
struct node_role;
struct proc;
struct vips;

/* Role "lb" (lb.c): the XDP datapath, its state, health checks, the
 * VIPs' announcement and the cluster's services. */
struct lb_role {
	struct lbd_dp *dp;
	struct lbd_state st;
	int ifindex;
	struct xdp_attachment att;
	struct lbd_conf_addr *nh_done; /* backends whose next hop is managed */
	size_t n_nh_done;
	struct hcdp *hc; /* health checks through the datapath (tc egress) */
	int hc_ifindex; /* where it is attached */
	struct health *health; /* health.h */
	struct vips *vips; /* vips.h: VIPs announced through BIRD */
	sd_event_source *watch; /* the datapath still attached? */
	bool attached; /* as last seen */
	bool stopping; /* a planned stop is withdrawing the VIPs */
	/* st.served mixed: when to apply the config again, and the pause
	 * after that (doubling) */
	uint64_t mixed_retry_at;
	unsigned int mixed_pause_s;

	/* Kubernetes (lb.c): the client's process (k8s_proc.h), the
	 * services it last gave (kept while it reconnects, is respawned or
	 * replaced), an apply again for services an apply deferred, the
	 * merge's record of who holds which VIP, port and protocol */
	struct k8s_proc *k8s;
	struct k8s_set k8s_set;
	bool k8s_have_set;
	sd_event_source *k8s_again;
	struct sources src;
	char **k8s_warnings; /* logged already */
	size_t n_k8s_warnings;
	/* what of the cluster is refused now (logged already), how often
	 * by reason (the host's addresses: src.host_refusals_k8s), and
	 * the last refusal said */
	struct k8s_refusal_line *k8s_refusals;
	size_t n_k8s_refusals;
	unsigned long k8s_refused_total[K8S_REFUSALS_N];
	unsigned long k8s_host_refusals_seen;
	char k8s_last_refusal[512];
	unsigned long k8s_applies, k8s_apply_failures;
	double k8s_last_apply_ms;
	double k8s_synced_at; /* realtime s of the first sync; 0: not yet */
	struct timespec k8s_sync_t0; /* the first sync's first apply */

};

/* Role "backend" (backend.c): the tc companion. */
struct backend_role {
	struct companion *be;
	int be_ifindex;

};

struct lbd_daemon {
	sd_event *ev;
	const char *config_path;
	struct lbd_config *cfg; /* the applied config */
	unsigned long generation; /* successful applies */
	unsigned long reloads, reload_failures;
	struct timespec started;
	/* the last reload attempt */
	bool last_ok;
	char **last_errors;
	size_t n_last_errors;
	double last_ms;
	double last_at_s; /* CLOCK_REALTIME, when it ended */
	/* file watching */
	sd_event_source *watch_dir, *watch_incl, *debounce;
	/* the unprivileged io process (io.h), started and supervised by
	 * lbd/proc */
	struct proc *io;
	struct lbd_conf_control io_ctl; /* the settings it was started with */
	sd_event_source *io_restart; /* after a reload changed them */
	/* the first apply is under way (the loop does not run yet): the io
	 * process answers status itself, from what it was last told */
	bool starting;
	size_t start_done, start_total; /* services applied, of */
	/* the control handlers' view of the daemon, and their own state */
	struct ctl_ctx ctl;

	/* the roles: the one of cfg->role is in use */
	struct lb_role lb; /* lb.c */
	struct backend_role backend; /* backend.c */
	/* role "node" (node.c) */
	struct node_role *node;
};

/* Runs lbd with config_path until SIGTERM/SIGINT; returns the exit
 * status. The datapath stays in place when lbd stops: a restarted lbd
 * adopts it without dropping a flow; lbd --cleanup removes it. */
int daemon_run(const char *config_path);

/* lbd --check: validates and prints the plan against the running
 * datapath (its pinned maps), else against nothing. */
int daemon_check(const char *config_path);

/* lbd --cleanup: detaches and unpins everything of the config's
 * instance. */
int daemon_cleanup(const char *config_path);

/* An apply's progress (lb.c's apply_progress): while lbd starts, told to
 * the io process, which answers lbctl status with it. */
void daemon_progress(struct lbd_daemon *d, size_t done, size_t total);

/* Adds a message to a diagnostics list (reload problems). */
void diag_pushf(struct config_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Role "lb" (lb.c). start: from d->cfg; reload: apply c, or leave
 * everything as it is and explain in diag. */
int lb_start(struct lbd_daemon *d);
int lb_reload(struct lbd_daemon *d, const struct lbd_config *c,
	      struct config_diag *diag);
void lb_stop(struct lbd_daemon *d);
/* On the event loop once it runs: health checks, VIP announcement, the
 * watch on the attachment. After a successful reload (d->cfg is the new
 * config): they follow it. */
int lb_loop_start(struct lbd_daemon *d);
void lb_reloaded(struct lbd_daemon *d);
int lb_check(const struct lbd_config *c, const char *path);
int lb_cleanup(const struct lbd_config *c);
/* STATUS= text for systemd */
void lb_status(const struct lbd_daemon *d, char *buf, size_t len);

/* Kubernetes for role "lb" (lb.c). prepare: checks that c's kubeconfig
 * can be read (problems to diag; its YAML is the child's); apply: merges
 * c's services with the cluster's and applies them; commit: hands c to
 * the client's process, or starts or stops it, after c was applied;
 * begin: starts it once the loop exists. */
int lb_k8s_prepare(struct lbd_daemon *d, const struct lbd_config *c,
		   struct config_diag *diag);
int lb_k8s_apply(struct lbd_daemon *d, const struct lbd_config *c,
		 plan_fn plan, void *plan_arg, struct apply_result *r);
void lb_k8s_commit(struct lbd_daemon *d, const struct lbd_config *c);
void lb_k8s_begin(struct lbd_daemon *d);
void lb_k8s_stop(struct lbd_daemon *d);
/* For status and metrics: {"refused": now, "last": the last refusal,
 * "total": {reason: refusals since the start}}. */
struct json_object;
struct json_object *lb_k8s_refusals_json(const struct lbd_daemon *d);
/* The client's state for lbctl status and the metrics (ctl_ctx.k8s_json;
 * arg is the daemon). */
void lb_k8s_json(void *arg, struct json_object *out);
struct lbd_metrics_snap;
void lb_k8s_metrics(void *arg, struct lbd_metrics_snap *s);
/* The client's own series (LBD_MET_F_K8S: synced, each resource's
 * watch, objects, events, lists, restarts, failures) from the child kp,
 * for both roles; the role fills in what it applied. */
struct k8s_proc;
void k8s_client_metrics(const struct k8s_proc *kp, struct lbd_metrics_head *m);
/* The refusal series (LBD_MET_K8S_REFUSAL), one per reason but "none",
 * with the totals the role counted, for both roles. */
void k8s_refusal_metrics(struct lbd_metrics_snap *s,
			 const unsigned long total[K8S_REFUSALS_N]);

/* Role "backend" (backend.c), the same shape. */
int backend_start(struct lbd_daemon *d);
int backend_reload(struct lbd_daemon *d, const struct lbd_config *c,
		   struct config_diag *diag);
void backend_stop(struct lbd_daemon *d);
int backend_check(const struct lbd_config *c, const char *path);
int backend_cleanup(const struct lbd_config *c);
void backend_status(const struct lbd_daemon *d, char *buf, size_t len);

/* Role "node" (node.c), the same shape; loop_start starts the
 * Kubernetes client once the loop exists. */
int node_role_start(struct lbd_daemon *d);
int node_role_loop_start(struct lbd_daemon *d);
int node_role_reload(struct lbd_daemon *d, const struct lbd_config *c,
		     struct config_diag *diag);
void node_role_stop(struct lbd_daemon *d);
int node_role_check(const struct lbd_config *c, const char *path);
int node_role_cleanup(const struct lbd_config *c);
void node_role_status(const struct lbd_daemon *d, char *buf, size_t len);
/* What control asks of the node role (ctl_ctx's node_* callbacks; arg
 * is the daemon). */
void node_role_status_json(void *arg, struct json_object *out);
void node_role_services_json(void *arg, struct json_object *list);
int node_role_reasons(void *arg, __u64 *out);
/* the tc path's counters (LBD_NODE_TC_REASON_MAX of them) */
int node_role_tc_reasons(void *arg, __u64 *out);
/* The NIC path's counters (LBD_NODE_NIC_REASON_MAX); -ENODEV: none. */
int node_role_nic_reasons(void *arg, __u64 *out);
/* The DSR receiver's counters (the companion's, c[LBD_REASON_MAX]). */
int node_role_dsr_reasons(void *arg, struct lbd_counter *out);
void node_role_metrics(void *arg, struct lbd_metrics_snap *s);
/* A new io process: the health check ports it is to serve. */
void node_role_io_up(struct lbd_daemon *d, struct proc *io);
int node_role_explain(void *arg, const struct lbd_ctl_req *req,
		      struct json_object *out, char *err, size_t errlen);

#endif /* LBD_DAEMON_H */
