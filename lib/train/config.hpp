// Run configuration: a JSON file, defaults filled in, `--set key.path=value` overrides,
// written fully resolved to RUN/config.json.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osteofm {

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
