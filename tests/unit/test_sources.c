// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/state/sources.c: the config file's and the cluster's services side by
 * side; a clash on VIP, port and protocol is the newcomer's loss. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources.h"

#define DP                                                                     \
	"datapath = { interface = \"lb0\"; encap_source_v4 = \"198.18.0.10\";" \
	" };\n"

static struct lbd_config *conf(const char *text)
{
	struct lbd_config *c = NULL;
	struct config_diag d;

	cr_assert_eq(config_load_string(text, "t.conf", &c, &d), 0);
	config_diag_free(&d);
	return c;
}

/* A cluster with one Service "ns/name" on vip:port/tcp, 2 endpoints. */
static void cluster(struct k8s_set *k, const char *ref, const char *vip,
		    __u16 port)
{
	struct lbd_conf_service *s;
	int i;

	memset(k, 0, sizeof(*k));
	k->svc = calloc(1, sizeof(*k->svc));
	k->be = calloc(2, sizeof(*k->be));
	s = &k->svc[0];
	s->vip.family = LBD_AF_INET;
	s->vip.prefixlen = 32;
	inet_pton(AF_INET, vip, &s->vip.addr.v4);
	s->port = port;
	s->proto = IPPROTO_TCP;
	s->fwd = LBD_FWD_GENEVE;
	s->origin = LBD_ORIGIN_K8S;
	snprintf(s->k8s_ref, sizeof(s->k8s_ref), "%s", ref);
	snprintf(s->name, sizeof(s->name), "%s:%u", ref, port);
	s->n_backends = 2;
	for (i = 0; i < 2; i++) {
		k->be[i].addr.family = LBD_AF_INET;
		k->be[i].addr.prefixlen = 32;
		k->be[i].addr.addr.v4 = htonl(0xc6120201 + i); /* 198.18.2.x */
		k->be[i].port = 8080;
		k->be[i].weight = 1;
	}
	k->n_svc = 1;
	k->n_be = 2;
}

static const struct lbd_conf_service *named(const struct lbd_config *m,
					    const char *name)
{
	size_t i;

	for (i = 0; i < m->n_services; i++)
		if (!strcmp(m->services[i].name, name))
			return &m->services[i];
	return NULL;
}

static void merge(struct sources *s, const struct lbd_config *file,
		  const struct k8s_set *k, struct lbd_config **m,
		  struct config_diag *news)
{
	memset(news, 0, sizeof(*news));
	sources_merged_free(*m);
	*m = NULL;
	cr_assert_eq(sources_merge(s, file, k, 0, m, news, NULL), 0);
}

Test(sources, both_sources_side_by_side_with_their_backends)
{
	struct lbd_config *file = conf(
		DP "services = ( { name = \"web\"; vip = \"203.0.113.10\";"
		   " port = 80; backends = ( { address = \"198.18.1.11\"; } );"
		   " } );\n");
	struct sources s = { 0 };
	struct lbd_config *m = NULL;
	struct config_diag news;
	const struct lbd_conf_service *k;
	struct k8s_set ks;

	cluster(&ks, "default/shop", "203.0.113.20", 80);
	merge(&s, file, &ks, &m, &news);
	cr_assert_eq(news.n, 0);
	cr_assert_eq(m->n_services, 2);
	cr_assert_eq(m->n_backends, 3);
	cr_assert_not_null(named(m, "web"));
	k = named(m, "default/shop:80");
	cr_assert_not_null(k);
	cr_assert_eq(k->n_backends, 2);
	cr_assert_eq(m->backends[k->first_backend].port, 8080);
	cr_assert_eq(m->backends[k->first_backend + 1].addr.addr.v4,
		     htonl(0xc6120202));
	cr_assert_eq(m->dp.encap_v4.family, LBD_AF_INET,
		     "the file's settings come along");
	sources_merged_free(m);
	sources_free(&s);
	k8s_set_free(&ks);
	config_free(file);
}

Test(sources, a_service_that_clashes_with_a_configured_one_is_refused)
{
	struct lbd_config *file = conf(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"203.0.113.10\"; port = 80;\n"
		   "\t  backends = ( { address = \"198.18.1.11\"; } ); } );\n");
	struct sources s = { 0 };
	struct lbd_config *m = NULL;
	struct config_diag news;
	struct k8s_set ks;

	cluster(&ks, "default/web", "203.0.113.10", 80);
	merge(&s, file, NULL, &m, &news);
	merge(&s, file, &ks, &m, &news);
	cr_assert_eq(news.n, 1);
	cr_assert_str_eq(news.msgs[0],
			 "Kubernetes Service default/web: 203.0.113.10:80/tcp "
			 "is served by web (t.conf:3); default/web:80 refused "
			 "while that one runs");
	config_diag_free(&news);
	cr_assert_eq(s.refusals, 1);
	cr_assert_eq(m->n_services, 1);
	cr_assert_not_null(named(m, "web"), "the running one keeps serving");
	/* said once, counted once, however often the cluster changes */
	merge(&s, file, &ks, &m, &news);
	cr_assert_eq(news.n, 0);
	cr_assert_eq(s.refusals, 1);
	sources_merged_free(m);
	sources_free(&s);
	k8s_set_free(&ks);
	config_free(file);
}

