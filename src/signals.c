/* The signal thread: the first SIGINT/SIGTERM asks everything to stop, the
 * second ends the process. SIGUSR2 from pdl_signals_stop ends the thread. */
#include "signals.h"

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

static void *waiter(void *arg)
{
	struct pdl_signals *s = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR2)
			break;
		int code = sig == SIGINT ? 130 : 143;
		int expected = 0;
		if (!atomic_compare_exchange_strong(s->stop, &expected, sig)) {
			/* Second signal: the user means it. */
			static const char msg[] = "pdl: stopped at once\n";
			pthread_mutex_lock(&s->lock);
			if (s->on_quit)
				s->on_quit(s->quit_ctx);
			ssize_t ignored =
			    write(STDERR_FILENO, msg, sizeof(msg) - 1);
			(void)ignored;
			/* exit_group itself, not _exit: a sanitizer's _exit
			 * flushes stdio first, which would wait for a report
			 * line stuck on a stdout nobody reads. */
			syscall(SYS_exit_group, code);
			_exit(code);
		}
		pdl_warnf("%s: stopping (again to quit at once)",
			  sig == SIGINT ? "interrupted" : "terminated");
		pthread_mutex_lock(&s->lock);
		if (s->on_stop)
			s->on_stop(s->ctx);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int pdl_signals_start(struct pdl_signals *s, atomic_int *stop)
{
	sigset_t set;
	struct sigaction ign;

	memset(s, 0, sizeof(*s));
	s->stop = stop;
	pthread_mutex_init(&s->lock, NULL);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, NULL);
	/* A file over the size limit must fail with EFBIG, not kill us. */
	sigaction(SIGXFSZ, &ign, NULL);

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR2);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	if (pthread_create(&s->thread, NULL, waiter, s))
		return -1;
	s->running = true;
	return 0;
}

void pdl_signals_on_stop(struct pdl_signals *s, void (*fn)(void *ctx),
			 void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->on_stop = fn;
	s->ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

void pdl_signals_on_quit(struct pdl_signals *s, void (*fn)(void *ctx),
			 void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->on_quit = fn;
	s->quit_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

void pdl_signals_stop(struct pdl_signals *s)
{
	if (s->running) {
		pthread_kill(s->thread, SIGUSR2);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	pthread_mutex_destroy(&s->lock);
}
