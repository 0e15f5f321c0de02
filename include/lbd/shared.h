/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Everything the BPF programs and userspace share: map keys and values,
 * constants, load-time knobs and the typed drop/event reasons. Both sides
 * include this header and nothing else defines these types.
 *
 * Fixed-width __u* types only, explicit padding, and a size assertion on
 * every struct: a layout change here is a map ABI change for pinned maps,
 * so LBD_MAP_ABI goes up with it and a running lbd refuses to adopt maps of
 * another ABI instead of misreading them.
 */
#ifndef LBD_SHARED_H
#define LBD_SHARED_H

#include <linux/types.h>

#define LBD_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

/* 6: the node role's lbd_node_small and lbd_node_svc4/6 hashes without
 * preallocation, lbd_node_small's entries a lock for in-place writes;
 * 5: the NIC path's flow entries carry a DSR flow's outer headers, the
 * backend companion's trusted sources an LPM trie (prefixes), the node
 * role's lbd_node_small (Service ports with few endpoints inline);
 * 4: the node role's two tables a Service port and lbd_node_tblseq;
 * 3: Maglev tables with a backend list and previous owners, chunks of
 * 1024 words; 2: chunks of 4096 slots; 1: pairs */
#define LBD_MAP_ABI 6

/* The one entry of lbd_meta: what wrote the pinned maps. */
struct lbd_meta {
	__u32 map_abi; /* LBD_MAP_ABI of the lbd that created the maps */
	__u32 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_meta) == 8, "lbd_meta");

/* Defaults of the sizes userspace sets before load. */
#define LBD_DEFAULT_MAX_VIPS 4096
#define LBD_DEFAULT_MAX_SERVICES 16384
#define LBD_DEFAULT_MAX_BACKENDS 262144
#define LBD_DEFAULT_CT_ENTRIES 1048576
/* Cilium's default: M > 100 N keeps the imbalance under 1% up to about
 * 160 backends (Maglev paper, section 3.4) */
#define LBD_DEFAULT_MAGLEV_SIZE 16381
/* Bounds of a Maglev table size (a prime): below the minimum the spread is
 * too coarse to be useful; the maximum keeps one table at 4 MiB. */
#define LBD_MAGLEV_MIN 251
#define LBD_MAGLEV_MAX 1048573

/* Whether n is prime: the rule for a Maglev table size, which the config
 * parser and the table builder both apply (userspace only). */
