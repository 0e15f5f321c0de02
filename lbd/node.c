// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Role "node": lbd on a cluster node in place of kube-proxy. The cgroup
 * sock_addr programs (lbd/dp/node.h) are attached to the configured
 * cgroup v2 directory; every Service of the cluster is followed by the
 * Kubernetes child (lbd/k8s/k8s_proc.h: the client, its parsing and the
 * translation into records, lbd/k8s/k8s_node.h, run unprivileged there;
 * this process takes the records checked field by field). Each sync
 * writes only what changed: addresses that went are removed first (an
 * address that moves between Services is then set by its new one),
 * endpoints are set before the addresses that lead to them, and records
 * that went lose their endpoints and free their Service port id last.
 *
 * The maps and the links of the attachments are pinned under
 * node_role.pin_path and outlive this process: a new lbd adopts them
 * (lbd/dp/node.h), serves what they hold until its first sync, and
 * then applies the difference; lbd --cleanup unpins them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <mntent.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "bpffs.h"
#include "daemon.h"
#include "k8s.h"
#include "k8s_node.h"
#include "k8s_node_hc.h"
#include "k8s_proc.h"
#include "listen.h"
#include "log.h"
#include "metrics_snap.h"
#include "node.h"
#include "proc.h"
#include "node_dsr.h"
#include "node_ext.h"
#include "node_nic.h"
#include "node_pods.h"
#include "node_tc.h"

/* One applied record: what the maps hold for it. */
struct nr_applied {
	char key[256]; /* k8s_node_rec_key */
	__u32 svc_id;
	__u32 flags, affinity_timeout;
	struct node_svc_addr *addrs;
	size_t n_addrs;
	struct node_endpoint *eps;
	size_t n_eps;
	__be16 node_port;
	__u8 proto;
	bool seen; /* in the sync under way */
};

struct node_role {
	struct lbd_node *n;
	char cgroup[PATH_MAX];
	char node_name[256];
	struct lbd_conf_addr addrs[LBD_MAX_NODE_ADDRS];
	size_t n_addrs;
	struct k8s_proc *k8s; /* the Kubernetes child */
	/* applied records, sorted by key */
	struct nr_applied *recs;
	size_t n_recs;
	/* the recs are what adopted maps hold (keys ADOPTED_KEY) until
	 * the first sync names them */
	bool adopting;
	__u32 *free_ids; /* a stack of free Service port ids */
	size_t n_free;
	struct k8s_refusal_line *refusals; /* logged already */
	size_t n_refusals;
	unsigned long refused_total[K8S_REFUSALS_N];
	unsigned long syncs, sync_failures, write_failures;
	double last_sync_ms;
	double last_sync_at; /* realtime s of the last applied sync */
	/* the last sync's records, for lbctl services and the counts of
	 * status and the metrics (recs says which are applied) */
	struct k8s_node_set view;
	/* the health check table the io process serves (node_hc_synced),
	 * once a sync has made one */
	struct lbd_node_hc_rec *hc;
	size_t n_hc, hc_dropped;
	bool hc_known, hc_healthy;
	/* serviceProxyHealthy's parts (k8s_node_hc_healthy): whether the
	 * last sync was applied, since when (monotonic s) the client has
	 * been behind, and the timer that looks each second */
	bool hc_sync_ok;
	double hc_behind_since;
	sd_event_source *hc_timer;
	/* node_role.healthz_address as the io process is told it (family
	 * 0: off) */
	struct lbd_msg_addr healthz;
	/* the tc path on the pod interfaces (node_pods.c); NULL: none */
	struct node_pods *pods;
	/* the NIC path (node_ext.c); NULL: no interface */
	struct node_ext *ext;
	/* node_role.forwarding: for Services without lbd.io/forwarding */
	enum lbd_node_fwd forwarding;
	/* the DSR receiver on the NIC path's interfaces (node_dsr.c); NULL:
	 * no dsr_sources */
	struct node_dsr *dsr;
};

/* -- where and as whom ------------------------------------------------ */

static bool is_cgroup2(const char *path)
{
	struct statfs fs;

	return !statfs(path, &fs) && fs.f_type == CGROUP2_SUPER_MAGIC;
}

/* The cgroup2 root: a mounted one, else mounted here where bpffs would
 * be (/sys/fs/cgroup, or /sys/fs/cgroup/unified beside a v1 tree). */
static int cgroup2_root(char *out, size_t len)
{
	struct mntent *m;
	FILE *f = setmntent("/proc/self/mounts", "r");
	const char *at;

	if (f) {
		while ((m = getmntent(f)))
			if (!strcmp(m->mnt_type, "cgroup2")) {
				snprintf(out, len, "%s", m->mnt_dir);
				endmntent(f);
				return 0;
			}
		endmntent(f);
	}
	at = "/sys/fs/cgroup";
	if (is_cgroup2(at)) {
		snprintf(out, len, "%s", at);
		return 0;
	}
	{
		struct statfs fs;

		/* a v1 hierarchy (tmpfs with controllers) is there */
		if (!statfs(at, &fs) && fs.f_type == TMPFS_MAGIC) {
			at = "/sys/fs/cgroup/unified";
			mkdir(at, 0555);
		}
	}
	if (mount("cgroup2", at, "cgroup2", 0, NULL) < 0) {
		int err = -errno;

		log_warn("mounting cgroup2 at %s", at);
		return err;
	}
	log_info("mounted cgroup2 at %s", at);
	snprintf(out, len, "%s", at);
	return 0;
}

/* The node's interface addresses, where NodePorts are served by
 * default: not loopback, link-local or anything else config_addr_unusable
 * refuses. */
static void iface_addrs(struct node_role *nr)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) < 0) {
		log_warn("getifaddrs");
		return;
	}
	for (i = ifa; i && nr->n_addrs < LBD_MAX_NODE_ADDRS; i = i->ifa_next) {
		struct lbd_conf_addr a = { 0 };

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			a.family = LBD_AF_INET;
			a.prefixlen = 32;
			memcpy(&a.addr.v4,
			       &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
			       4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *v6 =
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(v6))
				continue;
			a.family = LBD_AF_INET6;
			a.prefixlen = 128;
			memcpy(&a.addr.v6, v6, 16);
		} else {
			continue;
		}
		if (!config_addr_unusable(&a))
			nr->addrs[nr->n_addrs++] = a;
	}
	freeifaddrs(ifa);
}

static void identity(struct node_role *nr, const struct lbd_config *c)
{
	if (c->node_role.node_name[0])
		snprintf(nr->node_name, sizeof(nr->node_name), "%s",
			 c->node_role.node_name);
	else if (gethostname(nr->node_name, sizeof(nr->node_name) - 1) < 0)
		nr->node_name[0] = '\0';
	nr->n_addrs = 0;
	if (c->node_role.n_addrs) {
		memcpy(nr->addrs, c->node_role.addrs,
		       c->node_role.n_addrs * sizeof(*nr->addrs));
		nr->n_addrs = c->node_role.n_addrs;
	} else {
		iface_addrs(nr);
	}
}

/* The node as the Kubernetes child translates for it. */
static void node_ident(const struct node_role *nr, const struct lbd_config *c,
		       struct k8s_node_ident *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->node_name, sizeof(id->node_name), "%s", nr->node_name);
	snprintf(id->zone, sizeof(id->zone), "%s", c->node_role.zone);
	memcpy(id->addrs, nr->addrs, nr->n_addrs * sizeof(*id->addrs));
	id->n_addrs = nr->n_addrs;
}

