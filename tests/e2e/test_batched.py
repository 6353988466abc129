"""End-to-end: batched reads of long, fast bodies, and bodies still coming
acknowledged at once (src/rxbatch.h). pdl runs on one CPU, so that one loop
serves several transfers, and under strace, which shows the SO_RCVLOWAT
marks and the TCP_QUICKACK it sets on its sockets."""

import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pattern  # noqa: E402

# src/rxbatch.h: bodies longer than this may be batched, after this many
# bytes came; a mark set and no byte for RXB_GUARD_S unsets it
RXB_AFTER = 1024 * 1024
MIB = 1024 * 1024

MARK = re.compile(r"setsockopt\((\d+), SOL_SOCKET, SO_RCVLOWAT, \[(\d+)\]")
QUICKACK = re.compile(r"setsockopt\((\d+), SOL_TCP, TCP_QUICKACK, \[1\]")


@unittest.skipUnless(shutil.which("strace") and shutil.which("taskset"),
                     "needs strace and taskset")
class BatchedReads(harness.E2E):

    def run_traced(self, urls, *args):
        """pdl -j 2 on one CPU (one loop, two transfers) over urls; the
        result and the marks set, as (fd, value) in order. The sockets
        told to acknowledge at once, one entry a time, are in
        self.quickacks."""
        trace = os.path.join(self.box.root, "trace")
        cpu = min(os.sched_getaffinity(0))
        lst = self.box.write_list(urls)
        env = harness.without_leak_check()
        t = time.monotonic()
        r = harness.run_pdl(
            ["--json", "-j", "2", "-o", self.box.out] + list(args) + [lst],
            env=env,
            wrap=["taskset", "-c", str(cpu), "strace", "-f", "-qq",
                  "--seccomp-bpf", "-e", "trace=setsockopt", "-o", trace])
        secs = time.monotonic() - t
        with open(trace) as f:
            text = f.read()
        marks = [(int(m.group(1)), int(m.group(2)))
                 for m in MARK.finditer(text)]
        self.quickacks = [int(m.group(1)) for m in QUICKACK.finditer(text)]
        os.unlink(trace)
        self.assertEqual(r.rc, 0, r)
        return r, marks, secs

    def check_files(self, r, sizes):
        files = {os.path.basename(f["path"]): f for f in r.files()}
        self.assertEqual(sorted(files), sorted(sizes))
        for name, size in sizes.items():
            f = files[name]
            self.assertTrue(f["ok"], f)
            self.assertEqual(f["attempts"], 1, f)
            with open(os.path.join(self.box.out, name), "rb") as fh:
                self.assertEqual(fh.read(), pattern(size), name)

    def test_long_bodies_then_short_ones_on_the_same_connections(self):
        # Two long bodies, then short ones that reuse their connections:
        # a mark left on a socket would hold back the next answer until
        # the stall timeout, and the download would take a second attempt.
        sizes = {"long%d" % i: 12 * MIB for i in range(2)}
        sizes.update({"mid%d" % i: 3 * MIB for i in range(2)})
        sizes.update({"short%d" % i: 1000 + i for i in range(6)})
        urls = ["%s %s" % (self.url("/bytes/%d?k=%s" % (n, name)), name)
                for name, n in sizes.items()]
        r, marks, secs = self.run_traced(urls, "--stall-timeout", "3")
        self.check_files(r, sizes)
        self.assertLess(secs, 30 if not harness.VALGRIND else 300)
        self.assertTrue(any(v > 1 for _, v in marks),
                        "no read was batched: %r" % marks[:20])
        # Never more than a long body has left, and every socket is back
        # to the default mark once its body is in.
        self.assertTrue(all(v <= 12 * MIB - RXB_AFTER for _, v in marks))
        last = {}
        for fd, v in marks:
            if v == 1 and last.get(fd, 1) > 1 and not harness.VALGRIND:
                # Unset as the body ended, not by the guard after it:
                # the mark had come down to what was left, at most one
                # read (RECV_BUFFER_SHARED in src/transfer.c).
                self.assertLessEqual(last[fd], 256 * 1024, marks)
            last[fd] = v
        self.assertEqual(set(last.values()), {1}, marks)
        self.assert_clean()

    def test_a_body_that_slows_down_is_not_taken_for_stalled(self):
        # 3 MB at full speed, then 10 kB every 100 ms. The mark set in the
        # fast part asks for the whole rest, which takes four seconds to
        # come: only unsetting it lets the bytes through before the
        # two-second stall timeout.
        n = 3400000
        slow = self.url("/bytes/%d?fast=3000000&chunk=10000&interval_ms=100"
                        % n)
        urls = ["%s slow" % slow, "%s short" % self.url("/bytes/1000")]
        r, marks, secs = self.run_traced(urls, "--stall-timeout", "2")
        self.check_files(r, {"slow": n, "short": 1000})
        self.assertTrue(any(v > 1 for _, v in marks),
                        "no read was batched: %r" % marks[:20])
        self.assertEqual(marks[-1][1], 1, marks)
        self.assert_clean()

    def test_limit_rate_is_never_batched(self):
        # --limit-rate reads in small steps: no mark.
        urls = ["%s a" % self.url("/bytes/%d" % (2 * MIB)),
                "%s b" % self.url("/bytes/%d" % (2 * MIB))]
        r, marks, _ = self.run_traced(urls, "--limit-rate", "40M")
        self.check_files(r, {"a": 2 * MIB, "b": 2 * MIB})
        self.assertEqual(marks, [])
        # nor hurried by ACKs: the kernel's own pace is the limit's
        self.assertEqual(self.quickacks, [])

    def test_bodies_still_coming_are_acknowledged_at_once(self):
        # A body that takes several reads asks for an ACK after each read
        # but its last: a server holding its short tail for Nagle would
        # otherwise wait for the delayed ACK.
        sizes = {"long%d" % i: 2 * MIB for i in range(2)}
        urls = ["%s %s" % (self.url("/bytes/%d?k=%s" % (n, name)), name)
                for name, n in sizes.items()]
        r, _, _ = self.run_traced(urls)
        self.check_files(r, sizes)
        socks = set(self.quickacks)
        self.assertTrue(1 <= len(socks) <= 2, self.quickacks)
        # 2 MiB in reads of at most 256 KiB (RECV_BUFFER_SHARED): at
        # least 7 reads each before its last
        self.assertGreaterEqual(len(self.quickacks), 14, self.quickacks)
        self.assert_clean()

    def test_bodies_read_at_once_ask_for_no_ack(self):
        shorts = {"short%d" % i: 1000 + i for i in range(8)}
        urls = ["%s %s" % (self.url("/bytes/%d" % n), name)
                for name, n in shorts.items()]
        r, _, _ = self.run_traced(urls)
        self.check_files(r, shorts)
        # one read each: no system call on the small-file path
        self.assertEqual(self.quickacks, [])
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
