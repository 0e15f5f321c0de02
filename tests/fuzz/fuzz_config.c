// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fuzz target: the config parser (config/), as lbd --check and a reload
 * run it. The input is the text of a config file.
 *
 * Beyond the sanitizers, it checks what every caller relies on: a load
 * either gives a config whose index fields stay inside their arrays, or
 * fails with at least one message and no config.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_config(const struct lbd_config *c)
{
	size_t i;

	for (i = 0; i < c->n_services; i++) {
		const struct lbd_conf_service *s = &c->services[i];

		if (s->first_backend + s->n_backends > c->n_backends ||
		    s->first_range + s->n_ranges > c->n_ranges ||
		    (s->health && s->health >= c->n_healths) ||
		    s->file >= c->n_files)
			abort();
		if (!s->wildcard && s->vip.family != LBD_AF_INET &&
		    s->vip.family != LBD_AF_INET6)
			abort();
	}
	for (i = 0; i < c->n_backends; i++)
		if (c->backends[i].file >= c->n_files ||
		    (c->backends[i].health &&
		     c->backends[i].health >= c->n_healths))
			abort();
	if (c->node.n_lb_sources > LBD_MAX_LB_SOURCES ||
	    c->node.n_vips > LBD_MAX_NODE_VIPS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lbd_config *c = NULL;
	struct config_diag d = { 0 };
	char *text = malloc(size + 1);
	int err;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	err = config_load_string(text, "fuzz.conf", &c, &d);
	if (!err) {
		if (!c)
			abort();
		check_config(c);
		config_free(c);
	} else if (err == -EINVAL && (c || !d.n)) {
		/* a refusal says why, and hands out nothing */
		abort();
	}
	config_diag_free(&d);
	free(text);
	return 0;
}
