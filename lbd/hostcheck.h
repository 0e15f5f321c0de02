/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * lbd --check: the host facts a start would fail on, checked against a
 * config that parsed: the interfaces it names exist, the pin path can hold
 * a BPF filesystem, BIRD's control socket is there.
 */
#ifndef LBD_HOSTCHECK_H
#define LBD_HOSTCHECK_H

#include <stdio.h>

#include "config.h"

/* Writes one "FILE: setting: message" line per problem to out; returns
 * how many would stop a start (warnings, such as BIRD not running yet,
 * are written and not counted). */
int hostcheck(const struct lbd_config *c, FILE *out);

#endif /* LBD_HOSTCHECK_H */
