// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Announcing VIPs through BIRD: the include file and "configure". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bird.h"
#include "log.h"

struct text {
	char *s;
	size_t len, cap;
	int err;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		/* the first call has no buffer: no arithmetic on NULL */
		n = vsnprintf(t->s ? t->s + t->len : NULL, t->cap - t->len, fmt,
			      ap);
		va_end(ap);
		if (n < 0) {
			t->err = -EINVAL;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap ? t->cap * 2 : 4096;
			char *p;

			while (cap - t->len <= (size_t)n)
				cap *= 2;
			p = realloc(t->s, cap);
			if (!p) {
				t->err = -ENOMEM;
				return;
			}
			t->s = p;
			t->cap = cap;
		}
	}
}

static void render_route(struct text *t, const struct bird_route *r, __u32 asn,
			 bool gshut)
{
	const struct lbd_conf_bgp_attrs *a = &r->attrs;
	char ip[INET6_ADDRSTRLEN];
	int i;

	inet_ntop(r->family == LBD_AF_INET ? AF_INET : AF_INET6, &r->addr, ip,
		  sizeof(ip));
	put(t, "\troute %s/%d blackhole {\n", ip,
	    r->family == LBD_AF_INET ? 32 : 128);
	for (i = 0; i < a->n_communities; i++)
		put(t, "\t\tbgp_community.add((%u, %u));\n",
		    a->communities[i][0], a->communities[i][1]);
	if (gshut)
		put(t, "\t\tbgp_community.add((%u, %u));\n", BIRD_GSHUT_ASN,
		    BIRD_GSHUT_VALUE);
	for (i = 0; i < a->n_large; i++)
		put(t, "\t\tbgp_large_community.add((%u, %u, %u));\n",
		    a->large[i][0], a->large[i][1], a->large[i][2]);
	/* BIRD zeroes a route's MED on export to an external peer unless
	 * the export filter sets it: the template's does, from this */
	if (a->has_med)
		put(t, "\t\tlbd_med = %u;\n", a->med);
	if (a->has_local_pref)
		put(t, "\t\tbgp_local_pref = %u;\n", a->local_pref);
	for (i = 0; i < a->prepend; i++)
		put(t, "\t\tbgp_path.prepend(%u);\n", asn);
	put(t, "\t};\n");
}

int bird_render(const struct bird_route *r, size_t n, __u32 asn, bool gshut,
		char **out)
{
	static const struct {
		const char *name, *channel;
		__u8 family;
	} protos[] = {
		{ "lbd4", "ipv4", LBD_AF_INET },
		{ "lbd6", "ipv6", LBD_AF_INET6 },
	};
	struct text t = { 0 };
	size_t i, p;

	put(&t, "# The VIPs this LB host announces, written by lbd (see "
		"lbd.conf(5), bgp).\n"
		"# Do not edit: lbd replaces this file whenever they "
		"change.\n");
	if (gshut)
		put(&t, "# lbd is stopping: graceful shutdown (RFC 8326) "
			"before the withdraw.\n");
	for (p = 0; p < 2; p++) {
		put(&t, "protocol static %s {\n\t%s;\n", protos[p].name,
		    protos[p].channel);
		for (i = 0; i < n; i++)
			if (r[i].family == protos[p].family)
				render_route(&t, &r[i], asn, gshut);
		put(&t, "}\n");
	}
	if (t.err) {
		free(t.s);
		return t.err;
	}
	*out = t.s;
	return 0;
}

/* A directory BIRD (another user) can look into, whatever the umask. */
static int make_dir(const char *dir)
{
	if (mkdir(dir, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	return chmod(dir, 0755) < 0 ? -errno : 0;
}

/* mkdir -p of the directory of path. */
static int make_dir_of(const char *path)
{
	char dir[PATH_MAX], *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		int err;

		if (*p != '/')
			continue;
		*p = '\0';
		err = make_dir(dir);
		if (err)
			return err;
		*p = '/';
	}
	return make_dir(dir);
}

int bird_write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text), off = 0;
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	err = make_dir_of(path);
	if (err)
		return err;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* BIRD runs as a user of its own: readable, whatever the umask */
	if (fchmod(fd, 0644) < 0)
		err = -errno;
	while (!err && off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0) {
			err = -errno;
			break;
		}
		off += (size_t)n;
	}
	/* what BIRD reads after a crash is either file, whole */
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* -- the announcer ------------------------------------------------------- */

