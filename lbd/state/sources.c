// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The config file's and the cluster's services in one (sources.h). */
#include "sources.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sorted.h"

/* A service that wants a key. */
struct cand {
	struct src_claim c;
	const struct lbd_conf_service *svc;
	size_t order; /* file order, then the cluster's */
	bool incumbent; /* held the key before this merge */
	bool won;
};

static int claim_cmp(const void *a, const void *b)
{
	const struct src_claim *x = a, *y = b;
	int c = svc_addr_cmp(&x->key, &y->key);

	return c ? c : strcmp(x->name, y->name);
}

/* By key; the incumbent first, then the file's, then in order. */
static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = svc_addr_cmp(&x->c.key, &y->c.key);

	if (c)
		return c;
	if (x->incumbent != y->incumbent)
		return x->incumbent ? -1 : 1;
	if (x->c.origin != y->c.origin)
		return x->c.origin == LBD_ORIGIN_FILE ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static const char *key_str(const struct lbd_svc_addr *k, char *buf,
			   size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(k->family == LBD_AF_INET ? AF_INET : AF_INET6, &k->vip, a,
		  sizeof(a));
	snprintf(buf, len, "%s%s%s:%u/%s", k->family == LBD_AF_INET6 ? "[" : "",
		 a, k->family == LBD_AF_INET6 ? "]" : "", ntohs(k->port),
		 config_proto_str(k->proto));
	return buf;
}

static void cand_of(struct cand *x, const struct lbd_config *file,
		    const struct lbd_conf_service *s, size_t order)
{
	memset(x, 0, sizeof(*x));
	x->svc = s;
	x->order = order;
	x->c.key.family = s->vip.family;
	x->c.key.vip = s->vip.addr;
	x->c.key.port = htons(s->port);
	x->c.key.proto = s->proto;
	x->c.origin = s->origin;
	snprintf(x->c.name, sizeof(x->c.name), "%s", s->name);
	if (s->origin == LBD_ORIGIN_K8S)
		snprintf(x->c.where, sizeof(x->c.where),
			 "Kubernetes Service %s", s->k8s_ref);
	else
		snprintf(x->c.where, sizeof(x->c.where), "%s:%u",
			 file->files[s->file], s->line);
}

__attribute__((format(printf, 2, 3))) static void
news_add(struct config_diag *d, const char *fmt, ...)
{
	char msg[1024], **n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = realloc(d->msgs, (d->n + 1) * sizeof(*n));
	if (!n)
		return;
	d->msgs = n;
	n[d->n] = strdup(msg);
	if (n[d->n])
		d->n++;
}

static bool held_by(const struct sources *s, const struct src_claim *c)
{
	struct src_claim *h =
		sorted_find(c, s->held, s->n_held, sizeof(*c), claim_cmp);

	return h && h->origin == c->origin;
}

static bool was_refused(const struct sources *s, const struct src_claim *c)
{
	return sorted_find(c, s->refused, s->n_refused, sizeof(*c),
			   claim_cmp) ||
	       sorted_find(c, s->host_refused, s->n_host_refused, sizeof(*c),
			   claim_cmp);
}

static int addr_cmp(const void *a, const void *b)
{
	return config_addr_cmp(a, b);
}

int sources_set_host_addrs(struct sources *s, const struct lbd_conf_addr *a,
			   size_t n)
{
	struct lbd_conf_addr *h = malloc((n ? n : 1) * sizeof(*h));

	if (!h)
		return -ENOMEM;
	if (n)
		memcpy(h, a, n * sizeof(*h));
	sorted_sort(h, n, sizeof(*h), addr_cmp);
	if (n == s->n_host && (!n || !memcmp(h, s->host, n * sizeof(*h)))) {
		free(h);
		return 0;
	}
	free(s->host);
	s->host = h;
	s->n_host = n;
	return 1;
}

bool sources_is_host_addr(const struct sources *s,
			  const struct lbd_conf_addr *a)
{
	return sorted_find(a, s->host, s->n_host, sizeof(*a), addr_cmp);
}

int sources_check_file(const struct sources *s, const struct lbd_config *file,
		       struct config_diag *diag)
{
	size_t i, before = diag->n;
	char a[INET6_ADDRSTRLEN + 8];

	for (i = 0; i < file->n_services; i++) {
		const struct lbd_conf_service *c = &file->services[i];

		if (c->wildcard || !sources_is_host_addr(s, &c->vip))
			continue;
		news_add(diag,
			 "%s:%u: services[%s]: vip: %s is an address of the "
			 "LB host: only vip = \"*\" serves the host's own "
			 "addresses",
			 file->files[c->file], c->line, c->name,
			 config_addr_str(&c->vip, a, sizeof(a)));
	}
	return diag->n > before ? -EINVAL : 0;
}

