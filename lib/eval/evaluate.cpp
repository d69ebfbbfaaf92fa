#include "eval/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/numbers.hpp"
#include "eval/clustered_auc.hpp"
#include "eval/delong.hpp"
#include "eval/json_values.hpp"
#include "eval/normal.hpp"
#include "eval/screening.hpp"

namespace osteofm {
using nlohmann::json;

namespace {

void require_all_classes(const MetricEngine& engine, const std::string& source) {
  const auto counts = engine.class_counts();
  for (int k = 0; k < kNumClasses; ++k)
    if (counts[k] == 0)
      throw InputError(source + ": no " + std::string(kClassNames[k]) +
                       " images: one-vs-rest AUC is undefined when a class is absent");
}

// The statistics of one endpoint that the bootstrap resamples next to the AUCs: the
// endpoint's AUC (low BMD only: osteoporosis-vs-rest is already a fixed metric), Brier,
// ECE, and sensitivity, specificity, PPV and NPV at each validation-chosen threshold.
class EndpointColumns {
 public:
  static constexpr int kPerRule = 4;  // sensitivity, specificity, ppv, npv

  // `groups`: the image rows of each --by group, in the JSON's order (empty: no --by).
  EndpointColumns(int endpoint, const ScoredSet& test, const ThresholdChoice& choice,
                  const std::vector<std::vector<size_t>>& groups, size_t first_column)
      : data_(endpoint_set(test, endpoint)), ranked_(data_.score, data_.positive), groups_(groups) {
    size_t c = first_column;
    if (endpoint == kLowBmdVsNormal) auc_ = static_cast<int>(c++);
    brier_ = static_cast<int>(c++);
    ece_ = static_cast<int>(c++);
    // Calibration intercept and slope on the same resamples (no slope for flat scores).
    logits_ = calibration_logits(data_);
    calibration_ = osteofm::calibration(data_);
    point_fit_ = calibration_fit(logits_, data_.positive, nullptr, !calibration_.near_constant);
    intercept_ = static_cast<int>(c++);
    slope_ = static_cast<int>(c++);
    // Per group: AUC, sensitivity and specificity at the Youden threshold; then the AUC
    // difference of every pair of groups (when there are at most kMaxGroupsForPairs groups).
    if (!groups_.empty()) {
      group_first_ = static_cast<int>(c);
      c += 3 * groups_.size();
      if (groups_.size() <= kMaxGroupsForPairs) {
        pair_first_ = static_cast<int>(c);
        c += groups_.size() * (groups_.size() - 1) / 2;
      }
    }
    const size_t n = data_.size();
    code_.assign(n, 0);
    squared_error_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const double e = data_.score[i] - data_.positive[i];
      squared_error_[i] = e * e;
      code_[i] = static_cast<uint8_t>(ece_bin(data_.score[i]) << 4);
      if (data_.positive[i]) code_[i] |= 8;
    }
    for (int r = 0; r < kNumRules; ++r) {
      if (!choice.threshold[r]) continue;
      rule_[r] = static_cast<int>(c);
      c += kPerRule;
      for (size_t i = 0; i < n; ++i)
        if (data_.score[i] >= *choice.threshold[r]) code_[i] |= static_cast<uint8_t>(1u << r);
    }
    end_ = c;
  }
  size_t end() const { return end_; }
  const BinarySet& data() const { return data_; }
  int auc_column() const { return auc_; }
  int brier_column() const { return brier_; }
  int ece_column() const { return ece_; }
  int rule_column(int r) const { return rule_[r]; }
  const Calibration& calibration() const { return calibration_; }
  int intercept_column() const { return intercept_; }
  int slope_column() const { return slope_; }
  // Group g's AUC, sensitivity and specificity (at Youden) columns: +0, +1, +2.
  int group_column(size_t g) const { return group_first_ + static_cast<int>(3 * g); }
  // AUC(group a) - AUC(group b), a < b; -1 when pairs are not computed.
  int pair_column(size_t a, size_t b) const {
    if (pair_first_ < 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < a; ++i) k += groups_.size() - 1 - i;
    return pair_first_ + static_cast<int>(k + (b - a - 1));
  }
  static constexpr size_t kMaxGroupsForPairs = 8;

