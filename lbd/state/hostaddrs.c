// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The LB host's addresses (hostaddrs.h), through getifaddrs(3). */
#include "hostaddrs.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int addr_cmp(const void *a, const void *b)
{
	return config_addr_cmp(a, b);
}

int hostaddrs_list(struct lbd_conf_addr **out, size_t *n)
{
	struct ifaddrs *ifa = NULL, *i;
	struct lbd_conf_addr *a = NULL;
	size_t cap = 0, k = 0, j;
	int err = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next)
		cap++;
	a = calloc(cap ? cap : 1, sizeof(*a));
	if (!a) {
		err = -ENOMEM;
		goto out;
	}
	for (i = ifa; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa)
			continue;
		if (sa->sa_family == AF_INET) {
			a[k].family = LBD_AF_INET;
			a[k].prefixlen = 32;
			memcpy(&a[k].addr,
			       &((const struct sockaddr_in *)sa)->sin_addr, 4);
			k++;
		} else if (sa->sa_family == AF_INET6) {
			a[k].family = LBD_AF_INET6;
			a[k].prefixlen = 128;
			memcpy(&a[k].addr,
			       &((const struct sockaddr_in6 *)sa)->sin6_addr,
			       16);
			k++;
		}
	}
	qsort(a, k, sizeof(*a), addr_cmp);
	for (j = 0, cap = 0; j < k; j++)
		if (!cap || addr_cmp(&a[cap - 1], &a[j]))
			a[cap++] = a[j];
	*out = a;
	*n = cap;
	a = NULL;
out:
	free(a);
	freeifaddrs(ifa);
	return err;
}
