/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LB program's maps and load-time knobs. Types come from
 * lbd/shared.h; sizes marked "set by userspace" are placeholders that
 * lbd overrides before load. Every map is pinned by name under lbd's pin
 * directory, which is what lets a restarted lbd adopt them.
 */
#ifndef LBD_LB_MAPS_H
#define LBD_LB_MAPS_H

#include "lib/clock.h"
#include "lib/common.h"
#include "lib/stats.h"

const volatile struct lbd_knobs knobs = {
	.map_abi = LBD_MAP_ABI,
	.udp_timeout = 60,
	.tcp_timeout = 3600,
	.tcp_closing_timeout = 10,
	.icmp_rate = 100,
	.icmp_burst = 20,
};

/* What lbd wants to hear about (LBD_MON_*); 0 when nobody listens, which
 * costs one load on a drop or a new flow. Not pinned: each program
 * instance has its own, set by the lbd that loaded it. */
volatile __u32 monitor_mask;

/* Not read by the program: records the ABI of the pinned maps. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbd_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_VIPS); /* set by userspace */
	__type(key, __be32);
	__type(value, struct lbd_vip);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_vip4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_VIPS); /* set by userspace */
	__type(key, union lbd_addr);
	__type(value, struct lbd_vip);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_vip6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, struct lbd_svc_key4);
	__type(value, struct lbd_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_svc4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, struct lbd_svc_key6);
	__type(value, struct lbd_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_svc6 SEC(".maps");

/*
 * The VIP table (struct lbd_vip_slot): one inner array, swapped whole when
 * userspace derives a new one, so a packet sees one table or the other.
 * Not pinned: each lbd derives its own from the services it adopts or
 * applies; until the first swap, entry 0 is empty and the hash maps serve.
 */
struct lbd_vip_slots_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* set by userspace: knobs.vip_slot_mask + 1 */
	/* sizes, not types: clang's BTF has only a forward declaration of
	 * a struct an inner map's definition names, and libbpf wants more */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct lbd_vip_slot));
	__uint(map_flags, BPF_F_MMAPABLE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct lbd_vip_slots_inner);
} lbd_vip_slots SEC(".maps");

/*
 * Maglev tables, one inner array per service id, replaced whole: a packet
 * sees the old table or the new one, never a mix. Its values are chunks
 * of words (struct lbd_maglev_chunk: the size, the backend list, then the
 * slots). BPF_F_INNER_MAP lets sizes differ.
 */
struct lbd_maglev_inner {
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
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct lbd_maglev_inner);
} lbd_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LBD_DEFAULT_MAX_BACKENDS); /* set by userspace */
	__type(key, __u32);
	__type(value, struct lbd_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_backends SEC(".maps");

/* Conntrack: one shared LRU hash per family with per-CPU LRU lists (a
 * flow stays on one CPU through RSS, and the lists need no lock). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LBD_DEFAULT_CT_ENTRIES); /* set by userspace */
	__type(key, struct lbd_ct_key4);
	__type(value, struct lbd_ct);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_ct4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LBD_DEFAULT_CT_ENTRIES); /* set by userspace */
	__type(key, struct lbd_ct_key6);
	__type(value, struct lbd_ct);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_ct6 SEC(".maps");

/* SNAT, the reverse direction (see struct lbd_nat). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144); /* set by userspace */
	__type(key, struct lbd_nat_key4);
	__type(value, struct lbd_nat);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_nat4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144); /* set by userspace */
	__type(key, struct lbd_nat_key6);
	__type(value, struct lbd_nat);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_nat6 SEC(".maps");

/* Source ranges per service (LPM: service id, then the prefix). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct lbd_src_key4);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_src4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__type(key, struct lbd_src_key6);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_src6 SEC(".maps");

/* Session affinity: a client's backend per service. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144); /* set by userspace */
	__type(key, struct lbd_aff_key);
	__type(value, struct lbd_aff);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_affinity SEC(".maps");

LBD_REASON_MAP(lbd_stats);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LBD_DEFAULT_MAX_SERVICES); /* set by userspace */
	__type(key, __u32);
	__type(value, struct lbd_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LBD_DEFAULT_MAX_BACKENDS); /* set by userspace */
	__type(key, __u32);
	__type(value, struct lbd_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_be_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lbd_ratelimit);
} lbd_icmp_rl SEC(".maps");

/* The seconds of flow timeouts (see lib/clock.h). */
LBD_CLOCK_MAP(lbd_clock);

/* Next hops to backends, by backend id (see struct lbd_nh). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LBD_DEFAULT_MAX_BACKENDS); /* set by userspace */
	__type(key, __u32);
	__type(value, struct lbd_nh);
} lbd_nexthop SEC(".maps");

/* Next hops of SNAT replies, by VIP and client (see struct lbd_nh): a
 * client's replies take one FIB lookup a second on each CPU, not one
 * each. A cache: not pinned, and an evicted entry is looked up again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct lbd_reply_nh_key);
	__type(value, struct lbd_nh);
} lbd_reply_nh SEC(".maps");

/* Monitor events; read by the lbd that loaded the program, not pinned. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} lbd_events SEC(".maps");

/* The reason of the packet's drop, kept for its event (per CPU: a packet
 * is handled start to end on one). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} lbd_drop_reason SEC(".maps");

/* Interfaces other than the ingress one that forwarded packets may leave
 * by, keyed by ifindex. Not pinned: lbd fills it before it attaches a
 * program, and libbpf 1.1 cannot reuse a pinned devmap (the kernel adds
 * BPF_F_RDONLY_PROG to its flags, which the reuse check then refuses). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} lbd_tx_ports SEC(".maps");

/*
 * Conntrack and SNAT by family. Each helper call names one map: the
 * verifier inlines a lookup whose call site sees one map, while one that
 * may see either goes through an indirect call, and its update too.
 */
static __always_inline struct lbd_ct *ct_find(__u8 family, const void *key)
{
	if (family == LBD_AF_INET)
		return bpf_map_lookup_elem(&lbd_ct4, key);
	return bpf_map_lookup_elem(&lbd_ct6, key);
}

static __always_inline long ct_store(__u8 family, const void *key,
				     const struct lbd_ct *v, __u64 flags)
{
	if (family == LBD_AF_INET)
		return bpf_map_update_elem(&lbd_ct4, key, v, flags);
	return bpf_map_update_elem(&lbd_ct6, key, v, flags);
}

static __always_inline struct lbd_nat *nat_find(__u8 family, const void *key)
{
	if (family == LBD_AF_INET)
		return bpf_map_lookup_elem(&lbd_nat4, key);
	return bpf_map_lookup_elem(&lbd_nat6, key);
}

static __always_inline long nat_store(__u8 family, const void *key,
				      const struct lbd_nat *v, __u64 flags)
{
	if (family == LBD_AF_INET)
		return bpf_map_update_elem(&lbd_nat4, key, v, flags);
	return bpf_map_update_elem(&lbd_nat6, key, v, flags);
}

#endif /* LBD_LB_MAPS_H */
