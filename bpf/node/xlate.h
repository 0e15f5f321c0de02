/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the socket hooks do, once per family: read the address a socket
 * asks for, translate it to an endpoint's (connect, sendmsg) or back to
 * the Service's (recvmsg, getpeername), refuse a guarded bind.
 *
 * family is a constant of each program: the verifier sees only the
 * context fields of that family, which are the only ones it allows.
 *
 * A dual-stack AF_INET6 socket reaches IPv4 as ::ffff:a.b.c.d (RFC 4291
 * section 2.5.5.2); the kernel carries it as IPv4 after the IPv6 hooks.
 * Such an address is the IPv4 Service's: node_sa_read gives it the
 * address family LBD_AF_INET (lbd_node_svc4, IPv4 endpoints only, reverse
 * entries as an AF_INET socket's), while the context stays IPv6, and
 * node_sa_write gives the socket its endpoint or Service back mapped.
 * An unconnected UDP sendmsg() to a mapped address meets sendmsg4, not
 * sendmsg6 (udpv6_sendmsg hands it to udp_sendmsg), its replies
 * recvmsg6: both find the same IPv4 reverse entry.
 */
#ifndef LBD_NODE_XLATE_H
#define LBD_NODE_XLATE_H

#include "maps.h"
#include "select.h"

/* What cgroup sock_addr programs return: the kernel goes on, or fails
 * the call (EPERM, or what bpf_set_retval set). */
#define NODE_PROCEED 1
#define NODE_REJECT 0

#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif

/* An address and port as a socket hook sees them (user_ip*, user_port),
 * with the family of the address: LBD_AF_INET for an IPv4-mapped one in
 * an IPv6 hook. */
struct node_sa {
	union lbd_addr addr;
	__be16 port;
	__u8 proto;
	__u8 family;
};

static __always_inline bool node_v4mapped(__u32 w0, __u32 w1, __u32 w2)
{
	return !w0 && !w1 && w2 == bpf_htonl(0xffff);
}

static __always_inline void node_sa_read(struct bpf_sock_addr *ctx, __u8 family,
					 struct node_sa *a)
{
	__builtin_memset(a, 0, sizeof(*a));
	a->family = family;
	if (family == LBD_AF_INET) {
		a->addr.v4 = ctx->user_ip4;
	} else {
		a->addr.v6[0] = ctx->user_ip6[0];
		a->addr.v6[1] = ctx->user_ip6[1];
		a->addr.v6[2] = ctx->user_ip6[2];
		a->addr.v6[3] = ctx->user_ip6[3];
		if (node_v4mapped(a->addr.v6[0], a->addr.v6[1],
				  a->addr.v6[2])) {
			a->family = LBD_AF_INET;
			a->addr.v4 = a->addr.v6[3];
			a->addr.v6[1] = 0;
			a->addr.v6[2] = 0;
			a->addr.v6[3] = 0;
		}
	}
	/* the port sits in the low 16 bits, in network order */
	a->port = (__be16)ctx->user_port;
	a->proto = (__u8)ctx->protocol;
}

/* Writes addr (of address family addr_family) and port into the context
 * of family; an IPv4 address into an IPv6 context as ::ffff:a.b.c.d. */
static __always_inline void node_sa_write(struct bpf_sock_addr *ctx,
					  __u8 family, __u8 addr_family,
					  const union lbd_addr *addr,
					  __be16 port)
{
	if (family == LBD_AF_INET) {
		ctx->user_ip4 = addr->v4;
	} else if (addr_family == LBD_AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0xffff);
		ctx->user_ip6[3] = addr->v4;
	} else {
		ctx->user_ip6[0] = addr->v6[0];
		ctx->user_ip6[1] = addr->v6[1];
		ctx->user_ip6[2] = addr->v6[2];
		ctx->user_ip6[3] = addr->v6[3];
	}
	ctx->user_port = (__u32)port;
}

/* The Service port of a, by a's address family (not the hook's). */
static __always_inline const struct lbd_node_svc *
node_svc_lookup(const struct node_sa *a)
{
	if (a->family == LBD_AF_INET) {
		struct lbd_svc_key4 k4 = {
			.vip = a->addr.v4,
			.port = a->port,
			.proto = a->proto,
		};

		return bpf_map_lookup_elem(&lbd_node_svc4, &k4);
	} else {
		struct lbd_svc_key6 k6 = {
			.vip = a->addr,
			.port = a->port,
			.proto = a->proto,
		};

		return bpf_map_lookup_elem(&lbd_node_svc6, &k6);
	}
}

