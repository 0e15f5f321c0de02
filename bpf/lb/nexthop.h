/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Next hop of an encapsulated packet (the FIB lookup is lib/fib.h's), and
 * the transmit step: XDP_TX when the route leaves by the ingress
 * interface, a devmap redirect when it leaves by another one lbd
 * transmits on. Next hops to backends are cached per CPU for a second
 * (struct lbd_nh): a lookup costs more than the rest of an established
 * flow's path.
 */
#ifndef LBD_LB_NEXTHOP_H
#define LBD_LB_NEXTHOP_H

#include "lib/ctx_xdp.h"
#include "lib/fib.h"
#include "maps.h"
#include "stats.h"

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
		rc = nexthop_lookup(ctx, ctx_ifindex(ctx), be->family, src,
				    &be->addr, nh);
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

	if (ifindex == ctx_ifindex(ctx))
		return verdict(XDP_TX, LBD_FWD_TX, bytes);
	/* one devmap lookup: the helper's own, which returns the low bits
	 * of its flags when ifindex is not a port lbd transmits on */
	if (bpf_redirect_map(&lbd_tx_ports, ifindex, XDP_ABORTED) !=
	    XDP_REDIRECT)
		return verdict(XDP_DROP, LBD_DROP_NO_TX_PORT, bytes);
	count_reason(LBD_FWD_REDIRECT, bytes);
	return XDP_REDIRECT;
}

#endif /* LBD_LB_NEXTHOP_H */
