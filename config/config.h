/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbd's configuration: parsing and validating a libconfig file (and the
 * files of its include_dir) into plain structs.
 *
 * Every problem is reported as "file:line: setting: message", all of them
 * in one pass. The structs hold values only, no pointers into runtime
 * state, so two configs can be compared and only the difference applied.
 * Library code: returns 0 or a negative errno, never exits.
 */
#ifndef LBD_CONFIG_H
#define LBD_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "lbd/shared.h"

#define LBD_DEFAULT_CONFIG "/etc/lbd/lbd.conf"
#define LBD_DEFAULT_PIN_PATH "/sys/fs/bpf/lbd"
#define LBD_NODE_DEFAULT_PIN_PATH "/sys/fs/bpf/lbd-node"
#define LBD_DEFAULT_SOCKET "/run/lbd/lbd.sock"
#define LBD_DEFAULT_METRICS "127.0.0.1:9470"
#define LBD_DEFAULT_FLOW_REPORT_PORT 9470
#define LBD_DEFAULT_MAX_CLIENTS 64
#define LBD_DEFAULT_USER "lbd" /* processes.user */
#define LBD_NAME_MAX 64 /* a configured service's name, with its NUL */
/* Any service's name: those from Kubernetes are "namespace/name:port",
 * with "@vip" when the Service has more than one address (63 + 1 + 63 +
 * 1 + 15 + 1 + 39 characters at most). */
#define LBD_SVC_NAME_MAX 192
#define LBD_MAX_EGRESS 16

enum lbd_xdp_mode {
	LBD_XDP_AUTO,
	LBD_XDP_NATIVE,
	LBD_XDP_GENERIC,
};

enum lbd_no_backend {
	LBD_NB_REJECT, /* ICMP port unreachable, rate-limited */
	LBD_NB_DROP,
};

/* Backend state as configured (health and runtime drain come on top). */
enum lbd_conf_state {
	LBD_CS_ACTIVE,
	LBD_CS_DRAINING,
	LBD_CS_DOWN,
};

struct lbd_conf_addr {
	__u8 family; /* 0: not set */
	__u8 prefixlen; /* 32/128 for a single address */
	union lbd_addr addr;
};

struct lbd_conf_datapath {
	char interface[IF_NAMESIZE];
	enum lbd_xdp_mode xdp_mode;
	struct lbd_conf_addr encap_v4;
	struct lbd_conf_addr encap_v6;
	__u32 maglev_table_size;
	__u32 hash_seed;
	__u32 conntrack_entries;
	__u32 max_services;
	__u32 max_backends;
	__u32 max_vips;
	__u32 udp_timeout;
	__u32 tcp_timeout;
	__u32 icmp_rate;
	char pin_path[PATH_MAX];
	char egress[LBD_MAX_EGRESS][IF_NAMESIZE];
	size_t n_egress;
	/* SNAT and NodePort-style services */
	struct lbd_conf_addr snat_v4; /* default: encap_source_v4 */
	struct lbd_conf_addr snat_v6;
	__u16 snat_port_min, snat_port_max;
	__u32 nat_entries;
	__u32 affinity_entries;
	__u16 nodeport_min, nodeport_max;
	/* the backends' metrics port, where lbctl drain --wait reads their
	 * connections in flow_state = "backends" */
	__u16 flow_report_port;
};

struct lbd_conf_control {
	char socket[108]; /* sun_path */
	char metrics_listen[64]; /* "ADDR:PORT", "[ADDR6]:PORT"; "" or "off" */
	char group[64]; /* may use read-only commands; "": root only */
	__u32 max_clients; /* connected at once, root's few extra aside */
	/* per-backend series in the metrics (default); false: per service
	 * only, for configs whose backends would be too many series */
	bool metrics_backends;
};

/* lbd's children (lbd/proc): the io process, the prober, the Kubernetes
 * client. */
struct lbd_conf_processes {
	char user[64]; /* they run as this user; default LBD_DEFAULT_USER */
};

