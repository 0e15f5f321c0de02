// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "be_harness.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bemaps.h"
#include "harness.h"
#include "tc_backend.skel.h"

/* Adds the addresses of a NULL-terminated list to a set map, keyed as
 * lbd's backend role keys them (struct lbd_addr_key). */
static void set_fill(struct bpf_map *m, const char *const *list)
{
	__u8 one = 1;

	for (; list && *list; list++) {
		struct pkt_addr a = pkt_ip(*list);
		struct lbd_addr_key k;

		memset(&k, 0, sizeof(k));
		if (a.family == AF_INET) {
			k.family = LBD_AF_INET;
			k.addr.v4 = a.v4.s_addr;
		} else {
			k.family = LBD_AF_INET6;
			memcpy(k.addr.b, &a.v6, 16);
		}
		cr_assert_eq(bpf_map__update_elem(m, &k, sizeof(k), &one,
						  sizeof(one), BPF_ANY),
			     0, "adding %s: %s", *list, strerror(errno));
	}
}

/* Writes a NULL-terminated list of addresses and prefixes ("a/len") to
 * lbd_be_sources with lbd's own code (bemaps_sync_sources). */
static void sources_fill(struct bpf_map *m, const char *const *list)
{
	struct lbd_conf_addr a[16];
	size_t n = 0;
	int err;

	for (; list && *list; list++) {
		char ip[64];
		const char *slash = strchr(*list, '/');
		struct pkt_addr p;

		cr_assert_lt(n, 16);
		snprintf(ip, sizeof(ip), "%.*s",
			 (int)(slash ? slash - *list : (long)strlen(*list)),
			 *list);
		p = pkt_ip(ip);
		memset(&a[n], 0, sizeof(a[n]));
		a[n].family = p.family == AF_INET ? LBD_AF_INET : LBD_AF_INET6;
		a[n].prefixlen = p.family == AF_INET ? 32 : 128;
		if (slash)
			a[n].prefixlen = (__u8)atoi(slash + 1);
		if (p.family == AF_INET)
			a[n].addr.v4 = p.v4.s_addr;
		else
			memcpy(a[n].addr.b, &p.v6, 16);
		n++;
	}
	err = bemaps_sync_sources(bpf_map__fd(m), a, n);
	cr_assert_eq(err, 0, "bemaps_sync_sources: %s", strerror(-err));
}

void bet_setup(struct bet *t, const char *const *sources,
	       const char *const *locals)
{
	struct bpf_map *m;
	int err;

	memset(t, 0, sizeof(*t));
	t->skel = tc_backend__open();
	cr_assert_not_null(t->skel, "opening bpf/backend/backend.bpf.c: %s",
			   strerror(errno));
	/* pinning is declared in the object: nothing pinned or reused */
	bpf_object__for_each_map(m, t->skel->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(t->skel->maps.lbd_be_flows, 1024);
	t->skel->rodata->be_knobs.map_abi = LBD_MAP_ABI;
	t->skel->rodata->be_knobs.flow_timeout = 3600;
	err = tc_backend__load(t->skel);
	cr_assert_eq(err, 0, "loading bpf/backend/backend.bpf.c: %s", strerror(-err));
	sources_fill(t->skel->maps.lbd_be_sources, sources);
	set_fill(t->skel->maps.lbd_be_local, locals);
}

void bet_teardown(struct bet *t)
{
	tc_backend__destroy(t->skel);
	t->skel = NULL;
}

int bet_run(struct bet *t, bool ingress, const struct pkt *in, uint8_t *out,
	    size_t *out_len)
{
	struct bpf_program *prog = ingress ? t->skel->progs.lbd_tc_ingress :
					     t->skel->progs.lbd_tc_egress;

	return dpt_run_skb(bpf_program__fd(prog), in, 0, out, out_len);
}

static const char *tc_action_name(int a)
{
	switch (a) {
	case TC_ACT_OK:
		return "TC_ACT_OK";
	case TC_ACT_SHOT:
		return "TC_ACT_SHOT";
	default:
		return "?";
	}
}

void bet_check(struct bet *t, bool ingress, const struct pkt *in,
	       int want_action, const struct pkt *want)
{
	uint8_t out[PKT_MAX];
	size_t len = sizeof(out);
	int act = bet_run(t, ingress, in, out, &len);

	cr_assert_eq(act, want_action, "verdict %s (%d), want %s",
		     tc_action_name(act), act, tc_action_name(want_action));
	if (!want)
		return;
	if (len != want->len || memcmp(out, want->buf, len)) {
		pkt_diff(stderr, out, len, want->buf, want->len);
		cr_assert_fail("output packet differs (got | want above)");
	}
}

uint64_t bet_reason(struct bet *t, enum lbd_reason r)
{
	int ncpu = libbpf_num_possible_cpus(), i, err;
	size_t size = sizeof(struct lbd_counter) * (size_t)ncpu;
	struct lbd_counter *c;
	__u32 key = r;
	uint64_t sum = 0;

	cr_assert_gt(ncpu, 0);
	c = calloc((size_t)ncpu, sizeof(*c));
	cr_assert_not_null(c);
	err = bpf_map__lookup_elem(t->skel->maps.lbd_be_stats, &key,
				   sizeof(key), c, size, 0);
	for (i = 0; !err && i < ncpu; i++)
		sum += c[i].packets;
	free(c);
	cr_assert_eq(err, 0, "reading lbd_be_stats: %s", strerror(-err));
	return sum;
}

unsigned bet_flows_clear(struct bet *t)
{
	int fd = bpf_map__fd(t->skel->maps.lbd_be_flows);
	struct lbd_gnv_key k;
	unsigned n = 0;

	/* always the first key: the one before was just deleted */
	while (!bpf_map_get_next_key(fd, NULL, &k)) {
		cr_assert_eq(bpf_map_delete_elem(fd, &k), 0,
			     "deleting a flow: %s", strerror(errno));
		n++;
	}
	return n;
}
