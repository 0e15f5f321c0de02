/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Runtime drains (lbctl drain) that outlive reloads and restarts.
 *
 * A drain is a pattern: a backend address, a port (0: every port) and
 * optionally one service, named by its key (VIP, port, protocol) rather
 * than its config name, because right after a restart the adopted state
 * knows services by key only. The set of drains is kept in a small text
 * file beside the control socket ("<socket>.drains"), written whole
 * (temporary file, then rename) by the privileged process; a backend is
 * drained while any drain matches it.
 *
 * File format, one drain per line, '#' starts a comment:
 *   ADDR PORT                    every service
 *   ADDR PORT VIP VPORT PROTO    one service
 *
 * Library code: returns 0 or a negative errno.
 */
#ifndef LBD_DRAINS_H
#define LBD_DRAINS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "datapath.h"
#include "state.h"

struct drain {
	struct lbd_conf_addr addr;
	__u16 port; /* host order; 0: any */
	bool has_svc;
	struct lbd_svc_addr svc; /* when has_svc */
};

struct drain_set {
	struct drain *d;
	size_t n;
};

/* The file of the drains of an lbd whose control socket is sock. */
void drains_path(const char *sock, char *buf, size_t len);

/* Reads path; a missing file is an empty set. -EINVAL on a bad line. */
int drains_load(const char *path, struct drain_set *s);
int drains_save(const char *path, const struct drain_set *s);
void drains_free(struct drain_set *s);

/* Parses and formats one line (without the newline). */
int drain_parse(const char *line, struct drain *d);
void drain_format(const struct drain *d, char *buf, size_t len);

/* Whether drain d matches backend b of service s. */
bool drain_matches(const struct drain *d, const struct st_service *s,
		   const struct st_backend *b);
/* Whether every backend that inner matches, outer matches too. */
bool drain_covers(const struct drain *outer, const struct drain *inner);

int drains_add(struct drain_set *s, const struct drain *d);
/* Removes the drains that pattern covers; returns how many. */
size_t drains_remove_covered(struct drain_set *s, const struct drain *pattern);

/*
 * Sets the drained flag of every backend some drain of s matches
 * (through state_set_flag). Backends no drain matches are left as they
 * are. Returns the number of backends matched, or a negative errno.
 */
int drains_apply(const struct drain_set *s, struct lbd_state *st,
		 struct lbd_dp *dp);

/* At start, right after the state was adopted: reads the drains of the
 * lbd whose control socket is sock and applies them, logging problems. */
void drains_restore(const char *sock, struct lbd_state *st, struct lbd_dp *dp);

#endif /* LBD_DRAINS_H */
