// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Role "lb": the XDP program on the LB host's edge NIC, its pinned maps,
 * and the config applied to them as a difference.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "bpffs.h"
#include "control.h"
#include "daemon.h"
#include "drains.h"
#include "hcdp.h"
#include "health.h"
#include "hostaddrs.h"
#include "k8s.h"
#include "k8s_proc.h"
#include "log.h"
#include "metrics_snap.h"
#include "netlink.h"
#include "preview.h"
#include "sorted.h"
#include "vips.h"

/* How often lbd looks whether its XDP program is still attached (a VIP
 * is announced only while it is). */
#define WATCH_USEC (1000 * 1000)

/* A plan longer than this is logged as its first lines and a count. */
#define PLAN_LOG_MAX 40

struct plan_log {
	unsigned int n;
};

static void plan_to_log(void *arg, const char *line)
{
	struct plan_log *pl = arg;

	if (pl->n++ < PLAN_LOG_MAX)
		log_info("%s", line);
}

static void plan_to_stdout(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
}

static size_t count_backends(const struct lbd_state *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_svc; i++)
		n += st->svc[i].n_be;
	return n;
}

void lb_status(const struct lbd_daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "%zu services, %zu backends on %s",
		 d->lb.st.n_svc, count_backends(&d->lb.st), d->cfg->dp.interface);
}

static void log_apply(const struct apply_result *r, const struct plan_log *pl)
{
	if (pl->n > PLAN_LOG_MAX)
		log_info("... and %u more changes", pl->n - PLAN_LOG_MAX);
	log_info("applied: services +%u -%u ~%u, backends +%u -%u ~%u, "
		 "%u tables (%.1f ms building them), %lu map writes",
		 r->svc_added, r->svc_removed, r->svc_changed, r->be_added,
		 r->be_removed, r->be_changed, r->tables, r->maglev_ms,
		 r->writes);
}

/* What a reload cannot change without losing the maps' contents. */
static int check_immutable(const struct lbd_config *old,
			   const struct lbd_config *c, struct config_diag *diag)
{
	const struct lbd_conf_datapath *o = &old->dp, *n = &c->dp;
	const struct {
		const char *name;
		__u32 was, is;
	} sizes[] = {
		{ "conntrack_entries", o->conntrack_entries,
		  n->conntrack_entries },
		{ "max_services", o->max_services, n->max_services },
		{ "max_backends", o->max_backends, n->max_backends },
		{ "max_vips", o->max_vips, n->max_vips },
	};
	size_t i, before = diag->n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (sizes[i].was != sizes[i].is)
			diag_pushf(diag,
				   "%s: datapath.%s: %u -> %u cannot change "
				   "while lbd runs (the map holds live state); "
				   "restart lbd after lbd --cleanup",
				   c->files[0], sizes[i].name, sizes[i].was,
				   sizes[i].is);
	if (strcmp(o->pin_path, n->pin_path))
		diag_pushf(diag,
			   "%s: datapath.pin_path: cannot change while lbd "
			   "runs",
			   c->files[0]);
	return diag->n > before ? -EINVAL : 0;
}

static int setup_tx_ports(struct lbd_daemon *d, const struct lbd_config *c,
			  struct config_diag *diag)
{
	size_t i;
	int err;

