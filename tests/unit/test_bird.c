// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bgp/: BIRD's control protocol (reply codes, continuation lines,
 * asynchronous messages, errors), the include file lbd writes (checked by
 * BIRD's own parser) and the announcer against a BIRD stand-in on a Unix
 * socket: "configure" after every change and again after a reconnect.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bird.h"

/* -- lines -------------------------------------------------------------- */

Test(bird, reply_line_with_more_to_come)
{
	struct bird_line l;

	cr_assert_eq(bird_parse_line("1002-lbd4       Static     master4", &l),
		     0);
	cr_assert_eq(l.type, BIRD_LINE_REPLY);
	cr_assert_eq(l.code, 1002);
	cr_assert_not(l.last);
	cr_assert_str_eq(l.text, "lbd4       Static     master4");
}

Test(bird, last_line_of_a_reply)
{
	struct bird_line l;

	cr_assert_eq(bird_parse_line("0001 BIRD 2.0.12 ready.", &l), 0);
	cr_assert_eq(l.type, BIRD_LINE_REPLY);
	cr_assert_eq(l.code, 1);
	cr_assert(l.last);
	cr_assert_str_eq(l.text, "BIRD 2.0.12 ready.");
	cr_assert_eq(bird_parse_line("0000 ", &l), 0);
	cr_assert_eq(l.code, 0);
	cr_assert(l.last);
	cr_assert_str_eq(l.text, "");
}

Test(bird, continuation_and_async_lines)
{
	struct bird_line l;

	cr_assert_eq(bird_parse_line(" \tPreference:     200", &l), 0);
	cr_assert_eq(l.type, BIRD_LINE_CONT);
	cr_assert_str_eq(l.text, "\tPreference:     200");
	cr_assert_eq(bird_parse_line("+Reconfiguration done", &l), 0);
	cr_assert_eq(l.type, BIRD_LINE_ASYNC);
	cr_assert_str_eq(l.text, "Reconfiguration done");
}

Test(bird, malformed_lines_are_rejected)
{
	static const char *const bad[] = { "",	       "abc",	  "12 x",
					   "0001x ok", "00012 x", "1a02 x",
					   "0001",     "-001 x" };
	struct bird_line l;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(bird_parse_line(bad[i], &l), -EINVAL, "\"%s\"",
			     bad[i]);
}

Test(bird, error_codes)
{
	cr_assert_not(bird_code_is_error(3));
	cr_assert_not(bird_code_is_error(1002));
	cr_assert_not(bird_code_is_error(2002));
	cr_assert(bird_code_is_error(8002));
	cr_assert(bird_code_is_error(9001));
}

/* -- replies ------------------------------------------------------------ */

static int feed_all(struct bird_reply *r, const char *const *lines)
{
	int ret = 0;

	for (; *lines; lines++) {
		ret = bird_reply_feed(r, *lines);
		if (ret)
			return ret;
	}
	return ret;
}

Test(bird, multi_line_reply_ends_with_its_last_line)
{
	struct bird_reply r = { 0 };

	cr_assert_eq(bird_reply_feed(&r, "0002-Reading configuration from "
					 "/etc/bird/bird.conf"),
		     0);
	cr_assert_eq(bird_reply_feed(&r, " and more of it"), 0);
	cr_assert_eq(bird_reply_feed(&r, "+an async message in between"), 0);
	cr_assert_not(r.done);
	cr_assert_eq(bird_reply_feed(&r, "0003 Reconfigured"), 1);
	cr_assert(r.done);
	cr_assert_eq(r.code, 3);
	cr_assert_eq(r.error, 0);
	cr_assert_str_eq(r.text, "Reconfigured");
}

Test(bird, a_table_reply)
{
	static const char *const lines[] = {
		"2002-Name       Proto      Table      State  Since         Info",
		"1002-lbd4       Static     master4    up     12:00:00.000",
		" lbd6       Static     master6    up     12:00:00.000",
		"0000 ",
		NULL,
	};
	struct bird_reply r = { 0 };

	cr_assert_eq(feed_all(&r, lines), 1);
	cr_assert_eq(r.code, 0);
	cr_assert_eq(r.error, 0);
}

Test(bird, an_error_reply_keeps_the_first_error)
{
	static const char *const lines[] = {
		"0002-Reading configuration from /etc/bird/bird.conf",
		"8002 /run/lbd/bird/vips.conf, line 3: syntax error",
		NULL,
	};
	struct bird_reply r = { 0 };

	cr_assert_eq(feed_all(&r, lines), 1);
	cr_assert_eq(r.error, 8002);
	cr_assert_str_eq(r.text, "/run/lbd/bird/vips.conf, line 3: syntax "
				 "error");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(bird_reply_feed(&r, "9001 Parse error"), 1);
	cr_assert_eq(r.error, 9001);
}

Test(bird, protocol_violations)
{
	struct bird_reply r = { 0 };

	cr_assert_eq(bird_reply_feed(&r, " a continuation of nothing"),
		     -EINVAL);
	cr_assert_eq(bird_reply_feed(&r, "0003 Reconfigured"), 1);
	cr_assert_eq(bird_reply_feed(&r, "0003 one more"), -EINVAL,
		     "a line after the reply's last");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(bird_reply_feed(&r, "garbage"), -EINVAL);
}

/* -- the include file ---------------------------------------------------- */

static struct bird_route route4(const char *a)
{
	struct bird_route r = { .family = LBD_AF_INET };

	cr_assert_eq(inet_pton(AF_INET, a, &r.addr.v4), 1);
	r.attrs.announce = true;
	r.attrs.min_healthy = 1;
	return r;
}

Test(bird, render_with_every_attribute)
{
	struct bird_route r[2] = { route4("203.0.113.10") };
	char *text;

	r[0].attrs.n_communities = 1;
	r[0].attrs.communities[0][0] = 65001;
	r[0].attrs.communities[0][1] = 100;
	r[0].attrs.n_large = 1;
	r[0].attrs.large[0][0] = 65001;
	r[0].attrs.large[0][1] = 1;
	r[0].attrs.large[0][2] = 10;
	r[0].attrs.has_med = true;
	r[0].attrs.med = 10;
	r[0].attrs.has_local_pref = true;
	r[0].attrs.local_pref = 200;
	r[0].attrs.prepend = 2;
	r[1].family = LBD_AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:f::10", &r[1].addr), 1);
	cr_assert_eq(bird_render(r, 2, 65001, true, &text), 0);
	cr_assert_str_eq(
		text,
		"# The VIPs this LB host announces, written by lbd (see "
		"lbd.conf(5), bgp).\n"
		"# Do not edit: lbd replaces this file whenever they change.\n"
		"# lbd is stopping: graceful shutdown (RFC 8326) before the "
		"withdraw.\n"
		"protocol static lbd4 {\n"
		"\tipv4;\n"
		"\troute 203.0.113.10/32 blackhole {\n"
		"\t\tbgp_community.add((65001, 100));\n"
		"\t\tbgp_community.add((65535, 0));\n"
		"\t\tbgp_large_community.add((65001, 1, 10));\n"
		"\t\tlbd_med = 10;\n"
		"\t\tbgp_local_pref = 200;\n"
		"\t\tbgp_path.prepend(65001);\n"
		"\t\tbgp_path.prepend(65001);\n"
		"\t};\n"
		"}\n"
		"protocol static lbd6 {\n"
		"\tipv6;\n"
		"\troute 2001:db8:f::10/128 blackhole {\n"
		"\t\tbgp_community.add((65535, 0));\n"
		"\t};\n"
		"}\n");
	free(text);
}

static char dir[64];

static void tmp_make(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lbd-unit-bird-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void tmp_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* BIRD's own parser (bird -p) takes what lbd writes. */
Test(bird, bird_parses_the_include_file, .init = tmp_make, .fini = tmp_remove)
{
	struct bird_route r[2] = { route4("203.0.113.10"),
				   route4("203.0.113.11") };
	char path[128], conf[128], cmd[512], *text;
	FILE *f;

	r[0].attrs.n_communities = 1;
	r[0].attrs.communities[0][0] = 65001;
	r[0].attrs.communities[0][1] = 7;
	r[1].attrs.n_large = 1;
	r[1].attrs.large[0][0] = 4200000000u;
	r[1].attrs.has_med = true;
	r[1].attrs.has_local_pref = true;
	r[1].attrs.local_pref = 50;
	r[1].attrs.prepend = 3;
	snprintf(path, sizeof(path), "%s/sub/vips.conf", dir);
	cr_assert_eq(bird_render(r, 2, 65001, true, &text), 0);
	cr_assert_eq(bird_write_file(path, text), 0, "the directory is made");
	free(text);
	snprintf(conf, sizeof(conf), "%s/bird.conf", dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"router id 192.0.2.1;\nattribute int lbd_med;\n"
		"protocol device {}\n"
		"include \"%s/su[b]/vips.conf\";\n"
		"protocol bgp r1 { local as 65001; neighbor 192.0.2.2 as "
		"65000; ipv4 { import none; export where proto = "
		"\"lbd4\"; }; }\n",
		dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "bird -p -c %s", conf);
	cr_assert_eq(system(cmd), 0, "bird -p rejected the file");
	/* and a mistake would have been noticed */
	f = fopen(path, "a");
	fprintf(f, "protocol static lbd4 { ipv4; }\n");
	fclose(f);
	cr_assert_neq(system(cmd), 0, "bird -p took a duplicate protocol");
}

/* BIRD runs as a user of its own: the file and the directories lbd makes
 * for it are readable whatever lbd's umask (systemd's UMask=0077). */
Test(bird, the_file_is_readable_whatever_the_umask, .init = tmp_make,
     .fini = tmp_remove)
{
	char path[256], sub[128];
	struct stat st;
	mode_t old = umask(077);

	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	snprintf(path, sizeof(path), "%s/vips.conf", sub);
	cr_assert_eq(bird_write_file(path, "# nothing\n"), 0);
	umask(old);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "file mode %o", st.st_mode);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0755, "directory mode %o", st.st_mode);
}

