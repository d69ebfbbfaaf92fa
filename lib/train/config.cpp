#include "train/config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <type_traits>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/dotted_values.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/labels.hpp"
#include "core/text.hpp"
#include "models/classifier.hpp"
#include "train/config_keys.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

json default_train_config() {
  json defaults = json::object();
  for (const ConfigKey& k : config_keys()) *make_dotted(defaults, k.key) = k.default_value;
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
// A relative path made absolute against `dir` ("" and "random" weights stay as they are).
std::string absolute_against(const std::string& value, const fs::path& dir) {
  if (value.empty() || value == "random" || fs::path(value).is_absolute()) return value;
  return fs::absolute(dir / value).lexically_normal().string();
}
}  // namespace

namespace {
// `--set KEY=VALUE` into `config`: the value's type is checked against the key's declared
// one here, so that the message names --set rather than the file.
void apply_override(json& config, const std::string& o) {
  const auto eq = o.find('=');
  if (eq == std::string::npos || eq == 0) throw InputError("--set '" + o + "': expected KEY=VALUE");
  const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;  // a bare string
  if (key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos)
    throw InputError("--set '" + o + "': empty key part");
  const ConfigKey* declared = find_config_key(key);
  // A whole section ("train={...}") and the strategy's free-form fields are checked by the
  // merge and by make_strategy.
  const bool section = std::any_of(config_keys().begin(), config_keys().end(),
                                   [&](const ConfigKey& k) { return k.key.rfind(key + ".", 0) == 0; });
  const bool strategy_field = key.rfind("strategy.", 0) == 0;
  for (const ConfigKey& k : config_keys())
    if (k.type != "object" && key.rfind(k.key + ".", 0) == 0)
      throw InputError("--set '" + o + "': '" + k.key + "' is a value, not a group of keys");
  if (!declared && !section && !strategy_field) throw InputError("--set '" + o + "': " + unknown_key_message(key));
  if (declared && declared->default_value.is_number() && !value.is_number())
    throw InputError("--set '" + o + "': " + key + " is a number (default " + declared->default_value.dump() + "), not '" +
                     text + "'");
  if (declared && declared->default_value.is_boolean() && !value.is_boolean())
    throw InputError("--set '" + o + "': " + key + " is true or false, not '" + text + "'");
  if (declared && declared->type == "path" && value.is_string())
    value = absolute_against(value.get<std::string>(), fs::current_path());
  std::string blocked_at;
  json* node = make_dotted(config, key, &blocked_at);
  if (!node) throw InputError("--set '" + o + "': '" + blocked_at + "' is a value, not a group of keys");
  *node = std::move(value);
}

json over_defaults(json defaults, const json& config, const std::string& key) {
  if (!defaults.is_object() || !config.is_object() || key == "strategy") return config;
  for (const auto& [k, v] : config.items()) defaults[k] = defaults.contains(k) ? over_defaults(defaults[k], v, k) : v;
  return defaults;
}
}  // namespace

json with_default_keys(const json& config) { return over_defaults(default_train_config(), config, ""); }

json absolute_paths(json config, const std::string& dir) {
  if (!config.is_object()) return config;
  for (const ConfigKey& k : config_keys()) {
    if (k.type != "path") continue;
    const json* value = find_dotted(config, k.key);
    if (value && value->is_string()) *make_dotted(config, k.key) = absolute_against(value->get<std::string>(), dir);
  }
  return config;
}

json resolve_train_config_json(json config, const std::vector<std::string>& overrides, const std::string& source,
                               const std::string& base_dir) {
  if (!config.is_object()) throw InputError(source + ": a config must be a JSON object");
  // One rule: paths written in a config resolve against its folder, paths given on the
  // command line (--set) against the current directory; the run stores them absolute.
  config = absolute_paths(config, base_dir.empty() ? "." : base_dir);
  for (const auto& o : overrides) apply_override(config, o);
  json resolved = default_train_config();
  merge(resolved, config, "", source);
  if (resolved["data"]["manifest"].get<std::string>().empty()) throw InputError(source + ": data.manifest is required");
  // Every numeric field's range and every string field's allowed values, before anything
  // runs (config_keys.cpp declares them).
  for (const ConfigKey& k : config_keys()) {
    const json& value = *find_dotted(resolved, k.key);
    if (k.ranged) {
      const double v = value.get<double>();
      const bool ok = std::isfinite(v) && (k.lo_open ? v > k.lo : v >= k.lo) && (k.hi_open ? v < k.hi : v <= k.hi);
      if (!ok) throw InputError(source + ": " + k.key + " = " + format_double(v) + " is outside " + range_text(k));
    }
    if (k.allowed.empty()) continue;
    const std::string text = value.get<std::string>();
    if (std::find(k.allowed.begin(), k.allowed.end(), text) == k.allowed.end())
      throw InputError(source + ": " + k.key + " must be " + or_list(k.allowed) + ", not '" + text + "'");
  }
  const auto& t = resolved["train"];
  if (t["warmup_epochs"].get<double>() > t["epochs"].get<double>())
    throw InputError(source + ": train.warmup_epochs (" + format_double(t["warmup_epochs"]) +
                     ") is longer than train.epochs (" + std::to_string(t["epochs"].get<int>()) + ")");
  return resolved;
}

