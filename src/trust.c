/* The CA bundle parsed once per process, looked up by every TLS
 * connection's certificate store (trust.h). */
#include "trust.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef PDL_HAVE_OPENSSL
#include <openssl/opensslv.h>
#if OPENSSL_VERSION_MAJOR < 3
#undef PDL_HAVE_OPENSSL
#endif
#endif

#ifdef PDL_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>

/* One CA of the file: its subject, to be looked up by, and its encoding
 * with OpenSSL's trust settings (a "TRUSTED CERTIFICATE" may be trusted
 * for some uses only), to make each store a certificate of its own. */
struct ca {
	X509_NAME *subject;
	unsigned char *der;
	int len;
};

struct pdl_trust {
	char *path;
	pthread_mutex_t lock;
	int state;     /* 0: not read yet; 1: read; -1: cannot be used */
	struct ca *ca; /* sorted by subject; immutable once read */
	size_t n;
	X509_LOOKUP_METHOD *method;
};

/* The OpenSSL pdl calls is the one libcurl uses: libcurl names its TLS
 * library "OpenSSL/" and OpenSSL's own version string. */
static bool same_openssl(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	return v->ssl_version && !strncmp(v->ssl_version, "OpenSSL/", 8) &&
	       !strcmp(v->ssl_version + 8,
		       OpenSSL_version(OPENSSL_VERSION_STRING));
}

static int by_subject(const void *a, const void *b)
{
	const struct ca *x = a, *y = b;
	return X509_NAME_cmp(x->subject, y->subject);
}

