#!/usr/bin/env bash
# bench/login.sh: logins per second at the configured Argon2id cost, and what
# a login storm does to everything else (the identity issue: "a login storm
# must not starve other requests: report the ratio to the no-storm p99").
# Figures and ratios only: nothing here passes or fails on a target.
#
# One `kura serve` on a temporary data folder (kura init, then an account made
# with `kura user add loadtest --otp-file F`: its one-time password is a real
# login that opens an enrolment session). Every round runs, with wrk over
# HTTPS (keep-alive) and bench/wrk-login.lua:
#   healthz    a paced GET /healthz load alone: HZ_CONNECTIONS connections,
#              each waiting HZ_DELAY_MS after every answer (a steady
#              background rate, not a saturating one); its p99 is the baseline
#   login-1    one client logging in again and again: the cost of one login
#   login-ok   CLIENTS clients POSTing /api/v1/session with the right password
#   login-bad  the same with a wrong password (401 after the same Argon2id)
#   storm      login-ok running, and after STORM_RAMP the healthz load again
#              for DURATION: its p99 / the healthz p99 is the starvation ratio
# The wrong-password run needs the throttles out of the way: the source is
# exempt ([session] throttle_exempt = 127.0.0.1), the per-ID back-off is off
# ([password] backoff_after = 0) and the account never locks
# ([password] lockout_threshold = 0); none of them changes the work a login
# does. Argon2id stays at kura.conf's defaults unless set below.
#
# Usage: bench/login.sh            (settings through the environment)
#   DURATION=10s       length of each measurement (wrk -d)
#   SINGLE_DURATION=5s length of the login-1 run
#   WARMUP=2s          logins before the first round; 0 skips it
#   ROUNDS=2           rounds; each figure reported is the median
#   CLIENTS=16         concurrent login clients (wrk -c)
#   LOGIN_THREADS=2    wrk -t of the login load
#   HZ_CONNECTIONS=16  connections of the /healthz load
#   HZ_DELAY_MS=10     pause of each /healthz connection after an answer;
#                      0 makes it a saturating load
#   STORM_RAMP=2s      how long the storm runs before /healthz is measured
#   HASH_MEMLIMIT_KIB= HASH_OPSLIMIT= HASH_WORKERS=   [password] hash_*
#                      overrides; empty keeps kura init's defaults
#   HASH_NICE=         an experiment: renice the hash pool's threads
#                      (kura-hash-N) to this nice value once kura is up;
#                      empty leaves them as kura starts them
#   KURA_BUILD_DIR=build   the release build (KURA_BIN=$KURA_BUILD_DIR/kura)
#   KURA_BUILD=1       bring kura up to date with ninja first (runs `make`
#                      when $KURA_BUILD_DIR is the repo's build and does not
#                      exist yet); 0 uses the binary as it is
#   SERVER_CPUS= WRK_CPUS=   optional `taskset -c` CPU lists; default none
#   READY_ATTEMPTS=200 readiness polls, 0.1 s apart
#   OUT_DIR=bench/out  where results go (git-ignored)
#
# Output: a table on stdout; raw wrk outputs, the server log, kura.conf,
# summary.txt and summary.json in $OUT_DIR/login-<UTC time>/; the JSON line
# is also appended to $OUT_DIR/login.jsonl.
#
# Exit status: 0 every run measured with the expected answers; 3 kura missing
# or not working; 4 measured, but some answers were unexpected (not 200 for
# the right password, not 401 for the wrong one, not 200 for /healthz, socket
# errors) or kura did not exit 0 on SIGTERM; 1 any other failure; 130/143
# interrupted.
set -euo pipefail

# shellcheck disable=SC2034 # read by the lib.sh log functions
BENCH_NAME=login
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"

