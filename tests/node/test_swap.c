// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A Service port's table swapped while clients connect: every connect
 * gets the choice of the old table or of the new one, never a mix of the
 * two (bpf/node/select.h, lbd/dp/node.c node_table_put).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "harness.h"

TestSuite(node_swap, .init = nt_setup, .fini = nt_teardown);

#define SW_SVC_IP "10.96.0.90"
#define SW_SVC_PORT 53
#define SW_SVC_ID 9
#define SW_PORT0 8001 /* endpoints: NT_EP4_1, ports 8001 .. 8024 */
#define SW_LARGE 20 /* B's endpoints with sw_mixed: a large table */
#define SW_NPORTS (4 + SW_LARGE)
#define SW_CONNECTS 50000
#define SW_SECONDS 60 /* the bound of the race, far above its length */

/* What the client saw, in memory shared with the test. */
struct sw_seen {
	long n;
	long refused;
	__u64 cookie[SW_CONNECTS];
	int port[SW_CONNECTS]; /* the endpoint's, 0: none found */
};

/* B has SW_LARGE endpoints: each swap changes the table's form (small
 * to large and back). */
static bool sw_mixed;

/* A: endpoints 8001-8004; B: 8005-8008, none of A's, so that a read
 * that mixed A's slots with B's endpoints (or the reverse) gives most
 * sockets an endpoint neither table gives them: the same size, so B is
 * written over the spare table in place once both tables exist; with
 * sw_mixed, B goes on to 8024. */
static int sw_set(bool b)
{
	struct node_endpoint eps[SW_LARGE];
	int i, n = b && sw_mixed ? SW_LARGE : 4;

	for (i = 0; i < n; i++)
		eps[i] = nt_ep(NT_EP4_1, SW_PORT0 + (b ? 4 + i : i), 1, true,
			       true, false);
	return node_backends_set(nt.node, SW_SVC_ID, eps, n);
}

/* The endpoint port the connect of socket cookie went to: the one with
 * a reverse entry for it. */
static int sw_chosen(__u64 cookie)
{
	struct lbd_node_rev_key k;
	struct lbd_node_rev v;
	int p;

	for (p = SW_PORT0; p < SW_PORT0 + SW_NPORTS; p++) {
		memset(&k, 0, sizeof(k));
		k.cookie = cookie;
		inet_pton(AF_INET, NT_EP4_1, &k.addr.v4);
		k.port = htons(p);
		k.family = LBD_AF_INET;
		if (!bpf_map_lookup_elem(node_rev_fd(nt.node), &k, &v))
			return p;
	}
	return 0;
}

/* In the child, in the test's cgroup: UDP connects to the Service. */
static void sw_client(struct sw_seen *seen)
{
	struct sockaddr_storage svc;
	socklen_t len = nt_sa(&svc, SW_SVC_IP, SW_SVC_PORT);
	long i;

	for (i = 0; i < SW_CONNECTS; i++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&svc, len)) {
			seen->refused++;
		} else {
			seen->cookie[seen->n] = nt_cookie(fd);
			seen->port[seen->n] = sw_chosen(seen->cookie[seen->n]);
			seen->n++;
		}
		close(fd);
	}
}

static double sw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The endpoint port the table now in use gives the socket cookie. */
static int sw_explain(__u64 cookie)
{
	struct node_svc_addr a = nt_svc(SW_SVC_IP, SW_SVC_PORT, IPPROTO_UDP);
	struct node_choice ch;

	cr_assert(node_explain(nt.node, &a, cookie, 0, &ch) == 0);
	return ntohs(ch.port);
}

/* Swaps A and B while a client connects SW_CONNECTS times; each connect
 * must get A's choice or B's. */
