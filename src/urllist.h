/* Reading URL lists: one line at a time from a file or stdin, bounded
 * memory whatever the input, each line checked with libcurl's URL parser. */
#ifndef PDL_URLLIST_H
#define PDL_URLLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Longer lines are reported as unusable, and only this much is ever held. */
#define PDL_LINE_MAX 8192

enum pdl_line_kind {
	PDL_LINE_URL,  /* url (and maybe name) set */
	PDL_LINE_SKIP, /* blank or comment */
	PDL_LINE_BAD,  /* reason set */
	PDL_LINE_EOF,
	PDL_LINE_IOERR, /* reason set; the list cannot be read further */
};

struct pdl_line {
	enum pdl_line_kind kind;
	long lineno;
	char *url;  /* points into the reader's buffer, valid until next call */
	char *name; /* optional NAME column, likewise; NULL when absent */
	const char *reason;
};

struct pdl_list_reader {
	FILE *fp;
	const char *label; /* "-" shows as "<stdin>" */
	bool own_fp;
	long lineno;
	char buf[PDL_LINE_MAX + 1];
	char reason[128];
};

/* path "-" is stdin. Returns -1 with errno set when the file cannot be
 * opened. */
int pdl_list_open(struct pdl_list_reader *r, const char *path);
void pdl_list_close(struct pdl_list_reader *r);
void pdl_list_next(struct pdl_list_reader *r, struct pdl_line *out);

/* Splits one line (already stripped of its newline, len bytes, may contain
 * NUL) in place into url and optional name. Pure; used by pdl_list_next and
 * the tests. */
void pdl_line_parse(char *line, size_t len, struct pdl_line *out);

/* Checks url with libcurl's URL API against a comma-separated protocol list
 * ("http,https"). Returns 0 when usable, else -1 with *reason static text. */
int pdl_url_check(const char *url, const char *protos, const char **reason);

/* Whether scheme (case aside) is in protos, a --proto list. */
bool pdl_proto_allowed(const char *scheme, const char *protos);

struct Curl_URL;

/* A URL as libcurl reads it, so that the reader parses each line once for
 * the check, the file name and the host key. The libcurl handle is kept
 * from one URL to the next (the reader is one thread). */
struct pdl_url {
	struct Curl_URL *h; /* made on the first parse */
	char *host;
	char *port; /* the scheme's default when the URL names none */
	char *path; /* "." and ".." resolved, as it will be requested */
};

void pdl_url_init(struct pdl_url *u);
void pdl_url_finish(struct pdl_url *u);

/* pdl_url_check() that keeps what it parsed: on 0, u's host and path are
 * set (port may be NULL for a scheme libcurl does not know), valid until
 * the next pdl_url_parse() or pdl_url_finish() on u; on -1 all are NULL. */
int pdl_url_parse(struct pdl_url *u, const char *url, const char *protos,
		  const char **reason);

/* Copy of url with any password replaced by "***"; malloc'd. */
char *pdl_url_redact(const char *url);
/* The same for a line that is not a usable URL: the password may be
 * anything up to its last '@', '/' included (libcurl refuses a '/' in a
 * password, but the user meant one), so more is hidden. */
char *pdl_url_redact_unusable(const char *url);

#endif
