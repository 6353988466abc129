"""End-to-end: signals and a closed stdout. SIGINT/SIGTERM mid-run stop
within about a second with 130/143, a STOP line per transfer cut short, the
summary, completed files intact and temporary files removed (kept with -c,
and a second -c run then completes them byte-exact); a second signal ends
pdl at once; `pdl ... | head -1` loses nothing."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

SLOW = adversary.slow_factor()


def fill_pipe(w):
    """Fills the pipe whose write end is w to the last byte, through a
    non-blocking writer of its own (O_NONBLOCK set on w itself would be
    shared with pdl's stdout)."""
    fill = os.open("/proc/self/fd/%d" % w, os.O_WRONLY | os.O_NONBLOCK)
    for size in (512, 64, 8, 1):
        try:
            while True:
                os.write(fill, b"#" * size)
        except BlockingIOError:
            pass
    os.close(fill)


class Signals(adversary.Adversarial):

    def setUp(self):
        super().setUp()
        self.server.reset_log()

    def slow_list(self):
        """One quick URL, three that are still running when the signal
        comes: a slow drip, a server that never answers, and a stall."""
        return [
            "%s done" % self.url("/bytes/1000"),
            "%s drip" % self.url("/drip/2000000?interval_ms=400"),
            "%s never" % self.url("/never"),
            "%s stall" % self.url("/stall/100000?after=5000"),
        ]

    def start(self, lines, *opts, stdin=subprocess.DEVNULL,
              stdout=subprocess.PIPE, env=None):
        path = adversary.write_raw_list(self.box, lines)
        return adversary.start_pdl(["--progress", "none", "-o", self.box.out]
                                   + list(opts) + [path], stdin=stdin,
                                   stdout=stdout, env=env)

    def start_stuck(self, lines=None, opts=()):
        """pdl -j 8 on the slow list (or lines), writing its report into a pipe that
        nobody reads: once the test fills it, the next line pdl reports
        blocks, so a first stop cannot end the run before a second signal
        comes (it would otherwise end it within milliseconds)."""
        if harness.VALGRIND:
            # valgrind cannot end a process whose thread is blocked
            # writing to a full pipe: the exit never completes there.
            # The plain, ASan and TSan passes run these tests.
            self.skipTest(harness.BY_DESIGN +
                          "a thread blocked on a full pipe hangs valgrind")
        import fcntl
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
        # Quitting at once leaves threads unjoined by design; under
        # ThreadSanitizer that is a "thread leak" report, not a bug.
        env = {"TSAN_OPTIONS": os.environ.get("TSAN_OPTIONS", "") +
               ":report_thread_leaks=0"}
        proc = self.start(lines or self.slow_list(), "-j", "8", *opts,
                          stdout=w, env=env)
        self.addCleanup(os.close, r)
        self.wait_started(proc)
        fill_pipe(w)
        os.close(w)
        return proc, r

    def first_stop_stuck(self, proc, sig):
        proc.send_signal(sig)
        early = self.read_stderr_until(proc, b"stopping", 10 * SLOW)
        self.assertIn(b"stopping", early)
        # stuck writing its STOP lines, pdl is still there
        time.sleep(0.2)
        self.assertIsNone(proc.poll(), "pdl ended before the second signal")
        return early

    def wait_started(self, proc, names=("done",)):
        """Until the quick file is in place and the drip has written
        something: to a named temporary file with -c, else to an unnamed
        one."""
        def ready():
            if proc.poll() is not None:
                return True
            have = self.box.out_files()
            return all(n in have for n in names) and \
                (have.get(".drip.pdl-part") or
                 any(self.box.unnamed_files(proc.pid)))
        self.assertTrue(adversary.wait_for(ready, 30 * SLOW))
        self.assertIsNone(proc.poll(), "pdl ended before the signal")
        time.sleep(0.3)

    def interrupted(self, sig, code, opts=(), json=False):
        proc = self.start(self.slow_list(), "-j", "8",
                          *(list(opts) + (["--json"] if json else [])))
        self.wait_started(proc)
        t0 = time.monotonic()
        proc.send_signal(sig)
        res = adversary.finish(proc, 30 * SLOW)
        took = time.monotonic() - t0
        self.assertEqual(res.rc, code, res)
        self.assertLess(took, 5 * SLOW, "did not stop within a few seconds")
        self.assertRegex(res.stderr, r"(interrupted|terminated): stopping")
        return res

    def check_stopped_text(self, res):
        lines = res.stdout.splitlines()
        stops = [l for l in lines if l.startswith("STOP ")]
        oks = [l for l in lines if l.startswith("ok ")]
        self.assertEqual(len(stops), 3, res)
        self.assertEqual(len(oks), 1, res)
        self.assertTrue(oks[0].endswith(os.path.join(self.box.out, "done")))
        for l in stops:
            self.assertTrue(l.endswith(": interrupted"), l)
        self.assertRegex(lines[-1], r"^4 URLs: 1 ok, 3 failed, 3 interrupted;")
        self.assertEqual(len(lines), 5)

    def test_sigint_mid_run(self):
        res = self.interrupted(signal.SIGINT, 130)
        self.check_stopped_text(res)
        self.assert_files({"done": pattern(1000)})

    def test_sigint_mid_run_j1(self):
        """-j 1: a thread beside the transfer thread writes the files. A
        stop reports the download running, keeps the finished file whole
        and leaves no temporary file; the two not started are counted."""
        proc = self.start(self.slow_list(), "-j", "1")
        self.wait_started(proc)
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        lines = res.stdout.splitlines()
        self.assertEqual(len(lines), 3, res)
        self.assertTrue(lines[0].startswith("ok "), res)
        self.assertTrue(lines[0].endswith(os.path.join(self.box.out, "done")))
        self.assertTrue(lines[1].startswith("STOP "), res)
        self.assertTrue(lines[1].endswith("/drip/2000000?interval_ms=400: "
                                          "interrupted"), res)
        self.assertRegex(lines[2], r"^2 URLs: 1 ok, 1 failed, 1 interrupted"
                         r", 2 not started;")
        self.assert_files({"done": pattern(1000)})

    def test_sigterm_mid_run_json(self):
        res = self.interrupted(signal.SIGTERM, 143, json=True)
        self.assert_reports(res, 4)
        s = res.summary()
        self.assertEqual((s["ok"], s["failed"], s["interrupted"]), (1, 3, 3))
        for o in res.files():
            if not o["ok"]:
                self.assertEqual(o["error"], "interrupted")
                self.assertIsNone(o["path"])
        self.assert_files({"done": pattern(1000)})

    def read_stderr_until(self, proc, marker, timeout):
        """stderr of a running pdl up to marker (signals sent back to back
        may merge into one: the second goes only once the first is seen)."""
        import select
        got = b""
        end = time.monotonic() + timeout
        fd = proc.stderr.fileno()
        while marker not in got and time.monotonic() < end:
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                got += chunk
        self.assertIn(marker, got)
        return got

    def test_stop_while_a_body_is_in_parts_keeps_its_start(self):
        # Two parts of one body are running when the signal comes: both
        # stop, the download is reported once, interrupted, with the bytes
        # of both, and -c keeps the start of the body up to the first
        # byte missing (the first part's end), nothing of the second.
        size = 16 * 1024 * 1024
        proc = self.start(
            ["%s short" % self.url("/bytes/1000"),
             "%s big" % self.url("/bytes/%d?etag=v1&chunk=262144"
                                 "&interval_ms=25" % size)],
            "-j", "2", "-c", "-v", "--json")
        self.read_stderr_until(proc, b"on another connection", 30 * SLOW)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        big = [f for f in res.files() if "etag=v1" in f["url"]]
        self.assertEqual(len(big), 1, res)
        self.assertEqual(big[0]["error"], "interrupted", big)
        with open(os.path.join(self.box.out, ".big.pdl-part"), "rb") as f:
            kept = f.read()
        self.assertGreater(len(kept), 0)
        self.assertLess(len(kept), size // 2)
        self.assertEqual(kept, pattern(len(kept)))
        self.assertGreater(big[0]["bytes"], len(kept), big)
        self.assertFalse(os.path.exists(os.path.join(self.box.out, "big")))

    def test_second_sigint_exits_at_once(self):
        proc, _ = self.start_stuck()
        early = self.first_stop_stuck(proc, signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        self.assertLess(time.monotonic() - t0, 3 * SLOW)
        self.assertIn(b"stopped at once", early + res.err)
        # the quick file is whole; the parts of the others are gone
        self.assert_files({"done": pattern(1000)})

    def test_second_signal_leaves_another_pdls_temporary_file(self):
        """A second signal removes the named temporary files this run
        holds, never another pdl's of a name this run has reserved but
        not opened yet (its answer has not come): that one's download
        still arrives whole."""
        size = 300000  # 6 s at 5000 bytes per 0.1 s
        other_list = adversary.write_raw_list(self.box, [
            "%s x" % self.url("/bytes/%d?chunk=5000&interval_ms=100"
                              % size)])
        other = adversary.start_pdl(["--progress", "none", "--overwrite",
                                     "--json", "-o", self.box.out,
                                     other_list])
        self.addCleanup(lambda: other.poll() is None and
                        (other.kill(), other.wait()))
        theirs = os.path.join(self.box.out, ".x" + harness.TMP_SUFFIX)
        self.assertTrue(adversary.wait_for(
            lambda: os.path.exists(theirs), 10 * SLOW))
        lines = self.slow_list() + ["%s x" % self.url("/never")]
        proc, _ = self.start_stuck(lines, ("--overwrite",))
        self.first_stop_stuck(proc, signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        self.assertIsNone(other.poll(), "the other pdl ended too soon")
        temps = self.box.temp_files()
        self.assertIn(".x" + harness.TMP_SUFFIX, temps)
        # this run's own part (named with --overwrite) is gone
        self.assertNotIn(".drip" + harness.TMP_SUFFIX, temps)
        r = adversary.finish(other, 30 * SLOW)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files().get("x"), pattern(size))

    def test_sigterm_then_sigint_exits_at_once(self):
        proc, _ = self.start_stuck()
        early = self.first_stop_stuck(proc, signal.SIGTERM)
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        # the code of the signal that quit
        self.assertEqual(res.rc, 130, res)
        self.assertIn(b"stopped at once", early + res.err)
        self.assertEqual(self.box.out_files().get("done"), pattern(1000))
        self.assert_clean()

    def test_sigint_with_continue_keeps_parts_then_completes(self):
        res = self.interrupted(signal.SIGINT, 130, opts=["-c"])
        self.check_stopped_text(res)
        parts = self.box.temp_files()
        self.assertIn(".drip.pdl-part", parts)
        kept = self.box.out_files()[".drip.pdl-part"]
        self.assertGreater(len(kept), 0)
        self.assertEqual(kept, pattern(len(kept)))
        self.assert_files({"done": pattern(1000)}, allow_temp=True)
        # the second -c run resumes what it can and skips what is there
        self.server.reset_log()
        lines = ["%s done" % self.url("/bytes/1000"),
                 "%s drip" % self.url("/drip/2000000?interval_ms=50")]
        res, _ = self.json_run(lines, "-c", rc=0, timeout=60 * SLOW)
        by = {os.path.basename(o["path"]): o for o in res.files()}
        self.assertTrue(by["done"].get("skipped"))
        self.assertEqual(by["drip"]["status"], 206)
        drips = [e for e in self.server.log() if e["path"].startswith(
            "/drip/")]
        self.assertEqual(drips[0]["headers"].get("Range"),
                         "bytes=%d-" % len(kept))
        self.assertEqual(self.box.out_files().get("drip"), pattern(2000000))
        self.assertEqual(self.box.out_files().get("done"), pattern(1000))

    def test_sigint_during_retry_backoff(self):
        lines = ["%s done" % self.url("/bytes/1000"),
                 "%s wait" % self.url("/status/503?retry_after=30")]
        proc = self.start(lines, "--json")

        def waiting():
            return proc.poll() is not None or any(
                e["path"].startswith("/status/503") for e in
                self.server.log())
        self.assertTrue(adversary.wait_for(waiting, 30 * SLOW))
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        self.assertLess(time.monotonic() - t0, 5 * SLOW)
        self.assert_reports(res, 2)
        r = [o for o in res.files() if "/status/503" in o["url"]][0]
        self.assertEqual(r["error"], "interrupted", res)
        self.assertEqual(r["attempts"], 1)
        self.assert_files({"done": pattern(1000)})

    def test_sigint_while_stdin_never_ends(self):
        proc = adversary.start_pdl(
            ["--progress", "none", "-o", self.box.out],
            stdin=subprocess.PIPE)
        proc.stdin.write(("%s first\n" % self.url("/bytes/100")).encode())
        proc.stdin.flush()
        self.assertTrue(adversary.wait_for(
            lambda: "first" in self.box.out_files(), 30 * SLOW))
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            # stdin stays open: the signal alone must end the run
            proc.wait(timeout=30 * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("pdl ignored SIGINT while reading stdin")
        finally:
            proc.stdin.close()
        res = harness.Result(proc.returncode, proc.stdout.read(),
                             proc.stderr.read())
        proc.stdout.close()
        proc.stderr.close()
        harness.check_sanitizers(res.err)
        self.assertEqual(res.rc, 130, res)
        self.assertLess(time.monotonic() - t0, 5 * SLOW)
        self.assertRegex(res.stdout.splitlines()[-1], r"^1 URLs: 1 ok,")
        self.assert_files({"first": pattern(100)})

    # -- --compare ---------------------------------------------------------

    def scratch_dirs(self):
        if not os.path.isdir(self.box.out):
            return []
        return [n for n in os.listdir(self.box.out)
                if n.startswith(".pdl-compare.")]

    def start_compare(self, *opts, stdout=subprocess.PIPE):
        """--compare whose sequential pass has put one file into its
        scratch directory and is waiting on a server that never answers."""
        proc = self.start(["%s done" % self.url("/bytes/1000"),
                           "%s never" % self.url("/never"),
                           "%s later" % self.url("/bytes/10")],
                          "--compare", *opts, stdout=stdout,
                          env={"TSAN_OPTIONS": os.environ.get(
                              "TSAN_OPTIONS", "") + ":report_thread_leaks=0"})

        def in_scratch():
            return proc.poll() is not None or any(
                os.path.exists(os.path.join(self.box.out, d, "done"))
                for d in self.scratch_dirs())
        self.assertTrue(adversary.wait_for(in_scratch, 30 * SLOW))
        self.assertIsNone(proc.poll(), "pdl ended before the signal")
        time.sleep(0.2)
        return proc

    def test_sigint_compare_sequential_pass(self):
        """Stopped in its sequential pass, --compare keeps nothing of it
        (the scratch directory goes), shows the transfer cut short, counts
        what was not started, and prints no speed-up."""
        for json in (False, True):
            with self.subTest(json=json):
                self.box.remove()
                self.box = harness.Sandbox()
                proc = self.start_compare(*(["--json"] if json else []))
                proc.send_signal(signal.SIGINT)
                res = adversary.finish(proc, 30 * SLOW)
                self.assertEqual(res.rc, 130, res)
                self.assertEqual(self.box.out_files(), {})
                self.assertEqual(self.scratch_dirs(), [])
                if json:
                    s = res.summary()
                    self.assertEqual((s["urls"], s["ok"], s["failed"],
                                      s["interrupted"]), (1, 0, 1, 1), res)
                    self.assertNotIn("speedup", s)
                    [f] = res.files()
                    self.assertTrue(f["url"].endswith("/never"), f)
                    self.assertEqual(f["error"], "interrupted")
                else:
                    lines = res.stdout.splitlines()
                    self.assertEqual(len(lines), 2, res)
                    self.assertTrue(lines[0].startswith("STOP "), res)
                    self.assertTrue(lines[0].endswith("/never: interrupted"))
                    self.assertRegex(lines[1], r"^1 URLs: 0 ok, 1 failed, "
                                     r"1 interrupted(, 1 not started)?;")

    def test_second_signal_compare_removes_scratch(self):
        """A second signal while the first is still stopping: the scratch
        directory of --compare goes with the temporary files. stdout is a
        full pipe, so the STOP line the first signal unmutes blocks the
        run until the second comes."""
        if harness.VALGRIND:
            self.skipTest(harness.BY_DESIGN +
                          "a thread blocked on a full pipe hangs valgrind")
        import fcntl
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
        fill_pipe(w)
        proc = self.start_compare(stdout=w)
        os.close(w)
        early = self.first_stop_stuck(proc, signal.SIGINT)
        self.assertTrue(self.scratch_dirs())
        proc.send_signal(signal.SIGTERM)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 143, res)
        self.assertIn(b"stopped at once", early + res.err)
        self.assertEqual(self.scratch_dirs(), [])
        self.assertEqual(self.box.out_files(), {})

    def test_sigint_compare_while_stdin_never_ends(self):
        # --compare copies stdin before the first pass: a signal must stop
        # the copying of a pipe that never ends
        proc = adversary.start_pdl(
            ["--progress", "none", "--compare", "-o", self.box.out],
            stdin=subprocess.PIPE)
        proc.stdin.write(("%s first\n" % self.url("/bytes/100")).encode())
        proc.stdin.flush()
        time.sleep(0.5 * SLOW)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("pdl --compare ignored SIGINT while copying stdin")
        finally:
            proc.stdin.close()
        err = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        harness.check_sanitizers(err)
        self.assertEqual(rc, 130)
        self.assertLess(time.monotonic() - t0, 3 * SLOW)
        self.assertEqual(self.box.out_files(), {})

    def test_sigkill_leaves_no_partial_file(self):
        """Where the file system allows, bodies are written to unnamed
        files: even SIGKILL, which leaves pdl no time to clean up, leaves
        no partial file behind."""
        proc = self.start(self.slow_list(), "-j", "8")
        self.wait_started(proc)
        unnamed = self.box.unnamed_files(proc.pid)
        proc.kill()
        proc.communicate()
        if not unnamed:
            self.skipTest(harness.THIS_MACHINE +
                          "no O_TMPFILE on this file system")
        self.assertEqual(list(self.box.out_files()), ["done"])

    def test_sigint_sequential(self):
        proc = self.start(self.slow_list(), "-s")
        self.wait_started(proc)
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        lines = res.stdout.splitlines()
        self.assertTrue(lines[0].startswith("ok "))
        self.assertTrue(lines[1].startswith("STOP "))
        self.assertRegex(lines[-1],
                         r"interrupted(, \d+ not started)?; .*, 1 job$")
        self.assert_files({"done": pattern(1000)})

    def test_more_urls_than_jobs(self):
        """Queued URLs never started get no file and at most one line."""
        lines = self.slow_list() + ["%s q%d" % (self.url("/bytes/%d" % (
            10 + i)), i) for i in range(20)]
        proc = self.start(lines, "-j", "3", "--json")
        self.wait_started(proc)
        proc.send_signal(signal.SIGINT)
        res = adversary.finish(proc, 30 * SLOW)
        self.assertEqual(res.rc, 130, res)
        urls = [o["url"] for o in res.files()]
        self.assertEqual(len(urls), len(set(urls)))
        summary = res.summary()
        self.assertEqual(summary["urls"], len(urls))
        # The three slow transfers hold all the jobs, so queued URLs were
        # dropped by the stop: the summary says how many.
        self.assertGreaterEqual(summary.get("not_started", 0), 1, summary)
        self.assertLessEqual(summary["urls"] + summary["not_started"],
                             len(lines))
        got = self.box.out_files()
        for o in res.files():
            name = o["path"] and os.path.relpath(o["path"], self.box.out)
            if o["ok"]:
                self.assertIn(name, got)
        self.assertEqual(got.get("done"), pattern(1000))
        for name, body in got.items():
            if name.startswith("q"):
                self.assertEqual(body, pattern(10 + int(name[1:])))
        self.assert_clean()

    def test_closed_stdout_loses_nothing(self):
        """pdl ... | head -1: the reader goes away after one line."""
        n = 12
        lines = ["%s f%02d" % (self.url("/bytes/%d?delay=%.1f" % (
            5000 + i, 0.1 * (i % 4))), i) for i in range(n)]
        proc = self.start(lines, "-j", "3")
        first = proc.stdout.readline()
        self.assertTrue(first.startswith(b"ok "), first)
        proc.stdout.close()
        try:
            proc.wait(timeout=60 * SLOW)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.fail("pdl hung on a closed stdout")
        err = proc.stderr.read()
        proc.stderr.close()
        harness.check_sanitizers(err)
        self.assertEqual(proc.returncode, 0, err)
        self.assertNotIn(b"Broken pipe", err)
        self.assert_files({"f%02d" % i: pattern(5000 + i) for i in range(n)})

    def test_closed_stdout_json_and_failures(self):
        lines = ["%s a" % self.url("/bytes/300?delay=0.3"),
                 "%s b" % self.url("/status/404"),
                 "%s c" % self.url("/bytes/400?delay=0.6")]
        proc = self.start(lines, "--json")
        proc.stdout.close()
        res_rc = proc.wait(timeout=60 * SLOW)
        err = proc.stderr.read()
        proc.stderr.close()
        harness.check_sanitizers(err)
        self.assertEqual(res_rc, 1, err)
        self.assert_files({"a": pattern(300), "c": pattern(400)})


if __name__ == "__main__":
    harness.main()
