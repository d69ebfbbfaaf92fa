// osteofm sweep: the variants of a sweep config, locally or as a Slurm job array.
#include <iostream>
#include <memory>

#include "command.hpp"
#include "core/parallel.hpp"
#include "core/error.hpp"
#include "core/executable.hpp"
#include "core/json_file.hpp"
#include "explain/saliency_map.hpp"
#include "sweep/sweep.hpp"

namespace osteofm::cli {

namespace {
// A study's saliency maps (reproduce's explain.maps) are explain's, a part the sweep does not
// link: their names are checked here, the rest of the file by expand_sweep.
void check_explain_maps(const std::string& config) {
  const nlohmann::json j = parse_json_file(config);
  if (j.is_object()) study_explain_maps(j, config, saliency_map_names());
}
}  // namespace

void add_sweep_command(CLI::App& root, Commands& commands) {
  struct Options {
    std::string config, out, gpus;
    SweepOptions sweep;
    bool check = false;
  };
  auto o = std::make_shared<Options>();
  auto* s = root.add_subcommand("sweep", "Train every backbone x strategy variant of a sweep config");
  s->add_option("--config", o->config, "Sweep config (configs/sweeps/paper.json, configs/demo.json)")->required();
  s->add_option("--out", o->out, "Sweep folder (required unless --check)");
  s->add_flag("--check", o->check, "Resolve every variant (preset, weights, strategy, manifest, splits) and stop; "
                                   "the same check runs before any sweep starts");
  s->add_option("--executor", o->sweep.executor, "local or slurm")->capture_default_str()->check(CLI::IsMember({"local", "slurm"}));
  s->add_flag("--resume", o->sweep.resume, "Also retry the variants that failed in an earlier run (unfinished ones "
                                           "always continue, finished ones are always skipped)");
  s->add_option("--gpus", o->gpus, "local: GPUs to spread variants over, e.g. 0,1,2,3");
  s->add_flag("--wait", o->sweep.wait, "slurm: wait until the job array has finished");
  s->add_option("--sbatch-args", o->sweep.sbatch_args, "slurm: extra sbatch arguments");
  s->add_option("--then", o->sweep.then_script,
                 "slurm: a batch script to submit after the last job array (--dependency=afterok)");
  s->add_flag("--force", o->sweep.force,
              "Run a sweep whose grid points and seeds add up to more than " + std::to_string(kSweepRunLimit) + " trainings");
  commands.push_back({s, [o] {
    stop_safely_on_interrupt("the sweep stopped; finished runs and the checkpoints of the stopped ones are kept: rerun "
                             "it with --resume to carry on");
    o->sweep.gpus = gpu_list(o->gpus);
    check_explain_maps(o->config);
    if (o->check) {
      const auto variants = expand_sweep(o->config);
      const auto problems = check_sweep(variants, o->config);
      for (const auto& p : problems) std::cerr << "osteofm: sweep: " << p << "\n";
      if (!problems.empty())
        throw InputError(o->config + ": " + std::to_string(problems.size()) + " variant(s) cannot start (listed above)");
      check_run_limit(variants, o->config, o->sweep.force);
      const size_t runs = planned_runs(variants);
      std::cout << o->config << ": " << variants.size() << " variants, " << runs
                << " training runs (grid points and seeds), every one can start\n";
      return 0;
    }
    if (o->out.empty()) throw InputError("sweep: --out SWEEP_DIR is required (or --check)");
    o->sweep.binary = self_executable();
    o->sweep.threads = requested_threads();
    const int failures = run_sweep(o->config, o->out, o->sweep);
    if (failures > 0) {
      std::cerr << "osteofm: failure: " << failures << " run(s) failed (see their log.jsonl and the messages above)\n";
      return 1;
    }
    if (o->sweep.executor == "local") std::cout << "sweep done; the table: osteofm table " << o->out << "\n";
    return 0;
  }});
}

namespace {
const CommandRegistrar sweep_registrar(100, add_sweep_command);
}  // namespace

}  // namespace osteofm::cli
