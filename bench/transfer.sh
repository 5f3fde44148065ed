#!/usr/bin/env bash
# bench/transfer.sh: kura's WebDAV transfer speed, side by side in one run with
# lighttpd's mod_webdav and nginx's dav + dav_ext serving plain files, all
# three over HTTPS with the same certificate and TLS settings and HTTP Basic
# authentication on every WebDAV request.  Figures and ratios only: the
# targets are printed next to the ratios, nothing passes or fails on them.
#
# For each server, ROUNDS rounds (the servers alternating, in a rotating
# order) of:
#   PUT      a BIG_MB MiB file of random bytes, `curl -T` over one connection
#            (HTTP/1.1, no Expect: 100-continue), a new name each round
#   GET      that file (the one PUT in round 1) to /dev/null with curl
#   GET 4K   a SMALL_BYTES-byte file, wrk keep-alive, authenticated
#   PROPFIND Depth: 1 on a folder of FOLDER_FILES files, wrk, authenticated,
#            asking for resourcetype, getcontentlength, getlastmodified, getetag
# and reports MB/s (10^6 bytes/s) or requests/s, p99 (wrk runs), server CPU
# per request (user+system time of the server's processes from /proc, per
# transfer or per request), kura/peer ratios, and kura's peak RSS (VmHWM).
# Before each timed PUT/GET, `sync` writes back what the previous one left
# dirty, so that no server pays for another's writeback; before each PUT, when
# run as root, the page cache is also dropped (DROP_CACHES), since a full one
# made PUTs 2x slower here (reclaim is charged to the writer).
#
# kura: `kura init`, then an account made without a browser: the
# administrator's one-time password logs in (enrolment session), the
# password is changed, TOTP is enrolled (the code computed from the
# otpauth URI), and an app password (scope read-write) is made: WebDAV uses
# Basic auth with it.  The peers get the same user name and password in an
# htpasswd file.  Each server's data is put in place through its own WebDAV
# (MKCOL, PUT), and one GET and one PROPFIND of each kind are checked
# (status, bytes, number of <response> elements) before anything is timed.
#
# Usage: bench/transfer.sh          (settings through the environment)
#   BIG_MB=1024        size of the PUT/GET file in MiB
#   SMALL_BYTES=4096   size of the small GET file
#   FOLDER_FILES=100   files in the PROPFIND folder
#   FOLDER_FILE_BYTES=1024  size of each of them
#   ROUNDS=2           rounds; each figure reported is the median
#   DURATION=10s       length of each wrk measurement (wrk -d)
#   WARMUP=2s          wrk warm-up before each wrk measurement; 0 skips it
#   CONNECTIONS=64     wrk -c
#   THREADS=2          wrk -t
#   VERIFY=1           after the PUTs, GET the big file once more from each
#                      server (untimed) and compare its SHA-256; 0 skips it
#   NGINX_WORKERS=auto nginx worker_processes (auto: one per CPU, as kura's
#                      [http] threads = 0); lighttpd is one process, one thread
#   PEER_HASH=md5      scheme of the peers' htpasswd file, checked on every
#                      request (neither peer caches it here): md5 is apr1,
#                      what `htpasswd` writes by default (1,000 MD5 rounds);
#                      sha is {SHA}, one SHA-1, as cheap as kura's one
#                      HMAC-SHA-256 per app-password check; bcrypt is
#                      `htpasswd -B` (cost 5).  The authenticated small-file
#                      figures depend on it more than on anything else.
#   ACCESS_LOG=1       the peers write an access log (in the temp dir), as
#                      kura logs every request (its stderr, a file here) and
#                      audits it; 0 turns the peers' access logs off
#   DROP_CACHES=auto   1: drop the page cache before each PUT (needs root);
#                      0: never; auto: 1 when run as root
#   KURA_BUILD_DIR=build   the release build (KURA_BIN=$KURA_BUILD_DIR/kura)
#   KURA_BUILD=1       bring kura up to date with bench_build first (runs `make`
#                      when $KURA_BUILD_DIR is the repo's build and does not
#                      exist yet); 0 uses the binary as it is
#   SERVER_CPUS= WRK_CPUS=   optional `taskset -c` CPU lists for the servers
#                      and for the clients (wrk and curl); default none
#   READY_ATTEMPTS=200 readiness polls per server, 0.1 s apart
#   OUT_DIR=bench/out  where results go (git-ignored)
#   TMPDIR=/tmp        where the temporary folder goes: kura's data folder and
#                      the peers' document roots and upload temp folders are
#                      all in it, so all three write to the same filesystem
#                      (named in the summary); it needs about
#                      BIG_MB * (3 * ROUNDS + 2) MiB free
#
# Output: a table on stdout; the raw wrk and curl outputs, server logs and
# configurations, summary.txt and summary.json in $OUT_DIR/transfer-<UTC
# time>/; the JSON line is also appended to $OUT_DIR/transfer.jsonl.
#
# Exit status: 0 every server measured without errors; 3 kura missing or not
# working (setup, WebDAV, or it died; the peers are still measured and
# reported); 4 measured, but some requests failed (non-2xx, socket errors,
# wrong size) or kura did not exit 0 on SIGTERM; 1 any other failure (a peer
# that would not start, a wrk run that made no requests); 130/143
# interrupted.
set -euo pipefail

# shellcheck disable=SC2034 # read by the lib.sh log functions
BENCH_NAME=transfer
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"

BIG_MB=${BIG_MB:-1024}
SMALL_BYTES=${SMALL_BYTES:-4096}
FOLDER_FILES=${FOLDER_FILES:-100}
FOLDER_FILE_BYTES=${FOLDER_FILE_BYTES:-1024}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
VERIFY=${VERIFY:-1}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
PEER_HASH=${PEER_HASH:-md5}
ACCESS_LOG=${ACCESS_LOG:-1}
DROP_CACHES=${DROP_CACHES:-auto}
if [[ $DROP_CACHES == auto ]]; then
    DROP_CACHES=0
    if [[ $(id -u) == 0 && -w /proc/sys/vm/drop_caches ]]; then DROP_CACHES=1; fi
fi
KURA_BUILD_DIR=${KURA_BUILD_DIR:-$REPO/build}
KURA_BIN=${KURA_BIN:-$KURA_BUILD_DIR/kura}
KURA_BUILD=${KURA_BUILD:-1}
SERVER_CPUS=${SERVER_CPUS:-}
WRK_CPUS=${WRK_CPUS:-}
READY_ATTEMPTS=${READY_ATTEMPTS:-200}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
LUA=$BENCH_DIR/wrk-dav.lua
USER_ID=bench

# ---------------------------------------------------------------- settings
for v in BIG_MB SMALL_BYTES FOLDER_FILES FOLDER_FILE_BYTES ROUNDS CONNECTIONS THREADS READY_ATTEMPTS; do
    if ! is_uint "${!v}" || [[ ${!v} -eq 0 ]]; then
        bench_die "$v must be a positive integer (got '${!v}')"
    fi
