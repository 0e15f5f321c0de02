/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The privileged side of the control protocol (io.c describes it). */
#ifndef LBD_CONTROL_H
#define LBD_CONTROL_H

#include <stdbool.h>
#include <json-c/json.h>

#include "daemon.h"
#include "msg.h"

/* Answers one request relayed by the io process (LBD_MSG_CTL_REQ), on
 * d->io (LBD_MSG_CTL_REPLY). */
void control_request(struct lbd_daemon *d, const struct lbd_ctl_req *req);

/* The role has started: runtime drains apply (lb role). */
void control_started(struct lbd_daemon *d);
/* After a reload attempt: drains apply to the new state, and the monitor
 * follows a newly loaded program. */
void control_reloaded(struct lbd_daemon *d, bool ok);
/* The cluster's services were applied: drains apply to backends that
 * came with them. */
void control_applied(struct lbd_daemon *d);
/* The io process went away: nobody monitors any more. */
void control_io_gone(struct lbd_daemon *d);
/* A backend's state changed at runtime (drain, undrain, health): told
 * to monitor clients that asked for backend changes. */
void control_backend_event(struct lbd_daemon *d, const struct st_service *s,
			   const struct st_backend *b, const char *cause);
/* lbd stops. */
void control_stop(struct lbd_daemon *d);

#endif /* LBD_CONTROL_H */
