#!/usr/bin/env bash
# The bad-input and fault campaign (issue "the researcher's day"): every case runs one
# osteofm command on something broken and checks that it
#   - ends with the expected exit code (2 = bad input, 0 = accepted, with a warning where
#     the input is suspicious), within a time limit (no hang);
#   - never crashes (no signal, no "terminate called", no LibTorch stack trace);
#   - on exit 2, says so in exactly one "osteofm: error:" line, and no library writes its
#     own words to stderr (libpng, libjpeg, DCMTK, GDCM);
#   - leaves nothing half-written (cases name the files that must not exist afterwards).
# Usage: bad_input.sh OSTEOFM_BINARY [SHARED_DIR [WORK_DIR]]
#   SHARED_DIR defaults to $OSTEOFM_SHARED, else ../shared beside the project; WORK_DIR to a
#   temporary folder, removed afterwards (a given one is kept for reading).
# Prints one line per case and a summary; exits 1 when any case fails. Bounded: every
# command runs under `timeout` (CAMPAIGN_TIMEOUT seconds, default 60); about 2 minutes on
# 2 cores in all.
set -uo pipefail

BIN=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(readlink -f "${2:-${OSTEOFM_SHARED:-$HERE/../../../shared}}")
if [[ -n "${3:-}" ]]; then
  WORK=$3
else
  WORK=$(mktemp -d /tmp/osteofm_campaign.XXXXXX)
  trap 'rm -rf "$WORK"' EXIT
fi
[[ -x "$BIN" ]] || { echo "campaign: $1 is not an executable"; exit 1; }
[[ -d "$SHARED/data/public-cxr" ]] || { echo "campaign: $SHARED has no data/public-cxr (set OSTEOFM_SHARED)"; exit 1; }
LIMIT=${CAMPAIGN_TIMEOUT:-60}
mkdir -p "$WORK"
cd "$WORK" || exit 1
CXR="$SHARED/data/public-cxr"

total=0
failed=0
failures=()

