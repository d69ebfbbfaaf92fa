// What the SVG and PNG renderers share: colours, ticks, clipping.
#include <cmath>

#include "report/plot.hpp"

namespace osteofm {

Rgb series_color(size_t i) {
  // Okabe-Ito, then Tol's muted extras: distinguishable for colour-blind readers.
  static const Rgb palette[] = {{0, 114, 178},  {213, 94, 0},   {0, 158, 115},  {204, 121, 167},
                                {230, 159, 0},  {86, 180, 233}, {0, 0, 0},      {136, 34, 85},
                                {68, 170, 153}, {153, 153, 51}, {170, 68, 153}, {102, 102, 102}};
  return palette[i % (sizeof palette / sizeof palette[0])];
}

Rgb color_of(const LinePlot& plot, size_t s) { return plot.series[s].color ? *plot.series[s].color : series_color(s); }

std::vector<double> axis_ticks(double lo, double hi, int* decimals) {
  const double span = hi - lo;
  double step = 1;
  if (span > 0) {
    const double raw = span / 8;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    step = mag;
    for (double f : {1.0, 2.0, 2.5, 5.0, 10.0})
      if (f * mag >= raw) {
        step = f * mag;
        break;
      }
  }
  // As many decimals as the step needs (0.25 -> 2, 0.1 -> 1, 5 -> 0).
  *decimals = 0;
  while (*decimals < 6) {
    const double scaled = step * std::pow(10.0, *decimals);
    if (std::fabs(scaled - std::round(scaled)) < 1e-9) break;
    ++*decimals;
  }
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * std::max(1.0, std::fabs(hi)); v += step)
    t.push_back(std::fabs(v) < 1e-12 ? 0.0 : v);
  return t;
}

bool clip_segment(double& x0, double& y0, double& x1, double& y1, double xmin, double xmax, double ymin, double ymax) {
  double t0 = 0, t1 = 1;
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - xmin, xmax - x0, y0 - ymin, ymax - y0};
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;
      continue;
    }
    const double r = q[k] / p[k];
    if (p[k] < 0) t0 = std::max(t0, r);
    else t1 = std::min(t1, r);
    if (t0 > t1) return false;
  }
  const double ax = x0 + t0 * dx, ay = y0 + t0 * dy, bx = x0 + t1 * dx, by = y0 + t1 * dy;
  x0 = ax;
  y0 = ay;
  x1 = bx;
  y1 = by;
  return true;
}

std::vector<std::vector<std::pair<double, double>>> clipped_pieces(const LinePlot& plot, const PlotSeries& ser) {
  std::vector<std::vector<std::pair<double, double>>> pieces;
  for (size_t k = 1; k < ser.x.size() && k < ser.y.size(); ++k) {
    double x0 = ser.x[k - 1], y0 = ser.y[k - 1], x1 = ser.x[k], y1 = ser.y[k];
    if (!clip_segment(x0, y0, x1, y1, plot.x_min, plot.x_max, plot.y_min, plot.y_max)) continue;
    if (pieces.empty() || pieces.back().back() != std::make_pair(x0, y0)) pieces.push_back({{x0, y0}});
    pieces.back().emplace_back(x1, y1);
  }
  return pieces;
}

PlotFrame plot_frame(const LinePlot& plot, int width, int height, double left, double right, double top, double bottom,
                     double row) {
  PlotFrame f{left, top, width - left - right, height - top - bottom, width, height, 0, 0};
  if (plot.square) {
    f.ph = f.pw;
    f.height = static_cast<int>(top + f.ph + bottom);
  }
  const double rows = static_cast<double>(plot.series.size() + plot.notes.size());
  if (plot.legend == LegendPlace::kBelow) {
    f.legend_x = left;
    f.legend_y = top + f.ph + bottom + row * 0.5;
    f.height = static_cast<int>(f.legend_y + row * rows + 8);
  } else {
    f.legend_x = left + 0.37 * f.pw;
    f.legend_y = plot.legend == LegendPlace::kLowerRight ? top + f.ph - 12 - row * rows : top + row + 8;
  }
  return f;
}

}  // namespace osteofm
