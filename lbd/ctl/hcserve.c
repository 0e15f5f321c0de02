// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The node role's healthCheckNodePort server (see hcserve.h). */
#include "hcserve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "log.h"

/* Load balancers' checks: a connection or a few per check, from a few
 * checkers; one that idles is dropped. */
#define HC_MAX_CONNS 64
#define HC_IDLE_S 10
/* Out of descriptors: accepting again at once would spin on the pending
 * connection. */
#define HC_ACCEPT_BACKOFF_US 200000

struct hc_port {
	__u16 port;
	__u32 count;
	char ns[64], name[64];
	int fd; /* -1: not open (failed: logged and counted) */
	sd_event_source *src;
	struct hcserve *h;
	bool kept; /* by the table being applied */
};

struct hcserve {
	sd_event *ev;
	struct MHD_Daemon *mhd;
	sd_event_source *retry; /* re-enables accepting after EMFILE */
	unsigned long open_failures;
	/* under mu: the MHD thread reads them */
	pthread_mutex_t mu;
	struct hc_port **ports; /* sorted by port */
	size_t n;
	bool healthy;
};

/* -- the table ---------------------------------------------------------- */

int hcserve_table_check(const void *payload, size_t n, char *err, size_t errlen)
{
	const struct lbd_node_hc_head *hd = payload;
	const struct lbd_node_hc_rec *r;
	size_t i;

	if (n < sizeof(*hd) || (n - sizeof(*hd)) % sizeof(*r)) {
		snprintf(err, errlen, "%zu bytes are no table", n);
		return -EBADMSG;
	}
	if (hd->n > LBD_NODE_HC_MAX ||
	    (n - sizeof(*hd)) / sizeof(*r) != hd->n) {
		snprintf(err, errlen, "the head says %u records, %zu came",
			 hd->n, (n - sizeof(*hd)) / sizeof(*r));
		return -EBADMSG;
	}
	if (hd->healthy > 1) {
		snprintf(err, errlen, "healthy is %u", hd->healthy);
		return -EBADMSG;
	}
	r = (const struct lbd_node_hc_rec *)(hd + 1);
	for (i = 0; i < hd->n; i++) {
		if (!msg_str_ok(r[i].ns, sizeof(r[i].ns)) ||
		    !msg_str_ok(r[i].name, sizeof(r[i].name))) {
			snprintf(err, errlen, "record %zu: a name not ended",
				 i);
			return -EBADMSG;
		}
		/* ascending: each port once, and none 0 */
		if (r[i].port <= (i ? r[i - 1].port : 0)) {
			snprintf(err, errlen,
				 "record %zu: port %u out of order or 0", i,
				 r[i].port);
			return -EBADMSG;
		}
	}
	return 0;
}

/* -- the answer --------------------------------------------------------- */

/* s as a JSON string's contents (Kubernetes names need no escape; a
 * name lbd was given is escaped all the same). */
static size_t json_esc(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[8];
		int k;

		if (c == '"' || c == '\\')
			k = snprintf(e, sizeof(e), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			k = snprintf(e, sizeof(e), "\\u%04x", c);
		else
			k = snprintf(e, sizeof(e), "%c", c);
		if (o + (size_t)k < len)
			memcpy(out + o, e, (size_t)k);
		o += (size_t)k;
	}
	if (len)
		out[o < len ? o : len - 1] = '\0';
	return o;
}

int hcserve_body(char *buf, size_t len, const char *ns, const char *name,
		 unsigned long count, int healthy)
{
	/* a name of 63 bytes, each escaped to 6 */
	char n1[64 * 6 + 1], n2[64 * 6 + 1];

	json_esc(n1, sizeof(n1), ns);
	json_esc(n2, sizeof(n2), name);
	/* kube-proxy's text: its template, tab-indented, trimmed of the
	 * newlines around it */
	return snprintf(buf, len,
			"{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n"
			"\t\t\"name\": \"%s\"\n\t},\n"
			"\t\"localEndpoints\": %lu,\n"
			"\t\"serviceProxyHealthy\": %s\n}",
			n1, n2, count, healthy ? "true" : "false");
}

static int port_cmp(const void *k, const void *e)
{
	const __u16 *port = k;
	const struct hc_port *p = *(struct hc_port *const *)e;

	return (int)*port - (int)p->port;
}

