/* The output directory: reserves a name per transfer in flight and writes
 * each body to a temporary file that is renamed into place when whole. */
#include "outdir.h"

#include "naming.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX   "."
#define TMP_SUFFIX   ".pdl-part"
#define TMP_HASH_LEN 17 /* "~" and 16 hex digits */

/* Names that may be in the top directory: one bit per hash, set for each
 * entry there when the directory is opened and for each file this run puts
 * there. A clear bit tells a name is free without a stat, which costs more
 * than one would think: it waits on the directory lock that every create
 * and rename takes (bench/NOTES.md). A set bit sends the look to the disk.
 * A name taken behind our back (another process, or a file system that
 * folds case) is found when the file is put in place. Mapped, so pages no
 * bit was set in take no memory. */
#define SEEN_BITS    ((size_t)1 << 20)
#define SEEN_MAX_DIR 1000000 /* a larger directory: every look on disk */

struct name_entry {
	struct name_entry *next;
	size_t hash;
	char name[];
};

/* Chained hash set; entries leave with their transfer, so its size follows
 * the transfers in flight, never the length of the list. */
struct pdl_nameset {
	struct name_entry **slots;
	size_t nslots; /* a power of two */
	size_t count;
	/* Every number below hint_next of hint_want is taken: a list of
	 * thousands of "index.html" costs one look-up each, not thousands. */
	char *hint_want;
	unsigned hint_next;
	unsigned long frees; /* names freed again, to keep a stale hint out */
	/* Names whose downloads are over but which stay taken for the rest
	 * of the run (-c, -n), by a 64-bit hash each in an open-addressed
	 * table: 10 to 20 bytes a name instead of the ~150 of two exact
	 * entries, so a run of a million URLs stays small. Two names of one
	 * run with the same hash would give the later one a number it did
	 * not need: odds of about 3 in 10^8 for a million names. */
	uint64_t *kept;
	size_t nkept_slots; /* 0 or a power of two */
	size_t nkept;
};

static size_t hash_name(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return (size_t)h;
}

static void seen_mark(_Atomic uint64_t *seen, const char *name)
{
	size_t bit = hash_name(name) & (SEEN_BITS - 1);

	atomic_fetch_or_explicit(&seen[bit / 64], (uint64_t)1 << (bit % 64),
				 memory_order_relaxed);
}

static bool seen_maybe(_Atomic uint64_t *seen, const char *name)
{
	size_t bit = hash_name(name) & (SEEN_BITS - 1);

	return atomic_load_explicit(&seen[bit / 64], memory_order_relaxed) &
	       ((uint64_t)1 << (bit % 64));
}

/* Without a filter (out of memory, a directory too large or unreadable)
 * every name is looked up on disk, as before. */
static _Atomic uint64_t *seen_scan(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	_Atomic uint64_t *seen = NULL;
	struct dirent *e;
	size_t n = 0;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	void *map = mmap(NULL, SEEN_BITS / 8, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map != MAP_FAILED) {
		seen = map;
		errno = 0;
		while ((e = readdir(dir)) && ++n <= SEEN_MAX_DIR)
			seen_mark(seen, e->d_name);
		if (errno || n > SEEN_MAX_DIR) {
			munmap(map, SEEN_BITS / 8);
			seen = NULL;
		}
	}
	closedir(dir);
	return seen;
}

static uint64_t kept_hash(const char *name)
{
	uint64_t h = (uint64_t)hash_name(name);

	/* FNV-1a's low bits, used for the slot, mix poorly: finish it as
	 * MurmurHash3 does. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1; /* 0 marks a free slot */
}

static size_t kept_slot(const struct pdl_nameset *s, uint64_t h)
{
	size_t mask = s->nkept_slots - 1, i = (size_t)h & mask;

	while (s->kept[i] && s->kept[i] != h)
		i = (i + 1) & mask;
	return i;
}

static bool kept_has(const struct pdl_nameset *s, const char *name)
{
	if (!s->nkept)
		return false;
	return s->kept[kept_slot(s, kept_hash(name))] != 0;
}

static void kept_free(struct pdl_nameset *s)
{
	if (s->kept)
		munmap(s->kept, s->nkept_slots * sizeof(*s->kept));
	s->kept = NULL;
	s->nkept_slots = 0;
	s->nkept = 0;
}

/* Mapped rather than allocated: a table outgrown goes back to the system
 * at once instead of staying in the heap. */
static int kept_grow(struct pdl_nameset *s)
{
	size_t n = s->nkept_slots ? s->nkept_slots * 2 : 1024;
	uint64_t *old = s->kept;
	size_t nold = s->nkept_slots;
	void *map = mmap(NULL, n * sizeof(*s->kept), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (map == MAP_FAILED)
		return -1;
	s->kept = map;
	s->nkept_slots = n;
	for (size_t i = 0; i < nold; i++)
		if (old[i])
			s->kept[kept_slot(s, old[i])] = old[i];
	if (old)
		munmap(old, nold * sizeof(*old));
	return 0;
}

/* Up to four fifths full: linear probing stays short, and the table takes
 * 10 to 20 bytes a name. */
static int kept_add(struct pdl_nameset *s, const char *name)
{
	uint64_t h = kept_hash(name);

	if ((s->nkept + 1) * 5 > s->nkept_slots * 4 && kept_grow(s) < 0)
		return -1;
	size_t i = kept_slot(s, h);
	if (!s->kept[i]) {
		s->kept[i] = h;
		s->nkept++;
	}
	return 0;
}

static struct pdl_nameset *nameset_create(void)
{
	struct pdl_nameset *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->nslots = 64;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->slots) {
		free(s);
		return NULL;
	}
	return s;
}

