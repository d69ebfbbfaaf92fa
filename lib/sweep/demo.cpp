#include "sweep/demo.hpp"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "data/phantom.hpp"
#include "explain/explain.hpp"
#include "report/roc_report.hpp"
#include "eval/compare.hpp"
#include "report/table.hpp"
#include "sweep/sweep.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

json demo_sweep_config(const std::string& manifest, int epochs) {
  return {
      {"description",
       "osteofm demo: the twelve variants at CPU demo size (*-tiny presets, random weights) on the phantom cohort"},
      {"base",
       {{"data", {{"manifest", manifest}}},
        {"head", {{"feature", "cls"}}},
        {"augment", {{"enabled", false}}},
        {"train", {{"epochs", epochs}, {"batch_size", 16}, {"lr_head", 0.01}, {"lr_body", 0.003}, {"patience", epochs}, {"seed", 1}}}}},
      {"backbones",
       {{"openclip", {{"preset", "openclip-tiny"}, {"seed", 1}}},
        {"dinov2", {{"preset", "dinov2-tiny"}, {"seed", 2}}},
        {"chexagent", {{"preset", "chexagent-tiny"}, {"seed", 3}}},
        {"rad-dino", {{"preset", "rad-dino-tiny"}, {"seed", 4}}}}},
      {"strategies",
       {{"linear", {{"name", "linear_probe"}}},
        {"partial", {{"name", "partial"}, {"blocks", 1}}},
        {"lora", {{"name", "lora"}, {"rank", 8}, {"alpha", 16}, {"dropout", 0.0}, {"targets", {"qv"}}}}}}};
}

int run_demo(const DemoOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const fs::path out(o.out), cohort = out / "phantom", sweep = out / "sweep";
  fs::create_directories(out);
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  // 1. The cohort (the manifest is written last: its presence means a complete cohort).
  if (fs::exists(cohort / "manifest.csv")) {
    std::cerr << "demo: [1/4] phantom cohort: kept " << cohort.string() << "\n";
  } else {
    std::cerr << "demo: [1/4] phantom cohort: " << o.patients << " patients, " << o.size << " px ...\n";
    PhantomOptions po;
    po.patients = o.patients;
    po.size = o.size;
    po.seed = o.seed;
    po.previews = 2;
    const PhantomSummary s = write_phantom_cohort(cohort.string(), po);
    std::cerr << "demo:       " << s.images << " images, bone-mean baseline AUC " << s.baseline_auc << "\n";
  }

  // 2. The twelve variants.
  const std::string config = (out / "demo-sweep.json").string();
  write_file_atomic(config, demo_sweep_config("phantom/manifest.csv", o.epochs).dump(2) + "\n");
  std::cerr << "demo: [2/4] training the twelve variants (" << sweep.string() << ") ...\n";
  SweepOptions so;
  so.resume = true;
  so.binary = o.binary;
  const int failures = run_sweep(config, sweep.string(), so);

  // 3. Explainability for every finished variant.
  std::cerr << "demo: [3/4] Grad-CAM, IoU_bone and Δbone per variant ...\n";
  ExplainOptions eo;
  eo.bootstrap.replicates = o.bootstrap;
  eo.overlays_per_class = 2;
  eo.cluster = true;
  for (const auto& v : expand_sweep(config)) {
    const fs::path run = sweep / v.name;
    if (!fs::exists(run / "metrics_test.json")) continue;
    if (fs::exists(run / "explain" / "explain.json")) continue;
    explain_run(run.string(), (run / "explain").string(), eo);
  }

  // 4. The table and the ROC overlay.
  std::cerr << "demo: [4/4] the table\n";
  const SweepTable table = collect_sweep(sweep.string());
  const std::string md = format_table(table, "md");
  write_file_atomic((sweep / "table.md").string(), md);
  write_file_atomic((sweep / "table.csv").string(), format_table(table, "csv"));
  write_file_atomic((sweep / "table.tex").string(), format_table(table, "latex"));
  const auto plots = write_sweep_roc(sweep.string(), table.rows, (sweep / "roc_macro").string());
  // Every pair of variants: paired DeLong + Holm, paired bootstrap differences, ranking.
  write_file_atomic((sweep / "compare.json").string(),
                    compare_models(sweep_models(sweep.string()), CompareOptions{}).dump(2) + "\n");
  std::cout << md << "\n";
  std::cout << "Where everything is (" << static_cast<int>(elapsed()) << " s):\n"
            << "  " << cohort.string() << "/                phantom radiographs, bone masks, manifest.csv, previews/\n"
            << "  " << config << "          the sweep config (rerun or edit with 'osteofm sweep')\n"
            << "  " << sweep.string() << "/<variant>/      config.json, log.jsonl, checkpoints/, predictions_*.csv, "
            << "metrics_test.json\n"
            << "  " << sweep.string() << "/<variant>/explain/  explain.json, per_image.csv, overlays/*.png\n"
            << "  " << sweep.string() << "/table.{md,csv,tex}   this table\n"
            << "  " << sweep.string() << "/compare.json         every pair of variants: DeLong + Holm, bootstrap "
            << "differences, P(best)\n";
  for (const auto& p : plots) std::cout << "  " << p << "\n";
  std::cout << "Rerunning 'osteofm demo --out " << o.out << "' resumes; finished steps are kept.\n";
  return failures;
}

}  // namespace osteofm
