// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/state: a config is diffed against the applied state and only the
 * difference reaches the maps. Plans are checked line by line, map writes
 * counted with dp_writes on a real program loaded without pinning, and
 * what was written is read back from the maps. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "datapath.h"
#include "state.h"

/* Small maps, as the datapath harness uses: each test loads quickly. */
#define MAX_SERVICES 256
#define MAX_BACKENDS 1024
#define M 251 /* smallest Maglev table: tables are cheap to build */

#define DATAPATH(extra)                                                        \
	"datapath = { interface = \"lb0\"; encap_source_v4 = \"198.18.0.10\";" \
	" encap_source_v6 = \"2001:db8::10\";" extra " };\n"
#define DP DATAPATH(" maglev_table_size = 251;")

#define LINES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_LINES ((const char *const[]){ NULL })

static struct lbd_state st;
static struct lbd_dp *dp;

/* Every test starts from an empty state, with a fresh program (empty
 * maps) where it needs one. */
static void state_only(void)
{
	cr_assert_eq(state_init(&st, MAX_SERVICES, MAX_BACKENDS), 0);
}

static void dp_load(__u32 max_services, __u32 max_backends)
{
	struct lbd_dp_opts o;
	int err;

	dp_opts_default(&o);
	o.pin_path = NULL;
	o.max_vips = 256;
	o.max_services = max_services;
	o.max_backends = max_backends;
	o.ct_entries = 4096;
	err = dp_open(&o, &dp);
	cr_assert_eq(err, 0, "dp_open: %s", strerror(-err));
	cr_assert_eq(state_init(&st, max_services, max_backends), 0);
}

static void with_dp(void)
{
	dp_load(MAX_SERVICES, MAX_BACKENDS);
}

/* Room for 4 services and 4 backends only. */
static void with_tiny_dp(void)
{
	dp_load(4, 4);
}

static void teardown(void)
{
	state_free(&st);
	if (dp)
		dp_close(dp);
	dp = NULL;
}

/* Plan lines as state_apply reports them. */
struct plan {
	char **lines;
	size_t n;
};

static void plan_add(void *arg, const char *line)
{
	struct plan *p = arg;
	char **n = realloc(p->lines, (p->n + 1) * sizeof(*n));

	cr_assert_not_null(n);
	p->lines = n;
	p->lines[p->n] = strdup(line);
	cr_assert_not_null(p->lines[p->n]);
	p->n++;
}

static void plan_free(struct plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->lines[i]);
	free(p->lines);
	p->lines = NULL;
	p->n = 0;
}

/* Asserts the plan is exactly want, in order; frees it. */
static void expect_plan(struct plan *p, const char *const *want)
{
	bool same = true;
	size_t i, n = 0;

	while (want[n])
		n++;
	if (p->n != n)
		same = false;
	for (i = 0; same && i < n; i++)
		same = !strcmp(p->lines[i], want[i]);
	if (!same) {
		fprintf(stderr, "plan: got %zu lines:\n", p->n);
		for (i = 0; i < p->n; i++)
			fprintf(stderr, "  %s\n", p->lines[i]);
		fprintf(stderr, "want:\n");
		for (i = 0; want[i]; i++)
			fprintf(stderr, "  %s\n", want[i]);
	}
	plan_free(p);
	cr_assert(same, "the plan differs (got and want above)");
}

static struct lbd_config *load(const char *text)
{
	struct lbd_config *c = NULL;
	struct config_diag d;
	size_t i;
	int err = config_load_string(text, "t.conf", &c, &d);

	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.msgs[i]);
	config_diag_free(&d);
	cr_assert_eq(err, 0, "config rejected (messages above)");
	return c;
}

/* Applies text to d, or with d NULL only plans it; the plan goes to p
 * unless p is NULL. Returns state_apply's result. */
static int apply_err(struct lbd_dp *d, const char *text, struct plan *p,
		     struct apply_result *r)
{
	struct lbd_config *c = load(text);
	int err = state_apply(&st, d, c, p ? plan_add : NULL, p, r);

	config_free(c);
	return err;
}

static struct apply_result apply(struct lbd_dp *d, const char *text,
				 struct plan *p)
{
	struct apply_result r;
	int err = apply_err(d, text, p, &r);

	cr_assert_eq(err, 0, "state_apply: %s", strerror(-err));
	return r;
}

/* The applied service at vip:port/proto, from the state. */
static const struct st_service *svc_at(const char *vip, __u16 port, __u8 proto)
{
	struct lbd_svc_addr k = { .proto = proto, .port = htons(port) };
	const struct st_service *s;

	if (inet_pton(AF_INET, vip, &k.vip.v4) == 1)
		k.family = LBD_AF_INET;
	else
		cr_assert_eq(inet_pton(AF_INET6, vip, &k.vip), 1, "%s", vip);
	if (!k.family)
		k.family = LBD_AF_INET6;
	s = state_find(&st, &k);
	cr_assert_not_null(s, "no service %s:%u", vip, port);
	return s;
}

static const struct st_backend *be_at(const struct st_service *s,
				      const char *addr, __u16 port)
{
	union lbd_addr a = { 0 };
	size_t i;

	if (inet_pton(AF_INET, addr, &a.v4) != 1)
		cr_assert_eq(inet_pton(AF_INET6, addr, &a), 1, "%s", addr);
	for (i = 0; i < s->n_be; i++)
		if (!memcmp(&s->be[i].addr.addr, &a, sizeof(a)) &&
		    s->be[i].port == port)
			return &s->be[i];
	cr_assert_fail("no backend %s:%u in %s", addr, port, s->name);
	return NULL;
}

static struct lbd_backend be_entry(__u32 id)
{
	struct lbd_backend b;

	cr_assert_eq(dp_backend_get(dp, id, &b), 0, "backend %u", id);
	return b;
}

/* Slots of the service's installed table that hold backend id. */
static unsigned int table_slots(__u32 svc_id, __u32 be_id)
{
	__u32 t[1031];
	unsigned int n = 0;
	int m = dp_maglev_get(dp, svc_id, t, 1031);
	int i;

	cr_assert_geq(m, 0, "dp_maglev_get: %s", strerror(-m));
	for (i = 0; i < m; i++)
		n += t[i] == be_id;
	return n;
}

static bool vip4_present(const char *vip, struct lbd_vip *v)
{
	__be32 a;

	cr_assert_eq(inet_pton(AF_INET, vip, &a), 1);
	return bpf_map_lookup_elem(dp_map_fd(dp, DP_MAP_VIP4), &a, v) == 0;
}

static void expect_no_changes(const struct apply_result *r)
{
	cr_assert_eq(r->svc_added + r->svc_removed + r->svc_changed, 0,
		     "services +%u -%u ~%u", r->svc_added, r->svc_removed,
		     r->svc_changed);
	cr_assert_eq(r->be_added + r->be_removed + r->be_changed, 0,
		     "backends +%u -%u ~%u", r->be_added, r->be_removed,
		     r->be_changed);
	cr_assert_eq(r->tables, 0);
	cr_assert_eq(r->writes, 0, "%lu map writes", r->writes);
}

/* web: 192.0.2.1:80/tcp with two backends; opts, b1 and b2 add settings
 * to the service and to each backend */
#define WEB(opts, b1, b2)                                          \
	"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;" opts \
	" backends = (\n"                                          \
	"\t\t{ address = \"198.18.1.1\";" b1 " },\n"               \
	"\t\t{ address = \"198.18.1.2\";" b2 " } ); }"
#define WEB_CONF(opts, b1, b2) DP "services = (\n" WEB(opts, b1, b2) "\n);\n"

/* More services, one group each. */
#define API                                                                \
	"\t{ name = \"api\"; vip = \"192.0.2.2\"; port = 80; backends = (" \
	" { address = \"198.18.1.3\"; } ); }"
#define EMPTY "\t{ name = \"empty\"; vip = \"192.0.2.9\"; port = 80; }"

#define SERVICES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* A config of datapath and the services given, in that order. */
static const char *conf_of(char *buf, size_t len, const char *datapath,
			   const char *const *svcs)
{
	size_t off = (size_t)snprintf(buf, len, "%sservices = (\n", datapath);
	size_t i;

	for (i = 0; svcs[i]; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s\n", svcs[i],
					svcs[i + 1] ? "," : "");
	off += (size_t)snprintf(buf + off, len - off, ");\n");
	cr_assert_lt(off, len, "config text truncated");
	return buf;
}

/* Plans */

Test(state, plan_from_nothing_adds_every_service_in_key_order,
     .init = state_only, .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;

	/* the file's order is not the plan's: services by family, VIP,
	 * port, protocol; backends by address and port */
	r = apply(NULL,
		  DP
		  "services = (\n"
		  "\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 443;\n"
		  "\t  backends = ( { address = \"2001:db8:1::1\"; } ); },\n"
		  "\t{ name = \"empty\"; vip = \"192.0.2.9\"; port = 80; },\n"
		  "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;\n"
		  "\t  backends = (\n"
		  "\t\t{ address = \"198.18.1.2\"; weight = 2;"
		  " state = \"draining\"; },\n"
		  "\t\t{ address = \"198.18.1.1\"; } ); },\n"
		  "\t{ name = \"dns\"; vip = \"192.0.2.1\"; port = 53;"
		  " protocol = \"udp\"; forwarding = \"geneve\";\n"
		  "\t  backends = ( { address = \"198.18.1.3\";"
		  " port = 5353; state = \"down\"; } ); }\n"
		  ");\n",
		  &p);
	expect_plan(
		&p,
		LINES("+ service dns 192.0.2.1:53/udp geneve, 1 backends",
		      "+ backend dns 198.18.1.3:5353 weight 1 down",
		      "+ service web 192.0.2.1:80/tcp ipip, 2 backends",
		      "+ backend web 198.18.1.1:80 weight 1 active",
		      "+ backend web 198.18.1.2:80 weight 2 draining",
		      "+ service empty 192.0.2.9:80/tcp ipip, 0 backends",
		      "+ service v6 [2001:db8:f::1]:443/tcp ipip, 1 backends",
		      "+ backend v6 [2001:db8:1::1]:443 weight 1 active",
		      "+ vip 192.0.2.1 icmp_echo on",
		      "+ vip 192.0.2.9 icmp_echo on",
		      "+ vip 2001:db8:f::1 icmp_echo on"));
	cr_assert_eq(r.svc_added, 4);
	cr_assert_eq(r.be_added, 4);
	/* dns has only a down backend and empty none: no table */
	cr_assert_eq(r.tables, 2);
	cr_assert_eq(r.writes, 0);
	/* a plan applies nothing and takes no ids */
	cr_assert_eq(st.n_svc, 0);
	cr_assert_eq(st.n_free_svc, MAX_SERVICES);
	cr_assert_eq(st.n_free_be, MAX_BACKENDS);
	cr_assert_eq(st.maglev_size, 0);
}

