/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's healthCheckNodePort server, in the io process: for each
 * port of the table lbd sends (LBD_MSG_NODE_HC, after every sync and to
 * every new io process) a listener on all addresses (one IPv6 socket that
 * takes IPv4 too, or an IPv4 one where the host has no IPv6), answering
 * any request as kube-proxy's health server does
 * (pkg/proxy/healthcheck/service_health.go): Content-Type
 * application/json and X-Content-Type-Options nosniff, status 200 when
 * the Service has local endpoints and lbd's last sync was applied, 503
 * otherwise, and the body
 *
 *   {
 *           "service": {
 *                   "namespace": "NS",
 *                   "name": "NAME"
 *           },
 *           "localEndpoints": N,
 *           "serviceProxyHealthy": true
 *   }
 *
 * indented with tabs, without a final newline. A new table closes the
 * ports that went and opens the new ones; a port that cannot be opened
 * (taken, under 1024 without the capability, out of descriptors) is
 * logged once and counted, tried again with each table, and never stops
 * the others.
 *
 * The same server answers kube-proxy's node health server
 * (pkg/proxy/healthcheck/proxy_health.go) on the table's healthz address
 * (node_role.healthz_address): GET (any method) /healthz and /livez, 200
 * while serviceProxyHealthy, else 503, with the body of
 * hcserve_healthz_body; any other path 404. A port that cannot be bound
 * (kube-proxy still on it) is logged once, counted with the others, and
 * tried again every 10 s and with every table.
 *
 * The listeners are sources of the io loop, which accepts; the
 * connections are handed to one libmicrohttpd daemon (its own thread, no
 * listening socket of its own), which finds a connection's port with
 * getsockname() and answers from the table under a mutex.
 */
#ifndef LBD_HCSERVE_H
#define LBD_HCSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "msg.h"

struct hcserve;

/* What the table's users see: the ports open, and the failed openings
 * so far (each port counted once until it opens or goes). */
struct hcserve_stats {
	unsigned long ports, open_failures;
	bool healthz; /* /healthz listens */
};

/*
 * Whether payload (n bytes, a LBD_MSG_NODE_HC that msg_check let
 * through) is a table: head.n records, healthy 0 or 1, names ending
 * within their arrays, ports ascending (each once, none 0). 0, or
 * -EBADMSG with the reason in err.
 */
int hcserve_table_check(const void *payload, size_t n, char *err,
			size_t errlen);

/* The server, without ports until a table comes. 0 or a negative errno. */
int hcserve_new(sd_event *ev, struct hcserve **out);
/* Serves the table of payload (checked here first: a table that does
 * not pass is logged and changes nothing). */
void hcserve_table(struct hcserve *h, const void *payload, size_t n);
void hcserve_stats(const struct hcserve *h, struct hcserve_stats *out);
/* Closes every port and stops the server. */
void hcserve_free(struct hcserve *h);

/* The body of the answer for ns/name with count local endpoints, into
 * buf; its length (snprintf's: at least len means cut). */
int hcserve_body(char *buf, size_t len, const char *ns, const char *name,
		 unsigned long count, int healthy);

/* The body of /healthz (livez false) or /livez: lastUpdated (now_ms
 * while healthy, as kube-proxy says, else last_sync_ms; 0: none yet) and
 * currentTime, RFC 3339 in UTC. Its length, as snprintf's. */
int hcserve_healthz_body(char *buf, size_t len, bool livez, bool healthy,
			 __u64 last_sync_ms, __u64 now_ms);

#endif /* LBD_HCSERVE_H */
