#!/usr/bin/env bash
# Builds pdl (installing what is missing) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh nginx-light python3-pyftpdlib vsftpd strace iproute2
meson test -C build --print-errorlogs "$@"
