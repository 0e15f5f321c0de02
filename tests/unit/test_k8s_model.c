// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/k8s/k8s_model.c: Service and EndpointSlice objects (JSON fixtures in
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

/* kubernetes.vip_ranges of the fixtures' VIPs */
static const struct lbd_conf_addr RANGES[] = {
	{ .family = LBD_AF_INET, .prefixlen = 24, .addr.b = { 203, 0, 113 } },
	{ .family = LBD_AF_INET6,
	  .prefixlen = 64,
	  .addr.b = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x0f } },
};

static const struct k8s_opts GENEVE = { .fwd = LBD_FWD_GENEVE,
					.encap4 = true,
					.encap6 = true,
					.vip_ranges = RANGES,
					.n_vip_ranges = 2 };

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
	struct k8s_opts ipip = { .fwd = LBD_FWD_IPIP,
				 .encap4 = true,
				 .vip_ranges = RANGES,
				 .n_vip_ranges = 2 };
	size_t i;

	load(&f, "lbd.io/lb");
	translate(&f, &ipip);
	for (i = 0; i < f.set.n_warnings; i++)
		fprintf(stderr, "%s\n", f.set.warnings[i]);
	/* sorted, each once */
	cr_assert_eq(f.set.n_warnings, 4);
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
	cr_assert_eq(f.set.n_refusals, 1);
	cr_assert_str_eq(f.set.refusals[0].msg,
			 "Service shop/sctp: port 3868: SCTP is not served "
			 "(only TCP and UDP)");
	cr_assert_eq(f.set.refusals[0].reason, K8S_REFUSED_PROTOCOL);
	cr_assert_str_eq(k8s_refusal_name(f.set.refusals[0].reason),
			 "protocol");
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

/* -- what a Service (any namespace's user writes one) cannot do -------- */

/* A followed Service of port 80 with vips (JSON) where status has them,
 * and more (JSON members of spec). */
static struct json_object *svc_json(const char *ns, const char *name,
				    const char *ingress, const char *spec)
{
	char buf[4096];
	struct json_object *o;

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},"
		 "\"spec\":{\"type\":\"LoadBalancer\","
		 "\"loadBalancerClass\":\"lbd.io/lb\"%s%s},"
		 "\"status\":{\"loadBalancer\":{\"ingress\":[%s]}}}",
		 ns, name, *spec ? "," : "", spec, ingress);
	o = json_tokener_parse(buf);
	cr_assert_not_null(o, "%s", buf);
	return o;
}

#define PORT80 \
	"\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]"

/* One Service through parse and translate (no slices): the set. */
static int one(struct json_object *o, const struct k8s_opts *opts,
	       struct k8s_set *set, char *err, size_t errlen)
{
	struct k8s_service s, *sp = &s;
	int r = k8s_service_parse(o, "lbd.io/lb", &s, err, errlen);

	json_object_put(o);
	memset(set, 0, sizeof(*set));
	if (r)
		return r;
	cr_assert_eq(k8s_translate(&sp, 1, NULL, 0, opts, set), 0);
	k8s_service_free(&s);
	return 0;
}

/* The Service is refused whole, with this line and reason. */
static void refused(struct json_object *o, const struct k8s_opts *opts,
		    const char *want, enum k8s_refusal reason)
{
	struct k8s_set set;
	char err[256];

	cr_assert_eq(one(o, opts, &set, err, sizeof(err)), 0, "%s", err);
	if (set.n_refusals != 1 || strcmp(set.refusals[0].msg, want))
		fprintf(stderr, "got %zu refusals: %s\nwant %s\n",
			set.n_refusals,
			set.n_refusals ? set.refusals[0].msg : "-", want);
	cr_assert_eq(set.n_svc, 0, "%s: nothing served", want);
	cr_assert_eq(set.n_refusals, 1);
	cr_assert_str_eq(set.refusals[0].msg, want);
	cr_assert_eq(set.refusals[0].reason, reason, "%s: reason %s", want,
		     k8s_refusal_name(set.refusals[0].reason));
	k8s_set_free(&set);
}

