// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl explain: what the maps predict for a flow, and what the live
 * program does with it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl_int.h"
#include "explain.h"
#include "ctwalk.h"

static const char *xdp_action_str(int a)
{
	static const char *const n[] = { "aborted", "drop", "pass", "tx",
					 "redirect" };

	return a >= 0 && a <= 4 ? n[a] : "?";
}

static const struct st_backend *find_be(const struct st_service *s, __u32 id)
{
	size_t j;

	for (j = 0; s && j < s->n_be; j++)
		if (s->be[j].id == id)
			return &s->be[j];
	return NULL;
}

/* The service's backend the forwarded packet went to: by outer
 * destination, and port where the forwarding shows it; among backends
 * alike, the one the maps predict. */
static const struct st_backend *be_of_output(const struct st_service *s,
					     const struct explain_out *o,
					     __u32 predicted)
{
	const struct st_backend *hit = NULL;
	size_t j;

	for (j = 0; s && j < s->n_be; j++) {
		const struct st_backend *b = &s->be[j];

		if (b->addr.family != o->family ||
		    memcmp(&b->addr.addr, &o->dst, sizeof(o->dst)) ||
		    (o->dst_port && o->dst_port != b->port))
			continue;
		if (!hit || b->id == predicted)
			hit = b;
	}
	return hit;
}

/* xdp/svc.h fwd_of and xdp/lb.bpf.c stateless: whether the program
 * forwards the service's flows of proto with no conntrack. */
static bool svc_stateless(const struct st_service *s, __u8 proto)
{
	__u8 fwd = s->fwd;

	if (fwd == LBD_FWD_HYBRID)
		fwd = proto == IPPROTO_TCP ? s->dsr : LBD_FWD_SNAT;
	if (fwd == LBD_FWD_SNAT)
		return false;
	return proto == IPPROTO_TCP ? s->flags & LBD_SVC_F_FLOW_BACKENDS :
				      s->flags & LBD_SVC_F_UDP_STATELESS;
}

/* The flow's Maglev slot (explain_maglev) into mg; returns the owner,
 * and in prev_named the previous owner the program names (LBD_NO_ID:
 * none). */
static __u32 explain_slot(struct ctl_ctx *x, const struct st_service *s,
			  const struct explain_flow *f, bool stateless,
			  struct json_object *mg, __u32 *prev_named)
{
	const struct st_backend *owner, *prev;
	char l[INET6_ADDRSTRLEN + 10];
	struct explain_slot sl;

	*prev_named = LBD_NO_ID;
	if (explain_maglev(ctl_dp(x), f, dp_opts(ctl_dp(x))->knobs.hash_seed,
			   &sl) ||
	    !sl.m)
		return LBD_NO_ID;
	owner = find_be(s, sl.owner);
	prev = find_be(s, sl.prev);
	jadd(mg, "hash", jint(sl.hash));
	jadd(mg, "table_size", jint(sl.m));
	jadd(mg, "slot", jint(sl.slot));
	jadd(mg, "client_port_hashed", jbool(!f->affinity));
	jadd(mg, "backend",
	     owner ? jstr(ctl_be_label(owner, l, sizeof(l))) : NULL);
	jadd(mg, "previous_owner",
	     prev ? jstr(ctl_be_label(prev, l, sizeof(l))) : NULL);
	if (stateless && f->proto == IPPROTO_TCP) {
		if (sl.prev_named)
			*prev_named = sl.prev;
		jadd(mg, "previous_owner_named", jbool(sl.prev_named));
	}
	return sl.owner;
}

/* Whether the option the run wrote names the previous owner the table
 * predicted (prev, LBD_NO_ID: none), address and port. */
static bool sc_as_predicted(const struct st_service *s,
			    const struct explain_out *o, __u32 prev)
{
	const struct st_backend *b = find_be(s, prev);

	if (!(o->sc_flags & LBD_SC_F_PREV))
		return prev == LBD_NO_ID;
	return b && b->addr.family == o->sc_prev_family &&
	       !memcmp(&b->addr.addr, &o->sc_prev,
		       b->addr.family == LBD_AF_INET ? 4 : 16) &&
	       b->port == o->sc_prev_port;
}

