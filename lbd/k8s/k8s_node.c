// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Services and EndpointSlices to the node role's records (k8s_node.h).
 * Fields as the Kubernetes API reference has them: core/v1 ServiceSpec
 * (type, clusterIP, clusterIPs, externalIPs, ports[].nodePort,
 * sessionAffinity, sessionAffinityConfig.clientIP.timeoutSeconds,
 * internalTrafficPolicy, externalTrafficPolicy), ServiceStatus
 * (loadBalancer.ingress[].ip). The field checks are k8s_model.c's.
 */
#include "k8s_node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
	[K8S_NODE_CLUSTER_IP] = "ClusterIP",
	[K8S_NODE_NODE_PORT] = "NodePort",
	[K8S_NODE_LOAD_BALANCER] = "LoadBalancer",
	[K8S_NODE_EXTERNAL_NAME] = "ExternalName",
};

const char *k8s_node_type_name(__u8 type)
{
	return type <= K8S_NODE_EXTERNAL_NAME ? type_names[type] : "?";
}

static const char *const addr_kind_names[] = {
	[K8S_NODE_ADDR_CLUSTER_IP] = "ClusterIP",
	[K8S_NODE_ADDR_EXTERNAL_IP] = "externalIP",
	[K8S_NODE_ADDR_LB_INGRESS] = "LoadBalancer",
	[K8S_NODE_ADDR_NODE_PORT] = "NodePort",
};

const char *k8s_node_addr_kind_name(__u8 kind)
{
	return kind <= K8S_NODE_ADDR_NODE_PORT ? addr_kind_names[kind] : "?";
}

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A string field: its value, dflt when absent or null, NULL when it is
 * not a string. */
static const char *str_or(struct json_object *v, const char *dflt)
{
	if (!v)
		return dflt;
	return json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

static __u8 refuse(struct k8s_node_service *s, __u8 reason, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static __u8 refuse(struct k8s_node_service *s, __u8 reason, const char *fmt,
		   ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	s->refused = reason;
	s->why = strdup(why);
	return reason;
}

/* Whether a is one of l[0..n). */
static bool addr_in(const struct lbd_conf_addr *l, size_t n,
		    const struct lbd_conf_addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i].family == a->family &&
		    !memcmp(&l[i].addr, &a->addr, sizeof(a->addr)))
			return true;
	return false;
}

/* An address of the Service into a (max of them): the first problem
 * is the refusal. */
static __u8 add_addr(struct k8s_node_service *s, struct json_object *ip,
		     const char *where, struct lbd_conf_addr *a, size_t *n,
		     size_t max)
{
	struct lbd_conf_addr x;
	const char *bad;
	char b[80];

	if (!json_object_is_type(ip, json_type_string) ||
	    k8s_ip_parse(json_object_get_string(ip), &x))
		return refuse(s, K8S_REFUSED_INVALID,
			      "%s \"%s\" is not an IP address", where,
			      k8s_shown(json_object_get_string(ip), b,
					sizeof(b)));
	if (addr_in(a, *n, &x))
		return K8S_REFUSED_NONE;
	bad = config_addr_unusable(&x);
	if (bad)
		return refuse(s, K8S_REFUSED_VIP_ADDRESS, "%s %s is %s", where,
			      k8s_shown(json_object_get_string(ip), b,
					sizeof(b)),
			      bad);
	if (*n == max)
		return refuse(s, K8S_REFUSED_TOO_MANY_VIPS,
			      "more than %zu addresses in %s", max, where);
	a[(*n)++] = x;
	return K8S_REFUSED_NONE;
}

/* A list of address strings (or of objects with ip, for ingress). */
static __u8 add_list(struct k8s_node_service *s, struct json_object *l,
		     const char *where, bool ingress, struct lbd_conf_addr *a,
		     size_t *n, size_t max)
{
	size_t i;
	__u8 r = K8S_REFUSED_NONE;

	if (!l)
		return r;
	if (!json_object_is_type(l, json_type_array))
		return refuse(s, K8S_REFUSED_INVALID, "%s is not a list",
			      where);
	for (i = 0; i < json_object_array_length(l) && !r; i++) {
		struct json_object *e = json_object_array_get_idx(l, i);

		if (ingress) {
			if (!e || !json_object_is_type(e, json_type_object))
				return refuse(s, K8S_REFUSED_INVALID,
					      "%s[%zu] is not an object", where,
					      i);
			/* an entry may have only a hostname */
			e = member(e, "ip");
			if (!e)
				continue;
		}
		r = add_addr(s, e, where, a, n, max);
	}
	return r;
}

/* spec.externalIPs, first in external[]: the rest is ingress. */
static __u8 parse_external_ips(struct json_object *o,
			       struct k8s_node_service *s)
{
	__u8 r = add_list(s, k8s_jpath(o, "spec.externalIPs"),
			  "spec.externalIPs", false, s->external,
			  &s->n_external, K8S_MAX_VIPS);

	s->n_external_ips = s->n_external;
	return r;
}

