// osteofm eval | compare: metrics with bootstrap CIs; paired DeLong between two models.
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/runtime.hpp"
#include "eval/evaluate.hpp"
#include "report/roc_report.hpp"

namespace osteofm::cli {
namespace fs = std::filesystem;

void add_eval_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string run, split = "test", predictions, out;
    EvalOptions eval;
    bool no_plots = false;
  };
  auto o = std::make_shared<Options>();
  auto* e = root.add_subcommand("eval", "AUC (per class, macro, osteoporosis vs rest), accuracy, sensitivity, "
                                        "specificity with bootstrap CIs; DeLong per class; ROC plots");
  auto* run = e->add_option("--run", o->run, "Run folder (reads predictions_<split>.csv)");
  e->add_option("--split", o->split, "Split of the run to evaluate")->capture_default_str();
  auto* preds = e->add_option("--predictions", o->predictions, "A predictions CSV");
  run->excludes(preds);
  e->add_option("--out", o->out, "metrics JSON (default with --run: RUN/metrics_<split>.json)");
  e->add_option("--bootstrap", o->eval.replicates, "Bootstrap replicates")->capture_default_str();
  e->add_option("--ci", o->eval.ci, "percentile or bca")->capture_default_str()->check(CLI::IsMember({"percentile", "bca"}));
  e->add_flag("--cluster", o->eval.cluster, "Resample patients with all their images");
  e->add_option("--seed", o->eval.seed, "Bootstrap seed")->capture_default_str();
  e->add_option("--conf-level", o->eval.conf_level, "Confidence level")->capture_default_str()->check(CLI::Range(0.5, 0.999));
  e->add_flag("--no-plots", o->no_plots, "Skip the ROC figures (<out>_roc.svg/.png)");
  commands.push_back({e, [o] {
    if (o->run.empty() == o->predictions.empty()) throw InputError("eval: give --run RUN_DIR or --predictions FILE.csv");
    std::string csv = o->predictions, out = o->out;
    if (!o->run.empty()) {
      csv = (fs::path(o->run) / ("predictions_" + o->split + ".csv")).string();
      if (out.empty()) out = (fs::path(o->run) / ("metrics_" + o->split + ".json")).string();
    }
    if (out.empty()) throw InputError("eval: --out FILE.json is required with --predictions");
    const Predictions p = read_predictions(csv);
    const nlohmann::json m = evaluate(p, o->eval);
    write_file_atomic(out, m.dump(2) + "\n");
    auto ci = [&](const nlohmann::json& x) {
      char b[96];
      if (x["ci"].is_array())
        std::snprintf(b, sizeof b, "%.4f [%.4f, %.4f]", x["estimate"].get<double>(), x["ci"][0].get<double>(),
                      x["ci"][1].get<double>());
      else
        std::snprintf(b, sizeof b, "%.4f [undefined]", x["estimate"].get<double>());
      return std::string(b);
    };
    std::cout << csv << ": n=" << m["n"] << " images, " << m["n_patients"] << " patients; " << o->eval.replicates
              << " " << (o->eval.cluster ? "patient-clustered " : "") << o->eval.ci << " bootstrap replicates ("
              << m["bootstrap"]["invalid_replicates"] << " without every class, left out)\n"
              << "  macro AUC                 " << ci(m["auc_macro"]) << "\n"
              << "  osteoporosis vs rest AUC  " << ci(m["auc_osteoporosis_vs_rest"]) << "\n"
              << "  accuracy                  " << ci(m["accuracy"]) << "\n";
    std::cout << "wrote " << out << "\n";
    if (!o->no_plots) {
      const std::string stem = (fs::path(out).parent_path() / fs::path(out).stem()).string() + "_roc";
      for (const auto& f : write_class_roc(p, "ROC, " + fs::path(csv).filename().string(), stem))
        std::cout << "wrote " << f << "\n";
    }
    return 0;
  }});

  struct CompareOptions {
    std::vector<std::string> predictions;
    std::string out;
    double conf = 0.95;
  };
  auto c = std::make_shared<CompareOptions>();
  auto* cmp = root.add_subcommand("compare", "Paired DeLong test of two models on the same images");
  cmp->add_option("--predictions", c->predictions, "A.csv B.csv")->required()->expected(2);
  cmp->add_option("--out", c->out, "Output JSON")->required();
  cmp->add_option("--conf-level", c->conf, "Confidence level of the difference")->capture_default_str();
  commands.push_back({cmp, [c] {
    const Predictions a = read_predictions(c->predictions[0]);
    const Predictions b = read_predictions(c->predictions[1]);
    const nlohmann::json j = compare_predictions(a, b, c->conf);
    write_file_atomic(c->out, j.dump(2) + "\n");
    for (const auto& [k, v] : j["delong_paired"].items()) {
      char line[200];
      std::snprintf(line, sizeof line, "  %-22s AUC %.4f vs %.4f  diff %+.4f [%+.4f, %+.4f]  z %.3f  p %.3g\n", k.c_str(),
                    v["auc_a"].get<double>(), v["auc_b"].get<double>(), v["diff"].get<double>(),
                    v["diff_ci"][0].get<double>(), v["diff_ci"][1].get<double>(), v["z"].get<double>(),
                    v["p_value"].get<double>());
      std::cout << line;
    }
    std::cout << "wrote " << c->out << "\n";
    return 0;
  }});
}

}  // namespace osteofm::cli
