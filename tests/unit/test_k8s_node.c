// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/k8s/k8s_node.c: every Service and its EndpointSlices (JSON
 * fixtures tests/unit/k8s/node_*.json, as the API server lists them) to
 * the node role's records. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_node.h"

struct fixture {
	struct k8s_service *svc;
	struct k8s_service **svcp;
	size_t n_svc;
	struct k8s_slice *sl;
	struct k8s_slice **slp;
	size_t n_sl;
	struct k8s_node_set set;
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

static const struct lbd_conf_addr NODE_ADDRS[] = {
	{ .family = LBD_AF_INET, .prefixlen = 32, .addr.b = { 198, 18, 0, 1 } },
	{ .family = LBD_AF_INET6,
	  .prefixlen = 128,
	  .addr.b = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } },
};

static const struct k8s_node_opts NODE1 = { .node_name = "node-1",
					    .addrs = NODE_ADDRS,
					    .n_addrs = 2 };

/* The Services of the list s into f, both parses, in their order. */
static void services_of(struct fixture *f, struct json_object *s)
{
	char err[256];
	size_t i;

	f->n_svc = json_object_array_length(s);
	f->svc = calloc(f->n_svc, sizeof(*f->svc));
	f->svcp = calloc(f->n_svc, sizeof(*f->svcp));
	for (i = 0; i < f->n_svc; i++) {
		struct json_object *o = json_object_array_get_idx(s, i);

		cr_assert_eq(k8s_service_parse(o, "lbd.io/lb", &f->svc[i], err,
					       sizeof(err)),
			     0, "%s", err);
		cr_assert_eq(k8s_node_service_parse(o, &f->svc[i].node), 0);
		f->svcp[i] = &f->svc[i];
	}
}

static void load_from(struct fixture *f, const char *svcs, const char *slices,
		      const struct k8s_node_opts *opts)
{
	struct json_object *s = items(svcs);
	struct json_object *e = items(slices);
	char err[256];
	size_t i;

	memset(f, 0, sizeof(*f));
	services_of(f, s);
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
	json_object_put(s);
	json_object_put(e);
	cr_assert_eq(k8s_node_translate(f->svcp, f->n_svc, f->slp, f->n_sl,
					opts, &f->set),
		     0);
}

static void load(struct fixture *f)
{
	load_from(f, "node_services.json", "node_endpointslices.json", &NODE1);
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
	k8s_node_set_free(&f->set);
}

static const struct k8s_node_rec *rec(const struct fixture *f, const char *key)
{
	char k[256];
	size_t i;

	for (i = 0; i < f->set.n_recs; i++) {
		k8s_node_rec_key(&f->set.recs[i], k, sizeof(k));
		if (!strcmp(k, key))
			return &f->set.recs[i];
	}
	cr_assert_fail("no record %s", key);
	return NULL;
}

static void addr_is(const struct fixture *f, const struct k8s_node_rec *r,
		    size_t i, const char *ip, __u16 port)
{
	const struct k8s_node_addr *a = &f->set.addrs[r->first_addr + i];
	char s[INET6_ADDRSTRLEN];

	cr_assert_lt(i, r->n_addrs);
	inet_ntop(a->addr.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &a->addr.addr, s, sizeof(s));
	cr_assert_str_eq(s, ip);
	cr_assert_eq(a->port, port, "%s: port %u, want %u", ip, a->port, port);
}

static const struct k8s_node_ep *ep(const struct fixture *f,
				    const struct k8s_node_rec *r, size_t i,
				    const char *ip, __u16 port)
{
	const struct k8s_node_ep *e = &f->set.eps[r->first_ep + i];
	char s[INET6_ADDRSTRLEN];

	cr_assert_lt(i, r->n_eps);
	inet_ntop(e->addr.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &e->addr.addr, s, sizeof(s));
	cr_assert_str_eq(s, ip);
	cr_assert_eq(e->port, port, "%s: port %u, want %u", ip, e->port, port);
	return e;
}

Test(k8s_node, every_served_service_becomes_records_and_no_others)
{
	static const char *const want[] = {
		"default/api:http/tcp/ipv4/internal",
		"default/api:http/tcp/ipv6/internal",
		"default/api:dns/udp/ipv4/internal",
		"default/api:dns/udp/ipv6/internal",
		"default/front:https/tcp/ipv4/internal",
		"default/front:https/tcp/ipv4/external",
		"default/front:https/tcp/ipv6/external",
		"default/local:8080/tcp/ipv4/internal",
		"default/manual:9000/udp/ipv4/internal",
		"default/manual:9000/udp/ipv4/external",
		"default/manual:9000/udp/ipv6/external",
		"other/api:http/tcp/ipv4/internal",
	};
	struct fixture f;
	char k[256];
	size_t i;

	load(&f);
	for (i = 0; i < f.set.n_recs && i < sizeof(want) / sizeof(*want); i++) {
		k8s_node_rec_key(&f.set.recs[i], k, sizeof(k));
		cr_expect_str_eq(k, want[i], "record %zu", i);
	}
	/* headless (db) and ExternalName (ext) have no address to serve */
	cr_assert_eq(f.set.n_recs, sizeof(want) / sizeof(*want));
	unload(&f);
}

