// Sweeps: backbones x strategies, one run folder per variant (<backbone>-<strategy>),
// SWEEP/sweep.json, executed locally (resumable, finished variants skipped, spread over
// GPUs) or as one Slurm job array (one variant per task, the same binary).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osteofm {

struct Variant {
  std::string name;          // <backbone>-<strategy>
  nlohmann::json config;     // a full train config (unresolved overrides applied)
};

// Sweep config: {"base": {train config}, "backbones": {"dinov2": {"preset": ...}, ...},
// "strategies": {"lora": {"name": "lora", ...}, ...}}; base.data.manifest relative to FILE.
std::vector<Variant> expand_sweep(const std::string& file);

struct SweepOptions {
  std::string executor = "local";  // local | slurm
  std::vector<std::string> gpus;   // local: one variant at a time per listed GPU ("0", "1")
  bool resume = false;             // retry the variants that failed in an earlier run (else reported, skipped)
  bool wait = false;               // slurm: block until the array finishes (sbatch --wait)
  std::string sbatch_args;         // extra sbatch arguments (partition, time, gres); split as a shell would, nothing run
  std::string binary;              // the osteofm executable run by each task
};

// Resolves every variant (of expand_sweep(file)) as its trainer would (config, preset, arch, weights names and
// shapes, strategy fields, manifest readable with train and val rows) without training;
// one line per problem, "<variant>: <reason>". Empty when every variant can start.
std::vector<std::string> check_sweep(const std::vector<Variant>& variants, const std::string& file);

// The sbatch command line (an argv, run without a shell): sbatch --parsable [--wait]
// <sbatch_args split into words as a shell would: quotes and escapes kept, $VARIABLES
// expanded> <script>. A command substitution, or an unquoted ; | & < > ( ), is an
// InputError naming --sbatch-args: nothing in it is ever run.
std::vector<std::string> sbatch_command(const SweepOptions& options, const std::string& script);

// Checks every variant first (InputError listing the problems, nothing run), writes
// SWEEP/configs/<variant>.json and SWEEP/sweep.json (with the variants that failed), then
// runs the variants.
// Returns the number of variants that failed (local), or 0 once the array is submitted.
int run_sweep(const std::string& file, const std::string& sweep_dir, const SweepOptions& options);

}  // namespace osteofm
