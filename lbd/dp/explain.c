// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbctl explain: the live program run on a probe packet (see explain.h). */
#include "explain.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lbd/hash.h"

#define ETH_HLEN_ 14
#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86dd
#define TCP_RST_ 0x04
#define TCP_ACK_ 0x10

/* Locally administered MACs: the program does not look at them, and a
 * probe never leaves the host. */
static const __u8 probe_dst_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const __u8 probe_src_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static void put16(__u8 *p, __u16 v)
{
	p[0] = (__u8)(v >> 8);
	p[1] = (__u8)v;
}

/* The Internet checksum (RFC 1071) over the 16-bit words of buf, on top
 * of a partial sum. */
static __u32 csum_add(__u32 sum, const __u8 *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)(buf[i] << 8 | buf[i + 1]);
	if (len & 1)
		sum += (__u32)buf[len - 1] << 8;
	return sum;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

int explain_build(const struct explain_flow *f, __u8 *buf, size_t cap)
{
	bool v4 = f->family == LBD_AF_INET;
	size_t l3 = ETH_HLEN_, iph = v4 ? 20 : 40;
	size_t l4 = l3 + iph, l4len = f->proto == IPPROTO_TCP ? 20 : 8;
	size_t alen = v4 ? 4 : 16, len = l4 + l4len;
	__u8 *ip = buf + l3, *th = buf + l4;
	__u32 sum;
	__u16 c;

	if ((f->family != LBD_AF_INET && f->family != LBD_AF_INET6) ||
	    (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP) || cap < len)
		return -EINVAL;
	memset(buf, 0, len);
	memcpy(buf, probe_dst_mac, 6);
	memcpy(buf + 6, probe_src_mac, 6);
	put16(buf + 12, v4 ? ETH_P_IP_ : ETH_P_IPV6_);

	if (v4) {
		ip[0] = 0x45; /* version 4, 5 words */
		put16(ip + 2, (__u16)(iph + l4len)); /* total length */
		put16(ip + 6, 0x4000); /* DF, no fragment */
		ip[8] = 64; /* TTL */
		ip[9] = f->proto;
		memcpy(ip + 12, &f->client.v4, 4);
		memcpy(ip + 16, &f->vip.v4, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	} else {
		ip[0] = 0x60; /* version 6, traffic class and label 0 */
		put16(ip + 4, (__u16)l4len); /* payload length */
		ip[6] = f->proto; /* next header */
		ip[7] = 64; /* hop limit */
		memcpy(ip + 8, f->client.b, 16);
		memcpy(ip + 24, f->vip.b, 16);
	}

	put16(th, f->client_port);
	put16(th + 2, f->vip_port);
	if (f->proto == IPPROTO_TCP) {
		/* seq and ack 0, data offset 5 words, RST|ACK: the program
		 * never creates a conntrack entry for an RST */
		th[12] = 5 << 4;
		th[13] = TCP_RST_ | TCP_ACK_;
	} else {
		put16(th + 4, (__u16)l4len); /* UDP length */
	}
	/* pseudo-header (RFC 793 / RFC 768 / RFC 8200 section 8.1):
	 * addresses, protocol, L4 length */
	sum = csum_add(0, v4 ? ip + 12 : ip + 8, 2 * alen);
	sum += f->proto + (__u32)l4len;
	c = csum_fold(csum_add(sum, th, l4len));
	/* UDP sends a computed 0 as all ones (0 means "none" in IPv4) */
	if (f->proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	put16(th + (f->proto == IPPROTO_TCP ? 16 : 6), c);
	return (int)len;
}

__u32 explain_flow_hash(const struct explain_flow *f, __u32 seed)
{
	/* bpf/lb/select.h svc_hash: with affinity, every port of a client
	 * hashes alike */
	__u32 ports = LBD_PORTS(f->affinity ? 0 : htons(f->client_port),
				htons(f->vip_port));

	if (f->family == LBD_AF_INET)
		return lbd_flow_hash4(seed, f->client.v4, ports, f->proto);
	return lbd_flow_hash6(seed, f->client.v6, ports, f->proto);
}

int explain_maglev(struct lbd_dp *dp, const struct explain_flow *f, __u32 seed,
		   struct explain_slot *s)
{
	int fd = dp_map_fd(dp, DP_MAP_BACKENDS);
	struct lbd_backend ob, pb;
	__u32 *w = NULL, n, word;
	int err;

	memset(s, 0, sizeof(*s));
	s->owner = s->prev = LBD_NO_ID;
	s->hash = explain_flow_hash(f, seed);
	err = dp_maglev_read(dp, f->svc_id, &w);
	if (err || !w || !w[0])
		goto out;
	s->m = w[0];
	n = w[1];
	s->slot = s->hash % s->m;
	/* bpf/lb/select.h maglev_pick */
	word = w[LBD_MAGLEV_HDR + n + s->slot];
	if (LBD_MAGLEV_CUR(word) < n)
		s->owner = w[LBD_MAGLEV_HDR + LBD_MAGLEV_CUR(word)];
	if (LBD_MAGLEV_PREV(word) < n)
		s->prev = w[LBD_MAGLEV_HDR + LBD_MAGLEV_PREV(word)];
	s->prev_named =
		s->owner != LBD_NO_ID && s->prev != LBD_NO_ID &&
		bpf_map_lookup_elem(fd, &s->owner, &ob) == 0 &&
		bpf_map_lookup_elem(fd, &s->prev, &pb) == 0 &&
		pb.family == ob.family &&
		(pb.state == LBD_BE_ACTIVE || pb.state == LBD_BE_DRAINING);
out:
	free(w);
	return err;
}

/* The flow's conntrack key, as bpf/lb/select.h builds it. */
static int ct_key(const struct explain_flow *f, struct lbd_ct_key4 *k4,
		  struct lbd_ct_key6 *k6, const void **key)
{
	if (f->family == LBD_AF_INET) {
		memset(k4, 0, sizeof(*k4));
		k4->saddr = f->client.v4;
		k4->daddr = f->vip.v4;
		k4->sport = htons(f->client_port);
		k4->dport = htons(f->vip_port);
		k4->proto = f->proto;
		*key = k4;
		return DP_MAP_CT4;
	}
	memset(k6, 0, sizeof(*k6));
	k6->saddr = f->client;
	k6->daddr = f->vip;
	k6->sport = htons(f->client_port);
	k6->dport = htons(f->vip_port);
	k6->proto = f->proto;
	*key = k6;
	return DP_MAP_CT6;
}

int explain_ct_lookup(struct lbd_dp *dp, const struct explain_flow *f,
		      struct lbd_ct *ct)
{
	struct lbd_ct_key4 k4;
	struct lbd_ct_key6 k6;
	const void *key;
	int fd = dp_map_fd(dp, (enum dp_map)ct_key(f, &k4, &k6, &key));

	if (bpf_map_lookup_elem(fd, key, ct) < 0)
		return -errno;
	return 0;
}

static void aff_key(const struct explain_flow *f, struct lbd_aff_key *k)
{
	memset(k, 0, sizeof(*k));
	k->svc_id = f->svc_id;
	k->family = f->family;
	k->client = f->client;
}

int explain_aff_lookup(struct lbd_dp *dp, const struct explain_flow *f,
		       struct lbd_aff *a)
{
	struct lbd_aff_key k;

	if (!f->affinity || f->svc_id == LBD_NO_ID)
		return -ENOENT;
	aff_key(f, &k);
	if (bpf_map_lookup_elem(dp_map_fd(dp, DP_MAP_AFFINITY), &k, a) < 0)
		return -errno;
	return 0;
}

/* The SNAT reverse entry of a flow to backend be:bport from lport. */
static int nat_key(__u8 family, const union lbd_addr *be, __u16 bport,
		   __u16 lport, __u8 proto, struct lbd_nat_key4 *k4,
		   struct lbd_nat_key6 *k6, const void **key)
{
	if (family == LBD_AF_INET) {
		memset(k4, 0, sizeof(*k4));
		k4->backend = be->v4;
		k4->bport = htons(bport);
		k4->lport = htons(lport);
		k4->proto = proto;
		*key = k4;
		return DP_MAP_NAT4;
	}
	memset(k6, 0, sizeof(*k6));
	k6->backend = *be;
	k6->bport = htons(bport);
	k6->lport = htons(lport);
	k6->proto = proto;
	*key = k6;
	return DP_MAP_NAT6;
}

/* lbd's Geneve option among the options in p[off, end), if there
 * (docs/flow-state.md, "On the wire"). */
static void decode_sc(const __u8 *p, size_t len, size_t off, size_t end,
		      struct explain_out *o)
{
	if (end > len)
		end = len;
	while (off + 4 <= end) {
		size_t olen = 4 + (size_t)(p[off + 3] & 0x1f) * 4;
		__u16 cls = (__u16)(p[off] << 8 | p[off + 1]);

		if (cls == LBD_GENEVE_SC_CLASS &&
		    p[off + 2] == LBD_GENEVE_SC_TYPE &&
		    (olen == LBD_SC4_OPT_LEN || olen == LBD_SC6_OPT_LEN) &&
		    off + olen <= end) {
			o->sc = true;
			o->sc_flags = p[off + 4];
			o->sc_prev_port = (__u16)(p[off + 6] << 8 | p[off + 7]);
			o->sc_prev_family = olen == LBD_SC4_OPT_LEN ?
						    LBD_AF_INET :
						    LBD_AF_INET6;
			memcpy(o->sc_prev.b, p + off + 8, olen - 8);
			return;
		}
		off += olen;
	}
}

/* Reads the forwarded packet: the outermost IP destination, and which
 * encapsulation carries the client's packet. */
static void decode_output(const __u8 *p, size_t len, struct explain_out *o)
{
	size_t l3 = ETH_HLEN_, l4, in3;
	__u16 type;
	__u8 proto;

	if (len < l3 + 20)
		return;
	type = (__u16)(p[12] << 8 | p[13]);
	if (type == ETH_P_IP_) {
		o->family = LBD_AF_INET;
		memcpy(&o->dst.v4, p + l3 + 16, 4);
		proto = p[l3 + 9];
		l4 = l3 + (size_t)(p[l3] & 0xf) * 4;
	} else if (type == ETH_P_IPV6_ && len >= l3 + 40) {
		o->family = LBD_AF_INET6;
		memcpy(o->dst.b, p + l3 + 24, 16);
		proto = p[l3 + 6];
		l4 = l3 + 40;
	} else {
		return;
	}
	o->forwarded = true;
	if (proto == IPPROTO_IPIP || proto == IPPROTO_IPV6) {
		o->encap = "ipip";
		return;
	}
	if (proto == IPPROTO_UDP && len >= l4 + 16 &&
	    (p[l4 + 2] << 8 | p[l4 + 3]) == LBD_GENEVE_PORT) {
		/* Geneve: 8 bytes, options (opt_len in 4-byte words), then
		 * an inner Ethernet header and the translated packet, or
		 * (protocol 0x0800/0x86DD: IPIP services in flow_state =
		 * "backends") the client's packet unchanged */
		size_t opt = (size_t)(p[l4 + 8] & 0x3f) * 4;
		__u16 gproto = (__u16)(p[l4 + 10] << 8 | p[l4 + 11]);

		o->encap = "geneve";
		decode_sc(p, len, l4 + 16, l4 + 16 + opt, o);
		if (gproto != LBD_GENEVE_PROTO_ETH) {
			o->inner_ip = true;
			return;
		}
		in3 = l4 + 8 + 8 + opt + ETH_HLEN_;
		if (len < in3 + 1)
			return;
		if ((p[in3] >> 4) == 4)
			l4 = in3 + (size_t)(p[in3] & 0xf) * 4;
		else
			l4 = in3 + 40;
		if (len >= l4 + 4)
			o->dst_port = (__u16)(p[l4 + 2] << 8 | p[l4 + 3]);
		return;
	}
	/* the packet itself, translated (SNAT: no encapsulation) */
	o->encap = "translated";
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && len >= l4 + 4) {
		o->src_port = (__u16)(p[l4] << 8 | p[l4 + 1]);
		o->dst_port = (__u16)(p[l4 + 2] << 8 | p[l4 + 3]);
	}
}

/*
 * The SNAT reverse entry the probe went through: deleted when the probe
 * made it (no conntrack entry before: a new flow, and a port taken for
 * nothing), else its closing mark taken back as for conntrack. Only an
 * entry that names the probe's client and port is touched.
 */
static void nat_restore(struct lbd_dp *dp, const struct explain_flow *f,
			const struct explain_out *o, bool had_ct,
			bool was_closing)
{
	struct lbd_nat_key4 k4;
	struct lbd_nat_key6 k6;
	const void *key;
	struct lbd_nat n;
	int fd;

	if (!o->forwarded || strcmp(o->encap, "translated") || !o->src_port)
		return;
	fd = dp_map_fd(dp, (enum dp_map)nat_key(o->family, &o->dst, o->dst_port,
						o->src_port, f->proto, &k4, &k6,
						&key));
	if (bpf_map_lookup_elem(fd, key, &n) < 0 ||
	    memcmp(&n.client, &f->client, sizeof(n.client)) ||
	    n.cport != htons(f->client_port))
		return;
	if (!had_ct) {
		bpf_map_delete_elem(fd, key);
		return;
	}
	if (!was_closing && (n.flags & LBD_CT_F_CLOSING)) {
		n.flags &= (__u16)~LBD_CT_F_CLOSING;
		bpf_map_update_elem(fd, key, &n, BPF_EXIST);
	}
}

/* Takes back what an RST probe did to an existing entry: the program
 * marks the flow closing, which would shorten its idle timeout. Only when
 * the entry still names the same backend and no real FIN/RST could have
 * set the mark meanwhile (the entry had none before). */
static void ct_restore(struct lbd_dp *dp, const struct explain_flow *f,
		       const struct lbd_ct *before)
{
	struct lbd_ct_key4 k4;
	struct lbd_ct_key6 k6;
	const void *key;
	int fd = dp_map_fd(dp, (enum dp_map)ct_key(f, &k4, &k6, &key));
	struct lbd_ct now;

	if (bpf_map_lookup_elem(fd, key, &now) < 0)
		return;
	if (now.backend_id != before->backend_id ||
	    now.backend_gen != before->backend_gen ||
	    (before->flags & LBD_CT_F_CLOSING) ||
	    !(now.flags & LBD_CT_F_CLOSING))
		return;
	now.flags &= (__u16)~LBD_CT_F_CLOSING;
	bpf_map_update_elem(fd, key, &now, BPF_EXIST);
}

/* Deletes the entry a UDP probe created (none existed before). */
static void ct_forget(struct lbd_dp *dp, const struct explain_flow *f)
{
	struct lbd_ct_key4 k4;
	struct lbd_ct_key6 k6;
	const void *key;
	int fd = dp_map_fd(dp, (enum dp_map)ct_key(f, &k4, &k6, &key));

	bpf_map_delete_elem(fd, key);
}

int explain_run(struct lbd_dp *dp, int ifindex, const struct explain_flow *f,
		struct explain_out *out)
{
	__u8 in[EXPLAIN_PKT_MAX], pkt_out[512];
	struct xdp_md ctx = { .ingress_ifindex = (__u32)ifindex };
	struct lbd_counter before[LBD_REASON_MAX];
	struct lbd_aff aff;
	struct lbd_ct ct;
	bool had_ct, had_aff;
	int len, err, r;

	memset(out, 0, sizeof(*out));
	len = explain_build(f, in, sizeof(in));
	if (len < 0)
		return len;
	ctx.data_end = (__u32)len;
	had_ct = explain_ct_lookup(dp, f, &ct) == 0;
	had_aff = explain_aff_lookup(dp, f, &aff) == 0;
	err = dp_reasons_read(dp, before);
	if (err)
		return err;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
			    .data_size_in = (__u32)len, .data_out = pkt_out,
			    .data_size_out = sizeof(pkt_out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

		if (bpf_prog_test_run_opts(dp_prog_fd(dp), &o) < 0)
			return -errno;
		out->action = (int)o.retval;
		if (out->action == XDP_TX || out->action == XDP_REDIRECT)
			decode_output(pkt_out, o.data_size_out, out);
	}
	if (had_ct && f->proto == IPPROTO_TCP)
		ct_restore(dp, f, &ct);
	else if (!had_ct && f->proto == IPPROTO_UDP)
		ct_forget(dp, f);
	/* an RST marks a flow closing: the reverse entry was not closing
	 * unless its conntrack entry was */
	nat_restore(dp, f, out, had_ct,
		    had_ct && (ct.flags & LBD_CT_F_CLOSING));
	if (f->affinity && !had_aff) {
		struct lbd_aff_key k;

		aff_key(f, &k);
		bpf_map_delete_elem(dp_map_fd(dp, DP_MAP_AFFINITY), &k);
	}
	err = dp_reasons_read(dp, out->counted);
	if (err)
		return err;
	for (r = 0; r < LBD_REASON_MAX; r++) {
		out->counted[r].packets -= before[r].packets;
		out->counted[r].bytes -= before[r].bytes;
	}
	return 0;
}