Test(k8s_node, dual_stack_cluster_ips_give_a_record_per_family)
{
	struct fixture f;
	const struct k8s_node_rec *r;

	load(&f);
	r = rec(&f, "default/api:http/tcp/ipv4/internal");
	cr_assert_eq(r->n_addrs, 1);
	addr_is(&f, r, 0, "10.96.0.10", 80);
	cr_assert_eq(r->type, K8S_NODE_CLUSTER_IP);
	r = rec(&f, "default/api:http/tcp/ipv6/internal");
	cr_assert_eq(r->n_addrs, 1);
	addr_is(&f, r, 0, "2001:db8:96::10", 80);
	cr_assert_eq(r->n_eps, 1, "the IPv6 slice's endpoint only");
	ep(&f, r, 0, "2001:db8::2:1", 8080);
	unload(&f);
}

Test(k8s_node, named_target_port_is_resolved_per_slice)
{
	struct fixture f;
	const struct k8s_node_rec *r;

	load(&f);
	/* targetPort "web": 8080 in one slice, 8081 in the other */
	r = rec(&f, "default/api:http/tcp/ipv4/internal");
	cr_assert_eq(r->n_eps, 3);
	ep(&f, r, 0, "198.18.2.1", 8080);
	ep(&f, r, 1, "198.18.2.2", 8080);
	cr_assert_eq(ep(&f, r, 2, "198.18.3.1", 8081)->weight, 3,
		     "the slice's lbd.io/weight");
	/* the UDP port is on the first slice only */
	r = rec(&f, "default/api:dns/udp/ipv4/internal");
	cr_assert_eq(r->n_eps, 2);
	ep(&f, r, 0, "198.18.2.1", 5353);
	ep(&f, r, 1, "198.18.2.2", 5353);
	unload(&f);
}

Test(k8s_node, endpoint_conditions_are_passed_on_and_gone_ones_left_out)
{
	struct fixture f;
	const struct k8s_node_rec *r;
	const struct k8s_node_ep *e;

	load(&f);
	r = rec(&f, "default/api:http/tcp/ipv4/internal");
	e = ep(&f, r, 0, "198.18.2.1", 8080);
	cr_assert(e->ready && e->serving && !e->terminating);
	cr_assert(e->local, "nodeName node-1 is this node");
	e = ep(&f, r, 1, "198.18.2.2", 8080);
	cr_assert(!e->ready && e->serving && e->terminating);
	cr_assert_not(e->local);
	/* 198.18.2.3 (neither ready nor serving) is not there: n_eps 3 */
	cr_assert_eq(r->n_eps, 3);
	unload(&f);
}

Test(k8s_node, internal_traffic_policy_local_keeps_this_nodes_endpoints)
{
	struct fixture f;
	const struct k8s_node_rec *r;

	load(&f);
	r = rec(&f, "default/local:8080/tcp/ipv4/internal");
	cr_assert(r->local_only);
	cr_assert_eq(r->n_eps, 1);
	ep(&f, r, 0, "198.18.5.1", 8080);
	/* a ClusterIP Service's nodePort is ignored: no external record */
	cr_assert_eq(r->node_port, 0);
	unload(&f);
}

Test(k8s_node, load_balancer_addresses_node_ports_and_external_policy)
{
	struct fixture f;
	const struct k8s_node_rec *r;

	load(&f);
	r = rec(&f, "default/front:https/tcp/ipv4/internal");
	cr_assert_not(r->local_only, "internalTrafficPolicy is Cluster");
	cr_assert_eq(r->n_eps, 2);
	cr_assert(r->affinity);
	cr_assert_eq(r->affinity_timeout, 300);
	cr_assert_eq(r->hc_node_port, 0, "the health check is external's");
	r = rec(&f, "default/front:https/tcp/ipv4/external");
	cr_assert_eq(r->hc_node_port, 32100);
	cr_assert_eq(r->type, K8S_NODE_LOAD_BALANCER);
	cr_assert_eq(r->n_addrs, 3);
	addr_is(&f, r, 0, "203.0.113.7", 443); /* externalIPs */
	addr_is(&f, r, 1, "192.0.2.80", 443); /* ingress, not the hostname */
	addr_is(&f, r, 2, "198.18.0.1", 30443); /* this node, node port */
	cr_assert_eq(r->node_port, 30443);
	cr_assert(r->local_only, "externalTrafficPolicy Local");
	cr_assert_eq(r->n_eps, 1);
	ep(&f, r, 0, "198.18.4.1", 8443);
	r = rec(&f, "default/front:https/tcp/ipv6/external");
	cr_assert_eq(r->n_addrs, 1);
	addr_is(&f, r, 0, "2001:db8::1", 30443);
	cr_assert_eq(r->n_eps, 0, "no IPv6 endpoint: refused on connect");
	unload(&f);
}

