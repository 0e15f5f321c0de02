/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The userspace side of the LB program: loading it with its maps (adopting
 * the pinned ones), and every map write lbd makes. lbd, its tests and its
 * tools all fill the maps through this, so what tests exercise is what
 * runs.
 *
 * Library code: functions return 0 or a negative errno and never exit.
 */
#ifndef LBD_DATAPATH_H
#define LBD_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "lbd/shared.h"

struct lbd_dp_opts {
	const char *pin_path; /* NULL: nothing pinned, nothing adopted */
	__u32 max_vips;
	__u32 max_services;
	__u32 max_backends;
	__u32 ct_entries;
	__u32 nat_entries;
	__u32 affinity_entries;
	struct lbd_knobs knobs;
};

/* Defaults for every size, and knobs as the program's defaults. */
/* Routes libbpf's and libxdp's messages into lbd's log, one level
 * quieter (their debug, the verifier log, only at verbosity 2). */
void dp_log_route(void);

void dp_opts_default(struct lbd_dp_opts *o);

struct lbd_dp;

/*
 * Loads the LB program. With a pin path, maps pinned there are reused
 * (their contents and the flows in them survive) and new ones are pinned;
 * the program is pinned there too. Fails with -EINVAL when pinned maps
 * have another size or ABI than asked for.
 */
int dp_open(const struct lbd_dp_opts *o, struct lbd_dp **out);
/*
 * Makes every map of obj (opened, not loaded) the LB program's map of the
 * same name, so that another program (bpf/lb/hc.bpf.c) works on the same
 * state. Only for a datapath lbd loaded (not dp_open_pinned).
 */
struct bpf_object;
int dp_reuse_maps(const struct lbd_dp *dp, struct bpf_object *obj);

/* Opens the maps pinned under pin_path without loading a program, to
 * read (or change) the running lbd's state. -ENOENT when none. */
int dp_open_pinned(const char *pin_path, struct lbd_dp **out);
void dp_close(struct lbd_dp *dp);

/* Whether dp_open found pinned maps to adopt. */
bool dp_adopted(const struct lbd_dp *dp);
int dp_prog_fd(const struct lbd_dp *dp);
/* The sizes and knobs it was opened with. */
const struct lbd_dp_opts *dp_opts(const struct lbd_dp *dp);
/* Map writes made so far (updates, deletes and Maglev table fills). */
unsigned long dp_writes(const struct lbd_dp *dp);

/*
 * A transaction of map writes (lbd's apply). Between dp_journal_begin and
 * dp_journal_end, every write to the VIP, service, backend, Maglev and
 * source-range maps first records what it replaces (a replaced Maglev
 * table is held, not freed). dp_journal_rollback puts all of it back,
 * newest first: the reverse of an order in which every packet's view is
 * consistent is one too, and a rollback that stops at a write it cannot
 * make leaves the maps as the writes before that one had made them. The
 * VIP table (a cache of the hash maps) is taken out first; the caller
 * installs the one of the state it went back to. Counters are not put
 * back: an id's counters are zeroed when it is given out, and a free id
 * has none worth keeping.
 *
 * dp_journal_begin fails (-ENOMEM) before any write; a write whose undo
 * cannot be recorded is not made. dp_journal_rollback tries each write
 * DP_UNDO_TRIES times and returns 0, or the error of the first write it
 * could not make (the rest are not attempted). dp_journal_end forgets
 * the journal (after a commit, or after a rollback) and frees the tables
 * it held.
 */
#define DP_UNDO_TRIES 3
int dp_journal_begin(struct lbd_dp *dp);
int dp_journal_rollback(struct lbd_dp *dp);
void dp_journal_end(struct lbd_dp *dp);
/* Writes recorded since dp_journal_begin. */
size_t dp_journal_len(const struct lbd_dp *dp);

/*
 * Failure injection, for tests: called before every map write (each
 * element of a batch, each Maglev table filled, the VIP table's swap,
 * and the writes of a rollback) with the map's name; a write fails with
 * what it returns when that is a negative errno. lbd's own definition is
 * weak and returns 0; a test links its own. Nothing outside the process
 * reaches it.
 */
