"""Pieces shared by the adversarial end-to-end tests (test_adversarial,
test_resume, test_security, test_signals, test_scale, test_diskfull): a
scripted hostile HTTP server the fixture server cannot play, list files made
of raw bytes, and the checks every hostile run owes.

Not a test file itself (meson only runs test_*.py)."""

import os
import socket
import socketserver
import subprocess
import threading
import time

import harness
from harness import pattern

ESC = b"\x1b"


def is_sanitized():
    """True when pdl carries a sanitizer runtime (slower, more memory)."""
    try:
        with open(harness.PDL if os.path.isabs(harness.PDL) else
                  _which(harness.PDL), "rb") as f:
            data = f.read()
    except (OSError, TypeError):
        return False
    return b"__asan_init" in data or b"__tsan_init" in data


def is_tsan():
    try:
        with open(harness.PDL if os.path.isabs(harness.PDL) else
                  _which(harness.PDL), "rb") as f:
            return b"__tsan_init" in f.read()
    except (OSError, TypeError):
        return False


def _which(name):
    for d in os.environ.get("PATH", "").split(os.pathsep):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def slow_factor():
    """How much slower than a plain build pdl runs here."""
    if harness.VALGRIND:
        return 10
    if is_tsan():
        return 4
    if is_sanitized():
        return 2
    return 1


