#include "eval/transport.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/numbers.hpp"
#include "eval/metrics.hpp"
#include "eval/screening.hpp"

namespace osteofm {
using nlohmann::json;

namespace {
constexpr double kScoreClip = 1e-6;  // as screening's calibration fits

double clipped_logit(double s) {
  const double p = std::clamp(s, kScoreClip, 1.0 - kScoreClip);
  return std::log(p / (1.0 - p));
}
double expit(double x) { return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x)); }
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Solves A x = b (p x p, symmetric positive definite) by Gaussian elimination with partial
// pivoting; false when singular.
bool solve(std::vector<std::vector<double>> A, std::vector<double> b, std::vector<double>* x) {
  const size_t p = b.size();
  for (size_t c = 0; c < p; ++c) {
    size_t piv = c;
    for (size_t r = c + 1; r < p; ++r)
      if (std::fabs(A[r][c]) > std::fabs(A[piv][c])) piv = r;
    if (!(std::fabs(A[piv][c]) > 1e-300)) return false;
    std::swap(A[c], A[piv]);
    std::swap(b[c], b[piv]);
    for (size_t r = c + 1; r < p; ++r) {
      const double f = A[r][c] / A[c][c];
      for (size_t k = c; k < p; ++k) A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  x->assign(p, 0);
  for (size_t c = p; c-- > 0;) {
    double s = b[c];
    for (size_t k = c + 1; k < p; ++k) s -= A[c][k] * (*x)[k];
    (*x)[c] = s / A[c][c];
  }
  return std::all_of(x->begin(), x->end(), [](double v) { return std::isfinite(v); });
}

// A column of passed-through values as numbers (check_transport has proven they parse).
std::vector<double> column_values(const Predictions& p, const std::string& column) {
  const auto it = std::find(p.extra_header.begin(), p.extra_header.end(), column);
  const size_t c = static_cast<size_t>(it - p.extra_header.begin());
  std::vector<double> v;
  for (const auto& row : p.extra) v.push_back(*parse_number(row[c]));
  return v;
}

json proportion_json(const Proportion& p) {
  if (!p.defined()) return {{"estimate", nullptr}, {"wilson", nullptr}};
  return {{"estimate", p.estimate}, {"wilson", {p.lower, p.upper}}};
}

// The at_threshold keys of ../screening at a threshold given in advance.
json fixed_threshold_json(const BinarySet& d, double t) {
  const ConfusionCounts c = counts_at(d, t);
  const Proportion sens = wilson(c.tp, c.tp + c.fn), spec = wilson(c.tn, c.tn + c.fp);
  const Proportion ppv = wilson(c.tp, c.tp + c.fp), npv = wilson(c.tn, c.tn + c.fn);
  json j = {{"threshold", t},
            {"given", "fixed in advance (--threshold), not chosen on these data"},
            {"tp", c.tp},
            {"fp", c.fp},
            {"tn", c.tn},
            {"fn", c.fn},
            {"sensitivity", proportion_json(sens)},
            {"specificity", proportion_json(spec)},
            {"ppv", proportion_json(ppv)},
            {"npv", proportion_json(npv)}};
  const bool both = sens.defined() && spec.defined();
  j["lr_pos"] = both && spec.estimate < 1 ? json(sens.estimate / (1 - spec.estimate)) : json(nullptr);
  j["lr_neg"] = both && spec.estimate > 0 ? json((1 - sens.estimate) / spec.estimate) : json(nullptr);
  j["balanced_accuracy"] = both ? json((sens.estimate + spec.estimate) / 2) : json(nullptr);
  return j;
}

// Brier, calibration intercept and slope, ECE over 10 bins of a binary set.
json calibration_values(const BinarySet& d) {
  const Calibration c = calibration(d);
  double brier = 0, ece = 0;
  for (size_t i = 0; i < d.size(); ++i) brier += (d.score[i] - d.positive[i]) * (d.score[i] - d.positive[i]);
  for (const auto& b : c.bins)
    if (b.n > 0) ece += static_cast<double>(b.n) / d.size() * std::fabs(b.observed - b.mean_predicted);
  json j = {{"brier", brier / d.size()}, {"intercept", num(c.intercept)}, {"slope", num(c.slope)}, {"ece_10", ece}};
  j["bins"] = json::array();  // the reliability diagram's points, as evaluate's calibration has them
  for (const auto& b : c.bins)
    j["bins"].push_back({{"lower", b.lower}, {"upper", b.upper}, {"n", b.n}, {"mean_predicted", num(b.mean_predicted)},
                         {"observed", num(b.observed)}});
  if (!c.slope_reason.empty()) j["slope_reason"] = c.slope_reason;
  if (!c.intercept_reason.empty()) j["intercept_reason"] = c.intercept_reason;
  return j;
}

// A paired difference over the test patients' resamples, its CI and p (difference_test).
json paired_difference(double estimate, const std::function<double(const uint32_t*)>& diff, size_t n,
                       const std::vector<uint32_t>& clusters, size_t n_units, const BootstrapOptions& b) {
  std::vector<double> d;
  std::vector<uint32_t> w(n), draws, unit_counts;
  for (int r = 0; r < b.replicates; ++r) {
    replicate_weights(b.seed, static_cast<size_t>(r), clusters, n_units, n, w.data(), draws, unit_counts);
    const double v = diff(w.data());
    if (std::isfinite(v)) d.push_back(v);
  }
  json j = {{"estimate", num(estimate)}, {"ci", nullptr}, {"p", nullptr}, {"replicates", b.replicates},
            {"valid_replicates", d.size()}};
  if (d.empty() || !std::isfinite(estimate)) return j;
  const DifferenceTest t = difference_test(std::move(d), b.conf_level);
  j["ci"] = {t.ci.lower, t.ci.upper};
  j["p"] = t.p;
  if (t.p_is_bound) j["p_is_bound"] = kBoundPText;
  return j;
}

}  // namespace

std::pair<int, double> parse_fixed_threshold(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos)
    throw InputError("--threshold '" + spec + "': expected ENDPOINT=T, e.g. osteoporosis_vs_rest=0.2");
  const std::string name = spec.substr(0, eq);
  int endpoint = -1;
  for (int e = 0; e < kNumEndpoints; ++e)
    if (name == endpoint_key(e)) endpoint = e;
  if (endpoint < 0)
    throw InputError("--threshold '" + spec + "': unknown endpoint '" + name + "' (osteoporosis_vs_rest or low_bmd_vs_normal)");
  const auto t = parse_number(spec.substr(eq + 1));
  if (!t || !(*t >= 0 && *t <= 1)) throw InputError("--threshold '" + spec + "': the threshold must be a number in [0, 1]");
  return {endpoint, *t};
}

