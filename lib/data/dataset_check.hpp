// `osteofm data check`: what a manifest holds and everything wrong with it, by row.
#pragma once
#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "io/manifest.hpp"

namespace osteofm {

struct DatasetReport {
  std::string manifest;
  size_t rows = 0;
  size_t patients = 0;
  bool decoded = false;  // images were fully decoded (--decode), not only probed
  // split ("train", "val", "test", or "" when unassigned) -> images per class
  // (normal, osteopenia, osteoporosis, unknown) and distinct patients.
  std::map<std::string, std::array<size_t, 4>> images;
  std::map<std::string, size_t> patients_per_split;
  std::vector<ManifestProblem> problems;  // sorted by row
  size_t errors = 0, warnings = 0;
  bool usable() const { return errors == 0; }
};

// Runs every check on a parsed manifest: the parse problems, files that are missing,
// of an unknown format (always) or undecodable (decode = true: full decode, in
// parallel over `threads`, masks compared with their image's size), classes or splits
// that are empty.
DatasetReport check_dataset(Manifest& manifest, bool decode, int threads);

nlohmann::json report_json(const DatasetReport& report);
std::string report_text(const DatasetReport& report);

}  // namespace osteofm
