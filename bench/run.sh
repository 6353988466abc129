#!/usr/bin/env bash
# pdl's benchmark against curl, wget2 and aria2 on this machine, in one
# command:
#
#	bench/run.sh [--quick] [--only WORKLOAD[,WORKLOAD...]] [--no-install]
#
# It installs what it needs from Debian when missing, builds pdl in release
# mode twice (build-bench/ with the lean libcurl of scripts/libcurl.sh,
# build-bench-system/ on Debian's shared libcurl), starts nginx (its own
# config and prefix in a temporary directory) and pdl's fixture server on
# 127.0.0.1, runs bench/bench.py and stops both servers by PID on the way
# out. Results: bench/results/latest.md and bench/results/seq_vs_par.svg.
# See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
build=${PDL_BENCH_BUILD:-$root/build-bench}
py=/usr/bin/python3
install=1
args=()

usage() {
	sed -n '2,13s/^# \{0,1\}//p' "$0"
}

while [ $# -gt 0 ]; do
	case $1 in
	--quick) args+=(--quick) ;;
	--only)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		args+=(--only "$2")
		shift
		;;
	--only=*) args+=(--only "${1#--only=}") ;;
	--no-install) install=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

say() { printf 'bench: %s\n' "$*" >&2; }

# --- tools -----------------------------------------------------------------
# command, then the Debian package that has it
need=(
	"aria2c aria2"
	"wget2 wget2"
	"curl curl"
	"hyperfine hyperfine"
	"gnuplot gnuplot-nox"
	"wrk wrk"
	"/usr/bin/time time"
	"meson meson"
	"ninja ninja-build"
	"cc gcc"
	"pkg-config pkg-config"
	"$py python3"
	"openssl openssl"
)
missing=()
for pair in "${need[@]}"; do
	set -- $pair
	command -v "$1" >/dev/null 2>&1 || missing+=("$2")
done
have_nginx=1
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || have_nginx=0
if ! pkg-config --exists libcurl 2>/dev/null; then
	missing+=(libcurl4-openssl-dev)
fi
if ! pkg-config --exists libmicrohttpd 2>/dev/null; then
	missing+=(libmicrohttpd-dev)
