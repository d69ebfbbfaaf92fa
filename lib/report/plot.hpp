// Line plots (ROC curves, reliability diagrams, decision curves) as SVG (plain text, no
// dependency) and PNG (OpenCV drawing, in image builds): axes, ticks, grid, an optional
// diagonal, legend. Lines are clipped to the axes' box.
#pragma once
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace osteofm {

struct Rgb {
  unsigned char r, g, b;
};
// Distinct colours for up to 12 series (the twelve variants), colour-blind friendly first.
Rgb series_color(size_t index);

struct PlotSeries {
  std::string label;  // legend text, e.g. "osteoporosis (AUC 0.912)"
  std::vector<double> x, y;
  bool markers = false;                   // a dot at every point
  bool dashed = false;
  bool dotted = false;                    // a third line style (the sweep's ROC: one per strategy)
  std::optional<Rgb> color;               // default: series_color(index)
  std::vector<std::string> point_labels;  // text beside each point (e.g. "n=12"); may be empty
};
// A plain curve: label and points, every style field at its default.
inline PlotSeries curve_series(std::string label, std::vector<double> x, std::vector<double> y) {
  PlotSeries s;
  s.label = std::move(label);
  s.x = std::move(x);
  s.y = std::move(y);
  return s;
}

// kBelow: under the axes, outside the curves (ROC figures, where curves cover any corner).
enum class LegendPlace { kLowerRight, kUpperRight, kBelow };

struct LinePlot {
  std::string title, x_label = "1 - specificity (false positive rate)", y_label = "sensitivity (true positive rate)";
  std::vector<PlotSeries> series;
  bool diagonal = true;  // the chance line (or perfect calibration)
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  LegendPlace legend = LegendPlace::kLowerRight;
  bool square = false;  // a square axes box (ROC: equal scales on both rates); the figure grows to fit
  std::vector<std::string> notes;  // lines of small text under the legend's entries
};

Rgb color_of(const LinePlot& plot, size_t series);
// Tick values for [lo, hi]: a 1-2-5 step giving 4 to 10 ticks; `decimals` for their labels.
std::vector<double> axis_ticks(double lo, double hi, int* decimals);
// Liang-Barsky: clips the segment to the box; false when nothing of it is inside.
bool clip_segment(double& x0, double& y0, double& x1, double& y1, double xmin, double xmax, double ymin, double ymax);

// The series' line clipped to the plot's box, as runs of connected points.
std::vector<std::vector<std::pair<double, double>>> clipped_pieces(const LinePlot& plot, const PlotSeries& series);

// The figure's frame: the axes' box and where the legend starts, from the plot's margins.
// With `square` the box is as tall as it is wide; with a legend below it the figure is as
// tall as its rows need.
struct PlotFrame {
  double left, top, pw, ph;  // axes box
  int width, height;         // whole figure
  double legend_x, legend_y; // baseline of the legend's first row
};
PlotFrame plot_frame(const LinePlot& plot, int width, int height, double left, double right, double top, double bottom,
                     double row);

std::string render_svg(const LinePlot& plot, int width = 720, int height = 640);
void write_svg(const std::string& path, const LinePlot& plot);
// Throws InputError naming the path in builds without image I/O.
void write_plot_png(const std::string& path, const LinePlot& plot, int width = 900, int height = 800);

}  // namespace osteofm
