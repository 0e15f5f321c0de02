// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The privileged side of the Kubernetes child (k8s_proc.h). */
#include "k8s_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s_msg.h"
#include "log.h"
#include "proc.h"

/* The files are read again this often: a projected service account
 * token is rotated in place (kubelet, at 80% of its lifetime). */
#define FILES_USEC (30 * 1000000ull)

struct k8s_proc {
	sd_event *ev;
	struct proc *p;
	char user[64];
	k8s_proc_set_fn on_set;
	void *arg;
	/* role node: its sets instead, for this node */
	bool node;
	k8s_proc_node_set_fn on_node_set;
	struct k8s_node_ident ident;
	struct k8s_node_rx nrx;
	/* what a START needs of the config: its kubernetes group and
	 * the datapath's sources (no pointer of the config is kept) */
	struct lbd_config cfg;
	__u32 gen;
	/* the files the kubeconfig references, named by a child before it
	 * went to the network, and their bytes as last read */
	struct k8s_files files;
	char *data[LBD_K8S_MAX_FILES];
	bool files_known;
	pid_t pid; /* the child these are about */
	unsigned long statuses; /* of this child */
	struct k8s_rx rx;
	struct lbd_k8s_status status;
	bool synced; /* a set of this child came */
	sd_event_source *files_timer;
	/* the kubeconfig's bytes the child has: another kubeconfig is
	 * another child, which names its files before the network */
	char *kc;
	size_t kc_len;
};

int k8s_proc_read_file(const char *path, char **out, size_t *len, char *err,
		       size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, e = 0;

	*out = NULL;
	*len = 0;
	/* a token is a symlink into ..data under a projected volume:
	 * followed, but only a regular file is read */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		e = -errno;
		goto out;
	}
	if (fstat(fd, &st)) {
		e = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = -EINVAL;
		goto out;
	}
	if (st.st_size > LBD_K8S_FILE_MAX) {
		e = -EFBIG;
		goto out;
	}
	buf = malloc(LBD_K8S_FILE_MAX + 1);
	if (!buf) {
		e = -ENOMEM;
		goto out;
	}
	/* to the bound, whatever the size said (the file may grow) */
	while (n <= LBD_K8S_FILE_MAX) {
		r = read(fd, buf + n, LBD_K8S_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = -errno;
			goto out;
		}
		if (!r)
			break;
		n += (size_t)r;
	}
	if (n > LBD_K8S_FILE_MAX) {
		e = -EFBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	if (e)
		snprintf(err, errlen, "%s: %s", path,
			 e == -EINVAL ? "not a regular file" : strerror(-e));
	free(buf);
	if (fd >= 0)
		close(fd);
	return e;
}

static void files_clear(struct k8s_proc *kp)
{
	unsigned int i;

	for (i = 0; i < LBD_K8S_MAX_FILES; i++) {
		if (kp->data[i])
			explicit_bzero(kp->data[i], kp->files.len[i]);
		free(kp->data[i]);
		kp->data[i] = NULL;
	}
	memset(&kp->files, 0, sizeof(kp->files));
	kp->files_known = false;
}

/* Reads the named files again: whether any changed. A file that cannot
 * be read is sent empty (the child says what is missing). */
static bool files_read(struct k8s_proc *kp)
{
	bool changed = false;
	unsigned int i;

	for (i = 0; i < kp->files.n; i++) {
		char err[LBD_K8S_PATH_MAX + 64], *d;
		size_t len;

		if (k8s_proc_read_file(kp->files.path[i], &d, &len, err,
				       sizeof(err))) {
			log_warnx("kubernetes: %s", err);
			continue;
		}
		if (kp->data[i] && len == kp->files.len[i] &&
		    !memcmp(d, kp->data[i], len)) {
			explicit_bzero(d, len);
			free(d);
			continue;
		}
		if (kp->data[i])
			explicit_bzero(kp->data[i], kp->files.len[i]);
		free(kp->data[i]);
		kp->data[i] = d;
		kp->files.data[i] = d;
		kp->files.len[i] = len;
		changed = true;
	}
	return changed;
}

