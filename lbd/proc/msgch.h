/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A channel of lbd messages (msg.h) over a stream socket, on an sd-event
 * loop: the privileged process and each child speak one. Writes are
 * buffered and never block the loop; a message that fails msg_check, or a
 * peer that lets more than the output bound pile up unread, closes the
 * channel (on_close, from the loop).
 */
#ifndef LBD_MSGCH_H
#define LBD_MSGCH_H

#include <stddef.h>
#include <systemd/sd-event.h>

#include "msg.h"

struct msgch;

/* A message arrived and passed msg_check; payload holds h->len bytes, valid
 * during the call. */
typedef void (*msgch_msg_fn)(struct msgch *c, const struct lbd_msg_hdr *h,
			     const void *payload, void *arg);
/* The peer went away or misbehaved (err: -EBADMSG, -ENOBUFS, -ECONNRESET,
 * ...); c is freed after this returns. */
typedef void (*msgch_close_fn)(struct msgch *c, int err, void *arg);

/* Takes over fd (made non-blocking). */
int msgch_open(sd_event *ev, int fd, msgch_msg_fn on_msg,
	       msgch_close_fn on_close, void *arg, struct msgch **out);
/* Past max_out bytes queued unread (0: no bound), a send fails with
 * -ENOBUFS and the channel closes from the loop. */
void msgch_set_limit(struct msgch *c, size_t max_out);
/* Queues one message: a payload of len bytes (len <= LBD_MSG_MAX). */
int msgch_send(struct msgch *c, __u16 type, __u16 flags, const void *payload,
	       size_t len);
/* Queues one message whose payload is head (hlen bytes) then recs. */
int msgch_send2(struct msgch *c, __u16 type, __u16 flags, const void *head,
		size_t hlen, const void *recs, size_t rlen);
size_t msgch_pending(const struct msgch *c);
/* Closes without calling on_close. */
void msgch_free(struct msgch *c);

#endif /* LBD_MSGCH_H */
