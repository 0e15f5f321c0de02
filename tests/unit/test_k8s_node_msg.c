// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/k8s/k8s_msg.c, role node: the node's records as the Kubernetes
 * child sends them (LBD_MSG_K8S_NODE_SET) and as lbd takes them; every
 * field a hostile child can spoil is refused, and the set with it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s_msg.h"

/* The messages an encode sent, one after another. */
struct sent {
	size_t n;
	__u16 flags[4096];
	char *p[4096];
	size_t len[4096];
};

static int collect(__u16 flags, const void *head, size_t hlen, const void *recs,
		   size_t rlen, void *arg)
{
	struct sent *s = arg;
	struct lbd_msg_hdr h = { .type = LBD_MSG_K8S_NODE_SET,
				 .len = (__u32)(hlen + rlen) };
	char *p = malloc(hlen + rlen + 1);

	cr_assert(s->n < 4096);
	cr_assert_not_null(p);
	memcpy(p, head, hlen);
	if (rlen)
		memcpy(p + hlen, recs, rlen);
	s->flags[s->n] = flags;
	s->p[s->n] = p;
	s->len[s->n++] = hlen + rlen;
	/* each one fits the type's spec */
	cr_assert_eq(msg_check(&h), 0, "%zu bytes", hlen + rlen);
	return 0;
}

static void sent_free(struct sent *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->p[i]);
	s->n = 0;
}

static void addr_of(struct lbd_conf_addr *a, __u8 family, const char *s)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	a->prefixlen = family == LBD_AF_INET ? 32 : 128;
	cr_assert_eq(inet_pton(family == LBD_AF_INET ? AF_INET : AF_INET6, s,
			       &a->addr),
		     1);
}

/* n records as k8s_node_translate makes them: every other one IPv6,
 * every third external with a NodePort and two addresses; nep endpoints
 * each; a refusal. */
static void make_set(struct k8s_node_set *set, size_t n, size_t nep)
{
	size_t i, j;

	memset(set, 0, sizeof(*set));
	set->recs = calloc(n + 1, sizeof(*set->recs));
	set->addrs = calloc(2 * n + 1, sizeof(*set->addrs));
	set->eps = calloc(n * nep + 1, sizeof(*set->eps));
	cr_assert(set->recs && set->addrs && set->eps);
	for (i = 0; i < n; i++) {
		struct k8s_node_rec *r = &set->recs[i];
		bool v6 = i % 2, ext = i % 3 == 0;
		__u8 f = v6 ? LBD_AF_INET6 : LBD_AF_INET;
		char a[64];

		snprintf(r->ns, sizeof(r->ns), "ns%zu", i / 10);
		snprintf(r->name, sizeof(r->name), "svc%zu", i);
		snprintf(r->port_name, sizeof(r->port_name), "%s",
			 i % 4 ? "http" : "");
		r->port = (__u16)(80 + i);
		r->type = ext ? K8S_NODE_NODE_PORT : K8S_NODE_CLUSTER_IP;
		r->proto = i % 5 ? IPPROTO_TCP : IPPROTO_UDP;
		r->family = f;
		r->external = ext;
		r->node_port = ext ? (__u16)(30000 + i) : 0;
		r->hc_node_port = ext && i % 2 ? 32000 : 0;
		r->local_only = i % 7 == 0;
		r->affinity = i % 6 == 0;
		r->zone_hints = i % 8 == 1;
		r->forwarding = (__u8)(i % 3);
		r->affinity_timeout = r->affinity ? 10800 : 0;
		r->first_addr = set->n_addrs;
		for (j = 0; j < (ext ? 2u : 1u); j++) {
			struct k8s_node_addr *na = &set->addrs[set->n_addrs++];

			snprintf(a, sizeof(a),
				 v6 ? "2001:db8:96::%zx" : "10.96.%zu.%zu",
				 v6 ? i * 2 + j : i / 200,
				 v6 ? 0 : i % 200 + j);
			addr_of(&na->addr, f, a);
			na->port = ext && j ? r->node_port : r->port;
			na->kind = ext && j ? K8S_NODE_ADDR_NODE_PORT :
				   ext	    ? K8S_NODE_ADDR_EXTERNAL_IP :
					      K8S_NODE_ADDR_CLUSTER_IP;
		}
		r->n_addrs = set->n_addrs - r->first_addr;
		r->first_ep = set->n_eps;
		for (j = 0; j < nep; j++) {
			struct k8s_node_ep *e = &set->eps[set->n_eps++];

			snprintf(a, sizeof(a),
				 v6 ? "2001:db8:1::%zx:%zx" : "198.18.%zu.%zu",
				 i % 250, j + 1);
			addr_of(&e->addr, f, a);
			e->port = 8080;
			e->weight = (__u16)(j + 1);
			e->ready = j != 1;
			e->serving = true;
			e->terminating = j == 1;
			e->local = j == 0;
		}
		r->n_eps = nep;
	}
	set->n_recs = n;
	set->refusals = calloc(1, sizeof(*set->refusals));
	set->refusals[0].reason = K8S_REFUSED_PROTOCOL;
	set->refusals[0].msg = strdup("Service a/b: SCTP port 9 not served");
	set->n_refusals = 1;
	/* the ports of Services without an external record */
	set->hc_only = calloc(2, sizeof(*set->hc_only));
	for (i = 0; i < 2; i++) {
		snprintf(set->hc_only[i].ns, sizeof(set->hc_only[i].ns), "t");
		snprintf(set->hc_only[i].name, sizeof(set->hc_only[i].name),
			 "refused%zu", i);
		set->hc_only[i].port = (__u16)(32500 + i);
	}
	set->n_hc_only = 2;
}

