// `osteofm predict`: class probabilities of a finished run's model for image files or for
// the rows of a manifest / tensor cache, for batch screening from shell scripts.
#pragma once
#include <array>
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
  std::string source;    // the file, or the manifest row's image_id
  std::string patient_id;
  int label = -1;        // known label (manifest input), else -1
  std::array<double, 3> p{};
  int predicted = 0;
};

// Image files (PNG/JPEG/TIFF/DICOM), preprocessed as the run's backbone family does.
// An undecodable file is an InputError naming it; nothing is written before all succeed.
std::vector<PredictedImage> predict_files(const std::string& run_dir, const std::vector<std::string>& files,
                                          const PredictOptions& options);
// Every row (of options.split) of a manifest or tensor cache; labels may be missing.
std::vector<PredictedImage> predict_manifest(const std::string& run_dir, const std::string& data,
                                             const PredictOptions& options);

// CSV: path|image_id, patient_id, label, p_normal, p_osteopenia, p_osteoporosis, predicted.
std::string predictions_csv(const std::vector<PredictedImage>& rows, bool from_manifest);

}  // namespace osteofm
