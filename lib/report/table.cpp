#include "report/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/dotted_values.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/layout.hpp"
#include "core/numbers.hpp"
#include "eval/bootstrap.hpp"
#include "eval/clustered_auc.hpp"
#include "eval/compare.hpp"
#include "eval/interval_text.hpp"
#include "eval/screening.hpp"
#include "core/preset_name.hpp"
#include "report/latex.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
json read_json(const fs::path& p) {
  json j = parse_json_file(p.string());
  if (j.is_discarded() || !j.is_object()) throw InputError(p.string() + ": not a JSON object");
  return j;
}
std::string name_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    for (const char* k : {"name", "preset", "family"})
      if (v.contains(k) && v[k].is_string()) return v[k].get<std::string>();
  }
  return "";
}
Estimate estimate_at(const json& m, const std::string& key, const fs::path& file) {
  const json* node = find_dotted(m, key);
  if (!node) throw InputError(file.string() + ": missing key '" + key + "'");
  if (!node->contains("estimate") || !(*node)["estimate"].is_number())
    throw InputError(file.string() + ": '" + key + "' has no numeric estimate");
  Estimate e;
  e.value = (*node)["estimate"].get<double>();
  if (node->contains("ci") && (*node)["ci"].is_array() && (*node)["ci"].size() == 2) {
    e.lower = (*node)["ci"][0].get<double>();
    e.upper = (*node)["ci"][1].get<double>();
  }
  return e;
}
int rank(const std::string& s, const std::vector<std::string>& order) {
  for (size_t i = 0; i < order.size(); ++i)
    if (s.rfind(order[i], 0) == 0) return static_cast<int>(i);
  return static_cast<int>(order.size());
}
int strategy_rank(const std::string& s) {
  if (s.find("linear") != std::string::npos || s == "probe") return 0;
  if (s.find("partial") != std::string::npos) return 1;
  if (s.find("lora") != std::string::npos) return 2;
  return 3;
}
std::string fmt3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}
std::string with_ci(const Estimate& e) { return interval_text(e.value, e.lower, e.upper); }
std::string params(const std::optional<long long>& p) {
  if (!p) return "";
  char b[32];
  if (*p >= 1000000) std::snprintf(b, sizeof b, "%.2fM", *p / 1e6);
  else if (*p >= 1000) std::snprintf(b, sizeof b, "%.1fk", *p / 1e3);
  else std::snprintf(b, sizeof b, "%lld", *p);
  return b;
}
std::string num(const std::optional<double>& v) { return v ? format_double(*v) : ""; }
// A saliency method as a reader knows it.
std::string map_title(const std::string& cam) {
  if (cam == "gradcam") return "Grad-CAM";
  if (cam == "gradxact") return "grad x act";
  return cam;
}
}  // namespace