/* Receives every sent message; the result of the last. */
static int receive(struct sent *s, struct k8s_node_set *out, char *err,
		   size_t errlen)
{
	struct k8s_node_rx rx = { 0 };
	__u32 gen = 0;
	size_t i;
	int r = 0;

	for (i = 0; i < s->n; i++) {
		r = k8s_node_rx_msg(&rx, s->flags[i], s->p[i], s->len[i], out,
				    &gen, err, errlen);
		if (r < 0)
			break;
		cr_assert_eq(r, i + 1 == s->n, "message %zu of %zu: %d", i,
			     s->n, r);
	}
	k8s_node_rx_reset(&rx);
	if (r == 1)
		cr_assert_eq(gen, 7);
	return r;
}

static void assert_same(const struct k8s_node_set *a,
			const struct k8s_node_set *b)
{
	size_t i;

	cr_assert_eq(a->n_recs, b->n_recs);
	cr_assert_eq(a->n_addrs, b->n_addrs);
	cr_assert_eq(a->n_eps, b->n_eps);
	for (i = 0; i < a->n_recs; i++) {
		const struct k8s_node_rec *x = &a->recs[i], *y = &b->recs[i];

		cr_assert_str_eq(x->ns, y->ns);
		cr_assert_str_eq(x->name, y->name);
		cr_assert_str_eq(x->port_name, y->port_name);
		cr_assert_eq(x->port, y->port);
		cr_assert_eq(x->node_port, y->node_port);
		cr_assert_eq(x->hc_node_port, y->hc_node_port);
		cr_assert_eq(x->type, y->type);
		cr_assert_eq(x->proto, y->proto);
		cr_assert_eq(x->family, y->family);
		cr_assert_eq(x->external, y->external);
		cr_assert_eq(x->local_only, y->local_only);
		cr_assert_eq(x->affinity, y->affinity);
		cr_assert_eq(x->zone_hints, y->zone_hints);
		cr_assert_eq(x->forwarding, y->forwarding);
		cr_assert_eq(x->affinity_timeout, y->affinity_timeout);
		cr_assert_eq(x->first_addr, y->first_addr);
		cr_assert_eq(x->n_addrs, y->n_addrs);
		cr_assert_eq(x->first_ep, y->first_ep);
		cr_assert_eq(x->n_eps, y->n_eps);
	}
	for (i = 0; i < a->n_addrs; i++) {
		const struct k8s_node_addr *x = &a->addrs[i], *y = &b->addrs[i];

		cr_assert_eq(x->addr.family, y->addr.family);
		cr_assert_eq(x->addr.prefixlen, y->addr.prefixlen);
		cr_assert_arr_eq(&x->addr.addr, &y->addr.addr, 16);
		cr_assert_eq(x->port, y->port);
		cr_assert_eq(x->kind, y->kind);
	}
	for (i = 0; i < a->n_eps; i++) {
		const struct k8s_node_ep *x = &a->eps[i], *y = &b->eps[i];

		cr_assert_eq(x->addr.family, y->addr.family);
		cr_assert_arr_eq(&x->addr.addr, &y->addr.addr, 16);
		cr_assert_eq(x->port, y->port);
		cr_assert_eq(x->weight, y->weight);
		cr_assert_eq(x->ready, y->ready);
		cr_assert_eq(x->serving, y->serving);
		cr_assert_eq(x->terminating, y->terminating);
		cr_assert_eq(x->local, y->local);
	}
	cr_assert_eq(b->n_refusals, a->n_refusals);
	cr_assert_str_eq(b->refusals[0].msg, a->refusals[0].msg);
	cr_assert_eq(b->refusals[0].reason, a->refusals[0].reason);
	cr_assert_eq(b->n_hc_only, a->n_hc_only);
	for (i = 0; i < a->n_hc_only; i++) {
		cr_assert_str_eq(b->hc_only[i].ns, a->hc_only[i].ns);
		cr_assert_str_eq(b->hc_only[i].name, a->hc_only[i].name);
		cr_assert_eq(b->hc_only[i].port, a->hc_only[i].port);
	}
}

