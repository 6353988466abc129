/* Reading URL lists line by line in bounded memory, and deciding which lines
 * are usable URLs. Everything here runs on the single reader thread. */
#include "urllist.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int pdl_list_open(struct pdl_list_reader *r, const char *path)
{
	struct stat st;
	FILE *fp;

	r->fp = NULL;
	r->own_fp = false;
	r->lineno = 0;
	r->reason[0] = '\0';
	if (strcmp(path, "-") == 0) {
		r->fp = stdin;
		r->label = "<stdin>";
		return 0;
	}
	fp = fopen(path, "re");
	if (!fp)
		return -1;
	/* fopen() happily opens a directory; reads would then fail with
	 * EISDIR, too late for the setup error the caller wants to give. */
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		errno = EISDIR;
		return -1;
	}
	r->fp = fp;
	r->label = path;
	r->own_fp = true;
	return 0;
}

void pdl_list_close(struct pdl_list_reader *r)
{
	if (r->fp && r->own_fp)
		fclose(r->fp);
	r->fp = NULL;
	r->own_fp = false;
}

void pdl_list_next(struct pdl_list_reader *r, struct pdl_line *out)
{
	FILE *fp = r->fp;
	char *p = r->buf;
	/* One byte beyond PDL_LINE_MAX is kept so that a line of exactly
	 * PDL_LINE_MAX bytes may still end in CRLF. */
	char *end = r->buf + sizeof(r->buf);
	bool too_long = false, failed;
	size_t len;
	int c, err;

	memset(out, 0, sizeof(*out));
	flockfile(fp);
	while ((c = getc_unlocked(fp)) != '\n' && c != EOF) {
		if (p < end)
			*p++ = (char)c;
		else
			too_long = true;
	}
	err = errno;
	failed = c == EOF && ferror(fp);
	funlockfile(fp);

	len = (size_t)(p - r->buf);
	if (failed) {
		snprintf(r->reason, sizeof(r->reason), "%s", strerror(err));
		out->kind = PDL_LINE_IOERR;
		out->lineno = r->lineno + 1;
		out->reason = r->reason;
		return;
	}
	if (c == EOF && len == 0) {
		out->kind = PDL_LINE_EOF;
		out->lineno = r->lineno;
		return;
	}
	out->lineno = ++r->lineno;
	if (!too_long && len > 0 && r->buf[len - 1] == '\r')
		len--;
	if (too_long || len > PDL_LINE_MAX) {
		out->kind = PDL_LINE_BAD;
		out->reason = "line too long (over 8192 bytes)";
		return;
	}
	r->buf[len] = '\0';
	/* A list saved by an editor that marks UTF-8 starts with a BOM. */
	if (out->lineno == 1 && len >= 3 &&
	    !memcmp(r->buf, "\xef\xbb\xbf", 3)) {
		pdl_line_parse(r->buf + 3, len - 3, out);
		return;
	}
	pdl_line_parse(r->buf, len, out);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The NAME column is everything after the blanks that end the URL, trimmed,
 * so names may contain inner blanks. line[len] must be writable: the URL or
 * name may end there and is NUL-terminated in place. */
void pdl_line_parse(char *line, size_t len, struct pdl_line *out)
{
	size_t i = 0, j;

	out->url = NULL;
	out->name = NULL;
	out->reason = NULL;
	if (memchr(line, '\0', len)) {
		out->kind = PDL_LINE_BAD;
		out->reason = "line contains a NUL byte";
		return;
	}
	while (len > 0 && is_blank(line[len - 1]))
		len--;
	while (i < len && is_blank(line[i]))
		i++;
	if (i == len || line[i] == '#') {
		out->kind = PDL_LINE_SKIP;
		return;
	}
	out->kind = PDL_LINE_URL;
	out->url = line + i;
	while (i < len && !is_blank(line[i]))
		i++;
	j = i;
	while (j < len && is_blank(line[j]))
		j++;
	if (j < len)
		out->name = line + j;
	line[i] = '\0';
	line[len] = '\0';
}

static const struct {
	CURLUcode code;
	const char *text;
} url_errors[] = {
    {CURLUE_MALFORMED_INPUT, "malformed URL"},
    {CURLUE_BAD_PORT_NUMBER, "bad port number"},
    {CURLUE_UNSUPPORTED_SCHEME, "unsupported scheme"},
    {CURLUE_URLDECODE, "bad percent-encoding"},
    {CURLUE_OUT_OF_MEMORY, "out of memory"},
    {CURLUE_NO_HOST, "no host"},
    {CURLUE_BAD_FILE_URL, "bad file URL"},
    {CURLUE_BAD_FRAGMENT, "bad fragment"},
    {CURLUE_BAD_HOSTNAME, "bad host name"},
    {CURLUE_BAD_IPV6, "bad IPv6 address"},
    {CURLUE_BAD_LOGIN, "bad user name or password"},
    {CURLUE_BAD_PASSWORD, "bad password"},
    {CURLUE_BAD_PATH, "bad path"},
    {CURLUE_BAD_QUERY, "bad query"},
    {CURLUE_BAD_SCHEME, "bad scheme"},
    {CURLUE_BAD_SLASHES, "no // after the scheme"},
    {CURLUE_BAD_USER, "bad user name"},
};

static const char *url_error_text(const char *url, CURLUcode rc)
{
	size_t i;

	/* libcurl says "bad scheme" both for "ht_tp://x" and for a bare
	 * "example.com/x"; the latter is the common mistake. */
	if (rc == CURLUE_BAD_SCHEME && !strstr(url, "://"))
		return "no scheme";
	for (i = 0; i < sizeof(url_errors) / sizeof(url_errors[0]); i++)
		if (url_errors[i].code == rc)
			return url_errors[i].text;
	return curl_url_strerror(rc);
}

/* Valid UTF-8: no stray continuation bytes, overlong forms, surrogates. */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t n;
		unsigned long cp;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			n = 2;
			cp = *s & 0x1fu;
		} else if (*s >= 0xe0 && *s <= 0xef) {
			n = 3;
			cp = *s & 0x0fu;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			n = 4;
			cp = *s & 0x07u;
		} else {
			return false;
		}
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3fu);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n;
	}
	return true;
}

