// How statistics appear in the JSON outputs: NaN as null, an interval as [lo, hi] or
// null, a value with its interval as {"estimate", "ci"}, a proportion as {"estimate",
// "wilson"}.
#pragma once
#include <cmath>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/dotted_values.hpp"
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
// Puts `value` at a dotted path ("auc_per_class.normal"); the parts before the last are
// objects (the caller's own report: a value in the way is a programming error).
inline void put_path(nlohmann::json& root, const std::string& path, nlohmann::json value) {
  nlohmann::json* node = make_dotted(root, path);
  if (!node) throw std::logic_error("put_path: a value stands where '" + path + "' needs an object");
  *node = std::move(value);
}

}  // namespace osteofm
