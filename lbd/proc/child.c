// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What every child's main does (proc.h), apart from proc.c's
 * supervision, which a child does not need. */
#include <signal.h>
#include <systemd/sd-event.h>

#include "proc.h"

static int ignore_signal(sd_event_source *s, const struct signalfd_siginfo *si,
			 void *arg)
{
	(void)s;
	(void)si;
	(void)arg;
	return 0;
}

int proc_child_event(sd_event **ev)
{
	int err = sd_event_new(ev);

	if (err < 0)
		return err;
	/* proc_child_main blocked them: the loop takes them */
	sd_event_add_signal(*ev, NULL, SIGTERM, NULL, NULL);
	sd_event_add_signal(*ev, NULL, SIGINT, NULL, NULL);
	sd_event_add_signal(*ev, NULL, SIGHUP, ignore_signal, NULL);
	return 0;
}