Test(k8s_node, affinity_timeout_defaults_as_kube_proxys)
{
	struct fixture f;
	const struct k8s_node_rec *r;

	load(&f);
	r = rec(&f, "other/api:http/tcp/ipv4/internal");
	cr_assert(r->affinity);
	cr_assert_eq(r->affinity_timeout, K8S_NODE_AFFINITY_DEFAULT);
	r = rec(&f, "default/api:http/tcp/ipv4/internal");
	cr_assert_not(r->affinity);
	unload(&f);
}

Test(k8s_node, service_without_selector_uses_its_manual_slices)
{
	struct fixture f;
	const struct k8s_node_rec *r;

	load(&f);
	r = rec(&f, "default/manual:9000/udp/ipv4/internal");
	cr_assert_eq(r->type, K8S_NODE_NODE_PORT);
	addr_is(&f, r, 0, "10.96.0.14", 9000);
	cr_assert_eq(r->n_eps, 1);
	cr_assert_not(ep(&f, r, 0, "192.0.2.9", 9001)->local,
		      "no nodeName: not local");
	r = rec(&f, "default/manual:9000/udp/ipv4/external");
	addr_is(&f, r, 0, "198.18.0.1", 30900);
	cr_assert_eq(r->n_eps, 1);
	unload(&f);
}

Test(k8s_node, unsupported_services_are_refused_whole_with_a_reason)
{
	struct fixture f;
	char k[256];
	size_t i;

	load(&f);
	cr_assert_eq(f.set.n_refusals, 3);
	cr_assert_str_eq(f.set.refusals[0].msg,
			 "Service default/bad-type: spec.type \"Magic\" is "
			 "not served");
	cr_assert_eq(f.set.refusals[0].reason, K8S_REFUSED_INVALID);
	cr_assert_str_eq(f.set.refusals[1].msg,
			 "Service default/sctp: ports[1].protocol SCTP is not "
			 "served");
	cr_assert_eq(f.set.refusals[1].reason, K8S_REFUSED_PROTOCOL);
	cr_assert_eq(f.set.refusals[2].reason, K8S_REFUSED_VIP_ADDRESS);
	cr_assert(!strncmp(f.set.refusals[2].msg,
			   "Service default/zero-ip: spec.externalIPs 0.0.0.0 "
			   "is ",
			   50),
		  "%s", f.set.refusals[2].msg);
	/* not half applied: the TCP port of sctp, the ClusterIP of
	 * zero-ip are not served either */
	for (i = 0; i < f.set.n_recs; i++) {
		k8s_node_rec_key(&f.set.recs[i], k, sizeof(k));
		cr_assert(strncmp(k, "default/sctp", 12) &&
				  strncmp(k, "default/zero-ip", 15) &&
				  strncmp(k, "default/bad-type", 16),
			  "%s is served", k);
	}
	unload(&f);
}

