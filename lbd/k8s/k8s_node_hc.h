/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's health check table: for each Service with a
 * spec.healthCheckNodePort (a LoadBalancer Service with
 * externalTrafficPolicy Local), the port and the Service's count of
 * local endpoints, which the io process serves (lbd/ctl/hcserve.h) as
 * kube-proxy's health server does: 200 with the count when it is not
 * zero, 503 otherwise, so that load balancers skip a node without one.
 * Pure functions, no I/O.
 */
#ifndef LBD_K8S_NODE_HC_H
#define LBD_K8S_NODE_HC_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s_node.h"
#include "msg.h"

/*
 * The table of set s into a new *out (free()), *n records sorted by
 * port. The count is kube-proxy's (EndpointsMap.LocalReadyEndpoints):
 * the endpoints on this node that are ready, each address once over all
 * the Service's ports. A serving and terminating endpoint does not count
 * even where it still takes new connections (none ready being left):
 * the node then fails its check and load balancers drain it. kube-proxy
 * counts per address family (a proxier each); a dual-stack Service's
 * count is the larger of its families', so that a dual-stack pod is one
 * endpoint, as it is to kube-proxy. The ports of Services without an
 * external record (s->hc_only) follow: a refused Service's with 0 local
 * endpoints, one without an external address yet with the count of its
 * internal records. A port that two Services name (the
 * API server allocates each once) is the first one's, and past
 * LBD_NODE_HC_MAX ports the rest are left out: *dropped says how many
 * Services were. 0 or -ENOMEM.
 */
int k8s_node_hc_table(const struct k8s_node_set *s,
		      struct lbd_node_hc_rec **out, size_t *n, size_t *dropped);

/*
 * kube-proxy's serviceProxyHealthy (pkg/proxy/healthcheck: false once an
 * update has waited longer than its healthTimeout, 2 x syncPeriod, 60 s
 * by default), for lbd: false after a sync that failed (sync_ok false:
 * the maps are behind), and once the Kubernetes client has been behind
 * the cluster for timeout seconds or more: not synced (a new child, or
 * listing again), not running, or a resource's watch down (lost, and
 * not yet streaming again), so that changes may wait unseen. st is the
 * child's last status, synced whether a set of it came, now a monotonic
 * time in seconds. *behind_since (0: not behind) is the caller's state,
 * kept from call to call: set when the client falls behind, cleared
 * when it is not.
 */
bool k8s_node_hc_healthy(const struct lbd_k8s_status *st, bool synced,
			 bool sync_ok, double now, double timeout,
			 double *behind_since);

#endif /* LBD_K8S_NODE_HC_H */
