// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node role's per-packet path: tc programs on the host side of the
 * pod interfaces (lbd/dp/node_tc.c attaches them), for the traffic the
 * socket programs do not see (a pod's, with socket_lb = "host-only").
 *
 *   ingress (from the pod): a packet to a Service address gets its flow's
 *     endpoint as destination (nat.h); a reply of an endpoint pod gets
 *     the Service address back as source;
 *   egress (to the pod): a reply of an endpoint gets the Service address
 *     back as source.
 *
 * A reply to a client outside the node (a flow of the NIC path,
 * nic.bpf.c, to an endpoint pod here) leaves by the NIC the flow came in
 * by, redirected. A hairpin flow's packets (a pod to itself through a
 * Service, hairpin.h) go back into the pod, redirected. ICMP errors about
 * the flows are translated as the flows are (nat_icmp.h).
 *
 * The kernel routes the translated packet as any other (tc ingress runs
 * before the routing decision). What is not TCP or UDP to a Service
 * address, or a reply of a translated flow, passes untouched; a packet to
 * a Service address that cannot be translated is dropped and counted
 * (lbd_node_tc_stats, by enum lbd_node_tc_reason).
 */
#include "lib/common.h"
#include "lib/ctx_skb.h"
#include "lib/parse.h"
#include "lib/pull.h"
#include "lib/rewrite.h"

#include "hairpin.h"
#include "maps.h"
#include "nat.h"
#include "nat_icmp.h"

/* Headers looked at: IPv6 with an extension header and TCP with
 * options fit. */
#define NODE_TC_PULL 160

/* What tc_ports found. */
#define NODE_TC_L4 0 /* TCP or UDP with ports read */
#define NODE_TC_FRAG 1 /* a first IPv4 fragment, ports read */
#define NODE_TC_OTHER 2 /* no ports to translate by: not ours */
#define NODE_TC_ICMP 3 /* ICMP or ICMPv6: an error may be (nat_icmp.h) */

int lbd_node_tc_from_pod(struct __sk_buff *skb);
int lbd_node_tc_to_pod(struct __sk_buff *skb);

/*
 * Parses the IP header and reads the ports of a TCP or UDP packet, not
 * yet checking its L4 header: a packet whose header cannot be is dropped
 * only when it is addressed to a Service, anything else is the kernel's
 * to judge.
 */
static __always_inline int tc_ports(struct __sk_buff *skb, struct lbd_pkt *p)
{
	const __be16 *ports;
	void *data_end;
	int r;

	r = skb_pull_ip(skb, p, NODE_TC_PULL);
	if (r == LBD_PARSE_FRAGMENT && p->family == LBD_AF_INET &&
	    !(p->frag & LBD_IP_OFFMASK))
		r = NODE_TC_FRAG;
	else if (r != LBD_OK)
		return NODE_TC_OTHER;
	if (r == LBD_OK && p->proto == node_icmp_proto(p->family))
		return NODE_TC_ICMP;
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return NODE_TC_OTHER;
	ports = pkt_at(ctx_data(skb), p->l4_off);
	data_end = ctx_data_end(skb);
	if ((const void *)(ports + 2) > data_end)
		return NODE_TC_OTHER;
	p->sport = ports[0];
	p->dport = ports[1];
	return r == NODE_TC_FRAG ? NODE_TC_FRAG : NODE_TC_L4;
}

static __always_inline int tc_drop(enum lbd_node_tc_reason r)
{
	nat_count(r);
	return CTX_ACT_DROP;
}

/* A reply of a translated flow: the Service address as its source. */
static __always_inline int tc_reply(struct __sk_buff *skb, struct lbd_pkt *p)
{
	const struct lbd_node_nat *e;
	struct lbd_node_nat v;

	if (parse_l4(ctx_data(skb), ctx_data_end(skb), p) != LBD_OK)
		return CTX_ACT_OK;
	e = nat_reply(p);
	if (!e)
		return CTX_ACT_OK;
	/* a copy: the helpers below may not be given map memory to read
	 * while they write the packet */
	v = *e;
	if (v.flags & LBD_NODE_NAT_F_HAIRPIN) {
		if (hairpin_reply(skb, p, &v))
			return tc_drop(LBD_NODE_TC_REWRITE_FAILED);
		nat_count(LBD_NODE_TC_REPLY);
		return hairpin_redirect(skb);
	}
	if (skb_rewrite_l4(skb, p, false, &v.addr, v.port))
		return tc_drop(LBD_NODE_TC_REWRITE_FAILED);
	nat_count(LBD_NODE_TC_REPLY);
	/* a flow from outside (nic.bpf.c): out by its NIC; up the stack a
	 * NodePort's source, the node's own address, is a martian */
	if (v.flags & LBD_NODE_NAT_F_NIC)
		return bpf_redirect_neigh(v.ifindex, NULL, 0, 0);
	return CTX_ACT_OK;
}

SEC("tc")
int lbd_node_tc_from_pod(struct __sk_buff *skb)
{
	const struct lbd_node_svc *svc;
	struct lbd_node_nat e;
	struct lbd_pkt p = {};
	int r;

	r = tc_ports(skb, &p);
	if (r == NODE_TC_ICMP)
		return nat_icmp(skb, &p, true);
	if (r == NODE_TC_OTHER)
		return CTX_ACT_OK;
	svc = nat_svc_lookup(&p);
	if (!svc)
		return r == NODE_TC_L4 ? tc_reply(skb, &p) : CTX_ACT_OK;
	if (r == NODE_TC_FRAG)
		return tc_drop(LBD_NODE_TC_FRAGMENT);
	if (parse_l4(ctx_data(skb), ctx_data_end(skb), &p) != LBD_OK)
		return tc_drop(LBD_NODE_TC_MALFORMED);
	r = nat_forward(&p, svc, &e);
	if (r)
		return tc_drop(r);
	if (e.flags & LBD_NODE_NAT_F_HAIRPIN) {
		if (hairpin_forward(skb, &p, &e))
			return tc_drop(LBD_NODE_TC_REWRITE_FAILED);
		nat_count(LBD_NODE_TC_FORWARD);
		nat_count(LBD_NODE_TC_HAIRPIN);
		return hairpin_redirect(skb);
	}
	if (skb_rewrite_l4(skb, &p, true, &e.addr, e.port))
		return tc_drop(LBD_NODE_TC_REWRITE_FAILED);
	nat_count(LBD_NODE_TC_FORWARD);
	return CTX_ACT_OK;
}

SEC("tc")
int lbd_node_tc_to_pod(struct __sk_buff *skb)
{
	struct lbd_pkt p = {};
	int r = tc_ports(skb, &p);

	if (r == NODE_TC_ICMP)
		return nat_icmp(skb, &p, false);
	if (r != NODE_TC_L4)
		return CTX_ACT_OK;
	return tc_reply(skb, &p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
