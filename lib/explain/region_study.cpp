#include "explain/region_study.hpp"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "core/csv.hpp"
#include "core/labels.hpp"
#include "core/numbers.hpp"
#include "explain/ci_json.hpp"

namespace osteofm {
using nlohmann::json;

RegionStudy::RegionStudy(const RegionTable& table, int64_t images, double fixed_threshold, int chance_draws, uint64_t seed)
    : fixed_threshold_(fixed_threshold), chance_draws_(chance_draws), seed_(seed) {
  const uint8_t bone_bits = table.bone_bits();
  bone_table_ = bone_bits != 0;
  if (bone_table_) regions_.push_back({"all_bones", bone_bits});
  for (const auto& r : table.regions) regions_.push_back({r.name, r.bits});
  iou_topk_.assign(regions_.size(), std::vector<double>(images, kNaN));
  iou_fixed_ = cam_share_ = iou_topk_;
  chance_.assign(3, iou_topk_);
  ceiling_ = chance_;
}

void RegionStudy::score(int64_t row, const torch::Tensor& cam, const torch::Tensor& mask, bool has_mask, int64_t grid_h,
                        int64_t grid_w) {
  grid_h_ = grid_h;
  grid_w_ = grid_w;
  const size_t R = regions_.size();
  const std::vector<RegionScore> scores = score_regions(cam, mask, regions_, fixed_threshold_);
  for (size_t r = 0; r < R; ++r) {
    iou_topk_[r][row] = scores[r].iou_topk;
    iou_fixed_[r][row] = scores[r].iou_fixed;
    cam_share_[r][row] = scores[r].cam_share;
  }
  if (chance_draws_ > 0 && has_mask) {
    // Seeded by the image's row, whatever the batch.
    const ReferenceLevels levels = reference_levels(mask, regions_, scores, grid_h, grid_w, cam.size(-1), chance_draws_,
                                                    seed_ * 7919ull + static_cast<uint64_t>(row), fixed_threshold_);
    for (size_t r = 0; r < R; ++r)
      for (int p = 0; p < 3; ++p) {
        chance_[p][r][row] = levels.chance[r][p];
        ceiling_[p][r][row] = levels.ceiling[r][p];
      }
  }
}

void RegionStudy::report(json& out, const std::vector<int>& labels, const std::vector<uint32_t>& clusters, size_t n_units,
                         const BootstrapOptions& bootstrap, const std::string& bone_reason) const {
  const int64_t N = static_cast<int64_t>(labels.size());
  const size_t R = regions_.size(), first_region = bone_table_ ? 1 : 0;
  auto mean_ci = [&](const std::vector<double>& v, int only_class) {
    return mean_ci_json(v, labels, only_class, clusters, n_units, bootstrap);
  };
  // normalised = (mean score - mean chance) / (mean ceiling - mean chance), per replicate,
  // over the images where the region is present.
  auto normalised_ci = [&](const std::vector<double>& v, const std::vector<double>& lo, const std::vector<double>& hi) {
    size_t n = 0;
    for (int64_t i = 0; i < N; ++i) n += !std::isnan(v[i]) && !std::isnan(lo[i]);
    const auto s = bootstrap_statistic(N, clusters, n_units, bootstrap, [&](const uint32_t* w) {
      double sv = 0, sl = 0, sh = 0, den = 0;
      for (int64_t i = 0; i < N; ++i) {
        if (std::isnan(v[i]) || std::isnan(lo[i])) continue;
        sv += w[i] * v[i];
        sl += w[i] * lo[i];
        sh += w[i] * hi[i];
        den += w[i];
      }
      return den > 0 && sh > sl ? (sv - sl) / (sh - sl) : kNaN;
    });
    return ci_json(s, n);
  };
  auto reference_block = [&](const std::vector<std::vector<double>>& values, int policy) {
    json block = {{"per_region", json::object()}, {"chance_draws", chance_draws_}};
    auto one = [&](size_t r) {
      return json{{"chance", mean_ci(chance_[policy][r], -1)},
                  {"ceiling", mean_ci(ceiling_[policy][r], -1)},
                  {"normalised", normalised_ci(values[r], chance_[policy][r], ceiling_[policy][r])}};
    };
    block["all"] = bone_table_ ? one(0) : json(nullptr);
    for (size_t r = first_region; r < R; ++r) block["per_region"][regions_[r].name] = one(r);
    return block;
  };
  auto score_block = [&](const std::vector<std::vector<double>>& values, int policy) {
    json block = {{"per_region", json::object()}, {"per_class", json::object()}};
    block["all"] = bone_table_ ? mean_ci(values[0], -1) : json(nullptr);
    if (chance_draws_ > 0) block["reference"] = reference_block(values, policy);
    if (!bone_reason.empty()) block["all_reason"] = bone_reason;
    for (size_t r = first_region; r < R; ++r) block["per_region"][regions_[r].name] = mean_ci(values[r], -1);
    for (int c = 0; c < kNumClasses; ++c) {
      json pc = {{"all", bone_table_ ? mean_ci(values[0], c) : json(nullptr)}};
      for (size_t r = first_region; r < R; ++r) pc[regions_[r].name] = mean_ci(values[r], c);
      block["per_class"][kClassNames[c]] = pc;
    }
    return block;
  };
  out["iou_bone"] = score_block(iou_topk_, 0);
  out["iou_bone"]["policy"] = "topk";
  out["iou_bone_fixed"] = score_block(iou_fixed_, 1);
  out["iou_bone_fixed"]["policy"] = "fixed";
  out["iou_bone_fixed"]["threshold"] = fixed_threshold_;
  out["cam_share"] = score_block(cam_share_, 2);
  out["cam_share"]["definition"] = "sum of CAM inside the region / sum of CAM";
  if (chance_draws_ > 0)
    out["reference_levels"] = {
        {"grid", {grid_h_, grid_w_}},
        {"chance", "mean score of " + std::to_string(chance_draws_) +
                       " seeded maps of uniform random values on the token grid, per image, upsampled as the CAM"},
        {"ceiling", "score of the region mask area-pooled to the token grid and upsampled as the CAM"},
        {"normalised", "(mean score - mean chance) / (mean ceiling - mean chance): 0 chance, 1 the grid's best"}};
}

std::vector<std::string> RegionStudy::region_names() const {
  std::vector<std::string> out;
  for (const auto& r : regions_) out.push_back(r.name);
  return out;
}

std::vector<std::string> RegionStudy::csv_columns() const {
  std::vector<std::string> out;
  for (const char* prefix : {"iou_topk_", "iou_fixed_", "cam_share_"})
    for (const auto& r : regions_) out.push_back(prefix + r.name);
  if (chance_draws_ > 0)
    for (const char* prefix : {"chance_iou_topk_", "ceiling_iou_topk_"})
      for (const auto& r : regions_) out.push_back(prefix + r.name);
  return out;
}

std::vector<std::string> RegionStudy::csv_values(int64_t row) const {
  auto num = [](double v) { return std::isnan(v) ? std::string() : format_double(v); };
  std::vector<std::string> out;
  for (const auto* t : {&iou_topk_, &iou_fixed_, &cam_share_})
    for (const auto& values : *t) out.push_back(num(values[row]));
  if (chance_draws_ > 0)
    for (const auto* t : {&chance_[0], &ceiling_[0]})
      for (const auto& values : *t) out.push_back(num(values[row]));
  return out;
}

void RegionStudy::run_batch(const StudyBatch& b) {
  for (int64_t i = 0; i < b.x01.size(0); ++i)
    score(b.first_row + i, b.cam[i], b.masks[i], b.has_mask[static_cast<size_t>(b.first_row + i)] != 0,
          b.cam_grid.size(1), b.cam_grid.size(2));
}

void RegionStudy::report(nlohmann::json& out, const StudyTotals& t) const {
  report(out, t.labels, t.clusters, t.n_units, t.bootstrap, t.bone_reason);
}

}  // namespace osteofm
