// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backend companion: tc programs on a backend's NIC, loaded by lbd in
 * its backend role.
 *
 * Ingress: encapsulated packets (IPIP, IP6IP6, 4-in-6, Geneve in both
 * forms) addressed to this node are decapsulated when their outer source
 * is a trusted LB, and dropped (counted) when it is not, except segments
 * another backend (a peer) passed on. A mid-flow TCP segment with no
 * socket here whose slot had a previous owner is passed on to it, once
 * (second_chance.h). Outer fragments of encapsulation are dropped: from
 * an untrusted source as untrusted_encap, from a trusted one as
 * encap_fragment (the LB never fragments what it encapsulates, and lbd
 * does not reassemble; passed on, a kernel with tunnel devices of its own
 * would reassemble and decapsulate them past every check here).
 * Everything else passes untouched.
 * Egress: replies of Geneve flows get the VIP and service port back as
 * their source.
 */
#include <linux/pkt_cls.h>

#include "lib/common.h"
#include "lib/ctx.h"
#include "lib/parse.h"
#include "maps.h"
#include "decap.h"
#include "restore.h"
#include "lib/pull.h"
#include "second_chance.h"

/* Headers looked at: outer IPv6 + UDP + Geneve with options + inner
 * Ethernet + inner IPv6 + TCP fit comfortably. */
#define LBD_TC_PULL 384

int lbd_tc_ingress(struct __sk_buff *skb);
int lbd_tc_egress(struct __sk_buff *skb);

static __always_inline bool addr_in(void *map, const union lbd_addr *a,
				    __u8 family)
{
	struct lbd_addr_key k = { .addr = *a, .family = family };

	return bpf_map_lookup_elem(map, &k) != NULL;
}

/* The outer source a is in a trusted prefix (lbd_be_sources). */
static __always_inline bool src_trusted(const union lbd_addr *a, __u8 family)
{
	struct lbd_src_key k = {
		.prefixlen = LBD_SRC_PREFIX_BASE +
			     (family == LBD_AF_INET ? 32 : 128),
		.family = family,
		.addr = *a,
	};

	return bpf_map_lookup_elem(&lbd_be_sources, &k) != NULL;
}

/* An IPv6 fragment header (RFC 8200 section 4.5). */
struct lbd_frag6hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3, M in bit 0 */
	__be32 id;
};

#define LBD_IP6_OFFMASK 0xfff8

/*
 * Whether the outer fragment p is (part of) encapsulation: IPIP or IPv6
 * in any fragment, as every fragment names its protocol; Geneve in the
 * first fragment, whose UDP header names the port. A later UDP fragment
 * cannot say, and without the first one nothing is reassembled. In the
 * first IPv6 fragment, extension headers after the fragment header are
 * skipped to the protocol.
 */
static __always_inline bool frag_is_encap(struct __sk_buff *skb,
					  const struct lbd_pkt *p)
{
	void *data = ctx_data(skb), *data_end = ctx_data_end(skb);
	__u8 proto = p->proto;
	__u16 off = p->l4_off;
	struct udphdr *uh;
	bool first;
	int i;

	if (p->family == LBD_AF_INET) {
		first = !(p->frag & LBD_IP_OFFMASK);
	} else {
		struct lbd_frag6hdr *fh = pkt_at(data, off);

		if ((void *)(fh + 1) > data_end)
			return false;
		proto = fh->nexthdr;
		first = !(bpf_ntohs(fh->frag_off) & LBD_IP6_OFFMASK);
		off += sizeof(*fh);
		/* a later fragment whose fragmentable part starts with
		 * extension headers cannot say what follows them: it may be
		 * a tunnel's */
		if (!first && (proto == IPPROTO_HOPOPTS ||
			       proto == IPPROTO_ROUTING ||
			       proto == IPPROTO_DSTOPTS))
			return true;
#pragma unroll
		for (i = 0; i < LBD_IP6_MAX_EXTHDR; i++) {
			__u8 *ext = pkt_at(data, off);

			if (!first || (proto != IPPROTO_HOPOPTS &&
				       proto != IPPROTO_ROUTING &&
				       proto != IPPROTO_DSTOPTS))
				break;
			if ((void *)(ext + 2) > data_end)
				return false;
			proto = ext[0];
			off += (ext[1] + 1) * 8;
		}
	}
	if (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6)
		return true;
	if (proto != IPPROTO_UDP || !first)
		return false;
	uh = pkt_at(data, off);
	return (void *)(uh + 1) <= data_end && pkt_in_ip(p, off, sizeof(*uh)) &&
	       uh->dest == bpf_htons(LBD_GENEVE_PORT);
}

