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
 *   lbd_node_small      id -> struct lbd_node_small: the Service port's
 *                       table and endpoints inline (up to
 *                       LBD_NODE_INLINE_EPS), or a mark that
 *                       lbd_node_maglev holds its table
 *   lbd_node_backends   backend id -> struct lbd_backend
 *   lbd_node_rev        LRU, struct lbd_node_rev_key -> struct lbd_node_rev
 *   lbd_node_affinity   LRU, struct lbd_node_aff_key -> struct lbd_aff
 *   lbd_node_guard      struct lbd_node_port_key -> __u32 (guarded ports)
 *   lbd_node_stats      per-CPU __u64 counters by enum lbd_node_reason
 */
#ifndef LBD_NODE_H
#define LBD_NODE_H

#include <linux/bpf.h> /* struct bpf_spin_lock */

#include "lbd/hash.h"
#include "lbd/shared.h"

/* Session affinity (Kubernetes ClientIP): a client's endpoint is kept in
 * lbd_node_affinity for affinity_timeout seconds of idleness. */
#define LBD_NODE_SVC_F_AFFINITY (1u << 0)
/* Forwarding of the NIC path (bpf/node/nic.bpf.c) to an endpoint on
 * another node: Geneve in Cilium's DSR format (docs/node.md), not SNAT. */
#define LBD_NODE_SVC_F_GENEVE (1u << 1)

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
 * A Service port with few endpoints (all of Kubernetes' usual ones) keeps
 * what a connect needs in one entry of lbd_node_small, keyed by its id:
 * a Maglev table of LBD_NODE_SMALL_M one-byte slots naming the endpoints
 * that follow it. A connect then reads 3 cache lines of one element (the
 * count, a slot, an endpoint) where the map-of-maps tables cost 8-10
 * lines on ~6 pages: at 10,000 Services spread over tens of MB, those
 * misses were the cost that grew with the number of Services (and the
 * element sits on the direct map's huge pages: bpf/node/maps.h).
 *
 * The same seqcount latch as lbd_node_tblseq's (bpf/node/select.h): of
 * the two copies t[0], t[1], t[seq & 1] is in use; lbd writes the other
 * and then counts seq up. n[k] is the count of endpoints in t[k], or
 * LBD_NODE_SMALL_LARGE: the Service port's table is in lbd_node_maglev
 * under lbd_node_tblseq's latch (more than LBD_NODE_INLINE_EPS endpoints).
 * An all-zero entry (a Service port never given endpoints) has none.
 */
#define LBD_NODE_INLINE_EPS 16 /* a power of 2 (bpf/node/select.h) */
/* 251: about 16 slots an endpoint at 16, with Maglev's balance within
 * one slot (1/16); a socket's endpoint is fixed at connect(), so the
 * small table's larger disruption on a change costs nothing */
#define LBD_NODE_SMALL_M LBD_MAGLEV_MIN
#define LBD_NODE_SMALL_LARGE 0xffu

struct lbd_node_small_ep {
	union lbd_addr addr;
	__be16 port;
	__u8 family;
	__u8 pad;
	__u32 id; /* its lbd_node_backends entry (the tc and NIC paths') */
	__u32 gen;
	__u32 pad2;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_small_ep) == 32, "lbd_node_small_ep");

struct lbd_node_small_tbl {
	/* slot s: the index in ep of its endpoint; hash % LBD_NODE_SMALL_M */
	__u8 slot[LBD_NODE_SMALL_M];
	__u8 pad[256 - LBD_NODE_SMALL_M];
	struct lbd_node_small_ep ep[LBD_NODE_INLINE_EPS];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_small_tbl) == 768,
		  "lbd_node_small_tbl");

struct lbd_node_small {
	__u32 seq; /* t[seq & 1] is in use */
	__u8 n[2]; /* endpoints of t[k], or LBD_NODE_SMALL_LARGE */
	__u8 pad[2];
	/* the kernel's, for userspace's writes in place (BPF_F_LOCK);
	 * readers do not take it: the latch is theirs */
	struct bpf_spin_lock lock;
	__u8 pad2[52]; /* the copies start a cache line of their own */
	struct lbd_node_small_tbl t[2];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_small) == 1600, "lbd_node_small");

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
	/* socket_lb = "host-only": the socket programs translate only the
	 * sockets of this network namespace (its cookie, SO_NETNS_COOKIE
	 * of the host's); pods' are left to the tc path. 0: every socket */
	__u64 host_netns;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_knobs) == 16, "lbd_node_knobs");

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

/*
 * The per-packet path (bpf/node/tc.bpf.c, on the host side of the pod
 * interfaces): traffic the socket programs do not see, a pod's with
 * socket_lb = "host-only". Its per-flow NAT, lbd_node_nat (LRU, pinned
 * beside the socket programs' maps): the forward entry, keyed by a
 * packet as the client sent it (to the Service address), names the
 * endpoint; the reverse entry, keyed by the reply as the endpoint sends
 * it, names the Service address that becomes the reply's source. An IPv4
 * address sits in the first 4 bytes of its union, the rest zero.
 */
