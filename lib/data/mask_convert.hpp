// `osteofm data masks`: label-value masks (V7 Labs semantic PNGs: 0 background,
// 255 lung, 127 ignore; or any value -> region scheme) to the bit-coded region masks of
// design.md, with a regions.json, so real human-drawn masks feed explain.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace osteofm {

struct MaskConversion {
  std::string pairs_csv;               // CSV with an image column and a mask column
  std::string image_column = "image", mask_column = "semantic_mask";
  std::map<int, std::string> value_to_region;  // e.g. {255: "lungs"}; other values -> no region
  // Instead of one label mask: one binary PNG per structure, (region, column) pairs (any
  // non-zero pixel is inside; masks may overlap; an empty cell = the structure is absent).
  std::vector<std::pair<std::string, std::string>> region_columns;
  std::string out_dir;
  // The folder the CSV's relative paths resolve against (default: the CSV's own folder,
  // as every path written inside a file does).
  std::string root;
};

struct MaskConversionSummary {
  size_t masks = 0;
  std::map<std::string, int> region_bits;  // the table written to regions.json
  std::string csv;                         // out_dir/masks.csv: image, mask (converted), source_mask
};

// Bits: the default table's bit for a known name (lungs 32, spine 1, ...), else the next
// free bit. Output masks are named after the label mask (or, with region_columns, the
// image); two that would share a name get a hash of their source added. Each output mask is written atomically; a mask whose size differs from its
// image, or an unreadable one, is an InputError naming the CSV row.
MaskConversionSummary convert_label_masks(const MaskConversion& conversion);

// "255=lungs" -> (255, "lungs"); InputError otherwise.
std::pair<int, std::string> parse_value_region(const std::string& spec);
// "spine=spine_png" -> ("spine", "spine_png"); InputError otherwise.
std::pair<std::string, std::string> parse_region_column(const std::string& spec);

}  // namespace osteofm