Test(state, plan_predicts_the_apply, .init = with_dp, .fini = teardown)
{
	char a[1024], b[1024];
	struct plan planned = { 0 }, again = { 0 }, applied = { 0 };
	struct apply_result rp, ra;
	unsigned long w;
	size_t i;

	conf_of(a, sizeof(a), DP, SERVICES(WEB("", "", "")));
	conf_of(b, sizeof(b), DP,
		SERVICES(WEB("", " weight = 4;", " state = \"down\";"), API));
	apply(dp, a, NULL);
	w = dp_writes(dp);
	rp = apply(NULL, b, &planned);
	apply(NULL, b, &again);
	cr_assert_eq(dp_writes(dp), w, "a plan wrote to the maps");
	ra = apply(dp, b, &applied);

	/* web's weight and state, api with its backend, api's VIP */
	cr_assert_eq(planned.n, 5);
	cr_assert_eq(again.n, planned.n, "the plan changed the state");
	cr_assert_eq(applied.n, planned.n);
	for (i = 0; i < planned.n; i++) {
		cr_assert_str_eq(again.lines[i], planned.lines[i]);
		cr_assert_str_eq(applied.lines[i], planned.lines[i]);
	}
	cr_assert_eq(rp.svc_added, ra.svc_added);
	cr_assert_eq(rp.svc_changed, ra.svc_changed);
	cr_assert_eq(rp.be_added, ra.be_added);
	cr_assert_eq(rp.be_changed, ra.be_changed);
	cr_assert_eq(rp.tables, ra.tables);
	plan_free(&planned);
	plan_free(&again);
	plan_free(&applied);
}

/* Diffs against an applied config */

#define DNS6                                                       \
	"\t{ name = \"dns\"; vip = \"2001:db8:f::53\"; port = 53;" \
	" protocol = \"udp\"; forwarding = \"geneve\";"            \
	" no_backend = \"drop\"; icmp_echo = false; backends = ("  \
	" { address = \"2001:db8:1::1\"; port = 5353; } ); }"

Test(state, unchanged_config_plans_nothing_and_writes_nothing, .init = with_dp,
     .fini = teardown)
{
	char conf[1024];
	struct plan p = { 0 };
	struct apply_result r;
	unsigned long w;

	conf_of(conf, sizeof(conf), DP,
		SERVICES(WEB("", " weight = 3;", " state = \"draining\";"),
			 DNS6, EMPTY));
	apply(dp, conf, NULL);
	w = dp_writes(dp);
	r = apply(dp, conf, &p);
	expect_plan(&p, NO_LINES);
	expect_no_changes(&r);
	cr_assert_eq(dp_writes(dp), w);
}

