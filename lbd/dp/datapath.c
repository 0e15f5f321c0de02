// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "xdp_lb.skel.h"

struct lbd_dp {
	struct xdp_lb *skel;
	int fds[DP_MAP_COUNT];
	int ncpus;
	bool adopted;
	unsigned long writes;
	struct lbd_dp_opts opts;
	char pin_path[PATH_MAX];
	__u32 vip_slots; /* of the VIP table; 0: none (dp_open_pinned) */
	struct lbd_vip_slot *vip_table; /* as installed; NULL: none yet */
	struct dp_journal {
		bool on;
		bool vip_table; /* the VIP table was swapped */
		struct dp_undo *u;
		size_t n, cap;
		/* a rollback's batches, in reverse: as large as u, so that
		 * putting back needs no memory */
		__u32 *keys;
		unsigned char *vals;
		/* an empty Maglev table, put back where there was none
		 * (as a removal leaves one): made before any write */
		int empty_fd;
	} j;
};

/* What a journaled write replaced. */
#define DP_UNDO_KEY 24
#define DP_UNDO_VAL 32
struct dp_undo {
	__u8 map; /* enum dp_map */
	bool had; /* the key held val (for DP_MAP_MAGLEV: the table fd) */
	int fd; /* DP_MAP_MAGLEV: the table replaced, held; -1: none */
	unsigned char key[DP_UNDO_KEY];
	unsigned char val[DP_UNDO_VAL];
};
_Static_assert(sizeof(struct lbd_src_key6) <= DP_UNDO_KEY, "undo key");
_Static_assert(sizeof(struct lbd_svc_key6) <= DP_UNDO_KEY, "undo key");
_Static_assert(sizeof(struct lbd_backend) <= DP_UNDO_VAL, "undo value");
_Static_assert(sizeof(struct lbd_svc) <= DP_UNDO_VAL, "undo value");
_Static_assert(sizeof(struct lbd_vip) <= DP_UNDO_VAL, "undo value");

static const char *const dp_map_names[DP_MAP_COUNT] = {
	[DP_MAP_VIP4] = "lbd_vip4",
	[DP_MAP_VIP6] = "lbd_vip6",
	[DP_MAP_SVC4] = "lbd_svc4",
	[DP_MAP_SVC6] = "lbd_svc6",
	[DP_MAP_BACKENDS] = "lbd_backends",
	[DP_MAP_MAGLEV] = "lbd_maglev",
	[DP_MAP_CT4] = "lbd_ct4",
	[DP_MAP_CT6] = "lbd_ct6",
	[DP_MAP_STATS] = "lbd_stats",
	[DP_MAP_SVC_STATS] = "lbd_svc_stats",
	[DP_MAP_BE_STATS] = "lbd_be_stats",
	[DP_MAP_TX_PORTS] = "lbd_tx_ports",
	[DP_MAP_META] = "lbd_meta",
	[DP_MAP_NAT4] = "lbd_nat4",
	[DP_MAP_NAT6] = "lbd_nat6",
	[DP_MAP_SRC4] = "lbd_src4",
	[DP_MAP_SRC6] = "lbd_src6",
	[DP_MAP_AFFINITY] = "lbd_affinity",
};

const char *dp_map_name(enum dp_map m)
{
	return m < DP_MAP_COUNT ? dp_map_names[m] : "?";
}

void dp_opts_default(struct lbd_dp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_vips = LBD_DEFAULT_MAX_VIPS;
	o->max_services = LBD_DEFAULT_MAX_SERVICES;
	o->max_backends = LBD_DEFAULT_MAX_BACKENDS;
	o->ct_entries = LBD_DEFAULT_CT_ENTRIES;
	o->nat_entries = 262144;
	o->affinity_entries = 262144;
	o->knobs.map_abi = LBD_MAP_ABI;
	o->knobs.udp_timeout = 60;
	o->knobs.tcp_timeout = 3600;
	o->knobs.tcp_closing_timeout = 10;
	o->knobs.icmp_rate = 100;
	o->knobs.icmp_burst = 20;
}

/* dir/name into buf; -ENAMETOOLONG rather than a truncated path. */
int dp_pin_file(char *buf, size_t len, const char *dir, const char *name)
{
	if (snprintf(buf, len, "%s/%s", dir, name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

static bool pinned(const char *dir, const char *name)
{
	char path[PATH_MAX];

	return dp_pin_file(path, sizeof(path), dir, name) == 0 &&
	       access(path, F_OK) == 0;
}

/* libbpf reuses a pinned map only when type, sizes and flags match, and
 * then says little; name the map and the likely cause instead. */
static int dp_check_pinned_size(const char *dir, const char *name,
				__u32 want)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err = 0;

	if (dp_pin_file(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* not pinned: it will be created */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	    info.max_entries != want) {
		log_warnx("pinned map %s has %u entries, the config asks for "
			  "%u; changing it drops its contents: restart with "
			  "lbd --cleanup first",
			  path, info.max_entries, want);
		err = -EINVAL;
	}
	close(fd);
	return err;
}

int dp_meta_abi_check(int fd, const char *dir)
{
	struct lbd_meta meta = { 0 };
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &meta) < 0)
		return -errno;
	if (meta.map_abi && meta.map_abi != LBD_MAP_ABI) {
		log_warnx("pinned maps under %s have map ABI %u, this lbd "
			  "uses %u: run lbd --cleanup (drops all flows)",
			  dir, meta.map_abi, LBD_MAP_ABI);
		return -EINVAL;
	}
	return 0;
}

/* The ABI of maps pinned under pin_path, before a program is loaded on
 * them: with another layout the load itself would fail, tersely. */
static int dp_check_pinned_abi(const char *pin_path)
{
	char path[PATH_MAX];
	int fd, err;

	if (dp_pin_file(path, sizeof(path), pin_path, "lbd_meta"))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* not pinned: it will be created */
	err = dp_meta_abi_check(fd, pin_path);
	close(fd);
	return err;
}

/* Records this lbd's map ABI in maps that have none yet (new ones); the
 * ABI of pinned ones was checked before the load (dp_check_pinned_abi). */
int dp_meta_abi_record(int fd)
{
	struct lbd_meta meta = { 0 };
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &meta) < 0)
		return -errno;
	if (meta.map_abi)
		return 0;
	meta.map_abi = LBD_MAP_ABI;
	if (bpf_map_update_elem(fd, &zero, &meta, BPF_ANY) < 0)
		return -errno;
	return 0;
}

