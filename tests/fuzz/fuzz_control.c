// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fuzz target: the control protocol as the io process speaks it to a
 * control socket client (lbd/ctl/io.c over lbd/proc/ipc.c).
 *
 * io.c keeps its request handling static (it is the io process's alone),
 * so this file includes it whole and drives it as the io process's event
 * loop does: the client's bytes arrive on a socket (ipc.c splits lines
 * and parses JSON, io.c checks and normalises requests), requests for
 * the privileged process arrive on another socket, where a stand-in
 * answers each with {"id":N,"ok":true,"data":{}}. The input's first byte
 * chooses the client (bit 0: root, else an unprivileged member of the
 * control group); the rest is written one line at a time, with the loop
 * run dry between lines.
 *
 * Beyond the sanitizers it checks what both peers rely on: every answer
 * to the client is one JSON object {"v":1,"ok":bool,...} with an "error"
 * string when not ok; every request to the privileged process names a
 * known command (an admin one only for root) with arguments in normal
 * form (canonical addresses, ports in range, families 4 or 6).
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

static void fz_check_norm(struct json_object *o, const char *key)
{
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v) fz_check_norm(v, k);
		return;
	}
	if (json_object_is_type(o, json_type_array)) {
		size_t i;

		for (i = 0; i < json_object_array_length(o); i++)
			fz_check_norm(json_object_array_get_idx(o, i), key);
		return;
	}
	if (!strcmp(key, "address")) {
		const char *s = json_object_get_string(o);
		char canon[INET6_ADDRSTRLEN];
		unsigned char a[16];
		int fam = strchr(s, ':') ? AF_INET6 : AF_INET;

		if (!json_object_is_type(o, json_type_string) ||
		    inet_pton(fam, s, a) != 1 ||
		    !inet_ntop(fam, a, canon, sizeof(canon)) ||
		    strcmp(canon, s))
			abort();
	} else if (!strcmp(key, "port")) {
		int64_t p = json_object_get_int64(o);

		if (!json_object_is_type(o, json_type_int) || p < 0 ||
		    p > 65535)
			abort();
	} else if (!strcmp(key, "family")) {
		int64_t f = json_object_get_int64(o);

		if (!json_object_is_type(o, json_type_int) ||
		    (f != 4 && f != 6))
			abort();
	}
}

/* A request to the privileged process: checked, and answered. */
static void fz_parent_line(struct fz_peer *p, struct json_object *m, bool root)
{
	struct json_object *id, *cmd, *args, *r;
	const struct io_cmd *ic;
	const char *name, *s;
	size_t len;

	if (!json_object_object_get_ex(m, "id", &id) ||
	    !json_object_object_get_ex(m, "cmd", &cmd) ||
	    !json_object_object_get_ex(m, "args", &args) ||
	    !json_object_is_type(args, json_type_object))
		abort();
	name = json_object_get_string(cmd);
	ic = io_cmd_find(name);
	if (!ic && strcmp(name, "monitor_set") && strcmp(name, "metrics"))
		abort();
	if (ic && (ic->admin && !root))
		abort();
	fz_check_norm(args, "");
	r = json_object_new_object();
	json_object_object_add(r, "id", json_object_get(id));
	json_object_object_add(r, "ok", json_object_new_boolean(1));
	json_object_object_add(r, "data", json_object_new_object());
	s = json_object_to_json_string_length(r, JSON_C_TO_STRING_PLAIN, &len);
	if (write(p->fd, s, len) != (ssize_t)len || write(p->fd, "\n", 1) != 1)
		abort();
	json_object_put(r);
}

/* An answer to the client. */
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
static int fz_drain(struct fz_peer *p, bool parent, bool root)
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
			if (parent)
				fz_parent_line(p, m, root);
			else
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
		busy |= fz_drain(parent, true, root) > 0;
		busy |= fz_drain(client, false, root) > 0;
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
	if (ipc_open(io.ev, pfd[0], parent_msg, parent_gone, &io, &io.parent))
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
	ipc_free(io.parent);
	close(pfd[1]);
	close(cfd[1]);
	sd_event_unref(io.ev);
	return 0;
}
