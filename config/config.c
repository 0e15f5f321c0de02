// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"

/* Parsing state: where messages go and which file is being read. */
struct cfg_ctx {
	struct lbd_config *c;
	struct config_diag *diag;
	__u32 file;
	__u32 include_line; /* of include_dir, for problems reading it */
	__u32 dp_line; /* of the datapath group, for what it lacks */
	__u32 bgp_line; /* of the bgp group */
	bool dp_interface; /* interface given (if invalid, reported) */
	bool main_unread; /* nothing to check: the file was not read */
	int oom;
};

static void diag_add(struct config_diag *d, const char *msg, int *oom)
{
	char **n = realloc(d->msgs, (d->n + 1) * sizeof(*n));
	char *m = strdup(msg);

	if (!n || !m) {
		free(m);
		if (n)
			d->msgs = n;
		*oom = 1;
		return;
	}
	d->msgs = n;
	d->msgs[d->n++] = m;
}

/* file:line: setting: message */
__attribute__((format(printf, 4, 5))) static void
cfg_err(struct cfg_ctx *x, const config_setting_t *s, const char *path,
	const char *fmt, ...)
{
	char msg[768], full[1024];
	va_list ap;
	int line = s ? (int)config_setting_source_line(s) : 0;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%d: %s: %s", x->c->files[x->file],
		 line, path, msg);
	diag_add(x->diag, full, &x->oom);
}

/* The same at a line given explicitly (checks made after parsing). */
__attribute__((format(printf, 4, 5))) static void
cfg_err_line(struct cfg_ctx *x, __u32 line, const char *path,
	     const char *fmt, ...)
{
	char msg[768], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%u: %s: %s", x->c->files[x->file],
		 line, path, msg);
	diag_add(x->diag, full, &x->oom);
}

/* How messages name setting name in the group at path ("" at the top). */
static void setting_path(char *p, size_t len, const char *path,
			 const char *name)
{
	snprintf(p, len, "%s%s%s", path, *path ? "." : "", name);
}

/* The settings a group may hold; anything else is a typo to report. */
static void check_members(struct cfg_ctx *x, const config_setting_t *g,
			  const char *path, const char *const *allowed)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, i);
		const char *name = config_setting_name(m);
		const char *const *a;
		char p[256];

		if (!name)
			continue;
		for (a = allowed; *a; a++)
			if (!strcmp(*a, name))
				break;
		if (*a)
			continue;
		setting_path(p, sizeof(p), path, name);
		cfg_err(x, m, p, "unknown setting");
	}
}

/* An address with an optional /len of any length. */
static int parse_prefix(const char *s, struct lbd_conf_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	long len;
	int max;

	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, &a->addr.v4) == 1) {
		a->family = LBD_AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &a->addr.v6) == 1) {
		a->family = LBD_AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	a->prefixlen = (__u8)max;
	if (!slash)
		return 0;
	len = strtol(slash, &end, 10);
	if (!*slash || *end || len < 0 || len > max)
		return -EINVAL;
	a->prefixlen = (__u8)len;
	return 0;
}

/* -EINVAL for what is no address (or a prefix where none may be),
 * -ERANGE for a prefix that leaves more than LBD_ENCAP_MAX_HOSTBITS host
 * bits, -EDOM for a prefix with host bits set: the datapath
 * fills them from a 32-bit flow hash. */
static int parse_addr(const char *s, struct lbd_conf_addr *a, bool prefix_ok)
{
	int max, err = parse_prefix(s, a);

	if (err || !strchr(s, '/'))
		return err;
	if (!prefix_ok)
		return -EINVAL;
	max = a->family == LBD_AF_INET ? 32 : 128;
	if (a->prefixlen < max - LBD_ENCAP_MAX_HOSTBITS)
		return -ERANGE;
	/* the datapath ORs hash bits into the host part */
	if (a->prefixlen < max) {
		__u32 last = ntohl(a->family == LBD_AF_INET
					   ? a->addr.v4
					   : a->addr.v6[max / 32 - 1]);

		if (last & ((1u << (max - a->prefixlen)) - 1))
			return -EDOM;
	}
	return 0;
}

const char *config_addr_unusable(const struct lbd_conf_addr *a)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };
	const __u8 *b = a->addr.b;
	size_t i;

	if (a->family == LBD_AF_INET) {
		/* 0.0.0.0/8: "this host on this network" (RFC 1122 3.2.1.3) */
		if (b[0] == 0)
			return "an unspecified address";
		if (b[0] == 127)
			return "a loopback address";
		if (b[0] == 169 && b[1] == 254)
			return "a link-local address";
		if ((b[0] & 0xf0) == 224)
			return "a multicast address";
		if (a->addr.v4 == 0xffffffff)
			return "the broadcast address";
		return NULL;
	}
	if (a->family != LBD_AF_INET6)
		return "no address";
	for (i = 0; i < 15 && !b[i]; i++)
		;
	if (i == 15 && b[15] == 0)
		return "an unspecified address";
	if (i == 15 && b[15] == 1)
		return "a loopback address";
	if (b[0] == 0xff)
		return "a multicast address";
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return "a link-local address";
	/* ::ffff:0:0/96 (RFC 4291 2.5.5.2): an IPv4 address in IPv6 form,
	 * which no packet on the wire carries */
	if (!memcmp(b, mapped, sizeof(mapped)))
		return "an IPv4-mapped IPv6 address";
	return NULL;
}

bool config_addr_in(const struct lbd_conf_addr *p,
		    const struct lbd_conf_addr *a)
{
	int bits = p->prefixlen, k;

	if (p->family != a->family)
		return false;
	for (k = 0; k < 16 && bits > 0; k++, bits -= 8) {
		__u8 m = bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));

		if ((p->addr.b[k] ^ a->addr.b[k]) & m)
			return false;
	}
	return true;
}

const char *config_addr_str(const struct lbd_conf_addr *a, char *buf,
			    size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	_Static_assert(LBD_CONF_ADDR_STRLEN >= INET6_ADDRSTRLEN + 4,
		       "an address and /128");
	if (!a->family) {
		snprintf(buf, len, "-");
		return buf;
	}
	inet_ntop(a->family == LBD_AF_INET ? AF_INET : AF_INET6, &a->addr, ip,
		  sizeof(ip));
	if (a->prefixlen != (a->family == LBD_AF_INET ? 32 : 128))
		snprintf(buf, len, "%s/%u", ip, a->prefixlen);
	else
		snprintf(buf, len, "%s", ip);
	return buf;
}

const char *config_proto_str(__u8 proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

const char *config_fwd_str(__u8 fwd)
{
	switch (fwd) {
	case LBD_FWD_IPIP:
		return "ipip";
	case LBD_FWD_GENEVE:
		return "geneve";
	case LBD_FWD_SNAT:
		return "snat";
	case LBD_FWD_HYBRID:
		return "hybrid";
	default:
		return "?";
	}
}

const char *config_state_str(enum lbd_conf_state s)
{
	switch (s) {
	case LBD_CS_ACTIVE:
		return "active";
	case LBD_CS_DRAINING:
		return "draining";
	case LBD_CS_DOWN:
		return "down";
	}
	return "?";
}

/* Typed getters: a wrong type is reported; a missing setting is not
 * (callers decide whether it is required). Return 1 when a value was
 * read. */
static int get_string(struct cfg_ctx *x, const config_setting_t *g,
		      const char *path, const char *name, const char **out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char p[256];

	if (!s)
		return 0;
	setting_path(p, sizeof(p), path, name);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_err(x, s, p, "expected a string");
		return -1;
	}
	*out = config_setting_get_string(s);
	return 1;
}

static int get_int(struct cfg_ctx *x, const config_setting_t *g,
		   const char *path, const char *name, long long min,
		   long long max, long long *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	long long v;
	char p[256];

	if (!s)
		return 0;
	setting_path(p, sizeof(p), path, name);
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = config_setting_get_int64(s);
	else {
		cfg_err(x, s, p, "expected an integer");
		return -1;
	}
	if (v < min || v > max) {
		cfg_err(x, s, p, "%lld out of range %lld-%lld", v, min, max);
		return -1;
	}
	*out = v;
	return 1;
}

static int get_bool(struct cfg_ctx *x, const config_setting_t *g,
		    const char *path, const char *name, bool *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char p[256];

	if (!s)
		return 0;
	setting_path(p, sizeof(p), path, name);
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_err(x, s, p, "expected true or false");
		return -1;
	}
	*out = config_setting_get_bool(s);
	return 1;
}

/* A string that must be one of choices; returns its index. */
static int get_choice(struct cfg_ctx *x, const config_setting_t *g,
		      const char *path, const char *name,
		      const char *const *choices, int *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	const char *v;
	char p[256], list[256] = "";
	int i, r;

	r = get_string(x, g, path, name, &v);
	if (r <= 0)
		return r;
	for (i = 0; choices[i]; i++) {
		if (!strcmp(v, choices[i])) {
			*out = i;
			return 1;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? " | " : "", choices[i]);
	}
	setting_path(p, sizeof(p), path, name);
	cfg_err(x, s, p, "\"%s\" is not one of %s", v, list);
	return -1;
}

static int get_addr(struct cfg_ctx *x, const config_setting_t *g,
		    const char *path, const char *name, bool prefix_ok,
		    struct lbd_conf_addr *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	const char *v;
	char p[256];
	int r = get_string(x, g, path, name, &v);

	if (r <= 0)
		return r;
	r = parse_addr(v, out, prefix_ok);
	if (r < 0) {
		setting_path(p, sizeof(p), path, name);
		if (r == -ERANGE)
			cfg_err(x, s, p,
				"\"%s\": the prefix may leave at most %d host "
				"bits (/%d or longer)",
				v, LBD_ENCAP_MAX_HOSTBITS,
				(out->family == LBD_AF_INET6 ? 128 : 32) -
					LBD_ENCAP_MAX_HOSTBITS);
		else if (r == -EDOM)
			cfg_err(x, s, p,
				"\"%s\": host bits set; give the prefix "
				"itself",
				v);
		else
			cfg_err(x, s, p, "\"%s\" is not an IP address%s", v,
				prefix_ok ? " or prefix" : "");
		return -1;
	}
	return 1;
}

static void copy_str(struct cfg_ctx *x, const config_setting_t *g,
		     const char *path, const char *name, char *dst,
		     size_t size)
{
	const char *v;
	char p[256];

	if (get_string(x, g, path, name, &v) <= 0)
		return;
	if (strlen(v) >= size) {
		setting_path(p, sizeof(p), path, name);
		cfg_err(x, config_setting_get_member(g, name), p,
			"longer than %zu characters", size - 1);
		return;
	}
	strcpy(dst, v);
}

/* A listen address (control.metrics_listen, node_role.healthz_address)
 * copied to dst: what listen_parse takes, forms naming those in the
 * error. */
static void get_listen(struct cfg_ctx *x, const config_setting_t *g,
		       const char *group, const char *name, char *dst,
		       size_t size, const char *forms)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char p[256];

	copy_str(x, g, group, name, dst, size);
	if (listen_parse(dst, &ss, &sslen) < 0) {
		setting_path(p, sizeof(p), group, name);
		cfg_err(x, config_setting_get_member(g, name), p,
			"\"%s\" is not %s", dst, forms);
	}
}

