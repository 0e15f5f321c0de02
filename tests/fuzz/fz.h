/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath fuzzer (fuzz_datapath.c): a seeded generator of mostly
 * valid, then mutated, packets (fz_gen.c) and an oracle that judges what
 * lbd's programs did with them (fz_oracle.c). The oracle shares no code
 * with lbd: its own parser, lengths and checksums.
 */
#ifndef LBD_FZ_H
#define LBD_FZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_MAX 4096 /* frame buffer; generated frames stay below 1600 */

/* xorshift64*: reproducible from the seed alone. */
struct fz_rng {
	uint64_t s;
};

uint32_t fz_rand(struct fz_rng *r);
/* 0 .. n-1 (n > 0) */
uint32_t fz_below(struct fz_rng *r, uint32_t n);
/* true with this percentage */
bool fz_chance(struct fz_rng *r, uint32_t pct);

struct fz_frame {
	uint8_t b[FZ_MAX];
	size_t len;
};

/* A flow lbd made (a SNAT translation, a Geneve flow at a backend):
 * the generator answers it from the other side. */
struct fz_flow {
	int fam; /* 4 or 6 */
	uint8_t proto;
	uint8_t a[16], b[16]; /* from a:ap to b:bp, as it left lbd */
	uint16_t ap, bp;
};

#define FZ_FLOWS 64
struct fz_flows {
	struct fz_flow f[FZ_FLOWS];
	unsigned n, next;
};
void fz_flows_add(struct fz_flows *fl, const struct fz_flow *f);

/* What arrives at the LB host's edge NIC (XDP). */
void fz_gen_xdp(struct fz_rng *r, const struct fz_flows *snat,
		struct fz_frame *f);
/* What arrives at a backend's NIC (tc ingress): encapsulated traffic
 * from trusted and other LBs, and plain traffic. */
void fz_gen_tc_in(struct fz_rng *r, struct fz_frame *f);
/* Replies leaving a backend (tc egress), some of Geneve flows. */
void fz_gen_tc_out(struct fz_rng *r, const struct fz_flows *gnv,
		   struct fz_frame *f);

/* -- the oracle ------------------------------------------------------- */

/* Verdicts, as the oracle needs them (XDP and TC numbers differ). */
enum fz_verdict {
	FZ_DROP,
	FZ_PASS, /* XDP_PASS, TC_ACT_OK: to the local stack */
	FZ_TX, /* XDP_TX, XDP_REDIRECT, TC redirect: out of a NIC */
	FZ_ABORTED, /* XDP_ABORTED or an unknown verdict */
};

enum fz_prog {
	FZ_XDP,
	FZ_TC_IN,
	FZ_TC_OUT,
};

/* Addresses of the fuzzing lab: sets the oracle needs. */
struct fz_env {
	/* tc ingress: this node's addresses, and the trusted LBs */
	bool (*be_local)(int fam, const uint8_t *a);
	bool (*be_trusted)(int fam, const uint8_t *a);
};

/*
 * Judges one run. Returns NULL when the outcome is fine, else a short
 * fixed description of what is wrong (the finding's category). For a
 * forwarded or translated packet, fills learnt (when not NULL) with the
 * flow as it left, for the generator to answer (learnt->fam 0: none).
 */
const char *fz_judge(enum fz_prog prog, const struct fz_env *env,
		     const uint8_t *in, size_t in_len, enum fz_verdict v,
		     const uint8_t *out, size_t out_len,
		     struct fz_flow *learnt);

#endif /* LBD_FZ_H */
