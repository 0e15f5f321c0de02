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
_Static_assert(LBD_K8S_MAX_NODE_ADDRS == LBD_MAX_NODE_ADDRS,
	       "node addresses of a START and of the config");
_Static_assert(sizeof(((struct lbd_k8s_node_rec *)0)->ns) ==
			       sizeof(((struct k8s_node_rec *)0)->ns) &&
		       sizeof(((struct lbd_k8s_node_rec *)0)->name) ==
			       sizeof(((struct k8s_node_rec *)0)->name) &&
		       sizeof(((struct lbd_k8s_node_rec *)0)->port_name) ==
			       sizeof(((struct k8s_node_rec *)0)->port_name),
	       "a node record's names");
_Static_assert(sizeof(((struct lbd_k8s_start *)0)->node_name) ==
			       sizeof(((struct k8s_node_ident *)0)->node_name) &&
		       sizeof(((struct lbd_k8s_start *)0)->zone) ==
			       sizeof(((struct k8s_node_ident *)0)->zone) &&
		       sizeof(((struct k8s_node_ident *)0)->zone) ==
			       sizeof(((struct lbd_conf_node_role *)0)->zone),
	       "a node's name and zone");

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

static void addr_to_msg(const struct lbd_conf_addr *a, __u16 port,
			struct lbd_msg_addr *m);
static void addr_of_msg(const struct lbd_msg_addr *m, struct lbd_conf_addr *a);

void k8s_start_set_node(void *start, const struct k8s_node_ident *id)
{
	struct lbd_k8s_start *s = start;
	size_t i;

	s->role = LBD_K8S_ROLE_NODE;
	snprintf(s->node_name, sizeof(s->node_name), "%s", id->node_name);
	snprintf(s->zone, sizeof(s->zone), "%s", id->zone);
	s->n_node_addrs = 0;
	for (i = 0; i < id->n_addrs && i < LBD_K8S_MAX_NODE_ADDRS; i++)
		addr_to_msg(&id->addrs[i], 0,
			    &s->node_addrs[s->n_node_addrs++]);
}

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
	if (s->role >= LBD_K8S_ROLE_N || !STR_OK(s->node_name) ||
	    !STR_OK(s->zone) || s->n_node_addrs > LBD_K8S_MAX_NODE_ADDRS)
		return bad(err, errlen, "start: the node's settings");
	for (i = 0; i < s->n_node_addrs; i++) {
		if (!family_ok(s->node_addrs[i].family))
			return bad(err, errlen, "start: node address %u", i);
		addr_of_msg(&s->node_addrs[i], &v->node.addrs[i]);
	}
	v->role = s->role;
	memcpy(v->node.node_name, s->node_name, sizeof(v->node.node_name));
	memcpy(v->node.zone, s->zone, sizeof(v->node.zone));
	v->node.n_addrs = s->n_node_addrs;
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

/* -- NODE_SET (role node) ------------------------------------------------- */

struct nenc {
	char *buf; /* the records of this message, in their order */
	size_t chunk, used;
	struct lbd_k8s_node_set_hdr h;
	bool first;
	k8s_msg_emit_fn emit;
	void *arg;
};

static int nenc_flush(struct nenc *e, bool last)
{
	__u16 flags = (e->first ? LBD_K8S_F_BEGIN : 0) |
		      (last ? LBD_K8S_F_END : 0);
	int err = e->emit(flags, &e->h, sizeof(e->h), e->buf, e->used, e->arg);

	e->first = false;
	e->h.n_rec = e->h.n_addr = e->h.n_ep = e->h.n_ref = e->h.n_hc = 0;
	e->used = 0;
	return err;
}

/* Room for a record of size bytes, counted in *count (a field of e->h):
 * the kinds come one after the other, so a message holds them in the
 * order its header counts them. NULL with *err when a send failed. */
static void *nenc_rec(struct nenc *e, size_t size, __u32 *count, int *err)
{
	void *p;

	if (e->used + size > e->chunk) {
		*err = nenc_flush(e, false);
		if (*err)
			return NULL;
	}
	p = e->buf + e->used;
	memset(p, 0, size);
	e->used += size;
	(*count)++;
	return p;
}

