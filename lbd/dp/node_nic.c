// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "node_nic.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "datapath.h"
#include "log.h"
#include "node_xdp.skel.h"

/* The maps of the NIC object that are its own, pinned by name. */
static const char *const node_nic_pins[] = { "lbd_node_nics",
					     "lbd_node_nic_nat",
					     "lbd_node_nic_stats" };

#define NODE_NIC_NPINS (sizeof(node_nic_pins) / sizeof(node_nic_pins[0]))

struct node_nic {
	struct node_xdp *skel;
	int ncpus;
};

static const char *const node_nic_labels[] = {
#define NODE_NIC_LABEL(e, label, desc) [e] = label,
	LBD_NODE_NIC_REASONS(NODE_NIC_LABEL)
#undef NODE_NIC_LABEL
};

static const char *const node_nic_descs[] = {
#define NODE_NIC_DESC(e, label, desc) [e] = desc,
	LBD_NODE_NIC_REASONS(NODE_NIC_DESC)
#undef NODE_NIC_DESC
};

const char *node_nic_reason_label(unsigned int r)
{
	return r < LBD_NODE_NIC_REASON_MAX ? node_nic_labels[r] : NULL;
}

const char *node_nic_reason_desc(unsigned int r)
{
	return r < LBD_NODE_NIC_REASON_MAX ? node_nic_descs[r] : NULL;
}

struct node_nic_share {
	struct lbd_node *n;
	struct node_tc *t;
};

/* lbd_node_nat the tc path's (not its counters, which this program does
 * not write; without a tc path its own, unpinned); every other map the
 * socket programs'. */
static int node_nic_fd_of(const char *name, void *arg)
{
	struct node_nic_share *sh = arg;

	if (!strcmp(name, "lbd_node_tc_stats") ||
	    !strcmp(name, "lbd_node_nic_scratch") ||
	    !strcmp(name, "lbd_node_icmp_scratch") ||
	    !strcmp(name, "lbd_node_nic_icmp_rl"))
		return NODE_SHARE_NONE;
	if (!strcmp(name, "lbd_node_nat"))
		return sh->t ? node_tc_nat_fd(sh->t) : NODE_SHARE_NONE;
	return node_map_fd(sh->n, name);
}

int node_nic_open(struct lbd_node *n, struct node_tc *t,
		  const struct node_nic_opts *o, struct node_nic **out)
{
	struct node_nic *x;
	int err;

	if (!o->nat_entries || o->snat_port_min > o->snat_port_max ||
	    !o->snat_port_min)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->skel = node_xdp__open();
	if (!x->skel) {
		err = -errno;
		goto out;
	}
	bpf_map__set_max_entries(x->skel->maps.lbd_node_nic_nat,
				 o->nat_entries);
	x->skel->rodata->node_knobs.map_abi = LBD_MAP_ABI;
	x->skel->rodata->node_knobs.hash_seed = o->hash_seed;
	x->skel->rodata->nic_knobs.snat_port_min = o->snat_port_min;
	x->skel->rodata->nic_knobs.snat_port_max = o->snat_port_max;
	x->skel->rodata->nic_knobs.icmp_rate = o->icmp_rate;
	x->skel->rodata->nic_knobs.icmp_burst = LBD_NODE_DEFAULT_ICMP_BURST;
	err = node_obj_share(x->skel->obj, node_nic_pins, NODE_NIC_NPINS,
			     o->pin_path, node_nic_fd_of,
			     &(struct node_nic_share){ .n = n, .t = t });
	if (err)
		goto out;
	err = node_xdp__load(x->skel);
	if (err)
		goto out;
	x->ncpus = libbpf_num_possible_cpus();
	if (x->ncpus < 1) {
		err = x->ncpus;
		goto out;
	}
	*out = x;
	return 0;
out:
	node_nic_close(x);
	return err;
}

void node_nic_close(struct node_nic *x)
{
	if (!x)
		return;
	node_xdp__destroy(x->skel);
	free(x);
}

int node_nic_prog_fd(const struct node_nic *x)
{
	return bpf_program__fd(x->skel->progs.lbd_xdp);
}

int node_nic_nat_fd(const struct node_nic *x)
{
	return bpf_map__fd(x->skel->maps.lbd_node_nic_nat);
}

int node_nic_set(struct node_nic *x, int ifindex, const union lbd_addr *a4,
		 const union lbd_addr *a6)
{
	struct lbd_node_nic v = { 0 };
	__u32 k = (__u32)ifindex;

	if (a4) {
		v.addr4 = *a4;
		v.flags |= LBD_NODE_NIC_F_V4;
	}
	if (a6) {
		v.addr6 = *a6;
		v.flags |= LBD_NODE_NIC_F_V6;
	}
	if (bpf_map_update_elem(bpf_map__fd(x->skel->maps.lbd_node_nics), &k,
				&v, BPF_ANY))
		return -errno;
	return 0;
}

int node_nic_unset(struct node_nic *x, int ifindex)
{
	__u32 k = (__u32)ifindex;

	if (bpf_map_delete_elem(bpf_map__fd(x->skel->maps.lbd_node_nics), &k) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int node_nic_prune(struct node_nic *x, const int *keep, size_t n)
{
	int fd = bpf_map__fd(x->skel->maps.lbd_node_nics), err = 0;
	__u32 k, next, gone[64];
	size_t i, n_gone = 0;
	void *prev = NULL;

	/* collected first: deleting while walking restarts the walk */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		for (i = 0; i < n; i++)
			if ((__u32)keep[i] == next)
				break;
		if (i == n && n_gone < sizeof(gone) / sizeof(gone[0]))
			gone[n_gone++] = next;
		k = next;
		prev = &k;
	}
	for (i = 0; i < n_gone; i++)
		if (bpf_map_delete_elem(fd, &gone[i]) && errno != ENOENT &&
		    !err)
			err = -errno;
	return err;
}

int node_nic_attach(struct node_nic *x, int ifindex, enum lbd_xdp_mode mode)
{
	struct xdp_attachment a;

	return xdp_lbd_attach(ifindex, node_nic_prog_fd(x), mode, &a);
}

int node_nic_detach(int ifindex)
{
	return xdp_lbd_detach(ifindex);
}

bool node_nic_attached(int ifindex)
{
	struct xdp_attachment a;

	return !xdp_lbd_query(ifindex, &a) && a.prog_id;
}

int node_nic_detach_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int count = 0, err = 0, e;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		if (!node_nic_attached((int)i->if_index))
			continue;
		e = node_nic_detach((int)i->if_index);
		if (e && !err)
			err = e;
		count++;
	}
	if_freenameindex(ifs);
	return err ? err : count;
}

int node_nic_unpin(const char *pin_path)
{
	char path[PATH_MAX];
	size_t i;
	int err = 0;

	for (i = 0; i < NODE_NIC_NPINS; i++) {
		if (dp_pin_file(path, sizeof(path), pin_path, node_nic_pins[i]))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	return err;
}

int node_nic_reasons_read(struct node_nic *x,
			  __u64 out[LBD_NODE_NIC_REASON_MAX])
{
	int fd = bpf_map__fd(x->skel->maps.lbd_node_nic_stats);
	__u64 *v = calloc((size_t)x->ncpus, sizeof(*v));
	__u32 r;
	int c, err = 0;

	if (!v)
		return -ENOMEM;
	for (r = 0; r < LBD_NODE_NIC_REASON_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, v)) {
			err = -errno;
			break;
		}
		out[r] = 0;
		for (c = 0; c < x->ncpus; c++)
			out[r] += v[c];
	}
	free(v);
	return err;
}
