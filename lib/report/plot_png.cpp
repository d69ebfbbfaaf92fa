#include <cmath>
#include <cstdio>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "report/plot.hpp"

#if OSTEOFM_WITH_IMAGE_IO
#include <opencv2/imgproc.hpp>

#include "io/annotate.hpp"
#endif

namespace osteofm {

#if OSTEOFM_WITH_IMAGE_IO
void write_plot_png(const std::string& path, const LinePlot& plot, int width, int height) {
  const int row = 22;
  const PlotFrame f = plot_frame(plot, width, height, 90, 25, 50, 80, row);
  const int left = static_cast<int>(f.left), top = static_cast<int>(f.top), W = f.width, H = f.height;
  const double pw = f.pw, ph = f.ph;
  const double xr = plot.x_max - plot.x_min, yr = plot.y_max - plot.y_min;
  auto P = [&](double x, double y) {
    return cv::Point(static_cast<int>(left + (x - plot.x_min) / xr * pw + 0.5),
                     static_cast<int>(top + (plot.y_max - y) / yr * ph + 0.5));
  };
  auto bgr = [](Rgb c) { return cv::Scalar(c.b, c.g, c.r); };
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  auto text = [&](const std::string& s, cv::Point at, double scale, bool center = false, bool right_align = false,
                  cv::Scalar ink = cv::Scalar(0, 0, 0)) {
    int base = 0;
    cv::Size sz = cv::getTextSize(s, font, scale, 1, &base);
    if (center) at.x -= sz.width / 2;
    if (right_align) at.x -= sz.width;
    cv::putText(img, s, at, font, scale, ink, 1, cv::LINE_AA);
  };
  int xd = 0, yd = 0;
  char lab[32];
  for (double v : axis_ticks(plot.x_min, plot.x_max, &xd)) {
    cv::line(img, P(v, plot.y_min), P(v, plot.y_max), cv::Scalar(230, 230, 230), 1, cv::LINE_AA);
    cv::line(img, P(v, plot.y_min), P(v, plot.y_min) + cv::Point(0, 6), cv::Scalar(0, 0, 0), 1);
    std::snprintf(lab, sizeof lab, "%.*f", xd, v);
    text(lab, P(v, plot.y_min) + cv::Point(0, 24), 0.5, true);
  }
  for (double v : axis_ticks(plot.y_min, plot.y_max, &yd)) {
    const bool zero_line = v == 0 && plot.y_min < 0;
    cv::line(img, P(plot.x_min, v), P(plot.x_max, v), zero_line ? cv::Scalar(140, 140, 140) : cv::Scalar(230, 230, 230),
             1, cv::LINE_AA);
    cv::line(img, P(plot.x_min, v), P(plot.x_min, v) - cv::Point(6, 0), cv::Scalar(0, 0, 0), 1);
    std::snprintf(lab, sizeof lab, "%.*f", yd, v);
    text(lab, P(plot.x_min, v) + cv::Point(-10, 5), 0.5, false, true);
  }
  cv::rectangle(img, P(plot.x_min, plot.y_max), P(plot.x_max, plot.y_min), cv::Scalar(0, 0, 0), 1);
  // `period`: pixels per dash (and per gap): 9 dashed, 3 dotted.
  auto dashed_line = [&](double x0, double y0, double x1, double y1, cv::Scalar ink, int width, double period = 9) {
    if (!clip_segment(x0, y0, x1, y1, plot.x_min, plot.x_max, plot.y_min, plot.y_max)) return;
    const cv::Point a = P(x0, y0), b = P(x1, y1);
    const double len = std::hypot(b.x - a.x, b.y - a.y);
    const int dashes = std::max(1, static_cast<int>(len / period));
    for (int k = 0; k < dashes; k += 2) {
      const double t0 = static_cast<double>(k) / dashes, t1 = std::min(1.0, (k + 1.0) / dashes);
      cv::line(img, a + (b - a) * t0, a + (b - a) * t1, ink, width, cv::LINE_AA);
    }
  };
  if (plot.diagonal) dashed_line(0, 0, 1, 1, cv::Scalar(150, 150, 150), 1);
  text(plot.title, cv::Point(W / 2, 32), 0.7, true);
  text(plot.x_label, cv::Point(left + static_cast<int>(pw / 2), top + static_cast<int>(ph) + 55), 0.55, true);
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
    const PlotSeries& ser = plot.series[s];
    const cv::Scalar ink = bgr(color_of(plot, s));
    if (ser.dashed || ser.dotted) {
      for (size_t k = 1; k < ser.x.size(); ++k)
        dashed_line(ser.x[k - 1], ser.y[k - 1], ser.x[k], ser.y[k], ink, 2, ser.dotted ? 3 : 9);
    } else {
      for (const auto& piece : clipped_pieces(plot, ser)) {
        std::vector<cv::Point> pts;
        for (const auto& [x, y] : piece) pts.push_back(P(x, y));
        cv::polylines(img, pts, false, ink, 2, cv::LINE_AA);
      }
    }
    for (size_t k = 0; k < ser.x.size(); ++k) {
      if (ser.x[k] < plot.x_min || ser.x[k] > plot.x_max || ser.y[k] < plot.y_min || ser.y[k] > plot.y_max) continue;
      if (ser.markers) cv::circle(img, P(ser.x[k], ser.y[k]), 5, ink, cv::FILLED, cv::LINE_AA);
      if (k < ser.point_labels.size() && !ser.point_labels[k].empty())
        text(ser.point_labels[k], P(ser.x[k], ser.y[k]) + cv::Point(7, -7), 0.4, false, false, ink);
    }
  }
  const int lx = static_cast<int>(f.legend_x), ly = static_cast<int>(f.legend_y);
  const int rows = static_cast<int>(plot.series.size() + plot.notes.size());
  if (plot.legend != LegendPlace::kBelow)
    cv::rectangle(img, cv::Point(lx - 8, ly - 18), cv::Point(left + static_cast<int>(pw) - 6, ly + row * rows - 12),
                  cv::Scalar(205, 205, 205), 1);
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const cv::Scalar ink = bgr(color_of(plot, s));
    const int y = ly + row * static_cast<int>(s);
    if (plot.series[s].dotted) {
      for (int x = lx; x < lx + 28; x += 6) cv::line(img, cv::Point(x, y - 5), cv::Point(x + 2, y - 5), ink, 3, cv::LINE_AA);
    } else {
      cv::line(img, cv::Point(lx, y - 5), cv::Point(lx + (plot.series[s].dashed ? 12 : 28), y - 5), ink, 3, cv::LINE_AA);
      if (plot.series[s].dashed) cv::line(img, cv::Point(lx + 18, y - 5), cv::Point(lx + 28, y - 5), ink, 3, cv::LINE_AA);
    }
    text(plot.series[s].label, cv::Point(lx + 36, y), 0.48);
  }
  for (size_t k = 0; k < plot.notes.size(); ++k)
    text(plot.notes[k], cv::Point(lx, ly + row * static_cast<int>(plot.series.size() + k)), 0.42, false, false,
         cv::Scalar(60, 60, 60));
  write_png_atomic(path, img);
}
#else
void write_plot_png(const std::string& path, const LinePlot&, int, int) {
  throw InputError(path + ": PNG plots need image I/O (built with OSTEOFM_WITH_IMAGE_IO=OFF); use the SVG");
}
#endif

}  // namespace osteofm
