// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "bemaps.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* The trie key of a prefix; a key of the other family is 0. */
static size_t peer_key(const struct lbd_conf_addr *a, __u8 family, void *k)
{
	if (a->family != family)
		return 0;
	if (family == LBD_AF_INET) {
		struct lbd_peer_key4 *k4 = k;

		memset(k4, 0, sizeof(*k4));
		k4->prefixlen = a->prefixlen;
		k4->addr = a->addr.v4;
		return sizeof(*k4);
	} else {
		struct lbd_peer_key6 *k6 = k;

		memset(k6, 0, sizeof(*k6));
		k6->prefixlen = a->prefixlen;
		k6->addr = a->addr;
		return sizeof(*k6);
	}
}

/* The key of a's prefix in lbd_be_sources, of either family. */
void bemaps_src_key(const struct lbd_conf_addr *a, struct lbd_src_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = LBD_SRC_PREFIX_BASE + a->prefixlen;
	k->family = a->family;
	k->addr = a->addr;
}

static size_t src_key(const struct lbd_conf_addr *a, __u8 family, void *k)
{
	(void)family;
	bemaps_src_key(a, k);
	return sizeof(struct lbd_src_key);
}

/* Writes a's key in a trie of the given family (ignored by a trie that
 * holds both) into k; its length, or 0 when a has no key there. */
typedef size_t (*trie_key_fn)(const struct lbd_conf_addr *a, __u8 family,
			      void *k);

/* Room for a key of any of the tries synced here. */
union trie_key {
	struct lbd_peer_key6 peer;
	struct lbd_src_key src;
};

#define TRIE_MAX                                                    \
	(LBD_BE_MAX_PEERS > LBD_BE_MAX_SOURCES ? LBD_BE_MAX_PEERS : \
						 LBD_BE_MAX_SOURCES)

/* The index of the entry key stands for in a, or -1. */
static long trie_find(const void *key, __u8 family, trie_key_fn key_of,
		      const struct lbd_conf_addr *a, size_t n)
{
	union trie_key k;
	size_t i, len;

	for (i = 0; i < n; i++) {
		len = key_of(&a[i], family, &k);
		if (len && !memcmp(&k, key, len))
			return (long)i;
	}
	return -1;
}

/* A lookup in a trie is a longest-prefix match, not a test of whether a
 * key is there: what is there is learnt from the walk. */
static int sync_trie(int fd, __u8 family, trie_key_fn key_of,
		     const struct lbd_conf_addr *a, size_t n, size_t max)
{
	bool have[TRIE_MAX] = { false };
	union trie_key k, next;
	__u8 one = 1;
	void *prev = NULL;
	size_t i;
	long at;

	if (n > max)
		return -E2BIG;
	/* removing while walking restarts the walk from the start */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		at = trie_find(&k, family, key_of, a, n);
		if (at < 0) {
			if (bpf_map_delete_elem(fd, &k) < 0)
				return -errno;
			prev = NULL;
		} else {
			have[at] = true;
			prev = &k;
		}
	}
	for (i = 0; i < n; i++) {
		if (have[i] || !key_of(&a[i], family, &k))
			continue;
		if (bpf_map_update_elem(fd, &k, &one, BPF_ANY) < 0)
			return -errno;
	}
	return 0;
}

int bemaps_sync_peers(int fd4, int fd6, const struct lbd_conf_addr *a, size_t n)
{
	int err = sync_trie(fd4, LBD_AF_INET, peer_key, a, n, LBD_BE_MAX_PEERS);

	if (!err)
		err = sync_trie(fd6, LBD_AF_INET6, peer_key, a, n,
				LBD_BE_MAX_PEERS);
	return err;
}

int bemaps_sync_sources(int fd, const struct lbd_conf_addr *a, size_t n)
{
	return sync_trie(fd, 0, src_key, a, n, LBD_BE_MAX_SOURCES);
}
