/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node role's view of the cluster: every Service (ClusterIP,
 * NodePort, LoadBalancer; ExternalName and headless Services have no
 * address to serve) and its EndpointSlices, translated into records that
 * the socket programs' maps take (lbd/node.c writes them with
 * node_service_set and node_backends_set). Pure functions, no I/O.
 *
 * A record is one Service port, of one address family, for one scope:
 *   internal  the ClusterIPs of that family, with the Service port;
 *             endpoints: all, or with internalTrafficPolicy Local only
 *             those whose nodeName is this node
 *   external  the externalIPs, status.loadBalancer.ingress[].ip and, for
 *             a NodePort, this node's addresses with the node port;
 *             endpoints: all, or only local ones with
 *             externalTrafficPolicy Local
 * so that the two policies can differ. Dual-stack Services have a record
 * per family; an endpoint serves the records of its slice's family.
 *
 * Endpoints: the slices labelled kubernetes.io/service-name with the
 * Service's name, in its namespace, on the slice port of the Service
 * port's name and protocol (a named targetPort is resolved by the slice
 * controller, per slice: endpoints of one Service may have different
 * ports). Conditions are passed on as k8s_model reads them (ready; or
 * serving and terminating); node_backends_set makes the choice.
 *
 * Topology hints (hints.forZones), as kube-proxy's topology.go uses them,
 * on records whose traffic policy is Cluster when the node's zone is
 * known: only when every ready endpoint of the record has hints and one
 * of them names this zone, and then only the endpoints that name it;
 * otherwise the hints are ignored.
 *
 * Whatever lbd cannot serve is refused for the whole Service (never half
 * applied), with one line per Service and reason: fields of the wrong
 * type or value (invalid), SCTP ports (protocol), addresses that cannot
 * be a Service's (vip_address), more than K8S_MAX_VIPS external
 * addresses (too_many_vips), an externalIP that is this node's address
 * (host_address: a tenant would take the port from the node's own
 * daemons), an address, port and protocol another Service holds
 * (address_conflict). Conflicts are decided without state, the same
 * way on every node and at every sync: a ClusterIP beats an external
 * address (externalIPs and LoadBalancer ingress), which beats a node
 * address with a NodePort; between two of a kind the older Service
 * (creationTimestamp, then namespace/name) keeps it. An externalIP is
 * written by whoever may edit the Service; without this, one tenant's
 * Service could take another's ClusterIP (CVE-2020-8554).
 *
 * A healthCheckNodePort is one Service's too, decided the same way: a
 * port that a served Service's TCP node port is, is that Service's (its
 * traffic goes to the Service, not to the health check); between two
 * Services naming one port, a served one beats a refused one, then the
 * older keeps it. The port of a loser is not served (its records say
 * 0); the API server allocates each port once, so only a Service
 * written around that allocator (or a tenant naming another's port)
 * loses.
 */
#ifndef LBD_K8S_NODE_H
#define LBD_K8S_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>
#include <linux/types.h>

#include "config.h"
#include "k8s_model.h"

/* How the NIC path sends the Service's flows to other nodes' endpoints
 * ("snat" or "geneve"); without it node_role.forwarding decides. */
#define K8S_NODE_FORWARDING_ANNOTATION "lbd.io/forwarding"

enum k8s_node_fwd {
	K8S_NODE_FWD_DEFAULT, /* no annotation: node_role.forwarding */
	K8S_NODE_FWD_SNAT,
	K8S_NODE_FWD_GENEVE,
};

/* kube-proxy's default for sessionAffinityConfig.clientIP.timeoutSeconds */
#define K8S_NODE_AFFINITY_DEFAULT 10800
#define K8S_NODE_AFFINITY_MAX 86400

enum k8s_node_type {
	K8S_NODE_CLUSTER_IP,
	K8S_NODE_NODE_PORT,
	K8S_NODE_LOAD_BALANCER,
	K8S_NODE_EXTERNAL_NAME,
};

/* "ClusterIP", "NodePort", "LoadBalancer", "ExternalName". */
const char *k8s_node_type_name(__u8 type);

struct k8s_node_port {
	char name[64];
	__u16 port;
	__u16 node_port; /* 0: none */
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP */
};

/* What the node role reads of a Service, beyond k8s_service's key. */
struct k8s_node_service {
	__u8 type; /* enum k8s_node_type */
	__u8 refused; /* enum k8s_refusal */
	char *why; /* with refused */
	struct lbd_conf_addr cluster[2]; /* spec.clusterIPs (or clusterIP) */
	size_t n_cluster;
	/* spec.externalIPs, then status.loadBalancer.ingress[].ip */
	struct lbd_conf_addr external[K8S_MAX_VIPS];
	size_t n_external;
	size_t n_external_ips; /* the first of external[] */
	struct k8s_node_port *ports;
	size_t n_ports;
	bool affinity; /* sessionAffinity ClientIP */
	__u32 affinity_timeout; /* seconds */
	bool itp_local, etp_local; /* internal/externalTrafficPolicy Local */
	/* spec.healthCheckNodePort: a LoadBalancer Service with
	 * externalTrafficPolicy Local has one (0: none); read for a
	 * refused Service too, whose port kube-proxy answers with 503 */
	__u16 hc_node_port;
	/* metadata.creationTimestamp (RFC 3339, UTC: compares as a
	 * string); "" when missing. The older of two Services claiming
	 * one address keeps it. */
	char created[32];
	__u8 forwarding; /* enum k8s_node_fwd, lbd.io/forwarding */
};

/*
 * Reads the node role's fields of a Service into a new *out (NULL when
 * a failure leaves nothing). 0, or -ENOMEM; a Service lbd cannot serve
 * is 0 with out->refused set.
 */
int k8s_node_service_parse(struct json_object *o,
			   struct k8s_node_service **out);
void k8s_node_service_free(struct k8s_node_service *s);

struct k8s_node_opts {
	const char *node_name; /* for the traffic policies Local */
	/* this node's addresses, where NodePorts are served */
	const struct lbd_conf_addr *addrs;
	size_t n_addrs;
	/* this node's zone (node_role.zone), for topology hints; NULL or
	 * "": hints are ignored */
	const char *zone;
};

/* Where a record's address comes from (lbctl services shows it). */
enum k8s_node_addr_kind {
	K8S_NODE_ADDR_CLUSTER_IP,
	K8S_NODE_ADDR_EXTERNAL_IP, /* spec.externalIPs */
	K8S_NODE_ADDR_LB_INGRESS, /* status.loadBalancer.ingress */
	K8S_NODE_ADDR_NODE_PORT, /* this node's address, with the node port */
};

/* "ClusterIP", "externalIP", "LoadBalancer", "NodePort". */
const char *k8s_node_addr_kind_name(__u8 kind);

struct k8s_node_addr {
	struct lbd_conf_addr addr;
	__u16 port;
	__u8 kind; /* enum k8s_node_addr_kind */
};

struct k8s_node_ep {
	struct lbd_conf_addr addr;
	__u16 port; /* the target port */
	__u16 weight;
	bool ready, serving, terminating;
	bool local; /* its nodeName is this node */
};

/* One Service port, family and scope (above). */
struct k8s_node_rec {
	char ns[64];
	char name[64];
	char port_name[64];
	__u16 port; /* the Service port */
	__u16 node_port;
	__u16 hc_node_port; /* external records: spec.healthCheckNodePort */
	__u8 type; /* enum k8s_node_type */
	__u8 proto;
	__u8 family;
	bool external;
	bool local_only; /* its scope's traffic policy is Local */
	bool affinity;
	/* the endpoints are those the topology hints give this node's
	 * zone (k8s_node_translate) */
	bool zone_hints;
	__u32 affinity_timeout;
	size_t first_addr, n_addrs; /* into k8s_node_set.addrs */
	size_t first_ep, n_eps; /* into k8s_node_set.eps */
	__u8 forwarding; /* enum k8s_node_fwd: the Service's annotation */
};

/*
 * The healthCheckNodePort of a Service that has no external record: one
 * lbd refuses, or a LoadBalancer Service without an external address
 * yet (no ingress, no node port). kube-proxy serves its port as soon as
 * the Service has one: a refused Service's answers 503 with 0 local
 * endpoints, so that load balancers skip the node rather than find the
 * port closed; one without an address counts its local endpoints.
 */
struct k8s_node_hc_only {
	char ns[64];
	char name[64];
	__u16 port;
};

struct k8s_node_set {
	struct k8s_node_rec *recs; /* by Service, port, family, scope */
	size_t n_recs;
	struct k8s_node_addr *addrs;
	size_t n_addrs;
	struct k8s_node_ep *eps;
	size_t n_eps;
	/* one line per refused Service, sorted by line */
	struct k8s_refusal_line *refusals;
	size_t n_refusals;
	/* sorted by port, each port once and none of a record's */
	struct k8s_node_hc_only *hc_only;
	size_t n_hc_only;
};

/*
 * Translates services (sorted, k8s_service_cmp; those without node
 * fields are skipped) and their slices (any order) into out. 0 or
 * -ENOMEM; out is released with k8s_node_set_free either way.
 */
int k8s_node_translate(struct k8s_service *const *svcs, size_t n_svcs,
		       struct k8s_slice *const *slices, size_t n_slices,
		       const struct k8s_node_opts *o, struct k8s_node_set *out);
void k8s_node_set_free(struct k8s_node_set *s);

/* The identity of a record across syncs: "ns/name:port/proto/family/scope"
 * (the port's name, or its number). */
void k8s_node_rec_key(const struct k8s_node_rec *r, char *buf, size_t len);

/*
 * lbctl services' entry for record r of s in the node role, into out:
 * the Service, its port, type, scope and traffic policy, affinity, the
 * addresses with their kind, and the endpoints with their conditions
 * (local: on this node). applied: whether the maps hold it (a record
 * without a free Service port id is not applied).
 */
void k8s_node_rec_json(const struct k8s_node_set *s,
		       const struct k8s_node_rec *r, bool applied,
		       struct json_object *out);

#endif /* LBD_K8S_NODE_H */
