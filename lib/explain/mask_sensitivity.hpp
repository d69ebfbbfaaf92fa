// Scores that survive imperfect masks (`explain --mask-sensitivity PX`): IoU_bone and Δbone
// again with every region of every mask eroded, and dilated, by PX pixels of the model's
// input (a square of side 2 PX + 1), so a reader sees how far a slightly worse, or more
// generous, segmenter moves each estimate. Same images, same maps, same resamples: only the
// masks differ. Δbone is recomputed with the first fill only, without the area control.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/regions.hpp"
#include "eval/bootstrap.hpp"
#include "explain/explain_study.hpp"
#include "explain/occlusion_study.hpp"
#include "explain/region_study.hpp"

namespace osteofm {

// Each region bit of `masks` [k,S,S] uint8 grown (dilate) or shrunk by `px` pixels (square
// structuring element; outside the image counts as outside every region).
torch::Tensor morph_masks(const torch::Tensor& masks, int px, bool dilate);

// The default PX: 1% of the model's input side, at least 1.
int default_mask_sensitivity(int64_t input_size);

class MaskSensitivity : public ExplainStudy {
 public:
  MaskSensitivity(const RegionTable& table, int px, int64_t images, double fixed_threshold, const std::string& fill,
                  int64_t block_px, uint64_t seed, const std::vector<int>& labels);

  // One batch: the maps `cam` [k,S,S] scored against the eroded and dilated masks, and the
  // bone images (`bone_rows`, as the original masks decide) occluded under both.
  void run_batch(Classifier& model, const Preprocessing& pre, const OcclusionFills& fills, const torch::Tensor& x01,
                 const torch::Tensor& masks, const torch::Tensor& cam, const std::vector<char>& has_mask,
                 const std::vector<int64_t>& bone_rows, int64_t first_row, int64_t grid_h, int64_t grid_w);

  // Adds explain.json's "mask_sensitivity" block and, beside every iou_bone and delta_bone
  // estimate (all bones and per region), "mask_range": [lowest, highest] of the estimate
  // under eroded, original and dilated masks.
  void report(nlohmann::json& report, const ScoredSet& original, const std::vector<char>& bone_scored,
              const std::vector<std::string>& patient_id, const std::vector<uint32_t>& clusters, size_t n_units,
              const BootstrapOptions& bootstrap, bool cluster, const std::string& bone_reason) const;

  std::vector<std::string> csv_columns() const override;  // iou_topk_<region>_eroded, ..._dilated
  std::vector<std::string> csv_values(int64_t row) const override;

  const char* name() const override { return "mask_sensitivity"; }
  void run_batch(const StudyBatch& batch) override;
  void report(nlohmann::json& report, const StudyTotals& totals) const override;

 private:
  struct Side {
    std::string name;  // "eroded" | "dilated"
    bool dilate;
    std::unique_ptr<RegionStudy> regions;
    std::unique_ptr<OcclusionStudy> occlusion;
  };
  int px_;
  std::vector<int> labels_;
  std::vector<Side> sides_;
};

}  // namespace osteofm
