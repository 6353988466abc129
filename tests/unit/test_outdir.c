/* Unit tests for outdir.c, run in a fresh temporary directory: name
 * reservation, atomic commit, resume, and refusal to follow symlinks. */
#include "check.h"
#include "naming.h"
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NTHREADS 8
#define ROUNDS	 1000
#define MANY	 500
#define LOTS	 10050

static void write_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");

	if (!fp || fputs(content, fp) == EOF || fclose(fp)) {
		perror(path);
		abort();
	}
}

/* The whole file as a string, or NULL when it cannot be read. */
static char *read_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!fp)
		return NULL;
	FILE *mem = open_memstream(&buf, &len);
	int c;

	while ((c = getc(fp)) != EOF)
		putc(c, mem);
	fclose(mem);
	fclose(fp);
	return buf;
}

#define CHECK_FILE(path, want)                    \
	do {                                      \
		char *content_ = read_file(path); \
		CHECK_STR(content_, want);        \
		free(content_);                   \
	} while (0)

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* Entries in dir other than "." and "..", and how many are temporaries. */
static int count_entries(const char *dir, int *parts)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int n = 0;

	*parts = 0;
	if (!dp)
		return -1;
	while ((de = readdir(dp))) {
		size_t len = strlen(de->d_name);

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		if (len > 9 && !strcmp(de->d_name + len - 9, ".pdl-part"))
			(*parts)++;
	}
	closedir(dp);
	return n;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static void open_dir(struct pdl_outdir *d, const char *path)
{
	char err[512] = "";

	memset(d, 0, sizeof(*d));
	if (pdl_outdir_open(d, path, true, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
}

/* Reserves want and checks the name given. */
static char *reserve_as(struct pdl_outdir *d, const char *want, bool resume,
			enum pdl_reserve want_rc, const char *want_name)
{
	char *final = NULL;

	CHECK_INT(pdl_outdir_reserve(d, want, resume, &final), want_rc);
	CHECK_STR(final, want_name);
	return final;
}

/* Hands a reserved name back and frees it. */
static void drop(struct pdl_outdir *d, char *name)
{
	pdl_outdir_release(d, name);
	free(name);
}

/* Writes content under relname through the temporary file and commits. */
static int put(struct pdl_outdir *d, const char *relname, const char *content)
{
	struct pdl_outfile f;

	if (pdl_outfile_open(&f, d, relname, false) < 0)
		return -1;
	if (pdl_outfile_write(&f, content, strlen(content)) < 0) {
		pdl_outfile_abort(&f, false);
		return -1;
	}
	return pdl_outfile_commit(&f);
}

static void check_open_fails(const char *path, const char *want_reason)
{
	struct pdl_outdir d;
	char err[512] = "";

	memset(&d, 0, sizeof(d));
	CHECK_INT(pdl_outdir_open(&d, path, true, err, sizeof(err)), -1);
	CHECK_INT(d.dirfd, -1);
	if (!strstr(err, path) || !strstr(err, want_reason))
		fprintf(stderr, "open %s: reason \"%s\", want \"%s\"\n", path,
			err, want_reason);
	CHECK(strstr(err, path) && strstr(err, want_reason));
	pdl_outdir_close(&d);
}

/* Needs a mount namespace of its own, so it runs in a child. 77: skip. */
static int read_only_child(void)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("ro", "ro", NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, "ro", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return 77;
	check_open_fails("ro", "Read-only file system");
	check_open_fails("ro/sub/dir", "Read-only file system");
	return check_failures ? 1 : 0;
}

static void test_open(void)
{
	struct pdl_outdir d;
	struct stat st;
	int parts;
	pid_t pid;
	int status = 0;

	open_dir(&d, "o1/b/c");
	CHECK(!stat("o1/b/c", &st) && S_ISDIR(st.st_mode));
	CHECK(d.dirfd >= 0);
	/* the probe file is gone */
	CHECK_INT(count_entries("o1/b/c", &parts), 0);
	pdl_outdir_close(&d);
	CHECK_INT(d.dirfd, -1);

	open_dir(&d, "o1/b/c");
	pdl_outdir_close(&d);
	open_dir(&d, "o2//x///");
	CHECK(!stat("o2/x", &st) && S_ISDIR(st.st_mode));
	pdl_outdir_close(&d);

	write_file("plain", "x");
	check_open_fails("/dev/null/sub", "Not a directory");
	check_open_fails("plain", "Not a directory");
	check_open_fails("plain/sub/deeper", "Not a directory");
	CHECK_FILE("plain", "x");

	mkdir("ro", 0777);
	if (geteuid()) {
		chmod("ro", 0555);
		check_open_fails("ro", "Permission denied");
		check_open_fails("ro/sub", "Permission denied");
		return;
	}
	/* root writes through 0555: only a read-only mount stops it */
	fflush(stderr);
	pid = fork();
	if (!pid)
		_exit(read_only_child());
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		CHECK(!"read-only test ran");
		return;
	}
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "note: no mount namespace, read-only test "
				"skipped\n");
	else
		CHECK_INT(WEXITSTATUS(status), 0);
}

