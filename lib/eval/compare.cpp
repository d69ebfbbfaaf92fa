#include "eval/compare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/labels.hpp"
#include "core/layout.hpp"
#include "core/numbers.hpp"
#include "core/parallel.hpp"
#include "eval/bootstrap.hpp"
#include "eval/clustered_auc.hpp"
#include "eval/delong.hpp"
#include "eval/json_values.hpp"
#include "eval/screening.hpp"

namespace osteofm {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// b's rows in a's image order; refuses differing image sets or labels.
ScoredSet align_to(const Predictions& a, const Predictions& b) {
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < b.size(); ++i) row_of[b.image_id[i]] = i;
  ScoredSet s;
  for (size_t i = 0; i < a.size(); ++i) {
    auto it = row_of.find(a.image_id[i]);
    if (it == row_of.end())
      throw InputError(b.source + ": image_id '" + a.image_id[i] + "' of " + a.source +
                       " is missing: models are compared on the same images only");
    if (b.scored.label[it->second] != a.scored.label[i])
      throw InputError(b.source + ": image_id '" + a.image_id[i] + "' has label " +
                       std::to_string(b.scored.label[it->second]) + ", " + a.source + " says " +
                       std::to_string(a.scored.label[i]));
    s.label.push_back(a.scored.label[i]);
    s.score.push_back(b.scored.score[it->second]);
  }
  if (b.size() != a.size()) {
    std::set<std::string> in_a(a.image_id.begin(), a.image_id.end());
    for (const auto& id : b.image_id)
      if (!in_a.count(id))
        throw InputError(a.source + ": image_id '" + id + "' of " + b.source +
                         " is missing: models are compared on the same images only");
  }
  return s;
}

// A model's trainings (first seed, then the others), each aligned to the reference images.
struct ModelRuns {
  std::vector<std::string> labels;
  std::vector<ScoredSet> sets;
  std::vector<const std::optional<Predictions>*> validation;
};
std::vector<ModelRuns> align(const std::vector<ModelPredictions>& models) {
  const Predictions& reference = models[0].test;
  std::vector<ModelRuns> out;
  for (const auto& m : models) {
    ModelRuns r;
    r.labels.push_back(m.first_seed_label);
    r.sets.push_back(&m == &models[0] ? reference.scored : align_to(reference, m.test));
    r.validation.push_back(&m.validation);
    for (const auto& s : m.other_seeds) {
      r.labels.push_back(s.label);
      r.sets.push_back(align_to(reference, s.test));
      r.validation.push_back(&s.validation);
    }
    out.push_back(std::move(r));
  }
  return out;
}

// Paired AUC tests for every pair (i < j) in order, with Holm over the pairs; each model's
// AUC is the mean over its seeds (`score_of(set)` gives one training's scores).
json auc_pairs(const std::vector<ModelPredictions>& models, const std::vector<ModelRuns>& runs,
               const std::function<std::vector<double>(const ScoredSet&)>& score_of, const std::vector<uint8_t>& positive,
               const std::vector<uint32_t>& clusters, size_t n_clusters, double conf_level, const std::string& what) {
  std::vector<AucComponents> components;
  for (const auto& r : runs) {
    std::vector<AucComponents> seeds;
    for (const auto& s : r.sets) seeds.push_back(auc_components(score_of(s), positive, what));
    components.push_back(mean_components(seeds));
  }
  size_t cases = 0;
  for (uint8_t p : positive) cases += p;
  const size_t controls = positive.size() - cases;
  json rows = json::array();
  std::vector<double> p;
  for (size_t a = 0; a < models.size(); ++a)
    for (size_t b = a + 1; b < models.size(); ++b) {
      const PairedAucTest t = paired_auc_test(components[a], components[b], positive, clusters, n_clusters, conf_level);
      json row = {{"a", models[a].name},         {"b", models[b].name},   {"auc_a", t.auc_a},
                  {"auc_b", t.auc_b},            {"difference", t.difference},
                  {"difference_ci", {t.lower, t.upper}},
                  {"se", t.se},                  {"z", t.z},              {"p", t.p},
                  {"method", t.method}};
      if (cases < kFewCasesForInterval || controls < kFewCasesForInterval)
        row["few_cases"] = std::to_string(cases) + " cases and " + std::to_string(controls) +
                           " controls: the normal approximation behind z, p and the interval is unreliable below " +
                           std::to_string(kFewCasesForInterval);
      rows.push_back(row);
      p.push_back(t.p);
    }
  const std::vector<double> adjusted = holm(p);
  for (size_t k = 0; k < rows.size(); ++k) rows[k]["p_holm"] = adjusted[k];
  return rows;
}

