#include "io/annotate.hpp"

#include <algorithm>
#include <opencv2/imgproc.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "io/png_encode.hpp"

namespace osteofm {
namespace {
constexpr int kFace = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kFont = 0.45;
constexpr int kRow = 22;  // band row height, px
const cv::Scalar kWhite(255, 255, 255), kBlack(0, 0, 0);

int text_width(const std::string& s, double font) {
  int base = 0;
  return cv::getTextSize(s, kFace, font, 1, &base).width;
}
}  // namespace

cv::Mat caption_band(int width, const std::string& text) {
  cv::Mat band(kRow + 4, width, CV_8UC3, kBlack);
  double font = kFont;
  while (font > 0.25 && text_width(text, font) > width - 12) font -= 0.02;
  cv::putText(band, text, cv::Point(6, kRow - 4), kFace, font, kWhite, 1, cv::LINE_AA);
  return band;
}

cv::Mat legend_band(int width, const std::vector<LegendEntry>& entries, const std::string& lead) {
  // Lay the items out first (row, x) so the band's height is known before drawing.
  struct Item {
    int row, x;
    std::string text;
    const cv::Scalar* colour;
  };
  constexpr int sample = 22, pad = 6, spacing = 14;
  std::vector<Item> items;
  int row = 0, x = pad;
  if (!lead.empty()) {
    items.push_back({row, x, lead, nullptr});
    x += text_width(lead, kFont) + spacing;
  }
  for (const auto& e : entries) {
    const int w = sample + 4 + text_width(e.label, kFont);
    if (x + w > width - pad && x > pad) {
      ++row;
      x = pad;
    }
    items.push_back({row, x, e.label, &e.colour});
    x += w + spacing;
  }
  cv::Mat band((row + 1) * kRow + 4, width, CV_8UC3, kBlack);
  for (const auto& it : items) {
    const int y = it.row * kRow + kRow - 6;
    int tx = it.x;
    if (it.colour) {
      cv::line(band, cv::Point(it.x, y - 5), cv::Point(it.x + sample, y - 5), *it.colour, 2, cv::LINE_AA);
      tx += sample + 4;
    }
    cv::putText(band, it.text, cv::Point(tx, y), kFace, kFont, kWhite, 1, cv::LINE_AA);
  }
  return band;
}

cv::Mat colour_bar(int height, int colormap, const std::string& label) {
  constexpr int bar_w = 16, ticks_w = 34, label_w = 20;
  cv::Mat ramp(height, 1, CV_8U);
  for (int y = 0; y < height; ++y)
    ramp.at<uint8_t>(y, 0) = static_cast<uint8_t>(std::lround(255.0 * (height - 1 - y) / std::max(1, height - 1)));
  cv::Mat coloured;
  cv::applyColorMap(ramp, coloured, colormap);
  cv::resize(coloured, coloured, cv::Size(bar_w, height), 0, 0, cv::INTER_NEAREST);
  cv::Mat out(height, bar_w + ticks_w + label_w, CV_8UC3, kBlack);
  coloured.copyTo(out(cv::Rect(0, 0, bar_w, height)));
  const std::pair<double, const char*> ticks[] = {{1.0, "1"}, {0.5, "0.5"}, {0.0, "0"}};
  for (const auto& [v, text] : ticks) {
    const int y = static_cast<int>(std::lround((1.0 - v) * (height - 1)));
    cv::line(out, cv::Point(bar_w, y), cv::Point(bar_w + 4, y), kWhite, 1);
    const int ty = std::clamp(y + 5, 12, height - 2);
    cv::putText(out, text, cv::Point(bar_w + 6, ty), kFace, 0.4, kWhite, 1, cv::LINE_AA);
  }
  // The label runs bottom to top beside the ticks: drawn on a strip, then rotated.
  cv::Mat strip(label_w, height, CV_8UC3, kBlack);
  double font = 0.42;
  while (font > 0.25 && text_width(label, font) > height - 8) font -= 0.02;
  const int tw = text_width(label, font);
  cv::putText(strip, label, cv::Point(std::max(2, (height - tw) / 2), label_w - 6), kFace, font, kWhite, 1, cv::LINE_AA);
  cv::Mat rotated;
  cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
  rotated.copyTo(out(cv::Rect(bar_w + ticks_w, 0, label_w, height)));
  return out;
}

void draw_region_contours(cv::Mat& image, const cv::Mat& mask, uint8_t bits, const cv::Scalar& colour, int scale,
                          int thickness) {
  if (bits == 0) return;
  cv::Mat m = (mask & bits) != 0;
  if (scale > 1) cv::resize(m, m, cv::Size(mask.cols * scale, mask.rows * scale), 0, 0, cv::INTER_NEAREST);
  std::vector<std::vector<cv::Point>> contours;
  // Every contour, holes included: the gaps between ribs are where the lungs show.
  cv::findContours(m, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  cv::drawContours(image, contours, -1, colour, thickness, cv::LINE_AA);
}

cv::Mat hstack_panels(const std::vector<cv::Mat>& panels, int gap) {
  int width = 0, height = 0;
  for (const auto& p : panels) {
    width += p.cols;
    height = std::max(height, p.rows);
  }
  width += gap * std::max(0, static_cast<int>(panels.size()) - 1);
  cv::Mat out(height, width, CV_8UC3, kBlack);
  int x = 0;
  for (const auto& p : panels) {
    p.copyTo(out(cv::Rect(x, 0, p.cols, p.rows)));
    x += p.cols + gap;
  }
  return out;
}

cv::Mat vstack_panels(const std::vector<cv::Mat>& panels) {
  int width = 0, height = 0;
  for (const auto& p : panels) {
    width = std::max(width, p.cols);
    height += p.rows;
  }
  cv::Mat out(height, width, CV_8UC3, kBlack);
  int y = 0;
  for (const auto& p : panels) {
    p.copyTo(out(cv::Rect(0, y, p.cols, p.rows)));
    y += p.rows;
  }
  return out;
}

void label_panel(cv::Mat& panel, const std::string& text) {
  const int w = text_width(text, kFont) + 10;
  cv::Mat box = panel(cv::Rect(0, 0, std::min(w, panel.cols), std::min(kRow, panel.rows)));
  box *= 0.3;  // darkened, not blacked out: the corner stays readable as image
  cv::putText(panel, text, cv::Point(5, kRow - 7), kFace, kFont, kWhite, 1, cv::LINE_AA);
}

void write_png_atomic(const std::string& path, const cv::Mat& image) {
  if (image.depth() != CV_8U && image.depth() != CV_16U)
    throw RuntimeFailure(path + ": PNG encoding failed (pixels are neither 8- nor 16-bit)");
  PngRaster raster;
  raster.width = image.cols;
  raster.height = image.rows;
  raster.channels = image.channels();
  raster.bits = image.depth() == CV_16U ? 16 : 8;
  raster.data = image.data;
  raster.row_bytes = image.step;
  raster.bgr = image.channels() == 3;  // OpenCV's colour order
  write_png_file(path, raster);
}

}  // namespace osteofm