static __u8 parse_type(struct json_object *o, struct k8s_node_service *s)
{
	const char *t = str_or(k8s_jpath(o, "spec.type"), "ClusterIP");
	char b[80];
	__u8 i;

	for (i = 0; t && i <= K8S_NODE_EXTERNAL_NAME; i++)
		if (!strcmp(t, type_names[i])) {
			s->type = i;
			return K8S_REFUSED_NONE;
		}
	return refuse(s, K8S_REFUSED_INVALID, "spec.type \"%s\" is not served",
		      t ? k8s_shown(t, b, sizeof(b)) : "(not a string)");
}

/* internal/externalTrafficPolicy: Cluster (the default) or Local. */
static __u8 parse_policy(struct json_object *o, struct k8s_node_service *s,
			 const char *field, bool *local)
{
	char path[64];
	const char *v;

	snprintf(path, sizeof(path), "spec.%s", field);
	v = str_or(k8s_jpath(o, path), "Cluster");
	/* "Global" is what externalTrafficPolicy was called before 1.24 */
	if (v && (!strcmp(v, "Cluster") || !strcmp(v, "Global"))) {
		*local = false;
		return K8S_REFUSED_NONE;
	}
	if (v && !strcmp(v, "Local")) {
		*local = true;
		return K8S_REFUSED_NONE;
	}
	return refuse(s, K8S_REFUSED_INVALID,
		      "spec.%s is not \"Cluster\" or \"Local\"", field);
}

/* The annotation lbd.io/forwarding: "snat", "geneve", or none. */
static __u8 parse_forwarding(struct json_object *o, struct k8s_node_service *s)
{
	struct json_object *ann = k8s_jpath(o, "metadata.annotations"), *v;
	const char *f;

	if (!ann || !json_object_is_type(ann, json_type_object) ||
	    !json_object_object_get_ex(ann, K8S_NODE_FORWARDING_ANNOTATION, &v))
		return K8S_REFUSED_NONE;
	f = str_or(v, NULL);
	if (f && !strcmp(f, "snat"))
		s->forwarding = K8S_NODE_FWD_SNAT;
	else if (f && !strcmp(f, "geneve"))
		s->forwarding = K8S_NODE_FWD_GENEVE;
	else
		return refuse(s, K8S_REFUSED_INVALID,
			      "metadata.annotations[\"%s\"] is not \"snat\" "
			      "or \"geneve\"",
			      K8S_NODE_FORWARDING_ANNOTATION);
	return K8S_REFUSED_NONE;
}

static __u8 parse_affinity(struct json_object *o, struct k8s_node_service *s)
{
	const char *v = str_or(k8s_jpath(o, "spec.sessionAffinity"), "None");
	struct json_object *t = k8s_jpath(
		o, "spec.sessionAffinityConfig.clientIP.timeoutSeconds");
	int64_t secs;

	if (!v || (strcmp(v, "None") && strcmp(v, "ClientIP")))
		return refuse(s, K8S_REFUSED_INVALID,
			      "spec.sessionAffinity is not \"None\" or "
			      "\"ClientIP\"");
	s->affinity = !strcmp(v, "ClientIP");
	s->affinity_timeout = K8S_NODE_AFFINITY_DEFAULT;
	if (!t)
		return K8S_REFUSED_NONE;
	secs = json_object_is_type(t, json_type_int) ?
		       json_object_get_int64(t) :
		       0;
	if (secs < 1 || secs > K8S_NODE_AFFINITY_MAX)
		return refuse(s, K8S_REFUSED_INVALID,
			      "spec.sessionAffinityConfig.clientIP."
			      "timeoutSeconds is not 1-%d",
			      K8S_NODE_AFFINITY_MAX);
	s->affinity_timeout = (__u32)secs;
	return K8S_REFUSED_NONE;
}

/* spec.healthCheckNodePort, which the API server allocates for a
 * LoadBalancer Service with externalTrafficPolicy Local (and only then:
 * elsewhere it is ignored, as kube-proxy ignores it). */
static __u8 parse_hc_node_port(struct json_object *o,
			       struct k8s_node_service *s)
{
	struct json_object *v = k8s_jpath(o, "spec.healthCheckNodePort");
	int64_t port;

	if (!v || s->type != K8S_NODE_LOAD_BALANCER || !s->etp_local)
		return K8S_REFUSED_NONE;
	port = json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
						      : 0;
	if (port < 1 || port > 65535)
		return refuse(s, K8S_REFUSED_INVALID,
			      "spec.healthCheckNodePort is not 1-65535");
	s->hc_node_port = (__u16)port;
	return K8S_REFUSED_NONE;
}

/* spec.healthCheckNodePort of a refused Service, read on its own (the
 * refusal may have stopped the parse before it): 0 unless the Service is
 * a LoadBalancer with externalTrafficPolicy Local and the port 1-65535,
 * as kube-proxy's NeedsHealthCheck has it. */
