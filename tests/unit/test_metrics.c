// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/metrics: the Prometheus text rendering of a metrics snapshot. The
 * integration test parses a live scrape with Prometheus' own parser;
 * these pin down the format's corners, and that the snapshot the io
 * process receives is checked before it is read. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* Snapshots are built field by field, as ctl_metrics.c fills them. */
static struct lbd_metrics_rec *add(struct lbd_metrics_snap *s,
				   unsigned int type)
{
	struct lbd_metrics_rec *r = metrics_snap_add(s, type);

	cr_assert_not_null(r);
	return r;
}

static void head(struct lbd_metrics_snap *s, const char *role)
{
	memset(s, 0, sizeof(*s));
	METRICS_STR(s->h.version, "0.1.0");
	METRICS_STR(s->h.role, role);
}

/* An LB's snapshot: a service (with a name to escape) and its backend,
 * a drop counted, a failed apply. */
static void snap_lb(struct lbd_metrics_snap *s)
{
	struct lbd_metrics_rec *r;

	head(s, "lb");
	s->h.flags = LBD_MET_F_REASONS | LBD_MET_F_DATAPATH |
		     LBD_MET_F_BACKENDS;
	s->h.start_time_s = 1700000000;
	s->h.last_reload_at_s = 1700000100.5;
	s->h.generation = 3;
	s->h.reloads = 2;
	s->h.reload_failures = 1;
	s->h.last_reload_ok = 1;
	s->h.last_reload_s = 0.25;
	METRICS_STR(s->h.interface, "eth0");
	METRICS_STR(s->h.mode, "native");
	s->h.attached = 1;
	s->h.drains = 1;
	s->h.monitor_lost = 4;
	s->h.apply_ok = 0;
	METRICS_STR(s->h.serving, "previous");
	s->h.apply_failures = 2;
	s->h.apply_rollback_failures = 1;
	s->h.ct_entries[0] = 10;
	s->h.ct_live[0] = 8;
	s->h.ct_capacity[0] = 65536;
	r = add(s, LBD_MET_REASON);
	METRICS_STR(r->u.reason.reason, "no_service");
	METRICS_STR(r->u.reason.kind, "drop");
	r->u.reason.packets = 7;
	r->u.reason.bytes = 700;
	r = add(s, LBD_MET_SERVICE);
	METRICS_STR(r->u.service.name, "we\"b\\1\n");
	METRICS_STR(r->u.service.vip, "192.0.2.1");
	r->u.service.port = 80;
	METRICS_STR(r->u.service.protocol, "tcp");
	METRICS_STR(r->u.service.forwarding, "ipip");
	r->u.service.active_backends = 1;
	r->u.service.packets = 12345678901ull;
	r->u.service.bytes = 2;
	r->u.service.new_flows = 3;
	r->u.service.n_backends = 1;
	r = add(s, LBD_MET_BACKEND);
	METRICS_STR(r->u.backend.backend, "198.18.1.11:80");
	r->u.backend.packets = 5;
	r->u.backend.bytes = 6;
	r->u.backend.new_flows = 3;
	r->u.backend.active_flows = 2;
	r->u.backend.weight = 1;
	r->u.backend.share = 0.5;
	r->u.backend.healthy = 1;
	r->u.backend.drained = 1;
	METRICS_STR(r->u.backend.state, "draining");
}

static char *render_snap(struct lbd_metrics_snap *s, size_t *len)
{
	struct metrics_io io = { .control_clients = 2,
				 .monitor_clients = 1,
				 .monitor_lost = 1 };
	char *out = NULL;

	cr_assert_eq(metrics_render_snap(s, &io, &out, len), 0);
	metrics_snap_free(s);
	return out;
}