/* "MIN-MAX" port ranges (snat_ports, nodeport_ports). */
static void get_port_range(struct cfg_ctx *x, const config_setting_t *g,
			   const char *group, const char *name, __u16 *min,
			   __u16 *max)
{
	config_setting_t *s = config_setting_get_member(g, name);
	unsigned int a, b;
	const char *v;
	char p[64], tail;

	if (get_string(x, g, group, name, &v) <= 0)
		return;
	snprintf(p, sizeof(p), "%s.%s", group, name);
	if (sscanf(v, "%u-%u%c", &a, &b, &tail) != 2 || a < 1 || a > b ||
	    b > 65535) {
		cfg_err(x, s, p, "\"%s\" is not a port range like 61000-65535",
			v);
		return;
	}
	*min = (__u16)a;
	*max = (__u16)b;
}


/* g's maglev_table_size: a prime from LBD_MAGLEV_MIN to LBD_MAGLEV_MAX,
 * or 0 after an error. */
static __u32 get_maglev_size(struct cfg_ctx *x, const config_setting_t *g,
			     const char *path)
{
	config_setting_t *s = config_setting_get_member(g, "maglev_table_size");
	char p[224];
	long long v;

	if (get_int(x, g, path, "maglev_table_size", 0, LBD_MAGLEV_MAX, &v) <=
	    0)
		return 0;
	snprintf(p, sizeof(p), "%s.maglev_table_size", path);
	if (v < LBD_MAGLEV_MIN) {
		cfg_err(x, s, p, "%lld is too small (at least %d)", v,
			LBD_MAGLEV_MIN);
		return 0;
	}
	if (!lbd_is_prime((__u32)v)) {
		cfg_err(x, s, p, "%lld is not a prime (Maglev needs one)", v);
		return 0;
	}
	return (__u32)v;
}

static void parse_datapath(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = {
		"interface", "xdp_mode", "encap_source_v4", "encap_source_v6",
		"maglev_table_size", "hash_seed", "conntrack_entries",
		"max_services", "max_backends", "max_vips", "udp_timeout",
		"tcp_timeout", "icmp_rate", "pin_path", "egress_interfaces",
		"snat_source_v4", "snat_source_v6", "snat_ports", "nat_entries",
		"affinity_entries", "nodeport_ports",
		"flow_report_port",
		NULL
	};
	static const char *const modes[] = { "auto", "native", "generic",
					     NULL };
	struct lbd_conf_datapath *dp = &x->c->dp;
	config_setting_t *s;
	long long v;
	int mode;

	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "datapath", "expected a group { ... }");
		return;
	}
	check_members(x, g, "datapath", allowed);
	copy_str(x, g, "datapath", "interface", dp->interface,
		 sizeof(dp->interface));
	if (get_choice(x, g, "datapath", "xdp_mode", modes, &mode) > 0)
		dp->xdp_mode = (enum lbd_xdp_mode)mode;
	if (get_addr(x, g, "datapath", "encap_source_v4", true,
		     &dp->encap_v4) > 0 &&
	    dp->encap_v4.family != LBD_AF_INET) {
		cfg_err(x, config_setting_get_member(g, "encap_source_v4"),
			"datapath.encap_source_v4", "not an IPv4 address");
		dp->encap_v4.family = 0;
	}
	if (get_addr(x, g, "datapath", "encap_source_v6", true,
		     &dp->encap_v6) > 0 &&
	    dp->encap_v6.family != LBD_AF_INET6) {
		cfg_err(x, config_setting_get_member(g, "encap_source_v6"),
			"datapath.encap_source_v6", "not an IPv6 address");
		dp->encap_v6.family = 0;
	}
	if (config_setting_get_member(g, "maglev_table_size")) {
		__u32 m = get_maglev_size(x, g, "datapath");

		if (m)
			dp->maglev_table_size = m;
	}
	if (get_int(x, g, "datapath", "hash_seed", 0, 0xffffffffll, &v) > 0)
		dp->hash_seed = (__u32)v;
	if (get_int(x, g, "datapath", "flow_report_port", 1, 65535, &v) > 0)
		dp->flow_report_port = (__u16)v;
	if (get_int(x, g, "datapath", "conntrack_entries", 1024, 1 << 28,
		    &v) > 0)
		dp->conntrack_entries = (__u32)v;
	if (get_int(x, g, "datapath", "max_services", 1, 1 << 20, &v) > 0)
		dp->max_services = (__u32)v;
	if (get_int(x, g, "datapath", "max_backends", 1, 1 << 24, &v) > 0)
		dp->max_backends = (__u32)v;
	if (get_int(x, g, "datapath", "max_vips", 1, 1 << 20, &v) > 0)
		dp->max_vips = (__u32)v;
	if (get_int(x, g, "datapath", "udp_timeout", 1, 86400, &v) > 0)
		dp->udp_timeout = (__u32)v;
	if (get_int(x, g, "datapath", "tcp_timeout", 1, 7 * 86400, &v) > 0)
		dp->tcp_timeout = (__u32)v;
	if (get_int(x, g, "datapath", "icmp_rate", 0, 1000000, &v) > 0)
		dp->icmp_rate = (__u32)v;
	copy_str(x, g, "datapath", "pin_path", dp->pin_path,
		 sizeof(dp->pin_path));
	if (get_addr(x, g, "datapath", "snat_source_v4", false,
		     &dp->snat_v4) > 0 &&
	    dp->snat_v4.family != LBD_AF_INET) {
		cfg_err(x, config_setting_get_member(g, "snat_source_v4"),
			"datapath.snat_source_v4", "not an IPv4 address");
		dp->snat_v4.family = 0;
	}
	if (get_addr(x, g, "datapath", "snat_source_v6", false,
		     &dp->snat_v6) > 0 &&
	    dp->snat_v6.family != LBD_AF_INET6) {
		cfg_err(x, config_setting_get_member(g, "snat_source_v6"),
			"datapath.snat_source_v6", "not an IPv6 address");
		dp->snat_v6.family = 0;
	}
	get_port_range(x, g, "datapath", "snat_ports", &dp->snat_port_min,
		       &dp->snat_port_max);
	get_port_range(x, g, "datapath", "nodeport_ports", &dp->nodeport_min,
		       &dp->nodeport_max);
	if (get_int(x, g, "datapath", "nat_entries", 1024, 1 << 26, &v) > 0)
		dp->nat_entries = (__u32)v;
	if (get_int(x, g, "datapath", "affinity_entries", 1024, 1 << 26, &v) >
	    0)
		dp->affinity_entries = (__u32)v;

	s = config_setting_get_member(g, "egress_interfaces");
	if (s) {
		int i, n = config_setting_length(s);

		if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
			cfg_err(x, s, "datapath.egress_interfaces",
				"expected a list of interface names");
			return;
		}
		for (i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, i);
			const char *name = config_setting_get_string(e);
			char p[64];

			snprintf(p, sizeof(p), "datapath.egress_interfaces[%d]",
				 i);
			if (!name || !*name || strlen(name) >= IF_NAMESIZE) {
				cfg_err(x, e, p, "expected an interface name");
				continue;
			}
			if (dp->n_egress == LBD_MAX_EGRESS) {
				cfg_err(x, e, p, "at most %d interfaces",
					LBD_MAX_EGRESS);
				break;
			}
			strcpy(dp->egress[dp->n_egress++], name);
		}
	}
}

static void parse_control(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = {
		"socket",      "metrics_listen",   "group",
		"max_clients", "metrics_backends", NULL
	};
	struct lbd_conf_control *ctl = &x->c->control;
	long long v;

	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "control", "expected a group { ... }");
		return;
	}
	check_members(x, g, "control", allowed);
	copy_str(x, g, "control", "socket", ctl->socket, sizeof(ctl->socket));
	if (ctl->socket[0] != '/')
		cfg_err(x, config_setting_get_member(g, "socket"),
			"control.socket", "\"%s\" is not an absolute path",
			ctl->socket);
	get_listen(x, g, "control", "metrics_listen", ctl->metrics_listen,
		   sizeof(ctl->metrics_listen),
		   "ADDR:PORT, [ADDR]:PORT or \"off\"");
	copy_str(x, g, "control", "group", ctl->group, sizeof(ctl->group));
	/* the group is looked up when the socket is made; a name that is
	 * not there now is a typo to report, not a surprise at start */
	if (ctl->group[0] && !getgrnam(ctl->group))
		cfg_err(x, config_setting_get_member(g, "group"),
			"control.group", "no group named \"%s\"", ctl->group);
	if (get_int(x, g, "control", "max_clients", 1, 16384, &v) > 0)
		ctl->max_clients = (__u32)v;
	get_bool(x, g, "control", "metrics_backends", &ctl->metrics_backends);
}

static void parse_processes(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = { "user", NULL };
	struct lbd_conf_processes *p = &x->c->processes;

	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "processes", "expected a group { ... }");
		return;
	}
	check_members(x, g, "processes", allowed);
	/* whether the user exists is lbd's to check (lbd --check, the
	 * start): the file is valid on a host that has not made it yet */
	copy_str(x, g, "processes", "user", p->user, sizeof(p->user));
	if (!p->user[0])
		cfg_err(x, config_setting_get_member(g, "user"),
			"processes.user", "a user name is needed");
}

/* A list of addresses (lb_sources, vips). */
static size_t get_addr_list(struct cfg_ctx *x, const config_setting_t *g,
			    const char *path, const char *name,
			    struct lbd_conf_addr *out, size_t max, bool vips)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char p[128];
	size_t n = 0;
	int i, len;

	if (!s)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(x, s, p, "expected a list of addresses ( \"...\", ... )");
		return 0;
	}
	len = config_setting_length(s);
	for (i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);
		char ep[160];

		snprintf(ep, sizeof(ep), "%s[%d]", p, i);
		/* the bound before the write: out holds max addresses */
		if (n == max) {
			cfg_err(x, e, ep, "at most %zu addresses", max);
			break;
		}
		if (!v || parse_addr(v, &out[n], false) < 0) {
			cfg_err(x, e, ep, "expected an IP address");
			continue;
		}
		if (vips && config_addr_unusable(&out[n])) {
			cfg_err(x, e, ep, "\"%s\" is %s: not a VIP", v,
				config_addr_unusable(&out[n]));
			continue;
		}
		n++;
	}
	return n;
}

/* A prefix means its network: host bits are cleared. */
static void clear_host_bits(struct lbd_conf_addr *a)
{
	int bits = a->prefixlen, k;

	for (k = 0; k < 16; k++, bits -= 8) {
		if (bits >= 8)
			continue;
		a->addr.b[k] &= bits > 0 ? (__u8)(0xff << (8 - bits)) : 0;
	}
}

/* A list of prefixes of either family, host bits cleared (backend_node.
 * peers, kubernetes.vip_ranges); like: what a bad element was expected
 * to be. */
