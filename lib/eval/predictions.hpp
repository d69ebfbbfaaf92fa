// Predictions CSV (design.md): image_id,patient_id,label,p_normal,p_osteopenia,
// p_osteoporosis, then any passed-through columns.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "eval/metrics.hpp"

namespace osteofm {

struct Predictions {
  std::string source;
  std::vector<std::string> image_id, patient_id;
  ScoredSet scored;                         // labels and probabilities
  std::vector<std::string> extra_header;    // passed-through column names
  std::vector<std::vector<std::string>> extra;
  size_t size() const { return image_id.size(); }
};

// The columns every predictions CSV starts with (eval's input, train's and predict's output).
inline constexpr std::array<const char*, 6> kPredictionColumns = {"image_id", "patient_id", "label",
                                                                  "p_normal", "p_osteopenia", "p_osteoporosis"};
// A row's fields in those columns: the label blank when it is negative (unknown), the
// probabilities blank when `p` is null (an image that could not be scored).
std::vector<std::string> prediction_fields(const std::string& image_id, const std::string& patient_id, int label,
                                           const std::array<double, kNumClasses>* p);

// Strict: every row needs an integer label 0..2 and three finite probabilities in [0,1]
// summing to 1 within 1e-6. Errors are InputError("<file>:<line>: row N: ...").
Predictions read_predictions(const std::string& path);
Predictions parse_predictions(const std::string& text, const std::string& source);

// Full float precision (shortest round-trip text), written atomically.
void write_predictions(const std::string& path, const Predictions& predictions);
// Refuses validation predictions that share an image_id with the test predictions (one
// line naming the file and the id): thresholds chosen on the test images are no
// validation. eval and compare both call it.
void check_disjoint_splits(const Predictions& test, const Predictions& val);

}  // namespace osteofm