int dp_write_fault(const char *map);

/* A service's address: family-generic form of lbd_svc_key4/6. */
struct lbd_svc_addr {
	__u8 family;
	__u8 proto;
	__be16 port;
	union lbd_addr vip;
};

int dp_vip_put(struct lbd_dp *dp, __u8 family, const union lbd_addr *vip,
	       const struct lbd_vip *v);
int dp_vip_del(struct lbd_dp *dp, __u8 family, const union lbd_addr *vip);
int dp_svc_put(struct lbd_dp *dp, const struct lbd_svc_addr *a,
	       const struct lbd_svc *v);
int dp_svc_get(struct lbd_dp *dp, const struct lbd_svc_addr *a,
	       struct lbd_svc *v);
int dp_svc_del(struct lbd_dp *dp, const struct lbd_svc_addr *a);
/*
 * The VIP table (struct lbd_vip_slot): dp_vip_slots() slots, 0 for a
 * datapath without a program. dp_vip_table_put installs slots (that many)
 * in one atomic swap, and only when they differ from what it installed
 * last; on failure, or with slots NULL, it takes the table out: the
 * program then falls back to the hash maps rather than read a stale one.
 */
__u32 dp_vip_slots(const struct lbd_dp *dp);
int dp_vip_table_put(struct lbd_dp *dp, const struct lbd_vip_slot *slots);
int dp_backend_put(struct lbd_dp *dp, __u32 id, const struct lbd_backend *b);
int dp_backend_get(struct lbd_dp *dp, __u32 id, struct lbd_backend *b);
/* n backends at once (a few syscalls instead of n). */
int dp_backend_put_batch(struct lbd_dp *dp, const __u32 *ids,
			 const struct lbd_backend *v, __u32 n);

/*
 * Installs a service's Maglev table (m slots of backend ids, the owner of
 * each slot; no previous owners) in one atomic swap: a new inner map is
 * filled completely, then replaces the old one. ids == NULL or m == 0
 * removes the table (no usable backend).
 */
int dp_maglev_put(struct lbd_dp *dp, __u32 svc_id, const __u32 *ids,
		  __u32 m);
/* The same for a table in its map layout (struct lbd_maglev_chunk):
 * words holds dp_maglev_words(m, n) words, the list of n ids from word
 * LBD_MAGLEV_HDR and the m slot words after it; words 0 and 1 and the
 * padding are written here. */
int dp_maglev_put_words(struct lbd_dp *dp, __u32 svc_id, __u32 *words,
			__u32 m, __u32 n);
/*
 * The same in two steps, for many services at once: each swap on its own
 * waits for an RCU grace period (the kernel makes sure no program still
 * reads the old table), a batch waits for one. dp_maglev_prepare returns
 * a filled table as an fd to commit, or a negative errno. It takes the
 * table in buf as dp_maglev_put_words does; buf == NULL or m == 0 gives
 * an empty table, which the program reads as none. dp_maglev_prepare may
 * run on several threads at once.
 * dp_maglev_commit installs fds[i] as the table of svc_ids[i]; the fds
 * stay the caller's to close.
 */
size_t dp_maglev_words(__u32 m, __u32 n);
int dp_maglev_prepare(struct lbd_dp *dp, __u32 *buf, __u32 m, __u32 n);
int dp_maglev_commit(struct lbd_dp *dp, const __u32 *svc_ids, const int *fds,
		     __u32 n);
/* Reads the installed table's words (M = words[0], N = words[1], the
 * list, the slots) into a new array the caller frees: 0 with *words NULL
 * when there is none, -EBADMSG for a table whose slots name no entry of
 * its list, or a negative errno. Safe on several threads at once. */
int dp_maglev_read(struct lbd_dp *dp, __u32 svc_id, __u32 **words);
/* Reads the installed table's owners, one backend id a slot, into ids
 * (capacity cap); returns M, 0 when there is none, or a negative errno. */
