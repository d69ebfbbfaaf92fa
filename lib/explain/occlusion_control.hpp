// The area-matched control of Δbone: "does hiding this many pixels hurt whatever they
// show?" For one image, random square blocks are taken from the pixels outside every bone
// and control region (soft tissue, background), in a seeded order, until as many pixels are
// covered as the image's bones have; the control's occlusion is those pixels. Δbone minus
// the control's Δ is the part of Δbone that is about bone, not about area.
#pragma once
#include <cstdint>

#include <torch/types.h>

namespace osteofm {

struct AreaControl {
  torch::Tensor occlude;  // [S, S] bool
  int64_t target = 0;     // bone pixels of the image
  int64_t covered = 0;    // pixels of `occlude` (less than target when too little is free)
};

// `mask` [S, S] uint8 region bits; blocks of `block` x `block` pixels on a grid.
AreaControl area_matched_control(const torch::Tensor& mask, uint8_t bone_bits, uint8_t control_bits, int64_t block,
                                 uint64_t seed);

}  // namespace osteofm
