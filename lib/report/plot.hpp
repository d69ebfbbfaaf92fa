// Line plots of ROC curves as SVG (plain text, no dependency) and PNG (OpenCV drawing,
// in image builds): axes, ticks, grid, chance diagonal, legend.
#pragma once
#include <string>
#include <vector>

namespace osteofm {

struct PlotSeries {
  std::string label;  // legend text, e.g. "osteoporosis (AUC 0.912)"
  std::vector<double> x, y;
};

struct LinePlot {
  std::string title, x_label = "1 - specificity (false positive rate)", y_label = "sensitivity (true positive rate)";
  std::vector<PlotSeries> series;
  bool diagonal = true;  // the chance line
};

// Distinct colours for up to 12 series (the twelve variants), colour-blind friendly first.
struct Rgb {
  unsigned char r, g, b;
};
Rgb series_color(size_t index);

std::string render_svg(const LinePlot& plot, int width = 720, int height = 640);
void write_svg(const std::string& path, const LinePlot& plot);
// Throws InputError naming the path in builds without image I/O.
void write_plot_png(const std::string& path, const LinePlot& plot, int width = 900, int height = 800);

}  // namespace osteofm
