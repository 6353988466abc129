/* The certificate authorities a run trusts, read once for the whole
 * process. libcurl 7.88 builds each event loop a certificate store of its
 * own from the CA file, parsing the whole bundle (about 30 ms and 1.5 MiB
 * for Debian's 140 certificates with OpenSSL 3), and builds it again for
 * every connection when a CA directory is set as well. Here the bundle is
 * parsed once, at the first TLS connection of the run, and every
 * connection's store looks the certificates it needs up in it by subject,
 * the way OpenSSL looks them up in a hashed directory.
 *
 * This takes OpenSSL calls into the very OpenSSL libcurl uses, so it is
 * there only when pdl was built with OpenSSL's headers and libcurl reports
 * that same OpenSSL at run time. Otherwise pdl_trust_new says no and
 * libcurl reads the CA file itself, as before. */
#ifndef PDL_TRUST_H
#define PDL_TRUST_H

#include <curl/curl.h>

struct pdl_trust;

/* For the CA file at path (copied; not read yet). NULL when this pdl
 * cannot look CAs up itself (see above) or out of memory. */
struct pdl_trust *pdl_trust_new(const char *path);
/* After every libcurl handle that used t is cleaned up. */
void pdl_trust_free(struct pdl_trust *t);

/* Has every TLS connection of h (an HTTPS proxy's too) trust the CAs of
 * t instead of a CA file of libcurl's: clears CURLOPT_CAINFO and
 * CURLOPT_PROXY_CAINFO. CURLE_OK, or libcurl's refusal (a TLS library
 * other than OpenSSL), with h's CA files as they were. */
CURLcode pdl_trust_use(struct pdl_trust *t, CURL *h);

/* The CA file's path. */
const char *pdl_trust_path(const struct pdl_trust *t);

/* Reads the file, the first time only: the number of certificates in it,
 * or -1 when it cannot be read or holds none (every later call says the
 * same). Thread-safe. */
long pdl_trust_load(struct pdl_trust *t);

/* Lets the OpenSSL X509_STORE store look certificates up in t (loaded
 * first): 0, or -1 when t has none or out of memory. */
int pdl_trust_attach(struct pdl_trust *t, void *store);

#endif
