// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "node_pods.h"

#include <errno.h>
#include <fnmatch.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "log.h"
#include "node_tc.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* An interface lbd attached the programs to. */
struct node_pod_if {
	int ifindex;
	char name[IF_NAMESIZE];
};

struct node_pods {
	struct node_tc *tc;
	struct node_tc_watch *watch;
	sd_event_source *src;
	char pats[LBD_MAX_POD_IFACE_PATTERNS][LBD_POD_IFACE_PATTERN_LEN];
	size_t n_pats;
	struct node_pod_if *ifs;
	size_t n_ifs;
};

int node_pods_host_netns(__u64 *out)
{
	socklen_t len = sizeof(*out);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len))
		err = -errno;
	close(fd);
	return err;
}

static bool pods_match(const struct node_pods *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n_pats; i++)
		if (!fnmatch(p->pats[i], name, 0))
			return true;
	return false;
}

static struct node_pod_if *pods_find(struct node_pods *p, int ifindex)
{
	size_t i;

	for (i = 0; i < p->n_ifs; i++)
		if (p->ifs[i].ifindex == ifindex)
			return &p->ifs[i];
	return NULL;
}

static void pods_forget(struct node_pods *p, struct node_pod_if *i)
{
	*i = p->ifs[--p->n_ifs];
}

/* A link appeared, changed (a rename too) or went. */
static void pods_link(void *arg, int ifindex, const char *name, bool gone)
{
	struct node_pods *p = arg;
	struct node_pod_if *i = pods_find(p, ifindex), *grown;
	int err;

	if (gone) {
		/* its filters went with it */
		if (i)
			pods_forget(p, i);
		return;
	}
	if (!pods_match(p, name)) {
		if (i) {
			/* renamed away from the patterns */
			node_tc_detach_if(ifindex);
			pods_forget(p, i);
		}
		return;
	}
	if (i && !strcmp(i->name, name))
		return; /* a state change of an interface it has */
	err = node_tc_attach(p->tc, ifindex);
	if (err) {
		log_warnx("node: attaching the tc path to %s (index %d): %s",
			  name, ifindex, strerror(-err));
		return;
	}
	if (!i) {
		grown = realloc(p->ifs, (p->n_ifs + 1) * sizeof(*p->ifs));
		if (!grown) {
			log_warnx("node: out of memory");
			return;
		}
		p->ifs = grown;
		i = &p->ifs[p->n_ifs++];
		i->ifindex = ifindex;
		log_info("node: tc path attached to %s", name);
	}
	snprintf(i->name, sizeof(i->name), "%s", name);
}

/* Every link there is, as if each had just appeared. */
static void pods_scan(struct node_pods *p)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	if (!ifs) {
		log_warn("node: listing the interfaces");
		return;
	}
	for (i = ifs; i->if_index; i++)
		pods_link(p, (int)i->if_index, i->if_name, false);
	if_freenameindex(ifs);
}

static int pods_on_watch(sd_event_source *s, int fd, uint32_t revents,
			 void *arg)
{
	struct node_pods *p = arg;
	int err;

	(void)s;
	(void)fd;
	(void)revents;
	err = node_tc_watch_read(p->watch, pods_link, p);
	if (err == -ENOBUFS) {
		log_warnx("node: link notifications lost: looking at every "
			  "interface again");
		pods_scan(p);
	} else if (err) {
		log_warnx("node: reading link notifications: %s",
			  strerror(-err));
	}
	return 0;
}

static void pods_patterns(struct node_pods *p, const struct lbd_config *c)
{
	memcpy(p->pats, c->node_role.pod_ifaces, sizeof(p->pats));
	p->n_pats = c->node_role.n_pod_ifaces;
}

int node_pods_start(sd_event *ev, const struct lbd_config *c,
		    struct lbd_node *n, struct node_pods **out)
{
	struct node_tc_opts o = {
		.nat_entries = c->node_role.nat_entries,
		.hash_seed = c->dp.hash_seed,
		.pin_path = c->node_role.pin_path,
	};
	struct node_pods *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pods_patterns(p, c);
	err = node_tc_open(n, &o, &p->tc);
	if (err) {
		log_warnx("node: loading the tc path: %s", strerror(-err));
		goto out;
	}
	/* the watch first: a link that appears during the scan is seen */
	err = node_tc_watch_open(&p->watch);
	if (!err)
		err = sd_event_add_io(ev, &p->src, node_tc_watch_fd(p->watch),
				      EPOLLIN, pods_on_watch, p);
	if (err) {
		log_warnx("node: watching the interfaces: %s", strerror(-err));
		goto out;
	}
	pods_scan(p);
	log_info("node: tc path on %zu pod interfaces (socket_lb %s)", p->n_ifs,
		 c->node_role.socket_lb == LBD_SOCKET_LB_HOST_ONLY ?
			 "host-only" :
			 "all");
	*out = p;
	return 0;
out:
	node_pods_stop(p);
	return err;
}

void node_pods_stop(struct node_pods *p)
{
	if (!p)
		return;
	sd_event_source_disable_unref(p->src);
	node_tc_watch_close(p->watch);
	node_tc_close(p->tc);
	free(p->ifs);
	free(p);
}

void node_pods_reload(struct node_pods *p, const struct lbd_config *c)
{
	size_t k;

	if (!p)
		return;
	pods_patterns(p, c);
	for (k = p->n_ifs; k > 0; k--) {
		struct node_pod_if *i = &p->ifs[k - 1];

		if (pods_match(p, i->name))
			continue;
		node_tc_detach_if(i->ifindex);
		log_info("node: tc path detached from %s", i->name);
		pods_forget(p, i);
	}
	pods_scan(p);
}

struct node_tc *node_pods_tc(const struct node_pods *p)
{
	return p ? p->tc : NULL;
}

size_t node_pods_count(const struct node_pods *p)
{
	return p ? p->n_ifs : 0;
}

int node_pods_reasons(struct node_pods *p, __u64 out[LBD_NODE_TC_REASON_MAX])
{
	if (!p)
		return -ENODEV;
	return node_tc_reasons_read(p->tc, out);
}

int node_pods_cleanup(const char *pin_path)
{
	int n = node_tc_detach_all(), err;

	if (n < 0) {
		log_warnx("node: removing the tc path's filters: %s",
			  strerror(-n));
		return n;
	}
	err = node_tc_unpin(pin_path);
	if (err) {
		log_warnx("node: removing the tc path's pins under %s: %s",
			  pin_path, strerror(-err));
		return err;
	}
	log_info("role node: tc path detached from %d interfaces", n);
	return 0;
}
