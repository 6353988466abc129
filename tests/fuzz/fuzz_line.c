/* libFuzzer harness: bytes as one list line through pdl_line_parse, the URL
 * through pdl_url_check, pdl_url_parse and pdl_url_redact, with what each
 * promises. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "urllist.h"

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void check_parse(const char *buf, size_t len, const uint8_t *data,
			const struct pdl_line *l)
{
	size_t i = 0;

	if (memchr(data, '\0', len)) {
		REQUIRE(l->kind == PDL_LINE_BAD && l->reason && *l->reason);
		return;
	}
	while (i < len && blank((char)data[i]))
		i++;
	if (i == len || data[i] == '#') {
		REQUIRE(l->kind == PDL_LINE_SKIP);
		return;
	}
	REQUIRE(l->kind == PDL_LINE_URL);
	REQUIRE(l->url >= buf && l->url < buf + len);
	REQUIRE(*l->url && !blank(*l->url) && *l->url != '#');
	for (const char *p = l->url; *p; p++)
		REQUIRE(!blank(*p));
	/* the URL is the first word, as it was in the input */
	REQUIRE(!memcmp(l->url, data + i, strlen(l->url)));
	if (l->name) {
		size_t n = strlen(l->name);

		REQUIRE(l->name > l->url + strlen(l->url));
		REQUIRE(l->name < buf + len);
		REQUIRE(n > 0 && !blank(l->name[0]) && !blank(l->name[n - 1]));
	}
}

/* What libcurl would send as the password of url, or NULL. */
static char *curl_password(const char *url)
{
	CURLU *h = curl_url();
	char *pw = NULL;

	if (h &&
	    !curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) &&
	    curl_url_get(h, CURLUPART_PASSWORD, &pw, 0) != CURLUE_OK)
		pw = NULL;
	curl_url_cleanup(h);
	return pw;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, nl = strlen(needle);

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return nl ? n : 0;
}

static void check_redact(const char *url)
{
	char *red = pdl_url_redact(url), *pw, *pw2;

	REQUIRE(red);
	/* nothing but a password changes */
	if (strcmp(red, url)) {
		REQUIRE(strstr(red, "***"));
		REQUIRE(strlen(red) <= strlen(url) + 3);
	}
	pw = curl_password(url);
	if (pw && *pw) {
		/* the password libcurl would send is gone from the text */
		if (count(url, pw) == 1 && !strchr(pw, '*'))
			REQUIRE(!strstr(red, pw));
		pw2 = curl_password(red);
		REQUIRE(!pw2 || strcmp(pw2, pw) || !strcmp(pw, "***"));
		curl_free(pw2);
	}
	curl_free(pw);
	REQUIRE(pdl_url_redact(NULL) == NULL);
	free(red);
}

/* Kept from one input to the next, as the reader keeps it across lines. */
static struct pdl_url reused;

/* The reused handle answers as a fresh one does, whatever came before. */
static void check_reused(const char *url, const char *protos, int rc,
			 const char *reason)
{
	const char *r2 = (const char *)1;
	char first[128];

	snprintf(first, sizeof(first), "%s", rc ? reason : "");
	REQUIRE(pdl_url_parse(&reused, url, protos, &r2) == rc);
	if (rc) {
		REQUIRE(r2 && !strcmp(r2, first));
		REQUIRE(!reused.host && !reused.port && !reused.path);
	} else {
		REQUIRE(r2 == NULL);
		REQUIRE(reused.host && *reused.host && reused.path);
	}
}

static void check_url(const char *url, const char *protos)
{
	const char *reason = (const char *)1;
	int rc = pdl_url_check(url, protos, &reason);

	check_reused(url, protos, rc, reason);
	if (rc == 0) {
		REQUIRE(reason == NULL);
		for (const unsigned char *p = (const unsigned char *)url; *p;
		     p++)
			REQUIRE(*p > 0x20 && *p != 0x7f);
		if (!strcmp(protos, "http,https"))
			REQUIRE(!strncasecmp(url, "http:", 5) ||
				!strncasecmp(url, "https:", 6));
		if (!strcmp(protos, "https"))
			REQUIRE(!strncasecmp(url, "https:", 6));
	} else {
		REQUIRE(rc == -1 && reason && *reason);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdl_line l;
	char *buf;

	/* the reader refuses longer lines before they are parsed */
	if (size > PDL_LINE_MAX)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	memset(&l, 0x5a, sizeof(l));
	pdl_line_parse(buf, size, &l);
	check_parse(buf, size, data, &l);
	if (l.kind == PDL_LINE_URL) {
		check_url(l.url, "http,https");
		check_url(l.url, "https");
		check_redact(l.url);
	}
	/* the redaction also sees lines that were never URLs */
	if (!memchr(data, '\0', size)) {
		memcpy(buf, data, size);
		buf[size] = '\0';
		check_redact(buf);
	}
	free(buf);
	return 0;
}
