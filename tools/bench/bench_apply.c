// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lbd-bench-apply: how long applying a config takes, and how many map
 * writes it makes. Prints figures next to their targets; it is not a test
 * and does not fail when a target is missed.
 *
 *   (a) 10,000 services x 10 backends applied to empty maps, with the time
 *       spent building Maglev tables shown apart, the same tables built
 *       again back to back, and the kernel memory the tables take; at the
 *       default table size (the config sets none), or at each size -m
 *       gives (lbd-bench-apply -m 16381 -m 65537 compares two);
 *   (b) one backend change in that config (a weight, an added backend),
 *       and what one table swap (dp_maglev_put) costs on its own, at the
 *       first of those sizes;
 *   (c) one Maglev table of 65537 slots for 1,000 backends (median);
 *   (d) at M = 16381, an apply that changes every service (a weight in
 *       each) and fails at its last service entry's write: the time to
 *       the failure and to roll it back, against the apply that works.
 *
 * The real XDP program is loaded (not attached, nothing pinned) and the
 * config goes through config_load_string and state_apply, as in lbd.
 * Addresses come from the documentation and benchmarking ranges only:
 * 198.18.0.0/15 and 2001:db8::/32. At M = 65537 the 10,000 tables take
 * about 2.6 GB of kernel memory, at the default 16381 about 0.7 GB.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "datapath.h"
#include "log.h"
#include "maglev.h"
#include "state.h"

/* (a): half the services on IPv4 VIPs, half on IPv6, 100 ports a VIP */
#define BENCH_SERVICES 10000
#define BENCH_BACKENDS 10
#define BENCH_PORTS 100
#define BENCH_SEED 0x5eed

/* (c); every run has another seed: the same table built again and again
 * would let the branch predictor learn its probes and flatter the time */
#define BENCH_TABLE_BACKENDS 1000
#define BENCH_TABLE_RUNS 21

/* table swaps timed on their own */
#define BENCH_SWAPS 20

/* The targets, printed beside the results. */
#define TARGET_FULL_MS 2000.0
#define TARGET_CHANGE_MS 20.0
#define TARGET_TABLE_MS 10.0

/* The variants of the config, each one backend change from the last. */
enum bench_variant {
	BENCH_BASE,
	BENCH_WEIGHT, /* service 0's first backend: weight 1 -> 2 */
	BENCH_ADDED, /* and service 0 gains an 11th backend */
	BENCH_EVERY, /* (d): every service's first backend: weight 2 */
};

/* (d): writes to the service maps counted from when bench_fail_svc is
 * set; the one of that number fails, as a full map would. */
static long bench_svc_writes, bench_fail_svc;

int dp_write_fault(const char *map)
{
	if (bench_fail_svc &&
	    (!strcmp(map, "lbd_svc4") || !strcmp(map, "lbd_svc6")) &&
	    ++bench_svc_writes == bench_fail_svc)
		return -ENOMEM;
	return 0;
}

static double bench_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Backend idx of the IPv4 or IPv6 half: 198.18.0.0/16 holds 65,536 and
 * 2001:db8:1::/112 as many; the VIPs sit in 198.19.0.0/24 and
 * 2001:db8:ffff::/112. */
static void bench_backend_addr(char *buf, size_t len, int v6, unsigned idx)
{
	if (v6)
		snprintf(buf, len, "2001:db8:1::%x", idx);
	else
		snprintf(buf, len, "198.18.%u.%u", idx >> 8, idx & 0xff);
}

/* The config text of a variant, in memory; the caller frees it. m == 0:
 * no maglev_table_size, the default. */
