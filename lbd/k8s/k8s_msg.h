/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes child's messages (msg.h, "the Kubernetes client") to and
 * from lbd's own structures: the settings a START carries, the translated
 * services a set carries, the client's status. Pure functions, no I/O, so
 * that both ends and the unit tests share them.
 *
 * What comes from the child is checked field by field before it is used
 * (k8s_rx_msg, k8s_status_check): the child parses what the API server
 * sends, and the privileged process must not be able to tell it from a
 * well-behaved one by more than what the records allow.
 */
#ifndef LBD_K8S_MSG_H
#define LBD_K8S_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "k8s_model.h"
#include "k8s_node.h"
#include "msg.h"

/* What a set's message holds at most (the child cuts sets here). */
#define K8S_MSG_CHUNK (1u << 20)

/* -- START ----------------------------------------------------------------- */

/* Files the kubeconfig references, with their bytes. */
struct k8s_files {
	unsigned int n;
	char path[LBD_K8S_MAX_FILES][LBD_K8S_PATH_MAX];
	const void *data[LBD_K8S_MAX_FILES];
	size_t len[LBD_K8S_MAX_FILES];
};

/*
 * A START of c's kubernetes settings, the kubeconfig's bytes and files
 * (may be NULL): *out (malloc'd) of *len bytes. 0, -EFBIG (a file past
 * LBD_K8S_FILE_MAX) or -ENOMEM.
 */
int k8s_start_build(const struct lbd_config *c, __u32 gen, const void *kc,
		    size_t kc_len, const struct k8s_files *files, void **out,
		    size_t *len);

/* Role node: who this node is, as a START carries it. */
struct k8s_node_ident {
	char node_name[256];
	char zone[64]; /* "": not known */
	struct lbd_conf_addr addrs[LBD_K8S_MAX_NODE_ADDRS];
	size_t n_addrs;
};

/* Makes a START that k8s_start_build made one of the node role, for the
 * node id. */
void k8s_start_set_node(void *start, const struct k8s_node_ident *id);

/* A START as the child uses it; pointers into the message. */
struct k8s_start_view {
	__u32 gen;
	__u8 role; /* enum lbd_k8s_role */
	struct k8s_node_ident node; /* role node */
	struct lbd_conf_kubernetes conf; /* kubeconfig, context, class, ... */
	struct k8s_opts opts; /* vip_ranges point into conf */
	const char *kc;
	size_t kc_len;
	struct k8s_files files;
};

/* Checks and reads a START: 0 or -EBADMSG with the reason in err. */
int k8s_start_parse(const void *p, size_t len, struct k8s_start_view *v,
		    char *err, size_t errlen);

/* -- STATUS ------------------------------------------------------------- */

/* 0 when a STATUS payload of len bytes may be used as it says (strings
 * end within their arrays, flags are 0 or 1, file names are absolute);
 * -EBADMSG with the reason in err otherwise. *n_need: its file records. */
int k8s_status_check(const void *p, size_t len, unsigned int *n_need, char *err,
		     size_t errlen);

/* -- SERVICES ---------------------------------------------------------------- */

/* Sends one message of a set: head (hlen bytes), then rlen bytes of
 * records. 0 or a negative errno (that stops the set). */
typedef int (*k8s_msg_emit_fn)(__u16 flags, const void *head, size_t hlen,
			       const void *recs, size_t rlen, void *arg);

/*
 * set as messages of at most chunk bytes each (0: K8S_MSG_CHUNK), through
 * emit. 0, the first error of emit, or -ENOMEM; -E2BIG when the set
 * exceeds LBD_K8S_MAX_* (nothing is sent then).
 */
int k8s_msg_set_encode(const struct k8s_set *set, __u32 seq, __u32 gen,
		       size_t chunk, k8s_msg_emit_fn emit, void *arg);

/* A set being received. */
struct k8s_rx {
	bool open; /* between a BEGIN and its END */
	__u32 seq, gen;
	struct k8s_set set;
	size_t cap_svc, cap_be, cap_warn, cap_ref;
	size_t n_lines;
	__u32 last_svc; /* of the last backend */
};

/*
 * One SERVICES message (already through msg_check). 0: the set goes on;
 * 1: *out is the complete set (warnings and refusals sorted; the caller
 * owns it), and *gen the START it was made under; -EBADMSG (the reason in
 * err) or -ENOMEM: the set is dropped.
 */
int k8s_rx_msg(struct k8s_rx *rx, __u16 flags, const void *p, size_t len,
	       struct k8s_set *out, __u32 *gen, char *err, size_t errlen);
/* Drops a set in progress (the child died). */
void k8s_rx_reset(struct k8s_rx *rx);

/* -- NODE_SET (role node) ------------------------------------------------- */

/* The node role's set as messages of at most chunk bytes each (0:
 * K8S_MSG_CHUNK), through emit: the same conventions as
 * k8s_msg_set_encode, bounded by LBD_K8S_NODE_MAX_*. */
int k8s_msg_node_set_encode(const struct k8s_node_set *set, __u32 seq,
			    __u32 gen, size_t chunk, k8s_msg_emit_fn emit,
			    void *arg);

/* A node set being received. */
struct k8s_node_rx {
	bool open; /* between a BEGIN and its END */
	__u32 seq, gen;
	struct k8s_node_set set;
	size_t cap_rec, cap_addr, cap_ep, cap_ref, cap_hc;
};

/*
 * One NODE_SET message (already through msg_check), as k8s_rx_msg takes
 * a SERVICES one: 0, the set goes on; 1, *out is the complete set (its
 * refusals sorted; the caller owns it); -EBADMSG (the reason in err) or
 * -ENOMEM: the set is dropped. Every field is checked (msg.h).
 */
int k8s_node_rx_msg(struct k8s_node_rx *rx, __u16 flags, const void *p,
		    size_t len, struct k8s_node_set *out, __u32 *gen, char *err,
		    size_t errlen);
/* Drops a node set in progress (the child died). */
void k8s_node_rx_reset(struct k8s_node_rx *rx);

/* Whether two kubernetes groups name the same cluster as the child
 * follows it (kubeconfig, context, class, namespace, bounds): what else
 * differs is sent to a running child, a different cluster takes a new
 * one. */
bool k8s_same_cluster(const struct lbd_conf_kubernetes *a,
		      const struct lbd_conf_kubernetes *b);

#endif /* LBD_K8S_MSG_H */
