// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * kubeconfig reading (kubeconfig.h) with libyaml's document loader; the
 * -data settings are base64 (OpenSSL's decoder, which libcurl's TLS
 * already brings into the process).
 */
#include "kubeconfig.h"

#include <errno.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct kc_ctx {
	yaml_document_t *doc;
	const char *path;
	kubeconfig_read_fn rd;
	void *rd_arg;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int
kc_err(struct kc_ctx *x, const yaml_node_t *n, const char *setting,
       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s:%zu: %s: %s", x->path,
		 n ? n->start_mark.line + 1 : 1, setting, msg);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
						: NULL;
}

/* A mapping's value by key, or NULL. */
static yaml_node_t *member(struct kc_ctx *x, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(x->doc, p->key));

		if (k && !strcmp(k, key))
			return yaml_document_get_node(x->doc, p->value);
	}
	return NULL;
}

/* clusters/contexts/users: the entry named name, its inner mapping
 * (cluster/context/user) in *inner. */
static int named(struct kc_ctx *x, yaml_node_t *root, const char *list,
		 const char *inner_key, const char *name, yaml_node_t **inner,
		 const yaml_node_t *ref, const char *ref_setting)
{
	yaml_node_t *l = member(x, root, list);
	yaml_node_item_t *it;

	if (l && l->type == YAML_SEQUENCE_NODE)
		for (it = l->data.sequence.items.start;
		     it < l->data.sequence.items.top; it++) {
			yaml_node_t *e = yaml_document_get_node(x->doc, *it);
			const char *n = scalar(member(x, e, "name"));
			char setting[320];

			if (!n || strcmp(n, name))
				continue;
			*inner = member(x, e, inner_key);
			snprintf(setting, sizeof(setting), "%s[%s].%s", list,
				 name, inner_key);
			if (!*inner || (*inner)->type != YAML_MAPPING_NODE)
				return kc_err(x, e, setting,
					      "expected a mapping");
			return 0;
		}
	return kc_err(x, ref, ref_setting, "no %.*s named \"%s\"",
		      (int)strlen(list) - 1, list, name);
}

static int copy(struct kc_ctx *x, const yaml_node_t *n, const char *setting,
		char *dst, size_t size)
{
	const char *v = scalar(n);

	if (!v)
		return kc_err(x, n, setting, "expected a string");
	if (strlen(v) >= size)
		return kc_err(x, n, setting, "longer than %zu characters",
			      size - 1);
	strcpy(dst, v);
	return 0;
}