namespace {
std::optional<Estimate> optional_estimate(const json& m, const std::string& key, const fs::path& file) {
  const json* node = find_dotted(m, key);
  if (!node || !node->is_object() || !node->contains("estimate") || !(*node)["estimate"].is_number()) return std::nullopt;
  return estimate_at(m, key, file);
}
std::string bootstrap_text(const json& b) {
  if (!b.is_object()) return "";
  return std::to_string(b.value("replicates", 0)) + " " +
         (b.value("clustered", false) ? "patient-clustered " : "image-level ") + b.value("method", std::string("percentile")) +
         " bootstrap replicates";
}

// A variant with several seeds: its headline statistics become the seed means with the
// intervals of the mean (compare's per-model block).
void use_seed_means(const json& model, const std::string& bootstrap, VariantRow& r) {
  const int n = model["seeds"]["n"].get<int>();
  if (n < 2) return;
  r.seeds_averaged = n;
  const fs::path source = "compare's seed means";  // in memory: named in a message only
  r.auc_macro = estimate_at(model, "auc_macro", source);
  r.auc_osteoporosis = estimate_at(model, "auc_osteoporosis_vs_rest", source);
  r.accuracy = estimate_at(model, "accuracy", source);
  r.sensitivity = optional_estimate(model, "at_youden.osteoporosis_vs_rest.sensitivity", source);
  r.specificity = optional_estimate(model, "at_youden.osteoporosis_vs_rest.specificity", source);
  r.threshold.reset();  // each seed has its own; a mean of thresholds is no operating point
  r.calibration_slope.reset();
  if (static_cast<int>(r.seed_calibration_slopes.size()) == n) {
    double mean = 0;
    bool all = true;
    for (const auto& s : r.seed_calibration_slopes) {
      all = all && s.has_value();
      if (s) mean += *s / n;
    }
    if (all) r.calibration_slope = mean;
  }
  r.bootstrap = bootstrap;
}

// One explained run's headline scores: each path's estimate (explain.json) and its
// replicates (replicates.csv, NaN where undefined).
struct ExplainedRun {
  std::map<std::string, double> estimate;
  std::map<std::string, std::vector<double>> replicates;
  long long n = 0, seed = 0, replicates_drawn = 0;
  double conf_level = 0.95;
};
std::optional<ExplainedRun> read_explained(const fs::path& folder, const std::vector<std::string>& paths) {
  const fs::path ex = folder / layout::kExplainRecord, reps = folder / layout::kReplicates;
  if (!fs::exists(ex) || !fs::exists(reps)) return std::nullopt;
  const json e = read_json(ex);
  ExplainedRun run;
  run.n = e.value("n", 0LL);
  if (e.contains("bootstrap") && e["bootstrap"].is_object()) {
    run.seed = e["bootstrap"].value("seed", 0LL);
    run.replicates_drawn = e["bootstrap"].value("replicates", 0LL);
    run.conf_level = e["bootstrap"].value("conf_level", 0.95);
  }
  const CsvTable t = parse_csv(read_file(reps.string()), reps.string());
  for (const auto& p : paths) {
    const auto est = optional_estimate(e, p, ex);
    const int col = t.column(p);
    if (!est || col < 0) continue;
    run.estimate[p] = est->value;
    std::vector<double>& v = run.replicates[p];
    for (const auto& rec : t.records) {
      const std::string& f = rec.fields.at(static_cast<size_t>(col));
      v.push_back(f.empty() ? kNaN : std::stod(f));
    }
  }
  return run;
}

// The explainability columns of a variant with several seeds as seed means: each seed's
// run explained on the same test images with the same bootstrap seed draws the same
// patients on replicate r, so the mean's interval is the percentile interval of the
// per-replicate means. Left as the first seed's when a seed lacks its explain files.
void use_explain_seed_means(const fs::path& sweep, VariantRow& r) {
  const std::vector<std::pair<std::string, std::optional<Estimate>*>> columns = {
      {"delta_bone.all", &r.delta_bone},
      {"delta_bone.fills.blur.all", &r.delta_bone_blur},
      {"delta_bone.area_control.delta", &r.area_control_delta},
      {"delta_bone.area_control.delta_bone_minus_control", &r.delta_bone_minus_control},
      {"iou_bone.all", &r.iou_bone},
      {"iou_bone.reference.all.normalised", &r.iou_bone_normalised}};
  std::vector<std::string> paths;
  for (const auto& c : columns) paths.push_back(c.first);
  std::vector<ExplainedRun> runs;
  auto first = read_explained(sweep / r.run / layout::kExplainDir, paths);
  if (!first) return;
  runs.push_back(std::move(*first));
  const std::vector<fs::path> seeds = finished_seed_runs(sweep, r.run);
  if (seeds.empty()) return;
  for (const auto& s : seeds) {
    auto run = read_explained(s / layout::kExplainDir, paths);
    // Another split, size or bootstrap seed: no shared resamples, no seed mean.
    if (!run || run->n != runs[0].n || run->seed != runs[0].seed || run->replicates_drawn != runs[0].replicates_drawn)
      return;
    runs.push_back(std::move(*run));
  }
  const double k = static_cast<double>(runs.size());
  for (const auto& [path, target] : columns) {
    bool everywhere = true;
    for (const auto& run : runs) everywhere = everywhere && run.estimate.count(path) > 0;
    if (!everywhere) {
      target->reset();  // not the first seed's number under a seed-mean heading
      continue;
    }
    double estimate = 0;
    for (const auto& run : runs) estimate += run.estimate.at(path) / k;
    // A replicate counts when every seed has it; one that only some seeds have leaves the
    // mean without an interval (as a statistic undefined in some valid replicate does).
    const size_t R = runs[0].replicates.at(path).size();
    std::vector<double> means;
    bool all_defined = true;
    for (size_t i = 0; i < R; ++i) {
      double sum = 0;
      size_t defined = 0;
      for (const auto& run : runs) {
        const auto& v = run.replicates.at(path);
        if (i < v.size() && !std::isnan(v[i])) {
          sum += v[i] / k;
          ++defined;
        }
      }
      if (defined == runs.size()) means.push_back(sum);
      else if (defined > 0) all_defined = false;
    }
    Estimate e;
    e.value = estimate;
    if (!means.empty() && all_defined) {
      std::sort(means.begin(), means.end());
      const double alpha = (1.0 - runs[0].conf_level) / 2;
      e.lower = quantile_type7(means, alpha);
      e.upper = quantile_type7(means, 1.0 - alpha);
    }
    *target = e;
  }
  r.explain_seeds_averaged = static_cast<int>(runs.size());
}

// Seed means, P(best) and the marks from the paired bootstrap of compare_models (one
// resample of patients for every variant and seed).
std::string rank_rows(const std::string& sweep_dir, std::vector<VariantRow>& rows) {
  std::vector<ModelPredictions> models;
  try {
    models = sweep_models(sweep_dir);
  } catch (const InputError& e) {
    return std::string("no ranking: ") + e.what();
  }
  CompareOptions opt;  // compare --sweep's defaults: the same numbers
  const std::string seeds_bootstrap = std::to_string(opt.replicates) + " " + (opt.cluster ? "patient-clustered " : "") +
                                      "percentile bootstrap replicates of the seed mean";
  json result;
  try {
    result = models.size() < 2 ? summarise_models(models, opt) : compare_models(models, opt);
  } catch (const InputError& e) {
    return std::string(models.size() < 2 ? "seeds not averaged: " : "no ranking: ") + e.what();
  }
  for (auto& r : rows)
    for (const auto& m : result["models"])
      if (m["name"] == r.run) use_seed_means(m, seeds_bootstrap, r);
  if (models.size() < 2) return "no ranking: one variant only";
  const json& ranking = result["ranking"];
  for (auto& r : rows)
    for (const auto& m : ranking["models"])
      if (m["name"] == r.run) {
        if (m["p_best"].is_number()) r.p_best = m["p_best"].get<double>();
        r.not_below_best = m["not_below_best"].get<bool>();
      }
  bool seeds = false;
  for (const auto& r : rows) seeds = seeds || r.seeds_averaged > 1;
  char alpha[16];
  std::snprintf(alpha, sizeof alpha, "%g", ranking["alpha"].get<double>());
  return "Bold: macro AUC not significantly below the best variant's (" + ranking["best"].get<std::string>() +
         ": paired " + (opt.cluster ? "patient-clustered " : "") + "bootstrap of the difference, " +
         std::to_string(opt.replicates) + " replicates, Holm over the " + std::to_string(models.size() - 1) +
         " pairs with the best, alpha " + alpha + "). P(best): share of the same replicates in which the variant "
         "has the highest macro AUC" + (seeds ? " (its seed mean where it has several seeds)." : ".");
}
}  // namespace

namespace {
// IoU_bone on the run's other maps: RUN/explain-<map>/explain.json, in map-name order.
void read_other_maps(const fs::path& run, VariantRow& r) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(run)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("explain-", 0) == 0 && fs::exists(e.path() / layout::kExplainRecord)) found.push_back(e.path());
  }
  std::sort(found.begin(), found.end());
  for (const auto& dir : found) {
    const fs::path ex = dir / layout::kExplainRecord;
    const json e = read_json(ex);
    VariantRow::MapScore m;
    m.map = e.contains("cam") && e["cam"].is_string() ? e["cam"].get<std::string>() : dir.filename().string().substr(8);
    if (m.map == r.iou_bone_cam) continue;
    m.iou = optional_estimate(e, "iou_bone.all", ex);
    m.normalised = optional_estimate(e, "iou_bone.reference.all.normalised", ex);
    r.iou_bone_other_maps.push_back(std::move(m));
  }
}
// metrics_test.json's osteoporosis-vs-rest calibration slope (absent: null or no endpoints).
const json& osteoporosis_calibration(const json& m) {
  static const json none = json::object();
  if (!m.contains("endpoints") || !m["endpoints"].is_object() || !m["endpoints"].contains("osteoporosis_vs_rest"))
    return none;
  const json& e = m["endpoints"]["osteoporosis_vs_rest"];  // a reference into m (value() would copy)
  return e.is_object() && e.contains("calibration") && e["calibration"].is_object() ? e["calibration"] : none;
}
std::optional<double> calibration_slope_of(const json& m) {
  const json& slope = osteoporosis_calibration(m).value("slope", json());
  return slope.is_number() ? std::optional<double>(slope.get<double>()) : std::nullopt;
}
bool near_constant_scores(const json& m) {
  const json& reason = osteoporosis_calibration(m).value("slope_reason", json());
  return reason.is_string() && reason.get<std::string>().rfind("near-constant", 0) == 0;
}
// A run's nested selection (SWEEP/selection/<run>.json) and its seeds' test macro AUCs
// (the run itself plus SWEEP/seeds/<run>/*/metrics_test.json).
void read_selection_and_seeds(const fs::path& sweep, VariantRow& r) {
  const fs::path selection = sweep / "selection" / (r.run + ".json");
  if (fs::exists(selection)) {
    const json s = read_json(selection);
    if (!s.contains("points") || !s["points"].is_array() || !s.contains("values") || !s["values"].is_object())
      throw InputError(selection.string() + ": lacks 'points' or 'values'");
    r.grid_points = static_cast<int>(s["points"].size());
    r.selected = describe_values(s["values"]);
    if (s.contains("tied") && s["tied"].is_array()) r.selection_tied = static_cast<int>(s["tied"].size());
  }
  const std::vector<fs::path> runs = finished_seed_runs(sweep, r.run);
  if (runs.empty()) return;
  std::vector<double> auc = {r.auc_macro.value};
  r.seed_calibration_slopes = {r.calibration_slope};
  for (const auto& run : runs) {
    const fs::path m = run / layout::kMetricsTest;
    const json metrics = read_json(m);
    auc.push_back(estimate_at(metrics, "auc_macro", m).value);
    r.seed_calibration_slopes.push_back(calibration_slope_of(metrics));
    r.near_constant_scores = r.near_constant_scores || near_constant_scores(metrics);
  }
  if (auc.size() < 2) return;
  double mean = 0, ss = 0;
  for (double a : auc) mean += a / auc.size();
  for (double a : auc) ss += (a - mean) * (a - mean);
  r.auc_macro_seeds = VariantRow::SeedSpread{mean, std::sqrt(ss / (auc.size() - 1)), static_cast<int>(auc.size())};
}
}  // namespace

