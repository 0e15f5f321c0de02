// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A backend's count of its TCP connections (see sockdiag.h). */
#include "sockdiag.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* include/net/tcp_states.h: the kernel's TCP states (no uapi header). */
enum {
	SD_ESTABLISHED = 1,
	SD_SYN_SENT,
	SD_SYN_RECV,
	SD_FIN_WAIT1,
	SD_FIN_WAIT2,
	SD_TIME_WAIT,
	SD_CLOSE,
	SD_CLOSE_WAIT,
	SD_LAST_ACK,
	SD_LISTEN,
	SD_CLOSING,
};

#define SD_LIVE                                                          \
	(1u << SD_ESTABLISHED | 1u << SD_SYN_RECV | 1u << SD_FIN_WAIT1 | \
	 1u << SD_FIN_WAIT2 | 1u << SD_CLOSE_WAIT | 1u << SD_LAST_ACK |  \
	 1u << SD_CLOSING)

struct sd_dump {
	struct sockdiag_count *c;
	size_t n, cap;
	__u16 *listen; /* ports with a listener */
	size_t n_listen, cap_listen;
	int err;
};

static int sd_grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *q;
	size_t c = *cap ? *cap * 2 : 64;

	if (n < *cap)
		return 0;
	q = realloc(*p, c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

static int sd_msg(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	static const __u8 mapped[12] = { 0, 0, 0, 0, 0,	   0,
					 0, 0, 0, 0, 0xff, 0xff };
	struct sd_dump *d = data;
	struct sockdiag_count *c;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return MNL_CB_OK;
	if (m->idiag_state == SD_LISTEN) {
		d->err = sd_grow((void **)&d->listen, &d->cap_listen,
				 d->n_listen, sizeof(*d->listen));
		if (d->err)
			return MNL_CB_ERROR;
		d->listen[d->n_listen++] = ntohs(m->id.idiag_sport);
		return MNL_CB_OK;
	}
	if (!(SD_LIVE & (1u << m->idiag_state)))
		return MNL_CB_OK;
	d->err = sd_grow((void **)&d->c, &d->cap, d->n, sizeof(*d->c));
	if (d->err)
		return MNL_CB_ERROR;
	c = &d->c[d->n++];
	memset(c, 0, sizeof(*c));
	c->port = ntohs(m->id.idiag_sport);
	c->connections = 1;
	if (m->idiag_family == AF_INET6 &&
	    memcmp(m->id.idiag_src, mapped, sizeof(mapped))) {
		c->family = LBD_AF_INET6;
		memcpy(c->addr.b, m->id.idiag_src, 16);
	} else {
		c->family = LBD_AF_INET;
		c->addr.v4 = m->idiag_family == AF_INET ? m->id.idiag_src[0] :
							  m->id.idiag_src[3];
	}
	return MNL_CB_OK;
}

/* One dump of one family's TCP sockets in the given states. */
static int sd_dump_family(struct mnl_socket *nl, __u8 family, struct sd_dump *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	unsigned int portid = mnl_socket_get_portid(nl), seq;
	ssize_t n;
	int r;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	seq = nlh->nlmsg_seq = (unsigned int)time(NULL) + family;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = SD_LIVE | 1u << SD_LISTEN;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, sd_msg, d);
		if (r == MNL_CB_ERROR)
			return d->err ? d->err : -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static int sd_cmp(const void *a, const void *b)
{
	const struct sockdiag_count *x = a, *y = b;
	int c = (int)x->family - (int)y->family;

	if (!c)
		c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (!c)
		c = (int)x->port - (int)y->port;
	return c;
}

static int port_cmp(const void *a, const void *b)
{
	return (int)*(const __u16 *)a - (int)*(const __u16 *)b;
}

int sockdiag_connections(struct sockdiag_count **out, size_t *n)
{
	struct sd_dump d = { 0 };
	struct mnl_socket *nl;
	size_t i, k = 0;
	int err;

	*out = NULL;
	*n = 0;
	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return -errno;
	err = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
	if (!err)
		err = sd_dump_family(nl, AF_INET, &d);
	if (!err)
		err = sd_dump_family(nl, AF_INET6, &d);
	mnl_socket_close(nl);
	if (err)
		goto out;
	/* qsort's array may not be NULL, even of no element */
	if (d.n_listen)
		qsort(d.listen, d.n_listen, sizeof(*d.listen), port_cmp);
	if (d.n)
		qsort(d.c, d.n, sizeof(*d.c), sd_cmp);
	/* one entry per address and port, of ports a listener has */
	for (i = 0; i < d.n; i++) {
		if (!d.n_listen || !bsearch(&d.c[i].port, d.listen, d.n_listen,
					    sizeof(*d.listen), port_cmp))
			continue;
		if (k && !sd_cmp(&d.c[k - 1], &d.c[i]))
			d.c[k - 1].connections++;
		else
			d.c[k++] = d.c[i];
	}
	*out = d.c;
	*n = k;
	d.c = NULL;
out:
	free(d.c);
	free(d.listen);
	return err;
}
