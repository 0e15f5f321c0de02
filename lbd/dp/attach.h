/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attaching the LB program to the edge NIC, through libxdp, so that it
 * shares the interface with other XDP programs where libxdp's dispatcher
 * works, and stands alone where it does not.
 *
 * An lbd program already attached (from an earlier run, or before an
 * upgrade) is replaced without a gap: atomically (XDP_FLAGS_REPLACE) when
 * it is attached alone; by adding the new one before removing the old
 * one in a dispatcher, which runs them in order so the old one never sees
 * a packet the new one took. A program that is not lbd's is never
 * replaced. Library code: 0 or a negative errno.
 */
#ifndef LBD_ATTACH_H
#define LBD_ATTACH_H

#include <stdbool.h>
#include <linux/types.h>

#include "config.h"

/* The name the kernel knows the LB program by. */
#define LBD_XDP_PROG_NAME "lbd_xdp"

struct xdp_attachment {
	__u32 prog_id; /* lbd's program, 0 when none */
	bool native; /* driver mode; else generic (skb) */
	bool dispatcher; /* under libxdp's dispatcher */
};

int xdp_lbd_query(int ifindex, struct xdp_attachment *out);
int xdp_lbd_attach(int ifindex, int prog_fd, enum lbd_xdp_mode mode,
		   struct xdp_attachment *out);
/* Detaches lbd's program; 0 also when none is attached. */
int xdp_lbd_detach(int ifindex);

/* Enables IPv4 and IPv6 forwarding on the interface: the kernel's FIB
 * lookup for XDP requires it on the ingress device. */
int xdp_enable_forwarding(const char *ifname);

#endif /* LBD_ATTACH_H */
