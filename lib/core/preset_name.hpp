// Naming conventions of backbone presets that layers below models/ need (the results
// table marks random weights, which the tiny presets are meant to run on).
#pragma once
#include <string>

namespace osteofm {

// The "*-tiny" presets are CPU sizes for demos and tests, meant to run on random weights.
inline bool is_tiny_preset(const std::string& preset) {
  return preset.size() >= 5 && preset.compare(preset.size() - 5, 5, "-tiny") == 0;
}

}  // namespace osteofm
