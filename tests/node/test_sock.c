// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level load balancing on real sockets: what a client in the
 * cgroup sees (its connect lands on an endpoint, getpeername and UDP
 * replies name the Service), what the endpoint's server sees, and that
 * node_explain predicted each choice.
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
#include "node_sock.skel.h"

TestSuite(node_sock, .init = nt_setup, .fini = nt_teardown);

/* What a test's client works on: set before nt_run, read by the child. */
static struct {
	const char *svc_ip[3];
	int svc_port[3];
	const char *ep_ip[3];
	int ep_port;
	int srv[3]; /* the endpoints' server sockets */
	int nsvc, neps;
} c;

/* The endpoint (index into c.ep_ip) node_explain predicts, or -1 with
 * its error in *err. */
static int explain(const char *ip, int port, int proto, int fd, int *err)
{
	struct node_svc_addr a = nt_svc(ip, port, proto);
	struct node_choice ch;
	int i;

	*err = node_explain(nt.node, &a, nt_cookie(fd), nt_netns_cookie(fd),
			    &ch);
	if (*err)
		return -1;
	for (i = 0; i < c.neps; i++) {
		struct node_endpoint e =
			nt_ep(c.ep_ip[i], c.ep_port, 1, 1, 1, 0);

		if (ch.family == e.family && ch.port == e.port &&
		    !memcmp(&ch.addr, &e.addr, sizeof(e.addr)))
			return i;
	}
	nt_fail(__FILE__, __LINE__, "explain named no endpoint of the test");
}

/* Accepts the connection the endpoint's server has pending (bounded
 * wait); its peer address in *peer. */
static int accept_on(int srv, struct sockaddr_storage *peer)
{
	socklen_t len = sizeof(*peer);
	int fd;

	NT_CHECK(nt_readable(srv, 5000), "no connection at the endpoint");
	fd = accept(srv, (struct sockaddr *)peer, &len);
	NT_CHECK(fd >= 0, "accept: %s", strerror(errno));
	return fd;
}

/* One TCP connect to each Service address: it lands on the endpoint
 * explain predicted, and nowhere else; the server sees the client's own
 * address; getpeername says the Service address. */
static void tcp_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	int s, i, k, err;

	nt_counters(before);
	for (s = 0; s < c.nsvc; s++) {
		struct sockaddr_storage svc, peer, local, seen;
		socklen_t len = nt_sa(&svc, c.svc_ip[s], c.svc_port[s]);
		int fd = socket(svc.ss_family, SOCK_STREAM, 0), afd;

		NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
		k = explain(c.svc_ip[s], c.svc_port[s], IPPROTO_TCP, fd, &err);
		NT_CHECK(k >= 0, "explain %s: %s", nt_sa_str(&svc),
			 strerror(-err));
		NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0,
			 "connect %s: %s", nt_sa_str(&svc), strerror(errno));
		len = sizeof(peer);
		NT_CHECK(getpeername(fd, (struct sockaddr *)&peer, &len) == 0,
			 "getpeername: %s", strerror(errno));
		NT_CHECK(nt_sa_eq(&peer, &svc), "getpeername %s, not %s",
			 nt_sa_str(&peer), nt_sa_str(&svc));
		len = sizeof(local);
		getsockname(fd, (struct sockaddr *)&local, &len);
		afd = accept_on(c.srv[k], &seen);
		NT_CHECK(nt_sa_eq(&seen, &local),
			 "endpoint %d saw %s, the client is %s", k,
			 nt_sa_str(&seen), nt_sa_str(&local));
		for (i = 0; i < c.neps; i++)
			NT_CHECK(i == k || !nt_readable(c.srv[i], 0),
				 "endpoint %d got a connection too", i);
		close(afd);
		close(fd);
	}
	nt_counters(after);
	NT_CHECK(after[LBD_NODE_CONNECT_XLATED] -
				 before[LBD_NODE_CONNECT_XLATED] ==
			 (__u64)c.nsvc,
		 "connect_xlated counted %llu",
		 (unsigned long long)(after[LBD_NODE_CONNECT_XLATED] -
				      before[LBD_NODE_CONNECT_XLATED]));
	NT_CHECK(after[LBD_NODE_PEER_REV_HIT] - before[LBD_NODE_PEER_REV_HIT] ==
			 (__u64)c.nsvc,
		 "getpeername_rev_hit counted wrong");
}

/* Service port 1: ClusterIP, an external IP and a NodePort on the
 * node's address, two endpoints. */
