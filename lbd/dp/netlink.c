// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One request, its acknowledgement or dump, on a socket of its own. */
static int nl_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int portid, seq;
	ssize_t n;
	int err = 0;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	seq = nlh->nlmsg_seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			err = -errno;
			break;
		}
		err = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (err <= MNL_CB_STOP) {
			err = err < 0 ? -errno : 0;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return err;
}

static int nl_addr_req(int type, int flags, int ifindex,
		       const struct lbd_conf_addr *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t alen = a->family == LBD_AF_INET ? 4 : 16;

	nlh->nlmsg_type = (__u16)type;
	nlh->nlmsg_flags = (__u16)(NLM_F_REQUEST | NLM_F_ACK | flags);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a->family == LBD_AF_INET ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = a->family == LBD_AF_INET ? 32 : 128;
	ifa->ifa_scope = RT_SCOPE_HOST;
	ifa->ifa_index = (unsigned int)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, &a->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &a->addr);
	if (type == RTM_NEWADDR) {
		mnl_attr_put_u8(nlh, IFA_PROTO, LBD_IFA_PROTO);
		/* no DAD for an address only this host answers for */
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	}
	return nl_talk(nlh, NULL, NULL);
}

int nl_addr_add(int ifindex, const struct lbd_conf_addr *addr)
{
	int err = nl_addr_req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex,
			      addr);

	return err == -EEXIST ? 0 : err;
}

int nl_addr_del(int ifindex, const struct lbd_conf_addr *addr)
{
	int err = nl_addr_req(RTM_DELADDR, 0, ifindex, addr);

	return err == -EADDRNOTAVAIL ? 0 : err;
}

struct addr_dump {
	int ifindex;
	bool only_lbd;
	struct lbd_conf_addr *out;
	size_t max, n;
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct addr_dump *d = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const void *addr = NULL;
	__u8 proto = 0;
	struct nlattr *attr;

	if ((int)ifa->ifa_index != d->ifindex || d->n == d->max)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(attr) == IFA_PROTO)
			proto = mnl_attr_get_u8(attr);
		else if (mnl_attr_get_type(attr) == IFA_LOCAL ||
			 (mnl_attr_get_type(attr) == IFA_ADDRESS && !addr))
			addr = mnl_attr_get_payload(attr);
	}
	if (!addr || (d->only_lbd && proto != LBD_IFA_PROTO))
		return MNL_CB_OK;
	memset(&d->out[d->n], 0, sizeof(d->out[0]));
	d->out[d->n].family = ifa->ifa_family == AF_INET ? LBD_AF_INET :
							   LBD_AF_INET6;
	d->out[d->n].prefixlen = ifa->ifa_family == AF_INET ? 32 : 128;
	memcpy(&d->out[d->n].addr, addr, ifa->ifa_family == AF_INET ? 4 : 16);
	d->n++;
	return MNL_CB_OK;
}

static int addr_dump(int ifindex, bool only_lbd, struct lbd_conf_addr *out,
		     size_t max)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct addr_dump d = { ifindex, only_lbd, out, max, 0 };
	struct ifaddrmsg *ifa;
	int err;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	err = nl_talk(nlh, addr_cb, &d);
	return err ? err : (int)d.n;
}

int nl_addr_list_lbd(int ifindex, struct lbd_conf_addr *out, size_t max)
{
	return addr_dump(ifindex, true, out, max);
}

int nl_addr_list(int ifindex, struct lbd_conf_addr *out, size_t max)
{
	return addr_dump(ifindex, false, out, max);
}

struct route_reply {
	__u8 family;
	union lbd_addr *nh;
	int ifindex;
	bool gateway;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_reply *r = data;
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm))
	{
		switch (mnl_attr_get_type(attr)) {
		case RTA_OIF:
			r->ifindex = (int)mnl_attr_get_u32(attr);
			break;
		case RTA_GATEWAY:
			memcpy(r->nh, mnl_attr_get_payload(attr),
			       r->family == LBD_AF_INET ? 4 : 16);
			r->gateway = true;
			break;
		}
	}
	return MNL_CB_OK;
}

int nl_nexthop(__u8 family, const union lbd_addr *dst, union lbd_addr *nh,
	       int *ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct route_reply r = { .family = family, .nh = nh };
	struct rtmsg *rtm;
	int err;

	memset(nh, 0, sizeof(*nh));
	nlh->nlmsg_type = RTM_GETROUTE;
	/* the ACK ends the exchange: a single reply has no NLMSG_DONE */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family == LBD_AF_INET ? AF_INET : AF_INET6;
	rtm->rtm_dst_len = family == LBD_AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, family == LBD_AF_INET ? 4 : 16, dst);
	err = nl_talk(nlh, route_cb, &r);
	if (err)
		return err;
	if (!r.ifindex)
		return -ENETUNREACH;
	if (!r.gateway)
		*nh = *dst;
	*ifindex = r.ifindex;
	return 0;
}

