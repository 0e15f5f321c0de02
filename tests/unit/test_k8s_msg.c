// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/k8s/k8s_msg.c: the Kubernetes child's messages, encoded, checked
 * and decoded; what a hostile child can send is refused whole. */
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
	cr_assert_geq(hlen + rlen, sizeof(struct lbd_k8s_set_hdr));
	cr_assert_leq(hlen + rlen, LBD_MSG_MAX);
	cr_assert_eq((hlen + rlen - sizeof(struct lbd_k8s_set_hdr)) % 4, 0);
	return 0;
}

static void sent_free(struct sent *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->p[i]);
	s->n = 0;
}

static void addr4(struct lbd_conf_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	a->family = LBD_AF_INET;
	a->prefixlen = 32;
	cr_assert_eq(inet_pton(AF_INET, s, &a->addr), 1);
}

static void addr6(struct lbd_conf_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	a->family = LBD_AF_INET6;
	a->prefixlen = 128;
	cr_assert_eq(inet_pton(AF_INET6, s, &a->addr), 1);
}

/* n services of nb backends each, as k8s_translate makes them; every
 * third service IPv6; a warning and a refusal. */
static void make_set(struct k8s_set *set, size_t n, size_t nb)
{
	size_t i, j;

	memset(set, 0, sizeof(*set));
	set->svc = calloc(n ? n : 1, sizeof(*set->svc));
	set->be = calloc(n * nb + 1, sizeof(*set->be));
	cr_assert(set->svc && set->be);
	for (i = 0; i < n; i++) {
		struct lbd_conf_service *s = &set->svc[i];
		char a[64];

		snprintf(s->name, sizeof(s->name), "ns%zu/web:http", i);
		snprintf(s->k8s_ref, sizeof(s->k8s_ref), "ns%zu/web", i);
		if (i % 3 == 2) {
			snprintf(a, sizeof(a), "2001:db8:f::%zx", i + 1);
			addr6(&s->vip, a);
		} else {
			snprintf(a, sizeof(a), "198.18.%zu.%zu",
				 128 + (i / 250) % 128, i % 250 + 1);
			addr4(&s->vip, a);
		}
		s->port = 80;
		s->proto = IPPROTO_TCP;
		s->fwd = LBD_FWD_GENEVE;
		s->dsr = LBD_FWD_IPIP;
		s->no_backend = LBD_NB_REJECT;
		s->icmp_echo = true;
		s->flow_backends = i & 1;
		s->affinity_timeout = 10800;
		s->origin = LBD_ORIGIN_K8S;
		s->first_backend = set->n_be;
		s->n_backends = i % 5 == 4 ? 0 : nb; /* some have none */
		for (j = 0; j < s->n_backends; j++) {
			struct lbd_conf_backend *b = &set->be[set->n_be++];

			if (s->vip.family == LBD_AF_INET6) {
				snprintf(a, sizeof(a), "2001:db8:1::%zx",
					 j + 1);
				addr6(&b->addr, a);
			} else {
				snprintf(a, sizeof(a), "198.18.1.%zu", j + 1);
				addr4(&b->addr, a);
			}
			b->port = 8080;
			b->weight = (__u32)(j + 1);
			b->state = j == 1 ? LBD_CS_DRAINING : LBD_CS_ACTIVE;
		}
	}
	set->n_svc = n;
	set->warnings = calloc(1, sizeof(char *));
	set->warnings[0] = strdup("Service ns0/web: IPv6 endpoints left out");
	set->n_warnings = 1;
	set->refusals = calloc(1, sizeof(*set->refusals));
	set->refusals[0].reason = K8S_REFUSED_VIP_RANGE;
	set->refusals[0].msg = strdup("Service a/b: VIP 192.0.2.1 is outside "
				      "kubernetes.vip_ranges: not served");
	set->n_refusals = 1;
}