#define LBD_NODE_NAT_FWD 1
#define LBD_NODE_NAT_REV 2

struct lbd_node_nat_key {
	union lbd_addr saddr;
	union lbd_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 dir; /* LBD_NODE_NAT_FWD or LBD_NODE_NAT_REV */
	__u8 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_nat_key) == 40, "lbd_node_nat_key");

/* A reverse entry of a flow that came in by a NIC (bpf/node/nic.bpf.c)
 * to an endpoint on this node: the reply leaves by that NIC (ifindex,
 * bpf_redirect_neigh), not up the stack, where a source that is one of
 * the node's addresses (a NodePort's) would be dropped as martian. */
#define LBD_NODE_NAT_F_NIC (1u << 0)
/* Hairpin: the endpoint is the client pod itself. Its packets get the
 * hairpin address as source (the reverse entry is keyed by it) and are
 * sent back into the pod; the reply gets the Service address as source
 * and the pod as destination again (bpf/node/hairpin.h). */
#define LBD_NODE_NAT_F_HAIRPIN (1u << 1)

/* The hairpin source of IPv4, host order: 169.254.42.1, Cilium's
 * service loopback address. Link-local, so no pod or node has it, and
 * a pod routes it by its default route, out to the tc path; a Service
 * address instead could meet a Service port in the reply's destination
 * port. IPv6 uses the Service address (no block like it is reserved
 * that a pod routes by its gateway without neighbour discovery). */
#define LBD_NODE_HAIRPIN4 0xa9fe2a01u

struct lbd_node_nat {
	union lbd_addr addr; /* forward: the endpoint; reverse: the Service */
	__be16 port;
	__u16 flags; /* LBD_NODE_NAT_F_* */
	union {
		/* forward: checked against lbd_node_backends */
		__u32 backend_id;
		/* reverse with LBD_NODE_NAT_F_NIC: the NIC */
		__u32 ifindex;
	};
	__u32 backend_gen;
	__u32 last_seen; /* seconds of the coarse monotonic clock */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_nat) == 32, "lbd_node_nat");

#define LBD_NODE_DEFAULT_NAT_ENTRIES 262144

/*
 * Counters of the tc path, per CPU in lbd_node_tc_stats, indexed by
 * reason (lbd_node_tc_total{reason}, lbctl stats).
 *   X(enum name, metric label, description)
 * Append only: the index is the map key.
 */
#define LBD_NODE_TC_REASONS(X)                                                 \
	X(LBD_NODE_TC_NEW_FLOW, "new_flow",                                    \
	  "packet to a Service address from a pod began a flow: endpoint "    \
	  "chosen, NAT entries written")                                       \
	X(LBD_NODE_TC_FORWARD, "forward_xlated",                               \
	  "packet to a Service address sent to its flow's endpoint")           \
	X(LBD_NODE_TC_REPLY, "reply_xlated",                                   \
	  "reply of an endpoint given the Service address as source")          \
	X(LBD_NODE_TC_NO_ENDPOINT, "no_endpoint",                              \
	  "packet to a Service address without an endpoint: dropped")          \
	X(LBD_NODE_TC_FAMILY, "endpoint_family",                               \
	  "endpoint of another family than the Service address: dropped")      \
	X(LBD_NODE_TC_MALFORMED, "malformed",                                  \
	  "packet to a Service address whose TCP or UDP header cannot be: "    \
	  "dropped")                                                           \
	X(LBD_NODE_TC_FRAGMENT, "fragment",                                    \
	  "IPv4 fragment to a Service address: dropped (later fragments "      \
	  "carry no ports to translate by)")                                   \
	X(LBD_NODE_TC_NAT_FAILED, "nat_update_failed",                         \
	  "NAT entry not written: packet dropped")                             \
	X(LBD_NODE_TC_REWRITE_FAILED, "rewrite_failed",                        \
	  "packet not rewritten (skb helper failed): dropped")                 \
	X(LBD_NODE_TC_ENDPOINT_GONE, "endpoint_gone",                          \
	  "flow whose endpoint left the Service: endpoint chosen again")       \
	X(LBD_NODE_TC_ICMP_XLATED, "icmp_error_xlated",                        \
	  "ICMP error about a translated flow translated as the flow is "      \
	  "(RFC 5508)")                                                        \
	X(LBD_NODE_TC_ICMP_MALFORMED, "icmp_malformed",                        \
	  "ICMP error about a translated flow whose quote is cut short in "    \
	  "its TCP or UDP header: dropped")                                    \
	X(LBD_NODE_TC_HAIRPIN, "hairpin",                                      \
	  "packet of a pod to a Service whose endpoint is that pod: sent "     \
	  "back into it from the hairpin address (also forward_xlated)")

