/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Replies of Geneve-forwarded flows (tc egress on the backend): their
 * source, the backend's address and port, becomes the VIP and service
 * port again, so the client sees the address it connected to; the reply
 * then leaves by the backend's own route, not through the LB.
 * Rewritten with the skb helpers (rewrite.h).
 */
#ifndef LBD_BACKEND_RESTORE_H
#define LBD_BACKEND_RESTORE_H

#include "lib/ctx.h"
#include "lib/parse.h"
#include "maps.h"
#include "lib/rewrite.h"

static __always_inline int restore_reply(struct __sk_buff *skb,
					 const struct lbd_pkt *p)
{
	struct lbd_gnv_key key = {
		.client = p->daddr,
		.backend = p->saddr,
		.client_port = p->dport,
		.backend_port = p->sport,
		.proto = p->proto,
		.family = p->family,
	};
	struct lbd_gnv_flow *f, copy;
	__u32 now = be_now();

	f = bpf_map_lookup_elem(&lbd_be_flows, &key);
	if (!f)
		return TC_ACT_OK;
	if (lbd_idle_over(now, f->last_seen, be_knobs.flow_timeout)) {
		bpf_map_delete_elem(&lbd_be_flows, &key);
		return TC_ACT_OK;
	}
	if (f->last_seen != now)
		f->last_seen = now;
	copy = *f;
	if (skb_rewrite_l4(skb, p, false, &copy.vip, copy.port))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_DECAP, skb->len);
	return be_verdict(TC_ACT_OK, LBD_BE_REPLY_RESTORED, skb->len);
}

#endif /* LBD_BACKEND_RESTORE_H */
