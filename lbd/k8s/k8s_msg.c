// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Kubernetes child's messages (k8s_msg.h): fixed records in, lbd's
 * structures out, every field checked on the way.
 */
#include "k8s_msg.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(LBD_K8S_MAX_VIP_RANGES == LBD_MAX_VIP_RANGES,
	       "vip_ranges of a START and of the config");
_Static_assert(sizeof(((struct lbd_k8s_svc_rec *)0)->name) == LBD_SVC_NAME_MAX,
	       "a service's name");
_Static_assert(sizeof(((struct lbd_k8s_svc_rec *)0)->ref) ==
		       sizeof(((struct lbd_conf_service *)0)->k8s_ref),
	       "a Service's reference");
_Static_assert(
	sizeof(((struct lbd_k8s_start *)0)->lb_class) ==
			sizeof(((struct lbd_conf_kubernetes *)0)->lb_class) &&
		sizeof(((struct lbd_k8s_start *)0)->context) ==
			sizeof(((struct lbd_conf_kubernetes *)0)->context) &&
		sizeof(((struct lbd_k8s_start *)0)->ns) ==
			sizeof(((struct lbd_conf_kubernetes *)0)->namespace) &&
		sizeof(((struct lbd_k8s_start *)0)->kubeconfig) ==
			sizeof(((struct lbd_conf_kubernetes *)0)->kubeconfig),
	"the settings' strings");
_Static_assert(sizeof(((struct lbd_k8s_line_rec *)0)->msg) == 512,
	       "k8s_model's lines are at most 511 characters");

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

#define STR_OK(a) msg_str_ok((a), sizeof(a))

static bool family_ok(__u8 f)
{
	return f == LBD_AF_INET || f == LBD_AF_INET6;
}

static bool bool_ok(__u8 b)
{
	return b <= 1;
}

/* -- START ----------------------------------------------------------------- */

int k8s_start_build(const struct lbd_config *c, __u32 gen, const void *kc,
		    size_t kc_len, const struct k8s_files *files, void **out,
		    size_t *len)
{
	const struct lbd_conf_kubernetes *k = &c->k8s;
	unsigned int i, n = files ? files->n : 0;
	struct lbd_k8s_start *s;
	size_t total = kc_len;
	char *p;

	*out = NULL;
	*len = 0;
	if (kc_len > LBD_K8S_FILE_MAX || n > LBD_K8S_MAX_FILES)
		return -EFBIG;
	for (i = 0; i < n; i++) {
		if (files->len[i] > LBD_K8S_FILE_MAX)
			return -EFBIG;
		total += files->len[i];
	}
	s = calloc(1, sizeof(*s) + total);
	if (!s)
		return -ENOMEM;
	s->gen = gen;
	s->max_object_bytes = k->max_object_bytes;
	s->max_watch_line_bytes = k->max_watch_line_bytes;
	s->max_list_page_bytes = k->max_list_page_bytes;
	snprintf(s->kubeconfig, sizeof(s->kubeconfig), "%s", k->kubeconfig);
	snprintf(s->context, sizeof(s->context), "%s", k->context);
	snprintf(s->lb_class, sizeof(s->lb_class), "%s", k->lb_class);
	snprintf(s->ns, sizeof(s->ns), "%s", k->namespace);
	s->fwd = k->fwd;
	s->flow_backends = k->flow_backends;
	s->encap4 = !!c->dp.encap_v4.family;
	s->encap6 = !!c->dp.encap_v6.family;
	s->snat4 = !!c->dp.snat_v4.family;
	s->snat6 = !!c->dp.snat_v6.family;
	s->n_vip_ranges = (__u32)k->n_vip_ranges;
	for (i = 0; i < k->n_vip_ranges && i < LBD_K8S_MAX_VIP_RANGES; i++) {
		s->vip_ranges[i].addr = k->vip_ranges[i].addr;
		s->vip_ranges[i].family = k->vip_ranges[i].family;
		s->vip_ranges[i].prefixlen = k->vip_ranges[i].prefixlen;
	}
	s->kubeconfig_len = (__u32)kc_len;
	p = (char *)(s + 1);
	if (kc_len)
		memcpy(p, kc, kc_len);
	p += kc_len;
	s->n_files = (__u8)n;
	for (i = 0; i < n; i++) {
		snprintf(s->file_path[i], sizeof(s->file_path[i]), "%s",
			 files->path[i]);
		s->file_len[i] = (__u32)files->len[i];
		if (files->len[i])
			memcpy(p, files->data[i], files->len[i]);
		p += files->len[i];
	}
	*out = s;
	*len = sizeof(*s) + total;
	return 0;
}

