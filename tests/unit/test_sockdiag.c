// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The backend's report of its connections (lbd/dp/sockdiag.c), against real
 * TCP sockets on the loopback: accepted connections of a listener's port
 * count, by local address and port, until they reach TIME-WAIT; the
 * connecting side (an ephemeral port no listener has) does not.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockdiag.h"

/* The count for 127.0.0.1:port; 0 when not listed. */
static __u32 count_of(__u16 port)
{
	struct sockdiag_count *c;
	__u32 r = 0;
	size_t i, n;

	cr_assert_eq(sockdiag_connections(&c, &n), 0);
	for (i = 0; i < n; i++) {
		if (c[i].family == LBD_AF_INET &&
		    c[i].addr.v4 == htonl(INADDR_LOOPBACK) && c[i].port == port)
			r = c[i].connections;
		if (i)
			cr_assert(memcmp(&c[i - 1], &c[i], sizeof(c[i])),
				  "one entry per address and port");
	}
	free(c);
	return r;
}

/* Waits up to 5 s for the count of port to be want. */
static void wait_count(__u16 port, __u32 want)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	__u32 got = 0;
	int i;

	for (i = 0; i < 500; i++) {
		got = count_of(port);
		if (got == want)
			return;
		nanosleep(&pause, NULL);
	}
	cr_assert_fail("port %u: %u connections, want %u", port, got, want);
}

Test(sockdiag, counts_a_listeners_live_connections_not_time_wait)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, cl[3], sv[3], i, one = 1;
	__u16 port, cport;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(l, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 8), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	cr_assert_eq(count_of(port), 0, "a listener alone is no connection");
	for (i = 0; i < 3; i++) {
		cl[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(cl[i], (struct sockaddr *)&a, sizeof(a)),
			     0);
		sv[i] = accept(l, NULL, NULL);
		cr_assert_geq(sv[i], 0);
	}
	wait_count(port, 3);
	/* the clients' side: their ports have no listener */
	alen = sizeof(a);
	cr_assert_eq(getsockname(cl[0], (struct sockaddr *)&a, &alen), 0);
	cport = ntohs(a.sin_port);
	cr_assert_eq(count_of(cport), 0);
	/* the client closes first: the server's socket is in CLOSE-WAIT,
	 * a connection its application still holds */
	close(cl[0]);
	wait_count(port, 3);
	close(sv[0]);
	wait_count(port, 2);
	/* the server closes first: it ends in TIME-WAIT, not counted */
	close(sv[1]);
	close(cl[1]);
	wait_count(port, 1);
	close(sv[2]);
	close(cl[2]);
	wait_count(port, 0);
	close(l);
}