SweepTable collect_sweep(const std::string& sweep_dir) {
  std::error_code ec;
  if (!fs::is_directory(sweep_dir, ec)) throw InputError(sweep_dir + ": not a folder");
  SweepTable table;
  std::vector<VariantRow>& rows = table.rows;
  for (const auto& entry : fs::directory_iterator(sweep_dir)) {
    const fs::path run = entry.path();
    const fs::path metrics = run / layout::kMetricsTest;
    if (!entry.is_directory() || !fs::exists(metrics)) continue;
    VariantRow r;
    r.run = run.filename().string();
    if (fs::exists(run / layout::kRunConfig)) {
      const json c = read_json(run / layout::kRunConfig);
      if (c.contains("backbone")) r.backbone = name_of(c["backbone"]);
      if (c.contains("strategy")) r.strategy = name_of(c["strategy"]);
    }
    if (r.backbone.empty() || r.strategy.empty()) {
      // Fall back on the sweep's folder naming <backbone>-<strategy>.
      const auto dash = r.run.rfind('-');
      if (r.backbone.empty()) r.backbone = dash == std::string::npos ? r.run : r.run.substr(0, dash);
      if (r.strategy.empty()) r.strategy = dash == std::string::npos ? "" : r.run.substr(dash + 1);
    }
    if (fs::exists(run / layout::kRunStatus)) {
      const json s = read_json(run / layout::kRunStatus);
      if (s.contains("trainable_parameters") && s["trainable_parameters"].is_number_integer())
        r.trainable_parameters = s["trainable_parameters"].get<long long>();
      r.random_weights = s.value("random_weights", false);
    }
    const json m = read_json(metrics);
    r.test_n = m.value("n", 0LL);
    r.test_patients = m.value("n_patients", 0LL);
    if (m.contains("endpoints") && m["endpoints"].contains("osteoporosis_vs_rest") &&
        m["endpoints"]["osteoporosis_vs_rest"].value("prevalence", json()).is_number())
      r.test_prevalence = m["endpoints"]["osteoporosis_vs_rest"]["prevalence"].get<double>();
    if (m.contains("endpoints") && m["endpoints"].contains("osteoporosis_vs_rest") &&
        m["endpoints"]["osteoporosis_vs_rest"].value("n_positive", json()).is_number_integer())
      r.test_positives = m["endpoints"]["osteoporosis_vs_rest"]["n_positive"].get<long long>();
    if (fs::exists(run / "preprocessing.json")) r.input_size = read_json(run / "preprocessing.json").value("size", 0);
    r.auc_macro = estimate_at(m, "auc_macro", metrics);
    r.auc_osteoporosis = estimate_at(m, "auc_osteoporosis_vs_rest", metrics);
    r.accuracy = estimate_at(m, "accuracy", metrics);
    const std::string youden = "endpoints.osteoporosis_vs_rest.at_threshold.youden.";
    r.sensitivity = optional_estimate(m, youden + "sensitivity", metrics);
    r.specificity = optional_estimate(m, youden + "specificity", metrics);
    if (r.sensitivity) r.threshold = m["endpoints"]["osteoporosis_vs_rest"]["at_threshold"]["youden"]["threshold"].get<double>();
    r.calibration_slope = calibration_slope_of(m);
    r.near_constant_scores = near_constant_scores(m);
    if (m.contains("bootstrap")) {
      r.bootstrap = bootstrap_text(m["bootstrap"]);
      r.invalid_replicates = m["bootstrap"].value("invalid_replicates", 0);
    }
    const fs::path ex = run / layout::kExplainDir / layout::kExplainRecord;
    if (fs::exists(ex)) {
      const json e = read_json(ex);
      // Null where the masks allowed no bone score (explain.json says why).
      r.delta_bone = optional_estimate(e, "delta_bone.all", ex);
      r.iou_bone = optional_estimate(e, "iou_bone.all", ex);
      r.iou_bone_normalised = optional_estimate(e, "iou_bone.reference.all.normalised", ex);
      r.iou_bone_cam = e.contains("cam") && e["cam"].is_string() ? e["cam"].get<std::string>() : "gradcam";
      auto mask_range = [&](const char* block) -> std::optional<std::pair<double, double>> {
        if (!e.contains(block) || !e[block].is_object() || !e[block].contains("all") || !e[block]["all"].is_object())
          return std::nullopt;
        const json& range = e[block]["all"].value("mask_range", json());
        if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number()) return std::nullopt;
        return std::make_pair(range[0].get<double>(), range[1].get<double>());
      };
      r.iou_bone_mask_range = mask_range("iou_bone");
      r.delta_bone_mask_range = mask_range("delta_bone");
      if (e.contains("mask_sensitivity") && e["mask_sensitivity"].is_object())
        r.mask_sensitivity_px = e["mask_sensitivity"].value("px", 0);
      r.explain_split = e.value("split", std::string("test"));
      if (e.contains("delta_bone") && e["delta_bone"].is_object()) {
        r.delta_bone_fill = e["delta_bone"].value("fill", std::string("mean"));
        if (e["delta_bone"].contains("per_region") && e["delta_bone"]["per_region"].is_object()) {
          // In the region table's order (explain.json "regions.bits" by bit), not by name.
          std::vector<std::pair<int, std::string>> order;
          for (auto it = e["delta_bone"]["per_region"].begin(); it != e["delta_bone"]["per_region"].end(); ++it) {
            int bit = 256;
            if (e.contains("regions") && e["regions"].contains("bits") && e["regions"]["bits"].contains(it.key()))
              bit = e["regions"]["bits"][it.key()].get<int>();
            order.emplace_back(bit, it.key());
          }
          std::sort(order.begin(), order.end());
          for (const auto& [bit, name] : order)
            if (auto est = optional_estimate(e, "delta_bone.per_region." + name, ex)) r.delta_bone_regions.emplace_back(name, *est);
        }
        if (e["delta_bone"].contains("area_control") && e["delta_bone"]["area_control"].is_object()) {
          r.delta_bone_minus_control = optional_estimate(e, "delta_bone.area_control.delta_bone_minus_control", ex);
          r.area_control_draws = e["delta_bone"]["area_control"].value("draws", 0);
          r.area_control_delta = optional_estimate(e, "delta_bone.area_control.delta", ex);
        }
        if (r.delta_bone_fill != "blur") r.delta_bone_blur = optional_estimate(e, "delta_bone.fills.blur.all", ex);
        const json& below = e["delta_bone"].value("auc_below_0.5", json::array());
        r.delta_bone_below_chance = below.is_array() && std::find(below.begin(), below.end(), "all_bones_occluded") != below.end();
      }
    }
    read_other_maps(run, r);
    read_selection_and_seeds(fs::path(sweep_dir), r);
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw InputError(sweep_dir + ": no run folder with metrics_test.json (run osteofm eval first)");
  const std::vector<std::string> families = {"openclip", "dinov2", "chexagent", "rad-dino"};
  std::sort(rows.begin(), rows.end(), [&](const VariantRow& a, const VariantRow& b) {
    const int fa = rank(a.backbone, families), fb = rank(b.backbone, families);
    if (fa != fb) return fa < fb;
    if (a.backbone != b.backbone) return a.backbone < b.backbone;
    const int sa = strategy_rank(a.strategy), sb = strategy_rank(b.strategy);
    return sa != sb ? sa < sb : a.strategy < b.strategy;
  });
  table.ranking_note = rank_rows(sweep_dir, rows);  // seed means first: the highest is of them
  for (auto& r : rows)
    if (r.seeds_averaged > 1) use_explain_seed_means(fs::path(sweep_dir), r);
  auto highest = std::max_element(rows.begin(), rows.end(), [](const VariantRow& a, const VariantRow& b) {
    return a.auc_macro.value < b.auc_macro.value;
  });
  highest->highest = true;
  return table;
}

