#include "explain/region_scorer.hpp"

#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "core/numbers.hpp"
#include "explain/reference_maps.hpp"

namespace osteofm {

RegionScore score_region(const torch::Tensor& cam, const torch::Tensor& sorted_desc, const torch::Tensor& mask,
                         uint8_t bits, double fixed_threshold) {
  RegionScore s;
  const auto m = mask.bitwise_and(bits).ne(0);
  s.area = m.sum().item<int64_t>();
  if (s.area == 0) {
    s.iou_topk = s.iou_fixed = s.cam_share = kNaN;
    return s;
  }
  auto iou = [&](const torch::Tensor& sel) {
    const double inter = sel.logical_and(m).sum().item<double>(), uni = sel.logical_or(m).sum().item<double>();
    return uni > 0 ? inter / uni : kNaN;
  };
  // Top-k: as many CAM pixels as the region has (ties at τ all count). A pixel that
  // Grad-CAM's ReLU set to zero highlights nothing: when fewer than k pixels are positive,
  // τ would be 0 and "CAM ≥ τ" the whole image, scoring any focused map as the region's
  // area share. Only positive pixels are ever selected.
  s.iou_topk = iou(cam.ge(sorted_desc[s.area - 1].item<double>()).logical_and(cam.gt(0)));
  s.iou_fixed = iou(cam.ge(fixed_threshold));
  const double total = cam.sum().item<double>();
  s.cam_share = total > 0 ? (cam * m).sum().item<double>() / total : kNaN;
  return s;
}

std::vector<RegionScore> score_regions(const torch::Tensor& cam, const torch::Tensor& mask,
                                       const std::vector<ScoredRegion>& regions, double fixed_threshold) {
  const auto sorted = std::get<0>(cam.flatten().sort(0, /*descending=*/true));
  std::vector<RegionScore> out;
  for (const auto& r : regions) out.push_back(score_region(cam, sorted, mask, r.bits, fixed_threshold));
  return out;
}

ReferenceLevels reference_levels(const torch::Tensor& mask, const std::vector<ScoredRegion>& regions,
                                 const std::vector<RegionScore>& scores, int64_t grid_h, int64_t grid_w, int64_t size,
                                 int draws, uint64_t seed, double fixed_threshold) {
  const std::array<double, 3> absent{kNaN, kNaN, kNaN};
  ReferenceLevels levels{std::vector<std::array<double, 3>>(regions.size(), absent),
                         std::vector<std::array<double, 3>>(regions.size(), absent)};
  // Chance: the same random grid maps for every region; ceiling: each region's own
  // grid-pooled map.
  const auto random = chance_maps(grid_h, grid_w, size, draws, seed);
  std::vector<torch::Tensor> random_sorted;
  for (int m = 0; m < draws; ++m) random_sorted.push_back(std::get<0>(random[m].flatten().sort(0, /*descending=*/true)));
  for (size_t r = 0; r < regions.size(); ++r) {
    if (std::isnan(scores[r].iou_topk)) continue;  // the region is absent from this image
    double sum[3] = {0, 0, 0};
    for (int m = 0; m < draws; ++m) {
      const RegionScore rs = score_region(random[m], random_sorted[m], mask, regions[r].bits, fixed_threshold);
      sum[0] += rs.iou_topk;
      sum[1] += rs.iou_fixed;
      sum[2] += rs.cam_share;
    }
    const auto top = ceiling_map(mask.bitwise_and(regions[r].bits).ne(0), grid_h, grid_w);
    const RegionScore best =
        score_region(top, std::get<0>(top.flatten().sort(0, true)), mask, regions[r].bits, fixed_threshold);
    levels.chance[r] = {sum[0] / draws, sum[1] / draws, sum[2] / draws};
    levels.ceiling[r] = {best.iou_topk, best.iou_fixed, best.cam_share};
  }
  return levels;
}

}  // namespace osteofm
