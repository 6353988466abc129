/* Diagnostics on stderr: one line each, prefixed with the program name. */
#ifndef PDL_LOG_H
#define PDL_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#define PDL_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Errors and warnings always print; pdl_debugf only when verbose is set. */
void pdl_log_set_verbose(bool verbose);
bool pdl_log_verbose(void);
void pdl_errorf(const char *fmt, ...) PDL_PRINTF(1, 2);
void pdl_warnf(const char *fmt, ...) PDL_PRINTF(1, 2);
void pdl_debugf(const char *fmt, ...) PDL_PRINTF(1, 2);

/* Hook called around each diagnostic so a live progress line can be cleared
 * before and redrawn after; NULL for none. */
typedef void (*pdl_log_hook)(void *ctx, bool before);
void pdl_log_set_hook(pdl_log_hook hook, void *ctx);

#endif