Test(state, adding_a_backend, .init = with_dp, .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	const struct st_backend *b;
	struct lbd_backend e;

	apply(dp, WEB_CONF("", "", ""), NULL);
	r = apply(dp,
		  DP "services = (\n"
		     "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		     " backends = (\n"
		     "\t\t{ address = \"198.18.1.1\"; },\n"
		     "\t\t{ address = \"198.18.1.3\"; },\n"
		     "\t\t{ address = \"198.18.1.2\"; } ); }\n"
		     ");\n",
		  &p);
	expect_plan(&p, LINES("+ backend web 198.18.1.3:80 weight 1 active"));
	cr_assert_eq(r.be_added, 1);
	cr_assert_eq(r.svc_changed, 1);
	cr_assert_eq(r.tables, 1);
	/* its counters zeroed and its entry (2), then the new table filled
	 * and swapped in (2), then the service's table_hash (1) */
	cr_assert_eq(r.writes, 5);

	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	b = be_at(s, "198.18.1.3", 80);
	e = be_entry(b->id);
	cr_assert_eq(e.state, LBD_BE_ACTIVE);
	cr_assert_eq(e.svc_id, s->id);
	cr_assert_eq(e.family, LBD_AF_INET);
	cr_assert_eq(e.port, htons(80));
	cr_assert_eq(e.weight, 1);
	/* generations 1 and 2 went to the first two backends */
	cr_assert_eq(e.gen, 3);
	cr_assert_gt(table_slots(s->id, b->id), 0);
}

Test(state, state_plan_hands_back_what_the_apply_would_leave, .init = with_dp,
     .fini = teardown)
{
	static const char three[] = DP
		"services = (\n"
		"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		" backends = (\n"
		"\t\t{ address = \"198.18.1.1\"; },\n"
		"\t\t{ address = \"198.18.1.3\"; },\n"
		"\t\t{ address = \"198.18.1.2\"; } ); }\n"
		");\n";
	struct lbd_config *c;
	struct st_service *planned;
	const struct st_service *s;
	struct apply_result r;
	__u32 id, hash;
	size_t n;

	apply(dp, WEB_CONF("", "", ""), NULL);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	id = s->id;
	hash = s->table_hash;
	c = load(three);
	cr_assert_eq(state_plan(&st, c, NULL, NULL, &r, &planned, &n), 0);
	config_free(c);
	/* the plan: the service keeps its id, with a new table of three */
	cr_assert_eq(n, 1);
	cr_assert_eq(planned[0].id, id);
	cr_assert_eq(planned[0].n_be, 3);
	cr_assert_neq(planned[0].table_hash, hash);
	cr_assert_neq(planned[0].table_hash, 0);
	cr_assert_eq(r.be_added, 1);
	cr_assert_eq(r.writes, 0);
	/* the state is as it was */
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(s->n_be, 2);
	cr_assert_eq(s->table_hash, hash);
	state_services_free(planned, n);
}

Test(state, removing_a_backend, .init = with_dp, .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	__u32 id, gen, kept;
	struct lbd_backend e;

	apply(dp, WEB_CONF("", "", ""), NULL);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	id = be_at(s, "198.18.1.2", 80)->id;
	gen = be_at(s, "198.18.1.2", 80)->gen;
	kept = be_at(s, "198.18.1.1", 80)->id;
	r = apply(dp,
		  DP "services = (\n"
		     "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		     " backends = ( { address = \"198.18.1.1\"; } ); }\n"
		     ");\n",
		  &p);
	expect_plan(&p, LINES("- backend web 198.18.1.2:80"));
	cr_assert_eq(r.be_removed, 1);
	cr_assert_eq(r.svc_changed, 1);
	cr_assert_eq(r.tables, 1);
	/* the table without it filled and swapped in (2), then its entry
	 * released (1), then the service's table_hash (1) */
	cr_assert_eq(r.writes, 4);

	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(s->n_be, 1);
	e = be_entry(id);
	cr_assert_eq(e.state, LBD_BE_UNUSED);
	/* the old generation stays: flows that name it select again */
	cr_assert_eq(e.gen, gen);
	cr_assert_eq(table_slots(s->id, id), 0);
	cr_assert_eq(table_slots(s->id, kept), M);
}

Test(state, changing_a_weight, .init = with_dp, .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	__u32 heavy, light;

	apply(dp, WEB_CONF("", "", ""), NULL);
	r = apply(dp, WEB_CONF("", " weight = 3;", ""), &p);
	expect_plan(&p, LINES("~ backend web 198.18.1.1:80 weight 1 -> 3, "
			      "active -> active"));
	cr_assert_eq(r.be_changed, 1);
	cr_assert_eq(r.tables, 1);
	/* the new table (2), the entry's weight after it (1), the
	 * service's table_hash (1) */
	cr_assert_eq(r.writes, 4);

	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	heavy = be_at(s, "198.18.1.1", 80)->id;
	light = be_at(s, "198.18.1.2", 80)->id;
	cr_assert_eq(be_entry(heavy).weight, 3);
	/* 3:1 of 251 slots is about 188:63 */
	cr_assert_gt(table_slots(s->id, heavy), 2 * table_slots(s->id, light));
}

Test(state, backend_state_active_draining_down_and_back, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	__u32 svc, id;

	apply(dp, WEB_CONF("", "", ""), NULL);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	svc = s->id;
	id = be_at(s, "198.18.1.1", 80)->id;

	r = apply(dp, WEB_CONF("", " state = \"draining\";", ""), &p);
	expect_plan(&p, LINES("~ backend web 198.18.1.1:80 weight 1 -> 1, "
			      "active -> draining"));
	cr_assert_eq(r.tables, 1);
	/* the table without it (2), then its entry, so that its flows
	 * stay (1), then the service's table_hash (1) */
	cr_assert_eq(r.writes, 4);
	cr_assert_eq(be_entry(id).state, LBD_BE_DRAINING);
	cr_assert_eq(table_slots(svc, id), 0);

	r = apply(dp, WEB_CONF("", " state = \"down\";", ""), &p);
	expect_plan(&p, LINES("~ backend web 198.18.1.1:80 weight 1 -> 1, "
			      "draining -> down"));
	/* no owner either way, but it leaves the list of possible
	 * previous owners: the table (2), its entry (1), the service's
	 * table_hash (1) */
	cr_assert_eq(r.tables, 1);
	cr_assert_eq(r.writes, 4);
	cr_assert_eq(be_entry(id).state, LBD_BE_DOWN);

	r = apply(dp, WEB_CONF("", "", ""), &p);
	expect_plan(&p, LINES("~ backend web 198.18.1.1:80 weight 1 -> 1, "
			      "down -> active"));
	cr_assert_eq(r.tables, 1);
	/* its entry before a table names it (1), the table (2), the
	 * service (1) */
	cr_assert_eq(r.writes, 4);
	cr_assert_eq(be_entry(id).state, LBD_BE_ACTIVE);
	cr_assert_gt(table_slots(svc, id), 0);
}

Test(state, changing_forwarding_rewrites_the_service_only, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	struct lbd_svc v;
	__u32 id;

	apply(dp, WEB_CONF("", "", ""), NULL);
	id = svc_at("192.0.2.1", 80, IPPROTO_TCP)->id;
	r = apply(dp, WEB_CONF(" forwarding = \"geneve\";", "", ""), &p);
	expect_plan(&p, LINES("~ service web 192.0.2.1:80/tcp ipip -> geneve"));
	cr_assert_eq(r.svc_changed, 1);
	cr_assert_eq(r.be_changed, 0);
	cr_assert_eq(r.tables, 0);
	cr_assert_eq(r.writes, 1);

	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(dp_svc_get(dp, &s->key, &v), 0);
	cr_assert_eq(v.fwd, LBD_FWD_GENEVE);
	cr_assert_eq(v.id, id);
	cr_assert_eq(v.table_size, M);
}

Test(state, changing_no_backend_rewrites_the_service_only, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	struct lbd_svc v;

	apply(dp, WEB_CONF("", "", ""), NULL);
	r = apply(dp, WEB_CONF(" no_backend = \"drop\";", "", ""), &p);
	expect_plan(&p, LINES("~ service web 192.0.2.1:80/tcp ipip -> ipip, "
			      "no_backend"));
	cr_assert_eq(r.writes, 1);
	cr_assert_eq(dp_svc_get(dp, &svc_at("192.0.2.1", 80, IPPROTO_TCP)->key,
				&v),
		     0);
	cr_assert_eq(v.flags & LBD_SVC_F_UNREACH_ICMP, 0);
}

Test(state, icmp_echo_change_is_in_the_plan, .init = with_dp, .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	struct lbd_vip v;

	apply(dp, WEB_CONF("", "", ""), NULL);
	r = apply(dp, WEB_CONF(" icmp_echo = false;", "", ""), &p);
	/* the VIP's flags */
	cr_assert_eq(r.writes, 1);
	cr_assert(vip4_present("192.0.2.1", &v));
	cr_assert_eq(v.flags & LBD_VIP_F_ICMP_ECHO, 0);
	/* lbd --check must show what the apply changes: echo replies are
	 * the VIP's, on when any of its services asks for them */
	expect_plan(&p, LINES("~ vip 192.0.2.1 icmp_echo on -> off"));
}

Test(state, removing_a_service, .init = with_dp, .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	struct lbd_svc_addr key;
	__u32 id, be[2];
	struct lbd_svc v;
	struct lbd_vip vip;
	char conf[1024];

	apply(dp,
	      conf_of(conf, sizeof(conf), DP, SERVICES(WEB("", "", ""), API)),
	      NULL);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	key = s->key;
	id = s->id;
	be[0] = s->be[0].id;
	be[1] = s->be[1].id;
	r = apply(dp, conf_of(conf, sizeof(conf), DP, SERVICES(API)), &p);
	expect_plan(&p, LINES("- service web 192.0.2.1:80/tcp", "- vip 192.0.2.1"));
	cr_assert_eq(r.svc_removed, 1);
	cr_assert_eq(r.be_removed, 2);
	/* its VIP first (1), the service (1), its table (1), its backends
	 * released (2), the VIP table without it (1) */
	cr_assert_eq(r.writes, 6);

	cr_assert_eq(st.n_svc, 1);
	cr_assert_eq(dp_svc_get(dp, &key, &v), -ENOENT);
	cr_assert_not(vip4_present("192.0.2.1", &vip));
	cr_assert(vip4_present("192.0.2.2", &vip));
	cr_assert_eq(dp_maglev_get(dp, id, be, 0), 0, "its table is gone");
	cr_assert_eq(be_entry(be[0]).state, LBD_BE_UNUSED);
	cr_assert_eq(be_entry(be[1]).state, LBD_BE_UNUSED);
	s = svc_at("192.0.2.2", 80, IPPROTO_TCP);
	cr_assert_eq(dp_svc_get(dp, &s->key, &v), 0);
	cr_assert_eq(v.table_size, M);
}

/* web, dns (a table) and empty (none) at the given datapath */
#define DNS                                                   \
	"\t{ name = \"dns\"; vip = \"192.0.2.1\"; port = 53;" \
	" protocol = \"udp\"; backends = ( { address = \"198.18.1.3\"; } ); }"

/* web, dns (a table) and empty (none) at the given datapath */
static void three_services(char *buf, size_t len, const char *datapath)
{
	conf_of(buf, len, datapath, SERVICES(WEB("", "", ""), DNS, EMPTY));
}

Test(state, maglev_table_size_change_rebuilds_every_table, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	struct lbd_svc v;
	char conf[1024];
	__u32 t[1];

	three_services(conf, sizeof(conf), DP);
	apply(dp, conf, NULL);
	three_services(conf, sizeof(conf),
		       DATAPATH(" maglev_table_size = 257;"));
	r = apply(dp, conf, &p);
	expect_plan(&p, LINES("~ maglev table size 251 -> 257, seed 0 -> 0: "
			      "every table is rebuilt"));
	/* web and dns; empty has no table to rebuild */
	cr_assert_eq(r.tables, 2);
	/* each: filled, swapped in, its service's size and hash (3) */
	cr_assert_eq(r.writes, 6);
	cr_assert_eq(r.svc_changed, 2);
	cr_assert_eq(st.maglev_size, 257);

	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(dp_maglev_get(dp, s->id, t, 0), 257);
	cr_assert_eq(dp_svc_get(dp, &s->key, &v), 0);
	cr_assert_eq(v.table_size, 257);
	s = svc_at("192.0.2.1", 53, IPPROTO_UDP);
	cr_assert_eq(dp_maglev_get(dp, s->id, t, 0), 257);
	s = svc_at("192.0.2.9", 80, IPPROTO_TCP);
	cr_assert_eq(dp_maglev_get(dp, s->id, t, 0), 0);
}

Test(state, hash_seed_change_rebuilds_every_table, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	__u32 before[M], after[M], id;
	char conf[1024];

	three_services(conf, sizeof(conf), DP);
	apply(dp, conf, NULL);
	id = svc_at("192.0.2.1", 80, IPPROTO_TCP)->id;
	cr_assert_eq(dp_maglev_get(dp, id, before, M), M);
	three_services(conf, sizeof(conf),
		       DATAPATH(" maglev_table_size = 251; hash_seed = 42;"));
	r = apply(dp, conf, &p);
	expect_plan(&p, LINES("~ maglev table size 251 -> 251, seed 0 -> "
			      "0x2a: every table is rebuilt"));
	cr_assert_eq(r.tables, 2);
	cr_assert_eq(r.writes, 6);
	cr_assert_eq(st.seed, 42);
	cr_assert_eq(dp_maglev_get(dp, id, after, M), M);
	cr_assert_neq(memcmp(before, after, sizeof(before)), 0,
		      "the table of another seed is the same");
}

/* Identity */

#define V6                                                                     \
	"\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 443; backends = (" \
	" { address = \"2001:db8:1::1\"; },"                                   \
	" { address = \"2001:db8:1::2\"; weight = 2; } ); }"
#define V6_REVERSED                                                            \
	"\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 443; backends = (" \
	" { address = \"2001:db8:1::2\"; weight = 2; },"                       \
	" { address = \"2001:db8:1::1\"; } ); }"
#define WEB_REVERSED                                                       \
	"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80; backends = (" \
	" { address = \"198.18.1.2\"; }, { address = \"198.18.1.1\"; } ); }"

Test(state, order_in_the_file_does_not_matter, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	char conf[2048];

	apply(dp,
	      conf_of(conf, sizeof(conf), DP,
		      SERVICES(WEB("", "", ""), V6, DNS)),
	      NULL);
	r = apply(dp,
		  conf_of(conf, sizeof(conf), DP,
			  SERVICES(DNS, V6_REVERSED, WEB_REVERSED)),
		  &p);
	expect_plan(&p, NO_LINES);
	expect_no_changes(&r);
}

Test(state, service_is_identified_by_vip_port_and_protocol, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	__u32 id;

	apply(dp, WEB_CONF("", "", ""), NULL);
	id = svc_at("192.0.2.1", 80, IPPROTO_TCP)->id;

	/* a new name is the same service */
	r = apply(dp,
		  DP "services = (\n"
		     "\t{ name = \"www\"; vip = \"192.0.2.1\"; port = 80;"
		     " backends = (\n"
		     "\t\t{ address = \"198.18.1.1\"; },\n"
		     "\t\t{ address = \"198.18.1.2\"; } ); }\n"
		     ");\n",
		  &p);
	expect_plan(&p, NO_LINES);
	expect_no_changes(&r);
	s = state_find_name(&st, "www");
	cr_assert_not_null(s);
	cr_assert_eq(s->id, id);

	/* another protocol is another service */
	r = apply(dp, WEB_CONF(" protocol = \"udp\";", "", ""), &p);
	expect_plan(&p, LINES("- service www 192.0.2.1:80/tcp",
			      "+ service web 192.0.2.1:80/udp ipip, 2 backends",
			      "+ backend web 198.18.1.1:80 weight 1 active",
			      "+ backend web 198.18.1.2:80 weight 1 active"));
	cr_assert_eq(r.svc_removed, 1);
	cr_assert_eq(r.svc_added, 1);
}

Test(state, backend_is_identified_by_address_and_port, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;

	apply(dp, WEB_CONF(" forwarding = \"geneve\";", " port = 8080;", ""),
	      NULL);
	r = apply(dp,
		  WEB_CONF(" forwarding = \"geneve\";", " port = 8081;", ""),
		  &p);
	expect_plan(&p, LINES("- backend web 198.18.1.1:8080",
			      "+ backend web 198.18.1.1:8081 weight 1 active"));
	cr_assert_eq(r.be_removed, 1);
	cr_assert_eq(r.be_added, 1);
}

/* Writes at scale */

/* 100 services 192.0.2.1-100:80, each with backends 198.18.1.i and
 * 198.18.2.i; the first backend of service `heavy` has weight 2. */
static char *hundred_services(int heavy)
{
	size_t len = 64 * 1024, off;
	char *t = malloc(len);
	int i;

	cr_assert_not_null(t);
	off = (size_t)snprintf(t, len, "%sservices = (\n", DP);
	for (i = 1; i <= 100; i++)
		off += (size_t)snprintf(
			t + off, len - off,
			"\t{ name = \"s%d\"; vip = \"192.0.2.%d\"; port = 80;"
			" backends = ( { address = \"198.18.1.%d\";"
			" weight = %d; }, { address = \"198.18.2.%d\"; } ); }"
			"%s\n",
			i, i, i, i == heavy ? 2 : 1, i, i < 100 ? "," : "");
	snprintf(t + off, len - off, ");\n");
	cr_assert_lt(off, len - 8);
	return t;
}

Test(state, one_backend_change_among_100_services_writes_4_entries,
     .init = with_dp, .fini = teardown)
{
	char *a = hundred_services(0), *b = hundred_services(50);
	struct plan p = { 0 };
	struct apply_result r;

	r = apply(dp, a, NULL);
	/* from nothing, per service: its counters zeroed (1), each
	 * backend's counters and entry (2 x 2), its table filled and
	 * swapped in (2), its entry (1), its VIP (1): 9 */
	cr_assert_eq(r.writes, 900);

	r = apply(dp, b, &p);
	expect_plan(&p, LINES("~ backend s50 198.18.1.50:80 weight 1 -> 2, "
			      "active -> active"));
	/*
	 * state.h: a backend that does not become more usable is written
	 * after the table swap. So for s50 only: the new table filled (1)
	 * and swapped in (1), the backend entry with its weight (1), the
	 * service entry with the new table_hash (1). The other 99
	 * services and every VIP are unchanged: nothing.
	 */
	cr_assert_eq(r.writes, 4);
	cr_assert_eq(r.tables, 1);
	cr_assert_eq(r.svc_changed, 1);
	cr_assert_eq(r.be_changed, 1);

	r = apply(dp, b, NULL);
	expect_no_changes(&r);
	free(a);
	free(b);
}

/* Adoption and ids */

/* Everything the maps hold: weights, states, forwarding, flags, both
 * families, a service without backends. */
#define ADOPT_DP DATAPATH(" maglev_table_size = 251; hash_seed = 7;")
#define ADOPT_WEB WEB("", " weight = 3;", " state = \"draining\";")
#define ADOPT_DNS                                                        \
	"\t{ name = \"dns\"; vip = \"192.0.2.53\"; port = 53;"           \
	" protocol = \"udp\"; forwarding = \"geneve\";"                  \
	" no_backend = \"drop\"; icmp_echo = false; backends = ("        \
	" { address = \"198.18.1.3\"; port = 5353; },"                   \
	" { address = \"198.18.1.4\"; port = 5353; state = \"down\"; }," \
	" { address = \"198.18.1.5\"; port = 5353; weight = 0; } ); }"
#define ADOPT_V6                                                  \
	"\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 443;" \
	" backends = ( { address = \"2001:db8:1::1\"; } ); }"
#define NEW                                                    \
	"\t{ name = \"new\"; vip = \"192.0.2.10\"; port = 80;" \
	" backends = ( { address = \"198.18.1.10\"; } ); }"

Test(state, adopt_reproduces_the_applied_state, .init = with_dp,
     .fini = teardown)
{
	char conf[2048], more[2048];
	struct lbd_state applied = { 0 };
	struct plan p = { 0 };
	struct apply_result r;
	const struct st_service *s;
	size_t i, j;

	conf_of(conf, sizeof(conf), ADOPT_DP,
		SERVICES(ADOPT_WEB, ADOPT_DNS, ADOPT_V6, EMPTY));
	apply(dp, conf, NULL);
	/* keep the applied state; adopt into a fresh one */
	applied = st;
	cr_assert_eq(state_init(&st, MAX_SERVICES, MAX_BACKENDS), 0);
	cr_assert_eq(state_adopt(&st, dp, M, 7), 0);

	cr_assert_eq(st.n_svc, 4);
	cr_assert_eq(st.n_svc, applied.n_svc);
	cr_assert_eq(st.gen, applied.gen);
	cr_assert_eq(st.n_free_svc, applied.n_free_svc);
	cr_assert_eq(st.n_free_be, applied.n_free_be);
	for (i = 0; i < st.n_svc; i++) {
		const struct st_service *a = &applied.svc[i];

		s = &st.svc[i];
		cr_assert_eq(memcmp(&s->key, &a->key, sizeof(s->key)), 0);
		cr_assert_eq(s->id, a->id, "%s", a->name);
		cr_assert_eq(s->fwd, a->fwd, "%s", a->name);
		cr_assert_eq(s->flags, a->flags, "%s", a->name);
		cr_assert_eq(s->icmp_echo, a->icmp_echo, "%s", a->name);
		cr_assert_eq(s->table_hash, a->table_hash, "%s", a->name);
		cr_assert_eq(s->table_size, a->table_size, "%s", a->name);
		cr_assert_eq(s->n_be, a->n_be, "%s", a->name);
		for (j = 0; j < s->n_be; j++) {
			const struct st_backend *x = &a->be[j], *y = &s->be[j];

			cr_assert_eq(
				memcmp(&y->addr, &x->addr, sizeof(y->addr)), 0);
			cr_assert_eq(y->port, x->port);
			cr_assert_eq(y->weight, x->weight);
			cr_assert_eq(y->dp_state, x->dp_state);
			cr_assert_eq(y->id, x->id);
			cr_assert_eq(y->gen, x->gen);
		}
	}
	state_free(&applied);

	r = apply(dp, conf, &p);
	expect_plan(&p, NO_LINES);
	expect_no_changes(&r);

	/* ids in use are not given out again: services 0-3 and backends
	 * 0-5 are taken, the lowest free ids come next */
	conf_of(more, sizeof(more), ADOPT_DP,
		SERVICES(ADOPT_WEB, ADOPT_DNS, ADOPT_V6, EMPTY, NEW));
	apply(dp, more, NULL);
	s = svc_at("192.0.2.10", 80, IPPROTO_TCP);
	cr_assert_eq(s->id, 4);
	cr_assert_eq(s->be[0].id, 6);
	cr_assert_eq(s->be[0].gen, 7);
}

Test(state, ids_are_reused_with_a_new_generation, .init = with_dp,
     .fini = teardown)
{
	const struct st_service *s;
	__u32 svc, ids[2], gens[2], n;
	size_t i;

	apply(dp, WEB_CONF("", "", ""), NULL);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	svc = s->id;
	for (i = 0; i < 2; i++) {
		ids[i] = s->be[i].id;
		gens[i] = s->be[i].gen;
	}
	cr_assert_neq(ids[0], ids[1]);

	apply(dp, DP "services = ();\n", NULL);
	cr_assert_eq(st.n_svc, 0);
	cr_assert_eq(st.n_free_svc, MAX_SERVICES);
	cr_assert_eq(st.n_free_be, MAX_BACKENDS);

	apply(dp,
	      DP "services = (\n"
		 "\t{ name = \"api\"; vip = \"192.0.2.2\"; port = 443;"
		 " backends = ( { address = \"198.18.1.7\"; },"
		 " { address = \"198.18.1.8\"; } ); }\n"
		 ");\n",
	      NULL);
	s = svc_at("192.0.2.2", 443, IPPROTO_TCP);
	cr_assert_eq(s->id, svc, "the service id is not reused");
	for (i = 0; i < 2; i++) {
		struct lbd_backend e = be_entry(s->be[i].id);

		n = s->be[i].id;
		cr_assert(n == ids[0] || n == ids[1],
			  "backend id %u is not one freed", n);
		/* a conntrack entry of the former holder is stale */
		cr_assert_neq(e.gen, gens[0]);
		cr_assert_neq(e.gen, gens[1]);
		cr_assert_eq(e.state, LBD_BE_ACTIVE);
		cr_assert_eq(e.svc_id, svc);
	}
	cr_assert_neq(s->be[0].id, s->be[1].id);
}

/* Running out of ids */

Test(state, apply_needing_more_backend_ids_than_free_writes_nothing,
     .init = with_tiny_dp, .fini = teardown)
{
	struct apply_result r;
	const struct st_service *s;
	int err;

	/* 3 of 4 backend ids in use; 3 new backends replace them */
	apply(dp,
	      DP "services = (\n"
		 "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
		 " backends = ( { address = \"198.18.1.1\"; },"
		 " { address = \"198.18.1.2\"; }, { address = \"198.18.1.3\"; }"
		 " ); }\n"
		 ");\n",
	      NULL);
	err = apply_err(dp,
			DP "services = (\n"
			   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;"
			   " backends = ( { address = \"198.18.1.4\"; },"
			   " { address = \"198.18.1.5\"; },"
			   " { address = \"198.18.1.6\"; } ); }\n"
			   ");\n",
			NULL, &r);
	/* new backends are written before the old ones are released:
	 * 6 ids at once, 4 exist. Refused before any write, the maps
	 * keep the running config. */
	cr_assert_eq(err, -ENOSPC);
	cr_assert_eq(r.writes, 0, "%lu writes before the refusal", r.writes);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(s->n_be, 3, "%zu backends after the refusal", s->n_be);
}

Test(state, removals_free_ids_for_additions, .init = with_tiny_dp,
     .fini = teardown)
{
	struct apply_result r;
	struct lbd_vip v;
	int err;

	apply(dp,
	      DP "services = (\n"
		 "\t{ name = \"z\"; vip = \"192.0.2.9\"; port = 80;"
		 " backends = ( { address = \"198.18.1.1\"; },"
		 " { address = \"198.18.1.2\"; }, { address = \"198.18.1.3\"; }"
		 " ); }\n"
		 ");\n",
	      NULL);
	/* a sorts before z and needs 3 ids while 1 is free: z goes first,
	 * so a fits */
	err = apply_err(dp,
			DP "services = (\n"
			   "\t{ name = \"a\"; vip = \"192.0.2.1\"; port = 80;"
			   " backends = ( { address = \"198.18.1.1\"; },"
			   " { address = \"198.18.1.2\"; },"
			   " { address = \"198.18.1.3\"; } ); }\n"
			   ");\n",
			NULL, &r);
	cr_assert_eq(err, 0);
	cr_assert_eq(svc_at("192.0.2.1", 80, IPPROTO_TCP)->n_be, 3);
	cr_assert(vip4_present("192.0.2.1", &v));
	cr_assert_not(vip4_present("192.0.2.9", &v));
}

/* Runtime flags: lbctl drain and health checks (state_set_flag). */
static struct be_match match(const char *service, const char *addr,
			     __u16 port)
{
	struct be_match m = { .service = service, .port = port };

	m.addr.family = LBD_AF_INET;
	m.addr.prefixlen = 32;
	cr_assert_eq(inet_pton(AF_INET, addr, &m.addr.addr.v4), 1);
	return m;
}

Test(state, drain_takes_a_backend_out_of_the_table_and_survives_reload,
     .init = with_dp, .fini = teardown)
{
	struct be_match m = match(NULL, "198.18.1.2", 0);
	const struct st_service *s;
	struct apply_result r;
	__u32 id;

	apply(dp, WEB_CONF("", "", ""), NULL);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	id = be_at(s, "198.18.1.2", 80)->id;
	cr_assert_gt(table_slots(s->id, id), 0);

	cr_assert_eq(state_set_flag(&st, dp, &m, BE_FLAG_DRAINED, true, NULL,
				    NULL, &r),
		     1);
	/* a table filled and swapped in, the entry says draining, the
	 * service names its new table: 4 writes */
	cr_assert_eq(r.writes, 4, "%lu writes", r.writes);
	cr_assert_eq(be_entry(id).state, LBD_BE_DRAINING);
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(table_slots(s->id, id), 0);
	cr_assert(be_at(s, "198.18.1.2", 80)->drained);

	/* a reload of the same config keeps the drain */
	r = apply(dp, WEB_CONF("", " weight = 2;", ""), NULL);
	cr_assert_eq(be_entry(id).state, LBD_BE_DRAINING);
	cr_assert(be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP), "198.18.1.2", 80)
			  ->drained);

	/* undone, it is back in the table */
	cr_assert_eq(state_set_flag(&st, dp, &m, BE_FLAG_DRAINED, false, NULL,
				    NULL, &r),
		     1);
	cr_assert_eq(be_entry(id).state, LBD_BE_ACTIVE);
	cr_assert_gt(table_slots(svc_at("192.0.2.1", 80, IPPROTO_TCP)->id, id),
		     0);
}

Test(state, health_down_composes_with_drain, .init = with_dp,
     .fini = teardown)
{
	struct be_match m = match("web", "198.18.1.1", 80);
	struct apply_result r;
	__u32 id;

	apply(dp, WEB_CONF("", "", ""), NULL);
	id = be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP), "198.18.1.1", 80)->id;
	state_set_flag(&st, dp, &m, BE_FLAG_DRAINED, true, NULL, NULL, &r);
	cr_assert_eq(be_entry(id).state, LBD_BE_DRAINING);
	/* down wins: its flows select again */
	state_set_flag(&st, dp, &m, BE_FLAG_HEALTH_DOWN, true, NULL, NULL, &r);
	cr_assert_eq(be_entry(id).state, LBD_BE_DOWN);
	/* healthy again but still drained */
	state_set_flag(&st, dp, &m, BE_FLAG_HEALTH_DOWN, false, NULL, NULL, &r);
	cr_assert_eq(be_entry(id).state, LBD_BE_DRAINING);
}