static void tcp_setup(bool v6)
{
	struct node_svc_addr a;
	struct node_endpoint eps[2];
	int i;

	memset(&c, 0, sizeof(c));
	if (v6) {
		c.svc_ip[0] = "2001:db8:96::10";
		c.svc_ip[1] = "2001:db8:97::10";
		c.svc_ip[2] = NT_EP6_3; /* the node's address */
		c.ep_ip[0] = NT_EP6_1;
		c.ep_ip[1] = NT_EP6_2;
	} else {
		c.svc_ip[0] = "10.96.0.10";
		c.svc_ip[1] = "198.19.0.10";
		c.svc_ip[2] = NT_NODE4;
		c.ep_ip[0] = NT_EP4_1;
		c.ep_ip[1] = NT_EP4_2;
	}
	c.svc_port[0] = c.svc_port[1] = 80;
	c.svc_port[2] = 30080;
	c.nsvc = 3;
	c.neps = 2;
	c.ep_port = 8080;
	for (i = 0; i < c.nsvc; i++) {
		a = nt_svc(c.svc_ip[i], c.svc_port[i], IPPROTO_TCP);
		cr_assert(node_service_set(nt.node, &a, 1, 0, 0) == 0);
	}
	for (i = 0; i < c.neps; i++) {
		eps[i] = nt_ep(c.ep_ip[i], c.ep_port, 1, true, true, false);
		c.srv[i] = nt_server(c.ep_ip[i], c.ep_port, SOCK_STREAM);
	}
	cr_assert(node_backends_set(nt.node, 1, eps, 2) == 0);
}

Test(node_sock, tcp_to_clusterip_external_ip_and_nodeport_v4)
{
	tcp_setup(false);
	nt_run(tcp_client);
}

Test(node_sock, tcp_to_clusterip_external_ip_and_nodeport_v6)
{
	tcp_setup(true);
	nt_run(tcp_client);
}

/* Sends msg from fd (to, when given) and checks it arrives at endpoint
 * k's UDP server from the client; the server answers, and the client's
 * recvfrom must name the Service address svc as the reply's source. */
static void udp_exchange(int fd, const struct sockaddr_storage *to,
			 socklen_t tolen, const struct sockaddr_storage *svc,
			 int k)
{
	struct sockaddr_storage from, local;
	socklen_t len;
	char buf[64];
	ssize_t r;
	int i;

	if (to)
		r = sendto(fd, "query", 5, 0, (const struct sockaddr *)to,
			   tolen);
	else
		r = send(fd, "query", 5, 0);
	NT_CHECK(r == 5, "send: %s", strerror(errno));
	len = sizeof(local);
	getsockname(fd, (struct sockaddr *)&local, &len);
	NT_CHECK(nt_readable(c.srv[k], 5000), "nothing at endpoint %d", k);
	len = sizeof(from);
	r = recvfrom(c.srv[k], buf, sizeof(buf), 0, (struct sockaddr *)&from,
		     &len);
	NT_CHECK(r == 5 && !memcmp(buf, "query", 5), "endpoint got %zd bytes",
		 r);
	/* the client socket is unbound (any address): its port is what
	 * the server must have seen */
	NT_CHECK(((struct sockaddr_in *)&from)->sin_port ==
			 ((struct sockaddr_in *)&local)->sin_port,
		 "endpoint saw %s, the client is %s", nt_sa_str(&from),
		 nt_sa_str(&local));
	for (i = 0; i < c.neps; i++)
		NT_CHECK(i == k || !nt_readable(c.srv[i], 0),
			 "endpoint %d got a datagram too", i);
	NT_CHECK(sendto(c.srv[k], "reply", 5, 0, (struct sockaddr *)&from,
			len) == 5,
		 "reply: %s", strerror(errno));
	NT_CHECK(nt_readable(fd, 5000), "no reply at the client");
	len = sizeof(from);
	r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	NT_CHECK(r == 5 && !memcmp(buf, "reply", 5), "client got %zd bytes", r);
	NT_CHECK(nt_sa_eq(&from, svc), "reply from %s, not from %s",
		 nt_sa_str(&from), nt_sa_str(svc));
}

static __u64 delta(const __u64 *after, const __u64 *before,
		   enum lbd_node_reason r)
{
	return after[r] - before[r];
}

/* Unconnected UDP: two datagrams of one socket go to the endpoint
 * explain predicted, their replies come from the Service address; a
 * datagram from the endpoint's address that is no reply to the Service
 * keeps its source. Then connected UDP: the same, and getpeername. */
