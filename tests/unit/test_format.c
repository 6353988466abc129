/* Table tests for the report formatters: unit and rounding boundaries, JSON
 * escaping and UTF-8 validation, truncation, terminal-safe text. */
#include "check.h"
#include "format.h"

#include <math.h>

#define KiB    (INT64_C(1) << 10)
#define MiB    (INT64_C(1) << 20)
#define GiB    (INT64_C(1) << 30)
#define TiB    (INT64_C(1) << 40)
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_size(void)
{
	static const struct {
		int64_t in;
		const char *want;
	} t[] = {
	    {-5, "0 B"},
	    {0, "0 B"},
	    {1, "1 B"},
	    {999, "999 B"},
	    {1023, "1023 B"},
	    {1024, "1.0 KiB"},
	    {1075, "1.0 KiB"}, /* 1.0498 */
	    {1076, "1.1 KiB"}, /* 1.0508 */
	    {1536, "1.5 KiB"},
	    {10239, "10.0 KiB"},  /* 9.999, rounds up a digit */
	    {102348, "99.9 KiB"}, /* 99.949 */
	    {102349, "100 KiB"},  /* 99.950: no "100.0" */
	    {102400, "100 KiB"},
	    {126976, "124 KiB"},
	    {1048063, "1023 KiB"}, /* 1023.499 */
	    {1048064, "1.0 MiB"},  /* 1023.5: no "1024 KiB" */
	    {1048575, "1.0 MiB"},
	    {MiB, "1.0 MiB"},
	    {15 * MiB / 2, "7.5 MiB"},
	    {5 * GiB + GiB / 2, "5.5 GiB"},
	    {3 * TiB, "3.0 TiB"},
	    {200 * TiB, "200 TiB"},
	    {1024 * TiB, "1.0 PiB"},
	    {INT64_MAX, "8.0 EiB"},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		CHECK(pdl_format_size(buf, sizeof(buf), t[i].in) == buf);
		CHECK_STR(buf, t[i].want);
	}
	/* Truncated, still terminated. */
	pdl_format_size(buf, 4, 1536);
	CHECK_STR(buf, "1.5");
}

static void test_rate(void)
{
	static const struct {
		double in;
		const char *want;
	} t[] = {
	    {0, "0 B/s"},
	    {-3, "0 B/s"},
	    {0.4, "0 B/s"}, /* rounds to nothing */
	    {512, "512 B/s"},
	    {1536, "1.5 KiB/s"},
	    {1048575.9, "1.0 MiB/s"},
	    {1e30, "8.0 EiB/s"},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		pdl_format_rate(buf, sizeof(buf), t[i].in);
		CHECK_STR(buf, t[i].want);
	}
	CHECK_STR(pdl_format_rate(buf, sizeof(buf), NAN), "0 B/s");
	CHECK_STR(pdl_format_rate(buf, sizeof(buf), INFINITY), "0 B/s");
	CHECK_STR(pdl_format_rate(buf, sizeof(buf), -INFINITY), "0 B/s");
}

static void test_duration(void)
{
	static const struct {
		double in;
		const char *want;
	} t[] = {
	    {0, "0.00s"},
	    {-1, "0.00s"},
	    {0.004, "0.00s"},
	    {0.005, "0.01s"},
	    {0.42, "0.42s"},
	    {9.994, "9.99s"},
	    /* 9.995 is 9.99499999... in binary, like printf's "%.2f". */
	    {9.995, "9.99s"},
	    {9.996, "10.0s"}, /* never "10.00s" */
	    {12.34, "12.3s"},
	    {59.94, "59.9s"},
	    {59.96, "1m00s"}, /* never "60.0s" */
	    {60, "1m00s"},
	    {125, "2m05s"},
	    {125.6, "2m06s"},
	    {3599.4, "59m59s"},
	    {3599.6, "1h00m"}, /* never "59m60s" or "60m00s" */
	    {3600, "1h00m"},
	    {7322, "2h02m"},
	    {7170, "2h00m"}, /* 1h59m30s rounds to the minute */
	    {360000, "100h00m"},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		pdl_format_duration(buf, sizeof(buf), t[i].in);
		CHECK_STR(buf, t[i].want);
	}
	CHECK_STR(pdl_format_duration(buf, sizeof(buf), NAN), "0.00s");
	pdl_format_duration(buf, sizeof(buf), INFINITY);
	CHECK(buf[0] != '\0' && strlen(buf) < sizeof(buf) - 1);
}

