#include "data/preprocessing.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

int Preprocessing::resize_size() const {
  if (squash) return size;
  // timm: scale_size = math.floor(img_size / crop_pct); the epsilon keeps 224 / 0.875 at
  // 256 whatever the division's last bit.
  return std::max(size, static_cast<int>(std::floor(size / crop_fraction + 1e-9)));
}

std::array<int, 2> Preprocessing::resized_shape(int height, int width) const {
  if (squash) return {size, size};
  const int short_side = resize_size();
  const bool portrait = height >= width;
  const int lo = portrait ? width : height, hi = portrait ? height : width;
  // int(requested_new_short * long / short), in double as Python computes it.
  const int long_side = std::max(short_side, static_cast<int>(static_cast<double>(short_side) * hi / lo));
  return portrait ? std::array<int, 2>{long_side, short_side} : std::array<int, 2>{short_side, long_side};
}

int Preprocessing::crop_start(int extent) const {
  const int margin = extent - size;
  if (margin <= 0) return 0;
  if (crop_offset == "round") {
    // Python's round(margin / 2.0): halves go to the even neighbour.
    const int down = margin / 2;
    return margin % 2 == 0 ? down : (down % 2 == 0 ? down : down + 1);
  }
  return margin / 2;
}

bool Preprocessing::same_field_of_view(const Preprocessing& o) const {
  if (squash != o.squash) return false;
  return squash || (std::fabs(crop_fraction - o.crop_fraction) < 1e-9 && crop_offset == o.crop_offset);
}

std::string Preprocessing::crop_key() const {
  if (squash || (resize_size() == size && crop_offset == "floor")) return "";
  return "r" + std::to_string(resize_size()) + crop_offset;
}

json preprocessing_to_json(const Preprocessing& p) {
  return {{"size", p.size},
          {"resize", p.resize_size()},
          {"fit", p.squash ? "squash" : "crop"},
          {"crop_fraction", p.crop_fraction},
          {"crop_offset", p.crop_offset},
          {"interpolation", "bicubic"},
          {"antialias", true},
          {"mean", p.mean},
          {"std", p.std}};
}

Preprocessing preprocessing_from_json(const json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(source + ": preprocessing must be a JSON object");
  Preprocessing p;
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw InputError(source + ": preprocessing lacks '" + std::string(key) + "'");
    return j[key];
  };
  try {
    p.size = need("size").get<int>();
    const std::string fit = need("fit").get<std::string>();
    if (fit != "crop" && fit != "squash") throw InputError(source + ": preprocessing fit must be crop or squash");
    p.squash = fit == "squash";
    p.crop_fraction = need("crop_fraction").get<double>();
    p.crop_offset = need("crop_offset").get<std::string>();
    p.mean = need("mean").get<std::array<double, 3>>();
    p.std = need("std").get<std::array<double, 3>>();
  } catch (const json::exception& e) {
    throw InputError(source + ": preprocessing has a value of the wrong type (" + e.what() + ")");
  }
  if (p.size < 1 || !(p.crop_fraction > 0 && p.crop_fraction <= 1) ||
      (p.crop_offset != "floor" && p.crop_offset != "round"))
    throw InputError(source + ": preprocessing values out of range (size >= 1, 0 < crop_fraction <= 1, crop_offset floor|round)");
  return p;
}

}  // namespace osteofm
