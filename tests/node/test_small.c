// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A Service port's small table (lbd_node_small, include/lbd/node.h): the
 * choice explain predicts is Maglev's at the hash, computed here on its
 * own; and the affinity path follows an entry only to an endpoint that
 * the table in use names (bpf/node/select.h node_affinity_pick).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "harness.h"
#include "maglev.h"

TestSuite(node_small, .init = nt_setup, .fini = nt_teardown);

#define SM_SVC_IP "10.96.0.91"
#define SM_SVC_PORT 53
#define SM_SVC_ID 11
#define SM_SEED 0x5eed1234 /* harness.c's hash seed */

/* 16 endpoints (LBD_NODE_INLINE_EPS), weights 1 to 3: each cookie's
 * endpoint is the one Maglev's table of 251 slots names at its hash. */
Test(node_small, explain_gives_maglevs_choice_of_the_small_table)
{
	struct node_svc_addr a = nt_svc(SM_SVC_IP, SM_SVC_PORT, IPPROTO_UDP);
	struct node_endpoint eps[LBD_NODE_INLINE_EPS + 1];
	struct maglev_backend mb[LBD_NODE_INLINE_EPS];
	__u32 table[LBD_NODE_SMALL_M], hash;
	struct node_choice ch;
	int i, seen[LBD_NODE_INLINE_EPS] = { 0 };
	__u64 cookie;

	for (i = 0; i <= LBD_NODE_INLINE_EPS; i++)
		eps[i] =
			nt_ep(NT_EP4_1, 9000 + i, 1 + i % 3, true, true, false);
	for (i = 0; i < LBD_NODE_INLINE_EPS; i++) {
		memset(&mb[i], 0, sizeof(mb[i]));
		mb[i].addr = eps[i].addr;
		mb[i].family = eps[i].family;
		mb[i].port = eps[i].port;
		mb[i].weight = eps[i].weight;
		mb[i].id = i;
	}
	cr_assert(maglev_build(mb, LBD_NODE_INLINE_EPS, LBD_NODE_SMALL_M,
			       SM_SEED, table) == 0);
	cr_assert(node_service_set(nt.node, &a, SM_SVC_ID, 0, 0) == 0);
	cr_assert(node_backends_set(nt.node, SM_SVC_ID, eps,
				    LBD_NODE_INLINE_EPS) == 0);
	for (cookie = 1; cookie <= 4000; cookie++) {
		hash = lbd_node_hash(SM_SEED, SM_SVC_ID, cookie);
		i = table[hash % LBD_NODE_SMALL_M];
		cr_assert(node_explain(nt.node, &a, cookie, 0, &ch) == 0);
		cr_assert_eq(ch.table_size, LBD_NODE_SMALL_M);
		cr_assert_eq(ch.slot, hash % LBD_NODE_SMALL_M);
		cr_assert(ch.port == eps[i].port &&
				  ch.addr.v4 == eps[i].addr.v4,
			  "cookie %llu: port %d, Maglev says %d",
			  (unsigned long long)cookie, ntohs(ch.port),
			  ntohs(eps[i].port));
		seen[i]++;
	}
	for (i = 0; i < LBD_NODE_INLINE_EPS; i++)
		cr_assert(seen[i] > 0, "endpoint %d never chosen", i);
	/* one more: the large table, a size of its own */
	cr_assert(node_backends_set(nt.node, SM_SVC_ID, eps,
				    LBD_NODE_INLINE_EPS + 1) == 0);
	cr_assert(node_explain(nt.node, &a, 1, 0, &ch) == 0);
	cr_assert_neq(ch.table_size, LBD_NODE_SMALL_M);
}

/* What the child connects to, and what it found. */
static const char *sm_ep_ip;
static int sm_port_lo, sm_port_hi; /* the endpoints' ports, inclusive */
static const char *sm_not_ip;
static int sm_not_port;

/* The endpoint a connected socket was sent to: its reverse entry. */
static bool sm_went_to(__u64 cookie, const char *ip, int port)
{
	struct lbd_node_rev_key k;
	struct lbd_node_rev v;

	memset(&k, 0, sizeof(k));
	k.cookie = cookie;
	inet_pton(AF_INET, ip, &k.addr.v4);
	k.port = htons(port);
	k.family = LBD_AF_INET;
	return !bpf_map_lookup_elem(node_rev_fd(nt.node), &k, &v);
}

