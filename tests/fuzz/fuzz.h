/* What the libFuzzer harnesses share: an invariant that aborts (so that
 * libFuzzer keeps the input) with the failed expression and its line. */
#ifndef PDL_FUZZ_H
#define PDL_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(c)                                                          \
	do {                                                                \
		if (!(c)) {                                                 \
			fprintf(stderr, "invariant failed: %s (line %d)\n", \
				#c, __LINE__);                              \
			abort();                                            \
		}                                                           \
	} while (0)

#endif
