// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Service and EndpointSlice objects to lbd services (k8s_model.h).
 * Field meanings follow the Kubernetes API reference: core/v1 Service
 * (spec.type, spec.loadBalancerClass, spec.loadBalancerIP, spec.ports,
 * status.loadBalancer.ingress) and discovery.k8s.io/v1 EndpointSlice
 * (addressType, ports, endpoints[].addresses, endpoints[].conditions).
 */
#include "k8s_model.h"
#include "k8s_node.h"

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

static bool copy(char *dst, size_t size, const char *src)
{
	if (!src || strlen(src) >= size)
		return false;
	strcpy(dst, src);
	return true;
}

#define K8S_REFUSAL_NAME(e, name) [e] = name,
static const char *const refusal_names[K8S_REFUSALS_N] = {
	[K8S_REFUSED_NONE] = "none",
	K8S_REFUSALS(K8S_REFUSAL_NAME)
};
#undef K8S_REFUSAL_NAME

const char *k8s_refusal_name(enum k8s_refusal r)
{
	return r < K8S_REFUSALS_N ? refusal_names[r] : "?";
}

/* RFC 1123 label, as the API validates names (IsDNS1123Label). */
static bool dns_label(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      (ch == '-' && i && i + 1 < n)))
			return false;
	}
	return true;
}

