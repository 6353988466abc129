"""End-to-end: long bodies fetched in parts (src/split.h). Once the list is
drained, a free slot asks for the second half of what a long body has left,
on a connection of its own, with If-Range; the parts land in one file put
in place when all are in. The fixture server's log shows each request's
Range and If-Range."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pattern  # noqa: E402

MIB = 1024 * 1024
SIZE = 16 * MIB
# 256 KiB every 25 ms: 16 MiB take 1.6 s on one connection, long enough
# for the free slot to take part of it whatever the machine.
PACED = "chunk=262144&interval_ms=25"
# src/split.h
SPLIT_ALIGN = 64 * 1024


def inverted(n):
    """Version B of /versioned: byte i is 255 - i % 251."""
    return bytes(255 - b for b in pattern(n))


class Split(harness.E2E):

    def setUp(self):
        # Every test reads the log of its own requests only.
        super().setUp()
        self.server.reset_log()

    def requests(self, fragment):
        """(Range, If-Range) of each logged request whose path holds
        fragment, in arrival order."""
        return [(e["headers"].get("Range"), e["headers"].get("If-Range"))
                for e in self.server.log() if fragment in e["path"]]

    def download(self, long_path, *args, name="big"):
        """pdl -j 2 over a short body and long_path (as name): the short
        one leaves a slot free as soon as it is in."""
        lst = self.box.write_list([
            "%s short" % self.url("/bytes/1000"),
            "%s %s" % (self.url(long_path), name)])
        return self.pdl("--json", "-v", "-j", "2", "-o", self.box.out,
                        *args, lst, timeout=120)

    def file_of(self, r):
        """The report of the long body."""
        return [f for f in r.files() if "/bytes/1000" not in f["url"]][0]

    def read(self, name):
        with open(os.path.join(self.box.out, name), "rb") as f:
            return f.read()

    def test_free_slot_takes_the_second_half(self):
        path = "/bytes/%d?etag=v1&%s" % (SIZE, PACED)
        r = self.download(path)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        f = self.file_of(r)
        # The body's bytes count once, from every part; no attempt failed.
        self.assertEqual(f["bytes"], SIZE, f)
        self.assertEqual(f["attempts"], 1, f)
        self.assertEqual(r.summary()["bytes"], SIZE + 1000)
        self.assertIn("on another connection", r.stderr)
        reqs = self.requests("/bytes/%d" % SIZE)
        self.assertEqual(reqs[0], (None, None), reqs)
        parts = [rng for rng, _ in reqs[1:]]
        self.assertTrue(parts, reqs)
        for rng, if_range in reqs[1:]:
            # bytes=FROM-END: to the end of what was asked from, at an
            # aligned offset, guarded by the ETag.
            self.assertEqual(if_range, '"v1"', reqs)
            start, end = rng[len("bytes="):].split("-")
            self.assertEqual(int(start) % SPLIT_ALIGN, 0, reqs)
            self.assertGreater(int(start), 0, reqs)
            self.assertLess(int(start), int(end), reqs)
        self.assertIn("bytes=%s-%d" % (parts[0].split("=")[1].split("-")[0],
                                       SIZE - 1), parts, reqs)
        self.assert_clean()

    def test_no_split_keeps_one_connection(self):
        path = "/bytes/%d?etag=v1&%s" % (SIZE, PACED)
        r = self.download(path, "--no-split")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        self.assertEqual(self.requests("/bytes/%d" % SIZE), [(None, None)])
        self.assertNotIn("on another connection", r.stderr)

    def test_max_per_host_counts_the_second_connection(self):
        path = "/bytes/%d?etag=v1&%s" % (SIZE, PACED)
        r = self.download(path, "--max-per-host", "1")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        self.assertEqual(self.requests("/bytes/%d" % SIZE), [(None, None)])

    def test_not_split_without_ranges_or_a_strong_etag(self):
        # No ETag, a weak one, no Accept-Ranges: one request each. A
        # Last-Modified alone could name two versions within a second.
        names = {"noetag": "", "weak": "etag=W/%22w%22&",
                 "norange": "etag=v1&norange=1&"}
        lst = self.box.write_list(
            ["%s short" % self.url("/bytes/1000")] +
            ["%s %s" % (self.url("/bytes/%d?%s%s&k=%s" % (
                SIZE, q, PACED, n)), n) for n, q in names.items()])
        r = self.pdl("--json", "-v", "-j", "4", "-o", self.box.out, lst,
                     timeout=120)
        self.assertEqual(r.rc, 0, r)
        for n in names:
            self.assertEqual(self.read(n), pattern(SIZE), n)
            self.assertEqual(self.requests("k=" + n), [(None, None)], n)

    def test_a_part_cut_short_resumes_where_it_stopped(self):
        # Every range is answered with its first 3 MiB only (a 206 that
        # says so): the part taken resumes from there, again and again.
        span = 3 * MIB
        path = "/short-range/cut3/%d?after=%d&span=%d&etag=v1&%s" % (
            SIZE, SIZE - 1, span, PACED)
        r = self.download(path)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        f = self.file_of(r)
        self.assertEqual(f["bytes"], SIZE, f)
        ranges = [rng for rng, _ in self.requests("/short-range/cut3/")[1:]]
        self.assertGreaterEqual(len(ranges), 2, ranges)
        first = int(ranges[0][len("bytes="):].split("-")[0])
        # The first part's next requests go on from where each answer
        # stopped; the attempts beyond the first are counted.
        resumed = ["bytes=%d-%d" % (first + k * span, SIZE - 1)
                   for k in range(1, (SIZE - first + span - 1) // span)]
        for rng in resumed:
            self.assertIn(rng, ranges)
        self.assertGreaterEqual(f["attempts"], 1 + len(resumed), f)

    def test_failed_part_fails_the_download_and_c_keeps_its_start(self):
        # The part taken gets 100 bytes and no retry: the download fails
        # with its reason, and -c keeps only the start of the body that
        # is all there, which the next run completes.
        path = "/short-range/fail/%d?after=%d&span=100&etag=v1&%s" % (
            SIZE, SIZE - 1, PACED)
        r = self.download(path, "-c", "--retries", "0")
        self.assertEqual(r.rc, 1, r)
        f = self.file_of(r)
        self.assertFalse(f["ok"], f)
        self.assertIn("cut short", f["error"], f)
        self.assertFalse(os.path.exists(os.path.join(self.box.out, "big")))
        self.assertEqual(self.leftover_temps(),
                         [".big" + harness.TMP_SUFFIX])
        kept = os.path.join(self.box.out, ".big" + harness.TMP_SUFFIX)
        with open(kept, "rb") as fh:
            start = fh.read()
        self.assertGreater(len(start), 0)
        self.assertLess(len(start), SIZE)
        self.assertEqual(start, pattern(len(start)))
        # the kept part carries its ETag for the next run, where the file
        # system keeps user extended attributes
        note = None if harness.xattrs_unusable(self.box.out) else '"v1"'
        if note:
            self.assertEqual(os.getxattr(kept, "user.pdl.validator"),
                             note.encode())

        self.server.reset_log()
        lst = self.box.write_list(
            ["%s big" % self.url("/bytes/%d?etag=v1&k=again" % SIZE)],
            name="again.txt")
        r = self.pdl("--json", "-c", "--no-split", "-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        self.assertEqual(self.requests("k=again"),
                         [("bytes=%d-" % len(start), note)])
        self.assert_clean()

    def parts_of(self, fragment, leading):
        """The requests for the long body: the leading ones as given (the
        attempts of the owner), then parts of the rest, each guarded by
        its ETag. Returns the parts' ranges."""
        reqs = self.requests(fragment)
        n = len(leading)
        self.assertEqual(reqs[:n], leading, reqs)
        self.assertGreater(len(reqs), n, reqs)
        for rng, if_range in reqs[n:]:
            self.assertEqual(if_range, '"v1"', reqs)
            start, end = rng[len("bytes="):].split("-")
            self.assertEqual(int(start) % SPLIT_ALIGN, 0, reqs)
            self.assertLess(int(start), int(end), reqs)
        return [rng for rng, _ in reqs[n:]]

    def test_continue_splits_the_rest_of_a_kept_part(self):
        # A part kept by an earlier -c run is continued by a 206, whose
        # rest is split as a whole body's would be.
        have = 2 * MIB
        os.makedirs(self.box.out)
        kept = os.path.join(self.box.out, ".big" + harness.TMP_SUFFIX)
        with open(kept, "wb") as fh:
            fh.write(pattern(have))
        try:
            os.setxattr(kept, "user.pdl.validator", b'"v1"')
            note = '"v1"'
        except OSError:
            note = None
        self.outside = self.box.snapshot_outside()
        r = self.download("/bytes/%d?etag=v1&%s" % (SIZE, PACED), "-c")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        f = self.file_of(r)
        self.assertEqual(f["status"], 206, f)
        self.assertEqual(f["bytes"], SIZE - have, f)
        self.assertIn("on another connection", r.stderr)
        for rng in self.parts_of("/bytes/%d" % SIZE,
                                 [("bytes=%d-" % have, note)]):
            self.assertGreater(int(rng[6:].split("-")[0]), have)
        self.assert_clean()

    def test_body_resumed_after_a_cut_is_split(self):
        # Cut at 256 KiB before any slot is free; the retry's 206 is
        # split once the short body (0.6 s late) frees its slot.
        cut = 256 * 1024
        lst = self.box.write_list([
            "%s short" % self.url("/bytes/1000?delay=0.6"),
            "%s big" % self.url("/reset-once/rs%d/%d?after=%d&etag=v1&%s"
                                % (os.getpid(), SIZE, cut, PACED))])
        r = self.pdl("--json", "-v", "-j", "2", "-o", self.box.out, lst,
                     timeout=120)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), pattern(SIZE))
        f = self.file_of(r)
        self.assertEqual(f["bytes"], SIZE, f)
        self.assertIn("on another connection", r.stderr)
        self.parts_of("/reset-once/",
                      [(None, None), ("bytes=%d-" % cut, '"v1"')])
        self.assert_clean()

    def test_version_change_refuses_the_part_and_the_owner_starts_over(self):
        # The first request gets version A (ETag "a"), cut at 12 MiB; the
        # part asked for with If-Range "a" gets all of version B (200) and
        # is dropped; the owner, alone again, starts over with B (which
        # may then be split in turn).
        path = "/versioned/v/%d?after=%d&validators=etag&%s" % (
            SIZE, 12 * MIB, PACED)
        r = self.download(path)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.read("big"), inverted(SIZE))
        f = self.file_of(r)
        self.assertTrue(f["ok"], f)
        reqs = self.requests("/versioned/v/")
        self.assertEqual(reqs[0], (None, None), reqs)
        self.assertIn('"a"', [i for _, i in reqs[1:]], reqs)
        self.assertIn(("bytes=%d-" % (12 * MIB), '"a"'), reqs)
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
