#include "data/cohort_link.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "core/atomic_file.hpp"
#include "core/civil_date.hpp"
#include "core/csv.hpp"
#include "core/error.hpp"
#include "core/labels.hpp"
#include "core/text.hpp"
#include "io/image.hpp"

namespace fs = std::filesystem;

namespace osteofm {

namespace {

enum Reason : size_t {
  kUnreadable, kNotRadiograph, kNotChest, kView, kSex, kNoDxa, kNoReference, kOutsideWindow, kNotSelected
};

const std::array<const char*, 3> kSiteColumns = {"t_lumbar_spine", "t_femoral_neck", "t_total_hip"};
const std::array<const char*, 3> kSiteNames = {"lumbar_spine", "femoral_neck", "total_hip"};

// One DXA exam: its date and the reference T-score under the chosen rule (if any).
struct DxaExam {
  long day = 0;
  std::string date;         // as written (ISO)
  std::optional<double> reference;
  std::string reference_text;  // the T-score cell as written
  std::array<std::string, 3> sites;  // every site's cell as written, for Table 1
};

struct ImageRow {
  const CsvRecord* record = nullptr;
  std::string image_id, patient_id;
  long day = 0;
  const DxaExam* exam = nullptr;
  long days_between = 0;  // DXA - image
};

int require_column(const CsvTable& t, const std::string& source, const char* name, const char* what) {
  const int c = t.column(name);
  if (c < 0)
    throw InputError(source + ": " + what + " has no '" + name + "' column (columns: " + [&] {
      std::string s;
      for (const auto& h : t.header) s += (s.empty() ? "" : ", ") + h;
      return s;
    }() + ")");
  return c;
}

std::string cell(const CsvRecord& r, int c) {
  return c >= 0 && static_cast<size_t>(c) < r.fields.size() ? std::string(trim(r.fields[c])) : std::string();
}

// The DXA file, by patient: exams sorted by date. Every T-score cell is checked, not just
// the reference site's: a typo anywhere in the export is worth a stop.
std::unordered_map<std::string, std::vector<DxaExam>> read_dxa(const CsvTable& t, const std::string& source,
                                                               const std::string& reference) {
  const int c_patient = require_column(t, source, "patient_id", "the DXA file");
  const int c_date = require_column(t, source, "dxa_date", "the DXA file");
  std::array<int, 3> c_site{};
  bool any_site = false;
  for (size_t k = 0; k < kSiteColumns.size(); ++k) {
    c_site[k] = t.column(kSiteColumns[k]);
    any_site = any_site || c_site[k] >= 0;
    if (reference == kSiteNames[k] && c_site[k] < 0)
      throw InputError(source + ": --reference " + reference + " needs a '" + kSiteColumns[k] + "' column");
  }
  if (!any_site)
    throw InputError(source + ": the DXA file has none of the T-score columns t_lumbar_spine, t_femoral_neck, t_total_hip");
  std::unordered_map<std::string, std::vector<DxaExam>> by_patient;
  for (const auto& r : t.records) {
    const std::string where = source + ":" + std::to_string(r.line) + ": ";
    const std::string patient = cell(r, c_patient);
    if (patient.empty()) throw InputError(where + "empty patient_id");
    DxaExam exam;
    exam.date = cell(r, c_date);
    const auto date = parse_iso_date(exam.date);
    if (!date) throw InputError(where + "dxa_date '" + exam.date + "' is not a date (YYYY-MM-DD)");
    exam.day = date->day_number();
    for (size_t k = 0; k < kSiteColumns.size(); ++k) {
      const std::string text = cell(r, c_site[k]);
      exam.sites[k] = text;
      if (text.empty()) continue;
      const auto v = parse_number(text);
      if (!v) throw InputError(where + kSiteColumns[k] + " '" + text + "' is not a number");
      const bool counts = reference == "lowest" ? (!exam.reference || *v < *exam.reference) : reference == kSiteNames[k];
      if (counts) {
        exam.reference = *v;
        exam.reference_text = text;
      }
    }
    by_patient[patient].push_back(std::move(exam));
  }
  for (auto& [patient, exams] : by_patient)
    std::stable_sort(exams.begin(), exams.end(), [](const DxaExam& a, const DxaExam& b) { return a.day < b.day; });
  return by_patient;
}

// Rules 1-5: what the image index alone says.
struct IndexColumns {
  int status, modality, body_part, view, sex;
};

std::optional<Reason> index_exclusion(const CsvRecord& r, const IndexColumns& c, const CohortLinkOptions& o,
                                      const std::set<std::string>& views) {
  const std::string status = cell(r, c.status);
  if (!status.empty() && status != "ok") return kUnreadable;
  if (!is_radiograph_modality(cell(r, c.modality))) return kNotRadiograph;
  if (!is_chest_body_part(cell(r, c.body_part))) return kNotChest;
  const std::string view = to_upper(cell(r, c.view));
  if (!view.empty() && views.count(view) == 0) return kView;
  if (o.sex && to_upper(cell(r, c.sex)) != to_upper(*o.sex)) return kSex;
  return std::nullopt;
}

// Rules 6-8 for one image: the closest allowed exam with a reference T-score (ties: the
// earlier exam, which the date-sorted scan meets first).
std::optional<Reason> match_exam(ImageRow& img, const std::vector<DxaExam>* exams, const CohortLinkOptions& o) {
  if (exams == nullptr || exams->empty()) return kNoDxa;
  bool any_reference = false;
  const DxaExam* best = nullptr;
  long best_gap = 0;
  for (const auto& e : *exams) {
    if (!e.reference) continue;
    any_reference = true;
    const long delta = e.day - img.day;
    if (o.direction == DxaDirection::kBefore && delta > 0) continue;
    if (o.direction == DxaDirection::kAfter && delta < 0) continue;
    const long gap = delta < 0 ? -delta : delta;
    if (best == nullptr || gap < best_gap) {
      best = &e;
      best_gap = gap;
    }
  }
  if (!any_reference) return kNoReference;
  if (best == nullptr || best_gap > o.window_days) return kOutsideWindow;
  img.exam = best;
  img.days_between = best->day - img.day;
  return std::nullopt;
}

// Rule 9: the images of each patient that --per-patient keeps.
std::set<size_t> select_per_patient(const std::vector<ImageRow>& images, const std::vector<size_t>& passed,
                                    PerPatient rule) {
  if (rule == PerPatient::kAll) return std::set<size_t>(passed.begin(), passed.end());
  std::map<std::string, size_t> best;  // patient -> index into images
  auto better = [&](const ImageRow& a, const ImageRow& b) {
    if (rule == PerPatient::kClosest) {
      const long ga = std::labs(a.days_between), gb = std::labs(b.days_between);
      if (ga != gb) return ga < gb;
    }
    if (a.day != b.day) return a.day < b.day;
    return a.image_id < b.image_id;
  };
  for (size_t i : passed) {
    auto [it, inserted] = best.emplace(images[i].patient_id, i);
    if (!inserted && better(images[i], images[it->second])) it->second = i;
  }
  std::set<size_t> keep;
  for (const auto& [patient, i] : best) keep.insert(i);
  return keep;
}

}  // namespace

DxaDirection parse_dxa_direction(const std::string& text) {
  if (text == "any") return DxaDirection::kAny;
  if (text == "before") return DxaDirection::kBefore;
  if (text == "after") return DxaDirection::kAfter;
  throw InputError("--direction '" + text + "': expected any, before or after");
}

PerPatient parse_per_patient(const std::string& text) {
  if (text == "all") return PerPatient::kAll;
  if (text == "first") return PerPatient::kFirst;
  if (text == "closest") return PerPatient::kClosest;
  throw InputError("--per-patient '" + text + "': expected all, first or closest");
}

void check_cohort_options(const CohortLinkOptions& o) {
  if (o.window_days <= 0)
    throw InputError("--window-days " + std::to_string(o.window_days) + ": the pairing window must be at least 1 day");
  const bool known = o.reference == "lowest" ||
                     std::find(kSiteNames.begin(), kSiteNames.end(), o.reference) != kSiteNames.end();
  if (!known)
    throw InputError("--reference '" + o.reference + "': expected lowest, lumbar_spine, femoral_neck or total_hip");
  if (o.views.empty()) throw InputError("--views: give at least one view position (e.g. PA,AP)");
  for (const auto& v : o.views)
    if (v.empty() || v.find_first_of(" \t") != std::string::npos)
      throw InputError("--views: '" + v + "' is not a view position (comma-separated, e.g. PA,AP)");
}

CohortLink link_cohort_text(const std::string& images_text, const std::string& images_source,
                            const std::string& dxa_text, const std::string& dxa_source, const CohortLinkOptions& o) {
  check_cohort_options(o);
  const CsvTable images = parse_csv(images_text, images_source);
  const CsvTable dxa = parse_csv(dxa_text, dxa_source);
  const auto exams = read_dxa(dxa, dxa_source, o.reference);

  const int c_id = require_column(images, images_source, "image_id", "the image index");
  const int c_patient = require_column(images, images_source, "patient_id", "the image index");
  require_column(images, images_source, "path", "the image index");
  const int c_date = require_column(images, images_source, "study_date", "the image index");
  const IndexColumns cols{images.column("status"), images.column("modality"), images.column("body_part"),
                          images.column("view_position"), images.column("sex")};
  if (o.sex && cols.sex < 0)
    throw InputError(images_source + ": --sex " + *o.sex + " needs a 'sex' column in the image index");
  std::set<std::string> views;
  for (const auto& v : o.views) views.insert(to_upper(v));

  CohortLink link;
  link.options = o;
  link.flow.n_in = images.records.size();
  std::vector<ImageRow> rows(images.records.size());
  std::vector<std::optional<Reason>> reason(images.records.size());
  std::vector<size_t> passed;
  std::set<std::string> seen_ids;
  for (size_t i = 0; i < images.records.size(); ++i) {
    const CsvRecord& r = images.records[i];
    const std::string where = images_source + ":" + std::to_string(r.line) + ": ";
    ImageRow& img = rows[i];
    img.record = &r;
    img.image_id = cell(r, c_id);
    img.patient_id = cell(r, c_patient);
    if (img.image_id.empty()) throw InputError(where + "empty image_id");
    if (!seen_ids.insert(img.image_id).second) throw InputError(where + "duplicate image_id '" + img.image_id + "'");
    reason[i] = index_exclusion(r, cols, o, views);
    if (reason[i]) continue;
    if (img.patient_id.empty()) throw InputError(where + "image " + img.image_id + " has no patient_id");
    const std::string date = cell(r, c_date);
    const auto d = parse_iso_date(date);
    if (!d)
      throw InputError(where + "image " + img.image_id + ": study_date '" + date + "' is not a date (YYYY-MM-DD)");
    img.day = d->day_number();
    const auto it = exams.find(img.patient_id);
    reason[i] = match_exam(img, it == exams.end() ? nullptr : &it->second, o);
    if (!reason[i]) passed.push_back(i);
  }
  const std::set<size_t> keep = select_per_patient(rows, passed, o.per_patient);
  for (size_t i : passed)
    if (keep.count(i) == 0) reason[i] = kNotSelected;

  // Output columns: the manifest's, the linkage's, then the index's others (status aside).
  link.header = {"image_id", "patient_id", "path", "t_score", "study_date", "dxa_date", "days_between"};
  // The linked exam's T-score at every site the DXA file has (Table 1 describes them).
  std::vector<size_t> sites;
  for (size_t k = 0; k < kSiteColumns.size(); ++k)
    if (dxa.column(kSiteColumns[k]) >= 0 && images.column(kSiteColumns[k]) < 0) {
      sites.push_back(k);
      link.header.push_back(kSiteColumns[k]);
    }
  std::vector<int> passthrough;
  for (size_t c = 0; c < images.header.size(); ++c) {
    const std::string& h = images.header[c];
    if (h == "status" || std::find(link.header.begin(), link.header.end(), h) != link.header.end()) continue;
    passthrough.push_back(static_cast<int>(c));
    link.header.push_back(h);
  }
  const int c_path = images.column("path");
  std::set<std::string> patients_out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const ImageRow& img = rows[i];
    if (reason[i]) {
      link.flow.excluded[*reason[i]]++;
      link.excluded.push_back({img.image_id, kExclusionReasons[*reason[i]]});
      continue;
    }
    std::vector<std::string> out = {img.image_id, img.patient_id, cell(*img.record, c_path), img.exam->reference_text,
                                    cell(*img.record, c_date), img.exam->date, std::to_string(img.days_between)};
    for (size_t k : sites) out.push_back(img.exam->sites[k]);
    for (int c : passthrough) out.push_back(cell(*img.record, c));
    link.rows.push_back(std::move(out));
    link.flow.classes_out[who_label(*img.exam->reference)]++;
    patients_out.insert(img.patient_id);
  }
  link.flow.n_out = link.rows.size();
  link.flow.n_patients_out = patients_out.size();
  return link;
}

