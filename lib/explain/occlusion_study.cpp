#include "explain/occlusion_study.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>

#include "core/csv.hpp"
#include "core/labels.hpp"
#include "core/log.hpp"
#include "core/numbers.hpp"
#include "data/transforms.hpp"
#include "explain/ci_json.hpp"
#include "explain/occlusion_control.hpp"

namespace osteofm {
using nlohmann::json;

namespace {

torch::Tensor gaussian_blur(const torch::Tensor& x, double sigma) {  // x [k,1,S,S]
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  auto t = torch::arange(-radius, radius + 1, torch::kFloat32);
  auto k = torch::exp(-(t * t) / (2 * sigma * sigma));
  k = (k / k.sum()).to(x.device());
  namespace F = torch::nn::functional;
  auto y = F::pad(x, F::PadFuncOptions({radius, radius, radius, radius}).mode(torch::kReflect));
  y = F::conv2d(y, k.view({1, 1, 1, -1}));
  return F::conv2d(y, k.view({1, 1, -1, 1}));
}
}  // namespace

torch::Tensor OcclusionFills::make(const std::string& name, const torch::Tensor& x, const std::vector<int64_t>& rows) const {
  if (name == "mean") return torch::full_like(x, mean_);
  if (name == "blur") return gaussian_blur(x, blur_sigma());
  // Per image its own seeded stream: the same noise whatever the batch size.
  std::vector<torch::Tensor> parts;
  for (const int64_t r : rows) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed_ * 1000003ull + static_cast<uint64_t>(r));
    parts.push_back(torch::randn({1, size_, size_}, gen, torch::TensorOptions().dtype(torch::kFloat32)));
  }
  return (torch::stack(parts).to(device_) * sd_ + mean_).clamp(0.0, 1.0);
}

OcclusionStudy::OcclusionStudy(const RegionTable& table, std::vector<std::string> fills, int area_draws, int64_t block_px,
                               uint64_t seed, const std::vector<int>& labels)
    : fills_(std::move(fills)), block_px_(block_px), seed_(seed) {
  bone_bits_ = table.bone_bits();
  for (const auto& r : table.controls()) control_bits_ |= r.bits;
  const bool bone_table = bone_bits_ != 0;
  if (bone_table) variants_.push_back({"all_bones", bone_bits_, 0});
  for (const auto& r : table.bones()) variants_.push_back({"keep_" + r.name, bone_bits_, r.bits});
  draws_ = bone_table ? static_cast<size_t>(std::max(0, area_draws)) : 0;
  ScoredSet blank;
  blank.label = labels;
  blank.score.resize(labels.size());
  occluded_.assign(fills_.size() * variants_.size(), blank);
  bone_scored_.assign(labels.size(), 0);
  area_occluded_.assign(fills_.size() * draws_, blank);
}

void OcclusionStudy::run_batch(Classifier& model, const Preprocessing& pre, const OcclusionFills& fills,
                               const torch::Tensor& x01, const torch::Tensor& masks, const std::vector<int64_t>& bone_rows,
                               int64_t first_row) {
  const int64_t kb = static_cast<int64_t>(bone_rows.size());
  if (kb == 0) return;
  torch::NoGradGuard ng;
  const auto dev = x01.device();
  const auto pick = torch::tensor(bone_rows, torch::kInt64);
  const auto xb = x01.index_select(0, pick.to(dev));
  const auto mdev = masks.index_select(0, pick).to(dev).unsqueeze(1);  // [kb,1,S,S]
  // The area-matched controls of this batch: per draw, one occlusion mask per bone image.
  std::vector<torch::Tensor> area_masks;  // [draws] of [kb,1,S,S] float on dev
  for (size_t a = 0; a < draws_; ++a) {
    std::vector<torch::Tensor> parts;
    for (const int64_t i : bone_rows) {
      const AreaControl ac = area_matched_control(masks[i], bone_bits_, control_bits_, block_px_,
                                                  seed_ * 104729ull + static_cast<uint64_t>(first_row + i) * 31 + a);
      area_target_ += static_cast<double>(ac.target);
      area_covered_ += static_cast<double>(ac.covered);
      parts.push_back(ac.occlude);
    }
    area_masks.push_back(torch::stack(parts).unsqueeze(1).to(dev, torch::kFloat32));
  }
  std::vector<int64_t> rows;  // the bone images' rows in the split
  for (const int64_t i : bone_rows) rows.push_back(first_row + i);
  // One forward pass of occluded bone images; their probabilities into `set`.
  auto score_occluded = [&](const torch::Tensor& xo, ScoredSet& set) {
    const auto p = torch::softmax(model->forward(normalize_batch(xo, pre)).to(torch::kFloat32), -1)
                       .to(torch::kCPU, torch::kFloat64);
    for (int64_t j = 0; j < kb; ++j)
      for (int c = 0; c < kNumClasses; ++c) set.score[rows[j]][c] = p[j][c].item<double>();
  };
  const size_t V = variants_.size();
  for (size_t f = 0; f < fills_.size(); ++f) {
    const torch::Tensor fill = fills.make(fills_[f], xb, rows);
    for (size_t v = 0; v < V; ++v) {
      auto o = mdev.bitwise_and(variants_[v].occlude).ne(0);
      if (variants_[v].keep) o = o.logical_and(mdev.bitwise_and(variants_[v].keep).eq(0));
      const auto of = o.to(torch::kFloat32);
      score_occluded(xb * (1 - of) + fill * of, occluded_[f * V + v]);
    }
    for (size_t a = 0; a < draws_; ++a)
      score_occluded(xb * (1 - area_masks[a]) + fill * area_masks[a], area_occluded_[f * draws_ + a]);
  }
}