namespace {
std::string opt_ci(const std::optional<Estimate>& e) { return e ? with_ci(*e) : ""; }
// "a, b, c" of a set, in its order.
std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}
std::string opt3(const std::optional<double>& v) { return v ? fmt3(*v) : ""; }

// The notes under the table: what each number is.
// The test split, the intervals, the operating points and calibration.
void add_test_split_notes(std::vector<std::string>& notes, const SweepTable& t) {
  std::set<std::string> boots;
  int invalid = 0;
  bool thresholds = false, missing_thresholds = false;
  for (const auto& r : t.rows) {
    if (!r.bootstrap.empty()) boots.insert(r.bootstrap);
    invalid = std::max(invalid, r.invalid_replicates);
    (r.sensitivity ? thresholds : missing_thresholds) = true;
  }
  std::string b;
  for (const auto& x : boots) b += (b.empty() ? "" : "; ") + x;
  // n and prevalence: one figure when every variant saw the same test split, else each.
  std::set<std::string> tests;
  std::map<std::string, std::set<int>> sizes;  // backbone -> input sides
  for (const auto& r : t.rows) {
    std::string n = "n = " + std::to_string(r.test_n) + " images (" + std::to_string(r.test_patients) + " patients)";
    if (r.test_prevalence) n += ", osteoporosis prevalence " + fmt3(*r.test_prevalence);
    tests.insert(n);
    if (r.input_size > 0) sizes[r.backbone].insert(r.input_size);
  }
  std::string sides;
  for (const auto& [backbone, set] : sizes) {
    std::string list;
    for (int v : set) list += (list.empty() ? "" : "/") + std::to_string(v);
    sides += (sides.empty() ? "" : ", ") + backbone + " " + list + " px";
  }
  notes.push_back("Test split: " + (tests.size() == 1 ? *tests.begin() : join(tests)) + "." +
                  (sides.empty() ? std::string() : " Input size: " + sides + "."));
  notes.push_back("95% CIs: " + (b.empty() ? std::string("as in each metrics_test.json") : b) + "." +
                  (invalid > 0 ? " Up to " + std::to_string(invalid) +
                                     " replicates per variant lacked a class and were left out."
                               : std::string()));
  if (thresholds)
    notes.push_back("Sensitivity, specificity: osteoporosis vs rest at the Youden threshold chosen on the validation "
                    "split and applied unchanged to the test split. Accuracy: argmax of the three classes.");
  if (missing_thresholds) notes.push_back("Blank sensitivity/specificity: the run has no validation predictions.");
  long long fewest = -1;
  for (const auto& r : t.rows)
    if (r.sensitivity && r.test_positives >= 0 && r.test_positives < static_cast<long long>(kFewCasesForInterval))
      fewest = fewest < 0 ? r.test_positives : std::min(fewest, r.test_positives);
  if (fewest >= 0)
    notes.push_back("¶: the test split has " + std::to_string(fewest) + " osteoporosis image" + (fewest == 1 ? "" : "s") +
                    " (fewer than " +
                    std::to_string(kFewCasesForInterval) + "): a sensitivity and its interval rest on that few, and "
                    "the interval can be [1, 1]; read it as a count, not a rate.");
  bool flat = false;
  for (const auto& r : t.rows) flat = flat || (r.near_constant_scores && !r.calibration_slope);
  notes.push_back(std::string("Calibration slope: logistic recalibration slope of p_osteoporosis on the test split (1 = "
                              "ideal).") +
                  (flat ? " n.e. §: not estimable, the variant's test scores are near-constant (SD of logit(p) below " +
                              format_double(kNearConstantLogitSd) +
                              "; a slope fitted to them is noise); its AUC says how little it separates."
                        : std::string()));
}

