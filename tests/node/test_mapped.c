// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * IPv4-mapped IPv6 on real sockets: a dual-stack AF_INET6 socket that
 * connects or sends to ::ffff:<IPv4 ClusterIP> reaches the IPv4
 * Service's endpoint (the kernel then carries it as IPv4), sees the
 * Service as ::ffff:<ClusterIP> in getpeername() and as the source of
 * UDP replies, as node_explain predicted; an IPv6 endpoint of an IPv4
 * Service is refused as it is to an AF_INET socket.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "harness.h"

TestSuite(node_mapped, .init = nt_setup, .fini = nt_teardown);

#define MP_SVC4 "10.96.1.10"
#define MP_SVC_MAPPED "::ffff:10.96.1.10"

static struct {
	const char *ep_ip[2];
	int ep_port, svc_port, proto;
	int srv[2];
} m;

/* The endpoint node_explain predicts for the mapped Service address and
 * socket fd (index into m.ep_ip); -1 with its error in *err. */
static int mp_explain(int fd, int *err)
{
	struct node_svc_addr a = nt_svc(MP_SVC_MAPPED, m.svc_port, m.proto);
	struct node_choice ch;
	int i;

	*err = node_explain(nt.node, &a, nt_cookie(fd), nt_netns_cookie(fd),
			    &ch);
	if (*err)
		return -1;
	NT_CHECK(ch.family == LBD_AF_INET, "explain: family %u", ch.family);
	for (i = 0; i < 2; i++) {
		struct node_endpoint e =
			nt_ep(m.ep_ip[i], m.ep_port, 1, 1, 1, 0);

		if (ch.port == e.port && ch.addr.v4 == e.addr.v4)
			return i;
	}
	nt_fail(__FILE__, __LINE__, "explain named no endpoint of the test");
}

/* Whether the IPv4 address and port an endpoint saw (v4) is the mapped
 * address and port of the client's socket (mapped). */
static bool mp_same_client(const struct sockaddr_storage *v4,
			   const struct sockaddr_storage *mapped)
{
	const struct sockaddr_in *a = (const void *)v4;
	const struct sockaddr_in6 *b = (const void *)mapped;

	return v4->ss_family == AF_INET && mapped->ss_family == AF_INET6 &&
	       IN6_IS_ADDR_V4MAPPED(&b->sin6_addr) &&
	       a->sin_addr.s_addr == b->sin6_addr.s6_addr32[3] &&
	       a->sin_port == b->sin6_port;
}

static void mp_setup(int proto, int svc_port, int ep_port)
{
	struct node_svc_addr a = nt_svc(MP_SVC4, svc_port, proto);
	struct node_endpoint eps[2];
	int i, type = proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM;

	memset(&m, 0, sizeof(m));
	m.ep_ip[0] = NT_EP4_1;
	m.ep_ip[1] = NT_EP4_2;
	m.ep_port = ep_port;
	m.svc_port = svc_port;
	m.proto = proto;
	cr_assert(node_service_set(nt.node, &a, 1, 0, 0) == 0);
	for (i = 0; i < 2; i++) {
		eps[i] = nt_ep(m.ep_ip[i], ep_port, 1, true, true, false);
		m.srv[i] = nt_server(m.ep_ip[i], ep_port, type);
	}
	cr_assert(node_backends_set(nt.node, 1, eps, 2) == 0);
}

static __u64 mp_delta(const __u64 *after, const __u64 *before,
		      enum lbd_node_reason r)
{
	return after[r] - before[r];
}

