// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The programs lbd-bench-fwd puts around the LB under test.
 *
 * bench_gen runs under BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 * in the generator namespace: a frame it returns XDP_TX for leaves by
 * ctx.ingress_ifindex, the veth to the LB. Each frame gets the next of
 * nflows client ports of its CPU (so a flow stays on one CPU, as RSS would
 * keep it), or in a SYN flood a new source address and port, with the
 * checksums fixed (bench_gen_tuple, fwd.h).
 *
 * Live frames come back from the page pool with their data pointers
 * reset but their bytes as the last program left them: after lbd's
 * encapsulation, the first 14 bytes hold the end of the outer headers. So
 * the generator first writes the frame's headers again from gen_frame.
 *
 * bench_redirect is the trivial LB lbd is compared with: every frame to
 * the sink veth through a devmap, as lbd redirects.
 *
 * bench_sink counts what arrives at the sink, per CPU, and drops it.
 *
 * The frame and the flows change from one row of lbd-bench-fwd to the
 * next, so they are globals userspace writes between measurements;
 * what depends on the family only is set before load.
 */
#include "lib/common.h"
#include "lib/csum.h"
#include "fwd.h"

/* Entry points are global; the prototypes keep -Wmissing-prototypes. */
int bench_gen(struct xdp_md *ctx);
int bench_redirect(struct xdp_md *ctx);
int bench_sink(struct xdp_md *ctx);

/* Set by lbd-bench-fwd before load: the family's layout. */
const volatile __u32 gen_tcp_off = ETH_HLEN + sizeof(struct iphdr);
/* the source address's last 16 bits */
const volatile __u32 gen_addr_off = ETH_HLEN + 14;
const volatile __u32 gen_ipv4 = 1; /* an IPv4 header checksum to fix */
const volatile __u32 gen_ncpus = 1;
const volatile __u32 gen_words = BENCH_GEN_WORDS;

/* Set by lbd-bench-fwd before each measurement, with no generator
 * running. */
volatile __u32 gen_nflows = 1; /* client ports per CPU */
volatile __u32 gen_syn; /* a new 5-tuple on every frame */
/* The frame's first gen_words 8-byte words, its headers. */
volatile __u64 gen_frame[BENCH_GEN_WORDS];

/* Frames bench_gen has sent, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_sent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_sink_count);
} sink_count SEC(".maps");

/* Key 0: the sink veth. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} redirect_port SEC(".maps");

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *th = data + gen_tcp_off;
	__be16 *addr = data + gen_addr_off;
	struct iphdr *ip = data + ETH_HLEN;
	__u32 zero = 0, i, nflows;
	__u16 addr_lo = 0;
	__u64 *w = data;
	__be16 port;
	__u64 *sent;

#pragma unroll
	for (i = 0; i < BENCH_GEN_WORDS; i++) {
		if (i >= gen_words || (void *)(w + i + 1) > data_end)
			break;
		w[i] = gen_frame[i];
	}
	if ((void *)(th + 1) > data_end || (void *)(addr + 1) > data_end ||
	    (void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	sent = bpf_map_lookup_elem(&gen_sent, &zero);
	nflows = gen_nflows;
	if (!sent || !nflows)
		return XDP_ABORTED;
	port = bpf_htons(bench_gen_tuple(bpf_get_smp_processor_id(), *sent,
					 nflows, gen_ncpus, gen_syn, &addr_lo));
	(*sent)++;
	csum_replace2(&th->check, th->source, port);
	th->source = port;
	if (gen_syn) {
		__be16 a = bpf_htons(addr_lo);

		csum_replace2(&th->check, *addr, a);
		if (gen_ipv4)
			csum_replace2(&ip->check, *addr, a);
		*addr = a;
	}
	return XDP_TX;
}

SEC("xdp")
int bench_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&redirect_port, 0, XDP_DROP);
}

/*
 * Counts what lbd sent: IPIP, IP6IP6 or 4-in-6 ("lb" mode), or Geneve
 * (Geneve services, and every flow_state = "backends" service). lbd's
 * outer IPv4 header has no options, so l4 follows the fixed header.
 */
static __always_inline void sink_encap_count(struct bench_sink_count *c,
					     __u8 proto, void *l4,
					     void *data_end)
{
	struct udphdr *uh = l4;

	if (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6) {
		c->encapsulated++;
	} else if (proto == IPPROTO_UDP && (void *)(uh + 1) <= data_end &&
		   uh->dest == bpf_htons(LBD_GENEVE_PORT)) {
		c->encapsulated++;
		c->geneve++;
	}
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bench_sink_count *c;
	struct ethhdr *eth = data;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&sink_count, &zero);
	if (!c)
		return XDP_DROP;
	c->packets++;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) <= data_end)
			sink_encap_count(c, ip->protocol, ip + 1, data_end);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) <= data_end)
			sink_encap_count(c, ip6->nexthdr, ip6 + 1, data_end);
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
