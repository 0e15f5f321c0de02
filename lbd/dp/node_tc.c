// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "node_tc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "log.h"
#include "node_pkt.skel.h"
#include "tc.h"

/* The programs' names as the kernel keeps them (BPF_OBJ_NAME_LEN - 1
 * characters): what marks lbd's filter as the node role's. */
#define NODE_TC_PROG_PREFIX "lbd_node_tc_"

/* The maps of the tc object that are its own, pinned by name; every
 * other map is the socket programs' (reused). */
static const char *const node_tc_pins[] = { "lbd_node_nat",
					    "lbd_node_tc_stats" };

#define NODE_TC_NPINS (sizeof(node_tc_pins) / sizeof(node_tc_pins[0]))

struct node_tc {
	struct node_pkt *skel;
	int ncpus;
};

static const char *const node_tc_labels[] = {
#define NODE_TC_LABEL(e, label, desc) [e] = label,
	LBD_NODE_TC_REASONS(NODE_TC_LABEL)
#undef NODE_TC_LABEL
};

static const char *const node_tc_descs[] = {
#define NODE_TC_DESC(e, label, desc) [e] = desc,
	LBD_NODE_TC_REASONS(NODE_TC_DESC)
#undef NODE_TC_DESC
};

const char *node_tc_reason_label(unsigned int r)
{
	return r < LBD_NODE_TC_REASON_MAX ? node_tc_labels[r] : NULL;
}

const char *node_tc_reason_desc(unsigned int r)
{
	return r < LBD_NODE_TC_REASON_MAX ? node_tc_descs[r] : NULL;
}

static int node_tc_fd_of(const char *name, void *arg)
{
	/* a CPU's scratch (bpf/node/icmp.h): its own, unpinned */
	if (!strcmp(name, "lbd_node_icmp_scratch"))
		return NODE_SHARE_NONE;
	return node_map_fd(arg, name);
}

int node_tc_open(struct lbd_node *n, const struct node_tc_opts *o,
		 struct node_tc **out)
{
	struct node_tc *t;
	int err;

	if (!o->nat_entries)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->skel = node_pkt__open();
	if (!t->skel) {
		err = -errno;
		goto out;
	}
	bpf_map__set_max_entries(t->skel->maps.lbd_node_nat, o->nat_entries);
	t->skel->rodata->node_knobs.map_abi = LBD_MAP_ABI;
	t->skel->rodata->node_knobs.hash_seed = o->hash_seed;
	/* every map but its own is the socket programs' (the same
	 * definitions, bpf/node/maps.h) */
	err = node_obj_share(t->skel->obj, node_tc_pins, NODE_TC_NPINS,
			     o->pin_path, node_tc_fd_of, n);
	if (err)
		goto out;
	err = node_pkt__load(t->skel);
	if (err)
		goto out;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus < 1) {
		err = t->ncpus;
		goto out;
	}
	*out = t;
	return 0;
out:
	node_tc_close(t);
	return err;
}

void node_tc_close(struct node_tc *t)
{
	if (!t)
		return;
	node_pkt__destroy(t->skel);
	free(t);
}

int node_tc_prog_fd(const struct node_tc *t, bool ingress)
{
	return bpf_program__fd(ingress ? t->skel->progs.lbd_node_tc_from_pod :
					 t->skel->progs.lbd_node_tc_to_pod);
}

int node_tc_nat_fd(const struct node_tc *t)
{
	return bpf_map__fd(t->skel->maps.lbd_node_nat);
}

int node_tc_attach(struct node_tc *t, int ifindex)
{
	int err;

	err = tc_attach(ifindex, BPF_TC_INGRESS, node_tc_prog_fd(t, true));
	if (!err)
		err = tc_attach(ifindex, BPF_TC_EGRESS,
				node_tc_prog_fd(t, false));
	return err;
}