/* Slots of the VIP table for up to max_vips VIPs of each family: four
 * per VIP of one family keeps the share of VIPs that spill to the hash
 * maps below about 1 in 8 at that size; the cap keeps it at 32 MiB. */
static __u32 vip_slots_for(__u32 max_vips)
{
	__u32 n = 64;

	while (n < (1u << 18) && n / 4 < max_vips)
		n <<= 1;
	return n;
}

/* An empty VIP table of n slots, filled through a mapping. */
static int vip_table_create(__u32 n)
{
	LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lbd_vip_tbl",
				sizeof(__u32), sizeof(struct lbd_vip_slot), n,
				&co);

	return fd < 0 ? -errno : fd;
}

int dp_open(const struct lbd_dp_opts *o, struct lbd_dp **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct bpf_map *maps[DP_MAP_COUNT];
	struct lbd_dp *dp;
	char prog_pin[PATH_MAX];
	int err, i, tmpl = -1;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->j.empty_fd = -1;
	dp->opts = *o;
	if (o->pin_path) {
		snprintf(dp->pin_path, sizeof(dp->pin_path), "%s", o->pin_path);
		dp->opts.pin_path = dp->pin_path;
		oo.pin_root_path = dp->pin_path;
		dp->adopted = pinned(dp->pin_path, "lbd_meta");
		err = dp_check_pinned_abi(dp->pin_path);
		if (!err)
			err = dp_check_pinned_size(dp->pin_path, "lbd_ct4",
						   o->ct_entries);
		if (!err)
			err = dp_check_pinned_size(dp->pin_path, "lbd_backends",
						   o->max_backends);
		if (!err)
			err = dp_check_pinned_size(dp->pin_path, "lbd_maglev",
						   o->max_services);
		if (!err)
			err = dp_check_pinned_size(dp->pin_path, "lbd_nat4",
						   o->nat_entries);
		if (!err)
			err = dp_check_pinned_size(dp->pin_path, "lbd_affinity",
						   o->affinity_entries);
		if (err)
			goto out;
	}

	dp->skel = xdp_lb__open_opts(&oo);
	if (!dp->skel) {
		err = -errno;
		goto out;
	}
	maps[DP_MAP_VIP4] = dp->skel->maps.lbd_vip4;
	maps[DP_MAP_VIP6] = dp->skel->maps.lbd_vip6;
	maps[DP_MAP_SVC4] = dp->skel->maps.lbd_svc4;
	maps[DP_MAP_SVC6] = dp->skel->maps.lbd_svc6;
	maps[DP_MAP_BACKENDS] = dp->skel->maps.lbd_backends;
	maps[DP_MAP_MAGLEV] = dp->skel->maps.lbd_maglev;
	maps[DP_MAP_CT4] = dp->skel->maps.lbd_ct4;
	maps[DP_MAP_CT6] = dp->skel->maps.lbd_ct6;
	maps[DP_MAP_STATS] = dp->skel->maps.lbd_stats;
	maps[DP_MAP_SVC_STATS] = dp->skel->maps.lbd_svc_stats;
	maps[DP_MAP_BE_STATS] = dp->skel->maps.lbd_be_stats;
	maps[DP_MAP_TX_PORTS] = dp->skel->maps.lbd_tx_ports;
	maps[DP_MAP_META] = dp->skel->maps.lbd_meta;
	maps[DP_MAP_NAT4] = dp->skel->maps.lbd_nat4;
	maps[DP_MAP_NAT6] = dp->skel->maps.lbd_nat6;
	maps[DP_MAP_SRC4] = dp->skel->maps.lbd_src4;
	maps[DP_MAP_SRC6] = dp->skel->maps.lbd_src6;
	maps[DP_MAP_AFFINITY] = dp->skel->maps.lbd_affinity;

	bpf_map__set_max_entries(maps[DP_MAP_VIP4], o->max_vips);
	bpf_map__set_max_entries(maps[DP_MAP_VIP6], o->max_vips);
	bpf_map__set_max_entries(maps[DP_MAP_SVC4], o->max_services);
	bpf_map__set_max_entries(maps[DP_MAP_SVC6], o->max_services);
	bpf_map__set_max_entries(maps[DP_MAP_MAGLEV], o->max_services);
	bpf_map__set_max_entries(maps[DP_MAP_SVC_STATS], o->max_services);
	bpf_map__set_max_entries(maps[DP_MAP_BACKENDS], o->max_backends);
	bpf_map__set_max_entries(maps[DP_MAP_BE_STATS], o->max_backends);
	bpf_map__set_max_entries(dp->skel->maps.lbd_nexthop, o->max_backends);
	bpf_map__set_max_entries(maps[DP_MAP_CT4], o->ct_entries);
	bpf_map__set_max_entries(maps[DP_MAP_CT6], o->ct_entries);
	bpf_map__set_max_entries(maps[DP_MAP_NAT4], o->nat_entries);
	bpf_map__set_max_entries(maps[DP_MAP_NAT6], o->nat_entries);
	bpf_map__set_max_entries(maps[DP_MAP_AFFINITY], o->affinity_entries);
	if (!o->pin_path) {
		/* pinning is declared in the object; without a pin path
		 * nothing is pinned or reused */
		for (i = 0; i < DP_MAP_COUNT; i++)
			bpf_map__set_pin_path(maps[i], NULL);
	}
	/* the size of the VIP table is fixed, so lookups in it are inlined;
	 * the inner map's template says which (libbpf 1.1 cannot resize
	 * the template it made itself) */
	dp->vip_slots = vip_slots_for(o->max_vips);
	tmpl = vip_table_create(dp->vip_slots);
	if (tmpl < 0) {
		err = tmpl;
		goto out;
	}
	err = bpf_map__set_inner_map_fd(dp->skel->maps.lbd_vip_slots, tmpl);
	if (err)
		goto out;
	dp->skel->rodata->knobs = o->knobs;
	dp->skel->rodata->knobs.map_abi = LBD_MAP_ABI;
	dp->skel->rodata->knobs.vip_slot_mask = dp->vip_slots - 1;

	err = xdp_lb__load(dp->skel);
	close(tmpl);
	tmpl = -1;
	if (err) {
		log_warnx("loading the XDP program failed: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < DP_MAP_COUNT; i++)
		dp->fds[i] = bpf_map__fd(maps[i]);
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus < 1) {
		err = dp->ncpus;
		goto out;
	}
	err = dp_meta_abi_record(dp->fds[DP_MAP_META]);
	if (err)
		goto out;

	if (o->pin_path) {
		err = dp_pin_file(prog_pin, sizeof(prog_pin), dp->pin_path,
			       DP_PROG_PIN);
		if (err)
			goto out;
		/* the previous lbd's program stays attached until replaced;
		 * the pin names the newest one */
		unlink(prog_pin);
		if (bpf_obj_pin(bpf_program__fd(dp->skel->progs.lbd_xdp),
				prog_pin) < 0) {
			err = -errno;
			log_warn("pinning %s", prog_pin);
			goto out;
		}
	}
	*out = dp;
	return 0;
out:
	if (tmpl >= 0)
		close(tmpl);
	dp_close(dp);
	return err;
}

int dp_reuse_maps(const struct lbd_dp *dp, struct bpf_object *obj)
{
	struct bpf_map *m, *mine;
	int err;

	if (!dp->skel)
		return -EINVAL;
	bpf_object__for_each_map(m, obj) {
		/* .rodata and .bss are the object's own (its knobs) */
		if (bpf_map__is_internal(m))
			continue;
		mine = bpf_object__find_map_by_name(dp->skel->obj,
						    bpf_map__name(m));
		if (!mine) {
			log_warnx("map %s is not the LB program's",
				  bpf_map__name(m));
			return -ENOENT;
		}
		/* the LB program's pins are the LB program's business */
		bpf_map__set_pin_path(m, NULL);
		err = bpf_map__reuse_fd(m, bpf_map__fd(mine));
		if (err)
			return err;
	}
	return 0;
}

int dp_open_pinned(const char *pin_path, struct lbd_dp **out)
{
	struct bpf_map_info info;
	char path[PATH_MAX];
	struct lbd_dp *dp;
	__u32 len;
	int i, err = 0;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->j.empty_fd = -1;
	for (i = 0; i < DP_MAP_COUNT; i++)
		dp->fds[i] = -1;
	snprintf(dp->pin_path, sizeof(dp->pin_path), "%s", pin_path);
	dp_opts_default(&dp->opts);
	dp->opts.pin_path = dp->pin_path;
	for (i = 0; i < DP_MAP_COUNT; i++) {
		if (i == DP_MAP_TX_PORTS)
			continue; /* not pinned, see bpf/lb/maps.h */
		err = dp_pin_file(path, sizeof(path), pin_path, dp_map_names[i]);
		if (err)
			goto out;
		dp->fds[i] = bpf_obj_get(path);
		if (dp->fds[i] < 0) {
			err = -errno;
			goto out;
		}
	}
	len = sizeof(info);
	memset(&info, 0, len);
	if (bpf_obj_get_info_by_fd(dp->fds[DP_MAP_MAGLEV], &info, &len) == 0)
		dp->opts.max_services = info.max_entries;
	len = sizeof(info);
	memset(&info, 0, len);
	if (bpf_obj_get_info_by_fd(dp->fds[DP_MAP_BACKENDS], &info, &len) == 0)
		dp->opts.max_backends = info.max_entries;
	dp->ncpus = libbpf_num_possible_cpus();
	dp->adopted = true;
	err = dp->ncpus < 1 ? dp->ncpus :
			      dp_meta_abi_check(dp->fds[DP_MAP_META], dp->pin_path);
	if (!err) {
		*out = dp;
		return 0;
	}
out:
	dp_close(dp);
	return err;
}

void dp_close(struct lbd_dp *dp)
{
	int i;

	if (!dp)
		return;
	if (dp->skel) {
		xdp_lb__destroy(dp->skel);
	} else {
		for (i = 0; i < DP_MAP_COUNT; i++)
			if (dp->fds[i] > 0)
				close(dp->fds[i]);
	}
	dp_journal_end(dp);
	if (dp->j.empty_fd >= 0)
		close(dp->j.empty_fd);
	free(dp->j.u);
	free(dp->j.keys);
	free(dp->j.vals);
	free(dp->vip_table);
	free(dp);
}

bool dp_adopted(const struct lbd_dp *dp)
{
	return dp->adopted;
}

int dp_prog_fd(const struct lbd_dp *dp)
{
	return dp->skel ? bpf_program__fd(dp->skel->progs.lbd_xdp) : -ENOENT;
}

const struct lbd_dp_opts *dp_opts(const struct lbd_dp *dp)
{
	return &dp->opts;
}

unsigned long dp_writes(const struct lbd_dp *dp)
{
	return dp->writes;
}

int dp_map_fd(const struct lbd_dp *dp, enum dp_map m)
{
	return m < DP_MAP_COUNT ? dp->fds[m] : -EINVAL;
}

int dp_map_next_key(struct lbd_dp *dp, enum dp_map m, const void *prev,
		    void *next)
{
	if (m >= DP_MAP_COUNT)
		return -EINVAL;
	return bpf_map_get_next_key(dp->fds[m], prev, next) ? -errno : 0;
}

int dp_map_lookup(struct lbd_dp *dp, enum dp_map m, const void *key,
		  void *val)
{
	if (m >= DP_MAP_COUNT)
		return -EINVAL;
	return bpf_map_lookup_elem(dp->fds[m], key, val) ? -errno : 0;
}

__attribute__((weak)) int dp_write_fault(const char *map)
{
	(void)map;
	return 0;
}

/* The maps a transaction puts back, with their key and value sizes. */
static bool journaled(enum dp_map m, size_t *ksize, size_t *vsize)
{
	switch (m) {
	case DP_MAP_VIP4:
		*ksize = sizeof(__be32);
		*vsize = sizeof(struct lbd_vip);
		return true;
	case DP_MAP_VIP6:
		*ksize = sizeof(union lbd_addr);
		*vsize = sizeof(struct lbd_vip);
		return true;
	case DP_MAP_SVC4:
		*ksize = sizeof(struct lbd_svc_key4);
		*vsize = sizeof(struct lbd_svc);
		return true;
	case DP_MAP_SVC6:
		*ksize = sizeof(struct lbd_svc_key6);
		*vsize = sizeof(struct lbd_svc);
		return true;
	case DP_MAP_BACKENDS:
		*ksize = sizeof(__u32);
		*vsize = sizeof(struct lbd_backend);
		return true;
	case DP_MAP_MAGLEV:
		*ksize = sizeof(__u32);
		*vsize = sizeof(__u32);
		return true;
	case DP_MAP_SRC4:
		*ksize = sizeof(struct lbd_src_key4);
		*vsize = sizeof(__u8);
		return true;
	case DP_MAP_SRC6:
		*ksize = sizeof(struct lbd_src_key6);
		*vsize = sizeof(__u8);
		return true;
	default:
		return false;
	}
}

static bool is_src(enum dp_map m)
{
	return m == DP_MAP_SRC4 || m == DP_MAP_SRC6;
}

/* Forgets the entries from n on (a write that did not happen). */
static void journal_trim(struct lbd_dp *dp, size_t n)
{
	struct dp_journal *j = &dp->j;

	while (j->n > n) {
		j->n--;
		if (j->u[j->n].fd >= 0)
			close(j->u[j->n].fd);
	}
}

static int journal_grow(struct dp_journal *j, size_t more)
{
	size_t cap = j->cap ? j->cap : 256;
	struct dp_undo *u;
	unsigned char *vals;
	__u32 *keys;

	if (j->n + more <= j->cap)
		return 0;
	while (cap < j->n + more)
		cap *= 2;
	u = realloc(j->u, cap * sizeof(*u));
	if (!u)
		return -ENOMEM;
	j->u = u;
	keys = realloc(j->keys, cap * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	j->keys = keys;
	vals = realloc(j->vals, cap * DP_UNDO_VAL);
	if (!vals)
		return -ENOMEM;
	j->vals = vals;
	j->cap = cap;
	return 0;
}

/*
 * Records what key of m holds before a write to it (del: a delete). An
 * LPM trie's lookup finds the longest match, not the key: a range is
 * added with BPF_NOEXIST (dp_update) and one deleted was there if the
 * delete worked, and a range's value is always 1.
 */
static int journal_note(struct lbd_dp *dp, enum dp_map m, const void *key,
			bool del)
{
	struct dp_journal *j = &dp->j;
	size_t ksize, vsize;
	struct dp_undo *u;
	__u32 id;
	int err;

	if (!j->on || !journaled(m, &ksize, &vsize))
		return 0;
	err = journal_grow(j, 1);
	if (err)
		return err;
	u = &j->u[j->n];
	memset(u, 0, sizeof(*u));
	u->map = (__u8)m;
	u->fd = -1;
	memcpy(u->key, key, ksize);
	if (is_src(m)) {
		u->had = del;
		u->val[0] = 1;
	} else if (m == DP_MAP_MAGLEV) {
		/* held: the table goes back as it was, without a rebuild
		 * that a lack of memory could stop */
		if (bpf_map_lookup_elem(dp->fds[m], key, &id) == 0) {
			u->fd = bpf_map_get_fd_by_id(id);
			if (u->fd < 0)
				return -errno;
			u->had = true;
		} else if (errno != ENOENT) {
			return -errno;
		}
	} else if (bpf_map_lookup_elem(dp->fds[m], key, u->val) == 0) {
		u->had = true;
	} else if (errno != ENOENT) {
		return -errno;
	}
	j->n++;
	return 0;
}

static int dp_update(struct lbd_dp *dp, enum dp_map m, const void *k,
		     const void *v)
{
	bool noexist = dp->j.on && is_src(m);
	size_t n0 = dp->j.n;
	int err = dp_write_fault(dp_map_names[m]);

	if (!err)
		err = journal_note(dp, m, k, false);
	if (err)
		return err;
	dp->writes++;
	if (bpf_map_update_elem(dp->fds[m], k, v,
				noexist ? BPF_NOEXIST : BPF_ANY) < 0) {
		err = -errno;
		journal_trim(dp, n0);
		/* the range is there already, with the only value */
		return noexist && err == -EEXIST ? 0 : err;
	}
	return 0;
}

static int dp_delete(struct lbd_dp *dp, enum dp_map m, const void *k)
{
	size_t n0 = dp->j.n;
	int err = dp_write_fault(dp_map_names[m]);

	if (!err)
		err = journal_note(dp, m, k, true);
	if (err)
		return err;
	dp->writes++;
	if (bpf_map_delete_elem(dp->fds[m], k) < 0) {
		err = -errno;
		journal_trim(dp, n0);
		return err == -ENOENT ? 0 : err;
	}
	return 0;
}

int dp_vip_put(struct lbd_dp *dp, __u8 family, const union lbd_addr *vip,
	       const struct lbd_vip *v)
{
	if (family == LBD_AF_INET)
		return dp_update(dp, DP_MAP_VIP4, &vip->v4, v);
	return dp_update(dp, DP_MAP_VIP6, vip, v);
}

int dp_vip_del(struct lbd_dp *dp, __u8 family, const union lbd_addr *vip)
{
	if (family == LBD_AF_INET)
		return dp_delete(dp, DP_MAP_VIP4, &vip->v4);
	return dp_delete(dp, DP_MAP_VIP6, vip);
}

/* The map key of a service: fills k4 or k6, returns which map. */
static enum dp_map svc_key(const struct lbd_svc_addr *a,
			   struct lbd_svc_key4 *k4, struct lbd_svc_key6 *k6,
			   const void **key)
{
	if (a->family == LBD_AF_INET) {
		memset(k4, 0, sizeof(*k4));
		k4->vip = a->vip.v4;
		k4->port = a->port;
		k4->proto = a->proto;
		*key = k4;
		return DP_MAP_SVC4;
	}
	memset(k6, 0, sizeof(*k6));
	k6->vip = a->vip;
	k6->port = a->port;
	k6->proto = a->proto;
	*key = k6;
	return DP_MAP_SVC6;
}

int dp_svc_put(struct lbd_dp *dp, const struct lbd_svc_addr *a,
	       const struct lbd_svc *v)
{
	struct lbd_svc_key4 k4;
	struct lbd_svc_key6 k6;
	const void *key;
	enum dp_map m = svc_key(a, &k4, &k6, &key);

	return dp_update(dp, m, key, v);
}

int dp_svc_get(struct lbd_dp *dp, const struct lbd_svc_addr *a,
	       struct lbd_svc *v)
{
	struct lbd_svc_key4 k4;
	struct lbd_svc_key6 k6;
	const void *key;
	enum dp_map m = svc_key(a, &k4, &k6, &key);

	if (bpf_map_lookup_elem(dp->fds[m], key, v) < 0)
		return -errno;
	return 0;
}

int dp_svc_del(struct lbd_dp *dp, const struct lbd_svc_addr *a)
{
	struct lbd_svc_key4 k4;
	struct lbd_svc_key6 k6;
	const void *key;
	enum dp_map m = svc_key(a, &k4, &k6, &key);

	return dp_delete(dp, m, key);
}

__u32 dp_vip_slots(const struct lbd_dp *dp)
{
	return dp->vip_slots;
}

/* Takes the table out: the program then finds VIPs and services in the
 * hash maps, which are complete. */
static int vip_table_drop(struct lbd_dp *dp)
{
	__u32 zero = 0;

	free(dp->vip_table);
	dp->vip_table = NULL;
	dp->writes++;
	if (bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.lbd_vip_slots),
				&zero) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

int dp_vip_table_put(struct lbd_dp *dp, const struct lbd_vip_slot *slots)
{
	size_t bytes = (size_t)dp->vip_slots * sizeof(*slots);
	int fd = -1, err;
	__u32 zero = 0;
	void *mem;

	if (!dp->skel)
		return -EOPNOTSUPP;
	if (!slots)
		return vip_table_drop(dp);
	if (dp->vip_table && !memcmp(dp->vip_table, slots, bytes))
		return 0;
	if (!dp->vip_table) {
		dp->vip_table = malloc(bytes);
		if (!dp->vip_table)
			return -ENOMEM;
	}
	fd = vip_table_create(dp->vip_slots);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	memcpy(mem, slots, bytes);
	munmap(mem, bytes);
	err = dp_write_fault("lbd_vip_slots");
	if (err)
		goto fail;
	/* what it replaces is not kept: a rollback takes the table out */
	if (dp->j.on)
		dp->j.vip_table = true;
	dp->writes++;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.lbd_vip_slots),
				&zero, &fd, BPF_ANY) < 0) {
		err = -errno;
		goto fail;
	}
	close(fd);
	memcpy(dp->vip_table, slots, bytes);
	return 0;