static size_t get_prefix_list(struct cfg_ctx *x, const config_setting_t *g,
			      const char *path, const char *name,
			      struct lbd_conf_addr *out, size_t max,
			      const char *like)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char p[128];
	size_t n = 0;
	int i, len;

	if (!s)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(x, s, p,
			"expected a list of prefixes ( \"...\", ... )");
		return 0;
	}
	len = config_setting_length(s);
	for (i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);
		struct lbd_conf_addr a;
		char ep[160];

		snprintf(ep, sizeof(ep), "%s[%d]", p, i);
		if (n == max) {
			cfg_err(x, e, ep, "at most %zu prefixes", max);
			break;
		}
		if (!v || parse_prefix(v, &a) < 0) {
			cfg_err(x, e, ep, "expected %s", like);
			continue;
		}
		clear_host_bits(&a);
		out[n++] = a;
	}
	return n;
}

static void parse_backend_node(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = {
		"interface",	"lb_sources", "vips", "flow_timeout",
		"flow_entries", "peers",      NULL
	};
	struct lbd_conf_backend_node *n = &x->c->node;
	long long v;

	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "backend_node", "expected a group { ... }");
		return;
	}
	check_members(x, g, "backend_node", allowed);
	copy_str(x, g, "backend_node", "interface", n->interface,
		 sizeof(n->interface));
	n->n_lb_sources = get_addr_list(x, g, "backend_node", "lb_sources",
					n->lb_sources, LBD_MAX_LB_SOURCES,
					false);
	n->n_vips = get_addr_list(x, g, "backend_node", "vips", n->vips,
				  LBD_MAX_NODE_VIPS, true);
	n->n_peers = get_prefix_list(x, g, "backend_node", "peers", n->peers,
				     LBD_BE_MAX_PEERS,
				     "an IP address or prefix like "
				     "198.18.0.0/24");
	if (get_int(x, g, "backend_node", "flow_timeout", 1, 7 * 86400, &v) >
	    0)
		n->flow_timeout = (__u32)v;
	if (get_int(x, g, "backend_node", "flow_entries", 1024, 1 << 26,
		    &v) > 0)
		n->flow_entries = (__u32)v;
	if (!n->interface[0])
		cfg_err(x, g, "backend_node.interface",
			"required: the NIC encapsulated traffic arrives on");
	if (!n->n_lb_sources && !config_setting_get_member(g, "lb_sources"))
		cfg_err(x, g, "backend_node.lb_sources",
			"required: the addresses LBs encapsulate from");
}

/* kubernetes = { ... }: where the cluster is and what to follow. The
 * kubeconfig's contents are read when lbd uses them (lbd/k8s/kubeconfig.c),
 * with its own file:line messages; here only that it can be read. */
static __u32 parse_health(struct cfg_ctx *x, const config_setting_t *g,
			  const char *path, __u32 base, __u8 proto);
static void validate_health(struct cfg_ctx *x, const struct lbd_conf_service *s,
			    struct lbd_conf_health *h, const char *p);

/* vip_ranges: where the cluster's VIPs may be (the pools MetalLB and
 * Cilium's LB IPAM allocate from); any namespace's user writes
 * spec.loadBalancerIP, so without a range no VIP of the cluster is
 * served. */
static void parse_vip_ranges(struct cfg_ctx *x, const config_setting_t *g,
			     struct lbd_conf_kubernetes *k)
{
	k->n_vip_ranges = get_prefix_list(x, g, "kubernetes", "vip_ranges",
					  k->vip_ranges, LBD_MAX_VIP_RANGES,
					  "an IP prefix like 203.0.113.0/24");
}

/* The setting name of g, else g itself (for the line of a message). */
static const config_setting_t *member_or(const config_setting_t *g,
					 const char *name)
{
	const config_setting_t *m = config_setting_get_member(g, name);

	return m ? m : g;
}

/* What one answer of the API server may take: past it the request is
 * aborted and retried, and the last known state keeps serving. */
static void parse_k8s_bounds(struct cfg_ctx *x, const config_setting_t *g,
			     struct lbd_conf_kubernetes *k)
{
	long long v;

	if (get_int(x, g, "kubernetes", "max_object_bytes", 4096, 1 << 30, &v) >
	    0)
		k->max_object_bytes = (__u32)v;
	if (get_int(x, g, "kubernetes", "max_watch_line_bytes", 4096, 1 << 30,
		    &v) > 0)
		k->max_watch_line_bytes = (__u32)v;
	if (get_int(x, g, "kubernetes", "max_list_page_bytes", 4096, 1 << 30,
		    &v) > 0)
		k->max_list_page_bytes = (__u32)v;
	/* an event and a page hold objects: smaller bounds would refuse
	 * objects that max_object_bytes allows */
	if (k->max_watch_line_bytes < k->max_object_bytes)
		cfg_err(x, member_or(g, "max_watch_line_bytes"),
			"kubernetes.max_watch_line_bytes",
			"%u is less than max_object_bytes (%u): an event "
			"holds an object",
			k->max_watch_line_bytes, k->max_object_bytes);
	if (k->max_list_page_bytes < k->max_object_bytes)
		cfg_err(x, member_or(g, "max_list_page_bytes"),
			"kubernetes.max_list_page_bytes",
			"%u is less than max_object_bytes (%u): a page "
			"holds objects",
			k->max_list_page_bytes, k->max_object_bytes);
}

/* node_role.pod_interfaces: glob patterns of interface names; the list
 * given replaces the default one (an empty list: no tc path). */
static void parse_pod_ifaces(struct cfg_ctx *x, config_setting_t *s,
			     struct lbd_conf_node_role *n)
{
	int i, len = config_setting_length(s);

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(x, s, "node_role.pod_interfaces",
			"expected a list of interface name patterns");
		return;
	}
	n->n_pod_ifaces = 0;
	for (i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *pat = config_setting_get_string(e);
		char p[64];

		snprintf(p, sizeof(p), "node_role.pod_interfaces[%d]", i);
		if (!pat || !*pat || strlen(pat) >= LBD_POD_IFACE_PATTERN_LEN) {
			cfg_err(x, e, p,
				"expected an interface name pattern (at most "
				"%d characters)",
				LBD_POD_IFACE_PATTERN_LEN - 1);
			continue;
		}
		if (n->n_pod_ifaces == LBD_MAX_POD_IFACE_PATTERNS) {
			cfg_err(x, e, p, "at most %d patterns",
				LBD_MAX_POD_IFACE_PATTERNS);
			break;
		}
		strcpy(n->pod_ifaces[n->n_pod_ifaces++], pat);
	}
}

/* node_role.interfaces: the NICs the NIC path is attached to (names);
 * given, they replace the default (the interfaces that hold the node's
 * addresses). */
static void parse_node_nics(struct cfg_ctx *x, config_setting_t *s,
			    struct lbd_conf_node_role *n)
{
	int i, j, len = config_setting_length(s);

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(x, s, "node_role.interfaces",
			"expected a list of interface names");
		return;
	}
	n->n_nics = 0;
	n->nics_set = true;
	for (i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *name = config_setting_get_string(e);
		char p[64];

		snprintf(p, sizeof(p), "node_role.interfaces[%d]", i);
		if (!name || !*name || strlen(name) >= LBD_NODE_NIC_NAME_LEN ||
		    strchr(name, '/')) {
			cfg_err(x, e, p,
				"expected an interface name (at most %d "
				"characters)",
				LBD_NODE_NIC_NAME_LEN - 1);
			continue;
		}
		for (j = 0; j < (int)n->n_nics; j++)
			if (!strcmp(n->nics[j], name))
				break;
		if (j < (int)n->n_nics) {
			cfg_err(x, e, p, "%s is named twice", name);
			continue;
		}
		if (n->n_nics == LBD_MAX_NODE_NICS) {
			cfg_err(x, e, p, "at most %d interfaces",
				LBD_MAX_NODE_NICS);
			break;
		}
		strcpy(n->nics[n->n_nics++], name);
	}
}

/* A Kubernetes label value, not empty: what a node's zone label can
 * be. */
static bool label_value_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[n - 1]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* node_role = { ... } (role = "node"). */
static void parse_node_role(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = { "cgroup",
					       "node_name",
					       "addresses",
					       "max_services",
					       "max_addresses",
					       "max_endpoints",
					       "reverse_entries",
					       "affinity_entries",
					       "pin_path",
					       "socket_lb",
					       "pod_interfaces",
					       "nat_entries",
					       "zone",
					       "interfaces",
					       "snat_ports",
					       "health_timeout",
					       "forwarding",
					       "dsr_sources",
					       "healthz_address",
					       NULL };
	static const char *const socket_lbs[] = { "all", "host-only", NULL };
	static const char *const fwds[] = { "snat", "geneve", NULL };
	struct lbd_conf_node_role *n = &x->c->node_role;
	config_setting_t *s;
	const char *zone;
	long long v;
	int choice;

	n->line = config_setting_source_line(g);
	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "node_role", "expected a group { ... }");
		return;
	}
	check_members(x, g, "node_role", allowed);
	copy_str(x, g, "node_role", "cgroup", n->cgroup, sizeof(n->cgroup));
	if (config_setting_get_member(g, "cgroup") && n->cgroup[0] != '/')
		cfg_err(x, config_setting_get_member(g, "cgroup"),
			"node_role.cgroup", "\"%s\" is not an absolute path",
			n->cgroup);
	copy_str(x, g, "node_role", "pin_path", n->pin_path,
		 sizeof(n->pin_path));
	if (config_setting_get_member(g, "pin_path") && n->pin_path[0] != '/')
		cfg_err(x, config_setting_get_member(g, "pin_path"),
			"node_role.pin_path", "\"%s\" is not an absolute path",
			n->pin_path);
	copy_str(x, g, "node_role", "node_name", n->node_name,
		 sizeof(n->node_name));
	if (config_setting_get_member(g, "node_name") && !n->node_name[0])
		cfg_err(x, config_setting_get_member(g, "node_name"),
			"node_role.node_name", "empty");
	copy_str(x, g, "node_role", "zone", n->zone, sizeof(n->zone));
	/* (a value of another type or too long is copy_str's error) */
	if (config_setting_lookup_string(g, "zone", &zone) &&
	    strlen(zone) < sizeof(n->zone) && !label_value_ok(n->zone))
		cfg_err(x, config_setting_get_member(g, "zone"),
			"node_role.zone",
			"\"%s\" is not a label value (1-63 letters, digits, "
			"'-', '_', '.'; a letter or digit first and last)",
			n->zone);
	/* NodePorts are served on them: each must be a unicast address */
	n->n_addrs = get_addr_list(x, g, "node_role", "addresses", n->addrs,
				   LBD_MAX_NODE_ADDRS, true);
	if (get_int(x, g, "node_role", "max_services", 1, 1 << 20, &v) > 0)
		n->max_services = (__u32)v;
	if (get_int(x, g, "node_role", "max_addresses", 1, 1 << 22, &v) > 0)
		n->max_addresses = (__u32)v;
	if (get_int(x, g, "node_role", "max_endpoints", 1, 1 << 22, &v) > 0)
		n->max_endpoints = (__u32)v;
	if (get_int(x, g, "node_role", "reverse_entries", 1024, 1 << 26, &v) >
	    0)
		n->reverse_entries = (__u32)v;
	if (get_int(x, g, "node_role", "affinity_entries", 1024, 1 << 26, &v) >
	    0)
		n->affinity_entries = (__u32)v;
	if (get_choice(x, g, "node_role", "socket_lb", socket_lbs, &choice) > 0)
		n->socket_lb = (enum lbd_socket_lb)choice;
	if (get_int(x, g, "node_role", "nat_entries", 1024, 1 << 26, &v) > 0)
		n->nat_entries = (__u32)v;
	s = config_setting_get_member(g, "pod_interfaces");
	if (s)
		parse_pod_ifaces(x, s, n);
	s = config_setting_get_member(g, "interfaces");
	if (s)
		parse_node_nics(x, s, n);
	get_port_range(x, g, "node_role", "snat_ports", &n->snat_port_min,
		       &n->snat_port_max);
	if (get_int(x, g, "node_role", "health_timeout", 1, 3600, &v) > 0)
		n->health_timeout_s = (__u32)v;
	if (get_choice(x, g, "node_role", "forwarding", fwds, &choice) > 0)
		n->forwarding = (enum lbd_node_fwd)choice;
	get_listen(x, g, "node_role", "healthz_address", n->healthz_address,
		   sizeof(n->healthz_address),
		   "ADDR:PORT, [ADDR]:PORT, \"\" or \"off\"");
	n->n_dsr_sources = get_prefix_list(x, g, "node_role", "dsr_sources",
					   n->dsr_sources,
					   LBD_MAX_NODE_DSR_SOURCES,
					   "an IP address or prefix like "
					   "198.18.0.0/24");
}

