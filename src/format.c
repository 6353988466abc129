/* Formatting for reports: human-readable sizes, rates and durations, JSON
 * string literals, and text made safe to print on a terminal. */
#include "format.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Rounding decides the unit, not the raw value, so that 1048575 bytes shows
 * as "1.0 MiB" and never as "1024 KiB", and 102399 as "100 KiB", never as
 * "100.0 KiB". Integer arithmetic keeps INT64_MAX exact. */
char *pdl_format_size(char *buf, size_t n, int64_t bytes)
{
	static const char *const units[] = {"KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	uint64_t b = bytes > 0 ? (uint64_t)bytes : 0;
	uint64_t q, r, half, tenths, whole;
	unsigned int k, shift;

	if (b < 1024) {
		snprintf(buf, n, "%u B", (unsigned int)b);
		return buf;
	}
	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		shift = 10 * (k + 1);
		q = b >> shift;
		r = b & ((UINT64_C(1) << shift) - 1);
		half = UINT64_C(1) << (shift - 1);
		tenths = q * 10 + ((r * 10 + half) >> shift);
		if (tenths < 1000) {
			snprintf(buf, n, "%u.%u %s",
				 (unsigned int)(tenths / 10),
				 (unsigned int)(tenths % 10), units[k]);
			return buf;
		}
		whole = q + ((r + half) >> shift);
		if (whole < 1024 || k + 1 == sizeof(units) / sizeof(units[0])) {
			snprintf(buf, n, "%u %s", (unsigned int)whole,
				 units[k]);
			return buf;
		}
	}
	return buf;
}

char *pdl_format_rate(char *buf, size_t n, double bytes_per_s)
{
	char size[32];
	int64_t b;

	if (!isfinite(bytes_per_s) || bytes_per_s <= 0)
		b = 0;
	else if (bytes_per_s >= 9.2e18)
		b = INT64_MAX;
	else
		b = (int64_t)pdl_round_ll(bytes_per_s);
	pdl_format_size(size, sizeof(size), b);
	snprintf(buf, n, "%s/s", size);
	return buf;
}

/* Each branch rounds first and checks the rounded value against its upper
 * bound, so 9.999 becomes "10.0s", 59.96 "1m00s" and 3599.6 "1h00m". */
char *pdl_format_duration(char *buf, size_t n, double seconds)
{
	long long hundredths, tenths, secs, mins;

	if (!(seconds > 0))
		seconds = 0;
	if (seconds > 1e15)
		seconds = 1e15;

	hundredths = pdl_round_ll(seconds * 100);
	if (hundredths < 1000) {
		snprintf(buf, n, "%lld.%02llds", hundredths / 100,
			 hundredths % 100);
		return buf;
	}
	tenths = pdl_round_ll(seconds * 10);
	if (tenths < 600) {
		snprintf(buf, n, "%lld.%llds", tenths / 10, tenths % 10);
		return buf;
	}
	secs = pdl_round_ll(seconds);
	if (secs < 3600) {
		snprintf(buf, n, "%lldm%02llds", secs / 60, secs % 60);
		return buf;
	}
	mins = pdl_round_ll(seconds / 60);
	snprintf(buf, n, "%lldh%02lldm", mins / 60, mins % 60);
	return buf;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when s does not start
 * one: overlong forms, surrogates and code points above U+10FFFF are refused,
 * as is a sequence cut short by the end of the string. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* An appender that never splits a unit (an escape, a UTF-8 sequence). pos
 * always counts the full length, so once one unit does not fit no later one
 * can: a truncated result is a clean prefix, end marks where it stops. */
struct sink {
	char *buf;
	size_t n, pos, end;
};

static void put(struct sink *k, const char *s, size_t len)
{
	if (k->pos + len < k->n) {
		memcpy(k->buf + k->pos, s, len);
		k->end = k->pos + len;
	}
	k->pos += len;
}

static void sink_start(struct sink *k, char *buf, size_t n, size_t pos)
{
	k->buf = buf;
	k->n = n;
	k->pos = pos;
	k->end = pos;
}

static void sink_end(struct sink *k, size_t start)
{
	if (start < k->n)
		k->buf[k->end] = '\0';
}

/* A NULL s is written as the JSON literal null, which is what an absent
 * field ("error":null) needs. */
void pdl_json_string(char *buf, size_t n, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	struct sink k;
	char esc[8];
	size_t len;

	sink_start(&k, buf, n, *pos);
	if (!s) {
		put(&k, "null", 4);
		goto out;
	}
	put(&k, "\"", 1);
	while (*p) {
		switch (*p) {
		case '"':
			put(&k, "\\\"", 2);
			break;
		case '\\':
			put(&k, "\\\\", 2);
			break;
		case '\n':
			put(&k, "\\n", 2);
			break;
		case '\r':
			put(&k, "\\r", 2);
			break;
		case '\t':
			put(&k, "\\t", 2);
			break;
		case '\b':
			put(&k, "\\b", 2);
			break;
		case '\f':
			put(&k, "\\f", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 0xf];
				put(&k, esc, 6);
				break;
			}
			len = utf8_len(p);
			if (len == 0) {
				put(&k, "\\ufffd", 6);
				break;
			}
			put(&k, (const char *)p, len);
			p += len;
			continue;
		}
		p++;
	}
	put(&k, "\"", 1);
out:
	sink_end(&k, *pos);
	*pos = k.pos;
}

/* The C1 controls (U+0080-U+009F) are valid UTF-8 but some terminals act on
 * them like ESC sequences, so they are escaped byte by byte too. */
char *pdl_format_printable(char *buf, size_t n, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	struct sink k;
	char esc[4] = {'\\', 'x', 0, 0};
	size_t len, i;

	sink_start(&k, buf, n, 0);
	while (p && *p) {
		len = utf8_len(p);
		if (len == 1 && *p >= 0x20 && *p != 0x7f) {
			put(&k, (const char *)p, 1);
		} else if (len > 1 && !(p[0] == 0xc2 && p[1] <= 0x9f)) {
			put(&k, (const char *)p, len);
		} else {
			if (len == 0)
				len = 1;
			for (i = 0; i < len; i++) {
				esc[2] = hex[p[i] >> 4];
				esc[3] = hex[p[i] & 0xf];
				put(&k, esc, 4);
			}
		}
		p += len;
	}
	sink_end(&k, 0);
	return buf;
}