/* Receives every sent message; the result of the last. */
static int receive(struct sent *s, struct k8s_set *out, char *err,
		   size_t errlen)
{
	struct k8s_rx rx = { 0 };
	__u32 gen = 0;
	size_t i;
	int r = 0;

	for (i = 0; i < s->n; i++) {
		r = k8s_rx_msg(&rx, s->flags[i], s->p[i], s->len[i], out, &gen,
			       err, errlen);
		if (r < 0)
			break;
		cr_assert_eq(r, i + 1 == s->n, "message %zu of %zu: %d", i,
			     s->n, r);
	}
	k8s_rx_reset(&rx);
	if (r == 1)
		cr_assert_eq(gen, 7);
	return r;
}

static void assert_same(const struct k8s_set *a, const struct k8s_set *b)
{
	size_t i;

	cr_assert_eq(a->n_svc, b->n_svc);
	cr_assert_eq(a->n_be, b->n_be);
	for (i = 0; i < a->n_svc; i++) {
		const struct lbd_conf_service *x = &a->svc[i], *y = &b->svc[i];

		cr_assert_str_eq(x->name, y->name);
		cr_assert_str_eq(x->k8s_ref, y->k8s_ref);
		cr_assert_eq(x->vip.family, y->vip.family);
		cr_assert_eq(x->vip.prefixlen, y->vip.prefixlen);
		cr_assert_arr_eq(&x->vip.addr, &y->vip.addr, 16);
		cr_assert_eq(x->port, y->port);
		cr_assert_eq(x->proto, y->proto);
		cr_assert_eq(x->fwd, y->fwd);
		cr_assert_eq(x->dsr, y->dsr);
		cr_assert_eq(x->no_backend, y->no_backend);
		cr_assert_eq(x->icmp_echo, y->icmp_echo);
		cr_assert_eq(x->flow_backends, y->flow_backends);
		cr_assert_eq(x->affinity_timeout, y->affinity_timeout);
		cr_assert_eq(y->origin, LBD_ORIGIN_K8S);
		cr_assert_eq(x->n_backends, y->n_backends, "service %zu", i);
		if (x->n_backends)
			cr_assert_eq(x->first_backend, y->first_backend);
	}
	for (i = 0; i < a->n_be; i++) {
		const struct lbd_conf_backend *x = &a->be[i], *y = &b->be[i];

		cr_assert_eq(x->addr.family, y->addr.family);
		cr_assert_eq(x->addr.prefixlen, y->addr.prefixlen);
		cr_assert_arr_eq(&x->addr.addr, &y->addr.addr, 16);
		cr_assert_eq(x->port, y->port);
		cr_assert_eq(x->weight, y->weight);
		cr_assert_eq(x->state, y->state);
	}
	cr_assert_eq(b->n_warnings, a->n_warnings);
	cr_assert_str_eq(b->warnings[0], a->warnings[0]);
	cr_assert_eq(b->n_refusals, a->n_refusals);
	cr_assert_str_eq(b->refusals[0].msg, a->refusals[0].msg);
	cr_assert_eq(b->refusals[0].reason, a->refusals[0].reason);
}

static void round_trip(size_t n, size_t nb, size_t chunk, size_t min_msgs)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_set in, out;
	char err[256] = "";

	make_set(&in, n, nb);
	cr_assert_eq(k8s_msg_set_encode(&in, 3, 7, chunk, collect, s), 0);
	cr_assert_geq(s->n, min_msgs);
	cr_assert_eq(s->flags[0] & LBD_K8S_F_BEGIN, LBD_K8S_F_BEGIN);
	cr_assert_eq(s->flags[s->n - 1] & LBD_K8S_F_END, LBD_K8S_F_END);
	cr_assert_eq(receive(s, &out, err, sizeof(err)), 1, "%s", err);
	assert_same(&in, &out);
	k8s_set_free(&in);
	k8s_set_free(&out);
	sent_free(s);
	free(s);
}

Test(k8s_msg, a_set_in_one_message_decodes_as_it_was)
{
	round_trip(10, 3, 0, 1);
}

Test(k8s_msg, a_set_cut_into_small_messages_decodes_as_it_was)
{
	/* a backend run of one service spans messages */
	round_trip(40, 30, 600, 20);
}