/* Health checks (lbd/health/health.c). */
enum lbd_hc_type {
	LBD_HC_NONE, /* not checked: up unless configured down */
	LBD_HC_TCP, /* a TCP connection is accepted */
	LBD_HC_HTTP, /* an HTTP GET answers expect_status */
	LBD_HC_UDP_DNS, /* a DNS query is answered NOERROR */
};

enum lbd_hc_via {
	LBD_HC_VIA_AUTO, /* as parsed: validation makes it one of the two */
	LBD_HC_VIA_DATAPATH, /* encapsulated to the backend, to VIP:port */
	LBD_HC_VIA_ADDRESS, /* to the backend's own address */
};

#define LBD_HC_STR_MAX 128

/* One set of health check settings; services and backends name theirs by
 * index into lbd_config.healths (a backend without its own shares its
 * service's). */
struct lbd_conf_health {
	__u8 type; /* enum lbd_hc_type */
	__u8 via; /* enum lbd_hc_via */
	__u16 port; /* host order; 0: the backend's port */
	__u16 expect_status; /* http */
	__u8 rise; /* consecutive successes to come up */
	__u8 fall; /* consecutive failures to go down */
	__u32 interval_ms;
	__u32 timeout_ms;
	char path[LBD_HC_STR_MAX]; /* http: starts with '/' */
	char host[LBD_HC_STR_MAX]; /* http: Host header; "": the address */
	char query[LBD_HC_STR_MAX]; /* udp-dns: the name asked (SOA) */
	__u32 file; /* where the group is, for messages */
	__u32 line; /* 0: the built-in "none" */
};

/* BGP attributes of an announced VIP, and when it is announced. */
#define LBD_BGP_MAX_COMMUNITIES 16

struct lbd_conf_bgp_attrs {
	bool announce; /* false: never announced */
	__u32 min_healthy; /* backends up for the VIP to be announced */
	__u8 n_communities;
	__u8 n_large;
	__u8 prepend; /* times the own AS (bgp.asn) is prepended */
	bool has_med;
	bool has_local_pref;
	__u32 med;
	__u32 local_pref;
	__u16 communities[LBD_BGP_MAX_COMMUNITIES][2];
	__u32 large[LBD_BGP_MAX_COMMUNITIES][3];
};

struct lbd_conf_bgp_vip {
	struct lbd_conf_addr addr;
	struct lbd_conf_bgp_attrs attrs;
	__u32 line; /* in the main file */
};

/* The bgp group: lbd drives a BIRD 2 on the LB host (bgp/). */
struct lbd_conf_bgp {
	bool enabled; /* the group is there */
	char socket[108]; /* BIRD's control socket (sun_path) */
	char file[PATH_MAX]; /* the include file lbd writes */
	__u32 asn; /* the LB host's AS, for prepending; 0: not given */
	__u32 shutdown_delay_ms; /* graceful shutdown before the withdraw */
	struct lbd_conf_bgp_attrs defaults; /* of VIPs not in vips */
	struct lbd_conf_bgp_vip *vips;
	size_t n_vips;
};

#define LBD_DEFAULT_BIRD_SOCKET "/run/bird/bird.ctl"
#define LBD_DEFAULT_BIRD_FILE "/run/lbd/bird/vips.conf"

struct lbd_conf_backend {
	struct lbd_conf_addr addr;
	__u16 port; /* host order */
	__u32 weight;
	enum lbd_conf_state state;
	__u32 health; /* into lbd_config.healths */
	__u32 file; /* index into lbd_config.files */
	__u32 line;
};

enum lbd_src_mode {
	LBD_SRC_ALLOW, /* only clients in source_ranges */
	LBD_SRC_DENY, /* every client but those */
};

/* Where a service comes from. */
enum lbd_origin {
	LBD_ORIGIN_FILE, /* the config file (file, line) */
	LBD_ORIGIN_K8S, /* a Kubernetes Service (k8s_ref) */
};

