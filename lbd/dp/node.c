// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"
#include "lbd/hash.h"
#include "log.h"
#include "maglev.h"
#include "node_sock.skel.h"

/* A backend id of a Service port and the endpoint it stands for. */
struct node_be {
	struct node_endpoint ep;
	__u32 id;
	bool fresh; /* the id was given in this change */
	/* serves the flows it has, not in the table (LBD_BE_DRAINING) */
	bool drain;
};

struct node_svc_state {
	struct node_be *bes;
	size_t n;
	/* chunks of the inner map at 2 * id + k; 0: none or not known
	 * (adopted maps), so that the next change makes a new one */
	__u32 cap[2];
	bool pending; /* in the batch (n->pend) */
	/* lbd_node_small's copy in use says LBD_NODE_SMALL_LARGE: the
	 * table is the one in lbd_node_maglev */
	bool large;
};

/* A change of a Service port's table waiting for node_batch_commit: a
 * new inner map to put at 2 * svc_id + k. The backends it had (old) are
 * freed once the new table is in use. */
struct node_pend {
	__u32 svc_id;
	__u32 k;
	__u32 chunks;
	int fd;
	int err;
	struct node_be *old;
	size_t nold;
};

/* Changes a batch holds at most: each holds an inner map's fd. */
#define NODE_BATCH_MAX 256

#define NODE_NPROGS 10

/* The pins of the links, in node_prog's order. */
static const char *const node_link_pins[NODE_NPROGS] = {
	"link_connect4",     "link_connect6",	  "link_sendmsg4",
	"link_sendmsg6",     "link_recvmsg4",	  "link_recvmsg6",
	"link_getpeername4", "link_getpeername6", "link_bind4",
	"link_bind6",
};

/* The maps pinned, by their names in bpf/node/maps.h (the clock is per
 * program, the tables are held by lbd_node_maglev). */
static const char *const node_map_pins[] = {
	"lbd_node_meta",     "lbd_node_svc4",	  "lbd_node_svc6",
	"lbd_node_maglev",   "lbd_node_backends", "lbd_node_rev",
	"lbd_node_affinity", "lbd_node_guard",	  "lbd_node_stats",
	"lbd_node_tblseq",   "lbd_node_small",
};

#define NODE_NPINS (sizeof(node_map_pins) / sizeof(node_map_pins[0]))

struct lbd_node {
	struct node_sock *skel;
	struct node_opts opts;
	char pin_path[PATH_MAX]; /* "": nothing pinned */
	bool adopted; /* the maps were pinned before node_open */
	struct bpf_link *links[NODE_NPROGS];
	bool attached;
	int ncpus;
	struct node_svc_state *svcs; /* by Service port id */
	__u32 *gens; /* by backend id: the gen it was last given with */
	__u32 *free_ids; /* ids given back, reused first */
	size_t nfree;
	__u32 next_id; /* ids from here on were never given */
	__u32 *seqs; /* lbd_node_tblseq as written */
	bool batching;
	struct node_pend *pend;
	size_t npend;
};

static const char *const node_labels[] = {
#define NODE_LABEL(e, label, desc) [e] = label,
	LBD_NODE_REASONS(NODE_LABEL)
#undef NODE_LABEL
};

static const char *const node_descs[] = {
#define NODE_DESC(e, label, desc) [e] = desc,
	LBD_NODE_REASONS(NODE_DESC)
#undef NODE_DESC
};

const char *node_reason_label(unsigned int r)
{
	return r < LBD_NODE_REASON_MAX ? node_labels[r] : NULL;
}

const char *node_reason_desc(unsigned int r)
{
	return r < LBD_NODE_REASON_MAX ? node_descs[r] : NULL;
}

void node_opts_default(struct node_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_services = LBD_DEFAULT_MAX_SERVICES;
	o->max_addrs = LBD_DEFAULT_MAX_SERVICES;
	o->max_backends = LBD_DEFAULT_MAX_BACKENDS;
	o->rev_entries = LBD_NODE_DEFAULT_REV_ENTRIES;
	o->affinity_entries = LBD_NODE_DEFAULT_AFF_ENTRIES;
	/* a node has a table per Service port, most with a few endpoints:
	 * one chunk, 4 KiB, each (1009 slots up to 10 endpoints) instead of
	 * the LB role's 64 KiB */
	o->maglev_min = 1000;
}

/* libbpf reuses a pinned map only when type, sizes and flags match, and
 * then says little: name the map and what differs instead. */
static int node_pin_compat(struct bpf_map *m, const char *path, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	const char *what = NULL;
	__u32 have = 0, want = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != bpf_map__type(m)) {
		what = "type";
		have = info.type;
		want = bpf_map__type(m);
	} else if (info.key_size != bpf_map__key_size(m)) {
		what = "key size";
		have = info.key_size;
		want = bpf_map__key_size(m);
	} else if (info.value_size != bpf_map__value_size(m)) {
		what = "value size";
		have = info.value_size;
		want = bpf_map__value_size(m);
	} else if (info.max_entries != bpf_map__max_entries(m)) {
		what = "entries";
		have = info.max_entries;
		want = bpf_map__max_entries(m);
	} else if (info.map_flags != bpf_map__map_flags(m)) {
		what = "flags";
		have = info.map_flags;
		want = bpf_map__map_flags(m);
	}
	if (!what)
		return 0;
	log_warnx("pinned map %s has %s %u, this lbd and its config want %u: "
		  "run lbd --cleanup first (detaches the programs, drops the "
		  "maps)",
		  path, what, have, want);
	return -EINVAL;
}

/* Whether the map pinned at path (if any) is of m's type, sizes and
 * flags: libbpf refuses another with a bare EINVAL, this names the map
 * and what differs. 0, -EINVAL (said in the log) or a negative errno. */
static int node_pin_check(struct bpf_map *m, const char *path)
{
	int fd = bpf_obj_get(path), err;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = node_pin_compat(m, path, fd);
	close(fd);
	return err;
}

/* Points every pinned map at its pin (libbpf reuses it when it exists,
 * pins the new one otherwise) after checking the pinned ones: the map
 * ABI in lbd_node_meta, then each map's layout against this object's. */
