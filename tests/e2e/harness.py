"""Shared pieces of pdl's end-to-end tests: the fixture server, running the
real pdl binary, sandboxes with canaries, and checks every test repeats.

Everything binds 127.0.0.1 (or another loopback address), every wait has a
time bound, and every process started here is stopped by its PID."""

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

PDL = os.environ.get("PDL", "pdl")
SERVER = os.environ.get("FIXTURE_SERVER", "pdl-fixture-server")
FIXTURES = os.environ.get(
    "FIXTURES_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "fixtures"))
TMP_SUFFIX = ".pdl-part"
# Under .ci/run's valgrind pass every pdl run goes through memcheck.
VALGRIND = os.environ.get("PDL_VALGRIND") == "1"
SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer",
                   b"WARNING: ThreadSanitizer", b"runtime error:",
                   b"ERROR: ThreadSanitizer")


def check_sanitizers(err, who="pdl"):
    """A sanitizer or valgrind report is a failure whatever the test
    expected of the exit status."""
    for mark in SANITIZER_MARKS:
        if mark in err:
            raise AssertionError("%s: sanitizer report:\n%s" %
                                 (who, err.decode("utf-8", "replace")))


def xattrs_unusable(directory):
    """Why user extended attributes cannot be set in directory (tmpfs
    before Linux 6.6 has none), or None when they can."""
    try:
        os.setxattr(directory, "user.pdl.probe", b"x")
        os.removexattr(directory, "user.pdl.probe")
    except OSError as e:
        return str(e)
    return None


def without_leak_check(env=None):
    """env (a dict, or a new one) with LeakSanitizer off, for a run under
    ptrace (strace), where it cannot work; the other tests look for
    leaks."""
    env = dict(env or {})
    asan = os.environ.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
    return env


