// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The trivial XDP program: passes everything. It is the floor of the
 * per-packet benchmark, and the lab attaches it to the peers of veths that
 * must receive XDP_TX or redirected frames (a veth only takes them while its
 * peer has an XDP program).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Entry points are global; the prototype keeps -Wmissing-prototypes. */
int xdp_pass(struct xdp_md *ctx);

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
