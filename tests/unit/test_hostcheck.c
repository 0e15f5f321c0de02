// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/hostcheck.c: lbd --check finds what a start would fail on. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostcheck.h"

static struct lbd_config c;
static char files[1][PATH_MAX] = { "/etc/lbd/lbd.conf" };

static void setup(void)
{
	memset(&c, 0, sizeof(c));
	c.files = files;
	c.n_files = 1;
	c.role = LBD_ROLE_LB;
	snprintf(c.dp.interface, sizeof(c.dp.interface), "lo");
	snprintf(c.dp.pin_path, sizeof(c.dp.pin_path), "/sys/fs/bpf/lbd");
}

/* Runs hostcheck and returns what it wrote. */
static char *run(int *bad)
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	cr_assert(f);
	*bad = hostcheck(&c, f);
	fclose(f);
	return buf;
}

TestSuite(hostcheck, .init = setup);

Test(hostcheck, an_existing_interface_and_a_pin_path_lbd_can_make_pass)
{
	int bad;
	char *out = run(&bad);

	cr_assert_eq(bad, 0, "%s", out);
	cr_assert_str_empty(out);
}

Test(hostcheck, a_missing_interface_is_named_with_its_setting)
{
	int bad;
	char *out;

	snprintf(c.dp.interface, sizeof(c.dp.interface), "nosuch0");
	out = run(&bad);
	cr_assert_eq(bad, 1);
	cr_assert_str_eq(out, "/etc/lbd/lbd.conf: datapath.interface: no "
			      "interface \"nosuch0\" on this host\n");
}

Test(hostcheck, the_backend_role_checks_its_own_interface)
{
	int bad;
	char *out;

	c.role = LBD_ROLE_BACKEND;
	snprintf(c.node.interface, sizeof(c.node.interface), "nosuch1");
	out = run(&bad);
	cr_assert_eq(bad, 1);
	cr_assert(strstr(out, "backend_node.interface: no interface "
			      "\"nosuch1\""), "%s", out);
}

Test(hostcheck, a_pin_path_under_a_file_is_refused)
{
	char tmpl[] = "/tmp/lbd-hostcheck-XXXXXX";
	int fd = mkstemp(tmpl), bad;
	char *out;

	cr_assert(fd >= 0);
	close(fd);
	snprintf(c.dp.pin_path, sizeof(c.dp.pin_path), "%s/maps", tmpl);
	out = run(&bad);
	unlink(tmpl);
	cr_assert_eq(bad, 1);
	cr_assert(strstr(out, "datapath.pin_path: ") &&
			  strstr(out, "is not a directory"),
		  "%s", out);
}

Test(hostcheck, bird_not_running_is_a_warning_only)
{
	int bad;
	char *out;

	c.bgp.enabled = true;
	snprintf(c.bgp.socket, sizeof(c.bgp.socket),
		 "/nonexistent/bird.ctl");
	out = run(&bad);
	cr_assert_eq(bad, 0);
	cr_assert(strstr(out, "bgp.socket: warning: /nonexistent/bird.ctl"),
		  "%s", out);
}
