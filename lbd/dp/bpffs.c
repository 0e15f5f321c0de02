// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "bpffs.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "log.h"

#define BPFFS_DEFAULT "/sys/fs/bpf"

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* mkdir -p, mode 0700 for what it creates */
static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t i, len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

static int mount_bpffs(const char *where)
{
	if (mount("bpf", where, "bpf", 0, "mode=0700") < 0) {
		int err = -errno;

		log_warn("mounting the BPF filesystem at %s", where);
		return err;
	}
	log_info("mounted the BPF filesystem at %s", where);
	return 0;
}

int bpffs_ensure(const char *pin_path)
{
	size_t n = strlen(BPFFS_DEFAULT);
	int err;

	if (is_bpffs(pin_path))
		return 0;
	if (!strncmp(pin_path, BPFFS_DEFAULT, n) &&
	    (pin_path[n] == '/' || pin_path[n] == '\0')) {
		if (!is_bpffs(BPFFS_DEFAULT)) {
			err = mkdirs(BPFFS_DEFAULT);
			if (!err)
				err = mount_bpffs(BPFFS_DEFAULT);
			if (err)
				return err;
		}
		return mkdirs(pin_path);
	}
	err = mkdirs(pin_path);
	if (err)
		return err;
	if (is_bpffs(pin_path))
		return 0;
	return mount_bpffs(pin_path);
}
