"""End-to-end: disk errors. The output directory is a 1 MiB tmpfs (mounted
for the test, root only; skipped where mounting is not permitted): a body
that does not fit fails with "No space left on device", its temporary file
is removed, and the other files of the run, before and after it, arrive
whole. Also: no inodes left, a read-only directory, and a file-size limit
(EFBIG; SIGXFSZ must not kill pdl), which needs no mount."""

import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

NOSPACE = r"No space left on device"


class DiskFull(adversary.Adversarial):

    mounted = False

    def mount(self, opts):
        os.makedirs(self.box.out, exist_ok=True)
        try:
            p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts,
                                "pdl-e2e", self.box.out],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.skipTest(harness.THIS_MACHINE +
                          "cannot mount a tmpfs: %s" % e)
        if p.returncode != 0:
            self.skipTest(harness.THIS_MACHINE + "cannot mount a tmpfs: %s" %
                          p.stderr.decode(errors="replace").strip())
        self.mounted = True

    def unmount(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.box.out], timeout=30)
            self.mounted = False

    def tearDown(self):
        self.unmount()
        super().tearDown()

    def test_body_that_does_not_fit(self):
        # -j 4: the transfer thread writes; -j 1: a second thread writes
        # the large body behind the one that receives it
        for jobs in ("4", "1"):
            with self.subTest(jobs=jobs):
                self.mount("size=1m,mode=0755")
                big = self.url("/bytes/3000000?delay=0.5")
                lines = ["%s small-1" % self.url("/bytes/1000"),
                         "%s small-2" % self.url("/bytes/20000"),
                         "%s big" % big,
                         "%s after" % self.url("/bytes/300000?delay=2")]
                res, _ = self.json_run(lines, "-j", jobs, "--retries", "0",
                                       rc=1,
                                       timeout=60 * adversary.slow_factor())
                r = self.by_url(res)[big]
                self.assertFalse(r["ok"])
                self.assertRegex(r["error"],
                                 r"^cannot write big: " + NOSPACE + "$")
                self.assertIsNone(r["path"])
                # the temporary file went, so the file after it had room
                self.assert_files({"small-1": pattern(1000),
                                   "small-2": pattern(20000),
                                   "after": pattern(300000)})
                self.unmount()

    def test_last_bytes_that_do_not_fit_j1(self):
        """-j 1: the body is written behind the transfer; the disk fills
        only with its last bytes, when the transfer may be over already.
        The download still fails, and the next one is not blamed."""
        self.mount("size=1m,mode=0755")
        lines = ["%s a" % self.url("/bytes/1100000"),
                 "%s b" % self.url("/bytes/1000")]
        res, _ = self.json_run(lines, "-j", "1", "--retries", "0", rc=1,
                               timeout=60 * adversary.slow_factor())
        got = [(os.path.basename(o["path"]) if o["ok"] else o["error"])
               for o in res.files()]
        self.assertEqual(got, ["cannot write a: " + NOSPACE, "b"])
        self.assert_files({"b": pattern(1000)})

    def test_body_that_does_not_fit_text(self):
        self.mount("size=1m,mode=0755")
        lines = ["%s big" % self.url("/bytes/2000000"),
                 "%s ok" % self.url("/bytes/50000?delay=1.5")]
        path = adversary.write_raw_list(self.box, lines)
        res = self.pdl("-o", self.box.out, "--retries", "2", path)
        self.assertEqual(res.rc, 1, res)
        fail = [l for l in res.stdout.splitlines() if l.startswith("FAIL")]
        self.assertEqual(len(fail), 1)
        self.assertTrue(fail[0].endswith("cannot write big: " +
                                         "No space left on device"), fail)
        self.assert_files({"ok": pattern(50000)})

    def test_bodies_in_memory_that_do_not_fit_j1(self):
        """At -j 1 bodies of up to 512 KiB wait in memory and a thread of
        their own writes them while the next one is received: the one
        that finds the disk full fails, its part is removed (or the file
        after it would find no room), and the files before and after it
        arrive whole."""
        self.mount("size=256k,mode=0755")
        lines = ["%s a" % self.url("/bytes/1000"),
                 "%s b" % self.url("/bytes/400000"),
                 "%s c" % self.url("/bytes/3000"),
                 "%s d" % self.url("/bytes/5000")]
        res, _ = self.json_run(lines, "-j", "1", "--retries", "0", rc=1,
                               timeout=60 * adversary.slow_factor())
        got = [(os.path.basename(o["path"]) if o["ok"] else o["error"])
               for o in res.files()]
        self.assertEqual(got, ["a", "cannot write b: " + NOSPACE, "c", "d"])
        self.assert_files({"a": pattern(1000), "c": pattern(3000),
                           "d": pattern(5000)})

    def test_no_inodes_left(self):
        self.mount("size=4m,nr_inodes=6,mode=0755")
        lines = ["%s f%d" % (self.url("/bytes/%d" % (100 + i)), i)
                 for i in range(10)]
        res, _ = self.json_run(lines, "-s", "--retries", "0", rc=1)
        oks = [o for o in res.files() if o["ok"]]
        fails = [o for o in res.files() if not o["ok"]]
        self.assertGreater(len(oks), 0)
        self.assertGreater(len(fails), 0)
        for o in fails:
            self.assertRegex(o["error"], NOSPACE)
        self.assert_files({os.path.basename(o["path"]): pattern(
            100 + int(os.path.basename(o["path"])[1:])) for o in oks})

    def test_read_only_directory_is_a_setup_error(self):
        self.mount("size=1m,mode=0755,ro")
        res = self.pdl("-o", self.box.out, stdin=self.url("/bytes/10") + "\n")
        self.assertEqual(res.rc, 3, res)
        self.assertRegex(res.stderr, r"^pdl: cannot write to output directory")
        self.assertEqual(res.out, b"")
        self.assert_clean()

    def test_file_size_limit_efbig_not_sigxfsz(self):
        """RLIMIT_FSIZE: the write fails with EFBIG; pdl must ignore the
        SIGXFSZ that comes with it (subprocess resets it to the default,
        which would kill the process)."""
        lines = ["%s big" % self.url("/bytes/300000"),
                 "%s small" % self.url("/bytes/30000"),
                 "%s huge" % self.url("/bytes/2000000"),
                 "%s exact" % self.url("/bytes/65536")]
        path = adversary.write_raw_list(self.box, lines)
        # -j 8: written by the transfer threads; -j 1: the bodies wait in
        # memory and a thread of their own writes them
        for jobs in ("8", "1"):
            with self.subTest(jobs=jobs):
                harness.shutil.rmtree(self.box.out, ignore_errors=True)
                soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
                resource.setrlimit(resource.RLIMIT_FSIZE, (65536, hard))
                try:
                    res = self.pdl("--json", "-o", self.box.out, "-j", jobs,
                                   "--retries", "0", path)
                finally:
                    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
                self.assertEqual(res.rc, 1, res)
                self.assert_reports(res, 4)
                # at -j 1 big waits in memory for its file, huge is
                # written behind its transfer
                for size, name in (("300000", "big"), ("2000000", "huge")):
                    o = [o for o in res.files()
                         if o["url"].endswith("/" + size)][0]
                    self.assertEqual(o["error"], "cannot write %s: File "
                                     "too large" % name)
                self.assert_files({"small": pattern(30000),
                                   "exact": pattern(65536)})


if __name__ == "__main__":
    harness.main()