static inline int lbd_is_prime(__u32 n)
{
	__u32 d;

	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (d = 3; (__u64)d * d <= n; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

/*
 * A Maglev table as the program reads it: an inner array map whose
 * values are chunks of LBD_MAGLEV_CHUNK words. Laid end to end they are
 * one array of words:
 *
 *   word 0              the table's size M (0: no backend; size and
 *                       contents change in the same swap)
 *   word 1              N, the entries of the table's backend list
 *   words 2 .. 2+N-1    the backend list: ids in lbd_backends
 *   word 2+N+s          slot s: LBD_MAGLEV_CUR(w) indexes the list for
 *                       the slot's owner, LBD_MAGLEV_PREV(w) for its
 *                       previous owner (LBD_MAGLEV_NONE: none)
 *
 * Four bytes a slot, as with plain ids, yet every slot names two
 * backends: the owner new flows go to, and the one that owned the slot
 * before the last change while it is still configured and not down, to
 * which a backend without the flow passes a segment on (flow_state =
 * "backends", docs/flow-state.md). With the list in the first chunk
 * (N <= LBD_MAGLEV_CHUNK - 2) a packet reads the same chunks as with ids.
 * Values this large let userspace write a whole table with one batch
 * update, which the kernel copies in: no mapping, whose page faults and
 * TLB shootdowns dominated the apply of many tables.
 */
#define LBD_MAGLEV_CHUNK 1024
struct lbd_maglev_chunk {
	__u32 w[LBD_MAGLEV_CHUNK];
};
#define LBD_MAGLEV_HDR 2 /* words before the backend list */
#define LBD_MAGLEV_WORDS(m, n) (LBD_MAGLEV_HDR + (n) + (m))
#define LBD_MAGLEV_CHUNKS(m, n)                                             \
	((LBD_MAGLEV_WORDS(m, n) + LBD_MAGLEV_CHUNK - 1) / LBD_MAGLEV_CHUNK)
#define LBD_MAGLEV_NONE 0xffffu
/* a service's backend list is indexed by 16 bits, NONE excluded */
#define LBD_MAGLEV_MAX_LIST 0xfffeu
#define LBD_MAGLEV_SLOT(cur, prev) ((__u32)(cur) | ((__u32)(prev) << 16))
#define LBD_MAGLEV_CUR(w) ((w) & 0xffffu)
#define LBD_MAGLEV_PREV(w) ((w) >> 16)

/* Address families as stored in maps (values of AF_INET/AF_INET6 on
 * Linux, spelt out so BPF code needs no libc header). */
#define LBD_AF_INET 2
#define LBD_AF_INET6 10

/* Geneve DSR as Cilium's backends accept it: outer UDP to 6081, VNI 2,
 * one option of class 0x014B, type 0x81 (critical), carrying the VIP and
 * the service port. */
#define LBD_GENEVE_PORT 6081
#define LBD_GENEVE_VNI 2
#define LBD_GENEVE_OPT_CLASS 0x014B
#define LBD_GENEVE_OPT_TYPE 0x81
#define LBD_GENEVE_PROTO_ETH 0x6558

/*
 * lbd's own Geneve option, on every packet of a service whose TCP flow
 * state lives on the backends (docs/flow-state.md): it names the
 * previous owner of the packet's Maglev slot, to which a backend that has
 * no socket for a mid-flow segment passes it on, once. A class of the
 * experimental range (RFC 8926 section 7.2: 0xFF00-0xFFFF), a type
 * without the critical bit: a backend that does not know it still
 * decapsulates. Services forwarded by IPIP carry it in Geneve whose
 * protocol is the inner packet's (0x0800, 0x86DD): the inner packet is
 * untranslated, with no inner Ethernet header and no DSR option.
 */
#define LBD_GENEVE_SC_CLASS 0xFFDB
#define LBD_GENEVE_SC_TYPE 0x01
#define LBD_SC_F_PREV 0x01 /* the option names a previous owner */
#define LBD_SC_F_PASSED 0x02 /* a backend passed it on: never again */

/*
 * Drop and event reasons, counted per CPU in lbd_stats, indexed by reason.
 * An X-macro so that lbctl and the metrics name them from this one list.
 *   X(enum name, metric label, description)
 * Append only: the index is the map key of pinned counters.
 */
#define LBD_REASONS(X)                                                        \
	X(LBD_PASS_NOT_VIP, "pass_not_vip", "not for a VIP, passed")          \
	X(LBD_PASS_IP6_EXTHDR, "pass_ip6_exthdr",                             \
	  "IPv6 to a VIP with an extension header lbd does not skip, passed") \
	X(LBD_PASS_NO_NEIGH, "pass_no_neigh",                                 \
	  "next hop not resolved yet, passed to the kernel")                  \
	X(LBD_FWD_TX, "fwd_tx", "forwarded out of the ingress interface")     \
	X(LBD_FWD_REDIRECT, "fwd_redirect", "forwarded to another interface") \
	X(LBD_EV_NEW_FLOW, "new_flow", "new flow, backend chosen by Maglev")  \
	X(LBD_EV_RESELECT, "reselect",                                        \
	  "conntrack entry whose backend left, chosen again")                 \
	X(LBD_EV_ICMP_ECHO, "icmp_echo_reply", "echo request to a VIP answered") \
	X(LBD_EV_ICMP_ERROR_FWD, "icmp_error_fwd",                            \
	  "ICMP error about a VIP flow sent to its backend")                  \
	X(LBD_EV_ICMP_UNREACH, "icmp_unreach_sent",                           \
	  "port unreachable sent for a service without backend")              \
	X(LBD_EV_ICMP_TOOBIG, "icmp_toobig_sent",                             \
	  "fragmentation needed / packet too big sent")                       \
	X(LBD_DROP_MALFORMED_IP4, "malformed_ip4", "bad IPv4 header to a VIP") \
	X(LBD_DROP_MALFORMED_IP6, "malformed_ip6", "bad IPv6 header to a VIP") \
	X(LBD_DROP_MALFORMED_L4, "malformed_l4", "bad TCP/UDP header to a VIP") \
	X(LBD_DROP_MALFORMED_ICMP, "malformed_icmp", "bad ICMP to a VIP")     \
	X(LBD_DROP_FRAGMENT, "fragment", "IP fragment to a VIP")              \
	X(LBD_DROP_VIP_PROTO, "vip_proto", "protocol a VIP does not serve")   \
	X(LBD_DROP_NO_SERVICE, "no_service", "VIP port without a service")    \
	X(LBD_DROP_NO_BACKEND, "no_backend", "service without usable backend") \
	X(LBD_DROP_ICMP_RATELIMIT, "icmp_ratelimit",                          \
	  "ICMP reply suppressed by the rate limit")                          \
	X(LBD_DROP_ICMP_UNHANDLED, "icmp_unhandled",                          \
	  "ICMP to a VIP that is neither echo nor an error about a flow")     \
	X(LBD_DROP_TOOBIG, "toobig",                                          \
	  "too big once encapsulated, reply not possible")                    \
	X(LBD_DROP_NO_ROUTE, "no_route", "no route to the backend")           \
	X(LBD_DROP_NO_TX_PORT, "no_tx_port",                                  \
	  "route leaves by an interface lbd does not transmit on")            \
	X(LBD_DROP_ENCAP, "encap_failed", "no room to encapsulate")           \
	X(LBD_DROP_BACKEND_FAMILY, "backend_family",                          \
	  "backend family cannot carry this VIP's packets")                   \
	X(LBD_BE_DECAP_IPIP, "decap_ipip",                                    \
	  "backend: IPIP/IP6IP6/4-in-6 from a trusted LB decapsulated")       \
	X(LBD_BE_DECAP_GENEVE, "decap_geneve",                                \
	  "backend: Geneve from a trusted LB decapsulated")                   \
	X(LBD_BE_REPLY_RESTORED, "reply_restored",                            \
	  "backend: reply source restored to VIP and service port")          \
	X(LBD_BE_DROP_UNTRUSTED, "untrusted_encap",                           \
	  "backend: encapsulated packet from a source that is not a trusted LB") \
	X(LBD_BE_DROP_MALFORMED, "malformed_encap",                           \
	  "backend: truncated or invalid encapsulation")                      \
	X(LBD_BE_DROP_GENEVE_OPT, "geneve_critical_option",                   \
	  "backend: Geneve with a critical option lbd does not know")         \
	X(LBD_BE_DROP_DECAP, "decap_failed", "backend: decapsulation failed") \
	X(LBD_EV_SNAT_FWD, "snat_fwd", "SNAT: translated towards a backend")  \
	X(LBD_EV_SNAT_REPLY, "snat_reply",                                    \
	  "SNAT: a backend's reply translated back to the client")            \
	X(LBD_EV_SNAT_NEW, "snat_new", "SNAT: a source port allocated")       \
	X(LBD_DROP_SNAT_EXHAUSTED, "snat_exhausted",                          \
	  "SNAT: no free source port towards the backend")                    \
	X(LBD_DROP_SOURCE_RANGE, "source_range",                              \
	  "client outside the service's source ranges")                       \
	X(LBD_PASS_HOST, "pass_host",                                          \
	  "to an LB host address, not one of its services, passed")          \
	X(LBD_DROP_NO_NEIGH, "no_neigh",                                      \
	  "SNAT reply: next hop not resolved yet")                            \
	X(LBD_HC_ENCAP, "hc_encap",                                           \
	  "health check encapsulated to its backend as traffic would be")     \
	X(LBD_HC_DROP_BACKEND, "hc_no_backend",                               \
	  "health check marked for a backend id not in use")                  \
	X(LBD_HC_DROP_NO_SERVICE, "hc_no_service",                            \
	  "health check to a VIP port without a DSR service")                 \
	X(LBD_HC_DROP_ENCAP, "hc_encap_failed",                               \
	  "health check not encapsulated (malformed, no room, family)")       \
	X(LBD_HC_DROP_NO_ROUTE, "hc_no_route",                                \
	  "health check: no route to the backend")                             \
	X(LBD_EV_SYN_STATELESS, "syn_stateless",                              \
	  "TCP SYN forwarded by Maglev, no conntrack entry made for it")      \
	X(LBD_EV_FWD_STATELESS, "fwd_stateless",                              \
	  "forwarded to the Maglev slot's owner, flow state on the backends") \
	X(LBD_BE_SC_FORWARD, "second_chance_fwd",                             \
	  "backend: segment without a local socket passed on to the slot's "   \
	  "previous owner")                                                   \
	X(LBD_BE_SC_RECEIVED, "second_chance_in",                             \
	  "backend: segment another backend passed on, delivered")           \
	X(LBD_BE_SC_NO_ROUTE, "second_chance_no_route",                       \
	  "backend: no route to the previous owner, delivered here")          \
	X(LBD_BE_DROP_UNTRUSTED_PEER, "untrusted_peer",                       \
	  "backend: passed-on segment from a source that is not a peer")  \
	X(LBD_DROP_ICMP_BAD_SOURCE, "icmp_bad_source",                        \
	  "no ICMP reply or error to a source that is not one host "         \
	  "(unspecified, loopback, multicast, broadcast)")                   \
	X(LBD_DROP_IP4_CHECKSUM, "ip4_checksum",                              \
	  "IPv4 header checksum wrong, to a VIP")                             \
	X(LBD_BE_DROP_FRAGMENT, "encap_fragment",                             \
	  "backend: fragmented encapsulation from a trusted LB (lbd does not " \
	  "reassemble, nor lets the kernel decapsulate it unchecked)")

enum lbd_reason {
#define LBD_REASON_ENUM(e, label, desc) e,
	LBD_REASONS(LBD_REASON_ENUM)
#undef LBD_REASON_ENUM
	LBD_REASON_MAX
};

/* Value of the per-CPU lbd_stats array. */
struct lbd_counter {
	__u64 packets;
	__u64 bytes;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_counter) == 16, "lbd_counter");

/* Value of the per-CPU lbd_svc_stats and lbd_be_stats arrays. */
struct lbd_traffic {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
	__u64 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_traffic) == 32, "lbd_traffic");