struct neigh_reply {
	bool found;
	__u16 state;
	__u8 flags, proto;
	__u32 flags_ext;
};

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	struct neigh_reply *r = data;
	struct ndmsg *ndm = mnl_nlmsg_get_payload(nlh);
	struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWNEIGH)
		return MNL_CB_OK;
	r->found = true;
	r->state = ndm->ndm_state;
	r->flags = ndm->ndm_flags;
	mnl_attr_for_each(attr, nlh, sizeof(*ndm))
	{
		if (mnl_attr_get_type(attr) == NDA_PROTOCOL)
			r->proto = mnl_attr_get_u8(attr);
		else if (mnl_attr_get_type(attr) == NDA_FLAGS_EXT)
			r->flags_ext = mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

static int neigh_req(int type, int flags, int ifindex, __u8 family,
		     const union lbd_addr *addr, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *ndm;

	nlh->nlmsg_type = (__u16)type;
	nlh->nlmsg_flags = (__u16)(NLM_F_REQUEST | NLM_F_ACK | flags);
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = family == LBD_AF_INET ? AF_INET : AF_INET6;
	ndm->ndm_ifindex = ifindex;
	ndm->ndm_state = NUD_NONE;
	mnl_attr_put(nlh, NDA_DST, family == LBD_AF_INET ? 4 : 16, addr);
	if (type == RTM_NEWNEIGH) {
		mnl_attr_put_u8(nlh, NDA_PROTOCOL, LBD_NEIGH_PROTO);
		mnl_attr_put_u32(nlh, NDA_FLAGS_EXT, NTF_EXT_MANAGED);
	}
	return nl_talk(nlh, cb, data);
}

/* The entry for addr on ifindex, if any (r->found). */
static int neigh_get(int ifindex, __u8 family, const union lbd_addr *addr,
		     struct neigh_reply *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = neigh_req(RTM_GETNEIGH, 0, ifindex, family, addr, neigh_cb, r);
	return err == -ENOENT ? 0 : err;
}

/*
 * Whether an entry is the kernel's own cache, which lbd may turn into a
 * managed one: resolved (or being resolved) by the kernel, with no owner.
 * Static entries (PERMANENT, NOARP: "ip neigh add"/"replace", which some
 * L2 DSR set-ups rely on), entries a controller learnt (EVPN), another
 * tool's protocol or managed entries are someone else's.
 */
static bool neigh_is_cache(const struct neigh_reply *r)
{
	return !(r->state & (NUD_PERMANENT | NUD_NOARP)) &&
	       !(r->flags & NTF_EXT_LEARNED) && !r->proto &&
	       !(r->flags_ext & NTF_EXT_MANAGED);
}

int nl_neigh_managed(int ifindex, __u8 family, const union lbd_addr *addr)
{
	struct neigh_reply r;
	int err = neigh_get(ifindex, family, addr, &r);

	if (err)
		return err;
	if (r.found && r.proto == LBD_NEIGH_PROTO)
		return 0;
	if (r.found && !neigh_is_cache(&r))
		return -EEXIST;
	/*
	 * Nothing there: created, exclusively (an entry made meanwhile is
	 * someone else's). The kernel's cache entry: replaced by a managed
	 * one, as it would otherwise expire unused (the XDP program's
	 * lookups do not keep it fresh). Between the look and the replace
	 * an operator's "ip neigh add" could be lost; "ip neigh replace"
	 * after it wins.
	 */
	err = neigh_req(RTM_NEWNEIGH,
			NLM_F_CREATE | (r.found ? NLM_F_REPLACE : NLM_F_EXCL),
			ifindex, family, addr, NULL, NULL);
	return err;
}

int nl_neigh_release(int ifindex, __u8 family, const union lbd_addr *addr)
{
	struct neigh_reply r;
	int err = neigh_get(ifindex, family, addr, &r);

	if (err || !r.found || r.proto != LBD_NEIGH_PROTO)
		return err;
	err = neigh_req(RTM_DELNEIGH, 0, ifindex, family, addr, NULL, NULL);
	return err == -ENOENT ? 0 : err;
}

bool sysctl_is(const char *path, const char *val)
{
	FILE *f = fopen(path, "r");
	char cur[64];
	size_t n;

	if (!f)
		return false;
	n = fread(cur, 1, sizeof(cur) - 1, f);
	fclose(f);
	cur[n] = 0;
	cur[strcspn(cur, "\n")] = 0;
	return !strcmp(cur, val);
}

int sysctl_write(const char *path, const char *val)
{
	FILE *f;
	int err = 0;

	/* a value that is set already is not written: in a container
	 * /proc/sys is read-only, and an init container (or the host) may
	 * have set it (config/examples/node-daemonset.yaml) */
	if (sysctl_is(path, val))
		return 0;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		err = -EIO;
	if (fclose(f) != 0 && !err)
		err = -errno;
	return err;
}
