// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "node_dsr.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpffs.h"
#include "companion.h"
#include "log.h"
#include "netlink.h"

/* Seconds a DSR flow is remembered without a packet (as the backend
 * role's default flow_timeout); every packet of it carries the option,
 * so a flow forgotten is recorded again by its next one. */
#define NODE_DSR_FLOW_TIMEOUT 3600
/* <pin_path>/companion */
#define NODE_DSR_DIR_LEN (PATH_MAX + 16)
/* lbd_be_local's size (bpf/backend/maps.h) */
#define NODE_DSR_MAX_LOCAL 256

struct node_dsr {
	struct companion *be;
	int ifs[LBD_MAX_NODE_NICS];
	size_t n_ifs;
};

static void dsr_pin_dir(const char *pin_path, char *out, size_t len)
{
	snprintf(out, len, "%s/companion", pin_path);
}

static bool dsr_listed(int ifindex, const int *ifs, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (ifs[k] == ifindex)
			return true;
	return false;
}

/* Takes lbd's companion off every interface not in keep; how many it
 * was taken off, or a negative errno. */
static int dsr_detach_others(const int *keep, size_t n_keep)
{
	struct if_nameindex *all = if_nameindex(), *i;
	int count = 0, err = 0, e;

	if (!all)
		return -errno;
	for (i = all; i->if_index; i++) {
		if (dsr_listed((int)i->if_index, keep, n_keep) ||
		    !companion_attached((int)i->if_index))
			continue;
		e = companion_detach((int)i->if_index);
		if (e) {
			log_warnx("node: taking the DSR companion off %s: %s",
				  i->if_name, strerror(-e));
			if (!err)
				err = e;
			continue;
		}
		log_info("node: DSR companion taken off %s", i->if_name);
		count++;
	}
	if_freenameindex(all);
	return err ? err : count;
}

static void dsr_unpin(const char *pin_path)
{
	char dir[NODE_DSR_DIR_LEN];

	dsr_pin_dir(pin_path, dir, sizeof(dir));
	companion_unpin(dir);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("node: removing %s", dir);
}

/* The node's addresses, and those of the interfaces the companion is
 * on: an outer destination that is none of them is another node's
 * business (transit). */
static int dsr_local(struct node_dsr *d, const struct lbd_conf_addr *addrs,
		     size_t n_addrs)
{
	struct lbd_conf_addr *local =
		calloc(NODE_DSR_MAX_LOCAL, sizeof(*local));
	size_t n = 0, k;
	int got, err;

	if (!local)
		return -ENOMEM;
	for (k = 0; k < n_addrs && n < NODE_DSR_MAX_LOCAL; k++)
		local[n++] = addrs[k];
	for (k = 0; k < d->n_ifs; k++) {
		got = nl_addr_list(d->ifs[k], local + n,
				   NODE_DSR_MAX_LOCAL - n);
		if (got > 0)
			n += (size_t)got;
	}
	err = companion_set_local(d->be, local, n);
	free(local);
	return err;
}

