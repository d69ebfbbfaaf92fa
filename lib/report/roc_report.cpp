#include "report/roc_report.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/labels.hpp"
#include "core/layout.hpp"
#include "eval/interval_text.hpp"
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
std::string number(const nlohmann::json& v, const char* format = "%.3f") {
  if (!v.is_number()) return "n/a";
  char b[32];
  std::snprintf(b, sizeof b, format, v.get<double>());
  return b;
}
}  // namespace

std::vector<std::string> write_eval_figures(const Predictions& predictions, const nlohmann::json& metrics,
                                            const std::string& title, const std::string& stem) {
  std::vector<std::string> files = write_class_roc(predictions, "ROC, " + title, stem + "_roc", &metrics);
  for (auto& f : write_screening_figures(metrics, title, stem)) files.push_back(std::move(f));
  for (auto& f : write_forest_plots(metrics, title, stem)) files.push_back(std::move(f));
  return files;
}

std::vector<std::string> write_screening_figures(const nlohmann::json& m, const std::string& title,
                                                 const std::string& stem) {
  std::vector<std::string> files;
  if (!m.contains("endpoints")) return files;
  for (const auto& [key, ep] : m["endpoints"].items()) {
    const std::string name = key == "osteoporosis_vs_rest" ? "osteoporosis vs rest" : "low BMD vs normal";
    const auto& cal = ep["calibration"];
    LinePlot rel;
    rel.square = true;
    rel.legend = LegendPlace::kBelow;  // bins can sit in any corner: the legend stays off the data
    rel.title = "Reliability, " + title + ": " + name + " (10 bins)";
    rel.x_label = "mean predicted probability in bin";
    rel.y_label = "observed fraction positive";
    PlotSeries bins;
    bins.label = "model: ECE " + interval_text(cal["ece_10"]);
    bins.markers = true;
    for (const auto& b : cal["bins"]) {
      if (b["n"].get<long long>() == 0) continue;
      bins.x.push_back(b["mean_predicted"].get<double>());
      bins.y.push_back(b["observed"].get<double>());
      bins.point_labels.push_back("n=" + std::to_string(b["n"].get<long long>()));
    }
    rel.series.push_back(bins);
    rel.notes = {"Brier " + interval_text(cal["brier"]),
                 "calibration slope " + number(cal["slope"]) + ", intercept " + number(cal["intercept"]),
                 "dashed diagonal: perfect calibration"};
    // After a logistic recalibration fitted on validation (eval --recalibrate): its bins beside.
    const bool recalibrated = ep.contains("recalibrated") && ep["recalibrated"].is_object() &&
                              ep["recalibrated"].contains("bins");
    if (recalibrated) {
      const auto& rc = ep["recalibrated"];
      PlotSeries after;
      after.label = "recalibrated on validation: ECE " + number(rc["ece_10"]);
      after.markers = true;
      after.dashed = true;
      for (const auto& b : rc["bins"]) {
        if (b["n"].get<long long>() == 0) continue;
        after.x.push_back(b["mean_predicted"].get<double>());
        after.y.push_back(b["observed"].get<double>());
      }
      rel.series.push_back(after);
      rel.notes.push_back("recalibrated: slope " + number(rc["slope"]) + ", intercept " + number(rc["intercept"]) +
                          ", Brier " + number(rc["brier"]));
    }
    for (auto& f : write_both(rel, stem + "_reliability_" + key)) files.push_back(f);

    const auto& dc = ep["decision_curve"];
    LinePlot dca;
    dca.title = "Decision curve, " + title + ": " + name;
    dca.x_label = "threshold probability";
    dca.y_label = "net benefit";
    dca.diagonal = false;
    dca.legend = LegendPlace::kUpperRight;
    const double prevalence = ep["prevalence"].get<double>();
    PlotSeries model = curve_series("model (AUC " + interval_text(ep["auc"]) + ")", {}, {}), all, none;
    all.label = "treat all (prevalence " + number(ep["prevalence"]) + ")";
    all.dashed = true;
    all.color = Rgb{120, 120, 120};
    none.label = "treat none";
    none.color = Rgb{0, 0, 0};
    double top = prevalence;
    for (size_t k = 0; k < dc["thresholds"].size(); ++k) {
      const double t = dc["thresholds"][k].get<double>();
      model.x.push_back(t);
      model.y.push_back(dc["net_benefit"][k].get<double>());
      all.x.push_back(t);
      all.y.push_back(dc["treat_all"][k].get<double>());
      top = std::max(top, model.y.back());
    }
    if (model.x.empty()) continue;
    none.x = {0.0, model.x.back()};
    none.y = {0.0, 0.0};
    dca.series = {model, all, none};
    if (recalibrated && ep["recalibrated"].contains("decision_curve")) {
      const auto& rdc = ep["recalibrated"]["decision_curve"];
      PlotSeries after = curve_series("recalibrated on validation", {}, {});
      after.dashed = true;
      for (size_t k = 0; k < rdc["thresholds"].size(); ++k) {
        after.x.push_back(rdc["thresholds"][k].get<double>());
        after.y.push_back(rdc["net_benefit"][k].get<double>());
        top = std::max(top, after.y.back());
      }
      dca.series.insert(dca.series.begin() + 1, after);
    }
    dca.x_min = 0;
    dca.x_max = model.x.back();
    dca.y_max = std::max(0.05, top * 1.15);
    dca.y_min = -0.25 * dca.y_max;
    for (auto& f : write_both(dca, stem + "_decision_" + key)) files.push_back(f);
  }
  return files;
}