static void udp_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct sockaddr_storage svc, from, peer, local;
	socklen_t len = nt_sa(&svc, c.svc_ip[0], c.svc_port[0]), plen;
	int fd = socket(svc.ss_family, SOCK_DGRAM, 0), k, o, err;
	char buf[16];

	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	nt_counters(before);
	k = explain(c.svc_ip[0], c.svc_port[0], IPPROTO_UDP, fd, &err);
	NT_CHECK(k >= 0, "explain: %s", strerror(-err));
	udp_exchange(fd, &svc, len, &svc, k);
	udp_exchange(fd, &svc, len, &svc, k);
	/* the other endpoint's server writes to the client directly */
	o = !k;
	plen = sizeof(local);
	getsockname(fd, (struct sockaddr *)&local, &plen);
	nt_sa(&peer, c.ep_ip[0], 0);
	if (peer.ss_family == AF_INET)
		((struct sockaddr_in *)&peer)->sin_addr.s_addr =
			htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&peer)->sin6_addr = in6addr_loopback;
	((struct sockaddr_in *)&peer)->sin_port =
		((struct sockaddr_in *)&local)->sin_port;
	NT_CHECK(sendto(c.srv[o], "other", 5, 0, (struct sockaddr *)&peer,
			len) == 5,
		 "sendto client: %s", strerror(errno));
	NT_CHECK(nt_readable(fd, 5000), "nothing from the other endpoint");
	plen = sizeof(from);
	NT_CHECK(recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			  &plen) == 5,
		 "recvfrom: %s", strerror(errno));
	nt_sa(&peer, c.ep_ip[o], c.ep_port);
	NT_CHECK(nt_sa_eq(&from, &peer), "datagram from %s, not %s",
		 nt_sa_str(&from), nt_sa_str(&peer));
	close(fd);
	nt_counters(after);
	NT_CHECK(delta(after, before, LBD_NODE_SENDMSG_XLATED) == 2,
		 "sendmsg_xlated %llu",
		 (unsigned long long)delta(after, before,
					   LBD_NODE_SENDMSG_XLATED));
	NT_CHECK(delta(after, before, LBD_NODE_RECVMSG_REV_HIT) == 2,
		 "recvmsg_rev_hit wrong");
	NT_CHECK(delta(after, before, LBD_NODE_RECVMSG_REV_MISS) == 1,
		 "recvmsg_rev_miss wrong");

	/* connected */
	fd = socket(svc.ss_family, SOCK_DGRAM, 0);
	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	k = explain(c.svc_ip[0], c.svc_port[0], IPPROTO_UDP, fd, &err);
	NT_CHECK(k >= 0, "explain: %s", strerror(-err));
	NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0, "connect: %s",
		 strerror(errno));
	plen = sizeof(peer);
	NT_CHECK(getpeername(fd, (struct sockaddr *)&peer, &plen) == 0 &&
			 nt_sa_eq(&peer, &svc),
		 "getpeername %s", nt_sa_str(&peer));
	udp_exchange(fd, NULL, 0, &svc, k);
	close(fd);
}

static void udp_setup(bool v6)
{
	struct node_svc_addr a;
	struct node_endpoint eps[2];
	int i;

	memset(&c, 0, sizeof(c));
	c.svc_ip[0] = v6 ? "2001:db8:96::20" : "10.96.0.20";
	c.svc_port[0] = 53;
	c.ep_ip[0] = v6 ? NT_EP6_1 : NT_EP4_1;
	c.ep_ip[1] = v6 ? NT_EP6_2 : NT_EP4_2;
	c.nsvc = 1;
	c.neps = 2;
	c.ep_port = 5353;
	a = nt_svc(c.svc_ip[0], c.svc_port[0], IPPROTO_UDP);
	cr_assert(node_service_set(nt.node, &a, 2, 0, 0) == 0);
	for (i = 0; i < c.neps; i++) {
		eps[i] = nt_ep(c.ep_ip[i], c.ep_port, 1, true, true, false);
		c.srv[i] = nt_server(c.ep_ip[i], c.ep_port, SOCK_DGRAM);
	}
	cr_assert(node_backends_set(nt.node, 2, eps, 2) == 0);
}

Test(node_sock, udp_replies_come_from_the_service_v4)
{
	udp_setup(false);
	nt_run(udp_client);
}

Test(node_sock, udp_replies_come_from_the_service_v6)
{
	udp_setup(true);
	nt_run(udp_client);
}

#define SPLIT_CONNECTS 400

/* Connects SPLIT_CONNECTS times, each predicted by explain; how many
 * landed on each endpoint in c.srv[0..1] goes to split[]. */
