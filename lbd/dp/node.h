/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's socket-level load balancing, userspace side: loading
 * the cgroup sock_addr programs (bpf/node/sock.bpf.c), attaching them to
 * a cgroup v2 path, and every map write they need: Service addresses,
 * endpoints (Maglev tables with weights), guarded NodePorts; and
 * node_explain, which predicts the endpoint of a connect() with the
 * programs' own hash.
 *
 * Library code: functions return 0 or a negative errno and never exit.
 * Nothing is pinned yet: the maps and attachments live as long as the
 * struct lbd_node (adoption across restarts is the daemon's part).
 */
#ifndef LBD_DP_NODE_H
#define LBD_DP_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "lbd/shared.h"

struct node_opts {
	__u32 max_services; /* Service port ids: 0 .. max_services - 1 */
	__u32 max_addrs; /* entries of lbd_node_svc4 and of lbd_node_svc6 */
	__u32 max_backends;
	__u32 rev_entries;
	__u32 affinity_entries;
	/* the smallest Maglev table; a Service port gets the smallest
	 * prime of node.c's list that is at least this and 100 slots per
	 * endpoint (Maglev paper, section 3.4: imbalance under 1%) */
	__u32 maglev_min;
	__u32 hash_seed;
};

void node_opts_default(struct node_opts *o);

struct lbd_node;

/* Loads the programs with their maps (empty); not attached yet. */
int node_open(const struct node_opts *o, struct lbd_node **out);
/* Detaches and frees everything. */
void node_close(struct lbd_node *n);

/*
 * Attaches every program to the cgroup v2 directory path (with bpf
 * links: they go when n is closed or the process exits). -EBUSY when
 * attached already; on failure nothing stays attached.
 */
int node_attach(struct lbd_node *n, const char *cgroup_path);
/* Detaches the programs; 0 when they were not attached. */
int node_detach(struct lbd_node *n);

/* An address of a Service port: ClusterIP, external IP, LoadBalancer
 * IP, or a node address with the NodePort. */
struct node_svc_addr {
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__be16 port;
	union lbd_addr addr; /* IPv4: first 4 bytes, the rest zero */
};

/* Makes a an address of Service port svc_id (flags LBD_NODE_SVC_F_*,
 * affinity_timeout in seconds with LBD_NODE_SVC_F_AFFINITY). */
int node_service_set(struct lbd_node *n, const struct node_svc_addr *a,
		     __u32 svc_id, __u32 flags, __u32 affinity_timeout);
/* Removes one address; -ENOENT when it was not one. */
int node_service_del(struct lbd_node *n, const struct node_svc_addr *a);

/* An endpoint of a Service port, with its EndpointSlice conditions. */
struct node_endpoint {
	union lbd_addr addr;
	__u8 family;
	bool ready;
	bool serving;
	bool terminating;
	__be16 port; /* the target port */
	__u16 weight; /* 0: takes no new connections */
};

/*
 * Sets the endpoints of Service port svc_id. New connections go to the
 * ready ones; when none is ready, to the serving and terminating ones
 * (kube-proxy since 1.26); to none otherwise (connect() gets
 * ECONNREFUSED). Weights as Maglev weights. An endpoint that stays keeps
 * its backend id (and so its affinity entries); the table is replaced
 * whole before the backends that left are freed. eps == NULL, n == 0:
 * no endpoint.
 */
int node_backends_set(struct lbd_node *n, __u32 svc_id,
		      const struct node_endpoint *eps, size_t count);

/* Guards (on) or frees a NodePort: a bind() to it, on any address, by a
 * process of the cgroup fails with EPERM. */
int node_nodeport_guard_set(struct lbd_node *n, __be16 port, __u8 proto,
			    bool on);

/* What node_explain predicts. */
struct node_choice {
	__u32 svc_id;
	__u32 backend_id;
	__u32 hash; /* lbd_node_hash of the key below */
	__u32 slot; /* the Maglev slot; 0 with an affinity hit */
	bool affinity; /* from the client's affinity entry */
	__u8 family;
	__be16 port;
	union lbd_addr addr;
};

/*
 * The endpoint that a connect() (or a datagram) to a, from a socket of
 * cookie sock_cookie (SO_COOKIE) in the network namespace of
 * netns_cookie (SO_NETNS_COOKIE), gets now: the programs' steps on the
 * maps' contents. -ENOENT: a is no Service address (the connect is not
 * translated); -EHOSTUNREACH: no endpoint (it is refused).
 */
int node_explain(struct lbd_node *n, const struct node_svc_addr *a,
		 __u64 sock_cookie, __u64 netns_cookie,
		 struct node_choice *out);

/* The counters by reason, summed over CPUs. */
int node_reasons_read(struct lbd_node *n, __u64 out[LBD_NODE_REASON_MAX]);

/* Metric label and description of a reason, NULL when out of range. */
const char *node_reason_label(unsigned int r);
const char *node_reason_desc(unsigned int r);

/* The map fds (for lbctl, the metrics and tests): lbd_node_rev,
 * lbd_node_affinity. */
int node_rev_fd(const struct lbd_node *n);
int node_affinity_fd(const struct lbd_node *n);

#endif /* LBD_DP_NODE_H */