static char *bench_config_text(__u32 m, enum bench_variant v)
{
	char *text = NULL, addr[64];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int s, b;

	if (!f)
		fatal("open_memstream");
	fprintf(f, "datapath = {\n"
		   "  interface = \"lo\"; /* not attached */\n"
		   "  encap_source_v4 = \"198.19.255.10\";\n"
		   "  encap_source_v6 = \"2001:db8::10\";\n");
	if (m)
		fprintf(f, "  maglev_table_size = %u;\n", m);
	fprintf(f,
		"  hash_seed = %#x;\n"
		"  max_services = 16384;\n"
		"  max_backends = 131072;\n"
		"  max_vips = 1024;\n"
		"  conntrack_entries = 4096;\n"
		"};\n"
		"services = (\n",
		BENCH_SEED);
	for (s = 0; s < BENCH_SERVICES; s++) {
		int v6 = s >= BENCH_SERVICES / 2;
		unsigned k = (unsigned)(v6 ? s - BENCH_SERVICES / 2 : s);
		unsigned vip = 1 + k / BENCH_PORTS,
			 port = 1000 + k % BENCH_PORTS;
		int n = BENCH_BACKENDS + (s == 0 && v == BENCH_ADDED);

		if (v6)
			fprintf(f, "%s{ vip = \"2001:db8:ffff::%x\"; ",
				s ? ",\n" : "", vip);
		else
			fprintf(f, "%s{ vip = \"198.19.0.%u\"; ",
				s ? ",\n" : "", vip);
		fprintf(f, "port = %u; backends = (", port);
		for (b = 0; b < n; b++) {
			/* the added backend takes an index no service uses */
			unsigned idx =
				b < BENCH_BACKENDS ?
					k * BENCH_BACKENDS + (unsigned)b :
					(BENCH_SERVICES / 2) * BENCH_BACKENDS;
			int w = b == 0 && ((s == 0 && v >= BENCH_WEIGHT) ||
					   v == BENCH_EVERY) ?
					2 :
					1;

			bench_backend_addr(addr, sizeof(addr), v6, idx);
			fprintf(f, "%s{ address = \"%s\"; weight = %d; }",
				b ? ", " : " ", addr, w);
		}
		fprintf(f, " ); }");
	}
	fprintf(f, "\n);\n");
	if (fclose(f))
		fatal("open_memstream");
	return text;
}

static struct lbd_config *bench_config(__u32 m, enum bench_variant v,
				       double *load_ms)
{
	char *text = bench_config_text(m, v);
	struct lbd_config *cfg;
	struct config_diag d;
	double t0 = bench_now_ms();
	size_t i;

	if (config_load_string(text, "bench.conf", &cfg, &d)) {
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.msgs[i]);
		fatalx("the generated config is rejected");
	}
	*load_ms = bench_now_ms() - t0;
	config_diag_free(&d);
	free(text);
	return cfg;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double bench_median(double *t, int n)
{
	qsort(t, (size_t)n, sizeof(*t), bench_cmp_double);
	return t[n / 2];
}

/* The CPU time this process has used, all threads, user and system. */
static double bench_cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static const char *bench_verdict(double v, double target)
{
	return v < target ? "met" : "MISSED";
}

/* One apply, timed; prints a line and returns the time in ms. */
static double bench_apply(struct lbd_state *st, struct lbd_dp *dp,
			  const struct lbd_config *cfg, const char *what,
			  struct apply_result *r)
{
	double t0, ms;
	int err;

	t0 = bench_now_ms();
	err = state_apply(st, dp, cfg, NULL, NULL, r);
	ms = bench_now_ms() - t0;
	if (err)
		fatalx("%s: state_apply: %s", what, strerror(-err));
	return ms;
}

/* What one table swap costs (dp_maglev_put of the table a service
 * already has): the part of an apply that is neither Maglev nor diff. */