static __u16 hc_port_of_refused(struct json_object *o)
{
	const char *t = str_or(k8s_jpath(o, "spec.type"), "ClusterIP");
	const char *p =
		str_or(k8s_jpath(o, "spec.externalTrafficPolicy"), "Cluster");
	struct json_object *v = k8s_jpath(o, "spec.healthCheckNodePort");
	int64_t port;

	if (!t || strcmp(t, "LoadBalancer") || !p || strcmp(p, "Local") || !v ||
	    !json_object_is_type(v, json_type_int))
		return 0;
	port = json_object_get_int64(v);
	return port >= 1 && port <= 65535 ? (__u16)port : 0;
}

static __u8 parse_cluster_ips(struct json_object *o, struct k8s_node_service *s)
{
	struct json_object *l = k8s_jpath(o, "spec.clusterIPs");
	struct json_object *one = k8s_jpath(o, "spec.clusterIP");
	size_t i;

	/* clusterIPs, when set, starts with clusterIP; "None" is headless
	 * (no address, clients resolve the endpoints themselves) */
	if (!l && one) {
		if (json_object_is_type(one, json_type_string) &&
		    (!strcmp(json_object_get_string(one), "None") ||
		     !*json_object_get_string(one)))
			return K8S_REFUSED_NONE;
		return add_addr(s, one, "spec.clusterIP", s->cluster,
				&s->n_cluster, 2);
	}
	if (l && !json_object_is_type(l, json_type_array))
		return refuse(s, K8S_REFUSED_INVALID,
			      "spec.clusterIPs is not a list");
	for (i = 0; l && i < json_object_array_length(l); i++) {
		struct json_object *e = json_object_array_get_idx(l, i);
		__u8 r;

		if (e && json_object_is_type(e, json_type_string) &&
		    !strcmp(json_object_get_string(e), "None"))
			continue;
		r = add_addr(s, e, "spec.clusterIPs", s->cluster, &s->n_cluster,
			     2);
		if (r)
			return r;
	}
	if (s->n_cluster == 2 && s->cluster[0].family == s->cluster[1].family)
		return refuse(s, K8S_REFUSED_INVALID,
			      "spec.clusterIPs has two addresses of one "
			      "family");
	return K8S_REFUSED_NONE;
}

/* ports[].nodePort, beside what k8s_ports_parse read: the ports of a
 * Service are all kept, so index i is ports[i]. */
static __u8 parse_ports(struct json_object *o, struct k8s_node_service *s,
			int *err)
{
	struct json_object *l = k8s_jpath(o, "spec.ports");
	struct k8s_port *kp = NULL;
	char why[256];
	size_t i, n = 0;
	int r;

	r = k8s_ports_parse(l, false, &kp, &n, why, sizeof(why));
	if (r == -ENOMEM) {
		*err = r;
		free(kp);
		return K8S_REFUSED_NONE;
	}
	if (r) {
		free(kp);
		return refuse(s, K8S_REFUSED_INVALID, "%s", why);
	}
	s->ports = calloc(n ? n : 1, sizeof(*s->ports));
	if (!s->ports) {
		free(kp);
		*err = -ENOMEM;
		return K8S_REFUSED_NONE;
	}
	for (i = 0; i < n; i++) {
		struct json_object *np =
			member(json_object_array_get_idx(l, i), "nodePort");
		struct k8s_node_port *p = &s->ports[i];

		if (!kp[i].proto) {
			free(kp);
			return refuse(s, K8S_REFUSED_PROTOCOL,
				      "ports[%zu].protocol SCTP is not served",
				      i);
		}
		memcpy(p->name, kp[i].name, sizeof(p->name));
		p->port = kp[i].port;
		p->proto = kp[i].proto;
		if (np && (!json_object_is_type(np, json_type_int) ||
			   json_object_get_int64(np) < 1 ||
			   json_object_get_int64(np) > 65535)) {
			free(kp);
			return refuse(s, K8S_REFUSED_INVALID,
				      "ports[%zu].nodePort is not 1-65535", i);
		}
		/* a ClusterIP Service has no node port, whatever it says */
		if (np && (s->type == K8S_NODE_NODE_PORT ||
			   s->type == K8S_NODE_LOAD_BALANCER))
			p->node_port = (__u16)json_object_get_int64(np);
	}
	s->n_ports = n;
	free(kp);
	return K8S_REFUSED_NONE;
}

int k8s_node_service_parse(struct json_object *o, struct k8s_node_service **out)
{
	struct k8s_node_service *s = calloc(1, sizeof(*s));
	const char *created;
	int err = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	/* each step is skipped after a refusal: the first one is said */
	if (!parse_type(o, s) && s->type != K8S_NODE_EXTERNAL_NAME &&
	    !parse_cluster_ips(o, s) && !parse_external_ips(o, s) &&
	    !(s->type == K8S_NODE_LOAD_BALANCER &&
	      add_list(s, k8s_jpath(o, "status.loadBalancer.ingress"),
		       "status.loadBalancer.ingress", true, s->external,
		       &s->n_external, K8S_MAX_VIPS)) &&
	    !parse_policy(o, s, "internalTrafficPolicy", &s->itp_local) &&
	    !parse_policy(o, s, "externalTrafficPolicy", &s->etp_local) &&
	    !parse_hc_node_port(o, s) && !parse_affinity(o, s) &&
	    !parse_forwarding(o, s))
		parse_ports(o, s, &err);
	created = str_or(k8s_jpath(o, "metadata.creationTimestamp"), "");
	if (created && strlen(created) < sizeof(s->created))
		strcpy(s->created, created);
	if (err || (s->refused && !s->why)) {
		k8s_node_service_free(s);
		return -ENOMEM;
	}
	if (s->refused) {
		/* nothing of it is served but its health check port */
		s->n_cluster = s->n_external = s->n_ports = 0;
		s->hc_node_port = hc_port_of_refused(o);
	}
	*out = s;
	return 0;
}