// Per training and replicate: macro AUC, osteoporosis-vs-rest AUC, accuracy, then
// sensitivity and specificity at the Youden threshold of each endpoint chosen on that
// training's validation predictions (NaN without a threshold).
constexpr int kMacroStat = 0, kOsteoporosisAucStat = 1, kAccuracyStat = 2;
constexpr int kStats = 3 + 2 * kNumEndpoints;
int sens_stat(int e) { return 3 + 2 * e; }
int spec_stat(int e) { return 4 + 2 * e; }

class TrainingStats {
 public:
  TrainingStats(const ScoredSet& s, const std::optional<Predictions>& val) : engine_(s) {
    for (int e = 0; e < kNumEndpoints; ++e) {
      endpoint_[e] = endpoint_set(s, e);
      if (!val) continue;
      const ThresholdChoice c = choose_thresholds(endpoint_set(val->scored, e));
      youden_[e] = c.threshold[kYouden];
    }
  }
  const std::optional<double>& youden(int e) const { return youden_[e]; }
  void compute(const uint32_t* w, double* out) const {
    const MetricValues m = w ? engine_.compute(w) : engine_.point();
    out[kMacroStat] = m[kAucMacro];
    out[kOsteoporosisAucStat] = m[kAucOsteoporosisVsRest];
    out[kAccuracyStat] = m[kAccuracy];
    for (int e = 0; e < kNumEndpoints; ++e) {
      out[sens_stat(e)] = out[spec_stat(e)] = kNaN;
      if (!youden_[e]) continue;
      const BinarySet& d = endpoint_[e];
      double tp = 0, fn = 0, tn = 0, fp = 0;
      for (size_t i = 0; i < d.size(); ++i) {
        const double wi = w ? w[i] : 1.0;
        const bool called = d.score[i] >= *youden_[e];
        if (d.positive[i]) (called ? tp : fn) += wi;
        else (called ? fp : tn) += wi;
      }
      out[sens_stat(e)] = tp + fn > 0 ? tp / (tp + fn) : kNaN;
      out[spec_stat(e)] = tn + fp > 0 ? tn / (tn + fp) : kNaN;
    }
  }

 private:
  MetricEngine engine_;
  BinarySet endpoint_[kNumEndpoints];
  std::optional<double> youden_[kNumEndpoints];
};

// A model: the mean of its trainings' statistics (NaN when one training's is undefined).
class ModelStats {
 public:
  explicit ModelStats(const ModelRuns& runs) {
    for (size_t s = 0; s < runs.sets.size(); ++s) seeds_.emplace_back(runs.sets[s], *runs.validation[s]);
  }
  size_t seeds() const { return seeds_.size(); }
  const TrainingStats& seed(size_t s) const { return seeds_[s]; }
  bool has_youden(int e) const {
    for (const auto& s : seeds_)
      if (!s.youden(e)) return false;
    return true;
  }
  void compute(const uint32_t* w, double* out) const {
    double one[kStats];
    std::fill(out, out + kStats, 0.0);
    for (const auto& s : seeds_) {
      s.compute(w, one);
      for (int k = 0; k < kStats; ++k) out[k] += one[k] / static_cast<double>(seeds_.size());
    }
  }

 private:
  std::vector<TrainingStats> seeds_;
};

// The difference with its percentile interval and bootstrap p (difference_test), over the
// valid replicates.
json difference_json(double estimate, std::vector<double> d, int valid, double conf_level) {
  json j = {{"difference", number_or_null(estimate)}, {"ci", nullptr}, {"p", nullptr}};
  if (std::isnan(estimate)) return j;
  d.erase(std::remove_if(d.begin(), d.end(), [](double x) { return std::isnan(x); }), d.end());
  if (d.empty() || static_cast<int>(d.size()) != valid) {
    j["reason"] = "undefined in " + std::to_string(valid - static_cast<int>(d.size())) + " of " +
                  std::to_string(valid) + " valid replicates";
    return j;
  }
  const DifferenceTest t = difference_test(std::move(d), conf_level);
  j["ci"] = {t.ci.lower, t.ci.upper};
  j["p"] = t.p;
  if (t.p_is_bound) j["p_is_bound"] = kBoundPText;
  return j;
}

