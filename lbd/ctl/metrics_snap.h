/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The metrics snapshot (msg.h, LBD_MSG_METRICS) as the privileged process
 * builds it (ctl_metrics.c) and the io process reads it (metrics.c): one
 * head and fixed-size records, so that a renamed field fails to compile
 * instead of reading 0.
 */
#ifndef LBD_METRICS_SNAP_H
#define LBD_METRICS_SNAP_H

#include <stddef.h>

#include "msg.h"

struct lbd_metrics_snap {
	struct lbd_metrics_head h; /* h.n_recs records in rec */
	struct lbd_metrics_rec *rec;
	size_t cap;
	int err; /* -ENOMEM once a record could not be added */
};

/* A new record of type at the end, zeroed; NULL (and s->err set) when
 * there is no memory or no room (LBD_MET_MAX_RECS). */
struct lbd_metrics_rec *metrics_snap_add(struct lbd_metrics_snap *s,
					 unsigned int type);
void metrics_snap_free(struct lbd_metrics_snap *s);

/* Copies src into a record's string field dst of size n, cut to fit. */
void metrics_str(char *dst, size_t n, const char *src);
#define METRICS_STR(field, src) metrics_str(field, sizeof(field), src)

/* The payload of LBD_MSG_METRICS (head, then the records) in one
 * malloc'd buffer; 0 or -ENOMEM (or s->err). */
int metrics_snap_encode(const struct lbd_metrics_snap *s, void **buf,
			size_t *len);
/* Reads a payload into out (free with metrics_snap_free) after checking
 * all of it: the length against n_recs, every record's type and strings,
 * each service's backends. 0 or -EBADMSG (-ENOMEM). */
int metrics_snap_decode(const void *buf, size_t len,
			struct lbd_metrics_snap *out);

#endif /* LBD_METRICS_SNAP_H */