static int split[2];

static void split_client(void)
{
	struct sockaddr_storage svc, seen, local[SPLIT_CONNECTS];
	int want[SPLIT_CONNECTS];
	socklen_t len = nt_sa(&svc, c.svc_ip[0], c.svc_port[0]), l;
	int i, j, k, err;

	for (i = 0; i < SPLIT_CONNECTS; i++) {
		int fd = socket(svc.ss_family, SOCK_STREAM, 0);

		NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
		want[i] = explain(c.svc_ip[0], c.svc_port[0], IPPROTO_TCP, fd,
				  &err);
		NT_CHECK(want[i] >= 0, "explain: %s", strerror(-err));
		NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0,
			 "connect %d: %s", i, strerror(errno));
		l = sizeof(local[i]);
		getsockname(fd, (struct sockaddr *)&local[i], &l);
		close(fd);
	}
	/* every connection is in its endpoint's backlog: match them to
	 * the clients by address and port */
	for (k = 0; k < 2; k++) {
		while (nt_readable(c.srv[k], 0)) {
			int afd;

			l = sizeof(seen);
			afd = accept(c.srv[k], (struct sockaddr *)&seen, &l);
			NT_CHECK(afd >= 0, "accept: %s", strerror(errno));
			close(afd);
			for (j = 0; j < SPLIT_CONNECTS; j++)
				if (nt_sa_eq(&seen, &local[j]))
					break;
			NT_CHECK(j < SPLIT_CONNECTS, "unknown client %s",
				 nt_sa_str(&seen));
			NT_CHECK(want[j] == k,
				 "connect %d went to %d, explain said %d", j, k,
				 want[j]);
			want[j] = -1;
			split[k]++;
		}
	}
	NT_CHECK(split[0] + split[1] == SPLIT_CONNECTS,
		 "%d connections arrived", split[0] + split[1]);
	/* Weights 1 and 3 give the first endpoint a share p of the
	 * Maglev slots within a percent of 1/4 (fixed by the seed and the
	 * endpoints). Socket cookies are sequential, and Murmur3's
	 * finaliser spreads them over the slots as independent draws: the
	 * count is binomial, n = 400, p ~ 0.25, mean 100, sd 8.7. 60..140
	 * is 4.6 sd either way, a chance below 1e-5 per run. */
	NT_CHECK(split[0] >= 60 && split[0] <= 140,
		 "weight 1 got %d of %d, weight 3 got %d", split[0],
		 SPLIT_CONNECTS, split[1]);
}

Test(node_sock, weights_1_and_3_split_about_1_to_3)
{
	struct node_svc_addr a = nt_svc("10.96.0.30", 80, IPPROTO_TCP);
	struct node_endpoint eps[2] = {
		nt_ep(NT_EP4_1, 8080, 1, true, true, false),
		nt_ep(NT_EP4_2, 8080, 3, true, true, false),
	};

	memset(&c, 0, sizeof(c));
	c.svc_ip[0] = "10.96.0.30";
	c.svc_port[0] = 80;
	c.ep_ip[0] = NT_EP4_1;
	c.ep_ip[1] = NT_EP4_2;
	c.neps = 2;
	c.ep_port = 8080;
	c.srv[0] = nt_server(NT_EP4_1, 8080, SOCK_STREAM);
	c.srv[1] = nt_server(NT_EP4_2, 8080, SOCK_STREAM);
	cr_assert(node_service_set(nt.node, &a, 3, 0, 0) == 0);
	cr_assert(node_backends_set(nt.node, 3, eps, 2) == 0);
	nt_run(split_client);
}

/* Connects once to c.svc_ip[0]:c.svc_port[0] and returns the index of
 * the endpoint that got the connection (checked against explain, whose
 * choice and affinity flag go to *ch). */
static int connect_once(struct node_choice *ch)
{
	struct node_svc_addr a =
		nt_svc(c.svc_ip[0], c.svc_port[0], IPPROTO_TCP);
	struct sockaddr_storage svc, seen;
	socklen_t len = nt_sa(&svc, c.svc_ip[0], c.svc_port[0]);
	int fd = socket(svc.ss_family, SOCK_STREAM, 0), k, i, err, afd, want;

	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	err = node_explain(nt.node, &a, nt_cookie(fd), nt_netns_cookie(fd), ch);
	NT_CHECK(err == 0, "explain: %s", strerror(-err));
	NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0, "connect: %s",
		 strerror(errno));
	for (k = 0; k < c.neps; k++)
		if (nt_readable(c.srv[k], 0))
			break;
	NT_CHECK(k < c.neps, "no endpoint got the connection");
	afd = accept_on(c.srv[k], &seen);
	close(afd);
	close(fd);
	for (i = 0; i < c.neps; i++)
		NT_CHECK(!nt_readable(c.srv[i], 0), "two connections");
	want = -1;
	for (i = 0; i < c.neps; i++) {
		struct node_endpoint e =
			nt_ep(c.ep_ip[i], c.ep_port, 1, 1, 1, 0);

		if (ch->port == e.port &&
		    !memcmp(&ch->addr, &e.addr, sizeof(e.addr)))
			want = i;
	}
	NT_CHECK(k == want, "the connection went to %d, explain said %d", k,
		 want);
	return k;
}

