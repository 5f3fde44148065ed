#!/usr/bin/env bash
# bench/healthz.sh: requests/s and latency of `GET /healthz` on kura over
# HTTPS, measured in the same run as lighttpd serving the same bytes as a
# static file over HTTPS, with kura's own certificate and matching TLS
# settings, so that both sides pay the same handshake and record costs.
#
# Usage: bench/healthz.sh          (settings through the environment)
#   DURATION=10s     length of each measurement (wrk -d)
#   WARMUP=3s        warm-up run before each measurement; 0 skips it
#   CONNECTIONS=64   wrk -c
#   THREADS=2        wrk -t
#   ROUNDS=2         measurements per server, alternating lighttpd, kura,
#                    lighttpd, kura, ...; the figure reported is the median
#   KEEPALIVE=1      0 sends "Connection: close": one TLS handshake per request
#   KURA_BUILD_DIR=build   where the release build lives (KURA_BIN=$KURA_BUILD_DIR/kura)
#   KURA_BUILD=1     build kura when $KURA_BIN is missing; 0 never builds
#   LIGHTTPD_KEEPALIVE_REQUESTS=   server.max-keep-alive-requests for
#                    lighttpd; empty keeps lighttpd's default (1000)
#   SERVER_CPUS= WRK_CPUS=   optional `taskset -c` CPU lists; default no pinning
#   READY_ATTEMPTS=200       readiness polls per server, 0.1 s apart
#   OUT_DIR=bench/out        where results go (git-ignored)
#
# Output: a table on stdout; the raw wrk outputs, server logs, summary.txt
# and summary.json in $OUT_DIR/healthz-<UTC time>/; the JSON line is also
# appended to $OUT_DIR/healthz.jsonl.
#
# Exit status: 0 both servers measured without errors; 3 kura missing or not
# working (the lighttpd half is still measured and reported); 4 measured, but
# a run saw socket errors or non-2xx answers, or kura did not exit 0 on
# SIGTERM; 1 any other failure; 130/143 interrupted.
set -euo pipefail

# shellcheck disable=SC2034 # read by the lib.sh log functions
BENCH_NAME=healthz
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
KEEPALIVE=${KEEPALIVE:-1}
KURA_BUILD_DIR=${KURA_BUILD_DIR:-$REPO/build}
KURA_BIN=${KURA_BIN:-$KURA_BUILD_DIR/kura}
KURA_BUILD=${KURA_BUILD:-1}
LIGHTTPD_KEEPALIVE_REQUESTS=${LIGHTTPD_KEEPALIVE_REQUESTS:-}
SERVER_CPUS=${SERVER_CPUS:-}
WRK_CPUS=${WRK_CPUS:-}
READY_ATTEMPTS=${READY_ATTEMPTS:-200}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
LUA=$BENCH_DIR/wrk-report.lua

# ---------------------------------------------------------------- settings
for v in CONNECTIONS THREADS ROUNDS READY_ATTEMPTS; do
    if ! is_uint "${!v}" || [[ ${!v} -eq 0 ]]; then
        bench_die "$v must be a positive integer (got '${!v}')"
    fi
done
[[ $DURATION =~ ^[0-9]+[smh]?$ && ! $DURATION =~ ^0+[smh]?$ ]] ||
    bench_die "DURATION must look like 10s, 2m or 30 (got '$DURATION')"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || bench_die "WARMUP must look like 3s or 0 (got '$WARMUP')"
[[ $THREADS -le $CONNECTIONS ]] || bench_die "THREADS ($THREADS) must not exceed CONNECTIONS ($CONNECTIONS)"
[[ $KEEPALIVE == 0 || $KEEPALIVE == 1 ]] || bench_die "KEEPALIVE must be 0 or 1"
[[ -z $LIGHTTPD_KEEPALIVE_REQUESTS ]] || is_uint "$LIGHTTPD_KEEPALIVE_REQUESTS" ||
    bench_die "LIGHTTPD_KEEPALIVE_REQUESTS must be an integer"
[[ -f $LUA ]] || bench_die "missing $LUA"

