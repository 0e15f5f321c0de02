/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A byte buffer for a non-blocking stream: bytes are appended at the end
 * and consumed from the front (off), and the consumed front is reclaimed
 * before the buffer grows. The channels between lbd's processes
 * (msgch.c) and lbctl's JSON lines (ipc.c) keep their input and output
 * in one each.
 */
#ifndef LBD_IOBUF_H
#define LBD_IOBUF_H

#include <stddef.h>

struct iobuf {
	char *data;
	size_t len, cap, off; /* off: start of unconsumed data */
};

/* Room for n more bytes at data + len: 0 or -ENOMEM. */
int iobuf_reserve(struct iobuf *b, size_t n);
/* n bytes of d at the end: 0 or -ENOMEM. */
int iobuf_append(struct iobuf *b, const void *d, size_t n);
/* Sends what b holds to fd until the socket would block (MSG_NOSIGNAL:
 * a peer gone is an error, not a SIGPIPE): 0, or a negative errno. */
int iobuf_send(struct iobuf *b, int fd);
/* Bytes not yet consumed. */
static inline size_t iobuf_pending(const struct iobuf *b)
{
	return b->len - b->off;
}
/* Frees the bytes; b is empty afterwards. */
void iobuf_free(struct iobuf *b);

#endif /* LBD_IOBUF_H */
