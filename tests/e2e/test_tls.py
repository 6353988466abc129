"""End-to-end: https. A TLS server on 127.0.0.1 with a self-signed
certificate made for the run: pdl verifies peers by default (and so fails
here), -k downloads byte-exact with eight workers starting their
handshakes together, the certificate trusted through CURL_CA_BUNDLE,
SSL_CERT_FILE or SSL_CERT_DIR verifies, an unreadable one is a setup
error, and http and https mix in one list. Skipped when the
openssl command is not installed (scripts/setup.sh installs it)."""

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

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


class TLSServer(harness.ThreadedServer):
    """HTTP/1.1 keep-alive over TLS: `/pattern/N` answers pattern(N). Each
    connection's handshake runs on its own thread, so the handshakes of
    several pdl workers can overlap; it counts completed handshakes and
    failed ones."""

    def __init__(self, cert, key):
        outer = self
        self.lock = threading.Lock()
        self.handshakes = 0
        self.failed = 0
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

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

            def do_GET(self):
                # /closing/N: the same, on a connection closed after it
                closing = self.path.startswith("/closing/")
                if closing:
                    self.path = "/pattern/" + self.path[9:]
                if not self.path.startswith("/pattern/"):
                    self.send_error(404)
                    return
                body = pattern(int(self.path[9:]))
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                if closing:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a refused handshake is counted, not printed

        self.serve(Server(("127.0.0.1", 0), Handler), "https")


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
        # a hashed directory, as OpenSSL looks certificates up in it
        d = os.path.join(self.box.root, "cadir")
        os.mkdir(d)
        shutil.copy(self.cert(), os.path.join(d, "test-ca.pem"))
        subprocess.run([OPENSSL, "rehash", d], check=True,
                       capture_output=True, timeout=60)
        self.outside = self.box.snapshot_outside()
        self.trusted_run({"SSL_CERT_DIR": d})

    @unittest.skipUnless(shutil.which("strace"), "needs strace")
    def test_ca_file_read_once_per_loop_not_per_connection(self):
        # Every answer closes its connection: 40 handshakes. libcurl
        # keeps the certificate store it built from the CA file for the
        # next connections of its event loop (at most 8 loops at -j 8),
        # unless a CA directory is set too, which pdl sets only when
        # SSL_CERT_DIR asks: parsing a system bundle takes tens of ms.
        sizes = self.sizes(40)
        lst = self.box.write_list(
            [self.tls.url("/closing/%d" % n) for n in sizes])
        trace = os.path.join(self.box.root, "trace")
        before = self.tls.handshakes
        e = harness.without_leak_check(self.NO_TRUST_VARS)
        e["CURL_CA_BUNDLE"] = self.cert()
        r = self.pdl("-j", "8", "--retries", "0", "-o", self.box.out, lst,
                     env=e, wrap=["strace", "-f", "-qq", "-e",
                                  "trace=openat", "-o", trace])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(),
                         {str(n): pattern(n) for n in sizes})
        self.assertGreaterEqual(self.tls.handshakes - before, 40)
        with open(trace) as f:
            opens = [line for line in f if self.cert() in line]
        os.unlink(trace)
        # one for the check at start, one per loop at most
        self.assertLessEqual(len(opens), 1 + 8, opens)
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