/* -- sync ---------------------------------------------------------------- */

static int applied_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nr_applied *)a)->key,
		      ((const struct nr_applied *)b)->key);
}

static struct nr_applied *applied_find(struct node_role *nr, const char *key)
{
	struct nr_applied k;

	snprintf(k.key, sizeof(k.key), "%s", key);
	return bsearch(&k, nr->recs, nr->n_recs, sizeof(*nr->recs),
		       applied_cmp);
}

static bool addr_in(const struct node_svc_addr *a,
		    const struct node_svc_addr *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!memcmp(&l[i], a, sizeof(*a)))
			return true;
	return false;
}

static void applied_free(struct nr_applied *r)
{
	free(r->addrs);
	free(r->eps);
}

/* Whether the NIC path sends record r's flows to other nodes' endpoints
 * by Geneve: its Service's annotation says, else node_role.forwarding.
 * Only external records' addresses are reached from outside. */
static bool rec_geneve(const struct node_role *nr, const struct k8s_node_rec *r)
{
	if (!r->external)
		return false;
	if (r->forwarding != K8S_NODE_FWD_DEFAULT)
		return r->forwarding == K8S_NODE_FWD_GENEVE;
	return nr->forwarding == LBD_NODE_FWD_GENEVE;
}

/* The records of set as the maps take them. */
static int build(struct node_role *nr, const struct k8s_node_set *set,
		 struct nr_applied **out)
{
	struct nr_applied *v =
		calloc(set->n_recs ? set->n_recs : 1, sizeof(*v));
	size_t i, j;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < set->n_recs; i++) {
		const struct k8s_node_rec *r = &set->recs[i];
		struct nr_applied *a = &v[i];

		k8s_node_rec_key(r, a->key, sizeof(a->key));
		a->flags = r->affinity ? LBD_NODE_SVC_F_AFFINITY : 0;
		if (rec_geneve(nr, r))
			a->flags |= LBD_NODE_SVC_F_GENEVE;
		a->affinity_timeout = r->affinity ? r->affinity_timeout : 0;
		a->node_port = htons(r->node_port);
		a->proto = r->proto;
		a->addrs =
			calloc(r->n_addrs ? r->n_addrs : 1, sizeof(*a->addrs));
		a->eps = calloc(r->n_eps ? r->n_eps : 1, sizeof(*a->eps));
		if (!a->addrs || !a->eps) {
			while (i + 1 > 0)
				applied_free(&v[i--]);
			free(v);
			return -ENOMEM;
		}
		for (j = 0; j < r->n_addrs; j++) {
			const struct k8s_node_addr *ka =
				&set->addrs[r->first_addr + j];
			struct node_svc_addr *na = &a->addrs[j];

			memset(na, 0, sizeof(*na));
			na->family = ka->addr.family;
			na->proto = r->proto;
			na->port = htons(ka->port);
			na->addr = ka->addr.addr;
		}
		a->n_addrs = r->n_addrs;
		for (j = 0; j < r->n_eps; j++) {
			const struct k8s_node_ep *ke =
				&set->eps[r->first_ep + j];
			struct node_endpoint *ne = &a->eps[j];

			memset(ne, 0, sizeof(*ne));
			ne->addr = ke->addr.addr;
			ne->family = ke->addr.family;
			ne->ready = ke->ready;
			ne->serving = ke->serving;
			ne->terminating = ke->terminating;
			ne->port = htons(ke->port);
			ne->weight = ke->weight;
		}
		a->n_eps = r->n_eps;
	}
	qsort(v, set->n_recs, sizeof(*v), applied_cmp);
	*out = v;
	return 0;
}

/* A write that failed leaves that Service port as it was; the next sync
 * tries again (the record is not taken as applied). */
static void write_failed(struct node_role *nr, const char *what,
			 const char *key, int err)
{
	nr->write_failures++;
	log_warnx("node: %s of %s: %s", what, key, strerror(-err));
}

static bool eps_same(const struct nr_applied *a, const struct nr_applied *b)
{
	return a->n_eps == b->n_eps &&
	       !memcmp(a->eps, b->eps, a->n_eps * sizeof(*a->eps));
}

static void guard(struct node_role *nr, const struct nr_applied *v, size_t n,
		  const struct nr_applied *r, bool on)
{
	size_t i;
	int err;

	if (!r->node_port)
		return;
	/* another record (the other family) may hold the same port */
	for (i = 0; i < n; i++)
		if (&v[i] != r && v[i].node_port == r->node_port &&
		    v[i].proto == r->proto)
			return;
	err = node_nodeport_guard_set(nr->n, r->node_port, r->proto, on);
	if (err && err != -ENOENT)
		write_failed(nr,
			     on ? "guarding the NodePort" :
				  "freeing the "
				  "NodePort",
			     r->key, err);
}

static void sync_set(struct node_role *nr, struct nr_applied *nv, size_t nn)
{
	size_t i, j;
	int err;

	/* the tables of many Service ports go in together (a grace period
	 * a batch, not a table: lbd/dp/node.c) */
	node_batch_begin(nr->n);
	/* 1. addresses that go, and records that go */
	for (i = 0; i < nr->n_recs; i++) {
		struct nr_applied *o = &nr->recs[i];
		struct nr_applied *n =
			bsearch(o, nv, nn, sizeof(*nv), applied_cmp);

		for (j = 0; j < o->n_addrs; j++)
			if (!n ||
			    !addr_in(&o->addrs[j], n->addrs, n->n_addrs)) {
				err = node_service_del(nr->n, &o->addrs[j]);
				if (err && err != -ENOENT)
					write_failed(nr, "removing an address",
						     o->key, err);
			}
		if (!n) {
			guard(nr, nv, nn, o, false);
			err = node_backends_set(nr->n, o->svc_id, NULL, 0);
			if (err)
				write_failed(nr, "removing the endpoints",
					     o->key, err);
			nr->free_ids[nr->n_free++] = o->svc_id;
		}
	}
	/* 2. endpoints, then the addresses that lead to them */
	for (i = 0; i < nn; i++) {
		struct nr_applied *n = &nv[i];
		struct nr_applied *o = applied_find(nr, n->key);

		if (o) {
			n->svc_id = o->svc_id;
		} else if (nr->n_free) {
			n->svc_id = nr->free_ids[--nr->n_free];
		} else {
			write_failed(nr,
				     "a Service port id (node_role."
				     "max_services)",
				     n->key, -ENOSPC);
			n->svc_id = UINT32_MAX;
			continue;
		}
		if (!o || !eps_same(o, n)) {
			err = node_backends_set(nr->n, n->svc_id, n->eps,
						n->n_eps);
			if (err)
				write_failed(nr, "setting the endpoints",
					     n->key, err);
		}
	}
	err = node_batch_commit(nr->n);
	if (err)
		write_failed(nr, "setting the endpoints", "a batch", err);
	for (i = 0; i < nn; i++) {
		struct nr_applied *n = &nv[i];
		struct nr_applied *o = applied_find(nr, n->key);
		bool all;

		if (n->svc_id == UINT32_MAX)
			continue;
		all = !o || o->flags != n->flags ||
		      o->affinity_timeout != n->affinity_timeout;
		for (j = 0; j < n->n_addrs; j++) {
			if (!all && addr_in(&n->addrs[j], o->addrs, o->n_addrs))
				continue;
			err = node_service_set(nr->n, &n->addrs[j], n->svc_id,
					       n->flags, n->affinity_timeout);
			if (err)
				write_failed(nr, "setting an address", n->key,
					     err);
		}
		if (!o)
			guard(nr, nr->recs, nr->n_recs, n, true);
	}
	/* records without an id are not applied */
	for (i = j = 0; i < nn; i++) {
		if (nv[i].svc_id == UINT32_MAX) {
			applied_free(&nv[i]);
			continue;
		}
		nv[j++] = nv[i];
	}
	for (i = 0; i < nr->n_recs; i++)
		applied_free(&nr->recs[i]);
	free(nr->recs);
	nr->recs = nv;
	nr->n_recs = j;
}

