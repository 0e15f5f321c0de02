// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Kubernetes child ("lbd --child k8s", k8s_child.h): the client, its
 * TLS and its JSON parsing, and the translation, in a process with no
 * capability that runs as the unprivileged user. It reads the kubeconfig
 * from the bytes the privileged process sends (LBD_MSG_K8S_START) and
 * names the files it references, which it cannot open, in its first
 * status; then it follows the cluster and sends each new set of
 * translated services (LBD_MSG_K8S_SERVICES; in the node role, every
 * Service's records for this node, LBD_MSG_K8S_NODE_SET) and its state
 * (LBD_MSG_K8S_STATUS).
 */
#include "k8s_child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "k8s.h"
#include "k8s_msg.h"
#include "log.h"
#include "msgch.h"
#include "proc.h"

_Static_assert((int)LBD_K8S_RES_N == (int)K8S_RESOURCES &&
		       (int)LBD_K8S_EV_N == (int)K8S_EVENTS,
	       "the status' resources and events are the client's");

/* The status at most this often; a set waiting for the channel to drain
 * is tried again as often. */
#define TICK_USEC 250000ull
#define STATUS_USEC 1000000ull

struct kchild {
	sd_event *ev;
	struct msgch *ch;
	struct k8s_client *client;
	/* the settings the client runs under */
	struct lbd_conf_kubernetes conf;
	struct kubeconfig kc;
	struct k8s_opts opts; /* vip_ranges into conf */
	__u8 role; /* enum lbd_k8s_role */
	struct k8s_node_ident node; /* role node */
	__u32 gen;
	__u32 seq; /* of the last set sent */
	bool dirty; /* a set is due */
	bool asked; /* the files were named once: never again */
	char error[512]; /* why the last START was not taken */
	struct lbd_k8s_status sent; /* the last status sent */
	uint64_t sent_at;
	bool status_due;
	sd_event_source *tick;
};

/* The files the START gave, by name; those it did not, remembered. */
struct reader {
	const struct k8s_files *given;
	struct k8s_files missing;
};

static int read_given(const char *path, char **out, size_t *len, void *arg)
{
	struct reader *r = arg;
	unsigned int i;

	for (i = 0; i < r->given->n; i++) {
		if (strcmp(r->given->path[i], path))
			continue;
		*out = malloc(r->given->len[i] + 1);
		if (!*out)
			return -ENOMEM;
		memcpy(*out, r->given->data[i], r->given->len[i]);
		(*out)[r->given->len[i]] = '\0';
		*len = r->given->len[i];
		return 0;
	}
	/* not given: named in the status, read empty meanwhile so that
	 * every file of the kubeconfig is named at once */
	if (r->missing.n < LBD_K8S_MAX_FILES)
		snprintf(r->missing.path[r->missing.n++],
			 sizeof(r->missing.path[0]), "%s", path);
	*out = calloc(1, 1);
	*len = 0;
	return *out ? 0 : -ENOMEM;
}

static void status_of(struct kchild *k, struct lbd_k8s_status *s)
{
	int r, e;

	memset(s, 0, sizeof(*s));
	s->gen = k->gen;
	s->running = !!k->client;
	s->synced = k8s_synced(k->client);
	snprintf(s->server, sizeof(s->server), "%s", k->kc.server);
	snprintf(s->context, sizeof(s->context), "%s", k->kc.context);
	snprintf(s->error, sizeof(s->error), "%s", k->error);
	for (r = 0; k->client && r < K8S_RESOURCES; r++) {
		const struct k8s_stats *st = k8s_stats(k->client);
		struct lbd_k8s_res_status *x = &s->res[r];

		for (e = 0; e < K8S_EVENTS; e++)
			x->events[e] = st->events[r][e];
		x->lists = st->lists[r];
		x->gone = st->gone[r];
		x->watch_restarts = st->watch_restarts[r];
		x->failures = st->failures[r];
		x->too_large = st->too_large[r];
		x->objects = st->objects[r];
		x->listed = st->listed[r];
		x->watching = st->watching[r];
		x->failing = st->failing[r];
		snprintf(x->last_error, sizeof(x->last_error), "%s",
			 st->last_error[r]);
	}
}

static void send_status(struct kchild *k, const struct k8s_files *need)
{
	char paths[LBD_K8S_MAX_FILES][LBD_K8S_PATH_MAX];
	unsigned int i, n = need ? need->n : 0;
	uint64_t now;

	status_of(k, &k->sent);
	memset(paths, 0, sizeof(paths));
	for (i = 0; i < n; i++)
		memcpy(paths[i], need->path[i], sizeof(paths[i]));
	if (msgch_send2(k->ch, LBD_MSG_K8S_STATUS, 0, &k->sent, sizeof(k->sent),
			paths, n * sizeof(paths[0])))
		log_warnx("kubernetes: sending the status failed");
	sd_event_now(k->ev, CLOCK_MONOTONIC, &now);
	k->sent_at = now;
	k->status_due = false;
}

static int emit(__u16 flags, const void *head, size_t hlen, const void *recs,
		size_t rlen, void *arg)
{
	struct kchild *k = arg;

	return msgch_send2(k->ch, LBD_MSG_K8S_SERVICES, flags, head, hlen, recs,
			   rlen);
}

static int emit_node(__u16 flags, const void *head, size_t hlen,
		     const void *recs, size_t rlen, void *arg)
{
	struct kchild *k = arg;

	return msgch_send2(k->ch, LBD_MSG_K8S_NODE_SET, flags, head, hlen, recs,
			   rlen);
}

/* Role node: every Service's records for this node (k8s_node.h). */
static void send_node_set(struct kchild *k)
{
	struct k8s_node_opts o = { .node_name = k->node.node_name,
				   .addrs = k->node.addrs,
				   .n_addrs = k->node.n_addrs,
				   .zone = k->node.zone };
	struct k8s_node_set set;
	int err;

	err = k8s_node_build(k->client, &o, &set);
	if (!err)
		err = k8s_msg_node_set_encode(&set, ++k->seq, k->gen, 0,
					      emit_node, k);
	if (err)
		log_warnx("kubernetes: sending the node's records: %s",
			  strerror(-err));
	else
		log_debug("kubernetes: sent %zu Service ports, %zu endpoints",
			  set.n_recs, set.n_eps);
	k8s_node_set_free(&set);
}

/* The cluster's services now, to lbd: one set at a time on the channel,
 * so a slow apply makes the sets coalesce here, not pile up. */
static void send_set(struct kchild *k)
{
	struct k8s_set set;
	int err;

	if (!k->dirty || !k8s_synced(k->client) || msgch_pending(k->ch))
		return;
	k->dirty = false;
	/* the state the set comes from, ahead of it: once lbd has applied
	 * a set, lbctl status says what the client was then (an error
	 * that is over is gone), not what it was up to a second before */
	send_status(k, NULL);
	if (k->role == LBD_K8S_ROLE_NODE) {
		send_node_set(k);
		return;
	}
	err = k8s_build(k->client, &k->opts, &set);
	if (!err)
		err = k8s_msg_set_encode(&set, ++k->seq, k->gen, 0, emit, k);
	if (err)
		log_warnx("kubernetes: sending the cluster's services: %s",
			  strerror(-err));
	else
		log_debug("kubernetes: sent %zu services, %zu backends",
			  set.n_svc, set.n_be);
	k8s_set_free(&set);
}

static void on_changed(void *arg)
{
	struct kchild *k = arg;

	k->dirty = true;
	send_set(k);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *arg)
{
	struct kchild *k = arg;
	struct lbd_k8s_status now;

	send_set(k);
	if (usec >= k->sent_at + STATUS_USEC) {
		status_of(k, &now);
		if (k->status_due || memcmp(&now, &k->sent, sizeof(now)))
			send_status(k, NULL);
	}
	sd_event_source_set_time(s, usec + TICK_USEC);
	return 0;
}

static void on_start(struct kchild *k, const void *p, size_t len)
{
	struct k8s_start_view *v = malloc(sizeof(*v));
	struct reader rd = { 0 };
	struct kubeconfig kc;
	char err[1024];
	int r;

	if (!v)
		fatalx("kubernetes: %s", strerror(ENOMEM));
	/* lbd made it: one that does not read is a bug there */
	if (k8s_start_parse(p, len, v, err, sizeof(err)))
		fatalx("kubernetes: %s", err);
	rd.given = &v->files;
	r = kubeconfig_parse(v->conf.kubeconfig, v->kc, v->kc_len,
			     v->conf.context, read_given, &rd, &kc, err,
			     sizeof(err));
	if (!r && rd.missing.n) {
		kubeconfig_free(&kc);
		if (!k->asked) {
			/* lbd reads them as root and starts us again */
			k->asked = true;
			k->gen = v->gen;
			send_status(k, &rd.missing);
			goto out;
		}
		snprintf(err, sizeof(err), "%.900s: not given to the client",
			 rd.missing.path[0]);
		r = -EACCES;
	}
	if (r) {
		/* the running client (if any) goes on under its settings */
		log_warnx("kubernetes: %s", err);
		snprintf(k->error, sizeof(k->error), "%.511s", err);
		k->gen = v->gen;
		send_status(k, NULL);
		goto out;
	}
	k->error[0] = '\0';
	if (k->client && k8s_same_cluster(&v->conf, &k->conf) &&
	    v->role == k->role && kubeconfig_same(&kc, &k->kc)) {
		/* the same cluster: a rotated token, or other settings of
		 * the translation (a reload) */
		r = k8s_set_token(k->client, &kc);
		if (r)
			log_warnx("kubernetes: the new token: %s",
				  strerror(-r));
	} else {
		if (k->client)
			log_info("kubernetes: settings changed: restarting "
				 "the client");
		k8s_stop(k->client);
		k->client = NULL;
		r = (v->role == LBD_K8S_ROLE_NODE ? k8s_start_node : k8s_start)(
			k->ev, &v->conf, &kc, on_changed, k, &k->client);
		if (r)
			log_warnx("kubernetes: starting the client: %s",
				  strerror(-r));
	}
	kubeconfig_free(&k->kc);
	k->kc = kc;
	k->conf = v->conf;
	k->role = v->role;
	k->node = v->node;
	k->opts = v->opts;
	k->opts.vip_ranges = k->conf.vip_ranges;
	/* a set under the new settings, even when the caches are as
	 * they were */
	if (k->gen != v->gen || k8s_synced(k->client))
		k->dirty = true;
	k->gen = v->gen;
	send_set(k);
	k->status_due = true;
out:
	explicit_bzero(v, sizeof(*v));
	free(v);
}

static void on_msg(struct msgch *c, const struct lbd_msg_hdr *h,
		   const void *payload, void *arg)
{
	struct kchild *k = arg;

	(void)c;
	if (h->type != LBD_MSG_K8S_START)
		fatalx("kubernetes: message %u from lbd: not ours", h->type);
	on_start(k, payload, h->len);
}

static void on_close(struct msgch *c, int err, void *arg)
{
	struct kchild *k = arg;

	(void)c;
	k->ch = NULL;
	/* lbd went away: so do we (it starts a new one) */
	if (err && err != -ECONNRESET)
		log_warnx("kubernetes: the channel to lbd: %s", strerror(-err));
	sd_event_exit(k->ev, 0);
}

int k8s_child_run(int fd)
{
	struct kchild k = { 0 };
	uint64_t now;
	int r;

	r = proc_child_event(&k.ev);
	if (r < 0)
		return 1;
	r = msgch_open(k.ev, fd, on_msg, on_close, &k, &k.ch);
	if (r < 0) {
		log_warnx("kubernetes: the channel to lbd: %s", strerror(-r));
		sd_event_unref(k.ev);
		return 1;
	}
	sd_event_now(k.ev, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(k.ev, &k.tick, CLOCK_MONOTONIC, now + TICK_USEC,
			      10000, on_tick, &k);
	if (r >= 0)
		r = sd_event_source_set_enabled(k.tick, SD_EVENT_ON);
	if (r >= 0)
		r = sd_event_loop(k.ev);
	k8s_stop(k.client);
	kubeconfig_free(&k.kc);
	k.tick = sd_event_source_unref(k.tick);
	if (k.ch)
		msgch_free(k.ch);
	sd_event_unref(k.ev);
	return r < 0 ? 1 : 0;
}
