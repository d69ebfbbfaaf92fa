// `osteofm explain`: Grad-CAM, IoU_bone and Δbone of a finished run on one split
// (design.md "Explainability definitions").
//
// IoU(region) = |CAM >= τ ∩ region| / |CAM >= τ ∪ region| per image, for every region of
// the table (bones and controls) and for all bones together, under two threshold policies:
// "topk" (τ = the CAM value that selects as many pixels as the region covers, i.e. the top
// k% with k = the region's area share) and "fixed" (τ = a constant, default 0.5). Images
// where a region is empty do not count for it. Means with bootstrap CIs over images (or
// patients), also per true class.
//
// Δbone(all) = AUC(original) − AUC(all bones occluded); Δbone(r) = AUC(all bones occluded
// except r) − AUC(all bones occluded); AUC = macro one-vs-rest. Occlusion fills: "mean"
// (the split's mean pixel value), "blur" (Gaussian, σ = size/32: density kept, texture
// gone), "noise" (Gaussian with the split's mean and SD). CIs by a paired bootstrap: both
// AUCs of a difference see the same resampled images.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "explain/region_scorer.hpp"
#include "eval/bootstrap.hpp"

namespace osteofm {

struct ExplainOptions {
  std::string split = "test";
  std::string data;                      // manifest or tensor cache; default: the run's data.manifest
  std::string target = "predicted";      // predicted | label | normal | osteopenia | osteoporosis
  std::string cam = "gradcam";           // gradcam (design.md) | gradxact | occlusion (explain/gradcam.hpp)
  double occlusion_floor = 1e-3;         // --cam occlusion: probability drops below this count as 0
  std::vector<std::string> fills = {"mean", "blur", "noise"};  // the first one is reported as delta_bone.all
  double fixed_threshold = 0.5;
  int overlays_per_class = 4;
  // Random token-grid maps per image for the chance level of every region score (0: no
  // reference levels; explain/reference_maps.hpp).
  int chance_draws = 8;
  // Area-matched control of Δbone: draws per image of random blocks outside every bone and
  // control region, as many pixels as the image's bones (0: none). explain/occlusion_control.hpp.
  int area_draws = 3;
  // Deletion curves: the map's top cells removed in this many equal steps (0: none);
  // explain/deletion.hpp.
  int deletion_steps = 10;
  // Masks eroded and dilated by this many pixels of the model's input (explain/
  // mask_sensitivity.hpp); -1: 1% of the input side; 0: off.
  int mask_sensitivity = -1;
  int batch = 16;
  std::string device = "auto";
  // Resample patients with all their images (the default; where no patient repeats the
  // patient draw is exactly the image draw).
  bool cluster = true;
  BootstrapOptions bootstrap;            // replicates, seed, conf_level, threads
  // No warning on stderr when a fill drives the macro AUC below 0.5 (explain.json records
  // it under auc_below_0.5 either way): reproduce says it once for the whole study.
  bool quiet_fill_warnings = false;
  int workers = 0;                       // decoding threads (<= 0: all cores)
};

struct ExplainSummary {
  nlohmann::json report;  // what explain.json holds
  size_t images = 0, overlays = 0;
  double seconds = 0, cam_images_per_s = 0, occlusion_seconds = 0;
};

// Writes OUT/explain.json, OUT/per_image.csv and OUT/overlays/*.png (radiograph, CAM heat
// map, bone and control contours) atomically; returns the report.
ExplainSummary explain_run(const std::string& run_dir, const std::string& out_dir, const ExplainOptions& options);

}  // namespace osteofm