Test(k8s_msg, ten_thousand_services_of_five_backends_fit_in_chunks)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_set in, out;
	char err[256] = "";
	size_t i;

	make_set(&in, 10000, 5);
	cr_assert_eq(k8s_msg_set_encode(&in, 3, 7, 0, collect, s), 0);
	/* 10,000 x 352 + 40,000 x 32 bytes: 5 messages of 1 MiB at most */
	cr_assert_eq(s->n, 5);
	for (i = 0; i < s->n; i++)
		cr_assert_leq(s->len[i],
			      K8S_MSG_CHUNK + sizeof(struct lbd_k8s_set_hdr));
	cr_assert_eq(receive(s, &out, err, sizeof(err)), 1, "%s", err);
	assert_same(&in, &out);
	k8s_set_free(&in);
	k8s_set_free(&out);
	sent_free(s);
	free(s);
}

Test(k8s_msg, an_empty_set_is_one_message)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_set in = { 0 }, out;
	char err[256] = "";

	cr_assert_eq(k8s_msg_set_encode(&in, 1, 7, 0, collect, s), 0);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(s->flags[0], LBD_K8S_F_BEGIN | LBD_K8S_F_END);
	cr_assert_eq(s->len[0], sizeof(struct lbd_k8s_set_hdr));
	cr_assert_eq(receive(s, &out, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(out.n_svc + out.n_be + out.n_warnings + out.n_refusals, 0);
	k8s_set_free(&out);
	sent_free(s);
	free(s);
}

/* One message of one service with two backends, to be spoilt. */
struct one {
	struct lbd_k8s_set_hdr h;
	struct lbd_k8s_svc_rec svc;
	struct lbd_k8s_be_rec be[2];
	struct lbd_k8s_line_rec ref;
};

static void one_valid(struct one *m)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_set in;

	make_set(&in, 1, 2);
	free(in.warnings[0]);
	in.n_warnings = 0;
	cr_assert_eq(k8s_msg_set_encode(&in, 1, 7, 0, collect, s), 0);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(s->len[0], sizeof(*m));
	memcpy(m, s->p[0], sizeof(*m));
	k8s_set_free(&in);
	sent_free(s);
	free(s);
}

static void expect_refused(const struct one *m, size_t len, const char *why)
{
	struct k8s_rx rx = { 0 };
	struct k8s_set out = { 0 };
	char err[256] = "";
	__u32 gen;

	cr_assert_eq(k8s_rx_msg(&rx, LBD_K8S_F_BEGIN | LBD_K8S_F_END, m, len,
				&out, &gen, err, sizeof(err)),
		     -EBADMSG, "accepted: %s", why);
	cr_assert_neq(err[0], '\0');
	cr_assert_not(rx.open, "the set is dropped");
	cr_assert_null(rx.set.svc);
	k8s_rx_reset(&rx);
}

Test(k8s_msg, the_valid_message_of_the_hostile_tests_is_taken)
{
	struct one m;
	struct k8s_rx rx = { 0 };
	struct k8s_set out;
	char err[256] = "";
	__u32 gen;

	one_valid(&m);
	cr_assert_eq(k8s_rx_msg(&rx, LBD_K8S_F_BEGIN | LBD_K8S_F_END, &m,
				sizeof(m), &out, &gen, err, sizeof(err)),
		     1, "%s", err);
	cr_assert_eq(out.n_svc, 1);
	cr_assert_eq(out.svc[0].n_backends, 2);
	k8s_set_free(&out);
}

Test(k8s_msg, a_name_without_its_nul_is_refused)
{
	struct one m;

	one_valid(&m);
	memset(m.svc.name, 'a', sizeof(m.svc.name));
	expect_refused(&m, sizeof(m), "name");
	one_valid(&m);
	memset(m.svc.ref, 'a', sizeof(m.svc.ref));
	expect_refused(&m, sizeof(m), "ref");
	one_valid(&m);
	memset(m.ref.msg, 'a', sizeof(m.ref.msg));
	expect_refused(&m, sizeof(m), "refusal line");
}

