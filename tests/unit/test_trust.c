/* The CA file read once: certificates looked up by subject into each
 * store that asks, twins of one name, intermediates as anchors, files it
 * cannot use, and many threads on one file. The certificates are made
 * here, with OpenSSL. */
#include "check.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

#include "trust.h"

#ifndef PDL_HAVE_OPENSSL
int main(void)
{
	fprintf(stderr, "built without OpenSSL: nothing to test\n");
	return 77;
}
#else
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static void add_ext(X509 *x, X509V3_CTX *v, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v, nid, value);
	CHECK(e != NULL);
	CHECK(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

/* A certificate for cn and key, signed by by (itself when NULL). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, const struct ca *by,
		       bool ca, long serial)
{
	X509 *x = X509_new();
	CHECK(x != NULL);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, by ? X509_get_subject_name(by->cert) : name);
	X509V3_CTX v;
	X509V3_set_ctx(&v, by ? by->cert : x, x, NULL, NULL, 0);
	add_ext(x, &v, NID_basic_constraints,
		ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (ca)
		add_ext(x, &v, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, &v, NID_subject_key_identifier, "hash");
	add_ext(x, &v, NID_authority_key_identifier, "keyid:always");
	CHECK(X509_sign(x, by ? by->key : key, EVP_sha256()) > 0);
	return x;
}

static struct ca make_ca(const char *cn, const struct ca *by, long serial)
{
	struct ca c = {.key = EVP_EC_gen("P-256")};
	CHECK(c.key != NULL);
	c.cert = make_cert(cn, c.key, by, true, serial);
	return c;
}

static X509 *make_leaf(const char *cn, const struct ca *by, long serial)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = make_cert(cn, k, by, false, serial);
	EVP_PKEY_free(k);
	return x;
}

static void free_ca(struct ca *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

static char dir[64];

static char *write_file(const char *name, X509 **certs, size_t n,
			const char *text)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (text)
		fputs(text, f);
	for (size_t i = 0; i < n; i++)
		CHECK(PEM_write_X509(f, certs[i]) == 1);
	fclose(f);
	return path;
}

/* As write_file, as "TRUSTED CERTIFICATE"s: with OpenSSL's trust
 * settings. */
static char *write_trusted(const char *name, X509 **certs, size_t n)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	for (size_t i = 0; i < n; i++)
		CHECK(PEM_write_X509_AUX(f, certs[i]) == 1);
	fclose(f);
	return path;
}

/* Verifies leaf against a new store that looks up in t: 0, or OpenSSL's
 * verification error. *objs: what the store holds afterwards. */
static int verify_for(struct pdl_trust *t, X509 *leaf, unsigned long flags,
		      const char *use, int *objs)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *c = X509_STORE_CTX_new();
	if (!st || !c || pdl_trust_attach(t, st)) {
		X509_STORE_CTX_free(c);
		X509_STORE_free(st);
		return -1;
	}
	if (flags)
		X509_STORE_set_flags(st, flags);
	int err = -1;
	if (X509_STORE_CTX_init(c, st, leaf, NULL) == 1 &&
	    (!use || X509_STORE_CTX_set_default(c, use) == 1))
		err =
		    X509_verify_cert(c) == 1 ? 0 : X509_STORE_CTX_get_error(c);
	if (objs)
		*objs = sk_X509_OBJECT_num(X509_STORE_get0_objects(st));
	X509_STORE_CTX_free(c);
	X509_STORE_free(st);
	return err;
}

static int verify(struct pdl_trust *t, X509 *leaf, unsigned long flags,
		  int *objs)
{
	return verify_for(t, leaf, flags, NULL, objs);
}

static struct ca twin_a, twin_b, other, stranger, mid;
static X509 *leaf_a, *leaf_b, *leaf_other, *leaf_stranger, *leaf_mid;
static char good[128];