int k8s_start_parse(const void *p, size_t len, struct k8s_start_view *v,
		    char *err, size_t errlen)
{
	const struct lbd_k8s_start *s = p;
	struct lbd_conf_kubernetes *k = &v->conf;
	const char *tail = (const char *)(s + 1);
	size_t want;
	unsigned int i;

	memset(v, 0, sizeof(*v));
	if (len < sizeof(*s))
		return bad(err, errlen, "start: %zu bytes", len);
	if (!STR_OK(s->kubeconfig) || !STR_OK(s->context) ||
	    !STR_OK(s->lb_class) || !STR_OK(s->ns))
		return bad(err, errlen, "start: a name without its end");
	if (s->n_vip_ranges > LBD_K8S_MAX_VIP_RANGES ||
	    s->n_files > LBD_K8S_MAX_FILES ||
	    s->kubeconfig_len > LBD_K8S_FILE_MAX)
		return bad(err, errlen, "start: a count past its bound");
	if (s->fwd != LBD_FWD_IPIP && s->fwd != LBD_FWD_GENEVE &&
	    s->fwd != LBD_FWD_SNAT)
		return bad(err, errlen, "start: forwarding %u", s->fwd);
	if (!bool_ok(s->flow_backends) || !bool_ok(s->encap4) ||
	    !bool_ok(s->encap6) || !bool_ok(s->snat4) || !bool_ok(s->snat6))
		return bad(err, errlen, "start: a flag not 0 or 1");
	want = s->kubeconfig_len;
	for (i = 0; i < s->n_files; i++) {
		if (s->file_len[i] > LBD_K8S_FILE_MAX ||
		    !STR_OK(s->file_path[i]) || s->file_path[i][0] != '/')
			return bad(err, errlen, "start: file %u", i);
		want += s->file_len[i];
	}
	if (len - sizeof(*s) != want)
		return bad(err, errlen,
			   "start: %zu bytes after the settings, "
			   "not %zu",
			   len - sizeof(*s), want);
	v->gen = s->gen;
	k->enabled = true;
	memcpy(k->kubeconfig, s->kubeconfig, sizeof(k->kubeconfig));
	memcpy(k->context, s->context, sizeof(k->context));
	memcpy(k->lb_class, s->lb_class, sizeof(k->lb_class));
	memcpy(k->namespace, s->ns, sizeof(k->namespace));
	k->fwd = s->fwd;
	k->flow_backends = s->flow_backends;
	k->max_object_bytes = s->max_object_bytes;
	k->max_watch_line_bytes = s->max_watch_line_bytes;
	k->max_list_page_bytes = s->max_list_page_bytes;
	for (i = 0; i < s->n_vip_ranges; i++) {
		const struct lbd_k8s_prefix *r = &s->vip_ranges[i];

		if (!family_ok(r->family) ||
		    r->prefixlen > (r->family == LBD_AF_INET ? 32 : 128))
			return bad(err, errlen, "start: vip_ranges[%u]", i);
		k->vip_ranges[i].family = r->family;
		k->vip_ranges[i].prefixlen = r->prefixlen;
		k->vip_ranges[i].addr = r->addr;
	}
	k->n_vip_ranges = s->n_vip_ranges;
	v->opts.fwd = s->fwd;
	v->opts.flow_backends = s->flow_backends;
	v->opts.vip_ranges = k->vip_ranges;
	v->opts.n_vip_ranges = k->n_vip_ranges;
	v->opts.encap4 = s->encap4;
	v->opts.encap6 = s->encap6;
	v->opts.snat4 = s->snat4;
	v->opts.snat6 = s->snat6;
	v->kc = tail;
	v->kc_len = s->kubeconfig_len;
	tail += s->kubeconfig_len;
	v->files.n = s->n_files;
	for (i = 0; i < s->n_files; i++) {
		memcpy(v->files.path[i], s->file_path[i],
		       sizeof(v->files.path[i]));
		v->files.data[i] = tail;
		v->files.len[i] = s->file_len[i];
		tail += s->file_len[i];
	}
	return 0;
}

/* -- STATUS ------------------------------------------------------------- */

