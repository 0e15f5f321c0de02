/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A kubeconfig file read as kubectl reads it, for the one context lbd
 * uses: the cluster's server and CA (certificate-authority-data or
 * certificate-authority, or insecure-skip-tls-verify), the user's client
 * certificate and key (-data or file) and bearer token (token or
 * tokenFile). Relative file names are relative to the kubeconfig's
 * directory, as kubectl has them. Credential plugins (exec,
 * auth-provider) and basic auth are refused with a message saying so.
 *
 * Library code: 0 or a negative errno, with "file:line: setting:
 * message" in err.
 */
#ifndef LBD_KUBECONFIG_H
#define LBD_KUBECONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct kubeconfig {
	char path[PATH_MAX];
	char context[256], cluster[256], user[256];
	char server[1024]; /* https://host:port, without a trailing / */
	bool insecure; /* insecure-skip-tls-verify */
	/* PEM text, decoded from the -data settings or read from the files
	 * when loaded; NULL: not given */
	char *ca, *cert, *key;
	size_t ca_len, cert_len, key_len;
	char *token; /* token; NULL: none */
	char token_file[PATH_MAX]; /* tokenFile, read at each connection */
	/* tokenFile's contents as given (kubeconfig_parse's reader): used
	 * in place of reading the file, which the Kubernetes child cannot */
	char *token_data;
	bool token_given;
};

/* Reads a file the kubeconfig names (path resolved): *out malloc'd, NUL
 * after its len bytes. 0 or a negative errno. */
typedef int (*kubeconfig_read_fn)(const char *path, char **out, size_t *len,
				  void *arg);

/* Loads the context (NULL or "": current-context) of path. */
int kubeconfig_load(const char *path, const char *context,
		    struct kubeconfig *kc, char *err, size_t errlen);

/*
 * The same from the kubeconfig's text (len bytes, as read from path);
 * the files it names come from rd (the Kubernetes child has them as
 * bytes, from the privileged process), tokenFile's too (token_given).
 */
int kubeconfig_parse(const char *path, const char *text, size_t len,
		     const char *context, kubeconfig_read_fn rd, void *arg,
		     struct kubeconfig *kc, char *err, size_t errlen);
void kubeconfig_free(struct kubeconfig *kc);

/* Whether two loads give the same cluster and credentials. */
bool kubeconfig_same(const struct kubeconfig *a, const struct kubeconfig *b);

/*
 * The bearer token to send now: tokenFile's contents (re-read each time:
 * projected service account tokens are rotated), else token, else NULL.
 * 0 or a negative errno with the reason in err; *out is malloc'd.
 */
int kubeconfig_token(const struct kubeconfig *kc, char **out, char *err,
		     size_t errlen);

#endif /* LBD_KUBECONFIG_H */
