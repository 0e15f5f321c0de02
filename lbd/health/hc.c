// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The health check engine (hc.h).
 *
 * Two event sources on the caller's sd-event loop, whatever the number
 * of checks: an epoll set of the engine's own, holding every socket a
 * check or a libcurl transfer waits on, and one timer for the earliest
 * deadline of a heap of checks (a start, or a timeout). sd-event
 * dispatches one ready source per loop iteration and polls again before
 * the next, so a source per socket costs, with thousands of sockets ready
 * at once, a scan of all of them per socket: quadratic. Here one dispatch
 * serves every ready socket and every due check.
 */
#include "hc.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sorted.h"

/* The timer may fire this late, so that the loop wakes up once for many
 * checks due at about the same time. */
#define HC_TIMER_ACCURACY_US 2000
/* An HTTP check's own deadline backs up libcurl's by this much. */
#define HC_HTTP_BACKSTOP_US (500 * 1000)
/* An HTTP body is read up to this much (the status is what counts). */
#define HC_HTTP_BODY_MAX (64 * 1024)
#define HC_DNS_MAX 512
/* Socket events taken from the engine's epoll set per epoll_wait. */
#define HC_EVENTS 256

/* What an event of the engine's epoll set is about. */
enum hc_kind {
	HC_KIND_CHECK, /* a TCP or DNS check's socket */
	HC_KIND_CURL, /* a socket of a libcurl transfer */
};

struct hc_check {
	enum hc_kind kind; /* first: the epoll data points here */
	struct hc_spec spec;
	struct hc_engine *e;
	size_t heap; /* index in e->heap */
	__u64 deadline; /* usec, CLOCK_MONOTONIC: start, or timeout */
	__u64 due; /* the next start */
	__u64 started;
	int fd;
	bool running;
	enum hc_state state;
	unsigned int ok_run, fail_run;
	/* udp-dns */
	__u16 dns_id;
	/* http */
	CURL *curl;
	struct curl_slist *headers;
	char url[LBD_HC_STR_MAX + 64];
	size_t body;
	bool in_multi;
	int prep_err; /* preparing the check failed (its runs fail) */
	/* the last result */
	struct hc_result last;
};

/* A curl socket in the epoll set. Freed only after the dispatch that
 * removed it: events for it may still be in the batch being handled. */
struct hc_sock {
	enum hc_kind kind; /* first */
	curl_socket_t fd;
	bool dead;
	struct hc_sock *next_dead;
};

struct hc_engine {
	sd_event *ev;
	hc_verdict_fn fn;
	void *arg;
	struct hc_check **checks; /* sorted by key */
	size_t n;
	struct hc_check **heap; /* min-heap by deadline, n entries */
	int epfd;
	sd_event_source *ep_src;
	sd_event_source *timer; /* at heap[0]'s deadline */
	CURLM *multi;
	sd_event_source *curl_timer;
	struct hc_sock *dead; /* to free after the dispatch */
	struct hc_stats stats;
	__u64 rnd;
};

/* Now, not the loop iteration's start (sd_event_now): latencies are
 * measured with it. */
static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000 + (__u64)ts.tv_nsec / 1000;
}

/* xorshift64*: phases and DNS ids need spread, not secrecy */
static __u64 rnd_next(struct hc_engine *e)
{
	e->rnd ^= e->rnd >> 12;
	e->rnd ^= e->rnd << 25;
	e->rnd ^= e->rnd >> 27;
	return e->rnd * 0x2545f4914f6cdd1dull;
}

/* -- the deadline heap ---------------------------------------------------- */

static void heap_swap(struct hc_engine *e, size_t a, size_t b)
{
	struct hc_check *t = e->heap[a];

	e->heap[a] = e->heap[b];
	e->heap[b] = t;
	e->heap[a]->heap = a;
	e->heap[b]->heap = b;
}

static void heap_fix(struct hc_engine *e, size_t i)
{
	while (i > 0 && e->heap[(i - 1) / 2]->deadline > e->heap[i]->deadline) {
		heap_swap(e, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < e->n && e->heap[l]->deadline < e->heap[m]->deadline)
			m = l;
		if (r < e->n && e->heap[r]->deadline < e->heap[m]->deadline)
			m = r;
		if (m == i)
			break;
		heap_swap(e, i, m);
		i = m;
	}
}

