// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* BIRD's control protocol and a client for it on sd-event (bird.h). */
#include "bird.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

/* While BIRD cannot be reached, lbd tries again this often. */
#define BIRD_RETRY_USEC (1000 * 1000)
/* Commands waiting for their reply, at most. */
#define BIRD_QUEUE_MAX 16

int bird_parse_line(const char *line, struct bird_line *out)
{
	int i, code = 0;

	memset(out, 0, sizeof(*out));
	if (line[0] == '+') {
		out->type = BIRD_LINE_ASYNC;
		out->text = line + 1;
		return 0;
	}
	if (line[0] == ' ') {
		out->type = BIRD_LINE_CONT;
		out->text = line + 1;
		return 0;
	}
	for (i = 0; i < 4; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		code = code * 10 + (line[i] - '0');
	}
	if (line[4] != ' ' && line[4] != '-')
		return -EINVAL;
	out->type = BIRD_LINE_REPLY;
	out->code = code;
	out->last = line[4] == ' ';
	out->text = line + 5;
	return 0;
}

int bird_reply_feed(struct bird_reply *r, const char *line)
{
	struct bird_line l;

	if (bird_parse_line(line, &l))
		return -EINVAL;
	if (l.type == BIRD_LINE_ASYNC)
		return 0;
	if (r->done)
		return -EINVAL;
	if (l.type == BIRD_LINE_CONT) {
		if (!r->started)
			return -EINVAL;
		return 0;
	}
	r->started = true;
	r->code = l.code;
	if (bird_code_is_error(l.code) && !r->error) {
		r->error = l.code;
		snprintf(r->text, sizeof(r->text), "%s", l.text);
	} else if (!r->error) {
		snprintf(r->text, sizeof(r->text), "%s", l.text);
	}
	if (l.last)
		r->done = true;
	return r->done ? 1 : 0;
}

/* -- the client ------------------------------------------------------------ */

struct bird_cmd {
	bird_reply_fn fn;
	void *arg;
};

struct bird_client {
	sd_event *ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bird_conn_fn conn_fn;
	void *conn_arg;
	int fd;
	sd_event_source *io;
	sd_event_source *retry;
	bool connected; /* greeted */
	bool warned; /* said once that BIRD cannot be reached */
	char in[BIRD_LINE_MAX];
	size_t in_len;
	char *out;
	size_t out_len;
	struct bird_reply reply; /* the one being read */
	struct bird_cmd queue[BIRD_QUEUE_MAX]; /* [0]: the one answered next */
	size_t queued;
};

static void client_connect(struct bird_client *c);

static int on_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	(void)s;
	(void)usec;
	client_connect(arg);
	return 0;
}

static void schedule_retry(struct bird_client *c)
{
	uint64_t now;

	sd_event_now(c->ev, CLOCK_MONOTONIC, &now);
	if (c->retry) {
		sd_event_source_set_time(c->retry, now + BIRD_RETRY_USEC);
		sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
		return;
	}
	sd_event_add_time(c->ev, &c->retry, CLOCK_MONOTONIC,
			  now + BIRD_RETRY_USEC, 0, on_retry, c);
}

/* The connection is gone: what waits for a reply will not get one. */
static void client_drop(struct bird_client *c, const char *why)
{
	bool was = c->connected;
	size_t i, n = c->queued;
	struct bird_cmd q[BIRD_QUEUE_MAX];

	c->io = sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->connected = false;
	c->in_len = 0;
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
	memset(&c->reply, 0, sizeof(c->reply));
	memcpy(q, c->queue, sizeof(q));
	c->queued = 0;
	if (was)
		log_warnx("BIRD at %s: %s; connecting again", c->path, why);
	for (i = 0; i < n; i++)
		if (q[i].fn)
			q[i].fn(q[i].arg, -ENOTCONN, NULL);
	if (was && c->conn_fn)
		c->conn_fn(c->conn_arg, false);
	schedule_retry(c);
}