/* The key of an adopted Service port until a record claims it: sorts
 * first and is no k8s_node_rec_key. */
#define ADOPTED_KEY "\001adopted/"

static bool adopted_key(const char *key)
{
	return !strncmp(key, ADOPTED_KEY, strlen(ADOPTED_KEY));
}

/*
 * The records of adopted maps, one a Service port id, with the
 * addresses and endpoints the maps hold; their Service port ids are
 * taken off the free stack. The first sync gives each the key of the
 * record that has one of its addresses (rekey_adopted), so that the
 * ordinary diff keeps its id and writes only what changed.
 */
static int adopt(struct node_role *nr, __u32 max_services)
{
	struct node_svc_entry *e = NULL;
	struct nr_applied *v = NULL, *r;
	size_t n = 0, i, j;
	__u32 id;
	int err;

	err = node_addrs_read(nr->n, &e, &n);
	if (err)
		return err;
	err = -ENOMEM;
	v = calloc(max_services, sizeof(*v));
	if (!v)
		goto out;
	for (i = 0; i < n; i++) {
		struct node_svc_addr *a;

		if (e[i].svc_id >= max_services)
			continue;
		r = &v[e[i].svc_id];
		a = realloc(r->addrs, (r->n_addrs + 1) * sizeof(*a));
		if (!a)
			goto out;
		r->addrs = a;
		r->addrs[r->n_addrs++] = e[i].a;
		r->flags = e[i].flags;
		r->affinity_timeout = e[i].affinity_timeout;
		r->proto = e[i].a.proto;
	}
	for (id = 0, j = 0; id < max_services; id++) {
		r = &v[id];
		if (!r->n_addrs) {
			free(r->addrs);
			continue;
		}
		snprintf(r->key, sizeof(r->key), ADOPTED_KEY "%010u", id);
		r->svc_id = id;
		/* without them the first sync writes them all */
		if (node_backends_get(nr->n, id, &r->eps, &r->n_eps))
			r->n_eps = 0;
		v[j++] = *r;
	}
	nr->recs = v;
	nr->n_recs = j;
	v = NULL;
	/* the free stack without the adopted ids, lowest on top */
	nr->n_free = 0;
	for (id = max_services; id > 0; id--) {
		for (i = 0; i < nr->n_recs; i++)
			if (nr->recs[i].svc_id == id - 1)
				break;
		if (i == nr->n_recs)
			nr->free_ids[nr->n_free++] = id - 1;
	}
	nr->adopting = true;
	err = 0;
out:
	if (v) {
		for (id = 0; id < max_services; id++)
			applied_free(&v[id]);
		free(v);
	}
	free(e);
	return err;
}

/* Names each adopted record after the new record that has one of its
 * addresses. */
static void rekey_adopted(struct node_role *nr, const struct nr_applied *nv,
			  size_t nn)
{
	size_t i, j, k;

	for (i = 0; i < nn; i++)
		for (j = 0; j < nr->n_recs; j++) {
			struct nr_applied *o = &nr->recs[j];

			if (!adopted_key(o->key))
				continue;
			for (k = 0; k < nv[i].n_addrs; k++)
				if (addr_in(&nv[i].addrs[k], o->addrs,
					    o->n_addrs))
					break;
			if (k < nv[i].n_addrs) {
				snprintf(o->key, sizeof(o->key), "%s",
					 nv[i].key);
				break;
			}
		}
	qsort(nr->recs, nr->n_recs, sizeof(*nr->recs), applied_cmp);
}

/* After the first sync of adopted maps: the guards are those of the
 * records (adopted records had none to compare with). */
static void guards_reconcile(struct node_role *nr)
{
	struct lbd_node_port_key *g = NULL;
	size_t n = 0, i, j;
	int err;

	for (i = 0; i < nr->n_recs; i++)
		if (nr->recs[i].node_port) {
			err = node_nodeport_guard_set(nr->n,
						      nr->recs[i].node_port,
						      nr->recs[i].proto, true);
			if (err)
				write_failed(nr, "guarding the NodePort",
					     nr->recs[i].key, err);
		}
	err = node_guards_read(nr->n, &g, &n);
	if (err) {
		write_failed(nr, "reading the NodePort guards", "-", err);
		return;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < nr->n_recs; j++)
			if (nr->recs[j].node_port == g[i].port &&
			    nr->recs[j].proto == g[i].proto)
				break;
		if (j == nr->n_recs)
			node_nodeport_guard_set(nr->n, g[i].port, g[i].proto,
						false);
	}
	free(g);
}

/* New refusals are logged once and counted; those that went are
 * forgotten (a Service refused again is logged again). */
static void log_refusals(struct node_role *nr, struct k8s_node_set *set)
{
	size_t i, j = 0;

	for (i = 0; i < set->n_refusals; i++) {
		const struct k8s_refusal_line *r = &set->refusals[i];

		while (j < nr->n_refusals &&
		       strcmp(nr->refusals[j].msg, r->msg) < 0)
			j++;
		if (j < nr->n_refusals && !strcmp(nr->refusals[j].msg, r->msg))
			continue;
		log_warnx("kubernetes: refused (%s): %s",
			  k8s_refusal_name(r->reason), r->msg);
		if (r->reason < K8S_REFUSALS_N)
			nr->refused_total[r->reason]++;
	}
	for (i = 0; i < nr->n_refusals; i++)
		free(nr->refusals[i].msg);
	free(nr->refusals);
	nr->refusals = set->refusals;
	nr->n_refusals = set->n_refusals;
	set->refusals = NULL;
	set->n_refusals = 0;
}

/* -- the healthCheckNodePorts (served by the io process) --------------- */

/* Where the io process is to serve /healthz (the setting was checked
 * by config_load): out all 0 when it is off. */
static void node_healthz_addr(const struct lbd_conf_node_role *c,
			      struct lbd_msg_addr *out)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(out, 0, sizeof(*out));
	if (listen_parse(c->healthz_address, &ss, &sl))
		return;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		out->family = LBD_AF_INET6;
		memcpy(out->addr.b, &s6->sin6_addr, 16);
		out->port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		out->family = LBD_AF_INET;
		out->addr.v4 = s4->sin_addr.s_addr;
		out->port = ntohs(s4->sin_port);
	}
}

