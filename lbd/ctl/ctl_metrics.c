// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The metrics snapshot, rendered by the io process (metrics.c). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl_int.h"
#include "ctwalk.h"
#include "health.h"
#include "log.h"
#include "metrics_snap.h"
#include "proc.h"
#include "sockdiag.h"

/* The backend role's report of its connections (sockdiag.h), which
 * lbctl drain --wait on an LB host reads in flow_state = "backends";
 * left out when the count failed (not 0). */
static void backend_connections(struct lbd_metrics_snap *s)
{
	struct sockdiag_count *c;
	char a[INET6_ADDRSTRLEN];
	size_t i, n;
	int r = sockdiag_connections(&c, &n);

	if (r) {
		log_warnx("counting the node's connections: %s", strerror(-r));
		return;
	}
	s->h.flags |= LBD_MET_F_CONNS;
	for (i = 0; i < n; i++) {
		struct lbd_metrics_rec *m = metrics_snap_add(s, LBD_MET_CONN);

		if (!m)
			break;
		METRICS_STR(m->u.conn.address,
			    ctl_addr_str(c[i].family, &c[i].addr, a,
					 sizeof(a)));
		m->u.conn.port = c[i].port;
		m->u.conn.connections = c[i].connections;
	}
	free(c);
}

/*
 * One process from /proc/PID/stat (world-readable): its comm, parent,
 * CPU time (utime + stime, fields 14 and 15) and resident set (field
 * 24, pages), and its descriptors where lbd may list them (a child of
 * another user, without CAP_SYS_PTRACE, it may not: -1, and the io
 * process counts its own). 0, or -1 when it is gone or not parsed.
 */
static int proc_read(pid_t pid, pid_t *ppid, struct lbd_met_proc *p)
{
	char path[64], buf[1024], *lp, *rp;
	unsigned long long utime, stime;
	long long rss;
	struct dirent *e;
	ssize_t n;
	DIR *dir;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: it ends at the last ')' */
	lp = strchr(buf, '(');
	rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp ||
	    sscanf(rp + 2,
		   "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %*u %*u %lld",
		   ppid, &utime, &stime, &rss) != 4)
		return -1;
	memset(p, 0, sizeof(*p));
	*rp = '\0';
	METRICS_STR(p->name, lp + 1);
	p->pid = (__u32)pid;
	p->cpu_seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
	p->rss_bytes = rss > 0 ? (__u64)rss * (__u64)sysconf(_SC_PAGESIZE) : 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	p->open_fds = dir ? 0 : -1;
	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.')
			p->open_fds++;
	if (dir)
		closedir(dir);
	return 0;
}

/* lbd and its children (the io process, the prober, the Kubernetes
 * client): the processes whose parent lbd is. */
static void processes(struct lbd_metrics_snap *s)
{
	struct lbd_metrics_rec *m;
	struct lbd_met_proc p;
	pid_t self = getpid(), ppid;
	struct dirent *e;
	DIR *dir;

	if (proc_read(self, &ppid, &p))
		return;
	m = metrics_snap_add(s, LBD_MET_PROC);
	if (!m)
		return;
	m->u.proc = p;
	/* "lbd" whatever the binary is called: the series name lbd */
	METRICS_STR(m->u.proc.name, "lbd");
	dir = opendir("/proc");
	while (dir && (e = readdir(dir))) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self ||
		    proc_read((pid_t)pid, &ppid, &p) || ppid != self)
			continue;
		m = metrics_snap_add(s, LBD_MET_PROC);
		if (!m)
			break;
		m->u.proc = p;
	}
	if (dir)
		closedir(dir);
}

