/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Next hop of an encapsulated packet from the kernel's FIB, and the
 * transmit step: XDP_TX when the route leaves by the ingress interface,
 * a devmap redirect when it leaves by another one lbd transmits on.
 *
 * The lookup is an input lookup from the ingress interface, so the kernel
 * requires forwarding enabled on it (lbd sets it). tot_len makes the
 * kernel check the route MTU: BPF_FIB_LKUP_RET_FRAG_NEEDED then carries
 * the MTU in mtu_result.
 */
#ifndef LBD_XDP_FIB_H
#define LBD_XDP_FIB_H

#include "maps.h"
#include "stats.h"

#define LBD_FIB_AF_INET 2
#define LBD_FIB_AF_INET6 10

static __always_inline int fib_nexthop(struct xdp_md *ctx, __u8 family,
				       const union lbd_addr *src,
				       const union lbd_addr *dst,
				       __u16 tot_len,
				       struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ctx->ingress_ifindex;
	fib->tot_len = tot_len;
	if (family == LBD_AF_INET) {
		fib->family = LBD_FIB_AF_INET;
		fib->ipv4_src = src->v4;
		fib->ipv4_dst = dst->v4;
	} else {
		fib->family = LBD_FIB_AF_INET6;
		__builtin_memcpy(fib->ipv6_src, src->v6, 16);
		__builtin_memcpy(fib->ipv6_dst, dst->v6, 16);
	}
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

static __always_inline int tx(struct xdp_md *ctx, __u32 ifindex)
{
	__u32 bytes = ctx_len(ctx);

	if (ifindex == ctx->ingress_ifindex)
		return verdict(XDP_TX, LBD_FWD_TX, bytes);
	if (!bpf_map_lookup_elem(&lbd_tx_ports, &ifindex))
		return verdict(XDP_DROP, LBD_DROP_NO_TX_PORT, bytes);
	count_reason(LBD_FWD_REDIRECT, bytes);
	return bpf_redirect_map(&lbd_tx_ports, ifindex, XDP_DROP);
}

#endif /* LBD_XDP_FIB_H */
