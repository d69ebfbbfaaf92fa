// `osteofm predict`: class probabilities of a finished run's model for image files or for
// the rows of a manifest / tensor cache, for batch screening from shell scripts.
#pragma once
#include <array>
#include <limits>
#include <string>
#include <vector>

namespace osteofm {

struct PredictOptions {
  std::string device = "auto";
  int batch = 16;
  int workers = 0;  // decoding threads (<= 0: all cores)
  std::string split;  // with a manifest/cache: only this split ("" = every row)
};

struct PredictedImage {
  std::string image_id;  // DICOM SOPInstanceUID, else the path as given; manifest rows: image_id
  std::string patient_id;  // DICOM PatientID; manifest rows: patient_id
  std::string path;      // the file as given (manifest rows: empty)
  int label = -1;        // known label (manifest input), else -1
  std::array<double, 3> p{};
  int predicted = 0;
  bool ok = true;
  std::string error;                  // why the row has no probabilities
  std::vector<std::string> warnings;  // why the image may not be a frontal chest radiograph
  std::vector<std::string> extra;     // manifest passthrough columns
  // tscore runs: the DXA T-score of a manifest row (NaN when absent or a file), and the
  // predicted distribution's mean and SD.
  double t_score = std::numeric_limits<double>::quiet_NaN(), t_score_pred = 0, t_score_pred_sd = 0;
};

struct PredictResult {
  std::vector<PredictedImage> rows;
  std::vector<std::string> extra_header;
  bool tscore = false;  // the run's head is tscore: t_score, t_score_pred, t_score_pred_sd columns at the end
  size_t failed() const;
};

// Image files (PNG/JPEG/TIFF/DICOM), preprocessed as the run's backbone family does. Every
// file gets a row: one that cannot be read, or whose probabilities are not finite, gets
// ok = false and the reason; the others are scored. A run that cannot be loaded is an error.
PredictResult predict_files(const std::string& run_dir, const std::vector<std::string>& files,
                            const PredictOptions& options);
// Every row (of options.split) of a manifest or tensor cache; labels may be missing.
PredictResult predict_manifest(const std::string& run_dir, const std::string& data, const PredictOptions& options);

// The predictions CSV of design.md (image_id, patient_id, label, p_normal, p_osteopenia,
// p_osteoporosis), then predicted, path, status (ok|error), error, warnings and the
// passthrough columns, and for a tscore run t_score, t_score_pred, t_score_pred_sd (as the
// run's own predictions CSVs): eval reads it directly (rows with a label).
std::string predictions_csv(const PredictResult& result);

}  // namespace osteofm