void check_transport(const Predictions& test, const Predictions* val, const TransportOptions& o) {
  if (o.prevalence && !(*o.prevalence > 0 && *o.prevalence < 1))
    throw InputError("--prevalence must be in (0, 1), not " + format_double(*o.prevalence));
  auto need_val = [&](const char* flag) {
    if (!val) throw InputError(std::string(flag) + " needs validation predictions (--val): it is fitted or chosen there");
  };
  if (o.recalibrate) need_val("--recalibrate");
  if (o.prevalence) need_val("--prevalence");
  if (!o.baseline_columns.empty()) need_val("--baseline");
  for (const auto& column : o.baseline_columns) {
    for (const Predictions* p : {&test, val}) {
      const auto it = std::find(p->extra_header.begin(), p->extra_header.end(), column);
      if (it == p->extra_header.end())
        throw InputError(p->source + ": no column '" + column + "' for --baseline (passed-through columns: " +
                         (p->extra_header.empty() ? std::string("none") : [&] {
                           std::string s;
                           for (const auto& h : p->extra_header) s += (s.empty() ? "" : ", ") + h;
                           return s;
                         }()) + ")");
      const size_t c = static_cast<size_t>(it - p->extra_header.begin());
      for (size_t r = 0; r < p->extra.size(); ++r) {
        const auto v = parse_number(r < p->extra.size() && c < p->extra[r].size() ? p->extra[r][c] : "");
        if (!v || !std::isfinite(*v))
          throw InputError(p->source + ": row " + std::to_string(r + 1) + " (" + p->image_id[r] + "): column '" + column +
                           "' is '" + (c < p->extra[r].size() ? p->extra[r][c] : "") + "', not a number (--baseline)");
      }
    }
    const std::vector<double> v = column_values(*val, column);
    if (std::all_of(v.begin(), v.end(), [&](double x) { return x == v.front(); }))
      throw InputError(val->source + ": column '" + column + "' is constant in the validation predictions: a baseline "
                       "model cannot use it (--baseline)");
  }
}

