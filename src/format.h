/* Human-readable numbers for reports: sizes, rates, durations. Each writes
 * into buf (always NUL-terminated) and returns buf. */
#ifndef PDL_FORMAT_H
#define PDL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* Half-up rounding for x >= 0. Written out rather than llround: libm's
 * loading alone adds 0.3-0.4 MiB to pdl's peak RSS (bench/NOTES.md). */
static inline long long pdl_round_ll(double x)
{
	return (long long)(x + 0.5);
}

/* 0 B, 999 B, 1.0 KiB, 12.3 MiB, 1.50 GiB ... */
char *pdl_format_size(char *buf, size_t n, int64_t bytes);
/* size per second, "1.2 MiB/s" */
char *pdl_format_rate(char *buf, size_t n, double bytes_per_s);
/* "0.42s", "12.3s", "2m05s", "1h02m" */
char *pdl_format_duration(char *buf, size_t n, double seconds);

/* Appends s as a JSON string literal (with quotes) to buf of size n at *pos,
 * escaping control bytes and replacing invalid UTF-8 with U+FFFD. Output is
 * truncated, never overflowed; *pos tracks the would-be length. */
void pdl_json_string(char *buf, size_t n, size_t *pos, const char *s);

/* Copies s into buf for display on a terminal: control bytes and invalid
 * UTF-8 become \xHH escapes. */
char *pdl_format_printable(char *buf, size_t n, const char *s);

#endif