static void test_json(void)
{
	static const struct {
		const char *in;
		const char *want;
	} t[] = {
	    {"", "\"\""},
	    {"plain", "\"plain\""},
	    {"a\"b", "\"a\\\"b\""},
	    {"a\\b", "\"a\\\\b\""},
	    {"l1\nl2\r\t\b\f", "\"l1\\nl2\\r\\t\\b\\f\""},
	    {"\x01", "\"\\u0001\""},
	    {"\x1b[0m", "\"\\u001b[0m\""},
	    {"\x7f", "\"\\u007f\""},
	    {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
	    {"\xff", "\"\\ufffd\""},
	    {"x\xffy", "\"x\\ufffdy\""},
	    /* Cut short at the end: each byte replaced, nothing read past. */
	    {"\xe2\x82", "\"\\ufffd\\ufffd\""},
	    {"\xe2\x82z", "\"\\ufffd\\ufffdz\""},
	    {"\xc0\xaf", "\"\\ufffd\\ufffd\""},		   /* overlong '/' */
	    {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""}, /* overlong */
	    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
	    {"\xf0\x8f\xbf\xbf",
	     "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* overlong */
	    {"\xf4\x90\x80\x80",
	     "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},	  /* > U+10FFFF */
	    {"\xf0\x9f\x8e\x86", "\"\xf0\x9f\x8e\x86\""}, /* U+1F386 */
	    {"\xef\xbf\xbf", "\"\xef\xbf\xbf\""},	  /* U+FFFF */
	    {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF */
	    {"\xc2\x85", "\"\xc2\x85\""}, /* C1 is fine in JSON */
	};
	char buf[64];
	size_t i, pos;

	for (i = 0; i < LEN(t); i++) {
		pos = 0;
		pdl_json_string(buf, sizeof(buf), &pos, t[i].in);
		CHECK_STR(buf, t[i].want);
		CHECK_INT(pos, strlen(t[i].want));
	}

	/* Appending: pos advances and the earlier content is kept. */
	pos = 0;
	pdl_json_string(buf, sizeof(buf), &pos, "a");
	buf[pos++] = ':';
	pdl_json_string(buf, sizeof(buf), &pos, NULL);
	CHECK_STR(buf, "\"a\":null");
	CHECK_INT(pos, 8);
}

static void test_json_truncation(void)
{
	static const struct {
		size_t n;
		const char *want;
	} t[] = {
	    /* The whole literal "ab\u0001" + e-acute is 12 bytes. */
	    {1, ""},
	    {2, "\""},
	    {4, "\"ab"},
	    {9, "\"ab"}, /* never a partial \u0001 */
	    {10, "\"ab\\u0001"},
	    {11, "\"ab\\u0001"}, /* never half of the e-acute */
	    {12, "\"ab\\u0001\xc3\xa9"},
	    {13, "\"ab\\u0001\xc3\xa9\""},
	};
	const char *in = "ab\x01\xc3\xa9";
	char buf[32];
	size_t i, pos;

	for (i = 0; i < LEN(t); i++) {
		memset(buf, 'X', sizeof(buf));
		pos = 0;
		pdl_json_string(buf, t[i].n, &pos, in);
		CHECK_STR(buf, t[i].want);
		CHECK_INT(pos, 12);
		/* Nothing written past n - 1. */
		CHECK(buf[t[i].n] == 'X');
	}

	/* Starting beyond the end: the buffer is left alone. */
	memset(buf, 'X', sizeof(buf));
	buf[3] = '\0';
	pos = 5;
	pdl_json_string(buf, 4, &pos, "abc");
	CHECK_INT(pos, 10);
	CHECK(buf[0] == 'X' && buf[3] == '\0' && buf[4] == 'X');

	/* n == 0 writes nothing at all. */
	pos = 0;
	pdl_json_string(buf, 0, &pos, "abc");
	CHECK_INT(pos, 5);
	CHECK(buf[0] == 'X');
}

static void test_printable(void)
{
	static const struct {
		const char *in;
		const char *want;
	} t[] = {
	    {"", ""},
	    {"plain/path.txt", "plain/path.txt"},
	    {"a\\b", "a\\b"},
	    {"\x1b[31mred", "\\x1b[31mred"},
	    {"tab\there\n", "tab\\x09here\\x0a"},
	    {"\x7f", "\\x7f"},
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"\xff", "\\xff"},
	    {"\xe2\x82", "\\xe2\\x82"},
	    {"\xc0\xaf", "\\xc0\\xaf"},
	    {"\xc2\x9bK", "\\xc2\\x9bK"}, /* C1 CSI, erase line */
	    {"\xc2\xa0", "\xc2\xa0"},	  /* U+00A0 is not C1 */
	    {"\xf0\x9f\x8e\x86", "\xf0\x9f\x8e\x86"},
	};
	char buf[64];
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		CHECK(pdl_format_printable(buf, sizeof(buf), t[i].in) == buf);
		CHECK_STR(buf, t[i].want);
	}

	/* Truncation never splits an escape or a character. */
	memset(buf, 'X', sizeof(buf));
	CHECK_STR(pdl_format_printable(buf, 4, "ab\x1b"), "ab");
	CHECK(buf[4] == 'X');
	CHECK_STR(pdl_format_printable(buf, 4, "ab\xc3\xa9"), "ab");
	CHECK_STR(pdl_format_printable(buf, 5, "ab\xc3\xa9"), "ab\xc3\xa9");
	CHECK_STR(pdl_format_printable(buf, 1, "abc"), "");
}

int main(void)
{
	test_size();
	test_rate();
	test_duration();
	test_json();
	test_json_truncation();
	test_printable();
	return check_done();
}
