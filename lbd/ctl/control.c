// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The privileged side of the control protocol: requests relayed by the io
 * process (io.c), already checked for who may send them and with their
 * arguments normalised, answered from the daemon's state and the
 * datapath's maps. Every answer is {"id":N,"ok":true,"data":...} or
 * {"id":N,"ok":false,"error":"..."}.
 *
 * Nothing here waits: map walks are bounded by the map sizes, the
 * monitor's ring buffer is read a bounded number of events per loop
 * iteration, and what goes to the io process is queued without blocking
 * (and dropped, counted, when the io process does not keep up).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "control.h"
#include "ctl_int.h"
#include "drains.h"
#include "ipc.h"
#include "log.h"

/* -- dispatch and hooks ------------------------------------------------- */

typedef int (*ctl_fn)(struct ctl_ctx *x, struct json_object *args,
		      struct json_object *out, char *err, size_t errlen);

static const struct {
	const char *cmd;
	ctl_fn fn;
	bool lb_only;
} handlers[] = {
	{ "status", ctl_status, false },
	{ "services", ctl_services, true },
	{ "backends", ctl_backends, true },
	{ "stats", ctl_stats, false },
	{ "conntrack", ctl_conntrack, true },
	{ "conntrack_flush", ctl_conntrack_flush, true },
	{ "drain", ctl_drain, true },
	{ "undrain", ctl_undrain, true },
	{ "explain", ctl_explain, true },
	{ "monitor_set", ctl_monitor_set, false },
	{ "metrics", ctl_metrics, false },
};

void control_request(struct ctl_ctx *x, struct json_object *msg)
{
	struct json_object *id, *cmd, *args, *reply, *data;
	char err[256] = "";
	const char *name;
	size_t i;
	int r = -EOPNOTSUPP;

	if (!json_object_object_get_ex(msg, "id", &id) ||
	    !json_object_object_get_ex(msg, "cmd", &cmd))
		return;
	if (!json_object_object_get_ex(msg, "args", &args))
		args = NULL;
	name = json_object_get_string(cmd);
	data = json_object_new_object();
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].cmd, name))
			continue;
		if (handlers[i].lb_only && ctl_cfg(x)->role != LBD_ROLE_LB) {
			snprintf(err, sizeof(err),
				 "%s: not in the backend role", name);
			r = -EOPNOTSUPP;
		} else {
			r = handlers[i].fn(x, args, data, err, sizeof(err));
		}
		break;
	}
	if (i == sizeof(handlers) / sizeof(handlers[0]))
		snprintf(err, sizeof(err), "unknown command %s", name);
	if (!*x->io) {
		json_object_put(data);
		return;
	}
	reply = json_object_new_object();
	jadd(reply, "id", json_object_get(id));
	jadd(reply, "ok", jbool(r == 0));
	if (r == 0) {
		jadd(reply, "data", data);
	} else {
		json_object_put(data);
		jadd(reply, "error", jstr(err[0] ? err : strerror(-r)));
	}
	ipc_send(*x->io, reply);
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
