#!/usr/bin/env bash
# One-shot check of the CUDA path on a lent GPU machine: build the LibTorch-only osteofm
# against the machine's CUDA LibTorch, run the test suite, then measure on the device what a
# note needs: ViT embed throughput in fp32 and bf16 against the CPU of the same machine; a
# training step per strategy (linear probe, partial, LoRA) at 224 and 518 px with bf16
# autocast: images/s, peak GPU memory and mean GPU utilisation (nvidia-smi sampled every
# 200 ms), and the same steps with HF Dinov2Model + peft when the machine's Python has them;
# and a short LoRA training run, eval and explain from a tensor cache. Prints one summary
# block (also written to $OUT/gpu-check.txt, and the step figures to $OUT/strategies.jsonl,
# when $OUT is set, as the device tool provides).
#
#   scripts/gpu-check.sh [--deps-prefix DIR] [--cache DIR] [--build-dir DIR] [--device cuda]
#                        [--preset dinov2-vitb14] [--images 64] [--skip-build] [--skip-tests]
#                        [--sizes "224 518"] [--batch 32] [--steps 20]
#
# Before a GPU session, on this machine (the device has no registries and no OpenCV):
#   mkdir -p debs && (cd debs && apt-get download nlohmann-json3-dev libcli11-dev catch2)
#   for f in debs/*.deb; do dpkg -x "$f" deps; done                 # never into /
#   ./build/osteofm synth --out /tmp/ph --patients 120 --size 256
#   ./build/osteofm data cache /tmp/ph/manifest.csv --size 224 --out gpu-cache
# then run, carrying deps and gpu-cache:  bash scripts/gpu-check.sh --deps-prefix deps --cache gpu-cache
# Every step runs under `timeout`; a failed step is reported and the next one still runs.
set -uo pipefail
cd "$(dirname "$0")/.."
DEPS="" CACHE="" BUILD_DIR="build-cuda" DEVICE="cuda" PRESET="dinov2-vitb14" IMAGES=64
BUILD=1 TESTS=1 SIZES="224 518" BATCH=32 STEPS=20
while [[ $# -gt 0 ]]; do
  case "$1" in
    --deps-prefix) DEPS="$2"; shift 2 ;;
    --cache) CACHE="$2"; shift 2 ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --device) DEVICE="$2"; shift 2 ;;
    --preset) PRESET="$2"; shift 2 ;;
    --images) IMAGES="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --skip-tests) TESTS=0; shift ;;
    --sizes) SIZES="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d /tmp/osteofm_gpu_check.XXXXXX)
SUMMARY="$WORK/summary.txt"
failures=0
say() { echo "$*" | tee -a "$SUMMARY"; }
now() { date +%s.%N; }
step() {  # step NAME SECONDS COMMAND...: runs it bounded, logs it, reports failure
  local name=$1 limit=$2
  shift 2
  echo "== $name" >&2
  if ! timeout "$limit" "$@" >"$WORK/$name.log" 2>&1; then
    failures=$((failures + 1))
    say "FAILED: $name (exit $?; last lines below)"
    tail -5 "$WORK/$name.log" | sed 's/^/  | /' | tee -a "$SUMMARY"
    return 1
  fi
}

say "osteofm gpu-check, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v nvidia-smi >/dev/null && say "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)"
say "PyTorch: $(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)' 2>/dev/null || echo 'none')"
say "CPU cores: $(nproc)"

if ((BUILD)); then
  args=(--build-dir "$BUILD_DIR")
  [[ -n "$DEPS" ]] && args+=(--deps-prefix "$DEPS")
  ((TESTS)) && args+=(--test)
  t0=$(now)
  step build_and_test 540 bash scripts/build-cuda.sh "${args[@]}" &&
    say "build$( ((TESTS)) && echo ' + tests'): $(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.0f", b - a}') s, $(grep -E 'tests passed|tests failed' "$WORK/build_and_test.log" | tail -1)"
