// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Service and EndpointSlice objects to lbd services (k8s_model.h).
 * Field meanings follow the Kubernetes API reference: core/v1 Service
 * (spec.type, spec.loadBalancerClass, spec.loadBalancerIP, spec.ports,
 * status.loadBalancer.ingress) and discovery.k8s.io/v1 EndpointSlice
 * (addressType, ports, endpoints[].addresses, endpoints[].conditions).
 */
#include "k8s_model.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* o's member at a dotted path ("spec.ports"), or NULL. */
static struct json_object *jpath(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && *path) {
		size_t len;

		dot = strchr(path, '.');
		len = dot ? (size_t)(dot - path) : strlen(path);
		if (len >= sizeof(key))
			return NULL;
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path += len + (dot ? 1 : 0);
	}
	return o;
}

static const char *jstring(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	return v && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* A member of an object by a key that may hold dots (labels). */
static const char *jmember_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* true, false, or dflt when absent or null */
static bool jbool(struct json_object *o, const char *key, bool dflt)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

static bool copy(char *dst, size_t size, const char *src)
{
	if (!src || strlen(src) >= size)
		return false;
	strcpy(dst, src);
	return true;
}

int k8s_object_key(struct json_object *o, char *ns, size_t nslen, char *name,
		   size_t namelen)
{
	if (!copy(ns, nslen, jstring(o, "metadata.namespace")) ||
	    !copy(name, namelen, jstring(o, "metadata.name")) || !*ns || !*name)
		return -EINVAL;
	return 0;
}

static __u8 proto_of(const char *p)
{
	/* the API's default is TCP */
	if (!p || !strcmp(p, "TCP"))
		return IPPROTO_TCP;
	if (!strcmp(p, "UDP"))
		return IPPROTO_UDP;
	return 0;
}

static int ip_of(const char *s, struct lbd_conf_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a->addr.v4) == 1) {
		a->family = LBD_AF_INET;
		a->prefixlen = 32;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->addr.v6) == 1) {
		a->family = LBD_AF_INET6;
		a->prefixlen = 128;
		return 0;
	}
	return -EINVAL;
}

/* A ports list (Service or EndpointSlice): ports without a number (an
 * EndpointSlice's "all ports") are left out. */
static int ports_of(struct json_object *l, struct k8s_port **out, size_t *n)
{
	size_t i, len = l && json_object_is_type(l, json_type_array)
				? json_object_array_length(l)
				: 0;

	*out = calloc(len ? len : 1, sizeof(**out));
	*n = 0;
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		struct json_object *p = json_object_array_get_idx(l, i), *v;
		struct k8s_port *kp = &(*out)[*n];
		int port;

		if (!json_object_object_get_ex(p, "port", &v) ||
		    !json_object_is_type(v, json_type_int))
			continue;
		port = json_object_get_int(v);
		if (port < 1 || port > 65535)
			continue;
		kp->port = (__u16)port;
		if (!copy(kp->name, sizeof(kp->name), jstring(p, "name")))
			kp->name[0] = '\0';
		kp->proto = proto_of(jstring(p, "protocol"));
		(*n)++;
	}
	return 0;
}

static void add_vip(struct k8s_service *s, const char *ip)
{
	struct lbd_conf_addr a;
	size_t i;

	if (ip_of(ip, &a) || s->n_vips == K8S_MAX_VIPS)
		return;
	for (i = 0; i < s->n_vips; i++)
		if (s->vips[i].family == a.family &&
		    !memcmp(&s->vips[i].addr, &a.addr, sizeof(a.addr)))
			return;
	s->vips[s->n_vips++] = a;
}

int k8s_service_parse(struct json_object *o, const char *lb_class,
		      struct k8s_service *out, char *err, size_t errlen)
{
	struct json_object *ing = jpath(o, "status.loadBalancer.ingress");
	const char *type = jstring(o, "spec.type");
	const char *cls = jstring(o, "spec.loadBalancerClass");
	size_t i;

	memset(out, 0, sizeof(*out));
	if (k8s_object_key(o, out->ns, sizeof(out->ns), out->name,
			   sizeof(out->name))) {
		snprintf(err, errlen, "a Service without namespace or name");
		return -EINVAL;
	}
	out->followed = type && !strcmp(type, "LoadBalancer") && cls &&
			!strcmp(cls, lb_class);
	if (!out->followed)
		return 0;
	if (ing && json_object_is_type(ing, json_type_array))
		for (i = 0; i < json_object_array_length(ing); i++)
			add_vip(out,
				jstring(json_object_array_get_idx(ing, i),
					"ip"));
	if (!out->n_vips)
		add_vip(out, jstring(o, "spec.loadBalancerIP"));
	return ports_of(jpath(o, "spec.ports"), &out->ports, &out->n_ports);
}

