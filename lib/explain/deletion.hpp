// Deletion curves (Petsiuk et al. 2018, RISE): remove a map's top-ranked token-grid cells
// in steps (filled as Δbone fills), and watch the explained class's probability and the
// macro AUC fall. A map that shows what the model uses makes them fall faster than a random
// order of the same cells; the areas under the two curves say which map is faithful on this
// model instead of assuming it.
#pragma once
#include <cstdint>
#include <vector>

#include <torch/types.h>

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

}  // namespace osteofm