/* RFC 1123 subdomain (IsDNS1123Subdomain): labels joined by dots. */
static bool dns_subdomain(const char *s)
{
	char buf[254], *p, *dot;

	if (!*s || strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	for (p = buf; p; p = dot) {
		dot = strchr(p, '.');
		if (dot)
			*dot++ = '\0';
		if (!dns_label(p))
			return false;
	}
	return true;
}

/* A string from the API for a message: at most 64 characters, anything
 * but printable ASCII as '?' (it goes to the log). */
static const char *shown(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len && i < 64; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* The key of an object of kind; a Service's name must be a DNS label
 * (it names lbd services, LBD_SVC_NAME_MAX), others' a subdomain. */
static int key_of(struct json_object *o, const char *kind, bool label, char *ns,
		  size_t nslen, char *name, size_t namelen, char *err,
		  size_t errlen)
{
	const char *n = jstring(o, "metadata.namespace");
	const char *m = jstring(o, "metadata.name");
	char b[80];

	if (!n || !m || !*n || !*m) {
		snprintf(err, errlen, "a%s %s without namespace or name",
			 *kind == 'E' ? "n" : "", kind);
		return -EINVAL;
	}
	if (!dns_label(n) || !copy(ns, nslen, n)) {
		snprintf(err, errlen,
			 "a%s %s in namespace \"%s\": not a DNS "
			 "label",
			 *kind == 'E' ? "n" : "", kind, shown(n, b, sizeof(b)));
		return -EINVAL;
	}
	if (!(label ? dns_label(m) : dns_subdomain(m)) ||
	    !copy(name, namelen, m)) {
		snprintf(err, errlen, "a%s %s named \"%s\" in %s: not a DNS %s",
			 *kind == 'E' ? "n" : "", kind, shown(m, b, sizeof(b)),
			 ns, label ? "label" : "subdomain");
		return -EINVAL;
	}
	return 0;
}

int k8s_object_key(struct json_object *o, char *ns, size_t nslen, char *name,
		   size_t namelen)
{
	char err[8];

	return key_of(o, "object", false, ns, nslen, name, namelen, err,
		      sizeof(err));
}

/* A port's protocol: absent (or null) is the API's default, TCP; SCTP is
 * 0, for the translation to refuse; anything else, a string or not, is
 * -EINVAL. */
static int proto_of(struct json_object *p, __u8 *out)
{
	const char *s;

	if (!p) {
		*out = IPPROTO_TCP;
		return 0;
	}
	if (!json_object_is_type(p, json_type_string))
		return -EINVAL;
	s = json_object_get_string(p);
	if (!strcmp(s, "TCP"))
		*out = IPPROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*out = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*out = 0;
	else
		return -EINVAL;
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

/* o's member key, NULL when absent or null. */
static struct json_object *jmember(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/*
 * A ports list (Service or EndpointSlice). A slice's port without a
 * number ("all ports") is left out; a Service's must have one. 0,
 * -EINVAL with the reason in why, or -ENOMEM.
 */
static int ports_of(struct json_object *l, bool slice, struct k8s_port **out,
		    size_t *n, char *why, size_t whylen)
{
	size_t i, len;

	*n = 0;
	if (l && !json_object_is_type(l, json_type_array)) {
		*out = calloc(1, sizeof(**out));
		snprintf(why, whylen, "ports is not a list");
		return *out ? -EINVAL : -ENOMEM;
	}
	len = l ? json_object_array_length(l) : 0;
	*out = calloc(len ? len : 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		struct json_object *p = json_object_array_get_idx(l, i);
		struct json_object *v = jmember(p, "port");
		struct json_object *name = jmember(p, "name");
		struct k8s_port *kp = &(*out)[*n];
		int64_t port;

		if (!p || !json_object_is_type(p, json_type_object)) {
			snprintf(why, whylen, "ports[%zu] is not an object", i);
			return -EINVAL;
		}
		if (!v && slice)
			continue;
		if (!v || !json_object_is_type(v, json_type_int)) {
			snprintf(why, whylen,
				 "ports[%zu].port is not an "
				 "integer",
				 i);
			return -EINVAL;
		}
		port = json_object_get_int64(v);
		if (port < 1 || port > 65535) {
			snprintf(why, whylen,
				 "ports[%zu].port %lld is not "
				 "1-65535",
				 i, (long long)port);
			return -EINVAL;
		}
		kp->port = (__u16)port;
		if (name && (!json_object_is_type(name, json_type_string) ||
			     !copy(kp->name, sizeof(kp->name),
				   json_object_get_string(name)))) {
			snprintf(why, whylen,
				 "ports[%zu].name is not a port "
				 "name",
				 i);
			return -EINVAL;
		}
		if (proto_of(jmember(p, "protocol"), &kp->proto)) {
			snprintf(why, whylen,
				 "ports[%zu].protocol is not "
				 "\"TCP\", \"UDP\" or \"SCTP\"",
				 i);
			return -EINVAL;
		}
		(*n)++;
	}
	return 0;
}

/* A VIP of the Service: K8S_REFUSED_NONE, or why it is refused. */
static __u8 add_vip(struct k8s_service *s, struct json_object *ip,
		    const char *where, char *why, size_t len)
{
	struct lbd_conf_addr a;
	char b[80];
	size_t i;

	if (!json_object_is_type(ip, json_type_string) ||
	    ip_of(json_object_get_string(ip), &a)) {
		snprintf(why, len, "%s \"%s\" is not an IP address", where,
			 shown(json_object_get_string(ip), b, sizeof(b)));
		return K8S_REFUSED_INVALID;
	}
	for (i = 0; i < s->n_vips; i++)
		if (s->vips[i].family == a.family &&
		    !memcmp(&s->vips[i].addr, &a.addr, sizeof(a.addr)))
			return K8S_REFUSED_NONE;
	if (config_addr_unusable(&a)) {
		snprintf(why, len, "VIP %s is %s",
			 shown(json_object_get_string(ip), b, sizeof(b)),
			 config_addr_unusable(&a));
		return K8S_REFUSED_VIP_ADDRESS;
	}
	if (s->n_vips == K8S_MAX_VIPS) {
		snprintf(why, len,
			 "more than %d VIPs (the most a Service may "
			 "have)",
			 K8S_MAX_VIPS);
		return K8S_REFUSED_TOO_MANY_VIPS;
	}
	s->vips[s->n_vips++] = a;
	return K8S_REFUSED_NONE;
}

/* status.loadBalancer.ingress[].ip, else spec.loadBalancerIP. */
static __u8 vips_of(struct json_object *o, struct k8s_service *s, char *why,
		    size_t len)
{
	struct json_object *ing = jpath(o, "status.loadBalancer.ingress");
	struct json_object *lbip = jpath(o, "spec.loadBalancerIP");
	__u8 r = K8S_REFUSED_NONE;
	size_t i;

	if (ing && !json_object_is_type(ing, json_type_array)) {
		snprintf(why, len, "status.loadBalancer.ingress is not a list");
		return K8S_REFUSED_INVALID;
	}
	for (i = 0; ing && i < json_object_array_length(ing) && !r; i++) {
		struct json_object *e = json_object_array_get_idx(ing, i);
		struct json_object *ip = jmember(e, "ip");

		if (!e || !json_object_is_type(e, json_type_object)) {
			snprintf(why, len,
				 "status.loadBalancer.ingress[%zu] "
				 "is not an object",
				 i);
			return K8S_REFUSED_INVALID;
		}
		/* an entry may have only a hostname */
		if (ip)
			r = add_vip(s, ip, "status.loadBalancer.ingress[].ip",
				    why, len);
	}
	if (r || s->n_vips || !lbip)
		return r;
	if (json_object_is_type(lbip, json_type_string) &&
	    !*json_object_get_string(lbip))
		return K8S_REFUSED_NONE;
	return add_vip(s, lbip, "spec.loadBalancerIP", why, len);
}

int k8s_service_parse(struct json_object *o, const char *lb_class,
		      struct k8s_service *out, char *err, size_t errlen)
{
	const char *type = jstring(o, "spec.type");
	const char *cls = jstring(o, "spec.loadBalancerClass");
	char why[256], pwhy[256];
	int r;

	memset(out, 0, sizeof(*out));
	if (key_of(o, "Service", true, out->ns, sizeof(out->ns), out->name,
		   sizeof(out->name), err, errlen))
		return -EINVAL;
	out->followed = type && !strcmp(type, "LoadBalancer") && cls &&
			!strcmp(cls, lb_class);
	if (!out->followed)
		return 0;
	out->refused = vips_of(o, out, why, sizeof(why));
	r = ports_of(jpath(o, "spec.ports"), false, &out->ports, &out->n_ports,
		     pwhy, sizeof(pwhy));
	if (r == -ENOMEM)
		return r;
	if (r && !out->refused) { /* the first problem is the one said */
		out->refused = K8S_REFUSED_INVALID;
		snprintf(why, sizeof(why), "%s", pwhy);
	}
	if (out->refused) {
		out->n_vips = 0;
		out->n_ports = 0;
		out->why = strdup(why);
		if (!out->why)
			return -ENOMEM;
	}
	return 0;
}

void k8s_service_free(struct k8s_service *s)
{
	k8s_node_service_free(s->node);
	s->node = NULL;
	free(s->why);
	s->why = NULL;
	free(s->ports);
	s->ports = NULL;
	s->n_ports = 0;
}

/* An endpoint's condition: true, false, or dflt when absent or null;
 * -1 for anything else. */
static int condition(struct json_object *c, const char *key, bool dflt)
{
	struct json_object *v = jmember(c, key);

	if (!v)
		return dflt;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v);
}

/* hints.forZones[].name of an endpoint into e (k8s_model.h); a hint
 * that is not such a list is as none (the Service then ignores hints,
 * as kube-proxy does for an endpoint without them). 0 or -ENOMEM. */
static int zone_hints_of(struct json_object *l, struct k8s_endpoint *e)
{
	size_t i, n;

	e->zones = NULL;
	e->n_zones = 0;
	if (!l || !json_object_is_type(l, json_type_array))
		return 0;
	n = json_object_array_length(l);
	if (!n || n > K8S_MAX_ZONE_HINTS)
		return 0;
	for (i = 0; i < n; i++) {
		const char *z =
			jmember_string(json_object_array_get_idx(l, i), "name");

		if (!z || !z[0] || strlen(z) >= sizeof(*e->zones))
			return 0;
	}
	e->zones = calloc(n, sizeof(*e->zones));
	if (!e->zones)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		snprintf(e->zones[i], sizeof(e->zones[i]), "%s",
			 jmember_string(json_object_array_get_idx(l, i),
					"name"));
	e->n_zones = n;
	return 0;
}

/* The endpoints of a slice: -EINVAL with why for a field of the wrong
 * type, -ENOMEM. */
static int endpoints_of(struct json_object *eps, struct k8s_slice *out,
			char *why, size_t whylen)
{
	size_t i, len;

	if (eps && !json_object_is_type(eps, json_type_array)) {
		snprintf(why, whylen, "endpoints is not a list");
		return -EINVAL;
	}
	len = eps ? json_object_array_length(eps) : 0;
	out->eps = calloc(len ? len : 1, sizeof(*out->eps));
	if (!out->eps)
		return -ENOMEM;
	for (i = 0; i < len && out->family; i++) {
		struct json_object *e = json_object_array_get_idx(eps, i);
		struct json_object *c = jmember(e, "conditions");
		struct json_object *addrs = jmember(e, "addresses"), *a0;
		struct k8s_endpoint *ke = &out->eps[out->n_eps];
		int ready, serving, terminating;
		const char *bad;
		char b[80];

		if (!e || !json_object_is_type(e, json_type_object) ||
		    (c && !json_object_is_type(c, json_type_object))) {
			snprintf(why, whylen,
				 "endpoints[%zu] is not an object "
				 "with conditions",
				 i);
			return -EINVAL;
		}
		ready = condition(c, "ready", true);
		serving = condition(c, "serving", ready > 0);
		terminating = condition(c, "terminating", false);
		if (ready < 0 || serving < 0 || terminating < 0) {
			snprintf(why, whylen,
				 "endpoints[%zu].conditions are "
				 "not true or false",
				 i);
			return -EINVAL;
		}
		if (addrs && !json_object_is_type(addrs, json_type_array)) {
			snprintf(why, whylen,
				 "endpoints[%zu].addresses is not "
				 "a list",
				 i);
			return -EINVAL;
		}
		/* "all assumed to be fungible and clients may choose to
		 * only use the first element" (EndpointSlice API) */
		a0 = addrs ? json_object_array_get_idx(addrs, 0) : NULL;
		if (!a0)
			continue;
		if (!json_object_is_type(a0, json_type_string)) {
			snprintf(why, whylen,
				 "endpoints[%zu].addresses[0] is "
				 "not a string",
				 i);
			return -EINVAL;
		}
		if (ip_of(json_object_get_string(a0), &ke->addr) ||
		    ke->addr.family != out->family)
			continue;
		bad = config_addr_unusable(&ke->addr);
		if (bad) {
			if (!out->bad_ep) {
				snprintf(why, whylen, "endpoint %s is %s",
					 shown(json_object_get_string(a0), b,
					       sizeof(b)),
					 bad);
				out->bad_ep = strdup(why);
				if (!out->bad_ep)
					return -ENOMEM;
			}
			continue;
		}
		if (ready)
			ke->state = LBD_CS_ACTIVE;
		else if (serving && terminating)
			ke->state = LBD_CS_DRAINING;
		else
			continue;
		bad = jmember_string(e, "nodeName");
		if (bad && dns_subdomain(bad) && !(ke->node_name = strdup(bad)))
			return -ENOMEM;
		if (zone_hints_of(jpath(e, "hints.forZones"), ke)) {
			free(ke->node_name);
			ke->node_name = NULL;
			return -ENOMEM;
		}
		out->n_eps++;
	}
	return 0;
}

int k8s_slice_parse(struct json_object *o, struct k8s_slice *out, char *err,
		    size_t errlen)
{
	struct json_object *labels = jpath(o, "metadata.labels");
	struct json_object *ann = jpath(o, "metadata.annotations");
	const char *at = jstring(o, "addressType");
	const char *w = jmember_string(ann, K8S_WEIGHT_ANNOTATION);
	char why[256];
	int r;

	memset(out, 0, sizeof(*out));
	if (key_of(o, "EndpointSlice", false, out->ns, sizeof(out->ns),
		   out->name, sizeof(out->name), err, errlen))
		return -EINVAL;
	/* not a Service's slice: kept (it may get the label), no backends */
	if (!copy(out->service, sizeof(out->service),
		  jmember_string(labels, K8S_SERVICE_NAME_LABEL)) ||
	    !dns_label(out->service))
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
	r = ports_of(jpath(o, "ports"), true, &out->ports, &out->n_ports, why,
		     sizeof(why));
	if (!r)
		r = endpoints_of(jpath(o, "endpoints"), out, why, sizeof(why));
	if (r == -EINVAL) {
		/* kept, with no endpoints: an older version of it must
		 * not serve on */
		while (out->n_eps) {
			free(out->eps[--out->n_eps].node_name);
			free(out->eps[out->n_eps].zones);
		}
		out->n_ports = 0;
		out->invalid = strdup(why);
		r = out->invalid ? 0 : -ENOMEM;
	}
	return r;
}

void k8s_slice_free(struct k8s_slice *s)
{
	size_t i;

	for (i = 0; s->eps && i < s->n_eps; i++) {
		free(s->eps[i].node_name);
		free(s->eps[i].zones);
	}
	free(s->ports);
	free(s->eps);
	free(s->invalid);
	free(s->bad_ep);
	s->ports = NULL;
	s->eps = NULL;
	s->invalid = s->bad_ep = NULL;
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
	o->vip_ranges = c->k8s.vip_ranges;
	o->n_vip_ranges = c->k8s.n_vip_ranges;
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
	size_t cap_svc, cap_be, cap_warn, cap_ref;
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

/* A refusal: once per Service and reason, as a warning. */
__attribute__((format(printf, 3, 4))) static void
refuse(struct tr *t, __u8 reason, const char *fmt, ...)
{
	struct k8s_set *s = t->out;
	struct k8s_refusal_line *r;
	char msg[512];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = s->n_refusals; i-- > 0;)
		if (!strcmp(s->refusals[i].msg, msg))
			return;
	r = grow(t, s->refusals, s->n_refusals, &t->cap_ref, sizeof(*r));
	if (!r)
		return;
	s->refusals = r;
	r[s->n_refusals].reason = reason;
	r[s->n_refusals].msg = strdup(msg);
	if (!r[s->n_refusals].msg) {
		t->err = -ENOMEM;
		return;
	}
	s->n_refusals++;
}

static int refusal_cmp(const void *a, const void *b)
{
	return strcmp(((const struct k8s_refusal_line *)a)->msg,
		      ((const struct k8s_refusal_line *)b)->msg);
}

/* Whether every VIP of ks lies in a kubernetes.vip_ranges prefix; else
 * the refusal is said. */
static bool vips_in_ranges(struct tr *t, const struct k8s_opts *o,
			   const struct k8s_service *ks)
{
	char a[INET6_ADDRSTRLEN + 8];
	size_t v, r;

	for (v = 0; v < ks->n_vips; v++) {
		for (r = 0; r < o->n_vip_ranges; r++)
			if (config_addr_in(&o->vip_ranges[r], &ks->vips[v]))
				break;
		if (r < o->n_vip_ranges)
			continue;
		config_addr_str(&ks->vips[v], a, sizeof(a));
		if (!o->n_vip_ranges)
			refuse(t, K8S_REFUSED_VIP_RANGE,
			       "Service %s/%s: VIP %s: kubernetes.vip_ranges "
			       "is not set, and no VIP of the cluster is "
			       "served without it: not served",
			       ks->ns, ks->name, a);
		else
			refuse(t, K8S_REFUSED_VIP_RANGE,
			       "Service %s/%s: VIP %s is outside "
			       "kubernetes.vip_ranges: not served",
			       ks->ns, ks->name, a);
		return false;
	}
	return true;
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

		if (sl->invalid)
			refuse(t, K8S_REFUSED_INVALID,
			       "Service %s/%s: EndpointSlice %s: %s: its "
			       "endpoints left out",
			       ks->ns, ks->name, sl->name, sl->invalid);
		if (sl->bad_ep)
			refuse(t, K8S_REFUSED_BACKEND_ADDRESS,
			       "Service %s/%s: EndpointSlice %s: %s: not a "
			       "backend, left out",
			       ks->ns, ks->name, sl->name, sl->bad_ep);
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
		/* no pointer before the array (k == 0): UBSan */
		struct lbd_conf_backend *kept = k > first ? &out->be[k - 1] :
							    NULL,
					*b = &out->be[i];

		if (kept && !be_cmp(kept, b)) {
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
		if (ks->refused) {
			refuse(&t, ks->refused, "Service %s/%s: %s: not served",
			       ks->ns, ks->name, ks->why ? ks->why : "?");
			continue;
		}
		if (!vips_in_ranges(&t, o, ks))
			continue;
		for (v = 0; v < ks->n_vips && !t.err; v++) {
			for (j = 0; j < ks->n_ports && !t.err; j++) {
				const struct k8s_port *sp = &ks->ports[j];
				struct lbd_conf_service *s;
				char a[INET6_ADDRSTRLEN], port[16];

				if (!sp->proto) {
					refuse(&t, K8S_REFUSED_PROTOCOL,
					       "Service %s/%s: port %u: SCTP "
					       "is not served (only TCP and "
					       "UDP)",
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
				/* slices may be NULL when there are none */
				backends_of(&t, o, ks, sp, s->vip.family,
					    last > first ? slices + first :
							   NULL,
					    last - first, s);
			}
		}
	}
	if (!t.err && out->n_warnings)
		qsort(out->warnings, out->n_warnings, sizeof(char *),
		      str_cmp);
	if (!t.err && out->n_refusals)
		qsort(out->refusals, out->n_refusals, sizeof(*out->refusals),
		      refusal_cmp);
	return t.err;
}

void k8s_set_free(struct k8s_set *s)
{
	size_t i;

	for (i = 0; i < s->n_warnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	for (i = 0; i < s->n_refusals; i++)
		free(s->refusals[i].msg);
	free(s->refusals);
	free(s->svc);
	free(s->be);
	memset(s, 0, sizeof(*s));
}

struct json_object *k8s_jpath(struct json_object *o, const char *path)
{
	return jpath(o, path);
}

int k8s_ip_parse(const char *s, struct lbd_conf_addr *a)
{
	return ip_of(s, a);
}

int k8s_ports_parse(struct json_object *l, bool slice, struct k8s_port **out,
		    size_t *n, char *why, size_t whylen)
{
	return ports_of(l, slice, out, n, why, whylen);
}

const char *k8s_shown(const char *s, char *buf, size_t len)
{
	return shown(s, buf, len);
}
