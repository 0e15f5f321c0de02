// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/proc/msgch: lbd messages over a stream socket, checked on receipt
 * (msg_check). One end is a msgch on an sd-event loop, the other a plain
 * socket the test writes and reads byte for byte. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "msgch.h"

#define MAXGOT 8

static sd_event *ev;
static struct msgch *c;
static int peer;
static struct lbd_msg_hdr got_h[MAXGOT];
static char *got_p[MAXGOT];
static int ngot;
static bool closed;
static int close_err;

static void on_msg(struct msgch *ch, const struct lbd_msg_hdr *h,
		   const void *payload, void *arg)
{
	(void)ch;
	(void)arg;
	if (ngot >= MAXGOT)
		return;
	got_h[ngot] = *h;
	got_p[ngot] = malloc(h->len ? h->len : 1);
	memcpy(got_p[ngot], payload, h->len);
	ngot++;
}

static void on_close(struct msgch *ch, int err, void *arg)
{
	(void)ch;
	(void)arg;
	closed = true;
	close_err = err;
	c = NULL; /* freed by msgch after this returns */
}

static void setup(void)
{
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(sd_event_new(&ev), 0);
	cr_assert_eq(msgch_open(ev, sp[0], on_msg, on_close, NULL, &c), 0);
	peer = sp[1];
	ngot = 0;
	closed = false;
	close_err = 0;
}

static void teardown(void)
{
	int i;

	for (i = 0; i < ngot; i++)
		free(got_p[i]);
	msgch_free(c);
	close(peer);
	sd_event_unref(ev);
}

TestSuite(msgch, .init = setup, .fini = teardown);

/* Runs the loop until cond holds, a bounded number of iterations. */
#define RUN_UNTIL(cond)                                             \
	do {                                                        \
		int n_;                                             \
		for (n_ = 0; n_ < 1000 && !(cond); n_++)            \
			cr_assert_geq(sd_event_run(ev, 100000), 0); \
		cr_assert(cond, "not reached: " #cond);             \
	} while (0)

static void put(const void *p, size_t n)
{
	cr_assert_eq(write(peer, p, n), (ssize_t)n);
}

static void put_hdr(__u16 type, __u32 len)
{
	struct lbd_msg_hdr h = { .type = type, .len = len };

	put(&h, sizeof(h));
}

/* Reads exactly n bytes from the peer's end, with a bound. */
static void get(void *p, size_t n)
{
	size_t off = 0;
	int i;

	for (i = 0; i < 1000 && off < n; i++) {
		ssize_t r = recv(peer, (char *)p + off, n - off, MSG_DONTWAIT);

		if (r > 0) {
			off += (size_t)r;
			continue;
		}
		cr_assert(r < 0 && errno == EAGAIN, "peer read: %zd", r);
		cr_assert_geq(sd_event_run(ev, 10000), 0);
	}
	cr_assert_eq(off, n);
}

Test(msgch, round_trip_both_ways)
{
	struct lbd_ctl_req req = { .id = 7, .cmd = LBD_CTL_DRAIN };
	struct lbd_probe_stats st = { .runs = 3, .max_lag_us = 12 };
	struct lbd_probe_time t[2] = { { .key = 1, .latency_us = 100, .ok = 1 },
				       { .key = 2, .latency_us = 200 } };
	struct lbd_msg_hdr h;
	char buf[sizeof(st) + sizeof(t)];

	strcpy(req.service, "web");
	/* from the peer: a header, then its payload in two writes */
	put_hdr(LBD_MSG_CTL_REQ, sizeof(req));
	put(&req, 10);
	/* half a payload is not a message yet */
	cr_assert_geq(sd_event_run(ev, 10000), 0);
	cr_assert_eq(ngot, 0);
	put((char *)&req + 10, sizeof(req) - 10);
	RUN_UNTIL(ngot == 1);
	cr_assert_eq(got_h[0].type, LBD_MSG_CTL_REQ);
	cr_assert_eq(got_h[0].len, sizeof(req));
	cr_assert_eq(memcmp(got_p[0], &req, sizeof(req)), 0);

	/* towards the peer: head and records, framed as one message */
	cr_assert_eq(msgch_send2(c, LBD_MSG_PROBE_TIMES, 0, &st, sizeof(st), t,
				 sizeof(t)),
		     0);
	get(&h, sizeof(h));
	cr_assert_eq(h.type, LBD_MSG_PROBE_TIMES);
	cr_assert_eq(h.flags, 0);
	cr_assert_eq(h.len, sizeof(st) + sizeof(t));
	get(buf, sizeof(buf));
	cr_assert_eq(memcmp(buf, &st, sizeof(st)), 0);
	cr_assert_eq(memcmp(buf + sizeof(st), t, sizeof(t)), 0);
	cr_assert(!closed);
}

Test(msgch, text_reply_of_any_length_within_bounds)
{
	static const char text[] = "{\"id\":1,\"ok\":true}";

	put_hdr(LBD_MSG_CTL_REPLY, sizeof(text) - 1);
	put(text, sizeof(text) - 1);
	put_hdr(LBD_MSG_CTL_REPLY, 0);
	RUN_UNTIL(ngot == 2);
	cr_assert_eq(got_h[0].len, sizeof(text) - 1);
	cr_assert_eq(memcmp(got_p[0], text, sizeof(text) - 1), 0);
	cr_assert_eq(got_h[1].len, 0);
	cr_assert(!closed);
}

Test(msgch, truncated_header_then_eof_is_reset)
{
	struct lbd_msg_hdr h = { .type = LBD_MSG_CTL_REQ,
				 .len = sizeof(struct lbd_ctl_req) };

	put(&h, 5);
	shutdown(peer, SHUT_WR);
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -ECONNRESET);
	cr_assert_eq(ngot, 0);
}