/* The LB's snapshot, through the encoding that carries it. */
static char *render_lb(size_t *len)
{
	struct metrics_io io = { .control_clients = 2,
				 .monitor_clients = 1,
				 .monitor_lost = 1 };
	struct lbd_metrics_snap s, back;
	void *buf;
	size_t n;
	char *out = NULL;

	snap_lb(&s);
	cr_assert_eq(metrics_snap_encode(&s, &buf, &n), 0);
	metrics_snap_free(&s);
	cr_assert_eq(metrics_snap_decode(buf, n, &back), 0);
	metrics_snap_free(&back);
	cr_assert_eq(metrics_render(buf, n, &io, &out, len), 0);
	free(buf);
	return out;
}

static int count(const char *text, const char *needle)
{
	int n = 0;

	for (; (text = strstr(text, needle)); text++)
		n++;
	return n;
}

static void has_line(const char *text, const char *line)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "\n%s\n", line);
	cr_assert(strstr(text, buf), "missing line: %s\n%s", line, text);
}

Test(metrics, every_family_has_one_help_and_one_type)
{
	size_t len;
	char *t = render_lb(&len);

	cr_assert_eq(strlen(t), len);
	cr_assert_eq(count(t, "# TYPE lbd_backend_new_flows_total counter\n"),
		     1);
	cr_assert_eq(count(t, "# HELP "), count(t, "# TYPE "));
	cr_assert_eq(t[len - 1], '\n');
	free(t);
}

Test(metrics, label_values_are_escaped)
{
	size_t len;
	char *t = render_lb(&len);

	/* quote, backslash and newline in a service name */
	has_line(t,
		 "lbd_service_new_flows_total{service=\"we\\\"b\\\\1\\n\"} 3");
	free(t);
}

Test(metrics, counters_print_as_exact_integers)
{
	size_t len;
	char *t = render_lb(&len);

	has_line(t, "lbd_service_packets_total{service=\"we\\\"b\\\\1\\n\"} "
		    "12345678901");
	has_line(t, "lbd_datapath_packets_total{reason=\"no_service\","
		    "kind=\"drop\"} 7");
	has_line(t, "lbd_reloads_total 2");
	has_line(t, "lbd_last_reload_duration_seconds 0.25");
	has_line(t, "lbd_conntrack_capacity{family=\"ipv4\"} 65536");
	free(t);
}

Test(metrics, the_backend_state_is_one_series_per_state)
{
	size_t len;
	char *t = render_lb(&len);
	const char *p = "lbd_backend_state{service=\"we\\\"b\\\\1\\n\","
			"backend=\"198.18.1.11:80\",state=";
	char l[256];

	snprintf(l, sizeof(l), "%s\"draining\"} 1", p);
	has_line(t, l);
	snprintf(l, sizeof(l), "%s\"active\"} 0", p);
	has_line(t, l);
	snprintf(l, sizeof(l), "%s\"down\"} 0", p);
	has_line(t, l);
	has_line(t, "lbd_backend_drained{service=\"we\\\"b\\\\1\\n\","
		    "backend=\"198.18.1.11:80\"} 1");
	free(t);
}

Test(metrics, the_io_process_adds_its_own)
{
	size_t len;
	char *t = render_lb(&len);

	has_line(t, "lbd_control_clients 2");
	/* lost in the privileged process (4) and in the io process (1) */
	has_line(t, "lbd_monitor_events_lost_total 5");
	free(t);
}

Test(metrics, what_the_snapshot_lacks_is_not_made_up)
{
	struct lbd_metrics_snap s;
	size_t len;
	char *t;

	head(&s, "backend");
	t = render_snap(&s, &len);
	cr_assert_null(strstr(t, "lbd_service_"));
	cr_assert_null(strstr(t, "lbd_conntrack_"));
	/* the counters could not be read: no reason is made up */
	cr_assert_null(strstr(t, "lbd_datapath_packets_total"));
	has_line(t, "lbd_build_info{version=\"0.1.0\",role=\"backend\"} 1");
	free(t);
}

