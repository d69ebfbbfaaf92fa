#include "data/transforms.hpp"

#include <algorithm>
#include <cmath>

#include <torch/torch.h>

#include "core/resample.hpp"

namespace osteofm {

namespace {
// Resize to the family's geometry: squash to S x S, or short side to resize_size() (long
// side truncated, as HF and torchvision compute it) + the S x S centre crop.
template <class Resize>
torch::Tensor fit_to(const torch::Tensor& x, int height, int width, const Preprocessing& pre, Resize resize) {
  const int S = pre.size;
  if (pre.squash) return resize(x, S, S);
  const auto [h, w] = pre.resized_shape(height, width);
  const int top = pre.crop_start(h), left = pre.crop_start(w);
  return resize(x, h, w).slice(2, top, top + S).slice(3, left, left + S);
}
}  // namespace

torch::Tensor quantize16(const torch::Tensor& x01) { return torch::round(x01 * 65535.0) / 65535.0; }

torch::Tensor resize_image(const GrayImage& img, const Preprocessing& pre) {
  auto x = torch::from_blob(const_cast<float*>(img.pixels.data()), {1, 1, img.height, img.width}, torch::kFloat32);
  x = fit_to(x, img.height, img.width, pre,
             [](const torch::Tensor& t, int h, int w) { return resize_bicubic_aa(t, h, w); });
  // Quantised to 16 bits, as a tensor cache stores it: decoding now or reading a cache
  // gives the model bit-identical input.
  return quantize16(x.clamp(0.0, 1.0)).squeeze(0).contiguous();  // [1, S, S]
}

torch::Tensor resize_mask(const uint8_t* mask, int height, int width, const Preprocessing& pre) {
  auto x = torch::from_blob(const_cast<uint8_t*>(mask), {1, 1, height, width}, torch::kUInt8).to(torch::kFloat32);
  x = fit_to(x, height, width, pre, [](const torch::Tensor& t, int h, int w) {
    return resize_nearest_exact(t, h, w);
  });
  return x.to(torch::kUInt8).squeeze(0).squeeze(0).contiguous();  // [S, S]
}

torch::Tensor normalize_batch(const torch::Tensor& gray01, const Preprocessing& pre) {
  auto opts = gray01.options();
  auto mean = torch::tensor({pre.mean[0], pre.mean[1], pre.mean[2]}, torch::kFloat32).to(opts).view({1, 3, 1, 1});
  auto std = torch::tensor({pre.std[0], pre.std[1], pre.std[2]}, torch::kFloat32).to(opts).view({1, 3, 1, 1});
  return (gray01.expand({gray01.size(0), 3, gray01.size(2), gray01.size(3)}) - mean) / std;
}

torch::Tensor preprocess_image(const GrayImage& img, const Preprocessing& pre) {
  return normalize_batch(resize_image(img, pre).unsqueeze(0), pre).squeeze(0).contiguous();
}

}  // namespace osteofm