fail:
	/* a table that is not this one is stale: none is safe */
	if (fd >= 0)
		close(fd);
	vip_table_drop(dp);
	return err;
}

int dp_backend_put(struct lbd_dp *dp, __u32 id, const struct lbd_backend *b)
{
	if (id >= dp->opts.max_backends)
		return -ERANGE;
	return dp_update(dp, DP_MAP_BACKENDS, &id, b);
}

int dp_backend_get(struct lbd_dp *dp, __u32 id, struct lbd_backend *b)
{
	if (bpf_map_lookup_elem(dp->fds[DP_MAP_BACKENDS], &id, b) < 0)
		return -errno;
	return 0;
}

size_t dp_maglev_words(__u32 m, __u32 n)
{
	return (size_t)LBD_MAGLEV_CHUNKS(m, n) * LBD_MAGLEV_CHUNK;
}

/* An inner map of n chunks, zeroed: an empty table until filled. */
static int maglev_table_create(__u32 n)
{
	LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = BPF_F_INNER_MAP);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lbd_maglev_tbl",
				sizeof(__u32), sizeof(struct lbd_maglev_chunk),
				n, &co);

	return fd < 0 ? -errno : fd;
}

int dp_maglev_prepare(struct lbd_dp *dp, __u32 *buf, __u32 m, __u32 n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 *keys, chunks, i;
	size_t words;
	int fd, err;

	if (!buf)
		m = n = 0;
	if (m > LBD_MAGLEV_MAX || n > LBD_MAGLEV_MAX_LIST)
		return -EINVAL;
	err = dp_write_fault("lbd_maglev_tbl");
	if (err)
		return err;
	chunks = LBD_MAGLEV_CHUNKS(m, n);
	fd = maglev_table_create(chunks);
	if (fd < 0)
		return fd;
	/* a new map is zeroed: an empty table is there already */
	if (!m)
		return fd;
	keys = malloc(chunks * sizeof(*keys));
	if (!keys) {
		close(fd);
		return -ENOMEM;
	}
	buf[0] = m;
	buf[1] = n;
	words = dp_maglev_words(m, n);
	memset(buf + LBD_MAGLEV_WORDS(m, n), 0,
	       (words - LBD_MAGLEV_WORDS(m, n)) * sizeof(*buf));
	for (i = 0; i < chunks; i++)
		keys[i] = i;
	/* the whole table in one call, copied by the kernel (see
	 * struct lbd_maglev_chunk) */
	err = bpf_map_update_batch(fd, keys, buf, &chunks, &bo) < 0 ? -errno :
								      0;
	free(keys);
	if (err) {
		close(fd);
		return err;
	}
	/* lbd's apply prepares tables on several threads at once */
	__atomic_add_fetch(&dp->writes, 1, __ATOMIC_RELAXED);
	return fd;
}