Test(state, flag_matches_by_service_address_and_port, .init = with_dp,
     .fini = teardown)
{
	struct be_match other_port = match(NULL, "198.18.1.1", 8080);
	struct be_match other_svc = match("api", "198.18.1.1", 0);
	struct apply_result r;

	apply(dp, WEB_CONF("", "", ""), NULL);
	cr_assert_eq(state_set_flag(&st, dp, &other_port, BE_FLAG_DRAINED,
				    true, NULL, NULL, &r),
		     0);
	cr_assert_eq(state_set_flag(&st, dp, &other_svc, BE_FLAG_DRAINED,
				    true, NULL, NULL, &r),
		     0);
	cr_assert_eq(r.writes, 0);
}

/* A health verdict for one backend of a service, as health.c makes it. */
static struct be_change change(const char *vip, __u16 vport,
			       const char *addr, __u16 port, bool down)
{
	const struct st_service *s = svc_at(vip, vport, IPPROTO_TCP);
	struct be_change c = { .svc = s->key, .port = port, .value = down };

	c.addr = be_at(s, addr, port)->addr;
	return c;
}

Test(state, health_verdicts_in_a_batch_swap_one_table_per_service,
     .init = with_dp, .fini = teardown)
{
	char buf[2048];
	const char *conf = conf_of(buf, sizeof(buf), DP,
				   SERVICES(WEB("", "", ""), API));
	struct be_change ch[4];
	const struct st_service *web, *api;
	struct apply_result r;
	__u32 id1, id2, id3;

	apply(dp, conf, NULL);
	web = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	id1 = be_at(web, "198.18.1.1", 80)->id;
	id2 = be_at(web, "198.18.1.2", 80)->id;
	id3 = be_at(svc_at("192.0.2.2", 80, IPPROTO_TCP), "198.18.1.3", 80)->id;
	ch[0] = change("192.0.2.2", 80, "198.18.1.3", 80, true);
	ch[1] = change("192.0.2.1", 80, "198.18.1.2", 80, true);
	ch[2] = change("192.0.2.1", 80, "198.18.1.1", 80, true);
	/* a backend that is not there changes nothing */
	ch[3] = ch[2];
	ch[3].port = 81;

	cr_assert_eq(state_set_flags(&st, dp, BE_FLAG_HEALTH_DOWN, ch, 4, NULL,
				     NULL, &r),
		     3);
	/* web and api lose their only usable backends: no table for
	 * either, written once each */
	cr_assert_eq(r.tables, 2, "%u tables", r.tables);
	cr_assert_eq(be_entry(id1).state, LBD_BE_DOWN);
	cr_assert_eq(be_entry(id2).state, LBD_BE_DOWN);
	cr_assert_eq(be_entry(id3).state, LBD_BE_DOWN);
	web = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	api = svc_at("192.0.2.2", 80, IPPROTO_TCP);
	cr_assert_eq(web->table_size, 0);
	cr_assert_eq(api->table_size, 0);

	/* the same verdicts again change nothing */
	cr_assert_eq(state_set_flags(&st, dp, BE_FLAG_HEALTH_DOWN, ch, 3, NULL,
				     NULL, &r),
		     0);
	cr_assert_eq(r.writes, 0);

	/* one comes back: only its slots return */
	ch[0] = change("192.0.2.1", 80, "198.18.1.1", 80, false);
	cr_assert_eq(state_set_flags(&st, dp, BE_FLAG_HEALTH_DOWN, ch, 1, NULL,
				     NULL, &r),
		     1);
	web = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(be_entry(id1).state, LBD_BE_ACTIVE);
	cr_assert_eq(table_slots(web->id, id1), M);
}

