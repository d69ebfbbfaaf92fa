#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/autocast.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/interrupt.hpp"
#include "core/json_file.hpp"
#include "core/labels.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "core/provenance.hpp"
#include "core/runtime.hpp"
#include "data/cache_index.hpp"
#include "data/loader.hpp"
#include "eval/evaluate.hpp"
#include "eval/metrics.hpp"
#include "io/safetensors_torch.hpp"
#include "models/checkpoint.hpp"
#include "models/embed.hpp"
#include "train/adamw.hpp"
#include "train/batches.hpp"
#include "train/callbacks.hpp"
#include "train/class_weights.hpp"
#include "train/early_stopping.hpp"
#include "train/loss.hpp"
#include "train/run_folder.hpp"
#include "train/run_model.hpp"
#include "train/schedule.hpp"
#include "train/stepper.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// What a run trains on, every part of it checked before anything is written, so that a
// failed start leaves no half-made run behind.
struct TrainInputs {
  BuiltClassifier built;
  torch::Device device{torch::kCPU};
  Manifest manifest;
  Preprocessing pre;
  SplitData train, val, test;
  std::string selection_metric = "val_auc_macro";
};

TrainInputs load_train_inputs(const RunConfig& config, const fs::path& run, bool resume) {
  TrainInputs in;
  in.device = resolve_device(config.train.device);
  in.built = build_classifier(config);
  in.built.model->to(in.device);
  in.manifest = load_manifest(config.data.manifest);
  for (const auto& p : in.manifest.problems)
    if (p.error) throw InputError(p.message);
  const int workers = resolve_threads(config.data.workers);
  // A resumed run keeps the geometry it started with, even if the preset's default moved.
  const Preprocessing& preset = in.built.backbone.preset.preprocessing;
  in.pre = resume && is_run(run) ? run_preprocessing(run.string(), preset) : preset;
  in.train = load_split(in.manifest, "train", in.pre, workers, config.data.preload);
  in.val = load_split(in.manifest, "val", in.pre, workers, config.data.preload);
  in.test = load_split(in.manifest, "test", in.pre, workers, config.data.preload);
  for (SplitData* d : {&in.train, &in.val, &in.test}) d->resize_device = in.device;
  if (in.train.size() == 0 || in.val.size() == 0)
    throw InputError(in.manifest.path + ": needs train and val rows (make a split with 'osteofm data split')");
  if (in.built.model->head_type().regresses_tscore())
    for (int64_t i = 0; i < in.train.size(); ++i)
      if (std::isnan(in.train.t_scores[i]))
        throw InputError(in.train.where[i] + ": head.type tscore regresses the DXA T-score, and this training row has "
                         "none (a label alone is not enough); use head.type softmax or ordinal");

  // A validation split without every class has no macro AUC: epochs are selected on
  // accuracy then, and every output says so instead of calling it an AUC.
  std::string val_missing;
  for (int k = 0; k < kNumClasses; ++k)
    if (std::count(in.val.labels.begin(), in.val.labels.end(), k) == 0)
      val_missing += std::string(val_missing.empty() ? "" : ", ") + kClassNames[k];
  if (!val_missing.empty()) {
    in.selection_metric = "val_accuracy";
    log_warning(
        "train",
        log_text("the validation split has no ", val_missing,
                 " images: macro AUC is undefined there, so the best epoch is selected on validation accuracy"));
  }
  return in;
}

// The run folder, under the caller's lock: a resumed run's config must be the given one;
// then config.json, preprocessing.json and provenance.json. True when it already held a run.
bool prepare_run_folder(const RunConfig& config, const fs::path& run, const TrainInputs& in) {
  const fs::path cfg_path = run / layout::kRunConfig;
  for (const fs::path& d : {run, run / layout::kCheckpoints}) remove_stale_temporaries(d.string());
  const bool existing = is_run(run);
  if (existing) {
    const json old = parse_json_file(cfg_path.string());
    if (old.is_discarded()) throw InputError(cfg_path.string() + ": not valid JSON; give another --out");
    const std::string diff = first_difference(run_identity(old), run_identity(config.document));
    if (!diff.empty())
      throw InputError(cfg_path.string() + ": differs from the given config at '" + diff +
                       "'; --resume continues the same run only (give another --out for a new one)");
  } else if (fs::exists(cfg_path)) {
    log_info("train", log_text(run.string(), " has no checkpoint yet (an earlier start stopped early): starting afresh"));
  }
  fs::create_directories(run / layout::kCheckpoints);
  write_file_atomic(cfg_path.string(), config.document.dump(2) + "\n");
  write_file_atomic((run / "preprocessing.json").string(), preprocessing_to_json(in.pre).dump(2) + "\n");
  std::vector<ProvenanceInput> inputs = {{"manifest", in.manifest.path}};
  const std::string& weights = config.backbone.weights;
  if (!weights.empty() && !is_random_weights(weights)) inputs.push_back({"weights", weights});
  write_provenance(run.string(), inputs,
                   {{"device", in.device.str()},
                    {"train_seed", config.train.seed},
                    {"image_pipeline", dicom_windowing_policy()},
                    {"preprocessing", preprocessing_to_json(in.pre)}});
  return existing;
}

