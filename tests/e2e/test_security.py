"""End-to-end: security. Only http and https, for the first URL and every
redirect, refused before any I/O; credentials (URL userinfo, -H
Authorization, -H Cookie) never sent to another host or port after a
redirect, passwords never printed; no write follows a symlink or goes
through a hard link; no name leaves the output directory, whatever the URL,
the NAME column or Content-Disposition say."""

import os
import socket
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

PASSWORD = "hunter2-Secret"
TOKEN = "Bearer TOPSECRET-token"
COOKIE = "session=COOKIESECRET"
SECRETS = (PASSWORD.encode(), b"TOPSECRET", b"COOKIESECRET")

# Content-Disposition values (sent as given) and the name pdl must pick with
# --content-disposition; None: the URL's own name ("disposition").
DISPOSITIONS = (
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ('attachment; filename="/etc/shadow"', "shadow"),
    ('attachment; filename=".."', None),
    ('attachment; filename="."', None),
    ('attachment; filename=""', None),
    ('attachment; filename="dir/"', None),
    ("attachment; filename*=UTF-8''..%2F..%2Fevil.sh", "evil.sh"),
    ("attachment; filename*=UTF-8''%2e%2e", None),
    ("attachment; filename*=UTF-8''a%00b", "a_b"),
    ("attachment; filename*=UTF-8''%1b%5b2Jclear", "_[2Jclear"),
    ('attachment; filename="C:\\\\Windows\\\\win.ini"', "win.ini"),
    ("attachment; filename=..\\..\\boot.ini", "boot.ini"),
    ('attachment; filename=".x.pdl-part"', "_x.pdl-part"),
    ('attachment; filename="' + "l" * 300 + '.txt"', "l" * 251 + ".txt"),
    ('inline; filename="caf\u00e9.txt"'.encode("utf-8").decode("latin-1"),
     "caf\u00e9.txt"),
)


