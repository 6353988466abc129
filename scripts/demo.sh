#!/usr/bin/env bash
# The fireworks show: five slow downloads from the bundled server, first one
# after another, then all at once, with both wall times and the speed-up.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

out=$(mktemp -d /tmp/pdl-demo.XXXXXX)
port=8314
build/fixtures/pdl-fixture-server --port "$port" --root fixtures/files \
    > "$out/port" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$out"' EXIT
for _ in $(seq 50); do [ -s "$out/port" ] && break; sleep 0.1; done
if [ ! -s "$out/port" ]; then
    echo "demo: the fixture server did not start (is port $port free?)" >&2
    exit 1
fi

echo "== the fireworks show, one at a time, then with -j 5 =="
build/src/pdl --compare -j 5 -o "$out/show" fixtures/fireworks.txt
echo
echo "== what landed =="
ls -l "$out/show"
echo
cat "$out/show/Pistil"
