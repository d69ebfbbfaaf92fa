// Reference levels for a map's region scores, so an IoU or CAM share can be read on its own
// (a reviewer's question: "is 0.3 good?"):
//   chance  - the mean score of maps that carry no information: uniform random values on the
//             backbone's token grid, brought to the image exactly as a CAM is (cam_from_grid),
//             seeded per image;
//   ceiling - the score of the best map the grid allows: the region mask area-pooled to the
//             token grid and brought back the same way;
//   normalised = (score - chance) / (ceiling - chance): 0 = chance, 1 = as good as the grid
//             permits, comparable between backbones whose grids differ (8x8 ... 37x37).
#pragma once
#include <cstdint>

#include <torch/types.h>

namespace osteofm {

// `draws` random maps [draws, S, S] for one image, from a grid of grid_h x grid_w cells.
torch::Tensor chance_maps(int64_t grid_h, int64_t grid_w, int64_t S, int draws, uint64_t seed);

// The region's grid-resolution map [S, S]: `region` [S, S] (bool or 0/1) area-pooled to
// grid_h x grid_w cells, then through cam_from_grid.
torch::Tensor ceiling_map(const torch::Tensor& region, int64_t grid_h, int64_t grid_w);

}  // namespace osteofm