bool pdl_proto_allowed(const char *scheme, const char *protos)
{
	size_t n = strlen(scheme);
	const char *p = protos, *q;

	while (*p) {
		q = strchr(p, ',');
		if (!q)
			q = p + strlen(p);
		while (p < q && *p == ' ')
			p++;
		if ((size_t)(q - p) >= n && strncasecmp(p, scheme, n) == 0) {
			const char *t = p + n;

			while (t < q && *t == ' ')
				t++;
			if (t == q)
				return true;
		}
		p = *q ? q + 1 : q;
	}
	return false;
}

/* The scheme refusal names the scheme, so it lives in a per-thread buffer:
 * *reason stays valid until the next check on the same thread. All other
 * reasons are static. */
static _Thread_local char scheme_reason[96];

void pdl_url_init(struct pdl_url *u)
{
	u->h = NULL;
	u->host = NULL;
	u->port = NULL;
	u->path = NULL;
}

static void parts_free(struct pdl_url *u)
{
	curl_free(u->host);
	curl_free(u->port);
	curl_free(u->path);
	u->host = u->port = u->path = NULL;
}

void pdl_url_finish(struct pdl_url *u)
{
	parts_free(u);
	curl_url_cleanup(u->h);
	u->h = NULL;
}

int pdl_url_parse(struct pdl_url *u, const char *url, const char *protos,
		  const char **reason)
{
	const unsigned char *s;
	CURLUcode rc;
	char *scheme = NULL;
	int ret = -1;

	parts_free(u);
	if (!protos)
		protos = "http,https";
	if (!url || !*url) {
		*reason = "empty URL";
		return -1;
	}
	/* libcurl would take some of these (a space in the path, a tab in the
	 * query); they never belong in a URL read from a list. */
	for (s = (const unsigned char *)url; *s; s++) {
		if (*s < 0x20 || *s == 0x7f) {
			*reason = "control character in URL";
			return -1;
		}
		if (*s == ' ') {
			*reason = "space in URL";
			return -1;
		}
	}

	if (!u->h)
		u->h = curl_url();
	if (!u->h) {
		*reason = "out of memory";
		return -1;
	}
	/* A handle that holds a URL would resolve a relative one ("x.com/a")
	 * against it and succeed: every URL starts from an empty handle. */
	curl_url_set(u->h, CURLUPART_URL, NULL, 0);
	/* Unknown schemes parse, so that the refusal below names them. */
	rc = curl_url_set(u->h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (rc) {
		*reason = url_error_text(url, rc);
		goto out;
	}
	rc = curl_url_get(u->h, CURLUPART_SCHEME, &scheme, 0);
	if (rc) {
		*reason = url_error_text(url, rc);
		goto out;
	}
	if (!pdl_proto_allowed(scheme, protos)) {
		snprintf(scheme_reason, sizeof(scheme_reason),
			 "scheme '%.32s' not allowed (--proto)", scheme);
		*reason = scheme_reason;
		goto out;
	}
	rc = curl_url_get(u->h, CURLUPART_HOST, &u->host, 0);
	if (rc || !u->host || !*u->host) {
		*reason = "no host";
		goto out;
	}
	/* libcurl keeps any bytes here and fails only when it converts the
	 * name for the transfer, too late to name the line. */
	if (!utf8_valid(u->host)) {
		*reason = "bad host name";
		goto out;
	}
	/* Port 0 parses but can never be connected to; no default is 0. */
	if (curl_url_get(u->h, CURLUPART_PORT, &u->port, CURLU_DEFAULT_PORT) ==
		CURLUE_OK &&
	    strcmp(u->port, "0") == 0) {
		*reason = "bad port number";
		goto out;
	}
	rc = curl_url_get(u->h, CURLUPART_PATH, &u->path, 0);
	if (rc) {
		*reason = url_error_text(url, rc);
		goto out;
	}
	*reason = NULL;
	ret = 0;
out:
	curl_free(scheme);
	if (ret)
		parts_free(u);
	return ret;
}

int pdl_url_check(const char *url, const char *protos, const char **reason)
{
	struct pdl_url u;
	int ret;

	pdl_url_init(&u);
	ret = pdl_url_parse(&u, url, protos, reason);
	pdl_url_finish(&u);
	return ret;
}

/* Widens [*lo, *hi) to the password of a userinfo starting at auth: from
 * its first ':' to the last '@' before the next '/' (or, with to_end, the
 * last '@' of all). */
static void password_span(const char *auth, bool to_end, const char **lo,
			  const char **hi)
{
	const char *end = auth + (to_end ? strlen(auth) : strcspn(auth, "/"));
	const char *at = NULL, *colon, *p;

	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at)
		return;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (!colon || colon + 1 == at)
		return;
	if (!*lo || colon + 1 < *lo)
		*lo = colon + 1;
	if (!*hi || at > *hi)
		*hi = at;
}

