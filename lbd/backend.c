// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Role "backend": lbd on a backend loads the tc companion (bpf/backend/) on the
 * NIC encapsulated traffic arrives on, tells it which LBs to trust and
 * which addresses are this node's, and binds the IPIP VIPs to lo.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpffs.h"
#include "companion.h"
#include "daemon.h"
#include "log.h"
#include "netlink.h"

#define MAX_NODE_ADDRS 64

void backend_status(const struct lbd_daemon *d, char *buf, size_t len)
{
	snprintf(buf, len, "backend on %s, %zu trusted LBs, %zu VIPs",
		 d->cfg->node.interface, d->cfg->node.n_lb_sources,
		 d->cfg->node.n_vips);
}

static int be_load(const struct lbd_config *c, struct companion **out)
{
	int err = companion_load(c->dp.pin_path, c->node.flow_entries,
				 c->node.flow_timeout, out);

	if (err)
		log_warnx("loading the tc programs failed: %s (a pinned map "
			  "of another size? then lbd --cleanup first)",
			  strerror(-err));
	return err;
}

static int be_attach(struct lbd_daemon *d, const struct lbd_config *c)
{
	int err;

	d->backend.be_ifindex = (int)if_nametoindex(c->node.interface);
	if (!d->backend.be_ifindex) {
		log_warnx("%s: backend_node.interface: no interface \"%s\"",
			  c->files[0], c->node.interface);
		return -ENODEV;
	}
	err = companion_attach(d->backend.be, d->backend.be_ifindex);
	if (err)
		log_warnx("attaching tc programs to %s: %s", c->node.interface,
			  strerror(-err));
	else
		log_info("tc companion attached to %s (ingress and egress)",
			 c->node.interface);
	return err;
}

static bool addr_listed(const struct lbd_conf_addr *a,
			const struct lbd_conf_addr *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!config_addr_cmp(&list[i], a))
			return true;
	return false;
}

/*
 * VIPs on lo: the backend accepts the inner packets of IPIP (their
 * destination is the VIP) and answers from the VIP. IPv4 VIPs must not
 * be answered for in ARP on the NIC: arp_ignore=1 and arp_announce=2, as
 * for IPVS direct routing.
 */
static int sync_vips(const struct lbd_config *c)
{
	struct lbd_conf_addr have[LBD_MAX_NODE_VIPS];
	int lo = (int)if_nametoindex("lo"), n, i, err;
	size_t j;
	bool v4 = false;

	if (!lo)
		return -ENODEV;
	n = nl_addr_list_lbd(lo, have, LBD_MAX_NODE_VIPS);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (addr_listed(&have[i], c->node.vips, c->node.n_vips))
			continue;
		err = nl_addr_del(lo, &have[i]);
		if (err)
			return err;
	}
	for (j = 0; j < c->node.n_vips; j++) {
		err = nl_addr_add(lo, &c->node.vips[j]);
		if (err)
			return err;
		v4 |= c->node.vips[j].family == LBD_AF_INET;
	}
	if (v4) {
		err = sysctl_write("/proc/sys/net/ipv4/conf/all/arp_ignore",
				   "1");
		if (!err)
			err = sysctl_write(
				"/proc/sys/net/ipv4/conf/all/arp_announce", "2");
		if (err)
			return err;
	}
	return 0;
}

/* Trusted LBs, this node's addresses and the VIPs, as c says. */
static int be_sync(struct lbd_daemon *d, const struct lbd_config *c,
		   struct config_diag *diag)
{
	struct lbd_conf_addr local[MAX_NODE_ADDRS];
	int n, err;

	err = companion_set_sources(d->backend.be, c->node.lb_sources,
				    c->node.n_lb_sources);
	if (err) {
		diag_pushf(diag, "trusted LB sources: %s", strerror(-err));
		return err;
	}
	n = nl_addr_list(d->backend.be_ifindex, local, MAX_NODE_ADDRS);
	if (n < 0) {
		diag_pushf(diag, "addresses of %s: %s", c->node.interface,
			   strerror(-n));
		return n;
	}
	err = companion_set_local(d->backend.be, local, (size_t)n);
	if (err) {
		diag_pushf(diag, "node addresses: %s", strerror(-err));
		return err;
	}
	err = companion_set_peers(d->backend.be, c->node.peers, c->node.n_peers);
	if (err) {
		diag_pushf(diag, "peers: %s", strerror(-err));
		return err;
	}
	err = sync_vips(c);
	if (err)
		diag_pushf(diag, "binding VIPs to lo: %s", strerror(-err));
	return err;
}

