#!/usr/bin/env bash
# README's second command: install what is missing, build, and run every test, in both
# configurations: the full build (build/) and the LibTorch-only build that GPU machines
# without package registries use (build-noio/, OSTEOFM_WITH_IMAGE_IO=OFF: no OpenCV, no
# DICOM library; it trains, evaluates and explains from tensor caches).
# Tests find ../shared beside the project; OSTEOFM_SHARED overrides that path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-test-deps
export OSTEOFM_SHARED="${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
ctest --test-dir build --output-on-failure -j "$(nproc)"

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
if [[ ! -f build-noio/CMakeCache.txt ]]; then
  cmake -S . -B build-noio "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DOSTEOFM_WITH_IMAGE_IO=OFF \
    -DOSTEOFM_BUILD_BENCH=OFF >/dev/null
fi
cmake --build build-noio -j "$(nproc)"
ctest --test-dir build-noio --output-on-failure -j "$(nproc)"
