/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbctl's requests, from the JSON a client sends to the fixed struct the
 * handlers take (struct lbd_ctl_req, msg.h): the only place control reads
 * JSON. Whoever calls it has checked the protocol version and the
 * client's rights (io.c); everything else is checked here, strictly:
 * unknown commands and arguments, wrong types, a service name that is
 * not one, an address that is not an IP address, a port out of range are
 * errors, never ignored or truncated.
 */
#ifndef LBD_CTLREQ_H
#define LBD_CTLREQ_H

#include <stddef.h>
#include <json-c/json.h>

#include "msg.h"

/*
 * Decodes {"cmd":NAME,"args":{...}} into out (zeroed first; out->id is
 * left 0). NAME is one of lbctl's commands (lbctl(8)):
 *   status, services, stats                  no arguments
 *   backends         "service"
 *   conntrack        "client", "vip", "backend" (ADDR[:PORT]), "service",
 *                    "proto" (tcp|udp), "all" (bool), "limit" (0-1000000)
 *   conntrack_flush  the same filters, no "all" or "limit"
 *   drain, undrain   "backend" (ADDR[:PORT], needed), "service"
 *   explain          "client" (ADDR:PORT), "service" (VIP:PORT/tcp|udp)
 *   monitor          "drops", "flows", "health" (bools; none: all),
 *                    "service"
 * or one the io process asks of its own: "metrics", and "monitor_set"
 * with "drops", "flows", "state" (bools). Returns 0, or -EINVAL with the
 * reason in err.
 */
int ctl_req_decode(struct json_object *msg, struct lbd_ctl_req *out, char *err,
		   size_t errlen);

/* Whether a request that came from another process may be handled: a
 * command lbd answers, known flags, the service name terminated and
 * printable, addresses of a known family, a protocol of tcp or udp.
 * 0 or -EBADMSG. control_handle checks every request with it. */
int ctl_req_check(const struct lbd_ctl_req *r);

/* The command's name as lbctl spells it ("?" if none). */
const char *ctl_cmd_name(unsigned int cmd);

#endif /* LBD_CTLREQ_H */