static void lookups(void)
{
	struct pdl_trust *t = pdl_trust_new(good);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_STR(pdl_trust_path(t), good);
	/* twins, the other CA and the intermediate */
	CHECK_INT(pdl_trust_load(t), 4);
	CHECK_INT(pdl_trust_load(t), 4);

	/* Only what the chain needs goes into the store: the issuer (both
	 * twins for a twin's leaf), not the whole file. */
	int objs = -1;
	CHECK_INT(verify(t, leaf_other, 0, &objs), 0);
	CHECK_INT(objs, 1);
	CHECK_INT(verify(t, leaf_a, 0, &objs), 0);
	CHECK_INT(objs, 2);
	/* whichever twin the lookup hands over first, the other one's leaf
	 * verifies too */
	CHECK_INT(verify(t, leaf_b, 0, &objs), 0);
	CHECK_INT(objs, 2);

	CHECK_INT(verify(t, leaf_stranger, 0, &objs),
		  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	CHECK_INT(objs, 0);
	/* An intermediate of the file is an anchor with PARTIAL_CHAIN, as
	 * libcurl sets it, and only then. */
	CHECK_INT(verify(t, leaf_mid, X509_V_FLAG_PARTIAL_CHAIN, NULL), 0);
	CHECK_INT(verify(t, leaf_mid, 0, NULL),
		  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT);

	/* A store that has looked up once asks again for nothing new. */
	X509_STORE *st = X509_STORE_new();
	CHECK_INT(pdl_trust_attach(t, st), 0);
	CHECK_INT(pdl_trust_attach(t, st), 0);
	X509_STORE_CTX *c = X509_STORE_CTX_new();
	for (int i = 0; i < 3; i++) {
		X509_STORE_CTX_init(c, st, leaf_a, NULL);
		CHECK_INT(X509_verify_cert(c), 1);
		X509_STORE_CTX_cleanup(c);
	}
	CHECK_INT(sk_X509_OBJECT_num(X509_STORE_get0_objects(st)), 2);
	X509_STORE_CTX_free(c);
	X509_STORE_free(st);
	pdl_trust_free(t);
}

static void unusable_files(void)
{
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	const char *paths[] = {
	    missing,
	    write_file("empty.pem", NULL, 0, NULL),
	    write_file("garbage.pem", NULL, 0, "not a certificate\n"),
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		struct pdl_trust *t = pdl_trust_new(paths[i]);
		CHECK(t != NULL);
		if (!t)
			continue;
		CHECK_INT(pdl_trust_load(t), -1);
		/* said again without reading again */
		CHECK_INT(pdl_trust_load(t), -1);
		CHECK_INT(verify(t, leaf_other, 0, NULL), -1);
		pdl_trust_free(t);
	}
	/* pdl_trust_new with no file: nothing to read */
	CHECK(pdl_trust_new(NULL) == NULL);
	/* Text around the certificates, as in Debian's bundle: still read */
	struct pdl_trust *t = pdl_trust_new(
	    write_file("text.pem", &other.cert, 1, "# a comment\n\n"));
	CHECK_INT(pdl_trust_load(t), 1);
	CHECK_INT(verify(t, leaf_other, 0, NULL), 0);
	pdl_trust_free(t);
}

/* A CA trusted for some uses only stays so: the settings of a "TRUSTED
 * CERTIFICATE" go into each store with it. */
static void trust_settings(void)
{
	struct ca picky = make_ca("pdl picky", NULL, 20);
	struct ca server = make_ca("pdl server CA", NULL, 21);
	CHECK(X509_add1_reject_object(picky.cert,
				      OBJ_nid2obj(NID_server_auth)) == 1);
	CHECK(X509_add1_trust_object(server.cert,
				     OBJ_nid2obj(NID_server_auth)) == 1);
	X509 *leaf_picky = make_leaf("picky.test", &picky, 22);
	X509 *leaf_server = make_leaf("server.test", &server, 23);
	X509 *both[] = {picky.cert, server.cert};
	struct pdl_trust *t =
	    pdl_trust_new(write_trusted("trusted.pem", both, 2));
	CHECK_INT(pdl_trust_load(t), 2);
	CHECK_INT(verify_for(t, leaf_picky, 0, "ssl_server", NULL),
		  X509_V_ERR_CERT_REJECTED);
	CHECK_INT(verify_for(t, leaf_picky, 0, "ssl_client", NULL), 0);
	CHECK_INT(verify_for(t, leaf_server, 0, "ssl_server", NULL), 0);
	pdl_trust_free(t);
	X509_free(leaf_picky);
	X509_free(leaf_server);
	free_ca(&picky);
	free_ca(&server);
}

/* A libcurl handle takes the callback (whether libcurl then leaves the
 * file alone is for the end-to-end tests to see: test_tls). */
static void on_a_handle(void)
{
	struct pdl_trust *t = pdl_trust_new(good);
	CURL *h = curl_easy_init();
	CHECK(h != NULL && t != NULL);
	if (h && t)
		CHECK_INT(pdl_trust_use(t, h), CURLE_OK);
	curl_easy_cleanup(h);
	pdl_trust_free(t);
}

/* Threads reading one file for the first time at once, then looking up
 * in it: each its own store, as each event loop has. */
#define THREADS 4
#define ROUNDS	25

static struct pdl_trust *shared;
static _Atomic int thread_failures;

static void *verifier(void *arg)
{
	X509 *leaves[] = {leaf_a, leaf_b, leaf_other};
	for (int r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < 3; i++)
			if (verify(shared, leaves[i], 0, NULL) != 0)
				thread_failures++;
	if (verify(shared, leaf_stranger, 0, NULL) == 0)
		thread_failures++;
	return arg;
}

static void threads(void)
{
	shared = pdl_trust_new(good);
	CHECK(shared != NULL);
	if (!shared)
		return;
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		CHECK_INT(pthread_create(&th[i], NULL, verifier, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_INT(thread_failures, 0);
	CHECK_INT(pdl_trust_load(shared), 4);
	pdl_trust_free(shared);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(dir, sizeof(dir), "/tmp/pdl-trust.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	/* pdl_trust_new says no when libcurl's OpenSSL is not pdl's */
	struct pdl_trust *probe = pdl_trust_new("/dev/null");
	if (!probe) {
		fprintf(stderr, "libcurl's TLS is not this OpenSSL: skipped\n");
		rmdir(dir);
		return 77;
	}
	pdl_trust_free(probe);

	twin_a = make_ca("pdl twin", NULL, 1);
	twin_b = make_ca("pdl twin", NULL, 2);
	other = make_ca("pdl other", NULL, 3);
	stranger = make_ca("pdl stranger", NULL, 4);
	mid = make_ca("pdl intermediate", &stranger, 5);
	leaf_a = make_leaf("a.test", &twin_a, 10);
	leaf_b = make_leaf("b.test", &twin_b, 11);
	leaf_other = make_leaf("other.test", &other, 12);
	leaf_stranger = make_leaf("stranger.test", &stranger, 13);
	leaf_mid = make_leaf("mid.test", &mid, 14);
	X509 *file[] = {twin_a.cert, other.cert, mid.cert, twin_b.cert};
	snprintf(good, sizeof(good), "%s",
		 write_file("good.pem", file, 4, NULL));

	lookups();
	unusable_files();
	trust_settings();
	on_a_handle();
	threads();

	X509 *leaves[] = {leaf_a, leaf_b, leaf_other, leaf_stranger, leaf_mid};
	for (size_t i = 0; i < 5; i++)
		X509_free(leaves[i]);
	struct ca *cas[] = {&twin_a, &twin_b, &other, &stranger, &mid};
	for (size_t i = 0; i < 5; i++)
		free_ca(cas[i]);
	const char *names[] = {"good.pem", "empty.pem", "garbage.pem",
			       "text.pem", "trusted.pem"};
	for (size_t i = 0; i < 5; i++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	curl_global_cleanup();
	return check_done();
}
#endif
