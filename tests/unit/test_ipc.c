// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/ipc: JSON lines over a stream socket, as the control socket and the
 * two lbd processes speak them. One end is an ipc on an sd-event loop,
 * the other a plain socket the test writes and reads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc.h"

static sd_event *ev;
static struct ipc *c;
static int peer;
static struct json_object *got[8];
static int ngot;
static bool closed;

static void on_msg(struct ipc *i, struct json_object *msg, void *arg)
{
	(void)i;
	(void)arg;
	if (ngot < 8)
		got[ngot++] = json_object_get(msg);
}

static void on_close(struct ipc *i, void *arg)
{
	(void)i;
	(void)arg;
	closed = true;
	c = NULL; /* freed by ipc after this returns */
}

static void setup(void)
{
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(sd_event_new(&ev), 0);
	cr_assert_eq(ipc_open(ev, sp[0], on_msg, on_close, NULL, &c), 0);
	peer = sp[1];
	ngot = 0;
	closed = false;
}

static void teardown(void)
{
	int i;

	for (i = 0; i < ngot; i++)
		json_object_put(got[i]);
	ipc_free(c);
	close(peer);
	sd_event_unref(ev);
}

TestSuite(ipc, .init = setup, .fini = teardown);

/* Runs the loop until cond holds, a bounded number of iterations. */
#define RUN_UNTIL(cond)                                             \
	do {                                                        \
		int n_;                                             \
		for (n_ = 0; n_ < 1000 && !(cond); n_++)            \
			cr_assert_geq(sd_event_run(ev, 100000), 0); \
		cr_assert(cond, "not reached: " #cond);             \
	} while (0)

static void put(const char *s)
{
	cr_assert_eq(write(peer, s, strlen(s)), (ssize_t)strlen(s));
}

static int int_of(struct json_object *o, const char *k)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, k, &v), "no %s", k);
	return json_object_get_int(v);
}

Test(ipc, a_line_split_over_writes_arrives_whole_and_in_order)
{
	put("{\"a\":1}\n{\"b\"");
	RUN_UNTIL(ngot == 1);
	put(":2}\n\n{\"c\":3}\n");
	RUN_UNTIL(ngot == 3);
	cr_assert_eq(int_of(got[0], "a"), 1);
	cr_assert_eq(int_of(got[1], "b"), 2);
	cr_assert_eq(int_of(got[2], "c"), 3, "the empty line is skipped");
	cr_assert_not(closed);
}

Test(ipc, a_line_that_is_not_an_object_disconnects)
{
	put("{\"a\":1}\n[1,2]\n{\"b\":2}\n");
	RUN_UNTIL(closed);
	cr_assert_eq(ngot, 1, "what came before is delivered, nothing after");
}

Test(ipc, broken_json_disconnects)
{
	put("{\"a\":\n");
	RUN_UNTIL(closed);
	cr_assert_eq(ngot, 0);
}

Test(ipc, a_line_longer_than_the_limit_disconnects)
{
	static char chunk[65536];
	size_t sent = 0;

	memset(chunk, ' ', sizeof(chunk));
	fcntl(peer, F_SETFL, O_NONBLOCK);
	while (!closed && sent <= IPC_MAX_LINE + sizeof(chunk)) {
		ssize_t n = write(peer, chunk, sizeof(chunk));

		if (n > 0)
			sent += (size_t)n;
		cr_assert_geq(sd_event_run(ev, n > 0 ? 0 : 100000), 0);
	}
	RUN_UNTIL(closed);
	cr_assert_eq(ngot, 0);
}

Test(ipc, sent_messages_are_lines_a_reader_gets_one_by_one)
{
	struct json_object *a = json_object_new_object(), *b;
	struct ipc_reader *r = ipc_reader_new(peer);

	json_object_object_add(a, "n", json_object_new_int(1));
	cr_assert_eq(ipc_send(c, a), 0);
	json_object_object_add(a, "n", json_object_new_int(2));
	json_object_object_add(a, "text", json_object_new_string("x\ny"));
	cr_assert_eq(ipc_send(c, a), 0);
	json_object_put(a);
	cr_assert_eq(ipc_pending(c), 0, "a socket with room takes it all");
	cr_assert_eq(ipc_reader_next(r, &b), 0);
	cr_assert_eq(int_of(b, "n"), 1);
	json_object_put(b);
	cr_assert_eq(ipc_reader_next(r, &b), 0);
	cr_assert_eq(int_of(b, "n"), 2, "a newline in a string is escaped");
	json_object_put(b);
	ipc_reader_free(r);
}

Test(ipc, a_slow_reader_leaves_a_backlog_that_drains_later)
{
	struct json_object *m = json_object_new_object(), *b;
	struct ipc_reader *r = ipc_reader_new(peer);
	char big[4096];
	int i, n = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_object_object_add(m, "big", json_object_new_string(big));
	/* far more than a socket buffer holds: the rest waits in ipc */
	for (i = 0; i < 1000; i++)
		cr_assert_eq(ipc_send(c, m), 0);
	json_object_put(m);
	cr_assert_gt(ipc_pending(c), 0);
	fcntl(peer, F_SETFL, O_NONBLOCK);
	while (n < 1000) {
		int e = ipc_reader_next(r, &b);

		if (e == -EAGAIN) {
			cr_assert_geq(sd_event_run(ev, 100000), 0);
			continue;
		}
		cr_assert_eq(e, 0, "%s", strerror(-e));
		json_object_put(b);
		n++;
	}
	cr_assert_eq(ipc_pending(c), 0);
	ipc_reader_free(r);
}

