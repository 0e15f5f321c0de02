// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "lbd/hash.h"
#include "log.h"
#include "maglev.h"
#include "sorted.h"

int state_init(struct lbd_state *st, __u32 max_services, __u32 max_backends)
{
	__u32 i;

	memset(st, 0, sizeof(*st));
	st->max_services = max_services;
	st->max_backends = max_backends;
	st->free_svc = malloc(max_services * sizeof(__u32));
	st->free_be = malloc(max_backends * sizeof(__u32));
	st->saved_svc = malloc(max_services * sizeof(__u32));
	st->saved_be = malloc(max_backends * sizeof(__u32));
	if (!st->free_svc || !st->free_be || !st->saved_svc || !st->saved_be) {
		state_free(st);
		return -ENOMEM;
	}
	/* stacks: the lowest id on top */
	for (i = 0; i < max_services; i++)
		st->free_svc[i] = max_services - 1 - i;
	st->n_free_svc = max_services;
	for (i = 0; i < max_backends; i++)
		st->free_be[i] = max_backends - 1 - i;
	st->n_free_be = max_backends;
	return 0;
}

static void services_free(struct st_service *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].be);
		free(s[i].ranges);
	}
	free(s);
}

int state_set_host_addrs(struct lbd_state *st, const struct lbd_conf_addr *a,
			 size_t n)
{
	struct lbd_conf_addr *copy = malloc((n ? n : 1) * sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	memcpy(copy, a, n * sizeof(*copy));
	free(st->host);
	st->host = copy;
	st->n_host = n;
	return 0;
}

void state_free(struct lbd_state *st)
{
	free(st->host);
	free(st->vip_scratch);
	services_free(st->svc, st->n_svc);
	free(st->free_svc);
	free(st->free_be);
	free(st->saved_svc);
	free(st->saved_be);
	free(st->stale_be);
	free(st->stale_svc);
	memset(st, 0, sizeof(*st));
}

const char *state_served_str(enum st_served s)
{
	switch (s) {
	case ST_SERVED_APPLIED:
		return "applied";
	case ST_SERVED_PREVIOUS:
		return "previous";
	case ST_SERVED_MIXED:
		return "mixed";
	}
	return "?";
}

int svc_addr_cmp(const struct lbd_svc_addr *a, const struct lbd_svc_addr *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(&a->vip, &b->vip, sizeof(a->vip));
	if (c)
		return c;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return 0;
}

static int svc_cmp(const void *a, const void *b)
{
	return svc_addr_cmp(&((const struct st_service *)a)->key,
		       &((const struct st_service *)b)->key);
}

static int be_cmp(const void *a, const void *b)
{
	const struct st_backend *x = a, *y = b;

	return config_endpoint_cmp(&x->addr, x->port, &y->addr, y->port);
}

const struct st_service *state_find(const struct lbd_state *st,
				    const struct lbd_svc_addr *key)
{
	struct st_service k = { .key = *key };

	return sorted_find(&k, st->svc, st->n_svc, sizeof(*st->svc), svc_cmp);
}

const struct st_service *state_find_name(const struct lbd_state *st,
					 const char *name)
{
	size_t i;

	for (i = 0; i < st->n_svc; i++)
		if (!strcmp(st->svc[i].name, name))
			return &st->svc[i];
	return NULL;
}

__u8 st_backend_dp_state(const struct st_backend *b)
{
	if (b->conf_state == LBD_CS_DOWN || b->health_down)
		return LBD_BE_DOWN;
	if (b->conf_state == LBD_CS_DRAINING || b->drained)
		return LBD_BE_DRAINING;
	return LBD_BE_ACTIVE;
}

static bool in_table(const struct st_backend *b)
{
	return b->dp_state == LBD_BE_ACTIVE && b->weight > 0;
}

/* In the table's backend list: an owner, or a previous owner (configured
 * and not down). */
static bool in_list(const struct st_backend *b)
{
	return b->dp_state == LBD_BE_ACTIVE || b->dp_state == LBD_BE_DRAINING;
}

/* Identifies the table a service should have: size, seed, its usable
 * backends with weights, and the others its list holds as possible
 * previous owners. 0 means "no table". */
static __u32 table_hash(const struct st_service *s, __u32 m, __u32 seed)
{
	__u32 h = lbd_hash_mix(seed, m), n = 0;
	size_t i;
	int w;

	for (i = 0; i < s->n_be; i++) {
		const struct st_backend *b = &s->be[i];

		if (!in_list(b))
			continue;
		for (w = 0; w < 4; w++)
			h = lbd_hash_mix(h, b->addr.addr.v6[w]);
		h = lbd_hash_mix(h, b->port | (__u32)b->addr.family << 16);
		h = lbd_hash_mix(h, in_table(b) ? b->weight : 0);
		n += in_table(b);
	}
	if (!n)
		return 0;
	h = lbd_hash_final(h, n);
	return h ? h : 1;
}

/* a then b into dst, cut to fit. */
static void copy_trunc(char *dst, size_t len, const char *a, const char *b)
{
	size_t na = strnlen(a, len - 1), nb = strlen(b);

	/* bounded after strlen: GCC's -O3 (Release) takes a bound that
	 * depends on na for a read past b (-Wstringop-overread) */
	if (nb > len - 1 - na)
		nb = len - 1 - na;
	memcpy(dst, a, na);
	memcpy(dst + na, b, nb);
	dst[na + nb] = '\0';
}

/* "file:line" into dst, cut to fit. */
static void source_of(char *dst, size_t len, const char *file, __u32 line)
{
	char num[12], *p = num + sizeof(num);

	*--p = '\0';
	do
		*--p = (char)('0' + line % 10);
	while (line /= 10);
	*--p = ':';
	copy_trunc(dst, len, file, p);
}

static const char *svc_str(const struct st_service *s, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(s->key.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &s->key.vip, a, sizeof(a));
	snprintf(buf, len, "%s %s%s%s:%u/%s", s->name,
		 s->key.family == LBD_AF_INET6 ? "[" : "", a,
		 s->key.family == LBD_AF_INET6 ? "]" : "", ntohs(s->key.port),
		 config_proto_str(s->key.proto));
	return buf;
}

static const char *be_str(const struct st_backend *b, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(b->addr.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &b->addr.addr, a, sizeof(a));
	snprintf(buf, len, "%s%s%s:%u", b->addr.family == LBD_AF_INET6 ? "[" : "",
		 a, b->addr.family == LBD_AF_INET6 ? "]" : "", b->port);
	return buf;
}

static const char *dp_state_str(__u8 s)
{
	switch (s) {
	case LBD_BE_ACTIVE:
		return "active";
	case LBD_BE_DRAINING:
		return "draining";
	case LBD_BE_DOWN:
		return "down";
	default:
		return "unused";
	}
}

__attribute__((format(printf, 3, 4))) static void
plan_printf(plan_fn plan, void *arg, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	plan(arg, line);
}

/* A line of the plan; its arguments are not even evaluated without one:
 * formatting the addresses of 10,000 services is most of an apply. */
#define plan_line(plan, arg, ...)                            \
	do {                                                 \
		if (plan)                                    \
			plan_printf(plan, arg, __VA_ARGS__); \
	} while (0)

static int range_cmp(const void *a, const void *b)
{
	const struct lbd_conf_addr *x = a, *y = b;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->prefixlen != y->prefixlen)
		return x->prefixlen < y->prefixlen ? -1 : 1;
	c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	return c;
}

/* The family of a vip = "*" service: its backends' (validated to be
 * one); 0 (both) without backends. */
static __u8 wildcard_family(const struct lbd_config *cfg,
			    const struct lbd_conf_service *c)
{
	return c->n_backends ? cfg->backends[c->first_backend].addr.family : 0;
}

/* One desired service from config service c on VIP vip. */
static int desired_one(const struct lbd_config *cfg,
		       const struct lbd_conf_service *c,
		       const struct lbd_conf_addr *vip, struct st_service *s)
{
	size_t j, k = 0;

	s->key.family = vip->family;
	s->key.proto = c->proto;
	s->key.port = htons(c->port);
	s->key.vip = vip->addr;
	if (c->wildcard) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(vip->family == LBD_AF_INET ? AF_INET : AF_INET6,
			  &vip->addr, a, sizeof(a));
		snprintf(s->name, sizeof(s->name), "%.*s@%s",
			 (int)(sizeof(s->name) - sizeof(a) - 2), c->name, a);
	} else {
		copy_trunc(s->name, sizeof(s->name), c->name, "");
	}
	/* not printf: an apply of 10,000 unchanged services spent most
	 * of its time formatting these */
	if (c->origin == LBD_ORIGIN_K8S)
		copy_trunc(s->source, sizeof(s->source), "kubernetes ",
			   c->k8s_ref);
	else if (cfg->files && c->file < cfg->n_files)
		source_of(s->source, sizeof(s->source), cfg->files[c->file],
			  c->line);
	s->wildcard = c->wildcard;
	s->fwd = c->fwd;
	s->dsr = c->fwd == LBD_FWD_HYBRID ? c->dsr : 0;
	s->flags = c->no_backend == LBD_NB_REJECT ? LBD_SVC_F_UNREACH_ICMP : 0;
	if (c->affinity) {
		s->flags |= LBD_SVC_F_AFFINITY;
		s->affinity_timeout = c->affinity_timeout;
	}
	if (c->flow_backends)
		s->flags |= LBD_SVC_F_FLOW_BACKENDS;
	if (c->udp_stateless)
		s->flags |= LBD_SVC_F_UDP_STATELESS;
	s->maglev_size = c->maglev_size;
	s->icmp_echo = c->icmp_echo;
	s->ranges = calloc(c->n_ranges ? c->n_ranges : 1, sizeof(*s->ranges));
	s->be = calloc(c->n_backends ? c->n_backends : 1, sizeof(*s->be));
	if (!s->ranges || !s->be)
		return -ENOMEM;
	/* a VIP's source ranges are of its family */
	for (j = 0; j < c->n_ranges; j++)
		if (cfg->ranges[c->first_range + j].family == vip->family)
			s->ranges[k++] = cfg->ranges[c->first_range + j];
	s->n_ranges = k;
	qsort(s->ranges, s->n_ranges, sizeof(*s->ranges), range_cmp);
	if (c->n_ranges)
		s->flags |= c->src_mode == LBD_SRC_DENY ? LBD_SVC_F_SRC_DENY
							 : LBD_SVC_F_SRC_ALLOW;
	s->n_be = c->n_backends;
	for (j = 0; j < c->n_backends; j++) {
		const struct lbd_conf_backend *cb =
			&cfg->backends[c->first_backend + j];
		struct st_backend *b = &s->be[j];

		b->addr = cb->addr;
		b->port = cb->port ? cb->port : c->port;
		b->weight = cb->weight;
		b->conf_state = cb->state;
		b->health = cb->health;
		b->dp_state = st_backend_dp_state(b);
	}
	qsort(s->be, s->n_be, sizeof(*s->be), be_cmp);
	return 0;
}