static int aff_first;

/* ClientIP affinity: every connect of this netns goes where the first
 * went, from its affinity entry, as explain says. */
static void affinity_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct node_choice ch;
	int i, k;

	nt_counters(before);
	k = connect_once(&ch);
	NT_CHECK(!ch.affinity, "an affinity entry before the first connect");
	aff_first = k;
	for (i = 0; i < 20; i++) {
		int got = connect_once(&ch);

		NT_CHECK(ch.affinity, "explain: not from the affinity entry");
		NT_CHECK(got == k, "connect %d went to %d, the first to %d", i,
			 got, k);
	}
	nt_counters(after);
	NT_CHECK(delta(after, before, LBD_NODE_AFFINITY_HIT) == 20,
		 "affinity_hit %llu",
		 (unsigned long long)delta(after, before,
					   LBD_NODE_AFFINITY_HIT));
}

/* After the test moved the entry to another endpoint: still fresh, it
 * is followed; aged past the timeout, the hash's choice again. */
static int aff_forced;
static void affinity_forced_client(void)
{
	struct node_choice ch;

	NT_CHECK(connect_once(&ch) == aff_forced && ch.affinity,
		 "a fresh entry was not followed");
}

static void affinity_stale_client(void)
{
	struct node_choice ch;
	int k = connect_once(&ch);

	NT_CHECK(!ch.affinity && k == aff_first,
		 "an entry past its timeout was followed (to %d)", k);
}

/* Rewrites the one affinity entry of the test: backend id and age. */
static void affinity_rewrite(int ep, __u32 age)
{
	int fd = node_affinity_fd(nt.node);
	struct lbd_node_aff_key key, next;
	struct node_choice ch;
	struct lbd_aff v;
	struct timespec ts;
	struct node_svc_addr a;

	cr_assert(bpf_map_get_next_key(fd, NULL, &key) == 0, "no entry");
	cr_assert(bpf_map_get_next_key(fd, &key, &next) != 0, "two entries");
	cr_assert(bpf_map_lookup_elem(fd, &key, &v) == 0);
	/* the backend id of endpoint ep: explain with affinity off */
	a = nt_svc(c.svc_ip[0], c.svc_port[0], IPPROTO_TCP);
	cr_assert(node_service_set(nt.node, &a, 4, 0, 0) == 0);
	for (__u64 ck = 1;; ck++) {
		cr_assert(node_explain(nt.node, &a, ck, 0, &ch) == 0);
		if (ch.addr.v4 == nt_ep(c.ep_ip[ep], 80, 1, 1, 1, 0).addr.v4)
			break;
		cr_assert(ck < 10000, "endpoint %d in no slot", ep);
	}
	cr_assert(node_service_set(nt.node, &a, 4, LBD_NODE_SVC_F_AFFINITY,
				   600) == 0);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	v.backend_id = ch.backend_id;
	v.last_seen = (__u32)ts.tv_sec - age;
	cr_assert(bpf_map_update_elem(fd, &key, &v, BPF_EXIST) == 0);
}

/* The endpoint (index into eps) of the one affinity entry there is, as
 * explain follows it (aff_first as the child found it, in the test's
 * process). */
static int aff_entry_endpoint(const struct node_svc_addr *a,
			      const struct node_endpoint *eps)
{
	struct lbd_node_aff_key key;
	struct node_choice ch;
	int i;

	cr_assert(bpf_map_get_next_key(node_affinity_fd(nt.node), NULL, &key) ==
		  0);
	cr_assert(node_explain(nt.node, a, 0, key.netns_cookie, &ch) == 0);
	cr_assert(ch.affinity);
	for (i = 0; i < 3; i++)
		if (ch.addr.v4 == eps[i].addr.v4)
			return i;
	return -1;
}

