/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP half of the context abstraction (ctx.h): shared code written
 * against struct lbd_ctx is compiled for struct xdp_md. An XDP entry file
 * includes this before the shared headers that use lbd_ctx (encap.h).
 */
#ifndef LBD_BPF_CTX_XDP_H
#define LBD_BPF_CTX_XDP_H

#include "lib/parse.h"

#define lbd_ctx xdp_md

/* The interface the frame arrived on: where a FIB lookup starts
 * (lib/fib.h) and where XDP_TX sends it back out. */
#define ctx_ifindex(ctx) ((ctx)->ingress_ifindex)

/* Verdicts: the packet goes on into the stack, or is dropped. */
#define CTX_ACT_OK XDP_PASS
#define CTX_ACT_DROP XDP_DROP

/*
 * Makes room for hdr_len bytes of headers in front of the IP header of
 * the frame p describes: Ethernet padding after the IP packet goes, then
 * the received L2 header (VLAN tags included) is replaced. flags are the
 * skb's encapsulation flags, which a frame does not record.
 */
static __always_inline int ctx_encap_room(struct xdp_md *ctx,
					  const struct lbd_pkt *p,
					  __u16 hdr_len, __u64 flags)
{
	int excess = (int)ctx_len(ctx) - (int)(p->l3_off + p->ip_len);

	(void)flags;
	if (excess > 0 && bpf_xdp_adjust_tail(ctx, -excess))
		return -1;
	if (bpf_xdp_adjust_head(ctx, (int)p->l3_off - (int)hdr_len))
		return -1;
	return 0;
}

#endif /* LBD_BPF_CTX_XDP_H */
