// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_ident = "lbd";
static int log_verbose;
static bool log_journal;

/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connected to
 * stderr; only then are "<N>" priority prefixes understood. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == dev && st.st_ino == ino;
}

void log_init(const char *ident, int verbosity)
{
	log_ident = ident;
	log_verbose = verbosity;
	log_journal = stderr_is_journal();
}

int log_verbosity(void)
{
	return log_verbose;
}

static void log_vemit(enum log_level lvl, const char *fmt, va_list ap,
		      const char *suffix)
{
	char buf[2048];
	int n;

	if (lvl == LOG_LVL_DEBUG && log_verbose < 1)
		return;
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	/* one line per message: drop a trailing newline */
	while (n > 0 && (size_t)n < sizeof(buf) && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (log_journal)
		fprintf(stderr, "<%d>%s%s%s\n", lvl, buf, suffix ? ": " : "",
			suffix ? suffix : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_ident, buf,
			suffix ? ": " : "", suffix ? suffix : "");
}

#define LOG_FN(name, lvl, with_errno)                                         \
	void name(const char *fmt, ...)                                       \
	{                                                                     \
		int saved = errno;                                            \
		va_list ap;                                                   \
                                                                              \
		va_start(ap, fmt);                                            \
		log_vemit(lvl, fmt, ap, with_errno ? strerror(saved) : NULL); \
		va_end(ap);                                                   \
		errno = saved;                                                \
	}

LOG_FN(log_warn, LOG_LVL_WARNING, true)
LOG_FN(log_warnx, LOG_LVL_WARNING, false)
LOG_FN(log_info, LOG_LVL_INFO, false)
LOG_FN(log_debug, LOG_LVL_DEBUG, false)

void fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	log_vemit(lvl, fmt, ap, NULL);
}
