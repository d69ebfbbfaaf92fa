// The study's table: one row per variant of a sweep, from each run directory's
// config.json (backbone, strategy), status.json (trainable_parameters),
// metrics_test.json (eval), predictions_{test,val}.csv (the ranking) and explain/explain.json (delta_bone, iou_bone; blank until
// explain has run).
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace osteofm {

struct Estimate {
  double value = 0;
  std::optional<double> lower, upper;
};

struct VariantRow {
  std::string run;  // folder name
  std::string backbone, strategy;
  std::optional<long long> trainable_parameters;
  bool random_weights = false;  // status.json: the backbone was not pretrained
  Estimate auc_macro, auc_osteoporosis, accuracy;
  // Osteoporosis vs rest at the Youden threshold chosen on validation (absent without
  // validation predictions).
  std::optional<Estimate> sensitivity, specificity;
  std::optional<double> threshold, calibration_slope;
  // Some seed's test scores hardly vary (metrics_test.json's slope_reason): no slope.
  bool near_constant_scores = false;
  std::optional<Estimate> delta_bone, iou_bone;
  std::optional<Estimate> iou_bone_normalised;  // (IoU - chance) / (ceiling - chance), explain.json iou_bone.reference
  bool delta_bone_below_chance = false;         // its fill drove AUC(all bones occluded) below 0.5
  // Δbone minus the AUC loss of occluding as many pixels outside every bone and control
  // region (explain.json delta_bone.area_control), and that control's number of draws.
  std::optional<Estimate> delta_bone_minus_control;
  int area_control_draws = 0;
  // The area control's own AUC loss (explain.json delta_bone.area_control.delta): when its
  // whole CI is below 0, occluding that much non-bone image raised the AUC, and the
  // difference above is a contrast, not "the part of Δbone about bone".
  std::optional<Estimate> area_control_delta;
  bool area_control_raises_auc() const {
    return area_control_delta && area_control_delta->upper && *area_control_delta->upper < 0;
  }
  // Δbone with the blur fill (explain.json delta_bone.fills.blur.all) beside the reported
  // fill's, when that is another fill: the mean fill can read 2-30x larger.
  std::optional<Estimate> delta_bone_blur;
  // IoU_bone on other maps than iou_bone_cam: RUN/explain-<map>/explain.json (reproduce's
  // explain.maps), as (map, IoU, normalised IoU).
  struct MapScore {
    std::string map;
    std::optional<Estimate> iou, normalised;
  };
  std::vector<MapScore> iou_bone_other_maps;
  // Δbone(region) = AUC(all bones occluded except the region) - AUC(all bones occluded), in
  // the region table's order (explain.json delta_bone.per_region).
  std::vector<std::pair<std::string, Estimate>> delta_bone_regions;
  // Lowest and highest estimate with the masks eroded, as given and dilated (explain.json
  // "mask_range"), and by how many pixels (mask_sensitivity.px; 0: not computed).
  std::optional<std::pair<double, double>> iou_bone_mask_range, delta_bone_mask_range;
  int mask_sensitivity_px = 0;
  std::string iou_bone_cam;  // the map IoU_bone was computed on (explain.json "cam")
  std::string explain_split, delta_bone_fill;  // explain.json "split", "delta_bone.fill"
  std::string bootstrap;     // "2000 patient-clustered percentile replicates", from metrics_test.json
  // The test split as the run saw it (metrics_test.json): images, patients, the share with
  // osteoporosis; and the backbone's input side in pixels (preprocessing.json; 0: unknown).
  long long test_n = 0, test_patients = 0;
  std::optional<double> test_prevalence;
  long long test_positives = -1;  // osteoporosis images of the test split (-1: unknown)
  int input_size = 0;
  int invalid_replicates = 0;
  bool highest = false;                 // highest macro AUC point estimate of the sweep
  std::optional<double> p_best;         // bootstrap probability of the highest macro AUC
  bool not_below_best = false;          // not significantly below the best (Holm)
  // Nested selection (SWEEP/selection/<run>.json): grid points tried on validation (0: no
  // grid) and the selected point's values ("lr_body=3e-05").
  int grid_points = 0;
  std::string selected;
  int selection_tied = 0;  // points sharing the best validation score (0/1: no tie)
  // Test macro AUC over the selected configuration's seeds: this run and
  // SWEEP/seeds/<run>/seed-*/ (sample SD); absent with one seed.
  struct SeedSpread {
    double mean = 0, sd = 0;
    int n = 0;
  };
  std::optional<SeedSpread> auc_macro_seeds;
  // Trained at several seeds: the headline statistics above (macro and osteoporosis AUC,
  // accuracy, sensitivity, specificity, calibration slope) are means over this many seeds,
  // with the intervals of the seed mean (compare's paired resamples); 0: one seed.
  int seeds_averaged = 0;
  // The explainability columns are seed means too (every seed explained, with its
  // replicates.csv): this many seeds; 0: the first seed's run.
  int explain_seeds_averaged = 0;
  std::vector<std::optional<double>> seed_calibration_slopes;  // each seed's, from its metrics_test.json
};

struct SweepTable {
  std::vector<VariantRow> rows;
  std::string ranking_note;  // how P(best) and the marks were made, or why they are absent
};
// Reads every run folder of a sweep that has metrics_test.json; ordered by backbone
// family (openclip, dinov2, chexagent, rad-dino, then others) then strategy (linear
// probe, partial fine-tune, LoRA). Throws InputError if none is found or a file is bad.
// The ranking (compare_models over the runs' test and validation predictions) marks the
// variants not significantly below the best; it is left out, with the reason in
// ranking_note, when fewer than two runs share the same test images. A variant with
// several seeds (SWEEP/seeds/<run>/) shows their mean, ranked by it.
SweepTable collect_sweep(const std::string& sweep_dir);

std::string format_table(const SweepTable& table, const std::string& format);  // md|csv|latex

// The per-region add-back Δbone of every variant (one column per bone region, as the study
// reports per bone), with CIs; "" when no run has them.
std::string format_region_table(const SweepTable& table, const std::string& format);  // md|csv|latex

}  // namespace osteofm
