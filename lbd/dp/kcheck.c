// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "kcheck.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"

#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
/* kernel 6.3 uapi; Debian 12's headers predate it */
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

/* A feature the programs of a role use: a program type, a map type, or a
 * helper for a program type. */
struct kfeature {
	const char *name;
	const char *since; /* the Linux version that brought it */
	enum bpf_prog_type prog; /* the program type (alone: probed itself) */
	enum bpf_map_type map; /* BPF_MAP_TYPE_UNSPEC: none */
	enum bpf_func_id helper; /* BPF_FUNC_unspec: none */
};

#define PROG(t, v) { #t " programs", v, t, BPF_MAP_TYPE_UNSPEC, 0 }
#define MAP(t, v) { #t, v, BPF_PROG_TYPE_UNSPEC, t, 0 }
#define HELPER(p, h, v) { "bpf_" #h "() in " #p, v, p, 0, BPF_FUNC_##h }

/* The LB host: the XDP program (bpf/lb/) and the health checks' tc program. */
static const struct kfeature lb_features[] = {
	PROG(BPF_PROG_TYPE_XDP, "4.8"),
	PROG(BPF_PROG_TYPE_SCHED_CLS, "4.1"),
	MAP(BPF_MAP_TYPE_LRU_HASH, "4.10"),
	MAP(BPF_MAP_TYPE_LRU_PERCPU_HASH, "4.10"),
	MAP(BPF_MAP_TYPE_LPM_TRIE, "4.11"),
	MAP(BPF_MAP_TYPE_ARRAY_OF_MAPS, "4.12"),
	MAP(BPF_MAP_TYPE_DEVMAP_HASH, "5.4"),
	MAP(BPF_MAP_TYPE_RINGBUF, "5.8"),
	HELPER(BPF_PROG_TYPE_XDP, xdp_adjust_head, "4.10"),
	HELPER(BPF_PROG_TYPE_XDP, xdp_adjust_tail, "4.18"),
	HELPER(BPF_PROG_TYPE_XDP, fib_lookup, "4.18"),
	HELPER(BPF_PROG_TYPE_XDP, redirect_map, "4.14"),
	HELPER(BPF_PROG_TYPE_XDP, jiffies64, "5.5"),
	HELPER(BPF_PROG_TYPE_XDP, ringbuf_reserve, "5.8"),
	HELPER(BPF_PROG_TYPE_XDP, ktime_get_coarse_ns, "5.11"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, fib_lookup, "4.18"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, redirect_neigh, "5.10"),
};

/* A backend: the tc companion (bpf/backend/). */
static const struct kfeature backend_features[] = {
	PROG(BPF_PROG_TYPE_SCHED_CLS, "4.1"),
	MAP(BPF_MAP_TYPE_LRU_HASH, "4.10"),
	MAP(BPF_MAP_TYPE_LPM_TRIE, "4.11"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, skb_adjust_room, "4.13"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, fib_lookup, "4.18"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, skc_lookup_tcp, "5.2"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, tcp_check_syncookie, "5.2"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, jiffies64, "5.5"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, redirect_neigh, "5.10"),
	HELPER(BPF_PROG_TYPE_SCHED_CLS, ktime_get_coarse_ns, "5.11"),
};

/* A cluster node: the socket programs (bpf/node/). */
static const struct kfeature node_features[] = {
	PROG(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "4.17"),
	MAP(BPF_MAP_TYPE_LRU_HASH, "4.10"),
	MAP(BPF_MAP_TYPE_ARRAY_OF_MAPS, "4.12"),
	HELPER(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, get_socket_cookie, "5.7"),
	HELPER(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, get_netns_cookie, "5.7"),
	HELPER(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, set_retval, "5.18"),
};

static bool have(const struct kfeature *f)
{
	if (f->helper)
		return libbpf_probe_bpf_helper(f->prog, f->helper, NULL) == 1;
	if (f->map)
		return libbpf_probe_bpf_map_type(f->map, NULL) == 1;
	return libbpf_probe_bpf_prog_type(f->prog, NULL) == 1;
}

