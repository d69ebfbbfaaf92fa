#include "explain/mask_sensitivity.hpp"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/csv.hpp"
#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

torch::Tensor morph_masks(const torch::Tensor& masks, int px, bool dilate) {
  if (px <= 0) return masks;
  const int64_t side = 2 * px + 1;
  torch::Tensor out = torch::zeros_like(masks);
  for (int b = 0; b < 8; ++b) {
    const auto on = masks.bitwise_and(1 << b).ne(0);
    if (!on.any().item<bool>()) continue;
    const auto f = on.to(torch::kFloat32).unsqueeze(1);  // [k,1,S,S]
    torch::Tensor grown;
    if (dilate) {
      grown = torch::max_pool2d(torch::constant_pad_nd(f, {px, px, px, px}, 0.0), {side, side}, {1, 1});
    } else {
      // Erosion = the complement's dilation, complemented; beyond the border is outside.
      grown = 1 - torch::max_pool2d(torch::constant_pad_nd(1 - f, {px, px, px, px}, 1.0), {side, side}, {1, 1});
    }
    out = out.bitwise_or(grown.squeeze(1).gt(0.5).to(torch::kUInt8) * static_cast<uint8_t>(1 << b));
  }
  return out;
}

int default_mask_sensitivity(int64_t input_size) {
  return std::max(1, static_cast<int>(std::lround(0.01 * static_cast<double>(input_size))));
}

MaskSensitivity::MaskSensitivity(const RegionTable& table, int px, int64_t images, double fixed_threshold,
                                 const std::string& fill, int64_t block_px, uint64_t seed, const std::vector<int>& labels)
    : px_(px), labels_(labels) {
  for (const bool dilate : {false, true}) {
    Side s;
    s.name = dilate ? "dilated" : "eroded";
    s.dilate = dilate;
    s.regions = std::make_unique<RegionStudy>(table, images, fixed_threshold, 0, seed);
    s.occlusion = std::make_unique<OcclusionStudy>(table, std::vector<std::string>{fill}, 0, block_px, seed, labels);
    s.occlusion->set_quiet(true);
    sides_.push_back(std::move(s));
  }
}

void MaskSensitivity::run_batch(Classifier& model, const Preprocessing& pre, const OcclusionFills& fills,
                                const torch::Tensor& x01, const torch::Tensor& masks, const torch::Tensor& cam,
                                const std::vector<char>& has_mask, const std::vector<int64_t>& bone_rows,
                                int64_t first_row, int64_t grid_h, int64_t grid_w) {
  for (auto& s : sides_) {
    const torch::Tensor m = morph_masks(masks, px_, s.dilate);
    for (int64_t i = 0; i < m.size(0); ++i)
      s.regions->score(first_row + i, cam[i], m[i], has_mask[static_cast<size_t>(first_row + i)] != 0, grid_h, grid_w);
    s.occlusion->run_batch(model, pre, fills, x01, m, bone_rows, first_row);
  }
}

namespace {
// Sets "mask_range" on `target` (a ci_json object) from its estimate and the two others'.
void set_range(json& target, const json& a, const json& b) {
  if (!target.is_object() || !a.is_object() || !b.is_object()) return;
  const json* all[] = {&target, &a, &b};
  double lo = INFINITY, hi = -INFINITY;
  for (const json* j : all) {
    if (!j->contains("estimate") || !(*j)["estimate"].is_number()) return;
    lo = std::min(lo, (*j)["estimate"].get<double>());
    hi = std::max(hi, (*j)["estimate"].get<double>());
  }
  target["mask_range"] = {lo, hi};
}
}  // namespace

