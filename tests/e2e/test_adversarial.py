"""End-to-end, adversarial: faults of the fixture server, a scripted hostile
server (broken framing, endless interim answers, header bombs, a server that
lies about ranges), and hostile list lines. Three tables; every row runs in
its own sandbox next to two well-behaved URLs that must still arrive whole,
and owes: the exit status, one report line per URL, nothing outside out/
touched, no file under a final name unless whole, no temporary files."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

ANY = object()  # either outcome is right; only its consistency is checked

# Faults of the fixture server. (id, path, options, ok, reason regex or the
# expected body (bytes) when ok, extra check name or None)
FAULTS = (
    ("redirect_loop", "/redirect-loop", ["--max-redirs", "5"], False,
     r"^Maximum \(5\) redirects followed$", "six_requests"),
    ("redirect_chain_ok", "/redirect/3", ["--max-redirs", "5"], True,
     b"redirect done\n", None),
    ("redirect_over_limit", "/redirect/3", ["--max-redirs", "2"], False,
     r"redirects followed", None),
    ("max_filesize_content_length", "/bytes/200000",
     ["--max-filesize", "100000"], False,
     r"^larger than --max-filesize \(100000 bytes\)$", "no_body_bytes"),
    ("max_filesize_exact_fits", "/bytes/100000",
     ["--max-filesize", "100000"], True, pattern(100000), None),
    ("max_filesize_suffix", "/bytes/200000", ["--max-filesize", "100K"],
     False, r"^larger than --max-filesize \(102400 bytes\)$", None),
    ("huge_headers_refused", "/huge-headers?count=1000&size=1000",
     ["--retries", "0"], False, r"(?i)header", None),
    ("many_headers_fine", "/huge-headers?count=50&size=1000", [], True,
     b"ok\n", None),
    ("gzip_saved_as_sent", "/gzip", [], True, "gzip", "gzip_small"),
    ("never_with_timeout", "/never", ["--timeout", "1", "--retries", "0"],
     False, r"(?i)timed out|stalled", "quick"),
    ("status_418_not_retried", "/status/418", [], False, r"^HTTP 418$",
     "one_request"),
    ("status_200_empty_file", "/bytes/0", [], True, b"", None),
)

# The scripted hostile server. (id, path, options, ok, reason regex or
# expected body, extra check name or None)
HOSTILE = (
    ("chunked_no_length", "/chunked/300000", [], True, pattern(300000),
     None),
    ("chunked_over_max_filesize", "/chunked/67108864/65536",
     ["--max-filesize", "100000"], False,
     r"^larger than --max-filesize \(100000 bytes\)$", "stopped_early"),
    ("broken_chunk_framing", "/badchunk", ["--retries", "1"], False,
     r"(?i)chunk", None),
    ("http09_answer", "/http09", [], False, r"HTTP/0\.9", None),
    ("endless_interim_answers", "/continues",
     ["--stall-timeout", "1", "--retries", "0"], False,
     r"^stalled: nothing received for 1 s$", "quick"),
    ("header_trickle", "/slowheaders",
     ["--stall-timeout", "1", "--retries", "0"], False,
     r"^stalled: nothing received for 1 s$", "quick"),
    ("one_header_of_1mib", "/headerbomb", [], False, r"(?i)header", None),
    ("range_liar_restarts", "/liar/100000/30000", [], True, pattern(100000),
     "liar"),
    # bodies of up to 16 KiB are held in memory until the next request is
    # out: the same cases through that path, and its spill into a file
    ("small_range_liar_restarts", "/liar/12000/5000", [], True,
     pattern(12000), "liar"),
    ("small_chunked_in_memory", "/chunked/10000/3000", [], True,
     pattern(10000), None),
    ("chunked_spills_from_memory", "/chunked/40000/7000", [], True,
     pattern(40000), None),
    # one transfer per loop: up to 512 KiB in memory
    ("alone_chunked_in_memory", "/chunked/300000/65536", ["-j", "1"], True,
     pattern(300000), None),
    ("alone_chunked_spills_from_memory", "/chunked/900000/65536",
     ["-j", "1"], True, pattern(900000), None),
    ("no_content_204", "/empty", [], True, b"", None),
    ("gzip_encoding_not_decoded", "/gzipped", [], True,
     adversary.gzipped_body(), None),
    ("overflowing_content_length", "/badlength", ["--retries", "0"], ANY,
     b"abc", None),
    ("conflicting_content_lengths", "/twolengths", ["--retries", "0"], ANY,
     None, None),
)

S = "{S}"  # the fixture server's base URL, filled in per run

# Hostile list lines: (raw line, expected reason regex for an unusable line,
# or ("ok", name, body) for one that must download).
LINES = (
    (b"http://127.0.0.1/" + b"a" * (1 << 20), r"line too long"),
    (S.encode() + b"/bytes/11 n\x00ul", r"NUL byte"),
    (S.encode() + b"/bytes/12 \xff\xfe", ("ok", b"\xff\xfe", pattern(12))),
    (b"http://\xff\xfe/x", r"bad host name"),
    (b"http://\x1b[31mred/x", r"control character"),
    (S.encode() + b"/bytes/14 \x1b[31mred", r"control character"),
    (S.encode() + b"/bytes/13 \x1b]0;title\x07", r"control character"),
    (S.encode() + b"/bytes/13?\x9b31m", ("ok", b"13", pattern(13))),
    (b"http://[::1", r"IPv6"),
    (b"http://127.0.0.1:99999/x", r"port"),
    (b"http://127.0.0.1:0/x", r"port"),
    (b"file:///etc/passwd", r"scheme 'file' not allowed"),
    (b"ftp://x/y", r"scheme 'ftp' not allowed"),
    (b"gopher://x", r"scheme 'gopher' not allowed"),
    (b"example.com/x", r"no scheme"),
    (b"http://", r"no host"),
    (b"http://user:hunter2@[::1/x", r"IPv6"),
    (S.encode() + b"/bytes/15 ../../escape", r"'\.\.' component"),
    (S.encode() + b"/bytes/15 /etc/passwd", r"absolute"),
    (S.encode() + b"/bytes/15 a\\b", r"backslash"),
    (S.encode() + b"/bytes/15 sub/", r"directory"),
    (S.encode() + b"/bytes/15 " + b"n" * 256, r"over 255 bytes"),
    (b"   " + S.encode() + b"/bytes/16   \t\r", ("ok", b"16", pattern(16))),
    (b"HTTP://{HP}/bytes/17 upper",
     ("ok", b"upper", pattern(17))),
    (S.encode() + b"/bytes/18?pad=" + b"p" * 7900,
     ("ok", b"18", pattern(18))),
    (S.encode() + b"/bytes/19?pad=" + b"p" * 8200, r"line too long"),
)


def make_case(table_kind, row):
    def test(self):
        getattr(self, "run_" + table_kind)(*row)
    test.__name__ = "test_%s_%s" % (table_kind, row[0])
    return test


class Adversarial(adversary.Adversarial):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.hostile = adversary.Hostile()

    @classmethod
    def tearDownClass(cls):
        cls.hostile.stop()
        super().tearDownClass()

    # ---- the two bystanders every row runs beside ----------------------

    def bystanders(self):
        return ["%s bystander-a" % self.url("/bytes/1000"),
                "%s bystander-b" % self.url("/bytes/70000?delay=0.2")]

    def bystander_files(self):
        return {"bystander-a": pattern(1000), "bystander-b": pattern(70000)}

    def check_row(self, url, opts, ok, expect, extra, started):
        lines = self.bystanders() + ["%s target" % url]
        res, _ = self.json_run(lines, *opts,
                               timeout=60 * adversary.slow_factor())
        took = time.monotonic() - started
        r = self.by_url(res)[url]
        files = self.bystander_files()
        for u in (self.url("/bytes/1000"), self.url("/bytes/70000?delay=0.2")):
            self.assertTrue(self.by_url(res)[u]["ok"], res)
        if ok is ANY:
            ok = r["ok"]
            if ok and expect is None:
                with open(os.path.join(self.box.out, "target"), "rb") as f:
                    expect = f.read()
        if ok:
            self.assertTrue(r["ok"], res)
            self.assertIsNone(r["error"])
            self.assertEqual(r["path"], os.path.join(self.box.out, "target"))
            # bytes counts every attempt: a restart receives more
            if r["attempts"] == 1:
                self.assertEqual(r["bytes"], len(expect), res)
            else:
                self.assertGreaterEqual(r["bytes"], len(expect), res)
            files["target"] = expect
            self.assertEqual(res.rc, 0, res)
        else:
            self.assertFalse(r["ok"], res)
            self.assertIsNone(r["path"])
            self.assertRegex(r["error"], expect)
            self.assertEqual(res.rc, 1, res)
        self.assert_files(files)
        return res, r, took

    # ---- fixture-server faults -----------------------------------------

    def run_fault(self, name, path, opts, ok, expect, extra):
        self.server.reset_log()
        if expect == "gzip":
            expect = self.server.get("/gzip")
        t0 = time.monotonic()
        res, r, took = self.check_row(self.url(path), opts, ok, expect,
                                      extra, t0)
        target = path.split("?")[0]
        log = [e for e in self.server.log() if e["path"].startswith(target)]
        if extra == "six_requests":
            self.assertEqual(len(log), 6, log)
        elif extra == "one_request":
            self.assertEqual(len(log), 1, log)
            self.assertEqual(r["attempts"], 1)
        elif extra == "no_body_bytes":
            self.assertEqual(r["bytes"], 0, res)
        elif extra == "quick":
            self.assertLess(took, 20 * adversary.slow_factor())
        elif extra == "gzip_small":
            size = int(self.server.get("/gzip-size"))
            raw = self.server.get("/gzip")  # urllib does not decode
            self.assertEqual(len(raw), size)
            with open(os.path.join(self.box.out, "target"), "rb") as f:
                body = f.read()
            self.assertEqual(body, raw)
            self.assertEqual(body[:2], b"\x1f\x8b")
            self.assertLess(size, 1 << 20, "the bomb stays small")

    # ---- the hostile server --------------------------------------------

    def run_hostile(self, name, path, opts, ok, expect, extra):
        t0 = time.monotonic()
        res, r, took = self.check_row(self.hostile.url(path), opts, ok,
                                      expect, extra, t0)
        key = path.split("?")[0].strip("/")
        if extra == "stopped_early":
            # pdl hung up long before the 64 MiB were sent (socket
            # buffers may take a few MiB)
            self.assertTrue(adversary.wait_for(
                lambda: self.hostile.aborted.get(key), 10))
            with self.hostile.lock:
                sent = self.hostile.sent.get(key, 0)
            self.assertLess(sent, 32 << 20)
            self.assertLessEqual(r["bytes"], 100000)
        elif extra == "quick":
            self.assertLess(took, 20 * adversary.slow_factor())
        elif extra == "liar":
            # cut, then a 206 from the wrong offset, then from zero
            self.assertEqual(r["attempts"], 3, res)
            log = self.hostile.log("/" + key)
            self.assertEqual(len(log), 3)
            self.assertNotIn("range", log[0]["headers"])
            self.assertRegex(log[1]["headers"].get("range", ""),
                             r"^bytes=[1-9]\d*-$")
            self.assertNotIn("range", log[2]["headers"])

    # ---- hostile list lines --------------------------------------------

    def hostile_list(self):
        base = self.server.base.encode()
        lines = [l.replace(S.encode(), base).replace(b"{HP}", base[7:])
                 for l, _ in LINES]
        # every usable line of the table must still be fetched, and so must
        # these, whatever comes before and after them
        lines.insert(0, base + b"/bytes/2000 first-valid")
        lines.append(base + b"/bytes/3000 last-valid")
        lines.append(b"# a comment with \x1b[2J in it")
        return lines

    def expected_lines(self):
        files = {"first-valid": pattern(2000), "last-valid": pattern(3000)}
        bad = {}
        for i, (_, want) in enumerate(LINES):
            lineno = i + 2
            if isinstance(want, tuple):
                files[os.fsdecode(want[1])] = want[2]
            else:
                bad[lineno] = want
        return files, bad

    def test_hostile_list_lines_json(self):
        lines = self.hostile_list()
        res, path = self.json_run(lines, "--retries", "0", rc=1)
        files, bad = self.expected_lines()
        seen = set()
        for o in res.files():
            if o["attempts"] == 0:
                m = re.match(r"^(.*):(\d+): (.*)$", o["error"], re.S)
                self.assertIsNotNone(m, o)
                self.assertEqual(m.group(1), path)
                n = int(m.group(2))
                self.assertIn(n, bad, o)
                self.assertRegex(m.group(3), bad[n])
                self.assertEqual(o["status"], 0)
                self.assertIsNone(o["path"])
                self.assertFalse(o["ok"])
                seen.add(n)
            else:
                self.assertTrue(o["ok"], o)
        self.assertEqual(seen, set(bad))
        self.assertNotIn(b"hunter2", res.out + res.err)
        self.assert_no_raw_escape(res, json=True)
        self.assert_files(files)

    def test_hostile_list_lines_text(self):
        lines = self.hostile_list()
        path = adversary.write_raw_list(self.box, lines)
        res = self.pdl("--progress", "none", "--retries", "0", "-o",
                       self.box.out, path)
        self.assertEqual(res.rc, 1, res)
        files, bad = self.expected_lines()
        out = res.out.splitlines()
        self.assertEqual(len(out), adversary.url_lines(lines) + 1)
        for n in bad:
            where = ("%s:%d: " % (path, n)).encode()
            hits = [l for l in out if where in l]
            self.assertEqual(len(hits), 1, (n, hits))
            self.assertTrue(hits[0].startswith(b"FAIL   -        0 B"), hits)
        self.assertNotIn(b"hunter2", res.out + res.err)
        self.assert_no_raw_escape(res)
        self.assertRegex(out[-1], rb"^%d URLs: %d ok, %d failed;" % (
            len(out) - 1, len(files), len(bad)))
        self.assert_files(files)

    def test_hostile_list_dry_run_creates_nothing(self):
        lines = self.hostile_list()
        path = adversary.write_raw_list(self.box, lines)
        self.server.reset_log()
        res = self.pdl("-n", "-o", self.box.out, path)
        self.assertEqual(res.rc, 1, res)
        _, bad = self.expected_lines()
        self.assertEqual(len([l for l in res.out.splitlines()
                              if l.startswith(b"FAIL")]), len(bad))
        self.assert_no_raw_escape(res)
        self.assertFalse(os.path.exists(self.box.out))
        self.assert_clean()
        self.assertEqual(self.server.log(), [])

    def test_list_of_binary_garbage(self):
        """Random bytes as a list: every line reported, nothing written,
        nothing echoed raw."""
        import random
        rnd = random.Random(1234)
        blob = bytes(rnd.randrange(256) for _ in range(64 * 1024))
        lines = [l for l in blob.split(b"\n")]
        lines.append(self.server.base.encode() + b"/bytes/500 after-garbage")
        path = adversary.write_raw_list(self.box, lines)
        res = self.pdl("--json", "--retries", "0", "--connect-timeout", "2",
                       "-o", self.box.out, path, timeout=120)
        self.assertEqual(res.rc, 1, res)
        self.assert_reports(res, adversary.url_lines(lines))
        self.assert_no_raw_escape(res, json=True)
        self.assertEqual(self.box.out_files().get("after-garbage"),
                         pattern(500))
        self.assert_clean()

    def test_more_than_10000_copies_of_a_name(self):
        """A directory full of numbered copies: the next ones continue the
        numbers (pdl used to give up after 10 000 tries)."""
        os.makedirs(self.box.out)
        have = 10005
        for i in range(have):
            name = "f" if i == 0 else "f.%d" % i
            with open(os.path.join(self.box.out, name), "wb"):
                pass
        lines = ["%s f" % self.url("/bytes/%d" % (50 + i)) for i in range(3)]
        res, _ = self.json_run(lines, rc=0)
        got = sorted(os.path.basename(o["path"]) for o in res.files())
        self.assertEqual(got, ["f.%d" % (have + i) for i in range(3)])
        for i in range(3):
            with open(os.path.join(self.box.out, "f.%d" % (have + i)),
                      "rb") as f:
                self.assertEqual(f.read(), pattern(50 + i))
        self.assert_clean()

    def test_connection_refused_retried_once(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        url = "http://127.0.0.1:%d/x" % port
        res, _ = self.json_run(self.bystanders() + [url], "--retries", "1",
                               rc=1)
        r = self.by_url(res)[url]
        self.assertEqual(r["attempts"], 2, res)
        self.assertRegex(r["error"], r"(?i)connect")
        self.assertEqual(r["status"], 0)
        self.assert_files(self.bystander_files())


for _kind, _table in (("fault", FAULTS), ("hostile", HOSTILE)):
    for _row in _table:
        _t = make_case(_kind, _row)
        setattr(Adversarial, _t.__name__, _t)


if __name__ == "__main__":
    harness.main()