/* An IPv4 address sits in the first 4 bytes, the rest zero. */
union lbd_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 b[16];
};
LBD_STATIC_ASSERT(sizeof(union lbd_addr) == 16, "lbd_addr");

/*
 * Monitor events, in the lbd_events ring buffer while lbd asks for them
 * (the program's monitor_mask): drops with their reason, new flows.
 */
enum lbd_event_type {
	LBD_EVENT_DROP = 1,
	LBD_EVENT_NEW_FLOW = 2,
};

#define LBD_MON_DROPS (1u << 0)
#define LBD_MON_FLOWS (1u << 1)
#define LBD_NO_ID 0xffffffffu

struct lbd_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u8 type; /* enum lbd_event_type */
	__u8 reason; /* enum lbd_reason */
	__u8 family; /* 0 when the packet did not get that far */
	__u8 proto;
	__be16 sport;
	__be16 dport;
	__u32 svc_id; /* LBD_NO_ID when none */
	__u32 backend_id; /* LBD_NO_ID when none */
	__u32 ifindex;
	__u32 len;
	union lbd_addr saddr;
	union lbd_addr daddr;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_event) == 64, "lbd_event");

/* lbd_vip4 is keyed by __be32, lbd_vip6 by union lbd_addr. */
#define LBD_VIP_F_ICMP_ECHO (1u << 0) /* answer echo requests */
/* An address of the LB host itself serving NodePort-style services
 * (vip = "*"): what is not one of its services is the host's, passed. */
