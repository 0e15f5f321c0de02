// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The node role's health check table (k8s_node_hc.h). */
#include "k8s_node_hc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int addr_cmp(const void *a, const void *b)
{
	const struct lbd_conf_addr *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(&x->addr, &y->addr, sizeof(x->addr));
}

/* The distinct addresses of a[0..n) of family fam (a sorted). */
static __u32 distinct(const struct lbd_conf_addr *a, size_t n, __u8 fam)
{
	__u32 c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i].family == fam && (!i || addr_cmp(&a[i - 1], &a[i])))
			c++;
	return c;
}

/* The local ready endpoints of the records r[0..nr) of one Service. */
static int hc_count(const struct k8s_node_set *s, const struct k8s_node_rec *r,
		    size_t nr, __u32 *out)
{
	struct lbd_conf_addr *a;
	size_t i, j, n = 0, cap = 0;
	__u32 v4, v6;

	for (i = 0; i < nr; i++)
		cap += r[i].n_eps;
	a = calloc(cap ? cap : 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		for (j = 0; j < r[i].n_eps; j++) {
			const struct k8s_node_ep *e =
				&s->eps[r[i].first_ep + j];

			if (e->local && e->ready) {
				memset(&a[n], 0, sizeof(a[n]));
				a[n].family = e->addr.family;
				a[n++].addr = e->addr.addr;
			}
		}
	qsort(a, n, sizeof(*a), addr_cmp);
	v4 = distinct(a, n, LBD_AF_INET);
	v6 = distinct(a, n, LBD_AF_INET6);
	free(a);
	*out = v4 > v6 ? v4 : v6;
	return 0;
}

static int rec_port_cmp(const void *a, const void *b)
{
	const struct lbd_node_hc_rec *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

static bool same_service(const struct k8s_node_rec *a,
			 const struct k8s_node_rec *b)
{
	return !strcmp(a->ns, b->ns) && !strcmp(a->name, b->name);
}

/* The first of the records of Service ns/name in s (k8s_node_translate
 * gives them sorted by namespace and name, a Service's together); *nr
 * of them, 0 when it has none. */
static const struct k8s_node_rec *service_recs(const struct k8s_node_set *s,
					       const char *ns, const char *name,
					       size_t *nr)
{
	size_t lo = 0, hi = s->n_recs, j;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct k8s_node_rec *r = &s->recs[mid];
		int c = strcmp(r->ns, ns);

		if (!c)
			c = strcmp(r->name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (j = lo; j < s->n_recs && !strcmp(s->recs[j].ns, ns) &&
		     !strcmp(s->recs[j].name, name);
	     j++)
		;
	*nr = j - lo;
	return &s->recs[lo];
}

/* A zeroed entry for port at (*t)[m] (the caller counts it in m once it is
 * filled), or NULL: the port is in the table already or the table is full
 * (counted in *dropped; *err 0), or no memory (*err -ENOMEM). */
static struct lbd_node_hc_rec *hc_slot(struct lbd_node_hc_rec **t, size_t m,
				       __u16 port, size_t *dropped, int *err)
{
	struct lbd_node_hc_rec *nt;
	size_t k;

	*err = 0;
	for (k = 0; k < m && (*t)[k].port != port; k++)
		;
	if (k < m || m == LBD_NODE_HC_MAX) {
		(*dropped)++;
		return NULL;
	}
	nt = realloc(*t, (m + 1) * sizeof(*nt));
	if (!nt) {
		*err = -ENOMEM;
		return NULL;
	}
	*t = nt;
	memset(&nt[m], 0, sizeof(nt[m]));
	nt[m].port = port;
	return &nt[m];
}

int k8s_node_hc_table(const struct k8s_node_set *s,
		      struct lbd_node_hc_rec **out, size_t *n, size_t *dropped)
{
	struct lbd_node_hc_rec *t = NULL;
	size_t i, j, m = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	*dropped = 0;
	/* a Service's records are together (by Service, port, ...) */
	for (i = 0; i < s->n_recs; i = j) {
		const struct k8s_node_rec *r = &s->recs[i];
		struct lbd_node_hc_rec *h;
		__u16 port = 0;

		for (j = i; j < s->n_recs && same_service(r, &s->recs[j]); j++)
			if (!port)
				port = s->recs[j].hc_node_port;
		if (!port)
			continue;
		h = hc_slot(&t, m, port, dropped, &err);
		if (err)
			goto out;
		if (!h)
			continue;
		snprintf(h->ns, sizeof(h->ns), "%s", r->ns);
		snprintf(h->name, sizeof(h->name), "%s", r->name);
		err = hc_count(s, r, j - i, &h->local_endpoints);
		if (err)
			goto out;
		m++;
	}
	/* after the records: a served Service keeps a port first */
	for (i = 0; i < s->n_hc_only; i++) {
		const struct k8s_node_hc_only *o = &s->hc_only[i];
		const struct k8s_node_rec *r;
		struct lbd_node_hc_rec *h;
		size_t nr;

		h = hc_slot(&t, m, o->port, dropped, &err);
		if (err)
			goto out;
		if (!h)
			continue;
		memcpy(h->ns, o->ns, sizeof(h->ns));
		memcpy(h->name, o->name, sizeof(h->name));
		/* a served Service without an external address yet counts
		 * on its internal records' endpoints, as kube-proxy counts
		 * a Service's; a refused one has none: 0, 503 */
		r = service_recs(s, o->ns, o->name, &nr);
		err = hc_count(s, r, nr, &h->local_endpoints);
		if (err)
			goto out;
		m++;
	}
	qsort(t, m, sizeof(*t), rec_port_cmp);
	*out = t;
	*n = m;
	t = NULL;
out:
	free(t);
	return err;
}

bool k8s_node_hc_healthy(const struct lbd_k8s_status *st, bool synced,
			 bool sync_ok, double now, double timeout,
			 double *behind_since)
{
	bool behind = !synced || !st->running;
	int r;

	for (r = 0; r < LBD_K8S_RES_N; r++)
		behind = behind || !st->res[r].watching;
	if (!behind)
		*behind_since = 0;
	else if (!*behind_since)
		*behind_since = now;
	return sync_ok && !(behind && now - *behind_since >= timeout);
}
