// The occlusion study behind Δbone (design.md "Explainability definitions"): the images
// whose mask has bone, with all bones filled and with all bones but one filled, under every
// fill, plus the area-matched controls; then Δbone and its controls as paired bootstrap
// differences of macro AUCs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/preprocessing.hpp"
#include "data/regions.hpp"
#include "eval/bootstrap.hpp"
#include "eval/metrics.hpp"
#include "explain/explain_study.hpp"
#include "models/classifier.hpp"

namespace osteofm {

// Occlusion fills for images [k,1,S,S]: "mean" (the split's mean pixel), "blur" (Gaussian,
// σ = S/32), "noise" (Gaussian with the split's mean and SD, per image a stream seeded by
// its row, whatever the batch).
class OcclusionFills {
 public:
  OcclusionFills(double mean, double sd, int64_t size, uint64_t seed, torch::Device device)
      : mean_(mean), sd_(sd), size_(size), seed_(seed), device_(device) {}
  // `rows`: the split rows of the images of `x`.
  torch::Tensor make(const std::string& name, const torch::Tensor& x, const std::vector<int64_t>& rows) const;
  double mean() const { return mean_; }
  double sd() const { return sd_; }
  double blur_sigma() const { return size_ / 32.0; }

 private:
  double mean_, sd_;
  int64_t size_;
  uint64_t seed_;
  torch::Device device_;
};

class OcclusionStudy : public ExplainStudy {
 public:
  // `images`: the split's size; `labels` its labels. area_draws 0: no area-matched control.
  OcclusionStudy(const RegionTable& table, std::vector<std::string> fills, int area_draws, int64_t block_px,
                 uint64_t seed, const std::vector<int>& labels);

  // Occludes the images `bone_rows` (indices into the batch `x01` [k,1,S,S] with masks
  // [k,S,S] uint8 on the CPU; the batch starts at split row `first_row`), one forward pass
  // per fill and variant and per control draw.
  void run_batch(Classifier& model, const Preprocessing& pre, const OcclusionFills& fills, const torch::Tensor& x01,
                 const torch::Tensor& masks, const std::vector<int64_t>& bone_rows, int64_t first_row);

  // explain.json's "delta_bone": on the images with bone (`bone_scored`), the unoccluded
  // `original` against every occlusion, resampled by `patient_id` when `cluster`.
  // `reason` (non-empty: no bone score) is reported instead; a missing class among the bone
  // images gives its own reason ("reason" in the result).
  nlohmann::json delta_bone(const ScoredSet& original, const std::vector<char>& bone_scored,
                            const std::vector<std::string>& patient_id, const std::string& reason,
                            const BootstrapOptions& bootstrap, bool cluster) const;
  // explain.json's "area_control" (null without draws).
  nlohmann::json area_control_report() const;
  // Per-image CSV: p(label) of each fill x variant, empty for images without bone.
  std::vector<std::string> csv_columns() const override;
  // p(label) of each fill x variant; empty for an image without bone.
  std::vector<std::string> csv_values(int64_t row) const override;

  const char* name() const override { return "occlusion"; }
  void run_batch(const StudyBatch& batch) override;
  // "delta_bone" and "area_control" (with draws); a reason for no Δbone other than the
  // split's missing bone is warned of once.
  void report(nlohmann::json& report, const StudyTotals& totals) const override;

  // No warning on stderr (a repeat of the study under other masks: explain.json has it all).
  void set_quiet(bool quiet) { quiet_ = quiet; }
  int area_draws() const { return static_cast<int>(draws_); }
  double area_ratio() const { return area_target_ > 0 ? area_covered_ / area_target_ : 0.0; }
  bool area_short() const { return draws_ > 0 && area_target_ > 0 && area_covered_ < 0.9 * area_target_; }

 private:
  struct Variant {
    std::string name;     // "all_bones" | "keep_<region>"
    uint8_t occlude = 0;  // bits filled ...
    uint8_t keep = 0;     // ... except pixels that also carry these
  };
  std::vector<Variant> variants_;
  std::vector<std::string> fills_;
  size_t draws_;
  int64_t block_px_;
  uint64_t seed_;
  uint8_t bone_bits_ = 0, control_bits_ = 0;
  std::vector<ScoredSet> occluded_;       // [fill][variant]
  std::vector<ScoredSet> area_occluded_;  // [fill][draw]
  double area_target_ = 0, area_covered_ = 0;  // pixels, summed over images and draws
  std::vector<char> bone_scored_;              // per split row: occluded (its mask has bone)
  bool quiet_ = false;
};

}  // namespace osteofm
