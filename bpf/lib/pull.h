/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The headers of an skb, made linear and parsed, for the tc programs. */
#ifndef LBD_BPF_PULL_H
#define LBD_BPF_PULL_H

#include "lib/ctx.h"
#include "lib/parse.h"

/*
 * Pulls up to pull bytes of skb into its linear part (what a program reads
 * must be there) and parses its Ethernet and IP headers into p. LBD_OK (0),
 * or the parser's result (LBD_PARSE_FRAGMENT for a fragment, with p
 * filled as parse_ip4/parse_ip6 leave it); LBD_PARSE_SHORT for what is
 * not IP.
 */
static __always_inline int skb_pull_ip(struct __sk_buff *skb,
				       struct lbd_pkt *p, __u32 pull)
{
	void *data, *data_end;
	int r;

	bpf_skb_pull_data(skb, skb->len < pull ? skb->len : pull);
	data = ctx_data(skb);
	data_end = ctx_data_end(skb);
	if (parse_l2(data, data_end, p) != LBD_OK)
		return LBD_PARSE_SHORT;
	if (p->h_proto == bpf_htons(ETH_P_IP))
		r = parse_ip4(data, data_end, skb->len, p);
	else if (p->h_proto == bpf_htons(ETH_P_IPV6))
		r = parse_ip6(data, data_end, skb->len, p);
	else
		return LBD_PARSE_SHORT;
	return r;
}

#endif /* LBD_BPF_PULL_H */
