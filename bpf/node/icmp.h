/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP errors about the node role's per-packet flows, for the tc path
 * (nat_icmp.h) and the NIC path (nic_icmp.h): a NAT translates the errors
 * about the flows it translates (RFC 5508 section 4, RFC 5382 section 8,
 * RFC 4787 section 11). What both share, written against the ctx layer
 * (lib/ctx.h): finding the packet an error quotes, and rewriting the
 * error as its flow's entry says. The entry file includes lib/ctx_xdp.h
 * or lib/ctx_skb.h first.
 *
 * The errors translated: IPv4 destination unreachable, time exceeded and
 * parameter problem (types 3, 11, 12); ICMPv6 destination unreachable,
 * packet too big, time exceeded and parameter problem (types 1 to 4).
 * They quote a TCP or UDP packet of their own family, whose IP header
 * and ports are read to find its flow.
 */
#ifndef LBD_NODE_ICMP_H
#define LBD_NODE_ICMP_H

#include "lib/csum.h"
#include "lib/nat_rw.h"
#include "lib/parse.h"

/* What node_icmp_quote found. */
#define NODE_ICMP_NONE 0 /* no error, or one not about TCP/UDP: pass */
#define NODE_ICMP_QUOTE 1 /* the quote's flow in q */
/* The quote's flow in q, but its TCP or UDP header holds fewer than the
 * 8 bytes an error quotes at least (RFC 792, RFC 1812 4.3.2.3): dropped
 * when it is about a translated flow (the kernel, which wants them to
 * find a socket, would drop it too). */
#define NODE_ICMP_SHORT 2

/* A CPU's room for what translating an error takes: on the stack, with
 * the packet path's own frame (tc.bpf.c, nic.bpf.c), it passes the 512
 * bytes a program's frames may take together. The programs do not nest
 * on a CPU (XDP and tc run with bottom halves off), and nothing in it
 * outlives one error. */
struct node_icmp_scratch {
	struct lbd_pkt q; /* the quoted packet */
	struct lbd_rw in; /* what the quote becomes */
	struct lbd_rw out; /* what the error's own header becomes */
	struct lbd_node_nat_key k;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct node_icmp_scratch);
} lbd_node_icmp_scratch SEC(".maps");

/* The scratch, cleared. */
static __always_inline struct node_icmp_scratch *node_icmp_scratch(void)
{
	struct node_icmp_scratch *s;
	__u32 zero = 0;

	s = bpf_map_lookup_elem(&lbd_node_icmp_scratch, &zero);
	if (s)
		__builtin_memset(s, 0, sizeof(*s));
	return s;
}

/* The ICMP and ICMPv6 protocol of a family. */
static __always_inline __u8 node_icmp_proto(__u8 family)
{
	return family == LBD_AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
}

static __always_inline bool node_icmp_is_error(__u8 family, __u8 type)
{
	if (family == LBD_AF_INET)
		return type == LBD_ICMP_DEST_UNREACH ||
		       type == LBD_ICMP_TIME_EXCEEDED ||
		       type == LBD_ICMP_PARAMETERPROB;
	return type >= LBD_ICMP6_DST_UNREACH && type <= LBD_ICMP6_PARAMPROB;
}

/*
 * The packet an ICMP error p quotes, in q as it was sent (q->saddr and
 * q->sport its source), q->l3_off and q->l4_off where its headers sit.
 * The quote's IP header and ports must lie inside the error's IP
 * packet: what follows it in the frame is padding, not part of the
 * quote, and what is rewritten there would be cut off with the checksum
 * made for it.
 */
static __always_inline int
node_icmp_quote(struct lbd_ctx *ctx, const struct lbd_pkt *p, struct lbd_pkt *q)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	__u16 off = p->l4_off + 8;
	const __u8 *ih = pkt_at(data, p->l4_off);
	const __be16 *ports;

	if ((const void *)(ih + 8) > data_end || !pkt_in_ip(p, p->l4_off, 8) ||
	    !node_icmp_is_error(p->family, ih[0]))
		return NODE_ICMP_NONE;
	q->family = p->family;
	q->l3_off = off;
	if (p->family == LBD_AF_INET) {
		const struct iphdr *ip = pkt_at(data, off);
		__u16 hlen;

		if ((const void *)(ip + 1) > data_end || ip->version != 4 ||
		    ip->ihl < 5)
			return NODE_ICMP_NONE;
		hlen = ip->ihl * 4;
		/* a later fragment quotes no ports */
		if (bpf_ntohs(ip->frag_off) & LBD_IP_OFFMASK)
			return NODE_ICMP_NONE;
		q->proto = ip->protocol;
		q->saddr.v4 = ip->saddr;
		q->daddr.v4 = ip->daddr;
		q->l4_off = off + hlen;
	} else {
		const struct ipv6hdr *ip6 = pkt_at(data, off);

		if ((const void *)(ip6 + 1) > data_end || ip6->version != 6)
			return NODE_ICMP_NONE;
		q->proto = ip6->nexthdr;
		copy_addr6(&q->saddr, &ip6->saddr);
		copy_addr6(&q->daddr, &ip6->daddr);
		q->l4_off = off + sizeof(*ip6);
	}
	if (q->proto != IPPROTO_TCP && q->proto != IPPROTO_UDP)
		return NODE_ICMP_NONE;
	ports = pkt_at(data, q->l4_off);
	if ((const void *)(ports + 2) > data_end || !pkt_in_ip(p, q->l4_off, 4))
		return NODE_ICMP_NONE;
	q->sport = ports[0];
	q->dport = ports[1];
	if (!pkt_in_ip(p, q->l4_off, 8))
		return NODE_ICMP_SHORT;
	return NODE_ICMP_QUOTE;
}

/*
 * The key of a flow's entry by a quoted packet q seen from the other end:
 * its destination as source. An error about a packet a flow's client sent
 * (q: client -> endpoint) finds the reverse entry (dir REV), an error
 * about a reply (q: Service -> client) the forward entry (dir FWD).
 */
static __always_inline void node_icmp_key(struct lbd_node_nat_key *k,
					  const struct lbd_pkt *q, __u8 dir)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->saddr = q->daddr;
	k->daddr = q->saddr;
	k->sport = q->dport;
	k->dport = q->sport;
	k->proto = q->proto;
	k->family = q->family;
	k->dir = dir;
}

/*
 * Rewrites the error p: its quote q as in says, then its own header as
 * out says. The quote's changes go into its IPv4 header checksum, its
 * TCP or UDP checksum when the quote holds it (RFC 5508 section 4.2) and
 * the ICMP checksum; the outer ones into the IPv4 header checksum, or
 * the ICMPv6 checksum through its pseudo-header. Every change is made
 * with the checksum that covers it, so the sum of the whole packet (an
 * skb's CHECKSUM_COMPLETE) stays as it was.
 */
static __always_inline int node_icmp_rewrite(struct lbd_ctx *ctx,
					     const struct lbd_pkt *p,
					     const struct lbd_pkt *q,
					     const struct lbd_rw *in,
					     const struct lbd_rw *out)
{
	__sum16 *isum = ctx_ptr(ctx, (p->l4_off & LBD_PKT_OFF_MASK) + 2, 2);

	if (!isum)
		return -1;
	if (rewrite(ctx, q->family, q->proto, q->l3_off, q->l4_off,
		    pkt_ip_end(p), in, isum))
		return -1;
	return rewrite(ctx, p->family, p->proto, p->l3_off, p->l4_off,
		       pkt_ip_end(p), out, NULL);
}

#endif /* LBD_NODE_ICMP_H */
