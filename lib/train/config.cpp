#include "train/config.hpp"

#include <filesystem>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

json default_train_config() {
  return json{
      {"data", {{"manifest", ""}, {"workers", 0}, {"preload", "auto"}, {"prefetch", 4}}},
      {"backbone", {{"preset", "dinov2-tiny"}, {"weights", ""}, {"arch", ""}, {"seed", 0}}},
      {"head", {{"feature", "cls"}, {"layernorm", false}}},
      {"strategy", {{"name", "linear_probe"}}},
      {"augment", {{"enabled", true}, {"rotate_deg", 5.0}, {"scale", 0.05}, {"translate", 0.03}, {"brightness", 0.1},
                   {"contrast", 0.1}, {"gamma", 0.1}, {"hflip", false}}},
      {"train",
       {{"epochs", 10}, {"batch_size", 16}, {"lr_head", 1e-3}, {"lr_body", 1e-4}, {"weight_decay", 0.05},
        {"warmup_epochs", 1.0}, {"loss", "weighted_ce"}, {"label_smoothing", 0.0}, {"grad_accum", 1},
        {"clip_norm", 1.0}, {"patience", 5}, {"seed", 1}, {"device", "auto"}, {"feature_cache", true}}},
  };
}

namespace {
// Merges `over` into `base`; every key of `over` must exist in `base` (objects recursively;
// the strategy object is free-form, checked by make_strategy).
void merge(json& base, const json& over, const std::string& path, const std::string& source) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string key = path.empty() ? it.key() : path + "." + it.key();
    if (!base.contains(it.key())) throw InputError(source + ": unknown config key '" + key + "'");
    json& b = base[it.key()];
    if (key == "strategy") {
      if (!it.value().is_object()) throw InputError(source + ": '" + key + "' must be an object");
      b = it.value();
    } else if (b.is_object()) {
      if (!it.value().is_object()) throw InputError(source + ": '" + key + "' must be an object");
      merge(b, it.value(), key, source);
    } else {
      const bool ok = (b.is_number() && it.value().is_number()) || (b.is_boolean() && it.value().is_boolean()) ||
                      (b.is_string() && it.value().is_string());
      if (!ok) throw InputError(source + ": '" + key + "' has the wrong type (default " + b.dump() + ")");
      b = it.value();
    }
  }
}
}  // namespace

json resolve_train_config_json(json config, const std::vector<std::string>& overrides, const std::string& source,
                               const std::string& base_dir) {
  if (!config.is_object()) throw InputError(source + ": a config must be a JSON object");
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError("--set '" + o + "': expected KEY=VALUE");
    const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;  // a bare string
    json* node = &config;
    size_t start = 0;
    for (;;) {
      const size_t dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (dot == std::string::npos) {
        (*node)[part] = value;
        break;
      }
      node = &(*node)[part];
      start = dot + 1;
    }
  }
  json resolved = default_train_config();
  merge(resolved, config, "", source);
  auto& data = resolved["data"];
  const std::string manifest = data["manifest"];
  if (manifest.empty()) throw InputError(source + ": data.manifest is required");
  if (fs::path(manifest).is_relative() && !base_dir.empty())
    data["manifest"] = (fs::path(base_dir) / manifest).lexically_normal().string();
  const auto& t = resolved["train"];
  if (t["epochs"].get<int>() < 1) throw InputError(source + ": train.epochs must be at least 1");
  if (t["batch_size"].get<int>() < 1) throw InputError(source + ": train.batch_size must be at least 1");
  if (t["grad_accum"].get<int>() < 1) throw InputError(source + ": train.grad_accum must be at least 1");
  if (t["loss"] != "weighted_ce" && t["loss"] != "ce") throw InputError(source + ": train.loss must be weighted_ce or ce");
  const double ls = t["label_smoothing"];
  if (ls < 0 || ls >= 1) throw InputError(source + ": train.label_smoothing must be in [0, 1)");
  return resolved;
}

json resolve_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  const json j = json::parse(read_file(file), nullptr, false);
  if (j.is_discarded()) throw InputError(file + ": not valid JSON");
  return resolve_train_config_json(j, overrides, file, fs::path(file).parent_path().string());
}

}  // namespace osteofm
