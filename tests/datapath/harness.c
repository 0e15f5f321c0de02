// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "harness.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

const uint8_t MAC_ROUTER[6] = { 0x02, 0, 0, 0, 0, 0x01 };
const uint8_t MAC_LB[6] = { 0x02, 0, 0, 0, 0, 0x10 };
const uint8_t MAC_LB1[6] = { 0x02, 0, 0, 0, 0, 0x20 };
const uint8_t MAC_ROUTER1[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/*
 * lb0 (02:..:10) 198.18.0.10/24 2001:db8::10/64, next hop 198.18.0.1 /
 *     2001:db8::1 at 02:..:01 (permanent)
 *   198.18.1.0/24, 2001:db8:1::/64  backends, via the next hop
 *   198.18.4.0/24, 2001:db8:4::/64  via the next hop, route MTU 1400
 *   198.18.5.0/24                   via 198.18.0.5, no neighbour entry
 *   192.0.2.0/24, 198.19.0.0/16, 2001:db8:c::/64  clients, via the next hop
 * lb1 (02:..:20) 198.18.2.10/24, next hop 198.18.2.1 at 02:..:02
 *   198.18.3.0/24                   via lb1
 */
static const char *const env_cmds[] = {
	"ip link set lo up",
	"ip link add lb0 address 02:00:00:00:00:10 type veth peer name lb0p",
	"ip link add lb1 address 02:00:00:00:00:20 type veth peer name lb1p",
	"ip link set lb0 up",
	"ip link set lb0p up",
	"ip link set lb1 up",
	"ip link set lb1p up",
	"ip addr add 198.18.0.10/24 dev lb0",
	"ip addr add 2001:db8::10/64 dev lb0 nodad",
	"ip addr add 198.18.2.10/24 dev lb1",
	"ip neigh add 198.18.0.1 lladdr 02:00:00:00:00:01 nud permanent dev lb0",
	"ip neigh add 2001:db8::1 lladdr 02:00:00:00:00:01 nud permanent "
	"dev lb0",
	"ip neigh add 198.18.2.1 lladdr 02:00:00:00:00:02 nud permanent dev lb1",
	"ip route add 198.18.1.0/24 via 198.18.0.1",
	"ip -6 route add 2001:db8:1::/64 via 2001:db8::1",
	"ip route add 198.18.4.0/24 via 198.18.0.1 mtu lock 1400",
	"ip -6 route add 2001:db8:4::/64 via 2001:db8::1 mtu lock 1400",
	"ip route add 198.18.5.0/24 via 198.18.0.5",
	"ip route add 198.18.3.0/24 via 198.18.2.1",
	/* clients, for SNAT replies */
	"ip route add 192.0.2.0/24 via 198.18.0.1",
	"ip route add 198.19.0.0/16 via 198.18.0.1",
	"ip route add 198.19.77.0/24 via 198.18.0.1 mtu lock 1300",
	"ip -6 route add 2001:db8:d::/64 via 2001:db8::1 mtu lock 1300",
	"ip -6 route add 2001:db8:c::/64 via 2001:db8::1",
	"sysctl -qw net.ipv4.conf.lb0.forwarding=1",
	"sysctl -qw net.ipv6.conf.lb0.forwarding=1",
	"sysctl -qw net.ipv4.conf.lb1.forwarding=1",
	NULL,
};

int dpt_env_init(void)
{
	int i;

	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	for (i = 0; env_cmds[i]; i++) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "%s >/dev/null", env_cmds[i]);
		if (system(cmd) != 0) {
			fprintf(stderr, "harness: failed: %s\n", env_cmds[i]);
			return -1;
		}
	}
	log_init("dptest", 0);
	dp_log_route();
	return IFINDEX_LB0 && IFINDEX_LB1 ? 0 : -1;
}

static void diag_fail(const char *what, struct config_diag *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
	cr_assert_fail("%s: config rejected", what);
}

void dpt_setup(struct dpt *t, const char *config)
{
	struct config_diag d;
	struct lbd_dp_opts o;
	struct apply_result r;
	int err;

	memset(t, 0, sizeof(*t));
	if (config_load_string(config, "test.conf", &t->cfg, &d))
		diag_fail("setup", &d);
	config_diag_free(&d);
	/* small maps keep each test's load quick */
	t->cfg->dp.pin_path[0] = '\0';
	state_dp_opts(t->cfg, &o);
	o.ct_entries = 4096;
	o.max_backends = 1024;
	o.max_services = 256;
	if (o.max_vips > 256) /* a test may ask for fewer */
		o.max_vips = 256;
	t->seed = t->cfg->dp.hash_seed;
	err = dp_open(&o, &t->dp);
	cr_assert_eq(err, 0, "dp_open: %s", strerror(-err));
	err = state_init(&t->st, o.max_services, o.max_backends);
	cr_assert_eq(err, 0);
	/* lb0's addresses, where vip = "*" services listen */
	{
		struct lbd_conf_addr host[2] = {
			{ .family = LBD_AF_INET, .prefixlen = 32 },
			{ .family = LBD_AF_INET6, .prefixlen = 128 },
		};

		struct pkt_addr v4 = pkt_ip("198.18.0.10");
		struct pkt_addr v6 = pkt_ip("2001:db8::10");

		host[0].addr.v4 = v4.v4.s_addr;
		memcpy(&host[1].addr, &v6.v6, 16);
		cr_assert_eq(state_set_host_addrs(&t->st, host, 2), 0);
	}
	err = state_apply(&t->st, t->dp, t->cfg, NULL, NULL, &r);
	cr_assert_eq(err, 0, "state_apply: %s", strerror(-err));
}

