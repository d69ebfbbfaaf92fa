#include "explain/reference_maps.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "explain/gradcam.hpp"

namespace osteofm {

torch::Tensor chance_maps(int64_t grid_h, int64_t grid_w, int64_t S, int draws, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto grid = torch::rand({draws, grid_h, grid_w}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  return cam_from_grid(grid, S, S);
}

torch::Tensor ceiling_map(const torch::Tensor& region, int64_t grid_h, int64_t grid_w) {
  const int64_t S = region.size(0);
  namespace F = torch::nn::functional;
  const auto pooled =
      F::adaptive_avg_pool2d(region.to(torch::kFloat32).view({1, 1, S, region.size(1)}), F::AdaptiveAvgPool2dFuncOptions({grid_h, grid_w}));
  return cam_from_grid(pooled.view({1, grid_h, grid_w}), S, region.size(1))[0];
}

}  // namespace osteofm
