// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd/hc: the health check engine against real servers on loopback (TCP
 * listeners, an HTTP server from libmicrohttpd, a DNS responder): the
 * verdicts, their reasons and the hysteresis. The loop runs until a
 * condition holds, with a deadline.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hc.h"

#define MAX_VERDICTS 1024

struct verdict {
	__u64 key;
	enum hc_state state;
	char reason[96];
	unsigned int count;
};

static sd_event *ev;
static struct hc_engine *eng;
static struct verdict verdicts[MAX_VERDICTS];
static size_t n_verdicts;

static void on_verdict(void *arg, __u64 key, enum hc_state state,
		       const char *reason, unsigned int count)
{
	struct verdict *v;

	(void)arg;
	cr_assert_lt(n_verdicts, MAX_VERDICTS);
	v = &verdicts[n_verdicts++];
	v->key = key;
	v->state = state;
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	v->count = count;
}

static void setup(void)
{
	cr_assert_eq(hc_global_init(), 0);
	cr_assert_geq(sd_event_new(&ev), 0);
	cr_assert_eq(hc_engine_new(ev, on_verdict, NULL, &eng), 0);
	n_verdicts = 0;
}

static void teardown(void)
{
	hc_engine_free(eng);
	sd_event_unref(ev);
}

TestSuite(hc, .init = setup, .fini = teardown);

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs the loop until n verdicts arrived, at most timeout seconds. */
static void run_until_verdicts(size_t n, double timeout)
{
	double end = now_s() + timeout;

	while (n_verdicts < n && now_s() < end)
		sd_event_run(ev, 20 * 1000);
	cr_assert_geq(n_verdicts, n, "%zu verdicts after %.1f s, want %zu",
		      n_verdicts, timeout, n);
}

/* Runs the loop for a while (to show that nothing happens). */
static void run_for(double s)
{
	double end = now_s() + s;

	while (now_s() < end)
		sd_event_run(ev, 20 * 1000);
}

/* A socket bound to 127.0.0.1 on a port the kernel picks. */
static int bound(int type, __u16 *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0), one = 1;

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct hc_spec spec(__u64 key, __u8 type, __u16 port)
{
	struct hc_spec s = {
		.key = key,
		.type = type,
		.family = LBD_AF_INET,
		.rise = 2,
		.fall = 2,
		.port = port,
		.expect_status = 200,
		.interval_ms = 100,
		.timeout_ms = 80,
		.path = "/",
		.query = "example.",
	};

	s.addr.v4 = htonl(INADDR_LOOPBACK);
	return s;
}

Test(hc, tcp_up_then_refused_after_fall_failures)
{
	struct hc_spec s;
	__u16 port;
	int fd = bound(SOCK_STREAM, &port);

	cr_assert_eq(listen(fd, 128), 0);
	s = spec(7, LBD_HC_TCP, port);
	cr_assert_eq(hc_engine_set(eng, &s, 1), 0);
	/* the first result decides at once */
	run_until_verdicts(1, 2);
	cr_assert_eq(verdicts[0].key, 7);
	cr_assert_eq(verdicts[0].state, HC_UP);
	cr_assert_str_eq(verdicts[0].reason, "ok");
	cr_assert_eq(verdicts[0].count, 1);

	close(fd);
	run_until_verdicts(2, 2);
	cr_assert_eq(verdicts[1].state, HC_DOWN);
	cr_assert_str_eq(verdicts[1].reason, "refused");
	cr_assert_eq(verdicts[1].count, 2, "down after fall = 2 failures");
}

Test(hc, rise_successes_bring_a_down_check_up)
{
	struct hc_spec s;
	__u16 port;
	int fd = bound(SOCK_STREAM, &port);

	cr_assert_eq(listen(fd, 128), 0);
	s = spec(1, LBD_HC_TCP, port);
	s.state = HC_DOWN;
	s.rise = 3;
	cr_assert_eq(hc_engine_set(eng, &s, 1), 0);
	run_until_verdicts(1, 2);
	cr_assert_eq(verdicts[0].state, HC_UP);
	cr_assert_eq(verdicts[0].count, 3, "up after rise = 3 successes");
	close(fd);
}

static enum MHD_Result http_answer(void *cls, struct MHD_Connection *conn,
				   const char *url, const char *method,
				   const char *version, const char *data,
				   size_t *size, void **state)
{
	unsigned int *status = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)method;
	(void)version;
	(void)data;
	(void)size;
	(void)state;
	r = MHD_create_response_from_buffer(2, (void *)"ok",
					    MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, strcmp(url, "/healthz") ? 404 : *status,
				 r);
	MHD_destroy_response(r);
	return ret;
}

Test(hc, http_status_decides)
{
	unsigned int status = 200;
	struct MHD_Daemon *d;
	struct hc_spec s;
	__u16 port;
	int fd = bound(SOCK_STREAM, &port);

	cr_assert_eq(listen(fd, 128), 0);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
			     http_answer, &status, MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_END);
	cr_assert_not_null(d);
	s = spec(3, LBD_HC_HTTP, port);
	snprintf(s.path, sizeof(s.path), "/healthz");
	s.timeout_ms = 90;
	cr_assert_eq(hc_engine_set(eng, &s, 1), 0);
	run_until_verdicts(1, 3);
	cr_assert_eq(verdicts[0].state, HC_UP, "%s", verdicts[0].reason);

	status = 503;
	run_until_verdicts(2, 3);
	cr_assert_eq(verdicts[1].state, HC_DOWN);
	cr_assert_str_eq(verdicts[1].reason, "status 503");
	MHD_stop_daemon(d);
}

