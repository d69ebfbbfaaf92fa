// The study's table: one row per variant of a sweep, from each run directory's
// config.json (backbone, strategy), status.json (trainable_parameters),
// metrics_test.json (eval) and explain/explain.json (delta_bone, iou_bone; blank until
// explain has run).
#pragma once
#include <optional>
#include <string>
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
  Estimate auc_macro, auc_osteoporosis, accuracy, sensitivity, specificity;  // sens/spec: osteoporosis
  std::optional<Estimate> delta_bone, iou_bone;
  std::string iou_bone_cam;  // the map IoU_bone was computed on (explain.json "cam")
  bool best = false;  // highest macro AUC of the sweep
};

// Reads every run folder of a sweep that has metrics_test.json; ordered by backbone
// family (openclip, dinov2, chexagent, rad-dino, then others) then strategy (linear
// probe, partial fine-tune, LoRA). Throws InputError if none is found or a file is bad.
std::vector<VariantRow> collect_sweep(const std::string& sweep_dir);

std::string format_table(const std::vector<VariantRow>& rows, const std::string& format);  // md|csv|latex

}  // namespace osteofm
