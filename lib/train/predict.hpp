// `osteofm predict`: class probabilities of a finished run's model for image files or for
// the rows of a manifest / tensor cache, for batch screening from shell scripts.
#pragma once
#include <array>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace osteofm {

struct PredictOptions {
  std::string device = "auto";
  int batch = 16;
  int workers = 0;  // decoding threads (<= 0: all cores)
  std::string split;  // with a manifest/cache: only this split ("" = every row)
  // Score images that are no frontal chest radiograph (DICOM Modality, body part, view, too
  // small) instead of giving them status not_chest_radiograph.
  bool score_anyway = false;
  // Inputs already scored by an interrupted run (files: the path as given; manifest rows:
  // image_id): left out of this one.
  std::set<std::string> skip;
};

struct PredictedImage {
  std::string image_id;  // DICOM SOPInstanceUID, else the path as given; manifest rows: image_id
  std::string patient_id;  // DICOM PatientID; manifest rows: patient_id
  std::string path;      // the file as given (manifest rows: empty)
  int label = -1;        // known label (manifest input), else -1
  std::array<double, 3> p{};
  int predicted = 0;
  bool ok = true;
  std::string status = "ok";          // ok | error | not_chest_radiograph
  std::string error;                  // why the row has no probabilities
  std::string accession, study_date;  // from a DICOM file
  std::vector<std::string> warnings;  // why the image may not be a frontal chest radiograph
  std::vector<std::string> extra;     // manifest passthrough columns
  // tscore runs: the DXA T-score of a manifest row (NaN when absent or a file), and the
  // predicted distribution's mean and SD.
  double t_score = std::numeric_limits<double>::quiet_NaN(), t_score_pred = 0, t_score_pred_sd = 0;
};

// The run's validation operating points (Youden, chosen on RUN/predictions_val.csv as the
// run's metrics chose them): screen_osteoporosis = p_osteoporosis >= t, screen_low_bmd =
// 1 - p_normal >= t.
struct ScreeningThresholds {
  std::array<std::optional<double>, 2> threshold;  // osteoporosis_vs_rest, low_bmd_vs_normal
  std::array<double, 2> val_sensitivity{}, val_specificity{};
  std::string reason;  // why a threshold is missing (empty when both are there)
};
ScreeningThresholds run_screening_thresholds(const std::string& run_dir);

// A run folder as the `run` column names it: absolute, normalised, no trailing '/' (the key
// that tells a resumed CSV's rows from another run's).
std::string absolute_run_path(const std::string& run_dir);

// Which model scored the rows (the model columns of the CSV).
struct ModelInfo {
  std::string run, backbone, strategy, version;
};

struct PredictResult {
  std::vector<PredictedImage> rows;
  ModelInfo model;
  ScreeningThresholds thresholds;
  std::vector<std::string> extra_header;
  bool tscore = false;  // the run's head is tscore: t_score, t_score_pred, t_score_pred_sd columns at the end
  size_t failed() const;
};

// Image files (PNG/JPEG/TIFF/DICOM), preprocessed as the run's backbone family does. Every
// file gets a row: one that cannot be read, or whose probabilities are not finite, gets
// ok = false and the reason; the others are scored. A run that cannot be loaded is an error.
// `on_rows`, when set, receives each batch's rows once they are final (for a CSV written
// row by row).
using RowsDone = std::function<void(const PredictResult&, size_t first, size_t last)>;
PredictResult predict_files(const std::string& run_dir, const std::vector<std::string>& files,
                            const PredictOptions& options, const RowsDone& on_rows = {});
// Every row (of options.split) of a manifest or tensor cache; labels may be missing.
PredictResult predict_manifest(const std::string& run_dir, const std::string& data, const PredictOptions& options,
                               const RowsDone& on_rows = {});

// The predictions CSV of design.md (image_id, patient_id, label, p_normal, p_osteopenia,
// p_osteoporosis), then predicted, path, status (ok|error), error, warnings and the
// passthrough columns, and for a tscore run t_score, t_score_pred, t_score_pred_sd (as the
// run's own predictions CSVs): eval reads it directly (rows with a label).
// screen_osteoporosis and screen_low_bmd (1/0, empty without a score or a threshold)
// follow `predicted`; accession, study_date, run, backbone, strategy and osteofm_version
// follow `warnings`.
std::string predictions_csv(const PredictResult& result);
std::string predictions_csv_header(const PredictResult& result);
std::string predictions_csv_row(const PredictResult& result, const PredictedImage& row);

}  // namespace osteofm
