// DeLong's variance of the AUC and the paired DeLong test, with R pROC 1.18's
// conventions (direction "<": higher score = positive; ties count 1/2; sample
// variances; the AUC interval clipped to [0, 1]; z = 0, p = 1 when difference and its
// standard error are both 0).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

struct DeLongResult {
  double auc = 0, variance = 0, se = 0, lower = 0, upper = 0;
  size_t n_cases = 0, n_controls = 0;
  std::vector<double> v10;  // placement of each case among the controls
  std::vector<double> v01;  // placement of each control among the cases
};

// Throws InputError("<what>: no case observation" / "no control observation").
DeLongResult delong(const std::vector<double>& score, const std::vector<uint8_t>& positive, double conf_level,
                    const std::string& what);

struct DeLongPaired {
  double auc_a = 0, auc_b = 0, variance_a = 0, variance_b = 0, covariance = 0;
  double z = 0, p_value = 1, diff_lower = 0, diff_upper = 0;
};

DeLongPaired delong_paired(const std::vector<double>& score_a, const std::vector<double>& score_b,
                           const std::vector<uint8_t>& positive, double conf_level, const std::string& what);

}  // namespace osteofm
