"""End-to-end: FTP. Plain downloads with --proto ftp, refusal without it, a
missing file, -c on a kept partial file (resumed with REST), kept parts
that cannot be continued, and a data connection cut mid-way; the same
against a server that answers no SIZE.

The server is pyftpdlib (Debian's python3-pyftpdlib, which scripts/test.sh
installs): anonymous and read-only over a temporary directory, on 127.0.0.1
with a port of its choosing and passive ports on loopback, run from a
thread of this process and stopped at the end of the class."""

import logging
import os
import sys
import tempfile
import threading
import shutil

# Imported at module level: without python3-pyftpdlib this file is an
# error, not a skip.
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.servers import FTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402

# pyftpdlib logs to stderr unless its logger has a handler
_log = logging.getLogger("pyftpdlib")
_log.addHandler(logging.NullHandler())
_log.setLevel(logging.CRITICAL)
_log.propagate = False

SMALL = 4321
# over the 512 KiB a body may be held in memory: written to its file
BIG = 3000000


class Ftp:
    """pyftpdlib on 127.0.0.1:0 over root, served from a daemon thread.

    It logs every command (name, argument) in `commands`. `cuts` maps a
    file name to K: the first RETR of that file sends only K bytes and
    then closes the data connection (426 on the control connection), as a
    connection cut mid-way would; when `changes` has bytes for that file,
    they replace it right after the cut. With `no_rest` set it refuses
    REST (502), with `no_size` SIZE (502)."""

    def __init__(self, root):
        outer = self
        self.lock = threading.Lock()
        self.commands = []
        self.cuts = {}
        self.changes = {}
        self.no_rest = False
        self.no_size = False
        self.root = root
        auth = DummyAuthorizer()
        auth.add_anonymous(root)  # perm "elr": read-only

        class CutDTP(DTPHandler):
            def send(self, data):
                name = os.path.basename(getattr(self.file_obj, "name", "")
                                        or "")
                with outer.lock:
                    k = outer.cuts.get(name)
                if k is None:
                    return super().send(data)
                room = k - self.tot_bytes_sent
                if room <= 0:
                    with outer.lock:
                        outer.cuts.pop(name, None)
                        new = outer.changes.pop(name, None)
                    self.handle_close()
                    if new is not None:
                        with open(os.path.join(outer.root, name), "wb") as f:
                            f.write(new)
                    return 0
                return super().send(data[:room])

        class Handler(FTPHandler):
            authorizer = auth
            dtp_handler = CutDTP
            # every byte goes through CutDTP.send
            use_sendfile = False
            timeout = 30

            def pre_process_command(self, line, cmd, arg):
                with outer.lock:
                    outer.commands.append((cmd, arg))
                return super().pre_process_command(line, cmd, arg)

            def ftp_SIZE(self, path):
                if outer.no_size:
                    self.respond("502 SIZE not implemented here.")
                    return None
                return super().ftp_SIZE(path)

            def ftp_REST(self, line):
                if outer.no_rest:
                    self.respond("502 REST not implemented here.")
                    return None
                return super().ftp_REST(line)

        self.server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.socket.getsockname()[1]
        self.base = "ftp://127.0.0.1:%d" % self.port
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while not self.stopping.is_set():
                self.server.serve_forever(timeout=0.05, blocking=False,
                                          handle_exit=False)
        finally:
            self.server.close_all()

    def url(self, name):
        return "%s/%s" % (self.base, name)

    def sent(self, cmd):
        """The arguments of every `cmd` command received so far."""
        with self.lock:
            return [a for c, a in self.commands if c == cmd]

    def reset(self):
        with self.lock:
            self.commands = []
            self.cuts = {}
            self.changes = {}
            self.no_rest = False
            self.no_size = False

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        if self.thread.is_alive():
            raise AssertionError("FTP server thread did not stop")


