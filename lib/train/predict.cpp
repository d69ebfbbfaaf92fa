#include "train/predict.hpp"

#include "core/autocast.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/parallel.hpp"
#include "core/runtime.hpp"
#include "eval/metrics.hpp"
#include "io/image.hpp"
#include "io/manifest.hpp"
#include "models/embed.hpp"
#include "train/dataset.hpp"
#include "train/run_model.hpp"

namespace osteofm {

namespace {
// Probabilities of [k,1,S,S] images in [0,1].
void score_batch(TrainedModel& tm, const torch::Tensor& x01, std::vector<PredictedImage>& out, size_t first) {
  torch::InferenceMode guard;
  CudaAutocast autocast(tm.device.is_cuda());
  const auto logits = tm.built.model->forward(normalize_batch(x01.to(tm.device), tm.pre));
  const auto p = torch::softmax(logits.to(torch::kFloat32), -1).to(torch::kCPU, torch::kFloat64);
  const auto a = p.accessor<double, 2>();
  for (int64_t i = 0; i < p.size(0); ++i) {
    auto& r = out[first + i];
    for (int c = 0; c < kNumClasses; ++c) r.p[c] = a[i][c];
    r.predicted = predicted_class(r.p);
  }
}
}  // namespace

std::vector<PredictedImage> predict_files(const std::string& run_dir, const std::vector<std::string>& files,
                                          const PredictOptions& o) {
  if (files.empty()) throw InputError("predict: no image given");
  if (o.batch < 1) throw InputError("--batch must be at least 1");
  TrainedModel tm = load_trained_model(run_dir, o.device);
  std::vector<PredictedImage> out(files.size());
  const int threads = o.workers > 0 ? o.workers : hardware_threads();
  for (size_t b = 0; b < files.size(); b += o.batch) {
    const size_t e = std::min(files.size(), b + o.batch);
    std::vector<torch::Tensor> parts(e - b);
    parallel_for(e - b, threads, [&](size_t i, int) { parts[i] = resize_image(read_image(files[b + i]), tm.pre); });
    for (size_t i = b; i < e; ++i) out[i].source = files[i];
    score_batch(tm, torch::stack(parts), out, b);
  }
  return out;
}

std::vector<PredictedImage> predict_manifest(const std::string& run_dir, const std::string& data, const PredictOptions& o) {
  if (o.batch < 1) throw InputError("--batch must be at least 1");
  TrainedModel tm = load_trained_model(run_dir, o.device);
  Manifest m = load_manifest(data);
  for (const auto& p : m.problems)
    if (p.error && p.kind != "missing_t_score" && p.kind != "missing_label") throw InputError(p.message);
  const SplitData d = load_split(m, o.split, tm.pre, o.workers > 0 ? o.workers : hardware_threads(), "no", false);
  if (d.size() == 0) throw InputError(data + ": no rows to predict" + (o.split.empty() ? "" : " in split '" + o.split + "'"));
  std::vector<PredictedImage> out(d.size());
  for (int64_t b = 0; b < d.size(); b += o.batch) {
    const int64_t e = std::min(d.size(), b + o.batch);
    for (int64_t i = b; i < e; ++i) {
      out[i].source = d.image_id[i];
      out[i].patient_id = d.patient_id[i];
      out[i].label = d.labels[i];
    }
    score_batch(tm, d.range(b, e), out, b);
  }
  return out;
}

std::string predictions_csv(const std::vector<PredictedImage>& rows, bool from_manifest) {
  std::string s = csv_line({from_manifest ? "image_id" : "path", "patient_id", "label", "p_normal", "p_osteopenia",
                            "p_osteoporosis", "predicted"});
  for (const auto& r : rows)
    s += csv_line({r.source, r.patient_id, r.label >= 0 ? std::to_string(r.label) : "", format_double(r.p[0]),
                   format_double(r.p[1]), format_double(r.p[2]), kClassNames[r.predicted]});
  return s;
}

}  // namespace osteofm
