/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What lbd has applied to the datapath, and how a new config is applied:
 * parse (config/), build the desired state, diff it against the applied
 * one, and write only the map entries that change.
 *
 * Order of writes keeps every packet's view consistent: a service's
 * backends exist before a table names them, a table is swapped whole, a
 * service appears only once its table is in place, and a VIP appears after
 * its services and disappears before them. Backends that become usable are
 * written before the table swap, those that stop being usable after it.
 */
#ifndef LBD_STATE_H
#define LBD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "config.h"
#include "datapath.h"

struct st_backend {
	struct lbd_conf_addr addr;
	__u16 port;
	__u32 weight;
	enum lbd_conf_state conf_state;
	bool health_down; /* set by health checks */
	bool drained; /* set at runtime (lbctl drain) */
	__u8 dp_state; /* enum lbd_backend_state as written */
	__u32 id;
	__u32 gen;
	__u32 health; /* its settings: index into the applied config's
		       * healths (0, "none", until a config is applied) */
};

struct st_service {
	struct lbd_svc_addr key;
	char name[LBD_SVC_NAME_MAX];
	/* where it comes from: "FILE:LINE", "kubernetes NS/NAME"; "" when
	 * adopted from the maps and not applied since */
	char source[160];
	bool adopted; /* read back from the maps, not (yet) desired */
	__u8 fwd;
	__u8 dsr; /* hybrid: the DSR forwarding for TCP */
	__u8 flags; /* LBD_SVC_F_* */
	bool icmp_echo;
	bool wildcard; /* from vip = "*": on an LB host address */
	__u32 affinity_timeout;
	struct lbd_conf_addr *ranges; /* source ranges, sorted */
	size_t n_ranges;
	__u32 id;
	__u32 table_hash;
	__u32 table_size; /* 0: no table (no usable backend) */
	__u32 maglev_size; /* its own table size; 0: the datapath's */
	struct st_backend *be; /* sorted by address, then port */
	size_t n_be;
};

/* What the datapath serves after the last apply (state_apply). */
enum st_served {
	ST_SERVED_APPLIED, /* the state of the last apply, whole */
	/* the last apply failed and every write it made was put back:
	 * the state before it */
	ST_SERVED_PREVIOUS,
	/* putting them back failed too: what the maps hold is the state
	 * part way through an apply (consistent for every packet), read
	 * back from the maps; the next apply that succeeds ends it */
	ST_SERVED_MIXED,
};

struct lbd_state {
	struct st_service *svc; /* sorted by key */
	size_t n_svc;
	__u32 max_services;
	__u32 max_backends;
	__u32 maglev_size;
	__u32 seed;
	__u32 gen; /* last backend generation given out */
	/* the LB host's addresses, for services with vip = "*" */
	struct lbd_conf_addr *host;
	size_t n_host;
	/* where the VIP table is derived, kept: its pages are already
	 * touched */
	struct lbd_vip_slot *vip_scratch;
	__u32 n_vip_scratch;
	/* keep adopted services that no source wants yet: after a
	 * restart, the cluster's services are in the maps but not known
	 * until the first sync (lb.c sets and clears it) */
	bool hold_adopted;
	/* told during an apply to the datapath: services done of total,
	 * after each batch and at the end (the daemon tells systemd and the
	 * log); NULL: nobody asks */
	void (*progress)(void *arg, size_t done, size_t total);
	void *progress_arg;
	/* free ids, used as stacks */
	__u32 *free_svc;
	size_t n_free_svc;
	__u32 *free_be;
	size_t n_free_be;
	/* what state_adopt found that no service owns (an apply or its
	 * rollback stopped part way): backends in use and service ids
	 * with a table or source ranges. Their ids are not free until the
	 * next apply has cleared them. */
	__u32 *stale_be, *stale_svc;
	size_t n_stale_be, n_stale_svc;
	/* after a rollback that failed: tables may differ from what their
	 * service entries say, and VIPs from what the services imply; the
	 * next apply swaps every table and writes VIPs against the maps */
	bool resync;
	/* the free ids when an apply began, put back by its rollback */
	__u32 *saved_svc, *saved_be;
	/* for lbctl status and the metrics */
	enum st_served served;
	/* -errno of the last failed apply or runtime change; 0 once an
	 * apply succeeds */
	int last_err;
	unsigned long failures; /* applies and runtime changes that failed */
	unsigned long rollback_failures; /* of those, not put back */
};