# check_case NAME WANT MUST_NOT_EXIST(colon-separated, may be empty) -- COMMAND...
run_case() {
  local name=$1 want=$2 absent=$3
  shift 4
  total=$((total + 1))
  local out="$WORK/.case.out" err="$WORK/.case.err" rc problems=()
  timeout -s KILL "$LIMIT" "$@" >"$out" 2>"$err" </dev/null
  rc=$?
  if ((rc == 137)); then
    problems+=("hung (killed after ${LIMIT}s)")
  elif ((rc >= 128)); then
    problems+=("crashed (signal $((rc - 128)))")
  elif [[ "$want" != *"$rc"* ]]; then
    problems+=("exit $rc, expected $want")
  fi
  if grep -qE 'terminate called|what\(\):|Exception raised from|frame #[0-9]+|Segmentation fault|core dumped' "$err"; then
    problems+=("stack trace or abort text on stderr")
  fi
  if grep -qE '^(libpng|Corrupt JPEG|Premature end of JPEG|W: |E: |Warning: In |Error: In |[IWEF]: )' "$err"; then
    problems+=("a library's own words on stderr: $(grep -m1 -E '^(libpng|Corrupt JPEG|Premature end|W: |E: |Warning: In |Error: In |[IWEF]: )' "$err")")
  fi
  if grep -qE '179769313486|e\+308' "$err"; then
    problems+=("an unreadable limit (DBL_MAX) in the message")
  fi
  if ((rc == 2)); then
    local errors
    errors=$(grep -c '^osteofm: error:' "$err")
    ((errors == 1)) || problems+=("$errors 'osteofm: error:' lines, expected 1")
  fi
  local f
  IFS=':' read -r -a files <<<"$absent"
  for f in "${files[@]}"; do
    [[ -z "$f" ]] && continue
    compgen -G "$f" >/dev/null && problems+=("left $f behind")
  done
  if ((${#problems[@]})); then
    failed=$((failed + 1))
    failures+=("$name: ${problems[*]}")
    printf 'FAIL %-58s %s\n' "$name" "${problems[*]}"
    sed 's/^/       | /' "$err" | tail -3
  else
    printf 'ok   %-58s exit %s  %s\n' "$name" "$rc" "$(grep -m1 '^osteofm: error:' "$err" | cut -c16-130)"
  fi
}

# A case whose extra condition (a shell test run after the command) must hold too.
expect() {
  local name=$1 condition=$2
  total=$((total + 1))
  if eval "$condition"; then
    printf 'ok   %-58s\n' "$name"
  else
    failed=$((failed + 1))
    failures+=("$name: condition failed: $condition")
    printf 'FAIL %-58s condition failed: %s\n' "$name" "$condition"
  fi
}

le64() {
  local n=$1 s="" i
  for i in 0 1 2 3 4 5 6 7; do s+=$(printf '\\x%02x' $(((n >> (8 * i)) & 255))); done
  printf '%s' "$s"
}
# safetensors FILE HEADER_JSON DATA_BYTES [DECLARED_HEADER_LENGTH]
safetensors() {
  local hdr=$2 declared=${4:-${#2}}
  printf "$(le64 "$declared")" >"$1"
  printf '%s' "$hdr" >>"$1"
  head -c "$3" /dev/zero >>"$1"
}

echo "campaign: setting up in $WORK"
"$BIN" synth --out cohort --patients 60 --size 112 --seed 3 >/dev/null 2>&1 || { echo "setup: synth failed"; exit 1; }
cat >base.json <<EOF
{"data": {"manifest": "$WORK/cohort/manifest.csv"}, "backbone": {"preset": "dinov2-tiny", "seed": 5},
 "strategy": {"name": "linear_probe"}, "train": {"epochs": 1, "batch_size": 16, "seed": 2}}
EOF
"$BIN" train --config base.json --out run >/dev/null 2>&1 || { echo "setup: train failed"; exit 1; }
GOOD_IMAGE=$(ls cohort/images/*.png | head -1)

# ---- 1. Command line ------------------------------------------------------------------
run_case "cli: unknown verb" 2 "" -- "$BIN" frobnicate
for verb in train eval explain predict sweep table compare synth embed gradcam "data check" "data split" "data cache" \
  "data masks" "weights inspect" demo reproduce doctor config; do
  # shellcheck disable=SC2086
  run_case "cli: $verb --no-such-flag" 2 "" -- "$BIN" $verb --no-such-flag
done
run_case "cli: train without --config" 2 "" -- "$BIN" train --out x
run_case "cli: --threads -1" 2 "" -- "$BIN" --threads -1 doctor
run_case "cli: --threads abc" 2 "" -- "$BIN" --threads abc doctor
run_case "cli: OSTEOFM_THREADS=abc (--threads from the environment)" 2 "" -- env OSTEOFM_THREADS=abc "$BIN" doctor
run_case "cli: eval --bootstrap 0" 2 "" -- "$BIN" eval --predictions run/predictions_test.csv --bootstrap 0
# Replicates are bounded everywhere (100,000): eval --bootstrap 1e8 once took 6 GB.
run_case "cli: eval --bootstrap 100000000" 2 "ev_big.json" -- "$BIN" eval --predictions run/predictions_test.csv --bootstrap 100000000 --out ev_big.json
run_case "cli: explain --bootstrap -3" 2 "exb/*" -- "$BIN" explain --run run --out exb --bootstrap -3
run_case "cli: explain --bootstrap 1000000" 2 "exb2/*" -- "$BIN" explain --run run --out exb2 --bootstrap 1000000

# ---- 2. Manifests -----------------------------------------------------------------------
m() { printf '%b' "$2" >"$1"; }
HDR='image_id,patient_id,path,label,split\n'
m man_empty.csv ''
m man_header_only.csv "$HDR"
m man_no_path.csv 'image_id,patient_id,label,split\na,p,normal,train\n'
m man_no_label.csv 'image_id,patient_id,path,split\na,p,x.png,train\n'
m man_bad_label.csv "${HDR}a,p,$WORK/$GOOD_IMAGE,severe,train\n"
m man_bad_tscore.csv "image_id,patient_id,path,t_score,split\na,p,$WORK/$GOOD_IMAGE,abc,train\n"
m man_nan_tscore.csv "image_id,patient_id,path,t_score,split\na,p,$WORK/$GOOD_IMAGE,nan,train\n"
m man_dup_id.csv "${HDR}a,p,$WORK/$GOOD_IMAGE,normal,train\na,q,$WORK/$GOOD_IMAGE,normal,test\n"
m man_latin1.csv "${HDR}caf\xe9,p,$WORK/$GOOD_IMAGE,normal,train\n"
m man_quote.csv "${HDR}\"a,p,$WORK/$GOOD_IMAGE,normal,train\n"
m man_missing_image.csv "${HDR}a,p,$WORK/no/such.png,normal,train\n"
m man_bad_split.csv "${HDR}a,p,$WORK/$GOOD_IMAGE,normal,holdout\n"
m man_empty_patient.csv "${HDR}a,,$WORK/$GOOD_IMAGE,normal,train\n"
m man_leak.csv "${HDR}a,p,$WORK/$GOOD_IMAGE,normal,train\nb,p,$WORK/$GOOD_IMAGE,normal,test\n"
m man_short_row.csv "${HDR}a,p,$WORK/$GOOD_IMAGE\n"
mkdir -p adir
m man_dir_image.csv "${HDR}a,p,$WORK/adir,normal,train\n"
for f in man_empty man_header_only man_no_path man_no_label man_bad_label man_bad_tscore man_nan_tscore man_dup_id \
  man_latin1 man_quote man_missing_image man_bad_split man_empty_patient man_leak man_short_row man_dir_image; do
  run_case "data check: $f" 2 "" -- "$BIN" data check "$f.csv"
done
run_case "data check --json: Latin-1 manifest" 2 "" -- "$BIN" data check man_latin1.csv --json -
run_case "data check: no such manifest" 2 "" -- "$BIN" data check no_such.csv
mkfifo fifo.png
m man_fifo.csv "${HDR}a,p,$WORK/fifo.png,normal,train\n"
run_case "data check --decode: FIFO as image (no hang)" 2 "" -- "$BIN" data check man_fifo.csv --decode
run_case "data split: ratios not summing to 1" 2 "split_bad.csv" -- "$BIN" data split cohort/manifest.csv --out split_bad.csv --ratios 0.5,0.5,0.5
run_case "data split: negative ratio" 2 "split_neg.csv" -- "$BIN" data split cohort/manifest.csv --out split_neg.csv --ratios 1.2,-0.1,-0.1
run_case "data cache: size 0" 2 "cache0/*" -- "$BIN" data cache cohort/manifest.csv --size 0 --out cache0
run_case "data masks: bad --map" 2 "masks_bad/*" -- "$BIN" data masks "$CXR/v7labs-lung-masks/pairs.csv" --root "$CXR" --map lungs --out masks_bad
# data segment: a spec or a module that does not fit is refused before any image, nothing written.
SEGFX="$SHARED/fixtures/segment"
segspec() {  # segspec FILE ACTIVATION THRESHOLD CHANNELS REGIONS [INPUT_CHANNELS MEAN STD]
  printf '{"format": "osteofm-segmenter/1", "input": {"height": 64, "width": 64, "channels": %s, "mean": %s, "std": %s},
 "output": {"activation": "%s", "threshold": %s, "channels": %s}, "regions": %s}\n' \
    "${6:-3}" "${7:-[0.485, 0.456, 0.406]}" "${8:-[0.229, 0.224, 0.225]}" "$2" "$3" "$4" "$5" >"$1"
}
SEGCH='["spine", "ribs", "left_clavicle", "right_clavicle", "left_lung", "right_lung"]'
SEGRG='{"spine": ["spine"], "ribs": ["ribs"], "lungs": ["left_lung", "right_lung"]}'
segspec seg_5ch.json sigmoid 0.5 '["spine", "ribs", "left_clavicle", "right_clavicle", "left_lung"]' '{"spine": ["spine"]}'
segspec seg_unknown_ch.json sigmoid 0.5 "$SEGCH" '{"spine": ["spine"], "humeri": ["left_humerus"]}'
segspec seg_9regions.json sigmoid 0.5 "$SEGCH" '{"spine": ["spine"], "ribs": ["ribs"], "clavicles": ["left_clavicle"], "scapulae": ["right_clavicle"], "humeri": ["left_lung"], "lungs": ["right_lung"], "a": ["spine"], "b": ["ribs"], "c": ["ribs"]}'
segspec seg_3new.json sigmoid 0.5 "$SEGCH" '{"heart": ["spine"], "aorta": ["ribs"], "trachea": ["left_lung"]}'
segspec seg_relu.json relu 0.5 "$SEGCH" "$SEGRG"
segspec seg_thr15.json sigmoid 1.5 "$SEGCH" "$SEGRG"
segspec seg_thr0.json sigmoid 0 "$SEGCH" "$SEGRG"
segspec seg_gray.json sigmoid 0.5 "$SEGCH" "$SEGRG" 1 '[0.5]' '[0.25]'
segspec seg_std0.json sigmoid 0.5 "$SEGCH" "$SEGRG" 3 '[0.5, 0.5, 0.5]' '[0.2, 0, 0.2]'
printf '{"format": "osteofm-segmenter/1", "input": ' >seg_truncated.json
head -c 3000 /dev/urandom >seg_garbage.pt
printf '\x80\x02}q\x00.' >seg_pickle.pt
cp "$SEGFX/expected/seg1.safetensors" seg_safetensors.pt
mkdir -p seg_zip/archive && printf '\x80\x02}q\x00.' >seg_zip/archive/data.pkl && printf '3\n' >seg_zip/archive/version
(cd seg_zip && zip -q -r ../seg_torchsave.pt archive 2>/dev/null || tar -cf ../seg_torchsave.pt archive)
cp "$SEGFX/segmenter.pt" seg_nospec.pt
for bad in garbage pickle safetensors torchsave; do
  run_case "data segment: $bad as the module" 2 "segout_$bad" -- "$BIN" data segment "$SEGFX/manifest.csv" --model "seg_$bad.pt" --spec "$SEGFX/segmenter.json" --out "segout_$bad"
done
for bad in 5ch unknown_ch 9regions 3new relu thr15 thr0 gray std0 truncated; do
  run_case "data segment: spec $bad" 2 "segout_$bad" -- "$BIN" data segment "$SEGFX/manifest.csv" --model "$SEGFX/segmenter.pt" --spec "seg_$bad.json" --out "segout_$bad"
done
run_case "data segment: no spec beside the model" 2 "segout_nospec" -- "$BIN" data segment "$SEGFX/manifest.csv" --model seg_nospec.pt --out segout_nospec
run_case "data segment: --batch -1" 2 "segout_b0" -- "$BIN" data segment "$SEGFX/manifest.csv" --model "$SEGFX/segmenter.pt" --out segout_b0 --batch -1
run_case "reproduce: --segmenter not TorchScript (checked before the study is written)" 2 "rep_badseg" -- "$BIN" reproduce \
  --manifest cohort/manifest.csv --out rep_badseg --segmenter seg_garbage.pt --segmenter-spec "$SEGFX/segmenter.json"
mkdir -p segout_busy && echo keep >segout_busy/notes.txt
run_case "data segment: --out a folder of other files" 2 "segout_busy/masks" -- "$BIN" data segment "$SEGFX/manifest.csv" --model "$SEGFX/segmenter.pt" --out segout_busy
m man_seg_bad.csv "image_id,patient_id,path,t_score\ns1,p1,$SEGFX/images/seg1.png,-1\nbad,p2,$WORK/man_seg_bad.csv,-2\n"
run_case "data segment: one undecodable row fails, the other is masked" 2 "segout_row/masks/bad.png" -- "$BIN" data segment man_seg_bad.csv --model "$SEGFX/segmenter.pt" --out segout_row
expect "data segment: the good row's mask and the failed row's qc status" \
  "test -s segout_row/masks/s1.png && grep -q '^bad,failed,' segout_row/qc.csv"
run_case "synth: --class-mix not summing to 1" 2 "synth_bad/*" -- "$BIN" synth --out synth_bad --patients 10 --class-mix 0.5,0.5,0.5
run_case "synth: 0 patients" 2 "synth_zero/*" -- "$BIN" synth --out synth_zero --patients 0

# ---- 3. Images through predict (one row per input; exit 3 when any failed) -------------
mkdir -p img
: >img/zero.png
echo "not an image" >img/text.png
JPG="$CXR/covid-chestxray-dataset/images/2168a917.jpg"
PNG="$CXR/nih-chestxray14/torchxrayvision-512/00000001_000.png"
head -c 20000 "$JPG" >img/truncated.jpg
head -c 20000 "$PNG" >img/truncated.png
cp "$PNG" img/badfilter.png && printf '\xff' | dd of=img/badfilter.png bs=1 seek=200 conv=notrunc status=none
cp "$JPG" img/scrambled.jpg
size=$(stat -c %s "$JPG")
# 20 restart markers (0xFFD5) mid-scan: libjpeg warns "Corrupt JPEG data" and decodes on.
printf "$(printf '\\xff\\xd5%.0s' $(seq 20))" | dd of=img/scrambled.jpg bs=1 seek=$((size / 2)) conv=notrunc status=none
head -c 300 /dev/zero | tr '\0' 'x' >img/fake.dcm
cp "$CXR/dicom/malformed/MR_truncated.dcm" "$CXR/dicom/malformed/no_meta.dcm" \
  "$CXR/dicom/malformed/emri_small_jpeg_2k_lossless_too_short.dcm" img/
# Unknown transfer syntax UIDs (same length, patched in place).
patch_uid() {
  local src=$1 dst=$2 from=$3 to=$4 at
  at=$(grep -obaF "$from" "$src" | head -1 | cut -d: -f1)
  cp "$src" "$dst" && printf '%s' "$to" | dd of="$dst" bs=1 seek="$at" conv=notrunc status=none
}
patch_uid "$CXR/dicom/pydicom/mlut_18.dcm" img/unknown_native.dcm 1.2.840.10008.1.2.1 1.2.826.0.1.9999999
patch_uid "$CXR/dicom/siim-acr-via-torchxrayvision/Fake_MONOHR1.dcm" img/unknown_jpeg.dcm 1.2.840.10008.1.2.4.50 1.2.826.0.1.9999999.99
# A decompression bomb: a real JPEG whose frame header claims 60000 x 60000 pixels.
cp "$JPG" img/bomb.jpg
sof=$(LC_ALL=C grep -obaP '\xff\xc0' img/bomb.jpg | head -1 | cut -d: -f1)
printf '\xea\x60\xea\x60' | dd of=img/bomb.jpg bs=1 seek=$((sof + 5)) conv=notrunc status=none
"$BIN" synth --out tiny_src --patients 3 --size 112 --seed 1 >/dev/null 2>&1
for bad in zero.png text.png truncated.jpg truncated.png badfilter.png fake.dcm MR_truncated.dcm no_meta.dcm \
  emri_small_jpeg_2k_lossless_too_short.dcm unknown_jpeg.dcm bomb.jpg; do
  run_case "predict: $bad" 3 "" -- "$BIN" predict --run run "img/$bad" --out "pred_$bad.csv"
  expect "predict: $bad has its error row" "grep -q ',error,' 'pred_$bad.csv'"
done
expect "predict: the bomb is refused by the pixel limit, before decoding" "grep -q 'exceed the limit' pred_bomb.jpg.csv"
# A JPEG 2000 codestream with a scrambled SIZ segment: GDCM's OpenJPEG handler prints to
# stderr itself; its words belong in the row's error, not on the terminal.
cp "$CXR/dicom/nema-wg04/RG1_J2KI.dcm" img/corrupt_j2k.dcm
soc=$(LC_ALL=C grep -obaP '\xff\x4f\xff\x51' img/corrupt_j2k.dcm | head -1 | cut -d: -f1)
head -c 64 /dev/zero | tr '\0' '\132' | dd of=img/corrupt_j2k.dcm bs=1 seek=$((soc + 40)) conv=notrunc status=none
run_case "predict: a corrupt JPEG 2000 DICOM" 3 "" -- "$BIN" predict --run run img/corrupt_j2k.dcm --out pred_j2k.csv
expect "predict: OpenJPEG's words are not on stderr" "! grep -qE '^(Error with|Marker handler)' .case.err"
expect "predict: OpenJPEG's words are in the row's error" "grep -q '(OpenJPEG: ' pred_j2k.csv"
mkfifo fifo.safetensors
run_case "weights inspect: a FIFO as checkpoint (no hang)" 2 "" -- "$BIN" weights inspect fifo.safetensors
run_case "embed: a FIFO as weights (no hang)" 2 "emb_fifo.safetensors" -- "$BIN" embed --backbone dinov2-tiny --weights fifo.safetensors --manifest cohort/manifest.csv --out emb_fifo.safetensors
run_case "predict: FIFO (no hang)" 3 "" -- "$BIN" predict --run run fifo.png --out pred_fifo.csv
run_case "predict: a directory" 3 "" -- "$BIN" predict --run run adir --out pred_dir.csv
run_case "predict: missing file" 3 "" -- "$BIN" predict --run run img/absent.png --out pred_absent.csv
run_case "predict: good and bad together" 3 "" -- "$BIN" predict --run run "$GOOD_IMAGE" img/zero.png --out pred_mix.csv
expect "predict: the good image is scored beside the bad one" "grep -c ',ok,' pred_mix.csv | grep -qx 1"
# (mlut_18.dcm is a Modality OT test image: scored only with --score-anyway.)
for warn in scrambled.jpg unknown_native.dcm; do
  run_case "predict: $warn (decoded, with a warning)" 0 "" -- "$BIN" predict --run run "img/$warn" --score-anyway --out "pred_$warn.csv"
  expect "predict: $warn row carries the warning" "grep -qE ',ok,,.+' 'pred_$warn.csv'"
done
run_case "predict: CT DICOM (not a radiograph: not scored)" 3 "" -- "$BIN" predict --run run "$CXR/dicom/pydicom/CT_small.dcm" --out pred_ct.csv
expect "predict: CT row is not_chest_radiograph, saying Modality" "grep -q ',not_chest_radiograph,DICOM Modality CT' pred_ct.csv"
run_case "predict: a hip film (not a chest: not scored)" 3 "" -- "$BIN" predict --run run "$CXR/dicom/nema-wg04/RG2_RLE.dcm" --out pred_hip.csv
run_case "predict: CT DICOM with --score-anyway (scored, warned)" 0 "" -- "$BIN" predict --run run "$CXR/dicom/pydicom/CT_small.dcm" --score-anyway --out pred_ct2.csv
expect "predict: the scored CT row carries the warning" "grep -q ',ok,,DICOM Modality CT' pred_ct2.csv"
run_case "predict: run folder without checkpoint" 2 "" -- "$BIN" predict --run adir "$GOOD_IMAGE"
run_case "predict: --input-dir that is a file" 2 "pred_dir_file.csv*" -- "$BIN" predict --run run --input-dir "$GOOD_IMAGE" --out pred_dir_file.csv
mkdir -p empty_input_dir
run_case "predict: --input-dir with no files" 2 "pred_dir_empty.csv*" -- "$BIN" predict --run run --input-dir empty_input_dir --out pred_dir_empty.csv
printf '# nothing listed\n\n' >empty_list.txt
run_case "predict: --list naming no file" 2 "pred_list_empty.csv*" -- "$BIN" predict --run run --list empty_list.txt --out pred_list_empty.csv
run_case "predict: --list that does not exist" 2 "pred_list_none.csv*" -- "$BIN" predict --run run --list no_such_list.txt --out pred_list_none.csv
run_case "predict: --input-dir and --data together" 2 "pred_both.csv*" -- "$BIN" predict --run run --input-dir img --data cohort/manifest.csv --out pred_both.csv

# ---- 4. Checkpoints -----------------------------------------------------------------------
mkdir -p ckpt
: >ckpt/empty.safetensors
printf 'abcd' >ckpt/four_bytes.safetensors
safetensors ckpt/len_beyond.safetensors '{}' 0 4096
safetensors ckpt/len_huge.safetensors '{}' 0 9223372036854775000
safetensors ckpt/not_json.safetensors '{"a": [' 0
safetensors ckpt/array.safetensors '[1, 2, 3]' 0
safetensors ckpt/bad_dtype.safetensors '{"w": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]}}' 8
safetensors ckpt/beyond_data.safetensors '{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}' 8
safetensors ckpt/overlap.safetensors '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}' 12
safetensors ckpt/reversed.safetensors '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}' 8
safetensors ckpt/shape_bytes.safetensors '{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}' 8
safetensors ckpt/negative_shape.safetensors '{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}' 8
safetensors ckpt/no_offsets.safetensors '{"w": {"dtype": "F32", "shape": [2]}}' 8
safetensors ckpt/metadata_number.safetensors '{"__metadata__": {"format": 3}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}' 8
printf '\x80\x02}q\x00.' >ckpt/pickle.safetensors
printf 'PK\x03\x04rest-of-a-zip' >ckpt/zip.safetensors
printf '\x80\x02}q\x00.' >ckpt/model.pt
for f in empty four_bytes len_beyond len_huge not_json array bad_dtype beyond_data overlap reversed shape_bytes \
  negative_shape no_offsets metadata_number pickle zip; do
  run_case "weights inspect: $f" 2 "" -- "$BIN" weights inspect "ckpt/$f.safetensors"
done
run_case "weights inspect: a .pt pickle" 2 "" -- "$BIN" weights inspect ckpt/model.pt
run_case "weights inspect: directory" 2 "" -- "$BIN" weights inspect adir
run_case "embed: overlapping checkpoint as weights" 2 "emb_*.safetensors" -- "$BIN" embed --backbone dinov2-vitb14 --weights ckpt/overlap.safetensors --tensor "$SHARED/fixtures/parity/inputs.safetensors:pixel_values_224_imagenet" --out emb_o.safetensors
run_case "embed: another family's checkpoint" 2 "emb_*.safetensors" -- "$BIN" embed --backbone dinov2-vitb14 --weights "$SHARED/fixtures/parity/openclip_gelu_A.safetensors" --tensor "$SHARED/fixtures/parity/inputs.safetensors:pixel_values_224_imagenet" --out emb_f.safetensors
safetensors ckpt/empty_input.safetensors '{"x": {"dtype": "F32", "shape": [0, 3, 224, 224], "data_offsets": [0, 0]}}' 0
run_case "embed: an empty input batch" 2 "emb_*.safetensors" -- "$BIN" embed --backbone dinov2-tiny --tensor ckpt/empty_input.safetensors:x --out emb_e.safetensors
run_case "embed: pretrained preset without weights" 2 "emb_*.safetensors" -- "$BIN" embed --backbone rad-dino --tensor "$SHARED/fixtures/parity/inputs.safetensors:pixel_values_224_imagenet" --out emb_r.safetensors

# ---- 5. Training configs (nothing of a refused run stays behind) ----------------------------
cfg() { # cfg NAME JSON-EDIT (a jq-free edit: the whole JSON given)
  printf '%s' "$2" >"cfg_$1.json"
}
D="\"data\": {\"manifest\": \"$WORK/cohort/manifest.csv\"}"
B='"backbone": {"preset": "dinov2-tiny", "seed": 5}'
cfg not_json '{"data": '
cfg unknown_key "{$D, $B, \"strategy\": {\"name\": \"linear_probe\"}, \"trian\": {}}"
cfg unknown_nested "{$D, $B, \"strategy\": {\"name\": \"linear_probe\"}, \"train\": {\"epocs\": 2}}"
cfg bad_preset "{$D, \"backbone\": {\"preset\": \"dinov5-huge\"}, \"strategy\": {\"name\": \"linear_probe\"}}"
cfg missing_weights "{$D, \"backbone\": {\"preset\": \"dinov2-tiny\", \"weights\": \"$WORK/nope.safetensors\"}, \"strategy\": {\"name\": \"linear_probe\"}}"
cfg random_real "{$D, \"backbone\": {\"preset\": \"rad-dino\"}, \"strategy\": {\"name\": \"linear_probe\"}}"
cfg bad_strategy "{$D, $B, \"strategy\": {\"name\": \"magic\"}}"
cfg missing_manifest "{\"data\": {\"manifest\": \"$WORK/none.csv\"}, $B, \"strategy\": {\"name\": \"linear_probe\"}}"
for kv in '"lr_head": -0.001' '"lr_body": -1' '"weight_decay": -0.1' '"epochs": 0' '"epochs": 1.5' '"epochs": "2"' \
  '"patience": 0' '"batch_size": 0' '"warmup_epochs": -1' '"grad_accum": 0' '"label_smoothing": 1.5'; do
  key=$(printf '%s' "$kv" | cut -d'"' -f2)
  val=$(printf '%s' "$kv" | cut -d: -f2 | tr -d ' "' | tr '.' 'p' | tr '-' 'm')
  cfg "train_${key}_$val" "{$D, $B, \"strategy\": {\"name\": \"linear_probe\"}, \"train\": {$kv}}"
done
for kv in '"rank": 0' '"rank": 100000' '"dropout": 2.0' '"alpha": 0' '"targets": []' '"targets": ["nonexistent"]'; do
  key=$(printf '%s' "$kv" | cut -d'"' -f2)
  val=$(printf '%s' "$kv" | cut -d: -f2 | tr -d ' "[]' | tr '.' 'p')
  cfg "lora_${key}_${val:-empty}" "{$D, $B, \"strategy\": {\"name\": \"lora\", $kv}}"
done
cfg data_prefetch_m2 "{\"data\": {\"manifest\": \"$WORK/cohort/manifest.csv\", \"prefetch\": -2}, $B, \"strategy\": {\"name\": \"linear_probe\"}}"
cfg partial_99 "{$D, $B, \"strategy\": {\"name\": \"partial\", \"blocks\": 99}}"
for f in cfg_*.json; do
  name=${f#cfg_}
  name=${name%.json}
  run_case "train: $name" 2 "out_$name/config.json:out_$name/*.tmp.*" -- "$BIN" train --config "$f" --out "out_$name"
done
run_case "train: --set into a value (train.epochs.x)" 2 "out_set1/config.json" -- "$BIN" train --config base.json --out out_set1 --set train.epochs.x=1
run_case "train: --set without =" 2 "out_set2/config.json" -- "$BIN" train --config base.json --out out_set2 --set nonsense
run_case "train: --set a number to text" 2 "out_set3/config.json" -- "$BIN" train --config base.json --out out_set3 --set train.lr_head=abc
run_case "train: --set an unknown key" 2 "out_set4/config.json" -- "$BIN" train --config base.json --out out_set4 --set train.lr=0.1
run_case "train: --set a value outside the key's allowed ones" 2 "out_set5/config.json" -- "$BIN" train --config base.json --out out_set5 --set head.feature=avg
run_case "explain: --cam names no registered map" 2 "ex_cam/*" -- "$BIN" explain --run run --out ex_cam --cam lime
run_case "train: into a finished run without --resume" 2 "" -- "$BIN" train --config base.json --out run
m cohort/man_val_one_class.csv "$(head -1 cohort/manifest.csv)\n$(grep ',train$' cohort/manifest.csv)\n$(grep ',test$' cohort/manifest.csv)\n$(grep ',val$' cohort/manifest.csv | head -1)\n"
cfg val_one_class "{\"data\": {\"manifest\": \"$WORK/cohort/man_val_one_class.csv\"}, $B, \"strategy\": {\"name\": \"linear_probe\"}, \"train\": {\"epochs\": 1}}"
run_case "train: validation split with one class (warned, never called an AUC)" 0 "" -- "$BIN" train --config cfg_val_one_class.json --out out_val_one
expect "train: one-class validation selects on accuracy" "grep -q '\"selection_metric\": *\"val_accuracy\"' out_val_one/status.json"

# ---- 6. Predictions: eval and compare ------------------------------------------------------------
P=run/predictions_test.csv
PH=$(head -1 "$P")
edit_row() { # edit_row OUT SED_EXPR: the first data row edited
  { head -1 "$P"; sed -n '2p' "$P" | sed -E "$2"; tail -n +3 "$P"; } >"$1"
}
col_of() { printf '%s' "$PH" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1; }
PC=$(col_of p_normal)
edit_row pred_nan.csv "s/^(([^,]*,){$((PC - 1))})[^,]*/\1nan/"
edit_row pred_big.csv "s/^(([^,]*,){$((PC - 1))})[^,]*/\11.5/"
edit_row pred_neg.csv "s/^(([^,]*,){$((PC - 1))})[^,]*/\1-0.2/"
edit_row pred_sum.csv "s/^(([^,]*,){$((PC - 1))})[^,]*/\10.9999/"
edit_row pred_label.csv "s/^([^,]*,[^,]*,)[^,]*/\17/"
cut -d, -f1-$((PC + 1)) "$P" >pred_missing_col.csv
head -1 "$P" >pred_header_only.csv
: >pred_empty.csv
{ cat "$P"; sed -n '2p' "$P"; } >pred_dup.csv
for f in pred_nan pred_big pred_neg pred_sum pred_label pred_missing_col pred_header_only pred_empty pred_dup; do
  run_case "eval: $f" 2 "ev_$f.json" -- "$BIN" eval --predictions "$f.csv" --out "ev_$f.json" --bootstrap 50
done
run_case "eval: --val is the test file" 2 "ev_same.json" -- "$BIN" eval --predictions "$P" --val "$P" --out ev_same.json --bootstrap 50
{ head -1 "$P"; tail -n +3 "$P"; } >pred_fewer.csv
run_case "compare: different image sets" 2 "cmp.json" -- "$BIN" compare --predictions "$P" pred_fewer.csv --out cmp.json --bootstrap 50
run_case "compare: --val are the test files themselves" 2 "cmp_same.json" -- "$BIN" compare --predictions "$P" "$P" --names a,b --val "$P" "$P" --out cmp_same.json --bootstrap 50
run_case "compare: one file" 2 "cmp1.json" -- "$BIN" compare --predictions "$P" --out cmp1.json --bootstrap 50
# A sweep variant's other seed scored on other images: its seed mean would mix test sets.
mkdir -p swx/a swx/b swx/seeds/a/seed-2
cp "$P" swx/a/predictions_test.csv && cp "$P" swx/b/predictions_test.csv && cp pred_fewer.csv swx/seeds/a/seed-2/predictions_test.csv
echo '{}' >swx/seeds/a/seed-2/metrics_test.json  # a finished seed run
run_case "compare: --sweep with a seed on other images" 2 "swx/compare.json" -- "$BIN" compare --sweep swx --bootstrap 50
run_case "eval: --by a column the file lacks" 2 "ev_by.json" -- "$BIN" eval --predictions "$P" --by site --out ev_by.json --bootstrap 50
run_case "compare: names count differs" 2 "cmp2.json" -- "$BIN" compare --predictions "$P" "$P" --names a --out cmp2.json --bootstrap 50

# ---- 7. Sweeps ------------------------------------------------------------------------------------
sweep() { printf '%s' "$2" >"sweep_$1.json"; }
S="\"base\": {\"data\": {\"manifest\": \"$WORK/cohort/manifest.csv\"}, \"train\": {\"epochs\": 1}}"
sweep not_json '{"base": '
sweep escape "{$S, \"backbones\": {\"../../escape\": {\"preset\": \"dinov2-tiny\"}}, \"strategies\": {\"lp\": {\"name\": \"linear_probe\"}}}"
sweep slash "{$S, \"backbones\": {\"a/b\": {\"preset\": \"dinov2-tiny\"}}, \"strategies\": {\"lp\": {\"name\": \"linear_probe\"}}}"
sweep bad_preset "{$S, \"backbones\": {\"x\": {\"preset\": \"nope\"}}, \"strategies\": {\"lp\": {\"name\": \"linear_probe\"}}}"
sweep bad_target "{$S, \"backbones\": {\"x\": {\"preset\": \"dinov2-tiny\"}}, \"strategies\": {\"lora\": {\"name\": \"lora\", \"targets\": [\"zzz\"]}}}"
sweep no_manifest "{\"base\": {\"data\": {\"manifest\": \"$WORK/none.csv\"}}, \"backbones\": {\"x\": {\"preset\": \"dinov2-tiny\"}}, \"strategies\": {\"lp\": {\"name\": \"linear_probe\"}}}"
sweep collide "{$S, \"backbones\": {\"d-x\": {\"preset\": \"dinov2-tiny\"}, \"d\": {\"preset\": \"dinov2-tiny\"}}, \"strategies\": {\"lp\": {\"name\": \"linear_probe\"}, \"x-lp\": {\"name\": \"linear_probe\"}}}"
for f in not_json escape slash bad_preset bad_target no_manifest collide; do
  run_case "sweep --check: $f" 2 "sw_$f/*:escape" -- "$BIN" sweep --config "sweep_$f.json" --out "sw_$f" --check
  run_case "sweep: $f (checked before anything starts)" 2 "sw2_$f/*/config.json:escape" -- "$BIN" sweep --config "sweep_$f.json" --out "sw2_$f"
done

# ---- 7b. reproduce: refused before anything starts (nothing in its --out but its record) ----------
run_case "reproduce: no --manifest for a new study" 2 "rp1" -- "$BIN" reproduce --out rp1
run_case "reproduce: no such manifest" 2 "rp2" -- "$BIN" reproduce --manifest none.csv --out rp2
run_case "reproduce: the paper's study without --weights-dir" 2 "rp3" -- "$BIN" reproduce --manifest cohort/manifest.csv --out rp3
mkdir -p empty_weights
run_case "reproduce: every checkpoint missing" 2 "rp4" -- "$BIN" reproduce --manifest cohort/manifest.csv --weights-dir empty_weights --out rp4
run_case "reproduce: --weights-dir not a folder" 2 "rp5" -- "$BIN" reproduce --manifest cohort/manifest.csv --weights-dir base.json --out rp5
run_case "reproduce: a study that is not JSON" 2 "rp6" -- "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_not_json.json --out rp6
run_case "reproduce: a study with an unknown preset" 2 "rp7" -- "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_bad_preset.json --out rp7
sed '2s#,images/[^,]*,#,images/gone.png,#' cohort/manifest.csv >cohort/missing_image.csv
sweep good "{$S, \"backbones\": {\"x\": {\"preset\": \"dinov2-tiny\"}}, \"strategies\": {\"lp\": {\"name\": \"linear_probe\"}}}"
run_case "reproduce: a cohort with a missing image stops at the data check" 2 "rp8/study.json:rp8/caches" -- \
  "$BIN" reproduce --manifest cohort/missing_image.csv --study sweep_good.json --out rp8
# A CT and a truncated PNG in the cohort: left out by the prepare stage, listed, the study runs.
head -c 3000 "$GOOD_IMAGE" >cohort/truncated.png
awk -F, -v ct="$CXR/dicom/pydicom/CT_small.dcm" 'BEGIN {OFS=","} NR == 2 {$3 = ct} NR == 3 {$3 = "truncated.png"} {print}' \
  cohort/manifest.csv >cohort/with_ct.csv
run_case "reproduce: a CT and an undecodable image are left out" 0 "" -- \
  "$BIN" reproduce --manifest cohort/with_ct.csv --study sweep_good.json --out rp_ct --bootstrap 20
expect "reproduce: both are listed in data/excluded.csv" \
  "grep -q 'not a frontal chest radiograph' rp_ct/data/excluded.csv && grep -q 'undecodable' rp_ct/data/excluded.csv"
run_case "reproduce: --split-ratios that do not sum to 1" 2 "rp10" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_good.json --out rp10 --split-ratios 0.5,0.1,0.1
run_case "sweep: --gpus with a value that is no GPU" 2 "sw_gpus" -- \
  "$BIN" sweep --config sweep_good.json --out sw_gpus --gpus '0,x1'
run_case "reproduce: --gpus with a value that is no GPU" 2 "rp12" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_good.json --out rp12 --gpus '0;1'
run_case "reproduce: --bootstrap 2000000000" 2 "rp13" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_good.json --out rp13 --bootstrap 2000000000
# The study's saliency maps: a map osteofm does not have is refused before anything trains.
sed 's/^{/{"explain": {"maps": ["gradcam", "lime"]},/' sweep_good.json >sweep_bad_maps.json
run_case "reproduce: explain.maps names an unknown map" 2 "rp14" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_bad_maps.json --out rp14
# A newline in a path would end a line of the batch scripts: refused before anything.
run_case "reproduce: a newline in --out (Slurm script injection)" 2 "rp_nl*:injected" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_good.json --out $'rp_nl\ntouch injected' --executor slurm
run_case "sweep: a tab in --config" 2 "" -- "$BIN" sweep --config $'sweep_good\t.json' --out sw_tab --executor slurm
run_case "reproduce: --split-ratios without a validation share" 2 "rp11" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --study sweep_good.json --out rp11 --split-ratios 1,0,0
run_case "reproduce: --sbatch-args with a command substitution" 2 "rp9" -- \
  "$BIN" reproduce --manifest cohort/manifest.csv --out rp9 --executor slurm --sbatch-args '$(touch pwned)'

# ---- 8. Explain and gradcam ------------------------------------------------------------------------
run_case "explain: no such run" 2 "ex1/*" -- "$BIN" explain --run nowhere --out ex1
run_case "explain: run without checkpoint" 2 "ex2/*" -- "$BIN" explain --run adir --out ex2
run_case "explain: --fills bogus" 2 "ex3/*" -- "$BIN" explain --run run --out ex3 --fills bogus
run_case "explain: --threshold 0" 2 "ex4/*" -- "$BIN" explain --run run --out ex4 --threshold 0
run_case "explain: --split holdout" 2 "ex5/*" -- "$BIN" explain --run run --out ex5 --split holdout
run_case "explain: --target bogus" 2 "ex6/*" -- "$BIN" explain --run run --out ex6 --target bogus
run_case "explain: --batch 0" 2 "ex7/*" -- "$BIN" explain --run run --out ex7 --batch 0
run_case "explain: --cam bogus" 2 "ex8/*" -- "$BIN" explain --run run --out ex8 --cam bogus
safetensors ckpt/head96.safetensors '{"head.weight": {"dtype": "F32", "shape": [3, 96], "data_offsets": [0, 1152]}, "head.bias": {"dtype": "F32", "shape": [3], "data_offsets": [1152, 1164]}}' 1164
run_case "gradcam: --class 7" 2 "gc.safetensors" -- "$BIN" gradcam --backbone dinov2-tiny --weights random --head ckpt/head96.safetensors --tensor "$SHARED/fixtures/parity/inputs.safetensors:pixel_values_224_imagenet" --class 7 --out gc.safetensors
run_case "gradcam: a head of the wrong width" 2 "gc.safetensors" -- "$BIN" gradcam --backbone dinov2-tiny --weights random --head ckpt/overlap.safetensors --tensor "$SHARED/fixtures/parity/inputs.safetensors:pixel_values_224_imagenet" --out gc.safetensors
run_case "table: empty folder" 2 "adir/table.md" -- "$BIN" table adir

# ---- 9. Faults: kill and rerun --------------------------------------------------------------------
"$BIN" data cache cohort/manifest.csv --size 64 --out cache_ref >/dev/null 2>&1
"$BIN" data cache cohort/manifest.csv --size 64 --out cache_kill >/dev/null 2>&1 &
pid=$!
sleep 1
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
run_case "data cache: rerun after SIGKILL" 0 "cache_kill/*.tmp.*" -- "$BIN" data cache cohort/manifest.csv --size 64 --out cache_kill
expect "data cache: the killed-and-rerun cache equals an uninterrupted one" \
  "cmp -s <(cd cache_ref && cat *.safetensors | md5sum) <(cd cache_kill && cat *.safetensors | md5sum)"
# A cache whose index lost a row, or one never finished (no cache.json): refused by name.
cp -r cache_ref cache_cut && sed -i '3d' cache_cut/index.csv
run_case "predict: a cache whose index.csv lost a row" 2 "pred_cut.csv" -- "$BIN" predict --run run --data cache_cut --out pred_cut.csv
expect "predict: the lost row is named as such" "grep -q 'rows, but cache.json lists' .case.err"
cp -r cache_ref cache_unfinished && rm cache_unfinished/cache.json
run_case "predict: a cache that was never finished" 2 "pred_unf.csv" -- "$BIN" predict --run run --data cache_unfinished --out pred_unf.csv
expect "predict: the unfinished cache is called unfinished" "grep -q 'tensor cache that was not finished' .case.err"
# Temporaries of a writer that died (its pid is gone) are removed by the next run there.
dead=$(sh -c 'echo $$')
mkdir -p cache_tmp extmp/overlays
: >"cache_tmp/index.csv.tmp.$dead.1"
: >"extmp/overlays/x.png.tmp.$dead.1"
: >"extmp/explain.json.tmp.$dead.2"
run_case "data cache: a dead writer's temporary is removed" 0 "cache_tmp/*.tmp.*" -- "$BIN" data cache cohort/manifest.csv --size 64 --out cache_tmp
run_case "explain: a dead writer's temporaries are removed" 0 "extmp/*.tmp.*:extmp/overlays/*.tmp.*" -- "$BIN" explain --run run \
  --out extmp --overlays 1 --bootstrap 20 --chance-draws 0 --area-draws 0 --deletion-steps 0
# Image ids are data: an id made of "../" must not place explain's overlays outside --out.
awk -F, 'BEGIN {OFS=","} NR > 1 && $NF == "test" {$1 = "../../../../esc_" $1} {print}' cohort/manifest.csv >cohort/man_esc.csv
run_case "explain: image ids with ../ keep the overlays inside --out" 0 "esc_*:exesc/esc_*" -- "$BIN" explain --run run \
  --data cohort/man_esc.csv --out exesc --overlays 1 --bootstrap 20 --chance-draws 0 --area-draws 0 --deletion-steps 0
expect "explain: the ../ ids' overlays are in exesc/overlays" "compgen -G 'exesc/overlays/*esc_*' >/dev/null"
# Outputs are replaced only where a regular file (or nothing) has the name: never a FIFO,
# a device or a symbolic link (as root, eval --out /dev/null replaced the device).
mkfifo out_fifo.json
echo keep >link_target.json
ln -s link_target.json out_link.json
run_case "eval: --out onto a FIFO" 2 "" -- "$BIN" eval --predictions run/predictions_test.csv --bootstrap 10 --no-plots --out out_fifo.json
expect "eval: the FIFO is still a FIFO" "test -p out_fifo.json"
run_case "eval: --out onto a symbolic link" 2 "" -- "$BIN" eval --predictions run/predictions_test.csv --bootstrap 10 --no-plots --out out_link.json
expect "eval: the link and its target are untouched" "test -L out_link.json && test \"\$(cat link_target.json)\" = keep"
# explain removes only the overlays it wrote itself, and never through a link.
mkdir -p precious exo/overlays && cp cohort/images/PH00001_1.png precious/keep.png && cp cohort/images/PH00001_1.png exo/overlays/mine.png
ln -s ../precious exlink_overlays && mkdir -p exlink && mv exlink_overlays exlink/overlays
run_case "explain: OUT/overlays a link to another folder" 0 "" -- "$BIN" explain --run run --out exlink --overlays 1 --bootstrap 20 --chance-draws 0 --area-draws 0 --deletion-steps 0
expect "explain: nothing removed or written through the link" "test -f precious/keep.png && test \$(ls precious | wc -l) = 1"
"$BIN" explain --run run --out exo --overlays 1 --bootstrap 20 --chance-draws 0 --area-draws 0 --deletion-steps 0 >/dev/null 2>&1
run_case "explain: a rerun into a folder with a PNG of someone else's" 0 "" -- "$BIN" explain --run run --out exo --overlays 1 --bootstrap 20 --chance-draws 0 --area-draws 0 --deletion-steps 0
expect "explain: the foreign PNG stays, this run's overlays are there" "test -f exo/overlays/mine.png && test \$(ls exo/overlays | wc -l) -gt 1"
m man_badid.csv "image_id,patient_id,path,t_score\n../../evil,p1,$WORK/cohort/images/PH00001_1.png,-1\n"
run_case "data check: an image_id that is a path (warned)" 0 "" -- "$BIN" data check man_badid.csv
expect "data check: the warning names the id" "\"$BIN\" data check man_badid.csv 2>&1 | grep -q 'not a plain file name'"
# A mask of another size than its image (resized to the model's size it would still "fit").
awk -F, -v m="$CXR/v7labs-lung-masks/semantic-masks/1676283.png" 'BEGIN {OFS=","} NR > 1 && $NF == "test" {$4 = m} {print}' \
  cohort/manifest.csv >cohort/man_wrongmask.csv
run_case "explain --data: masks of another size than their images" 2 "exwm/explain.json" -- "$BIN" explain --run run \
  --data cohort/man_wrongmask.csv --out exwm --overlays 1 --bootstrap 20 --chance-draws 0 --area-draws 0 --deletion-steps 0
run_case "synth: --size 100000" 2 "synth_huge/*" -- "$BIN" synth --out synth_huge --patients 2 --size 100000
# data segment killed half-way over the 34 public radiographs: the rerun keeps what was
# finished, redoes the rest, and ends with the masks of an uninterrupted run.
{
  echo "image_id,patient_id,path,t_score"
  i=0
  for f in "$CXR"/covid-chestxray-dataset/images/* "$CXR"/nih-chestxray14/*.png "$CXR"/hannover-covid19-repository/png/*; do
    echo "c$i,p$i,$f,-1"
    i=$((i + 1))
  done
} >man_seg_cxr.csv
"$BIN" data segment man_seg_cxr.csv --model "$SEGFX/segmenter.pt" --out seg_ref --no-pictures >/dev/null 2>&1
"$BIN" data segment man_seg_cxr.csv --model "$SEGFX/segmenter.pt" --out seg_kill --no-pictures >/dev/null 2>&1 &
pid=$!
sleep 1.5
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
run_case "data segment: rerun after SIGKILL" 0 "seg_kill/*.tmp.*:seg_kill/masks/*.tmp.*:seg_kill/qc/*.tmp.*" -- "$BIN" data segment man_seg_cxr.csv --model "$SEGFX/segmenter.pt" --out seg_kill --no-pictures
expect "data segment: the killed-and-rerun masks equal an uninterrupted run's" \
  "cmp -s <(cd seg_ref/masks && cat *.png | md5sum) <(cd seg_kill/masks && cat *.png | md5sum) && test \$(ls seg_kill/masks | wc -l) = 34"
# From the PACS and DXA exports: data index, data link, data describe, report.
mkdir -p pacs/sub && cp "$CXR/dicom/nema-wg04/RG1_J2KI.dcm" pacs/sub/IM1 && echo "not an image" >pacs/README
run_case "data index: a folder with a non-DICOM file" 0 "pacs_index.csv.partial" -- "$BIN" data index pacs --out pacs_index.csv
run_case "data index: a file instead of a folder" 2 "pacs_bad.csv" -- "$BIN" data index pacs/README --out pacs_bad.csv
printf 'patient_id,dxa_date,t_lumbar_spine,t_femoral_neck,t_total_hip\n9RG1,2004-09-01,-2.7,,\n' >dxa_ok.csv
printf 'patient_id,dxa_date,t_lumbar_spine\n9RG1,01/09/2004,-2.7\n' >dxa_date.csv
printf 'patient_id,dxa_date,t_lumbar_spine\n9RG1,2004-09-01,low\n' >dxa_tscore.csv
run_case "data link: a DXA date that does not parse" 2 "link_a.csv:link_a.flow.json:link_a.excluded.csv" -- "$BIN" data link --images pacs_index.csv --dxa dxa_date.csv --window-days 90 --out link_a.csv
run_case "data link: a T-score that is no number" 2 "link_b.csv:link_b.flow.json" -- "$BIN" data link --images pacs_index.csv --dxa dxa_tscore.csv --window-days 90 --out link_b.csv
run_case "data link: --window-days 0" 2 "link_c.csv" -- "$BIN" data link --images pacs_index.csv --dxa dxa_ok.csv --window-days 0 --out link_c.csv
run_case "data link: --reference spine" 2 "link_d.csv" -- "$BIN" data link --images pacs_index.csv --dxa dxa_ok.csv --window-days 90 --reference spine --out link_d.csv
run_case "data link: an index without the required columns" 2 "link_e.csv" -- "$BIN" data link --images dxa_ok.csv --dxa dxa_ok.csv --window-days 90 --out link_e.csv
run_case "data link: the index of a PACS folder" 0 "link_ok.csv.tmp.*" -- "$BIN" data link --images pacs_index.csv --dxa dxa_ok.csv --window-days 90 --out link_ok.csv
expect "data link: the one radiograph is linked, the README listed as unreadable" \
  "grep -q '\"n_out\": 1' link_ok.flow.json && grep -q 'README,unreadable' link_ok.excluded.csv"
run_case "data describe: --by a column that does not exist" 2 "t1_bad.md:t1_bad.json" -- "$BIN" data describe link_ok.csv --by hospital --out t1_bad
run_case "report: a folder that is no study" 2 "pacs/report.html" -- "$BIN" report pacs

cat >long.json <<EOF
{"data": {"manifest": "$WORK/cohort/manifest.csv"}, "backbone": {"preset": "dinov2-tiny", "seed": 5},
 "strategy": {"name": "linear_probe"}, "train": {"epochs": 400, "batch_size": 8, "seed": 2, "patience": 400}}
EOF
# The run lock, against a trainer that cannot finish meanwhile (100,000 cached-feature
# epochs: minutes), killed afterwards. Against the 400-epoch run below, the first trainer
# sometimes finished before the second reached the lock (CI saw exit 0 once).
sed 's/"epochs": 400/"epochs": 100000/; s/"patience": 400/"patience": 100000/' long.json >endless.json
"$BIN" train --config endless.json --out run_lock >/dev/null 2>&1 &
lock_pid=$!
for _ in $(seq 1 100); do [[ -s run_lock/log.jsonl ]] && break; sleep 0.2; done
expect "train: the first trainer is still running" "kill -0 $lock_pid"
run_case "train: a second trainer on a locked run folder" 2 "" -- "$BIN" train --config endless.json --out run_lock --resume
kill -KILL "$lock_pid" 2>/dev/null
wait "$lock_pid" 2>/dev/null
"$BIN" train --config long.json --out run_kill >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do [[ -s run_kill/log.jsonl ]] && break; sleep 0.2; done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
run_case "train: --resume after SIGKILL" 0 "run_kill/*.tmp.*" -- "$BIN" train --config long.json --out run_kill --resume
expect "train: log.jsonl epochs strictly increase after the resume" \
  "grep -o '\"epoch\":[0-9]*' run_kill/log.jsonl | cut -d: -f2 | awk 'NR>1 && \$1<=prev {bad=1} {prev=\$1} END {exit bad}'"

echo
echo "campaign: $((total - failed)) of $total cases held"
if ((failed)); then
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