fi
BIN="$BUILD_DIR/osteofm"
[[ -x "$BIN" ]] || { say "no $BIN: nothing to measure"; cat "$SUMMARY" >"${OUT:-$WORK}/gpu-check.txt"; exit 1; }
"$BIN" doctor >"$WORK/doctor.log" 2>&1
say "doctor: $(grep -iE 'cuda|device' "$WORK/doctor.log" | head -3 | tr '\n' ';')"

# Embed throughput: random normalised images [N,3,224,224], written as safetensors by hand.
python3 - "$WORK/x.safetensors" "$IMAGES" <<'EOF'
import json, struct, sys, random
path, n = sys.argv[1], int(sys.argv[2])
count = n * 3 * 224 * 224
header = json.dumps({"x": {"dtype": "F32", "shape": [n, 3, 224, 224], "data_offsets": [0, 4 * count]}}).encode()
header += b" " * (-len(header) % 8)
random.seed(1)
block = struct.pack("<%df" % 150528, *[random.gauss(0, 1) for _ in range(150528)])
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header)
    for _ in range(n):
        f.write(block)
EOF
embed_rate() {  # embed_rate DEVICE PRECISION: images per second of the second (warm) run
  local dev=$1 prec=$2 t0 t1
  "$BIN" embed --backbone "$PRESET" --weights random --tensor "$WORK/x.safetensors:x" --batch 32 --device "$dev" \
    --precision "$prec" --out "$WORK/e.safetensors" >/dev/null 2>&1 || return 1
  t0=$(now)
  "$BIN" embed --backbone "$PRESET" --weights random --tensor "$WORK/x.safetensors:x" --batch 32 --device "$dev" \
    --precision "$prec" --out "$WORK/e.safetensors" >/dev/null 2>&1 || return 1
  t1=$(now)
  awk -v n="$IMAGES" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", n / (b - a)}'
}
cpu=$(embed_rate cpu fp32) || cpu=""
say "embed $PRESET, $IMAGES images 224 px (includes model start-up): cpu fp32 ${cpu:+$(printf '%.1f' "$cpu") images/s}"
if [[ "$DEVICE" != cpu ]]; then
  for prec in fp32 auto; do
    rate=$(embed_rate "$DEVICE" "$prec") || { say "embed on $DEVICE ($prec): FAILED"; failures=$((failures + 1)); continue; }
    say "embed on $DEVICE ($prec; auto = bf16 autocast): $(printf '%.1f' "$rate") images/s$([[ -n "$cpu" ]] && awk -v r="$rate" -v c="$cpu" 'BEGIN {printf ", %.1fx the CPU", r / c}')"
  done
fi

# A training step per strategy and size (bench/bench_strategies.cpp), the batch halved once
# when it does not fit; nvidia-smi samples the device while each runs.
STEP_BIN="$BUILD_DIR/osteofm_bench_strategies"
: >"$WORK/strategies.jsonl"
if [[ -x "$STEP_BIN" ]]; then
  for size in $SIZES; do
    for strategy in linear_probe partial lora; do
      line=""
      for batch in "$BATCH" $((BATCH / 2)); do
        ((batch >= 1)) || continue
        smi=""
        if [[ "$DEVICE" != cpu ]] && command -v nvidia-smi >/dev/null; then
          nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits -lms 200 >"$WORK/smi.csv" 2>/dev/null &
          smi=$!
        fi
        line=$(timeout 150 "$STEP_BIN" "$strategy" "$size" --device "$DEVICE" --batch "$batch" --preset "$PRESET" \
          --steps "$STEPS" --json 2>"$WORK/step_${strategy}_${size}.log") || line=""
        if [[ -n "$smi" ]]; then
          kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
          if [[ -n "$line" && -s "$WORK/smi.csv" ]]; then
            extra=$(awk -F', *' '$1 + 0 > m {m = $1 + 0} {u += $2; n++} END {if (n) printf ",\"gpu_peak_memory_mib\":%d,\"gpu_utilisation_mean_pct\":%.0f", m, u / n}' "$WORK/smi.csv")
            line="${line%\}}${extra}}"
          fi
        fi
        [[ -n "$line" ]] && break
      done
      if [[ -z "$line" ]]; then
        failures=$((failures + 1))
        say "train step $strategy $size px on $DEVICE: FAILED ($(tail -1 "$WORK/step_${strategy}_${size}.log"))"
        continue
      fi
      echo "$line" >>"$WORK/strategies.jsonl"
      say "train step $strategy $size px on $DEVICE: $(python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print("batch %d, %.1f images/s, peak RSS %.0f MiB%s" % (j["batch"], j["images_per_s"], j["peak_rss_mib"], ", GPU peak %d MiB, util %d%%" % (j["gpu_peak_memory_mib"], j["gpu_utilisation_mean_pct"]) if "gpu_peak_memory_mib" in j else ""))' "$line")"
    done
  done
