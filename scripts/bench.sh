#!/usr/bin/env bash
# Builds (Release) and runs the benchmarks. Figures are ratios against a baseline
# measured in the same run; paste them into the issue notes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
shared="${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
baseline=""
if /usr/bin/python3 -c "import sklearn" 2>/dev/null; then
  baseline=$(/usr/bin/python3 bench/bootstrap_sklearn.py "$shared/fixtures/stats/realistic_n4200.json" | cut -d' ' -f1)
  echo "baseline: python loop over sklearn, 2000 replicates, n=4200: ${baseline} s"
else
  echo "baseline: python3-sklearn not installed (apt-get install python3-sklearn) - no ratio"
fi
./build/osteofm_bench "$shared" $baseline
# Threads: LibTorch intra-op x OpenBLAS pool, under the pthreads build (Debian's default) and
# the OpenMP build when libopenblas0-openmp is installed (chosen here by LD_LIBRARY_PATH,
# the system's choice is left alone).
./build/osteofm_bench_threads
openmp=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ -e "$openmp/libopenblas.so.0" ]; then
  LD_LIBRARY_PATH="$openmp" ./build/osteofm_bench_threads
else
  echo "OpenBLAS OpenMP build not installed (apt-get install libopenblas0-openmp): not measured"
fi
# A training step per strategy (dinov2-vitb14, batch 8) at 224 and 518 px: images/s and the
# peak resident memory of a process doing only that.
for size in 224 518; do
  for strategy in linear_probe partial lora; do
    ./build/osteofm_bench_strategies "$strategy" "$size"
  done
done
# data segment with a PSPNet-sized TorchScript module at 512 px on real radiographs: images/s
# and the decode+resize / model / masks split (decode must not be the bottleneck).
./build/osteofm_bench_segment "$shared" --size 512 --images 8 --batches 1,4
# data index over 20,000 files of a synthetic PACS export (hard links to the real DICOMs):
# files/s at 1 and 2 threads, and decoding the pixels as the baseline.
./build/osteofm_bench_index "$shared" --files 20000 --threads 1,2
# Start-up: eval through `osteofm` (no LibTorch loaded) against osteofm-torch, and what the
# launcher adds to a verb it hands on.
./build/osteofm_bench_startup build --repeats 15