struct lbd_conf_service {
	char name[LBD_SVC_NAME_MAX];
	struct lbd_conf_addr vip; /* family 0 with wildcard */
	bool wildcard; /* vip = "*": every address of datapath.interface */
	__u16 port; /* host order */
	__u8 proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 fwd; /* enum lbd_fwd */
	__u8 dsr; /* hybrid: LBD_FWD_IPIP or LBD_FWD_GENEVE for TCP */
	enum lbd_no_backend no_backend;
	bool icmp_echo;
	bool affinity; /* session_affinity = "client_ip" */
	__u32 affinity_timeout;
	/* flow_state = "backends": TCP stateless on the LB, second chance
	 * on the backends (docs/flow-state.md) */
	bool flow_backends;
	bool udp_stateless; /* udp_flow_state = "none" */
	__u32 maglev_size; /* maglev_table_size; 0: datapath's */
	enum lbd_src_mode src_mode;
	size_t first_range; /* into lbd_config.ranges */
	size_t n_ranges;
	size_t first_backend; /* into lbd_config.backends */
	size_t n_backends;
	enum lbd_origin origin;
	char k8s_ref[128]; /* LBD_ORIGIN_K8S: "namespace/name" */
	__u32 health; /* into lbd_config.healths; 0: not checked */
	__u32 file;
	__u32 line;
};

enum lbd_role {
	LBD_ROLE_LB, /* the LB host: XDP on the edge NIC */
	LBD_ROLE_BACKEND, /* a backend: the tc companion */
	LBD_ROLE_NODE, /* a cluster node: socket load balancing (kube-proxy) */
};

#define LBD_MAX_LB_SOURCES 64
#define LBD_MAX_NODE_VIPS 256

/* role = "backend": what the companion needs. */
struct lbd_conf_backend_node {
	char interface[IF_NAMESIZE];
	struct lbd_conf_addr lb_sources[LBD_MAX_LB_SOURCES];
	size_t n_lb_sources;
	struct lbd_conf_addr vips[LBD_MAX_NODE_VIPS]; /* bound to lo */
	size_t n_vips;
	/* the other backends, which may pass this one a segment on
	 * (second chance): prefixes, host bits cleared */
	struct lbd_conf_addr peers[LBD_BE_MAX_PEERS];
	size_t n_peers;
	__u32 flow_timeout;
	__u32 flow_entries;
};

#define LBD_MAX_NODE_ADDRS 64
#define LBD_NODE_DEFAULT_MAX_SERVICES 16384
#define LBD_NODE_DEFAULT_MAX_ADDRS 65536
#define LBD_NODE_DEFAULT_MAX_BACKENDS 262144
#define LBD_NODE_DEFAULT_REVERSE 262144
#define LBD_NODE_DEFAULT_AFFINITY 65536

/* node_role.forwarding: how the NIC path sends a flow to an endpoint on
 * another node, for Services without the lbd.io/forwarding annotation. */
enum lbd_node_fwd {
	LBD_NODE_FWD_SNAT = 0, /* this node's address and a SNAT port */
	LBD_NODE_FWD_GENEVE = 1, /* DSR: Geneve, the client kept */
};

/* node_role.socket_lb: which sockets the socket programs translate. */
enum lbd_socket_lb {
	LBD_SOCKET_LB_ALL = 0, /* every socket of the cgroup */
	LBD_SOCKET_LB_HOST_ONLY = 1, /* the host's network namespace's only */
};

#define LBD_MAX_POD_IFACE_PATTERNS 16
#define LBD_POD_IFACE_PATTERN_LEN 64
#define LBD_MAX_NODE_NICS 8
#define LBD_NODE_NIC_NAME_LEN 16 /* IFNAMSIZ */
#define LBD_NODE_DEFAULT_NAT 262144
#define LBD_MAX_NODE_DSR_SOURCES 64
/* kube-proxy's healthzBindAddress default */
#define LBD_NODE_DEFAULT_HEALTHZ "0.0.0.0:10256"

/* role = "node": node_role = { ... }, the socket programs' place and
 * the node's identity. */
