"""End-to-end: the report. Text lines and the summary, -q, JSON Lines with
exact keys and types, hostile URLs, password redaction, --compare, and the
progress line on a terminal (pty) and off it."""

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pattern  # noqa: E402

LINE = re.compile(r"^(?P<word>ok  |FAIL|skip|STOP) (?P<status>\d{3}|  -) "
                  r"(?P<size> *\d+(?:\.\d)? (?:B|KiB|MiB|GiB)) "
                  r"(?P<dur> *\d+\.\d\ds)  (?P<rest>.+)$")
SUMMARY = re.compile(r"^(?P<urls>\d+) URLs: (?P<ok>\d+) ok, "
                     r"(?P<failed>\d+) failed(?: \((?P<skipped>\d+) skipped\))?"
                     r"(?:, (?P<interrupted>\d+) interrupted)?; "
                     r"(?P<size>\d+(?:\.\d)? (?:B|KiB|MiB|GiB)) in "
                     r"(?P<dur>\d+\.\d\ds) \((?P<rate>\S+ \S+/s)\), "
                     r"(?P<jobs>\d+) jobs?$")

FILE_KEYS = {"type", "url", "path", "ok", "status", "bytes", "seconds",
             "attempts", "error"}
SUMMARY_KEYS = {"type", "urls", "ok", "failed", "bytes", "seconds", "jobs"}
COMPARE_KEYS = {"sequential_seconds", "parallel_seconds", "speedup",
                "efficiency"}
NUMBER = (int, float)


def parse_text(out):
    lines = out.splitlines()
    files = []
    for l in lines[:-1]:
        m = LINE.match(l)
        assert m, "not a report line: %r" % l
        files.append(m)
    m = SUMMARY.match(lines[-1])
    assert m, "not a summary line: %r" % lines[-1]
    return files, m


