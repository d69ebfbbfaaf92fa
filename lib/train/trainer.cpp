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
#include "train/dataset.hpp"
#include "train/run_folder.hpp"
#include "train/run_model.hpp"
#include "tuning/strategy.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr double kPi = 3.14159265358979323846;

std::map<std::string, torch::Tensor> trainable_tensors(Classifier& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : m->named_parameters())
    if (item.value().requires_grad()) out["model." + item.key()] = item.value();
  return out;
}

// Features of a frozen backbone for one split, cached on disk as fp16 safetensors under a
// key of everything that changes them (backbone, weights file, arch, feature, images).
torch::Tensor frozen_features(Classifier& m, const SplitData& d, const Preprocessing& pre, const json& config,
                              const std::string& cache_dir, torch::Device device) {
  std::string key = config["backbone"].dump() + config["head"]["feature"].dump() + arch_to_json(m->backbone->arch).dump() +
                    std::to_string(pre.size) + (pre.squash ? "s" : "c");
  const std::string weights = config["backbone"]["weights"];
  std::error_code ec;
  if (!weights.empty()) key += std::to_string(fs::file_size(weights, ec));
  for (const auto& id : d.image_id) key += "|" + id;
  const std::string path = (fs::path(cache_dir) / (d.split + "-" + hex64(fnv1a(key)) + ".safetensors")).string();
  if (fs::exists(path)) return load_safetensors(path).at("features").to(torch::kFloat32);
  torch::InferenceMode guard;
  m->eval();
  std::vector<torch::Tensor> parts;
  CudaAutocast autocast(device.is_cuda());
  for (int64_t i = 0; i < d.size(); i += 32) {
    auto x = normalize_batch(d.range(i, std::min(i + 32, d.size())).to(device), pre);
    parts.push_back(m->features(x).to(torch::kCPU, torch::kFloat32));
  }
  auto f = parts.empty() ? torch::zeros({0, m->feature_dim()}) : torch::cat(parts);
  save_safetensors(path, {{"features", f.to(torch::kFloat16)}}, {{"key", key.substr(0, 200)}});
  return load_safetensors(path).at("features").to(torch::kFloat32);  // the same fp16 values as a later cache hit
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

  const bool cached = strategy->frozen_backbone() && tc["feature_cache"].get<bool>();
  torch::Tensor f_train, f_val, f_test;
  if (cached) {
    const std::string cache_dir = (run / "feature_cache").string();
    fs::create_directories(cache_dir);
    f_train = frozen_features(model, train, pre, config, cache_dir, device);
    f_val = frozen_features(model, val, pre, config, cache_dir, device);
    if (test.size() > 0) f_test = frozen_features(model, test, pre, config, cache_dir, device);
  }

  // Class weights N / (K n_k) from the training labels (plain CE: all 1).
  std::vector<double> counts(kNumClasses, 0.0);
  for (int l : train.labels) counts[l] += 1;
  std::vector<double> weights(kNumClasses, 1.0);
  if (tc["loss"] == "weighted_ce")
    for (int k = 0; k < kNumClasses; ++k) weights[k] = counts[k] > 0 ? train.size() / (kNumClasses * counts[k]) : 0.0;
  const auto class_weight = torch::tensor(weights, torch::kFloat32).to(device);
  const auto y_train = torch::tensor(train.labels, torch::kInt64);

  std::vector<AdamWGroup> groups(2);
  groups[0].lr = tc["lr_head"];
  groups[1].lr = tc["lr_body"];
  for (auto& g : groups) g.weight_decay = tc["weight_decay"];
  for (const auto& item : model->named_parameters())
    if (item.value().requires_grad())
      groups[item.key().rfind("head", 0) == 0 ? 0 : 1].params.emplace_back(item.key(), item.value());
  const double base_lr[2] = {groups[0].lr, groups[1].lr};
  AdamW opt(groups);

  const int epochs = tc["epochs"], batch = tc["batch_size"], accum = tc["grad_accum"], patience = tc["patience"];
  const int64_t batches = (train.size() + batch - 1) / batch;
  const int64_t steps_per_epoch = (batches + accum - 1) / accum, total_steps = steps_per_epoch * epochs;
  const int64_t warmup = static_cast<int64_t>(std::lround(tc["warmup_epochs"].get<double>() * steps_per_epoch));
  const double clip = tc["clip_norm"], smoothing = tc["label_smoothing"];

  int start_epoch = 0, best_epoch = -1, bad_epochs = 0;
  int64_t global_step = 0;
  double best = -1;
  if (existing) {
    auto file = SafetensorsFile::open(last_path.string());
    std::map<std::string, torch::Tensor> saved;
    for (const auto& e : file->tensors()) saved[e.name] = tensor_from(file, e).clone();
    load_trainable(model, saved, last_path.string());
    opt.load_state(saved);
    const auto& meta = file->header().metadata;
    const std::string lp = last_path.string();
    start_epoch = static_cast<int>(meta_int(meta, "epochs_done", lp));
    best_epoch = static_cast<int>(meta_int(meta, "best_epoch", lp));
    bad_epochs = static_cast<int>(meta_int(meta, "bad_epochs", lp));
    global_step = meta_int(meta, "global_step", lp);
    const auto b = meta.count("best_val_auc") ? parse_number(meta.at("best_val_auc")) : std::nullopt;
    if (!b) throw InputError(lp + ": metadata 'best_val_auc' is missing or not a number");
    best = *b;
    summary.resumed = true;
    truncate_log(run / "log.jsonl", start_epoch);
  } else if (fs::exists(run / "log.jsonl")) {
    fs::remove(run / "log.jsonl");
  }
  const char* kill_env = std::getenv("OSTEOFM_TEST_KILL_AFTER_STEPS");  // crash injection for the resume test
  const int64_t kill_after = kill_env ? std::atoll(kill_env) : -1;

  auto predict = [&](const SplitData& d, const torch::Tensor& feats) {
    torch::InferenceMode guard;
    model->eval();
    CudaAutocast autocast(device.is_cuda());
    std::vector<torch::Tensor> out;
    for (int64_t i = 0; i < d.size(); i += 64) {
      const int64_t e = std::min(i + 64, d.size());
      auto logits = cached ? model->head_logits(feats.slice(0, i, e).to(device))
                           : model->forward(normalize_batch(d.range(i, e).to(device), pre));
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
                     {{"epochs_done", std::to_string(epochs_done)}, {"best_epoch", std::to_string(best_epoch)},
                      {"bad_epochs", std::to_string(bad_epochs)}, {"global_step", std::to_string(global_step)},
                      {"best_val_auc", format_double(best)}, {"strategy", strategy->name()}});
  };

  auto write_status = [&](const char* state, int epochs_done) {
    write_file_atomic((run / "status.json").string(),
                      json{{"state", state}, {"epoch", epochs_done}, {"epochs", epochs},
                           {"selection_metric", summary.selection_metric},
                           {"best_val_score", best},
                           {"best_val_auc", summary.selection_metric == "val_auc_macro" ? json(best) : json(nullptr)},
                           {"best_epoch", best_epoch + 1}, {"trainable_parameters", summary.trainable_parameters},
                           {"strategy", strategy->name()}, {"backbone", bc["preset"]},
                           {"random_weights", bc["weights"].get<std::string>().empty() || is_random_weights(bc["weights"])}}
                              .dump(2) + "\n");
  };

  int epoch = start_epoch;
  for (; epoch < epochs && bad_epochs < patience; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    // Everything random in an epoch (order, augmentation, dropout) follows (seed, epoch).
    torch::manual_seed(seed * 1000003 + epoch);
    model->train();
    const auto perm = torch::randperm(train.size(), torch::kInt64);
    if (!cached) {
      const std::vector<int64_t> order(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel());
      train.begin_epoch(order, batch, config["data"]["prefetch"].get<int>());
    }
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
        if (cached) {
          logits = model->head_logits(f_train.index_select(0, idx).to(device));
        } else {
          auto x = augment_batch(train.next_batch().to(device), config["augment"]);
          logits = model->forward(normalize_batch(x, pre));
        }
      }
      auto loss = torch::nn::functional::cross_entropy(
          logits.to(torch::kFloat32), y,
          torch::nn::functional::CrossEntropyFuncOptions().weight(class_weight).label_smoothing(smoothing));
      const double lv = loss.item<double>();
      if (!std::isfinite(lv))
        throw RuntimeFailure(run_dir + ": loss is " + format_double(lv) + " at epoch " + std::to_string(epoch + 1) +
                             ", batch " + std::to_string(bi + 1) + "; stopped, the last good checkpoint is " +
                             (fs::exists(last_path) ? last_path.string() : std::string("(none yet)")));
      (loss / accum).backward();
      loss_sum += lv * idx.size(0);
      seen += idx.size(0);
      char loss_text[48];
      std::snprintf(loss_text, sizeof loss_text, "loss %.4f", loss_sum / seen);
      bar.update(static_cast<long>(bi + 1), loss_text);
      if ((bi + 1) % accum == 0 || bi + 1 == batches) {
        std::vector<torch::Tensor> params;
        for (auto& g : opt.groups())
          for (auto& [n, p] : g.params) params.push_back(p);
        if (clip > 0) torch::nn::utils::clip_grad_norm_(params, clip);
        const double f = global_step < warmup ? double(global_step + 1) / warmup
                                              : 0.5 * (1 + std::cos(kPi * double(global_step - warmup) /
                                                                    std::max<int64_t>(1, total_steps - warmup)));
        for (int g = 0; g < 2; ++g) opt.groups()[g].lr = base_lr[g] * f;
        opt.step();
        opt.zero_grad();
        ++global_step;
        if (kill_after > 0 && global_step == kill_after) std::raise(SIGKILL);
      }
    }
    const ScoredSet vs = scored(val, predict(val, f_val));
    const MetricValues vm = MetricEngine(vs).point();
    const double val_auc = std::isnan(vm[kAucMacro]) ? vm[kAccuracy] : vm[kAucMacro];
    const bool improved = val_auc > best;
    if (improved) {
      best = val_auc;
      best_epoch = epoch;
      bad_epochs = 0;
    } else {
      ++bad_epochs;
    }
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
                    loss_sum / std::max<int64_t>(1, seen), vm[kAucMacro], best, best_epoch + 1, seen / secs);
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
  auto write_split = [&](const SplitData& d, const torch::Tensor& feats, const std::string& name) {
    Predictions p;
    p.source = (run / name).string();
    p.image_id = d.image_id;
    p.patient_id = d.patient_id;
    p.scored = scored(d, predict(d, feats));
    for (const auto& h : manifest.passthrough_columns()) p.extra_header.push_back(h);
    p.extra = d.extra;
    write_predictions(p.source, p);
    return p;
  };
  const Predictions pv = write_split(val, f_val, "predictions_val.csv");
  if (test.size() > 0) {
    const Predictions pt = write_split(test, f_test, "predictions_test.csv");
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
  summary.best_epoch = best_epoch + 1;
  summary.best_val_auc = best;
  write_status("done", epoch);
  return summary;
}

}  // namespace osteofm