json OcclusionStudy::delta_bone(const ScoredSet& original, const std::vector<char>& bone_scored,
                                const std::vector<std::string>& patient_id, const std::string& reason,
                                const BootstrapOptions& bootstrap, bool cluster) const {
  // Δbone on the images with bone (all of them when every mask has bone): the same images
  // before and after occlusion, resampled by patient.
  std::vector<int64_t> bone_index;
  for (size_t i = 0; i < bone_scored.size(); ++i)
    if (bone_scored[i]) bone_index.push_back(static_cast<int64_t>(i));
  const int64_t NB = static_cast<int64_t>(bone_index.size());
  auto subset = [&](const ScoredSet& s) {
    ScoredSet out;
    for (const int64_t i : bone_index) {
      out.label.push_back(s.label[i]);
      out.score.push_back(s.score[i]);
    }
    return out;
  };
  std::vector<std::string> bone_patients;
  for (const int64_t i : bone_index) bone_patients.push_back(patient_id[i]);
  size_t nb_units = 0;
  const std::vector<uint32_t> bone_clusters_all = cluster_index(bone_patients, &nb_units);
  const std::vector<uint32_t> bone_clusters = cluster ? bone_clusters_all : std::vector<uint32_t>();
  std::string delta_reason = reason;
  const ScoredSet original_bone = subset(original);
  if (delta_reason.empty()) {
    const MetricEngine probe(original_bone);
    const auto counts = probe.class_counts();
    for (int c = 0; c < kNumClasses && delta_reason.empty(); ++c)
      if (counts[c] == 0)
        delta_reason = std::string("the images with bone masks include no ") + kClassNames[c] +
                       " image: macro AUC, and so Δbone, is undefined";
  }
  json delta = {{"fill", fills_[0]}, {"metric", "auc_macro"}, {"n", NB}};
  if (!delta_reason.empty()) {
    delta["all"] = nullptr;
    delta["reason"] = delta_reason;
    return delta;
  }
  const size_t V = variants_.size(), D = draws_;
  const MetricEngine orig_engine(original_bone);
  std::vector<MetricEngine> engines;
  for (const auto& s : occluded_) engines.emplace_back(subset(s));
  auto auc_of = [&](const MetricEngine& e) {
    return bootstrap_statistic(NB, bone_clusters, nb_units, bootstrap, [&](const uint32_t* w) {
      return e.all_classes_present(w) ? e.compute(w)[kAucMacro] : kNaN;
    });
  };
  auto diff_of = [&](const MetricEngine& a, const MetricEngine& b2) {
    return bootstrap_statistic(NB, bone_clusters, nb_units, bootstrap, [&](const uint32_t* w) {
      return a.all_classes_present(w) ? a.compute(w)[kAucMacro] - b2.compute(w)[kAucMacro] : kNaN;
    });
  };
  json fills = json::object();
  for (size_t f = 0; f < fills_.size(); ++f) {
    const MetricEngine& all = engines[f * V];
    json fj = {{"all", ci_json(diff_of(orig_engine, all), NB)}, {"per_region", json::object()},
               {"auc", {{"original", ci_json(auc_of(orig_engine), NB)}, {"all_bones_occluded", ci_json(auc_of(all), NB)}}}};
    size_t top = 0, runner_up = 0;  // variants with the largest and second-largest add-back (0: none)
    constexpr double kNone = -std::numeric_limits<double>::infinity();
    double top_est = kNone, runner_est = kNone;
    for (size_t v = 1; v < V; ++v) {
      const std::string region = variants_[v].name.substr(5);
      const json add_back = ci_json(diff_of(engines[f * V + v], all), NB);
      fj["per_region"][region] = add_back;
      fj["auc"]["all_bones_occluded_except_" + region] = ci_json(auc_of(engines[f * V + v]), NB);
      const double est = add_back["estimate"].is_number() ? add_back["estimate"].get<double>() : kNone;
      if (est > top_est) {
        runner_up = top, runner_est = top_est, top = v, top_est = est;
      } else if (est > runner_est) {
        runner_up = v, runner_est = est;
      }
    }
    // Which bone carries the signal, paired: add-back(top) - add-back(runner-up) is
    // AUC(all but top occluded) - AUC(all but runner-up occluded) on the same resamples,
    // so the all-bones-occluded AUC, shared by both, does not widen its interval.
    if (top > 0 && runner_up > 0)
      fj["largest_add_back"] = {{"region", variants_[top].name.substr(5)},
                                {"runner_up", variants_[runner_up].name.substr(5)},
                                {"minus_runner_up", ci_json(diff_of(engines[f * V + top], engines[f * V + runner_up]), NB)}};
    if (D > 0) {
      // Δ of the area-matched control (mean AUC over the draws) and Δbone minus it, paired.
      std::vector<MetricEngine> controls;
      for (size_t a = 0; a < D; ++a) controls.emplace_back(subset(area_occluded_[f * D + a]));
      auto control_auc = [&](const uint32_t* w) {
        double s = 0;
        for (const auto& e : controls) s += e.compute(w)[kAucMacro];
        return s / static_cast<double>(D);
      };
      const auto delta_control = bootstrap_statistic(NB, bone_clusters, nb_units, bootstrap, [&](const uint32_t* w) {
        return orig_engine.all_classes_present(w) ? orig_engine.compute(w)[kAucMacro] - control_auc(w) : kNaN;
      });
      const auto bone_minus = bootstrap_statistic(NB, bone_clusters, nb_units, bootstrap, [&](const uint32_t* w) {
        return all.all_classes_present(w) ? control_auc(w) - all.compute(w)[kAucMacro] : kNaN;
      });
      const auto control_level = bootstrap_statistic(NB, bone_clusters, nb_units, bootstrap, [&](const uint32_t* w) {
        return orig_engine.all_classes_present(w) ? control_auc(w) : kNaN;
      });
      fj["area_control"] = {{"delta", ci_json(delta_control, NB)},
                            {"delta_bone_minus_control", ci_json(bone_minus, NB)},
                            {"draws", D},
                            {"area_ratio", area_ratio()}};
      fj["auc"]["area_control_occluded"] = ci_json(control_level, NB);
    }
    // A fill that drives the model below chance has moved the images off its training
    // distribution: Δbone then measures the fill as much as the bones.
    json below = json::array();
    for (auto it = fj["auc"].begin(); it != fj["auc"].end(); ++it)
      if (it.value()["estimate"].is_number() && it.value()["estimate"].get<double>() < 0.5) below.push_back(it.key());
    fj["auc_below_0.5"] = below;
    if (!below.empty() && !quiet_)
      log_warning("explain",
                  log_text("with the ", fills_[f], " fill the macro AUC falls below 0.5 (", below.size(), " of ",
                           fj["auc"].size(), " occlusions): Δbone there reflects the fill too; compare the blur fill"));
    fills[fills_[f]] = fj;
  }
  for (auto it = fills[fills_[0]].begin(); it != fills[fills_[0]].end(); ++it) delta[it.key()] = it.value();  // incl. auc_below_0.5
  delta["fills"] = fills;
  return delta;
}

