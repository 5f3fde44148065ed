#!/bin/sh
# Runs every libFuzzer harness of a -Dfuzzing=true build for SECONDS each, growing the corpora
# in tests/fuzz/<name>/ (new inputs are kept; commit the interesting ones). A crash leaves its
# input as tests/fuzz/<name>/crash-* (git-ignored) and fails the run.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -eu
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/tests/fuzz-*; do
    [ -x "$bin" ] || continue
    name=${bin##*/fuzz-}
    corpus="$root/tests/fuzz/$name"
    mkdir -p "$corpus"
    echo "== fuzz $name for ${seconds}s (corpus $(ls "$corpus" | wc -l) files)"
    if ! (cd "$corpus" && "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
            -rss_limit_mb=4096 -artifact_prefix="$corpus/" "$corpus"); then
        echo "fuzz $name: FAILED (see $corpus/crash-*)"
        status=1
    fi
done
exit $status