  // One pass over the images for Brier (mean squared error), ECE (sum over the 10 bins of
  // n_b/n |mean y - mean s|) and every rule's 2x2 table (integer counts).
  void compute(const uint32_t* w, double* row) const {
    if (auc_ >= 0) row[auc_] = ranked_.auc(w);
    uint64_t table[kNumRules][4] = {};  // [rule][positive * 2 + called]
    uint64_t bin_n[10] = {}, bin_y[10] = {}, total = 0;
    double bin_s[10] = {}, brier = 0;
    const size_t n = code_.size();
    const double* score = data_.score.data();
    for (size_t i = 0; i < n; ++i) {  // no branch on w == 0 (a third of the images): it mispredicts
      const uint32_t wi = w[i];
      const uint8_t code = code_[i];
      const int bin = code >> 4, pos = (code >> 3) & 1;
      const double wd = static_cast<double>(wi);
      total += wi;
      brier += wd * squared_error_[i];
      bin_n[bin] += wi;
      bin_s[bin] += wd * score[i];
      bin_y[bin] += wi * static_cast<uint32_t>(pos);
      for (int r = 0; r < kNumRules; ++r) table[r][pos * 2 + ((code >> r) & 1)] += wi;
    }
    row[brier_] = total > 0 ? brier / static_cast<double>(total) : kNaN;
    double ece = 0;
    for (int b = 0; b < 10; ++b)
      if (bin_n[b] > 0) {
        const double nb = static_cast<double>(bin_n[b]);
        ece += nb / static_cast<double>(total) * std::fabs(static_cast<double>(bin_y[b]) / nb - bin_s[b] / nb);
      }
    row[ece_] = total > 0 ? ece : kNaN;
    auto ratio = [](uint64_t a, uint64_t b) { return a + b > 0 ? static_cast<double>(a) / static_cast<double>(a + b) : kNaN; };
    for (int r = 0; r < kNumRules; ++r) {
      if (rule_[r] < 0) continue;
      const uint64_t tn = table[r][0], fp = table[r][1], fn = table[r][2], tp = table[r][3];
      double* out = row + rule_[r];
      out[0] = ratio(tp, fn);
      out[1] = ratio(tn, fp);
      out[2] = ratio(tp, fp);
      out[3] = ratio(tn, fn);
    }
    const CalibrationFit fit = calibration_fit(logits_, data_.positive, w, !calibration_.near_constant, &point_fit_);
    row[intercept_] = fit.intercept;
    row[slope_] = fit.slope;
    if (groups_.empty()) return;
    std::vector<uint32_t> in_group(n, 0u);  // this replicate's weights of one group's images
    for (size_t g = 0; g < groups_.size(); ++g) {
      uint64_t t[4] = {};
      for (size_t i : groups_[g]) {
        in_group[i] = w[i];
        const uint8_t code = code_[i];
        t[((code >> 3) & 1) * 2 + (code & 1)] += w[i];
      }
      double* out = row + group_column(g);
      out[0] = ranked_.auc(in_group.data());
      const bool youden = rule_[kYouden] >= 0;
      out[1] = youden ? ratio(t[3], t[2]) : kNaN;
      out[2] = youden ? ratio(t[0], t[1]) : kNaN;
      for (size_t i : groups_[g]) in_group[i] = 0;
    }
    if (pair_first_ < 0) return;
    for (size_t a = 0; a < groups_.size(); ++a)
      for (size_t b = a + 1; b < groups_.size(); ++b)
        row[pair_column(a, b)] = row[group_column(a)] - row[group_column(b)];
  }

