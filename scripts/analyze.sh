#!/bin/sh
# Static analysis, separate from `make test` because it is slow: GCC's -fanalyzer over the whole
# tree (as errors) and cppcheck. Exit status non-zero on any finding.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh analyze
[ -f build-analyze/build.ninja ] || meson setup build-analyze --buildtype=debug -Dtest_hooks=true \
    -Dc_args=-fanalyzer
ninja -C build-analyze
# varFuncNullUB: kura_log and json_pack end their argument lists with NULL. On the only target
# (Linux, glibc) NULL is ((void *)0), pointer-sized, and GCC's sentinel attribute checks it.
cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
    --suppress=missingIncludeSystem --suppress=varFuncNullUB -I src -I build-analyze --std=c11 \
    -D_GNU_SOURCE -DKURA_TEST_HOOKS src
echo "analyze: ok"
