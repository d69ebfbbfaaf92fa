#include "eval/delong.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "eval/normal.hpp"

namespace osteofm {

namespace {
double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / v.size();
}
// Sample covariance (n - 1 denominator); 0 for a single observation.
double sample_cov(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2) return 0.0;
  const double ma = mean(a), mb = mean(b);
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - ma) * (b[i] - mb);
  return s / (a.size() - 1);
}
// Fraction of `sorted` below x, ties counting 1/2.
double placement(const std::vector<double>& sorted, double x) {
  auto lo = std::lower_bound(sorted.begin(), sorted.end(), x);
  auto hi = std::upper_bound(lo, sorted.end(), x);
  return ((lo - sorted.begin()) + 0.5 * (hi - lo)) / static_cast<double>(sorted.size());
}
}  // namespace

DeLongResult delong(const std::vector<double>& score, const std::vector<uint8_t>& positive, double conf_level,
                    const std::string& what) {
  std::vector<double> cases, controls;
  for (size_t i = 0; i < score.size(); ++i) (positive[i] ? cases : controls).push_back(score[i]);
  if (cases.empty()) throw InputError(what + ": no case observation, DeLong AUC undefined");
  if (controls.empty()) throw InputError(what + ": no control observation, DeLong AUC undefined");
  DeLongResult r;
  r.n_cases = cases.size();
  r.n_controls = controls.size();
  std::vector<double> sc = cases, sn = controls;
  std::sort(sc.begin(), sc.end());
  std::sort(sn.begin(), sn.end());
  r.v10.resize(cases.size());
  r.v01.resize(controls.size());
  for (size_t i = 0; i < cases.size(); ++i) r.v10[i] = placement(sn, cases[i]);
  // A control's placement among cases: cases above it, ties 1/2 = 1 - (below + ties/2).
  for (size_t j = 0; j < controls.size(); ++j) r.v01[j] = 1.0 - placement(sc, controls[j]);
  r.auc = mean(r.v10);
  r.variance = sample_cov(r.v10, r.v10) / r.n_cases + sample_cov(r.v01, r.v01) / r.n_controls;
  r.se = std::sqrt(r.variance);
  const double z = normal_quantile(0.5 + conf_level / 2.0);
  r.lower = std::clamp(r.auc - z * r.se, 0.0, 1.0);
  r.upper = std::clamp(r.auc + z * r.se, 0.0, 1.0);
  return r;
}

DeLongPaired delong_paired(const std::vector<double>& score_a, const std::vector<double>& score_b,
                           const std::vector<uint8_t>& positive, double conf_level, const std::string& what) {
  const DeLongResult a = delong(score_a, positive, conf_level, what);
  const DeLongResult b = delong(score_b, positive, conf_level, what);
  DeLongPaired p;
  p.auc_a = a.auc;
  p.auc_b = b.auc;
  p.variance_a = a.variance;
  p.variance_b = b.variance;
  p.covariance = sample_cov(a.v10, b.v10) / a.n_cases + sample_cov(a.v01, b.v01) / a.n_controls;
  const double diff = a.auc - b.auc;
  const double var = a.variance + b.variance - 2.0 * p.covariance;
  const double sd = std::sqrt(std::max(0.0, var));
  if (diff == 0.0 && sd == 0.0) {
    p.z = 0.0;  // pROC's convention for two identical or perfect curves
    p.p_value = 1.0;
  } else {
    p.z = diff / sd;
    p.p_value = two_sided_p(p.z);
  }
  const double zq = normal_quantile(0.5 + conf_level / 2.0);
  p.diff_lower = diff - zq * sd;
  p.diff_upper = diff + zq * sd;
  return p;
}

}  // namespace osteofm