// How a variant's configuration was selected, and its seeds.
void add_selection_notes(std::vector<std::string>& notes, const SweepTable& t) {
  std::set<std::string> grids, seeds;
  for (const auto& r : t.rows) {
    if (r.grid_points > 0) grids.insert(std::to_string(r.grid_points));
    if (r.auc_macro_seeds) seeds.insert(std::to_string(r.auc_macro_seeds->n));
  }
  bool ties = false;
  for (const auto& r : t.rows) ties = ties || r.selection_tied > 1;
  if (!grids.empty())
    notes.push_back("Selected: hold-out selection on validation; each variant trained " + join(grids) +
                    " grid points on the training split, the one with the highest validation macro AUC was kept, and "
                    "only it was evaluated on the test split." +
                    (ties ? std::string(" [tie of k]: k grid points had the same validation score; the first in grid "
                                        "order was kept (SWEEP/selection/<variant>.json \"tied\").")
                          : std::string()));
  bool averaged = false, explained = false, explain_means = false;
  for (const auto& r : t.rows) {
    averaged = averaged || r.seeds_averaged > 1;
    explained = explained || (r.seeds_averaged > 1 && (r.delta_bone || r.iou_bone) && r.explain_seeds_averaged == 0);
    explain_means = explain_means || r.explain_seeds_averaged > 1;
  }
  if (!seeds.empty())
    notes.push_back(
        "Seeds: the selected configuration retrained with " + join(seeds) + " seeds. " +
        (averaged ? std::string("Every number of such a variant up to the calibration slope is the mean over its "
                                "seeds (sensitivity and specificity each at its own seed's validation Youden "
                                "threshold, so no single threshold is shown); its 95% CI is the percentile interval "
                                "of that seed mean over bootstrap replicates that resample the same patients for "
                                "every seed, and P(best) and the bold compare seed means. ")
                  : std::string("The CI beside the macro AUC is the first seed's. ")) +
        "Macro AUC over seeds: mean ± sample SD of the seeds' own test macro AUCs." +
        (explain_means ? std::string(" Δbone, its controls and IoU_bone (the first map's) are seed means too, each "
                                     "seed explained on the same resamples (explain/replicates.csv); the CI is that of "
                                     "the mean. IoU_bone on further maps: the first seed's run.")
                       : explained ? std::string(" Explainability columns: the first seed's run (not every seed has "
                                                 "explain/replicates.csv).")
                                   : std::string()));
}

// IoU_bone, Δbone and its controls, mask sensitivity.
void add_explain_notes(std::vector<std::string>& notes, const SweepTable& t) {
  std::set<std::string> cams, splits, fills;
  bool normalised = false;
  for (const auto& r : t.rows) {
    normalised = normalised || r.iou_bone_normalised.has_value();
    if (r.iou_bone) cams.insert(r.iou_bone_cam);
    if (r.iou_bone || r.delta_bone) splits.insert(r.explain_split);
    if (r.delta_bone) fills.insert(r.delta_bone_fill);
  }
  std::set<std::string> other;
  for (const auto& r : t.rows)
    for (const auto& m : r.iou_bone_other_maps) other.insert(m.map);
  if (!cams.empty())
    notes.push_back("IoU_bone: all bones, top-k policy, on " + join(cams) + " maps" +
                    (other.empty() ? std::string(".")
                                   : "; also on " + join(other) + " maps (RUN/explain-<map>/explain.json). Grad-CAM "
                                     "follows gradients; the occlusion map is the drop in the model's output when "
                                     "each patch cell is hidden, a map of what the model uses, and the one to trust "
                                     "where the two disagree.") +
                    (normalised ? std::string(" Norm.: (IoU - chance) / (ceiling - chance), chance = random maps on the "
                                              "backbone's token grid, ceiling = the bone mask pooled to that grid; 0 = "
                                              "chance, 1 = the best the grid allows, comparable across grids.")
                                : std::string()));
  bool below = false;
  for (const auto& r : t.rows) below = below || (r.delta_bone && r.delta_bone_below_chance);
  bool blur = false;
  for (const auto& r : t.rows) blur = blur || r.delta_bone_blur.has_value();
  if (!fills.empty())
    notes.push_back("Δbone: AUC(original) - AUC(all bones occluded), " + join(fills) + " fill (region occlusion; no "
                    "saliency map)." +
                    (blur ? std::string(" Δbone, blur fill: the same with the bones blurred, which removes their detail "
                                        "without painting a flat patch the model may react to; where the two differ, "
                                        "the difference is the fill's, and the blur number is the conservative one.")
                          : std::string()) +
                    (below ? std::string(" †: the fill drove the occluded AUC below 0.5, so that Δbone measures the "
                                         "fill too.")
                           : std::string()));
  std::set<std::string> draws;
  for (const auto& r : t.rows)
    if (r.delta_bone_minus_control) draws.insert(std::to_string(r.area_control_draws));
  if (!draws.empty()) {
    bool raises = false;
    for (const auto& r : t.rows) raises = raises || (r.delta_bone_minus_control && r.area_control_raises_auc());
    notes.push_back("Δbone - area control (contrast): Δbone minus the AUC loss when as many pixels outside every "
                    "bone and control region are occluded with the same fill (seeded half-patch blocks, mean of " +
                    join(draws) + " draws). It reads as the part of Δbone about bone only when the control's own "
                    "loss is at least 0." +
                    (raises ? std::string(" ‡: occluding the control raised the AUC (its own Δ has a 95% CI below 0; "
                                          "table.csv area_control_delta), so the contrast exceeds Δbone and is not "
                                          "a share of it.")
                            : std::string()));
  }
  // How far masks a few pixels smaller or larger move the scores: the widest range of all rows.
  std::set<std::string> pxs;
  double iou_spread = -1, delta_spread = -1;
  std::string iou_widest, delta_widest;
  for (const auto& r : t.rows) {
    if (r.mask_sensitivity_px > 0) pxs.insert(std::to_string(r.mask_sensitivity_px));
    if (r.iou_bone_mask_range && r.iou_bone_mask_range->second - r.iou_bone_mask_range->first > iou_spread) {
      iou_spread = r.iou_bone_mask_range->second - r.iou_bone_mask_range->first;
      iou_widest = r.run;
    }
    if (r.delta_bone_mask_range && r.delta_bone_mask_range->second - r.delta_bone_mask_range->first > delta_spread) {
      delta_spread = r.delta_bone_mask_range->second - r.delta_bone_mask_range->first;
      delta_widest = r.run;
    }
  }
  if (!pxs.empty() && (iou_spread >= 0 || delta_spread >= 0)) {
    std::string note = "Mask sensitivity: with every bone and control mask eroded and dilated by " + join(pxs) +
                       " px of the model's input, ";
    if (iou_spread >= 0) note += "IoU_bone spans at most " + fmt3(iou_spread) + " (" + iou_widest + ")";
    if (delta_spread >= 0)
      note += std::string(iou_spread >= 0 ? " and " : "") + "Δbone at most " + fmt3(delta_spread) + " (" +
              delta_widest + ")";
    note += " between the three masks; every variant's range is explain.json's mask_range.";
    notes.push_back(note);
  }
  if (!splits.empty()) notes.push_back("Explainability scores on the " + join(splits) + " split.");
}

std::vector<std::string> footnotes(const SweepTable& t) {
  std::vector<std::string> notes;
  notes.push_back(t.ranking_note);
  add_test_split_notes(notes, t);
  add_selection_notes(notes, t);
  add_explain_notes(notes, t);
  return notes;
}
// The results table's columns, in order. A column has its Markdown and LaTeX headers (empty:
// CSV only), its alignment, its display cell, and the CSV fields it contributes; a new
// metric is one entry here.
struct TableColumn {
  std::string markdown, latex;
  char align = 'r';
  // The displayed cell; `latex`: already escaped for LaTeX.
  std::function<std::string(const VariantRow&, bool latex)> cell;
  std::vector<std::pair<std::string, std::function<std::string(const VariantRow&)>>> csv;
};

