// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iobuf.h"


struct ipc {
	int fd;
	sd_event_source *src;
	struct iobuf in, out;
	ipc_msg_fn on_msg;
	ipc_close_fn on_close;
	void *arg;
	struct json_tokener *tok;
	size_t max_line, max_out; /* ipc_set_limits */
	/* past the output bound: closed from the loop, in doom's callback */
	bool over;
	sd_event_source *doom;
};

static void ipc_close_now(struct ipc *c)
{
	ipc_close_fn fn = c->on_close;
	void *arg = c->arg;

	c->on_close = NULL;
	if (fn)
		fn(c, arg);
	ipc_free(c);
}

static int ipc_flush(struct ipc *c)
{
	int err = iobuf_send(&c->out, c->fd);

	if (err)
		return err;
	return sd_event_source_set_io_events(
		c->src, EPOLLIN | (iobuf_pending(&c->out) ? EPOLLOUT : 0));
}

/* Hands every complete line of the input buffer to on_msg. */
static int ipc_lines(struct ipc *c)
{
	char *start, *nl;

	while ((start = c->in.data + c->in.off),
	       (nl = memchr(start, '\n', c->in.len - c->in.off))) {
		struct json_object *msg;
		size_t len = (size_t)(nl - start);

		c->in.off += len + 1;
		if (len > c->max_line)
			return -EMSGSIZE;
		if (!len)
			continue;
		json_tokener_reset(c->tok);
		msg = json_tokener_parse_ex(c->tok, start, (int)len);
		if (!msg || !json_object_is_type(msg, json_type_object)) {
			json_object_put(msg);
			return -EBADMSG;
		}
		c->on_msg(c, msg, c->arg);
		json_object_put(msg);
		/* on_msg may have freed c through ipc_free: it must not; a
		 * handler that wants c gone returns and lets the peer go */
		if (c->over)
			return -ENOBUFS;
	}
	if (c->in.len - c->in.off > c->max_line)
		return -EMSGSIZE;
	return 0;
}

static int ipc_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct ipc *c = arg;
	char chunk[65536];
	int err = 0;

	(void)s;
	(void)fd;
	if (c->over)
		goto close;
	if (revents & EPOLLOUT) {
		err = ipc_flush(c);
		if (err)
			goto close;
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n = read(c->fd, chunk, sizeof(chunk));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			goto close;
		if (n > 0) {
			err = iobuf_append(&c->in, chunk, (size_t)n);
			if (!err)
				err = ipc_lines(c);
			if (err)
				goto close;
		}
	}
	return 0;
close:
	ipc_close_now(c);
	return 0;
}

int ipc_open(sd_event *ev, int fd, ipc_msg_fn on_msg, ipc_close_fn on_close,
	     void *arg, struct ipc **out)
{
	struct ipc *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	c->max_line = IPC_MAX_LINE;
	c->tok = json_tokener_new();
	if (!c->tok) {
		free(c);
		return -ENOMEM;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	err = sd_event_add_io(ev, &c->src, fd, EPOLLIN, ipc_io, c);
	if (err < 0) {
		json_tokener_free(c->tok);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void ipc_set_limits(struct ipc *c, size_t max_line, size_t max_out)
{
	c->max_line = max_line ? max_line : IPC_MAX_LINE;
	c->max_out = max_out;
}

static int ipc_doom_fire(sd_event_source *s, void *arg)
{
	(void)s;
	ipc_close_now(arg);
	return 0;
}

/*
 * The peer let too much pile up: nothing more is queued or read, and the
 * connection is closed from the loop, not here (the caller may be inside
 * on_msg, or walking a list that holds c).
 */
static int ipc_overflow(struct ipc *c)
{
	c->over = true;
	iobuf_free(&c->out);
	if (!c->doom && sd_event_add_defer(sd_event_source_get_event(c->src),
					   &c->doom, ipc_doom_fire, c) < 0)
		/* no defer source: the next event of the fd closes it */
		sd_event_source_set_io_events(c->src, EPOLLIN | EPOLLOUT);
	return -ENOBUFS;
}

int ipc_send(struct ipc *c, struct json_object *msg)
{
	size_t len;
	const char *s;
	int err;

	if (c->over)
		return -ENOBUFS;
	if (c->max_out && ipc_pending(c) > c->max_out)
		return ipc_overflow(c);
	s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN,
					      &len);
	err = iobuf_append(&c->out, s, len);
	if (!err)
		err = iobuf_append(&c->out, "\n", 1);
	if (!err)
		err = ipc_flush(c);
	return err;
}

void ipc_free(struct ipc *c)
{
	if (!c)
		return;
	sd_event_source_disable_unref(c->src);
	sd_event_source_disable_unref(c->doom);
	close(c->fd);
	json_tokener_free(c->tok);
	iobuf_free(&c->in);
	iobuf_free(&c->out);
	free(c);
}

int ipc_fd(const struct ipc *c)
{
	return c->fd;
}

size_t ipc_pending(const struct ipc *c)
{
	return iobuf_pending(&c->out);
}

bool ipc_member_is_int(struct json_object *o, const char *key, int64_t want)
{
	struct json_object *v;

	/* json-c's getters convert ("1abc" and 1.9 read as 1, true as 1):
	 * the type is checked first */
	return json_object_object_get_ex(o, key, &v) &&
	       json_object_is_type(v, json_type_int) &&
	       json_object_get_int64(v) == want;
}

int ipc_write_blocking(int fd, struct json_object *msg)
{
	size_t len, off = 0;
	const char *s = json_object_to_json_string_length(
		msg, JSON_C_TO_STRING_PLAIN, &len);

	while (off <= len) {
		ssize_t n = off < len ?
				    send(fd, s + off, len - off, MSG_NOSIGNAL) :
				    send(fd, "\n", 1, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += off < len ? (size_t)n : 1;
	}
	return 0;
}

struct ipc_reader {
	int fd;
	struct iobuf b;
};

struct ipc_reader *ipc_reader_new(int fd)
{
	struct ipc_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->fd = fd;
	return r;
}

void ipc_reader_free(struct ipc_reader *r)
{
	if (r)
		iobuf_free(&r->b);
	free(r);
}

int ipc_reader_next(struct ipc_reader *r, struct json_object **out)
{
	char chunk[65536];

	for (;;) {
		/* nothing read yet: no buffer, and no arithmetic on NULL */
		char *start = r->b.data ? r->b.data + r->b.off : NULL;
		char *nl = start ? memchr(start, '\n', r->b.len - r->b.off) :
				   NULL;
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - start);
			struct json_tokener *tok = json_tokener_new();

			if (!tok)
				return -ENOMEM;
			*out = json_tokener_parse_ex(tok, start, (int)len);
			json_tokener_free(tok);
			r->b.off += len + 1;
			return *out ? 0 : -EBADMSG;
		}
		if (r->b.len - r->b.off > IPC_MAX_LINE)
			return -EMSGSIZE;
		n = read(r->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		if (iobuf_append(&r->b, chunk, (size_t)n))
			return -ENOMEM;
	}
}