fi
if [ ${#missing[@]} -gt 0 ] || [ $have_nginx = 0 ]; then
	if [ $install = 0 ]; then
		say "missing: ${missing[*]} $([ $have_nginx = 0 ] && echo nginx)"
		exit 3
	fi
	say "installing from Debian: ${missing[*]} $([ $have_nginx = 0 ] && echo nginx-light)"
	"$root/scripts/apt-install.sh" "${missing[@]}"
	if [ $have_nginx = 0 ]; then
		"$root/scripts/apt-install.sh" nginx-light 2>/dev/null ||
			"$root/scripts/apt-install.sh" nginx
	fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# --- pdl, release builds -----------------------------------------------------
# "pdl": linked with the lean libcurl of scripts/libcurl.sh (built from
# Debian's curl source package); "pdl, Debian's libcurl": the same code on
# Debian's shared libcurl, as a plain `meson setup build` makes it.
cd "$root"
release() { # build dir, then meson's pkg-config path ("" for the system's)
	if [ -f "$1/build.ninja" ]; then
		# Meson keeps the libcurl it found: look again, for a lean
		# libcurl that scripts/libcurl.sh has rebuilt since.
		meson configure --clearcache "$1"
		meson setup --reconfigure "$1" --buildtype=release \
			--pkg-config-path="$2" >/dev/null
	else
		meson setup "$1" --buildtype=release \
			--pkg-config-path="$2" >/dev/null
	fi
	ninja -C "$1" src/pdl fixtures/pdl-fixture-server >/dev/null
}
if [ $install = 1 ]; then
	say "the lean libcurl (scripts/libcurl.sh)"
	lean_pc=$("$root/scripts/libcurl.sh" "$root/build-libcurl")
elif [ -f "$root/build-libcurl/lib/libcurl.a" ]; then
	lean_pc=$root/build-libcurl/lib/pkgconfig
else
	say "missing: the lean libcurl (scripts/libcurl.sh builds it)"
	exit 3
fi
release "$build" "$lean_pc"
release "$build-system" ""
pdl=$build/src/pdl
pdl_system=$build-system/src/pdl
fixture=$build/fixtures/pdl-fixture-server

# --- scratch space: a tmpfs for the served files and the downloads ----------
tmp=$(mktemp -d /tmp/pdl-bench.XXXXXX)
chmod 755 "$tmp"
mnt=$tmp/mnt
mkdir -p "$mnt"
mounted=0
shm_space=
nginx_pid=
fixture_pid=

cleanup() {
	set +e
	if [ -n "$nginx_pid" ]; then
		kill -TERM "$nginx_pid" 2>/dev/null
		wait "$nginx_pid" 2>/dev/null
	fi
	if [ -n "$fixture_pid" ]; then
		kill -TERM "$fixture_pid" 2>/dev/null
		wait "$fixture_pid" 2>/dev/null
	fi
	[ $mounted = 1 ] && umount "$mnt" 2>/dev/null
	[ -n "$shm_space" ] && rm -rf "$shm_space"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 1 000 000 files of 16 bytes take a 4 KiB page each: ~4 GiB, plus the
# served files and one workload's downloads; pages are only used when
# written, so the size is a cap, not a reservation.
tmpfs_size=$(awk '/^MemAvailable:/ { m = int($2 / 1024 / 2); print (m > 8192 ? 8192 : m) "m" }' /proc/meminfo)
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o "size=$tmpfs_size,mode=755" pdl-bench "$mnt" 2>/dev/null; then
	mounted=1
	space=$mnt
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
	space=$(mktemp -d /dev/shm/pdl-bench.XXXXXX)
	shm_space=$space
	chmod 755 "$space"
else
	say "no tmpfs available (not root and no /dev/shm): using $mnt"
	space=$mnt
fi
www=$space/www
dl=$space/dl
mkdir -p "$www" "$dl"
chmod 755 "$www"

free_port() {
	"$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- nginx ---------------------------------------------------------------------
ngx=$tmp/nginx
mkdir -p "$ngx/logs" "$ngx/tmp"
nginx_port=$(free_port)
tls_port=$(free_port)
# the https workload's certificate, which every contender is told to trust
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$ngx/key.pem" -out "$ngx/cert.pem" -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
# what the contenders trust: the system's CAs, as for any download, and it
sys_ca=/etc/ssl/certs/ca-certificates.crt
cat $([ -r $sys_ca ] && echo $sys_ca) "$ngx/cert.pem" >"$ngx/trust.pem"
cat >"$ngx/nginx.conf" <<EOF
worker_processes 2;
worker_rlimit_nofile 65536;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events {
	worker_connections 8192;
}
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 120s;
	keepalive_requests 10000000;
	open_file_cache max=10000 inactive=120s;
	types { }
	default_type application/octet-stream;
	client_body_temp_path $ngx/tmp/body;
	proxy_temp_path $ngx/tmp/proxy;
	fastcgi_temp_path $ngx/tmp/fastcgi;
	uwsgi_temp_path $ngx/tmp/uwsgi;
	scgi_temp_path $ngx/tmp/scgi;
	server {
		listen 127.0.0.1:$nginx_port backlog=4096;
		root $www;
		# /m/<anything>: the same 16-byte file, for the memory runs
		location /m/ {
			try_files /tiny.bin =404;
		}
	}
	server {
		listen 127.0.0.1:$tls_port ssl http2 backlog=4096;
		ssl_certificate $ngx/cert.pem;
		ssl_certificate_key $ngx/key.pem;
		root $www;
	}
}
EOF
# the master stays in the foreground so that its PID is ours to stop
"$nginx_bin" -p "$ngx" -c "$ngx/nginx.conf" -g 'daemon off;' \
	2>>"$ngx/logs/error.log" &
nginx_pid=$!

# --- fixture server ----------------------------------------------------------
"$fixture" --port 0 --bind 127.0.0.1 --port-file "$tmp/fixture.port" \
	>/dev/null &
fixture_pid=$!

for _ in $(seq 100); do
	[ -s "$tmp/fixture.port" ] && break
	sleep 0.05
done
[ -s "$tmp/fixture.port" ] || { say "fixture server did not start"; exit 3; }
fixture_port=$(cat "$tmp/fixture.port")

# the launcher that measures each run (see bench/rusage.c)
cc -O2 -static -o "$tmp/rusage" "$here/rusage.c" 2>/dev/null ||
	cc -O2 -o "$tmp/rusage" "$here/rusage.c"
# the limit row of the latency-bound workloads (see bench/bare.c)
cc -O2 -o "$tmp/bare" "$here/bare.c"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

"$py" "$here/bench.py" \
	--pdl "$pdl" --pdl-system "$pdl_system" --nginx "$nginx_bin" --rusage "$tmp/rusage" \
	--bare "$tmp/bare" \
	--nginx-port "$nginx_port" --fixture-port "$fixture_port" \
	--tls-port "$tls_port" --ca "$ngx/trust.pem" \
	--www "$www" --dl "$dl" --work "$tmp" \
	--tmpfs "$([ $mounted = 1 ] && echo "tmpfs mounted at $mnt" || echo "$space")" \
	--results "$here/results" "${args[@]}"
