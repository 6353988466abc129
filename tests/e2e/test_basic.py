"""End-to-end: the basic download path. Bodies byte-exact, every way of
giving a list, the list syntax, `URL NAME` lines, redirects, HTTP errors and
the output directory."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import pattern  # noqa: E402

SIZES = (0, 1, 100 * 1024, 5 * 1024 * 1024)
STATIC = ("hello.txt", "photo.jpg", "sub/nested.txt")


def static_body(rel):
    with open(os.path.join(harness.FIXTURES, "files", rel), "rb") as f:
        return f.read()


class Basic(harness.E2E):

    def bytes_urls(self, sizes=SIZES):
        return [self.url("/bytes/%d" % n) for n in sizes]

    def expect_bytes(self, sizes=SIZES, prefix=""):
        return {prefix + str(n): pattern(n) for n in sizes}

    # -- bodies -----------------------------------------------------------

    def test_bytes_byte_exact_from_file_argument(self):
        lst = self.box.write_list(self.bytes_urls())
        r = self.pdl("-o", self.box.out, "--json", lst)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), self.expect_bytes())
        files = r.files()
        self.assertEqual(len(files), len(SIZES))
        for f in files:
            n = int(f["url"].rsplit("/", 1)[1])
            self.assertTrue(f["ok"], f)
            self.assertEqual(f["status"], 200)
            self.assertEqual(f["bytes"], n)
            self.assertEqual(f["path"], os.path.join(self.box.out, str(n)))
        s = r.summary()
        self.assertEqual((s["urls"], s["ok"], s["failed"]), (4, 4, 0))
        self.assertEqual(s["bytes"], sum(SIZES))
        self.assert_clean()

    def test_static_files(self):
        lst = self.box.write_list(
            [self.url("/files/" + rel) for rel in STATIC])
        r = self.pdl("-o", self.box.out, lst)
        self.assertEqual(r.rc, 0, r)
        want = {os.path.basename(rel): static_body(rel) for rel in STATIC}
        self.assertTrue(all(want.values()), "fixture files are empty")
        self.assertEqual(self.box.out_files(), want)
        self.assert_clean()

    # -- where the list comes from ----------------------------------------

    def test_stdin_without_file_argument(self):
        r = self.pdl("-o", self.box.out,
                     stdin="".join(u + "\n" for u in self.bytes_urls()))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), self.expect_bytes())
        self.assert_clean()

    def test_stdin_as_dash(self):
        r = self.pdl("-o", self.box.out, "-",
                     stdin="".join(u + "\n" for u in self.bytes_urls()))
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), self.expect_bytes())
        self.assert_clean()

    def test_several_lists_in_one_run(self):
        a = self.box.write_list([self.url("/bytes/11"),
                                 self.url("/bytes/12")], "a.txt")
        b = self.box.write_list([self.url("/bytes/13"), "not a url"],
                                "b.txt")
        stdin = self.url("/bytes/14") + "\n" + "ftp//bad\n"
        r = self.pdl("-o", self.box.out, "--json", a, "-", b, stdin=stdin)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(self.box.out_files(),
                         self.expect_bytes((11, 12, 13, 14)))
        errors = [f["error"] for f in r.files() if not f["ok"]]
        self.assertEqual(len(errors), 2, r)
        # each bad line is named by its own list and line number
        self.assertEqual(
            sorted(e.split(": ", 1)[0] for e in errors),
            sorted(["<stdin>:2", b + ":2"]), errors)
        s = r.summary()
        self.assertEqual((s["urls"], s["ok"], s["failed"]), (6, 4, 2))
        self.assert_clean()

    def test_one_list_twice_reads_it_twice(self):
        a = self.box.write_list([self.url("/bytes/21")], "a.txt")
        r = self.pdl("-o", self.box.out, "--json", a, a)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(),
                         {"21": pattern(21), "21.1": pattern(21)})
        self.assert_clean()

    # -- list syntax ------------------------------------------------------

    def test_list_syntax(self):
        u = [self.url("/bytes/%d" % n) for n in (31, 32, 33, 34, 35, 36)]
        text = ("# a comment\r\n"
                "\r\n"
                "   \t  \n"
                "%s\r\n"                   # CRLF
                "   %s   \n"               # surrounding blanks
                "\t%s\t\r\n"               # tabs and CRLF
                "  # indented comment %s\n"
                "\n\n"
                "%s\n"
                "#%s\n"
                "%s \t \r\n"
                "%s"                       # no final newline
                ) % (u[0], u[1], u[2], u[5], u[3], u[5], u[4], u[5])
        p = self.box.path("list.txt")
        with open(p, "wb") as f:
            f.write(text.encode())
        r = self.pdl("-o", self.box.out, "--json", p)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(),
                         self.expect_bytes((31, 32, 33, 34, 35, 36)))
        self.assertEqual(r.summary()["urls"], 6)
        self.assert_clean()

    def test_only_comments_and_blanks(self):
        r = self.pdl("-o", self.box.out, "--json",
                     stdin="# nothing\n\n   \n\t# more\r\n")
        self.assertEqual(r.rc, 0, r)
        s = r.summary()
        self.assertEqual((s["urls"], s["ok"], s["failed"], s["bytes"]),
                         (0, 0, 0, 0))
        self.assertEqual(r.files(), [])
        self.assert_clean()

    def test_url_name_lines(self):
        lines = [
            self.url("/bytes/41") + " plain.bin",
            self.url("/bytes/42") + "   deep/er/sub/file.bin",
            self.url("/bytes/43") + "\tname with  inner spaces.txt  ",
            self.url("/bytes/44") + "  dir with space/x y.dat\r",
            self.url("/files/hello.txt") + " deep/er/hello copy.txt",
        ]
        r = self.pdl("-o", self.box.out, "--json", "-",
                     stdin="\n".join(lines) + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), {
            "plain.bin": pattern(41),
            "deep/er/sub/file.bin": pattern(42),
            "name with  inner spaces.txt": pattern(43),
            "dir with space/x y.dat": pattern(44),
            "deep/er/hello copy.txt": static_body("hello.txt"),
        })
        paths = sorted(f["path"] for f in r.files())
        self.assertIn(os.path.join(self.box.out,
                                   "name with  inner spaces.txt"), paths)
        self.assert_clean()

    # -- redirects and errors ---------------------------------------------

    def test_redirect_named_after_url_as_given(self):
        r = self.pdl("-o", self.box.out, "--json",
                     stdin=self.url("/redirect/3") + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), {"3": b"redirect done\n"})
        f = r.files()[0]
        self.assertEqual(f["status"], 200)
        self.assertEqual(f["url"], self.url("/redirect/3"))
        self.assertEqual(f["path"], os.path.join(self.box.out, "3"))
        self.assert_clean()

    def test_http_errors_fail_and_keep_nothing(self):
        urls = [self.url("/bytes/51"), self.url("/status/404"),
                self.url("/bytes/52"), self.url("/status/500"),
                self.url("/bytes/53")]
        lst = self.box.write_list(urls)
        r = self.pdl("-o", self.box.out, "--retries", "0", "-j", "4", lst)
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(self.box.out_files(),
                         self.expect_bytes((51, 52, 53)))
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 6, r)
        fails = sorted(l for l in lines if l.startswith("FAIL"))
        self.assertEqual(len(fails), 2, r)
        self.assertRegex(fails[0], r"^FAIL 404 .*  %s: HTTP 404$" %
                         re.escape(self.url("/status/404")))
        self.assertRegex(fails[1], r"^FAIL 500 .*  %s: HTTP 500$" %
                         re.escape(self.url("/status/500")))
        self.assertTrue(lines[-1].startswith("5 URLs: 3 ok, 2 failed;"),
                        lines[-1])
        self.assert_clean()

    def test_http_errors_json(self):
        lst = self.box.write_list([self.url("/status/404"),
                                   self.url("/status/500")])
        r = self.pdl("-o", self.box.out, "--retries", "0", "--json", lst)
        self.assertEqual(r.rc, 1, r)
        by_url = {f["url"]: f for f in r.files()}
        for code in (404, 500):
            f = by_url[self.url("/status/%d" % code)]
            self.assertFalse(f["ok"])
            self.assertIsNone(f["path"])
            self.assertEqual(f["status"], code)
            self.assertEqual(f["error"], "HTTP %d" % code)
            self.assertEqual(f["attempts"], 1)
        self.assertEqual(self.box.out_files(), {})
        self.assert_clean()

    # -- the output directory ---------------------------------------------

    def test_output_dir_created_with_parents(self):
        deep = os.path.join(self.box.out, "a", "b", "c")
        r = self.pdl("-o", deep, stdin=self.url("/bytes/61") + "\n")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self.box.out_files(), {"a/b/c/61": pattern(61)})
        self.assert_clean()

    def test_output_dir_shown_as_given(self):
        for given in ("out", "out/", "./out", "out//"):
            with self.subTest(given=given):
                r = self.pdl("-o", given, "--overwrite",
                             stdin=self.url("/bytes/62") + "\n",
                             cwd=self.box.root)
                self.assertEqual(r.rc, 0, r)
                line = r.stdout.splitlines()[0]
                want = given if given.endswith("/") else given + "/"
                self.assertRegex(line, r"^ok   200 +62 B +\d+\.\d\ds  %s62$"
                                 % re.escape(want))
                self.assertEqual(self.box.out_files(), {"62": pattern(62)})
        self.assert_clean()

    def test_output_dir_absolute_in_json(self):
        for given in (self.box.out, self.box.out + "/"):
            with self.subTest(given=given):
                r = self.pdl("-o", given, "--json", "--overwrite",
                             stdin=self.url("/bytes/63") + "\n")
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.files()[0]["path"],
                                 os.path.join(self.box.out, "63"))
        self.assert_clean()

    def test_default_output_dir_is_cwd(self):
        os.mkdir(self.box.out)
        r = self.pdl("--json", stdin=self.url("/bytes/64") + "\n",
                     cwd=self.box.out)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.files()[0]["path"], "64")
        self.assertEqual(self.box.out_files(), {"64": pattern(64)})
        self.assert_clean()


if __name__ == "__main__":
    harness.main()