void k8s_node_service_free(struct k8s_node_service *s)
{
	if (!s)
		return;
	free(s->why);
	free(s->ports);
	free(s);
}

/* -- translation -------------------------------------------------------- */

struct ntr {
	struct k8s_node_set *out;
	size_t cap_recs, cap_addrs, cap_eps, cap_ref;
	int err;
};

static void *grow(struct ntr *t, void *arr, size_t n, size_t *cap, size_t size)
{
	void *p;
	size_t nc;

	if (n < *cap)
		return arr;
	nc = *cap ? *cap * 2 : 64;
	p = realloc(arr, nc * size);
	if (!p) {
		t->err = -ENOMEM;
		return NULL;
	}
	*cap = nc;
	return p;
}

#define NTR_PUSH(t, field, count, cap)                                       \
	({                                                                   \
		void *_p = grow(t, (t)->out->field, (t)->out->count, &(cap), \
				sizeof(*(t)->out->field));                   \
		if (_p)                                                      \
			(t)->out->field = _p;                                \
		_p ? &(t)->out->field[(t)->out->count++] : NULL;             \
	})

static int slice_by_key(const void *a, const void *b)
{
	const struct k8s_slice *x = *(struct k8s_slice *const *)a;
	const struct k8s_slice *y = *(struct k8s_slice *const *)b;
	int c = strcmp(x->ns, y->ns);

	return c ? c : strcmp(x->service, y->service);
}

static bool is_local(const struct k8s_endpoint *e,
		     const struct k8s_node_opts *o)
{
	return e->node_name && o->node_name &&
	       !strcmp(e->node_name, o->node_name);
}

/* The port of slice s that serves Service port p for record r; 0: none
 * (another family, an invalid slice, no such port). */
static __u16 slice_port(const struct k8s_slice *s, const struct k8s_node_rec *r,
			const struct k8s_node_port *p)
{
	size_t j;

	if (s->family != r->family || s->invalid)
		return 0;
	for (j = 0; j < s->n_ports; j++)
		if (s->ports[j].proto == p->proto &&
		    !strcmp(s->ports[j].name, p->name))
			return s->ports[j].port;
	return 0;
}

static bool in_zone(const struct k8s_endpoint *e, const char *zone)
{
	size_t i;

	for (i = 0; i < e->n_zones; i++)
		if (!strcmp(e->zones[i], zone))
			return true;
	return false;
}

/* kube-proxy's canUseTopology (pkg/proxy/topology.go): every ready
 * endpoint has hints, and one of them names this zone. */
static bool use_hints(const struct k8s_node_rec *r,
		      const struct k8s_node_port *p,
		      struct k8s_slice *const *sl, size_t n,
		      const struct k8s_node_opts *o)
{
	bool named = false;
	size_t i, k;

	if (r->local_only || !o->zone || !o->zone[0])
		return false;
	for (i = 0; i < n; i++) {
		if (!slice_port(sl[i], r, p))
			continue;
		for (k = 0; k < sl[i]->n_eps; k++) {
			const struct k8s_endpoint *e = &sl[i]->eps[k];

			if (e->state != LBD_CS_ACTIVE)
				continue;
			if (!e->n_zones)
				return false;
			named = named || in_zone(e, o->zone);
		}
	}
	return named;
}

/* The endpoints of record r from the Service's slices sl[0..n). */
static void add_eps(struct ntr *t, struct k8s_node_rec *r,
		    const struct k8s_node_port *p, struct k8s_slice *const *sl,
		    size_t n, const struct k8s_node_opts *o)
{
	size_t i, k;

	r->first_ep = t->out->n_eps;
	r->zone_hints = use_hints(r, p, sl, n, o);
	for (i = 0; i < n && !t->err; i++) {
		const struct k8s_slice *s = sl[i];
		__u16 port = slice_port(s, r, p);

		if (!port)
			continue;
		for (k = 0; k < s->n_eps; k++) {
			const struct k8s_endpoint *e = &s->eps[k];
			bool local = is_local(e, o);
			struct k8s_node_ep *ne;

			if (r->local_only && !local)
				continue;
			/* a terminating endpoint of another zone is left
			 * out too: with hints in use a ready one of this
			 * zone exists, so it would take no new connection */
			if (r->zone_hints && !in_zone(e, o->zone))
				continue;
			ne = NTR_PUSH(t, eps, n_eps, t->cap_eps);
			if (!ne)
				return;
			memset(ne, 0, sizeof(*ne));
			ne->addr = e->addr;
			ne->port = port;
			ne->weight = (__u16)s->weight;
			ne->ready = e->state == LBD_CS_ACTIVE;
			ne->serving = true;
			ne->terminating = e->state == LBD_CS_DRAINING;
			ne->local = local;
		}
	}
	r->n_eps = t->out->n_eps - r->first_ep;
}

