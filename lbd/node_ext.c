// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "node_ext.h"

#include <errno.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "log.h"
#include "netlink.h"
#include "node_nic.h"

struct node_ext_if {
	int ifindex;
	char name[IF_NAMESIZE];
};

struct node_ext {
	struct node_nic *nic;
	enum lbd_xdp_mode mode;
	struct node_ext_if ifs[LBD_MAX_NODE_NICS];
	size_t n_ifs;
};

static bool ext_is_pod_if(const struct lbd_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->node_role.n_pod_ifaces; i++)
		if (!fnmatch(c->node_role.pod_ifaces[i], name, 0))
			return true;
	return false;
}

static bool ext_addr_is(const struct ifaddrs *i, const struct lbd_conf_addr *a)
{
	if (i->ifa_addr->sa_family == AF_INET)
		return a->family == LBD_AF_INET &&
		       !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
			       &a->addr.v4, 4);
	if (i->ifa_addr->sa_family == AF_INET6)
		return a->family == LBD_AF_INET6 &&
		       !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
			       &a->addr.v6, 16);
	return false;
}

static bool ext_addr_node(const struct ifaddrs *i,
			  const struct lbd_conf_addr *addrs, size_t n_addrs)
{
	size_t k;

	for (k = 0; k < n_addrs; k++)
		if (ext_addr_is(i, &addrs[k]))
			return true;
	return false;
}

static bool ext_named(char (*names)[IF_NAMESIZE], size_t n, const char *name)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (!strcmp(names[k], name))
			return true;
	return false;
}

/* The NICs wanted: the names given, or the interfaces that hold one of
 * the node's addresses (not loopback, not a pod interface). */
static size_t ext_wanted(const struct lbd_config *c,
			 const struct lbd_conf_addr *addrs, size_t n_addrs,
			 char (*out)[IF_NAMESIZE])
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (c->node_role.nics_set) {
		for (n = 0; n < c->node_role.n_nics; n++)
			snprintf(out[n], IF_NAMESIZE, "%s",
				 c->node_role.nics[n]);
		return n;
	}
	if (getifaddrs(&ifa) < 0) {
		log_warn("node: getifaddrs");
		return 0;
	}
	for (i = ifa; i && n < LBD_MAX_NODE_NICS; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) ||
		    ext_is_pod_if(c, i->ifa_name) ||
		    ext_named(out, n, i->ifa_name) ||
		    !ext_addr_node(i, addrs, n_addrs))
			continue;
		snprintf(out[n++], IF_NAMESIZE, "%s", i->ifa_name);
	}
	freeifaddrs(ifa);
	return n;
}

/* The node's addresses on the interface name, one of each family (the
 * SNAT source of flows that leave by it): one of the node's addresses
 * when it holds one, else its first global one. */
static void ext_if_addrs(const char *name, const struct lbd_conf_addr *addrs,
			 size_t n_addrs, union lbd_addr *a4, bool *h4,
			 union lbd_addr *a6, bool *h6)
{
	struct ifaddrs *ifa, *i;
	bool node4 = false, node6 = false;

	*h4 = *h6 = false;
	if (getifaddrs(&ifa) < 0) {
		log_warn("node: getifaddrs");
		return;
	}
	for (i = ifa; i; i = i->ifa_next) {
		bool node;

		if (!i->ifa_addr || strcmp(i->ifa_name, name))
			continue;
		node = ext_addr_node(i, addrs, n_addrs);
		if (i->ifa_addr->sa_family == AF_INET &&
		    (!*h4 || (node && !node4))) {
			memset(a4, 0, sizeof(*a4));
			memcpy(&a4->v4,
			       &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
			       4);
			*h4 = true;
			node4 = node;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *v6 =
				&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(v6) ||
			    (*h6 && (!node || node6)))
				continue;
			memcpy(a6, v6, 16);
			*h6 = true;
			node6 = node;
		}
	}
	freeifaddrs(ifa);
}

