/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's socket programs on real sockets. The test binary runs
 * in a network namespace of its own (main.c); every test gets a cgroup
 * of its own under the cgroup v2 root with the programs attached (the
 * fixture), and runs its client in a child process that joins that
 * cgroup (nt_run). Servers are sockets the test process made before,
 * outside the cgroup, which the child inherits: it checks what they
 * receive itself, so nothing runs concurrently.
 */
#ifndef LBD_TEST_NODE_HARNESS_H
#define LBD_TEST_NODE_HARNESS_H

#include <stdbool.h>
#include <sys/socket.h>
#include <linux/types.h>

#include "node.h"

/* Addresses the namespace has on lo (main.c): endpoints and a node
 * address. Service addresses (10.96.0.0/16, 198.19.0.0/16,
 * 2001:db8:96::/48) are on no interface. */
#define NT_EP4_1 "198.18.0.1"
#define NT_EP4_2 "198.18.0.2"
#define NT_EP4_3 "198.18.0.3"
#define NT_NODE4 "198.18.0.10"
#define NT_EP6_1 "2001:db8::1"
#define NT_EP6_2 "2001:db8::2"
#define NT_EP6_3 "2001:db8::3"

struct nt {
	struct lbd_node *node;
	char cgroup[4096];
};
extern struct nt nt;

/* Namespace set-up (main.c, before any test). */
int nt_env_init(void);
/* The fixture: programs loaded and attached to a fresh cgroup; undone,
 * cgroup removed, whatever the test did. */
void nt_setup(void);
void nt_teardown(void);

/* Runs fn in a child process in the test's cgroup (bounded by an alarm)
 * and fails the test with the child's message if a check failed. */
void nt_run(void (*fn)(void));

/* In the child: a failed check ends it with a message for the test. */
void nt_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
#define NT_CHECK(cond, fmt, ...)                                       \
	do {                                                           \
		if (!(cond))                                           \
			nt_fail(__FILE__, __LINE__, "%s: " fmt, #cond, \
				##__VA_ARGS__);                        \
	} while (0)

/* Builders (abort the test on a bad literal). */
struct node_svc_addr nt_svc(const char *ip, int port, int proto);
struct node_endpoint nt_ep(const char *ip, int port, int weight, bool ready,
			   bool serving, bool terminating);
/* A sockaddr for ip:port; returns its length. */
socklen_t nt_sa(struct sockaddr_storage *ss, const char *ip, int port);
bool nt_sa_eq(const struct sockaddr_storage *a,
	      const struct sockaddr_storage *b);
const char *nt_sa_str(const struct sockaddr_storage *ss);
/* A server socket (SOCK_STREAM listening, or SOCK_DGRAM) on ip:port. */
int nt_server(const char *ip, int port, int type);
/* Whether fd becomes readable within ms milliseconds. */
bool nt_readable(int fd, int ms);
__u64 nt_cookie(int fd);
__u64 nt_netns_cookie(int fd);
/* The counters of the programs, summed. */
void nt_counters(__u64 out[LBD_NODE_REASON_MAX]);

#endif /* LBD_TEST_NODE_HARNESS_H */
