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
    ArchConfig a;
    a.patch_size = 14;
    a.image_size = 448;
    a.width = 1408;
    a.depth = 40;
    a.heads = 16;
    a.mlp_dim = 6144;
    a.norm_eps = 1e-6;
    a.qkv_bias = "qv";
    Preprocessing pre;  // BlipImageProcessor: squash to 448, OpenAI CLIP statistics
    pre.size = 448;
    pre.squash = true;
    pre.mean = {0.48145466, 0.4578275, 0.40821073};
    pre.std = {0.26862954, 0.26130258, 0.27577711};
    ArchConfig tiny = a;
    tiny.width = 96;
    tiny.depth = 4;
    tiny.heads = 4;
    tiny.mlp_dim = 384;
    tiny.image_size = 112;
    Preprocessing tiny_pre = pre;
    tiny_pre.size = 112;
    return {{"chexagent-8b-vision", a, pre, "CheXagent-8b vision encoder (StanfordAIMI/CheXagent-8b, vision_model.*)"},
            {"chexagent-tiny", tiny, tiny_pre, "CheXagent vision layout, CPU demo size (8x8 patches)"}};
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
        for (const char* wb : {"weight", "bias"}) {
          const std::string w = wb;
          move(in, used, out, s + "norm1." + w, d + "norm1." + w);
          move(in, used, out, s + "norm2." + w, d + "norm2." + w);
          move(in, used, out, s + "attn.proj." + w, d + "attn.proj." + w);
          move(in, used, out, s + "mlp.fc1." + w, d + "mlp.fc1." + w);
          move(in, used, out, s + "mlp.fc2." + w, d + "mlp.fc2." + w);
        }
      }
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
    for (const char* wb : {"weight", "bias"}) {
      const std::string w = wb;
      move(in, used, out, v + "post_layernorm." + w, "norm." + w);
      for (int i = 0; i < arch.depth; ++i) {
        const std::string s = v + "encoder.layers." + std::to_string(i) + ".", d = "blocks." + std::to_string(i) + ".";
        move(in, used, out, s + "layer_norm1." + w, d + "norm1." + w);
        move(in, used, out, s + "layer_norm2." + w, d + "norm2." + w);
        move(in, used, out, s + "self_attn.qkv." + w, d + "attn.qkv." + w);
        move(in, used, out, s + "self_attn.projection." + w, d + "attn.proj." + w);
        move(in, used, out, s + "mlp.fc1." + w, d + "mlp.fc1." + w);
        move(in, used, out, s + "mlp.fc2." + w, d + "mlp.fc2." + w);
      }
    }
    m.unexpected = adapter::unused_under(in, used, v, {"position_ids"});
    return m;
  }
  // LAVIS / HF BLIP-2 style: bicubic to size, no antialias (CheXagent itself only slices).
  std::string auto_pos_interp(const TensorMap&, const ArchConfig&) const override { return "bicubic"; }
  void apply_hf_config(const nlohmann::json& c, ArchConfig& arch) const override {
    adapter::apply_hf_vit_fields(c.contains("vision_config") ? c["vision_config"] : c, arch);
  }
};
}  // namespace

std::unique_ptr<BackboneFamily> make_chexagent_family() { return std::make_unique<CheXagentFamily>(); }

}  // namespace osteofm
