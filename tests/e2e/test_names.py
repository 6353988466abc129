"""End-to-end: output names. URL -> name rules as a table, collisions and
their numbering in input order, existing files, --overwrite, symlinks in the
output directory, refused `URL NAME` names, and --dry-run."""

import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pattern  # noqa: E402

LONG_A = "a" * 296 + ".txt"                  # 300 bytes
LONG_E = "%C3%A9" * 150 + ".txt"             # 300 bytes once decoded

# (path and query of the URL, the name pdl must give the file)
NAME_TABLE = (
    ("/n/file.txt?x=1&y=2", "file.txt"),
    ("/q/file2.txt?a=/b/c.zip", "file2.txt"),
    ("/n/frag.txt#part", "frag.txt"),
    ("/n/both.txt?x=1#y", "both.txt"),
    ("/n/a%20b.txt", "a b.txt"),
    ("/n/caf%C3%A9.txt", "caf\u00e9.txt"),
    ("/n/pct%25sign", "pct%sign"),
    ("/n/a%2Fb", "a_b"),
    ("/n/a%2fc%2F..%2Fd", "a_c_.._d"),
    ("/n/%2e%2e", "__"),
    ("/n/%2E", "_"),
    ("/n/..%2F..%2Fetc%2Fpasswd", ".._.._etc_passwd"),
    ("/n/a%5Cb", "a_b"),
    ("/n/", "index.html"),
    ("/", "index.html"),
    ("/n/?q=1", "index.html"),
    ("/n/x/../dots.txt", "dots.txt"),
    ("/n/" + LONG_A, "a" * 251 + ".txt"),
    # 251 bytes would split the 126th two-byte character: 250 are kept
    ("/n/" + LONG_E, "\u00e9" * 125 + ".txt"),
    ("/n/c%01t%1Fr%7Fl%0A.txt", "c_t_r_l_.txt"),
    ("/n/tab%09x", "tab_x"),
    ("/n/nul%00x", "nul_x"),
    ("/n/.hidden", ".hidden"),
)


