// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/k8s_model.c: Service and EndpointSlice objects (JSON fixtures in
 * tests/unit/k8s/, as the API server lists them) to lbd services. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_model.h"

struct fixture {
	struct k8s_service *svc;
	struct k8s_service **svcp;
	size_t n_svc;
	struct k8s_slice *sl;
	struct k8s_slice **slp;
	size_t n_sl;
	struct k8s_set set;
};

static struct json_object *items(const char *file)
{
	char path[512];
	struct json_object *o, *l;

	snprintf(path, sizeof(path), "%s/%s", K8S_FIXTURES, file);
	o = json_object_from_file(path);
	cr_assert_not_null(o, "%s: %s", path, json_util_get_last_err());
	cr_assert(json_object_object_get_ex(o, "items", &l));
	json_object_get(l);
	json_object_put(o);
	return l;
}

static void load(struct fixture *f, const char *lb_class)
{
	struct json_object *s = items("services.json");
	struct json_object *e = items("endpointslices.json");
	char err[256];
	size_t i;

	memset(f, 0, sizeof(*f));
	f->n_svc = json_object_array_length(s);
	f->svc = calloc(f->n_svc, sizeof(*f->svc));
	f->svcp = calloc(f->n_svc, sizeof(*f->svcp));
	for (i = 0; i < f->n_svc; i++) {
		cr_assert_eq(k8s_service_parse(json_object_array_get_idx(s, i),
					       lb_class, &f->svc[i], err,
					       sizeof(err)),
			     0, "%s", err);
		f->svcp[i] = &f->svc[i];
	}
	f->n_sl = json_object_array_length(e);
	f->sl = calloc(f->n_sl, sizeof(*f->sl));
	f->slp = calloc(f->n_sl, sizeof(*f->slp));
	for (i = 0; i < f->n_sl; i++) {
		cr_assert_eq(k8s_slice_parse(json_object_array_get_idx(e, i),
					     &f->sl[i], err, sizeof(err)),
			     0, "%s", err);
		f->slp[i] = &f->sl[i];
	}
	qsort(f->svcp, f->n_svc, sizeof(*f->svcp), k8s_service_cmp);
	qsort(f->slp, f->n_sl, sizeof(*f->slp), k8s_slice_cmp);
	json_object_put(s);
	json_object_put(e);
}

static void translate(struct fixture *f, const struct k8s_opts *o)
{
	cr_assert_eq(k8s_translate(f->svcp, f->n_svc, f->slp, f->n_sl, o,
				   &f->set),
		     0);
}

static void unload(struct fixture *f)
{
	size_t i;

	for (i = 0; i < f->n_svc; i++)
		k8s_service_free(&f->svc[i]);
	for (i = 0; i < f->n_sl; i++)
		k8s_slice_free(&f->sl[i]);
	free(f->svc);
	free(f->svcp);
	free(f->sl);
	free(f->slp);
	k8s_set_free(&f->set);
}

static const struct k8s_opts GENEVE = { .fwd = LBD_FWD_GENEVE,
					.encap4 = true,
					.encap6 = true };

static const struct lbd_conf_service *find(const struct k8s_set *s,
					   const char *name)
{
	size_t i;

	for (i = 0; i < s->n_svc; i++)
		if (!strcmp(s->svc[i].name, name))
			return &s->svc[i];
	return NULL;
}

/* The backends of a service as "addr:port weight state" lines. */
static char *backends(const struct k8s_set *set,
		      const struct lbd_conf_service *s)
{
	static char buf[2048];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < s->n_backends; i++) {
		const struct lbd_conf_backend *b =
			&set->be[s->first_backend + i];
		char a[INET6_ADDRSTRLEN];

		inet_ntop(b->addr.family == LBD_AF_INET ? AF_INET : AF_INET6,
			  &b->addr.addr, a, sizeof(a));
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 "%s%s:%u w%u %s", i ? ", " : "", a, b->port,
			 b->weight, config_state_str(b->state));
	}
	return buf;
}

