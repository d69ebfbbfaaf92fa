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

namespace detail {
// The source row (or column) of each of `out` outputs, as ATen's nearest-exact kernel
// computes it: scale = float(in) / float(out), src = floorf((i + 0.5) * scale) with the
// product in double rounded to float, capped at in - 1.
inline torch::Tensor nearest_exact_sources(int64_t in, int64_t out, const torch::Device& device) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const auto i = torch::arange(out, torch::kFloat64);
  return ((i + 0.5) * static_cast<double>(scale)).to(torch::kFloat32).floor().to(torch::kInt64).clamp_max(in - 1).to(device);
}
}  // namespace detail

// x [N, C, H, W] -> [N, C, h, w]: the source pixel whose centre is nearest ("nearest-exact").
// Two index_selects rather than F::interpolate: LibTorch 1.13's C++ interpolate warns on
// stderr at every nearest-exact call (about align_corners, which nearest modes refuse), and
// a demo made 420 such lines. Equal to interpolate's pixels (tests/test_cache.cpp).
inline torch::Tensor resize_nearest_exact(const torch::Tensor& x, int64_t h, int64_t w) {
  return x.index_select(2, detail::nearest_exact_sources(x.size(2), h, x.device()))
      .index_select(3, detail::nearest_exact_sources(x.size(3), w, x.device()));
}

}  // namespace osteofm
