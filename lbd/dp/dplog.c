// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libbpf's and libxdp's messages, routed into lbd's log (datapath.h). */
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <xdp/libxdp.h>

#include "datapath.h"
#include "log.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* one level quieter: libbpf's warnings are our info, its info our
	 * debug, and its debug (the verifier log) only with -vv */
	if (level == LIBBPF_DEBUG && log_verbosity() < 2)
		return 0;
	log_vmsg(level == LIBBPF_WARN	? LOG_LVL_INFO
		  : level == LIBBPF_INFO ? LOG_LVL_DEBUG
					 : LOG_LVL_DEBUG,
		 fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBXDP_DEBUG && log_verbosity() < 2)
		return 0;
	log_vmsg(level == LIBXDP_WARN	? LOG_LVL_INFO
		  : level == LIBXDP_INFO ? LOG_LVL_DEBUG
					 : LOG_LVL_DEBUG,
		 fmt, ap);
	return 0;
}

void dp_log_route(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