"$REPO/scripts/deps.sh" bench || bench_die "scripts/deps.sh bench failed"
for tool in wrk lighttpd curl openssl python3 awk; do
    command -v "$tool" >/dev/null || bench_die "'$tool' not found"
done

SERVER_PREFIX=()
WRK_PREFIX=()
if [[ -n $SERVER_CPUS ]]; then SERVER_PREFIX=(taskset -c "$SERVER_CPUS"); fi
if [[ -n $WRK_CPUS ]]; then WRK_PREFIX=(taskset -c "$WRK_CPUS"); fi
WRK_HDR=()
if [[ $KEEPALIVE == 0 ]]; then WRK_HDR=(-H 'Connection: close'); fi
CLK_TCK=$(getconf CLK_TCK)

# ------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kura-bench.XXXXXX")
KURA_PID=""
LT_PID=""
WRK_PID=""
STOPPED_STATUS=0

# stop_server VAR: stop the server whose pid is in VAR (if any), clear VAR,
# and leave its exit status in STOPPED_STATUS.
stop_server() {
    local -n pidref=$1
    STOPPED_STATUS=0
    if [[ -n $pidref ]]; then
        stop_pid "$pidref"
        pidref=""
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # A background wrk ignores SIGINT (non-interactive shell), so stop it here.
    if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
    stop_server KURA_PID
    stop_server LT_PID
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RUN_OUT=$OUT_DIR/healthz-$stamp
[[ ! -e $RUN_OUT ]] || RUN_OUT=$RUN_OUT-$$
mkdir -p "$RUN_OUT"

mapfile -t ports < <(free_ports 2)
[[ ${#ports[@]} -eq 2 ]] || bench_die "could not find free ports"
KURA_PORT=${ports[0]}
LT_PORT=${ports[1]}
KURA_URL=https://127.0.0.1:$KURA_PORT/healthz
LT_URL=https://127.0.0.1:$LT_PORT/healthz

# -------------------------------------------------------------------- kura
KURA_STATUS=missing # ok | missing | failed
KURA_NOTE=""
KURA_BUILDTYPE=""
CERT=""
KEY=""
BODY=$TMP/healthz.body

kura_fail() {
    KURA_STATUS=failed
    KURA_NOTE=$1
    bench_warn "kura: $1"
}

# ensure_kura: make $KURA_BIN exist, building it if allowed.  Never fatal.
ensure_kura() {
    if [[ -x $KURA_BIN ]]; then
        return 0
    fi
    if [[ $KURA_BUILD != 1 ]]; then
        KURA_NOTE="$KURA_BIN not found (KURA_BUILD=0)"
        return 1
    fi
    bench_log "kura: $KURA_BIN not found; building it (log: $RUN_OUT/build.log)"
    local rc=0
    bench_build "$KURA_BUILD_DIR" "$REPO" kura "$RUN_OUT/build.log" || rc=$?
    if [[ -x $KURA_BIN ]]; then
        return 0
    fi
    if [[ $rc -ne 0 ]]; then
        KURA_NOTE="$KURA_BIN not found; the build failed (exit $rc, see $RUN_OUT/build.log)"
    else
        KURA_NOTE="$KURA_BIN not found; the build succeeded but produced no kura binary yet"
    fi
    return 1
}

# setup_kura: init a data dir, start kura, wait until /healthz answers 200 and
# keep its body.  Sets CERT/KEY as soon as init has produced them.  Never fatal.
setup_kura() {
    if ! ensure_kura; then
        KURA_STATUS=missing
        bench_warn "kura: $KURA_NOTE"
        return 1
    fi
    KURA_BUILDTYPE=$(bench_buildinfo "$KURA_BUILD_DIR")
    case $KURA_BUILDTYPE in
    *b_sanitize=none* | "") ;;
    *) bench_warn "kura build in $KURA_BUILD_DIR is instrumented ($KURA_BUILDTYPE); figures are not release figures" ;;
    esac

    # init writes the administrator's one-time password to this (new) file.
    local data=$TMP/kura-data pw=$TMP/admin-password rc=0
    "$KURA_BIN" init --data "$data" --admin bench --admin-password-file "$pw" \
        >"$RUN_OUT/kura-init.log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        kura_fail "'kura init' failed (exit $rc, see $RUN_OUT/kura-init.log)"
        return 1
    fi
    local f
    for f in kura.conf keys/tls.crt keys/tls.key; do
        [[ -f $data/$f ]] || {
            kura_fail "'kura init' did not create $f"
            return 1
        }
    done
    CERT=$data/keys/tls.crt
    KEY=$data/keys/tls.key

    local public=https://127.0.0.1:$KURA_PORT
    sed -i "/^[[:space:]]*\[http\][[:space:]]*$/,/^[[:space:]]*\[/ s|^[[:space:]]*public_url[[:space:]]*=.*|public_url = $public|" \
        "$data/kura.conf"
    grep -qxF "public_url = $public" "$data/kura.conf" || {
        kura_fail "no 'public_url = ...' line in the [http] section of kura.conf to edit"
        return 1
    }

    "${SERVER_PREFIX[@]}" "$KURA_BIN" serve --data "$data" --listen "127.0.0.1:$KURA_PORT" \
        >"$TMP/kura.log" 2>&1 &
    KURA_PID=$!
    if ! wait_https kura "$KURA_PID" "$KURA_URL" "$READY_ATTEMPTS"; then
        stop_server KURA_PID
        tail -n 50 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" || true
        kura_fail "'kura serve' did not answer 200 on /healthz (exit status $STOPPED_STATUS; see $RUN_OUT/kura-serve.log)"
        return 1
    fi
    local code
    code=$(curl -sk -o "$BODY" -w '%{http_code}' --max-time 5 "$KURA_URL") || true
    if [[ $code != 200 ]] || ! grep -q '"status"[[:space:]]*:[[:space:]]*"ok"' "$BODY"; then
        kura_fail "/healthz answered $code with an unexpected body: $(head -c 200 "$BODY" 2>/dev/null)"
        stop_server KURA_PID
        return 1
    fi
    KURA_STATUS=ok
}

setup_kura || true

if [[ -z $CERT ]]; then
    # No kura data folder: same kind of certificate, so the lighttpd half
    # still measures what it would measure next to kura.
    bench_warn "no kura certificate; lighttpd uses a throwaway self-signed ECDSA P-256 certificate"
    CERT=$TMP/fallback.crt
    KEY=$TMP/fallback.key
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$KEY" -out "$CERT" >/dev/null 2>&1 || bench_die "openssl could not make a certificate"
    CERT_SRC="throwaway (kura unavailable)"
else
    CERT_SRC="kura's data folder (keys/tls.crt)"
fi
if ! openssl x509 -in "$CERT" -noout -text 2>/dev/null | grep -q 'ASN1 OID: prime256v1'; then
    bench_warn "$CERT is not an ECDSA P-256 certificate"
fi
if [[ $KURA_STATUS != ok ]]; then
    version=$(sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" "$REPO/meson.build" | head -n1)
    printf '{"status":"ok","version":"%s"}' "${version:-0}" >"$BODY"
fi

# ---------------------------------------------------------------- lighttpd
KURA_TLS="-"
if [[ $KURA_STATUS == ok ]]; then
    KURA_TLS=$(tls_probe "127.0.0.1:$KURA_PORT")
fi

# TLS 1.3 suites, AES-GCM first; if kura negotiated one of them with the
# OpenSSL client defaults, put that one first so both servers pick the same.
tls13="TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
kura_suite=$(awk '{ print $2 }' <<<"$KURA_TLS")
case ":$tls13:" in
*":$kura_suite:"*) tls13="$kura_suite:$(tr ':' '\n' <<<"$tls13" | grep -vxF "$kura_suite" | paste -sd:)" ;;
esac
tls12="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"
groups_line=""
case $(awk '{ print $3 }' <<<"$KURA_TLS") in
prime256v1 | P-256) groups_line='    "Groups" => "P-256:X25519:P-384",' ;;
esac
keepalive_line=""
if [[ -n $LIGHTTPD_KEEPALIVE_REQUESTS ]]; then
    keepalive_line="server.max-keep-alive-requests = $LIGHTTPD_KEEPALIVE_REQUESTS"
fi

mkdir -p "$TMP/lighttpd-root"
cp "$BODY" "$TMP/lighttpd-root/healthz"
LT_CONF=$TMP/lighttpd.conf
cat >"$LT_CONF" <<EOF
# Written by bench/healthz.sh.  server.max-worker is deliberately unset:
# lighttpd runs as one process with one event-loop thread.
server.modules = ("mod_openssl")
server.port = $LT_PORT
server.bind = "127.0.0.1"
server.document-root = "$TMP/lighttpd-root"
server.errorlog = "$TMP/lighttpd.log"
# mimetype.assign matches on the end of the file name, not only an extension.
mimetype.assign = ("healthz" => "application/json")
$keepalive_line
ssl.engine = "enable"
ssl.pemfile = "$CERT"
ssl.privkey = "$KEY"
# ssl.cipher-list is deprecated in lighttpd 1.4.69 (it logs a warning);
# "CipherString" is the same OpenSSL setting through SSL_CONF_cmd.
ssl.openssl.ssl-conf-cmd = (
    "MinProtocol" => "TLSv1.2",
    "CipherString" => "$tls12",
    "Ciphersuites" => "$tls13",
$groups_line
    "Options" => "ServerPreference",
)
EOF
lighttpd -tt -f "$LT_CONF" >"$TMP/lighttpd-check.log" 2>&1 || {
    cat "$TMP/lighttpd-check.log" >&2
    bench_die "lighttpd rejected its configuration (is lighttpd-mod-openssl installed?)"
}
cp "$LT_CONF" "$RUN_OUT/lighttpd.conf"

"${SERVER_PREFIX[@]}" lighttpd -D -f "$LT_CONF" >"$TMP/lighttpd.stderr" 2>&1 &
LT_PID=$!
if ! wait_https lighttpd "$LT_PID" "$LT_URL" "$READY_ATTEMPTS"; then
    cat "$TMP/lighttpd.stderr" "$TMP/lighttpd.log" >&2 2>/dev/null || true
    bench_die "lighttpd did not start"
fi
curl -sk --max-time 5 -o "$TMP/lighttpd.body" "$LT_URL" || true
cmp -s "$BODY" "$TMP/lighttpd.body" || bench_die "lighttpd does not serve the same bytes as kura's /healthz"
LT_TLS=$(tls_probe "127.0.0.1:$LT_PORT")
if [[ $KURA_STATUS == ok && $(cut -d' ' -f1-3 <<<"$KURA_TLS") != $(cut -d' ' -f1-3 <<<"$LT_TLS") ]]; then
    bench_warn "TLS parameters differ: kura '$KURA_TLS', lighttpd '$LT_TLS'"
fi

# ------------------------------------------------------------- measurement
RESULTS=$TMP/results
: >"$RESULTS"
MEASURE_FAILED=0

# measure NAME URL PID ROUND: warm up, then one wrk run; appends to $RESULTS.
measure() {
    local name=$1 url=$2 pid=$3 round=$4
    local raw=$RUN_OUT/wrk-$name-r$round.txt rc=0 c0 c1 line
    if [[ ! $WARMUP =~ ^0+[smh]?$ ]]; then
        "${WRK_PREFIX[@]}" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" "${WRK_HDR[@]}" "$url" \
            >"$RUN_OUT/wrk-$name-r$round-warmup.txt" 2>&1 || true
    fi
    c0=$(proc_cpu_ticks "$pid")
    "${WRK_PREFIX[@]}" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency \
        -s "$LUA" "${WRK_HDR[@]}" "$url" >"$raw" 2>&1 &
    WRK_PID=$!
    # While wrk runs, note the server's peak thread count (a thread-per-
    # connection server shrinks back once wrk disconnects).
    local thr=0 t
    while kill -0 "$WRK_PID" 2>/dev/null; do
        t=$(proc_threads "$pid")
        if is_uint "$t" && ((t > thr)); then thr=$t; fi
        sleep 0.2
    done
    wait "$WRK_PID" || rc=$?
    WRK_PID=""
    c1=$(proc_cpu_ticks "$pid")
    line=$(grep '^BENCH ' "$raw" | tail -n1) || true
    if ! kill -0 "$pid" 2>/dev/null; then
        bench_warn "$name exited during round $round (see $raw)"
        MEASURE_FAILED=1
        return 1
    fi
    if [[ $rc -ne 0 || -z $line || $(kv_get "$line" requests) == 0 ]]; then
        bench_warn "$name round $round: wrk failed or made no requests (exit $rc, see $raw)"
        MEASURE_FAILED=1
        return 1
    fi
    local errs
    errs=$(($(kv_get "$line" err_connect) + $(kv_get "$line" err_read) + $(kv_get "$line" err_write) +
        $(kv_get "$line" err_status) + $(kv_get "$line" err_timeout)))
    awk -v n="$name" -v r="$round" -v req="$(kv_get "$line" requests)" \
        -v dur="$(kv_get "$line" duration_us)" -v bytes="$(kv_get "$line" bytes)" \
        -v p50="$(kv_get "$line" p50_us)" -v p99="$(kv_get "$line" p99_us)" \
        -v cpu=$((c1 - c0)) -v tck="$CLK_TCK" -v errs="$errs" -v thr="$thr" 'BEGIN {
            s = dur / 1e6
            printf "%s %d %.1f %d %d %.0f %d %s %.0f\n", n, r, req / s, p50, p99,
                100 * cpu / tck / s, errs, thr, bytes / req }' >>"$RESULTS"
    tail -n1 "$RESULTS" | awk '{ printf "  round %d %-8s %10.0f req/s  p50 %6d us  p99 %6d us  cpu %4d%%  errors %d\n",
        $2, $1, $3, $4, $5, $6, $7 }' >&2
}