/* A field of the wrong type refuses the Service; each with its reason. */
Test(k8s_node, bad_fields_refuse_the_service)
{
	static const char *const bad[][2] = {
		{ "{\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":"
		  "1}],\"sessionAffinity\":\"Sticky\"}}",
		  "spec.sessionAffinity is not \"None\" or \"ClientIP\"" },
		{ "{\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":"
		  "1}],\"sessionAffinity\":\"ClientIP\","
		  "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":"
		  "86401}}}}",
		  "spec.sessionAffinityConfig.clientIP.timeoutSeconds is not "
		  "1-86400" },
		{ "{\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":"
		  "1}],\"internalTrafficPolicy\":\"Nearby\"}}",
		  "spec.internalTrafficPolicy is not \"Cluster\" or "
		  "\"Local\"" },
		{ "{\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.1\","
		  "\"ports\":[{\"port\":1,\"nodePort\":\"x\"}]}}",
		  "ports[0].nodePort is not 1-65535" },
		{ "{\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":"
		  "0}]}}",
		  "ports[0].port 0 is not 1-65535" },
		{ "{\"spec\":{\"clusterIPs\":[\"10.96.0.1\",\"10.96.0.2\"],"
		  "\"ports\":[{\"port\":1}]}}",
		  "spec.clusterIPs has two addresses of one family" },
		{ "{\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":"
		  "\"10.96.0.1\",\"externalTrafficPolicy\":\"Local\","
		  "\"healthCheckNodePort\":70000,\"ports\":[{\"port\":1}]}}",
		  "spec.healthCheckNodePort is not 1-65535" },
		{ "{\"spec\":{\"clusterIP\":\"ten\",\"ports\":[{\"port\":1}]}}",
		  "spec.clusterIP \"ten\" is not an IP address" },
		{ "{\"metadata\":{\"annotations\":{\"lbd.io/forwarding\":"
		  "\"ipip\"}},\"spec\":{\"clusterIP\":\"10.96.0.1\","
		  "\"ports\":[{\"port\":1}]}}",
		  "metadata.annotations[\"lbd.io/forwarding\"] is not \"snat\" "
		  "or \"geneve\"" },
		{ "{\"metadata\":{\"annotations\":{\"lbd.io/forwarding\":"
		  "1}},\"spec\":{\"clusterIP\":\"10.96.0.1\","
		  "\"ports\":[{\"port\":1}]}}",
		  "metadata.annotations[\"lbd.io/forwarding\"] is not \"snat\" "
		  "or \"geneve\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct json_object *o = json_tokener_parse(bad[i][0]);
		struct k8s_node_service *s;

		cr_assert_not_null(o, "fixture %zu", i);
		cr_assert_eq(k8s_node_service_parse(o, &s), 0);
		cr_expect_eq(s->refused, K8S_REFUSED_INVALID, "fixture %zu", i);
		cr_expect_str_eq(s->why, bad[i][1], "fixture %zu", i);
		cr_expect_eq(s->n_ports + s->n_cluster + s->n_external, 0,
			     "fixture %zu: nothing kept", i);
		k8s_node_service_free(s);
		json_object_put(o);
	}
}

/* lbctl services in the node role: each address says where it comes
 * from, each endpoint its conditions and whether it runs on this node. */
Test(k8s_node, services_entry_names_address_kinds_and_local_endpoints)
{
	struct fixture f;
	const struct k8s_node_rec *r;
	struct json_object *o = json_object_new_object(), *a, *e, *v;

	load(&f);
	r = rec(&f, "default/front:https/tcp/ipv4/external");
	k8s_node_rec_json(&f.set, r, true, o);
	cr_assert_str_eq(json_object_to_json_string_ext(
				 json_object_object_get(o, "service"),
				 JSON_C_TO_STRING_PLAIN),
			 "\"default\\/front\"");
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(o, "type")),
		"LoadBalancer");
	cr_assert_str_eq(json_object_get_string(
				 json_object_object_get(o, "traffic_policy")),
			 "Local");
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(o, "affinity")),
		"ClientIP");
	a = json_object_object_get(o, "addresses");
	cr_assert_eq(json_object_array_length(a), 3);
	{
		static const char *const want[3][2] = {
			{ "203.0.113.7:443", "externalIP" },
			{ "192.0.2.80:443", "LoadBalancer" },
			{ "198.18.0.1:30443", "NodePort" },
		};
		size_t i;

		for (i = 0; i < 3; i++) {
			v = json_object_array_get_idx(a, i);
			cr_assert_str_eq(
				json_object_get_string(
					json_object_object_get(v, "address")),
				want[i][0]);
			cr_assert_str_eq(
				json_object_get_string(
					json_object_object_get(v, "kind")),
				want[i][1]);
		}
	}
	e = json_object_object_get(o, "endpoints");
	cr_assert_eq(json_object_array_length(e), 1);
	v = json_object_array_get_idx(e, 0);
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(v, "endpoint")),
		"198.18.4.1:8443");
	cr_assert(json_object_get_boolean(json_object_object_get(v, "local")));
	cr_assert(json_object_get_boolean(json_object_object_get(v, "ready")));
	cr_assert_eq(json_object_get_int(
			     json_object_object_get(o, "local_endpoints")),
		     1);
	json_object_put(o);
	o = json_object_new_object();
	r = rec(&f, "default/front:https/tcp/ipv4/internal");
	k8s_node_rec_json(&f.set, r, false, o);
	v = json_object_array_get_idx(json_object_object_get(o, "addresses"),
				      0);
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(v, "kind")),
		"ClusterIP");
	cr_assert_not(
		json_object_get_boolean(json_object_object_get(o, "applied")));
	json_object_put(o);
	unload(&f);
}

