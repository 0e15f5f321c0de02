// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-xdp's reference rows: the conntrack map operations that an
 * established flow and a new flow cannot do without, alone. Loaded on the
 * LB program's maps (dp_reuse_maps: the same conntrack maps, their size,
 * flags and age), with its key and lookups (bpf/lb/select.h), and nothing
 * else: parse, build the key, look it up or write it.
 *
 * And the IPv4 header checksum's reference: the parse alone, and the
 * parse with the header checksum verified (parse_ip4_csum, as lbd does
 * for packets to a VIP); the difference is what the check costs.
 */
#include "lib/common.h"
#include "lib/ctx_xdp.h"
#include "lib/parse.h"
#include "lb/maps.h"
#include "lb/select.h"

int ct_lookup_alone(struct xdp_md *ctx);
int ct_insert_alone(struct xdp_md *ctx);
int parse_alone(struct xdp_md *ctx);
int parse_csum_alone(struct xdp_md *ctx);

/* p's flow, for what is TCP or UDP over IP (with csum, an IPv4 header
 * with a right checksum); -1 for the rest. */
static __always_inline int flow_of_csum(struct xdp_md *ctx, struct lbd_pkt *p,
					bool csum)
{
	void *data = ctx_data(ctx), *data_end = ctx_data_end(ctx);
	int r;

	if (parse_l2(data, data_end, p) != LBD_OK)
		return -1;
	if (p->h_proto == bpf_htons(ETH_P_IP))
		r = parse_ip4_csum(data, data_end, ctx_len(ctx), p, csum);
	else
		r = parse_ip6(data, data_end, ctx_len(ctx), p);
	if (r != LBD_OK || parse_l4(data, data_end, p) != LBD_OK)
		return -1;
	return 0;
}

static __always_inline int flow_of(struct xdp_md *ctx, struct lbd_pkt *p)
{
	return flow_of_csum(ctx, p, false);
}

/* XDP_TX when the flow has an entry, XDP_DROP when not. */
SEC("xdp")
int ct_lookup_alone(struct xdp_md *ctx)
{
	struct lbd_ct_key4 k4 = {};
	struct lbd_ct_key6 k6 = {};
	struct lbd_pkt p = {};

	if (flow_of(ctx, &p))
		return XDP_ABORTED;
	return ct_find(p.family, ct_key(&p, &k4, &k6)) ? XDP_TX : XDP_DROP;
}

/* XDP_TX when the flow's entry was written. */
SEC("xdp")
int ct_insert_alone(struct xdp_md *ctx)
{
	struct lbd_ct_key4 k4 = {};
	struct lbd_ct_key6 k6 = {};
	struct lbd_pkt p = {};
	struct lbd_ct v = {};

	if (flow_of(ctx, &p))
		return XDP_ABORTED;
	return ct_store(p.family, ct_key(&p, &k4, &k6), &v, BPF_ANY) ?
		       XDP_DROP :
		       XDP_TX;
}

/* XDP_TX when the packet parses, as far as the flow's ports. */
SEC("xdp")
int parse_alone(struct xdp_md *ctx)
{
	struct lbd_pkt p = {};

	return flow_of(ctx, &p) ? XDP_ABORTED : XDP_TX;
}

/* The same, and the IPv4 header checksum verified. */
SEC("xdp")
int parse_csum_alone(struct xdp_md *ctx)
{
	struct lbd_pkt p = {};

	return flow_of_csum(ctx, &p, true) ? XDP_ABORTED : XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
