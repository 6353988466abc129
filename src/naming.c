/* Output names: what a URL or a Content-Disposition header calls a file,
 * reduced to one safe path component, and numbered on collision. */
#include "naming.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A longer "extension" is more likely part of the name than a type. */
#define EXT_MAX 32

static size_t utf8_seqlen(unsigned char lead)
{
	if (lead >= 0xc0 && lead <= 0xdf)
		return 2;
	if (lead >= 0xe0 && lead <= 0xef)
		return 3;
	if (lead >= 0xf0 && lead <= 0xf7)
		return 4;
	return 1;
}

/* Invalid bytes are names too on Linux, so they are only ever cut, never
 * rejected. */
size_t pdl_utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len <= max)
		return len;
	if ((u[max] & 0xc0) != 0x80)
		return max;
	for (size_t i = max; i > 0 && max - i < 3; i--) {
		unsigned char c = u[i - 1];

		if ((c & 0xc0) == 0x80)
			continue;
		if (utf8_seqlen(c) > max - (i - 1))
			return i - 1;
		break;
	}
	return max;
}

/* Where the extension of a base name starts, or len when it has none. A
 * leading dot hides a file rather than starting an extension, so the dot
 * must follow something other than dots. */
static size_t ext_start(const char *s, size_t len)
{
	size_t dot = len;

	for (size_t i = len; i > 0; i--) {
		if (s[i - 1] == '.') {
			dot = i - 1;
			break;
		}
	}
	if (dot == len || len - dot > EXT_MAX)
		return len;
	for (size_t i = 0; i < dot; i++)
		if (s[i] != '.')
			return dot;
	return len;
}

static bool bad_byte(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '/' || c == '\\';
}

char *pdl_name_sanitize(const char *in, size_t len)
{
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++)
		out[i] = bad_byte((unsigned char)in[i]) ? '_' : in[i];
	out[len] = '\0';
	if (len == 1 && out[0] == '.')
		out[0] = '_';
	else if (len == 2 && out[0] == '.' && out[1] == '.')
		out[0] = out[1] = '_';
	if (len > PDL_NAME_MAX) {
		size_t ext = ext_start(out, len);
		size_t extlen = len - ext;
		size_t keep = pdl_utf8_cut(out, ext, PDL_NAME_MAX - extlen);

		memmove(out + keep, out + ext, extlen + 1);
	}
	return out;
}

/* Used when libcurl refuses the URL (spaces, no scheme): the path runs
 * from the first '/' after the authority to the query or fragment. */
static void manual_path(const char *url, const char **path, size_t *len)
{
	const char *p = strstr(url, "://");

	if (p) {
		p += 3;
		p += strcspn(p, "/?#");
		if (*p != '/') {
			*path = p;
			*len = 0;
			return;
		}
	} else {
		p = url;
	}
	*path = p;
	*len = strcspn(p, "?#");
}

static char *decoded_name(const char *seg, size_t len)
{
	char *raw, *name;
	int rawlen;

	/* curl_easy_unescape takes 0 to mean strlen() */
	if (!len)
		return strdup("index.html");
	if (len > INT_MAX)
		len = INT_MAX;
	raw = curl_easy_unescape(NULL, seg, (int)len, &rawlen);
	if (!raw)
		return NULL;
	name = rawlen ? pdl_name_sanitize(raw, (size_t)rawlen)
		      : strdup("index.html");
	curl_free(raw);
	return name;
}

/* The last segment of the len bytes at path, decoded and made safe. */
static char *last_segment_name(const char *path, size_t len)
{
	const char *seg = path + len;

	while (seg > path && seg[-1] != '/')
		seg--;
	return decoded_name(seg, len - (size_t)(seg - path));
}

char *pdl_name_from_path(const char *path)
{
	return last_segment_name(path, strlen(path));
}

char *pdl_name_from_url(const char *url)
{
	CURLU *h = curl_url();
	char *cpath = NULL, *name;
	const char *path;
	size_t len;

	if (!h)
		return NULL;
	/* libcurl drops "." and ".." segments here exactly as it will in
	 * the request, so the name is that of the resource fetched. */
	if (!curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) &&
	    !curl_url_get(h, CURLUPART_PATH, &cpath, 0)) {
		path = cpath;
		len = strlen(cpath);
	} else {
		manual_path(url, &path, &len);
	}
	name = last_segment_name(path, len);
	curl_free(cpath);
	curl_url_cleanup(h);
	return name;
}

char *pdl_name_check_relative(const char *name, const char **reason)
{
	size_t len = strlen(name), o = 0;
	const char *p = name;
	char *out;

	if (!len) {
		*reason = "name is empty";
		return NULL;
	}
	if (name[0] == '/') {
		*reason = "name is absolute";
		return NULL;
	}
	/* PATH_MAX counts the terminating NUL */
	if (len >= PATH_MAX) {
		*reason = "name is too long";
		return NULL;
	}
	if (name[len - 1] == '/') {
		*reason = "name names a directory";
		return NULL;
	}
	out = malloc(len + 1);
	if (!out) {
		*reason = "out of memory";
		return NULL;
	}
	while (*p) {
		size_t clen = strcspn(p, "/");

		for (size_t i = 0; i < clen; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c < 0x20 || c == 0x7f) {
				*reason = "name has a control character";
				goto fail;
			}
			if (c == '\\') {
				*reason = "name has a backslash";
				goto fail;
			}
		}
		if (clen == 1 && p[0] == '.') {
			*reason = "name has a '.' component";
			goto fail;
		}
		if (clen == 2 && p[0] == '.' && p[1] == '.') {
			*reason = "name has a '..' component";
			goto fail;
		}
		if (clen > PDL_NAME_MAX) {
			*reason = "name has a component over 255 bytes";
			goto fail;
		}
		if (clen) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, clen);
			o += clen;
		}
		p += clen;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	return out;