/* A batch of this many at most: the kernel copies keys and values in
 * chunks of its own anyway; a failure names how far it got. */
#define DP_COMMIT_MAX 512

static int dp_update_batch(struct lbd_dp *dp, enum dp_map m, const __u32 *keys,
			   const void *vals, size_t size, __u32 n,
			   __u32 *done_out);

int dp_maglev_commit(struct lbd_dp *dp, const __u32 *svc_ids, const int *fds,
		     __u32 n)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (svc_ids[i] >= dp->opts.max_services)
			return -ERANGE;
	/* the values are __u32 fds, as for a single update */
	_Static_assert(sizeof(int) == sizeof(__u32), "fd size");
	return dp_update_batch(dp, DP_MAP_MAGLEV, svc_ids, fds, sizeof(*fds), n,
			       NULL);
}

static int id_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

int dp_maglev_put(struct lbd_dp *dp, __u32 svc_id, const __u32 *ids,
		  __u32 m)
{
	__u32 *buf = NULL, *list = NULL, n = 0, s;
	int err;

	if (svc_id >= dp->opts.max_services)
		return -ERANGE;
	if (!ids || !m)
		return dp_delete(dp, DP_MAP_MAGLEV, &svc_id);
	if (m > LBD_MAGLEV_MAX)
		return -EINVAL;
	/* the list: the distinct ids, sorted */
	list = malloc((size_t)m * sizeof(*list));
	if (!list)
		return -ENOMEM;
	memcpy(list, ids, (size_t)m * sizeof(*ids));
	qsort(list, m, sizeof(*list), id_cmp);
	for (s = 0; s < m; s++)
		if (!n || list[n - 1] != list[s])
			list[n++] = list[s];
	err = -E2BIG;
	if (n > LBD_MAGLEV_MAX_LIST)
		goto out;
	err = -ENOMEM;
	buf = malloc(dp_maglev_words(m, n) * sizeof(*buf));
	if (!buf)
		goto out;
	memcpy(buf + LBD_MAGLEV_HDR, list, (size_t)n * sizeof(*list));
	for (s = 0; s < m; s++) {
		__u32 *at = bsearch(&ids[s], list, n, sizeof(*list), id_cmp);

		buf[LBD_MAGLEV_HDR + n + s] =
			LBD_MAGLEV_SLOT(at - list, LBD_MAGLEV_NONE);
	}
	err = dp_maglev_put_words(dp, svc_id, buf, m, n);
out:
	free(buf);
	free(list);
	return err;
}