namespace {
// One key of a resolved config as T; a missing key or a value of another type is an
// InputError naming it (a stored config.json edited by hand, say).
class ResolvedReader {
 public:
  ResolvedReader(const json& doc, const std::string& source) : doc_(doc), source_(source) {}
  template <class T>
  void read(const char* key, T& into) const {
    const json* value = find_dotted(doc_, key);
    if (!value) throw InputError(source_ + ": config key '" + std::string(key) + "' is missing");
    const bool fits = std::is_same<T, bool>::value          ? value->is_boolean()
                      : std::is_same<T, std::string>::value ? value->is_string()
                      : std::is_integral<T>::value          ? value->is_number_integer()
                                                            : value->is_number();
    if (!fits) throw InputError(source_ + ": config key '" + std::string(key) + "' has the wrong type (" + value->dump() + ")");
    into = value->get<T>();
  }
  void read_object(const char* key, json& into) const {
    const json* value = find_dotted(doc_, key);
    if (!value || !value->is_object())
      throw InputError(source_ + ": config key '" + std::string(key) + "' is " + (value ? "not an object" : "missing"));
    into = *value;
  }

 private:
  const json& doc_;
  const std::string& source_;
};
}  // namespace

RunConfig typed_run_config(const json& resolved, const std::string& source) {
  const ResolvedReader r(resolved, source);
  RunConfig c;
  c.document = resolved;
  DataSettings& d = c.data;
  r.read("data.manifest", d.manifest);
  r.read("data.workers", d.workers);
  r.read("data.preload", d.preload);
  r.read("data.prefetch", d.prefetch);
  BackboneSettings& b = c.backbone;
  r.read("backbone.preset", b.preset);
  r.read("backbone.weights", b.weights);
  r.read("backbone.arch", b.arch);
  r.read("backbone.seed", b.seed);
  r.read("backbone.image_size", b.image_size);
  r.read("backbone.crop_fraction", b.crop_fraction);
  r.read("head.feature", c.head.feature);
  r.read("head.layernorm", c.head.layernorm);
  r.read("head.type", c.head.type);
  c.head.classes = kNumClasses;
  r.read_object("strategy", c.strategy);
  AugmentSettings& a = c.augment;
  r.read("augment.enabled", a.enabled);
  r.read("augment.rotate_deg", a.rotate_deg);
  r.read("augment.scale", a.scale);
  r.read("augment.translate", a.translate);
  r.read("augment.brightness", a.brightness);
  r.read("augment.contrast", a.contrast);
  r.read("augment.gamma", a.gamma);
  r.read("augment.hflip", a.hflip);
  TrainSettings& t = c.train;
  r.read("train.epochs", t.epochs);
  r.read("train.batch_size", t.batch_size);
  r.read("train.lr_head", t.lr_head);
  r.read("train.lr_body", t.lr_body);
  r.read("train.weight_decay", t.weight_decay);
  r.read("train.warmup_epochs", t.warmup_epochs);
  r.read("train.loss", t.loss);
  r.read("train.label_smoothing", t.label_smoothing);
  r.read("train.grad_accum", t.grad_accum);
  r.read("train.clip_norm", t.clip_norm);
  r.read("train.patience", t.patience);
  r.read("train.seed", t.seed);
  r.read("train.device", t.device);
  r.read("train.feature_cache", t.feature_cache);
  r.read("train.test_predictions", t.test_predictions);
  return c;
}

json resolve_train_config(const std::string& file, const std::vector<std::string>& overrides) {
  const json j = parse_json_file(file);
  if (j.is_discarded()) throw InputError(file + ": not valid JSON");
  return resolve_train_config_json(j, overrides, file, fs::path(file).parent_path().string());
}

}  // namespace osteofm
