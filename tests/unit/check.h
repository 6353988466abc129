/* A tiny assertion helper for the unit tests: every failed check prints
 * file:line and what was compared, and the test exits non-zero at the end. */
#ifndef PDL_CHECK_H
#define PDL_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
				__LINE__, #cond);                              \
			check_failures++;                                      \
		}                                                              \
	} while (0)

#define CHECK_STR(got, want)                                                  \
	do {                                                                  \
		const char *got_ = (got), *want_ = (want);                    \
		if (!got_ || !want_ ? got_ != want_ : strcmp(got_, want_)) {  \
			fprintf(                                              \
			    stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n",   \
			    __FILE__, __LINE__, #got, got_ ? got_ : "(null)", \
			    want_ ? want_ : "(null)");                        \
			check_failures++;                                     \
		}                                                             \
	} while (0)

#define CHECK_INT(got, want)                                                  \
	do {                                                                  \
		long long got_ = (long long)(got), want_ = (long long)(want); \
		if (got_ != want_) {                                          \
			fprintf(stderr, "%s:%d: %s: got %lld, want %lld\n",   \
				__FILE__, __LINE__, #got, got_, want_);       \
			check_failures++;                                     \
		}                                                             \
	} while (0)

static inline int check_done(void)
{
	if (check_failures)
		fprintf(stderr, "%d check(s) failed\n", check_failures);
	return check_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
