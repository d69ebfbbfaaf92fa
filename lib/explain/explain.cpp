#include "explain/explain.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/labels.hpp"
#include "core/progress.hpp"
#include "core/runtime.hpp"
#include "eval/metrics.hpp"
#include "explain/deletion.hpp"
#include "explain/gradcam.hpp"
#include "explain/occlusion_study.hpp"
#include "explain/region_scorer.hpp"
#include "explain/rollout.hpp"
#include "explain/saliency_map.hpp"
#include "data/regions.hpp"
#include "io/manifest.hpp"
#include "models/embed.hpp"
#include "report/overlay.hpp"
#include "data/loader.hpp"
#include "train/run_model.hpp"
#include "data/cache_index.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string format_fixed(double v, int digits) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

int parse_target(const std::string& t) {
  if (t == "predicted") return -1;
  if (t == "label") return -2;
  if (auto k = parse_label(t)) return *k;
  throw InputError("--target must be predicted, label, normal, osteopenia or osteoporosis, not '" + t + "'");
}

}  // namespace

ExplainSummary explain_run(const std::string& run_dir, const std::string& out_dir, const ExplainOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
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
  const int target_mode = parse_target(opt.target);
  const CamMethod cam_method = parse_cam_method(opt.cam);

  TrainedModel tm = load_trained_model(run_dir, opt.device);
  Classifier& model = tm.built.model;
  const std::string data = opt.data.empty() ? tm.config["data"]["manifest"].get<std::string>() : opt.data;
  Manifest manifest = load_manifest(data);
  for (const auto& p : manifest.problems)
    if (p.error) throw InputError(p.message);
  const int workers = resolve_threads(opt.workers);
  SplitData d = load_split(manifest, opt.split, tm.pre, workers, "auto");
  if (d.size() == 0) throw InputError(data + ": no '" + opt.split + "' rows to explain");
  // Scores need masks, maps do not: every image gets its map (and overlay); region scores
  // come from the images that have a mask, bone scores from those whose mask has bone.
  const RegionTable table = region_table_for(manifest.cache_dir.empty() ? manifest.dir : manifest.cache_dir);
  const uint8_t bone_bits = table.bone_bits();
  const bool bone_table = bone_bits != 0;
  uint8_t control_bits = 0;
  std::string control_names;
  for (const auto& r : table.controls()) {
    control_bits |= r.bits;
    control_names += (control_names.empty() ? "" : ", ") + r.name;
  }

  // iou_regions[0] is "all_bones" when the table has a bone region.
  std::vector<ScoredRegion> iou_regions;
  if (bone_table) iou_regions.push_back({"all_bones", bone_bits});
  for (const auto& r : table.regions) iou_regions.push_back({r.name, r.bits});
  const size_t first_region = bone_table ? 1 : 0;

  const int64_t N = d.size(), S = tm.pre.size;
  const torch::Device dev = tm.device;
  // Dataset statistics for the fills: the explained split's pixel mean and SD.
  double mean = 0, sd = 0;
  {
    double s1 = 0, s2 = 0, count = 0;
    for (int64_t b = 0; b < N; b += opt.batch) {
      const auto x = d.range(b, std::min(N, b + opt.batch)).to(torch::kFloat64);
      s1 += x.sum().item<double>();
      s2 += (x * x).sum().item<double>();
      count += static_cast<double>(x.numel());
    }
    mean = s1 / count;
    sd = std::sqrt(std::max(0.0, s2 / count - mean * mean));
  }

  const std::unique_ptr<SaliencyMap> saliency = make_saliency_map(cam_method, {mean, opt.occlusion_floor});

  const OcclusionFills fills(mean, sd, S, opt.bootstrap.seed, dev);
  OcclusionStudy occlusion(table, opt.fills, opt.area_draws, model->backbone->arch.patch_size / 2, opt.bootstrap.seed,
                           d.labels);
  const size_t R = iou_regions.size();
  std::vector<std::vector<double>> iou_topk(R, std::vector<double>(N, kNaN)), iou_fixed = iou_topk, cam_share = iou_topk;
  // Reference levels of the same three scores: [policy 0 topk, 1 fixed, 2 share][region][image].
  std::vector<std::vector<std::vector<double>>> chance(3, iou_topk), ceiling(3, iou_topk);
  const bool references = opt.chance_draws > 0;
  int64_t grid_h = 0, grid_w = 0;  // the map's token grid (from the first batch)
  ScoredSet original;
  original.label = d.labels;
  original.score.resize(N);
  std::vector<int> predicted(N), target_class(N);
  std::vector<char> has_mask(N), bone_scored(N);  // bone_scored: a mask with bone pixels
  std::map<int, int> overlays_left = {{0, opt.overlays_per_class}, {1, opt.overlays_per_class}, {2, opt.overlays_per_class}};
  std::vector<std::pair<std::string, CamOverlay>> overlays;
  double cam_seconds = 0, occlusion_seconds = 0;

  // Deletion curves: [step] of the split's probabilities with the map's (or a random order's)
  // top cells removed.
  DeletionStudy deletion(std::max(0, opt.deletion_steps), opt.bootstrap.seed, original);

  ProgressBar bar("explain " + fs::path(run_dir).filename().string(), static_cast<long>(N));
  for (int64_t b = 0; b < N; b += opt.batch) {
    const int64_t e = std::min(N, b + opt.batch), k = e - b;
    std::vector<int64_t> rows;
    for (int64_t i = b; i < e; ++i) rows.push_back(i);
    const auto x01 = d.take(rows).to(dev);                 // [k,1,S,S]
    const auto masks = d.take_masks(rows);                 // [k,S,S] uint8, CPU
    const auto tg = std::chrono::steady_clock::now();
    // The map's own (unoccluded) forward pass gives the probabilities and the predicted class.
    std::vector<int64_t> targets(k);
    for (int64_t i = 0; i < k; ++i)
      targets[i] = target_mode == -1 ? kPredictedClass : target_mode == -2 ? d.labels[b + i] : target_mode;
    const GradCamResult g = saliency->compute(model, x01, tm.pre, targets);
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
    grid_h = g.cam_grid.size(1);
    grid_w = g.cam_grid.size(2);
    cam_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - tg).count();

    std::vector<int64_t> bone_rows;  // in-batch rows whose mask has bone
    for (int64_t i = 0; i < k; ++i) {
      has_mask[b + i] = !d.mask_path[b + i].empty();
      bone_scored[b + i] = has_mask[b + i] && bone_table && masks[i].bitwise_and(bone_bits).ne(0).any().item<bool>();
      if (bone_scored[b + i]) bone_rows.push_back(i);
      const auto c = cam[i];
      const std::vector<RegionScore> scores = score_regions(c, masks[i], iou_regions, opt.fixed_threshold);
      for (size_t r = 0; r < R; ++r) {
        iou_topk[r][b + i] = scores[r].iou_topk;
        iou_fixed[r][b + i] = scores[r].iou_fixed;
        cam_share[r][b + i] = scores[r].cam_share;
      }
      if (references && has_mask[b + i]) {
        // Seeded by the image's row, whatever the batch.
        const ReferenceLevels levels =
            reference_levels(masks[i], iou_regions, scores, grid_h, grid_w, S, opt.chance_draws,
                             opt.bootstrap.seed * 7919ull + static_cast<uint64_t>(b + i), opt.fixed_threshold);
        for (size_t r = 0; r < R; ++r)
          for (int p = 0; p < 3; ++p) {
            chance[p][r][b + i] = levels.chance[r][p];
            ceiling[p][r][b + i] = levels.ceiling[r][p];
          }
      }
      const int label = d.labels[b + i];
      if (overlays_left[label] > 0) {
        --overlays_left[label];
        CamOverlay o;
        o.size = static_cast<int>(S);
        const auto gray = x01[i][0].to(torch::kCPU).contiguous();
        o.gray.assign(gray.data_ptr<float>(), gray.data_ptr<float>() + S * S);
        const auto cc = c.contiguous();
        o.cam.assign(cc.data_ptr<float>(), cc.data_ptr<float>() + S * S);
        const auto mm = masks[i].contiguous();
        o.mask.assign(mm.data_ptr<uint8_t>(), mm.data_ptr<uint8_t>() + S * S);
        o.bone_bits = bone_bits;
        o.control_bits = control_bits;
        o.map_name = saliency->title();
        o.bone_label = "bones (white)";
        o.control_label = control_names + " (cyan, control)";
        char caption[200];
        const std::string iou_text = bone_scored[b + i] ? format_fixed(iou_topk[0][b + i], 2) : "n/a";
        std::snprintf(caption, sizeof caption, "%s  true %s  pred %s (p %.2f)  IoU_bone %s", d.image_id[b + i].c_str(),
                      kClassNames[label], kClassNames[predicted[b + i]], original.score[b + i][predicted[b + i]],
                      iou_text.c_str());
        o.caption = caption;
        overlays.emplace_back(kClassNames[label] + std::string("_") + d.image_id[b + i] + ".png", std::move(o));
      }
    }

    if (deletion.enabled()) {
      // Deletion: every image, the map's order and a seeded random order, the first fill.
      deletion.run_batch(model, tm.pre, x01, fills.make(opt.fills[0], x01, rows), g.cam_grid, original, b);
    }

    // Occlusion of the images with bone: every fill x variant, one forward pass each.
    const auto to0 = std::chrono::steady_clock::now();
    occlusion.run_batch(model, tm.pre, fills, x01, masks, bone_rows, b);
    occlusion_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - to0).count();
    bar.update(static_cast<long>(e));
  }

  // Statistics.
  size_t n_units = 0;
  const std::vector<uint32_t> patients = cluster_index(d.patient_id, &n_units);
  const std::vector<uint32_t> clusters = opt.cluster ? patients : std::vector<uint32_t>();
  auto mean_ci = [&](const std::vector<double>& v, int only_class) {
    size_t n = 0;
    for (int64_t i = 0; i < N; ++i) n += !std::isnan(v[i]) && (only_class < 0 || d.labels[i] == only_class);
    const auto s = bootstrap_statistic(N, clusters, n_units, opt.bootstrap, [&](const uint32_t* w) {
      double num = 0, den = 0;
      for (int64_t i = 0; i < N; ++i) {
        if (std::isnan(v[i]) || (only_class >= 0 && d.labels[i] != only_class)) continue;
        num += w[i] * v[i];
        den += w[i];
      }
      return den > 0 ? num / den : kNaN;
    });
    return ci_json(s, n);
  };
  const int64_t n_masked = std::count(has_mask.begin(), has_mask.end(), 1);
  const int64_t n_bone = std::count(bone_scored.begin(), bone_scored.end(), 1);
  // Why there is no bone score, when there is none.
  std::string bone_reason;
  if (!bone_table) bone_reason = "the region table (regions.json) has no bone region";
  else if (n_masked == 0) bone_reason = "no image of the split has a region mask";
  else if (n_bone == 0) bone_reason = "no mask of the split has bone pixels";
  // normalised = (mean score - mean chance) / (mean ceiling - mean chance), per replicate,
  // over the images where the region is present.
  auto normalised_ci = [&](const std::vector<double>& v, const std::vector<double>& lo, const std::vector<double>& hi) {
    size_t n = 0;
    for (int64_t i = 0; i < N; ++i) n += !std::isnan(v[i]) && !std::isnan(lo[i]);
    const auto s = bootstrap_statistic(N, clusters, n_units, opt.bootstrap, [&](const uint32_t* w) {
      double sv = 0, sl = 0, sh = 0, den = 0;
      for (int64_t i = 0; i < N; ++i) {
        if (std::isnan(v[i]) || std::isnan(lo[i])) continue;
        sv += w[i] * v[i];
        sl += w[i] * lo[i];
        sh += w[i] * hi[i];
        den += w[i];
      }
      return den > 0 && sh > sl ? (sv - sl) / (sh - sl) : kNaN;
    });
    return ci_json(s, n);
  };
  auto reference_block = [&](const std::vector<std::vector<double>>& values, int policy) {
    json block = {{"per_region", json::object()}, {"chance_draws", opt.chance_draws}};
    auto one = [&](size_t r) {
      return json{{"chance", mean_ci(chance[policy][r], -1)},
                  {"ceiling", mean_ci(ceiling[policy][r], -1)},
                  {"normalised", normalised_ci(values[r], chance[policy][r], ceiling[policy][r])}};
    };
    block["all"] = bone_table ? one(0) : json(nullptr);
    for (size_t r = first_region; r < R; ++r) block["per_region"][iou_regions[r].name] = one(r);
    return block;
  };
  auto iou_block = [&](const std::vector<std::vector<double>>& values, int policy) {
    json block = {{"per_region", json::object()}, {"per_class", json::object()}};
    block["all"] = bone_table ? mean_ci(values[0], -1) : json(nullptr);
    if (references) block["reference"] = reference_block(values, policy);
    if (!bone_reason.empty()) block["all_reason"] = bone_reason;
    for (size_t r = first_region; r < R; ++r) block["per_region"][iou_regions[r].name] = mean_ci(values[r], -1);
    for (int c = 0; c < kNumClasses; ++c) {
      json pc = {{"all", bone_table ? mean_ci(values[0], c) : json(nullptr)}};
      for (size_t r = first_region; r < R; ++r) pc[iou_regions[r].name] = mean_ci(values[r], c);
      block["per_class"][kClassNames[c]] = pc;
    }
    return block;
  };

  const json delta = occlusion.delta_bone(original, bone_scored, d.patient_id, bone_reason, opt.bootstrap, opt.cluster);
  json coverage = {{"images", N},
                   {"with_mask", n_masked},
                   {"bone_scored", n_bone},
                   {"skipped", {{"no_mask", N - n_masked}, {"no_bone_pixels", bone_table ? n_masked - n_bone : 0}}},
                   {"bone_region_in_table", bone_table}};
  if (!bone_reason.empty()) coverage["bone_reason"] = bone_reason;
  if (n_bone < N) {
    // Said once on stderr too: a partial score is not the whole split's.
    std::string why;
    if (N - n_masked > 0) why += std::to_string(N - n_masked) + " without a mask";
    if (bone_table && n_masked - n_bone > 0)
      why += (why.empty() ? "" : ", ") + std::to_string(n_masked - n_bone) + " whose mask has no bone";
    if (!bone_table) why += (why.empty() ? "" : ", ") + std::string("regions.json has no bone region");
    std::cerr << "osteofm: note: explain: maps for all " << N << " images; region scores on " << n_masked
              << ", bone scores (IoU_bone, Δbone) on " << n_bone << " (" << why << ")\n";
  }
  if (occlusion.area_short())
    std::cerr << "osteofm: note: explain: the area-matched control covers " << static_cast<int>(100 * occlusion.area_ratio())
              << "% of the bones' area (too few pixels outside bones and controls); area_control.area_ratio says so\n";
  if (delta.contains("reason") && delta["reason"].get<std::string>() != bone_reason)
    std::cerr << "osteofm: warning: explain: no Δbone: " << delta["reason"].get<std::string>() << "\n";

  json regions_json = json::parse(table.to_json());
  ExplainSummary sum;
  sum.images = N;
  sum.report = {{"run", fs::absolute(run_dir).lexically_normal().string()},
                {"data", data},
                {"split", opt.split},
                {"n", N},
                {"n_patients", n_units},
                {"target", opt.target},
                {"cam", saliency->name()},
                {"regions", regions_json},
                {"bootstrap",
                 {{"replicates", opt.bootstrap.replicates}, {"method", "percentile"}, {"clustered", opt.cluster},
                  {"resample_unit", opt.cluster ? "patient" : "image"}, {"patients_repeat", static_cast<int64_t>(n_units) < N},
                  {"seed", opt.bootstrap.seed}, {"conf_level", opt.bootstrap.conf_level}}},
                {"occlusion", {{"pixel_mean", mean}, {"pixel_sd", sd}, {"blur_sigma_px", fills.blur_sigma()}}},
                {"iou_bone", iou_block(iou_topk, 0)},
                {"iou_bone_fixed", iou_block(iou_fixed, 1)},
                {"cam_share", iou_block(cam_share, 2)},
                {"coverage", coverage},
                {"delta_bone", delta}};
  sum.report["iou_bone"]["policy"] = "topk";
  if (deletion.enabled())
    sum.report["deletion"] = deletion.report(target_class, opt.fills[0], [&](const std::vector<double>& v) { return mean_ci(v, -1); });
  if (occlusion.area_draws() > 0) sum.report["area_control"] = occlusion.area_control_report();
  sum.report["iou_bone_fixed"]["policy"] = "fixed";
  sum.report["iou_bone_fixed"]["threshold"] = opt.fixed_threshold;
  sum.report["cam_share"]["definition"] = "sum of CAM inside the region / sum of CAM";
  if (references)
    sum.report["reference_levels"] = {
        {"grid", {grid_h, grid_w}},
        {"chance", "mean score of " + std::to_string(opt.chance_draws) +
                       " seeded maps of uniform random values on the token grid, per image, upsampled as the CAM"},
        {"ceiling", "score of the region mask area-pooled to the token grid and upsampled as the CAM"},
        {"normalised", "(mean score - mean chance) / (mean ceiling - mean chance): 0 chance, 1 the grid's best"}};
  saliency->describe(sum.report, model);

  // Files: per-image CSV, overlays, then explain.json last (its presence = complete).
  fs::create_directories(out_dir);
  std::vector<std::string> header = {"image_id", "patient_id", "label", "predicted", "target_class",
                                     "p_normal", "p_osteopenia", "p_osteoporosis"};
  for (const auto& r : iou_regions) header.push_back("iou_topk_" + r.name);
  for (const auto& r : iou_regions) header.push_back("iou_fixed_" + r.name);
  for (const auto& r : iou_regions) header.push_back("cam_share_" + r.name);
  if (references) {
    for (const auto& r : iou_regions) header.push_back("chance_iou_topk_" + r.name);
    for (const auto& r : iou_regions) header.push_back("ceiling_iou_topk_" + r.name);
  }
  for (const auto& c : occlusion.csv_columns()) header.push_back(c);
  std::string csv = csv_line(header);
  auto num = [](double v) { return std::isnan(v) ? std::string() : format_double(v); };
  for (int64_t i = 0; i < N; ++i) {
    std::vector<std::string> row = {d.image_id[i], d.patient_id[i], std::to_string(d.labels[i]),
                                    std::to_string(predicted[i]), std::to_string(target_class[i])};
    for (int c = 0; c < kNumClasses; ++c) row.push_back(format_double(original.score[i][c]));
    for (const auto* t : {&iou_topk, &iou_fixed, &cam_share})
      for (size_t r = 0; r < R; ++r) row.push_back(num((*t)[r][i]));
    if (references)
      for (const auto* t : {&chance[0], &ceiling[0]})
        for (size_t r = 0; r < R; ++r) row.push_back(num((*t)[r][i]));
    for (auto& v : occlusion.csv_values(i, d.labels[i], bone_scored[i])) row.push_back(std::move(v));
    csv += csv_line(row);
  }
  write_file_atomic((fs::path(out_dir) / "per_image.csv").string(), csv);
  json overlay_files = json::array();
  std::string overlay_note;
  {
    // A rerun into the same folder: the previous run's overlays (other images, another
    // map) would otherwise sit beside the new ones as if they belonged to them.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(out_dir) / "overlays", ec))
      if (e.path().extension() == ".png") fs::remove(e.path(), ec);
  }
  if (!overlays.empty()) {
    try {
      fs::create_directories(fs::path(out_dir) / "overlays");
      for (const auto& [name, o] : overlays) {
        write_cam_overlay((fs::path(out_dir) / "overlays" / name).string(), o);
        overlay_files.push_back("overlays/" + name);
      }
    } catch (const InputError& e) {
      overlay_note = e.what();
    }
  }
  sum.overlays = overlay_files.size();
  sum.report["files"] = {{"per_image", "per_image.csv"}, {"overlays", overlay_files}};
  if (!overlay_note.empty()) sum.report["files"]["overlays_skipped"] = overlay_note;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sum.cam_images_per_s = cam_seconds > 0 ? N / cam_seconds : 0;
  sum.occlusion_seconds = occlusion_seconds;
  sum.report["timing"] = {{"seconds", sum.seconds},
                          {"cam_images_per_s", sum.cam_images_per_s},
                          {"occlusion_seconds", occlusion_seconds},
                          {"device", dev.str()}};
  write_file_atomic((fs::path(out_dir) / "explain.json").string(), sum.report.dump(2) + "\n");
  char text[160];
  std::snprintf(text, sizeof text, "%lld images, %s %.1f images/s, occlusion %.1f s", static_cast<long long>(N),
                saliency->name(), sum.cam_images_per_s, occlusion_seconds);
  bar.finish(text);
  return sum;
}

}  // namespace osteofm
