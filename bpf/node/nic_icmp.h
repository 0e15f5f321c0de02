/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about the NIC path's flows (nic.bpf.c, nic.h), translated
 * as the flow is (icmp.h), at the NIC:
 *
 *   an error about a SNATed packet (node:SNAT port -> endpoint on another
 *     node: a router's fragmentation needed, the endpoint's port
 *     unreachable) finds the flow's reverse entry and goes to the client,
 *     about the packet it sent (client -> Service address); from the
 *     Service address when the endpoint sent it. Path MTU discovery
 *     through the SNAT works (RFC 5508 section 4, as the LB role's SNAT);
 *   an error the client sends about a reply it got (Service address ->
 *     client) finds the forward entry and goes to the endpoint, about the
 *     packet it sent: to the client's address, or the node's and the SNAT
 *     port, from which the error then comes too.
 *
 * Translated errors are passed to the kernel, which forwards them as the
 * flows' packets. Errors about a local endpoint's packets come out of the
 * pod interface: the tc path's (nat_icmp.h).
 */
#ifndef LBD_NODE_NIC_ICMP_H
#define LBD_NODE_NIC_ICMP_H

#include "icmp.h"
#include "nic.h"

/* The quoted packet q as the entry n's flow sent it (its addresses and
 * ports the other way round), and the error to n's sender. */
static __always_inline void nic_icmp_from(struct node_icmp_scratch *s,
					  const struct lbd_node_nic_nat *n)
{
	s->in.saddr = n->daddr;
	s->in.sport = n->dport;
	s->in.daddr = n->saddr;
	s->in.dport = n->sport;
	s->out.daddr = n->daddr;
	s->out.set_daddr = true;
}

/* An ICMP error p at a NIC: the verdict. An error about no flow passes
 * untouched. A subprogram: the cold path, its stack apart. */
static __noinline int nic_icmp(struct xdp_md *ctx, struct lbd_pkt *p)
{
	struct node_icmp_scratch *s = node_icmp_scratch();
	const struct lbd_node_nic_nat *n;
	int r;

	if (!s)
		return XDP_PASS;
	r = node_icmp_quote(ctx, p, &s->q);
	if (r == NODE_ICMP_NONE)
		return XDP_PASS;
	n = NULL;
	if (nic_snat_port(s->q.sport)) {
		node_icmp_key(&s->k, &s->q, LBD_NODE_NAT_REV);
		n = bpf_map_lookup_elem(&lbd_node_nic_nat, &s->k);
	}
	if (n && (n->flags & LBD_NODE_NIC_F_SNAT)) {
		/* q: node:port -> endpoint, as the client sent it */
		nic_icmp_from(s, n);
		if (addr_eq(&p->saddr, &s->q.daddr)) {
			s->out.saddr = n->saddr;
			s->out.set_saddr = true;
		}
	} else {
		node_icmp_key(&s->k, &s->q, LBD_NODE_NAT_FWD);
		n = bpf_map_lookup_elem(&lbd_node_nic_nat, &s->k);
		if (!n)
			return XDP_PASS;
		/* q: Service -> client, as the endpoint sent it */
		nic_icmp_from(s, n);
		if (n->flags & LBD_NODE_NIC_F_SNAT) {
			s->out.saddr = n->saddr;
			s->out.set_saddr = true;
		}
	}
	s->in.set_saddr = s->in.set_sport = true;
	s->in.set_daddr = s->in.set_dport = true;
	if (r == NODE_ICMP_SHORT)
		r = LBD_NODE_NIC_ICMP_MALFORMED;
	else if (node_icmp_rewrite(ctx, p, &s->q, &s->in, &s->out))
		r = LBD_NODE_NIC_REWRITE_FAILED;
	else
		r = LBD_NODE_NIC_ICMP_XLATED;
	nic_count(r);
	return r == LBD_NODE_NIC_ICMP_XLATED ? XDP_PASS : XDP_DROP;
}

#endif /* LBD_NODE_NIC_ICMP_H */
