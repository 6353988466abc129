"""End-to-end: FTP. Plain downloads with --proto ftp, refusal without it, a
missing file.

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
    they replace it right after the cut."""

    def __init__(self, root):
        outer = self
        self.lock = threading.Lock()
        self.commands = []
        self.cuts = {}
        self.changes = {}
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


if __name__ == "__main__":
    harness.main()
