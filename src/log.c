/* Diagnostics on stderr, serialised so lines from workers never mix. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool log_verbose;
static pdl_log_hook log_hook;
static void *log_hook_ctx;

void pdl_log_set_verbose(bool verbose)
{
	log_verbose = verbose;
}

bool pdl_log_verbose(void)
{
	return log_verbose;
}

void pdl_log_set_hook(pdl_log_hook hook, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_hook = hook;
	log_hook_ctx = ctx;
	pthread_mutex_unlock(&log_lock);
}

__attribute__((format(printf, 2, 0))) static void vlog(const char *prefix,
						       const char *fmt,
						       va_list ap)
{
	pthread_mutex_lock(&log_lock);
	if (log_hook)
		log_hook(log_hook_ctx, true);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	if (log_hook)
		log_hook(log_hook_ctx, false);
	pthread_mutex_unlock(&log_lock);
}

void pdl_errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("pdl: ", fmt, ap);
	va_end(ap);
}

void pdl_warnf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("pdl: warning: ", fmt, ap);
	va_end(ap);
}

void pdl_debugf(const char *fmt, ...)
{
	if (!log_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("pdl: ", fmt, ap);
	va_end(ap);
}