DURATION=${DURATION:-10s}
SINGLE_DURATION=${SINGLE_DURATION:-5s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
CLIENTS=${CLIENTS:-16}
LOGIN_THREADS=${LOGIN_THREADS:-2}
HZ_CONNECTIONS=${HZ_CONNECTIONS:-16}
HZ_DELAY_MS=${HZ_DELAY_MS:-10}
STORM_RAMP=${STORM_RAMP:-2s}
HASH_MEMLIMIT_KIB=${HASH_MEMLIMIT_KIB:-}
HASH_OPSLIMIT=${HASH_OPSLIMIT:-}
HASH_WORKERS=${HASH_WORKERS:-}
HASH_NICE=${HASH_NICE:-}
KURA_BUILD_DIR=${KURA_BUILD_DIR:-$REPO/build}
KURA_BIN=${KURA_BIN:-$KURA_BUILD_DIR/kura}
KURA_BUILD=${KURA_BUILD:-1}
SERVER_CPUS=${SERVER_CPUS:-}
WRK_CPUS=${WRK_CPUS:-}
READY_ATTEMPTS=${READY_ATTEMPTS:-200}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
LUA=$BENCH_DIR/wrk-login.lua
USER_ID=loadtest

# ---------------------------------------------------------------- settings
for v in ROUNDS CLIENTS LOGIN_THREADS HZ_CONNECTIONS READY_ATTEMPTS; do
    if ! is_uint "${!v}" || [[ ${!v} -eq 0 ]]; then
        bench_die "$v must be a positive integer (got '${!v}')"
    fi
done
is_uint "$HZ_DELAY_MS" || bench_die "HZ_DELAY_MS must be an integer (got '$HZ_DELAY_MS')"
for v in DURATION SINGLE_DURATION; do
    [[ ${!v} =~ ^[0-9]+[smh]?$ && ! ${!v} =~ ^0+[smh]?$ ]] ||
        bench_die "$v must look like 10s, 2m or 30 (got '${!v}')"
done
for v in WARMUP STORM_RAMP; do
    [[ ${!v} =~ ^[0-9]+[smh]?$ ]] || bench_die "$v must look like 2s or 0 (got '${!v}')"
done
for v in HASH_MEMLIMIT_KIB HASH_OPSLIMIT HASH_WORKERS; do
    [[ -z ${!v} ]] || is_uint "${!v}" || bench_die "$v must be empty or an integer (got '${!v}')"
done
[[ -z $HASH_NICE || $HASH_NICE =~ ^-?[0-9]+$ ]] || bench_die "HASH_NICE must be empty or an integer (got '$HASH_NICE')"
[[ $LOGIN_THREADS -le $CLIENTS ]] || bench_die "LOGIN_THREADS ($LOGIN_THREADS) must not exceed CLIENTS ($CLIENTS)"
[[ $KURA_BUILD == 0 || $KURA_BUILD == 1 ]] || bench_die "KURA_BUILD must be 0 or 1"
[[ -f $LUA ]] || bench_die "missing $LUA"

"$REPO/scripts/deps.sh" bench || bench_die "scripts/deps.sh bench failed"
for tool in wrk curl openssl python3 awk; do
    command -v "$tool" >/dev/null || bench_die "'$tool' not found"
done

SERVER_PREFIX=()
WRK_PREFIX=()
if [[ -n $SERVER_CPUS ]]; then SERVER_PREFIX=(taskset -c "$SERVER_CPUS"); fi
if [[ -n $WRK_CPUS ]]; then WRK_PREFIX=(taskset -c "$WRK_CPUS"); fi
CLK_TCK=$(getconf CLK_TCK)

# seconds DURATION: a wrk duration (10s, 2m, 1h, 30) in seconds.
seconds() {
    local d=$1
    case $d in
    *h) echo $((${d%h} * 3600)) ;;
    *m) echo $((${d%m} * 60)) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
    esac
}

# ------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kura-bench-login.XXXXXX")
KURA_PID=""
WRK_PIDS=()
STOPPED_STATUS=0

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    # A background wrk ignores SIGINT (non-interactive shell), so stop it here.
    for p in "${WRK_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    if [[ -n $KURA_PID ]]; then stop_pid "$KURA_PID"; fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RUN_OUT=$OUT_DIR/login-$stamp
[[ ! -e $RUN_OUT ]] || RUN_OUT=$RUN_OUT-$$
mkdir -p "$RUN_OUT"

