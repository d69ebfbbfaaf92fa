// Region tables (design.md "Region masks"): names -> bit values of the 8-bit masks, and
// which regions are bones ("all bones" = any bone bit) and which are controls (lungs,
// soft tissue: where a model should NOT be looking if it reads bone density).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

struct Region {
  std::string name;
  uint8_t bits = 0;
  bool bone = true;
};

struct RegionTable {
  std::vector<Region> regions;  // in table order
  uint8_t bone_bits() const;    // union of the bone regions' bits
  std::vector<Region> bones() const;
  std::vector<Region> controls() const;
  std::string to_json() const;  // {"bits": {...}, "controls": [...]}
};

// spine 1, ribs 2, clavicles 4, scapulae 8, humeri 16 (bones), lungs 32 (control).
RegionTable default_region_table();

// A regions.json: either the flat form {"spine": 1, "ribs": 2, ..., "lungs": 32} (names in
// kControlNames are controls, every other region a bone) or {"bits": {...}, "controls":
// [...]} (controls listed; without the list, the names in kControlNames are controls, as
// in the flat form); a table may have no bone (real lung masks). Bits must be non-zero 8-bit values. InputError naming the file
// and key otherwise.
RegionTable parse_region_table(const std::string& text, const std::string& source);

// regions.json in `dir` if there is one, else the default table.
RegionTable region_table_for(const std::string& dir);

// Region names treated as controls in the flat form.
extern const std::vector<std::string> kControlNames;

}  // namespace osteofm
