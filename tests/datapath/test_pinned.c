// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pinned maps of another map ABI (struct lbd_meta): lbd refuses them
 * before it loads a program on them, and leaves them as they are.
 */
#include <bpf/bpf.h>
#include <errno.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "bpffs.h"
#include "datapath.h"

static char dir[64], meta_pin[96];

static void cleanup(void)
{
	if (dir[0])
		dp_unpin_all(dir);
}

TestSuite(pinned, .fini = cleanup);

Test(pinned, maps_of_another_abi_are_refused_before_the_load)
{
	struct lbd_meta old = { .map_abi = LBD_MAP_ABI - 1 }, now;
	struct lbd_dp_opts o;
	struct lbd_dp *dp = NULL;
	char path[128];
	__u32 zero = 0;
	int fd;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/lbd-test-abi-%d", getpid());
	snprintf(meta_pin, sizeof(meta_pin), "%s/lbd_meta", dir);
	cr_assert_eq(bpffs_ensure(dir), 0);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lbd_meta", sizeof(__u32),
			    sizeof(struct lbd_meta), 1, NULL);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_map_update_elem(fd, &zero, &old, BPF_ANY), 0);
	cr_assert_eq(bpf_obj_pin(fd, meta_pin), 0);
	close(fd);

	dp_opts_default(&o);
	o.pin_path = dir;
	o.ct_entries = 4096;
	cr_assert_eq(dp_open(&o, &dp), -EINVAL);
	cr_assert_null(dp);

	snprintf(path, sizeof(path), "%s/lbd_ct4", dir);
	cr_assert_neq(access(path, F_OK), 0, "nothing was loaded or pinned");
	fd = bpf_obj_get(meta_pin);
	cr_assert_geq(fd, 0, "the old maps are left alone");
	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, &now), 0);
	cr_assert_eq(now.map_abi, LBD_MAP_ABI - 1);
	close(fd);
}