/* Whether the program in lbd's filter at where is a node tc program. */
static bool node_tc_ours_at(int ifindex, enum bpf_tc_attach_point where)
{
	char name[BPF_OBJ_NAME_LEN];

	return !tc_prog_name(ifindex, where, name) &&
	       !strncmp(name, NODE_TC_PROG_PREFIX, strlen(NODE_TC_PROG_PREFIX));
}

int node_tc_detach_if(int ifindex)
{
	static const enum bpf_tc_attach_point where[] = { BPF_TC_INGRESS,
							  BPF_TC_EGRESS };
	int err = 0, e;
	size_t k;

	/* only filters whose program is the node role's: the handle is
	 * lbd's for every role */
	for (k = 0; k < 2; k++) {
		if (!node_tc_ours_at(ifindex, where[k]))
			continue;
		e = tc_detach(ifindex, where[k]);
		if (e && !err)
			err = e;
	}
	return err;
}

bool node_tc_attached(int ifindex)
{
	return node_tc_ours_at(ifindex, BPF_TC_INGRESS) ||
	       node_tc_ours_at(ifindex, BPF_TC_EGRESS);
}

int node_tc_detach_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int count = 0, err = 0, e;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		if (!node_tc_attached((int)i->if_index))
			continue;
		e = node_tc_detach_if((int)i->if_index);
		if (e && !err)
			err = e;
		count++;
	}
	if_freenameindex(ifs);
	return err ? err : count;
}

int node_tc_unpin(const char *pin_path)
{
	char path[PATH_MAX];
	size_t i;
	int err = 0;

	for (i = 0; i < NODE_TC_NPINS; i++) {
		if (dp_pin_file(path, sizeof(path), pin_path, node_tc_pins[i]))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	return err;
}

int node_tc_reasons_read(struct node_tc *t, __u64 out[LBD_NODE_TC_REASON_MAX])
{
	int fd = bpf_map__fd(t->skel->maps.lbd_node_tc_stats);
	__u64 *v = calloc((size_t)t->ncpus, sizeof(*v));
	__u32 r;
	int c, err = 0;

	if (!v)
		return -ENOMEM;
	for (r = 0; r < LBD_NODE_TC_REASON_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, v)) {
			err = -errno;
			break;
		}
		out[r] = 0;
		for (c = 0; c < t->ncpus; c++)
			out[r] += v[c];
	}
	free(v);
	return err;
}

/* -- new links -------------------------------------------------------- */

struct node_tc_watch {
	struct mnl_socket *nl;
};

int node_tc_watch_open(struct node_tc_watch **out)
{
	struct node_tc_watch *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!w->nl) {
		err = -errno;
		goto out;
	}
	if (mnl_socket_bind(w->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	*out = w;
	return 0;
out:
	node_tc_watch_close(w);
	return err;
}

void node_tc_watch_close(struct node_tc_watch *w)
{
	if (!w)
		return;
	if (w->nl)
		mnl_socket_close(w->nl);
	free(w);
}

int node_tc_watch_fd(const struct node_tc_watch *w)
{
	return mnl_socket_get_fd(w->nl);
}

struct node_tc_cb {
	void (*fn)(void *arg, int ifindex, const char *name, bool gone);
	void *arg;
};

static int node_tc_link_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct node_tc_cb *cb = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifi))
	{
		if (mnl_attr_get_type(a) != IFLA_IFNAME ||
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			continue;
		cb->fn(cb->arg, ifi->ifi_index, mnl_attr_get_str(a),
		       nlh->nlmsg_type == RTM_DELLINK);
		break;
	}
	return MNL_CB_OK;
}

int node_tc_watch_read(struct node_tc_watch *w,
		       void (*fn)(void *arg, int ifindex, const char *name,
				  bool gone),
		       void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct node_tc_cb cb = { fn, arg };
	ssize_t n;

	for (;;) {
		n = mnl_socket_recvfrom(w->nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (mnl_cb_run(buf, (size_t)n, 0, 0, node_tc_link_cb, &cb) < 0)
			return -errno;
	}
}