done
[[ $FOLDER_FILES -le 10000 ]] || bench_die "FOLDER_FILES must be at most 10000"
[[ $DURATION =~ ^[0-9]+[smh]?$ && ! $DURATION =~ ^0+[smh]?$ ]] ||
    bench_die "DURATION must look like 10s, 2m or 30 (got '$DURATION')"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || bench_die "WARMUP must look like 2s or 0 (got '$WARMUP')"
[[ $THREADS -le $CONNECTIONS ]] || bench_die "THREADS ($THREADS) must not exceed CONNECTIONS ($CONNECTIONS)"
[[ $NGINX_WORKERS == auto ]] || { is_uint "$NGINX_WORKERS" && [[ $NGINX_WORKERS -gt 0 ]]; } ||
    bench_die "NGINX_WORKERS must be auto or a positive integer"
for v in VERIFY ACCESS_LOG KURA_BUILD DROP_CACHES; do
    [[ ${!v} == 0 || ${!v} == 1 ]] || bench_die "$v must be 0 or 1"
done
case $PEER_HASH in
sha) HTPASSWD_OPT=-s ;;
md5) HTPASSWD_OPT=-m ;;
bcrypt) HTPASSWD_OPT=-B ;;
*) bench_die "PEER_HASH must be sha, md5 or bcrypt (got '$PEER_HASH')" ;;
esac
[[ -f $LUA && -f $BENCH_DIR/wrk-report.lua ]] || bench_die "missing $LUA or $BENCH_DIR/wrk-report.lua"

"$REPO/scripts/deps.sh" bench || bench_die "scripts/deps.sh bench failed"
for tool in wrk lighttpd nginx htpasswd curl openssl python3 awk sha256sum; do
    command -v "$tool" >/dev/null || bench_die "'$tool' not found"
done
NGINX_DAV_EXT=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
[[ -f $NGINX_DAV_EXT ]] || bench_die "missing $NGINX_DAV_EXT (Debian package libnginx-mod-http-dav-ext)"

SERVER_PREFIX=()
CLIENT_PREFIX=()
if [[ -n $SERVER_CPUS ]]; then SERVER_PREFIX=(taskset -c "$SERVER_CPUS"); fi
if [[ -n $WRK_CPUS ]]; then CLIENT_PREFIX=(taskset -c "$WRK_CPUS"); fi
CLK_TCK=$(getconf CLK_TCK)
BIG_BYTES=$((BIG_MB * 1048576))

# ------------------------------------------------------- temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kura-bench-transfer.XXXXXX")
SERVERS=(lighttpd nginx kura)
declare -A PID=() PORT=() STATUS=() NOTE=() TLS=()
for s in "${SERVERS[@]}"; do
    PID[$s]=""
    STATUS[$s]=missing # ok | missing | failed
    NOTE[$s]=""
    TLS[$s]="-"
done
STOPPED_STATUS=0

# stop_server NAME: stop that server (if running), leaving its exit status in
# STOPPED_STATUS.
stop_server() {
    STOPPED_STATUS=0
    if [[ -n ${PID[$1]} ]]; then
        stop_pid "${PID[$1]}"
        PID[$1]=""
    fi
}

cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    for s in "${SERVERS[@]}"; do stop_server "$s"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RUN_OUT=$OUT_DIR/transfer-$stamp
[[ ! -e $RUN_OUT ]] || RUN_OUT=$RUN_OUT-$$
mkdir -p "$RUN_OUT"

# All servers store under $TMP: one filesystem for everybody.
read -r FS_DEV FS_TYPE FS_MOUNT FS_AVAIL_KB < <(df --output=source,fstype,target,avail "$TMP" | tail -n1)
need_kb=$((BIG_MB * 1024 * (3 * ROUNDS + 2) + 262144))
[[ $FS_AVAIL_KB -ge $need_kb ]] ||
    bench_die "$TMP ($FS_DEV, $FS_TYPE) has $((FS_AVAIL_KB / 1024)) MiB free; this run needs about $((need_kb / 1024)) MiB (lower BIG_MB or ROUNDS, or set TMPDIR)"
STORAGE="$TMP on $FS_DEV ($FS_TYPE, mounted on $FS_MOUNT)"

