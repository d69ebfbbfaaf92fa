// osteofm reproduce: the whole study on a researcher's cohort (lib/sweep/reproduce.hpp).
#include <filesystem>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/layout.hpp"
#include "core/parallel.hpp"
#include "eval/bootstrap.hpp"
#include "core/executable.hpp"
#include "study/reproduce.hpp"

namespace osteofm::cli {

void add_reproduce_command(CLI::App& root, Commands& commands) {
  struct Options {
    ReproduceOptions run;
    std::string gpus;
  };
  auto o = std::make_shared<Options>();
  auto* r = root.add_subcommand(
      "reproduce", "The whole study on your cohort: check, split, caches, the paper sweep (grids + seeds), eval, "
                   "compare, explain, tables; rerun to resume");
  r->add_option("--out", o->run.out, "Study folder (rerun with only --out to resume)")->required();
  r->add_option("--manifest", o->run.manifest, "Cohort manifest CSV (or tensor cache); split patient-level when it has none");
  r->add_option("--weights-dir", o->run.weights_dir,
                "Folder of the checkpoints, under the names README gives (checked before anything starts)");
  r->add_option("--study", o->run.study, "Another sweep config (default: configs/sweeps/paper.json, built in)");
  r->add_option("--stage", o->run.stage, "all, or one of prepare, sweep, report (what a Slurm job runs)")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "prepare", "sweep", "report"}));
  r->add_option("--executor", o->run.sweep.executor, "local or slurm")->capture_default_str()->check(CLI::IsMember({"local", "slurm"}));
  r->add_option("--gpus", o->gpus, "local: GPUs to spread the trainings over, e.g. 0,1,2,3");
  r->add_flag("--wait", o->run.sweep.wait, "slurm: submit the stages one by one and wait for each");
  r->add_option("--sbatch-args", o->run.sweep.sbatch_args, "slurm: extra sbatch arguments for every job");
  r->add_flag("--force", o->run.sweep.force, "Allow a study of more than " + std::to_string(kSweepRunLimit) + " trainings");
  r->add_option("--bootstrap", o->run.bootstrap, "Explain's bootstrap replicates (a new study; a resumed one keeps its own)")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxBootstrapReplicates));
  r->add_option("--segmenter", o->run.segmenter,
                "TorchScript segmenter that makes the bone masks in the prepare stage when the manifest has none "
                "(as 'osteofm data segment'; a new study)");
  r->add_option("--segmenter-spec", o->run.segmenter_spec, "Its spec (default: the segmenter's path with .json)");
  r->add_option("--split-seed", o->run.split_seed, "Seed of the split made when the manifest has none (a new study)")->capture_default_str();
  r->add_flag("--keep-non-chest", o->run.keep_non_chest,
              "Keep images that are no frontal chest radiograph (by default left out and listed in data/excluded.csv)");
  r->add_option("--split-ratios", o->run.split_ratios, "train,val,test of that split (a new study)")->capture_default_str();
  commands.push_back({r, [o] {
    stop_safely_on_interrupt("the study in " + o->run.out + " stopped (recorded as 'interrupted' in reproduce.json); "
                             "finished stages and runs are kept: run the same command again to carry on");
    o->run.sweep.gpus = gpu_list(o->gpus);
    o->run.sweep.binary = self_executable();
    o->run.sweep.threads = requested_threads();
    const int failures = run_reproduce(o->run);
    if (failures > 0) {
      std::cerr << "osteofm: failure: " << failures << " run(s) failed; rerun 'osteofm reproduce --out " << o->run.out
                << "' to retry them\n";
      return 1;
    }
    // The files to open, when the report stage ran here (not when jobs were only submitted).
    const std::filesystem::path out(o->run.out);
    if (std::filesystem::exists(out / layout::kStudyReport))
      std::cout << "Study finished. Open " << (out / layout::kStudyReport).string() << "; the table is "
                << (out / layout::kStudySweepDir / layout::kTableMarkdown).string() << " (.csv, .tex), the comparisons "
                << (out / layout::kStudySweepDir / layout::kCompare).string() << ", provenance " << (out / layout::kProvenance).string()
                << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar reproduce_registrar(135, add_reproduce_command);
}  // namespace

}  // namespace osteofm::cli
