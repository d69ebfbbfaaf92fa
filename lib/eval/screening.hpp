// What a screening study reports beyond AUC, as ../shared/fixtures/screening/README.md
// defines it: two binary endpoints, thresholds chosen on the validation split, diagnostic
// accuracy with Wilson intervals, calibration, decision curves, subgroup AUCs, weighted
// kappa, Holm's step-down adjustment. Plain C++; every function is pure.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/metrics.hpp"

namespace osteofm {

// osteoporosis_vs_rest: positive = class 2, score = p_osteoporosis.
// low_bmd_vs_normal:    positive = class 1 or 2, score = 1 - p_normal.
enum Endpoint : int { kOsteoporosisVsRest = 0, kLowBmdVsNormal, kNumEndpoints };
const char* endpoint_key(int endpoint);    // "osteoporosis_vs_rest", "low_bmd_vs_normal"
const char* endpoint_title(int endpoint);  // "osteoporosis vs rest", "low BMD vs normal"

struct BinarySet {
  std::vector<double> score;
  std::vector<uint8_t> positive;
  size_t size() const { return score.size(); }
  size_t positives() const;
};
// An image's score and truth on an endpoint, from its class probabilities and label: the
// one definition eval, predict's screen columns and every table use.
inline double endpoint_score(const std::array<double, kNumClasses>& p, int endpoint) {
  return endpoint == kOsteoporosisVsRest ? p[kOsteoporosis] : 1.0 - p[kNormal];  // in double, as eval has always had it
}
inline bool endpoint_positive(int label, int endpoint) {
  return endpoint == kOsteoporosisVsRest ? label == kOsteoporosis : label != kNormal;
}
BinarySet endpoint_set(const ScoredSet& data, int endpoint);

// Threshold rules; a prediction is positive iff score >= threshold.
enum ThresholdRule : int { kYouden = 0, kSens90, kSpec90, kNumRules };
const char* rule_key(int rule);  // "youden", "sens90", "spec90"

struct ThresholdChoice {
  std::array<std::optional<double>, kNumRules> threshold;  // spec90 may be absent
  std::string reason;  // why no threshold could be chosen at all (empty when chosen)
  // The validation operating point of each chosen threshold.
  std::array<double, kNumRules> val_sensitivity{}, val_specificity{};
};
// Candidates are the distinct validation scores, high to low (sklearn roc_curve with
// drop_intermediate=False, without its leading +inf). youden: max TPR - FPR, ties to the
// highest threshold; sens90: the highest candidate with TPR >= 0.90; spec90: the lowest
// with FPR <= 0.10. A validation set with one class only gives no thresholds (reason set).
ThresholdChoice choose_thresholds(const BinarySet& validation);

struct ConfusionCounts {
  int64_t tp = 0, fp = 0, tn = 0, fn = 0;
};
ConfusionCounts counts_at(const BinarySet& data, double threshold);

// A proportion x/n with its 95% Wilson score interval (no continuity correction;
// statsmodels proportion_confint(method="wilson")). estimate is NaN when n == 0.
struct Proportion {
  double estimate = 0, lower = 0, upper = 0;
  bool defined() const { return estimate == estimate; }
};
Proportion wilson(int64_t x, int64_t n, double conf_level = 0.95);

// Scores whose logit varies less than this (sample SD) are near-constant: no calibration
// slope is reported for them (logit 0.05 is p 0.4875..0.5125 around 0.5).
inline constexpr double kNearConstantLogitSd = 0.05;

struct Calibration {
  double intercept = 0, slope = 0;  // NaN when the fit does not exist (reason says why)
  std::string intercept_reason, slope_reason;
  bool near_constant = false;  // the slope is absent because the scores hardly vary
  struct Bin {
    double lower = 0, upper = 0;
    int64_t n = 0;
    double mean_predicted = 0, observed = 0;  // NaN when empty
  };
  std::vector<Bin> bins;  // the 10 equal-width bins of ECE (the reliability diagram)
};
// Calibration slope (logistic regression of y on logit(s), Newton to convergence),
// calibration-in-the-large (intercept with logit(s) as offset), and the 10 equal-width
// bins. s is clipped to [1e-6, 1 - 1e-6] for the two fits only. (Brier and ECE are
// statistics of weighted images: evaluate() computes them with their bootstrap.)
Calibration calibration(const BinarySet& data);

// The two fits of calibration() on weighted images (w: multiplicities, nullptr: all 1),
// for their bootstrap intervals; NaN where a fit does not exist (one outcome, separation),
// and the slope NaN too unless with_slope (scores near-constant at the estimate).
struct CalibrationFit {
  double intercept, slope;
  double slope_intercept;  // b0 of the slope's fit (a warm start for the next)
};
std::vector<double> calibration_logits(const BinarySet& data);  // logit of the clipped scores
// `start`: the fit to begin Newton's iterations from (a replicate starts at the estimate's).
CalibrationFit calibration_fit(const std::vector<double>& logits, const std::vector<uint8_t>& positive, const uint32_t* w,
                               bool with_slope, const CalibrationFit* start = nullptr);

// The ECE bin of a score: min(floor(10 s), 9).
int ece_bin(double s);

struct DecisionCurve {
  std::vector<double> thresholds, net_benefit, treat_all;
};
// Net benefit TP/n - FP/n * pt/(1-pt) (positive iff s >= pt) and treat-all at each pt.
DecisionCurve decision_curve(const BinarySet& data, const std::vector<double>& thresholds);
// The default pt grid: 0.01, 0.02, ..., 0.50.
std::vector<double> default_decision_thresholds();

// Cohen's weighted kappa of the predicted class against the label, as sklearn's
// cohen_kappa_score(weights="linear"|"quadratic"): the classes are those present in
// either vector, weights from their index distance. NaN when undefined.
double weighted_kappa(const std::vector<int>& label, const std::vector<int>& predicted, bool quadratic);

// Mean over images of sum_k (p_k - [y == k])^2.
double multiclass_brier(const ScoredSet& data);

// sklearn's macro one-vs-rest AUC; NaN when a class is absent.
double auc_macro(const ScoredSet& data);

// Holm's step-down adjusted p-values, in the input order (statsmodels multipletests).
std::vector<double> holm(const std::vector<double>& p);

}  // namespace osteofm
