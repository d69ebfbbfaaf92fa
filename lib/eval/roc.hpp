// ROC curves: per class (one-vs-rest) and the macro average over classes.
#pragma once
#include <cstdint>
#include <vector>

#include "eval/metrics.hpp"

namespace osteofm {

struct RocCurve {
  std::vector<double> fpr, tpr;  // from (0,0) to (1,1), one point per distinct score
  double auc = 0;
};

// Thresholds at every distinct score, high to low (sklearn roc_curve without dropping
// intermediate points); auc is the trapezoidal area, equal to the Mann-Whitney AUC.
RocCurve roc_curve(const std::vector<double>& score, const std::vector<uint8_t>& positive);

// Per-class curves of a scored set (one-vs-rest).
std::vector<RocCurve> class_roc_curves(const ScoredSet& data);

// Macro-average curve: every class's TPR interpolated linearly onto the union of their
// FPR points and averaged (as in scikit-learn's multi-class ROC example); auc = macro AUC.
RocCurve macro_roc_curve(const std::vector<RocCurve>& per_class);

}  // namespace osteofm
