// Quality control of region masks made by a segmenter (osteofm data segment): per image and
// region the area, pieces and centroid; flags a reader should look at (an empty region, an
// area far from the cohort's, left and right structures swapped, a region at the image
// border); and the pictures to look at them in (a contact sheet, overlays of the flagged).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "data/regions.hpp"

namespace osteofm {

struct MaskStats {
  double area_fraction = 0;  // pixels in the region / pixels in the image
  int components = 0;        // 8-connected pieces
  // Centroid in [0, 1] of the width and height (NaN when the region is empty).
  double centroid_x = std::numeric_limits<double>::quiet_NaN();
  double centroid_y = std::numeric_limits<double>::quiet_NaN();
  bool touches_border = false;  // a pixel on the image's outermost row or column
};

// Statistics of the pixels of `mask` (row-major, width x height) that carry any of `bits`.
MaskStats mask_stats(const uint8_t* mask, int width, int height, uint8_t bits);

struct ChannelStats {
  std::string name;  // the segmenter's output channel ("left_clavicle")
  MaskStats stats;
};

// "Left Clavicle", "left_clavicle", "clavicle_left" -> side 'L' and key "clavicle"; false
// for a name without exactly such a side word ("spine").
bool side_of(const std::string& channel_name, char* side, std::string* key);

// One image's QC record (qc/<image>.json while segmenting; a qc.csv row at the end).
struct MaskQcRow {
  std::string image_id, path, mask;  // mask: empty when the image failed
  std::string status = "ok";         // "ok" or "failed"
  std::string error;                 // one line, when failed
  std::string source_key;            // the image file as segmented: path, size, modification time
  int width = 0, height = 0;
  std::vector<MaskStats> regions;     // aligned with the region table's regions
  std::vector<ChannelStats> channels;  // named output channels
  std::vector<std::string> flags;     // "empty:spine", "area_outlier:ribs", ...
};

struct MaskQcOptions {
  double outlier_z = 3.5;  // |robust z| of a region's area above this is flagged (Iglewicz & Hoaglin)
  std::vector<std::string> may_touch_border = {"spine", "scapulae", "humeri"};
};

struct MaskQcRegionSummary {
  std::string name;
  uint8_t bits = 0;
  bool bone = true;
  double median_area = 0, mad_area = 0;  // over the images that were segmented
  size_t empty = 0, area_outliers = 0, touching_border = 0;
};

struct MaskQcReport {
  std::vector<MaskQcRow> rows;  // flags filled in
  std::vector<MaskQcRegionSummary> regions;
  size_t images = 0, failed = 0, flagged = 0, swapped = 0;
};

// Fills each row's flags from the cohort: a region with no pixel; an area whose robust
// z-score 0.6745 (a - median) / MAD exceeds options.outlier_z (not computed below 5 images or
// with MAD 0); a pair of channels named left_X / right_X (any case, spaces or underscores)
// whose centroids are the wrong way round for a frontal film shown in the standard way
// (the patient's right on the image's left); a region touching the border that is not in
// options.may_touch_border.
MaskQcReport assess_masks(std::vector<MaskQcRow> rows, const RegionTable& table, const MaskQcOptions& options);

// The per-image record as JSON text and back (resume keeps finished rows); InputError when
// the text is not a record of this table.
std::string qc_row_json(const MaskQcRow& row, const RegionTable& table);
MaskQcRow parse_qc_row_json(const std::string& text, const RegionTable& table, const std::string& source);

// qc.csv (one row per image: status, error, flags, per region area / components / centroid)
// and qc.json (the summary per region, the flag counts and every row).
std::string qc_csv(const MaskQcReport& report, const RegionTable& table);
std::string qc_json(const MaskQcReport& report, const RegionTable& table);

// The pictures: a contact sheet (thumbnails in a grid, each region's outline in its own
// colour, flagged images framed in red, a legend), one PNG per 200 images named
// contact_sheet.png (or contact_sheet-001.png, ... when there are more), and a full-size
// overlay of every flagged image in `dir`/flagged/. Returns the files written. Needs image I/O.
std::vector<std::string> write_mask_pictures(const MaskQcReport& report, const RegionTable& table,
                                             const std::string& dir, const std::string& title, int threads);

}  // namespace osteofm
