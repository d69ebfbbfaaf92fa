#include <cstdio>
#include <sstream>

#include "core/atomic_file.hpp"
#include "report/plot.hpp"

namespace osteofm {

namespace {
std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}
std::string color(Rgb c) {
  char b[16];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", c.r, c.g, c.b);
  return b;
}
std::string tick_label(double v, int decimals) {
  char b[32];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}
}  // namespace

std::string render_svg(const LinePlot& plot, int width, int height) {
  const PlotFrame f = plot_frame(plot, width, height, 70, 20, 40, 60, 18);
  const double left = f.left, top = f.top, pw = f.pw, ph = f.ph;
  const int W = f.width, H = f.height;
  const double xr = plot.x_max - plot.x_min, yr = plot.y_max - plot.y_min;
  auto X = [&](double x) { return left + (x - plot.x_min) / xr * pw; };
  auto Y = [&](double y) { return top + (plot.y_max - y) / yr * ph; };
  std::ostringstream o;
  o.precision(5);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" << escape(plot.title) << "</text>\n";
  int xd = 0, yd = 0;
  const auto xt = axis_ticks(plot.x_min, plot.x_max, &xd), yt = axis_ticks(plot.y_min, plot.y_max, &yd);
  for (double v : xt) {
    o << "<line x1=\"" << X(v) << "\" y1=\"" << Y(plot.y_min) << "\" x2=\"" << X(v) << "\" y2=\"" << Y(plot.y_max)
      << "\" stroke=\"#e6e6e6\"/>\n";
    o << "<text x=\"" << X(v) << "\" y=\"" << Y(plot.y_min) + 18 << "\" text-anchor=\"middle\" font-size=\"12\">"
      << tick_label(v, xd) << "</text>\n";
  }
  for (double v : yt) {
    o << "<line x1=\"" << X(plot.x_min) << "\" y1=\"" << Y(v) << "\" x2=\"" << X(plot.x_max) << "\" y2=\"" << Y(v)
      << "\" stroke=\"" << (v == 0 && plot.y_min < 0 ? "#888888" : "#e6e6e6") << "\"/>\n";
    o << "<text x=\"" << X(plot.x_min) - 8 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\" font-size=\"12\">"
      << tick_label(v, yd) << "</text>\n";
  }
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  auto segment = [&](double x0, double y0, double x1, double y1, const std::string& style) {
    if (!clip_segment(x0, y0, x1, y1, plot.x_min, plot.x_max, plot.y_min, plot.y_max)) return;
    o << "<line x1=\"" << X(x0) << "\" y1=\"" << Y(y0) << "\" x2=\"" << X(x1) << "\" y2=\"" << Y(y1) << "\" " << style
      << "/>\n";
  };
  if (plot.diagonal) segment(0, 0, 1, 1, "stroke=\"#999999\" stroke-dasharray=\"6,4\"");
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << top + ph + 45 << "\" text-anchor=\"middle\" font-size=\"13\">"
    << escape(plot.x_label) << "</text>\n";
  o << "<text transform=\"translate(18," << top + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">"
    << escape(plot.y_label) << "</text>\n";
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const auto& ser = plot.series[s];
    const std::string c = color(color_of(plot, s));
    const std::string style = "stroke=\"" + c + "\" stroke-width=\"2\"" + (ser.dashed ? " stroke-dasharray=\"8,5\"" : ser.dotted ? " stroke-dasharray=\"2,4\"" : "");
    o << "<g>\n";
    // Clipped pieces joined into polylines (a 4,000-point ROC stays one element).
    for (const auto& piece : clipped_pieces(plot, ser)) {
      o << "<polyline fill=\"none\" " << style << " points=\"";
      for (const auto& [x, y] : piece) o << X(x) << "," << Y(y) << " ";
      o << "\"/>\n";
    }
    for (size_t k = 0; k < ser.x.size(); ++k) {
      const bool inside = ser.x[k] >= plot.x_min && ser.x[k] <= plot.x_max && ser.y[k] >= plot.y_min && ser.y[k] <= plot.y_max;
      if (!inside) continue;
      if (ser.markers)
        o << "<circle cx=\"" << X(ser.x[k]) << "\" cy=\"" << Y(ser.y[k]) << "\" r=\"4\" fill=\"" << c << "\"/>\n";
      if (k < ser.point_labels.size() && !ser.point_labels[k].empty())
        o << "<text x=\"" << X(ser.x[k]) + 6 << "\" y=\"" << Y(ser.y[k]) - 6 << "\" font-size=\"10\" fill=\"" << c
          << "\">" << escape(ser.point_labels[k]) << "</text>\n";
    }
    o << "</g>\n";
  }
  // Legend: below the axes, or in the lower or upper right corner of the box.
  const double rows = plot.series.size() + plot.notes.size();
  const double lx = f.legend_x, ly = f.legend_y;
  if (plot.legend != LegendPlace::kBelow)
    o << "<rect x=\"" << lx - 8 << "\" y=\"" << ly - 14 << "\" width=\"" << left + pw - lx << "\" height=\""
      << 18.0 * rows + 10 << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n";
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const double y = ly + 18.0 * s;
    o << "<line x1=\"" << lx << "\" y1=\"" << y - 4 << "\" x2=\"" << lx + 24 << "\" y2=\"" << y - 4 << "\" stroke=\""
      << color(color_of(plot, s)) << "\" stroke-width=\"3\"" << (plot.series[s].dashed ? " stroke-dasharray=\"8,5\"" : plot.series[s].dotted ? " stroke-dasharray=\"2,4\"" : "")
      << "/>\n";
    o << "<text x=\"" << lx + 30 << "\" y=\"" << y << "\" font-size=\"12\">" << escape(plot.series[s].label)
      << "</text>\n";
  }
  for (size_t k = 0; k < plot.notes.size(); ++k)
    o << "<text x=\"" << lx << "\" y=\"" << ly + 18.0 * (plot.series.size() + k) << "\" font-size=\"11\" fill=\"#444444\">"
      << escape(plot.notes[k]) << "</text>\n";
  o << "</svg>\n";
  return o.str();
}

void write_svg(const std::string& path, const LinePlot& plot) { write_file_atomic(path, render_svg(plot)); }

}  // namespace osteofm