static void round_trip(size_t n, size_t nep, size_t chunk, size_t min_msgs)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_node_set in, out;
	char err[256] = "";

	make_set(&in, n, nep);
	cr_assert_eq(k8s_msg_node_set_encode(&in, 3, 7, chunk, collect, s), 0);
	cr_assert_geq(s->n, min_msgs);
	cr_assert_eq(s->flags[0] & LBD_K8S_F_BEGIN, LBD_K8S_F_BEGIN);
	cr_assert_eq(s->flags[s->n - 1] & LBD_K8S_F_END, LBD_K8S_F_END);
	cr_assert_eq(receive(s, &out, err, sizeof(err)), 1, "%s", err);
	assert_same(&in, &out);
	k8s_node_set_free(&in);
	k8s_node_set_free(&out);
	sent_free(s);
	free(s);
}

Test(k8s_node_msg, a_node_set_in_one_message_decodes_as_it_was)
{
	round_trip(12, 3, 0, 1);
}

Test(k8s_node_msg, a_node_set_cut_into_small_messages_decodes_as_it_was)
{
	/* records, addresses and endpoints each span messages, and a
	 * record's addresses and endpoints come messages after it */
	round_trip(60, 20, 600, 40);
}

Test(k8s_node_msg, ten_thousand_service_ports_of_ten_endpoints_fit_in_chunks)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_node_set in, out;
	char err[256] = "";
	size_t i;

	make_set(&in, 10000, 10);
	cr_assert_eq(k8s_msg_node_set_encode(&in, 3, 7, 0, collect, s), 0);
	/* 10,000 x 228 + 13,334 x 24 + 100,000 x 28 + 516 bytes (5.4
	 * MB): 6 messages of 1 MiB at most */
	cr_assert_eq(s->n, 6);
	for (i = 0; i < s->n; i++)
		cr_assert_leq(s->len[i],
			      K8S_MSG_CHUNK +
				      sizeof(struct lbd_k8s_node_set_hdr));
	cr_assert_eq(receive(s, &out, err, sizeof(err)), 1, "%s", err);
	assert_same(&in, &out);
	k8s_node_set_free(&in);
	k8s_node_set_free(&out);
	sent_free(s);
	free(s);
}

