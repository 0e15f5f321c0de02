/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The privileged side of the Kubernetes child (k8s_child.h): starts it
 * (proc.h), hands it the settings and the kubeconfig's bytes, reads as
 * root the files the kubeconfig references when the child names them
 * (once per child, before it has spoken to the network), and takes the
 * sets of services it sends (in the node role, of the node's records),
 * checked record by record (k8s_msg.h). No YAML, JSON or HTTP here:
 * bytes of files out, fixed records in.
 *
 * The last complete set stays with the owner while the child is down or
 * resyncs: what the cluster gave keeps serving until a new child has
 * synced. A child that sends a set that does not check is killed (and
 * respawned by proc).
 */
#ifndef LBD_K8S_PROC_H
#define LBD_K8S_PROC_H

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "k8s_model.h"
#include "k8s_msg.h"
#include "k8s_node.h"
#include "msg.h"

struct k8s_proc;

/* A new complete set from the child; the callee takes it (and frees it
 * with k8s_set_free). */
typedef void (*k8s_proc_set_fn)(struct k8s_set *set, void *arg);

/* Starts the child for c's kubernetes settings, running as user. 0 or a
 * negative errno. */
int k8s_proc_start(sd_event *ev, const struct lbd_config *c, const char *user,
		   k8s_proc_set_fn on_set, void *arg, struct k8s_proc **out);

/* Role node: a new complete set of the node's records (checked field
 * by field, k8s_node_rx_msg); the callee takes it (and frees it with
 * k8s_node_set_free). */
typedef void (*k8s_proc_node_set_fn)(struct k8s_node_set *set, void *arg);

/* Starts the child for the node role: every Service, translated for the
 * node id (its name, zone and NodePort addresses). As k8s_proc_start. */
int k8s_proc_start_node(sd_event *ev, const struct lbd_config *c,
			const char *user, const struct k8s_node_ident *id,
			k8s_proc_node_set_fn on_set, void *arg,
			struct k8s_proc **out);

/* Role node: k8s_proc_update, with the node as id says it now. */
int k8s_proc_update_node(struct k8s_proc *kp, const struct lbd_config *c,
			 const struct k8s_node_ident *id);

/*
 * c is the config from now on: a new cluster (kubeconfig, context, class,
 * namespace or bounds) restarts the child, anything else sends the
 * settings again for a new translation (a new set follows). 0 or a
 * negative errno (the kubeconfig could not be read).
 */
int k8s_proc_update(struct k8s_proc *kp, const struct lbd_config *c);

void k8s_proc_stop(struct k8s_proc *kp);

/* The client's state as the child last said it (server, context, sync,
 * per resource counts and errors); zeroes before it has. For lbctl status
 * and the metrics. */
void k8s_proc_status(const struct k8s_proc *kp, struct lbd_k8s_status *out);

/* A set came since the child (re)started: its caches are the cluster's. */
bool k8s_proc_synced(const struct k8s_proc *kp);

/* The child's pid; 0 while it is down. */
pid_t k8s_proc_pid(const struct k8s_proc *kp);

/* Reads the kubeconfig file (at most LBD_K8S_FILE_MAX bytes): 0 or a
 * negative errno, with "path: reason" in err. */
int k8s_proc_read_file(const char *path, char **out, size_t *len, char *err,
		       size_t errlen);

#endif /* LBD_K8S_PROC_H */
