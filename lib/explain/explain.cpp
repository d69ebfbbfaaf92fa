#include "explain/explain.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/file_names.hpp"
#include "core/interrupt.hpp"
#include "core/labels.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "core/parallel.hpp"
#include "core/progress.hpp"
#include "core/runtime.hpp"
#include "data/cache_index.hpp"
#include "data/loader.hpp"
#include "data/regions.hpp"
#include "eval/metrics.hpp"
#include "explain/ci_json.hpp"
#include "explain/deletion.hpp"
#include "explain/explain_study.hpp"
#include "explain/gradcam.hpp"
#include "explain/mask_sensitivity.hpp"
#include "explain/occlusion_study.hpp"
#include "explain/overlay_set.hpp"
#include "explain/region_study.hpp"
#include "explain/rollout.hpp"
#include "explain/saliency_map.hpp"
#include "io/manifest.hpp"
#include "models/embed.hpp"
#include "train/run_model.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int parse_target(const std::string& t) {
  if (t == "predicted") return -1;
  if (t == "label") return -2;
  if (auto k = parse_label(t)) return *k;
  throw InputError("--target must be predicted, label, normal, osteopenia or osteoporosis, not '" + t + "'");
}

void check_explain_options(const ExplainOptions& opt) {
  if (opt.batch < 1) throw InputError("--batch must be at least 1");
  if (!(opt.occlusion_floor >= 0.0 && opt.occlusion_floor < 1.0))
    throw InputError("--occlusion-floor must be in [0, 1): it is a drop in probability");
  if (!(opt.fixed_threshold > 0.0 && opt.fixed_threshold <= 1.0))
    throw InputError("--threshold must be in (0, 1]: the CAM is min-max normalised and 0 would select every pixel");
  if (opt.fills.empty()) throw InputError("--fills needs at least one of mean, blur, noise");
  for (const auto& f : opt.fills)
    if (f != "mean" && f != "blur" && f != "noise") throw InputError("--fills: '" + f + "' is not mean, blur or noise");
  if (opt.split != "train" && opt.split != "val" && opt.split != "test")
    throw InputError("--split must be train, val or test, not '" + opt.split + "'");
}

// The explained split's pixel mean and SD: the occlusion fills' statistics.
std::pair<double, double> pixel_statistics(const SplitData& d, int64_t batch) {
  double s1 = 0, s2 = 0, count = 0;
  for (int64_t b = 0; b < d.size(); b += batch) {
    throw_if_interrupted();
    const auto x = d.range(b, std::min(d.size(), b + batch)).to(torch::kFloat64);
    s1 += x.sum().item<double>();
    s2 += (x * x).sum().item<double>();
    count += static_cast<double>(x.numel());
  }
  const double mean = s1 / count;
  return {mean, std::sqrt(std::max(0.0, s2 / count - mean * mean))};
}

// Everything one pass over the split fills in, batch by batch: the map's own probabilities
// and targets per image, the studies that score the maps (explain_study.hpp), in the order
// they run and report, and the overlays (whose captions read the region study).
struct ExplainPass {
  const ExplainOptions& opt;
  TrainedModel& tm;
  const SplitData& d;
  const RegionTable& table;
  const SaliencyMap& saliency;
  const OcclusionFills& fills;
  std::vector<std::unique_ptr<ExplainStudy>> studies;
  const RegionStudy* regions = nullptr;  // one of the studies
  OverlaySet& overlays;
  int target_mode;
  std::string run_dir;
  ScoredSet original;  // the map's own probabilities, filled in batch by batch
  std::vector<int> predicted, target_class;
  std::vector<char> has_mask, bone_scored;  // bone_scored: a mask with bone pixels
  double cam_seconds = 0;
  std::map<std::string, double> study_seconds;  // by study name

  void run_batch(int64_t b, int64_t e);

 private:
  std::string overlay_caption(int64_t i) const;
};