Test(k8s_model, unusable_vips_are_refused)
{
	static const struct {
		const char *ip, *what;
	} t[] = {
		{ "0.0.0.0", "an unspecified address" },
		{ "127.0.0.1", "a loopback address" },
		{ "224.0.0.1", "a multicast address" },
		{ "255.255.255.255", "the broadcast address" },
		{ "::ffff:203.0.113.9", "an IPv4-mapped IPv6 address" },
		{ "fe80::1", "a link-local address" },
		{ "169.254.0.1", "a link-local address" },
	};
	/* every address in range: the class is what refuses */
	static const struct lbd_conf_addr all[] = {
		{ .family = LBD_AF_INET, .prefixlen = 0 },
		{ .family = LBD_AF_INET6, .prefixlen = 0 },
	};
	struct k8s_opts o = GENEVE;
	char ing[128], want[256];
	size_t i;

	o.vip_ranges = all;
	o.n_vip_ranges = 2;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(ing, sizeof(ing), "{\"ip\":\"%s\"}", t[i].ip);
		snprintf(want, sizeof(want),
			 "Service default/x: VIP %s is %s: not served", t[i].ip,
			 t[i].what);
		refused(svc_json("default", "x", ing, PORT80), &o, want,
			K8S_REFUSED_VIP_ADDRESS);
		/* the same through spec.loadBalancerIP */
		snprintf(ing, sizeof(ing), PORT80 ",\"loadBalancerIP\":\"%s\"",
			 t[i].ip);
		refused(svc_json("default", "x", "", ing), &o, want,
			K8S_REFUSED_VIP_ADDRESS);
	}
}

Test(k8s_model, vips_outside_vip_ranges_are_refused)
{
	struct k8s_opts none = GENEVE;
	struct k8s_set set;
	char err[128];

	refused(svc_json("default", "x", "{\"ip\":\"198.18.0.10\"}", PORT80),
		&GENEVE,
		"Service default/x: VIP 198.18.0.10 is outside "
		"kubernetes.vip_ranges: not served",
		K8S_REFUSED_VIP_RANGE);
	/* one VIP of two outside: the whole Service */
	refused(svc_json("default", "x",
			 "{\"ip\":\"203.0.113.5\"},{\"ip\":\"2001:db8:e::5\"}",
			 PORT80),
		&GENEVE,
		"Service default/x: VIP 2001:db8:e::5 is outside "
		"kubernetes.vip_ranges: not served",
		K8S_REFUSED_VIP_RANGE);
	/* no vip_ranges: nothing of the cluster is served, and why */
	none.n_vip_ranges = 0;
	refused(svc_json("default", "x", "{\"ip\":\"203.0.113.5\"}", PORT80),
		&none,
		"Service default/x: VIP 203.0.113.5: kubernetes.vip_ranges is "
		"not set, and no VIP of the cluster is served without it: not "
		"served",
		K8S_REFUSED_VIP_RANGE);
	/* inside: served */
	cr_assert_eq(one(svc_json("default", "x", "{\"ip\":\"203.0.113.5\"}",
				  PORT80),
			 &GENEVE, &set, err, sizeof(err)),
		     0);
	cr_assert_eq(set.n_svc, 1);
	cr_assert_eq(set.n_refusals, 0);
	k8s_set_free(&set);
}

Test(k8s_model, more_vips_than_a_service_may_have_are_refused_not_cut)
{
	char ing[1024] = "";
	int i;

	for (i = 1; i <= K8S_MAX_VIPS + 1; i++)
		snprintf(ing + strlen(ing), sizeof(ing) - strlen(ing),
			 "%s{\"ip\":\"203.0.113.%d\"}", i > 1 ? "," : "", i);
	refused(svc_json("default", "x", ing, PORT80), &GENEVE,
		"Service default/x: more than 8 VIPs (the most a Service may "
		"have): not served",
		K8S_REFUSED_TOO_MANY_VIPS);
	/* 8 is served, each VIP a service */
	{
		struct k8s_set set;
		char err[128];

		ing[0] = '\0';
		for (i = 1; i <= K8S_MAX_VIPS; i++)
			snprintf(ing + strlen(ing), sizeof(ing) - strlen(ing),
				 "%s{\"ip\":\"203.0.113.%d\"}",
				 i > 1 ? "," : "", i);
		cr_assert_eq(one(svc_json("default", "x", ing, PORT80), &GENEVE,
				 &set, err, sizeof(err)),
			     0);
		cr_assert_eq(set.n_svc, K8S_MAX_VIPS);
		k8s_set_free(&set);
	}
}

