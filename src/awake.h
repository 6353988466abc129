/* Waiting awake. A thread that sleeps until a socket has data is woken by
 * an interrupt from the CPU that made the data ready. On a virtual machine
 * that wake-up can take longer than a server on the same machine needs for
 * its whole answer. A transfer thread whose waits have mostly ended that
 * soon therefore looks at its sockets without sleeping for a short while
 * before it sleeps (pool.c, bench/NOTES.md). Waits for a server across a
 * network take longer: for those it goes on sleeping at once. So do the
 * waits for more of a body that streams in: its bytes are on their way
 * already, each look is a system call that takes the CPU they are copied
 * with, and a wait asleep lets more of them gather for one read. */
#ifndef PDL_AWAKE_H
#define PDL_AWAKE_H

#include <stdbool.h>
#include <stdint.h>

/* How long a thread looks before it sleeps. A wait is short when it ended
 * within that time: a look that had something, or a wait asleep that a
 * look would have spared. A look that found nothing is a long wait. */
#define PDL_AWAKE_S 100e-6

/* A download that has received this much body streams. */
#define PDL_AWAKE_BULK (1024 * 1024)

struct pdl_awake {
	double short_share; /* of the recent waits, smoothed */
};

void pdl_awake_init(struct pdl_awake *a);

/* Whether the next wait should begin awake; streamed: the most body bytes
 * one of the thread's running downloads has received. */
bool pdl_awake_next(const struct pdl_awake *a, int64_t streamed);

/* A wait took this many seconds, awake and asleep together. */
void pdl_awake_note(struct pdl_awake *a, double took);

#endif