// Cells of an optional estimate for the CSV: its value, lower and upper bound ("" when absent).
std::string estimate_value(const std::optional<Estimate>& e) { return e ? format_double(e->value) : std::string(); }
std::string estimate_lower(const std::optional<Estimate>& e) { return e ? num(e->lower) : std::string(); }
std::string estimate_upper(const std::optional<Estimate>& e) { return e ? num(e->upper) : std::string(); }
std::string cell_text(const std::string& s, bool latex) { return latex ? latex_text(s) : s; }

using Row = const VariantRow&;

// Backbone, strategy, the selected grid point, trainable parameters.
std::vector<TableColumn> identity_columns(const std::vector<VariantRow>& rows) {
  // Two runs of one backbone and strategy (seeds, settings): their rows carry the run name.
  std::map<std::string, int> seen;
  for (const auto& r : rows) seen[r.backbone + "\n" + r.strategy]++;
  bool any_grid = false;
  for (const auto& r : rows) any_grid = any_grid || r.grid_points > 0;
  const auto text = cell_text;
  return {
      {"Backbone", "Backbone", 'l',
       // Random weights are marked for real presets only: the *-tiny ones exist to run on them.
       [=](Row r, bool latex) {
         return text(r.backbone + (r.random_weights && !is_tiny_preset(r.backbone) ? " (random weights)" : ""), latex);
       },
       {{"backbone", [](Row r) { return r.backbone; }}}},
      {"Strategy", "Strategy", 'l',
       [seen, text](Row r, bool latex) {
         return text(seen.at(r.backbone + "\n" + r.strategy) > 1 ? r.strategy + " (" + r.run + ")" : r.strategy, latex);
       },
       {{"strategy", [](Row r) { return r.strategy; }}}},
      {any_grid ? "Selected (grid points)" : "", any_grid ? "Selected (grid)" : "", 'l',
       [=](Row r, bool latex) {
         if (r.grid_points == 0) return std::string();
         const std::string tie = r.selection_tied > 1 ? " [tie of " + std::to_string(r.selection_tied) + "]" : "";
         return text(r.selected + " (" + std::to_string(r.grid_points) + ")" + tie, latex);
       },
       {}},  // CSV: the last columns, so existing keys keep their positions
      {"Trainable params", "Trainable", 'r', [=](Row r, bool latex) { return text(params(r.trainable_parameters), latex); },
       {{"trainable_parameters",
         [](Row r) { return r.trainable_parameters ? std::to_string(*r.trainable_parameters) : ""; }}}},
  };
}

// The headline numbers: macro AUC and its seeds, P(best), the osteoporosis endpoint,
// accuracy, calibration.
std::vector<TableColumn> performance_columns(const std::vector<VariantRow>& rows) {
  bool any_seeds = false;
  for (const auto& r : rows) any_seeds = any_seeds || r.auc_macro_seeds.has_value();
  const auto text = cell_text;
  const auto val = estimate_value, lo = estimate_lower, hi = estimate_upper;
  return {
      {"Macro AUC [95% CI]", "Macro AUC [95\\% CI]", 'r',
       [=](Row r, bool latex) {
         const std::string macro = with_ci(r.auc_macro);
         if (!r.not_below_best) return text(macro, latex);
         return latex ? "\\textbf{" + macro + "}" : "**" + macro + "**";
       },
       {{"auc_macro", [](Row r) { return format_double(r.auc_macro.value); }},
        {"auc_macro_lower", [](Row r) { return num(r.auc_macro.lower); }},
        {"auc_macro_upper", [](Row r) { return num(r.auc_macro.upper); }}}},
      {any_seeds ? "Macro AUC over seeds (mean ± SD, n)" : "", any_seeds ? "Seeds (mean $\\pm$ SD, n)" : "", 'r',
       [=](Row r, bool latex) {
         if (!r.auc_macro_seeds) return std::string();
         const auto& s = *r.auc_macro_seeds;
         return text(fmt3(s.mean) + " ± " + fmt3(s.sd) + " (" + std::to_string(s.n) + ")", latex);
       },
       {}},  // CSV: the last columns
      {"P(best)", "P(best)", 'r', [=](Row r, bool latex) { return text(opt3(r.p_best), latex); },
       {{"p_best", [](Row r) { return num(r.p_best); }},
        {"not_below_best", [](Row r) { return std::string(r.not_below_best ? "1" : "0"); }},
        {"highest_auc_macro", [](Row r) { return std::string(r.highest ? "1" : "0"); }}}},
      {"Osteoporosis AUC [95% CI]", "Osteoporosis AUC [95\\% CI]", 'r',
       [=](Row r, bool latex) { return text(with_ci(r.auc_osteoporosis), latex); },
       {{"auc_osteoporosis", [](Row r) { return format_double(r.auc_osteoporosis.value); }},
        {"auc_osteoporosis_lower", [](Row r) { return num(r.auc_osteoporosis.lower); }},
        {"auc_osteoporosis_upper", [](Row r) { return num(r.auc_osteoporosis.upper); }}}},
      {"Accuracy", "Acc.", 'r', [=](Row r, bool latex) { return text(fmt3(r.accuracy.value), latex); },
       {{"accuracy", [](Row r) { return format_double(r.accuracy.value); }},
        {"youden_threshold", [](Row r) { return num(r.threshold); }}}},
      {"Sensitivity [95% CI]", "Sens. [95\\% CI]", 'r',
       [=](Row r, bool latex) {
         const bool few = r.sensitivity && r.test_positives >= 0 && r.test_positives < static_cast<long long>(kFewCasesForInterval);
         return text(opt_ci(r.sensitivity), latex) + (few ? (latex ? " $^\\P$" : " ¶") : "");
       },
       {{"sensitivity_osteoporosis", [=](Row r) { return val(r.sensitivity); }},
        {"sensitivity_lower", [=](Row r) { return lo(r.sensitivity); }},
        {"sensitivity_upper", [=](Row r) { return hi(r.sensitivity); }}}},
      {"Specificity [95% CI]", "Spec. [95\\% CI]", 'r', [=](Row r, bool latex) { return text(opt_ci(r.specificity), latex); },
       {{"specificity_osteoporosis", [=](Row r) { return val(r.specificity); }},
        {"specificity_lower", [=](Row r) { return lo(r.specificity); }},
        {"specificity_upper", [=](Row r) { return hi(r.specificity); }}}},
      {"Calibration slope", "Cal. slope", 'r',
       [=](Row r, bool latex) {
         if (r.near_constant_scores && !r.calibration_slope) return latex ? std::string("n.e.~\\S{}") : std::string("n.e. §");
         return text(opt3(r.calibration_slope), latex);
       },
       {{"calibration_slope", [](Row r) { return num(r.calibration_slope); }}}},
  };
}