static void reasons(struct ctl_ctx *x, struct lbd_metrics_snap *s)
{
	struct lbd_counter c[LBD_REASON_MAX];
	int r;

	if (ctl_read_reasons(x, c))
		return;
	s->h.flags |= LBD_MET_F_REASONS;
	for (r = 0; r < LBD_REASON_MAX; r++) {
		struct lbd_metrics_rec *m;

		/* the other role's reasons are always 0 here (the node
		 * role's are its DSR receiver's, the companion's) */
		if (!strncmp(ctl_reason_enums[r], "LBD_BE_", 7) !=
		    (ctl_cfg(x)->role != LBD_ROLE_LB))
			continue;
		m = metrics_snap_add(s, LBD_MET_REASON);
		if (!m)
			return;
		METRICS_STR(m->u.reason.reason, ctl_reason_labels[r]);
		METRICS_STR(m->u.reason.kind, ctl_reason_kind(r));
		m->u.reason.packets = c[r].packets;
		m->u.reason.bytes = c[r].bytes;
	}
}

static void backend_rec(struct ctl_ctx *x, const struct st_service *s,
			const struct st_backend *b, const __u32 *flows,
			double share, struct lbd_met_backend *m)
{
	const struct hm_check *c = health_of(*x->health, s, b);
	char l[INET6_ADDRSTRLEN + 10];
	struct lbd_traffic t = { 0 };

	/* the counters of a backend id count from when it got the id */
	dp_be_traffic(ctl_dp(x), b->id, &t);
	METRICS_STR(m->backend, ctl_be_label(b, l, sizeof(l)));
	METRICS_STR(m->state, ctl_be_state_str(b->dp_state));
	m->packets = t.packets;
	m->bytes = t.bytes;
	m->new_flows = t.new_flows;
	m->active_flows = flows ? flows[b->id] : 0;
	m->weight = b->weight;
	m->share = share;
	m->healthy = !b->health_down;
	m->drained = b->drained;
	if (c) {
		m->has_check = 1;
		m->check_seconds = c->latency_us / 1e6;
		m->check_ok = c->have_result && c->last_ok;
		m->health_changes = c->changes;
	}
}

static int services(struct ctl_ctx *x, struct lbd_metrics_snap *snap)
{
	struct flows_count fc;
	size_t i, j;
	int r = ctl_count_flows(x, &fc);

	if (r) {
		free(fc.per_be);
		return r;
	}
	for (i = 0; i < 2; i++) {
		long n = dp_map_count(ctl_dp(x), i ? DP_MAP_NAT6 : DP_MAP_NAT4);

		snap->h.ct_entries[i] = fc.entries[i];
		snap->h.ct_live[i] = fc.live[i];
		snap->h.ct_capacity[i] = dp_opts(ctl_dp(x))->ct_entries;
		snap->h.nat_entries[i] = n < 0 ? 0 : (__u64)n;
		snap->h.nat_capacity[i] = dp_opts(ctl_dp(x))->nat_entries;
	}
	{
		long n = dp_map_count(ctl_dp(x), DP_MAP_AFFINITY);

		snap->h.aff_entries = n < 0 ? 0 : (__u64)n;
		snap->h.aff_capacity = dp_opts(ctl_dp(x))->affinity_entries;
	}
	for (i = 0; i < x->st->n_svc; i++) {
		const struct st_service *s = &x->st->svc[i];
		struct lbd_metrics_rec *m =
			metrics_snap_add(snap, LBD_MET_SERVICE);
		struct lbd_met_service *ms;
		struct lbd_traffic t = { 0 };
		char a[INET6_ADDRSTRLEN];
		double *share;

		if (!m)
			break;
		ms = &m->u.service;
		dp_svc_traffic(ctl_dp(x), s->id, &t);
		METRICS_STR(ms->name, s->name);
		METRICS_STR(ms->vip, ctl_addr_str(s->key.family, &s->key.vip, a,
						  sizeof(a)));
		ms->port = ntohs(s->key.port);
		METRICS_STR(ms->protocol, config_proto_str(s->key.proto));
		METRICS_STR(ms->forwarding, config_fwd_str(s->fwd));
		METRICS_STR(ms->source, s->source[0] ? s->source :
					s->adopted   ? "adopted" :
						       "-");
		ms->active_backends = (__u32)ctl_active_backends(s);
		ms->n_backends = (__u32)s->n_be;
		ms->packets = t.packets;
		ms->bytes = t.bytes;
		ms->new_flows = t.new_flows;
		if (!ctl_cfg(x)->control.metrics_backends) {
			ms->n_backends = 0;
			continue;
		}
		snap->h.flags |= LBD_MET_F_BACKENDS;
		share = ctl_shares_of(x, s);
		for (j = 0; j < s->n_be; j++) {
			struct lbd_metrics_rec *b =
				metrics_snap_add(snap, LBD_MET_BACKEND);

			if (!b)
				break;
			backend_rec(x, s, &s->be[j], fc.per_be,
				    share ? share[j] : 0, &b->u.backend);
		}
		free(share);
	}
	free(fc.per_be);
	return 0;
}