/* The timer follows the earliest deadline. */
static void timer_rearm(struct hc_engine *e)
{
	if (!e->n) {
		sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
		return;
	}
	sd_event_source_set_time(e->timer, e->heap[0]->deadline);
	sd_event_source_set_enabled(e->timer, SD_EVENT_ONESHOT);
}

static void schedule(struct hc_check *c, __u64 at)
{
	c->deadline = at;
	heap_fix(c->e, c->heap);
}

/* -- results -------------------------------------------------------------- */

/* What a failed socket call or connection says, in the words of a log. */
static const char *errno_reason(int err, char *buf, size_t len)
{
	switch (err) {
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case EHOSTUNREACH:
		return "host unreachable";
	case ENETUNREACH:
		return "network unreachable";
	case ECONNRESET:
		return "reset";
	default:
		snprintf(buf, len, "%s", strerror(err));
		return buf;
	}
}

static const char *rcode_name(int rcode)
{
	static const char *const names[] = { "NOERROR",	 "FORMERR", "SERVFAIL",
					     "NXDOMAIN", "NOTIMP",  "REFUSED" };

	return rcode >= 0 && rcode < 6 ? names[rcode] : "rcode";
}

/* Ends the running check, whatever it was waiting for (closing its
 * socket takes it out of the epoll set). */
static void check_stop(struct hc_check *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->in_multi) {
		curl_multi_remove_handle(c->e->multi, c->curl);
		c->in_multi = false;
	}
	if (c->running)
		c->e->stats.running--;
	c->running = false;
}

/* A result: the hysteresis, the report of a change, the next start. */
static void check_done(struct hc_check *c, bool ok, const char *reason)
{
	struct hc_engine *e = c->e;
	__u64 now = now_us();
	enum hc_state was = c->state;
	unsigned int count;

	check_stop(c);
	c->last.latency_us = (__u32)(now - c->started);
	c->last.ok = ok;
	c->last.valid = true;
	if (ok) {
		e->stats.ok++;
		c->fail_run = 0;
		c->ok_run++;
		count = c->ok_run;
		if (c->state == HC_UNKNOWN ||
		    (c->state == HC_DOWN && c->ok_run >= c->spec.rise))
			c->state = HC_UP;
	} else {
		e->stats.failed++;
		c->ok_run = 0;
		c->fail_run++;
		count = c->fail_run;
		if (c->state == HC_UNKNOWN ||
		    (c->state == HC_UP && c->fail_run >= c->spec.fall))
			c->state = HC_DOWN;
	}
	/* the next start: a fixed rate, skipping what cannot be made up */
	c->due += (__u64)c->spec.interval_ms * 1000;
	if (c->due <= now)
		c->due = now + 1;
	schedule(c, c->due);
	if (c->state != was && e->fn)
		e->fn(e->arg, c->spec.key, c->state, ok ? "ok" : reason, count);
}

static void check_fail_errno(struct hc_check *c, const char *what, int err)
{
	char buf[96], r[128];

	if (what) {
		snprintf(r, sizeof(r), "%s: %s", what,
			 errno_reason(err, buf, sizeof(buf)));
		check_done(c, false, r);
	} else {
		check_done(c, false, errno_reason(err, buf, sizeof(buf)));
	}
}

/* -- sockets --------------------------------------------------------------- */

static socklen_t spec_sockaddr(const struct hc_spec *s,
			       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (s->family == LBD_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(s->port);
		sin->sin_addr.s_addr = s->addr.v4;
		return sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(s->port);
		memcpy(&sin6->sin6_addr, &s->addr, 16);
		return sizeof(*sin6);
	}
}

/*
 * The socket options of every check's socket: the mark that sends it
 * through the datapath and the interface it must leave by (where the
 * program that acts on the mark is). A TCP check's connection ends with
 * an abortive close (RST, no TIME_WAIT: ten thousand checks a second
 * would otherwise pile up closed sockets); nothing comes after it, the
 * server having sent nothing. An HTTP check's server may still be
 * sending when the status is in; an RST then would draw an RST from the
 * kernel for what follows, unmarked, so sent to the VIP like anyone's:
 * HTTP checks close normally, and TIME_WAIT keeps the mark (tw_mark).
 */