std::string ExplainPass::overlay_caption(int64_t i) const {
  char caption[240];
  // The raw IoU depends on the token grid; the normalised one is comparable across backbones.
  const double normalised = regions->iou_bone_normalised(i);
  const std::string iou_text =
      bone_scored[i] ? format_fixed(regions->iou_bone(i), 2) +
                           (std::isnan(normalised) ? std::string() : " (norm. " + format_fixed(normalised, 2) + ")")
                     : "n/a";
  std::snprintf(caption, sizeof caption, "%s  true %s  pred %s (p %.2f)  IoU_bone %s", d.image_id[i].c_str(),
                kClassNames[d.labels[i]], kClassNames[predicted[i]], original.score[i][predicted[i]], iou_text.c_str());
  return caption;
}

void ExplainPass::run_batch(int64_t b, int64_t e) {
  const int64_t k = e - b;
  Classifier& model = tm.built.model;
  std::vector<int64_t> rows;
  for (int64_t i = b; i < e; ++i) rows.push_back(i);
  const auto x01 = d.take(rows).to(tm.device);  // [k,1,S,S]
  const auto masks = d.take_masks(rows);        // [k,S,S] uint8, CPU
  const auto tg = std::chrono::steady_clock::now();
  // The map's own (unoccluded) forward pass gives the probabilities and the predicted class.
  std::vector<int64_t> targets(k);
  for (int64_t i = 0; i < k; ++i)
    targets[i] = target_mode == -1 ? kPredictedClass : target_mode == -2 ? d.labels[b + i] : target_mode;
  const GradCamResult g = saliency.compute(model, x01, tm.pre, targets);
  const auto probs = torch::softmax(g.logits.to(torch::kFloat32), -1).to(torch::kCPU, torch::kFloat64);
  if (!torch::isfinite(probs).all().item<bool>())
    throw RuntimeFailure(run_dir + ": the model's probabilities are not finite (NaN or Inf weights); nothing to explain");
  for (int64_t i = 0; i < k; ++i) {
    std::array<double, kNumClasses> p{};
    for (int c = 0; c < kNumClasses; ++c) p[c] = probs[i][c].item<double>();
    original.score[b + i] = p;
    predicted[b + i] = predicted_class(p);
    target_class[b + i] = static_cast<int>(g.target[i]);
  }
  const auto cam = g.cam.to(torch::kCPU);  // [k,S,S]
  cam_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - tg).count();

  const uint8_t bone_bits = table.bone_bits();
  std::vector<int64_t> bone_rows;  // in-batch rows whose mask has bone
  for (int64_t i = 0; i < k; ++i) {
    has_mask[b + i] = !d.mask_path[b + i].empty();
    bone_scored[b + i] = has_mask[b + i] && bone_bits != 0 && masks[i].bitwise_and(bone_bits).ne(0).any().item<bool>();
    if (bone_scored[b + i]) bone_rows.push_back(i);
  }
  const StudyBatch batch{model, tm.pre, fills, b, rows, x01, masks, cam, g.cam_grid, has_mask, bone_rows, original};
  for (auto& study : studies) {
    const auto t0 = std::chrono::steady_clock::now();
    study->run_batch(batch);
    study_seconds[study->name()] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  for (int64_t i = 0; i < k; ++i) {
    const int label = d.labels[b + i];
    // The id is data from a CSV: file_stem_for_id keeps '/' and ".." from steering the file.
    if (overlays.wants(label))
      overlays.add(label, kClassNames[label] + std::string("_") + file_stem_for_id(d.image_id[b + i]) + ".png", x01[i][0],
                   cam[i], masks[i], overlay_caption(b + i));
  }
}

// Why there is no bone score, when there is none ("" when some image has one).
std::string missing_bone_reason(const ExplainPass& pass) {
  if (pass.table.bone_bits() == 0) return "the region table (regions.json) has no bone region";
  if (std::count(pass.has_mask.begin(), pass.has_mask.end(), 1) == 0) return "no image of the split has a region mask";
  if (std::count(pass.bone_scored.begin(), pass.bone_scored.end(), 1) == 0) return "no mask of the split has bone pixels";
  return "";
}

