/* Waiting awake: awake.h. */
#include "awake.h"

/* Each wait moves the share by this part of the way; half of the recent
 * waits short is enough to look first. */
#define WEIGHT 0.125
#define ENOUGH 0.5

void pdl_awake_init(struct pdl_awake *a)
{
	/* Asleep until short waits are seen: most servers are remote. */
	a->short_share = 0;
}

bool pdl_awake_next(const struct pdl_awake *a, int64_t streamed)
{
	return a->short_share >= ENOUGH && streamed < PDL_AWAKE_BULK;
}

void pdl_awake_note(struct pdl_awake *a, double took)
{
	double was_short = took <= PDL_AWAKE_S ? 1 : 0;
	a->short_share += (was_short - a->short_share) * WEIGHT;
}
