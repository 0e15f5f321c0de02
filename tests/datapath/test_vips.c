// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The VIP table (struct lbd_vip_slot): a VIP and its first services in one
 * array slot, the hash maps behind it for VIPs that share a slot and for
 * services beyond what a slot lists. Every path gives the same verdicts.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>

#include "flows.h"

static struct dpt t;

static void teardown(void)
{
	dpt_teardown(&t);
}

TestSuite(vips, .fini = teardown);

/* max_vips = 16 gives the smallest table, 64 slots, so that addresses
 * sharing a slot are easy to find. */
#define SMALL_TABLE_CONF                                                 \
	"datapath = { interface = \"lb0\"; encap_source_v4 = \"" ENCAP4  \
	"\"; encap_source_v6 = \"" ENCAP6 "\"; maglev_table_size = 251;" \
	" hash_seed = 0x5eed; max_vips = 16; };\n"

static void conf_service(char *buf, size_t len, const char *vip, uint16_t port)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n,
		 "%s{ name = \"s%s_%u\"; vip = \"%s\"; port = %u; "
		 "protocol = \"tcp\"; backends = ( { address = \"" BE4_1
		 "\"; } ); }\n",
		 strstr(buf, "services = (\n{") ? "," : "", vip, port, vip,
		 port);
}

/* The config of services vip:port for ports first..last of each VIP. */
static const char *conf_of(char *buf, size_t len, const char *const *vips,
			   int n, uint16_t first, uint16_t last)
{
	uint16_t port;
	int i;

	snprintf(buf, len, "%sservices = (\n", SMALL_TABLE_CONF);
	for (i = 0; i < n; i++)
		for (port = first; port <= last; port++)
			conf_service(buf, len, vips[i], port);
	snprintf(buf + strlen(buf), len - strlen(buf), ");\n");
	return buf;
}

static void check_forwarded(const char *vip, uint16_t port)
{
	struct pkt in, want;

	tcp_in(&in, CLIENT4, vip, 40000, port, PKT_TCP_SYN);
	want_ipip(&want, &in, ENCAP4, BE4_1, 0, 0, 0);
	dpt_check(&t, &in, XDP_TX, &want);
}

static void check_no_service(const char *vip, uint16_t port)
{
	uint64_t before = dpt_reason(&t, LBD_DROP_NO_SERVICE);
	struct pkt in;

	tcp_in(&in, CLIENT4, vip, 40000, port, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_DROP, NULL);
	cr_assert_eq(dpt_reason(&t, LBD_DROP_NO_SERVICE), before + 1);
}

/* The table's slot of an IPv4 address, as the program computes it. */
static uint32_t slot_of(const char *addr)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, addr, &a), 1);
	return lbd_vip_slot_hash(&a.s_addr, 1) & (dp_vip_slots(t.dp) - 1);
}

/* Three addresses of 203.0.113.0/24 that share a slot. */
static void same_slot(char out[3][INET_ADDRSTRLEN])
{
	char seen[64][2][INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN];
	int n[64] = { 0 }, i, s;

	cr_assert_eq(dp_vip_slots(t.dp), 64);
	for (i = 1; i < 255; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		s = (int)slot_of(addr);
		if (n[s] == 2) {
			memcpy(out[0], seen[s][0], INET_ADDRSTRLEN);
			memcpy(out[1], seen[s][1], INET_ADDRSTRLEN);
			memcpy(out[2], addr, INET_ADDRSTRLEN);
			return;
		}
		memcpy(seen[s][n[s]++], addr, INET_ADDRSTRLEN);
	}
	cr_assert_fail("no three addresses share a slot");
}

Test(vips, more_services_than_a_slot_lists_are_all_served)
{
	const char *vips[] = { VIP4 };
	char conf[8192];
	uint16_t port;

	cr_assert_gt(86 - 80, LBD_SLOT_SVCS, "more than a slot lists");
	dpt_setup(&t, conf_of(conf, sizeof(conf), vips, 1, 80, 85));
	for (port = 80; port <= 85; port++)
		check_forwarded(VIP4, port);
	check_no_service(VIP4, 86);
	check_no_service(VIP4, 79);
}

Test(vips, vips_that_share_a_slot_are_all_served)
{
	char addr[3][INET_ADDRSTRLEN];
	const char *vips[2];
	char conf[8192];
	struct pkt in;

	/* the table's size comes with the datapath settings */
	vips[0] = VIP4;
	dpt_setup(&t, conf_of(conf, sizeof(conf), vips, 1, 80, 80));
	same_slot(addr);
	dpt_teardown(&t);

	vips[0] = addr[0];
	vips[1] = addr[1];
	dpt_setup(&t, conf_of(conf, sizeof(conf), vips, 2, 80, 81));
	check_forwarded(addr[0], 80);
	check_forwarded(addr[0], 81);
	check_forwarded(addr[1], 80);
	check_forwarded(addr[1], 81);
	check_no_service(addr[1], 82);

	/* the third address of the slot is not a VIP: it passes as is */
	tcp_in(&in, CLIENT4, addr[2], 40000, 80, PKT_TCP_SYN);
	dpt_check(&t, &in, XDP_PASS, &in);
	cr_assert_eq(dpt_reason(&t, LBD_PASS_NOT_VIP), 1);
}

Test(vips, a_reload_changes_what_a_slot_lists)
{
	const char *vips[] = { VIP4 };
	char conf[8192];

	dpt_setup(&t, conf_of(conf, sizeof(conf), vips, 1, 80, 80));
	check_forwarded(VIP4, 80);
	check_no_service(VIP4, 81);

	dpt_reload(&t, conf_of(conf, sizeof(conf), vips, 1, 80, 81));
	check_forwarded(VIP4, 80);
	check_forwarded(VIP4, 81);

	dpt_reload(&t, conf_of(conf, sizeof(conf), vips, 1, 81, 81));
	check_no_service(VIP4, 80);
	check_forwarded(VIP4, 81);
}
