#include "explain/deletion.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "core/labels.hpp"
#include "explain/ci_json.hpp"
#include "explain/occlusion_study.hpp"

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

namespace osteofm {

DeletionStudy::DeletionStudy(int steps, uint64_t seed, const ScoredSet& blank, std::string fill)
    : fill_(std::move(fill)), seed_(seed) {
  if (steps > 0) fractions_ = deletion_fractions(steps);
  by_map_.assign(fractions_.size(), blank);
  by_random_.assign(fractions_.size(), blank);
}

void DeletionStudy::run_batch(Classifier& model, const Preprocessing& pre, const torch::Tensor& x01, const torch::Tensor& fill,
                              const torch::Tensor& cam_grid, const ScoredSet& original, int64_t first_row) {
  if (!enabled()) return;
  const int64_t k = x01.size(0), S = x01.size(3), grid_h = cam_grid.size(1), grid_w = cam_grid.size(2);
  const int64_t cells = grid_h * grid_w, cell = S / grid_w;
  std::vector<std::vector<int64_t>> map_order(k), random_order(k);
  for (int64_t i = 0; i < k; ++i) {
    map_order[i] = cells_by_map(cam_grid[i]);
    random_order[i] = cells_in_random_order(cells, seed_ * 65537ull + static_cast<uint64_t>(first_row + i));
  }
  for (int64_t i = 0; i < k; ++i)  // step 0: nothing removed
    by_map_[0].score[first_row + i] = by_random_[0].score[first_row + i] = original.score[first_row + i];
  for (size_t s_i = 1; s_i < fractions_.size(); ++s_i) {
    const int64_t remove = std::llround(fractions_[s_i] * static_cast<double>(cells));
    const auto pm = probabilities_with_cells_removed(model, pre, x01, fill, map_order, remove, cell, grid_w);
    const auto pr = probabilities_with_cells_removed(model, pre, x01, fill, random_order, remove, cell, grid_w);
    for (int64_t i = 0; i < k; ++i)
      for (int c = 0; c < kNumClasses; ++c) {
        by_map_[s_i].score[first_row + i][c] = pm[i][c].item<double>();
        by_random_[s_i].score[first_row + i][c] = pr[i][c].item<double>();
      }
  }
}

nlohmann::json DeletionStudy::report(const std::vector<int>& target_class, const std::string& fill,
                                     const std::function<nlohmann::json(const std::vector<double>&)>& mean_ci) const {
  using nlohmann::json;
  // Curves of the mean probability of the explained class and of the macro AUC; areas by
  // the trapezoid rule over the removed fraction. Random minus map > 0: the map's cells
  // matter more than random ones (per-image area differences of the probability, with CIs).
  const int64_t N = static_cast<int64_t>(target_class.size());
  const std::vector<uint32_t> ones(N, 1);
  auto curve = [&](const std::vector<ScoredSet>& sets) {
    std::vector<double> p, auc;
    for (const auto& set : sets) {
      double sp = 0;
      for (int64_t i = 0; i < N; ++i) sp += set.score[i][target_class[i]];
      p.push_back(sp / N);
      const MetricEngine e(set);
      auc.push_back(e.all_classes_present(ones.data()) ? e.compute(ones.data())[kAucMacro]
                                                       : std::numeric_limits<double>::quiet_NaN());
    }
    return json{{"p_target", p}, {"auc_macro", auc}, {"area_p_target", curve_area(fractions_, p)},
                {"area_auc_macro", curve_area(fractions_, auc)}};
  };
  std::vector<double> area_gap(N);
  for (int64_t i = 0; i < N; ++i) {
    std::vector<double> pm, pr;
    for (size_t s_i = 0; s_i < fractions_.size(); ++s_i) {
      pm.push_back(by_map_[s_i].score[i][target_class[i]]);
      pr.push_back(by_random_[s_i].score[i][target_class[i]]);
    }
    area_gap[i] = curve_area(fractions_, pr) - curve_area(fractions_, pm);
  }
  const json map_curve = curve(by_map_), random_curve = curve(by_random_);
  const double area_auc_gap = random_curve["area_auc_macro"].get<double>() - map_curve["area_auc_macro"].get<double>();
  return {{"fill", fill},
          {"steps", static_cast<int>(fractions_.size()) - 1},
          {"fractions", fractions_},
          {"map", map_curve},
          {"random", random_curve},
          {"area_p_target_random_minus_map", mean_ci(area_gap)},
          {"area_auc_macro_random_minus_map", std::isnan(area_auc_gap) ? json(nullptr) : json(area_auc_gap)},
          {"definition", "the map's highest token-grid cells removed (filled as the first --fills) in equal steps of the "
                         "grid, against a seeded random order of the same cells; areas by the trapezoid rule; random "
                         "minus map > 0 means the map ranks cells the model uses"}};
}

void DeletionStudy::run_batch(const StudyBatch& b) {
  if (!enabled()) return;
  run_batch(b.model, b.pre, b.x01, b.fills.make(fill_, b.x01, b.rows), b.cam_grid, b.original, b.first_row);
}

void DeletionStudy::report(nlohmann::json& out, const StudyTotals& t) const {
  if (!enabled()) return;
  out["deletion"] = report(t.target_class, fill_, [&](const std::vector<double>& v) {
    return mean_ci_json(v, t.labels, -1, t.clusters, t.n_units, t.bootstrap);
  });
}

}  // namespace osteofm