/* -- the announcer against a BIRD stand-in ------------------------------- */

struct fake_bird {
	sd_event *ev;
	int lfd, cfd;
	sd_event_source *accept_src, *conn_src;
	unsigned int configures;
	bool refuse; /* answer with an 8xxx error */
	char got[256];
};

static int fake_read(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct fake_bird *fb = arg;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	const char *ok = "0002-Reading configuration from /etc/bird.conf\n"
			 "0003 Reconfigured\n";
	const char *bad = "0002-Reading configuration from /etc/bird.conf\n"
			  "8002 /run/lbd/bird/vips.conf, line 1: syntax "
			  "error\n";

	(void)revents;
	if (n <= 0) {
		fb->conn_src = sd_event_source_disable_unref(s);
		close(fd);
		fb->cfd = -1;
		return 0;
	}
	buf[n] = '\0';
	snprintf(fb->got, sizeof(fb->got), "%s", buf);
	if (!strcmp(buf, "configure\n")) {
		fb->configures++;
		cr_assert_gt(write(fd, fb->refuse ? bad : ok,
				   strlen(fb->refuse ? bad : ok)),
			     0);
	}
	return 0;
}

static int fake_accept(sd_event_source *s, int fd, uint32_t revents, void *arg)
{
	struct fake_bird *fb = arg;
	static const char hello[] = "0001 BIRD 2.0.12 ready.\n";

	(void)s;
	(void)revents;
	fb->cfd = accept(fd, NULL, NULL);
	cr_assert_geq(fb->cfd, 0);
	cr_assert_eq(write(fb->cfd, hello, strlen(hello)),
		     (ssize_t)strlen(hello));
	cr_assert_geq(sd_event_add_io(fb->ev, &fb->conn_src, fb->cfd, EPOLLIN,
				      fake_read, fb),
		      0);
	return 0;
}

