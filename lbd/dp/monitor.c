// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "monitor.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>

struct dp_monitor {
	struct ring_buffer *rb;
	dp_event_fn fn;
	void *arg;
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct dp_monitor *m = ctx;

	/* a record of another layout (an older program) is skipped */
	if (size < sizeof(struct lbd_event))
		return 0;
	return m->fn(m->arg, data);
}

int dp_monitor_open(struct lbd_dp *dp, dp_event_fn fn, void *arg,
		    struct dp_monitor **out)
{
	struct dp_monitor *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->fn = fn;
	m->arg = arg;
	m->rb = ring_buffer__new(dp_events_fd(dp), on_sample, m, NULL);
	if (!m->rb) {
		int err = -errno;

		free(m);
		return err;
	}
	*out = m;
	return 0;
}

int dp_monitor_fd(const struct dp_monitor *m)
{
	return ring_buffer__epoll_fd(m->rb);
}

void dp_monitor_consume(struct dp_monitor *m)
{
	ring_buffer__consume(m->rb);
}

void dp_monitor_close(struct dp_monitor *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	free(m);
}
