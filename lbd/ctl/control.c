// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The privileged side of the control protocol: requests relayed by the io
 * process (io.c), already checked for who may send them, decoded into
 * struct lbd_ctl_req (ctlreq.h) and answered from the daemon's state and
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
#include "ipc.h"
#include "log.h"

/* -- dispatch and hooks ------------------------------------------------- */

typedef int (*ctl_fn)(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		      struct json_object *out, char *err, size_t errlen);

static const struct {
	ctl_fn fn;
	bool lb_only;
} handlers[LBD_CTL_CMD_MAX] = {
	[LBD_CTL_STATUS] = { ctl_status, false },
	[LBD_CTL_SERVICES] = { ctl_services, true },
	[LBD_CTL_BACKENDS] = { ctl_backends, true },
	[LBD_CTL_STATS] = { ctl_stats, false },
	[LBD_CTL_CONNTRACK] = { ctl_conntrack, true },
	[LBD_CTL_CONNTRACK_FLUSH] = { ctl_conntrack_flush, true },
	[LBD_CTL_DRAIN] = { ctl_drain, true },
	[LBD_CTL_UNDRAIN] = { ctl_undrain, true },
	[LBD_CTL_EXPLAIN] = { ctl_explain, true },
	[LBD_CTL_MONITOR_SET] = { ctl_monitor_set, false },
	[LBD_CTL_METRICS] = { ctl_metrics, false },
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
	if (handlers[req->cmd].lb_only && ctl_cfg(x)->role != LBD_ROLE_LB) {
		snprintf(err, errlen, "%s: not in the backend role",
			 ctl_cmd_name(req->cmd));
		return -EOPNOTSUPP;
	}
	return handlers[req->cmd].fn(x, req, out, err, errlen);
}

/*
 * Until the io process sends struct lbd_ctl_req (msg.h), it relays a
 * request with its arguments normalised: an address as
 * {"family":4|6,"address":A,"port":P}, explain's service as "vip" and
 * "proto". This puts them back as lbctl wrote them, for ctl_req_decode.
 */
static void relayed_hostport(struct json_object *args, const char *key,
			     struct json_object *o, const char *suffix)
{
	struct json_object *f, *a, *p;
	char s[INET6_ADDRSTRLEN + 16];
	int port;

	if (!json_object_object_get_ex(o, "family", &f) ||
	    !json_object_object_get_ex(o, "address", &a) ||
	    !json_object_object_get_ex(o, "port", &p))
		return;
	port = json_object_get_int(p);
	if (!port)
		snprintf(s, sizeof(s), "%s", json_object_get_string(a));
	else if (json_object_get_int(f) == 6)
		snprintf(s, sizeof(s), "[%s]:%d%s", json_object_get_string(a),
			 port, suffix);
	else
		snprintf(s, sizeof(s), "%s:%d%s", json_object_get_string(a),
			 port, suffix);
	jadd(args, key, jstr(s));
}

static struct json_object *relayed_to_lbctl(struct json_object *msg)
{
	struct json_object *req = json_object_new_object();
	struct json_object *cmd = NULL, *args,
			   *lbctl = json_object_new_object();
	struct json_object *proto = NULL;
	char suffix[8] = "";

	if (json_object_object_get_ex(msg, "cmd", &cmd))
		jadd(req, "cmd", json_object_get(cmd));
	jadd(req, "args", lbctl);
	if (!json_object_object_get_ex(msg, "args", &args) ||
	    !json_object_is_type(args, json_type_object))
		return req;
	if (cmd && !strcmp(json_object_get_string(cmd), "explain") &&
	    json_object_object_get_ex(args, "proto", &proto))
		snprintf(suffix, sizeof(suffix), "/%s",
			 json_object_get_string(proto));
	json_object_object_foreach(args, k, v)
	{
		if (proto && !strcmp(k, "proto"))
			continue;
		if (json_object_is_type(v, json_type_object))
			relayed_hostport(
				lbctl,
				proto && !strcmp(k, "vip") ? "service" : k, v,
				proto && !strcmp(k, "vip") ? suffix : "");
		else
			jadd(lbctl, k, json_object_get(v));
	}
	return req;
}

void control_request(struct ctl_ctx *x, struct json_object *msg)
{
	struct json_object *id, *lbctl, *reply, *data;
	struct lbd_ctl_req req;
	char err[256] = "";
	int r;

	if (!json_object_object_get_ex(msg, "id", &id))
		return;
	lbctl = relayed_to_lbctl(msg);
	data = json_object_new_object();
	r = ctl_req_decode(lbctl, &req, err, sizeof(err));
	json_object_put(lbctl);
	if (!r)
		r = control_handle(x, &req, data, err, sizeof(err));
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