int dp_maglev_put_words(struct lbd_dp *dp, __u32 svc_id, __u32 *words, __u32 m,
			__u32 n)
{
	int fd, err;

	if (svc_id >= dp->opts.max_services)
		return -ERANGE;
	fd = dp_maglev_prepare(dp, words, m, n);
	if (fd < 0)
		return fd;
	err = dp_update(dp, DP_MAP_MAGLEV, &svc_id, &fd);
	close(fd);
	return err;
}

int dp_maglev_read(struct lbd_dp *dp, __u32 svc_id, __u32 **words)
{
	struct lbd_maglev_chunk head;
	__u32 inner_id, k = 0, m, n, chunks;
	__u32 *buf = NULL;
	int fd, err = 0;

	*words = NULL;
	if (bpf_map_lookup_elem(dp->fds[DP_MAP_MAGLEV], &svc_id, &inner_id) < 0)
		return errno == ENOENT ? 0 : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_map_lookup_elem(fd, &k, &head) < 0) {
		err = -errno;
		goto out;
	}
	m = head.w[0];
	n = head.w[1];
	if (!m)
		goto out;
	if (m > LBD_MAGLEV_MAX || n > LBD_MAGLEV_MAX_LIST) {
		err = -EBADMSG;
		goto out;
	}
	chunks = LBD_MAGLEV_CHUNKS(m, n);
	buf = malloc((size_t)chunks * sizeof(head));
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(buf, &head, sizeof(head));
	for (k = 1; k < chunks; k++) {
		if (bpf_map_lookup_elem(fd, &k, buf + k * LBD_MAGLEV_CHUNK) <
		    0) {
			err = -errno;
			goto out;
		}
	}
	/* every slot names an entry of the list, or the table is not one
	 * lbd wrote */
	for (k = 0; k < m; k++) {
		__u32 w = buf[LBD_MAGLEV_HDR + n + k];

		if (LBD_MAGLEV_CUR(w) >= n ||
		    (LBD_MAGLEV_PREV(w) != LBD_MAGLEV_NONE &&
		     LBD_MAGLEV_PREV(w) >= n)) {
			err = -EBADMSG;
			goto out;
		}
	}
	*words = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return err;
}

