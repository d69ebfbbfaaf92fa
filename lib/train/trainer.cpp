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
#include "core/labels.hpp"
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

TrainSummary train_run(const json& config, const std::string& run_dir, bool resume) {
  TrainSummary summary;
  const fs::path run(run_dir);
  const fs::path cfg_path = run / "config.json";
  // Refusals that need nothing read come first; then everything the input can get wrong
  // (preset, weights, strategy, manifest, splits) is checked before anything is written,
  // so a failed start leaves no half-made run behind.
  if (is_run(run) && !resume)
    throw InputError(run_dir + ": already holds a run (checkpoints/last.safetensors); add --resume to continue it, "
                     "or give another --out");

  const json& tc = config["train"];
  const int64_t seed = tc["seed"].get<int64_t>();
  const torch::Device device = resolve_device(tc["device"].get<std::string>());
  const json& bc = config["backbone"];
  BuiltClassifier built = build_classifier(config);
  Backbone& b = built.backbone;
  Classifier model = built.model;
  auto& strategy = built.strategy;
  model->to(device);
  summary.trainable_parameters = trainable_parameter_count(*model);

  Manifest manifest = load_manifest(config["data"]["manifest"]);
  for (const auto& p : manifest.problems)
    if (p.error) throw InputError(p.message);
  const int workers = resolve_threads(config["data"]["workers"].get<int>());
  // A resumed run keeps the geometry it started with, even if the preset's default moved.
  const Preprocessing pre =
      resume && is_run(run) ? run_preprocessing(run_dir, b.preset.preprocessing) : b.preset.preprocessing;
  const std::string preload = config["data"]["preload"];
  SplitData train = load_split(manifest, "train", pre, workers, preload),
            val = load_split(manifest, "val", pre, workers, preload),
            test = load_split(manifest, "test", pre, workers, preload);
  for (SplitData* d : {&train, &val, &test}) d->resize_device = device;
  if (train.size() == 0 || val.size() == 0)
    throw InputError(manifest.path + ": needs train and val rows (make a split with 'osteofm data split')");
  const std::string head_type = config["head"]["type"];
  if (head_type == "tscore")
    for (int64_t i = 0; i < train.size(); ++i)
      if (std::isnan(train.t_scores[i]))
        throw InputError(train.where[i] + ": head.type tscore regresses the DXA T-score, and this training row has "
                         "none (a label alone is not enough); use head.type softmax or ordinal");

  // A validation split without every class has no macro AUC: epochs are selected on
  // accuracy then, and every output says so instead of calling it an AUC.
  std::string val_missing;
  for (int k = 0; k < kNumClasses; ++k)
    if (std::count(val.labels.begin(), val.labels.end(), k) == 0)
      val_missing += std::string(val_missing.empty() ? "" : ", ") + kClassNames[k];
  summary.selection_metric = val_missing.empty() ? "val_auc_macro" : "val_accuracy";
  if (!val_missing.empty())
    log_warning(
        "train",
        log_text("the validation split has no ", val_missing,
                 " images: macro AUC is undefined there, so the best epoch is selected on validation accuracy"));

  // The folder: one trainer at a time; temporaries of a killed writer removed.
  RunLock lock(run);
  for (const fs::path& d : {run, run / "checkpoints"}) remove_stale_temporaries(d.string());
  const bool existing = is_run(run);
  if (existing) {
    const json old = json::parse(read_file(cfg_path.string()), nullptr, false);
    if (old.is_discarded()) throw InputError(cfg_path.string() + ": not valid JSON; give another --out");
    const std::string diff = first_difference(run_identity(old), run_identity(config));
    if (!diff.empty())
      throw InputError(cfg_path.string() + ": differs from the given config at '" + diff +
                       "'; --resume continues the same run only (give another --out for a new one)");
  } else if (fs::exists(cfg_path)) {
    log_info("train", log_text(run_dir, " has no checkpoint yet (an earlier start stopped early): starting afresh"));
  }
  fs::create_directories(run / "checkpoints");
  write_file_atomic(cfg_path.string(), config.dump(2) + "\n");
  write_file_atomic((run / "preprocessing.json").string(), preprocessing_to_json(pre).dump(2) + "\n");
  {
    std::vector<ProvenanceInput> inputs = {{"manifest", manifest.path}};
    const std::string weights = bc["weights"];
    if (!weights.empty() && !is_random_weights(weights)) inputs.push_back({"weights", weights});
    write_provenance(run_dir, inputs,
                     {{"device", device.str()}, {"train_seed", seed}, {"image_pipeline", dicom_windowing_policy()},
                      {"preprocessing", preprocessing_to_json(pre)}});
  }

  // Frozen backbones train their head on features computed once; everything else on images.
  std::unique_ptr<BatchSource> source;
  if (strategy->frozen_backbone() && tc["feature_cache"].get<bool>()) {
    std::vector<const SplitData*> splits{&train, &val};
    if (test.size() > 0 && tc["test_predictions"].get<bool>()) splits.push_back(&test);
    source = feature_batches(model, splits, pre, config, (run / "feature_cache").string(), device);
  } else {
    source = image_batches(train, pre, config["augment"], config["data"]["prefetch"].get<int>(), device);
  }

  const auto class_weight =
      torch::tensor(class_weights(train.labels, tc["loss"] == "weighted_ce"), torch::kFloat32).to(device);
  const auto y_train = torch::tensor(train.labels, torch::kInt64);
  const auto loss_of = make_training_loss(head_type, class_weight, tc["label_smoothing"].get<double>(), y_train,
                                          torch::tensor(train.t_scores, torch::kFloat64));

  AdamW opt(head_and_body_groups(*model, tc["lr_head"], tc["lr_body"], tc["weight_decay"]));
  const int epochs = tc["epochs"], batch = tc["batch_size"], accum = tc["grad_accum"], patience = tc["patience"];
  const StepPlan plan = plan_steps(train.size(), batch, accum, epochs, tc["warmup_epochs"].get<double>());
  const int64_t batches = plan.batches_per_epoch;
  EarlyStopping selection(patience);

  // The parts around the loop, in the order they hear of an epoch's end.
  auto checkpointer = std::make_unique<Checkpointer>(run / "checkpoints", model, opt, strategy->name());
  Checkpointer& checkpoints = *checkpointer;
  TrainCallbacks callbacks;
  callbacks.add(std::make_unique<JsonlLog>(run / "log.jsonl"));  // before the checkpoint: see truncate_log
  callbacks.add(std::move(checkpointer));
  callbacks.add(std::make_unique<StatusFile>(
      run / "status.json",
      json{{"trainable_parameters", summary.trainable_parameters},
           {"strategy", strategy->name()},
           {"backbone", bc["preset"]},
           {"random_weights", bc["weights"].get<std::string>().empty() || is_random_weights(bc["weights"])}},
      epochs, summary.selection_metric, selection));
  callbacks.add(std::make_unique<EpochProgress>(fs::path(run_dir).filename().string(), epochs));
  if (auto kill = kill_after_steps_from_env()) callbacks.add(std::move(kill));

  int start_epoch = 0;
  int64_t global_step = 0;
  if (existing) {
    const Checkpointer::ResumePoint at = checkpoints.restore(selection);
    start_epoch = at.epochs_done;
    global_step = at.global_step;
    summary.resumed = true;
    truncate_log(run / "log.jsonl", start_epoch);
  } else if (fs::exists(run / "log.jsonl")) {
    fs::remove(run / "log.jsonl");
  }
  OptimizerStepper stepper(opt, accum, tc["clip_norm"].get<double>(), WarmupCosine(plan.warmup_steps, plan.total_steps),
                           global_step);
  stepper.on_step = [&callbacks](int64_t step) { callbacks.optimizer_step(step); };

  // Class probabilities of a split; `outputs`, when given, receives the head outputs too.
  auto predict = [&](const SplitData& d, torch::Tensor* outputs = nullptr) {
    torch::InferenceMode guard;
    model->eval();
    CudaAutocast autocast(device.is_cuda());
    std::vector<torch::Tensor> out, raw;
    for (int64_t i = 0; i < d.size(); i += 64) {
      const int64_t e = std::min(i + 64, d.size());
      const auto o = source->outputs(model, d, i, e).to(torch::kFloat32);
      if (outputs) raw.push_back(o.to(torch::kCPU));
      out.push_back(torch::softmax(model->class_scores(o), -1).to(torch::kCPU, torch::kFloat64));
    }
    if (outputs) *outputs = raw.empty() ? torch::zeros({0, 1}) : torch::cat(raw);
    auto p = out.empty() ? torch::zeros({0, kNumClasses}, torch::kFloat64) : torch::cat(out);
    if (!torch::isfinite(p).all().item<bool>())
      throw RuntimeFailure(run_dir + ": the model's " + d.split + " probabilities are not finite (NaN or Inf weights)");
    return p;
  };
  auto scored = [&](const SplitData& d, const torch::Tensor& probs) {
    ScoredSet s;
    s.label = d.labels;
    auto a = probs.accessor<double, 2>();
    for (int64_t i = 0; i < d.size(); ++i) s.score.push_back({a[i][0], a[i][1], a[i][2]});
    return s;
  };
  int epoch = start_epoch;
  for (; epoch < epochs && !selection.should_stop(); ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    // Everything random in an epoch (order, augmentation, dropout) follows (seed, epoch).
    torch::manual_seed(seed * 1000003 + epoch);
    model->train();
    const auto perm = torch::randperm(train.size(), torch::kInt64);
    source->begin_epoch(std::vector<int64_t>(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel()), batch);
    double loss_sum = 0;
    int64_t seen = 0;
    opt.zero_grad();
    callbacks.epoch_start(epoch, batches);
    for (int64_t bi = 0; bi < batches; ++bi) {
      if (interrupt_signal() != 0) {
        callbacks.interrupted(epoch);
        throw Interrupted(interrupt_signal());
      }
      const auto idx = perm.slice(0, bi * batch, std::min<int64_t>((bi + 1) * batch, train.size()));
      torch::Tensor outputs;
      {
        CudaAutocast autocast(device.is_cuda());
        outputs = source->next_train_outputs(model, idx);
      }
      auto loss = (*loss_of)(model, outputs, idx);
      const double lv = loss.item<double>();
      if (!std::isfinite(lv))
        throw RuntimeFailure(run_dir + ": loss is " + format_double(lv) + " at epoch " + std::to_string(epoch + 1) +
                             ", batch " + std::to_string(bi + 1) + "; stopped. " +
                             (fs::exists(checkpoints.last_path())
                                  ? "The checkpoint of epoch " + std::to_string(epoch) + " (saved while the loss was finite) is " +
                                        checkpoints.last_path().string()
                                  : std::string("No checkpoint was saved yet")));
      stepper.backward(loss);
      loss_sum += lv * idx.size(0);
      seen += idx.size(0);
      callbacks.batch_end(bi, loss_sum / seen);
      stepper.after_batch(bi, batches);
    }
    const ScoredSet vs = scored(val, predict(val));
    const MetricValues vm = MetricEngine(vs).point();
    const double val_auc = std::isnan(vm[kAucMacro]) ? vm[kAccuracy] : vm[kAucMacro];
    EpochEnd end;
    end.epochs_done = epoch + 1;
    end.improved = selection.update(epoch, val_auc);
    end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    end.train_loss = loss_sum / std::max<int64_t>(1, seen);
    end.val_auc_macro = vm[kAucMacro];
    end.val_accuracy = vm[kAccuracy];
    end.images = seen;
    end.lr_head = opt.groups()[0].lr;
    end.lr_body = opt.groups()[1].lr;
    end.best_score = selection.best();
    end.best_epoch = selection.best_epoch() + 1;
    end.bad_epochs = selection.bad_epochs();
    end.global_step = stepper.global_step();
    callbacks.epoch_end(end);
  }

  // Best weights, adapters merged, predictions and test metrics.
  {
    auto best_tensors = load_safetensors(checkpoints.best_path().string());
    load_trainable(model, best_tensors, checkpoints.best_path().string());
  }
  strategy->finalize(model);
  auto write_split = [&](const SplitData& d, const std::string& name) {
    Predictions p;
    p.source = (run / name).string();
    p.image_id = d.image_id;
    p.patient_id = d.patient_id;
    torch::Tensor outputs;
    p.scored = scored(d, predict(d, &outputs));
    for (const auto& h : manifest.passthrough_columns()) p.extra_header.push_back(h);
    p.extra = d.extra;
    if (head_type == "tscore") {
      // The regression beside the classes: the DXA value (blank where the manifest has none)
      // and the predicted distribution's mean and SD; eval reads t_score and t_score_pred.
      torch::NoGradGuard no_grad;
      const auto [mean, sd] = model->tscore_distribution(outputs);
      for (const char* h : {"t_score", "t_score_pred", "t_score_pred_sd"}) p.extra_header.push_back(h);
      for (int64_t i = 0; i < d.size(); ++i)
        for (const std::string& v : {std::isnan(d.t_scores[i]) ? std::string() : format_double(d.t_scores[i]),
                                     format_double(mean[i].item<double>()), format_double(sd[i].item<double>())})
          p.extra[i].push_back(v);
    }
    write_predictions(p.source, p);
    return p;
  };
  const Predictions pv = write_split(val, "predictions_val.csv");
  // A grid point of a sweep's nested selection never sees the test split: only the
  // selected configuration is evaluated there.
  if (test.size() > 0 && tc["test_predictions"].get<bool>()) {
    const Predictions pt = write_split(test, "predictions_test.csv");
    try {
      // Thresholds chosen on this run's validation predictions; patients clustered.
      json metrics = evaluate(pt, &pv, EvalOptions{});
      const std::string w = bc["weights"];
      metrics["backbone"] = {{"preset", bc["preset"]}, {"weights", w.empty() || is_random_weights(w) ? "random" : w}};
      write_file_atomic((run / "metrics_test.json").string(), metrics.dump(2) + "\n");
    } catch (const InputError& e) {
      log_warning("train", log_text("no metrics_test.json: ", e.what()));
    }
  }
  summary.epochs_run = epoch;
  summary.best_epoch = selection.best_epoch() + 1;
  summary.best_val_auc = selection.best();
  callbacks.train_end(epoch);
  return summary;
}

}  // namespace osteofm