json OcclusionStudy::area_control_report() const {
  if (draws_ == 0) return nullptr;
  return {{"definition", "per image, random blocks of half a patch outside every bone and control region, as many pixels as "
                         "its bones, seeded; Δ = AUC(original) - mean over draws of AUC(control occluded); "
                         "delta_bone_minus_control = mean AUC(control occluded) - AUC(all bones occluded)"},
          {"block_px", block_px_},
          {"draws", draws_},
          {"area_ratio", area_ratio()}};
}

std::vector<std::string> OcclusionStudy::csv_columns() const {
  std::vector<std::string> out;
  for (const auto& f : fills_)
    for (const auto& v : variants_) out.push_back("p_label_" + f + "_" + v.name + "_occluded");
  return out;
}

std::vector<std::string> OcclusionStudy::csv_values(int64_t row) const {
  std::vector<std::string> out;
  const bool bone_scored = bone_scored_[static_cast<size_t>(row)] != 0;
  for (const auto& s : occluded_)
    out.push_back(bone_scored ? format_double(s.score[row][s.label[static_cast<size_t>(row)]]) : std::string());
  return out;
}

void OcclusionStudy::run_batch(const StudyBatch& b) {
  for (const int64_t i : b.bone_rows) bone_scored_[static_cast<size_t>(b.first_row + i)] = 1;
  run_batch(b.model, b.pre, b.fills, b.x01, b.masks, b.bone_rows, b.first_row);
}

void OcclusionStudy::report(json& out, const StudyTotals& t) const {
  out["delta_bone"] = delta_bone(t.original, t.bone_scored, t.patient_id, t.bone_reason, t.bootstrap, t.cluster);
  const json& delta = out["delta_bone"];
  if (delta.contains("reason") && delta["reason"].get<std::string>() != t.bone_reason)
    log_warning("explain", log_text("no Δbone: ", delta["reason"].get<std::string>()));
  if (draws_ > 0) out["area_control"] = area_control_report();
}

}  // namespace osteofm
