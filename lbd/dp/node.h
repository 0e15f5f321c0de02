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
 * With a pin path the maps and the bpf links of the attachments are
 * pinned there and outlive the process: a new struct lbd_node on the
 * same pin path adopts them (maps reused, programs replaced in the links
 * with no moment untranslated, in-memory state rebuilt from the maps).
 * Without one they live as long as the struct lbd_node.
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
	/* a directory on a BPF filesystem (made by the caller) where the
	 * maps and links are pinned and found again; NULL: nothing pinned */
	const char *pin_path;
	/* socket_lb = "host-only": the cookie (SO_NETNS_COOKIE) of the
	 * only network namespace whose sockets are translated; 0: all */
	__u64 host_netns;
};

void node_opts_default(struct node_opts *o);

struct lbd_node;

/*
 * Loads the programs with their maps: empty ones, or with o->pin_path
 * the pinned ones when there are (then node_adopted() is true and the
 * in-memory state is rebuilt from them). -EINVAL (logged, naming the
 * map) when pinned maps have another map ABI or another size or
 * layout than o asks for: lbd --cleanup first.
 */
int node_open(const struct node_opts *o, struct lbd_node **out);
/* Frees n. Without a pin path the programs are detached and the maps
 * go; with one, what is pinned stays (as when the process exits). */
void node_close(struct lbd_node *n);
/* Whether node_open found pinned maps to reuse. */
bool node_adopted(const struct lbd_node *n);

/*
 * Attaches every program to the cgroup v2 directory path with bpf links
 * (pinned with a pin path: they outlive n). A pinned link already on
 * that cgroup gets this n's program in place (bpf_link_update: there is
 * no moment without translation); one on another cgroup is replaced
 * after the new one is attached. -EBUSY when attached already; on
 * failure nothing new stays attached (adopted links keep their old
 * programs).
 */
int node_attach(struct lbd_node *n, const char *cgroup_path);
/* Detaches the programs (unpinning their links); 0 when they were not
 * attached. */
int node_detach(struct lbd_node *n);

/* Removes every pin of the node role under pin_path (links first: the
 * programs are detached when the last reference goes), and the
 * directory when that leaves it empty. 0 when there was nothing. */
int node_unpin_all(const char *pin_path);

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

/*
 * Many node_backends_set at once. A change that fits the Service port's
 * spare table is written in place and applied at once, whether in a
 * batch or not; one that needs a new table (a new Service port, another
 * size, removing the last endpoint) waits in a batch until
 * node_batch_commit (or a batch of NODE_BATCH_MAX), which puts all the
 * new tables into the map in one step: the kernel waits for an RCU grace
 * period (several ms) on each such step, not on each table. Until the
 * commit connects see the tables as they were. The error of a commit is
 * the first of its Service ports' (each of which stays as before it).
 */
void node_batch_begin(struct lbd_node *n);
int node_batch_commit(struct lbd_node *n);

/* The endpoints Service port svc_id's table holds now (*out malloc'd,
 * NULL with none): those written by node_backends_set, or after an
 * adoption those found in the maps (ready, with their weight). */
int node_backends_get(struct lbd_node *n, __u32 svc_id,
		      struct node_endpoint **out, size_t *count);

/* A Service address as the maps hold it (node_addrs_read). */
struct node_svc_entry {
	struct node_svc_addr a;
	__u32 svc_id;
	__u32 flags;
	__u32 affinity_timeout;
};

/* Every Service address of the maps, both families (*out malloc'd). */
int node_addrs_read(struct lbd_node *n, struct node_svc_entry **out,
		    size_t *count);

/* Every guarded NodePort of the maps (*out malloc'd). */
int node_guards_read(struct lbd_node *n, struct lbd_node_port_key **out,
		     size_t *count);

/* Guards (on) or frees a NodePort: a bind() to it, on any address, by a
 * process of the cgroup fails with EPERM. */
int node_nodeport_guard_set(struct lbd_node *n, __be16 port, __u8 proto,
			    bool on);

/* What node_explain predicts. */
struct node_choice {
	__u32 svc_id;
	__u32 backend_id;
	__u32 hash; /* lbd_node_hash of the key below */
	__u32 slot; /* the Maglev slot (the table's choice, also when the
		     * affinity entry is followed instead) */
	bool affinity; /* from the client's affinity entry */
	__u8 family;
	__be16 port;
	union lbd_addr addr;
	/* the Service port (lbd_node_svc4/6) */
	__u32 svc_flags; /* LBD_NODE_SVC_F_* */
	__u32 affinity_timeout; /* seconds */
	/* with LBD_NODE_SVC_F_AFFINITY: the client's entry, as found */
	bool aff_entry; /* there is one */
	bool aff_fresh; /* seen within the timeout */
	__u32 aff_idle_s;
	__u32 aff_backend_id;
	/* the table's choice at slot (LBD_NO_ID: none, an empty table) */
	__u32 table_size;
	__u32 table_backend_id;
	__u8 table_family;
	__be16 table_port;
	union lbd_addr table_addr;
};

/*
 * The endpoint that a connect() (or a datagram) to a, from a socket of
 * cookie sock_cookie (SO_COOKIE) in the network namespace of
 * netns_cookie (SO_NETNS_COOKIE), gets now: the programs' steps on the
 * maps' contents. -ENOENT: a is no Service address (the connect is not
 * translated); -EHOSTUNREACH: no endpoint (it is refused). An IPv4-mapped
 * IPv6 a (::ffff:a.b.c.d, a dual-stack socket's) is the IPv4 Service's,
 * as the programs take it: the choice is then of family LBD_AF_INET.
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

/* The fd of the map called name in the socket programs' object, for a
 * program that shares them (lbd/dp/node_tc.c); -ENOENT when none is. */
int node_map_fd(const struct lbd_node *n, const char *name);

/* What a node_share_fd_fn returns for a map the object keeps as its own,
 * neither pinned nor shared (scratch space, counters it does not write). */
#define NODE_SHARE_NONE (-0x10000)

/* The fd of the map called name that another object shares, a negative
 * errno, or NODE_SHARE_NONE. */
typedef int (*node_share_fd_fn)(const char *name, void *arg);

/*
 * Before obj (a tc or XDP object of the node role) is loaded: its own
 * maps own[0..n_own) pinned under pin_path (a pinned one of another
 * type or size refused, naming it; none without a pin path), every other map but libbpf's internal ones
 * the one fd_of names, so that all the node role's programs see one set.
 * 0 or a negative errno.
 */
struct bpf_object;
int node_obj_share(struct bpf_object *obj, const char *const *own,
		   size_t n_own, const char *pin_path, node_share_fd_fn fd_of,
		   void *arg);

#endif /* LBD_DP_NODE_H */