static void tcp_mapped_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct sockaddr_storage svc, peer, local, seen;
	socklen_t len = nt_sa(&svc, MP_SVC_MAPPED, m.svc_port), l;
	int i, k, err, afd, fd;

	nt_counters(before);
	for (i = 0; i < 8; i++) {
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
		k = mp_explain(fd, &err);
		NT_CHECK(k >= 0, "explain: %s", strerror(-err));
		NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0,
			 "connect %s: %s", nt_sa_str(&svc), strerror(errno));
		l = sizeof(peer);
		NT_CHECK(getpeername(fd, (struct sockaddr *)&peer, &l) == 0,
			 "getpeername: %s", strerror(errno));
		NT_CHECK(nt_sa_eq(&peer, &svc), "getpeername %s, not %s",
			 nt_sa_str(&peer), nt_sa_str(&svc));
		l = sizeof(local);
		getsockname(fd, (struct sockaddr *)&local, &l);
		NT_CHECK(nt_readable(m.srv[k], 5000),
			 "no connection at endpoint %d (explain's)", k);
		l = sizeof(seen);
		afd = accept(m.srv[k], (struct sockaddr *)&seen, &l);
		NT_CHECK(afd >= 0, "accept: %s", strerror(errno));
		NT_CHECK(mp_same_client(&seen, &local),
			 "endpoint %d saw %s, the client is %s", k,
			 nt_sa_str(&seen), nt_sa_str(&local));
		NT_CHECK(!nt_readable(m.srv[!k], 0),
			 "endpoint %d got a connection too", !k);
		close(afd);
		close(fd);
	}
	nt_counters(after);
	NT_CHECK(mp_delta(after, before, LBD_NODE_CONNECT_XLATED) == 8,
		 "connect_xlated %llu",
		 (unsigned long long)mp_delta(after, before,
					      LBD_NODE_CONNECT_XLATED));
	NT_CHECK(mp_delta(after, before, LBD_NODE_PEER_REV_HIT) == 8,
		 "getpeername_rev_hit %llu",
		 (unsigned long long)mp_delta(after, before,
					      LBD_NODE_PEER_REV_HIT));
}

Test(node_mapped, tcp_to_a_v4_mapped_clusterip_reaches_the_v4_endpoint)
{
	mp_setup(IPPROTO_TCP, 80, 8080);
	nt_run(tcp_mapped_client);
}

/* A datagram from fd (to `to`, or connected) arrives at endpoint k from
 * the client; the endpoint's reply reaches the client from svc. */
static void udp_mapped_exchange(int fd, const struct sockaddr_storage *to,
				socklen_t tolen,
				const struct sockaddr_storage *svc, int k)
{
	struct sockaddr_storage from, local;
	socklen_t len;
	char buf[16];
	ssize_t r;

	r = to ? sendto(fd, "query", 5, 0, (const struct sockaddr *)to, tolen) :
		 send(fd, "query", 5, 0);
	NT_CHECK(r == 5, "send: %s", strerror(errno));
	NT_CHECK(nt_readable(m.srv[k], 5000), "nothing at endpoint %d", k);
	NT_CHECK(!nt_readable(m.srv[!k], 0), "endpoint %d got one too", !k);
	len = sizeof(from);
	r = recvfrom(m.srv[k], buf, sizeof(buf), 0, (struct sockaddr *)&from,
		     &len);
	NT_CHECK(r == 5 && !memcmp(buf, "query", 5), "endpoint got %zd", r);
	len = sizeof(local);
	getsockname(fd, (struct sockaddr *)&local, &len);
	/* unbound: the port is what the endpoint must have seen */
	NT_CHECK(((struct sockaddr_in *)&from)->sin_port ==
			 ((struct sockaddr_in6 *)&local)->sin6_port,
		 "endpoint saw %s, the client is %s", nt_sa_str(&from),
		 nt_sa_str(&local));
	NT_CHECK(sendto(m.srv[k], "reply", 5, 0, (struct sockaddr *)&from,
			sizeof(struct sockaddr_in)) == 5,
		 "reply: %s", strerror(errno));
	NT_CHECK(nt_readable(fd, 5000), "no reply at the client");
	len = sizeof(from);
	r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	NT_CHECK(r == 5 && !memcmp(buf, "reply", 5), "client got %zd", r);
	NT_CHECK(nt_sa_eq(&from, svc), "reply from %s, not from %s",
		 nt_sa_str(&from), nt_sa_str(svc));
}

