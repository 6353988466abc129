"""End-to-end: -j and --sequential. The fixture server counts requests in
flight (max_concurrent), so the pool's bound is observed from outside."""

import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

# src/transfer.h: a body of up to PDL_SINK_MEM bytes waits in memory, while
# its loop holds less than PDL_SINK_BUDGET in all; the rest go to their
# files from the first byte
SINK_MEM = 16 * 1024
SINK_BUDGET = 1024 * 1024


class Concurrency(harness.E2E):

    def setUp(self):
        super().setUp()
        self.server.reset_stats()
        self.server.reset_log()

    def slow(self, n, secs, tag="x"):
        return [self.url("/%s%d/%s" % (tag, i, secs)) for i in range(n)]

    def run_list(self, urls, *args):
        lst = self.box.write_list(urls)
        r = self.pdl("--json", "-o", self.box.out, *args, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(len(r.files()), len(urls))
        self.assertTrue(all(f["ok"] for f in r.files()), r)
        return r

    def max_concurrent(self):
        return self.server.stats()["max_concurrent"]

    def test_j1_is_one_at_a_time(self):
        self.run_list(self.slow(4, 0.3), "-j", "1")
        self.assertEqual(self.max_concurrent(), 1)
        self.assertEqual(self.server.stats()["requests"], 4)
        self.assert_clean()

    def test_j5_reaches_five(self):
        urls = [self.url("/x/1")] * 5
        r = self.run_list(urls, "-j", "5")
        self.assertEqual(self.max_concurrent(), 5)
        # five URLs of one name: 1, 1.1, ... 1.4, all whole
        names = sorted(os.path.basename(f["path"]) for f in r.files())
        self.assertEqual(names, ["1", "1.1", "1.2", "1.3", "1.4"])
        bodies = set(self.box.out_files().values())
        self.assertEqual(len(bodies), 1)
        self.assertTrue(next(iter(bodies)).endswith(b"x launched!\n"))
        self.assert_clean()

    def test_j3_bound_on_nine(self):
        self.run_list(self.slow(9, 0.5), "-j", "3")
        self.assertEqual(self.max_concurrent(), 3)
        log = [e for e in self.server.log() if e["path"].startswith("/x")]
        self.assertEqual(len(log), 9)
        # an independent check from the request log: at no request's start
        # were more than 3 requests open
        for e in log:
            open_then = [o for o in log if o["t_start"] <= e["t_start"]
                         and (o["t_end"] is None
                              or o["t_end"] > e["t_start"])]
            self.assertLessEqual(len(open_then), 3)
        self.assert_clean()

    def test_slow_answers_waited_for_asleep(self):
        """After quick answers a transfer thread looks at its socket for a
        moment before it sleeps (src/awake.h). A slow answer after them
        must still be waited for asleep: six waits of 0.4 s among quick
        answers add almost nothing to the CPU pdl uses for the list.
        (Whether a given wait begins with a look depends on how quick the
        answers before it were: with six, some do.)"""
        if harness.VALGRIND:
            self.skipTest(harness.BY_DESIGN +
                          "valgrind's own CPU time drowns the figure")

        def cpu_for(urls, name):
            out = os.path.join(self.box.out, name)
            lst = self.box.write_list(urls, name=name + ".txt")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = self.pdl("-q", "-j", "1", "-o", out, lst)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            self.assertEqual(r.rc, 0, r)
            self.assertEqual(len(os.listdir(out)), len(urls))
            return (after.ru_utime + after.ru_stime -
                    before.ru_utime - before.ru_stime)

        quick = [[self.url("/bytes/100?g=%d&q=%d" % (g, i))
                  for i in range(50)] for g in range(6)]
        slow = [self.url("/bytes/100?delay=0.4&s=%d" % g) for g in range(6)]
        alone = min(cpu_for(sum(quick, []), "a%d" % i) for i in range(2))
        mixed = []
        for g in range(6):
            mixed += quick[g] + [slow[g]]
        t = time.monotonic()
        with_slow = cpu_for(mixed, "b")
        self.assertGreaterEqual(time.monotonic() - t, 2.4)
        # each wait looked through would add 0.4 s; a sanitizer's own
        # threads add some CPU for each second of the run
        self.assertLess(with_slow - alone, 0.8, (alone, with_slow))
        self.assert_clean()

    def test_sequential_in_input_order(self):
        # uneven delays: a pool would finish these out of order
        secs = (0.4, 0.1, 0.3, 0.05, 0.2)
        urls = [self.url("/s%d/%s" % (i, s)) for i, s in enumerate(secs)]
        r = self.run_list(urls, "--sequential")
        self.assertEqual(self.max_concurrent(), 1)
        self.assertEqual([f["url"] for f in r.files()], urls)
        self.assertEqual(r.summary()["jobs"], 1)
        log = [e for e in self.server.log() if e["path"].startswith("/s")]
        self.assertEqual([e["path"] for e in log],
                         [u[len(self.server.base):] for u in urls])
        for a, b in zip(log, log[1:]):
            self.assertLessEqual(a["t_end"], b["t_start"])
        self.assert_clean()

    def test_j1_files_written_behind_arrive_whole_in_order(self):
        """At -j 1 on two or more CPUs the transfer thread hands each
        finished download to a thread of its own that writes, commits and
        reports it while the next one is received (on one CPU it does that
        itself): bodies held in memory, bodies written from the first
        byte, a failure, a cut body resumed and a name taken twice all
        arrive whole, reported once each, in input order, both ways."""
        want_names, want_files, lines = [], {}, []
        # the cut of /reset-once happens once per key: a key per pass
        key = "{PASS}"
        for rnd in range(3):
            cases = [
                ("/bytes/1000", "a%d" % rnd, pattern(1000)),
                ("/bytes/300000", "b%d" % rnd, pattern(300000)),
                ("/bytes/900000", "c%d" % rnd, pattern(900000)),
                ("/status/404", "d%d" % rnd, None),
                ("/reset-once/%s-%d/400000?after=100000" % (key, rnd),
                 "e%d" % rnd, pattern(400000)),
                ("/bytes/20000", "a%d" % rnd, pattern(20000)),
            ]
            for path, name, body in cases:
                lines.append("%s %s" % (self.url(path), name))
                if body is None:
                    want_names.append(None)
                    continue
                final = name if name not in want_files else name + ".1"
                want_files[final] = body
                want_names.append(final)
        cpus = os.sched_getaffinity(0)
        for one_cpu in (False, True):
            if one_cpu and len(cpus) == 1:
                continue
            with self.subTest(one_cpu=one_cpu):
                harness.shutil.rmtree(self.box.out, ignore_errors=True)
                self.server.reset_stats()
                lst = self.box.write_list(
                    [l.replace(key, "one" if one_cpu else "all")
                     for l in lines])
                if one_cpu:
                    os.sched_setaffinity(0, {min(cpus)})  # pdl inherits it
                try:
                    r = self.pdl("--json", "-j", "1", "-o", self.box.out,
                                 lst)
                finally:
                    os.sched_setaffinity(0, cpus)
                self.assertEqual(r.rc, 1, r)
                got = [os.path.basename(f["path"]) if f["path"] else None
                       for f in r.files()]
                self.assertEqual(got, want_names)
                s = r.summary()
                self.assertEqual((s["urls"], s["ok"], s["failed"]),
                                 (18, 15, 3))
                files = self.box.out_files()
                self.assertEqual(sorted(files), sorted(want_files))
                for name, body in want_files.items():
                    self.assertTrue(files[name] == body,
                                    name + " not byte-exact")
                self.assertEqual(self.max_concurrent(), 1)
                e = [f for f in r.files() if "/reset-once/" in f["url"]]
                self.assertEqual([f["attempts"] for f in e], [2, 2, 2])
                self.assert_clean()

    def test_j1_reports_do_not_wait_for_the_next_download(self):
        """The thread that settles a -j 1 loop's downloads is woken for a
        batch of them or a moment after the first: the report of every
        file comes while the next, slow download is still being waited
        for, not when it ends (nor when the run ends)."""
        # 50 ms apart, so that the settling thread has gone to sleep
        # between them (all at once, it would still be awake)
        small = [self.url("/s%d/0.05" % i) for i in range(11)]
        slow = self.url("/late/3")
        lst = self.box.write_list(small + [slow])
        cmd = [harness.PDL, "--json", "-j", "1", "--progress", "none",
               "-o", self.box.out, lst]
        p = harness.subprocess.Popen(cmd, stdin=harness.subprocess.DEVNULL,
                                     stdout=harness.subprocess.PIPE,
                                     stderr=harness.subprocess.PIPE)
        arrived = {}
        try:
            for line in p.stdout:
                rec = json.loads(line)
                if "url" in rec:
                    arrived[rec["url"]] = (time.monotonic(), rec["ok"])
            err = p.stderr.read()
        finally:
            p.wait(timeout=60)
        harness.check_sanitizers(err)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(sorted(arrived), sorted(small + [slow]))
        self.assertTrue(all(ok for _, ok in arrived.values()), arrived)
        # the small ones came while the 3 s answer was awaited
        last_small = max(arrived[u][0] for u in small)
        self.assertGreater(arrived[slow][0] - last_small, 1.5, arrived)
        self.assertEqual(len(self.box.out_files()), 12)
        self.assert_clean()

    def test_sequential_text_summary_says_one_job(self):
        lst = self.box.write_list([self.url("/bytes/10")])
        r = self.pdl("-s", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(r.stdout.splitlines()[-1].endswith(", 1 job"), r)
        self.assert_clean()

    def test_sequential_and_pool_make_the_same_tree(self):
        urls = []
        for i in range(12):
            urls.append(self.url("/bytes/%d" % (1000 + 7 * (i % 4))))
        urls += [self.url("/files/hello.txt"),
                 self.url("/files/sub/nested.txt") + " sub/a.txt",
                 self.url("/bytes/5") + " sub/a.txt",
                 self.url("/redirect/2"),
                 self.url("/t/0.2"),
                 self.url("/t/0.2")]
        lst = self.box.write_list(urls)
        trees = []
        for args in (["--sequential"], ["-j", "8"]):
            r = self.pdl("-o", self.box.out, *args, lst)
            self.assertEqual(r.rc, 0, r)
            trees.append(self.box.out_files())
            harness.shutil.rmtree(self.box.out)
        self.assertEqual(trees[0], trees[1])
        self.assertEqual(len(trees[0]), len(urls))
        self.assertEqual(trees[0]["1000.2"], pattern(1000))
        self.assertEqual(trees[0]["sub/a.1.txt"], pattern(5))
        self.assert_clean()

    def test_j1024_works(self):
        n = 50
        r = self.run_list(self.slow(n, 1, "k"), "-j", "1024")
        self.assertEqual(r.summary()["jobs"], 1024)
        self.assertEqual(len(self.box.out_files()), n)
        want = n if not harness.VALGRIND else 9
        self.assertGreaterEqual(self.max_concurrent(), want)
        self.assert_clean()

    def test_memory_budget_overflows_to_files(self):
        """Hundreds of small bodies half received at once: each loop keeps
        at most its budget of them in memory and writes the others to
        their files from the first byte; every file arrives whole."""
        n = 200 if harness.VALGRIND else 300
        size = 16000
        # All n must have their first half before the first of them gets
        # its second: 300 connections take a second or more to set up on
        # a loaded machine (more than 2.4 s seen at a load average of 9)
        pause = max(5, 3 * adversary.slow_factor())
        urls = [self.url("/bytes/%d?chunk=%d&interval_ms=%d&k=%d"
                         % (size, size // 2, pause * 1000, i))
                for i in range(n)]
        lst = self.box.write_list(urls)
        os.makedirs(self.box.out, exist_ok=True)
        try:
            os.close(os.open(self.box.out, os.O_TMPFILE | os.O_WRONLY))
        except OSError:
            self.skipTest(harness.THIS_MACHINE +
                          "no O_TMPFILE here: files in the making are "
                          "not told apart from memory")
        proc = adversary.start_pdl(["-j", str(n), "--json", "-o",
                                    self.box.out, lst])
        loops = min(n, len(os.sched_getaffinity(0)))
        in_memory_max = loops * (SINK_BUDGET // size)
        self.assertLess(in_memory_max, n)
        self.assertLessEqual(size, SINK_MEM)

        def all_waiting():
            return proc.poll() is not None or \
                self.server.stats()["current"] == n
        self.assertTrue(adversary.wait_for(all_waiting, pause * 0.8))
        # every body has its first half now (sent at once): those not in
        # memory are in files
        time.sleep(0.2 * adversary.slow_factor())
        self.assertIsNone(proc.poll())
        in_files = self.box.unnamed_files(proc.pid)
        res = adversary.finish(proc, 60 * adversary.slow_factor())
        self.assertEqual(res.rc, 0, res)
        self.assertGreaterEqual(len(in_files), n - in_memory_max)
        self.assertLess(len(in_files), n, "no body waited in memory")
        self.assertEqual(set(in_files), {size // 2})
        files = res.files()
        self.assertEqual(len(files), n)
        self.assertTrue(all(f["ok"] for f in files), res)
        out = self.box.out_files()
        self.assertEqual(len(out), n)
        self.assertEqual(set(out.values()), {pattern(size)})
        self.assertEqual(self.max_concurrent(), n)
        self.assert_clean()

    def test_2000_urls_on_stdin(self):
        n = 2000
        stdin = "".join(self.url("/bytes/100") + "\n" for _ in range(n))
        r = self.pdl("-j", "16", "--json", "-o", self.box.out, stdin=stdin,
                     timeout=180)
        self.assertEqual(r.rc, 0, r)
        files = self.box.out_files()
        want = {"100"} | {"100.%d" % i for i in range(1, n)}
        self.assertEqual(set(files), want)
        self.assertEqual(set(files.values()), {pattern(100)})
        s = r.summary()
        self.assertEqual((s["urls"], s["ok"], s["failed"], s["bytes"]),
                         (n, n, 0, 100 * n))
        self.assertLessEqual(self.max_concurrent(), 16)
        self.assert_clean()

    def test_one_thread_serves_the_others_while_one_waits(self):
        """On one CPU pdl runs one transfer thread for all -j slots: a
        transfer that stalls and one that backs off before its retry are
        timers of that loop, and the other slots go on meanwhile."""
        if not hasattr(os, "sched_setaffinity"):
            self.skipTest(harness.THIS_MACHINE + "no sched_setaffinity")
        quick = [self.url("/bytes/1000?q=%d" % i) for i in range(40)]
        stall = self.url("/stall/1000?after=10")
        flaky = self.url("/flaky/one-loop/1?retry_after=2")
        urls = [stall, flaky] + quick
        old = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(old)})  # pdl inherits it
        try:
            lst = self.box.write_list(urls)
            r = self.pdl("--json", "-j", "4", "--stall-timeout", "2",
                         "--retries", "1", "-o", self.box.out, lst)
        finally:
            os.sched_setaffinity(0, old)
        files = r.files()
        self.assertEqual(len(files), len(urls), r)
        by_url = {f["url"]: f for f in files}
        self.assertTrue(all(by_url[u]["ok"] for u in quick), r)
        self.assertTrue(by_url[flaky]["ok"], r)
        self.assertEqual(by_url[flaky]["attempts"], 2)
        self.assertFalse(by_url[stall]["ok"])
        self.assertIn("stalled", by_url[stall]["error"])
        # every quick file is reported before the two that wait
        order = [f["url"] for f in files]
        self.assertEqual(set(order[:len(quick)]), set(quick), order)
        self.assertLessEqual(self.max_concurrent(), 4)
        self.assertEqual(r.rc, 1, r)

    def test_keepalive_reuses_connections(self):
        echo = harness.EchoServer()
        try:
            urls = [echo.url("/ka/%d" % i) for i in range(50)]
            r = self.run_list(urls, "-j", "2")
            self.assertEqual(len(echo.paths), 50)
            # two slots, each with its own handle: a handful of
            # connections, not one per URL
            self.assertLessEqual(echo.connections, 6, echo.connections)
        finally:
            echo.stop()
        self.assertEqual(len(self.box.out_files()), 50)
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
