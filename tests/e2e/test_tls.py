"""End-to-end: https. A TLS server on 127.0.0.1 with a self-signed
certificate made for the run: pdl verifies peers by default (and so fails
here), -k downloads byte-exact with eight workers starting their
handshakes together, the certificate trusted through CURL_CA_BUNDLE,
SSL_CERT_FILE or SSL_CERT_DIR verifies (a server's and an HTTPS proxy's),
the CA file is read once per run however many connections, an unreadable
one is a setup error and one without certificates fails each https URL,
and http and https mix in one list. Skipped when the openssl command is
not installed (scripts/setup.sh installs it)."""

import http.client
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pattern  # noqa: E402

OPENSSL = shutil.which("openssl")


def make_cert(directory):
    """A P-256 key and a self-signed certificate for 127.0.0.1."""
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class TLSBase(harness.ThreadedServer):
    """HTTP/1.1 keep-alive over TLS with cert and key, each connection's
    handshake on its own thread (so the handshakes of several pdl workers
    can overlap), counted: completed and failed. Subclasses give the
    request handler's do_GET."""

    def __init__(self, cert, key, do_get):
        outer = self
        self.lock = threading.Lock()
        self.handshakes = 0
        self.failed = 0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            do_GET = do_get

            def setup(self):
                self.request.settimeout(30)
                try:
                    self.request = ctx.wrap_socket(self.request,
                                                   server_side=True)
                    ok = True
                except (ssl.SSLError, OSError):
                    ok = False
                with outer.lock:
                    if ok:
                        outer.handshakes += 1
                    else:
                        outer.failed += 1
                if not ok:
                    raise ConnectionAbortedError("handshake failed")
                super().setup()

            def finish(self):
                super().finish()
                self.request.close()  # the server closes only the raw socket

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a refused handshake is counted, not printed

        self.serve(Server(("127.0.0.1", 0), Handler), "https")


class TLSServer(TLSBase):
    """`/pattern/N` answers pattern(N); `/closing/N` the same on a
    connection closed after it."""

    def __init__(self, cert, key):
        def do_get(handler):
            closing = handler.path.startswith("/closing/")
            if closing:
                handler.path = "/pattern/" + handler.path[9:]
            if not handler.path.startswith("/pattern/"):
                handler.send_error(404)
                return
            body = pattern(int(handler.path[9:]))
            handler.send_response(200)
            handler.send_header("Content-Type", "application/octet-stream")
            handler.send_header("Content-Length", str(len(body)))
            if closing:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            handler.wfile.write(body)

        super().__init__(cert, key, do_get)


class TLSProxy(TLSBase):
    """An HTTPS proxy: plain HTTP requests for absolute http:// URLs, read
    over TLS and passed on to their server; counts what it passed on."""

    def __init__(self, cert, key):
        self.forwarded = 0

        def do_get(handler):
            u = urllib.parse.urlsplit(handler.path)
            if u.scheme != "http":
                handler.send_error(400)
                return
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            c.request("GET", u.path or "/")
            resp = c.getresponse()
            body = resp.read()
            c.close()
            with self.lock:
                self.forwarded += 1
            handler.send_response(resp.status)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

        super().__init__(cert, key, do_get)


