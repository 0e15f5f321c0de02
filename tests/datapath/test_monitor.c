// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Monitor events: nothing while nobody asks, drops with their reason and
 * new flows with service and backend when asked. */
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "flows.h"

static struct dpt t;
static struct lbd_event got[16];
static int ngot;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	cr_assert_eq(size, sizeof(struct lbd_event));
	if (ngot < 16)
		memcpy(&got[ngot++], data, sizeof(struct lbd_event));
	return 0;
}

static void setup(void)
{
	dpt_setup(&t, ONE_BACKEND_CONF);
	ngot = 0;
}

static void teardown(void)
{
	dpt_teardown(&t);
}

TestSuite(monitor, .init = setup, .fini = teardown);

static int drain_events(void)
{
	struct ring_buffer *rb =
		ring_buffer__new(dp_events_fd(t.dp), on_event, NULL, NULL);
	int n;

	cr_assert_not_null(rb);
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return n;
}

Test(monitor, silent_unless_asked)
{
	struct pkt in;

	tcp_in(&in, CLIENT4, VIP4, 40000, 81, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(drain_events(), 0);
}

Test(monitor, drop_carries_reason_and_tuple)
{
	struct pkt in;

	cr_assert_eq(dp_monitor_set(t.dp, LBD_MON_DROPS), 0);
	tcp_in(&in, CLIENT4, VIP4, 40000, 81, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	/* new flows are not asked for */
	tcp_in(&in, CLIENT4, VIP4, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(drain_events(), 1);
	cr_assert_eq(got[0].type, LBD_EVENT_DROP);
	cr_assert_eq(got[0].reason, LBD_DROP_NO_SERVICE);
	cr_assert_eq(got[0].family, LBD_AF_INET);
	cr_assert_eq(got[0].proto, IPPROTO_TCP);
	cr_assert_eq(got[0].saddr.v4, pkt_ip(CLIENT4).v4.s_addr);
	cr_assert_eq(got[0].daddr.v4, pkt_ip(VIP4).v4.s_addr);
	cr_assert_eq(got[0].sport, htons(40000));
	cr_assert_eq(got[0].dport, htons(81));
	cr_assert_eq(got[0].len, in.len);
}

Test(monitor, new_flow_names_service_and_backend)
{
	struct pkt in;
	const struct st_service *s;

	cr_assert_eq(dp_monitor_set(t.dp, LBD_MON_FLOWS), 0);
	tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_TX, NULL);
	tcp_in(&in, CLIENT6, VIP6, 40000, 80, PKT_TCP_ACK);
	dpt_check(&t, &in, XDP_TX, NULL);
	cr_assert_eq(drain_events(), 1, "one new flow, not two");
	s = state_find_name(&t.st, "ipip6");
	cr_assert_not_null(s);
	cr_assert_eq(got[0].type, LBD_EVENT_NEW_FLOW);
	cr_assert_eq(got[0].svc_id, s->id);
	cr_assert_eq(got[0].backend_id, s->be[0].id);
	cr_assert_eq(got[0].family, LBD_AF_INET6);
}