mapfile -t ports < <(free_ports 3)
[[ ${#ports[@]} -eq 3 ]] || bench_die "could not find free ports"
PORT[lighttpd]=${ports[0]}
PORT[nginx]=${ports[1]}
PORT[kura]=${ports[2]}

# curl_to NAME ARG...: curl against server NAME over HTTP/1.1, trusting $CERT,
# with "localhost" pinned to 127.0.0.1 (the servers listen on IPv4 only).
curl_to() {
    local s=$1
    shift
    "${CLIENT_PREFIX[@]}" curl --http1.1 -sS --cacert "$CERT" \
        --resolve "localhost:${PORT[$s]}:127.0.0.1" "$@"
}
base_url() { printf 'https://localhost:%s' "${PORT[$1]}"; }

# ------------------------------------------------------------- test data
SEED=$TMP/seed
mkdir -p "$SEED/folder"
BIG=$SEED/big.bin
bench_log "writing the test data ($BIG_MB MiB random file, $SMALL_BYTES-byte file, $FOLDER_FILES x $FOLDER_FILE_BYTES-byte files)"
head -c "$BIG_BYTES" /dev/urandom >"$BIG"
head -c "$SMALL_BYTES" /dev/urandom >"$SEED/small.bin"
for ((i = 1; i <= FOLDER_FILES; i++)); do
    head -c "$FOLDER_FILE_BYTES" /dev/urandom >"$(printf '%s/folder/file-%05d.txt' "$SEED" "$i")"
done
BIG_SHA=$(sha256sum "$BIG" | awk '{ print $1 }')
PROPFIND_XML=$SEED/propfind.xml
cat >"$PROPFIND_XML" <<'EOF'
<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/></d:prop></d:propfind>
EOF

# dav_seed NAME: through server NAME's WebDAV, MKCOL /dav/home/folder/, PUT the
# small file and the folder's files, then check one GET of the small file
# (200, same bytes) and one PROPFIND Depth 1 of the folder (207, one
# <response> per member plus the folder).  Prints a note on failure.
dav_seed() {
    python3 - "${PORT[$1]}" "$CERT" "$AUTH_FILE" "$SEED" "$FOLDER_FILES" "$PROPFIND_XML" <<'EOF'
import http.client, os, re, ssl, sys
port, cafile, authfile, seed, nfiles, pfxml = sys.argv[1:7]
auth = open(authfile).readline().rstrip("\n").split(": ", 1)[1]
ctx = ssl.create_default_context(cafile=cafile)
conn = None

def req(method, path, body=None, headers=None):
    global conn
    for attempt in (1, 2):
        if conn is None:
            conn = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=60)
        h = {"Authorization": auth}
        h.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = None
            if attempt == 2:
                raise
            continue
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
        return r.status, data

def must(ok, what, status, data):
    if not ok:
        print("%s answered %s: %s" % (what, status, data.decode("utf-8", "replace")[:200].replace("\n", " ")))
        sys.exit(1)

try:
    st, data = req("MKCOL", "/dav/home/folder/")
    must(st == 201, "MKCOL /dav/home/folder/", st, data)
    small = open(os.path.join(seed, "small.bin"), "rb").read()
    st, data = req("PUT", "/dav/home/small.bin", small, {"Content-Type": "application/octet-stream"})
    must(st in (200, 201, 204), "PUT /dav/home/small.bin", st, data)
    names = sorted(os.listdir(os.path.join(seed, "folder")))
    for n in names:
        body = open(os.path.join(seed, "folder", n), "rb").read()
        st, data = req("PUT", "/dav/home/folder/" + n, body, {"Content-Type": "text/plain"})
        must(st in (200, 201, 204), "PUT /dav/home/folder/" + n, st, data)
    st, data = req("GET", "/dav/home/small.bin")
    must(st == 200 and data == small, "GET /dav/home/small.bin (%d bytes back)" % len(data), st, data)
    st, data = req("PROPFIND", "/dav/home/folder/", open(pfxml, "rb").read(),
                   {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"})
    n = len(re.findall(rb"<(?:[A-Za-z_][\w.-]*:)?response[\s>]", data))
    must(st == 207 and n == int(nfiles) + 1,
         "PROPFIND Depth 1 /dav/home/folder/ (%d <response> elements, want %d)" % (n, int(nfiles) + 1), st, data)
except (http.client.HTTPException, OSError) as e:
    print("request failed: %s" % e)
    sys.exit(1)
EOF
}

# -------------------------------------------------------------------- kura
KURA_BUILDTYPE=""
KURA_VERSION=""
KURA_EXIT=null
KURA_RSS_KB=null
CERT=""
KEY=""
APP_PW=$TMP/app-password
DATA=$TMP/kura-data

kura_fail() {
    STATUS[kura]=failed
    NOTE[kura]=$1
    bench_warn "kura: $1"
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
        return 1
    }
    mv "$conf.new" "$conf"
}

# kura_enrol OTP_FILE: the browserless enrolment; writes the app password to
# $APP_PW.  Prints a note on failure.
kura_enrol() {
    python3 - "${PORT[kura]}" "$CERT" "$USER_ID" "$1" "$APP_PW" <<'EOF'
import base64, hashlib, hmac, http.client, json, os, secrets, ssl, struct, sys, time, urllib.parse
port, cafile, user, otpfile, out = sys.argv[1:6]
otp = open(otpfile).readline().rstrip("\n")
ctx = ssl.create_default_context(cafile=cafile)
cookie, csrf = None, None

def call(path, body=None, step=""):
    global cookie, csrf
    conn = http.client.HTTPSConnection("localhost", int(port), context=ctx, timeout=60)
    h = {"Content-Type": "application/json"}
    if cookie:
        h["Cookie"] = cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    conn.request("POST", path, body=json.dumps(body).encode() if body is not None else b"", headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    for c in r.headers.get_all("Set-Cookie") or []:
        if c.startswith("__Host-kura_session="):
            cookie = c.split(";", 1)[0]
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {}
    if r.status != 200:
        print("%s: POST %s answered %d: %s" % (step, path, r.status, data.decode("utf-8", "replace")[:200]))
        sys.exit(1)
    csrf = doc.get("csrf_token", csrf)
    return doc

def totp(secret, at):
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)

try:
    doc = call("/api/v1/session", {"user": user, "password": otp}, "login with the one-time password")
    # Not starting with the user ID: the policy refuses passwords containing it.
    new = "xfer-" + secrets.token_urlsafe(30)
    call("/api/v1/me/password", {"current": otp, "new": new}, "password change")
    doc = call("/api/v1/me/totp", None, "TOTP enrolment")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(doc["otpauth_uri"]).query)
    secret = q["secret"][0]
    # A code in the last seconds of its step may be stale on arrival: wait.
    if 30 - time.time() % 30 < 2:
        time.sleep(2.5)
    doc = call("/api/v1/me/totp/confirm", {"code": totp(secret, time.time())}, "TOTP confirmation")
    if doc.get("session") != "full":
        print("TOTP confirmation gave a %r session, not a full one" % doc.get("session"))
        sys.exit(1)
    doc = call("/api/v1/me/app-passwords", {"name": "bench", "scope": "read-write"}, "app password")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (doc["password"] + "\n").encode())
    os.close(fd)
except (KeyError, IndexError, TypeError, ValueError, OSError, http.client.HTTPException) as e:
    print("enrolment failed: %r" % e)
    sys.exit(1)
EOF
}

# setup_kura: build, init, start, enrol; sets CERT/KEY as soon as init has
# made them.  Never fatal: a failure leaves STATUS[kura] and NOTE[kura].
setup_kura() {
    local rc=0
    if [[ $KURA_BUILD == 1 ]]; then
        bench_log "kura: bringing $KURA_BUILD_DIR up to date (log: $RUN_OUT/build.log)"
        bench_build "$KURA_BUILD_DIR" "$REPO" kura "$RUN_OUT/build.log" || rc=$?
        if [[ $rc -ne 0 && -x $KURA_BIN ]]; then
            bench_warn "the build failed (exit $rc, see $RUN_OUT/build.log); using the existing $KURA_BIN"
        fi
    fi
    if [[ ! -x $KURA_BIN ]]; then
        NOTE[kura]="$KURA_BIN not found (KURA_BUILD=$KURA_BUILD; build log: $RUN_OUT/build.log)"
        bench_warn "kura: ${NOTE[kura]}"
        return 1
    fi
    KURA_BUILDTYPE=$(bench_buildinfo "$KURA_BUILD_DIR")
    case $KURA_BUILDTYPE in
    *b_sanitize=none* | "") ;;
    *) bench_warn "kura build in $KURA_BUILD_DIR is instrumented ($KURA_BUILDTYPE); figures are not release figures" ;;
    esac

    local otp=$TMP/admin-password
    rc=0
    "$KURA_BIN" init --data "$DATA" --admin "$USER_ID" --admin-password-file "$otp" \
        >"$RUN_OUT/kura-init.log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        kura_fail "'kura init' failed (exit $rc, see $RUN_OUT/kura-init.log)"
        return 1
    fi
    local f
    for f in kura.conf keys/tls.crt keys/tls.key; do
        [[ -f $DATA/$f ]] || {
            kura_fail "'kura init' did not create $f"
            return 1
        }
    done
    CERT=$DATA/keys/tls.crt
    KEY=$DATA/keys/tls.key

    # Cheap Argon2id: only the enrolment's few logins use it; WebDAV requests
    # check the app password with one HMAC.
    local kv
    for kv in "http public_url https://localhost:${PORT[kura]}" "session throttle_exempt 127.0.0.1" \
        "password hash_memlimit_kib 8192" "password hash_opslimit 1"; do
        # shellcheck disable=SC2086 # three words on purpose
        set_conf $kv || {
            kura_fail "no '$(cut -d' ' -f2 <<<"$kv") = ...' line in the [${kv%% *}] section of kura.conf"
            return 1
        }
    done
    cp "$DATA/kura.conf" "$RUN_OUT/kura.conf"

    "${SERVER_PREFIX[@]}" "$KURA_BIN" serve --data "$DATA" --listen "127.0.0.1:${PORT[kura]}" \
        >"$TMP/kura.log" 2>&1 &
    PID[kura]=$!
    if ! wait_https kura "${PID[kura]}" "https://127.0.0.1:${PORT[kura]}/healthz" "$READY_ATTEMPTS"; then
        stop_server kura
        tail -n 50 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" || true
        kura_fail "'kura serve' did not answer 200 on /healthz (exit status $STOPPED_STATUS; see $RUN_OUT/kura-serve.log)"
        return 1
    fi
    KURA_VERSION=$(curl_to kura --max-time 5 "$(base_url kura)/healthz" 2>/dev/null |
        sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p') || true

    local note
    if ! note=$(kura_enrol "$otp" 2>&1); then
        kura_fail "browserless enrolment failed: ${note:-no message}"
        return 1
    fi
    STATUS[kura]=ok
}

