#include "eval/screening.hpp"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/numbers.hpp"
#include "eval/normal.hpp"

namespace osteofm {

namespace {
constexpr double kClip = 1e-6;

double logit(double p) { return std::log(p / (1.0 - p)); }
double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }

// Calibration-in-the-large: the root a of sum_i (y_i - sigmoid(a + o_i)) = 0. The score
// is strictly decreasing in a, so Newton steps safeguarded by a bisection bracket
// converge from anywhere; it has a root only when both outcomes occur.
double fit_intercept(const std::vector<double>& offset, const std::vector<uint8_t>& y, const uint32_t* w,
                     double start = 0) {
  double lo = -50, hi = 50;  // sigmoid saturates far inside these for |offset| <= 14
  double a = std::clamp(start, lo, hi);
  for (int it = 0; it < 200; ++it) {
    double score = 0, info = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double wi = w ? w[i] : 1.0;
      if (wi == 0) continue;
      const double p = sigmoid(a + offset[i]);
      score += wi * (y[i] - p);
      info += wi * p * (1 - p);
    }
    if (score > 0) lo = a;
    else hi = a;
    double next = info > 0 ? a + score / info : 0.5 * (lo + hi);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (std::fabs(next - a) <= 1e-15 * std::max(1.0, std::fabs(a))) return next;
    a = next;
  }
  return a;
}

// Logistic regression y ~ b0 + b1 x by Newton-Raphson with step halving on the
// log-likelihood; false when it does not converge (separation).
bool fit_logistic(const std::vector<double>& x, const std::vector<uint8_t>& y, const uint32_t* w, double* b0,
                  double* b1, double start0 = 0, double start1 = 1) {
  auto loglik = [&](double c0, double c1) {
    double ll = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double wi = w ? w[i] : 1.0;
      if (wi == 0) continue;
      const double eta = c0 + c1 * x[i];
      // log sigmoid(eta) and log(1 - sigmoid(eta)) without overflow
      const double log1pexp = eta > 0 ? eta + std::log1p(std::exp(-eta)) : std::log1p(std::exp(eta));
      ll += wi * (y[i] ? eta - log1pexp : -log1pexp);
    }
    return ll;
  };
  double c0 = start0, c1 = start1, ll = loglik(c0, c1);
  for (int it = 0; it < 200; ++it) {
    double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      const double wi = w ? w[i] : 1.0;
      if (wi == 0) continue;
      const double p = sigmoid(c0 + c1 * x[i]);
      const double r = wi * (y[i] - p), v = wi * p * (1 - p);
      g0 += r;
      g1 += r * x[i];
      h00 += v;
      h01 += v * x[i];
      h11 += v * x[i] * x[i];
    }
    const double det = h00 * h11 - h01 * h01;
    if (!(det > 0) || !std::isfinite(det)) return false;
    double d0 = (h11 * g0 - h01 * g1) / det, d1 = (h00 * g1 - h01 * g0) / det;
    double step = 1.0, n0 = c0 + d0, n1 = c1 + d1, nll = loglik(n0, n1);
    while (nll < ll - 1e-12 * std::fabs(ll) && step > 1e-10) {
      step *= 0.5;
      n0 = c0 + step * d0;
      n1 = c1 + step * d1;
      nll = loglik(n0, n1);
    }
    const bool done = std::fabs(n0 - c0) <= 1e-13 * std::max(1.0, std::fabs(c0)) &&
                      std::fabs(n1 - c1) <= 1e-13 * std::max(1.0, std::fabs(c1));
    c0 = n0;
    c1 = n1;
    ll = nll;
    if (std::fabs(c1) > 1e6 || std::fabs(c0) > 1e6) return false;
    if (done) {
      *b0 = c0;
      *b1 = c1;
      return true;
    }
  }
  return false;
}
}  // namespace

int ece_bin(double s) { return std::min(static_cast<int>(std::floor(10.0 * s)), 9); }

const char* endpoint_key(int e) { return e == kOsteoporosisVsRest ? "osteoporosis_vs_rest" : "low_bmd_vs_normal"; }
const char* endpoint_title(int e) { return e == kOsteoporosisVsRest ? "osteoporosis vs rest" : "low BMD vs normal"; }
const char* rule_key(int r) {
  static const char* const keys[kNumRules] = {"youden", "sens90", "spec90"};
  return keys[r];
}

size_t BinarySet::positives() const { return static_cast<size_t>(std::count(positive.begin(), positive.end(), 1)); }

BinarySet endpoint_set(const ScoredSet& data, int endpoint) {
  BinarySet b;
  b.score.resize(data.size());
  b.positive.resize(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    b.score[i] = endpoint_score(data.score[i], endpoint);
    b.positive[i] = endpoint_positive(data.label[i], endpoint);
  }
  return b;
}