std::optional<std::vector<double>> fit_logistic_regression(const std::vector<std::vector<double>>& X,
                                                           const std::vector<uint8_t>& y, std::string* reason) {
  const size_t n = X.size(), p = n ? X[0].size() : 0;
  size_t pos = 0;
  for (uint8_t v : y) pos += v != 0;
  if (n == 0 || pos == 0 || pos == n) {
    *reason = "one outcome only: the logistic model has no maximum";
    return std::nullopt;
  }
  // Standardised columns (the MLE is equivariant; the Newton steps are better conditioned).
  std::vector<double> mean(p, 0), sd(p, 1);
  for (size_t j = 1; j < p; ++j) {
    for (size_t i = 0; i < n; ++i) mean[j] += X[i][j];
    mean[j] /= n;
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += (X[i][j] - mean[j]) * (X[i][j] - mean[j]);
    sd[j] = std::sqrt(ss / n);
    if (!(sd[j] > 0)) {
      *reason = "a covariate is constant: its coefficient is not identified";
      return std::nullopt;
    }
  }
  std::vector<std::vector<double>> Z(n, std::vector<double>(p, 1.0));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 1; j < p; ++j) Z[i][j] = (X[i][j] - mean[j]) / sd[j];
  auto loglik = [&](const std::vector<double>& b) {
    double ll = 0;
    for (size_t i = 0; i < n; ++i) {
      double eta = 0;
      for (size_t j = 0; j < p; ++j) eta += b[j] * Z[i][j];
      const double log1pexp = eta > 0 ? eta + std::log1p(std::exp(-eta)) : std::log1p(std::exp(eta));
      ll += y[i] ? eta - log1pexp : -log1pexp;
    }
    return ll;
  };
  std::vector<double> b(p, 0.0);
  double ll = loglik(b);
  bool converged = false;
  for (int it = 0; it < 300 && !converged; ++it) {
    std::vector<double> g(p, 0.0);
    std::vector<std::vector<double>> H(p, std::vector<double>(p, 0.0));
    for (size_t i = 0; i < n; ++i) {
      double eta = 0;
      for (size_t j = 0; j < p; ++j) eta += b[j] * Z[i][j];
      const double pr = expit(eta), r = y[i] - pr, v = pr * (1 - pr);
      for (size_t j = 0; j < p; ++j) {
        g[j] += r * Z[i][j];
        for (size_t k = 0; k < p; ++k) H[j][k] += v * Z[i][j] * Z[i][k];
      }
    }
    std::vector<double> step;
    if (!solve(H, g, &step)) break;
    double scale = 1.0;
    std::vector<double> next(p);
    double nll = 0;
    for (;;) {
      for (size_t j = 0; j < p; ++j) next[j] = b[j] + scale * step[j];
      nll = loglik(next);
      if (nll >= ll - 1e-12 * std::fabs(ll) || scale < 1e-10) break;
      scale *= 0.5;
    }
    double change = 0;
    for (size_t j = 0; j < p; ++j) change = std::max(change, std::fabs(next[j] - b[j]) / std::max(1.0, std::fabs(b[j])));
    b = next;
    ll = nll;
    converged = change <= 1e-13;
  }
  // Separation: the likelihood climbs towards 0 with ever larger coefficients.
  double largest = 0;
  for (double v : b) largest = std::max(largest, std::fabs(v));
  if (!converged || largest > 30 || ll > -1e-6) {
    *reason = "the covariates separate the outcomes perfectly (or nearly): the maximum-likelihood estimate does not exist";
    return std::nullopt;
  }
  std::vector<double> out(p);
  out[0] = b[0];
  for (size_t j = 1; j < p; ++j) {
    out[j] = b[j] / sd[j];
    out[0] -= b[j] * mean[j] / sd[j];
  }
  return out;
}