void k8s_service_free(struct k8s_service *s)
{
	free(s->ports);
	s->ports = NULL;
	s->n_ports = 0;
}

int k8s_slice_parse(struct json_object *o, struct k8s_slice *out, char *err,
		    size_t errlen)
{
	struct json_object *labels = jpath(o, "metadata.labels");
	struct json_object *ann = jpath(o, "metadata.annotations");
	struct json_object *eps = jpath(o, "endpoints");
	const char *at = jstring(o, "addressType");
	const char *w = jmember_string(ann, K8S_WEIGHT_ANNOTATION);
	size_t i, len;
	int r;

	memset(out, 0, sizeof(*out));
	if (k8s_object_key(o, out->ns, sizeof(out->ns), out->name,
			   sizeof(out->name))) {
		snprintf(err, errlen,
			 "an EndpointSlice without namespace or name");
		return -EINVAL;
	}
	/* not a Service's slice: kept (it may get the label), no backends */
	if (!copy(out->service, sizeof(out->service),
		  jmember_string(labels, K8S_SERVICE_NAME_LABEL)))
		out->service[0] = '\0';
	out->family = at && !strcmp(at, "IPv4")	  ? LBD_AF_INET :
		      at && !strcmp(at, "IPv6") ? LBD_AF_INET6 :
						  0;
	out->weight = 1;
	if (w) {
		char *end;
		long v = strtol(w, &end, 10);

		if (*w && !*end && v >= 0 && v <= 65535)
			out->weight = (__u32)v;
		else
			out->bad_weight = true;
	}
	r = ports_of(jpath(o, "ports"), &out->ports, &out->n_ports);
	if (r)
		return r;
	len = eps && json_object_is_type(eps, json_type_array)
		      ? json_object_array_length(eps)
		      : 0;
	out->eps = calloc(len ? len : 1, sizeof(*out->eps));
	if (!out->eps)
		return -ENOMEM;
	for (i = 0; i < len && out->family; i++) {
		struct json_object *e = json_object_array_get_idx(eps, i);
		struct json_object *c = jpath(e, "conditions");
		struct json_object *addrs = jpath(e, "addresses");
		struct k8s_endpoint *ke = &out->eps[out->n_eps];
		bool ready = jbool(c, "ready", true);
		bool serving = jbool(c, "serving", ready);
		bool terminating = jbool(c, "terminating", false);

		/* "all assumed to be fungible and clients may choose to
		 * only use the first element" (EndpointSlice API) */
		if (!addrs || !json_object_is_type(addrs, json_type_array) ||
		    !json_object_array_length(addrs) ||
		    ip_of(json_object_get_string(
				  json_object_array_get_idx(addrs, 0)),
			  &ke->addr) ||
		    ke->addr.family != out->family)
			continue;
		if (ready)
			ke->state = LBD_CS_ACTIVE;
		else if (serving && terminating)
			ke->state = LBD_CS_DRAINING;
		else
			continue;
		out->n_eps++;
	}
	return 0;
}

void k8s_slice_free(struct k8s_slice *s)
{
	free(s->ports);
	free(s->eps);
	s->ports = NULL;
	s->eps = NULL;
	s->n_ports = s->n_eps = 0;
}

int k8s_service_cmp(const void *a, const void *b)
{
	const struct k8s_service *x = *(struct k8s_service *const *)a;
	const struct k8s_service *y = *(struct k8s_service *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->name, y->name);
}

int k8s_slice_cmp(const void *a, const void *b)
{
	const struct k8s_slice *x = *(struct k8s_slice *const *)a;
	const struct k8s_slice *y = *(struct k8s_slice *const *)b;
	int c = strcmp(x->ns, y->ns);

	if (!c)
		c = strcmp(x->service, y->service);
	return c ? c : strcmp(x->name, y->name);
}

void k8s_opts_of(const struct lbd_config *c, struct k8s_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->fwd = c->k8s.fwd;
	o->flow_backends = c->k8s.flow_backends;
	o->encap4 = c->dp.encap_v4.family;
	o->encap6 = c->dp.encap_v6.family;
	o->snat4 = c->dp.snat_v4.family;
	o->snat6 = c->dp.snat_v6.family;
}

