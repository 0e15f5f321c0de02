// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node role's NIC path: XDP on node_role.interfaces (lbd/dp/node_nic.c
 * attaches it) for a Service's external addresses reached from outside
 * the node: a node address with a NodePort, a LoadBalancer ingress IP,
 * an externalIP (the socket programs' lbd_node_svc4/6, shared).
 *
 *   a packet to a Service address: its flow's endpoint (nic.h) as
 *     destination; to an endpoint on another node also this node's
 *     address and a SNAT port as source;
 *   a reply to a SNAT port: back to the client, from the Service address;
 *   an ICMP error about a flow: translated as the flow (nic_icmp.h).
 *
 * Translated packets are passed to the kernel, which forwards them (to a
 * pod interface, or out again): it resolves neighbours and checks MTUs
 * for any NIC and any route, where XDP_TX or a redirect would need a
 * resolved neighbour and, on a veth, an XDP program on its peer. The
 * replies of local endpoints are the tc path's (tc.bpf.c). What is not
 * TCP or UDP to a Service address or a SNAT port passes untouched; a
 * packet to a Service address that cannot be translated is dropped and
 * counted (lbd_node_nic_stats, by enum lbd_node_nic_reason).
 *
 * The program is named lbd_xdp, as the LB role's: lbd/dp/attach.c knows
 * lbd's XDP program by that name (a host has one role).
 */
/* errors to clients quote as much of their packets as fits 576 bytes
 * (RFC 1812 4.3.2.3): more than their headers, for them to tell which
 * one it was (nic_ptb.h) */
#define LBD_ICMP4_QUOTE_576 1

#include "lib/common.h"
#include "lib/ctx_xdp.h"
#include "lib/parse.h"

#include "maps.h"
#include "nat.h"
#include "nic.h"
#include "nic_icmp.h"
#include "nic_ptb.h"

/* What nic_ports found (as tc.bpf.c's tc_ports). */
#define NIC_L4 0 /* TCP or UDP with ports read */
#define NIC_FRAG 1 /* a first IPv4 fragment, ports read */
#define NIC_OTHER 2 /* no ports to translate by: not ours */
#define NIC_ICMP 3 /* ICMP or ICMPv6: an error may be (nic_icmp.h) */

int lbd_xdp(struct xdp_md *ctx);

/* Parses the IP header and reads the ports of a TCP or UDP packet, not
 * yet checking its L4 header: one whose header cannot be is dropped only
 * when it is addressed to a Service. */
static __always_inline int nic_ports(struct xdp_md *ctx, struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	const __be16 *ports;
	int r;

	if (parse_l2(data, data_end, p) != LBD_OK)
		return NIC_OTHER;
	if (p->h_proto == bpf_htons(ETH_P_IP))
		r = parse_ip4(data, data_end, ctx_len(ctx), p);
	else if (p->h_proto == bpf_htons(ETH_P_IPV6))
		r = parse_ip6(data, data_end, ctx_len(ctx), p);
	else
		return NIC_OTHER;
	if (r == LBD_PARSE_FRAGMENT && p->family == LBD_AF_INET &&
	    !(p->frag & LBD_IP_OFFMASK))
		r = NIC_FRAG;
	else if (r != LBD_OK)
		return NIC_OTHER;
	if (r == LBD_OK && p->proto == node_icmp_proto(p->family))
		return NIC_ICMP;
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return NIC_OTHER;
	ports = pkt_at(data, p->l4_off);
	if ((const void *)(ports + 2) > data_end)
		return NIC_OTHER;
	p->sport = ports[0];
	p->dport = ports[1];
	return r == NIC_FRAG ? NIC_FRAG : NIC_L4;
}

static __always_inline int nic_drop(enum lbd_node_nic_reason r)
{
	nic_count(r);
	return XDP_DROP;
}

/* Applies the entry e to the packet and passes it to the kernel. This
 * and nic_reply are subprograms, nic.h's nic_new_flow and nic_refresh
 * too: inlined, their stack with the rest passes the 512 bytes a
 * program's frames may take together (clang 14 shares few slots). */
static __noinline int nic_send(struct xdp_md *ctx, struct lbd_pkt *p,
			       const struct lbd_node_nic_nat *e,
			       enum lbd_node_nic_reason r)
{
	struct lbd_rw rw;

	nic_rw_of(&rw, e);
	if (rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		    pkt_ip_end(p), &rw, NULL))
		return nic_drop(LBD_NODE_NIC_REWRITE_FAILED);
	nic_count(r);
	return XDP_PASS;
}

/* Sends a packet of DSR flow e (nic.h's nic_dsr_send). A subprogram of
 * its own, called by the forward path only: under nic_send, which
 * nic_reply calls too, its frame would count on the reply's path, past
 * the 512 bytes of stack a program's frames may take together. */
