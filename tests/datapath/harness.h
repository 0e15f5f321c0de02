/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath test harness: PKTGEN / SETUP / CHECK.
 *
 * The test binary's main() moves into a network namespace of its own
 * (nothing to clean up: it dies with the process) and gives it the links,
 * routes and permanent neighbours the FIB lookups of the program need.
 * Each test loads a fresh program (empty maps), applies a config through
 * the same code lbd uses (config/ and lbd/state/state.c), runs the real program
 * on a packet built with tests/lib/pkt.h and compares the verdict and the
 * whole output packet byte for byte.
 */
#ifndef LBD_TEST_HARNESS_H
#define LBD_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/bpf.h>

#include "pkt.h"
#include "datapath.h"
#include "state.h"

/* The namespace's layout (see harness.c). */
extern const uint8_t MAC_ROUTER[6]; /* the client side's next hop */
extern const uint8_t MAC_LB[6]; /* lb0, where packets come in */
extern const uint8_t MAC_LB1[6]; /* lb1, a second interface */
extern const uint8_t MAC_ROUTER1[6]; /* next hop behind lb1 */
/* Criterion runs tests in worker processes that do not share main()'s
 * globals, so interfaces are looked up when needed. */
#define IFINDEX_LB0 ((int)if_nametoindex("lb0"))
#define IFINDEX_LB1 ((int)if_nametoindex("lb1"))

/* A loaded program with a config applied. */
struct dpt {
	struct lbd_dp *dp;
	struct lbd_state st;
	struct lbd_config *cfg;
	uint32_t seed;
};

/* Loads a fresh program and applies the config text (aborts the test on
 * any error). The text's datapath group may be partial. */
void dpt_setup(struct dpt *t, const char *config);
/* Applies another config to the same program (a reload). */
void dpt_reload(struct dpt *t, const char *config);
void dpt_teardown(struct dpt *t);

/* Runs the program once on in; returns the XDP action and fills out. */
int dpt_run(struct dpt *t, const struct pkt *in, uint8_t *out,
	    size_t *out_len);

/* Runs a tc program once on in as an skb leaving lb0 with this mark;
 * returns the TC action and fills out. */
int dpt_run_skb(int prog_fd, const struct pkt *in, uint32_t mark,
		uint8_t *out, size_t *out_len);

/* Runs and asserts the verdict and, unless want is NULL, the bytes. */
void dpt_check(struct dpt *t, const struct pkt *in, int want_action,
	       const struct pkt *want);

/* The counter of a reason, summed over CPUs. */
uint64_t dpt_reason(struct dpt *t, enum lbd_reason r);

/* The backend a flow goes to, as an address string, from the forwarded
 * packet's outer destination (IPIP or Geneve); NULL if not forwarded. */
const char *dpt_backend_of(const uint8_t *out, size_t len, char *buf,
			   size_t buflen);

/* Ethernet to the LB, as the router sends it. */
void dpt_eth_in(struct pkt *p);
/* Ethernet from the LB to a next hop (lb0 -> router). */
void dpt_eth_out(struct pkt *p);

/* Sets up the namespace; called by main() before the tests run. */
int dpt_env_init(void);

#endif /* LBD_TEST_HARNESS_H */
