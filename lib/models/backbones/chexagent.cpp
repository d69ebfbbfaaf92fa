// CheXagent-8b's vision tower: a BLIP-2 / EVA-CLIP-g ViT under "vision_model." in the
// sharded CheXagent checkpoint (HF Blip2 naming), or LAVIS' "visual_encoder." naming.
#include <nlohmann/json.hpp>

#include "models/backbone.hpp"

namespace osteofm {

namespace {
class CheXagentFamily : public BackboneFamily {
 public:
  std::string name() const override { return "chexagent"; }
  std::vector<BackbonePreset> presets() const override {
    ArchConfig a = adapter::vit_arch(14, 448, 1408, 40, 16, 6144, 1e-6);
    a.qkv_bias = "qv";
    Preprocessing pre;  // BlipImageProcessor: squash to 448, OpenAI CLIP statistics
    pre.size = 448;
    pre.squash = true;
    pre.mean = {0.48145466, 0.4578275, 0.40821073};
    pre.std = {0.26862954, 0.26130258, 0.27577711};
    const BackbonePreset full{"chexagent-8b-vision", a, pre,
                              "CheXagent-8b vision encoder (StanfordAIMI/CheXagent-8b, vision_model.*)"};
    return {full, adapter::tiny_preset(full, "chexagent-tiny", "CheXagent vision layout, CPU demo size (8x8 patches)")};
  }
  bool wants(const std::string& n) const override {
    return n.rfind("vision_model.", 0) == 0 || n.rfind("visual_encoder.", 0) == 0 || n.rfind("ln_vision.", 0) == 0;
  }
  WeightMapping map_weights(const TensorMap& in, const ArchConfig& arch) const override {
    std::map<std::string, bool> used;
    WeightMapping m;
    auto& out = m.canonical;
    using adapter::move;
    if (in.count("visual_encoder.cls_token")) {  // LAVIS eva_vit
      const std::string v = "visual_encoder.";
      move(in, used, out, v + "cls_token", "cls_token");
      move(in, used, out, v + "pos_embed", "pos_embed");
      move(in, used, out, v + "patch_embed.proj.weight", "patch_embed.proj.weight");
      move(in, used, out, v + "patch_embed.proj.bias", "patch_embed.proj.bias");
      for (int i = 0; i < arch.depth; ++i) {
        const std::string s = v + "blocks." + std::to_string(i) + ".", d = "blocks." + std::to_string(i) + ".";
        move(in, used, out, s + "attn.qkv.weight", d + "attn.qkv.weight");
        if (in.count(s + "attn.q_bias") && in.count(s + "attn.v_bias")) {
          const auto& q = in.at(s + "attn.q_bias");
          out[d + "attn.qkv.bias"] = torch::cat({q, torch::zeros_like(q), in.at(s + "attn.v_bias")});
          used[s + "attn.q_bias"] = used[s + "attn.v_bias"] = true;
        }
      }
      adapter::move_block_modules(in, used, out, arch.depth, v + "blocks.",
                                  {{"norm1", "norm1"}, {"norm2", "norm2"}, {"attn.proj", "attn.proj"},
                                   {"mlp.fc1", "mlp.fc1"}, {"mlp.fc2", "mlp.fc2"}});
      move(in, used, out, "ln_vision.weight", "norm.weight");
      move(in, used, out, "ln_vision.bias", "norm.bias");
      m.unexpected = adapter::unused_under(in, used, v, {});
      return m;
    }
    const std::string v = "vision_model.";
    move(in, used, out, v + "embeddings.class_embedding", "cls_token");
    move(in, used, out, v + "embeddings.position_embedding", "pos_embed");
    move(in, used, out, v + "embeddings.patch_embedding.weight", "patch_embed.proj.weight");
    move(in, used, out, v + "embeddings.patch_embedding.bias", "patch_embed.proj.bias");
    move(in, used, out, v + "post_layernorm.weight", "norm.weight");
    move(in, used, out, v + "post_layernorm.bias", "norm.bias");
    adapter::move_block_modules(in, used, out, arch.depth, v + "encoder.layers.",
                                {{"layer_norm1", "norm1"}, {"layer_norm2", "norm2"}, {"self_attn.qkv", "attn.qkv"},
                                 {"self_attn.projection", "attn.proj"}, {"mlp.fc1", "mlp.fc1"}, {"mlp.fc2", "mlp.fc2"}});
    m.unexpected = adapter::unused_under(in, used, v, {"position_ids"});
    return m;
  }
  // LAVIS / HF BLIP-2 style: bicubic to size, no antialias (CheXagent itself only slices).
  std::string auto_pos_interp(const TensorMap&, const ArchConfig&) const override { return "bicubic"; }
  void apply_hf_config(const nlohmann::json& c, ArchConfig& arch) const override {
    adapter::apply_hf_vit_fields(c.contains("vision_config") ? c["vision_config"] : c, arch);
  }
};

const BackboneRegistrar chexagent_registrar(30, [] { return std::unique_ptr<BackboneFamily>(new CheXagentFamily); });

}  // namespace
}  // namespace osteofm
