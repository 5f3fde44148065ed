#!/bin/sh
# The release binary must contain no way to shift the clock, make the audit log fail or stall,
# or reach test routes.
set -eu
kura=$1
"$kura" --version | grep -q 'test hooks: none' || { echo "release build reports test hooks"; exit 1; }
if "$kura" debug clock-shift --data /nonexistent 1 2>/dev/null; then
    echo "release build accepts 'kura debug'"; exit 1
fi
for s in clock.shift audit.fail audit.delay /_test/ kura_clock_shift_ms kura_audit_inject; do
    if grep -aqF "$s" "$kura"; then echo "release binary contains '$s'"; exit 1; fi
done
echo "release checks: ok"