else
  say "train steps: no $STEP_BIN (built with OSTEOFM_BUILD_BENCH=ON)"
fi
# data segment's module: a PSPNet-sized TorchScript segmenter at 512 px (bench/bench_segment.cpp);
# this build has no image I/O, so the module's forward alone.
SEG_BIN="$BUILD_DIR/osteofm_bench_segment"
if [[ -x "$SEG_BIN" && "$DEVICE" != cpu ]]; then
  if line=$(timeout 240 "$SEG_BIN" "${OSTEOFM_SHARED:-../shared}" --device "$DEVICE" --size 512 --images 32 --batches 1,8 \
      --model-only 1 2>"$WORK/segment.log"); then
    echo "$line" >>"$WORK/strategies.jsonl"
    while read -r l; do say "segmenter (PSPNet-sized, 512 px) on $DEVICE: $l"; done <<<"$line"
  else
    failures=$((failures + 1))
    say "segmenter on $DEVICE: FAILED ($(tail -1 "$WORK/segment.log"))"
  fi
fi
if [[ "$DEVICE" != cpu ]] && python3 -c 'import torch, transformers, peft' 2>/dev/null; then
  for size in $SIZES; do
    if step "hf_anchor_$size" 240 python3 scripts/hf_anchor.py --size "$size" --batch "$BATCH" --steps "$STEPS" --device "$DEVICE"; then
      cat "$WORK/hf_anchor_$size.log" | grep '^{' >>"$WORK/strategies.jsonl"
      while read -r l; do say "anchor (HF Dinov2Model + peft) $size px: $l"; done < <(grep '^{' "$WORK/hf_anchor_$size.log")
    fi
  done
else
  say "anchor (HF Dinov2Model + peft): skipped (device cpu, or python3 lacks torch, transformers or peft)"
fi

if [[ -n "$CACHE" ]]; then
  cat >"$WORK/train.json" <<EOF
{"data": {"manifest": "$(cd "$CACHE" && pwd)"}, "backbone": {"preset": "$PRESET", "weights": "random", "seed": 1},
 "strategy": {"name": "lora", "rank": 8, "alpha": 8, "targets": ["qv"]},
 "train": {"epochs": 2, "batch_size": 32, "patience": 2, "seed": 1, "device": "$DEVICE"}}
EOF
  if step train 400 "$BIN" train --config "$WORK/train.json" --out "$WORK/run"; then
    say "train LoRA on $DEVICE: $(grep -o '"images_per_s":[0-9.]*' "$WORK/run/log.jsonl" | tail -1 | cut -d: -f2 | xargs printf '%.1f') images/s (epoch 2), $(tail -1 "$WORK/train.log")"
    step eval 120 "$BIN" eval --run "$WORK/run" --bootstrap 500 --no-plots &&
      say "eval: $(tail -1 "$WORK/eval.log")"
    step explain 300 "$BIN" explain --run "$WORK/run" --out "$WORK/run/explain" --bootstrap 200 --overlays 0 --device "$DEVICE" &&
      say "explain on $DEVICE: $(tail -1 "$WORK/explain.log")"
  fi
else
  say "training: skipped (no --cache; see --help for making one)"
fi
say "steps failed: $failures (logs in $WORK)"
[[ -n "${OUT:-}" ]] && cp "$SUMMARY" "$OUT/gpu-check.txt" && cp "$WORK/strategies.jsonl" "$OUT/" && cp "$WORK"/*.log "$OUT/" 2>/dev/null
echo
cat "$SUMMARY"
((failures == 0))
