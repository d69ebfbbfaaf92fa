// osteofm eval: metrics with bootstrap CIs, screening endpoints at validation-chosen
// thresholds, calibration, decision curves; ROC, reliability and decision-curve figures.
#include <filesystem>
#include <iostream>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>

#include "command.hpp"
#include "eval/bootstrap.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/layout.hpp"
#include "eval/evaluate.hpp"
#include "eval/interval_text.hpp"
#include "eval/transport.hpp"
#include "report/roc_report.hpp"

namespace osteofm::cli {
namespace fs = std::filesystem;

namespace {
std::string with_ci(const nlohmann::json& x) { return interval_text(x, 4, " [no interval]"); }

// A bootstrap p as text: never 0; at the resolution of R replicates it is "< 1/(R+1)".
std::string p_text(const nlohmann::json& row) {
  if (!row["p"].is_number()) return "p n/a";
  char b[48];
  if (row.contains("p_is_bound")) std::snprintf(b, sizeof b, "p < %.2g", row["p"].get<double>());
  else std::snprintf(b, sizeof b, "p %.3g", row["p"].get<double>());
  return b;
}

// eval --by: each group's AUC, sensitivity and specificity, then the differences.
void print_groups(const nlohmann::json& m) {
  if (!m.contains("by")) return;
  for (const auto& [key, ep] : m["endpoints"].items()) {
    if (!ep.contains("by_group")) continue;
    std::cout << "  " << key << " by " << m["by"].get<std::string>() << ":\n";
    for (const auto& [g, gj] : ep["by_group"].items()) {
      char head[160];
      std::snprintf(head, sizeof head, "    %-14s n=%-5lld (%lld positive)  AUC ", g.c_str(), gj["n"].get<long long>(),
                    gj["n_positive"].get<long long>());
      std::cout << head
                << (gj["auc"].is_number() ? with_ci({{"estimate", gj["auc"]}, {"ci", gj.value("auc_ci", nlohmann::json())}})
                                          : "n/a (" + gj.value("auc_reason", std::string("undefined")) + ")");
      if (gj.contains("sensitivity_youden"))
        std::cout << "  sens " << with_ci(gj["sensitivity_youden"]) << "  spec " << with_ci(gj["specificity_youden"]);
      std::cout << (gj.contains("few_cases") ? "  (few cases)" : "") << "\n";
    }
    if (ep.contains("by_group_differences") && ep["by_group_differences"].is_array())
      for (const auto& d : ep["by_group_differences"]) {
        if (!d["auc_difference"].is_number()) continue;
        std::cout << "    AUC " << d["a"].get<std::string>() << " - " << d["b"].get<std::string>() << ": "
                  << with_ci({{"estimate", d["auc_difference"]}, {"ci", d["ci"]}}) << ", " << p_text(d) << "\n";
      }
  }
}

void print_summary(const std::string& csv, const nlohmann::json& m) {
  const auto& b = m["bootstrap"];
  std::cout << csv << ": n=" << m["n"] << " images, " << m["n_patients"] << " patients; " << b["replicates"] << " "
            << (b["clustered"].get<bool>() ? "patient-clustered " : "image-level ") << b["method"].get<std::string>()
            << " bootstrap replicates (" << b["invalid_replicates"] << " without every class, left out)\n"
            << "  macro AUC                 " << with_ci(m["auc_macro"]) << "\n"
            << "  osteoporosis vs rest AUC  " << with_ci(m["auc_osteoporosis_vs_rest"]) << "\n"
            << "  accuracy (argmax)         " << with_ci(m["accuracy"]) << "\n";
  for (const auto& [key, ep] : m["endpoints"].items()) {
    if (!ep["at_threshold"].is_object()) continue;
    const auto& y = ep["at_threshold"]["youden"];
    char line[200];
    std::snprintf(line, sizeof line, "  %-22s Youden threshold %.4g (validation): ", key.c_str(),
                  ep["thresholds"]["youden"].get<double>());
    std::cout << line << "sensitivity " << with_ci(y["sensitivity"]) << ", specificity " << with_ci(y["specificity"])
              << "\n";
  }
  if (m["validation"].is_null()) std::cout << "  no thresholds: " << m["validation_reason"].get<std::string>() << "\n";
  for (const auto& [key, ep] : m["endpoints"].items()) {
    if (ep.contains("recalibration") && ep["recalibration"]["slope"].is_number())
      std::printf("  %-22s recalibrated on validation: intercept %.3f, slope %.3f; test calibration slope %.3f -> %.3f\n",
                  key.c_str(), ep["recalibration"]["intercept"].get<double>(), ep["recalibration"]["slope"].get<double>(),
                  ep["recalibrated"]["before"]["slope"].is_number() ? ep["recalibrated"]["before"]["slope"].get<double>() : NAN,
                  ep["recalibrated"]["slope"].is_number() ? ep["recalibrated"]["slope"].get<double>() : NAN);
    if (ep.contains("fixed_threshold"))
      std::printf("  %-22s at the fixed threshold %.4g: sensitivity %.3f, specificity %.3f\n", key.c_str(),
                  ep["fixed_threshold"]["threshold"].get<double>(),
                  ep["fixed_threshold"]["sensitivity"]["estimate"].is_number() ? ep["fixed_threshold"]["sensitivity"]["estimate"].get<double>() : NAN,
                  ep["fixed_threshold"]["specificity"]["estimate"].is_number() ? ep["fixed_threshold"]["specificity"]["estimate"].get<double>() : NAN);
    if (ep.contains("at_prevalence") && ep["at_prevalence"]["ppv"].is_number())
      std::printf("  %-22s at prevalence %.3g: PPV %.3f, NPV %.3f\n", key.c_str(),
                  ep["at_prevalence"]["prevalence"].get<double>(), ep["at_prevalence"]["ppv"].get<double>(),
                  ep["at_prevalence"]["npv"].get<double>());
    if (ep.contains("baseline") && ep["baseline"]["auc"].is_number())
      std::cout << "  " << key << ": baseline AUC " << with_ci(nlohmann::json{{"estimate", ep["baseline"]["auc"]}})
                << ", image model minus baseline "
                << with_ci({{"estimate", ep["baseline"]["model_minus_baseline"]["estimate"]},
                            {"ci", ep["baseline"]["model_minus_baseline"]["ci"]}})
                << "\n";
  }
  print_groups(m);
  if (m.contains("t_score"))
    std::cout << "  T-score MAE               " << with_ci(m["t_score"]["mae"]) << " (n=" << m["t_score"]["n"] << ")\n"
              << "  T-score Pearson r         " << with_ci(m["t_score"]["pearson_r"]) << "\n";
}
}  // namespace

void add_eval_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string run, split = "test", predictions, val, out, recalibrate;
    std::vector<std::string> thresholds, baseline;
    std::optional<double> prevalence;
    EvalOptions eval;
    bool no_cluster = false, cluster = false, no_plots = false;
  };
  auto o = std::make_shared<Options>();
  auto* e = root.add_subcommand("eval", "AUCs, screening endpoints at validation-chosen thresholds (sensitivity, "
                                        "specificity, PPV, NPV), calibration, decision curves, kappa, all with "
                                        "patient-clustered bootstrap CIs; ROC, reliability and decision-curve figures");
  auto* run = e->add_option("--run", o->run, "Run folder (reads predictions_<split>.csv and predictions_val.csv)");
  e->add_option("--split", o->split, "Split of the run to evaluate")->capture_default_str();
  auto* preds = e->add_option("--predictions", o->predictions, "A predictions CSV (the test split)");
  run->excludes(preds);
  e->add_option("--val", o->val, "Validation predictions CSV: the thresholds are chosen on it (with --run: the "
                                 "run's predictions_val.csv)");
  e->add_option("--by", o->eval.by, "Subgroup AUCs per value of this predictions column (age band, site, device)");
  e->add_option("--out", o->out, "metrics JSON (default with --run: RUN/metrics_<split>.json)");
  e->add_option("--bootstrap", o->eval.replicates, "Bootstrap replicates")->capture_default_str()->check(CLI::Range(1, kMaxBootstrapReplicates));
  e->add_option("--ci", o->eval.ci, "percentile or bca")->capture_default_str()->check(CLI::IsMember({"percentile", "bca"}));
  auto* cl = e->add_flag("--cluster", o->cluster, "Resample patients with all their images (the default)");
  e->add_flag("--no-cluster", o->no_cluster, "Resample images, ignoring that a patient may have several")->excludes(cl);
  e->add_option("--seed", o->eval.seed, "Bootstrap seed")->capture_default_str();
  e->add_option("--conf-level", o->eval.conf_level, "Confidence level")->capture_default_str()->check(CLI::Range(0.5, 0.999));
  e->add_option("--decision-thresholds", o->eval.decision_thresholds,
                "Threshold probabilities of the decision curve (default 0.01,0.02,...,0.50)")
      ->delimiter(',');
  e->add_option("--recalibrate", o->recalibrate, "logistic: recalibration (intercept, slope) fitted on --val, applied "
                                                 "to the test scores (endpoints.<e>.recalibration, .recalibrated)")
      ->check(CLI::IsMember({"logistic"}));
  e->add_option("--threshold", o->thresholds, "ENDPOINT=T, repeatable: an operating point fixed elsewhere, scored here "
                                              "(endpoints.<e>.fixed_threshold)");
  e->add_option("--prevalence", o->prevalence, "The target setting's prevalence: PPV and NPV there by Bayes, at the "
                                               "validation Youden threshold (endpoints.<e>.at_prevalence)");
  e->add_option("--baseline", o->baseline, "COL[,COL...]: passed-through columns of both files (e.g. age,weight): a "
                                           "logistic baseline and the image + baseline model, fitted on --val, "
                                           "compared on test (endpoints.<e>.baseline)")
      ->delimiter(',');
  e->add_flag("--no-plots", o->no_plots, "Skip the figures");
  commands.push_back({e, [o] {
    if (o->run.empty() == o->predictions.empty()) throw InputError("eval: give --run RUN_DIR or --predictions FILE.csv");
    o->eval.cluster = !o->no_cluster;
    std::string csv = o->predictions, out = o->out, val = o->val, title;
    if (!o->run.empty()) {
      csv = (fs::path(o->run) / layout::predictions_file(o->split)).string();
      if (out.empty()) out = (fs::path(o->run) / layout::metrics_file(o->split)).string();
      const fs::path run_val = fs::path(o->run) / layout::kPredictionsVal;
      if (val.empty() && o->split != "val") {
        if (fs::exists(run_val)) val = run_val.string();
        else o->eval.no_validation_reason = o->run + " has no predictions_val.csv: no thresholds can be chosen";
      }
      if (o->split == "val" && o->val.empty())
        o->eval.no_validation_reason = "evaluating the validation split itself: thresholds chosen on it would be "
                                       "scored on the images that chose them";
      title = fs::path(o->run).lexically_normal().filename().string();
      if (title.empty()) title = fs::path(o->run).lexically_normal().parent_path().filename().string();
      title += ", " + o->split + " split";
    } else {
      title = fs::path(csv).filename().string();
    }
    if (out.empty()) throw InputError("eval: --out FILE.json is required with --predictions");
    const Predictions p = read_predictions(csv);
    Predictions v;
    if (!val.empty()) v = read_predictions(val);
    TransportOptions transport;
    transport.recalibrate = !o->recalibrate.empty();
    for (const auto& t : o->thresholds) transport.fixed_thresholds.insert(parse_fixed_threshold(t));
    transport.prevalence = o->prevalence;
    transport.baseline_columns = o->baseline;
    transport.bootstrap.replicates = o->eval.replicates;
    transport.bootstrap.seed = o->eval.seed;
    transport.bootstrap.conf_level = o->eval.conf_level;
    transport.cluster = o->eval.cluster;
    check_transport(p, val.empty() ? nullptr : &v, transport);  // before any statistic
    nlohmann::json m = evaluate(p, val.empty() ? nullptr : &v, o->eval);
    add_transport(m, p, val.empty() ? nullptr : &v, transport);
    write_file_atomic(out, m.dump(2) + "\n");
    print_summary(csv, m);
    std::cout << "wrote " << out << "\n";
    if (!o->no_plots) {
      const std::string stem = (fs::path(out).parent_path() / fs::path(out).stem()).string();
      for (const auto& f : write_eval_figures(p, m, title, stem)) std::cout << "wrote " << f << "\n";
    }
    return 0;
  }});
}

namespace {
const CommandRegistrar eval_registrar(50, add_eval_command);
}  // namespace

}  // namespace osteofm::cli
