// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/dp/kcheck.c: the kernel features a role needs, probed on the
 * running kernel (these tests run on the CI's, 6.18). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "kcheck.h"

static int kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &ma, &mi);
	return ma > major || (ma == major && mi >= minor);
}

Test(kcheck, every_role_runs_on_this_kernel)
{
	cr_assert_eq(kcheck_role(LBD_ROLE_LB), 0);
	cr_assert_eq(kcheck_role(LBD_ROLE_BACKEND), 0);
	cr_assert_eq(kcheck_role(LBD_ROLE_NODE), 0);
}

Test(kcheck, a_flag_the_kernel_does_not_know_is_found_missing)
{
	/* bit 40 is no BPF_F_ADJ_ROOM_* flag of any kernel */
	cr_assert_not(kcheck_adjust_room_takes(1ULL << 40));
	cr_assert(kcheck_adjust_room_takes(0));
}

Test(kcheck, decapsulation_across_families_found_from_linux_6_3)
{
	cr_assert_eq(kcheck_decap_l3(), kernel_at_least(6, 3));
}