/* In the MHD thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct hcserve *h = cls;
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct MHD_Response *r;
	struct hc_port **p;
	char ns[64], name[64], body[1024];
	unsigned long count;
	bool healthy;
	enum MHD_Result ret;
	__u16 port;
	int len;

	(void)url;
	(void)method;
	(void)version;
	(void)upload;
	/* kube-proxy answers any method and path, and ignores a body */
	if (!*con_cls) {
		*con_cls = h;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl))
		return MHD_NO;
	port = ntohs(ss.ss_family == AF_INET6 ?
			     ((struct sockaddr_in6 *)&ss)->sin6_port :
			     ((struct sockaddr_in *)&ss)->sin_port);
	pthread_mutex_lock(&h->mu);
	p = bsearch(&port, h->ports, h->n, sizeof(*h->ports), port_cmp);
	if (p && (*p)->fd >= 0) {
		memcpy(ns, (*p)->ns, sizeof(ns));
		memcpy(name, (*p)->name, sizeof(name));
		count = (*p)->count;
	} else {
		p = NULL;
	}
	healthy = h->healthy;
	pthread_mutex_unlock(&h->mu);
	/* the port closed since the connection came */
	if (!p)
		return MHD_NO;
	len = hcserve_body(body, sizeof(body), ns, name, count, healthy);
	if (len < 0 || (size_t)len >= sizeof(body))
		return MHD_NO;
	r = MHD_create_response_from_buffer((size_t)len, body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(
		conn,
		count && healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		r);
	MHD_destroy_response(r);
	return ret;
}

/* -- listeners ---------------------------------------------------------- */

static int on_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	struct hcserve *h = arg;
	size_t i;

	(void)s;
	(void)usec;
	for (i = 0; i < h->n; i++)
		if (h->ports[i]->src)
			sd_event_source_set_enabled(h->ports[i]->src,
						    SD_EVENT_ON);
	return 0;
}

static void accept_back_off(struct hcserve *h, struct hc_port *p, int err)
{
	static time_t logged;
	time_t now = time(NULL);
	uint64_t t;

	if (now - logged >= 60) {
		logged = now;
		log_warnx("health check port %u: accepting: %s", p->port,
			  strerror(err));
	}
	sd_event_source_set_enabled(p->src, SD_EVENT_OFF);
	sd_event_now(h->ev, CLOCK_MONOTONIC, &t);
	sd_event_source_set_time(h->retry, t + HC_ACCEPT_BACKOFF_US);
	sd_event_source_set_enabled(h->retry, SD_EVENT_ONESHOT);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct hc_port *p = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	int i, cfd;

	(void)s;
	(void)revents;
	/* a few at a time: the other ports and the control socket wait */
	for (i = 0; i < 16; i++) {
		sl = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				accept_back_off(p->h, p, errno);
			return 0;
		}
		/* MHD owns it from here, and closes it when it cannot
		 * take it (past HC_MAX_CONNS) */
		if (MHD_add_connection(p->h->mhd, cfd, (struct sockaddr *)&ss,
				       sl) != MHD_YES)
			log_debug("health check port %u: a connection "
				  "refused",
				  p->port);
	}
	return 0;
}

/* A listener on every address of port: IPv6 with IPv4 mapped, or IPv4
 * where the host has no IPv6. The fd, or a negative errno. */