setup_kura || true
if [[ ${STATUS[kura]} != ok && -n ${PID[kura]} ]]; then stop_server kura; fi

if [[ -z $CERT ]]; then
    bench_warn "no kura certificate; the peers use a throwaway self-signed ECDSA P-256 certificate"
    CERT=$TMP/fallback.crt
    KEY=$TMP/fallback.key
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$KEY" -out "$CERT" >/dev/null 2>&1 || bench_die "openssl could not make a certificate"
    CERT_SRC="throwaway (kura unavailable)"
else
    CERT_SRC="kura's data folder (keys/tls.crt)"
fi
# The peers read their own copies (0600), as kura does.
PEER_CERT=$TMP/peer-tls.crt
PEER_KEY=$TMP/peer-tls.key
install -m 0600 "$CERT" "$PEER_CERT"
install -m 0600 "$KEY" "$PEER_KEY"

# The same user and password everywhere: kura's app password, or a random
# one of the same length when kura is not there.
if [[ ! -s $APP_PW ]]; then
    (
        umask 077
        python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$APP_PW"
    )
fi
AUTH_FILE=$TMP/auth-header
(
    umask 077
    printf 'Authorization: Basic %s\n' "$(printf '%s:%s' "$USER_ID" "$(head -n1 "$APP_PW")" | base64 -w0)" >"$AUTH_FILE"
    # wrk-dav.lua wants the value only.
    sed 's/^Authorization: //' "$AUTH_FILE" >"$AUTH_FILE.value"
)
htpasswd -i "$HTPASSWD_OPT" -c "$TMP/htpasswd" "$USER_ID" <"$APP_PW" >/dev/null 2>&1 ||
    bench_die "htpasswd could not write $TMP/htpasswd"

if [[ ${STATUS[kura]} == ok ]]; then
    if note=$(dav_seed kura 2>&1); then
        TLS[kura]=$(tls_probe "127.0.0.1:${PORT[kura]}")
        bench_log "kura ${KURA_VERSION:-?} up on $(base_url kura): enrolled, app password made, WebDAV data in place"
    else
        kura_fail "WebDAV setup under /dav/home/ failed: ${note:-no message}"
        stop_server kura
        tail -n 50 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" || true
    fi
fi

# --------------------------------------------------------- TLS parameters
# As bench/healthz.sh: TLS 1.2/1.3, AEAD only, AES-GCM first; the TLS 1.3
# suite and group kura negotiated (with OpenSSL client defaults) go first.
tls13="TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
kura_suite=$(awk '{ print $2 }' <<<"${TLS[kura]}")
case ":$tls13:" in
*":$kura_suite:"*) tls13="$kura_suite:$(tr ':' '\n' <<<"$tls13" | grep -vxF "$kura_suite" | paste -sd:)" ;;
esac
tls12="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"
groups="X25519:P-256:P-384"
case $(awk '{ print $3 }' <<<"${TLS[kura]}") in
prime256v1 | P-256) groups="P-256:X25519:P-384" ;;
esac
if ! openssl x509 -in "$CERT" -noout -text 2>/dev/null | grep -q 'ASN1 OID: prime256v1'; then
    bench_warn "$CERT is not an ECDSA P-256 certificate: the ECDSA-only TLS 1.2 suites will not match it"
fi

peer_fail() {
    STATUS[$1]=failed
    NOTE[$1]=$2
    bench_warn "$1: $2"
}

# start_peer NAME CMD...: start the peer, wait for /healthz, seed its data.
start_peer() {
    local s=$1 note
    shift
    "${SERVER_PREFIX[@]}" "$@" >"$TMP/$s.stderr" 2>&1 &
    PID[$s]=$!
    if ! wait_https "$s" "${PID[$s]}" "https://127.0.0.1:${PORT[$s]}/healthz" "$READY_ATTEMPTS"; then
        stop_server "$s"
        peer_fail "$s" "did not answer 200 on /healthz (see $RUN_OUT/$s.log)"
        return 1
    fi
    if ! note=$(dav_seed "$s" 2>&1); then
        stop_server "$s"
        peer_fail "$s" "WebDAV setup failed: ${note:-no message}"
        return 1
    fi
    TLS[$s]=$(tls_probe "127.0.0.1:${PORT[$s]}")
    STATUS[$s]=ok
}

# ---------------------------------------------------------------- lighttpd
LT_ROOT=$TMP/lighttpd-root
mkdir -p "$LT_ROOT/dav/home" "$TMP/lighttpd-upload"
echo '{"status":"ok"}' >"$LT_ROOT/healthz"
LT_CONF=$TMP/lighttpd.conf
lt_accesslog=""
if [[ $ACCESS_LOG == 1 ]]; then
    lt_accesslog="server.modules += (\"mod_accesslog\")
accesslog.filename = \"$TMP/lighttpd-access.log\""
fi
cat >"$LT_CONF" <<EOF
# Written by bench/transfer.sh.  server.max-worker is deliberately unset:
# lighttpd runs as one process with one event-loop thread.
server.modules = ("mod_openssl", "mod_auth", "mod_authn_file", "mod_webdav")
$lt_accesslog
server.port = ${PORT[lighttpd]}
server.bind = "127.0.0.1"
server.document-root = "$LT_ROOT"
server.errorlog = "$TMP/lighttpd.log"
# Request bodies are collected here before mod_webdav sees them: the same
# filesystem as the document root, so a finished upload can be renamed.
server.upload-dirs = ( "$TMP/lighttpd-upload" )
server.max-request-size = $((BIG_MB * 1024 + 1024))
mimetype.assign = ( "" => "application/octet-stream" )
ssl.engine = "enable"
ssl.pemfile = "$PEER_CERT"
ssl.privkey = "$PEER_KEY"
ssl.openssl.ssl-conf-cmd = (
    "MinProtocol" => "TLSv1.2",
    "CipherString" => "$tls12",
    "Ciphersuites" => "$tls13",
    "Groups" => "$groups",
    "Options" => "ServerPreference",
)
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "$TMP/htpasswd"
\$HTTP["url"] =~ "^/dav/" {
    webdav.activate = "enable"
    webdav.is-readonly = "disable"
    # Dead properties and locks, as a class 2 server keeps them.
    webdav.sqlite-db-name = "$TMP/lighttpd-webdav.sqlite"
    auth.require = ( "" => ( "method" => "basic", "realm" => "bench", "require" => "valid-user" ) )
}
EOF
cp "$LT_CONF" "$RUN_OUT/lighttpd.conf"
if lighttpd -tt -f "$LT_CONF" >"$TMP/lighttpd-check.log" 2>&1; then
    start_peer lighttpd lighttpd -D -f "$LT_CONF" || true
