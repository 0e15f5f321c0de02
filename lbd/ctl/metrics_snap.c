// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The metrics snapshot: building, encoding, checking (metrics_snap.h). */
#include "metrics_snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct lbd_metrics_rec *metrics_snap_add(struct lbd_metrics_snap *s,
					 unsigned int type)
{
	struct lbd_metrics_rec *r;

	if (s->err)
		return NULL;
	if (s->h.n_recs == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;

		if (s->cap >= LBD_MET_MAX_RECS) {
			s->err = -E2BIG;
			return NULL;
		}
		r = realloc(s->rec, nc * sizeof(*r));
		if (!r) {
			s->err = -ENOMEM;
			return NULL;
		}
		s->rec = r;
		s->cap = nc;
	}
	r = &s->rec[s->h.n_recs++];
	memset(r, 0, sizeof(*r));
	r->type = (__u8)type;
	return r;
}

void metrics_snap_free(struct lbd_metrics_snap *s)
{
	free(s->rec);
	s->rec = NULL;
	s->cap = 0;
	s->h.n_recs = 0;
}

void metrics_str(char *dst, size_t n, const char *src)
{
	size_t l = src ? strnlen(src, n - 1) : 0;

	if (l)
		memcpy(dst, src, l);
	dst[l] = '\0';
}

/* A record's size on the wire after its header; 0: no such type. */
static size_t rec_size(unsigned int type)
{
	switch (type) {
	case LBD_MET_REASON:
		return sizeof(struct lbd_met_reason);
	case LBD_MET_SERVICE:
		return sizeof(struct lbd_met_service);
	case LBD_MET_BACKEND:
		return sizeof(struct lbd_met_backend);
	case LBD_MET_VIP:
		return sizeof(struct lbd_met_vip);
	case LBD_MET_CONN:
		return sizeof(struct lbd_met_conn);
	case LBD_MET_K8S_REFUSAL:
		return sizeof(struct lbd_met_refusal);
	case LBD_MET_PROC:
		return sizeof(struct lbd_met_proc);
	case LBD_MET_NODE_SOCKET:
	case LBD_MET_NODE_TC:
	case LBD_MET_NODE_NIC:
		return sizeof(struct lbd_met_node_socket);
	}
	return 0;
}

int metrics_snap_encode(const struct lbd_metrics_snap *s, void **buf,
			size_t *len)
{
	size_t n = sizeof(s->h), i;
	char *p, *q;

	if (s->err)
		return s->err;
	for (i = 0; i < s->h.n_recs; i++)
		n += sizeof(struct lbd_met_rec_hdr) + rec_size(s->rec[i].type);
	p = malloc(n);
	if (!p)
		return -ENOMEM;
	memcpy(p, &s->h, sizeof(s->h));
	q = p + sizeof(s->h);
	for (i = 0; i < s->h.n_recs; i++) {
		struct lbd_met_rec_hdr h = { .type = s->rec[i].type };
		size_t rs = rec_size(h.type);

		memcpy(q, &h, sizeof(h));
		memcpy(q + sizeof(h), &s->rec[i].u, rs);
		q += sizeof(h) + rs;
	}
	*buf = p;
	*len = n;
	return 0;
}

#define STR_OK(f) msg_str_ok(f, sizeof(f))

static bool head_ok(const struct lbd_metrics_head *h)
{
	__u32 i;

	if (!STR_OK(h->version) || !STR_OK(h->role) || !STR_OK(h->interface) ||
	    !STR_OK(h->mode) || !STR_OK(h->serving) ||
	    h->k8s_n_res > LBD_MET_K8S_RESOURCES)
		return false;
	for (i = 0; i < h->k8s_n_res; i++)
		if (!STR_OK(h->k8s_res[i].name))
			return false;
	return true;
}

static bool rec_ok(const struct lbd_metrics_rec *r)
{
	switch (r->type) {
	case LBD_MET_REASON:
		return STR_OK(r->u.reason.reason) && STR_OK(r->u.reason.kind);
	case LBD_MET_SERVICE:
		return STR_OK(r->u.service.name) && STR_OK(r->u.service.vip) &&
		       STR_OK(r->u.service.protocol) &&
		       STR_OK(r->u.service.forwarding) &&
		       STR_OK(r->u.service.source);
	case LBD_MET_BACKEND:
		return STR_OK(r->u.backend.backend) &&
		       STR_OK(r->u.backend.state);
	case LBD_MET_VIP:
		return STR_OK(r->u.vip.vip);
	case LBD_MET_CONN:
		return STR_OK(r->u.conn.address);
	case LBD_MET_K8S_REFUSAL:
		return STR_OK(r->u.refusal.reason);
	case LBD_MET_PROC:
		return STR_OK(r->u.proc.name);
	case LBD_MET_NODE_SOCKET:
	case LBD_MET_NODE_TC:
	case LBD_MET_NODE_NIC:
		return STR_OK(r->u.node_socket.reason);
	}
	return false;
}

int metrics_snap_decode(const void *buf, size_t len,
			struct lbd_metrics_snap *out)
{
	const char *p = (const char *)buf + sizeof(struct lbd_metrics_head);
	const char *end = (const char *)buf + len;
	__u32 i, backends = 0;
	struct lbd_metrics_head h;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	/* every record takes a header and 40 bytes at least: n_recs that
	 * the length cannot hold is refused before anything is allocated */
	if (h.n_recs > LBD_MET_MAX_RECS ||
	    h.n_recs > (len - sizeof(h)) / (sizeof(struct lbd_met_rec_hdr) +
					    sizeof(struct lbd_met_refusal)) ||
	    !head_ok(&h))
		return -EBADMSG;
	out->rec = calloc(h.n_recs ? h.n_recs : 1, sizeof(*out->rec));
	if (!out->rec)
		return -ENOMEM;
	for (i = 0; i < h.n_recs; i++) {
		struct lbd_metrics_rec *r = &out->rec[i];
		struct lbd_met_rec_hdr rh;
		size_t rs;

		if ((size_t)(end - p) < sizeof(rh))
			goto bad;
		memcpy(&rh, p, sizeof(rh));
		rs = rec_size(rh.type);
		if (!rs || (size_t)(end - p) - sizeof(rh) < rs)
			goto bad;
		r->type = rh.type;
		memcpy(&r->u, p + sizeof(rh), rs);
		p += sizeof(rh) + rs;
		if (!rec_ok(r))
			goto bad;
		/* a service's backends follow it, as many as it says */
		if (r->type == LBD_MET_BACKEND) {
			if (!backends)
				goto bad;
			backends--;
		} else if (backends) {
			goto bad;
		}
		if (r->type == LBD_MET_SERVICE)
			backends = r->u.service.n_backends;
	}
	if (backends || p != end)
		goto bad;
	out->h = h;
	out->cap = h.n_recs;
	return 0;
bad:
	free(out->rec);
	out->rec = NULL;
	return -EBADMSG;
}