// explain.json's coverage block; said once on stderr too when the scores cover part of the
// split.
json coverage_report(const ExplainPass& pass, const OcclusionStudy& occlusion, const std::string& bone_reason) {
  const int64_t N = pass.d.size();
  const bool bone_table = pass.table.bone_bits() != 0;
  const int64_t n_masked = std::count(pass.has_mask.begin(), pass.has_mask.end(), 1);
  const int64_t n_bone = std::count(pass.bone_scored.begin(), pass.bone_scored.end(), 1);
  json coverage = {{"images", N},
                   {"with_mask", n_masked},
                   {"bone_scored", n_bone},
                   {"skipped", {{"no_mask", N - n_masked}, {"no_bone_pixels", bone_table ? n_masked - n_bone : 0}}},
                   {"bone_region_in_table", bone_table}};
  if (!bone_reason.empty()) coverage["bone_reason"] = bone_reason;
  if (n_bone < N) {
    std::string why;
    if (N - n_masked > 0) why += std::to_string(N - n_masked) + " without a mask";
    if (bone_table && n_masked - n_bone > 0)
      why += (why.empty() ? "" : ", ") + std::to_string(n_masked - n_bone) + " whose mask has no bone";
    if (!bone_table) why += (why.empty() ? "" : ", ") + std::string("regions.json has no bone region");
    log_info("explain", log_text("maps for all ", N, " images; region scores on ", n_masked,
                                 ", bone scores (IoU_bone, Δbone) on ", n_bone, " (", why, ")"));
  }
  if (occlusion.area_short())
    log_info(
        "explain",
        log_text("the area-matched control covers ", static_cast<int>(100 * occlusion.area_ratio()),
                 "% of the bones' area (too few pixels outside bones and controls); area_control.area_ratio says so"));
  return coverage;
}

// per_image.csv: an image a row, its probabilities, then every study's columns.
std::string per_image_csv(const ExplainPass& pass) {
  const SplitData& d = pass.d;
  std::vector<std::string> header = {"image_id", "patient_id", "label", "predicted", "target_class",
                                     "p_normal", "p_osteopenia", "p_osteoporosis"};
  for (const auto& study : pass.studies)
    for (const auto& c : study->csv_columns()) header.push_back(c);
  std::string csv = csv_line(header);
  for (int64_t i = 0; i < d.size(); ++i) {
    std::vector<std::string> row = {d.image_id[i], d.patient_id[i], std::to_string(d.labels[i]),
                                    std::to_string(pass.predicted[i]), std::to_string(pass.target_class[i])};
    for (int c = 0; c < kNumClasses; ++c) row.push_back(format_double(pass.original.score[i][c]));
    for (const auto& study : pass.studies)
      for (auto& v : study->csv_values(i)) row.push_back(std::move(v));
    csv += csv_line(row);
  }
  return csv;
}

// The folder's files but explain.json: per-image CSV, replicates, overlays (explain.json,
// written last by the caller, means the folder is complete).
void write_explain_files(const std::string& out_dir, const ExplainPass& pass, const std::string& replicates,
                         ExplainSummary& sum) {
  fs::create_directories(out_dir);
  for (const fs::path& dir : {fs::path(out_dir), fs::path(out_dir) / "overlays"}) remove_stale_temporaries(dir.string());
  write_file_atomic((fs::path(out_dir) / layout::kPerImage).string(), per_image_csv(pass));
  write_file_atomic((fs::path(out_dir) / layout::kReplicates).string(), replicates);
  const OverlaySet::Written written = pass.overlays.write(out_dir);
  sum.overlays = written.files.size();
  sum.report["files"] = {{"per_image", layout::kPerImage}, {"replicates", layout::kReplicates}, {"overlays", written.files}};
  if (!written.skipped.empty()) sum.report["files"]["overlays_skipped"] = written.skipped;
}

