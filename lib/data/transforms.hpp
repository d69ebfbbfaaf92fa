// Radiograph -> model input as tensor ops: the family's geometry (resize and crop, or
// squash), 16-bit quantisation, grey -> RGB and mean/std; masks follow the same geometry.
#pragma once
#include <cstdint>

#include <torch/types.h>

#include "data/preprocessing.hpp"
#include "io/image.hpp"

namespace osteofm {

// A radiograph in [0,1] -> the family's model input [3, S, S]: resize (short side + centre
// crop, or squash) with PIL's antialiased bicubic filter, grey replicated to RGB, the
// family's mean/std. Works on the float image: no 8-bit rounding of 12-16-bit data.
torch::Tensor preprocess_image(const GrayImage& image, const Preprocessing& pre);
// The two halves of preprocess_image: resize/crop to [1, S, S] in [0,1] (where training
// augments), then grey -> RGB and mean/std for a batch [B, 1, S, S] -> [B, 3, S, S].
torch::Tensor resize_image(const GrayImage& image, const Preprocessing& pre);
torch::Tensor normalize_batch(const torch::Tensor& gray01, const Preprocessing& pre);
// A region mask (8-bit bits, height x width) with the image's geometry, by nearest
// neighbour (half-pixel centres): [S, S] uint8.
torch::Tensor resize_mask(const uint8_t* mask, int height, int width, const Preprocessing& pre);
// round(x * 65535) / 65535: the 16-bit grid every model input lies on.
torch::Tensor quantize16(const torch::Tensor& x01);

}  // namespace osteofm