# ------------------------------------------------------------------- build
KURA_STATUS_EXIT=3
if [[ $KURA_BUILD == 1 ]]; then
    bench_log "building kura in $KURA_BUILD_DIR (log: $RUN_OUT/build.log)"
    rc=0
    bench_build "$KURA_BUILD_DIR" "$REPO" kura "$RUN_OUT/build.log" || rc=$?
    if [[ $rc -ne 0 && -x $KURA_BIN ]]; then
        bench_warn "the build failed (exit $rc, see $RUN_OUT/build.log); using the existing $KURA_BIN"
    fi
fi
if [[ ! -x $KURA_BIN ]]; then
    bench_warn "$KURA_BIN not found (KURA_BUILD=$KURA_BUILD; build log: $RUN_OUT/build.log)"
    exit $KURA_STATUS_EXIT
fi
BUILD_INFO=$(bench_buildinfo "$KURA_BUILD_DIR")
case $BUILD_INFO in
*b_sanitize=none* | "") ;;
*) bench_warn "kura build in $KURA_BUILD_DIR is instrumented ($BUILD_INFO); figures are not release figures" ;;
esac

# ------------------------------------------------------------- data folder
kura_fail() {
    bench_warn "kura: $1"
    exit $KURA_STATUS_EXIT
}

# set_conf SECTION KEY VALUE: replace `KEY = ...` in [SECTION] of kura.conf
# (kura init writes every key); fails when the line is not there.
set_conf() {
    local conf=$DATA/kura.conf
    awk -v s="$1" -v k="$2" -v v="$3" '
        /^[[:space:]]*\[/ { cur = $0; gsub(/[][[:space:]]/, "", cur) }
        cur == s && !done && $0 ~ "^[[:space:]]*" k "[[:space:]]*=" { print k " = " v; done = 1; next }
        { print }
        END { exit done ? 0 : 1 }' "$conf" >"$conf.new" || {
        rm -f "$conf.new"
        kura_fail "no '$2 = ...' line in the [$1] section of kura.conf"
    }
    mv "$conf.new" "$conf"
}

