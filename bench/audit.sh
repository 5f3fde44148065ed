#!/usr/bin/env bash
# bench/audit.sh: the audit log's throughput (GitHub issue "bench/audit.sh"):
# durable appends per second with 32 concurrent writers (target >= 50,000/s),
# verification speed over 10 million records (target >= 1,000,000 records/s
# per core), and search latency by actor over them, printed beside the disk's
# own fdatasync limits measured in the same directory in the same run.
# Figures and ratios only: nothing here passes or fails on a target.
#
# The measuring is done by bench/audit-bench.c (built as audit-bench in the
# release build), one subcommand per step, each printing one JSON line:
#   fsync   the disk: single 200-byte write + fdatasync per second, and
#           records/s when 512 (and 256, kura's bundle) records of 250 bytes
#           share one write + fdatasync: "the batched fdatasync limit"
#   append  THREADS writers calling kura_audit_emit_sync for SECONDS
#   fill    RECORDS records through kura_audit_emit (asynchronous, bounded)
#   verify  kura_audit_verify over the filled log, with its CPU time
#   search  builds the SQLite search index (kura_audit_index_catch_up), then
#           QUERIES searches by a random actor (limit 100) and COUNT_QUERIES
#           searches returning every record of one actor
#
# Usage: bench/audit.sh            (settings through the environment)
#   THREADS=32          concurrent writers for the append step
#   SECONDS=10          length of the append step.  Bash's own $SECONDS counts
#                       the shell's run time, so the value is taken from the
#                       environment the script was started with;
#                       APPEND_SECONDS=N does the same and wins
#   FSYNC_SECONDS=9     length of the disk test (three equal phases)
#   RECORDS=10000000    records written by fill, then verified and indexed
#   FILL_THREADS=       emitting threads for fill; empty: one per CPU
#   IN_FLIGHT=8192      records queued but not yet durable, at most (fill)
#   ACTORS=1000         distinct actors ("user:u000" ...) in the records
#   QUERIES=200         searches by actor with limit 100
#   COUNT_QUERIES=5     searches returning all records of one actor
#   DIR=                where the temporary data goes (a new directory inside
#                       it, removed at the end); default $OUT_DIR.  It must be
#                       on the disk being judged: not a tmpfs
#   KEEP=0              1 keeps the temporary data (the path is printed)
#   BYTES_PER_RECORD=1600   disk space assumed per record (log + index) for
#                       the free-space check; MIN_FREE_MB=2048 stays free
#   KURA_BUILD_DIR=build    the release build holding audit-bench
#   KURA_BUILD=1        bring audit-bench up to date with ninja first (runs
#                       `make` when $KURA_BUILD_DIR is the repo's build and
#                       does not exist yet); 0 uses the binary as it is
#   OUT_DIR=bench/out   where results go (git-ignored)
#
# Output: a table on stdout; each step's JSON line and log, summary.txt and
# summary.json in $OUT_DIR/audit-<UTC time>/; the JSON line is also appended
# to $OUT_DIR/audit.jsonl.
#
# Exit status: 0 every step ran (and the filled log verified); 1 a step failed
# or the settings are wrong; 3 not enough free space; 130/143 interrupted.
set -euo pipefail

# Read before anything else: bash's SECONDS is a clock (see above).
ENV_SECONDS=$(tr '\0' '\n' <"/proc/$$/environ" 2>/dev/null | sed -n 's/^SECONDS=//p' | head -n1) || true

# shellcheck disable=SC2034 # read by the lib.sh log functions
BENCH_NAME=audit
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib.sh
. "$BENCH_DIR/lib.sh"

THREADS=${THREADS:-32}
APPEND_SECONDS=${APPEND_SECONDS:-${ENV_SECONDS:-10}}
FSYNC_SECONDS=${FSYNC_SECONDS:-9}
RECORDS=${RECORDS:-10000000}
FILL_THREADS=${FILL_THREADS:-}
IN_FLIGHT=${IN_FLIGHT:-8192}
ACTORS=${ACTORS:-1000}
QUERIES=${QUERIES:-200}
COUNT_QUERIES=${COUNT_QUERIES:-5}
DIR=${DIR:-}
KEEP=${KEEP:-0}
BYTES_PER_RECORD=${BYTES_PER_RECORD:-1600}
MIN_FREE_MB=${MIN_FREE_MB:-2048}
KURA_BUILD_DIR=${KURA_BUILD_DIR:-$REPO/build}
KURA_BUILD=${KURA_BUILD:-1}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
BIN=$KURA_BUILD_DIR/audit-bench