/* IPv6 forwards what comes in by an interface only when conf/all says
 * so (ip6_forward; an interface's own "forwarding" makes it a router for
 * neighbour discovery and nothing more), unless the interface has
 * force_forwarding (Linux 6.17). all is not ours to turn on: it makes
 * every interface a router, which stops the host taking router
 * advertisements. So the NIC gets force_forwarding where the kernel has
 * it; else a warning if all is off: IPv6 flows to endpoints on other
 * nodes (SNAT, DSR) and replies to clients would be dropped
 * (Ip6InAddrErrors), seen first by test_node_dsr_e2e.py. */
static int ext_forwarding6(const char *name)
{
	char path[128];
	int err;

	if (sysctl_is("/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		return 0;
	snprintf(path, sizeof(path),
		 "/proc/sys/net/ipv6/conf/%s/force_forwarding", name);
	err = sysctl_write(path, "1");
	if (err == -ENOENT) {
		/* no IPv6 on the interface (disabled): nothing to forward */
		snprintf(path, sizeof(path),
			 "/proc/sys/net/ipv6/conf/%s/forwarding", name);
		if (access(path, F_OK))
			return 0;
		log_warnx("node: %s: net.ipv6.conf.all.forwarding is not 1 "
			  "and the kernel has no force_forwarding: IPv6 "
			  "packets this node translates are not forwarded",
			  name);
		return 0;
	}
	return err;
}

/* Forwarding (the kernel forwards what the program translated, and its
 * FIB lookup wants it), and accept_local: a SNATed packet, and a reply
 * from a NodePort, has one of the node's addresses as source, which the
 * IPv4 input path otherwise drops as a martian. */
static int ext_sysctls(const char *name)
{
	char path[128];
	int err = xdp_enable_forwarding(name);

	if (!err)
		err = ext_forwarding6(name);
	if (err)
		return err;
	/* the kernel takes conf/all's or the interface's (IN_DEV_ORCONF):
	 * all's, when the host or an init container set it, is enough */
	if (sysctl_is("/proc/sys/net/ipv4/conf/all/accept_local", "1"))
		return 0;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/accept_local",
		 name);
	return sysctl_write(path, "1");
}

static int ext_attach_one(struct node_ext *e, const char *name,
			  const struct lbd_conf_addr *addrs, size_t n_addrs)
{
	union lbd_addr a4, a6;
	bool h4, h6;
	int ifindex = (int)if_nametoindex(name), err;

	if (!ifindex) {
		log_warnx("node: node_role.interfaces: %s: no such interface",
			  name);
		return -ENODEV;
	}
	ext_if_addrs(name, addrs, n_addrs, &a4, &h4, &a6, &h6);
	err = node_nic_set(e->nic, ifindex, h4 ? &a4 : NULL, h6 ? &a6 : NULL);
	if (!err)
		err = ext_sysctls(name);
	if (!err)
		err = node_nic_attach(e->nic, ifindex, e->mode);
	if (err) {
		log_warnx("node: attaching the NIC path to %s: %s", name,
			  strerror(-err));
		node_nic_unset(e->nic, ifindex);
		return err;
	}
	if (!h4 && !h6)
		log_warnx("node: %s has no address: flows to other nodes' "
			  "endpoints cannot leave by it",
			  name);
	e->ifs[e->n_ifs].ifindex = ifindex;
	snprintf(e->ifs[e->n_ifs].name, IF_NAMESIZE, "%s", name);
	e->n_ifs++;
	return 0;
}

/* Attaches to the wanted interfaces (an interface that stays keeps its
 * entry in the NIC table throughout), and takes lbd's program off every
 * other (one an earlier lbd or config attached to). */
static void ext_apply(struct node_ext *e, const struct lbd_config *c,
		      const struct lbd_conf_addr *addrs, size_t n_addrs)
{
	char want[LBD_MAX_NODE_NICS][IF_NAMESIZE];
	int keep[LBD_MAX_NODE_NICS];
	struct if_nameindex *all, *i;
	size_t n = ext_wanted(c, addrs, n_addrs, want), k;

	e->n_ifs = 0;
	for (k = 0; k < n; k++)
		ext_attach_one(e, want[k], addrs, n_addrs);
	all = if_nameindex();
	for (i = all; i && i->if_index; i++) {
		if (ext_named(want, n, i->if_name) ||
		    !node_nic_attached((int)i->if_index))
			continue;
		if (node_nic_detach((int)i->if_index))
			log_warnx("node: detaching the NIC path from %s",
				  i->if_name);
		else
			log_info("node: NIC path detached from %s", i->if_name);
	}
	if (all)
		if_freenameindex(all);
	else
		log_warn("node: if_nameindex");
	/* then the NICs that went leave the table (this lbd's, or pinned
	 * an earlier one's): a route by one of them is no other node's */
	for (k = 0; k < e->n_ifs; k++)
		keep[k] = e->ifs[k].ifindex;
	if (node_nic_prune(e->nic, keep, e->n_ifs))
		log_warnx("node: removing NICs from the NIC table");
}

int node_ext_start(const struct lbd_config *c, struct lbd_node *n,
		   struct node_tc *tc, const struct lbd_conf_addr *addrs,
		   size_t n_addrs, struct node_ext **out)
{
	struct node_nic_opts o = {
		.nat_entries = c->node_role.nat_entries,
		.hash_seed = c->dp.hash_seed,
		.snat_port_min = c->node_role.snat_port_min,
		.snat_port_max = c->node_role.snat_port_max,
		.icmp_rate = c->dp.icmp_rate,
		.pin_path = c->node_role.pin_path,
	};
	struct node_ext *e;
	int err;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->mode = c->dp.xdp_mode;
	err = node_nic_open(n, tc, &o, &e->nic);
	if (err) {
		log_warnx("node: loading the NIC path: %s", strerror(-err));
		free(e);
		return err;
	}
	if (!tc)
		log_warnx("node: no pod_interfaces: replies of this node's "
			  "endpoints to clients outside are not translated");
	ext_apply(e, c, addrs, n_addrs);
	log_info("node: NIC path on %zu interfaces (SNAT ports %u-%u)",
		 e->n_ifs, c->node_role.snat_port_min,
		 c->node_role.snat_port_max);
	*out = e;
	return 0;
}

void node_ext_stop(struct node_ext *e)
{
	if (!e)
		return;
	node_nic_close(e->nic);
	free(e);
}

void node_ext_reload(struct node_ext *e, const struct lbd_config *c,
		     const struct lbd_conf_addr *addrs, size_t n_addrs)
{
	if (e)
		ext_apply(e, c, addrs, n_addrs);
}

size_t node_ext_count(const struct node_ext *e)
{
	return e ? e->n_ifs : 0;
}

size_t node_ext_ifindexes(const struct node_ext *e, int *out, size_t max)
{
	size_t k;

	for (k = 0; e && k < e->n_ifs && k < max; k++)
		out[k] = e->ifs[k].ifindex;
	return k;
}

int node_ext_reasons(struct node_ext *e, __u64 out[LBD_NODE_NIC_REASON_MAX])
{
	if (!e)
		return -ENODEV;
	return node_nic_reasons_read(e->nic, out);
}

int node_ext_cleanup(const char *pin_path)
{
	int n = node_nic_detach_all(), err;

	if (n < 0) {
		log_warnx("node: removing the NIC path's XDP program: %s",
			  strerror(-n));
		return n;
	}
	err = node_nic_unpin(pin_path);
	if (err) {
		log_warnx("node: removing the NIC path's pins under %s: %s",
			  pin_path, strerror(-err));
		return err;
	}
	log_info("role node: NIC path detached from %d interfaces", n);
	return 0;
}