class Report(harness.E2E):

    def check_json(self, r, compare=False):
        """Every stdout line is one JSON object of the contract's shape;
        returns (files, summary) after checking the counts agree."""
        self.assertTrue(r.out.endswith(b"\n") or r.out == b"", r)
        objs = []
        for raw in r.out.split(b"\n")[:-1]:
            o = json.loads(raw)   # bytes: must be valid UTF-8 too
            self.assertIsInstance(o, dict)
            objs.append(o)
        files = [o for o in objs if o["type"] == "file"]
        sums = [o for o in objs if o["type"] == "summary"]
        self.assertEqual(len(files) + len(sums), len(objs), objs)
        self.assertEqual(len(sums), 1)
        self.assertIs(objs[-1], sums[0], "the summary comes last")
        for f in files:
            extra = set(f) - FILE_KEYS
            self.assertTrue(extra <= {"skipped"}, f)
            self.assertTrue(FILE_KEYS <= set(f), f)
            self.assertIsInstance(f["url"], str)
            self.assertIsInstance(f["ok"], bool)
            for k in ("status", "bytes", "attempts"):
                self.assertIs(type(f[k]), int, (k, f))
            self.assertIsInstance(f["seconds"], NUMBER)
            self.assertGreaterEqual(f["seconds"], 0)
            if f["ok"]:
                self.assertIsInstance(f["path"], str)
                self.assertIsNone(f["error"])
            else:
                self.assertIsNone(f["path"])
                self.assertIsInstance(f["error"], str)
                self.assertTrue(f["error"])
            if "skipped" in f:
                self.assertIs(f["skipped"], True)
                self.assertTrue(f["ok"])
        s = sums[0]
        want = SUMMARY_KEYS | (COMPARE_KEYS if compare else set())
        self.assertTrue(want <= set(s), s)
        self.assertTrue(set(s) - want <= {"skipped", "interrupted"}, s)
        for k in ("urls", "ok", "failed", "bytes", "jobs"):
            self.assertIs(type(s[k]), int, (k, s))
        for k in ({"seconds"} | (COMPARE_KEYS if compare else set())):
            self.assertIsInstance(s[k], NUMBER, k)
        self.assertEqual(s["urls"], len(files))
        self.assertEqual(s["ok"], sum(1 for f in files if f["ok"]))
        self.assertEqual(s["failed"], sum(1 for f in files if not f["ok"]))
        self.assertEqual(s["bytes"], sum(f["bytes"] for f in files))
        self.assertEqual(s.get("skipped", 0),
                         sum(1 for f in files if f.get("skipped")))
        return files, s

    # -- text -------------------------------------------------------------

    def mixed_list(self):
        return self.box.write_list([
            self.url("/bytes/1000"),
            self.url("/bytes/1024"),
            self.url("/bytes/3145728"),
            self.url("/status/404"),
            "ftp//not a url",
            self.url("/bytes/0"),
        ])

    def test_text_lines(self):
        lst = self.mixed_list()
        r = self.pdl("-o", self.box.out, "--retries", "0", lst)
        self.assertEqual(r.rc, 1, r)
        files, summary = parse_text(r.stdout)
        self.assertEqual(len(files), 6)
        by_rest = {m.group("rest"): m for m in files}
        out = self.box.out
        for name, size in (("1000", "1000 B"), ("1024", "1.0 KiB"),
                           ("3145728", "3.0 MiB"), ("0", "0 B")):
            with self.subTest(name=name):
                m = by_rest[os.path.join(out, name)]
                self.assertEqual(m.group("word"), "ok  ")
                self.assertEqual(m.group("status"), "200")
                self.assertEqual(m.group("size"), "%10s" % size)
                self.assertEqual(len(m.group("dur")), 7)
        m = by_rest[self.url("/status/404") + ": HTTP 404"]
        self.assertEqual((m.group("word"), m.group("status")),
                         ("FAIL", "404"))
        bad = [m for m in files if m.group("status") == "  -"]
        self.assertEqual(len(bad), 1)
        self.assertEqual(bad[0].group(0)[:29],
                         "FAIL   -        0 B   0.00s  ")
        self.assertTrue(bad[0].group("rest").startswith(lst + ":5: "))
        self.assertTrue(bad[0].group("rest").endswith(": ftp//not"), bad)
        self.assertEqual((summary.group("urls"), summary.group("ok"),
                          summary.group("failed")), ("6", "4", "2"))
        self.assertEqual(summary.group("size"), "3.0 MiB")
        self.assertEqual(summary.group("jobs"), "8")
        self.assertEqual(r.err, b"")
        self.assert_clean()

    def test_text_skip_lines(self):
        lst = self.box.write_list([self.url("/bytes/5"),
                                   self.url("/bytes/6")])
        self.assertEqual(self.pdl("-o", self.box.out, lst).rc, 0)
        os.unlink(os.path.join(self.box.out, "6"))
        r = self.pdl("-c", "-j", "3", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        files, summary = parse_text(r.stdout)
        words = sorted((m.group("word"), m.group("rest")) for m in files)
        self.assertEqual(words, [
            ("ok  ", os.path.join(self.box.out, "6")),
            ("skip", os.path.join(self.box.out, "5") + " (exists)")])
        self.assertEqual((summary.group("urls"), summary.group("ok"),
                          summary.group("skipped")), ("2", "2", "1"))
        self.assertEqual(summary.group("jobs"), "3")
        self.assert_clean()

    def test_quiet(self):
        lst = self.mixed_list()
        r = self.pdl("-q", "-o", self.box.out, "--retries", "0", lst)
        self.assertEqual(r.rc, 1, r)
        files, summary = parse_text(r.stdout)
        self.assertEqual(sorted(m.group("status") for m in files),
                         ["  -", "404"])
        self.assertEqual(summary.group("urls"), "6")
        self.assertEqual(len(self.box.out_files()), 4)
        self.assert_clean()

    def test_quiet_all_ok_is_summary_only(self):
        r = self.pdl("-q", "-o", self.box.out,
                     stdin=self.url("/bytes/7") + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(len(r.stdout.splitlines()), 1)
        self.assertRegex(r.stdout, SUMMARY)
        self.assert_clean()

    # -- JSON -------------------------------------------------------------

    def test_json_shape(self):
        lst = self.mixed_list()
        r = self.pdl("--json", "-o", self.box.out, "--retries", "0", lst)
        self.assertEqual(r.rc, 1, r)
        files, s = self.check_json(r)
        self.assertEqual((s["urls"], s["ok"], s["failed"]), (6, 4, 2))
        self.assertEqual(s["bytes"], 1000 + 1024 + 3145728)
        self.assertEqual(s["jobs"], 8)
        bad = [f for f in files if f["status"] == 0]
        self.assertEqual(len(bad), 1)
        self.assertEqual(bad[0]["attempts"], 0)
        self.assertEqual(bad[0]["bytes"], 0)
        self.assertEqual(bad[0]["url"], "ftp//not")
        self.assertTrue(bad[0]["error"].startswith(lst + ":5: "))
        ok = {f["url"]: f for f in files if f["ok"]}
        f = ok[self.url("/bytes/1024")]
        self.assertEqual((f["status"], f["bytes"], f["attempts"], f["path"]),
                         (200, 1024, 1, os.path.join(self.box.out, "1024")))
        self.assertEqual(r.err, b"")
        self.assert_clean()

    def test_json_skipped(self):
        lst = self.box.write_list([self.url("/bytes/8")])
        self.pdl("-o", self.box.out, lst)
        r = self.pdl("--json", "-c", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        files, s = self.check_json(r)
        self.assertIs(files[0].get("skipped"), True)
        self.assertEqual(files[0]["path"], os.path.join(self.box.out, "8"))
        self.assertEqual((s["urls"], s["ok"], s["skipped"]), (1, 1, 1))
        self.assert_clean()

    def test_json_hostile_urls(self):
        good = [self.url('/bytes/9?q="quoted"&b=\\back\\slash'),
                self.url("/bytes/10?nul=%00&u=%C3%A9&t=%09"),
                self.url("/bytes/11?x=%22%5C")]
        base = self.server.base.encode()
        raw_bad = [base + b"/\x01ctl\x1b[31mred\x7f",
                   base + b"/inv\xff\xfeutf8\xc3\x02",
                   base + b'/"q" and \\ more',
                   b"\x1b]0;title\x07"]
        p = self.box.path("hostile.txt")
        with open(p, "wb") as f:
            f.write(b"\n".join(u.encode() for u in good) + b"\n")
            f.write(b"\n".join(raw_bad) + b"\n")
        r = self.pdl("--json", "-o", self.box.out, p)
        self.assertEqual(r.rc, 1, r)
        files, s = self.check_json(r)
        self.assertEqual((s["urls"], s["ok"], s["failed"]), (7, 3, 4))
        urls = {f["url"] for f in files}
        for u in good:
            self.assertIn(u, urls)
        by_line = {int(f["error"].split(":")[1]): f
                   for f in files if not f["ok"]}
        self.assertEqual(sorted(by_line), [4, 5, 6, 7])
        base = self.server.base
        self.assertEqual(by_line[4]["url"],
                         base + "/\x01ctl\x1b[31mred\x7f")
        self.assertTrue(by_line[5]["url"].startswith(base + "/inv"))
        self.assertTrue(by_line[5]["url"].endswith("utf8\ufffd\x02"))
        self.assertEqual(by_line[6]["url"], base + '/"q"')
        self.assertIn("backslash", by_line[6]["error"])
        self.assertEqual(by_line[7]["url"], "\x1b]0;title\x07")
        for f in files:
            self.assertTrue(f["error"] is None or
                            f["error"].startswith(p + ":"), f)
        # the same list as text: nothing raw reaches the terminal
        r = self.pdl("-o", self.box.out, "--overwrite", p)
        self.assertEqual(r.rc, 1, r)
        text = r.out.decode("utf-8")   # valid UTF-8 as well
        for c in text:
            self.assertTrue(c == "\n" or c.isprintable(), repr(c))
        self.assertEqual(len(text.splitlines()), 8)
        self.assert_clean()

    # -- passwords --------------------------------------------------------

    def test_password_never_printed(self):
        port = self.server.port
        cred = "http://u:secret@127.0.0.1:%d" % port
        shown = "http://u:***@127.0.0.1:%d" % port
        lst = self.box.write_list([
            cred + "/bytes/1",
            cred + "/redirect/2",
            cred + "/status/404",
            cred + "/status/503",
            cred + "/bad path",
            "http://u:secret@[::1",
            # not a usable URL: libcurl takes "secret/x" for a port, but
            # the user meant a password with a slash in it
            "http://u:secret/x@127.0.0.1:%d/bytes/1" % port,
        ])
        runs = {
            "text": ["-v", "--retries", "1"],
            "json": ["-v", "--json", "--retries", "1"],
            "dry": ["-n"],
            "dry-json": ["-n", "--json"],
            "quiet": ["-q", "--retries", "0"],
            "bar": ["--progress", "bar", "--retries", "0"],
        }
        for name, args in runs.items():
            with self.subTest(run=name):
                r = self.pdl("-o", self.box.out, "--overwrite", *args, lst)
                self.assertIn(r.rc, (0, 1), r)
                self.assertNotIn(b"secret", r.out)
                self.assertNotIn(b"secret", r.err)
                if name.startswith("dry") or name == "json":
                    self.assertIn(shown.encode() + b"/bytes/1", r.out)
                else:
                    self.assertIn(shown.encode() + b"/status/404", r.out)
                if name in ("text", "json"):
                    # -v told of the redirects and the retry
                    self.assertIn(shown.encode(), r.err)
                if "json" in name:
                    for o in r.json():
                        if "url" in o:
                            self.assertNotIn("secret", o["url"])
        self.assertEqual(self.box.out_files().get("1"), pattern(1))
        self.assert_clean()

    # -- --compare --------------------------------------------------------

    def test_compare(self):
        names = ["Roman", "Peony", "Palm", "Pistil", "Comet"]
        urls = [self.url("/%s/1" % n) for n in names]
        lst = self.box.write_list(["%s %s.txt" % (u, n)
                                   for u, n in zip(urls, names)])
        self.server.reset_stats()
        self.server.reset_log()
        cmp_dir = os.path.join(self.box.out, "compared")
        r = self.pdl("--compare", "-j", "5", "--json", "-o", cmp_dir,
                     lst, timeout=120)
        self.assertEqual(r.rc, 0, r)
        files, s = self.check_json(r, compare=True)
        self.assertEqual(s["jobs"], 5)
        # one line per URL: the parallel pass
        self.assertEqual(sorted(f["url"] for f in files), sorted(urls))
        for f in files:
            self.assertGreaterEqual(f["seconds"], 0.95, f)
        busy = sum(f["seconds"] for f in files)
        self.assertGreaterEqual(busy, 4.75)
        self.assertLess(busy, 12.5)
        self.assertGreaterEqual(s["sequential_seconds"], 4.75)
        self.assertGreaterEqual(s["parallel_seconds"], 0.95)
        self.assertLess(s["parallel_seconds"], s["sequential_seconds"])
        self.assertAlmostEqual(s["speedup"], s["sequential_seconds"] /
                               s["parallel_seconds"], delta=0.02)
        self.assertAlmostEqual(s["seconds"], s["parallel_seconds"],
                               delta=0.01)
        self.assertGreater(s["efficiency"], 0)
        self.assertLessEqual(s["efficiency"], 1.01)
        stats = self.server.stats()
        self.assertEqual(stats["requests"], 10)
        self.assertEqual(stats["max_concurrent"], 5)
        log = [e for e in self.server.log()
               if e["path"].split("/")[1] in names]
        self.assertEqual(len(log), 10)
        seq, par = log[:5], log[5:]
        self.assertEqual([e["path"] for e in seq],
                         ["/%s/1" % n for n in names])
        for a, b in zip(seq, seq[1:]):
            self.assertLessEqual(a["t_end"], b["t_start"])
        self.assertLess(max(e["t_start"] for e in par),
                        min(e["t_end"] for e in par))
        # no scratch directory left, and the same tree as one normal run
        self.assertEqual(sorted(os.listdir(cmp_dir)),
                         sorted(n + ".txt" for n in names))
        normal_dir = os.path.join(self.box.out, "normal")
        r2 = self.pdl("-j", "5", "-o", normal_dir, lst)
        self.assertEqual(r2.rc, 0, r2)
        self.assertEqual(harness.tree(cmp_dir), harness.tree(normal_dir))
        self.assert_clean()

    def test_compare_text_and_numbering(self):
        # numbered names and a bad line: after --compare the directory and
        # the lines are those of one normal run
        lst = self.box.write_list([self.url("/bytes/12")] * 3 +
                                  ["not-a-url"])
        r = self.pdl("--compare", "-j", "3", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(self.box.out_files(), {
            "12": pattern(12), "12.1": pattern(12), "12.2": pattern(12)})
        lines = r.stdout.splitlines()
        self.assertRegex(lines[-2], r"^compare: sequential \d+\.\d\ds, "
                         r"parallel \d+\.\d\ds with 3 jobs: \d+\.\d\dx "
                         r"faster, efficiency \d+%$")
        files, summary = parse_text("\n".join(lines[:-2] + lines[-1:]))
        self.assertEqual(len(files), 4)
        self.assertEqual(sorted(m.group("rest") for m in files
                                if m.group("word") == "ok  "),
                         [os.path.join(self.box.out, n)
                          for n in ("12", "12.1", "12.2")])
        self.assertEqual((summary.group("urls"), summary.group("ok"),
                          summary.group("failed")), ("4", "3", "1"))
        self.assert_clean()

    def test_compare_list_read_once(self):
        # a FIFO can be read once: --compare must copy it, as it does
        # stdin, and read it as one pass would
        fifo = self.box.path("list.fifo")
        os.mkfifo(fifo)
        lines = [self.url("/bytes/12")] * 2 + [self.url("/bytes/5")]

        def feed():
            with open(fifo, "w") as f:
                f.write("\n".join(lines) + "\n")
        t = threading.Thread(target=feed, daemon=True)
        t.start()
        try:
            r = self.pdl("--compare", "-j", "2", "--json", "-o",
                         self.box.out, fifo)
        finally:
            t.join(timeout=30)
            os.unlink(fifo)  # assert_clean would read it
        self.assertEqual(r.rc, 0, r)
        files, s = self.check_json(r, compare=True)
        self.assertEqual((s["urls"], s["ok"]), (3, 3), r)
        self.assertEqual(self.box.out_files(), {
            "12": pattern(12), "12.1": pattern(12), "5": pattern(5)})
        # "-" twice: the second finds stdin at its end, in both passes
        out2 = os.path.join(self.box.out, "twice")
        r = self.pdl("--compare", "-j", "2", "-o", out2, "-", "-",
                     stdin="\n".join(lines[1:]) + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(sorted(os.listdir(out2)), ["12", "5"])
        self.assert_clean()

    def test_long_list_path_keeps_line_number(self):
        d = self.box.path("d" * 200)
        os.makedirs(d)
        lst = os.path.join(d, "list-" + "x" * 60 + ".txt")
        with open(lst, "w") as f:
            f.write("ok\nnope\n")
        r = self.pdl("-n", "--json", lst)
        self.assertEqual(r.rc, 1, r)
        errs = [o["error"] for o in r.files()]
        self.assertEqual(len(errs), 2, r)
        for n, e in enumerate(errs, 1):
            self.assertTrue(e.startswith("%s:%d: " % (lst, n)), e)

    def test_report_lost_to_full_disk(self):
        lst = self.box.write_list([self.url("/bytes/10")])
        with open("/dev/full", "wb") as full:
            p = subprocess.run([harness.PDL, "-o", self.box.out, lst],
                               stdout=full, stderr=subprocess.PIPE,
                               timeout=60)
            h = subprocess.run([harness.PDL, "--help"], stdout=full,
                               stderr=subprocess.PIPE, timeout=60)
        harness.check_sanitizers(p.stderr)
        # the file arrives, the report does not: not a success
        self.assertEqual(self.box.out_files(), {"10": pattern(10)})
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(b"cannot write the report: No space left", p.stderr)
        self.assertEqual(h.returncode, 1, h)

    # -- progress ---------------------------------------------------------

    def run_pty(self, args, env=None, cols=100, timeout=60):
        """Runs pdl with stderr on a pseudo-terminal and stdout on a pipe;
        returns (rc, stdout bytes, terminal bytes)."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack("HHHH", 24, cols, 0, 0))
        e = dict(os.environ)
        e.pop("NO_COLOR", None)
        e.update(env or {})
        cmd = [harness.PDL] + list(args)
        if harness.VALGRIND:
            cmd = ["valgrind", "-q", "--error-exitcode=86"] + cmd
            timeout *= 10
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=slave, env=e)
        os.close(slave)
        term = b""
        out = b""
        deadline = time.monotonic() + timeout
        fds = [master, p.stdout]
        try:
            while fds and time.monotonic() < deadline:
                ready, _, _ = select.select(fds, [], [], 0.5)
                for fd in ready:
                    if fd is p.stdout:
                        chunk = os.read(p.stdout.fileno(), 65536)
                        if not chunk:
                            fds.remove(p.stdout)
                        out += chunk
                    else:
                        try:
                            chunk = os.read(master, 65536)
                        except OSError:   # EIO: the slave side is closed
                            chunk = b""
                        if not chunk:
                            fds.remove(master)
                        term += chunk
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            os.close(master)
            p.stdout.close()
        harness.check_sanitizers(term)
        self.assertFalse(harness.VALGRIND and rc == 86, term)
        return rc, out, term

    def slow_list(self):
        return self.box.write_list(
            [self.url("/p%d/1.5" % i) + " p%d" % i for i in range(4)])

    def test_progress_on_a_terminal(self):
        lst = self.slow_list()
        rc, out, term = self.run_pty(["-j", "2", "-o", self.box.out, lst])
        self.assertEqual(rc, 0, (out, term))
        self.assertIn(b"files", term)
        self.assertIn(b"active", term)
        self.assertIn(b"/4 files", term)
        self.assertTrue(term.endswith(b"\r\x1b[K"), term[-200:])
        # every drawn line fits the terminal (100 columns) without wrapping
        for frame in term.split(b"\r"):
            self.assertLess(len(frame.replace(b"\x1b[K", b"")), 100, frame)
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\r", out)
        files, summary = parse_text(out.decode())
        self.assertEqual(summary.group("urls"), "4")
        self.assertEqual(len(self.box.out_files()), 4)
        self.assert_clean()

    def test_progress_narrow_terminal(self):
        lst = self.slow_list()
        rc, out, term = self.run_pty(["-j", "4", "-o", self.box.out, lst],
                                     cols=30)
        self.assertEqual(rc, 0, (out, term))
        self.assertIn(b"files", term)
        for frame in term.split(b"\r"):
            self.assertLess(len(frame.replace(b"\x1b[K", b"")), 30, frame)
        self.assert_clean()

    def test_progress_none_on_a_terminal(self):
        lst = self.slow_list()
        for args in (["--progress", "none"], ["-q"]):
            with self.subTest(args=args):
                rc, out, term = self.run_pty(
                    args + ["-j", "4", "--overwrite", "-o", self.box.out,
                            lst])
                self.assertEqual(rc, 0, (out, term))
                self.assertNotIn(b"files", term)
                self.assertNotIn(b"active", term)
                self.assertNotIn(b"\x1b", term)
                self.assertNotIn(b"\r", term)
        self.assert_clean()

    def test_no_progress_when_stderr_is_a_pipe(self):
        lst = self.slow_list()
        r = self.pdl("-j", "4", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertNotIn(b"\x1b", r.err)
        self.assertNotIn(b"\r", r.err)
        self.assertNotIn(b"active", r.err)
        self.assertNotIn(b"\x1b", r.out)
        self.assertNotIn(b"\r", r.out)
        self.assert_clean()

    def test_progress_bar_forced_on_a_pipe(self):
        lst = self.slow_list()
        r = self.pdl("--progress", "bar", "-j", "4", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertIn(b"active", r.err)
        self.assertTrue(r.err.endswith(b"\r\x1b[K"), r.err[-100:])
        self.assertNotIn(b"\x1b", r.out)
        self.assert_clean()

    def test_no_colour(self):
        lst = self.slow_list()
        rc, out, term = self.run_pty(
            ["-j", "4", "-o", self.box.out, "--retries", "0", lst],
            env={"NO_COLOR": "1"})
        self.assertEqual(rc, 0, (out, term))
        r = self.pdl("-o", self.box.out, "--retries", "0", "--overwrite",
                     lst, "-", env={"NO_COLOR": "1"},
                     stdin=self.url("/status/404") + "\n")
        self.assertEqual(r.rc, 1, r)
        for where in (term, out, r.out, r.err):
            self.assertNotIn(b"\x1b[3", where)
            self.assertNotIn(b"\x1b[1m", where)
            self.assertNotIn(b"\x1b[0m", where)
        self.assertIn(b"files", term)
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
