/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Second chance (docs/flow-state.md, "On the backend"): a mid-flow TCP
 * segment for which this node has no socket is passed on, once, to the
 * previous owner of its Maglev slot that lbd's Geneve option names
 * (Beamer, NSDI 2018; GLB Director). The packet is rewritten in place and
 * leaves by the route the kernel's FIB gives for the previous owner.
 */
#ifndef LBD_BACKEND_SECOND_CHANCE_H
#define LBD_BACKEND_SECOND_CHANCE_H

#include <stddef.h>

#include "lib/ctx.h"
#include "lib/parse.h"
#include "decap.h"
#include "maps.h"
#include "lib/rewrite.h"

#ifndef BPF_F_CURRENT_NETNS
#define BPF_F_CURRENT_NETNS (-1L)
#endif

/* The outer source is one of the other backends (lbd_be_peers4/6). */
static __always_inline bool sc_from_peer(const struct lbd_pkt *p)
{
	if (p->family == LBD_AF_INET) {
		struct lbd_peer_key4 k = { .prefixlen = 32,
					   .addr = p->saddr.v4 };

		return bpf_map_lookup_elem(&lbd_be_peers4, &k) != NULL;
	} else {
		struct lbd_peer_key6 k = { .prefixlen = 128, .addr = p->saddr };

		return bpf_map_lookup_elem(&lbd_be_peers6, &k) != NULL;
	}
}

/*
 * Whether this node has a socket for the inner TCP segment in: an
 * established, time-wait or request socket for its 4-tuple, or a listener
 * that takes the segment as the ACK of one of its SYN cookies (a
 * connection a listener under a SYN flood answered without a request
 * socket). A subprogram, to keep its tuple off the program's frame.
 */
static __noinline bool sc_local_socket(struct __sk_buff *skb,
				       const struct lbd_pkt *in)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	void *data, *data_end, *iph, *th;
	bool local = false;
	__u32 tlen;

	if (in->family == LBD_AF_INET) {
		t.ipv4.saddr = in->saddr.v4;
		t.ipv4.daddr = in->daddr.v4;
		t.ipv4.sport = in->sport;
		t.ipv4.dport = in->dport;
		tlen = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, &in->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &in->daddr, 16);
		t.ipv6.sport = in->sport;
		t.ipv6.dport = in->dport;
		tlen = sizeof(t.ipv6);
	}
	sk = bpf_skc_lookup_tcp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return false;
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		return true;
	}
	if ((in->tcp_flags & (LBD_TCP_SYN | LBD_TCP_RST | LBD_TCP_ACK)) ==
	    LBD_TCP_ACK) {
		data = ctx_data(skb);
		data_end = ctx_data_end(skb);
		iph = pkt_at(data, in->l3_off);
		th = pkt_at(data, in->l4_off);
		/* the helper reads the addresses and the TCP header only;
		 * the lengths are constants for the verifier */
		if (in->family == LBD_AF_INET) {
			if (iph + sizeof(struct iphdr) <= data_end &&
			    th + sizeof(struct tcphdr) <= data_end)
				local = !bpf_tcp_check_syncookie(
					sk, iph, sizeof(struct iphdr), th,
					sizeof(struct tcphdr));
		} else {
			if (iph + sizeof(struct ipv6hdr) <= data_end &&
			    th + sizeof(struct tcphdr) <= data_end)
				local = !bpf_tcp_check_syncookie(
					sk, iph, sizeof(struct ipv6hdr), th,
					sizeof(struct tcphdr));
		}
	}
	bpf_sk_release(sk);
	return local;
}

/* Whether the segment is one to pass on: TCP, not a SYN, a previous owner
 * named and not passed on yet, and no socket here. */
static __always_inline bool sc_wanted(struct __sk_buff *skb,
				      const struct gnv_pkt *g,
				      const struct lbd_pkt *in)
{
	if ((g->sc_flags & (LBD_SC_F_PREV | LBD_SC_F_PASSED)) !=
		    LBD_SC_F_PREV ||
	    in->proto != IPPROTO_TCP || (in->tcp_flags & LBD_TCP_SYN))
		return false;
	return !sc_local_socket(skb, in);
}

/* The outer IPv4 header: source the old destination (this node),
 * destination the previous owner, TTL less one, the checksum updated. */
static __always_inline int sc_outer4(struct __sk_buff *skb,
				     const struct lbd_pkt *p,
				     const struct gnv_pkt *g, __u8 ttl,
				     __u8 proto)
{
	__u32 sum = p->l3_off + offsetof(struct iphdr, check);
	__be16 old_w = bpf_htons((__u16)(ttl << 8 | proto));
	__be16 new_w = bpf_htons((__u16)((ttl - 1) << 8 | proto));
	__u8 nttl = ttl - 1;

	if (bpf_l3_csum_replace(skb, sum, p->saddr.v4, p->daddr.v4, 4) ||
	    bpf_l3_csum_replace(skb, sum, p->daddr.v4, g->prev.v4, 4) ||
	    bpf_l3_csum_replace(skb, sum, old_w, new_w, 2) ||
	    bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, ttl),
				&nttl, 1, 0) ||
	    bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, saddr),
				&p->daddr.v4, 4, 0) ||
	    bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, daddr),
				&g->prev.v4, 4, 0))
		return -1;
	return 0;
}