static void udp_mapped_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct sockaddr_storage svc, peer;
	socklen_t len = nt_sa(&svc, MP_SVC_MAPPED, m.svc_port), l;
	int fd, k, err;

	nt_counters(before);
	/* unconnected: the kernel hands a mapped destination to IPv4's
	 * sendmsg (the sendmsg4 hook), the reply to recvmsg6 */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	k = mp_explain(fd, &err);
	NT_CHECK(k >= 0, "explain: %s", strerror(-err));
	udp_mapped_exchange(fd, &svc, len, &svc, k);
	udp_mapped_exchange(fd, &svc, len, &svc, k);
	close(fd);
	/* connected: connect6 and getpeername6 */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	k = mp_explain(fd, &err);
	NT_CHECK(k >= 0, "explain: %s", strerror(-err));
	NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) == 0, "connect: %s",
		 strerror(errno));
	l = sizeof(peer);
	NT_CHECK(getpeername(fd, (struct sockaddr *)&peer, &l) == 0 &&
			 nt_sa_eq(&peer, &svc),
		 "getpeername %s", nt_sa_str(&peer));
	udp_mapped_exchange(fd, NULL, 0, &svc, k);
	close(fd);
	nt_counters(after);
	NT_CHECK(mp_delta(after, before, LBD_NODE_SENDMSG_XLATED) == 2,
		 "sendmsg_xlated %llu",
		 (unsigned long long)mp_delta(after, before,
					      LBD_NODE_SENDMSG_XLATED));
	NT_CHECK(mp_delta(after, before, LBD_NODE_CONNECT_XLATED) == 1,
		 "connect_xlated wrong");
	NT_CHECK(mp_delta(after, before, LBD_NODE_RECVMSG_REV_HIT) == 3,
		 "recvmsg_rev_hit %llu",
		 (unsigned long long)mp_delta(after, before,
					      LBD_NODE_RECVMSG_REV_HIT));
}

Test(node_mapped, udp_to_a_v4_mapped_clusterip_replies_from_it)
{
	mp_setup(IPPROTO_UDP, 53, 5353);
	nt_run(udp_mapped_client);
}

static void family_client(void)
{
	__u64 before[LBD_NODE_REASON_MAX], after[LBD_NODE_REASON_MAX];
	struct sockaddr_storage svc;
	struct node_svc_addr a = nt_svc(MP_SVC_MAPPED, 80, IPPROTO_TCP);
	struct node_choice ch;
	socklen_t len = nt_sa(&svc, MP_SVC_MAPPED, 80);
	int fd = socket(AF_INET6, SOCK_STREAM, 0);

	NT_CHECK(fd >= 0, "socket: %s", strerror(errno));
	NT_CHECK(node_explain(nt.node, &a, nt_cookie(fd), 0, &ch) ==
			 -EHOSTUNREACH,
		 "explain did not say refused");
	nt_counters(before);
	errno = 0;
	NT_CHECK(connect(fd, (struct sockaddr *)&svc, len) < 0 &&
			 errno == ECONNREFUSED,
		 "connect %s: %s", nt_sa_str(&svc), strerror(errno));
	close(fd);
	nt_counters(after);
	NT_CHECK(mp_delta(after, before, LBD_NODE_FAMILY) == 1,
		 "endpoint_family %llu",
		 (unsigned long long)mp_delta(after, before, LBD_NODE_FAMILY));
}

/* The IPv4 Service's endpoint is IPv6: a mapped connect is refused as
 * an AF_INET socket's is, not sent to the IPv6 address. */
Test(node_mapped, v6_endpoint_of_a_v4_service_stays_refused_when_mapped)
{
	struct node_svc_addr a = nt_svc(MP_SVC4, 80, IPPROTO_TCP);
	struct node_endpoint ep = nt_ep(NT_EP6_1, 8080, 1, true, true, false);

	memset(&m, 0, sizeof(m));
	m.srv[0] = nt_server(NT_EP6_1, 8080, SOCK_STREAM);
	cr_assert(node_service_set(nt.node, &a, 1, 0, 0) == 0);
	cr_assert(node_backends_set(nt.node, 1, &ep, 1) == 0);
	nt_run(family_client);
	cr_assert(!nt_readable(m.srv[0], 0), "the v6 endpoint got it");
}