Test(k8s_model, fields_of_the_wrong_type_refuse_the_service)
{
	static const struct {
		const char *spec, *why;
	} t[] = {
		{ "\"ports\":[{\"port\":80,\"protocol\":6}]",
		  "ports[0].protocol is not \"TCP\", \"UDP\" or \"SCTP\"" },
		{ "\"ports\":[{\"port\":80,\"protocol\":\"tcp\"}]",
		  "ports[0].protocol is not \"TCP\", \"UDP\" or \"SCTP\"" },
		{ "\"ports\":[{\"port\":\"80\"}]",
		  "ports[0].port is not an integer" },
		{ "\"ports\":[{\"port\":80.0}]",
		  "ports[0].port is not an integer" },
		{ "\"ports\":[{\"port\":65536}]",
		  "ports[0].port 65536 is not 1-65535" },
		{ "\"ports\":[{\"port\":0}]",
		  "ports[0].port 0 is not 1-65535" },
		{ "\"ports\":[{\"port\":4294967376}]",
		  "ports[0].port 4294967376 is not 1-65535" },
		{ "\"ports\":[{\"name\":7,\"port\":80}]",
		  "ports[0].name is not a port name" },
		{ "\"ports\":{\"port\":80}", "ports is not a list" },
		{ "\"ports\":[80]", "ports[0] is not an object" },
		{ PORT80 ",\"loadBalancerIP\":3405803781",
		  "spec.loadBalancerIP \"3405803781\" is not an IP address" },
	};
	char want[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(want, sizeof(want),
			 "Service default/x: %s: not served", t[i].why);
		refused(svc_json("default", "x",
				 strstr(t[i].spec, "loadBalancerIP") ?
					 "" :
					 "{\"ip\":\"203.0.113.5\"}",
				 t[i].spec),
			&GENEVE, want, K8S_REFUSED_INVALID);
	}
	refused(svc_json("default", "x", "{\"ip\":\"203.0.113.500\"}", PORT80),
		&GENEVE,
		"Service default/x: status.loadBalancer.ingress[].ip "
		"\"203.0.113.500\" is not an IP address: not served",
		K8S_REFUSED_INVALID);
}

Test(k8s_model, names_that_are_no_dns_names_are_refused)
{
	static const struct {
		const char *ns, *name, *err;
	} t[] = {
		{ "a/b", "x",
		  "a Service in namespace \"a/b\": not a DNS label" },
		{ "default", "a/b",
		  "a Service named \"a/b\" in default: not a DNS label" },
		{ "Default", "x",
		  "a Service in namespace \"Default\": not a DNS label" },
		{ "default", "-x",
		  "a Service named \"-x\" in default: not a DNS label" },
		{ "default", "x.y",
		  "a Service named \"x.y\" in default: not a DNS label" },
		{ "de\\nfault", "x",
		  "a Service in namespace \"de?fault\": not a DNS label" },
	};
	struct k8s_set set;
	char err[256], ns[64], name[254];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(one(svc_json(t[i].ns, t[i].name,
					  "{\"ip\":\"203.0.113.5\"}", PORT80),
				 &GENEVE, &set, err, sizeof(err)),
			     -EINVAL, "%s/%s", t[i].ns, t[i].name);
		cr_assert_str_eq(err, t[i].err);
	}
	/* an EndpointSlice's name is a subdomain; its DELETED event's key
	 * is checked as well */
	{
		struct json_object *o = json_tokener_parse(
			"{\"metadata\":{\"namespace\":\"a/b\","
			"\"name\":\"web-abc.1\"}}");

		cr_assert_eq(k8s_object_key(o, ns, sizeof(ns), name,
					    sizeof(name)),
			     -EINVAL);
		json_object_put(o);
		o = json_tokener_parse("{\"metadata\":{\"namespace\":\"a\","
				       "\"name\":\"web-abc.1\"}}");
		cr_assert_eq(k8s_object_key(o, ns, sizeof(ns), name,
					    sizeof(name)),
			     0);
		json_object_put(o);
	}
}

