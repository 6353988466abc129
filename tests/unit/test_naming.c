/* Unit tests for naming.c: names from URLs, their paths and
 * Content-Disposition, checks of NAMEs given on list lines, and collision
 * numbering. */
#include "check.h"
#include "naming.h"

#include <stdbool.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static char *repeat(const char *prefix, const char *unit, size_t n,
		    const char *suffix)
{
	size_t plen = strlen(prefix), ulen = strlen(unit),
	       slen = strlen(suffix);
	char *s = malloc(plen + ulen * n + slen + 1), *p = s;

	if (!s)
		abort();
	memcpy(p, prefix, plen);
	p += plen;
	for (size_t i = 0; i < n; i++, p += ulen)
		memcpy(p, unit, ulen);
	memcpy(p, suffix, slen + 1);
	return s;
}

/* Every cut must leave well-formed UTF-8 when the input was. */
static bool utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		size_t n = *u < 0x80 ? 1 : *u >= 0xf0 ? 4 : *u >= 0xe0 ? 3 : 2;

		if (*u >= 0x80 && (*u < 0xc2 || *u > 0xf4))
			return false;
		for (size_t i = 1; i < n; i++)
			if ((u[i] & 0xc0) != 0x80)
				return false;
		u += n;
	}
	return true;
}

static void test_from_url(void)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
	    {"http://h/a/b.jpg", "b.jpg"},
	    {"https://h/a.tar.gz", "a.tar.gz"},
	    {"http://h/a/b.jpg?x=1&y=/c/d.png", "b.jpg"},
	    {"http://h/b.jpg#frag/x.png", "b.jpg"},
	    {"http://h/b.jpg?q#f", "b.jpg"},
	    {"http://h/?q=a.jpg", "index.html"},
	    {"http://h/a%20b.jpg", "a b.jpg"},
	    {"http://h/a%2Fb.jpg", "a_b.jpg"},
	    {"http://h/a%2fb", "a_b"},
	    {"http://h/%2e%2e%2f", ".._"},
	    {"http://h/%2e%2e", "__"},
	    {"http://h/a/%2E%2E", "__"},
	    {"http://h/%2e", "_"},
	    {"http://h/x/%2e%2e%2f%2e%2e%2fetc%2fpasswd", ".._.._etc_passwd"},
	    /* literal dot segments are resolved, as in the request */
	    {"http://h/a/..", "index.html"},
	    {"http://h/a/.", "index.html"},
	    {"http://h/..", "index.html"},
	    {"http://h/", "index.html"},
	    {"http://h", "index.html"},
	    {"http://h/dir/", "index.html"},
	    {"http://h/a%01b", "a_b"},
	    {"http://h/a%7fb", "a_b"},
	    {"http://h/a%00b", "a_b"},
	    {"http://h/a%0d%0ab", "a__b"},
	    {"http://h/a%5Cb.jpg", "a_b.jpg"},
	    {"http://h/a\\b.jpg", "a_b.jpg"},
	    {"http://h/.bashrc", ".bashrc"},
	    {"http://h/%C3%A9t%C3%A9.txt", "\xc3\xa9t\xc3\xa9.txt"},
	    {"http://h/%ff.bin", "\xff.bin"},
	    {"http://user:pw@h:8080/d/x.jpg", "x.jpg"},
	    {"http://user@h:8080", "index.html"},
	    {"ftp://h/pub/f.iso", "f.iso"},
	    /* libcurl refuses these; the manual cut takes over */
	    {"http://h/a b.jpg?x=/c", "a b.jpg"},
	    {"http://h/d e/c d.jpg#f/g", "c d.jpg"},
	    {"http://h?x/y", "index.html"},
	    {"http://h#x/y", "index.html"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = pdl_name_from_url(cases[i].url);

		if (!got || strcmp(got, cases[i].want))
			fprintf(stderr, "url %s\n", cases[i].url);
		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

/* Paths as libcurl hands them out: dot segments resolved, no query. */
static void test_from_path(void)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
	    {"/a/b.jpg", "b.jpg"},
	    {"/a.tar.gz", "a.tar.gz"},
	    {"/", "index.html"},
	    {"", "index.html"},
	    {"/dir/", "index.html"},
	    {"b.jpg", "b.jpg"},
	    {"/a%20b.jpg", "a b.jpg"},
	    {"/a%2Fb.jpg", "a_b.jpg"},
	    {"/%2e%2e", "__"},
	    {"/a%00b", "a_b"},
	    {"/a\\b.jpg", "a_b.jpg"},
	    {"/%C3%A9t%C3%A9.txt", "\xc3\xa9t\xc3\xa9.txt"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got = pdl_name_from_path(cases[i].path);

		CHECK_STR(got, cases[i].want);
		free(got);
	}
}