else
    peer_fail lighttpd "rejected its configuration: $(head -c 300 "$TMP/lighttpd-check.log")"
fi

# ------------------------------------------------------------------- nginx
NG_DIR=$TMP/nginx
NG_ROOT=$TMP/nginx-root
mkdir -p "$NG_DIR/tmp/body" "$NG_DIR/tmp/proxy" "$NG_DIR/tmp/fastcgi" "$NG_DIR/tmp/uwsgi" \
    "$NG_DIR/tmp/scgi" "$NG_ROOT/dav/home"
echo '{"status":"ok"}' >"$NG_ROOT/healthz"
NG_CONF=$NG_DIR/nginx.conf
ng_user=""
# A root master would run its workers as nobody, who cannot enter $TMP.
if [[ $(id -u) -eq 0 ]]; then ng_user="user $(id -un) $(id -gn);"; fi
ng_access="access_log off;"
if [[ $ACCESS_LOG == 1 ]]; then ng_access="access_log $NG_DIR/access.log;"; fi
cat >"$NG_CONF" <<EOF
# Written by bench/transfer.sh.
load_module $NGINX_DAV_EXT;
$ng_user
worker_processes $NGINX_WORKERS;
pid $NG_DIR/nginx.pid;
error_log $NG_DIR/error.log warn;
events { worker_connections 4096; }
http {
    $ng_access
    types { }
    default_type application/octet-stream;
    sendfile on;
    # Temporary files, request bodies included, on the same filesystem as
    # the root: a finished PUT is renamed into place.
    client_body_temp_path $NG_DIR/tmp/body;
    proxy_temp_path $NG_DIR/tmp/proxy;
    fastcgi_temp_path $NG_DIR/tmp/fastcgi;
    uwsgi_temp_path $NG_DIR/tmp/uwsgi;
    scgi_temp_path $NG_DIR/tmp/scgi;
    server {
        listen 127.0.0.1:${PORT[nginx]} ssl;
        server_name localhost;
        root $NG_ROOT;
        ssl_certificate $PEER_CERT;
        ssl_certificate_key $PEER_KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers $tls12;
        ssl_conf_command Ciphersuites $tls13;
        ssl_ecdh_curve $groups;
        ssl_prefer_server_ciphers on;
        location /dav/ {
            auth_basic "bench";
            auth_basic_user_file $TMP/htpasswd;
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            dav_access user:rw;
            create_full_put_path on;
            client_max_body_size 0;
        }
    }
}
EOF
cp "$NG_CONF" "$RUN_OUT/nginx.conf"
NGINX_CMD=(nginx -p "$NG_DIR" -c "$NG_CONF" -e "$NG_DIR/error.log")
if "${NGINX_CMD[@]}" -t >"$TMP/nginx-check.log" 2>&1; then
    start_peer nginx "${NGINX_CMD[@]}" -g 'daemon off;' || true
else
    peer_fail nginx "rejected its configuration: $(head -c 300 "$TMP/nginx-check.log")"
fi

for s in lighttpd nginx; do
    if [[ ${STATUS[$s]} == ok && ${STATUS[kura]} == ok &&
        $(cut -d' ' -f1-3 <<<"${TLS[kura]}") != $(cut -d' ' -f1-3 <<<"${TLS[$s]}") ]]; then
        bench_warn "TLS parameters differ: kura '${TLS[kura]}', $s '${TLS[$s]}'"
    fi
done

live=()
for s in "${SERVERS[@]}"; do
    if [[ ${STATUS[$s]} == ok ]]; then live+=("$s"); fi
