// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include "log.h"
#include "netlink.h"

static enum xdp_attach_mode libxdp_mode(enum lbd_xdp_mode m)
{
	switch (m) {
	case LBD_XDP_NATIVE:
		return XDP_MODE_NATIVE;
	case LBD_XDP_GENERIC:
		return XDP_MODE_SKB;
	default:
		return XDP_MODE_UNSPEC;
	}
}

static bool is_lbd(const struct xdp_program *p)
{
	return p && !strcmp(xdp_program__name(p), LBD_XDP_PROG_NAME);
}

int xdp_lbd_query(int ifindex, struct xdp_attachment *out)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	long err;

	memset(out, 0, sizeof(*out));
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = libxdp_get_error(mp);
	if (err == -ENOENT || (!err && !mp))
		return 0;
	if (err)
		return (int)err;
	out->native = xdp_multiprog__attach_mode(mp) == XDP_MODE_NATIVE;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (is_lbd(p))
			out->prog_id = xdp_program__id(p);
	} else {
		out->dispatcher = true;
		for (p = xdp_multiprog__next_prog(NULL, mp); p;
		     p = xdp_multiprog__next_prog(p, mp)) {
			if (is_lbd(p)) {
				out->prog_id = xdp_program__id(p);
				break;
			}
		}
	}
	xdp_multiprog__close(mp);
	return 0;
}

/* A libxdp handle of its own for prog_fd: libxdp closes the fd it is
 * given when the handle is closed. */
static struct xdp_program *xdp_from_fd(int prog_fd)
{
	int fd = dup(prog_fd);
	struct xdp_program *p;

	if (fd < 0)
		return NULL;
	p = xdp_program__from_fd(fd);
	if (libxdp_get_error(p)) {
		close(fd);
		return NULL;
	}
	return p;
}

static int attach_new(int ifindex, int prog_fd, enum lbd_xdp_mode mode)
{
	struct xdp_program *p = xdp_from_fd(prog_fd);
	int err;

	if (!p)
		return -errno ? -errno : -EINVAL;
	err = xdp_program__attach(p, ifindex, libxdp_mode(mode), 0);
	xdp_program__close(p);
	return err;
}

/* Swaps an lbd program attached alone for the new one in one step. */
static int replace_legacy(int ifindex, int prog_fd,
			  const struct xdp_attachment *cur)
{
	LIBBPF_OPTS(bpf_xdp_attach_opts, o);
	__u32 flags = XDP_FLAGS_REPLACE |
		      (cur->native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
	int old_fd, err = 0;

	old_fd = bpf_prog_get_fd_by_id(cur->prog_id);
	if (old_fd < 0)
		return -errno;
	o.old_prog_fd = old_fd;
	if (bpf_xdp_attach(ifindex, prog_fd, flags, &o) < 0)
		err = -errno;
	close(old_fd);
	return err;
}

static int replace_in_dispatcher(int ifindex, int prog_fd,
				 enum lbd_xdp_mode mode,
				 const struct xdp_attachment *cur)
{
	struct xdp_program *old;
	int err;

	/* new one first: the dispatcher runs programs in order, and the
	 * first lbd program takes every packet for a VIP */
	err = attach_new(ifindex, prog_fd, mode);
	if (err)
		return err;
	old = xdp_program__from_id(cur->prog_id);
	if (libxdp_get_error(old))
		return (int)libxdp_get_error(old);
	err = xdp_program__detach(old, ifindex, libxdp_mode(mode), 0);
	xdp_program__close(old);
	return err;
}

int xdp_lbd_attach(int ifindex, int prog_fd, enum lbd_xdp_mode mode,
		   struct xdp_attachment *out)
{
	struct xdp_attachment cur;
	int err;

	err = xdp_lbd_query(ifindex, &cur);
	if (err)
		return err;
	if (!cur.prog_id) {
		err = attach_new(ifindex, prog_fd, mode);
	} else if ((mode == LBD_XDP_NATIVE && !cur.native) ||
		   (mode == LBD_XDP_GENERIC && cur.native)) {
		/* the kernel cannot swap a program between modes: a
		 * moment without XDP, which only a mode change costs */
		log_warnx("XDP mode changes: detaching and attaching again");
		err = xdp_lbd_detach(ifindex);
		if (!err)
			err = attach_new(ifindex, prog_fd, mode);
	} else if (cur.dispatcher) {
		err = replace_in_dispatcher(ifindex, prog_fd, mode, &cur);
	} else {
		err = replace_legacy(ifindex, prog_fd, &cur);
	}
	if (err)
		return err;
	return xdp_lbd_query(ifindex, out);
}

int xdp_lbd_detach(int ifindex)
{
	struct xdp_attachment cur;
	struct xdp_program *p;
	int err;

	err = xdp_lbd_query(ifindex, &cur);
	if (err || !cur.prog_id)
		return err;
	if (!cur.dispatcher) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, o);
		int fd = bpf_prog_get_fd_by_id(cur.prog_id);

		if (fd < 0)
			return -errno;
		o.old_prog_fd = fd;
		err = bpf_xdp_attach(ifindex, -1,
				     XDP_FLAGS_REPLACE |
					     (cur.native ? XDP_FLAGS_DRV_MODE
							 : XDP_FLAGS_SKB_MODE),
				     &o) < 0
			      ? -errno
			      : 0;
		close(fd);
		return err;
	}
	p = xdp_program__from_id(cur.prog_id);
	if (libxdp_get_error(p))
		return (int)libxdp_get_error(p);
	err = xdp_program__detach(p, ifindex, XDP_MODE_UNSPEC, 0);
	xdp_program__close(p);
	return err;
}

int xdp_enable_forwarding(const char *ifname)
{
	char path[128];
	int err;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
		 ifname);
	err = sysctl_write(path, "1");
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/forwarding",
		 ifname);
	err = sysctl_write(path, "1");
	/* IPv6 may be disabled on the host: then IPv4 is all there is */
	return err == -ENOENT ? 0 : err;
}
