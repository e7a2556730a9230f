# Thin wrapper over CMake. `make run` and `make test` install what is missing first.
BUILD      ?= build
BUILD_SAN  ?= build-asan
BUILD_FUZZ ?= build-fuzz
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 60
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD_DEB  ?= build-deb

.PHONY: all deps build build-asan install deb run test test-unit test-integration fuzz bench format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DFC_ASAN=ON -DFC_UBSAN=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_SAN) -j$(JOBS)

# Installs under PREFIX (/usr/local), staged under DESTDIR when given: the
# binaries, the web UI, the schemas, the man page, the example configuration
# (/etc/flashcharge when PREFIX is /usr, else PREFIX/etc/flashcharge) and the
# systemd unit (cmake/package.cmake).
install: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# The Debian package (CPack DEB, prefix /usr), in $(BUILD_DEB)/flashcharge_*.deb.
deb: deps
	@cmake -S . -B $(BUILD_DEB) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DEB) -j$(JOBS)
	@cd $(BUILD_DEB) && cpack -G DEB
	@ls $(BUILD_DEB)/flashcharge_*.deb

# Starts the server on its embedded default (SQLite in ./flashcharge.db).
# Unknown chargers are accepted here, as on a development bench; production
# keeps the default policy, reject.
# A few simulated chargers (flashcharge-sim) start once the server listens;
# Ctrl-C stops both.
run: build
	@tools/run-with-sim.sh $(BUILD)

# Every test: unit and integration, on the normal build and under ASan+UBSan.
# ASan's quarantine is kept small so that the tests that bound the server's
# memory measure the server, not the sanitizer's pool of freed blocks.
test: build build-asan
	@cd $(BUILD) && ctest --output-on-failure
	@cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=8 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

test-integration: build
	@cd $(BUILD) && ctest --output-on-failure -L integration

fuzz: deps
	@CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=Debug -DFC_FUZZ=ON -DFC_ASAN=ON -DFC_UBSAN=ON >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS) --target $(notdir $(basename $(wildcard fuzz/fuzz_*.c)))
	@for f in $(BUILD_FUZZ)/fuzz_*; do \
	  t=$$(basename $$f); mkdir -p fuzz/corpus/$${t#fuzz_}; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -dict=fuzz/ocpp.dict -max_len=4096 fuzz/corpus/$${t#fuzz_} || exit 1; \
	done

# The standard load and latency set (flashcharge-bench against a fresh server
# per scenario); results in bench/results/<date>.json. Not part of `make test`.
bench: build
	@bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ) $(BUILD_DEB)