// A statistic's estimate and percentile interval over the valid replicates; the interval
// is null when the statistic is undefined in some of them.
json estimate_over(double estimate, std::vector<double> s, int valid, double conf_level) {
  const double alpha = 1.0 - conf_level;
  s.erase(std::remove_if(s.begin(), s.end(), [](double x) { return std::isnan(x); }), s.end());
  Interval ci;
  if (!s.empty() && static_cast<int>(s.size()) == valid) {
    std::sort(s.begin(), s.end());
    ci = {quantile_type7(s, alpha / 2), quantile_type7(s, 1 - alpha / 2), true};
  }
  return estimate_json(estimate, ci);
}

double sample_sd(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  double mean = 0, ss = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

// What a model's seeds gave one by one (the spread beside the seed-averaged estimates).
json seeds_json(const ModelRuns& runs, const ModelStats& stats) {
  json j = {{"n", runs.sets.size()}, {"runs", runs.labels}};
  const std::vector<std::pair<const char*, int>> keys = {
      {"auc_macro", kMacroStat}, {"auc_osteoporosis_vs_rest", kOsteoporosisAucStat}, {"accuracy", kAccuracyStat}};
  std::vector<std::array<double, kStats>> point(runs.sets.size());
  for (size_t s = 0; s < runs.sets.size(); ++s) stats.seed(s).compute(nullptr, point[s].data());
  for (const auto& [key, stat] : keys) {
    std::vector<double> v;
    for (const auto& p : point) v.push_back(p[stat]);
    j["values"][key] = v;
    j["sd"][key] = number_or_null(sample_sd(v));
  }
  for (int e = 0; e < kNumEndpoints; ++e) {
    json thresholds = json::array();
    for (size_t s = 0; s < runs.sets.size(); ++s)
      thresholds.push_back(stats.seed(s).youden(e) ? json(*stats.seed(s).youden(e)) : json(nullptr));
    j["youden_threshold"][endpoint_key(e)] = thresholds;
  }
  return j;
}

// The shared part of compare_models and summarise_models: checks, the paired resamples and
// each model's estimates. `values` gets replicate x model x statistic.
struct Resampled {
  std::vector<ModelRuns> runs;
  std::vector<ModelStats> stats;
  std::vector<double> point, values;
  std::vector<size_t> valid_rows;
  std::vector<uint32_t> patients;
  size_t n_patients = 0;
  json summary;
};
Resampled resample_models(const std::vector<ModelPredictions>& models, const CompareOptions& opt) {
  if (models.empty()) throw InputError("compare: no model given");
  if (opt.replicates < 1) throw InputError("--bootstrap must be at least 1");
  {
    std::set<std::string> names;
    for (const auto& m : models)
      if (!names.insert(m.name).second) throw InputError("compare: the name '" + m.name + "' is given twice");
  }
  for (const auto& m : models) {
    if (m.validation) check_disjoint_splits(m.test, *m.validation);
    for (const auto& s : m.other_seeds)
      if (s.validation) check_disjoint_splits(s.test, *s.validation);
  }
  Resampled out;
  out.runs = align(models);
  const Predictions& first = models[0].test;
  MetricEngine labels_only(first.scored);
  {
    const auto counts = labels_only.class_counts();
    for (int k = 0; k < kNumClasses; ++k)
      if (counts[k] == 0)
        throw InputError(first.source + ": no " + std::string(kClassNames[k]) +
                         " images: one-vs-rest AUC is undefined when a class is absent");
  }
  const size_t M = models.size(), n = first.size();
  for (const auto& r : out.runs) out.stats.emplace_back(r);
  out.patients = cluster_index(first.patient_id, &out.n_patients);
  const std::vector<uint32_t> clusters = opt.cluster ? out.patients : std::vector<uint32_t>{};
  const size_t n_units = opt.cluster ? out.n_patients : n;
  const int threads = resolve_threads(opt.threads);
  out.point.assign(M * kStats, kNaN);
  out.values.assign(static_cast<size_t>(opt.replicates) * M * kStats, kNaN);
  for (size_t m = 0; m < M; ++m) out.stats[m].compute(nullptr, &out.point[m * kStats]);
  std::vector<std::vector<uint32_t>> weights(threads, std::vector<uint32_t>(n)), draws(threads), counts(threads);
  parallel_for(static_cast<size_t>(opt.replicates), threads, [&](size_t r, int t) {
    uint32_t* w = weights[t].data();
    replicate_weights(opt.seed, r, clusters, n_units, n, w, draws[t], counts[t]);
    if (!labels_only.all_classes_present(w)) return;
    for (size_t m = 0; m < M; ++m) out.stats[m].compute(w, &out.values[(r * M + m) * kStats]);
  });
  for (int r = 0; r < opt.replicates; ++r)
    if (!std::isnan(out.values[static_cast<size_t>(r) * M * kStats])) out.valid_rows.push_back(static_cast<size_t>(r));
  const int valid = static_cast<int>(out.valid_rows.size());
  json& j = out.summary;
  j["n"] = n;
  j["n_patients"] = out.n_patients;
  j["bootstrap"] = {{"replicates", opt.replicates},
                    {"valid_replicates", valid},
                    {"invalid_replicates", opt.replicates - valid},
                    {"method", "percentile"},
                    {"clustered", opt.cluster},
                    {"resample_unit", opt.cluster ? "patient" : "image"},
                    {"units", n_units},
                    {"patients_repeat", out.n_patients < n},
                    {"conf_level", opt.conf_level},
                    {"seed", opt.seed}};
  bool any_seeds = false;
  for (const auto& m : models) any_seeds = any_seeds || !m.other_seeds.empty();
  if (any_seeds)
    j["seed_averaging"] = "A model trained at several seeds is the mean of its seeds: each estimate is the mean of "
                          "the seeds' estimates (sensitivity and specificity each at its own seed's validation Youden "
                          "threshold), its interval the percentile interval of that mean over replicates that resample "
                          "the same patients for every seed; seeds.values and seeds.sd give the seeds one by one.";
  // Each model: its estimates with intervals, P(best) filled in by the ranking.
  auto series = [&](size_t m, int s) {
    std::vector<double> v;
    for (size_t r : out.valid_rows) v.push_back(out.values[(r * M + m) * kStats + s]);
    return v;
  };
  j["models"] = json::array();
  for (size_t m = 0; m < M; ++m) {
    const ModelStats& st = out.stats[m];
    const double* pt = &out.point[m * kStats];
    json mj = {{"name", models[m].name},
               {"test", models[m].test.source},
               {"validation", models[m].validation ? json(models[m].validation->source) : json(nullptr)},
               {"auc_macro", estimate_over(pt[kMacroStat], series(m, kMacroStat), valid, opt.conf_level)},
               {"auc_osteoporosis_vs_rest",
                estimate_over(pt[kOsteoporosisAucStat], series(m, kOsteoporosisAucStat), valid, opt.conf_level)},
               {"accuracy", estimate_over(pt[kAccuracyStat], series(m, kAccuracyStat), valid, opt.conf_level)},
               {"p_best", nullptr}};
    for (int e = 0; e < kNumEndpoints; ++e) {
      // The first seed's threshold (each seed's are in seeds.youden_threshold).
      mj["youden_threshold"][endpoint_key(e)] = st.seed(0).youden(e) ? json(*st.seed(0).youden(e)) : json(nullptr);
      json& at = mj["at_youden"][endpoint_key(e)];
      if (!st.has_youden(e)) {
        at = nullptr;
        continue;
      }
      at["sensitivity"] = estimate_over(pt[sens_stat(e)], series(m, sens_stat(e)), valid, opt.conf_level);
      at["specificity"] = estimate_over(pt[spec_stat(e)], series(m, spec_stat(e)), valid, opt.conf_level);
    }
    mj["seeds"] = seeds_json(out.runs[m], st);
    j["models"].push_back(mj);
  }
  return out;
}
}  // namespace

