// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node role across a restart: maps and links pinned under a pin
 * path outlive the struct lbd_node (closed as a process exit would),
 * keep translating, and are adopted by the next node_open on that path
 * with the same choices and backend ids.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "bpffs.h"
#include "harness.h"

#define PT_SVC "10.96.0.20"
#define PT_PORT 80
#define PT_EP_PORT 8080
#define PT_COOKIES 64

static char pt_dir[64], pt_pin[256];
static int pt_srv[3];
static const char *const pt_ep_ip[3] = { NT_EP4_1, NT_EP4_2, NT_EP4_3 };

static void pt_opts(struct node_opts *o)
{
	node_opts_default(o);
	o->max_services = 64;
	o->max_addrs = 64;
	o->max_backends = 256;
	o->rev_entries = 1024;
	o->affinity_entries = 1024;
	o->hash_seed = 0x5eed1234;
	o->pin_path = pt_pin;
}

/*
 * The fixture's unpinned node is replaced by a pinned one, on a BPF
 * filesystem of the test's own mount namespace: whatever the test
 * leaves pinned goes with it when the test process ends.
 */
static void pt_setup(void)
{
	struct node_opts o;
	int i, err;

	nt_setup();
	node_close(nt.node);
	nt.node = NULL;
	cr_assert(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
	cr_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		  "mount --make-rprivate /: %s", strerror(errno));
	snprintf(pt_dir, sizeof(pt_dir), "/tmp/lbd-node-pin.XXXXXX");
	cr_assert(mkdtemp(pt_dir), "mkdtemp: %s", strerror(errno));
	cr_assert(mount("bpf", pt_dir, "bpf", 0, "mode=0700") == 0,
		  "mounting bpffs at %s: %s", pt_dir, strerror(errno));
	snprintf(pt_pin, sizeof(pt_pin), "%s/node", pt_dir);
	err = bpffs_ensure(pt_pin);
	cr_assert(err == 0, "no bpffs at %s: %s", pt_pin, strerror(-err));
	pt_opts(&o);
	err = node_open(&o, &nt.node);
	cr_assert(err == 0, "node_open: %s", strerror(-err));
	cr_assert(!node_adopted(nt.node), "adopted from a fresh pin path");
	err = node_attach(nt.node, nt.cgroup);
	cr_assert(err == 0, "node_attach: %s", strerror(-err));
	for (i = 0; i < 3; i++)
		pt_srv[i] = nt_server(pt_ep_ip[i], PT_EP_PORT, SOCK_STREAM);
}

static void pt_teardown(void)
{
	struct stat st;
	int i;

	node_close(nt.node);
	nt.node = NULL;
	cr_expect(node_unpin_all(pt_pin) == 0, "unpinning %s", pt_pin);
	cr_expect(stat(pt_pin, &st) < 0 && errno == ENOENT, "%s left behind",
		  pt_pin);
	for (i = 0; i < 3; i++)
		if (pt_srv[i] >= 0)
			close(pt_srv[i]);
	umount2(pt_dir, MNT_DETACH);
	rmdir(pt_dir);
	nt_teardown();
}

TestSuite(node_pin, .init = pt_setup, .fini = pt_teardown);

static void pt_eps(const int *idx, size_t n)
{
	struct node_endpoint eps[3];
	size_t i;
	int err;

	for (i = 0; i < n; i++)
		eps[i] = nt_ep(pt_ep_ip[idx[i]], PT_EP_PORT, 1, 1, 1, 0);
	err = node_backends_set(nt.node, 1, eps, n);
	cr_assert(err == 0, "node_backends_set: %s", strerror(-err));
}

/* What the child expects: a connect lands on one of these endpoints. */
static bool pt_want[3];

/* A TCP connect to the ClusterIP from the test's cgroup lands on an
 * endpoint that is wanted, and on no other. */
static void pt_client(void)
{
	struct sockaddr_storage svc, peer;
	socklen_t len = nt_sa(&svc, PT_SVC, PT_PORT);
	int fd = socket(AF_INET, SOCK_STREAM, 0), i, got = -1, afd;
	struct pollfd p[3];

	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0,
		 "connect %s: %s", nt_sa_str(&svc), strerror(errno));
	for (i = 0; i < 3; i++)
		p[i] = (struct pollfd){ .fd = pt_srv[i], .events = POLLIN };
	NT_CHECK(poll(p, 3, 5000) > 0, "no endpoint got the connection");
	for (i = 0; i < 3; i++)
		if (p[i].revents & POLLIN) {
			NT_CHECK(got < 0, "two endpoints got a connection");
			got = i;
		}
	NT_CHECK(pt_want[got], "endpoint %s got it", pt_ep_ip[got]);
	len = sizeof(peer);
	afd = accept(pt_srv[got], (struct sockaddr *)&peer, &len);
	NT_CHECK(afd >= 0, "accept: %s", strerror(errno));
	close(afd);
	close(fd);
}