/* The table (before the first sync: none, for /healthz's sake). */
static void node_hc_send(struct node_role *nr, struct proc *io)
{
	struct lbd_node_hc_head head = {
		.n = nr->hc_known ? (__u32)nr->n_hc : 0,
		.healthy = nr->hc_healthy,
		.healthz = nr->healthz,
		.last_sync_ms = (__u64)(nr->last_sync_at * 1e3),
	};
	int err;

	if (!io)
		return;
	err = proc_send2(io, LBD_MSG_NODE_HC, 0, &head, sizeof(head), nr->hc,
			 head.n * sizeof(*nr->hc));
	if (err)
		log_warnx("node: sending the health check ports to the io "
			  "process: %s",
			  strerror(-err));
}

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* serviceProxyHealthy now (k8s_node_hc_healthy); true when it changed. */
static bool node_hc_health(struct lbd_daemon *d)
{
	struct node_role *nr = d->node;
	struct lbd_k8s_status st;
	bool was = nr->hc_healthy;

	memset(&st, 0, sizeof(st));
	k8s_proc_status(nr->k8s, &st);
	nr->hc_healthy = k8s_node_hc_healthy(&st, k8s_proc_synced(nr->k8s),
					     nr->hc_sync_ok, mono_s(),
					     d->cfg->node_role.health_timeout_s,
					     &nr->hc_behind_since);
	return nr->hc_healthy != was;
}

/* Each second: the client may have fallen behind (or caught up) with
 * no set to say so; the io process hears of a change at once. */
static int on_hc_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct lbd_daemon *d = arg;
	struct node_role *nr = d->node;

	if (node_hc_health(d)) {
		if (nr->hc_healthy)
			log_info("node: the Kubernetes client caught up: "
				 "health checks answer serviceProxyHealthy "
				 "true");
		else
			log_warnx("node: the Kubernetes client has been "
				  "behind the cluster for %u s or more: "
				  "health checks answer 503 "
				  "(serviceProxyHealthy false)",
				  d->cfg->node_role.health_timeout_s);
		node_hc_send(nr, d->io);
	}
	sd_event_source_set_time(s, usec + 1000000);
	return 0;
}

/*
 * After each sync: the table of the last applied view (ok), or the same
 * table with serviceProxyHealthy false when the sync failed (the maps
 * are then behind the cluster, as kube-proxy's are when it reports
 * itself unhealthy), to the io process.
 */
static void node_hc_synced(struct lbd_daemon *d, bool ok)
{
	struct node_role *nr = d->node;
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	nr->hc_sync_ok = ok;
	node_hc_health(d);
	if (ok) {
		if (k8s_node_hc_table(&nr->view, &t, &n, &dropped)) {
			log_warnx("node: the health check ports: %s",
				  strerror(ENOMEM));
			nr->hc_sync_ok = nr->hc_healthy = false;
		} else {
			free(nr->hc);
			nr->hc = t;
			nr->n_hc = n;
			nr->hc_known = true;
			if (dropped && dropped != nr->hc_dropped)
				log_warnx("node: %zu Services' health check "
					  "ports not served (a port taken "
					  "by another Service, or more "
					  "than %u)",
					  dropped, LBD_NODE_HC_MAX);
			nr->hc_dropped = dropped;
		}
	}
	node_hc_send(nr, d->io);
}

void node_role_io_up(struct lbd_daemon *d, struct proc *io)
{
	if (d->node)
		node_hc_send(d->node, io);
}

/* A new set from the Kubernetes child (checked by k8s_proc): applied;
 * the last one stays applied while the child is down or resyncs. */
static void on_node_set(struct k8s_node_set *set, void *arg)
{
	struct lbd_daemon *d = arg;
	struct node_role *nr = d->node;
	struct nr_applied *nv;
	struct timespec t0, t1;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = build(nr, set, &nv);
	if (err) {
		nr->sync_failures++;
		log_warnx("kubernetes: the cluster's Services: %s",
			  strerror(-err));
		k8s_node_set_free(set);
		node_hc_synced(d, false);
		return;
	}
	log_refusals(nr, set);
	if (nr->adopting)
		rekey_adopted(nr, nv, set->n_recs);
	sync_set(nr, nv, set->n_recs);
	if (nr->adopting) {
		guards_reconcile(nr);
		nr->adopting = false;
	}
	k8s_node_set_free(&nr->view);
	nr->view = *set;
	/* before the table goes: /healthz's lastUpdated */
	clock_gettime(CLOCK_REALTIME, &t1);
	nr->last_sync_at = t1.tv_sec + t1.tv_nsec / 1e9;
	node_hc_synced(d, true);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	nr->last_sync_ms =
		(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (!nr->syncs++)
		log_info("kubernetes: synced: %zu Service ports in %.1f ms",
			 nr->n_recs, nr->last_sync_ms);
}

/* -- the role ------------------------------------------------------------ */

/* The kubeconfig can be read (as root: it may be root's only); its YAML
 * is the Kubernetes child's. 0 or a negative errno with why in msg. */
static int kubeconfig_readable(const struct lbd_config *c, char *msg,
			       size_t len)
{
	size_t n;
	char *kc;
	int err;

	err = k8s_proc_read_file(c->k8s.kubeconfig, &kc, &n, msg, len);
	if (err)
		return err;
	explicit_bzero(kc, n);
	free(kc);
	return 0;
}

void node_role_status(const struct lbd_daemon *d, char *buf, size_t len)
{
	const struct node_role *nr = d->node;

	snprintf(buf, len, "node %s on %s, %zu Service ports",
		 nr ? nr->node_name : "?", nr ? nr->cgroup : "?",
		 nr ? nr->n_recs : 0);
}

/* -- what lbctl and the metrics see (ctl_ctx's node_* callbacks) -------- */

/* What the maps hold, from the last sync's records that were applied. */
struct nr_counts {
	unsigned long services, ports, addresses, endpoints, local;
};

static bool view_applied(struct node_role *nr, const struct k8s_node_rec *r)
{
	char key[256];

	k8s_node_rec_key(r, key, sizeof(key));
	return applied_find(nr, key) != NULL;
}

static void view_counts(struct node_role *nr, struct nr_counts *c)
{
	const struct k8s_node_rec *prev = NULL;
	size_t i, j;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < nr->view.n_recs; i++) {
		const struct k8s_node_rec *r = &nr->view.recs[i];

		if (!view_applied(nr, r))
			continue;
		/* the records come by Service: a new one starts a new name */
		if (!prev || strcmp(prev->ns, r->ns) ||
		    strcmp(prev->name, r->name))
			c->services++;
		prev = r;
		c->ports++;
		c->addresses += r->n_addrs;
		c->endpoints += r->n_eps;
		for (j = 0; j < r->n_eps; j++)
			c->local += nr->view.eps[r->first_ep + j].local;
	}
}

#define jadd(o, k, v) json_object_object_add(o, k, v)
#define jstr(v) json_object_new_string(v)
#define jint(v) json_object_new_int64((int64_t)(v))
#define jbool(v) json_object_new_boolean(v)

static struct json_object *k8s_status_json(struct node_role *nr)
{
	struct json_object *o = json_object_new_object();
	struct json_object *res = json_object_new_array();
	struct json_object *refusals = json_object_new_array();
	struct lbd_k8s_status ks;
	unsigned long total = 0;
	size_t i;
	int r, e;

