#include "explain/deletion.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include <torch/torch.h>

namespace osteofm {

std::vector<double> deletion_fractions(int steps) {
  std::vector<double> f;
  for (int s = 0; s <= steps; ++s) f.push_back(static_cast<double>(s) / steps);
  return f;
}

std::vector<int64_t> cells_by_map(const torch::Tensor& grid) {
  const auto v = grid.flatten().to(torch::kCPU, torch::kFloat64).contiguous();
  const double* p = v.data_ptr<double>();
  std::vector<int64_t> order(v.numel());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[a] > p[b]; });
  return order;
}

std::vector<int64_t> cells_in_random_order(int64_t cells, uint64_t seed) {
  std::vector<int64_t> order(cells);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  return order;
}

torch::Tensor probabilities_with_cells_removed(Classifier& model, const Preprocessing& pre, const torch::Tensor& gray01,
                                               const torch::Tensor& fill, const std::vector<std::vector<int64_t>>& order,
                                               int64_t remove, int64_t cell, int64_t grid_w) {
  torch::NoGradGuard ng;
  const int64_t k = gray01.size(0), H = gray01.size(2), W = gray01.size(3);
  auto removed = torch::zeros({k, 1, H, W}, torch::kFloat32);
  for (int64_t j = 0; j < k; ++j)
    for (int64_t n = 0; n < remove && n < static_cast<int64_t>(order[j].size()); ++n) {
      const int64_t r = order[j][n] / grid_w, c = order[j][n] % grid_w;
      removed[j][0].slice(0, r * cell, (r + 1) * cell).slice(1, c * cell, (c + 1) * cell).fill_(1.0f);
    }
  removed = removed.to(gray01.device());
  const auto x = gray01 * (1 - removed) + fill * removed;
  return torch::softmax(model->forward(normalize_batch(x, pre)).to(torch::kFloat32), -1).to(torch::kCPU, torch::kFloat64);
}

double curve_area(const std::vector<double>& x, const std::vector<double>& y) {
  double a = 0;
  for (size_t i = 1; i < x.size() && i < y.size(); ++i) a += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2;
  return a;
}

}  // namespace osteofm
