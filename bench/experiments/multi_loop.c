/* multi_loop: what an event-loop engine would give pdl (an experiment, not
 * part of pdl or of bench/run.sh; see bench/NOTES.md).
 *
 *	cc -O2 -o multi_loop bench/experiments/multi_loop.c -lcurl -pthread
 *	multi_loop THREADS PER_THREAD DIR LIST
 *
 * THREADS threads each drive PER_THREAD transfers at once on one
 * curl_multi handle (so -j = THREADS x PER_THREAD). Every body goes to
 * ".NAME.part" in DIR, created on the first byte, and is renamed to NAME
 * with RENAME_NOREPLACE when complete: the same file-system work as pdl.
 * No retries, no report, no name reservation: only the transfer engine. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slot {
	CURL *h;
	int fd;
	char tmp[300], name[300];
};

static char **urls;
static size_t n_urls, next_url;
static pthread_mutex_t url_lock = PTHREAD_MUTEX_INITIALIZER;
static int out_dir;
static int per_thread;

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
	struct slot *s = userdata;

	if (s->fd < 0)
		s->fd = openat(out_dir, s->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	return write(s->fd, data, size * n) == (ssize_t)(size * n) ? size * n
								   : 0;
}

static int start(CURLM *m, struct slot *s)
{
	const char *url, *base;
	size_t i;

	pthread_mutex_lock(&url_lock);
	i = next_url < n_urls ? next_url++ : n_urls;
	pthread_mutex_unlock(&url_lock);
	if (i == n_urls)
		return 0;
	url = urls[i];
	base = strrchr(url, '/') + 1;
	snprintf(s->name, sizeof(s->name), "%s", base);
	snprintf(s->tmp, sizeof(s->tmp), ".%s.part", base);
	s->fd = -1;
	curl_easy_setopt(s->h, CURLOPT_URL, url);
	curl_multi_add_handle(m, s->h);
	return 1;
}

static void finish(CURLM *m, struct slot *s, CURLcode rc)
{
	curl_multi_remove_handle(m, s->h);
	if (rc != CURLE_OK)
		fprintf(stderr, "%s: %s\n", s->name, curl_easy_strerror(rc));
	if (s->fd < 0)
		s->fd = openat(out_dir, s->tmp,
			       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	close(s->fd);
	renameat2(out_dir, s->tmp, out_dir, s->name, RENAME_NOREPLACE);
}

static void *loop(void *arg)
{
	CURLM *m = curl_multi_init();
	struct slot *slots = calloc((size_t)per_thread, sizeof(*slots));
	int active = 0, running;

	for (int i = 0; i < per_thread; i++) {
		struct slot *s = &slots[i];

		s->h = curl_easy_init();
		curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(s->h, CURLOPT_FAILONERROR, 1L);
		curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
		curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
		active += start(m, s);
	}
	while (active) {
		CURLMsg *msg;
		int left;

		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct slot *s;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&s);
			finish(m, s, msg->data.result);
			active--;
			active += start(m, s);
		}
		if (active)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	for (int i = 0; i < per_thread; i++)
		curl_easy_cleanup(slots[i].h);
	curl_multi_cleanup(m);
	free(slots);
	return arg;
}

int main(int argc, char **argv)
{
	char line[8192];
	size_t cap = 0;
	pthread_t t[64];
	int threads;
	FILE *f;

	if (argc != 5 || (threads = atoi(argv[1])) < 1 || threads > 64 ||
	    (per_thread = atoi(argv[2])) < 1) {
		fputs("usage: multi_loop THREADS PER_THREAD DIR LIST\n",
		      stderr);
		return 2;
	}
	out_dir = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f = fopen(argv[4], "r");
	if (out_dir < 0 || !f) {
		perror("multi_loop");
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (n_urls == cap) {
			cap = cap ? cap * 2 : 1024;
			urls = realloc(urls, cap * sizeof(*urls));
		}
		urls[n_urls++] = strdup(line);
	}
	fclose(f);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, loop, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	curl_global_cleanup();
	return 0;
}
