// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbctl explain in flow_state = "backends" (lbd/dp/explain.c): the slot,
 * owner and previous owner it reads from the installed table are what
 * the program does with the flow's packets: the owner is the outer
 * destination, and the previous owner is the one lbd's option names,
 * byte for byte in the packet the real program outputs.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>

#include "explain.h"
#include "flows.h"

static struct dpt t;

static void teardown(void)
{
	dpt_teardown(&t);
}

TestSuite(explain, .fini = teardown);

/* Services of both families and forwardings in flow_state = "backends",
 * each with backends .11 .. .1n; the last of them draining when drain. */
static const char *conf(int n, bool drain)
{
	static char buf[8192];
	static const struct {
		const char *name, *vip, *fwd, *be;
		int port, bport;
	} s[] = {
		{ "ipip4", VIP4, "ipip", "198.18.1.", 80, 80 },
		{ "gnv4", VIP4, "geneve", "198.18.1.", 443, 8443 },
		{ "ipip6", VIP6, "ipip", "2001:db8:1::", 80, 80 },
		{ "gnv6", VIP6, "geneve", "2001:db8:1::", 443, 8443 },
	};
	size_t off;
	int i, j;

	off = (size_t)snprintf(buf, sizeof(buf), "%sservices = (\n",
			       DATAPATH_CONF);
	for (i = 0; i < 4; i++) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s { name = \"%s\"; vip = \"%s\"; "
					"port = %d; forwarding = \"%s\"; "
					"flow_state = \"backends\"; backends "
					"= (",
					i ? "," : "", s[i].name, s[i].vip,
					s[i].port, s[i].fwd);
		for (j = 0; j < n; j++)
			off += (size_t)snprintf(
				buf + off, sizeof(buf) - off,
				"%s { address = \"%s%d\"; port = %d; state = "
				"\"%s\"; }",
				j ? "," : "", s[i].be, 11 + j, s[i].bport,
				drain && j == n - 1 ? "draining" : "active");
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					" ); }\n");
	}
	snprintf(buf + off, sizeof(buf) - off, ");\n");
	return buf;
}

static const struct st_service *svc_of(__u8 family, const char *vip, __u16 port)
{
	struct lbd_svc_addr k;
	struct pkt_addr a = pkt_ip(vip);

	memset(&k, 0, sizeof(k));
	k.family = family;
	k.proto = IPPROTO_TCP;
	k.port = htons(port);
	memcpy(&k.vip, family == LBD_AF_INET ? (void *)&a.v4 : (void *)&a.v6,
	       family == LBD_AF_INET ? 4 : 16);
	return state_find(&t.st, &k);
}

static const struct st_backend *be_of(const struct st_service *s, __u32 id)
{
	size_t i;

	for (i = 0; i < s->n_be; i++)
		if (s->be[i].id == id)
			return &s->be[i];
	return NULL;
}

/* For n flows of each service: explain's slot against the program's
 * packet. Returns how many had a previous owner named. */
static int check_flows(int n)
{
	static const struct {
		__u8 family;
		const char *client, *vip;
		__u16 port;
	} s[] = {
		{ LBD_AF_INET, CLIENT4, VIP4, 80 },
		{ LBD_AF_INET, CLIENT4, VIP4, 443 },
		{ LBD_AF_INET6, CLIENT6, VIP6, 80 },
		{ LBD_AF_INET6, CLIENT6, VIP6, 443 },
	};
	int i, k, named = 0;

	for (i = 0; i < 4; i++) {
		const struct st_service *sv =
			svc_of(s[i].family, s[i].vip, s[i].port);
		size_t alen = s[i].family == LBD_AF_INET ? 4 : 16;

		cr_assert_not_null(sv, "service %s:%u", s[i].vip, s[i].port);
		for (k = 0; k < n; k++) {
			struct explain_flow f = { .family = s[i].family,
						  .proto = IPPROTO_TCP };
			struct pkt_addr c = pkt_ip(s[i].client),
					v = pkt_ip(s[i].vip);
			const struct st_backend *owner, *prev;
			struct explain_slot sl;
			struct explain_out o;

			memcpy(&f.client,
			       s[i].family == LBD_AF_INET ? (void *)&c.v4 :
							    (void *)&c.v6,
			       alen);
			memcpy(&f.vip,
			       s[i].family == LBD_AF_INET ? (void *)&v.v4 :
							    (void *)&v.v6,
			       alen);
			f.client_port = (__u16)(30000 + k);
			f.vip_port = s[i].port;
			f.svc_id = sv->id;
			cr_assert_eq(explain_maglev(t.dp, &f, SEED, &sl), 0);
			cr_assert_eq(sl.m, 251);
			owner = be_of(sv, sl.owner);
			cr_assert_not_null(owner);
			cr_assert_eq(explain_run(t.dp, IFINDEX_LB0, &f, &o), 0);
			cr_assert_eq(o.action, XDP_TX);
			cr_assert(o.forwarded && o.sc);
			cr_assert_eq(o.family, owner->addr.family);
			cr_assert(!memcmp(&o.dst, &owner->addr.addr, alen),
				  "%s:%u from port %u: the packet went "
				  "elsewhere than the slot's owner",
				  s[i].vip, s[i].port, f.client_port);
			cr_assert_eq(!!(o.sc_flags & LBD_SC_F_PREV),
				     sl.prev_named,
				     "%s:%u from port %u: option flags %#x, "
				     "explain predicts %d",
				     s[i].vip, s[i].port, f.client_port,
				     o.sc_flags, sl.prev_named);
			if (!sl.prev_named)
				continue;
			prev = be_of(sv, sl.prev);
			cr_assert_not_null(prev);
			cr_assert_neq(prev, owner);
			cr_assert_eq(o.sc_prev_family, prev->addr.family);
			cr_assert(!memcmp(&o.sc_prev, &prev->addr.addr, alen));
			cr_assert_eq(o.sc_prev_port, prev->port);
			named++;
		}
	}
	return named;
}

Test(explain, slot_owner_and_previous_owner_are_what_the_program_sends)
{
	int named;

	dpt_setup(&t, conf(2, false));
	/* a fresh table: nobody is named */
	cr_assert_eq(check_flows(100), 0);
	/* a third backend takes about a third of the slots, whose old
	 * owner becomes their previous owner */
	dpt_reload(&t, conf(3, false));
	named = check_flows(300);
	cr_assert(named > 4 * 300 / 6 && named < 4 * 300 / 2,
		  "%d of 1200 flows with a previous owner", named);
	/* drained: the new owners of its slots name it */
	dpt_reload(&t, conf(3, true));
	named = check_flows(300);
	cr_assert(named > 4 * 300 / 6, "%d of 1200 after the drain", named);
}
