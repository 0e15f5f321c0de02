/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The seeded hashes of lbd, compiled into both the XDP program and
 * userspace (Maglev tables, the model in tests, lbctl explain), so the two
 * cannot drift apart.
 *
 * Murmur3's 32-bit block mix and finaliser over 32-bit words. Addresses and
 * ports enter as the words they are in memory on the (little-endian) host,
 * network byte order untouched: every LB host of a VIP is the same
 * architecture, and this saves byte swaps on the hot path.
 */
#ifndef LBD_HASH_H
#define LBD_HASH_H

#include <linux/types.h>

static inline __u32 lbd_rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static inline __u32 lbd_hash_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = lbd_rotl32(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = lbd_rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

static inline __u32 lbd_hash_final(__u32 h, __u32 nwords)
{
	h ^= nwords * 4;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * The flow hash that picks a Maglev slot: client address, client port,
 * service port and protocol, not the VIP, so every LB host with the same
 * config and seed picks the same backend for a flow.
 * ports: client port in the low 16 bits, service port in the high 16
 * (both as on the wire); saddr: 1 word for IPv4, 4 for IPv6.
 */
static inline __u32 lbd_flow_hash4(__u32 seed, __be32 saddr, __u32 ports,
				   __u8 proto)
{
	__u32 h = seed;

	h = lbd_hash_mix(h, saddr);
	h = lbd_hash_mix(h, ports);
	h = lbd_hash_mix(h, proto);
	return lbd_hash_final(h, 3);
}

static inline __u32 lbd_flow_hash6(__u32 seed, const __be32 saddr[4],
				   __u32 ports, __u8 proto)
{
	__u32 h = seed;

	h = lbd_hash_mix(h, saddr[0]);
	h = lbd_hash_mix(h, saddr[1]);
	h = lbd_hash_mix(h, saddr[2]);
	h = lbd_hash_mix(h, saddr[3]);
	h = lbd_hash_mix(h, ports);
	h = lbd_hash_mix(h, proto);
	return lbd_hash_final(h, 6);
}

/* The ports word of the flow hash. */
#define LBD_PORTS(client_port, service_port)                                  \
	((__u32)(client_port) | ((__u32)(service_port) << 16))

/* The slot of a VIP in lbd_vip_slots (before the mask): addr is 1 word
 * for IPv4, 4 for IPv6. Not seeded: VIPs are the operator's, not the
 * network's, and only they are placed by it. */
static inline __u32 lbd_vip_slot_hash(const __u32 *addr, __u32 nwords)
{
	__u32 h = 0, i;

	for (i = 0; i < nwords; i++)
		h = lbd_hash_mix(h, addr[i]);
	return lbd_hash_final(h, nwords);
}

#endif /* LBD_HASH_H */
