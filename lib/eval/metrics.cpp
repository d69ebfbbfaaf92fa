#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/numbers.hpp"

namespace osteofm {

namespace {
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

std::vector<double> class_scores(const ScoredSet& data, int k) {
  std::vector<double> c(data.size());
  for (size_t i = 0; i < data.size(); ++i) c[i] = data.score[i][k];
  return c;
}

std::vector<uint8_t> class_positives(const std::vector<int>& labels, int k) {
  std::vector<uint8_t> p(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) p[i] = labels[i] == k;
  return p;
}

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
  // Ascending score; within a tie, negatives before positives (see auc()).
  std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
    return score[a] != score[b] ? score[a] < score[b] : (positive[a] ? 1 : 0) < (positive[b] ? 1 : 0);
  });
  pos_mask_.resize(n);
  for (size_t k = 0; k < n; ++k) {
    pos_mask_[k] = positive[order_[k]] ? ~0u : 0u;
    n_pos_ += positive[order_[k]] ? 1 : 0;
  }
  for (size_t k = 0; k < n;) {
    size_t e = k + 1;
    while (e < n && score[order_[e]] == score[order_[k]]) ++e;
    if (pos_mask_[k] == 0 && pos_mask_[e - 1] != 0) mixed_ties_.emplace_back(k, e);
    k = e;
  }
}

double RankedProblem::auc(const uint32_t* w) const {
  // One pass: every positive counts the negative weight sorted before it. Negatives come
  // first within a tie, so a tied pair counts 1 here instead of 1/2; the few groups with
  // both sides are corrected afterwards. Integer arithmetic: exact for any resample.
  uint64_t counted = 0, neg = 0, pos = 0;
  const size_t n = order_.size();
  const uint32_t* order = order_.data();
  const uint32_t* mask = pos_mask_.data();
  for (size_t k = 0; k < n; ++k) {
    const uint32_t wk = w ? w[order[k]] : 1u;
    const uint32_t wp = wk & mask[k];
    counted += static_cast<uint64_t>(wp) * neg;
    neg += wk & ~mask[k];
    pos += wp;
  }
  uint64_t tied = 0;  // sum over mixed groups of P_g * Q_g
  for (const auto& [b, e] : mixed_ties_) {
    uint64_t p = 0, q = 0;
    for (uint32_t k = b; k < e; ++k) {
      const uint32_t wk = w ? w[order[k]] : 1u;
      p += wk & mask[k];
      q += wk & ~mask[k];
    }
    tied += p * q;
  }
  if (pos == 0 || neg == 0) return kNaN;
  return static_cast<double>(2 * counted - tied) / (2.0 * static_cast<double>(pos) * static_cast<double>(neg));
}

double RankedProblem::auc() const { return auc(nullptr); }

MetricEngine::MetricEngine(const ScoredSet& data) : label_(data.label) {
  const size_t n = data.size();
  predicted_.resize(n);
  cell_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    predicted_[i] = predicted_class(data.score[i]);
    cell_[i] = static_cast<uint8_t>(data.label[i] * kNumClasses + predicted_[i]);
    const double top = data.score[i][predicted_[i]];
    int at_top = 0;
    for (int k = 0; k < kNumClasses; ++k) at_top += data.score[i][k] == top;
    argmax_ties_ += at_top > 1;
  }
  for (int k = 0; k < kNumClasses; ++k) problems_.emplace_back(class_scores(data, k), class_positives(data.label, k));
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
  uint64_t cells[kNumClasses * kNumClasses] = {};
  const size_t n = cell_.size();
  for (size_t i = 0; i < n; ++i) cells[cell_[i]] += w ? w[i] : 1u;
  double c[kNumClasses][kNumClasses];
  for (int a = 0; a < kNumClasses; ++a)
    for (int b = 0; b < kNumClasses; ++b) c[a][b] = static_cast<double>(cells[a * kNumClasses + b]);
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

bool MetricEngine::all_classes_present(const uint32_t* w) const {
  uint64_t per_class[kNumClasses] = {};
  for (size_t i = 0; i < label_.size(); ++i) per_class[label_[i]] += w[i];
  return per_class[0] > 0 && per_class[1] > 0 && per_class[2] > 0;
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
