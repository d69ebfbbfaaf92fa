// OpenCLIP (open_clip state dicts, "visual." prefix) and HF CLIPModel copies
// ("vision_model." + "visual_projection.weight").
#include <nlohmann/json.hpp>

#include "models/backbone.hpp"

namespace osteofm {

namespace {
ArchConfig clip_arch(int patch, int width, int depth, int heads, int mlp, int proj) {
  ArchConfig a = adapter::vit_arch(patch, 224, width, depth, heads, mlp, 1e-5);
  a.act = "gelu";  // LAION weights; OpenAI-style tags use quick_gelu (override with --arch)
  a.ln_pre = true;
  a.proj_dim = proj;
  a.patch_bias = false;
  return a;
}

class OpenClipFamily : public BackboneFamily {
 public:
  std::string name() const override { return "openclip"; }
  std::vector<BackbonePreset> presets() const override {
    // OpenAI CLIP statistics (ViT-B-16 laion2b_s34b_b88k); torchvision Resize(224, bicubic) +
    // CenterCrop(224), whose offset rounds half to even.
    Preprocessing openai;
    openai.crop_offset = "round";
    openai.mean = {0.48145466, 0.4578275, 0.40821073};
    openai.std = {0.26862954, 0.26130258, 0.27577711};
    Preprocessing inception = openai;  // open_clip overrides ViT-L-14 laion2b_s32b_b82k to 0.5/0.5
    inception.mean = {0.5, 0.5, 0.5};
    inception.std = {0.5, 0.5, 0.5};
    const BackbonePreset b16{"openclip-vitb16", clip_arch(16, 768, 12, 12, 3072, 512), openai,
                             "OpenCLIP ViT-B-16 laion2b_s34b_b88k"};
    return {b16,
            {"openclip-vitl14", clip_arch(14, 1024, 24, 16, 4096, 768), inception, "OpenCLIP ViT-L-14 laion2b_s32b_b82k"},
            adapter::tiny_preset(b16, "openclip-tiny", "OpenCLIP layout, CPU demo size (8x8 patches)")};
  }
  bool wants(const std::string& n) const override {
    return n.rfind("visual.", 0) == 0 || n.rfind("vision_model.", 0) == 0 || n == "visual_projection.weight";
  }
  WeightMapping map_weights(const TensorMap& in, const ArchConfig& arch) const override {
    std::map<std::string, bool> used;
    WeightMapping m;
    auto& out = m.canonical;
    using adapter::move;
    const bool hf = in.count("vision_model.embeddings.class_embedding") > 0;
    if (!hf) {
      const std::string v = "visual.";
      if (in.count(v + "class_embedding")) {
        out["cls_token"] = in.at(v + "class_embedding").reshape({1, 1, -1});
        used[v + "class_embedding"] = true;
      }
      if (in.count(v + "positional_embedding")) {
        const auto& p = in.at(v + "positional_embedding");
        out["pos_embed"] = p.dim() == 2 ? p.unsqueeze(0) : p;
        used[v + "positional_embedding"] = true;
      }
      move(in, used, out, v + "conv1.weight", "patch_embed.proj.weight");
      move(in, used, out, v + "proj", "proj");
      for (const char* wb : {"weight", "bias"}) {
        const std::string w = wb;
        move(in, used, out, v + "ln_pre." + w, "ln_pre." + w);
        move(in, used, out, v + "ln_post." + w, "norm." + w);
        for (int i = 0; i < arch.depth; ++i)  // a bare Parameter pair, not a Linear module
          move(in, used, out, v + "transformer.resblocks." + std::to_string(i) + ".attn.in_proj_" + w,
               "blocks." + std::to_string(i) + ".attn.qkv." + w);
      }
      adapter::move_block_modules(in, used, out, arch.depth, v + "transformer.resblocks.",
                                  {{"ln_1", "norm1"}, {"ln_2", "norm2"}, {"attn.out_proj", "attn.proj"},
                                   {"mlp.c_fc", "mlp.fc1"}, {"mlp.c_proj", "mlp.fc2"}});
      m.unexpected = adapter::unused_under(in, used, v, {"position_ids"});
    } else {
      const std::string e = "vision_model.embeddings.";
      out["cls_token"] = in.at(e + "class_embedding").reshape({1, 1, -1});
      used[e + "class_embedding"] = true;
      if (in.count(e + "position_embedding.weight")) {
        out["pos_embed"] = in.at(e + "position_embedding.weight").unsqueeze(0);
        used[e + "position_embedding.weight"] = true;
      }
      move(in, used, out, e + "patch_embedding.weight", "patch_embed.proj.weight");
      if (in.count("visual_projection.weight")) {
        out["proj"] = in.at("visual_projection.weight").t().contiguous();  // HF stores proj^T
        used["visual_projection.weight"] = true;
      }
      for (const char* wb : {"weight", "bias"}) {
        const std::string w = wb;
        move(in, used, out, "vision_model.pre_layrnorm." + w, "ln_pre." + w);
        move(in, used, out, "vision_model.post_layernorm." + w, "norm." + w);
        for (int i = 0; i < arch.depth; ++i) {
          const std::string s = "vision_model.encoder.layers." + std::to_string(i) + ".self_attn.";
          adapter::fuse_qkv(in, used, out, s + "q_proj." + w, s + "k_proj." + w, s + "v_proj." + w,
                            "blocks." + std::to_string(i) + ".attn.qkv." + w);
        }
      }
      adapter::move_block_modules(in, used, out, arch.depth, "vision_model.encoder.layers.",
                                  {{"layer_norm1", "norm1"}, {"layer_norm2", "norm2"}, {"self_attn.out_proj", "attn.proj"},
                                   {"mlp.fc1", "mlp.fc1"}, {"mlp.fc2", "mlp.fc2"}});
      m.unexpected = adapter::unused_under(in, used, "vision_model.", {"position_ids"});
    }
    return m;
  }
  // open_clip resizes its table at load time with antialiased bicubic (resize_pos_embed).
  std::string auto_pos_interp(const TensorMap&, const ArchConfig&) const override { return "bicubic_aa"; }
  void apply_hf_config(const nlohmann::json& config, ArchConfig& arch) const override;
};

void OpenClipFamily::apply_hf_config(const nlohmann::json& c, ArchConfig& arch) const {
  if (c.contains("vision_config")) adapter::apply_hf_vit_fields(c["vision_config"], arch);
  if (c.contains("projection_dim") && c["projection_dim"].is_number()) arch.proj_dim = c["projection_dim"].get<int>();
}

const BackboneRegistrar openclip_registrar(10, [] { return std::unique_ptr<BackboneFamily>(new OpenClipFamily); });

}  // namespace
}  // namespace osteofm