@unittest.skipUnless(OPENSSL, "the openssl command is not installed")
class TLS(harness.E2E):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certdir = tempfile.mkdtemp(prefix="pdl-tls-")
        try:
            cls.tls = TLSServer(*make_cert(cls.certdir))
        except Exception:
            shutil.rmtree(cls.certdir, ignore_errors=True)
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tls.stop()
        shutil.rmtree(cls.certdir, ignore_errors=True)
        super().tearDownClass()

    def sizes(self, n):
        # distinct sizes, so distinct names, from one byte to past 100 KiB
        return [1 + i * 2099 for i in range(n)]

    def test_insecure_parallel_byte_exact(self):
        sizes = self.sizes(48)
        lst = self.box.write_list(
            [self.tls.url("/pattern/%d" % n) for n in sizes])
        before = self.tls.handshakes
        r = self.pdl("-k", "-j", "8", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("--insecure", r.stderr)
        files = r.files()
        self.assertEqual(len(files), len(sizes))
        for f in files:
            self.assertTrue(f["ok"], f)
            self.assertEqual(f["status"], 200, f)
        self.assertEqual(self.box.out_files(),
                         {str(n): pattern(n) for n in sizes})
        # connections are kept: about one handshake per worker, not per file
        made = self.tls.handshakes - before
        self.assertGreaterEqual(made, 2)
        self.assertLessEqual(made, 16)
        self.assert_clean()

    def test_verified_by_default(self):
        sizes = self.sizes(4)
        lst = self.box.write_list(
            [self.tls.url("/pattern/%d" % n) for n in sizes])
        r = self.pdl("-j", "4", "--retries", "0", "--json", "-o",
                     self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        files = r.files()
        self.assertEqual(len(files), len(sizes))
        for f in files:
            self.assertFalse(f["ok"], f)
            self.assertIn("certificate", f["error"], f)
        self.assertEqual(self.box.out_files(), {})
        self.assert_clean()

    # ---- trusted CAs from the environment ------------------------------

    NO_TRUST_VARS = {"CURL_CA_BUNDLE": "", "SSL_CERT_FILE": "",
                     "SSL_CERT_DIR": ""}

    def trusted_run(self, env, n=6):
        """n files at -j 3 without -k, verified against what env trusts:
        all whole, no warning."""
        sizes = self.sizes(n)
        lst = self.box.write_list(
            [self.tls.url("/pattern/%d" % m) for m in sizes])
        e = dict(self.NO_TRUST_VARS)
        e.update(env)
        r = self.pdl("-j", "3", "--retries", "0", "--json", "-o",
                     self.box.out, lst, env=e)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn("--insecure", r.stderr)
        self.assertEqual(self.box.out_files(),
                         {str(m): pattern(m) for m in sizes})
        self.assert_clean()

    def cert(self):
        return os.path.join(self.certdir, "cert.pem")

    def test_trusted_by_ssl_cert_file(self):
        self.trusted_run({"SSL_CERT_FILE": self.cert()})

    def test_curl_ca_bundle_wins_over_ssl_cert_file(self):
        # the system's bundle does not know the test's certificate
        self.trusted_run({"CURL_CA_BUNDLE": self.cert(),
                          "SSL_CERT_FILE": "/etc/ssl/certs/"
                                           "ca-certificates.crt"})

    def test_curl_ca_bundle_alone_when_set(self):
        # as curl reads them: SSL_CERT_DIR and SSL_CERT_FILE are not
        # looked at, not even to be refused, when CURL_CA_BUNDLE is set
        self.trusted_run({"CURL_CA_BUNDLE": self.cert(),
                          "SSL_CERT_FILE": "/nonexistent.pem",
                          "SSL_CERT_DIR": "/nonexistent"})

    def test_trusted_by_ssl_cert_dir(self):
        self.trusted_run({"SSL_CERT_DIR": self.cert_dir()})

    def cert_dir(self):
        """A hashed directory holding the test's certificate, as OpenSSL
        looks certificates up in it."""
        d = os.path.join(self.box.root, "cadir")
        os.mkdir(d)
        shutil.copy(self.cert(), os.path.join(d, "test-ca.pem"))
        subprocess.run([OPENSSL, "rehash", d], check=True,
                       capture_output=True, timeout=60)
        self.outside = self.box.snapshot_outside()
        return d

    def opens_for_40_connections(self, env):
        """40 files at -j 8 under strace, every answer closing its
        connection (40 handshakes): the paths pdl opened."""
        sizes = self.sizes(40)
        lst = self.box.write_list(
            [self.tls.url("/closing/%d" % n) for n in sizes])
        trace = os.path.join(self.box.root, "trace")
        before = self.tls.handshakes
        e = harness.without_leak_check(self.NO_TRUST_VARS)
        e.update(env)
        r = self.pdl("-j", "8", "--retries", "0", "-o", self.box.out, lst,
                     env=e, wrap=["strace", "-f", "-qq", "-e",
                                  "trace=openat", "-o", trace])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(),
                         {str(n): pattern(n) for n in sizes})
        self.assertGreaterEqual(self.tls.handshakes - before, 40)
        with open(trace) as f:
            opens = [line.split('"')[1] for line in f
                     if "openat(" in line and '"' in line]
        os.unlink(trace)
        self.assert_clean()
        return opens

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_ca_file_read_once_per_run(self):
        # Parsing a system's bundle takes tens of ms: pdl reads it at
        # the first handshake and every connection of every loop looks
        # up in what it read.
        opens = self.opens_for_40_connections(
            {"CURL_CA_BUNDLE": self.cert()})
        # the check at start, then one read
        self.assertEqual(opens.count(self.cert()), 2, opens)
        # no other bundle (libcurl's own) is read besides
        self.assertEqual([p for p in opens if p.endswith(".crt")], [])

    SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

    @unittest.skipUnless(shutil.which("strace") and
                         os.path.isfile(SYSTEM_BUNDLE),
                         "needs strace and Debian's CA bundle")
    def test_ca_dir_does_not_read_the_bundle_per_connection(self):
        # SSL_CERT_DIR alone: the directory besides libcurl's own bundle
        # (Debian's), which libcurl would read again for every connection
        # of a store with a directory.
        opens = self.opens_for_40_connections(
            {"SSL_CERT_DIR": self.cert_dir()})
        self.assertLessEqual(opens.count(self.SYSTEM_BUNDLE), 1, opens)

    def test_ca_file_without_certificates(self):
        # readable, so no setup error, but nothing OpenSSL can use: each
        # https URL fails saying so; http is not held up by it
        bad = os.path.join(self.box.root, "bad.pem")
        with open(bad, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n")
        self.outside = self.box.snapshot_outside()
        urls = [self.tls.url("/pattern/%d" % n) for n in (10, 20, 30)]
        lst = self.box.write_list(urls + [self.server.url("/bytes/40")])
        e = dict(self.NO_TRUST_VARS)
        e["CURL_CA_BUNDLE"] = bad
        r = self.pdl("-j", "2", "--json", "-o", self.box.out, lst, env=e)
        self.assertEqual(r.rc, 1, r)
        files = {f["url"]: f for f in r.files()}
        for u in urls:
            self.assertFalse(files[u]["ok"], files[u])
            self.assertEqual(files[u]["error"],
                             "no CA certificate can be read from " + bad)
            # not retried: the file will not change its mind
            self.assertEqual(files[u]["attempts"], 1, files[u])
        self.assertEqual(set(self.box.out_files()), {"40"})
        self.assert_clean()

    def test_https_proxy_verified_against_the_same_cas(self):
        # the proxy's certificate is checked as a server's is: against
        # the CA file pdl reads for the run
        proxy = TLSProxy(self.cert(), os.path.join(self.certdir, "key.pem"))
        self.addCleanup(proxy.stop)
        sizes = self.sizes(4)
        lst = self.box.write_list(
            [self.url("/bytes/%d" % n) for n in sizes])
        base = dict(self.NO_TRUST_VARS, http_proxy=proxy.base,
                    NO_PROXY="", no_proxy="")
        r = self.pdl("-j", "2", "--retries", "0", "--json", "-o",
                     self.box.out, lst, env=base)
        self.assertEqual(r.rc, 1, r)
        for f in r.files():
            self.assertIn("certificate", f["error"], f)
        self.assertEqual(proxy.forwarded, 0)
        self.assertEqual(self.box.out_files(), {})

        r = self.pdl("-j", "2", "--retries", "0", "--json", "-o",
                     self.box.out, lst,
                     env=dict(base, CURL_CA_BUNDLE=self.cert()))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(proxy.forwarded, len(sizes))
        self.assertEqual(self.box.out_files(),
                         {str(n): pattern(n) for n in sizes})
        self.assert_clean()

    def test_unreadable_trust_is_a_setup_error(self):
        lst = self.box.write_list([self.tls.url("/pattern/10")])
        missing = os.path.join(self.box.root, "no-such.pem")
        for var, value, why in (
                ("SSL_CERT_FILE", missing, "No such file or directory"),
                ("CURL_CA_BUNDLE", self.box.root, "Is a directory"),
                ("SSL_CERT_DIR", self.cert(), "Not a directory")):
            with self.subTest(var=var):
                before = self.tls.handshakes + self.tls.failed
                e = dict(self.NO_TRUST_VARS)
                e[var] = value
                r = self.pdl("-o", self.box.out, lst, env=e)
                self.assertEqual(r.rc, 3, r)
                self.assertEqual(r.stdout, "")
                self.assertIn("pdl: %s: cannot read %s: %s" %
                              (var, value, why), r.stderr)
                self.assertEqual(self.tls.handshakes + self.tls.failed,
                                 before)
                self.assertEqual(self.box.out_files(), {})
        self.assert_clean()

    def test_http_and_https_in_one_list(self):
        sizes = self.sizes(12)
        urls = []
        want = {}
        for i, n in enumerate(sizes):
            if i % 2:
                urls.append(self.tls.url("/pattern/%d" % n))
                want[str(n)] = pattern(n)
            else:
                urls.append(self.url("/bytes/%d" % n))
                want[str(n)] = pattern(n)
        lst = self.box.write_list(urls)
        r = self.pdl("-k", "-j", "3", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(len(r.files()), len(urls))
        self.assertEqual(self.box.out_files(), want)
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
