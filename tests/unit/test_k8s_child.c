// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd/k8s/k8s_child.c and k8s_proc.c together: the privileged side starts
 * the Kubernetes child as an unprivileged user, hands it the kubeconfig's
 * bytes and, when the child names them, the root-only files it references
 * (a CA and a token file), and receives the translated services of the
 * fake API server (tests/k8s/fakeapi.py).
 *
 * proc.c (fork and exec of lbd --child k8s) is stood in for by a fork of
 * this test running k8s_child_run as nobody on a socketpair; the test
 * runs in a network namespace of its own, the API server on 198.18.0.1.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "k8s_child.h"
#include "k8s_proc.h"
#include "msgch.h"
#include "proc.h"

#define NOBODY 65534

/* -- proc.h, as a fork of this test -------------------------------------- */

struct proc {
	struct msgch *ch;
	pid_t pid;
	proc_msg_fn on_msg;
	void *arg;
};

static void stub_msg(struct msgch *c, const struct lbd_msg_hdr *h,
		     const void *payload, void *arg)
{
	struct proc *p = arg;

	(void)c;
	p->on_msg(p, h, payload, p->arg);
}

static void stub_close(struct msgch *c, int err, void *arg)
{
	struct proc *p = arg;

	(void)c;
	(void)err;
	p->ch = NULL;
}

int proc_start(sd_event *ev, const struct proc_spec *spec, proc_msg_fn on_msg,
	       proc_up_fn on_up, void *arg, struct proc **out)
{
	struct proc *p = calloc(1, sizeof(*p));
	int sv[2];

	cr_assert_eq(spec->kind, PROC_K8S);
	cr_assert_eq(spec->caps, 0, "the client keeps no capability");
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->on_msg = on_msg;
	p->arg = arg;
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (!p->pid) {
		close(sv[0]);
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(2);
		_exit(k8s_child_run(sv[1]));
	}
	close(sv[1]);
	cr_assert_eq(msgch_open(ev, sv[0], stub_msg, stub_close, p, &p->ch), 0);
	*out = p;
	on_up(p, p->pid, arg);
	return 0;
}

int proc_send(struct proc *p, __u16 type, __u16 flags, const void *payload,
	      size_t len)
{
	return p->ch ? msgch_send(p->ch, type, flags, payload, len) : -EPIPE;
}

int proc_send2(struct proc *p, __u16 type, __u16 flags, const void *head,
	       size_t hlen, const void *recs, size_t rlen)
{
	return p->ch ? msgch_send2(p->ch, type, flags, head, hlen, recs, rlen) :
		       -EPIPE;
}

pid_t proc_pid(const struct proc *p)
{
	return p->pid;
}

size_t proc_pending(const struct proc *p)
{
	return p->ch ? msgch_pending(p->ch) : 0;
}

void proc_stop(struct proc *p)
{
	if (!p)
		return;
	if (p->ch)
		msgch_free(p->ch);
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	free(p);
}

/* -- the API server --------------------------------------------------------- */

static char dir[] = "/tmp/lbd-k8s-child-XXXXXX";
static FILE *api_in, *api_out;
static pid_t api_pid;

static void api_cmd(const char *json)
{
	char line[4096];

	fprintf(api_in, "%s\n", json);
	fflush(api_in);
	cr_assert_not_null(fgets(line, sizeof(line), api_out));
	cr_assert_not_null(strstr(line, "\"ok\": true"), "%s: %s", json, line);
}

static void setup(void)
{
	int in[2], out[2];
	char line[256];

	/* a network of our own: the API server's address is ours */
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "%s", strerror(errno));
	cr_assert_eq(system("ip link set lo up && "
			    "ip addr add 198.18.0.1/32 dev lo"),
		     0);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	api_pid = fork();
	cr_assert_geq(api_pid, 0);
	if (!api_pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3",
		       LBD_SOURCE_DIR "/tests/k8s/fakeapi.py", "--dir", dir,
		       "--listen", "198.18.0.1:0", "--make-certs", NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	api_in = fdopen(in[1], "w");
	api_out = fdopen(out[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), api_out),
			   "the fake API server did not start");
	cr_assert_not_null(strstr(line, "ready"));
}