static int dsr_load(const struct lbd_config *c, struct node_dsr **out)
{
	char dir[NODE_DSR_DIR_LEN];
	struct node_dsr *d;
	int err;

	dsr_pin_dir(c->node_role.pin_path, dir, sizeof(dir));
	err = bpffs_ensure(dir);
	if (err) {
		log_warnx("node: the DSR companion's pin directory %s: %s", dir,
			  strerror(-err));
		return err;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	err = companion_load(dir, c->node_role.nat_entries,
			     NODE_DSR_FLOW_TIMEOUT, &d->be);
	if (err) {
		log_warnx("node: loading the DSR companion: %s (a pinned map "
			  "of another size or kind under %s? then lbd "
			  "--cleanup first)",
			  strerror(-err), dir);
		free(d);
		return err;
	}
	*out = d;
	return 0;
}

/* Attaches to each of ifs (in place of lbd's programs there). */
static void dsr_attach(struct node_dsr *d, const int *ifs, size_t n_ifs)
{
	char name[IF_NAMESIZE];
	size_t k;
	int err;

	d->n_ifs = 0;
	for (k = 0; k < n_ifs && k < LBD_MAX_NODE_NICS; k++) {
		if (!if_indextoname((unsigned)ifs[k], name))
			snprintf(name, sizeof(name), "#%d", ifs[k]);
		err = companion_attach(d->be, ifs[k]);
		if (err) {
			log_warnx("node: attaching the DSR companion to %s: %s",
				  name, strerror(-err));
			continue;
		}
		d->ifs[d->n_ifs++] = ifs[k];
	}
}

int node_dsr_apply(struct node_dsr **d, const struct lbd_config *c,
		   const int *ifs, size_t n_ifs,
		   const struct lbd_conf_addr *addrs, size_t n_addrs)
{
	const struct lbd_conf_node_role *nr = &c->node_role;
	int err;

	if (!nr->n_dsr_sources) {
		char dir[NODE_DSR_DIR_LEN];
		bool had = *d != NULL;

		node_dsr_stop(*d);
		*d = NULL;
		/* an earlier lbd's or config's companion goes with its
		 * pins: nothing trusts the other nodes any more. Its pin
		 * directory says there was one (asking every interface
		 * would have libbpf log those without a qdisc, at every
		 * start of every node without DSR) */
		dsr_pin_dir(nr->pin_path, dir, sizeof(dir));
		if (!had && access(dir, F_OK) < 0)
			return 0;
		err = dsr_detach_others(NULL, 0);
		dsr_unpin(nr->pin_path);
		return err < 0 ? err : 0;
	}
	if (!*d && (err = dsr_load(c, d)))
		return err;
	/* the sources first: a new interface trusts no more than it
	 * should from its first packet */
	err = companion_set_sources((*d)->be, nr->dsr_sources,
				    nr->n_dsr_sources);
	if (err) {
		log_warnx("node: node_role.dsr_sources: %s", strerror(-err));
		return err;
	}
	dsr_attach(*d, ifs, n_ifs);
	err = dsr_local(*d, addrs, n_addrs);
	if (err) {
		log_warnx("node: the DSR companion's node addresses: %s",
			  strerror(-err));
		return err;
	}
	err = dsr_detach_others((*d)->ifs, (*d)->n_ifs);
	if (err < 0)
		return err;
	log_info("node: DSR companion on %zu interfaces, trusting %zu "
		 "prefixes",
		 (*d)->n_ifs, nr->n_dsr_sources);
	/* a pod's reply comes in by its pod interface and is forwarded to
	 * the NIC, where egress restores its source: the kernel must
	 * forward from every interface (as on any Kubernetes node), which
	 * is the node's setting, not lbd's to make */
	if (!sysctl_is("/proc/sys/net/ipv4/conf/all/forwarding", "1"))
		log_warnx("node: net.ipv4.conf.all.forwarding is not 1: the "
			  "pods' replies to DSR traffic are not forwarded");
	/* IPv6 forwards from an interface only with all on or the
	 * interface's force_forwarding (node_ext.c), and the pod
	 * interfaces are the network plugin's, not lbd's to set */
	if (!access("/proc/sys/net/ipv6/conf/all/forwarding", F_OK) &&
	    !sysctl_is("/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		log_warnx("node: net.ipv6.conf.all.forwarding is not 1: the "
			  "pods' IPv6 replies to DSR traffic are forwarded "
			  "only from pod interfaces with force_forwarding");
	return 0;
}

void node_dsr_stop(struct node_dsr *d)
{
	if (!d)
		return;
	companion_destroy(d->be);
	free(d);
}

size_t node_dsr_count(const struct node_dsr *d)
{
	return d ? d->n_ifs : 0;
}

int node_dsr_reasons(struct node_dsr *d, struct lbd_counter *out)
{
	if (!d)
		return -ENODEV;
	return companion_reasons_read(d->be, out);
}

void node_dsr_check(const struct lbd_config *c)
{
	const struct lbd_conf_node_role *nr = &c->node_role;
	char a[LBD_CONF_ADDR_STRLEN], dir[NODE_DSR_DIR_LEN];
	size_t i;

	if (!nr->n_dsr_sources) {
		printf("no DSR companion (node_role.dsr_sources is empty)\n");
		return;
	}
	dsr_pin_dir(nr->pin_path, dir, sizeof(dir));
	printf("DSR companion on the NIC path's interfaces, maps pinned under "
	       "%s\n",
	       dir);
	for (i = 0; i < nr->n_dsr_sources; i++)
		printf("  decapsulate Geneve from %s\n",
		       config_addr_str(&nr->dsr_sources[i], a, sizeof(a)));
}

int node_dsr_cleanup(const char *pin_path)
{
	int n = dsr_detach_others(NULL, 0);

	if (n < 0) {
		log_warnx("node: removing the DSR companion: %s", strerror(-n));
		return n;
	}
	dsr_unpin(pin_path);
	log_info("role node: DSR companion removed from %d interfaces", n);
	return 0;
}