# ---------------------------------------------------------------- settings
for v in THREADS APPEND_SECONDS FSYNC_SECONDS RECORDS IN_FLIGHT ACTORS QUERIES COUNT_QUERIES \
    BYTES_PER_RECORD; do
    if ! is_uint "${!v}" || [[ ${!v} -eq 0 ]]; then
        bench_die "$v must be a positive integer (got '${!v}')"
    fi
done
[[ -z $FILL_THREADS ]] || { is_uint "$FILL_THREADS" && [[ $FILL_THREADS -gt 0 ]]; } ||
    bench_die "FILL_THREADS must be empty or a positive integer (got '$FILL_THREADS')"
is_uint "$MIN_FREE_MB" || bench_die "MIN_FREE_MB must be an integer (got '$MIN_FREE_MB')"
[[ $KEEP == 0 || $KEEP == 1 ]] || bench_die "KEEP must be 0 or 1"
[[ $KURA_BUILD == 0 || $KURA_BUILD == 1 ]] || bench_die "KURA_BUILD must be 0 or 1"
[[ $FSYNC_SECONDS -ge 3 ]] || bench_die "FSYNC_SECONDS must be at least 3 (three phases)"
[[ -z $DIR || -d $DIR ]] || bench_die "DIR '$DIR' is not a directory"
for tool in python3 df du awk; do
    command -v "$tool" >/dev/null || bench_die "'$tool' not found"
done

stamp=$(date -u +%Y%m%dT%H%M%SZ)
RUN_OUT=$OUT_DIR/audit-$stamp
[[ ! -e $RUN_OUT ]] || RUN_OUT=$RUN_OUT-$$
mkdir -p "$RUN_OUT"

# ------------------------------------------------------------ the program
# ensure_bin: make $BIN current (KURA_BUILD=1) or at least present.
ensure_bin() {
    local rc=0
    if [[ $KURA_BUILD == 1 ]]; then
        bench_log "building audit-bench in $KURA_BUILD_DIR (log: $RUN_OUT/build.log)"
        bench_build "$KURA_BUILD_DIR" "$REPO" audit-bench "$RUN_OUT/build.log" || rc=$?
        if [[ $rc -ne 0 && -x $BIN ]]; then
            bench_warn "the build failed (exit $rc, see $RUN_OUT/build.log); using the existing $BIN"
        fi
    fi
    [[ -x $BIN ]] || bench_die "$BIN not found (KURA_BUILD=$KURA_BUILD; build log: $RUN_OUT/build.log)"
}

ensure_bin
BUILD_INFO=$(bench_buildinfo "$KURA_BUILD_DIR")
case $BUILD_INFO in
*buildtype=release*b_sanitize=none*) ;;
*) bench_warn "audit-bench in $KURA_BUILD_DIR is not a plain release build (${BUILD_INFO:-unknown}); figures are not release figures" ;;
esac

# ------------------------------------------------------- temp dir, cleanup
BASE=${DIR:-$OUT_DIR}
mkdir -p "$BASE"
TMP=$(mktemp -d "$BASE/audit-tmp.XXXXXX")
TMP=$(cd "$TMP" && pwd)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ $KEEP == 1 ]]; then
        bench_log "kept the data in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The disk being judged: the filesystem of the data, and that of the repo.
FS_TYPE=$(df -PT "$TMP" | awk 'NR == 2 { print $2 }')
FS_DEV=$(df -PT "$TMP" | awk 'NR == 2 { print $1 }')
REPO_DEV=$(df -PT "$REPO" | awk 'NR == 2 { print $1 }')
case $FS_TYPE in
tmpfs | ramfs) bench_die "$TMP is on $FS_TYPE: fdatasync is free there; set DIR to a directory on a disk" ;;
esac
[[ $FS_DEV == "$REPO_DEV" ]] ||
    bench_warn "the data ($FS_DEV) is not on the repo's filesystem ($REPO_DEV)"

# Free space: the filled log and its index, plus the append step's log.
avail_kb=$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')
need_mb=$(((RECORDS * BYTES_PER_RECORD + 1048576 * 1024) / 1048576 + MIN_FREE_MB))
if [[ $((avail_kb / 1024)) -lt $need_mb ]]; then
    bench_warn "not enough free space in $TMP: $((avail_kb / 1024)) MiB available," \
        "$need_mb MiB needed for RECORDS=$RECORDS (about $BYTES_PER_RECORD bytes per record for" \
        "the log and its search index, 1 GiB for the append step, MIN_FREE_MB=$MIN_FREE_MB left free)." \
        "Lower RECORDS or point DIR at a larger disk."
    exit 3
fi
bench_log "data in $TMP ($FS_TYPE on $FS_DEV, $((avail_kb / 1024)) MiB free, about $need_mb MiB needed)"