/* Health checks and announcements, when the snapshot has them */
static void backend_checked(struct lbd_metrics_snap *s, const char *label,
			    int healthy, double secs, int ok, int changes,
			    const char *state)
{
	struct lbd_metrics_rec *r = add(s, LBD_MET_BACKEND);

	METRICS_STR(r->u.backend.backend, label);
	r->u.backend.healthy = (__u8)healthy;
	METRICS_STR(r->u.backend.state, state);
	if (secs < 0)
		return;
	r->u.backend.has_check = 1;
	r->u.backend.check_seconds = secs;
	r->u.backend.check_ok = (__u8)ok;
	r->u.backend.health_changes = (__u64)changes;
}

static void snap_health(struct lbd_metrics_snap *s)
{
	struct lbd_metrics_rec *r;

	head(s, "lb");
	s->h.flags = LBD_MET_F_DATAPATH | LBD_MET_F_HEALTH | LBD_MET_F_BIRD |
		     LBD_MET_F_BACKENDS;
	s->h.start_time_s = 1;
	s->h.hc_checks = 2;
	s->h.hc_up = 1;
	s->h.hc_down = 1;
	s->h.hc_runs = 40;
	s->h.hc_failed = 3;
	s->h.hc_running = 1;
	s->h.hc_max_lag_ms = 125;
	s->h.bird_connected = 1;
	s->h.bird_configures = 4;
	r = add(s, LBD_MET_SERVICE);
	METRICS_STR(r->u.service.name, "web");
	METRICS_STR(r->u.service.vip, "203.0.113.10");
	r->u.service.port = 80;
	METRICS_STR(r->u.service.protocol, "tcp");
	METRICS_STR(r->u.service.forwarding, "ipip");
	r->u.service.n_backends = 3;
	backend_checked(s, "198.18.1.11:80", 1, 0.5, 1, 1, "active");
	backend_checked(s, "198.18.1.12:80", 0, 0.25, 0, 2, "down");
	backend_checked(s, "198.18.1.13:80", 1, -1, 0, 0, "active");
	r = add(s, LBD_MET_VIP);
	METRICS_STR(r->u.vip.vip, "203.0.113.10");
	r->u.vip.announced = 1;
	r->u.vip.backends_up = 1;
	r = add(s, LBD_MET_VIP);
	METRICS_STR(r->u.vip.vip, "203.0.113.11");
}

Test(metrics, health_checks_and_announcements)
{
	struct lbd_metrics_snap s;
	size_t len;
	char *t;

	snap_health(&s);
	t = render_snap(&s, &len);

	has_line(t, "lbd_health_checks_total 40");
	has_line(t, "lbd_health_check_failures_total 3");
	has_line(t, "lbd_health_checks{state=\"down\"} 1");
	has_line(t, "lbd_health_check_max_lag_seconds 0.125");
	has_line(t, "lbd_backend_health_check_seconds{service=\"web\","
		    "backend=\"198.18.1.11:80\"} 0.5");
	has_line(t, "lbd_backend_health_check_success{service=\"web\","
		    "backend=\"198.18.1.12:80\"} 0");
	has_line(t, "lbd_backend_health_changes_total{service=\"web\","
		    "backend=\"198.18.1.12:80\"} 2");
	/* a backend without a check has no check series */
	cr_assert_null(strstr(t, "lbd_backend_health_check_seconds{service="
				 "\"web\",backend=\"198.18.1.13:80\"}"));
	has_line(t, "lbd_bird_connected 1");
	has_line(t, "lbd_vip_announced{vip=\"203.0.113.10\"} 1");
	has_line(t, "lbd_vip_announced{vip=\"203.0.113.11\"} 0");
	has_line(t, "lbd_vip_backends_up{vip=\"203.0.113.10\"} 1");
	cr_assert_eq(count(t, "# HELP "), count(t, "# TYPE "));
	free(t);
}

Test(metrics, the_last_apply_and_what_the_datapath_serves)
{
	size_t len;
	char *t = render_lb(&len);

	has_line(t, "lbd_last_apply_success 0");
	has_line(t, "lbd_apply_failures_total 2");
	has_line(t, "lbd_apply_rollback_failures_total 1");
	has_line(t, "lbd_datapath_serving{state=\"applied\"} 0");
	has_line(t, "lbd_datapath_serving{state=\"previous\"} 1");
	has_line(t, "lbd_datapath_serving{state=\"mixed\"} 0");
	free(t);
}