int ctl_explain(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		struct json_object *out, char *err, size_t errlen)
{
	const struct lbd_msg_addr *client = &req->client, *vip = &req->vip;
	struct explain_flow f = { 0 };
	struct explain_out o;
	struct lbd_svc_addr key;
	const struct st_service *s;
	const struct st_backend *chosen = NULL, *ct_be = NULL;
	const struct st_backend *aff_be = NULL;
	struct json_object *affj = NULL;
	struct json_object *ctj = json_object_new_object();
	struct json_object *mg = json_object_new_object();
	struct json_object *fl = json_object_new_object();
	struct json_object *counted = json_object_new_array();
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];
	struct lbd_ct ct;
	struct lbd_aff aff;
	__u32 predicted = LBD_NO_ID, slot_id = LBD_NO_ID;
	__u32 prev_named = LBD_NO_ID;
	bool ct_usable = false, aff_usable = false, stateless = false;
	int r;

	if (ctl_cfg(x)->role == LBD_ROLE_NODE) {
		r = -ENODEV;
		if (!x->node_explain)
			goto fail;
		r = x->node_explain(x->arg, req, out, err, errlen);
		goto fail; /* the lb role's objects go unused */
	}
	if (req->sock_cookie || req->netns_cookie) {
		snprintf(err, errlen,
			 "explain: a cookie or netns is the node role's");
		r = -EINVAL;
		goto fail;
	}
	if (!client->port) {
		snprintf(err, errlen, "client: CLIENT:PORT needs a port");
		r = -EINVAL;
		goto fail;
	}
	if (!client->family || client->family != vip->family ||
	    (req->proto != IPPROTO_TCP && req->proto != IPPROTO_UDP)) {
		r = -EINVAL;
		goto fail;
	}
	f.family = client->family;
	f.proto = req->proto;
	f.client = client->addr;
	f.vip = vip->addr;
	f.client_port = client->port;
	f.vip_port = vip->port;
	memset(&key, 0, sizeof(key));
	key.family = f.family;
	key.proto = f.proto;
	key.port = htons(f.vip_port);
	key.vip = f.vip;
	s = state_find(x->st, &key);
	f.svc_id = s ? s->id : LBD_NO_ID;
	f.affinity = s && (s->flags & LBD_SVC_F_AFFINITY);
	stateless = s && svc_stateless(s, f.proto);

	/* why, part one: what the maps say before the run; a stateless
	 * service's program looks at neither conntrack nor affinity */
	jadd(ctj, "consulted", jbool(!stateless));
	if (stateless) {
		jadd(ctj, "exists", jbool(false));
	} else if (explain_ct_lookup(ctl_dp(x), &f, &ct) == 0) {
		ct_be = find_be(s, ct.backend_id);
		ct_usable = dp_ct_live(ctl_dp(x), f.proto, &ct, dp_ct_now()) &&
			    ct_be && ct_be->gen == ct.backend_gen &&
			    (ct_be->dp_state == LBD_BE_ACTIVE ||
			     ct_be->dp_state == LBD_BE_DRAINING);
		jadd(ctj, "exists", jbool(true));
		jadd(ctj, "usable", jbool(ct_usable));
		jadd(ctj, "backend",
		     ct_be ? jstr(ctl_be_label(ct_be, l, sizeof(l))) : NULL);
		jadd(ctj, "idle_s", jint((__s32)(dp_ct_now() - ct.last_seen)));
		jadd(ctj, "closing", jbool(ct.flags & LBD_CT_F_CLOSING));
		if (ct_usable)
			predicted = ct.backend_id;
	} else {
		jadd(ctj, "exists", jbool(false));
	}
	if (f.affinity && !stateless) {
		/* xdp/select.h affinity_pick: the client's backend while it
		 * is active and the client was seen within the timeout */
		affj = json_object_new_object();
		if (explain_aff_lookup(ctl_dp(x), &f, &aff) == 0) {
			aff_be = find_be(s, aff.backend_id);
			aff_usable = !lbd_idle_over(dp_ct_now(), aff.last_seen,
						    s->affinity_timeout) &&
				     aff_be && aff_be->gen == aff.backend_gen &&
				     aff_be->dp_state == LBD_BE_ACTIVE;
			jadd(affj, "exists", jbool(true));
			jadd(affj, "usable", jbool(aff_usable));
			jadd(affj, "backend",
			     aff_be ? jstr(ctl_be_label(aff_be, l, sizeof(l))) :
				      NULL);
			jadd(affj, "idle_s",
			     jint((__s32)(dp_ct_now() - aff.last_seen)));
			if (aff_usable && predicted == LBD_NO_ID)
				predicted = aff.backend_id;
		} else {
			jadd(affj, "exists", jbool(false));
		}
	}
	if (s && s->table_size) {
		slot_id = explain_slot(x, s, &f, stateless, mg, &prev_named);
	}
	if (predicted == LBD_NO_ID)
		predicted = slot_id;

	/* the answer: the live program on the probe */
	r = explain_run(ctl_dp(x), *x->ifindex, &f, &o);
	if (r) {
		snprintf(err, errlen, "running the program: %s", strerror(-r));
		goto fail;
	}
	if (o.forwarded)
		chosen = be_of_output(s, &o, predicted);
	for (r = 0; r < LBD_REASON_MAX; r++)
		if (o.counted[r].packets)
			json_object_array_add(counted,
					      jstr(ctl_reason_labels[r]));
	r = 0;

	jadd(fl, "client",
	     jstr(ctl_addr_str(f.family, &f.client, a, sizeof(a))));
	jadd(fl, "client_port", jint(f.client_port));
	jadd(fl, "vip", jstr(ctl_addr_str(f.family, &f.vip, a, sizeof(a))));
	jadd(fl, "port", jint(f.vip_port));
	jadd(fl, "proto", jstr(ctl_proto_str(f.proto)));
	jadd(out, "flow", fl);
	jadd(out, "service", s ? jstr(s->name) : NULL);
	if (s) {
		jadd(out, "flow_state", jstr(ctl_flow_state_str(s)));
		jadd(out, "udp_flow_state", jstr(ctl_udp_flow_state_str(s)));
		jadd(out, "stateless", jbool(stateless));
	}
	jadd(out, "verdict", jstr(xdp_action_str(o.action)));
	if (o.forwarded) {
		jadd(out, "encap", jstr(o.encap ? o.encap : "?"));
		jadd(out, "outer_destination",
		     jstr(ctl_addr_str(o.family, &o.dst, a, sizeof(a))));
		if (o.inner_ip)
			jadd(out, "inner", jstr("ip"));
	}
	if (o.sc) {
		/* lbd's option as the program wrote it: what the owner's
		 * companion passes a segment on to */
		struct json_object *sc = json_object_new_object();
		bool named = o.sc_flags & LBD_SC_F_PREV;

		jadd(sc, "flags", jint(o.sc_flags));
		jadd(sc, "previous_owner",
		     named ? jstr(ctl_addr_str(o.sc_prev_family, &o.sc_prev, a,
					       sizeof(a))) :
			     NULL);
		jadd(sc, "previous_port", named ? jint(o.sc_prev_port) : NULL);
		jadd(sc, "predicted",
		     jbool(sc_as_predicted(s, &o, prev_named)));
		jadd(out, "option", sc);
	}
	if (chosen) {
		struct json_object *b = json_object_new_object();

		jadd(b, "backend", jstr(ctl_be_label(chosen, l, sizeof(l))));
		jadd(b, "address",
		     jstr(ctl_addr_str(chosen->addr.family, &chosen->addr.addr,
				       a, sizeof(a))));
		jadd(b, "port", jint(chosen->port));
		jadd(b, "state", jstr(ctl_be_state_str(chosen->dp_state)));
		jadd(out, "backend", b);
	} else {
		jadd(out, "backend", NULL);
	}
	if (!chosen)
		jadd(out, "why", jstr("none"));
	else if (ct_usable && chosen->id == ct.backend_id)
		jadd(out, "why", jstr("conntrack"));
	else if (aff_usable && chosen->id == aff.backend_id)
		jadd(out, "why", jstr("affinity"));
	else if (chosen->id == slot_id)
		jadd(out, "why", jstr("maglev"));
	else {
		/* the maps changed between the reads and the run (a reload,
		 * a drain); the run is what traffic got */
		jadd(out, "why", jstr("changed"));
	}
	jadd(out, "conntrack", ctj);
	if (affj)
		jadd(out, "affinity", affj);
	jadd(out, "maglev", mg);
	jadd(out, "counted", counted);
	return 0;
fail:
	json_object_put(affj);
	json_object_put(ctj);
	json_object_put(mg);
	json_object_put(fl);
	json_object_put(counted);
	return r;
}
