#include "study/demo.hpp"

#include <chrono>
#include <filesystem>
#include <iostream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/layout.hpp"
#include "core/log.hpp"
#include "data/phantom.hpp"
#include "study/reproduce.hpp"

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
  const fs::path out(o.out), cohort = out / "phantom", sweep = out / layout::kStudySweepDir;
  fs::create_directories(out);
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

  // 1. The cohort (the manifest is written last: its presence means a complete cohort).
  if (fs::exists(cohort / "manifest.csv")) {
    log_info("demo", log_text("phantom cohort: kept ", cohort.string()));
  } else {
    log_info("demo", log_text("phantom cohort: ", o.patients, " patients, ", o.size, " px ..."));
    PhantomOptions po;
    po.patients = o.patients;
    po.size = o.size;
    po.seed = o.seed;
    po.previews = 2;
    const PhantomSummary s = write_phantom_cohort(cohort.string(), po);
    log_info("demo", log_text("      ", s.images, " images, bone-mean baseline AUC ", s.baseline_auc));
  }

  // 2. The study on it, as 'osteofm reproduce' runs it on a researcher's cohort: check,
  // tensor caches, the twelve variants, explain, compare, the table.
  const std::string config = (out / "demo-sweep.json").string();
  const std::string text = demo_sweep_config("phantom/manifest.csv", o.epochs).dump(2) + "\n";
  if (fs::exists(out / layout::kReproduceRecord) && fs::exists(config) && read_file(config) != text)
    throw InputError(o.out + " holds a demo run with other --epochs; give another --out");
  write_file_atomic(config, text);
  ReproduceOptions ro;
  ro.out = o.out;
  ro.manifest = (cohort / "manifest.csv").string();
  ro.study = config;
  ro.bootstrap = o.bootstrap;
  ro.sweep.binary = o.binary;
  ro.sweep.threads = o.threads;
  const int failures = run_reproduce(ro);

  if (fs::exists(sweep / layout::kTableMarkdown)) print_result(log_text(read_file((sweep / layout::kTableMarkdown).string()), "\n"));
  print_result(log_text(
      "Where everything is (", static_cast<int>(elapsed()), " s):\n  ", cohort.string(),
      "/                phantom radiographs, bone masks, manifest.csv, previews/\n  ", config,
      "          the sweep config (rerun or edit with 'osteofm sweep')\n  ", (out / "data").string(), "/check.json, ",
      (out / "caches").string(), "/    the data check, one tensor cache per input geometry\n  ", sweep.string(),
      "/<variant>/      config.json, log.jsonl, checkpoints/, predictions_*.csv, metrics_test.json\n  ", sweep.string(),
      "/<variant>/explain/  explain.json, per_image.csv, overlays/*.png\n  ", sweep.string(),
      "/table.{md,csv,tex}   this table; roc_macro.{png,svg} its ROC curves\n  ", sweep.string(),
      "/compare.json         every pair of variants: DeLong + Holm, bootstrap differences, P(best)\n  ",
      (out / layout::kStudyReport).string(), "       all of it in one page: open it in a browser\n"));
  print_result(log_text("Rerunning 'osteofm demo --out ", o.out, "' resumes; finished steps are kept.\n"));
  return failures;
}

}  // namespace osteofm
