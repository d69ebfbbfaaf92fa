#include "report/roc_report.hpp"

#include <cstdio>
#include <filesystem>

#include "core/labels.hpp"
#include "eval/roc.hpp"
#include "io/image.hpp"
#include "report/plot.hpp"

namespace osteofm {
namespace fs = std::filesystem;

namespace {
std::string auc_label(const std::string& name, double auc) {
  char b[160];
  std::snprintf(b, sizeof b, "%s (AUC %.3f)", name.c_str(), auc);
  return b;
}
std::vector<std::string> write_both(const LinePlot& plot, const std::string& stem) {
  std::vector<std::string> files = {stem + ".svg"};
  write_svg(stem + ".svg", plot);
  if (image_io_available()) {
    write_plot_png(stem + ".png", plot);
    files.push_back(stem + ".png");
  }
  return files;
}
}  // namespace

std::vector<std::string> write_class_roc(const Predictions& p, const std::string& title, const std::string& stem) {
  const auto curves = class_roc_curves(p.scored);
  LinePlot plot;
  plot.title = title;
  for (int k = 0; k < kNumClasses; ++k)
    plot.series.push_back({auc_label(kClassNames[k], curves[k].auc), curves[k].fpr, curves[k].tpr});
  const RocCurve macro = macro_roc_curve(curves);
  plot.series.push_back({auc_label("macro average", macro.auc), macro.fpr, macro.tpr});
  return write_both(plot, stem);
}

std::vector<std::string> write_sweep_roc(const std::string& sweep_dir, const std::vector<VariantRow>& rows,
                                         const std::string& stem) {
  LinePlot plot;
  plot.title = "Macro-average ROC, test split";
  for (const auto& r : rows) {
    const fs::path preds = fs::path(sweep_dir) / r.run / "predictions_test.csv";
    if (!fs::exists(preds)) continue;
    const RocCurve macro = macro_roc_curve(class_roc_curves(read_predictions(preds.string()).scored));
    plot.series.push_back({auc_label(r.backbone + " " + r.strategy, macro.auc), macro.fpr, macro.tpr});
  }
  if (plot.series.empty()) return {};
  return write_both(plot, stem);
}

}  // namespace osteofm