Test(metrics, a_backend_reports_its_connections_by_address_and_port)
{
	struct lbd_metrics_snap s;
	struct lbd_metrics_rec *r;
	size_t len;
	char *t;

	head(&s, "backend");
	s.h.flags = LBD_MET_F_CONNS;
	r = add(&s, LBD_MET_CONN);
	METRICS_STR(r->u.conn.address, "203.0.113.10");
	r->u.conn.port = 80;
	r->u.conn.connections = 3;
	r = add(&s, LBD_MET_CONN);
	METRICS_STR(r->u.conn.address, "2001:db8:1::11");
	r->u.conn.port = 8080;
	r->u.conn.connections = 1;
	t = render_snap(&s, &len);
	cr_assert_eq(count(t, "# TYPE lbd_backend_connections gauge\n"), 1);
	has_line(t, "lbd_backend_connections{vip=\"203.0.113.10\",port=\"80\"} "
		    "3");
	has_line(t, "lbd_backend_connections{vip=\"2001:db8:1::11\","
		    "port=\"8080\"} 1");
	free(t);
	/* a count that failed is no metric, not a 0 */
	head(&s, "backend");
	t = render_snap(&s, &len);
	cr_assert_eq(count(t, "lbd_backend_connections"), 0);
	free(t);
}

/* What the io process reads is checked whole before a field is used. */
static int decode_of(struct lbd_metrics_snap *s, void (*spoil)(char *buf))
{
	struct lbd_metrics_snap back;
	void *buf;
	size_t n;
	int r;

	cr_assert_eq(metrics_snap_encode(s, &buf, &n), 0);
	spoil(buf);
	r = metrics_snap_decode(buf, n, &back);
	if (!r)
		metrics_snap_free(&back);
	free(buf);
	return r;
}

static void intact(char *buf)
{
	(void)buf;
}

/* The wire's records of snap_lb: a reason, the service, its backend,
 * each a header and its type's struct. */
static void *payload_at(char *buf, size_t i)
{
	static const size_t sizes[] = { sizeof(struct lbd_met_reason),
					sizeof(struct lbd_met_service),
					sizeof(struct lbd_met_backend) };
	char *p = buf + sizeof(struct lbd_metrics_head);
	size_t k;

	for (k = 0; k < i; k++)
		p += sizeof(struct lbd_met_rec_hdr) + sizes[k];
	return p + sizeof(struct lbd_met_rec_hdr);
}

static struct lbd_met_rec_hdr *hdr_at(char *buf, size_t i)
{
	return (struct lbd_met_rec_hdr *)payload_at(buf, i) - 1;
}

static void unterminated_version(char *buf)
{
	memset(((struct lbd_metrics_head *)buf)->version, 'x',
	       sizeof(((struct lbd_metrics_head *)buf)->version));
}

static void unterminated_backend(char *buf)
{
	struct lbd_met_backend *b = payload_at(buf, 2);

	memset(b->backend, 'x', sizeof(b->backend));
}

static void unknown_type(char *buf)
{
	hdr_at(buf, 0)->type = 99;
}

static void more_backends_than_follow(char *buf)
{
	((struct lbd_met_service *)payload_at(buf, 1))->n_backends = 2;
}

static void fewer_backends_than_follow(char *buf)
{
	((struct lbd_met_service *)payload_at(buf, 1))->n_backends = 0;
}

static void more_records_than_sent(char *buf)
{
	((struct lbd_metrics_head *)buf)->n_recs = 4;
}

static void records_past_any_length(char *buf)
{
	((struct lbd_metrics_head *)buf)->n_recs = 0xffffffff;
}

/* a service record where a backend's struct is: the wire has a backend
 * header with a service's bytes missing */
static void a_backend_where_the_service_is(char *buf)
{
	hdr_at(buf, 1)->type = LBD_MET_BACKEND;
}

