// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP load balancer on the LB host's edge NIC.
 *
 * What is not for a VIP passes to the kernel untouched. What claims to be
 * for a VIP and is malformed is dropped and counted. A TCP/UDP packet to a
 * service goes to the backend conntrack or Maglev picks, encapsulated for
 * direct server return (IPIP family or Geneve, per service). ICMP echo is
 * answered, ICMP errors follow the flow they quote. Fragments to a VIP are
 * dropped (LBD_DROP_FRAGMENT): lbd keeps no reassembly state, and a later
 * fragment carries no ports to find the flow's backend with.
 *
 * Each step returns an XDP action, or LBD_CONTINUE to go on.
 */
#include "lib/common.h"
#include "lib/ctx.h"
#include "lib/parse.h"
#include "maps.h"
#include "stats.h"
#include "select.h"
#include "svc.h"
#include "vip.h"
#include "nexthop.h"
#include "translate.h"
#include "icmp.h"
#include "dsr.h"
#include "nat.h"
#include "monitor.h"


/* Entry points are global; the prototype keeps -Wmissing-prototypes. */
int lbd_xdp(struct xdp_md *ctx);

/* Reads the destination of an IP packet into p (family, daddr), nothing
 * else: whatever else is wrong with a packet that is not ours is not our
 * business. -1 when it is not IP or too short to say. */
static __always_inline int peek_daddr(struct xdp_md *ctx, struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);

	if (p->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = pkt_at(data, p->l3_off);

		if ((void *)(ip + 1) > data_end)
			return -1;
		p->family = LBD_AF_INET;
		p->daddr.v4 = ip->daddr;
		return 0;
	}
	if (p->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = pkt_at(data, p->l3_off);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		p->family = LBD_AF_INET6;
		copy_addr6(&p->daddr, &ip6->daddr);
		return 0;
	}
	return -1;
}

/* IP header of a packet to a VIP: malformed, fragment, wrong IPv4
 * header checksum, or unskipped extension header end here. To an LB host
 * address (host), they are the host's and pass (the kernel checks). */
static __always_inline int check_ip(struct xdp_md *ctx, struct lbd_pkt *p,
				    bool host)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u32 len = ctx_len(ctx);
	int r;

	if (p->h_proto == bpf_htons(ETH_P_IP)) {
		r = parse_ip4_csum(data, data_end, len, p, true);
		if (r == LBD_OK)
			return LBD_CONTINUE;
		if (host)
			return verdict(XDP_PASS, LBD_PASS_HOST, len);
		if (r == LBD_PARSE_CSUM)
			return verdict(XDP_DROP, LBD_DROP_IP4_CHECKSUM, len);
		if (r == LBD_PARSE_FRAGMENT)
			return verdict(XDP_DROP, LBD_DROP_FRAGMENT, len);
		return verdict(XDP_DROP, LBD_DROP_MALFORMED_IP4, len);
	}
	r = parse_ip6(data, data_end, len, p);
	if (r == LBD_OK)
		return LBD_CONTINUE;
	if (host)
		return verdict(XDP_PASS, LBD_PASS_HOST, len);
	if (r == LBD_PARSE_FRAGMENT)
		return verdict(XDP_DROP, LBD_DROP_FRAGMENT, len);
	if (r == LBD_PARSE_EXTHDR)
		return verdict(XDP_PASS, LBD_PASS_IP6_EXTHDR, len);
	return verdict(XDP_DROP, LBD_DROP_MALFORMED_IP6, len);
}

/* loadBalancerSourceRanges: an allow-list, or a deny-list. */
static __always_inline bool source_allowed(const struct lbd_pkt *p,
					   const struct lbd_svc *svc)
{
	bool hit;

	if (!(svc->flags & (LBD_SVC_F_SRC_ALLOW | LBD_SVC_F_SRC_DENY)))
		return true;
	if (p->family == LBD_AF_INET) {
		struct lbd_src_key4 k = {
			.prefixlen = 32 + 32,
			.svc_id = bpf_htonl(svc->id),
			.addr = p->saddr.v4,
		};
		hit = bpf_map_lookup_elem(&lbd_src4, &k) != NULL;
	} else {
		struct lbd_src_key6 k = {
			.prefixlen = 32 + 128,
			.svc_id = bpf_htonl(svc->id),
			.addr = p->saddr,
		};
		hit = bpf_map_lookup_elem(&lbd_src6, &k) != NULL;
	}
	return svc->flags & LBD_SVC_F_SRC_ALLOW ? hit : !hit;
}

/* To the SNAT address: a SNAT flow's reply or ICMP error, else the LB
 * host's own traffic (LBD_CONTINUE). */