/*
 * Passing a segment on is forwarding: bpf_fib_lookup answers only for an
 * interface that forwards (else the segment is delivered here, counted
 * second_chance_no_route). lbd does not turn it on itself: on IPv6 it
 * also turns router advertisements off for the interface.
 */
static void be_check_forwarding(const struct lbd_config *c)
{
	static const char *const fmt[] = {
		"/proc/sys/net/ipv4/conf/%s/forwarding",
		"/proc/sys/net/ipv6/conf/%s/forwarding"
	};
	char path[128], v[8];
	size_t i;
	FILE *f;

	if (!c->node.n_peers)
		return;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), fmt[i], c->node.interface);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(v, sizeof(v), f) && v[0] == '0')
			log_warnx("%s is 0: segments are not passed on to "
				  "their previous owner (second chance) but "
				  "delivered here",
				  path);
		fclose(f);
	}
}

int backend_start(struct lbd_daemon *d)
{
	struct config_diag diag = { 0 };
	size_t i;
	int err;

	err = bpffs_ensure(d->cfg->dp.pin_path);
	if (!err)
		err = be_load(d->cfg, &d->backend.be);
	if (!err)
		err = be_attach(d, d->cfg);
	if (!err)
		err = be_sync(d, d->cfg, &diag);
	for (i = 0; i < diag.n; i++)
		log_warnx("%s", diag.msgs[i]);
	config_diag_free(&diag);
	if (!err) {
		log_info("trusting %zu LB sources and %zu peer prefixes, %zu "
			 "VIPs on lo",
			 d->cfg->node.n_lb_sources, d->cfg->node.n_peers,
			 d->cfg->node.n_vips);
		be_check_forwarding(d->cfg);
	}
	return err;
}

int backend_reload(struct lbd_daemon *d, const struct lbd_config *c,
		   struct config_diag *diag)
{
	struct companion *nbe;
	int err;

	if (strcmp(c->dp.pin_path, d->cfg->dp.pin_path)) {
		diag_pushf(diag, "%s: datapath.pin_path: cannot change while "
				 "lbd runs",
			   c->files[0]);
		return -EINVAL;
	}
	if (c->node.flow_timeout != d->cfg->node.flow_timeout ||
	    c->node.flow_entries != d->cfg->node.flow_entries ||
	    strcmp(c->node.interface, d->cfg->node.interface)) {
		err = be_load(c, &nbe);
		if (err) {
			diag_pushf(diag, "loading the tc programs: %s",
				   strerror(-err));
			return err;
		}
		if (strcmp(c->node.interface, d->cfg->node.interface))
			companion_detach(d->backend.be_ifindex);
		companion_destroy(d->backend.be);
		d->backend.be = nbe;
		err = be_attach(d, c);
		if (err) {
			diag_pushf(diag, "attaching to %s: %s",
				   c->node.interface, strerror(-err));
			return err;
		}
	}
	err = be_sync(d, c, diag);
	if (!err)
		be_check_forwarding(c);
	return err;
}

void backend_stop(struct lbd_daemon *d)
{
	companion_destroy(d->backend.be);
	d->backend.be = NULL;
}

int backend_check(const struct lbd_config *c, const char *path)
{
	char a[64];
	size_t i;

	printf("backend companion on %s\n", c->node.interface);
	for (i = 0; i < c->node.n_lb_sources; i++)
		printf("  trust encapsulated packets from %s\n",
		       config_addr_str(&c->node.lb_sources[i], a, sizeof(a)));
	for (i = 0; i < c->node.n_peers; i++)
		printf("  accept segments passed on by peers in %s\n",
		       config_addr_str(&c->node.peers[i], a, sizeof(a)));
	for (i = 0; i < c->node.n_vips; i++)
		printf("  bind VIP %s to lo\n",
		       config_addr_str(&c->node.vips[i], a, sizeof(a)));
	printf("%s: valid\n", path);
	return 0;
}

int backend_cleanup(const struct lbd_config *c)
{
	struct lbd_conf_addr have[LBD_MAX_NODE_VIPS];
	int ifindex = (int)if_nametoindex(c->node.interface);
	int lo = (int)if_nametoindex("lo"), n, i, err = 0;

	if (ifindex) {
		err = companion_detach(ifindex);
		if (err)
			log_warnx("detaching tc from %s: %s", c->node.interface,
				  strerror(-err));
	}
	n = lo ? nl_addr_list_lbd(lo, have, LBD_MAX_NODE_VIPS) : 0;
	for (i = 0; i < n; i++)
		nl_addr_del(lo, &have[i]);
	companion_unpin(c->dp.pin_path);
	log_info("backend companion removed from %s; %d VIPs unbound",
		 c->node.interface, n > 0 ? n : 0);
	return err ? 1 : 0;
}
