/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Monitor events to lbd's ring buffer (lbctl monitor). */
#ifndef LBD_LB_MONITOR_H
#define LBD_LB_MONITOR_H

#include "lib/ctx_xdp.h"
#include "lib/parse.h"
#include "maps.h"

static __always_inline void monitor_emit(struct xdp_md *ctx,
					 const struct lbd_pkt *p, __u8 type,
					 __u8 reason, __u32 svc_id,
					 __u32 backend_id)
{
	struct lbd_event *e;

	e = bpf_ringbuf_reserve(&lbd_events, sizeof(*e), 0);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->reason = reason;
	e->family = p->family;
	e->proto = p->proto;
	e->sport = p->sport;
	e->dport = p->dport;
	e->svc_id = svc_id;
	e->backend_id = backend_id;
	e->ifindex = ctx_ifindex(ctx);
	e->len = ctx_len(ctx);
	e->saddr = p->saddr;
	e->daddr = p->daddr;
	bpf_ringbuf_submit(e, 0);
}

/* After a drop: its event, with the reason verdict() kept. */
static __always_inline void monitor_drop(struct xdp_md *ctx,
					 const struct lbd_pkt *p)
{
	__u32 zero = 0, *r = bpf_map_lookup_elem(&lbd_drop_reason, &zero);

	monitor_emit(ctx, p, LBD_EVENT_DROP, r ? (__u8)*r : 0, LBD_NO_ID,
		     LBD_NO_ID);
}

#endif /* LBD_LB_MONITOR_H */