static void bench_swap(struct lbd_state *st, struct lbd_dp *dp, __u32 m)
{
	const struct st_service *s = &st->svc[0];
	__u32 *table = malloc((size_t)m * sizeof(*table));
	double t[BENCH_SWAPS], t0;
	int i, err;

	if (!table)
		fatalx("out of memory");
	err = dp_maglev_get(dp, s->id, table, m);
	if (err != (int)m)
		fatalx("dp_maglev_get: %d", err);
	for (i = 0; i < BENCH_SWAPS; i++) {
		t0 = bench_now_ms();
		err = dp_maglev_put(dp, s->id, table, m);
		t[i] = bench_now_ms() - t0;
		if (err)
			fatalx("dp_maglev_put: %s", strerror(-err));
	}
	printf("    one table swap    %7.2f ms  (dp_maglev_put, median of "
	       "%d)\n",
	       bench_median(t, BENCH_SWAPS), BENCH_SWAPS);
	free(table);
}

/* The tables of an applied state built again back to back, with no map
 * writes in between: the Maglev time of (a) without the caches and CPU
 * the kernel's work between tables takes. */
static double bench_tables_alone(const struct lbd_state *st)
{
	__u32 *table = malloc((size_t)st->maglev_size * sizeof(*table));
	struct maglev_backend mb[BENCH_BACKENDS + 1];
	double t0, ms = 0;
	size_t i, j, n;
	int err;

	if (!table)
		fatalx("out of memory");
	for (i = 0; i < st->n_svc; i++) {
		const struct st_service *s = &st->svc[i];

		if (s->n_be > BENCH_BACKENDS + 1)
			fatalx("service %s: %zu backends", s->name, s->n_be);
		memset(mb, 0, sizeof(mb));
		for (j = n = 0; j < s->n_be; j++) {
			if (s->be[j].dp_state != LBD_BE_ACTIVE ||
			    !s->be[j].weight)
				continue;
			mb[n].addr = s->be[j].addr.addr;
			mb[n].family = s->be[j].addr.family;
			mb[n].port = htons(s->be[j].port);
			mb[n].weight = s->be[j].weight;
			mb[n].id = s->be[j].id;
			n++;
		}
		t0 = bench_now_ms();
		err = maglev_build(mb, n, st->maglev_size, st->seed, table);
		ms += bench_now_ms() - t0;
		if (err)
			fatalx("maglev_build: %s", strerror(-err));
	}
	free(table);
	return ms;
}

/* The tables' memory alone: n tables of m slots created and filled as
 * an apply does (dp_maglev_prepare, on as many threads as it uses), from
 * a table built once. What is left of (a) with Maglev infinitely fast. */
struct bench_mem_job {
	struct lbd_dp *dp;
	__u32 m;
	int *fds;
	size_t first, n, step;
	int err;
};

static void *bench_mem_thread(void *arg)
{
	struct bench_mem_job *j = arg;
	__u32 *buf = calloc(dp_maglev_words(j->m, BENCH_BACKENDS), sizeof(*buf));
	size_t i;

	if (!buf) {
		j->err = -ENOMEM;
		return NULL;
	}
	for (i = j->first; i < j->n && !j->err; i += j->step) {
		j->fds[i] = dp_maglev_prepare(j->dp, buf, j->m, BENCH_BACKENDS);
		if (j->fds[i] < 0)
			j->err = j->fds[i];
	}
	free(buf);
	return NULL;
}

/* The kernel's own count of a map's memory (fdinfo "memlock", which
 * the map type's map_mem_usage gives); 0 where it cannot be read. */
static unsigned long long bench_map_memory(int fd)
{
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* *bytes: the kernel's count of the n tables' memory. */
static double bench_tables_memory(struct lbd_dp *dp, __u32 m, size_t n,
				  unsigned long long *bytes)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t k = cpus < 1 ? 1 : cpus > 16 ? 16 : (size_t)cpus, i;
	struct bench_mem_job jobs[16];
	pthread_t tids[16];
	int *fds = malloc(n * sizeof(*fds));
	double t0, ms;

	if (!fds)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		fds[i] = -1;
	t0 = bench_now_ms();
	for (i = 0; i < k; i++) {
		jobs[i] = (struct bench_mem_job){ .dp = dp,
						  .m = m,
						  .fds = fds,
						  .first = i,
						  .n = n,
						  .step = k };
		if (i &&
		    pthread_create(&tids[i], NULL, bench_mem_thread, &jobs[i]))
			fatalx("pthread_create");
	}
	bench_mem_thread(&jobs[0]);
	for (i = 1; i < k; i++)
		pthread_join(tids[i], NULL);
	ms = bench_now_ms() - t0;
	for (i = 0; i < k; i++)
		if (jobs[i].err)
			fatalx("dp_maglev_prepare: %s", strerror(-jobs[i].err));
	*bytes = 0;
	for (i = 0; i < n; i++) {
		*bytes += bench_map_memory(fds[i]);
		close(fds[i]);
	}
	free(fds);
	return ms;
}

