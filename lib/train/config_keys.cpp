#include "train/config_keys.hpp"

#include <algorithm>
#include <cmath>

#include "core/csv.hpp"
#include "models/head.hpp"

namespace osteofm {

namespace {
using nlohmann::json;
const double kInf = std::numeric_limits<double>::infinity();

ConfigKey key(std::string name, json value, std::string type, std::string doc, std::vector<std::string> allowed = {}) {
  ConfigKey k;
  k.key = std::move(name);
  k.default_value = std::move(value);
  k.type = std::move(type);
  k.doc = std::move(doc);
  k.allowed = std::move(allowed);
  return k;
}
ConfigKey ranged(std::string name, json value, std::string type, double lo, double hi, bool lo_open, bool hi_open,
                 std::string doc) {
  ConfigKey k = key(std::move(name), std::move(value), std::move(type), std::move(doc));
  k.ranged = true;
  k.lo = lo;
  k.hi = hi;
  k.lo_open = lo_open;
  k.hi_open = hi_open;
  return k;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string last_part(const std::string& key) { return key.substr(key.rfind('.') + 1); }
}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      key("data.manifest", "", "path", "The manifest CSV (or a tensor cache's manifest); required. Relative to the config's folder."),
      ranged("data.workers", 0, "integer", 0, 1024, false, false, "Image decoding threads; 0: all cores (osteofm --threads)."),
      key("data.preload", "auto", "string", "Decode a split into memory once (auto: when it takes at most 2 GiB).", {"auto", "yes", "no"}),
      ranged("data.prefetch", 4, "integer", 0, 1024, false, false, "Batches decoded ahead while streaming (preload no)."),
      key("backbone.preset", "dinov2-tiny", "string", "Backbone preset: a family's named architecture (osteofm weights presets)."),
      key("backbone.weights", "", "path", "Pretrained weights (safetensors, upstream tensor names); \"\" or random: random weights."),
      key("backbone.arch", "", "path", "An upstream architecture file (config.json, open_clip JSON) overriding the preset's."),
      key("backbone.seed", 0, "integer", "Seed of random backbone weights."),
      ranged("backbone.image_size", 0, "integer", 0, 8192, false, false, "Input side in pixels; 0: the preset's (a multiple of the patch size)."),
      ranged("backbone.crop_fraction", 0.0, "number", 0, 1, false, false, "Short-side crop fraction; 0: the preset's."),
      key("head.feature", "cls", "string", "What the head reads: the class token, it and the patch mean, or the pooled output.", {"cls", "cls_mean", "pooled"}),
      key("head.layernorm", false, "boolean", "A LayerNorm before the head's Linear."),
      key("head.type", "softmax", "string", "The head type (models/heads/): logits, cumulative ordinal, or the T-score regressed.", head_type_list()),
      key("strategy", json{{"name", "linear_probe"}}, "object", "The tuning strategy and its settings, e.g. {\"name\": \"lora\", \"rank\": 16}."),
      key("augment.enabled", true, "boolean", "Augment training images."),
      ranged("augment.rotate_deg", 5.0, "number", 0, 180, false, false, "Largest rotation, degrees."),
      ranged("augment.scale", 0.05, "number", 0, 1, false, true, "Largest relative scale change."),
      ranged("augment.translate", 0.03, "number", 0, 1, false, true, "Largest shift, fraction of the side."),
      ranged("augment.brightness", 0.1, "number", 0, 1, false, true, "Largest brightness change."),
      ranged("augment.contrast", 0.1, "number", 0, 1, false, true, "Largest contrast change."),
      ranged("augment.gamma", 0.1, "number", 0, 1, false, true, "Largest gamma change."),
      key("augment.hflip", false, "boolean", "Horizontal flips (off: a flipped chest is not one the model will see)."),
      ranged("train.epochs", 10, "integer", 1, 100000, false, false, "Epochs."),
      ranged("train.batch_size", 16, "integer", 1, 1 << 20, false, false, "Images per batch."),
      ranged("train.lr_head", 1e-3, "number", 0, 10, true, false, "AdamW learning rate of the head."),
      ranged("train.lr_body", 1e-4, "number", 0, 10, false, false, "AdamW learning rate of the backbone's trained parts."),
      ranged("train.weight_decay", 0.05, "number", 0, 10, false, false, "AdamW weight decay."),
      ranged("train.warmup_epochs", 1.0, "number", 0, kInf, false, true, "Linear warmup before the cosine decay; at most train.epochs."),
      key("train.loss", "weighted_ce", "string", "Class-weighted (inverse frequency) or plain cross-entropy.", {"weighted_ce", "ce"}),
      ranged("train.label_smoothing", 0.0, "number", 0, 1, false, true, "Label smoothing of the cross-entropy."),
      ranged("train.grad_accum", 1, "integer", 1, 1 << 20, false, false, "Batches per optimizer step."),
      ranged("train.clip_norm", 1.0, "number", 0, kInf, false, true, "Gradient norm clipping; 0: none."),
      ranged("train.patience", 5, "integer", 1, 100000, false, false, "Epochs without a better validation score before stopping."),
      key("train.seed", 1, "integer", "Seed of the epoch order, augmentation and dropout."),
      key("train.device", "auto", "string", "auto (CUDA when present), cpu, cuda or cuda:N; not part of a run's identity."),
      key("train.feature_cache", true, "boolean", "A frozen backbone's features computed once and reused every epoch."),
      key("train.test_predictions", true, "boolean", "Predict and evaluate the test split (a sweep's grid points do not)."),
  };
  return keys;
}

const ConfigKey* find_config_key(const std::string& name) {
  for (const ConfigKey& k : config_keys())
    if (k.key == name) return &k;
  return nullptr;
}

std::string range_text(const ConfigKey& k) {
  if (!k.ranged) return "";
  auto bound = [](double b) { return std::isinf(b) ? std::string("inf") : format_double(b); };
  return (k.lo_open ? "(" : "[") + bound(k.lo) + ", " + bound(k.hi) + (k.hi_open ? ")" : "]");
}

std::string closest_config_key(const std::string& wrong) {
  std::string best;
  size_t best_distance = 3;  // at most two edits
  for (const auto& k : config_keys()) {
    const size_t d = edit_distance(wrong, k.key);
    if (d < best_distance) {
      best_distance = d;
      best = k.key;
    }
  }
  if (!best.empty()) return best;
  // The right name in the wrong section ("data.epochs"): the one key with that last part.
  std::string only;
  for (const auto& k : config_keys())
    if (last_part(k.key) == last_part(wrong)) {
      if (!only.empty()) return "";
      only = k.key;
    }
  return only;
}

std::string config_reference(bool markdown) {
  std::string out;
  if (markdown) out = "| key | type | default | allowed | doc |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& k : config_keys()) {
    std::string allowed = range_text(k);
    for (size_t i = 0; i < k.allowed.size(); ++i) allowed += (i == 0 ? "" : ", ") + k.allowed[i];
    const std::string value = k.default_value.dump();
    if (markdown)
      out += "| `" + k.key + "` | " + k.type + " | `" + value + "` | " + allowed + " | " + k.doc + " |\n";
    else
      out += k.key + std::string(k.key.size() < 24 ? 24 - k.key.size() : 1, ' ') + k.type + "  default " + value +
             (allowed.empty() ? "" : "  (" + allowed + ")") + "\n    " + k.doc + "\n";
  }
  return out;
}

}  // namespace osteofm