// The studies in the order they run and report: regions (IoU_bone), deletion curves,
// occlusion (Δbone), mask sensitivity (last: it annotates the others' estimates).
struct Studies {
  std::vector<std::unique_ptr<ExplainStudy>> all;
  const RegionStudy* regions = nullptr;
  const OcclusionStudy* occlusion = nullptr;
};

Studies make_studies(const ExplainOptions& opt, const RegionTable& table, const ClassifierImpl& model, const SplitData& d,
                     int64_t input_size, const ScoredSet& blank) {
  const int64_t N = d.size();
  const int64_t block_px = model.backbone->arch.patch_size / 2;
  Studies s;
  auto regions = std::make_unique<RegionStudy>(table, N, opt.fixed_threshold, opt.chance_draws, opt.bootstrap.seed);
  s.regions = regions.get();
  s.all.push_back(std::move(regions));
  // Deletion curves: [step] of the split's probabilities with the map's (or a random order's)
  // top cells removed, filled as the first fill.
  if (opt.deletion_steps > 0)
    s.all.push_back(std::make_unique<DeletionStudy>(opt.deletion_steps, opt.bootstrap.seed, blank, opt.fills[0]));
  // Occlusion of the images with bone: every fill x variant, one forward pass each.
  auto occlusion = std::make_unique<OcclusionStudy>(table, opt.fills, opt.area_draws, block_px, opt.bootstrap.seed, d.labels);
  occlusion->set_quiet(opt.quiet_fill_warnings);
  s.occlusion = occlusion.get();
  s.all.push_back(std::move(occlusion));
  const int sensitivity_px = opt.mask_sensitivity < 0 ? default_mask_sensitivity(input_size) : opt.mask_sensitivity;
  if (sensitivity_px > 0)
    s.all.push_back(std::make_unique<MaskSensitivity>(table, sensitivity_px, N, opt.fixed_threshold, opt.fills[0], block_px,
                                                      opt.bootstrap.seed, d.labels));
  return s;
}

}  // namespace

