"""End-to-end against a real web server: nginx on loopback ports, started
from a throw-away prefix, over plain HTTP/1.1 and over HTTPS with HTTP/2
(a self-signed certificate made for the run, so pdl runs with -k there).
Skipped when /usr/sbin/nginx is not installed (the CI script installs
nginx-light); the HTTPS tests also when the openssl command is not."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_tls import OPENSSL, make_cert  # noqa: E402

NGINX = "/usr/sbin/nginx"
SIZES = {"one-k.bin": 1024, "sixty-four-k.bin": 64 * 1024,
         "one-m.bin": 1024 * 1024, "eight-m.bin": 8 * 1024 * 1024}
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    """nginx in the foreground, one process, everything under prefix."""

    def __init__(self, prefix, root, tls=None):
        """tls: (certificate, key) for a second, HTTPS and HTTP/2 port."""
        self.prefix = prefix
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.access_log = os.path.join(prefix, "access.log")
        self.error_log = os.path.join(prefix, "error.log")
        self.conf = os.path.join(prefix, "nginx.conf")
        temps = [d for d in TEMP_DIRS]
        for _ in range(len(TEMP_DIRS) + 1):
            self.write_conf(root, temps)
            t = subprocess.run(self.cmd("-t"), capture_output=True,
                               timeout=30)
            if t.returncode == 0:
                break
            # a lighter build lacks some modules and so their directives
            m = re.search(rb'unknown directive "(\w+)_temp_path"', t.stderr)
            if not m or m.group(1).decode() not in temps:
                raise RuntimeError("nginx -t: %s" % t.stderr.decode(
                    "utf-8", "replace"))
            temps.remove(m.group(1).decode())
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or \
                        time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("nginx did not start")
                time.sleep(0.05)
        self.base = "http://127.0.0.1:%d" % self.port
        if tls:
            self.tls_base = "https://127.0.0.1:%d" % self.tls_port

    def cmd(self, *extra):
        return [NGINX, "-p", self.prefix + "/", "-c", self.conf,
                "-e", self.error_log] + list(extra)

    def write_conf(self, root, temps):
        p = self.prefix
        lines = [
            "daemon off;",
            "master_process off;",
            "worker_processes 1;",
            "pid %s/nginx.pid;" % p,
            "error_log %s/error.log;" % p,
            "events { worker_connections 256; }",
            "http {",
            "  log_format pdl '$request|$status|$http_range|"
            "$body_bytes_sent';",
            "  access_log %s pdl;" % self.access_log,
        ]
        for t in temps:
            os.makedirs(os.path.join(p, "tmp", t), exist_ok=True)
            lines.append("  %s_temp_path %s/tmp/%s;" % (t, p, t))
        site = [
            "    root %s;" % root,
            # each connection paced: a body long enough to be split
            "    location /slow/ { alias %s/; limit_rate 8m; }" % root,
            "  }",
        ]
        lines += ["  server {",
                  "    listen 127.0.0.1:%d;" % self.port] + site
        if self.tls:
            lines += ["  server {",
                      "    listen 127.0.0.1:%d ssl http2;" % self.tls_port,
                      "    ssl_certificate %s;" % self.tls[0],
                      "    ssl_certificate_key %s;" % self.tls[1]] + site
        lines.append("}")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def url(self, path):
        return self.base + path

    def tls_url(self, path):
        return self.tls_base + path

    def requests(self):
        """(request line, status, Range header, body bytes) per request."""
        try:
            with open(self.access_log) as f:
                rows = [l.rstrip("\n").split("|") for l in f if l.strip()]
        except FileNotFoundError:
            return []
        return [(r[0], int(r[1]), r[2], int(r[3])) for r in rows]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stderr.close()


@unittest.skipUnless(os.path.exists(NGINX),
                     "nginx is not installed (apt-get install nginx-light)")
class RealServer(harness.E2E):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prefix = tempfile.mkdtemp(prefix="pdl-nginx-")
        cls.www = os.path.join(cls.prefix, "www")
        os.makedirs(os.path.join(cls.www, "dir"))
        cls.bodies = {}
        for name, size in SIZES.items():
            cls.bodies[name] = os.urandom(size)
            with open(os.path.join(cls.www, name), "wb") as f:
                f.write(cls.bodies[name])
        with open(os.path.join(cls.www, "dir", "index.html"), "wb") as f:
            f.write(b"<p>index of dir</p>\n")
        try:
            tls = make_cert(cls.prefix) if OPENSSL else None
            cls.nginx = Nginx(cls.prefix, cls.www, tls)
        except Exception:
            shutil.rmtree(cls.prefix, ignore_errors=True)
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        shutil.rmtree(cls.prefix, ignore_errors=True)
        super().tearDownClass()

    def list_all(self, extra=()):
        return self.box.write_list([self.nginx.url("/" + n) for n in SIZES] +
                                   list(extra))

    def test_download_byte_exact(self):
        lst = self.list_all([self.nginx.url("/missing.bin")])
        r = self.pdl("-j", "4", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(self.box.out_files(), self.bodies)
        res = {f["url"]: f for f in r.files()}
        miss = res[self.nginx.url("/missing.bin")]
        self.assertEqual((miss["ok"], miss["status"], miss["error"]),
                         (False, 404, "HTTP 404"))
        for name, size in SIZES.items():
            f = res[self.nginx.url("/" + name)]
            self.assertEqual((f["ok"], f["status"], f["bytes"]),
                             (True, 200, size))
        s = r.summary()
        self.assertEqual((s["urls"], s["ok"], s["failed"]), (5, 4, 1))
        self.assert_clean()

    def test_directory_redirect(self):
        # nginx answers /dir with a 301 to /dir/: the file keeps the name
        # of the URL as given
        r = self.pdl("--json", "-o", self.box.out,
                      stdin=self.nginx.url("/dir") + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(),
                         {"dir": b"<p>index of dir</p>\n"})
        self.assert_clean()

    def test_long_body_in_parts(self):
        # The free slot asks nginx for the second half of the paced body
        # with If-Range (its ETag); nginx answers 206, and the parts make
        # the file.
        self.long_body_in_parts(self.nginx.url)

    def long_body_in_parts(self, url, *opts):
        """A short body and a paced 8 MiB one at -j 2: once the short one
        is in, its slot takes part of the long one. Returns where the
        run's requests begin in nginx's log."""
        before = len(self.nginx.requests())
        lst = self.box.write_list([url("/one-k.bin"),
                                   url("/slow/eight-m.bin")])
        r = self.pdl(*opts, "-j", "2", "-v", "--json", "-o", self.box.out,
                     lst, timeout=120)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(),
                         {n: self.bodies[n]
                          for n in ("one-k.bin", "eight-m.bin")})
        self.assertEqual(r.files()[-1]["bytes"], SIZES["eight-m.bin"])
        # nginx logs a request when it ends, and a part may end before
        # the transfer it was taken from.
        new = self.nginx.requests()[before:]
        slow = [(st, rng) for req, st, rng, _ in new if "/slow/" in req]
        self.assertEqual([x for x in slow if x[0] == 200], [(200, "-")],
                         slow)
        parts = [rng for st, rng in slow if st == 206]
        self.assertTrue(parts, slow)
        self.assertTrue(all(re.fullmatch(r"bytes=\d+-\d+", p)
                            for p in parts), slow)
        self.assert_clean()
        return before

    def test_continue_skips_everything(self):
        lst = self.list_all()
        r = self.pdl("-j", "4", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        before = len(self.nginx.requests())
        r = self.pdl("-c", "-j", "4", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        files = r.files()
        self.assertEqual(len(files), len(SIZES))
        for f in files:
            self.assertIs(f.get("skipped"), True, f)
            self.assertEqual(f["bytes"], 0)
        self.assertEqual(r.summary()["skipped"], len(SIZES))
        self.assertEqual(len(self.nginx.requests()), before,
                         "a skipped file was requested")
        self.assertEqual(self.box.out_files(), self.bodies)
        self.assert_clean()

    def test_range_resume(self):
        name = "eight-m.bin"
        body = self.bodies[name]
        half = len(body) // 2
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "." + name + ".pdl-part"),
                  "wb") as f:
            f.write(body[:half])
        before = len(self.nginx.requests())
        r = self.pdl("-c", "--json", "-o", self.box.out,
                     stdin=self.nginx.url("/" + name) + "\n")
        self.assertEqual(r.rc, 0, r)
        f = r.files()[0]
        self.assertTrue(f["ok"], f)
        self.assertEqual(f["status"], 206)
        self.assertEqual(f["bytes"], len(body) - half)
        self.assertEqual(self.box.out_files(), {name: body})
        new = self.nginx.requests()[before:]
        self.assertEqual(len(new), 1, new)
        line, status, rng, sent = new[0]
        self.assertEqual((status, rng, sent),
                         (206, "bytes=%d-" % half, len(body) - half))
        self.assertIn("/" + name, line)
        self.assert_clean()

    def test_resume_of_a_complete_part(self):
        # the kept part already holds the whole body: nginx answers 416,
        # and pdl must still end with the whole file, once
        name = "sixty-four-k.bin"
        body = self.bodies[name]
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "." + name + ".pdl-part"),
                  "wb") as f:
            f.write(body)
        r = self.pdl("-c", "--json", "-o", self.box.out,
                     stdin=self.nginx.url("/" + name) + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), {name: body})
        self.assert_clean()

    # ---- HTTPS and HTTP/2 ---------------------------------------------

    def need_tls(self):
        if not self.nginx.tls:
            self.skipTest("the openssl command is not installed")

    def https_requests(self, since):
        """The log's requests from `since` on, each of which must have
        been made over HTTP/2 (pdl asks for it over TLS, nginx offers
        it)."""
        new = self.nginx.requests()[since:]
        for req, _, _, _ in new:
            self.assertTrue(req.endswith(" HTTP/2.0"), new)
        return new

    def test_https_http2_byte_exact(self):
        self.need_tls()
        before = len(self.nginx.requests())
        lst = self.box.write_list([self.nginx.tls_url("/" + n)
                                   for n in SIZES])
        r = self.pdl("-k", "-j", "4", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), self.bodies)
        for f in r.files():
            self.assertEqual((f["ok"], f["status"]), (True, 200), f)
        new = self.https_requests(before)
        # one 200 each; the 8 MiB body may also have been split (206s)
        self.assertEqual(sorted(req.split()[1] for req, st, _, _ in new
                                if st == 200),
                         sorted("/" + n for n in SIZES), new)
        for req, st, rng, _ in new:
            if st != 200:
                self.assertEqual((req.split()[1], st), ("/eight-m.bin", 206),
                                 new)
                self.assertRegex(rng, r"^bytes=\d+-\d+$", new)
        self.assert_clean()

    def test_https_long_body_in_parts_over_http2(self):
        # parts are streams of HTTP/2 connections: the 206s make the file
        self.need_tls()
        before = self.long_body_in_parts(self.nginx.tls_url, "-k")
        self.https_requests(before)

    def test_https_range_resume_over_http2(self):
        self.need_tls()
        name = "one-m.bin"
        body = self.bodies[name]
        have = 300000
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "." + name + ".pdl-part"),
                  "wb") as f:
            f.write(body[:have])
        before = len(self.nginx.requests())
        r = self.pdl("-k", "-c", "--json", "-o", self.box.out,
                     stdin=self.nginx.tls_url("/" + name) + "\n")
        self.assertEqual(r.rc, 0, r)
        f = r.files()[0]
        self.assertEqual((f["ok"], f["status"], f["bytes"]),
                         (True, 206, len(body) - have), f)
        self.assertEqual(self.box.out_files(), {name: body})
        new = self.https_requests(before)
        self.assertEqual([(st, rng, sent) for _, st, rng, sent in new],
                         [(206, "bytes=%d-" % have, len(body) - have)])
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
