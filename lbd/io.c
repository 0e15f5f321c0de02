// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The io process: the unprivileged half of lbd (see io.h).
 *
 * Control socket clients send one request per line:
 *   {"v":1,"cmd":"status","args":{...}}
 * and get one answer per request:
 *   {"v":1,"ok":true,"data":...}  or  {"v":1,"ok":false,"error":"..."}
 * Requests go to the privileged process as {"id":N,"cmd":...,"args":...}
 * and its answers {"id":N,"ok":...} come back to the client that asked.
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#include "ipc.h"
#include "log.h"

/* Requests that change the datapath; only root clients may send them. */
static const char *const admin_cmds[] = { "drain", "undrain",
					  "conntrack_flush", "reload", NULL };

bool io_cmd_is_admin(const char *cmd)
{
	const char *const *a;

	for (a = admin_cmds; *a; a++)
		if (!strcmp(*a, cmd))
			return true;
	return false;
}

struct io_client;

struct io {
	sd_event *ev;
	struct ipc *parent;
	int ctl_fd;
	unsigned long next_id;
	struct io_client *clients;
};

struct io_client {
	struct io *io;
	struct ipc *c;
	uid_t uid;
	unsigned long pending; /* id of the request in flight, 0: none */
	struct io_client *next;
};

static void reply_error(struct ipc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reply_error(struct ipc *c, const char *fmt, ...)
{
	struct json_object *r = json_object_new_object();
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(r, "v", json_object_new_int(LBD_CONTROL_VERSION));
	json_object_object_add(r, "ok", json_object_new_boolean(0));
	json_object_object_add(r, "error", json_object_new_string(msg));
	ipc_send(c, r);
	json_object_put(r);
}

static void client_gone(struct ipc *c, void *arg)
{
	struct io_client *cl = arg, **pp;

	(void)c;
	for (pp = &cl->io->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	free(cl);
}

/* A request from a control socket client. */
static void client_msg(struct ipc *c, struct json_object *msg, void *arg)
{
	struct io_client *cl = arg;
	struct json_object *v, *cmd, *args, *req;
	const char *name;

	if (!json_object_object_get_ex(msg, "v", &v) ||
	    json_object_get_int(v) != LBD_CONTROL_VERSION) {
		reply_error(c, "unsupported protocol version (this lbd speaks "
			       "%d)",
			    LBD_CONTROL_VERSION);
		return;
	}
	if (!json_object_object_get_ex(msg, "cmd", &cmd) ||
	    !json_object_is_type(cmd, json_type_string)) {
		reply_error(c, "a request needs a \"cmd\" string");
		return;
	}
	name = json_object_get_string(cmd);
	if (cl->pending) {
		reply_error(c, "one request at a time");
		return;
	}
	if (io_cmd_is_admin(name) && cl->uid != 0) {
		reply_error(c, "%s: permission denied (root only)", name);
		return;
	}
	if (!json_object_object_get_ex(msg, "args", &args))
		args = NULL;
	else if (!json_object_is_type(args, json_type_object)) {
		reply_error(c, "\"args\" must be an object");
		return;
	}
	cl->pending = ++cl->io->next_id;
	req = json_object_new_object();
	json_object_object_add(req, "id", json_object_new_uint64(cl->pending));
	json_object_object_add(req, "cmd", json_object_new_string(name));
	json_object_object_add(req, "args",
			       args ? json_object_get(args)
				    : json_object_new_object());
	ipc_send(cl->io->parent, req);
	json_object_put(req);
}

/* An answer from the privileged process, for the client that asked. */
static void parent_msg(struct ipc *c, struct json_object *msg, void *arg)
{
	struct io *io = arg;
	struct json_object *id, *out, *x;
	struct io_client *cl;
	unsigned long want;

	(void)c;
	if (!json_object_object_get_ex(msg, "id", &id))
		return;
	want = (unsigned long)json_object_get_uint64(id);
	for (cl = io->clients; cl && cl->pending != want; cl = cl->next)
		;
	if (!cl)
		return; /* the client left meanwhile */
	cl->pending = 0;
	out = json_object_new_object();
	json_object_object_add(out, "v",
			       json_object_new_int(LBD_CONTROL_VERSION));
	json_object_object_foreach(msg, k, val)
	{
		if (strcmp(k, "id"))
			json_object_object_add(out, k, json_object_get(val));
	}
	if (!json_object_object_get_ex(out, "ok", &x))
		json_object_object_add(out, "ok", json_object_new_boolean(0));
	ipc_send(cl->c, out);
	json_object_put(out);
}

static void parent_gone(struct ipc *c, void *arg)
{
	struct io *io = arg;

	(void)c;
	io->parent = NULL;
	sd_event_exit(io->ev, 0);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct io *io = arg;
	struct io_client *cl;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int cfd;

	(void)s;
	(void)revents;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return 0;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(cfd);
		return 0;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(cfd);
		return 0;
	}
	cl->io = io;
	cl->uid = cred.uid;
	if (ipc_open(io->ev, cfd, client_msg, client_gone, cl, &cl->c) < 0) {
		close(cfd);
		free(cl);
		return 0;
	}
	cl->next = io->clients;
	io->clients = cl;
	return 0;
}

/* Closes every descriptor above stderr but the ones kept. */
static void close_other_fds(int keep1, int keep2)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int dfd;

	if (!d)
		return;
	dfd = dirfd(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != dfd && fd != keep1 && fd != keep2)
			close(fd);
	}
	closedir(d);
}

