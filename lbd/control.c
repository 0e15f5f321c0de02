// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The privileged side of the control protocol: requests relayed by the io
 * process (io.c), already checked for who may send them, answered from
 * the daemon's state and the datapath's maps. Every answer is
 * {"id":N,"ok":true,"data":...} or {"id":N,"ok":false,"error":"..."}.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "control.h"
#include "io.h"
#include "ipc.h"
#include "log.h"
#include "tc_backend.skel.h"

static const char *const reason_labels[] = {
#define LBD_REASON_LABEL(e, label, desc) label,
	LBD_REASONS(LBD_REASON_LABEL)
#undef LBD_REASON_LABEL
};

static const char *const reason_descs[] = {
#define LBD_REASON_DESC(e, label, desc) desc,
	LBD_REASONS(LBD_REASON_DESC)
#undef LBD_REASON_DESC
};

#define jstr(s) json_object_new_string(s)
#define jint(i) json_object_new_int64((int64_t)(i))
#define jbool(b) json_object_new_boolean(b)
#define jadd(o, k, v) json_object_object_add(o, k, v)

static const char *addr_str(__u8 family, const union lbd_addr *a, char *buf,
			    size_t len)
{
	return inet_ntop(family == LBD_AF_INET ? AF_INET : AF_INET6, a, buf,
			 (socklen_t)len);
}

static double uptime_s(const struct lbd_daemon *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - d->started.tv_sec) +
	       (now.tv_nsec - d->started.tv_nsec) / 1e9;
}

static int ctl_status(struct lbd_daemon *d, struct json_object *args,
		      struct json_object *out, char *err, size_t errlen)
{
	struct json_object *cfg = json_object_new_object();
	struct json_object *reload = json_object_new_object();
	struct json_object *errors = json_object_new_array();
	size_t i, nbe = 0;

	(void)args;
	(void)err;
	(void)errlen;
	jadd(out, "role",
	     jstr(d->cfg->role == LBD_ROLE_BACKEND ? "backend" : "lb"));
	jadd(out, "uptime_s", json_object_new_double(uptime_s(d)));
	jadd(cfg, "file", jstr(d->config_path));
	jadd(cfg, "generation", jint(d->generation));
	jadd(cfg, "reloads", jint(d->reloads));
	jadd(cfg, "reload_failures", jint(d->reload_failures));
	jadd(reload, "ok", jbool(d->last_ok));
	jadd(reload, "ms", json_object_new_double(d->last_ms));
	for (i = 0; i < d->n_last_errors; i++)
		json_object_array_add(errors, jstr(d->last_errors[i]));
	jadd(reload, "errors", errors);
	jadd(cfg, "last_reload", reload);
	jadd(out, "config", cfg);

	if (d->cfg->role == LBD_ROLE_BACKEND) {
		struct json_object *dp = json_object_new_object();

		jadd(dp, "interface", jstr(d->cfg->node.interface));
		jadd(dp, "trusted_lbs", jint(d->cfg->node.n_lb_sources));
		jadd(dp, "vips", jint(d->cfg->node.n_vips));
		jadd(out, "datapath", dp);
	} else {
		struct json_object *dp = json_object_new_object();

		jadd(dp, "interface", jstr(d->cfg->dp.interface));
		jadd(dp, "attached", jbool(d->att.prog_id != 0));
		jadd(dp, "program_id", jint(d->att.prog_id));
		jadd(dp, "mode", jstr(d->att.native ? "native" : "generic"));
		jadd(dp, "dispatcher", jbool(d->att.dispatcher));
		jadd(dp, "pin_path", jstr(d->cfg->dp.pin_path));
		jadd(out, "datapath", dp);
		for (i = 0; i < d->st.n_svc; i++)
			nbe += d->st.svc[i].n_be;
		jadd(out, "services", jint(d->st.n_svc));
		jadd(out, "backends", jint(nbe));
	}
	return 0;
}

static struct json_object *traffic_json(const struct lbd_traffic *t)
{
	struct json_object *o = json_object_new_object();

	jadd(o, "packets", jint(t->packets));
	jadd(o, "bytes", jint(t->bytes));
	jadd(o, "new_flows", jint(t->new_flows));
	return o;
}

