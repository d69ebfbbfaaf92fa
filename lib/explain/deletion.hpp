// Deletion curves (Petsiuk et al. 2018, RISE): remove a map's top-ranked token-grid cells
// in steps (filled as Δbone fills), and watch the explained class's probability and the
// macro AUC fall. A map that shows what the model uses makes them fall faster than a random
// order of the same cells; the areas under the two curves say which map is faithful on this
// model instead of assuming it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "eval/metrics.hpp"
#include "explain/explain_study.hpp"
#include "models/classifier.hpp"
#include "models/embed.hpp"

namespace osteofm {

// Fractions of the grid's cells removed at each step: 0, 1/steps, ..., 1.
std::vector<double> deletion_fractions(int steps);

// Per image, cell indices of a [h, w] grid from the highest map value to the lowest (ties:
// lower index first), or in a seeded random order.
std::vector<int64_t> cells_by_map(const torch::Tensor& grid);
std::vector<int64_t> cells_in_random_order(int64_t cells, uint64_t seed);

// Softmax probabilities [k, C] (CPU, float64) of the images `gray01` [k,1,H,W] with, for
// image j, the first `remove` cells of `order[j]` replaced by `fill` [k,1,H,W]; `cell` = the
// patch size in pixels, `grid_w` the grid's width.
torch::Tensor probabilities_with_cells_removed(Classifier& model, const Preprocessing& pre, const torch::Tensor& gray01,
                                               const torch::Tensor& fill, const std::vector<std::vector<int64_t>>& order,
                                               int64_t remove, int64_t cell, int64_t grid_w);

// Trapezoidal area under y(x).
double curve_area(const std::vector<double>& x, const std::vector<double>& y);

// The deletion study of `osteofm explain`: every image, its map's cell order and a seeded
// random order, removed in `steps` equal steps (filled with `fill`, explain's first fill).
class DeletionStudy : public ExplainStudy {
 public:
  // steps 0: no study. `blank`: the split's labels with room for every image's scores.
  DeletionStudy(int steps, uint64_t seed, const ScoredSet& blank, std::string fill);
  bool enabled() const { return !fractions_.empty(); }
  // The batch `x01` [k,1,S,S] from split row `first_row`, its maps' token grids `cam_grid`
  // [k,h,w], its fill [k,1,S,S] and its unoccluded scores (in `original`, split rows).
  void run_batch(Classifier& model, const Preprocessing& pre, const torch::Tensor& x01, const torch::Tensor& fill,
                 const torch::Tensor& cam_grid, const ScoredSet& original, int64_t first_row);
  // explain.json's "deletion": curves of the explained class's mean probability
  // (`target_class` per image) and of the macro AUC, their areas, and the per-image area
  // gap random - map as `mean_ci` reports a mean with its CI.
  nlohmann::json report(const std::vector<int>& target_class, const std::string& fill,
                        const std::function<nlohmann::json(const std::vector<double>&)>& mean_ci) const;

  const char* name() const override { return "deletion"; }
  void run_batch(const StudyBatch& batch) override;
  void report(nlohmann::json& report, const StudyTotals& totals) const override;  // "deletion", when enabled

 private:
  std::string fill_;
  std::vector<double> fractions_;
  uint64_t seed_;
  std::vector<ScoredSet> by_map_, by_random_;  // [step]
};

}  // namespace osteofm
