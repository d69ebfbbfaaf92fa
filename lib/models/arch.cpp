#include "models/arch.hpp"

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

namespace {
template <typename T>
void take(const json& j, const char* key, T& out, const std::string& source) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    throw InputError(source + ": arch field '" + key + "' has the wrong type");
  }
}
}  // namespace

void validate_arch(const ArchConfig& a, const std::string& source) {
  auto bad = [&](const std::string& why) { throw InputError(source + ": arch: " + why); };
  if (a.patch_size <= 0 || a.image_size <= 0 || a.width <= 0 || a.depth <= 0 || a.heads <= 0 || a.mlp_dim <= 0)
    bad("sizes must be positive");
  if (a.width % a.heads != 0) bad("width " + std::to_string(a.width) + " is not divisible by heads " + std::to_string(a.heads));
  if (a.image_size % a.patch_size != 0) bad("image_size is not a multiple of patch_size");
  if (a.registers < 0 || a.proj_dim < 0) bad("registers and proj_dim must be >= 0");
  if (!std::set<std::string>{"gelu", "gelu_tanh", "quick_gelu", "swiglu"}.count(a.act)) bad("unknown act '" + a.act + "'");
  if (!std::set<std::string>{"full", "qv", "none"}.count(a.qkv_bias)) bad("unknown qkv_bias '" + a.qkv_bias + "'");
  if (a.pool == "map") bad("pool 'map' (attention-pool head) is not supported by any preset yet");
  if (!std::set<std::string>{"cls", "mean"}.count(a.pool)) bad("unknown pool '" + a.pool + "'");
  if (a.pool == "cls" && !a.class_token) bad("pool 'cls' needs a class token (class_token is false): use pool 'mean'");
  if (!std::set<std::string>{"auto", "offset", "bicubic", "bicubic_aa"}.count(a.pos_interp))
    bad("unknown pos_interp '" + a.pos_interp + "'");
  if (!(a.norm_eps > 0)) bad("norm_eps must be positive");
}

ArchConfig arch_from_json(const json& j, ArchConfig a, const std::string& source) {
  if (!j.is_object()) throw InputError(source + ": arch JSON must be an object");
  static const std::set<std::string> known = {"patch_size", "image_size", "width",      "depth",    "heads",
                                              "mlp_dim",    "act",        "norm_eps",   "layerscale", "registers",
                                              "qkv_bias",   "ln_pre",     "final_norm", "pool",     "proj_dim",
                                              "patch_bias", "pos_interp", "class_token"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) throw InputError(source + ": unknown arch field '" + it.key() + "'");
  take(j, "patch_size", a.patch_size, source);
  take(j, "image_size", a.image_size, source);
  take(j, "width", a.width, source);
  take(j, "depth", a.depth, source);
  take(j, "heads", a.heads, source);
  take(j, "mlp_dim", a.mlp_dim, source);
  take(j, "act", a.act, source);
  take(j, "norm_eps", a.norm_eps, source);
  take(j, "layerscale", a.layerscale, source);
  take(j, "registers", a.registers, source);
  take(j, "qkv_bias", a.qkv_bias, source);
  take(j, "ln_pre", a.ln_pre, source);
  take(j, "final_norm", a.final_norm, source);
  take(j, "class_token", a.class_token, source);
  take(j, "pool", a.pool, source);
  take(j, "proj_dim", a.proj_dim, source);
  take(j, "patch_bias", a.patch_bias, source);
  take(j, "pos_interp", a.pos_interp, source);
  validate_arch(a, source);
  return a;
}

json arch_to_json(const ArchConfig& a) {
  return {{"patch_size", a.patch_size}, {"image_size", a.image_size}, {"width", a.width},
          {"depth", a.depth},           {"heads", a.heads},           {"mlp_dim", a.mlp_dim},
          {"act", a.act},               {"norm_eps", a.norm_eps},     {"layerscale", a.layerscale},
          {"registers", a.registers},   {"qkv_bias", a.qkv_bias},     {"ln_pre", a.ln_pre},
          {"final_norm", a.final_norm}, {"pool", a.pool},             {"proj_dim", a.proj_dim},
          {"patch_bias", a.patch_bias}, {"pos_interp", a.pos_interp}, {"class_token", a.class_token}};
}

}  // namespace osteofm