static __noinline int nic_send_dsr(struct xdp_md *ctx, struct lbd_pkt *p,
				   const struct lbd_node_nic_nat *e)
{
	int rc = nic_dsr_send(ctx, p, e);

	if (rc == LBD_NODE_NIC_DSR_TOO_BIG)
		return nic_dsr_too_big(ctx, p, e);
	if (rc)
		return nic_drop(rc);
	nic_count(LBD_NODE_NIC_FORWARD);
	return XDP_PASS;
}

/* A packet of the flow whose entry is e: DSR or translated. */
static __always_inline int nic_out(struct xdp_md *ctx, struct lbd_pkt *p,
				   const struct lbd_node_nic_nat *e)
{
	if (e->flags & LBD_NODE_NIC_F_DSR)
		return nic_send_dsr(ctx, p, e);
	return nic_send(ctx, p, e, LBD_NODE_NIC_FORWARD);
}

/* A packet to Service port svc: to its flow's endpoint. */
static __always_inline int nic_forward(struct xdp_md *ctx, struct lbd_pkt *p,
				       const struct lbd_node_svc *svc)
{
	__u32 now = clock_now(&lbd_node_clock), ifindex = ctx_ifindex(ctx);
	struct lbd_node_nic_nat *e, *v;
	struct lbd_node_nat_key k;
	struct nic_scratch *s;
	__u32 zero = 0;
	int r;

	/* the entry's copy in this CPU's scratch, not on the stack: with
	 * nic_reply's and nic_send's frames, lbd_xdp's would pass the 512
	 * bytes they may take together */
	s = bpf_map_lookup_elem(&lbd_node_nic_scratch, &zero);
	if (!s)
		return nic_drop(LBD_NODE_NIC_NAT_FAILED);
	v = &s->fwd;
	nat_key_of(&k, p, LBD_NODE_NAT_FWD);
	e = bpf_map_lookup_elem(&lbd_node_nic_nat, &k);
	if (e) {
		/* a copy: the helpers may not be given map memory to read
		 * while they write the packet */
		*v = *e;
		if (nat_backend_usable(v->backend_id, v->backend_gen, svc)) {
			if (v->last_seen == now && !nic_closing(p))
				return nic_out(ctx, p, v);
			r = nic_refresh(p, v, now, ifindex);
			if (!r) {
				e->last_seen = now;
				return nic_out(ctx, p, v);
			}
			if (r != 1)
				return nic_drop(r);
		}
		nic_count(LBD_NODE_NIC_ENDPOINT_GONE);
	}
	r = nic_new_flow(ctx, p, svc, v);
	if (r)
		return nic_drop(r);
	/* after the reverse entry: a forward entry without it would send
	 * the flow on with replies nobody translates back */
	if (bpf_map_update_elem(&lbd_node_nic_nat, &k, v, BPF_ANY))
		return nic_drop(LBD_NODE_NIC_NAT_FAILED);
	return nic_out(ctx, p, v);
}

/* A reply of another node's endpoint to a SNAT port: to the client. */
static __noinline int nic_reply(struct xdp_md *ctx, struct lbd_pkt *p)
{
	struct lbd_node_nat_key k;
	struct lbd_node_nic_nat *n, v;
	__u32 now;

	if (!nic_snat_port(p->dport) ||
	    parse_l4(ctx_data(ctx), ctx_data_end(ctx), p) != LBD_OK)
		return XDP_PASS;
	nat_key_of(&k, p, LBD_NODE_NAT_REV);
	n = bpf_map_lookup_elem(&lbd_node_nic_nat, &k);
	if (!n || !(n->flags & LBD_NODE_NIC_F_SNAT))
		return XDP_PASS;
	now = clock_now(&lbd_node_clock);
	/* a download keeps its port as much as the client's packets do */
	if (n->last_seen != now)
		n->last_seen = now;
	if (nic_closing(p) && !(n->flags & LBD_NODE_NIC_F_CLOSING))
		n->flags |= LBD_NODE_NIC_F_CLOSING;
	v = *n;
	return nic_send(ctx, p, &v, LBD_NODE_NIC_REPLY);
}

SEC("xdp")
int lbd_xdp(struct xdp_md *ctx)
{
	const struct lbd_node_svc *svc;
	struct lbd_pkt p = {};
	int r;

	r = nic_ports(ctx, &p);
	if (r == NIC_ICMP)
		return nic_icmp(ctx, &p);
	if (r == NIC_OTHER)
		return XDP_PASS;
	svc = nat_svc_lookup(&p);
	if (!svc)
		return r == NIC_L4 ? nic_reply(ctx, &p) : XDP_PASS;
	if (r == NIC_FRAG)
		return nic_drop(LBD_NODE_NIC_FRAGMENT);
	if (parse_l4(ctx_data(ctx), ctx_data_end(ctx), &p) != LBD_OK)
		return nic_drop(LBD_NODE_NIC_MALFORMED);
	return nic_forward(ctx, &p, svc);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
