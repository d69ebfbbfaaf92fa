// ROC figures for a run (per class) and a sweep (every variant's macro ROC), as
// <stem>.svg and <stem>.png.
#pragma once
#include <string>
#include <vector>

#include "eval/predictions.hpp"
#include "report/table.hpp"

namespace osteofm {

// Returns the files written.
std::vector<std::string> write_class_roc(const Predictions& predictions, const std::string& title,
                                         const std::string& stem);
std::vector<std::string> write_sweep_roc(const std::string& sweep_dir, const std::vector<VariantRow>& rows,
                                         const std::string& stem);

}  // namespace osteofm
