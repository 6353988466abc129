#!/usr/bin/env bash
# Builds and runs pdl's libFuzzer harnesses for a bounded time.
#
#   tests/fuzz/run.sh BUILDDIR SECONDS
#
# Configures BUILDDIR as a clang meson build with ASan+UBSan (so the library
# sources are checked to compile under clang and sanitizers), compiles each
# harness with -fsanitize=fuzzer,address,undefined against the few src/*.c
# files it needs, runs it for SECONDS seconds on a copy of its seed corpus,
# and writes BUILDDIR/meson-logs/testlog.json (one meson-style JSON line per
# fuzzer, "OK" or "FAIL") for CI's counting. Crashing inputs are kept in
# BUILDDIR/fuzz/artifacts/. Exits non-zero when a fuzzer failed.
#
# Needs clang and Debian's libclang-rt-14-dev (the libFuzzer runtime).
set -uo pipefail

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BUILDDIR SECONDS" >&2
    exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
builddir="$1"
seconds="$2"
case "$builddir" in /*) ;; *) builddir="$src/$builddir" ;; esac

# harness name and the library sources it links
declare -A sources=(
    [fuzz_line]="src/urllist.c"
    [fuzz_name]="src/naming.c src/outdir.c"
)
# the seed corpus directory of each
declare -A corpus=(
    [fuzz_line]="line"
    [fuzz_name]="name"
)

command -v clang >/dev/null || { echo "$0: clang not found" >&2; exit 1; }

cd "$src" || exit 1
if [ ! -f "$builddir/build.ninja" ]; then
    CC=clang meson setup "$builddir" -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$builddir" >/dev/null || { echo "$0: build failed" >&2; exit 1; }

work="$builddir/fuzz"
mkdir -p "$work/artifacts" "$builddir/meson-logs"
log="$builddir/meson-logs/testlog.json"
: > "$log"
status=0

# One meson-compatible result line.
result() {
    /usr/bin/python3 - "$log" "$1" "$2" "$3" "$4" <<'PY'
import json, sys
log, name, result, secs, out = sys.argv[1:]
with open(log, "a") as f:
    f.write(json.dumps({"name": name, "result": result, "suite": ["fuzz"],
                        "duration": float(secs), "returncode":
                        0 if result == "OK" else 1, "stdout": out}) + "\n")
PY
}

for name in fuzz_line fuzz_name; do
    exe="$work/$name"
    # shellcheck disable=SC2086
    if ! clang -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -D_GNU_SOURCE -Isrc \
        -o "$exe" "tests/fuzz/$name.c" ${sources[$name]} -lcurl -lpthread \
        2> "$work/$name.build.log"; then
        cat "$work/$name.build.log" >&2
        result "$name" FAIL 0 "build failed"
        status=1
        continue
    fi
    runcorpus="$work/corpus-${corpus[$name]}"
    rm -rf "$runcorpus"
    mkdir -p "$runcorpus"
    cp "tests/fuzz/corpus/${corpus[$name]}/"* "$runcorpus/"
    start=$(date +%s)
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=1" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:halt_on_error=1:print_stacktrace=1" \
        "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/artifacts/$name-" \
        "$runcorpus" > "$work/$name.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        echo "$name: OK ($(grep -o 'Done [0-9]* runs' "$work/$name.log"))"
        result "$name" OK "$took" "$(tail -n 3 "$work/$name.log")"
    else
        echo "$name: FAIL (exit $rc), see $work/$name.log" >&2
        grep -E 'invariant failed|ERROR:|SUMMARY:' "$work/$name.log" >&2
        result "$name" FAIL "$took" "$(tail -n 40 "$work/$name.log")"
        status=1
    fi
done
exit $status
