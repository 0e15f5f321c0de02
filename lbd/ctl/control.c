// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The privileged side of the control protocol: requests relayed by the io
 * process (io.c), already checked for who may send them, encoded into
 * struct lbd_ctl_req (ctlreq.h), checked again here, and answered from the daemon's state and
 * the datapath's maps by the handler of their command (ctl_*.c). Every answer is {"id":N,"ok":true,"data":...} or
 * {"id":N,"ok":false,"error":"..."}.
 *
 * Nothing here waits: map walks are bounded by the map sizes, the
 * monitor's ring buffer is read a bounded number of events per loop
 * iteration, and what goes to the io process is queued without blocking
 * (and dropped, counted, when the io process does not keep up).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "control.h"
#include "ctl_int.h"
#include "ctlreq.h"
#include "drains.h"
#include "log.h"
#include "proc.h"

/* -- dispatch and hooks ------------------------------------------------- */

typedef int (*ctl_fn)(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		      struct json_object *out, char *err, size_t errlen);

/* The roles a command answers in (1 << enum lbd_role). */
#define R_LB (1u << LBD_ROLE_LB)
#define R_BACKEND (1u << LBD_ROLE_BACKEND)
#define R_NODE (1u << LBD_ROLE_NODE)
#define R_ALL (R_LB | R_BACKEND | R_NODE)

static const struct {
	ctl_fn fn;
	unsigned int roles;
} handlers[LBD_CTL_CMD_MAX] = {
	[LBD_CTL_STATUS] = { ctl_status, R_ALL },
	[LBD_CTL_SERVICES] = { ctl_services, R_LB | R_NODE },
	[LBD_CTL_BACKENDS] = { ctl_backends, R_LB },
	[LBD_CTL_STATS] = { ctl_stats, R_ALL },
	[LBD_CTL_CONNTRACK] = { ctl_conntrack, R_LB },
	[LBD_CTL_CONNTRACK_FLUSH] = { ctl_conntrack_flush, R_LB },
	[LBD_CTL_DRAIN] = { ctl_drain, R_LB },
	[LBD_CTL_UNDRAIN] = { ctl_undrain, R_LB },
	[LBD_CTL_EXPLAIN] = { ctl_explain, R_LB | R_NODE },
	[LBD_CTL_MONITOR_SET] = { ctl_monitor_set, R_ALL },
	[LBD_CTL_METRICS] = { ctl_metrics, R_ALL },
	[LBD_CTL_RELOAD] = { ctl_reload, R_ALL },
};

int control_handle(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		   struct json_object *out, char *err, size_t errlen)
{
	/* what the io process sent is checked before a field is used */
	if (ctl_req_check(req)) {
		snprintf(err, errlen, "malformed request");
		return -EBADMSG;
	}
	if (!handlers[req->cmd].fn) {
		snprintf(err, errlen, "unknown command %u", req->cmd);
		return -EOPNOTSUPP;
	}
	if (!(handlers[req->cmd].roles & (1u << ctl_cfg(x)->role))) {
		snprintf(err, errlen, "%s: not in the %s role",
			 ctl_cmd_name(req->cmd), ctl_role_name(ctl_cfg(x)));
		return -EOPNOTSUPP;
	}
	return handlers[req->cmd].fn(x, req, out, err, errlen);
}

bool ctl_io_send_json(struct ctl_ctx *x, __u16 type, struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN, &len);

	return *x->io && proc_send(*x->io, type, 0, s, len) == 0;
}

void control_request(struct ctl_ctx *x, const struct lbd_ctl_req *req)
{
	struct json_object *reply, *data = json_object_new_object();
	char err[256] = "";
	int r = control_handle(x, req, data, err, sizeof(err));

	/* a metrics snapshot is its own answer (ctl_metrics) */
	if (!*x->io || (r == 0 && req->cmd == LBD_CTL_METRICS)) {
		json_object_put(data);
		return;
	}
	reply = json_object_new_object();
	jadd(reply, "id", jint(req->id));
	jadd(reply, "ok", jbool(r == 0));
	if (r == 0) {
		jadd(reply, "data", data);
	} else {
		struct json_object *lines;

		/* a refused reload: its problems, one line each */
		if (json_object_object_get_ex(data, "errors", &lines))
			jadd(reply, "errors", json_object_get(lines));
		json_object_put(data);
		jadd(reply, "error", jstr(err[0] ? err : strerror(-r)));
	}
	if (!ctl_io_send_json(x, LBD_MSG_CTL_REPLY, reply)) {
		/* past LBD_MSG_MAX (a listing too long): said, not dropped,
		 * so that the client is not left waiting */
		json_object_put(reply);
		reply = json_object_new_object();
		jadd(reply, "id", jint(req->id));
		jadd(reply, "ok", jbool(false));
		jadd(reply, "error",
		     jstr("the answer is too long; narrow the request"));
		ctl_io_send_json(x, LBD_MSG_CTL_REPLY, reply);
	}
	json_object_put(reply);
}

/* Drains from the file onto the current state: a backend that came
 * (back) with a reload, or everything after a start without adoption. */
static void drains_reapply(struct ctl_ctx *x)
{
	struct drain_set s;
	char path[PATH_MAX];
	int n;

	if (ctl_cfg(x)->role != LBD_ROLE_LB || !ctl_dp(x))
		return;
	drains_path(ctl_cfg(x)->control.socket, path, sizeof(path));
	n = drains_load(path, &s);
	if (n < 0) {
		log_warnx("%s: %s; runtime drains not applied", path,
			  strerror(-n));
		return;
	}
	n = drains_apply(&s, x->st, ctl_dp(x));
	if (n < 0)
		log_warnx("applying the drains of %s: %s", path, strerror(-n));
	drains_free(&s);
}

void control_started(struct ctl_ctx *x)
{
	drains_reapply(x);
}

void control_applied(struct ctl_ctx *x)
{
	drains_reapply(x);
}

void control_reloaded(struct ctl_ctx *x, bool ok)
{
	if (!ok)
		return;
	drains_reapply(x);
	/* a reload may have loaded a new program, with its own ring buffer
	 * and mask: follow it */
	if (x->mon.mask) {
		__u32 mask = x->mon.mask;

		ctl_mon_close(x);
		if (ctl_mon_arm(x, mask))
			log_warnx("monitor: following the new program failed");
	}
}

void control_io_gone(struct ctl_ctx *x)
{
	x->mon.state = false;
	ctl_mon_arm(x, 0);
}

void control_stop(struct ctl_ctx *x)
{
	control_io_gone(x);
}
