// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "tc.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

int tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LBD_TC_HANDLE,
		    .priority = LBD_TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	/* REPLACE swaps the program of an existing lbd filter in one
	 * step: a restarted or upgraded lbd leaves no gap */
	return bpf_tc_attach(&hook, &o);
}

int tc_detach(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LBD_TC_HANDLE,
		    .priority = LBD_TC_PRIO);
	int err = bpf_tc_detach(&hook, &o);

	return err == -ENOENT ? 0 : err;
}

__u32 tc_prog_id(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LBD_TC_HANDLE,
		    .priority = LBD_TC_PRIO);

	if (bpf_tc_query(&hook, &o))
		return 0;
	return o.prog_id;
}

int tc_prog_name(int ifindex, enum bpf_tc_attach_point where,
		 char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info), id = tc_prog_id(ifindex, where);
	int fd, err = 0;

	if (!id)
		return -ENOENT;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		err = -errno;
		goto out;
	}
	memcpy(name, info.name, BPF_OBJ_NAME_LEN);
out:
	close(fd);
	return err;
}
