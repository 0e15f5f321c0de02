// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What each message type's payload may be (msg.h). */
#include "msg.h"

#include <errno.h>

/* A type without its row here is unknown, and refused: a type is
 * declared in msg.h and given its size here in the same change. */
struct msg_row {
	bool known;
	struct msg_spec spec;
};

#define ONE(type)                          \
	{                                  \
		true,                      \
		{                          \
			sizeof(type), 0, 0 \
		}                          \
	}
#define RECS(head, rec, max)                 \
	{                                    \
		true,                        \
		{                            \
			(head), (rec), (max) \
		}                            \
	}

static const struct msg_row msg_rows[LBD_MSG_TYPE_MAX] = {
	[LBD_MSG_CTL_REQ] = ONE(struct lbd_ctl_req),
	[LBD_MSG_CTL_REPLY] = RECS(0, 1, LBD_MSG_MAX),
	[LBD_MSG_MON_EVENT] = RECS(0, 1, LBD_MSG_MON_EVENT_MAX),
	/* the head, then records metrics_snap_decode checks */
	[LBD_MSG_METRICS] = RECS(sizeof(struct lbd_metrics_head), 1,
				 LBD_MSG_MAX - sizeof(struct lbd_metrics_head)),
	[LBD_MSG_PROBE_CHECKS] =
		RECS(0, sizeof(struct lbd_probe_check),
		     LBD_MSG_MAX / sizeof(struct lbd_probe_check)),
	[LBD_MSG_PROBE_VERDICT] =
		RECS(0, sizeof(struct lbd_probe_verdict),
		     LBD_MSG_MAX / sizeof(struct lbd_probe_verdict)),
	[LBD_MSG_PROBE_TIMES] = RECS(
		sizeof(struct lbd_probe_stats), sizeof(struct lbd_probe_time),
		(LBD_MSG_MAX - sizeof(struct lbd_probe_stats)) /
			sizeof(struct lbd_probe_time)),
	/* a START: the settings, then the kubeconfig's and its files'
	 * bytes; a set: its header, then records of 4-byte multiples
	 * whose counts the header gives (k8s_rx_msg checks them); a
	 * status, then the files the kubeconfig needs */
	[LBD_MSG_K8S_START] =
		RECS(sizeof(struct lbd_k8s_start), 1, LBD_K8S_START_MAX_BYTES),
	[LBD_MSG_K8S_SERVICES] =
		RECS(sizeof(struct lbd_k8s_set_hdr), 4,
		     (LBD_MSG_MAX - sizeof(struct lbd_k8s_set_hdr)) / 4),
	[LBD_MSG_K8S_STATUS] = RECS(sizeof(struct lbd_k8s_status),
				    LBD_K8S_PATH_MAX, LBD_K8S_MAX_FILES),
	/* the head, then its records (hcserve_table_check: the count) */
	[LBD_MSG_NODE_HC] = RECS(sizeof(struct lbd_node_hc_head),
				 sizeof(struct lbd_node_hc_rec),
				 LBD_NODE_HC_MAX),
	/* role node: a set's header, then records of 4-byte multiples
	 * whose counts the header gives (k8s_node_rx_msg checks them) */
	[LBD_MSG_K8S_NODE_SET] =
		RECS(sizeof(struct lbd_k8s_node_set_hdr), 4,
		     (LBD_MSG_MAX - sizeof(struct lbd_k8s_node_set_hdr)) / 4),
};

int msg_check(const struct lbd_msg_hdr *h)
{
	const struct msg_spec *s;
	__u64 recs;

	if (h->type >= LBD_MSG_TYPE_MAX || !msg_rows[h->type].known ||
	    h->len > LBD_MSG_MAX)
		return -EBADMSG;
	s = &msg_rows[h->type].spec;
	if (!s->rec)
		return h->len == s->min ? 0 : -EBADMSG;
	if (h->len < s->min || (h->len - s->min) % s->rec)
		return -EBADMSG;
	recs = (h->len - s->min) / s->rec;
	return recs <= s->max_recs ? 0 : -EBADMSG;
}
