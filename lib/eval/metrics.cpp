#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace osteofm {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kMetricKeys[kNumMetrics] = {
    "auc_macro",
    "auc_per_class.normal", "auc_per_class.osteopenia", "auc_per_class.osteoporosis",
    "auc_osteoporosis_vs_rest",
    "accuracy",
    "sensitivity.normal", "sensitivity.osteopenia", "sensitivity.osteoporosis",
    "specificity.normal", "specificity.osteopenia", "specificity.osteoporosis",
};
}  // namespace

const char* metric_key(int m) { return kMetricKeys[m]; }

int predicted_class(const std::array<double, kNumClasses>& p) {
  int best = 0;
  for (int k = 1; k < kNumClasses; ++k)
    if (p[k] > p[best]) best = k;
  return best;
}

RankedProblem::RankedProblem(const std::vector<double>& score, const std::vector<uint8_t>& positive) {
  const size_t n = score.size();
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0u);
  std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) { return score[a] < score[b]; });
  pos_sorted_.resize(n);
  for (size_t k = 0; k < n; ++k) {
    pos_sorted_[k] = positive[order_[k]] ? 1 : 0;
    n_pos_ += pos_sorted_[k];
    if (k + 1 == n || score[order_[k + 1]] != score[order_[k]]) group_end_.push_back(static_cast<uint32_t>(k + 1));
  }
}

double RankedProblem::auc(const uint32_t* w) const {
  // Sums of integer weights stay exact in double up to 2^53.
  double pairs = 0, neg_below = 0, pos_total = 0;
  size_t k = 0;
  for (uint32_t end : group_end_) {
    double p = 0, q = 0;
    for (; k < end; ++k) {
      const double wk = w ? w[order_[k]] : 1.0;
      if (pos_sorted_[k]) p += wk;
      else q += wk;
    }
    pairs += p * (neg_below + 0.5 * q);
    neg_below += q;
    pos_total += p;
  }
  if (pos_total == 0 || neg_below == 0) return kNaN;
  return pairs / (pos_total * neg_below);
}

double RankedProblem::auc() const { return auc(nullptr); }

MetricEngine::MetricEngine(const ScoredSet& data) : label_(data.label) {
  const size_t n = data.size();
  predicted_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    predicted_[i] = predicted_class(data.score[i]);
    const double top = data.score[i][predicted_[i]];
    int at_top = 0;
    for (int k = 0; k < kNumClasses; ++k) at_top += data.score[i][k] == top;
    argmax_ties_ += at_top > 1;
  }
  for (int k = 0; k < kNumClasses; ++k) {
    std::vector<double> s(n);
    std::vector<uint8_t> pos(n);
    for (size_t i = 0; i < n; ++i) {
      s[i] = data.score[i][k];
      pos[i] = data.label[i] == k;
    }
    problems_.emplace_back(s, pos);
  }
}

MetricValues MetricEngine::compute(const uint32_t* w) const {
  MetricValues out;
  double macro = 0;
  for (int k = 0; k < kNumClasses; ++k) {
    out[kAucNormal + k] = problems_[k].auc(w);
    macro += out[kAucNormal + k];  // NaN propagates: macro is undefined if one class is
  }
  out[kAucMacro] = macro / kNumClasses;
  out[kAucOsteoporosisVsRest] = out[kAucOsteoporosis];
  double c[kNumClasses][kNumClasses] = {};
  const size_t n = label_.size();
  for (size_t i = 0; i < n; ++i) c[label_[i]][predicted_[i]] += w ? w[i] : 1.0;
  double total = 0, diag = 0, row[kNumClasses] = {}, col[kNumClasses] = {};
  for (int a = 0; a < kNumClasses; ++a)
    for (int b = 0; b < kNumClasses; ++b) {
      total += c[a][b];
      row[a] += c[a][b];
      col[b] += c[a][b];
      if (a == b) diag += c[a][b];
    }
  out[kAccuracy] = total > 0 ? diag / total : kNaN;
  for (int k = 0; k < kNumClasses; ++k) {
    out[kSensNormal + k] = row[k] > 0 ? c[k][k] / row[k] : kNaN;
    const double tn = total - row[k] - col[k] + c[k][k], fp = col[k] - c[k][k];
    out[kSpecNormal + k] = tn + fp > 0 ? tn / (tn + fp) : kNaN;
  }
  return out;
}

MetricValues MetricEngine::point() const { return compute(nullptr); }

std::array<std::array<int64_t, kNumClasses>, kNumClasses> MetricEngine::confusion() const {
  std::array<std::array<int64_t, kNumClasses>, kNumClasses> c{};
  for (size_t i = 0; i < label_.size(); ++i) c[label_[i]][predicted_[i]]++;
  return c;
}

std::array<int64_t, kNumClasses> MetricEngine::class_counts() const {
  std::array<int64_t, kNumClasses> c{};
  for (int l : label_) c[l]++;
  return c;
}

}  // namespace osteofm