static int client_flush(struct bird_client *c)
{
	while (c->out_len) {
		/* MSG_NOSIGNAL: BIRD gone is an error that reconnects, not
		 * a SIGPIPE that kills lbd */
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return sd_event_source_set_io_events(
		c->io, EPOLLIN | (c->out_len ? EPOLLOUT : 0));
}

/* A complete line from BIRD. */
static int client_line(struct bird_client *c, const char *line)
{
	int r = bird_reply_feed(&c->reply, line);
	struct bird_reply done;

	if (r < 0)
		return r;
	if (r == 0)
		return 0;
	done = c->reply;
	memset(&c->reply, 0, sizeof(c->reply));
	if (!c->connected) {
		/* the greeting: "0001 BIRD 2.0.12 ready." */
		if (done.code != 1)
			return -EPROTO;
		c->connected = true;
		c->warned = false;
		log_info("BIRD at %s: connected (%s)", c->path, done.text);
		if (c->conn_fn)
			c->conn_fn(c->conn_arg, true);
		return 0;
	}
	if (!c->queued)
		return -EPROTO; /* a reply nobody asked for */
	{
		struct bird_cmd cmd = c->queue[0];

		memmove(c->queue, c->queue + 1,
			(--c->queued) * sizeof(c->queue[0]));
		if (cmd.fn)
			cmd.fn(cmd.arg, 0, &done);
	}
	return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct bird_client *c = arg;
	char *nl;
	ssize_t n;
	int err;

	(void)s;
	if (revents & EPOLLOUT) {
		err = client_flush(c);
		if (err < 0) {
			client_drop(c, strerror(-err));
			return 0;
		}
	}
	if (!(revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		client_drop(c, n ? strerror(errno) : "connection closed");
		return 0;
	}
	c->in_len += (size_t)n;
	while ((nl = memchr(c->in, '\n', c->in_len))) {
		size_t len = (size_t)(nl - c->in);

		*nl = '\0';
		err = client_line(c, c->in);
		if (!c->io)
			return 0; /* a callback dropped the connection */
		memmove(c->in, nl + 1, c->in_len - len - 1);
		c->in_len -= len + 1;
		if (err < 0) {
			client_drop(c, "protocol error");
			return 0;
		}
	}
	if (c->in_len == sizeof(c->in))
		client_drop(c, "line too long");
	return 0;
}

static void client_connect(struct bird_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		schedule_retry(c);
		return;
	}
	memcpy(sa.sun_path, c->path, sizeof(c->path));
	/* a Unix socket connects at once, or not (no EINPROGRESS) */
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (!c->warned)
			log_warnx("BIRD at %s: %s; trying every second",
				  c->path, strerror(errno));
		c->warned = true;
		close(c->fd);
		c->fd = -1;
		schedule_retry(c);
		return;
	}
	if (sd_event_add_io(c->ev, &c->io, c->fd, EPOLLIN, on_io, c) < 0) {
		close(c->fd);
		c->fd = -1;
		schedule_retry(c);
	}
}

int bird_client_new(sd_event *ev, const char *path, bird_conn_fn fn, void *arg,
		    struct bird_client **out)
{
	struct bird_client *c;

	if (strlen(path) >= sizeof(c->path))
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ev = sd_event_ref(ev);
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->conn_fn = fn;
	c->conn_arg = arg;
	c->fd = -1;
	client_connect(c);
	*out = c;
	return 0;
}

void bird_client_free(struct bird_client *c)
{
	if (!c)
		return;
	c->io = sd_event_source_disable_unref(c->io);
	if (c->fd >= 0)
		close(c->fd);
	sd_event_source_disable_unref(c->retry);
	free(c->out);
	sd_event_unref(c->ev);
	free(c);
}

bool bird_client_connected(const struct bird_client *c)
{
	return c->connected;
}

int bird_client_cmd(struct bird_client *c, const char *cmd, bird_reply_fn fn,
		    void *arg)
{
	size_t len = strlen(cmd);
	char *p;
	int err;

	if (!c->connected)
		return -ENOTCONN;
	if (c->queued == BIRD_QUEUE_MAX)
		return -EBUSY;
	p = realloc(c->out, c->out_len + len + 1);
	if (!p)
		return -ENOMEM;
	c->out = p;
	memcpy(c->out + c->out_len, cmd, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	c->queue[c->queued].fn = fn;
	c->queue[c->queued].arg = arg;
	c->queued++;
	err = client_flush(c);
	if (err < 0) {
		/* not from within the caller: the drop calls back */
		c->queued--;
		client_drop(c, strerror(-err));
		return -ENOTCONN;
	}
	return 0;
}