static void fake_start(struct fake_bird *fb, sd_event *ev, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(fb, 0, sizeof(*fb));
	fb->ev = ev;
	fb->cfd = -1;
	fb->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	cr_assert_eq(bind(fb->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fb->lfd, 4), 0);
	cr_assert_geq(sd_event_add_io(ev, &fb->accept_src, fb->lfd, EPOLLIN,
				      fake_accept, fb),
		      0);
}

/* BIRD goes away (a restart): the connection closes. */
static void fake_drop_connection(struct fake_bird *fb)
{
	fb->conn_src = sd_event_source_disable_unref(fb->conn_src);
	if (fb->cfd >= 0)
		close(fb->cfd);
	fb->cfd = -1;
}

static void fake_stop(struct fake_bird *fb)
{
	fake_drop_connection(fb);
	sd_event_source_disable_unref(fb->accept_src);
	close(fb->lfd);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static bool run_until(sd_event *ev, bool (*cond)(void *), void *arg,
		      double timeout)
{
	double end = now_s() + timeout;

	while (!cond(arg) && now_s() < end)
		sd_event_run(ev, 20 * 1000);
	return cond(arg);
}

struct announced {
	struct bird_announcer *a;
	int done;
};

static void on_done(void *arg)
{
	((struct announced *)arg)->done++;
}

static bool is_current(void *arg)
{
	struct bird_status st;

	bird_announcer_status(((struct announced *)arg)->a, &st);
	return st.current;
}

static bool has_done(void *arg)
{
	return ((struct announced *)arg)->done > 0;
}

static bool configured_twice(void *arg)
{
	return ((struct fake_bird *)arg)->configures == 2;
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A BIRD stand-in and an announcer connected to it, in dir. */
struct rig {
	sd_event *ev;
	struct fake_bird fb;
	struct announced an;
	char sock[128], file[128];
};

static void rig_up(struct rig *g)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->sock, sizeof(g->sock), "%s/bird.ctl", dir);
	snprintf(g->file, sizeof(g->file), "%s/run/vips.conf", dir);
	cr_assert_geq(sd_event_new(&g->ev), 0);
	fake_start(&g->fb, g->ev, g->sock);
	cr_assert_eq(bird_announcer_new(g->ev, g->sock, g->file, &g->an.a), 0);
}