#define LBD_VIP_F_HOST (1u << 1)
struct lbd_vip {
	__u32 flags;
	__u32 services; /* how many services use it (userspace bookkeeping) */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_vip) == 8, "lbd_vip");

struct lbd_svc_key4 {
	__be32 vip;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_svc_key4) == 8, "lbd_svc_key4");

struct lbd_svc_key6 {
	union lbd_addr vip;
	__be16 port;
	__u8 proto;
	__u8 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_svc_key6) == 20, "lbd_svc_key6");

enum lbd_fwd {
	LBD_FWD_NONE = 0,
	LBD_FWD_IPIP = 1, /* IPIP, IP6IP6 or 4-in-6, inner unchanged */
	LBD_FWD_GENEVE = 2, /* Geneve, inner translated to backend:port */
	LBD_FWD_SNAT = 3, /* destination and source translated, both ways */
	LBD_FWD_HYBRID = 4, /* TCP by DSR (lbd_svc.dsr), the rest by SNAT */
};

/* No usable backend: answer with ICMP port unreachable, else drop. */
#define LBD_SVC_F_UNREACH_ICMP (1u << 0)
/* Session affinity by client address (Kubernetes ClientIP): the client
 * port leaves the flow hash, and lbd_affinity4/6 keep the backend. */
