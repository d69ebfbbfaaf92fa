// RAD-DINO (microsoft/rad-dino): DINOv2 ViT-B/14 continued on chest X-rays, HF layout,
// its own processor statistics (mean 0.5307, std 0.2583, 518 px).
#include "models/backbones/dinov2_layout.hpp"

namespace osteofm {

namespace {
class RadDinoFamily : public BackboneFamily {
 public:
  std::string name() const override { return "rad-dino"; }
  std::vector<BackbonePreset> presets() const override {
    ArchConfig a;
    a.patch_size = 14;
    a.image_size = 518;
    a.width = 768;
    a.depth = 12;
    a.heads = 12;
    a.mlp_dim = 3072;
    a.norm_eps = 1e-6;
    a.layerscale = true;
    Preprocessing pre;
    pre.size = 518;
    pre.mean = {0.5307, 0.5307, 0.5307};
    pre.std = {0.2583, 0.2583, 0.2583};
    ArchConfig tiny = a;
    tiny.width = 96;
    tiny.depth = 4;
    tiny.heads = 4;
    tiny.mlp_dim = 384;
    tiny.image_size = 112;
    Preprocessing tiny_pre = pre;
    tiny_pre.size = 112;
    return {{"rad-dino", a, pre, "RAD-DINO ViT-B/14 (microsoft/rad-dino, model.safetensors)"},
            {"rad-dino-tiny", tiny, tiny_pre, "RAD-DINO layout, CPU demo size (8x8 patches)"}};
  }
  bool wants(const std::string&) const override { return true; }
  WeightMapping map_weights(const TensorMap& up, const ArchConfig& arch) const override {
    return map_dinov2_weights(up, arch);  // model.safetensors (HF) or backbone_compatible.safetensors (hub)
  }
  std::string auto_pos_interp(const TensorMap& up, const ArchConfig& arch) const override {
    return dinov2_auto_pos_interp(up, arch);
  }
};
}  // namespace

std::unique_ptr<BackboneFamily> make_rad_dino_family() { return std::make_unique<RadDinoFamily>(); }

}  // namespace osteofm
