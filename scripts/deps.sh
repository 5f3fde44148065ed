#!/bin/sh
# Installs the Debian 12 packages kura needs, and only those missing.
# Usage: scripts/deps.sh [build|test|fuzz|bench|analyze|all]...   (default: build)
# Idempotent and quiet when everything is present; needs root (or sudo) only
# when something must be installed.
set -eu

build_pkgs="gcc make meson ninja-build pkg-config python3
 libmicrohttpd-dev libgnutls28-dev libsodium-dev libssl-dev libsqlite3-dev
 libjansson-dev libcurl4-gnutls-dev libqrencode-dev libutf8proc-dev libcrack2-dev
 libexpat1-dev cracklib-runtime"
test_pkgs="libcmocka-dev python3-pytest python3-requests gnutls-bin openssl
 sqlite3 util-linux procps clang-format python3-aiosmtpd golang-go golang-golang-x-mod-dev
 rsyslog rsyslog-gnutls python3-nacl
 litmus rclone cadaver"
fuzz_pkgs="clang-14 libclang-rt-14-dev"
bench_pkgs="wrk lighttpd lighttpd-mod-openssl lighttpd-mod-webdav nginx
 libnginx-mod-http-dav-ext apache2-utils curl"
analyze_pkgs="cppcheck"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
    case "$group" in
    build) want="$want $build_pkgs" ;;
    test) want="$want $build_pkgs $test_pkgs" ;;
    fuzz) want="$want $build_pkgs $fuzz_pkgs" ;;
    bench) want="$want $build_pkgs $bench_pkgs" ;;
    analyze) want="$want $build_pkgs $analyze_pkgs" ;;
    all) want="$want $build_pkgs $test_pkgs $fuzz_pkgs $bench_pkgs $analyze_pkgs" ;;
    *) echo "deps.sh: unknown group '$group' (build, test, fuzz, bench, analyze, all)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "deps.sh: missing packages:$missing; run as root or install sudo" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A stale package list makes apt-get install fail on a fresh machine.
$sudo apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
