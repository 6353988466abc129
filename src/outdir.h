/* The output directory: opened once, every name reserved in input order,
 * every body written to a temporary file beside its final name (unnamed
 * where the file system allows) and put in place only when complete.
 * Nothing follows a symlink or leaves it. */
#ifndef PDL_OUTDIR_H
#define PDL_OUTDIR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pdl_nameset; /* names reserved by transfers in flight */

struct pdl_outdir {
	int dirfd;
	bool overwrite;
	bool keep_partial; /* -c: temporary files survive a failure */
	pthread_mutex_t lock;
	struct pdl_nameset *reserved;
	_Atomic uint64_t *seen; /* filter of names that may be on disk */
	bool unnamed;		/* bodies go to O_TMPFILE files */
	bool link_by_fd;	/* linked in with AT_EMPTY_PATH, not /proc */
	/* Named temporary files this process holds (flock) now, under lock:
	 * all a second signal may remove. */
	struct pdl_file_id *held;
	size_t nheld, held_cap;
};

struct pdl_file_id {
	dev_t dev;
	ino_t ino;
};

/* Creates path with its parents when missing, opens it, and checks that a
 * file can be created in it. Without create (-n), a missing directory is
 * taken as empty and nothing is checked or made. On failure returns -1 with
 * a reason in err. */
int pdl_outdir_open(struct pdl_outdir *d, const char *path, bool create,
		    char *err, size_t errlen);
void pdl_outdir_close(struct pdl_outdir *d);

enum pdl_reserve {
	PDL_RESERVE_OK,
	PDL_RESERVE_EXISTS, /* resume mode: final file already there */
	PDL_RESERVE_ERROR,
};

/* Picks the final name for want (a checked relative path): want itself when
 * free both on disk and among names in flight, else want numbered .1, .2,
 * ... With overwrite set, an existing file does not count as taken. With
 * resume set, only names held by earlier URLs of the run, or by something
 * on disk other than a regular file or a symlink, are passed over; the
 * first other candidate is returned, with PDL_RESERVE_EXISTS when a file
 * has it already. *final is malloc'd; pdl_outdir_release hands the
 * name back (the caller still frees *final). */
enum pdl_reserve pdl_outdir_reserve(struct pdl_outdir *d, const char *want,
				    bool resume, char **final);
void pdl_outdir_release(struct pdl_outdir *d, const char *final);
/* The same for a name whose file was just put in place: spares the look on
 * disk that tells whether its number became free again. With overwrite the
 * name stays taken for the rest of the run (pdl_outdir_keep): a later URL
 * of the run that wants it is numbered, never put over this file. */
void pdl_outdir_release_written(struct pdl_outdir *d, const char *final);
/* The download of final is over but its name stays taken for the rest of
 * the run (-c, -n: a later URL of the same name is numbered as in the run
 * that made the files). Held by a hash from now on, not the whole name. */
void pdl_outdir_keep(struct pdl_outdir *d, const char *final);
/* Tells that name is on disk now though this run did not put it there: a
 * rename into place found it taken. Reserving it again then looks. */
void pdl_outdir_mark_taken(struct pdl_outdir *d, const char *name);
/* Drops every reservation and numbering hint: after --compare's scratch
 * pass, whose files are gone, names are counted afresh. */
void pdl_outdir_forget(struct pdl_outdir *d);

/* Removes the temporary files of every name reserved (unless
 * keep_partial): the last act of a process told to quit at once. Waits
 * at most 0.2 s for the lock. */
void pdl_outdir_remove_temps(struct pdl_outdir *d);

/* One file being written. */
struct pdl_outfile {
	struct pdl_outdir *dir;
	int parentfd; /* directory holding the file (may be dir->dirfd) */
	int fd;
	int lockfd;    /* holds the flock of a named file from its close on */
	char *tmpname; /* in parentfd */
	char *base;    /* final name in parentfd */
	int64_t written;
	int64_t resumed_from; /* bytes already in a kept partial file */
	bool unnamed;	      /* an O_TMPFILE file: tmpname is not used */
	bool noted;	      /* it carries a validator (pdl_outfile_note) */
	bool held;	      /* its id is in dir->held */
	struct pdl_file_id id;
};

/* Creates missing subdirectories of relname (never through a symlink) and
 * its temporary file. With resume set, an existing temporary file of a
 * previous run is opened to be written on at its end, its size set in
 * resumed_from.
 * Returns 0, or -1 with errno set. */
int pdl_outfile_open(struct pdl_outfile *f, struct pdl_outdir *d,
		     const char *relname, bool resume);

/* Writes all of buf to fd, retrying short writes and EINTR; *done is how
 * much went, also on failure. 0 or -1 with errno (EIO for a write of 0). */
int pdl_write_all(int fd, const void *buf, size_t len, size_t *done);

/* The same at offset off of fd, whatever its position. */
int pdl_pwrite_all(int fd, const void *buf, size_t len, int64_t off,
		   size_t *done);

/* pdl_write_all into f, counting what went in f->written. */
int pdl_outfile_write(struct pdl_outfile *f, const void *buf, size_t len);

/* Notes on a named file the validator of the body it holds (an ETag or
 * a Last-Modified date; "": none), so that a later -c run that takes it
 * up can ask for the rest of that version only. Kept in an extended
 * attribute; a file system without them keeps none, and the later run
 * resumes by size alone. 0, or -1 with errno. */
int pdl_outfile_note(struct pdl_outfile *f, const char *validator);

/* The validator noted on a file taken up with resume into buf (size
 * bytes), "" when there is none or it is not fit to send. */
void pdl_outfile_noted(struct pdl_outfile *f, char *buf, size_t size);

/* Discards what was written so far (the server ignored a Range request). */
int pdl_outfile_truncate(struct pdl_outfile *f);

/* Puts the complete file in place, never over another file (unless
 * overwrite): 0, or -1 with errno. On EEXIST, the name taken since it was
 * reserved, f is kept: pdl_outfile_rename then commit again, or abort.
 * Otherwise releases what f holds (not f itself), the temporary file gone. */
int pdl_outfile_commit(struct pdl_outfile *f);
/* Gives f the base name of relname, which must lie in the same directory. */
int pdl_outfile_rename(struct pdl_outfile *f, const char *relname);

/* Closes and removes the temporary file (kept when keep is true). Releases
 * what f holds, not f itself; a second call does nothing. */
void pdl_outfile_abort(struct pdl_outfile *f, bool keep);

/* Name of the temporary file used for final base name base; malloc'd. */
char *pdl_outfile_tmpname(const char *base);

#endif
