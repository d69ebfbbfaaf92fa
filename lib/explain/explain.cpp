#include "explain/explain.hpp"

#include <ATen/CPUGeneratorImpl.h>

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
#include "explain/gradcam.hpp"
#include "explain/regions.hpp"
#include "io/manifest.hpp"
#include "models/embed.hpp"
#include "report/overlay.hpp"
#include "train/dataset.hpp"
#include "train/run_model.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

json ci_json(const StatisticCI& s, size_t n) {
  return {{"estimate", number_or_null(s.estimate)},
          {"ci", s.ci.defined ? json::array({s.ci.lower, s.ci.upper}) : json(nullptr)},
          {"n", n},
          {"valid_replicates", s.valid}};
}

// One region of the IoU table: a name and the bits that make it.
struct ScoredRegion {
  std::string name;
  uint8_t bits;
};

// Occlusion variants: what is filled, per image, from the mask bits.
struct OcclusionVariant {
  std::string name;     // "all_bones" | "keep_<region>"
  uint8_t occlude = 0;  // bits filled ...
  uint8_t keep = 0;     // ... except pixels that also carry these
};

int parse_target(const std::string& t) {
  if (t == "predicted") return -1;
  if (t == "label") return -2;
  if (auto k = parse_label(t)) return *k;
  throw InputError("--target must be predicted, label, normal, osteopenia or osteoporosis, not '" + t + "'");
}

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