/* Works on the text as given, not on libcurl's parse, so that lines libcurl
 * refuses are redacted too and nothing but the password changes. Where the
 * authority starts is read every way libcurl might read it (after "://",
 * after "scheme:" and any number of slashes, which libcurl also takes, or
 * at the start of a line without a scheme), and every password found that
 * way is hidden: when in doubt more is hidden, never less. */
static char *redact(const char *url, bool to_end)
{
	const char *lo = NULL, *hi = NULL, *p;
	size_t pre, post;
	char *out;

	if (!url)
		return NULL;
	p = strstr(url, "://");
	if (p)
		password_span(p + 3, to_end, &lo, &hi);
	/* libcurl takes any of these as a scheme, even a leading digit */
	p = url + strspn(url, "abcdefghijklmnopqrstuvwxyz"
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (p > url && *p == ':') {
		p++;
		p += strspn(p, "/\\");
		password_span(p, to_end, &lo, &hi);
	}
	/* To the end, a scheme's own ':' would start a "password": the
	 * line is one only where no scheme was found. */
	if (!to_end || !lo)
		password_span(url, to_end, &lo, &hi);
	if (!lo)
		return strdup(url);

	pre = (size_t)(lo - url);
	post = strlen(hi);
	out = malloc(pre + 3 + post + 1);
	if (!out)
		return NULL;
	memcpy(out, url, pre);
	memcpy(out + pre, "***", 3);
	memcpy(out + pre + 3, hi, post + 1);
	return out;
}

char *pdl_url_redact(const char *url)
{
	return redact(url, false);
}

char *pdl_url_redact_unusable(const char *url)
{
	return redact(url, true);
}
