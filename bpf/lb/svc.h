/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A packet's service, and the forwarding its flows get. */
#ifndef LBD_LB_SVC_H
#define LBD_LB_SVC_H

#include "lib/parse.h"
#include "maps.h"

/* The service of p's destination address and protocol on port. */
static __always_inline struct lbd_svc *svc_lookup(const struct lbd_pkt *p,
						  __be16 port)
{
	if (p->family == LBD_AF_INET) {
		struct lbd_svc_key4 k = {
			.vip = p->daddr.v4,
			.port = port,
			.proto = p->proto,
		};
		return bpf_map_lookup_elem(&lbd_svc4, &k);
	}
	struct lbd_svc_key6 k = {
		.vip = p->daddr,
		.port = port,
		.proto = p->proto,
	};
	return bpf_map_lookup_elem(&lbd_svc6, &k);
}

/* The forwarding of a flow of proto: hybrid services split by protocol,
 * as Cilium's hybrid mode (DSR for TCP, SNAT for the rest). */
static __always_inline __u8 fwd_of(const struct lbd_svc *svc, __u8 proto)
{
	if (svc->fwd == LBD_FWD_HYBRID)
		return proto == IPPROTO_TCP ? svc->dsr : LBD_FWD_SNAT;
	return svc->fwd;
}

#endif /* LBD_LB_SVC_H */
