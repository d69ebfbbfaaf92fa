// What `osteofm explain` scores its maps with, behind one interface: the region study
// (IoU_bone), occlusion (Δbone), deletion curves and mask sensitivity are each an
// ExplainStudy. explain's pass hands every study each batch, then asks each for its
// per-image columns and its blocks of explain.json; a new study is a new class and one line
// where explain lists its studies.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "data/preprocessing.hpp"
#include "eval/bootstrap.hpp"
#include "eval/metrics.hpp"
#include "models/classifier.hpp"

namespace osteofm {

class OcclusionFills;

// One batch of the explained split, as every study sees it.
struct StudyBatch {
  Classifier& model;
  const Preprocessing& pre;
  const OcclusionFills& fills;
  int64_t first_row;                      // the split row of the batch's first image
  const std::vector<int64_t>& rows;       // the batch's split rows
  const torch::Tensor& x01;               // [k,1,S,S] in [0,1], on the model's device
  const torch::Tensor& masks;             // [k,S,S] uint8 region bits, CPU (zeros: no mask)
  const torch::Tensor& cam;               // [k,S,S] the maps, CPU
  const torch::Tensor& cam_grid;          // [k,h,w] the maps on the token grid
  const std::vector<char>& has_mask;      // per split row
  const std::vector<int64_t>& bone_rows;  // batch indices whose mask has bone pixels
  const ScoredSet& original;              // the unoccluded scores (split rows; this batch's filled in)
};

// The finished pass, as every study's report sees it.
struct StudyTotals {
  const ScoredSet& original;
  const std::vector<int>& labels;             // the true classes
  const std::vector<int>& target_class;       // the class each map explains
  const std::vector<char>& bone_scored;       // a mask with bone pixels
  const std::vector<std::string>& patient_id;
  const std::vector<uint32_t>& clusters;      // patients, or empty: resample images
  size_t n_units;
  const BootstrapOptions& bootstrap;
  bool cluster;
  const std::string& bone_reason;  // why there is no bone score ("" when there is one)
};

class ExplainStudy {
 public:
  virtual ~ExplainStudy() = default;
  virtual const char* name() const = 0;  // its timing's key in explain.json
  virtual void run_batch(const StudyBatch& batch) = 0;
  // Its blocks of explain.json. Studies report in the order explain lists them (mask
  // sensitivity, last, annotates the others' estimates).
  virtual void report(nlohmann::json& report, const StudyTotals& totals) const = 0;
  // Its columns of per_image.csv (none by default).
  virtual std::vector<std::string> csv_columns() const { return {}; }
  virtual std::vector<std::string> csv_values(int64_t row) const {
    (void)row;
    return {};
  }
};

}  // namespace osteofm
