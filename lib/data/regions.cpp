#include "data/regions.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"

namespace osteofm {
using nlohmann::json;

const std::vector<std::string> kControlNames = {"lungs", "lung", "left_lung", "right_lung", "soft_tissue",
                                                "heart", "mediastinum", "background", "body", "marker"};

uint8_t RegionTable::bone_bits() const {
  uint8_t b = 0;
  for (const auto& r : regions)
    if (r.bone) b |= r.bits;
  return b;
}

std::vector<Region> RegionTable::bones() const {
  std::vector<Region> out;
  for (const auto& r : regions)
    if (r.bone) out.push_back(r);
  return out;
}

std::vector<Region> RegionTable::controls() const {
  std::vector<Region> out;
  for (const auto& r : regions)
    if (!r.bone) out.push_back(r);
  return out;
}

std::string RegionTable::to_json() const {
  json bits = json::object(), controls = json::array();
  for (const auto& r : regions) {
    bits[r.name] = r.bits;
    if (!r.bone) controls.push_back(r.name);
  }
  return json{{"bits", bits}, {"controls", controls}}.dump();
}

RegionTable default_region_table() {
  return {{{"spine", 1, true}, {"ribs", 2, true}, {"clavicles", 4, true}, {"scapulae", 8, true}, {"humeri", 16, true},
           {"lungs", 32, false}}};
}

RegionTable parse_region_table(const std::string& text, const std::string& source) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object() || j.empty()) throw InputError(source + ": a region table must be a JSON object of name -> bit");
  const bool nested = j.contains("bits");
  const json& bits = nested ? j.at("bits") : j;
  if (!bits.is_object() || bits.empty()) throw InputError(source + ": key 'bits' must be an object of name -> bit");
  std::vector<std::string> controls;
  if (nested && j.contains("controls")) {
    if (!j.at("controls").is_array()) throw InputError(source + ": key 'controls' must be a list of region names");
    for (const auto& c : j.at("controls")) {
      if (!c.is_string() || !bits.contains(c.get<std::string>()))
        throw InputError(source + ": controls entry " + c.dump() + " is not a region of 'bits'");
      controls.push_back(c.get<std::string>());
    }
  } else {
    // The flat form, or the nested one without a list: the known control names are
    // controls (a lung counted as bone would inflate IoU_bone).
    controls = kControlNames;
  }
  RegionTable t;
  for (auto it = bits.begin(); it != bits.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 1 || it.value().get<int64_t>() > 255)
      throw InputError(source + ": region '" + it.key() + "' must have a bit value 1..255, not " + it.value().dump());
    const bool control = std::find(controls.begin(), controls.end(), it.key()) != controls.end();
    t.regions.push_back({it.key(), static_cast<uint8_t>(it.value().get<int>()), !control});
  }
  // Table order: by bit value (nlohmann sorts keys by name).
  std::stable_sort(t.regions.begin(), t.regions.end(), [](const Region& a, const Region& b) { return a.bits < b.bits; });
  return t;
}

RegionTable region_table_for(const std::string& dir) {
  const auto p = std::filesystem::path(dir) / "regions.json";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return default_region_table();
  return parse_region_table(read_file(p.string()), p.string());
}

}  // namespace osteofm