static void test_reserve(void)
{
	struct pdl_outdir d;
	static char *lots[LOTS];
	char *a, *a1, *b, *x, *many[MANY];

	/* there before the run (names made since are found by the commit:
	 * test_taken_names) */
	CHECK_INT(mkdir("r", 0777), 0);
	write_file("r/b.jpg", "old");
	CHECK_INT(symlink("nowhere", "r/c.jpg"), 0);
	CHECK_INT(mkdir("r/dir.jpg", 0777), 0);
	open_dir(&d, "r");
	a = reserve_as(&d, "a.jpg", false, PDL_RESERVE_OK, "a.jpg");
	a1 = reserve_as(&d, "a.jpg", false, PDL_RESERVE_OK, "a.1.jpg");
	x = reserve_as(&d, "a.jpg", false, PDL_RESERVE_OK, "a.2.jpg");
	drop(&d, a);
	/* nothing was written under a.jpg: it is free again */
	a = reserve_as(&d, "a.jpg", false, PDL_RESERVE_OK, "a.jpg");
	drop(&d, a1);
	a1 = reserve_as(&d, "a.jpg", false, PDL_RESERVE_OK, "a.1.jpg");
	pdl_outdir_release(&d, a);
	pdl_outdir_release(&d, a1);
	pdl_outdir_release(&d, x);
	free(a);
	free(a1);
	free(x);
	pdl_outdir_release(&d, "never-reserved");

	/* an existing file is taken, and stays as it was */
	b = reserve_as(&d, "b.jpg", false, PDL_RESERVE_OK, "b.1.jpg");
	CHECK_INT(put(&d, b, "new"), 0);
	CHECK_FILE("r/b.jpg", "old");
	CHECK_FILE("r/b.1.jpg", "new");
	drop(&d, b);
	/* ... and so is the committed one, once released */
	drop(&d, reserve_as(&d, "b.jpg", false, PDL_RESERVE_OK, "b.2.jpg"));

	/* a dangling symlink is a name in use, and a directory too */
	drop(&d, reserve_as(&d, "c.jpg", false, PDL_RESERVE_OK, "c.1.jpg"));
	drop(&d, reserve_as(&d, "dir.jpg", false, PDL_RESERVE_OK, "dir.1.jpg"));

	/* names in subdirectories, including ones not created yet */
	a = reserve_as(&d, "s/t/x.txt", false, PDL_RESERVE_OK, "s/t/x.txt");
	a1 = reserve_as(&d, "s/t/x.txt", false, PDL_RESERVE_OK, "s/t/x.1.txt");
	x = reserve_as(&d, "plainfile/x", false, PDL_RESERVE_OK, "plainfile/x");
	pdl_outdir_release(&d, a);
	pdl_outdir_release(&d, a1);
	pdl_outdir_release(&d, x);
	free(a);
	free(a1);
	free(x);

	/* resume: an existing file is reported, and held for the run, so a
	 * later URL of the same name moves on to the next number as in the
	 * run that made the files */
	b = reserve_as(&d, "b.jpg", true, PDL_RESERVE_EXISTS, "b.jpg");
	x = reserve_as(&d, "b.jpg", true, PDL_RESERVE_EXISTS, "b.1.jpg");
	drop(&d, reserve_as(&d, "b.jpg", true, PDL_RESERVE_OK, "b.2.jpg"));
	pdl_outdir_release(&d, x);
	drop(&d, b);
	free(x);
	drop(&d, reserve_as(&d, "c.jpg", true, PDL_RESERVE_EXISTS, "c.jpg"));
	/* ... but a directory is no file of the URL's: numbered past */
	drop(&d, reserve_as(&d, "dir.jpg", true, PDL_RESERVE_OK, "dir.1.jpg"));
	a = reserve_as(&d, "new.jpg", true, PDL_RESERVE_OK, "new.jpg");
	a1 = reserve_as(&d, "new.jpg", true, PDL_RESERVE_OK, "new.1.jpg");
	drop(&d, a);
	drop(&d, a1);

	/* overwrite: disk does not count, names in flight still do */
	d.overwrite = true;
	b = reserve_as(&d, "b.jpg", false, PDL_RESERVE_OK, "b.jpg");
	x = reserve_as(&d, "b.jpg", false, PDL_RESERVE_OK, "b.1.jpg");
	drop(&d, b);
	drop(&d, x);
	/* ... and so do the files the run wrote, for the rest of the run */
	b = reserve_as(&d, "w.jpg", false, PDL_RESERVE_OK, "w.jpg");
	CHECK_INT(put(&d, b, "one"), 0);
	pdl_outdir_release_written(&d, b);
	free(b);
	x = reserve_as(&d, "w.jpg", false, PDL_RESERVE_OK, "w.1.jpg");
	drop(&d, x);
	d.overwrite = false;

	/* a final name never doubles as another transfer's temporary */
	a = reserve_as(&d, "t", false, PDL_RESERVE_OK, "t");
	x = reserve_as(&d, ".t.pdl-part", false, PDL_RESERVE_OK, "_t.pdl-part");
	drop(&d, a);
	drop(&d, x);
	/* ... nor looks like one to a later run: the dot becomes '_' */
	x = reserve_as(&d, ".u.pdl-part", false, PDL_RESERVE_OK, "_u.pdl-part");
	drop(&d, reserve_as(&d, "u", false, PDL_RESERVE_OK, "u"));
	drop(&d, x);
	drop(&d, reserve_as(&d, "u", false, PDL_RESERVE_OK, "u"));

	/* a name that cannot be looked up is an error, not a free name */
	CHECK_INT(symlink("loop", "r/loop"), 0);
	x = reserve_as(&d, "loop/x", false, PDL_RESERVE_ERROR, NULL);
	CHECK_INT(errno, ELOOP);
	free(x);

	/* many in flight at once: all distinct, numbered in order */
	for (int i = 0; i < MANY; i++) {
		char want[32];

		if (i)
			snprintf(want, sizeof(want), "m.%d.txt", i);
		else
			snprintf(want, sizeof(want), "m.txt");
		many[i] = reserve_as(&d, "m.txt", false, PDL_RESERVE_OK, want);
	}
	for (int i = 0; i < MANY; i++) {
		pdl_outdir_release(&d, many[i]);
		free(many[i]);
	}
	drop(&d, reserve_as(&d, "m.txt", false, PDL_RESERVE_OK, "m.txt"));

	/* one name for a long list: each reservation stays cheap, and a
	 * number freed without a file is handed out again */
	for (int i = 0; i < LOTS; i++) {
		if (pdl_outdir_reserve(&d, "h.txt", false, &lots[i]) !=
		    PDL_RESERVE_OK) {
			CHECK(!"reserved");
			break;
		}
	}
	CHECK_STR(lots[LOTS - 1], "h.10049.txt");
	pdl_outdir_release(&d, lots[5000]);
	free(lots[5000]);
	lots[5000] =
	    reserve_as(&d, "h.txt", false, PDL_RESERVE_OK, "h.5000.txt");
	drop(&d, reserve_as(&d, "h.txt", false, PDL_RESERVE_OK, "h.10050.txt"));
	for (int i = 0; i < LOTS; i++) {
		pdl_outdir_release(&d, lots[i]);
		free(lots[i]);
	}

	/* committed files keep their numbers after release */
	for (int i = 0; i < 3; i++) {
		char want[32];

		snprintf(want, sizeof(want), i ? "k.%d.txt" : "k.txt", i);
		x = reserve_as(&d, "k.txt", false, PDL_RESERVE_OK, want);
		CHECK_INT(put(&d, x, "k"), 0);
		pdl_outdir_release(&d, x);
		free(x);
	}
	drop(&d, reserve_as(&d, "k.txt", false, PDL_RESERVE_OK, "k.3.txt"));

	pdl_outdir_close(&d);
}