static void teardown(void)
{
	char cmd[700];

	if (api_pid > 0) {
		kill(api_pid, SIGKILL);
		waitpid(api_pid, NULL, 0);
	}
	if (api_in)
		fclose(api_in);
	if (api_out)
		fclose(api_out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

/* -- the test ------------------------------------------------------------- */

struct got {
	sd_event *ev;
	struct k8s_set set;
	int sets;
	bool got;
};

static void on_set(struct k8s_set *set, void *arg)
{
	struct got *g = arg;

	k8s_set_free(&g->set);
	g->set = *set;
	memset(set, 0, sizeof(*set));
	g->sets++;
	g->got = true;
}

static bool got_set(void *arg)
{
	return ((struct got *)arg)->got;
}

static bool status_synced(void *arg)
{
	struct lbd_k8s_status st;

	k8s_proc_status(arg, &st);
	return st.synced;
}

/* Runs the loop until done(arg) or 30 s have passed (a busy machine):
 * whether done. */
static bool run_until(sd_event *ev, bool (*done)(void *), void *arg)
{
	uint64_t now, end;

	sd_event_now(ev, CLOCK_MONOTONIC, &now);
	for (end = now + 30000000ull; !done(arg) && now < end;) {
		cr_assert_geq(sd_event_run(ev, 100000), 0);
		sd_event_now(ev, CLOCK_MONOTONIC, &now);
	}
	return done(arg);
}

TestSuite(k8s_child, .init = setup, .fini = teardown, .timeout = 60);

Test(k8s_child, root_only_files_reach_the_unprivileged_client_as_bytes)
{
	struct lbd_config *c = calloc(1, sizeof(*c));
	struct got g = { 0 };
	struct lbd_k8s_status st;
	struct k8s_proc *kp;
	char path[700];

	api_cmd("{\"op\": \"put\", \"object\": {\"kind\": \"Service\", "
		"\"apiVersion\": \"v1\", \"metadata\": {\"name\": \"web\", "
		"\"namespace\": \"default\"}, \"spec\": {\"type\": "
		"\"LoadBalancer\", \"loadBalancerClass\": \"lbd.io/lb\", "
		"\"ports\": [{\"name\": \"http\", \"port\": 80, \"protocol\": "
		"\"TCP\"}]}, \"status\": {\"loadBalancer\": {\"ingress\": "
		"[{\"ip\": \"203.0.113.50\"}]}}}}");
	api_cmd("{\"op\": \"put\", \"object\": {\"kind\": \"EndpointSlice\", "
		"\"apiVersion\": \"discovery.k8s.io/v1\", \"metadata\": "
		"{\"name\": \"web-a\", \"namespace\": \"default\", \"labels\": "
		"{\"kubernetes.io/service-name\": \"web\"}}, \"addressType\": "
		"\"IPv4\", \"endpoints\": [{\"addresses\": [\"198.18.1.10\"], "
		"\"conditions\": {\"ready\": true}}], \"ports\": [{\"name\": "
		"\"http\", \"port\": 8080, \"protocol\": \"TCP\"}]}}");
	/* the kubeconfig names a CA file and a token file: root's only */
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	cr_assert_eq(chmod(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/token", dir);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(chmod(dir, 0700), 0);

	c->k8s.enabled = true;
	snprintf(c->k8s.kubeconfig, sizeof(c->k8s.kubeconfig),
		 "%s/kubeconfig-token", dir);
	snprintf(c->k8s.lb_class, sizeof(c->k8s.lb_class), "lbd.io/lb");
	c->k8s.fwd = LBD_FWD_GENEVE;
	c->k8s.max_object_bytes = LBD_K8S_MAX_OBJECT_BYTES;
	c->k8s.max_watch_line_bytes = LBD_K8S_MAX_WATCH_LINE_BYTES;
	c->k8s.max_list_page_bytes = LBD_K8S_MAX_LIST_PAGE_BYTES;
	c->k8s.vip_ranges[0].family = LBD_AF_INET;
	c->k8s.vip_ranges[0].prefixlen = 24;
	c->k8s.vip_ranges[0].addr.b[0] = 203;
	c->k8s.vip_ranges[0].addr.b[2] = 113;
	c->k8s.n_vip_ranges = 1;
	c->dp.encap_v4.family = LBD_AF_INET;

	cr_assert_eq(sd_event_new(&g.ev), 0);
	cr_assert_eq(k8s_proc_start(g.ev, c, "nobody", on_set, &g, &kp), 0);
	cr_assert(run_until(g.ev, got_set, &g), "no set from the client");

	cr_assert_eq(g.sets, 1);
	cr_assert_eq(g.set.n_svc, 1);
	cr_assert_str_eq(g.set.svc[0].name, "default/web:http");
	cr_assert_str_eq(g.set.svc[0].k8s_ref, "default/web");
	cr_assert_eq(g.set.svc[0].port, 80);
	cr_assert_eq(g.set.svc[0].vip.addr.b[3], 50);
	cr_assert_eq(g.set.svc[0].n_backends, 1);
	cr_assert_eq(g.set.be[0].port, 8080);
	cr_assert_eq(g.set.be[0].addr.addr.b[3], 10);
	cr_assert(k8s_proc_synced(kp));

	/* the status follows the set, within a second */
	cr_assert(run_until(g.ev, status_synced, kp));
	k8s_proc_status(kp, &st);
	cr_assert(st.synced && st.running);
	cr_assert(st.res[LBD_K8S_RES_SERVICES].listed);
	cr_assert_eq(st.res[LBD_K8S_RES_SLICES].objects, 1);
	cr_assert_eq(st.gen, 1);
	cr_assert_str_eq(st.error, "");
	cr_assert(strstr(st.server, "https://198.18.0.1:"), "%s", st.server);

	k8s_proc_stop(kp);
	k8s_set_free(&g.set);
	sd_event_unref(g.ev);
	free(c);
}
