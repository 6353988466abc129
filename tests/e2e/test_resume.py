"""End-to-end: recovery. Retries with backoff and Retry-After, bodies cut
off mid-way resumed with Range (and restarted when the server ignores
Range), stalls and timeouts, -c/--continue (skip, resume kept partial
files), --overwrite. The server's /log tells what pdl asked for and when."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402


class Resume(adversary.Adversarial):

    def requests(self, prefix):
        return [e for e in self.server.log() if e["path"].startswith(prefix)]

    def one(self, path, *opts, name="target", rc=None, timeout=60):
        """Runs pdl on one URL (plus a bystander) and returns its report."""
        url = self.url(path)
        lines = ["%s bystander" % self.url("/bytes/4321"),
                 "%s %s" % (url, name)]
        res, _ = self.json_run(lines, *opts, rc=rc,
                               timeout=timeout * adversary.slow_factor())
        r = self.by_url(res)[url]
        self.assertTrue(self.by_url(res)[self.url("/bytes/4321")]["ok"])
        return res, r

    def setUp(self):
        super().setUp()
        self.server.reset_log()
        self.key = "%s-%d" % (self.id().rsplit(".", 1)[-1], time.time_ns())

    # ---- retries --------------------------------------------------------

    def test_503_twice_then_success_counts_attempts(self):
        res, r = self.one("/flaky/%s/2" % self.key, rc=0)
        self.assertEqual(r["attempts"], 3, res)
        self.assertEqual(r["status"], 200)
        self.assertEqual(len(self.requests("/flaky/")), 3)
        self.assert_files({"bystander": pattern(4321),
                           "target": b"flaky %s ok\n" % self.key.encode()})

    def test_429_retry_after_is_honoured(self):
        res, r = self.one("/flaky/%s/1?status=429&retry_after=1" % self.key,
                          rc=0)
        self.assertEqual(r["attempts"], 2, res)
        log = self.requests("/flaky/")
        self.assertEqual(len(log), 2)
        gap = log[1]["t_start"] - log[0]["t_start"]
        self.assertGreaterEqual(gap, 0.9, "Retry-After: 1 not waited for")
        self.assert_files({"bystander": pattern(4321),
                           "target": b"flaky %s ok\n" % self.key.encode()})

    def test_retries_0_gives_one_attempt(self):
        res, r = self.one("/flaky/%s/1" % self.key, "--retries", "0", rc=1)
        self.assertEqual(r["attempts"], 1)
        self.assertEqual(r["error"], "HTTP 503")
        self.assertEqual(r["status"], 503)
        self.assertEqual(len(self.requests("/flaky/")), 1)
        self.assert_files({"bystander": pattern(4321)})

    def test_404_is_not_retried(self):
        res, r = self.one("/status/404", rc=1)
        self.assertEqual(r["attempts"], 1)
        self.assertEqual(r["error"], "HTTP 404")
        self.assertEqual(len(self.requests("/status/404")), 1)
        self.assert_files({"bystander": pattern(4321)})

    def test_5xx_gives_up_after_retries_with_growing_backoff(self):
        res, r = self.one("/status/500", "--retries", "2", rc=1)
        self.assertEqual(r["attempts"], 3)
        log = self.requests("/status/500")
        self.assertEqual(len(log), 3)
        g1 = log[1]["t_start"] - log[0]["t_start"]
        g2 = log[2]["t_start"] - log[1]["t_start"]
        # 0.5 s then 1 s, each with jitter down to half
        self.assertGreaterEqual(g1, 0.2)
        self.assertGreaterEqual(g2, 0.45)
        self.assert_files({"bystander": pattern(4321)})

    def resumes_with_range(self, n, cut, *opts):
        """A body cut after cut bytes is fetched again from where it was."""
        res, r = self.one("/reset/%d?after=%d" % (n, cut), *opts, rc=0)
        self.assertEqual(r["attempts"], 2, res)
        self.assertEqual(r["status"], 206)
        log = self.requests("/reset/")
        self.assertEqual(len(log), 2)
        self.assertNotIn("Range", log[0]["headers"])
        rng = log[1]["headers"].get("Range", "")
        self.assertRegex(rng, r"^bytes=\d+-$")
        offset = int(rng[6:-1])
        self.assertTrue(0 < offset <= cut, rng)
        # only the rest was fetched again
        self.assertLess(r["bytes"], n + cut)
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def restarts_when_range_ignored(self, n, after, *opts):
        """A server that answers the Range request with the whole body."""
        res, r = self.one("/reset-once/%s/%d?after=%d&norange=1" %
                          (self.key, n, after), *opts, rc=0)
        self.assertEqual(r["status"], 200)
        log = self.requests("/reset-once/")
        self.assertEqual(len(log), 2)
        self.assertIn("Range", log[1]["headers"])
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_reset_mid_body_resumes_with_range(self):
        self.resumes_with_range(3000000, 1000000)

    def test_small_body_cut_resumes_with_range(self):
        # a body this small is held in memory: it resumes from there
        self.resumes_with_range(12000, 5000)

    def test_alone_body_cut_resumes_with_range(self):
        # one transfer per loop: bodies up to 512 KiB are held in memory
        self.resumes_with_range(300000, 100000, "-j", "1")

    def test_alone_large_body_cut_resumes_with_range(self):
        # one transfer per loop, a body over 512 KiB: a second thread
        # writes it behind the loop; the Range is what reached the file
        self.resumes_with_range(3000000, 1000000, "-j", "1")

    def test_alone_large_body_server_ignoring_range_restarts(self):
        # the file written behind is emptied and written again from 0
        self.restarts_when_range_ignored(3000000, 1000000, "-j", "1")

    def test_server_ignoring_range_restarts_from_zero(self):
        self.restarts_when_range_ignored(500000, 200000)

    def test_small_body_server_ignoring_range_restarts(self):
        self.restarts_when_range_ignored(9000, 4000)

    def resumed_into_empty_body(self, n, status, *opts):
        """The resumed request is answered by an empty body: the resource
        is empty now, and what the cut attempt got must not be kept."""
        res, r = self.one("/empty-resume/%s/%d?status=%d" %
                          (self.key, n, status), *opts, rc=0)
        self.assertEqual(r["status"], status, res)
        self.assertEqual(r["attempts"], 2, res)
        log = self.requests("/empty-resume/")
        self.assertEqual(log[1]["headers"].get("Range"), "bytes=%d-" % (n // 2))
        self.assert_files({"bystander": pattern(4321), "target": b""})

    def test_resume_answered_by_empty_200_gives_empty_file(self):
        self.resumed_into_empty_body(10000, 200)

    def test_resume_answered_by_204_gives_empty_file(self):
        self.resumed_into_empty_body(10000, 204)

    def test_large_resume_answered_by_empty_200_gives_empty_file(self):
        # the half received is in the file, written behind the loop
        self.resumed_into_empty_body(3000000, 200, "-j", "1")

    def test_short_206_is_resumed_until_whole(self):
        # cut after 200 of 400 bytes; every resumed request then gets a
        # 206 of only 100 bytes, which is no reason to stop short
        n = 400
        res, r = self.one("/short-range/%s/%d" % (self.key, n), rc=0)
        self.assertEqual(r["status"], 206, res)
        self.assertEqual(r["attempts"], 3, res)
        log = self.requests("/short-range/")
        self.assertEqual([e["headers"].get("Range") for e in log],
                         [None, "bytes=200-", "bytes=300-"])
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_short_206_never_whole_fails_no_file(self):
        n = 1000
        res, r = self.one("/short-range/%s/%d" % (self.key, n), "--retries",
                          "1", rc=1)
        self.assertEqual(r["attempts"], 2, res)
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"], "cut short: 600 of 1000 bytes")
        self.assert_files({"bystander": pattern(4321)})

    def past_the_end(self, n, *opts):
        """/long-range: cut after half, then every range answered by a
        206 whose body runs 100 bytes past the end its Content-Range
        gives. The file must be the resource, not kept half + overlong
        rest: the bytes after the cut cannot be trusted, so it starts
        over from zero (at once, beside --retries)."""
        res, r = self.one("/long-range/%s/%d" % (self.key, n), *opts,
                          rc=0)
        self.assertEqual(r["status"], 200, res)
        self.assertEqual(r["attempts"], 3, res)
        log = self.requests("/long-range/")
        self.assertEqual([e["headers"].get("Range") for e in log],
                         [None, "bytes=%d-" % (n // 2), None])
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_206_past_the_end_starts_over(self):
        self.past_the_end(1000)

    def test_large_206_past_the_end_starts_over(self):
        # a body that goes to its file as it comes, written behind
        self.past_the_end(3000000, "-j", "1")

    def test_206_past_the_end_is_not_held_against_the_next_attempt(self):
        # the fresh start after the overlong 206 is itself cut at 300:
        # that attempt fails for its cut (and is retried as a cut would
        # be), not again for the 206 before it
        n = 1000
        res, r = self.one("/long-range/%s/%d?recut=300" % (self.key, n),
                          "--retries", "1", rc=1)
        self.assertEqual(r["attempts"], 3, res)
        self.assertFalse(r["ok"])
        self.assertNotIn("206", r["error"])
        log = self.requests("/long-range/")
        self.assertEqual([e["headers"].get("Range") for e in log],
                         [None, "bytes=500-", None])
        self.assert_files({"bystander": pattern(4321)})

    # ---- a resource that changed between attempts ----------------------

    def changed_midway(self, n, query, if_range, *opts, b_size=None,
                       attempts=2):
        """/versioned: cut in version A, then version B. The file must be
        all of B, never A's head with B's tail. Returns the log."""
        res, r = self.one("/versioned/%s/%d?%s" % (self.key, n, query),
                          *opts, rc=0)
        self.assertEqual(r["status"], 200, res)
        self.assertEqual(r["attempts"], attempts, res)
        log = self.requests("/versioned/")
        self.assertEqual(len(log), attempts)
        self.assertRegex(log[1]["headers"].get("Range", ""), r"^bytes=\d+-$")
        self.assertEqual(log[1]["headers"].get("If-Range"), if_range)
        b = bytes(255 - c for c in pattern(b_size or n))
        self.assert_files({"bystander": pattern(4321), "target": b})
        return log

    def test_changed_resource_with_etag_starts_over(self):
        log = self.changed_midway(100000, "after=40000", '"a"',
                                  "-H", "X-Mine: kept")
        # the -H lines still go with the per-attempt If-Range
        self.assertEqual(log[0]["headers"].get("X-Mine"), "kept")
        self.assertEqual(log[1]["headers"].get("X-Mine"), "kept")
        self.assertNotIn("If-Range", log[0]["headers"])

    def test_changed_large_resource_written_behind_starts_over(self):
        self.changed_midway(3000000, "after=1000000", '"a"', "-j", "1")

    def test_changed_resource_with_date_only_starts_over(self):
        self.changed_midway(100000, "after=40000&validators=date",
                            "Mon, 01 Jan 2024 00:00:00 GMT")

    def test_weak_etag_is_no_validator_the_date_is(self):
        self.changed_midway(100000, "after=40000&validators=weak",
                            "Mon, 01 Jan 2024 00:00:00 GMT")

    def test_changed_size_without_validators_starts_over(self):
        # no validator: the resumed request gets B's range, but its
        # Content-Range total is not A's length, so it starts over (at
        # once, beside the one retry the cut took)
        log = self.changed_midway(100000, "after=40000&validators=none"
                                  "&size_b=150000", None, "--retries", "1",
                                  b_size=150000, attempts=3)
        self.assertNotIn("Range", log[2]["headers"])

    def test_unchanged_resource_resumes_with_if_range(self):
        n = 100000
        res, r = self.one("/reset-once/%s/%d?after=40000&etag=v1" %
                          (self.key, n), rc=0)
        self.assertEqual(r["status"], 206, res)
        log = self.requests("/reset-once/")
        self.assertEqual(len(log), 2)
        self.assertEqual(log[1]["headers"].get("If-Range"), '"v1"')
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_recently_modified_resource_starts_over_not_resumed(self):
        # no ETag, and a Last-Modified of the second the answer was served
        # in: a date that cannot tell two versions apart, so the cut body
        # is fetched again from its start, without If-Range
        n = 100000
        res, r = self.one("/versioned/%s/%d?after=40000&validators=fresh"
                          % (self.key, n), rc=0)
        self.assertEqual(r["status"], 200, res)
        self.assertEqual(r["attempts"], 2, res)
        log = self.requests("/versioned/")
        self.assertEqual(len(log), 2)
        self.assertNotIn("Range", log[1]["headers"])
        self.assertNotIn("If-Range", log[1]["headers"])
        self.assert_files({"bystander": pattern(4321),
                           "target": bytes(255 - c for c in pattern(n))})

    def test_short_body_fails_after_retries_no_file(self):
        res, r = self.one("/short/50000?send=10000", "--retries", "2", rc=1)
        self.assertEqual(r["attempts"], 3)
        self.assertRegex(r["error"], r"(?i)transfer closed|remaining")
        self.assertEqual(len(self.requests("/short/")), 3)
        self.assert_files({"bystander": pattern(4321)})

    def test_stall_after_headers_fails_quickly(self):
        t0 = time.monotonic()
        res, r = self.one("/stall/100000?after=1000", "--stall-timeout", "1",
                          "--retries", "0", rc=1)
        took = time.monotonic() - t0
        self.assertEqual(r["error"], "stalled: nothing received for 1 s")
        self.assertEqual(r["attempts"], 1)
        self.assertLess(took, 15 * adversary.slow_factor())
        self.assert_files({"bystander": pattern(4321)})

    def test_stall_before_any_byte(self):
        res, r = self.one("/stall/100000?after=0", "--stall-timeout", "1",
                          "--retries", "1", rc=1)
        self.assertEqual(r["error"], "stalled: nothing received for 1 s")
        self.assertEqual(r["attempts"], 2)
        self.assert_files({"bystander": pattern(4321)})

    def test_slow_but_steady_is_no_stall(self):
        res, r = self.one("/drip/20000?interval_ms=300", "--stall-timeout",
                          "1", "--retries", "0", rc=0)
        self.assert_files({"bystander": pattern(4321),
                           "target": pattern(20000)})

    def test_never_answers_with_timeout(self):
        t0 = time.monotonic()
        res, r = self.one("/never", "--timeout", "1", "--retries", "0", rc=1)
        self.assertRegex(r["error"], r"(?i)timed out")
        self.assertLess(time.monotonic() - t0, 15 * adversary.slow_factor())
        self.assert_files({"bystander": pattern(4321)})

    def test_connect_timeout_on_a_silent_listener(self):
        """A listener whose backlog is full never completes connects."""
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        fill = []
        try:
            for _ in range(8):  # fill the backlog
                c = socket.socket()
                c.setblocking(False)
                c.connect_ex(s.getsockname())
                fill.append(c)
            url = "http://127.0.0.1:%d/x" % s.getsockname()[1]
            t0 = time.monotonic()
            res, _ = self.json_run(["%s t" % url], "--connect-timeout", "1",
                                   "--retries", "0", "--stall-timeout", "30",
                                   rc=1)
            self.assertLess(time.monotonic() - t0,
                            15 * adversary.slow_factor())
            self.assertFalse(res.files()[0]["ok"])
            self.assertRegex(res.files()[0]["error"],
                             r"(?i)timed out|timeout")
        finally:
            for c in fill:
                c.close()
            s.close()
        self.assert_files({})

    # ---- -c / --continue --------------------------------------------------

    def test_continue_skips_existing_without_a_request(self):
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "target"), "wb") as f:
            f.write(b"mine, not the server's")
        self.outside = self.box.snapshot_outside()
        res, r = self.one("/bytes/999", "-c", rc=0)
        self.assertTrue(r["ok"])
        self.assertTrue(r.get("skipped"), r)
        self.assertEqual(r["attempts"], 0)
        self.assertEqual(self.requests("/bytes/999"), [])
        self.assert_files({"bystander": pattern(4321),
                           "target": b"mine, not the server's"})

    def test_continue_resumes_a_kept_partial(self):
        n, have = 400000, 123457
        self.kept_partial(pattern(have))
        res, r = self.one("/bytes/%d" % n, "-c", rc=0)
        self.assertEqual(r["status"], 206)
        self.assertEqual(r["bytes"], n - have)
        log = self.requests("/bytes/%d" % n)
        self.assertEqual(log[0]["headers"].get("Range"), "bytes=%d-" % have)
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_continue_partial_longer_than_resource_starts_over(self):
        n = 5000
        self.kept_partial(b"x" * 9000)
        res, r = self.one("/bytes/%d" % n, "-c", rc=0)
        log = self.requests("/bytes/%d" % n)
        self.assertEqual(log[0]["headers"].get("Range"), "bytes=9000-")
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_continue_bad_range_starts_over_even_with_retries_0(self):
        # a 416 for the kept part is no failure of the server: the file
        # is emptied and fetched from 0 at once, whatever --retries says
        n = 1000
        self.kept_partial(pattern(n))
        res, r = self.one("/bytes/%d" % n, "-c", "--retries", "0", rc=0)
        self.assertEqual(r["status"], 200, res)
        self.assertEqual(r["attempts"], 2, res)
        log = self.requests("/bytes/%d" % n)
        self.assertEqual([e["headers"].get("Range") for e in log],
                         ["bytes=%d-" % n, None])
        # no backoff before the fresh start (the first retry waits 0.25 s
        # at least); not measurable under a sanitizer or valgrind
        if adversary.slow_factor() == 1:
            self.assertLess(log[1]["t_start"] - log[0]["t_end"], 0.2)
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    def test_continue_keeps_failed_partial_then_completes_it(self):
        n, sent = 200000, 80000
        # the first run is cut short and keeps what it got
        res, r = self.one("/short/%d?send=%d" % (n, sent), "-c",
                          "--retries", "0", rc=1)
        part = os.path.join(self.box.out, ".target.pdl-part")
        with open(part, "rb") as f:
            kept = f.read()
        self.assertEqual(kept, pattern(sent))
        self.assertEqual(self.box.temp_files(), [".target.pdl-part"])
        self.assert_files({"bystander": pattern(4321)}, allow_temp=True)
        # the second run resumes it from where it stopped
        self.server.reset_log()
        res, r = self.one("/bytes/%d" % n, "-c", rc=0)
        self.assertEqual(r["bytes"], n - sent)
        self.assertEqual(self.requests("/bytes/%d" % n)[0]["headers"]
                         .get("Range"), "bytes=%d-" % sent)
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})

    # ---- -c across runs: the kept part carries its validator ----------

    NOTE = "user.pdl.validator"

    def part_path(self):
        return os.path.join(self.box.out, self.KEPT)

    def need_xattrs(self):
        """Skips unless the output directory's file system keeps user
        extended attributes (tmpfs before Linux 6.6 does not)."""
        os.makedirs(self.box.out, exist_ok=True)
        why = harness.xattrs_unusable(self.box.out)
        if why:
            self.skipTest(harness.THIS_MACHINE + "no user xattrs in %s: %s" %
                          (self.box.out, why))

    def noted(self, path):
        try:
            return os.getxattr(path, self.NOTE)
        except OSError:
            return None

    def cut_then_continued(self, query, note):
        """A -c run is cut in version A and keeps its part, noted with A's
        validator; the next -c run asks for the rest of A only, gets all
        of version B instead, and the file is B whole, nothing noted."""
        self.need_xattrs()
        n, cut = 100000, 40000
        path = "/versioned/%s/%d?after=%d&%s" % (self.key, n, cut, query)
        self.one(path, "-c", "--retries", "0", rc=1)
        with open(self.part_path(), "rb") as f:
            self.assertEqual(f.read(), pattern(cut))
        self.assertEqual(self.noted(self.part_path()), note)
        self.server.reset_log()
        res, r = self.one(path, "-c", rc=0)
        self.assertEqual(r["status"], 200, res)
        log = self.requests("/versioned/")
        self.assertEqual(log[0]["headers"].get("Range"), "bytes=%d-" % cut)
        self.assertEqual(log[0]["headers"].get("If-Range"), note.decode())
        self.assert_files({"bystander": pattern(4321),
                           "target": bytes(255 - c for c in pattern(n))})
        self.assertIsNone(self.noted(os.path.join(self.box.out, "target")))

    def test_continue_kept_part_of_a_changed_resource_starts_over(self):
        # without the note, the second run got B's tail after A's head
        self.cut_then_continued("validators=both", b'"a"')

    def test_continue_kept_part_noted_by_date_starts_over(self):
        self.cut_then_continued("validators=date",
                                b"Mon, 01 Jan 2024 00:00:00 GMT")

    def test_continue_kept_part_of_the_same_version_resumes(self):
        self.need_xattrs()
        n, cut = 100000, 40000
        path = "/reset-once/%s/%d?after=%d&etag=v1" % (self.key, n, cut)
        self.one(path, "-c", "--retries", "0", rc=1)
        self.assertEqual(self.noted(self.part_path()), b'"v1"')
        self.server.reset_log()
        res, r = self.one(path, "-c", rc=0)
        self.assertEqual(r["status"], 206, res)
        self.assertEqual(r["bytes"], n - cut)
        log = self.requests("/reset-once/")
        self.assertEqual(log[0]["headers"].get("If-Range"), '"v1"')
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})
        self.assertIsNone(self.noted(os.path.join(self.box.out, "target")))

    def test_continue_keeps_no_part_of_a_recently_modified_body(self):
        # its date could not tell the next run's version from this one
        self.one("/versioned/%s/100000?after=40000&validators=fresh"
                 % self.key, "-c", "--retries", "0", rc=1)
        self.assertEqual(self.box.temp_files(), [])
        self.assert_files({"bystander": pattern(4321)})

    def test_note_unfit_for_a_header_is_not_sent(self):
        n, have = 50000, 20000
        self.kept_partial(pattern(have))
        self.need_xattrs()
        os.setxattr(self.part_path(), self.NOTE, b'"a"\r\nX-Evil: 1')
        res, r = self.one("/bytes/%d" % n, "-c", rc=0)
        h = self.requests("/bytes/%d" % n)[0]["headers"]
        self.assertEqual(h.get("Range"), "bytes=%d-" % have)
        self.assertNotIn("If-Range", h)
        self.assertNotIn("X-Evil", h)
        self.assert_files({"bystander": pattern(4321), "target": pattern(n)})
        self.assertIsNone(self.noted(os.path.join(self.box.out, "target")))

    def test_without_continue_a_noted_stale_part_loses_its_note(self):
        self.kept_partial(b"garbage from a killed run")
        self.need_xattrs()
        os.setxattr(self.part_path(), self.NOTE, b'"old"')
        # --overwrite writes through the named temporary file
        res, r = self.one("/bytes/3000", "--overwrite", rc=0)
        self.assertNotIn("If-Range", self.requests("/bytes/3000")[0]["headers"])
        self.assert_files({"bystander": pattern(4321),
                           "target": pattern(3000)})
        self.assertIsNone(self.noted(os.path.join(self.box.out, "target")))

    def test_without_continue_a_stale_partial_is_discarded(self):
        self.kept_partial(b"garbage from a killed run")
        res, r = self.one("/bytes/3000", rc=0)
        self.assertNotIn("Range", self.requests("/bytes/3000")[0]["headers"])
        self.assert_files({"bystander": pattern(4321),
                           "target": pattern(3000)})

    # ---- --overwrite ----------------------------------------------------

    def test_existing_file_is_numbered_not_overwritten(self):
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "target"), "wb") as f:
            f.write(b"old")
        self.outside = self.box.snapshot_outside()
        res, r = self.one("/bytes/700", rc=0)
        self.assertEqual(r["path"], os.path.join(self.box.out, "target.1"))
        self.assert_files({"bystander": pattern(4321), "target": b"old",
                           "target.1": pattern(700)})

    def test_overwrite_replaces_existing(self):
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "target"), "wb") as f:
            f.write(b"old content that is longer than the new one" * 100)
        self.outside = self.box.snapshot_outside()
        res, r = self.one("/bytes/700", "--overwrite", rc=0)
        self.assertEqual(r["path"], os.path.join(self.box.out, "target"))
        self.assert_files({"bystander": pattern(4321),
                           "target": pattern(700)})

    def test_overwrite_keeps_old_file_when_download_fails(self):
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, "target"), "wb") as f:
            f.write(b"precious")
        self.outside = self.box.snapshot_outside()
        res, r = self.one("/short/9000?send=4000", "--overwrite",
                          "--retries", "0", rc=1)
        self.assert_files({"bystander": pattern(4321), "target": b"precious"})


if __name__ == "__main__":
    harness.main()