/* A file name as kubectl resolves it: relative to the kubeconfig. */
static void resolve(const char *kc_path, const char *name, char *out,
		    size_t len)
{
	char dir[PATH_MAX];

	if (name[0] == '/') {
		snprintf(out, len, "%s", name);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", kc_path);
	snprintf(out, len, "%s/%s", dirname(dir), name);
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (!f)
		return -errno;
	do {
		if (n + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int file_reader(const char *path, char **out, size_t *len, void *arg)
{
	(void)arg;
	return read_file(path, out, len);
}

static int base64(const char *in, char **out, size_t *len)
{
	size_t n = strlen(in);
	EVP_ENCODE_CTX *c = EVP_ENCODE_CTX_new();
	unsigned char *buf = malloc(n / 4 * 3 + 8);
	int a = 0, b = 0;

	if (!c || !buf) {
		EVP_ENCODE_CTX_free(c);
		free(buf);
		return -ENOMEM;
	}
	EVP_DecodeInit(c);
	if (EVP_DecodeUpdate(c, buf, &a, (const unsigned char *)in, (int)n) <
		    0 ||
	    EVP_DecodeFinal(c, buf + a, &b) < 0) {
		EVP_ENCODE_CTX_free(c);
		free(buf);
		return -EINVAL;
	}
	EVP_ENCODE_CTX_free(c);
	buf[a + b] = '\0';
	*out = (char *)buf;
	*len = (size_t)(a + b);
	return 0;
}

/* PEM from "<name>-data" (base64) or "<name>" (a file) of map. */
static int pem(struct kc_ctx *x, yaml_node_t *map, const char *prefix,
	       const char *name, char **out, size_t *len)
{
	char key[64], setting[384], file[PATH_MAX];
	yaml_node_t *n;
	const char *v;
	int r;

	snprintf(key, sizeof(key), "%s-data", name);
	n = member(x, map, key);
	if (n) {
		snprintf(setting, sizeof(setting), "%s.%s", prefix, key);
		v = scalar(n);
		if (!v)
			return kc_err(x, n, setting, "expected a string");
		r = base64(v, out, len);
		if (r == -EINVAL)
			return kc_err(x, n, setting, "not base64");
		return r;
	}
	n = member(x, map, name);
	if (!n)
		return 0;
	snprintf(setting, sizeof(setting), "%s.%s", prefix, name);
	v = scalar(n);
	if (!v || !*v)
		return kc_err(x, n, setting, "expected a file name");
	resolve(x->path, v, file, sizeof(file));
	r = x->rd(file, out, len, x->rd_arg);
	if (r)
		return kc_err(x, n, setting, "%s: %s", file, strerror(-r));
	return 0;
}

static int load_cluster(struct kc_ctx *x, yaml_node_t *c,
			struct kubeconfig *kc)
{
	char prefix[320];
	yaml_node_t *n;
	const char *v;
	int r;

	snprintf(prefix, sizeof(prefix), "clusters[%s].cluster", kc->cluster);
	n = member(x, c, "server");
	if (!n)
		return kc_err(x, c, prefix, "server is required");
	r = copy(x, n, "server", kc->server, sizeof(kc->server));
	if (r)
		return r;
	if (strncmp(kc->server, "https://", 8) &&
	    strncmp(kc->server, "http://", 7))
		return kc_err(x, n, "server",
			      "\"%s\" is not an http(s):// URL", kc->server);
	while (kc->server[0] && kc->server[strlen(kc->server) - 1] == '/')
		kc->server[strlen(kc->server) - 1] = '\0';
	n = member(x, c, "insecure-skip-tls-verify");
	v = scalar(n);
	if (n && (!v || (strcmp(v, "true") && strcmp(v, "false"))))
		return kc_err(x, n, "insecure-skip-tls-verify",
			      "expected true or false");
	kc->insecure = v && !strcmp(v, "true");
	return pem(x, c, prefix, "certificate-authority", &kc->ca,
		   &kc->ca_len);
}

static int load_user(struct kc_ctx *x, yaml_node_t *u, struct kubeconfig *kc)
{
	static const char *const unsupported[] = { "exec", "auth-provider",
						   "username", "password",
						   NULL };
	const char *const *k;
	char prefix[320], setting[384], file[PATH_MAX];
	yaml_node_t *n;
	int r;

	snprintf(prefix, sizeof(prefix), "users[%s].user", kc->user);
	for (k = unsupported; *k; k++) {
		n = member(x, u, *k);
		if (n) {
			snprintf(setting, sizeof(setting), "%s.%s", prefix, *k);
			return kc_err(x, n, setting,
				      "not supported by lbd: give a client "
				      "certificate or a token");
		}
	}
	r = pem(x, u, prefix, "client-certificate", &kc->cert, &kc->cert_len);
	if (!r)
		r = pem(x, u, prefix, "client-key", &kc->key, &kc->key_len);
	if (r)
		return r;
	if (!kc->cert != !kc->key)
		return kc_err(x, u, prefix,
			      "client-certificate and client-key go together");
	n = member(x, u, "token");
	if (n) {
		const char *v = scalar(n);

		snprintf(setting, sizeof(setting), "%s.token", prefix);
		if (!v || !*v)
			return kc_err(x, n, setting, "expected a string");
		kc->token = strdup(v);
		if (!kc->token)
			return -ENOMEM;
	}
	n = member(x, u, "tokenFile");
	if (n) {
		const char *v = scalar(n);
		char *t;
		size_t len;

		snprintf(setting, sizeof(setting), "%s.tokenFile", prefix);
		if (!v || !*v)
			return kc_err(x, n, setting, "expected a file name");
		resolve(x->path, v, file, sizeof(file));
		/* read now, so that a missing file is said at (re)load */
		r = x->rd(file, &t, &len, x->rd_arg);
		if (r)
			return kc_err(x, n, setting, "%s: %s", file,
				      strerror(-r));
		snprintf(kc->token_file, sizeof(kc->token_file), "%s", file);
		if (x->rd != file_reader) {
			kc->token_data = t;
			kc->token_given = true;
		} else {
			explicit_bzero(t, len);
			free(t);
		}
	}
	return 0;
}

int kubeconfig_load(const char *path, const char *context,
		    struct kubeconfig *kc, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int r;

	memset(kc, 0, sizeof(*kc));
	r = read_file(path, &text, &len);
	if (r) {
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = kubeconfig_parse(path, text, len, context, file_reader, NULL, kc,
			     err, errlen);
	free(text);
	return r;
}

int kubeconfig_parse(const char *path, const char *text, size_t len,
		     const char *context, kubeconfig_read_fn rd, void *arg,
		     struct kubeconfig *kc, char *err, size_t errlen)
{
	struct kc_ctx x = { .path = path,
			    .rd = rd,
			    .rd_arg = arg,
			    .err = err,
			    .errlen = errlen };
	yaml_node_t *root, *n, *ctx, *cl, *us;
	yaml_document_t doc;
	yaml_parser_t p;
	int r;

	memset(kc, 0, sizeof(*kc));
	snprintf(kc->path, sizeof(kc->path), "%s", path);
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		snprintf(err, errlen, "%s:%zu: syntax: %s", path,
			 p.problem_mark.line + 1,
			 p.problem ? p.problem : "invalid YAML");
		yaml_parser_delete(&p);
		return -EINVAL;
	}
	yaml_parser_delete(&p);
	x.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = kc_err(&x, root, "kubeconfig", "expected a mapping");
		goto out;
	}
	if (context && *context) {
		snprintf(kc->context, sizeof(kc->context), "%s", context);
		n = NULL;
	} else {
		n = member(&x, root, "current-context");
		if (!n || !scalar(n) || !*scalar(n)) {
			r = kc_err(&x, n ? n : root, "current-context",
				   "none set: name one with "
				   "kubernetes.context");
			goto out;
		}
		r = copy(&x, n, "current-context", kc->context,
			 sizeof(kc->context));
		if (r)
			goto out;
	}
	r = named(&x, root, "contexts", "context", kc->context, &ctx, n ? n
									: root,
		  n ? "current-context" : "contexts");
	if (r)
		goto out;
	n = member(&x, ctx, "cluster");
	if (!n) {
		r = kc_err(&x, ctx, "context", "cluster is required");
		goto out;
	}
	r = copy(&x, n, "context.cluster", kc->cluster, sizeof(kc->cluster));
	if (!r)
		r = named(&x, root, "clusters", "cluster", kc->cluster, &cl, n,
			  "context.cluster");
	if (!r)
		r = load_cluster(&x, cl, kc);
	if (r)
		goto out;
	n = member(&x, ctx, "user");
	if (n) {
		r = copy(&x, n, "context.user", kc->user, sizeof(kc->user));
		if (!r)
			r = named(&x, root, "users", "user", kc->user, &us, n,
				  "context.user");
		if (!r)
			r = load_user(&x, us, kc);
	}
out:
	yaml_document_delete(&doc);
	if (r)
		kubeconfig_free(kc);
	return r;
}

void kubeconfig_free(struct kubeconfig *kc)
{
	free(kc->ca);
	free(kc->cert);
	free(kc->key);
	free(kc->token);
	if (kc->token_data)
		explicit_bzero(kc->token_data, strlen(kc->token_data));
	free(kc->token_data);
	kc->ca = kc->cert = kc->key = kc->token = kc->token_data = NULL;
}

static bool blob_eq(const char *a, size_t al, const char *b, size_t bl)
{
	return al == bl && (!al || !memcmp(a, b, al)) && !a == !b;
}

bool kubeconfig_same(const struct kubeconfig *a, const struct kubeconfig *b)
{
	return !strcmp(a->server, b->server) && a->insecure == b->insecure &&
	       blob_eq(a->ca, a->ca_len, b->ca, b->ca_len) &&
	       blob_eq(a->cert, a->cert_len, b->cert, b->cert_len) &&
	       blob_eq(a->key, a->key_len, b->key, b->key_len) &&
	       !a->token == !b->token &&
	       (!a->token || !strcmp(a->token, b->token)) &&
	       !strcmp(a->token_file, b->token_file);
}

int kubeconfig_token(const struct kubeconfig *kc, char **out, char *err,
		     size_t errlen)
{
	size_t len;
	int r;

	*out = NULL;
	if (kc->token_given) {
		/* what the privileged process read last (it follows the
		 * file's rotation) */
		*out = strdup(kc->token_data ? kc->token_data : "");
		if (!*out)
			return -ENOMEM;
		len = strlen(*out);
		while (len &&
		       ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r' ||
			(*out)[len - 1] == ' '))
			(*out)[--len] = '\0';
		return 0;
	}
	if (kc->token_file[0]) {
		r = read_file(kc->token_file, out, &len);
		if (r) {
			snprintf(err, errlen, "%s: %s", kc->token_file,
				 strerror(-r));
			return r;
		}
		/* a file's final newline is no part of the token */
		while (len && ((*out)[len - 1] == '\n' ||
			       (*out)[len - 1] == '\r' || (*out)[len - 1] == ' '))
			(*out)[--len] = '\0';
		return 0;
	}
	if (kc->token) {
		*out = strdup(kc->token);
		return *out ? 0 : -ENOMEM;
	}
	return 0;
}