def pattern(n, start=0):
    """The /bytes/N body: byte i is i % 251."""
    block = bytes(range(251))
    first = start % 251
    data = (block[first:] + block * (n // 251 + 2))
    return data[:n]


class Server:
    """The fixture server on a loopback address and a port it chooses."""

    def __init__(self, bind="127.0.0.1", root=None, port=0):
        root = root or os.path.join(FIXTURES, "files")
        self.proc = subprocess.Popen(
            [SERVER, "--bind", bind, "--port", str(port), "--root", root],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else b""
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError("fixture server did not start")
        self.port = int(line)
        self.host = bind
        self.base = "http://%s:%d" % (bind, self.port)

    def url(self, path):
        return self.base + path

    def get(self, path, timeout=10):
        with urllib.request.urlopen(self.url(path), timeout=timeout) as r:
            return r.read()

    def stats(self):
        return json.loads(self.get("/stats"))

    def reset_stats(self):
        self.get("/stats/reset")

    def log(self):
        return [json.loads(l) for l in self.get("/log").splitlines() if l]

    def reset_log(self):
        self.get("/log/reset")

    def stop(self):
        """Stops the server by its PID; a sanitizer report or a bad exit
        status from it fails the test."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError("fixture server ignored SIGTERM")
        check_sanitizers(err or b"", "fixture server")
        if self.proc.returncode != 0:
            raise AssertionError("fixture server exited with %r: %s" % (
                self.proc.returncode, (err or b"")[-2000:]))


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err

    @property
    def stdout(self):
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self):
        return self.err.decode("utf-8", "replace")

    def json(self):
        return [json.loads(l) for l in self.out.splitlines() if l.strip()]

    def files(self):
        return [o for o in self.json() if o.get("type") == "file"]

    def summary(self):
        s = [o for o in self.json() if o.get("type") == "summary"]
        assert len(s) == 1, "expected one summary, got %r" % (s,)
        return s[0]

    def __repr__(self):
        return "Result(rc=%r, stdout=%r, stderr=%r)" % (
            self.rc, self.stdout[-2000:], self.stderr[-2000:])


def run_pdl(args, stdin=None, timeout=60, cwd=None, env=None, wrap=()):
    """Runs pdl to completion within timeout seconds (killed beyond);
    wrap: a command to run it under (taskset, strace), outside valgrind."""
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    if env:
        e.update(env)
    cmd = [PDL] + list(args)
    if VALGRIND:
        cmd = ["valgrind", "-q", "--error-exitcode=86", "--leak-check=full",
               "--max-threads=1200",
               "--errors-for-leak-kinds=definite,indirect",
               "--show-leak-kinds=definite,indirect"] + cmd
        timeout *= 10
    cmd = list(wrap) + cmd
    p = subprocess.Popen(cmd, cwd=cwd, env=e,
                         stdin=subprocess.PIPE if stdin is not None
                         else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(
            stdin.encode() if isinstance(stdin, str) else stdin,
            timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("pdl did not finish in %ss: %r" %
                             (timeout, err[-2000:]))
    check_sanitizers(err)
    if VALGRIND and p.returncode == 86:
        raise AssertionError("valgrind found errors:\n" +
                             err.decode("utf-8", "replace"))
    return Result(p.returncode, out, err)


def tree(path):
    """Every entry below path, relative, with its kind and content hash."""
    found = {}
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, path)
            if os.path.islink(full):
                found[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                found[rel] = ("dir", None)
            else:
                # A temporary file may be renamed away while we look.
                try:
                    with open(full, "rb") as f:
                        found[rel] = ("file", f.read())
                except FileNotFoundError:
                    pass
    return found


class Sandbox:
    """A temporary directory holding the output directory `out` and canary
    files beside it that no run may touch."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="pdl-e2e-")
        self.out = os.path.join(self.root, "out")
        self.canary = os.path.join(self.root, "canary")
        os.mkdir(self.canary)
        with open(os.path.join(self.canary, "secret.txt"), "wb") as f:
            f.write(b"canary, never overwritten\n")
        self.before = None

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def write_list(self, lines, name="urls.txt"):
        p = self.path(name)
        with open(p, "w") as f:
            f.write("".join(l + "\n" for l in lines))
        return p

    def snapshot_outside(self):
        """What is outside out/, to compare after a run."""
        t = tree(self.root)
        return {k: v for k, v in t.items()
                if not (k == "out" or k.startswith("out" + os.sep))}

    def out_files(self):
        if not os.path.isdir(self.out):
            return {}
        return {k: v[1] for k, v in tree(self.out).items() if v[0] == "file"}

    def temp_files(self):
        return [k for k in self.out_files() if k.endswith(TMP_SUFFIX)]

    def unnamed_files(self, pid):
        """Sizes of the unnamed (O_TMPFILE) files process pid is writing in
        the output directory: /proc shows them as "DIR/#INODE (deleted)"."""
        sizes = []
        fds = "/proc/%d/fd" % pid
        prefix = os.path.realpath(self.out) + "/#"
        try:
            names = os.listdir(fds)
        except OSError:
            return sizes
        for fd in names:
            try:
                target = os.readlink(os.path.join(fds, fd))
                if target.startswith(prefix) and \
                        target.endswith(" (deleted)"):
                    sizes.append(os.stat(os.path.join(fds, fd)).st_size)
            except OSError:
                pass
        return sizes

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


class E2E(unittest.TestCase):
    """Base class: one fixture server per test class, a fresh sandbox per
    test, and the checks every run owes: nothing outside out/ changed and
    no temporary file left behind."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.stop()

    def setUp(self):
        self.box = Sandbox()
        self.outside = self.box.snapshot_outside()

    def tearDown(self):
        self.box.remove()

    def url(self, path):
        return self.server.url(path)

    def pdl(self, *args, **kw):
        return run_pdl(list(args), **kw)

    def leftover_temps(self):
        """The temporary files pdl left in out/."""
        return self.box.temp_files()

    def assert_clean(self, allow_temp=False):
        """Nothing outside out/ changed (lists written by the test aside),
        and no temporary files unless allowed."""
        after = self.box.snapshot_outside()
        for k, v in self.outside.items():
            self.assertEqual(after.get(k), v, "changed outside out/: " + k)
        for k in after:
            if k not in self.outside and not k.endswith(".txt") \
                    and not k.endswith(".lst"):
                self.fail("new entry outside out/: " + k)
        if not allow_temp:
            self.assertEqual(self.leftover_temps(), [],
                             "temporary files left")


# A skipped test says why. .ci/run sets PDL_TEST_STRICT=1, and there a skip
# fails the module unless its reason starts with one of these: a check that
# does not apply to this pass (the valgrind one), or a kernel feature or
# privilege this machine lacks. Any other skip (a tool scripts/test.sh
# installs, a file of this repository) means CI would count checks that
# never ran.
BY_DESIGN = "by design: "
THIS_MACHINE = "this machine: "


def main():
    result = unittest.main(verbosity=2, exit=False).result
    strict = os.environ.get("PDL_TEST_STRICT") == "1"
    unexpected = [(t, why) for t, why in result.skipped
                  if not why.startswith((BY_DESIGN, THIS_MACHINE))]
    for t, why in unexpected if strict else []:
        print("strict: %s skipped: %s" % (t.id(), why), file=sys.stderr)
    ok = result.wasSuccessful() and not (strict and unexpected)
    sys.exit(0 if ok else 1)


# ---- added for the feature tests (test_names, test_concurrency) ----------

class ThreadedServer:
    """A socketserver on 127.0.0.1 served from a daemon thread. Subclasses
    build the server and hand it to serve(); url() and stop() are shared."""

    def serve(self, server, scheme="http"):
        self.httpd = server
        self.port = server.server_address[1]
        self.base = "%s://127.0.0.1:%d" % (scheme, self.port)
        self.thread = threading.Thread(target=server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return self.base + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


class EchoServer(ThreadedServer):
    """A small HTTP/1.1 keep-alive server on 127.0.0.1 answering every GET
    with 200 and the request target as body (after `?delay=S`, S <= 10,
    seconds). It counts the TCP connections it accepted, which the fixture
    server cannot tell.

    `/pattern/N` answers with pattern(N), written in 16 KiB pieces on a
    socket with a 32 KiB send buffer, and records (path, t_start, t_end,
    marks) in `timings`: time.monotonic() when the request arrived and when
    the last piece was taken by the kernel, and (time, bytes so far) after
    each piece. Unlike the fixture server, whose socket buffers hold
    megabytes on loopback, it sees the pace of the reader.

    A request with `gate` in its query sets `arrived` and waits (30 s at
    most) for the test to set `go` before it is answered."""

    def __init__(self):
        import http.server
        import socket
        outer = self
        self.arrived = threading.Event()
        self.go = threading.Event()
        self.lock = threading.Lock()
        self.connections = 0
        self.paths = []
        self.timings = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                with outer.lock:
                    outer.connections += 1
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                        32 * 1024)
                super().setup()

            def send_pattern(self, n):
                t_start = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                body = pattern(n)
                marks = []
                for i in range(0, n, 16384):
                    self.wfile.write(body[i:i + 16384])
                    marks.append((time.monotonic(), min(n, i + 16384)))
                with outer.lock:
                    outer.timings.append((self.path, t_start,
                                          time.monotonic(), marks))

            def do_GET(self):
                with outer.lock:
                    outer.paths.append(self.path)
                if self.path.startswith("/pattern/"):
                    return self.send_pattern(
                        int(self.path[9:].partition("?")[0]))
                q = self.path.partition("?")[2]
                for kv in q.split("&"):
                    if kv == "gate":
                        outer.arrived.set()
                        outer.go.wait(30)
                    if kv.startswith("delay="):
                        try:
                            time.sleep(min(float(kv[6:]), 10.0))
                        except ValueError:
                            pass
                body = self.path.encode("latin-1", "replace")
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self.serve(httpd)
