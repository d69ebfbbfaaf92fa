// Image resampling through LibTorch's public functional API (the same kernels as the
// private at::_upsample_* ops, which LibTorch 2.x may rename or drop): antialiased bicubic
// as PIL and timm resize, and "nearest-exact" (half-pixel centres) for label masks.
#pragma once
#include <torch/torch.h>

namespace osteofm {

// x [N, C, H, W] float -> [N, C, h, w]; align_corners false, antialiased when shrinking.
inline torch::Tensor resize_bicubic_aa(const torch::Tensor& x, int64_t h, int64_t w) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBicubic)
                               .align_corners(false)
                               .antialias(true));
}

// x [N, C, H, W] float -> [N, C, h, w]: the source pixel whose centre is nearest.
inline torch::Tensor resize_nearest_exact(const torch::Tensor& x, int64_t h, int64_t w) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearestExact));
}

}  // namespace osteofm