Test(node_sock, clientip_affinity_keeps_a_client_on_its_endpoint)
{
	struct node_svc_addr a = nt_svc("10.96.0.40", 80, IPPROTO_TCP);
	struct node_endpoint eps[3];
	int i;

	memset(&c, 0, sizeof(c));
	c.svc_ip[0] = "10.96.0.40";
	c.svc_port[0] = 80;
	c.ep_ip[0] = NT_EP4_1;
	c.ep_ip[1] = NT_EP4_2;
	c.ep_ip[2] = NT_EP4_3;
	c.neps = 3;
	c.ep_port = 8080;
	for (i = 0; i < 3; i++) {
		eps[i] = nt_ep(c.ep_ip[i], 8080, 1, true, true, false);
		c.srv[i] = nt_server(c.ep_ip[i], 8080, SOCK_STREAM);
	}
	cr_assert(node_service_set(nt.node, &a, 4, LBD_NODE_SVC_F_AFFINITY,
				   600) == 0);
	cr_assert(node_backends_set(nt.node, 4, eps, 3) == 0);
	nt_run(affinity_client);
	aff_first = aff_entry_endpoint(&a, eps);
	cr_assert(aff_first >= 0);
	/* another endpoint, seen 599 s ago: followed (timeout 600) */
	aff_forced = (aff_first + 1) % 3;
	affinity_rewrite(aff_forced, 599);
	nt_run(affinity_forced_client);
	/* seen 601 s ago: past the timeout, the hash decides again */
	affinity_rewrite(aff_forced, 601);
	nt_run(affinity_stale_client);
}

static int fallback_want;

static void fallback_client(void)
{
	struct node_choice ch;
	int i;

	for (i = 0; i < 10; i++) {
		int k = connect_once(&ch);

		NT_CHECK(k == fallback_want, "connect %d went to %d, not %d", i,
			 k, fallback_want);
	}
}

/* Ready endpoints take new connections; with none ready, the serving
 * and terminating ones do (kube-proxy >= 1.26), never one that is
 * terminating and no longer serving. */
Test(node_sock, terminating_endpoints_serve_only_when_none_is_ready)
{
	struct node_svc_addr a = nt_svc("10.96.0.50", 80, IPPROTO_TCP);
	struct node_endpoint eps[3];
	int i;

	memset(&c, 0, sizeof(c));
	c.svc_ip[0] = "10.96.0.50";
	c.svc_port[0] = 80;
	c.ep_ip[0] = NT_EP4_1;
	c.ep_ip[1] = NT_EP4_2;
	c.ep_ip[2] = NT_EP4_3;
	c.neps = 3;
	c.ep_port = 8080;
	for (i = 0; i < 3; i++)
		c.srv[i] = nt_server(c.ep_ip[i], 8080, SOCK_STREAM);
	cr_assert(node_service_set(nt.node, &a, 5, 0, 0) == 0);
	/* 0 serving and terminating, 1 terminating only, 2 ready */
	eps[0] = nt_ep(NT_EP4_1, 8080, 1, false, true, true);
	eps[1] = nt_ep(NT_EP4_2, 8080, 1, false, false, true);
	eps[2] = nt_ep(NT_EP4_3, 8080, 1, true, true, false);
	cr_assert(node_backends_set(nt.node, 5, eps, 3) == 0);
	fallback_want = 2;
	nt_run(fallback_client);
	/* the ready one goes: the serving and terminating one takes them */
	cr_assert(node_backends_set(nt.node, 5, eps, 2) == 0);
	fallback_want = 0;
	nt_run(fallback_client);
}

static void refused_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct sockaddr_storage svc;
	struct node_svc_addr a;
	struct node_choice ch;
	socklen_t len;
	int s, fd;

	nt_counters(before);
	for (s = 0; s < c.nsvc; s++) {
		int type = s == 2 ? SOCK_DGRAM : SOCK_STREAM;

		len = nt_sa(&svc, c.svc_ip[s], c.svc_port[s]);
		a = nt_svc(c.svc_ip[s], c.svc_port[s],
			   type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP);
		fd = socket(svc.ss_family, type, 0);
		NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
		NT_CHECK(node_explain(nt.node, &a, nt_cookie(fd), 0, &ch) ==
				 -EHOSTUNREACH,
			 "explain did not say no endpoint");
		errno = 0;
		if (type == SOCK_STREAM)
			NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) <
						 0 &&
					 errno == ECONNREFUSED,
				 "connect %s: %s", nt_sa_str(&svc),
				 strerror(errno));
		else
			NT_CHECK(sendto(fd, "q", 1, 0, (struct sockaddr *)&svc,
					len) < 0 &&
					 errno == ECONNREFUSED,
				 "sendto %s: %s", nt_sa_str(&svc),
				 strerror(errno));
		close(fd);
	}
	nt_counters(after);
	NT_CHECK(delta(after, before, LBD_NODE_NO_ENDPOINT) == 3,
		 "no_endpoint %llu",
		 (unsigned long long)delta(after, before,
					   LBD_NODE_NO_ENDPOINT));
}