size_t sources_host_refused_k8s(const struct sources *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_host_refused; i++)
		n += s->host_refused[i].origin == LBD_ORIGIN_K8S;
	return n;
}

/* A service on an address of the LB host: refused, said when new. */
static void host_refuse(struct sources *s, struct config_diag *news,
			const struct cand *x)
{
	char k[80], msg[512];

	if (sorted_find(&x->c, s->host_refused, s->n_host_refused, sizeof(x->c),
			claim_cmp))
		return;
	key_str(&x->c.key, k, sizeof(k));
	if (x->c.origin == LBD_ORIGIN_FILE)
		snprintf(msg, sizeof(msg),
			 "%s: services[%s]: %s is an address of the LB host: "
			 "refused while it is (only vip = \"*\" serves the "
			 "host's own addresses)",
			 x->c.where, x->c.name, k);
	else
		snprintf(msg, sizeof(msg),
			 "%s: %s is an address of the LB host: %s refused "
			 "while it is (only vip = \"*\" serves the host's own "
			 "addresses)",
			 x->c.where, k, x->c.name);
	if (x->c.origin == LBD_ORIGIN_K8S) {
		s->host_refusals_k8s++;
		snprintf(s->last_host_refusal, sizeof(s->last_host_refusal),
			 "%s", msg);
	}
	if (news)
		news_add(news, "%s", msg);
}

/* One refusal line: the refused service in its own terms (file:line:
 * setting, or its Service), then who keeps the key. */
static void say_refused(struct config_diag *news, const struct cand *x,
			const struct cand *owner)
{
	char k[80];

	key_str(&x->c.key, k, sizeof(k));
	if (x->c.origin == LBD_ORIGIN_FILE)
		news_add(news,
			       "%s: services[%s]: %s is served by %s (%s); "
			       "refused while that one runs",
			       x->c.where, x->c.name, k, owner->c.name,
			       owner->c.where);
	else
		news_add(news,
			       "%s: %s is served by %s (%s); %s refused while "
			       "that one runs",
			       x->c.where, k, owner->c.name, owner->c.where,
			       x->c.name);
}

