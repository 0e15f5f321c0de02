// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The node role's health check ports: the count each Service's port
 * answers with (lbd/k8s/k8s_node_hc.c), the table as the io process
 * checks it on receipt and the body it answers (lbd/ctl/hcserve.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hcserve.h"
#include "k8s_node_hc.h"
#include "msg.h"

/* -- the count -------------------------------------------------------- */

#define MAX_RECS 16
#define MAX_EPS 64

struct set_builder {
	struct k8s_node_rec recs[MAX_RECS];
	struct k8s_node_ep eps[MAX_EPS];
	struct k8s_node_set set;
};

static struct k8s_node_rec *add_rec(struct set_builder *b, const char *ns,
				    const char *name, __u8 family,
				    __u16 hc_port)
{
	struct k8s_node_rec *r = &b->recs[b->set.n_recs++];

	cr_assert_leq(b->set.n_recs, MAX_RECS);
	memset(r, 0, sizeof(*r));
	snprintf(r->ns, sizeof(r->ns), "%s", ns);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->family = family;
	r->external = true;
	r->hc_node_port = hc_port;
	r->first_ep = b->set.n_eps;
	b->set.recs = b->recs;
	b->set.eps = b->eps;
	return r;
}

/* An endpoint of the last record: v4 "a.b.c.d" as its last byte, or an
 * IPv6 address 2001:db8::last. */
static void add_ep(struct set_builder *b, __u8 family, __u8 last, bool local,
		   bool ready, bool terminating)
{
	struct k8s_node_rec *r = &b->recs[b->set.n_recs - 1];
	struct k8s_node_ep *e = &b->eps[b->set.n_eps++];

	cr_assert_leq(b->set.n_eps, MAX_EPS);
	memset(e, 0, sizeof(*e));
	e->addr.family = family;
	if (family == LBD_AF_INET) {
		e->addr.prefixlen = 32;
		e->addr.addr.b[0] = 10;
		e->addr.addr.b[3] = last;
	} else {
		e->addr.prefixlen = 128;
		e->addr.addr.b[0] = 0x20;
		e->addr.addr.b[1] = 0x01;
		e->addr.addr.b[2] = 0x0d;
		e->addr.addr.b[3] = 0xb8;
		e->addr.addr.b[15] = last;
	}
	e->port = 8080;
	e->weight = 1;
	e->ready = ready;
	e->serving = true;
	e->terminating = terminating;
	e->local = local;
	r->n_eps++;
}

static const struct lbd_node_hc_rec *by_port(const struct lbd_node_hc_rec *t,
					     size_t n, __u16 port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].port == port)
			return &t[i];
	return NULL;
}