// Frozen backbones train their head on features computed once; everything else on images.
std::unique_ptr<BatchSource> make_batch_source(const RunConfig& config, TrainInputs& in, const fs::path& run) {
  if (in.built.strategy->frozen_backbone() && config.train.feature_cache) {
    std::vector<const SplitData*> splits{&in.train, &in.val};
    if (in.test.size() > 0 && config.train.test_predictions) splits.push_back(&in.test);
    return feature_batches(in.built.model, splits, in.pre, config, (run / "feature_cache").string(), in.device);
  }
  return image_batches(in.train, in.pre, config.augment, config.data.prefetch, in.device);
}

// Class probabilities of a split [N, 3] (float64, CPU); `outputs`, when given, receives the
// head outputs too.
torch::Tensor split_probabilities(Classifier& model, BatchSource& source, const SplitData& d, torch::Device device,
                                  const std::string& run_dir, torch::Tensor* outputs = nullptr) {
  torch::InferenceMode guard;
  model->eval();
  CudaAutocast autocast(device.is_cuda());
  std::vector<torch::Tensor> out, raw;
  for (int64_t i = 0; i < d.size(); i += 64) {
    const int64_t e = std::min(i + 64, d.size());
    const auto o = source.outputs(model, d, i, e).to(torch::kFloat32);
    if (outputs) raw.push_back(o.to(torch::kCPU));
    out.push_back(torch::softmax(model->class_scores(o), -1).to(torch::kCPU, torch::kFloat64));
  }
  if (outputs) *outputs = raw.empty() ? torch::zeros({0, 1}) : torch::cat(raw);
  auto p = out.empty() ? torch::zeros({0, kNumClasses}, torch::kFloat64) : torch::cat(out);
  if (!torch::isfinite(p).all().item<bool>())
    throw RuntimeFailure(run_dir + ": the model's " + d.split + " probabilities are not finite (NaN or Inf weights)");
  return p;
}

ScoredSet scored_split(const SplitData& d, const torch::Tensor& probs) {
  ScoredSet s;
  s.label = d.labels;
  auto a = probs.accessor<double, 2>();
  for (int64_t i = 0; i < d.size(); ++i) s.score.push_back({a[i][0], a[i][1], a[i][2]});
  return s;
}

// What one epoch of the loop works with.
struct EpochLoop {
  Classifier model;
  BatchSource& source;
  const TrainingLoss& loss_of;
  OptimizerStepper& stepper;
  TrainCallbacks& callbacks;
  const Checkpointer& checkpoints;
  const SplitData& train;
  AdamW& optimizer;
  int64_t seed = 0, batch = 0, batches = 0;
  torch::Device device{torch::kCPU};
  std::string run_dir;
};

struct EpochTotals {
  double loss_sum = 0;
  int64_t seen = 0;
};