static void add_rec_addr(struct ntr *t, const struct lbd_conf_addr *a,
			 __u16 port, __u8 kind)
{
	struct k8s_node_addr *na = NTR_PUSH(t, addrs, n_addrs, t->cap_addrs);

	if (!na)
		return;
	na->addr = *a;
	na->port = port;
	na->kind = kind;
}

/* The record of one port, family and scope, when it has an address. */
static void add_rec(struct ntr *t, const struct k8s_service *ks,
		    const struct k8s_node_port *p, __u8 family, bool external,
		    struct k8s_slice *const *sl, size_t n_sl,
		    const struct k8s_node_opts *o)
{
	const struct k8s_node_service *s = ks->node;
	struct k8s_node_rec *r;
	size_t i, first = t->out->n_addrs;

	if (!external) {
		for (i = 0; i < s->n_cluster; i++)
			if (s->cluster[i].family == family)
				add_rec_addr(t, &s->cluster[i], p->port,
					     K8S_NODE_ADDR_CLUSTER_IP);
	} else {
		for (i = 0; i < s->n_external; i++)
			if (s->external[i].family == family)
				add_rec_addr(t, &s->external[i], p->port,
					     i < s->n_external_ips ?
						     K8S_NODE_ADDR_EXTERNAL_IP :
						     K8S_NODE_ADDR_LB_INGRESS);
		for (i = 0; p->node_port && i < o->n_addrs; i++)
			if (o->addrs[i].family == family)
				add_rec_addr(t, &o->addrs[i], p->node_port,
					     K8S_NODE_ADDR_NODE_PORT);
	}
	if (t->err || t->out->n_addrs == first)
		return;
	r = NTR_PUSH(t, recs, n_recs, t->cap_recs);
	if (!r)
		return;
	memset(r, 0, sizeof(*r));
	memcpy(r->ns, ks->ns, sizeof(r->ns));
	memcpy(r->name, ks->name, sizeof(r->name));
	memcpy(r->port_name, p->name, sizeof(r->port_name));
	r->port = p->port;
	r->node_port = external ? p->node_port : 0;
	r->hc_node_port = external ? s->hc_node_port : 0;
	r->type = s->type;
	r->proto = p->proto;
	r->family = family;
	r->external = external;
	r->local_only = external ? s->etp_local : s->itp_local;
	r->affinity = s->affinity;
	r->affinity_timeout = s->affinity_timeout;
	r->forwarding = s->forwarding;
	r->first_addr = first;
	r->n_addrs = t->out->n_addrs - first;
	add_eps(t, r, p, sl, n_sl, o);
}

static int refusal_cmp(const void *a, const void *b)
{
	return strcmp(((const struct k8s_refusal_line *)a)->msg,
		      ((const struct k8s_refusal_line *)b)->msg);
}

/* -- address conflicts (k8s_node.h) ------------------------------------ */

/* What claims an address, port and protocol, strongest first. */
enum claim_class {
	CLAIM_CLUSTER_IP,
	CLAIM_EXTERNAL, /* externalIPs, LoadBalancer ingress */
	CLAIM_NODE_PORT,
};

struct claim {
	struct lbd_conf_addr addr;
	__u16 port;
	__u8 proto, cls;
	size_t svc; /* index into the services */
};

/* Why a Service is not served although it parsed: a conflict it lost,
 * or an externalIP of this node. */
struct lost {
	__u8 reason; /* enum k8s_refusal; 0: served */
	char why[320];
};

struct claims {
	struct claim *v;
	size_t n, cap;
	int err;
};

static void claim_add(struct claims *c, const struct lbd_conf_addr *a,
		      __u16 port, __u8 proto, __u8 cls, size_t svc)
{
	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 256;
		struct claim *p = realloc(c->v, nc * sizeof(*p));

		if (!p) {
			c->err = -ENOMEM;
			return;
		}
		c->v = p;
		c->cap = nc;
	}
	c->v[c->n++] = (struct claim){ .addr = *a, .port = port,
				       .proto = proto, .cls = cls,
				       .svc = svc };
}

static int created_cmp(const char *x, const char *y)
{
	/* unknown ages sort as the newest */
	if (!*x || !*y)
		return (!*x) - (!*y);
	return strcmp(x, y);
}

static int claim_key_cmp(const struct claim *x, const struct claim *y)
{
	int c = (int)x->addr.family - (int)y->addr.family;

	if (!c)
		c = memcmp(&x->addr.addr, &y->addr.addr, sizeof(x->addr.addr));
	if (!c)
		c = (int)x->port - (int)y->port;
	if (!c)
		c = (int)x->proto - (int)y->proto;
	return c;
}

