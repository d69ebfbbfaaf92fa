// Backbone families behind a registry: one file per family in models/backbones/, which
// registers itself (a BackboneRegistrar at namespace scope); presets, upstream tensor
// names, preprocessing.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include "data/preprocessing.hpp"
#include "models/arch.hpp"

namespace osteofm {

using TensorMap = std::map<std::string, torch::Tensor>;

struct BackbonePreset {
  std::string name;
  ArchConfig arch;
  Preprocessing preprocessing;
  std::string description;
};

// Upstream checkpoint -> the generic ViT's parameter names (models/vit.hpp).
struct WeightMapping {
  TensorMap canonical;
  std::vector<std::string> unexpected;  // inside the vision tower, but unknown
};

class BackboneFamily {
 public:
  virtual ~BackboneFamily() = default;
  virtual std::string name() const = 0;
  virtual std::vector<BackbonePreset> presets() const = 0;
  // True for tensors this family reads (selects shards of a sharded checkpoint).
  virtual bool wants(const std::string& tensor_name) const = 0;
  virtual WeightMapping map_weights(const TensorMap& upstream, const ArchConfig& arch) const = 0;
  // pos_interp for "auto", from the checkpoint's naming (hub vs HF, registers).
  virtual std::string auto_pos_interp(const TensorMap& upstream, const ArchConfig& arch) const = 0;
  // Architecture fields from an HF config.json found beside the weights.
  virtual void apply_hf_config(const nlohmann::json& config, ArchConfig& arch) const;
};

const std::vector<std::unique_ptr<BackboneFamily>>& backbone_families();
// Finds a preset by name; InputError listing the known presets otherwise.
const BackboneFamily& family_of_preset(const std::string& preset, BackbonePreset* out);
std::vector<std::string> preset_names();

// A family file registers itself with one object at namespace scope:
//   const BackboneRegistrar my_family_registrar(30, [] { return std::unique_ptr<BackboneFamily>(new MyFamily); });
// `rank` orders the families (and so the preset lists); the build compiles every file of
// models/backbones/ straight into each executable, so no registrar is dropped by the linker.
using BackboneFactory = std::unique_ptr<BackboneFamily> (*)();
struct BackboneRegistrar {
  BackboneRegistrar(int rank, BackboneFactory make);
};

// Helpers shared by the adapters.
namespace adapter {
// Moves `from` (if present) to `to` in `out`, marking it used.
bool move(const TensorMap& in, std::map<std::string, bool>& used, TensorMap& out, const std::string& from,
          const std::string& to);
// Concatenates q, k, v tensors (rows) into a fused qkv tensor when all are present.
bool fuse_qkv(const TensorMap& in, std::map<std::string, bool>& used, TensorMap& out, const std::string& q,
              const std::string& k, const std::string& v, const std::string& to);
// Every tensor under `prefix` that was not used.
std::vector<std::string> unused_under(const TensorMap& in, const std::map<std::string, bool>& used,
                                      const std::string& prefix, const std::vector<std::string>& ignorable_suffixes);
// For every block i < depth and each (upstream, canonical) module pair, moves
// "<prefix><i>.<upstream>.{weight,bias}" to "blocks.<i>.<canonical>.{weight,bias}".
void move_block_modules(const TensorMap& in, std::map<std::string, bool>& used, TensorMap& out, int depth,
                        const std::string& prefix, const std::vector<std::pair<std::string, std::string>>& modules);
// A ViT architecture with the fields every preset sets.
ArchConfig vit_arch(int patch, int image, int width, int depth, int heads, int mlp, double norm_eps);
// The CPU demo size of a preset's layout: width 96, depth 4, 4 heads, an 8x8 patch grid.
BackbonePreset tiny_preset(const BackbonePreset& full, const std::string& name, const std::string& description);
// Applies HF Dinov2Config / CLIP / BLIP-2 style config fields.
void apply_hf_vit_fields(const nlohmann::json& config, ArchConfig& arch);
}  // namespace adapter

}  // namespace osteofm
