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
  const AucComponents a = auc_components(score_a, positive, what), b = auc_components(score_b, positive, what);
  // Images independent (no clusters): the paired test is DeLong's; z and p as compare gives them.
  const PairedAucTest t = paired_auc_test(a, b, positive, {}, 0, conf_level);
  DeLongPaired p;
  p.auc_a = a.auc;
  p.auc_b = b.auc;
  p.variance_a = auc_covariance(a, a, positive, {}, 0);
  p.variance_b = auc_covariance(b, b, positive, {}, 0);
  p.covariance = auc_covariance(a, b, positive, {}, 0);
  p.z = t.z;
  p.p_value = t.p;
  // pROC's plain Wald interval of the difference (compare reports the bounded one).
  const double zq = normal_quantile(0.5 + conf_level / 2.0);
  p.diff_lower = t.difference - zq * t.se;
  p.diff_upper = t.difference + zq * t.se;
  return p;
}

}  // namespace osteofm