Test(k8s_msg, family_7_is_refused)
{
	struct one m;

	one_valid(&m);
	m.svc.vip.family = 7;
	expect_refused(&m, sizeof(m), "VIP family 7");
	one_valid(&m);
	m.be[1].addr.family = 7;
	expect_refused(&m, sizeof(m), "backend family 7");
	one_valid(&m);
	m.be[0].addr.family = LBD_AF_INET6; /* the VIP's is IPv4 */
	expect_refused(&m, sizeof(m), "a backend of the other family");
}

Test(k8s_msg, a_backend_pointing_past_the_services_is_refused)
{
	struct one m;

	one_valid(&m);
	m.be[1].svc = 1;
	expect_refused(&m, sizeof(m), "service 1 of 1");
	one_valid(&m);
	m.be[1].svc = 0xffffffffu;
	expect_refused(&m, sizeof(m), "service 2^32-1");
}

Test(k8s_msg, counts_that_do_not_match_the_length_are_refused)
{
	struct one m;

	one_valid(&m);
	m.h.n_be = 3;
	expect_refused(&m, sizeof(m), "a backend more than there is");
	one_valid(&m);
	m.h.n_svc = 0x40000000u; /* wraps a 32-bit size sum to small */
	expect_refused(&m, sizeof(m), "a count past the bound");
	one_valid(&m);
	expect_refused(&m, sizeof(m) - 4, "a cut record");
	expect_refused(&m, 10, "less than a header");
}

Test(k8s_msg, fields_out_of_range_are_refused)
{
	struct one m;

	one_valid(&m);
	m.svc.vip.port = 0;
	expect_refused(&m, sizeof(m), "port 0");
	one_valid(&m);
	m.svc.proto = IPPROTO_SCTP;
	expect_refused(&m, sizeof(m), "SCTP");
	one_valid(&m);
	m.svc.fwd = LBD_FWD_HYBRID;
	expect_refused(&m, sizeof(m), "forwarding hybrid");
	one_valid(&m);
	m.svc.icmp_echo = 2;
	expect_refused(&m, sizeof(m), "a flag 2");
	one_valid(&m);
	m.svc.vip.addr.b[0] = 224; /* 224.x: multicast */
	expect_refused(&m, sizeof(m), "a multicast VIP");
	one_valid(&m);
	m.be[0].weight = 65536;
	expect_refused(&m, sizeof(m), "weight 65536");
	one_valid(&m);
	m.be[0].state = LBD_CS_DOWN;
	expect_refused(&m, sizeof(m), "state down");
	one_valid(&m);
	m.ref.reason = K8S_REFUSALS_N;
	expect_refused(&m, sizeof(m), "a refusal's reason past the last");
	one_valid(&m);
	m.ref.reason = 0;
	expect_refused(&m, sizeof(m), "a refusal of reason 0");
}

Test(k8s_msg, backends_out_of_their_services_order_are_refused)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_rx rx = { 0 };
	struct k8s_set in, out;
	struct lbd_k8s_be_rec *be;
	char err[256] = "";
	__u32 gen;

	make_set(&in, 3, 2);
	cr_assert_eq(k8s_msg_set_encode(&in, 1, 7, 0, collect, s), 0);
	cr_assert_eq(s->n, 1);
	/* service 1's second backend given to service 0, after service
	 * 1's first: service 0's backends would be two runs */
	be = (void *)(s->p[0] + sizeof(struct lbd_k8s_set_hdr) +
		      3 * sizeof(struct lbd_k8s_svc_rec));
	be[3].svc = 0;
	cr_assert_eq(k8s_rx_msg(&rx, s->flags[0], s->p[0], s->len[0], &out,
				&gen, err, sizeof(err)),
		     -EBADMSG);
	k8s_rx_reset(&rx);
	k8s_set_free(&in);
	sent_free(s);
	free(s);
}

