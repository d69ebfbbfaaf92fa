#include "eval/roc.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

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
  for (int k = 0; k < kNumClasses; ++k) out.push_back(roc_curve(class_scores(data, k), class_positives(data.label, k)));
  return out;
}

namespace {
// The curve's value at x approached from the left (lower end of a vertical step at x)
// and from the right (upper end); equal where the curve is continuous.
std::pair<double, double> limits_at(const RocCurve& c, double x) {
  const auto first = std::lower_bound(c.fpr.begin(), c.fpr.end(), x);
  const auto past = std::upper_bound(c.fpr.begin(), c.fpr.end(), x);
  if (first != past)  // x is a vertex (several when the curve steps up at x)
    return {c.tpr[first - c.fpr.begin()], c.tpr[past - c.fpr.begin() - 1]};
  if (past == c.fpr.begin()) return {c.tpr.front(), c.tpr.front()};
  if (past == c.fpr.end()) return {c.tpr.back(), c.tpr.back()};
  const size_t hi = past - c.fpr.begin(), lo = hi - 1;
  const double y = c.tpr[lo] + (c.tpr[hi] - c.tpr[lo]) * (x - c.fpr[lo]) / (c.fpr[hi] - c.fpr[lo]);
  return {y, y};
}
}  // namespace

RocCurve macro_roc_curve(const std::vector<RocCurve>& curves) {
  // Every class curve is linear between consecutive points of the union of their FPRs, so
  // their mean is too: drawn through both limits at each such point (vertical steps kept),
  // the mean curve's trapezoidal area is exactly the mean of the class AUCs, the macro AUC.
  std::vector<double> grid = {0.0};
  for (const auto& c : curves) grid.insert(grid.end(), c.fpr.begin(), c.fpr.end());
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  RocCurve m;
  for (double x : grid) {
    double left = 0, right = 0;
    for (const auto& c : curves) {
      const auto [l, r] = limits_at(c, x);
      left += l;
      right += r;
    }
    left /= curves.size();
    right /= curves.size();
    m.fpr.push_back(x);
    m.tpr.push_back(x == 0 ? 0.0 : left);  // every curve starts at (0, 0)
    if (right != m.tpr.back()) {
      m.fpr.push_back(x);
      m.tpr.push_back(right);
    }
  }
  double sum = 0;
  for (const auto& c : curves) sum += c.auc;
  m.auc = sum / curves.size();
  return m;
}

}  // namespace osteofm