Test(node_hc, counts_local_ready_endpoints_each_address_once)
{
	struct set_builder b = { 0 };
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	/* two ports of one Service: the same two pods behind both */
	add_rec(&b, "default", "front", LBD_AF_INET, 31000);
	add_ep(&b, LBD_AF_INET, 1, true, true, false);
	add_ep(&b, LBD_AF_INET, 2, true, true, false);
	add_ep(&b, LBD_AF_INET, 3, false, true, false); /* another node's */
	add_ep(&b, LBD_AF_INET, 4, true, false, true); /* terminating */
	add_rec(&b, "default", "front", LBD_AF_INET, 31000);
	add_ep(&b, LBD_AF_INET, 1, true, true, false);
	add_ep(&b, LBD_AF_INET, 2, true, true, false);
	cr_assert_eq(k8s_node_hc_table(&b.set, &t, &n, &dropped), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(dropped, 0);
	cr_assert_str_eq(t[0].ns, "default");
	cr_assert_str_eq(t[0].name, "front");
	cr_assert_eq(t[0].port, 31000);
	cr_assert_eq(t[0].local_endpoints, 2,
		     "two pods, each once; not the remote or terminating one");
	free(t);
}

Test(node_hc, only_terminating_local_endpoints_count_zero)
{
	struct set_builder b = { 0 };
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	/* they still take new connections (none ready left), but the
	 * node is to fail its check so that it drains */
	add_rec(&b, "default", "front", LBD_AF_INET, 31000);
	add_ep(&b, LBD_AF_INET, 1, true, false, true);
	add_ep(&b, LBD_AF_INET, 2, true, false, true);
	cr_assert_eq(k8s_node_hc_table(&b.set, &t, &n, &dropped), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(t[0].local_endpoints, 0);
	free(t);
}

Test(node_hc, a_dual_stack_pod_is_one_endpoint)
{
	struct set_builder b = { 0 };
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	add_rec(&b, "web", "ds", LBD_AF_INET, 32000);
	add_ep(&b, LBD_AF_INET, 1, true, true, false);
	add_rec(&b, "web", "ds", LBD_AF_INET6, 32000);
	add_ep(&b, LBD_AF_INET6, 1, true, true, false);
	add_ep(&b, LBD_AF_INET6, 2, true, true, false);
	cr_assert_eq(k8s_node_hc_table(&b.set, &t, &n, &dropped), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(t[0].local_endpoints, 2, "the larger family's count");
	free(t);
}

Test(node_hc, sorted_by_port_without_services_that_have_none)
{
	struct set_builder b = { 0 };
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	add_rec(&b, "a", "first", LBD_AF_INET, 32100);
	add_ep(&b, LBD_AF_INET, 1, true, true, false);
	add_rec(&b, "b", "cluster", LBD_AF_INET, 0); /* Cluster policy */
	add_ep(&b, LBD_AF_INET, 2, true, true, false);
	add_rec(&b, "c", "second", LBD_AF_INET, 30100);
	add_rec(&b, "d", "same-port", LBD_AF_INET, 32100);
	add_ep(&b, LBD_AF_INET, 3, true, true, false);
	cr_assert_eq(k8s_node_hc_table(&b.set, &t, &n, &dropped), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(dropped, 1, "the second Service on port 32100");
	cr_assert_eq(t[0].port, 30100);
	cr_assert_str_eq(t[0].name, "second");
	cr_assert_eq(t[0].local_endpoints, 0);
	cr_assert_eq(t[1].port, 32100);
	cr_assert_str_eq(t[1].name, "first");
	cr_assert_eq(t[1].local_endpoints, 1);
	cr_assert_null(by_port(t, n, 0));
	free(t);
}

/* Services without an external record (refused, or without an address
 * yet) answer 0 local endpoints, after the records: a port a record has
 * stays the record's Service's. */
Test(node_hc, services_without_an_external_record_answer_zero)
{
	struct set_builder b = { 0 };
	struct k8s_node_hc_only only[2] = {
		{ .ns = "t", .name = "refused", .port = 30200 },
		{ .ns = "t", .name = "thief", .port = 32100 },
	};
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	add_rec(&b, "a", "served", LBD_AF_INET, 32100);
	add_ep(&b, LBD_AF_INET, 1, true, true, false);
	b.set.hc_only = only;
	b.set.n_hc_only = 2;
	cr_assert_eq(k8s_node_hc_table(&b.set, &t, &n, &dropped), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(dropped, 1, "t/thief's port is a/served's");
	cr_assert_eq(t[0].port, 30200);
	cr_assert_str_eq(t[0].ns, "t");
	cr_assert_str_eq(t[0].name, "refused");
	cr_assert_eq(t[0].local_endpoints, 0);
	cr_assert_eq(t[1].port, 32100);
	cr_assert_str_eq(t[1].name, "served");
	cr_assert_eq(t[1].local_endpoints, 1);
	free(t);
}

/* A served Service without an external address yet (its records are
 * internal) counts its local ready endpoints, as kube-proxy counts
 * them whatever the addresses. */
Test(node_hc, a_service_without_an_address_yet_counts_its_endpoints)
{
	struct set_builder b = { 0 };
	struct k8s_node_hc_only only = { .ns = "shop",
					 .name = "new",
					 .port = 32010 };
	struct lbd_node_hc_rec *t;
	size_t n, dropped;

	add_rec(&b, "a", "other", LBD_AF_INET, 0);
	add_ep(&b, LBD_AF_INET, 9, true, true, false);
	add_rec(&b, "shop", "new", LBD_AF_INET, 0);
	b.recs[1].external = false;
	add_ep(&b, LBD_AF_INET, 1, true, true, false);
	add_ep(&b, LBD_AF_INET, 2, true, true, false);
	add_ep(&b, LBD_AF_INET, 3, false, true, false);
	add_rec(&b, "z", "last", LBD_AF_INET, 0);
	add_ep(&b, LBD_AF_INET, 8, true, true, false);
	b.set.hc_only = &only;
	b.set.n_hc_only = 1;
	cr_assert_eq(k8s_node_hc_table(&b.set, &t, &n, &dropped), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(t[0].name, "new");
	cr_assert_eq(t[0].local_endpoints, 2, "its own local ready ones");
	free(t);
}

/* -- the table as the io process takes it ------------------------------ */

struct table {
	struct lbd_node_hc_head h;
	struct lbd_node_hc_rec r[3];
};

static void good_table(struct table *t)
{
	static const __u16 ports[] = { 30000, 31000, 32767 };
	int i;

	memset(t, 0, sizeof(*t));
	t->h.n = 3;
	t->h.healthy = 1;
	for (i = 0; i < 3; i++) {
		snprintf(t->r[i].ns, sizeof(t->r[i].ns), "ns%d", i);
		snprintf(t->r[i].name, sizeof(t->r[i].name), "svc%d", i);
		t->r[i].port = ports[i];
		t->r[i].local_endpoints = (__u32)i;
	}
}

static int check(const struct table *t, size_t len)
{
	char err[128];

	return hcserve_table_check(t, len, err, sizeof(err));
}

Test(node_hc, table_check_takes_a_good_table)
{
	struct table t;

	good_table(&t);
	cr_assert_eq(check(&t, sizeof(t)), 0);
	t.h.n = 0;
	cr_assert_eq(check(&t, sizeof(t.h)), 0, "an empty table closes all");
}

Test(node_hc, table_check_refuses_what_does_not_fit)
{
	struct table t;

	good_table(&t);
	t.h.n = 2;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "count not the length");
	good_table(&t);
	cr_assert_eq(check(&t, sizeof(t) - 1), -EBADMSG, "a cut record");
	cr_assert_eq(check(&t, 4), -EBADMSG, "no head");
	good_table(&t);
	t.h.healthy = 2;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "healthy not 0/1");
	good_table(&t);
	memset(t.r[1].name, 'x', sizeof(t.r[1].name));
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "a name not ended");
	good_table(&t);
	memset(t.r[2].ns, 'x', sizeof(t.r[2].ns));
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "a namespace not ended");
	good_table(&t);
	t.r[0].port = 0;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "port 0");
	good_table(&t);
	t.r[2].port = t.r[1].port;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "a port twice");
	good_table(&t);
	t.r[0].port = 32000;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "out of order");
}