class Hostile(harness.ThreadedServer):
    """A raw HTTP/1.1 server on 127.0.0.1 whose routes misbehave on
    purpose. Every route closes the connection after its answer. It keeps a
    log of requests (path, lower-cased headers, time) and, per route, how
    many body bytes it pushed and whether the client went away early."""

    def __init__(self):
        outer = self
        self.lock = threading.Lock()
        self.requests = []
        self.sent = {}
        self.aborted = {}
        self.counts = {}
        self.stopping = threading.Event()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer._handle(self.request)

        class Srv(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.serve(Srv(("127.0.0.1", 0), Handler))

    def stop(self):
        self.stopping.set()
        super().stop()

    def log(self, prefix=""):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    # ---- plumbing -----------------------------------------------------

    def _handle(self, sock):
        sock.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2:
            return
        path = parts[1]
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        route = path.split("?")[0].strip("/").split("/")
        key = "/".join(route)
        with self.lock:
            self.requests.append({"path": path, "headers": headers,
                                  "t": time.monotonic()})
            self.counts[key] = self.counts.get(key, 0) + 1
            seen = self.counts[key]
        fn = getattr(self, "r_" + route[0].replace("-", "_"), None)
        try:
            if fn is None:
                # any other path: 200, the request target as the body
                body = path.encode("latin-1")
                self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                           b"Connection: close\r\n\r\n%s" % (len(body), body))
            else:
                fn(sock, route[1:], headers, seen, key)
        except OSError:
            with self.lock:
                self.aborted[key] = True
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _send(self, sock, data):
        sock.sendall(data)

    def _body(self, sock, key, data):
        sock.sendall(data)
        with self.lock:
            self.sent[key] = self.sent.get(key, 0) + len(data)

    def _nap(self, s):
        return not self.stopping.wait(s)

    def _rst(self, sock):
        """Makes the close that follows a reset, once the peer has
        acknowledged every byte sent (a reset drops unsent data)."""
        import fcntl
        import struct
        import termios
        for _ in range(400):
            buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
            if struct.unpack("i", buf)[0] <= 0:
                break
            time.sleep(0.005)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))

    # ---- routes ---------------------------------------------------------

    def r_chunked(self, sock, args, headers, seen, key):
        """/chunked/N[/K]: the /bytes/N body in chunks of K bytes (default
        16 KiB), no Content-Length."""
        n = int(args[0])
        k = int(args[1]) if len(args) > 1 else 16384
        self._send(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                   b"Content-Type: application/octet-stream\r\n"
                   b"Connection: close\r\n\r\n")
        body = pattern(n)
        for i in range(0, n, k):
            part = body[i:i + k]
            self._body(sock, key, b"%x\r\n" % len(part) + part + b"\r\n")
        self._send(sock, b"0\r\n\r\n")

    def r_badchunk(self, sock, args, headers, seen, key):
        """Chunked framing that breaks after the first chunk."""
        self._send(sock, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                   b"Connection: close\r\n\r\n5\r\nhello\r\nZZZ\r\nxx")

    def r_http09(self, sock, args, headers, seen, key):
        """No status line at all: an HTTP/0.9 answer."""
        self._send(sock, b"just a body, no status line\n")

    def r_continues(self, sock, args, headers, seen, key):
        """1xx interim answers ten a second, never a final one."""
        for _ in range(600):
            self._send(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
            if not self._nap(0.1):
                return

    def r_slowheaders(self, sock, args, headers, seen, key):
        """A status line, then one header byte every 0.2 s, forever."""
        self._send(sock, b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(600):
            self._send(sock, b"a")
            if not self._nap(0.2):
                return

    def r_headerbomb(self, sock, args, headers, seen, key):
        """One header line of N bytes (default 1 MiB)."""
        n = int(args[0]) if args else 1 << 20
        self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                   b"X-Bomb: " + b"b" * n + b"\r\n\r\nok\n")

    def r_badlength(self, sock, args, headers, seen, key):
        """A Content-Length no file system could hold."""
        self._send(sock, b"HTTP/1.1 200 OK\r\n"
                   b"Content-Length: 99999999999999999999999\r\n"
                   b"Connection: close\r\n\r\nabc")

    def r_twolengths(self, sock, args, headers, seen, key):
        """Two Content-Length headers that disagree."""
        self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                   b"Content-Length: 5\r\nConnection: close\r\n\r\nabcde")

    def r_empty(self, sock, args, headers, seen, key):
        """204: no body at all."""
        self._send(sock, b"HTTP/1.1 204 No Content\r\nConnection: close"
                   b"\r\n\r\n")

    def r_liar(self, sock, args, headers, seen, key):
        """/liar/N/K: the first answer is cut after K bytes; an answer to a
        Range request claims a range starting at 0 (not the one asked
        for); a request without Range gets the whole body."""
        n, k = int(args[0]), int(args[1])
        body = pattern(n)
        if seen == 1:
            self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                       b"Accept-Ranges: bytes\r\n\r\n" % n)
            self._body(sock, key, body[:k])
            self._rst(sock)
            return
        if "range" in headers:
            self._send(sock, b"HTTP/1.1 206 Partial Content\r\n"
                       b"Content-Range: bytes 0-%d/%d\r\n"
                       b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                       % (n - 1, n, n))
            self._body(sock, key, body)
            return
        self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                   b"Connection: close\r\n\r\n" % n)
        self._body(sock, key, body)

    def r_disposition(self, sock, args, headers, seen, key):
        """/disposition/HEX: the Content-Disposition value is the bytes
        given in hex, sent raw (control bytes and all)."""
        value = bytes.fromhex(args[0]) if args and args[0] else b""
        self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                   b"Content-Disposition: " + value +
                   b"\r\nConnection: close\r\n\r\nbody\n")

    def r_gzipped(self, sock, args, headers, seen, key):
        """A small gzip body with Content-Encoding: gzip."""
        body = gzipped_body()
        self._send(sock, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                   b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                   % len(body))
        self._body(sock, key, body)


def gzipped_body():
    import gzip
    return gzip.compress(b"z" * 100000, mtime=0)


def write_raw_list(box, lines, name="urls.lst"):
    """A list file from raw byte lines (NUL, invalid UTF-8 and all)."""
    p = box.path(name)
    with open(p, "wb") as f:
        for l in lines:
            f.write((l.encode() if isinstance(l, str) else l) + b"\n")
    return p


def url_lines(lines):
    """How many lines of a list pdl must report on (not blank, not #)."""
    n = 0
    for l in lines:
        b = l.encode() if isinstance(l, str) else l
        if b.endswith(b"\r"):
            b = b[:-1]
        # pdl refuses overlong lines and NUL bytes before it looks for
        # blanks or comments
        if len(b) > 8192 or b"\x00" in b:
            n += 1
            continue
        s = b.strip(b" \t\r\v\f")
        if s and not s.startswith(b"#"):
            n += 1
    return n


