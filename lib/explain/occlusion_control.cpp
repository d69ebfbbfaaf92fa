#include "explain/occlusion_control.hpp"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include <torch/torch.h>

namespace osteofm {

AreaControl area_matched_control(const torch::Tensor& mask, uint8_t bone_bits, uint8_t control_bits, int64_t block,
                                 uint64_t seed) {
  const int64_t H = mask.size(0), W = mask.size(1);
  AreaControl c;
  c.target = mask.bitwise_and(bone_bits).ne(0).sum().item<int64_t>();
  const auto free_px = mask.bitwise_and(static_cast<uint8_t>(bone_bits | control_bits)).eq(0).contiguous();
  c.occlude = torch::zeros({H, W}, torch::kBool);
  if (c.target == 0) return c;
  const int64_t bh = (H + block - 1) / block, bw = (W + block - 1) / block;
  std::vector<int64_t> order(bh * bw);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const bool* fp = free_px.data_ptr<bool>();
  bool* op = c.occlude.data_ptr<bool>();
  for (const int64_t cell : order) {
    if (c.covered >= c.target) break;
    const int64_t y0 = (cell / bw) * block, x0 = (cell % bw) * block;
    for (int64_t y = y0; y < std::min(H, y0 + block); ++y)
      for (int64_t x = x0; x < std::min(W, x0 + block); ++x)
        if (fp[y * W + x] && c.covered < c.target) {
          op[y * W + x] = true;
          ++c.covered;
        }
  }
  return c;
}

}  // namespace osteofm