Test(k8s_node_msg, an_empty_node_set_is_one_message)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_node_set in = { 0 }, out;
	char err[256] = "";

	cr_assert_eq(k8s_msg_node_set_encode(&in, 1, 7, 0, collect, s), 0);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(s->flags[0], LBD_K8S_F_BEGIN | LBD_K8S_F_END);
	cr_assert_eq(s->len[0], sizeof(struct lbd_k8s_node_set_hdr));
	cr_assert_eq(receive(s, &out, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(out.n_recs + out.n_addrs + out.n_eps + out.n_refusals, 0);
	k8s_node_set_free(&out);
	sent_free(s);
	free(s);
}

/* One message of two records (IPv4 external with a NodePort, IPv6
 * internal), their addresses and endpoints and a refusal, to be
 * spoilt. */
struct one {
	struct lbd_k8s_node_set_hdr h;
	struct lbd_k8s_node_rec rec[2];
	struct lbd_k8s_node_addr addr[3];
	struct lbd_k8s_node_ep ep[6];
	struct lbd_k8s_line_rec ref;
	struct lbd_k8s_node_hc hc[2];
};

static void one_valid(struct one *m)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_node_set in;

	/* record 0: IPv4, a NodePort's external record (two addresses);
	 * record 1: IPv6, internal */
	make_set(&in, 2, 3);
	cr_assert_eq(k8s_msg_node_set_encode(&in, 1, 7, 0, collect, s), 0);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(s->len[0], sizeof(*m));
	memcpy(m, s->p[0], sizeof(*m));
	k8s_node_set_free(&in);
	sent_free(s);
	free(s);
}

static void expect_refused(const struct one *m, size_t len, const char *why)
{
	struct k8s_node_rx rx = { 0 };
	struct k8s_node_set out = { 0 };
	char err[256] = "";
	__u32 gen;

	cr_assert_eq(k8s_node_rx_msg(&rx, LBD_K8S_F_BEGIN | LBD_K8S_F_END, m,
				     len, &out, &gen, err, sizeof(err)),
		     -EBADMSG, "accepted: %s", why);
	cr_assert_neq(err[0], '\0');
	cr_assert_not(rx.open, "the set is dropped");
	cr_assert_null(rx.set.recs);
	k8s_node_rx_reset(&rx);
}

/* m with one change made by spoil, refused. */
#define REFUSED(what, spoil)                           \
	do {                                           \
		struct one _m;                         \
		one_valid(&_m);                        \
		{                                      \
			struct one *m = &_m;           \
			spoil;                         \
		}                                      \
		expect_refused(&_m, sizeof(_m), what); \
	} while (0)

Test(k8s_node_msg, the_valid_message_of_the_hostile_tests_is_taken)
{
	struct one m;
	struct k8s_node_rx rx = { 0 };
	struct k8s_node_set out;
	char err[256] = "";
	__u32 gen;

	one_valid(&m);
	cr_assert_eq(k8s_node_rx_msg(&rx, LBD_K8S_F_BEGIN | LBD_K8S_F_END, &m,
				     sizeof(m), &out, &gen, err, sizeof(err)),
		     1, "%s", err);
	cr_assert_eq(out.n_recs, 2);
	cr_assert_eq(out.recs[0].n_addrs, 2);
	cr_assert_eq(out.recs[1].first_addr, 2);
	cr_assert_eq(out.recs[1].n_eps, 3);
	cr_assert_eq(out.n_refusals, 1);
	k8s_node_set_free(&out);
}

Test(k8s_node_msg, strings_without_their_end_are_refused)
{
	REFUSED("ns", memset(m->rec[0].ns, 'a', sizeof(m->rec[0].ns)));
	REFUSED("name", memset(m->rec[1].name, 'a', sizeof(m->rec[1].name)));
	REFUSED("port name",
		memset(m->rec[0].port_name, 'a', sizeof(m->rec[0].port_name)));
	REFUSED("empty ns", m->rec[0].ns[0] = '\0');
	REFUSED("empty name", m->rec[0].name[0] = '\0');
	REFUSED("refusal", memset(m->ref.msg, 'x', sizeof(m->ref.msg)));
	REFUSED("health check ns",
		memset(m->hc[0].ns, 'a', sizeof(m->hc[0].ns)));
	REFUSED("health check name", m->hc[1].name[0] = '\0');
}

Test(k8s_node_msg, health_check_ports_out_of_order_or_zero_are_refused)
{
	REFUSED("port 0", m->hc[0].port = 0);
	REFUSED("the same port twice", m->hc[1].port = m->hc[0].port);
	REFUSED("a smaller port after", m->hc[1].port = 1000);
}

