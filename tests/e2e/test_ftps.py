"""End-to-end: FTPS, as libcurl means by ftps:// (implicit TLS: TLS from
the first byte, data connections in TLS too). Downloads with --proto ftps
and the test's certificate trusted, byte-exact; refusal without --proto
ftps; an untrusted certificate (and a host name it does not name) fails
before any command is sent, -k downloads with a warning; -c on a kept
partial file resumes with REST; a missing file fails (550); a server that
requires TLS session reuse on data connections is served.

The server is vsftpd (Debian's vsftpd, which scripts/test.sh installs),
because pyftpdlib's implicit FTPS does not work: the TLS handshake of its
data connections is reset, even for curl. Each vsftpd runs in the
foreground from a configuration this file writes into a temporary
directory, with a certificate made by openssl for the run: anonymous and
read-only over a directory there, on 127.0.0.1 with a free port and
passive ports on loopback, logging every command to a file there, and
stopped by its PID at the end of the class. vsftpd chroots, so it needs
root: without root (or without vsftpd or openssl) the class is skipped.

The runs with the certificate trusted name it in CURL_CA_BUNDLE (and
clear SSL_CERT_FILE and SSL_CERT_DIR), so that pdl trusts nothing else;
the others use -k or test the refusal."""

import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversary  # noqa: E402
import harness  # noqa: E402
from harness import pattern  # noqa: E402
from test_tls import OPENSSL, make_cert  # noqa: E402

