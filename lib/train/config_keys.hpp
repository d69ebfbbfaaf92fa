// Every key of a run config, declared once: its default, type, allowed values or range,
// and a one-line doc. default_train_config(), the range checks, the "did you mean" of an
// unknown key and `osteofm config` (README's configuration reference) all read this table.
#pragma once
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace osteofm {

struct ConfigKey {
  std::string key;             // dotted: "train.epochs"
  nlohmann::json default_value;
  std::string type;            // integer | number | boolean | string | path | object
  std::vector<std::string> allowed;  // a string key's values ({"auto", "yes", "no"}); empty when free
  bool ranged = false;         // numbers: [lo, hi] with open ends where marked
  double lo = 0, hi = 0;
  bool lo_open = false, hi_open = false;
  std::string doc;
};

const std::vector<ConfigKey>& config_keys();
// The declared key named `key` ("train.epochs"), or nullptr.
const ConfigKey* find_config_key(const std::string& key);

// "[1, 100000]", "(0, 10]", "[0, inf)"; "" for keys without a range.
std::string range_text(const ConfigKey& key);
// The declared key closest to `key` by edit distance (at most 2 edits, or a different
// section holding the same last part), "" when none is close: "did you mean train.epochs?".
std::string closest_config_key(const std::string& key);
// The table as Markdown (README's configuration reference) or as aligned text.
std::string config_reference(bool markdown);

}  // namespace osteofm
