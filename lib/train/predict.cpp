#include "train/predict.hpp"

#include <cmath>
#include <filesystem>

#include "core/autocast.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/labels.hpp"
#include "core/layout.hpp"
#include "core/parallel.hpp"
#include "core/runtime.hpp"
#include "eval/metrics.hpp"
#include "eval/predictions.hpp"
#include "eval/screening.hpp"
#include "io/image.hpp"
#include "io/manifest.hpp"
#include "models/embed.hpp"
#include "data/loader.hpp"
#include "train/run_model.hpp"
#include "data/cache_index.hpp"

namespace osteofm {

namespace {
// Probabilities of [k,1,S,S] images in [0,1] into rows[first..first+k); a row whose
// probabilities are not finite (NaN weights) is marked failed, never scored.
void score_batch(TrainedModel& tm, const torch::Tensor& x01, std::vector<PredictedImage*> rows) {
  torch::InferenceMode guard;
  CudaAutocast autocast(tm.device.is_cuda());
  auto& model = tm.built.model;
  const auto outputs =
      model->head_outputs(model->features(normalize_batch(x01.to(tm.device), tm.pre))).to(torch::kFloat32);
  const auto p = torch::softmax(model->class_scores(outputs), -1).to(torch::kCPU, torch::kFloat64);
  if (model->head_type().regresses_tscore()) {
    const auto [mean, sd] = model->tscore_distribution(outputs);
    const auto m = mean.to(torch::kCPU, torch::kFloat64), s = sd.to(torch::kCPU, torch::kFloat64);
    for (int64_t i = 0; i < m.size(0); ++i) {
      rows[i]->t_score_pred = m[i].item<double>();
      rows[i]->t_score_pred_sd = s[i].item<double>();
    }
  }
  const auto a = p.accessor<double, 2>();
  for (int64_t i = 0; i < p.size(0); ++i) {
    auto& r = *rows[i];
    bool finite = true;
    for (int c = 0; c < kNumClasses; ++c) {
      r.p[c] = a[i][c];
      finite = finite && std::isfinite(r.p[c]);
    }
    if (!finite) {
      r.ok = false;
      r.error = "the model's probabilities are not finite (its weights hold NaN or Inf)";
      continue;
    }
    r.predicted = predicted_class(r.p);
  }
}

ModelInfo model_info(const std::string& run_dir, const TrainedModel& tm) {
  ModelInfo m;
  m.run = absolute_run_path(run_dir);
  m.backbone = tm.config.backbone.preset;
  m.strategy = tm.config.strategy.value("name", "");
  m.version = OSTEOFM_VERSION;
  return m;
}
}  // namespace

std::string absolute_run_path(const std::string& run_dir) {
  std::string path = std::filesystem::absolute(run_dir).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

ScreeningThresholds run_screening_thresholds(const std::string& run_dir) {
  ScreeningThresholds t;
  const std::string val = (std::filesystem::path(run_dir) / layout::kPredictionsVal).string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(val, ec)) {
    t.reason = val + " is missing: no validation operating point";
    return t;
  }
  const Predictions pv = read_predictions(val);
  for (int e = 0; e < 2; ++e) {
    const ThresholdChoice c = choose_thresholds(endpoint_set(pv.scored, e));
    t.threshold[e] = c.threshold[kYouden];
    t.val_sensitivity[e] = c.val_sensitivity[kYouden];
    t.val_specificity[e] = c.val_specificity[kYouden];
    if (!c.reason.empty()) t.reason += std::string(t.reason.empty() ? "" : "; ") + endpoint_key(e) + ": " + c.reason;
  }
  return t;
}

size_t PredictResult::failed() const {
  size_t n = 0;
  for (const auto& r : rows) n += !r.ok;
  return n;
}

PredictResult predict_files(const std::string& run_dir, const std::vector<std::string>& all_files, const PredictOptions& o,
                            const RowsDone& on_rows) {
  if (all_files.empty()) throw InputError("predict: no image given");
  if (o.batch < 1) throw InputError("--batch must be at least 1");
  TrainedModel tm = load_trained_model(run_dir, o.device);
  PredictResult res;
  res.tscore = tm.built.model->head_type().regresses_tscore();
  res.model = model_info(run_dir, tm);
  res.thresholds = run_screening_thresholds(run_dir);
  std::vector<std::string> files;
  for (const auto& f : all_files)
    if (!o.skip.count(f)) files.push_back(f);
  res.rows.resize(files.size());
  const int threads = resolve_threads(o.workers);
  for (size_t b = 0; b < files.size(); b += o.batch) {
    throw_if_interrupted();
    const size_t e = std::min(files.size(), b + o.batch);
    std::vector<torch::Tensor> parts(e - b);
    parallel_for(e - b, threads, [&](size_t i, int) {
      PredictedImage& r = res.rows[b + i];
      r.path = files[b + i];
      r.image_id = files[b + i];
      try {
        const GrayImage img = read_image(files[b + i]);
        if (!img.sop_instance_uid.empty()) r.image_id = img.sop_instance_uid;
        r.patient_id = img.patient_id;
        r.accession = img.accession;
        r.study_date = img.study_date;
        const std::vector<std::string> not_chest = not_frontal_chest_reasons(img);
        if (!not_chest.empty() && !o.score_anyway) {
          r.ok = false;
          r.status = "not_chest_radiograph";
          for (const auto& w : not_chest) r.error += (r.error.empty() ? "" : "; ") + w;
          r.error += " (--score-anyway scores it)";
          return;
        }
        r.warnings = not_chest;  // scored anyway: the reasons stay as warnings, before the doubts
        for (auto& d : image_doubts(img)) r.warnings.push_back(std::move(d));
        parts[i] = resize_image(img, tm.pre);
      } catch (const InputError& err) {
        r.ok = false;
        r.status = "error";
        r.error = err.what();
      }
    });
    std::vector<torch::Tensor> good;
    std::vector<PredictedImage*> targets;
    for (size_t i = b; i < e; ++i)
      if (res.rows[i].ok) {
        good.push_back(parts[i - b]);
        targets.push_back(&res.rows[i]);
      }
    if (!good.empty()) score_batch(tm, torch::stack(good), targets);
    if (on_rows) on_rows(res, b, e);
  }
  return res;
}

PredictResult predict_manifest(const std::string& run_dir, const std::string& data, const PredictOptions& o,
                               const RowsDone& on_rows) {
  if (o.batch < 1) throw InputError("--batch must be at least 1");
  TrainedModel tm = load_trained_model(run_dir, o.device);
  Manifest m = load_manifest(data);
  for (const auto& p : m.problems)
    if (p.error && p.kind != "missing_t_score" && p.kind != "missing_label") throw InputError(p.message);
  const SplitData d = load_split(m, o.split, tm.pre, resolve_threads(o.workers), "no", false);
  if (d.size() == 0) throw InputError(data + ": no rows to predict" + (o.split.empty() ? "" : " in split '" + o.split + "'"));
  PredictResult res;
  res.tscore = tm.built.model->head_type().regresses_tscore();
  res.model = model_info(run_dir, tm);
  res.thresholds = run_screening_thresholds(run_dir);
  res.extra_header = m.passthrough_columns();
  std::vector<int64_t> todo;  // rows of d not scored by an interrupted run
  for (int64_t i = 0; i < d.size(); ++i)
    if (!o.skip.count(d.image_id[i])) todo.push_back(i);
  res.rows.resize(todo.size());
  for (size_t b = 0; b < todo.size(); b += o.batch) {
    throw_if_interrupted();
    const size_t e = std::min(todo.size(), b + o.batch);
    std::vector<PredictedImage*> targets;
    std::vector<torch::Tensor> images;
    for (size_t k = b; k < e; ++k) {
      const int64_t i = todo[k];
      auto& r = res.rows[k];
      r.image_id = d.image_id[i];
      r.patient_id = d.patient_id[i];
      r.label = d.labels[i];
      r.t_score = d.t_scores[i];
      if (static_cast<size_t>(i) < d.extra.size()) r.extra = d.extra[i];
      targets.push_back(&r);
      images.push_back(d.range(i, i + 1));
    }
    score_batch(tm, torch::cat(images), targets);
    if (on_rows) on_rows(res, b, e);
  }
  return res;
}

std::string predictions_csv_header(const PredictResult& res) {
  std::vector<std::string> header(kPredictionColumns.begin(), kPredictionColumns.end());
  header.insert(header.end(), {"predicted", "screen_osteoporosis", "screen_low_bmd", "path", "status", "error",
                                     "warnings", "accession", "study_date", "run", "backbone", "strategy", "osteofm_version"});
  header.insert(header.end(), res.extra_header.begin(), res.extra_header.end());
  if (res.tscore) header.insert(header.end(), {"t_score", "t_score_pred", "t_score_pred_sd"});
  return csv_line(header);
}

std::string predictions_csv_row(const PredictResult& res, const PredictedImage& r) {
  std::string warnings;
  for (const auto& w : r.warnings) warnings += (warnings.empty() ? "" : "; ") + w;
  std::vector<std::string> f = prediction_fields(r.image_id, r.patient_id, r.label, r.ok ? &r.p : nullptr);
  f.push_back(r.ok ? kClassNames[r.predicted] : "");
  for (int e = 0; e < kNumEndpoints; ++e)
    f.push_back(r.ok && res.thresholds.threshold[e] ? (endpoint_score(r.p, e) >= *res.thresholds.threshold[e] ? "1" : "0")
                                                    : "");
  f.push_back(r.path);
  f.push_back(r.ok ? "ok" : r.status == "ok" ? "error" : r.status);
  f.push_back(r.error);
  f.push_back(warnings);
  f.insert(f.end(), {r.accession, r.study_date, res.model.run, res.model.backbone, res.model.strategy, res.model.version});
  f.insert(f.end(), r.extra.begin(), r.extra.end());
  if (res.tscore) {
    f.push_back(std::isnan(r.t_score) ? "" : format_double(r.t_score));
    f.push_back(r.ok ? format_double(r.t_score_pred) : "");
    f.push_back(r.ok ? format_double(r.t_score_pred_sd) : "");
  }
  return csv_line(f);
}

std::string predictions_csv(const PredictResult& res) {
  std::string s = predictions_csv_header(res);
  for (const auto& r : res.rows) s += predictions_csv_row(res, r);
  return s;
}

}  // namespace osteofm
