// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runtime drains that outlive reloads and restarts (see drains.h). */
#include "drains.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void drains_path(const char *sock, char *buf, size_t len)
{
	snprintf(buf, len, "%s.drains", sock);
}

static int parse_ip(const char *s, __u8 *family, union lbd_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->v4) == 1) {
		*family = LBD_AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->v6) == 1) {
		*family = LBD_AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int parse_port(const char *s, bool zero_ok, __u16 *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < (zero_ok ? 0 : 1) || v > 65535)
		return -EINVAL;
	*out = (__u16)v;
	return 0;
}

int drain_parse(const char *line, struct drain *d)
{
	char a[64], p[8], v[64], vp[8], pr[8], extra[2];
	int n = sscanf(line, "%63s %7s %63s %7s %7s %1s", a, p, v, vp, pr,
		       extra);
	__u16 port;

	memset(d, 0, sizeof(*d));
	if (n != 2 && n != 5)
		return -EINVAL;
	if (parse_ip(a, &d->addr.family, &d->addr.addr) ||
	    parse_port(p, true, &d->port))
		return -EINVAL;
	d->addr.prefixlen = d->addr.family == LBD_AF_INET ? 32 : 128;
	if (n == 2)
		return 0;
	d->has_svc = true;
	if (parse_ip(v, &d->svc.family, &d->svc.vip) ||
	    parse_port(vp, false, &port))
		return -EINVAL;
	d->svc.port = htons(port);
	if (!strcmp(pr, "tcp"))
		d->svc.proto = IPPROTO_TCP;
	else if (!strcmp(pr, "udp"))
		d->svc.proto = IPPROTO_UDP;
	else
		return -EINVAL;
	return 0;
}

void drain_format(const struct drain *d, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], v[INET6_ADDRSTRLEN];

	inet_ntop(d->addr.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &d->addr.addr, a, sizeof(a));
	if (!d->has_svc) {
		snprintf(buf, len, "%s %u", a, d->port);
		return;
	}
	inet_ntop(d->svc.family == LBD_AF_INET ? AF_INET : AF_INET6,
		  &d->svc.vip, v, sizeof(v));
	snprintf(buf, len, "%s %u %s %u %s", a, d->port, v, ntohs(d->svc.port),
		 config_proto_str(d->svc.proto));
}

void drains_free(struct drain_set *s)
{
	free(s->d);
	s->d = NULL;
	s->n = 0;
}

int drains_add(struct drain_set *s, const struct drain *d)
{
	struct drain *n;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (drain_covers(&s->d[i], d) && drain_covers(d, &s->d[i]))
			return 0; /* already there */
	n = realloc(s->d, (s->n + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->d = n;
	s->d[s->n++] = *d;
	return 0;
}

int drains_load(const char *path, struct drain_set *s)
{
	char line[256];
	struct drain d;
	int err = 0;
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (!err && fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		err = drain_parse(line, &d);
		if (!err)
			err = drains_add(s, &d);
	}
	fclose(f);
	if (err)
		drains_free(s);
	return err;
}

int drains_save(const char *path, const struct drain_set *s)
{
	char tmp[PATH_MAX], line[256];
	size_t i;
	FILE *f;
	int err = 0;

	if (!s->n) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "# lbd's runtime drains (lbctl drain); lbctl undrain "
		   "removes them\n");
	for (i = 0; i < s->n; i++) {
		drain_format(&s->d[i], line, sizeof(line));
		fprintf(f, "%s\n", line);
	}
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static bool same_svc(const struct lbd_svc_addr *a, const struct lbd_svc_addr *b)
{
	return a->family == b->family && a->proto == b->proto &&
	       a->port == b->port && !memcmp(&a->vip, &b->vip, sizeof(a->vip));
}

bool drain_matches(const struct drain *d, const struct st_service *s,
		   const struct st_backend *b)
{
	if (config_addr_cmp(&d->addr, &b->addr))
		return false;
	if (d->port && d->port != b->port)
		return false;
	return !d->has_svc || same_svc(&d->svc, &s->key);
}

bool drain_covers(const struct drain *outer, const struct drain *inner)
{
	if (config_addr_cmp(&outer->addr, &inner->addr))
		return false;
	if (outer->port && outer->port != inner->port)
		return false;
	if (!outer->has_svc)
		return true;
	return inner->has_svc && same_svc(&outer->svc, &inner->svc);
}

size_t drains_remove_covered(struct drain_set *s, const struct drain *pattern)
{
	size_t i, j, removed = 0;

	for (i = 0, j = 0; i < s->n; i++) {
		if (drain_covers(pattern, &s->d[i])) {
			removed++;
			continue;
		}
		s->d[j++] = s->d[i];
	}
	s->n = j;
	return removed;
}

int drains_apply(const struct drain_set *s, struct lbd_state *st,
		 struct lbd_dp *dp)
{
	struct apply_result r;
	int total = 0;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct drain *d = &s->d[i];
		struct be_match m = { .addr = d->addr, .port = d->port };
		const struct st_service *svc = NULL;
		int n;

		if (d->has_svc) {
			/* by key: the name may differ from the one the drain
			 * was given with (adopted state, renamed service) */
			svc = state_find(st, &d->svc);
			if (!svc)
				continue;
			m.service = svc->name;
		}
		n = state_set_flag(st, dp, &m, BE_FLAG_DRAINED, true, NULL,
				   NULL, &r);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

void drains_restore(const char *sock, struct lbd_state *st, struct lbd_dp *dp)
{
	struct drain_set s;
	char path[PATH_MAX];
	int n;

	drains_path(sock, path, sizeof(path));
	n = drains_load(path, &s);
	if (n < 0) {
		log_warnx("%s: %s; runtime drains not restored", path,
			  strerror(-n));
		return;
	}
	if (!s.n)
		return;
	n = drains_apply(&s, st, dp);
	if (n < 0)
		log_warnx("restoring the drains of %s: %s", path, strerror(-n));
	else
		log_info("%zu runtime drains restored from %s (%d backends)",
			 s.n, path, n);
	drains_free(&s);
}
