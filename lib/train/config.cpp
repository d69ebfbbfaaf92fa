#include "train/config.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "models/classifier.hpp"
#include "train/config_keys.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

json default_train_config() {
  json defaults = json::object();
  for (const ConfigKey& k : config_keys()) {
    const size_t dot = k.key.find('.');
    if (dot == std::string::npos) defaults[k.key] = k.default_value;
    else defaults[k.key.substr(0, dot)][k.key.substr(dot + 1)] = k.default_value;
  }
  return defaults;
}

namespace {
// "unknown config key 'train.epoch'; did you mean 'train.epochs'? ('osteofm config' lists
// every key)".
std::string unknown_key_message(const std::string& key) {
  const std::string near = closest_config_key(key);
  return "unknown config key '" + key + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?") +
         " ('osteofm config' lists every key)";
}
}  // namespace

namespace {
// Merges `over` into `base`; every key of `over` must exist in `base` (objects recursively;
// the strategy object is free-form, checked by make_strategy).
void merge(json& base, const json& over, const std::string& path, const std::string& source) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string key = path.empty() ? it.key() : path + "." + it.key();
    if (!base.contains(it.key())) throw InputError(source + ": " + unknown_key_message(key));
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
      if (b.is_number_integer() && !it.value().is_number_integer()) {
        // 2.0 is 2; 2.5 epochs would be silently truncated.
        const double v = it.value().get<double>();
        if (v != std::floor(v) || std::fabs(v) > 1e15)
          throw InputError(source + ": '" + key + "' must be a whole number, not " + it.value().dump());
        b = static_cast<int64_t>(v);
      } else {
        b = it.value();
      }
    }
  }
}
}  // namespace

namespace {
// The keys that hold file paths.
const char* const kPathKeys[][2] = {{"data", "manifest"}, {"backbone", "weights"}, {"backbone", "arch"}};

// A relative path made absolute against `dir` ("" and "random" weights stay as they are).
std::string absolute_against(const std::string& value, const fs::path& dir) {
  if (value.empty() || value == "random" || fs::path(value).is_absolute()) return value;
  return fs::absolute(dir / value).lexically_normal().string();
}
}  // namespace

namespace {
json over_defaults(json defaults, const json& config, const std::string& key) {
  if (!defaults.is_object() || !config.is_object() || key == "strategy") return config;
  for (const auto& [k, v] : config.items()) defaults[k] = defaults.contains(k) ? over_defaults(defaults[k], v, k) : v;
  return defaults;
}
}  // namespace

json with_default_keys(const json& config) { return over_defaults(default_train_config(), config, ""); }

json absolute_paths(json config, const std::string& dir) {
  if (!config.is_object()) return config;
  for (const auto& k : kPathKeys)
    if (config.contains(k[0]) && config[k[0]].is_object() && config[k[0]].contains(k[1]) && config[k[0]][k[1]].is_string())
      config[k[0]][k[1]] = absolute_against(config[k[0]][k[1]].get<std::string>(), dir);
  return config;
}

json resolve_train_config_json(json config, const std::vector<std::string>& overrides, const std::string& source,
                               const std::string& base_dir) {
  if (!config.is_object()) throw InputError(source + ": a config must be a JSON object");
  // One rule: paths written in a config resolve against its folder, paths given on the
  // command line (--set) against the current directory; the run stores them absolute.
  config = absolute_paths(config, base_dir.empty() ? "." : base_dir);
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw InputError("--set '" + o + "': expected KEY=VALUE");
    const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    json value = json::parse(text, nullptr, false);
    if (value.is_discarded()) value = text;  // a bare string
    {
      // The value's type against the key's default: the message names --set, not the file.
      const json defaults = default_train_config();
      const json* d = &defaults;
      size_t from = 0;
      for (;;) {
        const size_t dot = key.find('.', from);
        const std::string part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
        if (d->is_object() && !d->contains(part))  // a typo on the command line is the --set's, not the file's
          throw InputError("--set '" + o + "': " + unknown_key_message(key));
        if (!d->is_object() || part == "strategy") {
          d = nullptr;
          break;
        }
        d = &(*d)[part];
        if (dot == std::string::npos) break;
        from = dot + 1;
      }
      if (d && d->is_number() && !value.is_number())
        throw InputError("--set '" + o + "': " + key + " is a number (default " + d->dump() + "), not '" + text + "'");
      if (d && d->is_boolean() && !value.is_boolean())
        throw InputError("--set '" + o + "': " + key + " is true or false, not '" + text + "'");
    }
    json* node = &config;
    size_t start = 0;
    for (;;) {
      const size_t dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (part.empty()) throw InputError("--set '" + o + "': empty key part");
      if (!node->is_object()) {
        if (!node->is_null())
          throw InputError("--set '" + o + "': '" + key.substr(0, start - 1) + "' is a value, not a group of keys");
        *node = json::object();
      }
      if (dot == std::string::npos) {
        bool path_key = false;
        for (const auto& k : kPathKeys) path_key = path_key || key == std::string(k[0]) + "." + k[1];
        if (path_key && value.is_string()) value = absolute_against(value.get<std::string>(), fs::current_path());
        (*node)[part] = value;
        break;
      }
      node = &(*node)[part];
      start = dot + 1;
    }
  }
  json resolved = default_train_config();
  merge(resolved, config, "", source);
  if (resolved["data"]["manifest"].get<std::string>().empty()) throw InputError(source + ": data.manifest is required");
  // Every numeric field's range, before anything runs (config_keys.cpp declares them).
  for (const ConfigKey& r : config_keys()) {
    if (!r.ranged) continue;
    const size_t dot = r.key.find('.');
    const double v = resolved[r.key.substr(0, dot)][r.key.substr(dot + 1)].get<double>();
    const bool ok = std::isfinite(v) && (r.lo_open ? v > r.lo : v >= r.lo) && (r.hi_open ? v < r.hi : v <= r.hi);
    if (!ok) throw InputError(source + ": " + r.key + " = " + format_double(v) + " is outside " + range_text(r));
  }
  const auto& t = resolved["train"];
  if (t["warmup_epochs"].get<double>() > t["epochs"].get<double>())
    throw InputError(source + ": train.warmup_epochs (" + format_double(t["warmup_epochs"]) +
                     ") is longer than train.epochs (" + std::to_string(t["epochs"].get<int>()) + ")");
  if (t["loss"] != "weighted_ce" && t["loss"] != "ce") throw InputError(source + ": train.loss must be weighted_ce or ce");
  const std::string head = resolved["head"]["type"];
  if (!is_head_type(head))
    throw InputError(source + ": head.type must be " + head_type_names() + ", not '" + head + "'");
  const std::string preload = resolved["data"]["preload"];
  if (preload != "auto" && preload != "yes" && preload != "no")
    throw InputError(source + ": data.preload must be auto, yes or no, not '" + preload + "'");
  return resolved;
}

json resolve_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  const json j = parse_json_file(file);
  if (j.is_discarded()) throw InputError(file + ": not valid JSON");
  return resolve_train_config_json(j, overrides, file, fs::path(file).parent_path().string());
}

}  // namespace osteofm
