// Nested hyper-parameter selection for sweeps: a sweep's "grid" (at the top, in a backbone
// entry or in a strategy entry) expands each variant into grid points; every point trains
// on train, is scored on validation only (its test split never predicted), and the point
// with the highest validation macro AUC is the variant's configuration. "seeds" repeats the
// selected configuration. Plain functions on JSON: the sweep runs the trainings.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dotted_values.hpp"  // describe_values of a point

namespace osteofm {

struct GridPoint {
  std::string name;       // "g1", "g2", ... in the order of expansion
  nlohmann::json values;  // {"train.lr_body": 1e-05, ...}: dotted config keys -> values
};

// The cartesian product of `grid` ({"key": [values], ...}; keys in their JSON order, the
// last varying fastest). An empty grid is one point with no values. InputError naming
// `source` for a key whose values are not a non-empty array, or duplicated values.
std::vector<GridPoint> expand_grid(const nlohmann::json& grid, const std::string& source);

// `config` (an unresolved train config) with each dotted key of `values` set.
nlohmann::json with_values(nlohmann::json config, const nlohmann::json& values);

// The seeds of a sweep's "seeds" (a non-empty array of distinct whole numbers); InputError
// naming `source` otherwise.
std::vector<int64_t> parse_seeds(const nlohmann::json& seeds, const std::string& source);

struct PointScore {
  std::string name;
  bool finished = false;
  double val_score = 0;  // status.json best_val_score
  std::string metric;    // status.json selection_metric
};

// The index of the point with the highest validation score; ties go to the first listed.
// -1 when any point has not finished (a fair selection needs them all).
int select_point(const std::vector<PointScore>& scores);

}  // namespace osteofm
