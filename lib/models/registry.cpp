#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/ranked_registry.hpp"
#include "models/backbone.hpp"

namespace osteofm {

BackboneRegistrar::BackboneRegistrar(int rank, BackboneFactory make) { register_ranked(rank, make); }

const std::vector<std::unique_ptr<BackboneFamily>>& backbone_families() {
  static const std::vector<std::unique_ptr<BackboneFamily>> families = [] {
    std::vector<std::unique_ptr<BackboneFamily>> f;
    for (const BackboneFactory make : ranked_entries<BackboneFactory>()) f.push_back(make());
    return f;
  }();
  return families;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& f : backbone_families())
    for (const auto& p : f->presets()) names.push_back(p.name);
  return names;
}

const BackboneFamily& family_of_preset(const std::string& preset, BackbonePreset* out) {
  for (const auto& f : backbone_families())
    for (const auto& p : f->presets())
      if (p.name == preset) {
        if (out) *out = p;
        return *f;
      }
  std::string list;
  for (const auto& n : preset_names()) list += (list.empty() ? "" : ", ") + n;
  throw InputError("unknown backbone preset '" + preset + "' (known: " + list + ")");
}

void BackboneFamily::apply_hf_config(const nlohmann::json& config, ArchConfig& arch) const {
  adapter::apply_hf_vit_fields(config, arch);
}

namespace adapter {

bool move(const TensorMap& in, std::map<std::string, bool>& used, TensorMap& out, const std::string& from,
          const std::string& to) {
  auto it = in.find(from);
  if (it == in.end()) return false;
  out[to] = it->second;
  used[from] = true;
  return true;
}

bool fuse_qkv(const TensorMap& in, std::map<std::string, bool>& used, TensorMap& out, const std::string& q,
              const std::string& k, const std::string& v, const std::string& to) {
  auto iq = in.find(q), ik = in.find(k), iv = in.find(v);
  if (iq == in.end() || ik == in.end() || iv == in.end()) return false;
  out[to] = torch::cat({iq->second, ik->second, iv->second}, 0);
  used[q] = used[k] = used[v] = true;
  return true;
}

std::vector<std::string> unused_under(const TensorMap& in, const std::map<std::string, bool>& used,
                                      const std::string& prefix, const std::vector<std::string>& ignorable) {
  std::vector<std::string> out;
  for (const auto& [name, t] : in) {
    if (name.rfind(prefix, 0) != 0 || used.count(name)) continue;
    bool ignore = false;
    for (const auto& s : ignorable)
      ignore = ignore || (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0);
    if (!ignore) out.push_back(name);
  }
  return out;
}

void move_block_modules(const TensorMap& in, std::map<std::string, bool>& used, TensorMap& out, int depth,
                        const std::string& prefix, const std::vector<std::pair<std::string, std::string>>& modules) {
  for (int i = 0; i < depth; ++i)
    for (const auto& [from, to] : modules)
      for (const char* wb : {".weight", ".bias"})
        move(in, used, out, prefix + std::to_string(i) + "." + from + wb, "blocks." + std::to_string(i) + "." + to + wb);
}

ArchConfig vit_arch(int patch, int image, int width, int depth, int heads, int mlp, double norm_eps) {
  ArchConfig a;
  a.patch_size = patch;
  a.image_size = image;
  a.width = width;
  a.depth = depth;
  a.heads = heads;
  a.mlp_dim = mlp;
  a.norm_eps = norm_eps;
  return a;
}

BackbonePreset tiny_preset(const BackbonePreset& full, const std::string& name, const std::string& description) {
  BackbonePreset t = full;
  t.name = name;
  t.description = description;
  t.arch.width = 96;
  t.arch.depth = 4;
  t.arch.heads = 4;
  t.arch.mlp_dim = t.arch.act == "swiglu" ? 256 : 384;
  t.arch.image_size = 8 * t.arch.patch_size;
  if (t.arch.proj_dim > 0) t.arch.proj_dim = 64;
  t.preprocessing.size = t.arch.image_size;
  // The phantom's whole field of view: its marker and bones reach into the margin a 0.875
  // crop would cut.
  t.preprocessing.crop_fraction = 1.0;
  return t;
}

void apply_hf_vit_fields(const nlohmann::json& c, ArchConfig& a) {
  auto num = [&](const char* k) { return c.contains(k) && c[k].is_number(); };
  if (num("hidden_size")) a.width = c["hidden_size"].get<int>();
  if (num("num_hidden_layers")) a.depth = c["num_hidden_layers"].get<int>();
  if (num("num_attention_heads")) a.heads = c["num_attention_heads"].get<int>();
  if (num("intermediate_size")) a.mlp_dim = c["intermediate_size"].get<int>();
  else if (num("mlp_ratio")) a.mlp_dim = static_cast<int>(a.width * c["mlp_ratio"].get<double>());
  if (num("layer_norm_eps")) a.norm_eps = c["layer_norm_eps"].get<double>();
  if (num("image_size")) a.image_size = c["image_size"].get<int>();
  if (num("patch_size")) a.patch_size = c["patch_size"].get<int>();
  if (num("num_register_tokens")) a.registers = c["num_register_tokens"].get<int>();
  if (c.contains("use_swiglu_ffn") && c["use_swiglu_ffn"].is_boolean() && c["use_swiglu_ffn"].get<bool>()) {
    a.act = "swiglu";
    // DINOv2's SwiGLU hidden size: round-up-to-8 of floor(2/3 * 4 * D).
    const int hidden = (static_cast<int>(a.mlp_dim * 2 / 3) + 7) / 8 * 8;
    a.mlp_dim = hidden;
  }
  if (c.contains("hidden_act") && c["hidden_act"].is_string()) {
    const std::string act = c["hidden_act"];
    if (act == "gelu") a.act = a.act == "swiglu" ? a.act : "gelu";
    else if (act == "quick_gelu") a.act = "quick_gelu";
    else if (act == "gelu_pytorch_tanh" || act == "gelu_new") a.act = "gelu_tanh";
    else throw InputError("config.json: unsupported hidden_act '" + act + "'");
  }
}

}  // namespace adapter
}  // namespace osteofm
