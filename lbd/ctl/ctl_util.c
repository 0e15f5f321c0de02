// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Helpers of the control handlers: names of things, the normalised
 * arguments, the backends by id, the live flows per backend. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_int.h"
#include "ctwalk.h"

const char *const ctl_reason_labels[] = {
#define LBD_REASON_LABEL(e, label, desc) label,
	LBD_REASONS(LBD_REASON_LABEL)
#undef LBD_REASON_LABEL
};

const char *const ctl_reason_descs[] = {
#define LBD_REASON_DESC(e, label, desc) desc,
	LBD_REASONS(LBD_REASON_DESC)
#undef LBD_REASON_DESC
};

const char *const ctl_reason_enums[] = {
#define LBD_REASON_NAME(e, label, desc) #e,
	LBD_REASONS(LBD_REASON_NAME)
#undef LBD_REASON_NAME
};

/* What a reason counts, from its name in the shared header: drops,
 * passes to the kernel, events, or forwarded packets. */
const char *ctl_reason_kind(int r)
{
	const char *e = ctl_reason_enums[r];

	if (strstr(e, "_DROP_"))
		return "drop";
	if (!strncmp(e, "LBD_PASS_", 9))
		return "pass";
	if (!strncmp(e, "LBD_EV_", 7))
		return "event";
	return "forward";
}

const char *ctl_addr_str(__u8 family, const union lbd_addr *a, char *buf,
			 size_t len)
{
	return inet_ntop(family == LBD_AF_INET ? AF_INET : AF_INET6, a, buf,
			 (socklen_t)len);
}

/* "addr:port", "[addr6]:port" */
const char *ctl_hostport_str(__u8 family, const union lbd_addr *a, __u16 port,
			     char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	ctl_addr_str(family, a, s, sizeof(s));
	snprintf(buf, len, family == LBD_AF_INET6 ? "[%s]:%u" : "%s:%u", s,
		 port);
	return buf;
}

const char *ctl_be_label(const struct st_backend *b, char *buf, size_t len)
{
	return ctl_hostport_str(b->addr.family, &b->addr.addr, b->port, buf,
				len);
}

const char *ctl_proto_str(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return "other";
}

const char *ctl_be_state_str(__u8 s)
{
	return s == LBD_BE_ACTIVE   ? "active" :
	       s == LBD_BE_DRAINING ? "draining" :
	       s == LBD_BE_DOWN	    ? "down" :
				      "unused";
}

void ctl_info_get(const struct ctl_ctx *x, struct ctl_info *out)
{
	memset(out, 0, sizeof(*out));
	if (x->info)
		x->info(x->arg, out);
}

double ctl_uptime_s(const struct ctl_info *in)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - in->started.tv_sec) +
	       (now.tv_nsec - in->started.tv_nsec) / 1e9;
}

double ctl_start_time_s(const struct ctl_info *in)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + now.tv_nsec / 1e9 - ctl_uptime_s(in);
}

bool ctl_hp_matches(const struct lbd_msg_addr *hp, __u8 family,
		    const union lbd_addr *a, __u16 port)
{
	if (!hp->family)
		return true;
	if (hp->family != family || memcmp(&hp->addr, a, sizeof(*a)))
		return false;
	return !hp->port || hp->port == port;
}

/* -- conntrack ------------------------------------------------------------- */

struct be_ref *ctl_be_index(const struct ctl_ctx *x)
{
	struct be_ref *idx = calloc(x->st->max_backends, sizeof(*idx));
	size_t i, j;

	if (!idx)
		return NULL;
	for (i = 0; i < x->st->n_svc; i++)
		for (j = 0; j < x->st->svc[i].n_be; j++) {
			const struct st_backend *b = &x->st->svc[i].be[j];

			if (b->id < x->st->max_backends) {
				idx[b->id].s = &x->st->svc[i];
				idx[b->id].b = b;
			}
		}
	return idx;
}

/* The backend an entry names, if it still does (same generation). */
const struct be_ref *ctl_ct_backend(const struct be_ref *idx, __u32 max,
				    const struct lbd_ct *v)
{
	if (v->backend_id >= max || !idx[v->backend_id].b ||
	    idx[v->backend_id].b->gen != v->backend_gen)
		return NULL;
	return &idx[v->backend_id];
}

static void count_one(void *arg, const struct dp_ct_flow *f)
{
	struct flows_count *c = arg;
	int fam = f->family == LBD_AF_INET6;

	c->entries[fam]++;
	if (!dp_ct_live(ctl_dp(c->x), f->proto, &f->v, c->now))
		return;
	c->live[fam]++;
	if (c->per_be && f->v.backend_id < c->x->st->max_backends)
		c->per_be[f->v.backend_id]++;
}

/* Live conntrack entries per backend id (expired ones not counted); an
 * entry left by a previous holder of an id is not counted either. */
int ctl_count_flows(struct ctl_ctx *x, struct flows_count *c)
{
	memset(c, 0, sizeof(*c));
	c->x = x;
	c->now = dp_ct_now();
	c->per_be = calloc(x->st->max_backends, sizeof(*c->per_be));
	if (!c->per_be)
		return -ENOMEM;
	return dp_ct_walk(ctl_dp(x), count_one, c);
}