static const char *vip(const struct lbd_conf_service *s)
{
	static char a[INET6_ADDRSTRLEN];

	return config_addr_str(&s->vip, a, sizeof(a));
}

Test(k8s_model, only_load_balancers_of_our_class_become_services)
{
	struct fixture f;
	size_t i;

	load(&f, "lbd.io/lb");
	translate(&f, &GENEVE);
	/* web: 2 ports; dual: 1 port x 2 VIPs; pending: 1; sctp: none;
	 * unaddressed: none until it has an address */
	cr_assert_eq(f.set.n_svc, 5);
	cr_assert_null(find(&f.set, "default/other-class:80"));
	cr_assert_null(find(&f.set, "default/no-class:80"));
	cr_assert_null(find(&f.set, "default/internal:80"));
	for (i = 0; i < f.set.n_svc; i++) {
		cr_assert_eq(f.set.svc[i].origin, LBD_ORIGIN_K8S);
		cr_assert_eq(f.set.svc[i].fwd, LBD_FWD_GENEVE);
	}
	unload(&f);
}

Test(k8s_model, each_port_is_a_service_with_its_protocol)
{
	struct fixture f;
	const struct lbd_conf_service *http, *dns;

	load(&f, "lbd.io/lb");
	translate(&f, &GENEVE);
	http = find(&f.set, "default/web:http");
	dns = find(&f.set, "default/web:dns");
	cr_assert_not_null(http);
	cr_assert_not_null(dns);
	cr_assert_str_eq(vip(http), "203.0.113.20");
	cr_assert_eq(http->port, 80);
	cr_assert_eq(http->proto, IPPROTO_TCP);
	cr_assert_str_eq(vip(dns), "203.0.113.20");
	cr_assert_eq(dns->port, 53);
	cr_assert_eq(dns->proto, IPPROTO_UDP);
	cr_assert_str_eq(http->k8s_ref, "default/web");
	unload(&f);
}

Test(k8s_model, endpoint_conditions_give_active_draining_or_nothing)
{
	struct fixture f;

	load(&f, "lbd.io/lb");
	translate(&f, &GENEVE);
	/* .1 ready (in two slices: once, at the higher weight); .2 serving
	 * and terminating: draining; .3 terminating, not serving: gone;
	 * .4 no conditions: ready; .5 not ready, not terminating: gone;
	 * .6 of the slice with weight 3; .7 on another port name */
	cr_assert_str_eq(backends(&f.set, find(&f.set, "default/web:http")),
			 "198.18.2.1:8080 w3 active, "
			 "198.18.2.2:8080 w1 draining, "
			 "198.18.2.4:8080 w1 active, "
			 "198.18.2.6:8080 w3 active");
	cr_assert_str_eq(backends(&f.set, find(&f.set, "default/web:dns")),
			 "198.18.2.1:5353 w1 active, "
			 "198.18.2.2:5353 w1 draining, "
			 "198.18.2.4:5353 w1 active");
	unload(&f);
}

Test(k8s_model, dual_stack_gets_a_service_per_family_with_its_endpoints)
{
	struct fixture f;
	const struct lbd_conf_service *v4, *v6;

	load(&f, "lbd.io/lb");
	translate(&f, &GENEVE);
	v4 = find(&f.set, "shop/dual:443@203.0.113.21");
	v6 = find(&f.set, "shop/dual:443@2001:db8:f::21");
	cr_assert_not_null(v4);
	cr_assert_not_null(v6);
	cr_assert_str_eq(backends(&f.set, v4), "198.18.3.1:8443 w1 active");
	cr_assert_str_eq(backends(&f.set, v6), "2001:db8:3::1:8443 w1 active");
	unload(&f);
}