static void parse_kubernetes(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = { "kubeconfig",
					       "context",
					       "load_balancer_class",
					       "namespace",
					       "forwarding",
					       "health",
					       "vip_ranges",
					       "max_object_bytes",
					       "max_watch_line_bytes",
					       "max_list_page_bytes",
					       "flow_state",
					       NULL };
	static const char *const flows[] = { "lb", "backends", NULL };
	config_setting_t *hg;
	/* in enum lbd_fwd's order, from LBD_FWD_IPIP; hybrid needs a dsr
	 * choice that a Service has no place for */
	static const char *const fwds[] = { "ipip", "geneve", "snat", NULL };
	struct lbd_conf_kubernetes *k = &x->c->k8s;
	int choice;

	k->line = config_setting_source_line(g);
	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "kubernetes", "expected a group { ... }");
		return;
	}
	k->enabled = true;
	check_members(x, g, "kubernetes", allowed);
	copy_str(x, g, "kubernetes", "kubeconfig", k->kubeconfig,
		 sizeof(k->kubeconfig));
	copy_str(x, g, "kubernetes", "context", k->context,
		 sizeof(k->context));
	copy_str(x, g, "kubernetes", "load_balancer_class", k->lb_class,
		 sizeof(k->lb_class));
	copy_str(x, g, "kubernetes", "namespace", k->namespace,
		 sizeof(k->namespace));
	if (get_choice(x, g, "kubernetes", "forwarding", fwds, &choice) > 0)
		k->fwd = (__u8)(LBD_FWD_IPIP + choice);
	if (get_choice(x, g, "kubernetes", "flow_state", flows, &choice) > 0) {
		k->flow_backends = choice == 1;
		if (k->flow_backends && k->fwd == LBD_FWD_SNAT)
			cfg_err(x, config_setting_get_member(g, "flow_state"),
				"kubernetes.flow_state",
				"\"backends\" cannot go with forwarding = "
				"\"snat\": SNAT keeps its state on the LB");
	}
	parse_vip_ranges(x, g, k);
	parse_k8s_bounds(x, g, k);
	hg = config_setting_get_member(g, "health");
	if (hg) {
		/* one check for every Service; it decides, as for a
		 * service of the file, how it can go (a stand-in service
		 * of the check's protocol and the cluster's forwarding) */
		struct lbd_conf_service any = { .fwd = k->fwd,
						.proto = IPPROTO_TCP };

		k->health = parse_health(x, hg, "kubernetes", 0, IPPROTO_TCP);
		if (x->c->healths[k->health].type == LBD_HC_UDP_DNS)
			any.proto = IPPROTO_UDP;
		validate_health(x, &any, &x->c->healths[k->health],
				"kubernetes.health");
	}
	if (!config_setting_get_member(g, "kubeconfig"))
		cfg_err(x, g, "kubernetes.kubeconfig",
			"required: the kubeconfig file to reach the cluster "
			"with");
	else if (k->kubeconfig[0] && access(k->kubeconfig, R_OK))
		cfg_err(x, config_setting_get_member(g, "kubeconfig"),
			"kubernetes.kubeconfig", "%s: %s", k->kubeconfig,
			strerror(errno));
	else if (config_setting_get_member(g, "kubeconfig") &&
		 !k->kubeconfig[0])
		cfg_err(x, config_setting_get_member(g, "kubeconfig"),
			"kubernetes.kubeconfig", "empty");
	/* following every LoadBalancer Service would take over those
	 * that another load balancer implementation serves; a node
	 * follows every Service, whatever its class */
	if (x->c->role == LBD_ROLE_NODE) {
		static const char *const lb_only[] = {
			"load_balancer_class", "forwarding", "health",
			"vip_ranges",	       "flow_state", NULL
		};
		int i;

		char p[64];

		for (i = 0; lb_only[i]; i++) {
			snprintf(p, sizeof(p), "kubernetes.%s", lb_only[i]);
			if (config_setting_get_member(g, lb_only[i]))
				cfg_err(x,
					config_setting_get_member(g,
								  lb_only[i]),
					p, "not with role = \"node\"");
		}
	} else if (!config_setting_get_member(g, "load_balancer_class"))
		cfg_err(x, g, "kubernetes.load_balancer_class",
			"required: the spec.loadBalancerClass of the Services "
			"lbd serves (e.g. \"lbd.io/lb\")");
	else if (config_setting_get_member(g, "load_balancer_class") &&
		 !k->lb_class[0])
		cfg_err(x, config_setting_get_member(g, "load_balancer_class"),
			"kubernetes.load_balancer_class", "empty");
}

static int grow(struct cfg_ctx *x, void **arr, size_t n, size_t size)
{
	void *p;

	/* powers of two from 16 */
	if (n >= 16 && (n & (n - 1)))
		return 0;
	p = realloc(*arr, (n < 16 ? 16 : n * 2) * size);
	if (!p) {
		x->oom = 1;
		return -1;
	}
	*arr = p;
	return 0;
}

/* A duration in seconds, integer or fractional, into milliseconds. */
static int get_seconds(struct cfg_ctx *x, const config_setting_t *g,
		       const char *path, const char *name, __u32 min_ms,
		       __u32 max_ms, __u32 *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	double v;
	char p[256];

	if (!s)
		return 0;
	setting_path(p, sizeof(p), path, name);
	if (config_setting_type(s) == CONFIG_TYPE_INT)
		v = config_setting_get_int(s);
	else if (config_setting_type(s) == CONFIG_TYPE_INT64)
		v = (double)config_setting_get_int64(s);
	else if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
		v = config_setting_get_float(s);
	else {
		cfg_err(x, s, p, "expected seconds (like 2 or 0.5)");
		return -1;
	}
	if (v * 1000 < min_ms || v * 1000 > max_ms) {
		cfg_err(x, s, p, "%g out of range %g-%g seconds", v,
			min_ms / 1000.0, max_ms / 1000.0);
		return -1;
	}
	*out = (__u32)(v * 1000 + 0.5);
	return 1;
}

const char *config_hc_type_str(__u8 type)
{
	switch (type) {
	case LBD_HC_NONE:
		return "none";
	case LBD_HC_TCP:
		return "tcp";
	case LBD_HC_HTTP:
		return "http";
	case LBD_HC_UDP_DNS:
		return "udp-dns";
	}
	return "?";
}

const char *config_hc_via_str(__u8 via)
{
	switch (via) {
	case LBD_HC_VIA_DATAPATH:
		return "datapath";
	case LBD_HC_VIA_ADDRESS:
		return "address";
	}
	return "auto";
}

/*
 * A health group (of a service, or of a backend overriding its
 * service's): the settings given replace those of base. Returns the index
 * of the new entry in healths, or base when the group is unusable.
 */
static __u32 parse_health(struct cfg_ctx *x, const config_setting_t *g,
			  const char *path, __u32 base, __u8 proto)
{
	static const char *const allowed[] = {
		"type", "via", "port", "path", "host", "expect_status", "query",
		"interval", "timeout", "rise", "fall", NULL
	};
	static const char *const types[] = { "none", "tcp", "http", "udp-dns",
					     NULL };
	static const char *const vias[] = { "datapath", "address", NULL };
	struct lbd_config *c = x->c;
	struct lbd_conf_health h;
	char p[192];
	long long v;
	int choice;

	snprintf(p, sizeof(p), "%s.health", path);
	if (!config_setting_is_group(g)) {
		cfg_err(x, g, p, "expected a group { type = ...; }");
		return base;
	}
	check_members(x, g, p, allowed);
	h = c->healths[base];
	h.file = x->file;
	h.line = config_setting_source_line(g);
	if (get_choice(x, g, p, "type", types, &choice) > 0)
		h.type = (__u8)choice;
	else if (!config_setting_get_member(g, "type") &&
		 h.type == LBD_HC_NONE) {
		/* a group without a type checks what it can: a TCP
		 * service by connecting; a UDP one has no such default */
		if (proto == IPPROTO_TCP)
			h.type = LBD_HC_TCP;
		else
			cfg_err(x, g, p,
				"type is required for a UDP service "
				"(udp-dns, or tcp or http to a port of the "
				"backends)");
	}
	if (get_choice(x, g, p, "via", vias, &choice) > 0)
		h.via = (__u8)(LBD_HC_VIA_DATAPATH + choice);
	if (get_int(x, g, p, "port", 1, 65535, &v) > 0)
		h.port = (__u16)v;
	copy_str(x, g, p, "path", h.path, sizeof(h.path));
	if (h.path[0] != '/')
		cfg_err(x, config_setting_get_member(g, "path"), p,
			"path: \"%s\" does not start with '/'", h.path);
	copy_str(x, g, p, "host", h.host, sizeof(h.host));
	if (get_int(x, g, p, "expect_status", 100, 599, &v) > 0)
		h.expect_status = (__u16)v;
	copy_str(x, g, p, "query", h.query, sizeof(h.query));
	if (!h.query[0])
		cfg_err(x, config_setting_get_member(g, "query"), p,
			"query: a DNS name is required (\".\" for the root)");
	get_seconds(x, g, p, "interval", 100, 3600 * 1000, &h.interval_ms);
	get_seconds(x, g, p, "timeout", 50, 3600 * 1000, &h.timeout_ms);
	if (get_int(x, g, p, "rise", 1, 100, &v) > 0)
		h.rise = (__u8)v;
	if (get_int(x, g, p, "fall", 1, 100, &v) > 0)
		h.fall = (__u8)v;
	if (h.timeout_ms > h.interval_ms)
		cfg_err(x, g, p,
			"timeout %g s is longer than interval %g s: a check "
			"must end before the next one starts",
			h.timeout_ms / 1000.0, h.interval_ms / 1000.0);
	if (grow(x, (void **)&c->healths, c->n_healths, sizeof(h)))
		return base;
	c->healths[c->n_healths] = h;
	return (__u32)c->n_healths++;
}

/* An address that can be neither VIP nor backend is an error; it is kept
 * out of the checks that follow (family 0). */