int k8s_msg_node_set_encode(const struct k8s_node_set *set, __u32 seq,
			    __u32 gen, size_t chunk, k8s_msg_emit_fn emit,
			    void *arg)
{
	struct nenc e = { .first = true, .emit = emit, .arg = arg };
	size_t i;
	int err = 0;

	if (set->n_recs > LBD_K8S_NODE_MAX_RECS ||
	    set->n_addrs > LBD_K8S_NODE_MAX_ADDRS ||
	    set->n_eps > LBD_K8S_NODE_MAX_EPS ||
	    set->n_refusals > LBD_K8S_MAX_LINES ||
	    set->n_hc_only > LBD_NODE_HC_MAX)
		return -E2BIG;
	e.chunk = chunk ? chunk : K8S_MSG_CHUNK;
	if (e.chunk < sizeof(struct lbd_k8s_line_rec))
		e.chunk = sizeof(struct lbd_k8s_line_rec);
	if (e.chunk > LBD_MSG_MAX - sizeof(e.h))
		e.chunk = LBD_MSG_MAX - sizeof(e.h);
	e.h.seq = seq;
	e.h.gen = gen;
	e.buf = malloc(e.chunk);
	if (!e.buf)
		return -ENOMEM;
	for (i = 0; i < set->n_recs && !err; i++) {
		const struct k8s_node_rec *r = &set->recs[i];
		struct lbd_k8s_node_rec *m =
			nenc_rec(&e, sizeof(*m), &e.h.n_rec, &err);

		if (!m)
			break;
		memcpy(m->ns, r->ns, sizeof(m->ns));
		memcpy(m->name, r->name, sizeof(m->name));
		memcpy(m->port_name, r->port_name, sizeof(m->port_name));
		m->port = r->port;
		m->node_port = r->node_port;
		m->hc_node_port = r->hc_node_port;
		m->type = r->type;
		m->proto = r->proto;
		m->family = r->family;
		m->external = r->external;
		m->local_only = r->local_only;
		m->affinity = r->affinity;
		m->zone_hints = r->zone_hints;
		m->forwarding = r->forwarding;
		m->affinity_timeout = r->affinity_timeout;
		m->first_addr = (__u32)r->first_addr;
		m->n_addrs = (__u32)r->n_addrs;
		m->first_ep = (__u32)r->first_ep;
		m->n_eps = (__u32)r->n_eps;
	}
	for (i = 0; i < set->n_addrs && !err; i++) {
		const struct k8s_node_addr *a = &set->addrs[i];
		struct lbd_k8s_node_addr *m =
			nenc_rec(&e, sizeof(*m), &e.h.n_addr, &err);

		if (!m)
			break;
		addr_to_msg(&a->addr, a->port, &m->addr);
		m->kind = a->kind;
	}
	for (i = 0; i < set->n_eps && !err; i++) {
		const struct k8s_node_ep *p = &set->eps[i];
		struct lbd_k8s_node_ep *m =
			nenc_rec(&e, sizeof(*m), &e.h.n_ep, &err);

		if (!m)
			break;
		addr_to_msg(&p->addr, p->port, &m->addr);
		m->weight = p->weight;
		m->ready = p->ready;
		m->serving = p->serving;
		m->terminating = p->terminating;
		m->local = p->local;
	}
	for (i = 0; i < set->n_refusals && !err; i++) {
		const struct k8s_refusal_line *l = &set->refusals[i];
		struct lbd_k8s_line_rec *m =
			nenc_rec(&e, sizeof(*m), &e.h.n_ref, &err);

		if (!m)
			break;
		m->reason = l->reason;
		snprintf(m->msg, sizeof(m->msg), "%s", l->msg);
	}
	for (i = 0; i < set->n_hc_only && !err; i++) {
		const struct k8s_node_hc_only *h = &set->hc_only[i];
		struct lbd_k8s_node_hc *m =
			nenc_rec(&e, sizeof(*m), &e.h.n_hc, &err);

		if (!m)
			break;
		memcpy(m->ns, h->ns, sizeof(m->ns));
		memcpy(m->name, h->name, sizeof(m->name));
		m->port = h->port;
	}
	if (!err)
		err = nenc_flush(&e, true);
	free(e.buf);
	return err;
}

