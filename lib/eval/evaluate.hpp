// metrics.json (design.md; screening keys from ../shared/fixtures/screening/README.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/bootstrap.hpp"
#include "eval/predictions.hpp"

namespace osteofm {

struct EvalOptions {
  int replicates = 2000;
  std::string ci = "percentile";  // or "bca"
  // Resample patients with all their images. The default: where no patient repeats, the
  // patient draw is the image draw exactly (same stream, same weights).
  bool cluster = true;
  uint64_t seed = 1;
  double conf_level = 0.95;
  int threads = 0;
  std::string by;                          // a passthrough column: subgroup AUCs per value
  std::vector<double> decision_thresholds;  // empty: 0.01 ... 0.50
  std::string no_validation_reason;        // said in the output when validation is null
};

// Point estimates, bootstrap CIs, confusion, DeLong per class, and the screening endpoints.
// Thresholds come from `validation` only (never from the test split); without it the
// output says so and leaves the threshold blocks out. Throws InputError when a test class
// has no images (one-vs-rest AUC undefined, as sklearn and pROC refuse too), when the
// two files share an image, or when --by names no column.
nlohmann::json evaluate(const Predictions& test, const Predictions* validation, const EvalOptions& options);

}  // namespace osteofm
