#include "explain/ci_json.hpp"

#include <cmath>

#include "core/numbers.hpp"

namespace osteofm {
using nlohmann::json;

json ci_json(const StatisticCI& s, size_t n) {
  return {{"estimate", std::isnan(s.estimate) ? json(nullptr) : json(s.estimate)},
          {"ci", s.ci.defined ? json::array({s.ci.lower, s.ci.upper}) : json(nullptr)},
          {"n", n},
          {"valid_replicates", s.valid}};
}

json mean_ci_json(const std::vector<double>& v, const std::vector<int>& labels, int only_class,
                  const std::vector<uint32_t>& clusters, size_t n_units, const BootstrapOptions& bootstrap) {
  const int64_t N = static_cast<int64_t>(v.size());
  size_t n = 0;
  for (int64_t i = 0; i < N; ++i) n += !std::isnan(v[i]) && (only_class < 0 || labels[i] == only_class);
  const auto s = bootstrap_statistic(N, clusters, n_units, bootstrap, [&](const uint32_t* w) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < N; ++i) {
      if (std::isnan(v[i]) || (only_class >= 0 && labels[i] != only_class)) continue;
      num += w[i] * v[i];
      den += w[i];
    }
    return den > 0 ? num / den : kNaN;
  });
  return ci_json(s, n);
}

}  // namespace osteofm
