#!/usr/bin/env bash
# Installs what pdl needs to build and test on Debian 12 (when missing), then
# configures and builds it in build/. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc meson ninja-build pkg-config libcurl4-openssl-dev
          libmicrohttpd-dev zlib1g-dev libssl-dev python3 curl openssl)
packages+=("$@")

scripts/apt-install.sh "${packages[@]}"

if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built build/src/pdl"