static __always_inline int snat_in(struct xdp_md *ctx, struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u32 len = ctx_len(ctx);
	__u8 *icmp;
	/* a header whose checksum is wrong is not translated: the kernel
	 * drops it (and counts it) if it is the host's */
	int r = p->family == LBD_AF_INET
			? parse_ip4_csum(data, data_end, len, p, true)
			: parse_ip6(data, data_end, len, p);

	if (r != LBD_OK)
		return LBD_CONTINUE;
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		if (parse_l4(data, data_end, p) != LBD_OK ||
		    !snat_port(p->dport))
			return LBD_CONTINUE;
		return snat_reply(ctx, p);
	}
	if (p->proto != (p->family == LBD_AF_INET ? IPPROTO_ICMP
						   : IPPROTO_ICMPV6))
		return LBD_CONTINUE;
	icmp = pkt_at(data, p->l4_off);
	if ((void *)(icmp + 1) > data_end)
		return LBD_CONTINUE;
	if (p->family == LBD_AF_INET ? *icmp == LBD_ICMP_DEST_UNREACH ||
					       *icmp == LBD_ICMP_TIME_EXCEEDED
				     : *icmp == LBD_ICMP6_DST_UNREACH ||
					       *icmp == LBD_ICMP6_PKT_TOOBIG ||
					       *icmp == LBD_ICMP6_TIME_EXCEED)
		return snat_icmp_reply(ctx, p);
	return LBD_CONTINUE;
}

/* ICMP to a VIP: echo, or an error about one of its flows. */
static __always_inline int handle_icmp(struct xdp_md *ctx, struct lbd_pkt *p,
				       __u32 vip_flags)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u8 *icmp = pkt_at(data, p->l4_off);
	struct lbd_choice c = {};
	struct lbd_pkt q = {};
	const struct lbd_svc *svc;
	struct lbd_svc svc_v;
	bool error, echo;
	__u16 qoff;

	if ((void *)(icmp + 8) > data_end || !pkt_in_ip(p, p->l4_off, 8))
		return verdict(XDP_DROP, LBD_DROP_MALFORMED_ICMP,
			       ctx_len(ctx));
	if (p->family == LBD_AF_INET) {
		echo = icmp[0] == LBD_ICMP_ECHO;
		error = icmp[0] == LBD_ICMP_DEST_UNREACH ||
			icmp[0] == LBD_ICMP_TIME_EXCEEDED;
	} else {
		echo = icmp[0] == LBD_ICMP6_ECHO_REQUEST;
		error = icmp[0] == LBD_ICMP6_DST_UNREACH ||
			icmp[0] == LBD_ICMP6_PKT_TOOBIG ||
			icmp[0] == LBD_ICMP6_TIME_EXCEED;
	}
	if (echo) {
		if (!(vip_flags & LBD_VIP_F_ICMP_ECHO))
			return verdict(XDP_DROP, LBD_DROP_ICMP_UNHANDLED,
				       ctx_len(ctx));
		if (!icmp_source_ok(p))
			return verdict(XDP_DROP, LBD_DROP_ICMP_BAD_SOURCE,
				       ctx_len(ctx));
		return icmp_echo_reply(ctx, p);
	}
	if (!error || icmp_error_flow(ctx, p, &q, &qoff) < 0)
		return verdict(XDP_DROP, LBD_DROP_ICMP_UNHANDLED,
			       ctx_len(ctx));
	/* by the quoted flow's own VIP, from the hash map (a cold path);
	 * a copy: with the map value pointer live across the SNAT rewrite,
	 * clang 14 reused its spill slot for address words and speculated
	 * arithmetic on it, which the verifier (kernel 6.18) rejects */
	svc = svc_lookup(&q, q.dport);
	if (!svc)
		return verdict(XDP_DROP, LBD_DROP_NO_SERVICE, ctx_len(ctx));
	svc_v = *svc;
	svc = &svc_v;
	if (select_backend_icmp(&q, svc, &c) < 0)
		return verdict(XDP_DROP, LBD_DROP_NO_BACKEND, ctx_len(ctx));
	if (fwd_of(svc, q.proto) == LBD_FWD_SNAT)
		return snat_icmp_forward(ctx, p, &q, c.be, c.ct);
	count_reason(LBD_EV_ICMP_ERROR_FWD, ctx_len(ctx));
	return dsr_forward(ctx, p, &q, fwd_of(svc, q.proto), &c, NULL);
}

/* Whether the service keeps no conntrack for the protocol. */
static __always_inline bool stateless(const struct lbd_svc *svc, __u8 proto)
{
	return proto == IPPROTO_TCP ? svc->flags & LBD_SVC_F_FLOW_BACKENDS
				    : svc->flags & LBD_SVC_F_UDP_STATELESS;
}

