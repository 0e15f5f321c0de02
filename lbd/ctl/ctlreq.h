/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbctl's requests as they cross from the io process to lbd: struct
 * lbd_ctl_req (msg.h), a fixed layout lbd reads without a parser. The io
 * process checks and normalises a request's JSON arguments (io.c) and
 * encodes them here; lbd checks the struct's fields (ctl_req_check) before
 * a handler reads one (control_handle).
 */
#ifndef LBD_CTLREQ_H
#define LBD_CTLREQ_H

#include <stddef.h>
#include <json-c/json.h>

#include "msg.h"

/* lbctl's name of cmd ("status", "conntrack_flush", ...); NULL when
 * there is none. */
const char *ctl_cmd_name(unsigned int cmd);

/* In io: the command name and its arguments as io.c normalised them
 * (addresses {"family":4|6,"address":"...","port":N}) into req. 0, or
 * -EINVAL (a command or an argument the struct cannot carry). */
int ctl_req_encode(const char *cmd, struct json_object *norm, __u32 id,
		   struct lbd_ctl_req *req);

/* In lbd: whether a request that came from another process may be
 * handled: a command lbd answers, known flags, the service name
 * terminated and printable, addresses of a known family, a protocol of
 * tcp or udp. 0 or -EBADMSG. */
int ctl_req_check(const struct lbd_ctl_req *r);

#endif /* LBD_CTLREQ_H */