static void child_restart(struct k8s_proc *kp);

/* The settings, the kubeconfig's bytes and the files known to the
 * child; a kubeconfig that cannot be read is logged, and nothing sent:
 * the child keeps its client. */
static int send_start(struct k8s_proc *kp)
{
	char err[LBD_K8S_PATH_MAX + 64], *kc = NULL;
	size_t kc_len, len;
	void *m = NULL;
	int r;

	if (!kp->p || !proc_pid(kp->p))
		return 0;
	r = k8s_proc_read_file(kp->cfg.k8s.kubeconfig, &kc, &kc_len, err,
			       sizeof(err));
	if (r) {
		log_warnx("kubernetes: %s", err);
		return r;
	}
	if (!kp->kc) {
		kp->kc = kc;
		kp->kc_len = kc_len;
		kc = NULL;
	} else if (kc_len != kp->kc_len || memcmp(kc, kp->kc, kc_len)) {
		/* edited since the child read it: on_up sends it again */
		explicit_bzero(kc, kc_len);
		free(kc);
		log_info("kubernetes: %s changed: restarting the client",
			 kp->cfg.k8s.kubeconfig);
		child_restart(kp);
		return 0;
	} else {
		explicit_bzero(kc, kc_len);
		free(kc);
		kc = NULL;
	}
	r = k8s_start_build(&kp->cfg, kp->gen, kp->kc, kp->kc_len,
			    kp->files_known ? &kp->files : NULL, &m, &len);
	if (!r && kp->node)
		k8s_start_set_node(m, &kp->ident);
	if (!r)
		r = proc_send(kp->p, LBD_MSG_K8S_START, 0, m, len);
	if (r)
		log_warnx("kubernetes: sending the settings to the client: %s",
			  strerror(-r));
	if (m)
		explicit_bzero(m, len);
	free(m);
	return r;
}

static void on_up(struct proc *p, pid_t pid, void *arg)
{
	struct k8s_proc *kp = arg;

	/* proc_start may call this before it has returned p */
	kp->p = p;
	/* a set the last child left unfinished is no set; the last
	 * complete one stays with the owner until this child's */
	k8s_rx_reset(&kp->rx);
	k8s_node_rx_reset(&kp->nrx);
	/* a new child names the files again, before the network */
	files_clear(kp);
	kp->pid = pid;
	kp->statuses = 0;
	kp->synced = false;
	memset(&kp->status, 0, sizeof(kp->status));
	send_start(kp);
}

/* Cut off: proc respawns it. */
static void child_bad(struct k8s_proc *kp, const char *what)
{
	pid_t pid = proc_pid(kp->p);

	log_warnx("kubernetes: the client (pid %d) sent %s: restarting it",
		  (int)pid, what);
	k8s_rx_reset(&kp->rx);
	k8s_node_rx_reset(&kp->nrx);
	if (pid > 0)
		kill(pid, SIGKILL);
}

static void on_status(struct k8s_proc *kp, const void *p, size_t len)
{
	const struct lbd_k8s_status *s = p;
	const char *paths = (const char *)(s + 1);
	char err[256];
	unsigned int i, n;

	if (k8s_status_check(p, len, &n, err, sizeof(err))) {
		child_bad(kp, err);
		return;
	}
	kp->status = *s;
	if (n) {
		/* only a child that has not yet spoken to the network
		 * names files, in its first status, for the current
		 * settings: else what it names may be anything it was
		 * talked into asking for */
		if (kp->statuses || s->gen != kp->gen || kp->files_known) {
			child_bad(kp, "a request for files after its start");
			return;
		}
		files_clear(kp);
		kp->files.n = n;
		for (i = 0; i < n; i++)
			memcpy(kp->files.path[i],
			       paths + (size_t)i * LBD_K8S_PATH_MAX,
			       LBD_K8S_PATH_MAX);
		kp->files_known = true;
		files_read(kp);
		send_start(kp);
	}
	kp->statuses++;
}

