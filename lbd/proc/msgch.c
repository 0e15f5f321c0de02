// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A channel of lbd messages (msgch.h). */
#include "msgch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iobuf.h"

/* Read per event: a peer that keeps the socket full cannot starve the
 * rest of the loop. */
#define MSGCH_READ_CHUNK (256u << 10)


struct msgch {
	int fd;
	sd_event_source *src;
	struct iobuf in, out;
	msgch_msg_fn on_msg;
	msgch_close_fn on_close;
	void *arg;
	size_t max_out;
	/* set when the channel is to close from the loop (doom's
	 * callback), with why */
	int doomed;
	sd_event_source *doom;
	/* inside on_msg: msgch_free only marks it dead, and the dispatch
	 * frees it when the callback returns */
	bool dispatching, dead;
};

static void msgch_destroy(struct msgch *c)
{
	sd_event_source_disable_unref(c->src);
	sd_event_source_disable_unref(c->doom);
	close(c->fd);
	iobuf_free(&c->in);
	iobuf_free(&c->out);
	free(c);
}

static void msgch_close_now(struct msgch *c, int err)
{
	msgch_close_fn fn = c->on_close;

	c->on_close = NULL;
	if (fn)
		fn(c, err, c->arg);
	msgch_destroy(c);
}

static int msgch_doom_fire(sd_event_source *s, void *arg)
{
	struct msgch *c = arg;

	(void)s;
	msgch_close_now(c, c->doomed);
	return 0;
}

/* Closes c from the loop, not here: the caller may be inside on_msg, or
 * walking a list that holds c. Nothing more is queued or read. */
static int msgch_doom(struct msgch *c, int err)
{
	if (c->doomed)
		return c->doomed;
	c->doomed = err;
	iobuf_free(&c->out);
	if (sd_event_add_defer(sd_event_source_get_event(c->src), &c->doom,
			       msgch_doom_fire, c) < 0)
		/* no defer source: the next event of the fd closes it */
		sd_event_source_set_io_events(c->src, EPOLLIN | EPOLLOUT);
	return err;
}

static int msgch_flush(struct msgch *c)
{
	int err = iobuf_send(&c->out, c->fd);

	if (err)
		return err;
	return sd_event_source_set_io_events(
		c->src, EPOLLIN | (iobuf_pending(&c->out) ? EPOLLOUT : 0));
}

/*
 * Hands every complete message of the input to on_msg. A header is
 * checked as soon as it is in, before its payload is waited for: a peer
 * cannot make this end buffer more than the type allows.
 */
static int msgch_dispatch(struct msgch *c)
{
	struct lbd_msg_hdr h;
	size_t avail;
	int err;

	while (!c->doomed) {
		avail = c->in.len - c->in.off;
		if (avail < sizeof(h))
			return 0;
		memcpy(&h, c->in.data + c->in.off, sizeof(h));
		err = msg_check(&h);
		if (err)
			return err;
		if (avail < sizeof(h) + h.len)
			return 0;
		c->in.off += sizeof(h) + h.len;
		c->dispatching = true;
		c->on_msg(c, &h, c->in.data + c->in.off - h.len, c->arg);
		c->dispatching = false;
		if (c->dead) {
			msgch_destroy(c);
			return -ECANCELED;
		}
	}
	return 0;
}

static int msgch_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct msgch *c = arg;
	ssize_t n;
	int err;

	(void)s;
	(void)fd;
	if (c->doomed) {
		msgch_close_now(c, c->doomed);
		return 0;
	}
	if (revents & EPOLLOUT) {
		err = msgch_flush(c);
		if (err)
			goto close;
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	err = iobuf_reserve(&c->in, MSGCH_READ_CHUNK);
	if (err)
		goto close;
	n = read(c->fd, c->in.data + c->in.len, MSGCH_READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		err = n < 0 ? -errno : -ECONNRESET;
		goto close;
	}
	c->in.len += (size_t)n;
	err = msgch_dispatch(c);
	if (err == -ECANCELED)
		return 0; /* freed by its owner from on_msg */
	if (err)
		goto close;
	return 0;
close:
	msgch_close_now(c, err);
	return 0;
}

int msgch_open(sd_event *ev, int fd, msgch_msg_fn on_msg,
	       msgch_close_fn on_close, void *arg, struct msgch **out)
{
	struct msgch *c = calloc(1, sizeof(*c));
	int err, fl;

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		err = -errno;
		goto out;
	}
	err = sd_event_add_io(ev, &c->src, fd, EPOLLIN, msgch_io, c);
	if (err < 0)
		goto out;
	*out = c;
	return 0;
out:
	free(c);
	return err;
}

void msgch_set_limit(struct msgch *c, size_t max_out)
{
	c->max_out = max_out;
}

int msgch_send2(struct msgch *c, __u16 type, __u16 flags, const void *head,
		size_t hlen, const void *recs, size_t rlen)
{
	struct lbd_msg_hdr h = { .type = type, .flags = flags };
	int err;

	if (c->doomed)
		return -ENOBUFS;
	if (hlen > LBD_MSG_MAX || rlen > LBD_MSG_MAX - hlen)
		return -EMSGSIZE;
	h.len = (__u32)(hlen + rlen);
	/* what we send must pass the peer's check: a mistake here is ours,
	 * and said here rather than by the peer cutting us off */
	if (msg_check(&h))
		return -EINVAL;
	if (c->max_out && msgch_pending(c) > c->max_out)
		return msgch_doom(c, -ENOBUFS);
	err = iobuf_reserve(&c->out, sizeof(h) + hlen + rlen);
	if (err)
		return err;
	memcpy(c->out.data + c->out.len, &h, sizeof(h));
	if (hlen)
		memcpy(c->out.data + c->out.len + sizeof(h), head, hlen);
	if (rlen)
		memcpy(c->out.data + c->out.len + sizeof(h) + hlen, recs, rlen);
	c->out.len += sizeof(h) + hlen + rlen;
	err = msgch_flush(c);
	/* a peer gone is seen by the loop (EPOLLHUP), as on_close */
	return err == -EPIPE || err == -ECONNRESET ? 0 : err;
}

int msgch_send(struct msgch *c, __u16 type, __u16 flags, const void *payload,
	       size_t len)
{
	return msgch_send2(c, type, flags, payload, len, NULL, 0);
}

size_t msgch_pending(const struct msgch *c)
{
	return iobuf_pending(&c->out);
}

void msgch_free(struct msgch *c)
{
	if (!c)
		return;
	if (c->dispatching) {
		c->dead = true;
		c->on_close = NULL;
		return;
	}
	msgch_destroy(c);
}