done
[[ ${#live[@]} -gt 0 ]] || bench_die "no server could be set up (kura: ${NOTE[kura]}; lighttpd: ${NOTE[lighttpd]}; nginx: ${NOTE[nginx]})"

# ------------------------------------------------------------- measurement
# server_cpu_ticks NAME: user+system CPU ticks of the server's process and its
# children (nginx's workers), all threads.
server_cpu_ticks() {
    local p=${PID[$1]} c t
    t=$(proc_cpu_ticks "$p")
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
        t=$((t + $(proc_cpu_ticks "$c")))
    done
    echo "$t"
}
# server_rss_kb NAME: peak resident set (VmHWM, KiB) of the process plus its
# children's.
server_rss_kb() {
    local p=${PID[$1]} c files=()
    for c in "$p" $(ps -o pid= --ppid "$p" 2>/dev/null); do
        if [[ -r /proc/$c/status ]]; then files+=("/proc/$c/status"); fi
    done
    awk '/^VmHWM:/ { t += $2; n++ } END { print n ? t : "null" }' "${files[@]}" /dev/null 2>/dev/null
}

RESULTS=$TMP/results
: >"$RESULTS"
declare -A ERRORS=()
for s in "${SERVERS[@]}"; do ERRORS[$s]=0; done
MEASURE_FAILED=0

# alive NAME: true while the server runs; marks it failed when it has died.
alive() {
    local s=$1
    [[ -n ${PID[$s]} ]] || return 1
    if kill -0 "${PID[$s]}" 2>/dev/null; then return 0; fi
    stop_server "$s"
    if [[ $s == kura ]]; then
        KURA_EXIT=$STOPPED_STATUS
        tail -n 200 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" 2>/dev/null || true
        kura_fail "kura exited during the measurements (status $KURA_EXIT; see $RUN_OUT/kura-serve.log)"
    else
        peer_fail "$s" "exited during the measurements (status $STOPPED_STATUS)"
    fi
    return 1
}

# big OP NAME ROUND: one timed PUT or GET of the big file with curl.
# Results line: op server round MB/s p50_us p99_us cpu_ms/req cpu% requests errors bytes/req
big() {
    local op=$1 s=$2 round=$3 raw=$RUN_OUT/curl-$1-$2-r$3.txt c0 c1 rc=0 out code t size want
    local url
    url=$(base_url "$s")/dav/home/put-r$round.bin
    alive "$s" || return 1
    sync
    if [[ $op == put && $DROP_CACHES == 1 ]]; then
        # A full page cache makes every PUT pay for reclaiming it, more for whoever comes later.
        echo 1 >/proc/sys/vm/drop_caches || bench_warn "could not drop the page cache"
    fi
    c0=$(server_cpu_ticks "$s")
    if [[ $op == put ]]; then
        want="201 204"
        curl_to "$s" -H @"$AUTH_FILE" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
            -T "$BIG" -o "$raw.body" -w '%{http_code} %{time_total} %{size_upload}' "$url" \
            >"$raw" 2>&1 || rc=$?
    else
        url=$(base_url "$s")/dav/home/put-r1.bin
        want="200"
        curl_to "$s" -H @"$AUTH_FILE" -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "$url" \
            >"$raw" 2>&1 || rc=$?
    fi
    c1=$(server_cpu_ticks "$s")
    out=$(tail -n1 "$raw")
    read -r code t size <<<"$out" || true
    if [[ $rc -ne 0 || " $want " != *" ${code:-x} "* || ${size:-0} != "$BIG_BYTES" ]]; then
        bench_warn "$op $s round $round: curl exit $rc, HTTP ${code:-?}, ${size:-?} of $BIG_BYTES bytes (see $raw)"
        ERRORS[$s]=$((ERRORS[$s] + 1))
        alive "$s" || true
        return 1
    fi
    awk -v op="$op" -v n="$s" -v r="$round" -v t="$t" -v b="$BIG_BYTES" -v cpu=$((c1 - c0)) \
        -v tck="$CLK_TCK" 'BEGIN {
            printf "%s %s %d %.1f %d %d %.1f %.0f 1 0 %d\n", op, n, r, b / t / 1e6, t * 1e6, t * 1e6,
                1000 * cpu / tck, 100 * cpu / tck / t, b }' >>"$RESULTS"
    tail -n1 "$RESULTS" | awk '{ printf "  round %d %-8s %-8s %8.1f MB/s  %7.2f s  cpu %8.0f ms (%3d%%)\n",
        $3, $1, $2, $4, $5 / 1e6, $7, $8 }' >&2
}

# wrk_run OP NAME ROUND: warm-up, then one measured wrk run.
wrk_run() {
    local op=$1 s=$2 round=$3 raw=$RUN_OUT/wrk-$1-$2-r$3.txt c0 c1 rc=0 line url mode=get
    url=https://127.0.0.1:${PORT[$s]}/dav/home/small.bin
    if [[ $op == propfind ]]; then
        mode=propfind
        url=https://127.0.0.1:${PORT[$s]}/dav/home/folder/
    fi
    alive "$s" || return 1
    if [[ ! $WARMUP =~ ^0+[smh]?$ ]]; then
        "${CLIENT_PREFIX[@]}" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" -s "$LUA" "$url" \
            -- "$mode" "$AUTH_FILE.value" "$PROPFIND_XML" >"$RUN_OUT/wrk-$op-$s-r$round-warmup.txt" 2>&1 || true
    fi
    c0=$(server_cpu_ticks "$s")
    "${CLIENT_PREFIX[@]}" wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s "$LUA" "$url" \
        -- "$mode" "$AUTH_FILE.value" "$PROPFIND_XML" >"$raw" 2>&1 || rc=$?
    c1=$(server_cpu_ticks "$s")
    alive "$s" || return 1
    line=$(grep '^BENCH ' "$raw" | tail -n1) || true
    if [[ $rc -ne 0 || -z $line || $(kv_get "$line" requests) == 0 ]]; then
        bench_warn "$op $s round $round: wrk failed or made no requests (exit $rc, see $raw)"
        MEASURE_FAILED=1
        return 1
    fi
    local errs
    errs=$(($(kv_get "$line" err_connect) + $(kv_get "$line" err_read) + $(kv_get "$line" err_write) +
        $(kv_get "$line" err_status) + $(kv_get "$line" err_timeout)))
    ERRORS[$s]=$((ERRORS[$s] + errs))
    awk -v op="$op" -v n="$s" -v r="$round" -v req="$(kv_get "$line" requests)" \
        -v dur="$(kv_get "$line" duration_us)" -v bytes="$(kv_get "$line" bytes)" \
        -v p50="$(kv_get "$line" p50_us)" -v p99="$(kv_get "$line" p99_us)" \
        -v cpu=$((c1 - c0)) -v tck="$CLK_TCK" -v errs="$errs" 'BEGIN {
            s = dur / 1e6
            printf "%s %s %d %.1f %d %d %.4f %.0f %d %d %.0f\n", op, n, r, req / s, p50, p99,
                1000 * cpu / tck / req, 100 * cpu / tck / s, req, errs, bytes / req }' >>"$RESULTS"
    tail -n1 "$RESULTS" | awk '{ printf "  round %d %-8s %-8s %8.0f req/s  p99 %7.2f ms  cpu %.3f ms/req (%3d%%)  errors %d\n",
        $3, $1, $2, $4, $6 / 1000, $7, $8, $10 }' >&2
}