namespace {

// endpoints.<e>.recalibration and .recalibrated: logistic recalibration fitted on
// validation, applied to the test scores (calibration and decision curve after it).
void add_recalibration(json& ep, const BinarySet& t, const BinarySet& v) {
  std::vector<std::vector<double>> X;
  for (double s : v.score) X.push_back({1.0, clipped_logit(s)});
  std::string why;
  const auto ab = fit_logistic_regression(X, v.positive, &why);
  if (!ab) {
    ep["recalibration"] = {{"method", "logistic"}, {"intercept", nullptr}, {"slope", nullptr}, {"reason", why}};
    ep["recalibrated"] = nullptr;
    ep["recalibrated_reason"] = "no recalibration: " + why;
  } else {
    ep["recalibration"] = {{"method", "logistic"},
                           {"fitted_on", "validation"},
                           {"intercept", (*ab)[0]},
                           {"slope", (*ab)[1]},
                           {"definition", "logit P(y=1) = intercept + slope * logit(s), s clipped to [1e-6, 1-1e-6]"}};
    BinarySet r = t;
    for (double& s : r.score) s = expit((*ab)[0] + (*ab)[1] * clipped_logit(s));
    ep["recalibrated"] = calibration_values(r);
    ep["recalibrated"]["before"] = calibration_values(t);
    ep["recalibrated"]["before"].erase("bins");  // evaluate's calibration has them
    // The decision curve after recalibration, at evaluate's thresholds (a recalibration
    // moves which images cross each threshold probability).
    if (ep.contains("decision_curve") && ep["decision_curve"].contains("thresholds")) {
      const DecisionCurve dc = decision_curve(r, ep["decision_curve"]["thresholds"].get<std::vector<double>>());
      ep["recalibrated"]["decision_curve"] = {{"thresholds", dc.thresholds}, {"net_benefit", dc.net_benefit}};
    }
  }
}

// endpoints.<e>.at_prevalence: PPV and NPV at the target setting's prevalence by Bayes, at
// the validation Youden threshold.
void add_at_prevalence(json& ep, const BinarySet& t, const BinarySet& v, double pi) {
  const ThresholdChoice choice = choose_thresholds(v);
  json ap = {{"prevalence", pi}, {"rule", "youden"}};
  if (!choice.reason.empty() || !choice.threshold[kYouden]) {
    ap["threshold"] = nullptr;
    ap["ppv"] = ap["npv"] = nullptr;
    ap["reason"] = choice.reason.empty() ? "no Youden threshold on validation" : choice.reason;
  } else {
    const double th = *choice.threshold[kYouden];
    const ConfusionCounts c = counts_at(t, th);
    const double sens = c.tp + c.fn > 0 ? static_cast<double>(c.tp) / (c.tp + c.fn) : kNaN;
    const double spec = c.tn + c.fp > 0 ? static_cast<double>(c.tn) / (c.tn + c.fp) : kNaN;
    const double ppv_den = sens * pi + (1 - spec) * (1 - pi), npv_den = spec * (1 - pi) + (1 - sens) * pi;
    ap["threshold"] = th;
    ap["test_sensitivity"] = num(sens);
    ap["test_specificity"] = num(spec);
    ap["ppv"] = ppv_den > 0 ? num(sens * pi / ppv_den) : json(nullptr);
    ap["npv"] = npv_den > 0 ? num(spec * (1 - pi) / npv_den) : json(nullptr);
    ap["definition"] = "Bayes: PPV = sens pi / (sens pi + (1 - spec)(1 - pi)), NPV = spec (1 - pi) / (spec (1 - pi) "
                       "+ (1 - sens) pi), with the test sensitivity and specificity at the validation Youden threshold";
  }
  ep["at_prevalence"] = ap;
}

// endpoints.<e>.baseline: a clinical baseline (logistic regression of the given columns,
// fitted on validation) against the model, and model + baseline against the baseline, on
// the test split with paired bootstrap differences.
void add_baseline(json& ep, const BinarySet& t, const BinarySet& v, const Predictions& test, const Predictions* val,
                  const TransportOptions& o, const std::vector<uint32_t>& clusters, size_t n_units) {
  std::vector<std::vector<double>> cov_val(v.size(), std::vector<double>{}), cov_test(t.size(), std::vector<double>{});
  for (const auto& column : o.baseline_columns) {
    const std::vector<double> a = column_values(*val, column), b = column_values(test, column);
    for (size_t i = 0; i < a.size(); ++i) cov_val[i].push_back(a[i]);
    for (size_t i = 0; i < b.size(); ++i) cov_test[i].push_back(b[i]);
  }
  auto design = [&](const std::vector<std::vector<double>>& cov, const BinarySet* with_model) {
    std::vector<std::vector<double>> X;
    for (size_t i = 0; i < cov.size(); ++i) {
      std::vector<double> row = {1.0};
      if (with_model) row.push_back(clipped_logit(with_model->score[i]));
      row.insert(row.end(), cov[i].begin(), cov[i].end());
      X.push_back(row);
    }
    return X;
  };
  auto linear = [](const std::vector<std::vector<double>>& X, const std::vector<double>& coef) {
    std::vector<double> eta;
    for (const auto& row : X) {
      double s = 0;
      for (size_t j = 0; j < row.size(); ++j) s += coef[j] * row[j];
      eta.push_back(s);
    }
    return eta;
  };
  json bl = {{"columns", o.baseline_columns}, {"fitted_on", "validation"}, {"model", "logistic, maximum likelihood"}};
  std::string why_base, why_comb;
  const auto base = fit_logistic_regression(design(cov_val, nullptr), v.positive, &why_base);
  const auto comb = fit_logistic_regression(design(cov_val, &v), v.positive, &why_comb);
  const RankedProblem model_rank(t.score, t.positive);
  const double model_auc = model_rank.auc();
  if (!base) {
    bl["coefficients"] = nullptr;
    bl["reason"] = why_base;
  } else {
    json coef = {{"const", (*base)[0]}};
    for (size_t j = 0; j < o.baseline_columns.size(); ++j) coef[o.baseline_columns[j]] = (*base)[j + 1];
    bl["coefficients"] = coef;
    const RankedProblem base_rank(linear(design(cov_test, nullptr), *base), t.positive);
    bl["auc"] = num(base_rank.auc());
    bl["model_minus_baseline"] = paired_difference(
        model_auc - base_rank.auc(), [&](const uint32_t* w) { return model_rank.auc(w) - base_rank.auc(w); },
        t.size(), clusters, n_units, o.bootstrap);
    if (comb) {
      json cc = {{"const", (*comb)[0]}, {"model_logit", (*comb)[1]}};
      for (size_t j = 0; j < o.baseline_columns.size(); ++j) cc[o.baseline_columns[j]] = (*comb)[j + 2];
      bl["combined_coefficients"] = cc;
      const RankedProblem comb_rank(linear(design(cov_test, &t), *comb), t.positive);
      bl["combined_auc"] = num(comb_rank.auc());
      bl["combined_minus_baseline"] = paired_difference(
          comb_rank.auc() - base_rank.auc(), [&](const uint32_t* w) { return comb_rank.auc(w) - base_rank.auc(w); },
          t.size(), clusters, n_units, o.bootstrap);
    } else {
      bl["combined_coefficients"] = nullptr;
      bl["combined_reason"] = why_comb;
    }
  }
  bl["differences"] = "test AUC differences with a paired " + std::string(o.cluster ? "patient-clustered " : "") +
                      "percentile bootstrap CI and two-sided bootstrap p (same resamples for both AUCs)";
  ep["baseline"] = bl;
}

}  // namespace

void add_transport(json& metrics, const Predictions& test, const Predictions* val, const TransportOptions& o) {
  check_transport(test, val, o);
  size_t n_units = 0;
  const std::vector<uint32_t> patients = cluster_index(test.patient_id, &n_units);
  const std::vector<uint32_t> clusters = o.cluster ? patients : std::vector<uint32_t>();
  for (int e = 0; e < kNumEndpoints; ++e) {
    json& ep = metrics["endpoints"][endpoint_key(e)];
    const BinarySet t = endpoint_set(test.scored, e);
    const BinarySet v = val ? endpoint_set(val->scored, e) : BinarySet{};
    if (o.recalibrate) add_recalibration(ep, t, v);
    if (const auto it = o.fixed_thresholds.find(e); it != o.fixed_thresholds.end())
      ep["fixed_threshold"] = fixed_threshold_json(t, it->second);
    if (o.prevalence) add_at_prevalence(ep, t, v, *o.prevalence);
    if (!o.baseline_columns.empty()) add_baseline(ep, t, v, test, val, o, clusters, n_units);
  }
}

}  // namespace osteofm