struct bird_announcer {
	struct bird_client *client;
	char file[PATH_MAX];
	char *text; /* as last written; NULL: nothing written yet */
	unsigned long written; /* generation of the file */
	unsigned long taken; /* the generation BIRD last took */
	unsigned long sent; /* the generation of the configure in flight */
	bool in_flight;
	size_t routes;
	bool gshut;
	bird_done_fn done;
	void *done_arg;
	unsigned long done_gen; /* done once taken reaches it */
	unsigned long configures, errors;
	char last_error[sizeof(((struct bird_reply *)0)->text) + 16];
};

static void configure_now(struct bird_announcer *a);

static void announced(struct bird_announcer *a)
{
	bird_done_fn fn = a->done;

	if (!fn || a->taken < a->done_gen)
		return;
	a->done = NULL;
	fn(a->done_arg);
}

static void on_configured(void *arg, int err, const struct bird_reply *r)
{
	struct bird_announcer *a = arg;

	a->in_flight = false;
	if (err) /* the connection went; configured again on the next */
		return;
	if (r->error) {
		a->errors++;
		snprintf(a->last_error, sizeof(a->last_error), "%d %s",
			 r->error, r->text);
		log_warnx("BIRD refused its configuration: %d %s (announcing "
			  "what it had before)",
			  r->error, r->text);
	} else {
		a->configures++;
		a->taken = a->sent;
		a->last_error[0] = '\0';
		log_debug("BIRD reconfigured: %d %s", r->code, r->text);
	}
	if (a->taken < a->written && !r->error)
		configure_now(a);
	announced(a);
}

static void configure_now(struct bird_announcer *a)
{
	if (a->in_flight || !a->written || !bird_client_connected(a->client))
		return;
	a->sent = a->written;
	if (bird_client_cmd(a->client, "configure", on_configured, a) == 0)
		a->in_flight = true;
}

static void on_conn(void *arg, bool up)
{
	struct bird_announcer *a = arg;

	/* a BIRD that (re)started read the file as it was then; configure
	 * again all the same: lbd may have written since */
	a->taken = 0;
	if (up)
		configure_now(a);
}

int bird_announcer_new(sd_event *ev, const char *socket, const char *file,
		       struct bird_announcer **out)
{
	struct bird_announcer *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	snprintf(a->file, sizeof(a->file), "%s", file);
	err = bird_client_new(ev, socket, on_conn, a, &a->client);
	if (err) {
		free(a);
		return err;
	}
	*out = a;
	return 0;
}

void bird_announcer_free(struct bird_announcer *a)
{
	if (!a)
		return;
	bird_client_free(a->client);
	free(a->text);
	free(a);
}

int bird_announce(struct bird_announcer *a, const struct bird_route *r,
		  size_t n, __u32 asn, bool gshut, bird_done_fn done, void *arg)
{
	char *text;
	int err = bird_render(r, n, asn, gshut, &text);

	if (err)
		return err;
	if (a->text && !strcmp(a->text, text)) {
		free(text);
	} else {
		err = bird_write_file(a->file, text);
		if (err) {
			free(text);
			return err;
		}
		free(a->text);
		a->text = text;
		a->written++;
		a->routes = n;
		a->gshut = gshut;
	}
	a->done = done;
	a->done_arg = arg;
	a->done_gen = a->written;
	if (a->taken < a->written)
		configure_now(a);
	else
		announced(a);
	return 0;
}

void bird_announcer_status(const struct bird_announcer *a,
			   struct bird_status *out)
{
	memset(out, 0, sizeof(*out));
	out->connected = bird_client_connected(a->client);
	out->current = a->written && a->taken == a->written;
	out->routes = a->routes;
	out->gshut = a->gshut;
	out->configures = a->configures;
	out->errors = a->errors;
	snprintf(out->last_error, sizeof(out->last_error), "%s", a->last_error);
}