static void test_from_url_long(void)
{
	char *url, *got, *want;

	/* 296 + 4 bytes: the stem is cut, the extension kept */
	url = repeat("http://h/d/", "a", 296, ".jpg");
	got = pdl_name_from_url(url);
	want = repeat("", "a", 251, ".jpg");
	CHECK_STR(got, want);
	CHECK_INT(strlen(got), 255);
	free(url);
	free(got);
	free(want);

	/* 150 two-byte sequences: 255 would split one */
	url = repeat("http://h/", "%C3%A9", 150, "");
	got = pdl_name_from_url(url);
	want = repeat("", "\xc3\xa9", 127, "");
	CHECK_STR(got, want);
	CHECK(utf8_valid(got));
	free(url);
	free(got);
	free(want);

	url = repeat("http://h/", "%C3%A9", 148, ".jpg");
	got = pdl_name_from_url(url);
	want = repeat("", "\xc3\xa9", 125, ".jpg");
	CHECK_STR(got, want);
	CHECK(utf8_valid(got));
	free(url);
	free(got);
	free(want);

	/* three-byte sequences, offset by one so the cut lands inside one */
	url = repeat("http://h/x", "%E2%82%AC", 100, "");
	got = pdl_name_from_url(url);
	want = repeat("x", "\xe2\x82\xac", 84, "");
	CHECK_STR(got, want);
	CHECK_INT(strlen(got), 253);
	CHECK(utf8_valid(got));
	free(url);
	free(got);
	free(want);

	/* four-byte sequences, offset by two */
	url = repeat("http://h/xy", "%F0%9F%8E%86", 70, ".png");
	got = pdl_name_from_url(url);
	want = repeat("xy", "\xf0\x9f\x8e\x86", 62, ".png");
	CHECK_STR(got, want);
	CHECK(utf8_valid(got));
	free(url);
	free(got);
	free(want);
}

static void test_sanitize(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
	    {"", 0, ""},
	    {"a", 1, "a"},
	    {".", 1, "_"},
	    {"..", 2, "__"},
	    {"...", 3, "..."},
	    {".x", 2, ".x"},
	    {"a\0b", 3, "a_b"},
	    {"\0", 1, "_"},
	    {"a/b\\c", 5, "a_b_c"},
	    {"\x1f\x7f\x80", 3, "__\x80"},
	    {"tab\there", 8, "tab_here"},
	};
	char *in, *got, *want;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		got = pdl_name_sanitize(cases[i].in, cases[i].len);
		CHECK_STR(got, cases[i].want);
		free(got);
	}

	/* exactly 255 bytes: untouched */
	in = repeat("", "b", 251, ".jpg");
	got = pdl_name_sanitize(in, strlen(in));
	CHECK_STR(got, in);
	free(in);
	free(got);

	/* an "extension" over 32 bytes is part of the name: a plain cut */
	in = repeat("", "a", 250, ".bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	got = pdl_name_sanitize(in, strlen(in));
	CHECK_INT(strlen(got), 255);
	CHECK(!strncmp(got, in, 255));
	free(in);
	free(got);

	/* only the last dot starts the extension */
	in = repeat("", "a", 300, ".tar.gz");
	got = pdl_name_sanitize(in, strlen(in));
	want = repeat("", "a", 252, ".gz");
	CHECK_STR(got, want);
	free(in);
	free(got);
	free(want);

	/* a leading dot is no extension: a 300-byte dotfile is cut plainly */
	in = repeat(".", "a", 299, "");
	got = pdl_name_sanitize(in, strlen(in));
	want = repeat(".", "a", 254, "");
	CHECK_STR(got, want);
	free(in);
	free(got);
	free(want);
}