static void unusable(struct cfg_ctx *x, const config_setting_t *g,
		     const char *path, const char *name,
		     struct lbd_conf_addr *a, const char *what)
{
	char p[256], s[INET6_ADDRSTRLEN + 8];

	setting_path(p, sizeof(p), path, name);
	cfg_err(x, config_setting_get_member(g, name), p,
		"\"%s\" is %s: not %s", config_addr_str(a, s, sizeof(s)),
		config_addr_unusable(a), what);
	a->family = 0;
}

static void parse_backend(struct cfg_ctx *x, const config_setting_t *g,
			  const char *path, struct lbd_conf_backend *b,
			  const struct lbd_conf_service *svc)
{
	static const char *const allowed[] = { "address", "port", "weight",
					       "state", "health", NULL };
	static const char *const states[] = { "active", "draining", "down",
					      NULL };
	long long v;
	int r, st;

	memset(b, 0, sizeof(*b));
	b->weight = 1;
	b->health = svc->health;
	b->file = x->file;
	b->line = config_setting_source_line(g);
	if (!config_setting_is_group(g)) {
		cfg_err(x, g, path, "expected a group { address = ...; }");
		return;
	}
	check_members(x, g, path, allowed);
	r = get_addr(x, g, path, "address", false, &b->addr);
	if (r == 0)
		cfg_err(x, g, path, "address is required");
	else if (r > 0 && config_addr_unusable(&b->addr))
		unusable(x, g, path, "address", &b->addr, "a backend");
	r = get_int(x, g, path, "port", 1, 65535, &v);
	if (r > 0)
		b->port = (__u16)v;
	else if (r < 0)
		b->addr.family = 0; /* reported; kept out of the checks */
	if (get_int(x, g, path, "weight", 0, 65535, &v) > 0)
		b->weight = (__u32)v;
	if (get_choice(x, g, path, "state", states, &st) > 0)
		b->state = (enum lbd_conf_state)st;
	if (config_setting_get_member(g, "health"))
		b->health = parse_health(x, config_setting_get_member(g,
								     "health"),
					 path, svc->health, svc->proto);
}

static bool name_ok(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++) {
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '-' || *n == '_' ||
		      *n == '.'))
			return false;
	}
	return true;
}

/* source_ranges: prefixes, kept with their length, host bits cleared. */
static void parse_ranges(struct cfg_ctx *x, const config_setting_t *g,
			 const char *path, struct lbd_conf_service *svc)
{
	config_setting_t *s = config_setting_get_member(g, "source_ranges");
	struct lbd_config *c = x->c;
	int i, n;

	if (!s)
		return;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(x, s, path, "source_ranges: expected a list of "
				    "prefixes ( \"...\", ... )");
		return;
	}
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);
		struct lbd_conf_addr a;
		char p[192];

		snprintf(p, sizeof(p), "%s.source_ranges[%d]", path, i);
		if (!v || parse_prefix(v, &a) < 0) {
			cfg_err(x, e, p, "expected an IP prefix like "
					 "192.0.2.0/24");
			continue;
		}
		clear_host_bits(&a);
		if (grow(x, (void **)&c->ranges, c->n_ranges, sizeof(a)))
			return;
		c->ranges[c->n_ranges++] = a;
	}
	svc->n_ranges = c->n_ranges - svc->first_range;
}

static void parse_service(struct cfg_ctx *x, const config_setting_t *g,
			  int idx)
{
	static const char *const allowed[] = {
		"name", "vip", "port", "protocol", "forwarding", "backends",
		"no_backend", "icmp_echo", "dsr", "source_ranges",
		"source_ranges_mode", "session_affinity", "affinity_timeout",
		"health", "flow_state", "udp_flow_state", "maglev_table_size",
		NULL
	};
	static const char *const flows[] = { "lb", "backends", NULL };
	static const char *const uflows[] = { "lb", "none", NULL };
	static const char *const protos[] = { "tcp", "udp", NULL };
	/* in enum lbd_fwd's order, from LBD_FWD_IPIP */
	static const char *const fwds[] = { "ipip", "geneve", "snat",
					    "hybrid", NULL };
	static const char *const dsrs[] = { "ipip", "geneve", NULL };
	static const char *const nbs[] = { "reject", "drop", NULL };
	static const char *const modes[] = { "allow", "deny", NULL };
	static const char *const affs[] = { "none", "client_ip", NULL };
	struct lbd_config *c = x->c;
	struct lbd_conf_service *svc;
	config_setting_t *bl;
	char path[128];
	const char *name;
	long long v;
	int i, n, r, choice;

	if (grow(x, (void **)&c->services, c->n_services, sizeof(*svc)))
		return;
	svc = &c->services[c->n_services];
	memset(svc, 0, sizeof(*svc));
	svc->proto = IPPROTO_TCP;
	svc->fwd = LBD_FWD_IPIP;
	svc->dsr = LBD_FWD_IPIP;
	svc->icmp_echo = true;
	svc->affinity_timeout = 10800; /* Kubernetes' default */
	svc->file = x->file;
	svc->line = config_setting_source_line(g);
	svc->first_backend = c->n_backends;
	svc->first_range = c->n_ranges;

	/* name the service in messages by its name when it has one */
	if (config_setting_is_group(g) &&
	    get_string(x, g, "", "name", &name) > 0 && name_ok(name) &&
	    strlen(name) < LBD_NAME_MAX)
		snprintf(path, sizeof(path), "services[%s]", name);
	else
		snprintf(path, sizeof(path), "services[%d]", idx);

	if (!config_setting_is_group(g)) {
		cfg_err(x, g, path, "expected a group { vip = ...; }");
		return;
	}
	check_members(x, g, path, allowed);
	if (get_string(x, g, path, "name", &name) > 0) {
		if (!name_ok(name) || strlen(name) >= LBD_NAME_MAX)
			cfg_err(x, config_setting_get_member(g, "name"), path,
				"name \"%s\": use up to %d letters, digits, "
				"'-', '_' or '.'",
				name, LBD_NAME_MAX - 1);
		else
			strcpy(svc->name, name);
	}
	if (get_string(x, g, path, "vip", &name) > 0 && !strcmp(name, "*"))
		svc->wildcard = true;
	else if ((r = get_addr(x, g, path, "vip", false, &svc->vip)) == 0)
		cfg_err(x, g, path, "vip is required");
	else if (r > 0 && config_addr_unusable(&svc->vip))
		unusable(x, g, path, "vip", &svc->vip, "a VIP");
	if (get_int(x, g, path, "port", 1, 65535, &v) > 0)
		svc->port = (__u16)v;
	else if (!config_setting_get_member(g, "port"))
		cfg_err(x, g, path, "port is required");
	if (get_choice(x, g, path, "protocol", protos, &choice) > 0)
		svc->proto = choice == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	if (get_choice(x, g, path, "forwarding", fwds, &choice) > 0)
		svc->fwd = (__u8)(LBD_FWD_IPIP + choice);
	if (get_choice(x, g, path, "dsr", dsrs, &choice) > 0) {
		svc->dsr = (__u8)(LBD_FWD_IPIP + choice);
		if (svc->fwd != LBD_FWD_HYBRID)
			cfg_err(x, config_setting_get_member(g, "dsr"), path,
				"dsr: only with forwarding = \"hybrid\"");
	}
	if (get_choice(x, g, path, "source_ranges_mode", modes, &choice) > 0)
		svc->src_mode = (enum lbd_src_mode)choice;
	if (get_choice(x, g, path, "session_affinity", affs, &choice) > 0)
		svc->affinity = choice == 1;
	if (get_int(x, g, path, "affinity_timeout", 1, 86400, &v) > 0)
		svc->affinity_timeout = (__u32)v;
	parse_ranges(x, g, path, svc);
	if (get_choice(x, g, path, "flow_state", flows, &choice) > 0)
		svc->flow_backends = choice == 1;
	if (get_choice(x, g, path, "udp_flow_state", uflows, &choice) > 0)
		svc->udp_stateless = choice == 1;
	if (config_setting_get_member(g, "maglev_table_size"))
		svc->maglev_size = get_maglev_size(x, g, path);
	if (get_choice(x, g, path, "no_backend", nbs, &choice) > 0)
		svc->no_backend = (enum lbd_no_backend)choice;
	get_bool(x, g, path, "icmp_echo", &svc->icmp_echo);
	if (config_setting_get_member(g, "health"))
		svc->health = parse_health(x, config_setting_get_member(g,
								       "health"),
					   path, 0, svc->proto);
	if (!svc->name[0]) {
		char a[LBD_CONF_ADDR_STRLEN] = "*";

		if (!svc->wildcard)
			config_addr_str(&svc->vip, a, sizeof(a));
		snprintf(svc->name, sizeof(svc->name), "%s:%u/%s", a,
			 svc->port, config_proto_str(svc->proto));
	}

	bl = config_setting_get_member(g, "backends");
	if (bl && !config_setting_is_list(bl)) {
		cfg_err(x, bl, path, "backends: expected a list ( { ... } )");
		bl = NULL;
	}
	n = bl ? config_setting_length(bl) : 0;
	for (i = 0; i < n; i++) {
		char bpath[192];

		if (grow(x, (void **)&c->backends, c->n_backends,
			 sizeof(*c->backends)))
			return;
		snprintf(bpath, sizeof(bpath), "%s.backends[%d]", path, i);
		parse_backend(x, config_setting_get_elem(bl, i), bpath,
			      &c->backends[c->n_backends], svc);
		c->n_backends++;
	}
	svc->n_backends = c->n_backends - svc->first_backend;
	c->n_services++;
}

static void parse_services(struct cfg_ctx *x, const config_setting_t *l)
{
	int i, n;

	if (!config_setting_is_list(l)) {
		cfg_err(x, l, "services", "expected a list ( { ... }, ... )");
		return;
	}
	n = config_setting_length(l);
	for (i = 0; i < n; i++)
		parse_service(x, config_setting_get_elem(l, i), i);
}

/* "A:B" (standard) or "A:B:C" (large) communities, a list of strings. */
static void parse_communities(struct cfg_ctx *x, const config_setting_t *g,
			      const char *path, bool large,
			      struct lbd_conf_bgp_attrs *a)
{
	const char *name = large ? "large_communities" : "communities";
	config_setting_t *s = config_setting_get_member(g, name);
	char p[192];
	int i, n;

	if (!s)
		return;
	snprintf(p, sizeof(p), "%s.%s", path, name);
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err(x, s, p, "expected a list of \"%s\" strings",
			large ? "ASN:X:Y" : "ASN:X");
		return;
	}
	if (large)
		a->n_large = 0;
	else
		a->n_communities = 0;
	n = config_setting_length(s);
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		const char *v = config_setting_get_string(e);
		unsigned long long f[3];
		char ep[224], tail;
		int k, got;

		snprintf(ep, sizeof(ep), "%s[%d]", p, i);
		got = v ? sscanf(v, "%llu:%llu:%llu%c", &f[0], &f[1], &f[2],
				 &tail)
			: 0;
		for (k = 0; k < got && k < 3; k++)
			if (f[k] > (large ? 0xffffffffull : 0xffffull))
				got = -1;
		if (got != (large ? 3 : 2) || (v && strspn(v, "0123456789:") !=
							   strlen(v))) {
			cfg_err(x, e, ep, "%s",
				large ? "expected \"ASN:X:Y\", three numbers "
					"up to 4294967295"
				      : "expected \"ASN:X\", two numbers up "
					"to 65535");
			continue;
		}
		if ((large ? a->n_large : a->n_communities) ==
		    LBD_BGP_MAX_COMMUNITIES) {
			cfg_err(x, e, ep, "at most %d", LBD_BGP_MAX_COMMUNITIES);
			break;
		}
		if (large) {
			a->large[a->n_large][0] = (__u32)f[0];
			a->large[a->n_large][1] = (__u32)f[1];
			a->large[a->n_large][2] = (__u32)f[2];
			a->n_large++;
		} else {
			a->communities[a->n_communities][0] = (__u16)f[0];
			a->communities[a->n_communities][1] = (__u16)f[1];
			a->n_communities++;
		}
	}
}

