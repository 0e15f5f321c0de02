/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LB host's own addresses, of every interface: an address lbd must
 * never take as a VIP (sources.h), since the XDP program would then
 * answer or drop everything sent to it, SSH and the API server's answers
 * included. Library code: 0 or a negative errno.
 */
#ifndef LBD_HOSTADDRS_H
#define LBD_HOSTADDRS_H

#include <stddef.h>

#include "config.h"

/* Every IPv4 and IPv6 address of every interface, sorted
 * (config_addr_cmp) without duplicates, in *out (free it) and *n. */
int hostaddrs_list(struct lbd_conf_addr **out, size_t *n);

#endif /* LBD_HOSTADDRS_H */