struct apply_result {
	unsigned int svc_added, svc_removed, svc_changed;
	unsigned int be_added, be_removed, be_changed;
	unsigned int tables; /* Maglev tables built and installed */
	unsigned long writes; /* map writes */
	double maglev_ms; /* CPU time building tables, over all threads */
	double maglev_wall_ms; /* the wall clock time that took */
};

/* Receives one line per change ("+ service ...", "- backend ...",
 * "~ backend ... weight 1 -> 2"). */
typedef void (*plan_fn)(void *arg, const char *line);

int state_init(struct lbd_state *st, __u32 max_services, __u32 max_backends);
void state_free(struct lbd_state *st);

/*
 * Rebuilds the applied state from the maps of a datapath (after a
 * restart, the maps are the truth). Names are not in the maps: services
 * are named by address until the next apply.
 */
int state_adopt(struct lbd_state *st, struct lbd_dp *dp, __u32 maglev_size,
		__u32 seed);

/*
 * Applies cfg: writes the difference to dp, or with dp == NULL only
 * reports it (lbd --check). plan may be NULL. It is a transaction: when
 * a map write fails, every write made so far is put back, newest first
 * (dp_journal_rollback), and the datapath serves the state before it
 * (st->served ST_SERVED_PREVIOUS). If that fails too, the state is
 * re-read from the maps, so it stays the truth (ST_SERVED_MIXED).
 */
int state_apply(struct lbd_state *st, struct lbd_dp *dp,
		const struct lbd_config *cfg, plan_fn plan, void *plan_arg,
		struct apply_result *res);

/*
 * lbd --check: state_apply with no datapath that also hands back the
 * services the config gives, as the apply would leave them (ids kept or
 * given, Maglev table hashes and sizes), in *planned (n of them, sorted
 * by key; the caller frees them with state_services_free). st stays as
 * it was.
 */
int state_plan(struct lbd_state *st, const struct lbd_config *cfg, plan_fn plan,
	       void *plan_arg, struct apply_result *res,
	       struct st_service **planned, size_t *n);
void state_services_free(struct st_service *s, size_t n);

/* Which backends a runtime change applies to. */
struct be_match {
	const char *service; /* NULL: every service */
	struct lbd_conf_addr addr;
	__u16 port; /* 0: any port */
};

enum be_flag {
	BE_FLAG_DRAINED, /* lbctl drain */
	BE_FLAG_HEALTH_DOWN, /* health checks */
};

/*
 * Sets a runtime flag on every matching backend and writes what that
 * changes (backend entries, Maglev tables) in the same safe order as an
 * apply. The flags survive reloads for backends that stay. Returns how
 * many backends matched, or a negative errno.
 */
int state_set_flag(struct lbd_state *st, struct lbd_dp *dp,
		   const struct be_match *m, enum be_flag flag, bool value,
		   plan_fn plan, void *plan_arg, struct apply_result *res);

/* One backend of one service, named exactly, and the value its flag
 * gets (state_set_flags). */
struct be_change {
	struct lbd_svc_addr svc;
	struct lbd_conf_addr addr;
	__u16 port;
	bool value;
};

/*
 * The same for many backends at once (health checks' verdicts): each
 * service touched gets one new table, whatever the number of its
 * backends that change. Changes that name no backend, or set what is
 * already set, do nothing. Sorts ch. Returns how many backends changed,
 * or a negative errno.
 */
int state_set_flags(struct lbd_state *st, struct lbd_dp *dp, enum be_flag flag,
		    struct be_change *ch, size_t n, plan_fn plan,
		    void *plan_arg, struct apply_result *res);

/* "applied", "previous", "mixed". */
const char *state_served_str(enum st_served s);

/* The order of services: family, VIP, port, protocol. */
int svc_addr_cmp(const struct lbd_svc_addr *a, const struct lbd_svc_addr *b);

/* Lookups for tools and tests. */
const struct st_service *state_find(const struct lbd_state *st,
				    const struct lbd_svc_addr *key);
const struct st_service *state_find_name(const struct lbd_state *st,
					 const char *name);

/* The datapath state a backend gets from config, health and drain. */
__u8 st_backend_dp_state(const struct st_backend *b);

/* The LB host's addresses services with vip = "*" listen on, used by
 * the next apply (copied). */
int state_set_host_addrs(struct lbd_state *st, const struct lbd_conf_addr *a,
			 size_t n);

/* The datapath options (sizes and load-time knobs) a config asks for. */
void state_dp_opts(const struct lbd_config *cfg, struct lbd_dp_opts *o);

#endif /* LBD_STATE_H */
