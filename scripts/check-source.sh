#!/bin/sh
# Source checks that the compiler does not make (docs/style.md items 2, 18):
# banned functions, tabs, and files that have grown past the point of needing a split.
set -eu
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 2>/dev/null || find src tests -name '*.[ch]')

# Banned calls; banned.h itself and alloc.c (the one place that wraps the allocator) excepted.
banned='\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|strtok|strtok_r|gets|atoi|atol|atoll|strtol|strtoul|strtoll|strtoull)[[:space:]]*\('
rawalloc='(^|[^_a-z])(malloc|calloc|realloc|strdup|strndup)[[:space:]]*\('
for f in $files; do
    case "$f" in src/base/banned.h|src/base/alloc.c|tests/fuzz/replay.c) continue ;; esac
    # Strip comments and string literals roughly: look only at code lines.
    hits=$(sed -e 's://.*$::' -e 's:/\*.*\*/::g' -e 's/"[^"]*"//g' "$f" | grep -nE "$banned|$rawalloc" || true)
    if [ -n "$hits" ]; then
        echo "$f: banned function (docs/style.md item 18):"
        echo "$hits"
        status=1
    fi
    if grep -n "$(printf '\t')" "$f" >/dev/null; then
        echo "$f: contains tabs (docs/style.md item 2)"
        status=1
    fi
    lines=$(wc -l < "$f")
    if [ "$lines" -gt 1200 ]; then
        echo "$f: $lines lines; split it (docs/style.md)"
        status=1
    fi
done
# Formatting (docs/style.md item 2): .clang-format is the authority.
if ! clang-format --dry-run --Werror --style=file $files 2>/tmp/kura-format.$$; then
    echo "formatting differs from .clang-format (fix: clang-format -i --style=file FILES):"
    grep -E '^[^ ].*(error|warning):' /tmp/kura-format.$$ | cut -d: -f1 | sort -u | head -20
    status=1
fi
rm -f /tmp/kura-format.$$
[ $status -eq 0 ] && echo "check-source: ok"
exit $status