# order ROUND: the live servers, rotated by the round number.
order() {
    local n=${#live[@]} k=$(($1 % ${#live[@]})) i
    for ((i = 0; i < n; i++)); do printf '%s\n' "${live[(i + k) % n]}"; done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "measuring ${live[*]}: PUT/GET $BIG_MB MiB x $ROUNDS, then GET $SMALL_BYTES B and PROPFIND Depth 1 ($FOLDER_FILES files): wrk -t$THREADS -c$CONNECTIONS -d$DURATION x $ROUNDS"
for ((round = 1; round <= ROUNDS; round++)); do
    mapfile -t seq < <(order "$round")
    for s in "${seq[@]}"; do big put "$s" "$round" || true; done
done
if [[ $VERIFY == 1 ]]; then
    for s in "${live[@]}"; do
        alive "$s" || continue
        got=$(curl_to "$s" -H @"$AUTH_FILE" "$(base_url "$s")/dav/home/put-r1.bin" 2>/dev/null |
            sha256sum | awk '{ print $1 }') || got="(curl failed)"
        if [[ $got != "$BIG_SHA" ]]; then
            bench_warn "$s: the file PUT in round 1 comes back with another SHA-256 ($got)"
            ERRORS[$s]=$((ERRORS[$s] + 1))
        fi
    done
fi
for ((round = 1; round <= ROUNDS; round++)); do
    mapfile -t seq < <(order "$round")
    for s in "${seq[@]}"; do big get "$s" "$round" || true; done
done
for op in get4k propfind; do
    for ((round = 1; round <= ROUNDS; round++)); do
        mapfile -t seq < <(order "$round")
        for s in "${seq[@]}"; do wrk_run "$op" "$s" "$round" || true; done
    done
done

# ----------------------------------------------------------- stop, collect
declare -A RSS=()
for s in "${SERVERS[@]}"; do
    RSS[$s]=null
    if [[ -n ${PID[$s]} ]] && alive "$s"; then RSS[$s]=$(server_rss_kb "$s"); fi
done
KURA_RSS_KB=${RSS[kura]}
if [[ -n ${PID[kura]} ]]; then
    stop_server kura
    KURA_EXIT=$STOPPED_STATUS
    [[ $KURA_EXIT -eq 0 ]] || bench_warn "kura exited with status $KURA_EXIT on SIGTERM (expected 0)"
    tail -n 200 "$TMP/kura.log" >"$RUN_OUT/kura-serve.log" 2>/dev/null || true
fi
stop_server lighttpd
stop_server nginx
cat "$TMP/lighttpd.stderr" "$TMP/lighttpd.log" >"$RUN_OUT/lighttpd.log" 2>/dev/null || true
cat "$TMP/nginx.stderr" "$NG_DIR/error.log" >"$RUN_OUT/nginx.log" 2>/dev/null || true
cp "$RESULTS" "$RUN_OUT/rounds.txt"

# ------------------------------------------------------------------ report
git_rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then git_rev+="-dirty"; fi
META=$TMP/meta
{
    printf 'time\t%s\n' "$(date -u +%FT%TZ)"
    printf 'git\t%s\n' "$git_rev"
    printf 'big_mb\t%s\nsmall_bytes\t%s\nfolder_files\t%s\nfolder_file_bytes\t%s\n' \
        "$BIG_MB" "$SMALL_BYTES" "$FOLDER_FILES" "$FOLDER_FILE_BYTES"
    printf 'rounds\t%s\nduration\t%s\nwarmup\t%s\nconnections\t%s\nthreads\t%s\n' \
        "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$THREADS"
    printf 'cpus\t%s\nserver_cpus\t%s\nwrk_cpus\t%s\nload_before\t%s\n' \
        "$(nproc)" "${SERVER_CPUS:-any}" "${WRK_CPUS:-any}" "$load_before"
    printf 'storage\t%s\ncert\t%s\npeer_hash\t%s\naccess_log\t%s\nnginx_workers\t%s\nverify\t%s\n' \
        "$STORAGE" "$CERT_SRC, $(openssl x509 -in "$CERT" -noout -text 2>/dev/null |
            awk '/Public Key Algorithm/ { a = $NF } /ASN1 OID/ { c = $NF } END { print a " " c }')" \
        "$PEER_HASH" "$ACCESS_LOG" "$NGINX_WORKERS" "$VERIFY"
    printf 'kura_bin\t%s\nkura_build\t%s\nkura_version\t%s\nkura_exit\t%s\nkura_rss_kb\t%s\n' \
        "$KURA_BIN" "$KURA_BUILDTYPE" "$KURA_VERSION" "$KURA_EXIT" "$KURA_RSS_KB"
    printf 'lighttpd_version\t%s\n' "$(lighttpd -v 2>/dev/null | awk '{ print $1 }' | cut -d/ -f2)"
    printf 'nginx_version\t%s\n' "$(nginx -v 2>&1 | sed 's|.*nginx/||')"
    for s in "${SERVERS[@]}"; do
        printf '%s_status\t%s\n%s_note\t%s\n%s_tls\t%s\n%s_errors\t%s\n%s_rss_kb\t%s\n' \
            "$s" "${STATUS[$s]}" "$s" "${NOTE[$s]}" "$s" "${TLS[$s]}" "$s" "${ERRORS[$s]}" "$s" "${RSS[$s]}"
    done
    printf 'run_out\t%s\n' "$RUN_OUT"
} >"$META"

python3 - "$RESULTS" "$META" "$RUN_OUT/summary.txt" "$RUN_OUT/summary.json" <<'EOF'
import json, statistics, sys
results, metafile, txt, jsn = sys.argv[1:5]
meta = {}
for line in open(metafile, encoding="utf-8"):
    k, _, v = line.rstrip("\n").partition("\t")
    meta[k] = v
SERVERS = ["lighttpd", "nginx", "kura"]
OPS = ["put", "get", "get4k", "propfind"]
rows = {}
for line in open(results):
    f = line.split()
    rows.setdefault((f[0], f[1]), []).append(f)

def num(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return int(x) if x == int(x) and abs(x) < 1e15 else x

def med(vals):
    return round(statistics.median(vals), 4) if vals else None

figs = {}
for op in OPS:
    for s in SERVERS:
        rs = rows.get((op, s), [])
        if not rs:
            figs[(op, s)] = None
            continue
        col = lambda i: [float(r[i]) for r in rs]
        figs[(op, s)] = {
            "rate": med(col(3)), "p50_us": med(col(4)), "p99_us": med(col(5)),
            "cpu_ms_per_req": med(col(6)), "cpu_pct": med(col(7)), "requests": int(sum(col(8))),
            "errors": int(sum(col(9))), "bytes_per_resp": med(col(10)), "rounds": len(rs)}

def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None

def get(op, s, k):
    f = figs[(op, s)]
    return f[k] if f else None

ratios = {op: {p: {"rate": ratio(get(op, "kura", "rate"), get(op, p, "rate")),
                   "p99": ratio(get(op, "kura", "p99_us"), get(op, p, "p99_us")),
                   "cpu_per_req": ratio(get(op, "kura", "cpu_ms_per_req"), get(op, p, "cpu_ms_per_req"))}
               for p in ("lighttpd", "nginx")} for op in OPS}
TARGETS = {"put": ("lighttpd", 1.0), "get": ("lighttpd", 0.9), "get4k": ("nginx", 2.0), "propfind": ("nginx", 1.0)}
big = "%s MiB" % meta["big_mb"]
LABEL = {"put": "PUT " + big, "get": "GET " + big, "get4k": "GET %s B" % meta["small_bytes"],
         "propfind": "PROPFIND Depth 1"}

out = []
w = out.append
w("kura WebDAV transfer benchmark, %s, git %s" % (meta["time"], meta["git"]))
w("PUT/GET: a %s random file, curl over one HTTP/1.1 connection (PUT: -T, no Expect; GET: to /dev/null), "
  "sync before each; median of %s rounds" % (big, meta["rounds"]))
w("GET %s B and PROPFIND Depth 1 on a folder of %s x %s B files: wrk -t%s -c%s -d%s --latency, keep-alive, "
  "warm-up %s; median of %s rounds" % (meta["small_bytes"], meta["folder_files"],
  meta["folder_file_bytes"], meta["threads"], meta["connections"], meta["duration"], meta["warmup"],
  meta["rounds"]))
w("Basic auth on every WebDAV request: kura an app password (HMAC-SHA-256), the peers an htpasswd file "
  "with %s hashes (PEER_HASH)" % {"md5": "apr1-MD5", "sha": "{SHA} SHA-1", "bcrypt": "bcrypt"}[meta["peer_hash"]])
w("servers alternate in a rotating order; %s CPUs shared by the servers and the clients (server CPUs: %s, "
  "client CPUs: %s); load before: %s" % (meta["cpus"], meta["server_cpus"], meta["wrk_cpus"], meta["load_before"]))
w("")
w("%-18s %-9s %14s %9s %9s %12s %6s %7s %9s" % ("op", "server", "rate", "time_s", "p99_ms", "cpu_ms/req",
                                                "cpu%", "errors", "bytes"))
for op in OPS:
    first = True
    for s in SERVERS:
        f = figs[(op, s)]
        lab = LABEL[op] if first else ""
        first = False
        if f is None:
            st = meta[s + "_status"]
            why = "(no successful run)" if st == "ok" else "%s (see the notes)" % st.upper()
            w("%-18s %-9s %s" % (lab, s, why))
            continue
        if op in ("put", "get"):
            rate = "%.1f MB/s" % f["rate"]
            t = "%.2f" % (f["p50_us"] / 1e6)
            p99 = "-"
            cpu = "%.0f" % f["cpu_ms_per_req"]
        else:
            rate = "%.0f req/s" % f["rate"]
            t = "-"
            p99 = "%.2f" % (f["p99_us"] / 1000)
            cpu = "%.4f" % f["cpu_ms_per_req"]
        w("%-18s %-9s %14s %9s %9s %12s %6.0f %7d %9.0f" % (lab, s, rate, t, p99, cpu, f["cpu_pct"],
                                                          f["errors"], f["bytes_per_resp"]))
w("")
w("kura / peer: rate (higher is better); p99 and cpu/req (lower is better); targets are shown, not enforced")
for op in OPS:
    parts = []
    for p in ("lighttpd", "nginx"):
        r = ratios[op][p]
        if r["rate"] is None:
            parts.append("vs %s n/a" % p)
            continue
        s = "vs %s %.2fx" % (p, r["rate"])
        extra = []
        if op in ("get4k", "propfind") and r["p99"] is not None:
            extra.append("p99 %.2fx" % r["p99"])
        if r["cpu_per_req"] is not None:
            extra.append("cpu/req %.2fx" % r["cpu_per_req"])
        if extra:
            s += " (%s)" % ", ".join(extra)
        parts.append(s)
    tp, tv = TARGETS[op]
    got = ratios[op][tp]["rate"]
    verdict = "n/a" if got is None else ("met" if got >= tv else "not met")
    w("  %-18s %-70s target >= %.1fx %s: %s" % (LABEL[op], "; ".join(parts), tv, tp, verdict))
w("")
w("notes:")
rss = num(meta["kura_rss_kb"])
if meta["kura_status"] == "ok" or rss is not None:
    w("- kura %s (%s%s): peak RSS %s; exit status on SIGTERM: %s" % (
        meta["kura_version"] or "?", meta["kura_bin"], ", " + meta["kura_build"] if meta["kura_build"] else "",
        "%.1f MiB (VmHWM)" % (rss / 1024) if rss is not None else "n/a", meta["kura_exit"]))
else:
    w("- KURA %s: %s" % (meta["kura_status"].upper(), meta["kura_note"]))
for p in ("lighttpd", "nginx"):
    if meta[p + "_status"] != "ok":
        w("- %s %s: %s" % (p, meta[p + "_status"].upper(), meta[p + "_note"]))
prss = num(meta["lighttpd_rss_kb"]), num(meta["nginx_rss_kb"])
w("- lighttpd %s: one process, one event-loop thread, mod_webdav with its SQLite property/lock database; "
  "peak RSS %s" % (meta["lighttpd_version"], "%.1f MiB" % (prss[0] / 1024) if prss[0] is not None else "n/a"))
w("- nginx %s: worker_processes %s, dav_methods PUT DELETE MKCOL COPY MOVE + dav_ext PROPFIND OPTIONS; "
  "peak RSS %s (master + workers)" % (meta["nginx_version"], meta["nginx_workers"],
  "%.1f MiB" % (prss[1] / 1024) if prss[1] is not None else "n/a"))
w("- peers: plain files, access log %s; kura stores encrypted (Crypt4GH), logs every request and writes "
  "its audit log" % ("on" if meta["access_log"] == "1" else "off"))
w("- TLS (proto suite group sig): " + "; ".join("%s %s" % (s, meta[s + "_tls"]) for s in SERVERS))
w("- certificate for all: %s" % meta["cert"])
w("- storage: %s" % meta["storage"])
w("- cpu_ms/req = server user+system CPU (all processes and threads) per transfer or request; "
  "cpu% = that CPU / wall time (100 = one core); bytes = response bytes incl. headers (GET/PUT: body)")
w("- errors: %s" % ", ".join("%s %s" % (s, meta[s + "_errors"]) for s in SERVERS))
w("- raw output: %s" % meta["run_out"])
open(txt, "w", encoding="utf-8").write("\n".join(out) + "\n")

def opjson(op, s):
    f = figs[(op, s)]
    if f is None:
        return None
    d = {"rounds": f["rounds"], "cpu_ms_per_req": f["cpu_ms_per_req"], "cpu_pct": f["cpu_pct"],
         "errors": f["errors"]}
    if op in ("put", "get"):
        d.update({"mb_s": f["rate"], "time_s": f["p50_us"] / 1e6})
    else:
        d.update({"req_s": f["rate"], "p50_us": f["p50_us"], "p99_us": f["p99_us"], "requests": f["requests"],
                  "bytes_per_response": f["bytes_per_resp"]})
    return d

doc = {
    "bench": "transfer", "time": meta["time"], "git": meta["git"],
    "kura_status": meta["kura_status"], "kura_note": meta["kura_note"], "kura_version": meta["kura_version"],
    "kura_build": meta["kura_build"], "kura_exit_on_sigterm": num(meta["kura_exit"]),
    "kura_rss_peak_kib": num(meta["kura_rss_kb"]),
    "big_mb": int(meta["big_mb"]), "small_bytes": int(meta["small_bytes"]),
    "folder_files": int(meta["folder_files"]), "folder_file_bytes": int(meta["folder_file_bytes"]),
    "rounds": int(meta["rounds"]), "duration": meta["duration"], "warmup": meta["warmup"],
    "connections": int(meta["connections"]), "threads": int(meta["threads"]), "cpus": int(meta["cpus"]),
    "storage": meta["storage"], "peer_hash": meta["peer_hash"], "access_log": meta["access_log"] == "1",
    "nginx_workers": meta["nginx_workers"],
    "servers": {s: {"status": meta[s + "_status"], "note": meta[s + "_note"], "tls": meta[s + "_tls"],
                    "errors": num(meta[s + "_errors"]), "rss_peak_kib": num(meta[s + "_rss_kb"]),
                    "version": meta.get(s + "_version", meta["kura_version"] if s == "kura" else ""),
                    "ops": {op: opjson(op, s) for op in OPS}} for s in SERVERS},
    "ratios_kura_to": ratios,
    "targets": {op: {"peer": tp, "min_rate_ratio": tv, "ratio": ratios[op][tp]["rate"]}
                for op, (tp, tv) in TARGETS.items()},
}
open(jsn, "w", encoding="utf-8").write(json.dumps(doc, separators=(",", ":")) + "\n")
EOF
cat "$RUN_OUT/summary.txt"
cat "$RUN_OUT/summary.json" >>"$OUT_DIR/transfer.jsonl"

# ------------------------------------------------------------- exit status
if [[ ${STATUS[kura]} != ok ]]; then
    bench_warn "KURA ${STATUS[kura]^^}: only the peers were measured (${NOTE[kura]})"
    exit 3
fi
if [[ $MEASURE_FAILED -ne 0 || ${STATUS[lighttpd]} != ok || ${STATUS[nginx]} != ok ]]; then
    bench_warn "some servers or measurements failed; see $RUN_OUT"
    exit 1
fi
if [[ ${ERRORS[kura]} != 0 || ${ERRORS[lighttpd]} != 0 || ${ERRORS[nginx]} != 0 || $KURA_EXIT != 0 ]]; then
    bench_warn "errors during the runs (lighttpd ${ERRORS[lighttpd]}, nginx ${ERRORS[nginx]}, kura ${ERRORS[kura]}) or kura exit status $KURA_EXIT on SIGTERM"
    exit 4
fi