VSFTPD = shutil.which("vsftpd", path=os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
SMALL = 4321
# over the 512 KiB a body may be held in memory: written to its file
BIG = 3000000

INSECURE_WARNING = "TLS peers are not verified (--insecure)"


def free_port():
    """A TCP port nothing listens on at 127.0.0.1 right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Vsftpd:
    """vsftpd in the foreground from a configuration written to `base`:
    implicit TLS with cert/key, anonymous and read-only over `root`, on
    127.0.0.1 only. With `reuse` set, data connections must resume the TLS
    session of their control connection (vsftpd's own default)."""

    def __init__(self, base, name, root, cert, key, reuse=False):
        self.base = base
        self.name = name
        self.log = os.path.join(base, name + ".log")
        self.proc = None
        self.err = None
        last = "not started"
        for _ in range(5):
            self.port = free_port()
            conf = self._write_conf(root, cert, key, reuse)
            last = self._start(conf)
            if last is None:
                break
        else:
            raise RuntimeError("vsftpd did not start: %s" % last)
        self.base_url = "ftps://127.0.0.1:%d" % self.port

    def _write_conf(self, root, cert, key, reuse):
        # Passive ports: 40 from a random place below the ephemeral range
        # (32768 and up on Linux), where other tests' clients do not take
        # them; vsftpd tries another one of the range when one is taken.
        low = random.randrange(20000, 32000)
        empty = os.path.join(self.base, "empty")
        os.makedirs(empty, exist_ok=True)
        os.chmod(empty, 0o755)
        settings = [
            ("listen", "YES"),
            ("listen_ipv6", "NO"),
            ("listen_address", "127.0.0.1"),
            ("listen_port", self.port),
            ("background", "NO"),
            ("anonymous_enable", "YES"),
            ("local_enable", "NO"),
            ("write_enable", "NO"),
            ("anon_upload_enable", "NO"),
            ("anon_mkdir_write_enable", "NO"),
            ("anon_other_write_enable", "NO"),
            ("ftp_username", "ftp"),
            ("no_anon_password", "YES"),
            ("anon_root", root),
            ("dirlist_enable", "NO"),
            ("ssl_enable", "YES"),
            # TLS from the first byte: what ftps:// means to libcurl
            ("implicit_ssl", "YES"),
            ("allow_anon_ssl", "YES"),
            ("force_anon_logins_ssl", "YES"),
            # no data in clear: a data connection without PROT P is refused
            ("force_anon_data_ssl", "YES"),
            # Each data connection must resume the session of its own
            # control connection (vsftpd runs one process per control
            # connection and cannot resume another's): else 522 and a
            # retry. pdl shares no TLS sessions among workers when ftps is
            # allowed, for this. The servers of the test_session_reuse_*
            # tests require it (vsftpd's default); the main one does not,
            # so that the other tests do not depend on it.
            ("require_ssl_reuse", "YES" if reuse else "NO"),
            ("ssl_request_cert", "NO"),
            ("ssl_ciphers", "HIGH"),
            ("rsa_cert_file", cert),
            ("rsa_private_key_file", key),
            ("pasv_enable", "YES"),
            ("pasv_address", "127.0.0.1"),
            ("pasv_min_port", low),
            ("pasv_max_port", low + 39),
            ("port_enable", "NO"),
            ("connect_from_port_20", "NO"),
            # Debian's vsftpd 3.0.3 with its seccomp sandbox ends every
            # implicit-TLS session in the handshake ("500 OOPS")
            ("seccomp_sandbox", "NO"),
            ("secure_chroot_dir", empty),
            # vsftpd writes no log at all without xferlog_enable; with it
            # and xferlog_std_format=NO it writes only vsftpd_log_file,
            # here, and log_ftp_protocol puts every command in it
            ("xferlog_enable", "YES"),
            ("xferlog_std_format", "NO"),
            ("xferlog_file", os.path.join(self.base, self.name + ".xfer")),
            ("vsftpd_log_file", self.log),
            ("dual_log_enable", "NO"),
            ("syslog_enable", "NO"),
            ("log_ftp_protocol", "YES"),
            ("use_localtime", "NO"),
        ]
        conf = os.path.join(self.base, self.name + ".conf")
        with open(conf, "w") as f:
            for k, v in settings:
                f.write("%s=%s\n" % (k, v))
        return conf

    def _start(self, conf):
        """Starts vsftpd on conf; None once its port accepts, else why
        not (it stopped, or the time ran out, and was stopped)."""
        # vsftpd writes its start-up errors ("500 OOPS: ...") to fd 0
        errpath = os.path.join(self.base, self.name + ".err")
        if self.err:
            self.err.close()
        self.err = open(errpath, "w+")
        self.proc = subprocess.Popen([VSFTPD, conf], stdin=self.err,
                                     stdout=self.err, stderr=self.err,
                                     cwd=self.base)
        deadline = time.monotonic() + 10 * adversary.slow_factor()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=1).close()
                return None
            except OSError:
                time.sleep(0.05)
        self.stop()
        with open(errpath) as f:
            return f.read().strip() or "no answer on port %d" % self.port

    def url(self, name):
        return "%s/%s" % (self.base_url, name)

    def mark(self):
        """Where the log ends now; commands(mark) sees what came after."""
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def lines(self, since=0):
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return []

    def commands(self, since=0):
        """(command, argument) of every command logged after since."""
        found = []
        for line in self.lines(since):
            m = re.search(r'FTP command: Client "[^"]*", "(.*)"$', line)
            if m:
                cmd, _, arg = m.group(1).partition(" ")
                found.append((cmd.upper(), arg))
        return found

    def sent(self, cmd, since=0):
        return [a for c, a in self.commands(since) if c == cmd]

    def connects(self, since=0):
        """How many connections vsftpd logged after since (the last lines
        of an earlier session, such as its QUIT, may come after a mark:
        count new connections, not lines)."""
        return sum(1 for line in self.lines(since) if " CONNECT: " in line)

    def downloads(self, since=0):
        """(path, bytes) of every transfer vsftpd logged as complete."""
        found = []
        for line in self.lines(since):
            m = re.search(r'OK DOWNLOAD: Client "[^"]*", "([^"]*)", '
                          r'(\d+) bytes', line)
            if m:
                found.append((m.group(1), int(m.group(2))))
        return found

    def stop(self):
        """Stops vsftpd by its PID: SIGTERM, then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.err:
            self.err.close()
            self.err = None


def why_not_runnable():
    """Why vsftpd cannot be run here, or None."""
    if not VSFTPD:
        return "vsftpd is not installed (scripts/test.sh installs it)"
    if not OPENSSL:
        return "the openssl command is not installed"
    if os.geteuid() != 0:
        return "vsftpd needs root (it chroots)"
    try:
        pwd.getpwnam("ftp")
    except KeyError:
        return "no user ftp (Debian's vsftpd package makes it)"
    return None


class FtpsTest(adversary.Adversarial):

    @classmethod
    def setUpClass(cls):
        # no fixture server: every URL here is vsftpd's
        cls.server = None
        why = why_not_runnable()
        if why:
            raise unittest.SkipTest(why)
        cls.base = tempfile.mkdtemp(prefix="pdl-ftps-")
        cls.servers = []
        try:
            cls._set_up()
        except BaseException:
            cls._tear_down()
            raise

    @classmethod
    def _set_up(cls):
        # vsftpd enters root as user ftp: the way there must be open to
        # it, and root and its files writable by root alone (modes set
        # whatever the umask)
        os.chmod(cls.base, 0o711)
        cls.root = os.path.join(cls.base, "root")
        os.mkdir(cls.root)
        os.chmod(cls.root, 0o755)
        cls.files = {"small.bin": pattern(SMALL), "big.bin": pattern(BIG),
                     "mid.bin": pattern(100000, 7), "empty": b""}
        for name, data in cls.files.items():
            p = os.path.join(cls.root, name)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, 0o644)
        cls.cert, cls.key = make_cert(cls.base)
        os.chmod(cls.key, 0o600)
        cls.ftp = Vsftpd(cls.base, "vsftpd", cls.root, cls.cert, cls.key)
        cls.servers.append(cls.ftp)
        cls.ftp_reuse = Vsftpd(cls.base, "vsftpd-reuse", cls.root,
                               cls.cert, cls.key, reuse=True)
        cls.servers.append(cls.ftp_reuse)

    @classmethod
    def _tear_down(cls):
        try:
            for s in cls.servers:
                s.stop()
        finally:
            shutil.rmtree(cls.base, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        try:
            cls._tear_down()
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.since = self.ftp.mark()
        self.since_reuse = self.ftp_reuse.mark()

    def sent(self, cmd):
        """The arguments of every `cmd` vsftpd got during this test."""
        return self.ftp.sent(cmd, self.since)

    def run_list(self, lines, *opts, rc=None, trusted=False):
        """pdl --json on a list of lines into out/ (the test's certificate
        trusted if asked); checks the exit status and one report line per
        URL."""
        env = None
        if trusted:
            env = {"CURL_CA_BUNDLE": self.cert, "SSL_CERT_FILE": "",
                   "SSL_CERT_DIR": ""}
        res, _ = self.json_run(lines, *opts, rc=rc,
                               timeout=60 * adversary.slow_factor(),
                               env=env)
        return res

    def one(self, name, *opts, rc=None, proto=("--proto", "ftps"),
            trusted=False, server=None):
        """pdl on one FTPS URL saved as `target`; its report line."""
        url = (server or self.ftp).url(name)
        res = self.run_list(["%s target" % url], *(proto + opts), rc=rc,
                            trusted=trusted)
        return res, self.by_url(res)[url]

    def assert_all_ok(self, res, names, server=None):
        server = server or self.ftp
        for n in names:
            r = self.by_url(res)[server.url(n)]
            self.assertTrue(r["ok"], r)
            self.assertEqual(r["bytes"], len(self.files[n]), r)
            self.assertEqual(r["status"], 226, r)
            self.assertEqual(r["attempts"], 1, r)
            self.assertIsNone(r["error"], r)
        self.assertEqual(res.summary()["ok"], len(names))
        self.assertEqual(res.summary()["failed"], 0)
        self.assert_files({n: self.files[n] for n in names})

    # ---- downloads --------------------------------------------------

    def test_download_with_the_certificate_trusted(self):
        names = sorted(self.files)
        res = self.run_list([self.ftp.url(n) for n in names], "--proto",
                            "ftps", rc=0, trusted=True)
        self.assert_all_ok(res, names)
        self.assertNotIn(INSECURE_WARNING, res.stderr)
        # data in TLS too, whole files: no REST (nor split ranges)
        self.assertIn("P", self.sent("PROT"))
        self.assertEqual(self.sent("REST"), [])
        self.assertEqual(sorted(self.sent("RETR")), names)
        got = dict(self.ftp.downloads(self.since))
        self.assertEqual(got.get("/big.bin"), BIG, got)
        self.assertEqual(got.get("/small.bin"), SMALL, got)

    def test_insecure_downloads_with_a_warning(self):
        names = ["big.bin", "small.bin"]
        res = self.run_list([self.ftp.url(n) for n in names], "--proto",
                            "ftps", "-k", rc=0)
        self.assert_all_ok(res, names)
        self.assertIn(INSECURE_WARNING, res.stderr)
        self.assertEqual(self.sent("REST"), [])

    def test_session_reuse_required(self):
        # vsftpd's default: each data connection must resume the TLS
        # session of its control connection, which libcurl does. One at a
        # time (see require_ssl_reuse above for several at once).
        names = ["big.bin", "mid.bin", "small.bin"]
        srv = self.ftp_reuse
        res = self.run_list([srv.url(n) for n in names], "--proto", "ftps",
                            "-k", "-j", "1", rc=0)
        self.assert_all_ok(res, names, server=srv)
        # no "522 SSL connection failed: session reuse required"
        refused = [line for line in srv.lines(self.since_reuse)
                   if re.search(r'FTP response: .*, "522 ', line)]
        self.assertEqual(refused, [])
        self.assertEqual(sorted(srv.sent("RETR", self.since_reuse)), names)

    def test_session_reuse_required_with_parallel_workers(self):
        # Eight workers, each with its own control connection (a vsftpd
        # process of its own): every data connection must still resume
        # its own control connection's session, never another worker's.
        # Without retries, one 522 fails the run.
        srv = self.ftp_reuse
        n = 40
        names = ["s%d" % i for i in range(n)]
        src = ["small.bin", "mid.bin"]
        lines = ["%s %s" % (srv.url(src[i % 2]), names[i]) for i in range(n)]
        res = self.run_list(lines, "--proto", "ftps", "-k", "-j", "8",
                            "--retries", "0", rc=0)
        self.assertEqual(res.summary()["ok"], n, res)
        refused = [line for line in srv.lines(self.since_reuse)
                   if re.search(r'FTP response: .*, "522 ', line)]
        self.assertEqual(refused, [])
        self.assert_files({names[i]: self.files[src[i % 2]]
                           for i in range(n)})

    # ---- refusals -----------------------------------------------------

    def test_without_proto_ftps_is_an_unusable_url(self):
        res, r = self.one("small.bin", rc=1, proto=())
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 0, r)
        self.assertRegex(r["error"], r"^.*urls\.lst:1: ")
        self.assertIn("ftps", r["error"])
        self.assertIn("--proto", r["error"])
        self.assertEqual(self.ftp.connects(self.since), 0)
        self.assert_files({})

    def test_proto_ftp_does_not_allow_ftps(self):
        res, r = self.one("small.bin", rc=1, proto=("--proto", "ftp"))
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 0, r)
        self.assertIn("ftps", r["error"])
        self.assertEqual(self.ftp.connects(self.since), 0)
        self.assert_files({})

    def test_untrusted_certificate_fails_before_any_command(self):
        res, r = self.one("small.bin", rc=1)
        self.assertFalse(r["ok"])
        self.assertRegex(r["error"], r"(?i)certificate", r)
        self.assertEqual(r["bytes"], 0, r)
        # a peer that fails verification is not retried
        self.assertEqual(r["attempts"], 1, r)
        self.assertNotIn(INSECURE_WARNING, res.stderr)
        # it was reached, but not even USER went to it
        self.assertGreaterEqual(self.ftp.connects(self.since), 1)
        self.assertEqual(self.sent("USER"), [])
        self.assert_files({})

    def test_host_name_not_in_certificate_fails(self):
        # trusted, but made for 127.0.0.1 only: "localhost" is not it
        url = self.ftp.url("small.bin").replace("127.0.0.1", "localhost")
        res = self.run_list([url + " target"], "--proto", "ftps", rc=1,
                            trusted=True)
        r = self.by_url(res)[url]
        self.assertFalse(r["ok"])
        self.assertRegex(r["error"], r"(?i)subject name|host ?name", r)
        self.assertEqual(self.sent("USER"), [])
        self.assert_files({})

    def test_missing_file_fails_without_a_file(self):
        res, r = self.one("nothere.bin", "-k", rc=1)
        self.assertFalse(r["ok"])
        self.assertEqual(r["attempts"], 1, r)
        self.assertEqual(r["error"], "The file does not exist")
        self.assertEqual(r["status"], 550)
        # libcurl knows from the answer to SIZE
        self.assertEqual(self.sent("SIZE"), ["nothere.bin"])
        self.assertEqual(self.sent("RETR"), [])
        self.assert_files({})

    def test_missing_file_with_continue_leaves_nothing(self):
        res, r = self.one("nothere.bin", "-k", "-c", rc=1)
        self.assertFalse(r["ok"])
        self.assertEqual(r["status"], 550)
        self.assertEqual(self.sent("RETR"), [])
        self.assert_files({})

    # ---- -c on a kept partial file ------------------------------------

    def continues(self, name, have, *opts):
        data = self.files[name]
        self.kept_partial(data[:have])
        res, r = self.one(name, "-c", *opts, rc=0)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["attempts"], 1, r)
        self.assertEqual(r["status"], 226, r)
        # what this run received: the rest only
        self.assertEqual(r["bytes"], len(data) - have, r)
        self.assertEqual(self.sent("REST"), [str(have)])
        self.assertEqual(self.sent("RETR"), [name])
        self.assertEqual(self.ftp.downloads(self.since),
                         [("/" + name, len(data) - have)])
        self.assert_files({"target": data})

    def test_continue_resumes_kept_part_with_rest(self):
        self.continues("big.bin", 1234567, "-k")

    def test_continue_resumes_kept_half_of_a_small_file(self):
        self.continues("mid.bin", 50000, "-k")

    def test_continue_resumes_with_the_certificate_trusted(self):
        data = self.files["big.bin"]
        self.kept_partial(data[:1000000])
        res, r = self.one("big.bin", "-c", rc=0, trusted=True)
        self.assertEqual(r["bytes"], BIG - 1000000, r)
        self.assertEqual(self.sent("REST"), ["1000000"])
        self.assert_files({"target": data})


if __name__ == "__main__":
    harness.main()
