/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * "Fragmentation needed" (RFC 792, RFC 1191) and "packet too big"
 * (RFC 4443 3.2) for the NIC path's DSR flows: a client's packet that the
 * route towards the endpoint's node would not take once in Geneve
 * (nic.h's nic_dsr_send) is answered from the Service address the client
 * asked for, with the MTU it may send (the route's less the
 * encapsulation), so that its path MTU discovery works through DSR as
 * through the LB role (lb/dsr.h). Passed on, the kernel would send its
 * own error to the outer source, this node, where nobody learns from it.
 *
 * The error replaces the packet and leaves by the NIC it came in by, back
 * to the L2 sender with the MACs swapped (XDP_TX, lib/icmp_err.h, the LB
 * role's code), rate-limited by a per-CPU token bucket of its own
 * (nic_knobs.icmp_rate, icmp_burst).
 *
 * An IPv4 packet without DF is dropped, not fragmented: XDP sends one
 * packet for one, and outer fragments (the kernel would make them from a
 * Geneve packet without DF) are dropped by the endpoint node's companion,
 * which decapsulates at tc ingress, before the kernel reassembles
 * (bpf/backend). Nor is an error sent whose MTU is below the minimum of
 * its family (68, RFC 791; 1280, RFC 8200 5): the client could not use
 * it.
 */
#ifndef LBD_NODE_NIC_PTB_H
#define LBD_NODE_NIC_PTB_H

#include "lib/icmp_err.h"
#include "nic.h"

#define NIC_IPV4_MIN_MTU 68

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbd_ratelimit);
} lbd_node_nic_icmp_rl SEC(".maps");

/*
 * The packet p of DSR flow e is too big for e's route: the verdict, an
 * error to the client or a drop, counted. A subprogram: the cold path,
 * its stack apart.
 */
static __noinline int nic_dsr_too_big(struct xdp_md *ctx, struct lbd_pkt *p,
				      const struct lbd_node_nic_nat *e)
{
	__u32 overhead = p->family == LBD_AF_INET ? LBD_GENEVE4_OVERHEAD :
						    LBD_GENEVE6_OVERHEAD;
	__u32 mtu = e->mtu > overhead ? e->mtu - overhead : 0;
	__u32 zero = 0;
	__u8 type, code;

	if (p->family == LBD_AF_INET) {
		if (!(p->frag & LBD_IP_DF) || mtu < NIC_IPV4_MIN_MTU)
			goto drop;
		type = LBD_ICMP_DEST_UNREACH;
		code = LBD_ICMP_FRAG_NEEDED;
	} else {
		if (mtu < LBD_IPV6_MIN_MTU)
			goto drop;
		type = LBD_ICMP6_PKT_TOOBIG;
		code = 0;
	}
	if (!icmp_source_ok(p))
		goto drop;
	if (!icmp_rl_take(bpf_map_lookup_elem(&lbd_node_nic_icmp_rl, &zero),
			  nic_knobs.icmp_rate, nic_knobs.icmp_burst)) {
		nic_count(LBD_NODE_NIC_ICMP_RATE_LIMITED);
		return XDP_DROP;
	}
	if (lbd_icmp_error(ctx, p, type, code, mtu) != XDP_TX)
		goto drop;
	nic_count(LBD_NODE_NIC_DSR_TOO_BIG_ICMP);
	return XDP_TX;
drop:
	nic_count(LBD_NODE_NIC_DSR_TOO_BIG);
	return XDP_DROP;
}

#endif /* LBD_NODE_NIC_PTB_H */
