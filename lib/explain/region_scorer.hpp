// The region scorer of explain: how a map [S,S] overlaps each region of a mask (IoU under
// the top-k and fixed-threshold policies, and the map's share inside the region), and the
// reference levels of the same scores on the same token grid: chance (seeded random maps)
// and ceiling (the region's own mask pooled to the grid).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace osteofm {

// IoU of one CAM [S,S] with one region ((mask & bits) != 0) under both policies, and the
// CAM's share inside the region; NaN when the region is empty. `sorted_desc` = the CAM's
// values sorted descending (computed once per image).
struct RegionScore {
  double iou_topk = 0, iou_fixed = 0, cam_share = 0;
  int64_t area = 0;
};
RegionScore score_region(const torch::Tensor& cam, const torch::Tensor& sorted_desc, const torch::Tensor& mask,
                         uint8_t bits, double fixed_threshold);

struct ScoredRegion {
  std::string name;
  uint8_t bits;
};

// score_region for every region, the CAM sorted once.
std::vector<RegionScore> score_regions(const torch::Tensor& cam, const torch::Tensor& mask,
                                       const std::vector<ScoredRegion>& regions, double fixed_threshold);

// Per region, {top-k IoU, fixed IoU, CAM share} of a map that carries no information (the
// mean over `draws` seeded uniform random maps on the grid_h x grid_w grid, the same maps
// for every region) and of the grid's best map (the region's mask area-pooled to the grid),
// both upsampled as the CAM to `size`; NaN where the region is absent (`scores` NaN).
struct ReferenceLevels {
  std::vector<std::array<double, 3>> chance, ceiling;
};
ReferenceLevels reference_levels(const torch::Tensor& mask, const std::vector<ScoredRegion>& regions,
                                 const std::vector<RegionScore>& scores, int64_t grid_h, int64_t grid_w, int64_t size,
                                 int draws, uint64_t seed, double fixed_threshold);

}  // namespace osteofm
