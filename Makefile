# Thin front over CMake. `make` = Release build, `make test` = build + every test via ctest.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure test bench fuzz clean format demo

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

configure: deps
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: all
	@for b in $(BUILD)/bench/bench_*; do [ -x $$b ] && $$b --benchmark_min_time=0.2; done

# Build, then serve the committed demo model and show a chat completion fetched over HTTP.
demo: all
	@scripts/demo

# libFuzzer targets (clang); FUZZ_SECONDS bounds each run.
FUZZ_SECONDS ?= 30
fuzz: deps
	@test -f build-fuzz/CMakeCache.txt || CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFRUGAL_FUZZ=ON -DFRUGAL_TESTS=OFF -DFRUGAL_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	@scripts/run-fuzzers build-fuzz/fuzz $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files 'src/*.h' 'src/*.cpp' 'tests/*.cpp' 'tests/*.h' 'bench/*.cpp' 'fuzz/*.cpp')

clean:
	rm -rf $(BUILD) build-fuzz