enum lbd_node_tc_reason {
#define LBD_NODE_TC_REASON_ENUM(e, label, desc) e,
	LBD_NODE_TC_REASONS(LBD_NODE_TC_REASON_ENUM)
#undef LBD_NODE_TC_REASON_ENUM
	LBD_NODE_TC_REASON_MAX
};

/*
 * The NIC path (bpf/node/nic.bpf.c, XDP on node_role.interfaces): a
 * Service's external addresses (node address + NodePort, LoadBalancer
 * ingress, externalIPs) reached from outside the node. A flow's endpoint
 * is chosen as the tc path chooses it; an endpoint on this node (its
 * route leaves by an interface that is not in lbd_node_nics) gets the
 * packets with the client address kept, its replies reversed by the tc
 * path at the pod interface (lbd_node_nat, LBD_NODE_NAT_F_NIC); an
 * endpoint on another node gets them from this node's address on the NIC
 * the route leaves by, with a port of the SNAT range, and its replies are
 * reversed by the NIC path; or, for a Service with LBD_NODE_SVC_F_GENEVE,
 * by DSR: translated to the endpoint with the client kept, in Geneve to
 * the node the route names, which answers the client itself.
 *
 * Maps (bpf/node/nic.h):
 *   lbd_node_nics      ifindex -> struct lbd_node_nic (written by lbd)
 *   lbd_node_nic_nat   LRU, struct lbd_node_nat_key -> struct
 *                      lbd_node_nic_nat: the forward entry (the packet
 *                      as the client sent it) and, for SNAT, the reverse
 *                      one (the reply as the endpoint sends it)
 *   lbd_node_nic_stats per-CPU __u64 counters by enum lbd_node_nic_reason
 */
#define LBD_NODE_NIC_F_V4 (1u << 0)
#define LBD_NODE_NIC_F_V6 (1u << 1)

struct lbd_node_nic {
	union lbd_addr addr4; /* first 4 bytes, with LBD_NODE_NIC_F_V4 */
	union lbd_addr addr6; /* with LBD_NODE_NIC_F_V6 */
	__u32 flags;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_nic) == 36, "lbd_node_nic");

/* The flow is SNATed (its endpoint is on another node). */
#define LBD_NODE_NIC_F_SNAT (1u << 0)
/* TCP: a FIN or RST was seen; a SNAT port then ages out sooner. */
#define LBD_NODE_NIC_F_CLOSING (1u << 1)
/* The flow goes by DSR: translated to the endpoint, client kept, then in
 * Geneve from this node's address on NIC oif to outer_daddr; a forward
 * entry only (the endpoint's node answers the client itself). */
#define LBD_NODE_NIC_F_DSR (1u << 2)

struct lbd_node_nic_nat {
	union lbd_addr saddr; /* the packet's source becomes this */
	union lbd_addr daddr; /* and its destination this */
	__be16 sport;
	__be16 dport;
	__u32 flags; /* LBD_NODE_NIC_F_* */
	__u32 backend_id; /* forward: checked against lbd_node_backends */
	__u32 backend_gen;
	__u32 last_seen; /* seconds of the coarse monotonic clock */
	__u16 mtu; /* DSR: the route's towards outer_daddr */
	__u16 pad;
	union lbd_addr outer_daddr; /* DSR: the route's gateway, or daddr */
	__u32 oif; /* DSR: the NIC the route leaves by (lbd_node_nics) */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_nic_nat) == 76, "lbd_node_nic_nat");

/* Load-time knobs of the NIC program (const volatile). */
struct lbd_node_nic_knobs {
	__u16 snat_port_min; /* node_role.snat_ports, host order */
	__u16 snat_port_max;
	__u32 pad;
	/* ICMP errors per second and CPU (0: none), and their burst */
	__u32 icmp_rate;
	__u32 icmp_burst;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_node_nic_knobs) == 16,
		  "lbd_node_nic_knobs");

#define LBD_NODE_DEFAULT_SNAT_MIN 61000
#define LBD_NODE_DEFAULT_SNAT_MAX 65535
/* the NIC program's own defaults; lbd sets the rate from
 * datapath.icmp_rate (default 100, as for the LB role), the burst as the
 * LB role's */
#define LBD_NODE_DEFAULT_ICMP_RATE 100
#define LBD_NODE_DEFAULT_ICMP_BURST 20

/*
 * Counters of the NIC path, per CPU in lbd_node_nic_stats, indexed by
 * reason (lbd_node_nic_total{reason}, lbctl stats).
 *   X(enum name, metric label, description)
 * Append only: the index is the map key.
 */