class Security(adversary.Adversarial):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_port = harness.Server()             # 127.0.0.1, other port
        try:
            cls.other_host = harness.Server(bind="127.0.0.2")
        except (RuntimeError, OSError):
            cls.other_host = None
        cls.hostile = adversary.Hostile()

    @classmethod
    def tearDownClass(cls):
        cls.hostile.stop()
        cls.other_port.stop()
        if cls.other_host:
            cls.other_host.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        for s in (self.server, self.other_port, self.other_host):
            if s:
                s.reset_log()

    def redirect(self, target, code=302, creds=False):
        q = urllib.parse.quote(target, safe="")
        base = self.server.base
        if creds:
            base = base.replace("http://", "http://user:%s@" % PASSWORD)
        return "%s/redirect-to?url=%s&code=%d" % (base, q, code)

    def assert_no_secrets(self, res):
        for s in SECRETS:
            self.assertNotIn(s, res.out, "secret on stdout")
            self.assertNotIn(s, res.err, "secret on stderr")

    # ---- protocols ------------------------------------------------------

    def test_other_schemes_refused_before_any_io(self):
        """A listener stands where each refused URL points: pdl must never
        connect to it, and every such line is reported with FILE:LINE."""
        lsn = socket.socket()
        lsn.bind(("127.0.0.1", 0))
        lsn.listen(16)
        lsn.settimeout(0.05)
        port = lsn.getsockname()[1]
        accepted = []
        stop = threading.Event()

        def accept():
            while not stop.is_set():
                try:
                    c, _ = lsn.accept()
                    accepted.append(c)
                except socket.timeout:
                    pass
                except OSError:
                    return
        t = threading.Thread(target=accept, daemon=True)
        t.start()
        hp = "127.0.0.1:%d" % port
        bad = ["file:///etc/passwd", "FILE:///etc/shadow", "ftp://%s/y" % hp,
               "gopher://%s/x" % hp, "dict://%s/d" % hp,
               "telnet://%s/" % hp, "scp://%s/x" % hp, "ldap://%s/" % hp,
               "tftp://%s/x" % hp, "smb://%s/x" % hp, "mqtt://%s/x" % hp,
               "ws://%s/x" % hp, "%s/x" % hp, "example.com/x",
               "//%s/x" % hp]
        lines = bad + ["%s ok" % self.url("/bytes/100")]
        try:
            res, path = self.json_run(lines, "--retries", "0", rc=1)
        finally:
            stop.set()
            t.join(5)
            lsn.close()
            for c in accepted:
                c.close()
        self.assertEqual(accepted, [], "pdl connected for a refused URL")
        errs = sorted(o["error"] for o in res.files() if not o["ok"])
        self.assertEqual(len(errs), len(bad))
        for i, line in enumerate(bad):
            self.assertTrue(any(e.startswith("%s:%d: " % (path, i + 1))
                                for e in errs), line)
        self.assert_files({"ok": pattern(100)})

    def test_proto_https_only_refuses_http(self):
        res, path = self.json_run([self.url("/bytes/10")], "--proto", "https",
                                  rc=1)
        self.assertRegex(res.files()[0]["error"],
                         r":1: scheme 'http' not allowed")
        self.assertEqual(self.server.log(), [])
        self.assert_files({})

    def test_redirect_to_other_schemes_refused(self):
        targets = ["file:///etc/passwd", "ftp://127.0.0.1:1/x",
                   "gopher://127.0.0.1:1/x", "dict://127.0.0.1:1/x",
                   "FILE:///etc/hostname"]
        lines = ["%s r%d" % (self.redirect(t, code), i)
                 for i, (t, code) in enumerate(
                     zip(targets, (301, 302, 303, 307, 308)))]
        lines.append("%s ok" % self.url("/bytes/100"))
        res, _ = self.json_run(lines, "--retries", "0", rc=1)
        for o in res.files():
            if "redirect-to" in o["url"]:
                self.assertFalse(o["ok"], o)
                self.assertRegex(o["error"], r"^protocol not allowed", o)
        self.assert_files({"ok": pattern(100)})

    def test_proto_applies_to_redirects(self):
        """--proto http: a redirect to https is refused before connecting
        (a plain http server listens there, which would answer)."""
        url = self.redirect(self.other_port.url("/bytes/10").replace(
            "http://", "https://"))
        ok = self.redirect(self.other_port.url("/bytes/20"))
        res, _ = self.json_run([url + " t", ok + " u"], "--proto", "http",
                               "--retries", "0", rc=1)
        r = self.by_url(res)[url]
        self.assertRegex(r["error"], r"^protocol not allowed \(--proto http\)")
        self.assertEqual([e["path"] for e in self.other_port.log()],
                         ["/bytes/20"])
        self.assert_files({"u": pattern(20)})

    # ---- credentials across redirects --------------------------------------

    def auth_headers(self, server):
        return [{k.lower(): v for k, v in e["headers"].items()}
                for e in server.log() if e["path"].startswith("/bytes/")]

    def cross_redirect(self, other, code):
        target = other.url("/bytes/321")
        lines = ["%s t" % self.redirect(target, code, creds=True)]
        res, _ = self.json_run(lines, "-H", "Authorization: " + TOKEN,
                               "-H", "Cookie: " + COOKIE, "-v", rc=0)
        self.assert_files({"t": pattern(321)})
        first = [e for e in self.server.log()
                 if e["path"].startswith("/redirect-to")]
        self.assertEqual(len(first), 1)
        h = {k.lower(): v for k, v in first[0]["headers"].items()}
        # the first host got what it was given
        self.assertEqual(h.get("authorization"), TOKEN)
        self.assertEqual(h.get("cookie"), COOKIE)
        seen = self.auth_headers(other)
        self.assertEqual(len(seen), 1)
        self.assertNotIn("authorization", seen[0], seen)
        self.assertNotIn("cookie", seen[0], seen)
        self.assertNotIn(PASSWORD, str(seen))
        self.assert_no_secrets(res)

    def test_credentials_dropped_on_redirect_to_other_port(self):
        for code in (302, 307, 308):
            with self.subTest(code=code):
                self.other_port.reset_log()
                self.server.reset_log()
                self.cross_redirect(self.other_port, code)
                self.box.remove()
                self.box = harness.Sandbox()
                self.outside = self.box.snapshot_outside()

    def test_credentials_dropped_on_redirect_to_other_host(self):
        if not self.other_host:
            self.skipTest(harness.THIS_MACHINE + "cannot bind 127.0.0.2")
        self.cross_redirect(self.other_host, 302)

    def test_header_names_in_any_case_are_dropped(self):
        target = self.other_port.url("/bytes/40")
        res, _ = self.json_run(["%s t" % self.redirect(target)],
                               "-H", "authorization: " + TOKEN,
                               "-H", "COOKIE: " + COOKIE, rc=0)
        seen = self.auth_headers(self.other_port)
        self.assertEqual(len(seen), 1)
        self.assertNotIn("authorization", seen[0], seen)
        self.assertNotIn("cookie", seen[0], seen)
        self.assert_files({"t": pattern(40)})

    def test_userinfo_sent_to_first_host_only(self):
        target = self.other_port.url("/bytes/50")
        lines = ["%s t" % self.redirect(target, 302, creds=True),
                 "%s same" % self.url("/bytes/60").replace(
                     "http://", "http://user:%s@" % PASSWORD)]
        res, _ = self.json_run(lines, rc=0)
        mine = {e["path"]: {k.lower(): v for k, v in e["headers"].items()}
                for e in self.server.log()}
        self.assertTrue(mine["/bytes/60"]["authorization"].startswith(
            "Basic "))
        self.assertNotIn("authorization", self.auth_headers(
            self.other_port)[0])
        self.assert_no_secrets(res)
        self.assert_files({"t": pattern(50), "same": pattern(60)})

    def test_same_host_redirect_keeps_headers(self):
        lines = ["%s t" % self.redirect(self.url("/bytes/70"))]
        res, _ = self.json_run(lines, "-H", "Authorization: " + TOKEN, rc=0)
        h = [e["headers"] for e in self.server.log()
             if e["path"] == "/bytes/70"][0]
        self.assertEqual(h.get("Authorization"), TOKEN)
        self.assert_files({"t": pattern(70)})

    def test_passwords_never_printed(self):
        pw_url = self.url("/bytes/80").replace(
            "http://", "http://user:%s@" % PASSWORD)
        lines = [pw_url + " a",
                 self.url("/status/404").replace(
                     "http://", "http://user:%s@" % PASSWORD),
                 "http://user:%s@127.0.0.1:1/refused" % PASSWORD,
                 "http://user:%s@[::1/bad" % PASSWORD,
                 "ftp://user:%s@127.0.0.1/x" % PASSWORD,
                 "http://user:%s@127.0.0.1:99999/x" % PASSWORD,
                 # libcurl also takes one slash, or three
                 "http:/user:%s@127.0.0.1:1/one-slash" % PASSWORD,
                 "http:///user:%s@127.0.0.1:1/three" % PASSWORD,
                 "http:user:%s@127.0.0.1:1/none" % PASSWORD,
                 self.redirect(self.other_port.url("/bytes/90"), creds=True)
                 + " b"]
        for mode in (["--json"], [], ["-v"], ["-n"], ["-n", "--json"],
                     ["-q"]):
            with self.subTest(mode=mode):
                path = adversary.write_raw_list(self.box, lines)
                res = self.pdl(*mode, "--retries", "0", "-o",
                               self.box.path("o%d" % len(mode)), path)
                self.assert_no_secrets(res)
                self.assertIn(b"***", res.out + res.err)

    # ---- links in the output directory -------------------------------------

    def canary(self):
        return os.path.join(self.box.canary, "secret.txt")

    def test_symlink_at_final_name_is_never_written_through(self):
        os.makedirs(self.box.out)
        os.symlink(self.canary(), os.path.join(self.box.out, "a"))
        os.symlink(self.box.canary, os.path.join(self.box.out, "b"))
        for opts, files in (
                ([], {"a.1": pattern(10), "b.1": pattern(20)}),
                (["-c"], {}),
                (["--overwrite"], {"a": pattern(10), "b": pattern(20)})):
            with self.subTest(opts=opts):
                lines = ["%s a" % self.url("/bytes/10"),
                         "%s b" % self.url("/bytes/20")]
                res, _ = self.json_run(lines, *opts)
                self.assertEqual(res.rc, 0, res)
                self.assert_clean()
                got = self.box.out_files()
                for k, v in files.items():
                    self.assertEqual(got.get(k), v, k)
        # --overwrite replaced the links themselves, never their targets
        self.assertFalse(os.path.islink(os.path.join(self.box.out, "a")))

    def test_symlinked_subdirectory_is_refused(self):
        os.makedirs(self.box.out)
        os.symlink(self.box.canary, os.path.join(self.box.out, "sub"))
        lines = ["%s sub/x" % self.url("/bytes/10"),
                 "%s sub/deeper/y" % self.url("/bytes/10"),
                 "%s fine/z" % self.url("/bytes/30")]
        res, _ = self.json_run(lines, rc=1)
        self.assertEqual(sorted(os.listdir(self.box.canary)), ["secret.txt"])
        self.assert_clean()
        self.assertEqual(self.box.out_files().get("fine/z"), pattern(30))

    def test_hard_linked_partial_with_continue(self):
        """A kept part that is a hard link to a file elsewhere: -c never
        appends to it (the canary keeps its content)."""
        os.makedirs(self.box.out)
        os.link(self.canary(), os.path.join(self.box.out, ".t.pdl-part"))
        os.symlink(self.canary(), os.path.join(self.box.out, ".u.pdl-part"))
        lines = ["%s t" % self.url("/bytes/5000"),
                 "%s u" % self.url("/bytes/6000")]
        res, _ = self.json_run(lines, "-c", rc=0)
        self.assert_clean()       # the canary is unchanged
        self.assertEqual(self.box.out_files(),
                         {"t": pattern(5000), "u": pattern(6000)})
        for e in self.server.log():
            self.assertNotIn("Range", e["headers"])

    def test_hard_linked_final_name_with_overwrite(self):
        os.makedirs(self.box.out)
        os.link(self.canary(), os.path.join(self.box.out, "t"))
        res, _ = self.json_run(["%s t" % self.url("/bytes/500")],
                               "--overwrite", rc=0)
        self.assert_clean()       # replaced by rename, not written into
        self.assertEqual(self.box.out_files(), {"t": pattern(500)})

    def test_temp_shaped_names_are_renamed(self):
        """A URL or Content-Disposition naming a file like a temporary one
        (.x.pdl-part) must not make it one: a later run would delete it
        (or, with -c, append to it)."""
        lines = [self.hostile.url("/n/.v.pdl-part"),
                 "%s .t.pdl-part" % self.url("/bytes/44"),
                 "%s d/.w.pdl-part" % self.url("/bytes/45")]
        res, _ = self.json_run(lines, rc=0)
        got = self.box.out_files()
        self.assertEqual(got.get("_t.pdl-part"), pattern(44))
        self.assertEqual(got.get("d/_w.pdl-part"), pattern(45))
        self.assertEqual(got.get("_v.pdl-part"), b"/n/.v.pdl-part")
        # a later run for "t" leaves it alone, with and without -c
        for opts in ([], ["-c"]):
            self.json_run(["%s t" % self.url("/bytes/55")], *opts, rc=0)
            self.assertEqual(self.box.out_files().get("_t.pdl-part"),
                             pattern(44))
            self.assertEqual(self.box.out_files().get("t"), pattern(55))

    # ---- names never leave the output directory ----------------------------

    def test_url_names_never_escape(self):
        paths = ["/n/..%2F..%2Fescape", "/n/%2e%2e", "/n/%2E%2E%2F%2E%2E",
                 "/n/..%5C..%5Cescape", "/n/%00", "/n/..", "/n/../..",
                 "/n/%2F", "/n/%2Fetc%2Fpasswd", "/../../../etc/passwd"]
        lines = [self.hostile.url(p) for p in paths]
        res, _ = self.json_run(lines, "--retries", "0")
        for o in res.files():
            if o["path"]:
                real = os.path.realpath(o["path"])
                self.assertTrue(real.startswith(
                    os.path.realpath(self.box.out) + os.sep), o)
        self.assert_clean()
        for name in self.box.out_files():
            self.assertNotIn("..", name.split(os.sep))
            self.assertEqual(os.sep in name, False, name)

    def test_content_disposition_names(self):
        hexes = [v.encode("latin-1").hex() for v, _ in DISPOSITIONS]
        lines = [self.hostile.url("/disposition/%s" % h) for h in hexes]
        res, _ = self.json_run(lines, "--content-disposition", rc=0)
        got = {o["url"]: o["path"] for o in res.files()}
        for (value, want), h in zip(DISPOSITIONS, hexes):
            path = got[self.hostile.url("/disposition/%s" % h)]
            name = os.path.relpath(path, self.box.out)
            with self.subTest(value=value):
                if want is None:
                    self.assertRegex(name, r"^[0-9a-f]*(\.\d+)?$")
                else:
                    self.assertEqual(name, want)
                self.assertEqual(os.path.dirname(name), "")
        files = self.box.out_files()
        self.assertEqual(len(files), len(DISPOSITIONS))
        for v in files.values():
            self.assertEqual(v, b"body\n")
        self.assert_clean()
        self.assert_no_raw_escape(res, json=True)

    def test_content_disposition_ignored_without_option_and_for_named(self):
        h = 'attachment; filename="../../x/passwd"'.encode().hex()
        lines = [self.hostile.url("/disposition/%s" % h),
                 "%s given" % self.hostile.url("/disposition/%s" % h)]
        res, _ = self.json_run(lines, rc=0)
        self.assertEqual(sorted(self.box.out_files()), [h, "given"])
        res, _ = self.json_run(lines[1:], "--content-disposition",
                               "--overwrite", rc=0)
        self.assertEqual(sorted(self.box.out_files()), [h, "given"])
        self.assert_clean()

    def test_content_disposition_text_report_is_escaped(self):
        h = b"attachment; filename=\"\x1b]0;pwned\x07\x1b[2J.txt\"".hex()
        path = adversary.write_raw_list(
            self.box, [self.hostile.url("/disposition/%s" % h)])
        res = self.pdl("--content-disposition", "-o", self.box.out, path)
        self.assertEqual(res.rc, 0, res)
        self.assert_no_raw_escape(res)
        self.assertEqual(list(self.box.out_files().values()), [b"body\n"])
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
