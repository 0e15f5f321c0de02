/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rtnetlink lbd needs (through libmnl): VIP addresses on a backend's
 * loopback, marked as lbd's with an address protocol so that lbd removes
 * only what it added; and the sysctls it sets. Library code: 0 or a
 * negative errno.
 */
#ifndef LBD_NETLINK_H
#define LBD_NETLINK_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Writes val to the sysctl file path, unless it holds val already (a
 * read-only /proc/sys then is no error). 0 or a negative errno. */
int sysctl_write(const char *path, const char *val);
/* Whether the sysctl file path holds val. */
bool sysctl_is(const char *path, const char *val);

/* IFA_PROTO of the addresses lbd adds (a value no other tool uses). */
#define LBD_IFA_PROTO 0xdb

/* Adds addr as a host address (/32, /128) to ifindex; present is fine. */
int nl_addr_add(int ifindex, const struct lbd_conf_addr *addr);
int nl_addr_del(int ifindex, const struct lbd_conf_addr *addr);

/* Lists the addresses lbd added to ifindex (at most max). */
int nl_addr_list_lbd(int ifindex, struct lbd_conf_addr *out, size_t max);

/* Lists every address of ifindex (at most max). */
int nl_addr_list(int ifindex, struct lbd_conf_addr *out, size_t max);

/*
 * The neighbour a packet to dst leaves for: the route's gateway, or dst
 * itself on a connected route; and the interface. -ENETUNREACH without a
 * route.
 */
int nl_nexthop(__u8 family, const union lbd_addr *dst, union lbd_addr *nh,
	       int *ifindex);

/* NDA_PROTOCOL of the neighbour entries lbd makes. */
#define LBD_NEIGH_PROTO LBD_IFA_PROTO

/*
 * Asks the kernel to keep a neighbour entry resolved (NTF_MANAGED, Linux
 * 5.16): the XDP program's FIB lookup then always finds the next hop's
 * address, where it would otherwise pass packets until something else
 * resolved it. The entry is lbd's (NDA_PROTOCOL LBD_NEIGH_PROTO). Only a
 * missing entry or the kernel's own cache entry becomes one: an entry of
 * someone else's (static PERMANENT or NOARP, externally learnt, another
 * protocol's, managed) is left alone, -EEXIST.
 */
int nl_neigh_managed(int ifindex, __u8 family, const union lbd_addr *addr);

/* Removes the entry for addr on ifindex if lbd made it; 0 when there is
 * none or it is someone else's. */
int nl_neigh_release(int ifindex, __u8 family, const union lbd_addr *addr);

#endif /* LBD_NETLINK_H */