#define LBD_NODE_NIC_REASONS(X)                                               \
	X(LBD_NODE_NIC_NEW_LOCAL, "new_flow_local",                           \
	  "flow from outside to a Service address began, endpoint on this "   \
	  "node: client address kept")                                        \
	X(LBD_NODE_NIC_NEW_SNAT, "new_flow_snat",                             \
	  "flow from outside to a Service address began, endpoint on "        \
	  "another node: SNATed to this node's address")                      \
	X(LBD_NODE_NIC_FORWARD, "forward_xlated",                             \
	  "packet to a Service address sent to its flow's endpoint")          \
	X(LBD_NODE_NIC_REPLY, "reply_xlated",                                 \
	  "reply of another node's endpoint to a SNAT port sent back to the " \
	  "client")                                                           \
	X(LBD_NODE_NIC_NO_ENDPOINT, "no_endpoint",                            \
	  "packet to a Service address without an endpoint: dropped")         \
	X(LBD_NODE_NIC_FAMILY, "endpoint_family",                             \
	  "endpoint of another family than the Service address: dropped")     \
	X(LBD_NODE_NIC_MALFORMED, "malformed",                                \
	  "packet to a Service address whose TCP or UDP header cannot be: "   \
	  "dropped")                                                          \
	X(LBD_NODE_NIC_FRAGMENT, "fragment",                                  \
	  "IPv4 fragment to a Service address: dropped (later fragments "     \
	  "carry no ports to translate by)")                                  \
	X(LBD_NODE_NIC_NO_ROUTE, "no_route",                                  \
	  "no route to the chosen endpoint: dropped")                         \
	X(LBD_NODE_NIC_NO_SNAT_ADDR, "no_snat_address",                       \
	  "endpoint on another node, but no address of the family on the "    \
	  "NIC towards it: dropped")                                          \
	X(LBD_NODE_NIC_SNAT_EXHAUSTED, "snat_exhausted",                      \
	  "no free SNAT port towards the endpoint: dropped")                  \
	X(LBD_NODE_NIC_NAT_FAILED, "nat_update_failed",                       \
	  "NAT entry not written: dropped")                                   \
	X(LBD_NODE_NIC_REWRITE_FAILED, "rewrite_failed",                      \
	  "packet not rewritten: dropped")                                    \
	X(LBD_NODE_NIC_ENDPOINT_GONE, "endpoint_gone",                        \
	  "flow whose endpoint left the Service, or whose SNAT port was "     \
	  "taken over: chosen again")                                         \
	X(LBD_NODE_NIC_HOST_ENDPOINT, "host_endpoint",                        \
	  "endpoint is one of this node's own addresses (a hostNetwork "      \
	  "pod), whose replies lbd does not see: dropped")                    \
	X(LBD_NODE_NIC_ICMP_XLATED, "icmp_error_xlated",                      \
	  "ICMP error about a flow from outside translated as the flow is "   \
	  "(RFC 5508)")                                                       \
	X(LBD_NODE_NIC_ICMP_MALFORMED, "icmp_malformed",                      \
	  "ICMP error about a flow from outside whose quote is cut short "    \
	  "in its TCP or UDP header: dropped")                                \
	X(LBD_NODE_NIC_NEW_DSR, "new_flow_dsr",                               \
	  "flow from outside to a Service address began, endpoint on "        \
	  "another node: sent there in Geneve, client address kept")          \
	X(LBD_NODE_NIC_DSR_TOO_BIG, "dsr_too_big",                            \
	  "packet of a DSR flow that would exceed the route's MTU in "        \
	  "Geneve: dropped (and answered by dsr_too_big_icmp_sent when it "   \
	  "may be)")                                                          \
	X(LBD_NODE_NIC_DSR_GW_FAMILY, "dsr_gateway_family",                   \
	  "DSR endpoint routed by a gateway of another family (Geneve does "  \
	  "not change families): dropped")                                    \
	X(LBD_NODE_NIC_ENCAP_FAILED, "encap_failed",                          \
	  "packet not encapsulated: dropped")                                 \
	X(LBD_NODE_NIC_DSR_TOO_BIG_ICMP, "dsr_too_big_icmp_sent",             \
	  "packet of a DSR flow that would exceed the route's MTU in "        \
	  "Geneve: answered with fragmentation needed or packet too big")     \
	X(LBD_NODE_NIC_ICMP_RATE_LIMITED, "icmp_rate_limited",                \
	  "packet of a DSR flow too big for the route: dropped without the "  \
	  "ICMP error, over the rate limit")

enum lbd_node_nic_reason {
#define LBD_NODE_NIC_REASON_ENUM(e, label, desc) e,
	LBD_NODE_NIC_REASONS(LBD_NODE_NIC_REASON_ENUM)
#undef LBD_NODE_NIC_REASON_ENUM
		LBD_NODE_NIC_REASON_MAX
};

#endif /* LBD_NODE_H */