/* (d) on the state and datapath of (a). */
static void bench_rollback(struct lbd_state *st, struct lbd_dp *dp,
			   const struct lbd_config *base, __u32 m)
{
	struct lbd_config *every = bench_config(m, BENCH_EVERY, &(double){ 0 });
	struct apply_result r;
	double t0, ms;
	int err;

	every->dp.pin_path[0] = '\0';
	printf("(d) an apply that changes all %d services, failing at its "
	       "last service entry\n",
	       BENCH_SERVICES);
	bench_svc_writes = 0;
	bench_fail_svc = BENCH_SERVICES;
	t0 = bench_now_ms();
	err = state_apply(st, dp, every, NULL, NULL, &r);
	ms = bench_now_ms() - t0;
	bench_fail_svc = 0;
	if (err != -ENOMEM || st->served != ST_SERVED_PREVIOUS)
		fatalx("(d): the apply did not fail and roll back (%s)",
		       strerror(-err));
	printf("    failed, rolled back %9.1f ms   (Maglev %.1f ms, %lu "
	       "writes before the failure)\n",
	       ms, r.maglev_wall_ms, r.writes);
	ms = bench_apply(st, dp, base, "(d)", &r);
	printf("    the old config again %8.1f ms   %lu writes: nothing "
	       "left to do\n",
	       ms, r.writes);
	ms = bench_apply(st, dp, every, "(d)", &r);
	printf("    the same apply, whole %7.1f ms   (Maglev %.1f ms, %lu "
	       "writes)\n",
	       ms, r.maglev_wall_ms, r.writes);
	config_free(every);
}

/* (a) at table size size (0: the default), and with it (b) when change
 * is set. */