static void sm_client(void)
{
	struct sockaddr_storage svc;
	socklen_t len = nt_sa(&svc, SM_SVC_IP, SM_SVC_PORT);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), p;
	__u64 cookie;

	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0, "connect: %s",
		 strerror(errno));
	cookie = nt_cookie(fd);
	close(fd);
	NT_CHECK(!sm_not_ip || !sm_went_to(cookie, sm_not_ip, sm_not_port),
		 "went to %s:%d, an endpoint the table does not name",
		 sm_not_ip, sm_not_port);
	for (p = sm_port_lo; p <= sm_port_hi; p++)
		if (sm_went_to(cookie, sm_ep_ip, p))
			return;
	NT_CHECK(false, "went to none of %s:%d-%d", sm_ep_ip, sm_port_lo,
		 sm_port_hi);
}

/*
 * An affinity entry names backend id X of gen g, whose endpoint left
 * the Service; X is then given to another endpoint. A connect that
 * copied lbd_node_backends[X] while lbd rewrote it could see the new
 * endpoint's address with the old gen, state and Service: the image
 * written here, which no race is needed to show. The connect must not
 * follow the entry there: the table in use does not name X.
 */
static void sm_affinity_torn(int count)
{
	struct node_svc_addr a = nt_svc(SM_SVC_IP, SM_SVC_PORT, IPPROTO_UDP);
	struct node_endpoint eps[LBD_NODE_INLINE_EPS + 1];
	int bfd = node_map_fd(nt.node, "lbd_node_backends"), fd, i;
	struct lbd_node_aff_key ak = { .svc_id = SM_SVC_ID };
	struct lbd_backend be;
	struct timespec ts;
	struct node_choice ch;
	struct lbd_aff aff;
	__u32 x;

	cr_assert(bfd >= 0);
	cr_assert(node_service_set(nt.node, &a, SM_SVC_ID,
				   LBD_NODE_SVC_F_AFFINITY, 600) == 0);
	for (i = 0; i < count; i++)
		eps[i] = nt_ep(NT_EP4_1, 9000 + i, 1, true, true, false);
	cr_assert(node_backends_set(nt.node, SM_SVC_ID, eps, count) == 0);
	/* the entry of the test's netns (the child's) names the endpoint
	 * of some slot */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	ak.netns_cookie = nt_netns_cookie(fd);
	close(fd);
	cr_assert(node_explain(nt.node, &a, 0, 12345, &ch) == 0);
	x = ch.backend_id;
	cr_assert(bpf_map_lookup_elem(bfd, &x, &be) == 0);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	memset(&aff, 0, sizeof(aff));
	aff.backend_id = x;
	aff.backend_gen = be.gen;
	aff.last_seen = (__u32)ts.tv_sec;
	cr_assert(bpf_map_update_elem(node_affinity_fd(nt.node), &ak, &aff,
				      BPF_ANY) == 0);
	/* followed while the table names it */
	sm_ep_ip = NT_EP4_1;
	sm_port_lo = sm_port_hi = ntohs(ch.port);
	sm_not_ip = NULL;
	nt_run(sm_client);
	cr_assert(node_explain(nt.node, &a, 0, ak.netns_cookie, &ch) == 0);
	cr_assert(ch.affinity && ch.backend_id == x);

	/* the endpoints replaced: X is free, then the torn image */
	for (i = 0; i < count; i++)
		eps[i] = nt_ep(NT_EP4_2, 9000 + i, 1, true, true, false);
	cr_assert(node_backends_set(nt.node, SM_SVC_ID, eps, count) == 0);
	cr_assert(bpf_map_lookup_elem(bfd, &x, &be) == 0);
	cr_assert(be.state == LBD_BE_UNUSED && be.gen == aff.backend_gen);
	inet_pton(AF_INET, NT_EP4_3, &be.addr.v4);
	be.port = htons(8080);
	be.state = LBD_BE_ACTIVE;
	cr_assert(bpf_map_update_elem(bfd, &x, &be, BPF_ANY) == 0);
	cr_assert(node_explain(nt.node, &a, 0, ak.netns_cookie, &ch) == 0);
	cr_assert(!ch.affinity, "explain follows the entry to id %u",
		  ch.backend_id);
	sm_ep_ip = NT_EP4_2;
	sm_port_lo = 9000;
	sm_port_hi = 9000 + count - 1;
	sm_not_ip = NT_EP4_3;
	sm_not_port = 8080;
	nt_run(sm_client);
	/* the connect wrote a fresh entry: the table's choice */
	cr_assert(node_explain(nt.node, &a, 0, ak.netns_cookie, &ch) == 0);
	cr_assert(ch.affinity && ch.backend_id != x);
}

