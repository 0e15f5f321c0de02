// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl conntrack and conntrack flush. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "ctwalk.h"
#include "log.h"

/* Entries listed by "conntrack" unless asked otherwise. */
#define CT_LIST_DEFAULT 1000

struct ct_filter {
	struct lbd_msg_addr client, vip, backend;
	const struct st_service *svc;
	__u8 proto;
	bool all; /* expired entries too */
};

struct ct_query {
	struct ctl_ctx *x;
	struct ct_filter f;
	struct be_ref *idx;
	__u32 now;
	unsigned long matched, limit;
	struct json_object *list; /* listing */
	/* flushing: keys of the matched entries */
	struct lbd_ct_key4 *k4;
	struct lbd_ct_key6 *k6;
	size_t n4, n6, cap4, cap6;
	int err;
};

static int ct_filter_parse(struct ctl_ctx *x, const struct lbd_ctl_req *req,
			   struct ct_filter *f, char *err, size_t errlen)
{
	const char *svc = req->service[0] ? req->service : NULL;

	memset(f, 0, sizeof(*f));
	f->client = req->client;
	f->vip = req->vip;
	f->backend = req->backend;
	if (svc) {
		f->svc = state_find_name(x->st, svc);
		if (!f->svc) {
			snprintf(err, errlen, "no service named %s", svc);
			return -ENOENT;
		}
	}
	f->proto = req->proto;
	f->all = req->flags & LBD_CTL_F_ALL;
	return 0;
}

static bool ct_match(struct ct_query *q, const struct dp_ct_flow *fl,
		     const struct be_ref **be)
{
	const struct ct_filter *f = &q->f;

	*be = ctl_ct_backend(q->idx, q->x->st->max_backends, &fl->v);
	if (f->proto && fl->proto != f->proto)
		return false;
	if (!ctl_hp_matches(&f->client, fl->family, &fl->saddr, fl->sport) ||
	    !ctl_hp_matches(&f->vip, fl->family, &fl->daddr, fl->dport))
		return false;
	if (f->svc && (f->svc->key.family != fl->family ||
		       f->svc->key.proto != fl->proto ||
		       ntohs(f->svc->key.port) != fl->dport ||
		       memcmp(&f->svc->key.vip, &fl->daddr, sizeof(fl->daddr))))
		return false;
	if (f->backend.family &&
	    (!*be || !ctl_hp_matches(&f->backend, (*be)->b->addr.family,
				     &(*be)->b->addr.addr, (*be)->b->port)))
		return false;
	return f->all || dp_ct_live(ctl_dp(q->x), fl->proto, &fl->v, q->now);
}

static void ct_list_one(void *arg, const struct dp_ct_flow *fl)
{
	struct ct_query *q = arg;
	const struct be_ref *be;
	struct json_object *o;
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];
	struct lbd_svc_addr key = { .family = fl->family,
				    .proto = fl->proto,
				    .port = htons(fl->dport),
				    .vip = fl->daddr };
	const struct st_service *s;

	if (!ct_match(q, fl, &be))
		return;
	if (q->matched++ >= q->limit)
		return;
	s = state_find(q->x->st, &key);
	o = json_object_new_object();
	jadd(o, "proto", jstr(ctl_proto_str(fl->proto)));
	jadd(o, "client",
	     jstr(ctl_addr_str(fl->family, &fl->saddr, a, sizeof(a))));
	jadd(o, "client_port", jint(fl->sport));
	jadd(o, "vip",
	     jstr(ctl_addr_str(fl->family, &fl->daddr, a, sizeof(a))));
	jadd(o, "port", jint(fl->dport));
	jadd(o, "service", s ? jstr(s->name) : NULL);
	jadd(o, "backend", be ? jstr(ctl_be_label(be->b, l, sizeof(l))) : NULL);
	jadd(o, "backend_state",
	     be ? jstr(ctl_be_state_str(be->b->dp_state)) : jstr("gone"));
	jadd(o, "idle_s", jint((__s32)(q->now - fl->v.last_seen)));
	jadd(o, "closing", jbool(fl->v.flags & LBD_CT_F_CLOSING));
	jadd(o, "live",
	     jbool(dp_ct_live(ctl_dp(q->x), fl->proto, &fl->v, q->now)));
	json_object_array_add(q->list, o);
}

int ctl_conntrack(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		  struct json_object *out, char *err, size_t errlen)
{
	struct ct_query q = { .x = x, .limit = CT_LIST_DEFAULT };
	int r;

	r = ct_filter_parse(x, req, &q.f, err, errlen);
	if (r)
		return r;
	if (req->flags & LBD_CTL_F_LIMIT)
		q.limit = req->limit;
	q.idx = ctl_be_index(x);
	if (!q.idx)
		return -ENOMEM;
	q.now = dp_ct_now();
	q.list = json_object_new_array();
	r = dp_ct_walk(ctl_dp(x), ct_list_one, &q);
	free(q.idx);
	if (r) {
		json_object_put(q.list);
		return r;
	}
	jadd(out, "entries", q.list);
	jadd(out, "matched", jint(q.matched));
	jadd(out, "truncated", jbool(q.matched > q.limit));
	return 0;
}

static int push_key(void **arr, size_t *n, size_t *cap, const void *key,
		    size_t ksz)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		void *p = realloc(*arr, nc * ksz);

		if (!p)
			return -ENOMEM;
		*arr = p;
		*cap = nc;
	}
	memcpy((char *)*arr + *n * ksz, key, ksz);
	(*n)++;
	return 0;
}

static void ct_flush_one(void *arg, const struct dp_ct_flow *fl)
{
	struct ct_query *q = arg;
	const struct be_ref *be;

	if (q->err || !ct_match(q, fl, &be))
		return;
	if (fl->family == LBD_AF_INET)
		q->err = push_key((void **)&q->k4, &q->n4, &q->cap4, fl->key,
				  sizeof(*q->k4));
	else
		q->err = push_key((void **)&q->k6, &q->n6, &q->cap6, fl->key,
				  sizeof(*q->k6));
}

/* Deletes what matched; an entry the LRU evicted meanwhile is gone
 * anyway. */
int ctl_conntrack_flush(struct ctl_ctx *x, const struct lbd_ctl_req *req,
			struct json_object *out, char *err, size_t errlen)
{
	struct ct_query q = { .x = x };
	unsigned long flushed = 0;
	size_t i;
	int r;

	r = ct_filter_parse(x, req, &q.f, err, errlen);
	if (r)
		return r;
	q.f.all = true;
	q.idx = ctl_be_index(x);
	if (!q.idx)
		return -ENOMEM;
	q.now = dp_ct_now();
	r = dp_ct_walk(ctl_dp(x), ct_flush_one, &q);
	if (!r)
		r = q.err;
	for (i = 0; !r && i < q.n4; i++)
		flushed += dp_ct_delete(ctl_dp(x), LBD_AF_INET, &q.k4[i]);
	for (i = 0; !r && i < q.n6; i++)
		flushed += dp_ct_delete(ctl_dp(x), LBD_AF_INET6, &q.k6[i]);
	free(q.idx);
	free(q.k4);
	free(q.k6);
	if (r)
		return r;
	log_info("control: %lu conntrack entries flushed", flushed);
	jadd(out, "flushed", jint(flushed));
	return 0;
}
