// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "ctwalk.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Entries a batched lookup asks for in one syscall. */
#define CT_BATCH 1024

static void ct_flow_of(__u8 family, const void *key, const struct lbd_ct *v,
		       struct dp_ct_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->family = family;
	f->key = key;
	f->v = *v;
	if (family == LBD_AF_INET) {
		const struct lbd_ct_key4 *k = key;

		f->proto = k->proto;
		f->saddr.v4 = k->saddr;
		f->daddr.v4 = k->daddr;
		f->sport = ntohs(k->sport);
		f->dport = ntohs(k->dport);
	} else {
		const struct lbd_ct_key6 *k = key;

		f->proto = k->proto;
		f->saddr = k->saddr;
		f->daddr = k->daddr;
		f->sport = ntohs(k->sport);
		f->dport = ntohs(k->dport);
	}
}

/* Walks one conntrack map, in batches (one syscall per CT_BATCH entries,
 * which keeps a walk of a million entries well under a second), or
 * entry by entry where batches are not supported. */
static int ct_walk_map(int fd, size_t ksz, __u8 family, dp_ct_fn fn, void *arg)
{
	void *keys = malloc(CT_BATCH * ksz);
	struct lbd_ct *vals = malloc(CT_BATCH * sizeof(*vals));
	__u64 in_tok = 0, out_tok = 0;
	struct dp_ct_flow f;
	bool first = true, done = false;
	int err = 0;
	__u32 i, n;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!done) {
		n = CT_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok,
					   keys, vals, &n, NULL);
		if (err == -ENOENT) {
			done = true;
			err = 0;
		} else if (err && first) {
			goto one_by_one;
		} else if (err) {
			goto out;
		}
		for (i = 0; i < n; i++) {
			ct_flow_of(family, (char *)keys + i * ksz, &vals[i],
				   &f);
			fn(arg, &f);
		}
		in_tok = out_tok;
		first = false;
	}
	goto out;
one_by_one : {
	char k[64], nk[64];
	void *prev = NULL;

	err = 0;
	for (; bpf_map_get_next_key(fd, prev, nk) == 0; prev = k) {
		memcpy(k, nk, ksz);
		if (bpf_map_lookup_elem(fd, k, &vals[0]) == 0) {
			ct_flow_of(family, k, &vals[0], &f);
			fn(arg, &f);
		}
	}
}
out:
	free(keys);
	free(vals);
	return err;
}

int dp_ct_walk(struct lbd_dp *dp, dp_ct_fn fn, void *arg)
{
	int err = ct_walk_map(dp_map_fd(dp, DP_MAP_CT4),
			      sizeof(struct lbd_ct_key4), LBD_AF_INET, fn, arg);

	if (!err)
		err = ct_walk_map(dp_map_fd(dp, DP_MAP_CT6),
				  sizeof(struct lbd_ct_key6), LBD_AF_INET6, fn,
				  arg);
	return err;
}

bool dp_ct_delete(struct lbd_dp *dp, __u8 family, const void *key)
{
	int fd = dp_map_fd(dp, family == LBD_AF_INET ? DP_MAP_CT4 : DP_MAP_CT6);

	return bpf_map_delete_elem(fd, key) == 0;
}

__u32 dp_ct_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u32)ts.tv_sec;
}

bool dp_ct_live(const struct lbd_dp *dp, __u8 proto, const struct lbd_ct *v,
		__u32 now)
{
	const struct lbd_knobs *k = &dp_opts(dp)->knobs;
	__u32 t = proto == IPPROTO_UDP	      ? k->udp_timeout :
		  v->flags & LBD_CT_F_CLOSING ? k->tcp_closing_timeout :
						k->tcp_timeout;

	return !lbd_idle_over(now, v->last_seen, t);
}

/* Entries of a hash map, counted in batches like ct_walk_map. */
static long count_map(int fd, size_t ksz, size_t vsz)
{
	void *keys = malloc(CT_BATCH * ksz), *vals = malloc(CT_BATCH * vsz);
	__u64 in_tok = 0, out_tok = 0;
	bool first = true;
	long total = 0;
	__u32 n;
	int err;

	if (!keys || !vals) {
		total = -ENOMEM;
		goto out;
	}
	for (;;) {
		n = CT_BATCH;
		err = bpf_map_lookup_batch(fd, first ? NULL : &in_tok, &out_tok,
					   keys, vals, &n, NULL);
		if (err && err != -ENOENT) {
			if (first)
				break;
			total = err;
			goto out;
		}
		total += n;
		if (err == -ENOENT)
			goto out;
		in_tok = out_tok;
		first = false;
	}
	/* no batches: one key at a time */
	{
		char k[64], nk[64];
		void *prev = NULL;

		for (; bpf_map_get_next_key(fd, prev, nk) == 0; prev = k) {
			memcpy(k, nk, ksz);
			total++;
		}
	}
out:
	free(keys);
	free(vals);
	return total;
}

long dp_map_count(struct lbd_dp *dp, enum dp_map m)
{
	switch (m) {
	case DP_MAP_NAT4:
		return count_map(dp_map_fd(dp, m), sizeof(struct lbd_nat_key4),
				 sizeof(struct lbd_nat));
	case DP_MAP_NAT6:
		return count_map(dp_map_fd(dp, m), sizeof(struct lbd_nat_key6),
				 sizeof(struct lbd_nat));
	case DP_MAP_AFFINITY:
		return count_map(dp_map_fd(dp, m), sizeof(struct lbd_aff_key),
				 sizeof(struct lbd_aff));
	default:
		return -EINVAL;
	}
}
