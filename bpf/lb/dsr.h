/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Forwarding by direct server return: next hop, MTU, encapsulation. */
#ifndef LBD_LB_DSR_H
#define LBD_LB_DSR_H

#include "lib/parse.h"
#include "encap_src.h"
#include "translate.h"
#include "nexthop.h"
#include "icmp.h"
#include "select.h"
#include "stats.h"

static __always_inline __u16 encap_overhead(__u8 fwd, __u8 be_family,
					    bool sc)
{
	if (fwd == LBD_FWD_GENEVE) {
		if (sc)
			return be_family == LBD_AF_INET
				       ? LBD_GENEVE_SC4_OVERHEAD
				       : LBD_GENEVE_SC6_OVERHEAD;
		return be_family == LBD_AF_INET ? LBD_GENEVE4_OVERHEAD
						: LBD_GENEVE6_OVERHEAD;
	}
	if (sc)
		return be_family == LBD_AF_INET ? LBD_IPSC4_OVERHEAD
						: LBD_IPSC6_OVERHEAD;
	return be_family == LBD_AF_INET ? LBD_IPIP4_OVERHEAD
					: LBD_IPIP6_OVERHEAD;
}

/*
 * Encapsulates the packet p to the backend c chose (fwd: LBD_FWD_IPIP or
 * LBD_FWD_GENEVE) and transmits it. q is the flow (for an ICMP error, the
 * quoted one; else p itself): its destination is the VIP and service port
 * the Geneve option names, and its hash is the flow's entropy. With sc
 * (flow state on the backends, docs/flow-state.md) it carries lbd's
 * option naming the slot's previous owner.
 */
static __always_inline int dsr_forward(struct xdp_md *ctx,
				       struct lbd_pkt *p,
				       const struct lbd_pkt *q, __u8 fwd,
				       const struct lbd_choice *c,
				       const struct lbd_sc *sc)
{
	const struct lbd_backend *be = c->be;
	__u16 overhead = encap_overhead(fwd, be->family, sc);
	const struct lbd_nh *nh = NULL;
	union lbd_addr src = {};
	__u32 hash;
	int rc;

	if (be->family != p->family &&
	    (fwd == LBD_FWD_GENEVE || p->family == LBD_AF_INET6))
		return verdict(XDP_DROP, LBD_DROP_BACKEND_FAMILY,
			       ctx_len(ctx));

	hash = flow_hash(q);
	encap_source(be->family, hash, &src);
	rc = nexthop_cached(ctx, c->id, be, &src, c->now, &nh);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return verdict(XDP_PASS, LBD_PASS_NO_NEIGH, ctx_len(ctx));
	if (rc != BPF_FIB_LKUP_RET_SUCCESS || !nh)
		return verdict(XDP_DROP, LBD_DROP_NO_ROUTE, ctx_len(ctx));
	if (p->ip_len + overhead > nh->mtu) {
		/* errors about errors are not sent (RFC 1122 3.2.2) */
		if (p != q)
			return verdict(XDP_DROP, LBD_DROP_TOOBIG,
				       ctx_len(ctx));
		return send_toobig(ctx, p, nh->mtu - overhead);
	}

	if (fwd == LBD_FWD_GENEVE) {
		if (translate_dst(ctx, p, be))
			return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
		if (p != q && icmp_translate_quote(ctx, p, q, be))
			return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
		rc = encap_geneve(ctx, p, &q->daddr, q->dport, &src, &be->addr,
				  nh, hash, sc);
	} else if (sc) {
		rc = encap_ipsc(ctx, p, &src, be, nh, hash, sc);
	} else {
		rc = encap_ipip(ctx, p, &src, be, nh, hash);
	}
	if (rc)
		return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
	return tx(ctx, nh->ifindex);
}

#endif /* LBD_LB_DSR_H */
