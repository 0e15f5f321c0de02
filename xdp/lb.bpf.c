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
#include "lbd/bpf/common.h"
#include "lbd/bpf/ctx.h"
#include "lbd/bpf/parse.h"
#include "maps.h"
#include "stats.h"
#include "select.h"
#include "fib.h"
#include "encap.h"
#include "icmp.h"
#include "monitor.h"

#define LBD_CONTINUE (-1)

/* Entry points are global; the prototype keeps -Wmissing-prototypes. */
int lbd_xdp(struct xdp_md *ctx);

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

/* The VIP a packet is for, or NULL. Reads only the destination address:
 * whatever else is wrong with a packet that is not ours is not our
 * business. */
static __always_inline struct lbd_vip *vip_lookup(struct xdp_md *ctx,
						  struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);

	if (p->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = pkt_at(data, p->l3_off);

		if ((void *)(ip + 1) > data_end)
			return NULL;
		return bpf_map_lookup_elem(&lbd_vip4, &ip->daddr);
	}
	if (p->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = pkt_at(data, p->l3_off);

		if ((void *)(ip6 + 1) > data_end)
			return NULL;
		return bpf_map_lookup_elem(&lbd_vip6, &ip6->daddr);
	}
	return NULL;
}

/* IP header of a packet to a VIP: malformed, fragment, or unskipped
 * extension header end here. */
static __always_inline int check_ip(struct xdp_md *ctx, struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u32 len = ctx_len(ctx);
	int r;

	if (p->h_proto == bpf_htons(ETH_P_IP)) {
		r = parse_ip4(data, data_end, len, p);
		if (r == LBD_OK)
			return LBD_CONTINUE;
		if (r == LBD_PARSE_FRAGMENT)
			return verdict(XDP_DROP, LBD_DROP_FRAGMENT, len);
		return verdict(XDP_DROP, LBD_DROP_MALFORMED_IP4, len);
	}
	r = parse_ip6(data, data_end, len, p);
	if (r == LBD_OK)
		return LBD_CONTINUE;
	if (r == LBD_PARSE_FRAGMENT)
		return verdict(XDP_DROP, LBD_DROP_FRAGMENT, len);
	if (r == LBD_PARSE_EXTHDR)
		return verdict(XDP_PASS, LBD_PASS_IP6_EXTHDR, len);
	return verdict(XDP_DROP, LBD_DROP_MALFORMED_IP6, len);
}

static __always_inline __u16 encap_overhead(__u8 fwd, __u8 be_family)
{
	if (fwd == LBD_FWD_GENEVE)
		return be_family == LBD_AF_INET ? LBD_GENEVE4_OVERHEAD
						: LBD_GENEVE6_OVERHEAD;
	return be_family == LBD_AF_INET ? LBD_IPIP4_OVERHEAD
					: LBD_IPIP6_OVERHEAD;
}

static __always_inline int send_error(struct xdp_md *ctx, struct lbd_pkt *p,
				      __u8 type, __u8 code, __u32 mtu,
				      enum lbd_reason r)
{
	__u32 len = ctx_len(ctx);

	if (!icmp_ratelimit_allow())
		return verdict(XDP_DROP, LBD_DROP_ICMP_RATELIMIT, len);
	if (lbd_icmp_error(ctx, p, type, code, mtu) != XDP_TX)
		return verdict(XDP_DROP, LBD_DROP_TOOBIG, len);
	return verdict(XDP_TX, r, ctx_len(ctx));
}

/* Fragmentation needed / packet too big, carrying the route MTU less what
 * the encapsulation adds. */
static __always_inline int send_toobig(struct xdp_md *ctx, struct lbd_pkt *p,
				       __u32 mtu)
{
	if (p->family == LBD_AF_INET)
		return send_error(ctx, p, LBD_ICMP_DEST_UNREACH,
				  LBD_ICMP_FRAG_NEEDED, mtu,
				  LBD_EV_ICMP_TOOBIG);
	if (mtu < LBD_IPV6_MIN_MTU)
		mtu = LBD_IPV6_MIN_MTU;
	return send_error(ctx, p, LBD_ICMP6_PKT_TOOBIG, 0, mtu,
			  LBD_EV_ICMP_TOOBIG);
}

static __always_inline int no_backend(struct xdp_md *ctx, struct lbd_pkt *p,
				      const struct lbd_svc *svc)
{
	if (!(svc->flags & LBD_SVC_F_UNREACH_ICMP))
		return verdict(XDP_DROP, LBD_DROP_NO_BACKEND, ctx_len(ctx));
	count_reason(LBD_DROP_NO_BACKEND, ctx_len(ctx));
	if (p->family == LBD_AF_INET)
		return send_error(ctx, p, LBD_ICMP_DEST_UNREACH,
				  LBD_ICMP_PORT_UNREACH, 0,
				  LBD_EV_ICMP_UNREACH);
	return send_error(ctx, p, LBD_ICMP6_DST_UNREACH,
			  LBD_ICMP6_PORT_UNREACH, 0, LBD_EV_ICMP_UNREACH);
}

/*
 * Encapsulates the packet p to the backend and transmits it. q is the
 * flow (for an ICMP error, the quoted one; else p itself): its
 * destination is the VIP and service port the Geneve option names, and
 * its hash is the flow's entropy.
 */