Test(node_small, affinity_follows_only_an_endpoint_the_small_table_names)
{
	sm_affinity_torn(3);
}

Test(node_small, affinity_follows_only_an_endpoint_the_large_table_names)
{
	sm_affinity_torn(LBD_NODE_INLINE_EPS + 1);
}

/* Points the test netns's affinity entry at backend id of gen gen. */
static void sm_aff_put(const struct lbd_node_aff_key *ak, __u32 id, __u32 gen)
{
	struct timespec ts;
	struct lbd_aff aff;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	memset(&aff, 0, sizeof(aff));
	aff.backend_id = id;
	aff.backend_gen = gen;
	aff.last_seen = (__u32)ts.tv_sec;
	cr_assert(bpf_map_update_elem(node_affinity_fd(nt.node), ak, &aff,
				      BPF_ANY) == 0);
}

/*
 * The large table's affinity check is a binary search of its sorted list
 * (bpf/node/select.h node_maglev_has, a bpf_loop): an entry that names
 * any of 40 endpoints, first, last or between, is followed to it; one
 * that names an id the list lacks (another Service's, between two of
 * the list's; one above all of it) is not.
 */
Test(node_small, affinity_finds_every_endpoint_of_a_large_table)
{
	struct node_svc_addr a = nt_svc(SM_SVC_IP, SM_SVC_PORT, IPPROTO_UDP);
	struct node_svc_addr o = nt_svc("10.96.0.92", 53, IPPROTO_UDP);
	struct node_endpoint eps[40];
	struct lbd_node_aff_key ak = { .svc_id = SM_SVC_ID };
	int bfd = node_map_fd(nt.node, "lbd_node_backends"), fd, i;
	int followed = 0;
	__u32 id, next, max_id = 0, other = 0, other_gen = 0;
	struct lbd_backend be;
	struct node_choice ch;
	bool first = true;

	cr_assert(bfd >= 0);
	cr_assert(node_service_set(nt.node, &a, SM_SVC_ID,
				   LBD_NODE_SVC_F_AFFINITY, 600) == 0);
	cr_assert(node_service_set(nt.node, &o, SM_SVC_ID + 1, 0, 0) == 0);
	for (i = 0; i < 40; i++)
		eps[i] = nt_ep(NT_EP4_1, 9000 + i, 1, true, true, false);
	/* 20 of ours, the other Service's 5, then our other 20: its ids
	 * lie between ours */
	cr_assert(node_backends_set(nt.node, SM_SVC_ID, eps, 20) == 0);
	cr_assert(node_backends_set(nt.node, SM_SVC_ID + 1, eps + 20, 5) == 0);
	cr_assert(node_backends_set(nt.node, SM_SVC_ID, eps, 40) == 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(fd >= 0);
	ak.netns_cookie = nt_netns_cookie(fd);
	close(fd);
	sm_ep_ip = NT_EP4_1;
	sm_not_ip = NULL;
	for (; bpf_map_get_next_key(bfd, first ? NULL : &id, &next) == 0;
	     first = false) {
		id = next;
		cr_assert(bpf_map_lookup_elem(bfd, &id, &be) == 0);
		if (be.state != LBD_BE_ACTIVE)
			continue;
		if (be.svc_id != SM_SVC_ID) {
			other = id;
			other_gen = be.gen;
			continue;
		}
		max_id = id > max_id ? id : max_id;
		sm_aff_put(&ak, id, be.gen);
		sm_port_lo = sm_port_hi = ntohs(be.port);
		nt_run(sm_client);
		cr_assert(node_explain(nt.node, &a, 0, ak.netns_cookie, &ch) ==
			  0);
		cr_assert(ch.affinity && ch.backend_id == id,
			  "id %u: explain says %u (affinity %d)", id,
			  ch.backend_id, ch.affinity);
		followed++;
	}
	cr_assert_eq(followed, 40);
	cr_assert(other < max_id, "the other Service's ids are not between");
	/* not named by our table: the table's own choice, a fresh entry */
	sm_port_lo = 9000;
	sm_port_hi = 9039;
	sm_aff_put(&ak, other, other_gen);
	nt_run(sm_client);
	cr_assert(node_explain(nt.node, &a, 0, ak.netns_cookie, &ch) == 0);
	cr_assert(ch.affinity && ch.backend_id != other);
	sm_aff_put(&ak, max_id + 1, 0);
	nt_run(sm_client);
	cr_assert(node_explain(nt.node, &a, 0, ak.netns_cookie, &ch) == 0);
	cr_assert(ch.affinity && ch.backend_id != max_id + 1);
}
