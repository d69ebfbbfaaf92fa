// How much a radiograph looks like a chest radiograph, in numbers that can be compared
// between the phantom and real images (issue 15: "measure realism, not by eye alone").
//
// Every statistic is taken on the same normalised view of an image, so a 16-bit phantom and
// an 8-bit JPEG from a paper compare: resized to kRealismSize x kRealismSize (area
// averaging, aspect squashed) and windowed to its own 1st..99th intensity percentiles,
// mapped to [0, 1] and clamped. This window is what a viewer's auto-window does; it removes
// the exposure and bit-depth differences that say nothing about anatomy.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace osteofm {

constexpr int kRealismSize = 256;

struct RealismStats {
  // Intensity histogram of the windowed image.
  double mean = 0, sd = 0, skewness = 0, q10 = 0, q50 = 0, q90 = 0;
  // Slope beta of the radially averaged power spectrum, P(f) ~ f^-beta, fitted by least
  // squares in log-log over 4..64 cycles per image (Hann-windowed, mean removed). Natural
  // images and radiographs sit near 2-3; flat cartoons are steeper, white noise is 0.
  double spectrum_slope = 0;
  // Lung-field texture (only with a lung mask; has_lungs false otherwise), inside the lung
  // mask eroded by 3 px so its border does not count: the mean and SD of the windowed
  // intensity, the SD of the fine detail (image minus its Gaussian blur at sigma 2 px: the
  // vessels, rib edges and noise) and the mean gradient magnitude (Sobel, per pixel).
  bool has_lungs = false;
  double lung_mean = 0, lung_sd = 0, lung_detail_sd = 0, lung_gradient = 0;
};

// The names of the statistics, in the order realism_values returns them.
const std::vector<std::string>& realism_names();
std::vector<double> realism_values(const RealismStats& s);  // lung ones NaN without lungs

// `pixels` row-major in any range (windowed here); `lung_mask` empty or one byte per pixel,
// non-zero inside the lungs. Needs image I/O (OpenCV); throws InputError without it.
RealismStats realism_stats(const std::vector<float>& pixels, int width, int height,
                           const std::vector<uint8_t>& lung_mask = {});

// The span of each statistic over a set (min, max); NaN values are skipped.
struct RealismRange {
  std::vector<double> lo, hi;
  std::vector<size_t> count;
};
RealismRange realism_range(const std::vector<RealismStats>& set);

// The statistics of `probe` that fall outside `range`, as "name value (range lo..hi)" lines.
std::vector<std::string> realism_outside(const RealismStats& probe, const RealismRange& range);

}  // namespace osteofm