# step NAME ARGS...: runs one audit-bench subcommand; its JSON line goes to
# $RUN_OUT/NAME.json, its stderr (progress) to the terminal and NAME.log.
step() {
    local name=$1 rc=0
    shift
    bench_log "$name: audit-bench $name $*"
    "$BIN" "$name" "$@" >"$RUN_OUT/$name.json" 2> >(tee "$RUN_OUT/$name.log" >&2) || rc=$?
    if [[ $rc -ne 0 ]]; then
        bench_warn "$name failed (exit $rc): $(tail -n 3 "$RUN_OUT/$name.log" 2>/dev/null | tr '\n' ' ')"
        return 1
    fi
    [[ -s $RUN_OUT/$name.json ]] || { bench_warn "$name printed no result"; return 1; }
}

# ------------------------------------------------------------------ the run
mkdir "$TMP/fsync" "$TMP/append" "$TMP/log"
FILL_ARGS=()
[[ -z $FILL_THREADS ]] || FILL_ARGS=(--threads "$FILL_THREADS")
t_start=$(date +%s)
LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
step fsync --dir "$TMP/fsync" --seconds "$FSYNC_SECONDS"
step append --dir "$TMP/append" --threads "$THREADS" --seconds "$APPEND_SECONDS" --actors "$ACTORS"
rm -rf "$TMP/append" # space for the big log
step fill --dir "$TMP/log" --records "$RECORDS" --in-flight "$IN_FLIGHT" --actors "$ACTORS" \
    "${FILL_ARGS[@]}"
LOG_BYTES=$(du -sb "$TMP/log/audit" | awk '{ print $1 }')
step verify --dir "$TMP/log"
step search --dir "$TMP/log" --db "$TMP/index.db" --queries "$QUERIES" \
    --count-queries "$COUNT_QUERIES" --actors "$ACTORS"
DB_BYTES=$(du -sbc "$TMP"/index.db* | awk 'END { print $1 }')
t_total=$(($(date +%s) - t_start))
LOAD_END=$(cut -d" " -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ report
git_rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)

AB_STAMP=$stamp AB_GIT=$git_rev AB_CPUS=$(nproc) AB_CPU=$cpu_model AB_FS=$FS_TYPE AB_DEV=$FS_DEV \
    AB_BUILD=$BUILD_INFO AB_THREADS=$THREADS AB_RECORDS=$RECORDS AB_ACTORS=$ACTORS \
    AB_LOG_BYTES=$LOG_BYTES AB_DB_BYTES=$DB_BYTES AB_TOTAL=$t_total \
    AB_LOAD_START=$LOAD_START AB_LOAD_END=$LOAD_END \
    python3 - "$RUN_OUT" <<'EOF' | tee "$RUN_OUT/summary.txt"
import json, os, sys

out = sys.argv[1]
env = os.environ
steps = ("fsync", "append", "fill", "verify", "search")
r = {n: json.load(open(f"{out}/{n}.json")) for n in steps}
f, a, fi, v, s = (r[n] for n in steps)
threads, records, actors = int(env["AB_THREADS"]), int(env["AB_RECORDS"]), int(env["AB_ACTORS"])
log_bytes, db_bytes = int(env["AB_LOG_BYTES"]), int(env["AB_DB_BYTES"])


def ratio(x, y):
    return round(x / y, 3) if y else None


ideal = threads * f["single_fsync_s"]  # every writer in every group commit
per_core = v["records_per_cpu_s"]
ratios = {
    "append_vs_batched_fsync": ratio(a["records_s"], f["batch_records_s"]),
    "append_vs_bundle_fsync": ratio(a["records_s"], f["bundle_records_s"]),
    "append_vs_single_fsync": ratio(a["records_s"], f["single_fsync_s"]),
    "append_vs_ideal_group_commit": ratio(a["records_s"], ideal),
    "append_vs_target": ratio(a["records_s"], 50000),
    "fill_vs_batched_fsync": ratio(fi["records_s"], f["batch_records_s"]),
    "verify_per_core_vs_target": ratio(per_core, 1000000),
}


def n(x):
    return f"{x:,.0f}"


def row(label, value, note=""):
    print(f"  {label:<44} {value:>22}  {note}".rstrip())


print(f"audit log benchmark {env['AB_STAMP']}: git {env['AB_GIT']}, {records:,} records, {actors} actors")
print(f"machine: {env['AB_CPUS']} CPUs ({env['AB_CPU']}), {env['AB_FS']} on {env['AB_DEV']}")
print(f"build: {env['AB_BUILD'] or 'unknown'}; load average at the start {env['AB_LOAD_START']},"
      f" at the end {env['AB_LOAD_END']} (other work on the machine skews every figure)")
