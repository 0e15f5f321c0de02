// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health checks through the datapath: tc egress on the LB host's edge NIC,
 * loaded by lbd beside its XDP program, on the same maps and knobs.
 *
 * lbd's check sockets connect to a VIP and service port, their packets
 * marked LBD_HC_MARK(backend id). This program sends each such packet the
 * way the XDP program sends a client's: encapsulated to that backend (IPIP
 * family, or Geneve with the inner packet translated to the backend's
 * address and port), from the encapsulation source, with the shared
 * encapsulation code (lib/encap.h). The backend's companion
 * decapsulates it and its server answers from the VIP, directly to the LB
 * host's address; the XDP program passes that reply to the kernel (it is
 * not for a VIP). So a check proves the backend's decapsulation and its
 * service on the VIP, not just that the host is up.
 *
 * Unmarked packets (and other marks) pass untouched. A marked packet that
 * cannot be sent as traffic would be is dropped and counted: the check
 * fails, as it should.
 */
#include "lib/common.h"
#include "lib/ctx_skb.h"
#include "lib/parse.h"
#include "maps.h"
#include "stats.h"
#include "select.h"
#include "svc.h"
#include "lib/encap.h"
#include "encap_src.h"
#include "lib/fib.h"
#include "lib/rewrite.h"
#include "lib/pull.h"

/* Headers looked at: IPv6 + TCP with options fit. */
#define LBD_HC_PULL 128

int lbd_hc_egress(struct __sk_buff *skb);

static __always_inline int hc_drop(struct __sk_buff *skb, enum lbd_reason r)
{
	count_reason(r, skb->len);
	return CTX_ACT_DROP;
}

static __always_inline int hc_parse(struct __sk_buff *skb, struct lbd_pkt *p)
{
	if (skb_pull_ip(skb, p, LBD_HC_PULL) ||
	    (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP))
		return -1;
	return parse_l4(ctx_data(skb), ctx_data_end(skb), p) == LBD_OK ? 0 : -1;
}

SEC("tc")
int lbd_hc_egress(struct __sk_buff *skb)
{
	__u32 mark = skb->mark, id = mark & ~LBD_HC_MARK_MASK, hash;
	/* read once here: clang (14) otherwise keeps &skb->ifindex in a
	 * register across calls, a modified ctx pointer the verifier (6.18)
	 * refuses to dereference */
	__u32 ifindex = ctx_ifindex(skb);
	const struct lbd_backend *be;
	struct lbd_backend bcopy;
	union lbd_addr src = {}, vip;
	struct lbd_nh nh = {};
	struct lbd_pkt p = {};
	struct lbd_svc *svc;
	__be16 svc_port;
	bool resolved;
	__u8 fwd;
	int rc;

	if ((mark & LBD_HC_MARK_MASK) != LBD_HC_MARK_TAG)
		return CTX_ACT_OK;
	be = bpf_map_lookup_elem(&lbd_backends, &id);
	if (!be || be->state == LBD_BE_UNUSED)
		return hc_drop(skb, LBD_HC_DROP_BACKEND);
	/* the map entry may change under us; the packet gets one view */
	bcopy = *be;
	if (hc_parse(skb, &p))
		return hc_drop(skb, LBD_HC_DROP_ENCAP);
	svc = svc_lookup(&p, p.dport);
	if (!svc)
		return hc_drop(skb, LBD_HC_DROP_NO_SERVICE);
	fwd = fwd_of(svc, p.proto);
	if (fwd != LBD_FWD_IPIP && fwd != LBD_FWD_GENEVE)
		return hc_drop(skb, LBD_HC_DROP_NO_SERVICE);
	if (bcopy.family != p.family &&
	    (fwd == LBD_FWD_GENEVE || p.family == LBD_AF_INET6))
		return hc_drop(skb, LBD_HC_DROP_ENCAP);

	hash = flow_hash(&p);
	encap_source(bcopy.family, hash, &src);
	/* looked up as the XDP program does, from the interface the packet
	 * leaves by (lbd enables forwarding on it) */
	rc = nexthop_lookup(skb, ifindex, bcopy.family, &src, &bcopy.addr, &nh);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return hc_drop(skb, LBD_HC_DROP_NO_ROUTE);
	resolved = rc == BPF_FIB_LKUP_RET_SUCCESS;

	vip = p.daddr;
	svc_port = p.dport;
	if (fwd == LBD_FWD_GENEVE) {
		if (skb_rewrite_l4(skb, &p, true, &bcopy.addr, bcopy.port))
			return hc_drop(skb, LBD_HC_DROP_ENCAP);
		rc = encap_geneve(skb, &p, &vip, svc_port, &src, &bcopy.addr,
				  &nh, hash, NULL);
	} else {
		rc = encap_ipip(skb, &p, &src, &bcopy, &nh, hash);
	}
	if (rc)
		return hc_drop(skb, LBD_HC_DROP_ENCAP);
	count_reason(LBD_HC_ENCAP, skb->len);
	/* not a check any more: the redirect below must not bring it back
	 * here, and routing the outer packet owes the mark nothing */
	skb->mark = 0;
	if (resolved) {
		if (nh.ifindex == ifindex)
			return CTX_ACT_OK;
		return bpf_redirect(nh.ifindex, 0);
	}
	/* the next hop is not resolved yet: the kernel resolves it */
	return bpf_redirect_neigh(nh.ifindex, NULL, 0, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