json summarise_models(const std::vector<ModelPredictions>& models, const CompareOptions& opt) {
  return resample_models(models, opt).summary;
}

json compare_models(const std::vector<ModelPredictions>& models, const CompareOptions& opt) {
  if (models.size() < 2) throw InputError("compare: give at least two models");
  Resampled rs = resample_models(models, opt);
  json j = std::move(rs.summary);
  const Predictions& first = models[0].test;
  const size_t M = models.size();
  const std::vector<uint32_t> clusters = opt.cluster ? rs.patients : std::vector<uint32_t>{};

  // Paired AUC tests + Holm per endpoint and per class.
  const std::string what = first.source + ": ";
  for (int e = 0; e < kNumEndpoints; ++e)
    j["comparisons"][endpoint_key(e)] =
        auc_pairs(models, rs.runs, [e](const ScoredSet& s) { return endpoint_set(s, e).score; },
                  endpoint_set(rs.runs[0].sets[0], e).positive, clusters, rs.n_patients, opt.conf_level,
                  what + endpoint_key(e));
  for (int k = 0; k < kNumClasses; ++k)
    j["comparisons_per_class"][kClassNames[k]] =
        auc_pairs(models, rs.runs, [k](const ScoredSet& s) { return class_scores(s, k); },
                  class_positives(first.scored.label, k), clusters, rs.n_patients, opt.conf_level,
                  what + kClassNames[k]);
  j["delong"] = "paired AUC test, two-sided, per pair (method): 'delong' = DeLong's variance with pROC roc.test's "
                "conventions when every patient has one image (or with --no-cluster); 'obuchowski' = Obuchowski's "
                "(1997) clustered variance when patients have several images (README: how to cite the numbers). "
                "difference_ci: Wald on atanh(difference), within [-1, 1]. p_holm: Holm's step-down over all pairs "
                "of that endpoint. Models with several seeds: the seed-mean AUC and its own variance.";

  const int valid = static_cast<int>(rs.valid_rows.size());
  const std::vector<double>& values = rs.values;
  const std::vector<double>& point = rs.point;
  auto diff_series = [&](size_t a, size_t b, int s) {
    std::vector<double> v;
    for (size_t r : rs.valid_rows) v.push_back(values[(r * M + a) * kStats + s] - values[(r * M + b) * kStats + s]);
    return v;
  };
  const double alpha = 1.0 - opt.conf_level;
  std::vector<double> p_best(M, 0.0);
  for (size_t r : rs.valid_rows) {
    double top = -1;
    for (size_t m = 0; m < M; ++m) top = std::max(top, values[(r * M + m) * kStats]);
    int ties = 0;
    for (size_t m = 0; m < M; ++m) ties += values[(r * M + m) * kStats] == top;
    for (size_t m = 0; m < M; ++m)
      if (values[(r * M + m) * kStats] == top) p_best[m] += 1.0 / ties;
  }
  for (size_t m = 0; m < M; ++m) j["models"][m]["p_best"] = valid ? json(p_best[m] / valid) : json(nullptr);

  // Paired bootstrap differences for every pair.
  json pairs = json::array();
  for (size_t a = 0; a < M; ++a)
    for (size_t b = a + 1; b < M; ++b) {
      json pj = {{"a", models[a].name}, {"b", models[b].name}};
      pj["auc_macro"] = difference_json(point[a * kStats] - point[b * kStats], diff_series(a, b, kMacroStat), valid,
                                        opt.conf_level);
      for (int e = 0; e < kNumEndpoints; ++e) {
        if (!rs.stats[a].has_youden(e) || !rs.stats[b].has_youden(e)) {
          pj[endpoint_key(e)] = nullptr;
          pj[std::string(endpoint_key(e)) + "_reason"] =
              "a model has no validation-chosen Youden threshold (no validation predictions, or one class)";
          continue;
        }
        for (int s : {sens_stat(e), spec_stat(e)})
          pj[endpoint_key(e)][s == sens_stat(e) ? "sensitivity_youden" : "specificity_youden"] = difference_json(
              point[a * kStats + s] - point[b * kStats + s], diff_series(a, b, s), valid, opt.conf_level);
      }
      pairs.push_back(pj);
    }
  j["bootstrap_differences"] = {
      {"definition", "a - b on the same resamples (paired), patients drawn with all their images when clustered; "
                     "percentile interval; two-sided bootstrap p = min(1, 2 min(P(d <= 0), P(d >= 0)))"},
      {"pairs", pairs}};

  // Ranking: the best point estimate, and which models are not significantly below it.
  size_t best = 0;
  for (size_t m = 1; m < M; ++m)
    if (point[m * kStats] > point[best * kStats]) best = m;
  std::vector<double> p_vs_best;
  std::vector<size_t> others;
  for (size_t m = 0; m < M; ++m) {
    if (m == best) continue;
    const json d = difference_json(point[best * kStats] - point[m * kStats], diff_series(best, m, kMacroStat), valid,
                                   opt.conf_level);
    p_vs_best.push_back(d["p"].is_number() ? d["p"].get<double>() : 1.0);
    others.push_back(m);
  }
  const std::vector<double> adjusted = holm(p_vs_best);
  json ranking = {{"metric", "auc_macro"},
                  {"best", models[best].name},
                  {"alpha", alpha},
                  {"definition", "p_best: share of bootstrap replicates in which the model has the highest macro "
                                 "AUC (ties shared; a model with several seeds: their mean macro AUC); "
                                 "not_below_best: Holm-adjusted paired bootstrap p of (best - model) >= alpha"}};
  ranking["models"] = json::array();
  for (size_t m = 0; m < M; ++m) {
    json r = {{"name", models[m].name},
              {"auc_macro", point[m * kStats]},
              {"seeds", rs.runs[m].sets.size()},
              {"p_best", valid ? json(p_best[m] / valid) : json(nullptr)}};
    if (m == best) {
      r["p_vs_best"] = nullptr;
      r["p_holm_vs_best"] = nullptr;
      r["not_below_best"] = true;
    } else {
      const size_t k = static_cast<size_t>(std::find(others.begin(), others.end(), m) - others.begin());
      r["p_vs_best"] = p_vs_best[k];
      r["p_holm_vs_best"] = adjusted[k];
      r["not_below_best"] = adjusted[k] >= alpha;
    }
    ranking["models"].push_back(r);
  }
  j["ranking"] = ranking;
  return j;
}

