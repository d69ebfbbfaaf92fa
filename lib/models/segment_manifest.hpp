// `osteofm data segment`: a segmenter over every row of a manifest, resumable, in batches,
// with the QC of data/mask_qc.hpp. Writes into the output folder (design.md "Segmenters"):
//   masks/<image>.png   bit-coded region masks     regions.json   the bits, bones and controls
//   manifest.csv        the input plus `mask`      qc.csv, qc.json, contact_sheet.png, flagged/
//   segment.json        what made the masks (model hash, spec)   qc/<image>.json  per-row records
#pragma once
#include <string>
#include <vector>

namespace osteofm {

struct SegmentOptions {
  std::string manifest, model, spec, out;  // spec "": the model's path with .json
  std::string device = "auto";             // auto | cpu | cuda[:N]
  // Images per forward pass; 0: 1 on the CPU, 8 on CUDA (bench/bench_segment.cpp: with a
  // PSPNet-sized module at 512 px, batch 4 ran 1.6x slower than batch 1 on 2 CPU cores).
  int batch = 0;
  int threads = 0;          // decoding and QC (0: osteofm's default)
  bool save_logits = false; // logits/<image>.safetensors: `input` [C,h,w] and `logits` [K,h',w']
  bool pictures = true;     // contact sheet and flagged overlays
};

struct SegmentSummary {
  std::string out, manifest_out;
  size_t images = 0, segmented = 0, kept = 0, failed = 0, flagged = 0;
  double seconds = 0, decode_seconds = 0, model_seconds = 0, post_seconds = 0, qc_seconds = 0;
  std::vector<std::string> failures;  // "<manifest>:<line>: row N: <reason>"
  std::vector<std::string> pictures;  // contact sheets, flagged overlays
};

// The spec and the module are checked (one dry run) before anything is written; a folder
// that holds masks of another segmenter or spec is an InputError. Rows whose mask and
// record exist and whose image is unchanged (path, size, modification time) are kept; rows
// that failed before are tried again. A row that cannot be decoded is listed, not fatal.
SegmentSummary segment_manifest(const SegmentOptions& options);

}  // namespace osteofm