Test(sources, a_configured_newcomer_loses_to_the_cluster_and_takes_over_later)
{
	struct lbd_config *none = conf(DP);
	struct lbd_config *file = conf(
		DP "services = (\n"
		   "\t{ name = \"web\"; vip = \"203.0.113.10\"; port = 80;\n"
		   "\t  backends = ( { address = \"198.18.1.11\"; } ); } );\n");
	struct sources s = { 0 };
	struct lbd_config *m = NULL;
	struct config_diag news;
	struct k8s_set ks;

	cluster(&ks, "default/web", "203.0.113.10", 80);
	merge(&s, none, &ks, &m, &news);
	cr_assert_not_null(named(m, "default/web:80"));
	/* the file gains a service on the cluster's key: refused */
	merge(&s, file, &ks, &m, &news);
	cr_assert_eq(news.n, 1);
	cr_assert_str_eq(news.msgs[0],
			 "t.conf:3: services[web]: 203.0.113.10:80/tcp is "
			 "served by default/web:80 (Kubernetes Service "
			 "default/web); refused while that one runs");
	config_diag_free(&news);
	cr_assert_eq(m->n_services, 1);
	cr_assert_not_null(named(m, "default/web:80"));
	/* the Service goes away: the configured one is served */
	merge(&s, file, NULL, &m, &news);
	cr_assert_eq(news.n, 1);
	cr_assert_str_eq(news.msgs[0],
			 "t.conf:3: web 203.0.113.10:80/tcp is served now");
	config_diag_free(&news);
	cr_assert_not_null(named(m, "web"));
	/* and keeps it when the Service comes back */
	merge(&s, file, &ks, &m, &news);
	cr_assert_eq(news.n, 1);
	config_diag_free(&news);
	cr_assert_not_null(named(m, "web"));
	cr_assert_eq(s.refusals, 2);
	sources_merged_free(m);
	sources_free(&s);
	k8s_set_free(&ks);
	config_free(file);
	config_free(none);
}

Test(sources, two_services_of_the_cluster_on_one_key_keep_the_first)
{
	struct lbd_config *none = conf(DP);
	struct sources s = { 0 };
	struct lbd_config *m = NULL;
	struct config_diag news;
	struct k8s_set a, both;

	cluster(&a, "default/b", "203.0.113.10", 80);
	merge(&s, none, &a, &m, &news);
	/* "default/a" sorts first but "default/b" was there before */
	cluster(&both, "default/a", "203.0.113.10", 80);
	both.svc = realloc(both.svc, 2 * sizeof(*both.svc));
	both.svc[1] = a.svc[0];
	both.n_svc = 2;
	both.be = realloc(both.be, 4 * sizeof(*both.be));
	memcpy(both.be + 2, a.be, 2 * sizeof(*a.be));
	both.svc[1].first_backend = 2;
	both.n_be = 4;
	merge(&s, none, &both, &m, &news);
	cr_assert_eq(m->n_services, 1);
	cr_assert_not_null(named(m, "default/b:80"));
	cr_assert_eq(news.n, 1);
	config_diag_free(&news);
	sources_merged_free(m);
	sources_free(&s);
	k8s_set_free(&a);
	k8s_set_free(&both);
	config_free(none);
}

Test(sources, new_services_of_the_cluster_come_in_steps_when_capped)
{
	struct lbd_config *none = conf(DP);
	struct sources s = { 0 };
	struct lbd_config *m = NULL;
	struct config_diag news = { 0 };
	struct k8s_set a, b;
	size_t deferred;

	cluster(&a, "default/a", "203.0.113.10", 80);
	cluster(&b, "default/b", "203.0.113.11", 80);
	a.svc = realloc(a.svc, 2 * sizeof(*a.svc));
	a.svc[1] = b.svc[0];
	a.n_svc = 2;
	cr_assert_eq(sources_merge(&s, none, &a, 1, &m, &news, &deferred), 0);
	cr_assert_eq(m->n_services, 1);
	cr_assert_eq(deferred, 1);
	cr_assert_eq(s.refusals, 0, "deferred is not refused");
	sources_merged_free(m);
	/* the first is served now and stays; the second comes */
	cr_assert_eq(sources_merge(&s, none, &a, 1, &m, &news, &deferred), 0);
	cr_assert_eq(m->n_services, 2);
	cr_assert_eq(deferred, 0);
	sources_merged_free(m);
	sources_free(&s);
	k8s_set_free(&a);
	k8s_set_free(&b);
	config_free(none);
}

static struct lbd_conf_addr v4(const char *a)
{
	struct lbd_conf_addr x = { .family = LBD_AF_INET, .prefixlen = 32 };

	inet_pton(AF_INET, a, &x.addr.v4);
	return x;
}

/* issue 14: a Service on the LB host's own address (port 22) took every
 * packet to it; it is refused, logged once, counted, while another
 * Service is served, and served when the address leaves the host. */