print()
print("disk: appending writes + fdatasync, in the data directory")
row("single 200-byte record + fdatasync", n(f["single_fsync_s"]) + " /s")
row("batched: 512 x 250 B records per fdatasync", n(f["batch_records_s"]) + " rec/s",
    f"({n(f['batch_fsync_s'])} fdatasync/s): the batched fdatasync limit")
row("batched: 256 records (kura's bundle) per sync", n(f["bundle_records_s"]) + " rec/s")
print()
print(f"durable appends: {a['threads']} writers in kura_audit_emit_sync for {a['seconds']:.1f} s")
row("durable appends", n(a["records_s"]) + " /s",
    f"target >= 50,000/s: x{ratios['append_vs_target']}")
row("  / batched fdatasync limit (512)", f"{ratios['append_vs_batched_fsync']}")
row("  / batched limit at 256 (bundle)", f"{ratios['append_vs_bundle_fsync']}")
row("  / single fdatasync/s", f"{ratios['append_vs_single_fsync']}",
    "(records per fdatasync, were each sync as cheap)")
row(f"  / ({threads} x single fdatasync/s)", f"{ratios['append_vs_ideal_group_commit']}",
    f"(ideal group commit of {threads} writers: {n(ideal)}/s)")
row("emit_sync latency p50 / p99 / max", f"{a['p50_us']} / {a['p99_us']} / {a['max_us']} us")
print()
print(f"fill: {fi['records']:,} records by kura_audit_emit from {fi['threads']} threads, "
      f"<= {fi['in_flight']} in flight")
row("records/s (durable)", n(fi["records_s"]), f"{fi['seconds']:.0f} s, {fi['cpu_s']:.0f} CPU s")
row("  / batched fdatasync limit (512)", f"{ratios['fill_vs_batched_fsync']}")
row("log on disk", f"{log_bytes / 2**30:.2f} GiB",
    f"{log_bytes / max(fi['log_size'], 1):.0f} bytes/record")
print()
print(f"verify: kura_audit_verify over {v['records']:,} records ({v['checkpoints']} checkpoints)")
row("verdict", "ok" if v["ok"] else "NOT OK", v["reason"])
row("records/s (wall clock)", n(v["records_s"]),
    f"{v['seconds']:.1f} s, {v['read_blocks']} blocks read from the disk")
row("records per CPU second (per core)", n(per_core),
    f"target >= 1,000,000: x{ratios['verify_per_core_vs_target']}")
print()
print("search index: SQLite, kura_audit_index_catch_up, then searches by actor")
row("index build records/s", n(s["index_records_s"]),
    f"{s['index_seconds']:.0f} s, {s['index_cpu_s']:.0f} CPU s")
row("index database", f"{db_bytes / 2**30:.2f} GiB",
    f"{db_bytes / max(s['index_records'], 1):.0f} bytes/record")
row(f"by actor, limit {s['limit']}: p50 / p99 / max",
    f"{s['p50_ms']:.2f} / {s['p99_ms']:.2f} / {s['max_ms']:.2f} ms",
    f"{s['queries']} queries, {s['rows_mean']:.0f} rows each")
row("all records of one actor: p50 / max", f"{s['count_p50_ms']:.1f} / {s['count_max_ms']:.1f} ms",
    f"{s['count_queries']} queries, {s['count_rows_mean']:,.0f} rows each")
print()
print(f"raw output: {out} (the run took {env['AB_TOTAL']} s)")

summary = {"bench": "audit", "time": env["AB_STAMP"], "git": env["AB_GIT"],
           "cpus": int(env["AB_CPUS"]), "cpu": env["AB_CPU"], "fs": env["AB_FS"],
           "device": env["AB_DEV"], "build": env["AB_BUILD"], "threads": threads,
           "records": records, "actors": actors, "log_bytes": log_bytes, "db_bytes": db_bytes,
           "seconds_total": int(env["AB_TOTAL"]), "load_start": env["AB_LOAD_START"],
           "load_end": env["AB_LOAD_END"], "ratios": ratios, **r}
with open(f"{out}/summary.json", "w") as fh:
    fh.write(json.dumps(summary, separators=(",", ":")) + "\n")
EOF
cat "$RUN_OUT/summary.json" >>"$OUT_DIR/audit.jsonl"

verdict=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["ok"])' "$RUN_OUT/verify.json")
if [[ $verdict != True ]]; then
    bench_warn "the filled log did not verify; see $RUN_OUT/verify.json"
    exit 1
fi
