#include "data/image_realism.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/numbers.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace osteofm {

const std::vector<std::string>& realism_names() {
  static const std::vector<std::string> names = {"mean",      "sd",        "skewness",       "q10",
                                                 "q50",       "q90",       "spectrum_slope", "lung_mean",
                                                 "lung_sd",   "lung_detail_sd", "lung_gradient"};
  return names;
}

std::vector<double> realism_values(const RealismStats& s) {
  const double lung = s.has_lungs ? 1.0 : kNaN;
  return {s.mean, s.sd, s.skewness, s.q10, s.q50, s.q90, s.spectrum_slope,
          lung * s.lung_mean, lung * s.lung_sd, lung * s.lung_detail_sd, lung * s.lung_gradient};
}

RealismRange realism_range(const std::vector<RealismStats>& set) {
  const size_t n = realism_names().size();
  RealismRange r{std::vector<double>(n, kNaN), std::vector<double>(n, kNaN), std::vector<size_t>(n, 0)};
  for (const auto& s : set) {
    const auto v = realism_values(s);
    for (size_t k = 0; k < n; ++k) {
      if (std::isnan(v[k])) continue;
      r.lo[k] = r.count[k] ? std::min(r.lo[k], v[k]) : v[k];
      r.hi[k] = r.count[k] ? std::max(r.hi[k], v[k]) : v[k];
      ++r.count[k];
    }
  }
  return r;
}

std::vector<std::string> realism_outside(const RealismStats& probe, const RealismRange& range) {
  std::vector<std::string> out;
  const auto v = realism_values(probe);
  for (size_t k = 0; k < v.size(); ++k) {
    if (std::isnan(v[k]) || range.count[k] == 0) continue;
    if (v[k] < range.lo[k] || v[k] > range.hi[k])
      out.push_back(realism_names()[k] + " " + std::to_string(v[k]) + " (range " + std::to_string(range.lo[k]) + ".." +
                    std::to_string(range.hi[k]) + ")");
  }
  return out;
}

#if OSTEOFM_WITH_IMAGE_IO
namespace {
// The windowed kRealismSize^2 view every statistic is taken on (see the header).
cv::Mat windowed_view(const std::vector<float>& pixels, int width, int height) {
  cv::Mat src(height, width, CV_32F, const_cast<float*>(pixels.data())), img;
  cv::resize(src, img, cv::Size(kRealismSize, kRealismSize), 0, 0, cv::INTER_AREA);
  std::vector<float> sorted(img.begin<float>(), img.end<float>());
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted[sorted.size() / 100], hi = sorted[sorted.size() * 99 / 100];
  const double span = hi > lo ? hi - lo : 1.0;
  img = (img - lo) / span;
  cv::min(cv::max(img, 0.0), 1.0, img);
  return img;
}

double spectrum_slope(const cv::Mat& img) {
  const int S = img.rows;
  cv::Mat hann, x;
  cv::createHanningWindow(hann, img.size(), CV_32F);
  x = img - cv::mean(img)[0];
  x = x.mul(hann);
  cv::Mat spec;
  cv::dft(x, spec, cv::DFT_COMPLEX_OUTPUT);
  std::vector<double> power(S, 0.0), count(S, 0.0);
  for (int v = 0; v < S; ++v)
    for (int u = 0; u < S; ++u) {
      const int fu = u <= S / 2 ? u : u - S, fv = v <= S / 2 ? v : v - S;
      const int r = static_cast<int>(std::lround(std::sqrt(double(fu * fu + fv * fv))));
      if (r >= S) continue;
      const cv::Vec2f c = spec.at<cv::Vec2f>(v, u);
      power[r] += double(c[0]) * c[0] + double(c[1]) * c[1];
      count[r] += 1;
    }
  // Least squares of log P on log f over 4..64 cycles per image.
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = 0;
  for (int r = 4; r <= 64; ++r) {
    if (count[r] == 0 || power[r] <= 0) continue;
    const double lx = std::log10(double(r)), ly = std::log10(power[r] / count[r]);
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly, n += 1;
  }
  return -(n * sxy - sx * sy) / (n * sxx - sx * sx);
}
}  // namespace

RealismStats realism_stats(const std::vector<float>& pixels, int width, int height, const std::vector<uint8_t>& lung_mask) {
  if (width < 16 || height < 16 || pixels.size() != size_t(width) * height)
    throw InputError("realism: an image of " + std::to_string(width) + "x" + std::to_string(height) + " with " +
                     std::to_string(pixels.size()) + " pixels");
  if (!lung_mask.empty() && lung_mask.size() != pixels.size())
    throw InputError("realism: the lung mask has " + std::to_string(lung_mask.size()) + " pixels, the image " +
                     std::to_string(pixels.size()));
  const cv::Mat img = windowed_view(pixels, width, height);
  RealismStats s;
  std::vector<float> v(img.begin<float>(), img.end<float>());
  double sum = 0, sum2 = 0, sum3 = 0;
  for (float p : v) sum += p;
  s.mean = sum / v.size();
  for (float p : v) {
    const double d = p - s.mean;
    sum2 += d * d;
    sum3 += d * d * d;
  }
  s.sd = std::sqrt(sum2 / v.size());
  s.skewness = s.sd > 0 ? (sum3 / v.size()) / (s.sd * s.sd * s.sd) : 0.0;
  std::sort(v.begin(), v.end());
  auto quantile = [&](double q) { return double(v[std::min(v.size() - 1, size_t(q * v.size()))]); };
  s.q10 = quantile(0.10), s.q50 = quantile(0.50), s.q90 = quantile(0.90);
  s.spectrum_slope = spectrum_slope(img);

  if (!lung_mask.empty()) {
    cv::Mat m8(height, width, CV_8U, const_cast<uint8_t*>(lung_mask.data())), m;
    cv::resize(m8 != 0, m, cv::Size(kRealismSize, kRealismSize), 0, 0, cv::INTER_NEAREST);
    cv::erode(m, m, cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(7, 7)));
    if (cv::countNonZero(m) >= 64) {
      cv::Mat blur, detail, gx, gy, grad;
      cv::GaussianBlur(img, blur, cv::Size(0, 0), 2.0);
      detail = img - blur;
      cv::Sobel(img, gx, CV_32F, 1, 0, 3, 1.0 / 8);
      cv::Sobel(img, gy, CV_32F, 0, 1, 3, 1.0 / 8);
      cv::magnitude(gx, gy, grad);
      cv::Scalar mean, sd, dmean, dsd;
      cv::meanStdDev(img, mean, sd, m);
      cv::meanStdDev(detail, dmean, dsd, m);
      s.has_lungs = true;
      s.lung_mean = mean[0];
      s.lung_sd = sd[0];
      s.lung_detail_sd = dsd[0];
      s.lung_gradient = cv::mean(grad, m)[0];
    }
  }
  return s;
}
#else
RealismStats realism_stats(const std::vector<float>&, int, int, const std::vector<uint8_t>&) {
  throw InputError("realism: this osteofm was built without image I/O (OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

}  // namespace osteofm
