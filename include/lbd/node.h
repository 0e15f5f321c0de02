/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's socket-level load balancing (bpf/node/sock.bpf.c): map
 * keys and values, flags, counters and the hash that picks an endpoint,
 * shared by the cgroup programs and userspace (lbd/dp/node.c). Included
 * by lbd/shared.h; the same rules hold: fixed-width types, explicit
 * padding, a size assertion on every struct.
 *
 * Maps of the node role (bpf/node/maps.h):
 *   lbd_node_svc4/6     struct lbd_svc_key4/6 -> struct lbd_node_svc: every
 *                       address of a Service port (ClusterIP, external IP,
 *                       LoadBalancer IP, node address + NodePort), each an
 *                       entry naming the same id
 *   lbd_node_maglev     2 * id + (lbd_node_tblseq[id] & 1) -> Maglev
 *                       table, the LB role's layout (struct
 *                       lbd_maglev_chunk)
 *   lbd_node_tblseq     id -> __u32, swaps of its table (bpf/node/select.h)
 *   lbd_node_backends   backend id -> struct lbd_backend
 *   lbd_node_rev        LRU, struct lbd_node_rev_key -> struct lbd_node_rev
 *   lbd_node_affinity   LRU, struct lbd_node_aff_key -> struct lbd_aff
 *   lbd_node_guard      struct lbd_node_port_key -> __u32 (guarded ports)
 *   lbd_node_stats      per-CPU __u64 counters by enum lbd_node_reason
 */
#ifndef LBD_NODE_H
#define LBD_NODE_H

#include "lbd/hash.h"
#include "lbd/shared.h"

/* Session affinity (Kubernetes ClientIP): a client's endpoint is kept in
 * lbd_node_affinity for affinity_timeout seconds of idleness. */
#define LBD_NODE_SVC_F_AFFINITY (1u << 0)

/* A Service port as the socket hooks find it. One id per Service port:
 * its Maglev table in lbd_node_maglev and its affinity entries. */
struct lbd_node_svc {
	__u32 id;
	__u32 flags; /* LBD_NODE_SVC_F_* */
	__u32 affinity_timeout; /* seconds */
	__u32 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_svc) == 16, "lbd_node_svc");

/*
 * The reverse map: for a socket (its cookie) and the endpoint the hooks
 * sent it to, the Service address it asked for. recvmsg gives a UDP
 * reply that Service address as its source, getpeername returns it. An
 * IPv4 address sits in the first 4 bytes of addr, the rest zero.
 */
struct lbd_node_rev_key {
	__u64 cookie; /* bpf_get_socket_cookie(), SO_COOKIE */
	union lbd_addr addr; /* the endpoint's */
	__be16 port;
	__u8 family;
	__u8 pad[5];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_rev_key) == 32, "lbd_node_rev_key");

struct lbd_node_rev {
	union lbd_addr addr; /* the Service's */
	__be16 port;
	__u16 pad;
	__u32 last_seen; /* seconds of the coarse monotonic clock */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_rev) == 24, "lbd_node_rev");

/*
 * Session affinity on a socket: the client is its network namespace, as
 * Cilium's socket LB has it, not an address. At connect() and sendmsg()
 * an unbound socket has no source address yet (routing picks it later),
 * and a pod is one namespace, which is what ClientIP means to
 * Kubernetes. The value is struct lbd_aff, as the LB role's.
 */
struct lbd_node_aff_key {
	__u64 netns_cookie; /* bpf_get_netns_cookie(), SO_NETNS_COOKIE */
	__u32 svc_id;
	__u32 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_aff_key) == 16, "lbd_node_aff_key");

/* A NodePort no host process may bind (lbd_node_guard). */
struct lbd_node_port_key {
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_port_key) == 4, "lbd_node_port_key");

/* Load-time knobs of the socket programs (const volatile, set through the
 * skeleton before load). */
struct lbd_node_knobs {
	__u32 map_abi; /* LBD_MAP_ABI */
	__u32 hash_seed;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_knobs) == 8, "lbd_node_knobs");

/*
 * The slot hash of a socket's choice, computed alike by the programs and
 * by node_explain: the Service port's id and a 64-bit key, the socket's
 * cookie (every socket its own choice, the same for each datagram of an
 * unconnected UDP socket), or with session affinity the netns cookie
 * (every socket of a client alike, before and after its affinity entry).
 */
static inline __u32 lbd_node_hash(__u32 seed, __u32 svc_id, __u64 key)
{
	__u32 h = seed;

	h = lbd_hash_mix(h, svc_id);
	h = lbd_hash_mix(h, (__u32)key);
	h = lbd_hash_mix(h, (__u32)(key >> 32));
	return lbd_hash_final(h, 3);
}

/*
 * Counters of the socket programs, per CPU in lbd_node_stats, indexed by
 * reason; lbctl and the metrics name them from this list.
 *   X(enum name, metric label, description)
 * Append only: the index is the map key.
 */
#define LBD_NODE_REASONS(X)                                                    \
	X(LBD_NODE_CONNECT_XLATED, "connect_xlated",                           \
	  "connect() to a Service address sent to an endpoint")                \
	X(LBD_NODE_SENDMSG_XLATED, "sendmsg_xlated",                           \
	  "unconnected UDP datagram to a Service address sent to an endpoint") \
	X(LBD_NODE_RECVMSG_REV_HIT, "recvmsg_rev_hit",                         \
	  "UDP reply given its Service address as source")                     \
	X(LBD_NODE_RECVMSG_REV_MISS, "recvmsg_rev_miss",                       \
	  "UDP datagram from a source with no reverse entry for its socket "   \
	  "(most UDP that is not a Service's)")                                \
	X(LBD_NODE_PEER_REV_HIT, "getpeername_rev_hit",                        \
	  "getpeername() answered with the Service address")                   \
	X(LBD_NODE_NO_ENDPOINT, "no_endpoint",                                 \
	  "Service address without an endpoint: connect()/sendmsg() refused "  \
	  "with ECONNREFUSED")                                                 \
	X(LBD_NODE_BIND_REFUSED, "bind_refused",                               \
	  "bind() to a guarded NodePort refused with EPERM")                   \
	X(LBD_NODE_AFFINITY_HIT, "affinity_hit",                               \
	  "endpoint taken from the client's affinity entry")                   \
	X(LBD_NODE_REV_FAILED, "rev_update_failed",                            \
	  "reverse entry not written: connect()/sendmsg() refused with "       \
	  "ENOMEM")                                                            \
	X(LBD_NODE_FAMILY, "endpoint_family",                                  \
	  "endpoint of another family than the Service address: refused "      \
	  "as without endpoint")                                               \
	X(LBD_NODE_TABLE_REREAD, "table_reread",                               \
	  "Maglev table swapped while a connect read it: read again")

enum lbd_node_reason {
#define LBD_NODE_REASON_ENUM(e, label, desc) e,
	LBD_NODE_REASONS(LBD_NODE_REASON_ENUM)
#undef LBD_NODE_REASON_ENUM
	LBD_NODE_REASON_MAX
};

/* Defaults of the sizes userspace sets before load. */
#define LBD_NODE_DEFAULT_REV_ENTRIES 262144
#define LBD_NODE_DEFAULT_AFF_ENTRIES 65536

#endif /* LBD_NODE_H */
