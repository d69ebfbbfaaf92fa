// Sweeps: backbones x strategies, one run folder per variant (<backbone>-<strategy>),
// SWEEP/sweep.json, executed locally (resumable, finished variants skipped, spread over
// GPUs) or as one Slurm job array (one variant per task, the same binary).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/grid.hpp"

namespace osteofm {

struct Variant {
  std::string name;          // <backbone>-<strategy>
  nlohmann::json config;     // a full train config (unresolved overrides applied)
  // Its grid points (nested selection on validation); one point without values when the
  // sweep gives no grid for it.
  std::vector<GridPoint> grid{{"g1", nlohmann::json::object()}};
  // The seeds the selected configuration trains with (train.seed); empty: the config's own.
  std::vector<int64_t> seeds;
};

// Sweep config: {"base": {train config}, "backbones": {"dinov2": {"preset": ...}, ...},
// "strategies": {"lora": {"name": "lora", ...}, ...}, "grid": {"train.lr_head": [...]},
// "seeds": [1, 2, 3]}; base.data.manifest relative to FILE. A backbone or strategy entry may
// hold its own "grid" (its keys win over the top-level grid's); a backbone entry its own
// "data" keys (over base.data: the tensor cache of its geometry, say). Every grid point's config
// is validated here.
std::vector<Variant> expand_sweep(const std::string& file);
// The same for a sweep config in memory: `source` names it in errors, relative paths
// resolve against `dir`.
std::vector<Variant> expand_sweep_json(const nlohmann::json& sweep, const std::string& source, const std::string& dir);

// The saliency maps reproduce explains each selected variant with (the study's
// "explain": {"maps": [...]}; default gradcam and occlusion): the first one's explain.json
// is RUN/explain, each other one's RUN/explain-<map>. Throws InputError naming the file
// for a map not in `known` (explain's registry, which this part cannot see: the caller
// passes saliency_map_names(); empty: names unchecked), a repeated one, or an empty list.
std::vector<std::string> study_explain_maps(const nlohmann::json& sweep, const std::string& source,
                                            const std::vector<std::string>& known);

// A sweep trains at most this many runs (grid points of the variants with more than one,
// plus every variant's seeds) unless --force.
constexpr size_t kSweepRunLimit = 200;
size_t planned_runs(const std::vector<Variant>& variants);
// InputError naming FILE when planned_runs exceeds the limit and `force` is false.
void check_run_limit(const std::vector<Variant>& variants, const std::string& file, bool force);

struct SweepOptions {
  std::string executor = "local";  // local | slurm
  std::vector<std::string> gpus;   // local: one variant at a time per listed GPU ("0", "1")
  bool resume = false;             // retry the variants that failed in an earlier run (else reported, skipped)
  bool wait = false;               // slurm: block until the array finishes (sbatch --wait)
  std::string sbatch_args;         // extra sbatch arguments (partition, time, gres); split as a shell would, nothing run
  std::string binary;              // the osteofm executable run by each task
  // osteofm's global --threads of this process (0: not given), passed to every child and
  // every batch script: without it each of four GPU children took every core.
  int threads = 0;
  bool force = false;              // allow more than kSweepRunLimit runs
  // slurm, without wait: a batch script submitted once the last array is, with
  // --dependency=afterok on it (osteofm reproduce's report stage); "" = none.
  std::string then_script;
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

struct SlurmSubmission {
  std::string id;  // the job (array) id sbatch printed
  int status = 0;  // sbatch's exit status (with --wait: the jobs')
};
// Runs sbatch_command(options, script), with --dependency=afterok:<after> when `after` is
// given; RuntimeFailure when sbatch cannot run at all.
SlurmSubmission submit_batch(const SweepOptions& options, const std::string& script, const std::string& after = "");

// `s` in single quotes for a batch script's shell.
std::string shell_quote(const std::string& s);
// The start of a batch script: its job name, its log file (`log`, with sbatch's %j, %A,
// %a), any further "#SBATCH ...\n" lines, and bash's strict mode.
std::string batch_script_header(const std::string& job_name, const std::string& log, const std::string& directives = "");
// What a job that submits further jobs passes on, so that they are submitted as it was:
// {"--executor", "slurm", ["--force"], ["--sbatch-args", "..."]}.
std::vector<std::string> slurm_pass_on(const SweepOptions& options);
// The global options every child osteofm gets before its verb: this process's logging
// options (core/log.hpp: --quiet, --verbose, --log-format) and {"--threads", "N"} when it was
// given --threads, else none.
std::vector<std::string> global_options(const SweepOptions& options);

// One osteofm child, as a process or as a batch script's line: the binary (options.binary),
// every global option of this process, then the verb and its arguments. Every child a
// sweep or a study starts (trainers, the selection job, a study's stages) is made by
// child_command, so none can lose a global option.
struct ChildCommand {
  std::vector<std::string> words;
  // "exec /path/osteofm --threads 2 train ...": each word quoted where the shell needs it
  // (InputError for a control character), then `raw` as it is (the script's own variables).
  std::string script_line(const std::string& raw = "") const;
};
ChildCommand child_command(const SweepOptions& options, const std::vector<std::string>& verb_and_arguments);

// Checks every variant first (InputError listing the problems, nothing run), writes
// SWEEP/configs/<variant>.json and SWEEP/sweep.json (with the runs that failed), then runs:
//   1. grid points (variants with more than one): SWEEP/grid/<variant>/<gN>, the first seed,
//      train.test_predictions false;
//   2. selection: the point with the highest validation score, SWEEP/selection/<variant>.json;
//   3. the selected configuration per seed: SWEEP/<variant> (first seed; what table,
//      compare and explain read) and SWEEP/seeds/<variant>/seed-<S>.
// Returns the number of variants that failed (local), or 0 once the array is submitted.
int run_sweep(const std::string& file, const std::string& sweep_dir, const SweepOptions& options);

}  // namespace osteofm