servers=(lighttpd)
if [[ $KURA_STATUS == ok ]]; then servers+=(kura); fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP) x $ROUNDS rounds: ${servers[*]}"
for ((round = 1; round <= ROUNDS; round++)); do
    for s in "${servers[@]}"; do
        # measure reports its own failures; a failed run must not stop the others.
        if [[ $s == kura && -n $KURA_PID ]]; then
            measure kura "$KURA_URL" "$KURA_PID" "$round" || true
        elif [[ $s == lighttpd && -n $LT_PID ]]; then
            measure lighttpd "$LT_URL" "$LT_PID" "$round" || true
        fi
    done
done

# ----------------------------------------------------------- stop, collect
KURA_EXIT=null
if [[ -n $KURA_PID ]]; then
    stop_server KURA_PID
    KURA_EXIT=$STOPPED_STATUS
    if [[ $KURA_EXIT -ne 0 ]]; then
        bench_warn "kura exited with status $KURA_EXIT on SIGTERM (expected 0)"
    fi
    tail -n 200 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" 2>/dev/null || true
fi
stop_server LT_PID
cat "$TMP/lighttpd.stderr" "$TMP/lighttpd.log" >"$RUN_OUT/lighttpd.log" 2>/dev/null || true
cp "$RESULTS" "$RUN_OUT/rounds.txt"