Test(k8s_node_msg, enums_and_flags_out_of_range_are_refused)
{
	REFUSED("type", m->rec[0].type = K8S_NODE_EXTERNAL_NAME + 1);
	REFUSED("protocol", m->rec[0].proto = IPPROTO_SCTP);
	REFUSED("external", m->rec[0].external = 2);
	REFUSED("local_only", m->rec[1].local_only = 2);
	REFUSED("affinity", m->rec[0].affinity = 2);
	REFUSED("zone_hints", m->rec[0].zone_hints = 2);
	REFUSED("forwarding", m->rec[0].forwarding = K8S_NODE_FWD_GENEVE + 1);
	REFUSED("forwarding 255", m->rec[1].forwarding = 255);
	REFUSED("affinity timeout",
		m->rec[0].affinity_timeout = K8S_NODE_AFFINITY_MAX + 1);
	REFUSED("port 0", m->rec[0].port = 0);
	REFUSED("node port on an internal record", m->rec[1].node_port = 1);
	REFUSED("health port on an internal record",
		m->rec[1].hc_node_port = 1);
	REFUSED("address kind", m->addr[1].kind = K8S_NODE_ADDR_NODE_PORT + 1);
	REFUSED("ready", m->ep[0].ready = 2);
	REFUSED("serving", m->ep[1].serving = 2);
	REFUSED("terminating", m->ep[2].terminating = 2);
	REFUSED("local", m->ep[3].local = 2);
	REFUSED("refusal reason 0", m->ref.reason = 0);
	REFUSED("refusal reason", m->ref.reason = K8S_REFUSALS_N);
}

Test(k8s_node_msg, families_and_addresses_that_are_not_valid_are_refused)
{
	REFUSED("record family", m->rec[0].family = 7);
	REFUSED("address family", m->addr[0].addr.family = 7);
	REFUSED("endpoint family", m->ep[0].addr.family = 0);
	REFUSED("address port 0", m->addr[0].addr.port = 0);
	REFUSED("endpoint port 0", m->ep[4].addr.port = 0);
	/* 127.0.0.1 and :: cannot be a Service's or an endpoint's */
	REFUSED("loopback address",
		m->addr[0].addr.addr.v4 = htonl(0x7f000001));
	REFUSED("unspecified endpoint",
		memset(&m->ep[5].addr.addr, 0, sizeof(m->ep[5].addr.addr)));
	/* of the other record's family */
	REFUSED("an address of another family",
		{ m->rec[0].family = LBD_AF_INET6; });
	REFUSED("an endpoint of another family", { m->ep[0] = m->ep[3]; });
}

Test(k8s_node_msg, indices_past_the_set_are_refused)
{
	REFUSED("first_addr", m->rec[1].first_addr = 3);
	REFUSED("n_addrs", m->rec[0].n_addrs = 4);
	REFUSED("no address", m->rec[0].n_addrs = 0);
	REFUSED("first_ep", m->rec[1].first_ep = 4);
	REFUSED("n_eps", m->rec[0].n_eps = 7);
	REFUSED("an index that wraps", {
		m->rec[0].first_ep = 0xffffffffu;
		m->rec[0].n_eps = 2;
	});
}

Test(k8s_node_msg, counts_that_do_not_match_the_length_are_refused)
{
	struct one m;

	one_valid(&m);
	expect_refused(&m, sizeof(m) - 4, "a short message");
	m.h.n_ep = 5;
	expect_refused(&m, sizeof(m), "n_ep one short");
	one_valid(&m);
	m.h.n_rec = 0x40000000;
	expect_refused(&m, sizeof(m), "a count that wraps");
	expect_refused(&m, sizeof(m.h) - 4, "no header");
}

