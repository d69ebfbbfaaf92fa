#!/usr/bin/env bash
# Builds (Release) and runs the benchmarks. Figures are ratios against a baseline
# measured in the same run; paste them into the issue notes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-run >/dev/null
./build/osteofm_bench "${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