// One pass over the training rows in the epoch's order; stops at the next batch on Ctrl-C
// or SIGTERM, and on a loss that is not finite.
EpochTotals train_one_epoch(EpochLoop& loop, int epoch) {
  // Everything random in an epoch (order, augmentation, dropout) follows (seed, epoch).
  torch::manual_seed(loop.seed * 1000003 + epoch);
  loop.model->train();
  const auto perm = torch::randperm(loop.train.size(), torch::kInt64);
  loop.source.begin_epoch(std::vector<int64_t>(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel()),
                          loop.batch);
  EpochTotals totals;
  loop.optimizer.zero_grad();
  loop.callbacks.epoch_start(epoch, loop.batches);
  for (int64_t bi = 0; bi < loop.batches; ++bi) {
    if (interrupt_signal() != 0) {
      loop.callbacks.interrupted(epoch);
      throw Interrupted(interrupt_signal());
    }
    const auto idx = perm.slice(0, bi * loop.batch, std::min<int64_t>((bi + 1) * loop.batch, loop.train.size()));
    torch::Tensor outputs;
    {
      CudaAutocast autocast(loop.device.is_cuda());
      outputs = loop.source.next_train_outputs(loop.model, idx);
    }
    auto loss = loop.loss_of(loop.model, outputs, idx);
    const double lv = loss.item<double>();
    if (!std::isfinite(lv)) {
      const fs::path last = loop.checkpoints.last_path();
      throw RuntimeFailure(loop.run_dir + ": loss is " + format_double(lv) + " at epoch " + std::to_string(epoch + 1) +
                           ", batch " + std::to_string(bi + 1) + "; stopped. " +
                           (fs::exists(last) ? "The checkpoint of epoch " + std::to_string(epoch) +
                                                   " (saved while the loss was finite) is " + last.string()
                                             : std::string("No checkpoint was saved yet")));
    }
    loop.stepper.backward(loss);
    totals.loss_sum += lv * idx.size(0);
    totals.seen += idx.size(0);
    loop.callbacks.batch_end(bi, totals.loss_sum / totals.seen);
    loop.stepper.after_batch(bi, loop.batches);
  }
  return totals;
}

// predictions_<split>.csv of the finished model (the T-score's columns for a tscore head).
Predictions write_split_predictions(EpochLoop& loop, const TrainInputs& in, const SplitData& d, const fs::path& file) {
  Predictions p;
  p.source = file.string();
  p.image_id = d.image_id;
  p.patient_id = d.patient_id;
  torch::Tensor outputs;
  p.scored = scored_split(d, split_probabilities(loop.model, loop.source, d, loop.device, loop.run_dir, &outputs));
  for (const auto& h : in.manifest.passthrough_columns()) p.extra_header.push_back(h);
  p.extra = d.extra;
  if (loop.model->head_type().regresses_tscore()) {
    // The regression beside the classes: the DXA value (blank where the manifest has none)
    // and the predicted distribution's mean and SD; eval reads t_score and t_score_pred.
    torch::NoGradGuard no_grad;
    const auto [mean, sd] = loop.model->tscore_distribution(outputs);
    for (const char* h : {"t_score", "t_score_pred", "t_score_pred_sd"}) p.extra_header.push_back(h);
    for (int64_t i = 0; i < d.size(); ++i)
      for (const std::string& v : {std::isnan(d.t_scores[i]) ? std::string() : format_double(d.t_scores[i]),
                                   format_double(mean[i].item<double>()), format_double(sd[i].item<double>())})
        p.extra[i].push_back(v);
  }
  write_predictions(p.source, p);
  return p;
}

// After the loop: the best weights, adapters merged, the predictions, and the test metrics
// with thresholds chosen on validation.
void write_run_results(EpochLoop& loop, TrainInputs& in, const RunConfig& config, const fs::path& run) {
  const Checkpointer& checkpoints = loop.checkpoints;
  {
    auto best_tensors = load_safetensors(checkpoints.best_path().string());
    load_trainable(loop.model, best_tensors, checkpoints.best_path().string());
  }
  in.built.strategy->finalize(loop.model);
  const Predictions pv = write_split_predictions(loop, in, in.val, run / layout::kPredictionsVal);
  // A grid point of a sweep's nested selection never sees the test split: only the
  // selected configuration is evaluated there.
  if (in.test.size() == 0 || !config.train.test_predictions) return;
  const Predictions pt = write_split_predictions(loop, in, in.test, run / layout::kPredictionsTest);
  try {
    // Thresholds chosen on this run's validation predictions; patients clustered.
    json metrics = evaluate(pt, &pv, EvalOptions{});
    const std::string& w = config.backbone.weights;
    metrics["backbone"] = {{"preset", config.backbone.preset}, {"weights", w.empty() || is_random_weights(w) ? "random" : w}};
    write_file_atomic((run / layout::kMetricsTest).string(), metrics.dump(2) + "\n");
  } catch (const InputError& e) {
    log_warning("train", log_text("no metrics_test.json: ", e.what()));
  }
}

}  // namespace

