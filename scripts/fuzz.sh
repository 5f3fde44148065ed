#!/bin/sh
# Runs every libFuzzer harness of a -Dfuzzing=true build for SECONDS each, starting from the
# corpus in tests/fuzz/<name>/. New inputs go to a scratch folder; afterwards only those that
# add coverage are merged into tests/fuzz/<name>/ (commit them: make test replays the corpus).
# A crash leaves its input as tests/fuzz/<name>/crash-* (git-ignored) and fails the run.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -eu
build=$(cd "$1" && pwd)  # absolute: the fuzzer runs inside its corpus folder
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for bin in "$build"/tests/fuzz-*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue  # skip meson's fuzz-*.p object folders
    name=${bin##*/fuzz-}
    corpus="$root/tests/fuzz/$name"
    mkdir -p "$corpus"
    work=$(mktemp -d /tmp/kura-fuzz-XXXXXX)
    before=$(ls "$corpus" | wc -l)
    echo "== fuzz $name for ${seconds}s (corpus $before files)"
    if ! (cd "$work" && "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
            -rss_limit_mb=4096 -artifact_prefix="$corpus/" "$work" "$corpus"); then
        echo "fuzz $name: FAILED (see $corpus/crash-*)"
        status=1
    fi
    (cd "$work" && "$bin" -merge=1 "$corpus" "$work" >/dev/null 2>&1) || true
    echo "== fuzz $name: corpus $before -> $(ls "$corpus" | wc -l) files"
    rm -rf "$work"
done
exit $status
