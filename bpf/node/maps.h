/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's socket programs: maps and load-time knobs. Types come
 * from lbd/node.h (included by lbd/shared.h); sizes marked "set by
 * userspace" are placeholders lbd/dp/node.c overrides before load.
 */
#ifndef LBD_NODE_MAPS_H
#define LBD_NODE_MAPS_H

#include "lib/clock.h"
#include "lib/common.h"

const volatile struct lbd_node_knobs node_knobs = {
	.map_abi = LBD_MAP_ABI,
};

/* Every address of a Service port, by family: several entries (its
 * ClusterIP, external IPs, LoadBalancer IPs, NodePort on each node
 * address) name the same id. Not preallocated, as lbd_node_small. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, struct lbd_svc_key4);
	__type(value, struct lbd_node_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lbd_node_svc4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, struct lbd_svc_key6);
	__type(value, struct lbd_node_svc);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lbd_node_svc6 SEC(".maps");

/* Maglev tables, the LB role's layout (struct lbd_maglev_chunk), two a
 * Service port id: 2 * id + (lbd_node_tblseq[id] & 1) is the one in use,
 * the other is rewritten in place and then made the one in use
 * (select.h says why readers never see a torn table). */
struct lbd_node_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LBD_MAGLEV_CHUNKS(LBD_MAGLEV_MIN, 0));
	/* sizes, not types: clang's BTF has only a forward declaration of
	 * a struct an inner map's definition names, and libbpf wants more */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct lbd_maglev_chunk));
	__uint(map_flags, BPF_F_INNER_MAP);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	/* 2 * max_services, set by userspace */
	__uint(max_entries, 2 * LBD_DEFAULT_MAX_SERVICES);
	__type(key, __u32);
	__array(values, struct lbd_node_maglev_inner);
} lbd_node_maglev SEC(".maps");

/* By Service port id: the table in use (its low bit), and a count of
 * the swaps, which a reader checks again after it read a table. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, __u32);
	__type(value, __u32);
} lbd_node_tblseq SEC(".maps");

/* By Service port id: its table and endpoints inline when it has at most
 * LBD_NODE_INLINE_EPS (lbd/node.h says why), under a latch of its own.
 * A hash without preallocation, not an array: its elements come from
 * the slab, in the kernel's direct map, which huge pages map; an array
 * (or a preallocated hash) is vmalloc'd, 4 KiB pages, 16 MB of them for
 * 10,000 entries, and a connect to a Service no other connect kept warm
 * paid TLB misses for it. lbd-bench-node (d), 10 -> 10,000 Services:
 * lbd's CPU a connect +16-17% -> +12-13%, p50 at 10,000 14-16 -> 10 us
 * (docs/benchmarks.md). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, __u32);
	__type(value, struct lbd_node_small);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lbd_node_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LBD_DEFAULT_MAX_BACKENDS); /* set by userspace */
	__type(key, __u32);
	__type(value, struct lbd_backend);
} lbd_node_backends SEC(".maps");

/* Socket and endpoint -> Service address. An LRU: a socket's entries are
 * not removed when it closes; the oldest go when the map is full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* set by userspace */
	__uint(max_entries, LBD_NODE_DEFAULT_REV_ENTRIES);
	__type(key, struct lbd_node_rev_key);
	__type(value, struct lbd_node_rev);
} lbd_node_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	/* set by userspace */
	__uint(max_entries, LBD_NODE_DEFAULT_AFF_ENTRIES);
	__type(key, struct lbd_node_aff_key);
	__type(value, struct lbd_aff);
} lbd_node_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 65536); /* every port of TCP and UDP */
	__type(key, struct lbd_node_port_key);
	__type(value, __u32);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lbd_node_guard SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LBD_NODE_REASON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lbd_node_stats SEC(".maps");

LBD_CLOCK_MAP(lbd_node_clock);

/* What wrote the pinned maps (struct lbd_meta: LBD_MAP_ABI): read by
 * lbd only, before it adopts them (lbd/dp/node.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbd_meta);
} lbd_node_meta SEC(".maps");

#endif /* LBD_NODE_MAPS_H */
