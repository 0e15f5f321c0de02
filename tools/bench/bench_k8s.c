// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-k8s: how fast the cluster's services reach the datapath.
 * Prints figures; it is not a test and does not fail on a slow result.
 *
 *   (a) the initial sync of 5,000 LoadBalancer Services with 20 endpoints
 *       each: from the client's start (list in pages of 500, over HTTPS
 *       with a client certificate) to the apply that put them all in the
 *       maps;
 *   (b) the delay from a watch event to the datapath change, over 1,000
 *       events: each replaces one endpoint of another Service; the time
 *       runs from before the change is sent to the API server until
 *       state_apply has written it (median and p99).
 *
 * The API server is tests/k8s/fakeapi.py on 127.0.0.1 (run here as a
 * child, driven on its stdin); the client, the merge and the apply are
 * lbd's own (k8s.c, sources.c, state.c) on an sd-event loop, with the
 * real XDP program loaded (not attached). Addresses from 198.18.0.0/15.
 *
 *   lbd-bench-k8s [-m MAGLEV_TABLE_SIZE] [-n SERVICES] [-e EVENTS]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "datapath.h"
#include "k8s.h"
#include "log.h"
#include "sources.h"
#include "state.h"

#define ENDPOINTS 20

struct bench {
	sd_event *ev;
	struct lbd_config *cfg;
	struct lbd_dp *dp;
	struct lbd_state st;
	struct sources src;
	struct k8s_client *k8s;
	FILE *to_api, *from_api;
	int services, events;
	double t_start, t_sync, sync_apply_ms;
	struct apply_result sync_res;
	/* the event in flight */
	int k; /* its number, -1: none */
	double t0;
	struct lbd_svc_addr key;
	union lbd_addr want;
	double *lat;
	unsigned long applies;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void api_cmd(struct bench *b, const char *json)
{
	char line[4096];

	fprintf(b->to_api, "%s\n", json);
	fflush(b->to_api);
	if (!fgets(line, sizeof(line), b->from_api) ||
	    !strstr(line, "\"ok\": true"))
		fatalx("fake API server: %s: %s", json, line);
}

/* Service i as fakeapi.py's generate makes it. */
static void vip_of(int i, struct lbd_svc_addr *k)
{
	memset(k, 0, sizeof(*k));
	k->family = LBD_AF_INET;
	k->proto = 6;
	k->port = htons(80);
	k->vip.v4 = htonl((198u << 24) | (18u << 16) |
			  ((128u + (unsigned)i / 250) << 8) |
			  (1u + (unsigned)i % 250));
}

/* Event k: the first endpoint of Service i replaced by 198.18.64+.x */
static void send_event(struct bench *b)
{
	int i = (b->k * 37) % b->services, j;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	unsigned a = 198u << 24 | 18u << 16 |
		     (64u + (unsigned)b->k / 250) << 8 |
		     (1u + (unsigned)b->k % 250);

	vip_of(i, &b->key);
	memset(&b->want, 0, sizeof(b->want));
	b->want.v4 = htonl(a);
	fprintf(f,
		"{\"op\": \"put\", \"object\": {\"kind\": \"EndpointSlice\", "
		"\"apiVersion\": \"discovery.k8s.io/v1\", \"metadata\": "
		"{\"name\": \"svc-%05d-0\", \"namespace\": \"bench\", "
		"\"labels\": {\"kubernetes.io/service-name\": \"svc-%05d\"}}, "
		"\"addressType\": \"IPv4\", \"ports\": [{\"name\": \"http\", "
		"\"port\": 8080, \"protocol\": \"TCP\"}], \"endpoints\": [",
		i, i);
	for (j = 0; j < ENDPOINTS; j++) {
		unsigned n = (unsigned)(i * ENDPOINTS + j);

		if (j == 0)
			fprintf(f, "{\"addresses\": [\"198.18.%u.%u\"]}",
				64 + (unsigned)b->k / 250,
				1 + (unsigned)b->k % 250);
		else
			fprintf(f, ", {\"addresses\": [\"198.19.%u.%u\"]}",
				n / 250 % 250, 1 + n % 250);
	}
	fprintf(f, "]}}");
	fclose(f);
	b->t0 = now_ms();
	api_cmd(b, text);
	free(text);
}

static bool event_applied(struct bench *b)
{
	const struct st_service *s = state_find(&b->st, &b->key);
	size_t i;

	for (i = 0; s && i < s->n_be; i++)
		if (s->be[i].addr.addr.v4 == b->want.v4)
			return true;
	return false;
}

static void on_changed(void *arg)
{
	struct bench *b = arg;
	struct config_diag news = { 0 };
	struct apply_result r;
	struct k8s_opts o;
	struct k8s_set set;
	double t = now_ms();
	int err;

	k8s_opts_of(b->cfg, &o);
	err = k8s_build(b->k8s, &o, &set);
	if (!err)
		err = sources_apply(&b->src, &b->st, b->dp, b->cfg, &set, 0,
				    NULL, NULL, &r, &news, NULL);
	k8s_set_free(&set);
	config_diag_free(&news);
	if (err)
		fatalx("apply: %s", strerror(-err));
	b->applies++;
	if (!b->t_sync) {
		if (b->st.n_svc < (size_t)b->services)
			return;
		b->t_sync = now_ms();
		b->sync_apply_ms = b->t_sync - t;
		b->sync_res = r;
		b->k = 0;
		send_event(b);
		return;
	}
	if (b->k < 0 || !event_applied(b))
		return;
	b->lat[b->k] = now_ms() - b->t0;
	if (++b->k == b->events) {
		sd_event_exit(b->ev, 0);
		return;
	}
	send_event(b);
}

static pid_t spawn_api(const char *dir, struct bench *b)
{
	int in[2], out[2];
	char line[256];
	pid_t pid;

	if (pipe(in) || pipe(out))
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (!pid) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", LBD_SOURCE_DIR "/tests/k8s/fakeapi.py",
		       "--dir", dir, "--listen", "127.0.0.1:0", "--make-certs",
		       (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	b->to_api = fdopen(in[1], "w");
	b->from_api = fdopen(out[0], "r");
	if (!fgets(line, sizeof(line), b->from_api))
		fatalx("the fake API server did not start");
	return pid;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bench b = { .services = 5000, .events = 1000, .k = -1 };
	char dir[] = "/tmp/lbd-bench-k8s-XXXXXX", text[2048], cmd[256];
	struct config_diag diag = { 0 };
	unsigned int m = 65537;
	struct lbd_dp_opts o;
	struct kubeconfig kc;
	char err[1024];
	pid_t api;
	int c;

	while ((c = getopt(argc, argv, "m:n:e:")) != -1) {
		if (c == 'm')
			m = (unsigned int)atoi(optarg);
		else if (c == 'n')
			b.services = atoi(optarg);
		else if (c == 'e')
			b.events = atoi(optarg);
		else
			return 2;
	}
	log_init("lbd-bench-k8s", 0);
	dp_log_route();
	if (!mkdtemp(dir))
		fatal("mkdtemp");
	api = spawn_api(dir, &b);
	printf("generating %d Services with %d endpoints each in the API "
	       "server...\n",
	       b.services, ENDPOINTS);
	snprintf(cmd, sizeof(cmd),
		 "{\"op\": \"generate\", \"services\": %d, \"endpoints\": %d, "
		 "\"class\": \"lbd.io/lb\"}",
		 b.services, ENDPOINTS);
	api_cmd(&b, cmd);

	snprintf(text, sizeof(text),
		 "datapath = { interface = \"lo\"; /* not attached */\n"
		 "  encap_source_v4 = \"198.18.0.10\";\n"
		 "  maglev_table_size = %u; max_services = %d;\n"
		 "  max_backends = %d; max_vips = %d;\n"
		 "  conntrack_entries = 4096; };\n"
		 "kubernetes = { kubeconfig = \"%s/kubeconfig-cert\";\n"
		 "  load_balancer_class = \"lbd.io/lb\"; };\n",
		 m, b.services + 16, (b.services + 16) * ENDPOINTS * 2,
		 b.services + 16, dir);
	if (config_load_string(text, "bench.conf", &b.cfg, &diag))
		fatalx("config: %s", diag.n ? diag.msgs[0] : "?");
	config_diag_free(&diag);
	if (kubeconfig_load(b.cfg->k8s.kubeconfig, NULL, &kc, err,
			    sizeof(err)))
		fatalx("%s", err);
	state_dp_opts(b.cfg, &o);
	o.pin_path = NULL;
	if (dp_open(&o, &b.dp))
		fatalx("loading the datapath");
	if (state_init(&b.st, o.max_services, o.max_backends))
		fatalx("state_init");
	b.lat = calloc((size_t)b.events, sizeof(*b.lat));
	sd_event_default(&b.ev);

	b.t_start = now_ms();
	if (k8s_start(b.ev, &b.cfg->k8s, &kc, on_changed, &b, &b.k8s))
		fatalx("k8s_start");
	sd_event_loop(b.ev);

	printf("\n(a) initial sync of %d Services x %d endpoints, Maglev "
	       "M = %u:\n"
	       "    %.0f ms from the client's start to the datapath "
	       "(the apply itself %.0f ms: %u services, %u backends, %u "
	       "tables built in %.0f ms (%.0f ms of CPU), %lu map writes)\n",
	       b.services, ENDPOINTS, m, b.t_sync - b.t_start, b.sync_apply_ms,
	       b.sync_res.svc_added, b.sync_res.be_added, b.sync_res.tables,
	       b.sync_res.maglev_wall_ms, b.sync_res.maglev_ms,
	       b.sync_res.writes);
	qsort(b.lat, (size_t)b.events, sizeof(*b.lat), dbl_cmp);
	printf("(b) watch event to datapath change, %d events (one endpoint "
	       "of one Service each):\n"
	       "    median %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       b.events, b.lat[b.events / 2],
	       b.lat[(size_t)((b.events - 1) * 0.99)], b.lat[b.events - 1]);

	k8s_stop(b.k8s);
	kubeconfig_free(&kc);
	fprintf(b.to_api, "{\"op\": \"quit\"}\n");
	fclose(b.to_api);
	waitpid(api, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		log_warnx("removing %s failed", dir);
	sources_free(&b.src);
	state_free(&b.st);
	dp_close(b.dp);
	config_free(b.cfg);
	free(b.lat);
	sd_event_unref(b.ev);
	return 0;
}