/* The first CA whose subject is name, or t->n. */
static size_t first_of(const struct pdl_trust *t, const X509_NAME *name)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (X509_NAME_cmp(t->ca[mid].subject, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool subject_is(const struct pdl_trust *t, size_t i,
		       const X509_NAME *name)
{
	return i < t->n && X509_NAME_cmp(t->ca[i].subject, name) == 0;
}

/* OpenSSL asks when the store has no certificate of this subject yet:
 * each CA of that name goes into the store (a name can have several, a
 * root and its cross-signed twin), and ret borrows the store's first, as
 * OpenSSL's own lookups hand it over (the caller takes its own
 * reference).
 *
 * Certificates made anew from t's encodings, not shared ones: OpenSSL
 * caches what it works out about a certificate inside it (its
 * extensions, under a lock of the certificate's and a flag read without
 * one), and event loops sharing certificates would share that. Making
 * the few CAs a store needs costs microseconds; of t, only bytes are
 * read, and subjects compared, whose canonical form OpenSSL made when it
 * parsed them. */
static int lookup_subject(X509_LOOKUP *lu, X509_LOOKUP_TYPE type,
			  const X509_NAME *name, X509_OBJECT *ret)
{
	const struct pdl_trust *t = X509_LOOKUP_get_method_data(lu);
	X509_STORE *store = X509_LOOKUP_get_store(lu);
	if (type != X509_LU_X509 || !t || !store)
		return 0;
	size_t first = first_of(t, name);
	if (!subject_is(t, first, name))
		return 0;
	for (size_t i = first; subject_is(t, i, name); i++) {
		const unsigned char *p = t->ca[i].der;
		X509 *x = d2i_X509_AUX(NULL, &p, t->ca[i].len);
		int added = x && X509_STORE_add_cert(store, x);
		X509_free(x); /* the store holds its own reference */
		if (!added)
			return 0;
	}
	if (!X509_STORE_lock(store))
		return 0;
	X509_OBJECT *in = X509_OBJECT_retrieve_by_subject(
	    X509_STORE_get0_objects(store), X509_LU_X509, name);
	X509 *x = in ? X509_OBJECT_get0_X509(in) : NULL;
	int ok = x && X509_OBJECT_set1_X509(ret, x);
	X509_STORE_unlock(store);
	if (ok)
		X509_free(x);
	return ok;
}

static void drop_cas(struct pdl_trust *t)
{
	for (size_t i = 0; i < t->n; i++) {
		X509_NAME_free(t->ca[i].subject);
		OPENSSL_free(t->ca[i].der);
	}
	free(t->ca);
	t->ca = NULL;
	t->n = 0;
}

/* The certificates of the file, as libcurl would read it into a store
 * (X509_STORE_load_file: PEM certificates, trusted ones with their trust
 * settings; CRLs, which libcurl only checks with a CRL file of its own,
 * are left out). */
static int read_file(struct pdl_trust *t)
{
	X509_STORE *all = X509_STORE_new();
	if (!all)
		return -1;
	int rc = -1;
	if (!X509_STORE_load_file(all, t->path))
		goto out;
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(all);
	int n = sk_X509_OBJECT_num(objs);
	t->ca = calloc((size_t)(n > 0 ? n : 1), sizeof(*t->ca));
	if (!t->ca)
		goto out;
	for (int i = 0; i < n; i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (!x)
			continue; /* a CRL */
		/* counted at once: drop_cas frees what a failure leaves */
		struct ca *c = &t->ca[t->n++];
		c->subject = X509_NAME_dup(X509_get_subject_name(x));
		c->len = i2d_X509_AUX(x, &c->der);
		if (!c->subject || c->len <= 0)
			goto out;
	}
	if (t->n) {
		qsort(t->ca, t->n, sizeof(*t->ca), by_subject);
		rc = 0;
	}
out:
	X509_STORE_free(all);
	/* what OpenSSL queued about the file is not for the next caller of
	 * this thread (libcurl reads the queue after a failed handshake) */
	ERR_clear_error();
	if (rc)
		drop_cas(t);
	return rc;
}

const char *pdl_trust_path(const struct pdl_trust *t)
{
	return t->path;
}

long pdl_trust_load(struct pdl_trust *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->state == 0)
		t->state = read_file(t) ? -1 : 1;
	long n = t->state > 0 ? (long)t->n : -1;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int pdl_trust_attach(struct pdl_trust *t, void *store)
{
	if (pdl_trust_load(t) < 0)
		return -1;
	X509_LOOKUP *lu = X509_STORE_add_lookup(store, t->method);
	if (!lu || !X509_LOOKUP_set_method_data(lu, t))
		return -1;
	return 0;
}

/* CURLOPT_SSL_CTX_FUNCTION: before the handshake of every TLS connection;
 * libcurl then adds its own settings to the store (and, from the second
 * connection of an event loop on, swaps in the store of the first, which
 * looks up in t as well). */
static CURLcode on_ssl_ctx(CURL *h, void *ssl_ctx, void *userptr)
{
	struct pdl_trust *t = userptr;
	if (pdl_trust_attach(t, SSL_CTX_get_cert_store(ssl_ctx)))
		return CURLE_SSL_CACERT_BADFILE;
	return CURLE_OK;
}

CURLcode pdl_trust_use(struct pdl_trust *t, CURL *h)
{
	CURLcode rc = curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, t);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
	if (rc != CURLE_OK) {
		curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, NULL);
		return rc;
	}
	/* refused only by a libcurl without HTTPS proxies */
	(void)curl_easy_setopt(h, CURLOPT_PROXY_CAINFO, NULL);
	return CURLE_OK;
}

struct pdl_trust *pdl_trust_new(const char *path)
{
	if (!path || !same_openssl())
		return NULL;
	struct pdl_trust *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->path = strdup(path);
	t->method = X509_LOOKUP_meth_new("pdl: CA bundle read once");
	if (!t->path || !t->method ||
	    !X509_LOOKUP_meth_set_get_by_subject(t->method, lookup_subject)) {
		X509_LOOKUP_meth_free(t->method);
		free(t->path);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void pdl_trust_free(struct pdl_trust *t)
{
	if (!t)
		return;
	drop_cas(t);
	X509_LOOKUP_meth_free(t->method);
	pthread_mutex_destroy(&t->lock);
	free(t->path);
	free(t);
}

#else /* no OpenSSL 3 to call: libcurl reads the CA file itself */

struct pdl_trust *pdl_trust_new(const char *path)
{
	return NULL;
}

void pdl_trust_free(struct pdl_trust *t)
{
}

CURLcode pdl_trust_use(struct pdl_trust *t, CURL *h)
{
	return CURLE_NOT_BUILT_IN;
}

const char *pdl_trust_path(const struct pdl_trust *t)
{
	return NULL;
}

long pdl_trust_load(struct pdl_trust *t)
{
	return -1;
}

int pdl_trust_attach(struct pdl_trust *t, void *store)
{
	return -1;
}

#endif
