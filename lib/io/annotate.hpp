// Figure furniture for raster images (overlays, phantom previews): a caption band, a legend
// band of coloured line samples, a colour bar with ticks, and region contours. OpenCV only:
// include it where OSTEOFM_WITH_IMAGE_IO is set.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace osteofm {

struct LegendEntry {
  std::string label;
  cv::Scalar colour;  // BGR
};

// A black band `width` wide holding `text` in white, the font shrunk until it fits.
cv::Mat caption_band(int width, const std::string& text);

// A black band `width` wide: an optional lead text, then per entry a short line sample in
// its colour and its label, wrapped onto as many rows as the width needs.
cv::Mat legend_band(int width, const std::vector<LegendEntry>& entries, const std::string& lead = "");

// A vertical colour bar `height` tall for an OpenCV colour map over [0, 1] (1 at the top),
// with ticks 0, 0.5 and 1 and `label` written along it.
cv::Mat colour_bar(int height, int colormap, const std::string& label);

// Outlines of the pixels of `mask` (CV_8U, bit-coded regions) that carry any of `bits`,
// drawn on `image` (which may be `scale` times larger than the mask), holes included.
void draw_region_contours(cv::Mat& image, const cv::Mat& mask, uint8_t bits, const cv::Scalar& colour, int scale = 1,
                          int thickness = 1);

// Panels side by side on a black background with `gap` pixels between them, their tops
// aligned; every panel is 3-channel.
cv::Mat hstack_panels(const std::vector<cv::Mat>& panels, int gap = 8);

// Panels one above the other, left-aligned, padded to the widest.
cv::Mat vstack_panels(const std::vector<cv::Mat>& panels);

// Writes `text` in white at the top-left of `panel` on a dark box (panel names: "original").
void label_panel(cv::Mat& panel, const std::string& text);

// PNG bytes of `image`, written atomically to `path`; RuntimeFailure when encoding fails.
void write_png_atomic(const std::string& path, const cv::Mat& image);

}  // namespace osteofm