static int copy_service(struct st_service *dst, const struct st_service *src)
{
	*dst = *src;
	dst->be = malloc((src->n_be ? src->n_be : 1) * sizeof(*dst->be));
	dst->ranges = malloc((src->n_ranges ? src->n_ranges : 1) *
			     sizeof(*dst->ranges));
	if (!dst->be || !dst->ranges) {
		free(dst->be);
		free(dst->ranges);
		dst->be = NULL;
		dst->ranges = NULL;
		return -ENOMEM;
	}
	/* memcpy from NULL is undefined even for 0 bytes */
	if (src->n_be)
		memcpy(dst->be, src->be, src->n_be * sizeof(*dst->be));
	if (src->n_ranges)
		memcpy(dst->ranges, src->ranges,
		       src->n_ranges * sizeof(*dst->ranges));
	return 0;
}

/* Adds the adopted services that the sorted desired services d lack,
 * as they are (st->hold_adopted). */
static int hold_adopted(const struct lbd_state *st, struct st_service **d,
			size_t *n)
{
	size_t i, k = *n, extra = 0;
	struct st_service *nd;

	for (i = 0; i < st->n_svc; i++)
		extra += st->svc[i].adopted &&
			 !sorted_find(&st->svc[i], *d, *n, sizeof(**d),
				      svc_cmp);
	if (!extra)
		return 0;
	nd = realloc(*d, (*n + extra) * sizeof(**d));
	if (!nd)
		return -ENOMEM;
	*d = nd;
	for (i = 0; i < st->n_svc; i++) {
		if (!st->svc[i].adopted ||
		    sorted_find(&st->svc[i], nd, *n, sizeof(*nd), svc_cmp))
			continue;
		if (copy_service(&nd[k], &st->svc[i])) {
			*n = k; /* the caller frees what was copied */
			return -ENOMEM;
		}
		k++;
	}
	*n = k;
	qsort(nd, *n, sizeof(*nd), svc_cmp);
	return 0;
}

/*
 * The desired state of cfg, without ids: services and backends sorted.
 * A vip = "*" service becomes one service per LB host address of its
 * family; where a configured VIP takes the same address and port, that
 * one wins.
 */
static int desired_build(const struct lbd_state *st,
			 const struct lbd_config *cfg, struct st_service **out,
			 size_t *n_out)
{
	size_t i, h, n = 0, cap = 0;
	struct st_service *d;
	int err = 0;

	for (i = 0; i < cfg->n_services; i++)
		cap += cfg->services[i].wildcard ? st->n_host : 1;
	d = calloc(cap ? cap : 1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (i = 0; i < cfg->n_services && !err; i++) {
		const struct lbd_conf_service *c = &cfg->services[i];
		__u8 fam;

		if (!c->wildcard) {
			err = desired_one(cfg, c, &c->vip, &d[n++]);
			continue;
		}
		fam = wildcard_family(cfg, c);
		for (h = 0; h < st->n_host && !err; h++)
			if (!fam || st->host[h].family == fam)
				err = desired_one(cfg, c, &st->host[h],
						  &d[n++]);
	}
	if (err) {
		services_free(d, n);
		return err;
	}
	qsort(d, n, sizeof(*d), svc_cmp);
	/* equal keys are adjacent: keep the configured VIP's */
	for (i = 0, h = 0; i < n; i++) {
		if (h && !svc_cmp(&d[h - 1], &d[i])) {
			struct st_service *gone = d[i].wildcard ? &d[i]
								: &d[h - 1];

			log_info("service %s: %s takes this address and port",
				 gone->name,
				 gone == &d[i] ? d[h - 1].name : d[i].name);
			if (gone == &d[h - 1]) {
				struct st_service keep = d[i];

				d[i] = d[h - 1];
				d[h - 1] = keep;
			}
			free(d[i].be);
			free(d[i].ranges);
			continue;
		}
		d[h++] = d[i];
	}
	if (st->hold_adopted) {
		err = hold_adopted(st, &d, &h);
		if (err) {
			services_free(d, h);
			return err;
		}
	}
	*out = d;
	*n_out = h;
	return 0;
}

struct apply_ctx {
	struct lbd_state *st;
	struct lbd_dp *dp; /* NULL: plan only */
	plan_fn plan;
	void *plan_arg;
	struct apply_result *res;
	/* an apply carries runtime flags (drain, health) from the old
	 * state to backends that stay; state_set_flag brings new ones */
	bool keep_flags;
	/* st->resync: every table is swapped, changed or not */
	bool force;
	/* table swaps waiting for the batch (see flush) */
	struct pending *pend;
	size_t n_pend;
	/* backend writes waiting for it: before the swaps (new and more
	 * usable backends, their counters zeroed) and after them */
	struct wbuf *pre, *post;
};

/* Backend entries to write together; zero: counters of ids to zero. */
struct wbuf {
	__u32 *ids;
	struct lbd_backend *vals;
	__u32 *zero;
	size_t n, n_zero, cap, cap_zero;
};

/*
 * A Maglev table swap waiting for its batch, and what its service does
 * once it is done: every swap waits for an RCU grace period (9-16 ms
 * here), a batch of them for one. What a service writes before its swap
 * (new and more usable backends) is written at once; what must wait until
 * no program reads the old table any more (released backends, the
 * service's own entry) waits for the batch.
 */
enum pend_kind { PEND_ADD, PEND_CHANGE, PEND_REMOVE };

struct pending {
	enum pend_kind kind;
	struct st_service *old; /* PEND_CHANGE, PEND_REMOVE */
	struct st_service *s; /* PEND_ADD, PEND_CHANGE */
	bool swap; /* else nothing to wait for: finished at once */
	/* the new table: built from mb (NULL: an empty table) in the batch,
	 * where tables are built in parallel; mb's ids index list, the
	 * backend ids of the table's list */
	struct maglev_backend *mb;
	size_t n_mb;
	__u32 *list;
	__u32 n_list;
	__u32 m;
	/* read the old table and keep its owners as previous owners */
	bool prev;
	int fd;
	int err;
	double build_ms;
	bool changed; /* PEND_CHANGE: pass 1 found a difference */
};

/* Swaps per batch: bounds the new tables held at once (1024 of the
 * default M 16381 are 68 MiB, of M 65537 256 MiB) while 10,000 services
 * take 10 grace periods of ~16 ms each, the most of an apply after the
 * tables' building. */
#define APPLY_BATCH 1024

static int flush(struct apply_ctx *x);

static int wbuf_add(struct wbuf *w, __u32 id, const struct lbd_backend *v)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		__u32 *ids = realloc(w->ids, cap * sizeof(*ids));
		struct lbd_backend *vals;

		if (!ids)
			return -ENOMEM;
		w->ids = ids;
		vals = realloc(w->vals, cap * sizeof(*vals));
		if (!vals)
			return -ENOMEM;
		w->vals = vals;
		w->cap = cap;
	}
	w->ids[w->n] = id;
	w->vals[w->n++] = *v;
	return 0;
}

static int wbuf_zero(struct wbuf *w, __u32 id)
{
	if (w->n_zero == w->cap_zero) {
		size_t cap = w->cap_zero ? 2 * w->cap_zero : 256;
		__u32 *zero = realloc(w->zero, cap * sizeof(*zero));

		if (!zero)
			return -ENOMEM;
		w->zero = zero;
		w->cap_zero = cap;
	}
	w->zero[w->n_zero++] = id;
	return 0;
}

/* Writes what w holds (counters first), in order; w is empty after. */
static int wbuf_write(struct apply_ctx *x, struct wbuf *w)
{
	int err = 0;

	if (w->n_zero)
		err = dp_be_traffic_reset_batch(x->dp, w->zero,
						(__u32)w->n_zero);
	if (!err && w->n)
		err = dp_backend_put_batch(x->dp, w->ids, w->vals,
					   (__u32)w->n);
	w->n = w->n_zero = 0;
	return err;
}

static void wbuf_free(struct wbuf *w)
{
	free(w->ids);
	free(w->vals);
	free(w->zero);
}

/* The backend's entry, written with the batch: before its swaps (pass 1:
 * the new table may name it) or after them (it became less usable). */
static int write_backend(struct apply_ctx *x, const struct st_service *s,
			 const struct st_backend *b, bool after)
{
	struct lbd_backend v = { 0 };

	if (!x->dp)
		return 0;
	v.addr = b->addr.addr;
	v.port = htons(b->port);
	v.family = b->addr.family;
	v.state = b->dp_state;
	v.gen = b->gen;
	v.svc_id = s->id;
	v.weight = (__u16)b->weight;
	return wbuf_add(after ? x->post : x->pre, b->id, &v);
}

/* After the swaps: no table names it any more. */
static int release_backend(struct apply_ctx *x, const struct st_backend *b)
{
	/* UNUSED with the old gen: conntrack entries that name it select
	 * again, and the id's next holder gets a new gen */
	struct lbd_backend v = { .gen = b->gen };

	if (!x->dp)
		return 0;
	x->st->free_be[x->st->n_free_be++] = b->id;
	return wbuf_add(x->post, b->id, &v);
}

static int alloc_backend(struct apply_ctx *x, struct st_backend *b)
{
	if (!x->dp)
		return 0;
	if (!x->st->n_free_be)
		return -ENOSPC;
	b->id = x->st->free_be[--x->st->n_free_be];
	b->gen = ++x->st->gen;
	return wbuf_zero(x->pre, b->id);
}

/* Whether the service's table changes: p->swap, with the backends the
 * new table holds in p->mb and p->list (none: an empty table, no backend
 * usable). */
