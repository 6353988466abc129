#!/usr/bin/env bash
# Builds the lean libcurl pdl can link statically: Debian's own curl source
# package (the release Debian ships, with all of Debian's security patches
# applied by dpkg-source), configured with only what pdl uses: HTTP, HTTPS,
# FTP and FTPS over OpenSSL, HTTP/2 (nghttp2), IDN (libidn2), proxies, IPv6
# and the threaded resolver (and file://, so that a redirect there is
# refused by --proto like any other scheme instead of failing to parse).
# Without LDAP, RTMP, SSH, GSS-API/Kerberos, PSL and the compression
# libraries, libcurl needs 6 shared libraries instead of 33 (see
# bench/NOTES.md: start-up and peak RSS).
#
#	scripts/libcurl.sh [PREFIX]        (default: build-libcurl/ in the tree)
#
# Then: meson setup build --pkg-config-path=PREFIX/lib/pkgconfig
#
# OpenSSL and nghttp2 are linked statically too, from Debian's libssl-dev
# and libnghttp2-dev (libcurl.pc names their archives, through links in
# PREFIX/lib). pdl then maps libidn2, libunistring and libc only, starts in
# about 4 ms instead of 5 and peaks about 0.9 MiB lower (bench/NOTES.md).
# Their security fixes reach pdl when it is linked again: ninja relinks it
# when those files change.
#
# It installs what is missing with apt-get (adding deb-src entries for the
# machine's own Debian mirrors when apt has none), so run it as root or with
# sudo. A PREFIX already built from the same source package is kept.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${1:-$root/build-libcurl}
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
work=$prefix/src
say() { printf 'libcurl: %s\n' "$*" >&2; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive

"$root/scripts/apt-install.sh" gcc make pkg-config dpkg-dev libssl-dev \
	libnghttp2-dev libidn2-dev ca-certificates

# Source entries: the same mirrors and suites as the binary ones.
has_source() { apt-cache showsrc curl 2>/dev/null | grep -c '^Package: curl$' >/dev/null; }
if ! has_source; then
	say "adding deb-src entries for apt"
	list=$(mktemp)
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "${f##*/}" != pdl-deb-src.sources ] || continue
		sed -n 's/^Types:.*\bdeb\b.*$/Types: deb-src/; p' "$f" >>"$list"
		echo >>"$list"
	done
	if grep -q '^Types: deb-src' "$list"; then
		$sudo cp "$list" /etc/apt/sources.list.d/pdl-deb-src.sources
	fi
	: >"$list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && [ "${f##*/}" != pdl-deb-src.list ] || continue
		sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f" >>"$list"
	done
	if [ -s "$list" ]; then
		$sudo cp "$list" /etc/apt/sources.list.d/pdl-deb-src.list
	fi
	rm -f "$list"
	$sudo chmod 644 /etc/apt/sources.list.d/pdl-deb-src.* 2>/dev/null || true
	$sudo apt-get update -qq
fi
version=$(apt-cache showsrc curl | sed -n 's/^Version: //p' | sort -V | tail -1)
[ -n "$version" ] || { say "apt knows no source package curl"; exit 1; }

# The source package and this script (its configuration) make the build.
stamp=$prefix/lib/pkgconfig/.pdl-source
want="$version $(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
	[ -f "$prefix/lib/libcurl.a" ]; then
	say "$prefix has curl $version already"
	echo "$prefix/lib/pkgconfig"
	exit 0
fi

say "fetching and unpacking curl $version (Debian source package)"
rm -rf "$work"
mkdir -p "$work"
# apt drops privileges to _apt for downloads: let it write there.
chmod 755 "$work"
chown _apt "$work" 2>/dev/null || true
(cd "$work" && apt-get source -qq --download-only "curl=$version" >/dev/null 2>&1) ||
	{ say "apt-get source curl=$version failed"; exit 1; }
dsc=$(ls "$work"/curl_*.dsc)
# apt checked the files against the signed index; dpkg-source, which has no
# keyring for the signature on the .dsc, would only warn that it cannot.
dpkg-source -x "$dsc" "$work/curl" >"$work/unpack.log" 2>&1 ||
	{ say "dpkg-source failed, see $work/unpack.log"; exit 1; }

# libcurl hands the body to the write callback in pieces of at most
# CURL_MAX_WRITE_SIZE, 16 KiB unless set at build time (curl.h leaves it to
# the builder): 32 callbacks and 32 write() calls for each 512 KiB that one
# recv() brought. As large as the receive buffer (CURL_MAX_READ_SIZE), a
# piece is what one read got, written with one call (bench/NOTES.md). The
# upload buffer's minimum follows it; pdl does not upload.
write_size=-DCURL_MAX_WRITE_SIZE=524288
say "configuring (HTTP, HTTPS, FTP, FTPS; static)"
cd "$work/curl"
./configure --prefix="$prefix" --disable-shared --enable-static \
	--with-openssl --with-nghttp2 --with-libidn2 \
	--with-ca-path=/etc/ssl/certs \
	--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
	--enable-threaded-resolver --enable-ipv6 \
	--disable-ldap --disable-ldaps --disable-rtsp --disable-dict \
	--disable-telnet --disable-tftp --disable-pop3 --disable-imap \
	--disable-smb --disable-smtp --disable-gopher --disable-mqtt \
	--disable-manual --disable-cookies --disable-alt-svc \
	--disable-hsts --disable-netrc \
	--without-zlib --without-brotli --without-zstd --without-libpsl \
	--without-librtmp --without-libssh2 --without-libssh --without-gssapi \
	CFLAGS="-O2 -fstack-protector-strong" \
	CPPFLAGS="-D_FORTIFY_SOURCE=2 $write_size" >"$work/configure.log" 2>&1 ||
	{ say "configure failed, see $work/configure.log"; exit 1; }
for p in HTTP HTTPS FTP FTPS FILE; do
	grep -q "Protocols:.* $p\\b" "$work/configure.log" ||
		{ say "configure left out $p"; exit 1; }
done
for p in HTTP2 IDN IPv6 AsynchDNS SSL; do
	grep -q "Features:.* $p\\b" "$work/configure.log" ||
		{ say "configure left out $p"; exit 1; }
done

say "building"
make -j"$(nproc)" -C lib >"$work/make.log" 2>&1 ||
	{ say "make failed, see $work/make.log"; exit 1; }
make -C lib install >/dev/null
make -C include install >/dev/null
make install-pkgconfigDATA >/dev/null
# What is built in, a program compiled against this libcurl sees too.
sed -i "s/^Cflags: .*/& $write_size/" "$prefix/lib/pkgconfig/libcurl.pc"
# OpenSSL and nghttp2 by their archives, named by path (meson would take
# the shared library for -lssl), through links in PREFIX/lib.
for l in ssl crypto nghttp2; do
	path=$(readlink -f "$(gcc -print-file-name="lib$l.a")")
	[ "${path#/}" != "$path" ] && [ -f "$path" ] ||
		{ say "no static lib$l.a (libssl-dev, libnghttp2-dev)"; exit 1; }
	ln -sfn "$path" "$prefix/lib/lib$l.a"
	sed -i "/^Libs/s|-l$l\b|\${libdir}/lib$l.a|g" \
		"$prefix/lib/pkgconfig/libcurl.pc"
done
echo "$want" >"$stamp"
say "built $prefix/lib/libcurl.a"
echo "$prefix/lib/pkgconfig"