/* The Services of a JSON list (no slices) translated for NODE1. */
static void load_list(struct fixture *f, const char *json)
{
	struct json_object *s = json_tokener_parse(json);

	cr_assert_not_null(s, "fixture");
	memset(f, 0, sizeof(*f));
	services_of(f, s);
	qsort(f->svcp, f->n_svc, sizeof(*f->svcp), k8s_service_cmp);
	json_object_put(s);
	cr_assert_eq(k8s_node_translate(f->svcp, f->n_svc, NULL, 0, &NODE1,
					&f->set),
		     0);
}

static bool has_rec(const struct fixture *f, const char *key)
{
	char k[256];
	size_t i;

	for (i = 0; i < f->set.n_recs; i++) {
		k8s_node_rec_key(&f->set.recs[i], k, sizeof(k));
		if (!strcmp(k, key))
			return true;
	}
	return false;
}

static void refused_is(const struct fixture *f, __u8 reason, const char *msg)
{
	size_t i;

	for (i = 0; i < f->set.n_refusals; i++)
		if (!strcmp(f->set.refusals[i].msg, msg)) {
			cr_assert_eq(f->set.refusals[i].reason, reason, "%s",
				     msg);
			return;
		}
	cr_assert_fail("no refusal \"%s\" (%zu refusals, first \"%s\")", msg,
		       f->set.n_refusals,
		       f->set.n_refusals ? f->set.refusals[0].msg : "");
}

#define SVC(ns, name, created, spec)                                          \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\","      \
	"\"creationTimestamp\":\"" created "\"},\"spec\":" spec "}"

/* CVE-2020-8554: whoever may edit a Service may set its externalIPs. An
 * older Service of another tenant naming a ClusterIP it does not own
 * gets nothing of it: the ClusterIP's owner keeps it whatever the ages. */
Test(k8s_node, external_ip_cannot_take_another_services_cluster_ip)
{
	struct fixture f;

	load_list(&f,
		  "[" SVC("team-a", "web", "2026-12-01T10:00:00Z",
			  "{\"clusterIP\":\"10.96.0.10\",\"ports\":[{\"port\":"
			  "80}]}") ","
		  SVC("team-b", "evil", "2020-01-01T00:00:00Z",
		      "{\"clusterIP\":\"10.96.0.66\",\"externalIPs\":["
		      "\"10.96.0.10\"],\"ports\":[{\"port\":80}]}") "]");
	cr_assert(has_rec(&f, "team-a/web:80/tcp/ipv4/internal"));
	cr_assert_not(has_rec(&f, "team-b/evil:80/tcp/ipv4/internal"),
		      "refused whole, its own ClusterIP too");
	cr_assert_not(has_rec(&f, "team-b/evil:80/tcp/ipv4/external"));
	refused_is(&f, K8S_REFUSED_ADDRESS_CONFLICT,
		   "Service team-b/evil: 10.96.0.10:80/TCP is Service "
		   "team-a/web's");
	cr_assert_eq(f.set.n_refusals, 1);
	unload(&f);
}

/* Two Services naming one external address and port: the older keeps it
 * (not the first by name), on every node alike; another port or
 * protocol of the same address is no conflict. */
Test(k8s_node, older_service_keeps_a_contested_external_ip)
{
	static const char *const created[2][2] = {
		{ "2026-01-01T00:00:00Z", "2025-06-01T00:00:00Z" },
		{ "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z" },
	};
	char json[2048];
	size_t i;

	for (i = 0; i < 2; i++) {
		struct fixture f;

		snprintf(json, sizeof(json),
			 "[" SVC("a", "first", "%s",
				 "{\"clusterIP\":\"10.96.0.1\",\"externalIPs\":"
				 "[\"203.0.113.9\"],\"ports\":[{\"port\":443}]}")
			 "," SVC("b", "second", "%s",
				 "{\"clusterIP\":\"10.96.0.2\",\"externalIPs\":"
				 "[\"203.0.113.9\"],\"ports\":[{\"port\":443},"
				 "{\"name\":\"u\",\"port\":8443,"
				 "\"protocol\":\"UDP\"}]}")
			 "," SVC("c", "other", "2027-01-01T00:00:00Z",
				 "{\"clusterIP\":\"10.96.0.3\",\"externalIPs\":"
				 "[\"203.0.113.9\"],\"ports\":[{\"port\":443,"
				 "\"protocol\":\"UDP\"}]}") "]",
			 created[i][0], created[i][1]);
		load_list(&f, json);
		cr_assert_eq(has_rec(&f, "a/first:443/tcp/ipv4/external"),
			     i == 0 ? false : true, "case %zu", i);
		cr_assert_eq(has_rec(&f, "b/second:443/tcp/ipv4/external"),
			     i == 0 ? true : false, "case %zu", i);
		cr_assert(has_rec(&f, "c/other:443/udp/ipv4/external"),
			  "UDP on the same port is another claim");
		refused_is(&f, K8S_REFUSED_ADDRESS_CONFLICT,
			   i == 0 ? "Service a/first: 203.0.113.9:443/TCP is "
				    "Service b/second's"
				  : "Service b/second: 203.0.113.9:443/TCP is "
				    "Service a/first's");
		cr_assert_eq(f.set.n_refusals, 1);
		unload(&f);
	}
}