static void test_write_commit(void)
{
	struct pdl_outdir d;
	struct pdl_outfile f;
	size_t big = 3 << 20;
	char *buf = malloc(big), *got;
	int parts;
	FILE *fp;

	open_dir(&d, "w");
	for (size_t i = 0; i < big; i++)
		buf[i] = (char)(i * 7 + i / 251);
	CHECK_INT(pdl_outfile_open(&f, &d, "w.bin", false), 0);
	/* unnamed where the file system allows (test_unnamed) */
	CHECK(exists("w/.w.bin.pdl-part") == !f.unnamed);
	CHECK(!exists("w/w.bin"));
	CHECK_INT(pdl_outfile_write(&f, "", 0), 0);
	CHECK_INT(pdl_outfile_write(&f, buf, 1), 0);
	CHECK_INT(pdl_outfile_write(&f, buf + 1, big - 1), 0);
	CHECK_INT(f.written, big);
	CHECK_INT(f.resumed_from, 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_INT(f.fd, -1);
	CHECK(!f.tmpname && !f.base);
	fp = fopen("w/w.bin", "rb");
	got = malloc(big + 1);
	CHECK(fp && fread(got, 1, big + 1, fp) == big);
	CHECK(!memcmp(got, buf, big));
	if (fp)
		fclose(fp);
	free(got);
	free(buf);
	CHECK_INT(count_entries("w", &parts), 1);
	CHECK_INT(parts, 0);

	/* abort removes the temporary file, or keeps it for -c */
	CHECK_INT(pdl_outfile_open(&f, &d, "ab.txt", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "partial", 7), 0);
	pdl_outfile_abort(&f, false);
	CHECK(!exists("w/.ab.txt.pdl-part") && !exists("w/ab.txt"));
	pdl_outfile_abort(&f, false); /* harmless twice */

	d.keep_partial = true; /* -c */
	CHECK_INT(pdl_outfile_open(&f, &d, "res.txt", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "hello ", 6), 0);
	pdl_outfile_abort(&f, true);
	CHECK_FILE("w/.res.txt.pdl-part", "hello ");
	CHECK(!exists("w/res.txt"));

	/* resume appends to the kept part */
	CHECK_INT(pdl_outfile_open(&f, &d, "res.txt", true), 0);
	CHECK_INT(f.resumed_from, 6);
	CHECK_INT(f.written, 0);
	CHECK_INT(pdl_outfile_write(&f, "world", 5), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("w/res.txt", "hello world");
	CHECK(!exists("w/.res.txt.pdl-part"));

	/* the server ignored the Range: start over in the same file */
	write_file("w/.tr.txt.pdl-part", "xxxxxxxx");
	CHECK_INT(pdl_outfile_open(&f, &d, "tr.txt", true), 0);
	CHECK_INT(f.resumed_from, 8);
	CHECK_INT(pdl_outfile_truncate(&f), 0);
	CHECK_INT(f.resumed_from, 0);
	CHECK_INT(pdl_outfile_write(&f, "new", 3), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("w/tr.txt", "new");

	/* resume without a kept part starts a new one */
	CHECK_INT(pdl_outfile_open(&f, &d, "fresh.txt", true), 0);
	CHECK_INT(f.resumed_from, 0);
	pdl_outfile_abort(&f, false);
	d.keep_partial = false;

	/* without resume, a part a killed run left is stale and goes; an
	 * unnamed file holds no name, and the stale one it removed is not
	 * held either */
	write_file("w/.st.txt.pdl-part", "stale and longer");
	pdl_outdir_close(&d);
	open_dir(&d, "w");
	CHECK_INT(pdl_outfile_open(&f, &d, "st.txt", false), 0);
	CHECK_INT(d.nheld, f.unnamed ? 0 : 1);
	CHECK_INT(pdl_outfile_write(&f, "fresh", 5), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_INT(d.nheld, 0);
	CHECK_FILE("w/st.txt", "fresh");

	CHECK_INT(count_entries("w", &parts), 4);
	CHECK_INT(parts, 0);
	pdl_outdir_close(&d);
}

#define NOTE "user.pdl.validator"

/* The attribute NOTE of path, "" when it has none. */
static const char *noted_on(const char *path)
{
	static char buf[300];
	ssize_t n = getxattr(path, NOTE, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* A name that is a file for one URL and a directory on another's way:
 * the URL reserved first has it. */
static void test_file_or_directory(void)
{
	struct pdl_outdir d;
	char *x, *y, *s1, *f, *k, *k1;
	char *none = NULL;

	open_dir(&d, "fd");
	x = reserve_as(&d, "sub/x", false, PDL_RESERVE_OK, "sub/x");
	y = reserve_as(&d, "sub/deep/y", false, PDL_RESERVE_OK, "sub/deep/y");
	s1 = reserve_as(&d, "sub", false, PDL_RESERVE_OK, "sub.1");
	drop(&d, s1);
	s1 = reserve_as(&d, "sub/deep", false, PDL_RESERVE_OK, "sub/deep.1");
	drop(&d, s1);
	/* held while any name under it is */
	drop(&d, x);
	s1 = reserve_as(&d, "sub", false, PDL_RESERVE_OK, "sub.1");
	drop(&d, s1);
	drop(&d, y);
	/* nothing under it now, nothing on disk: free */
	s1 = reserve_as(&d, "sub", false, PDL_RESERVE_OK, "sub");

	/* a path through a file of the run fails, numbered or not */
	CHECK_INT(pdl_outdir_reserve(&d, "sub/x", false, &none),
		  PDL_RESERVE_ERROR);
	CHECK_INT(errno, ENOTDIR);
	CHECK(!none);
	CHECK_INT(pdl_outdir_reserve(&d, "sub/a/b", false, &none),
		  PDL_RESERVE_ERROR);
	CHECK_INT(errno, ENOTDIR);
	f = reserve_as(&d, "subway/x", false, PDL_RESERVE_OK, "subway/x");
	drop(&d, f);
	drop(&d, s1);

	/* kept names (-n, -c, a URL that failed) hold their directories for
	 * the rest of the run, and a kept file its name */
	k = reserve_as(&d, "k/l", false, PDL_RESERVE_OK, "k/l");
	pdl_outdir_keep(&d, k);
	free(k);
	k1 = reserve_as(&d, "k", false, PDL_RESERVE_OK, "k.1");
	pdl_outdir_keep(&d, k1);
	free(k1);
	CHECK_INT(pdl_outdir_reserve(&d, "k.1/m", false, &none),
		  PDL_RESERVE_ERROR);
	CHECK_INT(errno, ENOTDIR);
	k1 = reserve_as(&d, "k", false, PDL_RESERVE_OK, "k.2");
	drop(&d, k1);
	pdl_outdir_close(&d);
}

/* A -c part notes its validator; the run that takes it up reads it, and
 * the note goes when the file is whole or taken up without resume. */
static void test_notes(void)
{
	struct pdl_outdir d;
	struct pdl_outfile f;
	char v[64];

	open_dir(&d, "notes");
	write_file("notes/probe", "");
	if (setxattr("notes/probe", NOTE, "x", 1, 0) < 0) {
		fprintf(stderr, "no user xattrs here (%s): notes skipped\n",
			strerror(errno));
		pdl_outdir_close(&d);
		return;
	}
	d.keep_partial = true; /* -c */
	CHECK_INT(pdl_outfile_open(&f, &d, "n.bin", true), 0);
	CHECK(!f.noted);
	CHECK_INT(pdl_outfile_note(&f, ""), 0); /* nothing to remove */
	CHECK_STR(noted_on("notes/.n.bin.pdl-part"), "");
	CHECK_INT(pdl_outfile_note(&f, "\"v1\""), 0);
	CHECK(f.noted);
	CHECK_INT(pdl_outfile_write(&f, "head", 4), 0);
	pdl_outfile_abort(&f, true);
	CHECK_STR(noted_on("notes/.n.bin.pdl-part"), "\"v1\"");

	/* taken up again: read back, then replaced by another */
	CHECK_INT(pdl_outfile_open(&f, &d, "n.bin", true), 0);
	CHECK(f.noted);
	pdl_outfile_noted(&f, v, sizeof(v));
	CHECK_STR(v, "\"v1\"");
	CHECK_INT(pdl_outfile_note(&f, "Mon, 01 Jan 2024 00:00:00 GMT"), 0);
	pdl_outfile_noted(&f, v, sizeof(v));
	CHECK_STR(v, "Mon, 01 Jan 2024 00:00:00 GMT");
	/* a buffer too small for it gives none, not a cut one */
	pdl_outfile_noted(&f, v, 8);
	CHECK_STR(v, "");
	/* the whole file carries no note */
	CHECK_INT(pdl_outfile_write(&f, "tail", 4), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("notes/n.bin", "headtail");
	CHECK_STR(noted_on("notes/n.bin"), "");

	/* a note that is no header value is not read */
	write_file("notes/.bad.pdl-part", "x");
	CHECK_INT(setxattr("notes/.bad.pdl-part", NOTE, "\"a\"\r\nX: y", 9, 0),
		  0);
	CHECK_INT(pdl_outfile_open(&f, &d, "bad", true), 0);
	pdl_outfile_noted(&f, v, sizeof(v));
	CHECK_STR(v, "");
	/* no validator now: the old note goes */
	CHECK_INT(pdl_outfile_note(&f, ""), 0);
	CHECK(!f.noted);
	CHECK_STR(noted_on("notes/.bad.pdl-part"), "");
	pdl_outfile_abort(&f, false);

	/* a part taken up without resume (--overwrite) loses its note */
	d.keep_partial = false;
	d.overwrite = true;
	write_file("notes/.st.pdl-part", "stale");
	CHECK_INT(setxattr("notes/.st.pdl-part", NOTE, "\"old\"", 5, 0), 0);
	CHECK_INT(pdl_outfile_open(&f, &d, "st", false), 0);
	CHECK(!f.unnamed && !f.noted);
	CHECK_STR(noted_on("notes/.st.pdl-part"), "");
	CHECK_INT(pdl_outfile_write(&f, "new", 3), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("notes/st", "new");
	CHECK_STR(noted_on("notes/st"), "");
	pdl_outdir_close(&d);
}

static void test_no_escape(void)
{
	struct pdl_outdir d;
	struct pdl_outfile f;
	struct stat st;
	int parts;

	CHECK_INT(mkdir("canary", 0777), 0);
	write_file("canary/secret", "secret");
	open_dir(&d, "e");

	/* subdirectories are created */
	CHECK_INT(put(&d, "x/y/z.txt", "deep"), 0);
	CHECK_FILE("e/x/y/z.txt", "deep");
	CHECK_INT(put(&d, "x/y/w.txt", "again"), 0);
	CHECK_FILE("e/x/y/w.txt", "again");

	/* never through a symlinked directory, at any depth */
	CHECK_INT(symlink("../canary", "e/evil"), 0);
	errno = 0;
	CHECK_INT(pdl_outfile_open(&f, &d, "evil/f.txt", false), -1);
	CHECK(errno == ELOOP || errno == ENOTDIR);
	CHECK_INT(pdl_outfile_open(&f, &d, "evil/new/f.txt", false), -1);
	CHECK_INT(symlink("../../canary", "e/x/evil2"), 0);
	CHECK_INT(pdl_outfile_open(&f, &d, "x/evil2/f.txt", false), -1);
	CHECK_INT(pdl_outfile_open(&f, &d, "x/evil2/sub/f.txt", false), -1);
	pdl_outfile_abort(&f, false); /* harmless after a failed open */
	write_file("e/plain", "p");
	errno = 0;
	CHECK_INT(pdl_outfile_open(&f, &d, "plain/f.txt", false), -1);
	CHECK_INT(errno, ENOTDIR);
	/* names are checked before, but not trusted */
	errno = 0;
	CHECK_INT(pdl_outfile_open(&f, &d, "../escape.txt", false), -1);
	CHECK_INT(errno, EINVAL);
	CHECK_INT(pdl_outfile_open(&f, &d, "x/../../escape.txt", false), -1);
	CHECK_INT(pdl_outfile_open(&f, &d, "/tmp/escape.txt", false), -1);
	CHECK_INT(pdl_outfile_open(&f, &d, "x/..", false), -1);
	CHECK(!exists("escape.txt"));

	/* a stale part that is a symlink is removed, not followed */
	CHECK_INT(symlink("../canary/secret", "e/.s.txt.pdl-part"), 0);
	CHECK_INT(put(&d, "s.txt", "mine"), 0);
	CHECK_FILE("e/s.txt", "mine");
	/* ... and in resume mode too: it is no part of ours */
	CHECK_INT(symlink("../canary/secret", "e/.s2.txt.pdl-part"), 0);
	CHECK_INT(pdl_outfile_open(&f, &d, "s2.txt", true), 0);
	CHECK(f.resumed_from == 0);
	CHECK_INT(pdl_outfile_write(&f, "s2", 2), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("e/s2.txt", "s2");

	/* a kept part hard-linked to a file elsewhere is never appended to:
	 * the link is removed and the file made anew */
	CHECK_INT(link("canary/secret", "e/.h.txt.pdl-part"), 0);
	CHECK_INT(pdl_outfile_open(&f, &d, "h.txt", true), 0);
	CHECK(f.resumed_from == 0);
	CHECK_INT(pdl_outfile_write(&f, "h", 1), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("e/h.txt", "h");

	/* nor one that is not a plain file; a FIFO must not hang the open */
	CHECK_INT(mkfifo("e/.p.txt.pdl-part", 0666), 0);
	CHECK_INT(pdl_outfile_open(&f, &d, "p.txt", true), 0);
	CHECK(f.resumed_from == 0);
	pdl_outfile_abort(&f, false);
	CHECK(!exists("e/.p.txt.pdl-part"));
	CHECK_INT(mkdir("e/.dd.pdl-part", 0777), 0);
	CHECK_INT(pdl_outfile_open(&f, &d, "dd", true), -1);
	/* an unnamed file needs no temporary name */
	CHECK_INT(pdl_outfile_open(&f, &d, "dd", false), d.unnamed ? 0 : -1);
	pdl_outfile_abort(&f, false);

	CHECK_INT(count_entries("canary", &parts), 1);
	CHECK_FILE("canary/secret", "secret");
	CHECK(!stat("canary/secret", &st) && st.st_nlink == 1);

	/* the final name appeared while writing: no replace, no leftover */
	CHECK_INT(pdl_outfile_open(&f, &d, "race.txt", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "new", 3), 0);
	write_file("e/race.txt", "old");
	errno = 0;
	CHECK_INT(pdl_outfile_commit(&f), -1);
	CHECK_INT(errno, EEXIST);
	CHECK_FILE("e/race.txt", "old");
	pdl_outfile_abort(&f, false); /* kept until told */
	CHECK(!exists("e/.race.txt.pdl-part"));
	CHECK_INT(pdl_outfile_open(&f, &d, "dangle", false), 0);
	CHECK_INT(symlink("../canary/dangling", "e/dangle"), 0);
	CHECK_INT(pdl_outfile_commit(&f), -1);
	pdl_outfile_abort(&f, false);
	CHECK(!exists("canary/dangling"));

	/* overwrite replaces a symlink itself, never its target */
	d.overwrite = true;
	CHECK_INT(symlink("../canary/secret", "e/link.txt"), 0);
	CHECK_INT(put(&d, "link.txt", "replaced"), 0);
	CHECK(!lstat("e/link.txt", &st) && S_ISREG(st.st_mode));
	CHECK_FILE("e/link.txt", "replaced");
	CHECK_INT(put(&d, "race.txt", "newer"), 0);
	CHECK_FILE("e/race.txt", "newer");
	d.overwrite = false;

	CHECK_FILE("canary/secret", "secret");
	CHECK_INT(count_entries("canary", &parts), 1);
	pdl_outdir_close(&d);
}

static void test_long_names(void)
{
	struct pdl_outdir d;
	char base[301], *tmp, *tmp2, *name, *final;

	memset(base, 'a', 300);
	base[300] = '\0';
	memcpy(base + 296, ".jpg", 4);
	tmp = pdl_outfile_tmpname(base);
	CHECK(strlen(tmp) <= PDL_NAME_MAX);
	CHECK(tmp[0] == '.' && !strcmp(tmp + strlen(tmp) - 9, ".pdl-part"));
	free(tmp);

	/* 245 bytes still fit "." + base + ".pdl-part" exactly */
	base[245] = '\0';
	tmp = pdl_outfile_tmpname(base);
	CHECK_INT(strlen(tmp), 255);
	CHECK(!strncmp(tmp + 1, base, 245));
	free(tmp);

	/* long names differing only at the end get different temporaries */
	name = pdl_name_sanitize("", 0);
	free(name);
	memset(base, 'a', 300);
	memcpy(base + 251, ".jpg", 5);
	name = pdl_name_numbered(base, 1);
	tmp = pdl_outfile_tmpname(base);
	tmp2 = pdl_outfile_tmpname(name);
	CHECK(strlen(tmp) <= 255 && strlen(tmp2) <= 255);
	CHECK(strcmp(tmp, tmp2) != 0);
	free(tmp);
	free(tmp2);

	/* the whole way for a 255-byte name */
	open_dir(&d, "l");
	final = reserve_as(&d, base, false, PDL_RESERVE_OK, base);
	CHECK_INT(put(&d, final, "long"), 0);
	drop(&d, final);
	final = reserve_as(&d, base, false, PDL_RESERVE_OK, name);
	CHECK_INT(put(&d, final, "longer"), 0);
	drop(&d, final);
	free(name);
	pdl_outdir_close(&d);

	/* a multi-byte name is cut between sequences */
	base[0] = 'x';
	for (int i = 0; i < 127; i++)
		memcpy(base + 1 + 2 * i, "\xc3\xa9", 2);
	base[255] = '\0';
	tmp = pdl_outfile_tmpname(base);
	CHECK(strlen(tmp) <= 255);
	CHECK(!strncmp(tmp, ".x\xc3\xa9", 4));
	for (char *p = tmp + 2; *p != '~'; p += 2)
		CHECK(!memcmp(p, "\xc3\xa9", 2));
	free(tmp);
}

static struct pdl_outdir shared;
static atomic_int in_use[NTHREADS];
static atomic_int bad_names, doubles, failures;

/* Index of "c.jpg" (0) or "c.N.jpg" (N), or -1. */
static int name_index(const char *name)
{
	unsigned n;
	int used = 0;

	if (!strcmp(name, "c.jpg"))
		return 0;
	if (sscanf(name, "c.%u.jpg%n", &n, &used) != 1 ||
	    used != (int)strlen(name) || n == 0 || n >= NTHREADS)
		return -1;
	return (int)n;
}

static void *worker(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		char *final = NULL;
		struct pdl_outfile f;
		int idx;

		if (pdl_outdir_reserve(&shared, "c.jpg", false, &final) !=
		    PDL_RESERVE_OK) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		idx = name_index(final);
		if (idx < 0) {
			atomic_fetch_add(&bad_names, 1);
		} else if (atomic_fetch_add(&in_use[idx], 1) != 0) {
			atomic_fetch_add(&doubles, 1);
		}
		if (i % 10 == 0) {
			if (pdl_outfile_open(&f, &shared, final, false) < 0 ||
			    pdl_outfile_write(&f, "x", 1) < 0)
				atomic_fetch_add(&failures, 1);
			pdl_outfile_abort(&f, false);
		}
		if (idx >= 0)
			atomic_fetch_sub(&in_use[idx], 1);
		pdl_outdir_release(&shared, final);
		free(final);
	}
	return NULL;
}

/* Names are looked up on disk only when the filter of names there says
 * they may be: it must know the files there at the start and those the run
 * put there, and a name taken behind its back is caught by the commit. */
static void test_taken_names(void)
{
	struct pdl_outdir d;
	struct pdl_outfile f;
	char *n;
	int parts;

	CHECK(mkdir("taken", 0755) == 0);
	write_file("taken/before", "theirs");
	open_dir(&d, "taken");
	/* there before the run: numbered */
	drop(&d, reserve_as(&d, "before", false, PDL_RESERVE_OK, "before.1"));
	/* put there by the run: after a freed name sends the search back to
	 * 0, it is still seen */
	n = reserve_as(&d, "mine", false, PDL_RESERVE_OK, "mine");
	CHECK_INT(put(&d, n, "one"), 0);
	pdl_outdir_release_written(&d, n);
	free(n);
	drop(&d, reserve_as(&d, "other", false, PDL_RESERVE_OK, "other"));
	drop(&d, reserve_as(&d, "mine", false, PDL_RESERVE_OK, "mine.1"));
	/* made by someone else after the start: the commit finds it, keeps
	 * the body, and puts it under another name when told */
	n = reserve_as(&d, "late", false, PDL_RESERVE_OK, "late");
	CHECK_INT(pdl_outfile_open(&f, &d, n, false), 0);
	CHECK_INT(pdl_outfile_write(&f, "ours", 4), 0);
	write_file("taken/late", "theirs");
	errno = 0;
	CHECK_INT(pdl_outfile_commit(&f), -1);
	CHECK_INT(errno, EEXIST);
	CHECK_FILE("taken/late", "theirs");
	pdl_outdir_mark_taken(&d, n);
	char *again = reserve_as(&d, "late", false, PDL_RESERVE_OK, "late.1");
	CHECK_INT(pdl_outfile_rename(&f, again), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("taken/late.1", "ours");
	pdl_outdir_release(&d, n);
	pdl_outdir_release_written(&d, again);
	free(n);
	free(again);
	/* one given up on: nothing is left of it */
	n = reserve_as(&d, "gone", false, PDL_RESERVE_OK, "gone");
	CHECK_INT(pdl_outfile_open(&f, &d, n, false), 0);
	CHECK_INT(pdl_outfile_write(&f, "ours", 4), 0);
	write_file("taken/gone", "theirs");
	CHECK_INT(pdl_outfile_commit(&f), -1);
	pdl_outfile_abort(&f, false);
	drop(&d, n);
	CHECK_FILE("taken/gone", "theirs");
	CHECK_INT(count_entries("taken", &parts), 5);
	CHECK_INT(parts, 0);
	pdl_outdir_close(&d);
}

/* -c and -n: a name whose download is over stays taken for the run, held
 * by its hash only; the table grows through many names without losing
 * one, and a name never used is never taken for one of them. */
static void test_kept_names(void)
{
	struct pdl_outdir d;
	char want[32], numbered[40];
	char *n;

	CHECK(mkdir("kept", 0755) == 0);
	write_file("kept/there", "old");
	open_dir(&d, "kept");
	n = reserve_as(&d, "a", true, PDL_RESERVE_OK, "a");
	pdl_outdir_keep(&d, n);
	free(n);
	n = reserve_as(&d, "a", true, PDL_RESERVE_OK, "a.1");
	pdl_outdir_keep(&d, n);
	free(n);
	drop(&d, reserve_as(&d, "a", true, PDL_RESERVE_OK, "a.2"));
	/* a file of the run before: this URL's, kept, then the next number */
	n = reserve_as(&d, "there", true, PDL_RESERVE_EXISTS, "there");
	pdl_outdir_keep(&d, n);
	free(n);
	drop(&d, reserve_as(&d, "there", true, PDL_RESERVE_OK, "there.1"));
	/* 30 000 names through several doublings of the table */
	for (int i = 0; i < 30000; i++) {
		snprintf(want, sizeof(want), "f%d", i);
		char *f = NULL;
		CHECK_INT(pdl_outdir_reserve(&d, want, true, &f),
			  PDL_RESERVE_OK);
		CHECK(f && !strcmp(f, want));
		pdl_outdir_keep(&d, f);
		free(f);
	}
	for (int i = 0; i < 30000; i += 7) {
		snprintf(want, sizeof(want), "f%d", i);
		snprintf(numbered, sizeof(numbered), "f%d.1", i);
		n = reserve_as(&d, want, true, PDL_RESERVE_OK, numbered);
		pdl_outdir_release(&d, n);
		free(n);
	}
	drop(&d, reserve_as(&d, "f30000", true, PDL_RESERVE_OK, "f30000"));
	/* --compare's scratch pass is forgotten */
	pdl_outdir_forget(&d);
	drop(&d, reserve_as(&d, "a", true, PDL_RESERVE_OK, "a"));
	pdl_outdir_close(&d);
}

/* Where the file system has O_TMPFILE, a body being written has no name
 * in the directory at all, and one abandoned leaves nothing. */
static void test_unnamed(void)
{
	struct pdl_outdir d;
	struct pdl_outfile f;
	int parts;

	CHECK(mkdir("unnamed", 0755) == 0);
	open_dir(&d, "unnamed");
	if (!d.unnamed) {
		fprintf(stderr,
			"# no O_TMPFILE here: unnamed files untested\n");
		pdl_outdir_close(&d);
		return;
	}
	CHECK_INT(pdl_outfile_open(&f, &d, "a", false), 0);
	CHECK(f.unnamed);
	CHECK_INT(pdl_outfile_write(&f, "body", 4), 0);
	CHECK_INT(count_entries("unnamed", &parts), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("unnamed/a", "body");
	/* linked through /proc where the kernel refuses AT_EMPTY_PATH to
	 * this user (before Linux 6.10, without CAP_DAC_READ_SEARCH) */
	bool by_fd = d.link_by_fd;
	d.link_by_fd = false;
	CHECK_INT(pdl_outfile_open(&f, &d, "p", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "proc", 4), 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_FILE("unnamed/p", "proc");
	d.link_by_fd = by_fd;
	CHECK_INT(pdl_outfile_open(&f, &d, "b", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "body", 4), 0);
	pdl_outfile_abort(&f, false);
	CHECK_INT(count_entries("unnamed", &parts), 2);
	/* -c keeps partial files, so they need names */
	d.keep_partial = true;
	CHECK_INT(pdl_outfile_open(&f, &d, "c", false), 0);
	CHECK(!f.unnamed);
	CHECK_INT(count_entries("unnamed", &parts), 3);
	CHECK_INT(parts, 1);
	pdl_outfile_abort(&f, true);
	pdl_outdir_close(&d);
}

/* A named temporary file is the flock holder's: another writer of the
 * same name (another process; here another open file) gets EBUSY, one
 * left unlocked is taken over, and a file put at the temporary name by
 * someone else is never renamed into place. */
static void test_locked_temps(void)
{
	struct pdl_outdir a, b;
	struct pdl_outfile f, g;

	CHECK(mkdir("locked", 0755) == 0);
	open_dir(&a, "locked");
	open_dir(&b, "locked");
	a.overwrite = b.overwrite = true; /* named temporary files */
	CHECK_INT(pdl_outfile_open(&f, &a, "x", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "mine", 4), 0);
	/* held (a second signal may remove it) until its commit */
	CHECK_INT(a.nheld, 1);
	for (int resume = 0; resume < 2; resume++) {
		errno = 0;
		CHECK_INT(pdl_outfile_open(&g, &b, "x", resume), -1);
		CHECK_INT(errno, EBUSY);
	}
	CHECK_INT(b.nheld, 0);
	CHECK_INT(pdl_outfile_commit(&f), 0);
	CHECK_INT(a.nheld, 0);
	CHECK_FILE("locked/x", "mine");
	/* left by a run that was killed: emptied and used */
	write_file("locked/.y.pdl-part", "stale");
	CHECK_INT(pdl_outfile_open(&g, &b, "y", false), 0);
	CHECK_INT(b.nheld, 1);
	CHECK_INT(pdl_outfile_write(&g, "new", 3), 0);
	CHECK_INT(pdl_outfile_commit(&g), 0);
	CHECK_INT(b.nheld, 0);
	CHECK_FILE("locked/y", "new");
	/* replaced behind our back: the commit refuses */
	CHECK_INT(pdl_outfile_open(&f, &a, "z", false), 0);
	CHECK_INT(pdl_outfile_write(&f, "mine", 4), 0);
	CHECK(unlink("locked/.z.pdl-part") == 0);
	write_file("locked/.z.pdl-part", "theirs");
	errno = 0;
	CHECK_INT(pdl_outfile_commit(&f), -1);
	CHECK_INT(errno, EBUSY);
	CHECK_INT(a.nheld, 0);
	CHECK(!exists("locked/z"));
	CHECK_FILE("locked/.z.pdl-part", "theirs");
	pdl_outdir_close(&a);
	pdl_outdir_close(&b);
}

static void test_concurrent(void)
{
	pthread_t t[NTHREADS];
	int parts;

	open_dir(&shared, "conc");
	for (int i = 0; i < NTHREADS; i++)
		CHECK_INT(pthread_create(&t[i], NULL, worker, NULL), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(atomic_load(&failures), 0);
	CHECK_INT(atomic_load(&bad_names), 0);
	CHECK_INT(atomic_load(&doubles), 0);
	CHECK_INT(count_entries("conc", &parts), 0);
	pdl_outdir_close(&shared);
}

int main(void)
{
	char root[] = "/tmp/pdl-test-outdir-XXXXXX";

	umask(022);
	if (!mkdtemp(root) || chdir(root) < 0) {
		perror(root);
		return EXIT_FAILURE;
	}
	test_open();
	test_reserve();
	test_write_commit();
	test_file_or_directory();
	test_notes();
	test_no_escape();
	test_long_names();
	test_taken_names();
	test_kept_names();
	test_unnamed();
	test_locked_temps();
	test_concurrent();
	if (chdir("/") < 0 ||
	    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0) {
		perror(root);
		return EXIT_FAILURE;
	}
	return check_done();
}
