#include <cstdio>
#include <sstream>

#include "core/atomic_file.hpp"
#include "report/plot.hpp"

namespace osteofm {

Rgb series_color(size_t i) {
  // Okabe-Ito, then Tol's muted extras: distinguishable for colour-blind readers.
  static const Rgb palette[] = {{0, 114, 178},  {213, 94, 0},   {0, 158, 115},  {204, 121, 167},
                                {230, 159, 0},  {86, 180, 233}, {0, 0, 0},      {136, 34, 85},
                                {68, 170, 153}, {153, 153, 51}, {170, 68, 153}, {102, 102, 102}};
  return palette[i % (sizeof palette / sizeof palette[0])];
}

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
}  // namespace

std::string render_svg(const LinePlot& plot, int W, int H) {
  const double left = 70, right = 20, top = 40, bottom = 60;
  const double pw = W - left - right, ph = H - top - bottom;
  auto X = [&](double x) { return left + x * pw; };
  auto Y = [&](double y) { return top + (1 - y) * ph; };
  std::ostringstream o;
  o.precision(5);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
    << " " << H << "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << W / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" << escape(plot.title) << "</text>\n";
  for (int t = 0; t <= 10; ++t) {
    const double v = t / 10.0;
    o << "<line x1=\"" << X(v) << "\" y1=\"" << Y(0) << "\" x2=\"" << X(v) << "\" y2=\"" << Y(1)
      << "\" stroke=\"#e6e6e6\"/>\n";
    o << "<line x1=\"" << X(0) << "\" y1=\"" << Y(v) << "\" x2=\"" << X(1) << "\" y2=\"" << Y(v)
      << "\" stroke=\"#e6e6e6\"/>\n";
    if (t % 2 == 0) {
      char lab[8];
      std::snprintf(lab, sizeof lab, "%.1f", v);
      o << "<text x=\"" << X(v) << "\" y=\"" << Y(0) + 18 << "\" text-anchor=\"middle\" font-size=\"12\">" << lab
        << "</text>\n";
      o << "<text x=\"" << X(0) - 8 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\" font-size=\"12\">" << lab
        << "</text>\n";
    }
  }
  o << "<rect x=\"" << X(0) << "\" y=\"" << Y(1) << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  if (plot.diagonal)
    o << "<line x1=\"" << X(0) << "\" y1=\"" << Y(0) << "\" x2=\"" << X(1) << "\" y2=\"" << Y(1)
      << "\" stroke=\"#999999\" stroke-dasharray=\"6,4\"/>\n";
  o << "<text x=\"" << X(0.5) << "\" y=\"" << H - 15 << "\" text-anchor=\"middle\" font-size=\"13\">"
    << escape(plot.x_label) << "</text>\n";
  o << "<text transform=\"translate(18," << Y(0.5) << ") rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">"
    << escape(plot.y_label) << "</text>\n";
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const auto& ser = plot.series[s];
    o << "<polyline fill=\"none\" stroke=\"" << color(series_color(s)) << "\" stroke-width=\"2\" points=\"";
    for (size_t k = 0; k < ser.x.size(); ++k) o << X(ser.x[k]) << "," << Y(ser.y[k]) << " ";
    o << "\"/>\n";
  }
  // Legend in the lower right, where ROC curves rarely go.
  const double lx = X(0.38), ly = Y(0) - 12 - 18.0 * plot.series.size();
  o << "<rect x=\"" << lx - 8 << "\" y=\"" << ly - 14 << "\" width=\"" << X(1) - lx << "\" height=\""
    << 18.0 * plot.series.size() + 10 << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n";
  for (size_t s = 0; s < plot.series.size(); ++s) {
    const double y = ly + 18.0 * s;
    o << "<line x1=\"" << lx << "\" y1=\"" << y - 4 << "\" x2=\"" << lx + 24 << "\" y2=\"" << y - 4 << "\" stroke=\""
      << color(series_color(s)) << "\" stroke-width=\"3\"/>\n";
    o << "<text x=\"" << lx + 30 << "\" y=\"" << y << "\" font-size=\"12\">" << escape(plot.series[s].label)
      << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

void write_svg(const std::string& path, const LinePlot& plot) { write_file_atomic(path, render_svg(plot)); }

}  // namespace osteofm