/* A slice for Service x with endpoints (JSON) and its ports (JSON). */
static struct json_object *slice_json(const char *eps, const char *ports)
{
	char buf[4096];
	struct json_object *o;

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"default\",\"name\":\"x-1\","
		 "\"labels\":{\"kubernetes.io/service-name\":\"x\"}},"
		 "\"addressType\":\"IPv4\",\"ports\":%s,\"endpoints\":[%s]}",
		 ports, eps);
	o = json_tokener_parse(buf);
	cr_assert_not_null(o, "%s", buf);
	return o;
}

/* Service x (203.0.113.5:80) with one slice: its backends, and every
 * refusal line joined with " | ". */
static void with_slice(struct json_object *sl_o, char *bes, char *refs,
		       size_t len)
{
	struct json_object *o =
		svc_json("default", "x", "{\"ip\":\"203.0.113.5\"}", PORT80);
	struct k8s_service s, *sp = &s;
	struct k8s_slice sl, *slp = &sl;
	struct k8s_set set;
	char err[128];
	size_t i;

	cr_assert_eq(k8s_service_parse(o, "lbd.io/lb", &s, err, sizeof(err)),
		     0);
	cr_assert_eq(k8s_slice_parse(sl_o, &sl, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(k8s_translate(&sp, 1, &slp, 1, &GENEVE, &set), 0);
	cr_assert_eq(set.n_svc, 1, "the Service is served");
	snprintf(bes, len, "%s", backends(&set, &set.svc[0]));
	refs[0] = '\0';
	for (i = 0; i < set.n_refusals; i++)
		snprintf(refs + strlen(refs), len - strlen(refs), "%s%s:%s",
			 i ? " | " : "",
			 k8s_refusal_name(set.refusals[i].reason),
			 set.refusals[i].msg);
	k8s_set_free(&set);
	k8s_service_free(&s);
	k8s_slice_free(&sl);
	json_object_put(o);
	json_object_put(sl_o);
}

#define SLPORT "[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]"

Test(k8s_model, unusable_endpoints_are_left_out_and_said)
{
	char bes[1024], refs[1024];

	with_slice(slice_json("{\"addresses\":[\"0.0.0.0\"]},"
			      "{\"addresses\":[\"127.0.0.1\"]},"
			      "{\"addresses\":[\"198.18.2.1\"]}",
			      SLPORT),
		   bes, refs, sizeof(bes));
	cr_assert_str_eq(bes, "198.18.2.1:8080 w1 active");
	cr_assert_str_eq(refs, "backend_address:Service default/x: "
			       "EndpointSlice x-1: endpoint 0.0.0.0 is an "
			       "unspecified address: not a backend, left out");
}

Test(k8s_model, a_slice_with_fields_of_the_wrong_type_gives_no_backends)
{
	static const struct {
		const char *eps, *ports, *why;
	} t[] = {
		{ "{\"addresses\":[\"198.18.2.1\"]}",
		  "[{\"name\":\"http\",\"port\":8080,\"protocol\":6}]",
		  "ports[0].protocol is not \"TCP\", \"UDP\" or \"SCTP\"" },
		{ "{\"addresses\":[\"198.18.2.1\"]}",
		  "[{\"name\":\"http\",\"port\":\"8080\"}]",
		  "ports[0].port is not an integer" },
		{ "{\"addresses\":[\"198.18.2.1\"],"
		  "\"conditions\":{\"ready\":\"false\"}}",
		  SLPORT, "endpoints[0].conditions are not true or false" },
		{ "{\"addresses\":[3405803777]}", SLPORT,
		  "endpoints[0].addresses[0] is not a string" },
		{ "{\"addresses\":\"198.18.2.1\"}", SLPORT,
		  "endpoints[0].addresses is not a list" },
	};
	char bes[1024], refs[1024], want[512];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		with_slice(slice_json(t[i].eps, t[i].ports), bes, refs,
			   sizeof(bes));
		snprintf(want, sizeof(want),
			 "invalid:Service default/x: EndpointSlice x-1: %s: "
			 "its endpoints left out",
			 t[i].why);
		cr_assert_str_eq(bes, "", "%s", t[i].why);
		cr_assert_str_eq(refs, want);
	}
	/* the same slice, well typed: a backend */
	with_slice(slice_json("{\"addresses\":[\"198.18.2.1\"],"
			      "\"conditions\":{\"ready\":null}}",
			      SLPORT),
		   bes, refs, sizeof(bes));
	cr_assert_str_eq(bes, "198.18.2.1:8080 w1 active");
	cr_assert_str_eq(refs, "");
}
