#!/usr/bin/env bash
# README's second command: install what is missing, build, and run every test:
#   build/        the full build, warnings as errors;
#   build-noio/   the LibTorch-only build that GPU machines without package registries use
#                 (OSTEOFM_WITH_IMAGE_IO=OFF: no OpenCV, no DICOM library; it trains,
#                 evaluates and explains from tensor caches): every part and the app, the
#                 unit tests, and the tensor-cache cases;
#   build-asan/   the parts without LibTorch (core, io, eval, report, data) and their unit
#                 tests under AddressSanitizer + UndefinedBehaviorSanitizer;
#   build-tsan/   the same under ThreadSanitizer: the thread pool, the bootstrap's workers,
#                 the console sink, the decoders' and data check's pools (suppressions, for
#                 uninstrumented third-party libraries only: tests/tsan.supp);
#   build-fuzz/   both libFuzzer targets for a fixed budget (OSTEOFM_FUZZ_SECONDS, 30 s each).
# Tests find ../shared beside the project; OSTEOFM_SHARED overrides that path.
set -euo pipefail
cd "$(dirname "$0")/.."
OSTEOFM_CMAKE_ARGS="-DOSTEOFM_WERROR=ON ${OSTEOFM_CMAKE_ARGS:-}" bash scripts/setup.sh --with-test-deps
export OSTEOFM_SHARED="${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
# ctest runs nproc cases at a time; each osteofm they start takes one thread
# (OSTEOFM_THREADS, osteofm's --threads from the environment), not every core: measured on
# the 2-core VM, the cases' seconds summed 760 instead of 925 and the run took 381 s
# instead of 439. The pools' threading is tested in-process by the unit tests and under
# ThreadSanitizer below.
export OSTEOFM_THREADS="${OSTEOFM_THREADS:-1}"
ctest --test-dir build --output-on-failure -j "$(nproc)"

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
configure() {  # DIR ARGS...: a folder made before keeps its generator and takes the new ARGS
  local dir=$1
  shift
  if [[ -f "$dir/CMakeCache.txt" ]]; then
    cmake -S . -B "$dir" "$@" >/dev/null
  else
    cmake -S . -B "$dir" "${GENERATOR[@]}" "$@" >/dev/null
  fi
}

# Of osteofm_tests, only the cases that differ without image I/O (OSTEOFM_TEST_SCOPE): the
# rest run the same library code that build/ has just tested. A unity build at -O1: this
# folder proves the configuration compiles and trains from caches, and builds in 4 min
# instead of 10.7 (the 570 MB LibTorch PCH is loaded once per 8 files, not per file).
# GCC 12's -Wmaybe-uninitialized misfires at -O1 (an std::optional read after its check in
# cmd_gradcam.cpp); build/ keeps the warning.
configure build-noio -DCMAKE_BUILD_TYPE=Release -DOSTEOFM_WITH_IMAGE_IO=OFF -DOSTEOFM_BUILD_BENCH=OFF -DOSTEOFM_WERROR=ON \
  -DOSTEOFM_TEST_SCOPE=image-io-off -DCMAKE_UNITY_BUILD=ON \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -DNDEBUG -Wno-maybe-uninitialized"
cmake --build build-noio -j "$(nproc)"
ctest --test-dir build-noio --output-on-failure -j "$(nproc)"

# The sanitizer folders are unity builds: build/ has compiled every file alone already, and
# merging them cut the two folders' compile time by a third (the same files, instrumented
# the same way; build-noio's unity build keeps the merged files free of name clashes).
configure build-asan -DCMAKE_BUILD_TYPE=Release -DOSTEOFM_WITHOUT_TORCH=ON -DOSTEOFM_SANITIZE=address,undefined \
  -DOSTEOFM_WERROR=ON -DCMAKE_UNITY_BUILD=ON
cmake --build build-asan -j "$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)"

# Only the unit-test binary is built (-O1 by OSTEOFM_SANITIZE); the [cli] cases need the
# osteofm binary, which this folder does not build. Its run (one process, mostly one core)
# goes on beside the fuzzers' build and runs; its report is printed when it ends.
configure build-tsan -DCMAKE_BUILD_TYPE=Release -DOSTEOFM_WITHOUT_TORCH=ON -DOSTEOFM_SANITIZE=thread -DOSTEOFM_WERROR=ON \
  -DCMAKE_UNITY_BUILD=ON
cmake --build build-tsan -j "$(nproc)" --target osteofm_unit_tests
TSAN_OPTIONS="halt_on_error=1:suppressions=$PWD/tests/tsan.supp" build-tsan/tests/osteofm_unit_tests "~[cli]" \
  >build-tsan/unit_tests.log 2>&1 &
tsan=$!
fuzz_status=0
bash scripts/fuzz.sh "${OSTEOFM_FUZZ_SECONDS:-30}" || fuzz_status=$?
tsan_status=0
wait "$tsan" || tsan_status=$?
echo "ThreadSanitizer run (build-tsan/unit_tests.log):"
tail -n 40 build-tsan/unit_tests.log
((tsan_status == 0 && fuzz_status == 0))