static int check_sockopts(const struct hc_check *c, int fd, bool linger0)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (c->spec.mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &c->spec.mark,
				       sizeof(c->spec.mark)) < 0)
		return -errno;
	if (c->spec.ifindex &&
	    setsockopt(fd, SOL_SOCKET, SO_BINDTOIFINDEX, &c->spec.ifindex,
		       sizeof(c->spec.ifindex)) < 0)
		return -errno;
	if (linger0 && setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
		return -errno;
	return 0;
}

static int watch(struct hc_check *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(c->e->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? -errno :
								      0;
}

/* -- tcp ------------------------------------------------------------------ */

static void tcp_event(struct hc_check *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		check_fail_errno(c, NULL, err);
	else
		check_done(c, true, "ok");
}

static void tcp_start(struct hc_check *c)
{
	struct sockaddr_storage ss;
	socklen_t len = spec_sockaddr(&c->spec, &ss);
	int err;

	c->fd = socket(c->spec.family == LBD_AF_INET ? AF_INET : AF_INET6,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0) {
		check_fail_errno(c, "socket", errno);
		return;
	}
	err = check_sockopts(c, c->fd, true);
	if (err) {
		check_fail_errno(c, "socket options", -err);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&ss, len) == 0) {
		check_done(c, true, "ok");
		return;
	}
	if (errno != EINPROGRESS) {
		check_fail_errno(c, NULL, errno);
		return;
	}
	err = watch(c, EPOLLOUT);
	if (err)
		check_fail_errno(c, "epoll", -err);
}

/* -- udp-dns --------------------------------------------------------------- */

static void dns_event(struct hc_check *c)
{
	unsigned char buf[HC_DNS_MAX];
	char r[64];
	ns_msg msg;
	ssize_t n;
	int rcode;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n < 0) {
		if (errno != EAGAIN)
			check_fail_errno(c, NULL, errno);
		return;
	}
	/* a stale or foreign datagram is not the answer: keep waiting */
	if (ns_initparse(buf, (int)n, &msg) < 0 ||
	    ns_msg_id(msg) != c->dns_id || !ns_msg_getflag(msg, ns_f_qr))
		return;
	rcode = ns_msg_getflag(msg, ns_f_rcode);
	if (rcode != ns_r_noerror) {
		snprintf(r, sizeof(r), "dns %s", rcode_name(rcode));
		check_done(c, false, r);
		return;
	}
	check_done(c, true, "ok");
}

static void dns_start(struct hc_check *c)
{
	struct sockaddr_storage ss;
	socklen_t len = spec_sockaddr(&c->spec, &ss);
	unsigned char q[HC_DNS_MAX];
	int qlen, err;

	c->fd = socket(c->spec.family == LBD_AF_INET ? AF_INET : AF_INET6,
		       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (c->fd < 0) {
		check_fail_errno(c, "socket", errno);
		return;
	}
	err = check_sockopts(c, c->fd, false);
	if (err) {
		check_fail_errno(c, "socket options", -err);
		return;
	}
	/* a connected socket hears the ICMP error of a closed port */
	if (connect(c->fd, (struct sockaddr *)&ss, len) < 0) {
		check_fail_errno(c, NULL, errno);
		return;
	}
	qlen = res_mkquery(ns_o_query, c->spec.query, ns_c_in, ns_t_soa, NULL,
			   0, NULL, q, sizeof(q));
	if (qlen < 12) {
		check_done(c, false, "cannot encode the query name");
		return;
	}
	c->dns_id = (__u16)rnd_next(c->e);
	q[0] = (unsigned char)(c->dns_id >> 8);
	q[1] = (unsigned char)c->dns_id;
	if (send(c->fd, q, (size_t)qlen, 0) < 0) {
		check_fail_errno(c, NULL, errno);
		return;
	}
	err = watch(c, EPOLLIN);
	if (err)
		check_fail_errno(c, "epoll", -err);
}

/* -- http (libcurl's multi interface on the loop) ------------------------- */

static size_t http_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct hc_check *c = arg;

	(void)ptr;
	c->body += size * nmemb;
	/* the status is known by now; a huge body is not read */
	return c->body > HC_HTTP_BODY_MAX ? CURL_WRITEFUNC_ERROR : size * nmemb;
}

static int http_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	struct hc_check *c = arg;

	(void)purpose;
	return check_sockopts(c, fd, false) ? CURL_SOCKOPT_ERROR :
					      CURL_SOCKOPT_OK;
}

