/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kubernetes objects as lbd needs them, and their translation into lbd
 * services: pure functions, no I/O (k8s.c fetches and caches the
 * objects, sources.c merges the result with the config file's services).
 *
 * What is followed: Services of type LoadBalancer whose
 * spec.loadBalancerClass is the configured class. Their VIPs are
 * status.loadBalancer.ingress[].ip, or spec.loadBalancerIP while the
 * status has none (lbd allocates no addresses and writes no status).
 * Each VIP and TCP/UDP port becomes one lbd service; its backends are the
 * endpoints of every EndpointSlice labelled kubernetes.io/service-name
 * with the Service's name, of the VIP's address family, on the slice port
 * of the same name and protocol.
 *
 * Endpoint conditions (discovery.k8s.io/v1 EndpointConditions: a missing
 * ready means ready, a missing serving means the value of ready, a
 * missing terminating means not terminating):
 *   ready                  -> active
 *   serving && terminating -> draining (its flows finish, no new ones)
 *   otherwise              -> not a backend
 * Weight: the EndpointSlice annotation lbd.io/weight (0-65535) for all of
 * the slice's endpoints; 1 without it.
 *
 * Every field read is checked for its type and range (any namespace's
 * user writes a Service): a namespace must be a DNS label, a name a DNS
 * subdomain (a Service's a DNS label), a port an integer 1-65535, a
 * protocol the string "TCP" or "UDP" (SCTP is refused as such). A
 * followed Service with anything else, more than K8S_MAX_VIPS VIPs, or a
 * VIP that is no unicast address (config_addr_unusable) is refused whole,
 * as is one with a VIP outside kubernetes.vip_ranges; an endpoint whose
 * address cannot be a backend is left out. Each refusal is one line per
 * Service and reason (k8s_set.refusals).
 */
#ifndef LBD_K8S_MODEL_H
#define LBD_K8S_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include <linux/types.h>

#include "config.h"

#define K8S_WEIGHT_ANNOTATION "lbd.io/weight"
#define K8S_SERVICE_NAME_LABEL "kubernetes.io/service-name"
/* Addresses of one Service lbd serves (dual-stack has two); a Service
 * with more is refused, not cut short. */
#define K8S_MAX_VIPS 8
/* An endpoint's hints.forZones: the EndpointSlice API allows 8. */
#define K8S_MAX_ZONE_HINTS 8

/* Why the cluster's services (or parts of them) are refused: the reason
 * label of lbd_kubernetes_refusals_total. */
#define K8S_REFUSALS(X)                                   \
	X(K8S_REFUSED_INVALID, "invalid")                 \
	X(K8S_REFUSED_TOO_MANY_VIPS, "too_many_vips")     \
	X(K8S_REFUSED_VIP_ADDRESS, "vip_address")         \
	X(K8S_REFUSED_VIP_RANGE, "vip_range")             \
	X(K8S_REFUSED_HOST_ADDRESS, "host_address")       \
	X(K8S_REFUSED_BACKEND_ADDRESS, "backend_address") \
	X(K8S_REFUSED_PROTOCOL, "protocol")               \
	X(K8S_REFUSED_ADDRESS_CONFLICT, "address_conflict")

#define K8S_REFUSAL_ENUM(e, name) e,
enum k8s_refusal {
	K8S_REFUSED_NONE,
	K8S_REFUSALS(K8S_REFUSAL_ENUM) K8S_REFUSALS_N
};
#undef K8S_REFUSAL_ENUM

/* The reason label of r ("invalid", ...). */
const char *k8s_refusal_name(enum k8s_refusal r);

/* A port of a Service or an EndpointSlice. */
struct k8s_port {
	char name[64]; /* "" for the single unnamed port */
	__u16 port;
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP; 0 for others (SCTP) */
};

struct k8s_node_service;

struct k8s_service {
	char ns[64];
	char name[64];
	bool followed; /* type LoadBalancer of our class */
	/* role node: what k8s_node_service_parse read (k8s_node.h), freed
	 * with the Service */
	struct k8s_node_service *node;
	__u8 refused; /* enum k8s_refusal: a followed Service not served */
	char *why; /* with refused: what is wrong */
	struct lbd_conf_addr vips[K8S_MAX_VIPS];
	size_t n_vips;
	struct k8s_port *ports;
	size_t n_ports;
};

struct k8s_endpoint {
	struct lbd_conf_addr addr;
	enum lbd_conf_state state; /* LBD_CS_ACTIVE or LBD_CS_DRAINING */
	/* its nodeName when that is a DNS subdomain, else NULL (the node
	 * role's traffic policies Local) */
	char *node_name;
	/* hints.forZones[].name (the node role's topology hints); none
	 * when absent or not a list of 1 to K8S_MAX_ZONE_HINTS names of
	 * 1-63 characters */
	char (*zones)[64];
	size_t n_zones;
};

struct k8s_slice {
	char ns[64];
	char name[254];
	char service[64]; /* its kubernetes.io/service-name label */
	__u8 family; /* LBD_AF_*; 0 for FQDN slices (not used) */
	__u32 weight;
	bool bad_weight; /* the annotation was there but no weight */
	struct k8s_port *ports;
	size_t n_ports;
	struct k8s_endpoint *eps; /* only those that are backends */
	size_t n_eps;
	char *invalid; /* a field of the wrong type: no endpoints used */
	char *bad_ep; /* the first endpoint left out for its address */
};

/*
 * Reads a Service; lb_class is the class to follow. 0, or -EINVAL with
 * the reason in err (an object without namespace or name).
 */
int k8s_service_parse(struct json_object *o, const char *lb_class,
		      struct k8s_service *out, char *err, size_t errlen);
void k8s_service_free(struct k8s_service *s);

/* Reads an EndpointSlice; the same convention. */
int k8s_slice_parse(struct json_object *o, struct k8s_slice *out, char *err,
		    size_t errlen);
void k8s_slice_free(struct k8s_slice *s);

/* An object's metadata.namespace and metadata.name (DELETED events carry
 * the last state; only its key matters). 0 or -EINVAL. */
int k8s_object_key(struct json_object *o, char *ns, size_t nslen, char *name,
		   size_t namelen);

/* Orders for k8s_translate's inputs: services by namespace and name,
 * slices by namespace, service label and name. */
int k8s_service_cmp(const void *a, const void *b); /* on k8s_service ** */
int k8s_slice_cmp(const void *a, const void *b); /* on k8s_slice ** */

/* What the datapath can do with the backends of a service. */
struct k8s_opts {
	__u8 fwd; /* enum lbd_fwd: ipip, geneve or snat */
	bool flow_backends; /* kubernetes.flow_state = "backends" */
	/* kubernetes.vip_ranges: VIPs elsewhere are refused */
	const struct lbd_conf_addr *vip_ranges;
	size_t n_vip_ranges;
	bool encap4, encap6; /* datapath.encap_source_v4/v6 given */
	bool snat4, snat6; /* a SNAT source of that family */
};

struct k8s_refusal_line {
	__u8 reason; /* enum k8s_refusal */
	char *msg;
};

/* lbd services of the followed Services, as a config holds them. */
struct k8s_set {
	struct lbd_conf_service *svc; /* in Service order */
	size_t n_svc;
	struct lbd_conf_backend *be; /* svc[i].first_backend indexes here */
	size_t n_be;
	/* endpoints that cannot be backends, one line per Service and
	 * reason, sorted (for the log: only new ones are logged) */
	char **warnings;
	size_t n_warnings;
	/* what is refused, one line per Service and reason, sorted by
	 * line */
	struct k8s_refusal_line *refusals;
	size_t n_refusals;
};

/*
 * Translates sorted services and slices (k8s_service_cmp,
 * k8s_slice_cmp) into out. 0 or -ENOMEM; out is released with
 * k8s_set_free either way.
 */
int k8s_translate(struct k8s_service *const *svcs, size_t n_svcs,
		  struct k8s_slice *const *slices, size_t n_slices,
		  const struct k8s_opts *o, struct k8s_set *out);
void k8s_set_free(struct k8s_set *s);

/* The k8s_opts a config's datapath and kubernetes settings give. */
void k8s_opts_of(const struct lbd_config *c, struct k8s_opts *o);

/* Gives the set's services of the check's protocol, and their backends,
 * c's kubernetes.health (an index into c->healths: set again for every
 * config the set is applied with). */
void k8s_set_health(struct k8s_set *set, const struct lbd_config *c);

/* The checks above, for the node role's reading of Services
 * (k8s_node.c): o's member at a dotted path; an IP address; a ports
 * list (as ports_of); a string from the API made fit for the log. */
struct json_object *k8s_jpath(struct json_object *o, const char *path);
int k8s_ip_parse(const char *s, struct lbd_conf_addr *a);
int k8s_ports_parse(struct json_object *l, bool slice, struct k8s_port **out,
		    size_t *n, char *why, size_t whylen);
const char *k8s_shown(const char *s, char *buf, size_t len);

#endif /* LBD_K8S_MODEL_H */
