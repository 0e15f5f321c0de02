/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The desired services from every source: the config file's and a
 * Kubernetes cluster's (k8s_model.h), merged into one config that
 * state_apply takes as it takes a config file's, so that everything that
 * applies to configured services (drains, health, announcement) applies
 * to the cluster's too.
 *
 * One service per VIP, port and protocol. When two sources want the same
 * one, the one that already serves it keeps it and the newcomer is
 * refused (and said so) until the key is free; of two newcomers at once,
 * the config file's wins, then the first in name order. The refused one
 * stays wanted: it takes over when the other goes away.
 *
 * No service but a vip = "*" one may have an address of the LB host
 * itself (any interface's) as its VIP: the XDP program would take every
 * packet to it, SSH and the API server's answers too. Such a service is
 * refused (and said so) while the address is the host's, and served when
 * it is no longer; in the config file it is an error as well
 * (sources_check_file).
 */
#ifndef LBD_SOURCES_H
#define LBD_SOURCES_H

#include <stddef.h>

#include "config.h"
#include "datapath.h"
#include "k8s_model.h"
#include "state.h"

/* Who holds (or was refused) a key. */
struct src_claim {
	struct lbd_svc_addr key;
	enum lbd_origin origin;
	char name[LBD_SVC_NAME_MAX];
	char where[PATH_MAX + 160]; /* file:line, or the Service */
};

struct sources {
	struct src_claim *held; /* sorted by key: who serves what */
	size_t n_held;
	struct src_claim *refused; /* sorted by key, then name */
	size_t n_refused;
	unsigned long refusals; /* newcomers refused since the start */
	/* the LB host's addresses, sorted (sources_set_host_addrs) */
	struct lbd_conf_addr *host;
	size_t n_host;
	struct src_claim *host_refused; /* sorted: refused for them now */
	size_t n_host_refused;
	/* the cluster's services refused for them since the start, and
	 * the last such refusal */
	unsigned long host_refusals_k8s;
	char last_host_refusal[512];
};

/* The LB host's addresses from now on (copied; sorted by
 * config_addr_cmp). 1 when they differ from the last ones, 0 when not,
 * -ENOMEM. */
int sources_set_host_addrs(struct sources *s, const struct lbd_conf_addr *a,
			   size_t n);

/* Whether a is an address of the LB host. */
bool sources_is_host_addr(const struct sources *s,
			  const struct lbd_conf_addr *a);

/* The config file's services whose VIP is an address of the LB host, as
 * "file:line: services[name]: vip: ..." in diag; -EINVAL when there is
 * one. */
int sources_check_file(const struct sources *s, const struct lbd_config *file,
		       struct config_diag *diag);

/* The cluster's services refused now for an address of the LB host. */
size_t sources_host_refused_k8s(const struct sources *s);

/*
 * Merges file's services and k8s's (NULL: none) into *out, a config with
 * file's settings. Lines for what changed in who is refused (a new
 * refusal, a refused one now served) go to news. 0 or -ENOMEM.
 *
 * max_new (0: no limit) caps the cluster's services that are new to the
 * datapath in this merge; the others wait for the next one, counted in
 * *deferred. Each new table costs the kernel an RCU grace period when it
 * enters the map-in-map, so a large first sync goes in steps and the
 * event loop (and systemd's watchdog) runs in between; services already
 * served are never held back.
 */
int sources_merge(struct sources *s, const struct lbd_config *file,
		  const struct k8s_set *k8s, size_t max_new,
		  struct lbd_config **out, struct config_diag *news,
		  size_t *deferred);

/* Releases a config made by sources_merge (not file's parts). */
void sources_merged_free(struct lbd_config *merged);

void sources_free(struct sources *s);

/*
 * sources_merge, then state_apply of the result: how lbd applies a
 * reload and a change in the cluster alike.
 */
int sources_apply(struct sources *s, struct lbd_state *st, struct lbd_dp *dp,
		  const struct lbd_config *file, const struct k8s_set *k8s,
		  size_t max_new, plan_fn plan, void *plan_arg,
		  struct apply_result *res, struct config_diag *news,
		  size_t *deferred);

#endif /* LBD_SOURCES_H */