static __always_inline int forward(struct xdp_md *ctx, struct lbd_pkt *p,
				   const struct lbd_pkt *q,
				   const struct lbd_svc *svc,
				   const struct lbd_backend *be)
{
	__u16 overhead = encap_overhead(svc->fwd, be->family);
	struct bpf_fib_lookup fib;
	union lbd_addr src;
	__u32 hash;
	int rc;

	if (be->family != p->family &&
	    (svc->fwd == LBD_FWD_GENEVE || p->family == LBD_AF_INET6))
		return verdict(XDP_DROP, LBD_DROP_BACKEND_FAMILY,
			       ctx_len(ctx));

	hash = flow_hash(q);
	encap_source(be->family, hash, &src);
	rc = fib_nexthop(ctx, be->family, &src, &be->addr,
			 p->ip_len + overhead, &fib);
	bpf_printk("fib rc=%d fam=%d pfam=%d", rc, be->family, p->family);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		/* errors about errors are not sent (RFC 1122 3.2.2) */
		if (p != q)
			return verdict(XDP_DROP, LBD_DROP_TOOBIG,
				       ctx_len(ctx));
		return send_toobig(ctx, p, fib.mtu_result - overhead);
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		return verdict(XDP_PASS, LBD_PASS_NO_NEIGH, ctx_len(ctx));
	default:
		return verdict(XDP_DROP, LBD_DROP_NO_ROUTE, ctx_len(ctx));
	}

	if (svc->fwd == LBD_FWD_GENEVE) {
		if (translate_dst(ctx, p, be))
			return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
		if (p != q && icmp_translate_quote(ctx, p, q, be))
			return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
		rc = encap_geneve(ctx, p, &q->daddr, q->dport, be, &fib, hash);
	} else {
		rc = encap_ipip(ctx, p, be, &fib, hash);
	}
	if (rc)
		return verdict(XDP_DROP, LBD_DROP_ENCAP, ctx_len(ctx));
	return tx(ctx, fib.ifindex);
}

/* ICMP to a VIP: echo, or an error about one of its flows. */
static __always_inline int handle_icmp(struct xdp_md *ctx, struct lbd_pkt *p,
				       const struct lbd_vip *vip)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u8 *icmp = pkt_at(data, p->l4_off);
	struct lbd_choice c = {};
	struct lbd_pkt q = {};
	struct lbd_svc *svc;
	bool error, echo;
	__u16 qoff;

	if ((void *)(icmp + 8) > data_end)
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
		if (!(vip->flags & LBD_VIP_F_ICMP_ECHO))
			return verdict(XDP_DROP, LBD_DROP_ICMP_UNHANDLED,
				       ctx_len(ctx));
		return icmp_echo_reply(ctx, p);
	}
	if (!error || icmp_error_flow(ctx, p, &q, &qoff) < 0)
		return verdict(XDP_DROP, LBD_DROP_ICMP_UNHANDLED,
			       ctx_len(ctx));
	svc = svc_lookup(&q, q.dport);
	if (!svc)
		return verdict(XDP_DROP, LBD_DROP_NO_SERVICE, ctx_len(ctx));
	if (select_backend_icmp(&q, svc, &c) < 0)
		return verdict(XDP_DROP, LBD_DROP_NO_BACKEND, ctx_len(ctx));
	count_reason(LBD_EV_ICMP_ERROR_FWD, ctx_len(ctx));
	return forward(ctx, p, &q, svc, c.be);
}

static __always_inline int lb_process(struct xdp_md *ctx, struct lbd_pkt *p)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	struct lbd_choice c = {};
	struct lbd_svc *svc;
	struct lbd_vip *vip;
	__u32 len = ctx_len(ctx);
	int r;

	if (parse_l2(data, data_end, p) != LBD_OK)
		return verdict(XDP_PASS, LBD_PASS_NOT_VIP, len);
	vip = vip_lookup(ctx, p);
	if (!vip)
		return verdict(XDP_PASS, LBD_PASS_NOT_VIP, len);

	r = check_ip(ctx, p);
	if (r != LBD_CONTINUE)
		return r;
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		if ((p->proto == IPPROTO_ICMP) != (p->family == LBD_AF_INET))
			return verdict(XDP_DROP, LBD_DROP_VIP_PROTO, len);
		return handle_icmp(ctx, p, vip);
	}
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
		return verdict(XDP_DROP, LBD_DROP_VIP_PROTO, len);
	if (parse_l4(ctx_data(ctx), ctx_data_end(ctx), p) != LBD_OK)
		return verdict(XDP_DROP, LBD_DROP_MALFORMED_L4, len);

	svc = svc_lookup(p, p->dport);
	if (!svc)
		return verdict(XDP_DROP, LBD_DROP_NO_SERVICE, len);
	if (select_backend(p, svc, &c) < 0)
		return no_backend(ctx, p, svc);

	count_traffic(&lbd_svc_stats, svc->id, len, c.new_flow);
	count_traffic(&lbd_be_stats, c.id, len, c.new_flow);
	if (c.new_flow && unlikely(monitor_mask & LBD_MON_FLOWS))
		monitor_emit(ctx, p, LBD_EVENT_NEW_FLOW, LBD_EV_NEW_FLOW,
			     svc->id, c.id);
	return forward(ctx, p, p, svc, c.be);
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
