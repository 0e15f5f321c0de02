// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl monitor: the program's ring buffer, relayed to the io process. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "control.h"
#include "ctl_int.h"
#include "monitor.h"
#include "proc.h"
#include "log.h"

/* Events read from the ring buffer per loop iteration: the loop (and the
 * watchdog) is never held up by a flood of drops. */
#define MON_BUDGET 256
/* Past this backlog towards the io process, events are dropped (and
 * counted) rather than queued. */
#define MON_BACKLOG (4u << 20)

void ctl_mon_send(struct ctl_ctx *x, struct json_object *ev)
{
	struct json_object *m;

	if (!*x->io || proc_pending(*x->io) > MON_BACKLOG) {
		x->mon.lost++;
		json_object_put(ev);
		return;
	}
	m = json_object_new_object();
	jadd(m, "event", ev);
	if (!ctl_io_send_json(x, LBD_MSG_MON_EVENT, m))
		x->mon.lost++;
	json_object_put(m);
}

/* Event time: the program stamps CLOCK_MONOTONIC; clients want wall
 * time. */
static double event_time(__u64 ts_ns)
{
	struct timespec mono, real;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	return (double)real.tv_sec + real.tv_nsec / 1e9 -
	       ((double)mono.tv_sec + mono.tv_nsec / 1e9 - ts_ns / 1e9);
}

static int mon_event(void *arg, const struct lbd_event *e)
{
	struct ctl_ctx *x = arg;
	struct json_object *o;
	char a[INET6_ADDRSTRLEN], l[INET6_ADDRSTRLEN + 10];

	o = json_object_new_object();
	jadd(o, "type", jstr(e->type == LBD_EVENT_DROP ? "drop" : "new_flow"));
	jadd(o, "time", jdbl(event_time(e->ts_ns)));
	jadd(o, "reason",
	     jstr(e->reason < LBD_REASON_MAX ? ctl_reason_labels[e->reason] :
					       "?"));
	jadd(o, "ifindex", jint(e->ifindex));
	jadd(o, "len", jint(e->len));
	if (e->family == LBD_AF_INET || e->family == LBD_AF_INET6) {
		struct lbd_svc_addr key = { .family = e->family,
					    .proto = e->proto,
					    .port = e->dport,
					    .vip = e->daddr };
		const struct st_service *s = state_find(x->st, &key);

		jadd(o, "proto", jstr(ctl_proto_str(e->proto)));
		jadd(o, "client",
		     jstr(ctl_addr_str(e->family, &e->saddr, a, sizeof(a))));
		jadd(o, "client_port", jint(ntohs(e->sport)));
		jadd(o, "vip",
		     jstr(ctl_addr_str(e->family, &e->daddr, a, sizeof(a))));
		jadd(o, "port", jint(ntohs(e->dport)));
		jadd(o, "service", s ? jstr(s->name) : NULL);
	}
	if (e->backend_id != LBD_NO_ID && ctl_dp(x)) {
		struct lbd_backend b;

		if (dp_backend_get(ctl_dp(x), e->backend_id, &b) == 0)
			jadd(o, "backend",
			     jstr(ctl_hostport_str(b.family, &b.addr,
						   ntohs(b.port), l,
						   sizeof(l))));
	}
	ctl_mon_send(x, o);
	/* a negative return stops libbpf's consume after this event (it
	 * is consumed); the rest waits for the next loop iteration */
	return --x->mon.budget ? 0 : -EAGAIN;
}

static int on_mon_ready(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct ctl_ctx *x = arg;

	(void)s;
	(void)fd;
	(void)revents;
	x->mon.budget = MON_BUDGET;
	dp_monitor_consume(x->mon.rb);
	if (x->mon.lost != x->mon.lost_told && *x->io &&
	    proc_pending(*x->io) <= MON_BACKLOG) {
		struct json_object *m = json_object_new_object();

		jadd(m, "lost", jint(x->mon.lost - x->mon.lost_told));
		if (ctl_io_send_json(x, LBD_MSG_MON_EVENT, m))
			x->mon.lost_told = x->mon.lost;
		json_object_put(m);
	}
	return 0;
}

void ctl_mon_close(struct ctl_ctx *x)
{
	x->mon.src = sd_event_source_disable_unref(x->mon.src);
	dp_monitor_close(x->mon.rb);
	x->mon.rb = NULL;
}

/*
 * Asks the program for mask (LBD_MON_*) and reads its ring buffer while
 * mask is not 0; 0 stops both, so a monitor costs nothing once its last
 * client left. The program's mask lives in its own .bss, so a newly
 * loaded program (a reload) is asked again (control_reloaded).
 */
int ctl_mon_arm(struct ctl_ctx *x, __u32 mask)
{
	int err;

	if (!ctl_dp(x)) {
		x->mon.mask = 0;
		return mask ? -EOPNOTSUPP : 0;
	}
	if (!mask) {
		dp_monitor_set(ctl_dp(x), 0);
		ctl_mon_close(x);
		x->mon.mask = 0;
		return 0;
	}
	if (!x->mon.rb) {
		err = dp_monitor_open(ctl_dp(x), mon_event, x, &x->mon.rb);
		if (err)
			return err;
		err = sd_event_add_io(x->ev, &x->mon.src,
				      dp_monitor_fd(x->mon.rb), EPOLLIN,
				      on_mon_ready, x);
		if (err < 0) {
			ctl_mon_close(x);
			return err;
		}
	}
	err = dp_monitor_set(ctl_dp(x), mask);
	if (err) {
		ctl_mon_close(x);
		return err;
	}
	x->mon.mask = mask;
	return 0;
}

int ctl_monitor_set(struct ctl_ctx *x, const struct lbd_ctl_req *req,
		    struct json_object *out, char *err, size_t errlen)
{
	__u32 mask = (req->flags & LBD_CTL_F_DROPS ? LBD_MON_DROPS : 0) |
		     (req->flags & LBD_CTL_F_FLOWS ? LBD_MON_FLOWS : 0);
	int r;

	(void)out;
	x->mon.state = req->flags & LBD_CTL_F_STATE;
	r = ctl_mon_arm(x, ctl_cfg(x)->role == LBD_ROLE_LB ? mask : 0);
	if (r)
		snprintf(err, errlen, "monitor: %s", strerror(-r));
	else
		log_debug("monitor: drops %s, new flows %s, backend changes %s",
			  mask & LBD_MON_DROPS ? "on" : "off",
			  mask & LBD_MON_FLOWS ? "on" : "off",
			  x->mon.state ? "on" : "off");
	return r;
}

void control_backend_event(struct ctl_ctx *x, const struct st_service *s,
			   const struct st_backend *b, const char *cause)
{
	struct json_object *o;
	char l[INET6_ADDRSTRLEN + 10];

	if (!x->mon.state)
		return;
	o = json_object_new_object();
	jadd(o, "type", jstr("backend"));
	jadd(o, "time", jdbl((double)time(NULL)));
	jadd(o, "cause", jstr(cause));
	jadd(o, "service", jstr(s->name));
	jadd(o, "backend", jstr(ctl_be_label(b, l, sizeof(l))));
	jadd(o, "state", jstr(ctl_be_state_str(b->dp_state)));
	jadd(o, "drained", jbool(b->drained));
	ctl_health_be_json(x, s, b, true, o);
	ctl_mon_send(x, o);
}