	/* as the child last said it (checked by k8s_proc) */
	k8s_proc_status(nr->k8s, &ks);
	jadd(o, "configured", jbool(true));
	jadd(o, "server", jstr(ks.server));
	jadd(o, "context", jstr(ks.context));
	jadd(o, "error", jstr(ks.error));
	jadd(o, "synced", jbool(k8s_proc_synced(nr->k8s)));
	jadd(o, "syncs", jint(nr->syncs));
	jadd(o, "sync_failures", jint(nr->sync_failures));
	jadd(o, "write_failures", jint(nr->write_failures));
	jadd(o, "last_sync_ms", json_object_new_double(nr->last_sync_ms));
	for (i = 0; i < K8S_REFUSALS_N; i++)
		total += nr->refused_total[i];
	jadd(o, "refused_total", jint(total));
	jadd(o, "refused", jint(nr->n_refusals));
	for (i = 0; i < nr->n_refusals; i++)
		json_object_array_add(refusals, jstr(nr->refusals[i].msg));
	jadd(o, "refusals", refusals);
	for (r = 0; nr->k8s && r < LBD_K8S_RES_N; r++) {
		const struct lbd_k8s_res_status *st = &ks.res[r];
		struct json_object *x = json_object_new_object();
		struct json_object *ev = json_object_new_object();

		jadd(x, "resource", jstr(k8s_resource_name(r)));
		jadd(x, "listed", jbool(st->listed));
		jadd(x, "watching", jbool(st->watching));
		jadd(x, "objects", jint(st->objects));
		jadd(x, "lists", jint(st->lists));
		jadd(x, "gone", jint(st->gone));
		jadd(x, "watch_restarts", jint(st->watch_restarts));
		jadd(x, "failures", jint(st->failures));
		jadd(x, "too_large", jint(st->too_large));
		jadd(x, "failing", jbool(st->failing));
		jadd(x, "last_error", jstr(st->last_error));
		for (e = 0; e < LBD_K8S_EV_N; e++)
			jadd(ev, k8s_event_name(e), jint(st->events[e]));
		jadd(x, "events", ev);
		json_object_array_add(res, x);
	}
	jadd(o, "resources", res);
	return o;
}

void node_role_status_json(void *arg, struct json_object *out)
{
	struct lbd_daemon *d = arg;
	struct node_role *nr = d->node;
	struct json_object *node, *addrs;
	struct nr_counts c;
	char a[INET6_ADDRSTRLEN];
	size_t i;

	if (!nr)
		return;
	node = json_object_new_object();
	addrs = json_object_new_array();
	jadd(node, "name", jstr(nr->node_name));
	jadd(node, "cgroup", jstr(nr->cgroup));
	for (i = 0; i < nr->n_addrs; i++) {
		inet_ntop(nr->addrs[i].family == LBD_AF_INET6 ? AF_INET6 :
								AF_INET,
			  &nr->addrs[i].addr, a, sizeof(a));
		json_object_array_add(addrs, jstr(a));
	}
	jadd(node, "addresses", addrs);
	jadd(node, "socket_lb",
	     jstr(d->cfg->node_role.socket_lb == LBD_SOCKET_LB_HOST_ONLY ?
			  "host-only" :
			  "all"));
	jadd(node, "pod_interfaces", jint(node_pods_count(nr->pods)));
	jadd(node, "nic_interfaces", jint(node_ext_count(nr->ext)));
	/* what the health check ports answer as serviceProxyHealthy, and
	 * how long the Kubernetes client has been behind (0: it is not) */
	jadd(node, "service_proxy_healthy", jbool(nr->hc_healthy));
	jadd(node, "kubernetes_behind_s",
	     json_object_new_double(
		     nr->hc_behind_since ? mono_s() - nr->hc_behind_since : 0));
	/* kube-proxy's /healthz: where (the io process opens it) and what
	 * it answers */
	jadd(node, "healthz_address",
	     jstr(nr->healthz.family ? d->cfg->node_role.healthz_address :
				       "off"));
	jadd(node, "healthz_status",
	     jint(!nr->healthz.family ? 0 :
		  nr->hc_healthy      ? 200 :
					503));
	jadd(node, "forwarding",
	     jstr(nr->forwarding == LBD_NODE_FWD_GENEVE ? "geneve" : "snat"));
	jadd(node, "dsr_interfaces", jint(node_dsr_count(nr->dsr)));
	jadd(out, "node", node);
	view_counts(nr, &c);
	jadd(out, "services", jint(c.services));
	jadd(out, "service_ports", jint(c.ports));
	jadd(out, "service_addresses", jint(c.addresses));
	jadd(out, "endpoints", jint(c.endpoints));
	jadd(out, "local_endpoints", jint(c.local));
	jadd(out, "kubernetes", k8s_status_json(nr));
}

void node_role_services_json(void *arg, struct json_object *list)
{
	struct lbd_daemon *d = arg;
	struct node_role *nr = d->node;
	size_t i;

	for (i = 0; nr && i < nr->view.n_recs; i++) {
		const struct k8s_node_rec *r = &nr->view.recs[i];
		struct json_object *o = json_object_new_object();

		k8s_node_rec_json(&nr->view, r, view_applied(nr, r), o);
		if (r->external)
			jadd(o, "forwarding",
			     jstr(rec_geneve(nr, r) ? "geneve" : "snat"));
		json_object_array_add(list, o);
	}
}

#undef jadd
#undef jstr
#undef jint
#undef jbool

int node_role_reasons(void *arg, __u64 *out)
{
	struct lbd_daemon *d = arg;

	if (!d->node || !d->node->n)
		return -ENODEV;
	return node_reasons_read(d->node->n, out);
}

/* One of the node paths' counter families (socket, tc, NIC): a record
 * of type a reason, named by label. */
static void node_role_reason_metrics(struct lbd_metrics_snap *s,
				     unsigned int type, const __u64 *v,
				     unsigned int n,
				     const char *(*label)(unsigned int))
{
	unsigned int r;

	for (r = 0; r < n; r++) {
		struct lbd_metrics_rec *m = metrics_snap_add(s, type);

		if (!m)
			return;
		METRICS_STR(m->u.node_socket.reason, label(r));
		m->u.node_socket.total = v[r];
	}
}

/* The Kubernetes client's series, as the LB role has them: the client's
 * own (k8s_client_metrics), the Services applied, the syncs as applies,
 * address conflicts as clashes, and the refusals by reason. */
static void node_role_k8s_metrics(struct node_role *nr,
				  struct lbd_metrics_snap *s)
{
	struct lbd_metrics_head *m = &s->h;
	struct nr_counts n;
	size_t i;

	k8s_client_metrics(nr->k8s, m);
	view_counts(nr, &n);
	m->k8s_services = n.services;
	m->k8s_applies = nr->syncs;
	m->k8s_apply_failures = nr->sync_failures;
	m->k8s_clashes_total = nr->refused_total[K8S_REFUSED_ADDRESS_CONFLICT];
	for (i = 0; i < nr->n_refusals; i++)
		m->k8s_clashes_now += nr->refusals[i].reason ==
				      K8S_REFUSED_ADDRESS_CONFLICT;
	m->k8s_refused_now = nr->n_refusals;
	k8s_refusal_metrics(s, nr->refused_total);
}