/* A finished transfer's verdict. */
static void http_done(struct hc_check *c, CURLcode res)
{
	char r[CURL_ERROR_SIZE + 32];
	long status = 0, oserr = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	/* the status line came: it is the answer, whatever came after */
	if (status) {
		if (status == c->spec.expect_status) {
			check_done(c, true, "ok");
			return;
		}
		snprintf(r, sizeof(r), "status %ld", status);
		check_done(c, false, r);
		return;
	}
	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	if (res == CURLE_OPERATION_TIMEDOUT)
		check_done(c, false, "timeout");
	else if (res == CURLE_COULDNT_CONNECT && oserr)
		check_fail_errno(c, NULL, (int)oserr);
	else
		check_done(c, false, curl_easy_strerror(res));
}

static void http_collect(struct hc_engine *e)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(e->multi, &left))) {
		struct hc_check *c = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &c);
		if (c && c->running)
			http_done(c, m->data.result);
	}
}

static void curl_event(struct hc_engine *e, struct hc_sock *hs, uint32_t events)
{
	int running, what = 0;

	if (hs->dead)
		return;
	if (events & EPOLLIN)
		what |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		what |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		what |= CURL_CSELECT_ERR;
	curl_multi_socket_action(e->multi, hs->fd, what, &running);
	http_collect(e);
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *arg);

/* CURLMOPT_SOCKETFUNCTION: what libcurl wants to hear about a socket. */
static int curl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
			void *sockp)
{
	struct hc_engine *e = arg;
	struct hc_sock *hs = sockp;
	struct epoll_event ev = { 0 };

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (hs) {
			/* libcurl closes fd itself, after this */
			epoll_ctl(e->epfd, EPOLL_CTL_DEL, fd, NULL);
			hs->dead = true;
			hs->next_dead = e->dead;
			e->dead = hs;
			curl_multi_assign(e->multi, fd, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev.events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev.events |= EPOLLOUT;
	if (hs) {
		ev.data.ptr = hs;
		return epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -1 : 0;
	}
	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return -1;
	hs->kind = HC_KIND_CURL;
	hs->fd = fd;
	ev.data.ptr = hs;
	if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(hs);
		return -1;
	}
	curl_multi_assign(e->multi, fd, hs);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants to be called again. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct hc_engine *e = arg;

	(void)multi;
	if (timeout_ms < 0)
		return sd_event_source_set_enabled(e->curl_timer,
						   SD_EVENT_OFF) < 0 ?
			       -1 :
			       0;
	sd_event_source_set_time(e->curl_timer,
				 now_us() + (__u64)timeout_ms * 1000);
	return sd_event_source_set_enabled(e->curl_timer, SD_EVENT_ONESHOT) <
			       0 ?
		       -1 :
		       0;
}

static int http_prepare(struct hc_check *c)
{
	const struct hc_spec *s = &c->spec;
	char a[INET6_ADDRSTRLEN], h[LBD_HC_STR_MAX + 8];

	inet_ntop(s->family == LBD_AF_INET ? AF_INET : AF_INET6, &s->addr, a,
		  sizeof(a));
	snprintf(c->url, sizeof(c->url),
		 s->family == LBD_AF_INET6 ? "http://[%s]:%u%s" :
					     "http://%s:%u%s",
		 a, s->port, s->path);
	if (!c->curl) {
		c->curl = curl_easy_init();
		if (!c->curl)
			return -ENOMEM;
	}
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	if (s->host[0]) {
		snprintf(h, sizeof(h), "Host: %s", s->host);
		c->headers = curl_slist_append(NULL, h);
		if (!c->headers)
			return -ENOMEM;
	}
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http");
	/* an environment's http_proxy must not take the checks elsewhere */
	curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	/* every check a new connection, as a client's would be */
	curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "lbd-health-check");
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_SOCKOPTFUNCTION, http_sockopt);
	curl_easy_setopt(c->curl, CURLOPT_SOCKOPTDATA, c);
	return 0;
}

static void http_start(struct hc_check *c)
{
	CURLMcode m;

	c->body = 0;
	m = curl_multi_add_handle(c->e->multi, c->curl);
	if (m != CURLM_OK) {
		check_done(c, false, curl_multi_strerror(m));
		return;
	}
	c->in_multi = true;
}

/* -- dispatch ---------------------------------------------------------------- */

