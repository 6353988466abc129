/* libFuzzer harness: bytes as a URL for pdl_name_from_url, as a
 * Content-Disposition value for pdl_name_from_disposition, as a list NAME
 * for pdl_name_check_relative, and raw for pdl_name_sanitize, with the
 * promises each makes: a name is never empty, ".", "..", longer than 255
 * bytes, never holds '/', '\\' or a control byte; an accepted relative
 * name is never absolute and has no "." or ".." component. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "naming.h"
#include "outdir.h"

/* Valid UTF-8 over len bytes. */
static bool utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t n;
		unsigned long cp;

		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			n = 2, cp = s[i] & 0x1fu;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			n = 3, cp = s[i] & 0x0fu;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			n = 4, cp = s[i] & 0x07u;
		else
			return false;
		if (i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* One safe path component. */
static void check_base(const char *name)
{
	size_t len;

	REQUIRE(name);
	len = strlen(name);
	REQUIRE(len > 0 && len <= PDL_NAME_MAX);
	REQUIRE(strcmp(name, ".") && strcmp(name, ".."));
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		REQUIRE(*p >= 0x20 && *p != 0x7f && *p != '/' && *p != '\\');
}

/* What is derived from a name: numbered forms and the temporary file stay
 * one component within the limit, and the temporary name is hidden. */
static void check_derived(const char *name)
{
	static const unsigned nums[] = {1, 2, 10, 9999, 4294967295u};
	char *tmp = pdl_outfile_tmpname(name);

	REQUIRE(tmp);
	REQUIRE(tmp[0] == '.' && strlen(tmp) <= PDL_NAME_MAX);
	REQUIRE(!strchr(tmp, '/'));
	REQUIRE(strcmp(tmp, name));
	free(tmp);
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char *n = pdl_name_numbered(name, nums[i]);
		char num[16];

		check_base(n);
		/* a name cut to fit may already read "stem.N.ext"; any
		 * shorter one must change */
		if (strlen(name) +
			(size_t)snprintf(num, sizeof(num), ".%u", nums[i]) <=
		    PDL_NAME_MAX)
			REQUIRE(strcmp(n, name));
		free(n);
	}
}

static void check_relative(const char *s)
{
	const char *reason = NULL;
	char *r = pdl_name_check_relative(s, &reason);
	const char *p;

	if (!r) {
		REQUIRE(reason && *reason);
		return;
	}
	REQUIRE(*r && r[0] != '/' && r[strlen(r) - 1] != '/');
	for (p = r; *p;) {
		size_t n = strcspn(p, "/");

		REQUIRE(n > 0 && n <= PDL_NAME_MAX);
		REQUIRE(!(n == 1 && p[0] == '.'));
		REQUIRE(!(n == 2 && p[0] == '.' && p[1] == '.'));
		for (size_t i = 0; i < n; i++)
			REQUIRE((unsigned char)p[i] >= 0x20 && p[i] != 0x7f &&
				p[i] != '\\');
		p += n;
		if (*p == '/')
			p++;
	}
	/* the input had no ".." component either (only slashes dropped) */
	for (p = s; *p;) {
		size_t n = strcspn(p, "/");

		REQUIRE(!(n == 2 && p[0] == '.' && p[1] == '.'));
		p += n;
		while (*p == '/')
			p++;
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *name;

	if (size > 65536)
		return 0;
	/* raw bytes, NUL and all */
	name = pdl_name_sanitize((const char *)data, size);
	REQUIRE(name);
	if (size) {
		check_base(name);
		if (utf8_ok(data, size))
			REQUIRE(utf8_ok((unsigned char *)name, strlen(name)));
		check_derived(name);
	} else {
		REQUIRE(!*name);
	}
	free(name);

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	name = pdl_name_from_url(s);
	check_base(name);
	check_derived(name);
	free(name);

	name = pdl_name_from_disposition(s);
	if (name) {
		check_base(name);
		check_derived(name);
	}
	free(name);

	check_relative(s);
	free(s);
	return 0;
}