int sources_merge(struct sources *s, const struct lbd_config *file,
		  const struct k8s_set *k8s, size_t max_new,
		  struct lbd_config **out, struct config_diag *news,
		  size_t *deferred)
{
	size_t n_new = 0;
	size_t nk = k8s ? k8s->n_svc : 0, nc = 0, i, j, g;
	struct src_claim *held = NULL, *refused = NULL;
	size_t n_held = 0, n_refused = 0, n_hr = 0;
	struct src_claim *host_refused = NULL;
	struct lbd_config *m = NULL;
	struct cand *cands;
	bool *lost_file = NULL, *lost_k8s = NULL;
	char k[80];
	int err = -ENOMEM;

	cands = calloc(file->n_services + nk + 1, sizeof(*cands));
	lost_file = calloc(file->n_services + 1, sizeof(bool));
	lost_k8s = calloc(nk + 1, sizeof(bool));
	m = malloc(sizeof(*m));
	if (!cands || !lost_file || !lost_k8s || !m)
		goto out;
	/* vip = "*" services are per host address; desired_build keeps
	 * the configured ones there */
	for (i = 0; i < file->n_services; i++)
		if (!file->services[i].wildcard)
			cand_of(&cands[nc++], file, &file->services[i], i);
	for (i = 0; i < nk; i++)
		cand_of(&cands[nc++], file, &k8s->svc[i], file->n_services + i);
	for (i = 0; i < nc; i++)
		cands[i].incumbent = held_by(s, &cands[i].c);
	qsort(cands, nc, sizeof(*cands), cand_cmp);

	held = calloc(nc + 1, sizeof(*held));
	refused = calloc(nc + 1, sizeof(*refused));
	host_refused = calloc(nc + 1, sizeof(*host_refused));
	if (!held || !refused || !host_refused)
		goto out;
	/* the LB host's own addresses first: such a service claims no
	 * key, so it neither wins nor makes another lose */
	for (i = 0, j = 0; i < nc; i++) {
		struct lbd_conf_addr vip = { .family = cands[i].c.key.family };

		vip.addr = cands[i].c.key.vip;
		if (!sources_is_host_addr(s, &vip)) {
			cands[j++] = cands[i];
			continue;
		}
		host_refuse(s, news, &cands[i]);
		host_refused[n_hr++] = cands[i].c;
		if (cands[i].c.origin == LBD_ORIGIN_FILE)
			lost_file[cands[i].order] = true;
		else
			lost_k8s[cands[i].order - file->n_services] = true;
	}
	nc = j;
	if (deferred)
		*deferred = 0;
	for (i = 0; i < nc; i = g) {
		for (g = i + 1; g < nc && !svc_addr_cmp(&cands[g].c.key,
						   &cands[i].c.key);
		     g++)
			;
		if (max_new && cands[i].c.origin == LBD_ORIGIN_K8S &&
		    !cands[i].incumbent && n_new++ >= max_new) {
			/* next time: not served, not refused, no claim */
			lost_k8s[cands[i].order - file->n_services] = true;
			if (deferred)
				(*deferred)++;
			continue;
		}
		cands[i].won = true;
		held[n_held++] = cands[i].c;
		if (news && was_refused(s, &cands[i].c))
			news_add(news,
				       "%s: %s %s is served now",
				       cands[i].c.where, cands[i].c.name,
				       key_str(&cands[i].c.key, k, sizeof(k)));
		for (j = i + 1; j < g; j++) {
			refused[n_refused++] = cands[j].c;
			if (cands[j].c.origin == LBD_ORIGIN_FILE)
				lost_file[cands[j].order] = true;
			else
				lost_k8s[cands[j].order - file->n_services] =
					true;
			if (was_refused(s, &cands[j].c))
				continue;
			s->refusals++;
			if (news)
				say_refused(news, &cands[j], &cands[i]);
		}
	}
	qsort(held, n_held, sizeof(*held), claim_cmp);
	qsort(refused, n_refused, sizeof(*refused), claim_cmp);
	qsort(host_refused, n_hr, sizeof(*host_refused), claim_cmp);

	/* the merged config: file's settings, the winners' services */
	*m = *file;
	m->services = calloc(file->n_services + nk + 1, sizeof(*m->services));
	for (i = 0, j = 0; i < nk; i++)
		j += k8s->svc[i].n_backends;
	m->backends = calloc(file->n_backends + j + 1, sizeof(*m->backends));
	if (!m->services || !m->backends) {
		free(m->services);
		free(m->backends);
		goto out;
	}
	m->n_services = 0;
	if (file->n_backends) /* a file of no backends may have none */
		memcpy(m->backends, file->backends,
		       file->n_backends * sizeof(*m->backends));
	m->n_backends = file->n_backends;
	for (i = 0; i < file->n_services; i++)
		if (!lost_file[i])
			m->services[m->n_services++] = file->services[i];
	for (i = 0; i < nk; i++) {
		struct lbd_conf_service *t;

		if (lost_k8s[i])
			continue;
		t = &m->services[m->n_services++];
		*t = k8s->svc[i];
		t->first_backend = m->n_backends;
		memcpy(m->backends + m->n_backends,
		       k8s->be + k8s->svc[i].first_backend,
		       t->n_backends * sizeof(*m->backends));
		m->n_backends += t->n_backends;
	}
	free(s->held);
	free(s->refused);
	s->held = held;
	s->n_held = n_held;
	s->refused = refused;
	s->n_refused = n_refused;
	free(s->host_refused);
	s->host_refused = host_refused;
	s->n_host_refused = n_hr;
	held = refused = host_refused = NULL;
	*out = m;
	m = NULL;
	err = 0;
out:
	free(m);
	free(held);
	free(refused);
	free(host_refused);
	free(cands);
	free(lost_file);
	free(lost_k8s);
	return err;
}

void sources_merged_free(struct lbd_config *m)
{
	if (!m)
		return;
	free(m->services);
	free(m->backends);
	free(m);
}

void sources_free(struct sources *s)
{
	free(s->held);
	free(s->refused);
	free(s->host_refused);
	free(s->host);
	memset(s, 0, sizeof(*s));
}

int sources_apply(struct sources *s, struct lbd_state *st, struct lbd_dp *dp,
		  const struct lbd_config *file, const struct k8s_set *k8s,
		  size_t max_new, plan_fn plan, void *plan_arg,
		  struct apply_result *res, struct config_diag *news,
		  size_t *deferred)
{
	struct lbd_config *m = NULL;
	int err = sources_merge(s, file, k8s, max_new, &m, news, deferred);

	if (err) {
		memset(res, 0, sizeof(*res));
		return err;
	}
	err = state_apply(st, dp, m, plan, plan_arg, res);
	sources_merged_free(m);
	return err;
}