Test(node_hc, table_check_takes_a_healthz_address_and_a_sync_time)
{
	struct table t;

	good_table(&t);
	t.h.healthz.family = LBD_AF_INET6;
	t.h.healthz.port = 10256;
	t.h.last_sync_ms = LBD_NODE_HC_SYNC_MS_MAX;
	cr_assert_eq(check(&t, sizeof(t)), 0);
	t.h.healthz.family = LBD_AF_INET;
	t.h.healthz.addr.v4 = htonl(0xc0000201);
	cr_assert_eq(check(&t, sizeof(t)), 0);
}

Test(node_hc, table_check_refuses_a_bad_head)
{
	struct table t;

	good_table(&t);
	t.h.healthz.port = 10256;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "off with a port");
	good_table(&t);
	t.h.healthz.addr.b[15] = 1;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "off with an address");
	good_table(&t);
	t.h.healthz.family = LBD_AF_INET;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "on without a port");
	good_table(&t);
	t.h.healthz.family = 7;
	t.h.healthz.port = 10256;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "no such family");
	good_table(&t);
	t.h.last_sync_ms = LBD_NODE_HC_SYNC_MS_MAX + 1;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "past year 9999");
	good_table(&t);
	t.h.pad[1] = 1;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "pad");
	good_table(&t);
	t.h.pad2 = 1;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "pad2");
	good_table(&t);
	t.h.healthz.family = LBD_AF_INET;
	t.h.healthz.port = 10256;
	t.h.healthz.pad = 1;
	cr_assert_eq(check(&t, sizeof(t)), -EBADMSG, "the address's pad");
}

Test(node_hc, msg_check_bounds_the_table)
{
	struct lbd_msg_hdr h = { .type = LBD_MSG_NODE_HC };

	h.len = sizeof(struct lbd_node_hc_head) +
		LBD_NODE_HC_MAX * sizeof(struct lbd_node_hc_rec);
	cr_assert_eq(msg_check(&h), 0);
	h.len += sizeof(struct lbd_node_hc_rec);
	cr_assert_eq(msg_check(&h), -EBADMSG, "past LBD_NODE_HC_MAX");
	h.len = sizeof(struct lbd_node_hc_head) + 1;
	cr_assert_eq(msg_check(&h), -EBADMSG, "not whole records");
	h.len = 0;
	cr_assert_eq(msg_check(&h), -EBADMSG, "without its head");
}

/* -- the answer ------------------------------------------------------- */

Test(node_hc, body_is_kube_proxys)
{
	/* kube-proxy's template (service_health.go): dedented to one tab
	 * per level, the newlines around it trimmed */
	static const char want[] = "{\n"
				   "\t\"service\": {\n"
				   "\t\t\"namespace\": \"default\",\n"
				   "\t\t\"name\": \"front\"\n"
				   "\t},\n"
				   "\t\"localEndpoints\": 2,\n"
				   "\t\"serviceProxyHealthy\": true\n"
				   "}";
	char buf[512];
	int n = hcserve_body(buf, sizeof(buf), "default", "front", 2, 1);

	cr_assert_eq(n, (int)strlen(want));
	cr_assert_str_eq(buf, want);
	hcserve_body(buf, sizeof(buf), "a\"b", "c\\d\n", 0, 0);
	cr_assert(strstr(buf, "\"namespace\": \"a\\\"b\""), "%s", buf);
	cr_assert(strstr(buf, "\"name\": \"c\\\\d\\u000a\""), "%s", buf);
	cr_assert(strstr(buf, "\"localEndpoints\": 0,\n\t\"serviceProxyHealthy"
			      "\": false\n}"),
		  "%s", buf);
}