static void test_check_relative(void)
{
	static const struct {
		const char *in, *want, *reason;
	} cases[] = {
	    {"a.jpg", "a.jpg", NULL},
	    {"covers/b-large.jpg", "covers/b-large.jpg", NULL},
	    {"a//b///c.txt", "a/b/c.txt", NULL},
	    {".hidden/...", ".hidden/...", NULL},
	    {"x/..y/z..", "x/..y/z..", NULL},
	    {"\xc3\xa9t\xc3\xa9/\xff.bin", "\xc3\xa9t\xc3\xa9/\xff.bin", NULL},
	    {"", NULL, "name is empty"},
	    {"/etc/passwd", NULL, "name is absolute"},
	    {"//x", NULL, "name is absolute"},
	    {"..", NULL, "name has a '..' component"},
	    {"../x", NULL, "name has a '..' component"},
	    {"a/../x", NULL, "name has a '..' component"},
	    {"a/..", NULL, "name has a '..' component"},
	    {".", NULL, "name has a '.' component"},
	    {"./x", NULL, "name has a '.' component"},
	    {"a/./b", NULL, "name has a '.' component"},
	    {"a/.", NULL, "name has a '.' component"},
	    {"a/", NULL, "name names a directory"},
	    {"a/b//", NULL, "name names a directory"},
	    {"a\x01"
	     "b",
	     NULL, "name has a control character"},
	    {"d/a\x7f", NULL, "name has a control character"},
	    {"a\nb", NULL, "name has a control character"},
	    {"a\\b", NULL, "name has a backslash"},
	    {"..\\x", NULL, "name has a backslash"},
	};
	const char *reason;
	char *got, *in;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		reason = NULL;
		got = pdl_name_check_relative(cases[i].in, &reason);
		CHECK_STR(got, cases[i].want);
		if (!cases[i].want)
			CHECK_STR(reason, cases[i].reason);
		free(got);
	}

	in = repeat("d/", "a", 255, "");
	got = pdl_name_check_relative(in, &reason);
	CHECK_STR(got, in);
	free(got);
	free(in);

	in = repeat("d/", "a", 256, "/x");
	reason = NULL;
	got = pdl_name_check_relative(in, &reason);
	CHECK(!got);
	CHECK_STR(reason, "name has a component over 255 bytes");
	free(in);

	/* 4095 bytes fit PATH_MAX with the NUL; 4096 do not */
	in = repeat("", "aaaaaaaaaaaaaaa/", 255, "aaaaaaaaaaaaaaa");
	CHECK_INT(strlen(in), 4095);
	got = pdl_name_check_relative(in, &reason);
	CHECK_STR(got, in);
	free(got);
	free(in);
	in = repeat("", "aaaaaaaaaaaaaaa/", 256, "");
	in[4095] = 'a';
	reason = NULL;
	got = pdl_name_check_relative(in, &reason);
	CHECK(!got);
	CHECK_STR(reason, "name is too long");
	free(in);
}

static void test_numbered(void)
{
	static const struct {
		const char *in;
		unsigned n;
		const char *want;
	} cases[] = {
	    {"a.jpg", 1, "a.1.jpg"},
	    {"a.jpg", 0, "a.jpg"},
	    {"dir/a.tar.jpg", 2, "dir/a.tar.2.jpg"},
	    {"a", 1, "a.1"},
	    {"a", 10000, "a.10000"},
	    {".bashrc", 1, ".bashrc.1"},
	    {"..x", 1, "..x.1"},
	    {"a.", 1, "a.1."},
	    {"dir.d/a", 3, "dir.d/a.3"},
	    {"x/y/.hidden.txt", 12, "x/y/.hidden.12.txt"},
	    {"a.jpg", 4294967295u, "a.4294967295.jpg"},
	    {"a.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 1,
	     "a.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.1"},
	};
	char *in, *got, *want;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		got = pdl_name_numbered(cases[i].in, cases[i].n);
		CHECK_STR(got, cases[i].want);
		free(got);
	}

	/* a full 255-byte base stays 255 bytes; the directory is not cut */
	in = repeat("d/", "a", 251, ".jpg");
	got = pdl_name_numbered(in, 1);
	want = repeat("d/", "a", 249, ".1.jpg");
	CHECK_STR(got, want);
	CHECK_INT(strlen(strrchr(got, '/') + 1), 255);
	free(in);
	free(got);
	free(want);

	in = repeat("", "a", 255, "");
	got = pdl_name_numbered(in, 7);
	want = repeat("", "a", 253, ".7");
	CHECK_STR(got, want);
	free(in);
	free(got);
	free(want);

	/* 125 two-byte sequences + ".jpg" = 254; ".10" needs the room of
	 * two sequences, not one and a half */
	in = repeat("", "\xc3\xa9", 125, ".jpg");
	got = pdl_name_numbered(in, 10);
	want = repeat("", "\xc3\xa9", 124, ".10.jpg");
	CHECK_STR(got, want);
	CHECK(utf8_valid(got));
	free(in);
	free(got);
	free(want);

	in = repeat("", "\xc3\xa9", 126, ".jpg");
	got = pdl_name_numbered(in, 1);
	want = repeat("", "\xc3\xa9", 124, ".1.jpg");
	CHECK_STR(got, want);
	CHECK(utf8_valid(got));
	free(in);
	free(got);
	free(want);
}