Test(k8s_msg, a_set_without_its_beginning_is_refused)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_rx rx = { 0 };
	struct k8s_set in, out;
	char err[256] = "";
	__u32 gen;

	make_set(&in, 40, 30);
	cr_assert_eq(k8s_msg_set_encode(&in, 1, 7, 600, collect, s), 0);
	cr_assert_gt(s->n, 2);
	/* the child died mid-set: a new child's continuation is no
	 * continuation */
	cr_assert_eq(k8s_rx_msg(&rx, s->flags[0], s->p[0], s->len[0], &out,
				&gen, err, sizeof(err)),
		     0);
	k8s_rx_reset(&rx);
	cr_assert_eq(k8s_rx_msg(&rx, s->flags[1], s->p[1], s->len[1], &out,
				&gen, err, sizeof(err)),
		     -EBADMSG);
	/* nor is another set's */
	cr_assert_eq(k8s_rx_msg(&rx, s->flags[0], s->p[0], s->len[0], &out,
				&gen, err, sizeof(err)),
		     0);
	((struct lbd_k8s_set_hdr *)s->p[1])->seq = 2;
	cr_assert_eq(k8s_rx_msg(&rx, s->flags[1], s->p[1], s->len[1], &out,
				&gen, err, sizeof(err)),
		     -EBADMSG);
	k8s_rx_reset(&rx);
	k8s_set_free(&in);
	sent_free(s);
	free(s);
}

Test(k8s_msg, a_set_past_the_bounds_is_not_sent)
{
	struct sent *s = calloc(1, sizeof(*s));
	struct k8s_set in = { .n_svc = LBD_K8S_MAX_SVCS + 1 };

	cr_assert_eq(k8s_msg_set_encode(&in, 1, 7, 0, collect, s), -E2BIG);
	cr_assert_eq(s->n, 0);
	free(s);
}

static struct lbd_config *k8s_config(void)
{
	struct lbd_config *c = calloc(1, sizeof(*c));

	c->k8s.enabled = true;
	snprintf(c->k8s.kubeconfig, sizeof(c->k8s.kubeconfig),
		 "/etc/lbd/kubeconfig");
	snprintf(c->k8s.lb_class, sizeof(c->k8s.lb_class), "lbd.io/lb");
	snprintf(c->k8s.namespace, sizeof(c->k8s.namespace), "edge");
	c->k8s.fwd = LBD_FWD_SNAT;
	c->k8s.max_object_bytes = 1000;
	c->k8s.max_watch_line_bytes = 2000;
	c->k8s.max_list_page_bytes = 3000;
	addr4(&c->k8s.vip_ranges[0], "203.0.113.0");
	c->k8s.vip_ranges[0].prefixlen = 24;
	c->k8s.n_vip_ranges = 1;
	addr4(&c->dp.snat_v4, "192.0.2.1");
	return c;
}