static int claim_cmp(const void *a, const void *b, void *arg)
{
	struct k8s_service *const *svcs = arg;
	const struct claim *x = a, *y = b;
	int c = claim_key_cmp(x, y);

	if (!c)
		c = (int)x->cls - (int)y->cls;
	if (!c)
		c = created_cmp(svcs[x->svc]->node->created,
				svcs[y->svc]->node->created);
	if (!c) /* services come sorted by namespace and name */
		c = (x->svc > y->svc) - (x->svc < y->svc);
	return c;
}

static void claim_service(struct claims *c, const struct k8s_node_service *s,
			  size_t svc, const struct k8s_node_opts *o)
{
	size_t j, k;

	for (j = 0; j < s->n_ports; j++) {
		const struct k8s_node_port *p = &s->ports[j];

		for (k = 0; k < s->n_cluster; k++)
			claim_add(c, &s->cluster[k], p->port, p->proto,
				  CLAIM_CLUSTER_IP, svc);
		for (k = 0; k < s->n_external; k++)
			claim_add(c, &s->external[k], p->port, p->proto,
				  CLAIM_EXTERNAL, svc);
		for (k = 0; p->node_port && k < o->n_addrs; k++)
			claim_add(c, &o->addrs[k], p->node_port, p->proto,
				  CLAIM_NODE_PORT, svc);
	}
}

/*
 * Marks in lost[] the Services that are not served for the rules of
 * k8s_node.h: an externalIP that is this node's, or a claim that another
 * Service holds. 0 or -ENOMEM.
 */
static int find_lost(struct k8s_service *const *svcs, size_t n_svcs,
		     const struct k8s_node_opts *o, struct lost *lost)
{
	struct claims c = { 0 };
	size_t i, k, run;

	for (i = 0; i < n_svcs && !c.err; i++) {
		const struct k8s_node_service *s = svcs[i]->node;

		if (!s || s->refused)
			continue;
		for (k = 0; k < s->n_external_ips; k++)
			if (addr_in(o->addrs, o->n_addrs, &s->external[k])) {
				char a[LBD_CONF_ADDR_STRLEN];

				config_addr_str(&s->external[k], a, sizeof(a));
				lost[i].reason = K8S_REFUSED_HOST_ADDRESS;
				snprintf(lost[i].why, sizeof(lost[i].why),
					 "spec.externalIPs %s is an address "
					 "of this node",
					 a);
				break;
			}
		if (!lost[i].reason)
			claim_service(&c, s, i, o);
	}
	if (c.err)
		goto out;
	if (c.n) /* (qsort's base may not be NULL) */
		qsort_r(c.v, c.n, sizeof(*c.v), claim_cmp, (void *)svcs);
	for (i = 0; i < c.n; i = run) {
		const struct claim *w = &c.v[i];

		for (run = i + 1; run < c.n && !claim_key_cmp(w, &c.v[run]);
		     run++) {
			const struct claim *l = &c.v[run];
			char a[LBD_CONF_ADDR_STRLEN];

			if (l->svc == w->svc || lost[l->svc].reason)
				continue;
			config_addr_str(&l->addr, a, sizeof(a));
			lost[l->svc].reason = K8S_REFUSED_ADDRESS_CONFLICT;
			snprintf(lost[l->svc].why, sizeof(lost[l->svc].why),
				 "%s%s%s:%u/%s is Service %s/%s's",
				 l->addr.family == LBD_AF_INET6 ? "[" : "", a,
				 l->addr.family == LBD_AF_INET6 ? "]" : "",
				 l->port, l->proto == IPPROTO_UDP ? "UDP" : "TCP",
				 svcs[w->svc]->ns, svcs[w->svc]->name);
		}
	}
out:
	free(c.v);
	return c.err;
}

/* -- health check ports (k8s_node.h) ------------------------------------ */

/* A Service's claim on its healthCheckNodePort. */
struct hc_claim {
	__u16 port;
	bool served;
	size_t svc; /* index into the services */
	size_t first_rec, n_recs; /* its records in the set */
	bool has_ext; /* one of them is external (carries the port) */
};

static int hc_claim_cmp(const void *a, const void *b, void *arg)
{
	struct k8s_service *const *svcs = arg;
	const struct hc_claim *x = a, *y = b;
	int c = (int)x->port - (int)y->port;

	if (!c)
		c = (int)y->served - (int)x->served;
	if (!c)
		c = created_cmp(svcs[x->svc]->node->created,
				svcs[y->svc]->node->created);
	if (!c)
		c = (x->svc > y->svc) - (x->svc < y->svc);
	return c;
}

static int u16_cmp(const void *a, const void *b)
{
	return (int)*(const __u16 *)a - (int)*(const __u16 *)b;
}