int k8s_status_check(const void *p, size_t len, unsigned int *n_need, char *err,
		     size_t errlen)
{
	const struct lbd_k8s_status *s = p;
	const char *paths = (const char *)(s + 1);
	size_t n;
	int r;

	*n_need = 0;
	if (len < sizeof(*s) || (len - sizeof(*s)) % LBD_K8S_PATH_MAX)
		return bad(err, errlen, "status: %zu bytes", len);
	n = (len - sizeof(*s)) / LBD_K8S_PATH_MAX;
	if (n > LBD_K8S_MAX_FILES)
		return bad(err, errlen, "status: %zu files", n);
	if (!bool_ok(s->running) || !bool_ok(s->synced))
		return bad(err, errlen, "status: a flag not 0 or 1");
	if (!STR_OK(s->server) || !STR_OK(s->context) || !STR_OK(s->error))
		return bad(err, errlen, "status: a string without its end");
	for (r = 0; r < LBD_K8S_RES_N; r++) {
		const struct lbd_k8s_res_status *x = &s->res[r];

		if (!bool_ok(x->listed) || !bool_ok(x->watching) ||
		    !bool_ok(x->failing))
			return bad(err, errlen, "status: a flag not 0 or 1");
		if (!STR_OK(x->last_error))
			return bad(err, errlen,
				   "status: an error without its end");
	}
	for (*n_need = 0; *n_need < n; (*n_need)++) {
		const char *f = paths + (size_t)*n_need * LBD_K8S_PATH_MAX;

		if (!msg_str_ok(f, LBD_K8S_PATH_MAX) || f[0] != '/')
			return bad(err, errlen, "status: file %u", *n_need);
	}
	return 0;
}

/* -- SERVICES ---------------------------------------------------------------- */

struct enc {
	char *buf;
	size_t cap, chunk;
	struct lbd_k8s_set_hdr h;
	/* the records of this message, each kind in its own array */
	struct lbd_k8s_svc_rec *svc;
	struct lbd_k8s_be_rec *be;
	struct lbd_k8s_line_rec *line;
	size_t bytes; /* of records so far */
	bool first;
	k8s_msg_emit_fn emit;
	void *arg;
};

static int enc_flush(struct enc *e, bool last)
{
	size_t sv = e->h.n_svc * sizeof(*e->svc),
	       bv = e->h.n_be * sizeof(*e->be),
	       lv = (e->h.n_warn + e->h.n_ref) * sizeof(*e->line);
	__u16 flags = (e->first ? LBD_K8S_F_BEGIN : 0) |
		      (last ? LBD_K8S_F_END : 0);
	int err;

	/* the records in their order, after one another */
	memcpy(e->buf, e->svc, sv);
	memcpy(e->buf + sv, e->be, bv);
	memcpy(e->buf + sv + bv, e->line, lv);
	err = e->emit(flags, &e->h, sizeof(e->h), e->buf, sv + bv + lv, e->arg);
	e->first = false;
	e->h.n_svc = e->h.n_be = e->h.n_warn = e->h.n_ref = 0;
	e->bytes = 0;
	return err;
}

/* Room for a record of size bytes in this message; else it is sent. */
static int enc_room(struct enc *e, size_t size)
{
	if (e->bytes + size <= e->chunk)
		return 0;
	return enc_flush(e, false);
}

static void addr_to_msg(const struct lbd_conf_addr *a, __u16 port,
			struct lbd_msg_addr *m)
{
	memset(m, 0, sizeof(*m));
	m->addr = a->addr;
	m->family = a->family;
	m->port = port;
}

