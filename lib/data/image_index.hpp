// osteofm data index: one row per file of a DICOM folder tree, from the headers alone
// (io/dicom_header.hpp): the image index that data link pairs with the DXA export.
// Parallel, resumable (an interrupted run continues from OUT.partial), with progress;
// a file that is not DICOM or is damaged is a row with its status, never a stop.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace osteofm {

struct ImageIndexOptions {
  std::string dicom_dir, out;  // out: images.csv
  std::string png_out;         // when set: each readable image also as a 16-bit PNG here
  int threads = 0;             // 0: the default pool size
};

struct ImageIndexSummary {
  size_t files = 0, reused = 0, pngs = 0;
  std::map<std::string, size_t> by_status;  // "ok", "not_dicom", "unreadable", ...
  double seconds = 0;
};

// The index's columns, in order (with png_out, dicom_path follows path).
std::vector<std::string> image_index_columns(bool with_png);

ImageIndexSummary build_image_index(const ImageIndexOptions& options);

}  // namespace osteofm
