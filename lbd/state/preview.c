// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd --check: the slots an edit moves and the flows on them (see
 * preview.h). */
#include "preview.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctwalk.h"
#include "lbd/hash.h"
#include "maglev.h"

/*
 * One service of the new state whose table changes. Owners are indices
 * into the planned service's backends (LBD_NO_ID: a backend that is not
 * in it): ids cannot say, since a plan gives new backends none.
 */
struct pv_table {
	bool changed;
	__u32 *was; /* the installed table's owners; NULL: none */
	__u32 om;
	__u32 *owners; /* the new table's owners; NULL: none */
	__u32 nm;
	unsigned long flows, moved_flows;
};

/* The service of key in planned (sorted by key), or NULL. */
static const struct st_service *find(const struct st_service *planned, size_t n,
				     const struct lbd_svc_addr *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = svc_addr_cmp(key, &planned[mid].key);

		if (!c)
			return &planned[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The index in s's backends of the backend o names with id, or
 * LBD_NO_ID. */
static __u32 be_index(const struct st_service *o, const struct st_service *s,
		      __u32 id)
{
	size_t i;

	for (i = 0; o && i < o->n_be; i++) {
		const struct st_backend *b = &o->be[i];
		size_t j;

		if (b->id != id)
			continue;
		for (j = 0; j < s->n_be; j++)
			if (s->be[j].port == b->port &&
			    s->be[j].addr.family == b->addr.family &&
			    !memcmp(&s->be[j].addr.addr, &b->addr.addr,
				    sizeof(b->addr.addr)))
				return (__u32)j;
		break;
	}
	return LBD_NO_ID;
}

/* The installed table of s's service (o in the applied state), its
 * owners as indices into s's backends. */
static int old_table(struct lbd_dp *dp, const struct st_service *o,
		     const struct st_service *s, struct pv_table *t)
{
	__u32 *w = NULL, *map = NULL, n, i, cur;
	int err = dp_maglev_read(dp, s->id, &w);

	if (err || !w || !w[0])
		goto out;
	n = w[1];
	t->om = w[0];
	map = malloc((size_t)(n ? n : 1) * sizeof(*map));
	t->was = malloc((size_t)t->om * sizeof(*t->was));
	err = -ENOMEM;
	if (!map || !t->was)
		goto out;
	for (i = 0; i < n; i++)
		map[i] = be_index(o, s, w[LBD_MAGLEV_HDR + i]);
	for (i = 0; i < t->om; i++) {
		cur = LBD_MAGLEV_CUR(w[LBD_MAGLEV_HDR + n + i]);
		t->was[i] = cur < n ? map[cur] : LBD_NO_ID;
	}
	err = 0;
out:
	free(w);
	free(map);
	return err;
}

/* The new config's table of s, as state.c's prepare_table builds it:
 * its active backends with a weight, owners as backend ids. */
static int new_table(const struct lbd_config *c, const struct st_service *s,
		     struct pv_table *t)
{
	struct maglev_backend *mb;
	size_t i, n = 0;
	int err;

	t->nm = s->maglev_size ? s->maglev_size : c->dp.maglev_table_size;
	if (!s->table_hash)
		return 0; /* no usable backend: no table */
	mb = calloc(s->n_be ? s->n_be : 1, sizeof(*mb));
	t->owners = malloc((size_t)t->nm * sizeof(*t->owners));
	err = -ENOMEM;
	if (!mb || !t->owners)
		goto out;
	for (i = 0; i < s->n_be; i++) {
		const struct st_backend *b = &s->be[i];

		if (b->dp_state != LBD_BE_ACTIVE || !b->weight)
			continue;
		mb[n].addr = b->addr.addr;
		mb[n].family = b->addr.family;
		mb[n].port = htons(b->port);
		mb[n].weight = b->weight;
		mb[n].id = (__u32)i;
		n++;
	}
	err = maglev_build(mb, n, t->nm, c->dp.hash_seed, t->owners);
out:
	free(mb);
	return err;
}

struct pv_walk {
	const struct lbd_state *st;
	const struct st_service *planned;
	size_t n;
	struct pv_table *t;
	const struct lbd_config *c;
	__u32 now;
};

/* bpf/lb/select.h svc_hash, under seed. */
static __u32 hash(__u32 seed, __u8 family, const void *key, __u32 ports,
		  __u8 proto)
{
	const struct lbd_ct_key4 *k4 = key;
	const struct lbd_ct_key6 *k6 = key;

	return family == LBD_AF_INET ?
		       lbd_flow_hash4(seed, k4->saddr, ports, proto) :
		       lbd_flow_hash6(seed, k6->saddr.v6, ports, proto);
}

/* One conntrack entry: counted for its service when it is live, and as
 * moved when its flow's owner differs between the tables. */
static void walk_one(void *arg, const struct dp_ct_flow *f)
{
	struct pv_walk *w = arg;
	__u8 family = f->family;
	const void *key = f->key;
	const struct lbd_ct *v = &f->v;
	const struct lbd_ct_key4 *k4 = key;
	const struct lbd_ct_key6 *k6 = key;
	const struct st_service *s;
	struct lbd_svc_addr sk;
	struct pv_table *t;
	__u32 timeout, ports, h, was, now = LBD_NO_ID;
	__be16 sport, dport;
	__u8 proto;

	memset(&sk, 0, sizeof(sk));
	sk.family = family;
	if (family == LBD_AF_INET) {
		sk.vip.v4 = k4->daddr;
		sport = k4->sport;
		dport = k4->dport;
		proto = k4->proto;
	} else {
		sk.vip = k6->daddr;
		sport = k6->sport;
		dport = k6->dport;
		proto = k6->proto;
	}
	sk.proto = proto;
	sk.port = dport;
	s = find(w->planned, w->n, &sk);
	if (!s)
		return;
	t = &w->t[s - w->planned];
	if (!t->changed)
		return;
	/* bpf/lb/select.h ct_timeout */
	timeout = proto == IPPROTO_UDP	      ? w->c->dp.udp_timeout :
		  v->flags & LBD_CT_F_CLOSING ? 10 :
						w->c->dp.tcp_timeout;
	if (lbd_idle_over(w->now, v->last_seen, timeout))
		return;
	/* bpf/lb/select.h svc_hash */
	ports = LBD_PORTS(s->flags & LBD_SVC_F_AFFINITY ? 0 : sport, dport);
	h = hash(w->st->seed, family, key, ports, proto);
	was = t->was ? t->was[h % t->om] : LBD_NO_ID;
	h = hash(w->c->dp.hash_seed, family, key, ports, proto);
	if (t->owners)
		now = t->owners[h % t->nm];
	t->flows++;
	t->moved_flows += was != now;
}

static const char *svc_name(const struct st_service *s)
{
	return s->name[0] ? s->name : "(unnamed)";
}

static void print_one(const struct st_service *s, const struct pv_table *t,
		      FILE *out)
{
	bool backends = s->key.proto == IPPROTO_TCP &&
			(s->flags & LBD_SVC_F_FLOW_BACKENDS);
	__u32 om = t->om, slot, moved = 0;

	fprintf(out, "~ slots %s: ", svc_name(s));
	if (!t->was) {
		fprintf(out, "no table installed: no flow to move\n");
		return;
	}
	if (!t->owners) {
		fprintf(out, "no usable backend: all %u slots lose their owner",
			om);
	} else if (om != t->nm) {
		fprintf(out,
			"the table's size changes (%u -> %u): every slot "
			"is filled anew",
			om, t->nm);
	} else {
		for (slot = 0; slot < om; slot++)
			moved += t->was[slot] != t->owners[slot];
		fprintf(out, "%u of %u Maglev slots move (%.1f%%)", moved, om,
			100.0 * moved / om);
	}
	if (backends) {
		fprintf(out,
			"; flow_state = \"backends\": flows on moved slots "
			"are kept by the previous owner while it stays "
			"configured\n");
		return;
	}
	fprintf(out,
		"; %lu of %lu established flows in conntrack sit on them "
		"(they keep their backend while this host keeps their "
		"entries)\n",
		t->moved_flows, t->flows);
}

int preview_print(struct lbd_dp *dp, const struct lbd_state *st,
		  const struct st_service *planned, size_t n,
		  const struct lbd_config *c, FILE *out)
{
	struct pv_table *t = calloc(n ? n : 1, sizeof(*t));
	struct pv_walk w = { .st = st,
			     .planned = planned,
			     .n = n,
			     .t = t,
			     .c = c,
			     .now = dp_ct_now() };
	size_t i, changed = 0;
	int err = -ENOMEM;

	if (!t)
		return -ENOMEM;
	if (!dp) {
		fprintf(out,
			"~ slots: which Maglev slots move and the flows on "
			"them cannot be told without a running datapath\n");
		err = 0;
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct st_service *s = &planned[i];
		const struct st_service *o = state_find(st, &s->key);

		/* a service that stays keeps its id; its table changes
		 * when what identifies the table does */
		if (!o || o->id != s->id || o->table_hash == s->table_hash)
			continue;
		t[i].changed = true;
		changed++;
	}
	if (!changed) {
		err = 0;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!t[i].changed)
			continue;
		err = old_table(dp, state_find(st, &planned[i].key),
				&planned[i], &t[i]);
		if (!err)
			err = new_table(c, &planned[i], &t[i]);
		if (err)
			goto out;
	}
	/* an LRU map that the datapath changes meanwhile may be walked
	 * partly twice or not at all, which a preview can live with */
	err = dp_ct_walk(dp, walk_one, &w);
	if (err)
		goto out;
	for (i = 0; i < n; i++)
		if (t[i].changed)
			print_one(&planned[i], &t[i], out);
out:
	for (i = 0; i < n; i++) {
		free(t[i].was);
		free(t[i].owners);
	}
	free(t);
	return err;
}