void MaskSensitivity::report(json& out, const ScoredSet& original, const std::vector<char>& bone_scored,
                             const std::vector<std::string>& patient_id, const std::vector<uint32_t>& clusters,
                             size_t n_units, const BootstrapOptions& bootstrap, bool cluster,
                             const std::string& bone_reason) const {
  json block = {{"px", px_},
                {"structuring_element", "square of side " + std::to_string(2 * px_ + 1) + " px"},
                {"definition", "IoU_bone (top-k) and Δbone (first fill, no area control) with every region of every mask "
                               "eroded, and dilated, by px pixels of the model's input; the same images, maps and "
                               "resamples. mask_range beside each estimate: [lowest, highest] of eroded, original, dilated"}};
  std::vector<json> iou(2), delta(2);
  for (size_t k = 0; k < sides_.size(); ++k) {
    json scratch;
    sides_[k].regions->report(scratch, labels_, clusters, n_units, bootstrap, bone_reason);
    iou[k] = {{"all", scratch["iou_bone"]["all"]}, {"per_region", scratch["iou_bone"]["per_region"]}};
    const json d = sides_[k].occlusion->delta_bone(original, bone_scored, patient_id, bone_reason, bootstrap, cluster);
    delta[k] = {{"fill", d.value("fill", "")},
                {"all", d.contains("all") ? d["all"] : json(nullptr)},
                {"per_region", d.contains("per_region") ? d["per_region"] : json::object()}};
    if (d.contains("reason")) delta[k]["reason"] = d["reason"];
    block[sides_[k].name] = {{"iou_bone", iou[k]}, {"delta_bone", delta[k]}};
  }
  if (out.contains("iou_bone")) {
    set_range(out["iou_bone"]["all"], iou[0]["all"], iou[1]["all"]);
    for (auto it = out["iou_bone"]["per_region"].begin(); it != out["iou_bone"]["per_region"].end(); ++it)
      if (iou[0]["per_region"].contains(it.key()) && iou[1]["per_region"].contains(it.key()))
        set_range(it.value(), iou[0]["per_region"][it.key()], iou[1]["per_region"][it.key()]);
  }
  if (out.contains("delta_bone") && out["delta_bone"].is_object()) {
    json& d = out["delta_bone"];
    auto mark = [&](json& target) {
      if (!target.is_object()) return;
      if (target.contains("all")) set_range(target["all"], delta[0]["all"], delta[1]["all"]);
      if (target.contains("per_region"))
        for (auto it = target["per_region"].begin(); it != target["per_region"].end(); ++it)
          if (delta[0]["per_region"].contains(it.key()) && delta[1]["per_region"].contains(it.key()))
            set_range(it.value(), delta[0]["per_region"][it.key()], delta[1]["per_region"][it.key()]);
    };
    mark(d);
    if (d.contains("fills") && d["fills"].contains(delta[0]["fill"].get<std::string>()))
      mark(d["fills"][delta[0]["fill"].get<std::string>()]);
  }
  out["mask_sensitivity"] = block;
}

std::vector<std::string> MaskSensitivity::csv_columns() const {
  std::vector<std::string> out;
  for (const auto& s : sides_)
    for (const auto& name : s.regions->region_names()) out.push_back("iou_topk_" + name + "_" + s.name);
  return out;
}

std::vector<std::string> MaskSensitivity::csv_values(int64_t row) const {
  std::vector<std::string> out;
  for (const auto& s : sides_) {
    const size_t R = s.regions->region_names().size();
    for (size_t r = 0; r < R; ++r) {
      const double v = s.regions->iou_topk(r, row);
      out.push_back(std::isnan(v) ? std::string() : format_double(v));
    }
  }
  return out;
}

void MaskSensitivity::run_batch(const StudyBatch& b) {
  run_batch(b.model, b.pre, b.fills, b.x01, b.masks, b.cam, b.has_mask, b.bone_rows, b.first_row, b.cam_grid.size(1),
            b.cam_grid.size(2));
}

void MaskSensitivity::report(json& out, const StudyTotals& t) const {
  report(out, t.original, t.bone_scored, t.patient_id, t.clusters, t.n_units, t.bootstrap, t.cluster, t.bone_reason);
}

}  // namespace osteofm
