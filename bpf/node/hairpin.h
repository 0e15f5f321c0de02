/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Hairpin on the tc path: a pod reaching a Service whose endpoint chosen
 * is that same pod (LBD_NODE_NAT_F_HAIRPIN, nat.h). With only the
 * destination changed, the packet would come back into the pod with its
 * own address as source, and the pod would answer it inside itself,
 * where nothing gives the reply the Service address back. So the source
 * becomes the hairpin address too (nat_hairpin_src), which the pod
 * routes out by its interface, as Cilium and kube-proxy (masquerading)
 * do; the reply, to that address, gets the Service address as source and
 * the pod as destination again. Both go straight back into the pod, out
 * by the interface they came in by, with the MAC addresses swapped: up
 * the stack, a packet from the hairpin (or Service) address on the pod's
 * interface would meet reverse-path filtering.
 */
#ifndef LBD_NODE_HAIRPIN_H
#define LBD_NODE_HAIRPIN_H

#include "lib/rewrite.h"
#include "nat.h"

/* Sends the packet at a pod interface's ingress back into the pod. */
static __always_inline int hairpin_redirect(struct __sk_buff *skb)
{
	__u8 mac[12], sw[12];
	int i;

	if (bpf_skb_load_bytes(skb, 0, mac, sizeof(mac)))
		return CTX_ACT_DROP;
#pragma unroll
	for (i = 0; i < 6; i++) {
		sw[i] = mac[6 + i];
		sw[6 + i] = mac[i];
	}
	if (bpf_skb_store_bytes(skb, 0, sw, sizeof(sw), 0))
		return CTX_ACT_DROP;
	return bpf_redirect(skb->ifindex, 0);
}

/* A packet p of a hairpin flow to its endpoint e (the pod itself): from
 * the hairpin address, to e. 0, or -1 when the skb was not rewritten. */
static __always_inline int hairpin_forward(struct __sk_buff *skb,
					   const struct lbd_pkt *p,
					   const struct lbd_node_nat *e)
{
	union lbd_addr h;

	nat_hairpin_src(p->family, &p->daddr, &h);
	if (skb_rewrite_l4(skb, p, true, &e->addr, e->port) ||
	    skb_rewrite_l4(skb, p, false, &h, p->sport))
		return -1;
	return 0;
}

/* The pod's reply p in a hairpin flow whose reverse entry is v: from the
 * Service address, to the pod (its source) again. */
static __always_inline int hairpin_reply(struct __sk_buff *skb,
					 const struct lbd_pkt *p,
					 const struct lbd_node_nat *v)
{
	union lbd_addr pod = p->saddr;

	if (skb_rewrite_l4(skb, p, false, &v->addr, v->port) ||
	    skb_rewrite_l4(skb, p, true, &pod, p->dport))
		return -1;
	return 0;
}

#endif /* LBD_NODE_HAIRPIN_H */