TrainSummary train_run(const RunConfig& config, const std::string& run_dir, bool resume, TrainHooks hooks) {
  TrainSummary summary;
  const fs::path run(run_dir);
  // Refusals that need nothing read come first; then everything the input can get wrong
  // (preset, weights, strategy, manifest, splits) is checked before anything is written.
  if (is_run(run) && !resume)
    throw InputError(run_dir + ": already holds a run (checkpoints/last.safetensors); add --resume to continue it, "
                     "or give another --out");
  TrainInputs in = load_train_inputs(config, run, resume);
  Classifier model = in.built.model;
  summary.trainable_parameters = trainable_parameter_count(*model);
  summary.selection_metric = in.selection_metric;

  RunLock lock(run);  // one trainer at a time
  const bool existing = prepare_run_folder(config, run, in);
  const std::unique_ptr<BatchSource> source = make_batch_source(config, in, run);

  const TrainSettings& tc = config.train;
  const auto class_weight =
      torch::tensor(class_weights(in.train.labels, tc.loss == "weighted_ce"), torch::kFloat32).to(in.device);
  const auto loss_of =
      make_training_loss(model->head_type(), class_weight, tc.label_smoothing,
                         torch::tensor(in.train.labels, torch::kInt64), torch::tensor(in.train.t_scores, torch::kFloat64));
  AdamW opt(head_and_body_groups(*model, tc.lr_head, tc.lr_body, tc.weight_decay));
  const int epochs = tc.epochs, batch = tc.batch_size, accum = tc.grad_accum;
  const StepPlan plan = plan_steps(in.train.size(), batch, accum, epochs, tc.warmup_epochs);
  EarlyStopping selection(tc.patience);

  // The parts around the loop, in the order they hear of an epoch's end; then the caller's.
  auto checkpointer = std::make_unique<Checkpointer>(run / layout::kCheckpoints, model, opt, in.built.strategy->name());
  Checkpointer& checkpoints = *checkpointer;
  TrainCallbacks callbacks;
  callbacks.add(std::make_unique<JsonlLog>(run / layout::kRunLog));  // before the checkpoint: see truncate_log
  callbacks.add(std::move(checkpointer));
  callbacks.add(std::make_unique<StatusFile>(
      run / layout::kRunStatus,
      json{{"trainable_parameters", summary.trainable_parameters},
           {"strategy", in.built.strategy->name()},
           {"backbone", config.backbone.preset},
           {"random_weights", config.backbone.weights.empty() || is_random_weights(config.backbone.weights)}},
      epochs, summary.selection_metric, selection));
  callbacks.add(std::make_unique<EpochProgress>(run.filename().string(), epochs));
  for (auto& extra : hooks.callbacks) callbacks.add(std::move(extra));

  int start_epoch = 0;
  int64_t global_step = 0;
  if (existing) {
    const Checkpointer::ResumePoint at = checkpoints.restore(selection);
    start_epoch = at.epochs_done;
    global_step = at.global_step;
    summary.resumed = true;
    truncate_log(run / layout::kRunLog, start_epoch);
  } else if (fs::exists(run / layout::kRunLog)) {
    fs::remove(run / layout::kRunLog);
  }
  OptimizerStepper stepper(opt, accum, tc.clip_norm, WarmupCosine(plan.warmup_steps, plan.total_steps),
                           global_step);
  stepper.on_step = [&callbacks](int64_t step) { callbacks.optimizer_step(step); };

  EpochLoop loop{model,     *source,  *loss_of, stepper, callbacks, checkpoints, in.train, opt, tc.seed,
                 batch,     plan.batches_per_epoch, in.device, run_dir};
  int epoch = start_epoch;
  for (; epoch < epochs && !selection.should_stop(); ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    const EpochTotals totals = train_one_epoch(loop, epoch);
    const MetricValues vm = MetricEngine(scored_split(in.val, split_probabilities(model, *source, in.val, in.device, run_dir))).point();
    EpochEnd end;
    end.epochs_done = epoch + 1;
    end.improved = selection.update(epoch, std::isnan(vm[kAucMacro]) ? vm[kAccuracy] : vm[kAucMacro]);
    end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    end.train_loss = totals.loss_sum / std::max<int64_t>(1, totals.seen);
    end.val_auc_macro = vm[kAucMacro];
    end.val_accuracy = vm[kAccuracy];
    end.images = totals.seen;
    end.lr_head = opt.groups()[0].lr;
    end.lr_body = opt.groups()[1].lr;
    end.best_score = selection.best();
    end.best_epoch = selection.best_epoch() + 1;
    end.bad_epochs = selection.bad_epochs();
    end.global_step = stepper.global_step();
    callbacks.epoch_end(end);
  }

  write_run_results(loop, in, config, run);
  summary.epochs_run = epoch;
  summary.best_epoch = selection.best_epoch() + 1;
  summary.best_val_auc = selection.best();
  callbacks.train_end(epoch);
  return summary;
}

}  // namespace osteofm