/* An externalIP that is the node's own address would take the port from
 * the node's daemons (sshd, the kubelet): refused. */
Test(k8s_node, external_ip_of_this_node_is_refused)
{
	struct fixture f;

	load_list(&f, "[" SVC("t", "ssh", "2026-01-01T00:00:00Z",
			      "{\"clusterIP\":\"10.96.0.22\",\"externalIPs\":"
			      "[\"198.18.0.1\"],\"ports\":[{\"port\":22}]}") "]");
	cr_assert_eq(f.set.n_recs, 0);
	refused_is(&f, K8S_REFUSED_HOST_ADDRESS,
		   "Service t/ssh: spec.externalIPs 198.18.0.1 is an address "
		   "of this node");
	unload(&f);
}

/* Topology hints (node_hints_*.json): kube-proxy's rule, for node-1 in
 * zone-a. */

static const struct k8s_node_opts NODE1_ZONE_A = { .node_name = "node-1",
						   .addrs = NODE_ADDRS,
						   .n_addrs = 2,
						   .zone = "zone-a" };

/* r's endpoints are exactly ips[0..n), in this order. */
static void eps_are(const struct fixture *f, const char *key,
		    const char *const *ips, size_t n, bool hints)
{
	const struct k8s_node_rec *r = rec(f, key);
	size_t i;

	cr_assert_eq(r->zone_hints, hints, "%s: zone_hints %d", key,
		     r->zone_hints);
	cr_assert_eq(r->n_eps, n, "%s: %zu endpoints, want %zu", key, r->n_eps,
		     n);
	for (i = 0; i < n; i++)
		ep(f, r, i, ips[i], 8080);
}

#define IPS(...)                                \
	((const char *const[]){ __VA_ARGS__ }), \
		sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *)

Test(k8s_node, zone_hints_keep_this_zones_endpoints_when_all_ready_have_hints)
{
	struct fixture f;

	load_from(&f, "node_hints_services.json",
		  "node_hints_endpointslices.json", &NODE1_ZONE_A);
	/* ready .1 (zone-a), .2 (zone-b), .4 (zone-c and zone-a) all have
	 * hints: those naming zone-a stay, terminating .3 (zone-a) with
	 * them; .2 and terminating .5 (zone-b) go */
	eps_are(&f, "zones/all-hinted:http/tcp/ipv4/internal",
		IPS("198.18.4.1", "198.18.4.3", "198.18.4.4"), true);
	/* a NodePort's external record (policy Cluster) too */
	eps_are(&f, "zones/nodeport:http/tcp/ipv4/internal", IPS("198.18.4.61"),
		true);
	eps_are(&f, "zones/nodeport:http/tcp/ipv4/external", IPS("198.18.4.61"),
		true);
	/* only ready endpoints must have hints: the terminating one
	 * without is left out with the other zones' */
	eps_are(&f, "zones/unhinted-not-ready:http/tcp/ipv4/internal",
		IPS("198.18.4.21"), true);
	unload(&f);
}

Test(k8s_node, zone_hints_are_ignored_unless_usable)
{
	struct fixture f;

	load_from(&f, "node_hints_services.json",
		  "node_hints_endpointslices.json", &NODE1_ZONE_A);
	/* a ready endpoint without hints */
	eps_are(&f, "zones/one-unhinted:http/tcp/ipv4/internal",
		IPS("198.18.4.11", "198.18.4.12"), false);
	/* hints that are not a list of zones are as none */
	eps_are(&f, "zones/bad-hints:http/tcp/ipv4/internal",
		IPS("198.18.4.51", "198.18.4.52"), false);
	/* no endpoint for this zone */
	eps_are(&f, "zones/other-zone:http/tcp/ipv4/internal",
		IPS("198.18.4.31", "198.18.4.32"), false);
	/* traffic policy Local: this node's endpoints, whatever their
	 * zone */
	eps_are(&f, "zones/local-policy:http/tcp/ipv4/internal",
		IPS("198.18.4.41"), false);
	unload(&f);
	/* the node's zone unknown: every endpoint */
	load_from(&f, "node_hints_services.json",
		  "node_hints_endpointslices.json", &NODE1);
	eps_are(&f, "zones/all-hinted:http/tcp/ipv4/internal",
		IPS("198.18.4.1", "198.18.4.2", "198.18.4.3", "198.18.4.4",
		    "198.18.4.5"),
		false);
	eps_are(&f, "zones/unhinted-not-ready:http/tcp/ipv4/internal",
		IPS("198.18.4.21", "198.18.4.22"), false);
	unload(&f);
}

