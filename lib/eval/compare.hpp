// Comparing any number of models on the same test images: paired DeLong with Holm's
// correction per endpoint (../shared/fixtures/screening/README.md "Comparisons"), a paired
// patient-clustered bootstrap of the differences (macro AUC; sensitivity and specificity
// at each model's validation-chosen Youden threshold), and the ranking of a sweep.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/predictions.hpp"

namespace osteofm {

struct ModelPredictions {
  std::string name;
  Predictions test;
  std::optional<Predictions> validation;  // for the thresholds; absent: none compared
};

struct CompareOptions {
  int replicates = 2000;
  uint64_t seed = 1;
  double conf_level = 0.95;
  bool cluster = true;  // resample patients with all their images
  int threads = 0;
};

// Throws InputError when fewer than two models are given, names repeat, or the models'
// test images or labels differ (naming the first difference).
nlohmann::json compare_models(const std::vector<ModelPredictions>& models, const CompareOptions& options);

// Every run folder of a sweep with predictions_test.csv (and predictions_val.csv when
// there), named by folder, in folder-name order. Throws InputError when none is found.
std::vector<ModelPredictions> sweep_models(const std::string& sweep_dir);

}  // namespace osteofm