static void nameset_destroy(struct pdl_nameset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nslots; i++) {
		struct name_entry *e = s->slots[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(s->slots);
	free(s->hint_want);
	kept_free(s);
	free(s);
}

static struct name_entry **nameset_link(struct pdl_nameset *s, const char *name,
					size_t hash)
{
	struct name_entry **link = &s->slots[hash & (s->nslots - 1)];

	for (; *link; link = &(*link)->next)
		if ((*link)->hash == hash && !strcmp((*link)->name, name))
			break;
	return link;
}

static bool nameset_has(struct pdl_nameset *s, const char *name)
{
	return *nameset_link(s, name, hash_name(name)) != NULL;
}

static int nameset_grow(struct pdl_nameset *s)
{
	size_t n = s->nslots * 2;
	struct name_entry **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < s->nslots; i++) {
		struct name_entry *e = s->slots[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	return 0;
}

static int nameset_add(struct pdl_nameset *s, const char *name)
{
	size_t hash = hash_name(name), len = strlen(name);
	struct name_entry *e;

	if (s->count >= s->nslots / 4 * 3 && nameset_grow(s) < 0)
		return -1;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -1;
	e->hash = hash;
	memcpy(e->name, name, len + 1);
	e->next = s->slots[hash & (s->nslots - 1)];
	s->slots[hash & (s->nslots - 1)] = e;
	s->count++;
	return 0;
}

/* 1 when name was there (one entry of it goes), 0 when not. */
static int nameset_remove(struct pdl_nameset *s, const char *name)
{
	struct name_entry **link = nameset_link(s, name, hash_name(name));
	struct name_entry *e = *link;

	if (!e)
		return 0;
	*link = e->next;
	free(e);
	s->count--;
	return 1;
}

char *pdl_outfile_tmpname(const char *base)
{
	size_t len = strlen(base);
	size_t room = PDL_NAME_MAX - strlen(TMP_PREFIX TMP_SUFFIX);
	char *tmp;

	if (len <= room) {
		if (asprintf(&tmp, TMP_PREFIX "%s" TMP_SUFFIX, base) < 0)
			return NULL;
		return tmp;
	}
	/* Long names that share a prefix (a.jpg and a.1.jpg cut alike)
	 * must not share a temporary file: a hash tells them apart. */
	room -= TMP_HASH_LEN;
	if (asprintf(&tmp, TMP_PREFIX "%.*s~%016llx" TMP_SUFFIX,
		     (int)pdl_utf8_cut(base, len, room), base,
		     (unsigned long long)hash_name(base)) < 0)
		return NULL;
	return tmp;
}

/* The temporary file of relname, as a path relative to the directory. */
static char *tmp_relpath(const char *relname)
{
	const char *slash = strrchr(relname, '/');
	int dirlen = slash ? (int)(slash - relname) + 1 : 0;
	char *tmp = pdl_outfile_tmpname(relname + dirlen), *out;

	if (!tmp)
		return NULL;
	if (asprintf(&out, "%.*s%s", dirlen, relname, tmp) < 0)
		out = NULL;
	free(tmp);
	return out;
}

static int mkdir_parents(const char *path)
{
	char *p = strdup(path);

	if (!p)
		return -1;
	for (char *s = p; *s; s++) {
		if (*s != '/' || s == p || s[-1] == '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Root writes through permission bits, so only creating a file tells
 * whether the directory takes files (a read-only mount, a full quota). */
static int probe_writable(int dirfd)
{
	char name[64];

	for (int i = 0; i < 100; i++) {
		int fd;

		snprintf(name, sizeof(name), ".pdl-probe-%ld-%d",
			 (long)getpid(), i);
		fd = openat(
		    dirfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return -1;
		close(fd);
		return unlinkat(dirfd, name, 0);
	}
	errno = EEXIST;
	return -1;
}

/* Puts an unnamed file (O_TMPFILE) in the directory under name: by the
 * descriptor itself where the kernel lets us (CAP_DAC_READ_SEARCH), which
 * spares the walk of a /proc path, else through /proc/self/fd. */
static int link_unnamed(int fd, int dirfd, const char *name, bool by_fd)
{
	char path[64];

	if (by_fd)
		return linkat(fd, "", dirfd, name, AT_EMPTY_PATH);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}

/* Whether bodies can be written to unnamed files and linked into place when
 * whole: the file system must know O_TMPFILE, and the link be allowed by
 * the descriptor or through /proc. Such a file takes the directory lock
 * once instead of twice (bench/NOTES.md), and it goes with the process
 * however that ends, even by SIGKILL. */
static void probe_unnamed(struct pdl_outdir *d)
{
	char name[64];
	int fd = openat(d->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), ".pdl-probe-%ld-u%d",
			 (long)getpid(), i);
		d->link_by_fd = !link_unnamed(fd, d->dirfd, name, true);
		if (d->link_by_fd || !link_unnamed(fd, d->dirfd, name, false)) {
			d->unnamed = !unlinkat(d->dirfd, name, 0);
			break;
		}
		if (errno != EEXIST)
			break;
	}
	close(fd);
}

int pdl_outdir_open(struct pdl_outdir *d, const char *path, bool create,
		    char *err, size_t errlen)
{
	d->reserved = NULL;
	d->seen = NULL;
	d->held = NULL;
	d->nheld = d->held_cap = 0;
	d->unnamed = false;
	d->link_by_fd = false;
	d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dirfd < 0 && errno == ENOENT && !create) {
		/* -n: nothing is written, so a missing directory is an empty
		 * one. */
		d->reserved = nameset_create();
		if (!d->reserved) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		pthread_mutex_init(&d->lock, NULL);
		return 0;
	}
	if (d->dirfd < 0 && errno == ENOENT) {
		if (mkdir_parents(path) < 0) {
			snprintf(err, errlen,
				 "cannot create output directory '%s': %s",
				 path, strerror(errno));
			return -1;
		}
		d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (d->dirfd < 0) {
		snprintf(err, errlen, "cannot open output directory '%s': %s",
			 path, strerror(errno));
		return -1;
	}
	if (create && probe_writable(d->dirfd) < 0) {
		snprintf(err, errlen,
			 "cannot write to output directory '%s': %s", path,
			 strerror(errno));
		goto fail;
	}
	if (create)
		probe_unnamed(d);
	d->seen = seen_scan(d->dirfd);
	d->reserved = nameset_create();
	if (!d->reserved) {
		snprintf(err, errlen, "cannot open output directory '%s': %s",
			 path, strerror(ENOMEM));
		goto fail;
	}
	pthread_mutex_init(&d->lock, NULL);
	return 0;
fail:
	close(d->dirfd);
	d->dirfd = -1;
	return -1;
}

void pdl_outdir_close(struct pdl_outdir *d)
{
	if (d->reserved) {
		nameset_destroy(d->reserved);
		d->reserved = NULL;
		pthread_mutex_destroy(&d->lock);
	}
	if (d->seen)
		munmap((void *)d->seen, SEEN_BITS / 8);
	d->seen = NULL;
	free(d->held);
	d->held = NULL;
	d->nheld = d->held_cap = 0;
	if (d->dirfd >= 0)
		close(d->dirfd);
	d->dirfd = -1;
}

/* 1 when something (even a dangling symlink) has the name, 0 when not;
 * *file, unless NULL, tells whether it is one a download could have made
 * there (a regular file or a symlink), not a directory or a FIFO. */
static int on_disk(struct pdl_outdir *d, const char *name, bool *file)
{
	struct stat st;

	if (file)
		*file = false;
	if (d->dirfd < 0)
		return 0; /* -n on a directory that does not exist yet */
	if (d->seen && !strchr(name, '/') && !seen_maybe(d->seen, name))
		return 0;
	if (!fstatat(d->dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (file)
			*file = S_ISREG(st.st_mode) || S_ISLNK(st.st_mode);
		return 1;
	}
	return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
}

/* Each directory on the way to a reserved name is held too, as an entry
 * "DIR/" (no name ends in '/') per name under it, so that a file is never
 * given the name of a directory another URL of the run writes into, nor a
 * name made to go through another URL's file: the run's URLs are reserved
 * in input order, and which of the two comes first decides, not which is
 * saved first. op is nameset_add, nameset_remove or kept_add (for which
 * the entries stay). -1 (nothing changed) when memory is short. */
static int dirs_each(struct pdl_nameset *s, const char *name,
		     int (*op)(struct pdl_nameset *, const char *))
{
	char *dir = strchr(name, '/') ? strdup(name) : NULL;
	size_t done = 0;
	int rc = 0;

	if (!dir)
		return strchr(name, '/') ? -1 : 0;
	for (char *sl = dir; rc >= 0 && (sl = strchr(sl, '/')); sl++) {
		char c = sl[1];
		sl[1] = '\0';
		rc = op(s, dir);
		sl[1] = c;
		done += rc >= 0;
	}
	/* short of memory: the entries added before go again */
	for (char *sl = dir;
	     rc < 0 && op == nameset_add && done > 0 && (sl = strchr(sl, '/'));
	     sl++, done--) {
		char c = sl[1];
		sl[1] = '\0';
		nameset_remove(s, dir);
		sl[1] = c;
	}
	free(dir);
	return rc < 0 ? -1 : 0;
}

/* Whether a directory on the way to name is the name of a file of the
 * run (in flight or kept). */
static bool through_file(struct pdl_nameset *s, const char *name)
{
	char *dir = strchr(name, '/') ? strdup(name) : NULL;
	bool hit = false;

	if (!dir)
		return false;
	for (char *sl = dir; !hit && (sl = strchr(sl, '/')); *sl++ = '/') {
		*sl = '\0';
		hit = nameset_has(s, dir) || kept_has(s, dir);
	}
	free(dir);
	return hit;
}

/* Whether name is a directory on the way to a name of the run. */
static bool is_run_dir(struct pdl_nameset *s, const char *name)
{
	size_t len = strlen(name);
	char *dir = malloc(len + 2);
	bool hit;

	if (!dir)
		return false;
	memcpy(dir, name, len);
	dir[len] = '/';
	dir[len + 1] = '\0';
	hit = nameset_has(s, dir) || kept_has(s, dir);
	free(dir);
	return hit;
}

/* Temporary names are reserved too, so that a final name like
 * ".a.pdl-part" and the transfer of "a" never share a file. */
/* With resume set, a file on disk does not count as taken: it is this
 * URL's file from the run that made it (*exists tells). Only an earlier URL
 * of this run holding the name, or something no download makes (a
 * directory), moves a later one on to the next number. */
static int try_reserve(struct pdl_outdir *d, const char *cand, bool resume,
		       bool *exists)
{
	char *tmp = tmp_relpath(cand);
	int taken;

	*exists = false;
	if (!tmp)
		return -1;
	pthread_mutex_lock(&d->lock);
	if (through_file(d->reserved, cand)) {
		/* no number makes a file a directory */
		pthread_mutex_unlock(&d->lock);
		free(tmp);
		errno = ENOTDIR;
		return -1;
	}
	taken = nameset_has(d->reserved, cand) ||
		nameset_has(d->reserved, tmp) || kept_has(d->reserved, cand) ||
		is_run_dir(d->reserved, cand);
	if (!taken) {
		if (nameset_add(d->reserved, cand) < 0) {
			taken = -1;
		} else if (nameset_add(d->reserved, tmp) < 0) {
			nameset_remove(d->reserved, cand);
			taken = -1;
		} else if (dirs_each(d->reserved, cand, nameset_add) < 0) {
			nameset_remove(d->reserved, cand);
			nameset_remove(d->reserved, tmp);
			taken = -1;
		}
	}
	pthread_mutex_unlock(&d->lock);
	/* Held in the set, the name is ours while we look on disk, outside
	 * the lock: a stat under it would hold up every transfer that
	 * finishes meanwhile (bench/NOTES.md). */
	if (!taken && (resume || !d->overwrite)) {
		bool file;
		int disk = on_disk(d, cand, &file);
		if (resume && (disk != 1 || file)) {
			taken = disk < 0 ? -1 : 0;
			*exists = disk == 1;
		} else {
			taken = disk;
		}
		if (taken) {
			pthread_mutex_lock(&d->lock);
			nameset_remove(d->reserved, cand);
			nameset_remove(d->reserved, tmp);
			dirs_each(d->reserved, cand, nameset_remove);
			pthread_mutex_unlock(&d->lock);
		}
	}
	free(tmp);
	return taken;
}

static unsigned hint_start(struct pdl_nameset *s, const char *want)
{
	return s->hint_want && !strcmp(s->hint_want, want) ? s->hint_next : 0;
}

static void hint_set(struct pdl_nameset *s, const char *want, unsigned next)
{
	if (!s->hint_want || strcmp(s->hint_want, want)) {
		free(s->hint_want);
		s->hint_want = strdup(want); /* none when out of memory */
	}
	s->hint_next = next;
}

/* A final name in the form of a temporary one (".x.pdl-part") would be
 * taken for one later: removed by a run without -c, appended to by a run
 * with it. Its leading dot becomes '_', as sanitising does with dots. */
static bool tmp_form(const char *base)
{
	size_t len = strlen(base), sl = strlen(TMP_SUFFIX);

	return base[0] == TMP_PREFIX[0] && len > sl &&
	       !strcmp(base + len - sl, TMP_SUFFIX);
}

static char *not_tmp_form(const char *want)
{
	char *s = strdup(want);
	char *base;

	if (!s)
		return NULL;
	base = strrchr(s, '/');
	base = base ? base + 1 : s;
	if (tmp_form(base))
		base[0] = '_';
	return s;
}

enum pdl_reserve pdl_outdir_reserve(struct pdl_outdir *d, const char *want,
				    bool resume, char **final)
{
	enum pdl_reserve r = PDL_RESERVE_ERROR;
	char *cand = NULL, *safe = not_tmp_form(want);
	unsigned first;
	unsigned long frees;
	int taken;

	*final = NULL;
	if (!safe)
		return PDL_RESERVE_ERROR;
	want = safe;
	pthread_mutex_lock(&d->lock);
	first = hint_start(d->reserved, want);
	frees = d->reserved->frees;
	pthread_mutex_unlock(&d->lock);
	/* No cap on the tries: each taken name is an entry on disk or in
	 * flight, so the search ends; a cap made the 10 001st copy of a name
	 * fail, and every later one try 10 000 names first. */
	for (unsigned n = first;; n++) {
		bool exists;
		cand = n ? pdl_name_numbered(want, n) : strdup(want);
		if (!cand)
			goto out;
		taken = try_reserve(d, cand, resume, &exists);
		if (!taken) {
			pthread_mutex_lock(&d->lock);
			/* A name freed meanwhile may be below n. */
			if (d->reserved->frees == frees)
				hint_set(d->reserved, want, n + 1);
			pthread_mutex_unlock(&d->lock);
			r = exists ? PDL_RESERVE_EXISTS : PDL_RESERVE_OK;
			goto out;
		}
		free(cand);
		cand = NULL;
		if (taken < 0)
			goto out;
		if (n == UINT_MAX)
			break;
	}
	errno = EEXIST;
out:;
	int saved = errno;
	free(safe);
	*final = cand;
	errno = saved;
	return r;
}

/* Where id is in d->held (under d->lock); d->nheld when it is not. */
static size_t held_index(const struct pdl_outdir *d, struct pdl_file_id id)
{
	size_t i = 0;

	while (i < d->nheld &&
	       (d->held[i].dev != id.dev || d->held[i].ino != id.ino))
		i++;
	return i;
}

/* Removes rel below dirfd, never through a symlink, when it is a file this
 * process holds (d->held, under d->lock). */
static void unlink_held(const struct pdl_outdir *d, int dirfd, const char *rel)
{
	int fd = dirfd;
	const char *p = rel, *slash;
	char comp[PDL_NAME_MAX + 1];

	while ((slash = strchr(p, '/'))) {
		size_t len = (size_t)(slash - p);
		int sub = -1;

		if (len && len <= PDL_NAME_MAX) {
			memcpy(comp, p, len);
			comp[len] = '\0';
			sub = openat(fd, comp,
				     O_PATH | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);
		}
		if (fd != dirfd)
			close(fd);
		if (sub < 0)
			return;
		fd = sub;
		p = slash + 1;
	}
	struct stat st;
	if (!fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) &&
	    held_index(d, (struct pdl_file_id){st.st_dev, st.st_ino}) <
		d->nheld)
		unlinkat(fd, p, 0);
	if (fd != dirfd)
		close(fd);
}

void pdl_outdir_remove_temps(struct pdl_outdir *d)
{
	struct timespec until;

	if (!d->reserved || d->dirfd < 0 || d->keep_partial)
		return;
	/* Never wait long: the caller is about to end the process. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 200 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&d->lock, &until))
		return;
	for (size_t i = 0; i < d->reserved->nslots; i++) {
		for (struct name_entry *e = d->reserved->slots[i]; e;
		     e = e->next) {
			const char *base = strrchr(e->name, '/');

			/* a reserved name's temporary file may still be
			 * another pdl's, which this one has not opened */
			if (tmp_form(base ? base + 1 : e->name))
				unlink_held(d, d->dirfd, e->name);
		}
	}
	pthread_mutex_unlock(&d->lock);
}

/* written: the file is known to be in place, so no need to look. */
static void release(struct pdl_outdir *d, const char *final, bool written)
{
	char *tmp;
	bool freed;

	if (!final)
		return;
	/* Should this fail, the stale entry only numbers a later name. */
	tmp = tmp_relpath(final);
	/* a number becomes free again only when nothing was written */
	freed = !written && (d->overwrite || on_disk(d, final, NULL) != 1);
	pthread_mutex_lock(&d->lock);
	if (nameset_remove(d->reserved, final))
		dirs_each(d->reserved, final, nameset_remove);
	if (tmp)
		nameset_remove(d->reserved, tmp);
	if (freed) {
		d->reserved->hint_next = 0;
		d->reserved->frees++;
	}
	pthread_mutex_unlock(&d->lock);
	free(tmp);
}

void pdl_outdir_keep(struct pdl_outdir *d, const char *final)
{
	char *tmp;

	if (!final || !(tmp = tmp_relpath(final)))
		return; /* the exact entries stay: the name is still taken */
	pthread_mutex_lock(&d->lock);
	if (kept_add(d->reserved, final) == 0 &&
	    dirs_each(d->reserved, final, kept_add) == 0) {
		if (nameset_remove(d->reserved, final))
			dirs_each(d->reserved, final, nameset_remove);
		nameset_remove(d->reserved, tmp);
	}
	pthread_mutex_unlock(&d->lock);
	free(tmp);
}

void pdl_outdir_mark_taken(struct pdl_outdir *d, const char *name)
{
	if (d->seen && !strchr(name, '/'))
		seen_mark(d->seen, name);
}

void pdl_outdir_release(struct pdl_outdir *d, const char *final)
{
	release(d, final, false);
}

void pdl_outdir_release_written(struct pdl_outdir *d, const char *final)
{
	/* With overwrite a file on disk does not take a name, so only being
	 * held tells a later URL of this run not to replace this one's. */
	if (d->overwrite)
		pdl_outdir_keep(d, final);
	else
		release(d, final, true);
}

void pdl_outdir_forget(struct pdl_outdir *d)
{
	struct pdl_nameset *s = d->reserved;

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < s->nslots; i++) {
		struct name_entry *e = s->slots[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
		s->slots[i] = NULL;
	}
	s->count = 0;
	free(s->hint_want);
	s->hint_want = NULL;
	s->hint_next = 0;
	kept_free(s);
	pthread_mutex_unlock(&d->lock);
}

/* f's file, just claimed (id), joins dir->held; ENOMEM when it cannot. */
static int hold(struct pdl_outfile *f, struct pdl_file_id id)
{
	struct pdl_outdir *d = f->dir;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (d->nheld == d->held_cap) {
		size_t cap = d->held_cap ? d->held_cap * 2 : 16;
		struct pdl_file_id *h = realloc(d->held, cap * sizeof(*h));
		if (h) {
			d->held = h;
			d->held_cap = cap;
		}
	}
	if (d->nheld < d->held_cap) {
		f->id = id;
		d->held[d->nheld++] = id;
		f->held = true;
	} else {
		errno = ENOMEM;
		rc = -1;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/* Before its descriptors close: once they have, the inode number may be
 * another file's. */
static void unhold(struct pdl_outfile *f)
{
	struct pdl_outdir *d = f->dir;

	if (!f->held)
		return;
	pthread_mutex_lock(&d->lock);
	size_t i = held_index(d, f->id);
	if (i < d->nheld)
		d->held[i] = d->held[--d->nheld];
	pthread_mutex_unlock(&d->lock);
	f->held = false;
}

static void outfile_finish(struct pdl_outfile *f)
{
	unhold(f);
	if (f->fd >= 0)
		close(f->fd);
	if (f->lockfd >= 0)
		close(f->lockfd);
	if (f->parentfd >= 0 && (!f->dir || f->parentfd != f->dir->dirfd))
		close(f->parentfd);
	free(f->tmpname);
	free(f->base);
	f->fd = -1;
	f->lockfd = -1;
	f->parentfd = -1;
	f->tmpname = NULL;
	f->base = NULL;
}

static bool is_dot_or_dotdot(const char *s, size_t len)
{
	return (len == 1 && s[0] == '.') ||
	       (len == 2 && s[0] == '.' && s[1] == '.');
}

/* Opens (creating when missing) one subdirectory of fd, never through a
 * symlink: O_NOFOLLOW with O_DIRECTORY fails on one. */
static int open_subdir(int fd, const char *comp)
{
	int flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	int sub = openat(fd, comp, flags);

	if (sub >= 0 || errno != ENOENT)
		return sub;
	if (mkdirat(fd, comp, 0777) < 0 && errno != EEXIST)
		return -1;
	return openat(fd, comp, flags);
}

/* Walks the directories of relname from the output directory. */
static int open_parent(struct pdl_outfile *f, const char *relname,
		       const char **base)
{
	const char *p = relname;
	char comp[PDL_NAME_MAX + 1];

	if (*p == '/') {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		size_t len = strcspn(p, "/");
		int sub;

		if (!p[len])
			break;
		if (len > PDL_NAME_MAX || is_dot_or_dotdot(p, len)) {
			errno = EINVAL;
			return -1;
		}
		if (len) {
			memcpy(comp, p, len);
			comp[len] = '\0';
			sub = open_subdir(f->parentfd, comp);
			if (sub < 0)
				return -1;
			if (f->parentfd != f->dir->dirfd)
				close(f->parentfd);
			f->parentfd = sub;
		}
		p += len + 1;
	}
	if (!*p || is_dot_or_dotdot(p, strlen(p))) {
		errno = EINVAL;
		return -1;
	}
	*base = p;
	return 0;
}

/* True when fd is the file at tmpname now, not one put there since; its
 * id in *id unless NULL. */
static bool is_at_tmpname(struct pdl_outfile *f, int fd, struct pdl_file_id *id)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 ||
	    fstatat(f->parentfd, f->tmpname, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (id)
		*id = (struct pdl_file_id){a.st_dev, a.st_ino};
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* A named temporary file belongs to the process that holds a flock on it,
 * from its creation to its rename: another pdl on the same directory never
 * removes, appends to or renames it. EBUSY when another process holds fd's
 * file, EAGAIN when the name was given to another file meanwhile. */
static int claim(struct pdl_outfile *f, int fd, struct pdl_file_id *id)
{
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			errno = EBUSY;
		return -1;
	}
	if (!is_at_tmpname(f, fd, id)) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

/* claim, for a file f goes on to write: it joins dir->held. */
static int claim_held(struct pdl_outfile *f, int fd)
{
	struct pdl_file_id id;

	return claim(f, fd, &id) < 0 ? -1 : hold(f, id);
}

/* The extended attribute in which a kept temporary file carries the
 * validator of its bytes (pdl_outfile_note). */
#define VALIDATOR_XATTR "user.pdl.validator"

/* A temporary file already there (kept by -c, or left by a run that was
 * killed) is taken over only when it is a plain file of its own that no
 * process holds: a hard link would carry the writes to a file elsewhere.
 * Written on at its end with resume set, else emptied. */
static int open_existing(struct pdl_outfile *f, bool resume)
{
	struct stat st;
	int flags;

	if (fstatat(f->parentfd, f->tmpname, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	/* O_NONBLOCK: should it have become a FIFO since, do not hang */
	f->fd = openat(f->parentfd, f->tmpname,
		       O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (f->fd < 0)
		return -1;
	if (fstat(f->fd, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (st.st_nlink != 1) {
		errno = EMLINK;
		return -1;
	}
	if (claim_held(f, f->fd) < 0)
		return -1;
	flags = fcntl(f->fd, F_GETFL);
	if (flags < 0 || fcntl(f->fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return -1;
	if (!resume) {
		/* what a -c run noted is no longer true of it */
		fremovexattr(f->fd, VALIDATOR_XATTR);
		return ftruncate(f->fd, 0);
	}
	f->noted = fgetxattr(f->fd, VALIDATOR_XATTR, NULL, 0) > 0;
	/* Not O_APPEND: a body in parts (split.h) is also written at
	 * offsets, which O_APPEND would ignore. */
	if (fstat(f->fd, &st) < 0 || lseek(f->fd, st.st_size, SEEK_SET) < 0)
		return -1;
	f->resumed_from = st.st_size;
	return 0;
}

static int create_tmp(struct pdl_outfile *f)
{
	return openat(f->parentfd, f->tmpname,
		      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		      0666);
}

static void close_fd(struct pdl_outfile *f)
{
	unhold(f);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* The named temporary file of f, made or taken over; EBUSY when another
 * process is writing it. */
static int open_named(struct pdl_outfile *f, bool resume)
{
	/* each turn finds the name changed by another process: few */
	for (int tries = 0; tries < 8; tries++) {
		/* without resume, one there is most often none: made first */
		if (resume || tries) {
			if (!open_existing(f, resume))
				return 0;
			int err = errno;
			close_fd(f);
			/* A link or a FIFO is no temporary file of ours: its
			 * name is removed (never what it points to) and the
			 * file made anew. */
			if (err == EMLINK || err == EINVAL) {
				if (unlinkat(f->parentfd, f->tmpname, 0) < 0 &&
				    errno != ENOENT)
					return -1;
				continue;
			}
			if (err != ENOENT && err != EAGAIN) {
				errno = err;
				return -1;
			}
		}
		f->fd = create_tmp(f);
		if (f->fd < 0 && errno != EEXIST)
			return -1;
		if (f->fd >= 0 && !claim_held(f, f->fd))
			return 0;
		if (f->fd >= 0 && errno != EAGAIN)
			return -1;
		close_fd(f);
	}
	errno = EBUSY;
	return -1;
}

/* A temporary file under the name of an unnamed one's is one left by a
 * run that was killed, or the file of another pdl that writes it now (-c,
 * --overwrite): removed only when no process holds it. */
static void remove_stale(struct pdl_outfile *f)
{
	int fd = openat(f->parentfd, f->tmpname,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		if (errno != ENOENT)
			unlinkat(f->parentfd, f->tmpname, 0); /* a link */
		return;
	}
	if (!claim(f, fd, NULL))
		unlinkat(f->parentfd, f->tmpname, 0);
	close(fd);
}

int pdl_outfile_open(struct pdl_outfile *f, struct pdl_outdir *d,
		     const char *relname, bool resume)
{
	const char *base;
	int saved;

	memset(f, 0, sizeof(*f));
	f->dir = d;
	f->parentfd = d->dirfd;
	f->fd = -1;
	f->lockfd = -1;
	if (open_parent(f, relname, &base) < 0)
		goto fail;
	f->base = strdup(base);
	f->tmpname = pdl_outfile_tmpname(base);
	if (!f->base || !f->tmpname) {
		errno = ENOMEM;
		goto fail;
	}
	if (!resume && d->unnamed && !d->overwrite && !d->keep_partial) {
		f->fd = openat(f->parentfd, ".",
			       O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
		f->unnamed = f->fd >= 0;
		/* else a subdirectory on a file system without O_TMPFILE:
		 * a named one */
	}
	if (f->unnamed) {
		/* a part left by a killed run goes, as with a named file */
		if (f->parentfd != d->dirfd || !d->seen ||
		    seen_maybe(d->seen, f->tmpname))
			remove_stale(f);
		return 0;
	}
	if (!open_named(f, resume))
		return 0;
fail:
	saved = errno;
	outfile_finish(f);
	errno = saved;
	return -1;
}

/* Writes at off, or at the file position when off is negative. */
static int write_loop(int fd, const void *buf, size_t len, off_t off,
		      size_t *done)
{
	const char *p = buf;

	*done = 0;
	while (len) {
		ssize_t n = off < 0 ? write(fd, p, len)
				    : pwrite(fd, p, len, off + (off_t)*done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		*done += (size_t)n;
	}
	return 0;
}

int pdl_write_all(int fd, const void *buf, size_t len, size_t *done)
{
	return write_loop(fd, buf, len, -1, done);
}

int pdl_pwrite_all(int fd, const void *buf, size_t len, int64_t off,
		   size_t *done)
{
	return write_loop(fd, buf, len, (off_t)off, done);
}

int pdl_outfile_write(struct pdl_outfile *f, const void *buf, size_t len)
{
	size_t done;
	int rc = pdl_write_all(f->fd, buf, len, &done);

	f->written += (int64_t)done;
	return rc;
}

int pdl_outfile_note(struct pdl_outfile *f, const char *validator)
{
	int rc;

	if (f->unnamed || f->fd < 0)
		return 0;
	if (validator[0]) {
		rc = fsetxattr(f->fd, VALIDATOR_XATTR, validator,
			       strlen(validator), 0);
	} else if (f->noted) {
		rc = fremovexattr(f->fd, VALIDATOR_XATTR);
		if (rc < 0 && errno == ENODATA)
			rc = 0;
	} else {
		return 0;
	}
	if (!rc)
		f->noted = validator[0] != '\0';
	return rc;
}

void pdl_outfile_noted(struct pdl_outfile *f, char *buf, size_t size)
{
	ssize_t n = -1;

	if (!size)
		return;
	if (f->noted && f->fd >= 0 && size > 1)
		n = fgetxattr(f->fd, VALIDATOR_XATTR, buf, size - 1);
	/* it goes into a request header: printable ASCII only */
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 ||
		    (unsigned char)buf[i] > 0x7e)
			n = 0;
	buf[n > 0 ? n : 0] = '\0';
}

int pdl_outfile_truncate(struct pdl_outfile *f)
{
	if (ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0)
		return -1;
	f->written = 0;
	f->resumed_from = 0;
	return 0;
}

/* Puts tmp in place of base unless base exists, atomically where the file
 * system allows it. */
static int rename_noreplace(int dirfd, const char *tmp, const char *base)
{
	struct stat st;

	if (!renameat2(dirfd, tmp, dirfd, base, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* no RENAME_NOREPLACE here: a hard link cannot replace either */
	if (!linkat(dirfd, tmp, dirfd, base, 0)) {
		unlinkat(dirfd, tmp, 0);
		return 0;
	}
	if (errno != EPERM && errno != ENOTSUP)
		return -1;
	/* no hard links either (vfat): only a check, racy but the best left */
	if (!fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW)) {
		errno = EEXIST;
		return -1;
	}
	return renameat(dirfd, tmp, dirfd, base);
}

int pdl_outfile_commit(struct pdl_outfile *f)
{
	int rc = 0, saved;

	if (f->unnamed) {
		rc = link_unnamed(f->fd, f->parentfd, f->base,
				  f->dir->link_by_fd);
		if (rc < 0 && errno == EEXIST)
			return -1; /* kept, for another name */
		saved = errno;
		if (close(f->fd) < 0 && !rc) {
			/* not known to be whole */
			saved = errno;
			unlinkat(f->parentfd, f->base, 0);
			rc = -1;
		}
		f->fd = -1;
	} else {
		/* close reports delayed write errors (NFS, quotas); a second
		 * commit, under another name, finds it closed. A copy keeps
		 * the lock, and tells the file is still the one at tmpname:
		 * never is another process's put in place. */
		if (f->fd >= 0) {
			/* whole: nothing left to resume, nothing to note */
			if (f->noted)
				fremovexattr(f->fd, VALIDATOR_XATTR);
			f->lockfd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
			rc = close(f->fd);
			f->fd = -1;
			if (f->lockfd < 0)
				rc = -1;
		}
		if (!rc && !is_at_tmpname(f, f->lockfd, NULL)) {
			errno = EBUSY;
			rc = -1;
		}
		if (!rc && f->dir->overwrite)
			rc = renameat(f->parentfd, f->tmpname, f->parentfd,
				      f->base);
		else if (!rc)
			rc = rename_noreplace(f->parentfd, f->tmpname, f->base);
		if (rc < 0 && errno == EEXIST && !f->dir->overwrite)
			return -1; /* kept, for another name */
		saved = errno;
		if (rc < 0 && saved != EBUSY)
			unlinkat(f->parentfd, f->tmpname, 0);
	}
	/* while the name is still reserved: whoever takes it next sees it */
	if (!rc && f->parentfd == f->dir->dirfd)
		pdl_outdir_mark_taken(f->dir, f->base);
	outfile_finish(f);
	errno = saved;
	return rc;
}

int pdl_outfile_rename(struct pdl_outfile *f, const char *relname)
{
	const char *slash = strrchr(relname, '/');
	char *base = strdup(slash ? slash + 1 : relname);

	if (!base)
		return -1;
	free(f->base);
	f->base = base;
	return 0;
}

void pdl_outfile_abort(struct pdl_outfile *f, bool keep)
{
	int fd = f->lockfd >= 0 ? f->lockfd : f->fd;

	/* only our own file, still locked: not one another process made */
	if (!keep && !f->unnamed && f->tmpname && fd >= 0 &&
	    is_at_tmpname(f, fd, NULL))
		unlinkat(f->parentfd, f->tmpname, 0);
	outfile_finish(f);
}
