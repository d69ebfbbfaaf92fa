#include "data/mask_convert.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
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

MaskConversionSummary convert_label_masks(const MaskConversion& c) {
  if (c.value_to_region.empty()) throw InputError("data masks: give at least one --map VALUE=REGION");
  const CsvTable t = parse_csv(read_file(c.pairs_csv), c.pairs_csv);
  const int ci = t.column(c.image_column), cm = t.column(c.mask_column);
  if (ci < 0 || cm < 0)
    throw InputError(c.pairs_csv + ": needs columns '" + c.image_column + "' and '" + c.mask_column + "'");
  // Region bits: the default table's where the name is known, else the next free bit.
  MaskConversionSummary s;
  uint8_t used = 0;
  const RegionTable defaults = default_region_table();
  for (const auto& [value, name] : c.value_to_region) {
    if (s.region_bits.count(name)) continue;
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
  std::string csv = csv_line({"image", "mask", "source_mask"});
  for (size_t r = 0; r < t.records.size(); ++r) {
    const auto& row = t.records[r].fields;
    const std::string where = c.pairs_csv + ":" + std::to_string(t.records[r].line) + ": row " + std::to_string(r + 1);
    if (row.size() <= static_cast<size_t>(std::max(ci, cm))) throw InputError(where + ": too few fields");
    const fs::path image = (base / row[ci]).lexically_normal(), src = (base / row[cm]).lexically_normal();
    int w = 0, h = 0;
    std::vector<uint8_t> m;
    GrayImage img;
    try {
      m = read_png_u8(src.string(), &w, &h);
      img = read_image(image.string());
    } catch (const InputError& e) {
      throw InputError(where + ": " + e.what() +
                       (c.root.empty() ? " (relative paths resolve against the CSV's folder; --root DIR names another)"
                                       : ""));
    }
    if (w != img.width || h != img.height)
      throw InputError(where + ": mask " + src.string() + " is " + std::to_string(w) + "x" + std::to_string(h) +
                       ", image is " + std::to_string(img.width) + "x" + std::to_string(img.height));
    for (auto& v : m) v = lut[v];
    const fs::path dst = out / "masks" / (src.stem().string() + ".png");
    write_png_u8(dst.string(), w, h, m);
    csv += csv_line({fs::absolute(image).lexically_normal().string(), fs::absolute(dst).lexically_normal().string(),
                     fs::absolute(src).lexically_normal().string()});
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