static __always_inline bool node_addr_eq(const union lbd_addr *x,
					 const union lbd_addr *y)
{
	return x->v6[0] == y->v6[0] && x->v6[1] == y->v6[1] &&
	       x->v6[2] == y->v6[2] && x->v6[3] == y->v6[3];
}

/* Remembers, for this socket and the endpoint, the Service address svc;
 * an entry that says so already is only refreshed, once a second. */
static __always_inline int node_rev_put(void *ctx, const struct node_sa *svc,
					const struct lbd_backend *be, __u32 now)
{
	struct lbd_node_rev_key k;
	struct lbd_node_rev *r, v;

	__builtin_memset(&k, 0, sizeof(k));
	k.cookie = bpf_get_socket_cookie(ctx);
	k.addr = be->addr;
	k.port = be->port;
	k.family = svc->family;
	r = bpf_map_lookup_elem(&lbd_node_rev, &k);
	if (r && r->port == svc->port && node_addr_eq(&r->addr, &svc->addr)) {
		if (r->last_seen != now)
			r->last_seen = now;
		return 0;
	}
	v.addr = svc->addr;
	v.port = svc->port;
	v.pad = 0;
	v.last_seen = now;
	return bpf_map_update_elem(&lbd_node_rev, &k, &v, BPF_ANY);
}

static __always_inline int node_refuse(enum lbd_node_reason r, int err)
{
	node_count(r);
	/* the call fails with err instead of EPERM (kernel 5.18) */
	bpf_set_retval(err);
	return NODE_REJECT;
}

/*
 * connect() and unconnected UDP sendmsg(): a Service address becomes the
 * endpoint's. A Service port without an endpoint refuses the call with
 * ECONNREFUSED, what kube-proxy's REJECT rule gives a TCP client (an ICMP
 * port unreachable); Cilium says EHOSTUNREACH.
 */
static __always_inline int node_xlate(struct bpf_sock_addr *ctx, __u8 family,
				      enum lbd_node_reason done)
{
	const struct lbd_node_svc *svc;
	struct lbd_backend be;
	struct node_sa sa;
	__u32 now;

	node_sa_read(ctx, family, &sa);
	if (sa.proto != IPPROTO_TCP && sa.proto != IPPROTO_UDP)
		return NODE_PROCEED;
	svc = node_svc_lookup(&sa);
	if (!svc)
		return NODE_PROCEED;
	now = clock_now(&lbd_node_clock);
	if (!node_select(ctx, svc, now, &be))
		return node_refuse(LBD_NODE_NO_ENDPOINT, -ECONNREFUSED);
	if (be.family != sa.family)
		return node_refuse(LBD_NODE_FAMILY, -ECONNREFUSED);
	/* without the entry a UDP reply would come from the endpoint,
	 * which a resolver drops as not its server's: fail as Cilium does */
	if (node_rev_put(ctx, &sa, &be, now))
		return node_refuse(LBD_NODE_REV_FAILED, -ENOMEM);
	node_sa_write(ctx, family, sa.family, &be.addr, be.port);
	node_count(done);
	return NODE_PROCEED;
}

/* recvmsg() of UDP and getpeername(): an endpoint's address this socket
 * was sent to becomes the Service address it asked for. */
static __always_inline int node_rev(struct bpf_sock_addr *ctx, __u8 family,
				    enum lbd_node_reason hit, bool miss)
{
	struct lbd_node_rev_key k;
	struct lbd_node_rev *r;
	struct node_sa sa;
	__u32 now;

	node_sa_read(ctx, family, &sa);
	__builtin_memset(&k, 0, sizeof(k));
	k.cookie = bpf_get_socket_cookie(ctx);
	k.addr = sa.addr;
	k.port = sa.port;
	k.family = sa.family;
	r = bpf_map_lookup_elem(&lbd_node_rev, &k);
	if (!r) {
		if (miss)
			node_count(LBD_NODE_RECVMSG_REV_MISS);
		return NODE_PROCEED;
	}
	now = clock_now(&lbd_node_clock);
	if (r->last_seen != now)
		r->last_seen = now;
	node_sa_write(ctx, family, sa.family, &r->addr, r->port);
	node_count(hit);
	return NODE_PROCEED;
}

/* bind() to a guarded NodePort, on any address: EPERM. */
static __always_inline int node_bind(struct bpf_sock_addr *ctx)
{
	struct lbd_node_port_key k = {
		.port = (__be16)ctx->user_port,
		.proto = (__u8)ctx->protocol,
	};

	if (!k.port || !bpf_map_lookup_elem(&lbd_node_guard, &k))
		return NODE_PROCEED;
	node_count(LBD_NODE_BIND_REFUSED);
	return NODE_REJECT;
}

#endif /* LBD_NODE_XLATE_H */
