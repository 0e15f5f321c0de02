// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backend companion: tc programs on a backend's NIC, loaded by lbd in
 * its backend role.
 *
 * Ingress: encapsulated packets (IPIP, IP6IP6, 4-in-6, Geneve) addressed
 * to this node are decapsulated when their outer source is a trusted LB,
 * and dropped (counted) when it is not. Everything else passes untouched.
 * Egress: replies of Geneve flows get the VIP and service port back as
 * their source.
 */
#include <linux/pkt_cls.h>

#include "lbd/bpf/common.h"
#include "lbd/bpf/ctx.h"
#include "lbd/bpf/parse.h"
#include "maps.h"
#include "decap.h"
#include "restore.h"
#include "pull.h"

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

SEC("tc")
int lbd_tc_ingress(struct __sk_buff *skb)
{
	struct lbd_pkt p = {};
	bool geneve;

	if (skb_pull_ip(skb, &p, LBD_TC_PULL))
		return TC_ACT_OK;
	if (p.proto == IPPROTO_UDP) {
		if (parse_l4(ctx_data(skb), ctx_data_end(skb), &p) != LBD_OK ||
		    p.dport != bpf_htons(LBD_GENEVE_PORT))
			return TC_ACT_OK;
		geneve = true;
	} else if (p.proto == IPPROTO_IPIP || p.proto == IPPROTO_IPV6) {
		geneve = false;
	} else {
		return TC_ACT_OK;
	}
	/* encapsulated traffic for another node is not ours to judge */
	if (!addr_in(&lbd_be_local, &p.daddr, p.family))
		return TC_ACT_OK;
	if (!addr_in(&lbd_be_sources, &p.saddr, p.family))
		return be_verdict(TC_ACT_SHOT, LBD_BE_DROP_UNTRUSTED, skb->len);
	return geneve ? decap_geneve(skb, &p) : decap_ipip(skb, &p);
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
