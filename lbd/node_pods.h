/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Role "node": the tc path on the pod interfaces (lbd/dp/node_tc.h).
 * Every interface whose name matches node_role.pod_interfaces gets the
 * programs when lbd starts, and every one that appears later (an
 * rtnetlink watch in the event loop) when it appears. Daemon code: it
 * logs what fails.
 */
#ifndef LBD_NODE_PODS_H
#define LBD_NODE_PODS_H

#include <linux/types.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "lbd/shared.h"
#include "node.h"
#include "node_tc.h"

struct node_pods;

/* The network namespace cookie of this process's (SO_NETNS_COOKIE), for
 * socket_lb = "host-only". */
int node_pods_host_netns(__u64 *out);

/* Loads the tc programs on n's maps and attaches them to the matching
 * interfaces; with no pattern, does nothing (*out NULL). */
int node_pods_start(sd_event *ev, const struct lbd_config *c,
		    struct lbd_node *n, struct node_pods **out);
/* Frees p; the filters stay (the next lbd replaces them in place). */
void node_pods_stop(struct node_pods *p);
/* New patterns: interfaces that match now get the programs, those lbd
 * attached to that no longer match lose them. */
void node_pods_reload(struct node_pods *p, const struct lbd_config *c);
/* The tc path's programs and maps (the NIC path shares its NAT map);
 * NULL without one. */
struct node_tc *node_pods_tc(const struct node_pods *p);
/* How many interfaces have the programs. */
size_t node_pods_count(const struct node_pods *p);
int node_pods_reasons(struct node_pods *p, __u64 out[LBD_NODE_TC_REASON_MAX]);
/* lbd --cleanup: the filters off every interface, the pins removed. */
int node_pods_cleanup(const char *pin_path);

#endif /* LBD_NODE_PODS_H */