int dp_maglev_get(struct lbd_dp *dp, __u32 svc_id, __u32 *ids, __u32 cap)
{
	__u32 *w, m, n, s;
	int err = dp_maglev_read(dp, svc_id, &w);

	if (err || !w)
		return err;
	m = w[0];
	n = w[1];
	for (s = 0; s < m && s < cap; s++)
		ids[s] = w[LBD_MAGLEV_HDR +
			   LBD_MAGLEV_CUR(w[LBD_MAGLEV_HDR + n + s])];
	free(w);
	return (int)m;
}

int dp_monitor_set(struct lbd_dp *dp, __u32 mask)
{
	if (!dp->skel)
		return -EOPNOTSUPP;
	dp->skel->bss->monitor_mask = mask;
	return 0;
}

int dp_events_fd(const struct lbd_dp *dp)
{
	return dp->skel ? bpf_map__fd(dp->skel->maps.lbd_events) : -EOPNOTSUPP;
}

int dp_src_put(struct lbd_dp *dp, __u32 svc_id, __u8 family,
	       const union lbd_addr *addr, __u8 prefixlen)
{
	__u8 one = 1;

	if (family == LBD_AF_INET) {
		struct lbd_src_key4 k = { .prefixlen = 32u + prefixlen,
					  .svc_id = htonl(svc_id),
					  .addr = addr->v4 };

		return dp_update(dp, DP_MAP_SRC4, &k, &one);
	} else {
		struct lbd_src_key6 k = { .prefixlen = 32u + prefixlen,
					  .svc_id = htonl(svc_id),
					  .addr = *addr };

		return dp_update(dp, DP_MAP_SRC6, &k, &one);
	}
}

