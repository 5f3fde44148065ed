# The two commands (README.md): `make run` and `make test`. Plain `make` only builds.
# Everything else is a wrapper over scripts/deps.sh, meson and the test runners.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
DATA       ?= var
FUZZ_SECONDS ?= 300
SOAK_SECONDS ?= 600

.PHONY: all run test deps-test unit integration fuzz soak analyze bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	scripts/deps.sh build
	meson setup $(BUILD) --buildtype=release -Db_ndebug=false

$(ASAN_BUILD)/build.ninja:
	scripts/deps.sh test
	meson setup $(ASAN_BUILD) --buildtype=debugoptimized \
	    -Db_sanitize=address,undefined -Db_lundef=false \
	    -Dtest_hooks=true -Dfault_injection=true

# Build, create ./var on the first run (the first administrator is the invoking OS user; the
# one-time password is printed once), then serve https://localhost:8443.
run: all
	@if [ ! -e $(DATA)/kura.conf ]; then $(BUILD)/kura init --data $(DATA); fi
	@echo "kura: serving https://localhost:8443 (Ctrl-C stops)"
	exec $(BUILD)/kura serve --data $(DATA)

# Every suite: style checks, unit tests, fuzz corpora and integration tests under
# ASan+UBSan, and the release build's own checks.
test: deps-test all $(ASAN_BUILD)/build.ninja
	scripts/check-source.sh
	ninja -C $(ASAN_BUILD)
	meson test -C $(BUILD) --print-errorlogs --suite release
	meson test -C $(ASAN_BUILD) --print-errorlogs --num-processes 2

deps-test:
	scripts/deps.sh test

unit: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --print-errorlogs --suite unit --suite fuzz

integration: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) --print-errorlogs --suite integration

# Long libFuzzer runs with clang (FUZZ_SECONDS each); new corpus entries land in tests/fuzz/.
fuzz:
	scripts/deps.sh fuzz
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang-14 meson setup $(FUZZ_BUILD) \
	    -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false -Dtest_hooks=true
	ninja -C $(FUZZ_BUILD)
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# A long run under load, watching memory and descriptors (SOAK_SECONDS).
soak: all
	scripts/deps.sh bench
	tests/soak.sh $(BUILD)/kura $(SOAK_SECONDS)

# Static analysis: gcc -fanalyzer build and cppcheck.
analyze:
	scripts/analyze.sh

bench: all
	bench/healthz.sh
	bench/audit.sh
	bench/login.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-analyze