fail:
	free(out);
	return NULL;
}

char *pdl_name_numbered(const char *name, unsigned n)
{
	const char *slash = strrchr(name, '/');
	size_t dirlen = slash ? (size_t)(slash - name) + 1 : 0;
	const char *base = name + dirlen;
	size_t blen = strlen(base), ext, extlen, stem;
	char num[16];
	int numlen;
	char *out;

	if (!n)
		return strdup(name);
	numlen = snprintf(num, sizeof(num), ".%u", n);
	/* "a." has the empty extension ".", so it becomes "a.1." */
	ext = ext_start(base, blen);
	extlen = blen - ext;
	stem = pdl_utf8_cut(base, ext, PDL_NAME_MAX - (size_t)numlen - extlen);
	out = malloc(dirlen + stem + (size_t)numlen + extlen + 1);
	if (!out)
		return NULL;
	memcpy(out, name, dirlen + stem);
	memcpy(out + dirlen + stem, num, (size_t)numlen);
	memcpy(out + dirlen + stem + (size_t)numlen, base + ext, extlen + 1);
	return out;
}

/* filename*=charset'lang'pct-encoded (RFC 8187), turned into UTF-8;
 * NULL for a charset we cannot convert. */
static char *ext_value(const char *v, size_t *outlen)
{
	const char *q1 = strchr(v, '\''), *q2, *enc;
	char *raw, *out;
	int rawlen;
	bool latin1;
	size_t csl, o = 0;

	if (!q1)
		return NULL;
	q2 = strchr(q1 + 1, '\'');
	if (!q2)
		return NULL;
	csl = (size_t)(q1 - v);
	if ((csl == 5 && !strncasecmp(v, "UTF-8", 5)) ||
	    (csl == 8 && !strncasecmp(v, "US-ASCII", 8)))
		latin1 = false;
	else if (csl == 10 && !strncasecmp(v, "ISO-8859-1", 10))
		latin1 = true;
	else
		return NULL;
	enc = q2 + 1;
	if (!*enc || strlen(enc) > INT_MAX)
		return NULL;
	raw = curl_easy_unescape(NULL, enc, (int)strlen(enc), &rawlen);
	if (!raw)
		return NULL;
	out = malloc((size_t)rawlen * 2 + 1);
	if (out) {
		for (int i = 0; i < rawlen; i++) {
			unsigned char c = (unsigned char)raw[i];

			if (latin1 && c >= 0x80) {
				out[o++] = (char)(0xc0 | c >> 6);
				out[o++] = (char)(0x80 | (c & 0x3f));
			} else {
				out[o++] = (char)c;
			}
		}
		out[o] = '\0';
		*outlen = o;
	}
	curl_free(raw);
	return out;
}

/* The usable base name in len bytes of raw (which may hold NUL), or NULL. */
static char *base_of(const char *raw, size_t len)
{
	size_t start = len;

	while (start > 0 && raw[start - 1] != '/' && raw[start - 1] != '\\')
		start--;
	raw += start;
	len -= start;
	if (!len || (len == 1 && raw[0] == '.') ||
	    (len == 2 && raw[0] == '.' && raw[1] == '.'))
		return NULL;
	return pdl_name_sanitize(raw, len);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Copies one parameter value at *pp (a quoted-string or a token) to a new
 * string and leaves *pp at the next ';' or the end. */
static char *param_value(const char **pp)
{
	const char *p = *pp;
	size_t len = strlen(p), o = 0;
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[o++] = *p;
		}
		p += strcspn(p, ";");
	} else {
		size_t vlen = strcspn(p, ";");

		memcpy(out, p, vlen);
		p += vlen;
		o = vlen;
		while (o && is_blank(out[o - 1]))
			o--;
	}
	out[o] = '\0';
	*pp = p;
	return out;
}

char *pdl_name_from_disposition(const char *value)
{
	char *plain = NULL, *star = NULL, *name = NULL;
	const char *p = value;

	while (*p) {
		const char *key;
		size_t klen;
		char *v;

		while (*p == ';' || is_blank(*p))
			p++;
		key = p;
		while (*p && *p != '=' && *p != ';' && !is_blank(*p))
			p++;
		klen = (size_t)(p - key);
		while (is_blank(*p))
			p++;
		if (*p != '=') {
			/* the disposition type, or junk */
			p += strcspn(p, ";");
			continue;
		}
		p++;
		while (is_blank(*p))
			p++;
		v = param_value(&p);
		if (!v)
			goto out;
		if (klen == 9 && !strncasecmp(key, "filename*", 9) && !star)
			star = v;
		else if (klen == 8 && !strncasecmp(key, "filename", 8) &&
			 !plain)
			plain = v;
		else
			free(v);
	}
	if (star) {
		size_t len;
		char *raw = ext_value(star, &len);

		if (raw)
			name = base_of(raw, len);
		free(raw);
	}
	if (!name && plain)
		name = base_of(plain, strlen(plain));
out:
	free(plain);
	free(star);
	return name;
}