/* Runs bpf_skb_adjust_room(skb, -20, BPF_ADJ_ROOM_MAC, flags) on an
 * IPv6 frame and returns what it returned (or a negative errno when the
 * probe itself could not run). A kernel that does not know a flag says
 * -EINVAL before it looks at the packet. */
static int adjust_room_ret(__u64 flags)
{
	struct bpf_insn insns[] = {
		/* r2 = -20, r3 = BPF_ADJ_ROOM_MAC, r4 = flags (r1: skb) */
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 2,
		  .imm = -20 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3,
		  .imm = BPF_ADJ_ROOM_MAC },
		/* a 64-bit immediate takes two instructions */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 4,
		  .imm = (__s32)(__u32)flags },
		{ .imm = (__s32)(__u32)(flags >> 32) },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_skb_adjust_room },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	/* Ethernet, IPv6 (next header IPIP, payload 40), an IPv4 header */
	unsigned char pkt[ETH_HLEN + 40 + 40] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
		    .data_size_in = sizeof(pkt));
	int fd, err;

	pkt[12] = ETH_P_IPV6 >> 8;
	pkt[13] = ETH_P_IPV6 & 0xff;
	pkt[ETH_HLEN] = 0x60;
	pkt[ETH_HLEN + 5] = 40; /* payload length */
	pkt[ETH_HLEN + 6] = IPPROTO_IPIP;
	pkt[ETH_HLEN + 7] = 64;
	pkt[ETH_HLEN + 40] = 0x45;
	pkt[ETH_HLEN + 40 + 3] = 40;
	pkt[ETH_HLEN + 40 + 8] = 64;
	pkt[ETH_HLEN + 40 + 9] = IPPROTO_UDP;
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "lbd_kcheck", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	if (fd < 0)
		return -errno;
	err = bpf_prog_test_run_opts(fd, &o);
	close(fd);
	return err ? -errno : (int)o.retval;
}

bool kcheck_adjust_room_takes(__u64 flags)
{
	/* without the flags the call must work, or the probe says nothing */
	return adjust_room_ret(0) == 0 && adjust_room_ret(flags) == 0;
}

bool kcheck_decap_l3(void)
{
	return kcheck_adjust_room_takes(BPF_F_ADJ_ROOM_DECAP_L3_IPV4);
}

int kcheck_role(enum lbd_role role)
{
	const struct kfeature *f = lb_features;
	size_t i, n = sizeof(lb_features) / sizeof(*f);
	struct utsname u;
	int missing = 0;

	if (role == LBD_ROLE_BACKEND) {
		f = backend_features;
		n = sizeof(backend_features) / sizeof(*f);
	} else if (role == LBD_ROLE_NODE) {
		f = node_features;
		n = sizeof(node_features) / sizeof(*f);
	}
	if (uname(&u) < 0)
		strcpy(u.release, "?");
	for (i = 0; i < n; i++) {
		if (have(&f[i]))
			continue;
		log_warnx("kernel %s lacks %s (Linux %s)", u.release,
			  f[i].name, f[i].since);
		missing++;
	}
	if (missing) {
		log_warnx("the %s role needs the %d kernel feature%s above; "
			  "lbd needs Linux 5.11 or later (the node role 5.18)",
			  role == LBD_ROLE_BACKEND ? "backend" :
			  role == LBD_ROLE_NODE	   ? "node" :
						     "lb",
			  missing,
			  missing == 1 ? "" : "s");
		return -EOPNOTSUPP;
	}
	if (role == LBD_ROLE_BACKEND && !kcheck_decap_l3())
		log_warnx("kernel %s lacks BPF_F_ADJ_ROOM_DECAP_L3_IPV4/6 "
			  "(Linux 6.3): 4-in-6 packets are dropped as "
			  "decap_failed; IPIP, IP6IP6 and Geneve work",
			  u.release);
	return 0;
}
