// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "companion.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bemaps.h"
#include "log.h"
#include "tc.h"
#include "tc_backend.skel.h"

struct companion {
	struct tc_backend *skel;
};

int companion_load(const char *pin_path, __u32 flow_entries,
		   __u32 flow_timeout, struct companion **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_path);
	struct companion *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->skel = tc_backend__open_opts(&oo);
	if (!c->skel) {
		err = -errno;
		goto out;
	}
	bpf_map__set_max_entries(c->skel->maps.lbd_be_flows, flow_entries);
	c->skel->rodata->be_knobs.map_abi = LBD_MAP_ABI;
	c->skel->rodata->be_knobs.flow_timeout = flow_timeout;
	err = tc_backend__load(c->skel);
out:
	if (err) {
		companion_destroy(c);
		return err;
	}
	*out = c;
	return 0;
}

void companion_destroy(struct companion *c)
{
	if (!c)
		return;
	tc_backend__destroy(c->skel);
	free(c);
}

int companion_attach(struct companion *c, int ifindex)
{
	int err = tc_attach(ifindex, BPF_TC_INGRESS,
			    bpf_program__fd(c->skel->progs.lbd_tc_ingress));

	if (!err)
		err = tc_attach(ifindex, BPF_TC_EGRESS,
				bpf_program__fd(c->skel->progs.lbd_tc_egress));
	return err;
}

int companion_detach(int ifindex)
{
	int err = tc_detach(ifindex, BPF_TC_INGRESS);

	if (!err)
		err = tc_detach(ifindex, BPF_TC_EGRESS);
	return err;
}

/* Whether the program in lbd's filter at where is the companion's. */
static bool companion_at(int ifindex, enum bpf_tc_attach_point where)
{
	char name[BPF_OBJ_NAME_LEN];

	return !tc_prog_name(ifindex, where, name) &&
	       (!strcmp(name, "lbd_tc_ingress") ||
		!strcmp(name, "lbd_tc_egress"));
}

bool companion_attached(int ifindex)
{
	return companion_at(ifindex, BPF_TC_INGRESS) ||
	       companion_at(ifindex, BPF_TC_EGRESS);
}

void companion_unpin(const char *pin_path)
{
	static const char *const pins[] = { "lbd_be_sources", "lbd_be_local",
					    "lbd_be_flows",   "lbd_be_stats",
					    "lbd_be_peers4",  "lbd_be_peers6" };
	char path[4200];
	size_t k;

	for (k = 0; k < sizeof(pins) / sizeof(pins[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s", pin_path, pins[k]);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("unpinning %s", path);
	}
}

/* Makes a set map hold exactly the addresses given. */
static int sync_set(int fd, const struct lbd_conf_addr *a, size_t n)
{
	struct lbd_addr_key k, next;
	__u8 one = 1;
	void *prev = NULL;
	size_t i;

	/* removing while walking restarts the walk from the start */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		bool keep = false;

		for (i = 0; i < n && !keep; i++)
			keep = next.family == a[i].family &&
			       !memcmp(&next.addr, &a[i].addr,
				       sizeof(next.addr));
		k = next;
		if (!keep) {
			if (bpf_map_delete_elem(fd, &k) < 0)
				return -errno;
			prev = NULL;
		} else {
			prev = &k;
		}
	}
	for (i = 0; i < n; i++) {
		memset(&k, 0, sizeof(k));
		k.family = a[i].family;
		k.addr = a[i].addr;
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int companion_set_sources(struct companion *c, const struct lbd_conf_addr *a,
			  size_t n)
{
	return bemaps_sync_sources(bpf_map__fd(c->skel->maps.lbd_be_sources), a,
				   n);
}

int companion_set_local(struct companion *c, const struct lbd_conf_addr *a,
			size_t n)
{
	return sync_set(bpf_map__fd(c->skel->maps.lbd_be_local), a, n);
}

int companion_set_peers(struct companion *c, const struct lbd_conf_addr *a,
			size_t n)
{
	return bemaps_sync_peers(bpf_map__fd(c->skel->maps.lbd_be_peers4),
				 bpf_map__fd(c->skel->maps.lbd_be_peers6), a,
				 n);
}

int companion_reasons_read(struct companion *c, struct lbd_counter *out)
{
	int fd = bpf_map__fd(c->skel->maps.lbd_be_stats);
	int ncpu = libbpf_num_possible_cpus();
	struct lbd_counter *v;
	__u32 key;
	int cpu;

	memset(out, 0, sizeof(*out) * LBD_REASON_MAX);
	if (ncpu < 0)
		return ncpu;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (key = 0; key < LBD_REASON_MAX; key++) {
		if (bpf_map_lookup_elem(fd, &key, v) < 0)
			continue;
		for (cpu = 0; cpu < ncpu; cpu++) {
			out[key].packets += v[cpu].packets;
			out[key].bytes += v[cpu].bytes;
		}
	}
	free(v);
	return 0;
}