 private:
  BinarySet data_;
  RankedProblem ranked_;
  // Per image: bits 0-2 positive call at rule r's threshold, bit 3 positive, bits 4-7 the ECE bin.
  std::vector<uint8_t> code_;
  std::vector<double> squared_error_, logits_;
  std::vector<std::vector<size_t>> groups_;
  Calibration calibration_;   // the test split's (the estimate; no slope for flat scores)
  CalibrationFit point_fit_{};  // where each replicate's fits start
  int auc_ = -1, brier_ = -1, ece_ = -1, intercept_ = -1, slope_ = -1, group_first_ = -1, pair_first_ = -1;
  int rule_[kNumRules] = {-1, -1, -1};
  size_t end_ = 0;
};

// The T-score regression of a tscore head (predictions columns t_score = DXA, t_score_pred
// = the predicted mean): MAE and Pearson's r over the images that have both, resampled with
// the AUCs (two extra columns from `first`).
class TscoreColumns {
 public:
  TscoreColumns(const Predictions& p, size_t first) : first_(first) {
    int truth = -1, pred = -1;
    for (size_t c = 0; c < p.extra_header.size(); ++c) {
      if (p.extra_header[c] == "t_score") truth = static_cast<int>(c);
      if (p.extra_header[c] == "t_score_pred") pred = static_cast<int>(c);
    }
    if (truth < 0 || pred < 0) return;
    present_ = true;
    for (size_t i = 0; i < p.size(); ++i) {
      const std::string& t = p.extra[i][truth];
      const std::string& q = p.extra[i][pred];
      const auto tv = parse_number(t), qv = parse_number(q);
      if ((!t.empty() && !tv) || !qv)
        throw InputError(p.source + ": row " + std::to_string(i + 1) + " (" + p.image_id[i] +
                         "): t_score and t_score_pred must be numbers (t_score may be blank)");
      if (!tv) continue;
      rows_.push_back(i);
      truth_.push_back(*tv);
      pred_.push_back(*qv);
    }
  }
  bool present() const { return present_; }
  size_t end() const { return present_ ? first_ + 2 : first_; }
  size_t n() const { return rows_.size(); }
  void compute(const uint32_t* w, double* out) const {
    if (!present_) return;
    double W = 0, abs = 0, mt = 0, mp = 0;
    for (size_t k = 0; k < rows_.size(); ++k) {
      const double wk = w[rows_[k]];
      W += wk;
      abs += wk * std::fabs(pred_[k] - truth_[k]);
      mt += wk * truth_[k];
      mp += wk * pred_[k];
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (W == 0) {
      out[first_] = out[first_ + 1] = nan;
      return;
    }
    mt /= W;
    mp /= W;
    double stt = 0, spp = 0, stp = 0;
    for (size_t k = 0; k < rows_.size(); ++k) {
      const double wk = w[rows_[k]], dt = truth_[k] - mt, dp = pred_[k] - mp;
      stt += wk * dt * dt;
      spp += wk * dp * dp;
      stp += wk * dt * dp;
    }
    out[first_] = abs / W;
    out[first_ + 1] = stt > 0 && spp > 0 ? stp / std::sqrt(stt * spp) : nan;
  }
  size_t first() const { return first_; }

 private:
  size_t first_;
  bool present_ = false;
  std::vector<size_t> rows_;
  std::vector<double> truth_, pred_;
};

// Estimate + percentile (or BCa) interval of extra column c, with the reason when the
// interval is undefined.
json extra_json(const BootstrapResult& b, size_t c, bool bca) {
  json j = estimate_json(b.extra_estimate[c], bca ? b.extra_bca[c] : b.extra_percentile[c]);
  if (j["ci"].is_null() && b.extra_undefined[c] > 0)
    j["ci_reason"] = "undefined in " + std::to_string(b.extra_undefined[c]) + " of " + std::to_string(b.valid) +
                     " valid bootstrap replicates (empty denominator)";
  return j;
}

json rate_json(const Proportion& p, const BootstrapResult& b, int column, bool bca) {
  json j = wilson_json(p);
  const json boot = extra_json(b, static_cast<size_t>(column), bca);
  j["ci"] = boot["ci"];
  if (boot.contains("ci_reason")) j["ci_reason"] = boot["ci_reason"];
  return j;
}

json at_threshold_json(const EndpointColumns& cols, int rule, double threshold, const BootstrapResult& b, bool bca,
                       double conf_level) {
  const ConfusionCounts c = counts_at(cols.data(), threshold);
  const Proportion sens = wilson(c.tp, c.tp + c.fn, conf_level), spec = wilson(c.tn, c.tn + c.fp, conf_level);
  const Proportion ppv = wilson(c.tp, c.tp + c.fp, conf_level), npv = wilson(c.tn, c.tn + c.fn, conf_level);
  const int col = cols.rule_column(rule);
  json j = {{"threshold", threshold},
            {"tp", c.tp},
            {"fp", c.fp},
            {"tn", c.tn},
            {"fn", c.fn},
            {"sensitivity", rate_json(sens, b, col, bca)},
            {"specificity", rate_json(spec, b, col + 1, bca)},
            {"ppv", rate_json(ppv, b, col + 2, bca)},
            {"npv", rate_json(npv, b, col + 3, bca)}};
  const double s = sens.estimate, p = spec.estimate;
  j["lr_pos"] = sens.defined() && spec.defined() && 1.0 - p != 0 ? json(s / (1.0 - p)) : json(nullptr);
  j["lr_neg"] = sens.defined() && spec.defined() && p != 0 ? json((1.0 - s) / p) : json(nullptr);
  j["balanced_accuracy"] = sens.defined() && spec.defined() ? json((s + p) / 2) : json(nullptr);
  return j;
}

json calibration_json(const Calibration& c, const EndpointColumns& cols, const BootstrapResult& b, bool bca) {
  json j;
  j["brier"] = extra_json(b, static_cast<size_t>(cols.brier_column()), bca);
  j["ece_10"] = extra_json(b, static_cast<size_t>(cols.ece_column()), bca);
  j["intercept"] = number_or_null(c.intercept);
  if (!c.intercept_reason.empty()) j["intercept_reason"] = c.intercept_reason;
  j["slope"] = number_or_null(c.slope);
  if (!c.slope_reason.empty()) j["slope_reason"] = c.slope_reason;
  // Intervals on the same resamples as every other metric.
  for (const auto& [key, column] : {std::make_pair("intercept", cols.intercept_column()),
                                    std::make_pair("slope", cols.slope_column())}) {
    if (j[key].is_null()) continue;
    const json e = extra_json(b, static_cast<size_t>(column), bca);
    j[std::string(key) + "_ci"] = e["ci"];
    if (e.contains("ci_reason"))
      j[std::string(key) + "_ci_reason"] = "the fit does not exist (one outcome, or separation) in " +
                                          std::to_string(b.extra_undefined[column]) + " of " + std::to_string(b.valid) +
                                          " valid bootstrap replicates";
  }
  j["bins"] = json::array();
  for (const auto& bin : c.bins)
    j["bins"].push_back({{"lower", bin.lower},
                         {"upper", bin.upper},
                         {"n", bin.n},
                         {"mean_predicted", number_or_null(bin.mean_predicted)},
                         {"observed", number_or_null(bin.observed)}});
  return j;
}

// Images of each value of the --by column, in value order.
std::map<std::string, std::vector<size_t>> groups_of(const Predictions& p, const std::string& by) {
  std::map<std::string, std::vector<size_t>> groups;
  if (by.empty()) return groups;
  int col = -1;
  std::string have;
  for (size_t c = 0; c < p.extra_header.size(); ++c) {
    if (p.extra_header[c] == by) col = static_cast<int>(c);
    have += (have.empty() ? "" : ", ") + p.extra_header[c];
  }
  if (col < 0)
    throw InputError(p.source + ": --by column '" + by + "' is not in the file (its extra columns: " +
                     (have.empty() ? "none" : have) + ")");
  for (size_t i = 0; i < p.size(); ++i) {
    const std::string& v = p.extra[i][col];
    groups[v.empty() ? "(missing)" : v].push_back(i);
  }
  return groups;
}

ScoredSet subset(const ScoredSet& s, const std::vector<size_t>& rows) {
  ScoredSet out;
  for (size_t i : rows) {
    out.label.push_back(s.label[i]);
    out.score.push_back(s.score[i]);
  }
  return out;
}

// Why intervals from a handful of cases or controls are not to be trusted; "" when there
// are enough of both.
std::string few_cases_note(size_t cases, size_t controls) {
  if (cases >= kFewCasesForInterval && controls >= kFewCasesForInterval) return "";
  return std::to_string(cases) + " positives and " + std::to_string(controls) +
         " negatives: intervals from fewer than " + std::to_string(kFewCasesForInterval) +
         " of either are unreliable (a bootstrap interval can be [1, 1] with one positive)";
}

// Each --by group of one endpoint: its AUC, and sensitivity and specificity at the
// validation Youden threshold, each with its interval from the study's (clustered) resamples.
json group_json(const EndpointColumns& cols, const std::vector<std::string>& names,
                const std::vector<std::vector<size_t>>& rows, const BootstrapResult& boot, bool bca) {
  json out = json::object();
  const BinarySet& d = cols.data();
  for (size_t g = 0; g < names.size(); ++g) {
    size_t pos = 0;
    for (size_t i : rows[g]) pos += d.positive[i];
    json gj = {{"n", rows[g].size()}, {"n_positive", pos}};
    const size_t c = static_cast<size_t>(cols.group_column(g));
    if (pos == 0 || pos == rows[g].size()) {
      gj["auc"] = nullptr;
      gj["auc_reason"] = "one class only in this group";
    } else {
      const json a = extra_json(boot, c, bca);
      gj["auc"] = a["estimate"];
      gj["auc_ci"] = a["ci"];
      if (a.contains("ci_reason")) gj["auc_ci_reason"] = a["ci_reason"];
    }
    if (cols.rule_column(kYouden) >= 0) {
      gj["sensitivity_youden"] = extra_json(boot, c + 1, bca);
      gj["specificity_youden"] = extra_json(boot, c + 2, bca);
    }
    if (const std::string few = few_cases_note(pos, rows[g].size() - pos); !few.empty()) gj["few_cases"] = few;
    out[names[g]] = gj;
  }
  return out;
}

// AUC(group a) - AUC(group b) for every pair of groups, paired on the same resamples.
json group_differences_json(const EndpointColumns& cols, const std::vector<std::string>& names,
                            const BootstrapResult& boot, bool bca) {
  if (cols.pair_column(0, 1) < 0)
    return "more than " + std::to_string(EndpointColumns::kMaxGroupsForPairs) +
           " groups: no pairwise differences (each group's AUC has its interval)";
  json out = json::array();
  for (size_t a = 0; a < names.size(); ++a)
    for (size_t b = a + 1; b < names.size(); ++b) {
      const size_t c = static_cast<size_t>(cols.pair_column(a, b));
      json e = extra_json(boot, c, bca);
      json row = {{"a", names[a]}, {"b", names[b]}, {"auc_difference", e["estimate"]}, {"ci", e["ci"]}};
      row["p"] = number_or_null(boot.extra_difference_p[c]);
      if (boot.extra_difference_p_is_bound[c]) row["p_is_bound"] = kBoundPText;
      if (e.contains("ci_reason")) row["ci_reason"] = e["ci_reason"];
      out.push_back(row);
    }
  return out;
}

// Per class: DeLong's variance and Wald interval (pROC), every image independent, and with
// patients that have several images Obuchowski's clustered variance beside it, its Wald
// interval clipped to [0, 1].
json delong_json(const Predictions& p, const std::vector<uint32_t>& clusters, size_t n_patients, double conf_level) {
  json out;
  for (int k = 0; k < kNumClasses; ++k) {
    const DeLongResult d = delong(class_scores(p.scored, k), class_positives(p.scored.label, k), conf_level,
                                  p.source + ": " + kClassNames[k]);
    json& dj = out[kClassNames[k]];
    dj = {{"auc", d.auc},         {"variance", d.variance},      {"se", d.se},
          {"ci", {d.lower, d.upper}}, {"n_cases", d.n_cases}, {"n_controls", d.n_controls}};
    if (n_patients < p.size()) {
      const AucComponents c{d.auc, d.v10, d.v01};  // DeLong's placements, clustered
      const double var = auc_covariance(c, c, class_positives(p.scored.label, k), clusters, n_patients);
      const double z = normal_quantile(0.5 + conf_level / 2.0), se = std::sqrt(std::max(0.0, var));
      dj["obuchowski"] = {{"variance", var},
                          {"se", se},
                          {"ci", {std::clamp(c.auc - z * se, 0.0, 1.0), std::clamp(c.auc + z * se, 0.0, 1.0)}},
                          {"patients", n_patients}};
    }
  }
  return out;
}

// One endpoint's block: its AUC, the validation thresholds and the operating points there,
// calibration, the decision curve, and the subgroups of --by.
json endpoint_json(int e, const EndpointColumns& cols, const ThresholdChoice& choice, const Predictions* val,
                   const BootstrapResult& boot, const EvalOptions& opt, const std::vector<double>& dca_t,
                   const std::vector<std::string>& group_names, const std::vector<std::vector<size_t>>& group_rows,
                   const json& validation_reason) {
  const bool bca = opt.ci == "bca";
  const BinarySet& d = cols.data();
  json ep;
  ep["definition"] = e == kOsteoporosisVsRest ? "positive = osteoporosis; score = p_osteoporosis"
                                              : "positive = osteopenia or osteoporosis; score = 1 - p_normal";
  ep["n"] = d.size();
  ep["n_positive"] = d.positives();
  ep["prevalence"] = static_cast<double>(d.positives()) / d.size();
  ep["auc"] = e == kOsteoporosisVsRest
                  ? estimate_json(boot.estimate[kAucOsteoporosisVsRest],
                                  bca ? boot.bca[kAucOsteoporosisVsRest] : boot.percentile[kAucOsteoporosisVsRest])
                  : extra_json(boot, static_cast<size_t>(cols.auc_column()), bca);
  if (val && choice.reason.empty()) {
    json t = {{"chosen_on", "validation"}, {"validation_source", val->source}};
    json at;
    for (int r = 0; r < kNumRules; ++r) {
      const auto& th = choice.threshold[r];
      t[rule_key(r)] = th ? json(*th) : json(nullptr);
      if (th) {
        t["validation_operating_point"][rule_key(r)] = {{"sensitivity", choice.val_sensitivity[r]},
                                                        {"specificity", choice.val_specificity[r]}};
        at[rule_key(r)] = at_threshold_json(cols, r, *th, boot, bca, opt.conf_level);
      } else {
        at[rule_key(r)] = nullptr;
        t[std::string(rule_key(r)) + "_reason"] = "no validation threshold reaches specificity >= 0.90";
      }
    }
    ep["thresholds"] = t;
    ep["at_threshold"] = at;
  } else {
    ep["thresholds"] = nullptr;
    ep["thresholds_reason"] = val ? json(choice.reason) : validation_reason;
  }
  ep["calibration"] = calibration_json(cols.calibration(), cols, boot, bca);
  const DecisionCurve dc = decision_curve(d, dca_t);
  ep["decision_curve"] = {{"thresholds", dc.thresholds},
                          {"net_benefit", dc.net_benefit},
                          {"treat_all", dc.treat_all},
                          {"treat_none", "0 at every threshold"}};
  if (!opt.by.empty()) ep["by_group"] = group_json(cols, group_names, group_rows, boot, bca);
  if (!opt.by.empty() && group_rows.size() > 1)
    ep["by_group_differences"] = group_differences_json(cols, group_names, boot, bca);
  if (const std::string few = few_cases_note(d.positives(), d.size() - d.positives()); !few.empty())
    ep["few_cases"] = few;
  return ep;
}

// The three-class statistics beside the endpoints: Brier score, weighted kappas, and the
// macro AUC of each --by group.
json multiclass_json(const Predictions& p, const std::map<std::string, std::vector<size_t>>& groups,
                     const std::string& by) {
  json mc;
  std::vector<int> predicted(p.size());
  for (size_t i = 0; i < p.size(); ++i) predicted[i] = predicted_class(p.scored.score[i]);
  mc["brier"] = multiclass_brier(p.scored);
  mc["kappa_quadratic"] = number_or_null(weighted_kappa(p.scored.label, predicted, true));
  mc["kappa_linear"] = number_or_null(weighted_kappa(p.scored.label, predicted, false));
  if (!by.empty()) {
    for (const auto& [g, rows] : groups) {
      const double a = auc_macro(subset(p.scored, rows));
      mc["auc_macro_by_group"][g] = number_or_null(a);
      if (std::isnan(a)) mc["auc_macro_by_group_reasons"][g] = "a class is absent in this group";
    }
  }
  return mc;
}

}  // namespace

json evaluate(const Predictions& p, const Predictions* val, const EvalOptions& opt) {
  if (opt.ci != "percentile" && opt.ci != "bca") throw InputError("--ci must be percentile or bca, not '" + opt.ci + "'");
  if (opt.replicates < 1) throw InputError("--bootstrap must be at least 1");
  for (double t : opt.decision_thresholds)
    if (!(t > 0 && t < 1)) throw InputError("--decision-thresholds: " + format_double(t) + " is not in (0, 1)");
  MetricEngine engine(p.scored);
  require_all_classes(engine, p.source);
  if (val) check_disjoint_splits(p, *val);
  const auto groups = groups_of(p, opt.by);
  std::vector<std::string> group_names;
  std::vector<std::vector<size_t>> group_rows;
  for (const auto& [g, rows] : groups) {
    group_names.push_back(g);
    group_rows.push_back(rows);
  }
  const bool bca = opt.ci == "bca";

  // Thresholds from validation, and the endpoint statistics the bootstrap resamples.
  ThresholdChoice choice[kNumEndpoints];
  std::vector<EndpointColumns> endpoint_cols;
  size_t columns = 0;
  for (int e = 0; e < kNumEndpoints; ++e) {
    if (val) choice[e] = choose_thresholds(endpoint_set(val->scored, e));
    endpoint_cols.emplace_back(e, p.scored, choice[e], group_rows, columns);
    columns = endpoint_cols.back().end();
  }
  const TscoreColumns tscore(p, columns);
  columns = tscore.end();
  ExtraStatistics extra;
  extra.count = columns;
  extra.compute = [&](const uint32_t* w, double* row) {
    for (const auto& c : endpoint_cols) c.compute(w, row);
    tscore.compute(w, row);
  };
  for (const auto& c : endpoint_cols)
    for (size_t a = 0; a < group_rows.size(); ++a)
      for (size_t b = a + 1; b < group_rows.size(); ++b)
        if (c.pair_column(a, b) >= 0) extra.differences.push_back(static_cast<size_t>(c.pair_column(a, b)));

  size_t n_patients = 0;
  const std::vector<uint32_t> clusters = cluster_index(p.patient_id, &n_patients);
  BootstrapOptions bo;
  bo.replicates = opt.replicates;
  bo.seed = opt.seed;
  bo.conf_level = opt.conf_level;
  bo.threads = opt.threads;
  bo.bca = bca;
  const BootstrapResult boot =
      bootstrap(engine, opt.cluster ? clusters : std::vector<uint32_t>{}, n_patients, bo, extra);

  json j;
  j["n"] = p.size();
  j["n_patients"] = n_patients;
  j["source"] = p.source;
  if (!opt.by.empty()) j["by"] = opt.by;  // the column of by_group and auc_macro_by_group
  j["bootstrap"] = {{"replicates", opt.replicates},
                    {"valid_replicates", boot.valid},
                    {"invalid_replicates", boot.replicates - boot.valid},
                    {"method", opt.ci},
                    {"clustered", opt.cluster},
                    {"resample_unit", boot.unit},
                    {"units", boot.n_units},
                    {"patients_repeat", n_patients < p.size()},
                    {"stratified", false},
                    {"conf_level", opt.conf_level},
                    {"seed", opt.seed}};
  const auto counts = engine.class_counts();
  for (int k = 0; k < kNumClasses; ++k) j["class_counts"][kClassNames[k]] = counts[k];
  for (int m = 0; m < kNumMetrics; ++m)
    put_path(j, metric_key(m), estimate_json(boot.estimate[m], bca ? boot.bca[m] : boot.percentile[m]));
  j["sensitivity"]["definition"] = j["specificity"]["definition"] =
      "one-vs-rest at the argmax class (no threshold); see endpoints for validation-chosen thresholds";
  const auto conf = engine.confusion();
  j["confusion"] = json::array();
  for (const auto& row : conf) j["confusion"].push_back(row);
  j["argmax_ties"] = engine.argmax_ties();
  j["delong"] = delong_json(p, clusters, n_patients, opt.conf_level);
  j["delong_definition"] = "DeLong's variance and Wald interval per class (pROC), every image independent; with "
                           "repeated patients 'obuchowski' gives the clustered variance beside it";

  // Where the thresholds come from.
  if (val) j["validation"] = {{"source", val->source}, {"n", val->size()}};
  else {
    j["validation"] = nullptr;
    j["validation_reason"] = opt.no_validation_reason.empty()
                                 ? "no validation predictions given (--val): thresholds are chosen on validation "
                                   "only, never on the test split, so no threshold metrics are reported"
                                 : opt.no_validation_reason;
  }
  const std::vector<double> dca_t = opt.decision_thresholds.empty() ? default_decision_thresholds()
                                                                    : opt.decision_thresholds;
  const json validation_reason = val ? json() : j.at("validation_reason");
  for (int e = 0; e < kNumEndpoints; ++e)
    j["endpoints"][endpoint_key(e)] =
        endpoint_json(e, endpoint_cols[e], choice[e], val, boot, opt, dca_t, group_names, group_rows, validation_reason);

  j["multiclass"] = multiclass_json(p, groups, opt.by);
  if (tscore.present())
    j["t_score"] = {{"definition", "predicted T-score (t_score_pred, the tscore head's mean) against the DXA t_score, "
                                   "over the images that have one"},
                    {"n", tscore.n()},
                    {"mae", extra_json(boot, tscore.first(), bca)},
                    {"pearson_r", extra_json(boot, tscore.first() + 1, bca)}};
  return j;
}

}  // namespace osteofm