# col SERVER FIELD: median of that column over the server's rounds.
col() { awk -v s="$1" -v f="$2" '$1 == s { print $f }' "$RESULTS" | median; }
# colmax SERVER FIELD: largest value of that column ("null" if no rounds).
colmax() { awk -v s="$1" -v f="$2" '$1 == s && (!n++ || $f > m) { m = $f } END { print n ? m : "null" }' "$RESULTS"; }
# colsum SERVER FIELD: sum of that column ("null" if no rounds).
colsum() { awk -v s="$1" -v f="$2" '$1 == s { t += $f; n++ } END { print n ? t : "null" }' "$RESULTS"; }
for s in lighttpd kura; do
    declare "${s}_rps=$(col "$s" 3)" "${s}_p50=$(col "$s" 4)" "${s}_p99=$(col "$s" 5)"
    declare "${s}_cpu=$(col "$s" 6)" "${s}_err=$(colsum "$s" 7)" "${s}_thr=$(colmax "$s" 8)"
    declare "${s}_bpr=$(col "$s" 9)" "${s}_n=$(awk -v s="$s" '$1 == s' "$RESULTS" | wc -l)"
done
# shellcheck disable=SC2154 # set by declare above
{
    ratio_rps=$(ratio "$kura_rps" "$lighttpd_rps")
    ratio_p99=$(ratio "$kura_p99" "$lighttpd_p99")
}

