// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/dp/netlink.c's sysctl_write: in a container /proc/sys is read-only
 * (config/examples/node-daemonset.yaml sets the node role's sysctls in
 * an init container), so a value set already is no error. A read-only
 * tmpfs of a private mount namespace stands in for /proc/sys. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include "netlink.h"

static char dir[] = "/tmp/lbd-sysctl.XXXXXX";

/* dir/forwarding holding "1\n", on a tmpfs remounted read-only; each
 * Criterion test runs in its own process, whose mount namespace this
 * makes private. */
static const char *ro_file(void)
{
	static char path[64];
	FILE *f;

	cr_assert_eq(unshare(CLONE_NEWNS), 0);
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(mount("none", dir, "tmpfs", 0, NULL), 0);
	snprintf(path, sizeof(path), "%s/forwarding", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("1\n", f);
	fclose(f);
	cr_assert_eq(mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
	return path;
}

static void ro_cleanup(void)
{
	umount(dir);
	rmdir(dir);
}

Test(sysctl, a_value_set_already_is_not_written, .fini = ro_cleanup)
{
	const char *p = ro_file();

	cr_assert(sysctl_is(p, "1"));
	cr_assert_not(sysctl_is(p, "0"));
	cr_assert_eq(sysctl_write(p, "1"), 0, "set already: no write");
	cr_assert_eq(sysctl_write(p, "0"), -EROFS, "another value is written");
	cr_assert_not(sysctl_is("/nonexistent/sysctl", "1"));
}
