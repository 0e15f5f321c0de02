/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Private to lbd/ctl: the handlers of lbctl's requests (one file per
 * command family) and the helpers they share.
 */
#ifndef LBD_CTL_INT_H
#define LBD_CTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "control.h"

/* The applied config and the datapath, as the daemon holds them now. */
static inline const struct lbd_config *ctl_cfg(const struct ctl_ctx *x)
{
	return *x->cfg;
}

static inline struct lbd_dp *ctl_dp(const struct ctl_ctx *x)
{
	return *x->dp;
}

/* "lb", "backend", "node": lbctl status's and the metrics' role. */
static inline const char *ctl_role_name(const struct lbd_config *c)
{
	return c->role == LBD_ROLE_BACKEND ? "backend" :
	       c->role == LBD_ROLE_NODE	   ? "node" :
					     "lb";
}

#ifndef LBD_VERSION
#define LBD_VERSION "?"
#endif

#define jstr(s) json_object_new_string(s)
#define jint(i) json_object_new_int64((int64_t)(i))
#define jbool(b) json_object_new_boolean(b)
#define jdbl(x) json_object_new_double(x)
#define jadd(o, k, v) json_object_object_add(o, k, v)

/* The reasons of the shared header: label, description, enum name. */
extern const char *const ctl_reason_labels[];
extern const char *const ctl_reason_descs[];
extern const char *const ctl_reason_enums[];
const char *ctl_reason_kind(int r);

const char *ctl_addr_str(__u8 family, const union lbd_addr *a, char *buf,
			 size_t len);
const char *ctl_hostport_str(__u8 family, const union lbd_addr *a, __u16 port,
			     char *buf, size_t len);
const char *ctl_be_label(const struct st_backend *b, char *buf, size_t len);
const char *ctl_proto_str(__u8 proto);
const char *ctl_be_state_str(__u8 s);
/* What the daemon says of reloads and the attachment (zero if nothing). */
void ctl_info_get(const struct ctl_ctx *x, struct ctl_info *out);
double ctl_uptime_s(const struct ctl_info *in);
double ctl_start_time_s(const struct ctl_info *in);

/* Whether family, a and port are what hp names (any, when not given;
 * any port, when hp has none). */
bool ctl_hp_matches(const struct lbd_msg_addr *hp, __u8 family,
		    const union lbd_addr *a, __u16 port);

/* -- backends by id, flows per backend ----------------------------------- */

/* Backends by id, for one request (the state does not change during
 * it). */
struct be_ref {
	const struct st_service *s;
	const struct st_backend *b;
};

struct be_ref *ctl_be_index(const struct ctl_ctx *x);
const struct be_ref *ctl_ct_backend(const struct be_ref *idx, __u32 max,
				    const struct lbd_ct *v);

struct flows_count {
	struct ctl_ctx *x;
	__u32 *per_be; /* live entries per backend id */
	__u32 now;
	unsigned long entries[2], live[2]; /* ipv4, ipv6 */
};

int ctl_count_flows(struct ctl_ctx *x, struct flows_count *c);

/* -- what status, services, backends and metrics share (ctl_status.c) ---- */

size_t ctl_drains_count(const struct ctl_ctx *x);
struct json_object *ctl_apply_json(const struct ctl_ctx *x);
struct json_object *ctl_k8s_json(struct ctl_ctx *x);
void ctl_bgp_json(struct ctl_ctx *x, struct json_object *out);
struct json_object *ctl_traffic_json(const struct lbd_traffic *t);
size_t ctl_active_backends(const struct st_service *s);
const char *ctl_flow_state_str(const struct st_service *s);
const char *ctl_udp_flow_state_str(const struct st_service *s);
void ctl_service_json(struct ctl_ctx *x, const struct st_service *s,
		      struct json_object *o);
void ctl_health_be_json(struct ctl_ctx *x, const struct st_service *s,
			const struct st_backend *b, bool flat,
			struct json_object *o);
void ctl_backend_json(struct ctl_ctx *x, const struct st_service *s,
		      const struct st_backend *b, const __u32 *flows,
		      double share, bool flat, struct json_object *o);
double *ctl_shares_of(struct ctl_ctx *x, const struct st_service *s);
int ctl_read_reasons(struct ctl_ctx *x, struct lbd_counter *c);

/* -- the monitor (ctl_monitor.c) ---------------------------------------- */

void ctl_mon_send(struct ctl_ctx *x, struct json_object *ev);
void ctl_mon_close(struct ctl_ctx *x);
int ctl_mon_arm(struct ctl_ctx *x, __u32 mask);

/* -- the handlers: answer into out, or an error into err ----------------- */

int ctl_status(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	       struct json_object *out, char *err, size_t errlen);
int ctl_services(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		 struct json_object *out, char *err, size_t errlen);
int ctl_backends(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		 struct json_object *out, char *err, size_t errlen);
int ctl_stats(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	      struct json_object *out, char *err, size_t errlen);
int ctl_conntrack(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		  struct json_object *out, char *err, size_t errlen);
int ctl_conntrack_flush(struct ctl_ctx *x, const struct lbd_ctl_req *req,
			struct json_object *out, char *err, size_t errlen);
int ctl_monitor_set(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		    struct json_object *out, char *err, size_t errlen);
int ctl_drain(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	      struct json_object *out, char *err, size_t errlen);
int ctl_undrain(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen);
int ctl_explain(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen);
int ctl_metrics(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen);
int ctl_reload(struct ctl_ctx *x, const struct lbd_ctl_req *req,
	       struct json_object *out, char *err, size_t errlen);

/* o, as JSON text, in a message of type to the io process; false when
 * it could not go (no io process, or past the channel's bounds). */
bool ctl_io_send_json(struct ctl_ctx *x, __u16 type, struct json_object *o);

#endif /* LBD_CTL_INT_H */
