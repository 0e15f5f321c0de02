/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LB program's event ring buffer (drops and new flows, for lbctl
 * monitor), read on the daemon's event loop.
 */
#ifndef LBD_MONITOR_H
#define LBD_MONITOR_H

#include "datapath.h"
#include "lbd/shared.h"

struct dp_monitor;

/* Called for each event; a negative return stops this consume after the
 * event (which is consumed): the rest waits for the next one. */
typedef int (*dp_event_fn)(void *arg, const struct lbd_event *e);

int dp_monitor_open(struct lbd_dp *dp, dp_event_fn fn, void *arg,
		    struct dp_monitor **out);
/* Readable when events wait. */
int dp_monitor_fd(const struct dp_monitor *m);
void dp_monitor_consume(struct dp_monitor *m);
void dp_monitor_close(struct dp_monitor *m);

#endif /* LBD_MONITOR_H */
