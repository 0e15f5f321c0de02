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

struct lbd_daemon;

/* On the event loop, after the role started. */
int vips_start(struct lbd_daemon *d);
/* The announced set follows the state, health and attachment. */
void vips_update(struct lbd_daemon *d);
/* After a reload: the bgp settings may have changed. */
void vips_reloaded(struct lbd_daemon *d);
/*
 * A planned stop: every announced VIP gets the graceful shutdown
 * community (RFC 8326), then after bgp.shutdown_delay they are withdrawn;
 * done is called once BIRD has taken the withdraw (or at once when there
 * is nothing to withdraw, or BIRD cannot be told).
 */
void vips_shutdown(struct lbd_daemon *d, void (*done)(struct lbd_daemon *d));
/* Withdraws what it can without waiting (the file at least). */
void vips_withdraw_now(struct lbd_daemon *d);
void vips_stop(struct lbd_daemon *d);
/* lbd --cleanup: nothing announced any more (the file emptied, BIRD
 * told within a few seconds if it can be). */
struct lbd_config;
int vips_cleanup(const struct lbd_config *c);

/* For control and metrics: BIRD's state and every VIP's. */
void vips_json(const struct lbd_daemon *d, struct json_object *out);

#endif /* LBD_VIPS_H */
