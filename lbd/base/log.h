/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Logging for lbd and its tools. log_warn appends strerror(errno),
 * log_warnx does not; fatal/fatalx log and exit(1). Under systemd (stderr
 * connected to the journal) every line carries its syslog priority.
 */
#ifndef LBD_LOG_H
#define LBD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* verbosity: 0 info and above, 1 debug, 2 debug and libbpf's debug. */
void log_init(const char *ident, int verbosity);
int log_verbosity(void);

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
_Noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/* One message at lvl, for libraries' print callbacks (dp_log_route). */
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

#endif /* LBD_LOG_H */
