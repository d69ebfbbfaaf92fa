#include "eval/predictions.hpp"

#include <cmath>
#include <set>

#include "core/atomic_file.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"

namespace osteofm {

Predictions parse_predictions(const std::string& text, const std::string& source) {
  CsvTable t = parse_csv(text, source);
  const auto& required = kPredictionColumns;
  int col[kPredictionColumns.size()];
  for (size_t k = 0; k < required.size(); ++k) {
    col[k] = t.column(required[k]);
    if (col[k] < 0)
      throw InputError(source + ":" + std::to_string(t.header_line) + ": required column '" + required[k] + "' is missing");
  }
  Predictions p;
  p.source = source;
  std::vector<int> extra_cols;
  for (size_t c = 0; c < t.header.size(); ++c) {
    bool known = false;
    for (int k = 0; k < 6; ++k) known = known || col[k] == static_cast<int>(c);
    if (!known) {
      extra_cols.push_back(static_cast<int>(c));
      p.extra_header.push_back(t.header[c]);
    }
  }
  std::set<std::string> seen;
  int row = 0;
  for (const auto& rec : t.records) {
    ++row;
    const std::string where = source + ":" + std::to_string(rec.line) + ": row " + std::to_string(row) + ": ";
    if (rec.fields.size() != t.header.size())
      throw InputError(where + std::to_string(rec.fields.size()) + " fields, the header has " + std::to_string(t.header.size()));
    const std::string& id = rec.fields[col[0]];
    if (id.empty()) throw InputError(where + "image_id is empty");
    if (!seen.insert(id).second) throw InputError(where + "image_id '" + id + "' appears twice");
    const std::string& lab = rec.fields[col[2]];
    if (lab != "0" && lab != "1" && lab != "2") throw InputError(where + "label '" + lab + "' is not 0, 1 or 2");
    std::array<double, kNumClasses> prob{};
    double sum = 0;
    for (int k = 0; k < kNumClasses; ++k) {
      auto v = parse_number(rec.fields[col[3 + k]]);
      if (!v || *v < 0.0 || *v > 1.0)
        throw InputError(where + required[3 + k] + " '" + rec.fields[col[3 + k]] + "' is not a probability in [0,1]");
      prob[k] = *v;
      sum += *v;
    }
    if (std::fabs(sum - 1.0) > 1e-6) throw InputError(where + "probabilities sum to " + format_double(sum) + ", not 1");
    p.image_id.push_back(id);
    p.patient_id.push_back(rec.fields[col[1]]);
    p.scored.label.push_back(lab[0] - '0');
    p.scored.score.push_back(prob);
    std::vector<std::string> extra;
    for (int c : extra_cols) extra.push_back(rec.fields[c]);
    p.extra.push_back(std::move(extra));
  }
  if (p.size() == 0) throw InputError(source + ": no prediction rows");
  return p;
}

Predictions read_predictions(const std::string& path) { return parse_predictions(read_file(path), path); }

std::vector<std::string> prediction_fields(const std::string& image_id, const std::string& patient_id, int label,
                                           const std::array<double, kNumClasses>* p) {
  std::vector<std::string> f = {image_id, patient_id, label >= 0 ? std::to_string(label) : ""};
  for (int k = 0; k < kNumClasses; ++k) f.push_back(p ? format_double((*p)[k]) : "");
  return f;
}

void write_predictions(const std::string& path, const Predictions& p) {
  std::vector<std::string> header(kPredictionColumns.begin(), kPredictionColumns.end());
  header.insert(header.end(), p.extra_header.begin(), p.extra_header.end());
  std::string text = csv_line(header);
  for (size_t i = 0; i < p.size(); ++i) {
    std::vector<std::string> f = prediction_fields(p.image_id[i], p.patient_id[i], p.scored.label[i], &p.scored.score[i]);
    if (i < p.extra.size()) f.insert(f.end(), p.extra[i].begin(), p.extra[i].end());
    text += csv_line(f);
  }
  write_file_atomic(path, text);
}

void check_disjoint_splits(const Predictions& test, const Predictions& val) {
  std::set<std::string> ids(test.image_id.begin(), test.image_id.end());
  for (const auto& id : val.image_id)
    if (ids.count(id))
      throw InputError(val.source + ": image_id '" + id + "' is also in " + test.source +
                       ": thresholds must come from a separate validation split");
}

}  // namespace osteofm