# ------------------------------------------------------------------ report
git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then git_rev+="-dirty"; fi
kura_version=""
if [[ $KURA_STATUS == ok ]]; then
    kura_version=$(sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$BODY" | head -n1)
fi
mode="keep-alive"
[[ $KEEPALIVE == 1 ]] || mode="Connection: close (one handshake per request)"
lt_ka=${LIGHTTPD_KEEPALIVE_REQUESTS:-1000 (default)}

fmt_row() { # name rps p50 p99 cpu threads errors bytes/resp tls
    awk -v n="$1" -v rps="$2" -v p50="$3" -v p99="$4" -v cpu="$5" -v thr="$6" -v err="$7" \
        -v bpr="$8" -v tls="$9" 'BEGIN {
        printf "%-9s %10.0f %9.3f %9.3f %6.0f %8s %7s %6s  %s\n", n, rps, p50 / 1000, p99 / 1000, cpu, thr, err, bpr, tls }'
}

# shellcheck disable=SC2154 # the per-server variables are set by declare above
{
    echo "kura healthz benchmark, $(date -u +%FT%TZ), git $git_rev"
    echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency, $mode; warm-up $WARMUP before each run"
    echo "median of $ROUNDS rounds per server, alternating ${servers[*]}; $(nproc) CPUs shared by the servers and wrk" \
        "(server CPUs: ${SERVER_CPUS:-any}, wrk CPUs: ${WRK_CPUS:-any}); load before: $load_before"
    echo
    printf '%-9s %10s %9s %9s %6s %8s %7s %6s  %s\n' server req/s p50_ms p99_ms cpu% threads errors bytes "TLS (proto suite group sig)"
    if [[ ${lighttpd_n:-0} -gt 0 ]]; then
        fmt_row lighttpd "$lighttpd_rps" "$lighttpd_p50" "$lighttpd_p99" "$lighttpd_cpu" "$lighttpd_thr" \
            "$lighttpd_err" "$lighttpd_bpr" "$LT_TLS"
    else
        echo "lighttpd  (no successful run)"
    fi
    if [[ ${kura_n:-0} -gt 0 ]]; then
        fmt_row kura "$kura_rps" "$kura_p50" "$kura_p99" "$kura_cpu" "$kura_thr" "$kura_err" "$kura_bpr" "$KURA_TLS"
    elif [[ $KURA_STATUS == ok ]]; then
        echo "kura      (no successful run)"
    else
        echo "kura      ${KURA_STATUS^^}: $KURA_NOTE"
    fi
    echo
    if [[ $ratio_rps != null ]]; then
        echo "kura/lighttpd: req/s ${ratio_rps}x (higher is better), p99 ${ratio_p99}x (lower is better)"
    else
        echo "kura/lighttpd: n/a (kura not measured)"
    fi
    echo
    echo "notes:"
    echo "- lighttpd $(lighttpd -v 2>/dev/null | awk '{ print $1 }' | cut -d/ -f2): one process, one event-loop thread" \
        "(server.max-worker unset); server.max-keep-alive-requests = $lt_ka; static file, no access log"
    if [[ $KURA_STATUS == ok ]]; then
        echo "- kura $kura_version ($KURA_BIN${KURA_BUILDTYPE:+, $KURA_BUILDTYPE}): peak ${kura_thr:-?} threads;" \
            "exit status on SIGTERM: $KURA_EXIT; stderr log: $(wc -l <"$TMP/kura.log") lines"
    fi
    echo "- certificate for both: $CERT_SRC, $(openssl x509 -in "$CERT" -noout -text 2>/dev/null |
        awk '/Public Key Algorithm/ { a = $NF } /ASN1 OID/ { c = $NF } END { print a " " c }')"
    echo "- cpu% = server user+system CPU time / wall time (100 = one core); threads = peak server threads during a run;" \
        "bytes = response bytes incl. headers"
    echo "- raw output: $RUN_OUT"
} | tee "$RUN_OUT/summary.txt"

