#include "train/callbacks.hpp"

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/log.hpp"
#include "io/safetensors_torch.hpp"
#include "train/run_folder.hpp"
#include "train/run_model.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

json epoch_log_line(const EpochEnd& e) {
  return {{"epoch", e.epochs_done},   {"train_loss", e.train_loss}, {"val_auc_macro", e.val_auc_macro},
          {"val_accuracy", e.val_accuracy}, {"lr_head", e.lr_head},     {"lr_body", e.lr_body},
          {"seconds", e.seconds},     {"images_per_s", e.images / e.seconds}};
}

void TrainCallbacks::epoch_start(int epoch, int64_t batches) {
  for (auto& c : list_) c->on_epoch_start(epoch, batches);
}
void TrainCallbacks::batch_end(int64_t batch, double mean_loss) {
  for (auto& c : list_) c->on_batch_end(batch, mean_loss);
}
void TrainCallbacks::optimizer_step(int64_t global_step) {
  for (auto& c : list_) c->on_optimizer_step(global_step);
}
void TrainCallbacks::epoch_end(const EpochEnd& e) {
  for (auto& c : list_) c->on_epoch_end(e);
}
void TrainCallbacks::interrupted(int epochs_done) {
  for (auto& c : list_) c->on_interrupted(epochs_done);
}

void TrainCallbacks::train_end(int epochs_done) {
  for (auto& c : list_) c->on_train_end(epochs_done);
}

void JsonlLog::on_epoch_end(const EpochEnd& e) { append_json_line(path_.string(), epoch_log_line(e)); }

namespace {
std::map<std::string, torch::Tensor> trainable_tensors(Classifier& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m->named_parameters())
    if (item.value().requires_grad()) out["model." + item.key()] = item.value();
  return out;
}

// A checkpoint's integer metadata; anything else names the file and key.
int64_t meta_int(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& file) {
  auto it = meta.find(key);
  if (it == meta.end()) throw InputError(file + ": metadata '" + key + "' is missing (not a checkpoint of osteofm train?)");
  const auto v = parse_number(it->second);
  if (!v || *v != std::floor(*v)) throw InputError(file + ": metadata '" + key + "' = '" + it->second + "' is not a whole number");
  return static_cast<int64_t>(*v);
}
}  // namespace

Checkpointer::Checkpointer(fs::path dir, Classifier model, AdamW& optimizer, std::string strategy)
    : dir_(std::move(dir)), model_(std::move(model)), optimizer_(optimizer), strategy_(std::move(strategy)) {}

void Checkpointer::on_epoch_end(const EpochEnd& e) {
  if (e.improved) save(best_path(), false, e);
  save(last_path(), true, e);
}

void Checkpointer::save(const fs::path& path, bool with_optimizer_state, const EpochEnd& e) {
  auto tensors = trainable_tensors(model_);
  if (with_optimizer_state)
    for (auto& [k, v] : optimizer_.state()) tensors[k] = v;
  save_safetensors(path.string(), tensors,
                   {{"epochs_done", std::to_string(e.epochs_done)},
                    {"best_epoch", std::to_string(e.best_epoch - 1)},  // 0-based in the file
                    {"bad_epochs", std::to_string(e.bad_epochs)},
                    {"global_step", std::to_string(e.global_step)},
                    {"best_val_auc", format_double(e.best_score)},
                    {"strategy", strategy_}});
}

Checkpointer::ResumePoint Checkpointer::restore(EarlyStopping& selection) {
  const std::string lp = last_path().string();
  auto file = SafetensorsFile::open(lp);
  std::map<std::string, torch::Tensor> saved;
  for (const auto& e : file->tensors()) {
    saved[e.name] = tensor_from(file, e).clone();
    // Resuming from NaN weights would fail at the first batch and blame the loss.
    if (saved[e.name].is_floating_point() && !torch::isfinite(saved[e.name]).all().item<bool>())
      throw InputError(lp + ": tensor '" + e.name + "' holds NaN or Inf; this checkpoint cannot be resumed from "
                       "(train again into a new --out)");
  }
  load_trainable(model_, saved, lp);
  optimizer_.load_state(saved);
  const auto& meta = file->header().metadata;
  ResumePoint at;
  at.epochs_done = static_cast<int>(meta_int(meta, "epochs_done", lp));
  const int best_epoch = static_cast<int>(meta_int(meta, "best_epoch", lp));
  const int bad_epochs = static_cast<int>(meta_int(meta, "bad_epochs", lp));
  at.global_step = meta_int(meta, "global_step", lp);
  const auto best = meta.count("best_val_auc") ? parse_number(meta.at("best_val_auc")) : std::nullopt;
  if (!best) throw InputError(lp + ": metadata 'best_val_auc' is missing or not a number");
  selection.restore(*best, best_epoch, bad_epochs);
  return at;
}

StatusFile::StatusFile(fs::path path, json fixed, int epochs, std::string selection_metric, const EarlyStopping& selection)
    : path_(std::move(path)), fixed_(std::move(fixed)), epochs_(epochs), selection_metric_(std::move(selection_metric)),
      selection_(selection) {}

void StatusFile::write(const char* state, int epochs_done) const {
  json status = fixed_;
  status["state"] = state;
  status["epoch"] = epochs_done;
  status["epochs"] = epochs_;
  status["selection_metric"] = selection_metric_;
  status["best_val_score"] = selection_.best();
  status["best_val_auc"] = selection_metric_ == "val_auc_macro" ? json(selection_.best()) : json(nullptr);
  status["best_epoch"] = selection_.best_epoch() + 1;
  write_file_atomic(path_.string(), status.dump(2) + "\n");
}

void EpochProgress::end_line(const std::string& how) {
  if (!ProgressBar::enabled() || last_summary_.empty()) return;
  write_progress("\r\033[K" + run_name_ + ": " + how + "; last epoch: " + last_summary_ + "\n");
  last_summary_.clear();
}

void EpochProgress::on_epoch_start(int epoch, int64_t batches) {
  bar_ = std::make_unique<ProgressBar>(run_name_ + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs_),
                                       static_cast<long>(batches));
}

void EpochProgress::on_batch_end(int64_t batch, double mean_loss) {
  char loss_text[48];
  std::snprintf(loss_text, sizeof loss_text, "loss %.4f", mean_loss);
  bar_->update(static_cast<long>(batch + 1), loss_text);
}

void EpochProgress::on_epoch_end(const EpochEnd& e) {
  if (ProgressBar::enabled()) {
    char text[160];
    std::snprintf(text, sizeof text, "loss %.4f  val macro AUC %.4f  (best %.4f, epoch %d)  %.0f images/s", e.train_loss,
                  e.val_auc_macro, e.best_score, e.best_epoch, e.images / e.seconds);
    // One line per run on a terminal: the next epoch's bar draws over this one.
    bar_->finish_in_place(text);
    last_summary_ = text;
  } else {
    write_progress(epoch_log_line(e).dump() + "\n");  // structured: one JSON object per epoch
  }
  bar_.reset();
}

namespace {
class KillAfterSteps : public TrainCallback {
 public:
  KillAfterSteps(int64_t step, int signal) : step_(step), signal_(signal) {}
  void on_optimizer_step(int64_t global_step) override {
    if (step_ > 0 && global_step == step_) std::raise(signal_);
  }

 private:
  int64_t step_;
  int signal_;
};
}  // namespace

std::unique_ptr<TrainCallback> signal_after_steps(int64_t step, int signal) {
  return std::make_unique<KillAfterSteps>(step, signal);
}

}  // namespace osteofm
