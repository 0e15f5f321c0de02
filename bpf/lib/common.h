/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Includes and small definitions every lbd BPF program needs. */
#ifndef LBD_BPF_COMMON_H
#define LBD_BPF_COMMON_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lbd/shared.h"
#include "lbd/hash.h"

/* The one return convention of the datapath's steps: an action (XDP or
 * tc), or LBD_CONTINUE to go on to the next step. */
#define LBD_CONTINUE (-1)

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

#define NSEC_PER_SEC 1000000000ull

/*
 * ICMPv4 header. linux/icmp.h is not used: it pulls in libc headers
 * through linux/if.h, which the BPF target cannot compile.
 */
struct lbd_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		struct {
			__be16 unused;
			__be16 mtu;
		} frag;
		__be32 rest;
	};
};

#define LBD_ICMP_ECHOREPLY 0
#define LBD_ICMP_DEST_UNREACH 3
#define LBD_ICMP_ECHO 8
#define LBD_ICMP_TIME_EXCEEDED 11
#define LBD_ICMP_PARAMETERPROB 12
#define LBD_ICMP_PORT_UNREACH 3 /* code */
#define LBD_ICMP_FRAG_NEEDED 4 /* code */

#define LBD_ICMP6_DST_UNREACH 1
#define LBD_ICMP6_PKT_TOOBIG 2
#define LBD_ICMP6_TIME_EXCEED 3
#define LBD_ICMP6_PARAMPROB 4
#define LBD_ICMP6_ECHO_REQUEST 128
#define LBD_ICMP6_ECHO_REPLY 129
#define LBD_ICMP6_PORT_UNREACH 4 /* code */

/* The IPv4 flags/fragment-offset field. */
#define LBD_IP_DF 0x4000
#define LBD_IP_MF 0x2000
#define LBD_IP_OFFMASK 0x1fff

#define LBD_IPV6_MIN_MTU 1280

/* Geneve header (RFC 8926, section 3.4) and lbd's DSR option. */
struct lbd_genevehdr {
	__u8 opt_len; /* version (2 bits, 0) and option length in words */
	__u8 flags; /* O (0x80), C (0x40) */
	__be16 proto;
	__be32 vni; /* VNI in the high 24 bits */
};

#define LBD_GENEVE_F_CRITICAL 0x40

struct lbd_geneve_opt {
	__be16 opt_class;
	__u8 type;
	__u8 length; /* body in 4-byte words (low 5 bits) */
};

struct lbd_geneve_dsr4 {
	struct lbd_geneve_opt hdr;
	__be32 vip;
	__be16 port;
	__u16 pad;
};

struct lbd_geneve_dsr6 {
	struct lbd_geneve_opt hdr;
	union lbd_addr vip;
	__be16 port;
	__u16 pad;
};

/* lbd's second-chance option (LBD_GENEVE_SC_*): the previous owner of
 * the packet's Maglev slot, its port (Geneve services translate the inner
 * packet to it), flags. */
struct lbd_geneve_sc4 {
	struct lbd_geneve_opt hdr;
	__u8 flags; /* LBD_SC_F_* */
	__u8 pad;
	__be16 prev_port;
	__be32 prev;
};

struct lbd_geneve_sc6 {
	struct lbd_geneve_opt hdr;
	__u8 flags;
	__u8 pad;
	__be16 prev_port;
	union lbd_addr prev;
};

/* What the LB puts in that option: flags and the previous owner, of the
 * outer header's family. */
struct lbd_sc {
	__u8 flags;
	__be16 prev_port;
	union lbd_addr prev;
};

_Static_assert(sizeof(struct lbd_geneve_sc4) == LBD_SC4_OPT_LEN, "sc4");
_Static_assert(sizeof(struct lbd_geneve_sc6) == LBD_SC6_OPT_LEN, "sc6");

#endif /* LBD_BPF_COMMON_H */