Test(ipc, write_blocking_is_read_as_one_message)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "v", json_object_new_int(1));
	cr_assert_eq(ipc_write_blocking(peer, m), 0);
	json_object_put(m);
	RUN_UNTIL(ngot == 1);
	cr_assert_eq(int_of(got[0], "v"), 1);
}

Test(ipc, the_reader_reports_the_end_of_the_stream)
{
	struct ipc_reader *r = ipc_reader_new(peer);
	struct json_object *b;

	ipc_free(c);
	c = NULL;
	cr_assert_eq(ipc_reader_next(r, &b), -ECONNRESET);
	ipc_reader_free(r);
}

/* issue 14, item 9: a control client that pipelines requests and never
 * reads made the io process grow without bound. */
Test(ipc, a_peer_that_does_not_read_is_cut_off_past_the_output_bound)
{
	struct json_object *m = json_object_new_object();
	char big[1024];
	int i, sent = 0, err = 0;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_object_object_add(m, "big", json_object_new_string(big));
	ipc_set_limits(c, 4096, 64 * 1024);
	/* 64 MiB offered; the peer reads nothing */
	for (i = 0; i < 65536 && !err; i++) {
		err = ipc_send(c, m);
		if (!err)
			sent++;
	}
	json_object_put(m);
	cr_assert_eq(err, -ENOBUFS, "the bound is never reached");
	cr_assert_leq(ipc_pending(c), 0, "the backlog is let go at once");
	cr_assert_lt((size_t)sent * sizeof(big), 2u << 20,
		     "%d messages taken before the cut", sent);
	cr_assert_not(closed, "never closed from inside ipc_send");
	RUN_UNTIL(closed);
}

Test(ipc, one_long_answer_under_the_bound_is_taken_whole)
{
	struct json_object *m = json_object_new_object(), *b;
	struct ipc_reader *r = ipc_reader_new(peer);
	static char big[1 << 20];

	memset(big, 'x', sizeof(big) - 1);
	json_object_object_add(m, "big", json_object_new_string(big));
	ipc_set_limits(c, 4096, 64 * 1024);
	cr_assert_eq(ipc_send(c, m), 0, "the queue was empty");
	json_object_put(m);
	cr_assert_gt(ipc_pending(c), 64 * 1024);
	fcntl(peer, F_SETFL, O_NONBLOCK);
	for (;;) {
		int e = ipc_reader_next(r, &b);

		if (e == -EAGAIN) {
			cr_assert_geq(sd_event_run(ev, 100000), 0);
			continue;
		}
		cr_assert_eq(e, 0, "%s", strerror(-e));
		break;
	}
	cr_assert_eq(strlen(json_object_get_string(
			     json_object_object_get(b, "big"))),
		     sizeof(big) - 1);
	json_object_put(b);
	cr_assert_not(closed);
	ipc_reader_free(r);
}

/* Answers to a peer that pipelines: each request is answered from on_msg
 * while the peer reads nothing. */
static void on_msg_answer(struct ipc *i, struct json_object *msg, void *arg)
{
	(void)arg;
	ipc_send(i, msg);
}

Test(ipc, a_peer_pipelining_requests_without_reading_is_disconnected)
{
	static char chunk[65536];
	size_t sent = 0, k;
	int sp[2];

	/* a client whose every request is answered, as the io process
	 * answers "one request at a time" */
	ipc_free(c);
	close(peer);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(ipc_open(ev, sp[0], on_msg_answer, on_close, NULL, &c), 0);
	peer = sp[1];
	ipc_set_limits(c, 4096, 256 * 1024);
	for (k = 0; k + 12 <= sizeof(chunk); k += 12)
		memcpy(chunk + k, "{\"v\":12345}\n", 12);
	fcntl(peer, F_SETFL, O_NONBLOCK);
	while (!closed && sent < (64u << 20)) {
		ssize_t n = write(peer, chunk, k);

		if (n > 0)
			sent += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break;
		cr_assert_geq(sd_event_run(ev, n > 0 ? 0 : 100000), 0);
	}
	RUN_UNTIL(closed);
	cr_assert_lt(sent, 8u << 20, "cut off after %zu bytes of requests",
		     sent);
}

Test(ipc, a_line_longer_than_a_set_limit_disconnects)
{
	static char line[8192];

	ipc_set_limits(c, 4096, 0);
	memset(line, ' ', sizeof(line));
	line[0] = '{';
	line[sizeof(line) - 2] = '}';
	line[sizeof(line) - 1] = '\n';
	cr_assert_eq(write(peer, line, sizeof(line)), (ssize_t)sizeof(line));
	RUN_UNTIL(closed);
	cr_assert_eq(ngot, 0, "an 8 KiB object on one line, over 4 KiB");
}

/* issue 14, item 11: "1", "1abc", true and 1.9 were taken for version 1 */
Test(ipc, only_the_json_integer_is_the_integer)
{
	static const char *const no[] = {
		"{\"v\":\"1\"}", "{\"v\":\"1abc\"}",   "{\"v\":true}",
		"{\"v\":1.9}",	 "{\"v\":1.0}",	       "{\"v\":1e0}",
		"{\"v\":[1]}",	 "{\"v\":{}}",	       "{\"v\":null}",
		"{\"v\":2}",	 "{\"v\":4294967297}", "{}",
		"{\"w\":1}",
	};
	struct json_object *o;
	size_t i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		o = json_tokener_parse(no[i]);
		cr_assert(o, "%s", no[i]);
		cr_assert_not(ipc_member_is_int(o, "v", 1), "%s taken as 1",
			      no[i]);
		json_object_put(o);
	}
	o = json_tokener_parse("{\"v\":1}");
	cr_assert(ipc_member_is_int(o, "v", 1));
	json_object_put(o);
}