int dp_maglev_get(struct lbd_dp *dp, __u32 svc_id, __u32 *ids, __u32 cap);

/* What the program reports in lbd_events (LBD_MON_* bits; 0: nothing),
 * and that ring buffer's fd for libbpf's ring_buffer__new. Only for a
 * datapath lbd loaded (not dp_open_pinned). */
int dp_monitor_set(struct lbd_dp *dp, __u32 mask);
int dp_events_fd(const struct lbd_dp *dp);

/* A source range of a service (addr with its prefix length). */
int dp_src_put(struct lbd_dp *dp, __u32 svc_id, __u8 family,
	       const union lbd_addr *addr, __u8 prefixlen);
int dp_src_del(struct lbd_dp *dp, __u32 svc_id, __u8 family,
	       const union lbd_addr *addr, __u8 prefixlen);

int dp_tx_port_put(struct lbd_dp *dp, __u32 ifindex);
int dp_tx_port_del(struct lbd_dp *dp, __u32 ifindex);

/* Counters summed over CPUs. */
int dp_reasons_read(struct lbd_dp *dp, struct lbd_counter out[LBD_REASON_MAX]);
int dp_svc_traffic(struct lbd_dp *dp, __u32 svc_id, struct lbd_traffic *out);
int dp_be_traffic(struct lbd_dp *dp, __u32 be_id, struct lbd_traffic *out);
/* Zeroes a service's or backend's counters (when its id is reused). */
int dp_svc_traffic_reset(struct lbd_dp *dp, __u32 svc_id);
int dp_be_traffic_reset(struct lbd_dp *dp, __u32 be_id);
int dp_be_traffic_reset_batch(struct lbd_dp *dp, const __u32 *ids, __u32 n);

/* Map fds, for code that walks a map itself (conntrack, adoption). */
enum dp_map {
	DP_MAP_VIP4,
	DP_MAP_VIP6,
	DP_MAP_SVC4,
	DP_MAP_SVC6,
	DP_MAP_BACKENDS,
	DP_MAP_MAGLEV,
	DP_MAP_CT4,
	DP_MAP_CT6,
	DP_MAP_STATS,
	DP_MAP_SVC_STATS,
	DP_MAP_BE_STATS,
	DP_MAP_TX_PORTS,
	DP_MAP_META,
	DP_MAP_NAT4,
	DP_MAP_NAT6,
	DP_MAP_SRC4,
	DP_MAP_SRC6,
	DP_MAP_AFFINITY,
	DP_MAP_COUNT
};
int dp_map_fd(const struct lbd_dp *dp, enum dp_map m);
/* A walk of map m in key order (prev NULL: from the start): 0 with next
 * filled, -ENOENT at the end, or another negative errno. */
int dp_map_next_key(struct lbd_dp *dp, enum dp_map m, const void *prev,
		    void *next);
/* The value of key in map m: 0, -ENOENT, or another negative errno. */
int dp_map_lookup(struct lbd_dp *dp, enum dp_map m, const void *key,
		  void *val);
/* The map's name as pinned. */
const char *dp_map_name(enum dp_map m);

/* Pinned maps of the LB role (lbd_meta) and of the node role
 * (lbd_node_meta) carry the map ABI of the lbd that made them. dir/name
 * into buf (-ENAMETOOLONG rather than a truncated path); the ABI in the
 * meta map fd refused, with lbd's message naming dir, when another lbd's
 * (0 when none is recorded yet: new maps); this lbd's recorded where none
 * is. 0 or a negative errno. */
int dp_pin_file(char *buf, size_t len, const char *dir, const char *name);
int dp_meta_abi_check(int meta_fd, const char *dir);
int dp_meta_abi_record(int meta_fd);

/* Name of the pinned program under the pin path. */
#define DP_PROG_PIN "lbd_prog"

/* Unpins every map and the program under pin_path, and removes the
 * directory when it is then empty. Missing pins are not an error. */
int dp_unpin_all(const char *pin_path);

#endif /* LBD_DATAPATH_H */