mapfile -t ports < <(free_ports 1)
[[ ${#ports[@]} -eq 1 ]] || bench_die "could not find a free port"
PORT=${ports[0]}
# The audit log's checkpoint origin is derived from public_url's host when kura
# init runs, so only the port changes here (host "localhost"); the clients
# connect to 127.0.0.1 and send the Host header that goes with it.
HOST_HDR=localhost:$PORT
BASE=https://127.0.0.1:$PORT
DATA=$TMP/kura-data
OTP=$TMP/loadtest.otp
WRONG=$TMP/wrong-password

"$KURA_BIN" init --data "$DATA" --admin bench --admin-password-file "$TMP/admin-password" \
    >"$RUN_OUT/kura-init.log" 2>&1 || kura_fail "'kura init' failed (see $RUN_OUT/kura-init.log)"
"$KURA_BIN" user add "$USER_ID" --data "$DATA" --otp-file "$OTP" --reason "bench/login.sh" \
    >"$RUN_OUT/kura-user-add.log" 2>&1 ||
    kura_fail "'kura user add' failed (see $RUN_OUT/kura-user-add.log)"
printf 'not-%s\n' "$(head -n1 "$OTP")" >"$WRONG"
set_conf http public_url "https://$HOST_HDR"
set_conf session throttle_exempt 127.0.0.1
set_conf password backoff_after 0
set_conf password lockout_threshold 0
if [[ -n $HASH_MEMLIMIT_KIB ]]; then set_conf password hash_memlimit_kib "$HASH_MEMLIMIT_KIB"; fi
if [[ -n $HASH_OPSLIMIT ]]; then set_conf password hash_opslimit "$HASH_OPSLIMIT"; fi
if [[ -n $HASH_WORKERS ]]; then set_conf password hash_workers "$HASH_WORKERS"; fi
conf_value() { awk -v k="$1" '$1 == k && $2 == "=" { print $3; exit }' "$DATA/kura.conf"; }
MEMLIMIT=$(conf_value hash_memlimit_kib)
OPSLIMIT=$(conf_value hash_opslimit)
WORKERS=$(conf_value hash_workers)
cp "$DATA/kura.conf" "$RUN_OUT/kura.conf"

"${SERVER_PREFIX[@]}" "$KURA_BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" >"$TMP/kura.log" 2>&1 &
KURA_PID=$!
if ! wait_https kura "$KURA_PID" "$BASE/healthz" "$READY_ATTEMPTS" -H "Host: $HOST_HDR"; then
    stop_pid "$KURA_PID"
    KURA_PID=""
    tail -n 50 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" || true
    kura_fail "'kura serve' did not answer 200 on /healthz (exit status $STOPPED_STATUS; see $RUN_OUT/kura-serve.log)"
fi

# login_once PASSWORD_FILE: the HTTP status of one login.
login_once() {
    python3 - "$BASE/api/v1/session" "$HOST_HDR" "$USER_ID" "$1" <<'EOF' 2>/dev/null || echo 000
import json, ssl, sys, urllib.request
url, host, user, pwfile = sys.argv[1:5]
body = json.dumps({"user": user, "password": open(pwfile).readline().rstrip("\n")}).encode()
req = urllib.request.Request(url, body, {"Host": host, "Content-Type": "application/json"})
ctx = ssl._create_unverified_context()
try:
    with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
        print(r.status, json.load(r).get("kind", ""))
except urllib.error.HTTPError as e:
    print(e.code)
EOF
}
if [[ -n $HASH_NICE ]]; then
    for task in /proc/"$KURA_PID"/task/*; do
        if [[ $(cat "$task/comm" 2>/dev/null) == kura-hash-* ]]; then
            renice -n "$HASH_NICE" -p "${task##*/}" >/dev/null || bench_die "renice of ${task##*/} failed"
        fi
    done
fi
read -r ok_status ok_kind <<<"$(login_once "$OTP")"
bad_status=$(login_once "$WRONG")
[[ $ok_status == 200 ]] || kura_fail "a login with the right password answered $ok_status"
[[ $bad_status == 401 ]] || kura_fail "a login with a wrong password answered $bad_status"
KURA_TLS=$(tls_probe "127.0.0.1:$PORT")
bench_log "kura up on $BASE (Host: $HOST_HDR); a login answers 200 ($ok_kind session), a wrong one 401"

# ------------------------------------------------------------- measurement
RESULTS=$TMP/results
: >"$RESULTS"
MEASURE_FAILED=0
HZ_URL=$BASE/healthz
LOGIN_URL=$BASE/api/v1/session

# wrk_login CONNS THREADS DURATION PASSWORD_FILE: the login load (foreground).
wrk_login() {
    "${WRK_PREFIX[@]}" wrk -t "$2" -c "$1" -d "$3" --timeout 60s --latency -H "Host: $HOST_HDR" \
        -s "$LUA" "$LOGIN_URL" -- login "$USER_ID" "$4"
}
wrk_healthz() {
    "${WRK_PREFIX[@]}" wrk -t 1 -c "$HZ_CONNECTIONS" -d "$DURATION" --latency -H "Host: $HOST_HDR" \
        -s "$LUA" "$HZ_URL" -- paced "$HZ_DELAY_MS"
}

# record NAME ROUND RAW CPU_TICKS: appends the run's BENCH line to $RESULTS as
# "name round req/s p50_us p99_us cpu% s200 s401 s429 s503 other socket_errors".
record() {
    local name=$1 round=$2 raw=$3 ticks=$4 line
    line=$(grep '^BENCH ' "$raw" | tail -n1) || true
    if [[ -z $line || $(kv_get "$line" requests) == 0 ]]; then
        bench_warn "$name round $round: wrk failed or made no requests (see $raw)"
        MEASURE_FAILED=1
        return 1
    fi
    local k other=0
    for k in s400 s_other; do other=$((other + $(kv_get "$line" "$k"))); done
    awk -v n="$name" -v r="$round" -v req="$(kv_get "$line" requests)" \
        -v dur="$(kv_get "$line" duration_us)" -v p50="$(kv_get "$line" p50_us)" \
        -v p99="$(kv_get "$line" p99_us)" -v cpu="$ticks" -v tck="$CLK_TCK" \
        -v s200="$(kv_get "$line" s200)" -v s401="$(kv_get "$line" s401)" \
        -v s429="$(kv_get "$line" s429)" -v s503="$(kv_get "$line" s503)" -v other="$other" \
        -v sock=$(($(kv_get "$line" err_connect) + $(kv_get "$line" err_read) +
            $(kv_get "$line" err_write) + $(kv_get "$line" err_timeout))) 'BEGIN {
            s = dur / 1e6
            printf "%s %d %.2f %d %d %.0f %d %d %d %d %d %d\n", n, r, req / s, p50, p99,
                100 * cpu / tck / s, s200, s401, s429, s503, other, sock }' >>"$RESULTS"
    tail -n1 "$RESULTS" | awk '{ printf "  round %d %-14s %9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  cpu %4d%%  200:%d 401:%d 429:%d 503:%d other:%d sock:%d\n",
        $2, $1, $3, $4 / 1000, $5 / 1000, $6, $7, $8, $9, $10, $11, $12 }' >&2
}

# run NAME ROUND CMD...: one foreground wrk run with the server's CPU time.
run() {
    local name=$1 round=$2 raw=$RUN_OUT/wrk-$1-r$2.txt c0 c1 rc=0
    shift 2
    c0=$(proc_cpu_ticks "$KURA_PID")
    "$@" >"$raw" 2>&1 || rc=$?
    c1=$(proc_cpu_ticks "$KURA_PID")
    if ! kill -0 "$KURA_PID" 2>/dev/null; then
        bench_warn "kura exited during $name round $round"
        MEASURE_FAILED=1
        return 1
    fi
    [[ $rc -eq 0 ]] || bench_warn "$name round $round: wrk exited $rc (see $raw)"
    record "$name" "$round" "$raw" $((c1 - c0))
}

# pool_sampler FILE: appends "queued running" of the hash pool to FILE, from
# `kura status` every 0.5 s, until the file $TMP/stop-sampling appears.
pool_sampler() {
    local out=$1 st
    while [[ ! -e $TMP/stop-sampling ]]; do
        st=$("$KURA_BIN" status --data "$DATA" 2>/dev/null) || true
        python3 -c 'import json, sys
p = json.loads(sys.argv[1])["hash_pool"]
print(p["queued"], p["running"])' "$st" 2>/dev/null >>"$out" || true
        sleep 0.5
    done
}

# storm ROUND: the login storm with the /healthz load measured inside it.
storm() {
    local round=$1 ramp dur storm_raw=$RUN_OUT/wrk-storm-logins-r$1.txt c0 c1 pid rc=0
    ramp=$(seconds "$STORM_RAMP")
    dur=$(seconds "$DURATION")
    rm -f "$TMP/stop-sampling"
    pool_sampler "$TMP/pool-r$round" &
    local sampler=$!
    c0=$(proc_cpu_ticks "$KURA_PID")
    wrk_login "$CLIENTS" "$LOGIN_THREADS" "$((ramp + dur + 1))s" "$OTP" >"$storm_raw" 2>&1 &
    pid=$!
    WRK_PIDS=("$pid")
    sleep "$ramp"
    run storm-healthz "$round" wrk_healthz || true
    wait "$pid" || rc=$?
    WRK_PIDS=()
    c1=$(proc_cpu_ticks "$KURA_PID")
    touch "$TMP/stop-sampling"
    wait "$sampler" || true
    [[ $rc -eq 0 ]] || bench_warn "storm round $round: the login wrk exited $rc (see $storm_raw)"
    record storm-logins "$round" "$storm_raw" $((c1 - c0)) || true
}

bench_log "Argon2id m=${MEMLIMIT} KiB t=${OPSLIMIT}, hash_workers=${WORKERS}; $ROUNDS rounds of $DURATION runs"
if [[ ! $WARMUP =~ ^0+[smh]?$ ]]; then
    wrk_login "$CLIENTS" "$LOGIN_THREADS" "$WARMUP" "$OTP" >"$RUN_OUT/wrk-warmup.txt" 2>&1 || true
fi
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
    run healthz "$round" wrk_healthz || true
    run login-1 "$round" wrk_login 1 1 "$SINGLE_DURATION" "$OTP" || true
    run login-ok "$round" wrk_login "$CLIENTS" "$LOGIN_THREADS" "$DURATION" "$OTP" || true
    run login-bad "$round" wrk_login "$CLIENTS" "$LOGIN_THREADS" "$DURATION" "$WRONG" || true
    storm "$round"
done
RSS_PEAK_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$KURA_PID/status" 2>/dev/null || echo null)
THREADS_SERVER=$(proc_threads "$KURA_PID")

# ----------------------------------------------------------- stop, collect
stop_pid "$KURA_PID"
KURA_PID=""
KURA_EXIT=$STOPPED_STATUS
[[ $KURA_EXIT -eq 0 ]] || bench_warn "kura exited with status $KURA_EXIT on SIGTERM (expected 0)"
tail -n 200 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" 2>/dev/null || true
cp "$RESULTS" "$RUN_OUT/rounds.txt"
cat "$TMP"/pool-r* >"$RUN_OUT/hash-pool-samples.txt" 2>/dev/null || true
POOL_QUEUED_MAX=$(awk 'NF == 2 && (!n++ || $1 > m) { m = $1 } END { print n ? m : "null" }' "$RUN_OUT/hash-pool-samples.txt")
POOL_RUNNING_MAX=$(awk 'NF == 2 && (!n++ || $2 > m) { m = $2 } END { print n ? m : "null" }' "$RUN_OUT/hash-pool-samples.txt")

# col NAME FIELD: median of that column over the rounds; colsum: the sum.
col() { awk -v s="$1" -v f="$2" '$1 == s { print $f }' "$RESULTS" | median; }
colsum() { awk -v s="$1" -v f="$2" '$1 == s { t += $f; n++ } END { print n ? t : "null" }' "$RESULTS"; }
names=(healthz login-1 login-ok login-bad storm-healthz storm-logins)
for n in "${names[@]}"; do
    v=${n//-/_}
    declare "${v}_rps=$(col "$n" 3)" "${v}_p50=$(col "$n" 4)" "${v}_p99=$(col "$n" 5)" "${v}_cpu=$(col "$n" 6)"
    declare "${v}_s200=$(colsum "$n" 7)" "${v}_s401=$(colsum "$n" 8)" "${v}_s429=$(colsum "$n" 9)"
    declare "${v}_s503=$(colsum "$n" 10)" "${v}_other=$(colsum "$n" 11)" "${v}_sock=$(colsum "$n" 12)"
    declare "${v}_n=$(awk -v s="$n" '$1 == s' "$RESULTS" | wc -l)"
done
# shellcheck disable=SC2154 # set by declare above
{
    ratio_p99=$(ratio "$storm_healthz_p99" "$healthz_p99")
    ratio_p50=$(ratio "$storm_healthz_p50" "$healthz_p50")
    ratio_logins=$(ratio "$storm_logins_rps" "$login_ok_rps")
    # With every hash worker busy, each login holds one for workers / rate seconds.
    hash_ms=$(awk -v w="$WORKERS" -v r="$login_ok_rps" 'BEGIN { if (r + 0 > 0) printf "%.1f\n", 1000 * w / r; else print "null" }')
}

# Unexpected answers: anything but 200 (right password, /healthz) or 401
# (wrong password), and socket errors.
UNEXPECTED=0
# shellcheck disable=SC2154
for n in healthz login-1 login-ok storm-healthz storm-logins; do
    v=${n//-/_}
    s401=${v}_s401 s429=${v}_s429 s503=${v}_s503 other=${v}_other sock=${v}_sock
    if [[ ${!s401} != 0 || ${!s429} != 0 || ${!s503} != 0 || ${!other} != 0 || ${!sock} != 0 ]]; then
        bench_warn "$n: unexpected answers (401:${!s401} 429:${!s429} 503:${!s503} other:${!other} socket errors:${!sock})"
        UNEXPECTED=1
    fi
done
# shellcheck disable=SC2154
if [[ $login_bad_s200 != 0 || $login_bad_s429 != 0 || $login_bad_s503 != 0 || $login_bad_other != 0 || $login_bad_sock != 0 ]]; then
    bench_warn "login-bad: unexpected answers (200:$login_bad_s200 429:$login_bad_s429 503:$login_bad_s503 other:$login_bad_other socket errors:$login_bad_sock)"
    UNEXPECTED=1
fi

# ------------------------------------------------------------------ report
git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then git_rev+="-dirty"; fi
hz_mode="paced: each connection waits ${HZ_DELAY_MS} ms after an answer"
[[ $HZ_DELAY_MS != 0 ]] || hz_mode="saturating (no pause)"

fmt_row() { # label rps p50_us p99_us cpu answers
    awk -v n="$1" -v rps="$2" -v p50="$3" -v p99="$4" -v cpu="$5" -v ans="$6" 'BEGIN {
        if (rps == "null") { printf "%-26s (no successful run)\n", n; exit }
        printf "%-26s %9.1f %10.2f %10.2f %6.0f  %s\n", n, rps, p50 / 1000, p99 / 1000, cpu, ans }'
}
answers() { # prefix
    local v=$1 s200 s401 s429 s503 other
    s200=${v}_s200 s401=${v}_s401 s429=${v}_s429 s503=${v}_s503 other=${v}_other
    printf '200:%s 401:%s 429:%s 503:%s other:%s' "${!s200}" "${!s401}" "${!s429}" "${!s503}" "${!other}"
}

# shellcheck disable=SC2154 # the per-run variables are set by declare above
{
    echo "kura login benchmark, $(date -u +%FT%TZ), git $git_rev"
    echo "Argon2id m=$MEMLIMIT KiB t=$OPSLIMIT p=1, [password] hash_workers = $WORKERS;" \
        "median of $ROUNDS rounds; $(nproc) CPUs shared by kura and wrk" \
        "(server CPUs: ${SERVER_CPUS:-any}, wrk CPUs: ${WRK_CPUS:-any}); load before: $load_before"
    echo "logins: wrk -t$LOGIN_THREADS -c$CLIENTS -d$DURATION (login-1: -t1 -c1 -d$SINGLE_DURATION), keep-alive;" \
        "/healthz: wrk -t1 -c$HZ_CONNECTIONS -d$DURATION, $hz_mode; storm: /healthz measured from $STORM_RAMP into the storm"
    echo
    printf '%-26s %9s %10s %10s %6s  %s\n' run req/s p50_ms p99_ms cpu% answers
    fmt_row "healthz alone" "$healthz_rps" "$healthz_p50" "$healthz_p99" "$healthz_cpu" "$(answers healthz)"
    fmt_row "login, 1 client" "$login_1_rps" "$login_1_p50" "$login_1_p99" "$login_1_cpu" "$(answers login_1)"
    fmt_row "login, $CLIENTS clients" "$login_ok_rps" "$login_ok_p50" "$login_ok_p99" "$login_ok_cpu" "$(answers login_ok)"
    fmt_row "wrong password, $CLIENTS cl." "$login_bad_rps" "$login_bad_p50" "$login_bad_p99" "$login_bad_cpu" "$(answers login_bad)"
    fmt_row "storm: healthz" "$storm_healthz_rps" "$storm_healthz_p50" "$storm_healthz_p99" "$storm_healthz_cpu" "$(answers storm_healthz)"
    fmt_row "storm: logins" "$storm_logins_rps" "$storm_logins_p50" "$storm_logins_p99" "$storm_logins_cpu" "$(answers storm_logins)"
    echo
    echo "logins/s: $login_ok_rps with the right password, $login_bad_rps with a wrong one" \
        "(one hash worker busy for about $hash_ms ms per login)"
    echo "healthz p99 during a login storm / without: ${ratio_p99}x (p50 ${ratio_p50}x);" \
        "logins/s during the storm / alone: ${ratio_logins}x"
    echo
    echo "notes:"
    echo "- kura ($KURA_BIN${BUILD_INFO:+, $BUILD_INFO}): $THREADS_SERVER threads, peak RSS $((${RSS_PEAK_KB:-0} / 1024)) MiB;" \
        "hash pool during the storms: at most $POOL_RUNNING_MAX running, $POOL_QUEUED_MAX queued (kura status, every 0.5 s);" \
        "exit status on SIGTERM: $KURA_EXIT"
    echo "- account: kura user add $USER_ID (its one-time password: every login opens a session of kind $ok_kind);" \
        "throttle_exempt = 127.0.0.1, backoff_after = 0, lockout_threshold = 0; TLS $KURA_TLS"
    if [[ -n $HASH_NICE ]]; then echo "- experiment: the hash pool's threads reniced to $HASH_NICE"; fi
    echo "- cpu% = server user+system CPU time / wall time (100 = one core)"
    echo "- raw output: $RUN_OUT"
} | tee "$RUN_OUT/summary.txt"

# shellcheck disable=SC2154
{
    run_json() { # prefix
        local v=$1 n rps p50 p99 cpu
        n=${v}_n rps=${v}_rps p50=${v}_p50 p99=${v}_p99 cpu=${v}_cpu
        if [[ ${!n} -eq 0 ]]; then
            printf 'null'
            return
        fi
        local s200=${v}_s200 s401=${v}_s401 s429=${v}_s429 s503=${v}_s503 other=${v}_other
        printf '{"req_s":%s,"p50_us":%s,"p99_us":%s,"cpu_pct":%s,"answers":{"200":%s,"401":%s,"429":%s,"503":%s,"other":%s}}' \
            "$(json_num "${!rps}")" "$(json_num "${!p50}")" "$(json_num "${!p99}")" "$(json_num "${!cpu}")" \
            "$(json_num "${!s200}")" "$(json_num "${!s401}")" "$(json_num "${!s429}")" \
            "$(json_num "${!s503}")" "$(json_num "${!other}")"
    }
    printf '{"bench":"login","time":%s,"git":%s,"kura_build":%s,"kura_exit_on_sigterm":%s,' \
        "$(json_str "$(date -u +%FT%TZ)")" "$(json_str "$git_rev")" "$(json_str "$BUILD_INFO")" "$(json_num "$KURA_EXIT")"
    printf '"argon2id":{"memlimit_kib":%s,"opslimit":%s,"hash_workers":%s},"cpus":%s,"rounds":%s,"duration":%s,' \
        "$(json_num "$MEMLIMIT")" "$(json_num "$OPSLIMIT")" "$(json_num "$WORKERS")" "$(nproc)" "$ROUNDS" "$(json_str "$DURATION")"
    printf '"clients":%s,"healthz_connections":%s,"healthz_delay_ms":%s,"storm_ramp":%s,' \
        "$CLIENTS" "$HZ_CONNECTIONS" "$HZ_DELAY_MS" "$(json_str "$STORM_RAMP")"
    printf '"healthz":%s,"login_1":%s,"login_ok":%s,"login_bad":%s,"storm_healthz":%s,"storm_logins":%s,' \
        "$(run_json healthz)" "$(run_json login_1)" "$(run_json login_ok)" "$(run_json login_bad)" \
        "$(run_json storm_healthz)" "$(run_json storm_logins)"
    printf '"hash_ms_per_login":%s,"ratio_storm_healthz_p99":%s,"ratio_storm_healthz_p50":%s,"ratio_storm_logins":%s,' \
        "$(json_num "$hash_ms")" "$(json_num "$ratio_p99")" "$(json_num "$ratio_p50")" "$(json_num "$ratio_logins")"
    printf '"rss_peak_kib":%s,"hash_pool_max_running":%s,"hash_pool_max_queued":%s,"hash_nice":%s}\n' \
        "$(json_num "$RSS_PEAK_KB")" "$(json_num "$POOL_RUNNING_MAX")" "$(json_num "$POOL_QUEUED_MAX")" \
        "$(json_num "${HASH_NICE:-null}")"
} >"$RUN_OUT/summary.json"
cat "$RUN_OUT/summary.json" >>"$OUT_DIR/login.jsonl"

# ------------------------------------------------------------- exit status
if [[ $MEASURE_FAILED -ne 0 ]]; then
    bench_warn "some measurements failed; see $RUN_OUT"
    exit 1
fi
if [[ $UNEXPECTED -ne 0 || $KURA_EXIT -ne 0 ]]; then
    bench_warn "unexpected answers during the runs or kura exit status $KURA_EXIT on SIGTERM; see $RUN_OUT"
    exit 4
fi