ThresholdChoice choose_thresholds(const BinarySet& val) {
  ThresholdChoice c;
  const size_t n = val.size(), P = val.positives(), N = n - P;
  if (P == 0 || N == 0) {
    c.reason = std::string("the validation split has ") + (P == 0 ? "no positive" : "no negative") +
               " image for this endpoint: no threshold can be chosen";
    return c;
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return val.score[a] > val.score[b]; });
  int64_t tps = 0, fps = 0;
  double best_j = -std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < n;) {
    const double t = val.score[order[k]];
    for (; k < n && val.score[order[k]] == t; ++k) (val.positive[order[k]] ? tps : fps)++;
    const double tpr = static_cast<double>(tps) / P, fpr = static_cast<double>(fps) / N;
    auto set = [&](int rule) {
      c.threshold[rule] = t;
      c.val_sensitivity[rule] = tpr;
      c.val_specificity[rule] = 1.0 - fpr;
    };
    if (tpr - fpr > best_j) {  // strictly greater: ties keep the higher threshold
      best_j = tpr - fpr;
      set(kYouden);
    }
    if (!c.threshold[kSens90] && tpr >= 0.90) set(kSens90);
    if (fpr <= 0.10) set(kSpec90);  // FPR only grows as t falls: the last one is the lowest
  }
  return c;
}

ConfusionCounts counts_at(const BinarySet& d, double t) {
  ConfusionCounts c;
  for (size_t i = 0; i < d.size(); ++i) {
    const bool called = d.score[i] >= t;
    if (d.positive[i]) (called ? c.tp : c.fn)++;
    else (called ? c.fp : c.tn)++;
  }
  return c;
}

Proportion wilson(int64_t x, int64_t n, double conf_level) {
  if (n <= 0) return {kNaN, kNaN, kNaN};
  const double q = static_cast<double>(x) / n, nobs = static_cast<double>(n);
  const double crit = -normal_quantile((1.0 - conf_level) / 2.0);
  const double crit2 = crit * crit;
  const double denom = 1 + crit2 / nobs;
  const double center = (q + crit2 / (2 * nobs)) / denom;
  const double dist = crit * std::sqrt(q * (1.0 - q) / nobs + crit2 / (4.0 * nobs * nobs)) / denom;
  return {q, center - dist, center + dist};
}

Calibration calibration(const BinarySet& d) {
  Calibration c;
  const size_t n = d.size();
  std::vector<double> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = logit(std::clamp(d.score[i], kClip, 1.0 - kClip));
  const size_t P = d.positives();
  if (P == 0 || P == n) {
    c.intercept = c.slope = kNaN;
    c.intercept_reason = c.slope_reason = "one outcome only: the calibration fits have no maximum";
  } else {
    c.intercept = fit_intercept(x, d.positive, nullptr);
    double mean = 0, ss = 0;
    for (double v : x) mean += v / static_cast<double>(n);
    for (double v : x) ss += (v - mean) * (v - mean);
    const double sd = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
    double b0 = 0, b1 = 0;
    if (sd < kNearConstantLogitSd) {
      // A slope fitted on scores that hardly vary is whatever the noise makes it (12.3 on a
      // linear probe that predicted its prior): not a calibration property.
      c.slope = kNaN;
      char reason[200];
      std::snprintf(reason, sizeof reason,
                    "near-constant scores (SD of logit(p) %.3g < %g): the calibration slope is not estimable", sd,
                    kNearConstantLogitSd);
      c.slope_reason = reason;
      c.near_constant = true;
    } else if (fit_logistic(x, d.positive, nullptr, &b0, &b1)) {
      c.slope = b1;
    } else {
      c.slope = kNaN;
      c.slope_reason = "the logistic fit did not converge (the score separates the outcomes perfectly)";
    }
  }
  c.bins.resize(10);
  std::vector<double> sum_s(10, 0.0), sum_y(10, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const int b = ece_bin(d.score[i]);
    c.bins[b].n++;
    sum_s[b] += d.score[i];
    sum_y[b] += d.positive[i];
  }
  for (int b = 0; b < 10; ++b) {
    c.bins[b].lower = b / 10.0;
    c.bins[b].upper = (b + 1) / 10.0;
    c.bins[b].mean_predicted = c.bins[b].n ? sum_s[b] / c.bins[b].n : kNaN;
    c.bins[b].observed = c.bins[b].n ? sum_y[b] / c.bins[b].n : kNaN;
  }
  return c;
}