static void too_many_k8s_resources(char *buf)
{
	((struct lbd_metrics_head *)buf)->k8s_n_res = 3;
}

Test(metrics, a_snapshot_that_does_not_hold_together_is_refused)
{
	void (*spoils[])(char *) = { unterminated_version,
				     unterminated_backend,
				     unknown_type,
				     more_backends_than_follow,
				     fewer_backends_than_follow,
				     more_records_than_sent,
				     records_past_any_length,
				     a_backend_where_the_service_is,
				     too_many_k8s_resources };
	struct lbd_metrics_snap s;
	size_t i;

	snap_lb(&s);
	cr_assert_eq(decode_of(&s, intact), 0);
	{
		/* cut short by a byte, or a byte too long */
		struct lbd_metrics_snap back;
		void *buf;
		size_t n;

		cr_assert_eq(metrics_snap_encode(&s, &buf, &n), 0);
		cr_assert_eq(n, sizeof(struct lbd_metrics_head) + 3 * 8 + 64 +
					464 + 144);
		cr_assert_eq(metrics_snap_decode(buf, n - 1, &back), -EBADMSG);
		buf = realloc(buf, n + 1);
		cr_assert_not_null(buf);
		cr_assert_eq(metrics_snap_decode(buf, n + 1, &back), -EBADMSG);
		free(buf);
	}
	for (i = 0; i < sizeof(spoils) / sizeof(spoils[0]); i++)
		cr_assert_eq(decode_of(&s, spoils[i]), -EBADMSG, "spoil %zu",
			     i);
	metrics_snap_free(&s);
}

Test(metrics, a_metrics_message_renders_only_a_snapshot)
{
	struct metrics_io io = { 0 };
	const char json[] = "{\"snapshot\":\"00\"}";
	struct lbd_metrics_head h = { 0 };
	char *out = NULL;
	size_t len;

	/* the JSON reply that carried it before, a short head, a head
	 * that promises a record it lacks */
	cr_assert_eq(metrics_render(json, sizeof(json), &io, &out, &len),
		     -EBADMSG);
	cr_assert_eq(metrics_render(&h, sizeof(h) - 1, &io, &out, &len),
		     -EBADMSG);
	h.n_recs = 1;
	cr_assert_eq(metrics_render(&h, sizeof(h), &io, &out, &len), -EBADMSG);
	cr_assert_null(out);
}

Test(metrics, the_last_reload_says_when_and_whether)
{
	size_t len;
	char *t = render_lb(&len);

	has_line(t, "lbd_last_reload_timestamp_seconds 1700000100.5");
	has_line(t, "lbd_last_reload_success 1");
	free(t);
}

/* control.metrics_backends = false: the snapshot has no backend records
 * and no LBD_MET_F_BACKENDS; the services' series stay. */
Test(metrics, without_per_backend_series_no_backend_family_at_all)
{
	struct lbd_metrics_snap s;
	size_t len, i;
	char *t;

	snap_lb(&s);
	s.h.flags &= ~LBD_MET_F_BACKENDS;
	for (i = 0; i < s.h.n_recs; i++)
		if (s.rec[i].type == LBD_MET_SERVICE)
			s.rec[i].u.service.n_backends = 0;
	cr_assert_eq(s.rec[s.h.n_recs - 1].type, LBD_MET_BACKEND);
	s.h.n_recs--;
	t = render_snap(&s, &len);
	cr_assert_null(strstr(t, "lbd_backend_"), "%s", t);
	has_line(t,
		 "lbd_service_new_flows_total{service=\"we\\\"b\\\\1\\n\"} 3");
	has_line(t,
		 "lbd_service_usable_backends{service=\"we\\\"b\\\\1\\n\"} 1");
	free(t);
	/* and with them, they are there */
	t = render_lb(&len);
	cr_assert_eq(count(t, "# TYPE lbd_backend_"), 12, "%s", t);
	free(t);
}

