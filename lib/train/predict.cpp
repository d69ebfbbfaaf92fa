#include "train/predict.hpp"

#include <cmath>

#include "core/autocast.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/labels.hpp"
#include "core/parallel.hpp"
#include "core/runtime.hpp"
#include "eval/metrics.hpp"
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
  if (model->options.type == "tscore") {
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
}  // namespace

size_t PredictResult::failed() const {
  size_t n = 0;
  for (const auto& r : rows) n += !r.ok;
  return n;
}

PredictResult predict_files(const std::string& run_dir, const std::vector<std::string>& files, const PredictOptions& o) {
  if (files.empty()) throw InputError("predict: no image given");
  if (o.batch < 1) throw InputError("--batch must be at least 1");
  TrainedModel tm = load_trained_model(run_dir, o.device);
  PredictResult res;
  res.tscore = tm.built.model->options.type == "tscore";
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
        r.warnings = radiograph_warnings(img);
        parts[i] = resize_image(img, tm.pre);
      } catch (const InputError& err) {
        r.ok = false;
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
  }
  return res;
}

PredictResult predict_manifest(const std::string& run_dir, const std::string& data, const PredictOptions& o) {
  if (o.batch < 1) throw InputError("--batch must be at least 1");
  TrainedModel tm = load_trained_model(run_dir, o.device);
  Manifest m = load_manifest(data);
  for (const auto& p : m.problems)
    if (p.error && p.kind != "missing_t_score" && p.kind != "missing_label") throw InputError(p.message);
  const SplitData d = load_split(m, o.split, tm.pre, resolve_threads(o.workers), "no", false);
  if (d.size() == 0) throw InputError(data + ": no rows to predict" + (o.split.empty() ? "" : " in split '" + o.split + "'"));
  PredictResult res;
  res.tscore = tm.built.model->options.type == "tscore";
  res.extra_header = m.passthrough_columns();
  res.rows.resize(d.size());
  for (int64_t b = 0; b < d.size(); b += o.batch) {
    throw_if_interrupted();
    const int64_t e = std::min(d.size(), b + o.batch);
    std::vector<PredictedImage*> targets;
    for (int64_t i = b; i < e; ++i) {
      auto& r = res.rows[i];
      r.image_id = d.image_id[i];
      r.patient_id = d.patient_id[i];
      r.label = d.labels[i];
      r.t_score = d.t_scores[i];
      if (static_cast<size_t>(i) < d.extra.size()) r.extra = d.extra[i];
      targets.push_back(&r);
    }
    score_batch(tm, d.range(b, e), targets);
  }
  return res;
}

std::string predictions_csv(const PredictResult& res) {
  std::vector<std::string> header = {"image_id", "patient_id", "label", "p_normal", "p_osteopenia", "p_osteoporosis",
                                     "predicted", "path", "status", "error", "warnings"};
  header.insert(header.end(), res.extra_header.begin(), res.extra_header.end());
  if (res.tscore) header.insert(header.end(), {"t_score", "t_score_pred", "t_score_pred_sd"});
  std::string s = csv_line(header);
  for (const auto& r : res.rows) {
    std::string warnings;
    for (const auto& w : r.warnings) warnings += (warnings.empty() ? "" : "; ") + w;
    std::vector<std::string> f = {r.image_id, r.patient_id, r.label >= 0 ? std::to_string(r.label) : ""};
    for (int c = 0; c < kNumClasses; ++c) f.push_back(r.ok ? format_double(r.p[c]) : "");
    f.push_back(r.ok ? kClassNames[r.predicted] : "");
    f.push_back(r.path);
    f.push_back(r.ok ? "ok" : "error");
    f.push_back(r.error);
    f.push_back(warnings);
    f.insert(f.end(), r.extra.begin(), r.extra.end());
    if (res.tscore) {
      f.push_back(std::isnan(r.t_score) ? "" : format_double(r.t_score));
      f.push_back(r.ok ? format_double(r.t_score_pred) : "");
      f.push_back(r.ok ? format_double(r.t_score_pred_sd) : "");
    }
    s += csv_line(f);
  }
  return s;
}

}  // namespace osteofm
