/* The progress line's text: counts, ETA, and never wider than the
 * terminal. */
#include "check.h"

#include "progress.h"

int main(void)
{
	char buf[256];

	pdl_progress_render(buf, sizeof(buf), 200, 3, 10, true, 0, 3 * 1048576,
			    1048576, 4, 3.0);
	CHECK_STR(buf, "3/10 files  3.0 MiB  1.0 MiB/s  4 active  ETA 7.00s");

	/* Total not known yet: "+" and no ETA. */
	pdl_progress_render(buf, sizeof(buf), 200, 3, 10, false, 1, 0, 0, 2,
			    3.0);
	CHECK_STR(buf, "3/10+ files, 1 failed  0 B  0 B/s  2 active  ETA ?");

	pdl_progress_render(buf, sizeof(buf), 200, 10, 10, true, 0, 1024, 0, 0,
			    3.0);
	CHECK(strstr(buf, "ETA done") != NULL);

	/* Truncated to width - 1 columns for any width. */
	for (int w = 0; w < 80; w++) {
		pdl_progress_render(buf, sizeof(buf), w, 123456, 999999, true,
				    5, 1LL << 40, 1e9, 1024, 100.0);
		CHECK((int)strlen(buf) <= (w > 1 ? w - 1 : 0));
	}
	/* A buffer smaller than the width is respected too. */
	char small[8];
	pdl_progress_render(small, sizeof(small), 200, 1, 2, true, 0, 0, 0, 0,
			    1);
	CHECK_INT(strlen(small), 7);
	return check_done();
}
