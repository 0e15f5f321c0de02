// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The programs lbd-bench-fwd puts around the LB under test.
 *
 * bench_gen runs under BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES
 * in the generator namespace: a frame it returns XDP_TX for leaves by
 * ctx.ingress_ifindex, the veth to the LB. Each frame gets the next of
 * nflows client ports of its CPU (so a flow stays on one CPU, as RSS would
 * keep it), with the TCP checksum fixed.
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
 */
#include "lbd/bpf/common.h"
#include "lbd/bpf/csum.h"
#include "fwd.h"

/* Entry points are global; the prototypes keep -Wmissing-prototypes. */
int bench_gen(struct xdp_md *ctx);
int bench_redirect(struct xdp_md *ctx);
int bench_sink(struct xdp_md *ctx);

/* Set by lbd-bench-fwd before load. */
const volatile __u32 gen_tcp_off = ETH_HLEN + sizeof(struct iphdr);
const volatile __u32 gen_nflows = 1; /* client ports per CPU */
const volatile __u16 gen_port_base = 1024; /* the template's port */
/* The frame's first gen_words 8-byte words, its headers. */
const volatile __u64 gen_frame[BENCH_GEN_WORDS];
const volatile __u32 gen_words = BENCH_GEN_WORDS;

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
	__u64 *w = data;
	__u32 zero = 0;
	__be16 port;
	__u64 *sent;
	__u32 i;

#pragma unroll
	for (i = 0; i < BENCH_GEN_WORDS; i++) {
		if (i >= gen_words || (void *)(w + i + 1) > data_end)
			break;
		w[i] = gen_frame[i];
	}
	if ((void *)(th + 1) > data_end)
		return XDP_ABORTED;
	sent = bpf_map_lookup_elem(&gen_sent, &zero);
	if (!sent)
		return XDP_ABORTED;
	port = bpf_htons(gen_port_base +
			 (__u16)(bpf_get_smp_processor_id() * gen_nflows +
				 *sent % gen_nflows));
	(*sent)++;
	csum_replace2(&th->check, th->source, port);
	th->source = port;
	return XDP_TX;
}

SEC("xdp")
int bench_redirect(struct xdp_md *ctx)
{
	return bpf_redirect_map(&redirect_port, 0, XDP_DROP);
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

		if ((void *)(ip + 1) <= data_end &&
		    ip->protocol == IPPROTO_IPIP)
			c->encapsulated++;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) <= data_end &&
		    ip6->nexthdr == IPPROTO_IPV6)
			c->encapsulated++;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