static int node_pin_prepare(struct lbd_node *n)
{
	char path[PATH_MAX];
	size_t i;
	int err, fd;

	for (i = 0; i < NODE_NPINS; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(
			n->skel->obj, node_map_pins[i]);

		if (!m)
			return -ENOENT;
		err = dp_pin_file(path, sizeof(path), n->pin_path,
				    node_map_pins[i]);
		if (err)
			return err;
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			n->adopted = true;
			err = node_pin_compat(m, path, fd);
			/* node_map_pins[0] is lbd_node_meta */
			if (!err && i == 0)
				err = dp_meta_abi_check(fd, n->pin_path);
			close(fd);
			if (err)
				return err;
		} else if (errno != ENOENT) {
			return -errno;
		}
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

/* The Service port's lbd_node_small entry, copied under its lock (the
 * copy in one piece); all zero (no endpoint) before its first write. */
static int node_small_get(struct lbd_node *n, __u32 svc_id,
			  struct lbd_node_small *v)
{
	if (!bpf_map_lookup_elem_flags(
		    bpf_map__fd(n->skel->maps.lbd_node_small), &svc_id, v,
		    BPF_F_LOCK))
		return 0;
	if (errno != ENOENT)
		return -errno;
	memset(v, 0, sizeof(*v));
	return 0;
}

/* Whether the copy in use of the Service port's lbd_node_small entry
 * says that its table is the large one. */
static int node_small_is_large(struct lbd_node *n, __u32 svc_id, bool *large)
{
	struct lbd_node_small *v = malloc(sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	err = node_small_get(n, svc_id, v);
	if (!err)
		*large = v->n[v->seq & 1] == LBD_NODE_SMALL_LARGE;
	free(v);
	return err;
}

/*
 * The in-memory state of adopted maps: a backend id is given (its gen
 * counts the times) once its gen is not 0, and in use while active; the
 * active ones are the endpoints of their Service port's table
 * (node_backends_set writes them so before the table names them, and
 * marks the ones that left unused after).
 */
static int node_adopt(struct lbd_node *n)
{
	int fd = bpf_map__fd(n->skel->maps.lbd_node_backends);
	struct lbd_backend be;
	__u32 id, last = 0;

	/* which table of each Service port is in use */
	for (id = 0; id < n->opts.max_services; id++) {
		bool large = false;
		int err;

		if (bpf_map_lookup_elem(
			    bpf_map__fd(n->skel->maps.lbd_node_tblseq), &id,
			    &n->seqs[id]))
			return -errno;
		err = node_small_is_large(n, id, &large);
		if (err)
			return err;
		n->svcs[id].large = large;
	}

	for (id = 0; id < n->opts.max_backends; id++) {
		struct node_svc_state *st;
		struct node_be *b;

		if (bpf_map_lookup_elem(fd, &id, &be))
			return -errno;
		n->gens[id] = be.gen;
		if (be.gen)
			last = id + 1;
		if ((be.state != LBD_BE_ACTIVE &&
		     be.state != LBD_BE_DRAINING) ||
		    be.svc_id >= n->opts.max_services)
			continue;
		st = &n->svcs[be.svc_id];
		b = realloc(st->bes, (st->n + 1) * sizeof(*b));
		if (!b)
			return -ENOMEM;
		st->bes = b;
		b = &st->bes[st->n++];
		memset(b, 0, sizeof(*b));
		b->id = id;
		b->ep.addr = be.addr;
		b->ep.family = be.family;
		b->ep.port = be.port;
		b->ep.weight = be.weight;
		b->ep.ready = be.state == LBD_BE_ACTIVE;
		b->ep.serving = true;
		b->ep.terminating = be.state == LBD_BE_DRAINING;
		b->drain = be.state == LBD_BE_DRAINING;
	}
	n->next_id = last;
	/* the lowest free id is given first, as from a fresh start */
	for (id = last; id > 0; id--) {
		if (bpf_map_lookup_elem(fd, &(__u32){ id - 1 }, &be))
			return -errno;
		if (be.state != LBD_BE_ACTIVE ||
		    be.svc_id >= n->opts.max_services)
			n->free_ids[n->nfree++] = id - 1;
	}
	return 0;
}

bool node_adopted(const struct lbd_node *n)
{
	return n->adopted;
}

int node_open(const struct node_opts *o, struct lbd_node **out)
{
	struct lbd_node *n;
	int err;

	if (!o->max_services || !o->max_addrs || !o->max_backends ||
	    !o->rev_entries || !o->affinity_entries ||
	    o->maglev_min > LBD_MAGLEV_MAX)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->opts = *o;
	if (o->pin_path) {
		err = -ENAMETOOLONG;
		if (snprintf(n->pin_path, sizeof(n->pin_path), "%s",
			     o->pin_path) >= (int)sizeof(n->pin_path))
			goto out;
		n->opts.pin_path = n->pin_path;
	}
	n->svcs = calloc(o->max_services, sizeof(*n->svcs));
	n->gens = calloc(o->max_backends, sizeof(*n->gens));
	n->free_ids = calloc(o->max_backends, sizeof(*n->free_ids));
	n->seqs = calloc(o->max_services, sizeof(*n->seqs));
	n->pend = calloc(NODE_BATCH_MAX, sizeof(*n->pend));
	err = -ENOMEM;
	if (!n->svcs || !n->gens || !n->free_ids || !n->seqs || !n->pend)
		goto out;
	n->skel = node_sock__open();
	if (!n->skel) {
		err = -errno;
		goto out;
	}
	bpf_map__set_max_entries(n->skel->maps.lbd_node_svc4, o->max_addrs);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_svc6, o->max_addrs);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_maglev,
				 2 * o->max_services);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_tblseq,
				 o->max_services);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_small, o->max_services);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_backends,
				 o->max_backends);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_rev, o->rev_entries);
	bpf_map__set_max_entries(n->skel->maps.lbd_node_affinity,
				 o->affinity_entries);
	n->skel->rodata->node_knobs.map_abi = LBD_MAP_ABI;
	n->skel->rodata->node_knobs.hash_seed = o->hash_seed;
	n->skel->rodata->node_knobs.host_netns = o->host_netns;
	if (n->pin_path[0]) {
		err = node_pin_prepare(n);
		if (err)
			goto out;
	}
	err = node_sock__load(n->skel);
	if (err)
		goto out;
	n->ncpus = libbpf_num_possible_cpus();
	if (n->ncpus < 1) {
		err = n->ncpus;
		goto out;
	}
	err = dp_meta_abi_record(bpf_map__fd(n->skel->maps.lbd_node_meta));
	if (!err && n->adopted)
		err = node_adopt(n);
	if (err)
		goto out;
	*out = n;
	return 0;
out:
	node_close(n);
	return err;
}

void node_close(struct lbd_node *n)
{
	__u32 i;

	if (!n)
		return;
	/* a batch left open: its backends are active in the maps */
	if (n->npend)
		node_batch_commit(n);
	if (n->pin_path[0]) {
		/* the pins keep the links and maps: only the fds go */
		for (i = 0; i < NODE_NPROGS; i++)
			bpf_link__destroy(n->links[i]);
	} else {
		node_detach(n);
	}
	for (i = 0; i < n->npend; i++) {
		if (n->pend[i].fd >= 0)
			close(n->pend[i].fd);
		free(n->pend[i].old);
	}
	free(n->pend);
	free(n->seqs);
	node_sock__destroy(n->skel);
	if (n->svcs)
		for (i = 0; i < n->opts.max_services; i++)
			free(n->svcs[i].bes);
	free(n->svcs);
	free(n->gens);
	free(n->free_ids);
	free(n);
}

static struct bpf_program *node_prog(struct lbd_node *n, int i)
{
	struct bpf_program *progs[NODE_NPROGS] = {
		n->skel->progs.lbd_node_connect4,
		n->skel->progs.lbd_node_connect6,
		n->skel->progs.lbd_node_sendmsg4,
		n->skel->progs.lbd_node_sendmsg6,
		n->skel->progs.lbd_node_recvmsg4,
		n->skel->progs.lbd_node_recvmsg6,
		n->skel->progs.lbd_node_getpeername4,
		n->skel->progs.lbd_node_getpeername6,
		n->skel->progs.lbd_node_bind4,
		n->skel->progs.lbd_node_bind6,
	};

