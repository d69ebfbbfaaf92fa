#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS
# (default 600). Crashes land in build-fuzz/crashes/. CI runs it with a short budget
# (scripts/test.sh); a crash fails the run.
#   bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
command -v clang++ >/dev/null || { echo "fuzz: needs clang (apt-get install clang)" >&2; exit 2; }
[[ -f build-fuzz/CMakeCache.txt ]] || CXX=clang++ cmake -S . -B build-fuzz -DOSTEOFM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
shared="${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
mkdir -p build-fuzz/crashes build-fuzz/corpus/safetensors build-fuzz/corpus/manifest
cp -n fuzz/corpus/safetensors/* build-fuzz/corpus/safetensors/
cp -n fuzz/corpus/manifest/* build-fuzz/corpus/manifest/
# Real files as seeds too: the parity fixtures' headers are what real checkpoints look like.
if [[ -d "$shared/fixtures/parity" ]]; then
  for f in "$shared"/fixtures/parity/*.safetensors; do head -c 65536 "$f" >"build-fuzz/corpus/safetensors/seed_$(basename "$f")"; done
fi
for target in safetensors manifest; do
  echo "fuzz: $target for ${secs}s" >&2
  ./build-fuzz/fuzz/fuzz_$target -max_total_time="$secs" -max_len=65536 -artifact_prefix=build-fuzz/crashes/ \
    -print_final_stats=1 build-fuzz/corpus/$target 2>&1 | tail -n 12
done
