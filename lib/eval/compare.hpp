// Comparing any number of models on the same test images: paired AUC tests with Holm's
// correction per endpoint (DeLong, ../shared/fixtures/screening/README.md "Comparisons";
// Obuchowski's clustered variance when patients repeat), a paired patient-clustered
// bootstrap of the differences (macro AUC; sensitivity and specificity at each model's
// validation-chosen Youden threshold), and the ranking of a sweep. A model trained at
// several seeds is their mean: every statistic is averaged over the seeds, on the same
// resamples, so its interval is that of the seed mean.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/predictions.hpp"

namespace osteofm {

// One training of a model: its test predictions, and its validation predictions for the
// thresholds (absent: no sensitivity or specificity).
struct SeedRun {
  std::string label;  // "seed-2", or the run folder
  Predictions test;
  std::optional<Predictions> validation;
};

struct ModelPredictions {
  ModelPredictions() = default;
  ModelPredictions(std::string name_, Predictions test_, std::optional<Predictions> validation_)
      : name(std::move(name_)), test(std::move(test_)), validation(std::move(validation_)) {}
  std::string name;
  Predictions test;
  std::optional<Predictions> validation;  // for the thresholds; absent: none compared
  // The same configuration trained at other seeds (a sweep's SWEEP/seeds/<run>/seed-*):
  // the model's statistics are then means over all its seeds, each at its own thresholds.
  std::vector<SeedRun> other_seeds;
  std::string first_seed_label = "first seed";
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

// The per-model part of compare_models for one model or more (no pairs, no ranking):
// "models" with each model's seed-averaged estimates and intervals, and "bootstrap".
nlohmann::json summarise_models(const std::vector<ModelPredictions>& models, const CompareOptions& options);

// Every run folder of a sweep with predictions_test.csv (and predictions_val.csv when
// there), named by folder, in folder-name order, each with its other seeds' finished
// runs (SWEEP/seeds/<run>/seed-*/ with predictions_test.csv and metrics_test.json). Throws
// InputError when none is found.
std::vector<ModelPredictions> sweep_models(const std::string& sweep_dir);

// The finished runs of a sweep variant's other seeds: SWEEP/seeds/<run>/seed-<S>/ with
// metrics_test.json (a run's last file), in seed order. compare, the table and reproduce's
// explain all count seeds by it.
std::vector<std::filesystem::path> finished_seed_runs(const std::filesystem::path& sweep_dir, const std::string& run);

}  // namespace osteofm
