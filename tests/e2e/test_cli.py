"""End-to-end: the command line. Usage errors (exit 2), --help against the
man page, --version, setup errors (exit 3) that download nothing, and the
exit status of ordinary runs."""

import ctypes
import ctypes.util
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "man", "pdl.1")
TRY = "Try 'pdl --help' for more information."

# (arguments, a fragment the one-line reason must hold)
USAGE_ERRORS = (
    (["--no-such-option"], "--no-such-option"),
    (["-Z"], "-Z"),
    (["--json=1"], "--json"),
    (["-j", "0"], "'0'"),
    (["-j", "abc"], "'abc'"),
    (["-j", "5000"], "'5000'"),
    (["-j", "-1"], "-j"),
    (["-j", "8x"], "'8x'"),
    (["--jobs=1025"], "1025"),
    (["-j"], "-j"),
    (["--shard", "0/3"], "'0/3'"),
    (["--shard", "4/3"], "'4/3'"),
    (["--shard", "1/0"], "--shard"),
    (["--shard", "2"], "--shard"),
    (["--progress", "sometimes"], "'sometimes'"),
    (["--max-filesize", "12Q"], "'12Q'"),
    (["--max-filesize", "-5"], "--max-filesize"),
    (["--limit-rate", "fast"], "--limit-rate"),
    (["--retries", "many"], "--retries"),
    (["--proto", "gopher"], "--proto"),
    (["-H", "no colon here"], "-H"),
    (["-o", ""], "-o"),
    (["-s", "--compare"], "--compare"),
    (["-c", "--overwrite"], "--overwrite"),
    (["-n", "--compare"], "--compare"),
)

LONG_OPTIONS = (
    "jobs", "sequential", "compare", "output-dir", "continue", "overwrite",
    "content-disposition", "dry-run", "proto", "max-redirs", "retries",
    "connect-timeout", "stall-timeout", "timeout", "max-filesize",
    "insecure", "header", "user-agent", "max-per-host", "limit-rate",
    "shard", "json", "progress", "quiet", "verbose", "help", "version")


def libcurl_version():
    name = ctypes.util.find_library("curl") or "libcurl.so.4"
    lib = ctypes.CDLL(name)
    lib.curl_version.restype = ctypes.c_char_p
    m = re.match(r"libcurl/(\S+)", lib.curl_version().decode())
    return m.group(1)