/*
 * Gives each healthCheckNodePort of cl[0..n) to one Service (k8s_node.h):
 * the winner's external records keep it, or it goes to out->hc_only when
 * the Service has none; a loser's records say 0. tcp_np[0..n_np) are the
 * served Services' TCP node ports. 0 or -ENOMEM.
 */
static int hc_resolve(struct k8s_service *const *svcs, struct hc_claim *cl,
		      size_t n, __u16 *tcp_np, size_t n_np,
		      struct k8s_node_set *out)
{
	size_t i, k, m = 0;

	if (!n)
		return 0;
	qsort_r(cl, n, sizeof(*cl), hc_claim_cmp, (void *)svcs);
	if (n_np)
		qsort(tcp_np, n_np, sizeof(*tcp_np), u16_cmp);
	out->hc_only = calloc(n, sizeof(*out->hc_only));
	if (!out->hc_only)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct k8s_service *ks = svcs[cl[i].svc];
		bool wins = (!i || cl[i - 1].port != cl[i].port) &&
			    !(n_np && bsearch(&cl[i].port, tcp_np, n_np,
					      sizeof(*tcp_np), u16_cmp));

		if (wins && !cl[i].has_ext) {
			struct k8s_node_hc_only *h = &out->hc_only[m++];

			memcpy(h->ns, ks->ns, sizeof(h->ns));
			memcpy(h->name, ks->name, sizeof(h->name));
			h->port = cl[i].port;
		}
		for (k = 0; !wins && k < cl[i].n_recs; k++)
			out->recs[cl[i].first_rec + k].hc_node_port = 0;
	}
	out->n_hc_only = m;
	return 0;
}

int k8s_node_translate(struct k8s_service *const *svcs, size_t n_svcs,
		       struct k8s_slice *const *slices, size_t n_slices,
		       const struct k8s_node_opts *o, struct k8s_node_set *out)
{
	static const __u8 families[] = { LBD_AF_INET, LBD_AF_INET6 };
	struct ntr t = { .out = out };
	struct k8s_slice **sl;
	struct lost *lost;
	struct hc_claim *hc;
	__u16 *tcp_np = NULL;
	size_t i, j, f, lo = 0, n_hc = 0, n_np = 0, cap_np = 0;

	memset(out, 0, sizeof(*out));
	sl = malloc((n_slices ? n_slices : 1) * sizeof(*sl));
	lost = calloc(n_svcs ? n_svcs : 1, sizeof(*lost));
	hc = calloc(n_svcs ? n_svcs : 1, sizeof(*hc));
	if (!sl || !lost || !hc || find_lost(svcs, n_svcs, o, lost)) {
		free(sl);
		free(lost);
		free(hc);
		return -ENOMEM;
	}
	if (n_slices)
		memcpy(sl, slices, n_slices * sizeof(*sl));
	qsort(sl, n_slices, sizeof(*sl), slice_by_key);
	for (i = 0; i < n_svcs && !t.err; i++) {
		const struct k8s_service *ks = svcs[i];
		const struct k8s_node_service *s = ks->node;
		size_t hi;

		if (!s)
			continue;
		if (s->hc_node_port)
			hc[n_hc++] = (struct hc_claim){
				.port = s->hc_node_port,
				.served = !s->refused && !lost[i].reason,
				.svc = i,
				.first_rec = out->n_recs,
			};
		if (s->refused || lost[i].reason) {
			struct k8s_refusal_line *l =
				NTR_PUSH(&t, refusals, n_refusals, t.cap_ref);

			if (!l)
				break;
			l->reason = s->refused ? s->refused : lost[i].reason;
			if (asprintf(&l->msg, "Service %s/%s: %s", ks->ns,
				     ks->name,
				     s->refused ? s->why : lost[i].why) < 0) {
				l->msg = NULL;
				out->n_refusals--;
				t.err = -ENOMEM;
			}
			continue;
		}
		/* the slices of this Service: services come sorted, so lo
		 * only moves on */
		while (lo < n_slices &&
		       (strcmp(sl[lo]->ns, ks->ns) < 0 ||
			(!strcmp(sl[lo]->ns, ks->ns) &&
			 strcmp(sl[lo]->service, ks->name) < 0)))
			lo++;
		for (hi = lo; hi < n_slices && !strcmp(sl[hi]->ns, ks->ns) &&
			      !strcmp(sl[hi]->service, ks->name);
		     hi++)
			;
		for (j = 0; j < s->n_ports; j++)
			for (f = 0; f < 2; f++) {
				add_rec(&t, ks, &s->ports[j], families[f],
					false, sl + lo, hi - lo, o);
				add_rec(&t, ks, &s->ports[j], families[f], true,
					sl + lo, hi - lo, o);
			}
		for (j = 0; j < s->n_ports && !t.err; j++) {
			__u16 *np;

			if (!s->ports[j].node_port ||
			    s->ports[j].proto != IPPROTO_TCP)
				continue;
			np = grow(&t, tcp_np, n_np, &cap_np, sizeof(*np));
			if (np) {
				tcp_np = np;
				tcp_np[n_np++] = s->ports[j].node_port;
			}
		}
		if (s->hc_node_port) {
			struct hc_claim *c = &hc[n_hc - 1];

			c->n_recs = out->n_recs - c->first_rec;
			for (j = 0; j < c->n_recs; j++)
				c->has_ext |=
					out->recs[c->first_rec + j].external;
		}
	}
	if (!t.err)
		t.err = hc_resolve(svcs, hc, n_hc, tcp_np, n_np, out);
	free(sl);
	free(lost);
	free(hc);
	free(tcp_np);
	if (!t.err && out->n_refusals)
		qsort(out->refusals, out->n_refusals, sizeof(*out->refusals),
		      refusal_cmp);
	return t.err;
}