CohortLink link_cohort(const std::string& images_csv, const std::string& dxa_csv, const CohortLinkOptions& options) {
  return link_cohort_text(read_file(images_csv), images_csv, read_file(dxa_csv), dxa_csv, options);
}

nlohmann::json cohort_flow_json(const CohortLink& link) {
  const CohortFlow& f = link.flow;
  nlohmann::json flow = nlohmann::json::object();
  flow["n_in"] = f.n_in;
  for (size_t k = 0; k < kExclusionReasons.size(); ++k)
    flow[std::string("excluded_") + kExclusionReasons[k]] = f.excluded[k];
  flow["n_out"] = f.n_out;
  flow["n_patients_out"] = f.n_patients_out;
  for (size_t k = 0; k < f.classes_out.size(); ++k) flow["classes_out"][kClassNames[k]] = f.classes_out[k];
  const CohortLinkOptions& o = link.options;
  nlohmann::json rules = {
      {"window_days", o.window_days},
      {"direction", o.direction == DxaDirection::kAny ? "any" : o.direction == DxaDirection::kBefore ? "before" : "after"},
      {"reference", o.reference},
      {"views", o.views},
      {"sex", o.sex ? nlohmann::json(*o.sex) : nlohmann::json(nullptr)},
      {"per_patient", o.per_patient == PerPatient::kAll ? "all" : o.per_patient == PerPatient::kFirst ? "first" : "closest"},
      {"t_score_classes", "WHO: normal T >= -1.0, osteopenia -2.5 < T < -1.0, osteoporosis T <= -2.5"}};
  // What each reason means under these options, for the flow diagram and the report.
  std::string views;
  for (const auto& v : o.views) views += (views.empty() ? "" : "/") + v;
  const char* direction = o.direction == DxaDirection::kAny ? "" : o.direction == DxaDirection::kBefore ? " before" : " after";
  const nlohmann::json labels = {
      {"unreadable", "unreadable file"},
      {"not_radiograph", "not CR/DX"},
      {"not_chest", "not a chest series"},
      {"view", "view not " + views},
      {"sex", "sex not " + o.sex.value_or("")},
      {"no_dxa", "no DXA exam"},
      {"no_reference_t_score", o.reference == "lowest" ? "no T-score at any site" : "no " + o.reference + " T-score"},
      {"outside_window", "no DXA within " + std::to_string(o.window_days) + " days" + direction},
      {"not_selected_per_patient",
       o.per_patient == PerPatient::kFirst ? "not the patient's first image" : "not the patient's closest image"}};
  return {{"flow", flow}, {"rules", rules}, {"exclusion_labels", labels},
          {"exclusion_order", std::vector<std::string>(kExclusionReasons.begin(), kExclusionReasons.end())}};
}