// Explainability: Δbone (each fill), its area-controlled contrast, IoU_bone and its
// normalised value; the fill and the map in the header when every row shares them.
std::vector<TableColumn> explain_columns(const std::vector<VariantRow>& rows) {
  std::set<std::string> fills, cams;
  bool any_blur = false;
  for (const auto& r : rows) {
    if (r.delta_bone) fills.insert(r.delta_bone_fill);
    if (r.iou_bone) cams.insert(r.iou_bone_cam);
    any_blur = any_blur || r.delta_bone_blur.has_value();
  }
  const std::string fill_suffix = fills.size() == 1 ? ", " + *fills.begin() + " fill" : std::string();
  const std::string cam_suffix = cams.size() == 1 ? " (" + map_title(*cams.begin()) + ")" : std::string();
  const auto text = cell_text;
  const auto val = estimate_value, lo = estimate_lower, hi = estimate_upper;
  return {
      {"Δbone" + fill_suffix, "$\\Delta_\\mathrm{bone}$" + fill_suffix, 'r',
       [=](Row r, bool latex) {
         const bool dagger = r.delta_bone && r.delta_bone_below_chance;
         return text(opt_ci(r.delta_bone) + (dagger ? (latex ? " $^\\dagger$" : " †") : ""), latex);
       },
       {{"delta_bone", [=](Row r) { return val(r.delta_bone); }}}},
      {any_blur ? "Δbone, blur fill" : "", any_blur ? "$\\Delta_\\mathrm{bone}$, blur fill" : "", 'r',
       [=](Row r, bool latex) { return text(opt_ci(r.delta_bone_blur), latex); },
       {}},  // CSV: the last columns
      {"Δbone − area control (contrast)", "$\\Delta_\\mathrm{bone}$ $-$ area ctrl. (contrast)", 'r',
       [=](Row r, bool latex) {
         const std::string mark = r.delta_bone_minus_control && r.area_control_raises_auc() ? (latex ? " $^\\ddagger$" : " ‡") : "";
         return text(opt_ci(r.delta_bone_minus_control), latex) + mark;
       },
       {{"delta_bone_minus_control", [=](Row r) { return val(r.delta_bone_minus_control); }},
        {"delta_bone_minus_control_lower", [=](Row r) { return lo(r.delta_bone_minus_control); }},
        {"delta_bone_minus_control_upper", [=](Row r) { return hi(r.delta_bone_minus_control); }}}},
      {"IoU_bone" + cam_suffix, "IoU$_\\mathrm{bone}$" + cam_suffix, 'r', [=](Row r, bool latex) { return text(opt_ci(r.iou_bone), latex); },
       {{"iou_bone", [=](Row r) { return val(r.iou_bone); }}}},
      {"IoU_bone norm." + cam_suffix, "IoU$_\\mathrm{bone}$ norm." + cam_suffix, 'r',
       [=](Row r, bool latex) { return text(opt_ci(r.iou_bone_normalised), latex); },
       {{"iou_bone_normalised", [=](Row r) { return val(r.iou_bone_normalised); }},
        {"iou_bone_normalised_lower", [=](Row r) { return lo(r.iou_bone_normalised); }},
        {"iou_bone_normalised_upper", [=](Row r) { return hi(r.iou_bone_normalised); }},
        {"iou_bone_cam", [](Row r) { return r.iou_bone ? r.iou_bone_cam : std::string(); }}}},
  };
}

// table.csv's columns with no column in the printed table.
std::vector<TableColumn> csv_only_columns() {
  const auto val = estimate_value, lo = estimate_lower, hi = estimate_upper;
  return {
      {"", "", 'l', nullptr,
       {{"bootstrap", [](Row r) { return r.bootstrap; }}, {"run", [](Row r) { return r.run; }}}},
      // Nested selection and seeds (shown beside the strategy and the macro AUC).
      {"", "", 'l', nullptr,
       {{"grid_points", [](Row r) { return r.grid_points > 0 ? std::to_string(r.grid_points) : ""; }},
        {"selected", [](Row r) { return r.selected; }},
        {"auc_macro_seed_mean", [](Row r) { return r.auc_macro_seeds ? format_double(r.auc_macro_seeds->mean) : ""; }},
        {"auc_macro_seed_sd", [](Row r) { return r.auc_macro_seeds ? format_double(r.auc_macro_seeds->sd) : ""; }},
        {"seeds", [](Row r) { return r.auc_macro_seeds ? std::to_string(r.auc_macro_seeds->n) : ""; }}}},
      // The headline a seed mean (how many seeds), and slopes left out for flat scores.
      {"", "", 'l', nullptr,
       {{"seeds_averaged", [](Row r) { return std::to_string(std::max(1, r.seeds_averaged)); }},
        {"near_constant_scores", [](Row r) { return std::string(r.near_constant_scores ? "1" : "0"); }}}},
      // Explainability labels: the blur fill, the area control's own Δ, the other maps.
      {"", "", 'l', nullptr,
       {{"delta_bone_fill", [](Row r) { return r.delta_bone ? r.delta_bone_fill : std::string(); }},
        {"delta_bone_blur", [=](Row r) { return val(r.delta_bone_blur); }},
        {"delta_bone_blur_lower", [=](Row r) { return lo(r.delta_bone_blur); }},
        {"delta_bone_blur_upper", [=](Row r) { return hi(r.delta_bone_blur); }},
        {"area_control_delta", [=](Row r) { return val(r.area_control_delta); }},
        {"area_control_delta_lower", [=](Row r) { return lo(r.area_control_delta); }},
        {"area_control_delta_upper", [=](Row r) { return hi(r.area_control_delta); }},
        {"area_control_raises_auc", [](Row r) { return std::string(r.area_control_raises_auc() ? "1" : "0"); }}}},
  };
}

// IoU_bone and its normalised value on a further map (RUN/explain-<map>/).
std::vector<TableColumn> other_map_columns(const std::string& map) {
  const auto text = cell_text;
  const auto val = estimate_value, lo = estimate_lower, hi = estimate_upper;
  std::vector<TableColumn> columns;
  auto score = [map](Row r) -> std::optional<Estimate> {
    for (const auto& m : r.iou_bone_other_maps)
      if (m.map == map) return m.iou;
    return std::nullopt;
  };
  auto normalised = [map](Row r) -> std::optional<Estimate> {
    for (const auto& m : r.iou_bone_other_maps)
      if (m.map == map) return m.normalised;
    return std::nullopt;
  };
  columns.push_back({"IoU_bone (" + map_title(map) + ")", "IoU$_\\mathrm{bone}$ (" + latex_text(map_title(map)) + ")", 'r',
                     [=](Row r, bool latex) { return text(opt_ci(score(r)), latex); },
                     {{"iou_bone_" + map, [=](Row r) { return val(score(r)); }},
                      {"iou_bone_" + map + "_lower", [=](Row r) { return lo(score(r)); }},
                      {"iou_bone_" + map + "_upper", [=](Row r) { return hi(score(r)); }}}});
  columns.push_back({"IoU_bone norm. (" + map_title(map) + ")",
                     "IoU$_\\mathrm{bone}$ norm. (" + latex_text(map_title(map)) + ")", 'r',
                     [=](Row r, bool latex) { return text(opt_ci(normalised(r)), latex); },
                     {{"iou_bone_normalised_" + map, [=](Row r) { return val(normalised(r)); }},
                      {"iou_bone_normalised_" + map + "_lower", [=](Row r) { return lo(normalised(r)); }},
                      {"iou_bone_normalised_" + map + "_upper", [=](Row r) { return hi(normalised(r)); }}}});
  return columns;
}

