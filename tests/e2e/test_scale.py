"""End-to-end: scale. 100 000 URLs on stdin at -j 16 against /bytes/16,
each line padded to about 330 bytes (a 33 MB list): pdl must stream it, so
its descriptors stay bounded by the jobs and its memory does not grow with
the list; every file arrives whole.

PDL_SCALE_N sets the number of URLs. It defaults to 100 000 in a plain
build and under ASan (about 15 s plain, 35 s ASan), and to fewer under
TSan (20 000) and valgrind (10 000), where each URL costs many times more.
The memory bound is only checked where RSS means something (plain, and ASan
with a small quarantine), and only up to the summary line: after it pdl
only exits.
"""

import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

JOBS = 16
FD_BOUND = JOBS + 64
PAD = "p" * 300
# RSS growth after the first 2 000 URLs; the list alone is 33 MB
GROWTH_BOUND_MB = 24
SUMMARY = re.compile(rb"^\d+ URLs: ")


def default_n():
    if os.environ.get("PDL_SCALE_N"):
        return int(os.environ["PDL_SCALE_N"])
    if harness.VALGRIND:
        return 10000
    if adversary.is_tsan():
        return 20000
    return 100000


def proc_status(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def memory_checked():
    """Where RSS follows the heap: not under valgrind or TSan."""
    return not harness.VALGRIND and not adversary.is_tsan()


class Scale(adversary.Adversarial):

    def run_scale(self, n, *opts):
        """Feeds n padded URLs to pdl on stdin while sampling its open
        descriptors and RSS; returns the result and the samples."""
        url = self.url("/bytes/16?pad=" + PAD)
        env = None
        if adversary.is_sanitized() and not adversary.is_tsan():
            # a bounded quarantine, and no stack kept per allocation, so
            # RSS follows the live heap: ASan's depot of the stacks of
            # mallocs and frees grew by 3 MB over 100 000 URLs when the
            # fast unwinder met frames it could not follow (65 000 ids
            # against 6 000 for the same mallocs, print_stats=1)
            env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
                   ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
                   ":malloc_context_size=0"}
        proc = adversary.start_pdl(
            ["-j", str(JOBS), "-q", "--progress", "none", "-o",
             self.box.out] + list(opts), stdin=subprocess.PIPE, env=env)
        written = [0]

        def feed():
            line = (url + "\n").encode()
            try:
                for i in range(0, n, 1000):
                    proc.stdin.write(line * min(1000, n - i))
                    written[0] = i + min(1000, n - i)
                proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        # the output is drained while sampling; memory counts until the
        # summary: what follows is exit, which under ASan is LeakSanitizer's
        # scan, and it touches the runtime's own 4 MB stack depot (seen as
        # 5 to 13 MB of RSS in the last 0.2 s of runs on a loaded machine)
        out, errs = [], []
        summary_seen = threading.Event()

        def drain():
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if SUMMARY.match(line):
                    summary_seen.set()
            out.append(b"".join(lines))
        reader = threading.Thread(target=drain, daemon=True)
        ereader = threading.Thread(
            target=lambda: errs.append(proc.stderr.read()), daemon=True)
        reader.start()
        ereader.start()

        max_fd, base_rss, max_rss = 0, None, 0
        deadline = time.monotonic() + 600 * adversary.slow_factor()
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                self.fail("pdl did not finish %d URLs" % n)
            c = fd_count(proc.pid)
            rss = proc_status(proc.pid, "VmRSS")
            if c:
                max_fd = max(max_fd, c)
            if rss and not summary_seen.is_set():
                if base_rss is None and written[0] >= min(n, 2000):
                    base_rss = rss
                max_rss = max(max_rss, rss)
            time.sleep(0.1)
        reader.join(30)
        ereader.join(30)
        writer.join(30)
        proc.stdout.close()
        proc.stderr.close()
        res = harness.Result(proc.returncode, out[0] if out else b"",
                             errs[0] if errs else b"")
        harness.check_sanitizers(res.err)
        self.assertTrue(summary_seen.is_set(), "no summary line: %r" % res)
        sys.stderr.write("scale %s: n=%d max_fd=%d rss base=%s max=%s kB\n"
                         % (" ".join(opts), n, max_fd, base_rss, max_rss))
        growth_mb = (max_rss - base_rss) / 1024 if base_rss else None
        return res, max_fd, growth_mb

    def check_files(self, n):
        """Every file there, whole, under the numbered names."""
        names = set(os.listdir(self.box.out))
        want = {"16"} | {"16.%d" % i for i in range(1, n)}
        self.assertEqual(len(names), n)
        self.assertEqual(names, want)
        body = pattern(16)
        for name in names:
            with open(os.path.join(self.box.out, name), "rb") as f:
                self.assertEqual(f.read(), body, name)
        self.assert_clean()

    def test_100k_urls_on_stdin(self):
        n = default_n()
        res, max_fd, growth_mb = self.run_scale(n)
        self.assertEqual(res.rc, 0, res)
        self.assertRegex(res.stdout.splitlines()[-1],
                         r"^%d URLs: %d ok, 0 failed;" % (n, n))
        # descriptors: bounded by the jobs, never by the list
        self.assertGreater(max_fd, 0)
        self.assertLess(max_fd, FD_BOUND, "too many descriptors open")
        # memory: flat once running, far below what holding the list takes
        if growth_mb is not None and memory_checked() and n >= 20000:
            self.assertLess(growth_mb, GROWTH_BOUND_MB,
                            "RSS grew %.1f MB over the run" % growth_mb)
        self.check_files(n)

    # With -c every name stays taken for the whole run (so that a later URL
    # of the same name is numbered as in the run that made the files): by
    # a hash of 8 bytes once its download is over, 10 to 20 bytes a URL
    # with the table's slack, where the exact names took ~150.
    def test_continue_run_memory_does_not_grow_with_the_list(self):
        n = max(default_n(), 50000) if memory_checked() else default_n()
        res, max_fd, growth_mb = self.run_scale(n, "-c")
        self.assertEqual(res.rc, 0, res)
        self.assertLess(max_fd, FD_BOUND, "too many descriptors open")
        self.check_files(n)
        if not memory_checked():
            return
        self.assertIsNotNone(growth_mb, "RSS never sampled")
        # a tenth of what the list takes: exact names took half of it,
        # the hashes (about 1 MB for 100 000) leave room for the noise of
        # a sanitized build (1.3 MB in the run without -c)
        self.assertLess(growth_mb, n * len(PAD) / 10 / 1e6,
                        "RSS grew %.1f MB over the run" % growth_mb)


if __name__ == "__main__":
    harness.main()
