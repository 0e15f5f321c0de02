/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about the tc path's flows (tc.bpf.c, nat.h), translated as
 * the flow is (icmp.h):
 *
 *   an error about a packet a client sent (client -> endpoint: the
 *     endpoint's port unreachable, a router's fragmentation needed or
 *     time exceeded) finds the flow's reverse entry, and goes on as the
 *     endpoint's reply does: its quote to the Service address, its
 *     source too when the endpoint sent it; a pod's socket connected to
 *     the Service then matches it (ECONNREFUSED, a path MTU);
 *   an error a client pod sends about a reply (Service -> client) finds
 *     the forward entry: to the endpoint, about the packet it sent.
 *
 * A hairpin flow's (hairpin.h) goes back into the pod, as its packets.
 */
#ifndef LBD_NODE_NAT_ICMP_H
#define LBD_NODE_NAT_ICMP_H

#include "hairpin.h"
#include "icmp.h"
#include "nat.h"

/*
 * An ICMP error p at a pod interface: at its ingress (from_pod), where
 * both kinds come, or at its egress, where only errors about a client's
 * packets do. The verdict; an error about no flow passes untouched. A
 * subprogram: the cold path, its stack apart from the packets'.
 */
static __noinline int nat_icmp(struct __sk_buff *skb, struct lbd_pkt *p,
			       bool from_pod)
{
	struct node_icmp_scratch *s = node_icmp_scratch();
	const struct lbd_node_nat *e;
	struct lbd_node_nat v;
	int r;

	if (!s)
		return CTX_ACT_OK;
	r = node_icmp_quote(skb, p, &s->q);
	if (r == NODE_ICMP_NONE)
		return CTX_ACT_OK;
	node_icmp_key(&s->k, &s->q, LBD_NODE_NAT_REV);
	e = bpf_map_lookup_elem(&lbd_node_nat, &s->k);
	if (e) {
		/* q: client -> endpoint, as the endpoint's reply */
		v = *e;
		s->in.daddr = v.addr;
		s->in.dport = v.port;
		s->in.set_daddr = s->in.set_dport = true;
		if (addr_eq(&p->saddr, &s->q.daddr)) {
			s->out.saddr = v.addr;
			s->out.set_saddr = true;
		}
		if (v.flags & LBD_NODE_NAT_F_HAIRPIN) {
			/* the client is the endpoint */
			s->in.saddr = s->q.daddr;
			s->in.set_saddr = true;
			s->out.daddr = s->q.daddr;
			s->out.set_daddr = true;
		}
	} else {
		if (!from_pod)
			return CTX_ACT_OK;
		s->k.dir = LBD_NODE_NAT_FWD;
		e = bpf_map_lookup_elem(&lbd_node_nat, &s->k);
		if (!e)
			return CTX_ACT_OK;
		/* q: Service -> client, to the endpoint about what it sent */
		v = *e;
		s->in.saddr = v.addr;
		s->in.sport = v.port;
		s->in.set_saddr = s->in.set_sport = true;
		s->out.daddr = v.addr;
		s->out.set_daddr = true;
		if (v.flags & LBD_NODE_NAT_F_HAIRPIN) {
			nat_hairpin_src(s->q.family, &s->q.saddr, &s->in.daddr);
			s->in.set_daddr = true;
			s->out.saddr = s->in.daddr;
			s->out.set_saddr = true;
		}
		/* a forward entry's ifindex is its backend id */
		v.flags &= ~LBD_NODE_NAT_F_NIC;
	}
	if (r == NODE_ICMP_SHORT)
		r = LBD_NODE_TC_ICMP_MALFORMED;
	else if (node_icmp_rewrite(skb, p, &s->q, &s->in, &s->out))
		r = LBD_NODE_TC_REWRITE_FAILED;
	else
		r = 0;
	if (r) {
		nat_count(r);
		return CTX_ACT_DROP;
	}
	nat_count(LBD_NODE_TC_ICMP_XLATED);
	if (v.flags & LBD_NODE_NAT_F_HAIRPIN)
		return hairpin_redirect(skb);
	/* a flow from outside (nic.bpf.c): out by its NIC, as its replies */
	if (v.flags & LBD_NODE_NAT_F_NIC)
		return bpf_redirect_neigh(v.ifindex, NULL, 0, 0);
	return CTX_ACT_OK;
}

#endif /* LBD_NODE_NAT_ICMP_H */
