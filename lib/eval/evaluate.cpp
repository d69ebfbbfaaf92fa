#include "eval/evaluate.hpp"

#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"
#include "core/labels.hpp"
#include "eval/delong.hpp"

namespace osteofm {
using nlohmann::json;

namespace {
json number_or_null(double v) { return std::isnan(v) ? json(nullptr) : json(v); }
json interval_json(const Interval& iv) {
  return iv.defined ? json::array({iv.lower, iv.upper}) : json(nullptr);
}
// Puts `value` at a dotted path ("auc_per_class.normal").
void put(json& root, const std::string& path, json value) {
  auto dot = path.find('.');
  if (dot == std::string::npos) root[path] = std::move(value);
  else root[path.substr(0, dot)][path.substr(dot + 1)] = std::move(value);
}
void require_all_classes(const MetricEngine& engine, const std::string& source) {
  const auto counts = engine.class_counts();
  for (int k = 0; k < kNumClasses; ++k)
    if (counts[k] == 0)
      throw InputError(source + ": no " + std::string(kClassNames[k]) +
                       " images: one-vs-rest AUC is undefined when a class is absent");
}
std::vector<uint8_t> positives(const std::vector<int>& labels, int k) {
  std::vector<uint8_t> p(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) p[i] = labels[i] == k;
  return p;
}
std::vector<double> column(const ScoredSet& s, int k) {
  std::vector<double> c(s.size());
  for (size_t i = 0; i < s.size(); ++i) c[i] = s.score[i][k];
  return c;
}
}  // namespace

json evaluate(const Predictions& p, const EvalOptions& opt) {
  if (opt.ci != "percentile" && opt.ci != "bca") throw InputError("--ci must be percentile or bca, not '" + opt.ci + "'");
  if (opt.replicates < 1) throw InputError("--bootstrap must be at least 1");
  MetricEngine engine(p.scored);
  require_all_classes(engine, p.source);

  size_t n_patients = 0;
  const std::vector<uint32_t> clusters = cluster_index(p.patient_id, &n_patients);
  BootstrapOptions bo;
  bo.replicates = opt.replicates;
  bo.seed = opt.seed;
  bo.conf_level = opt.conf_level;
  bo.threads = opt.threads;
  bo.bca = opt.ci == "bca";
  const BootstrapResult boot = bootstrap(engine, opt.cluster ? clusters : std::vector<uint32_t>{}, n_patients, bo);

  json j;
  j["n"] = p.size();
  j["n_patients"] = n_patients;
  j["source"] = p.source;
  j["bootstrap"] = {{"replicates", opt.replicates},
                    {"valid_replicates", boot.valid},
                    {"invalid_replicates", boot.replicates - boot.valid},
                    {"method", opt.ci},
                    {"clustered", opt.cluster},
                    {"resample_unit", boot.unit},
                    {"units", boot.n_units},
                    {"stratified", false},
                    {"conf_level", opt.conf_level},
                    {"seed", opt.seed}};
  const auto counts = engine.class_counts();
  for (int k = 0; k < kNumClasses; ++k) j["class_counts"][kClassNames[k]] = counts[k];
  for (int m = 0; m < kNumMetrics; ++m) {
    const Interval& iv = opt.ci == "bca" ? boot.bca[m] : boot.percentile[m];
    put(j, metric_key(m), {{"estimate", number_or_null(boot.estimate[m])}, {"ci", interval_json(iv)}});
  }
  const auto conf = engine.confusion();
  j["confusion"] = json::array();
  for (const auto& row : conf) j["confusion"].push_back(row);
  j["argmax_ties"] = engine.argmax_ties();
  for (int k = 0; k < kNumClasses; ++k) {
    const DeLongResult d = delong(column(p.scored, k), positives(p.scored.label, k), opt.conf_level,
                                  p.source + ": " + kClassNames[k]);
    j["delong"][kClassNames[k]] = {{"auc", d.auc},         {"variance", d.variance},      {"se", d.se},
                                   {"ci", {d.lower, d.upper}}, {"n_cases", d.n_cases}, {"n_controls", d.n_controls}};
  }
  return j;
}

json compare_predictions(const Predictions& a, const Predictions& b, double conf_level) {
  std::map<std::string, size_t> row_of_b;
  for (size_t i = 0; i < b.size(); ++i) row_of_b[b.image_id[i]] = i;
  std::vector<double> sb_cols[kNumClasses];
  for (size_t i = 0; i < a.size(); ++i) {
    auto it = row_of_b.find(a.image_id[i]);
    if (it == row_of_b.end())
      throw InputError(b.source + ": image_id '" + a.image_id[i] + "' of " + a.source + " is missing");
    if (b.scored.label[it->second] != a.scored.label[i])
      throw InputError(b.source + ": image_id '" + a.image_id[i] + "' has label " +
                       std::to_string(b.scored.label[it->second]) + ", " + a.source + " says " +
                       std::to_string(a.scored.label[i]));
    for (int k = 0; k < kNumClasses; ++k) sb_cols[k].push_back(b.scored.score[it->second][k]);
  }
  if (b.size() != a.size()) {
    std::set<std::string> in_a(a.image_id.begin(), a.image_id.end());
    for (const auto& id : b.image_id)
      if (!in_a.count(id)) throw InputError(a.source + ": image_id '" + id + "' of " + b.source + " is missing");
  }
  MetricEngine engine(a.scored);
  require_all_classes(engine, a.source);
  json j;
  j["a"] = a.source;
  j["b"] = b.source;
  j["n"] = a.size();
  j["method"] = "DeLong, paired, two-sided (pROC roc.test conventions)";
  j["conf_level"] = conf_level;
  auto one = [&](int k) {
    const DeLongPaired d = delong_paired(column(a.scored, k), sb_cols[k], positives(a.scored.label, k), conf_level,
                                         a.source + ": " + kClassNames[k]);
    return json{{"auc_a", d.auc_a},           {"auc_b", d.auc_b},     {"variance_a", d.variance_a},
                {"variance_b", d.variance_b}, {"covariance", d.covariance}, {"z", d.z},
                {"p_value", d.p_value},       {"diff", d.auc_a - d.auc_b}, {"diff_ci", {d.diff_lower, d.diff_upper}}};
  };
  for (int k = 0; k < kNumClasses; ++k) j["delong_paired"][kClassNames[k]] = one(k);
  j["delong_paired"]["osteoporosis_vs_rest"] = one(kOsteoporosis);
  return j;
}

}  // namespace osteofm
