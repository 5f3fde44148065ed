# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench/*.sh scripts.  Source it; it
# defines functions only and changes no shell options.
#
# The servers are started by the caller in its own shell (so `wait PID` can
# collect them); these helpers only poll, stop, measure and format.

bench_log() { printf '%s: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
bench_warn() { printf '%s: WARNING: %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
bench_die() {
    printf '%s: error: %s\n' "${BENCH_NAME:-bench}" "$*" >&2
    exit 1
}

# is_uint VALUE: true when VALUE is a non-negative decimal integer.
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# free_ports N: print N distinct free TCP ports on 127.0.0.1, one per line.
# All N sockets are bound at once so the kernel cannot hand out one twice;
# they are closed before returning, leaving only the usual small race.
free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
    s.close()
EOF
}

# wait_https NAME PID URL ATTEMPTS [CURL_ARG...]: poll URL (any certificate)
# every 0.1 s until it answers 200, at most ATTEMPTS times.  Fails early if PID
# exits.  CURL_ARGs go to curl as they are (e.g. -H "Host: localhost:8443").
wait_https() {
    local name=$1 pid=$2 url=$3 attempts=$4 i code
    shift 4
    for ((i = 1; i <= attempts; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            bench_warn "$name (pid $pid) exited before becoming ready"
            return 1
        fi
        code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null) || true
        if [[ $code == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    bench_warn "$name not ready after $attempts attempts (last HTTP status: ${code:-none}) at $url"
    return 1
}

# stop_pid PID: SIGTERM, poll up to 10 s for exit, then SIGKILL; reap it.
# Leaves the exit status in STOPPED_STATUS (143 = killed by SIGTERM without
# handling it, 137 = needed SIGKILL).  PID must be a child of the calling
# shell, so do not call this in a command substitution.
stop_pid() {
    local pid=$1 i st=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bench_warn "pid $pid ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || st=$?
    # shellcheck disable=SC2034 # read by the caller
    STOPPED_STATUS=$st
}

# proc_cpu_ticks PID: user+system CPU time of the whole process (all its
# threads), in clock ticks.  The comm field may contain spaces, so cut at ") ".
proc_cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    stat=${stat##*) }
    # After the cut, field 1 is state (stat field 3): utime is 12, stime 13.
    awk '{ print $12 + $13 }' <<<"$stat"
}

# proc_threads PID: number of threads of PID.
proc_threads() {
    awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo '?'
}

# kv_get LINE KEY: value of KEY in a "BENCH k=v k=v ..." line (empty if absent).
kv_get() {
    local kv
    for kv in $1; do
        if [[ ${kv%%=*} == "$2" ]]; then
            printf '%s\n' "${kv#*=}"
            return 0
        fi
    done
    return 0
}

# median: median of the numbers on stdin (one per line); "null" if none.
median() {
    sort -g | awk '{ v[NR] = $1 }
        END {
            if (NR == 0) { print "null"; exit }
            if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.10g\n", m
        }'
}

# tls_probe HOST:PORT: "protocol cipher group sigtype" as negotiated by the
# OpenSSL client defaults (the same library and defaults wrk uses).
tls_probe() {
    local out proto cipher group sig
    out=$(timeout 10 openssl s_client -connect "$1" -brief </dev/null 2>&1) || true
    proto=$(sed -n 's/^Protocol version: *//p' <<<"$out" | head -n1)
    cipher=$(sed -n 's/^Ciphersuite: *//p' <<<"$out" | head -n1)
    # "Server Temp Key: X25519, 253 bits" or "... ECDH, prime256v1, 256 bits"
    group=$(sed -n 's/^Server Temp Key: *\(ECDH, *\)\{0,1\}\([^,]*\).*/\2/p' <<<"$out" | head -n1)
    sig=$(sed -n 's/^Signature type: *//p' <<<"$out" | head -n1)
    printf '%s %s %s %s\n' "${proto:-?}" "${cipher:-?}" "${group:-?}" "${sig:-?}"
}

# json_str STRING: STRING as a JSON string literal (control characters dropped).
json_str() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=$(tr -d '\000-\037' <<<"$s")
    printf '"%s"' "$s"
}

# json_num VALUE: VALUE if it is a number, else null.
json_num() {
    if [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        printf '%s' "$1"
    else
        printf 'null'
    fi
}

# ratio A B: A/B with 3 decimals, or "null" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || a == "null" || b == "null" || b + 0 == 0) print "null"
        else printf "%.3f\n", a / b }'
}

# bench_buildinfo DIR: "buildtype=... optimization=... b_sanitize=..." of a
# meson build directory, or nothing when meson does not know it.
bench_buildinfo() {
    [[ -f $1/build.ninja ]] || return 0
    meson introspect "$1" --buildoptions 2>/dev/null | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print("buildtype=%s optimization=%s b_sanitize=%s" % (
    opts.get("buildtype"), opts.get("optimization"), opts.get("b_sanitize")))' 2>/dev/null || true
}

# bench_build DIR REPO TARGET LOG: brings TARGET of the build directory DIR up
# to date: ninja when DIR is configured, `make` when DIR is the repository's
# own build/, else a new release configuration. Output goes to LOG; returns
# the build's exit status.
bench_build() {
    local dir=$1 repo=$2 target=$3 log=$4
    {
        if [[ -f $dir/build.ninja ]]; then
            ninja -C "$dir" "$target"
        elif [[ -f $repo/Makefile && $dir == "$repo/build" ]]; then
            make -C "$repo"
        else
            meson setup "$dir" "$repo" --buildtype=release -Db_ndebug=false &&
                ninja -C "$dir" "$target"
        fi
    } >"$log" 2>&1
}
