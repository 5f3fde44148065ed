#!/bin/sh
# Soak: serves /healthz under continuous load (wrk, 64 connections, reconnecting) and a stream
# of malformed requests for SECONDS, sampling the server's RSS and open descriptors. Fails if
# the server dies, if RSS grows by more than 20% between the first and the last quarter of the
# run, or if descriptors keep growing.
# Usage: tests/soak.sh KURA_BIN SECONDS
set -eu
kura=$1
seconds=$2
dir=$(mktemp -d /tmp/kura-soak-XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT INT TERM
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$kura" init --data "$dir/d" --admin soak --admin-password-file "$dir/otp" >/dev/null
sed -i "s|^public_url = .*|public_url = https://localhost:$port|" "$dir/d/kura.conf"
sed -i "s|^per_ip_connections = .*|per_ip_connections = 0|" "$dir/d/kura.conf"
"$kura" serve --data "$dir/d" --listen "127.0.0.1:$port" 2>"$dir/log" &
pid=$!
i=0
until grep -q event=listening "$dir/log"; do
    i=$((i + 1)); [ $i -lt 300 ] || { cat "$dir/log"; exit 1; }
    kill -0 $pid || { cat "$dir/log"; exit 1; }
    sleep 0.1
done
wrk -t2 -c64 -d"${seconds}s" "https://localhost:$port/healthz" >"$dir/wrk" &
wrkpid=$!
end=$(($(date +%s) + seconds))
: >"$dir/samples"
while [ "$(date +%s)" -lt "$end" ]; do
    # hostile traffic mixed in: traversal, smuggling, oversized headers
    curl -sk --path-as-is -o /dev/null "https://localhost:$port/a/../b" || true
    curl -sk -o /dev/null -H 'Content-Length: 1' -H 'Content-Length: 2' "https://localhost:$port/healthz" || true
    kill -0 $pid || { echo "soak: server died"; tail -50 "$dir/log"; exit 1; }
    rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
    fds=$(ls /proc/$pid/fd | wc -l)
    echo "$(date +%s) $rss $fds" >>"$dir/samples"
    sleep 5
done
wait $wrkpid || true
cat "$dir/wrk"
kill -TERM $pid
wait $pid || { echo "soak: server did not exit 0"; exit 1; }
awk -v n="$(wc -l <"$dir/samples")" '
    NR <= n/4 { a += $2; an++ } NR > 3*n/4 { b += $2; bn++; fd = $3 } NR == 1 { fd0 = $3 }
    END {
        if (an == 0 || bn == 0) { print "soak: too short to judge"; exit 0 }
        ra = a/an; rb = b/bn
        printf "soak: RSS first quarter %.0f KiB, last quarter %.0f KiB (%.1f%%); fds %d -> %d\n", ra, rb, (rb-ra)*100/ra, fd0, fd
        if (rb > ra * 1.2) { print "soak: RSS grew more than 20%"; exit 1 }
        if (fd > fd0 + 200) { print "soak: descriptors grew"; exit 1 }
    }' "$dir/samples"
