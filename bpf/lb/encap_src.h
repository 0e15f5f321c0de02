/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The LB role's outer source of encapsulated packets (lib/encap.h takes
 * it from the caller), from its load-time knobs. */
#ifndef LBD_LB_ENCAP_SRC_H
#define LBD_LB_ENCAP_SRC_H

#include "maps.h"

/* The outer source: the configured address, or for a prefix its host bits
 * from the flow hash, which spreads flows over RSS queues of backends. */
static __always_inline void encap_source(__u8 family, __u32 hash,
					 union lbd_addr *src)
{
	__u32 mask;

	if (family == LBD_AF_INET) {
		src->v4 = knobs.encap_src4;
		if (knobs.encap4_hostbits) {
			mask = (1u << (knobs.encap4_hostbits & 31)) - 1;
			src->v4 = bpf_htonl(bpf_ntohl(src->v4) | (hash & mask));
		}
		return;
	}
	src->v6[0] = knobs.encap_src6.v6[0];
	src->v6[1] = knobs.encap_src6.v6[1];
	src->v6[2] = knobs.encap_src6.v6[2];
	src->v6[3] = knobs.encap_src6.v6[3];
	if (knobs.encap6_hostbits) {
		mask = knobs.encap6_hostbits >= 32
			       ? 0xffffffff
			       : (1u << knobs.encap6_hostbits) - 1;
		src->v6[3] = bpf_htonl(bpf_ntohl(src->v6[3]) | (hash & mask));
	}
}

#endif /* LBD_LB_ENCAP_SRC_H */