void node_role_metrics(void *arg, struct lbd_metrics_snap *s)
{
	struct lbd_daemon *d = arg;
	struct node_role *nr = d->node;
	__u64 c[LBD_NODE_REASON_MAX], t[LBD_NODE_TC_REASON_MAX];
	__u64 x[LBD_NODE_NIC_REASON_MAX];
	struct nr_counts n;

	if (!nr)
		return;
	s->h.flags |= LBD_MET_F_NODE;
	view_counts(nr, &n);
	s->h.node_services = n.services;
	s->h.node_ports = n.ports;
	s->h.node_addresses = n.addresses;
	s->h.node_endpoints = n.endpoints;
	s->h.node_local_endpoints = n.local;
	s->h.node_syncs = nr->syncs;
	s->h.node_sync_failures = nr->sync_failures;
	s->h.node_write_failures = nr->write_failures;
	s->h.node_last_sync_at_s = nr->last_sync_at;
	s->h.node_proxy_healthy = nr->hc_healthy;
	node_role_k8s_metrics(nr, s);
	/* unread counters are left out, not given as 0 */
	if (!nr->n || node_reasons_read(nr->n, c))
		return;
	node_role_reason_metrics(s, LBD_MET_NODE_SOCKET, c,
				 LBD_NODE_REASON_MAX, node_reason_label);
	/* the tc and NIC paths' when they run */
	if (!node_pods_reasons(nr->pods, t))
		node_role_reason_metrics(s, LBD_MET_NODE_TC, t,
					 LBD_NODE_TC_REASON_MAX,
					 node_tc_reason_label);
	if (!node_ext_reasons(nr->ext, x))
		node_role_reason_metrics(s, LBD_MET_NODE_NIC, x,
					 LBD_NODE_NIC_REASON_MAX,
					 node_nic_reason_label);
}

int node_role_nic_reasons(void *arg, __u64 *out)
{
	struct lbd_daemon *d = arg;

	if (!d->node)
		return -ENODEV;
	return node_ext_reasons(d->node->ext, out);
}

int node_role_tc_reasons(void *arg, __u64 *out)
{
	struct lbd_daemon *d = arg;

	if (!d->node)
		return -ENODEV;
	return node_pods_reasons(d->node->pods, out);
}

int node_role_dsr_reasons(void *arg, struct lbd_counter *out)
{
	struct lbd_daemon *d = arg;

	if (!d->node)
		return -ENODEV;
	return node_dsr_reasons(d->node->dsr, out);
}

/* The DSR receiver on the interfaces the NIC path is on now. */
static int dsr_sync(struct node_role *nr, const struct lbd_config *c)
{
	int ifs[LBD_MAX_NODE_NICS];
	size_t n = node_ext_ifindexes(nr->ext, ifs, LBD_MAX_NODE_NICS);

	return node_dsr_apply(&nr->dsr, c, ifs, n, nr->addrs, nr->n_addrs);
}

static void opts_of(const struct lbd_config *c, struct node_opts *o)
{
	node_opts_default(o);
	o->max_services = c->node_role.max_services;
	o->max_addrs = c->node_role.max_addresses;
	o->max_backends = c->node_role.max_endpoints;
	o->rev_entries = c->node_role.reverse_entries;
	o->affinity_entries = c->node_role.affinity_entries;
	o->hash_seed = c->dp.hash_seed;
}

int node_role_start(struct lbd_daemon *d)
{
	const struct lbd_config *c = d->cfg;
	struct node_role *nr = calloc(1, sizeof(*nr));
	struct node_opts o;
	char msg[512];
	__u32 i;
	int err = -ENOMEM;

	if (!nr)
		return err;
	d->node = nr;
	nr->free_ids = calloc(c->node_role.max_services, sizeof(*nr->free_ids));
	if (!nr->free_ids)
		goto out;
	/* ids handed out from 0 up */
	for (i = c->node_role.max_services; i > 0; i--)
		nr->free_ids[nr->n_free++] = i - 1;
	identity(nr, c);
	nr->forwarding = c->node_role.forwarding;
	node_healthz_addr(&c->node_role, &nr->healthz);
	if (c->node_role.cgroup[0])
		snprintf(nr->cgroup, sizeof(nr->cgroup), "%s",
			 c->node_role.cgroup);
	else if ((err = cgroup2_root(nr->cgroup, sizeof(nr->cgroup))))
		goto out;
	err = kubeconfig_readable(c, msg, sizeof(msg));
	if (err) {
		log_warnx("%s: kubernetes.kubeconfig: %s", c->files[0], msg);
		goto out;
	}
	opts_of(c, &o);
	o.pin_path = c->node_role.pin_path;
	if (c->node_role.socket_lb == LBD_SOCKET_LB_HOST_ONLY &&
	    (err = node_pods_host_netns(&o.host_netns))) {
		log_warnx("socket_lb host-only: the host's netns cookie: %s",
			  strerror(-err));
		goto out;
	}
	err = bpffs_ensure(o.pin_path);
	if (err) {
		log_warnx("node_role.pin_path %s: %s", o.pin_path,
			  strerror(-err));
		goto out;
	}
	err = node_open(&o, &nr->n);
	if (err) {
		log_warnx("loading the socket programs: %s", strerror(-err));
		goto out;
	}
	if (node_adopted(nr->n)) {
		err = adopt(nr, c->node_role.max_services);
		if (err) {
			log_warnx("adopting the maps pinned under %s: %s",
				  o.pin_path, strerror(-err));
			goto out;
		}
		log_info("node: adopted %zu Service ports pinned under %s; "
			 "served as they are until the first sync",
			 nr->n_recs, o.pin_path);
	}
	err = node_attach(nr->n, nr->cgroup);
	if (err) {
		log_warnx("attaching the socket programs to %s: %s", nr->cgroup,
			  strerror(-err));
		goto out;
	}
	log_info("node %s: socket programs attached to %s; NodePorts on %zu "
		 "addresses",
		 nr->node_name, nr->cgroup, nr->n_addrs);
	if (c->node_role.n_pod_ifaces &&
	    (err = node_pods_start(d->ev, c, nr->n, &nr->pods)))
		goto out;
	err = node_ext_start(c, nr->n, node_pods_tc(nr->pods), nr->addrs,
			     nr->n_addrs, &nr->ext);
	if (err)
		goto out;
	err = dsr_sync(nr, c);
	if (err)
		goto out;
	return 0;
out:
	node_role_stop(d);
	return err;
}

int node_role_loop_start(struct lbd_daemon *d)
{
	struct node_role *nr = d->node;
	struct k8s_node_ident id;
	uint64_t now;
	int r;

	node_ident(nr, d->cfg, &id);
	/* /healthz answers (503) before the first sync; the io process
	 * was started before the role */
	node_hc_send(nr, d->io);
	/* serviceProxyHealthy is looked at each second (on_hc_timer) */
	r = sd_event_now(d->ev, CLOCK_MONOTONIC, &now);
	if (r >= 0)
		r = sd_event_add_time(d->ev, &nr->hc_timer, CLOCK_MONOTONIC,
				      now + 1000000, 100000, on_hc_timer, d);
	if (r >= 0)
		r = sd_event_source_set_enabled(nr->hc_timer, SD_EVENT_ON);
	if (r < 0) {
		log_warnx("node: the health check timer: %s", strerror(-r));
		return r;
	}
	/* d->cfg's user: the children stay who they were started as */
	return k8s_proc_start_node(d->ev, d->cfg, d->cfg->processes.user, &id,
				   on_node_set, d, &nr->k8s);
}

/* The last sync's records applied again (node_role.forwarding changed):
 * new flows of the Services that follow it are sent the new way, flows
 * under way keep theirs. Adopted maps wait for the first sync. */
static void reapply(struct node_role *nr)
{
	struct nr_applied *nv;
	int err;

	if (nr->adopting || !nr->syncs)
		return;
	err = build(nr, &nr->view, &nv);
	if (err) {
		log_warnx("node_role.forwarding: %s", strerror(-err));
		return;
	}
	sync_set(nr, nv, nr->view.n_recs);
}

