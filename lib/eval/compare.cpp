#include "eval/compare.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/numbers.hpp"
#include "core/parallel.hpp"
#include "eval/bootstrap.hpp"
#include "eval/delong.hpp"
#include "eval/json_values.hpp"
#include "eval/screening.hpp"

namespace osteofm {
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Every model's rows in the first model's image order; refuses differing image sets or labels.
std::vector<ScoredSet> align(const std::vector<ModelPredictions>& models) {
  const Predictions& a = models[0].test;
  std::vector<ScoredSet> out = {a.scored};
  for (size_t m = 1; m < models.size(); ++m) {
    const Predictions& b = models[m].test;
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
    out.push_back(std::move(s));
  }
  return out;
}

// Paired DeLong for every pair (i < j) in order, with Holm over the pairs.
json delong_pairs(const std::vector<ModelPredictions>& models, const std::vector<std::vector<double>>& score,
                  const std::vector<uint8_t>& positive, double conf_level, const std::string& what) {
  json rows = json::array();
  std::vector<double> p;
  for (size_t a = 0; a < models.size(); ++a)
    for (size_t b = a + 1; b < models.size(); ++b) {
      const DeLongPaired d = delong_paired(score[a], score[b], positive, conf_level, what);
      rows.push_back({{"a", models[a].name},
                      {"b", models[b].name},
                      {"auc_a", d.auc_a},
                      {"auc_b", d.auc_b},
                      {"difference", d.auc_a - d.auc_b},
                      {"difference_ci", {d.diff_lower, d.diff_upper}},
                      {"z", d.z},
                      {"p", d.p_value}});
      p.push_back(d.p_value);
    }
  const std::vector<double> adjusted = holm(p);
  for (size_t k = 0; k < rows.size(); ++k) rows[k]["p_holm"] = adjusted[k];
  return rows;
}

// Per model and replicate: macro AUC, then sensitivity and specificity at the Youden
// threshold of each endpoint (NaN without a threshold).
constexpr int kStats = 1 + 2 * kNumEndpoints;
int sens_stat(int e) { return 1 + 2 * e; }
int spec_stat(int e) { return 2 + 2 * e; }

class ModelStats {
 public:
  ModelStats(const ScoredSet& s, const std::optional<Predictions>& val) {
    for (int k = 0; k < kNumClasses; ++k) classes_.emplace_back(class_scores(s, k), class_positives(s.label, k));
    for (int e = 0; e < kNumEndpoints; ++e) {
      endpoint_[e] = endpoint_set(s, e);
      if (!val) continue;
      const ThresholdChoice c = choose_thresholds(endpoint_set(val->scored, e));
      youden_[e] = c.threshold[kYouden];
    }
  }
  const std::optional<double>& youden(int e) const { return youden_[e]; }
  void compute(const uint32_t* w, double* out) const {
    double macro = 0;
    for (const auto& c : classes_) macro += c.auc(w);
    out[0] = macro / kNumClasses;
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
  std::vector<RankedProblem> classes_;
  BinarySet endpoint_[kNumEndpoints];
  std::optional<double> youden_[kNumEndpoints];
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
}  // namespace

json compare_models(const std::vector<ModelPredictions>& models, const CompareOptions& opt) {
  if (models.size() < 2) throw InputError("compare: give at least two models");
  if (opt.replicates < 1) throw InputError("--bootstrap must be at least 1");
  {
    std::set<std::string> names;
    for (const auto& m : models)
      if (!names.insert(m.name).second) throw InputError("compare: the name '" + m.name + "' is given twice");
  }
  for (const auto& m : models)
    if (m.validation) check_disjoint_splits(m.test, *m.validation);
  const std::vector<ScoredSet> sets = align(models);
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

  json j;
  j["n"] = n;
  j["models"] = json::array();

  // Paired DeLong + Holm per endpoint and per class.
  for (int e = 0; e < kNumEndpoints; ++e) {
    std::vector<std::vector<double>> score;
    for (const auto& s : sets) score.push_back(endpoint_set(s, e).score);
    j["comparisons"][endpoint_key(e)] = delong_pairs(models, score, endpoint_set(sets[0], e).positive,
                                                     opt.conf_level, first.source + ": " + endpoint_key(e));
  }
  for (int k = 0; k < kNumClasses; ++k) {
    std::vector<std::vector<double>> score;
    for (const auto& s : sets) score.push_back(class_scores(s, k));
    j["comparisons_per_class"][kClassNames[k]] = delong_pairs(models, score, class_positives(first.scored.label, k),
                                                              opt.conf_level, first.source + ": " + kClassNames[k]);
  }
  j["delong"] = "paired DeLong (pROC roc.test conventions), two-sided; p_holm: Holm's step-down over all pairs of "
                "that endpoint";

  // Paired bootstrap: one resample for all models.
  std::vector<ModelStats> stats;
  for (size_t m = 0; m < M; ++m) stats.emplace_back(sets[m], models[m].validation);
  size_t n_patients = 0;
  const std::vector<uint32_t> patients = cluster_index(first.patient_id, &n_patients);
  const std::vector<uint32_t> clusters = opt.cluster ? patients : std::vector<uint32_t>{};
  const size_t n_units = opt.cluster ? n_patients : n;
  const int threads = resolve_threads(opt.threads);
  std::vector<double> point(M * kStats), values(static_cast<size_t>(opt.replicates) * M * kStats, kNaN);
  for (size_t m = 0; m < M; ++m) stats[m].compute(nullptr, &point[m * kStats]);
  std::vector<std::vector<uint32_t>> weights(threads, std::vector<uint32_t>(n)), draws(threads), counts(threads);
  parallel_for(static_cast<size_t>(opt.replicates), threads, [&](size_t r, int t) {
    uint32_t* w = weights[t].data();
    replicate_weights(opt.seed, r, clusters, n_units, n, w, draws[t], counts[t]);
    if (!labels_only.all_classes_present(w)) return;
    for (size_t m = 0; m < M; ++m) stats[m].compute(w, &values[(r * M + m) * kStats]);
  });
  std::vector<size_t> valid_rows;
  for (int r = 0; r < opt.replicates; ++r)
    if (!std::isnan(values[static_cast<size_t>(r) * M * kStats])) valid_rows.push_back(static_cast<size_t>(r));
  const int valid = static_cast<int>(valid_rows.size());
  auto series = [&](size_t m, int s) {
    std::vector<double> v;
    for (size_t r : valid_rows) v.push_back(values[(r * M + m) * kStats + s]);
    return v;
  };
  auto diff_series = [&](size_t a, size_t b, int s) {
    std::vector<double> v;
    for (size_t r : valid_rows) v.push_back(values[(r * M + a) * kStats + s] - values[(r * M + b) * kStats + s]);
    return v;
  };
  j["n_patients"] = n_patients;
  j["bootstrap"] = {{"replicates", opt.replicates},
                    {"valid_replicates", valid},
                    {"invalid_replicates", opt.replicates - valid},
                    {"method", "percentile"},
                    {"clustered", opt.cluster},
                    {"resample_unit", opt.cluster ? "patient" : "image"},
                    {"units", n_units},
                    {"patients_repeat", n_patients < n},
                    {"conf_level", opt.conf_level},
                    {"seed", opt.seed}};

  // Each model: macro AUC with CI, P(best), its thresholds.
  const double alpha = 1.0 - opt.conf_level;
  std::vector<double> p_best(M, 0.0);
  for (size_t r : valid_rows) {
    double top = -1;
    for (size_t m = 0; m < M; ++m) top = std::max(top, values[(r * M + m) * kStats]);
    int ties = 0;
    for (size_t m = 0; m < M; ++m) ties += values[(r * M + m) * kStats] == top;
    for (size_t m = 0; m < M; ++m)
      if (values[(r * M + m) * kStats] == top) p_best[m] += 1.0 / ties;
  }
  for (size_t m = 0; m < M; ++m) {
    std::vector<double> s = series(m, 0);
    std::sort(s.begin(), s.end());
    Interval ci;
    if (!s.empty()) ci = {quantile_type7(s, alpha / 2), quantile_type7(s, 1 - alpha / 2), true};
    json mj = {{"name", models[m].name},
               {"test", models[m].test.source},
               {"validation", models[m].validation ? json(models[m].validation->source) : json(nullptr)},
               {"auc_macro", estimate_json(point[m * kStats], ci)},
               {"p_best", valid ? json(p_best[m] / valid) : json(nullptr)}};
    for (int e = 0; e < kNumEndpoints; ++e)
      mj["youden_threshold"][endpoint_key(e)] =
          stats[m].youden(e) ? json(*stats[m].youden(e)) : json(nullptr);
    j["models"].push_back(mj);
  }

  // Paired bootstrap differences for every pair.
  json pairs = json::array();
  for (size_t a = 0; a < M; ++a)
    for (size_t b = a + 1; b < M; ++b) {
      json pj = {{"a", models[a].name}, {"b", models[b].name}};
      pj["auc_macro"] = difference_json(point[a * kStats] - point[b * kStats], diff_series(a, b, 0), valid,
                                        opt.conf_level);
      for (int e = 0; e < kNumEndpoints; ++e) {
        if (!stats[a].youden(e) || !stats[b].youden(e)) {
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
    const json d = difference_json(point[best * kStats] - point[m * kStats], diff_series(best, m, 0), valid,
                                   opt.conf_level);
    p_vs_best.push_back(d["p"].is_number() ? d["p"].get<double>() : 1.0);
    others.push_back(m);
  }
  const std::vector<double> adjusted = holm(p_vs_best);
  json ranking = {{"metric", "auc_macro"},
                  {"best", models[best].name},
                  {"alpha", alpha},
                  {"definition", "p_best: share of bootstrap replicates in which the model has the highest macro "
                                 "AUC (ties shared); not_below_best: Holm-adjusted paired bootstrap p of (best - "
                                 "model) >= alpha"}};
  ranking["models"] = json::array();
  for (size_t m = 0; m < M; ++m) {
    json r = {{"name", models[m].name},
              {"auc_macro", point[m * kStats]},
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

std::vector<ModelPredictions> sweep_models(const std::string& sweep_dir) {
  std::error_code ec;
  if (!fs::is_directory(sweep_dir, ec)) throw InputError(sweep_dir + ": not a folder");
  std::vector<fs::path> runs;
  for (const auto& entry : fs::directory_iterator(sweep_dir))
    if (entry.is_directory() && fs::exists(entry.path() / "predictions_test.csv")) runs.push_back(entry.path());
  std::sort(runs.begin(), runs.end());
  if (runs.empty()) throw InputError(sweep_dir + ": no run folder with predictions_test.csv");
  std::vector<ModelPredictions> models;
  for (const auto& run : runs) {
    ModelPredictions m;
    m.name = run.filename().string();
    m.test = read_predictions((run / "predictions_test.csv").string());
    if (fs::exists(run / "predictions_val.csv")) m.validation = read_predictions((run / "predictions_val.csv").string());
    models.push_back(std::move(m));
  }
  return models;
}

}  // namespace osteofm
