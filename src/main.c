/* pdl: parse the command line, run, map the result to an exit status. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "options.h"
#include "run.h"

/* --help and --version on a full disk must not claim success. */
static int flushed(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	if (errno != EPIPE)
		fprintf(stderr, "pdl: cannot write to standard output: %s\n",
			strerror(errno));
	return PDL_EXIT_FAILED;
}

int main(int argc, char **argv)
{
	struct pdl_options opt;
	char err[256];
	int status;

	switch (pdl_options_parse(&opt, argc, argv, err, sizeof(err))) {
	case PDL_PARSE_HELP:
		pdl_options_print_help(stdout);
		status = flushed(PDL_EXIT_OK);
		break;
	case PDL_PARSE_VERSION:
		pdl_options_print_version(stdout);
		status = flushed(PDL_EXIT_OK);
		break;
	case PDL_PARSE_ERROR:
		fprintf(stderr,
			"pdl: %s\nTry 'pdl --help' for more information.\n",
			err);
		status = PDL_EXIT_USAGE;
		break;
	case PDL_PARSE_OK:
	default:
		status = pdl_run(&opt);
		break;
	}
	pdl_options_finish(&opt);
	return status;
}
