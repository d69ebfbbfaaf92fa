// ROC figures for a run (per class) and a sweep (every variant's macro ROC), as
// <stem>.svg and <stem>.png.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/predictions.hpp"
#include "report/table.hpp"

namespace osteofm {

// Returns the files written.
// With `metrics` (evaluate()'s JSON), each legend entry gives n and the AUC's CI.
std::vector<std::string> write_class_roc(const Predictions& predictions, const std::string& title,
                                         const std::string& stem, const nlohmann::json* metrics = nullptr);
// From a metrics.json (evaluate()): for each endpoint, a reliability diagram (the 10 ECE
// bins with their counts, Brier / ECE with CIs, slope and intercept) and a decision curve
// (model, treat all, treat none), as <stem>_reliability_<endpoint> and
// <stem>_decision_<endpoint> (.svg, and .png in image builds).
std::vector<std::string> write_screening_figures(const nlohmann::json& metrics, const std::string& title,
                                                 const std::string& stem);
// With eval --by: per endpoint, a forest plot of the subgroups' AUCs with their CIs and the
// overall AUC as a dashed line (<stem>_forest_<endpoint>).
std::vector<std::string> write_forest_plots(const nlohmann::json& metrics, const std::string& title,
                                            const std::string& stem);
// What 'osteofm eval' draws for one evaluated predictions file: the per-class ROC
// (<stem>_roc), the screening figures (<stem>_reliability_*, <stem>_decision_*) and, with
// --by, the forest plots (<stem>_forest_*).
std::vector<std::string> write_eval_figures(const Predictions& predictions, const nlohmann::json& metrics,
                                            const std::string& title, const std::string& stem);
std::vector<std::string> write_sweep_roc(const std::string& sweep_dir, const std::vector<VariantRow>& rows,
                                         const std::string& stem);

}  // namespace osteofm