/* A Service port without endpoint: connect() and sendto() fail with
 * ECONNREFUSED (what kube-proxy's REJECT gives), v4 and v6; one whose
 * endpoints all left too. */
Test(node_sock, no_endpoint_refuses_with_econnrefused)
{
	struct node_svc_addr a;
	struct node_endpoint ep = nt_ep(NT_EP4_1, 8080, 1, true, true, false);

	memset(&c, 0, sizeof(c));
	c.svc_ip[0] = "10.96.0.60";
	c.svc_ip[1] = "2001:db8:96::60";
	c.svc_ip[2] = "10.96.0.61";
	c.svc_port[0] = c.svc_port[1] = c.svc_port[2] = 80;
	c.nsvc = 3;
	a = nt_svc(c.svc_ip[0], 80, IPPROTO_TCP);
	cr_assert(node_service_set(nt.node, &a, 6, 0, 0) == 0);
	a = nt_svc(c.svc_ip[1], 80, IPPROTO_TCP);
	cr_assert(node_service_set(nt.node, &a, 7, 0, 0) == 0);
	a = nt_svc(c.svc_ip[2], 80, IPPROTO_UDP);
	cr_assert(node_service_set(nt.node, &a, 8, 0, 0) == 0);
	/* 6: never had one; 8: had one, it left */
	cr_assert(node_backends_set(nt.node, 8, &ep, 1) == 0);
	cr_assert(node_backends_set(nt.node, 8, NULL, 0) == 0);
	nt_run(refused_client);
}

static void bind_client(void)
{
	static const struct {
		const char *ip;
		int port, type, err;
	} cases[] = {
		{ "0.0.0.0", 30080, SOCK_STREAM, EPERM },
		{ NT_NODE4, 30080, SOCK_STREAM, EPERM },
		{ "::", 30080, SOCK_STREAM, EPERM },
		{ NT_EP6_1, 30080, SOCK_STREAM, EPERM },
		{ "0.0.0.0", 30080, SOCK_DGRAM, 0 }, /* TCP's only */
		{ "0.0.0.0", 30081, SOCK_STREAM, 0 },
		{ "::", 30081, SOCK_DGRAM, EPERM },
		{ "0.0.0.0", 0, SOCK_STREAM, 0 },
		{ "0.0.0.0", 30082, SOCK_STREAM, 0 }, /* guarded, freed */
	};
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct sockaddr_storage ss;
	unsigned int i;

	nt_counters(before);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		socklen_t len = nt_sa(&ss, cases[i].ip, cases[i].port);
		int fd = socket(ss.ss_family, cases[i].type, 0), r;

		NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
		errno = 0;
		r = bind(fd, (struct sockaddr *)&ss, len);
		NT_CHECK(cases[i].err ? r < 0 && errno == cases[i].err : r == 0,
			 "bind %s (%s): %s", nt_sa_str(&ss),
			 cases[i].type == SOCK_STREAM ? "tcp" : "udp",
			 strerror(errno));
		close(fd);
	}
	nt_counters(after);
	NT_CHECK(delta(after, before, LBD_NODE_BIND_REFUSED) == 5,
		 "bind_refused %llu",
		 (unsigned long long)delta(after, before,
					   LBD_NODE_BIND_REFUSED));
}

static void bind_free_client(void)
{
	struct sockaddr_storage ss;
	socklen_t len = nt_sa(&ss, "0.0.0.0", 30080);
	int t = socket(AF_INET, SOCK_STREAM, 0),
	    u = socket(AF_INET, SOCK_DGRAM, 0);

	NT_CHECK(bind(t, (struct sockaddr *)&ss, len) == 0, "bind tcp: %s",
		 strerror(errno));
	len = nt_sa(&ss, "::", 30081);
	close(u);
	u = socket(AF_INET6, SOCK_DGRAM, 0);
	NT_CHECK(bind(u, (struct sockaddr *)&ss, len) == 0, "bind udp: %s",
		 strerror(errno));
	close(t);
	close(u);
}

/* A guarded NodePort: no bind() to it on any address, v4 or v6, for its
 * protocol; other ports and protocols bind. */