void k8s_node_set_free(struct k8s_node_set *s)
{
	size_t i;

	for (i = 0; i < s->n_refusals; i++)
		free(s->refusals[i].msg);
	free(s->refusals);
	free(s->hc_only);
	free(s->recs);
	free(s->addrs);
	free(s->eps);
	memset(s, 0, sizeof(*s));
}

void k8s_node_rec_key(const struct k8s_node_rec *r, char *buf, size_t len)
{
	char port[8];

	snprintf(port, sizeof(port), "%u", r->port);
	snprintf(buf, len, "%s/%s:%s/%s/%s/%s", r->ns, r->name,
		 r->port_name[0] ? r->port_name : port,
		 r->proto == IPPROTO_UDP ? "udp" : "tcp",
		 r->family == LBD_AF_INET6 ? "ipv6" : "ipv4",
		 r->external ? "external" : "internal");
}

/* "addr:port", "[addr6]:port" */
static void hostport(const struct lbd_conf_addr *a, __u16 port, char *buf,
		     size_t len)
{
	char s[INET6_ADDRSTRLEN] = "?";
	bool v6 = a->family == LBD_AF_INET6;

	inet_ntop(v6 ? AF_INET6 : AF_INET, &a->addr, s, sizeof(s));
	snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", s, port);
}

void k8s_node_rec_json(const struct k8s_node_set *s,
		       const struct k8s_node_rec *r, bool applied,
		       struct json_object *out)
{
	struct json_object *addrs = json_object_new_array();
	struct json_object *eps = json_object_new_array();
	char buf[sizeof(r->ns) + sizeof(r->name) + 1];
	size_t i, ready = 0, local = 0;

#define jadd(o, k, v) json_object_object_add(o, k, v)
#define jstr(v) json_object_new_string(v)
#define jint(v) json_object_new_int64((int64_t)(v))
#define jbool(v) json_object_new_boolean(v)
	snprintf(buf, sizeof(buf), "%s/%s", r->ns, r->name);
	jadd(out, "service", jstr(buf));
	jadd(out, "port_name", jstr(r->port_name));
	jadd(out, "port", jint(r->port));
	jadd(out, "protocol", jstr(r->proto == IPPROTO_UDP ? "udp" : "tcp"));
	jadd(out, "family", jstr(r->family == LBD_AF_INET6 ? "ipv6" : "ipv4"));
	jadd(out, "type", jstr(k8s_node_type_name(r->type)));
	jadd(out, "scope", jstr(r->external ? "external" : "internal"));
	jadd(out, "traffic_policy", jstr(r->local_only ? "Local" : "Cluster"));
	jadd(out, "node_port", jint(r->node_port));
	jadd(out, "health_check_node_port", jint(r->hc_node_port));
	jadd(out, "affinity", jstr(r->affinity ? "ClientIP" : "None"));
	jadd(out, "affinity_timeout_s", jint(r->affinity_timeout));
	jadd(out, "zone_hints", jbool(r->zone_hints));
	jadd(out, "applied", jbool(applied));
	for (i = 0; i < r->n_addrs; i++) {
		const struct k8s_node_addr *a = &s->addrs[r->first_addr + i];
		struct json_object *o = json_object_new_object();

		hostport(&a->addr, a->port, buf, sizeof(buf));
		jadd(o, "address", jstr(buf));
		jadd(o, "kind", jstr(k8s_node_addr_kind_name(a->kind)));
		json_object_array_add(addrs, o);
	}
	jadd(out, "addresses", addrs);
	for (i = 0; i < r->n_eps; i++) {
		const struct k8s_node_ep *e = &s->eps[r->first_ep + i];
		struct json_object *o = json_object_new_object();

		hostport(&e->addr, e->port, buf, sizeof(buf));
		jadd(o, "endpoint", jstr(buf));
		jadd(o, "ready", jbool(e->ready));
		jadd(o, "serving", jbool(e->serving));
		jadd(o, "terminating", jbool(e->terminating));
		jadd(o, "local", jbool(e->local));
		jadd(o, "weight", jint(e->weight));
		json_object_array_add(eps, o);
		ready += e->ready;
		local += e->local;
	}
	jadd(out, "endpoints", eps);
	jadd(out, "ready_endpoints", jint(ready));
	jadd(out, "local_endpoints", jint(local));
#undef jadd
#undef jstr
#undef jint
#undef jbool
}
