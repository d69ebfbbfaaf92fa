// The generic ViT's architecture (design.md "Backbone presets and the arch JSON").
#pragma once
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/preset_name.hpp"

namespace osteofm {

struct ArchConfig {
  int patch_size = 14, image_size = 518, width = 768, depth = 12, heads = 12, mlp_dim = 3072;
  std::string act = "gelu";        // gelu | gelu_tanh | quick_gelu | swiglu
  double norm_eps = 1e-6;
  bool layerscale = false;
  int registers = 0;
  std::string qkv_bias = "full";   // full | qv | none
  bool ln_pre = false, final_norm = true;
  // A family without a class token (SigLIP-style) sets class_token false and pools the
  // patch tokens ("mean"); "cls" needs the token. map (SigLIP's attention-pool head) is
  // refused until a preset needs it.
  bool class_token = true;
  std::string pool = "cls";        // cls | mean
  int proj_dim = 0;
  bool patch_bias = true;
  std::string pos_interp = "auto"; // auto | offset | bicubic | bicubic_aa

  int grid() const { return image_size / patch_size; }
};

// Overrides `base` with the fields present in `j`. Unknown fields, wrong types and
// inconsistent values (width not divisible by heads, ...) throw InputError naming `source`.
ArchConfig arch_from_json(const nlohmann::json& j, ArchConfig base, const std::string& source);
nlohmann::json arch_to_json(const ArchConfig& arch);
// Checks internal consistency; throws InputError("<source>: ...").
void validate_arch(const ArchConfig& arch, const std::string& source);

}  // namespace osteofm
