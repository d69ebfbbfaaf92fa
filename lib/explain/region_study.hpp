// The region study of `osteofm explain`: every image's map scored against every region of
// its mask (IoU under the top-k and fixed policies, CAM share) with the chance and ceiling
// levels of the same scores on the map's grid; then explain.json's "iou_bone",
// "iou_bone_fixed" and "cam_share" blocks (means with bootstrap CIs, per region and per true
// class, and the normalised scores), and the per-image CSV columns.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/regions.hpp"
#include "eval/bootstrap.hpp"
#include "explain/explain_study.hpp"
#include "explain/region_scorer.hpp"

namespace osteofm {

class RegionStudy : public ExplainStudy {
 public:
  // `images`: the split's size; chance_draws 0: no reference levels.
  RegionStudy(const RegionTable& table, int64_t images, double fixed_threshold, int chance_draws, uint64_t seed);

  // Scores split row `row`: its map `cam` [S,S] on a grid_h x grid_w token grid against
  // `mask` [S,S] (all-zero when the image has none); reference levels where it has one.
  void score(int64_t row, const torch::Tensor& cam, const torch::Tensor& mask, bool has_mask, int64_t grid_h,
             int64_t grid_w);
  // Top-k IoU with all bones of split row `row` (NaN when not scored).
  double iou_bone(int64_t row) const { return bone_table_ ? iou_topk_[0][row] : std::nan(""); }
  // The same normalised by this image's own reference levels: (IoU - chance) / (ceiling -
  // chance), 0 = a random map, 1 = the best map the token grid allows; NaN without them.
  double iou_bone_normalised(int64_t row) const {
    if (!bone_table_) return std::nan("");
    const double chance = chance_[0][0][row], ceiling = ceiling_[0][0][row];
    return ceiling > chance ? (iou_topk_[0][row] - chance) / (ceiling - chance) : std::nan("");
  }

  // The three score blocks into `report`, and "reference_levels"; `bone_reason` (non-empty:
  // why there is no bone score) is reported beside them. Resampled as `clusters` says
  // (empty: images), per true class by `labels`.
  void report(nlohmann::json& report, const std::vector<int>& labels, const std::vector<uint32_t>& clusters,
              size_t n_units, const BootstrapOptions& bootstrap, const std::string& bone_reason) const;

  // The regions scored ("all_bones" first when the table has a bone region) and the top-k
  // IoU of one of them on split row `row` (NaN when not scored).
  std::vector<std::string> region_names() const;
  double iou_topk(size_t region, int64_t row) const { return iou_topk_[region][static_cast<size_t>(row)]; }

  const char* name() const override { return "regions"; }
  // Scores every image of the batch (as score does).
  void run_batch(const StudyBatch& batch) override;
  // report() above, resampled as `totals` says, per true class.
  void report(nlohmann::json& report, const StudyTotals& totals) const override;
  std::vector<std::string> csv_columns() const override;
  std::vector<std::string> csv_values(int64_t row) const override;

 private:
  std::vector<ScoredRegion> regions_;  // regions_[0] is "all_bones" when the table has a bone region
  bool bone_table_;
  double fixed_threshold_;
  int chance_draws_;
  uint64_t seed_;
  int64_t grid_h_ = 0, grid_w_ = 0;  // the map's token grid (the last one scored)
  std::vector<std::vector<double>> iou_topk_, iou_fixed_, cam_share_;     // [region][image]
  std::vector<std::vector<std::vector<double>>> chance_, ceiling_;        // [policy topk, fixed, share][region][image]
};

}  // namespace osteofm