static int prepare_table(struct apply_ctx *x, struct st_service *s,
			 __u32 old_hash, struct pending *p)
{
	__u32 m = s->maglev_size ? s->maglev_size : x->st->maglev_size;
	size_t i, n = 0;

	p->swap = false;
	p->fd = -1;
	s->table_hash = table_hash(s, m, x->st->seed);
	if (s->table_hash == old_hash && !x->force)
		return 0;
	x->res->tables++;
	s->table_size = s->table_hash ? m : 0;
	if (!x->dp)
		return 0;
	p->swap = true;
	if (!s->table_hash)
		return 0;
	if (s->n_be > LBD_MAGLEV_MAX_LIST)
		return -E2BIG;
	p->m = m;
	p->prev = (s->flags & LBD_SVC_F_FLOW_BACKENDS) && p->old &&
		  p->old->table_size == m;
	p->mb = calloc(s->n_be, sizeof(*p->mb));
	p->list = calloc(s->n_be, sizeof(*p->list));
	if (!p->mb || !p->list)
		return -ENOMEM;
	for (i = 0; i < s->n_be; i++) {
		const struct st_backend *b = &s->be[i];

		if (!in_list(b))
			continue;
		if (in_table(b)) {
			p->mb[n].addr = b->addr.addr;
			p->mb[n].family = b->addr.family;
			p->mb[n].port = htons(b->port);
			p->mb[n].weight = b->weight;
			/* the slot's word as maglev_build writes it: the
			 * owner's index in the list, no previous owner */
			p->mb[n].id =
				LBD_MAGLEV_SLOT(p->n_list, LBD_MAGLEV_NONE);
			n++;
		}
		p->list[p->n_list++] = b->id;
	}
	p->n_mb = n;
	/* the Maglev paper's M > 100 N keeps the imbalance under 1% */
	if (m < 100 * n && (!old_hash || (p->old && p->old->table_size != m)))
		log_warnx("service %s: maglev_table_size %u is below 100 x its "
			  "%zu backends: their shares differ by more than 1%%",
			  s->name, m, n);
	return 0;
}

static void pend_free(struct pending *p)
{
	free(p->mb);
	free(p->list);
	p->mb = NULL;
	p->list = NULL;
}

/* A list entry: a backend id and its index in the table's list. */
struct list_ent {
	__u32 id, idx;
};

