#include "eval/roc.hpp"

#include <algorithm>
#include <numeric>

namespace osteofm {

RocCurve roc_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive) {
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  double P = 0, N = 0;
  for (uint8_t p : positive) (p ? P : N) += 1;
  RocCurve c;
  c.fpr.push_back(0);
  c.tpr.push_back(0);
  double tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    (positive[order[k]] ? tp : fp) += 1;
    if (k + 1 == order.size() || score[order[k + 1]] != score[order[k]]) {
      c.fpr.push_back(N > 0 ? fp / N : 0);
      c.tpr.push_back(P > 0 ? tp / P : 0);
    }
  }
  for (size_t k = 1; k < c.fpr.size(); ++k) c.auc += (c.fpr[k] - c.fpr[k - 1]) * (c.tpr[k] + c.tpr[k - 1]) / 2;
  return c;
}

std::vector<RocCurve> class_roc_curves(const ScoredSet& data) {
  std::vector<RocCurve> out;
  for (int k = 0; k < kNumClasses; ++k) {
    std::vector<double> s(data.size());
    std::vector<uint8_t> p(data.size());
    for (size_t i = 0; i < data.size(); ++i) {
      s[i] = data.score[i][k];
      p[i] = data.label[i] == k;
    }
    out.push_back(roc_curve(s, p));
  }
  return out;
}

namespace {
// np.interp on a monotone curve; at a vertical step it returns the upper value.
double interp(const RocCurve& c, double x) {
  auto it = std::upper_bound(c.fpr.begin(), c.fpr.end(), x);
  if (it == c.fpr.begin()) return c.tpr.front();
  if (it == c.fpr.end()) return c.tpr.back();
  const size_t hi = it - c.fpr.begin(), lo = hi - 1;
  if (c.fpr[hi] == c.fpr[lo]) return c.tpr[hi];
  return c.tpr[lo] + (c.tpr[hi] - c.tpr[lo]) * (x - c.fpr[lo]) / (c.fpr[hi] - c.fpr[lo]);
}
}  // namespace

RocCurve macro_roc_curve(const std::vector<RocCurve>& curves) {
  std::vector<double> grid;
  for (const auto& c : curves) grid.insert(grid.end(), c.fpr.begin(), c.fpr.end());
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  RocCurve m;
  for (double x : grid) {
    double y = 0;
    for (const auto& c : curves) y += interp(c, x);
    m.fpr.push_back(x);
    m.tpr.push_back(y / curves.size());
  }
  if (m.fpr.empty() || m.fpr.front() != 0) {
    m.fpr.insert(m.fpr.begin(), 0);
    m.tpr.insert(m.tpr.begin(), 0);
  }
  double sum = 0;
  for (const auto& c : curves) sum += c.auc;
  m.auc = sum / curves.size();
  return m;
}

}  // namespace osteofm
