// Run configuration: a JSON file, defaults filled in, `--set key.path=value` overrides,
// written fully resolved to RUN/config.json.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/loader.hpp"
#include "models/classifier.hpp"

namespace osteofm {

// The typed sections of a resolved run config: what the trainer, the model builder and the
// loaders read. Every field's default, type and range is declared once, in
// config_keys.cpp; these structs carry no defaults of their own and are only ever filled by
// typed_run_config from a resolved config, in which every key is present.
struct DataSettings {
  std::string manifest;
  int workers = 0;
  std::string preload;  // auto | yes | no
  int prefetch = 0;
};
struct BackboneSettings {
  std::string preset, weights, arch;
  uint64_t seed = 0;
  int image_size = 0;
  double crop_fraction = 0;
};
struct TrainSettings {
  int epochs = 0, batch_size = 0, grad_accum = 0, patience = 0;
  double lr_head = 0, lr_body = 0, weight_decay = 0, warmup_epochs = 0, label_smoothing = 0, clip_norm = 0;
  std::string loss;    // weighted_ce | ce
  std::string device;  // auto | cpu | cuda[:N]
  int64_t seed = 0;
  bool feature_cache = false, test_predictions = false;
};
struct RunConfig {
  DataSettings data;
  BackboneSettings backbone;
  HeadOptions head;
  nlohmann::json strategy;  // free-form per strategy; make_strategy reads and checks it
  AugmentSettings augment;
  TrainSettings train;
  // The resolved document itself: what RUN/config.json holds, a run's identity and the
  // feature cache's key are made from it.
  nlohmann::json document;
};

// The typed view of a resolved config (resolve_train_config's result, or a stored one read
// through with_default_keys). A key that is missing or of the wrong type is an InputError
// naming it (`source` names the document).
RunConfig typed_run_config(const nlohmann::json& resolved, const std::string& source = "run config");

// Defaults for every key; a config may only use keys that exist here.
nlohmann::json default_train_config();

// Reads FILE, applies overrides ("train.epochs=5", "strategy={\"name\":\"lora\"}"),
// merges with the defaults and validates. Unknown keys and bad values are InputErrors
// naming the key. Paths (data.manifest, backbone.weights, backbone.arch) come out
// absolute: those in FILE against FILE's folder, those of --set against the current
// directory.
nlohmann::json resolve_train_config(const std::string& file, const std::vector<std::string>& overrides);
// A stored run config with every key added to the defaults since it was written filled in
// at its default (the strategy object taken whole): what older runs' config.json files are
// read through, so code reads today's keys without fallbacks.
nlohmann::json with_default_keys(const nlohmann::json& config);

// The path keys of a (partial) config made absolute against `dir`.
nlohmann::json absolute_paths(nlohmann::json config, const std::string& dir);
nlohmann::json resolve_train_config_json(nlohmann::json config, const std::vector<std::string>& overrides,
                                         const std::string& source, const std::string& base_dir);

}  // namespace osteofm
