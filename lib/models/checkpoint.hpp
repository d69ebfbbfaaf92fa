// Building a backbone: preset + optional arch JSON + optional weights (safetensors,
// a sharded HF checkpoint's index JSON, HF config.json beside the weights).
#pragma once
#include <cstdint>
#include <string>

#include "models/backbone.hpp"
#include "models/vit.hpp"

namespace osteofm {

struct BackboneSpec {
  std::string preset;     // e.g. "dinov2-vitb14"
  std::string arch_file;  // optional arch JSON overriding the preset (and config.json)
  std::string weights;    // optional; without weights the model is randomly initialised
  uint64_t seed = 0;      // random initialisation seed
};

struct Backbone {
  BackbonePreset preset;  // arch as finally used (pos_interp resolved)
  const BackboneFamily* family = nullptr;
  VisionTransformer vit{nullptr};
  std::string weights;
};

// Reads every tensor the family wants. .safetensors is memory-mapped; *.index.json opens
// only the shards that hold wanted tensors; .pth/.bin/.pt are refused (a pickle can run
// code) with the command that converts them.
TensorMap read_checkpoint(const std::string& path, const BackboneFamily& family);

// The weights file to load for a preset: "random" means random initialisation on purpose
// (returned as ""); an empty value is refused for a real preset (only the "-tiny" ones
// exist to run on random weights), naming `what` (the flag or config key) and the fix.
std::string backbone_weights(const std::string& preset, const std::string& weights, const std::string& what);
bool is_random_weights(const std::string& weights);  // "random"

// Missing, unexpected and wrongly shaped tensors are all listed in one InputError:
// "<weights>: 2 missing (blocks.3.attn.qkv.weight [192,64], ...); 1 shape mismatch (...)".
Backbone load_backbone(const BackboneSpec& spec);

}  // namespace osteofm