static void test_from_disposition(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"attachment; filename=\"a b.jpg\"", "a b.jpg"},
	    {"attachment; filename=plain.txt", "plain.txt"},
	    {"attachment;filename=plain.txt", "plain.txt"},
	    {"attachment; filename=plain.txt ; size=3", "plain.txt"},
	    {"inline; filename=a.jpg;", "a.jpg"},
	    {"filename=bare.bin", "bare.bin"},
	    {"attachment; filename = \"spaced.txt\"", "spaced.txt"},
	    {"attachment; FILENAME=\"Up.JPG\"", "Up.JPG"},
	    {"attachment; filename=\"semi;colon.txt\"", "semi;colon.txt"},
	    {"attachment; filename=\"a\\\"q\\\".txt\"", "a\"q\".txt"},
	    {"attachment; filename=\"unterminated.txt", "unterminated.txt"},
	    {"attachment; filename*=UTF-8''%E2%82%AC%20rates.pdf",
	     "\xe2\x82\xac rates.pdf"},
	    {"attachment; FileName*=utf-8''x.bin", "x.bin"},
	    {"attachment; filename*=UTF-8'en'lang.txt", "lang.txt"},
	    {"attachment; filename=\"fallback.pdf\"; "
	     "filename*=UTF-8''real.pdf",
	     "real.pdf"},
	    {"attachment; filename*=UTF-8''real.pdf; "
	     "filename=\"fallback.pdf\"",
	     "real.pdf"},
	    {"attachment; filename*=ISO-8859-1''%E9t%E9.txt",
	     "\xc3\xa9t\xc3\xa9.txt"},
	    {"attachment; filename*=KOI8-R''x; filename=y.txt", "y.txt"},
	    {"attachment; filename*=nonsense; filename=y.txt", "y.txt"},
	    {"attachment; filename*=UTF-8''%2e%2e; filename=ok.txt", "ok.txt"},
	    {"attachment; name=\"x\"; filename=\"y\"", "y"},
	    {"attachment; xfilename=\"bad\"; filename=\"good\"", "good"},
	    {"attachment; filename=\"one\"; filename=\"two\"", "one"},
	    {"attachment; filename=\"../../etc/passwd\"", "passwd"},
	    {"attachment; filename=/etc/passwd", "passwd"},
	    {"attachment; filename=\"a\\\\b\"", "b"},
	    {"attachment; filename=a\\b", "b"},
	    {"attachment; filename=\"C:\\\\x\\\\evil.exe\"", "evil.exe"},
	    {"attachment; filename*=UTF-8''..%2F..%2Fx", "x"},
	    {"attachment; filename*=UTF-8''a%5Cb", "b"},
	    {"attachment; filename=\"a\x01"
	     "b\"",
	     "a_b"},
	    {"attachment; filename*=UTF-8''a%00b", "a_b"},
	    {"attachment; filename*=UTF-8''a%0Ab", "a_b"},
	    {"attachment; filename=\".hidden\"", ".hidden"},
	    {"attachment; filename=\"...\"", "..."},
	    {"attachment; filename=\"..\"", NULL},
	    {"attachment; filename=..", NULL},
	    {"attachment; filename=\".\"", NULL},
	    {"attachment; filename=\"x/..\"", NULL},
	    {"attachment; filename=\"dir/\"", NULL},
	    {"attachment; filename=\"\"", NULL},
	    {"attachment; filename=", NULL},
	    {"attachment; filename*=UTF-8''%2e%2e", NULL},
	    {"attachment; filename*=UTF-8''", NULL},
	    {"attachment", NULL},
	    {"", NULL},
	    {";;;", NULL},
	    {"=", NULL},
	};
	char *in, *got, *want;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		got = pdl_name_from_disposition(cases[i].in);
		if (cases[i].want ? !got || strcmp(got, cases[i].want) : !!got)
			fprintf(stderr, "disposition %s\n", cases[i].in);
		CHECK_STR(got, cases[i].want);
		free(got);
	}

	in = repeat("attachment; filename=\"", "a", 296, ".jpg\"");
	got = pdl_name_from_disposition(in);
	want = repeat("", "a", 251, ".jpg");
	CHECK_STR(got, want);
	free(in);
	free(got);
	free(want);
}

int main(void)
{
	test_from_url();
	test_from_url_long();
	test_from_path();
	test_sanitize();
	test_check_relative();
	test_numbered();
	test_from_disposition();
	return check_done();
}
