#include "explain/ci_json.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/csv.hpp"
#include "core/dotted_values.hpp"
#include "core/numbers.hpp"

namespace osteofm {
using nlohmann::json;

json ci_json(const StatisticCI& s, size_t n) {
  json j = {{"estimate", std::isnan(s.estimate) ? json(nullptr) : json(s.estimate)},
            {"ci", s.ci.defined ? json::array({s.ci.lower, s.ci.upper}) : json(nullptr)},
            {"n", n},
            {"valid_replicates", s.valid}};
  if (!s.values.empty()) {
    json values = json::array();
    for (double v : s.values) values.push_back(std::isnan(v) ? json(nullptr) : json(v));
    j[kReplicatesKey] = std::move(values);
  }
  return j;
}

std::string take_replicates(json& report, const std::vector<std::string>& paths) {
  std::vector<const json*> columns;
  size_t rows = 0;
  for (const auto& path : paths) {
    const json* node = find_dotted(report, path);
    const json* values = node && node->is_object() && node->contains(kReplicatesKey) ? &(*node)[kReplicatesKey] : nullptr;
    columns.push_back(values);
    if (values) rows = std::max(rows, values->size());
  }
  std::string csv = "replicate";
  for (const auto& p : paths) csv += "," + p;
  csv += "\n";
  for (size_t r = 0; r < rows; ++r) {
    csv += std::to_string(r);
    for (const json* c : columns) {
      csv += ",";
      if (c && r < c->size() && (*c)[r].is_number()) csv += format_double((*c)[r].get<double>());
    }
    csv += "\n";
  }
  // The replicates leave the report: explain.json keeps estimates and intervals.
  std::function<void(json&)> strip = [&](json& j) {
    if (j.is_object()) {
      j.erase(kReplicatesKey);
      for (auto& [k, v] : j.items()) strip(v);
    } else if (j.is_array()) {
      for (auto& v : j) strip(v);
    }
  };
  strip(report);
  return csv;
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