std::vector<fs::path> finished_seed_runs(const fs::path& sweep_dir, const std::string& run) {
  const fs::path folder = sweep_dir / layout::kSeedsDir / run;
  std::vector<std::pair<long long, fs::path>> found;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return {};
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || name.rfind("seed-", 0) != 0 || !fs::exists(e.path() / layout::kMetricsTest)) continue;
    long long seed = 0;
    try {
      seed = std::stoll(name.substr(5));
    } catch (const std::exception&) {
      continue;
    }
    found.emplace_back(seed, e.path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> runs;
  for (auto& f : found) runs.push_back(std::move(f.second));
  return runs;
}

namespace {
// A variant's other seeds as compare reads them: test and validation predictions.
std::vector<SeedRun> seed_runs(const fs::path& sweep_dir, const std::string& run) {
  std::vector<SeedRun> runs;
  for (const auto& path : finished_seed_runs(sweep_dir, run)) {
    if (!fs::exists(path / layout::kPredictionsTest)) continue;
    SeedRun r;
    r.label = path.filename().string();
    r.test = read_predictions((path / layout::kPredictionsTest).string());
    if (fs::exists(path / layout::kPredictionsVal)) r.validation = read_predictions((path / layout::kPredictionsVal).string());
    runs.push_back(std::move(r));
  }
  return runs;
}
}  // namespace

