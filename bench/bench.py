#!/usr/bin/python3
"""pdl's benchmark runner and report generator (stdlib only).

Started by bench/run.sh, which owns the servers; this file makes the
workloads, runs every contender in interleaved rounds, checks what each one
downloaded, and writes bench/results/latest.md (+ latest.json and the
seq_vs_par.svg chart).
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

MiB = 1024 * 1024
RUSAGE = None  # the launcher, --rusage
BARE = None  # the bare client (bench/bare.c), --bare
WORK = None

# name, files, size per file (served by nginx)
STATIC = {
    "small": (2000, 4 * 1024),
    "medium": (200, 256 * 1024),
    "large": (8, 64 * MiB),
}
DELAY_URLS = 200
DELAY_S = 0.2
# the five-firework show (fixtures/fireworks.txt) at 0.1 s per second
FIREWORKS = [("Roman-Candle", 0.1), ("Report", 0.3), ("Peony", 0.4),
             ("Palm-Tree", 0.3), ("Pistil", 0.5)]

# https: the small workload's files over TLS and HTTP/2 (nginx), every
# contender verifying the run's certificate against the system's CAs with
# it added (bench/run.sh). At -j 8 only: wget2 and curl
# multiplex HTTP/2 streams whatever their -j, so -j 1 would not compare
# one download at a time.
FULL_JOBS = {"small": [1, 8, 32], "medium": [1, 8], "large": [1, 8],
             "delay": [1, 8], "fireworks": [1, 8], "https": [8]}
QUICK_JOBS = {"small": [1, 8, 32], "medium": [8], "large": [8],
              "delay": [8], "fireworks": [1, 8], "https": [8]}
ORDER = ["small", "medium", "large", "delay", "fireworks", "https"]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def seconds_literal(value, index):
    """value as a decimal whose digits also carry index, so that every URL
    (and the file name taken from it) is distinct: 0.2 for URL 17 is
    0.2000000000000017, 1.7e-15 s longer."""
    base = ("%.1f" % value)
    return base + "%015d" % index


# --- workloads ---------------------------------------------------------------

class Workload:
    def __init__(self, name, urls, names, sizes, kind):
        self.name = name
        self.urls = urls
        self.names = names
        self.sizes = sizes  # name -> bytes
        self.kind = kind  # "static" or "latency"
        self.total_bytes = sum(sizes.values())
        self.list_path = None
        self.curl_cfg = None
        self.ca = None  # the CA file to verify against (https)

    def write_lists(self, work):
        self.list_path = os.path.join(work, self.name + ".list")
        with open(self.list_path, "w") as f:
            f.write("".join(u + "\n" for u in self.urls))
        self.curl_cfg = os.path.join(work, self.name + ".curl")
        with open(self.curl_cfg, "w") as f:
            f.write("".join('url = "%s"\n' % u for u in self.urls))


def make_static(www, nginx, tls_port=None, ca=None):
    loads = {}
    block = os.urandom(MiB)
    for name, (count, size) in STATIC.items():
        d = os.path.join(www, name)
        os.makedirs(d, exist_ok=True)
        width = len(str(count - 1))
        urls, names, sizes = [], [], {}
        for i in range(count):
            fn = "%s%0*d.bin" % (name[0], width, i)
            path = os.path.join(d, fn)
            if not (os.path.exists(path) and
                    os.path.getsize(path) == size):
                with open(path, "wb") as f:
                    left = size
                    head = ("%s\n" % fn).encode()
                    f.write(head)
                    left -= len(head)
                    off = (i * 4099) % MiB
                    while left > 0:
                        chunk = block[off:off + left]
                        f.write(chunk)
                        left -= len(chunk)
                        off = 0
            urls.append("http://127.0.0.1:%d/%s/%s" % (nginx, name, fn))
            names.append(fn)
            sizes[fn] = size
        loads[name] = Workload(name, urls, names, sizes, "static")
    with open(os.path.join(www, "tiny.bin"), "wb") as f:
        f.write(b"0123456789abcdef")
    if tls_port:
        s = loads["small"]
        w = Workload("https", [u.replace("http://127.0.0.1:%d/" % nginx,
                                         "https://127.0.0.1:%d/" % tls_port)
                               for u in s.urls], s.names, s.sizes, "static")
        w.ca = ca
        loads["https"] = w
    return loads


def fetch_len(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return len(r.read())


def make_latency(fixture):
    base = "http://127.0.0.1:%d" % fixture
    loads = {}
    items = [("d%d" % i, DELAY_S, i) for i in range(DELAY_URLS)]
    show = [(n, s, i) for i, (n, s) in enumerate(FIREWORKS)]
    for lname, spec in (("delay", items), ("fireworks", show)):
        urls, names, sizes = [], [], {}
        for fw, secs, i in spec:
            lit = seconds_literal(secs, i)
            urls.append("%s/%s/%s" % (base, fw, lit))
            names.append(lit)
            # the body depends on the name only: ask with no wait
            sizes[lit] = fetch_len("%s/%s/0" % (base, fw))
        loads[lname] = Workload(lname, urls, names, sizes, "latency")
    return loads


def ideal_makespan(w, j):
    if w.name == "delay":
        return math.ceil(DELAY_URLS / j) * DELAY_S
    secs = sorted((s for _, s in FIREWORKS), reverse=True)
    # longest-first onto j lanes: exact for these five at j 1 and j >= 5
    lanes = [0.0] * j
    for s in secs:
        k = lanes.index(min(lanes))
        lanes[k] += s
    return max(lanes)


# --- contenders ----------------------------------------------------------------

# The same pdl code linked with Debian's shared libcurl (bench/run.sh builds
# both; "pdl" is the build with the lean libcurl of scripts/libcurl.sh).
PDL_SYSTEM = "pdl, Debian's libcurl"
# The latency-bound workloads' second limit row: bench/bare.c, measured and
# checked as a contender is, never one of the peers.
BARE_LABEL = "limit: bare client"


def contenders(pdl, w, j, dl, pdl_system=None):
    """(label, argv, stdin path or None) for one workload and -j. Over
    TLS each trusts w.ca: curl and pdl through CURL_CA_BUNDLE (an env
    prefix, which measure() takes off), aria2c and wget2 by option."""
    n = str(j)
    per_xargs = max(1, min(50, math.ceil(len(w.urls) / j)))
    trust = ["env", "CURL_CA_BUNDLE=" + w.ca] if w.ca else []
    ca_opt = ["--ca-certificate=" + w.ca] if w.ca else []

    def run_pdl(binary, *mode):
        return [*trust, binary, *mode, "-q", "--progress", "none", "-o",
                dl, w.list_path]

    out = [("pdl", run_pdl(pdl, "-j", n), None)]
    if pdl_system and j >= 8:
        out.append((PDL_SYSTEM, run_pdl(pdl_system, "-j", n), None))
    if j == 1:
        out.append(("pdl --sequential", run_pdl(pdl, "--sequential"), None))
    out += [
        ("curl -Z", [*trust, "curl", "-Z", "--parallel-max", n,
                     "--remote-name-all", "--output-dir", dl, "-s",
                     "-K", w.curl_cfg], None),
        ("aria2c", ["aria2c", "-i", w.list_path, "-j", n, "-x1", "-s1",
                    "-d", dl, "--console-log-level=error",
                    "--summary-interval=0", "-q", "--allow-overwrite=true",
                    "--auto-file-renaming=false", *ca_opt], None),
        ("wget2", ["wget2", "--max-threads=" + n, "-i", w.list_path,
                   "-P", dl, "-q", "--no-robots", *ca_opt], None),
        ("xargs curl", [*trust, "xargs", "-P", n, "-n", str(per_xargs),
                        "curl", "-s", "--remote-name-all", "--output-dir",
                        dl], w.list_path),
    ]
    if BARE and w.kind == "latency":
        out.append((BARE_LABEL, [BARE, "-j", n, "-o", dl, w.list_path],
                    None))
    return out


# --- one measured run --------------------------------------------------------

def empty_dir(d):
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)


def tail(path, n=2000):
    """The last n bytes of a file, which is removed."""
    with open(path, "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - n))
        data = f.read().decode("utf-8", "replace")
    os.unlink(path)
    return data


def split_env(argv):
    """argv as ["env", "NAME=value", ..., program, ...]: the environment
    to run the program with, and its own argv. Run so, rather than through
    env(1), whose memory before its exec would count in the peak RSS."""
    if not argv or argv[0] != "env":
        return None, argv
    env = dict(os.environ)
    i = 1
    while i < len(argv) and "=" in argv[i]:
        k, v = argv[i].split("=", 1)
        env[k] = v
        i += 1
    return env, argv[i:]


def measure(argv, stdin_path=None, timeout=300):
    """Runs argv under the rusage launcher (bench/rusage.c); returns wall
    (monotonic), user+sys CPU of it and the children it waited for, peak
    RSS (KiB), exit code, stderr tail."""
    env, argv = split_env(argv)
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    errfd, errpath = tempfile.mkstemp(prefix="bench-err-", dir=WORK)
    errf = os.fdopen(errfd, "wb")
    outfd, outpath = tempfile.mkstemp(prefix="bench-out-", dir=WORK)
    outf = os.fdopen(outfd, "wb")
    ru_path = errpath + ".ru"
    killed = []
    try:
        p = subprocess.Popen([RUSAGE, ru_path] + argv, stdin=fin,
                             stdout=outf, stderr=errf, env=env,
                             start_new_session=True)

        def kill():
            killed.append(True)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        p.wait()
        timer.cancel()
        if killed:
            # the launcher died with its command: reap what is left
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    finally:
        if fin is not subprocess.DEVNULL:
            fin.close()
        errf.close()
        outf.close()
    err = tail(errpath) + tail(outpath)
    try:
        with open(ru_path) as f:
            wall, user, sys_, rss, rc = f.read().split()
        os.unlink(ru_path)
    except (OSError, ValueError):
        wall, user, sys_, rss, rc = timeout, 0, 0, 0, p.returncode
    return {
        "wall": float(wall),
        "cpu": float(user) + float(sys_),
        "rss_kib": int(rss),
        "rc": int(rc),
        "timeout": bool(killed),
        "stderr": err.strip(),
    }


def check(dl, w):
    """Every expected file is there with its size. Returns a reason or None."""
    missing = wrong = 0
    for name in w.names:
        try:
            if os.stat(os.path.join(dl, name)).st_size != w.sizes[name]:
                wrong += 1
        except FileNotFoundError:
            missing += 1
    if missing or wrong:
        return "%d missing, %d wrong size" % (missing, wrong)
    return None


# --- limits ------------------------------------------------------------------

def wrk_limit(url, conns, secs):
    threads = 2 if conns >= 2 else 1
    try:
        r = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns,
                            "-d%ds" % secs, url], capture_output=True,
                           text=True, timeout=secs + 30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    m = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    t = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?B)", r.stdout)
    if not m:
        return None, r.stdout + r.stderr
    unit = {"B": 1, "KB": 1024, "MB": MiB, "GB": 1024 * MiB}
    tr = float(t.group(1)) * unit[t.group(2)] if t else 0.0
    return {"files_s": float(m.group(1)), "bytes_s": tr}, None


# --- report helpers --------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summarize(runs, w):
    good = [r for r in runs if r["ok"]]
    use = good if good else runs
    walls = [r["wall"] for r in use]
    m = med(walls)
    return {
        "runs": len(runs),
        "good": len(good),
        "median": m,
        "min": min(walls) if walls else float("nan"),
        "max": max(walls) if walls else float("nan"),
        "cpu": med([r["cpu"] for r in use]),
        "rss_mib": max(r["rss_kib"] for r in use) / 1024 if use else 0,
        "files_s": len(w.urls) / m if m else 0,
        "mib_s": w.total_bytes / MiB / m if m else 0,
        "fail_reasons": sorted({r["why"] for r in runs if not r["ok"]}),
    }


def fmt_s(x):
    if x != x:
        return "—"
    return "%.3f" % x if x < 100 else "%.1f" % x


def tool_versions(pdl, nginx, pdl_system=None):
    def first(cmd, err=False, lines=1):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=10)
            out = (r.stderr if err else r.stdout) or r.stdout or r.stderr
            got = out.strip().splitlines()
            if not got:
                return "?"
            return "; ".join(got[:lines])
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    v = {
        "pdl": first([pdl, "--version"], lines=3),
        "curl": first(["curl", "--version"]),
        "aria2c": first(["aria2c", "--version"]),
        "wget2": first(["wget2", "--version"]),
        "nginx": first([nginx, "-v"], err=True),
        "wrk": first(["wrk", "--version"], err=True),
        "xargs": first(["xargs", "--version"]),
        "gnuplot": first(["gnuplot", "--version"]),
        "python": "Python " + platform.python_version(),
    }
    if pdl_system:
        v[PDL_SYSTEM] = first([pdl_system, "--version"], lines=3)
    try:
        r = subprocess.run(["pkg-config", "--modversion", "libcurl"],
                           capture_output=True, text=True, timeout=10)
        v["libcurl (pdl links)"] = r.stdout.strip() or "?"
    except OSError:
        pass
    return v


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kib / MiB)
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "load": loadavg(),
            "kernel": platform.release(), "memory": mem,
            "os": distro()}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def distro():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


# --- the run -------------------------------------------------------------------

# The limit row of a static workload: wrk for WRK_SECS in every round, at
# its turn among the contenders, so that it sees the host as they do.
WRK_LABEL = "limit: wrk"
WRK_SECS = 1


def run_workload(a, w, jobs, runs, warmup, results, lim):
    for j in jobs:
        cs = contenders(a.pdl, w, j, a.dl, a.pdl_system)
        if w.kind == "static" and shutil.which("wrk"):
            cs.append((WRK_LABEL, None, None))
        wrk_runs = []
        # a latency-bound -j 1 run takes DELAY_URLS x DELAY_S per contender:
        # one round only (see the note in the report)
        nrounds, wu = runs, warmup
        if w.name == "delay" and j == 1:
            nrounds, wu = 1, 0
        elif w.kind == "latency" and a.quick:
            # server sleeps, no cache to warm: --quick skips the warm-up
            wu = 0
        data = {c[0]: [] for c in cs}
        log("%s -j %d: %d contenders, %d warm-up + %d rounds"
            % (w.name, j, len(cs), wu, nrounds))
        for rnd in range(wu + nrounds):
            k = rnd % len(cs)
            order = cs[k:] + cs[:k]
            for label, argv, stdin in order:
                if label == WRK_LABEL:
                    r, err = wrk_limit(w.urls[len(w.urls) // 2], j, WRK_SECS)
                    if r is None:
                        log("  wrk -c %d failed: %s" % (j, err))
                    elif rnd >= wu:
                        wrk_runs.append(r)
                    continue
                empty_dir(a.dl)
                m = measure(argv, stdin, timeout=a.timeout)
                why = None
                if m["timeout"]:
                    why = "timed out"
                elif m["rc"] != 0:
                    why = "exit %d" % m["rc"]
                bad = check(a.dl, w)
                if bad:
                    why = (why + "; " if why else "") + bad
                m["ok"] = why is None
                m["why"] = why
                if rnd >= wu:
                    data[label].append(m)
                if why:
                    log("  %s -j %d: FAILED CHECK (%s) %s"
                        % (label, j, why, m["stderr"][-300:]))
        empty_dir(a.dl)
        if wrk_runs:
            lim.setdefault(w.name, {})[j] = {
                "files_s": med([r["files_s"] for r in wrk_runs]),
                "bytes_s": med([r["bytes_s"] for r in wrk_runs]),
                "rounds": len(wrk_runs)}
        rows = []
        for label, argv, _ in cs:
            if label == WRK_LABEL:
                continue
            s = summarize(data[label], w)
            s["label"] = label
            s["jobs"] = j
            s["argv"] = " ".join(argv)
            s["rounds"] = nrounds
            rows.append(s)
            log("  %-16s -j %-3d median %s s (%s..%s) cpu %.3f rss %.1f MiB%s"
                % (label, j, fmt_s(s["median"]), fmt_s(s["min"]),
                   fmt_s(s["max"]), s["cpu"], s["rss_mib"],
                   "" if s["good"] == s["runs"] else
                   "  [%d/%d runs failed the check]"
                   % (s["runs"] - s["good"], s["runs"])))
        results.setdefault(w.name, {})[j] = rows


def limits(loads, jobs_by):
    """The ideal makespans; run_workload adds wrk's rates."""
    out = {}
    for name in ORDER:
        w = loads.get(name)
        if not w or name not in jobs_by or w.kind == "static":
            continue
        for j in jobs_by[name]:
            out.setdefault(name, {})[j] = {"ideal": ideal_makespan(w, j)}
    return out


