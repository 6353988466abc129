/* Output names: derived from URLs, made safe, numbered on collision. Pure
 * string functions, no I/O. */
#ifndef PDL_NAMING_H
#define PDL_NAMING_H

#include <stddef.h>

#define PDL_NAME_MAX 255

/* The last path segment of url as given, percent-decoded, with query and
 * fragment dropped, made safe by pdl_name_sanitize; "index.html" when empty.
 * malloc'd; NULL only when out of memory. */
char *pdl_name_from_url(const char *url);

/* The same name from the path libcurl parsed out of the URL
 * (CURLUPART_PATH), for a caller that has parsed it already. */
char *pdl_name_from_path(const char *path);

/* Makes one path component safe in place-free fashion: '/', '\\', NUL and
 * control bytes become '_', "." and ".." become "_" and "__", a leading
 * '.' that would hide the file is kept, and the result is cut to
 * PDL_NAME_MAX bytes keeping the extension (and never splitting a UTF-8
 * sequence). len bytes of in are read (they may contain NUL). Returns a
 * malloc'd string; "" only when len is 0. */
char *pdl_name_sanitize(const char *in, size_t len);

/* Checks a NAME given on a list line: relative, no empty, "." or ".."
 * components, no control bytes, each component at most PDL_NAME_MAX bytes.
 * Returns a malloc'd normalised copy (duplicate slashes dropped) or NULL
 * with *reason set. */
char *pdl_name_check_relative(const char *name, const char **reason);

/* "dir/a.tar.jpg", n=2 -> "dir/a.tar.2.jpg"; "a" -> "a.2"; ".bashrc" ->
 * ".bashrc.2". The numbered base still fits PDL_NAME_MAX. malloc'd. */
char *pdl_name_numbered(const char *name, unsigned n);

/* How many of the len bytes of s to keep so that at most max remain
 * without splitting a UTF-8 sequence. */
size_t pdl_utf8_cut(const char *s, size_t len, size_t max);

/* Base name from a Content-Disposition header value, made safe; NULL when
 * the header names nothing usable. malloc'd. */
char *pdl_name_from_disposition(const char *value);

#endif
