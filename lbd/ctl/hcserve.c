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
#include <time.h>
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
/* /healthz's port taken (kube-proxy not stopped yet): tried again this
 * often, and with every table */
#define HC_HEALTHZ_RETRY_US 10000000

struct hc_port {
	__u16 port;
	__u32 count;
	char ns[64], name[64];
	int fd; /* -1: not open (failed: logged and counted) */
	sd_event_source *src;
	struct hcserve *h;
	bool kept; /* by the table being applied */
};

/* The /healthz server: what the table says, and its listener. */
struct hc_healthz {
	struct lbd_msg_addr addr; /* family 0: off */
	struct hc_port *l; /* NULL: off; l->fd -1: failed, retried */
	sd_event_source *retry;
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
	__u16 healthz_port; /* 0: /healthz not open */
	__u64 last_sync_ms;
	struct hc_healthz hz; /* the io loop's */
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
	if (hd->pad[0] || hd->pad[1] || hd->pad[2] || hd->pad2 ||
	    hd->healthz.pad) {
		snprintf(err, errlen, "padding not 0");
		return -EBADMSG;
	}
	if (hd->healthz.family == 0) {
		static const struct lbd_msg_addr off;

		if (memcmp(&hd->healthz, &off, sizeof(off))) {
			snprintf(err, errlen, "healthz off with an address");
			return -EBADMSG;
		}
	} else if ((hd->healthz.family != LBD_AF_INET &&
		    hd->healthz.family != LBD_AF_INET6) ||
		   !hd->healthz.port) {
		snprintf(err, errlen, "healthz: family %u, port %u",
			 hd->healthz.family, hd->healthz.port);
		return -EBADMSG;
	}
	if (hd->last_sync_ms > LBD_NODE_HC_SYNC_MS_MAX) {
		snprintf(err, errlen, "last sync at %llu ms",
			 (unsigned long long)hd->last_sync_ms);
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

/* ms since the epoch as RFC 3339, UTC; 0 as Go's zero time (what
 * kube-proxy says before its first update). */
static void rfc3339(char *out, size_t len, __u64 ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (!ms || !gmtime_r(&t, &tm) ||
	    !(n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm))) {
		snprintf(out, len, "0001-01-01T00:00:00Z");
		return;
	}
	snprintf(out + n, len - n, ".%03uZ", (unsigned int)(ms % 1000));
}

int hcserve_healthz_body(char *buf, size_t len, bool livez, bool healthy,
			 __u64 last_sync_ms, __u64 now_ms)
{
	char last[64], now[64];

	/* kube-proxy says "now" while healthy (its lastUpdated once meant
	 * the last run of its sync loop, which ran every few seconds), and
	 * the last update once it is not */
	rfc3339(last, sizeof(last), healthy ? now_ms : last_sync_ms);
	rfc3339(now, sizeof(now), now_ms);
	if (livez)
		return snprintf(buf, len,
				"{\"lastUpdated\": \"%s\", "
				"\"currentTime\": \"%s\"}",
				last, now);
	/* nodeEligible: lbd does not watch its Node (deletion, the
	 * autoscaler's ToBeDeletedByClusterAutoscaler taint) */
	return snprintf(buf, len,
			"{\"lastUpdated\": \"%s\", \"currentTime\": \"%s\", "
			"\"nodeEligible\": true}",
			last, now);
}

static __u64 now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (__u64)t.tv_sec * 1000 + (__u64)t.tv_nsec / 1000000;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned int code,
			      const char *type, const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* In the MHD thread: /healthz or /livez (as kube-proxy, any method),
 * 404 for anything else. */
static enum MHD_Result on_healthz(struct MHD_Connection *conn, const char *url,
				  bool healthy, __u64 last_sync_ms)
{
	static const char nf[] = "404 page not found\n";
	bool livez = !strcmp(url, "/livez");
	char body[256];
	int len;

	if (!livez && strcmp(url, "/healthz"))
		return answer(conn, MHD_HTTP_NOT_FOUND,
			      "text/plain; charset=utf-8", nf, sizeof(nf) - 1);
	len = hcserve_healthz_body(body, sizeof(body), livez, healthy,
				   last_sync_ms, now_ms());
	if (len < 0 || (size_t)len >= sizeof(body))
		return MHD_NO;
	return answer(conn,
		      healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		      "application/json", body, (size_t)len);
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
	struct hc_port **p;
	char ns[64], name[64], body[1024];
	unsigned long count;
	bool healthy, healthz;
	__u64 last_sync_ms;
	enum MHD_Result ret;
	__u16 port;
	int len;

	(void)method;
	(void)version;
	(void)upload;
	/* kube-proxy answers any method and path (/healthz: any method),
	 * and ignores a body */
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
	/* a port has one listener (each binds it, the others fail) */
	healthz = h->healthz_port && port == h->healthz_port;
	p = healthz ?
		    NULL :
		    bsearch(&port, h->ports, h->n, sizeof(*h->ports), port_cmp);
	if (p && (*p)->fd >= 0) {
		memcpy(ns, (*p)->ns, sizeof(ns));
		memcpy(name, (*p)->name, sizeof(name));
		count = (*p)->count;
	} else {
		p = NULL;
	}
	healthy = h->healthy;
	last_sync_ms = h->last_sync_ms;
	pthread_mutex_unlock(&h->mu);
	if (healthz)
		return on_healthz(conn, url, healthy, last_sync_ms);
	/* the port closed since the connection came */
	if (!p)
		return MHD_NO;
	len = hcserve_body(body, sizeof(body), ns, name, count, healthy);
	if (len < 0 || (size_t)len >= sizeof(body))
		return MHD_NO;
	ret = answer(conn,
		     count && healthy ? MHD_HTTP_OK :
					MHD_HTTP_SERVICE_UNAVAILABLE,
		     "application/json", body, (size_t)len);
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
	if (h->hz.l && h->hz.l->src)
		sd_event_source_set_enabled(h->hz.l->src, SD_EVENT_ON);
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

/* A listening socket on sa (an IPv6 one dual-stack: "::" takes IPv4
 * too); the fd, or a negative errno. */
static int hc_bind(const struct sockaddr *sa, socklen_t len)
{
	int fd, err, zero = 0, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, sa, len) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
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
	int fd = hc_bind((struct sockaddr *)&s6, sizeof(s6));

	if (fd != -EADDRNOTAVAIL && fd != -EAFNOSUPPORT)
		return fd;
	return hc_bind((struct sockaddr *)&s4, sizeof(s4));
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

/* -- /healthz ------------------------------------------------------------ */

/* A listener on a (one address: an IPv6 one of "::" takes IPv4 too, as
 * kube-proxy's does). The fd, or a negative errno. */
static int healthz_listen(const struct lbd_msg_addr *a)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(a->port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(a->port),
				  .sin_addr.s_addr = a->addr.v4 };

	if (a->family != LBD_AF_INET6)
		return hc_bind((struct sockaddr *)&s4, sizeof(s4));
	memcpy(&s6.sin6_addr, a->addr.b, sizeof(s6.sin6_addr));
	return hc_bind((struct sockaddr *)&s6, sizeof(s6));
}

static void healthz_name(const struct lbd_msg_addr *a, char *out, size_t len)
{
	char s[INET6_ADDRSTRLEN];

	inet_ntop(a->family == LBD_AF_INET6 ? AF_INET6 : AF_INET, &a->addr, s,
		  sizeof(s));
	snprintf(out, len, a->family == LBD_AF_INET6 ? "[%s]:%u" : "%s:%u", s,
		 a->port);
}

/* Opens h->hz.l's listener (a failure logged and counted the first time
 * only), or arms the retry. */
static void healthz_open(struct hcserve *h, bool failed_before)
{
	struct hc_port *l = h->hz.l;
	char name[INET6_ADDRSTRLEN + 8];
	uint64_t t;
	int fd = healthz_listen(&h->hz.addr);

	if (fd >= 0 &&
	    sd_event_add_io(h->ev, &l->src, fd, EPOLLIN, on_accept, l) < 0) {
		close(fd);
		fd = -ENOMEM;
	}
	healthz_name(&h->hz.addr, name, sizeof(name));
	if (fd < 0) {
		l->fd = -1;
		if (!failed_before) {
			h->open_failures++;
			log_warnx("/healthz on %s: %s (kube-proxy still "
				  "running?); tried again every %u s",
				  name, strerror(-fd),
				  HC_HEALTHZ_RETRY_US / 1000000);
		}
		sd_event_now(h->ev, CLOCK_MONOTONIC, &t);
		sd_event_source_set_time(h->hz.retry, t + HC_HEALTHZ_RETRY_US);
		sd_event_source_set_enabled(h->hz.retry, SD_EVENT_ONESHOT);
		return;
	}
	l->fd = fd;
	pthread_mutex_lock(&h->mu);
	h->healthz_port = l->port;
	pthread_mutex_unlock(&h->mu);
	log_info("/healthz on %s: open", name);
}

static void healthz_close(struct hcserve *h)
{
	char name[INET6_ADDRSTRLEN + 8];

	if (!h->hz.l)
		return;
	pthread_mutex_lock(&h->mu);
	h->healthz_port = 0;
	pthread_mutex_unlock(&h->mu);
	if (h->hz.l->fd >= 0) {
		healthz_name(&h->hz.addr, name, sizeof(name));
		log_info("/healthz on %s: closed", name);
	}
	sd_event_source_set_enabled(h->hz.retry, SD_EVENT_OFF);
	port_close(h->hz.l);
	h->hz.l = NULL;
}

static int on_healthz_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	struct hcserve *h = arg;

