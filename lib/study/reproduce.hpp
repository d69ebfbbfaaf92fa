// `osteofm reproduce`: the whole study on a researcher's cohort, one command, resumable at
// every stage:
//   prepare  data check (OUT/data/check.json), a patient-level split when the manifest has
//            none (OUT/data/cohort.csv), bone masks from --segmenter when it has no mask
//            (OUT/data/segment: masks, QC, contact sheet), one tensor cache per input geometry the variants
//            need (OUT/caches/<geometry>), the study's sweep config with them
//            (OUT/study.json);
//   sweep    the study's sweep (grids, selection on validation, seeds) in OUT/sweep, each
//            run evaluated on test with patient-clustered CIs and validation-chosen
//            thresholds as training ends;
//   report   explain (Grad-CAM, IoU_bone, Δbone) for every selected variant, compare (DeLong
//            + Holm, bootstrap differences, P(best)), the table and the ROC figure.
// Before anything starts, every backbone's checkpoint is looked up under --weights-dir and
// loaded as its family reads it: a missing or wrong-family checkpoint is refused up front.
// On Slurm each stage is a job (the sweep's arrays in between) that depends on the one
// before with --dependency=afterok.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/sweep.hpp"

namespace osteofm {

struct ReproduceOptions {
  std::string out;            // the study folder (rerun to resume)
  std::string manifest;       // the cohort: manifest CSV or tensor cache ("" = the one OUT was started with)
  std::string weights_dir;    // the checkpoints under the names of the study's backbones' "weights"
  std::string study;          // a sweep config file; "" = the paper's (configs/sweeps/paper.json, built in)
  std::string stage = "all";  // all | prepare | sweep | report (a Slurm job runs one)
  SweepOptions sweep;         // executor, gpus, wait, sbatch_args, binary, force
  int bootstrap = 2000;       // explain's bootstrap replicates
  uint64_t split_seed = 1;    // the split made when the manifest has none
  std::string split_ratios = "0.7,0.1,0.2";
  std::string explain_device = "auto";
  // A TorchScript segmenter (data segment) that makes the bone masks in the prepare stage
  // when the cohort has none; its spec ("" = the model's path with .json).
  std::string segmenter, segmenter_spec;
  // Keep images that decode but are no frontal chest radiograph (DICOM Modality, body part,
  // view; too small); by default the prepare stage leaves them out and lists them.
  bool keep_non_chest = false;
};

// The paper's study (configs/sweeps/paper.json as this binary was built with it): four public
// backbones x three strategies, per-strategy learning-rate grids, three seeds; each
// backbone's "weights" names its checkpoint under --weights-dir.
nlohmann::json paper_study_config();

// Runs options.stage (all: every stage not yet done, in turn). Local: returns the number of
// runs that failed. Slurm: submits the stages as jobs (with sweep.wait, waits for each) and
// returns 0 once submitted.
int run_reproduce(const ReproduceOptions& options);

}  // namespace osteofm
