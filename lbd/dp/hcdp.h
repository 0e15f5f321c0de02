/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The LB host's health-check program (bpf/lb/hc.bpf.c): loaded on the maps
 * of the LB program it belongs to, with the same knobs, and attached to
 * tc egress of the edge NIC, where lbd's marked check sockets' packets
 * to VIPs leave. Library code: 0 or a negative errno.
 */
#ifndef LBD_HCDP_H
#define LBD_HCDP_H

#include "datapath.h"

struct hcdp;

/* Loads the program on dp's maps, with dp's knobs. */
int hcdp_open(const struct lbd_dp *dp, struct hcdp **out);
void hcdp_close(struct hcdp *h);
int hcdp_prog_fd(const struct hcdp *h);
/* Attaches it to tc egress of ifindex, replacing lbd's earlier one. */
int hcdp_attach(struct hcdp *h, int ifindex);
/* Removes lbd's program from tc egress of ifindex (none: 0). */
int hcdp_detach(int ifindex);

#endif /* LBD_HCDP_H */
