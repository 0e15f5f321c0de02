// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Kubernetes client (k8s.h): one reflector per resource, each with its
 * cache, its request in flight and its retry timer, all on the daemon's
 * sd-event loop.
 */
#include "k8s.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#ifndef LBD_VERSION
#define LBD_VERSION "0"
#endif

/* Retries: 0.5 s doubling to 30 s, each drawn from [d/2, d) */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* The server ends a watch after timeoutSeconds, drawn from here (as
 * client-go's reflector spreads its watches) */
#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_TIMEOUT_MAX_S 600
/* A Status body of a failed request, kept for the message */
#define ERROR_BODY_MAX 4096
/* json-c's default depth (32) is short for managedFields */
#define JSON_DEPTH 64

struct objs {
	void **v; /* sorted by namespace and name */
	size_t n, cap;
};

/*
 * Where a response body is, byte by byte, so that what the API server
 * sends is bounded before json-c holds it (kubernetes.max_*_bytes): a
 * list page as a whole and each of its items; a watch event (a line) and
 * its object. Only brackets outside strings count. json-c takes about a
 * kilobyte for each object or array it holds, however small its text:
 * an object may hold at most one per K8S_BYTES_PER_CONTAINER bytes of
 * max_object_bytes.
 *
 * A list page is never held whole: each item (an object in the array at
 * depth 2) is parsed alone as it completes and kept as lbd's small
 * struct; the page without its items (kind, metadata with continue and
 * resourceVersion) is parsed at its end.
 */
#define K8S_BYTES_PER_CONTAINER 32

struct jscan {
	int depth; /* of containers open */
	bool in_str, esc;
	bool arr2; /* the container at depth 2 is an array (items) */
	bool in_obj; /* inside an object at obj_depth */
	size_t body; /* bytes of the body so far */
	size_t line; /* since the last watch event ended */
	size_t obj; /* of the object at obj_depth so far */
	size_t containers; /* of a list item, or a watch event */
	size_t items; /* of a list page so far */
};

/* A growing text: an item of a page, or the page without its items. */
struct jbuf {
	char *p;
	size_t len, cap;
};

struct reflector {
	struct k8s_client *c;
	enum k8s_resource kind;
	char path[512]; /* /api/v1/services, ... */
	char rv[256]; /* where the watch resumes */
	char *cont; /* continue token of the list in progress */
	struct objs objs; /* the cache */
	struct objs pending; /* a list in progress */
	/* the request in flight */
	CURL *easy;
	struct curl_slist *hdrs;
	json_tokener *tok;
	bool listing;
	long status;
	bool gone; /* 410 Gone seen in this request */
	bool need_list; /* the watch cannot resume: list (again) */
	bool bad_stream; /* what came was not JSON, or too much of it */
	struct jscan scan; /* where the body is, for its bounds */
	struct jbuf item; /* listing: the item being read */
	struct jbuf env; /* listing: the page without its items */
	int item_err; /* listing: an item could not be kept (-ENOMEM) */
	char *errbody;
	size_t errlen;
	uint64_t started; /* usec, monotonic */
	bool progress; /* the request delivered something */
	unsigned int failures; /* in a row, for the backoff */
	sd_event_source *retry;
};

struct k8s_client {
	sd_event *ev;
	struct lbd_conf_kubernetes conf;
	struct kubeconfig kc;
	CURLM *multi;
	sd_event_source *curl_timer;
	struct reflector r[K8S_RESOURCES];
	struct k8s_stats stats;
	k8s_changed_fn changed;
	void *arg;
	bool dirty;
	sd_event_source *apply;
	uint64_t last_apply; /* usec */
	/* role node: every Service matters, with its node fields */
	bool node;
};

static const char *const res_names[] = { "services", "endpointslices" };
static const char *const event_names[] = { "added", "modified", "deleted",
					   "bookmark" };

const char *k8s_resource_name(enum k8s_resource r)
{
	return res_names[r];
}

const char *k8s_event_name(enum k8s_event e)
{
	return event_names[e];
}

static uint64_t now_usec(struct k8s_client *c)
{
	uint64_t t;

	sd_event_now(c->ev, CLOCK_MONOTONIC, &t);
	return t;
}

/* -- the caches ------------------------------------------------------- */

static void obj_key(enum k8s_resource kind, const void *o, const char **ns,
		    const char **name)
{
	if (kind == K8S_SERVICES) {
		*ns = ((const struct k8s_service *)o)->ns;
		*name = ((const struct k8s_service *)o)->name;
	} else {
		*ns = ((const struct k8s_slice *)o)->ns;
		*name = ((const struct k8s_slice *)o)->name;
	}
}

static void obj_free(enum k8s_resource kind, void *o)
{
	if (!o)
		return;
	if (kind == K8S_SERVICES)
		k8s_service_free(o);
	else
		k8s_slice_free(o);
	free(o);
}

static void objs_clear(enum k8s_resource kind, struct objs *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		obj_free(kind, s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Index of (ns, name) in s, or where it would go (*found false). */
static size_t objs_find(enum k8s_resource kind, const struct objs *s,
			const char *ns, const char *name, bool *found)
{
	size_t lo = 0, hi = s->n;

	*found = false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *mns, *mname;
		int c;

		obj_key(kind, s->v[mid], &mns, &mname);
		c = strcmp(mns, ns);
		if (!c)
			c = strcmp(mname, name);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Puts o in place of the object of the same key; returns the old one
 * (the caller frees it) or NULL. */
static void *objs_put(enum k8s_resource kind, struct objs *s, void *o,
		      int *err)
{
	const char *ns, *name;
	bool found;
	size_t i;
	void *old;

	obj_key(kind, o, &ns, &name);
	i = objs_find(kind, s, ns, name, &found);
	if (found) {
		old = s->v[i];
		s->v[i] = o;
		return old;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 256;
		void **nv = realloc(s->v, nc * sizeof(*nv));

		if (!nv) {
			*err = -ENOMEM;
			obj_free(kind, o);
			return NULL;
		}
		s->v = nv;
		s->cap = nc;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = o;
	s->n++;
	return NULL;
}

static void *objs_del(enum k8s_resource kind, struct objs *s, const char *ns,
		      const char *name)
{
	bool found;
	size_t i = objs_find(kind, s, ns, name, &found);
	void *old;

	if (!found)
		return NULL;
	old = s->v[i];
	memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	return old;
}

static bool svc_followed(struct k8s_client *c, const char *ns,
			 const char *name)
{
	struct objs *s = &c->r[K8S_SERVICES].objs;
	bool found;
	size_t i = objs_find(K8S_SERVICES, s, ns, name, &found);

	return found && ((struct k8s_service *)s->v[i])->followed;
}

/* Whether a change from old to new (either may be NULL) can change
 * what lbd serves: not for Services it does not follow and their
 * slices. */
static bool matters(struct k8s_client *c, enum k8s_resource kind,
		    const void *old, const void *new)
{
	const struct k8s_slice *a = old, *b = new;

	if (c->node)
		return true;
	if (kind == K8S_SERVICES)
		return (old && ((const struct k8s_service *)old)->followed) ||
		       (new && ((const struct k8s_service *)new)->followed);
	return (a && svc_followed(c, a->ns, a->service)) ||
	       (b && svc_followed(c, b->ns, b->service));
}

/* -- coalesced applies -------------------------------------------------- */

static int on_apply(sd_event_source *s, uint64_t usec, void *arg)
{
	struct k8s_client *c = arg;

	(void)s;
	(void)usec;
	if (!c->dirty || !k8s_synced(c))
		return 0;
	c->dirty = false;
	c->changed(c->arg);
	c->last_apply = now_usec(c);
	return 0;
}

static void mark_dirty(struct k8s_client *c)
{
	uint64_t at = c->last_apply + K8S_APPLY_INTERVAL_MS * 1000ull,
		 now = now_usec(c);
	int enabled = SD_EVENT_OFF;

	c->dirty = true;
	if (!k8s_synced(c))
		return;
	if (at < now)
		at = now;
	if (c->apply) {
		sd_event_source_get_enabled(c->apply, &enabled);
		if (enabled != SD_EVENT_OFF)
			return;
		sd_event_source_set_time(c->apply, at);
		sd_event_source_set_enabled(c->apply, SD_EVENT_ONESHOT);
		return;
	}
	if (sd_event_add_time(c->ev, &c->apply, CLOCK_MONOTONIC, at, 1,
			      on_apply, c) < 0)
		return;
	/* after the reads that are ready: a burst of events is one apply */
	sd_event_source_set_priority(c->apply, SD_EVENT_PRIORITY_IDLE);
}

/* -- requests ------------------------------------------------------------ */

static void start_list(struct reflector *r);
static void start_watch(struct reflector *r);

static void request_free(struct reflector *r)
{
	if (r->easy) {
		curl_multi_remove_handle(r->c->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	r->easy = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	if (r->tok)
		json_tokener_free(r->tok);
	r->tok = NULL;
	free(r->item.p);
	free(r->env.p);
	memset(&r->item, 0, sizeof(r->item));
	memset(&r->env, 0, sizeof(r->env));
	free(r->errbody);
	r->errbody = NULL;
	r->errlen = 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *arg)
{
	struct reflector *r = arg;

	(void)s;
	(void)usec;
	/* resume the watch while its resourceVersion may still be good;
	 * a 410 sends it to a list */
	if (r->c->stats.listed[r->kind] && r->rv[0] && !r->need_list)
		start_watch(r);
	else
		start_list(r);
	return 0;
}

static void retry_later(struct reflector *r)
{
	struct k8s_client *c = r->c;
	unsigned int shift = r->failures < 7 ? r->failures : 7;
	uint64_t d = (uint64_t)BACKOFF_MIN_MS << shift;

	if (d > BACKOFF_MAX_MS)
		d = BACKOFF_MAX_MS;
	/* jitter: many LB hosts must not come back in step */
	d = d / 2 + (uint64_t)random() % (d / 2 + 1);
	r->failures++;
	c->stats.failing[r->kind] = true;
	log_warnx("kubernetes: %s: %s; retrying in %.1f s (the last known "
		  "state keeps serving)",
		  res_names[r->kind], c->stats.last_error[r->kind],
		  (double)d / 1000);
	r->retry = sd_event_source_unref(r->retry);
	sd_event_add_time(c->ev, &r->retry, CLOCK_MONOTONIC,
			  now_usec(c) + d * 1000, 1000, on_retry, r);
}

/* The end of a watch's headers: it streams from here on. */
static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct reflector *r = arg;
	long status = 0;

	if (sz * n <= 2 && (p[0] == '\r' || p[0] == '\n') && !r->listing) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			r->c->stats.watching[r->kind] = true;
	}
	return sz * n;
}

static void handle_event(struct reflector *r, struct json_object *ev);

static int jbuf_add(struct jbuf *b, char ch, size_t max)
{
	if (b->len + 2 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 4096;
		char *np;

		if (nc > max + 2)
			nc = max + 2;
		if (b->len + 2 > nc)
			return -EFBIG;
		np = realloc(b->p, nc);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = nc;
	}
	b->p[b->len++] = ch;
	b->p[b->len] = '\0';
	return 0;
}

static void list_item(struct reflector *r, struct json_object *it);

/* A complete item of a page: parsed alone, kept in the pending cache. */
static int item_done(struct reflector *r)
{
	struct json_object *it;

	json_tokener_reset(r->tok);
	it = json_tokener_parse_ex(r->tok, r->item.p, (int)r->item.len);
	if (json_tokener_get_error(r->tok) != json_tokener_success) {
		snprintf(r->c->stats.last_error[r->kind],
			 sizeof(r->c->stats.last_error[r->kind]),
			 "list: not JSON from the API server: %s",
			 json_tokener_error_desc(
				 json_tokener_get_error(r->tok)));
		json_object_put(it);
		return -EINVAL;
	}
	list_item(r, it);
	json_object_put(it);
	r->item.len = 0;
	return r->item_err;
}

/* Says which bound a body crossed: -EFBIG. */
static int too_large(struct reflector *r, const char *what, size_t max,
		     const char *setting)
{
	snprintf(r->c->stats.last_error[r->kind],
		 sizeof(r->c->stats.last_error[r->kind]),
		 "%s: %s %zu (%s%s): refused", r->listing ? "list" : "watch",
		 what, max, strchr(setting, ' ') ? "" : "kubernetes.", setting);
	r->c->stats.too_large[r->kind]++;
	return -EFBIG;
}

/* Scans p[0..len) of a 200 body, and in a list page routes each byte to
 * its item or to the page: 0, or a negative errno with the reason in
 * last_error (-EFBIG past a bound). A list page's items are objects at
 * depth 3 (the page {, items [); a watch event's object is at depth 2
 * (the event {). */
static int scan_body(struct reflector *r, const char *p, size_t len)
{
	const struct lbd_conf_kubernetes *k = &r->c->conf;
	size_t max_containers = k->max_object_bytes / K8S_BYTES_PER_CONTAINER;
	struct jscan *j = &r->scan;
	int obj_depth = r->listing ? 3 : 2;
	size_t i;
	int err;

	for (i = 0; i < len; i++) {
		char ch = p[i];
		bool item = j->in_obj && r->listing, done = false;
		int d0 = j->depth;

		j->body++;
		j->line++;
		if (j->in_obj)
			j->obj++;
		if (j->in_str) {
			if (j->esc)
				j->esc = false;
			else if (ch == '\\')
				j->esc = true;
			else if (ch == '"')
				j->in_str = false;
		} else if (ch == '"') {
			j->in_str = true;
		} else if (ch == '{' || ch == '[') {
			if (++j->depth == 2)
				j->arr2 = ch == '[';
			if (j->depth == 1 && !r->listing)
				j->containers = 0; /* an event starts */
			/* a list item's, or a watch event's */
			if ((j->in_obj || !r->listing) &&
			    ++j->containers > max_containers)
				return too_large(r,
						 "an object of more JSON "
						 "objects and arrays than",
						 max_containers,
						 "kubernetes.max_object_bytes "
						 "/ 32");
			if (j->depth == obj_depth && ch == '{' &&
			    (!r->listing || j->arr2)) {
				j->in_obj = true;
				j->obj = 1;
				if (r->listing)
					j->containers = 1;
				item = r->listing;
				if (item && ++j->items > K8S_PAGE)
					return too_large(r,
							 "a page of more "
							 "items than",
							 K8S_PAGE,
							 "the limit asked");
			}
		} else if (ch == '}' || ch == ']') {
			if (j->depth-- == obj_depth && j->in_obj) {
				j->in_obj = false;
				done = r->listing;
			}
			if (!j->depth && !r->listing)
				j->line = 0; /* the event is complete */
		}
		if (r->listing && j->body > k->max_list_page_bytes)
			return too_large(r, "a list page of more bytes than",
					 k->max_list_page_bytes,
					 "max_list_page_bytes");
		if (!r->listing && j->line > k->max_watch_line_bytes)
			return too_large(r, "a watch event of more bytes than",
					 k->max_watch_line_bytes,
					 "max_watch_line_bytes");
		if (j->in_obj && j->obj > k->max_object_bytes)
			return too_large(r, "an object of more bytes than",
					 k->max_object_bytes,
					 "max_object_bytes");
		if (!r->listing)
			continue;
		/* the page's bytes: to the item, nowhere (between items),
		 * or to the page without its items */
		if (item)
			err = jbuf_add(&r->item, ch, k->max_object_bytes);
		else if (d0 == 2 && j->depth == 2 && j->arr2)
			err = 0;
		else
			err = jbuf_add(&r->env, ch, k->max_object_bytes);
		if (err == -EFBIG)
			return too_large(r,
					 "a list page without its items of "
					 "more bytes than",
					 k->max_object_bytes,
					 "max_object_bytes");
		if (!err && done)
			err = item_done(r);
		if (err == -ENOMEM)
			snprintf(r->c->stats.last_error[r->kind],
				 sizeof(r->c->stats.last_error[r->kind]),
				 "list: %s", strerror(ENOMEM));
		if (err)
			return err;
	}
	return 0;
}

static size_t on_data(char *p, size_t sz, size_t n, void *arg)
{
	struct reflector *r = arg;
	size_t len = sz * n, off = 0;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status != 200) {
		size_t take = len;

		if (r->errlen + take > ERROR_BODY_MAX)
			take = ERROR_BODY_MAX - r->errlen;
		if (take) {
			char *b = realloc(r->errbody, r->errlen + take + 1);

			if (!b)
				return len;
			memcpy(b + r->errlen, p, take);
			r->errlen += take;
			b[r->errlen] = '\0';
			r->errbody = b;
		}
		return len;
	}
	/* past a bound, the request is aborted before json-c takes it */
	if (scan_body(r, p, len)) {
		r->bad_stream = true;
		return 0;
	}
	if (r->listing)
		return len; /* items and page are parsed as they complete */
	while (off < len) {
		struct json_object *o = json_tokener_parse_ex(
			r->tok, p + off, (int)(len - off));
		enum json_tokener_error e = json_tokener_get_error(r->tok);

		if (e == json_tokener_continue)
			break;
		if (e != json_tokener_success) {
			snprintf(r->c->stats.last_error[r->kind],
				 sizeof(r->c->stats.last_error[r->kind]),
				 "not JSON from the API server: %s",
				 json_tokener_error_desc(e));
			r->bad_stream = true;
			return 0;
		}
		off += json_tokener_get_parse_end(r->tok);
		json_tokener_reset(r->tok);
		handle_event(r, o);
		json_object_put(o);
		/* an ERROR event ends the watch */
		if (r->gone || r->bad_stream)
			return 0;
	}
	return len;
}

static void add_header(struct reflector *r, const char *h)
{
	struct curl_slist *n = curl_slist_append(r->hdrs, h);

	if (n)
		r->hdrs = n;
}

/* A GET of url with the kubeconfig's credentials. */
static int request(struct reflector *r, const char *url, bool listing,
		   long timeout_s)
{
	struct k8s_client *c = r->c;
	struct kubeconfig *kc = &c->kc;
	char err[256], *token = NULL;

	request_free(r);
	r->listing = listing;
	r->status = 0;
	r->progress = false;
	r->bad_stream = false;
	r->item_err = 0;
	memset(&r->scan, 0, sizeof(r->scan));
	r->started = now_usec(c);
	r->easy = curl_easy_init();
	r->tok = json_tokener_new_ex(JSON_DEPTH);
	if (!r->easy || !r->tok)
		return -ENOMEM;
	if (kubeconfig_token(kc, &token, err, sizeof(err))) {
		snprintf(c->stats.last_error[r->kind],
			 sizeof(c->stats.last_error[r->kind]), "token: %s",
			 err);
		return -EACCES;
	}
	add_header(r, "Accept: application/json");
	add_header(r, "User-Agent: lbd/" LBD_VERSION);
	if (token) {
		char *h = malloc(strlen(token) + 32);

		if (h) {
			sprintf(h, "Authorization: Bearer %s", token);
			add_header(r, h);
			/* not left in freed memory */
			explicit_bzero(h, strlen(h));
			free(h);
		}
		explicit_bzero(token, strlen(token));
		free(token);
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, timeout_s);
	/* a silently dead peer is found by keepalive probes */
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (kc->ca) {
		struct curl_blob b = { .data = kc->ca,
				       .len = kc->ca_len,
				       .flags = CURL_BLOB_COPY };

		curl_easy_setopt(r->easy, CURLOPT_CAINFO_BLOB, &b);
	}
	if (kc->insecure) {
		curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (kc->cert) {
		struct curl_blob cb = { .data = kc->cert,
					.len = kc->cert_len,
					.flags = CURL_BLOB_COPY };
		struct curl_blob kb = { .data = kc->key,
					.len = kc->key_len,
					.flags = CURL_BLOB_COPY };

		curl_easy_setopt(r->easy, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(r->easy, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(r->easy, CURLOPT_SSLKEY_BLOB, &kb);
		curl_easy_setopt(r->easy, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
		return -ENOMEM;
	return 0;
}

/* The query's selector: only slices that belong to a Service. */
static void url_of(struct reflector *r, char *url, size_t len,
		   const char *query)
{
	snprintf(url, len, "%s%s?%s%s", r->c->kc.server, r->path, query,
		 r->kind == K8S_SLICES
			 ? "&labelSelector=kubernetes.io%2Fservice-name"
			 : "");
}

static void start_list(struct reflector *r)
{
	char url[4096], q[2048];
	char *cont = NULL;
	int err;

	r->retry = sd_event_source_unref(r->retry);
	r->c->stats.watching[r->kind] = false;
	if (r->cont) {
		cont = curl_easy_escape(NULL, r->cont, 0);
		if (!cont) {
			retry_later(r);
			return;
		}
	} else {
		objs_clear(r->kind, &r->pending);
	}
	snprintf(q, sizeof(q), "limit=%d%s%s", K8S_PAGE,
		 cont ? "&continue=" : "", cont ? cont : "");
	curl_free(cont);
	url_of(r, url, sizeof(url), q);
	err = request(r, url, true, 120);
	if (err) {
		if (!r->c->stats.last_error[r->kind][0] || err == -ENOMEM)
			snprintf(r->c->stats.last_error[r->kind],
				 sizeof(r->c->stats.last_error[r->kind]),
				 "list: %s", strerror(-err));
		request_free(r);
		retry_later(r);
	}
}

static void start_watch(struct reflector *r)
{
	char url[4096], q[512];
	long t = WATCH_TIMEOUT_MIN_S +
		 random() % (WATCH_TIMEOUT_MAX_S - WATCH_TIMEOUT_MIN_S + 1);
	char *rv = curl_easy_escape(NULL, r->rv, 0);
	int err;

	r->retry = sd_event_source_unref(r->retry);
	r->gone = false;
	snprintf(q, sizeof(q),
		 "watch=1&resourceVersion=%s&allowWatchBookmarks=true&"
		 "timeoutSeconds=%ld",
		 rv ? rv : "", t);
	curl_free(rv);
	url_of(r, url, sizeof(url), q);
	/* the client gives up a minute after the server should have */
	err = request(r, url, false, t + 60);
	if (err) {
		snprintf(r->c->stats.last_error[r->kind],
			 sizeof(r->c->stats.last_error[r->kind]),
			 "watch: %s", strerror(-err));
		request_free(r);
		retry_later(r);
	}
}

/* ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
static void handle_event(struct reflector *r, struct json_object *ev)
{
	struct k8s_client *c = r->c;
	struct json_object *type, *o, *md, *rv;
	const char *t;
	char err[256], ns[64], name[254];
	void *obj, *old;
	int e = 0;

	if (!json_object_object_get_ex(ev, "type", &type) ||
	    !json_object_object_get_ex(ev, "object", &o))
		return;
	t = json_object_get_string(type);
	r->progress = true;
	if (!strcmp(t, "ERROR")) {
		struct json_object *code, *msg;

		if (json_object_object_get_ex(o, "code", &code) &&
		    json_object_get_int(code) == 410) {
			r->gone = true;
		} else {
			r->bad_stream = true;
		}
		snprintf(c->stats.last_error[r->kind],
			 sizeof(c->stats.last_error[r->kind]),
			 "watch: %s",
			 json_object_object_get_ex(o, "message", &msg)
				 ? json_object_get_string(msg)
				 : "an ERROR event");
		return;
	}
	/* every event moves the resourceVersion on, bookmarks too */
	if (json_object_object_get_ex(o, "metadata", &md) &&
	    json_object_object_get_ex(md, "resourceVersion", &rv))
		snprintf(r->rv, sizeof(r->rv), "%s",
			 json_object_get_string(rv));
	r->failures = 0;
	c->stats.failing[r->kind] = false;
	if (!strcmp(t, "BOOKMARK")) {
		c->stats.events[r->kind][K8S_BOOKMARK]++;
		return;
	}
	if (!strcmp(t, "DELETED")) {
		c->stats.events[r->kind][K8S_DELETED]++;
		if (k8s_object_key(o, ns, sizeof(ns), name, sizeof(name)))
			return;
		old = objs_del(r->kind, &r->objs, ns, name);
		if (old && matters(c, r->kind, old, NULL))
			mark_dirty(c);
		obj_free(r->kind, old);
		c->stats.objects[r->kind] = r->objs.n;
		return;
	}
	if (strcmp(t, "ADDED") && strcmp(t, "MODIFIED"))
		return;
	c->stats.events[r->kind][t[0] == 'A' ? K8S_ADDED : K8S_MODIFIED]++;
	obj = calloc(1, r->kind == K8S_SERVICES ? sizeof(struct k8s_service)
						: sizeof(struct k8s_slice));
	if (!obj)
		return;
	if (r->kind == K8S_SERVICES)
		e = k8s_service_parse(o, c->conf.lb_class, obj, err,
				      sizeof(err));
	else
		e = k8s_slice_parse(o, obj, err, sizeof(err));
	if (!e && c->node && r->kind == K8S_SERVICES)
		e = k8s_node_service_parse(o,
					   &((struct k8s_service *)obj)->node);
	if (e) {
		if (e == -EINVAL)
			log_warnx("kubernetes: %s: %s", res_names[r->kind],
				  err);
		obj_free(r->kind, obj);
		return;
	}
	old = objs_put(r->kind, &r->objs, obj, &e);
	if (!e && matters(c, r->kind, old, obj))
		mark_dirty(c);
	obj_free(r->kind, old);
	c->stats.objects[r->kind] = r->objs.n;
}

/* An item of a list page to the pending cache (scan_body, as it
 * completes); a failure to keep it is item_err. */
static void list_item(struct reflector *r, struct json_object *it)
{
	struct k8s_client *c = r->c;
	void *obj = calloc(1, r->kind == K8S_SERVICES ?
				      sizeof(struct k8s_service) :
				      sizeof(struct k8s_slice));
	char err[256];
	int e;

	if (!obj) {
		r->item_err = -ENOMEM;
		return;
	}
	e = r->kind == K8S_SERVICES ?
		    k8s_service_parse(it, c->conf.lb_class, obj, err,
				      sizeof(err)) :
		    k8s_slice_parse(it, obj, err, sizeof(err));
	if (!e && c->node && r->kind == K8S_SERVICES)
		e = k8s_node_service_parse(it,
					   &((struct k8s_service *)obj)->node);
	if (e == -EINVAL) {
		log_warnx("kubernetes: %s: %s", res_names[r->kind], err);
		obj_free(r->kind, obj);
		return;
	}
	if (e) {
		obj_free(r->kind, obj);
		r->item_err = e;
		return;
	}
	obj_free(r->kind, objs_put(r->kind, &r->pending, obj, &e));
	if (e)
		r->item_err = e;
}

/* A complete list page (without its items, which are pending already);
 * the last page swaps the cache. */
static void list_page(struct reflector *r, struct json_object *page)
{
	struct k8s_client *c = r->c;
	struct json_object *items, *md, *v;

	if (!page || !json_object_object_get_ex(page, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		snprintf(c->stats.last_error[r->kind],
			 sizeof(c->stats.last_error[r->kind]),
			 "list: no items in the answer");
		objs_clear(r->kind, &r->pending);
		free(r->cont);
		r->cont = NULL;
		retry_later(r);
		return;
	}
	free(r->cont);
	r->cont = NULL;
	md = NULL;
	json_object_object_get_ex(page, "metadata", &md);
	if (md && json_object_object_get_ex(md, "continue", &v) &&
	    *json_object_get_string(v)) {
		r->cont = strdup(json_object_get_string(v));
		if (!r->cont) {
			/* not the first pages as the whole list */
			objs_clear(r->kind, &r->pending);
			snprintf(c->stats.last_error[r->kind],
				 sizeof(c->stats.last_error[r->kind]),
				 "list: %s", strerror(ENOMEM));
			retry_later(r);
			return;
		}
		start_list(r);
		return;
	}
	if (md && json_object_object_get_ex(md, "resourceVersion", &v))
		snprintf(r->rv, sizeof(r->rv), "%s", json_object_get_string(v));
	/* the whole new list in place of the old cache at once: the apply
	 * that follows sees only what differs */
	objs_clear(r->kind, &r->objs);
	r->objs = r->pending;
	memset(&r->pending, 0, sizeof(r->pending));
	c->stats.objects[r->kind] = r->objs.n;
	c->stats.lists[r->kind]++;
	if (!c->stats.listed[r->kind])
		log_info("kubernetes: %s listed: %zu (resourceVersion %s)",
			 res_names[r->kind], r->objs.n, r->rv);
	else
		log_info("kubernetes: %s listed again: %zu (resourceVersion "
			 "%s)",
			 res_names[r->kind], r->objs.n, r->rv);
	c->stats.listed[r->kind] = true;
	r->need_list = false;
	r->failures = 0;
	c->stats.failing[r->kind] = false;
	mark_dirty(c);
	start_watch(r);
}

/* The Status of a failed request, for the message. */
static void status_message(struct reflector *r, char *buf, size_t len)
{
	struct json_object *o = r->errbody ? json_tokener_parse(r->errbody)
					   : NULL;
	struct json_object *m, *reason;

	if (o && json_object_object_get_ex(o, "message", &m))
		snprintf(buf, len, "HTTP %ld: %s%s%s", r->status,
			 json_object_get_string(m),
			 json_object_object_get_ex(o, "reason", &reason)
				 ? " ("
				 : "",
			 json_object_object_get_ex(o, "reason", &reason)
				 ? json_object_get_string(reason)
				 : "");
	else
		snprintf(buf, len, "HTTP %ld", r->status);
	if (o && json_object_object_get_ex(o, "reason", &reason))
		strncat(buf, ")", len - strlen(buf) - 1);
	json_object_put(o);
}

static void request_done(struct reflector *r, CURLcode res)
{
	struct k8s_client *c = r->c;
	char *err = c->stats.last_error[r->kind];
	size_t errlen = sizeof(c->stats.last_error[r->kind]);
	bool listing = r->listing;
	uint64_t lasted = now_usec(c) - r->started;

	if (!r->status)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	c->stats.watching[r->kind] = false;
	if (r->status == 410)
		r->gone = true;
	if (r->gone) {
		/* "clients must handle the case by recognizing the status
		 * code 410 Gone, clearing their local cache, performing a
		 * new get or list operation, and starting the watch from
		 * the resourceVersion that was returned" (API concepts);
		 * the cache is replaced when the new list is complete */
		c->stats.gone[r->kind]++;
		r->gone = false;
		r->need_list = true;
		log_info("kubernetes: %s: resourceVersion %s is gone (410): "
			 "listing again",
			 res_names[r->kind], r->rv);
		request_free(r);
		free(r->cont);
		r->cont = NULL;
		start_list(r);
		return;
	}
	if (res == CURLE_OK && r->status == 200 && listing) {
		struct json_object *page =
			r->env.p ? json_tokener_parse(r->env.p) : NULL;

		/* the page outlives its request: the next request (a page
		 * or the watch) starts from list_page */
		request_free(r);
		list_page(r, page);
		json_object_put(page);
		return;
	}
	if (res == CURLE_OK && r->status == 200 && !r->bad_stream) {
		/* the server ended the watch (its timeout, or it went
		 * away cleanly): resume from the last resourceVersion;
		 * one that ends at once counts as a failure, so a server
		 * that closes every watch is not hammered */
		c->stats.watch_restarts[r->kind]++;
		request_free(r);
		if (lasted < 1000000 && !r->progress) {
			snprintf(err, errlen, "the watch ended at once");
			c->stats.failures[r->kind]++;
			retry_later(r);
			return;
		}
		log_debug("kubernetes: %s: watch ended; resuming from %s",
			  res_names[r->kind], r->rv);
		start_watch(r);
		return;
	}
	c->stats.failures[r->kind]++;
	if (!listing)
		c->stats.watch_restarts[r->kind]++;
	if (res != CURLE_OK && !r->bad_stream)
		snprintf(err, errlen, "%s: %s", listing ? "list" : "watch",
			 curl_easy_strerror(res));
	else if (r->status != 200)
		status_message(r, err, errlen);
	if (listing) {
		/* a list is started again from its first page */
		free(r->cont);
		r->cont = NULL;
	}
	request_free(r);
	retry_later(r);
}

/* -- libcurl on sd-event --------------------------------------------- */

static void check_done(struct k8s_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct reflector *r = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
				  (char **)&r);
		if (r && r->easy == m->easy_handle)
			request_done(r, m->data.result);
	}
}

static int on_curl_io(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct k8s_client *c = arg;
	int flags = 0, running;

	(void)s;
	if (revents & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
	return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct k8s_client *c = arg;
	int running;

	(void)s;
	(void)usec;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
	return 0;
}

static int curl_socket(CURL *e, curl_socket_t fd, int what, void *userp,
		       void *socketp)
{
	struct k8s_client *c = userp;
	sd_event_source *src = socketp;
	uint32_t events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (src) {
			sd_event_source_set_enabled(src, SD_EVENT_OFF);
			sd_event_source_unref(src);
		}
		curl_multi_assign(c->multi, fd, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (src)
		return sd_event_source_set_io_events(src, events) < 0 ? -1 : 0;
	if (sd_event_add_io(c->ev, &src, fd, events, on_curl_io, c) < 0)
		return -1;
	curl_multi_assign(c->multi, fd, src);
	return 0;
}

static int curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct k8s_client *c = userp;
	uint64_t at;

	(void)m;
	if (timeout_ms < 0)
		return c->curl_timer ? sd_event_source_set_enabled(
					       c->curl_timer, SD_EVENT_OFF) < 0
				     : 0;
	at = now_usec(c) + (uint64_t)timeout_ms * 1000;
	if (!c->curl_timer)
		return sd_event_add_time(c->ev, &c->curl_timer,
					 CLOCK_MONOTONIC, at, 1, on_curl_timer,
					 c) < 0
			       ? -1
			       : 0;
	sd_event_source_set_time(c->curl_timer, at);
	return sd_event_source_set_enabled(c->curl_timer, SD_EVENT_ONESHOT) <
			       0
		       ? -1
		       : 0;
}

/* -- the client ---------------------------------------------------------- */

static void *memdup(const void *p, size_t len)
{
	void *q = malloc(len);

	if (q)
		memcpy(q, p, len);
	return q;
}

static int start(sd_event *ev, const struct lbd_conf_kubernetes *conf,
		 const struct kubeconfig *kc, k8s_changed_fn changed, void *arg,
		 bool node, struct k8s_client **out);

int k8s_start(sd_event *ev, const struct lbd_conf_kubernetes *conf,
	      const struct kubeconfig *kc, k8s_changed_fn changed, void *arg,
	      struct k8s_client **out)
{
	return start(ev, conf, kc, changed, arg, false, out);
}

int k8s_start_node(sd_event *ev, const struct lbd_conf_kubernetes *conf,
		   const struct kubeconfig *kc, k8s_changed_fn changed,
		   void *arg, struct k8s_client **out)
{
	return start(ev, conf, kc, changed, arg, true, out);
}

static int start(sd_event *ev, const struct lbd_conf_kubernetes *conf,
		 const struct kubeconfig *kc, k8s_changed_fn changed, void *arg,
		 bool node, struct k8s_client **out)
{
	static bool curl_ready;
	struct k8s_client *c;
	int i;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return -ENOMEM;
		curl_ready = true;
		srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ev = sd_event_ref(ev);
	c->conf = *conf;
	c->kc = *kc;
	c->kc.ca = c->kc.cert = c->kc.key = c->kc.token = NULL;
	c->kc.token_data = NULL;
	if ((kc->ca && !(c->kc.ca = memdup(kc->ca, kc->ca_len + 1))) ||
	    (kc->cert && !(c->kc.cert = memdup(kc->cert, kc->cert_len + 1))) ||
	    (kc->key && !(c->kc.key = memdup(kc->key, kc->key_len + 1))) ||
	    (kc->token && !(c->kc.token = strdup(kc->token))) ||
	    (kc->token_data && !(c->kc.token_data = strdup(kc->token_data)))) {
		k8s_stop(c);
		return -ENOMEM;
	}
	c->changed = changed;
	c->arg = arg;
	c->node = node;
	c->multi = curl_multi_init();
	if (!c->multi) {
		k8s_stop(c);
		return -ENOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	for (i = 0; i < K8S_RESOURCES; i++) {
		struct reflector *r = &c->r[i];

		r->c = c;
		r->kind = (enum k8s_resource)i;
		if (conf->namespace[0])
			snprintf(r->path, sizeof(r->path), "%s/namespaces/%s/%s",
				 i == K8S_SERVICES ? "/api/v1"
						   : "/apis/discovery.k8s.io/v1",
				 conf->namespace, res_names[i]);
		else
			snprintf(r->path, sizeof(r->path), "%s/%s",
				 i == K8S_SERVICES ? "/api/v1"
						   : "/apis/discovery.k8s.io/v1",
				 res_names[i]);
		start_list(r);
	}
	if (node)
		log_info("kubernetes: following every Service at %s (context "
			 "%s%s%s)",
			 kc->server, kc->context,
			 conf->namespace[0] ? ", namespace " : "",
			 conf->namespace);
	else
		log_info("kubernetes: following LoadBalancer Services of class "
			 "%s at %s (context %s%s%s)",
			 conf->lb_class, kc->server, kc->context,
			 conf->namespace[0] ? ", namespace " : "",
			 conf->namespace);
	*out = c;
	return 0;
}

void k8s_stop(struct k8s_client *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < K8S_RESOURCES; i++) {
		struct reflector *r = &c->r[i];

		if (c->multi)
			request_free(r);
		r->retry = sd_event_source_unref(r->retry);
		objs_clear(r->kind, &r->objs);
		objs_clear(r->kind, &r->pending);
		free(r->cont);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	c->curl_timer = sd_event_source_unref(c->curl_timer);
	c->apply = sd_event_source_unref(c->apply);
	kubeconfig_free(&c->kc);
	sd_event_unref(c->ev);
	free(c);
}

int k8s_set_token(struct k8s_client *c, const struct kubeconfig *kc)
{
	char *t = NULL;

	if (kc->token_data && !(t = strdup(kc->token_data)))
		return -ENOMEM;
	if (c->kc.token_data)
		explicit_bzero(c->kc.token_data, strlen(c->kc.token_data));
	free(c->kc.token_data);
	c->kc.token_data = t;
	c->kc.token_given = kc->token_given;
	return 0;
}

bool k8s_synced(const struct k8s_client *c)
{
	return c && c->stats.listed[K8S_SERVICES] &&
	       c->stats.listed[K8S_SLICES];
}

const struct k8s_stats *k8s_stats(const struct k8s_client *c)
{
	return &c->stats;
}

int k8s_build(struct k8s_client *c, const struct k8s_opts *o,
	      struct k8s_set *out)
{
	struct objs *sl = &c->r[K8S_SLICES].objs;
	struct k8s_slice **by_svc;
	int err;

	/* the cache is by slice name; translation wants them by Service */
	by_svc = malloc((sl->n ? sl->n : 1) * sizeof(*by_svc));
	if (!by_svc)
		return -ENOMEM;
	if (sl->n) /* an empty cache has no array: no memcpy from NULL */
		memcpy(by_svc, sl->v, sl->n * sizeof(*by_svc));
	qsort(by_svc, sl->n, sizeof(*by_svc), k8s_slice_cmp);
	err = k8s_translate((struct k8s_service *const *)c->r[K8S_SERVICES]
				    .objs.v,
			    c->r[K8S_SERVICES].objs.n, by_svc, sl->n, o, out);
	free(by_svc);
	return err;
}

int k8s_node_build(struct k8s_client *c, const struct k8s_node_opts *o,
		   struct k8s_node_set *out)
{
	return k8s_node_translate(
		(struct k8s_service *const *)c->r[K8S_SERVICES].objs.v,
		c->r[K8S_SERVICES].objs.n,
		(struct k8s_slice *const *)c->r[K8S_SLICES].objs.v,
		c->r[K8S_SLICES].objs.n, o, out);
}
