/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus text exposition (format 0.0.4) of lbd's metrics, rendered in
 * the io process from a snapshot the privileged process gives as JSON
 * (the "metrics" request, see control.c). Names and labels follow
 * Prometheus conventions: an lbd_ prefix, base units (seconds, bytes),
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

/* What the io process adds of its own. */
struct metrics_io {
	unsigned long control_clients;
	unsigned long monitor_clients;
	unsigned long monitor_lost; /* events a slow monitor client missed */
};

/* Renders snap into a malloc'd text; 0 or a negative errno. */
int metrics_render(struct json_object *snap, const struct metrics_io *io,
		   char **out, size_t *len);

#endif /* LBD_METRICS_H */