def memory_runs(a, quick):
    sizes = [10000, 100000] if quick else [10000, a.big]
    out = []
    st = os.statvfs(a.dl)
    room = st.f_bavail * st.f_frsize
    # a 16-byte file takes a page of the tmpfs
    fits = int(room / (4096 * 1.2))
    if sizes[-1] > fits:
        a.big_reason = ("the tmpfs has room for about %d files of one page"
                        % fits)
        a.big = sizes[-1] = max(10000, min(300000, fits))
    for n in sizes:
        lst = os.path.join(a.work, "mem-%d.list" % n)
        with open(lst, "w") as f:
            for i in range(n):
                f.write("http://127.0.0.1:%d/m/%07d\n" % (a.nginx_port, i))
        empty_dir(a.dl)
        log("memory: pdl -j 8, %d URLs on stdin" % n)
        m = measure([a.pdl, "-j", "8", "-q", "--progress", "none",
                     "-o", a.dl, "-"], lst, timeout=1800)
        got = bad = 0
        with os.scandir(a.dl) as it:
            for e in it:
                got += 1
                if e.stat(follow_symlinks=False).st_size != 16:
                    bad += 1
        m["urls"] = n
        m["files"] = got
        m["ok"] = m["rc"] == 0 and got == n and bad == 0
        m["why"] = None if m["ok"] else (
            "exit %d, %d of %d files, %d wrong size" % (m["rc"], got, n,
                                                          bad))
        log("  %d URLs: %.1f s, peak RSS %.2f MiB, cpu %.1f s%s"
            % (n, m["wall"], m["rss_kib"] / 1024, m["cpu"],
               "" if m["ok"] else "  FAILED: %s\n%s" % (m["why"],
                                                       m["stderr"][-600:])))
        out.append(m)
        os.unlink(lst)
        empty_dir(a.dl)
    return out


