// One training run in a run folder (design.md "Run directory"): config.json,
// status.json, log.jsonl, checkpoints/ (trainable tensors + optimizer state, written
// atomically), predictions_val.csv, predictions_test.csv, metrics_test.json.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "train/callbacks.hpp"
#include "train/config.hpp"

namespace osteofm {

struct TrainSummary {
  int epochs_run = 0, best_epoch = -1;
  double best_val_auc = 0;  // the selection score: macro AUC, or accuracy (selection_metric)
  std::string selection_metric = "val_auc_macro";
  long long trainable_parameters = 0;
  bool resumed = false;
};

// `config` is a resolved config's typed view (train/config.hpp). With resume, an existing run continues from its
// last checkpoint and ends with the same numbers as an uninterrupted run (CPU, same seed).
// A NaN/Inf loss stops with a RuntimeFailure and keeps the last good checkpoint.
// What a caller adds to a run: callbacks that hear of every step and epoch after the
// trainer's own (log, checkpoints, status, progress), e.g. the tests' kill switch. New
// per-epoch behaviour is a new TrainCallback, never an edit of the loop.
struct TrainHooks {
  std::vector<std::unique_ptr<TrainCallback>> callbacks;
};
TrainSummary train_run(const RunConfig& config, const std::string& run_dir, bool resume, TrainHooks hooks = {});

}  // namespace osteofm