/* The attributes a VIP entry and the bgp group (as defaults) share. */
static void parse_bgp_attrs(struct cfg_ctx *x, const config_setting_t *g,
			    const char *path, struct lbd_conf_bgp_attrs *a)
{
	long long v;

	get_bool(x, g, path, "announce", &a->announce);
	if (get_int(x, g, path, "min_healthy", 1, 1 << 24, &v) > 0)
		a->min_healthy = (__u32)v;
	parse_communities(x, g, path, false, a);
	parse_communities(x, g, path, true, a);
	if (get_int(x, g, path, "med", 0, 0xffffffffll, &v) > 0) {
		a->has_med = true;
		a->med = (__u32)v;
	}
	if (get_int(x, g, path, "local_pref", 0, 0xffffffffll, &v) > 0) {
		a->has_local_pref = true;
		a->local_pref = (__u32)v;
	}
	if (get_int(x, g, path, "as_path_prepend", 0, 16, &v) > 0)
		a->prepend = (__u8)v;
}

#define BGP_ATTR_SETTINGS                                                     \
	"announce", "min_healthy", "communities", "large_communities", "med", \
		"local_pref", "as_path_prepend"

static void parse_bgp(struct cfg_ctx *x, const config_setting_t *g)
{
	static const char *const allowed[] = { "socket", "file", "asn",
					       "shutdown_delay", "vips",
					       BGP_ATTR_SETTINGS, NULL };
	static const char *const vip_allowed[] = { "address",
						   BGP_ATTR_SETTINGS, NULL };
	struct lbd_conf_bgp *b = &x->c->bgp;
	config_setting_t *l;
	long long v;
	int i, n;

	if (!config_setting_is_group(g)) {
		cfg_err(x, g, "bgp", "expected a group { ... }");
		return;
	}
	b->enabled = true;
	check_members(x, g, "bgp", allowed);
	copy_str(x, g, "bgp", "socket", b->socket, sizeof(b->socket));
	if (b->socket[0] != '/')
		cfg_err(x, config_setting_get_member(g, "socket"), "bgp.socket",
			"\"%s\" is not an absolute path", b->socket);
	copy_str(x, g, "bgp", "file", b->file, sizeof(b->file));
	if (b->file[0] != '/')
		cfg_err(x, config_setting_get_member(g, "file"), "bgp.file",
			"\"%s\" is not an absolute path", b->file);
	if (get_int(x, g, "bgp", "asn", 1, 0xffffffffll, &v) > 0)
		b->asn = (__u32)v;
	get_seconds(x, g, "bgp", "shutdown_delay", 0, 600 * 1000,
		    &b->shutdown_delay_ms);
	parse_bgp_attrs(x, g, "bgp", &b->defaults);

	l = config_setting_get_member(g, "vips");
	if (l && !config_setting_is_list(l)) {
		cfg_err(x, l, "bgp.vips", "expected a list ( { ... } )");
		l = NULL;
	}
	n = l ? config_setting_length(l) : 0;
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(l, i);
		struct lbd_conf_bgp_vip *bv;
		char p[64];

		snprintf(p, sizeof(p), "bgp.vips[%d]", i);
		if (!config_setting_is_group(e)) {
			cfg_err(x, e, p, "expected a group { address = ...; }");
			continue;
		}
		if (grow(x, (void **)&b->vips, b->n_vips, sizeof(*bv)))
			return;
		bv = &b->vips[b->n_vips];
		memset(bv, 0, sizeof(*bv));
		bv->attrs = b->defaults;
		bv->line = config_setting_source_line(e);
		check_members(x, e, p, vip_allowed);
		if (get_addr(x, e, p, "address", false, &bv->addr) == 0)
			cfg_err(x, e, p, "address is required");
		parse_bgp_attrs(x, e, p, &bv->attrs);
		if (bv->addr.family)
			b->n_vips++;
	}
}

static int add_file(struct lbd_config *c, const char *path)
{
	char(*f)[PATH_MAX] = realloc(c->files, (c->n_files + 1) * sizeof(*f));

	if (!f)
		return -ENOMEM;
	c->files = f;
	snprintf(c->files[c->n_files], PATH_MAX, "%s", path);
	return (int)c->n_files++;
}

/* Reads one file (or text); main says whether it may set more than
 * services. */
