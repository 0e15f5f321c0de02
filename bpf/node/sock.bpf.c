// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node role's socket-level load balancing: cgroup sock_addr programs
 * on the cgroup v2 tree lbd attaches them to (lbd/dp/node.c). A socket
 * that connects or sends to a Service address is given the endpoint's
 * address instead, before routing: no per-packet translation and no
 * conntrack entry. The reverse map gives UDP replies and getpeername()
 * the Service address back.
 *
 * socket_lb = "host-only" goes first in each hook (NODE_HOOK): a socket
 * of another network namespace than the host's (a pod's) proceeds
 * untouched, its traffic left to the tc path (tc.bpf.c).
 */
#include "lib/common.h"

#include "maps.h"
#include "select.h"
#include "xlate.h"

/* Whether socket_lb = "host-only" leaves this socket alone: it is not
 * of the host's network namespace. The knob is a load-time constant: with
 * "all" (0) the verifier prunes the check. */
static __always_inline bool node_not_ours(struct bpf_sock_addr *ctx)
{
	return node_knobs.host_netns &&
	       bpf_get_netns_cookie(ctx) != node_knobs.host_netns;
}

/* Entry points are global; the prototype keeps -Wmissing-prototypes.
 * The body follows as name##_body, after the host-only check. */
#define NODE_HOOK(sec, name)                                               \
	static __always_inline int name##_body(struct bpf_sock_addr *ctx); \
	int name(struct bpf_sock_addr *ctx);                               \
	SEC(sec) int name(struct bpf_sock_addr *ctx)                       \
	{                                                                  \
		if (node_not_ours(ctx))                                    \
			return NODE_PROCEED;                               \
		return name##_body(ctx);                                   \
	}                                                                  \
	static __always_inline int name##_body(struct bpf_sock_addr *ctx)

NODE_HOOK("cgroup/connect4", lbd_node_connect4)
{
	return node_xlate(ctx, LBD_AF_INET, LBD_NODE_CONNECT_XLATED);
}

NODE_HOOK("cgroup/connect6", lbd_node_connect6)
{
	return node_xlate(ctx, LBD_AF_INET6, LBD_NODE_CONNECT_XLATED);
}

NODE_HOOK("cgroup/sendmsg4", lbd_node_sendmsg4)
{
	return node_xlate(ctx, LBD_AF_INET, LBD_NODE_SENDMSG_XLATED);
}

NODE_HOOK("cgroup/sendmsg6", lbd_node_sendmsg6)
{
	return node_xlate(ctx, LBD_AF_INET6, LBD_NODE_SENDMSG_XLATED);
}

NODE_HOOK("cgroup/recvmsg4", lbd_node_recvmsg4)
{
	return node_rev(ctx, LBD_AF_INET, LBD_NODE_RECVMSG_REV_HIT, true);
}

NODE_HOOK("cgroup/recvmsg6", lbd_node_recvmsg6)
{
	return node_rev(ctx, LBD_AF_INET6, LBD_NODE_RECVMSG_REV_HIT, true);
}

NODE_HOOK("cgroup/getpeername4", lbd_node_getpeername4)
{
	return node_rev(ctx, LBD_AF_INET, LBD_NODE_PEER_REV_HIT, false);
}

NODE_HOOK("cgroup/getpeername6", lbd_node_getpeername6)
{
	return node_rev(ctx, LBD_AF_INET6, LBD_NODE_PEER_REV_HIT, false);
}

NODE_HOOK("cgroup/bind4", lbd_node_bind4)
{
	return node_bind(ctx);
}

NODE_HOOK("cgroup/bind6", lbd_node_bind6)
{
	return node_bind(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
