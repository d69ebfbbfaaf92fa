// The QC pictures of data/mask_qc.hpp: a contact sheet of every segmented image and a
// full-size overlay of each flagged one.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "core/error.hpp"
#include "core/file_names.hpp"
#include "core/parallel.hpp"
#include "data/mask_qc.hpp"
#include "io/image.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgproc.hpp>

#include "io/annotate.hpp"
#endif

namespace osteofm {
namespace fs = std::filesystem;

#if OSTEOFM_WITH_IMAGE_IO
namespace {

constexpr int kTile = 200;          // thumbnail box, pixels
constexpr int kColumns = 10;
constexpr size_t kPerSheet = 200;   // images per contact sheet
constexpr int kOverlaySide = 1024;  // flagged overlays' longest side, pixels

// Okabe-Ito colours (BGR), by bit: distinguishable with the common colour-vision deficiencies.
cv::Scalar region_colour(uint8_t bits) {
  static const cv::Scalar palette[8] = {{0, 94, 213},   {233, 180, 86},  {66, 228, 240}, {115, 158, 0},
                                        {178, 114, 0},   {167, 121, 204},   {0, 159, 230},  {255, 255, 255}};
  for (int b = 0; b < 8; ++b)
    if (bits & (1 << b)) return palette[b];
  return {255, 255, 255};
}

std::vector<LegendEntry> legend_for(const RegionTable& table, bool frames) {
  std::vector<LegendEntry> legend;
  for (const auto& r : table.regions) legend.push_back({r.name + (r.bone ? "" : " (control)"), region_colour(r.bits)});
  if (frames) legend.push_back({"red frame: flagged (qc.csv)", {40, 40, 230}});
  return legend;
}

cv::Mat gray8(const GrayImage& img) {
  cv::Mat g(img.height, img.width, CV_32F, const_cast<float*>(img.pixels.data())), g8;
  g.convertTo(g8, CV_8U, 255.0);
  return g8;
}

// The region masks brought to `size` without losing thin structures (ribs): each region's
// pixels are area-averaged and kept where they cover a quarter of the output pixel.
cv::Mat shrink_mask(const cv::Mat& mask, const RegionTable& table, cv::Size size) {
  cv::Mat out = cv::Mat::zeros(size, CV_8U);
  for (const auto& r : table.regions) {
    cv::Mat on = (mask & r.bits) != 0, small;
    cv::resize(on, small, size, 0, 0, cv::INTER_AREA);
    cv::Mat hit = small >= 64;
    cv::Mat bits(size, CV_8U, cv::Scalar(r.bits));
    cv::bitwise_or(out, bits, out, hit);
  }
  return out;
}

cv::Mat tile_for(const MaskQcRow& row, const RegionTable& table) {
  cv::Mat tile(kTile + 18, kTile, CV_8UC3, cv::Scalar(0, 0, 0));
  const bool flagged = !row.flags.empty();
  std::string caption = row.image_id;
  if (row.status != "ok") {
    caption += " FAILED";
  } else {
    const GrayImage img = read_image(row.path);
    int w = 0, h = 0;
    const std::vector<uint8_t> bits = read_png_u8(row.mask, &w, &h);
    if (w != img.width || h != img.height) throw InputError(row.mask + ": mask size differs from " + row.path);
    const double scale = std::min(static_cast<double>(kTile) / img.width, static_cast<double>(kTile) / img.height);
    const cv::Size size(std::max(1, static_cast<int>(img.width * scale)), std::max(1, static_cast<int>(img.height * scale)));
    cv::Mat thumb, colour;
    cv::resize(gray8(img), thumb, size, 0, 0, cv::INTER_AREA);
    cv::cvtColor(thumb, colour, cv::COLOR_GRAY2BGR);
    const cv::Mat small = shrink_mask(cv::Mat(h, w, CV_8U, const_cast<uint8_t*>(bits.data())), table, size);
    for (const auto& r : table.regions)
      if (cv::countNonZero((small & r.bits) != 0) > 0) draw_region_contours(colour, small, r.bits, region_colour(r.bits));
    colour.copyTo(tile(cv::Rect((kTile - size.width) / 2, (kTile - size.height) / 2, size.width, size.height)));
    if (flagged) caption += " (" + std::to_string(row.flags.size()) + " flag" + (row.flags.size() > 1 ? "s" : "") + ")";
  }
  if (flagged || row.status != "ok") cv::rectangle(tile, cv::Rect(0, 0, kTile, kTile), cv::Scalar(40, 40, 230), 3);
  cv::putText(tile, caption.substr(0, 30), cv::Point(3, kTile + 13), cv::FONT_HERSHEY_SIMPLEX, 0.38,
              flagged || row.status != "ok" ? cv::Scalar(90, 90, 255) : cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
  return tile;
}

void write_flagged_overlay(const std::string& path, const MaskQcRow& row, const RegionTable& table) {
  const GrayImage img = read_image(row.path);
  int w = 0, h = 0;
  const std::vector<uint8_t> bits = read_png_u8(row.mask, &w, &h);
  if (w != img.width || h != img.height) throw InputError(row.mask + ": mask size differs from " + row.path);
  // At most kOverlaySide pixels a side: large enough to judge a contour, small enough to open.
  const double scale = std::min(1.0, static_cast<double>(kOverlaySide) / std::max(w, h));
  const cv::Size size(std::max(1, static_cast<int>(std::lround(w * scale))), std::max(1, static_cast<int>(std::lround(h * scale))));
  const cv::Mat full(h, w, CV_8U, const_cast<uint8_t*>(bits.data()));
  const cv::Mat mask = scale < 1 ? shrink_mask(full, table, size) : full;
  cv::Mat g8 = gray8(img), plain, filled;
  if (scale < 1) cv::resize(g8, g8, size, 0, 0, cv::INTER_AREA);
  cv::cvtColor(g8, plain, cv::COLOR_GRAY2BGR);
  filled = plain.clone();
  const int thickness = std::max(1, std::max(size.width, size.height) / 400);
  for (const auto& r : table.regions) {
    const cv::Mat on = (mask & r.bits) != 0;
    if (cv::countNonZero(on) == 0) continue;
    cv::Mat tint(plain.size(), CV_8UC3, region_colour(r.bits)), mixed;
    cv::addWeighted(filled, 0.7, tint, 0.3, 0, mixed);
    mixed.copyTo(filled, on);
  }
  for (const auto& r : table.regions)
    if (cv::countNonZero((mask & r.bits) != 0) > 0) draw_region_contours(filled, mask, r.bits, region_colour(r.bits), 1, thickness);
  std::string flags;
  for (const auto& f : row.flags) flags += (flags.empty() ? "" : ", ") + f;
  label_panel(plain, "radiograph");
  label_panel(filled, "segmenter's regions");
  const cv::Mat panels = hstack_panels({plain, filled});
  write_png_atomic(path, vstack_panels({caption_band(panels.cols, row.image_id + ": " + flags), panels,
                                        legend_band(panels.cols, legend_for(table, false))}));
}

}  // namespace

std::vector<std::string> write_mask_pictures(const MaskQcReport& report, const RegionTable& table,
                                             const std::string& dir, const std::string& title, int threads) {
  std::vector<std::string> written;
  const size_t n = report.rows.size();
  const size_t sheets = (n + kPerSheet - 1) / kPerSheet;
  for (size_t s = 0; s < sheets; ++s) {
    const size_t first = s * kPerSheet, count = std::min(kPerSheet, n - first);
    std::vector<cv::Mat> tiles(count);
    parallel_for(count, threads, [&](size_t i, int) {
      const MaskQcRow& row = report.rows[first + i];
      try {
        tiles[i] = tile_for(row, table);
      } catch (const InputError&) {
        MaskQcRow gone = row;  // the image or mask went away since: shown as failed
        gone.status = "failed";
        tiles[i] = tile_for(gone, table);
      }
    });
    const int cols = static_cast<int>(std::min<size_t>(kColumns, count));
    const int rows = static_cast<int>((count + cols - 1) / cols), gap = 4;
    cv::Mat grid(rows * (tiles[0].rows + gap), cols * (kTile + gap), CV_8UC3, cv::Scalar(0, 0, 0));
    for (size_t i = 0; i < count; ++i)
      tiles[i].copyTo(grid(cv::Rect(static_cast<int>(i % cols) * (kTile + gap),
                                    static_cast<int>(i / cols) * (tiles[0].rows + gap), kTile, tiles[0].rows)));
    const int width = std::max(grid.cols, 640);
    cv::Mat body(grid.rows, width, CV_8UC3, cv::Scalar(0, 0, 0));
    grid.copyTo(body(cv::Rect(0, 0, grid.cols, grid.rows)));
    std::string caption = title + ": " + std::to_string(report.images - report.failed) + " segmented, " +
                          std::to_string(report.flagged) + " flagged, " + std::to_string(report.failed) + " failed";
    if (sheets > 1) caption += " (sheet " + std::to_string(s + 1) + " of " + std::to_string(sheets) + ")";
    char name[48];
    if (sheets > 1) std::snprintf(name, sizeof name, "contact_sheet-%03zu.png", s + 1);
    else std::snprintf(name, sizeof name, "contact_sheet.png");
    const std::string path = (fs::path(dir) / name).string();
    write_png_atomic(path, vstack_panels({caption_band(width, caption), body, legend_band(width, legend_for(table, true))}));
    written.push_back(path);
  }
  std::vector<const MaskQcRow*> flagged;
  for (const auto& row : report.rows)
    if (row.status == "ok" && !row.flags.empty()) flagged.push_back(&row);
  if (!flagged.empty()) fs::create_directories(fs::path(dir) / "flagged");
  std::vector<std::string> overlays(flagged.size());
  parallel_for(flagged.size(), threads, [&](size_t i, int) {
    const std::string path = (fs::path(dir) / "flagged" / (file_stem_for_id(flagged[i]->image_id) + ".png")).string();
    write_flagged_overlay(path, *flagged[i], table);
    overlays[i] = path;
  });
  written.insert(written.end(), overlays.begin(), overlays.end());
  return written;
}
#else
std::vector<std::string> write_mask_pictures(const MaskQcReport&, const RegionTable&, const std::string& dir,
                                             const std::string&, int) {
  throw InputError(dir + ": QC pictures need image I/O (this osteofm was built with OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

}  // namespace osteofm