void k8s_set_health(struct k8s_set *set, const struct lbd_config *c)
{
	__u32 h = c->k8s.health;
	__u8 proto = c->healths[h].type == LBD_HC_UDP_DNS ? IPPROTO_UDP
							   : IPPROTO_TCP;
	size_t i, j;

	for (i = 0; i < set->n_svc; i++) {
		struct lbd_conf_service *s = &set->svc[i];

		s->health = h && s->proto == proto ? h : 0;
		for (j = 0; j < s->n_backends; j++)
			set->be[s->first_backend + j].health = s->health;
	}
}

/* A growing output, with what failed remembered. */
struct tr {
	struct k8s_set *out;
	size_t cap_svc, cap_be, cap_warn;
	int err;
};

static void *grow(struct tr *t, void *arr, size_t n, size_t *cap, size_t size)
{
	void *p;

	if (n < *cap)
		return arr;
	p = realloc(arr, (*cap ? *cap * 2 : 64) * size);
	if (!p) {
		t->err = -ENOMEM;
		return NULL;
	}
	*cap = *cap ? *cap * 2 : 64;
	return p;
}

__attribute__((format(printf, 2, 3))) static void warn(struct tr *t,
						       const char *fmt, ...)
{
	struct k8s_set *s = t->out;
	char msg[512], **w;
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* once per Service and reason, however many endpoints */
	for (i = s->n_warnings; i-- > 0;)
		if (!strcmp(s->warnings[i], msg))
			return;
	w = grow(t, s->warnings, s->n_warnings, &t->cap_warn, sizeof(*w));
	if (!w)
		return;
	s->warnings = w;
	w[s->n_warnings] = strdup(msg);
	if (!w[s->n_warnings]) {
		t->err = -ENOMEM;
		return;
	}
	s->n_warnings++;
}

static int be_cmp(const void *a, const void *b)
{
	const struct lbd_conf_backend *x = a, *y = b;

	return config_endpoint_cmp(&x->addr, x->port, &y->addr, y->port);
}

/* ipip leaves the port as it is: endpoints on another port cannot be
 * its backends (the config refuses the same for configured ones). */
