/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Next hop of an encapsulated packet from the kernel's FIB, and the
 * transmit step: XDP_TX when the route leaves by the ingress interface,
 * a devmap redirect when it leaves by another one lbd transmits on.
 *
 * The lookup is an input lookup from the ingress interface, so the kernel
 * requires forwarding enabled on it (lbd sets it). tot_len makes the
 * kernel check the route MTU: BPF_FIB_LKUP_RET_FRAG_NEEDED then carries
 * the MTU in mtu_result. Next hops to backends are cached per CPU for a
 * second (struct lbd_nh): a lookup costs more than the rest of an
 * established flow's path.
 */
#ifndef LBD_LB_FIB_H
#define LBD_LB_FIB_H

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

/*
 * The next hop to dst from src by the FIB, into *nh. Two lookups: the
 * kernel tells a route's MTU only when a length exceeds it, and then
 * leaves the addresses out. A BPF_FIB_LKUP_RET_* result.
 */
static __always_inline int nexthop_lookup(struct xdp_md *ctx, __u8 family,
					  const union lbd_addr *src,
					  const union lbd_addr *dst,
					  struct lbd_nh *nh)
{
	struct bpf_fib_lookup fib;
	__u32 mtu = 0xffff;
	int rc;

	rc = fib_nexthop(ctx, family, src, dst, 0xffff, &fib);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		mtu = fib.mtu_result;
		rc = fib_nexthop(ctx, family, src, dst, 0, &fib);
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	nh->ifindex = fib.ifindex;
	nh->mtu = mtu;
	__builtin_memcpy(nh->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(nh->smac, fib.smac, ETH_ALEN);
	return rc;
}

/*
 * The next hop to backend id: from this CPU's cache when it was resolved
 * in the current second for this generation of the backend, else from the
 * FIB. A route or neighbour change thus takes effect within a second. The
 * route is looked up from src but cached per backend: lbd expects no
 * source routing towards backends. *out only on success.
 */
static __always_inline int nexthop_cached(struct xdp_md *ctx, __u32 id,
					  const struct lbd_backend *be,
					  const union lbd_addr *src, __u32 now,
					  const struct lbd_nh **out)
{
	struct lbd_nh *nh;
	int rc;

	nh = bpf_map_lookup_elem(&lbd_nexthop, &id);
	if (!nh)
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	if (nh->stamp != now || nh->gen != be->gen) {
		nh->stamp = 0;
		rc = nexthop_lookup(ctx, be->family, src, &be->addr, nh);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return rc;
		nh->gen = be->gen;
		nh->stamp = now;
	}
	*out = nh;
	return BPF_FIB_LKUP_RET_SUCCESS;
}

static __always_inline int tx(struct xdp_md *ctx, __u32 ifindex)
{
	__u32 bytes = ctx_len(ctx);

	if (ifindex == ctx->ingress_ifindex)
		return verdict(XDP_TX, LBD_FWD_TX, bytes);
	/* one devmap lookup: the helper's own, which returns the low bits
	 * of its flags when ifindex is not a port lbd transmits on */
	if (bpf_redirect_map(&lbd_tx_ports, ifindex, XDP_ABORTED) !=
	    XDP_REDIRECT)
		return verdict(XDP_DROP, LBD_DROP_NO_TX_PORT, bytes);
	count_reason(LBD_FWD_REDIRECT, bytes);
	return XDP_REDIRECT;
}

#endif /* LBD_LB_FIB_H */
