/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The backend role's datapath: the tc companion's programs (ingress and
 * egress on the NIC encapsulated traffic arrives on) and its maps. The
 * role (lbd/backend.c) decides what they hold; this module is the only
 * code that reaches them. Library code: 0 or a negative errno.
 */
#ifndef LBD_COMPANION_H
#define LBD_COMPANION_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "lbd/shared.h"

struct companion;

/* Loads the programs with their maps pinned under pin_path (a pinned map
 * of another size fails: lbd --cleanup first). */
int companion_load(const char *pin_path, __u32 flow_entries,
		   __u32 flow_timeout, struct companion **out);
void companion_destroy(struct companion *c);
/* Attaches both programs to ifindex, replacing lbd's programs there in
 * one step; companion_detach removes them (0 also when there are none). */
int companion_attach(struct companion *c, int ifindex);
int companion_detach(int ifindex);
/* Whether lbd's filter on ifindex (either direction) holds a companion
 * program, by its name: the handle is lbd's for every role's tc
 * programs. */
bool companion_attached(int ifindex);
/* Removes the companion's pinned maps under pin_path. */
void companion_unpin(const char *pin_path);

/* Make a set hold exactly the addresses given: the LBs (or nodes) trusted
 * to encapsulate to this node, as prefixes (an address is a /32 or /128),
 * and this node's own addresses. */
int companion_set_sources(struct companion *c, const struct lbd_conf_addr *a,
			  size_t n);
int companion_set_local(struct companion *c, const struct lbd_conf_addr *a,
			size_t n);
/* The peers that may pass segments on (second chance), as prefixes. */
int companion_set_peers(struct companion *c, const struct lbd_conf_addr *a,
			size_t n);
/* The drop and event counters, summed over CPUs: c[LBD_REASON_MAX]. */
int companion_reasons_read(struct companion *c, struct lbd_counter *out);

#endif /* LBD_COMPANION_H */
