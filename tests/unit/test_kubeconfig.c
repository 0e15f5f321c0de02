// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lbd/k8s/kubeconfig.c: the kubeconfig as kubectl reads it, and every
 * problem as file:line: setting: message. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kubeconfig.h"

static char dir[] = "/tmp/lbd-kubeconfig-XXXXXX";
static char path[600];

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
}

static void teardown(void)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void put(const char *name, const char *text)
{
	char p[700];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* base64 of "-----BEGIN CERTIFICATE-----\nCA\n" and friends */
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg=="
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n"

static void expect_error(const char *yaml, const char *context,
			 const char *want)
{
	struct kubeconfig kc;
	char err[1024] = "", full[1200];

	put("config", yaml);
	cr_assert_eq(kubeconfig_load(path, context, &kc, err, sizeof(err)),
		     -EINVAL, "accepted; want %s", want);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	cr_assert_str_eq(err, full);
}

TestSuite(kubeconfig, .init = setup, .fini = teardown);

Test(kubeconfig, client_certificate_and_ca_data_of_the_current_context)
{
	struct kubeconfig kc;
	char err[512];

	put("config",
	    "apiVersion: v1\n"
	    "kind: Config\n"
	    "current-context: lb\n"
	    "clusters:\n"
	    "- name: other\n"
	    "  cluster: {server: https://198.18.9.9:6443}\n"
	    "- name: prod\n"
	    "  cluster:\n"
	    "    server: https://198.18.0.1:6443/\n"
	    "    certificate-authority-data: " CA_B64 "\n"
	    "contexts:\n"
	    "- name: lb\n"
	    "  context: {cluster: prod, user: lbd, namespace: edge}\n"
	    "users:\n"
	    "- name: lbd\n"
	    "  user:\n"
	    "    client-certificate-data: Q0VSVAo=\n"
	    "    client-key-data: S0VZCg==\n");
	cr_assert_eq(kubeconfig_load(path, NULL, &kc, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(kc.server, "https://198.18.0.1:6443");
	cr_assert_str_eq(kc.context, "lb");
	cr_assert_str_eq(kc.cluster, "prod");
	cr_assert_str_eq(kc.user, "lbd");
	cr_assert_str_eq(kc.ca, CA_PEM);
	cr_assert_eq(kc.ca_len, strlen(CA_PEM));
	cr_assert_str_eq(kc.cert, "CERT\n");
	cr_assert_str_eq(kc.key, "KEY\n");
	cr_assert_null(kc.token);
	cr_assert(!kc.insecure);
	kubeconfig_free(&kc);
}

Test(kubeconfig, files_are_relative_to_the_kubeconfig_and_context_chosen)
{
	struct kubeconfig kc;
	char err[512], *tok;

	put("ca.crt", CA_PEM);
	put("token", "s3cr3t\n");
	put("config",
	    "current-context: a\n"
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster:\n"
	    "    server: https://198.18.0.1:6443\n"
	    "    certificate-authority: ca.crt\n"
	    "contexts:\n"
	    "- {name: a, context: {cluster: c, user: static}}\n"
	    "- {name: b, context: {cluster: c, user: sa}}\n"
	    "users:\n"
	    "- {name: static, user: {token: abc}}\n"
	    "- {name: sa, user: {tokenFile: token}}\n");
	cr_assert_eq(kubeconfig_load(path, "b", &kc, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(kc.ca, CA_PEM);
	cr_assert_eq(kubeconfig_token(&kc, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "s3cr3t", "the file's newline is not in it");
	free(tok);
	/* a rotated token is read at the next connection */
	put("token", "rotated");
	cr_assert_eq(kubeconfig_token(&kc, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "rotated");
	free(tok);
	kubeconfig_free(&kc);

	cr_assert_eq(kubeconfig_load(path, NULL, &kc, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(kubeconfig_token(&kc, &tok, err, sizeof(err)), 0);
	cr_assert_str_eq(tok, "abc");
	free(tok);
	kubeconfig_free(&kc);
}

Test(kubeconfig, same_is_false_when_credentials_change)
{
	struct kubeconfig a, b;
	char err[512];
	const char *y = "current-context: a\n"
			"clusters: [{name: c, cluster: {server: "
			"'https://198.18.0.1:6443'}}]\n"
			"contexts: [{name: a, context: {cluster: c, user: u}}]\n"
			"users: [{name: u, user: {token: %s}}]\n";
	char text[512];

	snprintf(text, sizeof(text), y, "one");
	put("config", text);
	cr_assert_eq(kubeconfig_load(path, NULL, &a, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(kubeconfig_load(path, NULL, &b, err, sizeof(err)), 0);
	cr_assert(kubeconfig_same(&a, &b));
	kubeconfig_free(&b);
	snprintf(text, sizeof(text), y, "two");
	put("config", text);
	cr_assert_eq(kubeconfig_load(path, NULL, &b, err, sizeof(err)), 0);
	cr_assert(!kubeconfig_same(&a, &b));
	kubeconfig_free(&a);
	kubeconfig_free(&b);
}

#define HEAD                                                                   \
	"clusters:\n"                                                          \
	"- name: c\n"                                                          \
	"  cluster: {server: 'https://198.18.0.1:6443'}\n"                     \
	"contexts:\n"                                                          \
	"- {name: a, context: {cluster: c, user: u}}\n"

Test(kubeconfig, problems_name_file_line_and_setting)
{
	expect_error(HEAD "users: [{name: u, user: {token: x}}]\n", NULL,
		     "1: current-context: none set: name one with "
		     "kubernetes.context");
	expect_error(HEAD "users: [{name: u, user: {token: x}}]\n", "b",
		     "1: contexts: no context named \"b\"");
	expect_error("current-context: a\n"
		     "contexts:\n"
		     "- {name: a, context: {cluster: gone, user: u}}\n",
		     NULL,
		     "3: context.cluster: no cluster named \"gone\"");
	expect_error("current-context: a\n" HEAD
		     "users:\n"
		     "- name: u\n"
		     "  user:\n"
		     "    exec: {command: aws}\n",
		     NULL,
		     "10: users[u].user.exec: not supported by lbd: give a "
		     "client certificate or a token");
}

Test(kubeconfig, a_missing_file_is_named_with_its_setting)
{
	struct kubeconfig kc;
	char err[1024], want[1200];

	put("config", "current-context: a\n" HEAD
		      "users:\n"
		      "- name: u\n"
		      "  user:\n"
		      "    client-certificate: missing.crt\n"
		      "    client-key: missing.key\n");
	cr_assert_eq(kubeconfig_load(path, NULL, &kc, err, sizeof(err)),
		     -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:10: users[u].user.client-certificate: %s/missing.crt: "
		 "No such file or directory",
		 path, dir);
	cr_assert_str_eq(err, want);
}

Test(kubeconfig, syntax_errors_have_their_line)
{
	expect_error("current-context: a\nclusters: [\n  - {name: c\n", NULL,
		     "3: syntax: did not find expected node content");
}

Test(kubeconfig, bad_base64_and_bad_booleans_are_refused)
{
	expect_error("current-context: a\n"
		     "clusters:\n"
		     "- name: c\n"
		     "  cluster:\n"
		     "    server: https://198.18.0.1\n"
		     "    insecure-skip-tls-verify: maybe\n"
		     "contexts: [{name: a, context: {cluster: c}}]\n",
		     NULL,
		     "6: insecure-skip-tls-verify: expected true or false");
	expect_error("current-context: a\n"
		     "clusters:\n"
		     "- name: c\n"
		     "  cluster:\n"
		     "    server: https://198.18.0.1\n"
		     "    certificate-authority-data: '!!!!'\n"
		     "contexts: [{name: a, context: {cluster: c}}]\n",
		     NULL,
		     "6: clusters[c].cluster.certificate-authority-data: not "
		     "base64");
	expect_error("current-context: a\n"
		     "clusters: [{name: c, cluster: {server: 198.18.0.1}}]\n"
		     "contexts: [{name: a, context: {cluster: c}}]\n",
		     NULL,
		     "2: server: \"198.18.0.1\" is not an http(s):// URL");
}
