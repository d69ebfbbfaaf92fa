// osteofm compare: any number of models on the same test images (or every variant of a
// sweep): paired DeLong + Holm per endpoint, paired clustered bootstrap of the differences,
// and the ranking (P(best), not significantly below the best).
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "eval/bootstrap.hpp"
#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/layout.hpp"
#include "eval/compare.hpp"

namespace osteofm::cli {
namespace fs = std::filesystem;

namespace {
void print_summary(const nlohmann::json& j) {
  const auto& b = j["bootstrap"];
  std::cout << j["models"].size() << " models, n=" << j["n"] << " images, " << j["n_patients"] << " patients; "
            << b["replicates"] << (b["clustered"].get<bool>() ? " patient-clustered" : " image-level")
            << " bootstrap replicates\n";
  for (const auto& [endpoint, rows] : j["comparisons"].items()) {
    const std::string method = rows.empty() ? "" : rows[0]["method"].get<std::string>();
    std::cout << "  " << endpoint << " (paired AUC test, "
              << (method == "obuchowski" ? "Obuchowski's clustered variance" : "DeLong") << "; Holm over "
              << rows.size() << " pairs)\n";
    // A normal tail below the smallest double reads 0: printed as the bound, never "p 0".
    auto p_text = [](double p) {
      char b[32];
      if (p < 1e-300) return std::string("<1e-300");
      std::snprintf(b, sizeof b, "%.3g", p);
      return std::string(b);
    };
    for (const auto& r : rows) {
      char line[260];
      std::snprintf(line, sizeof line, "    %-28s vs %-28s AUC %.4f vs %.4f  z %6.3f  p %s  p_holm %s%s\n",
                    r["a"].get<std::string>().c_str(), r["b"].get<std::string>().c_str(), r["auc_a"].get<double>(),
                    r["auc_b"].get<double>(), r["z"].get<double>(), p_text(r["p"].get<double>()).c_str(),
                    p_text(r["p_holm"].get<double>()).c_str(), r.contains("few_cases") ? "  (few cases)" : "");
      std::cout << line;
    }
  }
  std::cout << "  ranking by macro AUC (bootstrap P(best); * = not significantly below the best, Holm)\n";
  for (const auto& m : j["ranking"]["models"]) {
    char line[240];
    const int seeds = m.value("seeds", 1);
    std::snprintf(line, sizeof line, "    %-28s %.4f  P(best) %.3f %s%s\n", m["name"].get<std::string>().c_str(),
                  m["auc_macro"].get<double>(), m["p_best"].is_number() ? m["p_best"].get<double>() : 0.0,
                  m["not_below_best"].get<bool>() ? "*" : " ",
                  seeds > 1 ? ("  (mean of " + std::to_string(seeds) + " seeds)").c_str() : "");
    std::cout << line;
  }
}

}  // namespace

void add_compare_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::vector<std::string> predictions, val;
    std::string names, sweep, out;
    CompareOptions compare;
    bool no_cluster = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmp = root.add_subcommand("compare", "Several models on the same test images: paired DeLong (Obuchowski "
                                             "when patients repeat) + Holm per endpoint, paired clustered bootstrap of differences, ranking");
  auto* preds = cmp->add_option("--predictions", o->predictions, "A.csv B.csv [C.csv ...] (test predictions)");
  auto* sweep = cmp->add_option("--sweep", o->sweep, "Every run folder of a sweep (predictions_test.csv, "
                                                     "predictions_val.csv)");
  preds->excludes(sweep);
  cmp->add_option("--val", o->val, "Validation predictions, one per model in the same order (for the Youden "
                                   "thresholds of the sensitivity/specificity differences)")
      ->excludes(sweep);
  cmp->add_option("--names", o->names, "Model names, comma separated (default: the file names)")->excludes(sweep);
  cmp->add_option("--out", o->out, "Output JSON (default with --sweep: SWEEP/compare.json)");
  cmp->add_option("--bootstrap", o->compare.replicates, "Bootstrap replicates")->capture_default_str()->check(CLI::Range(1, kMaxBootstrapReplicates));
  cmp->add_option("--seed", o->compare.seed, "Bootstrap seed")->capture_default_str();
  cmp->add_flag("--no-cluster", o->no_cluster, "Resample images instead of patients");
  cmp->add_option("--conf-level", o->compare.conf_level, "Confidence level")->capture_default_str()->check(CLI::Range(0.5, 0.999));
  commands.push_back({cmp, [o] {
    o->compare.cluster = !o->no_cluster;
    std::vector<ModelPredictions> models;
    std::string out = o->out;
    if (!o->sweep.empty()) {
      models = sweep_models(o->sweep);
      if (out.empty()) out = (fs::path(o->sweep) / layout::kCompare).string();
    } else {
      if (o->predictions.size() < 2) throw InputError("compare: give --predictions A.csv B.csv [...] or --sweep DIR");
      if (out.empty()) throw InputError("compare: --out FILE.json is required with --predictions");
      if (!o->val.empty() && o->val.size() != o->predictions.size())
        throw InputError("compare: --val gives " + std::to_string(o->val.size()) + " files for " +
                         std::to_string(o->predictions.size()) + " models");
      const std::vector<std::string> names = o->names.empty() ? std::vector<std::string>{} : split_commas(o->names);
      if (!names.empty() && names.size() != o->predictions.size())
        throw InputError("compare: --names gives " + std::to_string(names.size()) + " names for " +
                         std::to_string(o->predictions.size()) + " models");
      for (size_t k = 0; k < o->predictions.size(); ++k) {
        ModelPredictions m;
        m.name = names.empty() ? fs::path(o->predictions[k]).stem().string() : names[k];
        m.test = read_predictions(o->predictions[k]);
        if (!o->val.empty()) m.validation = read_predictions(o->val[k]);
        models.push_back(std::move(m));
      }
    }
    const nlohmann::json j = compare_models(models, o->compare);
    write_file_atomic(out, j.dump(2) + "\n");
    print_summary(j);
    std::cout << "wrote " << out << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar compare_registrar(60, add_compare_command);
}  // namespace

}  // namespace osteofm::cli