int node_role_reload(struct lbd_daemon *d, const struct lbd_config *c,
		     struct config_diag *diag)
{
	const struct lbd_conf_node_role *a = &d->cfg->node_role,
					*b = &c->node_role;
	struct node_role *nr = d->node;
	struct k8s_node_ident id;
	char msg[LBD_K8S_PATH_MAX + 64];
	int err, dsr_err;

	if (strcmp(a->cgroup, b->cgroup) || strcmp(a->pin_path, b->pin_path) ||
	    a->max_services != b->max_services ||
	    a->max_addresses != b->max_addresses ||
	    a->max_endpoints != b->max_endpoints ||
	    a->reverse_entries != b->reverse_entries ||
	    a->affinity_entries != b->affinity_entries ||
	    a->socket_lb != b->socket_lb || a->nat_entries != b->nat_entries ||
	    !a->n_pod_ifaces != !b->n_pod_ifaces ||
	    a->snat_port_min != b->snat_port_min ||
	    a->snat_port_max != b->snat_port_max) {
		diag_pushf(diag,
			   "%s: node_role: the cgroup, the pin path, the "
			   "sizes, socket_lb, whether there are "
			   "pod_interfaces and snat_ports cannot change while "
			   "lbd runs",
			   c->files[0]);
		return -EINVAL;
	}
	if (d->cfg->dp.icmp_rate != c->dp.icmp_rate) {
		diag_pushf(diag,
			   "%s: datapath.icmp_rate: a constant of the node "
			   "role's NIC program: it changes at a restart of "
			   "lbd, not a reload",
			   c->files[0]);
		return -EINVAL;
	}
	/* the kubeconfig's YAML is the child's to parse: an error there is
	 * its status and log (it keeps its client), not the reload's */
	err = kubeconfig_readable(c, msg, sizeof(msg));
	if (err) {
		diag_pushf(diag, "%s: kubernetes.kubeconfig: %s", c->files[0],
			   msg);
		return err;
	}
	/* the node's name, zone or addresses may have changed: the child
	 * translates again (a new cluster is a new child); the maps keep
	 * the last set until then */
	identity(nr, c);
	if (nr->forwarding != b->forwarding) {
		nr->forwarding = b->forwarding;
		reapply(nr);
	}
	if (strcmp(a->healthz_address, b->healthz_address)) {
		/* the io process closes the old listener, opens the new */
		node_healthz_addr(b, &nr->healthz);
		node_hc_send(nr, d->io);
	}
	node_pods_reload(nr->pods, c);
	node_ext_reload(nr->ext, c, nr->addrs, nr->n_addrs);
	/* a companion that cannot be loaded fails the reload, after the
	 * rest of it is done: the node's identity is applied already */
	dsr_err = dsr_sync(nr, c);
	if (dsr_err)
		diag_pushf(diag,
			   "%s: node_role.dsr_sources: the DSR companion: %s",
			   c->files[0], strerror(-dsr_err));
	node_ident(nr, c, &id);
	if (nr->k8s && (err = k8s_proc_update_node(nr->k8s, c, &id)))
		return err;
	return dsr_err;
}

void node_role_stop(struct lbd_daemon *d)
{
	struct node_role *nr = d->node;
	size_t i;

	if (!nr)
		return;
	k8s_proc_stop(nr->k8s);
	sd_event_source_disable_unref(nr->hc_timer);
	node_dsr_stop(nr->dsr);
	node_ext_stop(nr->ext);
	node_pods_stop(nr->pods);
	node_close(nr->n);
	for (i = 0; i < nr->n_recs; i++)
		applied_free(&nr->recs[i]);
	free(nr->recs);
	for (i = 0; i < nr->n_refusals; i++)
		free(nr->refusals[i].msg);
	free(nr->refusals);
	free(nr->free_ids);
	k8s_node_set_free(&nr->view);
	free(nr->hc);
	free(nr);
	d->node = NULL;
}

int node_role_check(const struct lbd_config *c, const char *path)
{
	struct stat st;

	if (c->node_role.cgroup[0] &&
	    (stat(c->node_role.cgroup, &st) < 0 || !S_ISDIR(st.st_mode) ||
	     !is_cgroup2(c->node_role.cgroup))) {
		printf("%s: node_role.cgroup: %s is no cgroup v2 directory\n",
		       path, c->node_role.cgroup);
		return 1;
	}
	node_dsr_check(c);
	printf("%s: configuration OK (role node: the cluster's Services are "
	       "applied when lbd runs)\n",
	       path);
	return 0;
}

int node_role_cleanup(const struct lbd_config *c)
{
	const char *pin = c->node_role.pin_path;
	int err;

	/* the XDP program, the tc filters and their pins first: the
	 * directory goes with the last */
	err = node_dsr_cleanup(pin);
	if (err)
		return err;
	err = node_ext_cleanup(pin);
	if (err)
		return err;
	err = node_pods_cleanup(pin);
	if (err)
		return err;
	/* the links' pins hold the attachments: unpinned, the programs
	 * are detached (once no lbd holds them open: run it stopped) */
	err = node_unpin_all(pin);
	if (err) {
		log_warnx("removing the node role's pins under %s: %s", pin,
			  strerror(-err));
		return err;
	}
	log_info("role node: socket programs detached, maps under %s "
		 "removed",
		 pin);
	return 0;
}

/* -- lbctl explain ------------------------------------------------------ */

#define jadd(o, k, v) json_object_object_add(o, k, v)
#define jstr(v) json_object_new_string(v)
#define jint(v) json_object_new_int64((int64_t)(v))
#define jbool(v) json_object_new_boolean(v)

static void ex_hostport(__u8 family, const union lbd_addr *a, __u16 port,
			char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN] = "?";
	bool v6 = family == LBD_AF_INET6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, a, s, sizeof(s));
	snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", s, port);
}

/* Whether the client's address is one of this host's: its sockets are
 * in lbd's own network namespace. */
static bool ex_client_on_host(const struct lbd_msg_addr *c)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET &&
		    c->family == LBD_AF_INET)
			found = !memcmp(
				&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				&c->addr.v4, 4);
		else if (i->ifa_addr->sa_family == AF_INET6 &&
			 c->family == LBD_AF_INET6)
			found = !memcmp(
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
				&c->addr, 16);
	}
	freeifaddrs(ifa);
	return found;
}

/* lbd's own network namespace's cookie (SO_NETNS_COOKIE, 5.14); 0 when
 * it cannot be read. */
static __u64 ex_own_netns(void)
{
	socklen_t len = sizeof(__u64);
	__u64 c = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */, &c, &len))
		c = 0;
	close(fd);
	return c;
}

/* The last sync's record of Service port id (NULL: none, as after an
 * adoption before the first sync). */
static const struct k8s_node_rec *ex_view_rec(struct node_role *nr, __u32 id)
{
	char key[256];
	size_t i, j;

	for (i = 0; i < nr->n_recs; i++)
		if (nr->recs[i].svc_id == id)
			break;
	if (i == nr->n_recs)
		return NULL;
	for (j = 0; j < nr->view.n_recs; j++) {
		k8s_node_rec_key(&nr->view.recs[j], key, sizeof(key));
		if (!strcmp(key, nr->recs[i].key))
			return &nr->view.recs[j];
	}
	return NULL;
}