class FtpTest(adversary.Adversarial):

    @classmethod
    def setUpClass(cls):
        # no fixture server: every URL here is the FTP server's
        cls.server = None
        cls.root = tempfile.mkdtemp(prefix="pdl-ftp-")
        cls.files = {"a.bin": pattern(SMALL), "empty": b"",
                     "b.bin": pattern(100000, 7), "big.bin": pattern(BIG),
                     "c.bin": pattern(700000, 3)}
        for name, data in cls.files.items():
            with open(os.path.join(cls.root, name), "wb") as f:
                f.write(data)
        cls.ftp = Ftp(cls.root)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.ftp.stop()
        finally:
            shutil.rmtree(cls.root, ignore_errors=True)
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.ftp.reset()

    def one(self, name, *opts, rc=None, proto=("--proto", "ftp")):
        """pdl on one FTP URL saved as `target`; its report line."""
        url = self.ftp.url(name)
        res, _ = self.json_run(["%s target" % url], *(proto + opts), rc=rc,
                               timeout=60 * adversary.slow_factor())
        return res, self.by_url(res)[url]

    # ---- plain downloads ------------------------------------------------

    def several(self, *opts):
        names = sorted(self.files)
        lines = [self.ftp.url(n) for n in names]
        res, _ = self.json_run(lines, "--proto", "ftp", *opts, rc=0,
                               timeout=60 * adversary.slow_factor())
        for n in names:
            r = self.by_url(res)[self.ftp.url(n)]
            self.assertTrue(r["ok"], r)
            self.assertEqual(r["bytes"], len(self.files[n]), r)
            self.assertIsNone(r["error"], r)
        self.assertEqual(res.summary()["ok"], len(names))
        self.assert_files(self.files)
        self.assertEqual(self.ftp.sent("REST"), [])

    def test_several_files_at_j4(self):
        self.several("-j", "4")

    def test_several_files_sequential(self):
        self.several("-s")

    def test_without_proto_ftp_is_an_unusable_url(self):
        res, r = self.one("a.bin", rc=1, proto=())
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 0, r)
        self.assertRegex(r["error"], r"^.*urls\.lst:1: ")
        self.assertIn("ftp", r["error"])
        self.assertEqual(self.ftp.commands, [])
        self.assert_files({})

    def test_proto_https_only_refuses_ftp_too(self):
        res, r = self.one("a.bin", rc=1, proto=("--proto", "https"))
        self.assertEqual(r["attempts"], 0, r)
        self.assertEqual(self.ftp.commands, [])
        self.assert_files({})

    def test_missing_file_fails_without_a_file(self):
        res, r = self.one("nothere.bin", rc=1)
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 1, r)
        self.assertEqual(r["error"], "The file does not exist")
        self.assertEqual(r["status"], 550)
        # libcurl knows from the answer to SIZE
        self.assertEqual(self.ftp.sent("SIZE"), ["nothere.bin"])
        self.assertEqual(self.ftp.sent("RETR"), [])
        self.assert_files({})

    def test_missing_file_with_continue_leaves_nothing(self):
        res, r = self.one("nothere.bin", "-c", rc=1)
        self.assertFalse(r["ok"])
        self.assert_files({})

    # ---- -c on a kept partial file ------------------------------------

    def continues(self, name, have, *opts):
        data = self.files[name]
        self.kept_partial(data[:have])
        res, r = self.one(name, "-c", *opts, rc=0)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 1, r)
        self.assertEqual(r["bytes"], len(data) - have, r)
        self.assertEqual(self.ftp.sent("REST"), [str(have)])
        self.assertEqual(self.ftp.sent("RETR"), [name])
        self.assert_files({"target": data})

    def test_continue_resumes_kept_half_with_rest(self):
        self.continues("b.bin", 50000)

    def test_continue_resumes_kept_part_of_a_large_file(self):
        self.continues("big.bin", 1234567)

    def test_continue_resumes_kept_part_alone(self):
        # one transfer per loop: the file is written behind the loop
        self.continues("big.bin", 1000000, "-j", "1")

    def test_continue_partial_longer_than_file_starts_over(self):
        # libcurl refuses an offset beyond the size SIZE gave (as HTTP
        # answers 416): the kept part is thrown away and the file fetched
        # from byte 0 at once, even with --retries 0
        self.kept_partial(b"x" * (SMALL + 1000))
        res, r = self.one("a.bin", "-c", "--retries", "0", rc=0)
        self.assertEqual(r["attempts"], 2, r)
        self.assertEqual(r["bytes"], SMALL, r)
        self.assertEqual(r["status"], 226, r)
        self.assertEqual(self.ftp.sent("REST"), [])
        self.assertEqual(self.ftp.sent("RETR"), ["a.bin"])
        self.assert_files({"target": self.files["a.bin"]})

    def test_continue_partial_as_long_as_file_starts_over(self):
        # nothing left to fetch from that offset, and no way to tell the
        # kept bytes are the file's: fetched again from 0, as HTTP's 416
        # does, never an empty file or the kept bytes saved as the file
        self.kept_partial(b"y" * SMALL)
        res, r = self.one("a.bin", "-c", "--retries", "0", rc=0)
        self.assertEqual(r["attempts"], 2, r)
        self.assertEqual(r["bytes"], SMALL, r)
        # libcurl sees from SIZE that nothing is left: no REST, no RETR
        self.assertEqual(self.ftp.sent("REST"), [])
        self.assertEqual(self.ftp.sent("RETR"), ["a.bin"])
        self.assert_files({"target": self.files["a.bin"]})

    def test_continue_partial_not_a_prefix_is_appended_to(self):
        # FTP has no validator: kept bytes that are not the file's head
        # cannot be told from its head, as with HTTP without one (the man
        # page's --continue says so). What is saved is exactly those bytes
        # and the rest of the file, of the file's size.
        data = self.files["b.bin"]
        junk = b"z" * 30000
        self.kept_partial(junk)
        res, r = self.one("b.bin", "-c", rc=0)
        self.assertEqual(self.ftp.sent("REST"), ["30000"])
        self.assert_files({"target": junk + data[30000:]})

    def test_continue_where_rest_is_refused_starts_over(self):
        # libcurl fails a resumed transfer whose REST is refused: the kept
        # part is thrown away and the file fetched from 0 at once
        self.ftp.no_rest = True
        self.kept_partial(self.files["b.bin"][:30000])
        res, r = self.one("b.bin", "-c", "--retries", "0", rc=0)
        self.assertEqual(r["attempts"], 2, r)
        self.assertEqual(r["bytes"], 100000, r)
        self.assertEqual(self.ftp.sent("REST"), ["30000"])
        self.assertEqual(self.ftp.sent("RETR"), ["b.bin"])
        self.assert_files({"target": self.files["b.bin"]})

    # ---- a data connection cut mid-way ---------------------------------

    def cut_resumes(self, name, k, *opts):
        data = self.files[name]
        self.ftp.cuts[name] = k
        res, r = self.one(name, *opts, rc=0)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 2, r)
        rest = self.ftp.sent("REST")
        self.assertEqual(len(rest), 1, self.ftp.commands)
        self.assertTrue(0 < int(rest[0]) <= k, rest)
        self.assertEqual(r["bytes"], len(data) - int(rest[0]) + k, r)
        self.assertEqual(self.ftp.sent("RETR"), [name] * 2)
        self.assert_files({"target": data})

    def test_cut_small_file_resumes_from_memory(self):
        self.cut_resumes("b.bin", 40000)

    def test_cut_large_file_resumes(self):
        self.cut_resumes("big.bin", 1000000)

    def test_cut_large_file_alone_resumes(self):
        self.cut_resumes("c.bin", 600000, "-j", "1")

    def test_cut_then_file_of_another_size_starts_over(self):
        # the file is replaced by a longer one after the cut: the resumed
        # transfer's size (REST offset plus the rest SIZE gives) is not
        # the first one's, so the file is fetched again from 0
        name = "changing.bin"
        old, new = pattern(200000), pattern(250000, 100)
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(old)
        try:
            self.ftp.cuts[name] = 80000
            self.ftp.changes[name] = new
            res, r = self.one(name, rc=0)
        finally:
            os.remove(os.path.join(self.root, name))
        self.assertEqual(r["attempts"], 3, r)
        self.assertEqual(len(self.ftp.sent("REST")), 1, self.ftp.commands)
        self.assertEqual(self.ftp.sent("RETR"), [name] * 3)
        self.assert_files({"target": new})

    def test_cut_with_retries_0_keeps_partial_for_continue(self):
        data = self.files["big.bin"]
        self.ftp.cuts["big.bin"] = 900000
        res, r = self.one("big.bin", "-c", "--retries", "0", rc=1)
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 1, r)
        self.assertRegex(r["error"], r"(?i)transfer closed|remaining")
        part = os.path.join(self.box.out, ".target.pdl-part")
        with open(part, "rb") as f:
            kept = f.read()
        self.assertTrue(0 < len(kept) <= 900000, len(kept))
        self.assertEqual(kept, data[:len(kept)])
        self.assert_files({}, allow_temp=True)
        self.ftp.reset()
        res, r = self.one("big.bin", "-c", rc=0)
        self.assertEqual(self.ftp.sent("REST"), [str(len(kept))])
        self.assert_files({"target": data})

    # ---- a server without SIZE -------------------------------------------
    # libcurl then knows no length: a body ends where its data connection
    # does, and the 226 or 426 after it says whether that was the end.

    def test_without_size_several_files(self):
        self.ftp.no_size = True
        self.several("-j", "4")
        self.assertEqual(len(self.ftp.sent("SIZE")), len(self.files))

    def test_without_size_cut_resumes(self):
        self.ftp.no_size = True
        self.cut_resumes("big.bin", 1000000)

    def test_without_size_continue_resumes(self):
        self.ftp.no_size = True
        self.continues("b.bin", 50000)

    def test_without_size_continue_partial_longer_than_file(self):
        # nothing tells the kept part is too long before RETR, which
        # the server refuses after a REST past the end (554): started
        # over from byte 0 at once, as with SIZE
        self.ftp.no_size = True
        self.kept_partial(b"x" * (SMALL + 1000))
        res, r = self.one("a.bin", "-c", "--retries", "0", rc=0)
        self.assertEqual(r["attempts"], 2, r)
        self.assertEqual(r["bytes"], SMALL, r)
        self.assertEqual(self.ftp.sent("REST"), [str(SMALL + 1000)])
        self.assertEqual(self.ftp.sent("RETR"), ["a.bin"] * 2)
        self.assert_files({"target": self.files["a.bin"]})

    def test_without_size_continue_partial_as_long_as_file(self):
        # REST at the end, then an empty body: the kept bytes are not
        # taken for the file, which is fetched again from byte 0
        self.ftp.no_size = True
        self.kept_partial(b"y" * SMALL)
        res, r = self.one("a.bin", "-c", "--retries", "0", rc=0)
        self.assertEqual(r["attempts"], 2, r)
        self.assertEqual(r["bytes"], SMALL, r)
        self.assertEqual(self.ftp.sent("REST"), [str(SMALL)])
        self.assertEqual(self.ftp.sent("RETR"), ["a.bin"] * 2)
        self.assert_files({"target": self.files["a.bin"]})


if __name__ == "__main__":
    harness.main()