/* The outer IPv6 header likewise (no header checksum to update). */
static __always_inline int sc_outer6(struct __sk_buff *skb,
				     const struct lbd_pkt *p,
				     const struct gnv_pkt *g, __u8 hlim)
{
	__u8 nhlim = hlim - 1;

	if (bpf_skb_store_bytes(skb,
				p->l3_off + offsetof(struct ipv6hdr, hop_limit),
				&nhlim, 1, BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb,
				p->l3_off + offsetof(struct ipv6hdr, saddr),
				&p->daddr, 16, BPF_F_RECOMPUTE_CSUM) ||
	    bpf_skb_store_bytes(skb,
				p->l3_off + offsetof(struct ipv6hdr, daddr),
				&g->prev, 16, BPF_F_RECOMPUTE_CSUM))
		return -1;
	return 0;
}

/*
 * Passes the segment on to the previous owner: the route first, so that
 * a packet that cannot leave is delivered here unchanged (-1); then the
 * rewrite in place (the inner packet translated to the previous owner's
 * address and port in Cilium's form, the passed flag, the outer header,
 * the MACs) and a redirect to the route's interface. Untagged frames
 * only: a VLAN tag in the frame belongs to the ingress link.
 * A subprogram of its own: its stack (the FIB lookup's 64 bytes among
 * others) would otherwise sit in the program's frame beside everything
 * else (456 of 512 bytes inlined, clang 14 for kernel 6.18).
 */
static __noinline int sc_pass_on(struct __sk_buff *skb, const struct lbd_pkt *p,
				 const struct gnv_pkt *g,
				 const struct lbd_pkt *in)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	struct bpf_fib_lookup f = {};
	__u8 ttl, proto = 0, flags;
	__u8 *l3 = pkt_at(data, p->l3_off);
	struct udphdr *uh = pkt_at(data, p->l4_off);
	__be16 zero = 0;
	long rc;

	if (p->l3_off != ETH_HLEN || (g->eth && g->inner != p->family) ||
	    (void *)(uh + 1) > data_end || (void *)(l3 + 40) > data_end)
		return -1;
	if (p->family == LBD_AF_INET) {
		ttl = ((struct iphdr *)l3)->ttl;
		proto = ((struct iphdr *)l3)->protocol;
		f.family = LBD_AF_INET;
		f.ipv4_src = p->daddr.v4;
		f.ipv4_dst = g->prev.v4;
	} else {
		ttl = ((struct ipv6hdr *)l3)->hop_limit;
		f.family = LBD_AF_INET6;
		__builtin_memcpy(f.ipv6_src, &p->daddr, 16);
		__builtin_memcpy(f.ipv6_dst, &g->prev, 16);
	}
	if (ttl <= 1)
		return -1;
	f.l4_protocol = IPPROTO_UDP;
	f.sport = uh->source;
	f.dport = uh->dest;
	f.tot_len = p->ip_len;
	f.ifindex = skb->ifindex;
	/* an input lookup from the ingress interface: the kernel wants
	 * forwarding enabled there (BPF_FIB_LKUP_RET_FWD_DISABLED) */
	rc = bpf_fib_lookup(skb, &f, sizeof(f), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;

	/* no outer UDP checksum (lbd sends none; RFC 6935 for IPv6) rather
	 * than one to bring up to date with all the changes below */
	if (uh->check &&
	    bpf_skb_store_bytes(skb, p->l4_off + 6, &zero, sizeof(zero),
				BPF_F_RECOMPUTE_CSUM))
		goto fail;
	flags = g->sc_flags | LBD_SC_F_PASSED;
	if (bpf_skb_store_bytes(skb, g->sc_off + 4, &flags, 1,
				BPF_F_RECOMPUTE_CSUM))
		goto fail;
	if (g->eth && skb_rewrite_l4(skb, in, true, &g->prev, g->prev_port))
		goto fail;
	if (p->family == LBD_AF_INET ? sc_outer4(skb, p, g, ttl, proto) :
				       sc_outer6(skb, p, g, ttl))
		goto fail;
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* no neighbour entry for the next hop yet (backends that never
		 * spoke to each other): the kernel resolves it and sends the
		 * packet then. The lookup left the next hop, the gateway when
		 * there is one, in f's destination. */
		struct bpf_redir_neigh nh = { .nh_family = f.family };

		if (f.family == LBD_AF_INET)
			nh.ipv4_nh = f.ipv4_dst;
		else
			__builtin_memcpy(nh.ipv6_nh, f.ipv6_dst, 16);
		reason_count(&lbd_be_stats, LBD_BE_SC_FORWARD, skb->len);
		return bpf_redirect_neigh(f.ifindex, &nh, sizeof(nh), 0);
	}
	if (bpf_skb_store_bytes(skb, 0, f.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, f.smac, ETH_ALEN, 0))
		goto fail;
	reason_count(&lbd_be_stats, LBD_BE_SC_FORWARD, skb->len);
	return bpf_redirect(f.ifindex, 0);
fail:
	/* half rewritten: it can go neither on nor up */
	return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_DECAP, skb->len);
}

#endif /* LBD_BACKEND_SECOND_CHANCE_H */