struct lbd_conf_node_role {
	/* the cgroup v2 directory to attach to; "": the cgroup2 root
	 * (mounted at /sys/fs/cgroup/unified or /sys/fs/cgroup when none
	 * is) */
	char cgroup[PATH_MAX];
	/* for internal/externalTrafficPolicy Local (endpoints' nodeName);
	 * "": the host name */
	char node_name[254];
	/* the addresses NodePorts are served on; none: the addresses of
	 * the node's interfaces */
	struct lbd_conf_addr addrs[LBD_MAX_NODE_ADDRS];
	size_t n_addrs;
	__u32 max_services; /* Service ports (per family and scope) */
	__u32 max_addresses; /* Service addresses, per family */
	__u32 max_endpoints;
	__u32 reverse_entries; /* UDP and getpeername reverse entries */
	__u32 affinity_entries;
	/* where the maps and the links of the attachments are pinned, so
	 * that they outlive lbd (a directory on a BPF filesystem) */
	char pin_path[PATH_MAX];
	/* this node's zone (its topology.kubernetes.io/zone label), for
	 * the topology hints of EndpointSlices; "": hints are ignored */
	char zone[64];
	__u32 line; /* of the group; 0 when absent */
	enum lbd_socket_lb socket_lb;
	/* glob patterns (fnmatch) of the host-side pod interfaces the tc
	 * path is attached to; none: no tc path */
	char pod_ifaces[LBD_MAX_POD_IFACE_PATTERNS][LBD_POD_IFACE_PATTERN_LEN];
	size_t n_pod_ifaces;
	__u32 nat_entries; /* the tc path's flows (two entries each) */
	/* the NICs of the NIC path (XDP): nics_set says whether the list
	 * was given (it may be empty: none); else the interfaces that hold
	 * the node's addresses */
	char nics[LBD_MAX_NODE_NICS][LBD_NODE_NIC_NAME_LEN];
	size_t n_nics;
	bool nics_set;
	/* the ports SNATed flows to other nodes' endpoints get */
	__u16 snat_port_min, snat_port_max;
	/* the health check ports answer serviceProxyHealthy false (503)
	 * once the Kubernetes client has been behind this long */
	__u32 health_timeout_s;
	/* kube-proxy's /healthz and /livez server (healthzBindAddress):
	 * "ADDR:PORT" or "[ADDR6]:PORT"; "" or "off": not served.
	 * Changes on reload. */
	char healthz_address[64];
	enum lbd_node_fwd forwarding; /* changes on reload */
	/* the other nodes trusted to send this one DSR traffic (Geneve), as
	 * prefixes, host bits cleared; none: no backend companion on the
	 * NICs (lbd/node_dsr.c) */
	struct lbd_conf_addr dsr_sources[LBD_MAX_NODE_DSR_SOURCES];
	size_t n_dsr_sources;
};

#define LBD_MAX_VIP_RANGES 64
/* What one answer of the API server may take (kubernetes.max_*_bytes):
 * etcd keeps objects under 1.5 MiB (--max-request-bytes); a list page of
 * K8S_PAGE (500) EndpointSlices of 100 endpoints each, the controller's
 * most, is about 15 MB of compact JSON. */
#define LBD_K8S_MAX_OBJECT_BYTES (2u << 20)
#define LBD_K8S_MAX_WATCH_LINE_BYTES (3u << 20)
#define LBD_K8S_MAX_LIST_PAGE_BYTES (32u << 20)

/* kubernetes = { ... }: follow a cluster's LoadBalancer Services. */
struct lbd_conf_kubernetes {
	bool enabled; /* the group is there */
	char kubeconfig[PATH_MAX];
	char context[256]; /* "": the kubeconfig's current-context */
	char lb_class[256]; /* spec.loadBalancerClass to follow */
	char namespace[64]; /* "": every namespace */
	__u8 fwd; /* enum lbd_fwd of the services made */
	bool flow_backends; /* flow_state = "backends" for their TCP ports */
	/* into lbd_config.healths, for the services of the check's
	 * protocol (tcp, http: TCP; udp-dns: UDP); 0: not checked */
	__u32 health;
	/* the cluster's VIPs must lie in one of these (none: none is
	 * served); host bits cleared */
	struct lbd_conf_addr vip_ranges[LBD_MAX_VIP_RANGES];
	size_t n_vip_ranges;
	__u32 max_object_bytes; /* one object, in a list or an event */
	__u32 max_watch_line_bytes; /* one watch event */
	__u32 max_list_page_bytes; /* one list page */
	__u32 line; /* of the group */
};