Test(k8s_model, load_balancer_ip_serves_until_the_status_has_one)
{
	struct fixture f;
	const struct lbd_conf_service *s;

	load(&f, "lbd.io/lb");
	translate(&f, &GENEVE);
	s = find(&f.set, "shop/pending:http");
	cr_assert_not_null(s);
	cr_assert_str_eq(vip(s), "203.0.113.22");
	cr_assert_str_eq(backends(&f.set, s), "198.18.4.1:80 w1 active");
	cr_assert_null(find(&f.set, "shop/unaddressed:http"));
	unload(&f);
}

Test(k8s_model, another_class_follows_other_services)
{
	struct fixture f;

	load(&f, "example.com/lb");
	translate(&f, &GENEVE);
	cr_assert_eq(f.set.n_svc, 1);
	cr_assert_str_eq(f.set.svc[0].name, "default/other-class:80");
	cr_assert_str_eq(backends(&f.set, &f.set.svc[0]),
			 "198.18.5.1:80 w1 active");
	unload(&f);
}

Test(k8s_model, what_cannot_be_served_is_said_once_per_service)
{
	struct fixture f;
	struct k8s_opts ipip = { .fwd = LBD_FWD_IPIP, .encap4 = true };
	size_t i;

	load(&f, "lbd.io/lb");
	translate(&f, &ipip);
	for (i = 0; i < f.set.n_warnings; i++)
		fprintf(stderr, "%s\n", f.set.warnings[i]);
	/* sorted, each once */
	cr_assert_eq(f.set.n_warnings, 5);
	cr_assert_str_eq(f.set.warnings[0],
			 "Service default/web: port 53: endpoints on port "
			 "5353 left out: ipip does not translate ports (use "
			 "kubernetes.forwarding = \"geneve\")");
	cr_assert_str_eq(f.set.warnings[1],
			 "Service default/web: port 80: endpoints on port "
			 "8080 left out: ipip does not translate ports (use "
			 "kubernetes.forwarding = \"geneve\")");
	cr_assert_str_eq(f.set.warnings[2],
			 "Service shop/dual: IPv6 endpoints left out: ipip "
			 "needs datapath.encap_source_v6");
	cr_assert_str_eq(f.set.warnings[3],
			 "Service shop/dual: port 443: endpoints on port 8443 "
			 "left out: ipip does not translate ports (use "
			 "kubernetes.forwarding = \"geneve\")");
	cr_assert_str_eq(f.set.warnings[4],
			 "Service shop/sctp: port 3868: only TCP and UDP are "
			 "served");
	cr_assert_eq(find(&f.set, "default/web:http")->n_backends, 0);
	cr_assert_str_eq(backends(&f.set, find(&f.set, "shop/pending:http")),
			 "198.18.4.1:80 w1 active");
	unload(&f);
}

Test(k8s_model, a_bad_weight_annotation_is_weight_1_and_said)
{
	struct json_object *o = json_tokener_parse(
		"{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\","
		"\"labels\":{\"kubernetes.io/service-name\":\"x\"},"
		"\"annotations\":{\"lbd.io/weight\":\"heavy\"}},"
		"\"addressType\":\"IPv4\",\"ports\":[{\"port\":80}],"
		"\"endpoints\":[{\"addresses\":[\"198.18.2.1\"]}]}");
	struct k8s_slice sl;
	char err[128];

	cr_assert_eq(k8s_slice_parse(o, &sl, err, sizeof(err)), 0);
	cr_assert_eq(sl.weight, 1);
	cr_assert(sl.bad_weight);
	cr_assert_eq(sl.n_eps, 1);
	k8s_slice_free(&sl);
	json_object_put(o);
}

Test(k8s_model, objects_without_a_name_are_refused)
{
	struct json_object *o = json_tokener_parse(
		"{\"metadata\":{\"namespace\":\"n\"},\"spec\":{}}");
	struct k8s_service s;
	char err[128];

	cr_assert_eq(k8s_service_parse(o, "lbd.io/lb", &s, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "a Service without namespace or name");
	json_object_put(o);
}
