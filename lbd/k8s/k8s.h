/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes client: Services and EndpointSlices listed, then
 * watched, on an sd-event loop (libcurl's multi interface driven by the
 * loop's sources; json-c's tokener reads the watch stream as it comes).
 *
 * Protocol, as the API concepts document it ("Efficient detection of
 * changes", "Watch bookmarks", "Retrieving large results sets in
 * chunks"): list in pages of K8S_PAGE (limit/continue), then watch from
 * the list's resourceVersion with allowWatchBookmarks; every event and
 * bookmark moves the resourceVersion on. A watch the server ends is
 * started again from there; 410 Gone (an HTTP status, or an ERROR event
 * whose Status has code 410) means the history is gone: list again. A
 * relist builds a new cache beside the old one and swaps it in whole,
 * so the apply that follows sees only the difference. Failures retry
 * with exponential backoff and jitter; the caches (and so the datapath)
 * keep the last known state meanwhile.
 *
 * What the API server sends is bounded as it comes, before json-c holds
 * it (kubernetes.max_list_page_bytes, max_watch_line_bytes,
 * max_object_bytes): past a bound the request is aborted and retried
 * with backoff like any failure, with the bound in last_error.
 *
 * Changes are coalesced: the apply callback runs once the loop has
 * nothing more to read, and at most every K8S_APPLY_INTERVAL_MS, and only
 * once both resources have been listed.
 */
#ifndef LBD_K8S_H
#define LBD_K8S_H

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "k8s_model.h"
#include "k8s_node.h"
#include "kubeconfig.h"

#define K8S_PAGE 500
#define K8S_APPLY_INTERVAL_MS 20

enum k8s_resource {
	K8S_SERVICES,
	K8S_SLICES,
	K8S_RESOURCES,
};

enum k8s_event {
	K8S_ADDED,
	K8S_MODIFIED,
	K8S_DELETED,
	K8S_BOOKMARK,
	K8S_EVENTS,
};

struct k8s_stats {
	bool listed[K8S_RESOURCES]; /* a list completed at least once */
	bool watching[K8S_RESOURCES]; /* a watch is streaming now */
	unsigned long events[K8S_RESOURCES][K8S_EVENTS];
	unsigned long lists[K8S_RESOURCES]; /* completed lists */
	unsigned long gone[K8S_RESOURCES]; /* 410 Gone: relists */
	unsigned long watch_restarts[K8S_RESOURCES];
	unsigned long failures[K8S_RESOURCES]; /* requests that failed */
	/* the last request failed, and nothing came since (last_error
	 * says why) */
	bool failing[K8S_RESOURCES];
	/* of them, aborted past a kubernetes.max_*_bytes bound */
	unsigned long too_large[K8S_RESOURCES];
	size_t objects[K8S_RESOURCES];
	char last_error[K8S_RESOURCES][512];
};

struct k8s_client;

/* The caches changed (after the first complete sync): build and apply. */
typedef void (*k8s_changed_fn)(void *arg);

/*
 * Starts following the cluster of kc (copied) with the settings of
 * conf. changed runs on ev's loop. 0 or a negative errno.
 */
int k8s_start(sd_event *ev, const struct lbd_conf_kubernetes *conf,
	      const struct kubeconfig *kc, k8s_changed_fn changed, void *arg,
	      struct k8s_client **out);
void k8s_stop(struct k8s_client *c);
/* The same for the node role: every Service, whatever its type and
 * class, read with its node fields (k8s_node.h); k8s_node_build then. */
int k8s_start_node(sd_event *ev, const struct lbd_conf_kubernetes *conf,
		   const struct kubeconfig *kc, k8s_changed_fn changed,
		   void *arg, struct k8s_client **out);

/* The token of kc (a tokenFile's new contents) from the next request
 * on, without a new list. 0 or -ENOMEM. */
int k8s_set_token(struct k8s_client *c, const struct kubeconfig *kc);

/* Both resources have been listed: the caches are the cluster's. */
bool k8s_synced(const struct k8s_client *c);

/* The lbd services of the cached objects (k8s_translate). */
int k8s_build(struct k8s_client *c, const struct k8s_opts *o,
	      struct k8s_set *out);

/* The node role's records of the cached objects (k8s_node_translate). */
int k8s_node_build(struct k8s_client *c, const struct k8s_node_opts *o,
		   struct k8s_node_set *out);

const struct k8s_stats *k8s_stats(const struct k8s_client *c);
const char *k8s_resource_name(enum k8s_resource r);
const char *k8s_event_name(enum k8s_event e);

#endif /* LBD_K8S_H */
