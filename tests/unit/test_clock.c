// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ageing rules the datapath and lbd both apply (lbd/shared.h):
 * lbd_idle_over, whether an entry's idle time ran out, and
 * lbd_ct_timeout, which timeout a conntrack or SNAT entry has. lbd's
 * conntrack walks (lbctl flows, active flows in the metrics) judge an
 * entry with the same two functions the programs do.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>

#include "lbd/shared.h"

Test(clock, idle_over_counts_whole_seconds_past_the_timeout)
{
	cr_assert_not(lbd_idle_over(1060, 1000, 60), "60 s idle of 60");
	cr_assert(lbd_idle_over(1061, 1000, 60), "61 s idle of 60");
	cr_assert_not(lbd_idle_over(1000, 1000, 0), "0 s idle of 0");
	cr_assert(lbd_idle_over(1001, 1000, 0), "1 s idle of 0");
}

/*
 * A walk takes now, then meets an entry another CPU refreshed after that
 * (its second a jiffy ahead, or the walk simply long): last_seen is a
 * second or a few past now. The entry is live, not four billion seconds
 * idle, as a u32 difference (now - last > timeout) would have it.
 */
Test(clock, entry_refreshed_after_now_was_taken_is_live)
{
	cr_assert_not(lbd_idle_over(1000, 1001, 60), "1 s in the future");
	cr_assert_not(lbd_idle_over(1000, 1030, 10), "30 s in the future");
	cr_assert_not(lbd_idle_over(0, 1, 0), "at the clock's start");
}

/* The second counter wraps after 136 years of uptime; ages across the
 * wrap stay ages. */
Test(clock, ages_across_the_counters_wrap)
{
	cr_assert_not(lbd_idle_over(5, 0xfffffff0u, 60), "21 s across");
	cr_assert(lbd_idle_over(100, 0xfffffff0u, 60), "116 s across");
	cr_assert_not(lbd_idle_over(0xfffffff0u, 5, 60), "21 s ahead across");
}

Test(clock, ct_timeout_by_protocol_and_closing_flag)
{
	struct lbd_knobs k = {
		.udp_timeout = 60,
		.tcp_timeout = 3600,
		.tcp_closing_timeout = 10,
	};

	cr_assert_eq(lbd_ct_timeout(&k, IPPROTO_UDP, 0), 60);
	/* UDP has no closing: the flag (never set for UDP) is ignored */
	cr_assert_eq(lbd_ct_timeout(&k, IPPROTO_UDP, LBD_CT_F_CLOSING), 60);
	cr_assert_eq(lbd_ct_timeout(&k, IPPROTO_TCP, 0), 3600);
	cr_assert_eq(lbd_ct_timeout(&k, IPPROTO_TCP, LBD_CT_F_CLOSING), 10);
}

/* What lbctl flows and the metrics ask of an entry: live while within its
 * timeout, by the two rules together. */
Test(clock, closing_tcp_entry_expires_after_the_closing_timeout)
{
	struct lbd_knobs k = {
		.udp_timeout = 60,
		.tcp_timeout = 3600,
		.tcp_closing_timeout = 10,
	};
	struct lbd_ct ct = { .last_seen = 2000, .flags = LBD_CT_F_CLOSING };
	__u32 t = lbd_ct_timeout(&k, IPPROTO_TCP, ct.flags);

	cr_assert_not(lbd_idle_over(2010, ct.last_seen, t));
	cr_assert(lbd_idle_over(2011, ct.last_seen, t));
	ct.flags = 0;
	t = lbd_ct_timeout(&k, IPPROTO_TCP, ct.flags);
	cr_assert_not(lbd_idle_over(2011, ct.last_seen, t));
}
