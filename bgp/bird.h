/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Driving BIRD 2, the BGP speaker beside lbd on an LB host.
 *
 * lbd does not speak BGP. It writes the VIPs to announce into a file that
 * BIRD's configuration includes (static protocols lbd4 and lbd6, one
 * blackhole route per VIP with its BGP attributes), written atomically
 * (a temporary file, then rename), and asks BIRD to reconfigure over its
 * control socket, as birdc does. BIRD reads the file again on every
 * start, so a restarted BIRD announces what lbd last wrote; lbd
 * reconfigures it again whenever it (re)connects.
 *
 * The control protocol (BIRD's client/client.c and doc/prog): lines
 * "DDDD-text" (a line of a reply, more to come), "DDDD text" (its last
 * line), " text" (more of the line before, same code) and "+text" (an
 * asynchronous message, not part of a reply). Codes 0xxx are done
 * actions, 1xxx table entries, 2xxx headings, 8xxx run-time errors and
 * 9xxx parse errors. On connecting, BIRD greets with "0001 BIRD ... ready.".
 *
 * Library code: 0 or a negative errno; nothing here blocks (the socket is
 * non-blocking, on the caller's sd-event loop).
 */
#ifndef LBD_BIRD_H
#define LBD_BIRD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <systemd/sd-event.h>

#include "config.h"

/* -- the control protocol ------------------------------------------------ */

#define BIRD_LINE_MAX 4096

enum bird_line_type {
	BIRD_LINE_REPLY, /* "DDDD-text" or "DDDD text" */
	BIRD_LINE_CONT, /* " text": more of the line before */
	BIRD_LINE_ASYNC, /* "+text" */
};

struct bird_line {
	enum bird_line_type type;
	int code; /* REPLY: 0-9999 */
	bool last; /* REPLY "DDDD text": the reply ends with it */
	const char *text; /* into the line parsed */
};

/* One line, without its newline; -EINVAL for what is none of the forms. */
int bird_parse_line(const char *line, struct bird_line *out);

static inline bool bird_code_is_error(int code)
{
	return code >= 8000;
}

/* A reply, collected line by line. */
struct bird_reply {
	int code; /* of its last line */
	int error; /* the first 8xxx/9xxx code; 0: none */
	char text[512]; /* the first error's text, else the last line's */
	bool started; /* a line of it came */
	bool done;
};

/* Adds a line to r: 1 when the reply is complete, 0 when more is to
 * come, -EINVAL for a line that breaks the protocol (a continuation
 * before any line, anything after the last). Asynchronous messages are
 * not part of a reply: 0. */
int bird_reply_feed(struct bird_reply *r, const char *line);

/* -- the client, on an sd-event loop ----------------------------------- */

struct bird_client;

/* The reply to a command: err 0 with r, or -ENOTCONN when the connection
 * went before it came. */
typedef void (*bird_reply_fn)(void *arg, int err, const struct bird_reply *r);
/* Connected (after BIRD's greeting) or not any more. */
typedef void (*bird_conn_fn)(void *arg, bool up);

/* Connects to the control socket at path, and again every second while
 * it cannot or after the connection went. */
int bird_client_new(sd_event *ev, const char *path, bird_conn_fn fn, void *arg,
		    struct bird_client **out);
void bird_client_free(struct bird_client *c);
bool bird_client_connected(const struct bird_client *c);
/* Sends a command (queued behind those not answered yet); fn gets its
 * reply. -ENOTCONN when not connected. */
int bird_client_cmd(struct bird_client *c, const char *cmd, bird_reply_fn fn,
		    void *arg);

/* -- announcing -------------------------------------------------------- */

struct bird_route {
	__u8 family;
	union lbd_addr addr;
	struct lbd_conf_bgp_attrs attrs;
};

/* The RFC 8326 GRACEFUL_SHUTDOWN community. */
#define BIRD_GSHUT_ASN 65535
#define BIRD_GSHUT_VALUE 0

/*
 * The include file for routes: the static protocols lbd4 and lbd6 (both
 * always, so that BIRD's configuration can name them), one blackhole route
 * per VIP with its communities, large communities, local preference and
 * asn prepended; the MED goes in the custom route attribute lbd_med, which
 * BIRD's configuration declares and its export filters copy to bgp_med
 * (BIRD zeroes a MED on export to an external peer unless the export
 * filter sets it). gshut adds the graceful shutdown community to every
 * route. *out is malloc'd.
 */
int bird_render(const struct bird_route *r, size_t n, __u32 asn, bool gshut,
		char **out);
/* Writes text to path atomically (temporary file, fsync, rename),
 * creating the directory. */
int bird_write_file(const char *path, const char *text);

struct bird_announcer;

/* BIRD has taken the file as last written. */
typedef void (*bird_done_fn)(void *arg);

struct bird_status {
	bool connected;
	bool current; /* BIRD has taken the file as last written */
	size_t routes; /* in the file as last written */
	bool gshut;
	unsigned long configures; /* "configure" commands BIRD accepted */
	unsigned long errors; /* and refused */
	char last_error[sizeof(((struct bird_reply *)0)->text) + 16];
};

int bird_announcer_new(sd_event *ev, const char *socket, const char *file,
		       struct bird_announcer **out);
void bird_announcer_free(struct bird_announcer *a);
/*
 * Makes file hold exactly routes r and has BIRD reconfigure (now, or
 * when it is next connected; one "configure" at a time, the newest file
 * counting). done (may be NULL) is called once BIRD has taken this file
 * or a newer one.
 */
int bird_announce(struct bird_announcer *a, const struct bird_route *r,
		  size_t n, __u32 asn, bool gshut, bird_done_fn done,
		  void *arg);
void bird_announcer_status(const struct bird_announcer *a,
			   struct bird_status *out);

#endif /* LBD_BIRD_H */
