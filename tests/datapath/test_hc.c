// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health checks through the datapath (bpf/lb/hc.bpf.c): a check socket's
 * packet to a VIP, marked with a backend's id, leaves lb0 encapsulated to
 * that backend byte for byte as the XDP program forwards a client's
 * packet of the same flow; unmarked packets pass untouched.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/pkt_cls.h>

#include "flows.h"
#include "hcdp.h"

/* The LB host's own address on lb0: where checks come from. */
#define LBHOST4 "198.18.0.10"
#define LBHOST6 "2001:db8::10"

static struct dpt t;
static struct hcdp *hc;

static void setup(void)
{
	dpt_setup(&t, ONE_BACKEND_CONF);
	cr_assert_eq(hcdp_open(t.dp, &hc), 0, "loading bpf/lb/hc.bpf.c");
}

static void teardown(void)
{
	hcdp_close(hc);
	dpt_teardown(&t);
}

TestSuite(hc, .init = setup, .fini = teardown);

/* The id lbd gave the (only) backend of a service. */
static uint32_t backend_id(const char *service)
{
	const struct st_service *s = state_find_name(&t.st, service);

	cr_assert_not_null(s, "service %s", service);
	cr_assert_eq(s->n_be, 1);
	return s->be[0].id;
}

/* A check's TCP segment as the LB host's stack sends it out of lb0. */
static void check_out(struct pkt *p, const char *src, const char *vip,
		      uint16_t sport, uint16_t dport)
{
	pkt_init(p);
	dpt_eth_out(p);
	pkt_ip_hdr(p, pkt_ip(src), pkt_ip(vip));
	pkt_tcp(p, sport, dport, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(p, "hello", 5);
	pkt_finish(p);
}

static void expect(const struct pkt *in, uint32_t mark, int want_act,
		   const struct pkt *want)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	int act = dpt_run_skb(hcdp_prog_fd(hc), in, mark, out, &len);

	cr_assert_eq(act, want_act, "action %d, want %d", act, want_act);
	if (!want)
		return;
	if (len != want->len || memcmp(out, want->buf, len)) {
		pkt_diff(stderr, out, len, want->buf, want->len);
		cr_assert_fail("output packet differs (got | want above)");
	}
}

Test(hc, unmarked_packets_pass_untouched)
{
	struct pkt in;

	check_out(&in, LBHOST4, VIP4, 40000, 80);
	expect(&in, 0, TC_ACT_OK, &in);
	expect(&in, 0x12345, TC_ACT_OK, &in);
	cr_assert_eq(dpt_reason(&t, LBD_HC_ENCAP), 0);
}

Test(hc, ipip4_check_leaves_as_the_xdp_program_forwards)
{
	struct pkt in, want;

	check_out(&in, LBHOST4, VIP4, 40000, 80);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	expect(&in, LBD_HC_MARK(backend_id("ipip4")), TC_ACT_OK, &want);
	cr_assert_eq(dpt_reason(&t, LBD_HC_ENCAP), 1);
}

Test(hc, ip6ip6_check_takes_its_flow_label_from_the_flow_hash)
{
	struct pkt in, want;
	uint32_t h = test_flow_hash(LBHOST6, 40000, 80, IPPROTO_TCP);

	check_out(&in, LBHOST6, VIP6, 40000, 80);
	want_ipip(&want, &in, ENCAP6, BE6_1, 0, 0, h & 0xfffff);
	expect(&in, LBD_HC_MARK(backend_id("ipip6")), TC_ACT_OK, &want);
}

Test(hc, geneve4_check_is_translated_to_the_backend_port)
{
	struct pkt in, want;
	uint32_t h = test_flow_hash(LBHOST4, 40000, 443, IPPROTO_TCP);
	struct pkt_ipv4_opts o = { 0 };

	check_out(&in, LBHOST4, VIP4, 40000, 443);
	pkt_init(&want);
	dpt_eth_out(&want);
	pkt_ipv4(&want, pkt_ip(ENCAP4), pkt_ip(BE4_1), &o);
	pkt_udp(&want, (uint16_t)(0xc000 | (h & 0x3fff)), 6081, true);
	pkt_geneve_dsr(&want, 2, pkt_ip(VIP4), 443);
	pkt_eth(&want, MAC_ROUTER, MAC_LB);
	pkt_ipv4(&want, pkt_ip(LBHOST4), pkt_ip(BE4_1), &o);
	pkt_tcp(&want, 40000, 8443, PKT_TCP_SYN, 1000, 0);
	pkt_bytes(&want, "hello", 5);
	pkt_finish(&want);
	expect(&in, LBD_HC_MARK(backend_id("gnv4")), TC_ACT_OK, &want);
}

Test(hc, a_backend_down_by_health_is_still_checked)
{
	struct be_match m = { .service = "ipip4" };
	struct apply_result r;
	struct pkt in, want;

	m.addr.family = LBD_AF_INET;
	m.addr.prefixlen = 32;
	inet_pton(AF_INET, BE4_1, &m.addr.addr.v4);
	cr_assert_eq(state_set_flag(&t.st, t.dp, &m, BE_FLAG_HEALTH_DOWN, true,
				    NULL, NULL, &r),
		     1);
	check_out(&in, LBHOST4, VIP4, 40000, 80);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	expect(&in, LBD_HC_MARK(backend_id("ipip4")), TC_ACT_OK, &want);
}

Test(hc, a_mark_for_an_unused_backend_id_is_dropped)
{
	struct pkt in;

	check_out(&in, LBHOST4, VIP4, 40000, 80);
	expect(&in, LBD_HC_MARK(4000), TC_ACT_SHOT, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_HC_DROP_BACKEND), 1);
}

Test(hc, a_check_to_a_port_without_service_is_dropped)
{
	struct pkt in;

	check_out(&in, LBHOST4, VIP4, 40000, 81);
	expect(&in, LBD_HC_MARK(backend_id("ipip4")), TC_ACT_SHOT, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_HC_DROP_NO_SERVICE), 1);
}