# shellcheck disable=SC2154
{
    server_json() { # name n rps p50 p99 cpu err thr bpr tls
        if [[ $2 -eq 0 ]]; then
            printf 'null'
            return
        fi
        printf '{"req_s":%s,"p50_us":%s,"p99_us":%s,"cpu_pct":%s,"errors":%s,"threads":%s,"bytes_per_response":%s,"tls":%s}' \
            "$(json_num "$3")" "$(json_num "$4")" "$(json_num "$5")" "$(json_num "$6")" "$(json_num "$7")" \
            "$(json_num "$8")" "$(json_num "$9")" "$(json_str "${10}")"
    }
    printf '{"bench":"healthz","time":%s,"git":%s,"kura_status":%s,"kura_note":%s,"kura_version":%s,"kura_build":%s,' \
        "$(json_str "$(date -u +%FT%TZ)")" "$(json_str "$git_rev")" "$(json_str "$KURA_STATUS")" \
        "$(json_str "$KURA_NOTE")" "$(json_str "$kura_version")" "$(json_str "$KURA_BUILDTYPE")"
    printf '"kura_exit_on_sigterm":%s,"duration":%s,"warmup":%s,"connections":%s,"threads":%s,"rounds":%s,"keepalive":%s,' \
        "$(json_num "$KURA_EXIT")" "$(json_str "$DURATION")" "$(json_str "$WARMUP")" "$CONNECTIONS" "$THREADS" "$ROUNDS" \
        "$([[ $KEEPALIVE == 1 ]] && echo true || echo false)"
    printf '"cpus":%s,"lighttpd_max_keepalive_requests":%s,"lighttpd":%s,"kura":%s,"ratio_kura_lighttpd":{"req_s":%s,"p99":%s}}\n' \
        "$(nproc)" "$(json_num "${LIGHTTPD_KEEPALIVE_REQUESTS:-1000}")" \
        "$(server_json lighttpd "${lighttpd_n:-0}" "$lighttpd_rps" "$lighttpd_p50" "$lighttpd_p99" "$lighttpd_cpu" \
            "$lighttpd_err" "$lighttpd_thr" "$lighttpd_bpr" "$LT_TLS")" \
        "$(server_json kura "${kura_n:-0}" "$kura_rps" "$kura_p50" "$kura_p99" "$kura_cpu" \
            "$kura_err" "$kura_thr" "$kura_bpr" "$KURA_TLS")" \
        "$ratio_rps" "$ratio_p99"
} >"$RUN_OUT/summary.json"
cat "$RUN_OUT/summary.json" >>"$OUT_DIR/healthz.jsonl"

# ------------------------------------------------------------- exit status
if [[ $KURA_STATUS != ok ]]; then
    bench_warn "KURA ${KURA_STATUS^^}: only lighttpd was measured ($KURA_NOTE)"
    exit 3
fi
if [[ $MEASURE_FAILED -ne 0 || ${lighttpd_n:-0} -eq 0 || ${kura_n:-0} -eq 0 ]]; then
    bench_warn "some measurements failed; see $RUN_OUT"
    exit 1
fi
if [[ $lighttpd_err != 0 || $kura_err != 0 || $KURA_EXIT != 0 ]]; then
    bench_warn "errors during the runs (lighttpd $lighttpd_err, kura $kura_err) or kura exit status $KURA_EXIT on SIGTERM"
    exit 4
fi