static void on_services(struct k8s_proc *kp, __u16 flags, const void *p,
			size_t len)
{
	struct k8s_set set;
	char err[256];
	__u32 gen;
	int r;

	r = k8s_rx_msg(&kp->rx, flags, p, len, &set, &gen, err, sizeof(err));
	if (r == -EBADMSG) {
		child_bad(kp, err);
		return;
	}
	if (r < 0) {
		log_warnx("kubernetes: the cluster's services: %s",
			  strerror(-r));
		return;
	}
	if (!r)
		return;
	/* a set of settings that are no longer: one of these follows */
	if (gen != kp->gen) {
		k8s_set_free(&set);
		return;
	}
	kp->synced = true;
	kp->on_set(&set, kp->arg);
}

static void on_node_msg(struct k8s_proc *kp, __u16 flags, const void *p,
			size_t len)
{
	struct k8s_node_set set;
	char err[256];
	__u32 gen;
	int r;

	r = k8s_node_rx_msg(&kp->nrx, flags, p, len, &set, &gen, err,
			    sizeof(err));
	if (r == -EBADMSG) {
		child_bad(kp, err);
		return;
	}
	if (r < 0) {
		log_warnx("kubernetes: the node's records: %s", strerror(-r));
		return;
	}
	if (!r)
		return;
	/* made for another node or settings: one of these follows */
	if (gen != kp->gen) {
		k8s_node_set_free(&set);
		return;
	}
	kp->synced = true;
	kp->on_node_set(&set, kp->arg);
}

static void on_msg(struct proc *p, const struct lbd_msg_hdr *h,
		   const void *payload, void *arg)
{
	struct k8s_proc *kp = arg;

	(void)p;
	if (h->type == LBD_MSG_K8S_STATUS)
		on_status(kp, payload, h->len);
	else if (h->type == LBD_MSG_K8S_SERVICES && !kp->node)
		on_services(kp, h->flags, payload, h->len);
	else if (h->type == LBD_MSG_K8S_NODE_SET && kp->node)
		on_node_msg(kp, h->flags, payload, h->len);
	else
		child_bad(kp, "a message not of its kind");
}

static int on_files_timer(sd_event_source *s, uint64_t usec, void *arg)
{
	struct k8s_proc *kp = arg;

	if (kp->files_known && files_read(kp))
		send_start(kp);
	sd_event_source_set_time(s, usec + FILES_USEC);
	return 0;
}

static void cfg_keep(struct k8s_proc *kp, const struct lbd_config *c)
{
	memset(&kp->cfg, 0, sizeof(kp->cfg));
	kp->cfg.k8s = c->k8s;
	kp->cfg.dp.encap_v4 = c->dp.encap_v4;
	kp->cfg.dp.encap_v6 = c->dp.encap_v6;
	kp->cfg.dp.snat_v4 = c->dp.snat_v4;
	kp->cfg.dp.snat_v6 = c->dp.snat_v6;
}

static int child_start(struct k8s_proc *kp)
{
	struct proc_spec spec = {
		.kind = PROC_K8S,
		.user = kp->user,
		.caps = 0, /* none: it speaks TCP to the API server only */
	};

	return proc_start(kp->ev, &spec, on_msg, on_up, kp, &kp->p);
}

static int start(sd_event *ev, const struct lbd_config *c, const char *user,
		 k8s_proc_set_fn on_set, const struct k8s_node_ident *id,
		 k8s_proc_node_set_fn on_node_set, void *arg,
		 struct k8s_proc **out)
{
	struct k8s_proc *kp = calloc(1, sizeof(*kp));
	uint64_t now;
	int r;

	if (!kp)
		return -ENOMEM;
	kp->ev = sd_event_ref(ev);
	snprintf(kp->user, sizeof(kp->user), "%s", user);
	kp->on_set = on_set;
	kp->on_node_set = on_node_set;
	kp->node = id != NULL;
	if (id)
		kp->ident = *id;
	kp->arg = arg;
	kp->gen = 1;
	cfg_keep(kp, c);
	sd_event_now(ev, CLOCK_MONOTONIC, &now);
	r = sd_event_add_time(ev, &kp->files_timer, CLOCK_MONOTONIC,
			      now + FILES_USEC, 1000000, on_files_timer, kp);
	if (r >= 0)
		r = sd_event_source_set_enabled(kp->files_timer, SD_EVENT_ON);
	if (r < 0) {
		k8s_proc_stop(kp);
		return -ENOMEM;
	}
	r = child_start(kp);
	if (r) {
		k8s_proc_stop(kp);
		return r;
	}
	*out = kp;
	return 0;
}

