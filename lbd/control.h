/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The privileged side of the control protocol (io.h describes both). */
#ifndef LBD_CONTROL_H
#define LBD_CONTROL_H

#include <json-c/json.h>

#include "daemon.h"

/* Answers one request relayed by the io process, on d->io. */
void control_request(struct lbd_daemon *d, struct json_object *msg);

#endif /* LBD_CONTROL_H */