/* kube-proxy's proxy_health.go: /healthz says lastUpdated, currentTime
 * and nodeEligible, /livez the first two; while healthy lastUpdated is
 * now, else the last update (Go's zero time before the first). */
Test(node_hc, healthz_body_is_kube_proxys_fields)
{
	/* 2024-02-29T23:59:58.007Z and 2.5 s later */
	const __u64 sync = 1709251198007ull, now = sync + 2500;
	char buf[256];
	int n;

	n = hcserve_healthz_body(buf, sizeof(buf), false, true, sync, now);
	cr_assert_str_eq(buf, "{\"lastUpdated\": \"2024-03-01T00:00:00.507Z\", "
			      "\"currentTime\": \"2024-03-01T00:00:00.507Z\", "
			      "\"nodeEligible\": true}");
	cr_assert_eq(n, (int)strlen(buf));
	hcserve_healthz_body(buf, sizeof(buf), false, false, sync, now);
	cr_assert_str_eq(buf, "{\"lastUpdated\": \"2024-02-29T23:59:58.007Z\", "
			      "\"currentTime\": \"2024-03-01T00:00:00.507Z\", "
			      "\"nodeEligible\": true}");
	hcserve_healthz_body(buf, sizeof(buf), true, false, 0, now);
	cr_assert_str_eq(buf, "{\"lastUpdated\": \"0001-01-01T00:00:00Z\", "
			      "\"currentTime\": \"2024-03-01T00:00:00.507Z\"}");
	n = hcserve_healthz_body(buf, 10, true, true, sync, now);
	cr_assert_gt(n, 10, "cut: the whole length, as snprintf");
	cr_assert_eq(strlen(buf), 9);
}

/* -- serviceProxyHealthy (k8s_node_hc_healthy) ------------------------- */

static void status_watching(struct lbd_k8s_status *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	st->running = st->synced = 1;
	for (r = 0; r < LBD_K8S_RES_N; r++)
		st->res[r].listed = st->res[r].watching = 1;
}

/* As kube-proxy's healthTimeout: a client behind the cluster (a watch
 * lost) stays healthy until the bound, then answers false until it
 * streams again; the bound starts when it fell behind. */
Test(node_hc, a_client_behind_for_the_timeout_is_unhealthy)
{
	struct lbd_k8s_status st;
	double since = 0;

	status_watching(&st);
	cr_assert(k8s_node_hc_healthy(&st, true, true, 100, 60, &since));
	cr_assert_eq(since, 0);
	st.res[LBD_K8S_RES_SLICES].watching = 0; /* the watch is lost */
	cr_assert(k8s_node_hc_healthy(&st, true, true, 110, 60, &since));
	cr_assert_eq(since, 110);
	cr_assert(k8s_node_hc_healthy(&st, true, true, 169.9, 60, &since));
	cr_assert_not(k8s_node_hc_healthy(&st, true, true, 170, 60, &since));
	cr_assert_eq(since, 110, "the bound runs from the fall");
	st.res[LBD_K8S_RES_SLICES].watching = 1; /* streams again */
	cr_assert(k8s_node_hc_healthy(&st, true, true, 171, 60, &since));
	cr_assert_eq(since, 0);
}

/* Not synced (a new child, a relist) and not running are behind too; a
 * failed sync is unhealthy at once, however fresh the client. */
Test(node_hc, unsynced_stopped_or_failed_sync_is_unhealthy)
{
	struct lbd_k8s_status st;
	double since = 0;

	status_watching(&st);
	cr_assert(k8s_node_hc_healthy(&st, false, true, 10, 5, &since));
	cr_assert_not(k8s_node_hc_healthy(&st, false, true, 15, 5, &since));
	since = 0;
	st.running = 0;
	cr_assert(k8s_node_hc_healthy(&st, true, true, 20, 5, &since));
	cr_assert_not(k8s_node_hc_healthy(&st, true, true, 25, 5, &since));
	since = 0;
	status_watching(&st);
	cr_assert_not(k8s_node_hc_healthy(&st, true, false, 30, 5, &since));
	cr_assert_eq(since, 0);
}
