// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Prometheus endpoint of the io process (see httpd.h). */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#include "log.h"

/* Scrapers are few; a connection that idles is dropped. */
#define HTTPD_MAX_CONNS 16
#define HTTPD_IDLE_S 10

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct httpd {
	struct MHD_Daemon *mhd;
	int want_fd; /* eventfd: the MHD thread -> the io loop */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled on every publish */
	/* under mu */
	char *text; /* NULL: none yet, or the last snapshot failed */
	size_t len;
	unsigned long gen; /* publishes so far */
	struct timespec at; /* of the last publish (CLOCK_MONOTONIC) */
};

static long ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *type, char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer_with_free_callback(len, body,
								   free);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_str(struct MHD_Connection *conn, unsigned int code,
				 const char *msg)
{
	char *body = strdup(msg);

	if (!body)
		return MHD_NO;
	return reply(conn, code, "text/plain; charset=utf-8", body,
		     strlen(body));
}

/* In the MHD thread: a copy of a snapshot fresh enough, asking the io
 * loop for one when needed and waiting for it, bounded. */
static char *fresh_text(struct httpd *h, size_t *len)
{
	struct timespec deadline;
	unsigned long want;
	uint64_t one = 1;
	char *copy = NULL;

	pthread_mutex_lock(&h->mu);
	if (!h->text || ms_since(&h->at) >= HTTPD_FRESH_MS) {
		want = h->gen + 1;
		if (write(h->want_fd, &one, sizeof(one)) < 0)
			log_debug("metrics: eventfd: %s", strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += HTTPD_WAIT_MS / 1000;
		while (h->gen < want &&
		       pthread_cond_timedwait(&h->cv, &h->mu, &deadline) !=
			       ETIMEDOUT)
			;
		if (h->gen < want) {
			pthread_mutex_unlock(&h->mu);
			return NULL;
		}
	}
	if (h->text) {
		copy = malloc(h->len ? h->len : 1);
		if (copy) {
			memcpy(copy, h->text, h->len);
			*len = h->len;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return copy;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	size_t len = 0;
	char *text;

	(void)version;
	(void)upload;
	/* first call: headers only; answer on the second, with no body
	 * accepted (a GET has none) */
	if (!*con_cls) {
		*con_cls = h;
		return MHD_YES;
	}
	if (*upload_size)
		return reply_str(conn, MHD_HTTP_BAD_REQUEST, "no body here\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_str(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				 "GET only\n");
	if (strcmp(url, "/metrics"))
		return reply_str(conn, MHD_HTTP_NOT_FOUND,
				 "lbd serves /metrics\n");
	text = fresh_text(h, &len);
	if (!text)
		return reply_str(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				 "lbd did not answer in time\n");
	return reply(conn, MHD_HTTP_OK, CONTENT_TYPE, text, len);
}

int httpd_start(int fd, struct httpd **out)
{
	struct httpd *h = calloc(1, sizeof(*h));
	int err;

	if (!h) {
		close(fd);
		return -ENOMEM;
	}
	h->want_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->want_fd < 0) {
		err = -errno;
		close(fd);
		free(h);
		return err;
	}
	pthread_mutex_init(&h->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	/* one internal polling thread: scrapes are rare and each waits for
	 * the same snapshot */
	h->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
		on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTPD_MAX_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPD_IDLE_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_END);
	if (!h->mhd) {
		close(fd);
		httpd_stop(h);
		return -EIO;
	}
	*out = h;
	return 0;
}

int httpd_want_fd(const struct httpd *h)
{
	return h->want_fd;
}

void httpd_want_clear(struct httpd *h)
{
	uint64_t n;

	if (read(h->want_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("metrics: eventfd: %s", strerror(errno));
}

void httpd_publish(struct httpd *h, char *text, size_t len)
{
	pthread_mutex_lock(&h->mu);
	free(h->text);
	h->text = text;
	h->len = text ? len : 0;
	h->gen++;
	clock_gettime(CLOCK_MONOTONIC, &h->at);
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	close(h->want_fd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->text);
	free(h);
}
