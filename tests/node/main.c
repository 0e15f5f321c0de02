// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Runs the node tests inside a network namespace of their own. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "harness.h"

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests;
	int result = 0;

	if (nt_env_init()) {
		fprintf(stderr, "node tests: cannot set up the namespace and "
				"cgroup (they need root)\n");
		return 1;
	}
	tests = criterion_initialize();
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	return result;
}
