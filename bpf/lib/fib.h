/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Next hops from the kernel's FIB, one implementation for the XDP program
 * and the tc health-check program (bpf_fib_lookup takes either context).
 *
 * The lookup is an input lookup from ifindex (ctx_ifindex: the XDP
 * program's ingress interface, the hc program's egress one), so the
 * kernel requires forwarding enabled on it (lbd sets it). tot_len makes
 * the kernel check the route MTU: BPF_FIB_LKUP_RET_FRAG_NEEDED then
 * carries the MTU in mtu_result. ifindex is a parameter, not read from
 * ctx here: on an skb, clang (14) may keep &skb->ifindex in a register
 * across calls, a modified ctx pointer the verifier (6.18) refuses to
 * dereference, so the tc program reads it once at its start.
 */
#ifndef LBD_BPF_FIB_H
#define LBD_BPF_FIB_H

#include "lib/common.h"

/* struct bpf_fib_lookup's family: the kernel's AF_*, not LBD_AF_*. */
#define LBD_FIB_AF_INET 2
#define LBD_FIB_AF_INET6 10

static __always_inline int fib_nexthop(void *ctx, __u32 ifindex, __u8 family,
				       const union lbd_addr *src,
				       const union lbd_addr *dst, __u16 tot_len,
				       struct bpf_fib_lookup *fib)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
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

/*
 * The next hop to dst from src by the FIB, into *nh. Two lookups: the
 * kernel tells a route's MTU only when a length exceeds it, and then
 * leaves the addresses out. A BPF_FIB_LKUP_RET_* result: with SUCCESS
 * *nh is whole; with NO_NEIGH only nh->ifindex is right, the interface the
 * route leaves by, where the kernel can resolve the neighbour
 * (bpf_redirect_neigh); with any other, nh->ifindex is not to be used.
 */
static __always_inline int nexthop_lookup(void *ctx, __u32 ifindex, __u8 family,
					  const union lbd_addr *src,
					  const union lbd_addr *dst,
					  struct lbd_nh *nh)
{
	struct bpf_fib_lookup fib;
	__u32 mtu = 0xffff;
	int rc;

	rc = fib_nexthop(ctx, ifindex, family, src, dst, 0xffff, &fib);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		mtu = fib.mtu_result;
		rc = fib_nexthop(ctx, ifindex, family, src, dst, 0, &fib);
	}
	/* also for NO_NEIGH, which the kernel returns with it filled */
	nh->ifindex = fib.ifindex;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	nh->mtu = mtu;
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	return rc;
}

#endif /* LBD_BPF_FIB_H */