def jobs_1024(a, w):
    empty_dir(a.dl)
    m = measure([a.pdl, "-j", "1024", "-q", "--progress", "none", "-o",
                 a.dl, w.list_path], timeout=300)
    bad = check(a.dl, w)
    m["ok"] = m["rc"] == 0 and not bad
    m["why"] = None if m["ok"] else "exit %d; %s" % (m["rc"], bad)
    log("-j 1024 on %s: %.3f s, peak RSS %.1f MiB, %s"
        % (w.name, m["wall"], m["rss_kib"] / 1024,
           "ok" if m["ok"] else m["why"]))
    empty_dir(a.dl)
    return m


# --- the report ------------------------------------------------------------------

PEERS = ["curl -Z", "aria2c", "wget2", "xargs curl"]


def best_peer(rows):
    cand = [r for r in rows if r["label"] in PEERS and r["good"] > 0]
    return min(cand, key=lambda r: r["median"]) if cand else None


def row_of(rows, label):
    for r in rows:
        if r["label"] == label:
            return r
    return None


def render(a, loads, results, lim, mem, j1024, meta):
    L = []
    L.append("# pdl benchmark results")
    L.append("")
    L.append("Made by `bench/run.sh%s` on %s. Every figure is this "
             "machine's; rerun to get yours."
             % (" --quick" if a.quick else "", meta["date"]))
    L.append("")
    m = meta["machine"]
    L.append("## Machine and tools")
    L.append("")
    L.append("| | |")
    L.append("| --- | --- |")
    L.append("| CPUs (nproc) | %s |" % m["nproc"])
    L.append("| CPU model | %s |" % m["cpu"])
    L.append("| kernel | %s |" % m["kernel"])
    L.append("| OS | %s |" % m["os"])
    L.append("| memory | %s |" % m["memory"])
    L.append("| load average (1, 5, 15 min) at start / end | %s / %s |"
             % (m["load"], meta.get("load_end", "?")))
    L.append("| downloads and served files | %s |" % a.tmpfs)
    for k, v in meta["versions"].items():
        L.append("| %s | %s |" % (k, v.replace("|", "\\|")))
    L.append("")
    L.append("Method: nginx on 127.0.0.1 (2 workers, keep-alive, sendfile, "
             "no access log) serves the static workloads; "
             "pdl-fixture-server serves the latency-bound ones. Each "
             "(workload, -j) runs %d warm-up round(s) and then %d rounds; "
             "every round runs each contender once, the order rotated by "
             "one each round. Downloads go to a tmpfs directory emptied "
             "before each run, and after each run every expected file is "
             "checked for its size: a run that fails the check is left out "
             "of the figures and the row says so. Wall = monotonic clock "
             "from fork to reaping, taken by a tiny static launcher "
             "(bench/rusage.c); CPU = user+sys of the process and the "
             "children it waited for (wait4 rusage); peak RSS = the "
             "largest of those processes (a fork of the launcher counts "
             "its ~1 MiB before exec). Figures are medians; "
             "`x pdl` = contender's median wall / pdl's at the same -j."
             % (a.warmup, a.runs))
    L.append("")
    L.append("pdl is measured as `bench/run.sh` builds it: a release build "
             "linked statically with the lean libcurl that "
             "`scripts/libcurl.sh` makes from Debian's curl source package "
             "(HTTP, HTTPS, FTP, FTPS) and with OpenSSL (see the README, "
             "\"A leaner build\")." +
             (" The row `%s` (at -j 8 and above) is the same code built "
              "against Debian's shared libcurl, as `meson setup build` "
              "makes it." % PDL_SYSTEM if a.pdl_system else ""))
    L.append("")

    for name in ORDER:
        if name not in results:
            continue
        w = loads[name]
        per = ("%d files x %s%s" % (len(w.urls), human(w.total_bytes
                                                         // len(w.urls)),
                                     " over HTTPS and HTTP/2" if w.ca
                                     else "")
               if w.kind == "static" else
               ("%d URLs x %.1f s (fixture `/dN/0.2`)" % (DELAY_URLS,
                                                           DELAY_S)
                if name == "delay" else
                "5 fireworks: %s s (fixture)" % ", ".join(
                    "%.1f" % s for _, s in FIREWORKS)))
        L.append("## %s: %s" % (name, per))
        L.append("")
        L.append("| contender | -j | median wall (s) | min–max (s) | "
                 "user+sys CPU (s) | peak RSS (MiB) | files/s | MiB/s | "
                 "x pdl | check |")
        L.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
                 "---: | --- |")
        for j, rows in sorted(results[name].items()):
            base = row_of(rows, "pdl")
            for r in rows:
                ratio = (r["median"] / base["median"]
                         if base and base["median"] else float("nan"))
                chk = ("ok %d/%d" % (r["good"], r["runs"])
                       if r["good"] == r["runs"] else
                       "**FAILED %d/%d**: %s" % (r["runs"] - r["good"],
                                                 r["runs"],
                                                 "; ".join(
                                                     x for x in
                                                     r["fail_reasons"]
                                                     if x)))
                lbl = "**%s**" % r["label"] if r["label"].startswith(
                    "pdl") else r["label"]
                L.append("| %s | %d | %s | %s–%s | %.3f | %.1f | %.0f | "
                         "%.1f | %.2f | %s |"
                         % (lbl, j, fmt_s(r["median"]), fmt_s(r["min"]),
                            fmt_s(r["max"]), r["cpu"], r["rss_mib"],
                            r["files_s"], r["mib_s"], ratio, chk))
            li = lim.get(name, {}).get(j)
            if w.kind == "static":
                if li:
                    L.append("| *limit: wrk -c %d* | %d | %s | | | | %.0f | "
                             "%.1f | | |"
                             % (j, j, fmt_s(len(w.urls) / li["files_s"]),
                                li["files_s"], li["bytes_s"] / MiB))
            elif li:
                L.append("| *limit: ideal makespan* | %d | %s | | | | "
                         "%.0f | | | |" % (j, fmt_s(li["ideal"]),
                                           len(w.urls) / li["ideal"]))
        if name == "delay" and 1 in results[name]:
            L.append("")
            L.append("At -j 1 every contender needs %.0f s, so that row is "
                     "one round, no warm-up." % (DELAY_URLS * DELAY_S))
        if w.ca:
            L.append("")
            L.append("The small workload's files from nginx's TLS port "
                     "(`ssl http2`, a P-256 certificate made for the run). "
                     "Every contender verifies it against CAS, the "
                     "system's CA bundle with that certificate added (%d "
                     "certificates, what any download is verified "
                     "against): pdl, curl -Z and xargs curl with "
                     "`CURL_CA_BUNDLE=CAS` in their environment, aria2c "
                     "and wget2 with `--ca-certificate=CAS`. pdl, curl "
                     "and wget2 speak HTTP/2 here, aria2c HTTP/1.1; wrk "
                     "(the limit) HTTP/1.1 over TLS." % count_certs(w.ca))
        if w.kind == "static":
            L.append("")
            L.append("The limit rows: `wrk -t2 -c N -d %ds` (`-t1` at -c 1) "
                     "against one file of this size on the same nginx, "
                     "once in every round at its turn among the "
                     "contenders (the median of the rounds' rates); the "
                     "wall figure is the file count at that rate."
                     % WRK_SECS)
        elif any(r["label"] == BARE_LABEL
                 for rows in results[name].values() for r in rows):
            L.append("")
            L.append("The limit rows: the ideal makespan is the server's "
                     "waits alone, laid longest first on -j lanes. The "
                     "bare client (`bench/bare.c`) is the least a "
                     "downloader can do: one thread, plain HTTP/1.1 "
                     "connections kept alive, each body written to its "
                     "file, no TLS library in the process; it is measured "
                     "and checked as the contenders are. What it spends "
                     "over the ideal is this machine's cost of starting a "
                     "process, connecting and the server's lateness.")
        L.append("")

    L.append("## Memory: pdl -j 8, URL list on stdin")
    L.append("")
    if mem:
        L.append("| URLs | wall (s) | files/s | user+sys CPU (s) | "
                 "peak RSS (MiB) | check |")
        L.append("| ---: | ---: | ---: | ---: | ---: | --- |")
        for r in mem:
            L.append("| %d | %.1f | %.0f | %.1f | %.2f | %s |"
                     % (r["urls"], r["wall"], r["urls"] / r["wall"],
                        r["cpu"], r["rss_kib"] / 1024,
                        "ok" if r["ok"] else "**FAILED**: " + r["why"]))
        L.append("")
        L.append("Each URL is `/m/NNNNNNN` on nginx, the same 16-byte file "
                 "(so every one is downloaded and written as its own file).")
        if not a.quick and a.big != 1000000:
            L.append("The large list has %d URLs, not 1 000 000: %s"
                     % (a.big, a.big_reason))
        L.append("")
    if j1024:
        L.append("`pdl -j 1024` on the small workload: %s s, peak RSS "
                 "%.1f MiB, %s." % (fmt_s(j1024["wall"]),
                                    j1024["rss_kib"] / 1024,
                                    "all files checked" if j1024["ok"]
                                    else "**FAILED**: " + j1024["why"]))
        L.append("")

    L.append("## Targets")
    L.append("")
    L.extend(targets(results, loads, lim, mem))
    L.append("")
    L.append("![sequential vs parallel](seq_vs_par.svg)")
    L.append("")
    L.append("Commands (DIR = the emptied download directory, LIST = the "
             "URL list, CFG = the same URLs as `url = \"...\"` lines):")
    L.append("")
    shown = set()
    for name in ORDER:
        for j, rows in sorted(results.get(name, {}).items()):
            for r in rows:
                if r["label"] in shown:
                    continue
                shown.add(r["label"])
                cmd = (r["argv"].replace(a.dl, "DIR")
                       .replace(loads[name].list_path, "LIST")
                       .replace(loads[name].curl_cfg, "CFG"))
                for binary in filter(None, (a.pdl_system, a.pdl)):
                    cmd = cmd.replace(binary, "pdl")
                if BARE:
                    cmd = cmd.replace(BARE, "bare")
                extra = ""
                if r["label"] == "xargs curl":
                    extra = (" < LIST (-n = min(50, ceil(URLs / N)), so "
                             "that N curls run at once)")
                L.append("- %s: `%s`%s" % (r["label"], cmd, extra))
    L.append("")
    return "\n".join(L)


