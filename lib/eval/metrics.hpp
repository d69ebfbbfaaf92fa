// Classification metrics of a 3-class screening model, computed for any per-image
// multiplicities (weights), so that one code path gives the point estimate (all weights 1),
// every bootstrap replicate (resample counts) and every jackknife value (one unit at 0).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/labels.hpp"

namespace osteofm {

// The metrics, in a fixed order; metric_key() gives their metrics.json paths.
enum Metric : int {
  kAucMacro = 0,
  kAucNormal, kAucOsteopenia, kAucOsteoporosis,
  kAucOsteoporosisVsRest,
  kAccuracy,
  kSensNormal, kSensOsteopenia, kSensOsteoporosis,
  kSpecNormal, kSpecOsteopenia, kSpecOsteoporosis,
  kNumMetrics
};
using MetricValues = std::array<double, kNumMetrics>;  // NaN where undefined
const char* metric_key(int metric);  // "auc_macro", "auc_per_class.normal", ...

// Labels and class probabilities of n images (rows of p_normal, p_osteopenia, p_osteoporosis).
struct ScoredSet {
  std::vector<int> label;
  std::vector<std::array<double, kNumClasses>> score;
  size_t size() const { return label.size(); }
};

// Class k's one-vs-rest problem: the scores p_k, and which images are of class k.
std::vector<double> class_scores(const ScoredSet& data, int k);
std::vector<uint8_t> class_positives(const std::vector<int>& labels, int k);

// Predicted class: the argmax; when classes share the maximum, the lowest index wins
// (numpy.argmax, the fixtures' convention).
int predicted_class(const std::array<double, kNumClasses>& p);

// One binary problem (positive = `positive[i]`) sorted once by score into groups of
// tied scores. auc(w) is then one O(n) pass for any weights: the Mann-Whitney statistic
// with ties counting 1/2, over sum(w_pos) * sum(w_neg).
class RankedProblem {
 public:
  RankedProblem(const std::vector<double>& score, const std::vector<uint8_t>& positive);
  double auc(const uint32_t* weights) const;  // NaN when one side is empty
  double auc() const;                         // all weights 1
  size_t positives() const { return n_pos_; }
  size_t negatives() const { return order_.size() - n_pos_; }

 private:
  std::vector<uint32_t> order_;     // image indices by ascending score, negatives first in ties
  std::vector<uint32_t> pos_mask_;  // all ones where the image (sorted order) is positive
  std::vector<std::pair<uint32_t, uint32_t>> mixed_ties_;  // [begin, end) of tie groups with both sides
  size_t n_pos_ = 0;
};

class MetricEngine {
 public:
  explicit MetricEngine(const ScoredSet& data);
  size_t size() const { return predicted_.size(); }
  MetricValues compute(const uint32_t* weights) const;
  // True when every class has weight > 0 (a valid bootstrap replicate).
  bool all_classes_present(const uint32_t* weights) const;
  MetricValues point() const;
  // confusion[true][predicted] with all weights 1.
  std::array<std::array<int64_t, kNumClasses>, kNumClasses> confusion() const;
  std::array<int64_t, kNumClasses> class_counts() const;
  int argmax_ties() const { return argmax_ties_; }
  const std::vector<int>& labels() const { return label_; }

 private:
  std::vector<int> label_, predicted_;
  std::vector<uint8_t> cell_;            // label * 3 + predicted: the confusion cell
  std::vector<RankedProblem> problems_;  // one-vs-rest per class
  int argmax_ties_ = 0;
};

}  // namespace osteofm
