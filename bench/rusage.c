/* rusage: runs a command and tells what it cost.
 *
 *	rusage OUTFILE COMMAND [ARG]...
 *
 * Writes "WALL USER SYS MAXRSS STATUS" to OUTFILE: wall seconds on the
 * monotonic clock from fork to reaping, user and system CPU seconds and peak
 * RSS (KiB) of the command and the children it waited for (wait4), and the
 * exit status (128 + N for a signal). Built by bench/run.sh, statically when
 * it can be: the command starts as a fork of this process and Linux counts
 * the RSS before exec into the peak, so the launcher must be tiny (a Python
 * parent would add its own ~25 MiB to every figure). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fputs("usage: rusage OUTFILE COMMAND [ARG]...\n", stderr);
		return 2;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		perror(argv[1]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		fclose(out);
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	int code =
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(out, "%.6f %.6f %.6f %ld %d\n",
		(double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
		ru.ru_maxrss, code);
	return fclose(out) ? 2 : 0;
}
