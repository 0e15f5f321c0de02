// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "load.h"

#include <stdio.h>
#include <string.h>

int bench_lb_load(const char *text, struct lbd_config **cfg,
		  struct lbd_dp **dp, struct lbd_state *st)
{
	struct config_diag d;
	struct apply_result r;
	struct lbd_dp_opts o;
	size_t i;
	int err;

	memset(st, 0, sizeof(*st));
	err = config_load_string(text, "bench.conf", cfg, &d);
	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	config_diag_free(&d);
	if (err)
		return err;
	(*cfg)->dp.pin_path[0] = '\0';
	state_dp_opts(*cfg, &o);
	err = dp_open(&o, dp);
	if (!err)
		err = state_init(st, o.max_services, o.max_backends);
	if (!err)
		err = state_apply(st, *dp, *cfg, NULL, NULL, &r);
	return err;
}