int k8s_msg_set_encode(const struct k8s_set *set, __u32 seq, __u32 gen,
		       size_t chunk, k8s_msg_emit_fn emit, void *arg)
{
	struct enc e = { .first = true, .emit = emit, .arg = arg };
	size_t i, j, max_recs;
	int err = 0;

	if (set->n_svc > LBD_K8S_MAX_SVCS || set->n_be > LBD_K8S_MAX_BES ||
	    set->n_warnings + set->n_refusals > LBD_K8S_MAX_LINES)
		return -E2BIG;
	e.chunk = chunk ? chunk : K8S_MSG_CHUNK;
	if (e.chunk < sizeof(struct lbd_k8s_line_rec))
		e.chunk = sizeof(struct lbd_k8s_line_rec);
	if (e.chunk > LBD_MSG_MAX - sizeof(e.h))
		e.chunk = LBD_MSG_MAX - sizeof(e.h);
	max_recs = e.chunk / sizeof(*e.be) + 1;
	e.h.seq = seq;
	e.h.gen = gen;
	e.buf = malloc(e.chunk);
	e.svc = calloc(e.chunk / sizeof(*e.svc) + 1, sizeof(*e.svc));
	e.be = calloc(max_recs, sizeof(*e.be));
	e.line = calloc(e.chunk / sizeof(*e.line) + 1, sizeof(*e.line));
	if (!e.buf || !e.svc || !e.be || !e.line) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < set->n_svc && !err; i++) {
		const struct lbd_conf_service *s = &set->svc[i];
		struct lbd_k8s_svc_rec *r;

		err = enc_room(&e, sizeof(*r));
		if (err)
			break;
		r = &e.svc[e.h.n_svc++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", s->name);
		snprintf(r->ref, sizeof(r->ref), "%s", s->k8s_ref);
		addr_to_msg(&s->vip, s->port, &r->vip);
		r->proto = s->proto;
		r->fwd = s->fwd;
		r->dsr = s->dsr;
		r->no_backend = (__u8)s->no_backend;
		r->flow_backends = s->flow_backends;
		r->icmp_echo = s->icmp_echo;
		r->affinity_timeout = s->affinity_timeout;
		e.bytes += sizeof(*r);
		for (j = 0; j < s->n_backends && !err; j++) {
			const struct lbd_conf_backend *b =
				&set->be[s->first_backend + j];
			struct lbd_k8s_be_rec *br;

			err = enc_room(&e, sizeof(*br));
			if (err)
				break;
			br = &e.be[e.h.n_be++];
			memset(br, 0, sizeof(*br));
			br->svc = (__u32)i;
			br->weight = b->weight;
			addr_to_msg(&b->addr, b->port, &br->addr);
			br->state = (__u8)b->state;
			e.bytes += sizeof(*br);
		}
	}
	for (i = 0; i < set->n_warnings + set->n_refusals && !err; i++) {
		struct lbd_k8s_line_rec *l;
		bool warn = i < set->n_warnings;

		/* warnings come first, so a message has its warnings
		 * before its refusals, as its header counts them */
		err = enc_room(&e, sizeof(*l));
		if (err)
			break;
		l = &e.line[e.h.n_warn + e.h.n_ref];
		memset(l, 0, sizeof(*l));
		if (warn) {
			snprintf(l->msg, sizeof(l->msg), "%s",
				 set->warnings[i]);
			e.h.n_warn++;
		} else {
			const struct k8s_refusal_line *rl =
				&set->refusals[i - set->n_warnings];

			l->reason = rl->reason;
			snprintf(l->msg, sizeof(l->msg), "%s", rl->msg);
			e.h.n_ref++;
		}
		e.bytes += sizeof(*l);
	}
	if (!err)
		err = enc_flush(&e, true);
out:
	free(e.buf);
	free(e.svc);
	free(e.be);
	free(e.line);
	return err;
}

void k8s_rx_reset(struct k8s_rx *rx)
{
	k8s_set_free(&rx->set);
	memset(rx, 0, sizeof(*rx));
}

static void *rx_grow(void *arr, size_t want, size_t *cap, size_t size)
{
	size_t nc = *cap ? *cap : 64;
	void *p;

	if (want <= *cap)
		return arr;
	while (nc < want)
		nc *= 2;
	p = realloc(arr, nc * size);
	if (p)
		*cap = nc;
	return p;
}

static void addr_of_msg(const struct lbd_msg_addr *m, struct lbd_conf_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->family = m->family;
	a->prefixlen = m->family == LBD_AF_INET ? 32 : 128;
	a->addr = m->addr;
}