Test(state, health_down_survives_a_reload_of_the_backend,
     .init = with_dp, .fini = teardown)
{
	struct be_change ch;
	struct apply_result r;
	__u32 id;

	apply(dp, WEB_CONF("", "", ""), NULL);
	ch = change("192.0.2.1", 80, "198.18.1.2", 80, true);
	id = be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP), "198.18.1.2", 80)->id;
	cr_assert_eq(state_set_flags(&st, dp, BE_FLAG_HEALTH_DOWN, &ch, 1,
				     NULL, NULL, &r),
		     1);
	/* another weight for the other backend: the down one stays down */
	apply(dp, WEB_CONF("", " weight = 3;", ""), NULL);
	cr_assert_eq(be_entry(id).state, LBD_BE_DOWN);
	cr_assert(be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP), "198.18.1.2", 80)
			  ->health_down);
	cr_assert_eq(table_slots(svc_at("192.0.2.1", 80, IPPROTO_TCP)->id, id),
		     0);
}

/* NodePort-style services and source ranges */
static void hosts(void)
{
	struct lbd_conf_addr h[3] = {
		{ .family = LBD_AF_INET, .prefixlen = 32 },
		{ .family = LBD_AF_INET, .prefixlen = 32 },
		{ .family = LBD_AF_INET6, .prefixlen = 128 },
	};

	inet_pton(AF_INET, "198.18.0.10", &h[0].addr.v4);
	inet_pton(AF_INET, "198.18.0.11", &h[1].addr.v4);
	inet_pton(AF_INET6, "2001:db8::10", &h[2].addr);
	cr_assert_eq(state_set_host_addrs(&st, h, 3), 0);
}

#define NP "\t{ name = \"np\"; vip = \"*\"; port = 30080; forwarding = " \
	   "\"snat\"; backends = ( { address = \"198.18.1.1\"; } ); }"

Test(state, wildcard_service_listens_on_host_addresses_of_its_family,
     .init = with_dp, .fini = teardown)
{
	struct lbd_vip v;

	hosts();
	apply(dp, DP "services = (\n" NP "\n);\n", NULL);
	cr_assert_eq(st.n_svc, 2, "two IPv4 host addresses, no IPv6 one");
	cr_assert_not_null(state_find_name(&st, "np@198.18.0.10"));
	cr_assert_not_null(state_find_name(&st, "np@198.18.0.11"));
	cr_assert(vip4_present("198.18.0.10", &v));
	cr_assert(v.flags & LBD_VIP_F_HOST, "host addresses pass the rest");
	cr_assert_not(v.flags & LBD_VIP_F_ICMP_ECHO, "the host answers pings");
}

Test(state, configured_vip_wins_over_wildcard_on_the_same_port,
     .init = with_dp, .fini = teardown)
{
	const struct st_service *s;

	hosts();
	apply(dp, DP "services = (\n" NP ",\n"
		     "\t{ name = \"own\"; vip = \"198.18.0.10\"; port = 30080;"
		     " forwarding = \"snat\"; backends = ( { address = "
		     "\"198.18.1.2\"; } ); }\n);\n",
	      NULL);
	cr_assert_eq(st.n_svc, 2);
	s = svc_at("198.18.0.10", 30080, IPPROTO_TCP);
	cr_assert_str_eq(s->name, "own");
	cr_assert_not_null(state_find_name(&st, "np@198.18.0.11"));
}

#define RANGED(r) \
	DP "services = (\n\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80;" \
	   " source_ranges = (" r "); } );\n"

Test(state, source_ranges_change_as_a_difference, .init = with_dp,
     .fini = teardown)
{
	struct plan p = { 0 };
	struct apply_result r;

	apply(dp, RANGED("\"198.19.0.0/16\", \"198.19.1.0/24\""), NULL);
	r = apply(dp, RANGED("\"198.19.0.0/16\", \"198.19.2.0/24\""), &p);
	expect_plan(&p, LINES("- source range web 198.19.1.0/24",
			      "+ source range web 198.19.2.0/24"));
	cr_assert_eq(r.writes, 2);
}

Test(state, adoption_reads_ranges_affinity_and_forwarding_back,
     .init = with_dp, .fini = teardown)
{
	static const char conf[] =
		DP "services = (\n\t{ name = \"web\"; vip = \"192.0.2.1\";"
		   " port = 80; forwarding = \"hybrid\"; dsr = \"geneve\";"
		   " session_affinity = \"client_ip\"; affinity_timeout = 99;"
		   " source_ranges = (\"198.19.0.0/16\", \"2001:db8:c::/64\");"
		   " backends = ( { address = \"198.18.1.1\"; } ); } );\n";
	struct apply_result r;
	struct lbd_state again;
	const struct st_service *s;

	apply(dp, conf, NULL);
	cr_assert_eq(state_init(&again, MAX_SERVICES, MAX_BACKENDS), 0);
	cr_assert_eq(state_adopt(&again, dp, M, 0), 0);
	state_free(&st);
	st = again;
	s = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(s->fwd, LBD_FWD_HYBRID);
	cr_assert_eq(s->dsr, LBD_FWD_GENEVE);
	cr_assert_eq(s->affinity_timeout, 99);
	/* the IPv6 range does not apply to an IPv4 VIP */
	cr_assert_eq(s->n_ranges, 1);
	r = apply(dp, conf, NULL);
	expect_no_changes(&r);
}

/*
 * Table swaps go to the kernel in batches of 256 (each single swap waits
 * for an RCU grace period): 600 services span three batches, and a
 * second apply removes half of them and adds others that take their ids.
 * Every installed table must name only its own service's backends, every
 * backend entry its service, and a drain that hits all 600 (one shared
 * backend address) must reach every table.
 */
#define MANY 600

static char *many_conf(unsigned int first_port)
{
	size_t cap = 256 + MANY * 200, len;
	char *t = malloc(cap);
	unsigned int i;

	cr_assert_not_null(t);
	len = (size_t)snprintf(t, cap, "%sservices = (\n", DP);
	for (i = 0; i < MANY; i++)
		len += (size_t)snprintf(
			t + len, cap - len,
			"%s{ vip = \"203.0.113.%u\"; port = %u; backends = ( "
			"{ address = \"198.18.9.1\"; }, "
			"{ address = \"198.18.%u.%u\"; } ); }\n",
			i ? "," : "", 1 + i % 6, first_port + i / 6,
			10 + i / 250, 1 + i % 250);
	snprintf(t + len, cap - len, ");\n");
	return t;
}

/* Every table holds its own backends only; every backend its service. */
static void expect_consistent(void)
{
	static __u32 t[M];
	size_t i, j;
	int k;

	cr_assert_eq(st.n_svc, MANY);
	for (i = 0; i < st.n_svc; i++) {
		const struct st_service *s = &st.svc[i];
		unsigned int used = 0;

		cr_assert_eq(dp_maglev_get(dp, s->id, t, M), M, "%s", s->name);
		for (k = 0; k < M; k++) {
			bool own = false;

			for (j = 0; j < s->n_be; j++)
				own |= t[k] == s->be[j].id &&
				       s->be[j].dp_state == LBD_BE_ACTIVE;
			cr_assert(own, "%s: slot %d holds %u", s->name, k, t[k]);
		}
		for (j = 0; j < s->n_be; j++) {
			struct lbd_backend b = be_entry(s->be[j].id);

			cr_assert_eq(b.svc_id, s->id);
			cr_assert_eq(b.gen, s->be[j].gen);
			cr_assert_eq(b.state, s->be[j].dp_state);
			used += b.state == LBD_BE_ACTIVE;
		}
		cr_assert_gt(used, 0);
	}
}

static void with_big_dp(void)
{
	dp_load(2 * MANY, 4 * MANY);
}

Test(state, many_services_swap_in_batches, .init = with_big_dp,
     .fini = teardown)
{
	struct be_match m = match(NULL, "198.18.9.1", 0);
	struct apply_result r;
	char *a = many_conf(1000), *b = many_conf(1050);

	r = apply(dp, a, NULL);
	cr_assert_eq(r.svc_added, MANY);
	cr_assert_eq(r.tables, MANY);
	expect_consistent();

	/* ports 1000-1049 go, 1100-1149 come: half the services */
	r = apply(dp, b, NULL);
	cr_assert_eq(r.svc_removed, MANY / 2);
	cr_assert_eq(r.svc_added, MANY / 2);
	expect_consistent();

	cr_assert_eq(state_set_flag(&st, dp, &m, BE_FLAG_DRAINED, true, NULL,
				    NULL, &r),
		     MANY);
	cr_assert_eq(r.tables, MANY);
	expect_consistent();
	free(a);
	free(b);
}

/* An apply's progress, as the daemon gets it for systemd and the log. */
struct progress_calls {
	size_t n;
	size_t done[8], total[8];
};

static void progress_note(void *arg, size_t done, size_t total)
{
	struct progress_calls *p = arg;

	if (p->n < 8) {
		p->done[p->n] = done;
		p->total[p->n] = total;
	}
	p->n++;
}

static void with_2500_dp(void)
{
	dp_load(2500, 2500);
}

Test(state, an_apply_tells_its_progress_after_each_batch_and_at_the_end,
     .init = with_2500_dp, .fini = teardown)
{
	size_t cap = 256 + 2500 * 120, len;
	struct progress_calls p = { 0 };
	char *t = malloc(cap);
	unsigned int i;

	cr_assert_not_null(t);
	len = (size_t)snprintf(t, cap, "%sservices = (\n", DP);
	for (i = 0; i < 2500; i++)
		len += (size_t)snprintf(
			t + len, cap - len,
			"%s{ vip = \"203.0.113.%u\"; port = %u; backends = ( "
			"{ address = \"198.18.9.1\"; } ); }\n",
			i ? "," : "", 1 + i % 100, 1000 + i / 100);
	snprintf(t + len, cap - len, ");\n");
	st.progress = progress_note;
	st.progress_arg = &p;
	/* a plan is no apply: nothing to tell */
	apply(NULL, t, NULL);
	cr_assert_eq(p.n, 0);
	apply(dp, t, NULL);
	cr_assert_eq(p.n, 3, "%zu calls", p.n);
	cr_assert_eq(p.done[0], 1024);
	cr_assert_eq(p.done[1], 2048);
	cr_assert_eq(p.done[2], 2500);
	for (i = 0; i < 3; i++)
		cr_assert_eq(p.total[i], 2500);
	free(t);
}