Test(sources, a_vip_of_the_lb_hosts_own_is_refused_until_it_leaves)
{
	struct lbd_config *file = conf(DP);
	struct lbd_conf_addr host[] = { v4("198.18.0.10"), v4("127.0.0.1"),
					v4("192.0.2.77") };
	struct sources s = { 0 };
	struct lbd_config *m = NULL;
	struct config_diag news;
	struct k8s_set k, other;

	cluster(&k, "default/ssh", "198.18.0.10", 22);
	cluster(&other, "default/web", "203.0.113.40", 80);
	/* two Services of one cluster in one set */
	k.svc = realloc(k.svc, 2 * sizeof(*k.svc));
	k.be = realloc(k.be, 4 * sizeof(*k.be));
	k.svc[1] = other.svc[0];
	k.svc[1].first_backend = 2;
	memcpy(&k.be[2], other.be, 2 * sizeof(*k.be));
	k.n_svc = 2;
	k.n_be = 4;
	k8s_set_free(&other);

	cr_assert_eq(sources_set_host_addrs(&s, host, 3), 1);
	cr_assert_eq(sources_set_host_addrs(&s, host, 3), 0, "the same");
	merge(&s, file, &k, &m, &news);
	cr_assert_null(named(m, "default/ssh:22"), "refused");
	cr_assert_not_null(named(m, "default/web:80"), "the other serves");
	cr_assert_eq(news.n, 1);
	cr_assert_str_eq(
		news.msgs[0],
		"Kubernetes Service default/ssh: 198.18.0.10:22/tcp is "
		"an address of the LB host: default/ssh:22 refused "
		"while it is (only vip = \"*\" serves the host's own "
		"addresses)");
	config_diag_free(&news);
	cr_assert_eq(s.host_refusals_k8s, 1);
	cr_assert_eq(sources_host_refused_k8s(&s), 1);
	cr_assert_eq(s.refusals, 0, "not a clash");

	/* said once */
	merge(&s, file, &k, &m, &news);
	cr_assert_eq(news.n, 0);
	cr_assert_eq(s.host_refusals_k8s, 1);

	/* the address leaves the host: served */
	cr_assert_eq(sources_set_host_addrs(&s, host + 1, 2), 1);
	merge(&s, file, &k, &m, &news);
	cr_assert_not_null(named(m, "default/ssh:22"));
	cr_assert_eq(news.n, 1);
	cr_assert_str_eq(news.msgs[0], "Kubernetes Service default/ssh: "
				       "default/ssh:22 198.18.0.10:22/tcp is "
				       "served now");
	config_diag_free(&news);
	cr_assert_eq(sources_host_refused_k8s(&s), 0);

	/* and back on the host: refused again */
	cr_assert_eq(sources_set_host_addrs(&s, host, 3), 1);
	merge(&s, file, &k, &m, &news);
	cr_assert_null(named(m, "default/ssh:22"));
	cr_assert_eq(s.host_refusals_k8s, 2);
	config_diag_free(&news);

	sources_merged_free(m);
	sources_free(&s);
	k8s_set_free(&k);
	config_free(file);
}

/* In the file, a VIP of the host's own is an error at its line; vip = "*"
 * is how a service serves the host's addresses. At merge (an address the
 * host got after the load) it is refused too. */
Test(sources, the_files_vip_on_a_host_address_is_an_error)
{
	struct lbd_config *file = conf(
		DP
		"services = (\n"
		"{ name = \"ssh\"; vip = \"198.18.0.10\"; port = 22; },\n"
		"{ name = \"np\"; vip = \"*\"; port = 30022;\n"
		"  forwarding = \"snat\"; },\n"
		"{ name = \"web\"; vip = \"203.0.113.10\"; port = 80; } );\n");
	struct lbd_conf_addr host[] = { v4("198.18.0.10") };
	struct sources s = { 0 };
	struct config_diag d = { 0 };
	struct lbd_config *m = NULL;

	cr_assert_eq(sources_check_file(&s, file, &d), 0, "no host addresses");
	cr_assert_eq(sources_set_host_addrs(&s, host, 1), 1);
	cr_assert_eq(sources_check_file(&s, file, &d), -EINVAL);
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.msgs[0],
			 "t.conf:3: services[ssh]: vip: 198.18.0.10 is an "
			 "address of the LB host: only vip = \"*\" serves the "
			 "host's own addresses");
	config_diag_free(&d);

	merge(&s, file, NULL, &m, &d);
	cr_assert_null(named(m, "ssh"));
	cr_assert_not_null(named(m, "np"));
	cr_assert_not_null(named(m, "web"));
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(
		d.msgs[0],
		"t.conf:3: services[ssh]: 198.18.0.10:22/tcp is an "
		"address of the LB host: refused while it is (only vip "
		"= \"*\" serves the host's own addresses)");
	config_diag_free(&d);
	cr_assert_eq(s.host_refusals_k8s, 0,
		     "the file's are not counted "
		     "as the cluster's");
	sources_merged_free(m);
	sources_free(&s);
	config_free(file);
}