static int rx_svc(struct k8s_rx *rx, const struct lbd_k8s_svc_rec *r, char *err,
		  size_t errlen)
{
	struct lbd_conf_service *s;
	size_t i = rx->set.n_svc;
	const char *why;

	if (!STR_OK(r->name) || !r->name[0] || !STR_OK(r->ref) || !r->ref[0])
		return bad(err, errlen, "service %zu: a name without its end",
			   i);
	if (!family_ok(r->vip.family))
		return bad(err, errlen, "service %zu: family %u", i,
			   r->vip.family);
	if (!r->vip.port)
		return bad(err, errlen, "service %zu: port 0", i);
	if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
		return bad(err, errlen, "service %zu: protocol %u", i,
			   r->proto);
	if ((r->fwd != LBD_FWD_IPIP && r->fwd != LBD_FWD_GENEVE &&
	     r->fwd != LBD_FWD_SNAT) ||
	    (r->dsr != LBD_FWD_IPIP && r->dsr != LBD_FWD_GENEVE))
		return bad(err, errlen, "service %zu: forwarding %u/%u", i,
			   r->fwd, r->dsr);
	if (r->no_backend > LBD_NB_DROP || !bool_ok(r->flow_backends) ||
	    !bool_ok(r->icmp_echo) ||
	    (r->flow_backends && r->proto != IPPROTO_TCP))
		return bad(err, errlen, "service %zu: a flag out of range", i);
	if (rx->set.n_svc >= LBD_K8S_MAX_SVCS)
		return bad(err, errlen, "more than %u services",
			   LBD_K8S_MAX_SVCS);
	s = rx_grow(rx->set.svc, i + 1, &rx->cap_svc, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rx->set.svc = s;
	s = &s[i];
	memset(s, 0, sizeof(*s));
	memcpy(s->name, r->name, sizeof(s->name));
	memcpy(s->k8s_ref, r->ref, sizeof(s->k8s_ref));
	addr_of_msg(&r->vip, &s->vip);
	/* the translation serves unicast VIPs only (k8s_model.h) */
	why = config_addr_unusable(&s->vip);
	if (why)
		return bad(err, errlen, "service %zu: VIP %s", i, why);
	s->port = r->vip.port;
	s->proto = r->proto;
	s->fwd = r->fwd;
	s->dsr = r->dsr;
	s->no_backend = (enum lbd_no_backend)r->no_backend;
	s->icmp_echo = r->icmp_echo;
	s->flow_backends = r->flow_backends;
	s->affinity_timeout = r->affinity_timeout;
	s->origin = LBD_ORIGIN_K8S;
	rx->set.n_svc++;
	return 0;
}

static int rx_be(struct k8s_rx *rx, const struct lbd_k8s_be_rec *r, char *err,
		 size_t errlen)
{
	struct lbd_conf_backend *b;
	struct lbd_conf_service *s;
	size_t i = rx->set.n_be;
	const char *why;

	/* in the order of their services, which came before them: a
	 * service's backends are one run */
	if (r->svc >= rx->set.n_svc)
		return bad(err, errlen, "backend %zu: service %u of %zu", i,
			   r->svc, rx->set.n_svc);
	if (i && r->svc < rx->last_svc)
		return bad(err, errlen, "backend %zu: not with its service's",
			   i);
	s = &rx->set.svc[r->svc];
	if (!s->n_backends)
		s->first_backend = i;
	rx->last_svc = r->svc;
	if (r->addr.family != s->vip.family)
		return bad(err, errlen, "backend %zu: family %u", i,
			   r->addr.family);
	if (!r->addr.port || r->weight > 65535 ||
	    (r->state != LBD_CS_ACTIVE && r->state != LBD_CS_DRAINING))
		return bad(err, errlen, "backend %zu: port, weight or state",
			   i);
	if (rx->set.n_be >= LBD_K8S_MAX_BES)
		return bad(err, errlen, "more than %u backends",
			   LBD_K8S_MAX_BES);
	b = rx_grow(rx->set.be, i + 1, &rx->cap_be, sizeof(*b));
	if (!b)
		return -ENOMEM;
	rx->set.be = b;
	b = &b[i];
	memset(b, 0, sizeof(*b));
	addr_of_msg(&r->addr, &b->addr);
	why = config_addr_unusable(&b->addr);
	if (why)
		return bad(err, errlen, "backend %zu: %s", i, why);
	b->port = r->addr.port;
	b->weight = r->weight;
	b->state = (enum lbd_conf_state)r->state;
	rx->set.n_be++;
	s->n_backends++;
	return 0;
}

static int rx_line(struct k8s_rx *rx, const struct lbd_k8s_line_rec *r,
		   bool refusal, char *err, size_t errlen)
{
	struct k8s_set *set = &rx->set;
	char *m;

	if (!STR_OK(r->msg))
		return bad(err, errlen, "a line without its end");
	if (refusal ? (!r->reason || r->reason >= K8S_REFUSALS_N) : r->reason)
		return bad(err, errlen, "a line of reason %u", r->reason);
	if (rx->n_lines >= LBD_K8S_MAX_LINES)
		return bad(err, errlen, "more than %u lines",
			   LBD_K8S_MAX_LINES);
	m = strdup(r->msg);
	if (!m)
		return -ENOMEM;
	if (refusal) {
		struct k8s_refusal_line *l = rx_grow(set->refusals,
						     set->n_refusals + 1,
						     &rx->cap_ref, sizeof(*l));

		if (!l) {
			free(m);
			return -ENOMEM;
		}
		set->refusals = l;
		l[set->n_refusals].reason = r->reason;
		l[set->n_refusals++].msg = m;
	} else {
		char **l = rx_grow(set->warnings, set->n_warnings + 1,
				   &rx->cap_warn, sizeof(*l));

		if (!l) {
			free(m);
			return -ENOMEM;
		}
		set->warnings = l;
		l[set->n_warnings++] = m;
	}
	rx->n_lines++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int refusal_cmp(const void *a, const void *b)
{
	return strcmp(((const struct k8s_refusal_line *)a)->msg,
		      ((const struct k8s_refusal_line *)b)->msg);
}

int k8s_rx_msg(struct k8s_rx *rx, __u16 flags, const void *p, size_t len,
	       struct k8s_set *out, __u32 *gen, char *err, size_t errlen)
{
	const struct lbd_k8s_set_hdr *h = p;
	const char *rec = (const char *)(h + 1);
	unsigned long long want;
	size_t i;
	int r = 0;

	if (len < sizeof(*h)) {
		r = bad(err, errlen, "services: %zu bytes", len);
		goto out;
	}
	want = sizeof(*h) +
	       (unsigned long long)h->n_svc * sizeof(struct lbd_k8s_svc_rec) +
	       (unsigned long long)h->n_be * sizeof(struct lbd_k8s_be_rec) +
	       ((unsigned long long)h->n_warn + h->n_ref) *
		       sizeof(struct lbd_k8s_line_rec);
	if (want != len) {
		r = bad(err, errlen, "services: %zu bytes for %llu", len, want);
		goto out;
	}
	if (flags & ~(LBD_K8S_F_BEGIN | LBD_K8S_F_END)) {
		r = bad(err, errlen, "services: flags %#x", flags);
		goto out;
	}
	if (flags & LBD_K8S_F_BEGIN) {
		k8s_rx_reset(rx);
		rx->open = true;
		rx->seq = h->seq;
		rx->gen = h->gen;
	} else if (!rx->open || h->seq != rx->seq || h->gen != rx->gen) {
		r = bad(err, errlen,
			"services: set %u goes on without its "
			"beginning",
			h->seq);
		goto out;
	}
	for (i = 0; !r && i < h->n_svc;
	     i++, rec += sizeof(struct lbd_k8s_svc_rec))
		r = rx_svc(rx, (const void *)rec, err, errlen);
	for (i = 0; !r && i < h->n_be;
	     i++, rec += sizeof(struct lbd_k8s_be_rec))
		r = rx_be(rx, (const void *)rec, err, errlen);
	for (i = 0; !r && i < (size_t)h->n_warn + h->n_ref;
	     i++, rec += sizeof(struct lbd_k8s_line_rec))
		r = rx_line(rx, (const void *)rec, i >= h->n_warn, err, errlen);
	if (r || !(flags & LBD_K8S_F_END))
		goto out;
	/* the order the log's "only new lines" merge wants (lb.c) */
	if (rx->set.n_warnings)
		qsort(rx->set.warnings, rx->set.n_warnings, sizeof(char *),
		      str_cmp);
	if (rx->set.n_refusals)
		qsort(rx->set.refusals, rx->set.n_refusals,
		      sizeof(*rx->set.refusals), refusal_cmp);
	*out = rx->set;
	*gen = rx->gen;
	memset(&rx->set, 0, sizeof(rx->set));
	k8s_rx_reset(rx);
	return 1;
out:
	if (r)
		k8s_rx_reset(rx);
	return r;
}

bool k8s_same_cluster(const struct lbd_conf_kubernetes *a,
		      const struct lbd_conf_kubernetes *b)
{
	return !strcmp(a->kubeconfig, b->kubeconfig) &&
	       !strcmp(a->context, b->context) &&
	       !strcmp(a->lb_class, b->lb_class) &&
	       !strcmp(a->namespace, b->namespace) &&
	       a->max_object_bytes == b->max_object_bytes &&
	       a->max_watch_line_bytes == b->max_watch_line_bytes &&
	       a->max_list_page_bytes == b->max_list_page_bytes;
}