/*
 * Geneve from a trusted LB: a mid-flow TCP segment this node has no
 * socket for goes on to the previous owner lbd's option names (second
 * chance); everything else is delivered here.
 */
static __always_inline int from_lb_geneve(struct __sk_buff *skb,
					  const struct lbd_pkt *p,
					  const struct gnv_pkt *g,
					  const struct lbd_pkt *in)
{
	enum lbd_reason r = LBD_BE_DECAP_GENEVE;
	int act;

	if (sc_wanted(skb, g, in)) {
		act = sc_pass_on(skb, p, g, in);
		if (act >= 0)
			return act;
		r = LBD_BE_SC_NO_ROUTE;
	}
	return decap_geneve(skb, p, g, in, r);
}

SEC("tc")
int lbd_tc_ingress(struct __sk_buff *skb)
{
	struct gnv_pkt g = {};
	struct lbd_pkt p = {}, in = {};
	bool lb;
	int r;

	r = skb_pull_ip(skb, &p, LBD_TC_PULL);
	if (r == LBD_PARSE_FRAGMENT && frag_is_encap(skb, &p) &&
	    addr_in(&lbd_be_local, &p.daddr, p.family))
		return src_trusted(&p.saddr, p.family) ?
			       be_verdict(TC_ACT_SHOT, LBD_BE_DROP_FRAGMENT,
					  skb->len) :
			       be_verdict(TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED,
					  skb->len);
	if (r != LBD_OK)
		return TC_ACT_OK;
	if (p.proto == IPPROTO_UDP) {
		if (parse_l4(ctx_data(skb), ctx_data_end(skb), &p) != LBD_OK ||
		    p.dport != bpf_htons(LBD_GENEVE_PORT))
			return TC_ACT_OK;
	} else if (p.proto != IPPROTO_IPIP && p.proto != IPPROTO_IPV6) {
		return TC_ACT_OK;
	}
	/* encapsulated traffic for another node is not ours to judge */
	if (!addr_in(&lbd_be_local, &p.daddr, p.family))
		return TC_ACT_OK;
	/* the kernel checks an IPv4 header after tc ingress; decapsulated
	 * here, the outer one would never be */
	if (p.family == LBD_AF_INET &&
	    !ip4_csum_ok(pkt_at(ctx_data(skb), p.l3_off), p.l4_off - p.l3_off,
			 ctx_data_end(skb)))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_MALFORMED, skb->len);
	lb = src_trusted(&p.saddr, p.family);
	if (p.proto != IPPROTO_UDP) {
		if (lb)
			return decap_ipip(skb, &p);
		return be_verdict(TC_ACT_SHOT,
				  sc_from_peer(&p) ?
					  LBD_BE_DROP_UNTRUSTED_PEER :
					  LBD_BE_DROP_UNTRUSTED,
				  skb->len);
	}
	r = geneve_parse(skb, &p, &g, &in);
	if (lb) {
		if (r)
			return be_verdict(TC_ACT_SHOT, r, skb->len);
		return from_lb_geneve(skb, &p, &g, &in);
	}
	/* not from an LB: only what another backend passed on, from a
	 * peer, delivered whatever it is (it is never passed twice) */
	if (r || !(g.sc_flags & LBD_SC_F_PASSED))
		return be_verdict(TC_ACT_SHOT,
				  sc_from_peer(&p) ?
					  LBD_BE_DROP_UNTRUSTED_PEER :
					  LBD_BE_DROP_UNTRUSTED,
				  skb->len);
	if (!sc_from_peer(&p))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED_PEER,
				  skb->len);
	return decap_geneve(skb, &p, &g, &in, LBD_BE_SC_RECEIVED);
}

SEC("tc")
int lbd_tc_egress(struct __sk_buff *skb)
{
	struct lbd_pkt p = {};

	if (skb_pull_ip(skb, &p, LBD_TC_PULL))
		return TC_ACT_OK;
	if ((p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) ||
	    parse_l4(ctx_data(skb), ctx_data_end(skb), &p) != LBD_OK)
		return TC_ACT_OK;
	return restore_reply(skb, &p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