std::string cohort_prefix(const std::string& out_csv) {
  fs::path p(out_csv);
  if (p.extension() == ".csv") p.replace_extension();
  return p.string();
}

std::string write_cohort(const CohortLink& link, const std::string& images_dir, const std::string& out_csv) {
  // Relative image paths re-rooted from the index's folder to the cohort's. (write_manifest
  // does the same from a parsed manifest's resolved paths; here there is only the text.)
  const fs::path out_dir = fs::absolute(fs::path(out_csv)).parent_path().lexically_normal();
  const fs::path base = fs::absolute(fs::path(images_dir.empty() ? "." : images_dir)).lexically_normal();
  std::string text = csv_line(link.header);
  for (auto row : link.rows) {
    std::string& path = row[2];
    if (base != out_dir && !path.empty() && !fs::path(path).is_absolute())
      path = (base / path).lexically_normal().lexically_relative(out_dir).string();
    text += csv_line(row);
  }
  const std::string prefix = cohort_prefix(out_csv);
  std::string excluded = csv_line({"image_id", "reason"});
  for (const auto& e : link.excluded) excluded += csv_line({e.image_id, e.reason});
  write_file_atomic(prefix + ".excluded.csv", excluded);
  write_file_atomic(prefix + ".flow.json", cohort_flow_json(link).dump(1) + "\n");
  write_file_atomic(out_csv, text);  // last: its presence means the others are there
  return prefix + ".flow.json";
}

}  // namespace osteofm
