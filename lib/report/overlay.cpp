#include "report/overlay.hpp"

#include "core/error.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/atomic_file.hpp"
#endif

namespace osteofm {

#if OSTEOFM_WITH_IMAGE_IO
void write_cam_overlay(const std::string& path, const CamOverlay& o, int min_side) {
  const int S = o.size;
  const int scale = std::max(1, (min_side + S - 1) / S);
  cv::Mat gray(S, S, CV_32F, const_cast<float*>(o.gray.data())), cam(S, S, CV_32F, const_cast<float*>(o.cam.data()));
  cv::Mat mask(S, S, CV_8U, const_cast<uint8_t*>(o.mask.data()));
  cv::Mat g8, c8, heat, base, out;
  gray.convertTo(g8, CV_8U, 255.0);
  cam.convertTo(c8, CV_8U, 255.0);
  cv::resize(g8, g8, cv::Size(S * scale, S * scale), 0, 0, cv::INTER_CUBIC);
  cv::resize(c8, c8, cv::Size(S * scale, S * scale), 0, 0, cv::INTER_LINEAR);
  cv::applyColorMap(c8, heat, cv::COLORMAP_JET);
  cv::cvtColor(g8, base, cv::COLOR_GRAY2BGR);
  cv::addWeighted(base, 0.6, heat, 0.4, 0.0, out);
  auto contours = [&](uint8_t bits, const cv::Scalar& colour) {
    if (bits == 0) return;
    cv::Mat m = (mask & bits) != 0;
    cv::resize(m, m, cv::Size(S * scale, S * scale), 0, 0, cv::INTER_NEAREST);
    std::vector<std::vector<cv::Point>> cs;
    // Every contour, holes included: the gaps between ribs are where the lungs show.
    cv::findContours(m, cs, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
    cv::drawContours(out, cs, -1, colour, 1, cv::LINE_AA);
  };
  contours(o.control_bits, cv::Scalar(255, 255, 0));
  contours(o.bone_bits, cv::Scalar(255, 255, 255));
  if (!o.caption.empty()) {
    cv::rectangle(out, cv::Point(0, 0), cv::Point(out.cols, 22), cv::Scalar(0, 0, 0), -1);
    // Shrink the font until the caption fits the width (it names the image and the score).
    double font = 0.38;
    int base = 0;
    while (font > 0.2 && cv::getTextSize(o.caption, cv::FONT_HERSHEY_SIMPLEX, font, 1, &base).width > out.cols - 12)
      font -= 0.02;
    cv::putText(out, o.caption, cv::Point(6, 16), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", out, bytes)) throw RuntimeFailure(path + ": PNG encoding failed");
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}
#else
void write_cam_overlay(const std::string& path, const CamOverlay&, int) {
  throw InputError(path + ": overlays need image I/O (this osteofm was built with OSTEOFM_WITH_IMAGE_IO=OFF)");
}
#endif

}  // namespace osteofm
