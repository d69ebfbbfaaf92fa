// RAD-DINO (microsoft/rad-dino): DINOv2 ViT-B/14 continued on chest X-rays, HF layout,
// its own processor statistics (mean 0.5307, std 0.2583, 518 px).
#include "models/backbones/dinov2_layout.hpp"

namespace osteofm {

namespace {
class RadDinoFamily : public BackboneFamily {
 public:
  std::string name() const override { return "rad-dino"; }
  std::vector<BackbonePreset> presets() const override {
    ArchConfig a = adapter::vit_arch(14, 518, 768, 12, 12, 3072, 1e-6);
    a.layerscale = true;
    Preprocessing pre;
    pre.size = 518;
    pre.mean = {0.5307, 0.5307, 0.5307};
    pre.std = {0.2583, 0.2583, 0.2583};
    const BackbonePreset full{"rad-dino", a, pre, "RAD-DINO ViT-B/14 (microsoft/rad-dino, model.safetensors)"};
    return {full, adapter::tiny_preset(full, "rad-dino-tiny", "RAD-DINO layout, CPU demo size (8x8 patches)")};
  }
  bool wants(const std::string&) const override { return true; }
  WeightMapping map_weights(const TensorMap& up, const ArchConfig& arch) const override {
    return map_dinov2_weights(up, arch);  // model.safetensors (HF) or backbone_compatible.safetensors (hub)
  }
  std::string auto_pos_interp(const TensorMap& up, const ArchConfig& arch) const override {
    return dinov2_auto_pos_interp(up, arch);
  }
};

const BackboneRegistrar rad_dino_registrar(40, [] { return std::unique_ptr<BackboneFamily>(new RadDinoFamily); });

}  // namespace
}  // namespace osteofm