int k8s_proc_start(sd_event *ev, const struct lbd_config *c, const char *user,
		   k8s_proc_set_fn on_set, void *arg, struct k8s_proc **out)
{
	return start(ev, c, user, on_set, NULL, NULL, arg, out);
}

int k8s_proc_start_node(sd_event *ev, const struct lbd_config *c,
			const char *user, const struct k8s_node_ident *id,
			k8s_proc_node_set_fn on_set, void *arg,
			struct k8s_proc **out)
{
	return start(ev, c, user, NULL, id, on_set, arg, out);
}

/* Another child, for another kubeconfig or cluster; the last set
 * stays with the owner until the new child's first. */
static void child_restart(struct k8s_proc *kp)
{
	int r;

	files_clear(kp);
	k8s_rx_reset(&kp->rx);
	k8s_node_rx_reset(&kp->nrx);
	if (kp->kc)
		explicit_bzero(kp->kc, kp->kc_len);
	free(kp->kc);
	kp->kc = NULL;
	proc_stop(kp->p);
	kp->p = NULL;
	kp->synced = false;
	memset(&kp->status, 0, sizeof(kp->status));
	r = child_start(kp);
	if (r)
		log_warnx("kubernetes: starting the client: %s", strerror(-r));
}

int k8s_proc_update(struct k8s_proc *kp, const struct lbd_config *c)
{
	bool restart = !k8s_same_cluster(&kp->cfg.k8s, &c->k8s);
	char err[LBD_K8S_PATH_MAX + 64], *kc;
	size_t len;
	int r;

	/* said at the reload, which then keeps what runs */
	r = k8s_proc_read_file(c->k8s.kubeconfig, &kc, &len, err, sizeof(err));
	if (r) {
		log_warnx("kubernetes: %s", err);
		return r;
	}
	explicit_bzero(kc, len);
	free(kc);
	cfg_keep(kp, c);
	kp->gen++;
	if (restart) {
		log_info("kubernetes: settings changed: restarting the "
			 "client");
		child_restart(kp);
		return 0;
	}
	/* the same cluster: a new translation (and a new set) under the
	 * new settings; an edited kubeconfig restarts (send_start) */
	if (kp->files_known)
		files_read(kp);
	return send_start(kp);
}

int k8s_proc_update_node(struct k8s_proc *kp, const struct lbd_config *c,
			 const struct k8s_node_ident *id)
{
	struct k8s_node_ident was = kp->ident;
	int r;

	kp->ident = *id;
	r = k8s_proc_update(kp, c);
	if (r)
		kp->ident = was; /* the reload keeps what runs */
	return r;
}

void k8s_proc_stop(struct k8s_proc *kp)
{
	if (!kp)
		return;
	proc_stop(kp->p);
	kp->files_timer = sd_event_source_disable_unref(kp->files_timer);
	files_clear(kp);
	k8s_rx_reset(&kp->rx);
	k8s_node_rx_reset(&kp->nrx);
	if (kp->kc)
		explicit_bzero(kp->kc, kp->kc_len);
	free(kp->kc);
	sd_event_unref(kp->ev);
	free(kp);
}

void k8s_proc_status(const struct k8s_proc *kp, struct lbd_k8s_status *out)
{
	if (kp)
		*out = kp->status;
	else
		memset(out, 0, sizeof(*out));
}

bool k8s_proc_synced(const struct k8s_proc *kp)
{
	return kp && kp->synced;
}

pid_t k8s_proc_pid(const struct k8s_proc *kp)
{
	return kp && kp->p ? proc_pid(kp->p) : 0;
}