static void free_dead(struct hc_engine *e)
{
	while (e->dead) {
		struct hc_sock *hs = e->dead;

		e->dead = hs->next_dead;
		free(hs);
	}
}

static void check_start(struct hc_check *c, __u64 now)
{
	struct hc_engine *e = c->e;
	double lag = now > c->due ? (now - c->due) / 1000.0 : 0;
	__u64 timeout = (__u64)c->spec.timeout_ms * 1000;

	if (lag > e->stats.max_lag_ms)
		e->stats.max_lag_ms = lag;
	if (lag >= c->spec.interval_ms)
		e->stats.late++;
	e->stats.runs++;
	e->stats.running++;
	c->running = true;
	c->started = now;
	if (c->spec.type == LBD_HC_HTTP)
		timeout += HC_HTTP_BACKSTOP_US;
	schedule(c, now + timeout);
	if (c->prep_err) {
		check_fail_errno(c, "preparing", -c->prep_err);
		return;
	}
	switch (c->spec.type) {
	case LBD_HC_TCP:
		tcp_start(c);
		break;
	case LBD_HC_UDP_DNS:
		dns_start(c);
		break;
	case LBD_HC_HTTP:
		http_start(c);
		break;
	default:
		check_done(c, false, "no such check type");
	}
}

/* Every check whose deadline has come: a start, or a timeout. */
static int on_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct hc_engine *e = arg;
	__u64 now = now_us();

	(void)s;
	(void)usec;
	while (e->n && e->heap[0]->deadline <= now) {
		struct hc_check *c = e->heap[0];

		if (c->running)
			check_done(c, false, "timeout");
		else
			check_start(c, now);
	}
	free_dead(e);
	timer_rearm(e);
	return 0;
}

/* Every socket of the engine's epoll set that is ready. */
static int on_epoll(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct hc_engine *e = arg;
	struct epoll_event ev[HC_EVENTS];
	int i, n;

	(void)s;
	(void)revents;
	do {
		n = epoll_wait(fd, ev, HC_EVENTS, 0);
		for (i = 0; i < n; i++) {
			enum hc_kind *k = ev[i].data.ptr;

			if (*k == HC_KIND_CURL) {
				curl_event(e, ev[i].data.ptr, ev[i].events);
				continue;
			}
			{
				struct hc_check *c = ev[i].data.ptr;

				if (!c->running || c->fd < 0)
					continue;
				if (c->spec.type == LBD_HC_TCP)
					tcp_event(c);
				else
					dns_event(c);
			}
		}
	} while (n == HC_EVENTS);
	free_dead(e);
	timer_rearm(e);
	return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct hc_engine *e = arg;
	int running;

	(void)s;
	(void)usec;
	curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_collect(e);
	free_dead(e);
	timer_rearm(e);
	return 0;
}

/* -- the set of checks ------------------------------------------------------ */

static void check_free(struct hc_check *c)
{
	if (!c)
		return;
	check_stop(c);
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c);
}

/* Takes spec (a changed one restarts the counting). */
static void check_configure(struct hc_check *c, const struct hc_spec *spec)
{
	c->spec = *spec;
	c->ok_run = 0;
	c->fail_run = 0;
	c->last.key = spec->key;
	c->prep_err = spec->type == LBD_HC_HTTP ? http_prepare(c) : 0;
}

static struct hc_check *check_new(struct hc_engine *e,
				  const struct hc_spec *spec)
{
	struct hc_check *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = HC_KIND_CHECK;
	c->e = e;
	c->fd = -1;
	c->state = spec->state <= HC_DOWN ? spec->state : HC_UNKNOWN;
	check_configure(c, spec);
	/* a random point of the first interval: checks spread */
	c->due = now_us() + rnd_next(e) % ((__u64)spec->interval_ms * 1000 + 1);
	c->deadline = c->due;
	return c;
}

static int check_cmp(const void *a, const void *b)
{
	const struct hc_check *x = *(struct hc_check *const *)a;
	const struct hc_check *y = *(struct hc_check *const *)b;

	return x->spec.key < y->spec.key ? -1 : x->spec.key > y->spec.key;
}

static bool spec_same(const struct hc_spec *a, const struct hc_spec *b)
{
	struct hc_spec x = *a, y = *b;

	/* the starting state is for new checks only */
	x.state = y.state = 0;
	return !memcmp(&x, &y, sizeof(x));
}