int control_metrics(struct ctl_ctx *x, struct lbd_metrics_snap *s)
{
	const struct lbd_config *cfg = ctl_cfg(x);
	struct ctl_info in;
	int r;

	ctl_info_get(x, &in);
	metrics_snap_free(s);
	memset(s, 0, sizeof(*s));
	METRICS_STR(s->h.version, LBD_VERSION);
	METRICS_STR(s->h.role, ctl_role_name(cfg));
	s->h.start_time_s = ctl_start_time_s(&in);
	s->h.generation = in.generation;
	s->h.reloads = in.reloads;
	s->h.reload_failures = in.reload_failures;
	s->h.last_reload_ok = in.last_ok;
	s->h.last_reload_s = in.last_ms / 1000;
	s->h.last_reload_at_s = in.last_at_s;
	s->h.monitor_lost = x->mon.lost;
	reasons(x, s);
	if (cfg->role == LBD_ROLE_LB) {
		s->h.flags |= LBD_MET_F_DATAPATH;
		METRICS_STR(s->h.interface, cfg->dp.interface);
		METRICS_STR(s->h.mode, in.native ? "native" : "generic");
		s->h.attached = in.prog_id != 0 && in.attached;
		s->h.apply_ok = !x->st->last_err;
		METRICS_STR(s->h.serving, state_served_str(x->st->served));
		s->h.apply_failures = x->st->failures;
		s->h.apply_rollback_failures = x->st->rollback_failures;
		s->h.drains = ctl_drains_count(x);
		if (x->k8s_metrics)
			x->k8s_metrics(x->arg, s);
		health_metrics(*x->health, &s->h);
		if (x->bgp_metrics)
			x->bgp_metrics(x->arg, s);
		r = services(x, s);
		if (r)
			return r;
	}
	if (cfg->role == LBD_ROLE_BACKEND)
		backend_connections(s);
	if (cfg->role == LBD_ROLE_NODE && x->node_metrics)
		x->node_metrics(x->arg, s);
	processes(s);
	return s->err;
}

/*
 * The snapshot goes to the io process as it is, a LBD_MSG_METRICS
 * message, instead of a reply: as hex inside JSON text it was twice the
 * size, escaped, parsed and decoded again (a third of a 10,000-service
 * scrape's time). 0 when it went (control_request then sends no reply:
 * the io process has one metrics request in flight, and this is its
 * answer); an error is a reply as any other.
 */
int ctl_metrics(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen)
{
	struct lbd_metrics_snap s = { 0 };
	size_t len = 0;
	void *buf = NULL;
	int r;

	(void)req;
	(void)out;
	r = control_metrics(x, &s);
	if (!r)
		r = metrics_snap_encode(&s, &buf, &len);
	metrics_snap_free(&s);
	if (!r && len > LBD_MSG_MAX)
		r = -EMSGSIZE;
	if (!r)
		r = *x->io ? proc_send(*x->io, LBD_MSG_METRICS, 0, buf, len) :
			     -ENOTCONN;
	free(buf);
	if (r) {
		snprintf(err, errlen, "metrics: %s", strerror(-r));
		return r;
	}
	return 0;
}
