/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The backend companion's test harness (bpf/backend/backend.bpf.c): its
 * programs loaded fresh for each test (empty maps, nothing pinned), the
 * trusted LB sources and the node's own addresses set, and a packet run
 * through ingress or egress as an skb on lb0 with BPF_PROG_TEST_RUN, its
 * verdict and whole output compared byte for byte, as harness.h does for
 * the XDP program.
 */
#ifndef LBD_TEST_BE_HARNESS_H
#define LBD_TEST_BE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"
#include "lbd/shared.h"

struct tc_backend;

struct bet {
	struct tc_backend *skel;
};

/* Loads the programs; sources and locals are NULL-terminated lists of
 * addresses (the trusted LBs or prefixes "a/len" of trusted nodes, the
 * node's addresses). Aborts the test on any error. */
void bet_setup(struct bet *t, const char *const *sources,
	       const char *const *locals);
void bet_teardown(struct bet *t);

/* Runs ingress (or egress) once on in; returns the TC action and fills
 * out with the packet as it leaves the program. */
int bet_run(struct bet *t, bool ingress, const struct pkt *in, uint8_t *out,
	    size_t *out_len);

/* Runs and asserts the verdict and, unless want is NULL, the bytes. */
void bet_check(struct bet *t, bool ingress, const struct pkt *in,
	       int want_action, const struct pkt *want);

/* The counter of a reason in lbd_be_stats, summed over CPUs. */
uint64_t bet_reason(struct bet *t, enum lbd_reason r);

/* Empties lbd_be_flows, as an LRU eviction or lost maps would; returns
 * how many flows there were. */
unsigned bet_flows_clear(struct bet *t);

#endif /* LBD_TEST_BE_HARNESS_H */