static int list_ent_cmp(const void *a, const void *b)
{
	const struct list_ent *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The index of backend id in a table's list (ents sorted by id), or
 * LBD_MAGLEV_NONE. */
static __u32 list_find(const struct list_ent *ents, __u32 n, __u32 id)
{
	struct list_ent k = { .id = id }, *e;

	e = bsearch(&k, ents, n, sizeof(*ents), list_ent_cmp);
	return e ? e->idx : LBD_MAGLEV_NONE;
}

/*
 * Gives the new table (words, its slots' owners set) previous owners from
 * the installed one (docs/flow-state.md): for each slot, the old owner if
 * the slot changed hands, else the old previous owner, as long as that
 * backend is still in the list (configured, not down) and not the new
 * owner. Ids identify backends across the two: a backend that stays keeps
 * its id, and a new one gets an id no backend of the old table had.
 */
static int table_prev(struct apply_ctx *x, const struct pending *p,
		      __u32 *words)
{
	__u32 *old = NULL, *map = NULL, n = p->n_list, m = p->m, on, s, i;
	struct list_ent *ents = NULL;
	int err = 0;

	/* an old table that cannot be read costs its previous owners, not
	 * the apply */
	if (dp_maglev_read(x->dp, p->s->id, &old) || !old || old[0] != m)
		goto out;
	on = old[1];
	err = -ENOMEM;
	ents = malloc((size_t)(n ? n : 1) * sizeof(*ents));
	map = malloc((size_t)(on ? on : 1) * sizeof(*map));
	if (!ents || !map)
		goto out;
	for (i = 0; i < n; i++)
		ents[i] = (struct list_ent){ .id = p->list[i], .idx = i };
	qsort(ents, n, sizeof(*ents), list_ent_cmp);
	/* the old list's entries in the new list */
	for (i = 0; i < on; i++)
		map[i] = list_find(ents, n, old[LBD_MAGLEV_HDR + i]);
	for (s = 0; s < m; s++) {
		__u32 ow = old[LBD_MAGLEV_HDR + on + s];
		__u32 *w = &words[LBD_MAGLEV_HDR + n + s];
		__u32 cur = LBD_MAGLEV_CUR(*w), prev = LBD_MAGLEV_NONE;
		__u32 oc = map[LBD_MAGLEV_CUR(ow)];
		__u32 op = LBD_MAGLEV_PREV(ow) == LBD_MAGLEV_NONE
				   ? LBD_MAGLEV_NONE
				   : map[LBD_MAGLEV_PREV(ow)];

		if (oc != LBD_MAGLEV_NONE && oc != cur)
			prev = oc;
		else if (op != LBD_MAGLEV_NONE && op != cur)
			prev = op;
		*w = LBD_MAGLEV_SLOT(cur, prev);
	}
	err = 0;
out:
	free(old);
	free(ents);
	free(map);
	return err;
}

/* Builds the tables of a batch on every CPU: a table of 65537 slots
 * takes most of a millisecond, and 10,000 services have 10,000. */
struct build_job {
	struct apply_ctx *x;
	size_t first, step;
};

static void *build_tables(void *arg)
{
	struct build_job *j = arg;
	struct apply_ctx *x = j->x;
	/* one buffer for every table: fresh pages cost a fault each */
	__u32 *table = NULL;
	size_t i, cap = 0;

	for (i = j->first; i < x->n_pend; i += j->step) {
		struct pending *p = &x->pend[i];
		struct timespec t0, t1;
		size_t words;
		__u32 n;

		if (!p->swap)
			continue;
		if (!p->mb) {
			p->fd = dp_maglev_prepare(x->dp, NULL, 0, 0);
			p->err = p->fd < 0 ? p->fd : 0;
			continue;
		}
		n = p->n_list;
		words = dp_maglev_words(p->m, n);
		if (words > cap) {
			free(table);
			table = malloc(words * sizeof(*table));
			cap = table ? words : 0;
		}
		if (!table) {
			p->err = -ENOMEM;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* the slots' words: the owners' list indices (mb's ids) */
		p->err = maglev_build(p->mb, p->n_mb, p->m, x->st->seed,
				      table + LBD_MAGLEV_HDR + n);
		if (!p->err) {
			memcpy(table + LBD_MAGLEV_HDR, p->list,
			       (size_t)n * sizeof(*table));
			if (p->prev)
				p->err = table_prev(x, p, table);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		p->build_ms = (t1.tv_sec - t0.tv_sec) * 1e3 +
			      (t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (!p->err) {
			p->fd = dp_maglev_prepare(x->dp, table, p->m, n);
			p->err = p->fd < 0 ? p->fd : 0;
		}
	}
	free(table);
	return NULL;
}

#define BUILD_THREADS_MAX 16

static int build_batch(struct apply_ctx *x)
{
	struct build_job jobs[BUILD_THREADS_MAX];
	pthread_t tids[BUILD_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i, n = cpus < 1 ? 1 : (size_t)cpus, started = 0;
	struct timespec t0, t1;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (n > BUILD_THREADS_MAX)
		n = BUILD_THREADS_MAX;
	if (n > x->n_pend)
		n = x->n_pend;
	for (i = 0; i < n; i++) {
		jobs[i] = (struct build_job){ .x = x, .first = i, .step = n };
		/* this thread takes the first share itself */
		if (i && pthread_create(&tids[i], NULL, build_tables, &jobs[i]))
			break;
		started = i + 1;
	}
	if (started < n) /* no more threads: the rest here too */
		for (i = started; i < n; i++)
			build_tables(&jobs[i]);
	if (n)
		build_tables(&jobs[0]);
	for (i = 1; i < started; i++)
		pthread_join(tids[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	x->res->maglev_wall_ms += (t1.tv_sec - t0.tv_sec) * 1e3 +
				  (t1.tv_nsec - t0.tv_nsec) / 1e6;
	for (i = 0; i < x->n_pend; i++) {
		x->res->maglev_ms += x->pend[i].build_ms;
		if (!err && x->pend[i].err)
			err = x->pend[i].err;
	}
	return err;
}

/* Queues a service's swap, or finishes it at once when it has none. */
static int finish(struct apply_ctx *x, const struct pending *p);

static int enqueue(struct apply_ctx *x, const struct pending *p)
{
	int err;

	if (!p->swap) {
		/* what waits is written before it, and what it releases
		 * before an id can be taken again */
		err = wbuf_write(x, x->pre);
		if (!err)
			err = finish(x, p);
		return err ? err : wbuf_write(x, x->post);
	}
	x->pend[x->n_pend++] = *p;
	return x->n_pend == APPLY_BATCH ? flush(x) : 0;
}

/* A service as the program reads it. */
static void svc_value(const struct st_service *s, struct lbd_svc *v)
{
	memset(v, 0, sizeof(*v));
	v->id = s->id;
	v->table_size = s->table_size;
	v->fwd = s->fwd;
	v->dsr = s->dsr;
	v->flags = s->flags;
	v->table_hash = s->table_hash;
	v->affinity_timeout = s->affinity_timeout;
}

static int write_service(struct apply_ctx *x, const struct st_service *s)
{
	struct lbd_svc v;

	if (!x->dp)
		return 0;
	svc_value(s, &v);
	return dp_svc_put(x->dp, &s->key, &v);
}

/* What a service makes its VIP do: a VIP's flags are those of all its
 * services together. */
static __u32 svc_vip_flags(const struct st_service *s)
{
	if (s->wildcard)
		return LBD_VIP_F_HOST;
	return s->icmp_echo ? LBD_VIP_F_ICMP_ECHO : 0;
}

static bool same_vip(const struct st_service *a, const struct st_service *b)
{
	return a->key.family == b->key.family &&
	       !memcmp(&a->key.vip, &b->key.vip, sizeof(a->key.vip));
}

/* Lists service s in slot t, or marks that it has more than it lists. */
static void slot_list(struct lbd_vip_slot *t, const struct st_service *s)
{
	struct lbd_slot_svc *e;
	int i;

	for (i = 0; i < LBD_SLOT_SVCS && t->svcs[i].proto; i++)
		;
	if (i == LBD_SLOT_SVCS) {
		t->flags |= LBD_SLOT_F_MORE;
		return;
	}
	e = &t->svcs[i];
	e->port = s->key.port;
	e->proto = s->key.proto;
	svc_value(s, &e->svc);
	/* userspace's own: a changed table alone changes no slot */
	e->svc.table_hash = 0;
}

/*
 * Derives the VIP table (struct lbd_vip_slot) from services s[0..n),
 * sorted, and installs it. With also, only those of s that also has (by
 * key) are listed. The first VIP in that order to hash to a slot holds
 * it; services are listed in port order.
 */
static int vip_table_sync(struct lbd_state *st, struct lbd_dp *dp,
			  const struct st_service *s, size_t n,
			  const struct st_service *also, size_t n_also)
{
	__u32 nslots = dp ? dp_vip_slots(dp) : 0, h;
	struct lbd_vip_slot *slots, *t;
	size_t i, j, k;

	if (!nslots)
		return 0;
	if (st->n_vip_scratch != nslots) {
		free(st->vip_scratch);
		st->n_vip_scratch = 0;
		st->vip_scratch = calloc(nslots, sizeof(*slots));
		if (!st->vip_scratch) {
			dp_vip_table_put(dp, NULL);
			return -ENOMEM;
		}
		st->n_vip_scratch = nslots;
	}
	slots = st->vip_scratch;
	memset(slots, 0, nslots * sizeof(*slots));
	for (i = 0; i < n; i = j) {
		t = NULL;
		for (j = i; j < n && same_vip(&s[i], &s[j]); j++)
			;
		for (k = i; k < j; k++) {
			if (also && !sorted_find(&s[k], also, n_also,
						 sizeof(*also), svc_cmp))
				continue;
			if (!t) {
				h = s[k].key.family == LBD_AF_INET ?
					    lbd_vip_slot_hash(&s[k].key.vip.v4,
							      1) :
					    lbd_vip_slot_hash(s[k].key.vip.v6,
							      4);
				t = &slots[h & (nslots - 1)];
				if (t->family) {
					t->flags |= LBD_SLOT_F_SPILL;
					break;
				}
				t->family = s[k].key.family;
				t->addr = s[k].key.vip;
			}
			t->vip_flags |= svc_vip_flags(&s[k]);
			slot_list(t, &s[k]);
		}
	}
	return dp_vip_table_put(dp, slots);
}

/* Writes the difference between a service's old source ranges and its
 * new ones (old may be NULL: none). */
static int sync_ranges(struct apply_ctx *x, const struct st_service *old,
		       const struct st_service *s)
{
	size_t i = 0, j = 0, on = old ? old->n_ranges : 0;
	char a[INET6_ADDRSTRLEN];
	int err = 0;

	while (!err && (i < on || j < s->n_ranges)) {
		int c = i == on		 ? 1 :
			j == s->n_ranges ? -1 :
					   range_cmp(&old->ranges[i],
						     &s->ranges[j]);
		const struct lbd_conf_addr *r;

		if (!c) {
			i++;
			j++;
			continue;
		}
		r = c < 0 ? &old->ranges[i++] : &s->ranges[j++];
		if (old)
			plan_line(x->plan, x->plan_arg, "%c source range %s %s/%u",
				  c < 0 ? '-' : '+', s->name,
				  inet_ntop(r->family == LBD_AF_INET ? AF_INET
								     : AF_INET6,
					    &r->addr, a, sizeof(a)),
				  r->prefixlen);
		if (!x->dp)
			continue;
		err = c < 0 ? dp_src_del(x->dp, s->id, r->family, &r->addr,
					 r->prefixlen)
			    : dp_src_put(x->dp, s->id, r->family, &r->addr,
					 r->prefixlen);
	}
	return err;
}

static int add_service(struct apply_ctx *x, struct st_service *s)
{
	char sb[LBD_SVC_NAME_MAX + 64], bb[64];
	size_t i;
	int err;

	plan_line(x->plan, x->plan_arg, "+ service %s %s, %zu backends",
		  svc_str(s, sb, sizeof(sb)), config_fwd_str(s->fwd), s->n_be);
	x->res->svc_added++;
	if (x->dp) {
		if (!x->st->n_free_svc)
			return -ENOSPC;
		s->id = x->st->free_svc[--x->st->n_free_svc];
		err = dp_svc_traffic_reset(x->dp, s->id);
		if (err)
			return err;
	}
	for (i = 0; i < s->n_be; i++) {
		struct st_backend *b = &s->be[i];

		plan_line(x->plan, x->plan_arg,
			  "+ backend %s %s weight %u %s", s->name,
			  be_str(b, bb, sizeof(bb)), b->weight,
			  dp_state_str(b->dp_state));
		x->res->be_added++;
		err = alloc_backend(x, b);
		if (!err)
			err = write_backend(x, s, b, false);
		if (err)
			return err;
	}
	{
		struct pending p = { .kind = PEND_ADD, .s = s };

		err = prepare_table(x, s, 0, &p);
		if (err)
			pend_free(&p);
		return err ? err : enqueue(x, &p);
	}
}

/* After the swap: the ranges, then the entry that makes it reachable. */
static int add_finish(struct apply_ctx *x, struct st_service *s)
{
	int err = sync_ranges(x, NULL, s);

	return err ? err : write_service(x, s);
}

static int remove_service(struct apply_ctx *x, struct st_service *s)
{
	char sb[LBD_SVC_NAME_MAX + 64];
	int err;

	plan_line(x->plan, x->plan_arg, "- service %s",
		  svc_str(s, sb, sizeof(sb)));
	x->res->svc_removed++;
	x->res->be_removed += s->n_be;
	if (!x->dp)
		return 0;
	err = dp_svc_del(x->dp, &s->key);
	if (err)
		return err;
	{
		/* the table goes (an empty one in its place) before its
		 * backends' ids can be another's */
		struct pending p = { .kind = PEND_REMOVE,
				     .old = s,
				     .swap = s->table_hash != 0 || x->force,
				     .fd = -1 };

		return enqueue(x, &p);
	}
}

static int remove_finish(struct apply_ctx *x, struct st_service *s)
{
	size_t i;
	int err = 0;

	for (i = 0; !err && i < s->n_ranges; i++)
		err = dp_src_del(x->dp, s->id, s->ranges[i].family,
				 &s->ranges[i].addr, s->ranges[i].prefixlen);
	for (i = 0; !err && i < s->n_be; i++)
		err = release_backend(x, &s->be[i]);
	if (!err)
		x->st->free_svc[x->st->n_free_svc++] = s->id;
	return err;
}

static bool usable_rank_up(__u8 from, __u8 to)
{
	/* ACTIVE < DRAINING < DOWN in what they allow; lower is more */
	static const int rank[] = { [LBD_BE_ACTIVE] = 0,
				    [LBD_BE_DRAINING] = 1,
				    [LBD_BE_DOWN] = 2,
				    [LBD_BE_UNUSED] = 3 };
	return rank[to] < rank[from];
}

/* Moves old's ids and runtime state into s (the desired version) and
 * writes what differs. */
static int change_service(struct apply_ctx *x, struct st_service *old,
			  struct st_service *s)
{
	size_t i = 0, j = 0;
	bool changed = false;
	char bb[64];
	int err = 0;

	s->id = old->id;
	s->table_hash = old->table_hash;
	s->table_size = old->table_size;

	/* pass 1: match backends; write new ones and those that become
	 * more usable, before the table can name them */
	while (i < old->n_be || j < s->n_be) {
		int c = i == old->n_be	? 1 :
			j == s->n_be	? -1 :
					  be_cmp(&old->be[i], &s->be[j]);

		if (c < 0) {
			plan_line(x->plan, x->plan_arg, "- backend %s %s",
				  s->name, be_str(&old->be[i], bb, sizeof(bb)));
			x->res->be_removed++;
			changed = true;
			i++;
			continue;
		}
		if (c > 0) {
			struct st_backend *b = &s->be[j++];

			plan_line(x->plan, x->plan_arg,
				  "+ backend %s %s weight %u %s", s->name,
				  be_str(b, bb, sizeof(bb)), b->weight,
				  dp_state_str(b->dp_state));
			x->res->be_added++;
			changed = true;
			err = alloc_backend(x, b);
			if (!err)
				err = write_backend(x, s, b, false);
			if (err)
				return err;
			continue;
		}
		{
			struct st_backend *o = &old->be[i++], *b = &s->be[j++];

			b->id = o->id;
			b->gen = o->gen;
			if (x->keep_flags) {
				b->health_down = o->health_down;
				b->drained = o->drained;
			}
			b->dp_state = st_backend_dp_state(b);
			if (b->dp_state == o->dp_state && b->weight == o->weight)
				continue;
			plan_line(x->plan, x->plan_arg,
				  "~ backend %s %s weight %u -> %u, %s -> %s",
				  s->name, be_str(b, bb, sizeof(bb)), o->weight,
				  b->weight, dp_state_str(o->dp_state),
				  dp_state_str(b->dp_state));
			x->res->be_changed++;
			changed = true;
			if (usable_rank_up(o->dp_state, b->dp_state)) {
				err = write_backend(x, s, b, false);
				if (err)
					return err;
			}
		}
	}

	{
		struct pending p = { .kind = PEND_CHANGE, .old = old, .s = s,
				     .changed = changed };

		err = prepare_table(x, s, old->table_hash, &p);
		if (err)
			pend_free(&p);
		return err ? err : enqueue(x, &p);
	}
}

/* After the swap: the rest of change_service. */
static int change_finish(struct apply_ctx *x, struct st_service *old,
			 struct st_service *s, bool changed)
{
	size_t i, j;
	char sb[LBD_SVC_NAME_MAX + 64];
	int err = 0;

	/* pass 2: after the swap, backends that became less usable (or
	 * only changed weight), then the removed ones */
	for (i = 0, j = 0; i < old->n_be || j < s->n_be;) {
		int c = i == old->n_be	? 1 :
			j == s->n_be	? -1 :
					  be_cmp(&old->be[i], &s->be[j]);

		if (c < 0) {
			err = release_backend(x, &old->be[i++]);
		} else if (c > 0) {
			j++;
		} else {
			struct st_backend *o = &old->be[i++], *b = &s->be[j++];

			if ((b->dp_state != o->dp_state ||
			     b->weight != o->weight) &&
			    !usable_rank_up(o->dp_state, b->dp_state))
				err = write_backend(x, s, b, true);
		}
		if (err)
			return err;
	}

	/* ranges before the service's flags say they count */
	err = sync_ranges(x, old, s);
	if (err)
		return err;
	if (s->n_ranges != old->n_ranges ||
	    (s->n_ranges &&
	     memcmp(s->ranges, old->ranges, s->n_ranges * sizeof(*s->ranges))))
		changed = true;
	if (s->fwd != old->fwd || s->flags != old->flags ||
	    s->dsr != old->dsr ||
	    s->affinity_timeout != old->affinity_timeout ||
	    s->table_hash != old->table_hash) {
		if (s->fwd != old->fwd || s->flags != old->flags ||
		    s->dsr != old->dsr ||
		    s->affinity_timeout != old->affinity_timeout)
			plan_line(
				x->plan, x->plan_arg,
				"~ service %s %s -> %s%s%s%s%s",
				svc_str(s, sb, sizeof(sb)),
				config_fwd_str(old->fwd),
				config_fwd_str(s->fwd),
				(s->flags ^ old->flags) &
						LBD_SVC_F_UNREACH_ICMP ?
					", no_backend" :
					"",
				(s->flags ^ old->flags) & LBD_SVC_F_AFFINITY ||
						s->affinity_timeout !=
							old->affinity_timeout ?
					", session_affinity" :
					"",
				(s->flags ^ old->flags) & (LBD_SVC_F_SRC_ALLOW |
							   LBD_SVC_F_SRC_DENY) ?
					", source_ranges_mode" :
					"",
				(s->flags ^ old->flags) &
						(LBD_SVC_F_FLOW_BACKENDS |
						 LBD_SVC_F_UDP_STATELESS) ?
					", flow_state" :
					"");
		changed = true;
		err = write_service(x, s);
	}
	if (changed)
		x->res->svc_changed++;
	return err;
}

static int finish(struct apply_ctx *x, const struct pending *p)
{
	switch (p->kind) {
	case PEND_ADD:
		return add_finish(x, p->s);
	case PEND_CHANGE:
		return change_finish(x, p->old, p->s, p->changed);
	case PEND_REMOVE:
		return remove_finish(x, p->old);
	}
	return -EINVAL;
}

/* Forgets the queued swaps (made, or not after an error). */
static void pend_drop(struct apply_ctx *x)
{
	size_t i;

	for (i = 0; i < x->n_pend; i++) {
		if (x->pend[i].fd >= 0)
			close(x->pend[i].fd);
		pend_free(&x->pend[i]);
	}
	x->n_pend = 0;
}

/* Builds the queued tables, writes the backends they may name, swaps them
 * in one batch, then finishes their services and writes what waited for
 * the swaps. */
static int flush(struct apply_ctx *x)
{
	__u32 ids[APPLY_BATCH];
	int fds[APPLY_BATCH], err = 0;
	size_t i, n = x->n_pend;

	if (n)
		err = build_batch(x);
	if (!err)
		err = wbuf_write(x, x->pre);
	for (i = 0; !err && i < n; i++) {
		const struct pending *p = &x->pend[i];

		ids[i] = p->kind == PEND_REMOVE ? p->old->id : p->s->id;
		fds[i] = p->fd;
	}
	if (!err && n)
		err = dp_maglev_commit(x->dp, ids, fds, (__u32)n);
	/* the entries stay readable until the next enqueue */
	pend_drop(x);
	for (i = 0; !err && i < n; i++)
		err = finish(x, &x->pend[i]);
	if (!err)
		err = wbuf_write(x, x->post);
	return err;
}

/* The VIP table after a change of the applied services. The hash maps
 * hold them all: a table that cannot be made is taken out, and packets
 * find their services there, more slowly. */
static void vip_table_refresh(struct lbd_state *st, struct lbd_dp *dp)
{
	int err = vip_table_sync(st, dp, st->svc, st->n_svc, NULL, 0);

	if (err)
		log_warnx("installing the VIP table failed (%s); VIPs are "
			  "looked up in the hash maps until the next apply",
			  strerror(-err));
}

/*
 * After the state was read back from the maps: what the maps do not hold
 * (names, sources, runtime drains and health verdicts, the config's
 * backend state) comes from the state before, for the services and
 * backends it had. A drained backend stays drained through the next
 * apply, as a health verdict stays.
 */
static void keep_known(struct lbd_state *st, const struct st_service *old,
		       size_t n_old)
{
	size_t i, j;

	for (i = 0; i < st->n_svc; i++) {
		struct st_service *s = &st->svc[i];
		const struct st_service *o =
			sorted_find(s, old, n_old, sizeof(*old), svc_cmp);

		if (!o)
			continue;
		memcpy(s->name, o->name, sizeof(s->name));
		memcpy(s->source, o->source, sizeof(s->source));
		s->adopted = o->adopted;
		for (j = 0; j < s->n_be; j++) {
			struct st_backend *b = &s->be[j];
			const struct st_backend *ob = sorted_find(
				b, o->be, o->n_be, sizeof(*o->be), be_cmp);

			if (!ob)
				continue;
			b->conf_state = ob->conf_state;
			b->drained = ob->drained;
			b->health_down = ob->health_down;
			b->health = ob->health;
		}
	}
}

/* What a rollback puts back besides the maps. */
struct txn {
	size_t n_free_svc, n_free_be;
	__u32 maglev_size, seed;
};

/* Before the first write: the maps' writes are journaled from here. */
static int txn_begin(struct lbd_state *st, struct lbd_dp *dp, struct txn *t)
{
	t->n_free_svc = st->n_free_svc;
	t->n_free_be = st->n_free_be;
	t->maglev_size = st->maglev_size;
	t->seed = st->seed;
	memcpy(st->saved_svc, st->free_svc,
	       st->n_free_svc * sizeof(*st->free_svc));
	memcpy(st->saved_be, st->free_be, st->n_free_be * sizeof(*st->free_be));
	return dp_journal_begin(dp);
}

/*
 * Commits (err 0) or rolls back what the transaction wrote; apply: a
 * state_apply (which sets st->served), else a runtime change (which
 * leaves it, unless the maps end up mixed). Returns err.
 */
static int txn_end(struct lbd_state *st, struct lbd_dp *dp, const struct txn *t,
		   int err, bool apply, const char *what)
{
	struct st_service *old;
	size_t n_old;
	int rb;

	if (!err) {
		dp_journal_end(dp);
		if (apply) {
			st->last_err = 0;
			/* cleared (clear_stale), every table and VIP
			 * written (resync) */
			st->n_stale_be = st->n_stale_svc = 0;
			st->resync = false;
			st->served = ST_SERVED_APPLIED;
		}
		return 0;
	}
	st->failures++;
	st->last_err = err;
	rb = dp_journal_rollback(dp);
	dp_journal_end(dp);
	/* the ids as they were; the generation counter stays ahead: a
	 * flow that met a backend of the failed apply must not take a
	 * later holder of its id for it */
	st->n_free_svc = t->n_free_svc;
	st->n_free_be = t->n_free_be;
	memcpy(st->free_svc, st->saved_svc,
	       st->n_free_svc * sizeof(*st->free_svc));
	memcpy(st->free_be, st->saved_be, st->n_free_be * sizeof(*st->free_be));
	st->maglev_size = t->maglev_size;
	st->seed = t->seed;
	if (!rb) {
		/* the state before it: still a mix if it was one */
		if (apply && st->served != ST_SERVED_MIXED)
			st->served = ST_SERVED_PREVIOUS;
		log_warnx("%s failed (%s); its writes were rolled back: the "
			  "datapath serves the state before it",
			  what, strerror(-err));
		vip_table_refresh(st, dp);
		return err;
	}
	st->rollback_failures++;
	st->served = ST_SERVED_MIXED;
	log_warnx("%s failed (%s), and so did rolling it back (%s): the "
		  "datapath serves part of it; re-reading the state from the "
		  "maps until an apply succeeds",
		  what, strerror(-err), strerror(-rb));
	old = st->svc;
	n_old = st->n_svc;
	st->svc = NULL;
	st->n_svc = 0;
	rb = state_adopt(st, dp, st->maglev_size, st->seed);
	if (rb) {
		log_warnx("re-reading the datapath state: %s", strerror(-rb));
		if (!st->svc) {
			st->svc = old;
			st->n_svc = n_old;
			old = NULL;
		}
	}
	if (old) {
		keep_known(st, old, n_old);
		services_free(old, n_old);
	}
	st->resync = true;
	return err;
}

/* VIPs of a sorted service array: one entry per address, with flags. */
struct vip_ent {
	__u8 family;
	union lbd_addr addr;
	__u32 flags;
	__u32 services;
};

static size_t vips_of(const struct st_service *s, size_t n,
		      struct vip_ent *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (k && out[k - 1].family == s[i].key.family &&
		    !memcmp(&out[k - 1].addr, &s[i].key.vip,
			    sizeof(s[i].key.vip))) {
			out[k - 1].services++;
		} else {
			out[k].family = s[i].key.family;
			out[k].addr = s[i].key.vip;
			out[k].flags = 0;
			out[k].services = 1;
			k++;
		}
		out[k - 1].flags |= svc_vip_flags(&s[i]);
	}
	return k;
}

static int vip_cmp(const struct vip_ent *a, const struct vip_ent *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int vip_ent_cmp(const void *a, const void *b)
{
	return vip_cmp(a, b);
}

static const char *vip_str(const struct vip_ent *v, char *buf, size_t len)
{
	inet_ntop(v->family == LBD_AF_INET ? AF_INET : AF_INET6, &v->addr, buf,
		  (socklen_t)len);
	return buf;
}

/* pass 0: delete VIPs that go away (before their services);
 * pass 1: write new and changed ones (after). Only pass 1 reports: a
 * VIP's own setting is whether it answers echo requests, which is on
 * when any of its services asks for it. */
static int apply_vips(struct apply_ctx *x, const struct vip_ent *ov,
		      size_t on, const struct vip_ent *nv, size_t nn, int pass)
{
	size_t i = 0, j = 0;
	char a[INET6_ADDRSTRLEN];
	int err = 0;

	while (!err && (i < on || j < nn)) {
		int c = i == on ? 1 : j == nn ? -1 : vip_cmp(&ov[i], &nv[j]);
		struct lbd_vip v;

		if (c < 0) {
			if (pass == 0 && x->dp)
				err = dp_vip_del(x->dp, ov[i].family,
						 &ov[i].addr);
			if (pass == 1)
				plan_line(x->plan, x->plan_arg, "- vip %s",
					  vip_str(&ov[i], a, sizeof(a)));
			i++;
		} else if (c > 0 || ov[i].flags != nv[j].flags ||
			   ov[i].services != nv[j].services) {
			if (pass == 1 && x->dp) {
				v.flags = nv[j].flags;
				v.services = nv[j].services;
				err = dp_vip_put(x->dp, nv[j].family,
						 &nv[j].addr, &v);
			}
			if (pass == 1 && c > 0)
				plan_line(x->plan, x->plan_arg,
					  "+ vip %s icmp_echo %s",
					  vip_str(&nv[j], a, sizeof(a)),
					  nv[j].flags & LBD_VIP_F_ICMP_ECHO ?
						  "on" :
						  "off");
			else if (pass == 1 && ov[i].flags != nv[j].flags)
				plan_line(x->plan, x->plan_arg,
					  "~ vip %s icmp_echo %s -> %s",
					  vip_str(&nv[j], a, sizeof(a)),
					  ov[i].flags & LBD_VIP_F_ICMP_ECHO ?
						  "on" :
						  "off",
					  nv[j].flags & LBD_VIP_F_ICMP_ECHO ?
						  "on" :
						  "off");
			if (c == 0)
				i++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	return err;
}

/*
 * Whether the ids the apply needs are there. Removed services give their
 * ids back first (state_apply removes them before anything is added);
 * within a changed service, new backends take ids before removed ones
 * give theirs back, so those are not counted as free.
 */
static int reserve_check(const struct lbd_state *st,
			 const struct st_service *d, size_t dn)
{
	/* stale ids are cleared first (clear_stale) */
	size_t i = 0, j = 0, free_svc = st->n_free_svc + st->n_stale_svc;
	size_t free_be = st->n_free_be + st->n_stale_be;
	size_t need_svc = 0, need_be = 0;

	while (i < st->n_svc || j < dn) {
		int c = i == st->n_svc ? 1 :
			j == dn	       ? -1 :
					 svc_cmp(&st->svc[i], &d[j]);

		if (c < 0) {
			free_svc++;
			free_be += st->svc[i++].n_be;
		} else if (c > 0) {
			need_svc++;
			need_be += d[j++].n_be;
		} else {
			const struct st_service *o = &st->svc[i++];
			const struct st_service *s = &d[j++];
			size_t a = 0, b = 0;

			while (a < o->n_be || b < s->n_be) {
				int e = a == o->n_be ? 1 :
					b == s->n_be ? -1 :
						       be_cmp(&o->be[a], &s->be[b]);

				if (e < 0) {
					a++;
				} else if (e > 0) {
					need_be++;
					b++;
				} else {
					a++;
					b++;
				}
			}
		}
	}
	return need_svc > free_svc || need_be > free_be ? -ENOSPC : 0;
}

/* Collects the source ranges of the stale service ids of m (keys). */
static int stale_ranges(struct lbd_state *st, struct lbd_dp *dp, enum dp_map m,
			void **keys, size_t *n)
{
	size_t ks = m == DP_MAP_SRC4 ? sizeof(struct lbd_src_key4) :
				       sizeof(struct lbd_src_key6);
	struct lbd_src_key6 k, next;
	void *prev = NULL;
	size_t i, cap = 0;

	*keys = NULL;
	*n = 0;
	while (dp_map_next_key(dp, m, prev, &next) == 0) {
		/* svc_id sits at the same place in both keys */
		__u32 id = ntohl(next.svc_id);

		memcpy(&k, &next, ks);
		prev = &k;
		for (i = 0; i < st->n_stale_svc && st->stale_svc[i] != id; i++)
			;
		if (i == st->n_stale_svc)
			continue;
		if (*n == cap) {
			void *nk;

			cap = cap ? 2 * cap : 16;
			nk = realloc(*keys, cap * ks);
			if (!nk)
				return -ENOMEM;
			*keys = nk;
		}
		memcpy((char *)*keys + (*n)++ * ks, &k, ks);
	}
	return 0;
}

/*
 * Clears what no service owns (state_adopt found it): backends in use
 * become unused (with their generation: flows on them select again),
 * stale service ids lose their ranges and tables; then their ids are
 * free. Nothing points to any of it, so it may go first.
 */
static int clear_stale(struct apply_ctx *x)
{
	struct lbd_state *st = x->st;
	struct lbd_backend *v = NULL;
	size_t i, n, f;
	void *keys;
	int err = 0;

	if (!x->dp || (!st->n_stale_be && !st->n_stale_svc))
		return 0;
	if (st->n_stale_be) {
		v = calloc(st->n_stale_be, sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (i = 0; !err && i < st->n_stale_be; i++) {
			err = dp_backend_get(x->dp, st->stale_be[i], &v[i]);
			v[i] = (struct lbd_backend){ .gen = v[i].gen };
		}
		if (!err)
			err = dp_backend_put_batch(x->dp, st->stale_be, v,
						   (__u32)st->n_stale_be);
		free(v);
	}
	for (f = 0; f < 2 && !err; f++) {
		enum dp_map m = f ? DP_MAP_SRC6 : DP_MAP_SRC4;

		err = stale_ranges(st, x->dp, m, &keys, &n);
		for (i = 0; !err && i < n; i++) {
			const struct lbd_src_key6 *k6 =
				(const void
					 *)((char *)keys +
					    i * (f ? sizeof(*k6) :
						     sizeof(struct lbd_src_key4)));
			union lbd_addr a = { 0 };

			if (f)
				a = k6->addr;
			else
				a.v4 = ((const struct lbd_src_key4 *)k6)->addr;
			err = dp_src_del(x->dp, ntohl(k6->svc_id),
					 f ? LBD_AF_INET6 : LBD_AF_INET, &a,
					 (__u8)(k6->prefixlen - 32));
		}
		free(keys);
	}
	for (i = 0; !err && i < st->n_stale_svc; i++)
		err = dp_maglev_put(x->dp, st->stale_svc[i], NULL, 0);
	if (err)
		return err;
	/* kept until the apply commits: a rollback puts them back */
	for (i = 0; i < st->n_stale_be; i++)
		st->free_be[st->n_free_be++] = st->stale_be[i];
	for (i = 0; i < st->n_stale_svc; i++)
		st->free_svc[st->n_free_svc++] = st->stale_svc[i];
	return 0;
}

/* The VIPs as the maps hold them, sorted (st->resync: the services'
 * VIPs may not be there, or others be). */
static int vips_read(struct lbd_dp *dp, struct vip_ent **out, size_t *n)
{
	size_t cap = 64, f;
	struct vip_ent *v = malloc(cap * sizeof(*v));

	*n = 0;
	if (!v)
		return -ENOMEM;
	for (f = 0; f < 2; f++) {
		enum dp_map m = f ? DP_MAP_VIP6 : DP_MAP_VIP4;
		union lbd_addr k, next;
		void *prev = NULL;
		struct lbd_vip val;

		memset(&k, 0, sizeof(k));
		memset(&next, 0, sizeof(next));
		while (dp_map_next_key(dp, m, prev, &next) == 0) {
			k = next;
			prev = &k;
			if (dp_map_lookup(dp, m, &k, &val) < 0)
				continue;
			if (*n == cap) {
				struct vip_ent *nv;

				cap *= 2;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			memset(&v[*n], 0, sizeof(v[*n]));
			v[*n].family = f ? LBD_AF_INET6 : LBD_AF_INET;
			if (f)
				v[*n].addr = k;
			else
				v[*n].addr.v4 = k.v4;
			v[*n].flags = val.flags;
			v[*n].services = val.services;
			(*n)++;
		}
	}
	qsort(v, *n, sizeof(*v), vip_ent_cmp);
	*out = v;
	return 0;
}

/* state_apply; with dp NULL and planned, the desired services are
 * handed to the caller (state_plan). */
static int apply(struct lbd_state *st, struct lbd_dp *dp,
		 const struct lbd_config *cfg, plan_fn plan, void *plan_arg,
		 struct apply_result *res, struct st_service **planned,
		 size_t *n_planned)
{
	struct apply_ctx x = { .st = st,
			       .dp = dp,
			       .plan = plan,
			       .plan_arg = plan_arg,
			       .res = res,
			       .keep_flags = true,
			       .force = dp && st->resync };
	struct vip_ent *ov = NULL, *nv = NULL;
	struct st_service *d = NULL;
	size_t dn = 0, on = st->n_svc, i = 0, j = 0, nov, nnv;
	unsigned long writes0 = dp ? dp_writes(dp) : 0;
	struct wbuf pre = { 0 }, post = { 0 };
	struct lbd_state dry;
	struct txn t;
	int err;

	memset(res, 0, sizeof(*res));
	/* from here, a failure is a failed apply (st->served) */
	if (dp) {
		err = txn_begin(st, dp, &t);
		if (err)
			goto done;
	}
	err = desired_build(st, cfg, &d, &dn);
	if (err)
		goto done;
	err = reserve_check(st, d, dn);
	if (err) {
		log_warnx("the config needs more service or backend ids than "
			  "datapath.max_services/max_backends leave");
		goto done;
	}
	/* a plan works on a copy of the sizes only: ids are not taken */
	if (!dp) {
		dry = *st;
		x.st = &dry;
	}
	if (cfg->dp.maglev_table_size != st->maglev_size ||
	    cfg->dp.hash_seed != st->seed) {
		if (st->maglev_size)
			plan_line(plan, plan_arg,
				  "~ maglev table size %u -> %u, seed %#x -> "
				  "%#x: every table is rebuilt",
				  st->maglev_size, cfg->dp.maglev_table_size,
				  st->seed, cfg->dp.hash_seed);
		x.st->maglev_size = cfg->dp.maglev_table_size;
		x.st->seed = cfg->dp.hash_seed;
	}
	x.pend = malloc(APPLY_BATCH * sizeof(*x.pend));
	x.pre = &pre;
	x.post = &post;
	ov = calloc(on + 1, sizeof(*ov));
	nv = calloc(dn + 1, sizeof(*nv));
	if (!x.pend || !ov || !nv) {
		err = -ENOMEM;
		goto done;
	}
	if (x.force) {
		free(ov);
		err = vips_read(dp, &ov, &nov);
		if (err) {
			ov = NULL;
			goto done;
		}
	} else {
		nov = vips_of(st->svc, on, ov);
	}
	nnv = vips_of(d, dn, nv);

	err = clear_stale(&x);
	if (!err)
		err = apply_vips(&x, ov, nov, nv, nnv, 0);
	/* removals first: their ids are what additions may need */
	while (!err && (i < on || j < dn)) {
		int c = i == on ? 1 : j == dn ? -1 : svc_cmp(&st->svc[i], &d[j]);

		if (c < 0)
			err = remove_service(&x, &st->svc[i++]);
		else if (c > 0)
			j++;
		else
			i++, j++;
	}
	if (!err)
		err = flush(&x);
	/* the table lists removed services no more before their ids are
	 * given to new ones; one that cannot be made is taken out (the
	 * hash maps serve), and only if that fails too does the apply stop
	 * here */
	if (!err && dp && res->svc_removed &&
	    vip_table_sync(st, dp, st->svc, on, d, dn)) {
		err = dp_vip_table_put(dp, NULL);
		if (!err)
			log_warnx("the VIP table is out until the end of this "
				  "apply: VIPs are looked up in the hash maps");
	}
	for (i = 0, j = 0; !err && (i < on || j < dn);) {
		int c = i == on ? 1 : j == dn ? -1 : svc_cmp(&st->svc[i], &d[j]);

		if (c < 0)
			i++;
		else if (c > 0)
			err = add_service(&x, &d[j++]);
		else
			err = change_service(&x, &st->svc[i++], &d[j++]);
		if (dp && st->progress && c >= 0 && j % APPLY_BATCH == 0)
			st->progress(st->progress_arg, j, dn);
	}
	if (!err)
		err = flush(&x);
	if (!err && dp && st->progress)
		st->progress(st->progress_arg, dn, dn);
	pend_drop(&x);
	if (!err)
		err = apply_vips(&x, ov, nov, nv, nnv, 1);
done:
	res->writes = dp ? dp_writes(dp) - writes0 : 0;
	if (!dp) {
		if (!err && planned) {
			*planned = d;
			*n_planned = dn;
			d = NULL;
		}
		goto out;
	}
	if (txn_end(st, dp, &t, err, true, "applying the config"))
		goto out;
	services_free(st->svc, st->n_svc);
	st->svc = d;
	st->n_svc = dn;
	d = NULL;
	vip_table_refresh(st, dp);
out:
	if (d)
		services_free(d, dn);
	free(ov);
	free(nv);
	free(x.pend);
	wbuf_free(&pre);
	wbuf_free(&post);
	return err;
}

int state_apply(struct lbd_state *st, struct lbd_dp *dp,
		const struct lbd_config *cfg, plan_fn plan, void *plan_arg,
		struct apply_result *res)
{
	return apply(st, dp, cfg, plan, plan_arg, res, NULL, NULL);
}

int state_plan(struct lbd_state *st, const struct lbd_config *cfg, plan_fn plan,
	       void *plan_arg, struct apply_result *res,
	       struct st_service **planned, size_t *n)
{
	*planned = NULL;
	*n = 0;
	return apply(st, NULL, cfg, plan, plan_arg, res, planned, n);
}

void state_services_free(struct st_service *s, size_t n)
{
	services_free(s, n);
}

/* Adoption: the maps hold every field of the applied state but names. */
static int adopt_services(struct lbd_state *st, struct lbd_dp *dp,
			  enum dp_map m, __u8 family, struct st_service **arr,
			  size_t *n, size_t *cap)
{
	union {
		struct lbd_svc_key4 k4;
		struct lbd_svc_key6 k6;
	} key, next;
	void *prev = NULL;
	struct lbd_svc v;

	while (dp_map_next_key(dp, m, prev, &next) == 0) {
		struct st_service *s;

		key = next;
		prev = &key;
		if (dp_map_lookup(dp, m, &key, &v) < 0)
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct st_service *na = realloc(*arr, nc * sizeof(*na));

			if (!na)
				return -ENOMEM;
			*arr = na;
			*cap = nc;
		}
		s = &(*arr)[(*n)++];
		memset(s, 0, sizeof(*s));
		s->key.family = family;
		if (family == LBD_AF_INET) {
			s->key.vip.v4 = key.k4.vip;
			s->key.port = key.k4.port;
			s->key.proto = key.k4.proto;
		} else {
			s->key.vip = key.k6.vip;
			s->key.port = key.k6.port;
			s->key.proto = key.k6.proto;
		}
		s->id = v.id;
		s->fwd = v.fwd;
		s->dsr = v.dsr;
		s->flags = v.flags;
		s->affinity_timeout = v.affinity_timeout;
		s->table_hash = v.table_hash;
		s->table_size = v.table_size;
		if (v.id >= st->max_services)
			return -EINVAL;
	}
	return 0;
}

static int range_add(struct st_service *s, __u8 family,
		     const union lbd_addr *a, __u32 prefixlen)
{
	struct lbd_conf_addr *r =
		realloc(s->ranges, (s->n_ranges + 1) * sizeof(*r));

	if (!r)
		return -ENOMEM;
	s->ranges = r;
	r = &r[s->n_ranges++];
	memset(r, 0, sizeof(*r));
	r->family = family;
	r->prefixlen = (__u8)(prefixlen - 32);
	r->addr = *a;
	return 0;
}

/* Source ranges back from the LPM tries, to their services by id. */
static int adopt_ranges(struct lbd_dp *dp, struct st_service **by_id, __u32 max,
			__u8 *stale)
{
	struct lbd_src_key4 k4, n4;
	struct lbd_src_key6 k6, n6;
	union lbd_addr a;
	void *prev;
	__u32 id;
	int err;

	for (prev = NULL; dp_map_next_key(dp, DP_MAP_SRC4, prev, &n4) == 0;
	     prev = &k4) {
		k4 = n4;
		id = ntohl(k4.svc_id);
		if (id < max && !by_id[id])
			stale[id] = 1;
		if (id >= max || !by_id[id])
			continue;
		memset(&a, 0, sizeof(a));
		a.v4 = k4.addr;
		err = range_add(by_id[id], LBD_AF_INET, &a, k4.prefixlen);
		if (err)
			return err;
	}
	for (prev = NULL; dp_map_next_key(dp, DP_MAP_SRC6, prev, &n6) == 0;
	     prev = &k6) {
		k6 = n6;
		id = ntohl(k6.svc_id);
		if (id < max && !by_id[id])
			stale[id] = 1;
		if (id >= max || !by_id[id])
			continue;
		err = range_add(by_id[id], LBD_AF_INET6, &k6.addr,
				k6.prefixlen);
		if (err)
			return err;
	}
	return 0;
}

int state_adopt(struct lbd_state *st, struct lbd_dp *dp, __u32 maglev_size,
		__u32 seed)
{
	struct st_service *arr = NULL, **by_id = NULL;
	size_t n = 0, cap = 0, i, n_stale_be = 0, n_stale_svc = 0;
	__u8 *svc_used = NULL, *be_used = NULL;
	__u32 *stale_be = NULL, *stale_svc = NULL, one;
	struct lbd_backend b;
	int err;
	__u32 id;

	err = adopt_services(st, dp, DP_MAP_SVC4, LBD_AF_INET, &arr, &n, &cap);
	if (!err)
		err = adopt_services(st, dp, DP_MAP_SVC6, LBD_AF_INET6, &arr,
				     &n, &cap);
	by_id = calloc(st->max_services, sizeof(*by_id));
	svc_used = calloc(st->max_services, 1);
	be_used = calloc(st->max_backends, 1);
	stale_be = malloc(st->max_backends * sizeof(*stale_be));
	stale_svc = malloc(st->max_services * sizeof(*stale_svc));
	if (!err &&
	    (!by_id || !svc_used || !be_used || !stale_be || !stale_svc))
		err = -ENOMEM;
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		by_id[arr[i].id] = &arr[i];
		svc_used[arr[i].id] = 1;
		snprintf(arr[i].name, sizeof(arr[i].name), "%s", "");
		arr[i].adopted = true;
	}

	st->gen = 0;
	for (id = 0; id < st->max_backends; id++) {
		struct st_service *s;
		struct st_backend *nb;

		err = dp_map_lookup(dp, DP_MAP_BACKENDS, &id, &b);
		if (err)
			goto out;
		if (b.gen > st->gen)
			st->gen = b.gen;
		if (b.state == LBD_BE_UNUSED)
			continue;
		if (b.svc_id >= st->max_services || !(s = by_id[b.svc_id])) {
			/* in use, by no service: not free until cleared */
			stale_be[n_stale_be++] = id;
			be_used[id] = 1;
			continue;
		}
		nb = realloc(s->be, (s->n_be + 1) * sizeof(*nb));
		if (!nb) {
			err = -ENOMEM;
			goto out;
		}
		s->be = nb;
		nb = &s->be[s->n_be++];
		memset(nb, 0, sizeof(*nb));
		nb->addr.family = b.family;
		nb->addr.prefixlen = b.family == LBD_AF_INET ? 32 : 128;
		nb->addr.addr = b.addr;
		nb->port = ntohs(b.port);
		nb->weight = b.weight;
		nb->dp_state = b.state;
		/* the config state is not in the map; what was written is
		 * the closest, and a runtime drain or health verdict that
		 * made it so is re-derived by their owners */
		nb->conf_state = b.state == LBD_BE_DOWN	    ? LBD_CS_DOWN :
				 b.state == LBD_BE_DRAINING ? LBD_CS_DRAINING :
							      LBD_CS_ACTIVE;
		nb->id = id;
		nb->gen = b.gen;
		be_used[id] = 1;
	}
	/* svc_used marks ids with ranges of no service for now */
	err = adopt_ranges(dp, by_id, st->max_services, svc_used);
	if (err)
		goto out;
	for (id = 0; id < st->max_services; id++) {
		if (by_id[id])
			continue;
		/* a table with slots (a removed service's is empty) */
		if (svc_used[id] || dp_maglev_get(dp, id, &one, 1) > 0) {
			stale_svc[n_stale_svc++] = id;
			svc_used[id] = 1;
		}
	}
	for (i = 0; i < n; i++) {
		struct st_service *s = &arr[i];
		struct lbd_vip v;
		enum dp_map vm = s->key.family == LBD_AF_INET ? DP_MAP_VIP4 :
								DP_MAP_VIP6;

		sorted_sort(s->be, s->n_be, sizeof(*s->be), be_cmp);
		sorted_sort(s->ranges, s->n_ranges, sizeof(*s->ranges),
			    range_cmp);
		if (dp_map_lookup(dp, vm,
				  s->key.family == LBD_AF_INET ?
					  (void *)&s->key.vip.v4 :
					  (void *)&s->key.vip,
				  &v) == 0) {
			s->icmp_echo = v.flags & LBD_VIP_F_ICMP_ECHO;
			s->wildcard = v.flags & LBD_VIP_F_HOST;
		}
	}
	qsort(arr, n, sizeof(*arr), svc_cmp);
	for (i = 0; i < n; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(arr[i].key.family == LBD_AF_INET ? AF_INET : AF_INET6,
			  &arr[i].key.vip, a, sizeof(a));
		snprintf(arr[i].name, sizeof(arr[i].name), "%s:%u/%s", a,
			 ntohs(arr[i].key.port),
			 config_proto_str(arr[i].key.proto));
	}

	services_free(st->svc, st->n_svc);
	st->svc = arr;
	st->n_svc = n;
	arr = NULL;
	st->maglev_size = maglev_size;
	st->seed = seed;
	st->n_free_svc = 0;
	for (id = st->max_services; id-- > 0;)
		if (!svc_used[id])
			st->free_svc[st->n_free_svc++] = id;
	st->n_free_be = 0;
	for (id = st->max_backends; id-- > 0;)
		if (!be_used[id])
			st->free_be[st->n_free_be++] = id;
	free(st->stale_be);
	free(st->stale_svc);
	st->stale_be = stale_be;
	st->stale_svc = stale_svc;
	st->n_stale_be = n_stale_be;
	st->n_stale_svc = n_stale_svc;
	stale_be = stale_svc = NULL;
	if (n_stale_be || n_stale_svc)
		log_warnx("the datapath holds %zu backends and %zu service "
			  "ids that no service owns (an apply stopped part "
			  "way): the next apply clears them",
			  n_stale_be, n_stale_svc);
	vip_table_refresh(st, dp);
out:
	free(stale_be);
	free(stale_svc);
	if (arr)
		services_free(arr, n);
	free(by_id);
	free(svc_used);
	free(be_used);
	return err;
}

void state_dp_opts(const struct lbd_config *cfg, struct lbd_dp_opts *o)
{
	const struct lbd_conf_datapath *c = &cfg->dp;

	dp_opts_default(o);
	o->pin_path = c->pin_path[0] ? c->pin_path : NULL;
	o->max_vips = c->max_vips;
	o->max_services = c->max_services;
	o->max_backends = c->max_backends;
	o->ct_entries = c->conntrack_entries;
	o->knobs.hash_seed = c->hash_seed;
	o->knobs.udp_timeout = c->udp_timeout;
	o->knobs.tcp_timeout = c->tcp_timeout;
	o->knobs.icmp_rate = c->icmp_rate;
	o->nat_entries = c->nat_entries;
	o->affinity_entries = c->affinity_entries;
	o->knobs.snat_port_min = c->snat_port_min;
	o->knobs.snat_port_max = c->snat_port_max;
	if (c->snat_v4.family) {
		o->knobs.have_snat4 = 1;
		o->knobs.snat_src4 = c->snat_v4.addr.v4;
	}
	if (c->snat_v6.family) {
		o->knobs.have_snat6 = 1;
		o->knobs.snat_src6 = c->snat_v6.addr;
	}
	if (c->encap_v4.family) {
		o->knobs.have_encap4 = 1;
		o->knobs.encap_src4 = c->encap_v4.addr.v4;
		o->knobs.encap4_hostbits = 32 - c->encap_v4.prefixlen;
	}
	if (c->encap_v6.family) {
		o->knobs.have_encap6 = 1;
		o->knobs.encap_src6 = c->encap_v6.addr;
		o->knobs.encap6_hostbits = 128 - c->encap_v6.prefixlen;
	}
}

static bool be_matches(const struct st_service *s, const struct st_backend *b,
		       const struct be_match *m)
{
	if (m->service && strcmp(m->service, s->name))
		return false;
	if (b->addr.family != m->addr.family ||
	    memcmp(&b->addr.addr, &m->addr.addr, sizeof(b->addr.addr)))
		return false;
	return !m->port || m->port == b->port;
}

static bool *be_flag_of(struct st_backend *b, enum be_flag flag)
{
	return flag == BE_FLAG_DRAINED ? &b->drained : &b->health_down;
}

/*
 * Changes every service that news[i] holds a new version of (.be not
 * NULL) from st->svc[i] to it, the table swaps of all of them batched;
 * the old versions stay until their swaps are done. news[i] then takes
 * the place of st->svc[i]; news is freed.
 */
static int change_flags(struct lbd_state *st, struct lbd_dp *dp,
			struct st_service *news, plan_fn plan,
			void *plan_arg, struct apply_result *res)
{
	struct apply_ctx x = { .st = st, .dp = dp, .plan = plan,
			       .plan_arg = plan_arg, .res = res };
	unsigned long writes0 = dp ? dp_writes(dp) : 0;
	struct wbuf pre = { 0 }, post = { 0 };
	bool begun = false;
	struct txn t;
	size_t i;
	int err = 0;

	x.pre = &pre;
	x.post = &post;
	x.pend = malloc(APPLY_BATCH * sizeof(*x.pend));
	if (!x.pend)
		err = -ENOMEM;
	else if (dp)
		err = txn_begin(st, dp, &t);
	begun = !err && dp;
	for (i = 0; i < st->n_svc && !err; i++)
		if (news[i].be)
			err = change_service(&x, &st->svc[i], &news[i]);
	if (!err)
		err = flush(&x);
	pend_drop(&x);
	for (i = 0; i < st->n_svc; i++) {
		if (!news[i].be)
			continue;
		/* rolled back: the old versions are what the maps hold */
		if (err && dp) {
			free(news[i].be);
			continue;
		}
		free(st->svc[i].be);
		st->svc[i] = news[i];
	}
	if (begun)
		txn_end(st, dp, &t, err, false, "changing backends");
	if (!err && dp)
		vip_table_refresh(st, dp);
	free(news);
	free(x.pend);
	wbuf_free(&pre);
	wbuf_free(&post);
	res->writes = dp ? dp_writes(dp) - writes0 : 0;
	return err;
}

/* A copy of the service's backends to change, in news[i]. */
static int new_version(const struct lbd_state *st, size_t i,
		       struct st_service *news)
{
	const struct st_service *old = &st->svc[i];

	news[i] = *old;
	news[i].be = malloc((old->n_be ? old->n_be : 1) * sizeof(*old->be));
	if (!news[i].be)
		return -ENOMEM;
	memcpy(news[i].be, old->be, old->n_be * sizeof(*old->be));
	return 0;
}

int state_set_flag(struct lbd_state *st, struct lbd_dp *dp,
		   const struct be_match *m, enum be_flag flag, bool value,
		   plan_fn plan, void *plan_arg, struct apply_result *res)
{
	struct st_service *news = calloc(st->n_svc + 1, sizeof(*news));
	int matched = 0, err = 0;
	size_t i, j;

	memset(res, 0, sizeof(*res));
	if (!news)
		return -ENOMEM;
	for (i = 0; i < st->n_svc && !err; i++) {
		const struct st_service *old = &st->svc[i];
		bool hit = false;

		for (j = 0; j < old->n_be; j++)
			hit |= be_matches(old, &old->be[j], m);
		if (!hit)
			continue;
		err = new_version(st, i, news);
		for (j = 0; !err && j < old->n_be; j++) {
			if (!be_matches(old, &old->be[j], m))
				continue;
			matched++;
			*be_flag_of(&news[i].be[j], flag) = value;
		}
	}
	if (err) {
		for (i = 0; i < st->n_svc; i++)
			free(news[i].be);
		free(news);
		return err;
	}
	err = change_flags(st, dp, news, plan, plan_arg, res);
	return err ? err : matched;
}

static int change_cmp(const void *a, const void *b)
{
	const struct be_change *x = a, *y = b;

	return svc_addr_cmp(&x->svc, &y->svc);
}

int state_set_flags(struct lbd_state *st, struct lbd_dp *dp, enum be_flag flag,
		    struct be_change *ch, size_t n, plan_fn plan,
		    void *plan_arg, struct apply_result *res)
{
	struct st_service *news;
	int changed = 0, err = 0;
	size_t i = 0, j;

	memset(res, 0, sizeof(*res));
	if (!n)
		return 0;
	news = calloc(st->n_svc + 1, sizeof(*news));
	if (!news)
		return -ENOMEM;
	qsort(ch, n, sizeof(*ch), change_cmp);
	while (i < n && !err) {
		struct st_service k = { .key = ch[i].svc }, *old;
		size_t end = i + 1, at;
		int here = 0;

		while (end < n && !svc_addr_cmp(&ch[end].svc, &ch[i].svc))
			end++;
		old = sorted_find(&k, st->svc, st->n_svc, sizeof(*st->svc),
				  svc_cmp);
		if (!old) {
			i = end;
			continue;
		}
		at = (size_t)(old - st->svc);
		err = new_version(st, at, news);
		for (j = i; !err && j < end; j++) {
			struct st_backend kb = { .addr = ch[j].addr,
						 .port = ch[j].port }, *b;

			b = sorted_find(&kb, news[at].be, news[at].n_be,
					sizeof(*news[at].be), be_cmp);
			if (!b || *be_flag_of(b, flag) == ch[j].value)
				continue;
			*be_flag_of(b, flag) = ch[j].value;
			here++;
		}
		if (!err && !here) {
			free(news[at].be);
			news[at].be = NULL;
		}
		changed += here;
		i = end;
	}
	if (err) {
		for (i = 0; i < st->n_svc; i++)
			free(news[i].be);
		free(news);
		return err;
	}
	err = change_flags(st, dp, news, plan, plan_arg, res);
	return err ? err : changed;
}
