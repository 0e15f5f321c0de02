/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Prometheus endpoint of the io process: libmicrohttpd serving
 * GET /metrics on a listening socket the privileged process made.
 *
 * libmicrohttpd runs its own polling thread; the io process's event loop
 * stays single-threaded. The two meet in one small handshake:
 *
 *   a scrape finds the published text older than HTTPD_FRESH_MS: the MHD
 *   thread writes the eventfd (httpd_want_fd) and waits, at most
 *   HTTPD_WAIT_MS, on a condition variable;
 *   the io loop sees the eventfd, asks the privileged process for a
 *   snapshot (one request in flight at a time, however many scrapes
 *   wait), renders it and publishes it (httpd_publish), which wakes every
 *   waiting scrape.
 *
 * So scrapes never reach the privileged process directly, several
 * scrapers cost one snapshot per HTTPD_FRESH_MS at most, and a scrape
 * that is not answered in time gets 503, never a hang.
 */
#ifndef LBD_HTTPD_H
#define LBD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPD_FRESH_MS 1000
#define HTTPD_WAIT_MS 5000

struct httpd;

/* Starts serving on fd (listening, taken over). 0 or a negative errno. */
int httpd_start(int fd, struct httpd **out);
/* Readable when a scrape waits for a snapshot; httpd_want_clear reads it. */
int httpd_want_fd(const struct httpd *h);
void httpd_want_clear(struct httpd *h);
/* Publishes a rendered text (taken over; NULL: the snapshot failed, the
 * waiting scrapes get 503). */
void httpd_publish(struct httpd *h, char *text, size_t len);
void httpd_stop(struct httpd *h);

#endif /* LBD_HTTPD_H */
