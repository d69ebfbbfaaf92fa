#include "data/mask_convert.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/labels.hpp"
#include "data/regions.hpp"
#include "io/image.hpp"

namespace osteofm {
namespace fs = std::filesystem;

std::pair<int, std::string> parse_value_region(const std::string& spec) {
  const auto eq = spec.find('=');
  const auto v = eq == std::string::npos ? std::nullopt : parse_number(spec.substr(0, eq));
  if (!v || *v < 0 || *v > 255 || *v != static_cast<int>(*v) || eq + 1 >= spec.size())
    throw InputError("--map '" + spec + "': expected VALUE=REGION with VALUE 0..255, e.g. 255=lungs");
  return {static_cast<int>(*v), spec.substr(eq + 1)};
}

std::pair<std::string, std::string> parse_region_column(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 >= spec.size())
    throw InputError("--mask-col '" + spec + "': expected REGION=COLUMN, e.g. spine=spine_png");
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

MaskConversionSummary convert_label_masks(const MaskConversion& c) {
  const bool per_region = !c.region_columns.empty();
  if (per_region && !c.value_to_region.empty())
    throw InputError("data masks: give --map VALUE=REGION for one label mask, or --mask-col REGION=COLUMN per structure, "
                     "not both");
  if (!per_region && c.value_to_region.empty())
    throw InputError("data masks: give at least one --map VALUE=REGION (or --mask-col REGION=COLUMN per structure)");
  const CsvTable t = parse_csv(read_file(c.pairs_csv), c.pairs_csv);
  const int ci = t.column(c.image_column);
  if (ci < 0) throw InputError(c.pairs_csv + ": needs an image column '" + c.image_column + "'");
  std::vector<int> columns;  // label mode: the one mask column; region mode: one per region
  std::vector<std::string> names;  // region names in the order given
  if (per_region) {
    for (const auto& [region, column] : c.region_columns) {
      if (std::find(names.begin(), names.end(), region) != names.end())
        throw InputError("--mask-col: region '" + region + "' given twice");
      const int col = t.column(column);
      if (col < 0) throw InputError(c.pairs_csv + ": no column '" + column + "' (--mask-col " + region + "=" + column + ")");
      columns.push_back(col);
      names.push_back(region);
    }
  } else {
    const int cm = t.column(c.mask_column);
    if (cm < 0) throw InputError(c.pairs_csv + ": needs a mask column '" + c.mask_column + "'");
    columns.push_back(cm);
    for (const auto& [value, name] : c.value_to_region)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  // Region bits: the default table's where the name is known, else the next free bit.
  MaskConversionSummary s;
  uint8_t used = 0;
  const RegionTable defaults = default_region_table();
  for (const auto& r : defaults.regions)
    for (const auto& name : names)
      if (r.name == name) used |= r.bits;
  for (const auto& name : names) {
    int bit = 0;
    for (const auto& r : defaults.regions)
      if (r.name == name) bit = r.bits;
    if (bit == 0)
      for (int b = 64; b <= 128 && bit == 0; b <<= 1)
        if (!(used & b)) bit = b;
    if (bit == 0) throw InputError("data masks: no free bit left for region '" + name + "'");
    used |= bit;
    s.region_bits[name] = bit;
  }
  uint8_t lut[256] = {};
  for (const auto& [value, name] : c.value_to_region) lut[value] |= static_cast<uint8_t>(s.region_bits[name]);

  const fs::path base = c.root.empty() ? fs::path(c.pairs_csv).parent_path() : fs::path(c.root);
  const fs::path out(c.out_dir);
  fs::create_directories(out / "masks");
  std::set<std::string> taken;  // output names already written in this run
  std::string csv = csv_line(per_region ? std::vector<std::string>{"image", "mask"}
                                        : std::vector<std::string>{"image", "mask", "source_mask"});
  for (size_t r = 0; r < t.records.size(); ++r) {
    const auto& row = t.records[r].fields;
    const std::string where = c.pairs_csv + ":" + std::to_string(t.records[r].line) + ": row " + std::to_string(r + 1);
    const int widest = std::max(ci, *std::max_element(columns.begin(), columns.end()));
    if (row.size() <= static_cast<size_t>(widest)) throw InputError(where + ": too few fields");
    const fs::path image = (base / row[ci]).lexically_normal();
    auto located = [&](const std::string& what) {
      return what + (c.root.empty() ? " (relative paths resolve against the CSV's folder; --root DIR names another)" : "");
    };
    GrayImage img;
    try {
      img = read_image(image.string());
    } catch (const InputError& e) {
      throw InputError(where + ": " + located(e.what()));
    }
    std::vector<uint8_t> m(static_cast<size_t>(img.width) * img.height, 0);
    fs::path src;
    for (size_t k = 0; k < columns.size(); ++k) {
      const std::string cell = row[static_cast<size_t>(columns[k])];
      if (per_region && cell.empty()) continue;  // the structure is absent from this image
      src = (base / cell).lexically_normal();
      int w = 0, h = 0;
      std::vector<uint8_t> part;
      try {
        part = read_png_u8(src.string(), &w, &h);
      } catch (const InputError& e) {
        throw InputError(where + ": " + located(e.what()));
      }
      if (w != img.width || h != img.height)
        throw InputError(where + ": mask " + src.string() + " is " + std::to_string(w) + "x" + std::to_string(h) +
                         ", image is " + std::to_string(img.width) + "x" + std::to_string(img.height));
      const uint8_t bit = per_region ? static_cast<uint8_t>(s.region_bits[names[k]]) : 0;
      for (size_t i = 0; i < m.size(); ++i) m[i] |= per_region ? (part[i] ? bit : 0) : lut[part[i]];
    }
    std::string name = (per_region ? image : src).stem().string();
    if (!taken.insert(name).second) {  // two masks of one name (a.png in two folders): keep both
      name += "-" + hex64(fnv1a((per_region ? image : src).string())).substr(0, 8);
      taken.insert(name);
    }
    const fs::path dst = out / "masks" / (name + ".png");
    write_png_u8(dst.string(), img.width, img.height, m);
    std::vector<std::string> fields = {fs::absolute(image).lexically_normal().string(),
                                       fs::absolute(dst).lexically_normal().string()};
    if (!per_region) fields.push_back(fs::absolute(src).lexically_normal().string());
    csv += csv_line(fields);
    ++s.masks;
  }
  nlohmann::json bits = nlohmann::json::object(), controls = nlohmann::json::array();
  for (const auto& [name, bit] : s.region_bits) {
    bits[name] = bit;
    if (std::find(kControlNames.begin(), kControlNames.end(), name) != kControlNames.end()) controls.push_back(name);
  }
  write_file_atomic((out / "regions.json").string(), nlohmann::json{{"bits", bits}, {"controls", controls}}.dump(2) + "\n");
  s.csv = (out / "masks.csv").string();
  write_file_atomic(s.csv, csv);
  return s;
}

}  // namespace osteofm
