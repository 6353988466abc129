/* A whole run: lists in, files out, report, exit status. */
#ifndef PDL_RUN_H
#define PDL_RUN_H

#include "options.h"

/* Exit statuses, as documented in pdl(1). */
enum pdl_exit {
	PDL_EXIT_OK = 0,
	PDL_EXIT_FAILED = 1,
	PDL_EXIT_USAGE = 2,
	PDL_EXIT_SETUP = 3,
	PDL_EXIT_SIGINT = 130,
	PDL_EXIT_SIGTERM = 143,
};

int pdl_run(const struct pdl_options *o);

#endif
