// osteofm data link: pairs each radiograph of an image index with the patient's DXA exam
// under stated rules (window, direction, reference site, views, sex, one image per
// patient), in the order of ../shared/fixtures/cohort/README.md, and counts every
// exclusion for the STARD flow diagram. Plain C++: no image is opened.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace osteofm {

enum class DxaDirection { kAny, kBefore, kAfter };
enum class PerPatient { kAll, kFirst, kClosest };

struct CohortLinkOptions {
  int window_days = 0;  // required, > 0
  DxaDirection direction = DxaDirection::kAny;
  std::string reference = "lowest";  // lowest | lumbar_spine | femoral_neck | total_hip
  std::vector<std::string> views = {"PA", "AP"};
  std::optional<std::string> sex;
  PerPatient per_patient = PerPatient::kAll;
};

// The exclusion reasons, in the order the rules are tried (the first that applies wins).
inline constexpr std::array<const char*, 9> kExclusionReasons = {
    "unreadable", "not_radiograph", "not_chest", "view", "sex", "no_dxa", "no_reference_t_score", "outside_window",
    "not_selected_per_patient"};

struct CohortFlow {
  size_t n_in = 0;
  std::array<size_t, kExclusionReasons.size()> excluded{};
  size_t n_out = 0, n_patients_out = 0;
  std::array<size_t, 3> classes_out{};  // normal, osteopenia, osteoporosis
};

struct CohortExclusion {
  std::string image_id, reason;
};

struct CohortLink {
  std::vector<std::string> header;             // image_id, patient_id, path, t_score, study_date, dxa_date, days_between, ...
  std::vector<std::vector<std::string>> rows;  // kept images, in the index's order
  std::vector<CohortExclusion> excluded;       // in the index's order
  CohortFlow flow;
  CohortLinkOptions options;
};

// Option parsers: InputError naming the flag and the accepted values.
DxaDirection parse_dxa_direction(const std::string& text);
PerPatient parse_per_patient(const std::string& text);
void check_cohort_options(const CohortLinkOptions& options);

// Reads both CSVs. Relative image paths are kept relative to `images_csv`'s folder; a
// malformed file (a required column missing, a date or T-score that does not parse, a
// duplicate image id) is an InputError naming the file and line.
CohortLink link_cohort(const std::string& images_csv, const std::string& dxa_csv, const CohortLinkOptions& options);

// The same on texts already read (`*_source` name them in errors).
CohortLink link_cohort_text(const std::string& images_text, const std::string& images_source,
                            const std::string& dxa_text, const std::string& dxa_source,
                            const CohortLinkOptions& options);

nlohmann::json cohort_flow_json(const CohortLink& link);

// COHORT.csv (relative paths rewritten to stay right from its folder), COHORT.excluded.csv
// and COHORT.flow.json, each atomically. `images_dir` is the folder the index's relative
// paths resolve against. Returns the flow file's path.
std::string write_cohort(const CohortLink& link, const std::string& images_dir, const std::string& out_csv);

// "COHORT.csv" -> "COHORT" (the prefix of the excluded list, the flow files).
std::string cohort_prefix(const std::string& out_csv);

}  // namespace osteofm
