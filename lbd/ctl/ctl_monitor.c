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
#include "ipc.h"
#include "log.h"

/* Events read from the ring buffer per loop iteration: the loop (and the
 * watchdog) is never held up by a flood of drops. */
#define MON_BUDGET 256
/* Past this backlog towards the io process, events are dropped (and
 * counted) rather than queued. */
#define MON_BACKLOG (4u << 20)

void ctl_mon_send(struct lbd_daemon *d, struct json_object *ev)
{
	struct json_object *m;

	if (!d->io || ipc_pending(d->io) > MON_BACKLOG) {
		d->mon_lost++;
		json_object_put(ev);
		return;
	}
	m = json_object_new_object();
	jadd(m, "event", ev);
	ipc_send(d->io, m);
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
	struct lbd_daemon *d = arg;
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
		const struct st_service *s = state_find(&d->st, &key);

		jadd(o, "proto", jstr(ctl_proto_str(e->proto)));
		jadd(o, "client",
		     jstr(ctl_addr_str(e->family, &e->saddr, a, sizeof(a))));
		jadd(o, "client_port", jint(ntohs(e->sport)));
		jadd(o, "vip",
		     jstr(ctl_addr_str(e->family, &e->daddr, a, sizeof(a))));
		jadd(o, "port", jint(ntohs(e->dport)));
		jadd(o, "service", s ? jstr(s->name) : NULL);
	}
	if (e->backend_id != LBD_NO_ID && d->dp) {
		struct lbd_backend b;

		if (dp_backend_get(d->dp, e->backend_id, &b) == 0)
			jadd(o, "backend",
			     jstr(ctl_hostport_str(b.family, &b.addr,
						   ntohs(b.port), l,
						   sizeof(l))));
	}
	ctl_mon_send(d, o);
	/* a negative return stops libbpf's consume after this event (it
	 * is consumed); the rest waits for the next loop iteration */
	return --d->mon_budget ? 0 : -EAGAIN;
}

static int on_mon_ready(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct lbd_daemon *d = arg;

	(void)s;
	(void)fd;
	(void)revents;
	d->mon_budget = MON_BUDGET;
	dp_monitor_consume(d->mon_rb);
	if (d->mon_lost != d->mon_lost_told && d->io &&
	    ipc_pending(d->io) <= MON_BACKLOG) {
		struct json_object *m = json_object_new_object();

		jadd(m, "lost", jint(d->mon_lost - d->mon_lost_told));
		ipc_send(d->io, m);
		json_object_put(m);
		d->mon_lost_told = d->mon_lost;
	}
	return 0;
}

void ctl_mon_close(struct lbd_daemon *d)
{
	d->mon_src = sd_event_source_disable_unref(d->mon_src);
	dp_monitor_close(d->mon_rb);
	d->mon_rb = NULL;
}

/*
 * Asks the program for mask (LBD_MON_*) and reads its ring buffer while
 * mask is not 0; 0 stops both, so a monitor costs nothing once its last
 * client left. The program's mask lives in its own .bss, so a newly
 * loaded program (a reload) is asked again (control_reloaded).
 */
int ctl_mon_arm(struct lbd_daemon *d, __u32 mask)
{
	int err;

	if (!d->dp) {
		d->mon_mask = 0;
		return mask ? -EOPNOTSUPP : 0;
	}
	if (!mask) {
		dp_monitor_set(d->dp, 0);
		ctl_mon_close(d);
		d->mon_mask = 0;
		return 0;
	}
	if (!d->mon_rb) {
		err = dp_monitor_open(d->dp, mon_event, d, &d->mon_rb);
		if (err)
			return err;
		err = sd_event_add_io(d->ev, &d->mon_src,
				      dp_monitor_fd(d->mon_rb), EPOLLIN,
				      on_mon_ready, d);
		if (err < 0) {
			ctl_mon_close(d);
			return err;
		}
	}
	err = dp_monitor_set(d->dp, mask);
	if (err) {
		ctl_mon_close(d);
		return err;
	}
	d->mon_mask = mask;
	return 0;
}

int ctl_monitor_set(struct lbd_daemon *d, struct json_object *args,
		    struct json_object *out, char *err, size_t errlen)
{
	__u32 mask = (ctl_arg_true(args, "drops") ? LBD_MON_DROPS : 0) |
		     (ctl_arg_true(args, "flows") ? LBD_MON_FLOWS : 0);
	int r;

	(void)out;
	d->mon_state = ctl_arg_true(args, "state");
	r = ctl_mon_arm(d, d->cfg->role == LBD_ROLE_LB ? mask : 0);
	if (r)
		snprintf(err, errlen, "monitor: %s", strerror(-r));
	else
		log_debug("monitor: drops %s, new flows %s, backend changes %s",
			  mask & LBD_MON_DROPS ? "on" : "off",
			  mask & LBD_MON_FLOWS ? "on" : "off",
			  d->mon_state ? "on" : "off");
	return r;
}

void control_backend_event(struct lbd_daemon *d, const struct st_service *s,
			   const struct st_backend *b, const char *cause)
{
	struct json_object *o;
	char l[INET6_ADDRSTRLEN + 10];

	if (!d->mon_state)
		return;
	o = json_object_new_object();
	jadd(o, "type", jstr("backend"));
	jadd(o, "time", jdbl((double)time(NULL)));
	jadd(o, "cause", jstr(cause));
	jadd(o, "service", jstr(s->name));
	jadd(o, "backend", jstr(ctl_be_label(b, l, sizeof(l))));
	jadd(o, "state", jstr(ctl_be_state_str(b->dp_state)));
	jadd(o, "drained", jbool(b->drained));
	ctl_health_be_json(d, s, b, true, o);
	ctl_mon_send(d, o);
}
