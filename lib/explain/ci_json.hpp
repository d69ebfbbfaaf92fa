// How explain.json writes a statistic with its bootstrap CI.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/bootstrap.hpp"

namespace osteofm {

// {"estimate", "ci", "n", "valid_replicates"}; NaN and an undefined CI as null. The
// replicates ride along under kReplicatesKey until take_replicates removes them.
nlohmann::json ci_json(const StatisticCI& s, size_t n);
inline constexpr const char* kReplicatesKey = "_replicates";

// replicates.csv's text: a row per bootstrap replicate, a column per dotted path of
// `report` (empty where undefined or absent); then every kReplicatesKey is removed from
// `report`. Runs explained on the same images with the same bootstrap seed share their
// resamples row by row, so seed means combine these rows.
std::string take_replicates(nlohmann::json& report, const std::vector<std::string>& paths);

// The mean of the non-NaN `values` (of the images whose label is `only_class`; -1: all)
// with its bootstrap CI, resampled as `clusters` says; as ci_json writes it.
nlohmann::json mean_ci_json(const std::vector<double>& values, const std::vector<int>& labels, int only_class,
                            const std::vector<uint32_t>& clusters, size_t n_units, const BootstrapOptions& bootstrap);

}  // namespace osteofm
