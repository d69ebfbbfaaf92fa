// Where a sweep's trainings run: this machine (child processes, one at a time or one per
// listed GPU) or a Slurm cluster (job arrays). run_sweep plans the trainings and hands them
// to one executor object; nothing else branches on the executor's name.
#pragma once
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "sweep/sweep.hpp"

namespace osteofm {

// One training of a sweep: a variant's grid point, or its selected configuration at a seed.
struct TrainJob {
  std::string name;  // "dinov2-lora", "dinov2-lora/g2", "dinov2-lora/seed-2"
  std::filesystem::path config, run;
};

// The sweep an executor works for.
struct SweepSite {
  std::string file;                     // the sweep config
  std::string sweep_dir;                // --out as given (for messages)
  std::filesystem::path root;           // the sweep folder
  std::set<std::string> failed_before;  // runs that failed in an earlier local run (SWEEP/sweep.json)
};

class SweepExecutor {
 public:
  virtual ~SweepExecutor() = default;
  // The grid points; their failures go into `failed`. False when the rest of the sweep was
  // handed on (Slurm without --wait: a job after the grid selects and submits the seed
  // runs): this process is then done.
  virtual bool run_grid(const std::vector<TrainJob>& jobs, const SweepSite& site, std::set<std::string>& failed) = 0;
  // The selected configurations at every seed; failures go into `failed`. Returns
  // run_sweep's value.
  virtual int run_selected(const std::vector<TrainJob>& jobs, const SweepSite& site, std::set<std::string>& failed) = 0;
};

// The executor options.executor names ("local" or "slurm"); InputError for another name,
// and for --sbatch-args that cannot be split, before anything is written.
std::unique_ptr<SweepExecutor> make_sweep_executor(const SweepOptions& options);
std::unique_ptr<SweepExecutor> make_local_executor(const SweepOptions& options);
std::unique_ptr<SweepExecutor> make_slurm_executor(const SweepOptions& options);

// True when RUN/status.json says the run is done.
bool run_finished(const std::filesystem::path& run);

}  // namespace osteofm