#define LBD_SVC_F_AFFINITY (1u << 1)
/* Source ranges (loadBalancerSourceRanges) in lbd_src4/6: only listed
 * clients (ALLOW) or all but them (DENY). */
#define LBD_SVC_F_SRC_ALLOW (1u << 2)
#define LBD_SVC_F_SRC_DENY (1u << 3)
/* flow_state = "backends": TCP goes to its Maglev slot's owner with no
 * conntrack on the LB, the slot's previous owner named in lbd's Geneve
 * option (LBD_GENEVE_SC_*) */
#define LBD_SVC_F_FLOW_BACKENDS (1u << 4)
/* udp_flow_state = "none": UDP to the slot's owner, no conntrack */
#define LBD_SVC_F_UDP_STATELESS (1u << 5)

struct lbd_svc {
	__u32 id; /* index into lbd_maglev and lbd_svc_stats */
	__u32 table_size; /* entries of its Maglev table; 0: no backend */
	__u8 fwd; /* enum lbd_fwd */
	__u8 flags;
	__u8 dsr; /* hybrid: the DSR forwarding for TCP (ipip, geneve) */
	__u8 pad;
	__u32 table_hash; /* identifies the installed table (userspace) */
	__u32 affinity_timeout; /* seconds */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_svc) == 20, "lbd_svc");

/*
 * lbd_vip_slots: the VIPs and their first services, found with one array
 * lookup by lbd_vip_slot_hash of the destination instead of two hash
 * lookups (lbd_vip4/6, then lbd_svc4/6). Userspace derives the table from
 * the services it applied and swaps it in whole; the hash maps stay
 * complete and are what a packet falls back to. A slot holds the VIP
 * that hashes to it first; others that hash to it (SPILL) and services
 * beyond the slot's LBD_SLOT_SVCS (MORE) are found in the hash maps.
 */
#define LBD_SLOT_SVCS 4
#define LBD_SLOT_F_SPILL (1u << 0) /* other VIPs hash here too */
#define LBD_SLOT_F_MORE (1u << 1) /* the VIP has services not listed */
struct lbd_slot_svc {
	__be16 port;
	__u8 proto; /* 0: unused */
	__u8 pad;
	struct lbd_svc svc; /* as in lbd_svc4/6, table_hash 0 */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_slot_svc) == 24, "lbd_slot_svc");

struct lbd_vip_slot {
	union lbd_addr addr;
	__u8 family; /* 0: no VIP holds the slot */
	__u8 flags; /* LBD_SLOT_F_* */
	__u16 pad;
	__u32 vip_flags; /* LBD_VIP_F_*, as in lbd_vip4/6 */
	struct lbd_slot_svc svcs[LBD_SLOT_SVCS]; /* by port, unused last */
	__u32 pad2[2];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_vip_slot) == 128, "lbd_vip_slot");