void k8s_node_rx_reset(struct k8s_node_rx *rx)
{
	k8s_node_set_free(&rx->set);
	memset(rx, 0, sizeof(*rx));
}

/* An address of a node record or endpoint: of a family, with a port, and
 * one the translation can give (config_addr_unusable). */
static const char *node_addr_bad(const struct lbd_msg_addr *m)
{
	struct lbd_conf_addr a;

	if (!family_ok(m->family))
		return "its family";
	if (!m->port)
		return "port 0";
	addr_of_msg(m, &a);
	return config_addr_unusable(&a);
}

static int nrx_rec(struct k8s_node_rx *rx, const struct lbd_k8s_node_rec *m,
		   char *err, size_t errlen)
{
	struct k8s_node_set *set = &rx->set;
	size_t i = set->n_recs;
	struct k8s_node_rec *r;

	if (!STR_OK(m->ns) || !m->ns[0] || !STR_OK(m->name) || !m->name[0] ||
	    !STR_OK(m->port_name))
		return bad(err, errlen,
			   "node record %zu: a name without its end", i);
	if (!m->port || m->type > K8S_NODE_EXTERNAL_NAME ||
	    (m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) ||
	    !family_ok(m->family))
		return bad(err, errlen,
			   "node record %zu: port, type, protocol or family",
			   i);
	if (!bool_ok(m->external) || !bool_ok(m->local_only) ||
	    !bool_ok(m->affinity) || !bool_ok(m->zone_hints) ||
	    m->forwarding > K8S_NODE_FWD_GENEVE ||
	    m->affinity_timeout > K8S_NODE_AFFINITY_MAX ||
	    (!m->external && (m->node_port || m->hc_node_port)))
		return bad(err, errlen, "node record %zu: a flag out of range",
			   i);
	if (!m->n_addrs)
		return bad(err, errlen, "node record %zu: no address", i);
	if (i >= LBD_K8S_NODE_MAX_RECS)
		return bad(err, errlen, "more than %u node records",
			   LBD_K8S_NODE_MAX_RECS);
	r = rx_grow(set->recs, i + 1, &rx->cap_rec, sizeof(*r));
	if (!r)
		return -ENOMEM;
	set->recs = r;
	r = &r[i];
	memset(r, 0, sizeof(*r));
	memcpy(r->ns, m->ns, sizeof(r->ns));
	memcpy(r->name, m->name, sizeof(r->name));
	memcpy(r->port_name, m->port_name, sizeof(r->port_name));
	r->port = m->port;
	r->node_port = m->node_port;
	r->hc_node_port = m->hc_node_port;
	r->type = m->type;
	r->proto = m->proto;
	r->family = m->family;
	r->external = m->external;
	r->local_only = m->local_only;
	r->affinity = m->affinity;
	r->zone_hints = m->zone_hints;
	r->forwarding = m->forwarding;
	r->affinity_timeout = m->affinity_timeout;
	/* checked against the whole set at its end */
	r->first_addr = m->first_addr;
	r->n_addrs = m->n_addrs;
	r->first_ep = m->first_ep;
	r->n_eps = m->n_eps;
	set->n_recs++;
	return 0;
}

static int nrx_addr(struct k8s_node_rx *rx, const struct lbd_k8s_node_addr *m,
		    char *err, size_t errlen)
{
	struct k8s_node_set *set = &rx->set;
	size_t i = set->n_addrs;
	struct k8s_node_addr *a;
	const char *why = node_addr_bad(&m->addr);

	if (why)
		return bad(err, errlen, "node address %zu: %s", i, why);
	if (m->kind > K8S_NODE_ADDR_NODE_PORT)
		return bad(err, errlen, "node address %zu: kind %u", i,
			   m->kind);
	if (i >= LBD_K8S_NODE_MAX_ADDRS)
		return bad(err, errlen, "more than %u node addresses",
			   LBD_K8S_NODE_MAX_ADDRS);
	a = rx_grow(set->addrs, i + 1, &rx->cap_addr, sizeof(*a));
	if (!a)
		return -ENOMEM;
	set->addrs = a;
	a = &a[i];
	memset(a, 0, sizeof(*a));
	addr_of_msg(&m->addr, &a->addr);
	a->port = m->addr.port;
	a->kind = m->kind;
	set->n_addrs++;
	return 0;
}