def count_certs(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if "BEGIN CERTIFICATE" in line)
    except OSError:
        return 0


def human(n):
    for unit, div in (("GiB", 1 << 30), ("MiB", MiB), ("KiB", 1024)):
        if n >= div and n % div == 0:
            return "%d %s" % (n // div, unit)
    return "%d B" % n


def targets(results, loads, lim, mem):
    L = ["| target | pdl | best peer | verdict |",
         "| --- | ---: | ---: | --- |"]

    def get(name, j):
        rows = results.get(name, {}).get(j)
        if not rows:
            return None, None
        return row_of(rows, "pdl"), best_peer(rows)

    def verdict(ok):
        return "met" if ok else "**not met**"

    for name in ("small", "medium"):
        for j in sorted(results.get(name, {})):
            p, b = get(name, j)
            if not p or not b:
                continue
            L.append("| %s -j %d wall ≤ 0.8 × fastest peer | %s s | %s "
                     "%s s (0.8× = %s) | %s |"
                     % (name, j, fmt_s(p["median"]), b["label"],
                        fmt_s(b["median"]), fmt_s(0.8 * b["median"]),
                        verdict(p["good"] and
                                p["median"] <= 0.8 * b["median"])))
    for j in sorted(results.get("large", {})):
        p, b = get("large", j)
        if not p or not b:
            continue
        li = lim.get("large", {}).get(j)
        share = (p["mib_s"] * MiB / li["bytes_s"]) if li and \
            li["bytes_s"] else float("nan")
        L.append("| large -j %d: ≥ fastest peer and ≥ 90%% of the loopback "
                 "limit | %s s, %.0f MiB/s (%.0f%% of limit) | %s %s s | "
                 "%s |"
                 % (j, fmt_s(p["median"]), p["mib_s"], share * 100,
                    b["label"], fmt_s(b["median"]),
                    verdict(p["good"] and p["median"] <= b["median"] and
                            share >= 0.9)))
    for name in ("delay", "fireworks"):
        for j in sorted(results.get(name, {})):
            p, b = get(name, j)
            if not p:
                continue
            ideal = lim[name][j]["ideal"]
            L.append("| %s -j %d within 2%% of ideal %s s | %s s (+%.1f%%) "
                     "| %s | %s |"
                     % (name, j, fmt_s(ideal), fmt_s(p["median"]),
                        (p["median"] / ideal - 1) * 100,
                        "%s %s s (+%.1f%%)" % (b["label"],
                                               fmt_s(b["median"]),
                                               (b["median"] / ideal - 1) *
                                               100) if b else "—",
                        verdict(p["good"] and
                                p["median"] <= ideal * 1.02)))
    # CPU per 1000 files, small workload
    for j in sorted(results.get("small", {})):
        rows = results["small"][j]
        p = row_of(rows, "pdl")
        peers = [r for r in rows if r["label"] in PEERS and r["good"]]
        if not p or not peers:
            continue
        n = len(loads["small"].urls) / 1000
        lo = min(peers, key=lambda r: r["cpu"])
        L.append("| small -j %d CPU s per 1000 files ≤ lowest peer | %.3f "
                 "| %s %.3f | %s |"
                 % (j, p["cpu"] / n, lo["label"], lo["cpu"] / n,
                    verdict(p["cpu"] <= lo["cpu"])))
    # the workloads; https came later and has no target
    for name in (n for n in ORDER if n != "https"):
        rows = results.get(name, {}).get(8)
        if not rows:
            continue
        p = row_of(rows, "pdl")
        peers = [r for r in rows if r["label"] in PEERS and r["good"]]
        lo = min(peers, key=lambda r: r["rss_mib"]) if peers else None
        L.append("| %s -j 8 peak RSS ≤ 8 MiB | %.1f MiB | %s | %s |"
                 % (name, p["rss_mib"],
                    "%s %.1f MiB" % (lo["label"], lo["rss_mib"])
                    if lo else "—", verdict(p["rss_mib"] <= 8)))
    if len(mem) >= 2:
        a, b = mem[0], mem[-1]
        grow = b["rss_kib"] / a["rss_kib"] - 1
        L.append("| peak RSS flat (≤ +10%%) from %d to %d URLs | %.2f → "
                 "%.2f MiB (%+.1f%%) | — | %s |"
                 % (a["urls"], b["urls"], a["rss_kib"] / 1024,
                    b["rss_kib"] / 1024, grow * 100,
                    verdict(a["ok"] and b["ok"] and grow <= 0.10)))
    return L


def chart(a, results, out_svg):
    """Sequential vs parallel wall time by -j, one panel per workload."""
    # a workload measured at one -j only (https) has no line to draw
    names = [n for n in ORDER if len(results.get(n, {})) > 1]
    if not names or not shutil.which("gnuplot"):
        return False
    dat = os.path.join(a.work, "chart.dat")
    with open(dat, "w") as f:
        for name in names:
            seq = None
            js = sorted(results[name])
            for j in js:
                r = row_of(results[name][j], "pdl --sequential")
                if r:
                    seq = r["median"]
            f.write("# %s\n" % name)
            for j in js:
                rows = results[name][j]
                p = row_of(rows, "pdl")
                b = best_peer(rows)
                f.write("%d %.6f %s %s\n"
                        % (j, p["median"],
                           "%.6f" % seq if seq else "NaN",
                           "%.6f" % b["median"] if b else "NaN"))
            f.write("\n\n")
    cols = 3
    nrows = (len(names) + cols - 1) // cols
    gp = os.path.join(a.work, "chart.gp")
    with open(gp, "w") as f:
        f.write('set terminal svg size %d,%d dynamic font "sans,11"\n'
                % (500 * cols, 300 * nrows))
        f.write('set output "%s"\n' % out_svg)
        f.write('set multiplot layout %d,%d title "pdl: sequential (-s) vs '
                'parallel (-j N) median wall time, with the fastest peer"\n'
                % (nrows, cols))
        f.write("set logscale x 2\nset logscale y\nset grid\n"
                "set key outside right top vertical font \",9\"\n"
                "set xlabel \"-j\"\nset ylabel \"seconds\"\n"
                "set xrange [0.8:48]\n"
                "set xtics (\"1\" 1, \"8\" 8, \"32\" 32)\n")
        for i, name in enumerate(names):
            f.write('set title "%s"\n' % name)
            f.write('plot "%s" index %d using 1:2 with linespoints lw 2 '
                    'pt 7 title "pdl -j N", '
                    '"" index %d using 1:3 with linespoints lw 2 pt 5 '
                    'title "pdl -s", '
                    '"" index %d using 1:4 with linespoints lw 1 pt 6 '
                    'title "best peer"\n' % (dat, i, i, i))
        f.write("unset multiplot\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode:
        log("gnuplot failed: " + r.stderr.strip())
        return False
    return True


def wait_http(url, secs=10):
    end = time.monotonic() + secs
    while True:
        try:
            fetch_len(url)
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def replot(results_dir):
    """Redraws seq_vs_par.svg from latest.json (no servers needed)."""
    with open(os.path.join(results_dir, "latest.json")) as f:
        data = json.load(f)
    results = {name: {int(j): rows for j, rows in per.items()}
               for name, per in data["results"].items()}
    a = argparse.Namespace(work=tempfile.mkdtemp(prefix="bench-plot-"))
    try:
        return chart(a, results, os.path.join(results_dir,
                                              "seq_vs_par.svg"))
    finally:
        shutil.rmtree(a.work)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--replot":
        sys.exit(0 if replot(sys.argv[2]) else 1)
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdl", required=True)
    ap.add_argument("--pdl-system", default=None,
                    help="pdl built against Debian's shared libcurl: an "
                    "extra row at -j 8 and above")
    ap.add_argument("--nginx", default="nginx")
    ap.add_argument("--nginx-port", type=int, required=True)
    ap.add_argument("--fixture-port", type=int, required=True)
    ap.add_argument("--tls-port", type=int, default=0,
                    help="nginx's TLS port: the https workload")
    ap.add_argument("--ca", default=None,
                    help="the certificate of --tls-port, to trust")
    ap.add_argument("--www", required=True)
    ap.add_argument("--dl", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--tmpfs", default="?")
    ap.add_argument("--results", required=True)
    ap.add_argument("--rusage", required=True,
                    help="the launcher built from bench/rusage.c")
    ap.add_argument("--bare", default=None,
                    help="the client built from bench/bare.c: a limit row "
                    "for the latency-bound workloads")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--runs", type=int, default=0)
    ap.add_argument("--big", type=int, default=1000000,
                    help="URLs in the large memory run")
    ap.add_argument("--timeout", type=int, default=180)
    a = ap.parse_args()
    a.runs = a.runs or (3 if a.quick else 5)
    global RUSAGE, WORK, BARE
    RUSAGE, WORK, BARE = a.rusage, a.work, a.bare
    a.warmup = 1
    a.big_reason = ""
    os.environ["LC_ALL"] = "C"
    # keep contenders' own config files out of it
    os.environ["HOME"] = a.work
    os.environ.pop("http_proxy", None)
    os.environ.pop("HTTP_PROXY", None)
    os.environ.pop("all_proxy", None)
    # what to trust is the https workload's to say, for every contender
    for var in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        os.environ.pop(var, None)

    started = time.monotonic()
    meta = {"date": datetime.datetime.now().astimezone().strftime(
        "%Y-%m-%d %H:%M %Z"), "machine": machine(),
        "versions": tool_versions(a.pdl, a.nginx, a.pdl_system)}
    os.makedirs(a.results, exist_ok=True)

    log("generating workloads")
    loads = make_static(a.www, a.nginx_port, a.tls_port, a.ca)
    wait_http("http://127.0.0.1:%d/tiny.bin" % a.nginx_port)
    loads.update(make_latency(a.fixture_port))
    for w in loads.values():
        w.write_lists(a.work)

    jobs_by = dict(QUICK_JOBS if a.quick else FULL_JOBS)
    if "https" not in loads:
        jobs_by.pop("https")
    only = [x for x in a.only.split(",") if x]
    extras = {"memory", "j1024"}
    if only:
        bad = [x for x in only if x not in jobs_by and x not in extras]
        if bad:
            ap.error("unknown workload(s): %s (choose from %s)"
                     % (", ".join(bad), ", ".join(ORDER + sorted(extras))))
        jobs_by = {k: v for k, v in jobs_by.items() if k in only}

    lim = limits(loads, jobs_by)
    results = {}
    for name in ORDER:
        if name in jobs_by:
            run_workload(a, loads[name], jobs_by[name], a.runs, a.warmup,
                         results, lim)
    mem = []
    j1024 = None
    if not only or "memory" in only:
        mem = memory_runs(a, a.quick)
    if not only or "j1024" in only:
        j1024 = jobs_1024(a, loads["small"])

    meta["load_end"] = loadavg()
    md = render(a, loads, results, lim, mem, j1024, meta)
    elapsed = time.monotonic() - started
    md += "\nThe whole benchmark took %.0f s.\n" % elapsed
    latest = os.path.join(a.results, "latest.md")
    with open(latest, "w") as f:
        f.write(md)
    chart(a, results, os.path.join(a.results, "seq_vs_par.svg"))
    with open(os.path.join(a.results, "latest.json"), "w") as f:
        json.dump({"meta": meta, "quick": a.quick, "results": results,
                   "limits": lim, "memory": mem, "j1024": j1024}, f,
                  indent=1, default=str)
    log("wrote %s (%.0f s)" % (latest, elapsed))
    print(md)


if __name__ == "__main__":
    main()
