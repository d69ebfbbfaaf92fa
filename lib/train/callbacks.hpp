// What the training loop tells the parts around it, as PyTorch Lightning's callbacks do:
// the checkpoints, the JSONL log, status.json and the progress display each listen to the
// loop instead of living in it. The loop calls them in the order they were added; the
// order is part of the run's contract (the log line before the checkpoint, so a resume can
// drop lines past its checkpoint; status.json after it).
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "core/layout.hpp"
#include "core/progress.hpp"
#include "models/classifier.hpp"
#include "train/adamw.hpp"
#include "train/early_stopping.hpp"

namespace osteofm {

// One finished epoch, as the loop saw it.
struct EpochEnd {
  int epochs_done = 0;  // 1-based number of the epoch just finished
  double train_loss = 0, val_auc_macro = 0, val_accuracy = 0;
  bool improved = false;
  double seconds = 0;
  int64_t images = 0;
  double lr_head = 0, lr_body = 0;
  // Selection and counters after this epoch.
  double best_score = 0;
  int best_epoch = 0;  // 1-based
  int bad_epochs = 0;
  int64_t global_step = 0;
};
// The epoch's line of log.jsonl (and of the structured progress on stderr).
nlohmann::json epoch_log_line(const EpochEnd& e);

class TrainCallback {
 public:
  virtual ~TrainCallback() = default;
  virtual void on_epoch_start(int /*epoch*/, int64_t /*batches*/) {}
  virtual void on_batch_end(int64_t /*batch*/, double /*mean_loss*/) {}
  virtual void on_optimizer_step(int64_t /*global_step*/) {}
  virtual void on_epoch_end(const EpochEnd&) {}
  // After the best weights' predictions are written; `epochs_done` counts every epoch run.
  virtual void on_train_end(int /*epochs_done*/) {}
  // Ctrl-C or SIGTERM stopped the run; `epochs_done` are in its last checkpoint.
  virtual void on_interrupted(int /*epochs_done*/) {}
};

class TrainCallbacks {
 public:
  void add(std::unique_ptr<TrainCallback> c) { list_.push_back(std::move(c)); }
  void epoch_start(int epoch, int64_t batches);
  void batch_end(int64_t batch, double mean_loss);
  void optimizer_step(int64_t global_step);
  void epoch_end(const EpochEnd& e);
  void train_end(int epochs_done);
  void interrupted(int epochs_done);

 private:
  std::vector<std::unique_ptr<TrainCallback>> list_;
};

// log.jsonl: one line per epoch.
class JsonlLog : public TrainCallback {
 public:
  explicit JsonlLog(std::filesystem::path path) : path_(std::move(path)) {}
  void on_epoch_end(const EpochEnd& e) override;

 private:
  std::filesystem::path path_;
};

// checkpoints/best.safetensors (the trainable tensors of the best epoch) and
// checkpoints/last.safetensors (those of the last epoch, with the optimizer's state and the
// loop's counters as metadata), written atomically after every epoch. restore() reads
// last.safetensors back; the metadata keys live here only.
class Checkpointer : public TrainCallback {
 public:
  Checkpointer(std::filesystem::path dir, Classifier model, AdamW& optimizer, std::string strategy);
  void on_epoch_end(const EpochEnd& e) override;

  struct ResumePoint {
    int epochs_done = 0;
    int64_t global_step = 0;
  };
  // Loads the trainable tensors and the optimizer state of last.safetensors into the model
  // and optimizer, and the selection state into `selection`.
  ResumePoint restore(EarlyStopping& selection);
  std::filesystem::path best_path() const { return dir_ / layout::kBestCheckpoint; }
  std::filesystem::path last_path() const { return dir_ / layout::kLastCheckpoint; }

 private:
  void save(const std::filesystem::path& path, bool with_optimizer_state, const EpochEnd& e);
  std::filesystem::path dir_;
  Classifier model_;
  AdamW& optimizer_;
  std::string strategy_;
};

// status.json: the run's state for a sweep or a person (training, then done).
class StatusFile : public TrainCallback {
 public:
  // `fixed`: the fields that do not change during the run (strategy, backbone, ...).
  StatusFile(std::filesystem::path path, nlohmann::json fixed, int epochs, std::string selection_metric,
             const EarlyStopping& selection);
  void on_epoch_end(const EpochEnd& e) override { write("training", e.epochs_done); }
  void on_train_end(int epochs_done) override { write("done", epochs_done); }
  void on_interrupted(int epochs_done) override { write("interrupted", epochs_done); }

 private:
  void write(const char* state, int epochs_done) const;
  std::filesystem::path path_;
  nlohmann::json fixed_;
  int epochs_;
  std::string selection_metric_;
  const EarlyStopping& selection_;
};

// On a terminal one line per run (each epoch's bar drawn over the last, ended by a summary);
// otherwise one JSON line per epoch on stderr.
class EpochProgress : public TrainCallback {
 public:
  EpochProgress(std::string run_name, int epochs) : run_name_(std::move(run_name)), epochs_(epochs) {}
  void on_epoch_start(int epoch, int64_t batches) override;
  void on_batch_end(int64_t batch, double mean_loss) override;
  void on_epoch_end(const EpochEnd& e) override;
  void on_train_end(int epochs_done) override { end_line(std::to_string(epochs_done) + " epochs"); }
  void on_interrupted(int epochs_done) override { end_line("interrupted after " + std::to_string(epochs_done) + " epochs"); }

 private:
  void end_line(const std::string& how);
  std::string run_name_;
  int epochs_;
  std::unique_ptr<ProgressBar> bar_;
  std::string last_summary_;  // the last epoch's, on a terminal
};

// Test only: `signal` (SIGKILL, or SIGINT as a Ctrl-C would) to this process right after
// optimizer step `step`, for the kill-and-resume tests. Injected by the caller of train_run
// (TrainHooks): `osteofm train` reads OSTEOFM_TEST_KILL_AFTER_STEPS and
// OSTEOFM_TEST_INTERRUPT_AFTER_STEPS; the library reads no environment.
std::unique_ptr<TrainCallback> signal_after_steps(int64_t step, int signal);

}  // namespace osteofm