static void bench_full(__u32 size, int change)
{
	struct lbd_config *cfg, *cw, *ca;
	unsigned long long bytes;
	struct lbd_dp_opts o;
	struct apply_result r;
	struct lbd_state st;
	struct lbd_dp *dp;
	double load_ms, open_ms, ms, t0, cpu;
	size_t words;
	__u32 m;
	int err;

	cfg = bench_config(size, BENCH_BASE, &load_ms);
	m = cfg->dp.maglev_table_size;
	cfg->dp.pin_path[0] = '\0';
	state_dp_opts(cfg, &o);
	t0 = bench_now_ms();
	err = dp_open(&o, &dp);
	if (err)
		fatalx("dp_open: %s", strerror(-err));
	open_ms = bench_now_ms() - t0;
	err = state_init(&st, o.max_services, o.max_backends);
	if (err)
		fatalx("state_init: %s", strerror(-err));

	printf("(a) apply %d services x %d backends from nothing, "
	       "maglev_table_size %u%s\n",
	       BENCH_SERVICES, BENCH_BACKENDS, m, size ? "" : " (the default)");
	printf("    (config_load_string %.0f ms and dp_open %.0f ms, "
	       "not counted)\n",
	       load_ms, open_ms);
	cpu = bench_cpu_ms();
	ms = bench_apply(&st, dp, cfg, "(a)", &r);
	cpu = bench_cpu_ms() - cpu;
	printf("    total        %9.1f ms   target < %.0f ms: %s\n", ms,
	       TARGET_FULL_MS, bench_verdict(ms, TARGET_FULL_MS));
	/* on a machine that runs other work too, the wall time above is
	 * longer than the work: this is the work */
	printf("    CPU time     %9.1f ms   (user and system, all threads; "
	       "at most %ld CPUs' worth\n"
	       "                             of wall time: %.1f ms on an "
	       "idle machine at best)\n",
	       cpu, sysconf(_SC_NPROCESSORS_ONLN),
	       cpu / (double)sysconf(_SC_NPROCESSORS_ONLN));
	printf("    Maglev build %9.1f ms   (%u tables on %ld CPUs, %.3f ms "
	       "CPU each)\n",
	       r.maglev_wall_ms, r.tables, sysconf(_SC_NPROCESSORS_ONLN),
	       r.tables ? r.maglev_ms / r.tables : 0);
	printf("    the rest     %9.1f ms   (diff, map writes, table "
	       "swaps in batches)\n",
	       ms - r.maglev_wall_ms);
	printf("    map writes   %9lu      (%u services, %u backends added)\n",
	       r.writes, r.svc_added, r.be_added);
	cpu = bench_cpu_ms();
	ms = bench_tables_alone(&st);
	cpu = bench_cpu_ms() - cpu;
	printf("    Maglev alone %9.1f ms   (the same tables back to back, "
	       "%.3f ms each, %.3f ms CPU)\n",
	       ms, st.n_svc ? ms / (double)st.n_svc : 0,
	       st.n_svc ? cpu / (double)st.n_svc : 0);
	ms = bench_tables_memory(dp, m, st.n_svc, &bytes);
	printf("    memory alone %9.1f ms   (as many tables created and "
	       "filled, none built)\n",
	       ms);
	/* what a table takes: its words (M slots, the list of N backends,
	 * 2 of header) in whole chunks, the map's values */
	words = dp_maglev_words(m, BENCH_BACKENDS);
	printf("    table memory %9.1f MiB  (%zu tables of %u slots and %d "
	       "backends: %zu chunks of %zu\n"
	       "                             bytes, %.1f KiB each; the "
	       "kernel's count, fdinfo memlock:\n"
	       "                             %.1f MiB, %.1f KiB a table)\n",
	       (double)st.n_svc * (double)words * 4 / (1 << 20), st.n_svc, m,
	       BENCH_BACKENDS, words / LBD_MAGLEV_CHUNK,
	       sizeof(struct lbd_maglev_chunk), (double)words * 4 / 1024,
	       (double)bytes / (1 << 20),
	       st.n_svc ? (double)bytes / (double)st.n_svc / 1024 : 0);

	if (change) {
		cw = bench_config(size, BENCH_WEIGHT, &load_ms);
		ca = bench_config(size, BENCH_ADDED, &load_ms);
		cw->dp.pin_path[0] = ca->dp.pin_path[0] = '\0';
		printf("(b) apply one backend change to that config "
		       "(target < %.0f ms, a handful of writes)\n",
		       TARGET_CHANGE_MS);
		ms = bench_apply(&st, dp, cfg, "(b)", &r);
		printf("    nothing changed   %7.2f ms  %4lu writes  "
		       "(Maglev %.2f ms)\n",
		       ms, r.writes, r.maglev_ms);
		ms = bench_apply(&st, dp, cw, "(b)", &r);
		printf("    weight 1 -> 2     %7.2f ms  %4lu writes  "
		       "(Maglev %.2f ms, %u table)  %s\n",
		       ms, r.writes, r.maglev_ms, r.tables,
		       bench_verdict(ms, TARGET_CHANGE_MS));
		ms = bench_apply(&st, dp, ca, "(b)", &r);
		printf("    backend added     %7.2f ms  %4lu writes  "
		       "(Maglev %.2f ms, %u table)  %s\n",
		       ms, r.writes, r.maglev_ms, r.tables,
		       bench_verdict(ms, TARGET_CHANGE_MS));
		config_free(cw);
		config_free(ca);
		bench_swap(&st, dp, m);
	} else {
		bench_rollback(&st, dp, cfg, m);
	}

	state_free(&st);
	dp_close(dp);
	config_free(cfg);
}