std::vector<ModelPredictions> sweep_models(const std::string& sweep_dir) {
  std::error_code ec;
  if (!fs::is_directory(sweep_dir, ec)) throw InputError(sweep_dir + ": not a folder");
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(sweep_dir))
    if (entry.is_directory() && fs::exists(entry.path() / layout::kPredictionsTest)) runs.push_back(entry.path());
  std::sort(runs.begin(), runs.end());
  if (runs.empty()) throw InputError(sweep_dir + ": no run folder with predictions_test.csv");
  std::vector<ModelPredictions> models;
  for (const auto& run : runs) {
    ModelPredictions m;
    m.name = run.filename().string();
    m.test = read_predictions((run / layout::kPredictionsTest).string());
    if (fs::exists(run / layout::kPredictionsVal)) m.validation = read_predictions((run / layout::kPredictionsVal).string());
    m.other_seeds = seed_runs(sweep_dir, m.name);
    if (!m.other_seeds.empty()) {
      const fs::path config = run / layout::kRunConfig;
      m.first_seed_label = "seed of " + m.name;
      if (fs::exists(config)) {
        const json c = parse_json_file(config.string());
        if (c.is_object() && c.contains("train") && c["train"].is_object() && c["train"].value("seed", json()).is_number_integer())
          m.first_seed_label = "seed-" + std::to_string(c["train"]["seed"].get<long long>());
      }
    }
    models.push_back(std::move(m));
  }
  return models;
}

}  // namespace osteofm
