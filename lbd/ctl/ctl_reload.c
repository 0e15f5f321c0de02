// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbctl reload: the daemon reloads while the request waits, so that the
 * one who asked (systemctl reload, through ExecReload) learns whether the
 * new config was taken, and if not, every problem as the log says it
 * (file:line: setting: message), in "errors".
 */
#include <errno.h>
#include <stdio.h>

#include "ctl_int.h"

int ctl_reload(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	       struct json_object *out, char *err, size_t errlen)
{
	struct json_object *lines;
	struct ctl_info in;
	size_t i;
	int r;

	(void)req;
	if (!x->reload) {
		snprintf(err, errlen, "reload: not offered by this lbd");
		return -EOPNOTSUPP;
	}
	r = x->reload(x->arg);
	ctl_info_get(x, &in);
	if (r) {
		lines = json_object_new_array();
		for (i = 0; i < in.n_last_errors; i++)
			json_object_array_add(lines, jstr(in.last_errors[i]));
		jadd(out, "errors", lines);
		snprintf(err, errlen,
			 "reload rejected (%zu problem%s); still serving "
			 "config generation %lu",
			 in.n_last_errors, in.n_last_errors == 1 ? "" : "s",
			 in.generation);
		return r;
	}
	jadd(out, "generation", jint(in.generation));
	jadd(out, "ms", jdbl(in.last_ms));
	return 0;
}