static int nrx_ep(struct k8s_node_rx *rx, const struct lbd_k8s_node_ep *m,
		  char *err, size_t errlen)
{
	struct k8s_node_set *set = &rx->set;
	size_t i = set->n_eps;
	struct k8s_node_ep *e;
	const char *why = node_addr_bad(&m->addr);

	if (why)
		return bad(err, errlen, "node endpoint %zu: %s", i, why);
	if (!bool_ok(m->ready) || !bool_ok(m->serving) ||
	    !bool_ok(m->terminating) || !bool_ok(m->local))
		return bad(err, errlen, "node endpoint %zu: a flag not 0 or 1",
			   i);
	if (i >= LBD_K8S_NODE_MAX_EPS)
		return bad(err, errlen, "more than %u node endpoints",
			   LBD_K8S_NODE_MAX_EPS);
	e = rx_grow(set->eps, i + 1, &rx->cap_ep, sizeof(*e));
	if (!e)
		return -ENOMEM;
	set->eps = e;
	e = &e[i];
	memset(e, 0, sizeof(*e));
	addr_of_msg(&m->addr, &e->addr);
	e->port = m->addr.port;
	e->weight = m->weight;
	e->ready = m->ready;
	e->serving = m->serving;
	e->terminating = m->terminating;
	e->local = m->local;
	set->n_eps++;
	return 0;
}

static int nrx_ref(struct k8s_node_rx *rx, const struct lbd_k8s_line_rec *m,
		   char *err, size_t errlen)
{
	struct k8s_node_set *set = &rx->set;
	struct k8s_refusal_line *l;
	char *msg;

	if (!STR_OK(m->msg))
		return bad(err, errlen, "a line without its end");
	if (!m->reason || m->reason >= K8S_REFUSALS_N)
		return bad(err, errlen, "a line of reason %u", m->reason);
	if (set->n_refusals >= LBD_K8S_MAX_LINES)
		return bad(err, errlen, "more than %u lines",
			   LBD_K8S_MAX_LINES);
	l = rx_grow(set->refusals, set->n_refusals + 1, &rx->cap_ref,
		    sizeof(*l));
	if (!l)
		return -ENOMEM;
	set->refusals = l;
	msg = strdup(m->msg);
	if (!msg)
		return -ENOMEM;
	l[set->n_refusals].reason = m->reason;
	l[set->n_refusals++].msg = msg;
	return 0;
}

static int nrx_hc(struct k8s_node_rx *rx, const struct lbd_k8s_node_hc *m,
		  char *err, size_t errlen)
{
	struct k8s_node_set *set = &rx->set;
	size_t i = set->n_hc_only;
	struct k8s_node_hc_only *h;

	if (!STR_OK(m->ns) || !m->ns[0] || !STR_OK(m->name) || !m->name[0])
		return bad(err, errlen,
			   "node health check port %zu: a name without its "
			   "end",
			   i);
	/* sorted, each once: the io process takes the table so */
	if (!m->port || (i && set->hc_only[i - 1].port >= m->port))
		return bad(err, errlen,
			   "node health check port %zu: port %u out of order",
			   i, m->port);
	if (i >= LBD_NODE_HC_MAX)
		return bad(err, errlen, "more than %u health check ports",
			   LBD_NODE_HC_MAX);
	h = rx_grow(set->hc_only, i + 1, &rx->cap_hc, sizeof(*h));
	if (!h)
		return -ENOMEM;
	set->hc_only = h;
	h = &h[i];
	memset(h, 0, sizeof(*h));
	memcpy(h->ns, m->ns, sizeof(h->ns));
	memcpy(h->name, m->name, sizeof(h->name));
	h->port = m->port;
	set->n_hc_only++;
	return 0;
}

/* The complete set: each record's addresses and endpoints are within
 * the set and of its family (lbd indexes the arrays with them). */