	return progs[i];
}

/*
 * The pinned link of program i, when there is one: *reuse when it is
 * attached to cgroup cg_id with the program's attach type, else *old
 * (to be replaced once the new link is attached).
 */
static int node_link_find(struct lbd_node *n, int i, __u64 cg_id,
			  struct bpf_link **reuse, struct bpf_link **old)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	struct bpf_link *l;
	int err;

	*reuse = *old = NULL;
	err = dp_pin_file(path, sizeof(path), n->pin_path, node_link_pins[i]);
	if (err)
		return err;
	if (access(path, F_OK))
		return errno == ENOENT ? 0 : -errno;
	l = bpf_link__open(path);
	if (!l)
		return -errno;
	if (bpf_obj_get_info_by_fd(bpf_link__fd(l), &info, &len)) {
		err = -errno;
		bpf_link__destroy(l);
		return err;
	}
	if (info.type == BPF_LINK_TYPE_CGROUP &&
	    info.cgroup.cgroup_id == cg_id &&
	    info.cgroup.attach_type ==
		    bpf_program__expected_attach_type(node_prog(n, i)))
		*reuse = l;
	else
		*old = l;
	return 0;
}

/* A new link of program i on cgroup fd cg, pinned in place of old's
 * pin, old detached after: the new program runs first. */
static int node_link_new(struct lbd_node *n, int i, int cg,
			 struct bpf_link *old)
{
	char path[PATH_MAX];
	int err = 0;

	n->links[i] = bpf_program__attach_cgroup(node_prog(n, i), cg);
	if (!n->links[i])
		return -errno;
	if (!n->pin_path[0])
		return 0;
	err = dp_pin_file(path, sizeof(path), n->pin_path, node_link_pins[i]);
	if (!err && unlink(path) && errno != ENOENT)
		err = -errno;
	if (!err && bpf_link__pin(n->links[i], path))
		err = -errno;
	if (err) {
		bpf_link__destroy(n->links[i]);
		n->links[i] = NULL;
		return err;
	}
	if (old) {
		bpf_link__detach(old);
		bpf_link__destroy(old);
	}
	return 0;
}

int node_attach(struct lbd_node *n, const char *cgroup_path)
{
	bool made[NODE_NPROGS] = { false };
	struct bpf_link *reuse, *old;
	struct stat st;
	int fd, i, err = 0;

	if (n->attached)
		return -EBUSY;
	fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* a cgroup v2 directory's inode number is the cgroup id */
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < NODE_NPROGS; i++) {
		reuse = old = NULL;
		if (n->pin_path[0]) {
			err = node_link_find(n, i, st.st_ino, &reuse, &old);
			if (err)
				goto out;
		}
		if (reuse) {
			/* the old program runs until this one does */
			n->links[i] = reuse;
			err = bpf_link__update_program(reuse, node_prog(n, i));
			if (err)
				goto out;
			continue;
		}
		err = node_link_new(n, i, fd, old);
		if (err) {
			bpf_link__destroy(old);
			goto out;
		}
		made[i] = true;
	}
	n->attached = true;
out:
	close(fd);
	if (err) {
		/* links made here go; adopted ones keep their programs */
		for (i = 0; i < NODE_NPROGS; i++) {
			if (made[i])
				bpf_link__unpin(n->links[i]);
			bpf_link__destroy(n->links[i]);
			n->links[i] = NULL;
		}
	}
	return err;
}

int node_detach(struct lbd_node *n)
{
	int i, err = 0;

	if (!n->attached)
		return 0;
	for (i = 0; i < NODE_NPROGS; i++) {
		/* a pinned link goes with its pin and its last fd */
		if (n->links[i] && n->pin_path[0] &&
		    bpf_link__unpin(n->links[i]) && !err)
			err = -errno;
		if (n->links[i] && bpf_link__destroy(n->links[i]) && !err)
			err = -errno;
		n->links[i] = NULL;
	}
	n->attached = false;
	return err;
}

