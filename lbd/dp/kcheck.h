/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the running kernel offers lbd, probed before anything is loaded:
 * the program and map types and the BPF helpers each role's programs use,
 * and the flags a kernel may lack although it has the helper. A missing
 * feature is named with the Linux version that brought it, instead of a
 * verifier log; one that has a fallback is said to fall back.
 */
#ifndef LBD_KCHECK_H
#define LBD_KCHECK_H

#include <linux/types.h>
#include <stdbool.h>

#include "config.h"

/* Logs every missing feature of role (log_warnx) and every fallback
 * taken. 0 when the role can run; -EOPNOTSUPP when a feature it cannot do
 * without is missing. */
int kcheck_role(enum lbd_role role);

/* Whether bpf_skb_adjust_room (shrinking at the MAC header) takes these
 * flags on this kernel. */
bool kcheck_adjust_room_takes(__u64 flags);

/* Whether bpf_skb_adjust_room takes BPF_F_ADJ_ROOM_DECAP_L3_IPV4/6
 * (Linux 6.3): the backend companion needs them for 4-in-6 only. */
bool kcheck_decap_l3(void);

#endif /* LBD_KCHECK_H */