enum lbd_backend_state {
	LBD_BE_UNUSED = 0, /* slot free; flows pointing here select again */
	LBD_BE_ACTIVE = 1, /* new and existing flows */
	LBD_BE_DRAINING = 2, /* existing flows only */
	LBD_BE_DOWN = 3, /* none; its flows select again */
};

/* lbd_backends: an array indexed by backend id. A slot's gen changes every
 * time the id is given to another backend, so a conntrack entry made for
 * the previous holder is recognised as stale. */
struct lbd_backend {
	union lbd_addr addr;
	__be16 port; /* Geneve translates the service port to this */
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	__u8 state; /* enum lbd_backend_state */
	__u32 gen;
	__u32 svc_id;
	__u16 weight; /* userspace bookkeeping */
	__u16 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_backend) == 32, "lbd_backend");

/* Conntrack: the 5-tuple as the client sent it. */
struct lbd_ct_key4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_ct_key4) == 16, "lbd_ct_key4");

struct lbd_ct_key6 {
	union lbd_addr saddr;
	union lbd_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_ct_key6) == 40, "lbd_ct_key6");

#define LBD_CT_F_CLOSING (1u << 0) /* FIN or RST seen from the client */

struct lbd_ct {
	__u32 backend_id;
	__u32 backend_gen;
	__u32 last_seen; /* seconds of the coarse monotonic clock */
	__u16 flags;
	__be16 nat_port; /* SNAT: the source port towards the backend */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_ct) == 16, "lbd_ct");

/*
 * Whether something last seen at last (a conntrack entry's last_seen) has
 * been idle for more than timeout seconds at now, both seconds of the
 * coarse monotonic clock (bpf/lib/clock.h). Signed: another CPU's
 * second may be one ahead of now, which a u32 difference would turn into
 * four billion seconds of idleness. The one rule of the datapath and of
 * userspace.
 */
static inline int lbd_idle_over(__u32 now, __u32 last, __u32 timeout)
{
	return (__s32)(now - last) > (__s32)timeout;
}

/*
 * SNAT: the reverse direction. A reply from backend:bport to the LB's
 * SNAT address:lport finds the client and the VIP it spoke to. Entries
 * are made by the forward direction, refreshed by both, and age like
 * conntrack entries.
 */
struct lbd_nat_key4 {
	__be32 backend;
	__be16 bport;
	__be16 lport;
	__u8 proto;
	__u8 pad[3];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_nat_key4) == 12, "lbd_nat_key4");

struct lbd_nat_key6 {
	union lbd_addr backend;
	__be16 bport;
	__be16 lport;
	__u8 proto;
	__u8 pad[3];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_nat_key6) == 24, "lbd_nat_key6");

struct lbd_nat {
	union lbd_addr client;
	union lbd_addr vip;
	__be16 cport;
	__be16 vport;
	__u32 last_seen;
	__u16 flags; /* LBD_CT_F_CLOSING */
	__u16 pad;
	__u32 backend_id;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_nat) == 48, "lbd_nat");

/* Source ranges: LPM tries keyed by service id, then the prefix. */
struct lbd_src_key4 {
	__u32 prefixlen; /* 32 (the service id) + the prefix's length */
	__be32 svc_id;
	__be32 addr;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_src_key4) == 12, "lbd_src_key4");

struct lbd_src_key6 {
	__u32 prefixlen;
	__be32 svc_id;
	union lbd_addr addr;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_src_key6) == 24, "lbd_src_key6");

/* Session affinity: a client's backend per service. */
struct lbd_aff_key {
	__u32 svc_id;
	__u8 family;
	__u8 pad[3];
	union lbd_addr client;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_aff_key) == 24, "lbd_aff_key");

struct lbd_aff {
	__u32 backend_id;
	__u32 backend_gen;
	__u32 last_seen;
	__u32 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_aff) == 16, "lbd_aff");

/*
 * The LB program's next hop to a backend, per CPU: what bpf_fib_lookup
 * said, kept for the second it was asked in (a FIB lookup costs more than
 * the rest of an established flow's path). Not pinned.
 */
