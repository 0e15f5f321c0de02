/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Role "node": receiving direct server return from the other nodes. When
 * node_role.dsr_sources names them, the backend companion
 * (bpf/backend/, lbd/dp/companion.h) goes on the NIC path's interfaces:
 * Geneve from those prefixes to one of this node's addresses is
 * decapsulated and the kernel forwards the inner packet to its pod; the
 * pod's replies leave the NIC with the Service address and port of the
 * Geneve option as source. Daemon code: it logs what fails.
 */
#ifndef LBD_NODE_DSR_H
#define LBD_NODE_DSR_H

#include <stddef.h>

#include "config.h"
#include "lbd/shared.h"

struct node_dsr;

/*
 * Makes the companion what c says (at start, *d NULL, and on a reload):
 * with dsr_sources, loaded when *d is NULL (its maps pinned under
 * node_role.pin_path/companion, adopted after a restart), attached to
 * the interfaces ifs (lbd's programs there replaced in place) and taken
 * off any other, the sources and the node's addresses (addrs and those
 * of ifs) written; without, *d freed and lbd's companion taken off every
 * interface, its pins removed. 0 or a negative errno.
 */
int node_dsr_apply(struct node_dsr **d, const struct lbd_config *c,
		   const int *ifs, size_t n_ifs,
		   const struct lbd_conf_addr *addrs, size_t n_addrs);
/* Frees d; the programs stay attached (the next lbd replaces them). */
void node_dsr_stop(struct node_dsr *d);
/* How many interfaces have the companion (0 without it). */
size_t node_dsr_count(const struct node_dsr *d);
/* The companion's counters, c[LBD_REASON_MAX]; -ENODEV without it. */
int node_dsr_reasons(struct node_dsr *d, struct lbd_counter *out);
/* lbd --check: what the companion would do, on stdout. */
void node_dsr_check(const struct lbd_config *c);
/* lbd --cleanup: the companion off every interface, its pins removed. */
int node_dsr_cleanup(const char *pin_path);

#endif /* LBD_NODE_DSR_H */
