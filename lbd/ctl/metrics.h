/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus text exposition (format 0.0.4) of lbd's metrics, rendered in
 * the io process from the snapshot the privileged process gives
 * (struct lbd_metrics_head and its records, msg.h; ctl_metrics.c).
 * Names and labels follow Prometheus conventions: an lbd_ prefix, base units (seconds, bytes),
 * _total on counters, label values escaped.
 *
 * Health checks are exported per backend (last check's duration and
 * result, verdict changes) and as the prober's counters; announcements
 * per VIP, with BIRD's connection.
 */
#ifndef LBD_METRICS_H
#define LBD_METRICS_H

#include <stddef.h>
#include <json-c/json.h>

#include "metrics_snap.h"

/* What the io process adds of its own. */
struct metrics_io {
	unsigned long control_clients;
	unsigned long monitor_clients;
	unsigned long monitor_lost; /* events a slow monitor client missed */
	/* the io process's descriptors, which lbd may not list (another
	 * user's): for the process record of pid self_pid (0: none) */
	unsigned int self_pid;
	long self_fds;
	/* role node: the healthCheckNodePort server's (hcserve.h) */
	unsigned long hc_ports, hc_open_failures;
	unsigned long hc_healthz; /* 1: /healthz listens */
};

/* Renders snap into a malloc'd text; 0 or a negative errno. */
int metrics_render_snap(const struct lbd_metrics_snap *snap,
			const struct metrics_io *io, char **out, size_t *len);
/* The same from the payload of LBD_MSG_METRICS, checked first
 * (metrics_snap_decode): -EBADMSG when it is not a snapshot. */
int metrics_render(const void *payload, size_t n, const struct metrics_io *io,
		   char **out, size_t *len);

#endif /* LBD_METRICS_H */