struct lbd_nh {
	__u32 gen; /* the backend's gen it was resolved for */
	__u32 stamp; /* the second it was resolved in; 0: never */
	__u32 ifindex;
	__u32 mtu; /* the route's */
	__u8 dmac[6];
	__u8 smac[6];
	__u32 pad;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_nh) == 32, "lbd_nh");

/* The route SNAT replies take: from the VIP to the client. */
struct lbd_reply_nh_key {
	union lbd_addr vip;
	union lbd_addr client;
	__u8 family;
	__u8 pad[3];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_reply_nh_key) == 36, "lbd_reply_nh_key");

/* ICMP rate limit, a token bucket per CPU. */
struct lbd_ratelimit {
	__u64 last_ns;
	__u64 tokens; /* in 1/1000 of a token */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_ratelimit) == 16, "lbd_ratelimit");

/*
 * Load-time knobs of the XDP program: a const volatile global set through
 * the skeleton before load, so the verifier prunes what is off. Changing
 * one means loading a new program and replacing the attached one.
 */
/* An encap source prefix gives the flow hash at most this many bits. */
#define LBD_ENCAP_MAX_HOSTBITS 16

struct lbd_knobs {
	__u32 map_abi; /* LBD_MAP_ABI */
	__u32 hash_seed;
	__u32 udp_timeout; /* idle seconds before a UDP flow selects again */
	__u32 tcp_timeout; /* idle seconds before a TCP flow selects again */
	__u32 tcp_closing_timeout; /* after FIN/RST from the client */
	__u32 icmp_rate; /* ICMP replies per second per CPU; 0: none */
	__u32 icmp_burst;
	__u8 encap4_hostbits; /* outer source: encap_src4 + hash bits */
	__u8 encap6_hostbits;
	__u8 have_encap4; /* an IPv4 outer source is configured */
	__u8 have_encap6;
	__be32 encap_src4;
	union lbd_addr encap_src6;
	/* SNAT: the LB's source address per family and its port range */
	__u8 have_snat4;
	__u8 have_snat6;
	__u16 snat_port_min; /* host order */
	__u16 snat_port_max;
	__u16 pad;
	__be32 snat_src4;
	union lbd_addr snat_src6;
	/* slots of lbd_vip_slots less one (2^n - 1): derived from max_vips
	 * by dp_open, not asked for (0 in lbd_dp_opts) */
	__u32 vip_slot_mask;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_knobs) == 84, "lbd_knobs");

/*
 * The idle timeout of a conntrack or SNAT entry of a flow of proto whose
 * entry has flags (LBD_CT_F_*), under the knobs k; lbd_idle_over says
 * whether it ran out. The one rule of the datapath (bpf/lb/select.h,
 * nat.h) and of userspace (lbctl's flows, the metrics' active flows).
 * k is volatile: the program passes its load-time knobs as they are, and
 * the verifier still sees their values.
 */
static inline __u32 lbd_ct_timeout(const volatile struct lbd_knobs *k,
				   __u8 proto, __u16 flags)
{
	/* IPPROTO_UDP: this header includes neither <netinet/in.h> nor
	 * <linux/in.h>, which clash in userspace */
	if (proto == 17)
		return k->udp_timeout;
	return flags & LBD_CT_F_CLOSING ? k->tcp_closing_timeout :
					  k->tcp_timeout;
}

/*
 * The backend companion (bpf/backend). This node's own addresses are a set
 * of addresses: */
struct lbd_addr_key {
	union lbd_addr addr;
	__u8 family;
	__u8 pad[3];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_addr_key) == 20, "lbd_addr_key");

/* The sources trusted to encapsulate to this node (the backend role's LBs,
 * the node role's other nodes) are prefixes of either family in one LPM
 * trie, lbd_be_sources: the family and the padding lead the key, so a
 * prefix of n bits has prefixlen LBD_SRC_PREFIX_BASE + n and one family's
 * prefixes never match the other's addresses; an address is a /32 or
 * /128. */