/* The choices of PT_COOKIES sockets, by backend id. */
static void pt_explain_all(__u32 *ids)
{
	struct node_svc_addr a = nt_svc(PT_SVC, PT_PORT, IPPROTO_TCP);
	struct node_choice ch;
	__u64 k;
	int err;

	for (k = 0; k < PT_COOKIES; k++) {
		err = node_explain(nt.node, &a, k + 1, 1, &ch);
		cr_assert(err == 0, "explain: %s", strerror(-err));
		ids[k] = ch.backend_id;
	}
}

static void pt_pins_present(bool links)
{
	static const char *const some[] = { "lbd_node_svc4", "lbd_node_maglev",
					    "lbd_node_backends",
					    "link_connect4" };
	char path[512];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", pt_pin, some[i]);
		cr_assert(access(path, F_OK) == (i < 3 || links ? 0 : -1),
			  "%s %s", path, i < 3 || links ? "missing" : "left");
	}
}

Test(node_pin, survives_close_and_is_adopted)
{
	struct node_svc_addr a = nt_svc(PT_SVC, PT_PORT, IPPROTO_TCP);
	__u32 before[PT_COOKIES], after[PT_COOKIES], id2 = UINT32_MAX;
	struct node_endpoint *eps;
	struct node_opts o;
	size_t n, i;
	int err;

	pt_eps((int[]){ 0, 1 }, 2);
	cr_assert(node_service_set(nt.node, &a, 1, 0, 0) == 0);
	pt_want[0] = pt_want[1] = true;
	pt_want[2] = false;
	nt_run(pt_client);
	pt_explain_all(before);

	/* as a process exit: the fds go, the pins stay and translate */
	node_close(nt.node);
	nt.node = NULL;
	pt_pins_present(true);
	nt_run(pt_client);

	pt_opts(&o);
	err = node_open(&o, &nt.node);
	cr_assert(err == 0, "node_open again: %s", strerror(-err));
	cr_assert(node_adopted(nt.node), "the pinned maps were not adopted");
	pt_explain_all(after);
	cr_assert(!memcmp(before, after, sizeof(before)),
		  "explain chooses other backends after the adoption");
	cr_assert(node_backends_get(nt.node, 1, &eps, &n) == 0);
	cr_assert(n == 2, "%zu endpoints adopted", n);
	free(eps);
	err = node_attach(nt.node, nt.cgroup);
	cr_assert(err == 0, "node_attach (link update): %s", strerror(-err));
	nt_run(pt_client);

	/* an update keeps the id of the endpoint that stays */
	for (i = 0; i < PT_COOKIES; i++) {
		struct node_choice ch;

		cr_assert(node_explain(nt.node, &a, i + 1, 1, &ch) == 0);
		if (ch.addr.v4 == nt_svc(NT_EP4_2, 0, IPPROTO_TCP).addr.v4)
			id2 = ch.backend_id;
	}
	cr_assert(id2 != UINT32_MAX, "no cookie chose %s", NT_EP4_2);
	pt_eps((int[]){ 1, 2 }, 2);
	for (i = 0; i < PT_COOKIES; i++) {
		struct node_choice ch;

		cr_assert(node_explain(nt.node, &a, i + 1, 1, &ch) == 0);
		cr_assert(ch.addr.v4 !=
				  nt_svc(NT_EP4_1, 0, IPPROTO_TCP).addr.v4,
			  "the endpoint that left is still chosen");
		if (ch.addr.v4 == nt_svc(NT_EP4_2, 0, IPPROTO_TCP).addr.v4)
			cr_assert(ch.backend_id == id2,
				  "%s changed its backend id %u -> %u",
				  NT_EP4_2, id2, ch.backend_id);
		else
			cr_assert(ch.backend_id != id2,
				  "the new endpoint took %s's id", NT_EP4_2);
	}
	pt_want[0] = false;
	pt_want[1] = pt_want[2] = true;
	nt_run(pt_client);

	/* node_detach unpins the links: connects are not translated */
	cr_assert(node_detach(nt.node) == 0);
	pt_pins_present(false);
}

Test(node_pin, refuses_other_sizes)
{
	struct lbd_node *other = NULL;
	struct node_opts o;

	pt_opts(&o);
	o.max_backends = 512;
	cr_assert(node_open(&o, &other) == -EINVAL,
		  "pinned maps of another size were adopted");
	cr_assert(other == NULL);
	pt_opts(&o);
	cr_assert(node_open(&o, &other) == 0);
	cr_assert(node_adopted(other));
	node_close(other);
}
