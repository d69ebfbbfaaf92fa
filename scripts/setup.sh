#!/usr/bin/env bash
# Installs the Debian packages osteofm needs (only those missing), then configures and
# builds Release into build/. Idempotent: quick when nothing is missing or changed.
#   bash scripts/setup.sh            install + build
#   bash scripts/setup.sh --with-test-deps   also what the tests need (a local Slurm, clang, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
test_deps=0
[[ "${1:-}" == "--with-test-deps" ]] && test_deps=1

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread          # LibTorch 1.13 CPU; OpenBLAS: ~40x faster than reference BLAS
  libopencv-dev                              # TIFF/BMP decoding, drawing, PNG encoding
  libjpeg62-turbo-dev libpng-dev             # JPEG and PNG decoding with our own message handlers
  libdcmtk-dev libgdcm-dev                   # DICOM: DCMTK (JPEG, JPEG-LS, RLE) + GDCM (JPEG 2000)
  libcli11-dev nlohmann-json3-dev catch2
)

# The sweep's Slurm executor is tested against a real one-node Slurm.
((test_deps)) && PACKAGES+=(slurmctld slurmd slurm-client munge)
# The study report is checked in a real browser (headless Chromium).
((test_deps)) && PACKAGES+=(chromium)
# The fuzz targets are built with clang and linked with its libFuzzer.
((test_deps)) && PACKAGES+=(clang libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# LibTorch must not fall back to the reference BLAS (see osteofm doctor).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
if [[ -n "$blas" && "$blas" != *openblas* ]]; then
  echo "setup: WARNING: libblas.so.3 -> $blas is not OpenBLAS; run: update-alternatives --config libblas.so.3-x86_64-linux-gnu" >&2
fi

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release ${OSTEOFM_CMAKE_ARGS:-} >/dev/null
elif [[ -n "${OSTEOFM_CMAKE_ARGS:-}" ]]; then
  cmake -S . -B build ${OSTEOFM_CMAKE_ARGS} >/dev/null  # new options for an existing folder
fi
cmake --build build -j "$(nproc)"
