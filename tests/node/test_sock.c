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