std::vector<double> calibration_logits(const BinarySet& d) {
  std::vector<double> x(d.size());
  for (size_t i = 0; i < d.size(); ++i) x[i] = logit(std::clamp(d.score[i], kClip, 1.0 - kClip));
  return x;
}

CalibrationFit calibration_fit(const std::vector<double>& logits, const std::vector<uint8_t>& positive, const uint32_t* w,
                               bool with_slope, const CalibrationFit* start) {
  CalibrationFit f{kNaN, kNaN, kNaN};
  double n = 0, pos = 0;
  for (size_t i = 0; i < positive.size(); ++i) {
    const double wi = w ? w[i] : 1.0;
    n += wi;
    pos += wi * positive[i];
  }
  if (pos == 0 || pos == n) return f;
  const bool warm = start && std::isfinite(start->intercept);
  f.intercept = fit_intercept(logits, positive, w, warm ? start->intercept : 0.0);
  double b0 = 0, b1 = 0;
  const bool warm_slope = start && std::isfinite(start->slope) && std::isfinite(start->slope_intercept);
  if (with_slope && fit_logistic(logits, positive, w, &b0, &b1, warm_slope ? start->slope_intercept : 0.0,
                                 warm_slope ? start->slope : 1.0)) {
    f.slope = b1;
    f.slope_intercept = b0;
  }
  return f;
}

DecisionCurve decision_curve(const BinarySet& d, const std::vector<double>& thresholds) {
  DecisionCurve dc;
  dc.thresholds = thresholds;
  const double n = static_cast<double>(d.size());
  const double prevalence = d.positives() / n;
  for (double pt : thresholds) {
    const ConfusionCounts c = counts_at(d, pt);
    const double odds = pt / (1.0 - pt);
    dc.net_benefit.push_back(c.tp / n - c.fp / n * odds);
    dc.treat_all.push_back(prevalence - (1.0 - prevalence) * odds);
  }
  return dc;
}

std::vector<double> default_decision_thresholds() {
  std::vector<double> t;
  for (int k = 1; k <= 50; ++k) t.push_back(k / 100.0);
  return t;
}

double weighted_kappa(const std::vector<int>& label, const std::vector<int>& predicted, bool quadratic) {
  // sklearn: classes = sorted union of both vectors; weights on their index distance.
  std::vector<int> classes;
  for (int c = 0; c < kNumClasses; ++c)
    if (std::count(label.begin(), label.end(), c) || std::count(predicted.begin(), predicted.end(), c))
      classes.push_back(c);
  const size_t k = classes.size();
  std::vector<int> index(kNumClasses, -1);
  for (size_t a = 0; a < k; ++a) index[classes[a]] = static_cast<int>(a);
  std::vector<double> conf(k * k, 0.0), rows(k, 0.0), cols(k, 0.0);
  for (size_t i = 0; i < label.size(); ++i) conf[index[label[i]] * k + index[predicted[i]]] += 1;
  double total = 0;
  for (size_t a = 0; a < k; ++a)
    for (size_t b = 0; b < k; ++b) {
      rows[a] += conf[a * k + b];
      cols[b] += conf[a * k + b];
      total += conf[a * k + b];
    }
  double observed = 0, expected = 0;
  for (size_t a = 0; a < k; ++a)
    for (size_t b = 0; b < k; ++b) {
      const double dist = std::fabs(static_cast<double>(a) - static_cast<double>(b));
      const double wgt = quadratic ? dist * dist : dist;
      observed += wgt * conf[a * k + b];
      expected += wgt * cols[a] * rows[b] / total;  // np.outer(sum0, sum1) / sum
    }
  if (!(expected > 0)) return kNaN;
  return 1.0 - observed / expected;
}

double multiclass_brier(const ScoredSet& d) {
  double sum = 0;
  for (size_t i = 0; i < d.size(); ++i)
    for (int k = 0; k < kNumClasses; ++k) {
      const double e = d.score[i][k] - (d.label[i] == k ? 1.0 : 0.0);
      sum += e * e;
    }
  return d.size() ? sum / d.size() : kNaN;
}

double auc_macro(const ScoredSet& d) {
  double sum = 0;
  for (int k = 0; k < kNumClasses; ++k)
    sum += RankedProblem(class_scores(d, k), class_positives(d.label, k)).auc();  // NaN when a class is absent
  return sum / kNumClasses;
}

std::vector<double> holm(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> out(m);
  double running = 0;
  for (size_t r = 0; r < m; ++r) {
    running = std::max(running, p[order[r]] * static_cast<double>(m - r));
    out[order[r]] = std::min(running, 1.0);
  }
  return out;
}

}  // namespace osteofm
