// DINOv2 (facebookresearch/dinov2 hub checkpoints and HF facebook/dinov2-*).
#include <regex>

#include "models/backbones/dinov2_layout.hpp"

namespace osteofm {

namespace {
ArchConfig dinov2_arch(int width, int depth, int heads, int mlp, int registers, bool swiglu = false) {
  ArchConfig a = adapter::vit_arch(14, 518, width, depth, heads, mlp, 1e-6);
  a.act = swiglu ? "swiglu" : "gelu";
  a.layerscale = true;
  a.registers = registers;
  return a;
}
// Strips a wrapper prefix ("dinov2." from Dinov2ForImageClassification, "backbone.").
std::string strip(const std::string& name) {
  for (const char* p : {"dinov2.", "backbone.", "module."})
    if (name.rfind(p, 0) == 0) return name.substr(std::string(p).size());
  return name;
}
}  // namespace

bool is_hf_dinov2_layout(const TensorMap& up) {
  for (const auto& [name, t] : up)
    if (strip(name).rfind("embeddings.", 0) == 0 || strip(name).rfind("encoder.layer.", 0) == 0) return true;
  return false;
}

std::string dinov2_auto_pos_interp(const TensorMap& up, const ArchConfig& arch) {
  if (arch.registers > 0) return "bicubic_aa";           // hub *_reg4 and HF Dinov2WithRegisters
  return is_hf_dinov2_layout(up) ? "bicubic" : "offset";  // HF >= 4.45 vs the original hub code
}

WeightMapping map_dinov2_weights(const TensorMap& raw, const ArchConfig& arch) {
  TensorMap in;
  for (const auto& [name, t] : raw) in[strip(name)] = t;
  std::map<std::string, bool> used;
  WeightMapping m;
  auto& out = m.canonical;
  using adapter::move;
  if (is_hf_dinov2_layout(in)) {
    move(in, used, out, "embeddings.cls_token", "cls_token");
    move(in, used, out, "embeddings.position_embeddings", "pos_embed");
    move(in, used, out, "embeddings.register_tokens", "register_tokens");
    move(in, used, out, "embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight");
    move(in, used, out, "embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias");
    adapter::move_block_modules(in, used, out, arch.depth, "encoder.layer.",
                                {{"norm1", "norm1"}, {"norm2", "norm2"}, {"attention.output.dense", "attn.proj"},
                                 {"mlp.fc1", "mlp.fc1"}, {"mlp.fc2", "mlp.fc2"}, {"mlp.weights_in", "mlp.w12"},
                                 {"mlp.weights_out", "mlp.w3"}});
    for (int i = 0; i < arch.depth; ++i) {
      const std::string s = "encoder.layer." + std::to_string(i) + ".", d = "blocks." + std::to_string(i) + ".";
      for (const char* wb : {"weight", "bias"}) {
        const std::string a = s + "attention.attention.", w = wb;
        adapter::fuse_qkv(in, used, out, a + "query." + w, a + "key." + w, a + "value." + w, d + "attn.qkv." + w);
      }
      move(in, used, out, s + "layer_scale1.lambda1", d + "ls1.gamma");
      move(in, used, out, s + "layer_scale2.lambda1", d + "ls2.gamma");
    }
    move(in, used, out, "layernorm.weight", "norm.weight");
    move(in, used, out, "layernorm.bias", "norm.bias");
  } else {
    // Hub layout is the canonical one; training checkpoints may chunk blocks
    // ("blocks.<chunk>.<i>.") when built with block_chunks > 0.
    static const std::regex chunked(R"(^blocks\.\d+\.(\d+)\.(.*)$)");
    for (const auto& [name, t] : in) {
      std::smatch mt;
      if (std::regex_match(name, mt, chunked)) {
        out["blocks." + mt[1].str() + "." + mt[2].str()] = t;
        used[name] = true;
      } else if (name != "mask_token") {
        out[name] = t;
        used[name] = true;
      }
    }
  }
  m.unexpected = adapter::unused_under(in, used, "", {"mask_token", "position_ids"});
  return m;
}

namespace {
class Dinov2Family : public BackboneFamily {
 public:
  std::string name() const override { return "dinov2"; }
  std::vector<BackbonePreset> presets() const override {
    // ImageNet statistics; HF BitImageProcessor: short side 256 (bicubic) -> centre crop 224
    // (crop fraction 0.875, floor offsets).
    Preprocessing pre;
    pre.size = 224;
    pre.crop_fraction = 0.875;
    std::vector<BackbonePreset> p = {
        {"dinov2-vits14", dinov2_arch(384, 12, 6, 1536, 0), pre, "DINOv2 ViT-S/14 (facebook/dinov2-small)"},
        {"dinov2-vitb14", dinov2_arch(768, 12, 12, 3072, 0), pre, "DINOv2 ViT-B/14 (facebook/dinov2-base)"},
        {"dinov2-vitl14", dinov2_arch(1024, 24, 16, 4096, 0), pre, "DINOv2 ViT-L/14 (facebook/dinov2-large)"},
        {"dinov2-vitg14", dinov2_arch(1536, 40, 24, 4096, 0, true), pre, "DINOv2 ViT-g/14, SwiGLU"},
        {"dinov2-vits14-reg4", dinov2_arch(384, 12, 6, 1536, 4), pre, "DINOv2 ViT-S/14 with 4 registers"},
        {"dinov2-vitb14-reg4", dinov2_arch(768, 12, 12, 3072, 4), pre, "DINOv2 ViT-B/14 with 4 registers"},
        {"dinov2-vitl14-reg4", dinov2_arch(1024, 24, 16, 4096, 4), pre, "DINOv2 ViT-L/14 with 4 registers"},
        {"dinov2-vitg14-reg4", dinov2_arch(1536, 40, 24, 4096, 4, true), pre, "DINOv2 ViT-g/14 with 4 registers"},
    };
    p.push_back(adapter::tiny_preset(p[1], "dinov2-tiny", "DINOv2 layout, CPU demo size (8x8 patches)"));
    return p;
  }
  bool wants(const std::string&) const override { return true; }
  WeightMapping map_weights(const TensorMap& up, const ArchConfig& arch) const override {
    return map_dinov2_weights(up, arch);
  }
  std::string auto_pos_interp(const TensorMap& up, const ArchConfig& arch) const override {
    return dinov2_auto_pos_interp(up, arch);
  }
};

const BackboneRegistrar dinov2_registrar(20, [] { return std::unique_ptr<BackboneFamily>(new Dinov2Family); });

}  // namespace
}  // namespace osteofm