struct lbd_src_key {
	__u32 prefixlen;
	__u8 family;
	__u8 pad[3];
	union lbd_addr addr;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_src_key) == 24, "lbd_src_key");
#define LBD_SRC_PREFIX_BASE 32
/* Entries of lbd_be_sources: both roles' lists together hold fewer. */
#define LBD_BE_MAX_SOURCES 256

/* Peers: the other backends, which may pass this node a segment on
 * (LBD_SC_F_PASSED), by prefix; LPM tries lbd_be_peers4/6. */
struct lbd_peer_key4 {
	__u32 prefixlen;
	__be32 addr;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_peer_key4) == 8, "lbd_peer_key4");

struct lbd_peer_key6 {
	__u32 prefixlen;
	union lbd_addr addr;
};
LBD_STATIC_ASSERT(sizeof(struct lbd_peer_key6) == 20, "lbd_peer_key6");
/* Entries of each trie: backend_node.peers holds at most this many. */
#define LBD_BE_MAX_PEERS 256

/* A Geneve-forwarded flow as the backend sees it (inner packet after the
 * LB's translation): client -> backend:port. Its replies get the VIP and
 * service port back as their source. */
struct lbd_gnv_key {
	union lbd_addr client;
	union lbd_addr backend;
	__be16 client_port;
	__be16 backend_port;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};
LBD_STATIC_ASSERT(sizeof(struct lbd_gnv_key) == 40, "lbd_gnv_key");

struct lbd_gnv_flow {
	union lbd_addr vip;
	__be16 port;
	__u16 pad;
	__u32 last_seen; /* seconds of the coarse monotonic clock */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_gnv_flow) == 24, "lbd_gnv_flow");

/* Load-time knobs of the backend's tc programs. */
struct lbd_be_knobs {
	__u32 map_abi;
	__u32 flow_timeout; /* idle seconds before a Geneve flow is forgotten */
};
LBD_STATIC_ASSERT(sizeof(struct lbd_be_knobs) == 8, "lbd_be_knobs");

/*
 * Health checks through the datapath (bpf/lb/hc.bpf.c): lbd's check
 * sockets to a VIP carry this socket mark with the backend's id in the low
 * 24 bits (datapath.max_backends is at most 1 << 24); the LB host's tc
 * egress program encapsulates them to that backend. Other marks pass.
 */
#define LBD_HC_MARK_TAG 0x4c000000u
#define LBD_HC_MARK_MASK 0xff000000u
#define LBD_HC_MARK(id) (LBD_HC_MARK_TAG | ((id) & ~LBD_HC_MARK_MASK))

/* Bytes each forwarding adds in front of the inner IP packet (the L2
 * header is replaced, not counted). */
#define LBD_IPIP4_OVERHEAD 20
#define LBD_IPIP6_OVERHEAD 40
/* outer IP + UDP 8 + Geneve 8 + option header 4 + option body + inner
 * Ethernet 14 */
#define LBD_GENEVE4_OVERHEAD (20 + 8 + 8 + 4 + 8 + 14)
#define LBD_GENEVE6_OVERHEAD (40 + 8 + 8 + 4 + 20 + 14)
/* flow_state = "backends": lbd's option (header 4 + body 8 or 20) comes
 * in addition; IPIP services: outer IP + UDP 8 + Geneve 8 + that option */
#define LBD_SC4_OPT_LEN 12
#define LBD_SC6_OPT_LEN 24
#define LBD_GENEVE_SC4_OVERHEAD (LBD_GENEVE4_OVERHEAD + LBD_SC4_OPT_LEN)
#define LBD_GENEVE_SC6_OVERHEAD (LBD_GENEVE6_OVERHEAD + LBD_SC6_OPT_LEN)
#define LBD_IPSC4_OVERHEAD (20 + 8 + 8 + LBD_SC4_OPT_LEN)
#define LBD_IPSC6_OVERHEAD (40 + 8 + 8 + LBD_SC6_OPT_LEN)

/* The node role's socket load balancing: its own header, same rules. */
#include "lbd/node.h"

#endif /* LBD_SHARED_H */