Test(k8s_node_msg, a_set_without_its_beginning_or_of_another_seq_is_refused)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_node_rx rx = { 0 };
	struct k8s_node_set in, out;
	struct lbd_k8s_node_set_hdr *h;
	char err[256] = "";
	__u32 gen;

	make_set(&in, 40, 10);
	cr_assert_eq(k8s_msg_node_set_encode(&in, 3, 7, 1000, collect, s), 0);
	cr_assert_geq(s->n, 3);
	/* the second message first */
	cr_assert_eq(k8s_node_rx_msg(&rx, s->flags[1], s->p[1], s->len[1], &out,
				     &gen, err, sizeof(err)),
		     -EBADMSG);
	/* the first, then the second of another set */
	cr_assert_eq(k8s_node_rx_msg(&rx, s->flags[0], s->p[0], s->len[0], &out,
				     &gen, err, sizeof(err)),
		     0);
	h = (void *)s->p[1];
	h->seq = 4;
	cr_assert_eq(k8s_node_rx_msg(&rx, s->flags[1], s->p[1], s->len[1], &out,
				     &gen, err, sizeof(err)),
		     -EBADMSG);
	cr_assert_not(rx.open);
	/* flags that are no set's */
	cr_assert_eq(k8s_node_rx_msg(&rx, s->flags[0] | 4, s->p[0], s->len[0],
				     &out, &gen, err, sizeof(err)),
		     -EBADMSG);
	k8s_node_rx_reset(&rx);
	k8s_node_set_free(&in);
	sent_free(s);
	free(s);
}

Test(k8s_node_msg, a_start_carries_the_node)
{
	struct lbd_config *c = calloc(1, sizeof(*c));
	struct k8s_node_ident id = { .n_addrs = 2 };
	struct k8s_start_view *v = malloc(sizeof(*v));
	char err[256] = "";
	size_t len;
	void *p;

	c->k8s.enabled = true;
	c->k8s.fwd = LBD_FWD_GENEVE;
	snprintf(c->k8s.kubeconfig, sizeof(c->k8s.kubeconfig), "/k");
	snprintf(id.node_name, sizeof(id.node_name), "node-1");
	snprintf(id.zone, sizeof(id.zone), "zone-a");
	addr_of(&id.addrs[0], LBD_AF_INET, "198.18.0.10");
	addr_of(&id.addrs[1], LBD_AF_INET6, "2001:db8::10");
	cr_assert_eq(k8s_start_build(c, 2, "x", 1, NULL, &p, &len), 0);
	cr_assert_eq(k8s_start_parse(p, len, v, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(v->role, LBD_K8S_ROLE_LB, "the LB role's, by default");
	k8s_start_set_node(p, &id);
	cr_assert_eq(k8s_start_parse(p, len, v, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(v->role, LBD_K8S_ROLE_NODE);
	cr_assert_str_eq(v->node.node_name, "node-1");
	cr_assert_str_eq(v->node.zone, "zone-a");
	cr_assert_eq(v->node.n_addrs, 2);
	cr_assert_eq(v->node.addrs[1].family, LBD_AF_INET6);
	cr_assert_eq(v->node.addrs[1].prefixlen, 128);
	cr_assert_arr_eq(&v->node.addrs[1].addr, &id.addrs[1].addr, 16);
	((struct lbd_k8s_start *)p)->role = LBD_K8S_ROLE_N;
	cr_assert_eq(k8s_start_parse(p, len, v, err, sizeof(err)), -EBADMSG);
	((struct lbd_k8s_start *)p)->role = LBD_K8S_ROLE_NODE;
	memset(((struct lbd_k8s_start *)p)->zone, 'z', 64);
	cr_assert_eq(k8s_start_parse(p, len, v, err, sizeof(err)), -EBADMSG);
	free(p);
	free(v);
	free(c);
}

Test(k8s_node_msg, msg_check_holds_the_node_set_to_its_layout)
{
	struct lbd_msg_hdr h = { .type = LBD_MSG_K8S_NODE_SET };

	h.len = sizeof(struct lbd_k8s_node_set_hdr);
	cr_assert_eq(msg_check(&h), 0);
	h.len += sizeof(struct lbd_k8s_node_rec);
	cr_assert_eq(msg_check(&h), 0);
	h.len += 2; /* not a whole record */
	cr_assert_eq(msg_check(&h), -EBADMSG);
	h.len = sizeof(struct lbd_k8s_node_set_hdr) - 4;
	cr_assert_eq(msg_check(&h), -EBADMSG);
}
