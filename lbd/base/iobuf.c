// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "iobuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int iobuf_reserve(struct iobuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n <= b->cap)
		return 0;
	/* reclaim the consumed front before growing */
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + n <= b->cap)
			return 0;
	}
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int iobuf_append(struct iobuf *b, const void *d, size_t n)
{
	int err = iobuf_reserve(b, n);

	if (err)
		return err;
	memcpy(b->data + b->len, d, n);
	b->len += n;
	return 0;
}

int iobuf_send(struct iobuf *b, int fd)
{
	while (b->off < b->len) {
		ssize_t n = send(fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		b->off += (size_t)n;
	}
	return 0;
}

void iobuf_free(struct iobuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