class Adversarial(harness.E2E):
    """E2E plus the checks of a hostile run."""

    def leftover_temps(self):
        """Only names in the form of a temporary file (".NAME.pdl-part")
        count as one: pdl saves a file a hostile server calls
        ".x.pdl-part" as "_x.pdl-part"."""
        return [k for k in self.box.temp_files()
                if os.path.basename(k).startswith(".")]

    def json_run(self, lines, *opts, rc=None, timeout=60, name="urls.lst",
                 env=None):
        """Writes lines (str or bytes) to a list, runs pdl --json on it
        into out/, checks the exit status and one report line per URL."""
        path = write_raw_list(self.box, lines, name)
        res = self.pdl("--json", "--progress", "none", "-o", self.box.out,
                       *(list(opts) + [path]), timeout=timeout, env=env)
        if rc is not None:
            self.assertEqual(res.rc, rc, res)
        self.assert_reports(res, url_lines(lines))
        return res, path

    KEPT = ".target" + harness.TMP_SUFFIX

    def kept_partial(self, data):
        """out/.target.pdl-part holds data, as an earlier -c run left it."""
        os.makedirs(self.box.out)
        with open(os.path.join(self.box.out, self.KEPT), "wb") as f:
            f.write(data)
        self.outside = self.box.snapshot_outside()

    def assert_reports(self, res, n):
        files = res.files()
        self.assertEqual(len(files), n, "one report line per URL: %r" % res)
        s = res.summary()
        self.assertEqual(s["urls"], n, res)
        self.assertEqual(s["ok"] + s["failed"], n, res)

    def assert_files(self, expect, allow_temp=False):
        """out/ holds exactly expect (relative name -> bytes), nothing
        under a final name that is not whole, nothing left outside."""
        got = {k: v for k, v in self.box.out_files().items()
               if not (allow_temp and k.endswith(harness.TMP_SUFFIX) and
                       os.path.basename(k).startswith("."))}
        self.assertEqual(sorted(got), sorted(expect))
        for k, v in expect.items():
            self.assertEqual(len(got[k]), len(v), k)
            self.assertTrue(got[k] == v, "%s not byte-exact" % k)
        self.assert_clean(allow_temp=allow_temp)

    def by_url(self, res):
        return {o["url"]: o for o in res.files()}

    def assert_no_raw_escape(self, res, json=False):
        """No byte a terminal would act on reaches stdout or stderr: no C0
        control but newline, no C1 control (U+0080-U+009F); the report is
        valid UTF-8 (invalid bytes are shown escaped). JSON may carry C1
        controls, which JSON allows."""
        text = res.out.decode("utf-8")  # raises on invalid UTF-8
        for ch in text + res.err.decode("utf-8", "replace"):
            if ch == "\n":
                continue
            self.assertFalse(ord(ch) < 0x20 or ord(ch) == 0x7f,
                             "raw control %r in %r" % (ch, res))
        if not json:
            for ch in text + res.err.decode("utf-8", "replace"):
                self.assertFalse(0x80 <= ord(ch) <= 0x9f,
                                 "raw C1 control %r in %r" % (ch, res))


def start_pdl(args, stdin=subprocess.DEVNULL, env=None,
              stdout=subprocess.PIPE):
    """pdl as a background process (for signals and sampling)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    cmd = [harness.PDL] + list(args)
    if harness.VALGRIND:
        cmd = ["valgrind", "-q", "--error-exitcode=86", "--leak-check=full",
               "--errors-for-leak-kinds=definite,indirect",
               "--show-leak-kinds=definite,indirect"] + cmd
    return subprocess.Popen(cmd, stdin=stdin, stdout=stdout,
                            stderr=subprocess.PIPE, env=e)


def finish(proc, timeout):
    """Waits for a background pdl; kills it beyond timeout (a failure)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("pdl did not finish in %ss: %r" %
                             (timeout, err[-2000:]))
    harness.check_sanitizers(err)
    if out is None:
        out = b""
    if harness.VALGRIND and proc.returncode == 86:
        raise AssertionError("valgrind found errors:\n" +
                             err.decode("utf-8", "replace"))
    return harness.Result(proc.returncode, out, err)


def wait_for(cond, timeout, step=0.05):
    """Polls cond() until true or timeout; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)