Test(hc, http_to_a_closed_port_is_refused)
{
	struct hc_spec s;
	__u16 port;
	int fd = bound(SOCK_STREAM, &port);

	close(fd); /* nothing listens there now */
	s = spec(4, LBD_HC_HTTP, port);
	cr_assert_eq(hc_engine_set(eng, &s, 1), 0);
	run_until_verdicts(1, 3);
	cr_assert_eq(verdicts[0].state, HC_DOWN);
	cr_assert_str_eq(verdicts[0].reason, "refused");
}

/* Answers DNS queries: the query back with QR set and rcode, once the
 * loop gets to it. */
static int dns_answer(sd_event_source *src, int fd, uint32_t revents, void *arg)
{
	unsigned char buf[512];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	int *rcode = arg;
	ssize_t n;

	(void)src;
	(void)revents;
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
	if (n < 12 || *rcode < 0)
		return 0;
	buf[2] |= 0x80;
	buf[3] = (unsigned char)((buf[3] & 0xf0) | *rcode);
	sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
	return 0;
}

Test(hc, dns_rcode_decides_and_silence_times_out)
{
	int rcode = 0;
	struct hc_spec s;
	__u16 port;
	int fd = bound(SOCK_DGRAM, &port);

	cr_assert_geq(
		sd_event_add_io(ev, NULL, fd, EPOLLIN, dns_answer, &rcode), 0);
	s = spec(5, LBD_HC_UDP_DNS, port);
	cr_assert_eq(hc_engine_set(eng, &s, 1), 0);
	run_until_verdicts(1, 2);
	cr_assert_eq(verdicts[0].state, HC_UP, "%s", verdicts[0].reason);

	rcode = 2; /* SERVFAIL */
	run_until_verdicts(2, 2);
	cr_assert_eq(verdicts[1].state, HC_DOWN);
	cr_assert_str_eq(verdicts[1].reason, "dns SERVFAIL");

	rcode = 0;
	run_until_verdicts(3, 2);
	cr_assert_eq(verdicts[2].state, HC_UP);
	rcode = -1; /* no answer at all */
	run_until_verdicts(4, 2);
	cr_assert_eq(verdicts[3].state, HC_DOWN);
	cr_assert_str_eq(verdicts[3].reason, "timeout");
	close(fd);
}

Test(hc, dns_to_a_closed_port_is_refused)
{
	struct hc_spec s;
	__u16 port;
	int fd = bound(SOCK_DGRAM, &port);

	close(fd);
	s = spec(6, LBD_HC_UDP_DNS, port);
	cr_assert_eq(hc_engine_set(eng, &s, 1), 0);
	run_until_verdicts(1, 2);
	cr_assert_eq(verdicts[0].state, HC_DOWN);
	cr_assert_str_eq(verdicts[0].reason, "refused");
}

Test(hc, a_check_that_stays_keeps_its_state_over_a_new_set)
{
	struct hc_spec s[2];
	struct hc_result r[2];
	__u16 port;
	int fd = bound(SOCK_STREAM, &port);

	cr_assert_eq(listen(fd, 128), 0);
	s[0] = spec(10, LBD_HC_TCP, port);
	cr_assert_eq(hc_engine_set(eng, s, 1), 0);
	run_until_verdicts(1, 2);
	cr_assert_eq(verdicts[0].state, HC_UP);

	/* the same check and a new one: no new verdict for the first, even
	 * with other settings (it stays up) */
	s[0].interval_ms = 150;
	s[1] = spec(11, LBD_HC_TCP, port);
	cr_assert_eq(hc_engine_set(eng, s, 2), 0);
	run_until_verdicts(2, 2);
	cr_assert_eq(verdicts[1].key, 11);
	run_for(0.5);
	cr_assert_eq(n_verdicts, 2, "no verdict beyond the new check's");
	cr_assert_eq(hc_engine_results(eng, r, 2), 2);
	cr_assert(r[0].valid && r[0].ok);
	cr_assert_eq(r[0].key, 10);

	/* gone from the set: no more verdicts about it */
	cr_assert_eq(hc_engine_set(eng, &s[1], 1), 0);
	close(fd);
	run_until_verdicts(3, 2);
	cr_assert_eq(verdicts[2].key, 11);
	run_for(0.4);
	cr_assert_eq(n_verdicts, 3);
}

/* Hundreds of checks whose sockets are ready at once are served in one
 * go: every one reports (the engine's own epoll set and heap). */
Test(hc, many_checks_at_once)
{
	static struct hc_spec s[500];
	struct hc_stats st;
	__u16 port;
	int fd = bound(SOCK_STREAM, &port);
	size_t i;

	cr_assert_eq(listen(fd, 4096), 0);
	for (i = 0; i < 500; i++)
		s[i] = spec(1000 + i, LBD_HC_TCP, port);
	cr_assert_eq(hc_engine_set(eng, s, 500), 0);
	/* the listener does not accept: the kernel completes handshakes
	 * into its backlog, which is what a TCP check asks */
	run_until_verdicts(500, 5);
	for (i = 0; i < 500; i++)
		cr_assert_eq(verdicts[i].state, HC_UP, "%llu: %s",
			     (unsigned long long)verdicts[i].key,
			     verdicts[i].reason);
	hc_engine_stats(eng, &st, false);
	cr_assert_eq(st.checks, 500);
	cr_assert_geq(st.ok, 500);
	close(fd);
}
