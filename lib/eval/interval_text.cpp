#include "eval/interval_text.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace osteofm {

namespace {
std::string fixed_places(double v, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}
std::string fixed_or_na(const nlohmann::json& v, int decimals) {
  return v.is_number() ? fixed_places(v.get<double>(), decimals) : "n/a";
}
}  // namespace

std::string interval_text(double value, std::optional<double> lower, std::optional<double> upper, int decimals,
                          const std::string& no_interval) {
  if (!lower || !upper) return fixed_places(value, decimals) + no_interval;
  return fixed_places(value, decimals) + " [" + fixed_places(*lower, decimals) + ", " + fixed_places(*upper, decimals) + "]";
}

std::string interval_text(const nlohmann::json& block, int decimals, const std::string& no_interval) {
  if (!block.is_object() || !block.contains("estimate") || !block["estimate"].is_number()) return "n/a";
  std::string s = fixed_places(block["estimate"].get<double>(), decimals);
  const auto ci = block.find("ci");
  if (ci == block.end() || !ci->is_array() || ci->size() != 2) return s + no_interval;
  return s + " [" + fixed_or_na((*ci)[0], decimals) + ", " + fixed_or_na((*ci)[1], decimals) + "]";
}

}  // namespace osteofm
