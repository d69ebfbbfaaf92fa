#include "eval/delong.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "eval/clustered_auc.hpp"
#include "eval/normal.hpp"

namespace osteofm {

DeLongResult delong(const std::vector<double>& score, const std::vector<uint8_t>& positive, double conf_level,
                    const std::string& what) {
  AucComponents c = auc_components(score, positive, what);
  DeLongResult r;
  r.n_cases = c.v10.size();
  r.n_controls = c.v01.size();
  r.auc = c.auc;
  r.variance = auc_covariance(c, c, positive, {}, 0);
  r.v10 = std::move(c.v10);
  r.v01 = std::move(c.v01);
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
  p.covariance = auc_covariance({a.auc, a.v10, a.v01}, {b.auc, b.v10, b.v01}, positive, {}, 0);
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