std::vector<TableColumn> table_columns(const std::vector<VariantRow>& rows) {
  std::vector<TableColumn> columns;
  for (auto part : {identity_columns(rows), performance_columns(rows), explain_columns(rows), csv_only_columns()})
    for (auto& c : part) columns.push_back(std::move(c));
  std::vector<std::string> other_maps;
  for (const auto& r : rows)
    for (const auto& m : r.iou_bone_other_maps)
      if (std::find(other_maps.begin(), other_maps.end(), m.map) == other_maps.end()) other_maps.push_back(m.map);
  for (const std::string& map : other_maps)
    for (auto& c : other_map_columns(map)) columns.push_back(std::move(c));
  return columns;
}
}  // namespace

std::string format_table(const SweepTable& t, const std::string& format) {
  const auto& rows = t.rows;
  const std::vector<TableColumn> all = table_columns(rows);
  std::string out;
  if (format == "csv") {
    std::vector<std::string> head;
    for (const auto& c : all)
      for (const auto& [key, value] : c.csv) head.push_back(key);
    out = csv_line(head);
    for (const auto& r : rows) {
      std::vector<std::string> fields;
      for (const auto& c : all)
        for (const auto& [key, value] : c.csv) fields.push_back(value(r));
      out += csv_line(fields);
    }
    return out;
  }
  std::vector<const TableColumn*> shown;
  for (const auto& c : all)
    if (!c.markdown.empty()) shown.push_back(&c);
  const auto notes = footnotes(t);
  if (format == "md") {
    auto line = [](const std::vector<std::string>& c) {
      std::string s = "|";
      for (const auto& x : c) s += " " + x + " |";
      return s + "\n";
    };
    std::vector<std::string> head;
    std::string rule = "|";
    for (const auto* c : shown) {
      head.push_back(c->markdown);
      rule += c->align == 'l' ? "---|" : "--:|";
    }
    out = line(head) + rule + "\n";
    for (const auto& r : rows) {
      std::vector<std::string> cells;
      for (const auto* c : shown) cells.push_back(c->cell(r, false));
      out += line(cells);
    }
    out += "\n";
    for (const auto& n : notes) out += n + "\n";
    return out;
  }
  if (format == "latex") {
    std::string spec, head;
    for (const auto* c : shown) {
      spec += c->align;
      head += (head.empty() ? "" : " & ") + c->latex;
    }
    // A float with a caption, scaled to the text width (14 columns do not fit otherwise):
    // needs \\usepackage{booktabs,graphicx}; landscape pages can drop the \\resizebox.
    out = "% osteofm table; needs \\usepackage{booktabs,graphicx}\n\\begin{table*}[t]\n\\centering\n"
          "\\caption{Variants on the test split: discrimination with 95\\% bootstrap CIs, operating point chosen on "
          "validation, calibration and explainability (notes below the table).}\n\\label{tab:variants}\n"
          "\\resizebox{\\textwidth}{!}{%\n\\begin{tabular}{" + spec + "}\n\\toprule\n" + head + " \\\\\n\\midrule\n";
    for (const auto& r : rows) {
      for (size_t i = 0; i < shown.size(); ++i) out += (i ? " & " : "") + shown[i]->cell(r, true);
      out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}}\n\\par\\smallskip\n\\begin{minipage}{\\textwidth}\\footnotesize\n";
    for (const auto& n : notes) out += latex_text(n) + "\\par\n";
    out += "\\end{minipage}\n\\end{table*}\n";
    return out;
  }
  throw InputError("--format must be md, csv or latex, not '" + format + "'");
}

std::string format_region_table(const SweepTable& t, const std::string& format) {
  // Columns: every region any run reports, in first-seen order (the region table's).
  std::vector<std::string> regions;
  for (const auto& r : t.rows)
    for (const auto& [name, e] : r.delta_bone_regions)
      if (std::find(regions.begin(), regions.end(), name) == regions.end()) regions.push_back(name);
  if (regions.empty()) return "";
  auto cell = [](const VariantRow& r, const std::string& region) {
    for (const auto& [name, e] : r.delta_bone_regions)
      if (name == region) return std::optional<Estimate>(e);
    return std::optional<Estimate>();
  };
  std::set<std::string> fills, splits;
  for (const auto& r : t.rows)
    if (!r.delta_bone_regions.empty()) {
      fills.insert(r.delta_bone_fill);
      splits.insert(r.explain_split);
    }
  const std::string note = "Δbone(region) = AUC(all bones occluded except the region) - AUC(all bones occluded), macro "
                           "AUC, " + join(fills) + " fill, " + join(splits) + " split; 95% CIs by the paired bootstrap of explain.";
  std::string out;
  if (format == "csv") {
    std::vector<std::string> head = {"backbone", "strategy", "run"};
    for (const auto& g : regions)
      for (const char* k : {"", "_lower", "_upper"}) head.push_back("delta_bone_" + g + k);
    out = csv_line(head);
    for (const auto& r : t.rows) {
      std::vector<std::string> row = {r.backbone, r.strategy, r.run};
      for (const auto& g : regions) {
        const auto e = cell(r, g);
        row.push_back(e ? format_double(e->value) : "");
        row.push_back(e ? num(e->lower) : "");
        row.push_back(e ? num(e->upper) : "");
      }
      out += csv_line(row);
    }
    return out;
  }
  if (format == "md") {
    out = "| Backbone | Strategy |";
    for (const auto& g : regions) out += " Δbone(" + g + ") |";
    out += "\n|---|---|";
    for (size_t i = 0; i < regions.size(); ++i) out += "--:|";
    out += "\n";
    for (const auto& r : t.rows) {
      out += "| " + r.backbone + " | " + r.strategy + " |";
      for (const auto& g : regions) out += " " + opt_ci(cell(r, g)) + " |";
      out += "\n";
    }
    return out + "\n" + note + "\n";
  }
  if (format == "latex") {
    out = "\\begin{tabular}{ll" + std::string(regions.size(), 'r') + "}\n\\toprule\nBackbone & Strategy";
    for (const auto& g : regions) out += " & $\\Delta_\\mathrm{bone}$(" + g + ")";
    out += " \\\\\n\\midrule\n";
    for (const auto& r : t.rows) {
      out += latex_text(r.backbone) + " & " + latex_text(r.strategy);
      for (const auto& g : regions) out += " & " + opt_ci(cell(r, g));
      out += " \\\\\n";
    }
    return out + "\\bottomrule\n\\end{tabular}\n\n{\\footnotesize " + latex_text(note) + "}\n";
  }
  throw InputError("--format must be md, csv or latex, not '" + format + "'");
}

}  // namespace osteofm