static int ctl_services(struct lbd_daemon *d, struct json_object *args,
			struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list = json_object_new_array();
	size_t i, j;

	(void)args;
	(void)err;
	(void)errlen;
	for (i = 0; i < d->st.n_svc; i++) {
		const struct st_service *s = &d->st.svc[i];
		struct json_object *o = json_object_new_object();
		struct lbd_traffic t = { 0 };
		char a[INET6_ADDRSTRLEN];
		size_t active = 0;

		for (j = 0; j < s->n_be; j++)
			active += s->be[j].dp_state == LBD_BE_ACTIVE;
		dp_svc_traffic(d->dp, s->id, &t);
		jadd(o, "name", jstr(s->name));
		jadd(o, "vip", jstr(addr_str(s->key.family, &s->key.vip, a,
					     sizeof(a))));
		jadd(o, "port", jint(ntohs(s->key.port)));
		jadd(o, "protocol", jstr(config_proto_str(s->key.proto)));
		jadd(o, "forwarding", jstr(config_fwd_str(s->fwd)));
		jadd(o, "no_backend",
		     jstr(s->flags & LBD_SVC_F_UNREACH_ICMP ? "reject"
							    : "drop"));
		jadd(o, "backends", jint(s->n_be));
		jadd(o, "active_backends", jint(active));
		jadd(o, "table_size", jint(s->table_size));
		jadd(o, "traffic", traffic_json(&t));
		json_object_array_add(list, o);
	}
	jadd(out, "services", list);
	return 0;
}

/* Live conntrack entries per backend id (expired ones not counted). */
static void count_flows(struct lbd_daemon *d, __u32 *per_be, size_t n)
{
	const struct lbd_conf_datapath *c = &d->cfg->dp;
	struct lbd_ct_key4 k4, n4;
	struct lbd_ct_key6 k6, n6;
	struct timespec ts;
	struct lbd_ct v;
	void *prev;
	int fd;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#define COUNT_LIVE(proto)                                                     \
	do {                                                                  \
		__u32 t = (proto) == IPPROTO_UDP     ? c->udp_timeout :        \
			  v.flags & LBD_CT_F_CLOSING ? 10 :                     \
						       c->tcp_timeout;          \
		if (v.backend_id < n && (__u32)ts.tv_sec - v.last_seen <= t) \
			per_be[v.backend_id]++;                               \
	} while (0)

	fd = dp_map_fd(d->dp, DP_MAP_CT4);
	for (prev = NULL; bpf_map_get_next_key(fd, prev, &n4) == 0; prev = &k4) {
		k4 = n4;
		if (bpf_map_lookup_elem(fd, &k4, &v) == 0)
			COUNT_LIVE(k4.proto);
	}
	fd = dp_map_fd(d->dp, DP_MAP_CT6);
	for (prev = NULL; bpf_map_get_next_key(fd, prev, &n6) == 0; prev = &k6) {
		k6 = n6;
		if (bpf_map_lookup_elem(fd, &k6, &v) == 0)
			COUNT_LIVE(k6.proto);
	}
#undef COUNT_LIVE
}

static int ctl_backends(struct lbd_daemon *d, struct json_object *args,
			struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list = json_object_new_array(), *svc;
	const char *want = NULL;
	__u32 *flows, *table = NULL, tsize = 0;
	size_t i, j, k;

	if (args && json_object_object_get_ex(args, "service", &svc))
		want = json_object_get_string(svc);
	if (want && !state_find_name(&d->st, want)) {
		snprintf(err, errlen, "no service named %s", want);
		json_object_put(list);
		return -ENOENT;
	}
	flows = calloc(d->st.max_backends, sizeof(*flows));
	if (!flows) {
		json_object_put(list);
		return -ENOMEM;
	}
	count_flows(d, flows, d->st.max_backends);
	for (i = 0; i < d->st.n_svc; i++) {
		const struct st_service *s = &d->st.svc[i];
		int m = 0;

		if (want && strcmp(want, s->name))
			continue;
		if (s->table_size) {
			if (s->table_size > tsize) {
				free(table);
				table = malloc(s->table_size * sizeof(*table));
				tsize = table ? s->table_size : 0;
			}
			if (table)
				m = dp_maglev_get(d->dp, s->id, table, tsize);
		}
		for (j = 0; j < s->n_be; j++) {
			const struct st_backend *b = &s->be[j];
			struct json_object *o = json_object_new_object();
			struct lbd_traffic t = { 0 };
			char a[INET6_ADDRSTRLEN];
			unsigned long slots = 0;

			for (k = 0; m > 0 && k < (size_t)m; k++)
				slots += table[k] == b->id;
			dp_be_traffic(d->dp, b->id, &t);
			jadd(o, "service", jstr(s->name));
			jadd(o, "address", jstr(addr_str(b->addr.family,
							 &b->addr.addr, a,
							 sizeof(a))));
			jadd(o, "port", jint(b->port));
			jadd(o, "weight", jint(b->weight));
			jadd(o, "config_state",
			     jstr(config_state_str(b->conf_state)));
			jadd(o, "health", jstr(b->health_down ? "down" : "up"));
			jadd(o, "drained", jbool(b->drained));
			jadd(o, "state",
			     jstr(b->dp_state == LBD_BE_ACTIVE	    ? "active" :
				  b->dp_state == LBD_BE_DRAINING ? "draining" :
								   "down"));
			jadd(o, "share",
			     json_object_new_double(m > 0 ? (double)slots / m
							  : 0));
			jadd(o, "traffic", traffic_json(&t));
			jadd(o, "active_flows", jint(flows[b->id]));
			json_object_array_add(list, o);
		}
	}
	free(table);
	free(flows);
	jadd(out, "backends", list);
	return 0;
}

