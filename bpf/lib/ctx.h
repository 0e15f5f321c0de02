/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The context abstraction shared by XDP and tc code. struct xdp_md and
 * struct __sk_buff both expose data and data_end as __u32 fields, so code
 * written against these macros compiles for either context. What differs
 * has one name in both halves, ctx_xdp.h and ctx_skb.h, which an entry
 * file includes first: struct lbd_ctx, ctx_encap_room (growing the head),
 * ctx_ifindex (the interface of a FIB lookup) and the verdicts
 * CTX_ACT_OK and CTX_ACT_DROP. Redirecting stays in the entry files.
 */
#ifndef LBD_BPF_CTX_H
#define LBD_BPF_CTX_H

#define ctx_data(ctx) ((void *)(long)(ctx)->data)
#define ctx_data_end(ctx) ((void *)(long)(ctx)->data_end)
#define ctx_len(ctx) ((__u32)((ctx)->data_end - (ctx)->data))

/*
 * A pointer at a variable offset into the packet. The offset is masked to
 * 12 bits: the verifier (seen on 6.18) tracks the bounds of a packet
 * pointer only while its variable offset plus constant offset stays within
 * 0xffff, which a bare __u16 offset already reaches. The linear part of an
 * XDP frame or an skb head that lbd parses fits in a page, so the mask
 * never changes an offset that passed a bounds check.
 */
#define LBD_PKT_OFF_MASK 0xfff
#define pkt_at(data, off) ((void *)(data) + ((off) & LBD_PKT_OFF_MASK))

/* A pointer to len bytes at off, or NULL when the packet is shorter. */
#define ctx_ptr(ctx, off, len)                                                \
	({                                                                    \
		void *__p = ctx_data(ctx) + (off);                            \
		__p + (len) > ctx_data_end(ctx) ? (void *)0 : __p;            \
	})

#endif /* LBD_BPF_CTX_H */
