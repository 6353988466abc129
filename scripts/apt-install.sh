#!/usr/bin/env bash
# Installs the Debian packages named that are not installed yet, for
# scripts/setup.sh, scripts/libcurl.sh and bench/run.sh:
#
#	scripts/apt-install.sh PACKAGE...
#
# Servers among them (nginx, vsftpd) are not started as system services:
# Debian starts a daemon on install (nginx on port 80, vsftpd on port 21 of
# every interface) unless /usr/sbin/policy-rc.d says no, so one saying no
# is in place for the install when there is none. The tests and the
# benchmark start their own servers on 127.0.0.1.
#
# Run as root or with sudo available. Exits with apt-get's status.
set -euo pipefail

missing=()
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
printf 'apt-install: installing %s\n' "${missing[*]}" >&2

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
	$sudo chmod 755 "$policy"
	trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