	(void)s;
	(void)usec;
	if (h->hz.l && h->hz.l->fd < 0)
		healthz_open(h, true);
	return 0;
}

/* The table's /healthz address: the listener kept, moved, closed or
 * opened; one that failed is tried again. */
static void healthz_apply(struct hcserve *h, const struct lbd_msg_addr *a)
{
	if (h->hz.l && !memcmp(a, &h->hz.addr, sizeof(*a))) {
		if (h->hz.l->fd < 0)
			healthz_open(h, true);
		return;
	}
	healthz_close(h);
	h->hz.addr = *a;
	if (!a->family)
		return;
	h->hz.l = calloc(1, sizeof(*h->hz.l));
	if (!h->hz.l) {
		/* tried again with the next table */
		memset(&h->hz.addr, 0, sizeof(h->hz.addr));
		log_warnx("/healthz: %s", strerror(ENOMEM));
		return;
	}
	h->hz.l->h = h;
	h->hz.l->fd = -1;
	h->hz.l->port = a->port;
	healthz_open(h, false);
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
	h->last_sync_ms = hd->last_sync_ms;
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
	healthz_apply(h, &hd->healthz);
}

void hcserve_stats(const struct hcserve *h, struct hcserve_stats *out)
{
	size_t i;

	out->ports = 0;
	out->open_failures = h ? h->open_failures : 0;
	for (i = 0; h && i < h->n; i++)
		out->ports += h->ports[i]->fd >= 0;
	out->healthz = h && h->hz.l && h->hz.l->fd >= 0;
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
	err = sd_event_add_time(ev, &h->hz.retry, CLOCK_MONOTONIC, UINT64_MAX,
				0, on_healthz_retry, h);
	if (err < 0 ||
	    (err = sd_event_source_set_enabled(h->hz.retry, SD_EVENT_OFF)) < 0)
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
	port_close(h->hz.l);
	sd_event_source_disable_unref(h->hz.retry);
	sd_event_source_disable_unref(h->retry);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