static int ctl_stats(struct lbd_daemon *d, struct json_object *args,
		     struct json_object *out, char *err, size_t errlen)
{
	struct json_object *list = json_object_new_array();
	struct lbd_counter c[LBD_REASON_MAX];
	int r;

	(void)args;
	memset(c, 0, sizeof(c));
	if (d->cfg->role == LBD_ROLE_BACKEND) {
		int fd = bpf_map__fd(d->be->maps.lbd_be_stats);
		int ncpu = libbpf_num_possible_cpus();
		struct lbd_counter *v = calloc((size_t)ncpu, sizeof(*v));
		__u32 key;
		int cpu;

		if (!v)
			return -ENOMEM;
		for (key = 0; key < LBD_REASON_MAX; key++) {
			if (bpf_map_lookup_elem(fd, &key, v) < 0)
				continue;
			for (cpu = 0; cpu < ncpu; cpu++) {
				c[key].packets += v[cpu].packets;
				c[key].bytes += v[cpu].bytes;
			}
		}
		free(v);
	} else if (dp_reasons_read(d->dp, c)) {
		snprintf(err, errlen, "reading the counters failed");
		json_object_put(list);
		return -EIO;
	}
	for (r = 0; r < LBD_REASON_MAX; r++) {
		struct json_object *o = json_object_new_object();

		jadd(o, "reason", jstr(reason_labels[r]));
		jadd(o, "description", jstr(reason_descs[r]));
		jadd(o, "packets", jint(c[r].packets));
		jadd(o, "bytes", jint(c[r].bytes));
		json_object_array_add(list, o);
	}
	jadd(out, "counters", list);
	return 0;
}

typedef int (*ctl_fn)(struct lbd_daemon *d, struct json_object *args,
		      struct json_object *out, char *err, size_t errlen);

static const struct {
	const char *cmd;
	ctl_fn fn;
	bool lb_only;
} handlers[] = {
	{ "status", ctl_status, false },
	{ "services", ctl_services, true },
	{ "backends", ctl_backends, true },
	{ "stats", ctl_stats, false },
};

void control_request(struct lbd_daemon *d, struct json_object *msg)
{
	struct json_object *id, *cmd, *args, *reply, *data;
	char err[256] = "";
	const char *name;
	size_t i;
	int r = -EOPNOTSUPP;

	if (!json_object_object_get_ex(msg, "id", &id) ||
	    !json_object_object_get_ex(msg, "cmd", &cmd))
		return;
	if (!json_object_object_get_ex(msg, "args", &args))
		args = NULL;
	name = json_object_get_string(cmd);
	data = json_object_new_object();
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].cmd, name))
			continue;
		if (handlers[i].lb_only && d->cfg->role != LBD_ROLE_LB) {
			snprintf(err, sizeof(err), "%s: not in the backend role",
				 name);
			r = -EOPNOTSUPP;
		} else {
			r = handlers[i].fn(d, args, data, err, sizeof(err));
		}
		break;
	}
	if (i == sizeof(handlers) / sizeof(handlers[0]))
		snprintf(err, sizeof(err), "unknown command %s", name);
	reply = json_object_new_object();
	jadd(reply, "id", json_object_get(id));
	jadd(reply, "ok", jbool(r == 0));
	if (r == 0) {
		jadd(reply, "data", data);
	} else {
		json_object_put(data);
		jadd(reply, "error", jstr(err[0] ? err : strerror(-r)));
	}
	ipc_send(d->io, reply);
	json_object_put(reply);
}
