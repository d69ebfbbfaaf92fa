// DINOv2 tensor layouts (torch.hub originals and HF Dinov2Model), shared by the dinov2
// and rad-dino families (RAD-DINO is DINOv2 continued on chest X-rays).
#pragma once
#include "models/backbone.hpp"

namespace osteofm {

bool is_hf_dinov2_layout(const TensorMap& upstream);
WeightMapping map_dinov2_weights(const TensorMap& upstream, const ArchConfig& arch);
std::string dinov2_auto_pos_interp(const TensorMap& upstream, const ArchConfig& arch);

}  // namespace osteofm