ExplainSummary explain_run(const std::string& run_dir, const std::string& out_dir, const ExplainOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  check_explain_options(opt);
  const int target_mode = parse_target(opt.target);
  check_saliency_map(opt.cam);

  TrainedModel tm = load_trained_model(run_dir, opt.device);
  Classifier& model = tm.built.model;
  const std::string data = opt.data.empty() ? tm.config.data.manifest : opt.data;
  Manifest manifest = load_manifest(data);
  for (const auto& p : manifest.problems)
    if (p.error) throw InputError(p.message);
  SplitData d = load_split(manifest, opt.split, tm.pre, resolve_threads(opt.workers), "auto");
  if (d.size() == 0) throw InputError(data + ": no '" + opt.split + "' rows to explain");
  // Scores need masks, maps do not: every image gets its map (and overlay); region scores
  // come from the images that have a mask, bone scores from those whose mask has bone.
  const RegionTable table = region_table_for(manifest.cache_dir.empty() ? manifest.dir : manifest.cache_dir);
  const int64_t N = d.size(), S = tm.pre.size;
  const auto [mean, sd] = pixel_statistics(d, opt.batch);

  const std::unique_ptr<SaliencyMap> saliency = make_saliency_map(opt.cam, {mean, opt.occlusion_floor});
  const OcclusionFills fills(mean, sd, S, opt.bootstrap.seed, tm.device);
  if (opt.mask_sensitivity < -1 || opt.mask_sensitivity > S / 4)
    throw InputError("--mask-sensitivity must be 0 (off) to " + std::to_string(S / 4) +
                     " pixels (a quarter of the model's " + std::to_string(S) + " px input), not " +
                     std::to_string(opt.mask_sensitivity));
  OverlaySet overlays(opt.overlays_per_class, table, saliency->title());
  // The map's own scores start blank: labels, and room for every image's probabilities.
  ScoredSet blank{d.labels, std::vector<std::array<double, kNumClasses>>(static_cast<size_t>(N))};
  ExplainPass pass{opt,              tm,          d,           table, *saliency, fills, {}, nullptr, overlays, target_mode, run_dir,
                   std::move(blank), std::vector<int>(N), std::vector<int>(N), std::vector<char>(N), std::vector<char>(N), 0, {}};
  Studies studies = make_studies(opt, table, *model, d, S, pass.original);
  pass.studies = std::move(studies.all);
  pass.regions = studies.regions;
  const OcclusionStudy& occlusion = *studies.occlusion;

  ProgressBar bar("explain " + fs::path(run_dir).filename().string(), static_cast<long>(N));
  for (int64_t b = 0; b < N; b += opt.batch) {
    throw_if_interrupted();
    const int64_t e = std::min(N, b + opt.batch);
    pass.run_batch(b, e);
    bar.update(static_cast<long>(e));
  }

  // Statistics.
  size_t n_units = 0;
  const std::vector<uint32_t> patients = cluster_index(d.patient_id, &n_units);
  const std::vector<uint32_t> clusters = opt.cluster ? patients : std::vector<uint32_t>();
  const std::string bone_reason = missing_bone_reason(pass);
  const json coverage = coverage_report(pass, occlusion, bone_reason);

  ExplainSummary sum;
  sum.images = N;
  sum.report = {{"run", fs::absolute(run_dir).lexically_normal().string()},
                {"data", data},
                {"split", opt.split},
                {"n", N},
                {"n_patients", n_units},
                {"target", opt.target},
                {"cam", saliency->name()},
                {"regions", json::parse(table.to_json())},
                {"bootstrap",
                 {{"replicates", opt.bootstrap.replicates}, {"method", "percentile"}, {"clustered", opt.cluster},
                  {"resample_unit", opt.cluster ? "patient" : "image"}, {"patients_repeat", static_cast<int64_t>(n_units) < N},
                  {"seed", opt.bootstrap.seed}, {"conf_level", opt.bootstrap.conf_level}}},
                {"occlusion", {{"pixel_mean", mean}, {"pixel_sd", sd}, {"blur_sigma_px", fills.blur_sigma()}}},
                {"coverage", coverage}};
  const StudyTotals totals{pass.original, d.labels,    pass.target_class, pass.bone_scored, d.patient_id,
                           clusters,      n_units,     opt.bootstrap,     opt.cluster,      bone_reason};
  for (const auto& study : pass.studies) study->report(sum.report, totals);
  saliency->describe(sum.report, model);
  // The headline scores' replicates, for a seed mean's interval (the table's): written
  // beside explain.json, which keeps the estimates and intervals only.
  const std::string replicates = take_replicates(
      sum.report, {"delta_bone.all", "delta_bone.fills.blur.all", "delta_bone.area_control.delta",
                   "delta_bone.area_control.delta_bone_minus_control", "iou_bone.all",
                   "iou_bone.reference.all.normalised"});

  write_explain_files(out_dir, pass, replicates, sum);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sum.cam_images_per_s = pass.cam_seconds > 0 ? N / pass.cam_seconds : 0;
  // The studies that occlude images (forward passes of their own).
  sum.occlusion_seconds = pass.study_seconds["occlusion"] + pass.study_seconds["mask_sensitivity"];
  sum.report["timing"] = {{"seconds", sum.seconds},
                          {"cam_images_per_s", sum.cam_images_per_s},
                          {"occlusion_seconds", sum.occlusion_seconds},
                          {"study_seconds", pass.study_seconds},
                          {"device", tm.device.str()}};
  write_file_atomic((fs::path(out_dir) / layout::kExplainRecord).string(), sum.report.dump(2) + "\n");
  char text[160];
  std::snprintf(text, sizeof text, "%lld images, %s %.1f images/s, occlusion %.1f s", static_cast<long long>(N),
                saliency->name(), sum.cam_images_per_s, sum.occlusion_seconds);
  bar.finish(text);
  return sum;
}

}  // namespace osteofm
