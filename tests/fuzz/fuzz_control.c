// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fuzz target: the control protocol as the io process speaks it to a
 * control socket client (lbd/ctl/io.c over lbd/proc/ipc.c).
 *
 * io.c keeps its request handling static (it is the io process's alone),
 * so this file includes it whole and drives it as the io process's event
 * loop does: the client's bytes arrive on a socket (ipc.c splits lines
 * and parses JSON, io.c checks and normalises requests), requests for
 * the privileged process arrive on another socket as lbd messages
 * (struct lbd_ctl_req, msg.h), where a stand-in answers each with
 * {"id":N,"ok":true,"data":{}}. The input's first byte
 * chooses the client (bit 0: root, else an unprivileged member of the
 * control group); the rest is written one line at a time, with the loop
 * run dry between lines.
 *
 * Beyond the sanitizers it checks what both peers rely on: every answer
 * to the client is one JSON object {"v":1,"ok":bool,...} with an "error"
 * string when not ok; every request to the privileged process names a
 * known command (an admin one only for root) in a struct that lbd's own
 * check (ctl_req_check) takes.
 */
#include "../../lbd/ctl/io.c"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* One side of a socket pair, read a line at a time. */
struct fz_peer {
	int fd;
	char buf[1 << 16];
	size_t len;
};

/* What the io process sent the privileged process: a request it had the
 * right to make, that lbd's own check takes; answered as lbd would. */
static void fz_parent_msg(struct fz_peer *p, const struct lbd_msg_hdr *h,
			  const void *payload, bool root)
{
	struct lbd_msg_hdr rh = { .type = LBD_MSG_CTL_REPLY };
	const struct io_cmd *ic;
	struct lbd_ctl_req req;
	const char *name;
	char text[64];
	int n;

	if (h->type != LBD_MSG_CTL_REQ || h->len != sizeof(req))
		abort();
	memcpy(&req, payload, sizeof(req));
	if (ctl_req_check(&req))
		abort();
	name = ctl_cmd_name(req.cmd);
	ic = name ? io_cmd_find(name) : NULL;
	if (ic && ic->admin && !root)
		abort();
	n = snprintf(text, sizeof(text), "{\"id\":%u,\"ok\":true,\"data\":{}}",
		     req.id);
	rh.len = (__u32)n;
	if (write(p->fd, &rh, sizeof(rh)) != (ssize_t)sizeof(rh) ||
	    write(p->fd, text, (size_t)n) != n)
		abort();
}

static int fz_drain_parent(struct fz_peer *p, bool root)
{
	struct lbd_msg_hdr h;
	int msgs = 0;
	ssize_t n;

	while ((n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len,
			 MSG_DONTWAIT)) > 0) {
		p->len += (size_t)n;
		while (p->len >= sizeof(h)) {
			memcpy(&h, p->buf, sizeof(h));
			/* io's messages to lbd are requests: small */
			if (h.len > sizeof(p->buf) - sizeof(h))
				abort();
			if (p->len < sizeof(h) + h.len)
				break;
			fz_parent_msg(p, &h, p->buf + sizeof(h), root);
			p->len -= sizeof(h) + h.len;
			memmove(p->buf, p->buf + sizeof(h) + h.len, p->len);
			msgs++;
		}
	}
	return msgs;
}

static void fz_client_line(struct json_object *m)
{
	struct json_object *v, *ok, *e;

	if (!json_object_object_get_ex(m, "v", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int(v) != LBD_CONTROL_VERSION)
		abort();
	if (!json_object_object_get_ex(m, "ok", &ok))
		return; /* a monitor stream's "event" or "lost" */
	if (!json_object_is_type(ok, json_type_boolean))
		abort();
	if (!json_object_get_boolean(ok) &&
	    (!json_object_object_get_ex(m, "error", &e) ||
	     !json_object_is_type(e, json_type_string)))
		abort();
}

/* Reads what is there; returns how many lines it handled. */
static int fz_drain(struct fz_peer *p)
{
	int lines = 0;
	ssize_t n;
	char *nl;

	while ((n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len,
			 MSG_DONTWAIT)) > 0) {
		p->len += (size_t)n;
		while ((nl = memchr(p->buf, '\n', p->len))) {
			struct json_object *m;

			*nl = '\0';
			m = json_tokener_parse(p->buf);
			if (!m || !json_object_is_type(m, json_type_object))
				abort();
			fz_client_line(m);
			json_object_put(m);
			p->len -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->len);
			lines++;
		}
		/* lbd's lines to its peers are short */
		if (p->len == sizeof(p->buf))
			abort();
	}
	return lines;
}

static void fz_pump(struct io *io, struct fz_peer *parent,
		    struct fz_peer *client, bool root)
{
	int i, busy = 1;

	for (i = 0; busy && i < 64; i++) {
		busy = 0;
		while (sd_event_run(io->ev, 0) > 0)
			busy = 1;
		busy |= fz_drain_parent(parent, root) > 0;
		busy |= fz_drain(client) > 0;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz", -1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_peer parent, client;
	struct io io = { 0 };
	struct io_client *cl;
	int pfd[2], cfd[2];
	bool root;
	size_t off;

	if (size < 1 || size > (1 << 16))
		return 0;
	root = data[0] & 1;
	if (sd_event_new(&io.ev) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pfd) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cfd))
		abort();
	if (msgch_open(io.ev, pfd[0], parent_msg, parent_gone, &io, &io.parent))
		abort();
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		abort();
	cl->io = &io;
	cl->uid = root ? 0 : 65534;
	if (ipc_open(io.ev, cfd[0], client_msg, client_gone, cl, &cl->c))
		abort();
	io.clients = cl;
	io.n_clients = 1;
	memset(&parent, 0, sizeof(parent));
	memset(&client, 0, sizeof(client));
	parent.fd = pfd[1];
	client.fd = cfd[1];

	for (off = 1; off < size;) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (data + off)) + 1 : size - off;

		if (send(cfd[1], data + off, n, MSG_NOSIGNAL) != (ssize_t)n)
			break; /* the io process hung up on the client */
		off += n;
		fz_pump(&io, &parent, &client, root);
	}
	shutdown(cfd[1], SHUT_WR);
	fz_pump(&io, &parent, &client, root);

	/* the client hung up: io.c freed it; else take it down here */
	while (io.clients) {
		cl = io.clients;
		io.clients = cl->next;
		ipc_free(cl->c);
		free(cl);
	}
	msgch_free(io.parent);
	close(pfd[1]);
	close(cfd[1]);
	sd_event_unref(io.ev);
	return 0;
}
