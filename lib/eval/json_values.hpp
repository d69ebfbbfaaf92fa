// How statistics appear in the JSON outputs: NaN as null, an interval as [lo, hi] or
// null, a value with its interval as {"estimate", "ci"}, a proportion as {"estimate",
// "wilson"}.
#pragma once
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/bootstrap.hpp"
#include "eval/screening.hpp"

namespace osteofm {

inline nlohmann::json number_or_null(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }
inline nlohmann::json interval_json(const Interval& iv) {
  return iv.defined ? nlohmann::json::array({iv.lower, iv.upper}) : nlohmann::json(nullptr);
}
inline nlohmann::json estimate_json(double estimate, const Interval& ci) {
  return {{"estimate", number_or_null(estimate)}, {"ci", interval_json(ci)}};
}
inline nlohmann::json wilson_json(const Proportion& p) {
  if (!p.defined()) return {{"estimate", nullptr}, {"wilson", nullptr}, {"reason", "empty denominator"}};
  return {{"estimate", p.estimate}, {"wilson", {p.lower, p.upper}}};
}
// Puts `value` at a dotted path ("auc_per_class.normal").
inline void put_path(nlohmann::json& root, const std::string& path, nlohmann::json value) {
  const auto dot = path.find('.');
  if (dot == std::string::npos) root[path] = std::move(value);
  else put_path(root[path.substr(0, dot)], path.substr(dot + 1), std::move(value));
}

}  // namespace osteofm
