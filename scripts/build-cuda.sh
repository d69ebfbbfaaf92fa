#!/usr/bin/env bash
# Builds the LibTorch-only osteofm (OSTEOFM_WITH_IMAGE_IO=OFF: no OpenCV, no DICOM library)
# against a CUDA LibTorch, for GPU machines that cannot install packages. It trains,
# evaluates, explains and predicts from tensor caches made by a full build
# ('osteofm data cache', then copy the cache folder over).
#
#   scripts/build-cuda.sh [--libtorch DIR] [--deps-prefix DIR] [--build-dir DIR] [--test]
#
# LibTorch, first found of: --libtorch DIR (a standalone LibTorch folder, or its
# share/cmake), $LIBTORCH, the installed PyTorch (python3 -c "import torch;
# print(torch.utils.cmake_prefix_path)"). The CUDA toolkit (nvcc) must be on PATH or in
# /usr/local/cuda.
#
# Header-only dependencies (nlohmann-json, CLI11, Catch2 2.x for --test): from the
# system, or from a prefix of unpacked Debian packages. Prepare it on any Debian 12 machine
# with apt, then copy the folder (a few MB) to the GPU machine:
#   mkdir debs && (cd debs && apt-get download nlohmann-json3-dev libcli11-dev catch2)
#   for f in debs/*.deb; do dpkg -x "$f" deps; done      # never into /
#   scripts/build-cuda.sh --deps-prefix deps
set -euo pipefail
cd "$(dirname "$0")/.."
LIBTORCH_DIR="${LIBTORCH:-}"
DEPS=""
BUILD_DIR="build-cuda"
RUN_TESTS=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --libtorch) LIBTORCH_DIR="$2"; shift 2 ;;
    --deps-prefix) DEPS="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --test) RUN_TESTS=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "build-cuda: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -z "$LIBTORCH_DIR" ]]; then
  LIBTORCH_DIR="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)"
  [[ -n "$LIBTORCH_DIR" ]] || { echo "build-cuda: no LibTorch: pass --libtorch DIR or install PyTorch" >&2; exit 2; }
fi
[[ -d "$LIBTORCH_DIR" ]] || { echo "build-cuda: $LIBTORCH_DIR: no such LibTorch folder" >&2; exit 2; }
PREFIXES="$LIBTORCH_DIR"
if [[ -n "$DEPS" ]]; then
  [[ -d "$DEPS/usr" ]] || { echo "build-cuda: $DEPS/usr missing: unpack the .deb files with 'dpkg -x FILE $DEPS'" >&2; exit 2; }
  DEPS="$(cd "$DEPS" && pwd)"
  PREFIXES="$PREFIXES;$DEPS/usr"
fi
if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH="/usr/local/cuda/bin:$PATH"; fi

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
TESTS=OFF
[[ $RUN_TESTS == 1 ]] && TESTS=ON
cmake -S . -B "$BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release -DOSTEOFM_WITH_IMAGE_IO=OFF \
  -DOSTEOFM_BUILD_TESTS="$TESTS" -DCMAKE_PREFIX_PATH="$PREFIXES" ${OSTEOFM_CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "$(nproc)"
"$BUILD_DIR/osteofm" doctor
if [[ $RUN_TESTS == 1 ]]; then
  export OSTEOFM_SHARED="${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)"
fi
