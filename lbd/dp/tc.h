/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbd's tc programs on an interface: one filter per direction, with lbd's
 * own handle and priority on a clsact qdisc (created when missing). The
 * backend companion (backend.c) and the LB host's health-check program
 * (hcdp.c) use it. Library code: 0 or a negative errno.
 */
#ifndef LBD_TC_H
#define LBD_TC_H

#include <bpf/libbpf.h>

/* lbd's tc filters: one handle and priority on ingress and egress. */
#define LBD_TC_HANDLE 0x1bd
#define LBD_TC_PRIO 1

/* Attaches prog_fd, or replaces lbd's program there in one step (a
 * restarted or upgraded lbd leaves no gap). */
int tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd);
/* Removes lbd's filter; 0 also when there is none. */
int tc_detach(int ifindex, enum bpf_tc_attach_point where);
/* The id of the program in lbd's filter: 0 when none. */
__u32 tc_prog_id(int ifindex, enum bpf_tc_attach_point where);
/* The name of the program in lbd's filter (BPF_OBJ_NAME_LEN bytes with
 * its NUL); -ENOENT when there is none. */
int tc_prog_name(int ifindex, enum bpf_tc_attach_point where,
		 char name[BPF_OBJ_NAME_LEN]);

#endif /* LBD_TC_H */