static int parse_one(struct cfg_ctx *x, const char *path, const char *text,
		     bool main)
{
	static const char *const main_allowed[] = {
		"role",	     "backend_node",	 "datapath",  "control",
		"processes", "include_dir",	 "services",  "kubernetes",
		"bgp",	     "reload_on_change", "node_role", NULL
	};
	static const char *const roles[] = { "lb", "backend", "node", NULL };
	config_setting_t *root, *s;
	config_t cf;
	int i, idx, ok;

	idx = add_file(x->c, path);
	if (idx < 0)
		return idx;
	x->file = (__u32)idx;
	config_init(&cf);
	ok = text ? config_read_string(&cf, text) : config_read_file(&cf, path);
	if (ok != CONFIG_TRUE) {
		char msg[1024];

		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			snprintf(msg, sizeof(msg), "%s: cannot read: %s", path,
				 strerror(errno ? errno : ENOENT));
		else
			snprintf(msg, sizeof(msg), "%s:%d: syntax: %s",
				 config_error_file(&cf) ? config_error_file(&cf)
							: path,
				 config_error_line(&cf), config_error_text(&cf));
		diag_add(x->diag, msg, &x->oom);
		config_destroy(&cf);
		if (main)
			x->main_unread = true;
		return 0;
	}
	root = config_root_setting(&cf);
	if (main) {
		check_members(x, root, "", main_allowed);
	} else {
		/* the datapath is the main file's: say so, not "unknown" */
		for (i = 0; i < config_setting_length(root); i++) {
			s = config_setting_get_elem(root, i);
			if (strcmp(config_setting_name(s), "services"))
				cfg_err(x, s, config_setting_name(s),
					"only services may be set in an "
					"include_dir file");
		}
	}
	if (main) {
		int role;

		if (get_choice(x, root, "", "role", roles, &role) > 0)
			x->c->role = (enum lbd_role)role;
		s = config_setting_get_member(root, "backend_node");
		if (s && x->c->role != LBD_ROLE_BACKEND)
			cfg_err(x, s, "backend_node",
				"only with role = \"backend\"");
		else if (s)
			parse_backend_node(x, s);
		else if (x->c->role == LBD_ROLE_BACKEND)
			cfg_err(x, root, "backend_node",
				"required with role = \"backend\"");
		s = config_setting_get_member(root, "node_role");
		if (s && x->c->role != LBD_ROLE_NODE)
			cfg_err(x, s, "node_role", "only with role = \"node\"");
		else if (s)
			parse_node_role(x, s);
		if (x->c->role == LBD_ROLE_NODE) {
			/* a node's Services are the cluster's */
			static const char *const lb_only[] = { "services",
							       "include_dir",
							       "bgp", NULL };

			for (i = 0; lb_only[i]; i++) {
				s = config_setting_get_member(root, lb_only[i]);
				if (s)
					cfg_err(x, s, lb_only[i],
						"not with role = \"node\"");
			}
			if (!config_setting_get_member(root, "kubernetes"))
				cfg_err(x,
					config_setting_get_member(root, "role"),
					"kubernetes",
					"required with role = \"node\": "
					"the cluster's Services");
		} else if (x->c->role == LBD_ROLE_BACKEND) {
			s = config_setting_get_member(root, "services");
			if (s)
				cfg_err(x, s, "services",
					"a backend serves no services of its "
					"own (role = \"backend\")");
			s = config_setting_get_member(root, "include_dir");
			if (s)
				cfg_err(x, s, "include_dir",
					"not with role = \"backend\"");
			s = config_setting_get_member(root, "kubernetes");
			if (s)
				cfg_err(x, s, "kubernetes",
					"not with role = \"backend\"");
			s = config_setting_get_member(root, "bgp");
			if (s)
				cfg_err(x, s, "bgp",
					"a backend announces no VIPs (role = "
					"\"backend\")");
		} else if (x->c->role == LBD_ROLE_LB) {
			s = config_setting_get_member(root, "bgp");
			if (s) {
				x->bgp_line = config_setting_source_line(s);
				parse_bgp(x, s);
			}
		}
		s = config_setting_get_member(root, "datapath");
		if (s) {
			config_setting_t *ifs =
				config_setting_is_group(s) ?
					config_setting_get_member(s,
								  "interface") :
					NULL;
			const char *v = ifs ? config_setting_get_string(ifs) :
					      NULL;

			x->dp_line = config_setting_source_line(s);
			/* given but invalid (or in a datapath that is no
			 * group) is reported as such, not as missing; ""
			 * is missing */
			x->dp_interface = !config_setting_is_group(s) ||
					  (ifs && (!v || *v));
			parse_datapath(x, s);
		}
		s = config_setting_get_member(root, "control");
		if (s)
			parse_control(x, s);
		s = config_setting_get_member(root, "processes");
		if (s)
			parse_processes(x, s);
		s = config_setting_get_member(root, "kubernetes");
		if (s && x->c->role != LBD_ROLE_BACKEND)
			parse_kubernetes(x, s);
		copy_str(x, root, "", "include_dir", x->c->include_dir,
			 sizeof(x->c->include_dir));
		get_bool(x, root, "", "reload_on_change",
			 &x->c->reload_on_change);
		s = config_setting_get_member(root, "include_dir");
		if (s)
			x->include_line = config_setting_source_line(s);
	}
	s = config_setting_get_member(root, "services");
	if (s)
		parse_services(x, s);
	config_destroy(&cf);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_include_dir(struct cfg_ctx *x)
{
	const char *dir = x->c->include_dir;
	char **names = NULL, path[PATH_MAX], msg[PATH_MAX + 64];
	size_t n = 0, i;
	struct dirent *e;
	DIR *d;
	int err = 0;

	d = opendir(dir);
	if (!d) {
		snprintf(msg, sizeof(msg), "%s:%u: include_dir: %s: %s",
			 x->c->files[0], x->include_line, dir, strerror(errno));
		diag_add(x->diag, msg, &x->oom);
		return 0;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char **nn;

		if (len < 6 || strcmp(e->d_name + len - 5, ".conf") ||
		    e->d_name[0] == '.')
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn || !(nn[n] = strdup(e->d_name))) {
			if (nn)
				names = nn;
			err = -ENOMEM;
			break;
		}
		names = nn;
		n++;
	}
	closedir(d);
	if (!err) {
		qsort(names, n, sizeof(*names), name_cmp);
		for (i = 0; i < n && !err; i++) {
			if (snprintf(path, sizeof(path), "%s/%s", dir,
				     names[i]) >= (int)sizeof(path))
				continue;
			err = parse_one(x, path, NULL, false);
		}
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

int config_addr_cmp(const struct lbd_conf_addr *a,
		    const struct lbd_conf_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

int config_endpoint_cmp(const struct lbd_conf_addr *a, __u16 a_port,
			const struct lbd_conf_addr *b, __u16 b_port)
{
	int c = config_addr_cmp(a, b);

	if (c)
		return c;
	return a_port < b_port ? -1 : a_port > b_port;
}

/* The forwarding a service's packets get: hybrid is DSR for TCP and SNAT
 * for UDP, and a service has one protocol. */
static __u8 effective_fwd(const struct lbd_conf_service *s)
{
	if (s->fwd == LBD_FWD_HYBRID)
		return s->proto == IPPROTO_TCP ? s->dsr : LBD_FWD_SNAT;
	return s->fwd;
}

static void validate_backend(struct cfg_ctx *x, const struct lbd_conf_service *s,
			     __u8 vfam, struct lbd_conf_backend *be, size_t j,
			     const char *p)
{
	const struct lbd_config *c = x->c;
	struct lbd_conf_backend *b = &be[j];
	__u8 fwd = effective_fwd(s);
	char a[64], bp[LBD_SVC_NAME_MAX + 48];
	size_t k;

	snprintf(bp, sizeof(bp), "%s.backends[%zu]", p, j);
	if (!b->port)
		b->port = s->port;
	for (k = 0; k < j; k++) {
		if (!config_addr_cmp(&be[k].addr, &b->addr) && be[k].port == b->port) {
			cfg_err_line(x, b->line, bp,
				     "duplicate of backends[%zu] (%s port %u)",
				     k, config_addr_str(&b->addr, a, sizeof(a)),
				     b->port);
			break;
		}
	}
	config_addr_str(&b->addr, a, sizeof(a));
	switch (fwd) {
	case LBD_FWD_IPIP:
		if (s->port && b->port != s->port)
			cfg_err_line(x, b->line, bp,
				     "port %u differs from the service port "
				     "%u: ipip does not translate ports (use "
				     "geneve)",
				     b->port, s->port);
		if (vfam == LBD_AF_INET6 && b->addr.family == LBD_AF_INET)
			cfg_err_line(x, b->line, bp,
				     "an IPv6 VIP cannot reach the IPv4 backend "
				     "%s (6-in-4 is not supported)",
				     a);
		break;
	case LBD_FWD_GENEVE:
		if (b->addr.family != vfam)
			cfg_err_line(x, b->line, bp,
				     "%s is not of the VIP's family: geneve "
				     "translates addresses within one family",
				     a);
		break;
	case LBD_FWD_SNAT:
		if (b->addr.family != vfam)
			cfg_err_line(x, b->line, bp,
				     "%s is not of the VIP's family: snat "
				     "translates addresses within one family",
				     a);
		else if (!(vfam == LBD_AF_INET ? c->dp.snat_v4.family
					       : c->dp.snat_v6.family))
			cfg_err_line(x, b->line, bp,
				     "snat needs datapath.snat_source_v%d (or "
				     "a single encap_source_v%d)",
				     vfam == LBD_AF_INET ? 4 : 6,
				     vfam == LBD_AF_INET ? 4 : 6);
		return;
	}
	if (b->addr.family == LBD_AF_INET && !c->dp.encap_v4.family)
		cfg_err_line(x, b->line, bp,
			     "IPv4 backend needs datapath.encap_source_v4");
	if (b->addr.family == LBD_AF_INET6 && !c->dp.encap_v6.family)
		cfg_err_line(x, b->line, bp,
			     "IPv6 backend needs datapath.encap_source_v6");
}

/* A DSR forwarding: packets reach the backend encapsulated, addressed to
 * the VIP, which is what a check through the datapath needs. */
static bool fwd_is_dsr(__u8 fwd)
{
	return fwd == LBD_FWD_IPIP || fwd == LBD_FWD_GENEVE;
}

/*
 * A health entry in the context of its service: "auto" becomes datapath
 * where a check can go the way traffic goes (a DSR service with a VIP of
 * its own, the check's protocol the service's, no port of its own), else
 * address; "datapath" asked for where it cannot is an error.
 */
static void validate_health(struct cfg_ctx *x, const struct lbd_conf_service *s,
			    struct lbd_conf_health *h, const char *p)
{
	__u8 want_proto = h->type == LBD_HC_UDP_DNS ? IPPROTO_UDP : IPPROTO_TCP;
	const char *why = NULL;

	if (h->type == LBD_HC_NONE || !h->line)
		return;
	if (s->wildcard)
		why = "vip \"*\" is the LB host's own address, which its "
		      "checks cannot leave by";
	else if (!fwd_is_dsr(effective_fwd(s)))
		why = "snat forwarding sends no encapsulated packets to "
		      "check with";
	else if (want_proto != s->proto)
		why = want_proto == IPPROTO_TCP
			      ? "a tcp or http check needs a TCP service"
			      : "a udp-dns check needs a UDP service";
	else if (h->port)
		why = "the check goes to the service port, as traffic does "
		      "(a port of its own needs via = \"address\")";
	if (h->via == LBD_HC_VIA_AUTO)
		h->via = why ? LBD_HC_VIA_ADDRESS : LBD_HC_VIA_DATAPATH;
	else if (h->via == LBD_HC_VIA_DATAPATH && why)
		cfg_err_line(x, h->line, p, "via = \"datapath\": %s", why);
}

/* A VIP lbd could announce: the VIP of a service of its own. */
static bool is_service_vip(const struct lbd_config *c,
			   const struct lbd_conf_addr *a)
{
	size_t i;

	for (i = 0; i < c->n_services; i++)
		if (!c->services[i].wildcard && !config_addr_cmp(&c->services[i].vip, a))
			return true;
	return false;
}

static bool attrs_prepend(const struct lbd_conf_bgp *b)
{
	size_t i;

	if (b->defaults.prepend)
		return true;
	for (i = 0; i < b->n_vips; i++)
		if (b->vips[i].attrs.prepend)
			return true;
	return false;
}

static void validate_bgp(struct cfg_ctx *x)
{
	struct lbd_conf_bgp *b = &x->c->bgp;
	char a[64], p[64];
	size_t i, j;

	x->file = 0;
	for (i = 0; i < b->n_vips; i++) {
		snprintf(p, sizeof(p), "bgp.vips[%zu]", i);
		config_addr_str(&b->vips[i].addr, a, sizeof(a));
		for (j = 0; j < i; j++)
			if (!config_addr_cmp(&b->vips[j].addr, &b->vips[i].addr))
				break;
		if (j < i)
			cfg_err_line(x, b->vips[i].line, p,
				     "%s is already bgp.vips[%zu]", a, j);
		else if (!is_service_vip(x->c, &b->vips[i].addr))
			cfg_err_line(x, b->vips[i].line, p,
				     "%s is not the VIP of any service", a);
	}
	if (!b->asn && attrs_prepend(b))
		cfg_err_line(x, x->bgp_line, "bgp.asn",
			     "required with as_path_prepend: the AS number "
			     "prepended (the LB host's own)");
}

/* Checks across settings and files, once everything is read. */
/* Duplicate services, found by sorting (a config may hold 10,000). */
struct svc_dup {
	size_t key, name; /* the first service with the same; n: none */
};

static const struct lbd_config *dup_cfg; /* for the qsort comparators */

static int svc_key_order(const struct lbd_conf_service *x,
			 const struct lbd_conf_service *y)
{
	int c;

	if (x->vip.family != y->vip.family)
		return x->vip.family < y->vip.family ? -1 : 1;
	c = memcmp(&x->vip.addr, &y->vip.addr, sizeof(x->vip.addr));
	if (c)
		return c;
	if (x->wildcard != y->wildcard)
		return x->wildcard ? 1 : -1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return 0;
}

static int svc_key_cmp(const void *a, const void *b)
{
	int c = svc_key_order(&dup_cfg->services[*(size_t *)a],
			      &dup_cfg->services[*(size_t *)b]);

	if (c)
		return c;
	return *(size_t *)a < *(size_t *)b ? -1 : 1;
}

static int svc_name_cmp(const void *a, const void *b)
{
	int c = strcmp(dup_cfg->services[*(size_t *)a].name,
		       dup_cfg->services[*(size_t *)b].name);

	if (c)
		return c;
	return *(size_t *)a < *(size_t *)b ? -1 : 1;
}

/*
 * For every service, the first one before it with the same VIP, port and
 * protocol, and the first with the same name. A VIP or port that is
 * missing or invalid was reported already (family or port 0): no key
 * duplicate then. Names made from the key hold a ':', which a given name
 * may not: equal keys are reported as such, invalid ones already.
 */
static struct svc_dup *find_dups(const struct lbd_config *c)
{
	size_t n = c->n_services, i, *ord = malloc((n + 1) * sizeof(*ord));
	struct svc_dup *d = malloc((n + 1) * sizeof(*d));

	if (!ord || !d) {
		free(ord);
		free(d);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		ord[i] = i;
		d[i].key = d[i].name = n;
	}
	dup_cfg = c;
	qsort(ord, n, sizeof(*ord), svc_key_cmp);
	for (i = 1; i < n; i++) {
		const struct lbd_conf_service *s = &c->services[ord[i]];
		size_t first = d[ord[i - 1]].key < n ? d[ord[i - 1]].key
						      : ord[i - 1];

		if ((s->vip.family || s->wildcard) && s->port &&
		    !svc_key_order(&c->services[ord[i - 1]], s))
			d[ord[i]].key = first;
	}
	qsort(ord, n, sizeof(*ord), svc_name_cmp);
	for (i = 1; i < n; i++) {
		const struct lbd_conf_service *s = &c->services[ord[i]];
		size_t first = d[ord[i - 1]].name < n ? d[ord[i - 1]].name
						       : ord[i - 1];

		if (!strcmp(c->services[ord[i - 1]].name, s->name) &&
		    !strchr(s->name, ':'))
			d[ord[i]].name = first;
	}
	dup_cfg = NULL;
	free(ord);
	return d;
}

static void validate(struct cfg_ctx *x)
{
	struct lbd_config *c = x->c;
	char a[64], p[LBD_SVC_NAME_MAX + 16];
	struct svc_dup *dup;
	size_t i, j;

	/* SNAT leaves from the encapsulation source unless told otherwise */
	if (!c->dp.snat_v4.family && c->dp.encap_v4.family &&
	    c->dp.encap_v4.prefixlen == 32)
		c->dp.snat_v4 = c->dp.encap_v4;
	if (!c->dp.snat_v6.family && c->dp.encap_v6.family &&
	    c->dp.encap_v6.prefixlen == 128)
		c->dp.snat_v6 = c->dp.encap_v6;

	dup = find_dups(c);
	if (!dup) {
		cfg_err_line(x, 0, "services", "out of memory");
		return;
	}
	for (i = 0; i < c->n_services; i++) {
		struct lbd_conf_service *s = &c->services[i];
		/* no backends anywhere: the array is NULL, and an offset
		 * into NULL is undefined even when it is 0 */
		struct lbd_conf_backend *be =
			c->backends ? &c->backends[s->first_backend] : NULL;
		char file_line[PATH_MAX + 16];
		__u8 vfam = s->vip.family;

		x->file = s->file;
		snprintf(p, sizeof(p), "services[%s]", s->name);

		/* the first earlier service with the same key or name */
		j = dup[i].key < dup[i].name ? dup[i].key : dup[i].name;
		if (j < i) {
			const struct lbd_conf_service *o = &c->services[j];

			snprintf(file_line, sizeof(file_line), "%s:%u",
				 c->files[o->file], o->line);
			if (j == dup[i].key)
				cfg_err_line(x, s->line, p,
					     "%s:%u/%s is already the service "
					     "\"%s\" (%s)",
					     s->wildcard
						     ? "*"
						     : config_addr_str(&s->vip, a,
								       sizeof(a)),
					     s->port, config_proto_str(s->proto),
					     o->name, file_line);
			else
				cfg_err_line(x, s->line, p,
					     "name already used (%s)",
					     file_line);
		}

		if (s->wildcard) {
			/* every address of the interface of the backends'
			 * family, as a NodePort listens on every address */
			if (s->port && (s->port < c->dp.nodeport_min ||
					s->port > c->dp.nodeport_max))
				cfg_err_line(x, s->line, p,
					     "port %u of vip \"*\" is outside "
					     "datapath.nodeport_ports %u-%u",
					     s->port, c->dp.nodeport_min,
					     c->dp.nodeport_max);
			if (effective_fwd(s) == LBD_FWD_IPIP)
				cfg_err_line(x, s->line, p,
					     "vip \"*\" cannot use ipip: "
					     "backends would have to own the "
					     "LB host's addresses (use geneve, "
					     "snat or hybrid with dsr geneve)");
			for (j = 0; j < s->n_backends; j++) {
				if (!vfam)
					vfam = be[j].addr.family;
				else if (be[j].addr.family &&
					 be[j].addr.family != vfam) {
					cfg_err_line(x, be[j].line, p,
						     "the backends of vip "
						     "\"*\" must be of one "
						     "family");
					/* no follow-on errors per backend */
					vfam = 0;
					break;
				}
			}
			s->vip.family = 0;
		}

		if (s->flow_backends && s->proto != IPPROTO_TCP)
			cfg_err_line(x, s->line, p,
				     "flow_state = \"backends\" is for TCP "
				     "services (UDP: udp_flow_state)");
		else if (s->flow_backends && effective_fwd(s) == LBD_FWD_SNAT)
			cfg_err_line(x, s->line, p,
				     "flow_state = \"backends\" cannot go with "
				     "snat: SNAT keeps its state on the LB");
		else if (s->flow_backends && s->affinity)
			cfg_err_line(x, s->line, p,
				     "flow_state = \"backends\" cannot go with "
				     "session_affinity: the affinity is state "
				     "on the LB");
		if (s->udp_stateless && s->proto != IPPROTO_UDP)
			cfg_err_line(x, s->line, p,
				     "udp_flow_state is for UDP services");
		else if (s->udp_stateless && effective_fwd(s) == LBD_FWD_SNAT)
			cfg_err_line(x, s->line, p,
				     "udp_flow_state = \"none\" cannot go with "
				     "snat: SNAT keeps its state on the LB");
		for (j = 0; j < s->n_backends; j++)
			if (be[j].addr.family && vfam)
				validate_backend(x, s, vfam, be, j, p);
		{
			char hp[sizeof(p) + 16];

			snprintf(hp, sizeof(hp), "%s.health", p);
			validate_health(x, s, &c->healths[s->health], hp);
		}
		for (j = 0; j < s->n_backends; j++) {
			char bp[sizeof(p) + 48];

			if (be[j].health == s->health)
				continue;
			snprintf(bp, sizeof(bp), "%s.backends[%zu].health", p, j);
			validate_health(x, s, &c->healths[be[j].health], bp);
		}
	}
	free(dup);
	if (c->bgp.enabled)
		validate_bgp(x);
	if (c->role == LBD_ROLE_LB && !x->dp_interface) {
		x->file = 0;
		cfg_err_line(x, x->dp_line, "datapath.interface",
			     "required: the edge NIC to attach to");
	}
	/* at the first service (backend) over the limit */
	if (c->n_services > c->dp.max_services) {
		const struct lbd_conf_service *over =
			&c->services[c->dp.max_services];

		x->file = over->file;
		cfg_err_line(x, over->line, "services",
			     "%zu services, more than datapath.max_services "
			     "(%u)",
			     c->n_services, c->dp.max_services);
	}
	if (c->n_backends > c->dp.max_backends) {
		const struct lbd_conf_backend *over =
			&c->backends[c->dp.max_backends];

		x->file = over->file;
		cfg_err_line(x, over->line, "services",
			     "%zu backends, more than datapath.max_backends "
			     "(%u)",
			     c->n_backends, c->dp.max_backends);
	}
}

void config_defaults(struct lbd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->dp.xdp_mode = LBD_XDP_AUTO;
	c->dp.maglev_table_size = LBD_DEFAULT_MAGLEV_SIZE;
	c->dp.conntrack_entries = LBD_DEFAULT_CT_ENTRIES;
	c->dp.max_services = LBD_DEFAULT_MAX_SERVICES;
	c->dp.max_backends = LBD_DEFAULT_MAX_BACKENDS;
	c->dp.max_vips = LBD_DEFAULT_MAX_VIPS;
	c->dp.udp_timeout = 60;
	c->dp.tcp_timeout = 3600;
	c->dp.icmp_rate = 100;
	strcpy(c->dp.pin_path, LBD_DEFAULT_PIN_PATH);
	strcpy(c->control.socket, LBD_DEFAULT_SOCKET);
	strcpy(c->control.metrics_listen, LBD_DEFAULT_METRICS);
	c->control.max_clients = LBD_DEFAULT_MAX_CLIENTS;
	c->control.metrics_backends = true;
	strcpy(c->processes.user, LBD_DEFAULT_USER);
	c->dp.snat_port_min = 61000;
	c->dp.snat_port_max = 65535;
	c->dp.nat_entries = 262144;
	c->dp.affinity_entries = 262144;
	c->dp.nodeport_min = 30000;
	c->dp.nodeport_max = 32767;
	c->dp.flow_report_port = LBD_DEFAULT_FLOW_REPORT_PORT;
	c->k8s.fwd = LBD_FWD_GENEVE;
	c->k8s.max_object_bytes = LBD_K8S_MAX_OBJECT_BYTES;
	c->k8s.max_watch_line_bytes = LBD_K8S_MAX_WATCH_LINE_BYTES;
	c->k8s.max_list_page_bytes = LBD_K8S_MAX_LIST_PAGE_BYTES;
	c->node.flow_timeout = 3600;
	c->node.flow_entries = 262144;
	strcpy(c->node_role.pin_path, LBD_NODE_DEFAULT_PIN_PATH);
	c->node_role.max_services = LBD_NODE_DEFAULT_MAX_SERVICES;
	c->node_role.max_addresses = LBD_NODE_DEFAULT_MAX_ADDRS;
	c->node_role.max_endpoints = LBD_NODE_DEFAULT_MAX_BACKENDS;
	c->node_role.reverse_entries = LBD_NODE_DEFAULT_REVERSE;
	c->node_role.affinity_entries = LBD_NODE_DEFAULT_AFFINITY;
	c->node_role.nat_entries = LBD_NODE_DEFAULT_NAT;
	/* kube-proxy's healthTimeout: 2 x its default syncPeriod, 30 s */
	c->node_role.health_timeout_s = 60;
	strcpy(c->node_role.healthz_address, LBD_NODE_DEFAULT_HEALTHZ);
	/* above the kernel's ip_local_port_range (32768-60999) */
	c->node_role.snat_port_min = 61000;
	c->node_role.snat_port_max = 65535;
	/* the host sides of veth pairs as plain CNIs, Cilium and Calico
	 * name them */
	strcpy(c->node_role.pod_ifaces[0], "veth*");
	strcpy(c->node_role.pod_ifaces[1], "lxc*");
	strcpy(c->node_role.pod_ifaces[2], "cali*");
	c->node_role.n_pod_ifaces = 3;
	strcpy(c->bgp.socket, LBD_DEFAULT_BIRD_SOCKET);
	strcpy(c->bgp.file, LBD_DEFAULT_BIRD_FILE);
	c->bgp.shutdown_delay_ms = 5000;
	c->bgp.defaults.announce = true;
	c->bgp.defaults.min_healthy = 1;
}

/* What a health group starts from: no check, and the defaults of the
 * settings a check type uses. */
static const struct lbd_conf_health health_none = {
	.type = LBD_HC_NONE,
	.via = LBD_HC_VIA_AUTO,
	.expect_status = 200,
	.rise = 2,
	.fall = 3,
	.interval_ms = 2000,
	.timeout_ms = 1000,
	.path = "/",
	.query = ".",
};

const struct lbd_conf_health *config_health(const struct lbd_config *c,
					    const struct lbd_conf_backend *b)
{
	return &c->healths[b->health];
}

const struct lbd_conf_bgp_attrs *config_bgp_attrs(const struct lbd_config *c,
						  __u8 family,
						  const union lbd_addr *vip)
{
	size_t i;

	for (i = 0; i < c->bgp.n_vips; i++)
		if (c->bgp.vips[i].addr.family == family &&
		    !memcmp(&c->bgp.vips[i].addr.addr, vip, sizeof(*vip)))
			return &c->bgp.vips[i].attrs;
	return &c->bgp.defaults;
}

static int config_load_common(const char *path, const char *text,
			      struct lbd_config **out,
			      struct config_diag *diag)
{
	struct cfg_ctx x = { 0 };
	struct lbd_config *c;
	int err;

	memset(diag, 0, sizeof(*diag));
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	config_defaults(c);
	c->healths = malloc(16 * sizeof(*c->healths));
	if (!c->healths) {
		free(c);
		return -ENOMEM;
	}
	c->healths[0] = health_none;
	c->n_healths = 1;
	x.c = c;
	x.diag = diag;
	err = parse_one(&x, path, text, true);
	if (!err && c->include_dir[0])
		err = parse_include_dir(&x);
	if (!err && !x.main_unread)
		validate(&x);
	if (!err && x.oom)
		err = -ENOMEM;
	if (!err && diag->n)
		err = -EINVAL;
	if (err) {
		config_free(c);
		return err;
	}
	*out = c;
	return 0;
}

int config_load(const char *path, struct lbd_config **out,
		struct config_diag *diag)
{
	return config_load_common(path, NULL, out, diag);
}

int config_load_string(const char *text, const char *name,
		       struct lbd_config **out, struct config_diag *diag)
{
	return config_load_common(name, text, out, diag);
}

void config_free(struct lbd_config *c)
{
	if (!c)
		return;
	free(c->services);
	free(c->backends);
	free(c->ranges);
	free(c->healths);
	free(c->bgp.vips);
	free(c->files);
	free(c);
}

void config_diag_free(struct config_diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	d->msgs = NULL;
	d->n = 0;
}