RegionScore score_region(const torch::Tensor& cam, const torch::Tensor& sorted_desc, const torch::Tensor& mask,
                         uint8_t bits, double fixed_threshold) {
  RegionScore s;
  const auto m = mask.bitwise_and(bits).ne(0);
  s.area = m.sum().item<int64_t>();
  if (s.area == 0) {
    s.iou_topk = s.iou_fixed = s.cam_share = kNaN;
    return s;
  }
  auto iou = [&](const torch::Tensor& sel) {
    const double inter = sel.logical_and(m).sum().item<double>(), uni = sel.logical_or(m).sum().item<double>();
    return uni > 0 ? inter / uni : kNaN;
  };
  // Top-k: as many CAM pixels as the region has (ties at τ all count). A pixel that
  // Grad-CAM's ReLU set to zero highlights nothing: when fewer than k pixels are positive,
  // τ would be 0 and "CAM ≥ τ" the whole image, scoring any focused map as the region's
  // area share. Only positive pixels are ever selected.
  s.iou_topk = iou(cam.ge(sorted_desc[s.area - 1].item<double>()).logical_and(cam.gt(0)));
  s.iou_fixed = iou(cam.ge(fixed_threshold));
  const double total = cam.sum().item<double>();
  s.cam_share = total > 0 ? (cam * m).sum().item<double>() / total : kNaN;
  return s;
}

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
  for (int64_t i = 0; i < d.size(); ++i)
    if (d.mask_path[i].empty())
      throw InputError(d.where[i] + ": no region mask; explain needs the manifest's mask column (bit-coded PNGs, "
                       "see 'osteofm data masks' for converting other mask formats)");
  const RegionTable table = region_table_for(manifest.cache_dir.empty() ? manifest.dir : manifest.cache_dir);
  const uint8_t bone_bits = table.bone_bits();
  if (bone_bits == 0)
    throw InputError(data + ": its region table (regions.json) has no bone region; IoU_bone and Δbone need bone masks");
  uint8_t control_bits = 0;
  for (const auto& r : table.controls()) control_bits |= r.bits;

  std::vector<ScoredRegion> iou_regions = {{"all_bones", bone_bits}};
  for (const auto& r : table.regions) iou_regions.push_back({r.name, r.bits});
  std::vector<OcclusionVariant> variants = {{"all_bones", bone_bits, 0}};
  for (const auto& r : table.bones())
    variants.push_back({"keep_" + r.name, bone_bits, r.bits});

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

  const size_t R = iou_regions.size(), V = variants.size(), Fn = opt.fills.size();
  std::vector<std::vector<double>> iou_topk(R, std::vector<double>(N, kNaN)), iou_fixed = iou_topk, cam_share = iou_topk;
  ScoredSet original;
  original.label = d.labels;
  original.score.resize(N);
  std::vector<ScoredSet> occluded(Fn * V, original);  // [fill][variant]
  std::vector<int> predicted(N), target_class(N);
  std::map<int, int> overlays_left = {{0, opt.overlays_per_class}, {1, opt.overlays_per_class}, {2, opt.overlays_per_class}};
  std::vector<std::pair<std::string, CamOverlay>> overlays;
  double cam_seconds = 0, occlusion_seconds = 0;

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
    const GradCamResult g = cam_method == CamMethod::Occlusion ? occlusion_cam(model, x01, tm.pre, targets, mean, opt.occlusion_floor)
                                                               : grad_cam(model, normalize_batch(x01, tm.pre), targets, cam_method);
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

    for (int64_t i = 0; i < k; ++i) {
      const auto c = cam[i];
      const auto sorted = std::get<0>(c.flatten().sort(0, /*descending=*/true));
      for (size_t r = 0; r < R; ++r) {
        const RegionScore rs = score_region(c, sorted, masks[i], iou_regions[r].bits, opt.fixed_threshold);
        iou_topk[r][b + i] = rs.iou_topk;
        iou_fixed[r][b + i] = rs.iou_fixed;
        cam_share[r][b + i] = rs.cam_share;
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
        char caption[200];
        std::snprintf(caption, sizeof caption, "%s  true %s  pred %s (p %.2f)  IoU_bone %.2f", d.image_id[b + i].c_str(),
                      kClassNames[label], kClassNames[predicted[b + i]], original.score[b + i][predicted[b + i]],
                      iou_topk[0][b + i]);
        o.caption = caption;
        overlays.emplace_back(kClassNames[label] + std::string("_") + d.image_id[b + i] + ".png", std::move(o));
      }
    }

    // Occlusion: every fill x variant, one forward pass each.
    const auto to0 = std::chrono::steady_clock::now();
    torch::NoGradGuard ng;
    const auto mdev = masks.to(dev).unsqueeze(1);  // [k,1,S,S]
    for (size_t f = 0; f < Fn; ++f) {
      torch::Tensor fill;
      if (opt.fills[f] == "mean") {
        fill = torch::full_like(x01, mean);
      } else if (opt.fills[f] == "blur") {
        fill = gaussian_blur(x01, S / 32.0);
      } else {
        // Per image its own seeded stream: the same noise whatever the batch size.
        std::vector<torch::Tensor> parts;
        for (int64_t i = 0; i < k; ++i) {
          auto gen = at::detail::createCPUGenerator(opt.bootstrap.seed * 1000003ull + static_cast<uint64_t>(b + i));
          parts.push_back(torch::randn({1, S, S}, gen, torch::TensorOptions().dtype(torch::kFloat32)));
        }
        fill = (torch::stack(parts).to(dev) * sd + mean).clamp(0.0, 1.0);
      }
      for (size_t v = 0; v < V; ++v) {
        auto o = mdev.bitwise_and(variants[v].occlude).ne(0);
        if (variants[v].keep) o = o.logical_and(mdev.bitwise_and(variants[v].keep).eq(0));
        const auto of = o.to(torch::kFloat32);
        const auto xo = x01 * (1 - of) + fill * of;
        const auto p = torch::softmax(model->forward(normalize_batch(xo, tm.pre)).to(torch::kFloat32), -1)
                           .to(torch::kCPU, torch::kFloat64);
        auto& set = occluded[f * V + v];
        for (int64_t i = 0; i < k; ++i)
          for (int c = 0; c < kNumClasses; ++c) set.score[b + i][c] = p[i][c].item<double>();
      }
    }
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
  auto iou_block = [&](const std::vector<std::vector<double>>& values) {
    json block = {{"all", mean_ci(values[0], -1)}, {"per_region", json::object()}, {"per_class", json::object()}};
    for (size_t r = 1; r < R; ++r) block["per_region"][iou_regions[r].name] = mean_ci(values[r], -1);
    for (int c = 0; c < kNumClasses; ++c) {
      json pc = {{"all", mean_ci(values[0], c)}};
      for (size_t r = 1; r < R; ++r) pc[iou_regions[r].name] = mean_ci(values[r], c);
      block["per_class"][kClassNames[c]] = pc;
    }
    return block;
  };

  const MetricEngine orig_engine(original);
  const auto orig_counts = orig_engine.class_counts();
  for (int c = 0; c < kNumClasses; ++c)
    if (orig_counts[c] == 0)
      throw InputError(data + ": the " + opt.split + " split has no " + kClassNames[c] +
                       " images: macro AUC, and so Δbone, is undefined");
  std::vector<MetricEngine> engines;
  for (const auto& s : occluded) engines.emplace_back(s);
  auto auc_of = [&](const MetricEngine& e) {
    return bootstrap_statistic(N, clusters, n_units, opt.bootstrap, [&](const uint32_t* w) {
      return e.all_classes_present(w) ? e.compute(w)[kAucMacro] : kNaN;
    });
  };
  auto diff_of = [&](const MetricEngine& a, const MetricEngine& b2) {
    return bootstrap_statistic(N, clusters, n_units, opt.bootstrap, [&](const uint32_t* w) {
      return a.all_classes_present(w) ? a.compute(w)[kAucMacro] - b2.compute(w)[kAucMacro] : kNaN;
    });
  };
  json fills = json::object();
  for (size_t f = 0; f < Fn; ++f) {
    const MetricEngine& all = engines[f * V];
    json fj = {{"all", ci_json(diff_of(orig_engine, all), N)}, {"per_region", json::object()},
               {"auc", {{"original", ci_json(auc_of(orig_engine), N)}, {"all_bones_occluded", ci_json(auc_of(all), N)}}}};
    for (size_t v = 1; v < V; ++v) {
      const std::string region = variants[v].name.substr(5);
      fj["per_region"][region] = ci_json(diff_of(engines[f * V + v], all), N);
      fj["auc"]["all_bones_occluded_except_" + region] = ci_json(auc_of(engines[f * V + v]), N);
    }
    fills[opt.fills[f]] = fj;
  }
  json delta = fills[opt.fills[0]];
  delta["fill"] = opt.fills[0];
  delta["metric"] = "auc_macro";
  delta["fills"] = fills;

  json regions_json = json::parse(table.to_json());
  ExplainSummary sum;
  sum.images = N;
  sum.report = {{"run", fs::absolute(run_dir).lexically_normal().string()},
                {"data", data},
                {"split", opt.split},
                {"n", N},
                {"n_patients", n_units},
                {"target", opt.target},
                {"cam", cam_method_name(cam_method)},
                {"regions", regions_json},
                {"bootstrap",
                 {{"replicates", opt.bootstrap.replicates}, {"method", "percentile"}, {"clustered", opt.cluster},
                  {"resample_unit", opt.cluster ? "patient" : "image"}, {"patients_repeat", n_units < N},
                  {"seed", opt.bootstrap.seed}, {"conf_level", opt.bootstrap.conf_level}}},
                {"occlusion", {{"pixel_mean", mean}, {"pixel_sd", sd}, {"blur_sigma_px", S / 32.0}}},
                {"iou_bone", iou_block(iou_topk)},
                {"iou_bone_fixed", iou_block(iou_fixed)},
                {"cam_share", iou_block(cam_share)},
                {"delta_bone", delta}};
  sum.report["iou_bone"]["policy"] = "topk";
  sum.report["iou_bone_fixed"]["policy"] = "fixed";
  sum.report["iou_bone_fixed"]["threshold"] = opt.fixed_threshold;
  sum.report["cam_share"]["definition"] = "sum of CAM inside the region / sum of CAM";
  if (cam_method == CamMethod::Occlusion)
    sum.report["occlusion_cam"] = {{"cell_px", model->backbone->arch.patch_size},
                                   {"fill", "mean"},
                                   {"fill_value", mean},
                                   {"score", "drop of the target class probability"},
                                   {"floor", opt.occlusion_floor}};

  // Files: per-image CSV, overlays, then explain.json last (its presence = complete).
  fs::create_directories(out_dir);
  std::vector<std::string> header = {"image_id", "patient_id", "label", "predicted", "target_class",
                                     "p_normal", "p_osteopenia", "p_osteoporosis"};
  for (const auto& r : iou_regions) header.push_back("iou_topk_" + r.name);
  for (const auto& r : iou_regions) header.push_back("iou_fixed_" + r.name);
  for (const auto& r : iou_regions) header.push_back("cam_share_" + r.name);
  for (size_t f = 0; f < Fn; ++f)
    for (size_t v = 0; v < V; ++v) header.push_back("p_label_" + opt.fills[f] + "_" + variants[v].name + "_occluded");
  std::string csv = csv_line(header);
  auto num = [](double v) { return std::isnan(v) ? std::string() : format_double(v); };
  for (int64_t i = 0; i < N; ++i) {
    std::vector<std::string> row = {d.image_id[i], d.patient_id[i], std::to_string(d.labels[i]),
                                    std::to_string(predicted[i]), std::to_string(target_class[i])};
    for (int c = 0; c < kNumClasses; ++c) row.push_back(format_double(original.score[i][c]));
    for (const auto* t : {&iou_topk, &iou_fixed, &cam_share})
      for (size_t r = 0; r < R; ++r) row.push_back(num((*t)[r][i]));
    for (const auto& s : occluded) row.push_back(format_double(s.score[i][d.labels[i]]));
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
                cam_method_name(cam_method), sum.cam_images_per_s, occlusion_seconds);
  bar.finish(text);
  return sum;
}

}  // namespace osteofm
