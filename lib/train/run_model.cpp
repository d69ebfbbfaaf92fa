#include "train/run_model.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_file.hpp"
#include "core/labels.hpp"
#include "core/layout.hpp"
#include "io/safetensors_torch.hpp"
#include "models/embed.hpp"
#include "train/config.hpp"

namespace osteofm {
namespace fs = std::filesystem;
using nlohmann::json;

Preprocessing configured_preprocessing(const Backbone& backbone, const BackboneSettings& bc) {
  Preprocessing pre = backbone.preset.preprocessing;
  const int patch = backbone.vit->arch.patch_size;
  if (bc.image_size > 0) {
    const int size = bc.image_size;
    if (size % patch != 0) {
      const int below = std::max(patch, size / patch * patch), above = (size / patch + 1) * patch;
      throw InputError("backbone.image_size = " + std::to_string(size) + " is not a multiple of " + bc.preset +
                       "'s patch size " + std::to_string(patch) + " (" + std::to_string(below) + " or " +
                       std::to_string(above) + " are)");
    }
    pre.size = size;
  }
  if (bc.crop_fraction > 0) {
    if (pre.squash)
      throw InputError("backbone.crop_fraction: " + bc.preset +
                       " squashes the whole image to a square (no crop); leave crop_fraction at 0");
    pre.crop_fraction = bc.crop_fraction;
  }
  return pre;
}

BuiltClassifier build_classifier(const RunConfig& config) {
  BuiltClassifier b;
  const BackboneSettings& bc = config.backbone;
  b.backbone = load_backbone({bc.preset, bc.arch, backbone_weights(bc.preset, bc.weights, "backbone.weights"), bc.seed});
  b.backbone.preset.preprocessing = configured_preprocessing(b.backbone, bc);
  torch::manual_seed(config.train.seed);
  b.model = Classifier(b.backbone.vit, config.head);
  b.strategy = make_strategy(config.strategy);
  b.strategy->apply(b.model);
  return b;
}

void load_trainable(Classifier& m, const std::map<std::string, torch::Tensor>& saved, const std::string& source) {
  torch::NoGradGuard ng;
  std::set<std::string> trainable;
  for (auto& item : m->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    trainable.insert(item.key());
    auto it = saved.find("model." + item.key());
    if (it == saved.end()) throw InputError(source + ": checkpoint lacks tensor '" + item.key() + "'");
    if (it->second.sizes() != item.value().sizes())
      throw InputError(source + ": tensor '" + item.key() + "' has the wrong shape for this config");
    item.value().copy_(it->second);
  }
  // A tensor this model does not train means the file belongs to another config (or was
  // edited): loading the rest would run a model other than the one the file describes.
  for (const auto& [name, t] : saved) {
    const bool model = name.rfind("model.", 0) == 0 && trainable.count(name.substr(6));
    const bool adam = name.rfind("adam.", 0) == 0;  // optimiser state; AdamW::load_state reads what it knows
    if (!model && !adam)
      throw InputError(source + ": checkpoint holds tensor '" + name +
                       "' that this run's model does not train (a checkpoint of another config?)");
  }
}

Preprocessing run_preprocessing(const std::string& run_dir, const Preprocessing& preset) {
  const fs::path file = fs::path(run_dir) / "preprocessing.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    // Runs made before preprocessing.json: every preset then cropped the whole short side.
    Preprocessing legacy = preset;
    legacy.crop_fraction = 1.0;
    legacy.crop_offset = "floor";
    return legacy;
  }
  const json j = parse_json_file(file.string());
  if (j.is_discarded()) throw InputError(file.string() + ": not valid JSON");
  return preprocessing_from_json(j, file.string());
}

TrainedModel load_trained_model(const std::string& run_dir, const std::string& device) {
  const fs::path run(run_dir);
  const fs::path cfg = run / layout::kRunConfig, status = run / layout::kRunStatus, best = run / layout::kCheckpoints / layout::kBestCheckpoint;
  std::error_code ec;
  if (!fs::is_regular_file(cfg, ec)) throw InputError(run_dir + ": not a run folder (no config.json)");
  const json st = fs::is_regular_file(status, ec) ? parse_json_file(status.string()) : json();
  if (!st.is_object() || st.value("state", "") != "done")
    throw InputError(status.string() + ": the run has not finished (state '" +
                     (st.is_object() ? st.value("state", "?") : std::string("missing")) + "'); finish it with 'osteofm train --resume'");
  if (!fs::is_regular_file(best, ec)) throw InputError(run_dir + ": no checkpoints/best.safetensors");
  TrainedModel t;
  const json stored = parse_json_file(cfg.string());
  if (!stored.is_object()) throw InputError(cfg.string() + ": not valid JSON");
  t.config = typed_run_config(with_default_keys(stored), cfg.string());  // an older run lacks today's keys (image_size, head.type, ...)
  t.built = build_classifier(t.config);
  load_trainable(t.built.model, load_safetensors(best.string()), best.string());
  t.built.strategy->finalize(t.built.model);
  t.pre = run_preprocessing(run_dir, t.built.backbone.preset.preprocessing);
  t.device = resolve_device(device);
  t.built.model->to(t.device);
  t.built.model->eval();
  for (auto& p : t.built.model->parameters()) p.set_requires_grad(false);
  return t;
}

}  // namespace osteofm
