// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/metrics: the Prometheus text rendering of a metrics snapshot. The
 * integration test parses a live scrape with Prometheus' own parser;
 * these pin down the format's corners. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static const char SNAP[] =
	"{\"version\":\"0.1.0\",\"role\":\"lb\",\"start_time_s\":1700000000,"
	"\"config\":{\"generation\":3,\"reloads\":2,\"reload_failures\":1,"
	"\"last_reload_ok\":1,\"last_reload_s\":0.25},"
	"\"datapath\":{\"interface\":\"eth0\",\"mode\":\"native\","
	"\"attached\":1},"
	"\"drains\":1,\"monitor\":{\"lost\":4},"
	"\"apply\":{\"ok\":0,\"serving\":\"previous\","
	"\"error\":\"Cannot allocate memory\",\"failures\":2,"
	"\"rollback_failures\":1},"
	"\"reasons\":[{\"reason\":\"no_service\",\"kind\":\"drop\","
	"\"packets\":7,\"bytes\":700}],"
	"\"conntrack\":[{\"family\":\"ipv4\",\"entries\":10,\"live\":8,"
	"\"capacity\":65536}],"
	"\"services\":[{\"name\":\"we\\\"b\\\\1\\n\",\"vip\":\"192.0.2.1\","
	"\"port\":80,\"protocol\":\"tcp\",\"forwarding\":\"ipip\","
	"\"active_backends\":1,\"packets\":12345678901,\"bytes\":2,"
	"\"new_flows\":3,\"backends\":[{\"backend\":\"198.18.1.11:80\","
	"\"packets\":5,\"bytes\":6,\"new_flows\":3,\"active_flows\":2,"
	"\"weight\":1,\"share\":0.5,\"healthy\":true,\"drained\":true,"
	"\"state\":\"draining\"}]}]}";

static char *render(const char *json, size_t *len)
{
	struct metrics_io io = { .control_clients = 2,
				 .monitor_clients = 1,
				 .monitor_lost = 1 };
	struct json_object *s = json_tokener_parse(json);
	char *out = NULL;

	cr_assert_not_null(s);
	cr_assert_eq(metrics_render(s, &io, &out, len), 0);
	json_object_put(s);
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
	char *t = render(SNAP, &len);

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
	char *t = render(SNAP, &len);

	/* quote, backslash and newline in a service name */
	has_line(t,
		 "lbd_service_new_flows_total{service=\"we\\\"b\\\\1\\n\"} 3");
	free(t);
}

Test(metrics, counters_print_as_exact_integers)
{
	size_t len;
	char *t = render(SNAP, &len);

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
	char *t = render(SNAP, &len);
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
	char *t = render(SNAP, &len);

	has_line(t, "lbd_control_clients 2");
	/* lost in the privileged process (4) and in the io process (1) */
	has_line(t, "lbd_monitor_events_lost_total 5");
	free(t);
}

Test(metrics, what_the_snapshot_lacks_is_not_made_up)
{
	size_t len;
	char *t = render("{\"version\":\"0.1.0\",\"role\":\"backend\"}", &len);

	cr_assert_null(strstr(t, "lbd_service_"));
	cr_assert_null(strstr(t, "lbd_conntrack_"));
	cr_assert_null(strstr(t, "lbd_reloads_total"));
	has_line(t, "lbd_build_info{version=\"0.1.0\",role=\"backend\"} 1");
	free(t);
}

/* Health checks and announcements, when the snapshot has them */
static const char SNAP_HEALTH[] =
	"{\"version\":\"0.1.0\",\"role\":\"lb\",\"start_time_s\":1,"
	"\"health\":{\"checks\":2,\"up\":1,\"down\":1,\"unknown\":0,"
	"\"runs\":40,\"failed\":3,\"late\":0,\"prober_restarts\":0,"
	"\"running\":1,\"max_lag_ms\":125},"
	"\"bird\":{\"connected\":true,\"configures\":4,\"errors\":0,"
	"\"vips\":[{\"vip\":\"203.0.113.10\",\"announced\":true,"
	"\"backends_up\":1},{\"vip\":\"203.0.113.11\",\"announced\":false,"
	"\"backends_up\":0}]},"
	"\"services\":[{\"name\":\"web\",\"vip\":\"203.0.113.10\","
	"\"port\":80,\"protocol\":\"tcp\",\"forwarding\":\"ipip\","
	"\"backends\":[{\"backend\":\"198.18.1.11:80\",\"healthy\":true,"
	"\"check_seconds\":0.5,\"check_ok\":1,\"health_changes\":1,"
	"\"state\":\"active\"},{\"backend\":\"198.18.1.12:80\","
	"\"healthy\":false,\"check_seconds\":0.25,\"check_ok\":0,"
	"\"health_changes\":2,\"state\":\"down\"},"
	"{\"backend\":\"198.18.1.13:80\",\"healthy\":true,"
	"\"state\":\"active\"}]}]}";

Test(metrics, health_checks_and_announcements)
{
	size_t len;
	char *t = render(SNAP_HEALTH, &len);

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
	char *t = render(SNAP, &len);

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
	static const char snap[] =
		"{\"version\":\"0.1.0\",\"role\":\"backend\","
		"\"backend_connections\":[{\"address\":\"203.0.113.10\","
		"\"port\":80,\"connections\":3},{\"address\":"
		"\"2001:db8:1::11\",\"port\":8080,\"connections\":1}]}";
	size_t len;
	char *t = render(snap, &len);

	cr_assert_eq(count(t, "# TYPE lbd_backend_connections gauge\n"), 1);
	has_line(t, "lbd_backend_connections{vip=\"203.0.113.10\",port=\"80\"} "
		    "3");
	has_line(t, "lbd_backend_connections{vip=\"2001:db8:1::11\","
		    "port=\"8080\"} 1");
	free(t);
	/* a count that failed is no metric, not a 0 */
	t = render("{\"version\":\"0.1.0\",\"role\":\"backend\"}", &len);
	cr_assert_eq(count(t, "lbd_backend_connections"), 0);
	free(t);
}
