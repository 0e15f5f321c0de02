/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Which VIPs lbd announces (role "lb", with a bgp group), through the
 * BIRD beside it (bgp/bird.h). A VIP is announced while lbd's XDP program
 * is attached to datapath.interface and at least min_healthy backends of
 * its services are up (health_backend_up; a backend counted once by
 * address and port); withdrawn otherwise. Evaluated again whenever one
 * of these may have changed: a health verdict, a reload, the attachment.
 */
#ifndef LBD_VIPS_H
#define LBD_VIPS_H

#include <stdbool.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

struct health;
struct lbd_config;
struct lbd_state;
struct vips;

/* What the announcement sees of the daemon. */
struct vips_ctx {
	sd_event *ev;
	struct lbd_config *const *cfg; /* the applied config */
	const struct lbd_state *st; /* the applied state */
	const bool *attached; /* the XDP program, as last seen */
	struct health *const *health; /* the checks' verdicts */
};

/* On the event loop, after the role started: *out is the announcer, or
 * NULL when the config has no bgp group. */
int vips_start(const struct vips_ctx *x, struct vips **out);
/* The announced set follows the state, health and attachment (vp NULL:
 * nothing). */
void vips_update(struct vips *vp);
/* After a reload: the bgp settings may have changed; *vpp follows them
 * (started, replaced or stopped). */
void vips_reloaded(struct vips **vpp, const struct vips_ctx *x);
/*
 * A planned stop: every announced VIP gets the graceful shutdown
 * community (RFC 8326), then after bgp.shutdown_delay they are withdrawn;
 * done is called once BIRD has taken the withdraw (or at once when there
 * is nothing to withdraw, or BIRD cannot be told).
 */
void vips_shutdown(struct vips *vp, void (*done)(void *arg), void *arg);
/* Withdraws what it can without waiting (the file at least). */
void vips_withdraw_now(struct vips *vp);
/* Frees vp (NULL: nothing). */
void vips_stop(struct vips *vp);
/* lbd --cleanup: nothing announced any more (the file emptied, BIRD
 * told within a few seconds if it can be). */
int vips_cleanup(const struct lbd_config *c);

/* For control and metrics: BIRD's state and every VIP's ("not
 * configured" when vp is NULL). */
void vips_json(const struct vips *vp, struct json_object *out);
/* The same into a metrics snapshot (nothing when vp is NULL). */
struct lbd_metrics_snap;
void vips_metrics(const struct vips *vp, struct lbd_metrics_snap *s);

#endif /* LBD_VIPS_H */
