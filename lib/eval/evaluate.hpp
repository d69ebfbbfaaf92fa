// metrics.json (design.md) and the paired comparison of two models.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "eval/bootstrap.hpp"
#include "eval/predictions.hpp"

namespace osteofm {

struct EvalOptions {
  int replicates = 2000;
  std::string ci = "percentile";  // or "bca"
  bool cluster = false;           // resample patients with all their images
  uint64_t seed = 1;
  double conf_level = 0.95;
  int threads = 0;
};

// Point estimates, bootstrap CIs, confusion, DeLong per class. Throws InputError when a
// class has no images (one-vs-rest AUC undefined, as sklearn and pROC refuse too).
nlohmann::json evaluate(const Predictions& predictions, const EvalOptions& options);

// Paired DeLong per class and for osteoporosis-vs-rest; rows matched by image_id
// (any id in one file and not the other, or a label that differs, is an InputError).
nlohmann::json compare_predictions(const Predictions& a, const Predictions& b, double conf_level = 0.95);

}  // namespace osteofm
