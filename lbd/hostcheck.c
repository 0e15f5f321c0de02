// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "hostcheck.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <string.h>
#include <sys/stat.h>

/* An interface setting names an interface of this host (namespace). */
static int check_ifname(const struct lbd_config *c, const char *setting,
			const char *name, FILE *out)
{
	if (if_nametoindex(name))
		return 0;
	fprintf(out, "%s: %s: no interface \"%s\" on this host\n", c->files[0],
		setting, name);
	return 1;
}

/* The pin path, or what lbd would create of it, can be a directory: the
 * nearest part that exists is one. lbd mounts the BPF filesystem there
 * itself. */
static int check_pin_path(const struct lbd_config *c, FILE *out)
{
	char p[PATH_MAX];
	struct stat st;
	char *slash;

	snprintf(p, sizeof(p), "%s", c->dp.pin_path);
	for (;;) {
		if (stat(p, &st) == 0)
			break;
		if (errno != ENOENT && errno != ENOTDIR) {
			fprintf(out, "%s: datapath.pin_path: %s: %s\n",
				c->files[0], p, strerror(errno));
			return 1;
		}
		slash = strrchr(p, '/');
		if (!slash || slash == p)
			return 0; /* nothing of it exists: lbd makes it */
		*slash = '\0';
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(out, "%s: datapath.pin_path: %s is not a directory\n",
			c->files[0], p);
		return 1;
	}
	return 0;
}

/* BIRD may start after lbd (lbd connects when it comes): only a warning. */
static void check_bird(const struct lbd_config *c, FILE *out)
{
	struct stat st;

	if (!c->bgp.enabled)
		return;
	if (stat(c->bgp.socket, &st) < 0)
		fprintf(out,
			"%s: bgp.socket: warning: %s: %s (BIRD not running? "
			"lbd connects when it is)\n",
			c->files[0], c->bgp.socket, strerror(errno));
	else if (!S_ISSOCK(st.st_mode))
		fprintf(out, "%s: bgp.socket: warning: %s is not a socket\n",
			c->files[0], c->bgp.socket);
}

int hostcheck(const struct lbd_config *c, FILE *out)
{
	int bad = 0;
	size_t i;

	if (c->role == LBD_ROLE_BACKEND) {
		bad += check_ifname(c, "backend_node.interface",
				    c->node.interface, out);
	} else if (c->role == LBD_ROLE_NODE) {
		/* no interface: the socket programs go on a cgroup */
	} else {
		bad += check_ifname(c, "datapath.interface", c->dp.interface,
				    out);
		for (i = 0; i < c->dp.n_egress; i++)
			bad += check_ifname(c, "datapath.egress",
					    c->dp.egress[i], out);
		check_bird(c, out);
	}
	bad += check_pin_path(c, out);
	return bad;
}