class Names(harness.E2E):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.echo = harness.EchoServer()

    @classmethod
    def tearDownClass(cls):
        cls.echo.stop()
        super().tearDownClass()

    def eurl(self, path):
        return self.echo.url(path)

    def by_url(self, r):
        return {f["url"]: f for f in r.files()}

    # -- URL -> name ------------------------------------------------------

    def test_name_table(self):
        # one run per row, each into its own directory: rows may share a
        # name, and a collision must not hide a wrong name
        for i, (path, name) in enumerate(NAME_TABLE):
            with self.subTest(path=path[:60]):
                url = self.eurl(path)
                out = os.path.join(self.box.out, "row%d" % i)
                plan = self.pdl("-n", "--json", "-o", out,
                                stdin=url + "\n")
                self.assertEqual(plan.rc, 0, plan)
                self.assertFalse(os.path.exists(out))
                want = os.path.join(out, name)
                self.assertEqual(
                    [o["path"] for o in plan.json() if o["type"] == "plan"],
                    [want])
                run = self.pdl("--json", "-o", out, stdin=url + "\n")
                self.assertEqual(run.rc, 0, run)
                self.assertEqual([f["path"] for f in run.files()], [want])
                self.assertEqual(os.listdir(out), [name])
                self.assertLessEqual(len(name.encode()), 255)
                # the body is the target the server saw: the right URL
                # went to the right name
                with open(want, "rb") as f:
                    self.assertEqual(f.read(), path.split("#")[0].replace(
                        "/x/../", "/").encode())
        self.assert_clean()

    # -- collisions -------------------------------------------------------

    def test_collisions_numbered_in_input_order(self):
        # the first URLs answer last, so completion order is not input order
        n = 8
        urls = [self.eurl("/d%d/x?delay=%.1f" % (i, (n - i) * 0.1))
                for i in range(n)]
        urls += [self.eurl("/e%d/x.bin?delay=%.1f" % (i, (3 - i) * 0.1))
                 for i in range(3)]
        lst = self.box.write_list(urls)
        want = {u: "x" if i == 0 else "x.%d" % i
                for i, u in enumerate(urls[:n])}
        want.update({u: "x.bin" if i == 0 else "x.%d.bin" % i
                     for i, u in enumerate(urls[n:])})
        for attempt in range(3):
            with self.subTest(attempt=attempt):
                out = self.box.path("out", "run%d" % attempt)
                r = self.pdl("-j", "8", "--json", "-o", out, lst)
                self.assertEqual(r.rc, 0, r)
                got = {u: os.path.relpath(f["path"], out)
                       for u, f in self.by_url(r).items()}
                self.assertEqual(got, want)
                for u, name in want.items():
                    with open(os.path.join(out, name), "rb") as f:
                        self.assertEqual(f.read(),
                                         u[len(self.echo.base):].encode())
        self.assert_clean()

    def test_named_lines_collide_too(self):
        lst = self.box.write_list([
            self.url("/bytes/10") + " same.dat",
            self.url("/bytes/20") + " same.dat",
            self.url("/bytes/30") + " sub/same.dat",
            self.url("/bytes/40") + " sub/same.dat",
        ])
        r = self.pdl("-j", "4", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), {
            "same.dat": pattern(10), "same.1.dat": pattern(20),
            "sub/same.dat": pattern(30), "sub/same.1.dat": pattern(40)})
        self.assert_clean()

    def test_file_and_directory_of_one_name_decided_by_input_order(self):
        """A name that is a file for one URL and a directory on the way to
        another's: the earlier URL in the list has it, whichever is saved
        first. A later file is numbered past the directory; a later path
        through the file fails at once (no number makes a file a
        directory). -n shows the same."""
        for delay_first in (False, True):
            with self.subTest(delay_first=delay_first):
                shutil.rmtree(self.box.out, ignore_errors=True)
                slow, fast = "delay=0.4", "delay=0"
                d1, d2 = (slow, fast) if delay_first else (fast, slow)
                dir_first = [self.url("/bytes/10?%s" % d1) + " sub/x",
                             self.url("/bytes/20?%s" % d2) + " sub",
                             self.url("/bytes/30?%s" % d2) + " a/b/c",
                             self.url("/bytes/40?%s" % d2) + " a/b"]
                lst = self.box.write_list(dir_first)
                plan = self.pdl("-n", "-o", self.box.out, lst)
                self.assertEqual(plan.rc, 0, plan)
                self.assertEqual(
                    [ln.split(" -> ")[1] for ln in plan.stdout.splitlines()
                     if " -> " in ln],
                    [os.path.join(self.box.out, n)
                     for n in ("sub/x", "sub.1", "a/b/c", "a/b.1")])
                r = self.pdl("-j", "4", "-o", self.box.out, lst)
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(self.box.out_files(), {
                    "sub/x": pattern(10), "sub.1": pattern(20),
                    "a/b/c": pattern(30), "a/b.1": pattern(40)})
                self.assert_clean()

                shutil.rmtree(self.box.out, ignore_errors=True)
                file_first = [self.url("/bytes/20?%s" % d1) + " sub",
                              self.url("/bytes/10?%s" % d2) + " sub/x",
                              self.url("/bytes/30?%s" % d2) + " sub2/y"]
                lst = self.box.write_list(file_first)
                plan = self.pdl("-n", "-o", self.box.out, lst)
                self.assertEqual(plan.rc, 1, plan)
                self.assertRegex(plan.stdout,
                                 r"(?m)^FAIL .*:2: its name goes through "
                                 r"an earlier URL's file")
                r = self.pdl("--json", "-j", "4", "-o", self.box.out, lst)
                self.assertEqual(r.rc, 1, r)
                self.assertEqual(self.box.out_files(), {
                    "sub": pattern(20), "sub2/y": pattern(30)})
                self.assert_clean()

    def test_existing_file_is_numbered_and_untouched(self):
        os.mkdir(self.box.out)
        for name, body in (("17", b"old 17\n"), ("17.1", b"old 17.1\n"),
                           ("18", b"old 18\n")):
            with open(os.path.join(self.box.out, name), "wb") as f:
                f.write(body)
        lst = self.box.write_list([self.url("/bytes/17"),
                                   self.url("/bytes/18")])
        r = self.pdl("--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), {
            "17": b"old 17\n", "17.1": b"old 17.1\n", "17.2": pattern(17),
            "18": b"old 18\n", "18.1": pattern(18)})
        self.assert_clean()

    def test_name_taken_while_downloading_is_numbered(self):
        """A file another process puts under the name while pdl downloads
        stays; pdl's takes the next free number (here t.3: the later URLs
        hold t.1 and t.2 already)."""
        import adversary
        echo = harness.EchoServer()
        try:
            lst = self.box.write_list([echo.url("/n/t?gate"),
                                       echo.url("/m/t"),
                                       echo.url("/k/t")])
            proc = adversary.start_pdl(["--json", "-s", "-o", self.box.out,
                                        lst])
            self.assertTrue(echo.arrived.wait(30 * adversary.slow_factor()))
            with open(os.path.join(self.box.out, "t"), "wb") as f:
                f.write(b"theirs")
            echo.go.set()
            r = adversary.finish(proc, 30 * adversary.slow_factor())
        finally:
            echo.go.set()
            echo.stop()
        self.assertEqual(r.rc, 0, r)
        got = self.box.out_files()
        self.assertEqual(sorted(got), ["t", "t.1", "t.2", "t.3"])
        self.assertEqual(got["t"], b"theirs")
        for f in r.files():
            self.assertEqual(got[os.path.relpath(f["path"], self.box.out)],
                             f["url"][len(echo.base):].encode())
        self.assert_clean()

    def test_overwrite_replaces(self):
        os.mkdir(self.box.out)
        with open(os.path.join(self.box.out, "19"), "wb") as f:
            f.write(b"old\n")
        r = self.pdl("--overwrite", "--json", "-o", self.box.out,
                     stdin=self.url("/bytes/19") + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.files()[0]["path"],
                         os.path.join(self.box.out, "19"))
        self.assertEqual(self.box.out_files(), {"19": pattern(19)})
        self.assert_clean()

    def test_overwrite_numbers_a_later_url_of_the_run(self):
        """--overwrite replaces what was there before the run, never a file
        the run itself wrote: the second a.txt is a.1.txt as -n says,
        also when it is read long after the first one was put in place
        (300 lines apart, beyond the queue: -j 8 holds 64)."""
        os.mkdir(self.box.out)
        with open(os.path.join(self.box.out, "a.txt"), "wb") as f:
            f.write(b"old\n")
        fill = [self.url("/bytes/1") + " d/f%d" % i for i in range(300)]
        lst = self.box.write_list([self.url("/bytes/10") + " a.txt"] + fill
                                  + [self.url("/bytes/20") + " a.txt"])
        plan = self.pdl("-n", "--overwrite", "--json", "-o", self.box.out,
                        lst)
        self.assertEqual(plan.rc, 0, plan)
        planned = [o["path"] for o in plan.json() if o["type"] == "plan"]
        self.assertEqual(
            [os.path.relpath(planned[i], self.box.out) for i in (0, -1)],
            ["a.txt", "a.1.txt"])
        r = self.pdl("-j", "8", "--overwrite", "--json", "-o",
                     self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        res = self.by_url(r)
        self.assertEqual([res[self.url("/bytes/%d" % n)]["path"]
                          for n in (10, 20)], [planned[0], planned[-1]])
        got = self.box.out_files()
        self.assertEqual(len(got), 302)
        self.assertEqual(got["a.txt"], pattern(10))
        self.assertEqual(got["a.1.txt"], pattern(20))
        self.assertEqual(got["d/f299"], pattern(1))
        self.assert_clean()

    def test_failed_url_keeps_its_name(self):
        """A URL that fails keeps its name for the rest of the run: the
        later a.txt is a.1.txt as -n says, though the first failed long
        before it was read (100 lines apart, beyond the -s queue), and a
        -c run then downloads the first URL to a.txt and skips the
        second, instead of taking the second's file for the first's."""
        key = "keep%d" % os.getpid()
        first = self.url("/flaky/%s/1?status=404" % key)
        fill = [self.url("/bytes/1") + " d/f%d" % i for i in range(100)]
        lst = self.box.write_list([first + " a.txt"] + fill
                                  + [self.url("/bytes/20") + " a.txt"])
        plan = self.pdl("-n", "--json", "-o", self.box.out, lst)
        self.assertEqual(plan.rc, 0, plan)
        planned = [o["path"] for o in plan.json() if o["type"] == "plan"]
        self.assertEqual(
            [os.path.relpath(planned[i], self.box.out) for i in (0, -1)],
            ["a.txt", "a.1.txt"])
        r = self.pdl("-s", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        res = self.by_url(r)
        self.assertFalse(res[first]["ok"], res[first])
        self.assertEqual(res[self.url("/bytes/20")]["path"], planned[-1])
        got = self.box.out_files()
        self.assertNotIn("a.txt", got)
        self.assertEqual(got["a.1.txt"], pattern(20))
        self.assertEqual(len(got), 101)
        again = self.pdl("-s", "-c", "--json", "-o", self.box.out, lst)
        self.assertEqual(again.rc, 0, again)
        res = self.by_url(again)
        self.assertEqual(res[first]["path"], planned[0])
        self.assertEqual(res[first]["status"], 200)
        self.assertFalse(res[first].get("skipped", False))
        self.assertTrue(res[self.url("/bytes/20")].get("skipped"))
        self.assertEqual(res[self.url("/bytes/20")]["path"], planned[-1])
        got = self.box.out_files()
        self.assertEqual(got["a.txt"], ("flaky %s ok\n" % key).encode())
        self.assertEqual(got["a.1.txt"], pattern(20))
        self.assertEqual(len(got), 102)
        self.assert_clean()

    def test_continue_numbers_past_a_directory(self):
        """-c skips a URL whose file is there, but a directory at the name
        is no download of it: the URL is numbered past it, and the next -c
        run skips the numbered file."""
        os.makedirs(os.path.join(self.box.out, "adir"))
        lst = self.box.write_list([self.url("/bytes/12") + " adir"])
        want = os.path.join(self.box.out, "adir.1")
        plan = self.pdl("-n", "-c", "-o", self.box.out, lst)
        self.assertEqual(plan.rc, 0, plan)
        self.assertEqual(plan.stdout.splitlines()[0],
                         "%s -> %s" % (self.url("/bytes/12"), want))
        r = self.pdl("-c", "--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        f = r.files()[0]
        self.assertEqual((f["path"], f["ok"], f.get("skipped", False)),
                         (want, True, False))
        self.assertTrue(os.path.isdir(os.path.join(self.box.out, "adir")))
        self.assertEqual(self.box.out_files(), {"adir.1": pattern(12)})
        again = self.pdl("-c", "--json", "-o", self.box.out, lst)
        self.assertEqual(again.rc, 0, again)
        f = again.files()[0]
        self.assertEqual((f["path"], f.get("skipped")), (want, True))
        self.assertEqual(self.box.out_files(), {"adir.1": pattern(12)})
        self.assert_clean()

    # -- two processes on one directory ------------------------------------

    def test_second_process_never_takes_a_named_temporary_file(self):
        """A named temporary file (--overwrite, -c) is held by the process
        writing it: a second pdl on the same directory and name neither
        removes, appends to nor replaces it, but fails that URL at once
        as busy; the first one's file arrives whole."""
        import adversary
        import signal
        import time
        slow = adversary.slow_factor()
        for i, opt in enumerate(("--overwrite", "-c")):
            with self.subTest(opt=opt):
                out = os.path.join(self.box.out, "o%d" % i)
                w1 = self.box.write_list([self.url(
                    "/bytes/300000?chunk=10000&interval_ms=100") + " x"],
                    name="w1-%d.txt" % i)
                w2 = self.box.write_list(
                    [self.url("/stall/300000?after=150000") + " x"],
                    name="w2-%d.txt" % i)
                tmp = os.path.join(out, ".x" + harness.TMP_SUFFIX)
                p1 = adversary.start_pdl([opt, "--json", "-o", out, w1])
                p2 = None
                try:
                    until = time.monotonic() + 10 * slow
                    while not os.path.exists(tmp) and \
                            time.monotonic() < until:
                        time.sleep(0.02)
                    self.assertTrue(os.path.exists(tmp))
                    p2 = adversary.start_pdl([opt, "--json", "--retries",
                                              "0", "-o", out, w2])
                    try:
                        p2.wait(10 * slow)
                    except Exception:
                        p2.send_signal(signal.SIGINT)
                    r2 = adversary.finish(p2, 30 * slow)
                    r1 = adversary.finish(p1, 30 * slow)
                finally:
                    for p in (p1, p2):
                        if p and p.poll() is None:
                            p.kill()
                            p.wait()
                got = {k: v for k, v in self.box.out_files().items()
                       if k.startswith("o%d/" % i)}
                self.assertEqual(sorted(got), ["o%d/x" % i])
                self.assertEqual(len(got["o%d/x" % i]), 300000)
                self.assertEqual(got["o%d/x" % i], pattern(300000))
                self.assertEqual(r1.rc, 0, r1)
                self.assertEqual(r1.files()[0]["path"],
                                 os.path.join(out, "x"))
                self.assertEqual(r2.rc, 1, r2)
                f = r2.files()[0]
                self.assertFalse(f["ok"], f)
                self.assertIn("busy", f["error"])
        self.assert_clean()

    # -- symlinks ---------------------------------------------------------

    def plant_link(self, name, target):
        os.makedirs(self.box.out, exist_ok=True)
        os.symlink(target, os.path.join(self.box.out, name))

    def test_symlink_at_final_name_not_written_through(self):
        secret = os.path.join(self.box.canary, "secret.txt")
        for i, target in enumerate((secret, "../../canary/secret.txt")):
            with self.subTest(target=target):
                out = os.path.join(self.box.out, "o%d" % i)
                os.makedirs(out)
                os.symlink(target, os.path.join(out, "23"))
                os.symlink(target, os.path.join(out, "named.bin"))
                lst = self.box.write_list([
                    self.url("/bytes/23"),
                    self.url("/bytes/24") + " named.bin"])
                r = self.pdl("--json", "-o", out, lst)
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(
                    sorted(os.path.relpath(f["path"], out)
                           for f in r.files()), ["23.1", "named.1.bin"])
                for name in ("23", "named.bin"):
                    link = os.path.join(out, name)
                    self.assertTrue(os.path.islink(link))
                    self.assertEqual(os.readlink(link), target)
                self.assertEqual(
                    {k: v for k, v in self.box.out_files().items()
                     if k.startswith("o%d/" % i)},
                    {"o%d/23.1" % i: pattern(23),
                     "o%d/named.1.bin" % i: pattern(24)})
        self.assert_clean()

    def test_symlink_with_overwrite_not_written_through(self):
        self.plant_link("25", os.path.join(self.box.canary, "secret.txt"))
        r = self.pdl("--overwrite", "-o", self.box.out,
                     stdin=self.url("/bytes/25") + "\n")
        self.assertEqual(r.rc, 0, r)
        link = os.path.join(self.box.out, "25")
        # the link itself is replaced by the file, never followed
        self.assertFalse(os.path.islink(link))
        self.assertEqual(self.box.out_files(), {"25": pattern(25)})
        self.assert_clean()

    def test_symlinked_subdirectory_refused(self):
        self.plant_link("sub", self.box.canary)
        self.plant_link("rel", "../canary")
        lst = self.box.write_list([
            self.url("/bytes/26") + " sub/evil.bin",
            self.url("/bytes/27") + " rel/deeper/evil.bin",
            self.url("/bytes/28") + " fine/good.bin",
        ])
        r = self.pdl("--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        res = self.by_url(r)
        for n in (26, 27):
            f = res[self.url("/bytes/%d" % n)]
            self.assertFalse(f["ok"], f)
            self.assertIsNone(f["path"])
        self.assertTrue(res[self.url("/bytes/28")]["ok"])
        self.assertEqual(os.listdir(self.box.canary), ["secret.txt"])
        self.assertEqual(self.box.out_files(), {"fine/good.bin": pattern(28)})
        self.assert_clean()

    # -- refused names ----------------------------------------------------

    def test_bad_names_refused_with_file_and_line(self):
        bad = ("../x", "/abs", "/etc/passwd", "a/../../x", "..", "./x",
               "a/./b", "dir/", "a\\b", "a\x01b")
        lines = [self.url("/bytes/29") + " ok.bin"]
        lines += [self.url("/bytes/%d" % (100 + i)) + " " + name
                  for i, name in enumerate(bad)]
        lines.append(self.url("/bytes/30"))
        lst = self.box.write_list(lines)
        r = self.pdl("--json", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        res = self.by_url(r)
        for i, name in enumerate(bad):
            with self.subTest(name=name):
                f = res.get(self.url("/bytes/%d" % (100 + i)))
                self.assertIsNotNone(f, r)
                self.assertFalse(f["ok"])
                self.assertIsNone(f["path"])
                self.assertEqual(f["attempts"], 0)
                self.assertTrue(f["error"].startswith(
                    "%s:%d: " % (lst, i + 2)), f["error"])
        self.assertEqual(self.box.out_files(),
                         {"ok.bin": pattern(29), "30": pattern(30)})
        s = r.summary()
        self.assertEqual((s["urls"], s["ok"], s["failed"]),
                         (len(bad) + 2, 2, len(bad)))
        self.assertFalse(os.path.exists(self.box.path("x")))
        self.assertFalse(os.path.exists(self.box.path("abs")))
        self.assert_clean()

    def test_bad_name_text_line(self):
        lst = self.box.write_list([self.url("/bytes/31") + " ../x"])
        r = self.pdl("-o", self.box.out, lst)
        self.assertEqual(r.rc, 1, r)
        first = r.stdout.splitlines()[0]
        self.assertRegex(first, r"^FAIL   -        0 B   0\.00s  %s:1: .+: %s$"
                         % (re.escape(lst),
                            re.escape(self.url("/bytes/31"))))
        self.assert_clean()

    # -- dry run ----------------------------------------------------------

    def test_dry_run_creates_nothing(self):
        out = os.path.join(self.box.out, "not", "yet")
        lst = self.box.write_list([self.url("/bytes/32"),
                                   self.url("/bytes/32"),
                                   self.url("/bytes/33") + " sub/named.bin"])
        before = self.server.stats()["requests"]
        r = self.pdl("-n", "-o", out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stdout.splitlines()[:3], [
            "%s -> %s" % (self.url("/bytes/32"), os.path.join(out, "32")),
            "%s -> %s" % (self.url("/bytes/32"), os.path.join(out, "32.1")),
            "%s -> %s" % (self.url("/bytes/33"),
                          os.path.join(out, "sub/named.bin"))])
        self.assertFalse(os.path.exists(self.box.out))
        self.assertEqual(self.server.stats()["requests"], before)
        self.assert_clean()

    def test_dry_run_json_and_existing(self):
        os.mkdir(self.box.out)
        with open(os.path.join(self.box.out, "34"), "wb") as f:
            f.write(b"here\n")
        lst = self.box.write_list([self.url("/bytes/34"),
                                   self.url("/bytes/35")])
        for extra, exists_path in (([], "34.1"), (["-c"], "34")):
            with self.subTest(extra=extra):
                r = self.pdl("-n", "--json", "-o", self.box.out,
                             *extra, lst)
                self.assertEqual(r.rc, 0, r)
                plans = [o for o in r.json() if o["type"] == "plan"]
                self.assertEqual(len(plans), 2)
                self.assertEqual(set(plans[0]),
                                 {"type", "url", "path", "exists"})
                self.assertEqual(plans[0]["path"],
                                 os.path.join(self.box.out, exists_path))
                self.assertIs(plans[0]["exists"], bool(extra))
                self.assertIs(plans[1]["exists"], False)
                self.assertEqual(self.box.out_files(), {"34": b"here\n"})
        r = self.pdl("-n", "-c", "-o", self.box.out, lst)
        self.assertEqual(r.stdout.splitlines()[0], "%s -> %s (exists, skipped)"
                         % (self.url("/bytes/34"),
                            os.path.join(self.box.out, "34")))
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
