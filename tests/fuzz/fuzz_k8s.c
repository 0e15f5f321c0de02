// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fuzz target: the translation of Kubernetes objects into lbd services
 * (lbd/k8s/k8s_model.c), as the API server's answers reach it.
 *
 * The input is one JSON object:
 *   {"opts": N, "services": [Service...], "slices": [EndpointSlice...]}
 * opts' bits choose the datapath's abilities (k8s_opts): bits 0-1 the
 * forwarding (ipip, geneve, snat), then encap4, encap6, snat4, snat6.
 * Every element of both arrays is read as both a Service and an
 * EndpointSlice (a hostile API server sends what it likes where it
 * likes); what parses is sorted and translated.
 *
 * Beyond the sanitizers, the result must be usable as a config's
 * services: indexes inside their arrays, VIPs and backends of one family
 * as the VIP's, TCP or UDP with a port.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <json-c/json.h>

#include "k8s_model.h"

#define FUZZ_K8S_MAX 64 /* objects of each kind looked at */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const struct k8s_set *set)
{
	size_t i, j;

	for (i = 0; i < set->n_svc; i++) {
		const struct lbd_conf_service *s = &set->svc[i];

		if (s->first_backend + s->n_backends > set->n_be)
			abort();
		if (s->vip.family != LBD_AF_INET &&
		    s->vip.family != LBD_AF_INET6)
			abort();
		if (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP)
			abort();
		if (!s->port || s->origin != LBD_ORIGIN_K8S)
			abort();
		if (!memchr(s->name, '\0', sizeof(s->name)) ||
		    !memchr(s->k8s_ref, '\0', sizeof(s->k8s_ref)))
			abort();
		for (j = 0; j < s->n_backends; j++) {
			const struct lbd_conf_backend *b =
				&set->be[s->first_backend + j];

			if (!b->port)
				abort();
			/* a Service's endpoints are of its VIP's family
			 * (k8s_model.h) */
			if (b->addr.family != s->vip.family)
				abort();
		}
	}
	for (i = 0; i < set->n_warnings; i++)
		if (!set->warnings[i])
			abort();
}

static size_t parse_all(struct json_object *arr, struct k8s_service **svcs,
			size_t *n_svcs, struct k8s_slice **sls, size_t *n_sls)
{
	size_t i, n = json_object_array_length(arr);
	char err[256];

	if (n > FUZZ_K8S_MAX)
		n = FUZZ_K8S_MAX;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct k8s_service *s = calloc(1, sizeof(*s));
		struct k8s_slice *sl = calloc(1, sizeof(*sl));

		if (s &&
		    !k8s_service_parse(o, "lbd.io/lb", s, err, sizeof(err)) &&
		    s->followed) {
			svcs[(*n_svcs)++] = s;
			s = NULL;
		}
		if (s) {
			k8s_service_free(s);
			free(s);
		}
		if (sl && !k8s_slice_parse(o, sl, err, sizeof(err))) {
			sls[(*n_sls)++] = sl;
			sl = NULL;
		}
		if (sl) {
			k8s_slice_free(sl);
			free(sl);
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_service *svcs[2 * FUZZ_K8S_MAX];
	struct k8s_slice *sls[2 * FUZZ_K8S_MAX];
	size_t n_svcs = 0, n_sls = 0, i;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root, *a;
	static const __u8 fwds[] = { LBD_FWD_IPIP, LBD_FWD_GENEVE,
				     LBD_FWD_SNAT };
	struct k8s_opts o = { 0 };
	struct k8s_set set;
	int opts = 0;

	if (!tok)
		return 0;
	root = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!root || !json_object_is_type(root, json_type_object))
		goto out;
	if (json_object_object_get_ex(root, "opts", &a))
		opts = json_object_get_int(a);
	o.fwd = fwds[((unsigned)opts & 3) % 3];
	o.encap4 = opts & 4;
	o.encap6 = opts & 8;
	o.snat4 = opts & 16;
	o.snat6 = opts & 32;
	if (json_object_object_get_ex(root, "services", &a) &&
	    json_object_is_type(a, json_type_array))
		parse_all(a, svcs, &n_svcs, sls, &n_sls);
	if (json_object_object_get_ex(root, "slices", &a) &&
	    json_object_is_type(a, json_type_array))
		parse_all(a, svcs, &n_svcs, sls, &n_sls);
	qsort(svcs, n_svcs, sizeof(svcs[0]), k8s_service_cmp);
	qsort(sls, n_sls, sizeof(sls[0]), k8s_slice_cmp);
	memset(&set, 0, sizeof(set));
	if (!k8s_translate(svcs, n_svcs, sls, n_sls, &o, &set))
		check_set(&set);
	k8s_set_free(&set);
	for (i = 0; i < n_svcs; i++) {
		k8s_service_free(svcs[i]);
		free(svcs[i]);
	}
	for (i = 0; i < n_sls; i++) {
		k8s_slice_free(sls[i]);
		free(sls[i]);
	}
out:
	json_object_put(root);
	return 0;
}