Test(state, held_adopted_services_stay_until_released, .init = with_dp,
     .fini = teardown)
{
	char both[1024], web[1024];
	struct plan p = { 0 };
	struct apply_result r;

	conf_of(both, sizeof(both), DP, SERVICES(WEB("", "", ""), API));
	conf_of(web, sizeof(web), DP, SERVICES(WEB("", "", "")));
	apply(dp, both, NULL);
	cr_assert_str_eq(svc_at("192.0.2.1", 80, IPPROTO_TCP)->source,
			 "t.conf:3");
	/* a restart: the maps are adopted; api's source (say, the
	 * cluster) is not known until it syncs */
	state_free(&st);
	cr_assert_eq(state_init(&st, MAX_SERVICES, MAX_BACKENDS), 0);
	cr_assert_eq(state_adopt(&st, dp, M, 0), 0);
	cr_assert(svc_at("192.0.2.2", 80, IPPROTO_TCP)->adopted);
	st.hold_adopted = true;
	r = apply(dp, web, &p);
	expect_plan(&p, NO_LINES);
	expect_no_changes(&r);
	cr_assert(!svc_at("192.0.2.1", 80, IPPROTO_TCP)->adopted,
		  "web is the config's now");
	cr_assert(svc_at("192.0.2.2", 80, IPPROTO_TCP)->adopted);
	cr_assert_eq(svc_at("192.0.2.2", 80, IPPROTO_TCP)->n_be, 1);
	/* released: what no source wants goes */
	st.hold_adopted = false;
	apply(dp, web, &p);
	expect_plan(&p, LINES("- service 192.0.2.2:80/tcp 192.0.2.2:80/tcp",
			      "- vip 192.0.2.2"));
	cr_assert_eq(st.n_svc, 1);
}

/* Transactions: a map write that fails part way through an apply */

/* Tables of up to this size are read back. */
#define TXN_M_MAX 1031

/*
 * Failure injection through the dp_* layer's seam: write number fail_at
 * (counted from 1 since arming) fails with -ENOMEM. After it, calls of
 * the rollback are counted apart (those of the VIP table, which comes
 * back after the rollback, are not); rollback write rb_fail_at fails,
 * and with rb_persist every one after it too, as a lasting lack of
 * memory would.
 */
static struct {
	long calls, fail_at, rb_calls, rb_fail_at;
	bool failed, rb_persist;
	char what[32]; /* the map of the write that failed */
} fault;

int dp_write_fault(const char *map)
{
	long n = __atomic_add_fetch(&fault.calls, 1, __ATOMIC_SEQ_CST);

	if (fault.failed && fault.rb_fail_at && strcmp(map, "lbd_vip_slots")) {
		n = ++fault.rb_calls;
		if (n == fault.rb_fail_at ||
		    (fault.rb_persist && n > fault.rb_fail_at))
			return -ENOMEM;
		return 0;
	}
	if (n != fault.fail_at)
		return 0;
	snprintf(fault.what, sizeof(fault.what), "%s", map);
	fault.failed = true;
	return -ENOMEM;
}

static void fault_arm(long fail_at, long rb_fail_at, bool rb_persist)
{
	memset(&fault, 0, sizeof(fault));
	fault.fail_at = fail_at;
	fault.rb_fail_at = rb_fail_at;
	fault.rb_persist = rb_persist;
}

/* Lines of text, sorted before they are compared. */
struct lines {
	char **l;
	size_t n;
};

__attribute__((format(printf, 2, 3))) static void line_add(struct lines *l,
							   const char *fmt, ...)
{
	char **n = realloc(l->l, (l->n + 1) * sizeof(*n));
	va_list ap;
	int len;

	cr_assert_not_null(n);
	l->l = n;
	va_start(ap, fmt);
	len = vasprintf(&l->l[l->n], fmt, ap);
	va_end(ap);
	cr_assert_geq(len, 0);
	l->n++;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->l[i]);
	free(l->l);
	memset(l, 0, sizeof(*l));
}

/* Whether a and b hold the same lines; prints the first difference. */
static bool lines_eq(struct lines *a, struct lines *b, const char *what)
{
	size_t i;

	qsort(a->l, a->n, sizeof(*a->l), line_cmp);
	qsort(b->l, b->n, sizeof(*b->l), line_cmp);
	for (i = 0; i < a->n && i < b->n; i++)
		if (strcmp(a->l[i], b->l[i]))
			break;
	if (i == a->n && i == b->n)
		return true;
	fprintf(stderr,
		"%s: line %zu of %zu/%zu differs:\n  got  %s\n  want %s\n",
		what, i, a->n, b->n, i < a->n ? a->l[i] : "(none)",
		i < b->n ? b->l[i] : "(none)");
	return false;
}

static const char *hex(char *buf, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(buf + 2 * i, "%02x", b[i]);
	buf[2 * n] = '\0';
	return buf;
}

static __u64 fnv(__u64 h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/* Every entry of map m as "name key = value", in hex. */
static void dump_raw_map(struct lines *l, enum dp_map m)
{
	int fd = dp_map_fd(dp, m);
	struct bpf_map_info info;
	unsigned char k[64], nk[64], v[64];
	char hk[130], hv[130];
	__u32 len = sizeof(info);
	void *prev = NULL;

	memset(&info, 0, sizeof(info));
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	cr_assert_leq(info.key_size, sizeof(k));
	cr_assert_leq(info.value_size, sizeof(v));
	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		memcpy(k, nk, info.key_size);
		prev = k;
		cr_assert_eq(bpf_map_lookup_elem(fd, k, v), 0);
		line_add(l, "%s %s = %s", dp_map_name(m),
			 hex(hk, k, info.key_size),
			 hex(hv, v, info.value_size));
	}
}

/* The VIP table as installed: the program's map of it, found by name. */
static int vip_table_fd(void)
{
	struct bpf_prog_info pi;
	struct bpf_map_info mi;
	__u32 ids[64], len, i, zero = 0, inner;
	int fd, found = -1;

	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pi);
	cr_assert_eq(bpf_obj_get_info_by_fd(dp_prog_fd(dp), &pi, &len), 0);
	for (i = 0; i < pi.nr_map_ids && i < 64 && found < 0; i++) {
		fd = bpf_map_get_fd_by_id(ids[i]);
		cr_assert_geq(fd, 0);
		memset(&mi, 0, sizeof(mi));
		len = sizeof(mi);
		cr_assert_eq(bpf_obj_get_info_by_fd(fd, &mi, &len), 0);
		if (!strcmp(mi.name, "lbd_vip_slots"))
			found = fd;
		else
			close(fd);
	}
	cr_assert_geq(found, 0, "no lbd_vip_slots map");
	if (bpf_map_lookup_elem(found, &zero, &inner) < 0) {
		close(found);
		return -1; /* out: the hash maps serve */
	}
	close(found);
	fd = bpf_map_get_fd_by_id(inner);
	cr_assert_geq(fd, 0);
	return fd;
}

/* Calls fn(l, slot index, slot) for every used slot of the VIP table;
 * "viptable out" when there is none. */
static void dump_vip_table(struct lines *l, void (*fn)(struct lines *, __u32,
						       struct lbd_vip_slot *))
{
	int fd = vip_table_fd();
	struct lbd_vip_slot s;
	__u32 i;

	if (fd < 0) {
		line_add(l, "viptable out");
		return;
	}
	for (i = 0; i < dp_vip_slots(dp); i++) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &i, &s), 0);
		if (s.family)
			fn(l, i, &s);
	}
	close(fd);
}

static void raw_slot(struct lines *l, __u32 i, struct lbd_vip_slot *s)
{
	char h[2 * sizeof(*s) + 1];

	line_add(l, "vipslot %u %s", i, hex(h, s, sizeof(*s)));
}

/*
 * The maps as they are, ids and generations included: a rollback puts
 * back exactly this. Counters are left out (an id's are zeroed when it
 * is given out), and a Maglev table that is empty reads as none, as the
 * program reads it.
 */
static void dump_raw(struct lines *l)
{
	static const enum dp_map maps[] = { DP_MAP_VIP4,     DP_MAP_VIP6,
					    DP_MAP_SVC4,     DP_MAP_SVC6,
					    DP_MAP_BACKENDS, DP_MAP_SRC4,
					    DP_MAP_SRC6 };
	static __u32 t[TXN_M_MAX];
	size_t i;
	__u32 id;
	int m;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		dump_raw_map(l, maps[i]);
	for (id = 0; id < MAX_SERVICES; id++) {
		m = dp_maglev_get(dp, id, t, TXN_M_MAX);
		cr_assert_geq(m, 0);
		if (m)
			line_add(
				l, "maglev %u m %d %016llx", id, m,
				(unsigned long long)fnv(14695981039346656037ull,
							t, (size_t)m * 4));
	}
	dump_vip_table(l, raw_slot);
}

/* Service ids to their keys, for the dump that does without ids. */
static char svc_names[MAX_SERVICES][48];

static const char *svc_name(__u32 id)
{
	cr_assert_lt(id, MAX_SERVICES);
	return svc_names[id][0] ? svc_names[id] : "(none)";
}

static void view_services(struct lines *l, enum dp_map m)
{
	size_t ks = m == DP_MAP_SVC4 ? sizeof(struct lbd_svc_key4) :
				       sizeof(struct lbd_svc_key6);
	int fd = dp_map_fd(dp, m);
	unsigned char k[32], nk[32];
	char hv[2 * sizeof(struct lbd_svc) + 1];
	struct lbd_svc v;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, nk) == 0) {
		memcpy(k, nk, ks);
		prev = k;
		cr_assert_eq(bpf_map_lookup_elem(fd, k, &v), 0);
		cr_assert_lt(v.id, MAX_SERVICES);
		hex(svc_names[v.id], k, ks);
		line_add(l, "svc %s = %s", svc_names[v.id],
			 hex(hv, &v.table_size,
			     sizeof(v) - offsetof(struct lbd_svc, table_size)));
	}
}

/* A backend by what it is, not by its id. */
static const char *be_view(__u32 id, char *buf, size_t len)
{
	struct lbd_backend b = be_entry(id);
	char a[2 * sizeof(b.addr) + 1];

	snprintf(buf, len, "%s %s:%u f%u", svc_name(b.svc_id),
		 hex(a, &b.addr, sizeof(b.addr)), ntohs(b.port), b.family);
	return buf;
}

static void view_slot(struct lines *l, __u32 i, struct lbd_vip_slot *s)
{
	char h[2 * sizeof(*s) + 1], names[LBD_SLOT_SVCS * 50] = "";
	int k;

	for (k = 0; k < LBD_SLOT_SVCS && s->svcs[k].proto; k++) {
		strcat(names, " ");
		strcat(names, svc_name(s->svcs[k].svc.id));
		s->svcs[k].svc.id = 0;
	}
	line_add(l, "vipslot %u %s%s", i, hex(h, s, sizeof(*s)), names);
}