int dp_src_del(struct lbd_dp *dp, __u32 svc_id, __u8 family,
	       const union lbd_addr *addr, __u8 prefixlen)
{
	if (family == LBD_AF_INET) {
		struct lbd_src_key4 k = { .prefixlen = 32u + prefixlen,
					  .svc_id = htonl(svc_id),
					  .addr = addr->v4 };

		return dp_delete(dp, DP_MAP_SRC4, &k);
	} else {
		struct lbd_src_key6 k = { .prefixlen = 32u + prefixlen,
					  .svc_id = htonl(svc_id),
					  .addr = *addr };

		return dp_delete(dp, DP_MAP_SRC6, &k);
	}
}

int dp_tx_port_put(struct lbd_dp *dp, __u32 ifindex)
{
	return dp_update(dp, DP_MAP_TX_PORTS, &ifindex, &ifindex);
}

int dp_tx_port_del(struct lbd_dp *dp, __u32 ifindex)
{
	return dp_delete(dp, DP_MAP_TX_PORTS, &ifindex);
}

/* Sums a per-CPU value of n __u64 fields over CPUs. */
static int dp_percpu_sum(struct lbd_dp *dp, enum dp_map m, __u32 key,
			 __u64 *out, size_t n)
{
	__u64 *vals = calloc((size_t)dp->ncpus, n * sizeof(__u64));
	int cpu;
	size_t i;

	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->fds[m], &key, vals) < 0) {
		int err = -errno;

		free(vals);
		return err;
	}
	memset(out, 0, n * sizeof(__u64));
	for (cpu = 0; cpu < dp->ncpus; cpu++)
		for (i = 0; i < n; i++)
			out[i] += vals[(size_t)cpu * n + i];
	free(vals);
	return 0;
}

int dp_reasons_read(struct lbd_dp *dp, struct lbd_counter out[LBD_REASON_MAX])
{
	__u32 r;
	int err;

	for (r = 0; r < LBD_REASON_MAX; r++) {
		err = dp_percpu_sum(dp, DP_MAP_STATS, r, (__u64 *)&out[r], 2);
		if (err)
			return err;
	}
	return 0;
}

int dp_svc_traffic(struct lbd_dp *dp, __u32 svc_id, struct lbd_traffic *out)
{
	return dp_percpu_sum(dp, DP_MAP_SVC_STATS, svc_id, (__u64 *)out, 4);
}

int dp_be_traffic(struct lbd_dp *dp, __u32 be_id, struct lbd_traffic *out)
{
	return dp_percpu_sum(dp, DP_MAP_BE_STATS, be_id, (__u64 *)out, 4);
}

static int dp_percpu_zero(struct lbd_dp *dp, enum dp_map m, __u32 key,
			  size_t size)
{
	void *zero = calloc((size_t)dp->ncpus, size);
	int err;

	if (!zero)
		return -ENOMEM;
	err = dp_update(dp, m, &key, zero);
	free(zero);
	return err;
}

int dp_svc_traffic_reset(struct lbd_dp *dp, __u32 svc_id)
{
	return dp_percpu_zero(dp, DP_MAP_SVC_STATS, svc_id,
			      sizeof(struct lbd_traffic));
}

int dp_be_traffic_reset(struct lbd_dp *dp, __u32 be_id)
{
	return dp_percpu_zero(dp, DP_MAP_BE_STATS, be_id,
			      sizeof(struct lbd_traffic));
}

/*
 * n elements of map m in batches of DP_COMMIT_MAX; vals NULL: zeros of
 * size bytes each. Elements are written in order; on a failure, those
 * before the one that failed are written (as the kernel's batch does),
 * and *done_out (when not NULL) says how many.
 */
static int dp_update_batch(struct lbd_dp *dp, enum dp_map m, const __u32 *keys,
			   const void *vals, size_t size, __u32 n,
			   __u32 *done_out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	void *zero = NULL;
	__u32 done = 0, i;
	int err = 0, fault = 0;

	if (!vals) {
		zero = calloc(n < DP_COMMIT_MAX ? n : DP_COMMIT_MAX, size);
		if (!zero)
			return -ENOMEM;
	}
	while (done < n && !fault) {
		__u32 count = n - done < DP_COMMIT_MAX ? n - done
						       : DP_COMMIT_MAX;
		size_t n0 = dp->j.n;

		for (i = 0; i < count && !fault; i++)
			fault = dp_write_fault(dp_map_names[m]);
		if (fault)
			count = i - 1;
		for (i = 0; i < count && !err; i++)
			err = journal_note(dp, m, &keys[done + i], false);
		if (err) {
			journal_trim(dp, n0);
			break;
		}
		if (count &&
		    bpf_map_update_batch(dp->fds[m], keys + done,
					 vals ? (const char *)vals +
							 (size_t)done * size :
						zero,
					 &count, &bo) < 0) {
			err = -errno;
			/* count: how many the kernel wrote */
			journal_trim(dp, n0 + count);
			dp->writes += count;
			done += count;
			break;
		}
		dp->writes += count;
		done += count;
	}
	free(zero);
	if (done_out)
		*done_out = done;
	return err ? err : fault;
}

