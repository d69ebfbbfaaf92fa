#include "train/trainer.hpp"

#include <algorithm>
#include <csignal>
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
#include "core/parallel.hpp"
#include "core/hash.hpp"
#include "core/labels.hpp"
#include "core/progress.hpp"
#include "core/runtime.hpp"
#include "eval/evaluate.hpp"
#include "eval/metrics.hpp"
#include "io/safetensors_torch.hpp"
#include "models/checkpoint.hpp"
#include "models/embed.hpp"
#include "train/adamw.hpp"
#include "train/batches.hpp"
#include "train/class_weights.hpp"
#include "train/early_stopping.hpp"
#include "train/schedule.hpp"
#include "train/stepper.hpp"
#include "data/loader.hpp"
#include "train/run_folder.hpp"
#include "train/run_model.hpp"
#include "tuning/strategy.hpp"
#include "data/cache_index.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

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

TrainSummary train_run(const json& config, const std::string& run_dir, bool resume) {
  TrainSummary summary;
  const fs::path run(run_dir);
  const fs::path cfg_path = run / "config.json", last_path = run / "checkpoints" / "last.safetensors",
                 best_path = run / "checkpoints" / "best.safetensors";
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
  const Preprocessing& pre = b.preset.preprocessing;
  const std::string preload = config["data"]["preload"];
  SplitData train = load_split(manifest, "train", pre, workers, preload),
            val = load_split(manifest, "val", pre, workers, preload),
            test = load_split(manifest, "test", pre, workers, preload);
  for (SplitData* d : {&train, &val, &test}) d->resize_device = device;
  if (train.size() == 0 || val.size() == 0)
    throw InputError(manifest.path + ": needs train and val rows (make a split with 'osteofm data split')");

  // A validation split without every class has no macro AUC: epochs are selected on
  // accuracy then, and every output says so instead of calling it an AUC.
  std::string val_missing;
  for (int k = 0; k < kNumClasses; ++k)
    if (std::count(val.labels.begin(), val.labels.end(), k) == 0)
      val_missing += std::string(val_missing.empty() ? "" : ", ") + kClassNames[k];
  summary.selection_metric = val_missing.empty() ? "val_auc_macro" : "val_accuracy";
  if (!val_missing.empty())
    std::cerr << "osteofm: warning: the validation split has no " << val_missing
              << " images: macro AUC is undefined there, so the best epoch is selected on validation accuracy\n";

  // The folder: one trainer at a time; temporaries of a killed writer removed.
  RunLock lock(run);
  for (const fs::path& d : {run, run / "checkpoints"}) remove_stale_temporaries(d);
  const bool existing = is_run(run);
  if (existing) {
    const json old = json::parse(read_file(cfg_path.string()), nullptr, false);
    if (old.is_discarded()) throw InputError(cfg_path.string() + ": not valid JSON; give another --out");
    const std::string diff = first_difference(run_identity(old), run_identity(config));
    if (!diff.empty())
      throw InputError(cfg_path.string() + ": differs from the given config at '" + diff +
                       "'; --resume continues the same run only (give another --out for a new one)");
  } else if (fs::exists(cfg_path)) {
    std::cerr << "osteofm: note: " << run_dir << " has no checkpoint yet (an earlier start stopped early): starting afresh\n";
  }
  fs::create_directories(run / "checkpoints");
  write_file_atomic(cfg_path.string(), config.dump(2) + "\n");

  // Frozen backbones train their head on features computed once; everything else on images.
  std::unique_ptr<BatchSource> source;
  if (strategy->frozen_backbone() && tc["feature_cache"].get<bool>()) {
    std::vector<const SplitData*> splits{&train, &val};
    if (test.size() > 0) splits.push_back(&test);
    source = feature_batches(model, splits, pre, config, (run / "feature_cache").string(), device);
  } else {
    source = image_batches(train, pre, config["augment"], config["data"]["prefetch"].get<int>(), device);
  }

  const auto class_weight =
      torch::tensor(class_weights(train.labels, tc["loss"] == "weighted_ce"), torch::kFloat32).to(device);
  const auto y_train = torch::tensor(train.labels, torch::kInt64);

  AdamW opt(head_and_body_groups(*model, tc["lr_head"], tc["lr_body"], tc["weight_decay"]));
  const int epochs = tc["epochs"], batch = tc["batch_size"], accum = tc["grad_accum"], patience = tc["patience"];
  const StepPlan plan = plan_steps(train.size(), batch, accum, epochs, tc["warmup_epochs"].get<double>());
  const int64_t batches = plan.batches_per_epoch;
  const double smoothing = tc["label_smoothing"];
  EarlyStopping selection(patience);

  int start_epoch = 0;
  int64_t global_step = 0;
  if (existing) {
    auto file = SafetensorsFile::open(last_path.string());
    std::map<std::string, torch::Tensor> saved;
    for (const auto& e : file->tensors()) saved[e.name] = tensor_from(file, e).clone();
    load_trainable(model, saved, last_path.string());
    opt.load_state(saved);
    const auto& meta = file->header().metadata;
    const std::string lp = last_path.string();
    start_epoch = static_cast<int>(meta_int(meta, "epochs_done", lp));
    const int best_epoch = static_cast<int>(meta_int(meta, "best_epoch", lp));
    const int bad_epochs = static_cast<int>(meta_int(meta, "bad_epochs", lp));
    global_step = meta_int(meta, "global_step", lp);
    const auto b = meta.count("best_val_auc") ? parse_number(meta.at("best_val_auc")) : std::nullopt;
    if (!b) throw InputError(lp + ": metadata 'best_val_auc' is missing or not a number");
    selection.restore(*b, best_epoch, bad_epochs);
    summary.resumed = true;
    truncate_log(run / "log.jsonl", start_epoch);
  } else if (fs::exists(run / "log.jsonl")) {
    fs::remove(run / "log.jsonl");
  }
  OptimizerStepper stepper(opt, accum, tc["clip_norm"].get<double>(), WarmupCosine(plan.warmup_steps, plan.total_steps),
                           global_step);
  // Crash injection for the kill-and-resume test: SIGKILL right after that optimizer step.
  if (const char* kill_env = std::getenv("OSTEOFM_TEST_KILL_AFTER_STEPS")) {
    const int64_t kill_after = std::atoll(kill_env);
    stepper.on_step = [kill_after](int64_t step) {
      if (kill_after > 0 && step == kill_after) std::raise(SIGKILL);
    };
  }

  auto predict = [&](const SplitData& d) {
    torch::InferenceMode guard;
    model->eval();
    CudaAutocast autocast(device.is_cuda());
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < d.size(); i += 64) {
      const int64_t e = std::min(i + 64, d.size());
      auto logits = source->logits(model, d, i, e);
      out.push_back(torch::softmax(logits.to(torch::kFloat32), -1).to(torch::kCPU, torch::kFloat64));
    }
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
  auto save_checkpoint = [&](const fs::path& path, bool with_state, int epochs_done) {
    auto tensors = trainable_tensors(model);
    if (with_state)
      for (auto& [k, v] : opt.state()) tensors[k] = v;
    save_safetensors(path.string(), tensors,
                     {{"epochs_done", std::to_string(epochs_done)}, {"best_epoch", std::to_string(selection.best_epoch())},
                      {"bad_epochs", std::to_string(selection.bad_epochs())},
                      {"global_step", std::to_string(stepper.global_step())},
                      {"best_val_auc", format_double(selection.best())}, {"strategy", strategy->name()}});
  };

  auto write_status = [&](const char* state, int epochs_done) {
    write_file_atomic((run / "status.json").string(),
                      json{{"state", state}, {"epoch", epochs_done}, {"epochs", epochs},
                           {"selection_metric", summary.selection_metric},
                           {"best_val_score", selection.best()},
                           {"best_val_auc", summary.selection_metric == "val_auc_macro" ? json(selection.best()) : json(nullptr)},
                           {"best_epoch", selection.best_epoch() + 1}, {"trainable_parameters", summary.trainable_parameters},
                           {"strategy", strategy->name()}, {"backbone", bc["preset"]},
                           {"random_weights", bc["weights"].get<std::string>().empty() || is_random_weights(bc["weights"])}}
                              .dump(2) + "\n");
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
    ProgressBar bar(fs::path(run_dir).filename().string() + " epoch " + std::to_string(epoch + 1) + "/" +
                        std::to_string(epochs),
                    static_cast<long>(batches));
    for (int64_t bi = 0; bi < batches; ++bi) {
      const auto idx = perm.slice(0, bi * batch, std::min<int64_t>((bi + 1) * batch, train.size()));
      const auto y = y_train.index_select(0, idx).to(device);
      torch::Tensor logits;
      {
        CudaAutocast autocast(device.is_cuda());
        logits = source->next_train_logits(model, idx);
      }
      auto loss = torch::nn::functional::cross_entropy(
          logits.to(torch::kFloat32), y,
          torch::nn::functional::CrossEntropyFuncOptions().weight(class_weight).label_smoothing(smoothing));
      const double lv = loss.item<double>();
      if (!std::isfinite(lv))
        throw RuntimeFailure(run_dir + ": loss is " + format_double(lv) + " at epoch " + std::to_string(epoch + 1) +
                             ", batch " + std::to_string(bi + 1) + "; stopped, the last good checkpoint is " +
                             (fs::exists(last_path) ? last_path.string() : std::string("(none yet)")));
      stepper.backward(loss);
      loss_sum += lv * idx.size(0);
      seen += idx.size(0);
      char loss_text[48];
      std::snprintf(loss_text, sizeof loss_text, "loss %.4f", loss_sum / seen);
      bar.update(static_cast<long>(bi + 1), loss_text);
      stepper.after_batch(bi, batches);
    }
    const ScoredSet vs = scored(val, predict(val));
    const MetricValues vm = MetricEngine(vs).point();
    const double val_auc = std::isnan(vm[kAucMacro]) ? vm[kAccuracy] : vm[kAucMacro];
    const bool improved = selection.update(epoch, val_auc);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const json line = {{"epoch", epoch + 1}, {"train_loss", loss_sum / std::max<int64_t>(1, seen)},
                       {"val_auc_macro", vm[kAucMacro]}, {"val_accuracy", vm[kAccuracy]}, {"lr_head", opt.groups()[0].lr},
                       {"lr_body", opt.groups()[1].lr}, {"seconds", secs}, {"images_per_s", seen / secs}};
    // The line before the checkpoint: a resume drops lines past the checkpoint's epoch.
    append_json_line((run / "log.jsonl").string(), line);
    if (improved) save_checkpoint(best_path, false, epoch + 1);
    save_checkpoint(last_path, true, epoch + 1);
    write_status("training", epoch + 1);
    if (ProgressBar::enabled()) {
      char text[160];
      std::snprintf(text, sizeof text, "loss %.4f  val macro AUC %.4f  (best %.4f, epoch %d)  %.0f images/s",
                    loss_sum / std::max<int64_t>(1, seen), vm[kAucMacro], selection.best(), selection.best_epoch() + 1,
                    seen / secs);
      bar.finish(text);
    } else {
      std::cerr << line.dump() << "\n";  // structured: one JSON object per epoch
    }
  }

  // Best weights, adapters merged, predictions and test metrics.
  {
    auto best_tensors = load_safetensors(best_path.string());
    load_trainable(model, best_tensors, best_path.string());
  }
  strategy->finalize(model);
  auto write_split = [&](const SplitData& d, const std::string& name) {
    Predictions p;
    p.source = (run / name).string();
    p.image_id = d.image_id;
    p.patient_id = d.patient_id;
    p.scored = scored(d, predict(d));
    for (const auto& h : manifest.passthrough_columns()) p.extra_header.push_back(h);
    p.extra = d.extra;
    write_predictions(p.source, p);
    return p;
  };
  const Predictions pv = write_split(val, "predictions_val.csv");
  if (test.size() > 0) {
    const Predictions pt = write_split(test, "predictions_test.csv");
    try {
      // Thresholds chosen on this run's validation predictions; patients clustered.
      json metrics = evaluate(pt, &pv, EvalOptions{});
      const std::string w = bc["weights"];
      metrics["backbone"] = {{"preset", bc["preset"]}, {"weights", w.empty() || is_random_weights(w) ? "random" : w}};
      write_file_atomic((run / "metrics_test.json").string(), metrics.dump(2) + "\n");
    } catch (const InputError& e) {
      std::cerr << "osteofm: warning: no metrics_test.json: " << e.what() << "\n";
    }
  }
  summary.epochs_run = epoch;
  summary.best_epoch = selection.best_epoch() + 1;
  summary.best_val_auc = selection.best();
  write_status("done", epoch);
  return summary;
}

}  // namespace osteofm