void dpt_reload(struct dpt *t, const char *config)
{
	struct lbd_config *c;
	struct config_diag d;
	struct apply_result r;
	int err;

	if (config_load_string(config, "test.conf", &c, &d))
		diag_fail("reload", &d);
	config_diag_free(&d);
	err = state_apply(&t->st, t->dp, c, NULL, NULL, &r);
	cr_assert_eq(err, 0, "state_apply: %s", strerror(-err));
	config_free(t->cfg);
	t->cfg = c;
}

void dpt_teardown(struct dpt *t)
{
	state_free(&t->st);
	dp_close(t->dp);
	config_free(t->cfg);
}

int dpt_run(struct dpt *t, const struct pkt *in, uint8_t *out,
	    size_t *out_len)
{
	struct xdp_md ctx = {
		.data_end = (__u32)in->len,
		.ingress_ifindex = (__u32)IFINDEX_LB0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
		    .data_size_in = (__u32)in->len, .data_out = out,
		    .data_size_out = (__u32)*out_len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(dp_prog_fd(t->dp), &o);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN: %s", strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

int dpt_run_skb(int prog_fd, const struct pkt *in, uint32_t mark,
		uint8_t *out, size_t *out_len)
{
	struct __sk_buff ctx = {
		.mark = mark,
		.ifindex = (__u32)IFINDEX_LB0,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->buf,
		    .data_size_in = (__u32)in->len, .data_out = out,
		    .data_size_out = (__u32)*out_len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &o);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN: %s", strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static const char *action_name(int a)
{
	static const char *const n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS",
					 "XDP_TX", "XDP_REDIRECT" };

	return a >= 0 && a <= 4 ? n[a] : "?";
}

static const char *const reason_labels[] = {
#define LBD_REASON_LABEL(e, label, desc) label,
	LBD_REASONS(LBD_REASON_LABEL)
#undef LBD_REASON_LABEL
};

/* What the program counted, to explain an unexpected verdict. */
static void print_reasons(struct dpt *t)
{
	struct lbd_counter c[LBD_REASON_MAX];
	int r;

	if (dp_reasons_read(t->dp, c))
		return;
	fprintf(stderr, "counted:");
	for (r = 0; r < LBD_REASON_MAX; r++)
		if (c[r].packets)
			fprintf(stderr, " %s=%llu", reason_labels[r],
				(unsigned long long)c[r].packets);
	fprintf(stderr, "\n");
}

void dpt_check(struct dpt *t, const struct pkt *in, int want_action,
	       const struct pkt *want)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	int act = dpt_run(t, in, out, &len);

	if (act != want_action)
		print_reasons(t);

	cr_assert_eq(act, want_action, "verdict %s, want %s", action_name(act),
		     action_name(want_action));
	if (!want)
		return;
	if (len != want->len || memcmp(out, want->buf, len)) {
		pkt_diff(stderr, out, len, want->buf, want->len);
		cr_assert_fail("output packet differs (got | want above)");
	}
}

uint64_t dpt_reason(struct dpt *t, enum lbd_reason r)
{
	struct lbd_counter c[LBD_REASON_MAX];

	cr_assert_eq(dp_reasons_read(t->dp, c), 0);
	return c[r].packets;
}

const char *dpt_backend_of(const uint8_t *out, size_t len, char *buf,
			   size_t buflen)
{
	uint16_t type;

	if (len < 14 + 40)
		return NULL;
	type = (uint16_t)(out[12] << 8 | out[13]);
	if (type == 0x0800)
		return inet_ntop(AF_INET, out + 14 + 16, buf, (socklen_t)buflen);
	if (type == 0x86dd)
		return inet_ntop(AF_INET6, out + 14 + 24, buf,
				 (socklen_t)buflen);
	return NULL;
}

void dpt_eth_in(struct pkt *p)
{
	pkt_eth(p, MAC_LB, MAC_ROUTER);
}

void dpt_eth_out(struct pkt *p)
{
	pkt_eth(p, MAC_ROUTER, MAC_LB);
}