static bool ex_ep_local(struct node_role *nr, const struct k8s_node_rec *r,
			const struct node_endpoint *e)
{
	size_t i;

	for (i = 0; r && i < r->n_eps; i++) {
		const struct k8s_node_ep *ke = &nr->view.eps[r->first_ep + i];

		if (ke->addr.family == e->family &&
		    !memcmp(&ke->addr.addr, &e->addr, sizeof(e->addr)) &&
		    htons(ke->port) == e->port)
			return ke->local;
	}
	return false;
}

/*
 * lbctl explain in the node role: the Service port of an address, the
 * endpoints its table may give (as node_backends_set chose them: the
 * ready ones, or the serving and terminating ones when none is ready,
 * only this node's for a Local traffic policy), and the choice as the
 * socket programs make it (node_explain, bpf/node/select.h): the table's
 * slot at the hash of the socket's cookie, or with ClientIP affinity the
 * client's network namespace's entry while it is fresh, else the slot at
 * the hash of the namespace's cookie. Exact when that cookie is known:
 * given, or for a client address of this host lbd's own namespace.
 */
int node_role_explain(void *arg, const struct lbd_ctl_req *req,
		      struct json_object *out, char *err, size_t errlen)
{
	struct lbd_daemon *d = arg;
	struct node_role *nr = d->node;
	const struct k8s_node_rec *r;
	struct node_endpoint *eps = NULL;
	struct json_object *list, *ch, *aff;
	struct node_svc_addr a = { 0 };
	struct node_choice c;
	char buf[INET6_ADDRSTRLEN + 8], num[24];
	__u64 netns = req->netns_cookie;
	const char *netns_from = netns ? "given" : NULL;
	size_t n_eps = 0, i, ready = 0;
	bool affinity, exact;
	int e;

	if (!nr || !nr->n)
		return -ENODEV;
	if (!req->vip.family || !req->vip.port ||
	    (req->proto != IPPROTO_TCP && req->proto != IPPROTO_UDP)) {
		snprintf(err, errlen, "service: VIP:PORT/PROTO is needed");
		return -EINVAL;
	}
	a.family = req->vip.family;
	a.proto = req->proto;
	a.port = htons(req->vip.port);
	a.addr = req->vip.addr;
	if (!netns && req->client.family && ex_client_on_host(&req->client)) {
		netns = ex_own_netns();
		netns_from = netns ? "host" : NULL;
	}
	e = node_explain(nr->n, &a, req->sock_cookie, netns, &c);
	if (req->client.family) {
		inet_ntop(req->client.family == LBD_AF_INET6 ? AF_INET6 :
							       AF_INET,
			  &req->client.addr, buf, sizeof(buf));
		jadd(out, "client", jstr(buf));
	}
	ex_hostport(a.family, &a.addr, req->vip.port, buf, sizeof(buf));
	jadd(out, "service_address", jstr(buf));
	jadd(out, "proto", jstr(req->proto == IPPROTO_UDP ? "udp" : "tcp"));
	if (e == -ENOENT) {
		/* the programs pass it on as it is */
		jadd(out, "translated", jbool(false));
		jadd(out, "why",
		     jstr("not a Service address: connect() and "
			  "sendmsg() go to it untranslated"));
		return 0;
	}
	if (e && e != -EHOSTUNREACH) {
		snprintf(err, errlen, "reading the maps: %s", strerror(-e));
		return e;
	}
	jadd(out, "translated", jbool(true));
	jadd(out, "service_port_id", jint(c.svc_id));
	r = ex_view_rec(nr, c.svc_id);
	if (r) {
		struct json_object *rj = json_object_new_object();

		k8s_node_rec_json(&nr->view, r, true, rj);
		if (r->external)
			jadd(rj, "forwarding",
			     jstr(rec_geneve(nr, r) ? "geneve" : "snat"));
		jadd(out, "service", rj);
	} else {
		jadd(out, "service", NULL);
	}
	/* the table's endpoints, which node_backends_set chose */
	if (node_backends_get(nr->n, c.svc_id, &eps, &n_eps))
		n_eps = 0;
	list = json_object_new_array();
	for (i = 0; i < n_eps; i++) {
		struct json_object *o = json_object_new_object();

		ex_hostport(eps[i].family, &eps[i].addr, ntohs(eps[i].port),
			    buf, sizeof(buf));
		jadd(o, "endpoint", jstr(buf));
		jadd(o, "weight", jint(eps[i].weight));
		jadd(o, "ready", jbool(eps[i].ready));
		jadd(o, "serving", jbool(eps[i].serving));
		jadd(o, "terminating", jbool(eps[i].terminating));
		jadd(o, "local", jbool(ex_ep_local(nr, r, &eps[i])));
		json_object_array_add(list, o);
		ready += eps[i].ready;
	}
	jadd(out, "endpoints", list);
	jadd(out, "endpoints_from",
	     jstr(!n_eps ? "none" :
		  ready	 ? "ready" :
			   "serving and terminating (none is ready)"));
	free(eps);

	affinity = c.svc_flags & LBD_NODE_SVC_F_AFFINITY;
	exact = affinity ? netns != 0 : req->sock_cookie != 0;
	ch = json_object_new_object();
	jadd(ch, "by", jstr(affinity ? "netns" : "socket_cookie"));
	if (req->sock_cookie) {
		snprintf(num, sizeof(num), "%llu",
			 (unsigned long long)req->sock_cookie);
		jadd(ch, "cookie", jstr(num));
	}
	if (netns) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)netns);
		jadd(ch, "netns", jstr(num));
		jadd(ch, "netns_from", jstr(netns_from));
	}
	jadd(ch, "exact", jbool(exact));
	jadd(ch, "table_size", jint(c.table_size));
	if (exact) {
		jadd(ch, "hash", jint(c.hash));
		jadd(ch, "slot", jint(c.slot));
		if (c.table_backend_id != LBD_NO_ID) {
			ex_hostport(c.table_family, &c.table_addr,
				    ntohs(c.table_port), buf, sizeof(buf));
			jadd(ch, "slot_endpoint", jstr(buf));
		} else {
			jadd(ch, "slot_endpoint", NULL);
		}
	}
	if (affinity) {
		aff = json_object_new_object();
		jadd(aff, "timeout_s", jint(c.affinity_timeout));
		if (netns) {
			jadd(aff, "entry", jbool(c.aff_entry));
			if (c.aff_entry) {
				jadd(aff, "idle_s", jint(c.aff_idle_s));
				jadd(aff, "fresh", jbool(c.aff_fresh));
			}
			jadd(aff, "followed", jbool(c.affinity));
		}
		jadd(ch, "affinity", aff);
	}
	if (exact && !e) {
		ex_hostport(c.family, &c.addr, ntohs(c.port), buf, sizeof(buf));
		jadd(ch, "endpoint", jstr(buf));
		jadd(ch, "why", jstr(c.affinity ? "affinity" : "maglev"));
	} else {
		jadd(ch, "endpoint", NULL);
		jadd(ch, "why",
		     jstr(e	   ? "no endpoint: connect() and sendmsg() are "
				     "refused with ECONNREFUSED" :
			  affinity ? "the client's network namespace decides: "
				     "give it with --netns, its path "
				     "(/proc/PID/ns/net of a process of the "
				     "pod, /run/netns/NAME) or its cookie; "
				     "lbd does not find a pod's namespace "
				     "from its address" :
				     "each socket's cookie decides: give the "
				     "socket's cookie"));
	}
	jadd(out, "choice", ch);
	return 0;
}

#undef jadd
#undef jstr
#undef jint
#undef jbool