int node_unpin_all(const char *pin_path)
{
	char path[PATH_MAX];
	size_t i;
	int err = 0;

	for (i = 0; i < NODE_NPROGS + NODE_NPINS; i++) {
		if (dp_pin_file(path, sizeof(path), pin_path,
				  i < NODE_NPROGS ?
					  node_link_pins[i] :
					  node_map_pins[i - NODE_NPROGS]))
			return -ENAMETOOLONG;
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	if (rmdir(pin_path) && errno != ENOENT && errno != ENOTEMPTY &&
	    errno != EBUSY && !err)
		err = -errno;
	return err;
}

static int node_svc_map(struct lbd_node *n, const struct node_svc_addr *a,
			struct lbd_svc_key4 *k4, struct lbd_svc_key6 *k6,
			void **key)
{
	if (a->proto != IPPROTO_TCP && a->proto != IPPROTO_UDP)
		return -EPROTONOSUPPORT;
	if (a->family == LBD_AF_INET) {
		memset(k4, 0, sizeof(*k4));
		k4->vip = a->addr.v4;
		k4->port = a->port;
		k4->proto = a->proto;
		*key = k4;
		return bpf_map__fd(n->skel->maps.lbd_node_svc4);
	}
	if (a->family == LBD_AF_INET6) {
		memset(k6, 0, sizeof(*k6));
		k6->vip = a->addr;
		k6->port = a->port;
		k6->proto = a->proto;
		*key = k6;
		return bpf_map__fd(n->skel->maps.lbd_node_svc6);
	}
	return -EAFNOSUPPORT;
}

int node_service_set(struct lbd_node *n, const struct node_svc_addr *a,
		     __u32 svc_id, __u32 flags, __u32 affinity_timeout)
{
	struct lbd_node_svc v = {
		.id = svc_id,
		.flags = flags,
		.affinity_timeout = affinity_timeout,
	};
	struct lbd_svc_key4 k4;
	struct lbd_svc_key6 k6;
	void *key;
	int fd;

	if (svc_id >= n->opts.max_services ||
	    (flags & ~(LBD_NODE_SVC_F_AFFINITY | LBD_NODE_SVC_F_GENEVE)))
		return -EINVAL;
	fd = node_svc_map(n, a, &k4, &k6, &key);
	if (fd < 0)
		return fd;
	return bpf_map_update_elem(fd, key, &v, BPF_ANY) ? -errno : 0;
}

int node_service_del(struct lbd_node *n, const struct node_svc_addr *a)
{
	struct lbd_svc_key4 k4;
	struct lbd_svc_key6 k6;
	void *key;
	int fd = node_svc_map(n, a, &k4, &k6, &key);

	if (fd < 0)
		return fd;
	return bpf_map_delete_elem(fd, key) ? -errno : 0;
}

/*
 * The table size for count endpoints: a prime of at least min and 100
 * slots an endpoint, the largest that fills whole chunks with the header
 * and the list (1, 2, 4, ... chunks). A connect reads a Service's table
 * at random: at 10,000 Services the tables' memory, not their words,
 * is the cost (TLB and cache misses), so no chunk is left half used.
 */
static __u32 node_table_size(__u32 min, size_t count)
{
	size_t want = count * 100 > min ? count * 100 : min;
	__u32 chunks, p;

	for (chunks = 1; chunks <= LBD_MAGLEV_CHUNKS(LBD_MAGLEV_MAX, 0);
	     chunks *= 2) {
		if ((size_t)chunks * LBD_MAGLEV_CHUNK < LBD_MAGLEV_HDR + count)
			continue;
		p = chunks * LBD_MAGLEV_CHUNK - LBD_MAGLEV_HDR - (__u32)count;
		if (p > LBD_MAGLEV_MAX)
			p = LBD_MAGLEV_MAX;
		while (p > 2 && !lbd_is_prime(p))
			p--;
		if (p >= want)
			return p;
	}
	return LBD_MAGLEV_MAX;
}

static bool node_ep_same(const struct node_endpoint *a,
			 const struct node_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* Whether the endpoint takes new connections: the ready ones, or with
 * fallback (no ready one) the serving and terminating ones. */
static bool node_ep_chosen(const struct node_endpoint *e, bool fallback)
{
	if (!e->weight)
		return false;
	return fallback ? e->serving && e->terminating : e->ready;
}

static int node_id_get(struct lbd_node *n, __u32 *id)
{
	if (n->nfree)
		*id = n->free_ids[--n->nfree];
	else if (n->next_id < n->opts.max_backends)
		*id = n->next_id++;
	else
		return -ENOSPC;
	n->gens[*id]++;
	return 0;
}

static int node_backend_write(struct lbd_node *n, __u32 svc_id,
			      const struct node_be *b, __u8 state)
{
	struct lbd_backend v = {
		.addr = b->ep.addr,
		.port = b->ep.port,
		.family = b->ep.family,
		.state = state,
		.gen = n->gens[b->id],
		.svc_id = svc_id,
		.weight = b->ep.weight,
	};
	int fd = bpf_map__fd(n->skel->maps.lbd_node_backends);

	return bpf_map_update_elem(fd, &b->id, &v, BPF_ANY) ? -errno : 0;
}

static int node_id_cmp(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* An fd of the inner map at index idx of lbd_node_maglev. */
static int node_inner_fd(struct lbd_node *n, __u32 idx)
{
	int outer = bpf_map__fd(n->skel->maps.lbd_node_maglev), fd;
	__u32 inner_id;

	if (bpf_map_lookup_elem(outer, &idx, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	return fd < 0 ? -errno : fd;
}

static int node_words_write(int fd, const __u32 *words, __u32 chunks)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 keys[LBD_MAGLEV_CHUNKS(LBD_MAGLEV_MAX, LBD_MAGLEV_MAX_LIST)];
	__u32 i, count = chunks;

	for (i = 0; i < chunks; i++)
		keys[i] = i;
	return bpf_map_update_batch(fd, keys, words, &count, &bo) ? -errno : 0;
}

/* Makes the table at 2 * id + (seqs[id] + 1) % 2 the one in use
 * (bpf/node/select.h): the words written before are seen before the
 * count, the backends freed after are seen after it. The barriers order
 * what the kernel wrote for us on this CPU, or on the one we left
 * (migration has barriers of its own). */
static int node_flip(struct lbd_node *n, __u32 svc_id)
{
	int fd = bpf_map__fd(n->skel->maps.lbd_node_tblseq);
	__u32 seq = n->seqs[svc_id] + 1;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(fd, &svc_id, &seq, BPF_ANY))
		return -errno;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	n->seqs[svc_id] = seq;
	return 0;
}

/* The table of the chosen backends in lbd_maglev_chunk words (size,
 * backend list, slots naming the list; no previous owners: a socket's
 * endpoint is fixed at connect(), nothing asks a slot's history). */
static int node_table_build(struct lbd_node *n, const struct node_be *bes,
			    size_t count, __u32 **out, __u32 *out_chunks)
{
	struct maglev_backend *mb = NULL;
	__u32 *table = NULL, *words = NULL, *list;
	__u32 m, chunks, i, s;
	int err = -ENOMEM;

	/* no endpoint: M = 0, which refuses connects */
	m = count ? node_table_size(n->opts.maglev_min, count) : 0;
	chunks = count ? LBD_MAGLEV_CHUNKS(m, count) : 1;
	mb = calloc(count + 1, sizeof(*mb));
	table = calloc(m + 1, sizeof(*table));
	words = calloc((size_t)chunks * LBD_MAGLEV_CHUNK, sizeof(*words));
	if (!mb || !table || !words)
		goto out;
	err = 0;
	if (!count)
		goto done;
	for (i = 0; i < count; i++) {
		mb[i].addr = bes[i].ep.addr;
		mb[i].family = bes[i].ep.family;
		mb[i].port = bes[i].ep.port;
		mb[i].weight = bes[i].ep.weight;
		mb[i].id = bes[i].id;
	}
	err = maglev_build(mb, count, m, n->opts.hash_seed, table);
	if (err)
		goto out;
	words[0] = m;
	words[1] = (__u32)count;
	list = words + LBD_MAGLEV_HDR;
	for (i = 0; i < count; i++)
		list[i] = bes[i].id;
	qsort(list, count, sizeof(*list), node_id_cmp);
	for (s = 0; s < m; s++) {
		__u32 *at = bsearch(&table[s], list, count, sizeof(*list),
				    node_id_cmp);

		words[LBD_MAGLEV_HDR + count + s] =
			LBD_MAGLEV_SLOT(at - list, LBD_MAGLEV_NONE);
	}
done:
	*out = words;
	*out_chunks = chunks;
	words = NULL;
out:
	free(words);
	free(table);
	free(mb);
	return err;
}

/*
 * Makes the table of bes the Service port's: written into its spare
 * table in place when that one is large enough (and not more than twice
 * so), and swapped in; else into a new inner map that replaces the spare
 * one in lbd_node_maglev (the kernel then waits for readers of the old
 * one: an RCU grace period), queued in a batch (*queued).
 */
static int node_table_put(struct lbd_node *n, __u32 svc_id,
			  const struct node_be *bes, size_t count, bool *queued)
{
	LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = BPF_F_INNER_MAP);
	int outer = bpf_map__fd(n->skel->maps.lbd_node_maglev), fd = -1, err;
	struct node_svc_state *st = &n->svcs[svc_id];
	__u32 *words = NULL, chunks, k, idx;

	*queued = false;
	err = node_table_build(n, bes, count, &words, &chunks);
	if (err)
		return err;
	k = (n->seqs[svc_id] + 1) % 2;
	idx = 2 * svc_id + k;
	if (st->cap[k] >= chunks && st->cap[k] <= 2 * chunks) {
		fd = node_inner_fd(n, idx);
		if (fd >= 0) {
			err = node_words_write(fd, words, chunks);
			if (!err)
				err = node_flip(n, svc_id);
			goto out;
		}
		/* not there after all: a new one */
		st->cap[k] = 0;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "lbd_node_tbl", sizeof(__u32),
			    sizeof(struct lbd_maglev_chunk), chunks, &co);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = node_words_write(fd, words, chunks);
	if (err)
		goto out;
	if (n->batching) {
		struct node_pend *p = &n->pend[n->npend++];

		memset(p, 0, sizeof(*p));
		p->svc_id = svc_id;
		p->k = k;
		p->chunks = chunks;
		p->fd = fd;
		fd = -1;
		*queued = true;
		goto out;
	}
	if (bpf_map_update_elem(outer, &idx, &fd, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	st->cap[k] = chunks;
	err = node_flip(n, svc_id);
out:
	if (fd >= 0)
		close(fd);
	free(words);
	return err;
}

/* The small table of count (at most LBD_NODE_INLINE_EPS) chosen
 * backends: their Maglev table of LBD_NODE_SMALL_M slots, each naming
 * its endpoint's index in t->ep. */
static int node_small_build(struct lbd_node *n, const struct node_be *bes,
			    size_t count, struct lbd_node_small_tbl *t)
{
	struct maglev_backend mb[LBD_NODE_INLINE_EPS];
	__u32 table[LBD_NODE_SMALL_M], i, s;
	int err;

	memset(t, 0, sizeof(*t));
	if (count > LBD_NODE_INLINE_EPS)
		return -EINVAL;
	for (i = 0; i < count; i++) {
		memset(&mb[i], 0, sizeof(mb[i]));
		mb[i].addr = bes[i].ep.addr;
		mb[i].family = bes[i].ep.family;
		mb[i].port = bes[i].ep.port;
		mb[i].weight = bes[i].ep.weight;
		mb[i].id = i;
		t->ep[i].addr = bes[i].ep.addr;
		t->ep[i].port = bes[i].ep.port;
		t->ep[i].family = bes[i].ep.family;
		t->ep[i].id = bes[i].id;
		t->ep[i].gen = n->gens[bes[i].id];
	}
	if (!count)
		return 0;
	err = maglev_build(mb, count, LBD_NODE_SMALL_M, n->opts.hash_seed,
			   table);
	if (err)
		return err;
	for (s = 0; s < LBD_NODE_SMALL_M; s++)
		t->slot[s] = (__u8)table[s];
	return 0;
}

/*
 * Makes the copy not in use of the Service port's lbd_node_small entry
 * the one in use (bpf/node/select.h): the small table of bes, or with
 * large the mark that lbd_node_maglev holds the table (written and in
 * use before). An update with BPF_F_LOCK copies the whole value into
 * the element in place (under the entry's lock, which readers do not
 * take; without the flag a hash map's update links a new element in,
 * and the old one may be reused at once while a reader still reads it):
 * the first writes the spare copy with seq unchanged, the second the
 * same bytes with seq + 1; the copy in use is rewritten with the bytes
 * it holds, which no reader can tell from no write. An entry is never
 * deleted, for the same reason (ids are few and reused).
 */
static int node_small_flip(struct lbd_node *n, __u32 svc_id,
			   const struct node_be *bes, size_t count, bool large)
{
	int fd = bpf_map__fd(n->skel->maps.lbd_node_small), err;
	struct lbd_node_small *v = malloc(sizeof(*v));
	__u32 k;

	if (!v)
		return -ENOMEM;
	err = node_small_get(n, svc_id, v);
	if (err)
		goto out;
	k = (v->seq + 1) & 1;
	err = node_small_build(n, bes, large ? 0 : count, &v->t[k]);
	if (err)
		goto out;
	v->n[k] = large ? LBD_NODE_SMALL_LARGE : (__u8)count;
	if (bpf_map_update_elem(fd, &svc_id, v, BPF_F_LOCK)) {
		err = -errno;
		goto out;
	}
	/* the copy's words are seen before the count, the backends freed
	 * after are seen after it (as node_flip) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	v->seq++;
	if (bpf_map_update_elem(fd, &svc_id, v, BPF_F_LOCK)) {
		err = -errno;
		goto out;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	n->svcs[svc_id].large = large;
out:
	free(v);
	return err;
}

/* Frees the backends of old that bes does not hold: the table that named
 * them is no longer in use. */
static void node_bes_leave(struct lbd_node *n, __u32 svc_id,
			   const struct node_be *old, size_t nold,
			   const struct node_be *bes, size_t nb)
{
	size_t i, j;

	for (j = 0; j < nold; j++) {
		for (i = 0; i < nb; i++)
			if (bes[i].id == old[j].id)
				break;
		if (i < nb)
			continue;
		/* its gen stays: an affinity entry naming it is stale once
		 * the id is given again */
		node_backend_write(n, svc_id, &old[j], LBD_BE_UNUSED);
		n->free_ids[n->nfree++] = old[j].id;
	}
	/* the new table is in use: those it left out keep their flows */
	for (i = 0; i < nb; i++)
		if (bes[i].drain)
			node_backend_write(n, svc_id, &bes[i],
					   LBD_BE_DRAINING);
}

/* Gives back the ids of endpoints that were new in bes. */
static void node_bes_unfresh(struct lbd_node *n, __u32 svc_id,
			     const struct node_be *bes, size_t nb)
{
	size_t i;

	for (i = 0; i < nb; i++) {
		if (!bes[i].fresh)
			continue;
		node_backend_write(n, svc_id, &bes[i], LBD_BE_UNUSED);
		n->free_ids[n->nfree++] = bes[i].id;
	}
}

void node_batch_begin(struct lbd_node *n)
{
	n->batching = true;
}

/* Puts the tables of the batch in lbd_node_maglev: one step (one grace
 * period) for all that the kernel takes, one at a time for the rest
 * after a failure, so that each fails alone. */
static void node_pend_apply(struct lbd_node *n)
{
	int outer = bpf_map__fd(n->skel->maps.lbd_node_maglev);
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	__u32 keys[NODE_BATCH_MAX], done, i;
	int fds[NODE_BATCH_MAX];

	for (i = 0; i < n->npend; i++) {
		fds[i] = n->pend[i].fd;
		keys[i] = 2 * n->pend[i].svc_id + n->pend[i].k;
	}
	done = n->npend;
	if (!bpf_map_update_batch(outer, keys, fds, &done, &bo))
		done = n->npend;
	else if (done > n->npend)
		done = 0;
	for (i = done; i < n->npend; i++)
		if (bpf_map_update_elem(outer, &keys[i], &fds[i], BPF_ANY))
			n->pend[i].err = -errno;
}

int node_batch_commit(struct lbd_node *n)
{
	int seqfd = bpf_map__fd(n->skel->maps.lbd_node_tblseq), err = 0;
	__u32 ids[NODE_BATCH_MAX], seqs[NODE_BATCH_MAX], nf = 0, done, i;
	__u32 owner[NODE_BATCH_MAX];
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	n->batching = false;
	if (!n->npend)
		return 0;
	node_pend_apply(n);
	/* the new tables in use, all in one write */
	for (i = 0; i < n->npend; i++) {
		struct node_pend *p = &n->pend[i];

		if (p->err)
			continue;
		n->svcs[p->svc_id].cap[p->k] = p->chunks;
		owner[nf] = i;
		ids[nf] = p->svc_id;
		seqs[nf++] = n->seqs[p->svc_id] + 1;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	done = nf;
	if (nf && bpf_map_update_batch(seqfd, ids, seqs, &done, &bo)) {
		/* the first done were swapped; the rest one at a time */
		if (done > nf)
			done = 0;
		for (i = done; i < nf; i++)
			if (bpf_map_update_elem(seqfd, &ids[i], &seqs[i],
						BPF_ANY))
				n->pend[owner[i]].err = -errno;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < n->npend; i++) {
		struct node_pend *p = &n->pend[i];
		struct node_svc_state *st = &n->svcs[p->svc_id];

		if (!p->err) {
			n->seqs[p->svc_id]++;
			/* the large table in use: now the one connects read */
			if (!st->large)
				p->err = node_small_flip(n, p->svc_id, NULL, 0,
							 true);
		}
		if (p->err) {
			/* as before the change, for what connects read (a
			 * large table the small entry does not name is read
			 * by none: see node_backends_set's fail) */
			node_bes_unfresh(n, p->svc_id, st->bes, st->n);
			free(st->bes);
			st->bes = p->old;
			st->n = p->nold;
			if (!err)
				err = p->err;
		} else {
			node_bes_leave(n, p->svc_id, p->old, p->nold, st->bes,
				       st->n);
			free(p->old);
		}
		close(p->fd);
		st->pending = false;
	}
	n->npend = 0;
	return err;
}

int node_backends_set(struct lbd_node *n, __u32 svc_id,
		      const struct node_endpoint *eps, size_t count)
{
	struct node_svc_state *st;
	struct node_be *bes = NULL;
	bool fallback = true, queued;
	size_t i, j, nb = 0, nchosen = 0;
	int err = 0, pass;

	if (svc_id >= n->opts.max_services || count > LBD_MAGLEV_MAX_LIST ||
	    (count && !eps))
		return -EINVAL;
	st = &n->svcs[svc_id];
	for (i = 0; i < count; i++) {
		if (eps[i].family != LBD_AF_INET &&
		    eps[i].family != LBD_AF_INET6)
			return -EAFNOSUPPORT;
		if (node_ep_chosen(&eps[i], false))
			fallback = false;
	}
	/* a second change of a Service port in one batch: the first one
	 * goes in first (and a full batch) */
	if (st->pending || n->npend == NODE_BATCH_MAX) {
		err = node_batch_commit(n);
		n->batching = true;
		if (err)
			log_warnx("node: a batch of Maglev tables: %s",
				  strerror(-err));
	}
	if (count) {
		bes = calloc(count, sizeof(*bes));
		if (!bes)
			return -ENOMEM;
	}
	/* the chosen endpoints first, each with the id it had or a new
	 * one; then those that still serve without being chosen (a
	 * terminating endpoint while ready ones are left, weight 0): they
	 * keep their id, draining, so that flows the tc path sent them
	 * (lbd_node_nat names the id and its gen) keep them; only the
	 * table's take new ones */
	for (pass = 0; pass < 2; pass++) {
		if (pass)
			nchosen = nb;
		for (i = 0; i < count; i++) {
			bool chosen = node_ep_chosen(&eps[i], fallback);

			if (pass ? chosen || !eps[i].serving : !chosen)
				continue;
			for (j = 0; j < nb; j++)
				if (node_ep_same(&bes[j].ep, &eps[i]))
					break;
			if (j < nb)
				continue; /* listed twice: once is enough */
			bes[nb].ep = eps[i];
			for (j = 0; j < st->n; j++)
				if (node_ep_same(&st->bes[j].ep, &eps[i]))
					break;
			bes[nb].drain = pass;
			if (j < st->n) {
				bes[nb].id = st->bes[j].id;
			} else {
				err = node_id_get(n, &bes[nb].id);
				if (err)
					goto fail;
				bes[nb].fresh = true;
			}
			/* one the table in use names stays active until
			 * the new table is (node_bes_leave): a connect
			 * reading the old one must find it so */
			if (!pass || j == st->n || st->bes[j].drain)
				err = node_backend_write(n, svc_id, &bes[nb],
							 pass ? LBD_BE_DRAINING
							      : LBD_BE_ACTIVE);
			nb++;
			if (err)
				goto fail;
		}
	}
	/* the table first: a connect racing the change finds either table's
	 * backends active. A few endpoints go inline (lbd/node.h); more in
	 * a large table, which is in use before the small entry says so */
	if (nchosen <= LBD_NODE_INLINE_EPS) {
		queued = false;
		err = node_small_flip(n, svc_id, bes, nchosen, false);
	} else {
		err = node_table_put(n, svc_id, bes, nchosen, &queued);
		if (!err && !queued && !st->large)
			err = node_small_flip(n, svc_id, NULL, 0, true);
	}
	if (err)
		goto fail;
	if (queued) {
		/* the backends that leave go at the commit */
		n->pend[n->npend - 1].old = st->bes;
		n->pend[n->npend - 1].nold = st->n;
		st->pending = true;
	} else {
		node_bes_leave(n, svc_id, st->bes, st->n, bes, nb);
		free(st->bes);
	}
	st->bes = bes;
	st->n = nb;
	return 0;
fail:
	/* ids given to endpoints that were new go back; the backends that
	 * stayed are as before, and so is what connects read: a large table
	 * made the one in use before the small entry failed to say so is
	 * read by none, and the next change writes a table again before
	 * the small entry names it */
	node_bes_unfresh(n, svc_id, bes, nb);
	free(bes);
	return err;
}

int node_nodeport_guard_set(struct lbd_node *n, __be16 port, __u8 proto,
			    bool on)
{
	struct lbd_node_port_key k = { .port = port, .proto = proto };
	int fd = bpf_map__fd(n->skel->maps.lbd_node_guard);
	__u32 one = 1;

	if (!port || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return -EINVAL;
	if (on)
		return bpf_map_update_elem(fd, &k, &one, BPF_ANY) ? -errno : 0;
	if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Seconds of the programs' clock (bpf/lib/clock.h). */
static __u32 node_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u32)ts.tv_sec;
}

/* Word w of the table in inner map fd. */
static int node_table_word(int fd, __u32 w, __u32 *v)
{
	struct lbd_maglev_chunk *c = malloc(sizeof(*c));
	__u32 k = w / LBD_MAGLEV_CHUNK;
	int err = 0;

	if (!c)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &k, c))
		err = -errno;
	else
		*v = c->w[w % LBD_MAGLEV_CHUNK];
	free(c);
	return err;
}

/*
 * Whether the large table in inner map fd, of nl backends, names id (as
 * node_maglev_has in bpf/node/select.h, which searches its sorted list).
 */
static int node_table_has(int fd, __u32 nl, __u32 id, bool *has)
{
	struct lbd_maglev_chunk *c = malloc(sizeof(*c));
	__u32 w, k = UINT32_MAX;
	int err = 0;

	if (!c)
		return -ENOMEM;
	*has = false;
	for (w = LBD_MAGLEV_HDR; w < LBD_MAGLEV_HDR + nl && !*has; w++) {
		if (w / LBD_MAGLEV_CHUNK != k) {
			k = w / LBD_MAGLEV_CHUNK;
			if (bpf_map_lookup_elem(fd, &k, c)) {
				err = -errno;
				break;
			}
		}
		*has = c->w[w % LBD_MAGLEV_CHUNK] == id;
	}
	free(c);
	return err;
}

/* node_explain_pick of a large table (lbd_node_maglev). */
static int node_explain_large(struct lbd_node *n, __u32 svc_id, bool aff,
			      __u32 aff_id, __u32 aff_gen,
			      struct node_choice *out, struct lbd_backend *be)
{
	int outer = bpf_map__fd(n->skel->maps.lbd_node_maglev), fd, err;
	__u32 inner_id, m = 0, nl = 0, slot = 0, seq, idx;

	/* the table in use (select.h) */
	if (bpf_map_lookup_elem(bpf_map__fd(n->skel->maps.lbd_node_tblseq),
				&svc_id, &seq))
		return -errno;
	idx = 2 * svc_id + (seq & 1);
	if (bpf_map_lookup_elem(outer, &idx, &inner_id))
		return errno == ENOENT ? -EHOSTUNREACH : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return errno == ENOENT ? -EHOSTUNREACH : -errno;
	err = node_table_word(fd, 0, &m);
	if (!err)
		err = node_table_word(fd, 1, &nl);
	if (err)
		goto out;
	err = -EHOSTUNREACH;
	if (!m || nl > LBD_MAGLEV_MAX_LIST)
		goto out;
	if (aff) {
		bool has;

		err = node_table_has(fd, nl, aff_id, &has);
		if (err)
			goto out;
		err = -EHOSTUNREACH;
		if (!has)
			goto out;
		if (bpf_map_lookup_elem(
			    bpf_map__fd(n->skel->maps.lbd_node_backends),
			    &aff_id, be)) {
			err = -errno;
			goto out;
		}
		if (be->state == LBD_BE_ACTIVE && be->gen == aff_gen &&
		    be->svc_id == svc_id)
			err = 0;
		goto out;
	}
	out->table_size = m;
	out->slot = out->hash % m;
	err = node_table_word(fd, LBD_MAGLEV_HDR + nl + out->slot, &slot);
	if (err)
		goto out;
	err = -EHOSTUNREACH;
	if (LBD_MAGLEV_CUR(slot) >= nl)
		goto out;
	err = node_table_word(fd, LBD_MAGLEV_HDR + LBD_MAGLEV_CUR(slot),
			      &out->backend_id);
	if (err)
		goto out;
	if (bpf_map_lookup_elem(bpf_map__fd(n->skel->maps.lbd_node_backends),
				&out->backend_id, be)) {
		err = -errno;
		goto out;
	}
	err = be->state == LBD_BE_ACTIVE ? 0 : -EHOSTUNREACH;
out:
	close(fd);
	return err;
}

/*
 * As node_pick (bpf/node/select.h): the Service port's table at
 * out->hash, or with aff the backend aff_id of gen aff_gen when the
 * table in use names it (out then untouched). The endpoint in *be (its
 * id in out->backend_id); -EHOSTUNREACH: none.
 */
static int node_explain_pick(struct lbd_node *n, __u32 svc_id, bool aff,
			     __u32 aff_id, __u32 aff_gen,
			     struct node_choice *out, struct lbd_backend *be)
{
	struct lbd_node_small *v = malloc(sizeof(*v));
	const struct lbd_node_small_tbl *t;
	const struct lbd_node_small_ep *e;
	__u32 k, nl, i;
	int err;

	if (!v)
		return -ENOMEM;
	err = node_small_get(n, svc_id, v);
	if (err)
		goto out;
	k = v->seq & 1;
	nl = v->n[k];
	if (nl == LBD_NODE_SMALL_LARGE) {
		err = node_explain_large(n, svc_id, aff, aff_id, aff_gen, out,
					 be);
		goto out;
	}
	t = &v->t[k];
	if (aff) {
		for (i = 0; i < nl; i++)
			if (t->ep[i].id == aff_id && t->ep[i].gen == aff_gen)
				break;
	} else {
		out->table_size = LBD_NODE_SMALL_M;
		out->slot = out->hash % LBD_NODE_SMALL_M;
		i = t->slot[out->slot];
	}
	err = -EHOSTUNREACH;
	if (i >= nl || i >= LBD_NODE_INLINE_EPS)
		goto out;
	e = &t->ep[i];
	memset(be, 0, sizeof(*be));
	be->addr = e->addr;
	be->port = e->port;
	be->family = e->family;
	be->state = LBD_BE_ACTIVE;
	be->gen = e->gen;
	be->svc_id = svc_id;
	if (!aff)
		out->backend_id = e->id;
	err = 0;
out:
	free(v);
	return err;
}

static bool node_addr_v4mapped(const union lbd_addr *a)
{
	return !a->v6[0] && !a->v6[1] && a->v6[2] == htonl(0xffff);
}

int node_explain(struct lbd_node *n, const struct node_svc_addr *a,
		 __u64 sock_cookie, __u64 netns_cookie, struct node_choice *out)
{
	struct node_svc_addr v4;
	struct lbd_node_svc svc;
	struct lbd_svc_key4 k4;
	struct lbd_svc_key6 k6;
	struct lbd_backend be, tbe;
	void *key;
	int fd, err;

	memset(out, 0, sizeof(*out));
	/* a dual-stack socket's ::ffff:a.b.c.d is the IPv4 Service's
	 * (bpf/node/xlate.h node_sa_read) */
	if (a->family == LBD_AF_INET6 && node_addr_v4mapped(&a->addr)) {
		memset(&v4, 0, sizeof(v4));
		v4.family = LBD_AF_INET;
		v4.proto = a->proto;
		v4.port = a->port;
		v4.addr.v4 = a->addr.v6[3];
		a = &v4;
	}
	fd = node_svc_map(n, a, &k4, &k6, &key);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, key, &svc))
		return -errno;
	out->svc_id = svc.id;
	out->svc_flags = svc.flags;
	out->affinity_timeout = svc.affinity_timeout;
	out->aff_backend_id = LBD_NO_ID;
	out->table_backend_id = LBD_NO_ID;
	/* the table's choice first: what a client without a (fresh) entry
	 * gets, which lbctl explain shows beside the entry */
	out->hash = lbd_node_hash(n->opts.hash_seed, svc.id,
				  svc.flags & LBD_NODE_SVC_F_AFFINITY ?
					  netns_cookie :
					  sock_cookie);
	err = node_explain_pick(n, svc.id, false, 0, 0, out, &tbe);
	if (!err) {
		out->table_backend_id = out->backend_id;
		out->table_family = tbe.family;
		out->table_port = tbe.port;
		out->table_addr = tbe.addr;
	} else if (err != -EHOSTUNREACH)
		return err;
	if (svc.flags & LBD_NODE_SVC_F_AFFINITY) {
		struct lbd_node_aff_key ak = { .netns_cookie = netns_cookie,
					       .svc_id = svc.id };
		struct lbd_aff aff;
		__u32 now = node_now();

		/* lookup only: an LRU lookup from userspace does not mark
		 * the entry used, nor does this refresh last_seen */
		if (!bpf_map_lookup_elem(node_affinity_fd(n), &ak, &aff)) {
			out->aff_entry = true;
			out->aff_backend_id = aff.backend_id;
			out->aff_idle_s = now - aff.last_seen;
			out->aff_fresh = !lbd_idle_over(now, aff.last_seen,
							svc.affinity_timeout);
		}
		/* the entry's backend while the table in use names it */
		if (out->aff_fresh) {
			int aerr = node_explain_pick(n, svc.id, true,
						     aff.backend_id,
						     aff.backend_gen, out, &be);

			if (aerr && aerr != -EHOSTUNREACH)
				return aerr;
			out->affinity = !aerr;
		}
		if (out->affinity) {
			out->affinity = true;
			out->backend_id = aff.backend_id;
			goto found;
		}
	}
	if (err)
		return err;
	be = tbe;
	out->backend_id = out->table_backend_id;
found:
	if (be.family != a->family)
		return -EHOSTUNREACH;
	out->family = be.family;
	out->port = be.port;
	out->addr = be.addr;
	return 0;
}

int node_reasons_read(struct lbd_node *n, __u64 out[LBD_NODE_REASON_MAX])
{
	int fd = bpf_map__fd(n->skel->maps.lbd_node_stats), c;
	__u64 *v = calloc(n->ncpus, sizeof(*v));
	__u32 r;
	int err = 0;

	if (!v)
		return -ENOMEM;
	for (r = 0; r < LBD_NODE_REASON_MAX; r++) {
		out[r] = 0;
		if (bpf_map_lookup_elem(fd, &r, v)) {
			err = -errno;
			break;
		}
		for (c = 0; c < n->ncpus; c++)
			out[r] += v[c];
	}
	free(v);
	return err;
}

int node_backends_get(struct lbd_node *n, __u32 svc_id,
		      struct node_endpoint **out, size_t *count)
{
	const struct node_svc_state *st;
	size_t i;

	*out = NULL;
	*count = 0;
	if (svc_id >= n->opts.max_services)
		return -EINVAL;
	st = &n->svcs[svc_id];
	if (!st->n)
		return 0;
	*out = calloc(st->n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < st->n; i++)
		(*out)[i] = st->bes[i].ep;
	*count = st->n;
	return 0;
}

/* Every key of hash map fd (key_size bytes) and, with vsize, its value:
 * out holds the key then the value, stride bytes apart. */
static int node_map_dump(int fd, size_t ksize, size_t vsize, size_t stride,
			 void **out, size_t *count)
{
	char key[64], next[64];
	void *v = NULL, *k = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	while (!bpf_map_get_next_key(fd, k, next)) {
		if (n == cap) {
			void *nv =
				realloc(v, (cap = cap ? 2 * cap : 64) * stride);

			if (!nv) {
				err = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		memcpy((char *)v + n * stride, next, ksize);
		if (vsize &&
		    bpf_map_lookup_elem(fd, next,
					(char *)v + n * stride + ksize)) {
			if (errno == ENOENT)
				goto skip; /* went meanwhile */
			err = -errno;
			goto out;
		}
		n++;
skip:
		memcpy(key, next, ksize);
		k = key;
	}
	if (errno != ENOENT)
		err = -errno;
out:
	if (err) {
		free(v);
		v = NULL;
		n = 0;
	}
	*out = v;
	*count = n;
	return err;
}

int node_addrs_read(struct lbd_node *n, struct node_svc_entry **out,
		    size_t *count)
{
	const size_t vs = sizeof(struct lbd_node_svc);
	char *raw[2] = { NULL, NULL };
	size_t nr[2] = { 0, 0 }, ks[2], j, c = 0;
	int f, err;

	*out = NULL;
	*count = 0;
	ks[0] = sizeof(struct lbd_svc_key4);
	ks[1] = sizeof(struct lbd_svc_key6);
	for (f = 0; f < 2; f++) {
		int fd = bpf_map__fd(f ? n->skel->maps.lbd_node_svc6 :
					 n->skel->maps.lbd_node_svc4);

		err = node_map_dump(fd, ks[f], vs, ks[f] + vs, (void **)&raw[f],
				    &nr[f]);
		if (err)
			goto out;
	}
	err = -ENOMEM;
	*out = calloc(nr[0] + nr[1] ? nr[0] + nr[1] : 1, sizeof(**out));
	if (!*out)
		goto out;
	for (f = 0; f < 2; f++)
		for (j = 0; j < nr[f]; j++) {
			const char *at = raw[f] + j * (ks[f] + vs);
			struct node_svc_entry *e = &(*out)[c++];
			struct lbd_svc_key4 k4;
			struct lbd_svc_key6 k6;
			struct lbd_node_svc v;

			memcpy(&v, at + ks[f], vs);
			if (f) {
				memcpy(&k6, at, sizeof(k6));
				e->a.family = LBD_AF_INET6;
				e->a.addr = k6.vip;
				e->a.port = k6.port;
				e->a.proto = k6.proto;
			} else {
				memcpy(&k4, at, sizeof(k4));
				e->a.family = LBD_AF_INET;
				e->a.addr.v4 = k4.vip;
				e->a.port = k4.port;
				e->a.proto = k4.proto;
			}
			e->svc_id = v.id;
			e->flags = v.flags;
			e->affinity_timeout = v.affinity_timeout;
		}
	*count = c;
	err = 0;
out:
	free(raw[0]);
	free(raw[1]);
	return err;
}

int node_guards_read(struct lbd_node *n, struct lbd_node_port_key **out,
		     size_t *count)
{
	return node_map_dump(bpf_map__fd(n->skel->maps.lbd_node_guard),
			     sizeof(**out), 0, sizeof(**out), (void **)out,
			     count);
}

int node_rev_fd(const struct lbd_node *n)
{
	return bpf_map__fd(n->skel->maps.lbd_node_rev);
}

int node_affinity_fd(const struct lbd_node *n)
{
	return bpf_map__fd(n->skel->maps.lbd_node_affinity);
}

int node_map_fd(const struct lbd_node *n, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(n->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int node_obj_share(struct bpf_object *obj, const char *const *own,
		   size_t n_own, const char *pin_path, node_share_fd_fn fd_of,
		   void *arg)
{
	char path[PATH_MAX];
	struct bpf_map *m;
	int err, fd;
	size_t i;

	bpf_object__for_each_map(m, obj) {
		const char *name = bpf_map__name(m);

		for (i = 0; i < n_own && strcmp(name, own[i]); i++)
			;
		if (i < n_own) {
			if (!pin_path)
				continue;
			err = dp_pin_file(path, sizeof(path), pin_path, name);
			if (!err)
				err = node_pin_check(m, path);
			if (!err)
				err = bpf_map__set_pin_path(m, path);
			if (err)
				return err;
			continue;
		}
		if (bpf_map__is_internal(m))
			continue;
		fd = fd_of(name, arg);
		if (fd == NODE_SHARE_NONE)
			continue;
		if (fd < 0)
			return fd;
		err = bpf_map__reuse_fd(m, fd);
		if (err)
			return err;
	}
	return 0;
}
