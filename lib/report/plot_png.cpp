#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "report/plot.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace osteofm {

#if OSTEOFM_WITH_IMAGE_IO
void write_plot_png(const std::string& path, const LinePlot& plot, int W, int H) {
  const int left = 90, right = 25, top = 50, bottom = 80;
  const double pw = W - left - right, ph = H - top - bottom;
  auto P = [&](double x, double y) {
    return cv::Point(static_cast<int>(left + x * pw + 0.5), static_cast<int>(top + (1 - y) * ph + 0.5));
  };
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  auto text = [&](const std::string& s, cv::Point at, double scale, bool center = false, bool right_align = false) {
    int base = 0;
    cv::Size sz = cv::getTextSize(s, font, scale, 1, &base);
    if (center) at.x -= sz.width / 2;
    if (right_align) at.x -= sz.width;
    cv::putText(img, s, at, font, scale, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  };
  for (int t = 0; t <= 10; ++t) {
    const double v = t / 10.0;
    cv::line(img, P(v, 0), P(v, 1), cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
    cv::line(img, P(0, v), P(1, v), cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
    char lab[8];
    std::snprintf(lab, sizeof lab, "%.1f", v);
    if (t % 2 == 0) {
      text(lab, P(v, 0) + cv::Point(0, 24), 0.5, true);
      text(lab, P(0, v) + cv::Point(-10, 5), 0.5, false, true);
    }
    cv::line(img, P(v, 0), P(v, 0) + cv::Point(0, 6), cv::Scalar(0, 0, 0), 1);
    cv::line(img, P(0, v), P(0, v) - cv::Point(6, 0), cv::Scalar(0, 0, 0), 1);
  }
  cv::rectangle(img, P(0, 1), P(1, 0), cv::Scalar(0, 0, 0), 1);
  if (plot.diagonal) {
    for (int k = 0; k < 40; k += 2)
      cv::line(img, P(k / 40.0, k / 40.0), P((k + 1) / 40.0, (k + 1) / 40.0), cv::Scalar(150, 150, 150), 1, cv::LINE_AA);
  }
  text(plot.title, cv::Point(W / 2, 32), 0.7, true);
  text(plot.x_label, cv::Point(left + static_cast<int>(pw / 2), H - 25), 0.55, true);
  {
    // Rotated y label: draw on a strip, rotate, paste.
    int base = 0;
    cv::Size sz = cv::getTextSize(plot.y_label, font, 0.55, 1, &base);
    cv::Mat strip(sz.height + base + 6, sz.width + 6, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(strip, plot.y_label, cv::Point(3, sz.height + 3), font, 0.55, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::Mat rot;
    cv::rotate(strip, rot, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int x0 = 12, y0 = top + static_cast<int>(ph / 2) - rot.rows / 2;
    if (y0 >= 0 && y0 + rot.rows <= H) rot.copyTo(img(cv::Rect(x0, y0, rot.cols, rot.rows)));
  }
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const Rgb c = series_color(s);
    std::vector<cv::Point> pts;
    for (size_t k = 0; k < plot.series[s].x.size(); ++k) pts.push_back(P(plot.series[s].x[k], plot.series[s].y[k]));
    cv::polylines(img, pts, false, cv::Scalar(c.b, c.g, c.r), 2, cv::LINE_AA);
  }
  const int row = 22, lx = P(0.36, 0).x;
  const int ly = P(0, 0).y - 14 - row * static_cast<int>(plot.series.size());
  cv::rectangle(img, cv::Point(lx - 8, ly - 16), cv::Point(P(1, 0).x - 6, P(0, 0).y - 8), cv::Scalar(205, 205, 205), 1);
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const Rgb c = series_color(s);
    const int y = ly + row * static_cast<int>(s);
    cv::line(img, cv::Point(lx, y - 5), cv::Point(lx + 28, y - 5), cv::Scalar(c.b, c.g, c.r), 3, cv::LINE_AA);
    text(plot.series[s].label, cv::Point(lx + 36, y), 0.48);
  }
  std::vector<uchar> buf;
  if (!cv::imencode(".png", img, buf)) throw RuntimeFailure(path + ": PNG encoding failed");
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}
#else
void write_plot_png(const std::string& path, const LinePlot&, int, int) {
  throw InputError(path + ": PNG plots need image I/O (built with OSTEOFM_WITH_IMAGE_IO=OFF); use the SVG");
}
#endif

}  // namespace osteofm