int hc_engine_set(struct hc_engine *e, const struct hc_spec *specs, size_t n)
{
	struct hc_check **next = calloc(n ? n : 1, sizeof(*next));
	struct hc_check **heap = calloc(n ? n : 1, sizeof(*heap));
	struct hc_check ***old = calloc(n ? n : 1, sizeof(*old));
	size_t i;

	if (!next || !heap || !old) {
		free(next);
		free(heap);
		free(old);
		return -ENOMEM;
	}
	/* first what can fail: the new checks; nothing changes if one
	 * cannot be made */
	for (i = 0; i < n; i++) {
		struct hc_check key = { .spec.key = specs[i].key }, *kp = &key;

		old[i] = sorted_find(&kp, e->checks, e->n, sizeof(*e->checks),
				     check_cmp);
		if (old[i])
			continue;
		next[i] = check_new(e, &specs[i]);
		if (!next[i]) {
			while (i-- > 0)
				if (!old[i])
					check_free(next[i]);
			free(next);
			free(heap);
			free(old);
			return -ENOMEM;
		}
	}
	for (i = 0; i < n; i++) {
		if (!old[i])
			continue;
		next[i] = *old[i];
		*old[i] = NULL; /* taken */
		if (spec_same(&next[i]->spec, &specs[i]))
			continue;
		/* restarted, in its old rhythm */
		check_stop(next[i]);
		check_configure(next[i], &specs[i]);
		next[i]->deadline = next[i]->due;
	}
	for (i = 0; i < e->n; i++)
		check_free(e->checks[i]);
	free(e->checks);
	free(e->heap);
	free(old);
	qsort(next, n, sizeof(*next), check_cmp);
	e->checks = next;
	e->heap = heap;
	e->n = n;
	for (i = 0; i < n; i++) {
		heap[i] = next[i];
		heap[i]->heap = i;
	}
	for (i = n / 2 + 1; i-- > 0;)
		if (i < n)
			heap_fix(e, i);
	e->stats.checks = n;
	free_dead(e);
	timer_rearm(e);
	return 0;
}

void hc_engine_stats(struct hc_engine *e, struct hc_stats *out, bool reset_lag)
{
	*out = e->stats;
	if (reset_lag)
		e->stats.max_lag_ms = 0;
}

size_t hc_engine_results(const struct hc_engine *e, struct hc_result *out,
			 size_t cap)
{
	size_t i;

	for (i = 0; i < e->n && i < cap; i++)
		out[i] = e->checks[i]->last;
	return i;
}

int hc_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

int hc_engine_new(sd_event *ev, hc_verdict_fn fn, void *arg,
		  struct hc_engine **out)
{
	struct hc_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->ev = sd_event_ref(ev);
	e->fn = fn;
	e->arg = arg;
	if (getrandom(&e->rnd, sizeof(e->rnd), 0) != sizeof(e->rnd) || !e->rnd)
		e->rnd = (__u64)time(NULL) | 1;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	e->multi = curl_multi_init();
	if (e->epfd < 0 || !e->multi ||
	    sd_event_add_io(ev, &e->ep_src, e->epfd, EPOLLIN, on_epoll, e) <
		    0 ||
	    sd_event_add_time(ev, &e->timer, CLOCK_MONOTONIC, 0,
			      HC_TIMER_ACCURACY_US, on_timer, e) < 0 ||
	    sd_event_add_time(ev, &e->curl_timer, CLOCK_MONOTONIC, 0, 1000,
			      on_curl_timer, e) < 0) {
		hc_engine_free(e);
		return -ENOMEM;
	}
	sd_event_source_set_enabled(e->timer, SD_EVENT_OFF);
	sd_event_source_set_enabled(e->curl_timer, SD_EVENT_OFF);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	*out = e;
	return 0;
}

void hc_engine_free(struct hc_engine *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->n; i++)
		check_free(e->checks[i]);
	free(e->checks);
	free(e->heap);
	if (e->multi)
		curl_multi_cleanup(e->multi);
	free_dead(e);
	sd_event_source_disable_unref(e->ep_src);
	sd_event_source_disable_unref(e->timer);
	sd_event_source_disable_unref(e->curl_timer);
	if (e->epfd >= 0)
		close(e->epfd);
	sd_event_unref(e->ev);
	free(e);
}