/* Median time of maglev_build for n backends with weights 1..wmax, a
 * new seed each run. */
static double bench_table(int n, __u32 m, __u32 wmax)
{
	struct maglev_backend *b = calloc((size_t)n, sizeof(*b));
	struct maglev_backend *work = calloc((size_t)n, sizeof(*b));
	__u32 *table = malloc((size_t)m * sizeof(*table));
	double t[BENCH_TABLE_RUNS], t0;
	int i, err;

	if (!b || !work || !table)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		b[i].family = LBD_AF_INET;
		b[i].addr.v4 = htonl(0xc6120000u + (__u32)i); /* 198.18/16 */
		b[i].port = htons(80);
		b[i].weight = 1 + (__u32)i % wmax;
		b[i].id = (__u32)i;
	}
	for (i = 0; i < BENCH_TABLE_RUNS; i++) {
		/* maglev_build sorts its input: give it the same each run */
		memcpy(work, b, (size_t)n * sizeof(*b));
		t0 = bench_now_ms();
		err = maglev_build(work, (size_t)n, m, BENCH_SEED + (__u32)i,
				   table);
		t[i] = bench_now_ms() - t0;
		if (err)
			fatalx("maglev_build: %s", strerror(-err));
	}
	free(b);
	free(work);
	free(table);
	return bench_median(t, BENCH_TABLE_RUNS);
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"usage: lbd-bench-apply [-m size]...\n"
		"  -m  maglev_table_size of (a), a prime; again for more "
		"runs of (a), (b) at\n"
		"      the first (default: none set, the default size "
		"%u)\n",
		LBD_DEFAULT_MAGLEV_SIZE);
}

int main(int argc, char **argv)
{
	__u32 sizes[8];
	int opt, n = 0, i;
	double ms;

	while ((opt = getopt(argc, argv, "m:h")) != -1) {
		switch (opt) {
		case 'm':
			if (n == (int)(sizeof(sizes) / sizeof(sizes[0]))) {
				bench_usage(stderr);
				return 2;
			}
			/* the config checks it: a prime in range */
			sizes[n++] = (__u32)strtoul(optarg, NULL, 0);
			break;
		case 'h':
			bench_usage(stdout);
			return 0;
		default:
			bench_usage(stderr);
			return 2;
		}
	}
	if (!n)
		sizes[n++] = 0;

	log_init("lbd-bench-apply", 0);
	dp_log_route();
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < n; i++)
		bench_full(sizes[i], i == 0);

	printf("(c) build one Maglev table, median of %d runs\n",
	       BENCH_TABLE_RUNS);
	ms = bench_table(BENCH_TABLE_BACKENDS, 65537, 1);
	printf("    M 65537, %4d backends, equal weights  %7.3f ms   "
	       "target < %.0f ms: %s\n",
	       BENCH_TABLE_BACKENDS, ms, TARGET_TABLE_MS,
	       bench_verdict(ms, TARGET_TABLE_MS));
	printf("    M 65537, %4d backends, weights 1-4    %7.3f ms\n",
	       BENCH_TABLE_BACKENDS,
	       bench_table(BENCH_TABLE_BACKENDS, 65537, 4));
	printf("    M 65537, %4d backends, equal weights  %7.3f ms   "
	       "(one table of (a) at -m 65537)\n",
	       BENCH_BACKENDS, bench_table(BENCH_BACKENDS, 65537, 1));
	printf("    M %5u, %4d backends, equal weights  %7.3f ms   "
	       "(one table of (a), the default size)\n",
	       LBD_DEFAULT_MAGLEV_SIZE, BENCH_BACKENDS,
	       bench_table(BENCH_BACKENDS, LBD_DEFAULT_MAGLEV_SIZE, 1));
	return 0;
}
