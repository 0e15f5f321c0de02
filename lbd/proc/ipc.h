/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * JSON lines over a stream socket, on an sd-event loop: one JSON object
 * per line, in both directions: the control socket's protocol, spoken by
 * the io process and lbctl. Between lbd's processes, fixed-layout
 * messages (msgch.h) instead.
 *
 * Writes are buffered and never block the loop; a peer that sends a line
 * longer than IPC_MAX_LINE (or the limit ipc_set_limits set), or something
 * that is not a JSON object, is disconnected, and so is one that lets more
 * than its output bound pile up unread (ipc_set_limits).
 */
#ifndef LBD_IPC_H
#define LBD_IPC_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <systemd/sd-event.h>

#define IPC_MAX_LINE (16u << 20)

struct ipc;

/* A message arrived; the callee does not own msg. */
typedef void (*ipc_msg_fn)(struct ipc *c, struct json_object *msg,
			   void *arg);
/* The peer went away (or misbehaved); c is freed after this returns. */
typedef void (*ipc_close_fn)(struct ipc *c, void *arg);

/* Takes over fd (made non-blocking). */
int ipc_open(sd_event *ev, int fd, ipc_msg_fn on_msg, ipc_close_fn on_close,
	     void *arg, struct ipc **out);
/*
 * Bounds what one peer may cost: a line of input longer than max_line
 * (0: IPC_MAX_LINE) disconnects, and so does a message sent while more
 * than max_out bytes (0: no bound) are still queued for the peer. One
 * message is always taken whole when the queue is under the bound, however
 * long: a peer that reads what it asked for is never cut off, one that
 * keeps asking without reading is.
 */
void ipc_set_limits(struct ipc *c, size_t max_line, size_t max_out);
/* Queues msg (not consumed) as one line. -ENOBUFS past the output bound:
 * the peer is then disconnected from the loop (on_close comes later,
 * never from inside ipc_send). */
int ipc_send(struct ipc *c, struct json_object *msg);
/* Closes without calling on_close. */
void ipc_free(struct ipc *c);
int ipc_fd(const struct ipc *c);
/* Bytes queued and not yet written (a slow reader's backlog). */
size_t ipc_pending(const struct ipc *c);

/* Whether member key of o is the JSON integer want: not a string, a
 * boolean or a number with a fraction or exponent that converts to it. */
bool ipc_member_is_int(struct json_object *o, const char *key, int64_t want);

/* Blocking helpers for simple clients (lbctl): write one message; read
 * messages one line at a time. -errno on failure, -ECONNRESET at the
 * end of the stream. */
int ipc_write_blocking(int fd, struct json_object *msg);
struct ipc_reader;
struct ipc_reader *ipc_reader_new(int fd);
int ipc_reader_next(struct ipc_reader *r, struct json_object **out);
void ipc_reader_free(struct ipc_reader *r);

#endif /* LBD_IPC_H */
