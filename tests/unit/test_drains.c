// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/drains: the runtime drains' file, and which backends a drain
 * holds. (That they reach the maps and survive restarts is tested in
 * the lab, tests/integration/test_lbctl.py.) */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drains.h"

static struct drain parse(const char *line)
{
	struct drain d;

	cr_assert_eq(drain_parse(line, &d), 0, "%s", line);
	return d;
}

static void roundtrip(const char *line)
{
	struct drain d = parse(line);
	char out[256];

	drain_format(&d, out, sizeof(out));
	cr_assert_str_eq(out, line);
}

Test(drains, lines_format_as_they_parse)
{
	roundtrip("198.18.1.11 0");
	roundtrip("198.18.1.11 80");
	roundtrip("2001:db8:1::11 8080 2001:db8:f::10 80 tcp");
	roundtrip("198.18.1.11 0 203.0.113.10 53 udp");
}

Test(drains, bad_lines_are_rejected)
{
	static const char *const bad[] = {
		"",
		"198.18.1.11",
		"198.18.1.300 0",
		"198.18.1.11 65536",
		"198.18.1.11 -1",
		"198.18.1.11 80 203.0.113.10 80",
		"198.18.1.11 80 203.0.113.10 0 tcp",
		"198.18.1.11 80 203.0.113.10 80 sctp",
		"198.18.1.11 80 203.0.113.10 80 tcp extra",
		"x 0",
	};
	struct drain d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_neq(drain_parse(bad[i], &d), 0, "accepted \"%s\"",
			      bad[i]);
}

Test(drains, a_broader_drain_covers_a_narrower_one_not_the_reverse)
{
	struct drain any = parse("198.18.1.11 0");
	struct drain port = parse("198.18.1.11 80");
	struct drain svc = parse("198.18.1.11 80 203.0.113.10 80 tcp");
	struct drain other = parse("198.18.1.12 0");

	cr_assert(drain_covers(&any, &port));
	cr_assert(drain_covers(&any, &svc));
	cr_assert(drain_covers(&port, &svc));
	cr_assert_not(drain_covers(&port, &any));
	cr_assert_not(drain_covers(&svc, &port));
	cr_assert_not(drain_covers(&any, &other));
	cr_assert(drain_covers(&svc, &svc));
}

Test(drains, a_drain_matches_backends_by_address_port_and_service)
{
	struct st_backend b = { .port = 80 };
	struct st_service web = { .name = "web" }, dns = { .name = "dns" };
	struct drain svc = parse("198.18.1.11 0 203.0.113.10 80 tcp");
	struct drain port = parse("198.18.1.11 8080");

	b.addr.family = LBD_AF_INET;
	inet_pton(AF_INET, "198.18.1.11", &b.addr.addr.v4);
	web.key.family = LBD_AF_INET;
	web.key.proto = IPPROTO_TCP;
	web.key.port = htons(80);
	inet_pton(AF_INET, "203.0.113.10", &web.key.vip.v4);
	dns.key = web.key;
	dns.key.proto = IPPROTO_UDP;
	cr_assert(drain_matches(&svc, &web, &b));
	cr_assert_not(drain_matches(&svc, &dns, &b));
	cr_assert_not(drain_matches(&port, &web, &b));
	b.port = 8080;
	cr_assert(drain_matches(&port, &dns, &b));
}

Test(drains, the_file_keeps_the_set_and_an_empty_set_removes_it)
{
	char dir[] = "/tmp/lbd-drains-XXXXXX", path[256];
	struct drain a = parse("198.18.1.11 0"), b = parse("2001:db8::1 80");
	struct drain_set s = { 0 }, t;

	cr_assert_not_null(mkdtemp(dir));
	drains_path(dir, path, sizeof(path));
	cr_assert_eq(drains_load(path, &t), 0, "no file: no drains");
	cr_assert_eq(t.n, 0);
	cr_assert_eq(drains_add(&s, &a), 0);
	cr_assert_eq(drains_add(&s, &b), 0);
	cr_assert_eq(drains_add(&s, &a), 0);
	cr_assert_eq(s.n, 2, "a drain is kept once");
	cr_assert_eq(drains_save(path, &s), 0);
	cr_assert_eq(drains_load(path, &t), 0);
	cr_assert_eq(t.n, 2);
	cr_assert(drain_covers(&t.d[0], &a) && drain_covers(&a, &t.d[0]));
	cr_assert(drain_covers(&t.d[1], &b) && drain_covers(&b, &t.d[1]));
	drains_free(&t);
	cr_assert_eq(drains_remove_covered(&s, &a), 1);
	cr_assert_eq(drains_remove_covered(&s, &b), 1);
	cr_assert_eq(drains_save(path, &s), 0);
	cr_assert_eq(access(path, F_OK), -1, "empty: the file is gone");
	drains_free(&s);
	rmdir(dir);
}

Test(drains, a_damaged_file_is_reported_not_half_read)
{
	char path[] = "/tmp/lbd-drains-bad-XXXXXX";
	struct drain_set s;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fprintf(f, "# comment\n198.18.1.11 0\nnonsense\n");
	fclose(f);
	cr_assert_eq(drains_load(path, &s), -EINVAL);
	cr_assert_eq(s.n, 0);
	unlink(path);
}