Test(k8s_node, services_entry_says_zone_hints)
{
	struct json_object *o = json_object_new_object(), *v;
	struct fixture f;

	load_from(&f, "node_hints_services.json",
		  "node_hints_endpointslices.json", &NODE1_ZONE_A);
	k8s_node_rec_json(&f.set,
			  rec(&f, "zones/all-hinted:http/tcp/ipv4/internal"),
			  true, o);
	cr_assert(json_object_object_get_ex(o, "zone_hints", &v));
	cr_assert(json_object_get_boolean(v));
	json_object_put(o);
	o = json_object_new_object();
	k8s_node_rec_json(&f.set,
			  rec(&f, "zones/other-zone:http/tcp/ipv4/internal"),
			  true, o);
	cr_assert(json_object_object_get_ex(o, "zone_hints", &v));
	cr_assert_not(json_object_get_boolean(v));
	json_object_put(o);
	unload(&f);
}

/* -- health check ports of Services without an external record --------- */

/* The set's ports of Services without an external record are exactly
 * "ns/name:port" of want[0..n), in this order. */
static void hc_only_are(const struct fixture *f, const char *const *want,
			size_t n)
{
	char got[160];
	size_t i;

	cr_assert_eq(f->set.n_hc_only, n, "%zu health check ports, want %zu",
		     f->set.n_hc_only, n);
	for (i = 0; i < n; i++) {
		const struct k8s_node_hc_only *h = &f->set.hc_only[i];

		snprintf(got, sizeof(got), "%s/%s:%u", h->ns, h->name, h->port);
		cr_assert_str_eq(got, want[i]);
	}
}

#define LB_LOCAL(extra, hc)                                               \
	"{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\"," \
	"\"healthCheckNodePort\":" hc "," extra "}"

/* kube-proxy answers the healthCheckNodePort of a Service it cannot
 * serve (503, 0 local endpoints) so that load balancers skip the node;
 * lbd refuses more than kube-proxy does, and answers those ports too: a
 * Service refused while parsing (SCTP: before healthCheckNodePort is
 * read), one refused for its addresses. A refused Service of policy
 * Cluster has no health check port. */
Test(k8s_node, refused_local_load_balancer_keeps_its_health_check_port)
{
	static const char ssh[] =
		SVC("t", "ssh", "2026-01-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.22\",\"externalIPs\":["
			     "\"198.18.0.1\"],\"ports\":[{\"port\":22}]",
			     "32001"));
	static const char sctp[] = SVC(
		"t", "sctp", "2026-01-01T00:00:00Z",
		LB_LOCAL("\"clusterIP\":\"10.96.0.23\",\"ports\":[{\"port\":9,"
			 "\"protocol\":\"SCTP\"}]",
			 "32002"));
	static const char cluster[] =
		SVC("t", "cluster", "2026-01-01T00:00:00Z",
		    "{\"type\":\"LoadBalancer\",\"healthCheckNodePort\":32003,"
		    "\"clusterIP\":\"10.96.0.24\",\"ports\":[{\"port\":9,"
		    "\"protocol\":\"SCTP\"}]}");
	char json[2048];
	struct fixture f;

	snprintf(json, sizeof(json), "[%s,%s,%s]", ssh, sctp, cluster);
	load_list(&f, json);
	cr_assert_eq(f.set.n_recs, 0);
	cr_assert_eq(f.set.n_refusals, 3);
	hc_only_are(&f, IPS("t/ssh:32001", "t/sctp:32002"));
	unload(&f);
}

/* A LoadBalancer Service before its load balancer gave it an address,
 * without node ports (allocateLoadBalancerNodePorts false), has no
 * external record; kube-proxy serves its port from the start. One with a
 * node port carries its port on its external record. */
Test(k8s_node, load_balancer_without_an_address_yet_has_its_health_check_port)
{
	static const char pending[] =
		SVC("shop", "new", "2026-01-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.30\",\"ports\":[{"
			     "\"port\":80}]",
			     "32010"));
	static const char np[] =
		SVC("shop", "np", "2026-01-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.31\",\"ports\":[{"
			     "\"port\":80,\"nodePort\":30080}]",
			     "32011"));
	char json[2048];
	struct fixture f;

	snprintf(json, sizeof(json), "[%s,%s]", pending, np);
	load_list(&f, json);
	cr_assert(has_rec(&f, "shop/new:80/tcp/ipv4/internal"));
	cr_assert_not(has_rec(&f, "shop/new:80/tcp/ipv4/external"));
	cr_assert_eq(rec(&f, "shop/np:80/tcp/ipv4/external")->hc_node_port,
		     32011);
	hc_only_are(&f, IPS("shop/new:32010"));
	unload(&f);
}