static void add_proc(struct lbd_metrics_snap *s, const char *name,
		     unsigned int pid, int fds, double cpu, __u64 rss)
{
	struct lbd_metrics_rec *r = add(s, LBD_MET_PROC);

	METRICS_STR(r->u.proc.name, name);
	r->u.proc.pid = pid;
	r->u.proc.open_fds = fds;
	r->u.proc.cpu_seconds = cpu;
	r->u.proc.rss_bytes = rss;
}

/* lbd and its children, through the encoding; descriptors lbd could not
 * count are the io process's own count for itself, and left out for
 * another child (never a made-up 0). */
Test(metrics, processes_by_name_with_cpu_memory_and_descriptors)
{
	struct metrics_io io = { .self_pid = 42, .self_fds = 7 };
	struct lbd_metrics_snap s;
	char *out = NULL;
	void *buf;
	size_t n, len;

	head(&s, "lb");
	add_proc(&s, "lbd", 40, 12, 1.5, 8192);
	add_proc(&s, "lbd-io", 42, -1, 0.25, 4096);
	add_proc(&s, "lbd-prober", 43, -1, 2, 0);
	cr_assert_eq(metrics_snap_encode(&s, &buf, &n), 0);
	metrics_snap_free(&s);
	cr_assert_eq(metrics_render(buf, n, &io, &out, &len), 0);
	free(buf);
	has_line(out, "lbd_process_cpu_seconds_total{process=\"lbd\"} 1.5");
	has_line(out,
		 "lbd_process_cpu_seconds_total{process=\"lbd-prober\"} 2");
	has_line(out,
		 "lbd_process_resident_memory_bytes{process=\"lbd\"} 8192");
	has_line(out,
		 "lbd_process_resident_memory_bytes{process=\"lbd-io\"} 4096");
	has_line(out, "lbd_process_open_fds{process=\"lbd\"} 12");
	has_line(out, "lbd_process_open_fds{process=\"lbd-io\"} 7");
	cr_assert_null(
		strstr(out, "lbd_process_open_fds{process=\"lbd-prober\""));
	cr_assert_eq(count(out,
			   "# TYPE lbd_process_cpu_seconds_total counter\n"),
		     1);
	free(out);
}

/* The node role: its socket counters by reason and the counts of what
 * its maps hold; none of it in another role's snapshot. */
Test(metrics, the_node_role_gives_its_socket_counters_and_counts)
{
	struct lbd_metrics_snap s = { 0 };
	struct lbd_metrics_rec *r;
	size_t len;
	char *t;

	head(&s, "node");
	s.h.flags |= LBD_MET_F_NODE;
	s.h.node_services = 2;
	s.h.node_ports = 3;
	s.h.node_endpoints = 5;
	s.h.node_local_endpoints = 1;
	r = add(&s, LBD_MET_NODE_SOCKET);
	METRICS_STR(r->u.node_socket.reason, "connect_xlated");
	r->u.node_socket.total = 12345678901ull;
	r = add(&s, LBD_MET_NODE_SOCKET);
	METRICS_STR(r->u.node_socket.reason, "bind_refused");
	r->u.node_socket.total = 1;
	{
		/* through the encoding that carries it to the io process */
		struct lbd_metrics_snap d;
		void *buf;
		size_t n;

		cr_assert_eq(metrics_snap_encode(&s, &buf, &n), 0);
		metrics_snap_free(&s);
		cr_assert_eq(metrics_snap_decode(buf, n, &d), 0);
		free(buf);
		s = d;
	}
	t = render_snap(&s, &len);
	has_line(t, "lbd_node_socket_total{reason=\"connect_xlated\"} "
		    "12345678901");
	has_line(t, "lbd_node_socket_total{reason=\"bind_refused\"} 1");
	has_line(t, "lbd_node_services 2");
	has_line(t, "lbd_node_service_ports 3");
	has_line(t, "lbd_node_endpoints 5");
	has_line(t, "lbd_node_local_endpoints 1");
	free(t);
	t = render_lb(&len);
	cr_assert_null(strstr(t, "lbd_node_"), "no node series in role lb");
	free(t);
}
