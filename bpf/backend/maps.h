/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of the backend companion, pinned by name under the backend lbd's
 * pin directory so that a restarted lbd keeps its Geneve flows.
 */
#ifndef LBD_BACKEND_MAPS_H
#define LBD_BACKEND_MAPS_H

#include "lib/clock.h"
#include "lib/common.h"
#include "lib/stats.h"

const volatile struct lbd_be_knobs be_knobs = {
	.map_abi = LBD_MAP_ABI,
	.flow_timeout = 3600,
};

/* Prefixes whose encapsulated packets are accepted: the backend role's
 * LBs (addresses), the node role's other nodes (struct lbd_src_key). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LBD_BE_MAX_SOURCES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lbd_src_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_be_sources SEC(".maps");

/* This node's addresses: encapsulated packets to others are transit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct lbd_addr_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_be_local SEC(".maps");

/* The other backends, by prefix: a segment one of them passed on
 * (LBD_SC_F_PASSED) is accepted from them (second_chance.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LBD_BE_MAX_PEERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lbd_peer_key4);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_be_peers4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, LBD_BE_MAX_PEERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lbd_peer_key6);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_be_peers6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144); /* set by userspace */
	__type(key, struct lbd_gnv_key);
	__type(value, struct lbd_gnv_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lbd_be_flows SEC(".maps");

LBD_REASON_MAP(lbd_be_stats);

static __always_inline int be_verdict(int action, enum lbd_reason r,
				      __u32 bytes)
{
	reason_count(&lbd_be_stats, r, bytes);
	return action;
}

LBD_CLOCK_MAP(lbd_be_clock);

static __always_inline __u32 be_now(void)
{
	return clock_now(&lbd_be_clock);
}

#endif /* LBD_BACKEND_MAPS_H */