/* Flow state on the backends: to the slot's owner, naming the previous
 * one for TCP (docs/flow-state.md). Its SYNs count as new flows of the
 * service and backend, not as the LB's new_flow events (no entry). */
static __always_inline int lb_stateless(struct xdp_md *ctx, struct lbd_pkt *p,
					const struct lbd_svc *svc, __u8 fwd)
{
	struct lbd_choice c = {};
	struct lbd_sc sc = {};
	__u32 len = ctx_len(ctx);

	if (select_stateless(p, svc, &c, &sc) < 0)
		return no_backend(ctx, p, svc);
	count_reason(LBD_EV_FWD_STATELESS, 0);
	count_traffic(&lbd_svc_stats, svc->id, len, c.new_flow);
	count_traffic(&lbd_be_stats, c.id, len, c.new_flow);
	if (c.new_flow && unlikely(monitor_mask & LBD_MON_FLOWS))
		monitor_emit(ctx, p, LBD_EVENT_NEW_FLOW, LBD_EV_NEW_FLOW,
			     svc->id, c.id);
	return dsr_forward(ctx, p, p, fwd, &c,
			   p->proto == IPPROTO_TCP ? &sc : NULL);
}

static __always_inline int lb_process(struct xdp_md *ctx, struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	struct lbd_choice c = {};
	const struct lbd_svc *svc;
	struct lbd_vip_ref vip;
	__u32 len = ctx_len(ctx);
	bool host;
	__u8 fwd;
	int r;

	if (parse_l2(data, data_end, p) != LBD_OK || peek_daddr(ctx, p))
		return verdict(XDP_PASS, LBD_PASS_NOT_VIP, len);
	if (to_snat(p)) {
		r = snat_in(ctx, p);
		if (r != LBD_CONTINUE)
			return r;
	}
	vip_find(p, &vip);
	if (!vip.found)
		return verdict(XDP_PASS, LBD_PASS_NOT_VIP, len);
	host = vip.flags & LBD_VIP_F_HOST;

	r = check_ip(ctx, p, host);
	if (r != LBD_CONTINUE)
		return r;
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		/* the host answers its own ICMP */
		if (host)
			return verdict(XDP_PASS, LBD_PASS_HOST, len);
		if ((p->proto == IPPROTO_ICMP) != (p->family == LBD_AF_INET))
			return verdict(XDP_DROP, LBD_DROP_VIP_PROTO, len);
		return handle_icmp(ctx, p, vip.flags);
	}
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return host ? verdict(XDP_PASS, LBD_PASS_HOST, len)
			    : verdict(XDP_DROP, LBD_DROP_VIP_PROTO, len);
	if (parse_l4(ctx_data(ctx), ctx_data_end(ctx), p) != LBD_OK)
		return host ? verdict(XDP_PASS, LBD_PASS_HOST, len)
			    : verdict(XDP_DROP, LBD_DROP_MALFORMED_L4, len);

	svc = svc_find(p, &vip);
	if (!svc)
		return host ? verdict(XDP_PASS, LBD_PASS_HOST, len)
			    : verdict(XDP_DROP, LBD_DROP_NO_SERVICE, len);
	if (!source_allowed(p, svc))
		return verdict(XDP_DROP, LBD_DROP_SOURCE_RANGE, len);
	fwd = fwd_of(svc, p->proto);
	if (fwd != LBD_FWD_SNAT && stateless(svc, p->proto))
		return lb_stateless(ctx, p, svc, fwd);
	if (select_backend(p, svc, fwd == LBD_FWD_SNAT, &c) < 0)
		return no_backend(ctx, p, svc);

	count_traffic(&lbd_svc_stats, svc->id, len, c.new_flow);
	count_traffic(&lbd_be_stats, c.id, len, c.new_flow);
	if (c.new_flow && unlikely(monitor_mask & LBD_MON_FLOWS))
		monitor_emit(ctx, p, LBD_EVENT_NEW_FLOW, LBD_EV_NEW_FLOW,
			     svc->id, c.id);
	if (fwd == LBD_FWD_SNAT)
		return snat_forward(ctx, p, &c);
	return dsr_forward(ctx, p, p, fwd, &c, NULL);
}

SEC("xdp")
int lbd_xdp(struct xdp_md *ctx)
{
	struct lbd_pkt p = {};
	int act = lb_process(ctx, &p);

	if (act == XDP_DROP && unlikely(monitor_mask & LBD_MON_DROPS))
		monitor_drop(ctx, &p);
	return act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