Test(k8s_msg, a_start_carries_the_settings_and_the_files_bytes)
{
	struct lbd_config *c = k8s_config();
	struct k8s_files f = { .n = 2 };
	struct k8s_start_view v;
	char err[256] = "";
	size_t len;
	void *p;

	snprintf(f.path[0], sizeof(f.path[0]), "/etc/lbd/ca.crt");
	f.data[0] = "CA";
	f.len[0] = 2;
	snprintf(f.path[1], sizeof(f.path[1]), "/var/run/token");
	f.data[1] = "tok\n";
	f.len[1] = 4;
	cr_assert_eq(
		k8s_start_build(c, 5, "apiVersion: v1\n", 15, &f, &p, &len), 0);
	cr_assert_eq(len, sizeof(struct lbd_k8s_start) + 15 + 2 + 4);
	cr_assert_eq(k8s_start_parse(p, len, &v, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(v.gen, 5);
	cr_assert_str_eq(v.conf.kubeconfig, "/etc/lbd/kubeconfig");
	cr_assert_str_eq(v.conf.lb_class, "lbd.io/lb");
	cr_assert_str_eq(v.conf.namespace, "edge");
	cr_assert_eq(v.conf.max_list_page_bytes, 3000);
	cr_assert_eq(v.opts.fwd, LBD_FWD_SNAT);
	cr_assert(v.opts.snat4 && !v.opts.snat6 && !v.opts.encap4);
	cr_assert_eq(v.opts.n_vip_ranges, 1);
	cr_assert_eq(v.opts.vip_ranges[0].prefixlen, 24);
	cr_assert_eq(v.kc_len, 15);
	cr_assert_eq(memcmp(v.kc, "apiVersion: v1\n", 15), 0);
	cr_assert_eq(v.files.n, 2);
	cr_assert_str_eq(v.files.path[1], "/var/run/token");
	cr_assert_eq(v.files.len[1], 4);
	cr_assert_eq(memcmp(v.files.data[1], "tok\n", 4), 0);
	/* a length that does not add up */
	cr_assert_eq(k8s_start_parse(p, len - 1, &v, err, sizeof(err)),
		     -EBADMSG);
	((struct lbd_k8s_start *)p)->n_files = LBD_K8S_MAX_FILES + 1;
	cr_assert_eq(k8s_start_parse(p, len, &v, err, sizeof(err)), -EBADMSG);
	free(p);
	free(c);
}

Test(k8s_msg, a_status_is_checked_before_it_is_read)
{
	struct {
		struct lbd_k8s_status s;
		char need[2][LBD_K8S_PATH_MAX];
	} m;
	unsigned int n;
	char err[256] = "";

	memset(&m, 0, sizeof(m));
	m.s.synced = 1;
	snprintf(m.need[0], sizeof(m.need[0]), "/etc/lbd/ca.crt");
	snprintf(m.need[1], sizeof(m.need[1]), "/etc/lbd/token");
	cr_assert_eq(k8s_status_check(&m, sizeof(m), &n, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_eq(k8s_status_check(&m, sizeof(m.s), &n, err, sizeof(err)),
		     0);
	cr_assert_eq(n, 0);
	m.need[1][0] = 't'; /* relative: the child resolves names */
	cr_assert_eq(k8s_status_check(&m, sizeof(m), &n, err, sizeof(err)),
		     -EBADMSG);
	m.need[1][0] = '/';
	memset(m.s.res[1].last_error, 'x', sizeof(m.s.res[1].last_error));
	cr_assert_eq(k8s_status_check(&m, sizeof(m), &n, err, sizeof(err)),
		     -EBADMSG);
	memset(m.s.res[1].last_error, 0, sizeof(m.s.res[1].last_error));
	m.s.res[0].watching = 2;
	cr_assert_eq(k8s_status_check(&m, sizeof(m), &n, err, sizeof(err)),
		     -EBADMSG);
	m.s.res[0].watching = 1;
	cr_assert_eq(k8s_status_check(&m, sizeof(m) - 1, &n, err, sizeof(err)),
		     -EBADMSG);
}

Test(k8s_msg, msg_check_holds_each_type_to_its_layout)
{
	struct lbd_msg_hdr h = { .type = LBD_MSG_K8S_SERVICES };

	h.len = sizeof(struct lbd_k8s_set_hdr);
	cr_assert_eq(msg_check(&h), 0);
	h.len += sizeof(struct lbd_k8s_svc_rec);
	cr_assert_eq(msg_check(&h), 0);
	h.len += 2; /* not a whole record */
	cr_assert_eq(msg_check(&h), -EBADMSG);
	h.len = sizeof(struct lbd_k8s_set_hdr) - 4;
	cr_assert_eq(msg_check(&h), -EBADMSG);
	h.type = LBD_MSG_K8S_STATUS;
	h.len = sizeof(struct lbd_k8s_status) + LBD_K8S_PATH_MAX;
	cr_assert_eq(msg_check(&h), 0);
	h.len = sizeof(struct lbd_k8s_status) + 5 * LBD_K8S_PATH_MAX;
	cr_assert_eq(msg_check(&h), -EBADMSG);
	h.type = LBD_MSG_K8S_START;
	h.len = sizeof(struct lbd_k8s_start) + LBD_K8S_START_MAX_BYTES;
	cr_assert_eq(msg_check(&h), 0);
	h.len++;
	cr_assert_eq(msg_check(&h), -EBADMSG);
}