static int hc_listen(__u16 port)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int fd, err, zero = 0, one = 1;

	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, (struct sockaddr *)&s6, sizeof(s6)) &&
		    !listen(fd, 64))
			return fd;
		err = -errno;
		close(fd);
		if (err != -EADDRNOTAVAIL)
			return err;
	} else if (errno != EAFNOSUPPORT) {
		return -errno;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static void port_close(struct hc_port *p)
{
	if (!p)
		return;
	sd_event_source_disable_unref(p->src);
	if (p->fd >= 0)
		close(p->fd);
	free(p);
}

/* Opens p (new, or one that failed before: logged only the first time). */
static void port_open(struct hcserve *h, struct hc_port *p, bool failed_before)
{
	int fd = hc_listen(p->port);

	if (fd >= 0 &&
	    sd_event_add_io(h->ev, &p->src, fd, EPOLLIN, on_accept, p) < 0) {
		close(fd);
		fd = -ENOMEM;
	}
	if (fd < 0) {
		p->fd = -1;
		if (!failed_before) {
			h->open_failures++;
			log_warnx("health check port %u of %s/%s: %s; tried "
				  "again with the next sync",
				  p->port, p->ns, p->name, strerror(-fd));
		}
		return;
	}
	p->fd = fd;
	if (failed_before)
		log_info("health check port %u of %s/%s: open", p->port, p->ns,
			 p->name);
}

void hcserve_table(struct hcserve *h, const void *payload, size_t n)
{
	const struct lbd_node_hc_head *hd = payload;
	const struct lbd_node_hc_rec *r;
	struct hc_port **np, **old;
	size_t i, j, n_old;
	char err[128];

	if (hcserve_table_check(payload, n, err, sizeof(err))) {
		log_warnx("lbd sent a health check table that does not "
			  "check: %s",
			  err);
		return;
	}
	r = (const struct lbd_node_hc_rec *)(hd + 1);
	np = calloc(hd->n ? hd->n : 1, sizeof(*np));
	if (!np) {
		log_warnx("health check table: %s", strerror(ENOMEM));
		return;
	}
	/* both sorted by port: a merge; a port that stays keeps its
	 * listener (and its connections) */
	for (i = j = 0; i < hd->n; i++) {
		struct hc_port *p;

		while (j < h->n && h->ports[j]->port < r[i].port)
			j++;
		if (j < h->n && h->ports[j]->port == r[i].port &&
		    h->ports[j]->fd >= 0) {
			/* h->ports is the MHD thread's until the swap */
			np[i] = h->ports[j++];
			np[i]->kept = true;
			continue;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			/* the ports so far; the others with the next table */
			break;
		}
		p->h = h;
		p->port = r[i].port;
		memcpy(p->ns, r[i].ns, sizeof(p->ns));
		memcpy(p->name, r[i].name, sizeof(p->name));
		port_open(h, p, j < h->n && h->ports[j]->port == r[i].port);
		np[i] = p;
	}
	pthread_mutex_lock(&h->mu);
	/* the records' names and counts, for ports old and new */
	for (j = 0; j < i; j++) {
		memcpy(np[j]->ns, r[j].ns, sizeof(np[j]->ns));
		memcpy(np[j]->name, r[j].name, sizeof(np[j]->name));
		np[j]->count = r[j].local_endpoints;
	}
	old = h->ports;
	n_old = h->n;
	h->ports = np;
	h->n = i;
	h->healthy = hd->healthy;
	pthread_mutex_unlock(&h->mu);
	/* what is left of the old table went (or failed and is replaced) */
	for (j = 0; j < n_old; j++) {
		if (old[j]->kept) {
			old[j]->kept = false;
			continue;
		}
		if (old[j]->fd >= 0)
			log_info("health check port %u of %s/%s: closed",
				 old[j]->port, old[j]->ns, old[j]->name);
		port_close(old[j]);
	}
	free(old);
}

void hcserve_stats(const struct hcserve *h, struct hcserve_stats *out)
{
	size_t i;

	out->ports = 0;
	out->open_failures = h ? h->open_failures : 0;
	for (i = 0; h && i < h->n; i++)
		out->ports += h->ports[i]->fd >= 0;
}

int hcserve_new(sd_event *ev, struct hcserve **out)
{
	struct hcserve *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->ev = ev;
	pthread_mutex_init(&h->mu, NULL);
	err = sd_event_add_time(ev, &h->retry, CLOCK_MONOTONIC, UINT64_MAX, 0,
				on_retry, h);
	if (err < 0 ||
	    (err = sd_event_source_set_enabled(h->retry, SD_EVENT_OFF)) < 0)
		goto out;
	/* no listening socket of its own: the io loop accepts on every
	 * port and hands the connections over (MHD_add_connection, which
	 * wakes the thread through its inter-thread channel) */
	h->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
		0, NULL, NULL, on_request, h, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)HC_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)HC_IDLE_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)16384, MHD_OPTION_END);
	if (!h->mhd) {
		err = -EIO;
		goto out;
	}
	*out = h;
	return 0;
out:
	hcserve_free(h);
	return err;
}

void hcserve_free(struct hcserve *h)
{
	size_t i;

	if (!h)
		return;
	/* the thread first: it reads the table */
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	for (i = 0; i < h->n; i++)
		port_close(h->ports[i]);
	free(h->ports);
	sd_event_source_disable_unref(h->retry);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