static void rig_down(struct rig *g)
{
	bird_announcer_free(g->an.a);
	fake_stop(&g->fb);
	sd_event_unref(g->ev);
}

Test(bird, announcer_configures_after_each_change_and_reconnect,
     .init = tmp_make, .fini = tmp_remove)
{
	struct bird_route r = route4("203.0.113.10");
	struct bird_status st;
	struct rig g;

	rig_up(&g);

	/* a VIP: the file has it, BIRD is told, done follows */
	cr_assert_eq(bird_announce(g.an.a, &r, 1, 0, false, on_done, &g.an), 0);
	cr_assert(strstr(read_text(g.file), "route 203.0.113.10/32 blackhole"));
	cr_assert(run_until(g.ev, has_done, &g.an, 5), "BIRD never took it");
	cr_assert_eq(g.fb.configures, 1);
	cr_assert_str_eq(g.fb.got, "configure\n");

	/* the same again: nothing to tell */
	cr_assert_eq(bird_announce(g.an.a, &r, 1, 0, false, NULL, NULL), 0);
	bird_announcer_status(g.an.a, &st);
	cr_assert(st.current);
	cr_assert_eq(g.fb.configures, 1);

	/* BIRD restarts: lbd connects again and configures again */
	fake_drop_connection(&g.fb);
	cr_assert(run_until(g.ev, configured_twice, &g.fb, 5),
		  "not configured after the reconnect");
	cr_assert(run_until(g.ev, is_current, &g.an, 5));

	/* withdrawn: an empty file, configured */
	g.an.done = 0;
	cr_assert_eq(bird_announce(g.an.a, NULL, 0, 0, false, on_done, &g.an),
		     0);
	cr_assert_null(strstr(read_text(g.file), "route "));
	cr_assert(run_until(g.ev, has_done, &g.an, 5));
	cr_assert_eq(g.fb.configures, 3);

	/* BIRD refuses: not current, the error kept */
	g.fb.refuse = true;
	cr_assert_eq(bird_announce(g.an.a, &r, 1, 0, false, NULL, NULL), 0);
	run_until(g.ev, is_current, &g.an, 0.5);
	bird_announcer_status(g.an.a, &st);
	cr_assert_not(st.current);
	cr_assert_eq(st.errors, 1);
	cr_assert(strstr(st.last_error, "8002"), "%s", st.last_error);

	rig_down(&g);
}

/* BIRD goes away while lbd has not yet read the end of the connection, and
 * lbd writes to it: an error that reconnects, not a SIGPIPE that kills the
 * daemon. */
Test(bird, writing_to_a_bird_that_went_away_reconnects, .init = tmp_make,
     .fini = tmp_remove)
{
	struct bird_route r = route4("203.0.113.10");
	struct rig g;

	rig_up(&g);
	cr_assert_eq(bird_announce(g.an.a, &r, 1, 0, false, on_done, &g.an), 0);
	cr_assert(run_until(g.ev, has_done, &g.an, 5), "BIRD never took it");

	/* the peer's end closed; the announcer has not run since */
	fake_drop_connection(&g.fb);
	cr_assert_eq(bird_announce(g.an.a, NULL, 0, 0, false, NULL, NULL), 0);
	cr_assert_eq(bird_announce(g.an.a, &r, 1, 0, false, NULL, NULL), 0);
	cr_assert(run_until(g.ev, configured_twice, &g.fb, 5),
		  "not configured after the reconnect: %u", g.fb.configures);
	cr_assert(run_until(g.ev, is_current, &g.an, 5));
	cr_assert(strstr(read_text(g.file), "route 203.0.113.10/32 blackhole"));

	rig_down(&g);
}