class Cli(harness.E2E):

    def good_list(self):
        return self.box.write_list([self.url("/bytes/77")])

    def requests(self):
        return self.server.stats()["requests"]

    def test_usage_errors(self):
        lst = self.good_list()
        before = self.requests()
        for args, fragment in USAGE_ERRORS:
            with self.subTest(args=args):
                # the list goes first: "-j" with no value must not take
                # it as its value
                r = self.pdl("-o", self.box.out, lst, *args)
                self.assertEqual(r.rc, 2, r)
                self.assertEqual(r.out, b"")
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 2, r)
                self.assertTrue(lines[0].startswith("pdl: "), lines)
                self.assertIn(fragment, lines[0])
                self.assertTrue(lines[0].isprintable(), lines[0])
                self.assertEqual(lines[1], TRY)
        self.assertEqual(self.requests(), before)
        self.assertFalse(os.path.exists(self.box.out))
        self.assert_clean()

    def test_usage_error_reads_no_stdin(self):
        r = self.pdl("-j", "0", stdin=self.url("/bytes/78") + "\n")
        self.assertEqual(r.rc, 2, r)
        self.assertEqual(r.out, b"")
        self.assert_clean()

    def test_help(self):
        r = self.pdl("--help")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.err, b"")
        self.assertTrue(r.stdout.startswith("Usage: pdl "), r)
        for opt in LONG_OPTIONS:
            with self.subTest(opt=opt):
                self.assertRegex(r.stdout, r"(?m)^\s+(-\w, )?--%s\b"
                                 % re.escape(opt))
        self.assertEqual(self.pdl("-h").out, r.out)
        # --help wins over other options and reads no list
        self.assertEqual(self.pdl("-j", "4", "--help", "missing.txt").rc, 0)
        self.assert_clean()

    def test_help_lists_every_option_of_the_man_page(self):
        try:
            with open(MAN, encoding="utf-8", errors="replace") as f:
                man = f.read()
        except OSError:
            self.skipTest("man/pdl.1 missing")
        if len(man.splitlines()) < 50:
            self.skipTest("man/pdl.1 has fewer than 50 lines (not written "
                          "yet)")
        # roff writes every hyphen as \-; the plain text then reads as
        # options do on the command line
        plain = man.replace("\\-", "-")
        in_man = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])",
                                plain))
        self.assertTrue(in_man, "no long options found in the man page")
        help_text = self.pdl("--help").stdout
        in_help = set(re.findall(r"--([a-z][a-z0-9-]*)", help_text))
        self.assertEqual(sorted(in_man - in_help), [],
                         "options in pdl.1 but not in --help")
        self.assertEqual(sorted(in_help - in_man), [],
                         "options in --help but not in pdl.1")
        self.assert_clean()

    def test_version(self):
        for flag in ("--version", "-V"):
            with self.subTest(flag=flag):
                r = self.pdl(flag)
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.err, b"")
                lines = r.stdout.splitlines()
                self.assertEqual(lines[0], "pdl 1.0.0")
                # where libcurl and OpenSSL come from: the shared library
                # the dynamic linker picks, or pdl itself (linked
                # statically, scripts/libcurl.sh)
                ldd = subprocess.run(["ldd", harness.PDL], text=True,
                                     capture_output=True).stdout

                def where(lib):
                    m = re.search(r"%s\.so\S* => (\S+)" % lib, ldd)
                    return ", from " + m.group(1) if m else ", built into pdl"

                self.assertEqual(lines[1], "libcurl %s%s"
                                 % (libcurl_version(), where("libcurl")))
                self.assertRegex(lines[2], r"^TLS: \S")
                if lines[2].startswith("TLS: OpenSSL/"):
                    self.assertTrue(lines[2].endswith(where("libssl")),
                                    lines)
                self.assertEqual(len(lines), 3, lines)
        self.assert_clean()

    # -- setup errors: exit 3, nothing downloaded ------------------------

    def assert_setup_error(self, r, fragment):
        self.assertEqual(r.rc, 3, r)
        self.assertIn(fragment, r.stderr)
        self.assertTrue(r.stderr.startswith("pdl: "), r)
        self.assertNotIn("Try 'pdl --help'", r.stderr)
        self.assertEqual(r.files() if r.out else [], [])

    def test_missing_list(self):
        good = self.good_list()
        before = self.requests()
        missing = self.box.path("missing.txt")
        r = self.pdl("-o", self.box.out, good, missing)
        self.assert_setup_error(r, "pdl: cannot read list '%s': " % missing)
        self.assertIn("No such file", r.stderr)
        self.assertEqual(self.requests(), before)
        self.assertFalse(os.path.exists(self.box.out))
        self.assert_clean()

    def test_directory_as_list(self):
        good = self.good_list()
        before = self.requests()
        r = self.pdl("-o", self.box.out, good, self.box.canary)
        self.assert_setup_error(r, "cannot read list '%s'" % self.box.canary)
        self.assertIn("directory", r.stderr)
        self.assertEqual(self.requests(), before)
        self.assert_clean()

    def test_unusable_output_dir(self):
        good = self.good_list()
        plain = self.box.path("plain.txt")
        with open(plain, "w") as f:
            f.write("a regular file\n")
        self.outside = self.box.snapshot_outside()
        before = self.requests()
        for out in ("/dev/null/x", plain, os.path.join(plain, "sub"),
                    os.path.join(plain, "sub", "deeper")):
            with self.subTest(out=out):
                r = self.pdl("-o", out, good)
                self.assert_setup_error(r, "'%s'" % out)
                r = self.pdl("-o", out, stdin=self.url("/bytes/79") + "\n")
                self.assert_setup_error(r, "'%s'" % out)
        self.assertEqual(self.requests(), before)
        with open(plain) as f:
            self.assertEqual(f.read(), "a regular file\n")
        self.assert_clean()

    # -- ordinary exit statuses -------------------------------------------

    def test_exit_0_when_all_ok(self):
        r = self.pdl("-o", self.box.out, self.good_list())
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.err, b"")
        self.assert_clean()

    def test_exit_1_on_a_bad_line_only(self):
        r = self.pdl("-o", self.box.out,
                     stdin=self.url("/bytes/80") + "\nnot-a-url\n")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(os.listdir(self.box.out), ["80"])
        self.assert_clean()

    def test_options_after_the_list(self):
        lst = self.good_list()
        r = self.pdl(lst, "-o", self.box.out, "--json")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.summary()["ok"], 1)
        self.assertEqual(os.listdir(self.box.out), ["77"])
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