	for (i = 0; i < c->dp.n_egress; i++) {
		unsigned int ifx = if_nametoindex(c->dp.egress[i]);

		if (!ifx) {
			diag_pushf(diag,
				   "%s: datapath.egress_interfaces: no "
				   "interface %s",
				   c->files[0], c->dp.egress[i]);
			return -ENODEV;
		}
		err = xdp_enable_forwarding(c->dp.egress[i]);
		if (!err)
			err = dp_tx_port_put(d->lb.dp, ifx);
		if (err) {
			diag_pushf(diag, "egress interface %s: %s",
				   c->dp.egress[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int attach(struct lbd_daemon *d, const struct lbd_config *c,
		  struct config_diag *diag)
{
	int err;

	d->lb.ifindex = (int)if_nametoindex(c->dp.interface);
	if (!d->lb.ifindex) {
		diag_pushf(diag, "%s: datapath.interface: no interface \"%s\"",
			   c->files[0], c->dp.interface);
		return -ENODEV;
	}
	err = xdp_enable_forwarding(c->dp.interface);
	if (err) {
		diag_pushf(diag, "enabling forwarding on %s: %s",
			   c->dp.interface, strerror(-err));
		return err;
	}
	err = xdp_lbd_attach(d->lb.ifindex, dp_prog_fd(d->lb.dp), c->dp.xdp_mode,
			     &d->lb.att);
	if (err) {
		diag_pushf(diag, "attaching XDP to %s: %s", c->dp.interface,
			   strerror(-err));
		return err;
	}
	log_info("XDP program %u attached to %s (%s%s)", d->lb.att.prog_id,
		 c->dp.interface, d->lb.att.native ? "native" : "generic",
		 d->lb.att.dispatcher ? ", libxdp dispatcher" : "");
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	return config_addr_cmp(a, b);
}

/*
 * Keeps the next hop of every backend resolved. The XDP program finds the
 * next hop's MAC in the kernel's neighbour table; an entry nothing else
 * made (an IPv6 router the LB host never spoke to) would leave packets
 * passed to the kernel, unforwarded. Managed entries are resolved and kept
 * resolved by the kernel. Each backend address is looked at once.
 */
static void resolve_nexthops(struct lbd_daemon *d)
{
	struct lbd_conf_addr *all;
	unsigned int added = 0;
	size_t i, j, n = 0;

	for (i = 0; i < d->lb.st.n_svc; i++)
		n += d->lb.st.svc[i].n_be;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return;
	n = 0;
	for (i = 0; i < d->lb.st.n_svc; i++)
		for (j = 0; j < d->lb.st.svc[i].n_be; j++)
			all[n++] = d->lb.st.svc[i].be[j].addr;
	qsort(all, n, sizeof(*all), addr_cmp);
	for (i = 0, j = 0; i < n; i++)
		if (!j || addr_cmp(&all[j - 1], &all[i]))
			all[j++] = all[i];
	n = j;
	for (i = 0; i < n; i++) {
		union lbd_addr nh;
		int ifx;

		if (sorted_find(&all[i], d->lb.nh_done, d->lb.n_nh_done,
				sizeof(*all), addr_cmp))
			continue;
		if (nl_nexthop(all[i].family, &all[i].addr, &nh, &ifx) == 0 &&
		    nl_neigh_managed(ifx, all[i].family, &nh) == 0)
			added++;
	}
	free(d->lb.nh_done);
	d->lb.nh_done = all;
	d->lb.n_nh_done = n;
	if (added)
		log_debug("%u backends' next hops made managed neighbours",
			  added);
}

#define HOST_ADDRS_MAX 64

/* The addresses of interface ifx where services are reached (not the
 * link-local ones): their count, or a negative errno. */
static int edge_addrs(int ifx, struct lbd_conf_addr *a)
{
	int n = nl_addr_list(ifx, a, HOST_ADDRS_MAX), i, k = 0;

	for (i = 0; i < n; i++)
		if (!(a[i].family == LBD_AF_INET6 && a[i].addr.b[0] == 0xfe &&
		      (a[i].addr.b[1] & 0xc0) == 0x80))
			a[k++] = a[i];
	return n < 0 ? n : k;
}

/* The edge interface's addresses, where vip = "*" services listen. */
static int host_addrs(struct lbd_state *st, const struct lbd_config *c,
		      struct config_diag *diag)
{
	struct lbd_conf_addr a[HOST_ADDRS_MAX];
	int ifx = (int)if_nametoindex(c->dp.interface), n;

	if (!ifx)
		return 0; /* attach() says so */
	n = edge_addrs(ifx, a);
	if (n < 0) {
		diag_pushf(diag, "addresses of %s: %s", c->dp.interface,
			   strerror(-n));
		return n;
	}
	return state_set_host_addrs(st, a, (size_t)n);
}

/* Every address of the LB host (all interfaces), which no VIP but a
 * vip = "*" service's may be: 1 when they changed, 0, or a negative
 * errno. */
static int own_addrs(struct sources *src)
{
	struct lbd_conf_addr *a;
	size_t n;
	int err = hostaddrs_list(&a, &n);

	if (err)
		return err;
	err = sources_set_host_addrs(src, a, n);
	free(a);
	return err;
}

/* The host's addresses now, and none of them a VIP of c's file. */
static int own_addrs_check(struct sources *src, const struct lbd_config *c,
			   struct config_diag *diag)
{
	int err = own_addrs(src);

	if (err < 0) {
		diag_pushf(diag, "the LB host's addresses: %s", strerror(-err));
		return err;
	}
	return sources_check_file(src, c, diag);
}

/*
 * The kernel must not pick SNAT's ports for the LB host's own
 * connections: their replies would be taken for SNAT flows'. The range
 * joins ip_local_reserved_ports (which covers IPv6 too).
 */
static int reserve_snat_ports(const struct lbd_config *c,
			      struct config_diag *diag)
{
	static const char path[] = "/proc/sys/net/ipv4/ip_local_reserved_ports";
	char cur[4096] = "", want[64], line[sizeof(cur) + sizeof(want) + 2];
	FILE *f;
	size_t n;
	int err;

	snprintf(want, sizeof(want), "%u-%u", c->dp.snat_port_min,
		 c->dp.snat_port_max);
	f = fopen(path, "r");
	if (f) {
		n = fread(cur, 1, sizeof(cur) - 1, f);
		cur[n] = '\0';
		fclose(f);
	}
	cur[strcspn(cur, "\n")] = '\0';
	if (strstr(cur, want))
		return 0;
	snprintf(line, sizeof(line), "%s%s%s\n", cur, cur[0] ? "," : "", want);
	err = sysctl_write(path, line);
	if (err) {
		diag_pushf(diag, "reserving the SNAT ports %s: %s", want,
			   strerror(-err));
		return err;
	}
	log_info("SNAT ports %s reserved from the kernel's own use", want);
	return 0;
}

/* Whether a health check of c goes through the datapath. */
static bool needs_hc_program(const struct lbd_config *c)
{
	size_t i;

	for (i = 0; i < c->n_healths; i++)
		if (c->healths[i].type != LBD_HC_NONE &&
		    c->healths[i].via == LBD_HC_VIA_DATAPATH)
			return true;
	return false;
}

/*
 * The health check program (bpf/lb/hc.bpf.c) on the current datapath's maps
 * and knobs, on tc egress of the edge NIC: loaded whenever the XDP
 * program is, attached where it is. Without it a marked check would
 * leave unencapsulated, reach a VIP through the network and prove
 * nothing: where a check needs it, not having it is an error; elsewhere
 * a warning.
 */
static int hc_attach(struct lbd_daemon *d, const struct lbd_config *c,
		     struct config_diag *diag)
{
	struct hcdp *h;
	int err;

	err = hcdp_open(d->lb.dp, &h);
	if (!err) {
		err = hcdp_attach(h, d->lb.ifindex);
		if (err)
			hcdp_close(h);
	}
	if (err && needs_hc_program(c)) {
		diag_pushf(diag,
			   "the health check program on %s: %s (health "
			   "checks through the datapath need it)",
			   c->dp.interface, strerror(-err));
		return err;
	}
	if (err) {
		log_warnx("the health check program on %s: %s; health checks "
			  "through the datapath are not possible",
			  c->dp.interface, strerror(-err));
		return 0;
	}
	if (d->lb.hc_ifindex && d->lb.hc_ifindex != d->lb.ifindex)
		hcdp_detach(d->lb.hc_ifindex);
	hcdp_close(d->lb.hc);
	d->lb.hc = h;
	d->lb.hc_ifindex = d->lb.ifindex;
	return 0;
}

/* A start or reload with thousands of services takes seconds: systemd's
 * status and the log say how far the apply is, once a second (a notify
 * per batch would fill systemd's queue for nothing). Smaller applies are
 * over before anyone would look. */
static void apply_progress(void *arg, size_t done, size_t total)
{
	static struct timespec told;
	struct timespec now;

	daemon_progress(arg, done, total);
	if (total < 2048)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (done < total && now.tv_sec == told.tv_sec)
		return;
	told = now;
	sd_notifyf(0, "STATUS=applying the config: %zu of %zu services",
		   done, total);
	log_info("applying the config: %zu of %zu services", done, total);
}

int lb_start(struct lbd_daemon *d)
{
	struct config_diag diag = { 0 };
	struct lbd_config *c = d->cfg;
	struct plan_log pl = { 0 };
	struct lbd_dp_opts o;
	struct apply_result r;
	size_t i;
	int err;

	err = bpffs_ensure(c->dp.pin_path);
	if (err)
		return err;
	state_dp_opts(c, &o);
	err = dp_open(&o, &d->lb.dp);
	if (err)
		return err;
	err = state_init(&d->lb.st, o.max_services, o.max_backends);
	if (err)
		return err;
	d->lb.st.progress = apply_progress;
	d->lb.st.progress_arg = d;
	if (dp_adopted(d->lb.dp)) {
		err = state_adopt(&d->lb.st, d->lb.dp, c->dp.maglev_table_size,
				  c->dp.hash_seed);
		if (err) {
			log_warnx("reading the pinned state under %s: %s",
				  c->dp.pin_path, strerror(-err));
			return err;
		}
		log_info("adopted the datapath pinned under %s: %zu services, "
			 "%zu backends",
			 c->dp.pin_path, d->lb.st.n_svc, count_backends(&d->lb.st));
		/* before the apply, which keeps the flag of backends that
		 * stay: a drained backend never turns active in between */
		drains_restore(c->control.socket, &d->lb.st, d->lb.dp);
		/* the cluster's services are among the adopted ones: they
		 * stay until the first sync says what is current */
		d->lb.st.hold_adopted = c->k8s.enabled;
		/* the same for backends down by health: they stay down
		 * until their check says otherwise */
		health_adopted(&d->lb.st);
	}
	err = lb_k8s_prepare(d, c, &diag);
	if (!err)
		err = setup_tx_ports(d, c, &diag);
	if (!err)
		err = host_addrs(&d->lb.st, c, &diag);
	if (!err)
		err = own_addrs_check(&d->lb.src, c, &diag);
	if (!err)
		err = reserve_snat_ports(c, &diag);
	if (!err) {
		err = lb_k8s_apply(d, c, plan_to_log, &pl, &r);
		if (!err)
			log_apply(&r, &pl);
	}
	if (!err)
		resolve_nexthops(d);
	/* attach last: the new program starts on complete maps */
	if (!err)
		err = attach(d, c, &diag);
	if (!err)
		err = hc_attach(d, c, &diag);
	d->lb.attached = !err;
	for (i = 0; i < diag.n; i++)
		log_warnx("%s", diag.msgs[i]);
	config_diag_free(&diag);
	return err;
}

/*
 * A change of load-time knobs (seed, encap source, timeouts) or of the
 * interface loads a new program on the same maps and swaps it in; then
 * only the difference of the services is written.
 */
int lb_reload(struct lbd_daemon *d, const struct lbd_config *c,
	      struct config_diag *diag)
{
	struct plan_log pl = { 0 };
	struct lbd_dp_opts want;
	struct apply_result r;
	struct lbd_dp *ndp;
	int err;

	err = check_immutable(d->cfg, c, diag);
	if (!err)
		err = lb_k8s_prepare(d, c, diag);
	if (err)
		return err;
	state_dp_opts(c, &want);
	if (memcmp(&want.knobs, &dp_opts(d->lb.dp)->knobs, sizeof(want.knobs)) ||
	    strcmp(c->dp.interface, d->cfg->dp.interface) ||
	    c->dp.xdp_mode != d->cfg->dp.xdp_mode) {
		log_info("datapath settings changed: loading a new program on "
			 "the same maps");
		err = dp_open(&want, &ndp);
		if (err) {
			diag_pushf(diag, "loading the new program: %s",
				   strerror(-err));
			return err;
		}
		if (strcmp(c->dp.interface, d->cfg->dp.interface))
			xdp_lbd_detach(d->lb.ifindex);
		dp_close(d->lb.dp);
		d->lb.dp = ndp;
		err = attach(d, c, diag);
		if (!err)
			err = hc_attach(d, c, diag);
		d->lb.attached = !err;
		if (err)
			return err;
	}
	/* a check through the datapath that the last config did not have
	 * needs the program it could do without */
	if (!d->lb.hc && needs_hc_program(c)) {
		err = hc_attach(d, c, diag);
		if (err)
			return err;
	}
	err = setup_tx_ports(d, c, diag);
	if (!err)
		err = host_addrs(&d->lb.st, c, diag);
	if (!err)
		err = own_addrs_check(&d->lb.src, c, diag);
	if (!err)
		err = reserve_snat_ports(c, diag);
	/* the cluster's services as the child last translated them; its
	 * translation under c's kubernetes settings (vip_ranges,
	 * forwarding) follows lb_k8s_commit as a new set */
	if (!err) {
		err = lb_k8s_apply(d, c, plan_to_log, &pl, &r);
		if (err)
			diag_pushf(diag, "applying: %s", strerror(-err));
	}
	if (err)
		return err;
	log_apply(&r, &pl);
	resolve_nexthops(d);
	lb_k8s_commit(d, c);
	return 0;
}

static bool has_wildcard(const struct lbd_config *c)
{
	size_t i;

	for (i = 0; i < c->n_services; i++)
		if (c->services[i].wildcard)
			return true;
	return false;
}

/*
 * vip = "*" services follow the edge interface's addresses, as a NodePort
 * does: an address added or removed applies the running config again.
 * Checked once a second, with the attachment.
 */
static void follow_host_addrs(struct lbd_daemon *d)
{
	struct lbd_conf_addr a[HOST_ADDRS_MAX], was[HOST_ADDRS_MAX];
	size_t n_was = d->lb.st.n_host;
	struct plan_log pl = { 0 };
	struct apply_result r;
	int n, err;

	if (!has_wildcard(d->cfg) || n_was > HOST_ADDRS_MAX)
		return;
	n = edge_addrs(d->lb.ifindex, a);
	if (n < 0 || ((size_t)n == d->lb.st.n_host &&
		      !memcmp(a, d->lb.st.host, (size_t)n * sizeof(*a))))
		return;
	log_info("the addresses of %s changed (%zu -> %d): services on "
		 "vip \"*\" follow",
		 d->cfg->dp.interface, d->lb.st.n_host, n);
	if (n_was)
		memcpy(was, d->lb.st.host, n_was * sizeof(*was));
	err = state_set_host_addrs(&d->lb.st, a, (size_t)n);
	if (!err)
		err = lb_k8s_apply(d, d->cfg, plan_to_log, &pl, &r);
	if (err) {
		/* what serves is what was there: the old addresses back, so
		 * that the next second tries again */
		log_warnx("following the addresses of %s: %s",
			  d->cfg->dp.interface, strerror(-err));
		state_set_host_addrs(&d->lb.st, was, n_was);
		return;
	}
	log_apply(&r, &pl);
	control_applied(&d->ctl);
	lb_reloaded(d);
}

/*
 * An address that comes to the LB host (on any interface) refuses the
 * services on it; one that leaves lets them be served. Checked once a
 * second, with the attachment.
 */
static void follow_own_addrs(struct lbd_daemon *d)
{
	struct plan_log pl = { 0 };
	struct apply_result r;
	int err = own_addrs(&d->lb.src);

	if (err <= 0) {
		if (err)
			log_warnx("the LB host's addresses: %s",
				  strerror(-err));
		return;
	}
	err = lb_k8s_apply(d, d->cfg, plan_to_log, &pl, &r);
	if (err) {
		log_warnx("following the LB host's addresses: %s",
			  strerror(-err));
		return;
	}
	if (r.svc_added + r.svc_removed + r.svc_changed) {
		log_apply(&r, &pl);
		control_applied(&d->ctl);
		lb_reloaded(d);
	}
}

/*
 * After a rollback that failed, the datapath serves part of two states:
 * consistent for every packet, but what no config says, and re-read from
 * the maps (so VIPs are announced by what they serve). The config is
 * applied again, with a pause that doubles from 1 s to 64 s, until an
 * apply succeeds.
 */
#define MIXED_PAUSE_MAX_S 64

static void retry_mixed(struct lbd_daemon *d, uint64_t now)
{
	struct plan_log pl = { 0 };
	struct apply_result r;
	int err;

	if (d->lb.st.served != ST_SERVED_MIXED) {
		d->lb.mixed_pause_s = 0;
		return;
	}
	if (d->lb.mixed_pause_s && now < d->lb.mixed_retry_at)
		return;
	err = lb_k8s_apply(d, d->cfg, plan_to_log, &pl, &r);
	if (err) {
		d->lb.mixed_pause_s = d->lb.mixed_pause_s ? d->lb.mixed_pause_s * 2 : 1;
		if (d->lb.mixed_pause_s > MIXED_PAUSE_MAX_S)
			d->lb.mixed_pause_s = MIXED_PAUSE_MAX_S;
		d->lb.mixed_retry_at = now + d->lb.mixed_pause_s * 1000000ull;
		log_warnx("applying the config again after a failed rollback: "
			  "%s; next try in %u s",
			  strerror(-err), d->lb.mixed_pause_s);
		vips_update(d->lb.vips);
		return;
	}
	log_info("applied the config again after a failed rollback: the "
		 "datapath serves it whole");
	d->lb.mixed_pause_s = 0;
	log_apply(&r, &pl);
	resolve_nexthops(d);
	control_applied(&d->ctl);
	lb_reloaded(d);
}

static int on_watch(sd_event_source *s, uint64_t usec, void *arg)
{
	struct lbd_daemon *d = arg;
	struct xdp_attachment now;
	bool attached;

	attached = xdp_lbd_query(d->lb.ifindex, &now) == 0 && now.prog_id &&
		   now.prog_id == d->lb.att.prog_id;
	if (attached != d->lb.attached) {
		if (attached)
			log_info("XDP program %u is attached to %s again",
				 d->lb.att.prog_id, d->cfg->dp.interface);
		else
			log_warnx("XDP program %u is no longer attached to %s",
				  d->lb.att.prog_id, d->cfg->dp.interface);
		d->lb.attached = attached;
		vips_update(d->lb.vips);
	}
	follow_host_addrs(d);
	follow_own_addrs(d);
	retry_mixed(d, usec);
	sd_event_source_set_time(s, usec + WATCH_USEC);
	sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

static void on_backend_changed(void *arg, const struct st_service *s,
			       const struct st_backend *b, const char *cause)
{
	struct lbd_daemon *d = arg;

	control_backend_event(&d->ctl, s, b, cause);
}

static void on_verdicts_applied(void *arg)
{
	struct lbd_daemon *d = arg;

	vips_update(d->lb.vips);
}

/* What health and the VIPs' announcement see of the role. */
static void lb_health_ctx(struct lbd_daemon *d, struct health_ctx *x)
{
	*x = (struct health_ctx){ .ev = d->ev,
				  .cfg = &d->cfg,
				  .st = &d->lb.st,
				  .dp = &d->lb.dp,
				  .ifindex = &d->lb.ifindex,
				  .backend_changed = on_backend_changed,
				  .verdicts_applied = on_verdicts_applied,
				  .arg = d };
}

static void lb_vips_ctx(struct lbd_daemon *d, struct vips_ctx *x)
{
	*x = (struct vips_ctx){ .ev = d->ev,
				.cfg = &d->cfg,
				.st = &d->lb.st,
				.attached = &d->lb.attached,
				.health = &d->lb.health };
}

int lb_loop_start(struct lbd_daemon *d)
{
	struct health_ctx hx;
	struct vips_ctx vx;
	uint64_t now;
	int err;

	lb_health_ctx(d, &hx);
	lb_vips_ctx(d, &vx);
	err = health_start(&hx, &d->lb.health);
	if (!err)
		err = vips_start(&vx, &d->lb.vips);
	if (err)
		return err;
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	return sd_event_add_time(d->ev, &d->lb.watch, CLOCK_MONOTONIC,
				 now + WATCH_USEC, 100 * 1000, on_watch, d) < 0
		       ? -ENOMEM
		       : 0;
}

void lb_reloaded(struct lbd_daemon *d)
{
	struct vips_ctx vx;

	lb_vips_ctx(d, &vx);
	health_sync(d->lb.health);
	vips_reloaded(&d->lb.vips, &vx);
}

void lb_stop(struct lbd_daemon *d)
{
	lb_k8s_stop(d);
	d->lb.watch = sd_event_source_disable_unref(d->lb.watch);
	vips_stop(d->lb.vips);
	d->lb.vips = NULL;
	health_stop(d->lb.health);
	d->lb.health = NULL;
	/* the health check program stays attached, as the XDP program:
	 * without lbd it sees no marked packets */
	hcdp_close(d->lb.hc);
	d->lb.hc = NULL;
	free(d->lb.nh_done);
	d->lb.nh_done = NULL;
	state_free(&d->lb.st);
	dp_close(d->lb.dp);
	d->lb.dp = NULL;
}

int lb_check(const struct lbd_config *c, const char *path)
{
	struct config_diag diag = { 0 };
	struct st_service *planned = NULL;
	struct lbd_dp *dp = NULL;
	size_t n = 0;
	struct lbd_state st;
	struct apply_result r;
	int err;

	err = state_init(&st, c->dp.max_services, c->dp.max_backends);
	if (!err && c->k8s.enabled) {
		struct kubeconfig kc;
		char msg[1024];

		err = kubeconfig_load(c->k8s.kubeconfig, c->k8s.context, &kc,
				      msg, sizeof(msg));
		if (err) {
			fprintf(stderr, "%s\n", msg);
			goto out;
		}
		kubeconfig_free(&kc);
	}
	if (!err)
		err = host_addrs(&st, c, &diag);
	if (!err) {
		struct sources src = { 0 };
		size_t i;

		err = own_addrs_check(&src, c, &diag);
		sources_free(&src);
		for (i = 0; i < diag.n; i++)
			fprintf(stderr, "%s\n", diag.msgs[i]);
	}
	config_diag_free(&diag);
	if (err)
		goto out;
	if (dp_open_pinned(c->dp.pin_path, &dp) == 0) {
		err = state_adopt(&st, dp, c->dp.maglev_table_size,
				  c->dp.hash_seed);
		if (err)
			goto out;
		/* without the cluster, its services are not to go */
		st.hold_adopted = c->k8s.enabled;
		printf("plan against the running datapath under %s%s:\n",
		       c->dp.pin_path,
		       c->k8s.enabled ? " (the cluster's services not "
					"included)"
				      : "");
	} else {
		printf("plan against an empty datapath (nothing pinned under "
		       "%s):\n",
		       c->dp.pin_path);
	}
	err = state_plan(&st, c, plan_to_stdout, NULL, &r, &planned, &n);
	/* what the edit costs the flows: the slots that move */
	if (!err)
		err = preview_print(dp, &st, planned, n, c, stdout);
	if (!err)
		printf("%s: valid; services +%u -%u ~%u, backends +%u -%u ~%u\n",
		       path, r.svc_added, r.svc_removed, r.svc_changed,
		       r.be_added, r.be_removed, r.be_changed);
out:
	state_services_free(planned, n);
	state_free(&st);
	dp_close(dp);
	if (err) {
		fprintf(stderr, "%s: %s\n", path, strerror(-err));
		return 1;
	}
	return 0;
}

int lb_cleanup(const struct lbd_config *c)
{
	int err = 0, ifindex = (int)if_nametoindex(c->dp.interface);

	/* what the datapath no longer serves is announced no more */
	err = vips_cleanup(c);
	if (err)
		log_warnx("withdrawing from BIRD: %s", strerror(-err));
	err = 0;
	if (ifindex) {
		err = xdp_lbd_detach(ifindex);
		if (!err)
			err = hcdp_detach(ifindex);
		if (err)
			log_warnx("detaching from %s: %s", c->dp.interface,
				  strerror(-err));
		else
			log_info("detached from %s", c->dp.interface);
	}
	if (!err) {
		err = dp_unpin_all(c->dp.pin_path);
		if (!err)
			log_info("unpinned everything under %s",
				 c->dp.pin_path);
	}
	return err ? 1 : 0;
}

/* -- Kubernetes ----------------------------------------------------------- */

/*
 * The kubeconfig must be readable (by root: it may be root's only); its
 * YAML is the child's to parse, so an error there is the child's status
 * and log (it keeps its client), not a reload's failure.
 */
int lb_k8s_prepare(struct lbd_daemon *d, const struct lbd_config *c,
		   struct config_diag *diag)
{
	char msg[LBD_K8S_PATH_MAX + 64], *kc;
	size_t len;
	int err;

	(void)d;
	if (!c->k8s.enabled)
		return 0;
	err = k8s_proc_read_file(c->k8s.kubeconfig, &kc, &len, msg,
				 sizeof(msg));
	if (err) {
		diag_pushf(diag, "%s", msg);
		return err;
	}
	explicit_bzero(kc, len);
	free(kc);
	return 0;
}

/* New warnings of the translation are logged; those that stay are not
 * again. */
static void log_k8s_warnings(struct lbd_daemon *d, struct k8s_set *set)
{
	size_t i, j = 0;

	for (i = 0; i < set->n_warnings; i++) {
		while (j < d->lb.n_k8s_warnings &&
		       strcmp(d->lb.k8s_warnings[j], set->warnings[i]) < 0)
			j++;
		if (j < d->lb.n_k8s_warnings &&
		    !strcmp(d->lb.k8s_warnings[j], set->warnings[i]))
			continue;
		log_warnx("kubernetes: %s", set->warnings[i]);
	}
	for (i = 0; i < d->lb.n_k8s_warnings; i++)
		free(d->lb.k8s_warnings[i]);
	free(d->lb.k8s_warnings);
	/* the set's warnings move here */
	d->lb.k8s_warnings = set->warnings;
	d->lb.n_k8s_warnings = set->n_warnings;
	set->warnings = NULL;
	set->n_warnings = 0;
}

/* New refusals of the translation are logged and counted by reason;
 * those that stay are not again. */
static void log_k8s_refusals(struct lbd_daemon *d, struct k8s_set *set)
{
	size_t i, j = 0;

	for (i = 0; i < set->n_refusals; i++) {
		const struct k8s_refusal_line *r = &set->refusals[i];

		while (j < d->lb.n_k8s_refusals &&
		       strcmp(d->lb.k8s_refusals[j].msg, r->msg) < 0)
			j++;
		if (j < d->lb.n_k8s_refusals &&
		    !strcmp(d->lb.k8s_refusals[j].msg, r->msg))
			continue;
		log_warnx("kubernetes: refused (%s): %s",
			  k8s_refusal_name(r->reason), r->msg);
		if (r->reason < K8S_REFUSALS_N)
			d->lb.k8s_refused_total[r->reason]++;
		snprintf(d->lb.k8s_last_refusal, sizeof(d->lb.k8s_last_refusal), "%s",
			 r->msg);
	}
	for (i = 0; i < d->lb.n_k8s_refusals; i++)
		free(d->lb.k8s_refusals[i].msg);
	free(d->lb.k8s_refusals);
	/* the set's refusals move here */
	d->lb.k8s_refusals = set->refusals;
	d->lb.n_k8s_refusals = set->n_refusals;
	set->refusals = NULL;
	set->n_refusals = 0;
}

struct json_object *lb_k8s_refusals_json(const struct lbd_daemon *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *t = json_object_new_object();
	int r;

	json_object_object_add(
		o, "refused",
		json_object_new_int64(
			(int64_t)(d->lb.n_k8s_refusals +
				  sources_host_refused_k8s(&d->lb.src))));
	json_object_object_add(o, "last",
			       json_object_new_string(d->lb.k8s_last_refusal));
	for (r = 1; r < K8S_REFUSALS_N; r++)
		json_object_object_add(
			t, k8s_refusal_name(r),
			json_object_new_int64(
				(int64_t)(r == K8S_REFUSED_HOST_ADDRESS ?
						  d->lb.src.host_refusals_k8s :
						  d->lb.k8s_refused_total[r])));
	json_object_object_add(o, "total", t);
	return o;
}

/* The client's state for lbctl status and the metrics (daemon.h). */
void lb_k8s_json(void *arg, struct json_object *o)
{
	const struct lbd_daemon *d = arg;
	const struct lbd_config *c = d->cfg;
	struct lbd_k8s_status ks;
	struct json_object *res;
	size_t i, n = 0;
	int r, e;

#define jadd(o, k, v) json_object_object_add(o, k, v)
#define jint(i) json_object_new_int64((int64_t)(i))
#define jstr(s) json_object_new_string(s)
	jadd(o, "configured", json_object_new_boolean(c->k8s.enabled));
	if (!c->k8s.enabled)
		return;
	/* as the child last said it (checked by k8s_proc) */
	k8s_proc_status(d->lb.k8s, &ks);
	jadd(o, "server", jstr(ks.server));
	jadd(o, "context", jstr(ks.context));
	jadd(o, "error", jstr(ks.error));
	jadd(o, "load_balancer_class", jstr(c->k8s.lb_class));
	jadd(o, "synced", json_object_new_boolean(k8s_proc_synced(d->lb.k8s)));
	jadd(o, "synced_at_s", json_object_new_double(d->lb.k8s_synced_at));
	for (i = 0; i < d->lb.st.n_svc; i++)
		n += !strncmp(d->lb.st.svc[i].source, "kubernetes ", 11);
	jadd(o, "services", jint(n));
	jadd(o, "applies", jint(d->lb.k8s_applies));
	jadd(o, "apply_failures", jint(d->lb.k8s_apply_failures));
	jadd(o, "last_apply_s",
	     json_object_new_double(d->lb.k8s_last_apply_ms / 1000));
	jadd(o, "refused_total", jint(d->lb.src.refusals));
	jadd(o, "refused", jint(d->lb.src.n_refused));
	jadd(o, "refusals", lb_k8s_refusals_json(d));
	res = json_object_new_array();
	for (r = 0; d->lb.k8s && r < LBD_K8S_RES_N; r++) {
		const struct lbd_k8s_res_status *st = &ks.res[r];
		struct json_object *x = json_object_new_object();
		struct json_object *ev = json_object_new_object();

		jadd(x, "resource", jstr(k8s_resource_name(r)));
		jadd(x, "listed", json_object_new_boolean(st->listed));
		jadd(x, "watching", json_object_new_boolean(st->watching));
		jadd(x, "objects", jint(st->objects));
		jadd(x, "lists", jint(st->lists));
		jadd(x, "gone", jint(st->gone));
		jadd(x, "watch_restarts", jint(st->watch_restarts));
		jadd(x, "failures", jint(st->failures));
		jadd(x, "too_large", jint(st->too_large));
		jadd(x, "failing", json_object_new_boolean(st->failing));
		jadd(x, "last_error", jstr(st->last_error));
		for (e = 0; e < LBD_K8S_EV_N; e++)
			jadd(ev, k8s_event_name(e), jint(st->events[e]));
		jadd(x, "events", ev);
		json_object_array_add(res, x);
	}
	jadd(o, "resources", res);
#undef jadd
#undef jint
#undef jstr
}

void k8s_client_metrics(const struct k8s_proc *kp, struct lbd_metrics_head *m)
{
	struct lbd_k8s_status ks;
	int r, e;

	_Static_assert(LBD_K8S_RES_N <= LBD_MET_K8S_RESOURCES &&
			       LBD_K8S_EV_N <= LBD_MET_K8S_EVENTS,
		       "the snapshot holds every resource and event");
	k8s_proc_status(kp, &ks);
	m->flags |= LBD_MET_F_K8S;
	m->k8s_synced = k8s_proc_synced(kp);
	for (r = 0; kp && r < LBD_K8S_RES_N; r++) {
		const struct lbd_k8s_res_status *st = &ks.res[r];
		struct lbd_met_k8s_resource *x = &m->k8s_res[r];

		METRICS_STR(x->name, k8s_resource_name(r));
		x->watching = st->watching;
		x->objects = st->objects;
		x->lists = st->lists;
		x->gone = st->gone;
		x->watch_restarts = st->watch_restarts;
		x->failures = st->failures;
		for (e = 0; e < LBD_K8S_EV_N; e++)
			x->events[e] = st->events[e];
		m->k8s_n_res = (__u8)(r + 1);
	}
}

void k8s_refusal_metrics(struct lbd_metrics_snap *s,
			 const unsigned long total[K8S_REFUSALS_N])
{
	int r;

	for (r = 1; r < K8S_REFUSALS_N; r++) {
		struct lbd_metrics_rec *x =
			metrics_snap_add(s, LBD_MET_K8S_REFUSAL);

		if (!x)
			return;
		METRICS_STR(x->u.refusal.reason, k8s_refusal_name(r));
		x->u.refusal.total = total[r];
	}
}

void lb_k8s_metrics(void *arg, struct lbd_metrics_snap *s)
{
	const struct lbd_daemon *d = arg;
	struct lbd_metrics_head *m = &s->h;
	unsigned long total[K8S_REFUSALS_N];
	size_t i;

	if (!d->cfg->k8s.enabled)
		return;
	k8s_client_metrics(d->lb.k8s, m);
	for (i = 0; i < d->lb.st.n_svc; i++)
		m->k8s_services +=
			!strncmp(d->lb.st.svc[i].source, "kubernetes ", 11);
	m->k8s_applies = d->lb.k8s_applies;
	m->k8s_apply_failures = d->lb.k8s_apply_failures;
	m->k8s_clashes_total = d->lb.src.refusals;
	m->k8s_clashes_now = d->lb.src.n_refused;
	m->k8s_refused_now =
		d->lb.n_k8s_refusals + sources_host_refused_k8s(&d->lb.src);
	memcpy(total, d->lb.k8s_refused_total, sizeof(total));
	total[K8S_REFUSED_HOST_ADDRESS] = d->lb.src.host_refusals_k8s;
	k8s_refusal_metrics(s, total);
}

static void k8s_again_schedule(struct lbd_daemon *d);
static bool k8s_again_pending(const struct lbd_daemon *d);

/* New services from the cluster per apply: ~15 ms of RCU grace period
 * each on a small machine, so an apply stays well within systemd's
 * watchdog (lbd.service: 30 s) and the loop runs in between. */
#define K8S_NEW_PER_APPLY 500

int lb_k8s_apply(struct lbd_daemon *d, const struct lbd_config *c,
		 plan_fn plan, void *plan_arg, struct apply_result *r)
{
	struct config_diag news = { 0 };
	size_t i, deferred = 0;
	int err;

	/* without kubernetes, the cluster's services go */
	if (!c->k8s.enabled && d->lb.k8s_have_set) {
		k8s_set_free(&d->lb.k8s_set);
		d->lb.k8s_have_set = false;
	}
	if (d->lb.k8s_have_set)
		k8s_set_health(&d->lb.k8s_set, c);
	err = sources_apply(&d->lb.src, &d->lb.st, d->lb.dp, c,
			    d->lb.k8s_have_set ? &d->lb.k8s_set : NULL,
			    K8S_NEW_PER_APPLY, plan, plan_arg, r, &news,
			    &deferred);
	for (i = 0; i < news.n; i++)
		log_warnx("%s", news.msgs[i]);
	config_diag_free(&news);
	if (d->lb.src.host_refusals_k8s != d->lb.k8s_host_refusals_seen) {
		d->lb.k8s_host_refusals_seen = d->lb.src.host_refusals_k8s;
		snprintf(d->lb.k8s_last_refusal, sizeof(d->lb.k8s_last_refusal), "%s",
			 d->lb.src.last_host_refusal);
	}
	if (!err && deferred) {
		log_info("kubernetes: %zu more services from the cluster in "
			 "the next apply",
			 deferred);
		k8s_again_schedule(d);
	}
	return err;
}

/* The kept set (d->lb.k8s_set, under d->cfg) applied: the first sync's
 * bookkeeping, the counters and the timings of lbctl status. */
static void k8s_apply_kept(struct lbd_daemon *d, const struct timespec *t0)
{
	struct plan_log pl = { 0 };
	struct apply_result r;
	struct timespec t1;
	int err;

	if (d->lb.st.hold_adopted) {
		log_info("kubernetes: first sync: %zu services from the "
			 "cluster; services adopted at the start that no "
			 "source wants go now",
			 d->lb.k8s_set.n_svc);
		d->lb.st.hold_adopted = false;
	}
	err = lb_k8s_apply(d, d->cfg, plan_to_log, &pl, &r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	d->lb.k8s_last_apply_ms = (t1.tv_sec - t0->tv_sec) * 1e3 +
			       (t1.tv_nsec - t0->tv_nsec) / 1e6;
	if (err) {
		/* rolled back: what serves is what was there (or, if
		 * that failed too, a mix that retry_mixed ends) */
		d->lb.k8s_apply_failures++;
		log_warnx("kubernetes: applying the cluster's services: %s",
			  strerror(-err));
		return;
	}
	d->lb.k8s_applies++;
	if (!d->lb.k8s_synced_at && !k8s_again_pending(d)) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		d->lb.k8s_synced_at = now.tv_sec + now.tv_nsec / 1e9;
		log_info("kubernetes: synced in %.1f ms: %zu services, %zu "
			 "backends from the cluster",
			 (t1.tv_sec - d->lb.k8s_sync_t0.tv_sec) * 1e3 +
				 (t1.tv_nsec - d->lb.k8s_sync_t0.tv_nsec) / 1e6,
			 d->lb.k8s_set.n_svc, d->lb.k8s_set.n_be);
	}
	if (r.svc_added + r.svc_removed + r.svc_changed + r.be_added +
	    r.be_removed + r.be_changed) {
		log_apply(&r, &pl);
		resolve_nexthops(d);
		control_applied(&d->ctl);
		/* the cluster's backends are checked and its VIPs announced
		 * as the file's */
		lb_reloaded(d);
	}
}

static int on_k8s_again(sd_event_source *s, uint64_t usec, void *arg)
{
	struct lbd_daemon *d = arg;
	struct timespec t0;

	(void)s;
	(void)usec;
	if (!d->lb.k8s_have_set)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	k8s_apply_kept(d, &t0);
	return 0;
}

/* The services an apply deferred, K8S_APPLY_INTERVAL_MS later: the loop
 * runs in between (the watchdog, lbctl, the child's next set). */
static void k8s_again_schedule(struct lbd_daemon *d)
{
	uint64_t now;
	int r;

	if (!d->ev || k8s_again_pending(d))
		return;
	sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	now += K8S_APPLY_INTERVAL_MS * 1000ull;
	if (d->lb.k8s_again) {
		r = sd_event_source_set_time(d->lb.k8s_again, now);
		if (r >= 0)
			r = sd_event_source_set_enabled(d->lb.k8s_again,
							SD_EVENT_ONESHOT);
	} else {
		r = sd_event_add_time(d->ev, &d->lb.k8s_again, CLOCK_MONOTONIC,
				      now, 1000, on_k8s_again, d);
		/* after the reads that are ready, as the child's sets */
		if (r >= 0)
			r = sd_event_source_set_priority(
				d->lb.k8s_again, SD_EVENT_PRIORITY_IDLE);
		if (r >= 0)
			r = sd_event_source_set_enabled(d->lb.k8s_again,
							SD_EVENT_ONESHOT);
	}
	if (r < 0)
		log_warnx("kubernetes: the next apply: %s", strerror(-r));
}

static bool k8s_again_pending(const struct lbd_daemon *d)
{
	int on = SD_EVENT_OFF;

	if (d->lb.k8s_again)
		sd_event_source_get_enabled(d->lb.k8s_again, &on);
	return on != SD_EVENT_OFF;
}

/* A new set from the child (k8s_proc.h): it replaces the kept one, whose
 * services served meanwhile. */
static void on_k8s_set(struct k8s_set *set, void *arg)
{
	struct lbd_daemon *d = arg;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!d->lb.k8s_sync_t0.tv_sec)
		d->lb.k8s_sync_t0 = t0;
	log_k8s_warnings(d, set);
	log_k8s_refusals(d, set);
	if (d->lb.k8s_have_set)
		k8s_set_free(&d->lb.k8s_set);
	d->lb.k8s_set = *set;
	d->lb.k8s_have_set = true;
	k8s_apply_kept(d, &t0);
}

static void k8s_client_start(struct lbd_daemon *d, const struct lbd_config *c)
{
	/* d->cfg's user: the children stay who they were started as */
	int err = k8s_proc_start(d->ev, c, d->cfg->processes.user, on_k8s_set,
				 d, &d->lb.k8s);

	if (err)
		log_warnx("kubernetes: starting the client: %s",
			  strerror(-err));
}

void lb_k8s_commit(struct lbd_daemon *d, const struct lbd_config *c)
{
	int err;

	if (!c->k8s.enabled) {
		if (d->lb.k8s)
			log_info("kubernetes: settings changed: stopping the "
				 "client");
		k8s_proc_stop(d->lb.k8s);
		d->lb.k8s = NULL;
		return;
	}
	/* the services it gave stay until the child has sent new ones */
	if (d->lb.k8s) {
		err = k8s_proc_update(d->lb.k8s, c);
		if (err)
			log_warnx("kubernetes: the new settings: %s",
				  strerror(-err));
	} else if (d->ev) {
		k8s_client_start(d, c);
	}
}

void lb_k8s_begin(struct lbd_daemon *d)
{
	if (d->cfg->k8s.enabled && !d->lb.k8s)
		k8s_client_start(d, d->cfg);
}

void lb_k8s_stop(struct lbd_daemon *d)
{
	size_t i;

	k8s_proc_stop(d->lb.k8s);
	d->lb.k8s = NULL;
	d->lb.k8s_again = sd_event_source_disable_unref(d->lb.k8s_again);
	if (d->lb.k8s_have_set)
		k8s_set_free(&d->lb.k8s_set);
	d->lb.k8s_have_set = false;
	sources_free(&d->lb.src);
	for (i = 0; i < d->lb.n_k8s_warnings; i++)
		free(d->lb.k8s_warnings[i]);
	free(d->lb.k8s_warnings);
	d->lb.k8s_warnings = NULL;
	d->lb.n_k8s_warnings = 0;
	for (i = 0; i < d->lb.n_k8s_refusals; i++)
		free(d->lb.k8s_refusals[i].msg);
	free(d->lb.k8s_refusals);
	d->lb.k8s_refusals = NULL;
	d->lb.n_k8s_refusals = 0;
}
