#!/usr/bin/env bash
# README's second command: install what is missing, build, and run every test.
# Tests find ../shared beside the project; OSTEOFM_SHARED overrides that path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-test-deps
export OSTEOFM_SHARED="${OSTEOFM_SHARED:-$(cd .. && pwd)/shared}"
ctest --test-dir build --output-on-failure -j "$(nproc)"
