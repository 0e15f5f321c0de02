/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbctl explain: which backend the running datapath picks for a flow,
 * and why. The answer comes from running the live XDP program on a
 * synthetic packet of the flow (BPF_PROG_TEST_RUN) and reading the
 * backend off the packet it outputs, so it cannot disagree with what real
 * traffic gets; the "why" (a conntrack entry, or a Maglev slot) is read
 * from the maps before the run.
 *
 * Side effects, kept as small as the program allows: the run counts one
 * packet in the service's and the backend's counters (a new flow when
 * Maglev picked), and may produce a monitor event. A TCP probe carries
 * RST, for which the program never creates a conntrack entry; the
 * closing mark an RST puts on an existing entry (and on its SNAT
 * reverse entry) is taken back. What a probe of a new flow creates is
 * deleted again: a UDP probe's conntrack entry, the SNAT reverse entry
 * (and so its port), a session affinity entry.
 *
 * Library code: returns 0 or a negative errno.
 */
#ifndef LBD_EXPLAIN_H
#define LBD_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "datapath.h"
#include "lbd/shared.h"

struct explain_flow {
	__u8 family; /* LBD_AF_INET or LBD_AF_INET6 */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	union lbd_addr client, vip;
	__u16 client_port, vip_port; /* host order */
	/* the service's id and whether it has session affinity (the
	 * client port then leaves the hash); LBD_NO_ID: no service */
	__u32 svc_id;
	bool affinity;
};

/* The most a probe can be: Ethernet, IPv6, TCP. */
#define EXPLAIN_PKT_MAX (14 + 40 + 20)

/*
 * Builds the probe: Ethernet, IPv4 or IPv6, TCP (RST|ACK, no payload) or
 * UDP (no payload), with correct lengths and checksums. Returns its
 * length, or -EINVAL.
 */
int explain_build(const struct explain_flow *f, __u8 *buf, size_t cap);

/* What one run of the live program did with the probe. */
struct explain_out {
	int action; /* XDP_* */
	/* the forwarded packet's outermost IP destination, and the L4
	 * destination port the backend receives (Geneve, translations) */
	bool forwarded;
	__u8 family;
	union lbd_addr dst;
	__u16 dst_port; /* host order; 0 when the inner packet is unchanged */
	__u16 src_port; /* host order; translated: the SNAT port */
	const char *encap; /* "ipip", "geneve" or "translated" */
	/* Geneve whose inner packet is the client's IP packet, unchanged
	 * (IPIP services in flow_state = "backends") */
	bool inner_ip;
	/* lbd's Geneve option (flow_state = "backends"), if it was there:
	 * its flags (LBD_SC_F_*) and the previous owner it names */
	bool sc;
	__u8 sc_flags;
	__u8 sc_prev_family;
	__u16 sc_prev_port; /* host order */
	union lbd_addr sc_prev;
	/* the reasons the run counted, summed over CPUs: on a busy host,
	 * real packets counted meanwhile show up here too */
	struct lbd_counter counted[LBD_REASON_MAX];
};

/*
 * Runs the program of dp on the probe of f as received on ifindex; see
 * the header comment for what the run leaves behind.
 */
int explain_run(struct lbd_dp *dp, int ifindex, const struct explain_flow *f,
		struct explain_out *out);

/* The conntrack entry of f, if there is one (-ENOENT otherwise). */
int explain_ct_lookup(struct lbd_dp *dp, const struct explain_flow *f,
		      struct lbd_ct *ct);

/* The flow's session affinity entry, if there is one (-ENOENT
 * otherwise). */
int explain_aff_lookup(struct lbd_dp *dp, const struct explain_flow *f,
		       struct lbd_aff *a);

/* The hash that picks f's Maglev slot, as the program computes it. */
__u32 explain_flow_hash(const struct explain_flow *f, __u32 seed);

/* The flow's Maglev slot in the installed table of its service. */
struct explain_slot {
	__u32 hash, m, slot; /* m 0: the service has no table */
	__u32 owner, prev; /* backend ids; LBD_NO_ID: none */
	/* whether the program names prev in lbd's option for a TCP
	 * segment of the flow when the service keeps no conntrack for it
	 * (bpf/lb/select.h select_stateless: prev is active or draining, and
	 * of the owner's family) */
	bool prev_named;
};

/*
 * Reads f's slot from the installed table of service f->svc_id and the
 * owners' entries from lbd_backends. Returns 0 (s->m 0: no table) or a
 * negative errno.
 */
int explain_maglev(struct lbd_dp *dp, const struct explain_flow *f, __u32 seed,
		   struct explain_slot *s);

#endif /* LBD_EXPLAIN_H */