static int nrx_end(const struct k8s_node_set *set, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < set->n_recs; i++) {
		const struct k8s_node_rec *r = &set->recs[i];

		/* each at most 2^32, their sums cannot wrap a size_t */
		if (r->first_addr + r->n_addrs > set->n_addrs ||
		    r->first_ep + r->n_eps > set->n_eps)
			return bad(err, errlen,
				   "node record %zu: addresses %zu+%zu of %zu, "
				   "endpoints %zu+%zu of %zu",
				   i, r->first_addr, r->n_addrs, set->n_addrs,
				   r->first_ep, r->n_eps, set->n_eps);
		for (j = 0; j < r->n_addrs; j++)
			if (set->addrs[r->first_addr + j].addr.family !=
			    r->family)
				return bad(err, errlen,
					   "node record %zu: an address of "
					   "another family",
					   i);
		for (j = 0; j < r->n_eps; j++)
			if (set->eps[r->first_ep + j].addr.family != r->family)
				return bad(err, errlen,
					   "node record %zu: an endpoint of "
					   "another family",
					   i);
	}
	return 0;
}

int k8s_node_rx_msg(struct k8s_node_rx *rx, __u16 flags, const void *p,
		    size_t len, struct k8s_node_set *out, __u32 *gen, char *err,
		    size_t errlen)
{
	const struct lbd_k8s_node_set_hdr *h = p;
	const char *rec = (const char *)(h + 1);
	unsigned long long want;
	size_t i;
	int r = 0;

	if (len < sizeof(*h)) {
		r = bad(err, errlen, "node set: %zu bytes", len);
		goto out;
	}
	want = sizeof(*h) +
	       (unsigned long long)h->n_rec * sizeof(struct lbd_k8s_node_rec) +
	       (unsigned long long)h->n_addr *
		       sizeof(struct lbd_k8s_node_addr) +
	       (unsigned long long)h->n_ep * sizeof(struct lbd_k8s_node_ep) +
	       (unsigned long long)h->n_ref * sizeof(struct lbd_k8s_line_rec) +
	       (unsigned long long)h->n_hc * sizeof(struct lbd_k8s_node_hc);
	if (want != len) {
		r = bad(err, errlen, "node set: %zu bytes for %llu", len, want);
		goto out;
	}
	if (flags & ~(LBD_K8S_F_BEGIN | LBD_K8S_F_END)) {
		r = bad(err, errlen, "node set: flags %#x", flags);
		goto out;
	}
	if (flags & LBD_K8S_F_BEGIN) {
		k8s_node_rx_reset(rx);
		rx->open = true;
		rx->seq = h->seq;
		rx->gen = h->gen;
	} else if (!rx->open || h->seq != rx->seq || h->gen != rx->gen) {
		r = bad(err, errlen,
			"node set %u goes on without its beginning", h->seq);
		goto out;
	}
	for (i = 0; !r && i < h->n_rec;
	     i++, rec += sizeof(struct lbd_k8s_node_rec))
		r = nrx_rec(rx, (const void *)rec, err, errlen);
	for (i = 0; !r && i < h->n_addr;
	     i++, rec += sizeof(struct lbd_k8s_node_addr))
		r = nrx_addr(rx, (const void *)rec, err, errlen);
	for (i = 0; !r && i < h->n_ep;
	     i++, rec += sizeof(struct lbd_k8s_node_ep))
		r = nrx_ep(rx, (const void *)rec, err, errlen);
	for (i = 0; !r && i < h->n_ref;
	     i++, rec += sizeof(struct lbd_k8s_line_rec))
		r = nrx_ref(rx, (const void *)rec, err, errlen);
	for (i = 0; !r && i < h->n_hc;
	     i++, rec += sizeof(struct lbd_k8s_node_hc))
		r = nrx_hc(rx, (const void *)rec, err, errlen);
	if (r || !(flags & LBD_K8S_F_END))
		goto out;
	r = nrx_end(&rx->set, err, errlen);
	if (r)
		goto out;
	/* the order the log's "only new lines" merge wants (node.c) */
	if (rx->set.n_refusals)
		qsort(rx->set.refusals, rx->set.n_refusals,
		      sizeof(*rx->set.refusals), refusal_cmp);
	*out = rx->set;
	*gen = rx->gen;
	memset(&rx->set, 0, sizeof(rx->set));
	k8s_node_rx_reset(rx);
	return 1;
out:
	if (r)
		k8s_node_rx_reset(rx);
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