/* Becomes LBD_IO_USER with no capabilities; the process can then never
 * regain them (no_new_privs). */
static int drop_privileges(void)
{
	struct passwd *pw = getpwnam(LBD_IO_USER);

	if (!pw)
		return -ENOENT;
	if (setgroups(0, NULL) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* root must be gone for good */
	if (setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

static int ignore_signal(sd_event_source *s, const struct signalfd_siginfo *si,
			 void *arg)
{
	(void)s;
	(void)si;
	(void)arg;
	return 0;
}

static int io_main(int ipc_fd, int ctl_fd)
{
	struct io io = { .ctl_fd = ctl_fd };
	sigset_t mask;
	int err;

	log_init("lbd-io", log_verbosity());
	prctl(PR_SET_NAME, "lbd-io", 0, 0, 0);
	/* the privileged process gone, nothing here makes sense */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() == 1)
		return 1;
	err = drop_privileges();
	if (err) {
		log_warnx("dropping privileges to %s: %s", LBD_IO_USER,
			  strerror(-err));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (sd_event_new(&io.ev) < 0)
		return 1;
	sd_event_add_signal(io.ev, NULL, SIGTERM, NULL, NULL);
	sd_event_add_signal(io.ev, NULL, SIGINT, NULL, NULL);
	/* SIGHUP is the privileged process's (a reload): not for us */
	sd_event_add_signal(io.ev, NULL, SIGHUP, ignore_signal, NULL);
	if (ipc_open(io.ev, ipc_fd, parent_msg, parent_gone, &io,
		     &io.parent) < 0)
		return 1;
	if (sd_event_add_io(io.ev, NULL, ctl_fd, EPOLLIN, on_accept, &io) < 0)
		return 1;
	err = sd_event_loop(io.ev);
	return err < 0 ? 1 : 0;
}

static int control_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], *slash;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a socket file left by a killed lbd */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int io_spawn(const struct lbd_config *c, struct io_child *child)
{
	int sp[2], ctl, err;
	pid_t pid;

	ctl = control_socket(c->control.socket);
	if (ctl < 0) {
		log_warnx("control socket %s: %s", c->control.socket,
			  strerror(-ctl));
		return ctl;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		err = -errno;
		close(ctl);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(ctl);
		close(sp[0]);
		close(sp[1]);
		return err;
	}
	if (pid == 0) {
		close(sp[0]);
		close_other_fds(sp[1], ctl);
		_exit(io_main(sp[1], ctl));
	}
	close(sp[1]);
	close(ctl);
	child->pid = pid;
	child->ipc_fd = sp[0];
	return 0;
}