std::vector<std::string> write_forest_plots(const nlohmann::json& m, const std::string& title, const std::string& stem) {
  std::vector<std::string> files;
  if (!m.contains("endpoints") || !m.contains("by")) return files;
  for (const auto& [key, ep] : m["endpoints"].items()) {
    if (!ep.contains("by_group") || !ep["by_group"].is_object() || !ep["auc"].is_object()) continue;
    const std::string name = key == "osteoporosis_vs_rest" ? "osteoporosis vs rest" : "low BMD vs normal";
    LinePlot plot;
    plot.title = "Subgroups by " + m["by"].get<std::string>() + ", " + title + ": " + name;
    plot.x_label = "AUC (" + name + ")";
    plot.y_label = "subgroup (legend order, top = 1)";
    plot.diagonal = false;
    plot.legend = LegendPlace::kBelow;
    // One row per group, the first at the top: a dot at the AUC, a line over its CI.
    const size_t groups = ep["by_group"].size();
    double lo = 0.5, hi = 1.0;
    size_t row = 0;
    for (const auto& [g, gj] : ep["by_group"].items()) {
      const double y = static_cast<double>(groups - row);
      ++row;
      if (!gj["auc"].is_number()) continue;
      const double auc = gj["auc"].get<double>();
      PlotSeries s = curve_series(std::to_string(row) + ". " + g + " (n=" + std::to_string(gj["n"].get<long long>()) +
                                      ", " + std::to_string(gj["n_positive"].get<long long>()) + " positive): AUC " +
                                      interval_text({{"estimate", auc}, {"ci", gj.value("auc_ci", nlohmann::json())}}),
                                  {auc}, {y});
      s.markers = true;
      if (gj.contains("auc_ci") && gj["auc_ci"].is_array()) {
        const double a = gj["auc_ci"][0].get<double>(), b = gj["auc_ci"][1].get<double>();
        s.x = {a, auc, b};
        s.y = {y, y, y};
        lo = std::min(lo, a);
      }
      lo = std::min(lo, auc);
      plot.series.push_back(std::move(s));
    }
    if (plot.series.empty()) continue;
    PlotSeries overall = curve_series("all images: AUC " + interval_text(ep["auc"]), {}, {});
    overall.dashed = true;
    overall.color = Rgb{90, 90, 90};
    const double all = ep["auc"]["estimate"].get<double>();
    overall.x = {all, all};
    overall.y = {0.5, static_cast<double>(groups) + 0.5};
    plot.series.push_back(overall);
    plot.x_min = std::max(0.0, std::floor(lo * 10) / 10);
    plot.x_max = hi;
    plot.y_min = 0.5;
    plot.y_max = static_cast<double>(groups) + 0.5;
    if (m.contains("bootstrap"))
      plot.notes = {"95% CI: " + std::to_string(m["bootstrap"].value("replicates", 0)) +
                    (m["bootstrap"].value("clustered", false) ? " patient-clustered" : " image-level") +
                    " bootstrap replicates"};
    for (auto& f : write_both(plot, stem + "_forest_" + key)) files.push_back(f);
  }
  return files;
}