/* A healthCheckNodePort is one Service's (k8s_node.h): a served Service
 * keeps it against a refused one, whatever the ages (a tenant cannot
 * take another's port with a Service lbd refuses); between two of a kind
 * the older; a served Service's TCP node port is nobody's health check
 * port. The loser's records say 0. */
Test(k8s_node, a_health_check_port_is_one_services)
{
	static const char victim[] =
		SVC("a", "victim", "2026-06-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.40\",\"ports\":[{"
			     "\"port\":80,\"nodePort\":30040}]",
			     "32020"));
	static const char thief[] =
		SVC("0", "thief", "2020-01-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.41\",\"ports\":[{"
			     "\"port\":9,\"protocol\":\"SCTP\"}]",
			     "32020"));
	static const char young[] =
		SVC("b", "young", "2026-07-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.42\",\"ports\":[{"
			     "\"port\":80,\"nodePort\":30042}]",
			     "32021"));
	static const char old[] =
		SVC("c", "old", "2026-05-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.43\",\"ports\":[{"
			     "\"port\":80,\"nodePort\":30043}]",
			     "32021"));
	static const char np[] =
		SVC("d", "np", "2026-05-01T00:00:00Z",
		    LB_LOCAL("\"clusterIP\":\"10.96.0.44\",\"ports\":[{"
			     "\"port\":80}]",
			     "30040"));
	char json[4096];
	struct fixture f;

	snprintf(json, sizeof(json), "[%s,%s,%s,%s,%s]", victim, thief, young,
		 old, np);
	load_list(&f, json);
	cr_assert_eq(rec(&f, "a/victim:80/tcp/ipv4/external")->hc_node_port,
		     32020);
	cr_assert_eq(rec(&f, "c/old:80/tcp/ipv4/external")->hc_node_port,
		     32021);
	cr_assert_eq(rec(&f, "b/young:80/tcp/ipv4/external")->hc_node_port, 0);
	/* neither the refused thief nor d/np (a/victim's node port) */
	cr_assert_eq(f.set.n_hc_only, 0);
	unload(&f);
}

#define SVC_ANN(ns, name, ann, spec)                                     \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\"," \
	"\"annotations\":{" ann "}},\"spec\":" spec "}"

/* lbd.io/forwarding reaches every record of its Service (lbd uses it on
 * the external ones); without it the record leaves it to node_role. */
Test(k8s_node, forwarding_annotation_reaches_the_records)
{
	static const char *const keys[] = {
		"ns/dsr:80/tcp/ipv4/external",
		"ns/dsr:80/tcp/ipv4/internal",
		"ns/nat:80/tcp/ipv4/external",
		"ns/plain:80/tcp/ipv4/external",
	};
	static const __u8 want[] = { K8S_NODE_FWD_GENEVE, K8S_NODE_FWD_GENEVE,
				     K8S_NODE_FWD_SNAT, K8S_NODE_FWD_DEFAULT };
	struct fixture f;
	char k[256];
	size_t i, j, found = 0;

	load_list(
		&f,
		"[" SVC_ANN(
			"ns", "dsr", "\"lbd.io/forwarding\":\"geneve\"",
			"{\"type\":\"NodePort\",\"clusterIP\":"
			"\"10.96.0.10\",\"ports\":[{\"port\":80,"
			"\"nodePort\":30080}]}") "," SVC_ANN("ns", "nat",
							     "\"lbd.io/forwarding\":\"snat\"",
							     "{\"type\":\"NodePort\",\"clusterIP\":"
							     "\"10.96.0.11\",\"ports\":[{\"port\":80,"
							     "\"nodePort\":30081}]}") "," SVC_ANN("ns",
												  "plain",
												  "\"other\":\"x\"",
												  "{\"type\":\"NodePort\",\"clusterIP\":"
												  "\"10.96.0.12\",\"ports\":[{\"port\":80,"
												  "\"nodePort\":30082}]}") "]");
	cr_assert_eq(f.set.n_refusals, 0);
	for (i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		for (j = 0; j < f.set.n_recs; j++) {
			k8s_node_rec_key(&f.set.recs[j], k, sizeof(k));
			if (strcmp(k, keys[i]))
				continue;
			cr_expect_eq(f.set.recs[j].forwarding, want[i],
				     "%s: %d", k, f.set.recs[j].forwarding);
			found++;
		}
	cr_assert_eq(found, sizeof(keys) / sizeof(*keys));
	unload(&f);
}