/*
 * What the maps serve, without ids and generations: services with their
 * settings, their backends' addresses, states and weights, their tables
 * as the backends each slot names, source ranges, VIPs and the VIP
 * table. Two applies of one config give the same view whatever ids
 * they took.
 */
static void dump_view(struct lines *l)
{
	static __u32 t[TXN_M_MAX];
	char buf[160];
	__u32 id;
	int m, k;

	memset(svc_names, 0, sizeof(svc_names));
	view_services(l, DP_MAP_SVC4);
	view_services(l, DP_MAP_SVC6);
	dump_raw_map(l, DP_MAP_VIP4);
	dump_raw_map(l, DP_MAP_VIP6);
	for (id = 0; id < MAX_BACKENDS; id++) {
		struct lbd_backend b = be_entry(id);

		if (b.state != LBD_BE_UNUSED)
			line_add(l, "be %s state %u weight %u",
				 be_view(id, buf, sizeof(buf)), b.state,
				 b.weight);
	}
	for (id = 0; id < MAX_SERVICES; id++) {
		__u64 h = 14695981039346656037ull;

		if (!svc_names[id][0])
			continue;
		m = dp_maglev_get(dp, id, t, TXN_M_MAX);
		cr_assert_geq(m, 0);
		for (k = 0; k < m; k++) {
			be_view(t[k], buf, sizeof(buf));
			h = fnv(h, buf, strlen(buf) + 1);
		}
		line_add(l, "table %s m %d %016llx", svc_names[id], m,
			 (unsigned long long)h);
	}
	{
		struct lbd_src_key4 k4, n4;
		struct lbd_src_key6 k6, n6;
		int fd = dp_map_fd(dp, DP_MAP_SRC4);
		void *prev;

		for (prev = NULL; bpf_map_get_next_key(fd, prev, &n4) == 0;
		     prev = &k4) {
			k4 = n4;
			line_add(l, "range %s %08x/%u",
				 svc_name(ntohl(k4.svc_id)), ntohl(k4.addr),
				 k4.prefixlen);
		}
		fd = dp_map_fd(dp, DP_MAP_SRC6);
		for (prev = NULL; bpf_map_get_next_key(fd, prev, &n6) == 0;
		     prev = &k6) {
			k6 = n6;
			line_add(l, "range %s %s/%u",
				 svc_name(ntohl(k6.svc_id)),
				 hex(buf, &k6.addr, sizeof(k6.addr)),
				 k6.prefixlen);
		}
	}
	dump_vip_table(l, view_slot);
}

/* What every packet needs at every step of an apply, and so of its
 * rollback: a table names only active backends of its own service, and
 * a VIP is there only with a service on it. */
static void expect_every_view_consistent(void)
{
	static __u32 t[TXN_M_MAX];
	union lbd_addr vips[2][MAX_SERVICES];
	size_t n_vips[2] = { 0, 0 }, i, j;

	for (i = 0; i < 2; i++) {
		int fd = dp_map_fd(dp, i ? DP_MAP_SVC6 : DP_MAP_SVC4);
		union {
			struct lbd_svc_key4 k4;
			struct lbd_svc_key6 k6;
		} k, nk;
		struct lbd_svc v;
		void *prev = NULL;
		int m, s;

		while (bpf_map_get_next_key(fd, prev, &nk) == 0) {
			k = nk;
			prev = &k;
			cr_assert_eq(bpf_map_lookup_elem(fd, &k, &v), 0);
			memset(&vips[i][n_vips[i]], 0, sizeof(vips[i][0]));
			if (i)
				vips[i][n_vips[i]++] = k.k6.vip;
			else
				vips[i][n_vips[i]++].v4 = k.k4.vip;
			m = dp_maglev_get(dp, v.id, t, TXN_M_MAX);
			cr_assert(m == 0 || (__u32)m == v.table_size,
				  "service %u: a table of %d for %u", v.id, m,
				  v.table_size);
			for (s = 0; s < m; s++) {
				struct lbd_backend b = be_entry(t[s]);

				cr_assert(b.svc_id == v.id &&
						  b.state == LBD_BE_ACTIVE,
					  "service %u: slot %d names backend "
					  "%u (service %u, state %u)",
					  v.id, s, t[s], b.svc_id, b.state);
			}
		}
	}
	for (i = 0; i < 2; i++) {
		int fd = dp_map_fd(dp, i ? DP_MAP_VIP6 : DP_MAP_VIP4);
		union lbd_addr k, nk;
		void *prev = NULL;

		memset(&k, 0, sizeof(k));
		memset(&nk, 0, sizeof(nk));
		while (bpf_map_get_next_key(fd, prev, &nk) == 0) {
			bool any = false;

			k = nk;
			prev = &k;
			for (j = 0; j < n_vips[i]; j++)
				any |= !memcmp(&vips[i][j], &k,
					       i ? sizeof(k) : sizeof(k.v4));
			cr_assert(any, "a VIP without a service");
		}
	}
}

/* The state in memory is what the maps hold (as an adoption reads it). */
static void expect_state_is_the_maps(void)
{
	struct lbd_state a;
	size_t i, j;

	cr_assert_eq(state_init(&a, MAX_SERVICES, MAX_BACKENDS), 0);
	cr_assert_eq(state_adopt(&a, dp, st.maglev_size, st.seed), 0);
	cr_assert_eq(a.n_svc, st.n_svc);
	cr_assert_eq(a.n_free_svc, st.n_free_svc);
	cr_assert_eq(a.n_free_be, st.n_free_be);
	for (i = 0; i < st.n_svc; i++) {
		const struct st_service *x = &a.svc[i], *y = &st.svc[i];

		cr_assert_eq(memcmp(&x->key, &y->key, sizeof(x->key)), 0);
		cr_assert_eq(x->id, y->id);
		cr_assert_eq(x->fwd, y->fwd);
		cr_assert_eq(x->flags, y->flags);
		cr_assert_eq(x->table_hash, y->table_hash);
		cr_assert_eq(x->table_size, y->table_size);
		cr_assert_eq(x->n_be, y->n_be, "%s", y->name);
		cr_assert_eq(x->n_ranges, y->n_ranges, "%s", y->name);
		for (j = 0; j < x->n_be; j++) {
			cr_assert_eq(memcmp(&x->be[j].addr.addr,
					    &y->be[j].addr.addr,
					    sizeof(x->be[j].addr.addr)),
				     0);
			cr_assert_eq(x->be[j].id, y->be[j].id);
			cr_assert_eq(x->be[j].gen, y->be[j].gen);
			cr_assert_eq(x->be[j].dp_state, y->be[j].dp_state);
			cr_assert_eq(x->be[j].weight, y->be[j].weight);
		}
	}
	state_free(&a);
}

/*
 * The apply every write of which fails once in turn: services added,
 * removed and changed (forwarding, source ranges, icmp_echo), backends
 * added, removed, drained and reweighted (the tables of those services
 * rebuilt), one service left without a usable backend (its table goes),
 * VIPs added and removed (the VIP table swapped), IPv4 and IPv6.
 */
#define TXN_KEEP                                                            \
	"\t{ name = \"keep\"; vip = \"192.0.2.3\"; port = 80; backends = (" \
	" { address = \"198.18.1.30\"; } ); }"
#define TXN_OLD                                                                \
	DP "services = (\n"                                                    \
	   "\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80; backends = ("  \
	   " { address = \"198.18.1.1\"; }, { address = \"198.18.1.2\"; },"    \
	   " { address = \"198.18.1.3\"; } ); },\n"                            \
	   "\t{ name = \"dns\"; vip = \"192.0.2.1\"; port = 53;"               \
	   " protocol = \"udp\"; icmp_echo = false;"                           \
	   " source_ranges = ( \"10.0.0.0/8\", \"172.16.0.0/12\" );"           \
	   " backends = ( { address = \"198.18.1.6\"; } ); },\n"               \
	   "\t{ name = \"api\"; vip = \"192.0.2.2\"; port = 80; backends = ("  \
	   " { address = \"198.18.1.5\"; } ); },\n"                            \
	   "\t{ name = \"dark\"; vip = \"192.0.2.4\"; port = 80; backends = (" \
	   " { address = \"198.18.1.20\"; } ); },\n"                           \
	   "\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 443;"           \
	   " backends = ( { address = \"2001:db8:1::1\"; } ); },\n" TXN_KEEP   \
	   "\n);\n"
#define TXN_NEW_SERVICES                                                    \
	"services = (\n"                                                    \
	"\t{ name = \"web\"; vip = \"192.0.2.1\"; port = 80; backends = ("  \
	" { address = \"198.18.1.1\"; },"                                   \
	" { address = \"198.18.1.2\"; state = \"draining\"; },"             \
	" { address = \"198.18.1.4\"; weight = 2; } ); },\n"                \
	"\t{ name = \"dns\"; vip = \"192.0.2.1\"; port = 53;"               \
	" protocol = \"udp\"; forwarding = \"geneve\";"                     \
	" source_ranges = ( \"10.0.0.0/8\", \"192.168.0.0/16\" );"          \
	" backends = ( { address = \"198.18.1.6\"; } ); },\n"               \
	"\t{ name = \"dark\"; vip = \"192.0.2.4\"; port = 80; backends = (" \
	" { address = \"198.18.1.20\"; state = \"down\"; } ); },\n"         \
	"\t{ name = \"v6\"; vip = \"2001:db8:f::1\"; port = 443;"           \
	" backends = ( { address = \"2001:db8:1::1\"; weight = 3; },"       \
	" { address = \"2001:db8:1::2\"; } ); },\n"                         \
	"\t{ name = \"v6new\"; vip = \"2001:db8:f::2\"; port = 80;"         \
	" source_ranges = ( \"2001:db8:c::/48\" );"                         \
	" backends = ( { address = \"2001:db8:1::3\"; } ); },\n"            \
	"\t{ name = \"new\"; vip = \"192.0.2.10\"; port = 80; backends = (" \
	" { address = \"198.18.1.10\"; }, { address = \"198.18.1.5\"; }"    \
	" ); },\n" TXN_KEEP "\n);\n"

#define TXN_NEW DP TXN_NEW_SERVICES
/* the same with every table rebuilt at another size */
#define TXN_NEW_509 DATAPATH(" maglev_table_size = 509;") TXN_NEW_SERVICES

/* The configs the next test goes between. */
static const char *txn_old = TXN_OLD, *txn_new = TXN_NEW;

/* From the old config to the new one without a failure, on the
 * datapath the test goes on with: what each serves, and the number of
 * writes in between. */
static long txn_reference(struct lines *old_view, struct lines *new_view)
{
	long writes;

	with_dp();
	apply(dp, txn_old, NULL);
	dump_view(old_view);
	fault_arm(0, 0, false);
	apply(dp, txn_new, NULL);
	writes = fault.calls;
	cr_assert_eq(st.served, ST_SERVED_APPLIED);
	dump_view(new_view);
	fprintf(stderr, "the apply makes %ld writes\n", writes);
	cr_assert_gt(writes, 30, "a representative apply: %ld writes", writes);
	return writes;
}

/* Back to the old config (ids and generations are new ones each time):
 * its maps as they are before the apply that fails. */
static void txn_start(struct lines *old_view, struct lines *raw)
{
	struct lines view = { 0 };

	fault_arm(0, 0, false);
	apply(dp, txn_old, NULL);
	dump_view(&view);
	cr_assert(lines_eq(&view, old_view, "the old config"));
	lines_free(&view);
	dump_raw(raw);
}