int dp_journal_begin(struct lbd_dp *dp)
{
	struct dp_journal *j = &dp->j;

	dp_journal_end(dp);
	if (j->empty_fd < 0) {
		j->empty_fd = maglev_table_create(LBD_MAGLEV_CHUNKS(0, 0));
		if (j->empty_fd < 0) {
			int err = j->empty_fd;

			j->empty_fd = -1;
			return err;
		}
	}
	j->on = true;
	return 0;
}

void dp_journal_end(struct lbd_dp *dp)
{
	journal_trim(dp, 0);
	dp->j.on = false;
	dp->j.vip_table = false;
}

size_t dp_journal_len(const struct lbd_dp *dp)
{
	return dp->j.n;
}

/* Puts back one entry of a hash map or LPM trie. */
static int undo_one(struct lbd_dp *dp, const struct dp_undo *u)
{
	int fd = dp->fds[u->map], err = dp_write_fault(dp_map_names[u->map]);

	if (err)
		return err;
	dp->writes++;
	if (u->had)
		err = bpf_map_update_elem(fd, u->key, u->val, BPF_ANY);
	else
		err = bpf_map_delete_elem(fd, u->key);
	return err < 0 && errno != ENOENT ? -errno : 0;
}

/*
 * Puts back entries [first, n) of the journal, all of one array map, in
 * one batch and newest first (a batch of table swaps waits for one grace
 * period, as it did going forward). Forgets those put back, also when it
 * fails part way.
 */
static int undo_run(struct lbd_dp *dp, size_t first)
{
	struct dp_journal *j = &dp->j;
	enum dp_map m = j->u[first].map;
	size_t vsize = m == DP_MAP_MAGLEV ? sizeof(int) :
					    sizeof(struct lbd_backend);
	size_t i, k = 0;
	__u32 done = 0;
	int err;

	for (i = j->n; i-- > first; k++) {
		const struct dp_undo *u = &j->u[i];
		/* no table before: an empty one, which the program reads
		 * as none (as a removed service's) */
		int fd = u->had ? u->fd : j->empty_fd;

		memcpy(&j->keys[k], u->key, sizeof(*j->keys));
		memcpy(j->vals + k * vsize,
		       m == DP_MAP_MAGLEV ? (void *)&fd : (void *)u->val,
		       vsize);
	}
	err = dp_update_batch(dp, m, j->keys, j->vals, vsize, (__u32)k, &done);
	journal_trim(dp, j->n - done);
	return err;
}

int dp_journal_rollback(struct lbd_dp *dp)
{
	struct dp_journal *j = &dp->j;
	int err = 0, fails = 0;

	j->on = false;
	/* out first: while the rest goes back, the program finds VIPs and
	 * services in the hash maps, which are consistent at every step */
	if (j->vip_table) {
		do
			err = vip_table_drop(dp);
		while (err && ++fails < DP_UNDO_TRIES);
		if (err)
			return err;
		j->vip_table = false;
	}
	while (j->n) {
		size_t first = j->n - 1;
		enum dp_map m = j->u[first].map;

		fails = 0;
		if (m == DP_MAP_BACKENDS || m == DP_MAP_MAGLEV) {
			while (first && j->u[first - 1].map == m)
				first--;
			while (j->n > first && fails < DP_UNDO_TRIES)
				if ((err = undo_run(dp, first)))
					fails++;
		} else {
			do
				err = undo_one(dp, &j->u[first]);
			while (err && ++fails < DP_UNDO_TRIES);
			if (!err)
				journal_trim(dp, first);
		}
		/* stop here: the maps are as the writes before this one
		 * left them, a state the apply went through */
		if (err)
			return err;
	}
	return 0;
}

int dp_backend_put_batch(struct lbd_dp *dp, const __u32 *ids,
			 const struct lbd_backend *v, __u32 n)
{
	__u32 i;

	for (i = 0; i < n; i++)
		if (ids[i] >= dp->opts.max_backends)
			return -ERANGE;
	return dp_update_batch(dp, DP_MAP_BACKENDS, ids, v, sizeof(*v), n,
			       NULL);
}

int dp_be_traffic_reset_batch(struct lbd_dp *dp, const __u32 *ids, __u32 n)
{
	/* a per-CPU value is one copy per possible CPU, each rounded up
	 * to 8 bytes */
	return dp_update_batch(
		dp, DP_MAP_BE_STATS, ids, NULL,
		(size_t)dp->ncpus * ((sizeof(struct lbd_traffic) + 7) & ~7ul),
		n, NULL);
}

int dp_unpin_all(const char *pin_path)
{
	char path[PATH_MAX];
	int i, err = 0;

	for (i = 0; i <= DP_MAP_COUNT; i++) {
		if (dp_pin_file(path, sizeof(path), pin_path,
			     i < DP_MAP_COUNT ? dp_map_names[i] : DP_PROG_PIN))
			return -ENAMETOOLONG;
		if (unlink(path) < 0 && errno != ENOENT) {
			err = -errno;
			log_warn("unpinning %s", path);
		}
	}
	/* other lbd pins (tc programs and maps) go with their owners;
	 * an empty directory goes too */
	if (rmdir(pin_path) < 0 && errno != ENOENT && errno != ENOTEMPTY &&
	    errno != EBUSY)
		err = -errno;
	return err;
}
