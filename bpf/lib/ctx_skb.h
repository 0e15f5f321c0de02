/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tc half of the context abstraction (ctx.h): shared code written
 * against struct lbd_ctx is compiled for struct __sk_buff. A tc entry file
 * includes this before the shared headers that use lbd_ctx (encap.h).
 */
#ifndef LBD_BPF_CTX_SKB_H
#define LBD_BPF_CTX_SKB_H

#include <linux/pkt_cls.h>

#include "lib/parse.h"

#define lbd_ctx __sk_buff

/* The device the program runs on: at tc ingress the one the packet
 * arrived on, at tc egress the one it leaves by (where the hc program's
 * FIB lookup starts, lib/fib.h). Entry files read it once into a local
 * (see lib/fib.h). */
#define ctx_ifindex(ctx) ((ctx)->ifindex)

/* Verdicts: the packet goes on (up the stack, or out), or is dropped. */
#define CTX_ACT_OK TC_ACT_OK
#define CTX_ACT_DROP TC_ACT_SHOT

/*
 * Makes room for hdr_len bytes of headers in front of the IP header of
 * the skb p describes; its L2 header (l3_off bytes, untagged on egress)
 * stays at the front, to be rewritten. flags (BPF_F_ADJ_ROOM_ENCAP_*)
 * tell the kernel what the new headers are, so that checksum offload and
 * GSO find the inner packet.
 */
static __always_inline int ctx_encap_room(struct __sk_buff *ctx,
					  const struct lbd_pkt *p,
					  __u16 hdr_len, __u64 flags)
{
	if (bpf_skb_adjust_room(ctx, (__s32)hdr_len - (__s32)p->l3_off,
				BPF_ADJ_ROOM_MAC, flags))
		return -1;
	return 0;
}

#endif /* LBD_BPF_CTX_SKB_H */