Test(node_sock, bind_to_a_guarded_nodeport_is_refused)
{
	cr_assert(node_nodeport_guard_set(nt.node, htons(30080), IPPROTO_TCP,
					  true) == 0);
	cr_assert(node_nodeport_guard_set(nt.node, htons(30081), IPPROTO_UDP,
					  true) == 0);
	cr_assert(node_nodeport_guard_set(nt.node, htons(30082), IPPROTO_TCP,
					  true) == 0);
	cr_assert(node_nodeport_guard_set(nt.node, htons(30082), IPPROTO_TCP,
					  false) == 0);
	nt_run(bind_client);
	/* freed: binds */
	cr_assert(node_nodeport_guard_set(nt.node, htons(30080), IPPROTO_TCP,
					  false) == 0);
	cr_assert(node_nodeport_guard_set(nt.node, htons(30081), IPPROTO_UDP,
					  false) == 0);
	nt_run(bind_free_client);
}

/*
 * BPF_PROG_TEST_RUN has no runner for cgroup sock_addr programs (6.18:
 * ENOTSUPP, 524), so the tests above on real sockets are their datapath
 * tests. Should a kernel run them, this fails: time to add byte-exact
 * tests of the context the programs write.
 */
Test(node_sock, prog_test_run_does_not_run_sock_addr_programs)
{
	struct node_sock *skel = node_sock__open_and_load();
	struct bpf_sock_addr ctx = { .user_family = AF_INET };
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx));
	int err;

	cr_assert(skel);
	err = bpf_prog_test_run_opts(
		bpf_program__fd(skel->progs.lbd_node_connect4), &o);
	node_sock__destroy(skel);
	cr_assert(err == -524, "BPF_PROG_TEST_RUN: %d", err);
}

static int gone;

static void affinity_gone_client(void)
{
	struct node_choice ch;
	int k = connect_once(&ch);

	NT_CHECK(!ch.affinity, "explain followed the stale entry");
	NT_CHECK(k != gone, "connect went to the endpoint that left");
}

/* An affinity entry whose endpoint left is not followed, nor is it once
 * the endpoint is back with its backend id given again (another gen).
 * The entry is pointed at an endpoint the hash does not choose, so that
 * following it shows. */
Test(node_sock, affinity_to_an_endpoint_that_left_is_not_followed)
{
	struct node_svc_addr a = nt_svc("10.96.0.70", 80, IPPROTO_TCP);
	struct node_endpoint eps[3], rest[2];
	struct lbd_node_aff_key key;
	struct lbd_aff saved;
	int fd, i, j;

	memset(&c, 0, sizeof(c));
	c.svc_ip[0] = "10.96.0.70";
	c.svc_port[0] = 80;
	c.ep_ip[0] = NT_EP4_1;
	c.ep_ip[1] = NT_EP4_2;
	c.ep_ip[2] = NT_EP4_3;
	c.neps = 3;
	c.ep_port = 8080;
	for (i = 0; i < 3; i++) {
		eps[i] = nt_ep(c.ep_ip[i], 8080, 1, true, true, false);
		c.srv[i] = nt_server(c.ep_ip[i], 8080, SOCK_STREAM);
	}
	/* id 4: what affinity_rewrite works on */
	cr_assert(node_service_set(nt.node, &a, 4, LBD_NODE_SVC_F_AFFINITY,
				   600) == 0);
	cr_assert(node_backends_set(nt.node, 4, eps, 3) == 0);
	nt_run(affinity_client);
	/* the hash's choice (the first connect had no entry) */
	aff_first = aff_entry_endpoint(&a, eps);
	cr_assert(aff_first >= 0);
	gone = (aff_first + 1) % 3;
	affinity_rewrite(gone, 0);
	fd = node_affinity_fd(nt.node);
	cr_assert(bpf_map_get_next_key(fd, NULL, &key) == 0);
	cr_assert(bpf_map_lookup_elem(fd, &key, &saved) == 0);
	for (i = 0, j = 0; i < 3; i++)
		if (i != gone)
			rest[j++] = eps[i];
	/* the endpoint leaves */
	cr_assert(node_backends_set(nt.node, 4, rest, 2) == 0);
	nt_run(affinity_gone_client);
	/* it comes back, with its old id (the last freed is given first)
	 * and another gen; the client's old entry is put back */
	cr_assert(node_backends_set(nt.node, 4, eps, 3) == 0);
	cr_assert(bpf_map_update_elem(fd, &key, &saved, BPF_EXIST) == 0);
	nt_run(affinity_gone_client);
}