static void sw_race(void)
{
	struct node_svc_addr a = nt_svc(SW_SVC_IP, SW_SVC_PORT, IPPROTO_UDP);
	struct sw_seen *seen;
	char procs[4200];
	long swaps = 0, differ = 0, i;
	int status = -1, fd, err = 0, *want_a;
	double t0;
	pid_t pid;

	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(seen != MAP_FAILED);
	want_a = calloc(SW_CONNECTS, sizeof(*want_a));
	cr_assert(want_a);
	cr_assert(node_service_set(nt.node, &a, SW_SVC_ID, 0, 0) == 0);
	/* both tables made: from here on each swap is in place */
	cr_assert(sw_set(false) == 0 && sw_set(true) == 0 &&
		  sw_set(false) == 0);

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", nt.cgroup);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		alarm(SW_SECONDS);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(1);
		close(fd);
		sw_client(seen);
		_exit(0);
	}
	/* swaps, A and B in turn, for as long as the client connects */
	t0 = sw_now();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		err = sw_now() - t0 > SW_SECONDS + 5 ? -ETIMEDOUT :
						       sw_set(swaps % 2 == 0);
		if (err) {
			/* the client goes before the fixture's cgroup */
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		swaps++;
	}
	cr_assert(err == 0, "swap %ld: %s", swaps, strerror(-err));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "client (status 0x%x)", status);
	cr_expect(seen->refused == 0, "%ld connects refused during swaps",
		  seen->refused);
	cr_assert(seen->n == SW_CONNECTS);
	cr_assert(swaps > 100, "only %ld swaps during the connects", swaps);

	/* each table's choice for every socket, with the table in place */
	cr_assert(sw_set(false) == 0);
	for (i = 0; i < seen->n; i++)
		want_a[i] = sw_explain(seen->cookie[i]);
	cr_assert(sw_set(true) == 0);
	for (i = 0; i < seen->n; i++) {
		int want_b = sw_explain(seen->cookie[i]);

		differ += want_a[i] != want_b;
		cr_assert(seen->port[i] == want_a[i] || seen->port[i] == want_b,
			  "connect %ld went to %d: table A says %d, B %d", i,
			  seen->port[i], want_a[i], want_b);
	}
	/* sockets whose choice the swap changes: a mix could show */
	cr_assert(differ > SW_CONNECTS / 20, "only %ld choices differ", differ);
	free(want_a);
	munmap(seen, sizeof(*seen));
}

/* Both tables small (lbd_node_small's two copies). */
Test(node_swap, connects_during_swaps_get_the_old_or_the_new_choice)
{
	sw_mixed = false;
	sw_race();
}

/* A small, B large: every swap also switches lbd_node_small between its
 * inline table and the mark that the large one is in use. */
Test(node_swap, connects_during_swaps_of_the_tables_form_get_either_choice)
{
	sw_mixed = true;
	sw_race();
}

/* A table that needs a new inner map waits for node_batch_commit: until
 * then the old one answers, and the endpoint that left stays active. */
Test(node_swap, a_batch_applies_its_new_tables_at_the_commit)
{
	struct node_svc_addr a = nt_svc(SW_SVC_IP, SW_SVC_PORT, IPPROTO_UDP);
	struct node_endpoint one = nt_ep(NT_EP4_1, SW_PORT0, 1, true, true,
					 false),
			     many[20];
	struct node_choice ch;
	__u64 cookie;
	int i;

	cr_assert(node_service_set(nt.node, &a, SW_SVC_ID, 0, 0) == 0);
	cr_assert(node_backends_set(nt.node, SW_SVC_ID, &one, 1) == 0);
	/* 20 endpoints want a table of two chunks: a new inner map */
	for (i = 0; i < 20; i++)
		many[i] = nt_ep(NT_EP4_2, 9000 + i, 1, true, true, false);
	node_batch_begin(nt.node);
	cr_assert(node_backends_set(nt.node, SW_SVC_ID, many, 20) == 0);
	for (cookie = 1; cookie <= 64; cookie++) {
		cr_assert(node_explain(nt.node, &a, cookie, 0, &ch) == 0);
		cr_assert(ntohs(ch.port) == SW_PORT0,
			  "before the commit: port %d", ntohs(ch.port));
	}
	cr_assert(node_batch_commit(nt.node) == 0);
	for (cookie = 1; cookie <= 64; cookie++) {
		cr_assert(node_explain(nt.node, &a, cookie, 0, &ch) == 0);
		cr_assert(ntohs(ch.port) >= 9000 && ntohs(ch.port) < 9020,
			  "after the commit: port %d", ntohs(ch.port));
	}
}