/* The new config's maps, whole; the VIP table may be out if its last
 * swap failed (the hash maps serve, and the next apply brings it). */
static void expect_new_view(struct lines *new_view, long n)
{
	struct lines view = { 0 };

	dump_view(&view);
	if (view.n && !strcmp(view.l[view.n - 1], "viptable out")) {
		struct lines want = { 0 };
		size_t i;

		for (i = 0; i < new_view->n; i++)
			if (strncmp(new_view->l[i], "vipslot ", 8))
				line_add(&want, "%s", new_view->l[i]);
		line_add(&want, "viptable out");
		cr_assert(lines_eq(&view, &want, "the new config"),
			  "write %ld failed", n);
		lines_free(&want);
	} else {
		cr_assert(lines_eq(&view, new_view, "the new config"),
			  "write %ld failed", n);
	}
	lines_free(&view);
	expect_every_view_consistent();
}

/* Going on after a failed apply: the new config applies whole. */
static void txn_then_new(struct lines *new_view, long n)
{
	fault_arm(0, 0, false);
	apply(dp, txn_new, NULL);
	cr_assert_eq(st.served, ST_SERVED_APPLIED);
	cr_assert_eq(st.last_err, 0);
	expect_new_view(new_view, n);
}

/* Fails write n of the apply from txn_old to txn_new, for every n. */
static void txn_every_write(void)
{
	struct lines old_view = { 0 }, new_view = { 0 };
	long n, total = txn_reference(&old_view, &new_view);

	/* until write n is past the apply's last */
	for (n = 1;; n++) {
		struct lines raw0 = { 0 }, raw = { 0 };
		struct plan p = { 0 };
		struct apply_result r;
		int err;

		txn_start(&old_view, &raw0);
		fault_arm(n, 0, false);
		err = apply_err(dp, txn_new, NULL, &r);
		if (!fault.failed) {
			cr_assert_eq(err, 0);
			lines_free(&raw0);
			break;
		}
		if (!err) {
			/* the VIP table's swap: it is taken out (the hash
			 * maps serve) and comes back at the end */
			cr_assert_str_eq(fault.what, "lbd_vip_slots");
			cr_assert_eq(st.served, ST_SERVED_APPLIED);
			expect_new_view(&new_view, n);
			lines_free(&raw0);
			continue;
		}
		cr_assert_eq(err, -ENOMEM, "write %ld (%s): %s", n, fault.what,
			     strerror(-err));
		cr_assert_eq(st.served, ST_SERVED_PREVIOUS);
		cr_assert_eq(st.last_err, -ENOMEM);
		dump_raw(&raw);
		cr_assert(lines_eq(&raw, &raw0, "after the rollback"),
			  "write %ld (%s) failed", n, fault.what);
		lines_free(&raw);
		lines_free(&raw0);
		/* the state in memory is the old one too: nothing to do */
		fault_arm(0, 0, false);
		r = apply(dp, txn_old, &p);
		expect_plan(&p, NO_LINES);
		cr_assert_eq(r.writes, 0, "write %ld (%s): %lu writes", n,
			     fault.what, r.writes);
		txn_then_new(&new_view, n);
	}
	cr_assert_eq(n, total + 1, "%ld writes, %ld before", n - 1, total);
	lines_free(&old_view);
	lines_free(&new_view);
}

Test(state_txn, a_failed_write_at_any_step_leaves_the_last_good_state,
     .fini = teardown, .timeout = 100)
{
	txn_every_write();
}

/* Every table rebuilt at a new size: the old size comes back with the
 * old tables. */
Test(state_txn, a_failed_table_size_change_leaves_the_old_tables,
     .fini = teardown, .timeout = 100)
{
	txn_new = TXN_NEW_509;
	txn_every_write();
	txn_new = TXN_NEW;
}

/* A runtime change (lbctl drain, a health verdict) is a transaction
 * too: one that fails changes neither the maps nor the state. */
Test(state_txn, a_failed_drain_changes_nothing, .init = with_dp,
     .fini = teardown, .timeout = 100)
{
	struct be_match m = match(NULL, "198.18.1.1", 0);
	struct apply_result r;
	long n;
	int ret;

	apply(dp, TXN_OLD, NULL);
	for (n = 1;; n++) {
		struct lines raw0 = { 0 }, raw = { 0 };

		dump_raw(&raw0);
		fault_arm(n, 0, false);
		ret = state_set_flag(&st, dp, &m, BE_FLAG_DRAINED, true, NULL,
				     NULL, &r);
		if (!fault.failed) {
			cr_assert_eq(ret, 1);
			lines_free(&raw0);
			break;
		}
		cr_assert_eq(ret, -ENOMEM, "write %ld (%s)", n, fault.what);
		cr_assert_eq(st.served, ST_SERVED_APPLIED);
		cr_assert_eq(st.failures, (unsigned long)n);
		cr_assert(!be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP),
				 "198.18.1.1", 80)
				   ->drained);
		dump_raw(&raw);
		cr_assert(lines_eq(&raw, &raw0, "after the rollback"),
			  "write %ld (%s) failed", n, fault.what);
		lines_free(&raw);
		lines_free(&raw0);
		expect_state_is_the_maps();
	}
	cr_assert_gt(n, 3, "a drain of %ld writes", n - 1);
	cr_assert(be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP), "198.18.1.1", 80)
			  ->drained);
	cr_assert_eq(table_slots(svc_at("192.0.2.1", 80, IPPROTO_TCP)->id,
				 be_at(svc_at("192.0.2.1", 80, IPPROTO_TCP),
				       "198.18.1.1", 80)
					 ->id),
		     0);
	expect_every_view_consistent();
}

Test(state_txn, a_rollback_write_that_fails_once_is_tried_again,
     .fini = teardown, .timeout = 100)
{
	struct lines old_view = { 0 }, new_view = { 0 };
	long n, total = txn_reference(&old_view, &new_view);

	for (n = 1; n <= total; n++) {
		struct lines raw0 = { 0 }, raw = { 0 };
		struct apply_result r;
		int err;

		txn_start(&old_view, &raw0);
		fault_arm(n, 1, false);
		err = apply_err(dp, txn_new, NULL, &r);
		if (!err) {
			cr_assert_str_eq(fault.what, "lbd_vip_slots");
			lines_free(&raw0);
			continue;
		}
		cr_assert_eq(err, -ENOMEM);
		cr_assert_eq(st.served, ST_SERVED_PREVIOUS,
			     "write %ld (%s), then the rollback's first", n,
			     fault.what);
		cr_assert_eq(st.rollback_failures, 0);
		dump_raw(&raw);
		cr_assert(lines_eq(&raw, &raw0, "after the rollback"),
			  "write %ld (%s), then the rollback's first", n,
			  fault.what);
		lines_free(&raw);
		lines_free(&raw0);
		expect_state_is_the_maps();
		txn_then_new(&new_view, n);
	}
	lines_free(&old_view);
	lines_free(&new_view);
}

/*
 * A rollback that cannot finish (every write fails from its first, or
 * its second, on): it stops where it is, which is a state the apply went
 * through, consistent for every packet; the state is read back from the
 * maps and said to be mixed. The next apply that works ends it, to the
 * old config or the new one.
 */
Test(state_txn, a_rollback_that_cannot_finish_leaves_a_consistent_mix,
     .fini = teardown, .timeout = 100)
{
	struct lines old_view = { 0 }, new_view = { 0 };
	long n, total = txn_reference(&old_view, &new_view);
	unsigned long mixed = 0;
	int k;

	for (k = 1; k <= 2; k++) {
		/* the second rollback write: every third, for time */
		for (n = k; n <= total; n += k == 1 ? 1 : 3) {
			struct lines raw0 = { 0 };
			struct apply_result r;
			int err;

			txn_start(&old_view, &raw0);
			lines_free(&raw0);
			fault_arm(n, k, true);
			err = apply_err(dp, txn_new, NULL, &r);
			if (!err) {
				cr_assert_str_eq(fault.what, "lbd_vip_slots");
				continue;
			}
			cr_assert_eq(err, -ENOMEM);
			if (fault.rb_calls >= k) {
				cr_assert_eq(st.served, ST_SERVED_MIXED,
					     "write %ld (%s)", n, fault.what);
				cr_assert_eq(st.rollback_failures, ++mixed);
			} else {
				/* nothing was left to put back there */
				cr_assert_eq(st.served, ST_SERVED_PREVIOUS);
			}
			expect_every_view_consistent();
			expect_state_is_the_maps();
			/* a mix until an apply works: back to the old
			 * config, then on to the new one */
			fault_arm(0, 0, false);
			if (n % 2) {
				struct lines view = { 0 };

				apply(dp, txn_old, NULL);
				cr_assert_eq(st.served, ST_SERVED_APPLIED);
				dump_view(&view);
				cr_assert(
					lines_eq(&view, &old_view,
						 "the old config after a mix"),
					"write %ld (%s), rollback write %d", n,
					fault.what, k);
				lines_free(&view);
			}
			txn_then_new(&new_view, n);
		}
	}
	cr_assert_gt((long)mixed, total, "rollbacks that failed: %lu", mixed);
	lines_free(&old_view);
	lines_free(&new_view);
}

/* After a rollback that failed, what the maps do not hold survives the
 * re-read: names, sources, a runtime drain and a health verdict. */
Test(state_txn, a_mix_keeps_names_drains_and_health_verdicts, .init = with_dp,
     .fini = teardown)
{
	struct be_match drain = match(NULL, "198.18.1.1", 0);
	struct be_match down = { .addr = { .family = LBD_AF_INET6,
					   .prefixlen = 128 } };
	const struct st_service *web, *v6;
	struct apply_result r;
	char source[160];
	int err;

	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:1::1", &down.addr.addr), 1);

	apply(dp, TXN_OLD, NULL);
	cr_assert_eq(state_set_flag(&st, dp, &drain, BE_FLAG_DRAINED, true,
				    NULL, NULL, &r),
		     1);
	cr_assert_eq(state_set_flag(&st, dp, &down, BE_FLAG_HEALTH_DOWN, true,
				    NULL, NULL, &r),
		     1);
	snprintf(source, sizeof(source), "%s",
		 svc_at("192.0.2.1", 80, IPPROTO_TCP)->source);
	fault_arm(30, 1, true);
	err = apply_err(dp, TXN_NEW, NULL, &r);
	cr_assert_eq(err, -ENOMEM);
	cr_assert_geq(fault.rb_calls, 1);
	cr_assert_eq(st.served, ST_SERVED_MIXED);
	web = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_str_eq(web->name, "web");
	cr_assert_str_eq(web->source, source);
	cr_assert(be_at(web, "198.18.1.1", 80)->drained);
	v6 = svc_at("2001:db8:f::1", 443, IPPROTO_TCP);
	cr_assert(be_at(v6, "2001:db8:1::1", 443)->health_down);

	fault_arm(0, 0, false);
	apply(dp, TXN_OLD, NULL);
	cr_assert_eq(st.served, ST_SERVED_APPLIED);
	web = svc_at("192.0.2.1", 80, IPPROTO_TCP);
	cr_assert_eq(be_entry(be_at(web, "198.18.1.1", 80)->id).state,
		     LBD_BE_DRAINING, "the drain is lost");
	v6 = svc_at("2001:db8:f::1", 443, IPPROTO_TCP);
	cr_assert_eq(be_entry(be_at(v6, "2001:db8:1::1", 443)->id).state,
		     LBD_BE_DOWN, "the health verdict is lost");
	expect_every_view_consistent();
}