struct lbd_config {
	enum lbd_role role;
	struct lbd_conf_backend_node node;
	struct lbd_conf_node_role node_role;
	struct lbd_conf_datapath dp;
	struct lbd_conf_control control;
	struct lbd_conf_processes processes;
	char include_dir[PATH_MAX];
	/* apply an edit as it is saved (inotify), not only on a reload */
	bool reload_on_change;
	struct lbd_conf_kubernetes k8s;
	struct lbd_conf_service *services;
	size_t n_services;
	struct lbd_conf_backend *backends;
	size_t n_backends;
	struct lbd_conf_addr *ranges; /* source ranges of services */
	size_t n_ranges;
	/* [0] is type "none", what services without a health group use */
	struct lbd_conf_health *healths;
	size_t n_healths;
	struct lbd_conf_bgp bgp;
	char (*files)[PATH_MAX]; /* [0] is the main file */
	size_t n_files;
};

/* Problems found, each "file:line: setting: message". */
struct config_diag {
	char **msgs;
	size_t n;
};

/*
 * Loads path and the *.conf files of its include_dir (in name order).
 * Returns 0 with *out set, or -EINVAL with every problem in diag (other
 * negative errnos for resource failures). diag is filled either way and
 * released with config_diag_free.
 */
int config_load(const char *path, struct lbd_config **out,
		struct config_diag *diag);
/* The same from text in memory; name stands for the file in messages.
 * An include_dir in the text is read from disk. */
int config_load_string(const char *text, const char *name,
		       struct lbd_config **out, struct config_diag *diag);

void config_free(struct lbd_config *c);
void config_diag_free(struct config_diag *d);

/* The defaults a config starts from before the file is read. */
void config_defaults(struct lbd_config *c);

/* Orders addresses by family, then address; the prefix length is not
 * looked at. */
int config_addr_cmp(const struct lbd_conf_addr *a,
		    const struct lbd_conf_addr *b);
/* Orders endpoints by address (config_addr_cmp), then port. */
int config_endpoint_cmp(const struct lbd_conf_addr *a, __u16 a_port,
			const struct lbd_conf_addr *b, __u16 b_port);

/* Why a can be neither a VIP nor a backend, as a phrase ("a loopback
 * address"): unspecified (0.0.0.0/8, ::), loopback, link-local,
 * multicast, the broadcast address and IPv4-mapped IPv6 addresses. NULL
 * when it can be either. */
const char *config_addr_unusable(const struct lbd_conf_addr *a);
/* Whether address a lies in prefix p (of a's family). */
bool config_addr_in(const struct lbd_conf_addr *p,
		    const struct lbd_conf_addr *a);

/* The size of a buffer that holds any address config_addr_str formats:
 * INET6_ADDRSTRLEN (46, with the NUL) and "/128". */
#define LBD_CONF_ADDR_STRLEN 50

/* Formats an address (with /len when not a single host); a buffer of
 * LBD_CONF_ADDR_STRLEN holds every one, a shorter one may truncate a
 * prefix. */
const char *config_addr_str(const struct lbd_conf_addr *a, char *buf,
			    size_t len);
const char *config_proto_str(__u8 proto);
const char *config_fwd_str(__u8 fwd);
const char *config_state_str(enum lbd_conf_state s);
const char *config_hc_type_str(__u8 type);
const char *config_hc_via_str(__u8 via);

/* The health settings of backend b (of any service). */
const struct lbd_conf_health *config_health(const struct lbd_config *c,
					    const struct lbd_conf_backend *b);
/* The BGP attributes of a VIP: its bgp.vips entry, else the defaults. */
const struct lbd_conf_bgp_attrs *config_bgp_attrs(const struct lbd_config *c,
						  __u8 family,
						  const union lbd_addr *vip);

#endif /* LBD_CONFIG_H */