Test(msgch, length_past_max_closes_before_the_payload)
{
	put_hdr(LBD_MSG_CTL_REPLY, LBD_MSG_MAX + 1);
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -EBADMSG);
	cr_assert_eq(ngot, 0);
}

Test(msgch, fixed_size_type_of_another_length_closes)
{
	char req[sizeof(struct lbd_ctl_req) + 1] = { 0 };

	put_hdr(LBD_MSG_CTL_REQ, sizeof(req));
	put(req, sizeof(req));
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -EBADMSG);
	cr_assert_eq(ngot, 0);
}

Test(msgch, unknown_type_closes)
{
	put_hdr(LBD_MSG_TYPE_MAX, 0);
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -EBADMSG);
	cr_assert_eq(ngot, 0);
}

Test(msgch, record_count_over_the_bound_closes)
{
	/* a monitor event is text of at most LBD_MSG_MON_EVENT_MAX bytes */
	put_hdr(LBD_MSG_MON_EVENT, LBD_MSG_MON_EVENT_MAX + 1);
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -EBADMSG);
	cr_assert_eq(ngot, 0);
}

Test(msgch, records_not_whole_close)
{
	char v[sizeof(struct lbd_probe_verdict) + 3] = { 0 };

	put_hdr(LBD_MSG_PROBE_VERDICT, sizeof(v));
	put(v, sizeof(v));
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -EBADMSG);
	cr_assert_eq(ngot, 0);
}

Test(msg, check_bounds_of_each_kind)
{
	struct lbd_msg_hdr h = { .type = LBD_MSG_PROBE_TIMES };

	/* head only, head and records; less than the head is not */
	h.len = sizeof(struct lbd_probe_stats);
	cr_assert_eq(msg_check(&h), 0);
	h.len += 3 * sizeof(struct lbd_probe_time);
	cr_assert_eq(msg_check(&h), 0);
	h.len = sizeof(struct lbd_probe_stats) - 1;
	cr_assert_eq(msg_check(&h), -EBADMSG);
	h.type = LBD_MSG_PROBE_CHECKS;
	h.len = 0;
	cr_assert_eq(msg_check(&h), 0);
	h.len = 4 * sizeof(struct lbd_probe_check);
	cr_assert_eq(msg_check(&h), 0);
	h.type = LBD_MSG_CTL_REPLY;
	h.len = LBD_MSG_MAX;
	cr_assert_eq(msg_check(&h), 0);
	h.len = UINT32_MAX;
	cr_assert_eq(msg_check(&h), -EBADMSG);
}

Test(msgch, sending_what_does_not_check_fails_here)
{
	char req[sizeof(struct lbd_ctl_req) - 1] = { 0 };

	cr_assert_eq(msgch_send(c, LBD_MSG_CTL_REQ, 0, req, sizeof(req)),
		     -EINVAL);
	cr_assert_eq(msgch_send(c, 999, 0, NULL, 0), -EINVAL);
	cr_assert_eq(msgch_pending(c), 0);
	cr_assert(!closed);
}

Test(msgch, peer_that_does_not_read_is_cut_off)
{
	static char text[64 << 10];
	int i, r = 0;

	memset(text, 'x', sizeof(text));
	msgch_set_limit(c, 1u << 20);
	/* the peer never reads: the socket fills, then the queue grows */
	for (i = 0; i < 1000 && r == 0; i++)
		r = msgch_send(c, LBD_MSG_CTL_REPLY, 0, text, sizeof(text));
	cr_assert_eq(r, -ENOBUFS);
	/* not closed from inside msgch_send: from the loop */
	cr_assert(!closed);
	cr_assert_eq(msgch_send(c, LBD_MSG_CTL_REPLY, 0, "x", 1), -ENOBUFS);
	RUN_UNTIL(closed);
	cr_assert_eq(close_err, -ENOBUFS);
}

static struct msgch *freed_in_cb;

static void on_msg_free(struct msgch *ch, const struct lbd_msg_hdr *h,
			const void *payload, void *arg)
{
	on_msg(ch, h, payload, arg);
	msgch_free(ch);
	freed_in_cb = ch;
}

Test(msgch, owner_may_free_it_from_on_msg)
{
	int sp[2];
	struct msgch *x;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	cr_assert_eq(msgch_open(ev, sp[0], on_msg_free, on_close, NULL, &x), 0);
	{
		struct lbd_msg_hdr h[2] = { { .type = LBD_MSG_CTL_REPLY },
					    { .type = LBD_MSG_CTL_REPLY } };

		cr_assert_eq(write(sp[1], h, sizeof(h)), (ssize_t)sizeof(h));
	}
	RUN_UNTIL(freed_in_cb == x);
	/* the second message is not handed to a freed channel's owner,
	 * and on_close is not called for a channel its owner freed */
	cr_assert_eq(ngot, 1);
	cr_assert(!closed);
	close(sp[1]);
}