static bool port_usable(struct tr *t, const struct k8s_service *ks,
			const struct lbd_conf_service *s, __u16 port)
{
	if (s->fwd != LBD_FWD_IPIP || port == s->port)
		return true;
	warn(t,
	     "Service %s/%s: port %u: endpoints on port %u left out: ipip "
	     "does not translate ports (use kubernetes.forwarding = "
	     "\"geneve\")",
	     ks->ns, ks->name, s->port, port);
	return false;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The backends of service s (VIP family fam, port sp) from the slices
 * slices[0..n) of its Service. */
static void backends_of(struct tr *t, const struct k8s_opts *o,
			const struct k8s_service *ks,
			const struct k8s_port *sp, __u8 fam,
			struct k8s_slice *const *slices, size_t n,
			struct lbd_conf_service *s)
{
	struct k8s_set *out = t->out;
	size_t i, j, k, first = out->n_be;
	int v = fam == LBD_AF_INET ? 4 : 6;
	bool need_encap = o->fwd != LBD_FWD_SNAT;
	bool have = fam == LBD_AF_INET ? (need_encap ? o->encap4 : o->snat4)
				       : (need_encap ? o->encap6 : o->snat6);

	for (i = 0; i < n && !t->err; i++) {
		const struct k8s_slice *sl = slices[i];
		const struct k8s_port *p = NULL;

		if (sl->family != fam || !sl->n_eps)
			continue;
		/* "ports resolved by name": the slice port of the
		 * service port's name (both "" for an unnamed port) */
		for (j = 0; j < sl->n_ports && !p; j++)
			if (!strcmp(sl->ports[j].name, sp->name) &&
			    sl->ports[j].proto == sp->proto)
				p = &sl->ports[j];
		if (!p)
			continue;
		if (sl->bad_weight)
			warn(t,
			     "EndpointSlice %s/%s: annotation " K8S_WEIGHT_ANNOTATION
			     " is not a weight 0-65535: weight 1",
			     sl->ns, sl->name);
		if (!have) {
			warn(t,
			     "Service %s/%s: IPv%d endpoints left out: %s needs "
			     "datapath.%s_source_v%d",
			     ks->ns, ks->name, v, config_fwd_str(o->fwd),
			     need_encap ? "encap" : "snat", v);
			continue;
		}
		if (!port_usable(t, ks, s, p->port))
			continue;
		for (k = 0; k < sl->n_eps; k++) {
			struct lbd_conf_backend *b =
				grow(t, out->be, out->n_be, &t->cap_be,
				     sizeof(*b));

			if (!b)
				return;
			out->be = b;
			b = &b[out->n_be++];
			memset(b, 0, sizeof(*b));
			b->addr = sl->eps[k].addr;
			b->port = p->port;
			b->weight = sl->weight;
			b->state = sl->eps[k].state;
		}
	}
	/* an endpoint may be in two slices for a while (the API allows
	 * duplicates while slices are rebalanced): once, at its most
	 * usable, then at its highest weight */
	if (out->n_be > first) /* be may still be NULL: no arithmetic on it */
		qsort(out->be + first, out->n_be - first, sizeof(*out->be),
		      be_cmp);
	for (i = first, k = first; i < out->n_be; i++) {
		struct lbd_conf_backend *kept = &out->be[k - 1],
					*b = &out->be[i];

		if (k > first && !be_cmp(kept, b)) {
			if (b->state < kept->state ||
			    (b->state == kept->state && b->weight > kept->weight))
				*kept = *b;
			continue;
		}
		out->be[k++] = out->be[i];
	}
	out->n_be = k;
	s->first_backend = first;
	s->n_backends = out->n_be - first;
}

int k8s_translate(struct k8s_service *const *svcs, size_t n_svcs,
		  struct k8s_slice *const *slices, size_t n_slices,
		  const struct k8s_opts *o, struct k8s_set *out)
{
	struct tr t = { .out = out };
	size_t i, j, v, first = 0, last;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n_svcs && !t.err; i++) {
		const struct k8s_service *ks = svcs[i];

		/* the slices of this Service: both lists are sorted */
		while (first < n_slices &&
		       (strcmp(slices[first]->ns, ks->ns) < 0 ||
			(!strcmp(slices[first]->ns, ks->ns) &&
			 strcmp(slices[first]->service, ks->name) < 0)))
			first++;
		for (last = first;
		     last < n_slices && !strcmp(slices[last]->ns, ks->ns) &&
		     !strcmp(slices[last]->service, ks->name);
		     last++)
			;
		if (!ks->followed)
			continue;
		for (v = 0; v < ks->n_vips && !t.err; v++) {
			for (j = 0; j < ks->n_ports && !t.err; j++) {
				const struct k8s_port *sp = &ks->ports[j];
				struct lbd_conf_service *s;
				char a[INET6_ADDRSTRLEN], port[16];

				if (!sp->proto) {
					warn(&t,
					     "Service %s/%s: port %u: only TCP "
					     "and UDP are served",
					     ks->ns, ks->name, sp->port);
					continue;
				}
				s = grow(&t, out->svc, out->n_svc, &t.cap_svc,
					 sizeof(*s));
				if (!s)
					break;
				out->svc = s;
				s = &s[out->n_svc++];
				memset(s, 0, sizeof(*s));
				s->vip = ks->vips[v];
				s->port = sp->port;
				s->proto = sp->proto;
				s->fwd = o->fwd;
				s->flow_backends = o->flow_backends &&
						   s->proto == IPPROTO_TCP;
				s->dsr = LBD_FWD_IPIP;
				s->no_backend = LBD_NB_REJECT;
				s->icmp_echo = true;
				s->affinity_timeout = 10800;
				s->origin = LBD_ORIGIN_K8S;
				snprintf(s->k8s_ref, sizeof(s->k8s_ref),
					 "%s/%s", ks->ns, ks->name);
				if (sp->name[0])
					snprintf(port, sizeof(port), "%.15s",
						 sp->name);
				else
					snprintf(port, sizeof(port), "%u",
						 sp->port);
				inet_ntop(s->vip.family == LBD_AF_INET
						  ? AF_INET
						  : AF_INET6,
					  &s->vip.addr, a, sizeof(a));
				snprintf(s->name, sizeof(s->name),
					 "%s/%s:%s%s%s", ks->ns, ks->name, port,
					 ks->n_vips > 1 ? "@" : "",
					 ks->n_vips > 1 ? a : "");
				backends_of(&t, o, ks, sp, s->vip.family,
					    slices + first, last - first, s);
			}
		}
	}
	if (!t.err && out->n_warnings)
		qsort(out->warnings, out->n_warnings, sizeof(char *),
		      str_cmp);
	return t.err;
}

void k8s_set_free(struct k8s_set *s)
{
	size_t i;

	for (i = 0; i < s->n_warnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	free(s->svc);
	free(s->be);
	memset(s, 0, sizeof(*s));
}
