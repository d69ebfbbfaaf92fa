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

// Macro-average curve: the mean of the class curves (each linear between the union of
// their FPR points, vertical steps kept), so the drawn curve's area is the macro AUC
// exactly; auc = macro AUC. (scikit-learn's example samples np.interp at the vertices
// only, which drops the start of each step and overstates the area.)
RocCurve macro_roc_curve(const std::vector<RocCurve>& per_class);

}  // namespace osteofm
