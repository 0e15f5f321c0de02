// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd: the L4 load balancer daemon. See lbd(8). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "io.h"
#include "k8s_child.h"
#include "log.h"
#include "proc.h"
#include "prober.h"

/* The Kubernetes child takes no arguments: its settings and the
 * kubeconfig come in its first message (k8s_child.h). */
static int k8s_child_main(int argc, char **argv)
{
	(void)argv;
	if (argc != 0) {
		log_warnx("k8s: arguments it does not take");
		return 2;
	}
	return k8s_child_run(PROC_CHANNEL_FD);
}

/* lbd's children ("lbd --child NAME", proc.h), each its subsystem's. */
static const proc_main_fn child_mains[PROC_KIND_MAX] = {
	[PROC_IO] = io_child_main,
	[PROC_PROBER] = prober_child_main,
	[PROC_K8S] = k8s_child_main,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lbd [-v] [-c FILE]          run the load balancer\n"
		"       lbd --check [-c FILE]       validate and print the plan\n"
		"       lbd --cleanup [-c FILE]     detach and unpin everything\n"
		"  -c, --config FILE   configuration (default %s)\n"
		"  -v, --verbose       more logging (twice: libbpf's too)\n"
		"  -V, --version       print the version\n",
		LBD_DEFAULT_CONFIG);
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "cleanup", no_argument, NULL, 'x' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *config = LBD_DEFAULT_CONFIG;
	int c, verbose = 0, mode = 0;

	/* a child lbd started (proc.h): not an option a user gives */
	if (argc > 1 && !strcmp(argv[1], "--child"))
		proc_child_main(argc, argv, child_mains);

	while ((c = getopt_long(argc, argv, "c:vVh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
		case 'x':
			mode = c;
			break;
		case 'v':
			verbose++;
			break;
		case 'V':
			printf("lbd %s\n", LBD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("lbd", verbose);
	if (mode == 'k')
		return daemon_check(config);
	if (mode == 'x')
		return daemon_cleanup(config);
	return daemon_run(config);
}