std::vector<std::string> write_class_roc(const Predictions& p, const std::string& title, const std::string& stem,
                                         const nlohmann::json* metrics) {
  const auto curves = class_roc_curves(p.scored);
  LinePlot plot;
  plot.title = title;
  plot.square = true;
  plot.legend = LegendPlace::kBelow;
  std::array<long long, kNumClasses> n{};
  for (int l : p.scored.label) n[l]++;
  for (int k = 0; k < kNumClasses; ++k) {
    std::string label = std::string(kClassNames[k]) + " (n=" + std::to_string(n[k]) + ", AUC ";
    label += metrics ? interval_text((*metrics)["auc_per_class"][kClassNames[k]]) : number(curves[k].auc);
    plot.series.push_back(curve_series(label + ")", curves[k].fpr, curves[k].tpr));
  }
  const RocCurve macro = macro_roc_curve(curves);
  plot.series.push_back(curve_series(
      "macro average (AUC " + (metrics ? interval_text((*metrics)["auc_macro"]) : number(macro.auc)) + ")", macro.fpr, macro.tpr));
  if (metrics && (*metrics).contains("bootstrap"))
    plot.notes = {"95% CI: " + std::to_string((*metrics)["bootstrap"].value("replicates", 0)) +
                  ((*metrics)["bootstrap"].value("clustered", false) ? " patient-clustered" : " image-level") +
                  " bootstrap replicates"};
  return write_both(plot, stem);
}

std::vector<std::string> write_sweep_roc(const std::string& sweep_dir, const std::vector<VariantRow>& rows,
                                         const std::string& stem) {
  LinePlot plot;
  plot.title = "Macro-average ROC, test split";
  plot.square = true;
  plot.legend = LegendPlace::kBelow;
  if (!rows.empty() && !rows.front().bootstrap.empty()) plot.notes = {"95% CI: " + rows.front().bootstrap};
  // Twelve curves, often on top of each other: one colour per backbone and one line style
  // per strategy (solid, dashed, dotted), so that every pair is told apart.
  std::vector<std::string> backbones, strategies;
  for (const auto& r : rows) {
    if (std::find(backbones.begin(), backbones.end(), r.backbone) == backbones.end()) backbones.push_back(r.backbone);
    if (std::find(strategies.begin(), strategies.end(), r.strategy) == strategies.end()) strategies.push_back(r.strategy);
  }
  const bool pairs = backbones.size() <= 12 && strategies.size() <= 3;
  for (const auto& r : rows) {
    const fs::path preds = fs::path(sweep_dir) / r.run / layout::kPredictionsTest;
    if (!fs::exists(preds)) continue;
    const RocCurve macro = macro_roc_curve(class_roc_curves(read_predictions(preds.string()).scored));
    std::string label = auc_label(r.backbone + " " + r.strategy, macro.auc);
    if (r.auc_macro.lower) {  // the table's interval of the same AUC
      char ci[48];
      std::snprintf(ci, sizeof ci, " [%.3f, %.3f])", *r.auc_macro.lower, *r.auc_macro.upper);
      label = label.substr(0, label.size() - 1) + ci;
    }
    PlotSeries series = curve_series(label, macro.fpr, macro.tpr);
    if (pairs) {
      const size_t b = std::find(backbones.begin(), backbones.end(), r.backbone) - backbones.begin();
      const size_t st = std::find(strategies.begin(), strategies.end(), r.strategy) - strategies.begin();
      series.color = series_color(b);
      series.dashed = st == 1;
      series.dotted = st == 2;
    }
    plot.series.push_back(series);
  }
  if (plot.series.empty()) return {};
  return write_both(plot, stem);
}

}  // namespace osteofm
