#include "sweep/grid.hpp"

#include <cmath>
#include <set>

#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

std::vector<GridPoint> expand_grid(const json& grid, const std::string& source) {
  std::vector<GridPoint> points{{"", json::object()}};
  if (grid.is_null()) return {{"g1", json::object()}};
  if (!grid.is_object()) throw InputError(source + ": 'grid' must be an object of KEY: [values]");
  for (auto it = grid.begin(); it != grid.end(); ++it) {
    const json& values = it.value();
    if (!values.is_array() || values.empty())
      throw InputError(source + ": grid key '" + it.key() + "' needs a non-empty array of values");
    std::set<std::string> seen;
    for (const auto& v : values)
      if (!seen.insert(v.dump()).second)
        throw InputError(source + ": grid key '" + it.key() + "' lists " + v.dump() + " twice");
    std::vector<GridPoint> next;
    for (const auto& p : points)
      for (const auto& v : values) {
        GridPoint q = p;
        q.values[it.key()] = v;
        next.push_back(q);
      }
    points = std::move(next);
  }
  for (size_t i = 0; i < points.size(); ++i) points[i].name = "g" + std::to_string(i + 1);
  return points;
}

json with_values(json config, const json& values) {
  for (auto it = values.begin(); it != values.end(); ++it) {
    std::string blocked_at;
    json* node = make_dotted(config, it.key(), &blocked_at);
    if (!node)
      throw InputError("grid key '" + it.key() + "': '" + blocked_at + "' is a value, not a group of keys");
    *node = it.value();
  }
  return config;
}

std::vector<int64_t> parse_seeds(const json& seeds, const std::string& source) {
  if (!seeds.is_array() || seeds.empty()) throw InputError(source + ": 'seeds' must be a non-empty array of whole numbers");
  std::vector<int64_t> out;
  std::set<int64_t> seen;
  for (const auto& s : seeds) {
    const bool whole = s.is_number_integer() || (s.is_number_float() && std::floor(s.get<double>()) == s.get<double>());
    if (!whole || s.get<double>() < 0) throw InputError(source + ": seed " + s.dump() + " is not a whole number >= 0");
    const int64_t v = static_cast<int64_t>(s.get<double>());
    if (!seen.insert(v).second) throw InputError(source + ": seed " + std::to_string(v) + " is listed twice");
    out.push_back(v);
  }
  return out;
}

int select_point(const std::vector<PointScore>& scores) {
  int best = -1;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!scores[i].finished || !std::isfinite(scores[i].val_score)) return -1;
    if (best < 0 || scores[i].val_score > scores[best].val_score) best = static_cast<int>(i);
  }
  return best;
}

}  // namespace osteofm
